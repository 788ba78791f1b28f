"""torch's rejection samplers, bit for bit (tapegrad/gamma_draws.py, tapegrad/samplers.py):
torch._standard_gamma, torch.poisson, torch.binomial, torch._sample_dirichlet and the
distributions that sample through them (Gamma, Chi2, StudentT, Beta, Dirichlet, Poisson,
Binomial, NegativeBinomial, Multinomial, Categorical), compared with torch where it is
installed, values and generator state after each call; without torch: values recorded from
torch 2.13, moments, shapes, dtypes, the generator's advance, errors, gradients.

Speed (2-vCPU machine shared with other jobs, CPU time, 1e5 samples of 3 parameters, tapegrad
vs torch): Gamma 0.03 s vs 0.02 s, Beta 0.06-0.15 s vs 0.05 s, Dirichlet 0.04-0.07 s vs 0.02 s, Poisson
0.03-0.04 s vs 0.01 s, Binomial (2 parameters) 0.02-0.05 s vs 0.02 s: Numba loops
(tapegrad/_draw_loops.py); the Python loops before them took 0.7-1.8 s."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import gamma_draws as G
from tapegrad.mt19937 import MT19937

D = tg.distributions


def _torch():
    return pytest.importorskip("torch")


def _same(t, g):
    t = np.ascontiguousarray(t.detach().numpy() if hasattr(t, "detach") else t)
    g = np.ascontiguousarray(g.detach().numpy() if hasattr(g, "detach") else g)
    assert t.dtype == g.dtype and t.shape == g.shape
    assert np.array_equal(t.view(np.uint8), g.view(np.uint8)), (t, g)


def _state_same(torch):
    assert bytes(tg.get_rng_state().numpy()) == bytes(torch.get_rng_state().numpy())


def _seed_both(torch, seed):
    """Seed both; one seed in three leaves a cached double normal in both engines."""
    torch.manual_seed(seed)
    tg.manual_seed(seed)
    if seed % 3 == 1:
        torch.randn(1, dtype=torch.float64)
        tg.randn(1, dtype=tg.float64)


def _compare(torch, tfn, gfn, seeds=range(8), reps=3):
    """tfn()/gfn() from the same seed, `reps` calls in a row: values and state equal."""
    for seed in seeds:
        _seed_both(torch, seed)
        for _ in range(reps):
            _same(tfn(), gfn())
            _state_same(torch)


ALPHAS = [1e-4, 0.01, 0.1, 0.5, 0.99, 1.0, 1.5, 3.0, 10.0, 100.0, 1e4, 0.0]
RATES = [0.0, 0.1, 1.0, 5.0, 9.99, 10.0, 11.0, 50.0, 1000.0, 1e6, 3.3]
COUNTS = [0, 1, 5, 10, 20, 40, 100, 1000, 1e5, 7, 30, 2]
PROBS = [0.0, 0.1, 0.3, 0.5, 0.55, 0.9, 0.99, 1.0, 0.25, 0.7, 0.02, 0.5]


# -- the samplers against torch -------------------------------------------------------------------
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_standard_gamma_as_torch(dt):
    torch = _torch()
    a = np.array(ALPHAS * 2, dt).reshape(2, -1)
    _compare(torch, lambda: torch._standard_gamma(torch.tensor(a)),
             lambda: tg._standard_gamma(tg.tensor(a)))
    rng = np.random.default_rng(1)
    for seed in range(6):
        a = (10.0 ** rng.uniform(-3, 3, (3, 7))).astype(dt)
        _compare(torch, lambda: torch._standard_gamma(torch.tensor(a)),
                 lambda: tg._standard_gamma(tg.tensor(a)), [seed], 2)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_sample_dirichlet_as_torch(dt):
    torch = _torch()
    a = np.array(ALPHAS[:-1] * 2, dt).reshape(2, -1)
    _compare(torch, lambda: torch._sample_dirichlet(torch.tensor(a)),
             lambda: tg._sample_dirichlet(tg.tensor(a)))
    for k in (1, 2, 3, 5, 9, 20):            # row sums of several lengths (torch's cascade)
        a = np.linspace(0.2, 4.0, 2 * k).reshape(2, k).astype(dt)
        _compare(torch, lambda: torch._sample_dirichlet(torch.tensor(a)),
                 lambda: tg._sample_dirichlet(tg.tensor(a)), [k], 1)
    _compare(torch, lambda: torch._sample_dirichlet(torch.tensor(np.array(2.0, dt))),
             lambda: tg._sample_dirichlet(tg.tensor(np.array(2.0, dt))), [0], 1)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_special_values_as_torch(dt):
    torch = _torch()
    a = np.array([math.inf, math.nan, -0.5, -1.5, -1e-6, 1 / 3, 2.0], dt)
    _compare(torch, lambda: torch._standard_gamma(torch.tensor(a)),
             lambda: tg._standard_gamma(tg.tensor(a)), range(4), 1)
    r = np.array([3.0, math.inf, 2.0], dt)
    _compare(torch, lambda: torch.poisson(torch.tensor(r)), lambda: tg.poisson(tg.tensor(r)),
             range(4), 1)
    c, p = np.array([5.0, 3.0], dt), np.array([math.nan, 0.5], dt)
    _compare(torch, lambda: torch.binomial(torch.tensor(c), torch.tensor(p)),
             lambda: tg.binomial(tg.tensor(c), tg.tensor(p)), range(4), 1)
    # a negative rate raises where torch's check does, after the draws before it
    for lib in (torch, tg):
        lib.manual_seed(0)
        with pytest.raises(RuntimeError, match="non-negative"):
            lib.poisson(lib.tensor(np.array([3.0, 20.0, -1.0, 4.0], dt)))
    _state_same(torch)


def test_sum_last_dim_as_torch():
    torch = _torch()
    rng = np.random.default_rng(0)
    for k in list(range(1, 40)) + [64, 100, 257, 1000, 5000]:
        x = rng.random((3, k)) * 10.0 ** rng.integers(-6, 6, (3, k))
        _same(torch.from_numpy(x).sum(-1), G.sum_last_dim(x))


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_poisson_as_torch(dt):
    torch = _torch()
    r = np.array(RATES, dt)
    _compare(torch, lambda: torch.poisson(torch.tensor(r)), lambda: tg.poisson(tg.tensor(r)))
    rng = np.random.default_rng(2)
    for seed in range(4):
        r = (10.0 ** rng.uniform(-2, 4, (4, 6))).astype(dt)
        _compare(torch, lambda: torch.poisson(torch.tensor(r)),
                 lambda: tg.poisson(tg.tensor(r)), [seed], 2)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_binomial_as_torch(dt):
    torch = _torch()
    c = np.array(COUNTS, dt)
    for p in (np.array(PROBS, dt), np.array(PROBS[::-1], dt), np.full(len(c), 0.37, dt)):
        _compare(torch, lambda: torch.binomial(torch.tensor(c), torch.tensor(p)),
                 lambda: tg.binomial(tg.tensor(c), tg.tensor(p)), range(5))
    rng = np.random.default_rng(3)
    for seed in range(4):
        c = rng.integers(0, 10 ** int(rng.integers(1, 7)), 20).astype(dt)
        p = (rng.random(20) ** 3).astype(dt)
        for pp in (p, (1 - p).astype(dt)):
            _compare(torch, lambda: torch.binomial(torch.tensor(c), torch.tensor(pp)),
                     lambda: tg.binomial(tg.tensor(c), tg.tensor(pp)), [seed], 2)


def test_public_functions_as_torch():
    torch = _torch()
    # explicit generators, broadcasting, and the default generator left alone
    tgen, ggen = torch.Generator().manual_seed(5), tg.Generator().manual_seed(5)
    torch.manual_seed(1)
    tg.manual_seed(1)
    c, p = [[3.0, 40.0]], [[0.5], [0.9]]
    with pytest.warns(UserWarning):
        g = tg.binomial(tg.tensor(c), tg.tensor(p), generator=ggen)
    with pytest.warns(UserWarning):
        t = torch.binomial(torch.tensor(c), torch.tensor(p), generator=tgen)
    _same(t, g)
    _same(torch.poisson(torch.tensor([4.0, 40.0]), tgen), tg.poisson(tg.tensor([4.0, 40.0]), ggen))
    _same(torch._standard_gamma(torch.tensor([0.3]), generator=tgen),
          tg._standard_gamma(tg.tensor([0.3]), generator=ggen))
    _same(torch._sample_dirichlet(torch.tensor([0.3, 2.0]), generator=tgen),
          tg._sample_dirichlet(tg.tensor([0.3, 2.0]), generator=ggen))
    assert bytes(tgen.get_state().numpy()) == bytes(ggen.get_state().numpy())
    _state_same(torch)
    # errors as torch's
    cases = [("poisson", ([1, 2],)), ("poisson", ([-1.0],)), ("_standard_gamma", ([1, 2],)),
             ("_sample_dirichlet", ([1, 2],)), ("binomial", ([3], [0.5])),
             ("binomial", ([3.0], [1])), ("binomial", ([3.0], "f64"))]
    for name, args in cases:
        targs, gargs = [], []
        for a in args:
            if a == "f64":
                targs.append(torch.tensor([0.5], dtype=torch.float64))
                gargs.append(tg.tensor([0.5], dtype=tg.float64))
            else:
                targs.append(torch.tensor(a))
                gargs.append(tg.tensor(a))
        with pytest.raises(Exception) as te:
            getattr(torch, name)(*targs)
        with pytest.raises(type(te.value), match=str(te.value)[:30].replace("(", r"\(")):
            getattr(tg, name)(*gargs)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_many_values_as_torch(dt):
    """20000 parameter values per sampler, spread over the branches, in one call each."""
    torch = _torch()
    rng = np.random.default_rng(7)
    n = 20000
    a = (10.0 ** rng.uniform(-3, 2.5, n)).astype(dt)
    lam = (10.0 ** rng.uniform(-1, 3.5, n)).astype(dt)
    c = np.round(10.0 ** rng.uniform(0, 4, n)).astype(dt)
    p = rng.uniform(0.0, 1.0, n).astype(dt)
    for tfn, gfn, args in [(torch._standard_gamma, G.standard_gamma, [a]),
                           (torch.poisson, G.poisson, [lam]),
                           (torch.binomial, G.binomial, [c, p]),
                           (torch.binomial, G.binomial, [c, (p ** 4).astype(dt)]),
                           (torch._sample_dirichlet, G.dirichlet, [a.reshape(-1, 5)])]:
        torch.manual_seed(11)
        engine = MT19937()
        engine.set_state_bytes(bytes(torch.get_rng_state().numpy()))
        _same(tfn(*[torch.from_numpy(x) for x in args]), gfn(engine, *args))
        assert engine.state_bytes() == bytes(torch.get_rng_state().numpy())


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_large_draws_as_torch(torch_ref, dt):
    """50000 draws of each of several parameters, through the distributions and the public
    functions, from a seed that leaves a cached double normal: every bit, and the state."""
    torch = torch_ref
    TD = torch.distributions
    T = lambda a: torch.tensor(np.asarray(a, dt))        # noqa: E731
    Gt = lambda a: tg.tensor(np.asarray(a, dt))          # noqa: E731
    alphas = [0.05, 0.3, 0.999, 1.0, 2.5, 25.0, 900.0]
    n = 50000
    cases = [
        (lambda m, t: m.Gamma(t(alphas), t([1.0, 0.5, 4.0, 2.0, 1.0, 3.0, 0.1])).sample((n,))),
        (lambda m, t: m.Beta(t(alphas[:3]), t(alphas[-3:])).sample((n,))),
        (lambda m, t: m.Dirichlet(t(alphas)).sample((n // 5,))),
        (lambda m, t: m.Poisson(t([0.5, 4.0, 9.99, 10.0, 30.0, 5e3])).sample((n,))),
        (lambda m, t: m.Binomial(t([3.0, 20.0, 100.0, 5e4]), t([0.3, 0.9, 0.52, 0.01]))
         .sample((n,))),
    ]
    for case in cases:
        _compare(torch, lambda: case(TD, T), lambda: case(D, Gt), [4], 1)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_infinite_parameters_as_torch(torch_ref, dt):
    """Infinite and huge counts and concentrations follow C's arithmetic, as torch's."""
    torch = torch_ref
    c, p = np.array([math.inf, math.inf, math.inf, 3.0, 1e30], dt), \
        np.array([0.3, 0.7, 0.01, math.inf, 0.3], dt)
    _compare(torch, lambda: torch.binomial(torch.tensor(c), torch.tensor(p)),
             lambda: tg.binomial(tg.tensor(c), tg.tensor(p)), range(3), 1)
    a = np.array([math.inf, 1e-30, 1e30, -math.inf], dt)
    _compare(torch, lambda: torch._standard_gamma(torch.tensor(a)),
             lambda: tg._standard_gamma(tg.tensor(a)), range(3), 1)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_distribution_samples_as_torch(dt):
    torch = _torch()
    TD = torch.distributions
    T = lambda a: torch.tensor(np.asarray(a, dt))        # noqa: E731
    Gt = lambda a: tg.tensor(np.asarray(a, dt))          # noqa: E731
    c = [[0.3, 1.0, 2.5], [7.0, 0.05, 40.0]]
    r = [0.5, 2.0, 3.0]
    n = [[3.0, 10.0, 50.0], [100.0, 0.0, 1000.0]]
    p = [0.2, 0.5, 0.93]
    lg = [-1.2, 0.0, 1.7]
    pr = [[0.1, 0.2, 0.7, 0.0], [0.25, 0.25, 0.25, 0.25]]
    cases = [
        (lambda m, t: m.Gamma(t(c), t(r)).rsample((3,))),
        (lambda m, t: m.Gamma(t(c), t(r)).sample()),
        (lambda m, t: m.Chi2(t(c)).sample((2,))),
        (lambda m, t: m.StudentT(t(c), t(r), t(r)).rsample((2,))),
        (lambda m, t: m.Beta(t(c), t(n).flip(-1) + 0.5).rsample((3,))),
        (lambda m, t: m.Dirichlet(t(c)).rsample((3,))),
        (lambda m, t: m.Poisson(t(c) * 5).sample((3,))),
        (lambda m, t: m.Binomial(t(n), t(p)).sample((2,))),
        (lambda m, t: m.Binomial(t(n), logits=t(lg)).sample((2,))),
        (lambda m, t: m.NegativeBinomial(t(n), t(p)).sample((2,))),
        (lambda m, t: m.NegativeBinomial(t(n), logits=t(lg)).sample((2,))),
        (lambda m, t: m.Multinomial(20, t(pr)).sample((3,))),
        (lambda m, t: m.Categorical(t(pr)).sample((5,))),
        (lambda m, t: m.Categorical(logits=t(pr)).sample()),
    ]
    for i, case in enumerate(cases):
        _compare(torch, lambda: case(TD, T), lambda: case(D, Gt), range(i % 3, 12, 3), 2)
    # number parameters (default dtype)
    _compare(torch, lambda: TD.Beta(0.5, 3.0).sample((4,)), lambda: D.Beta(0.5, 3.0).sample((4,)))
    _compare(torch, lambda: TD.Gamma(2.0, 3.0).sample((4,)),
             lambda: D.Gamma(2.0, 3.0).sample((4,)))


# -- without torch --------------------------------------------------------------------------------
def test_values_recorded_from_torch():
    """torch 2.13's values after manual_seed(0): the four samplers in a row (float64)."""
    tg.manual_seed(0)
    f64 = dict(dtype=tg.float64)
    assert tg._standard_gamma(tg.tensor([0.5, 2.0, 10.0], **f64)).tolist() == [
        0.0007893582063475732, 0.6315406048880828, 10.173935451238226]
    assert tg.poisson(tg.tensor([0.5, 4.0, 12.0, 500.0], **f64)).tolist() == [
        0.0, 3.0, 13.0, 496.0]
    assert tg.binomial(tg.tensor([10., 100., 1000.], **f64),
                       tg.tensor([0.3, 0.4, 0.8], **f64)).tolist() == [3.0, 43.0, 799.0]
    assert tg._sample_dirichlet(tg.tensor([0.5, 1.0, 3.0], **f64)).tolist() == [
        0.09722284496210327, 0.19783008897640847, 0.7049470660614883]
    # the engine's position then (torch's state bytes 8..23: left, seeded, next)
    assert bytes(tg.get_rng_state().numpy())[8:24].hex() == "33020000010000003e00000000000000"
    # float32, then a Beta sample, after manual_seed(3)
    tg.manual_seed(3)
    assert tg._standard_gamma(tg.tensor([0.05, 0.7, 4.0, 30.0])).tolist() == [
        0.21590623259544373, 0.590304434299469, 4.3516316413879395, 35.52173614501953]
    assert tg.binomial(tg.tensor([8., 60., 500., 900.]),
                       tg.tensor([0.45, 0.2, 0.6, 0.97])).tolist() == [4.0, 7.0, 299.0, 880.0]
    assert tg.poisson(tg.tensor([2.5, 25.0])).tolist() == [1.0, 21.0]
    assert D.Beta(tg.tensor([0.5, 2.0]), tg.tensor([1.5, 0.3])).sample().tolist() == [
        0.11934676021337509, 0.7804853320121765]
    assert bytes(tg.get_rng_state().numpy())[8:24].hex() == "2b020000010000004600000000000000"


