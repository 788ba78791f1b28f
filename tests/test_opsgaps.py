"""Issue #11's remaining op-surface gaps (engineer "opsgaps"), each against torch:
next_functions of multi-input decompositions, var_mean/std_mean as one node, add/sub/rsub
with alpha, and integer-valued results (argmax & co) inside record/compile."""
import math

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


def _fn(f):
    """A grad_fn as its name and its next_functions' names (one level)."""
    if f is None:
        return None
    return (type(f).__name__, tuple((None if g is None else type(g).__name__, k)
                                    for g, k in f.next_functions))


def _rec(v):
    if isinstance(v, (tg.Tensor, torch.Tensor)):
        # 6 decimals, then 13 significant digits: torch's vectorized expm1/exp differ from
        # libm's by an ulp on some CPUs (expm1(40) = 2.3538526683702e+17 on AVX2)
        vals = np.array([float(f"{x:.13g}") for x in
                         np.round(v.detach().double().numpy(), 6).reshape(-1).tolist()])
        return (tuple(v.shape), str(v.dtype).split(".")[-1],
                [x if x == x else "nan" for x in vals.tolist()], v.requires_grad,
                _fn(v.grad_fn), getattr(v, "output_nr", 0))
    if isinstance(v, (tuple, list)):
        return tuple(_rec(x) for x in v)
    return v


PRELUDE = """
a = m.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True)
b = m.tensor([[.5, -1., 2.], [1.5, 2.5, -.5]], requires_grad=True)
c = m.tensor([[2., 1., 3.], [1., 2., 2.]])
e = a * 1
"""


def run(src, m):
    """Run snippet `src` with module `m`; the records of its show(...) calls, then the error
    (type and message, `torch.` read as `tapegrad.`) if it raised."""
    out = []
    ns = {"m": m, "show": lambda *v: out.append(_rec(v))}
    try:
        exec(PRELUDE + src, ns)
    except Exception as ex:   # noqa: BLE001  (the error is part of the behaviour compared)
        out.append((type(ex).__name__, str(ex).replace("torch.", "tapegrad.")))
    return out


# ---- next_functions of multi-input decompositions: torch's inputs in torch's order ----------
NEXT_FNS = [
    "m.clamp(a, b, e)", "m.clamp(a, min=b)", "m.clamp(a, max=b)", "m.clamp(a, c, b)",
    "m.clamp(e, b, b)", "a.clamp(c, c)",
    "m.lerp(a, b, e)", "m.lerp(a, b, c)", "m.lerp(a, c, b)", "m.lerp(c, a, b)",
    "m.lerp(a, b, 0.3)", "m.lerp(b, b, b)", "m.lerp(c, b, 0.7)",
    "m.addcmul(a, b, e)", "m.addcmul(a, b, b, value=2)", "m.addcmul(c, a, b)",
    "m.addcmul(a, c, b)", "m.addcdiv(a, e, b)", "m.addcdiv(c, c, b)", "a.addcdiv(b, a)",
    "m.addmm(c[:, :2], a, b.t())", "m.addmm(a[:, :2], e, c.t())",
    "m.linalg.cross(a, c)", "m.linalg.cross(c, b)", "m.cross(e, e, dim=1)",
    "c.scatter_add(0, m.tensor([[1, 0, 1]]), b[:1])", "a.scatter(1, m.tensor([[2], [0]]), c)",
    "c.index_add(0, m.tensor([1, 1]), b)", "a.index_copy(1, m.tensor([2, 0]), c[:, :2])",
]


@pytest.mark.parametrize("expr", NEXT_FNS)
def test_next_functions_of_multi_input_decompositions_as_torch(expr):
    src = f"show({expr})\n"
    assert run(src, tg) == run(src, torch)


