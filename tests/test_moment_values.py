"""var / std / var_mean / std_mean values bit for bit as torch's CPU reductions compute them:
Welford's update in float64 along dims with several results (and var_mean's always), two
passes in float64 around the mean for one result of var / std (ndops.welford_moments,
ndops.two_pass_moment); the gradients stay torch's var_backward."""
import random
import warnings

import numpy as np
import pytest

import tapegrad as tg


def _bits_equal(got, want):
    """Same shape, dtype and bits (any nan equal to a nan of the same sign)."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    g, w = got.reshape(-1), want.reshape(-1)
    same = (g.view(np.uint8).reshape(g.size, -1) == w.view(np.uint8).reshape(w.size, -1)).all(1)
    nan = np.isnan(g) & np.isnan(w) & (np.signbit(g) == np.signbit(w))
    return bool((same | nan).all())


def _case(rng, seed):
    """A random input (float32/float64, maybe permuted or expanded: torch's iterator reads a
    slice in memory order) and var's arguments with several results."""
    while True:
        nd = rng.randint(1, 4)
        shape = [rng.choice([1, 2, 3, 5, 8, 17, 40]) for _ in range(nd)]
        perm = list(range(nd))
        rng.shuffle(perm)
        dims = sorted(rng.sample(range(nd), rng.randint(1, nd)))
        if np.prod([shape[p] for d, p in enumerate(perm) if d not in dims]) > 1:
            break
    dtype = rng.choice([np.float32, np.float64])
    r = np.random.RandomState(seed)
    a = r.standard_normal(shape) * rng.choice([1.0, 1e-3, 1e4]) + rng.choice([0.0, 3.7, -1e4])
    if rng.random() < 0.3:   # (ties and equal values: Welford's exact zeros)
        a = np.round(a, 1)
    dim = [d - nd if rng.random() < 0.3 else d for d in dims]
    dim = dim[0] if len(dim) == 1 and rng.random() < 0.5 else tuple(dim)
    return a.astype(dtype), perm, dim, rng.choice([None, 0, 1, 2, 0.5]), rng.random() < 0.5


@pytest.mark.parametrize("name", ["var", "std", "var_mean", "std_mean"])
@pytest.mark.parametrize("grad", [False, True])
def test_values_along_dims_are_torchs_welford(torch_ref, name, grad):
    """Random shapes, dims (lists, negative), layouts, corrections and keepdim: every result
    (var_mean's mean too) bit for bit torch's; the gradient torch's to round-off."""
    rng = random.Random(name + str(grad))
    bad = []
    for seed in range(150):
        a, perm, dim, corr, keepdim = _case(rng, seed)
        kw = {"keepdim": keepdim} if corr is None else {"keepdim": keepdim, "correction": corr}
        xt = torch_ref.from_numpy(a).permute(*perm).requires_grad_(grad)
        x = tg.tensor(a).permute(*perm).requires_grad_(grad)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (degrees of freedom <= 0)
            want = getattr(torch_ref, name)(xt, dim, **kw)
            got = getattr(tg, name)(x, dim, **kw)
        want = want if isinstance(want, tuple) else (want,)
        got = got if isinstance(got, tuple) else (got,)
        if not all(_bits_equal(g.detach().numpy(), w.detach().numpy())
                   for g, w in zip(got, want)):
            bad.append((a.shape, perm, dim, corr, keepdim, a.dtype))
        if grad:
            w = torch_ref.arange(1.0, 1.0 + want[0].numel()).reshape(want[0].shape)
            gw, = torch_ref.autograd.grad((want[0] * w.to(want[0].dtype)).sum(), xt)
            gg, = tg.autograd.grad((got[0] * tg.tensor(w.numpy()).to(got[0].dtype)).sum(), x)
            # (x - mean of inputs near 1e4: the means' last bits, times the weights, over
            # std's least nonzero value: float32 slices of std 1e-4 are ill-conditioned)
            scale = np.abs(a).max() * want[0].numel() * np.finfo(a.dtype).eps
            sd = want[0].detach().numpy()
            if name.startswith("std") and (sd > 0).any():
                scale /= min(sd[sd > 0].min(), 1.0)
            np.testing.assert_allclose(gg.numpy(), gw.numpy(), rtol=1e-4, atol=4 * scale)
    assert not bad, bad[:5]