def _engine(seed=0):
    return MT19937(seed)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 4.0, 50.0])
def test_gamma_moments(alpha):
    x = G.standard_gamma(_engine(), np.full(20000, alpha))
    se = math.sqrt(alpha / 20000)
    assert abs(x.mean() - alpha) < 5 * se
    assert abs(x.var() / alpha - 1) < 0.1


@pytest.mark.parametrize("lam", [0.7, 3.0, 10.0, 80.0])
def test_poisson_moments(lam):
    x = G.poisson(_engine(), np.full(20000, lam))
    assert np.all(x == np.floor(x)) and x.min() >= 0
    assert abs(x.mean() - lam) < 5 * math.sqrt(lam / 20000)
    assert abs(x.var() / lam - 1) < 0.1


@pytest.mark.parametrize("n,p", [(20, 0.3), (20, 0.8), (200, 0.3), (200, 0.8), (5, 1.0)])
def test_binomial_moments(n, p):
    x = G.binomial(_engine(), np.full(20000, float(n)), np.full(20000, p))
    assert x.min() >= 0 and x.max() <= n
    var = n * p * (1 - p)
    assert abs(x.mean() - n * p) < 5 * math.sqrt(var / 20000) + 1e-12
    if var:
        assert abs(x.var() / var - 1) < 0.1


