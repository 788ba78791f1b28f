"""Values and gradients at edge points (kinks, ties, zeros, poles, infinities, negative or
zero arguments outside a function's domain) against torch 2.13, float32 and float64, with
finite-difference checks where the function is differentiable."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck
from grad_fn_trees import grad_fn_tree

DTYPES = ["float32", "float64"]


def _run(m, fn, inputs, dtype):
    """fn(m, *leaves)'s value and the leaves' gradients for a fixed non-unit grad_output."""
    xs = [m.tensor(np.array(a), dtype=getattr(m, dtype), requires_grad=True) for a in inputs]
    out = fn(m, *xs)
    w = m.tensor(np.linspace(0.5, 1.5, out.numel()).reshape(tuple(out.shape)), dtype=out.dtype)
    grads = m.autograd.grad(out, xs, w, allow_unused=True)
    return out.detach().numpy(), [None if g is None else g.numpy() for g in grads], out


def _same_as_torch(torch, fn, inputs, dtype):
    ours, theirs = _run(tg, fn, inputs, dtype), _run(torch, fn, inputs, dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours[0], theirs[0], equal_nan=True, **tol)
    for a, b in zip(ours[1], theirs[1]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, equal_nan=True, **tol)
    return ours[2], theirs[2]


# ---- kl_div: torch's xlogy(target, target) - target * input ----------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean"])
def test_kl_div_at_zero_and_negative_targets(torch_ref, dtype, reduction):
    # a zero target: the loss 0, its gradient w.r.t. the target nan (xlogy's y-derivative 0/0);
    # a negative one: a nan loss (the log of a negative), as torch's xlogy gives
    def fn(m, x, t):
        return m.nn.functional.kl_div(x, t, reduction=reduction)
    ours, theirs = _same_as_torch(torch_ref, fn, [[[-0.5, -1.0, -2.0, -0.3]],
                                                  [[0.0, 0.3, -0.2, 0.5]]], dtype)
    assert grad_fn_tree(ours, 6) == grad_fn_tree(theirs, 6)


def test_kl_div_gradcheck():
    assert not hasattr(tg.nn.functional, "xlogy")   # (kl_div's helper is no name of F)
    x = tg.tensor([[-0.5, -1.0, -2.0]], dtype=tg.float64, requires_grad=True)
    t = tg.tensor([[0.2, 0.3, 0.5]], dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda a, b: tg.nn.functional.kl_div(a, b, reduction="batchmean"), (x, t))


# ---- hardtanh of uint8: torch refuses negative limits (clamp would wrap them) ------------------
@pytest.mark.parametrize("call", [
    lambda m, x: m.nn.functional.hardtanh(x), lambda m, x: m.nn.functional.hardtanh(x, -1, 2),
    lambda m, x: m.nn.functional.hardtanh_(x), lambda m, x: m.nn.Hardtanh()(x),
    lambda m, x: m.nn.functional.hardtanh(x, inplace=True)])
def test_hardtanh_uint8_negative_limits(torch_ref, call):
    for m in (tg, torch_ref):
        with pytest.raises(RuntimeError,
                           match="cannot do hardtanh on an unsigned type with negative limits"):
            call(m, m.tensor([0, 1, 2, 3], dtype=m.uint8))


@pytest.mark.parametrize("limits", [(0, 2), (-0.5, 1.5), (0.0, 6.0)])
def test_hardtanh_uint8_nonnegative_limits(torch_ref, limits):
    ours = tg.nn.functional.hardtanh(tg.tensor([0, 1, 2, 3, 9], dtype=tg.uint8), *limits)
    theirs = torch_ref.nn.functional.hardtanh(
        torch_ref.tensor([0, 1, 2, 3, 9], dtype=torch_ref.uint8), *limits)
    assert ours.dtype == tg.uint8
    assert ours.tolist() == theirs.tolist()


# ---- a norm over one element: torch's reduction is |x| itself -------------------------------
ONE_ELEMENT = [2e19, -3e38, 1e-30, -1e-25, 0.0, -0.0, 1.5, -2.0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, -1, -2, float("inf"), float("-inf")])
@pytest.mark.parametrize("shape,dim", [((), None), ((1,), None), ((1, 1), (0, 1)),
                                       ((8, 1), 1), ((1, 8), 0)], ids=str)
def test_norm_over_one_element(torch_ref, dtype, ord, shape, dim):
    # (float32: 2e19 squared overflows, 1e-30 squared underflows; torch never squares.  Its
    # gradient formula for other ords does, |x|^(p-2) or norm^(p-1): nan at such float32 values)
    values = ONE_ELEMENT if dtype == "float64" or ord in (1, 2, 0.5) or math.isinf(ord) \
        else ONE_ELEMENT[4:]
    n = int(np.prod(shape))
    vals = np.resize(np.array(values), n).reshape(shape) if n > 1 else \
        np.array(values[0]).reshape(shape)
    _same_as_torch(torch_ref, lambda m, x: m.linalg.vector_norm(x, ord, dim), [vals], dtype)
    if shape == ():
        for v in values:
            _same_as_torch(torch_ref, lambda m, x: m.linalg.vector_norm(x, ord), [v], dtype)
            _same_as_torch(torch_ref, lambda m, x: x.norm(ord), [[v]], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, -1, (0,)])
def test_norm_of_zero_dim_given_a_dim(torch_ref, dtype, dim):
    # (a 0-d input given a dim is squared by torch: float32 2e19 -> inf, 1e-30 -> 0)
    for v in ONE_ELEMENT:
        _same_as_torch(torch_ref, lambda m, x: m.linalg.vector_norm(x, 2, dim), [v], dtype)
        _same_as_torch(torch_ref, lambda m, x: m.nn.functional.normalize(x, dim=0), [v], dtype)


def test_norm_over_one_element_gradcheck():
    x = tg.tensor([[1.5], [-2.0]], dtype=tg.float64, requires_grad=True)
    for ord in (2, 3, -1, float("inf")):
        assert gradcheck(lambda a: tg.linalg.vector_norm(a, ord, 1), (x,))


# ---- poisson_nll_loss(full=True): torch's Stirling term, masked_fill'ed ---------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("target_grad", [True, False])
def test_poisson_nll_full_at_zero_targets(torch_ref, dtype, log_input, target_grad):
    # a zero target's gradient is nan (0 * log(0) through the masked term), as torch's; the
    # grad_fn tree is torch's C++ one (its numbers: MulBackward1, AddBackward1)
    inputs = [[0.0, 1.0, 0.5, 2.0], [0.0, 2.0, 1.0, 5.0]]

    def fn(m, x, t):
        t = t if target_grad else t.detach()
        return m.nn.functional.poisson_nll_loss(x, t, log_input=log_input, full=True)
    ours, theirs = _same_as_torch(torch_ref, fn, inputs, dtype)
    assert grad_fn_tree(ours, 10) == grad_fn_tree(theirs, 10)
    plain = [m.nn.PoissonNLLLoss(log_input, full=True)(m.tensor(inputs[0]), m.tensor(inputs[1]))
             for m in (tg, torch_ref)]
    assert plain[0].item() == pytest.approx(plain[1].item(), rel=1e-6)


def test_poisson_nll_full_gradcheck():
    x = tg.tensor([0.3, 1.0, 0.5], dtype=tg.float64, requires_grad=True)
    t = tg.tensor([0.5, 2.0, 3.5], dtype=tg.float64, requires_grad=True)
    for log_input in (True, False):
        assert gradcheck(lambda a, b: tg.nn.functional.poisson_nll_loss(
            a, b, log_input=log_input, full=True), (x, t))


# ---- max_unpool with a position written twice: every writer keeps its gradient ---------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fill", [5.0, float("nan"), float("inf"), float("-inf")])
def test_max_unpool_repeated_index_of_nonfinite(torch_ref, dtype, fill):
    # overlapping windows pick the same element (fill) twice: torch's backward gathers the
    # output's gradient at each index, so both pooled values get it, whatever they hold
    def fn(m, x):
        p, i = m.nn.functional.max_pool2d(x, 2, 1, return_indices=True)
        return m.nn.functional.max_unpool2d(p, i, 2, 1)
    x = [[[[1.0, fill, 2.0], [2.0, -3.0, -4.0], [0.5, 3.0, 1.0]]]]
    _same_as_torch(torch_ref, fn, [x], dtype)

    def direct(m, p):   # (the unpooling alone, given repeated indices)
        return m.nn.functional.max_unpool1d(p, m.tensor([[[1, 1, 3]]]), 2, 2)
    _same_as_torch(torch_ref, direct, [[[[fill, fill, 2.0]]]], dtype)


# ---- adaptive average pooling over uneven windows: an inf or nan stays in its windows ---------
def _nonfinite(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    flat = x.reshape(-1)
    flat[0], flat[flat.size // 2], flat[-1] = np.inf, np.nan, -np.inf
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call,shape", [
    (lambda m, x: m.nn.functional.adaptive_avg_pool1d(x, 3), (2, 2, 5)),
    (lambda m, x: m.nn.functional.adaptive_avg_pool1d(x, 4), (2, 9)),
    (lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (2, 3)), (1, 2, 3, 5)),
    (lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (2, None)), (2, 5, 4)),
    (lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, 2), (1, 1, 3, 3, 5)),
    (lambda m, x: m.nn.AdaptiveAvgPool2d(3)(x), (1, 1, 4, 5)),
    (lambda m, x: m.nn.functional.interpolate(x, size=3, mode="area"), (1, 1, 5)),
], ids=["1d", "1d-unbatched", "2d", "2d-none", "3d", "module", "area"])
def test_adaptive_avg_pool_nonfinite_stays_in_its_windows(torch_ref, dtype, call, shape):
    # (torch averages each window on its own: the 0/1 window-matrix products made inf * 0 = nan
    # in every window of the same rows)
    _same_as_torch(torch_ref, call, [_nonfinite(shape, 3)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call,shape", [
    (lambda m, x: m.nn.functional.adaptive_avg_pool1d(x, 3), (2, 2, 5)),
    (lambda m, x: m.nn.functional.adaptive_avg_pool1d(x, 4), (2, 9)),
    (lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (3, 1)), (2, 1, 4, 2)),
    (lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (2, 3)), (1, 2, 3, 5)),
    (lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (3, 3)), (1, 1, 4, 4)),
    (lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, 2), (1, 1, 3, 3, 5)),
], ids=["1d", "1d-unbatched", "2d-fuzz", "2d", "2d-overlapping", "3d"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_adaptive_avg_pool_nonfinite_grad_stays_in_its_window(torch_ref, dtype, call, shape,
                                                              layout):
    # (test_fuzz_nn seed 17682: an inf or nan output gradient reaches only its window's
    # inputs in torch; the 0/1 window-matrix products spread it as 0 * nan over every input.
    # A contiguous input is one adaptive_avg_pool entry, a transposed one the row's body)
    got = []
    for m in (tg, torch_ref):
        x = m.tensor(np.random.default_rng(6).standard_normal(shape), dtype=getattr(m, dtype),
                     requires_grad=True)
        y = call(m, x if layout == "contiguous" else x.transpose(-1, -2))
        g = _nonfinite(tuple(y.shape), 7)
        got.append(m.autograd.grad(y, x, m.tensor(g, dtype=y.dtype))[0].numpy())
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[0], got[1], equal_nan=True, **tol)


def test_adaptive_avg_pool_uneven_gradcheck():
    x = tg.tensor(np.random.default_rng(4).standard_normal((1, 2, 3, 5)), requires_grad=True)
    assert gradcheck(lambda a: tg.nn.functional.adaptive_avg_pool2d(a, (2, 3)), (x,))


def test_adaptive_avg_pool_replay_with_nonfinite(torch_ref):
    # a recorded program holds the per-window sums whatever the example's values, so a replay
    # given an inf keeps it in its windows too
    def f(x):
        return tg.nn.functional.adaptive_avg_pool2d(x, (2, 3)) * 2.0
    rec = tg.record(f, tg.ones(1, 2, 3, 5, dtype=tg.float64))
    x = _nonfinite((1, 2, 3, 5), 5)
    expect = torch_ref.nn.functional.adaptive_avg_pool2d(torch_ref.tensor(x), (2, 3)) * 2.0
    np.testing.assert_array_equal(np.asarray(rec(x)), expect.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf"), 0.5])
@pytest.mark.parametrize("call", [
    lambda m, x, p: m.cdist(x, x.flip(0), p),                     # (kernel: |d|^p summed)
    lambda m, x, p: m.cdist(x, x.flip(0), compute_mode="donot_use_mm_for_euclid_dist"),
    lambda m, x, p: m.pdist(x, p),
    lambda m, x, p: m.nn.functional.pairwise_distance(x, x.flip(0), p),   # (at::norm: |d|)
    lambda m, x, p: m.norm_except_dim(x, 2, 0),
    lambda m, x, p: m.norm_except_dim(x.t(), 2, 1),
    lambda m, x, p: x.norm(p, 1),
], ids=["cdist", "cdist-direct", "pdist", "pairwise", "norm_except_dim", "norm_except_last",
        "norm"])
def test_distances_over_one_feature(torch_ref, dtype, p, call):
    # torch's distance kernels power every difference (float32 2e19 -> inf, 1e-30 -> 0);
    # its norms over one element are |x|
    x = [[2e19], [1e-30], [0.0], [-3.0]] if dtype == "float64" or p in (1, 2, 0.5) or \
        math.isinf(p) else [[1.5], [0.0], [-3.0]]
    _same_as_torch(torch_ref, lambda m, a: call(m, a, p), [x], dtype)


# ---- nansum / nanmean: torch's gradient g * ~isnan(x), a product -----------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", [
    lambda m, x: x.nanmean(1),                       # an all-nan row: g / 0 -> nan there
    lambda m, x: m.nanmean(x),
    lambda m, x: x.nansum(1) / m.tensor([0.0, 2.0, 1.0], dtype=x.dtype),
    lambda m, x: x.nansum(1) * 2.0,
    lambda m, x: x.nansum(),
], ids=["nanmean-dim", "nanmean", "nansum-inf-grad", "nansum", "nansum-all"])
def test_nan_reductions_gradient_is_a_product(torch_ref, dtype, call):
    x = [[np.nan, np.nan, np.nan], [1.0, np.nan, 2.0], [0.5, -1.0, 3.0]]
    _same_as_torch(torch_ref, call, [x], dtype)


def test_nansum_gradcheck():
    x = tg.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda a: a.nansum(1), (x,))
    assert tg.autograd.gradgradcheck(lambda a: (a.nansum(1) ** 2), (x,))


# ---- renorm: a slice whose norm is nan is left as it is, gradient too ------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, float("inf")])
def test_renorm_slice_with_nan_norm(torch_ref, dtype, p):
    # torch: where(norm > maxnorm, scaled, x) for the value and where(norm > maxnorm,
    # grad_norm, grad) for the gradient: a nan norm is not > maxnorm, so g passes unchanged
    x = [[np.nan, 1.0, 2.0], [3.0, -4.0, 0.5], [0.1, 0.2, -0.1], [np.inf, 1.0, 0.0]]
    _same_as_torch(torch_ref, lambda m, a: m.renorm(a, p, 0, 1.5), [x], dtype)
    _same_as_torch(torch_ref, lambda m, a: a.renorm(p, 1, 2.0), [x], dtype)


def test_renorm_gradcheck():
    x = tg.tensor([[3.0, -4.0, 0.5], [0.1, 0.2, -0.1]], dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda a: a.renorm(2, 0, 1.5), (x,))
    assert tg.autograd.gradgradcheck(lambda a: a.renorm(2, 0, 1.5), (x,))


# ---- polygamma(n >= 2) at the infinities: torch's zeta(n + 1, x) there ----------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_polygamma_at_infinities(torch_ref, dtype, n):
    # zeta(s, inf) is nan in torch's Cephes zeta and zeta(s, -inf) inf: polygamma(2, inf) nan,
    # polygamma(2, -inf) -inf; the gradient at x is polygamma(n + 1, x)
    _same_as_torch(torch_ref, lambda m, x: m.polygamma(n, x),
                   [[np.inf, -np.inf, 2.5, -1.5]], dtype)
    # (one-element tensors: the scalar fast path)
    ours = [tg.polygamma(n, tg.tensor(v, dtype=getattr(tg, dtype))).item()
            for v in (np.inf, -np.inf)]
    theirs = [torch_ref.polygamma(n, torch_ref.tensor(v, dtype=getattr(torch_ref, dtype))).item()
              for v in (np.inf, -np.inf)]
    np.testing.assert_array_equal(ours, theirs)


# ---- scatter_reduce / index_reduce amax, amin: only real candidates share the gradient --------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduce,ident", [("amax", -np.inf), ("amin", np.inf)])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_extreme_at_the_identity(torch_ref, dtype, reduce, ident, include_self):
    # a result equal to the reduction's identity (-inf for amax): torch splits g among the
    # candidates equal to it (input[p] too when equal, whatever include_self), not among the
    # identity values padding the other rows' candidates
    x = [ident, 0.0, ident, 1.0, 2.0]
    src = [ident, ident, 3.0, ident, -ident, ident]

    def fn(m, a, s):
        return a.scatter_reduce(0, m.tensor([1, 1, 1, 2, 4, 3]), s, reduce,
                                include_self=include_self)
    _same_as_torch(torch_ref, fn, [x, src], dtype)

    def by_index(m, a, s):
        return a.index_reduce(0, m.tensor([1, 1, 1, 2, 4, 3]), s, reduce,
                              include_self=include_self)
    _same_as_torch(torch_ref, by_index, [x, src], dtype)


def test_scatter_reduce_extreme_gradcheck():
    x = tg.tensor([0.5, 0.1, -0.3, 1.0], dtype=tg.float64, requires_grad=True)
    s = tg.tensor([0.2, 0.7, -1.0, 0.4], dtype=tg.float64, requires_grad=True)
    for include_self in (True, False):
        assert gradcheck(lambda a, b: a.scatter_reduce(
            0, tg.tensor([1, 1, 0, 2]), b, "amax", include_self=include_self), (x, s))


# ---- signed zeros: logit's gradient at -0.0, elu's value at +-0 with a negative alpha -------
def _signed(a):
    """Values with the sign of each zero shown (-0.0 and 0.0 compare equal)."""
    return [("nan" if v != v else (v, math.copysign(1.0, v)))
            for v in np.asarray(a, dtype=np.float64).ravel()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [None, 0.0, 0.25])
def test_logit_gradient_at_signed_zeros(torch_ref, dtype, eps):
    # without eps torch's gradient is g * inf at x = 0 and 1, -0.0 included (g / (x (1 - x))
    # gave -inf there)
    def run(m):
        x = m.tensor([-0.0, 0.0, 1.0, 0.5, -0.5], dtype=getattr(m, dtype), requires_grad=True)
        y = m.logit(x) if eps is None else m.logit(x, eps)
        y.backward(m.tensor([1.0, 2.0, 1.0, 1.0, 1.0], dtype=getattr(m, dtype)))
        return _signed(y.detach().numpy()), _signed(x.grad.numpy())
    assert str(run(tg)) == str(run(torch_ref))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [-1.0, -0.5, 0.0, 1.0])
@pytest.mark.parametrize("inplace", [False, True])
def test_elu_at_signed_zeros(torch_ref, dtype, alpha, inplace):
    # zeros take torch's x * scale side: elu(-0.0, alpha=-1) is -0.0 (expm1(-0.0) * -1 gave
    # +0.0); the gradient at zeros is the negative side's, as torch's
    def run(m):
        x = m.tensor([-0.0, 0.0, -1.0, 2.0], dtype=getattr(m, dtype), requires_grad=True)
        if inplace:   # (values only: torch's in-place backward refuses a negative alpha)
            with m.no_grad():
                return _signed(m.nn.functional.elu(x * 1.0, alpha=alpha, inplace=True))
        y = m.nn.functional.elu(x, alpha=alpha)
        y.backward(m.ones(4, dtype=getattr(m, dtype)))
        return _signed(y.detach().numpy()), _signed(x.grad.numpy())
    assert str(run(tg)) == str(run(torch_ref))


# ---- copysign at infinite, nan and zero self: torch's copysign_tensor_self_backward ----------
_CS_SELF = [math.inf, -math.inf, math.nan, 0.0, -0.0, 2.0, -3.0, 1e-40, 5.0]
_CS_OTHER = [1.0, -1.0, -2.0, -1.0, 1.0, -0.0, math.nan, -1.0, 1.0]
_CS_GRAD = [1.0, 1.0, 1.0, math.nan, math.inf, 2.0, 1.0, -1.0, 0.0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("other", ["tensor", "broadcast", -1.5, 2.0, -0.0, math.nan],
                         ids=["tensor", "broadcast", "neg", "pos", "negzero", "nan"])
@pytest.mark.parametrize("inplace", [False, True])
def test_copysign_gradient_at_nonfinite_self(torch_ref, dtype, other, inplace):
    # (test_fuzz_ops seeds 54774, 55839: g * (result / self), 0 where self is 0, is nan at an
    # infinite or nan self; |self|'s gradient g * sign(self) * sign(other) gave +-g there)
    def run(m):
        dt = getattr(m, dtype)
        x = m.tensor(_CS_SELF, dtype=dt, requires_grad=True)
        o = other
        if other == "tensor":
            o = m.tensor(_CS_OTHER, dtype=dt, requires_grad=True)
        elif other == "broadcast":
            o = m.tensor([-1.0], dtype=dt, requires_grad=True)
        y = (x * 1.0).copysign_(o) if inplace else m.copysign(x, o)
        g = m.tensor(_CS_GRAD, dtype=dt)
        y.backward(g)
        grads = [x.grad.numpy()] + ([o.grad.numpy()] if isinstance(o, m.Tensor) else [])
        return type(y.grad_fn).__name__, y.detach().numpy(), grads
    ours, theirs = run(tg), run(torch_ref)
    assert ours[0] == theirs[0]
    assert _signed(ours[1]) == _signed(theirs[1])
    for a, b in zip(ours[2], theirs[2], strict=True):
        np.testing.assert_array_equal(a, b)   # (equal: nan where nan, -0.0 == 0.0)


# ---- float32 fmod: the divisor's gradient truncates torch's float32 quotient -----------------
@pytest.mark.parametrize("form", ["tensor", "broadcast", "0d", "inplace", "create_graph",
                                  "float64"])
def test_fmod_float32_divisor_gradient(torch_ref, form):
    # (test_fuzz_ops seed 58594: -1.314f / -0.006f is 219 in float32, 218.99999998 in double:
    # the double quotient's truncation gave -218 where torch's -grad * trunc(a / b) is -219)
    def run(m):
        dt = m.float64 if form == "float64" else m.float32
        av = [-1.314, 1.314, 0.7, 5.0, -2.0, 1.0]
        bv = [-0.006, 0.006, 0.1, 0.0, 3.0, 1e-40]
        if form == "0d":
            av, bv = av[0], bv[0]
        a = m.tensor(av, dtype=dt, requires_grad=True)
        b = m.tensor(bv, dtype=dt, requires_grad=True)
        if form == "broadcast":
            b = m.tensor([[-0.006], [0.1]], dtype=dt, requires_grad=True)
        if form == "inplace":
            y = (a * 1.0).fmod_(b)
        else:
            y = m.fmod(a, b)
        if form == "create_graph":
            g, = m.autograd.grad((y * a).sum(), b, create_graph=True)
            return g.detach().numpy(), m.autograd.grad(g.sum(), a)[0].numpy()
        y.backward(m.ones_like(y))
        return y.detach().numpy(), a.grad.numpy(), b.grad.numpy()
    for ours, theirs in zip(run(tg), run(torch_ref), strict=True):
        np.testing.assert_array_equal(ours, theirs)
