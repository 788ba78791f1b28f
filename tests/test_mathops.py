"""Issue #11's elementwise, reduction and logical ops beyond tests/test_ops.py's table (whose
cases are in tests/cases_math.py): replay against torch, special points (0, ties, +-inf, nan,
empty), integer and bool dtypes, in-place variants, logical ops and errors, all against torch."""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from cases_math import CASES
from test_ops import _inputs, _scalarize

torch = pytest.importorskip("torch")

inf, nan = math.inf, math.nan
ALL = [(name, cid, fn, shapes, dom) for name, cases in CASES.items()
       for cid, fn, shapes, dom, *_ in cases]
# (a case's `torch_grads` option: the inputs whose gradients torch gets right, where not all)
TORCH_GRADS = {(name, cid): opts[0]["torch_grads"] for name, cases in CASES.items()
               for cid, _, _, _, *opts in cases if opts and "torch_grads" in opts[0]}


# ---- replayed (tapegrad.record) against torch at a new point, float32 and float64 ------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,cid,fn,shapes,dom", ALL, ids=[f"{a}-{b}" for a, b, *_ in ALL])
def test_replay_against_torch(name, cid, fn, shapes, dom, dtype):
    npdt = getattr(np, dtype)
    x0 = [tg.tensor(v) for v in _inputs(shapes, dom, 3, npdt)]
    x1 = _inputs(shapes, dom, 12, npdt)
    tape = tg.record(lambda *a: _scalarize(fn(tg, *a)), *x0)
    value, grads = tape.value_and_grad(*[v.copy() for v in x1])
    ts = [torch.tensor(v, requires_grad=True) for v in x1]
    out = _scalarize(fn(torch, *ts))
    out.backward()
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.asarray(value), out.item(), **tol)
    right = TORCH_GRADS.get((name, cid), range(len(ts)))
    for i, (g, t) in enumerate(zip(grads, ts)):
        if i in right:
            np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), **tol)