def test_dirichlet_moments_and_bounds():
    a = np.array([0.5, 1.0, 3.0])
    x = G.dirichlet(_engine(), np.tile(a, (20000, 1)))
    assert np.allclose(x.sum(-1), 1.0)
    assert np.all(np.abs(x.mean(0) - a / a.sum()) < 0.01)
    tiny = G.dirichlet(_engine(), np.array([[1e-3, 1e-3]], np.float32))
    assert tiny.dtype == np.float32 and tiny.min() >= np.finfo(np.float32).tiny
    assert tiny.max() <= np.nextafter(np.float32(1), np.float32(0))


def test_shapes_dtypes_and_clamps():
    e = _engine()
    for dt in (np.float32, np.float64):
        assert G.standard_gamma(e, np.ones((2, 3), dt)).dtype == dt
        assert G.poisson(e, np.ones((4,), dt)).shape == (4,)
        assert G.binomial(e, np.ones((2, 1), dt), np.full((3,), 0.5, dt)).shape == (2, 3)
        g = G.standard_gamma(e, np.array([0.0, 1e-30], dt))
        assert np.all(g == np.finfo(dt).tiny)          # clamped to the smallest normal
    assert tg.poisson(tg.tensor([[1.0]])).dtype is tg.float32
    assert tg._standard_gamma(tg.tensor([2.0], dtype=tg.float64)).dtype is tg.float64
    assert D.Dirichlet(tg.ones(2, 3)).sample((4,)).shape == (4, 2, 3)
    assert D.Multinomial(7, tg.ones(3)).sample((5,)).sum(-1).tolist() == [7.0] * 5


