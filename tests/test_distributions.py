"""tapegrad.distributions against torch.distributions: the deterministic parts (log_prob, cdf,
icdf, entropy, moments, kl_divergence, shapes, reprs, validation errors) and their gradients
with respect to the parameters, in float32 and float64; samples statistically (tapegrad's
generator draws other values than torch's), with fixed seeds; rsample's pathwise gradients
against their analytic values; gradcheck in float64; a Monte Carlo sensitivity end to end."""
import re

import numpy as np
import pytest

import tapegrad

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """torch's small linalg calls take ~25 ms each when its threads compete for the cores."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)

# parameters (leaves that require grad) and values, built with m = torch or tapegrad
SETUP = """
loc = m.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]], dtype=dt, requires_grad=True)
scale = m.tensor([1.5, 0.5, 2.0], dtype=dt, requires_grad=True)
loc2 = m.tensor([0.1, -0.4, 1.0], dtype=dt, requires_grad=True)
scale2 = m.tensor([[0.7], [1.2]], dtype=dt, requires_grad=True)
low = m.tensor([-1.0, 0.0, 0.5], dtype=dt, requires_grad=True)
high = m.tensor([[2.0, 1.0, 3.0], [0.5, 4.0, 1.0]], dtype=dt, requires_grad=True)
rate = m.tensor([0.5, 1.0, 3.0], dtype=dt, requires_grad=True)
rate2 = m.tensor([[2.0], [0.25]], dtype=dt, requires_grad=True)
p = m.tensor([0.2, 0.7, 0.5], dtype=dt, requires_grad=True)
p2 = m.tensor([[0.9, 0.5, 0.3], [0.1, 0.6, 0.45]], dtype=dt, requires_grad=True)
lg = m.tensor([-1.0, 0.0, 2.5], dtype=dt, requires_grad=True)
pr = m.tensor([[0.1, 0.2, 0.3, 0.4], [2.0, 1.0, 0.5, 0.5]], dtype=dt, requires_grad=True)
lgc = m.tensor([[1.0, -0.5, 0.0, 2.0], [0.3, 0.3, -1.0, 0.1]], dtype=dt, requires_grad=True)
mu = m.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]], dtype=dt, requires_grad=True)
A = m.tensor([[2.0, 0.5, 0.1], [0.5, 1.5, -0.3], [0.1, -0.3, 1.0]], dtype=dt)
B = m.tensor([[1.0, 0.2, 0.0], [0.2, 3.0, 0.4], [0.0, 0.4, 0.8]], dtype=dt)
cov = m.stack([A, B]).requires_grad_()
cov1 = A.clone().requires_grad_()
tril = m.tensor([[1.2, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.5, 0.2, 1.5]], dtype=dt, requires_grad=True)
prec = B.clone().requires_grad_()
x = m.tensor([[[0.1, -2.0, 3.0]], [[1.0, 0.25, -0.5]]], dtype=dt)
u = m.tensor([[0.1, 0.5, 0.9], [0.3, 0.02, 0.75]], dtype=dt)
pos = m.tensor([[0.1, 2.0, 3.0], [1.0, 0.25, 0.0]], dtype=dt)
ux = m.tensor([[0.0, 0.5, 2.0], [-1.0, 0.7, 0.6]], dtype=dt)
bx = m.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=dt)
cx = m.tensor([[3, 0], [1, 2], [0, 0]])
ohx = m.nn.functional.one_hot(cx, 4).to(dt)
N = D.Normal(loc, scale)
U = D.Uniform(low, high)
E = D.Exponential(rate)
L = D.Laplace(loc, scale)
Bp = D.Bernoulli(probs=p)
Bl = D.Bernoulli(logits=lg)
Cp = D.Categorical(probs=pr)
Cl = D.Categorical(logits=lgc)
Mc = D.MultivariateNormal(mu, covariance_matrix=cov)
Mt = D.MultivariateNormal(loc2, scale_tril=tril)
Mp = D.MultivariateNormal(mu, precision_matrix=prec)
I = D.Independent(D.Normal(loc, scale), 1)
O = D.OneHotCategorical(probs=pr)
"""
LEAVES = ("loc", "scale", "loc2", "scale2", "low", "high", "rate", "rate2", "p", "p2", "lg",
          "pr", "lgc", "mu", "cov", "cov1", "tril", "prec")

EXPRS = [
    # Normal
    "N.log_prob(x)", "N.cdf(x)", "N.icdf(u)", "N.entropy()", "N.mean", "N.mode", "N.variance",
    "N.stddev", "N.perplexity()", "D.Normal(0.0, 2.0).log_prob(x)", "D.Normal(loc2, 1.0).cdf(x)",
    "D.Normal(loc, scale).expand((2, 2, 3)).log_prob(x)",
    # Uniform
    "U.log_prob(ux)", "U.cdf(ux)", "U.icdf(u)", "U.entropy()", "U.mean", "U.mode",
    "U.variance", "U.stddev", "D.Uniform(low, 5.0).log_prob(ux)",
    # Exponential
    "E.log_prob(pos)", "E.cdf(pos)", "E.icdf(u)", "E.entropy()", "E.mean", "E.mode",
    "E.variance", "E.stddev", "D.Exponential(2.0).log_prob(pos)",
    # Laplace
    "L.log_prob(x)", "L.cdf(x)", "L.icdf(u)", "L.entropy()", "L.mean", "L.mode", "L.variance",
    "L.stddev",
    # Bernoulli
    "Bp.log_prob(bx)", "Bl.log_prob(bx)", "Bp.entropy()", "Bl.entropy()", "Bp.mean",
    "Bl.mean", "Bp.mode", "Bl.mode", "Bp.variance", "Bl.variance", "Bp.logits", "Bl.probs",
    "Bp.enumerate_support()", "Bl.enumerate_support(False)",
    "D.Bernoulli(0.3).log_prob(bx.float())", "D.Bernoulli(p2).entropy()",
    # Categorical
    "Cp.log_prob(cx)", "Cl.log_prob(cx)", "Cp.entropy()", "Cl.entropy()", "Cp.probs",
    "Cp.logits", "Cl.probs", "Cl.logits", "Cp.mode", "Cl.mean", "Cp.variance",
    "Cp.enumerate_support()", "Cl.enumerate_support(expand=False)",
    "D.Categorical(probs=m.tensor([0.0, 0.5, 0.5], dtype=dt)).entropy()",
    "Cl.expand((5, 2)).log_prob(cx[:1])",
    # MultivariateNormal
    "Mc.log_prob(x)", "Mt.log_prob(x)", "Mp.log_prob(x)", "Mc.entropy()", "Mt.entropy()",
    "Mp.entropy()", "Mc.mean", "Mt.mode", "Mc.variance", "Mt.variance", "Mp.variance",
    "Mc.scale_tril", "Mt.covariance_matrix", "Mc.precision_matrix", "Mp.scale_tril",
    "Mp.covariance_matrix", "Mt.precision_matrix", "Mp.precision_matrix",
    "D.MultivariateNormal(loc2, covariance_matrix=cov1).log_prob(x)",
    "D.MultivariateNormal(loc2, covariance_matrix=cov).log_prob(x)",
    "Mt.expand((2, 2)).log_prob(x)", "D.MultivariateNormal(mu, scale_tril=tril).log_prob(x)",
    "D.MultivariateNormal(mu[:, :2], scale_tril=tril[1:, 1:]).log_prob(x[..., 1:])",
    "D.MultivariateNormal(mu, scale_tril=tril.mT.mT).entropy()",
    "D.MultivariateNormal(mu, covariance_matrix=cov1).variance",
    # Independent, OneHotCategorical
    "I.log_prob(x)", "I.entropy()", "I.mean", "I.variance",
    "D.Independent(D.Normal(loc, scale), 2).log_prob(x)", "O.log_prob(ohx)", "O.entropy()",
    "O.mean", "O.mode", "O.variance", "O.enumerate_support()",
    # the generic exponential-family entropy (Bregman) of the families that have one
    "D.ExponentialFamily.entropy(N)", "D.ExponentialFamily.entropy(Bp)",
    "D.ExponentialFamily.entropy(E)",
    # shapes and static attributes (sampled values differ: only shapes and dtypes compare)
    "N.sample().shape", "N.rsample((4, 1)).shape", "N.sample((5,)).dtype", "N.batch_shape",
    "N.event_shape", "U.rsample((2,)).shape", "E.rsample([3]).shape", "L.sample((2, 2)).shape",
    "Bp.sample((3,)).shape", "Bl.sample().dtype", "Cp.sample((4, 2)).shape",
    "Cl.sample().dtype", "Cp.batch_shape", "Cp.event_shape", "Mc.rsample((6,)).shape",
    "Mt.sample().shape", "Mc.batch_shape", "Mc.event_shape", "Mt.batch_shape",
    "I.batch_shape", "I.event_shape", "I.rsample((2,)).shape", "O.sample((3,)).shape",
    "O.sample().dtype", "O.event_shape", "D.Normal(0.0, 1.0).sample().shape",
    "D.Normal(0.0, 1.0).batch_shape", "D.Normal(m.tensor(0.0), 1.0).batch_shape",
    "N.sample().requires_grad", "N.rsample().requires_grad", "Mc.rsample().requires_grad",
    "U.sample().requires_grad", "E.rsample().requires_grad", "L.rsample().requires_grad",
    "[N.has_rsample, U.has_rsample, E.has_rsample, L.has_rsample, Bp.has_rsample, "
    "Cp.has_rsample, Mc.has_rsample, I.has_rsample, O.has_rsample]",
    "[Bp.has_enumerate_support, Cp.has_enumerate_support, N.has_enumerate_support, "
    "I.has_enumerate_support, O.has_enumerate_support]",
    "Bp.param_shape", "Cl.param_shape", "O.param_shape",
    "N.expand((4, 2, 3)).batch_shape", "Mc.expand((3, 2)).batch_shape",
    "I.expand((5, 2)).batch_shape", "Bl.expand((2, 3)).batch_shape",
    # reprs
    "repr(N)", "repr(D.Normal(0.0, 1.0))", "repr(U)", "repr(D.Uniform(0.0, 2.0))", "repr(E)",
    "repr(L)", "repr(Bp)", "repr(Bl)", "repr(D.Bernoulli(0.5))", "repr(Cp)", "repr(Cl)",
    "repr(Mc)", "repr(Mt)", "repr(Mp)", "repr(I)", "repr(O)",
    "repr(D.Categorical(logits=m.tensor([0.5, 0.5])))",
    "[repr(c) for c in (N.support, U.support, E.support, Bp.support, Cp.support, Mc.support, "
    "I.support, O.support)]",
    "[repr(c) for c in N.arg_constraints.values()]",
    "[repr(c) for c in Mc.arg_constraints.values()]",
    "[repr(c) for c in Bp.arg_constraints.values()]",
    "[repr(c) for c in U.arg_constraints.values()]",
    "D.constraints.positive.check(x)", "D.constraints.simplex.check(m.tensor([[0.5, 0.5], "
    "[0.2, 0.3]]))", "D.constraints.lower_cholesky.check(tril)",
    "D.constraints.positive_definite.check(cov)",
    "D.constraints.integer_interval(0, 3).check(m.tensor([0.0, 3.0, 4.0, 1.5]))",
    "D.constraints.real_vector.check(m.tensor([[1.0, float('nan')], [1.0, 2.0]]))",
    "U.support.check(ux)", "D.constraints.boolean.check(bx)", "D.constraints.one_hot.check(ohx)",
]

ERRORS = [
    "D.Normal(loc, -scale)", "D.Normal(m.tensor([0.0, float('nan')]), 1.0)",
    "D.Uniform(high, low)", "D.Exponential(-rate)", "D.Laplace(0.0, 0.0)",
    "D.Bernoulli(probs=1.5)", "D.Bernoulli()", "D.Bernoulli(probs=p, logits=lg)",
    "D.Categorical(probs=m.tensor([0.5, -0.5]))", "D.Categorical(probs=m.tensor(0.5))",
    "D.Categorical(logits=m.tensor(1.0))", "D.Categorical()",
    "D.MultivariateNormal(mu, covariance_matrix=-cov)",
    "D.MultivariateNormal(loc2, scale_tril=tril.t())",
    "D.MultivariateNormal(loc2, covariance_matrix=cov, scale_tril=tril)",
    "D.MultivariateNormal(loc2)", "D.MultivariateNormal(m.tensor(1.0), scale_tril=tril)",
    "D.MultivariateNormal(loc2, scale_tril=scale)",
    "D.MultivariateNormal(loc2, covariance_matrix=scale)",
    "D.MultivariateNormal(loc2, precision_matrix=scale)",
    "D.Independent(N, 3)", "N.log_prob(m.tensor([1.0, 2.0]))", "N.log_prob(x[:, :, :2])",
    "N.log_prob([1.0])", "E.log_prob(-pos)", "U.log_prob(ux + 10)", "Bp.log_prob(u)",
    "Cp.log_prob(m.tensor([4]))", "Mc.log_prob(x[..., :2])", "Mc.log_prob(m.ones(4, 3))",
    "O.log_prob(bx)",
    "N.expand((2,))", "Cp.expand((3,)).batch_shape", "I.enumerate_support()",
    "D.Normal(loc, scale, validate_args=False).log_prob(m.tensor([1.0, 2.0]))",
    "D.Normal(loc, -scale, validate_args=False).batch_shape", "D.Normal('a', 1.0)",
    "D.Distribution().mean", "D.Distribution().mode", "D.constraints.dependent.check(x)",
    "Mc.cdf(x)", "Cp.rsample()",
]


# kl_divergence: same families, and the cross pairs torch has among these families
KL_EXPRS = [
    "D.kl_divergence(N, D.Normal(loc2, scale2))", "D.kl_divergence(U, D.Uniform(-1.0, 4.0))",
    "D.kl_divergence(D.Uniform(-1.0, 4.0), U)", "D.kl_divergence(E, D.Exponential(rate2))",
    "D.kl_divergence(L, D.Laplace(loc2, scale2))", "D.kl_divergence(D.Bernoulli(p2[1]), Bp)",
    "D.kl_divergence(Bl, Bp)",
    "D.kl_divergence(D.Bernoulli(m.tensor([0.0, 1.0, 0.5], dtype=dt)), Bp)",
    "D.kl_divergence(Bp, D.Bernoulli(m.tensor([0.0, 1.0, 0.5], dtype=dt)))",
    "D.kl_divergence(Cp, Cl)", "D.kl_divergence(Cl, Cp)",
    "D.kl_divergence(D.Categorical(m.tensor([0.0, 0.5, 0.5], dtype=dt)), "
    "D.Categorical(m.tensor([0.5, 0.0, 0.5], dtype=dt)))",
    "D.kl_divergence(D.MultivariateNormal(mu[:, 1:], scale_tril=tril[1:, 1:]), "
    "D.MultivariateNormal(loc2[1:], scale_tril=tril[:2, :2]))", "D.kl_divergence(Mc, Mp)",
    "D.kl_divergence(Mt, Mc)", "D.kl_divergence(Mp, Mt)",
    "D.kl_divergence(I, D.Independent(D.Normal(loc2, scale2), 1))", "D.kl_divergence(O, O)",
    "D.kl_divergence(E, D.Normal(loc2, scale2))", "D.kl_divergence(L, D.Normal(loc2, scale2))",
    "D.kl_divergence(N, D.Laplace(loc2, scale2))", "D.kl_divergence(U, D.Normal(loc2, scale2))",
    "D.kl_divergence(U, D.Exponential(rate2))", "D.kl_divergence(N, D.Exponential(rate))",
    "D.kl_divergence(N, U)", "D.kl_divergence(L, E)", "D.kl_divergence(E, U)",
]
KL_ERRORS = [
    "D.kl_divergence(Bp, N)", "D.kl_divergence(Cp, Mc)", "D.kl_divergence(E, Bp)",
    "D.kl_divergence(I, D.Independent(D.Normal(loc, scale), 2))",
    "D.kl_divergence(Mc, D.MultivariateNormal(loc[:, :2], scale_tril=tril[:2, :2]))",
]
EXPRS += KL_EXPRS
ERRORS += KL_ERRORS


def _norm(s):
    """torch's and tapegrad's reprs read alike."""
    return re.sub(r"torch\.|tapegrad\.", "M.", str(s))


def _env(m, dt):
    env = {"m": m, "D": m.distributions, "dt": getattr(m, dt)}
    exec(SETUP, env)
    return env


def _eval(m, dt, expr, grads=True):
    """(shown value, gradients of sum(value * weights) with respect to LEAVES) of expr."""
    env = _env(m, dt)
    r = eval(expr, env)
    if not isinstance(r, type(env["x"])):
        return _norm(r), None
    shown = (r.detach().numpy(), str(r.dtype).split(".")[-1], tuple(r.shape))
    if not (grads and r.requires_grad):
        return shown, None
    # weights make each entry's gradient count; entries that are inf contribute nothing
    w = m.arange(1, r.numel() + 1, dtype=r.dtype).reshape(r.shape) / r.numel()
    fin = m.isfinite(r.detach())
    total = m.where(fin, r, m.zeros_like(r)).mul(w).sum()
    leaves = [env[k] for k in LEAVES]
    gs = m.autograd.grad(total, leaves, allow_unused=True)
    return shown, [None if g is None else g.numpy() for g in gs]


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("expr", EXPRS)
def test_as_torch(expr, dt):
    with np.errstate(all="ignore"):
        got, ggot = _eval(tapegrad, dt, expr)
        want, gwant = _eval(torch, dt, expr)
    if isinstance(want, str):
        assert got == want
        return
    tol = dict(rtol=1e-10, atol=1e-10) if want[1] == "float64" else dict(rtol=2e-5, atol=2e-5)
    assert got[1:] == want[1:]
    np.testing.assert_allclose(got[0], want[0], equal_nan=True, **tol)
    assert (ggot is None) == (gwant is None)
    if gwant is not None:
        for k, g, w in zip(LEAVES, ggot, gwant):
            if w is None or not np.any(w):
                assert g is None or not np.any(g), k
            else:
                assert g is not None, k
                np.testing.assert_allclose(g, w, equal_nan=True, err_msg=k, **tol)


def _error(m, expr):
    env = _env(m, "float32")
    try:
        r = eval(expr, env)
        return "no error: " + _norm(r)
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return f"{type(e).__name__}: {_norm(e)}"


@pytest.mark.parametrize("expr", ERRORS)
def test_errors_as_torch(expr):
    assert _error(tapegrad, expr) == _error(torch, expr)


def test_register_kl_dispatches_to_the_most_specific_pair():
    D = tapegrad.distributions
    kl = D.kl

    class MyNormal(D.Normal):
        """A Normal subclass with its own KL."""

    @D.register_kl(MyNormal, D.Normal)
    def _kl_mine(p, q):
        return p.loc * 0 + 42

    try:
        assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0)).item() == 42
        assert D.kl_divergence(D.Normal(0.0, 1.0), MyNormal(1.0, 1.0)).item() == 0.5
        assert D.kl_divergence(MyNormal(0.0, 1.0), MyNormal(1.0, 1.0)).item() == 42
    finally:
        del kl._KL_REGISTRY[MyNormal, D.Normal]
        kl._KL_MEMOIZE.clear()
    assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0)).item() == 0.5
