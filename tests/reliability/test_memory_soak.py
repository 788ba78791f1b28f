"""Memory stays flat over 10^5 iterations of the loops the issue names that tests/test_tape.py
does not already soak (dropped graphs and training loops are there): retain_graph,
create_graph, replay and batch replay.  Marked slow (about 2-30 s each): the README's test
command runs them with the rest; `-m "not slow"` leaves them out."""
import gc
import sys

import numpy as np
import pytest

import tapegrad as tg

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]

STEPS = 100_000


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _growth(fn, steps=STEPS):
    """RSS growth between 10% and 100% of the loop (the first 10% warms caches and pools)."""
    fn(steps // 10)
    gc.collect()
    base = _rss()
    fn(steps - steps // 10)
    gc.collect()
    return _rss() - base


def test_retain_graph_loop_is_flat():
    x = tg.tensor(0.5, requires_grad=True)
    y = (x * x).sin() * 2.0

    def loop(n):
        for _ in range(n):
            y.backward(retain_graph=True)
            x.grad = None
    assert _growth(loop) < 2 * 2 ** 20


def test_create_graph_loop_is_flat():
    x = tg.tensor(0.5, requires_grad=True)

    def loop(n):
        for _ in range(n):
            y = (x * x).sin()
            (g,) = tg.autograd.grad(y, x, create_graph=True)
            g.backward()
            x.grad = None
    assert _growth(loop) < 4 * 2 ** 20


def test_replay_loop_is_flat():
    tape = tg.record(lambda a, b: (a * b).sin() + a, tg.tensor(0.5), tg.tensor(2.0))

    def loop(n):
        for k in range(n):
            tape.value_and_grad(0.5 + k * 1e-6, 2.0)
    assert _growth(loop) < 2 ** 20


def test_batch_replay_loop_is_flat():
    tape = tg.record(lambda a: (a * a).sin() * 2.0, tg.tensor(0.5))
    small = np.linspace(0.0, 1.0, 8)        # on one thread (replay.BATCH_GRAIN)
    large = np.linspace(0.0, 1.0, 4096)     # on every thread

    def loop(n):
        for k in range(n // 10):   # 10^4 calls: 9 in 10 of 8 points, 1 in 10 of 4096
            tape.value_and_grad_batch(large if k % 10 == 0 else small)
    assert _growth(loop) < 2 * 2 ** 20