# ---- special points: values and gradients against torch -------------------------------------
SPECIAL = [
    ("log1p", lambda m, a: a.log1p(), [[-1.0, -0.5, 0.0, inf, nan, -2.0]]),
    ("expm1", lambda m, a: a.expm1(), [[0.0, -inf, inf, nan, 800.0]]),
    ("log2", lambda m, a: a.log2(), [[0.0, -1.0, inf, 1.0, nan]]),
    ("log10", lambda m, a: a.log10(), [[0.0, -1.0, inf, 100.0, nan]]),
    ("exp2", lambda m, a: a.exp2(), [[-inf, inf, 0.0, nan, 2000.0, -3.0]]),
    ("tan", lambda m, a: a.tan(), [[0.0, inf, nan, -0.0]]),
    ("asin", lambda m, a: a.asin(), [[1.0, -1.0, 1.5, 0.0, nan]]),
    ("acos", lambda m, a: a.acos(), [[1.0, -1.0, 1.5, 0.0, nan]]),
    ("atan", lambda m, a: a.atan(), [[inf, -inf, 0.0, nan]]),
    ("sinh", lambda m, a: a.sinh(), [[0.0, inf, -inf, 800.0, nan]]),
    ("cosh", lambda m, a: a.cosh(), [[0.0, inf, -inf, -800.0, nan]]),
    ("asinh", lambda m, a: a.asinh(), [[inf, -inf, 0.0, nan]]),
    ("acosh", lambda m, a: a.acosh(), [[1.0, 0.5, inf, nan]]),
    ("atanh", lambda m, a: a.atanh(), [[1.0, -1.0, 0.0, 2.0, nan]]),
    ("erf", lambda m, a: a.erf(), [[inf, -inf, 0.0, nan, 6.0]]),
    ("erfc", lambda m, a: a.erfc(), [[inf, -inf, 0.0, nan, 30.0]]),
    ("erfinv", lambda m, a: a.erfinv(), [[1.0, -1.0, 0.0, 0.999999, 2.0, nan, -0.7]]),
    ("lgamma", lambda m, a: a.lgamma(), [[0.0, -1.0, 1.0, 2.0, 0.5, inf, nan, -2.5]]),
    # (one element: the scalar face, math.lgamma, which raises past 2.5e305: inf, not nan)
    ("lgamma-past-range", lambda m, a: a.lgamma(), [[1e308]]),
    ("lgamma-pole", lambda m, a: a.lgamma(), [[-3.0]]),
    # (not at negative integers: torch's trigamma there is finite in float32)
    ("digamma", lambda m, a: a.digamma(), [[0.0, 1.0, 0.5, inf, nan, -2.5, 30.0]]),
    ("rsqrt", lambda m, a: a.rsqrt(), [[0.0, -1.0, inf, nan, 4.0]]),
    ("floor", lambda m, a: a.floor(), [[-0.5, 0.5, -0.0, inf, nan, 2.0]]),
    ("ceil", lambda m, a: a.ceil(), [[-0.5, 0.5, -0.0, -inf, nan, 2.0]]),
    ("trunc", lambda m, a: a.trunc(), [[-0.5, 1.5, -2.5, inf, nan]]),
    ("round", lambda m, a: a.round(), [[0.5, 1.5, 2.5, -0.5, -2.5, inf, nan, -0.3]]),
    ("round2", lambda m, a: a.round(decimals=2), [[0.125, 1.005, -2.675, inf, nan, 7.0]]),
    ("round-1", lambda m, a: a.round(decimals=-1), [[15.0, 25.0, -35.0, 1234.5]]),
    ("frac", lambda m, a: a.frac(), [[1.5, -1.5, 0.0, inf, nan]]),
    ("sgn", lambda m, a: a.sgn(), [[-2.0, 0.0, -0.0, 3.0, inf]]),
    ("remainder", lambda m, a, b: a.remainder(b),
     [[5.0, -5.0, 5.0, -6.0, 1.0, nan, 0.0], [3.0, 3.0, -3.0, 3.0, 0.0, 1.0, -2.0]]),
    ("fmod", lambda m, a, b: a.fmod(b),
     [[5.0, -5.0, 5.0, -6.0, 1.0, inf, nan, 0.0], [3.0, 3.0, -3.0, 3.0, 0.0, 2.0, 1.0, -2.0]]),
    ("clamp", lambda m, a: a.clamp(0.0, 1.0), [[0.0, 1.0, 0.5, 2.0, -1.0, nan, inf]]),
    ("clamp-empty-range", lambda m, a: a.clamp(1.0, 0.0), [[0.0, 0.5, 2.0]]),
    ("clamp_min", lambda m, a, b: a.clamp_min(b), [[1.0, 2.0, nan, 3.0], [2.0, 2.0, 1.0, nan]]),
    ("clamp_max", lambda m, a, b: a.clamp_max(b), [[1.0, 2.0, nan, 3.0], [2.0, 2.0, 1.0, nan]]),
    ("clamp-tensors", lambda m, a, b, c: a.clamp(b, c),
     [[0.0, 1.0, 0.5, 2.0, -1.0], [0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0]]),
    ("maximum", lambda m, a, b: m.maximum(a, b), [[1.0, 2.0, nan, 3.0, inf], [1.0, 3.0, 1.0, nan, inf]]),
    ("minimum", lambda m, a, b: m.minimum(a, b), [[1.0, 2.0, nan, 3.0, -inf], [1.0, 3.0, 1.0, nan, -inf]]),
    ("fmax", lambda m, a, b: m.fmax(a, b), [[1.0, 2.0, nan, 3.0, nan], [1.0, 3.0, 1.0, nan, nan]]),
    ("fmin", lambda m, a, b: m.fmin(a, b), [[1.0, 2.0, nan, 3.0, nan], [1.0, 3.0, 1.0, nan, nan]]),
    ("max-ties", lambda m, a: a.max(), [[1.0, 3.0, 3.0]]),
    ("max-nan", lambda m, a: a.max(), [[1.0, nan, 3.0]]),
    ("max-inf", lambda m, a: a.max(), [[1.0, inf, inf]]),
    ("min-ninf", lambda m, a: a.min(), [[-inf, 2.0, -inf]]),
    ("amax-ties", lambda m, a: a.amax(1), [[[1.0, 3.0, 3.0], [2.0, 1.0, 2.0]]]),
    ("amax-inf", lambda m, a: a.amax(0), [[[-inf, -inf], [-inf, 1.0]]]),
    ("amin-ties", lambda m, a: a.amin(), [[[1.0, 3.0], [1.0, 1.0]]]),
    # a nan in the slice: torch's grad / count * mask is 0 / 0 at every element of it
    ("amax-nan", lambda m, a: a.amax(), [[1.0, nan, 3.0, 3.0]]),
    ("amin-dim-nan", lambda m, a: a.amin(1), [[[1.0, nan], [3.0, 3.0], [nan, -inf]]]),
    ("amax-nan-inf", lambda m, a: a.amax(0), [[[nan, inf], [inf, -inf]]]),
    ("matrix-norm-inf-nan", lambda m, a: m.linalg.matrix_norm(a, inf), [[[1.0, nan], [3.0, -3.0]]]),
    ("prod-one-zero", lambda m, a: a.prod(), [[2.0, 0.0, 3.0]]),
    ("prod-two-zeros", lambda m, a: a.prod(), [[0.0, 2.0, 0.0]]),
    ("prod-dim-zeros", lambda m, a: a.prod(1), [[[0.0, 2.0, 3.0], [1.0, 0.0, 0.0], [1.0, 2.0, 3.0]]]),
    ("prod-empty", lambda m, a: a.prod(), [[]]),
    ("cumprod-zeros", lambda m, a: a.cumprod(0), [[2.0, 0.0, 3.0, 0.0, 5.0]]),
    ("cumprod-one-zero", lambda m, a: a.cumprod(0), [[2.0, 3.0, 0.0, 4.0]]),
    ("cumsum-inf", lambda m, a: a.cumsum(0), [[1.0, inf, -inf, 2.0]]),
    ("cumsum-empty", lambda m, a: a.cumsum(0), [[]]),
    ("std-zero", lambda m, a: a.std(), [[1.0, 1.0, 1.0]]),
    ("std-dim-zero", lambda m, a: a.std(1), [[[1.0, 1.0], [1.0, 2.0]]]),
    ("norm-zero", lambda m, a: a.norm(), [[0.0, 0.0]]),
    ("norm1-zero", lambda m, a: a.norm(1), [[0.0, 0.0]]),
    ("norm3-zero", lambda m, a: a.norm(3), [[0.0, 0.0]]),
    ("norm-half-zero", lambda m, a: a.norm(0.5), [[0.0, 1.0]]),
    ("norm-neg", lambda m, a: a.norm(-1), [[2.0, 1.0]]),
    ("norm-inf-tie", lambda m, a: a.norm(inf), [[1.0, -3.0, 3.0]]),
    ("norm-ninf", lambda m, a: m.linalg.vector_norm(a, -inf), [[1.0, -1.0, 3.0]]),
    ("norm-0", lambda m, a: a.norm(0), [[1.0, 0.0, 3.0]]),
    ("norm-dim-zero-row", lambda m, a: m.linalg.vector_norm(a, dim=1), [[[0.0, 0.0], [3.0, 4.0]]]),
    ("nan_to_num", lambda m, a: a.nan_to_num(), [[nan, inf, -inf, 1.0]]),
    ("nan_to_num-vals", lambda m, a: a.nan_to_num(1.0, 2.0, -3.0), [[nan, inf, -inf, 1.0]]),
    ("lerp-inf", lambda m, a, b: a.lerp(b, 0.75), [[0.0, 1.0], [inf, 2.0]]),
    ("addcdiv-zero", lambda m, a, b, c: a.addcdiv(b, c), [[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]),
]


def _grads(m, fn, vals, dtype):
    xs = [m.tensor(v, dtype=getattr(m, dtype), requires_grad=True) for v in vals]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(m, *xs)
        if out.requires_grad:
            (out * m.ones(tuple(out.shape), dtype=out.dtype)).sum().backward()
    to_np = (lambda t: t.detach().numpy(force=True)) if m is torch else (lambda t: t.numpy())
    gs = [np.zeros(np.shape(v)) if x.grad is None else to_np(x.grad) for x, v in zip(xs, vals)]
    return out, to_np(out.detach()), gs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cid,fn,vals", SPECIAL, ids=[c[0] for c in SPECIAL])
def test_special_points_against_torch(cid, fn, vals, dtype):
    out, v, gs = _grads(tg, fn, vals, dtype)
    tout, tv, tgs = _grads(torch, fn, vals, dtype)
    assert out.dtype.name == str(tout.dtype).replace("torch.", "")
    assert type(out.grad_fn).__name__ == type(tout.grad_fn).__name__
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(v, tv, equal_nan=True, **tol)
    np.testing.assert_array_equal(np.signbit(v[v == 0]), np.signbit(tv[tv == 0]))
    for g, t in zip(gs, tgs):
        np.testing.assert_allclose(g, t, equal_nan=True, **tol)


# ---- dtypes: integer and bool inputs ---------------------------------------------------------
DTYPES = [
    ("floor", lambda m, a: a.floor()), ("ceil", lambda m, a: m.ceil(a)),
    ("round", lambda m, a: a.round()), ("trunc", lambda m, a: a.trunc()),
    ("sgn", lambda m, a: a.sgn()), ("erf", lambda m, a: a.erf()), ("log1p", lambda m, a: a.log1p()),
    ("maximum", lambda m, a: m.maximum(a, a[[3, 2, 1, 0]])), ("fmin", lambda m, a: m.fmin(a, a * 2)),
    ("remainder", lambda m, a: a.remainder(3)), ("fmod", lambda m, a: a.fmod(-3)),
    ("rmod", lambda m, a: 7 % (a + 10)),
    ("clamp", lambda m, a: a.clamp(0, 2)), ("clamp-float", lambda m, a: a.clamp(0.5)),
    ("clamp_min", lambda m, a: a.clamp_min(1)),
    ("prod", lambda m, a: a.prod()), ("prod-dim", lambda m, a: a.reshape(2, 2).prod(0)),
    ("cumsum", lambda m, a: a.cumsum(0)), ("cumprod", lambda m, a: m.cumprod(a, 0)),
    ("amax", lambda m, a: a.amax()), ("max", lambda m, a: a.max()), ("min", lambda m, a: a.min()),
    ("argmax", lambda m, a: a.argmax()), ("argmin-dim", lambda m, a: a.reshape(2, 2).argmin(1)),
    ("argmax-keep", lambda m, a: m.argmax(a.reshape(2, 2), dim=0, keepdim=True)),
    ("any", lambda m, a: a.any()), ("all-dim", lambda m, a: a.reshape(2, 2).all(1)),
    ("isnan", lambda m, a: a.isnan()), ("isinf", lambda m, a: m.isinf(a)),
    ("isfinite", lambda m, a: a.isfinite()), ("count_nonzero", lambda m, a: a.count_nonzero()),
    ("count_nonzero-dim", lambda m, a: m.count_nonzero(a.reshape(2, 2), dim=0)),
    ("logical_not", lambda m, a: a.logical_not()), ("logical_or", lambda m, a: m.logical_or(a, a[[3, 2, 1, 0]])),
    ("logical_xor", lambda m, a: a.logical_xor(a[[3, 2, 1, 0]])),
    ("logical_and", lambda m, a: m.logical_and(a, a[[3, 2, 1, 0]])),
    ("nan_to_num", lambda m, a: a.nan_to_num()),
    ("lt-fn", lambda m, a: m.lt(a, 1)), ("ge-fn", lambda m, a: m.greater_equal(a, 1)),
    ("ne-method", lambda m, a: a.not_equal(a[[3, 2, 1, 0]])),
]


@pytest.mark.parametrize("dt", ["int64", "int32", "bool"])
@pytest.mark.parametrize("cid,fn", DTYPES, ids=[c[0] for c in DTYPES])
def test_integer_and_bool_inputs(cid, fn, dt):
    vals = [0, 2, -3, 1] if dt != "bool" else [False, True, True, False]
    results = []
    for m in (tg, torch):
        try:
            r = fn(m, m.tensor(vals, dtype=getattr(m, dt)))
            results.append(("ok", str(r.dtype).split(".")[-1], repr(r.numpy().tolist())))
        except Exception as exc:   # noqa: BLE001  (compare the error with torch's)
            results.append(("error", type(exc).__name__))
    if results[1][0] == "error" and results[0][0] == "error":
        return
    assert results[0] == results[1]


# ---- in-place variants -----------------------------------------------------------------------
INPLACE = ["exp_", "log1p_", "expm1_", "sin_", "tan_", "atan_", "sinh_", "erf_", "floor_",
           "ceil_", "trunc_", "round_", "frac_", "sqrt_", "abs_", "neg_", "sigmoid_", "tanh_",
           "rsqrt_", "reciprocal_", "sign_", "arctan_", "square_", "relu_"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_variants(name):
    vals = np.array([0.3, 1.7, 2.5], np.float64)
    for history in (False, True):
        outs = []
        for m in (tg, torch):
            x = m.tensor(vals, requires_grad=history)
            y = x * 1.0 if history else x.clone()
            r = getattr(y, name)()
            assert r is y
            if history:
                (y * m.tensor([1.0, 2.0, 3.0], dtype=m.float64)).sum().backward()
                outs.append((type(y.grad_fn).__name__, y.detach().numpy().copy(),
                             x.grad.numpy().copy()))
            else:
                outs.append((y.numpy().copy(),))
        assert outs[0][0] == outs[1][0] if history else True
        for a, b in zip(outs[0][1 - (not history):], outs[1][1 - (not history):]):
            np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inplace_unary_without_history_is_the_methods_value(dtype):
    """name_() of a float tensor without history (the method's value written in, no copy of
    self made first): bit for bit the out-of-place method's value, self returned, one version
    counted, as torch's (whose values it matches to rounding); a strided view under no_grad
    writes its base's memory, and a leaf that requires grad changes under no_grad."""
    vals = np.array([0.3, -1.7, 2.5, 0.0, -0.0, 1e-3, 40.0, -0.5, 0.5, 3.0, np.inf, -np.inf,
                     np.nan, 1.5, -2.5, 0.75], dtype)
    for name in INPLACE:
        got, want = [], []
        for m, out in ((tg, got), (torch, want)):
            x = m.tensor(vals.copy())
            expected = getattr(x, name[:-1])().numpy().copy()
            r = getattr(x, name)()
            base = m.tensor(vals.reshape(4, 4).copy())
            p = m.tensor(vals.copy(), requires_grad=True)
            with m.no_grad():
                getattr(base[::2, 1:], name)()
                getattr(p, name)()
            if m is tg:
                assert x.numpy().tobytes() == expected.tobytes(), name
                view = vals.reshape(4, 4).copy()
                view[::2, 1:] = getattr(tg.tensor(view[::2, 1:].copy()), name[:-1])().numpy()
                assert base.numpy().tobytes() == view.tobytes(), name
            out.append((r is x, x._version, base._version, p._version, p.requires_grad,
                        p.grad_fn, x.numpy().copy(), base.numpy().copy(), p.detach().numpy()))
        for g, w in zip(got, want):
            assert g[:6] == w[:6], name
            for a, b in zip(g[6:], w[6:]):
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("call", [
    lambda m, x: x.clamp_(0.2, 0.5), lambda m, x: x.clamp_(min=0.4), lambda m, x: x.clip_(max=1.0),
    lambda m, x: x.clamp_min_(0.5), lambda m, x: x.remainder_(0.4), lambda m, x: x.fmod_(0.4),
    lambda m, x: x.lerp_(m.ones(3, dtype=m.float64), 0.3),
    lambda m, x: x.addcmul_(x * 1.0, x * 2.0, value=0.5), lambda m, x: x.addcdiv_(x * 1.0, x + 1.0),
    lambda m, x: x.cumsum_(0), lambda m, x: x.nan_to_num_(), lambda m, x: x.round_(decimals=1),
], ids=["clamp", "clamp_min_kw", "clip", "clamp_min", "remainder", "fmod", "lerp", "addcmul",
        "addcdiv", "cumsum", "nan_to_num", "round_dec"])
def test_inplace_with_arguments(call):
    res = []
    for m in (tg, torch):
        x = m.tensor([0.3, 0.77, 1.25], dtype=m.float64, requires_grad=True)
        y = x * 1.0
        call(m, y)
        (y * m.tensor([1.0, -2.0, 3.0], dtype=m.float64)).sum().backward()
        res.append((type(y.grad_fn).__name__, y.detach().numpy().copy(), x.grad.numpy().copy()))
    assert res[0][0] == res[1][0]
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)
    np.testing.assert_allclose(res[0][2], res[1][2], rtol=1e-12)


def test_inplace_on_integer_tensor_raises_cast_error():
    for m in (tg, torch):
        with pytest.raises(RuntimeError, match="can't be cast"):
            m.tensor([1, 2]).exp_()


# ---- logical ops, comparisons, closeness -----------------------------------------------------
def test_bool_operators_and_closeness():
    a = [True, False, True, False]
    b = [True, True, False, False]
    for expr in (lambda m, x, y: x | y, lambda m, x, y: x ^ y, lambda m, x, y: ~x,
                 lambda m, x, y: x & y, lambda m, x, y: m.logical_xor(x, y)):
        r = [expr(m, m.tensor(a), m.tensor(b)).numpy().tolist() for m in (tg, torch)]
        assert r[0] == r[1]
    x = [1.0, nan, inf, 2.0]
    y = [1.0 + 1e-9, nan, inf, 2.1]
    for m in (tg, torch):
        assert m.isclose(m.tensor(x), m.tensor(y)).numpy().tolist() == [True, False, True, False]
        assert m.isclose(m.tensor(x), m.tensor(y), equal_nan=True).numpy().tolist()[1]
        assert not m.allclose(m.tensor(x), m.tensor(y))
        assert m.allclose(m.tensor(x[:1]), m.tensor(y[:1]))
        assert m.equal(m.tensor([1, 2]), m.tensor([1, 2]))
        assert not m.equal(m.tensor([1, 2]), m.tensor([1, 2, 3]))
    assert (tg.tensor([1, 2]) | tg.tensor([2, 3])).tolist() == [3, 3]   # (bitwise: opsgaps)
    with pytest.raises(NotImplementedError, match="bitwise_or_cpu"):
        tg.tensor([1., 2.]) | tg.tensor([2., 3.])


def test_max_min_return_types_and_full_reductions():
    x = tg.tensor([[1.0, 5.0], [5.0, 2.0]], requires_grad=True)
    t = torch.tensor([[1.0, 5.0], [5.0, 2.0]], requires_grad=True)
    assert repr(x.max()) == repr(t.max()).replace("torch", "tapegrad")
    assert x.max(1).indices.tolist() == t.max(1).indices.tolist()
    assert tg.max(x, x * 0.5).grad_fn.name() == "MaximumBackward0"
    with pytest.raises(RuntimeError, match="numel"):
        tg.tensor([]).max()


def test_replay_follows_the_extreme_and_the_clamp():
    """A replay re-evaluates where the maximum is and which side of a bound a value is on."""
    f = lambda x: x.amax() + x.clamp(-1.0, 1.0).sum() + x.prod()  # noqa: E731
    tape = tg.record(f, tg.tensor([0.5, 3.0, -2.0], dtype=tg.float64))
    for pt in ([4.0, 0.2, 0.3], [-0.5, -0.5, 2.0], [0.0, 1.0, 1.0]):
        v, (g,) = tape.value_and_grad(np.array(pt))
        t = torch.tensor(pt, dtype=torch.float64, requires_grad=True)
        f(t).backward()
        assert v == pytest.approx(f(t).item())
        np.testing.assert_allclose(g, t.grad.numpy())


def test_traced_tests_are_reevaluated():
    f = lambda x: tg.where(x.isnan() | (x > 1.0), 0.0, x).sum() + \
        x.isfinite().count_nonzero() * 1.0 + tg.where(x.any(), 1.0, 0.0)  # noqa: E731
    tape = tg.record(f, tg.tensor([0.5, 3.0, nan], dtype=tg.float64))
    for pt in ([0.25, 0.5, 2.0], [nan, inf, 0.0]):
        v, _ = tape.value_and_grad(np.array(pt))
        assert v == pytest.approx(f(tg.tensor(pt, dtype=tg.float64)).item())


# ---- errors and signatures -------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda m: m.tensor([1.0]).clamp(), lambda m: m.maximum(m.tensor([1.0]), 2.0),
    lambda m: m.tensor([1, 2]).frac(), lambda m: m.tensor([1, 2]).var(),
    lambda m: m.linalg.vector_norm(m.tensor([1, 2])), lambda m: m.tensor([]).amax(),
    lambda m: m.tensor([1.0]).cumsum(1), lambda m: m.polygamma(-1, m.tensor([1.0])),
])
def test_errors_as_torch(call):
    errs = []
    for m in (tg, torch):
        with pytest.raises(Exception) as info:
            call(m)
        errs.append(type(info.value))
    assert issubclass(errs[0], errs[1]) or issubclass(errs[1], errs[0]) or \
        errs[0].__mro__[1] is errs[1].__mro__[1]