# ---- var_mean / std_mean: one node, two outputs --------------------------------------------
MOMENTS = [
    "v, u = m.var_mean(a); show(v, u, v.grad_fn is u.grad_fn); (v * 2 + u).backward(); show(a.grad)",
    "v, u = m.std_mean(a, 1); show(v, u, v.grad_fn is u.grad_fn); (v + u * u).sum().backward(); show(a.grad)",
    "v, u = m.var_mean(a, 0, keepdim=True, correction=0); show(v, u, u * 3, v + 1)",
    "v, u = m.std_mean(a, (0, 1), unbiased=False); show(v, u, v.output_nr, u.output_nr)",
    "v, u = m.var_mean(a, keepdim=True); show(v, u)",
    "v, u = m.var_mean(c, 1); show(v, u)",
    "v, u = m.var_mean(a[0, 0]); show(v.grad_fn is u.grad_fn, u)",
    "v, u = m.std_mean(e, dim=1); u.sum().backward(); show(a.grad)",
    "m.var_mean(m.tensor([1, 2, 3]))",
    "with m.no_grad():\n    show(m.var_mean(a, 1))",
]


@pytest.mark.parametrize("src", MOMENTS)
def test_var_mean_std_mean_as_torch(src):
    assert run(src, tg) == run(src, torch)


# ---- aminmax: one node, two outputs, ties and nans as amin's and amax's ----------------------
AMINMAX = [
    "r = m.aminmax(a); show(r, r.min.grad_fn is r.max.grad_fn, r.max.output_nr); "
    "(r.min * 2 + r.max * 3).backward(); show(a.grad)",
    "r = m.aminmax(c * a, dim=1); show(r); (r.min + r.max).sum().backward(); show(a.grad)",
    "r = a.aminmax(dim=0, keepdim=True); show(r.min, r.max, r.max * 2)",
    "r = m.aminmax(a, keepdim=True); show(r.min, r.max)",
    "r = m.aminmax(a[1, 1], dim=0, keepdim=True); show(r.min, r.max)",
    "d = m.tensor([[1., float('nan')], [2., 2.]], requires_grad=True); r = m.aminmax(d, dim=1); "
    "(r.min + r.max).sum().backward(); show(r.min, r.max, d.grad)",
    "show(m.aminmax(m.tensor([3, 1, 2])), m.aminmax(m.tensor([True, False])))",
    "r = m.aminmax(m.ones(0, 3), dim=1); show(r.min, r.max)",
    "with m.no_grad():\n    show(m.aminmax(a, dim=1))",
    "m.aminmax(m.tensor([]))", "m.aminmax(m.ones(2, 0), dim=1)", "m.aminmax(a, dim=2)",
    "m.aminmax(a, dim=(0, 1))", "m.aminmax(a, dim=True)", "m.aminmax(a, dim=0, keepdim=1)",
    "m.aminmax([1, 2])", "m.aminmax(a, 0)", "a.aminmax(0)",
]


@pytest.mark.parametrize("src", AMINMAX)
def test_aminmax_as_torch(src):
    assert run(src, tg) == run(src, torch)


# ---- block_diag: one node, an edge per input -------------------------------------------------
BLOCK_DIAG = [
    "r = m.block_diag(a, b[0, 0], c[0]); show(r); (r * r).sum().backward(); show(a.grad, b.grad)",
    "r = m.block_diag(c, a, e); show(r); r.sum().backward(); show(a.grad)",
    "show(m.block_diag(a), m.block_diag(c), m.block_diag())",
    "show(m.block_diag(m.ones(0, 2), a[:, :0], m.ones(1, 0)))",
    "show(m.block_diag(m.tensor([1, 2]), m.tensor([[1.5]]), m.tensor(True)))",
    "show(m.block_diag(m.tensor([1.], dtype=m.float32), m.tensor(2., dtype=m.float64)))",
    "with m.no_grad():\n    show(m.block_diag(a, b))",
    "m.block_diag(m.ones(2, 2, 2))", "m.block_diag(a, [1])",
]


@pytest.mark.parametrize("src", BLOCK_DIAG)
def test_block_diag_as_torch(src):
    assert run(src, tg) == run(src, torch)


