"""Scientific autograd programs as torch users write them (a PINN, a Hamiltonian NN, GP
regression, Monte Carlo Greeks, an unrolled RK4 solver, variational inference, optimiser
benchmarks), run with `torch` = tapegrad and with real torch from the same seed.  They report
through `p(*values)` and are cut in sections at `# --` lines, as in test_func_tutorials.py.
Each program's asserts (finite differences, closed forms, falling losses) check tapegrad alone."""
import numpy as np
import pytest

import tapegrad
from test_func_tutorials import _run, _same

# whole programs, each run with tapegrad and with torch: slow (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow


PINN = """
# -- a physics-informed MLP u(t, x) for the heat equation u_t = 0.1 u_xx on [0, 1]^2
import torch.nn as nn
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(2, 20), nn.Tanh(), nn.Linear(20, 20), nn.Tanh(), nn.Linear(20, 1))
t = torch.rand(128, 1, requires_grad=True)
x = torch.rand(128, 1, requires_grad=True)
x0 = torch.linspace(0, 1, 32).unsqueeze(1)
tb = torch.rand(32, 1)

def pde_residual(t, x):
    u = net(torch.cat([t, x], dim=1))
    u_t, u_x = torch.autograd.grad(u, (t, x), grad_outputs=torch.ones_like(u), create_graph=True)
    u_xx = torch.autograd.grad(u_x, x, grad_outputs=torch.ones_like(u_x), create_graph=True)[0]
    return u_t - 0.1 * u_xx, u_x, u_xx

opt = torch.optim.Adam(net.parameters(), lr=1e-2)
losses = []
for step in range(25):
    opt.zero_grad()
    res, u_x, u_xx = pde_residual(t, x)
    loss_pde = res.pow(2).mean()
    u0 = net(torch.cat([torch.zeros_like(x0), x0], dim=1))
    loss_ic = ((u0 - torch.sin(math.pi * x0)) ** 2).mean()
    ub = net(torch.cat([torch.cat([tb, tb]), torch.cat([torch.zeros_like(tb), torch.ones_like(tb)])], 1))
    loss_bc = ub.pow(2).mean()
    loss = loss_pde + loss_ic + loss_bc
    loss.backward()
    opt.step()
    losses.append(loss.item())
    if step % 5 == 0:
        p(step, loss, loss_pde.detach(), loss_ic.detach(), loss_bc.detach())
p(res.shape, u_x.dtype, u_xx.requires_grad, res.grad_fn is not None, net[0].weight.grad)
assert losses[-1] < 0.8 * losses[0]
# -- u_xx by autograd against central differences, in float64 (a fresh net: the trained
# weights agree with torch's only to float32 round-off)
torch.manual_seed(0)
net64 = nn.Sequential(nn.Linear(2, 20), nn.Tanh(), nn.Linear(20, 20), nn.Tanh(), nn.Linear(20, 1)).double()
xs = torch.tensor([[0.3], [0.7]], dtype=torch.float64, requires_grad=True)
ts = torch.full((2, 1), 0.5, dtype=torch.float64)
u = net64(torch.cat([ts, xs], 1))
(u_x,) = torch.autograd.grad(u.sum(), xs, create_graph=True)
(u_xx,) = torch.autograd.grad(u_x.sum(), xs)
h = 1e-4
f = lambda xv: net64(torch.cat([ts, xv], 1)).detach()
fd = (f(xs + h) - 2 * f(xs) + f(xs - h)) / h ** 2
assert torch.allclose(u_xx, fd, rtol=1e-5, atol=1e-6), (u_xx, fd)
p(u_x.detach(), u_xx)
"""