MODULE = ["log1p", "expm1", "log2", "log10", "exp2", "tan", "asin", "acos", "atan", "arcsin",
          "arccos", "arctan", "sinh", "cosh", "asinh", "acosh", "atanh", "arcsinh", "arccosh",
          "arctanh", "erf", "erfc", "erfinv", "lgamma", "digamma", "polygamma", "square",
          "rsqrt", "floor", "ceil", "round", "trunc", "fix", "frac", "sgn", "sign",
          "remainder", "fmod", "clamp", "clamp_min", "clamp_max", "clip", "maximum", "minimum",
          "fmax", "fmin", "max", "min", "amax", "amin", "argmax", "argmin", "prod", "cumsum",
          "cumprod", "std", "var", "std_mean", "var_mean", "norm", "lerp", "addcmul", "addcdiv",
          "lt", "le", "gt", "ge", "eq", "ne", "greater", "less", "greater_equal", "less_equal",
          "not_equal", "logical_and", "logical_or", "logical_xor", "logical_not", "any", "all",
          "isnan", "isinf", "isfinite", "isposinf", "isneginf", "nan_to_num", "allclose",
          "isclose", "equal", "count_nonzero"]


def test_namespace_has_torch_functions():
    missing = [n for n in MODULE if hasattr(torch, n) and not hasattr(tg, n)]
    assert not missing
    assert hasattr(tg.linalg, "norm") and hasattr(tg.linalg, "vector_norm")


def test_var_mean_and_std_mean_values():
    x = np.random.default_rng(0).normal(size=(3, 4))
    for fn in ("var_mean", "std_mean"):
        a = getattr(tg, fn)(tg.tensor(x), 1, keepdim=True)
        b = getattr(torch, fn)(torch.tensor(x), 1, keepdim=True)
        for u, v in zip(a, b):
            assert tuple(u.shape) == tuple(v.shape)
            np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-12)


