"""Programs of the kinds tapegrad's users write -- fits and optimisers (LBFGS with a strong
Wolfe line search, Newton-CG on Hessian-vector products, Adam on a GP marginal likelihood),
scientific models (a Kalman filter, HMC, Sinkhorn transport, a neural ODE, Monte Carlo
Greeks), small nets (attention, GRU/LSTM on packed sequences, a U-Net, a GAN, flows, VAEs,
PPO), torch.func per-sample gradients and ensembles, and the training-loop furniture
(DataLoader/random_split, schedulers, EMA, gradient accumulation, checkpoints through
io.BytesIO) -- each a function of the `torch` module, run with tapegrad and with real torch
from the same seed: the same trajectories (losses, parameters, gradients, samples) and the
same printed text."""

import copy
import io
import math
import warnings

import numpy as np
import pytest

import tapegrad

# whole programs, each run with tapegrad and with torch: slow (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow


def logreg_lbfgs(torch):
    torch.manual_seed(0)
    X = torch.randn(64, 5, dtype=torch.float64)
    w_true = torch.randn(5, dtype=torch.float64)
    y = (torch.sigmoid(X @ w_true) > torch.rand(64, dtype=torch.float64)).double()
    w = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b], lr=1, max_iter=20, history_size=5, line_search_fn='strong_wolfe'
    )
    losses = []

    def closure():
        opt.zero_grad()
        loss = (
            torch.nn.functional.binary_cross_entropy_with_logits(X @ w + b, y)
            + 1e-2 * w.pow(2).sum()
        )
        loss.backward()
        losses.append(loss.item())
        return loss

    for _ in range(3):
        opt.step(closure)
    st = opt.state_dict()["state"][0]
    return {
        "loss": losses,
        "w": w.tolist(),
        "b": b.tolist(),
        "n_iter": [st["n_iter"], st["func_evals"]],
        "grad": w.grad.tolist(),
    }


def least_squares(torch):
    torch.manual_seed(1)
    A = torch.randn(30, 4)
    x_true = torch.tensor([1.0, -2.0, 0.5, 3.0])
    bvec = A @ x_true + 0.01 * torch.randn(30)
    sol = torch.linalg.lstsq(A, bvec.unsqueeze(1)).solution.squeeze(1)
    x = torch.zeros(4, requires_grad=True)
    opt = torch.optim.SGD([x], lr=0.01, momentum=0.9, nesterov=True)
    losses = []
    for i in range(40):
        opt.zero_grad()
        r = A @ x - bvec
        loss = 0.5 * (r * r).sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    Q, R = torch.linalg.qr(A)
    xqr = torch.linalg.solve_triangular(R, (Q.T @ bvec).unsqueeze(1), upper=True).squeeze(1)
    pinv = torch.linalg.pinv(A) @ bvec
    return {
        "loss": losses,
        "x": x.tolist(),
        "sol": sol.tolist(),
        "xqr": xqr.tolist(),
        "pinv": pinv.tolist(),
        "norm": [
            torch.linalg.norm(A @ sol - bvec).item(),
            torch.linalg.matrix_norm(A).item(),
            torch.linalg.cond(A).item(),
        ],
    }


def hvp_newton(torch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(3, 6), nn.Softplus(), nn.Linear(6, 1)).double()
    X = torch.randn(40, 3, dtype=torch.float64)
    y = torch.sin(X.sum(1, keepdim=True))
    params = list(model.parameters())

    def loss_fn():
        return ((model(X) - y) ** 2).mean()

    out = {"loss": [], "hvp": [], "gn": []}
    for it in range(4):
        loss = loss_fn()
        grads = torch.autograd.grad(loss, params, create_graph=True)
        flat = torch.cat([g.reshape(-1) for g in grads])
        v = torch.ones_like(flat) / flat.numel() ** 0.5
        Hv = torch.autograd.grad(flat @ v, params, retain_graph=True)
        Hv = torch.cat([h.reshape(-1) for h in Hv])
        out["hvp"].append(Hv[:5].tolist())
        # CG on (H + damping) d = -g
        g = flat.detach()
        d = torch.zeros_like(g)
        r = -g.clone()
        p = r.clone()
        for k in range(3):  # (CG on an indefinite Hessian: later steps amplify round-off)
            Hp = (
                torch.cat(
                    [
                        h.reshape(-1)
                        for h in torch.autograd.grad(flat @ p, params, retain_graph=True)
                    ]
                )
                + 1e-2 * p
            )
            alpha = (r @ r) / (p @ Hp)
            d = d + alpha * p
            r_new = r - alpha * Hp
            beta = (r_new @ r_new) / (r @ r)
            p = r_new + beta * p
            r = r_new
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(
                torch.nn.utils.parameters_to_vector(params) + 0.5 * d, params
            )
        out["loss"].append(loss.item())
        out["gn"].append(g.norm().item())

    # full hessian via torch.autograd.functional
    def f(w):
        return (torch.tanh(X @ w) ** 2).sum()

    w0 = torch.randn(3, dtype=torch.float64)
    H = torch.autograd.functional.hessian(f, w0)
    _, hv = torch.autograd.functional.hvp(f, w0, torch.ones(3, dtype=torch.float64))
    _, vhp = torch.autograd.functional.vhp(f, w0, torch.ones(3, dtype=torch.float64))
    J = torch.autograd.functional.jacobian(lambda w: torch.tanh(X[:4] @ w), w0)
    out["H"] = H.flatten().tolist()
    out["hv"] = hv.tolist() + vhp.tolist()
    out["J"] = J.flatten().tolist()
    return out


def transformer_cls(torch):
    torch.manual_seed(0)
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self, vocab=12, d=16, nhead=2, ncls=3):
            super().__init__()
            self.emb = nn.Embedding(vocab, d, padding_idx=0)
            self.pos = nn.Parameter(torch.zeros(1, 10, d))
            layer = nn.TransformerEncoderLayer(
                d, nhead, dim_feedforward=32, dropout=0.1, batch_first=True
            )
            self.enc = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, ncls)

        def forward(self, x):
            mask = x == 0
            h = self.emb(x) + self.pos[:, : x.size(1)]
            h = self.enc(h, src_key_padding_mask=mask)
            h = h.masked_fill(mask.unsqueeze(-1), 0).sum(1) / (~mask).sum(1, keepdim=True)
            return self.head(self.norm(h))

    x = torch.randint(1, 12, (32, 10))
    lens = torch.randint(4, 11, (32,))
    x[torch.arange(10)[None, :] >= lens[:, None]] = 0
    y = (x == 3).sum(1) % 3
    model = Net()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": nodecay, "weight_decay": 0.0}], lr=3e-3
    )
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=12)
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)
    losses, norms, lrs = [], [], []
    for step in range(12):
        idx = torch.randperm(32)[:8]
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = crit(model(x[idx]), y[idx])
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
        opt.step()
        sched.step()
        losses.append(loss.item())
        lrs.append(sched.get_last_lr()[0])
    model.eval()
    with torch.no_grad():
        logits = model(x)
        acc = (logits.argmax(1) == y).float().mean().item()
    return {
        "loss": losses,
        "norm": norms,
        "lr": lrs,
        "acc": [acc],
        "logits": logits[:4].flatten().tolist(),
        "repr": repr(model),
    }


def gru_packed(torch):
    torch.manual_seed(0)
    nn = torch.nn
    from_rnn = nn.utils.rnn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 8, num_layers=2, batch_first=True, bidirectional=True)
            self.out = nn.Linear(16, 1)

        def forward(self, x, lens):
            packed = from_rnn.pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
            out, h = self.gru(packed)
            out, out_lens = from_rnn.pad_packed_sequence(out, batch_first=True)
            last = torch.cat([h[-2], h[-1]], dim=1)
            return self.out(last).squeeze(1), out, out_lens

    seqs = [torch.randn(int(n), 3, dtype=torch.float64) for n in torch.randint(2, 7, (6,))]
    lens = torch.tensor([len(s) for s in seqs])
    x = from_rnn.pad_sequence(seqs, batch_first=True)
    target = torch.stack([s.sum() for s in seqs])
    model = Model().double()
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.5)
    losses = []
    for i in range(8):
        opt.zero_grad()
        pred, out, out_lens = model(x, lens)
        loss = nn.functional.smooth_l1_loss(pred, target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    packed = from_rnn.pack_sequence(seqs, enforce_sorted=False)
    return {
        "loss": losses,
        "out": out.sum(dim=(1, 2)).tolist(),
        "lens": out_lens.tolist(),
        "bs": packed.batch_sizes.tolist(),
        "sorted": packed.sorted_indices.tolist(),
        "w": model.gru.weight_hh_l1_reverse.grad.flatten()[:6].tolist(),
    }


def char_rnn(torch):
    torch.manual_seed(0)
    nn = torch.nn
    text = "hello world, hello tapegrad. "
    chars = sorted(set(text))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text * 3])
    V = len(chars) + 1

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, 8)
            self.rnn = nn.LSTM(8, 16, batch_first=True)
            self.drop = nn.Dropout(0.2)
            self.fc = nn.Linear(16, V)

        def forward(self, x, hc=None):
            h, hc = self.rnn(self.emb(x), hc)
            return self.fc(self.drop(h)), hc

    model = CharRNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    crit = nn.CrossEntropyLoss(ignore_index=0)
    L = 12
    losses = []
    for step in range(10):
        starts = torch.randint(0, len(data) - L - 1, (4,))
        xb = torch.stack([data[s : s + L] for s in starts])
        yb = torch.stack([data[s + 1 : s + L + 1] for s in starts])
        yb[:, :3] = 0  # warm-up positions ignored
        logits, _ = model(xb)
        loss = crit(logits.reshape(-1, V), yb.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 0.5)
        opt.step()
        losses.append(loss.item())
    model.eval()
    x = torch.tensor([[stoi['h']]])
    hc = None
    sample = []
    with torch.no_grad():
        for _ in range(15):
            logits, hc = model(x, hc)
            probs = torch.softmax(logits[0, -1] / 0.8, dim=0)
            nxt = torch.multinomial(probs, 1)
            sample.append(nxt.item())
            x = nxt.view(1, 1)
    return {"loss": losses, "sample": sample}


def normalizing_flow(torch):
    torch.manual_seed(0)
    nn = torch.nn
    D = torch.distributions

    class Coupling(nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            self.net = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.1), nn.Linear(16, 4))

        def forward(self, x):
            xm = x * self.mask
            s, t = self.net(xm).chunk(2, dim=1)
            s = torch.tanh(s) * (1 - self.mask)
            t = t * (1 - self.mask)
            y = xm + (1 - self.mask) * (x * torch.exp(s) + t)
            return y, s.sum(1)

    layers = nn.ModuleList(
        [
            Coupling(torch.tensor([1.0, 0.0])),
            Coupling(torch.tensor([0.0, 1.0])),
            Coupling(torch.tensor([1.0, 0.0])),
        ]
    )
    base = D.MultivariateNormal(torch.zeros(2), torch.eye(2))
    # two moons-ish data
    n = 128
    th = torch.rand(n) * math.pi
    data = torch.stack([torch.cos(th), torch.sin(th)], 1) + 0.1 * torch.randn(n, 2)
    opt = torch.optim.Adam(layers.parameters(), lr=5e-3)
    losses = []
    for step in range(15):
        z, logdet = data, torch.zeros(n)
        for l in layers:
            z, ld = l(z)
            logdet = logdet + ld
        loss = -(base.log_prob(z) + logdet).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    ind = D.Independent(D.Normal(torch.zeros(2), torch.ones(2)), 1)
    tr = D.TransformedDistribution(
        D.Normal(0.0, 1.0), [D.transforms.AffineTransform(1.0, 2.0), D.transforms.ExpTransform()]
    )
    xs = torch.tensor([0.5, 1.0, 3.0])
    smp = tr.sample((3,))
    return {
        "loss": losses,
        "ind": ind.log_prob(z[:3].detach()).tolist(),
        "tr": tr.log_prob(xs).tolist(),
        "smp": smp.tolist(),
        "ent": [base.entropy().item()],
        "g": layers[0].net[0].weight.grad.flatten().tolist(),
    }


