"""cummax, cummin and logcumsumexp (tapegrad/scans.py) beyond tests/test_ops.py's cases: ties
and nan (which index, so where the gradient goes), integer and bool inputs, empty and 0-d
tensors, extreme values, torch's errors, and the guard that a replay re-checks."""
import math

import numpy as np
import pytest

import tapegrad as tg

NAN = math.nan
VALUES = [[1.0, 3.0, 3.0, 2.0, NAN, 5.0, NAN, 7.0], [2.0, 2.0, 1.0, 1.0, 0.0, 4.0, 4.0, -1.0]]


def _both(fn, vals, dtype="float64", grad=True):
    """fn's result (values, indices, gradient of a weighted sum of the values) with tapegrad
    and with torch."""
    torch = pytest.importorskip("torch")
    out = []
    for m in (tg, torch):
        x = m.tensor(vals, dtype=getattr(m, dtype), requires_grad=grad)
        r = fn(m, x)
        values, indices = (r.values, r.indices) if isinstance(r, tuple) else (r, None)
        g = None
        if grad and values.numel():
            w = m.arange(1, values.numel() + 1, dtype=values.dtype).reshape(values.shape)
            (g,) = m.autograd.grad((values * w).sum(), [x])
            g = g.numpy().tolist()
        out.append((values.detach().numpy().tolist(), str(values.dtype).split(".")[-1],
                    tuple(values.shape), None if indices is None else
                    (indices.numpy().tolist(), str(indices.dtype).split(".")[-1]), g,
                    type(r).__name__))
    return out


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_ties_and_nan_as_torch(name, dim):
    """On ties the index (and the gradient) is the last tied element; nan is the extreme from
    where it appears, the next nan taking over."""
    got, want = _both(lambda m, x: getattr(m, name)(x, dim), VALUES)
    assert repr(got) == repr(want)


@pytest.mark.parametrize("vals,dtype", [([[1, 3, 3, 2], [4, -1, 4, 0]], "int64"),
                                        ([3, 1, 2], "int32"), ([True, False, True], "bool"),
                                        (2.5, "float64"), ([[]], "float32")])
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_dtypes_and_shapes_as_torch(name, vals, dtype):
    grad = dtype.startswith("float")
    got, want = _both(lambda m, x: getattr(x, name)(-1), vals, dtype, grad)
    assert repr(got) == repr(want)


def test_indices_need_no_gradient():
    x = tg.tensor([1.0, 3.0, 2.0], requires_grad=True)
    r = tg.cummax(x, 0)
    assert r.values.grad_fn.name() == "CummaxBackward0" and r.indices.grad_fn is None
    assert not r.indices.requires_grad and r.__match_args__ == ("values", "indices")
    assert r[0] is r.values and "tapegrad.return_types.cummax(" in repr(r)


@pytest.mark.parametrize("vals", [[-1000.0, 0.0, 1000.0], [1e308, 1e308, -1e308],
                                  [-math.inf, 1.0, 2.0], [1.0, math.inf, 2.0], [NAN, 1.0],
                                  [[0.5, -2.0, 3.0], [40.0, -60.0, 1.0]], 1.5, [[]]])
def test_logcumsumexp_values_as_torch(vals):
    torch = pytest.importorskip("torch")
    for dtype in ("float32", "float64"):
        a = tg.logcumsumexp(tg.tensor(vals, dtype=getattr(tg, dtype)), -1)
        b = torch.logcumsumexp(torch.tensor(vals, dtype=getattr(torch, dtype)), -1)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_logcumsumexp_gradient_of_far_apart_values_as_torch():
    """No underflow before a large element: the gradient of each output reaches the small
    elements before it (torch's)."""
    got, want = _both(lambda m, x: x.logcumsumexp(0), [-30.0, 0.0, 25.0, -40.0, 26.0])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[4], want[4], rtol=1e-12)


ERRORS = ["m.cummax(x, 2)", "m.cummin(x, -3)", "x.cummax('a')", "m.logcumsumexp(x, 2)",
          "m.logcumsumexp(m.tensor([1, 2]), 0)", "m.logcumsumexp(m.tensor([True]), 0)",
          "m.cummax(m.tensor(1.0), 1)", "m.cummin(m.tensor(1.0), -2)", "m.cummax(x, 1.5)",
          "m.logcumsumexp(m.tensor(1.0), 1)", "m.logcumsumexp(x, 'a')"]


@pytest.mark.parametrize("expr", ERRORS)
def test_errors_as_torch(expr):
    torch = pytest.importorskip("torch")
    out = []
    for m in (tg, torch):
        x = m.ones(2, 3)
        with pytest.raises(Exception) as info:
            eval(expr, {"m": m, "x": x})
        out.append((info.type.__name__, str(info.value).replace("torch", "M")
                    .replace("tapegrad", "M").split("\n")[0]))
    assert out[0] == out[1]


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_running_extremes_are_guarded_on_replay(name):
    """The positions found while recording are re-checked: a replay where the running extreme
    moves raises BranchChanged; one where it holds gives eager's value and gradient."""
    w = tg.tensor([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 1.5]])

    def prog(x):
        return (getattr(x, name)(1).values * w).sum()
    start = [[4.0, 1.0, 3.0, 5.0], [2.0, 2.0, 0.0, 7.0]]
    if name == "cummin":
        start = [[-v for v in row] for row in start]
    rec = tg.record(prog, tg.tensor(start))
    point = tg.tensor(start) * 2.0
    value, (g,) = rec.value_and_grad(point)
    x = point.clone().requires_grad_()
    out = prog(x)
    out.backward()
    assert float(value) == out.item() and np.asarray(g).tolist() == x.grad.tolist()
    moved = [row[::-1] for row in start]
    with pytest.raises(tg.BranchChanged):
        rec.value_and_grad(tg.tensor(moved))