def test_aminmax_replays():
    def f(x):
        lo, hi = tg.aminmax(x, dim=1)
        return (lo * hi).sum()
    rec = tg.record(f, tg.tensor([[1., 2., 4.], [3., 0.5, 2.]], dtype=tg.float64))
    for xv in np.random.default_rng(1).normal(size=(3, 2, 3)):
        value, (g,) = rec.value_and_grad(xv)
        xt = torch.tensor(xv, requires_grad=True)
        lo, hi = torch.aminmax(xt, dim=1)
        out = (lo * hi).sum()
        out.backward()
        assert value == pytest.approx(out.item(), rel=1e-12)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12)


def test_var_mean_replays_and_differentiates_twice():
    def f(x):
        v, u = tg.var_mean(x, 1)
        s, w = tg.std_mean(x, 0)
        return (v * u).sum() + (s * w).sum()
    x0 = tg.tensor([[1., 2., 4.], [3., 0.5, 2.]], dtype=tg.float64)
    rec = tg.record(f, x0)
    rng = np.random.default_rng(0)
    for _ in range(2):
        xv = rng.normal(size=(2, 3))
        value, (g,) = rec.value_and_grad(xv)
        xt = torch.tensor(xv, requires_grad=True)
        v, u = torch.var_mean(xt, 1)
        s, w = torch.std_mean(xt, 0)
        out = (v * u).sum() + (s * w).sum()
        out.backward()
        assert value == pytest.approx(out.item(), rel=1e-12)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10)
    x = tg.tensor(x0.numpy(), requires_grad=True)
    assert tg.autograd.gradgradcheck(lambda t: tg.var_mean(t, 1)[0] + tg.std_mean(t, 1)[1],
                                     [x])


# ---- add / sub / rsub with alpha -----------------------------------------------------------
ALPHA = [
    "r = a.add(b, alpha=2); r.sum().backward(); show(r, a.grad, b.grad)",
    "r = m.add(a, b, alpha=-0.5); (r * r).sum().backward(); show(r, a.grad, b.grad)",
    "r = a.sub(b, alpha=3); r.sum().backward(); show(r, a.grad, b.grad)",
    "r = m.sub(c, b, alpha=2); show(r)", "r = m.subtract(a, c, alpha=2); show(r)",
    "r = a.add(2, alpha=3); show(r)", "r = a.sub(2, alpha=3); show(r)",
    "r = m.rsub(a, b); r.sum().backward(); show(r, a.grad, b.grad)",
    "r = m.rsub(a, b, alpha=2); r.sum().backward(); show(r, a.grad, b.grad)",
    "r = m.rsub(a, 2); show(r)", "r = m.rsub(a, 2, alpha=3); show(r)",
    "r = m.rsub(c, a, alpha=0.5); show(r)",
    "show(m.tensor([1, 2]).add(m.tensor([3, 4]), alpha=2))",
    "show(m.tensor([1, 2]).add(2.5, alpha=2))",
    "show(m.tensor([True, False]).add(m.tensor([False, False]), alpha=2))",
    "m.tensor([1, 2]).add(m.tensor([3, 4]), alpha=2.5)",
    "m.tensor([1., 2.]).add(m.tensor([3, 4]), alpha=True)",
    "m.tensor([1, 2]).sub(m.tensor([3, 4]), alpha=0.5)",
    "r = a.add(b, alpha=1); show(r)",
    "s = m.tensor(2., requires_grad=True); r = s.add(s, alpha=2); r.backward(); show(r, s.grad)",
]


@pytest.mark.parametrize("src", ALPHA)
def test_add_sub_rsub_with_alpha_as_torch(src):
    assert run(src, tg) == run(src, torch)


def test_add_alpha_gradcheck():
    a = tg.tensor([[0.5, -1.0, 2.0]], dtype=tg.float64, requires_grad=True)
    b = tg.tensor([1.5, 0.3, -0.7], dtype=tg.float64, requires_grad=True)
    assert tg.autograd.gradcheck(lambda x, y: x.add(y, alpha=-2.5) * y, [a, b])
    assert tg.autograd.gradgradcheck(lambda x, y: tg.rsub(x, y * y, alpha=3), [a, b])