def vae_kl(torch):
    torch.manual_seed(0)
    nn = torch.nn
    D = torch.distributions

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(10, 16), nn.ELU(), nn.Linear(16, 4))
            self.dec = nn.Sequential(nn.Linear(2, 16), nn.GELU(), nn.Linear(16, 10))

        def forward(self, x):
            mu, log_sigma = self.enc(x).chunk(2, -1)
            q = D.Normal(mu, log_sigma.exp())
            z = q.rsample()
            logits = self.dec(z)
            p = D.Bernoulli(logits=logits)
            prior = D.Normal(torch.zeros_like(mu), torch.ones_like(mu))
            kl = D.kl_divergence(q, prior).sum(-1)
            return -(p.log_prob(x).sum(-1) - kl).mean(), kl.mean()

    x = (torch.rand(32, 10) < 0.3).float()
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, amsgrad=True)
    out = {"loss": [], "kl": []}
    for step in range(12):
        loss, kl = model(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        out["loss"].append(loss.item())
        out["kl"].append(kl.item())
    # closed forms vs a few more KL pairs
    a = D.Categorical(logits=torch.randn(3, 4))
    b = D.Categorical(probs=torch.softmax(torch.randn(3, 4), -1))
    m1 = D.MultivariateNormal(torch.randn(2), scale_tril=torch.tensor([[1.0, 0.0], [0.3, 0.5]]))
    m2 = D.MultivariateNormal(
        torch.zeros(2), covariance_matrix=torch.tensor([[2.0, 0.3], [0.3, 1.0]])
    )
    out["kl2"] = D.kl_divergence(a, b).tolist() + [
        D.kl_divergence(m1, m2).item(),
        D.kl_divergence(D.Beta(2.0, 3.0), D.Beta(1.5, 1.5)).item(),
        D.kl_divergence(D.Gamma(2.0, 1.0), D.Gamma(3.0, 2.0)).item(),
    ]
    return out


def small_gan(torch):
    torch.manual_seed(0)
    nn = torch.nn
    G = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    Dn = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    optG = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optD = torch.optim.Adam(Dn.parameters(), lr=2e-3, betas=(0.5, 0.999))
    crit = nn.BCEWithLogitsLoss()
    out = {"d": [], "g": []}
    for it in range(15):
        real = torch.randn(16, 2) * 0.5 + torch.tensor([2.0, -1.0])
        z = torch.randn(16, 2)
        fake = G(z)
        optD.zero_grad()
        lossD = crit(Dn(real), torch.ones(16, 1)) + crit(Dn(fake.detach()), torch.zeros(16, 1))
        lossD.backward()
        optD.step()
        optG.zero_grad()
        lossG = crit(Dn(fake), torch.ones(16, 1))
        lossG.backward()
        optG.step()
        out["d"].append(lossD.item())
        out["g"].append(lossG.item())
    # gradient penalty (WGAN-GP style) with create_graph
    alpha = torch.rand(16, 1)
    inter = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    (gr,) = torch.autograd.grad(Dn(inter).sum(), inter, create_graph=True)
    gp = ((gr.norm(2, dim=1) - 1) ** 2).mean()
    gp.backward()
    out["gp"] = [gp.item()] + Dn[0].weight.grad.flatten().tolist()
    return out


def per_sample_grads(torch):
    torch.manual_seed(0)
    nn = torch.nn
    from_func = torch.func
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    x = torch.randn(6, 4)
    y = torch.randint(0, 3, (6,))

    def loss_one(p, b, xi, yi):
        out = from_func.functional_call(model, (p, b), (xi.unsqueeze(0),))
        return nn.functional.cross_entropy(out, yi.unsqueeze(0))

    ps = from_func.vmap(from_func.grad(loss_one), in_dims=(None, None, 0, 0))(params, buffers, x, y)
    # compare to a loop
    loop = []
    for i in range(6):
        model.zero_grad()
        nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        loop.append(model[0].weight.grad.clone())
    loop = torch.stack(loop)
    jac = from_func.jacrev(lambda xi: from_func.functional_call(model, params, (xi,)))(x[0])
    hess = from_func.hessian(lambda xi: from_func.functional_call(model, params, (xi,)).sum())(x[0])
    g, val = from_func.grad_and_value(lambda w: (w**3).sum())(torch.tensor([1.0, 2.0]))
    jf = from_func.jacfwd(torch.sin)(torch.tensor([0.1, 0.2]))
    # DP-SGD style clipping of per-sample grads
    norms = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in ps.values()))
    factor = (1.0 / (norms + 1e-6)).clamp(max=1.0)
    clipped = {k: (g * factor.view(-1, *([1] * (g.dim() - 1)))).mean(0) for k, g in ps.items()}
    return {
        "ps": ps["0.weight"].flatten().tolist(),
        "loop": loop.flatten().tolist(),
        "jac": jac.flatten().tolist(),
        "hess": hess.flatten().tolist(),
        "vg": [val.item()] + g.tolist(),
        "jf": jf.flatten().tolist(),
        "norms": norms.tolist(),
        "clipped": clipped["2.bias"].tolist(),
        "keys": " ".join(sorted(ps)),
    }


def data_pipeline(torch):
    torch.manual_seed(0)
    nn = torch.nn
    from_data = torch.utils.data
    X = torch.randn(50, 3)
    y = X @ torch.tensor([1.0, -1.0, 2.0]) + 0.1 * torch.randn(50)
    ds = from_data.TensorDataset(X, y)
    gen = torch.Generator().manual_seed(42)
    train, val = from_data.random_split(ds, [40, 10], generator=gen)
    loader = from_data.DataLoader(train, batch_size=8, shuffle=True, drop_last=False)
    vloader = from_data.DataLoader(val, batch_size=4)
    model = nn.Linear(3, 1)
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3)
    out = {"loss": [], "val": [], "ema": [], "idx": list(train.indices)}
    accum = 2
    for epoch in range(3):
        opt.zero_grad(set_to_none=True)
        for i, (xb, yb) in enumerate(loader):
            loss = nn.functional.mse_loss(model(xb).squeeze(-1), yb) / accum
            loss.backward()
            if (i + 1) % accum == 0:
                opt.step()
                opt.zero_grad(set_to_none=True)
                with torch.no_grad():
                    for pe, pm in zip(ema.parameters(), model.parameters()):
                        pe.mul_(0.9).add_(pm, alpha=0.1)
                    ema.bias.lerp_(model.bias, 0.05)
            out["loss"].append(loss.item())
        sched.step()
        with torch.no_grad():
            v = sum(
                nn.functional.mse_loss(ema(xb).squeeze(-1), yb, reduction="sum").item()
                for xb, yb in vloader
            ) / len(val)
        out["val"].append(v)
        out["ema"] += ema.weight.flatten().tolist()
    # checkpoint round trip through BytesIO, then continue training identically
    buf = io.BytesIO()
    torch.save(
        {
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "epoch": 3,
        },
        buf,
    )
    buf.seek(0)
    ck = torch.load(buf, weights_only=True)
    model2 = nn.Linear(3, 1)
    model2.load_state_dict(ck["model"])
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    opt2.load_state_dict(ck["opt"])
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        nn.functional.mse_loss(m(X).squeeze(-1), y).backward()
        o.step()
    out["resume"] = (model.weight - model2.weight).abs().max().item() == 0.0
    out["w"] = model2.weight.flatten().tolist()
    out["sd"] = (
        repr(sorted(ck["opt"]["state"][0].keys()))
        + repr(ck["opt"]["param_groups"][0])
        + repr(ck["sched"])
    )
    return out


def mc_barrier(torch):
    torch.manual_seed(0)
    S0 = torch.tensor(100.0, dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    r = torch.tensor(0.03, dtype=torch.float64, requires_grad=True)
    T, n, paths = 1.0, 16, 4000
    dt = T / n
    Z = torch.randn(paths, n, dtype=torch.float64)
    logS = torch.log(S0) + torch.cumsum(
        (r - 0.5 * sigma**2) * dt + sigma * math.sqrt(dt) * Z, dim=1
    )
    S = torch.exp(logS)
    K, B = 100.0, 130.0
    # smoothed barrier indicator (sigmoid) so the pathwise derivative exists
    alive = torch.prod(torch.sigmoid((B - S) * 2.0), dim=1)
    payoff = torch.relu(S[:, -1] - K) * alive
    price = torch.exp(-r * T) * payoff.mean()
    delta, vega, rho = torch.autograd.grad(price, (S0, sigma, r), create_graph=True)
    (gamma,) = torch.autograd.grad(delta, S0, retain_graph=True)
    lookback = torch.exp(-r * T) * (S.max(dim=1).values - K).clamp(min=0).mean()
    lb = torch.autograd.grad(lookback, (S0, sigma), retain_graph=True)
    avg = torch.exp(-r * T) * torch.nn.functional.softplus(S.mean(1) - K, beta=5).mean()
    ag = torch.autograd.grad(avg, sigma)
    return {
        "price": [price.item(), lookback.item(), avg.item()],
        "greeks": [delta.item(), vega.item(), rho.item(), gamma.item()],
        "lb": [g.item() for g in lb],
        "ag": [ag[0].item()],
    }


def gp_marginal(torch):
    torch.manual_seed(0)
    X = torch.rand(25, 2, dtype=torch.float64) * 4
    y = torch.sin(X[:, 0]) * torch.cos(X[:, 1]) + 0.05 * torch.randn(25, dtype=torch.float64)
    raw = torch.zeros(4, dtype=torch.float64, requires_grad=True)  # log ls1, ls2, sf, sn
    opt = torch.optim.Adam([raw], lr=0.05)
    out = {"nll": []}

    def nll():
        ls = torch.exp(raw[:2])
        sf2 = torch.exp(2 * raw[2])
        sn2 = torch.exp(2 * raw[3]) + 1e-6
        d = torch.cdist(X / ls, X / ls)
        K = sf2 * torch.exp(-0.5 * d**2) + sn2 * torch.eye(25, dtype=torch.float64)
        L = torch.linalg.cholesky(K)
        alpha = torch.cholesky_solve(y.unsqueeze(1), L)
        return (
            0.5 * (y.unsqueeze(0) @ alpha).squeeze()
            + torch.log(torch.diagonal(L)).sum()
            + 12.5 * math.log(2 * math.pi),
            K,
            L,
        )

    for step in range(30):
        opt.zero_grad()
        loss, K, L = nll()
        loss.backward()
        opt.step()
        out["nll"].append(loss.item())
    loss, K, L = nll()
    sign, ld = torch.linalg.slogdet(K)
    out["logdet"] = [
        ld.item(),
        torch.logdet(K).item(),
        2 * torch.log(torch.diagonal(L)).sum().item(),
        sign.item(),
    ]
    Kinv = torch.cholesky_inverse(L)
    Xs = torch.tensor([[1.0, 1.0], [2.0, 3.0]], dtype=torch.float64)
    ls = torch.exp(raw[:2])
    ks = torch.exp(2 * raw[2]) * torch.exp(-0.5 * torch.cdist(Xs / ls, X / ls) ** 2)
    mean = ks @ Kinv @ y
    mean.sum().backward()
    out["mean"] = mean.tolist()
    out["raw"] = raw.tolist() + raw.grad.tolist()
    return out


def neural_ode(torch):
    torch.manual_seed(0)
    nn = torch.nn
    f = nn.Sequential(nn.Linear(2, 16), nn.SiLU(), nn.Linear(16, 2))

    def rk4(y, t0, t1, steps):
        h = (t1 - t0) / steps
        ys = [y]
        for _ in range(steps):
            k1 = f(y)
            k2 = f(y + 0.5 * h * k1)
            k3 = f(y + 0.5 * h * k2)
            k4 = f(y + h * k3)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            ys.append(y)
        return torch.stack(ys)

    # target: damped rotation
    A = torch.tensor([[-0.1, 1.0], [-1.0, -0.1]])
    y0 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    with torch.no_grad():
        truth = [y0]
        y = y0
        for _ in range(20):
            y = y + 0.1 * y @ A.T
            truth.append(y)
        truth = torch.stack(truth)
    opt = torch.optim.Adam(f.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.95)
    losses = []
    for it in range(10):
        pred = rk4(y0, 0.0, 2.0, 20)
        loss = (pred - truth).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return {
        "loss": losses,
        "pred": pred[-1].flatten().tolist(),
        "g": f[0].weight.grad.flatten().tolist(),
    }


def attention_lm(torch):
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional
    V, T, d = 11, 8, 16

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.ln2 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d, bias=False)
            self.proj = nn.Linear(d, d)
            self.mlp = nn.Sequential(
                nn.Linear(d, 4 * d),
                nn.GELU(approximate="tanh"),
                nn.Linear(4 * d, d),
                nn.Dropout(0.1),
            )
            self.register_buffer("mask", torch.tril(torch.ones(T, T)).view(1, 1, T, T))

        def forward(self, x):
            B, L, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q = q.view(B, L, 2, C // 2).transpose(1, 2)
            k = k.view(B, L, 2, C // 2).transpose(1, 2)
            v = v.view(B, L, 2, C // 2).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.mask[:, :, :L, :L] == 0, float('-inf'))
            att = F.softmax(att, dim=-1)
            y = att @ v
            y2 = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            y = 0.5 * (y + y2)
            y = y.transpose(1, 2).contiguous().view(B, L, C)
            x = x + self.proj(y)
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(V, d)
            self.wpe = nn.Embedding(T, d)
            self.blocks = nn.Sequential(Block(), Block())
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, V, bias=False)
            self.wte.weight = self.head.weight  # weight tying
            self.apply(self._init)

        def _init(self, m):
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

        def forward(self, idx, targets=None):
            pos = torch.arange(idx.size(1))
            x = self.blocks(self.wte(idx) + self.wpe(pos))
            logits = self.head(self.ln(x))
            loss = (
                None
                if targets is None
                else F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)
            )
            return logits, loss

        @torch.no_grad()
        def generate(self, idx, n):
            for _ in range(n):
                logits, _ = self(idx[:, -T:])
                logits = logits[:, -1, :] / 0.9
                v, _ = torch.topk(logits, 3)
                logits[logits < v[:, [-1]]] = -float('Inf')
                idx = torch.cat((idx, torch.multinomial(F.softmax(logits, -1), 1)), dim=1)
            return idx

    model = GPT()
    data = torch.randint(0, V, (200,))
    opt = torch.optim.AdamW(
        model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1, fused=None
    )
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=1e-4)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[3])
    losses, lrs = [], []
    for it in range(10):
        ix = torch.randint(len(data) - T - 1, (4,))
        x = torch.stack([data[i : i + T] for i in ix])
        y = torch.stack([data[i + 1 : i + T + 1] for i in ix])
        y[0, :2] = -1
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        lrs.append(opt.param_groups[0]["lr"])
    model.eval()
    gen = model.generate(torch.zeros(1, 1, dtype=torch.long), 10)
    nparams = sum(p.numel() for p in model.parameters())
    return {"loss": losses, "lr": lrs, "gen": gen.flatten().tolist(), "n": [nparams]}


def mha_seq2seq(torch):
    torch.manual_seed(0)
    nn = torch.nn
    tr = nn.Transformer(
        d_model=8,
        nhead=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        dim_feedforward=16,
        dropout=0.0,
        batch_first=True,
        norm_first=True,
    )
    mha = nn.MultiheadAttention(8, 2, batch_first=True, kdim=6, vdim=5)
    tr.double()
    mha.double()
    src = torch.randn(3, 5, 8).double()
    tgt = torch.randn(3, 4, 8).double()
    tmask = nn.Transformer.generate_square_subsequent_mask(4).double()
    kpm = torch.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])
    opt = torch.optim.NAdam(list(tr.parameters()) + list(mha.parameters()), lr=1e-2)
    losses = []
    for it in range(6):
        out = tr(
            src,
            tgt,
            tgt_mask=tmask,
            src_key_padding_mask=kpm,
            memory_key_padding_mask=kpm,
            tgt_is_causal=True,
        )
        o2, w = mha(
            tgt,
            torch.randn(3, 5, 6).double(),
            torch.randn(3, 5, 5).double(),
            key_padding_mask=kpm,
            average_attn_weights=False,
        )
        loss = out.pow(2).mean() + o2.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        "loss": losses,
        "w": w.shape and w[1, 0].flatten().tolist(),
        "out": out[1].flatten().tolist(),
        "tmask": tmask.flatten().tolist(),
    }