HNN = """
# -- a Hamiltonian NN: H(q, p) an MLP, the vector field (dH/dp, -dH/dq), fitted to a harmonic oscillator
import torch.nn as nn
torch.manual_seed(1)
class HNN(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, 1))
    def forward(self, q, p):
        return self.mlp(torch.cat([q, p], dim=-1))
    def time_derivative(self, q, p):
        H = self(q, p)
        dHdq, dHdp = torch.autograd.grad(H.sum(), (q, p), create_graph=True)
        return dHdp, -dHdq

model = HNN()
q = (2 * torch.rand(256, 1) - 1).requires_grad_()
pm = (2 * torch.rand(256, 1) - 1).requires_grad_()
dq_true, dp_true = pm.detach(), -q.detach()       # H = (q^2 + p^2) / 2
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
losses = []
for step in range(40):
    opt.zero_grad()
    dq, dp = model.time_derivative(q, pm)
    loss = torch.nn.functional.mse_loss(dq, dq_true) + torch.nn.functional.mse_loss(dp, dp_true)
    loss.backward()
    opt.step()
    losses.append(loss.item())
    if step % 8 == 0:
        p(step, loss)
p(dq.shape, dq.requires_grad, model.mlp[0].weight.grad, torch.tensor(losses))
assert losses[-1] < 0.5 * losses[0]
# -- roll out the learned field with leapfrog; the learned H is nearly conserved
z_q = torch.tensor([[0.5]], requires_grad=True)
z_p = torch.tensor([[0.0]], requires_grad=True)
H0 = model(z_q, z_p).item()
dt = 0.05
traj = []
for _ in range(40):
    dq, dp = model.time_derivative(z_q, z_p)
    p_half = z_p + 0.5 * dt * dp
    q_new = z_q + dt * model.time_derivative(z_q, p_half)[0]
    p_new = p_half + 0.5 * dt * model.time_derivative(q_new, p_half)[1]
    z_q, z_p = q_new.detach().requires_grad_(), p_new.detach().requires_grad_()
    traj.append(z_q.detach())
drift = abs(model(z_q, z_p).item() - H0)
p(torch.cat(traj[::8]))
assert drift < 5e-3
"""

GP = """
# -- GP regression: RBF kernel, log marginal likelihood by Cholesky, LBFGS then Adam on log-hyperparameters
torch.manual_seed(2)
dtype = torch.float64
X = torch.linspace(0, 6, 40, dtype=dtype).unsqueeze(-1)
y = torch.sin(X).squeeze(-1) + 0.1 * torch.randn(40, dtype=dtype)
log_ls = torch.tensor(0.0, dtype=dtype, requires_grad=True)
log_sf = torch.tensor(0.0, dtype=dtype, requires_grad=True)
log_sn = torch.tensor(-1.0, dtype=dtype, requires_grad=True)

def rbf(A, B, log_ls, log_sf):
    d2 = torch.cdist(A, B).pow(2)
    return torch.exp(2 * log_sf) * torch.exp(-0.5 * d2 / torch.exp(2 * log_ls))

def nll(log_ls, log_sf, log_sn):
    n = X.shape[0]
    K = rbf(X, X, log_ls, log_sf) + torch.exp(2 * log_sn) * torch.eye(n, dtype=dtype)
    L = torch.linalg.cholesky(K)
    alpha = torch.cholesky_solve(y.unsqueeze(-1), L)
    logdet = 2 * torch.log(torch.diagonal(L)).sum()
    return 0.5 * (y.unsqueeze(-1) * alpha).sum() + 0.5 * logdet + 0.5 * n * math.log(2 * math.pi)

loss0 = nll(log_ls, log_sf, log_sn)
g = torch.autograd.grad(loss0, (log_ls, log_sf, log_sn))
p(loss0, g)
# the gradient against central differences
h = 1e-6
params = [log_ls.detach(), log_sf.detach(), log_sn.detach()]
for i in range(3):
    up = [v + h if j == i else v for j, v in enumerate(params)]
    dn = [v - h if j == i else v for j, v in enumerate(params)]
    fd = (nll(*up) - nll(*dn)).item() / (2 * h)
    assert abs(fd - g[i].item()) < 1e-5 * max(1.0, abs(fd)), (i, fd, g[i].item())
# -- LBFGS with a closure
opt = torch.optim.LBFGS([log_ls, log_sf, log_sn], lr=0.5, max_iter=20)
def closure():
    opt.zero_grad()
    loss = nll(log_ls, log_sf, log_sn)
    loss.backward()
    return loss
for it in range(3):
    loss = opt.step(closure)
    p(it, loss, log_ls.detach(), log_sf.detach(), log_sn.detach())
assert nll(log_ls, log_sf, log_sn).item() < loss0.item()
# -- a few Adam steps from there, then predictions with variance (broadcast kernel)
adam = torch.optim.Adam([log_ls, log_sf, log_sn], lr=1e-3)
for it in range(5):
    adam.zero_grad()
    loss = nll(log_ls, log_sf, log_sn)
    loss.backward()
    adam.step()
    p(it, loss, log_ls.grad)
with torch.no_grad():
    Xs = torch.linspace(-1, 7, 9, dtype=dtype).unsqueeze(-1)
    ls, sf2, sn2 = log_ls.exp(), torch.exp(2 * log_sf), torch.exp(2 * log_sn)
    K = sf2 * torch.exp(-0.5 * ((X - X.T) / ls) ** 2) + sn2 * torch.eye(40, dtype=dtype)
    L = torch.linalg.cholesky(K)
    Ks = sf2 * torch.exp(-0.5 * ((Xs - X.T) / ls) ** 2)
    alpha = torch.cholesky_solve(y.unsqueeze(-1), L)
    mean = (Ks @ alpha).squeeze(-1)
    v = torch.linalg.solve_triangular(L, Ks.T, upper=False)
    var = sf2 - v.pow(2).sum(0)
p(mean, var, var.dtype)
assert (var > 0).all() and var[0] > var[4] and var[-1] > var[4]
assert (mean[1:-1] - torch.sin(Xs[1:-1, 0])).abs().max() < 0.15
"""