def test_generator_advance():
    e = _engine(3)
    s0 = e.state_bytes()
    G.poisson(e, np.zeros(5))                       # rate 0 draws nothing
    G.standard_gamma(e, np.zeros(5))                # alpha 0 neither
    G.binomial(e, np.zeros(5), np.full(5, 0.5))     # nor count 0
    assert e.state_bytes() == s0
    a = G.standard_gamma(e, np.full(3, 2.0))
    assert e.state_bytes() != s0
    e2 = _engine(3)
    _same(a, G.standard_gamma(e2, np.full(3, 2.0)))  # the same seed, the same values
    assert e.state_bytes() == e2.state_bytes()
    # poisson with rate < 10: one uniform per unit of the count, plus one
    e3 = _engine(4)
    k = G.poisson(e3, np.array([3.0]))[0]
    e4 = _engine(4)
    e4.u64(int(k) + 1)
    assert e3.state_bytes() == e4.state_bytes()
    # an explicit generator leaves the default one alone
    tg.manual_seed(9)
    before = bytes(tg.get_rng_state().numpy())
    tg.poisson(tg.tensor([5.0, 50.0]), generator=tg.Generator())
    assert bytes(tg.get_rng_state().numpy()) == before


def test_errors():
    with pytest.raises(RuntimeError, match="non-negative"):
        tg.poisson(tg.tensor([1.0, -1.0]))
    with pytest.raises(NotImplementedError, match="gamma_cpu"):
        tg._standard_gamma(tg.tensor([1, 2]))
    with pytest.raises(ValueError, match="count"):
        tg.binomial(tg.tensor([1, 2]), tg.tensor([0.5, 0.5]))
    with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
        tg.binomial(tg.tensor([1.0]), tg.tensor([0.5], dtype=tg.float64))
    with pytest.raises(RuntimeError, match="NaN count"):
        G.binomial(_engine(), np.array([math.nan]), np.array([0.5]))
    # C's arithmetic on special values, as torch: NaN or negative concentrations give the
    # smallest normal, an infinite one inf, an infinite Poisson rate INT64_MIN
    g = G.standard_gamma(_engine(), np.array([math.nan, -1.5, math.inf, -0.5]))
    assert g[:3].tolist() == [np.finfo(np.float64).tiny] * 2 + [math.inf] and g[3] > 0
    assert G.poisson(_engine(), np.array([math.inf])).tolist() == [-2.0 ** 63]
    assert math.isnan(G.binomial(_engine(), np.array([3.0]), np.array([math.nan]))[0])