def custom_function_checkpoint(torch):
    torch.manual_seed(0)
    nn = torch.nn

    class SmoothClamp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, lo, hi):
            ctx.save_for_backward(x)
            ctx.lo, ctx.hi = lo, hi
            return x.clamp(lo, hi)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            inside = ((x > ctx.lo) & (x < ctx.hi)).to(g.dtype)
            return g * (inside + 0.01 * (1 - inside)), None, None

    from_ckpt = torch.utils.checkpoint
    net1 = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 16))
    net2 = nn.Sequential(nn.Linear(16, 8), nn.Mish(), nn.Linear(8, 1))
    x = torch.randn(10, 4)
    y = torch.randn(10, 1)
    opt = torch.optim.Adagrad(
        list(net1.parameters()) + list(net2.parameters()), lr=0.05, lr_decay=1e-3
    )
    seen = []
    losses = []
    for it in range(6):
        h = from_ckpt.checkpoint(net1, x, use_reentrant=False)
        h.register_hook(lambda g: seen.append(g.abs().sum().item()))
        h = SmoothClamp.apply(h, -0.5, 0.5)
        h.retain_grad()
        out = from_ckpt.checkpoint_sequential(net2, 2, h, use_reentrant=False)
        loss = nn.functional.huber_loss(out, y, delta=0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"loss": losses, "seen": seen, "hgrad": h.grad.flatten()[:10].tolist()}


def parametrized_nets(torch):
    torch.manual_seed(0)
    nn = torch.nn
    P = nn.utils.parametrizations
    lin = P.weight_norm(nn.Linear(5, 6))
    orth = P.orthogonal(nn.Linear(6, 6))
    sn = P.spectral_norm(nn.Linear(6, 3))
    model = nn.Sequential(lin, nn.ReLU(), orth, nn.Softsign(), sn)
    x = torch.randn(12, 5)
    y = torch.randn(12, 3)
    opt = torch.optim.RAdam(
        model.parameters(), lr=1e-2, decoupled_weight_decay=True, weight_decay=1e-2
    )
    losses = []
    for it in range(8):
        loss = nn.functional.l1_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    W = orth.weight
    return {
        "loss": losses,
        "orth": (W @ W.T - torch.eye(6)).abs().max().item() < 1e-5,
        "sn": torch.linalg.matrix_norm(sn.weight, 2).item(),
        "keys": " ".join(model.state_dict().keys()),
        "g": lin.parametrizations.weight.original0.grad.flatten().tolist(),
    }


def hmc_sampler(torch):
    torch.manual_seed(0)
    D = torch.distributions
    target = D.MultivariateNormal(
        torch.tensor([1.0, -1.0], dtype=torch.float64),
        torch.tensor([[1.0, 0.8], [0.8, 1.0]], dtype=torch.float64),
    )

    def U(q):
        return -target.log_prob(q)

    def grad_U(q):
        q = q.detach().requires_grad_(True)
        return torch.autograd.grad(U(q), q)[0]

    q = torch.zeros(2, dtype=torch.float64)
    samples, accepts = [], []
    eps, L = 0.2, 10
    for it in range(60):
        p = torch.randn(2, dtype=torch.float64)
        qn, pn = q.clone(), p.clone()
        pn -= 0.5 * eps * grad_U(qn)
        for l in range(L):
            qn += eps * pn
            if l < L - 1:
                pn -= eps * grad_U(qn)
        pn -= 0.5 * eps * grad_U(qn)
        H0 = U(q) + 0.5 * p @ p
        H1 = U(qn) + 0.5 * pn @ pn
        acc = torch.rand(()) < torch.exp(H0 - H1)
        if acc:
            q = qn
        samples.append(q.clone())
        accepts.append(bool(acc))
    S = torch.stack(samples)
    return {
        "mean": S.mean(0).tolist(),
        "cov": torch.cov(S.T).flatten().tolist(),
        "acc": accepts,
        "last": q.tolist(),
    }


def sinkhorn_ot(torch):
    torch.manual_seed(0)
    x = torch.randn(20, 2, requires_grad=True)
    y = torch.randn(25, 2) + 2
    a = torch.full((20,), 1 / 20)
    b = torch.full((25,), 1 / 25)
    opt = torch.optim.SGD([x], lr=5.0)
    costs = []
    for it in range(8):
        C = torch.cdist(x, y) ** 2
        eps = 0.5
        f = torch.zeros(20)
        g = torch.zeros(25)
        for _ in range(30):
            f = -eps * torch.logsumexp((g[None, :] - C) / eps + torch.log(b)[None, :], dim=1)
            g = -eps * torch.logsumexp((f[:, None] - C) / eps + torch.log(a)[:, None], dim=0)
        Pm = torch.exp((f[:, None] + g[None, :] - C) / eps) * a[:, None] * b[None, :]
        cost = (Pm * C).sum()
        opt.zero_grad()
        cost.backward()
        opt.step()
        costs.append(cost.item())
    return {"cost": costs, "x": x.detach().mean(0).tolist(), "P": Pm.sum(1).tolist()}


def kalman_filter(torch):
    torch.manual_seed(0)
    dt = 0.1
    F_ = torch.tensor([[1.0, dt], [0.0, 1.0]], dtype=torch.float64)
    H = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    log_q = torch.tensor(-2.0, dtype=torch.float64, requires_grad=True)
    log_r = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    xs = torch.zeros(2, dtype=torch.float64)
    obs = []
    for t in range(30):
        xs = F_ @ xs + torch.tensor([0.0, 0.1], dtype=torch.float64) * torch.randn(
            (), dtype=torch.float64
        )
        obs.append(H @ xs + 0.3 * torch.randn(1, dtype=torch.float64))
    opt = torch.optim.Adamax([log_q, log_r], lr=0.1)
    out = {"nll": []}
    for it in range(10):
        Q = torch.exp(log_q) * torch.tensor(
            [[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]], dtype=torch.float64
        )
        R = torch.exp(log_r).reshape(1, 1) * 0.1
        m = torch.zeros(2, dtype=torch.float64)
        P = torch.eye(2, dtype=torch.float64)
        nll = 0.0
        for z in obs:
            m = F_ @ m
            P = F_ @ P @ F_.T + Q
            S = H @ P @ H.T + R
            K = torch.linalg.solve(S, H @ P).T
            v = z - H @ m
            nll = nll + 0.5 * (torch.logdet(S) + v @ torch.linalg.inv(S) @ v)
            m = m + K @ v
            P = (torch.eye(2, dtype=torch.float64) - K @ H) @ P
        opt.zero_grad()
        nll.backward()
        opt.step()
        out["nll"].append(nll.item())
    out["params"] = [log_q.item(), log_r.item(), log_q.grad.item(), log_r.grad.item()]
    out["expm"] = torch.linalg.matrix_exp(F_ * 3).flatten().tolist()
    return out


def conv1d_classifier(torch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv1d(2, 6, 5, padding=2),
        nn.BatchNorm1d(6),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(6, 8, 3, dilation=2, padding="same"),
        nn.BatchNorm1d(8),
        nn.Hardswish(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(8, 3),
    )
    t = torch.linspace(0, 1, 32)
    y = torch.randint(0, 3, (24,))
    x = torch.stack(
        [torch.sin(2 * math.pi * (y[:, None] + 1) * t), torch.cos(2 * math.pi * t).expand(24, 32)],
        1,
    )
    x = x + 0.2 * torch.randn_like(x)
    crit = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0.1)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    swa = torch.optim.swa_utils.AveragedModel(model)
    swa_sched = torch.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=2)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=8, shuffle=True
    )
    out = {"loss": [], "lr": [], "val": []}
    for epoch in range(5):
        model.train()
        for xb, yb in loader:
            loss = crit(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            out["loss"].append(loss.item())
        model.eval()
        with torch.no_grad():
            v = crit(model(x), y).item()
        out["val"].append(v)
        if epoch < 3:
            sched.step(v)
        else:
            swa.update_parameters(model)
            swa_sched.step()
        out["lr"].append(opt.param_groups[0]["lr"])
    torch.optim.swa_utils.update_bn(loader, swa)
    with torch.no_grad():
        out["swa"] = swa(x)[:3].flatten().tolist()
    out["bn"] = model[1].running_var.tolist() + [model[1].num_batches_tracked.item()]
    out["swa_n"] = [swa.n_averaged.item()]
    return out


def mixture_density(torch):
    torch.manual_seed(0)
    nn = torch.nn
    D = torch.distributions
    K = 3
    net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 3 * K))
    x = torch.rand(64, 1) * 2 - 1
    y = torch.where(
        torch.rand(64, 1) < 0.5, torch.sin(3 * x), -torch.sin(3 * x)
    ) + 0.05 * torch.randn(64, 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for it in range(15):
        logit, mu, log_s = net(x).chunk(3, dim=-1)
        mix = D.MixtureSameFamily(
            D.Categorical(logits=logit), D.Normal(mu, log_s.exp().clamp(min=1e-3))
        )
        loss = -mix.log_prob(y.squeeze(-1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    smp = mix.sample((2,))
    return {
        "loss": losses,
        "mean": mix.mean[:5].tolist(),
        "var": mix.variance[:5].tolist(),
        "smp": smp[:, :5].flatten().tolist(),
        "cdf": mix.cdf(torch.zeros(64))[:5].tolist(),
    }


def implicit_reparam(torch):
    torch.manual_seed(0)
    D = torch.distributions
    conc = torch.tensor([2.0, 0.5, 5.0], requires_grad=True)
    rate = torch.tensor([1.0, 2.0, 0.5], requires_grad=True)
    alpha = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a_b, b_b = torch.tensor(2.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    g = D.Gamma(conc, rate).rsample((500,))
    d = D.Dirichlet(alpha).rsample((500,))
    b = D.Beta(a_b, b_b).rsample((500,))
    obj = g.pow(2).mean() + (d[:, 0] * d[:, 2]).mean() + b.log().mean()
    obj.backward()
    # analytic: E[g^2] = k(k+1)/r^2
    return {
        "obj": [obj.item()],
        "gc": conc.grad.tolist(),
        "gr": rate.grad.tolist(),
        "ga": alpha.grad.tolist(),
        "gb": [a_b.grad.item(), b_b.grad.item()],
        "mean": g.mean(0).tolist(),
    }


def poisson_glm(torch):
    torch.manual_seed(0)
    X = torch.randn(80, 3)
    w_true = torch.tensor([0.5, -0.3, 0.2])
    y = torch.poisson(torch.exp(X @ w_true + 1.0))
    w = torch.zeros(3, requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    crit = torch.nn.PoissonNLLLoss(log_input=True, full=True)
    out = {"rprop": [], "asgd": []}
    opt = torch.optim.Rprop([w, b], lr=0.05)
    for it in range(10):
        loss = crit(X @ w + b, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        out["rprop"].append(loss.item())
    w2 = torch.zeros(3, requires_grad=True)
    opt2 = torch.optim.ASGD([w2], lr=0.01, t0=3)
    gcrit = torch.nn.GaussianNLLLoss()
    for it in range(10):
        mu = X @ w2
        loss = gcrit(mu, y.log1p(), torch.ones_like(mu) * 0.5) + torch.nn.functional.kl_div(
            torch.log_softmax(mu, 0), torch.softmax(y, 0), reduction="batchmean"
        )
        opt2.zero_grad()
        loss.backward()
        opt2.step()
        out["asgd"].append(loss.item())
    out["w"] = w.tolist() + [b.item()] + w2.tolist() + opt2.state[w2]["ax"].tolist()
    out["lgamma"] = [
        torch.lgamma(y + 1).sum().item(),
        torch.special.gammaln(y + 1).sum().item(),
        torch.digamma(y + 1).sum().item(),
    ]
    return out


def ensemble_func(torch):
    torch.manual_seed(0)
    nn = torch.nn
    fn = torch.func
    models = [nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1)) for _ in range(4)]
    params, buffers = fn.stack_module_state(models)
    base = copy.deepcopy(models[0])

    def fmodel(p, b, x):
        return fn.functional_call(base, (p, b), (x,))

    x = torch.randn(10, 3)
    preds = fn.vmap(fmodel, in_dims=(0, 0, None))(params, buffers, x)
    loop = torch.stack([m(x) for m in models])
    # jvp / linearize / vjp
    f = lambda z: torch.sin(z) * z.sum()
    z = torch.randn(4)
    v = torch.ones(4)
    val, tang = fn.jvp(f, (z,), (v,))
    _, lin = fn.linearize(f, z)
    _, vjp_fn = fn.vjp(f, z)
    batched_jac = fn.vmap(fn.jacrev(f))(torch.randn(3, 4))
    chunked = fn.vmap(lambda a: (a**2).sum(), chunk_size=2)(torch.randn(5, 3))
    # forward-mode AD
    tg = torch.autograd.functional.jvp(f, z, v)[1]
    return {
        "preds": preds.flatten().tolist(),
        "loop": loop.flatten().tolist(),
        "jvp": tang.tolist(),
        "lin": lin(v).tolist(),
        "vjp": vjp_fn(v)[0].tolist(),
        "bj": batched_jac.flatten().tolist(),
        "chunk": chunked.tolist(),
        "fw": tg.tolist(),
    }


def gnn_message_passing(torch):
    torch.manual_seed(0)
    nn = torch.nn
    N, E = 12, 30
    src = torch.randint(0, N, (E,))
    dst = torch.randint(0, N, (E,))
    x = torch.randn(N, 4)
    y = torch.randint(0, 2, (N,))

    class GCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(4, 8)
            self.l2 = nn.Linear(8, 2)

        def prop(self, h):
            deg = torch.zeros(N).index_add_(0, dst, torch.ones(E)) + 1
            msg = h[src] / deg[dst].sqrt().unsqueeze(1)
            agg = torch.zeros_like(h).index_add(0, dst, msg)
            agg2 = torch.zeros_like(h).scatter_add(0, dst.unsqueeze(1).expand(-1, h.size(1)), msg)
            mx = torch.zeros_like(h).scatter_reduce(
                0, dst.unsqueeze(1).expand(-1, h.size(1)), msg, reduce="amax", include_self=False
            )
            return h + 0.5 * (agg + agg2) + 0.1 * mx

        def forward(self, x):
            h = torch.relu(self.l1(self.prop(x)))
            return self.l2(self.prop(h))

    model = GCN()
    opt = torch.optim.Adam(model.parameters(), lr=0.02, weight_decay=5e-4)
    losses = []
    for it in range(12):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"loss": losses, "g": model.l1.weight.grad.flatten().tolist()}


def pca_svd(torch):
    torch.manual_seed(0)
    X = torch.randn(40, 5, dtype=torch.float64) @ torch.randn(5, 5, dtype=torch.float64)
    Xc = X - X.mean(0)
    cov = Xc.T @ Xc / 39
    evals, evecs = torch.linalg.eigh(cov)
    U, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    W = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([W], lr=0.05)
    losses = []
    for it in range(20):
        Q, _ = torch.linalg.qr(W)
        loss = -torch.trace(Q.T @ cov @ Q)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    A = torch.randn(4, 4, dtype=torch.float64, requires_grad=True)
    s = (
        torch.linalg.svdvals(A).sum()
        + torch.linalg.eigvalsh(A + A.T).max()
        + torch.linalg.matrix_norm(A, "nuc")
    )
    s.backward()
    return {
        "evals": evals.tolist(),
        "S2": (S**2 / 39).tolist(),
        "loss": losses,
        "Ag": A.grad.flatten().tolist(),
        "v": evecs[:, -1].abs().tolist(),
    }


def constrained_opt(torch):
    torch.manual_seed(0)
    D = torch.distributions
    C = D.constraints
    tr_pos = D.transform_to(C.positive)
    tr_simplex = D.biject_to(C.simplex)
    tr_int = D.biject_to(C.interval(-1.0, 2.0))
    tr_chol = D.transform_to(C.lower_cholesky)
    u1 = torch.zeros(3, requires_grad=True)
    u2 = torch.zeros(3, requires_grad=True)
    u3 = torch.zeros(2, requires_grad=True)
    u4 = torch.zeros(3, 3, requires_grad=True)
    target_s = torch.tensor([0.1, 0.2, 0.3, 0.4])
    opt = torch.optim.Adam([u1, u2, u3, u4], lr=0.1)
    losses = []
    for it in range(15):
        a = tr_pos(u1)
        s = tr_simplex(u2)
        c = tr_int(u3)
        L = tr_chol(u4)
        loss = (
            ((a - torch.tensor([0.5, 2.0, 3.0])) ** 2).sum()
            + D.kl_divergence(D.Categorical(probs=target_s), D.Categorical(probs=s))
            + ((c - 1.5) ** 2).sum()
            + ((L @ L.T - torch.eye(3) * 2) ** 2).sum()
            - tr_simplex.log_abs_det_jacobian(u2, s).sum() * 0.01
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        "loss": losses,
        "a": a.tolist(),
        "s": s.tolist(),
        "c": c.tolist(),
        "L": L.flatten().tolist(),
        "inv": tr_simplex.inv(s).tolist(),
    }


def interp_table(torch):
    torch.manual_seed(0)
    knots = torch.linspace(0, 1, 8)
    vals = torch.zeros(8, requires_grad=True)
    xq = torch.rand(50)
    yq = torch.sin(3 * xq)
    opt = torch.optim.Adam([vals], lr=0.1)
    losses = []
    for it in range(15):
        i = torch.searchsorted(knots, xq).clamp(1, 7)
        j = torch.bucketize(xq, knots).clamp(1, 7)
        t = (xq - knots[i - 1]) / (knots[i] - knots[i - 1])
        pred = torch.lerp(vals[i - 1], vals[j], t)
        loss = torch.nn.functional.mse_loss(pred, yq)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"loss": losses, "vals": vals.tolist(), "g": vals.grad.tolist()}


def sched_zoo(torch):
    torch.manual_seed(0)
    nn = torch.nn
    out = {}

    def make():
        m = nn.Linear(3, 1)
        return m, torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)

    X = torch.randn(16, 3)
    y = X.sum(1, keepdim=True)
    specs = {
        "lambda": lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.9**e),
        "mult": lambda o: torch.optim.lr_scheduler.MultiplicativeLR(o, lambda e: 0.95),
        "multistep": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 5], gamma=0.3),
        "cyclic": lambda o: torch.optim.lr_scheduler.CyclicLR(
            o, 0.01, 0.1, step_size_up=3, mode="triangular2"
        ),
        "warm": lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            o, T_0=3, T_mult=2, eta_min=0.001
        ),
        "poly": lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=6, power=2.0),
        "const": lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=3),
        "chained": lambda o: torch.optim.lr_scheduler.ChainedScheduler(
            [
                torch.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=2),
                torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
            ]
        ),
        "onecycle": lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=0.5, total_steps=9, anneal_strategy="linear", three_phase=True
        ),
    }
    for name, mk in specs.items():
        m, o = make()
        s = mk(o)
        lrs, moms = [], []
        for ep in range(8):
            o.zero_grad()
            nn.functional.mse_loss(m(X), y).backward()
            o.step()
            s.step()
            lrs.append(o.param_groups[0]["lr"])
            moms.append(o.param_groups[0].get("momentum", 0))
        out[name] = lrs + moms + m.weight.flatten().tolist()
        out[name + "_sd"] = repr(
            {
                k: v
                for k, v in s.state_dict().items()
                if not callable(v)
                and k not in ("_schedulers", "lr_lambdas", "_scale_fn_ref", "_scale_fn_custom")
            }
        )
    return out


