"""The per-parameter paths of a training step on one-element tensors (a micrograd-style model
whose every weight is a 0-d tensor): the unrecorded in-place update `p -= lr * p.grad` under
no_grad (tensor._inplace_scalar) and the backward's collection of one-element leaf gradients
as floats (engine._collect_leaves, autograd._stage).  Each is checked bit for bit against the
numpy path it short-cuts, and against torch."""
import math
import random

import numpy as np
import pytest

import tapegrad
from tapegrad import tensor as T

torch = pytest.importorskip("torch")

DTYPES = [(tapegrad.float32, np.float32, torch.float32), (tapegrad.float64, np.float64, torch.float64)]
METHODS = [("add_", np.add), ("sub_", np.subtract), ("mul_", np.multiply), ("div_", np.true_divide)]


def _numpy_path(x, method, other):
    """The same update through the numpy path: x stored as a one-element array."""
    x._v = np.full(x._shape, x._v, x._dtype.np)
    getattr(x, method)(other)
    return float(x._v.reshape(-1)[0])


@pytest.mark.parametrize("dt, npdt, tdt", DTYPES)
@pytest.mark.parametrize("method, ufunc", METHODS)
def test_inplace_update_equals_numpy_path_and_torch(dt, npdt, tdt, method, ufunc):
    rng = random.Random(3)
    for _ in range(300):
        a, b = rng.uniform(-3, 3), rng.uniform(-3, 3)
        # the operand: a Python number, or a 0-d tensor whose value a fast-path op left
        # unrounded (computed in double)
        for other in (b, tapegrad.tensor(b, dtype=dt) * 1.0000001):
            x = tapegrad.tensor(a, dtype=dt)
            v0 = x._version
            with tapegrad.no_grad():
                getattr(x, method)(other)
            assert type(x._v) is float and x._version == v0 + 1
            want = _numpy_path(tapegrad.tensor(a, dtype=dt), method, other)
            assert x._v == want
            o = float(other._v) if isinstance(other, tapegrad.Tensor) else other
            ref = getattr(torch.tensor(a, dtype=tdt), method)(
                torch.tensor(o, dtype=tdt) if isinstance(other, tapegrad.Tensor) else o)
            assert x._v == ref.item()


@pytest.mark.parametrize("dt, npdt, tdt", DTYPES)
def test_inplace_update_corner_cases_take_the_numpy_path(dt, npdt, tdt):
    for a, method, b in ((1.0, "div_", 0.0), (-1.0, "div_", 0), (3e38, "mul_", 10.0),
                         (0.0, "div_", 0.0), (1.0, "add_", 2 ** 60), (1.0, "mul_", True)):
        x = tapegrad.tensor(a, dtype=dt)
        getattr(x, method)(b)
        ref = getattr(torch.tensor(a, dtype=tdt), method)(b)
        got = float(x.item())
        assert got == ref.item() or math.isnan(got) and math.isnan(ref.item())
    # shapes that broadcast are refused as torch refuses them
    x = tapegrad.tensor(1.0, dtype=dt)
    with pytest.raises(RuntimeError):
        x.add_(tapegrad.tensor([1.0, 2.0], dtype=dt))
    # another dtype: cast as torch does
    x = tapegrad.tensor(1.5, dtype=dt)
    x.mul_(tapegrad.tensor(3, dtype=tapegrad.int64))
    assert x.item() == 4.5 and x.dtype is dt


def test_inplace_update_of_a_leaf_is_seen_by_its_next_use():
    w = tapegrad.tensor(2.0, requires_grad=True)
    (w * 3.0).backward()
    with tapegrad.no_grad():
        w -= 0.5 * w.grad
    assert w.item() == 0.5
    (w * w).backward()
    assert w.grad.item() == 3.0 + 1.0
    # a leaf changed after use: backward refuses, as torch
    y = w * w
    with tapegrad.no_grad():
        w.sub_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("dt, npdt, tdt", DTYPES)
def test_one_element_leaf_gradients_as_torch(dt, npdt, tdt):
    """0-d and (1,)-shaped leaves, array- and float-backed, beside an n-d leaf, used twice
    (two leaf entries), on one tape and across two tapes; then accumulated into existing
    `.grad`s (float- and array-backed)."""
    vals = [0.3, -1.7, 2.2]

    def build(mod, cast):
        a = mod.tensor(vals[0], dtype=cast, requires_grad=True)
        b = mod.tensor([vals[1]], dtype=cast, requires_grad=True)
        c = mod.tensor([vals[2], 0.5], dtype=cast, requires_grad=True)
        return a, b, c

    def loss(a, b, c):
        y = (a * b).tanh() * 3.0 + (c * a).sum() + b.sum() * 1e30
        return y.sum()

    tg_leaves, t_leaves = build(tapegrad, dt), build(torch, tdt)
    tg_leaves[1].detach().numpy()   # an array-backed one-element leaf (memory shared)
    for _ in range(2):
        loss(*tg_leaves).backward()
        loss(*t_leaves).backward()
        for x, y in zip(tg_leaves, t_leaves):
            assert x.grad.dtype is dt and tuple(x.grad.shape) == tuple(y.grad.shape)
            # float32: tapegrad's scalar path computes in double, torch in float
            np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(),
                                       rtol=1e-12 if dt is tapegrad.float64 else 1e-6)
            g = x.grad.numpy()
            assert g.dtype == npdt and np.float64(g.reshape(-1)[0]) == float(npdt(g.reshape(-1)[0]))
    # a leaf on two tapes: the first graph is on a sealed tape, the second imports it
    a = tapegrad.tensor(0.5, dtype=dt, requires_grad=True)
    ta = torch.tensor(0.5, dtype=tdt, requires_grad=True)
    h, th = a * a, ta * ta
    tapegrad.tape.STATE.tape.sealed = True   # the next graph starts a new tape
    (h * a).backward()
    (th * ta).backward()
    assert a.grad.item() == ta.grad.item()


def test_leaf_gradient_past_float32_range_is_inf():
    x = tapegrad.tensor(1e30, requires_grad=True)
    (x * x * 1e10).backward()
    assert x.grad.item() == math.inf
    t = torch.tensor(1e30, requires_grad=True)
    (t * t * 1e10).backward()
    assert t.grad.item() == math.inf
