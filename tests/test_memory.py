"""Lifetimes by reference counting alone: with the cyclic GC off, a loop's per-iteration graphs
are freed as in torch (no tape and its grad_fn objects, custom Function ctx or edges keeping
each other alive), and the grad_fn objects still behave as torch's while their graph lives."""
import gc
import weakref

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.tape import CLOSED, STATE, Tape


class _Square(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.note = "kept"
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def _mlp_step():
    # decomposition rows (LayerNorm, cross_entropy), AccumulateGrad edges, an optimizer
    tg.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 3))
    opt = tg.optim.Adam(m.parameters(), lr=0.01)
    x, y = tg.randn(5, 6), tg.tensor([0, 2, 1, 1, 0])

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    return step


def _scalar_step():
    def step():
        x = tg.tensor(0.5, requires_grad=True)
        y = (x * x + x.sin()).exp() * 2
        y.grad_fn.next_functions[0][0].next_functions   # grad_fn objects made and dropped
        y.backward()
    return step


def _retain_step():
    w = tg.randn(3, 4, requires_grad=True)

    def step():
        y = (w * 2).tanh().sum()
        y.grad_fn.next_functions
        y.backward(retain_graph=True)
        y.backward()
    return step


def _create_graph_step():
    w = tg.randn(3, 4, requires_grad=True)

    def step():
        (g,) = tg.autograd.grad((w * w).tanh().sum(), w, create_graph=True)
        g.sum().backward()
        w.grad = None
    return step


def _function_step():
    w = tg.randn(3, 4, requires_grad=True)

    def step():
        y = _Square.apply(w.tanh()).sum()
        y.grad_fn.next_functions[0][0].next_functions   # the ctx, made again from its state
        y.backward()
    return step


class _Exp(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def _function_dropped_step():
    # no backward releases what the ctx saved: a non-leaf input and an output of the tape
    w = tg.randn(3, 4, requires_grad=True)

    def step():
        y = _Exp.apply(_Square.apply(w.tanh())) + _Square.apply(w.tanh()[0])   # (a view)
        y.grad_fn.next_functions[0][0].saved_tensors
        del y
        STATE.tape = CLOSED     # (the tape is dropped, not kept open for the next graph)
    return step


def _hooks_step():
    w = tg.randn(3, 4, requires_grad=True)

    def step():
        h = w * 2
        h.register_hook(lambda g: g * 2)
        y = h.tanh()
        y.grad_fn.register_prehook(lambda go: None)
        y.sum().backward()
    return step


def _multi_grad_hook_step():
    a, b = tg.randn(3, requires_grad=True), tg.randn(3, requires_grad=True)

    def step():
        x, y = a * 2, b * 3
        tg.autograd.graph.register_multi_grad_hook((x, y), lambda grads: None)
        (x * y).sum().backward()
    return step


def _grad_fn_walk_step():
    w = tg.randn(3, 4, requires_grad=True)

    def step():
        h = w * 2
        h[0].mul_(w[1])                  # CopySlices
        h.add_(w)
        h.relu_()                        # an in-place decomposition
        y = h.softmax(-1).sum()          # a decomposition row
        seen, todo = [], [y.grad_fn]
        while todo:
            fn = todo.pop()
            seen.append(fn.name())
            todo += [f for f, _ in fn.next_functions if f is not None]
        assert "torch::autograd::CopySlices" in seen and "SoftmaxBackward0" in seen
        y.backward()
    return step


STEPS = {"mlp": _mlp_step, "scalar": _scalar_step, "retain_graph": _retain_step,
         "create_graph": _create_graph_step, "function": _function_step,
         "function_dropped": _function_dropped_step,
         "hooks": _hooks_step, "multi_grad_hook": _multi_grad_hook_step,
         "grad_fn_walk": _grad_fn_walk_step}


@pytest.fixture
def tapes(monkeypatch):
    """A count of the tapes made in the test that are alive or garbage the cyclic GC has not
    collected yet: a weak set that Tape.__init__ (every tape's maker) adds to; a walk of
    gc.get_objects() costs ~0.3 s a count late in a test session."""
    made = weakref.WeakSet()
    init = Tape.__init__

    def counted(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.add(self)
    monkeypatch.setattr(Tape, "__init__", counted)
    return lambda: len(made)


@pytest.mark.parametrize("kind", list(STEPS))
def test_graphs_are_freed_by_reference_counting(kind, tapes):
    _tapes = tapes
    step = STEPS[kind]()
    step()                     # (the kernels a step needs loaded, their garbage collected)
    STATE.tape = CLOSED
    gc.collect()
    gc.disable()
    try:
        base = _tapes()
        grown = []
        for n in (10, 40):
            for _ in range(n):
                step()
            grown.append(_tapes() - base)
        left = _tapes()
        gc.collect()
        collected = left - _tapes()
    finally:
        gc.enable()
    # as many tapes after 50 steps as after 10 (each step's graph died with the step), and
    # none of them was waiting for the cyclic GC
    assert grown[1] <= grown[0] <= 1, grown
    assert collected == 0


def test_a_held_grad_fn_keeps_its_graph_and_identity():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).exp().sum()
    assert y.grad_fn is y.grad_fn
    fn = y.grad_fn
    a = fn.next_functions[0][0]
    assert fn.next_functions[0][0] is a
    del y, a
    exp = fn.next_functions[0][0]            # made again: the same view of the entry
    assert exp.name() == "ExpBackward0"
    assert [f.name() for f, _ in exp.next_functions] == ["MulBackward0"]
    acc = exp.next_functions[0][0].next_functions[0][0]
    assert acc.name() == "torch::autograd::AccumulateGrad" and acc.variable is x


def test_recorded_edges_outlive_their_grad_fn_objects():
    # edges fixed when recorded (a decomposition's torch inputs, CopySlices') are kept on the
    # tape as data: a grad_fn made again shows them
    w = tg.ones(3, 4, requires_grad=True)
    b = tg.zeros(4, requires_grad=True)
    h = w * 2
    h[0].mul_(w[1])
    out = nn.functional.layer_norm(h, (4,), None, b)

    def shown(t):
        return [(f.name() if f is not None else None, k) for f, k in t.grad_fn.next_functions]
    first_h, first_out = shown(h), shown(out)
    gc.collect()
    assert shown(h) == first_h and first_h[0] == ("MulBackward0", 0)
    assert shown(out) == first_out == [("torch::autograd::CopySlices", 0), (None, 0),
                                       ("torch::autograd::AccumulateGrad", 0)]


def test_custom_function_ctx_is_kept_by_its_graph():
    w = tg.ones(2, requires_grad=True)
    h = w.tanh()
    y = _Square.apply(h)
    fn = y.grad_fn
    assert fn.note == "kept" and fn.saved_tensors[0] is h and fn.needs_input_grad == (True,)
    fn.extra = 1
    del fn
    again = y.grad_fn                        # a new object, the same state
    assert again.note == "kept" and again.extra == 1 and again.saved_tensors[0] is h
    del y
    assert again.next_functions[0][0].name() == "TanhBackward0"   # held: the graph lives
    y = _Square.apply(h)
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.tanh(1.0) * (1 - np.tanh(1.0) ** 2) * 1)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.grad_fn.saved_tensors