def reprs_and_printing(torch):
    torch.manual_seed(0)
    nn = torch.nn
    m = nn.Sequential(
        nn.Linear(3, 2), nn.BatchNorm1d(2), nn.Dropout(p=0.3), nn.LSTM(2, 3, batch_first=True)
    )
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    out = {"m": repr(m), "opt": repr(opt), "w": repr(m[0].weight), "b": str(m[0].bias)}
    x = torch.randn(4, 3) * 1000
    out["x"] = repr(x)
    out["small"] = repr(torch.tensor([1e-8, 1.0, 123456.0]))
    out["int"] = repr(torch.arange(12).reshape(3, 4))
    out["bool"] = repr(torch.tensor([True, False]))
    y = (x**2).sum()
    out["y"] = repr(y)
    z = torch.randn(3, requires_grad=True) * 2
    out["z"] = repr(z)
    out["mean"] = repr(torch.randn(2, 2, dtype=torch.float64).mean(0))
    out["big"] = repr(torch.arange(2000.0).reshape(40, 50))
    torch.set_printoptions(precision=2, sci_mode=False)
    out["prec"] = repr(torch.randn(3) / 1000)
    torch.set_printoptions(profile="default")
    out["nan"] = repr(torch.tensor([float("nan"), float("inf"), -float("inf"), 1.5]))
    out["empty"] = repr(torch.zeros(0, 3))
    out["fmt"] = "{:.3f}".format(torch.tensor(1.23456).item()) + f"{torch.tensor(2.5):.2f}"
    out["sd"] = repr(list(m.state_dict().keys())) + repr(opt.state_dict()["param_groups"])
    out["shape"] = repr(x.shape) + str(x.size()) + str(x.dtype) + str(x.device)
    out["named"] = repr([n for n, _ in m.named_modules()])
    out["p"] = repr(nn.Parameter(torch.ones(2)))
    out["gf"] = repr(y.grad_fn)[:18] + str(type(z.grad_fn).__name__)
    return out