GREEKS = """
# -- European call: pathwise delta and vega, against Black-Scholes
torch.manual_seed(3)
dtype = torch.float64
S0 = torch.tensor(100.0, dtype=dtype, requires_grad=True)
sigma = torch.tensor(0.2, dtype=dtype, requires_grad=True)
K, r, T, n = 100.0, 0.05, 1.0, 200_000
Z = torch.randn(n, dtype=dtype)
def price_paths(S0, sigma, payoff):
    ST = S0 * torch.exp((r - 0.5 * sigma ** 2) * T + sigma * math.sqrt(T) * Z)
    return math.exp(-r * T) * payoff(ST).mean()
price = price_paths(S0, sigma, lambda s: torch.clamp(s - K, min=0))
delta, vega = torch.autograd.grad(price, (S0, sigma), create_graph=True)
(gamma_hard,) = torch.autograd.grad(delta, S0, allow_unused=True)
p(price, delta.detach(), vega.detach(), gamma_hard)

Phi = lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2)))
d1 = (math.log(100.0 / K) + (r + 0.5 * 0.2 ** 2) * T) / (0.2 * math.sqrt(T))
d2 = d1 - 0.2 * math.sqrt(T)
pdf = math.exp(-0.5 * d1 ** 2) / math.sqrt(2 * math.pi)
bs = dict(price=100.0 * Phi(d1) - K * math.exp(-r * T) * Phi(d2), delta=Phi(d1),
          vega=100.0 * pdf * math.sqrt(T), gamma=pdf / (100.0 * 0.2 * math.sqrt(T)))
assert abs(price.item() - bs["price"]) < 0.1, (price.item(), bs)
assert abs(delta.item() - bs["delta"]) < 0.01, (delta.item(), bs)
assert abs(vega.item() - bs["vega"]) < 0.5, (vega.item(), bs)
# -- gamma by create_graph through a softplus-smoothed payoff
smooth = price_paths(S0, sigma, lambda s: torch.nn.functional.softplus(s - K, beta=0.5))
(d_s,) = torch.autograd.grad(smooth, S0, create_graph=True)
(gamma,) = torch.autograd.grad(d_s, S0)
p(smooth, d_s.detach(), gamma)
assert abs(gamma.item() - bs["gamma"]) < 0.1 * bs["gamma"], (gamma.item(), bs)
# -- an arithmetic Asian call on 50 dates: pathwise Greeks against bump-and-revalue
m, dt = 50, T / 50
Zs = torch.randn(20_000, m, dtype=dtype)
def asian(S0, sigma):
    log_paths = torch.cumsum((r - 0.5 * sigma ** 2) * dt + sigma * math.sqrt(dt) * Zs, dim=1)
    S = S0 * torch.exp(log_paths)
    return math.exp(-r * T) * torch.clamp(S.mean(dim=1) - K, min=0).mean()
a = asian(S0, sigma)
a_delta, a_vega = torch.autograd.grad(a, (S0, sigma))
p(a, a_delta, a_vega)
with torch.no_grad():
    h = 1e-4
    fd_delta = (asian(S0 + h, sigma) - asian(S0 - h, sigma)) / (2 * h)
    fd_vega = (asian(S0, sigma + h) - asian(S0, sigma - h)) / (2 * h)
assert abs(fd_delta - a_delta) < 1e-4 * a_delta and abs(fd_vega - a_vega) < 1e-4 * a_vega, (fd_delta, a_delta, fd_vega, a_vega)
assert a.item() < price.item() and 0 < a_delta.item() < delta.item()
"""