def test_gradients():
    tg.manual_seed(0)
    # Dirichlet: pathwise gradient of E[x_0] = a_0 / sum(a)
    a = tg.tensor([0.7, 2.0, 5.0], dtype=tg.float64, requires_grad=True)
    D.Dirichlet(a).rsample((4000,))[:, 0].mean().backward()
    s = 7.7
    assert np.allclose(a.grad.numpy(), [(s - 0.7) / s ** 2, -0.7 / s ** 2, -0.7 / s ** 2],
                       rtol=0.05)
    # Gamma: d E[x] / d concentration = 1 / rate
    b = tg.tensor([0.5, 3.0], dtype=tg.float64, requires_grad=True)
    D.Gamma(b, tg.tensor([1.0, 2.0], dtype=tg.float64)).rsample((4000,)).mean(0).sum().backward()
    assert np.allclose(b.grad.numpy(), [1.0, 0.5], rtol=0.06)
    # poisson: a zero gradient, as torch's PoissonBackward0
    r = tg.tensor([2.0, 30.0], requires_grad=True)
    z = tg.poisson(r)
    assert type(z.grad_fn).__name__ == "PoissonBackward0"
    z.sum().backward()
    assert r.grad.tolist() == [0.0, 0.0]
    assert type(tg._standard_gamma(r).grad_fn).__name__ == "StandardGammaBackward0"