# ---- heaviside: values, and torch's NotImplemented node (no derivative) ----------------------
@pytest.mark.parametrize("expr", ["m.heaviside(x, m.tensor(0.5))", "m.heaviside(x.detach(), y)",
                                  "x.heaviside(x)", "m.heaviside(x, y)",
                                  "(x * 1).heaviside_(m.tensor([0.5]))",
                                  "x.detach().clone().heaviside_(y)", "(x * 2).heaviside_(y)"])
def test_heaviside_node_as_torch(expr):
    out = []
    for m in (tg, torch):
        x = m.tensor([[0.0, -0.0, nan, -1.0, inf, 2.0]], requires_grad=True)
        y = m.tensor([1.5, -2.0, 0.0, 3.0, 4.0, 0.5], requires_grad=True)
        r = eval(expr, {"m": m, "x": x, "y": y})
        fn = r.grad_fn
        edges = [(type(f).__name__ if f is not None else None, i) for f, i in fn.next_functions]
        with pytest.raises(RuntimeError) as info:
            r.sum().backward()
        out.append((r.detach().numpy().tolist(), fn.name(), edges, str(info.value)))
    assert repr(out[0]) == repr(out[1])
    with tg.no_grad():
        assert tg.heaviside(tg.ones(2, requires_grad=True), tg.ones(1)).grad_fn is None
        w = tg.tensor([0.0, 1.0, -1.0], requires_grad=True)
        assert w.heaviside_(tg.tensor([0.5])).tolist() == [0.5, 1.0, 0.0]


@pytest.mark.parametrize("expr", ["m.ones(3).heaviside_(m.ones(2, 3))",
                                  "m.ones(3).heaviside_(m.ones(3).double())",
                                  "m.ones(3, requires_grad=True).heaviside_(m.ones(1))",
                                  "m.ones(3).heaviside_(0.5)", "m.ones(3).heaviside(0.5)",
                                  "m.heaviside(m.ones(3), 0.5)", "m.ones(3).ldexp(2)",
                                  "m.ldexp(m.ones(3), 2)", "m.ones(3).ldexp_(2)",
                                  "m.ldexp_(m.ones(3), 2)"])
def test_heaviside_inplace_errors_as_torch(expr):
    out = []
    for m in (tg, torch):
        with pytest.raises(Exception) as info:
            eval(expr, {"m": m})
        out.append((info.type.__name__, str(info.value).replace("torch", "M")
                    .replace("tapegrad", "M")))
    assert out[0] == out[1]


def test_frexp_exponents_are_guarded_on_replay():
    """The exponents found while recording are constants of the tape: a replay where one no
    longer gives a mantissa in [0.5, 1) (or leaves 0 as 0) raises BranchChanged."""
    def prog(x):
        return (x.frexp().mantissa * tg.tensor([1.0, 2.0, 3.0])).sum()
    rec = tg.record(prog, tg.tensor([3.0, 0.0, 0.6]))
    point = tg.tensor([2.5, 0.0, 0.7])
    value, (g,) = rec.value_and_grad(point)
    x = point.clone().requires_grad_()
    out = prog(x)
    out.backward()
    assert float(value) == out.item() and np.asarray(g).tolist() == x.grad.tolist()
    for moved in ([5.0, 0.0, 0.6], [3.0, 1.0, 0.6], [3.0, 0.0, 1.5]):
        with pytest.raises(tg.BranchChanged):
            rec.value_and_grad(tg.tensor(moved))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extremes_without_a_tape_are_the_bodys_values_and_torchs(dtype):
    """max/min/amax/amin where nothing records (a tensor that needs no gradient, or no_grad)
    take numpy's reduction: the value the decomposition's body gives with a tape (ties, +-inf,
    nan rows), and torch's, a -0.0 extreme included (among tied zeros of both signs the sign
    is each library's choice)."""
    rng = np.random.default_rng(4)
    inf, nan = math.inf, math.nan
    arrays = [rng.standard_normal((4, 5)), rng.integers(-2, 3, (3, 4)).astype(float),
              np.array([[inf, 1.0, -inf], [-inf, -inf, 2.0], [nan, 0.0, 1.0]]),
              np.array([[-0.0, -1.0], [-2.0, -0.0]]), np.array(2.5)]
    for a in arrays:
        calls = [("max", ()), ("min", ())] + ([(f, (d, keep)) for f in ("amax", "amin")
                                               for d in range(a.ndim) for keep in (False, True)]
                                              if a.ndim else [("amax", ()), ("amin", ())])
        for name, args in calls:
            x = tg.tensor(a, dtype=getattr(tg, dtype))
            plain = getattr(x, name)(*args)
            with tg.no_grad():
                quiet = getattr(x.clone().requires_grad_(), name)(*args)
            taped = getattr(x.clone().requires_grad_(), name)(*args)
            ref = getattr(torch.tensor(a, dtype=getattr(torch, dtype)), name)(*args)
            assert plain.grad_fn is None and quiet.grad_fn is None and taped.grad_fn is not None
            for got in (plain, quiet):
                assert got.dtype is x.dtype and got.shape == taped.shape
                np.testing.assert_array_equal(got.numpy(), ref.numpy())
                zero = got.numpy() == 0
                np.testing.assert_array_equal(np.signbit(got.numpy()[zero]),
                                              np.signbit(ref.numpy()[zero]))
                np.testing.assert_array_equal(got.numpy(), taped.detach().numpy())
                signs = [np.signbit(v) & ~np.isnan(v) for v in (got.numpy(), taped.detach().numpy())]
                np.testing.assert_array_equal(*signs)


@pytest.mark.parametrize("tied", [False, True])
def test_extremes_one_entry_ties_or_not(tied):
    """max()/min() and amax/amin record one entry of the extreme kind, ties or not (the
    tie-splitting body only while tracing): torch's values, gradients, grad_fn and second
    derivatives either way."""
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(5).standard_normal((3, 4))
    if tied:
        a[1, 0] = a[1, 3] = a.max() + 1.0      # ties in row 1 and over all elements
        a[2, 1] = a[0, 1] = a.min() - 1.0      # one in column 1 and over all elements
    calls = [("max", ()), ("min", ()), ("amax", (1,)), ("amin", (0, True)), ("amax", ((0, 1),))]
    for name, args in calls:
        res, entries = [], None
        for m in (tg, torch):
            x = m.tensor(a, requires_grad=True)
            y = getattr(x, name)(*args)
            entries = len(y._tape) if m is tg else entries
            w = m.tensor(np.arange(1.0, 1.0 + y.numel()).reshape(tuple(y.shape)))
            g, = m.autograd.grad((y * w).sum() * x.sum(), x, create_graph=True)
            h, = m.autograd.grad((g * g).sum(), x)
            res.append((y.detach().numpy(), g.detach().numpy(), h.numpy(),
                        type(y.grad_fn).__name__))
        (y, g, h, fn), (ty, tgrad, th, tfn) = res
        np.testing.assert_array_equal(y, ty)
        np.testing.assert_allclose(g, tgrad, rtol=1e-13)
        np.testing.assert_allclose(h, th, rtol=1e-13)
        assert fn == tfn
        assert entries == 2, (name, args, entries)   # (a leaf entry, the extreme entry)