def test_a_saved_tensor_of_the_ctx_tape_is_made_again_once_dropped():
    # the ctx's state holds it weakly (it refers to the tape that keeps the state)
    w = tg.ones(2, requires_grad=True)
    y = _Exp.apply(w * 1.0)
    fn = y.grad_fn
    assert fn.saved_tensors[0] is y
    del y
    (s,) = fn.saved_tensors
    assert s.grad_fn is fn and s.requires_grad and not s.is_leaf
    np.testing.assert_allclose(s.detach().numpy(), np.e)
    (s * 2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.e)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        fn.saved_tensors


def test_a_node_made_again_keeps_what_its_tensor_showed():
    # the dtype and shape a grad_fn hook's gradient has (the tape keeps no dtype per node)
    # are seen through Tensor.grad_fn and kept by the tape, not by the node object
    x = tg.ones(3, dtype=tg.float64, requires_grad=True)
    h = x * 2
    h.grad_fn                     # seen, then dropped
    y = h.exp().sum()
    gc.collect()
    seen = []
    node = y.grad_fn.next_functions[0][0].next_functions[0][0]
    node.register_prehook(lambda g: seen.append((g[0].dtype, tuple(g[0].shape))))
    y.backward()
    assert seen == [(tg.float64, (3,))]


def test_a_saved_view_made_again_keeps_its_version_check():
    w = tg.ones(2, 3, requires_grad=True)
    h = w * 1.0
    fn = _Square.apply(h[0]).grad_fn          # the view h[0] is dropped at once
    (s,) = fn.saved_tensors
    assert s.tolist() == [1.0, 1.0, 1.0] and s.grad_fn.name() == "SelectBackward0"
    h.mul_(2)                                 # the view's counter is h's
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        fn.saved_tensors
