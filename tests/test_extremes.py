"""max/min(dim), max()/min() and amax/amin through tapegrad._extremes' loop (float32/float64
inputs that record): the same values, indices and gradients as numpy's path and as torch, on
slices with ties (-0.0 against 0.0 too), nan, and non-contiguous inputs."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _extremes

TIED = np.array([[1.0, 3.0, 3.0, -1.0],
                 [0.0, -0.0, -2.0, -2.0],
                 [np.nan, 5.0, np.nan, 1.0],
                 [2.0, 7.0, -3.0, 0.5]])


def _cases():
    rng = np.random.default_rng(7)
    yield "tied", TIED
    yield "random", rng.standard_normal((3, 4, 5))
    yield "small ints", rng.integers(-2, 3, (4, 3, 2)).astype(float)   # many ties
    yield "transposed", rng.standard_normal((5, 4)).T
    yield "one", np.array([[2.5]])


CASES = list(_cases())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("is_max", [True, False])
@pytest.mark.parametrize("name,arr", CASES, ids=[c[0] for c in CASES])
def test_loop_matches_numpy(name, arr, is_max, dtype):
    arr = arr.astype(dtype)
    for d in range(arr.ndim):
        outer, m = int(np.prod(arr.shape[:d])), arr.shape[d]
        a3 = np.ascontiguousarray(arr).reshape(outer, m, -1)
        at, pos, sole = _extremes.first_extremes(a3, is_max)
        expect = (np.argmax if is_max else np.argmin)(a3, axis=1).reshape(-1)
        np.testing.assert_array_equal(at, expect)
        flat = a3.reshape(-1)
        np.testing.assert_array_equal(flat[pos], np.take_along_axis(
            a3, expect.reshape(outer, 1, -1), 1).reshape(-1))
        top = a3.max(1, keepdims=True) if is_max else a3.min(1, keepdims=True)
        assert sole == bool(((a3 == top).sum(1) == 1).all())


def _grads(T, arr, op):
    x = T.tensor(arr, requires_grad=True)
    out = op(T, x)
    out = out[0] if isinstance(out, tuple) else out
    w = T.tensor(np.arange(1.0, out.numel() + 1).reshape(tuple(out.shape)).astype(arr.dtype))
    (out * w).sum().backward()
    return np.asarray(out.detach().numpy()), x.grad.numpy()


OPS = {
    "max(dim)": lambda T, x: x.max(1), "min(dim, keepdim)": lambda T, x: x.min(0, keepdim=True),
    "max()": lambda T, x: x.max(), "min()": lambda T, x: x.min(),
    "amax(1)": lambda T, x: x.amax(1), "amin((0, 1), keepdim)": lambda T, x: x.amin((0, 1), True),
    "amax(-1)": lambda T, x: x.amax(-1), "amax((0, 2))": lambda T, x: x.amax((0, 2)),
    "max(dim) indices": lambda T, x: x.max(1).indices.to(x.dtype) + x.sum() * 0,
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", OPS, ids=list(OPS))
@pytest.mark.parametrize("name,arr", CASES, ids=[c[0] for c in CASES])
def test_against_torch(name, arr, op, dtype):
    torch = pytest.importorskip("torch")
    if op == "amax((0, 2))" and arr.ndim < 3:
        arr = arr[..., None]
    arr = arr.astype(dtype)
    got = _grads(tg, arr, OPS[op])
    want = _grads(torch, arr, OPS[op])
    # (the sign of a value tied between 0.0 and -0.0 is the vector kernel's choice in torch:
    # amax keeps the first, max() the last, of a short row; not compared)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(np.signbit(got[1]), np.signbit(want[1]))


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_tied_extremes_under_an_infinite_gradient_as_torch(op):
    # amax/amin split the gradient between ties as torch's grad / count * mask: an infinite
    # incoming gradient gives inf at the ties and nan elsewhere.  The nan-slice term's
    # gradient (atan(x) * 0 / count) made it nan at the ties too, eager and replayed
    torch = pytest.importorskip("torch")
    inf = np.inf
    rows = [[3.0, 1.0, 3.0], [inf, 1.0, inf], [-inf, -inf, 1.0], [-inf, 2.0, -inf]]

    def grads(T, vals, f):
        x = T.tensor(vals, dtype=T.float64, requires_grad=True)
        return T.autograd.grad(f(x), x, T.tensor(inf, dtype=T.float64))[0].tolist()
    f = lambda x: getattr(x, op)()
    for vals in rows:
        want = grads(torch, vals, f)
        assert str(grads(tg, vals, f)) == str(want), vals
        tape = tg.record(lambda x: getattr(x, op)() * inf, tg.tensor(rows[0], dtype=tg.float64))
        _, (g,) = tape.value_and_grad(np.array(vals))
        assert str(g.tolist()) == str(want), vals


# ---- topk's untied case (structops._topk_untied) through tapegrad._extremes.top_untied ------
def _topk_cases():
    rng = np.random.default_rng(11)
    yield "random", rng.standard_normal((8, 32))
    yield "3-d", rng.standard_normal((2, 3, 9))
    yield "tied in the top", np.array([[1.0, 5.0, 5.0, 0.0, 2.0], [3.0, 1.0, 2.0, 0.5, 4.0]])
    yield "tied at the k-th", np.array([[1.0, 5.0, 4.0, 4.0, 2.0], [3.0, 1.0, 2.0, 0.5, 4.0]])
    yield "tied below", np.array([[1.0, 5.0, 4.0, 1.0, 1.0], [3.0, 1.0, 2.0, 0.5, 4.0]])
    yield "zeros of both signs", np.array([[0.0, -0.0, -1.0, -2.0, -3.0],
                                           [-0.0, 1.0, 2.0, -5.0, -4.0]])
    yield "nan", np.array([[1.0, np.nan, 2.0, 3.0, 0.0], [3.0, 1.0, 2.0, 0.5, 4.0]])
    yield "inf", np.array([[np.inf, -np.inf, 2.0, 3.0, 0.0], [3.0, 1.0, -np.inf, 0.5, 4.0]])
    yield "transposed", rng.standard_normal((6, 4)).T
    yield "empty rows", np.zeros((0, 5))
    yield "small ints", rng.integers(-3, 4, (6, 7)).astype(float)   # many ties


TOPK_CASES = list(_topk_cases())


def _topk_run(T, arr, k, largest, grad):
    leaf = T.tensor(np.ascontiguousarray(arr), requires_grad=grad)
    x = leaf
    if arr.strides[0] < arr.strides[-1]:   # (a transposed input: a non-contiguous view)
        leaf = T.tensor(np.ascontiguousarray(arr.T), requires_grad=grad)
        x = leaf.t()
    y = x * 1 if grad else x
    v, i = y.topk(k, -1, largest)
    res = [v.detach().numpy().copy(), np.signbit(v.detach().numpy()), i.numpy().copy(),
           v.grad_fn and v.grad_fn.name()]
    if grad and v.numel():
        w = T.tensor(np.arange(1.0, v.numel() + 1).reshape(tuple(v.shape)).astype(arr.dtype))
        (v * w).sum().backward()
        res.append(leaf.grad.numpy().copy())
    return res


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("name,arr", TOPK_CASES, ids=[c[0] for c in TOPK_CASES])
def test_topk_loop_matches_numpy_path_and_torch(name, arr, largest, grad, dtype, monkeypatch):
    """topk along the last dim of float32/float64 inputs, recorded or not, by the loop and by
    numpy's path (_use_extremes off): the same values (zeros' signs too), indices, grad_fn
    and gradients as each other and as torch, with ties in, at and below the k-th value, nan,
    infinities, a transposed input and empty rows (the tied rows: topk_ties' order)."""
    from tapegrad import structops
    torch = pytest.importorskip("torch")
    arr = arr.astype(dtype)
    for k in sorted({1, 2, 3, arr.shape[-1] - 1}):
        want = _topk_run(torch, arr, k, largest, grad)
        got = _topk_run(tg, arr, k, largest, grad)
        with monkeypatch.context() as m:
            m.setattr(structops, "_use_extremes", lambda x, a: False)
            slow = _topk_run(tg, arr, k, largest, grad)
        for g, s, w in zip(got, slow, want):
            np.testing.assert_array_equal(g, s)
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("largest", [True, False])
def test_top_untied_loop_says_when_ties_decide(largest):
    """The loop's `ok` is numpy's untied test: nan, two equal values among the k (-0.0 and 0.0
    equal), a k-th value found elsewhere in its row all refuse; otherwise its picks are the
    stable argsort's."""
    rng = np.random.default_rng(3)
    for _ in range(300):
        a = rng.integers(-4, 5, (3, 6)).astype(np.float64)
        if rng.random() < 0.2:
            a[rng.integers(3), rng.integers(6)] = np.nan
        if rng.random() < 0.3:
            a[a == 0] = -0.0
        k = int(rng.integers(1, 6))
        idx, pos, top, ok = _extremes.top_untied(a, k, largest)
        order = (-a if largest else a).argsort(-1, kind="stable")[:, :k]
        want_top = np.take_along_axis(a, order, -1)
        untied = not np.isnan(a).any() and not (want_top[:, 1:] == want_top[:, :-1]).any() \
            and ((a == want_top[:, k - 1:k]).sum(-1) == 1).all()
        assert ok == untied, (a, k)
        if ok:
            np.testing.assert_array_equal(idx, order)
            np.testing.assert_array_equal(top, want_top)
            np.testing.assert_array_equal(pos, order + 6 * np.arange(3)[:, None])


def test_topk_loop_only_for_a_small_k(monkeypatch):
    """The loop's insertions cost up to k steps an element: it serves k <= _TOP_LOOP_K (16),
    numpy's argsort the larger k; both torch's values and indices, an ascending row (every
    element inserted at the front) among them."""
    from tapegrad import structops
    torch = pytest.importorskip("torch")
    calls = []
    real = _extremes.top_untied
    monkeypatch.setattr(_extremes, "top_untied", lambda *a: calls.append(a[1]) or real(*a))
    arr = np.vstack([np.arange(40.0), np.random.default_rng(5).standard_normal(40)])
    for k in (structops._TOP_LOOP_K, structops._TOP_LOOP_K + 1):
        for largest in (True, False):
            got = (tg.tensor(arr, requires_grad=True) * 1).topk(k, 1, largest)
            want = torch.tensor(arr).topk(k, 1, largest)
            np.testing.assert_array_equal(got.values.detach().numpy(), want.values.numpy())
            np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    assert calls == [structops._TOP_LOOP_K] * 2