@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_array_faces_of_erf_are_maths_bits(name):
    """vocab's numpy face of erf / erfc (a Numba loop over libm, tapegrad/_vecmath.py) gives
    math's scalar face bit for bit, specials included, in the input's shape (0-d too), float64
    also for float32 input; and erf/erfc/gelu on tensors as torch's."""
    from tapegrad import vocab
    f = vocab.FUNCS[name]
    rng = np.random.default_rng(2)
    xs = np.concatenate([rng.standard_normal(5000) * 4, rng.standard_normal(500) * 30,
                         rng.standard_normal(492) * 1e-4,
                         [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -1e-310, 26.6]])
    got = f.numpy(xs.reshape(10, -1))
    assert got.dtype == np.float64 and got.shape == (10, xs.size // 10)
    want = np.array([f.scalar(v) for v in xs]).reshape(10, -1)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    assert f.numpy(np.float32(0.5)).shape == () and f.numpy(0.5) == f.scalar(0.5)
    x32 = xs[:100].astype(np.float32)
    np.testing.assert_array_equal(f.numpy(x32), [f.scalar(float(v)) for v in x32])
    for dtype in ("float32", "float64"):
        x = xs[:200].astype(dtype)
        np.testing.assert_allclose(getattr(tg.tensor(x), name)().numpy(),
                                   getattr(torch.tensor(x), name)().numpy(), rtol=2e-6,
                                   atol=1e-30)


@pytest.mark.parametrize("name", ["lgamma", "erfinv", "ndtri", "digamma", "polygamma", "i0",
                                  "i0e", "i1", "i1e", "erfcx"])
def test_array_faces_of_special_functions_are_the_scalar_faces_bits(name):
    """vocab's numpy face of the copied special functions (Numba loops over their kernel
    faces, the generated _vecspecial.py) gives the scalar face bit for bit, in the broadcast
    input shape; np.vectorize of the scalar faces ran Python per element (erfinv of 10^5
    elements 0.24 s).  lgamma's is a Numba loop over libm's lgamma (_vecmath.py), as torch's
    CPU kernel calls it, where the scalar face is CPython's own math.lgamma: they agree to
    ~1e-12 (libm's matches torch's float64 result twice as often), specials exactly."""
    from tapegrad import vocab
    f = vocab.FUNCS[name]
    rng = np.random.default_rng(5)
    if name in ("erfinv", "ndtri"):
        lo = -1.0 if name == "erfinv" else 0.0
        xs = np.concatenate([rng.uniform(lo, 1.0, 3000), lo + rng.uniform(0, 1e-6, 200),
                             1.0 - rng.uniform(0, 1e-9, 200), [lo, 1.0, 0.0, -0.0, 2.0,
                                                                math.nan, 1e-300]])
    else:
        xs = np.concatenate([rng.standard_normal(2000) * 5, rng.uniform(0, 700, 1000),
                             -rng.integers(0, 20, 200).astype(float),
                             [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-300, 171.5]])
    xs = xs[:xs.size // 4 * 4]
    if f.arity == 2:
        ns = np.array([0.0, 1.0, 2.0, 3.0])[:, None]
        got = f.numpy(ns, xs.reshape(1, -1)[:, :400])
        want = np.array([[f.scalar(float(n), v) for v in xs[:400]] for n in ns[:, 0]])
    else:
        got = f.numpy(xs.reshape(4, -1))
        want = np.array([f.scalar(v) for v in xs]).reshape(4, -1)
    assert got.dtype == np.float64 and got.shape == want.shape
    if name == "lgamma":
        np.testing.assert_allclose(got, want, rtol=2e-12, atol=0)
    else:
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    if f.arity == 1:
        assert f.numpy(np.float32(0.25)).shape == ()
        np.testing.assert_allclose(f.numpy(0.25), f.scalar(0.25), rtol=2e-12)


def test_trigamma_is_torchs(torch_ref):
    """polygamma(1, x), and so digamma's gradient, is torch's calc_trigamma (a short
    asymptotic series, ~5e-10 relative off the exact value that the Hurwitz zeta gave):
    float64 bit for bit, poles, infinities and nan included."""
    xs = [0.1, 0.75, 1.0, 2.5, 7.0, 30.0, 1e-8, 0.49, 0.5, -0.3, -2.5, -7.25, 0.0, -1.0,
          1e-300, 1e300, -1e300, math.inf, -math.inf, math.nan]
    x = tg.tensor(xs, dtype=tg.float64, requires_grad=True)
    xr = torch_ref.tensor(xs, dtype=torch_ref.float64, requires_grad=True)
    tg.digamma(x).sum().backward()
    torch_ref.digamma(xr).sum().backward()
    want = torch_ref.polygamma(1, xr.detach()).numpy()
    np.testing.assert_array_equal(tg.polygamma(1, x.detach()).numpy(), want)
    np.testing.assert_array_equal(x.grad.numpy(), xr.grad.numpy())
    np.testing.assert_array_equal([tg.polygamma(1, tg.tensor(v, dtype=tg.float64)).item()
                                   for v in xs], want)


def test_polygamma_of_one_element_warns_nothing(torch_ref):
    """polygamma(n, x) of a one-element tensor: n broadcast to x's shape gave a stride-0 view
    that Numba's look at its flags turned into numpy's FutureWarning (broadcast_array)."""
    for shape in [(1,), (1, 1), (3,)]:
        x = tg.full(shape, 0.75, dtype=tg.float64, requires_grad=True)
        xr = torch_ref.full(shape, 0.75, dtype=torch_ref.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = tg.polygamma(1, x)
            y.sum().backward()
        yr = torch_ref.polygamma(1, xr)
        yr.sum().backward()
        np.testing.assert_allclose(y.detach().numpy(), yr.detach().numpy(), rtol=1e-8)
        np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=1e-8)


def test_array_special_functions_run_no_python_per_element():
    """Counting calls, not time: erfinv, digamma, lgamma, i0, polygamma of a 2000-element
    tensor (and nn.init.trunc_normal_, erfinv's user) make no call of a scalar face (Python
    in tapegrad/_special.py or vocab.py) per element."""
    import sys
    x = tg.rand(2000, dtype=tg.float64) * 0.9 + 0.05
    calls = [
        lambda: x.erfinv(), lambda: x.digamma(), lambda: x.lgamma(), lambda: x.i0(),
        lambda: tg.polygamma(1, x), lambda: tg.special.ndtri(x),
        lambda: tg.nn.init.trunc_normal_(tg.empty(40, 50))]
    for call in calls:
        call()   # (warm: Numba loads the loops)
        seen = []

        def profile(frame, event, arg):
            if event == "call" and frame.f_code.co_filename.endswith(("_special.py", "vocab.py")):
                seen.append(frame.f_code.co_name)
        sys.setprofile(profile)
        try:
            call()
        finally:
            sys.setprofile(None)
        assert len(seen) < 20, (len(seen), seen[:5])


def test_reduction_dims_tuples_checked_every_time():
    """ndops keeps the dims of a tuple it has checked (per ndim): the same tuple on a tensor
    of another ndim is checked again, an invalid one raises torch's error every time, and a
    negative dim maps per ndim."""
    for _ in range(2):
        for mod in (tg, torch):
            x2, x3 = mod.ones(2, 3), mod.ones(2, 3, 4)
            assert tuple(x2.sum((0, -1)).shape) == () and tuple(x3.sum((0, -1)).shape) == (3,)
            assert tuple(x3.mean((-1,), keepdim=True).shape) == (2, 3, 1)
            with pytest.raises(RuntimeError, match="dim 1 appears multiple times"):
                x2.sum((1, -1))
            with pytest.raises(IndexError, match="Dimension out of range"):
                x2.sum((0, 2))
            assert tuple(x3.sum((0, 2)).shape) == (3,)


def _moment_scenario(fast, name, dtype, shape, dim, keepdim, corr, kind):
    """A fresh tape, then x.var / x.std by mathops._moment_pass (`fast`) or by the body
    (decomps_math.var, what the row records otherwise); returns (tape facts, value,
    gradient, the result's storage type)."""
    from test_eager_nn import _facts
    from tapegrad import mathops
    from tapegrad.tape import CLOSED, STATE
    real = mathops._moment_pass
    if not fast:
        mathops._moment_pass = lambda *a: None
    try:
        STATE.tape = CLOSED
        rng = np.random.default_rng(3)
        x0 = tg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
        x = x0 * 1.5 if kind == "non-leaf" else x0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (degrees of freedom <= 0)
            out = getattr(x, name)(dim, correction=corr, keepdim=keepdim)
        facts = _facts(out._tape, [x0, x, out])
        facts["edges"] = dict(out._tape.edge_nodes or {})
        facts["fn"] = (out.grad_fn.name(),
                       [(f.name() if f else None, k) for f, k in out.grad_fn.next_functions])
        value = out.detach().numpy().copy()
        out.sum().backward()
        return facts, value, x0.grad.numpy(), type(out._v)
    finally:
        mathops._moment_pass = real


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,dim", [((3, 4), 1), ((3, 4), None), ((2, 3, 4), (0, 2)),
                                       ((5,), 0), ((64, 100), 1), ((64, 100), None),
                                       ((130, 130), (0, 1)), ((3, 70, 60), (0, 2))])
@pytest.mark.parametrize("keepdim,corr,kind", [(False, 1, "leaf"), (True, 0, "non-leaf"),
                                               (False, 3, "non-leaf")])
def test_fast_moment_writes_the_decompositions_entries(name, dtype, shape, dim, keepdim, corr,
                                                       kind):
    """var / std's one-pass writer (mathops._moment_pass) appends exactly what the body does
    (streams, shapes, params, saved values, version watches, the group, edges), with the same
    values and gradients, for results of one and of several elements and N <= correction."""
    fast = _moment_scenario(True, name, dtype, shape, dim, keepdim, corr, kind)
    slow = _moment_scenario(False, name, dtype, shape, dim, keepdim, corr, kind)
    assert fast[0] == slow[0]
    np.testing.assert_array_equal(fast[1], slow[1])
    np.testing.assert_array_equal(fast[2], slow[2])
    assert fast[3] is slow[3]


def _no_dof_moment(lib, name, dim, correction, replayed):
    """name(x, dim, correction) weighted and summed: its value, gradient and warnings (a
    replay of the recorded program for tapegrad with `replayed`)."""
    data = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]], np.float32)

    def f(x):
        r = getattr(lib, name)(x, dim=dim, correction=correction)
        rs = r if isinstance(r, tuple) else (r,)
        return sum((q * (lib.arange(1.0, 1.0 + q.numel()).reshape(q.shape) - 2.5)).sum()
                   for q in rs)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        if replayed:
            value, (grad,) = tg.record(f, tg.ones(2, 3)).value_and_grad(data)
        else:
            x = lib.tensor(data, requires_grad=True)
            out = f(x)
            grad, = lib.autograd.grad(out, x)
            value, grad = out.item(), grad.numpy()
    return value, grad, sorted({str(w.message)[:40] for w in seen})


