"""tapegrad.distributions against torch.distributions from the same seed (what
test_distributions.py leaves out): every family's sample and rsample values (tapegrad's
generator reproduces torch's CPU one), the pathwise gradients of rsample(...).mean(), also by
finite differences of the seeded draw (torch-free), validation errors of more families, and
finfo's TypeError for non-floating tensors (corr_cholesky, clamp_probs)."""
import re

import numpy as np
import pytest

import tapegrad

# family -> constructor over the leaves a (real), b (positive), p (probabilities), T (lower
# triangular), W (low-rank factor); m is torch or tapegrad, D its distributions
FAMILIES = {
    "Normal": "D.Normal(a, b)", "Uniform": "D.Uniform(a - 3, a + b)",
    "Exponential": "D.Exponential(b)", "Laplace": "D.Laplace(a, b)", "Cauchy": "D.Cauchy(a, b)",
    "LogNormal": "D.LogNormal(a, b)", "HalfNormal": "D.HalfNormal(b)",
    "HalfCauchy": "D.HalfCauchy(b)", "Gumbel": "D.Gumbel(a, b)", "Pareto": "D.Pareto(b, b + 1)",
    "Weibull": "D.Weibull(b, b + 0.5)", "Gamma": "D.Gamma(b + 0.3, b)",
    "GammaSmall": "D.Gamma(b * 0.2, b)", "Chi2": "D.Chi2(b * 3)", "Beta": "D.Beta(b + 0.5, b)",
    "Dirichlet": "D.Dirichlet(b * 2)", "StudentT": "D.StudentT(b * 2, a, b)",
    "FisherSnedecor": "D.FisherSnedecor(b * 4, b * 6)",
    "InverseGamma": "D.InverseGamma(b + 1, b)", "Kumaraswamy": "D.Kumaraswamy(b, b + 1)",
    "LogisticNormal": "D.LogisticNormal(a, b)",
    "ContinuousBernoulli": "D.ContinuousBernoulli(probs=p)",
    "RelaxedBernoulli": "D.RelaxedBernoulli(b, probs=p)",
    "RelaxedOneHotCategorical": "D.RelaxedOneHotCategorical(b[0], probs=p)",
    "Bernoulli": "D.Bernoulli(probs=p)", "Binomial": "D.Binomial(7, probs=p)",
    "BinomialLarge": "D.Binomial(m.tensor([5.0, 50.0, 5000.0], dtype=a.dtype), probs=p)",
    "Categorical": "D.Categorical(probs=p)",
    "CategoricalWide": "D.Categorical(logits=m.linspace(-2, 2, 50, dtype=a.dtype))",
    "OneHotCategorical": "D.OneHotCategorical(probs=p)",
    "OneHotStraightThrough": "D.OneHotCategoricalStraightThrough(probs=p)",
    "Multinomial": "D.Multinomial(9, probs=p)",
    "NegativeBinomial": "D.NegativeBinomial(b * 3, probs=p)", "Poisson": "D.Poisson(b * 3)",
    "PoissonLarge": "D.Poisson(b * 400)", "Geometric": "D.Geometric(probs=p)",
    "MultivariateNormal": "D.MultivariateNormal(a, scale_tril=T)",
    "MultivariateNormalCov": "D.MultivariateNormal(a, covariance_matrix=T @ T.mT)",
    "LowRankMultivariateNormal": "D.LowRankMultivariateNormal(a, W, b)",
    "Independent": "D.Independent(D.Normal(a, b), 1)",
    "MixtureSameFamily": "D.MixtureSameFamily(D.Categorical(probs=p), D.Normal(a, b))",
    "ExpandedNormal": "D.Normal(a, b).expand((2, 3))",
    "TransformedDistribution": "D.TransformedDistribution(D.Normal(a, b), "
                               "[D.AffineTransform(1.0, 2.0), D.ExpTransform()])",
}
# rsample gradients that are not torch's per draw: the Gamma draw's exact implicit gradient
# (torch approximates it, ~1e-4 relative), and Dirichlet / Beta through normalized Gamma
# draws (torch differentiates the Dirichlet draw implicitly: same expectation only)
GAMMA_GRADIENT = {"Gamma", "GammaSmall", "Chi2", "StudentT", "FisherSnedecor", "InverseGamma"}
OTHER_PATHWISE = {"Beta", "Dirichlet"}


def _leaves(m, dt):
    d = getattr(m, dt)
    return dict(
        m=m, D=m.distributions,
        a=m.tensor([0.5, -1.0, 2.0], dtype=d, requires_grad=True),
        b=m.tensor([1.5, 0.5, 2.0], dtype=d, requires_grad=True),
        p=m.tensor([0.2, 0.7, 0.1], dtype=d, requires_grad=True),
        T=m.tensor([[1.2, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.5, 0.2, 1.5]], dtype=d,
                   requires_grad=True),
        W=m.tensor([[0.5, -0.2], [0.1, 0.3], [1.0, 0.0]], dtype=d, requires_grad=True))