# ---- integer-valued results inside record: recomputed or guarded ----------------------------
def _argmax(x):
    return x[x.argmax()] * 2


def _argmin_dim(x):
    return x.gather(1, x.argmin(dim=1, keepdim=True)).sum()


def _argmax_keep(x):
    return (x * x.argmax(keepdim=True).to(x.dtype)).sum()


def _sort_index(x):
    return x[x.sort().indices[0]] * 3


def _topk_index(x):
    return x[0][x.topk(2, 1).indices[0]].sum()


def _kth_median(x):
    return x[x.kthvalue(2).indices] + x[x.median(0).indices] * 3


@pytest.mark.parametrize("f,x0,x1", [
    (_argmax, [1., 5., 2.], [7., 1., 2.]),
    (_argmin_dim, [[1., 2.], [4., 3.]], [[5., 2.], [1., 3.]]),
    (_argmax_keep, [[1., 2.], [4., 3.]], [[5., 2.], [1., 3.]]),
    (_sort_index, [3., 1., 2.], [0., 4., 5.]),
    (_topk_index, [[3., 1., 2.]], [[0., 4., 5.]]),
    (_kth_median, [1., 5., 2.], [1., 2., 5.]),
])
def test_integer_results_are_not_baked_into_a_replay(f, x0, x1):
    """At new inputs where the index differs, a replay raises BranchChanged (never the
    recorded index's value); where it is the same the replay is exact; compile re-records."""
    rec = tg.record(f, tg.tensor(x0, dtype=tg.float64))
    with pytest.raises(tg.BranchChanged):
        rec.value_and_grad(np.array(x1))
    value, (g,) = rec.value_and_grad(np.array(x0) * 1.5)
    xt = torch.tensor(np.array(x0) * 1.5, requires_grad=True)
    out = f(xt)
    out.backward()
    assert value == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12)
    step = tg.compile(f)
    for xv in (x0, x1, x0):
        got, _ = step(tg.tensor(xv, dtype=tg.float64))
        assert float(got) == pytest.approx(f(torch.tensor(xv, dtype=torch.float64)).item())
    assert step.rerecords >= 1


# ---- bitwise ops on integer and bool tensors ---------------------------------------------------
BITS = """import numpy as np
f = m.tensor([1., 2.]); i = m.tensor([1, 2]); b = m.tensor([True, False])
i32 = m.tensor([3, 4], dtype=m.int32); n = m.tensor([-8, 5])
"""
BITWISE = [
    "i & 3", "b & b", "b & i", "b | 1", "~b", "~i", "~n", "i << 2", "i >> 1", "1 << i",
    "m.bitwise_and(i, i32)", "i32 & 3", "i32 & b", "m.bitwise_left_shift(i, i32)", "i ^ i32",
    "3 & i", "m.bitwise_xor(b, True)", "m.bitwise_and(3, i)", "n >> 1", "n << 70", "n >> 70",
    "i.bitwise_or(i32)", "b ^ b", "True ^ b", "i.bitwise_not()", "m.bitwise_not(b)",
    "m.bitwise_right_shift(i32, 1)", "i | m.tensor(3)", "i & m.tensor([[1], [2]])",
    "f.logical_and(f)", "m.logical_and(f, i)",
    # errors
    "f & f", "f & i", "i & f", "i & 2.5", "~f", "f << 1", "i << 1.5", "m.bitwise_not(f)",
    "i.bitwise_and(f)", "f.double() | i", "i & m.tensor([1, 2, 3])",
    # numpy scalars: the numbers torch's parser reads (np.int64 an int, np.bool_ a float),
    # either side (tapegrad left them to numpy: an ndarray, or a TypeError)
    "i | np.int64(1)", "np.int64(3) & i", "b & np.int64(1)", "i << np.int64(1)",
    "np.int64(1) << i", "i ^ np.uint8(1)", "b & np.bool_(True)", "np.bool_(True) | b",
    "i.bitwise_or(np.int64(4))", "b.bitwise_and(np.bool_(True))", "i & np.float64(1.0)",
]