@pytest.mark.parametrize("name", ["var", "std", "var_mean", "std_mean"])
@pytest.mark.parametrize("dim,correction", [(1, 3), (1, 4), (1, 3.5), (-1, 5), (0, 2), (None, 6),
                                            (None, 7), ([], 0), ([], 1), ((0, 1), 7), (1, 2)])
def test_moments_without_degrees_of_freedom_as_torch(torch_ref, name, dim, correction):
    """With correction >= N torch's value divides by 0 (inf, nan) but its gradient is
    var_backward's 2 / (N - correction) * grad * (x - mean) (finite past N), over all
    elements grad * where(x == mean, nan, inf); dim=[] counts N as 1 there.  The warning
    names the function called (var_mean(), ...)."""
    want = _no_dof_moment(torch_ref, name, dim, correction, False)
    for replayed in (False, True):
        got = _no_dof_moment(tg, name, dim, correction, replayed)
        assert got[2] == want[2]
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)


_NO_DIM = object()   # (the call without dim=)


def _moment_grads(lib, name, dtype, shape, dim, correction, seed):
    """name(x, dim, correction)'s gradient for the incoming gradient `seed` (a number
    filling the result's shape), then under create_graph a second derivative of a weighted
    sum of it (a finite seed)."""
    x = lib.tensor([1.0, 2.0, 4.0, 0.5, -3.0, 7.0][:math.prod(shape)],
                   dtype=getattr(lib, dtype)).reshape(shape).requires_grad_(True)
    kw = {} if dim is _NO_DIM else {"dim": dim}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (degrees of freedom <= 0)
        r = getattr(lib, name)(x, correction=correction, **kw)
        r = r[0] if isinstance(r, tuple) else r
        g, = lib.autograd.grad(r, x, lib.full(r.shape, seed, dtype=r.dtype), retain_graph=True)
        w = lib.arange(1.0, 1.0 + r.numel(), dtype=r.dtype).reshape(r.shape)
        g2, = lib.autograd.grad((r * w).sum(), x, create_graph=True)
        h, = lib.autograd.grad((g2 * lib.arange(1.0, 1.0 + x.numel(), dtype=x.dtype)
                                .reshape(shape)).sum(), x)
    return [np.asarray(t.detach().tolist(), dtype=np.float64) for t in (g, g2, h)]


@pytest.mark.parametrize("name", ["var", "std", "var_mean", "std_mean"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,dim", [((3,), _NO_DIM), ((3,), 0), ((2, 3), 1), ((2, 3), (0, 1)),
                                       ((2, 3), _NO_DIM), ((2, 3), [])])
@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("seed", [inf, -inf])
def test_moment_infinite_incoming_gradient_as_torch(torch_ref, name, dtype, shape, dim,
                                                    correction, seed):
    """torch's var_backward, (2 / (n - correction)) * grad * (x - mean), has no path through
    the mean: an infinite grad gives +-inf (nan where x is the mean), not the nan of inf - inf
    the mean's terms made everywhere; its second derivative goes through the mean."""
    got = _moment_grads(tg, name, dtype, shape, dim, correction, seed)
    want = _moment_grads(torch_ref, name, dtype, shape, dim, correction, seed)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)   # (nan and inf where torch's)


def test_fast_moment_is_taken_in_its_case_only(monkeypatch):
    from tapegrad import mathops
    taken = []
    real = mathops._moment_pass
    monkeypatch.setattr(mathops, "_moment_pass", lambda *a: taken.append(r := real(*a)) or r)
    x = tg.randn(4, 3, requires_grad=True)
    x.std(1), x.var(), x.detach().var(0)
    with tg.no_grad():
        x.std()
    tg.randn(70, 70, requires_grad=True).var()   # (the long-sum path's mean)
    assert len(taken) == 5 and all(r is not None for r in taken)
    taken.clear()
    tg.ones(3, 1, requires_grad=True).var(1)     # (one element per result)
    tg.record(lambda x: x.std(1), x)              # (recording for replay)
    assert taken and all(r is None for r in taken)


@pytest.mark.parametrize("call", [
    lambda m: m.ones(3).lerp_(m.ones(2), 0.5), lambda m: m.lerp(m.ones(2, 3), m.ones(4), 0.5),
    lambda m: m.ones(3).lerp(m.ones(3), m.ones(2)),
])
def test_lerp_broadcast_errors_name_self_first(call):
    """torch's message names self "tensor a" (the decomposition's `end - self` named end)."""
    msgs = []
    for m in (tg, torch):
        with pytest.raises(RuntimeError) as info:
            call(m)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool"])
def test_clamp_number_bounds_as_torch(dtype):
    """clamp's number bounds: taken as they are by a float tensor (float32 ones within its
    range: _number_bounds' first return), converted or refused as torch's scalar checks
    otherwise: the same values, dtypes and errors for each bound kind."""
    bounds = [(-1, 1), (0.5, 2.5), (1e39, None), (None, -1e39), (np.float64(1e300), None),
              (float("nan"), 1.0), (float("inf"), None), (True, False), (300, None),
              (None, 2 ** 40), (np.float32(2), 5), (-3.4e38, 3.4e38)]

    def run(lib):
        x = lib.tensor(np.array([0, 1, 3, 100, 200]).astype(dtype))
        out = []
        for lo, hi in bounds:
            calls = [lambda: x.clamp(lo, hi), lambda: x.clip(lo, hi)]
            calls += [lambda: x.clamp_min(lo)] if lo is not None else []
            calls += [lambda: x.clamp_max(hi)] if hi is not None else []
            for f in calls:
                try:
                    r = f()
                    out.append((str(r.dtype).split(".")[1], r.tolist()))
                except (RuntimeError, TypeError, NotImplementedError) as e:
                    out.append((type(e).__name__, str(e)))
        return out
    got, want = run(tg), run(torch)
    assert [str(g) for g in got] == [str(w) for w in want]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clamp_without_history_as_torch(dtype):
    """clamp / clamp_ of a tensor without history (the two faces on its array, no
    decomposition): torch's values at nan, infs, signed zeros, bounds out of order or equal
    and float32-rounded bounds, and a result that shares no memory with the input."""
    x = np.array([np.nan, -np.inf, np.inf, 0.18, -0.18, 2.0, -3.0, 0.0, -0.0, 0.1], dtype)
    bounds = [(-1, 1), (0.18, None), (None, 0.1), (1.0, -1.0), (0.1, 0.1), (0.0, None),
              (None, -0.0), (-3e38, 3e38), (2, 5)]
    for lo, hi in bounds:
        a, b = tg.tensor(x.copy()), torch.tensor(x.copy())
        got, want = a.clamp(lo, hi), b.clamp(lo, hi)
        assert str(got.dtype).split(".")[1] == str(want.dtype).split(".")[1]
        assert np.array_equal(got.numpy().view(np.uint8), want.numpy().view(np.uint8)), \
            (lo, hi, got, want)
        got.add_(1)
        assert np.array_equal(a.numpy(), x, equal_nan=True)
        a.clamp_(lo, hi), b.clamp_(lo, hi)
        assert np.array_equal(a.numpy().view(np.uint8), b.numpy().view(np.uint8)), (lo, hi)
        for name, args in (("clip_", (lo, hi)), ("clamp_min_", (lo,)), ("clamp_max_", (hi,))):
            if None in args:
                continue
            a, b = tg.tensor(x.copy()), torch.tensor(x.copy())
            getattr(a, name)(*args), getattr(b, name)(*args)
            assert np.array_equal(a.numpy().view(np.uint8), b.numpy().view(np.uint8)), \
                (name, args)
            assert a._version == b._version


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clamp_in_place_writes_its_faces_into_the_tensor_as_torch(dtype):
    """clamp_ / clamp_min_ / clamp_max_ without history write both faces into the tensor's
    own memory: torch's bits at zeros of both signs under a zero bound (the mask of ties
    kept as they were), nan and infs, in a contiguous tensor, a strided view (under no_grad,
    its base changed too) and a one-element tensor; the same versions as torch's."""
    vals = np.array([-0.0, 0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -3.0, np.nan, np.inf, -np.inf,
                     -0.0] * 3, dtype)
    bounds = [(0.0, None), (-0.0, None), (None, 0.0), (None, -0.0), (0, 0), (-0.0, 0.0),
              (-1, 1), (0, 1), (0.5, None), (None, -0.5), (1.0, -1.0)]

    def run(lib):
        out = []
        for lo, hi in bounds:
            calls = [("clamp_", (lo, hi))] + [(n, (b,)) for n, b in
                                              (("clamp_min_", lo), ("clamp_max_", hi))
                                              if b is not None]
            for name, args in calls:
                a = lib.tensor(vals.copy())
                r = getattr(a, name)(*args)
                base = lib.tensor(vals.reshape(6, 6).copy())
                with lib.no_grad():
                    v = base[1::2, ::3]
                    getattr(v, name)(*args)
                one = lib.tensor(vals[:1].copy())
                getattr(one, name)(*args)
                out.append((name, args, r is a, a._version, base._version,
                            [x.numpy().tobytes().hex() for x in (a, base, one)]))
        return out
    assert run(tg) == run(torch)