NEURAL_ODE = """
# -- fit a damped oscillator's (omega, zeta) by backprop through an unrolled RK4 solver
import torch.nn as nn
torch.manual_seed(4)
dtype = torch.float64
def f(state, omega, zeta):
    x, v = state[..., 0], state[..., 1]
    return torch.stack([v, -2 * zeta * omega * v - omega ** 2 * x], dim=-1)
def rk4(state, omega, zeta, dt, steps):
    out = [state]
    for _ in range(steps):
        k1 = f(state, omega, zeta)
        k2 = f(state + 0.5 * dt * k1, omega, zeta)
        k3 = f(state + 0.5 * dt * k2, omega, zeta)
        k4 = f(state + dt * k3, omega, zeta)
        state = state + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(state)
    return torch.stack(out, dim=1)

y0 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-0.5, 0.5]], dtype=dtype)
with torch.no_grad():
    data = rk4(y0, torch.tensor(2.0, dtype=dtype), torch.tensor(0.1, dtype=dtype), 0.1, 40)
    data = data + 0.01 * torch.randn(data.shape, dtype=dtype)
class Oscillator(nn.Module):
    def __init__(self):
        super().__init__()
        self.log_omega = nn.Parameter(torch.tensor(math.log(1.5), dtype=dtype))
        self.zeta = nn.Parameter(torch.tensor(0.3, dtype=dtype))
    def forward(self, y0):
        return rk4(y0, self.log_omega.exp(), self.zeta, 0.1, 40)
model = Oscillator()
opt = torch.optim.Adam(model.parameters(), lr=0.05)
losses = []
for it in range(30):
    opt.zero_grad()
    pred = model(y0)
    loss = (pred[..., 0] - data[..., 0]).pow(2).mean()
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    opt.step()
    losses.append(loss.item())
    if it % 5 == 0:
        p(it, loss, norm, model.zeta.grad)
p(pred.shape, model.log_omega.exp(), model.zeta)
assert losses[-1] < 0.1 * losses[0]
# -- the solver's gradient against central differences
lo = model.log_omega.detach().clone().requires_grad_()
z = model.zeta.detach()
L = lambda lo: (rk4(y0, lo.exp(), z, 0.1, 40)[..., 0] - data[..., 0]).pow(2).mean()
(g,) = torch.autograd.grad(L(lo), lo)
with torch.no_grad():
    fd = (L(lo + 1e-6) - L(lo - 1e-6)) / 2e-6
assert abs(g - fd) < 1e-6 * max(1.0, abs(fd.item())), (g, fd)
p(g)
"""