def whole_model_pickle(torch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    X = torch.randn(20, 3)
    y = X[:, :1] ** 2
    for _ in range(5):
        opt.zero_grad()
        nn.functional.mse_loss(model(X), y).backward()
        opt.step()
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    m2 = torch.load(buf, weights_only=False)
    buf2 = io.BytesIO()
    torch.save([model.state_dict(), opt.state_dict(), {"x": X, "tup": (1, 2.0, "a")}], buf2)
    buf2.seek(0)
    sd, osd, extra = torch.load(buf2)
    # shared storage round trip
    base = torch.arange(6.0)
    buf3 = io.BytesIO()
    torch.save({"a": base, "v": base[2:4]}, buf3)
    buf3.seek(0)
    d = torch.load(buf3)
    d["v"][0] = 100.0
    return {
        "same": [bool(torch.equal(m2(X), model(X)))],
        "osd": repr(osd["state"][0]["step"]) + repr(sorted(osd["state"][0])),
        "extra": repr(extra["tup"]) + str(extra["x"].shape),
        "shared": d["a"].tolist(),
        "sd": list(sd["0.weight"].flatten().tolist()),
    }


def sobol_mc(torch):
    torch.manual_seed(0)
    eng = torch.quasirandom.SobolEngine(dimension=4, scramble=True, seed=7)
    u = eng.draw(256, dtype=torch.float64)
    D = torch.distributions
    z = D.Normal(0.0, 1.0).icdf(u.clamp(1e-12, 1 - 1e-12))
    z2 = math.sqrt(2) * torch.erfinv(2 * u - 1)
    S0 = torch.tensor(100.0, dtype=torch.float64, requires_grad=True)
    vol = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    dt = 0.25
    logS = torch.log(S0) + torch.cumsum(-0.5 * vol**2 * dt + vol * math.sqrt(dt) * z, 1)
    payoff = torch.clamp(torch.exp(logS).mean(1) - 100.0, min=0)
    price = payoff.mean()
    g = torch.autograd.grad(price, (S0, vol))
    g2 = torch.Generator().manual_seed(3)
    extra = torch.randn(5, generator=g2, dtype=torch.float64)
    return {
        "u": u[:4].flatten().tolist(),
        "z": (z - z2).abs().max().item() < 1e-8,
        "price": [price.item()],
        "g": [x.item() for x in g],
        "extra": extra.tolist(),
        "bins": torch.histc(z[:, 0], bins=5, min=-2, max=2).tolist(),
        "uniq": torch.unique((u[:, 0] * 4).floor(), return_counts=True)[1].tolist(),
        "bc": torch.bincount((u[:, 1] * 3).long(), minlength=4).tolist(),
    }


def misc_training(torch):
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.ModuleDict({"a": nn.Linear(4, 8), "b": nn.Linear(8, 8)})
            self.scales = nn.ParameterList(
                [nn.Parameter(torch.ones(8)), nn.Parameter(torch.zeros(8))]
            )
            self.head = nn.Bilinear(8, 4, 2)

        def forward(self, x):
            h = F.silu(self.body["a"](x)) * self.scales[0] + self.scales[1]
            h = F.layer_norm(self.body["b"](h), (8,))
            return self.head(h, x)

    net = Net()
    acts = []
    hk = net.body["a"].register_forward_hook(
        lambda mod, i, o: acts.append(o.detach().abs().mean().item())
    )
    bgs = []
    net.body["b"].register_full_backward_hook(
        lambda mod, gi, go: bgs.append(go[0].abs().sum().item())
    )
    opt = torch.optim.SGD(
        [{"params": net.body.parameters()}, {"params": net.scales.parameters(), "lr": 0.01}],
        lr=0.05,
    )
    opt.add_param_group({"params": net.head.parameters(), "lr": 0.02, "momentum": 0.5})
    x = torch.randn(10, 4)
    y = torch.randint(0, 2, (10,))
    losses = []
    with torch.autograd.set_detect_anomaly(True):
        for it in range(6):
            out = net(x)
            loss = F.cross_entropy(out, y) + 1e-3 * sum(p.pow(2).sum() for p in net.parameters())
            opt.zero_grad()
            loss.backward()
            n = nn.utils.clip_grad_norm_(
                net.parameters(), max_norm=0.5, norm_type=1.0, error_if_nonfinite=True
            )
            opt.step()
            losses.append(loss.item())
    hk.remove()
    with torch.inference_mode():
        pr = F.softmax(net(x), -1)
    oh = F.one_hot(y, 3).float()
    padded = F.pad(x.unsqueeze(0), (1, 2), mode="reflect")
    un = F.unfold(torch.arange(16.0).view(1, 1, 4, 4), kernel_size=2, stride=2)
    return {
        "loss": losses,
        "acts": acts,
        "bgs": bgs,
        "pr": pr.flatten().tolist(),
        "n": [n.item()],
        "oh": oh.sum(0).tolist(),
        "pad": padded.flatten().tolist(),
        "un": un.flatten().tolist(),
        "inf": [pr.requires_grad, torch.is_inference_mode_enabled()],
    }


def numpy_interop(torch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    cm = model
    Xn = np.random.RandomState(0).randn(30, 2).astype(np.float32)
    X = torch.from_numpy(Xn)
    y = torch.as_tensor(np.sin(Xn[:, :1]))
    opt = torch.optim.Adam(cm.parameters(), lr=0.02)
    losses = []
    for it in range(8):
        loss = ((cm(X) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    Xn[0, 0] = 42.0  # shares memory
    arr = model[0].weight.detach().numpy()
    return {
        "loss": losses,
        "shared": [X[0, 0].item()],
        "arr": arr.flatten().tolist(),
        "dtype": str(torch.as_tensor(np.arange(3)).dtype)
        + str(torch.tensor(np.float64(1.0)).dtype),
    }


def gumbel_vq(torch):
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional
    enc = nn.Linear(6, 4)
    codebook = nn.Embedding(4, 6)
    dec = nn.Linear(6, 6)
    x = torch.randn(16, 6)
    opt = torch.optim.Adam(
        list(enc.parameters()) + list(codebook.parameters()) + list(dec.parameters()), lr=1e-2
    )
    out = {"loss": [], "vq": []}
    for it in range(8):
        logits = enc(x)
        soft = F.gumbel_softmax(logits, tau=0.7, hard=False)
        hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
        z = hard @ codebook.weight + 0.1 * soft @ codebook.weight
        # straight-through VQ
        d = torch.cdist(x, codebook.weight)
        idx = d.argmin(1)
        q = codebook(idx)
        st = x + (q - x).detach()
        loss = (
            F.mse_loss(dec(z), x)
            + F.mse_loss(q, x.detach())
            + 0.25 * F.mse_loss(x, q.detach())
            + F.mse_loss(dec(st), x)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        out["loss"].append(loss.item())
        out["vq"] += idx.tolist()
    rel = torch.distributions.RelaxedOneHotCategorical(torch.tensor(0.5), logits=torch.randn(3, 4))
    s = rel.rsample()
    out["rel"] = s.flatten().tolist() + rel.log_prob(s).tolist()
    return out


def ctc_speech(torch):
    torch.manual_seed(0)
    nn = torch.nn
    T, N, C, S = 12, 3, 5, 4
    rnn = nn.GRU(4, 8)
    fc = nn.Linear(8, C)
    x = torch.randn(T, N, 4)
    targets = torch.randint(1, C, (N, S))
    in_lens = torch.tensor([12, 10, 9])
    tgt_lens = torch.tensor([4, 3, 2])
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    opt = torch.optim.Adam(list(rnn.parameters()) + list(fc.parameters()), lr=1e-2)
    losses = []
    for it in range(6):
        h, _ = rnn(x)
        lp = fc(h).log_softmax(2)
        loss = ctc(lp, targets, in_lens, tgt_lens)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    best = lp.argmax(2).T
    return {"loss": losses, "best": best.flatten().tolist(), "g": fc.weight.grad.flatten().tolist()}


def robust_stats(torch):
    torch.manual_seed(0)
    x = torch.randn(200, dtype=torch.float64)
    x[::17] += 8.0
    mu = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    log_s = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([mu, log_s], lr=0.1)
    out = {"loss": []}
    for it in range(20):
        r = (x - mu) / log_s.exp()
        # Student-t negative log-likelihood, nu=3
        nu = 3.0
        nll = (
            -(
                torch.lgamma(torch.tensor((nu + 1) / 2, dtype=torch.float64))
                - torch.lgamma(torch.tensor(nu / 2, dtype=torch.float64))
            )
            + log_s
            + 0.5 * math.log(nu * math.pi)
            + (nu + 1) / 2 * torch.log1p(r**2 / nu)
        ).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
        out["loss"].append(nll.item())
    out["mu"] = [mu.item(), log_s.item()]
    med = x.median()
    q = torch.quantile(x, torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64))
    xs = x.clone().requires_grad_(True)
    tm = (
        torch.sort(xs).values[20:-20].mean()
        + torch.quantile(xs, 0.75)
        - torch.nanmedian(xs)
        + torch.kthvalue(xs, 5).values
    )
    tm.backward()
    out["stats"] = (
        [med.item()]
        + q.tolist()
        + [torch.std(x).item(), torch.var(x, correction=0).item(), tm.item()]
    )
    out["g"] = xs.grad[:20].tolist()
    T = torch.distributions.StudentT(3.0, mu.detach(), log_s.detach().exp())
    out["t"] = [T.log_prob(x).mean().item(), T.variance.item()]
    return out


def cumulative_ops(torch):
    torch.manual_seed(0)
    p = torch.rand(10, dtype=torch.float64, requires_grad=True)
    x = torch.randn(10, dtype=torch.float64, requires_grad=True)
    survival = torch.cumprod(1 - p, 0)
    lcse = torch.logcumsumexp(x, 0)
    cm = torch.cummax(x, 0).values
    cmin = torch.cummin(x, 0).values
    rev = torch.flip(torch.cumsum(torch.flip(x, [0]), 0), [0])
    disc = 0.9 ** torch.arange(10, dtype=torch.float64)
    ret = torch.cumsum(disc * x, 0)
    obj = (
        survival.sum()
        + lcse.sum()
        + cm.sum()
        + cmin.sum()
        + rev.sum()
        + ret[-1]
        + torch.diff(x).pow(2).sum()
    )
    obj.backward()
    y = torch.tensor([0.5, 0.0, 2.0, 0.0], dtype=torch.float64, requires_grad=True)
    cp = torch.cumprod(y, 0)
    cp.sum().backward()
    return {
        "obj": [obj.item()],
        "gp": p.grad.tolist(),
        "gx": x.grad.tolist(),
        "gy": y.grad.tolist(),
    }


def policy_gradient_ppo(torch):
    torch.manual_seed(0)
    nn = torch.nn
    D = torch.distributions
    pi = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))
    log_std = nn.Parameter(torch.zeros(2))
    vf = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = torch.optim.Adam(
        list(pi.parameters()) + [log_std] + list(vf.parameters()), lr=3e-3, eps=1e-5
    )
    obs = torch.randn(32, 3)
    with torch.no_grad():
        dist = D.Normal(pi(obs), log_std.exp())
        act = dist.sample()
        old_lp = dist.log_prob(act).sum(-1)
        rew = -(act - obs[:, :2]).pow(2).sum(-1)
        val = vf(obs).squeeze(-1)
        # GAE over a fake trajectory
        adv = torch.zeros(32)
        last = 0.0
        for t in reversed(range(32)):
            nv = val[t + 1] if t < 31 else 0.0
            delta = rew[t] + 0.99 * nv - val[t]
            last = delta + 0.99 * 0.95 * last
            adv[t] = last
        ret = adv + val
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    out = {"loss": [], "kl": [], "clipfrac": []}
    for epoch in range(4):
        for mb in torch.randperm(32).split(8):
            d = D.Normal(pi(obs[mb]), log_std.exp())
            lp = d.log_prob(act[mb]).sum(-1)
            ratio = (lp - old_lp[mb]).exp()
            s1 = ratio * adv[mb]
            s2 = torch.clamp(ratio, 0.8, 1.2) * adv[mb]
            pl = -torch.min(s1, s2).mean()
            vl = 0.5 * (vf(obs[mb]).squeeze(-1) - ret[mb]).pow(2).mean()
            ent = d.entropy().sum(-1).mean()
            loss = pl + 0.5 * vl - 0.01 * ent
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(list(pi.parameters()) + [log_std] + list(vf.parameters()), 0.5)
            opt.step()
            with torch.no_grad():
                out["kl"].append(((ratio - 1) - (lp - old_lp[mb])).mean().item())
                out["clipfrac"].append(((ratio - 1).abs() > 0.2).float().mean().item())
            out["loss"].append(loss.item())
    return out


def bayes_logreg_vi(torch):
    torch.manual_seed(0)
    D = torch.distributions
    X = torch.randn(100, 3)
    w = torch.tensor([1.0, -2.0, 0.5])
    y = D.Bernoulli(logits=X @ w).sample()
    q_mu = torch.zeros(3, requires_grad=True)
    q_rho = torch.full((3,), -3.0, requires_grad=True)
    opt = torch.optim.Adam([q_mu, q_rho], lr=0.05)
    prior = D.Normal(0.0, 1.0)
    elbos = []
    for it in range(25):
        sigma = torch.nn.functional.softplus(q_rho)
        q = D.Normal(q_mu, sigma)
        wsamp = q.rsample((8,))
        ll = D.Bernoulli(logits=wsamp @ X.T).log_prob(y).sum(-1).mean()
        kl = D.kl_divergence(q, prior).sum()
        loss = -(ll - kl)
        opt.zero_grad()
        loss.backward()
        opt.step()
        elbos.append(-loss.item())
    lap = D.Laplace(q_mu.detach(), 1.0)
    ln = D.LogNormal(0.0, 0.5)
    ch = D.Chi2(3.0)
    pois = D.Poisson(torch.tensor([2.0, 5.0]))
    return {
        "elbo": elbos,
        "mu": q_mu.tolist(),
        "sig": torch.nn.functional.softplus(q_rho).tolist(),
        "extra": [
            lap.log_prob(torch.zeros(3)).sum().item(),
            ln.entropy().item(),
            ch.mean.item(),
            pois.log_prob(torch.tensor([1.0, 4.0])).sum().item(),
        ],
        "samples": lap.sample((2,)).flatten().tolist()
        + ln.sample((2,)).tolist()
        + pois.sample().tolist()
        + ch.sample((2,)).tolist(),
    }


def unet_tiny(torch):
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.d1 = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.SiLU())
            self.d2 = nn.Sequential(
                nn.Conv2d(4, 8, 3, stride=2, padding=1),
                nn.InstanceNorm2d(8, affine=True),
                nn.SiLU(),
            )
            self.up = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)
            self.out = nn.Conv2d(8, 1, 1)

        def forward(self, x):
            a = self.d1(x)
            b = self.d2(a)
            u = self.up(b)
            u2 = F.interpolate(b, scale_factor=2, mode="bilinear", align_corners=False)[:, :4]
            return self.out(torch.cat([a, u + u2], 1))

    net = UNet()
    x = torch.rand(2, 1, 8, 8)
    noise = torch.randn_like(x)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3)
    losses = []
    for it in range(5):
        t = torch.rand(2, 1, 1, 1)
        xt = torch.sqrt(t) * x + torch.sqrt(1 - t) * noise
        loss = F.mse_loss(net(xt), noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        "loss": losses,
        "g": net.up.weight.grad.flatten()[:10].tolist(),
        "pool": F.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False).flatten()[:6].tolist(),
    }


def spatial_transformer(torch):
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional
    loc = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 6))
    nn.init.zeros_(loc[3].weight)
    with torch.no_grad():
        loc[3].bias.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))
    head = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveMaxPool2d(2), nn.Flatten(), nn.Linear(16, 3)
    )
    x = torch.rand(6, 1, 8, 8)
    y = torch.randint(0, 3, (6,))
    opt = torch.optim.Adam(list(loc.parameters()) + list(head.parameters()), lr=1e-2)
    losses = []
    for it in range(6):
        theta = loc(x).view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size(), align_corners=False)
        xt = F.grid_sample(x, grid, align_corners=False, padding_mode="border")
        up = F.interpolate(xt, size=(12, 12), mode="bicubic", align_corners=True)
        dn = F.interpolate(up, scale_factor=0.5, mode="area")
        nr = F.interpolate(xt, scale_factor=2, mode="nearest")
        loss = F.cross_entropy(head(dn + 0.1 * nr[:, :, ::3, ::3]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    ps = nn.PixelShuffle(2)(torch.arange(16.0).view(1, 4, 2, 2))
    return {
        "loss": losses,
        "theta": theta[0].flatten().tolist(),
        "ps": ps.flatten().tolist(),
        "g": loc[3].weight.grad.flatten()[:12].tolist(),
    }


def embedding_variants(torch):
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional
    emb = nn.Embedding(10, 4, max_norm=1.0, norm_type=2.0)
    bag = nn.EmbeddingBag(10, 4, mode="mean")
    bag_sum = nn.EmbeddingBag(10, 4, mode="sum")
    lin = nn.Linear(4, 1)
    idx = torch.randint(0, 10, (5, 3))
    flat = torch.randint(0, 10, (9,))
    offsets = torch.tensor([0, 2, 5])
    psw = torch.rand(9)
    opt = torch.optim.SGD(
        list(emb.parameters())
        + list(bag.parameters())
        + list(bag_sum.parameters())
        + list(lin.parameters()),
        lr=0.01,
    )
    losses = []
    for it in range(5):
        a = lin(emb(idx).mean(1)).sum()
        b = (
            lin(bag(flat, offsets)).sum()
            + lin(bag_sum(flat, offsets, per_sample_weights=psw)).sum()
        )
        loss = (a + b) ** 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    fe = F.embedding(torch.tensor([1, 2]), emb.weight.detach().clone(), padding_idx=1)
    return {
        "loss": losses,
        "norms": emb.weight.norm(dim=1).tolist(),
        "bag": bag.weight.flatten().tolist(),
        "fe": fe.flatten().tolist(),
    }


def lstm_variants(torch):
    torch.manual_seed(0)
    nn = torch.nn
    R = nn.utils.rnn
    lstm = nn.LSTM(
        3, 6, num_layers=2, proj_size=2, bidirectional=True, dropout=0.3, batch_first=True
    )
    rnn = nn.RNN(3, 4, nonlinearity="relu", num_layers=2)
    cell = nn.GRUCell(3, 5)
    seqs = [torch.randn(n, 3) for n in (5, 3, 2)]
    packed = R.pack_sequence(seqs)
    opt = torch.optim.Adam(
        list(lstm.parameters()) + list(rnn.parameters()) + list(cell.parameters()), lr=1e-2
    )
    losses = []
    for it in range(5):
        lstm.train()
        out, (h, c) = lstm(packed)
        un, lens = R.pad_packed_sequence(out, batch_first=True, total_length=6)
        o2, h2 = rnn(R.pad_sequence(seqs))
        hc = torch.zeros(3, 5)
        for t in range(2):
            hc = cell(torch.stack([s[t] for s in seqs]), hc)
        loss = un.pow(2).sum() + h.pow(2).sum() + c.abs().sum() + o2.mean() + hc.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    lstm.eval()
    with torch.no_grad():
        ev, _ = lstm(R.pad_sequence(seqs, batch_first=True))
    return {
        "loss": losses,
        "shapes": str(un.shape) + str(h.shape) + str(c.shape),
        "ev": ev.flatten()[:12].tolist(),
        "w": lstm.weight_hr_l1_reverse.grad.flatten().tolist(),
        "names": " ".join(n for n, _ in lstm.named_parameters()),
    }


def metric_learning(torch):
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional
    net = nn.Sequential(nn.Linear(5, 8), nn.PReLU(), nn.Linear(8, 4))
    x = torch.randn(12, 5)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, nesterov=True, momentum=0.9)
    out = {"loss": []}
    for it in range(6):
        e = F.normalize(net(x), dim=1)
        a, p, n = e[:4], e[4:8], e[8:]
        l = F.triplet_margin_loss(a, p, n, margin=0.5) + nn.TripletMarginWithDistanceLoss(
            distance_function=lambda u, v: 1 - F.cosine_similarity(u, v)
        )(a, p, n)
        l = l + F.cosine_embedding_loss(a, p, torch.tensor([1, -1, 1, -1]), margin=0.1)
        l = l + F.margin_ranking_loss(
            a[:, 0], n[:, 0], torch.tensor([1.0, -1.0, 1.0, 1.0]), margin=0.2
        )
        l = (
            l
            + F.multilabel_soft_margin_loss(a, (p > 0).float())
            + F.hinge_embedding_loss(
                a, torch.tensor([1.0, -1.0, 1.0, -1.0]).unsqueeze(1).expand(4, 4)
            )
        )
        l = (
            l
            + F.soft_margin_loss(a, torch.sign(p.detach()))
            + F.multi_margin_loss(a, torch.tensor([0, 1, 2, 3]), p=2, margin=0.7)
        )
        l = l + F.multilabel_margin_loss(
            a, torch.tensor([[0, 1, -1, 0], [2, -1, 0, 0], [3, 2, 1, -1], [1, -1, 2, 0]])
        )
        l = (
            l
            + nn.CosineEmbeddingLoss()(a, n, torch.ones(4))
            + F.pairwise_distance(a, n, p=1.5).mean()
        )
        opt.zero_grad()
        l.backward()
        opt.step()
        out["loss"].append(l.item())
    out["prelu"] = net[1].weight.tolist()
    return out


def adaptive_softmax_lm(torch):
    torch.manual_seed(0)
    nn = torch.nn
    asm = nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs=[5, 12], div_value=2.0)
    emb = nn.Embedding(20, 8)
    x = torch.randint(0, 20, (16,))
    y = torch.randint(0, 20, (16,))
    opt = torch.optim.Adagrad(list(asm.parameters()) + list(emb.parameters()), lr=0.1)
    losses = []
    for it in range(6):
        o = asm(emb(x), y)
        opt.zero_grad()
        o.loss.backward()
        opt.step()
        losses.append(o.loss.item())
    return {
        "loss": losses,
        "lp": asm.log_prob(emb(x[:2])).flatten().tolist(),
        "pred": asm.predict(emb(x)).tolist(),
        "out": o.output.tolist(),
    }