def _draw(m, dt, expr, method):
    """(values, {leaf: gradient of the weighted mean}) of dist.method((4,)) after
    manual_seed(7); gradients only for rsample."""
    env = _leaves(m, dt)
    dist = eval(expr, env)
    m.manual_seed(7)
    s = getattr(dist, method)((4,))
    if method != "rsample" or not s.requires_grad:
        return s.detach().numpy(), None
    # weights over the last dimension: a Dirichlet draw's plain mean is constant (1 / K)
    w = m.arange(1, s.shape[-1] + 1, dtype=s.dtype)
    names = [k for k in "abpTW" if re.search(rf"\b{k}\b", expr)]
    grads = m.autograd.grad((s * w).mean(), [env[k] for k in names], allow_unused=True)
    return s.detach().numpy(), {k: None if g is None else g.numpy()
                                for k, g in zip(names, grads)}


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_samples_and_pathwise_gradients_as_torch(family, dt):
    torch = pytest.importorskip("torch")
    expr = FAMILIES[family]
    tol = dict(rtol=1e-10, atol=1e-12) if dt == "float64" else dict(rtol=2e-5, atol=1e-6)
    for method in ("sample", "rsample"):
        if method == "rsample" and not eval(expr, _leaves(torch, dt)).has_rsample:
            with pytest.raises(NotImplementedError):
                _draw(tapegrad, dt, expr, method)
            continue
        got, ggot = _draw(tapegrad, dt, expr, method)
        want, gwant = _draw(torch, dt, expr, method)
        assert (got.shape, got.dtype) == (want.shape, want.dtype), method
        np.testing.assert_allclose(got, want, err_msg=method, **tol)
        if family in OTHER_PATHWISE or gwant is None:
            assert (ggot is None) == (gwant is None)
            continue
        gtol = dict(rtol=1e-3, atol=1e-6) if family in GAMMA_GRADIENT else tol
        for k, w in gwant.items():
            if w is None or not np.any(w):
                assert ggot[k] is None or not np.any(ggot[k]), k
            else:
                np.testing.assert_allclose(ggot[k], w, err_msg=k, **gtol)


# (constructor, parameter perturbed): rsample's draw is a smooth function of the parameter
# for a fixed seed, so its gradient is a central difference of seeded draws
FINITE_DIFFERENCES = [
    ("D.Normal(a, b)", "a"), ("D.Normal(a, b)", "b"), ("D.Laplace(a, b)", "b"),
    ("D.Cauchy(a, b)", "b"), ("D.Gumbel(a, b)", "b"), ("D.Exponential(b)", "b"),
    ("D.Uniform(a - 3, a + b)", "b"), ("D.LogNormal(a, b)", "b"), ("D.HalfNormal(b)", "b"),
    ("D.Weibull(b, b + 0.5)", "b"), ("D.Pareto(b, b + 1)", "b"), ("D.Kumaraswamy(b, b + 1)", "b"),
    ("D.RelaxedBernoulli(b, probs=p)", "p"), ("D.LogisticNormal(a, b)", "b"),
    ("D.MultivariateNormal(a, scale_tril=T)", "T"), ("D.LowRankMultivariateNormal(a, W, b)", "W"),
    ("D.ContinuousBernoulli(probs=p)", "p"),
]


@pytest.mark.parametrize("expr,name", FINITE_DIFFERENCES)
def test_rsample_gradient_is_the_derivative_of_the_seeded_draw(expr, name):
    """d/dtheta of the weighted mean of rsample((4,)) after manual_seed(7), by autograd and
    by central differences of the same seeded draws (torch-free)."""
    env = _leaves(tapegrad, "float64")
    leaf = env[name]
    _, grads = _draw(tapegrad, "float64", expr, "rsample")
    h = 1e-6
    fd = np.zeros(leaf.shape)
    for i in np.ndindex(*leaf.shape):
        if name == "T" and i[1] > i[0]:
            continue    # scale_tril must stay lower triangular
        vals = []
        for sign in (1, -1):
            e = _leaves(tapegrad, "float64")
            with tapegrad.no_grad():
                e[name][i] += sign * h
            dist = eval(expr, e)
            tapegrad.manual_seed(7)
            s = dist.rsample((4,)).detach().numpy()
            vals.append((s * np.arange(1, s.shape[-1] + 1)).mean())
        fd[i] = (vals[0] - vals[1]) / (2 * h)
    got = np.tril(grads[name]) if name == "T" else grads[name]
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-7)