# (x, alpha, total, D): D = (dx/dalpha) / (1 - x) for x ~ Beta(alpha, total - alpha) at a fixed
# quantile, from mpmath's regularized incomplete beta at 40 digits (when this was written):
# a draw near 0 and near 1, both parameters large, and the rational correction between
DIRICHLET_GRAD = [
    (2.5e-05, 0.3, 1.6, 0.00085847648370795567),
    (0.2, 0.5, 2.0, 0.68604403615163707),
    (0.5, 2.0, 5.0, 0.2603849155132832),
    (0.9, 7.0, 8.0, 0.13546352013149096),
    (0.999, 300.0, 300.1, 0.0033366672138743357),
    (0.45, 40.0, 130.0, 0.009311468320252358),
    (0.01, 0.05, 3.05, 0.655482650825556),
    (0.97, 1.5, 1.6, 0.88038264326434351),
    (0.3, 1.0, 2.0, 0.51598834471111541),
]


def test_dirichlet_grad_approximates_reference_values():
    """torch's approximations (which _dirichlet_grad reproduces) are within 2e-4 of the exact
    derivative; a draw rounded to 0 or 1 gets torch's finite values (not nan)."""
    from tapegrad.samplers import _dirichlet_grad
    x, a, t, want = map(np.array, zip(*DIRICHLET_GRAD))
    np.testing.assert_allclose(_dirichlet_grad(x, a, t), want, rtol=2e-4)
    assert _dirichlet_grad(np.array([0.0, 1.0]), 2.0, 3.0).tolist() == [0.0, 0.5]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dirichlet_grad_against_torch(dtype):
    """torch's _dirichlet_grad (dirichlet_grad_one: its series in the input's dtype, the
    saddle-point and rational branches in float64) over draws of many shapes: torch's values,
    to its libm's last bits in float64 (its saddle-point branch cancels) and exactly in
    float32."""
    torch = _torch()
    from tapegrad.samplers import _dirichlet_grad
    rng = np.random.default_rng(1)
    cases = [(a, b, v) for a in (0.05, 0.3, 1.0, 2.5, 6.5, 7.0, 40.0, 300.0)
             for b in (0.1, 0.9, 3.0, 6.5, 12.0, 150.0) for v in rng.beta(a, b, 8)]
    a, b, x = (np.array(c, getattr(np, dtype)) for c in zip(*cases))
    keep = (x > 0) & (x < 1)
    a, b, x = a[keep], b[keep], x[keep]
    got = _dirichlet_grad(x, a, a + b)
    want = torch._dirichlet_grad(*(torch.tensor(v) for v in (x, a, a + b))).numpy()
    assert got.dtype == want.dtype
    if dtype == "float32":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_beta_and_dirichlet_rsample_gradients_per_draw_as_torch(dtype):
    """The same draws (same seed) get torch's per-draw gradients."""
    torch = _torch()
    out = {}
    for m in (tg, torch):
        m.manual_seed(5)
        dt = getattr(m, dtype)
        c = m.tensor([0.3, 1.7, 4.2, 25.0], dtype=dt, requires_grad=True)
        d = m.tensor([[0.5, 2.0, 9.0], [3.0, 0.2, 1.0]], dtype=dt, requires_grad=True)
        D = m.distributions
        s = D.Beta(c, c.flip(0) + 1).rsample((3,))
        w = D.Dirichlet(d).rsample((2,))
        (s * m.arange(12, dtype=dt).reshape(3, 4)).sum().backward()
        (w * m.arange(12, dtype=dt).reshape(2, 2, 3)).sum().backward()
        out[m] = [v.detach().numpy().astype(np.float64) for v in (s, w, c.grad, d.grad)]
    for ours, theirs in zip(out[tg], out[torch]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-11 if dtype == "float64" else 2e-6,
                                   atol=1e-12)