def batched_grads_pinn(torch):
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    x = torch.randn(5, 2, requires_grad=True)
    y = net(x)
    eye = torch.eye(2).unsqueeze(1).expand(2, 5, 2)
    (jac,) = torch.autograd.grad(y, x, grad_outputs=eye, is_grads_batched=True, create_graph=True)
    div = jac[0, :, 0] + jac[1, :, 1]
    div.sum().backward()
    J = torch.autograd.functional.jacobian(
        lambda z: net(z).sum(0), x.detach(), vectorize=True, create_graph=False
    )
    Hs = torch.autograd.functional.hessian(
        lambda z: net(z).pow(2).sum(), x.detach()[0], vectorize=True
    )
    fn = torch.func
    (g1, g2), aux = fn.grad(lambda a, b: ((a * b).sum(), a.mean()), argnums=(0, 1), has_aux=True)(
        torch.ones(3), torch.arange(3.0)
    )
    jr = fn.jacrev(lambda a, b: a * b.sum(), argnums=1)(torch.ones(2), torch.arange(3.0))
    vm = fn.vmap(lambda d: d["a"] * d["b"], in_dims=({"a": 0, "b": None},), out_dims=1)(
        {"a": torch.arange(6.0).view(3, 2), "b": torch.tensor(2.0)}
    )
    return {
        "jac": jac.flatten().tolist(),
        "g": net[0].weight.grad.flatten().tolist(),
        "J": J.flatten().tolist(),
        "H": Hs.flatten().tolist(),
        "fg": g1.tolist() + g2.tolist() + [aux.item()],
        "jr": jr.flatten().tolist(),
        "vm": vm.flatten().tolist() + list(vm.shape),
    }


def optimizer_in_backward(torch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opts = {p: torch.optim.SGD([p], lr=0.05, momentum=0.5) for p in model.parameters()}

    def hook(p):
        opts[p].step()
        opts[p].zero_grad()

    for p in model.parameters():
        p.register_post_accumulate_grad_hook(hook)
    x = torch.randn(16, 4)
    y = torch.randn(16, 1)
    packed_log = []

    def pack(t):
        packed_log.append(tuple(t.shape))
        return t.clone()

    def unpack(t):
        return t

    losses = []
    for it in range(5):
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        losses.append(loss.item())
    l2 = model(x).sum()
    l2.backward()
    return {
        "loss": losses,
        "w": model[0].weight.flatten().tolist(),
        "grad_none": [model[0].weight.grad is None],
        "npacked": [len(packed_log)],
    }


def more_distributions(torch):
    torch.manual_seed(0)
    D = torch.distributions
    mu = torch.zeros(3, requires_grad=True)
    cov_factor = torch.randn(3, 2, requires_grad=True)
    cov_diag = torch.ones(3, requires_grad=True)
    lr = D.LowRankMultivariateNormal(mu, cov_factor, cov_diag)
    s = lr.rsample((4,))
    lkj = D.LKJCholesky(3, concentration=2.0)
    L = lkj.sample()
    vm = D.VonMises(torch.tensor(0.5), torch.tensor(2.0))
    wi = D.Wishart(df=torch.tensor(5.0), covariance_matrix=torch.eye(2))
    W = wi.sample()
    obj = (
        lr.log_prob(s).sum()
        + lr.entropy()
        + D.kl_divergence(lr, D.MultivariateNormal(torch.zeros(3), torch.eye(3)))
    )
    obj.backward()
    nb = D.NegativeBinomial(total_count=5.0, probs=torch.tensor(0.3))
    ge = D.Geometric(probs=torch.tensor(0.2))
    bi = D.Binomial(10, torch.tensor(0.4))
    mn = D.Multinomial(6, torch.tensor([0.2, 0.3, 0.5]))
    cb = D.ContinuousBernoulli(logits=torch.tensor(0.3))
    gu = D.Gumbel(1.0, 2.0)
    we = D.Weibull(1.5, 2.0)
    pa = D.Pareto(1.0, 3.0)
    hc = D.HalfCauchy(1.0)
    kum = D.Kumaraswamy(2.0, 3.0)
    fs = D.FisherSnedecor(3.0, 5.0)
    ln = D.LogisticNormal(torch.zeros(2), torch.ones(2))
    ig = D.InverseGamma(2.0, 3.0)
    xs = [
        nb.sample((3,)),
        ge.sample((3,)),
        bi.sample((3,)),
        mn.sample(),
        cb.rsample((2,)),
        gu.sample((2,)),
        we.sample((2,)),
        pa.sample((2,)),
        hc.sample((2,)),
        kum.rsample((2,)),
        fs.sample((2,)),
        ln.sample(),
        ig.sample((2,)),
        vm.sample((3,)),
    ]
    lps = [
        nb.log_prob(torch.tensor(3.0)),
        ge.log_prob(torch.tensor(2.0)),
        bi.log_prob(torch.tensor(4.0)),
        mn.log_prob(torch.tensor([1.0, 2.0, 3.0])),
        cb.log_prob(torch.tensor(0.4)),
        gu.log_prob(torch.tensor(0.5)),
        we.log_prob(torch.tensor(0.5)),
        pa.log_prob(torch.tensor(1.5)),
        hc.log_prob(torch.tensor(0.5)),
        kum.log_prob(torch.tensor(0.5)),
        fs.log_prob(torch.tensor(0.5)),
        ig.log_prob(torch.tensor(0.5)),
        vm.log_prob(torch.tensor(0.1)),
        lkj.log_prob(L),
        wi.log_prob(W),
        cb.entropy(),
        kum.entropy(),
    ]
    return {
        "s": s.flatten().tolist(),
        "L": L.flatten().tolist(),
        "W": W.flatten().tolist(),
        "xs": torch.cat([x.flatten().float() for x in xs]).tolist(),
        "lps": [float(v) for v in lps],
        "g": cov_factor.grad.flatten().tolist() + cov_diag.grad.tolist(),
    }


def gamma_mle_newton(torch):
    torch.manual_seed(0)
    D = torch.distributions
    data = D.Gamma(
        torch.tensor(2.5, dtype=torch.float64), torch.tensor(1.5, dtype=torch.float64)
    ).sample((200,))
    theta = torch.tensor([0.0, 0.0], dtype=torch.float64, requires_grad=True)  # log shape, log rate

    def nll(th):
        a, b = th.exp()
        return -(a * b.log() - torch.lgamma(a) + (a - 1) * data.log() - b * data).mean()

    hist = []
    for it in range(6):
        f = nll(theta)
        (g,) = torch.autograd.grad(f, theta, create_graph=True)
        H = torch.stack([torch.autograd.grad(g[i], theta, retain_graph=True)[0] for i in range(2)])
        step = torch.linalg.solve(H, g.detach())
        with torch.no_grad():
            theta -= step
        hist.append([f.item()] + g.tolist() + H.flatten().tolist())
    a = theta.detach().exp()[0].requires_grad_(True)
    torch.digamma(a).backward()
    H2 = torch.autograd.functional.hessian(
        lambda t: torch.lgamma(t).sum() + torch.special.gammaln(t * 2).sum(), theta.detach().exp()
    )
    return {
        "hist": hist,
        "theta": theta.tolist(),
        "trigamma": [a.grad.item(), torch.polygamma(1, a.detach()).item()],
        "H2": H2.flatten().tolist(),
    }


def diverging_fit_rollback(torch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=50.0)
    X = torch.randn(16, 3) * 10
    y = X.sum(1, keepdim=True) ** 3
    good = io.BytesIO()
    torch.save({"m": model.state_dict(), "o": opt.state_dict()}, good)
    out = {"loss": [], "finite": [], "rollbacks": 0}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for it in range(8):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(X), y)
            loss.backward()
            finite = bool(torch.isfinite(loss)) and all(
                bool(torch.isfinite(p.grad).all()) for p in model.parameters()
            )
            out["finite"].append(finite)
            out["loss"].append(loss.item() if finite else -1.0)
            if not finite:
                good.seek(0)
                ck = torch.load(good)
                model.load_state_dict(ck["m"])
                opt.load_state_dict(ck["o"])
                for g in opt.param_groups:
                    g["lr"] *= 0.1
                out["rollbacks"] += 1
                continue
            opt.step()
            good = io.BytesIO()
            torch.save({"m": model.state_dict(), "o": opt.state_dict()}, good)
    out["warnings"] = [str(w.message)[:60] for w in seen]
    out["rollbacks"] = [out["rollbacks"]]
    out["lr"] = [opt.param_groups[0]["lr"]]
    # a corrupt record (inf, nan features) in one batch: the guard skips that step
    with warnings.catch_warnings(record=True) as seen2:
        warnings.simplefilter("always")
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1)
        )
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        Xb = torch.randn(32, 3)
        yb = Xb.sum(1, keepdim=True)
        Xb[9, 0] = float("inf")
        Xb[10, 1] = -float("inf")
        Xb[11, 2] = float("nan")
        skipped = 0
        for epoch in range(2):
            for xb, tb in zip(Xb.split(8), yb.split(8)):
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(xb), tb)
                if not torch.isfinite(loss):
                    skipped += 1
                    continue
                loss.backward()
                opt.step()
                out["loss"].append(loss.item())
        with torch.no_grad():
            pred = model(Xb[8:12])
        out["pred"] = pred.flatten().tolist()
        out["skipped"] = [skipped]
    out["warnings"] = repr(out["warnings"] + [str(w.message)[:60] for w in seen2])
    return out


def maml_sine(torch):
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional
    fn = torch.func
    model = nn.Sequential(
        nn.Linear(1, 20), nn.ReLU(), nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 1)
    )
    meta = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = {"meta": [], "inner": []}
    for it in range(5):
        meta.zero_grad()
        total = 0.0
        for task in range(3):
            amp = torch.rand(1) * 4 + 0.1
            ph = torch.rand(1) * math.pi
            xs = torch.rand(10, 1) * 10 - 5
            ys = amp * torch.sin(xs + ph)
            xq = torch.rand(10, 1) * 10 - 5
            yq = amp * torch.sin(xq + ph)
            params = dict(model.named_parameters())
            for step in range(2):
                l = F.mse_loss(fn.functional_call(model, params, (xs,)), ys)
                grads = torch.autograd.grad(l, list(params.values()), create_graph=True)
                params = {k: v - 0.01 * g for (k, v), g in zip(params.items(), grads)}
                out["inner"].append(l.item())
            lq = F.mse_loss(fn.functional_call(model, params, (xq,)), yq)
            lq.backward()
            total += lq.item()
        meta.step()
        out["meta"].append(total)
    out["g"] = model[0].weight.grad.flatten().tolist()
    return out


def hypergradient_unrolled(torch):
    torch.manual_seed(0)
    X = torch.randn(30, 4, dtype=torch.float64)
    y = X @ torch.tensor([1.0, -1.0, 0.5, 0.0], dtype=torch.float64) + 0.1 * torch.randn(
        30, dtype=torch.float64
    )
    Xv = torch.randn(20, 4, dtype=torch.float64)
    yv = Xv @ torch.tensor([1.0, -1.0, 0.5, 0.0], dtype=torch.float64)
    log_lam = torch.tensor(-1.0, dtype=torch.float64, requires_grad=True)
    log_lr = torch.tensor(-3.0, dtype=torch.float64, requires_grad=True)
    hopt = torch.optim.SGD([log_lam, log_lr], lr=0.5)
    hist = []
    for outer in range(5):
        w = torch.zeros(4, dtype=torch.float64, requires_grad=True)
        for inner in range(15):
            loss = ((X @ w - y) ** 2).mean() + log_lam.exp() * (w**2).sum()
            (g,) = torch.autograd.grad(loss, w, create_graph=True)
            w = w - log_lr.exp() * g
        val = ((Xv @ w - yv) ** 2).mean()
        hopt.zero_grad()
        val.backward()
        hopt.step()
        hist.append([val.item(), log_lam.grad.item(), log_lr.grad.item()])
    # implicit differentiation of ridge: w* = (X'X/n + lam I)^-1 X'y/n
    lam = log_lam.detach().exp().requires_grad_(True)
    A = X.T @ X / 30 + lam * torch.eye(4, dtype=torch.float64)
    wstar = torch.linalg.solve(A, X.T @ y / 30)
    ((Xv @ wstar - yv) ** 2).mean().backward()
    return {"hist": hist, "lam_grad": [lam.grad.item()], "w": wstar.tolist()}