ERRORS = [
    "D.Normal(0.0, m.tensor([1.0, -1.0], requires_grad=True))",
    "D.Normal(m.zeros(2, dtype=m.float64), 1.0).log_prob(m.tensor([inf, 0.0], "
    "dtype=m.float64))",
    "D.Normal(m.tensor([0.0, nan], requires_grad=True), m.ones(2, dtype=m.float64))",
    "D.Laplace(0.0, m.tensor(0.0))", "D.Gumbel(0.0, -1.0)", "D.Pareto(-1.0, 1.0)",
    "D.Pareto(1.0, 1.0).log_prob(m.tensor(0.5))", "D.Weibull(1.0, -1.0)",
    "D.Weibull(1.0, 1.0).log_prob(m.tensor(-1.0))", "D.Kumaraswamy(-1.0, 1.0)",
    "D.Kumaraswamy(1.0, 1.0).log_prob(m.tensor(2.0))", "D.InverseGamma(-1.0, 1.0)",
    "D.FisherSnedecor(-1.0, 1.0)", "D.StudentT(2.0).log_prob(m.tensor(nan))",
    "D.Dirichlet(m.tensor(1.0))",
    "D.Dirichlet(m.tensor([1.0, 1.0])).log_prob(m.tensor([0.5, 0.6]))",
    "D.LogisticNormal(0.0, -1.0)", "D.ContinuousBernoulli(probs=0.3).log_prob(m.tensor(1.5))",
    "D.RelaxedBernoulli(-1.0, probs=0.3)",
    "D.RelaxedOneHotCategorical(1.0, probs=m.tensor([-0.5, 1.0]))",
    "D.Binomial(2.5, probs=0.3)", "D.Binomial(3, probs=0.3).log_prob(m.tensor(4.0))",
    "D.Categorical(logits=m.tensor([0.0, nan]))",
    "D.OneHotCategorical(probs=m.tensor([0.5, 0.5])).log_prob(m.tensor([1.0, 1.0]))",
    "D.Multinomial(3.5, probs=m.tensor([0.5, 0.5]))",
    "D.NegativeBinomial(2.0, probs=1.0)",
    "D.NegativeBinomial(2.0, probs=0.3).log_prob(m.tensor(0.5))",
    "D.Poisson(2.0).log_prob(m.tensor(1.5))", "D.Geometric(probs=0.0)",
    "D.Geometric(probs=0.5).log_prob(m.tensor(-1.0))",
    "D.MultivariateNormal(m.zeros(2), precision_matrix=m.tensor([[1.0, 2.0], [0.0, 1.0]]))",
    "D.MultivariateNormal(m.tensor(0.0), scale_tril=m.eye(2))",
    "D.LowRankMultivariateNormal(m.zeros(2), m.ones(2, 1), m.tensor([1.0, -1.0]))",
    "D.LowRankMultivariateNormal(m.zeros(2), m.ones(2), m.ones(2))",
    "D.Independent(D.Normal(m.zeros(2), 1.0), 2)",
    "D.MixtureSameFamily(m.ones(3), D.Normal(m.zeros(3), 1.0))",
    "D.Normal(m.zeros(2), 1.0).expand((3,))",
    "D.TransformedDistribution(D.Normal(0.0, 1.0), [D.ExpTransform()]).log_prob(m.tensor(-1.0))",
    # finfo of a non-floating dtype: torch.finfo's TypeError
    "D.constraints.corr_cholesky.check(m.eye(2, dtype=m.int64))",
    "D.utils.clamp_probs(m.tensor([0, 1]))", "D.utils.probs_to_logits(m.tensor([0, 1]))",
]


def _error(m, expr):
    env = dict(m=m, D=m.distributions, nan=float("nan"), inf=float("inf"))
    try:
        return "no error: " + re.sub(r"torch\.|tapegrad\.", "M.", str(eval(expr, env)))
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return f"{type(e).__name__}: " + re.sub(r"torch\.|tapegrad\.", "M.", str(e))


@pytest.mark.parametrize("expr", ERRORS)
def test_errors_as_torch(expr):
    torch = pytest.importorskip("torch")
    assert _error(tapegrad, expr) == _error(torch, expr)


def test_finfo_of_non_floating_tensors_is_a_type_error():
    """corr_cholesky.check and clamp_probs take their tolerance from finfo of the value's
    dtype: an integer tensor raises finfo's TypeError (not numpy's ValueError), as torch."""
    D = tapegrad.distributions
    msg = r"finfo\(\) requires a floating point input type"
    with pytest.raises(TypeError, match=msg):
        D.constraints.corr_cholesky.check(tapegrad.eye(2, dtype=tapegrad.int64))
    with pytest.raises(TypeError, match=msg):
        D.utils.clamp_probs(tapegrad.tensor([0, 1]))
    # floating tensors are unchanged: eps of float32 is 2 ** -23
    assert D.constraints.corr_cholesky.check(tapegrad.eye(3)).item()
    np.testing.assert_array_equal(D.utils.clamp_probs(tapegrad.tensor([0.0, 1.0])).numpy(),
                                  np.array([2.0 ** -23, 1 - 2.0 ** -23], np.float32))