def test_equal_values_give_exactly_zero(torch_ref):
    """Welford's update: equal elements have deviation 0 (two passes in the dtype gave
    2.7e-16)."""
    x = tg.tensor([1.456] * 3, dtype=tg.float64).expand(2, 3)
    want = torch_ref.std(torch_ref.tensor([1.456] * 3, dtype=torch_ref.float64).expand(2, 3), 1)
    assert tg.std(x, 1).tolist() == want.tolist() == [0.0, 0.0]
    assert tg.var_mean(x, 1)[0].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_result_is_two_passes_in_double(torch_ref, name, dtype):
    """One result (all elements, or one slice): torch's squared deviations from its mean()
    summed in float64, the quotient and square root rounded once.  Inputs whose mean is
    exact (small multiples of 1/8), so the means agree, bit for bit the values then."""
    bad = []
    for seed in range(200):
        r = np.random.RandomState(seed)
        shape = [(40,), (7, 9), (1, 33), (3, 1, 5)][seed % 4]
        a = (r.randint(-400, 400, shape) / 8 + 1000.0 * (seed % 3)).astype(dtype)
        dim, corr = [(None, 1), (None, 0), (tuple(range(len(shape))), 2)][seed % 3]
        args = () if dim is None else (dim,)
        want = getattr(torch_ref, name)(torch_ref.from_numpy(a), *args, correction=corr)
        got = getattr(tg, name)(tg.tensor(a, requires_grad=seed % 2 == 0), *args,
                                correction=corr)
        if not _bits_equal(got.detach().numpy(), want.numpy()):
            bad.append((seed, got.item(), want.item()))
    assert not bad, bad[:5]


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_long_result_is_two_passes_in_double(torch_ref, name, dtype):
    """One result of 4096 elements or more: float32's sum of squared deviations in any order
    (vectorized) where the error bound shows its float32 rounding is the in-order sum's,
    float64's in order; bit for bit torch's (sums of small multiples of 1/8, exact in both
    dtypes: the means agree), with and without a tape."""
    bad = []
    for seed in range(40):
        r = np.random.RandomState(seed)
        shape = [(4100,), (64, 100), (5, 30, 40), (70, 70)][seed % 4]
        a = (r.randint(-400, 400, shape) / 8).astype(dtype)
        if seed % 5 == 4:
            a = np.ascontiguousarray(a.T)
        corr = seed % 3
        want = getattr(torch_ref, name)(torch_ref.from_numpy(a), correction=corr)
        got = getattr(tg, name)(tg.tensor(a, requires_grad=seed % 2 == 0), correction=corr)
        if not _bits_equal(got.detach().numpy(), want.numpy()):
            bad.append((seed, got.item(), want.item()))
    assert not bad, bad[:5]


@pytest.mark.parametrize("grad", [False, True])
def test_one_result_shapes(torch_ref, grad):
    """One result kept in a dim of size 1 ((1, 3) over dim 1: shape (1,)), and a 0-d input
    (its one element a slice of Welford's): torch's shapes and bits."""
    a = np.array([[-0.5, 1.017, 0.821]], np.float32)
    calls = [lambda m, x: m.std(x, 1), lambda m, x: m.var(x, -1, keepdim=True),
             lambda m, x: m.var(x.t(), 0), lambda m, x: m.var_mean(x[0, 0]),
             lambda m, x: m.std_mean(x, 1), lambda m, x: m.std(x[0, 0], correction=0)]
    for call in calls:
        want = call(torch_ref, torch_ref.from_numpy(a).requires_grad_(grad))
        got = call(tg, tg.tensor(a, requires_grad=grad))
        want = want if isinstance(want, tuple) else (want,)
        got = got if isinstance(got, tuple) else (got,)
        for g, w in zip(got, want):
            assert _bits_equal(g.detach().numpy(), w.detach().numpy()), (g, w)


def test_paired_one_result_route(torch_ref):
    """var_mean / std_mean of one result: Welford's (its mean too) below
    ndops._WELFORD_CHAIN_MAX elements, torch's bits; from there the two passes in float64
    (docs/semantics.md), torch's values to round-off."""
    from tapegrad import ndops
    for n in (ndops._WELFORD_CHAIN_MAX - 1, ndops._WELFORD_CHAIN_MAX, 5000):
        a = np.random.RandomState(n).standard_normal(n) * 3 + 7
        for name in ("var_mean", "std_mean"):
            want = getattr(torch_ref, name)(torch_ref.from_numpy(a))
            got = getattr(tg, name)(tg.tensor(a, requires_grad=True))
            if n < ndops._WELFORD_CHAIN_MAX:
                assert all(_bits_equal(g.detach().numpy(), w.numpy())
                           for g, w in zip(got, want))
            for g, w in zip(got, want):
                np.testing.assert_allclose(g.item(), w.item(), rtol=1e-14)


@pytest.mark.parametrize("name", ["var", "std", "var_mean", "std_mean"])
@pytest.mark.parametrize("shape,dim,corr", [((3, 0), 1, 1), ((3, 0), 1, -1), ((0,), None, 0),
                                            ((2, 0, 3), (0, 1), 0), ((4, 1), 1, 1),
                                            ((4, 2), 1, 2), ((4, 2), 1, 3.5)])
def test_empty_and_no_degrees_of_freedom(torch_ref, name, shape, dim, corr):
    """Empty slices fill nan whatever the correction; N <= correction divides by 0 (inf, or
    nan for a zero sum); torch's warning."""
    a = np.arange(float(np.prod(shape))).reshape(shape) * 1.5
    args = () if dim is None else (dim,)
    with warnings.catch_warnings(record=True) as seen_t:
        warnings.simplefilter("always")
        want = getattr(torch_ref, name)(torch_ref.from_numpy(a), *args, correction=corr)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        got = getattr(tg, name)(tg.tensor(a), *args, correction=corr)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    for g, w in zip(got, want):
        assert _bits_equal(g.numpy(), w.numpy()), (g, w)
    assert [str(w.message) for w in seen] == \
        [str(w.message).split(" (Triggered internally")[0] for w in seen_t]


def test_long_slices_on_one_thread(torch_ref):
    """Slices past torch's grain (32768 elements; torch_ref runs one thread, so its loop is
    the serial one): still Welford's, element by element."""
    a = np.random.RandomState(0).standard_normal((2, 40000)).astype(np.float32) + 10
    for name in ("var", "std"):
        want = getattr(torch_ref, name)(torch_ref.from_numpy(a), 1)
        assert _bits_equal(getattr(tg, name)(tg.tensor(a), 1).numpy(), want.numpy())