def wgan_gp_conv(torch):
    torch.manual_seed(0)
    nn = torch.nn
    critic = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(4, 4, 3, stride=2, padding=1),
        nn.LayerNorm([4, 4, 4]),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(64, 1),
    )
    gen = nn.Sequential(
        nn.Linear(4, 64),
        nn.ReLU(),
        nn.Unflatten(1, (4, 4, 4)),
        nn.ConvTranspose2d(4, 1, 4, stride=2, padding=1),
        nn.Tanh(),
    )
    oc = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.0, 0.9))
    og = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.0, 0.9))
    out = {"c": [], "g": [], "gp": []}
    for it in range(4):
        real = torch.rand(6, 1, 8, 8) * 2 - 1
        fake = gen(torch.randn(6, 4))
        eps = torch.rand(6, 1, 1, 1)
        xhat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
        d = critic(xhat)
        (gr,) = torch.autograd.grad(
            d, xhat, grad_outputs=torch.ones_like(d), create_graph=True, retain_graph=True
        )
        gp = ((gr.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
        lc = critic(fake.detach()).mean() - critic(real).mean() + 10 * gp
        oc.zero_grad()
        lc.backward()
        oc.step()
        lg = -critic(gen(torch.randn(6, 4))).mean()
        og.zero_grad()
        lg.backward()
        og.step()
        out["c"].append(lc.item())
        out["g"].append(lg.item())
        out["gp"].append(gp.item())
    out["w"] = critic[0].weight.grad.flatten()[:10].tolist()
    return out


def custom_parametrize_init(torch):
    torch.manual_seed(0)
    nn = torch.nn
    P = nn.utils.parametrize

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    class PosDiag(nn.Module):
        def forward(self, X):
            return X.tril(-1) + torch.diag_embed(nn.functional.softplus(X.diagonal()))

        def right_inverse(self, L):
            return L.tril(-1) + torch.diag_embed(torch.log(torch.expm1(L.diagonal())))

    lin = nn.Linear(4, 4)
    P.register_parametrization(lin, "weight", Symmetric())
    chol = nn.Linear(3, 3, bias=False)
    P.register_parametrization(chol, "weight", PosDiag())
    with torch.no_grad():
        chol.weight = torch.eye(3) * 2.0
    ws = [torch.empty(5, 4) for _ in range(6)]
    nn.init.kaiming_uniform_(ws[0], a=math.sqrt(5))
    nn.init.kaiming_normal_(ws[1], mode="fan_out", nonlinearity="relu")
    nn.init.xavier_normal_(ws[2], gain=nn.init.calculate_gain("tanh"))
    nn.init.orthogonal_(ws[3])
    nn.init.trunc_normal_(ws[4], std=0.02, a=-0.04, b=0.04)
    nn.init.sparse_(ws[5], sparsity=0.5)
    x = torch.randn(8, 4)
    opt = torch.optim.Adam(list(lin.parameters()) + list(chol.parameters()), lr=1e-2)
    losses = []
    for it in range(6):
        L = chol.weight
        loss = (lin(x) ** 2).mean() + (
            (L @ L.T - torch.tensor([[4.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 2.0]])) ** 2
        ).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with P.cached():
        a = lin.weight.sum().item()
    return {
        "loss": losses,
        "sym": [(lin.weight - lin.weight.T).abs().max().item()],
        "chol": chol.weight.flatten().tolist(),
        "inits": torch.cat([w.flatten() for w in ws]).tolist(),
        "a": [a],
        "keys": " ".join(lin.state_dict().keys()) + " " + " ".join(chol.state_dict().keys()),
    }


def function_ctx_features(torch):
    torch.manual_seed(0)

    class SortWithIdx(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            v, i = x.sort(-1)
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(i)
            return v, i

        @staticmethod
        def backward(ctx, gv, gi):
            (i,) = ctx.saved_tensors
            g = torch.zeros_like(gv).scatter(-1, i, gv)
            return g

    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, s):
            ctx.set_materialize_grads(False)
            ctx.s = s
            return x * s, x + s

        @staticmethod
        def backward(ctx, g1, g2):
            out = None
            if ctx.needs_input_grad[0]:
                out = (g1 * ctx.s if g1 is not None else 0) + (g2 if g2 is not None else 0)
            return out, None

    x = torch.randn(3, 5, requires_grad=True)
    v, i = SortWithIdx.apply(x)
    (v * torch.arange(5.0)).sum().backward()
    y = torch.randn(4, requires_grad=True)
    a, b = Scale.apply(y, 3.0)
    a.sum().backward()
    # module hooks: a pre-hook with kwargs; state_dict without persistent=False buffers;
    # load_state_dict(strict=False)
    nn = torch.nn

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.l = nn.Linear(2, 2)
            self.register_buffer("scale", torch.tensor(2.0), persistent=False)
            self.register_buffer("count", torch.zeros((), dtype=torch.long))

        def forward(self, x, shift=0.0):
            self.count += 1
            return self.l(x) * self.scale + shift

    m = M()
    m.register_forward_pre_hook(
        lambda mod, args, kwargs: (args, {"shift": kwargs.get("shift", 0.0) + 1.0}),
        with_kwargs=True,
    )
    o = m(torch.ones(1, 2), shift=0.5)
    res = m.load_state_dict({"l.weight": torch.zeros(2, 2), "extra": torch.ones(1)}, strict=False)
    return {
        "xg": x.grad.flatten().tolist(),
        "i": i.flatten().tolist(),
        "ireq": [i.requires_grad],
        "yg": y.grad.tolist(),
        "o": o.flatten().tolist(),
        "keys": " ".join(m.state_dict().keys()),
        "res": repr(res),
        "count": [m.count.item()],
    }


def scatter_index_ops(torch):
    torch.manual_seed(0)
    src = torch.randn(6, 3, requires_grad=True)
    idx = torch.tensor([0, 2, 0, 1, 2, 2])
    seg_sum = torch.zeros(3, 3).index_add(0, idx, src)
    seg_max = torch.full((3, 3), -1e9).scatter_reduce(
        0, idx[:, None].expand(-1, 3), src, "amax", include_self=False
    )
    seg_mean = torch.zeros(3, 3).scatter_reduce(
        0, idx[:, None].expand(-1, 3), src, "mean", include_self=False
    )
    acc = torch.zeros(4, 3).index_put((torch.tensor([1, 1, 3, 0, 0, 2]),), src, accumulate=True)
    mask = torch.tensor([[True, False, True], [False, True, False]])
    ms = torch.zeros(2, 3).masked_scatter(mask, src[:2].flatten())
    g = torch.gather(src, 1, torch.tensor([[0], [2], [1], [1], [0], [2]]))
    tk = torch.take_along_dim(src, src.argsort(1), 1)
    obj = (
        seg_sum.pow(2).sum()
        + seg_max.sum()
        + seg_mean.sum()
        + acc.pow(3).sum()
        + ms.sum()
        + g.sum()
        + (tk * torch.arange(3.0)).sum()
    )
    obj.backward()
    w = torch.randn(5, requires_grad=True)
    w2 = w.clone()
    w2[torch.tensor([0, 3])] = torch.tensor([1.0, 2.0])
    w2[1:3] *= 2
    (w2**2).sum().backward()
    return {"obj": [obj.item()], "g": src.grad.flatten().tolist(), "wg": w.grad.tolist()}


def data_utils(torch):
    torch.manual_seed(0)
    U = torch.utils.data

    class DictDS(U.Dataset):
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            return {
                "x": np.full(3, i, np.float32),
                "y": i % 3,
                "w": float(i) / 10,
                "name": f"s{i}",
                "t": (torch.tensor([i, i + 1]), i * 2),
            }

    ds = DictDS(12)
    out = {}
    b = next(iter(U.DataLoader(ds, batch_size=4)))
    out["collate"] = repr(
        {
            k: (v if not hasattr(v, "dtype") else (v.dtype, v.tolist()))
            for k, v in b.items()
            if k != "t"
        }
    ) + repr([x.tolist() if hasattr(x, "tolist") else x for x in b["t"]])
    w = torch.tensor([0.1, 0.5, 1.0, 2.0] * 3)
    ws = U.WeightedRandomSampler(w, num_samples=10, replacement=True)
    out["weighted"] = list(ws)
    out["subset"] = list(U.SubsetRandomSampler([1, 3, 5, 7, 9]))
    out["batch"] = repr(
        list(U.BatchSampler(U.RandomSampler(range(7)), batch_size=3, drop_last=False))
    )
    cat = U.ConcatDataset(
        [U.TensorDataset(torch.arange(3.0)), U.TensorDataset(torch.arange(10.0, 14.0))]
    )
    out["concat"] = [float(cat[i][0]) for i in range(len(cat))]
    g = torch.Generator().manual_seed(7)
    out["gen_loader"] = repr(
        [bb[0].tolist() for bb in U.DataLoader(cat, batch_size=3, shuffle=True, generator=g)]
    )

    class Stream(U.IterableDataset):
        def __iter__(self):
            for i in range(7):
                yield torch.tensor([float(i)]), i

    out["iterable"] = repr(
        [(x.tolist(), y.tolist()) for x, y in U.DataLoader(Stream(), batch_size=3)]
    )
    out["custom_collate"] = repr(
        list(U.DataLoader(range(5), batch_size=2, collate_fn=lambda b: sum(b)))
    )
    sub = U.Subset(ds, [2, 4])
    out["subset_ds"] = [sub[1]["y"]]
    fr = U.random_split(range(10), [0.7, 0.3], generator=torch.Generator().manual_seed(1))
    out["frac_split"] = list(fr[0]) + list(fr[1])
    out["stack"] = repr(U.default_collate([(1, 2.0, True), (3, 4.0, False)]))
    dl = U.DataLoader(
        U.TensorDataset(torch.arange(10.0)),
        batch_size=4,
        sampler=U.SequentialSampler(range(10)),
        drop_last=True,
    )
    out["len"] = [len(dl), len(U.DataLoader(ds, batch_size=5))]
    return out


def workers_loader(torch):
    torch.manual_seed(0)
    U = torch.utils.data
    ds = U.TensorDataset(torch.arange(20.0).view(10, 2), torch.arange(10))
    dl = U.DataLoader(ds, batch_size=3, shuffle=True, num_workers=2)
    got = [(x.tolist(), y.tolist()) for x, y in dl]
    return {"batches": repr(got)}


def func_advanced(torch):
    torch.manual_seed(0)
    nn, fn = torch.nn, torch.func
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    params = {k: v.detach() for k, v in model.named_parameters()}
    x = torch.randn(4, 3)
    y = torch.randn(4, 2)

    def loss(p, xb, yb):
        return ((fn.functional_call(model, p, (xb,)) - yb) ** 2).mean()

    H = fn.hessian(loss)(params, x, y)
    hw = H["2.weight"]["2.weight"]
    jd = fn.jacrev(lambda p: {"o": fn.functional_call(model, p, (x,)).sum(0)})(params)
    # Gauss-Newton / Fisher via per-sample jacobians
    J = fn.vmap(
        fn.jacrev(lambda p, xi: fn.functional_call(model, p, (xi[None],))[0]), in_dims=(None, 0)
    )(params, x)
    F = sum(
        torch.einsum(
            "bi...,bj...->ij", J[k].flatten(2).transpose(1, 2), J[k].flatten(2).transpose(1, 2)
        ).sum()
        for k in J
    )
    # vmap with randomness
    drop = nn.Dropout(0.5)
    r_diff = fn.vmap(lambda z: drop(z), randomness="different")(torch.ones(3, 4))
    r_same = fn.vmap(lambda z: drop(z), randomness="same")(torch.ones(3, 4))
    # vmap over a nested function with kwargs and out_dims tuple
    a, b = fn.vmap(lambda u, scale=1.0: (u * scale, u.sum()), in_dims=0, out_dims=(1, 0))(
        torch.arange(6.0).view(2, 3), scale=2.0
    )
    # jvp through a module, hvp via jvp-of-grad
    tangent = {k: torch.ones_like(v) for k, v in params.items()}
    _, jv = fn.jvp(lambda p: loss(p, x, y), (params,), (tangent,))
    _, hv = fn.jvp(fn.grad(lambda p: loss(p, x, y)), (params,), (tangent,))
    return {
        "hw": hw.flatten().tolist(),
        "jd": jd["o"]["0.bias"].flatten().tolist(),
        "F": [F.item()],
        "r_diff": r_diff.flatten().tolist(),
        "r_same": r_same.flatten().tolist(),
        "ab": a.flatten().tolist() + b.tolist() + list(a.shape),
        "jv": [jv.item()],
        "hv": hv["0.weight"].flatten().tolist(),
    }


def laplace_approx(torch):
    torch.manual_seed(0)
    nn = torch.nn
    X = torch.randn(40, 2, dtype=torch.float64)
    y = (X[:, 0] * X[:, 1] > 0).double()
    model = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        l = nn.functional.binary_cross_entropy_with_logits(model(X).squeeze(1), y) + 1e-2 * sum(
            (p**2).sum() for p in model.parameters()
        )
        l.backward()
        return l

    l0 = opt.step(closure)
    names = [n for n, _ in model.named_parameters()]
    flat = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    shapes = [p.shape for p in model.parameters()]

    def unflat(v):
        out, i = {}, 0
        for n, s in zip(names, shapes):
            k = math.prod(s)
            out[n] = v[i : i + k].view(s)
            i += k
        return out

    def f(v):
        return (
            nn.functional.binary_cross_entropy_with_logits(
                torch.func.functional_call(model, unflat(v), (X,)).squeeze(1), y, reduction="sum"
            )
            + 0.5 * (v**2).sum()
        )

    H = torch.autograd.functional.hessian(f, flat)
    evals = torch.linalg.eigvalsh(H)  # (LBFGS stops short of a minimum: shift to positive)
    cov = torch.linalg.inv(
        H + (1.0 - evals[0]).clamp(min=0) * torch.eye(H.shape[0], dtype=torch.float64)
    )
    Lc = torch.linalg.cholesky(cov)
    samples = flat + torch.randn(50, flat.numel(), dtype=torch.float64) @ Lc.T
    preds = torch.stack(
        [
            torch.sigmoid(torch.func.functional_call(model, unflat(s), (X[:5],))).squeeze(1)
            for s in samples
        ]
    ).mean(0)
    return {
        "l0": [l0.item()],
        "Hdiag": H.diagonal().tolist(),
        "preds": preds.tolist(),
        "evals": evals.tolist(),
    }


def em_gmm_kmeans(torch):
    torch.manual_seed(0)
    X = torch.cat(
        [
            torch.randn(30, 2, dtype=torch.float64) + 3,
            torch.randn(30, 2, dtype=torch.float64) - 3,
            torch.randn(30, 2, dtype=torch.float64) * 0.5,
        ]
    )
    C = X[torch.randperm(90)[:3]].clone()
    for it in range(8):
        assign = torch.cdist(X, C).argmin(1)
        C = torch.stack([X[assign == k].mean(0) if (assign == k).any() else C[k] for k in range(3)])
    mu = C.clone()
    var = torch.ones(3, 2, dtype=torch.float64)
    pi = torch.full((3,), 1 / 3, dtype=torch.float64)
    lls = []
    with torch.no_grad():
        for it in range(10):
            logp = (
                -0.5 * (((X[:, None] - mu) ** 2) / var + torch.log(2 * math.pi * var)).sum(-1)
                + pi.log()
            )
            ll = torch.logsumexp(logp, 1)
            r = (logp - ll[:, None]).exp()
            nk = r.sum(0)
            mu = (r.T @ X) / nk[:, None]
            var = (r.T @ X**2) / nk[:, None] - mu**2 + 1e-6
            pi = nk / 90
            lls.append(ll.sum().item())
    return {"C": C.flatten().tolist(), "ll": lls, "mu": mu.flatten().tolist(), "pi": pi.tolist()}


def preallocated_simulation(torch):
    torch.manual_seed(0)
    k = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    T, dt = 60, 0.05
    # (writing each step into a preallocated xs in place raises torch's "modified by an
    # inplace operation" error, tapegrad's too: the rows are stacked instead)
    x, v = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    rows = [torch.stack([x, v])]
    for t in range(T - 1):
        a = -k * x - c * v
        v = v + dt * a
        x = x + dt * v
        rows.append(torch.stack([x, v]))
    xs = torch.stack(rows)
    obs = torch.cos(torch.arange(T, dtype=torch.float64) * dt * 1.1)
    loss = ((xs[:, 0] - obs) ** 2).sum()
    loss.backward()
    # the same with index_copy_ / masked_fill and an out-of-place stack
    buf = torch.zeros(5, 3, dtype=torch.float64)
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    buf = buf.index_copy(0, torch.tensor([0, 2]), torch.stack([w, w * 2]))
    buf[4].copy_(w.exp())
    buf2 = buf.masked_fill(buf > 1.0, 1.0)
    (buf2 * torch.arange(15.0, dtype=torch.float64).view(5, 3)).sum().backward()
    return {
        "loss": [loss.item()],
        "grads": [k.grad.item(), c.grad.item()],
        "wg": w.grad.tolist(),
        "xs": xs[-5:].flatten().tolist(),
    }


def projected_manual_sgd(torch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Linear(5, 1)
    with torch.no_grad():
        model.weight.data.normal_(0, 0.1)
        model.bias.data.zero_()
    X = torch.randn(32, 5)
    y = X @ torch.tensor([0.5, -0.2, 0.0, 0.3, 0.1]) + 0.05
    losses = []
    mom = [torch.zeros_like(p) for p in model.parameters()]
    for it in range(15):
        loss = ((model(X).squeeze(1) - y) ** 2).mean() + 0.01 * model.weight.abs().sum()
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p, m in zip(model.parameters(), mom):
                m.mul_(0.9).add_(p.grad)
                p -= 0.1 * m
            model.weight.data.clamp_(-0.4, 0.4)  # projection onto a box
            model.weight.copy_(
                torch.sign(model.weight) * torch.relu(model.weight.abs() - 1e-3)
            )  # soft threshold
        p.grad = None
        losses.append(loss.item())
    x = torch.ones(3, requires_grad=True)
    y2 = x * 2
    y2.detach_()
    z = torch.ones(3)
    z.requires_grad_()
    (z * y2).sum().backward()
    return {
        "loss": losses,
        "w": model.weight.flatten().tolist(),
        "b": model.bias.tolist(),
        "zg": z.grad.tolist(),
        "flags": [y2.requires_grad, x.grad is None, model.bias.grad is None],
    }


def bptt_truncated(torch):
    torch.manual_seed(0)
    nn = torch.nn
    rnn = nn.LSTM(2, 8, batch_first=True)
    head = nn.Linear(8, 1)
    opt = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-2)
    t = torch.linspace(0, 12, 121)
    seq = torch.stack([torch.sin(t), torch.cos(2 * t)], -1).unsqueeze(0)
    target = torch.sin(t + 0.3).view(1, -1, 1)
    hc = None
    losses = []
    for start in range(0, 120, 20):
        x = seq[:, start : start + 20]
        yy = target[:, start : start + 20]
        if hc is not None:
            hc = tuple(h.detach() for h in hc)
        out, hc = rnn(x, hc)
        loss = nn.functional.mse_loss(head(out), yy)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"loss": losses, "h": hc[0].flatten().tolist()}


def scalar_newton_bisect(torch):
    def f(x):
        return x**3 - 2 * x - 5 + torch.sin(x) * 0.1

    x = torch.tensor(2.0, requires_grad=True)
    hist = []
    for it in range(8):
        y = f(x)
        (g,) = torch.autograd.grad(y, x)
        with torch.no_grad():
            x = (x - y / g).requires_grad_(True)
        hist.append(x.item())
    lo, hi = torch.tensor(1.0, dtype=torch.float64), torch.tensor(3.0, dtype=torch.float64)
    for it in range(30):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            hi = mid
        else:
            lo = mid
    # damped pendulum energy with 0-d tensors, float64 params and float32 state
    th = torch.tensor(1.0)
    om = torch.tensor(0.0)
    g_ = torch.tensor(9.81, dtype=torch.float64, requires_grad=True)
    L = torch.tensor(1.2, dtype=torch.float64, requires_grad=True)
    dt = 0.01
    for it in range(300):
        om = om - dt * (g_ / L) * torch.sin(th) - dt * 0.1 * om
        th = th + dt * om
    E = 0.5 * (L * om) ** 2 + g_ * L * (1 - torch.cos(th))
    E.backward()
    n = torch.tensor(0)
    acc = torch.tensor(0.0)
    for i in range(10):
        n += 1
        acc += n * 0.5
        acc *= 1.01
    return {
        "newton": hist,
        "bisect": [mid.item()],
        "E": [E.item(), g_.grad.item(), L.grad.item(), th.dtype == torch.float64],
        "acc": [acc.item(), n.item()],
        "dtypes": str(om.dtype) + str(acc.dtype) + str(n.dtype),
    }


def integrators(torch):
    x = torch.linspace(0, math.pi, 101, dtype=torch.float64, requires_grad=True)
    y = torch.sin(x) ** 2
    I1 = torch.trapezoid(y, x)
    simpson = (x[1] - x[0]) / 3 * (y[0] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum() + y[-1])
    (I1 + simpson).backward()
    # Gauss-Legendre via eigenvalues of the Jacobi matrix
    n = 6
    k = torch.arange(1, n, dtype=torch.float64)
    beta = k / torch.sqrt(4 * k**2 - 1)
    Jm = torch.diag(beta, 1) + torch.diag(beta, -1)
    nodes, V = torch.linalg.eigh(Jm)
    weights = 2 * V[0] ** 2
    a = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    gl = (weights * torch.exp(-a * nodes**2)).sum()
    (ga,) = torch.autograd.grad(gl, a)
    return {
        "I": [I1.item(), simpson.item()],
        "xg": x.grad[::10].tolist(),
        "nodes": nodes.tolist(),
        "w": weights.tolist(),
        "gl": [gl.item(), ga.item()],
    }


def sac_update(torch):
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional
    D = torch.distributions
    obs_dim, act_dim = 3, 2
    actor = nn.Sequential(nn.Linear(obs_dim, 32), nn.ReLU(), nn.Linear(32, 2 * act_dim))
    q1 = nn.Sequential(nn.Linear(obs_dim + act_dim, 32), nn.ReLU(), nn.Linear(32, 1))
    q2 = copy.deepcopy(q1)
    for p in q2.parameters():
        with torch.no_grad():
            p.add_(0.01 * torch.randn_like(p))
    q1_t, q2_t = copy.deepcopy(q1), copy.deepcopy(q2)
    log_alpha = torch.zeros(1, requires_grad=True)
    oa = torch.optim.Adam(actor.parameters(), lr=3e-4)
    oq = torch.optim.Adam(list(q1.parameters()) + list(q2.parameters()), lr=3e-4)
    oal = torch.optim.Adam([log_alpha], lr=3e-4)

    def policy(o):
        mu, log_std = actor(o).chunk(2, -1)
        log_std = log_std.clamp(-20, 2)
        base = D.Normal(mu, log_std.exp())
        dist = D.TransformedDistribution(
            base, [D.transforms.TanhTransform(cache_size=1), D.transforms.AffineTransform(0.0, 2.0)]
        )
        a = dist.rsample()
        return a, dist.log_prob(a).sum(-1)

    out = {"q": [], "pi": [], "alpha": []}
    for it in range(6):
        o = torch.randn(16, obs_dim)
        a = torch.rand(16, act_dim) * 4 - 2
        r = torch.randn(16)
        o2 = torch.randn(16, obs_dim)
        d = (torch.rand(16) < 0.1).float()
        with torch.no_grad():
            a2, lp2 = policy(o2)
            qt = torch.min(q1_t(torch.cat([o2, a2], -1)), q2_t(torch.cat([o2, a2], -1))).squeeze(-1)
            y = r + 0.99 * (1 - d) * (qt - log_alpha.exp() * lp2)
        qa = torch.cat([o, a], -1)
        lq = F.mse_loss(q1(qa).squeeze(-1), y) + F.mse_loss(q2(qa).squeeze(-1), y)
        oq.zero_grad()
        lq.backward()
        oq.step()
        for p in list(q1.parameters()) + list(q2.parameters()):
            p.requires_grad_(False)
        api, lp = policy(o)
        qpi = torch.min(q1(torch.cat([o, api], -1)), q2(torch.cat([o, api], -1))).squeeze(-1)
        lpi = (log_alpha.exp().detach() * lp - qpi).mean()
        oa.zero_grad()
        lpi.backward()
        oa.step()
        for p in list(q1.parameters()) + list(q2.parameters()):
            p.requires_grad_(True)
        lal = -(log_alpha * (lp.detach() - act_dim)).mean()
        oal.zero_grad()
        lal.backward()
        oal.step()
        with torch.no_grad():
            for net, tgt in ((q1, q1_t), (q2, q2_t)):
                for p, pt in zip(net.parameters(), tgt.parameters()):
                    pt.mul_(0.995).add_(0.005 * p)
        out["q"].append(lq.item())
        out["pi"].append(lpi.item())
        out["alpha"].append(log_alpha.item())
    return out


def flows_transforms(torch):
    torch.manual_seed(0)
    D = torch.distributions
    T = D.transforms
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    ts = [
        T.TanhTransform(),
        T.SigmoidTransform(),
        T.PowerTransform(torch.tensor(2.0, dtype=torch.float64)),
        T.SoftplusTransform(),
        T.ExpTransform(),
        T.AffineTransform(
            torch.tensor(1.0, dtype=torch.float64),
            torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64),
        ),
    ]
    out = {}
    for tr in ts:
        z = x.abs() + 0.1 if isinstance(tr, T.PowerTransform) else x
        y = tr(z)
        ld = tr.log_abs_det_jacobian(z, y)
        back = tr.inv(y)
        out[type(tr).__name__] = [
            y.sum().item(),
            ld.sum().item(),
            (back - z).abs().max().item() < 1e-6,
        ]
    sb = T.StickBreakingTransform()
    y = sb(x)
    ld = sb.log_abs_det_jacobian(x, y)
    cc = T.CorrCholeskyTransform()
    L = cc(x[0])
    ldc = cc.log_abs_det_jacobian(x[0], L)
    comp = T.ComposeTransform([T.AffineTransform(0.0, 2.0), T.TanhTransform()])
    yc = comp(x)
    ldcomp = comp.log_abs_det_jacobian(x, yc)
    cat = T.CatTransform([T.ExpTransform(), T.TanhTransform()], dim=1, lengths=[1, 2])
    ycat = cat(x)
    st = T.StackTransform([T.ExpTransform(), T.SigmoidTransform(), T.TanhTransform()], dim=1)
    yst = st(x)
    red = T.ReshapeTransform((3,), (3, 1))
    obj = y.sum() + ld.sum() + L.sum() + ldc + ldcomp.sum() + ycat.sum() + yst.sum() + red(x).sum()
    obj.backward()
    out["obj"] = [obj.item()]
    out["g"] = x.grad.flatten().tolist()
    out["sb"] = y[0].tolist() + [sb.inv(y).sub(x).abs().max().item() < 1e-8]
    out["L"] = L.flatten().tolist()
    return out