@pytest.mark.parametrize("expr", BITWISE)
def test_bitwise_as_torch(expr):
    src = BITS + f"show({expr})\n"
    assert run(src, tg) == run(src, torch)


@pytest.mark.parametrize("src", [
    "x = i.clone(); x &= 1; show(x); x <<= 2; show(x); x.bitwise_xor_(5); show(x)",
    "x = i32.clone(); x |= i; show(x)", "x = b.clone(); x ^= True; show(x)",
    "x = b.clone(); x.bitwise_not_(); show(x)", "x = n.clone(); x >>= 1; show(x, x._version)",
    "x = i.clone(); v = x[1:]; v |= 4; show(x)",
    "f &= 1", "x = b.clone(); x |= i", "x = i.clone(); x &= 1.5",
    "x = i.clone(); x &= np.int64(1); show(x)", "x = i.clone(); x |= np.bool_(True)",
])
def test_bitwise_inplace_as_torch(src):
    assert run(BITS + src, tg) == run(BITS + src, torch)


def test_bool_masks_combined_bitwise_replay():
    """Masks combined with & | ^ ~ while recording are entries a replay re-evaluates."""
    def f(x):
        keep = ((x > 0) & ~(x > 2)) | ((x < -1) ^ (x < -3))
        return tg.where(keep, x * x, 0.5 * x).sum()
    rec = tg.record(f, tg.tensor([0.5, 3.0, -2.0, -4.0], dtype=tg.float64))
    xv = np.array([2.5, 1.0, -5.0, -1.5])
    value, (g,) = rec.value_and_grad(xv)
    xt = torch.tensor(xv, requires_grad=True)
    keep = ((xt > 0) & ~(xt > 2)) | ((xt < -1) ^ (xt < -3))
    out = torch.where(keep, xt * xt, 0.5 * xt).sum()
    out.backward()
    assert value == pytest.approx(out.item())
    np.testing.assert_allclose(g, xt.grad.numpy())