def _norm0_grads(m):
    out = []
    for norm in (lambda x: m.linalg.vector_norm(x, 0), lambda x: x.norm(p=0, dim=1),
                 lambda x: m.norm(x, 0, dim=(0, 1), keepdim=True)):
        x = m.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]], requires_grad=True)
        y = norm(x)
        saved = y.grad_fn._saved_result.tolist(), y.grad_fn._saved_self is x
        y.sum().backward()
        unused = m.autograd.grad(norm(x).sum(), x, allow_unused=True)[0]
        both = m.autograd.grad((norm(x).sum() + x.sum()), x)[0].tolist()
        made = m.autograd.grad(norm(x).sum(), x, materialize_grads=True)[0].tolist()
        out.append((y.tolist(), type(y.grad_fn).__name__, x.grad, unused, both, made, saved))
    return out


def test_norm_zero_has_no_gradient_as_torch():
    # torch's LinalgVectorNormBackward0 gives order 0 an undefined gradient: .grad stays None
    # (tapegrad gave zeros)
    torch = pytest.importorskip("torch")
    assert _norm0_grads(tg) == _norm0_grads(torch)
    x = tg.tensor([1.0, 0.0, 2.0], requires_grad=True)   # (recording for replay: the body's)
    assert tg.compile(lambda a: (a * a).sum() + tg.linalg.vector_norm(a, 0))(x)[0].item() == 7


def _at_norm0_grads(m):
    """at::norm of order 0 (NormBackward1 / NormBackward0) and dist(p=0) (DistBackward0):
    node, edges, value, .grad of each input, or the backward's error."""
    F = m.nn.functional
    out = []
    for f, other_grad in ((lambda a, b: F.pairwise_distance(a, b, p=0), True),
                          (lambda a, b: m.nn.PairwiseDistance(p=0, keepdim=True)(a, b), True),
                          (lambda a, b: m.norm_except_dim(a * 2, 0, 1), True),
                          (lambda a, b: m.norm_except_dim(a, 0, -1), True),
                          (lambda a, b: m.dist(a, b, p=0), False),
                          (lambda a, b: m.dist(a * 2, b[0], p=0), False),
                          (lambda a, b: b.dist(a, p=0), False),
                          (lambda a, b: m.dist(a, b, p=0), True)):
        a = m.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]], requires_grad=True)
        b = m.tensor([[1.0, 1.0, 2.0], [0.0, 0.0, 4.0]], requires_grad=other_grad)
        y = f(a, b)
        row = [y.tolist(), type(y.grad_fn).__name__,
               [type(g).__name__ if g else None for g, _ in y.grad_fn.next_functions]]
        try:
            (y.sum() * 1.0).backward()
            row += [a.grad, b.grad]
        except RuntimeError as e:
            row.append(str(e))
        out.append(row)
    return out


def test_at_norm_and_dist_of_order_zero_have_no_gradient_as_torch():
    # torch's norm_backward gives order 0 an undefined gradient: NormBackward1/0 leave .grad
    # None, and DistBackward0 fails when it negates the one of `other` (tapegrad gave zeros,
    # and showed dist as LinalgVectorNormBackward0)
    got, want = _at_norm0_grads(tg), _at_norm0_grads(torch)
    assert [str(g) for g in got] == [str(w).replace("torch::autograd::", "") for w in want]
    x = tg.tensor([1.0, 0.0, 2.0], requires_grad=True)   # (recording for replay: the body's)
    assert tg.compile(lambda a: (a * a).sum() + tg.dist(a, a * 0.0, 0))(x)[0].item() == 7


def _clamp_scenario(fast, dtype, shape, bounds, kind):
    """A fresh tape, then x.clamp(*bounds) by mathops._clamp_pass (`fast`) or by the row's
    body (decomps.record of decomps_math.clamp, what clamp records otherwise); returns (tape
    facts, value, gradients of first and second order, grad_fn names)."""
    from test_eager_nn import _facts
    from tapegrad import mathops
    from tapegrad.tape import CLOSED, STATE
    real = mathops._clamp_pass
    if not fast:
        mathops._clamp_pass = lambda *a: None
    try:
        STATE.tape = CLOSED
        rng = np.random.default_rng(4)
        xa = rng.standard_normal(shape).astype(dtype)
        if xa.size > 3:
            xa.reshape(-1)[:4] = [nan, -0.0, 0.0, bounds[0] if bounds[0] is not None else 1.0]
        x0 = tg.tensor(xa, requires_grad=True)
        x = {"leaf": x0, "non-leaf": x0 * 1.5, "transposed": (x0 * 1.5).t()}[kind]
        out = x.clamp(*bounds)
        facts = _facts(out._tape, [x0, x, out])
        facts["fn"] = (out.grad_fn.name(),
                       [(f.name() if f else None, k) for f, k in out.grad_fn.next_functions])
        value = out.detach().numpy().copy()
        g, = tg.autograd.grad((out * out).sum(), x0, create_graph=True)
        gg, = tg.autograd.grad(g.sum(), x0)
        return facts, value, g.detach().numpy(), gg.numpy()
    finally:
        mathops._clamp_pass = real


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,kind", [((3, 4), "non-leaf"), ((3, 4), "leaf"),
                                        ((4, 3), "transposed"), ((1,), "non-leaf"),
                                        ((), "non-leaf"), ((0, 2), "non-leaf")])
@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (0, None), (None, 1), (0.5, -0.5),
                                    (-1e30, 2.5), (nan, None)])
def test_fast_clamp_writes_the_decompositions_entries(dtype, shape, kind, bounds):
    """clamp's writer of number bounds (mathops._clamp_pass, its own entries for an input on
    the open tape, _binary's else) appends exactly what the row's body does (streams, shapes,
    saved values, the group, edges), with the same values and gradients (create_graph too),
    for leaves, views, one element, 0-d and empty inputs, nan and -0.0 among the values."""
    fast = _clamp_scenario(True, dtype, shape, bounds, kind)
    slow = _clamp_scenario(False, dtype, shape, bounds, kind)
    assert str(fast[0]) == str(slow[0])   # (a nan bound in the entries: its repr)
    for f, s in zip(fast[1:], slow[1:]):
        np.testing.assert_array_equal(f, s)


@pytest.mark.parametrize("bounds", [(-1, 1), (0.0, None), (None, 2), (1e39, None),
                                    (2 ** 60, None), (True, None), (np.float32(0.5), 1.0),
                                    (0.5, np.float64(1.0))])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_clamp_of_a_recorded_input_as_torch(bounds, dtype):
    """clamp of a tensor that requires grad (float) or is computed from one, with the bounds
    the fast writer takes and those it leaves to the general path (a float32 bound past its
    range, an int past 2**53, a bool, numpy scalars, an integer input): torch's values,
    dtype, gradient and grad_fn, or torch's error."""
    def run(lib):
        x0 = lib.tensor(np.linspace(-2, 2, 12).reshape(3, 4).astype(dtype),
                        requires_grad=dtype != "int64")
        x = x0 * 2 if dtype != "int64" else x0
        try:
            out = x.clamp(*bounds)
        except (RuntimeError, TypeError) as e:
            return type(e).__name__, str(e)
        fn = out.grad_fn
        res = [str(out.dtype).split(".")[1], out.tolist(), fn and fn.name()]
        if fn is not None:
            res.append([f.name() for f, _ in fn.next_functions])
            out.sum().backward()
            res.append(x0.grad.tolist())
        return res
    got, want = run(tg), run(torch)
    assert str(got) == str(want)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("grad", [False, True])
def test_clamp_signs_of_zeros_with_zero_and_nonzero_bounds_as_torch(dtype, grad):
    """clamp / clamp_min / clamp_max by number bounds (Python and numpy scalars, zero of both
    signs and nonzero ones, nan) over values with zeros of both signs, values equal to the
    bounds and nan: torch's values bit for bit (the sign of each zero: a nonzero bound skips
    the zeros' mask, a zero bound keeps it), eager and recorded (the fast writer)."""
    vals = [-0.0, 0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -3.0, nan] * 4
    if dtype == "int64":
        vals = [int(v) for v in vals if v == v]
    npdt = getattr(np, dtype)
    bounds = [(-1, 1), (0.0, None), (-0.0, None), (None, 0.0), (None, -0.0), (0, 0),
              (-0.0, 0.0), (0.5, None), (None, -0.5), (npdt(1), None), (None, npdt(0)),
              (-1.0, npdt(0.5))]
    if dtype != "int64":
        bounds += [(nan, None), (None, nan)]

    def run(lib):
        out = []
        for lo, hi in bounds:
            x = lib.tensor(np.array(vals, npdt), requires_grad=grad and dtype != "int64")
            x = x * 1 if grad and dtype != "int64" else x
            calls = [lambda: x.clamp(lo, hi)]
            calls += [lambda: x.clamp_min(lo)] if lo is not None else []
            calls += [lambda: x.clamp_max(hi)] if hi is not None else []
            for f in calls:
                r = f()
                v = r.detach().numpy()
                out.append((str(r.dtype).split(".")[1], v.tolist(), np.signbit(v).tolist(),
                            r.grad_fn and r.grad_fn.name()))
        return out
    got, want = run(tg), run(torch)
    assert str(got) == str(want)


