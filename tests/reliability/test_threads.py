"""Backwards from several threads into the same leaves lose no accumulation (issue #9,
item 5); torch's AccumulateGrad locks likewise."""
import sys
import threading

import numpy as np
import pytest

import tapegrad as tg


@pytest.fixture
def tiny_switch_interval():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _run(workers, fn):
    errors = []

    def wrap(k):
        try:
            fn(k)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=wrap, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("create_graph", [False, True])
def test_concurrent_backward_counts_exactly(tiny_switch_interval, create_graph):
    a = tg.tensor(0.0, requires_grad=True)
    b = tg.zeros(3, requires_grad=True)
    c = tg.tensor(1.0, requires_grad=True)
    threads, n = 4, 300 if not create_graph else 100

    def work(k):
        for _ in range(n):
            y = a * 1.0 + (b * 2.0).sum() + c * c
            y.backward(create_graph=create_graph)
    _run(threads, work)
    assert a.grad.item() == threads * n
    assert b.grad.tolist() == [2.0 * threads * n] * 3
    assert c.grad.item() == 2.0 * threads * n


def test_concurrent_backward_with_inputs_counts_exactly(tiny_switch_interval):
    a = tg.tensor(2.0, requires_grad=True)
    threads, n = 4, 300

    def work(k):
        for _ in range(n):
            (a * 3.0).backward(inputs=[a])
    _run(threads, work)
    assert a.grad.item() == 3.0 * threads * n


def test_concurrent_backward_through_one_shared_graph(tiny_switch_interval):
    """Several threads backward through one graph: with retain_graph every call counts;
    without it exactly one call succeeds per graph and the others get torch's error."""
    x = tg.tensor(np.arange(4.0), requires_grad=True)
    threads, n = 4, 100
    y = (x * x).sum()
    _run(threads, lambda k: [y.backward(retain_graph=True) for _ in range(n)])
    assert x.grad.tolist() == (2 * np.arange(4.0) * threads * n).tolist()

    for _ in range(20):
        x.grad = None
        y = (x * x).sum()
        ok, failed = [], []

        def once(k):
            try:
                y.backward()
                ok.append(k)
            except RuntimeError as e:
                assert "backward through the graph a second time" in str(e)
                failed.append(k)
        _run(threads, once)
        assert len(ok) == 1 and len(failed) == threads - 1
        assert x.grad.tolist() == (2 * np.arange(4.0)).tolist()