# ---- torch.special -------------------------------------------------------------------------
SPECIAL_PRELUDE = """
x = m.tensor([0., 0., 1., 2., 0., -1.5, float('nan')], dtype=m.float64, requires_grad=True)
y = m.tensor([0., 2., 0., 3., float('nan'), 0.5, 1.], dtype=m.float64, requires_grad=True)
p = m.tensor([-0.5, 0., 0.05, 0.3, 0.9, 1., 1.5, float('nan')], dtype=m.float64,
             requires_grad=True)
z = m.tensor([-40., -25., -19.5, -3., 0., 0.7, 8., 40., float('inf'), -float('inf')],
             dtype=m.float64, requires_grad=True)
def grads(r, *ts):
    r.backward(m.ones_like(r))
    return tuple(t.grad.clone() for t in ts)
"""
SPECIAL = [
    "r = m.special.xlogy(x, y); show(r, grads(r, x, y))",
    "r = m.xlogy(x, y); show(r, grads(r, x, y))",
    "r = x.xlogy(2.); show(r, grads(r, x))", "r = m.xlogy(0., y); show(r, grads(r, y))",
    "r = m.special.xlog1py(x, y); show(r, grads(r, x, y))",
    "r = m.special.xlog1py(x, 3); show(r, grads(r, x))",
    "r = m.special.entr(p); show(r, grads(r, p))",
    "e = m.tensor([-float('inf'), -1., -0., 0., 1., float('inf'), float('nan')], "
    "dtype=m.float64, requires_grad=True); r = m.special.entr(e); show(r, grads(r, e))",
    "r = m.special.sinc(z); show(r, grads(r, z))", "r = m.sinc(x); show(r, grads(r, x))",
    # (ndtr is a composite in both; torch's inner nodes are its C++ Scalar overloads)
    "r = m.special.ndtr(z); show(r.detach(), grads(r, z))",
    "r = m.special.ndtri(p); show(r, grads(r, p))",
    # tail probabilities keep their precision (erfinv(2p - 1) gave -inf below ~1e-17)
    "t = m.tensor([1e-100, 1e-20, 1e-12, 1e-5, 0.25, 0.5, 1 - 1e-12], dtype=m.float64, "
    "requires_grad=True); r = m.special.ndtri(t); show(r, grads(r, t))",
    "show(m.special.ndtri(m.tensor([1e-5, 1e-12, 1e-20, 0.3])))",
    "r = m.special.log_ndtr(z); show(r, grads(r, z))",
    "r = m.special.logit(p); show(r, grads(r, p))",
    # p[:7]: without the nan, whose gradient under eps torch gives as nan in its scalar loop
    # and as 0 in its vector loop, which takes two vectors at a time (8 float64 on AVX2, 16 on
    # AVX-512): p's 8 elements are vectorized on an AVX2 CPU and not on an AVX-512 one
    "r = p[:7].logit(0.1); show(r, grads(r, p))",
    "r = m.logit(p[:7], eps=0.25); show(r, grads(r, p))",
    "r = m.special.expit(z); show(r, grads(r, z))",
    "r = m.special.multigammaln(y[1:2] + 2, 3); show(r, grads(r, y))",
    "r = m.mvlgamma(y[3:4], 2); show(r)", "show(m.special.multigammaln(y, 3))",
    "show(m.mvlgamma(m.tensor([2, 3]), 2))", "m.mvlgamma(y, 0)",
    "r = m.special.gammaln(y[1:4] + 1); show(r)", "r = m.special.psi(y[1:4] + 1); show(r)",
    "r = m.special.digamma(y[1:4] + 1); show(r)", "r = m.special.polygamma(2, y[1:4] + 1); show(r)",
    "show(m.special.erf(z), m.special.erfc(z), m.special.erfinv(p), m.special.expm1(z))",
    "show(m.special.exp2(z), m.special.log1p(p), m.special.round(z * 0.37, decimals=1))",
    "show(m.special.logsumexp(y[1:4], 0), m.special.softmax(y[1:4], 0))",
    "show(m.special.log_softmax(y[1:4], dim=0))",
    "show(m.special.xlogy(m.tensor([0, 1, 2]), m.tensor([3, 0, 2])))",
    "show(m.special.sinc(m.tensor([0, 1, 2])), m.special.entr(m.tensor([0, 1, 2])))",
    "x.sinc_()", "r = (x * 1).sinc_(); show(r, grads(r, x))",
    "r = (y * 1).xlogy_(x.abs() + 1); show(r)", "r = (p * 0.5).logit_(); show(r)",
    "c = m.tensor([0., 1., 2., 3., 0., 1., 1.], dtype=m.float64); r = c.xlogy_(y.abs() + 1); "
    "show(r, grads(r, y))",
]


@pytest.mark.parametrize("src", SPECIAL)
def test_special_as_torch(src):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = run(SPECIAL_PRELUDE + src, tg), run(SPECIAL_PRELUDE + src, torch)
    assert got == want


# ---- modified Bessel functions of the first kind: i0, i0e, i1, i1e ---------------------------
BESSEL_POINTS = [0.0, -0.0, 1e-300, 1e-20, 1e-9, 0.5, -1.5, 3.0, 7.999, 8.0, 8.001, -20.0,
                 150.0, 700.0, 709.5, 710.0, 714.0, -720.0, 1e10, math.inf, -math.inf, math.nan]