def test_standard_gamma_second_derivative_raises_as_torch():
    # torch's StandardGammaBackward0 computes grad * _standard_gamma_grad(alpha, x), whose own
    # derivative is not implemented: a create_graph gradient of an rsample keeps that node, so
    # a second derivative raises rather than silently leaving the term out (a Hessian of a
    # loss with a Gamma rsample and another path to alpha would otherwise be wrong)
    a = tg.tensor(2.0, requires_grad=True)
    tg.manual_seed(0)
    s = D.Gamma(a, tg.tensor(1.0)).rsample()
    g, = tg.autograd.grad(s, a, create_graph=True)
    assert g.requires_grad
    names, todo = [], [g.grad_fn]
    while todo:
        fn = todo.pop()
        names.append(type(fn).__name__)
        todo += [f for f, _ in fn.next_functions if f is not None]
    assert "StandardGammaGradBackward0" in names
    with pytest.raises(NotImplementedError,
                       match=r"^the derivative for '_standard_gamma_grad' is not implemented\.$"):
        (g + a ** 2).backward()
    # without create_graph the gradient is a plain tensor, its value unchanged
    tg.manual_seed(0)
    s = D.Gamma(a, tg.tensor(1.0)).rsample()
    g2, = tg.autograd.grad(s, a)
    assert not g2.requires_grad and g2.item() == g.item()