PROGRAMS = {
    f.__name__: f
    for f in (
        logreg_lbfgs,
        least_squares,
        hvp_newton,
        transformer_cls,
        gru_packed,
        char_rnn,
        normalizing_flow,
        vae_kl,
        small_gan,
        per_sample_grads,
        data_pipeline,
        mc_barrier,
        gp_marginal,
        neural_ode,
        attention_lm,
        mha_seq2seq,
        custom_function_checkpoint,
        parametrized_nets,
        hmc_sampler,
        sinkhorn_ot,
        kalman_filter,
        conv1d_classifier,
        mixture_density,
        implicit_reparam,
        poisson_glm,
        ensemble_func,
        gnn_message_passing,
        pca_svd,
        constrained_opt,
        interp_table,
        sched_zoo,
        reprs_and_printing,
        whole_model_pickle,
        sobol_mc,
        misc_training,
        numpy_interop,
        gumbel_vq,
        ctc_speech,
        robust_stats,
        cumulative_ops,
        policy_gradient_ppo,
        bayes_logreg_vi,
        unet_tiny,
        spatial_transformer,
        embedding_variants,
        lstm_variants,
        metric_learning,
        adaptive_softmax_lm,
        batched_grads_pinn,
        optimizer_in_backward,
        more_distributions,
        gamma_mle_newton,
        diverging_fit_rollback,
        maml_sine,
        hypergradient_unrolled,
        wgan_gp_conv,
        custom_parametrize_init,
        function_ctx_features,
        scatter_index_ops,
        data_utils,
        workers_loader,
        func_advanced,
        laplace_approx,
        em_gmm_kmeans,
        preallocated_simulation,
        projected_manual_sgd,
        bptt_truncated,
        scalar_newton_bisect,
        integrators,
        sac_update,
        flows_transforms,
    )
}
# float64 programs: round-off only; float32 ones accumulate it over their steps
RTOL = dict.fromkeys(
    (
        "logreg_lbfgs",
        "hvp_newton",
        "gru_packed",
        "gp_marginal",
        "mc_barrier",
        "mha_seq2seq",
        "hmc_sampler",
        "kalman_filter",
        "pca_svd",
        "robust_stats",
        "cumulative_ops",
        "sobol_mc",
        "gamma_mle_newton",
        "hypergradient_unrolled",
        "laplace_approx",
        "em_gmm_kmeans",
        "preallocated_simulation",
        "integrators",
        "flows_transforms",
    ),
    1e-9,
)


def _text(s):
    """Printed text, with tapegrad's module name where torch prints its own
    (dtype=torch.float64)."""
    return s.replace("tapegrad.", "torch.")


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_matches_torch(name, torch_ref):
    got = PROGRAMS[name](tapegrad)
    want = PROGRAMS[name](torch_ref)
    assert got.keys() == want.keys()
    for key in want:
        if isinstance(want[key], str):
            assert _text(got[key]) == want[key], f"{name}: {key}"
            continue
        rtol = RTOL.get(name, 2e-4)
        np.testing.assert_allclose(
            np.asarray(got[key], dtype=np.float64),
            np.asarray(want[key], dtype=np.float64),
            rtol=rtol,
            atol=1e-12 if rtol < 1e-6 else 1e-5,
            err_msg=f"{name}: {key}",
        )