# moderate points for float32, whose torch kernels compute in float32 (cancelling in i0e's and
# i1e's gradients at large x, overflowing past ~88) where tapegrad's compute in float64; none
# in 0 < |x| < float32's eps, where i1's and i1e's second derivatives differ (ops.py)
BESSEL_POINTS_F32 = [0.0, -0.0, 0.5, -1.5, 3.0, 7.999, 8.0, 8.001, -20.0, 60.0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["i0", "special.i0", "special.i0e", "special.i1", "special.i1e"])
def test_bessel_i_values_and_gradients_as_torch(name, dtype):
    """Values, first and second derivatives (the 0.5 limits at 0, overflow to inf past
    log(DBL_MAX), 0 at infinity for the scaled ones, nan) against torch.  torch's build fuses
    the series' x * b1 - b2 into an fma: a few ulps apart in float64, more in the second
    derivatives, which cancel; below float32's eps i1's and i1e's gradient is 0.5 here for
    both dtypes (ops.py)."""
    res = []
    points = BESSEL_POINTS if dtype == "float64" else BESSEL_POINTS_F32
    for m in (torch, tg):
        f = m
        for part in name.split("."):
            f = getattr(f, part)
        x = m.tensor(points, dtype=getattr(m, dtype), requires_grad=True)
        with np.errstate(all="ignore"):
            y = f(x)
            g, = m.autograd.grad(y.sum(), x, create_graph=True)
            gg, = m.autograd.grad(g.sum(), x)
        res.append((y, g, gg))
    tols = ([dict(rtol=1e-13, atol=0)] * 2 + [dict(rtol=1e-6, atol=1e-6)] if dtype == "float64"
            else [dict(rtol=2e-6, atol=0), dict(rtol=2e-5, atol=1e-7), dict(rtol=1e-3, atol=1e-6)])
    for ours, theirs, tol in zip(res[1], res[0], tols):
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_allclose(ours.detach().double().numpy(), theirs.detach().double().numpy(),
                                   equal_nan=True, **tol)
    assert type(res[1][0].grad_fn).__name__ == type(res[0][0].grad_fn).__name__


def test_bessel_i_integer_inputs_and_inplace_as_torch():
    for m in (torch, tg):
        assert str(m.i0(m.tensor([1, 2])).dtype).endswith("float32")
        assert str(m.special.i1e(m.tensor([True])).dtype).endswith("float32")
    a, b = tg.tensor([0.5, -2.0]), torch.tensor([0.5, -2.0])
    a.i0_()
    b.i0_()
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="can't be cast"):
        tg.tensor([1, 2]).i0_()


def test_bessel_i_replays():
    def f(x):
        return (tg.i0(x) * tg.special.i1(x) + tg.special.i0e(x) - tg.special.i1e(x)).sum()
    rec = tg.record(f, tg.tensor([0.5, -1.0, 9.0], dtype=tg.float64))
    for xv in ([0.25, -3.0, 12.0], [0.0, 7.0, -30.0]):
        value, (g,) = rec.value_and_grad(np.array(xv))
        xt = torch.tensor(xv, dtype=torch.float64, requires_grad=True)
        out = (torch.i0(xt) * torch.special.i1(xt) + torch.special.i0e(xt)
               - torch.special.i1e(xt)).sum()
        out.backward()
        assert value == pytest.approx(out.item(), rel=1e-13)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12)


def test_special_namespace_covers_torch():
    """Every public torch.special function exists in tapegrad.special, and none raises
    NotImplementedError (the Bessel and Airy functions were the last)."""
    from tapegrad import special
    names = [n for n in dir(torch.special) if not n.startswith("_")
             and callable(getattr(torch.special, n)) and n != "Tensor"]
    for n in names:
        assert hasattr(special, n), n
        try:
            getattr(torch.special, n)(torch.tensor([0.5]))
        except TypeError:       # (two operands, or a dim)
            continue
        getattr(special, n)(tg.tensor([0.5]))