VI = """
# -- Bayesian logistic regression by VI: mean-field Normal, reparameterised ELBO, Adam
D = torch.distributions
F = torch.nn.functional
torch.manual_seed(5)
N, d = 200, 3
X = torch.randn(N, d)
w_true = torch.tensor([1.5, -2.0, 0.5])
y = (torch.rand(N) < torch.sigmoid(X @ w_true)).float()
mu = torch.zeros(d, requires_grad=True)
rho = torch.full((d,), -1.0, requires_grad=True)
prior = D.Normal(torch.zeros(d), torch.ones(d))
opt = torch.optim.Adam([mu, rho], lr=0.05)
elbos = []
for step in range(60):
    opt.zero_grad()
    q = D.Normal(mu, F.softplus(rho))
    w = q.rsample((16,))
    logits = X @ w.T
    loglik = -F.binary_cross_entropy_with_logits(logits, y.unsqueeze(1).expand_as(logits), reduction="sum") / 16
    kl = D.kl_divergence(q, prior).sum()
    elbo = loglik - kl
    (-elbo).backward()
    opt.step()
    elbos.append(elbo.item())
    if step % 10 == 0:
        p(step, elbo, kl, w.shape, q.log_prob(w).sum(-1).mean())
p(mu, F.softplus(rho))
assert sum(elbos[-10:]) > sum(elbos[:10]) and (mu.detach() - w_true).abs().max() < 0.8
# -- full-covariance posterior: MultivariateNormal with a scale_tril, against Independent Normals
torch.manual_seed(6)
raw = torch.zeros(d, d, requires_grad=True)
mu2 = mu.detach().clone().requires_grad_()
opt = torch.optim.Adam([mu2, raw], lr=0.05)
mvn_prior = D.MultivariateNormal(torch.zeros(d), scale_tril=torch.eye(d))
for step in range(20):
    opt.zero_grad()
    L = torch.tril(raw, -1) + torch.diag_embed(F.softplus(torch.diagonal(raw) - 1.0))
    q = D.MultivariateNormal(mu2, scale_tril=L)
    w = q.rsample((16,))
    logits = X @ w.T
    loglik = -F.binary_cross_entropy_with_logits(logits, y.unsqueeze(1).expand_as(logits), reduction="sum") / 16
    elbo = loglik - D.kl_divergence(q, mvn_prior)
    (-elbo).backward()
    opt.step()
    if step % 5 == 0:
        p(step, elbo, raw.grad, q.entropy())
p(q.batch_shape, q.event_shape, q.covariance_matrix)
# a diagonal scale_tril is Independent(Normal): log_prob, entropy and KL agree
s = F.softplus(rho).detach()
ind = D.Independent(D.Normal(mu.detach(), s), 1)
diag = D.MultivariateNormal(mu.detach(), scale_tril=torch.diag(s))
w = ind.sample((5,))
assert torch.allclose(ind.log_prob(w), diag.log_prob(w), atol=1e-5)
assert torch.allclose(ind.entropy(), diag.entropy(), atol=1e-5)
kl_ind = D.kl_divergence(ind, D.Independent(prior, 1))
assert torch.allclose(kl_ind, D.kl_divergence(diag, mvn_prior), atol=1e-5)
p(ind.batch_shape, ind.event_shape, ind.log_prob(w), kl_ind)
"""

OPTIM = """
# -- 10-d Rosenbrock with each optimiser (float64)
dtype = torch.float64
def rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
x0 = torch.tensor([-1.2, 1.0] * 5, dtype=dtype)
def run(make, steps, sched=None, plateau=False):
    x = x0.clone().requires_grad_()
    opt = make([x])
    s = sched(opt) if sched else None
    hist = []
    for k in range(steps):
        opt.zero_grad()
        loss = rosen(x)
        loss.backward()
        opt.step()
        if s is not None:
            s.step(loss.item()) if plateau else s.step()
        hist.append(loss.item())
    return x, hist, opt.param_groups[0]["lr"]
O = torch.optim
results = {
    "sgd": run(lambda ps: O.SGD(ps, lr=1e-4, momentum=0.9, nesterov=True), 300,
               lambda o: O.lr_scheduler.StepLR(o, step_size=100, gamma=0.5)),
    "adam": run(lambda ps: O.Adam(ps, lr=0.02, amsgrad=True), 300,
                lambda o: O.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=5), plateau=True),
    "adamw": run(lambda ps: O.AdamW(ps, lr=0.02, weight_decay=1e-2), 300),
    "rmsprop": run(lambda ps: O.RMSprop(ps, lr=1e-3, alpha=0.9), 300),
}
for name, (x, hist, lr) in results.items():
    p(name, torch.tensor(hist[::60]), lr, x)
    assert hist[-1] < hist[0], name
# -- LBFGS with a strong-Wolfe line search
x = x0.clone().requires_grad_()
opt = O.LBFGS([x], lr=1, max_iter=50, line_search_fn="strong_wolfe", tolerance_grad=1e-10, tolerance_change=1e-14)
def closure():
    opt.zero_grad()
    loss = rosen(x)
    loss.backward()
    return loss
for it in range(4):
    loss = opt.step(closure)
    # rounded: the path is ill-conditioned (round-off differences grow to ~1e-9, see the test below)
    p(it, round(loss.item(), 6), opt.state[x]["func_evals"], opt.state[x]["n_iter"])
p(x)
assert rosen(x).item() < 1e-6
# -- Hessian-vector products and Newton-CG steps
x = torch.tensor([-1.0, 1.5] * 5, dtype=dtype)
v = torch.linspace(-1, 1, 10, dtype=dtype)
fx, Hv = torch.autograd.functional.hvp(rosen, x, v)
H = torch.autograd.functional.hessian(rosen, x)
assert torch.allclose(Hv, H @ v)
p(fx, Hv)
def newton_cg(x, iters=10):
    xg = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(rosen(xg), xg)
    d = torch.zeros_like(x)
    r = -g
    s = r.clone()
    for _ in range(iters):
        Hs = torch.autograd.functional.hvp(rosen, x, s)[1]
        curv = s @ Hs
        if curv <= 0:
            break
        a = (r @ r) / curv
        d = d + a * s
        r_new = r - a * Hs
        if r_new.norm() < 1e-10:
            break
        s = r_new + (r_new @ r_new) / (r @ r) * s
        r = r_new
    t = 1.0
    while rosen(x + t * d) > rosen(x) + 1e-4 * t * (g @ d):
        t *= 0.5
    return x + t * d
fs = [rosen(x).item()]
for k in range(8):
    x = newton_cg(x)
    fs.append(rosen(x).item())
p(torch.tensor(fs), x)
assert all(b <= a for a, b in zip(fs, fs[1:])) and fs[-1] < 1e-3 * fs[0]
"""

