"""Ctrl-C during backward: a real SIGINT at random moments never leaves `.grad` half
accumulated, and a backward it interrupted can be retried (issue #9, item 3)."""
import os
import random
import signal
import time

import numpy as np
import pytest

import tapegrad as tg

from .sigint import run_with_sigint

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")

N_SCALAR, N_VEC = 300, 40


def _leaves():
    scal = [tg.tensor(1.0 + i / 7, requires_grad=True) for i in range(N_SCALAR)]
    vec = [tg.ones(3, requires_grad=True) for _ in range(N_VEC)]
    return scal, vec


def _loss(scal, vec):
    y = scal[0] * 1.0
    for i, s in enumerate(scal[1:], 1):
        y = y + s * float(i)
    for j, v in enumerate(vec):
        y = y + (v * float(j + 1)).sum()
    return y


def _grads(leaves):
    return [None if t.grad is None else np.array(t.grad.tolist(), dtype=float) for t in leaves]


def _state(before, after, step):
    """0 if every grad is still `before`, 1 if every grad is `before + step`; else fail."""
    old = [a is None and b is None or (a is not None and b is not None and np.array_equal(a, b))
           for a, b in zip(before, after)]
    new = [np.array_equal(a, (0 if b is None else b) + s) if a is not None else False
           for a, b, s in zip(after, before, step)]
    assert all(o or n for o, n in zip(old, new)), "a leaf's .grad is neither old nor new"
    if all(old):
        return 0
    assert all(new), f"half committed: {sum(new)} of {len(new)} leaves accumulated"
    return 1


def _time_backward():
    scal, vec = _leaves()
    best = 1.0
    for _ in range(3):
        y = _loss(scal, vec)
        t0 = time.perf_counter()
        y.backward()
        best = min(best, time.perf_counter() - t0)
    return best


def test_sigint_never_splits_a_backward(alarm_sends_sigint):
    rng = random.Random(9)
    dur = _time_backward()
    scal, vec = _leaves()
    leaves = scal + vec
    step = [np.array(float(max(i, 1))) for i in range(N_SCALAR)]
    step[0] = np.array(1.0)
    step += [np.full(3, float(j + 1)) for j in range(N_VEC)]
    interrupted = committed_then_interrupted = 0
    deadline = time.monotonic() + 3.0
    rounds = 0
    while time.monotonic() < deadline or rounds < 30:
        rounds += 1
        y = _loss(scal, vec)
        before = _grads(leaves)
        got = run_with_sigint(y.backward, rng.uniform(1e-6, 1.3 * dur))
        state = _state(before, _grads(leaves), step)
        if not got:
            assert state == 1
            continue
        interrupted += 1
        if state == 0:  # interrupted before the commit: the graph is intact, a retry works
            y.backward()
            assert _state(before, _grads(leaves), step) == 1
        else:
            committed_then_interrupted += 1
            with pytest.raises(RuntimeError, match="backward through the graph a second time"):
                y.backward()
    assert interrupted >= 10, (interrupted, rounds)


def test_sigint_during_grad_with_retain_graph(alarm_sends_sigint):
    """autograd.grad touches no .grad: an interrupted call leaves the graph usable."""
    rng = random.Random(3)
    scal, vec = _leaves()
    leaves = scal + vec
    y = _loss(scal, vec)
    ref = [np.array(g.tolist()) for g in tg.autograd.grad(y, leaves, retain_graph=True)]
    dur = _time_backward()
    hits = 0
    for _ in range(60):
        hits += run_with_sigint(lambda: tg.autograd.grad(y, leaves, retain_graph=True),
                                 rng.uniform(1e-6, 1.3 * dur))
        got = tg.autograd.grad(y, leaves, retain_graph=True)
        assert all(np.array_equal(np.array(g.tolist()), r) for g, r in zip(got, ref))
        assert all(t.grad is None for t in leaves)
    assert hits >= 5


def test_handler_restored_and_deferred_signal_delivered():
    """The commit puts the previous SIGINT handler back and hands it a SIGINT that arrived
    inside the commit (here: sent from within the publish step)."""
    from tapegrad._signals import COMMIT
    seen = []
    old = signal.signal(signal.SIGINT, lambda s, f: seen.append(s))
    try:
        mine = signal.getsignal(signal.SIGINT)
        with COMMIT:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(100):
                time.sleep(0)
            assert seen == []  # deferred
        assert seen == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, old)