def _norm_scenario(fast, dtype, shape, kind, values, call):
    """A fresh tape, then the 2-norm of every element by mathops._norm2_pass (`fast`) or by
    the row's body; returns (tape facts, value, gradients of first and second order)."""
    from test_eager_nn import _facts
    from tapegrad import mathops
    from tapegrad.tape import CLOSED, STATE
    real = mathops._norm2_pass
    if not fast:
        mathops._norm2_pass = lambda *a: None
    try:
        STATE.tape = CLOSED
        xa = np.random.default_rng(6).standard_normal(shape).astype(dtype)
        if values == "zeros":
            xa[...] = 0.0
        elif values == "special" and xa.size > 2:
            xa.reshape(-1)[:3] = [np.inf, -0.0, 1e30]
        x0 = tg.tensor(xa, requires_grad=True)
        x = x0 if kind == "leaf" else (x0 * 1.5).mT if kind == "transposed" else x0 * 1.5
        out = call(tg, x)
        facts = _facts(out._tape, [x0, x, out])
        facts["fn"] = (out.grad_fn.name(),
                       [(f.name() if f else None, k) for f, k in out.grad_fn.next_functions])
        g, = tg.autograd.grad(out * 3.0, x0, create_graph=True)
        gg, = tg.autograd.grad((g * g).sum(), x0)
        return facts, out.detach().numpy(), g.detach().numpy(), gg.numpy()
    finally:
        mathops._norm2_pass = real


_NORM_CALLS = {"norm": lambda m, x: x.norm(), "norm_2.0": lambda m, x: x.norm(2.0),
               "vector_norm": lambda m, x: m.linalg.vector_norm(x),
               "norm_p2_dimnone": lambda m, x: m.norm(x, p=2, dim=None)}


@pytest.mark.parametrize("call", sorted(_NORM_CALLS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,kind,values", [
    ((3, 4), "non-leaf", "random"), ((3, 4), "leaf", "random"), ((4, 3), "transposed", "random"),
    ((5,), "non-leaf", "zeros"), ((2, 3, 4), "non-leaf", "special"), ((1,), "non-leaf", "random"),
    ((), "non-leaf", "random"), ((64, 64), "non-leaf", "random")])
def test_fast_norm_writes_the_decompositions_entries(call, dtype, shape, kind, values):
    """x.norm()'s writer (mathops._norm2_pass) appends exactly what the row's body does
    (streams, shapes, params, saved values, the group, edges), with the same values and
    gradients (create_graph too), a zero norm's 0 gradient and inf / 1e30 among the values
    included; one element, 0-d, 4096 elements and leaves take the body itself."""
    fast = _norm_scenario(True, dtype, shape, kind, values, _NORM_CALLS[call])
    slow = _norm_scenario(False, dtype, shape, kind, values, _NORM_CALLS[call])
    assert str(fast[0]) == str(slow[0])
    for f, s in zip(fast[1:], slow[1:]):
        np.testing.assert_array_equal(f, s)


def _norm_of_data(lib, dtype, shape, kind, values, call, mode):
    """The 2-norm of every element of a tensor that records nothing (data, a view of it, a
    leaf's value under no_grad, in inference mode): (dtype, shape, value bits, held as a
    float, requires_grad, grad_fn)."""
    xa = np.random.default_rng(8).standard_normal(shape).astype(dtype)
    if values == "zeros":
        xa[...] = 0.0
    elif values == "special" and xa.size > 3:
        xa.reshape(-1)[:4] = [np.inf, -0.0, 1e30, -1e-30]
    elif values == "nan" and xa.size > 1:
        xa.reshape(-1)[1] = np.nan
    elif values == "tiny":
        xa *= 1e-25
    x = lib.tensor(xa, requires_grad=mode == "no_grad")
    if kind == "transposed":
        x = x.mT
    elif kind == "sliced":
        x = x[..., ::2]
    if mode == "no_grad":
        with lib.no_grad():
            out = call(lib, x)
    elif mode == "inference":
        with lib.inference_mode():
            out = call(lib, x)
    else:
        out = call(lib, x)
    held = type(out._v) is float if lib is tg else None
    return (str(out.dtype).split(".")[1], tuple(out.shape), out.detach().numpy().tobytes(), held,
            out.requires_grad, out.grad_fn, out.is_inference())


_DATA_NORM_CASES = [((3, 4), "plain", "random"), ((4, 3), "transposed", "random"),
                    ((3, 6), "sliced", "random"), ((5,), "plain", "zeros"),
                    ((2, 3, 4), "plain", "special"), ((7,), "plain", "nan"),
                    ((6,), "plain", "tiny"), ((1,), "plain", "random"), ((), "plain", "random"),
                    ((63, 65), "plain", "random"), ((64, 64), "plain", "random")]


@pytest.mark.parametrize("mode", ["grad mode", "no_grad", "inference"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_norm_of_data_equals_the_general_path(dtype, mode, monkeypatch):
    """x.norm() of a tensor that records nothing by mathops._norm2_plain and by the row's
    body: the same bits (x * x, its sum, norm_sqrt: the same numpy calls), a result held as a
    float as the body's; one element, 0-d and 4096 elements take the body itself."""
    from tapegrad import mathops
    fast = [_norm_of_data(tg, dtype, *case, call, mode)
            for case in _DATA_NORM_CASES for call in _NORM_CALLS.values()]
    monkeypatch.setattr(mathops, "_norm2_plain", lambda x: None)
    slow = [_norm_of_data(tg, dtype, *case, call, mode)
            for case in _DATA_NORM_CASES for call in _NORM_CALLS.values()]
    assert fast == slow


@pytest.mark.parametrize("mode", ["grad mode", "no_grad", "inference"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_norm_of_data_as_torch(dtype, mode):
    """The same calls against torch: dtype, shape, requires_grad, no grad_fn, inference
    tensor or not, values to the last bits (torch sums in another order)."""
    for case in _DATA_NORM_CASES:
        for name, call in _NORM_CALLS.items():
            ours = _norm_of_data(tg, dtype, *case, call, mode)
            theirs = _norm_of_data(torch, dtype, *case, call, mode)
            assert ours[:2] + ours[4:] == theirs[:2] + theirs[4:], (case, name)
            np.testing.assert_allclose(np.frombuffer(ours[2], dtype),
                                       np.frombuffer(theirs[2], dtype), rtol=2e-6,
                                       err_msg=f"{case} {name}")


def test_norm_of_data_takes_the_short_path(monkeypatch):
    """x.norm() / vector_norm(x) of data (a gradient's norm under no_grad, clipping's) is
    computed without the decomposition's tensors (decomps.record not called)."""
    from tapegrad import decomps
    monkeypatch.setattr(decomps, "record", lambda *a, **k: pytest.fail("record called"))
    x = tg.tensor([[3.0, 4.0], [0.0, 12.0]])
    w = tg.ones(5, requires_grad=True)
    with tg.no_grad():
        n = w.norm()
    assert x.norm().item() == 13.0 and tg.linalg.vector_norm(x.t()).item() == 13.0
    assert n.item() == np.float32(np.sqrt(5.0)) and not n.requires_grad


@pytest.mark.parametrize("call", [lambda m, x: x.norm(), lambda m, x: x.norm(2, dim=1),
                                  lambda m, x: x.norm(dtype=m.float64),
                                  lambda m, x: m.linalg.vector_norm(x, 2.0, keepdim=True),
                                  lambda m, x: x.norm(1), lambda m, x: x.norm(True)])
@pytest.mark.parametrize("grad", ["requires_grad", "no_grad", "constant"])
def test_norm_of_a_recorded_input_as_torch(call, grad):
    """The 2-norm's writer's case and its neighbours (a dim, a dtype, keepdim, other orders,
    no_grad, an input that needs no gradient): torch's values, dtypes, grad_fn and
    gradient."""
    def run(lib):
        x0 = lib.tensor(np.linspace(-2, 3, 12).reshape(3, 4).astype(np.float32),
                        requires_grad=grad != "constant")
        x = x0 * 2.0
        if grad == "no_grad":
            with lib.no_grad():
                out = call(lib, x)
        else:
            out = call(lib, x)
        res = [str(out.dtype).split(".")[1], np.round(out.detach().numpy(), 4).tolist(),
               out.grad_fn and out.grad_fn.name()]
        if out.grad_fn is not None:
            out.sum().backward()
            res.append(np.round(x0.grad.numpy(), 4).tolist())
        return res
    assert str(run(tg)) == str(run(torch))