PROGRAMS = {"pinn": PINN, "hamiltonian_nn": HNN, "gaussian_process": GP, "mc_greeks": GREEKS,
            "neural_ode_rk4": NEURAL_ODE, "variational_inference": VI, "optimisers": OPTIM}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_runs_and_its_checks_hold_on_tapegrad(name):
    """Without torch: every section runs and its asserts (finite differences, closed forms,
    falling losses) hold."""
    out = _run(PROGRAMS[name], tapegrad)
    assert not [r for r in out if isinstance(r, str)], out


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_reports_what_torch_reports(name, torch_ref):
    _same(_run(PROGRAMS[name], tapegrad), _run(PROGRAMS[name], torch_ref))



def test_add_alpha_rounds_as_torch(torch_ref):
    g = tapegrad.Generator().manual_seed(0)
    a, b = tapegrad.randn(1000, dtype=tapegrad.float64, generator=g), tapegrad.randn(1000, dtype=tapegrad.float64, generator=g)
    want = torch_ref.tensor(a.numpy()).add(torch_ref.tensor(b.numpy()), alpha=0.37)
    assert (a.add(b, alpha=0.37).numpy() == want.numpy()).all()


@pytest.mark.xfail(strict=True, reason="a 10-element float64 sum is not torch's to the last bit "
                   "(torch's vectorised lanes add in another order)")
def test_small_sum_rounds_as_torch(torch_ref):
    v = [-1.2, 1.0] * 5
    f = lambda m, x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum().item()  # noqa: E731
    assert f(tapegrad, tapegrad.tensor(v, dtype=tapegrad.float64)) == f(torch_ref, torch_ref.tensor(v, dtype=torch_ref.float64))


def _within(a, b, tol, where="out"):
    """_same with a relative tolerance `tol` for the arrays."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, (where, a, b)
        assert np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True), (where, a, b)
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), (where, a, b)
        for i, (x, y) in enumerate(zip(a, b)):
            _within(x, y, tol, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def test_lbfgs_rosenbrock_path_as_torch(torch_ref):
    # NOTE: LBFGS on Rosenbrock amplifies last-bit differences (the two tests above) to ~1e-8
    # after 50 iterations on hosts where torch's kernels round them otherwise (an AMD EPYC
    # host; an Intel Xeon one gave torch's path exactly): the path within 1e-6, not 1e-9
    src = OPTIM.replace("round(loss.item(), 6)", "loss")
    _within(_run(src, tapegrad), _run(src, torch_ref), 1e-6)