# ---- scatter(reduce=), scatter_reduce, index_reduce, diag_embed's dims -----------------------
SCATTER_PRELUDE = """
x = m.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True)
s = m.tensor([[2., 3.], [4., 5.]], requires_grad=True)
i = m.tensor([[0, 0], [2, 1]])
w = m.arange(6.).reshape(2, 3)
def run(r, *ts):
    (r * w.reshape(r.shape) if r.numel() == 6 else r).sum().backward()
    return (r,) + tuple(t.grad for t in ts)
"""
SCATTER = [f"show(run(x.scatter_reduce(1, i, s, {red!r}, include_self={inc}), x, s))"
           for red in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)] + [
    "z = m.tensor([[0., 2., 0.], [4., 0., 6.]], requires_grad=True); "
    "t = m.tensor([[0., 3.], [4., 0.]], requires_grad=True); "
    "show(run(z.scatter_reduce(1, i, t, 'prod'), z, t))",
    "t = m.tensor([[2., 2.], [6., 6.]], requires_grad=True); "
    "show(run(x.scatter_reduce(1, i, t, 'amax'), x, t))",
    "show(m.ones(3, dtype=m.long).scatter_reduce(0, m.tensor([0, 0, 1]), m.tensor([3, 4, 5]), 'mean'))",
    "show(m.scatter_reduce(x, 1, i, s, reduce='amin', include_self=False))",
    "show(x.detach().scatter(1, i, s.detach(), reduce='add'))",
    "show(x.detach().scatter(1, i, 2.0, reduce='multiply'))",
    "r = x.scatter(1, i, s, reduce='add'); show(r.requires_grad, r.detach()); r.sum().backward()",
    "x.scatter(1, i, s, reduce='sum')", "x.scatter_reduce(1, i, s, 'add')",
    "x.scatter_reduce(1, i, s.double(), 'sum')",
    "q = x.detach().clone(); q.scatter_reduce_(1, i, s.detach(), 'amax'); show(q)",
    "q = x * 1; q.scatter_reduce_(1, i, s, 'prod'); show(run(q, x, s))",
    "q = x.detach().clone(); q.scatter_(1, i, s.detach(), reduce='multiply'); show(q)",
] + [f"y = m.ones(3, 2, requires_grad=True); src = m.tensor([[1., 5.], [3., -1.], [2., 2.]], "
     f"requires_grad=True); r = y.index_reduce(0, m.tensor([0, 2, 0]), src, {red!r}, "
     f"include_self={inc}); (r * m.arange(6.).reshape(3, 2)).sum().backward(); "
     f"show(r, y.grad, src.grad)" for red in ("prod", "mean", "amax", "amin")
     for inc in (True, False)] + [
    "m.ones(2).index_reduce(0, m.tensor([0]), m.ones(1), 'sum')",
]


@pytest.mark.parametrize("src", SCATTER)
def test_scatter_reduce_as_torch(src):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (torch: index_reduce is beta, scatter(reduce=) old)
        assert run(SCATTER_PRELUDE + src, tg) == run(SCATTER_PRELUDE + src, torch)


def test_scatter_reduce_replays_at_new_inputs():
    idx = [[1, 1, 0], [0, 2, 2]]

    def f(m, x, s):
        i = m.tensor(idx)
        return (x.scatter_reduce(1, i, s, "amax", include_self=False) *
                x.scatter_reduce(1, i, s * s, "mean")).sum() + \
            x.scatter_reduce(1, i, s, "prod").sum()
    rec = tg.record(lambda x, s: f(tg, x, s), tg.ones(2, 3, dtype=tg.float64),
                    tg.ones(2, 3, dtype=tg.float64))
    rng = np.random.default_rng(1)
    for _ in range(3):
        xv, sv = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
        value, (gx, gs) = rec.value_and_grad(xv, sv)
        xt, st_ = (torch.tensor(v, requires_grad=True) for v in (xv, sv))
        out = f(torch, xt, st_)
        out.backward()
        assert value == pytest.approx(out.item(), rel=1e-12)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gs, st_.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("args", [(), (1,), (-1,), (1, 0, 2), (0, 0, 1), (-1, 2, 0), (2, -1, 0),
                                  (-2, 0, -1), (0, 1, 1)])
def test_diag_embed_dims_as_torch(args):
    src = ("a = m.arange(6., dtype=m.float64).reshape(2, 3).requires_grad_()\n"
           f"r = m.diag_embed(a, *{args!r})\n"
           "(r * m.arange(r.numel(), dtype=r.dtype).reshape(r.shape)).sum().backward()\n"
           "show(r, a.grad)\n")
    assert run(src, tg) == run(src, torch)
    x = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    if args[1:2] != args[2:3] or len(args) < 3:
        assert tg.autograd.gradcheck(lambda t: tg.diag_embed(t, *args), [x])
