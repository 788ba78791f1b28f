"""More programs of the kinds tapegrad's users write, each a function of the `torch` module run
with tapegrad and with real torch from the same seed, compared by their trajectories (losses,
parameters, gradients, samples) and printed text: sequence models (a BiLSTM-CRF, seq2seq with
attention, a TransformerDecoder LM, WaveNet), statistics (an HMM, Cox regression, a Hawkes
process, negative binomial and Levenberg-Marquardt fits, Gibbs sampling, particle filters),
physics (molecular dynamics, a Lagrangian network), generative and contrastive training
(DDPM, MADE, SimCLR, mixup), reinforcement learning (DQN), interpretability and adversarial
attacks, the less common layers and their settings, threads, and the errors of common
mistakes."""

import copy
import math

import numpy as np
import pytest

import tapegrad

# whole programs, each run with tapegrad and with torch: slow (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow


def _err(f):
    try:
        r = f()
        return "ok " + (repr(r) if r is not None else "")
    except Exception as e:
        return f"{type(e).__name__}: {e}"


def _hardtanh(torch, y):
    return torch.nn.functional.hardtanh(y, -1.0, 1.0)


def crf_tagger(torch):
    """BiLSTM-CRF: forward algorithm (logsumexp), gold-path score (gather), Viterbi decode."""
    torch.manual_seed(0)
    nn = torch.nn
    V, K, E, H, L, B = 12, 4, 6, 5, 7, 3

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, E, padding_idx=0)
            self.lstm = nn.LSTM(E, H, batch_first=True, bidirectional=True)
            self.proj = nn.Linear(2 * H, K)
            self.trans = nn.Parameter(torch.randn(K, K) * 0.1)
            self.start = nn.Parameter(torch.zeros(K))

        def emissions(self, x):
            h, _ = self.lstm(self.emb(x))
            return self.proj(h)

        def nll(self, x, tags, mask):
            em = self.emissions(x)
            alpha = self.start + em[:, 0]
            score = self.start[tags[:, 0]] + em[:, 0].gather(1, tags[:, :1]).squeeze(1)
            for t in range(1, x.shape[1]):
                nxt = torch.logsumexp(
                    alpha.unsqueeze(2) + self.trans + em[:, t].unsqueeze(1), dim=1
                )
                m = mask[:, t].unsqueeze(1)
                alpha = torch.where(m, nxt, alpha)
                step = self.trans[tags[:, t - 1], tags[:, t]] + em[:, t].gather(
                    1, tags[:, t : t + 1]
                ).squeeze(1)
                score = score + step * mask[:, t].float()
            return (torch.logsumexp(alpha, 1) - score).mean()

        @torch.no_grad()
        def viterbi(self, x):
            em = self.emissions(x)
            delta = self.start + em[:, 0]
            back = []
            for t in range(1, x.shape[1]):
                v, idx = (delta.unsqueeze(2) + self.trans).max(1)
                delta = v + em[:, t]
                back.append(idx)
            best = delta.argmax(1)
            path = [best]
            for idx in reversed(back):
                best = idx.gather(1, best.unsqueeze(1)).squeeze(1)
                path.append(best)
            return torch.stack(path[::-1], 1)

    model = Tagger()
    x = torch.randint(1, V, (B, L))
    lengths = torch.tensor([7, 5, 3])
    mask = torch.arange(L).unsqueeze(0) < lengths.unsqueeze(1)
    x = x.masked_fill(~mask, 0)
    tags = (x % K).masked_fill(~mask, 0)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for it in range(8):
        opt.zero_grad()
        loss = model.nll(x, tags, mask)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
    return {
        "loss": losses,
        "path": model.viterbi(x).flatten().tolist(),
        "trans": model.trans.detach().flatten().tolist(),
        "emb_grad_pad": model.emb.weight.grad[0].abs().sum().item(),
    }


def hmm_baum_welch(torch):
    """HMM fitted by gradient ascent on the forward-algorithm log-likelihood; posterior state
    marginals from the gradient of log Z w.r.t. the log-emissions (the forward-backward trick)."""
    torch.manual_seed(1)
    S, O, T = 3, 4, 25
    obs = torch.randint(0, O, (T,))
    logits_pi = torch.zeros(S, dtype=torch.float64, requires_grad=True)
    logits_A = (0.3 * torch.randn(S, S, dtype=torch.float64)).requires_grad_()
    logits_B = (0.3 * torch.randn(S, O, dtype=torch.float64)).requires_grad_()
    opt = torch.optim.LBFGS(
        [logits_pi, logits_A, logits_B], lr=0.5, max_iter=15, line_search_fn="strong_wolfe"
    )

    def loglik(log_em=None):
        log_pi = torch.log_softmax(logits_pi, 0)
        log_A = torch.log_softmax(logits_A, 1)
        log_B = torch.log_softmax(logits_B, 1)
        if log_em is None:
            log_em = log_B[:, obs].T
        a = log_pi + log_em[0]
        for t in range(1, T):
            a = torch.logsumexp(a[:, None] + log_A, 0) + log_em[t]
        return torch.logsumexp(a, 0)

    trace = []

    def closure():
        opt.zero_grad()
        nll = -loglik()
        nll.backward()
        trace.append(nll.item())
        return nll

    opt.step(closure)
    log_B = torch.log_softmax(logits_B, 1).detach()
    log_em = log_B[:, obs].T.clone().requires_grad_()
    (post,) = torch.autograd.grad(loglik(log_em), log_em)
    return {
        "trace": trace,
        "A": torch.softmax(logits_A, 1).detach().flatten().tolist(),
        "post": post.flatten().tolist(),
        "rowsum": post.sum(1).tolist(),
    }


def cox_survival(torch):
    """Cox proportional hazards: partial likelihood with argsort/logcumsumexp, Breslow ties;
    concordance index."""
    torch.manual_seed(2)
    n, d = 60, 4
    X = torch.randn(n, d)
    beta_true = torch.tensor([0.8, -0.5, 0.0, 0.3])
    t = -torch.log(torch.rand(n)) / torch.exp(X @ beta_true)
    t = (t * 10).round() / 10
    event = (torch.rand(n) < 0.8).float()
    lin = torch.nn.Linear(d, 1, bias=False)
    torch.nn.init.zeros_(lin.weight)
    opt = torch.optim.SGD(lin.parameters(), lr=0.5, momentum=0.9, weight_decay=1e-3)
    order = torch.argsort(t, descending=True, stable=True)
    Xs, es = X[order], event[order]
    losses = []
    for it in range(20):
        eta = lin(Xs).squeeze(-1)
        log_risk = torch.logcumsumexp(eta, 0)
        loss = -((eta - log_risk) * es).sum() / es.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        eta = lin(X).squeeze(-1)
        comp = (t[:, None] < t[None, :]) & (event[:, None] > 0)
        conc = ((eta[:, None] > eta[None, :]) & comp).sum() + 0.5 * (
            (eta[:, None] == eta[None, :]) & comp
        ).sum()
        cidx = conc / comp.sum()
    return {
        "loss": losses,
        "w": lin.weight.flatten().tolist(),
        "cindex": cidx.item(),
        "dtype": str(cidx.dtype),
    }


def ddpm_tiny(torch):
    """A DDPM on 2-d points: cosine-free linear betas, cumprod, randint timesteps, sinusoidal
    embeddings, an MLP denoiser; then ancestral sampling under no_grad."""
    torch.manual_seed(3)
    nn = torch.nn
    Tn = 20
    betas = torch.linspace(1e-3, 0.2, Tn)
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    data = torch.cat(
        [torch.randn(64, 2) * 0.1 + torch.tensor([1.0, 1.0]), torch.randn(64, 2) * 0.1 - 1.0]
    )

    def temb(t, dim=8):
        half = dim // 2
        freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half)
        a = t.float()[:, None] * freqs[None]
        return torch.cat([a.sin(), a.cos()], -1)

    net = nn.Sequential(
        nn.Linear(2 + 8, 32), nn.SiLU(), nn.Linear(32, 32), nn.SiLU(), nn.Linear(32, 2)
    )
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=15)
    losses = []
    for it in range(15):
        idx = torch.randint(0, data.shape[0], (32,))
        x0 = data[idx]
        t = torch.randint(0, Tn, (32,))
        eps = torch.randn_like(x0)
        ab = abar.gather(0, t)[:, None]
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        pred = net(torch.cat([xt, temb(t)], 1))
        loss = nn.functional.mse_loss(pred, eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    with torch.no_grad():
        x = torch.randn(16, 2)
        for i in reversed(range(Tn)):
            t = torch.full((16,), i, dtype=torch.long)
            eps = net(torch.cat([x, temb(t)], 1))
            x = (x - betas[i] / (1 - abar[i]).sqrt() * eps) / alphas[i].sqrt()
            if i > 0:
                x = x + betas[i].sqrt() * torch.randn_like(x)
    return {"loss": losses, "samples": x.flatten().tolist(), "lr": sched.get_last_lr()}


def distillation(torch):
    """Knowledge distillation: temperature-softened KLDivLoss(batchmean) plus label-smoothed
    cross entropy; teacher in eval mode under inference_mode."""
    torch.manual_seed(4)
    nn, F = torch.nn, torch.nn.functional
    teacher = nn.Sequential(nn.Linear(6, 32), nn.GELU(), nn.Dropout(0.2), nn.Linear(32, 5))
    student = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5))
    X = torch.randn(40, 6)
    y = torch.randint(0, 5, (40,))
    teacher.eval()
    with torch.inference_mode():
        t_logits = teacher(X)
    kl = nn.KLDivLoss(reduction="batchmean", log_target=True)
    ce = nn.CrossEntropyLoss(label_smoothing=0.1)
    opt = torch.optim.NAdam(student.parameters(), lr=0.02)
    Tmp = 3.0
    losses = []
    for it in range(12):
        s = student(X)
        loss = 0.7 * kl(
            F.log_softmax(s / Tmp, 1), F.log_softmax(t_logits / Tmp, 1)
        ) * Tmp**2 + 0.3 * ce(s, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    acc = (student(X).argmax(1) == y).float().mean()
    return {
        "loss": losses,
        "acc": acc.item(),
        "w": student[0].weight.detach().flatten().tolist(),
        "inf": str(t_logits.is_inference()),
        "rg": str(t_logits.requires_grad),
    }


def md_lennard_jones(torch):
    """Molecular dynamics: Lennard-Jones energy over triu pairs, forces from autograd.grad,
    velocity Verlet; then the energy's gradient w.r.t. epsilon through the trajectory."""
    torch.manual_seed(5)
    n = 8
    side = torch.arange(2, dtype=torch.float64) * 1.2
    grid = torch.stack(torch.meshgrid(side, side, side, indexing="ij"), -1).reshape(-1, 3)
    pos0 = grid + 0.05 * torch.randn(n, 3, dtype=torch.float64)
    vel0 = 0.1 * torch.randn(n, 3, dtype=torch.float64)
    vel0 = vel0 - vel0.mean(0, keepdim=True)
    i, j = torch.triu_indices(n, n, 1)
    eps_lj = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)

    def energy(p):
        r = (p[i] - p[j]).norm(dim=1)
        sr6 = (1.0 / r) ** 6
        return (4 * eps_lj * (sr6**2 - sr6)).sum()

    def forces(p, create_graph):
        if not p.requires_grad:
            p = p.requires_grad_()
        e = energy(p)
        (g,) = torch.autograd.grad(e, p, create_graph=create_graph)
        return -g, e

    dt = 0.005
    pos, vel = pos0.clone(), vel0.clone()
    f, e = forces(pos, True)
    energies = []
    for step in range(15):
        vel = vel + 0.5 * dt * f
        pos = pos + dt * vel
        f, e = forces(pos, True)
        vel = vel + 0.5 * dt * f
        energies.append((e + 0.5 * (vel**2).sum()).item())
    ke = 0.5 * (vel**2).sum()
    (dke,) = torch.autograd.grad(ke, eps_lj)
    return {"E": energies, "dke": dke.item(), "pos": pos.detach().flatten().tolist()}


def transformer_decoder_lm(torch):
    """A TransformerDecoder LM over a memory, causal mask, teacher forcing, greedy decoding."""
    torch.manual_seed(7)
    nn = torch.nn
    V, D, L = 10, 16, 6
    emb = nn.Embedding(V, D)
    pos = nn.Parameter(torch.randn(1, L, D) * 0.02)
    layer = nn.TransformerDecoderLayer(
        D, 2, dim_feedforward=32, dropout=0.1, batch_first=True, norm_first=True
    )
    dec = nn.TransformerDecoder(layer, 2)
    head = nn.Linear(D, V)
    params = list(emb.parameters()) + [pos] + list(dec.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=5e-3)
    src = torch.randint(1, V, (4, L))
    memory = emb(src).detach()
    tgt = torch.flip(src, [1])
    bos = torch.zeros(4, 1, dtype=torch.long)
    inp = torch.cat([bos, tgt[:, :-1]], 1)
    mask = nn.Transformer.generate_square_subsequent_mask(L)
    losses = []
    dec.train()
    for it in range(6):
        h = dec(emb(inp) + pos, memory, tgt_mask=mask, tgt_is_causal=True)
        loss = nn.functional.cross_entropy(head(h).reshape(-1, V), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    dec.eval()
    with torch.no_grad():
        seq = bos
        for k in range(L):
            m = nn.Transformer.generate_square_subsequent_mask(seq.shape[1])
            h = dec(emb(seq) + pos[:, : seq.shape[1]], memory, tgt_mask=m)
            seq = torch.cat([seq, head(h[:, -1]).argmax(-1, keepdim=True)], 1)
    return {"loss": losses, "gen": seq.flatten().tolist(), "mask": str(mask)}


def moe_topk(torch):
    """Mixture of experts: top-2 gating with softmax over the kept logits, dispatch by index,
    scatter back with index_add_, a load-balancing auxiliary loss."""
    torch.manual_seed(8)
    nn, F = torch.nn, torch.nn.functional
    Ne, D, N = 4, 6, 24
    experts = nn.ModuleList(
        nn.Sequential(nn.Linear(D, 12), nn.ReLU(), nn.Linear(12, D)) for _ in range(Ne)
    )
    gate = nn.Linear(D, Ne, bias=False)
    X = torch.randn(N, D)
    Y = torch.sin(X) + 0.1 * torch.randn(N, D)
    opt = torch.optim.Adam(list(experts.parameters()) + list(gate.parameters()), lr=1e-2)
    out = {"loss": [], "counts": []}
    for it in range(8):
        logits = gate(X)
        topv, topi = logits.topk(2, dim=1)
        w = F.softmax(topv, 1)
        y = torch.zeros_like(X)
        for e in range(Ne):
            rows, slot = torch.nonzero(topi == e, as_tuple=True)
            if rows.numel() == 0:
                continue
            ye = experts[e](X[rows]) * w[rows, slot].unsqueeze(1)
            y = y.index_add(0, rows, ye)
        probs = F.softmax(logits, 1)
        frac = F.one_hot(topi[:, 0], Ne).float().mean(0)
        aux = Ne * (frac * probs.mean(0)).sum()
        loss = F.mse_loss(y, Y) + 0.01 * aux
        opt.zero_grad()
        loss.backward()
        opt.step()
        out["loss"].append(loss.item())
        out["counts"].append(torch.bincount(topi.flatten(), minlength=Ne).tolist())
    out["gate"] = gate.weight.detach().flatten().tolist()
    return out


def capsule_routing(torch):
    """Dynamic routing between capsules: squash, softmax over routing logits, einsum votes,
    margin loss."""
    torch.manual_seed(9)
    nn = torch.nn
    B, Nin, Din, Nout, Dout = 5, 8, 4, 3, 6
    W = nn.Parameter(0.1 * torch.randn(Nin, Nout, Dout, Din))
    x = torch.randn(B, Nin, Din)
    y = torch.randint(0, Nout, (B,))

    def squash(s, dim=-1):
        n2 = (s**2).sum(dim, keepdim=True)
        return n2 / (1 + n2) * s / torch.sqrt(n2 + 1e-8)

    opt = torch.optim.SGD([W], lr=0.5, momentum=0.5)
    losses = []
    for it in range(8):
        u = torch.einsum("ijkl,bil->bijk", W, x)
        blog = torch.zeros(B, Nin, Nout)
        for r in range(3):
            c = blog.softmax(dim=2)
            v = squash((c.unsqueeze(-1) * u).sum(1))
            if r < 2:
                blog = blog + (u * v.unsqueeze(1)).sum(-1)
        lengths = v.norm(dim=-1)
        T = nn.functional.one_hot(y, Nout).float()
        loss = (
            (T * torch.relu(0.9 - lengths) ** 2 + 0.5 * (1 - T) * torch.relu(lengths - 0.1) ** 2)
            .sum(1)
            .mean()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        "loss": losses,
        "len": lengths.detach().flatten().tolist(),
        "Wg": W.grad.flatten()[:20].tolist(),
    }


def word2vec_sgns(torch):
    """Skip-gram with negative sampling: unigram^0.75 multinomial negatives, logsigmoid, sparse
    embeddings with SparseAdam."""
    torch.manual_seed(10)
    nn, F = torch.nn, torch.nn.functional
    V, D = 30, 8
    corpus = torch.randint(0, V, (200,))
    counts = torch.bincount(corpus, minlength=V).float()
    noise = counts**0.75
    noise = noise / noise.sum()
    centre = nn.Embedding(V, D)
    ctx = nn.Embedding(V, D)
    nn.init.uniform_(centre.weight, -0.5 / D, 0.5 / D)
    nn.init.zeros_(ctx.weight)
    opt = torch.optim.Adam(list(centre.parameters()) + list(ctx.parameters()), lr=0.05)
    pairs = torch.stack([corpus[:-2], corpus[2:]], 1)
    losses = []
    for it in range(10):
        b = pairs[torch.randperm(len(pairs))[:32]]
        neg = torch.multinomial(noise, 32 * 5, replacement=True).view(32, 5)
        c = centre(b[:, 0])
        pos = (c * ctx(b[:, 1])).sum(1)
        negs = torch.bmm(ctx(neg), c.unsqueeze(2)).squeeze(2)
        loss = -(F.logsigmoid(pos) + F.logsigmoid(-negs).sum(1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    sim = F.cosine_similarity(centre.weight[:1], centre.weight[1:], dim=1)
    return {
        "loss": losses,
        "sim": sim.detach().tolist(),
        "sparse": str(centre.weight.grad.is_sparse),
        "gnz": (ctx.weight.grad != 0).any(1).sum().item(),
    }


def levenberg_marquardt(torch):
    """Levenberg-Marquardt on a two-exponential decay, Jacobian from torch.func.jacrev,
    damping adapted by the gain ratio."""
    torch.manual_seed(11)
    tt = torch.linspace(0, 4, 40, dtype=torch.float64)
    true = torch.tensor([2.0, 1.3, 0.5, 0.2], dtype=torch.float64)

    def model(p, t):
        return p[0] * torch.exp(-p[1] * t) + p[2] * torch.exp(-p[3] * t)

    y = model(true, tt) + 0.01 * torch.randn(40, dtype=torch.float64)
    p = torch.tensor([1.0, 1.0, 1.0, 0.1], dtype=torch.float64)
    lam = 1e-2
    jac = torch.func.jacrev(lambda q: model(q, tt) - y)
    hist = []
    for it in range(12):
        r = model(p, tt) - y
        J = jac(p)
        A = J.T @ J
        g = J.T @ r
        step = torch.linalg.solve(A + lam * torch.diag(torch.diagonal(A)), -g)
        r_new = model(p + step, tt) - y
        if r_new.pow(2).sum() < r.pow(2).sum():
            p = p + step
            lam = lam / 3
        else:
            lam = lam * 2
        hist.append(r.pow(2).sum().item())
    cov = torch.linalg.inv(J.T @ J) * r.pow(2).sum() / (40 - 4)
    return {"hist": hist, "p": p.tolist(), "se": cov.diagonal().sqrt().tolist()}


def bnn_bayes_by_backprop(torch):
    """Bayes by backprop with the local reparameterisation trick: softplus scales, closed-form
    Gaussian KL, Normal.log_prob likelihood, predictive mean and std by Monte Carlo."""
    torch.manual_seed(12)
    nn, F = torch.nn, torch.nn.functional
    D = torch.distributions

    class BayesLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.mu = nn.Parameter(torch.empty(o, i).uniform_(-0.2, 0.2))
            self.rho = nn.Parameter(torch.full((o, i), -4.0))
            self.b = nn.Parameter(torch.zeros(o))

        def forward(self, x):
            sigma = F.softplus(self.rho)
            m = F.linear(x, self.mu, self.b)
            v = F.linear(x**2, sigma**2)
            return m + v.sqrt() * torch.randn_like(m)

        def kl(self):
            q = D.Normal(self.mu, F.softplus(self.rho))
            p = D.Normal(torch.zeros_like(self.mu), torch.ones_like(self.mu))
            return D.kl_divergence(q, p).sum()

    l1, l2 = BayesLinear(1, 16), BayesLinear(16, 1)
    x = torch.linspace(-2, 2, 30).unsqueeze(1)
    y = torch.sin(2 * x) + 0.1 * torch.randn_like(x)
    opt = torch.optim.Adam(list(l1.parameters()) + list(l2.parameters()), lr=0.02)
    elbos = []
    for it in range(15):
        out = l2(torch.tanh(l1(x)))
        nll = -D.Normal(out, 0.1).log_prob(y).sum()
        loss = nll + (l1.kl() + l2.kl()) / 10
        opt.zero_grad()
        loss.backward()
        opt.step()
        elbos.append(loss.item())
    with torch.no_grad():
        preds = torch.stack([l2(torch.tanh(l1(x))) for _ in range(10)])
    return {
        "loss": elbos,
        "mean": preds.mean(0).flatten().tolist(),
        "std": preds.std(0).flatten().tolist(),
    }


def dqn_gridworld(torch):
    """DQN on a 1-d corridor: epsilon-greedy with torch.rand, a tensor replay buffer, a target
    network synced by load_state_dict, smooth_l1 on gathered Q-values, clip_grad_value_."""
    torch.manual_seed(13)
    nn, F = torch.nn, torch.nn.functional
    N = 6
    q = nn.Sequential(nn.Linear(N, 16), nn.ReLU(), nn.Linear(16, 2))
    target = nn.Sequential(nn.Linear(N, 16), nn.ReLU(), nn.Linear(16, 2))
    target.load_state_dict(q.state_dict())
    opt = torch.optim.RMSprop(q.parameters(), lr=1e-2)
    cap = 64
    buf_s = torch.zeros(cap, dtype=torch.long)
    buf_a = torch.zeros(cap, dtype=torch.long)
    buf_r = torch.zeros(cap)
    buf_s2 = torch.zeros(cap, dtype=torch.long)
    buf_d = torch.zeros(cap, dtype=torch.bool)
    n_stored = 0
    s = 0
    losses, rewards = [], []
    for step in range(60):
        eps = max(0.1, 1.0 - step / 40)
        if torch.rand(()).item() < eps:
            a = int(torch.randint(0, 2, ()).item())
        else:
            with torch.no_grad():
                a = int(q(F.one_hot(torch.tensor(s), N).float()).argmax().item())
        s2 = min(max(s + (1 if a == 1 else -1), 0), N - 1)
        r = 1.0 if s2 == N - 1 else -0.01
        done = s2 == N - 1
        k = n_stored % cap
        buf_s[k], buf_a[k], buf_r[k], buf_s2[k], buf_d[k] = s, a, r, s2, done
        n_stored += 1
        rewards.append(r)
        s = 0 if done else s2
        if n_stored >= 8:
            idx = torch.randint(0, min(n_stored, cap), (8,))
            S = F.one_hot(buf_s[idx], N).float()
            S2 = F.one_hot(buf_s2[idx], N).float()
            qsa = q(S).gather(1, buf_a[idx].unsqueeze(1)).squeeze(1)
            with torch.no_grad():
                tgt = buf_r[idx] + 0.9 * target(S2).max(1).values * (~buf_d[idx]).float()
            loss = F.smooth_l1_loss(qsa, tgt)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_value_(q.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        if step % 10 == 0:
            target.load_state_dict(q.state_dict())
    with torch.no_grad():
        Q = q(torch.eye(N))
    return {"loss": losses, "rewards": rewards, "Q": Q.flatten().tolist()}


def particle_filter(torch):
    """Bootstrap particle filter on a nonlinear state-space model: multinomial resampling,
    logsumexp weights; the log-likelihood estimate and the filtered means, as a function of
    the process noise (a grid scan, no gradients through resampling)."""
    torch.manual_seed(14)
    Tn, P = 20, 200
    x = torch.zeros((), dtype=torch.float64)
    ys = []
    for t in range(Tn):
        x = (
            0.5 * x
            + 25 * x / (1 + x**2)
            + 8 * math.cos(1.2 * t)
            + torch.randn((), dtype=torch.float64)
        )
        ys.append(x**2 / 20 + torch.randn((), dtype=torch.float64))
    ys = torch.stack(ys)

    def run(q_std):
        parts = torch.randn(P, dtype=torch.float64)
        ll = torch.zeros((), dtype=torch.float64)
        means = []
        for t in range(Tn):
            parts = (
                0.5 * parts
                + 25 * parts / (1 + parts**2)
                + 8 * math.cos(1.2 * t)
                + q_std * torch.randn(P, dtype=torch.float64)
            )
            logw = torch.distributions.Normal(parts**2 / 20, 1.0).log_prob(ys[t])
            ll = ll + torch.logsumexp(logw, 0) - math.log(P)
            w = torch.softmax(logw, 0)
            means.append((w * parts).sum())
            idx = torch.multinomial(w, P, replacement=True)
            parts = parts[idx]
        return ll, torch.stack(means)

    out = {}
    for q_std in (0.5, 1.0, 2.0):
        ll, means = run(q_std)
        out[f"ll{q_std}"] = ll.item()
        out[f"m{q_std}"] = means.tolist()
    return out


def tabular_net(torch):
    """A tabular classifier: categorical embeddings concatenated with BatchNorm1d-normalised
    numeric features, Dropout, class-weighted cross entropy, OneCycleLR, train/eval switching,
    a confusion matrix by bincount."""
    torch.manual_seed(15)
    nn, F = torch.nn, torch.nn.functional
    n = 80
    cat1 = torch.randint(0, 5, (n,))
    cat2 = torch.randint(0, 3, (n,))
    num = torch.randn(n, 4) * torch.tensor([1.0, 10.0, 0.1, 3.0]) + torch.tensor(
        [0.0, 50.0, 0.0, -2.0]
    )
    y = ((num[:, 0] + (cat1 == 2).float() * 2 - (num[:, 1] - 50) / 10) > 0.5).long() + (
        cat2 == 1
    ).long()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.e1 = nn.Embedding(5, 3)
            self.e2 = nn.Embedding(3, 2)
            self.bn = nn.BatchNorm1d(4)
            self.body = nn.Sequential(
                nn.Linear(9, 16), nn.ReLU(), nn.BatchNorm1d(16), nn.Dropout(0.3), nn.Linear(16, 3)
            )

        def forward(self, c1, c2, x):
            return self.body(torch.cat([self.e1(c1), self.e2(c2), self.bn(x)], 1))

    net = Net()
    w = 1.0 / torch.bincount(y, minlength=3).float().clamp(min=1)
    w = w / w.sum() * 3
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.3, total_steps=20)
    losses, lrs = [], []
    for epoch in range(4):
        net.train()
        perm = torch.randperm(n)
        for b in range(5):
            i = perm[b * 16 : (b + 1) * 16]
            loss = F.cross_entropy(net(cat1[i], cat2[i], num[i]), y[i], weight=w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            lrs.append(sched.get_last_lr()[0])
    net.eval()
    with torch.no_grad():
        pred = net(cat1, cat2, num).argmax(1)
    conf = torch.bincount(y * 3 + pred, minlength=9).reshape(3, 3)
    return {
        "loss": losses,
        "lr": lrs,
        "conf": conf.flatten().tolist(),
        "rm": net.bn.running_mean.tolist(),
        "rv": net.bn.running_var.tolist(),
        "nbt": net.bn.num_batches_tracked.item(),
    }


def cnn_bn_dropout(torch):
    """Small CNN with BatchNorm2d, Dropout, MaxPool2d: train()/eval() switching, running stats,
    eval logits independent of the batch, a state_dict round trip into a fresh model."""
    torch.manual_seed(16)
    nn, F = torch.nn, torch.nn.functional

    def make():
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1, bias=False),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, bias=False),
            nn.BatchNorm2d(8, momentum=None),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 3),
        )

    net = make()
    X = torch.randn(24, 1, 8, 8)
    y = torch.randint(0, 3, (24,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-4)
    losses, evals = [], []
    for epoch in range(3):
        net.train()
        for b in range(3):
            xb, yb = X[b * 8 : (b + 1) * 8], y[b * 8 : (b + 1) * 8]
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        net.eval()
        with torch.no_grad():
            evals.append(F.cross_entropy(net(X), y).item())
    clone = make()
    clone.load_state_dict(net.state_dict())
    clone.eval()
    with torch.no_grad():
        one = clone(X[:1])
        full = net(X)[:1]
    return {
        "loss": losses,
        "eval": evals,
        "rm": net[1].running_mean.tolist(),
        "rv2": net[5].running_var.tolist(),
        "nbt": net[5].num_batches_tracked.item(),
        "same": (one - full).abs().max().item() < 1e-5,
        "one": one.flatten().tolist(),
    }


def hook_clipping(torch):
    """Per-tensor gradient clipping via register_hook on parameters, a hook on an activation
    that records norms, a post-accumulate-grad hook doing an in-place SGD step, and removal of
    handles half-way through."""
    torch.manual_seed(17)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    handles = [p.register_hook(lambda g: g.clamp(-0.05, 0.05)) for p in net.parameters()]
    seen = []
    lr = 0.5

    def sgd_hook(p):
        with torch.no_grad():
            p.add_(p.grad, alpha=-lr)
        p.grad = None

    post = [p.register_post_accumulate_grad_hook(sgd_hook) for p in net.parameters()]
    X = torch.randn(16, 4)
    y = X.sum(1, keepdim=True) ** 2
    losses = []
    for it in range(10):
        h = net[1](net[0](X))
        h.register_hook(lambda g: seen.append(g.norm().item()))
        loss = nn.functional.mse_loss(net[2](h), y)
        loss.backward()
        losses.append(loss.item())
        if it == 5:
            for hd in handles + post:
                hd.remove()
    grads = [p.grad.flatten().tolist() for p in net.parameters()]
    return {
        "loss": losses,
        "seen": seen,
        "w": net[0].weight.detach().flatten().tolist(),
        "g": sum(grads, []),
    }


def deq_fixed_point(torch):
    """A deep-equilibrium layer: forward fixed point under no_grad, one re-engaged step, and a
    backward hook that solves the adjoint fixed point with autograd.grad (implicit
    differentiation)."""
    torch.manual_seed(18)
    nn = torch.nn
    f = nn.Sequential(nn.Linear(6, 6), nn.Tanh())
    inj = nn.Linear(3, 6)
    head = nn.Linear(6, 2)
    with torch.no_grad():
        f[0].weight.mul_(0.3)
    X = torch.randn(10, 3)
    Y = torch.randn(10, 2)
    opt = torch.optim.Adam(
        list(f.parameters()) + list(inj.parameters()) + list(head.parameters()), lr=1e-2
    )
    iters_b = []
    losses = []
    for it in range(6):
        u = inj(X)
        with torch.no_grad():
            z = torch.zeros(10, 6)
            for k in range(40):
                z = f(z + u)
        z = f(z + u)
        z0 = z.clone().detach().requires_grad_()
        f0 = f(z0 + u)

        def backward_hook(grad):
            g = grad
            for k in range(40):
                g_new = torch.autograd.grad(f0, z0, g, retain_graph=True)[0] + grad
                if (g_new - g).norm() < 1e-6:
                    break
                g = g_new
            iters_b.append(k)
            return g

        z.register_hook(backward_hook)
        loss = nn.functional.mse_loss(head(z), Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"loss": losses, "iters": iters_b, "w": f[0].weight.detach().flatten().tolist()}


def once_diff_function(torch):
    """Custom Functions: once_differentiable (double backward refused with torch's message),
    mark_non_differentiable outputs, needs_input_grad, set_materialize_grads(False)."""
    torch.manual_seed(19)
    once_differentiable = torch.autograd.function.once_differentiable

    class SoftSort(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            v, idx = x.sort(dim=-1)
            ctx.save_for_backward(idx)
            ctx.mark_non_differentiable(idx)
            return v, idx

        @staticmethod
        @once_differentiable
        def backward(ctx, gv, gidx):
            (idx,) = ctx.saved_tensors
            return torch.zeros_like(gv).scatter(-1, idx, gv)

    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            ctx.set_materialize_grads(False)
            return x * w, x.sum()

        @staticmethod
        def backward(ctx, g, gs):
            x, w = ctx.saved_tensors
            gx = gw = None
            if g is not None:
                gx = g * w if ctx.needs_input_grad[0] else None
                gw = (g * x).sum(0) if ctx.needs_input_grad[1] else None
            if gs is not None and ctx.needs_input_grad[0]:
                gx = gs.expand_as(x) if gx is None else gx + gs
            return gx, gw

    x = torch.randn(4, 5, requires_grad=True)
    w = torch.randn(5, requires_grad=True)
    v, idx = SoftSort.apply(x)
    y, s = Scale.apply(v, w)
    loss = (y**2).sum()
    (gx,) = torch.autograd.grad(loss, x, create_graph=True)
    try:
        gx.sum().backward()
        err = "none"
    except RuntimeError as e:
        err = str(e)
    x.grad = None
    y2, s2 = Scale.apply(x.detach(), w)
    y2.sum().backward()
    return {
        "gx": gx.detach().flatten().tolist(),
        "idx_rg": str(idx.requires_grad),
        "err": err,
        "wg": w.grad.tolist(),
        "gfn": type(y.grad_fn).__name__,
    }


def tv_denoise(torch):
    """Total-variation denoising of an image by LBFGS on the pixels, with reflect padding and
    Sobel gradients by conv2d."""
    torch.manual_seed(20)
    F = torch.nn.functional
    img = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    img[..., 4:12, 4:12] = 1.0
    noisy = img + 0.2 * torch.randn_like(img)
    u = noisy.clone().requires_grad_()
    sob = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=torch.float64) / 8
    k = torch.stack([sob, sob.T]).unsqueeze(1)
    opt = torch.optim.LBFGS([u], lr=1, max_iter=30, history_size=5, line_search_fn="strong_wolfe")
    trace = []

    def closure():
        opt.zero_grad()
        g = F.conv2d(F.pad(u, (1, 1, 1, 1), mode="reflect"), k)
        tv = torch.sqrt((g**2).sum(1) + 1e-4).sum()
        loss = 0.5 * ((u - noisy) ** 2).sum() + 0.1 * tv
        loss.backward()
        trace.append(loss.item())
        return loss

    opt.step(closure)
    return {
        "trace": trace,
        "err": ((u - img) ** 2).mean().item(),
        "u": u.detach()[0, 0, 6].tolist(),
    }


def neural_style(torch):
    """Style transfer in miniature: a fixed random conv net's Gram matrices as the style
    target, content features at a deeper layer, the image optimised by Adam with clamp_."""
    torch.manual_seed(21)
    nn, F = torch.nn, torch.nn.functional
    feat = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
    )
    for p in feat.parameters():
        p.requires_grad_(False)
    content = torch.rand(1, 3, 12, 12)
    style = torch.rand(1, 3, 12, 12)

    def feats(x):
        out = []
        for i, layer in enumerate(feat):
            x = layer(x)
            if i in (1, 4):
                out.append(x)
        return out

    def gram(f):
        b, c, h, w = f.shape
        f = f.view(c, h * w)
        return f @ f.t() / (c * h * w)

    with torch.no_grad():
        sg = [gram(f) for f in feats(style)]
        cf = feats(content)[1]
    img = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([img], lr=0.05)
    losses = []
    for it in range(10):
        fs = feats(img)
        sl = sum(F.mse_loss(gram(f), g) for f, g in zip(fs, sg))
        cl = F.mse_loss(fs[1], cf)
        loss = 1e3 * sl + cl
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            img.clamp_(0, 1)
        losses.append(loss.item())
    return {
        "loss": losses,
        "img": img.detach().flatten()[::17].tolist(),
        "grad_none": str(feat[0].weight.grad is None),
    }


def mmd_permutation(torch):
    """A kernel two-sample test: RBF MMD^2 with the median-heuristic bandwidth, a permutation
    null by randperm, the p-value; then the bandwidth's gradient."""
    torch.manual_seed(22)
    X = torch.randn(30, 2, dtype=torch.float64)
    Y = torch.randn(30, 2, dtype=torch.float64) * 1.3 + 0.3
    Z = torch.cat([X, Y])
    D2 = torch.cdist(Z, Z) ** 2
    med = D2[torch.triu(torch.ones(60, 60, dtype=torch.bool), 1)].median()
    log_bw = torch.log(med).clone().requires_grad_()

    def mmd(idx):
        K = torch.exp(-D2 / torch.exp(log_bw))
        a, b = idx[:30], idx[30:]
        return K[a][:, a].mean() + K[b][:, b].mean() - 2 * K[a][:, b].mean()

    stat = mmd(torch.arange(60))
    null = torch.stack([mmd(torch.randperm(60)).detach() for _ in range(50)])
    p = (null >= stat.detach()).double().mean()
    stat.backward()
    return {
        "stat": stat.item(),
        "p": p.item(),
        "med": med.item(),
        "g": log_bw.grad.item(),
        "null": null.tolist(),
    }


def portfolio_simplex(torch):
    """Mean-CVaR portfolio by projected gradient: sort/cumsum Euclidean projection onto the
    simplex, CVaR by topk of losses, sample covariance by torch.cov."""
    torch.manual_seed(23)
    n, A = 200, 5
    mu = torch.tensor([0.05, 0.03, 0.08, 0.02, 0.06], dtype=torch.float64) / 12
    L = torch.linalg.cholesky(torch.eye(A, dtype=torch.float64) * 0.002 + 0.001)
    R = mu + torch.randn(n, A, dtype=torch.float64) @ L.T

    def project(v):
        u, _ = torch.sort(v, descending=True)
        css = torch.cumsum(u, 0) - 1
        ind = torch.arange(1, A + 1, dtype=v.dtype)
        rho = torch.nonzero(u - css / ind > 0).max()
        theta = css[rho] / (rho + 1)
        return torch.clamp(v - theta, min=0)

    w = torch.full((A,), 1.0 / A, dtype=torch.float64, requires_grad=True)
    hist = []
    for it in range(25):
        port = R @ w
        cvar = (-port).topk(10).values.mean()
        obj = cvar - 2.0 * port.mean()
        (g,) = torch.autograd.grad(obj, w)
        with torch.no_grad():
            w.copy_(project(w - 0.5 * g))
        hist.append(obj.item())
    C = torch.cov(R.T)
    return {"obj": hist, "w": w.tolist(), "risk": (w @ C @ w).sqrt().item()}


def seq2seq_attention(torch):
    """GRU encoder, GRUCell decoder with additive (Bahdanau) attention over padded encoder
    states, masked_fill of the padding, scheduled teacher forcing by torch.rand."""
    torch.manual_seed(24)
    nn, F = torch.nn, torch.nn.functional
    V, E, H, B, L = 9, 6, 8, 3, 5
    emb = nn.Embedding(V, E)
    enc = nn.GRU(E, H, batch_first=True)
    cell = nn.GRUCell(E + H, H)
    Wa, Ua, va = nn.Linear(H, H, bias=False), nn.Linear(H, H), nn.Linear(H, 1, bias=False)
    out = nn.Linear(2 * H, V)
    mods = nn.ModuleList([emb, enc, cell, Wa, Ua, va, out])
    src = torch.randint(3, V, (B, L))
    lens = torch.tensor([5, 3, 4])
    pad = torch.arange(L)[None] >= lens[:, None]
    src = src.masked_fill(pad, 0)
    tgt = torch.sort(src, 1, descending=True).values
    opt = torch.optim.Adam(mods.parameters(), lr=1e-2)
    losses, tf = [], []
    for it in range(6):
        hs, h = enc(emb(src))
        h = h[0]
        keys = Ua(hs)
        prev = torch.ones(B, dtype=torch.long)
        loss = 0
        for t in range(L):
            scores = (
                va(torch.tanh(Wa(h)[:, None] + keys)).squeeze(-1).masked_fill(pad, float("-inf"))
            )
            a = F.softmax(scores, 1)
            ctxv = torch.bmm(a.unsqueeze(1), hs).squeeze(1)
            h = cell(torch.cat([emb(prev), ctxv], 1), h)
            logits = out(torch.cat([h, ctxv], 1))
            loss = loss + F.cross_entropy(logits, tgt[:, t], ignore_index=0)
            force = torch.rand(()).item() < 0.5
            tf.append(force)
            prev = tgt[:, t] if force else logits.argmax(1)
        opt.zero_grad()
        (loss / L).backward()
        opt.step()
        losses.append(loss.item() / L)
    return {"loss": losses, "tf": tf, "attn": a.detach().flatten().tolist()}


def lagrangian_nn(torch):
    """A Lagrangian neural network: accelerations from the Hessian of a learned L(q, qdot) via
    torch.func.hessian/jacrev under vmap, solved by linalg.solve, fitted to a pendulum's."""
    torch.manual_seed(25)
    nn, fn = torch.nn, torch.func
    net = nn.Sequential(
        nn.Linear(2, 16), nn.Softplus(), nn.Linear(16, 16), nn.Softplus(), nn.Linear(16, 1)
    )
    q = torch.rand(32, 1) * 2 - 1
    qd = torch.randn(32, 1)
    acc_true = -9.81 * torch.sin(q)
    params = dict(net.named_parameters())

    def lagr(p, qi, qdi):
        return fn.functional_call(net, p, (torch.cat([qi, qdi]),)).squeeze()

    def accel(p, qi, qdi):
        H = fn.hessian(lagr, argnums=2)(p, qi, qdi)
        Jq = fn.jacrev(lagr, argnums=1)(p, qi, qdi)
        mixed = fn.jacrev(fn.jacrev(lagr, argnums=2), argnums=1)(p, qi, qdi)
        rhs = Jq - mixed @ qdi
        return torch.linalg.solve(H + 1e-3 * torch.eye(1), rhs)

    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for it in range(5):
        params = dict(net.named_parameters())
        a = fn.vmap(accel, in_dims=(None, 0, 0))(params, q, qd)
        loss = ((a - acc_true) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        "loss": losses,
        "a": a.detach().flatten()[:8].tolist(),
        "g": net[0].weight.grad.flatten().tolist(),
    }


def simclr_ntxent(torch):
    """SimCLR-style contrastive learning: two noisy views, normalised projections, the NT-Xent
    loss by cross_entropy over a similarity matrix with the diagonal masked out."""
    torch.manual_seed(26)
    nn, F = torch.nn, torch.nn.functional
    enc = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 8))
    proj = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    X = torch.randn(16, 8)
    opt = torch.optim.AdamW(
        list(enc.parameters()) + list(proj.parameters()), lr=1e-2, weight_decay=0.05
    )
    tau = 0.5
    losses = []
    for it in range(8):
        v1 = X + 0.1 * torch.randn_like(X)
        v2 = X * (torch.rand_like(X) > 0.2).float()
        z = F.normalize(proj(enc(torch.cat([v1, v2]))), dim=1)
        sim = z @ z.T / tau
        sim = sim.masked_fill(torch.eye(32, dtype=torch.bool), float("-inf"))
        labels = torch.cat([torch.arange(16, 32), torch.arange(16)])
        loss = F.cross_entropy(sim, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        e = F.normalize(enc(X), dim=1)
        top1 = (e @ e.T).fill_diagonal_(-2).argmax(1)
    return {
        "loss": losses,
        "top1": top1.tolist(),
        "w": enc[0].weight.detach().flatten()[:16].tolist(),
    }


def mixup_beta(torch):
    """Mixup: lambda ~ Beta(a, a) per batch, shuffled partners by randperm, soft targets with
    one_hot, a cross entropy on probabilities; gradient accumulation over two micro-batches."""
    torch.manual_seed(27)
    nn, F = torch.nn, torch.nn.functional
    net = nn.Sequential(nn.Linear(5, 16), nn.ELU(), nn.Linear(16, 3))
    X = torch.randn(32, 5)
    y = torch.randint(0, 3, (32,))
    beta = torch.distributions.Beta(torch.tensor(0.4), torch.tensor(0.4))
    opt = torch.optim.SGD(net.parameters(), lr=0.2)
    losses, lams = [], []
    for it in range(6):
        opt.zero_grad()
        for mb in range(2):
            xb, yb = X[mb * 16 : (mb + 1) * 16], y[mb * 16 : (mb + 1) * 16]
            lam = beta.sample()
            perm = torch.randperm(16)
            xm = lam * xb + (1 - lam) * xb[perm]
            ym = lam * F.one_hot(yb, 3).float() + (1 - lam) * F.one_hot(yb[perm], 3).float()
            loss = F.cross_entropy(net(xm), ym) / 2
            loss.backward()
            lams.append(lam.item())
            losses.append(loss.item())
        opt.step()
    return {"loss": losses, "lam": lams, "w": net[2].weight.detach().flatten().tolist()}


def gat_layer(torch):
    """A graph attention layer over an edge list: LeakyReLU scores, a segment softmax via
    scatter_reduce(amax) and index_add_, messages aggregated by index_add; node classification."""
    torch.manual_seed(28)
    nn, F = torch.nn, torch.nn.functional
    N, Fin, Fh, C = 12, 5, 8, 3
    src = torch.randint(0, N, (40,))
    dst = torch.randint(0, N, (40,))
    loops = torch.arange(N)
    src, dst = torch.cat([src, loops]), torch.cat([dst, loops])
    X = torch.randn(N, Fin)
    y = torch.randint(0, C, (N,))
    W1 = nn.Linear(Fin, Fh, bias=False)
    a_src = nn.Parameter(torch.randn(Fh) * 0.1)
    a_dst = nn.Parameter(torch.randn(Fh) * 0.1)
    W2 = nn.Linear(Fh, C)
    opt = torch.optim.Adam(list(W1.parameters()) + [a_src, a_dst] + list(W2.parameters()), lr=0.02)

    def gat(x):
        h = W1(x)
        e = F.leaky_relu((h[src] * a_src).sum(1) + (h[dst] * a_dst).sum(1), 0.2)
        emax = torch.full((N,), -1e9).scatter_reduce(0, dst, e, reduce="amax", include_self=True)
        w = torch.exp(e - emax[dst])
        den = torch.zeros(N).index_add_(0, dst, w)
        alpha = w / den[dst]
        return torch.zeros(N, Fh).index_add(0, dst, alpha[:, None] * h[src]), alpha

    losses = []
    for it in range(10):
        h, alpha = gat(X)
        loss = F.cross_entropy(W2(F.elu(h)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"loss": losses, "alpha": alpha.detach().tolist(), "ga": a_src.grad.tolist()}


def hawkes_mle(torch):
    """A univariate Hawkes process with an exponential kernel: its log-likelihood by the
    recursive intensity, fitted by LBFGS on softplus-constrained parameters; events simulated
    by Ogata thinning."""
    torch.manual_seed(29)
    dd = torch.float64
    mu0, a0, b0, Tend = 0.5, 0.6, 1.5, 40.0
    t, ev, lam_bar = 0.0, [], None
    while True:
        lam_bar = mu0 + sum(a0 * b0 * math.exp(-b0 * (t - s)) for s in ev) + a0 * b0
        t += -math.log(torch.rand((), dtype=dd).item()) / lam_bar
        if t > Tend:
            break
        lam_t = mu0 + sum(a0 * b0 * math.exp(-b0 * (t - s)) for s in ev)
        if torch.rand((), dtype=dd).item() * lam_bar <= lam_t:
            ev.append(t)
    times = torch.tensor(ev, dtype=dd)
    raw = torch.zeros(3, dtype=dd, requires_grad=True)
    F = torch.nn.functional

    def nll():
        mu, alpha, beta = F.softplus(raw).unbind()
        dt = torch.diff(times)
        A = [torch.zeros((), dtype=dd)]
        for k in range(len(dt)):
            A.append(torch.exp(-beta * dt[k]) * (1 + A[-1]))
        A = torch.stack(A)
        ll = torch.log(mu + alpha * beta * A).sum()
        comp = mu * Tend + alpha * (1 - torch.exp(-beta * (Tend - times))).sum()
        return comp - ll

    opt = torch.optim.LBFGS([raw], max_iter=20, line_search_fn="strong_wolfe")
    trace = []

    def closure():
        opt.zero_grad()
        l = nll()
        l.backward()
        trace.append(l.item())
        return l

    opt.step(closure)
    return {"n": len(ev), "trace": trace, "params": F.softplus(raw).tolist()}


def checkpoint_dropout(torch):
    """Activation checkpointing of blocks that contain Dropout: the recomputation must replay
    the same masks (preserve_rng_state), reentrant and not; gradients equal to the plain run."""
    torch.manual_seed(30)
    nn = torch.nn
    cp = torch.utils.checkpoint
    blocks = nn.ModuleList(
        nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Dropout(0.3)) for _ in range(3)
    )
    head = nn.Linear(8, 1)
    x = torch.randn(6, 8, requires_grad=True)
    out = {}
    for mode in ("plain", "reentrant", "nonreentrant"):
        torch.manual_seed(31)
        for p in list(blocks.parameters()) + list(head.parameters()):
            p.grad = None
        x.grad = None
        h = x
        for b in blocks:
            if mode == "plain":
                h = b(h)
            else:
                h = cp.checkpoint(b, h, use_reentrant=(mode == "reentrant"))
        loss = head(h).pow(2).mean()
        loss.backward()
        out[mode] = (
            [loss.item()]
            + blocks[0][0].weight.grad.flatten()[:10].tolist()
            + x.grad.flatten()[:6].tolist()
        )
        out[mode + "_after"] = torch.rand(3).tolist()
    return out


def temperature_scaling(torch):
    """Post-hoc calibration: a temperature fitted by LBFGS on held-out logits, the expected
    calibration error by bucketize into confidence bins, reliability by scatter_add."""
    torch.manual_seed(32)
    F = torch.nn.functional
    n, C = 300, 4
    logits = torch.randn(n, C) * 3
    labels = torch.distributions.Categorical(logits=logits / 2.5).sample()
    logT = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([logT], lr=0.1, max_iter=50)
    trace = []

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / logT.exp(), labels)
        loss.backward()
        trace.append(loss.item())
        return loss

    opt.step(closure)

    def ece(lg):
        p = F.softmax(lg, 1)
        conf, pred = p.max(1)
        acc = (pred == labels).float()
        edges = torch.linspace(0, 1, 11)
        b = torch.bucketize(conf, edges[1:-1])
        cnt = torch.zeros(10).scatter_add_(0, b, torch.ones(n))
        sconf = torch.zeros(10).scatter_add_(0, b, conf)
        sacc = torch.zeros(10).scatter_add_(0, b, acc)
        return ((sconf - sacc).abs().sum() / n).item(), cnt.tolist()

    e0, c0 = ece(logits)
    e1, c1 = ece(logits / logT.exp().detach())
    return {"trace": trace, "T": logT.exp().item(), "ece": [e0, e1], "cnt": c0 + c1}


def negbin_glm(torch):
    """Negative binomial regression: NegativeBinomial(total_count, logits) log_prob with lgamma,
    the dispersion fitted jointly by Adam; then Wald standard errors from the
    autograd.functional.hessian of the NLL."""
    torch.manual_seed(33)
    D = torch.distributions
    dd = torch.float64
    n = 120
    X = torch.cat([torch.ones(n, 1, dtype=dd), torch.randn(n, 2, dtype=dd)], 1)
    beta_true = torch.tensor([1.0, 0.5, -0.3], dtype=dd)
    mu = torch.exp(X @ beta_true)
    r_true = 3.0
    lam = D.Gamma(torch.full((n,), r_true, dtype=dd), r_true / mu).sample()
    y = D.Poisson(lam).sample()
    theta = torch.zeros(4, dtype=dd, requires_grad=True)

    def nll(th):
        b, log_r = th[:3], th[3]
        r = log_r.exp()
        eta = X @ b
        return -D.NegativeBinomial(total_count=r, logits=eta - log_r).log_prob(y).sum()

    opt = torch.optim.Adam([theta], lr=0.05)
    losses = []
    for it in range(60):
        opt.zero_grad()
        l = nll(theta)
        l.backward()
        opt.step()
        losses.append(l.item())
    H = torch.autograd.functional.hessian(nll, theta.detach())
    se = torch.linalg.inv(H).diagonal().sqrt()
    return {"loss": losses[::5], "theta": theta.tolist(), "se": se.tolist(), "ysum": y.sum().item()}


def wavenet_causal(torch):
    """A WaveNet-style stack: left-padded dilated Conv1d, gated tanh*sigmoid units, residual
    and skip 1x1 convolutions; next-sample prediction of a noisy sine by quantised softmax."""
    torch.manual_seed(34)
    nn, F = torch.nn, torch.nn.functional
    Q, Cr = 16, 8

    class Block(nn.Module):
        def __init__(self, dil):
            super().__init__()
            self.dil = dil
            self.conv = nn.Conv1d(Cr, 2 * Cr, 2, dilation=dil)
            self.res = nn.Conv1d(Cr, Cr, 1)
            self.skip = nn.Conv1d(Cr, Cr, 1)

        def forward(self, x):
            h = self.conv(F.pad(x, (self.dil, 0)))
            a, b = h.chunk(2, 1)
            g = torch.tanh(a) * torch.sigmoid(b)
            return x + self.res(g), self.skip(g)

    emb = nn.Embedding(Q, Cr)
    blocks = nn.ModuleList(Block(d) for d in (1, 2, 4, 1, 2, 4))
    outc = nn.Sequential(nn.ReLU(), nn.Conv1d(Cr, Cr, 1), nn.ReLU(), nn.Conv1d(Cr, Q, 1))
    t = torch.arange(65, dtype=torch.float32)
    sig = torch.sin(t / 4) + 0.1 * torch.randn(65)
    codes = ((sig.clamp(-1, 1) + 1) / 2 * (Q - 1)).round().long()
    params = list(emb.parameters()) + list(blocks.parameters()) + list(outc.parameters())
    opt = torch.optim.Adam(params, lr=5e-3)
    losses = []
    for it in range(8):
        x = emb(codes[:-1]).T.unsqueeze(0)
        skips = 0
        for b in blocks:
            x, s = b(x)
            skips = skips + s
        logits = outc(skips)
        loss = F.cross_entropy(logits, codes[1:].unsqueeze(0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"loss": losses, "pred": logits.argmax(1).flatten().tolist()}


def neural_ca(torch):
    """Neural cellular automaton: depthwise perception by fixed Sobel filters (groups=C), a 1x1
    update network, stochastic fire masks from torch.rand, alive masking by max_pool2d; trained
    through several CA steps."""
    torch.manual_seed(35)
    nn, F = torch.nn, torch.nn.functional
    C, S = 4, 10
    sob = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8
    ident = torch.zeros(3, 3)
    ident[1, 1] = 1
    kern = torch.stack([ident, sob, sob.T]).repeat(C, 1, 1).unsqueeze(1)
    upd = nn.Sequential(nn.Conv2d(3 * C, 16, 1), nn.ReLU(), nn.Conv2d(16, C, 1, bias=False))
    with torch.no_grad():
        upd[2].weight.zero_()
    target = torch.zeros(1, 1, S, S)
    target[..., 3:7, 3:7] = 1
    opt = torch.optim.Adam(upd.parameters(), lr=2e-3)
    losses = []
    for it in range(6):
        x = torch.zeros(1, C, S, S)
        x[:, 1:, S // 2, S // 2] = 1.0
        for step in range(8):
            pre = F.max_pool2d(x[:, 1:2], 3, 1, 1) > 0.1
            y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), kern, groups=C)
            dx = upd(y) * (torch.rand(1, 1, S, S) < 0.5).float()
            x = x + dx
            post = F.max_pool2d(x[:, 1:2], 3, 1, 1) > 0.1
            x = x * (pre & post).float()
        loss = F.mse_loss(x[:, :1], target)
        opt.zero_grad()
        loss.backward()
        for p in upd.parameters():
            p.grad /= p.grad.norm() + 1e-8
        opt.step()
        losses.append(loss.item())
    return {"loss": losses, "x": x.detach()[0, 0].flatten().tolist()}


def made_autoregressive(torch):
    """MADE: masked linear layers whose masks are buffers derived from degrees, a Bernoulli
    likelihood on binary data, exact sampling one dimension at a time."""
    torch.manual_seed(36)
    nn, F = torch.nn, torch.nn.functional
    Dm, Hm = 6, 12

    class MaskedLinear(nn.Linear):
        def __init__(self, i, o, mask):
            super().__init__(i, o)
            self.register_buffer("mask", mask.float())

        def forward(self, x):
            return F.linear(x, self.weight * self.mask, self.bias)

    d_in = torch.arange(1, Dm + 1)
    d_h = torch.randint(1, Dm, (Hm,))
    net = nn.Sequential(
        MaskedLinear(Dm, Hm, d_h[:, None] >= d_in[None, :]),
        nn.ReLU(),
        MaskedLinear(Hm, Hm, d_h[:, None] >= d_h[None, :]),
        nn.ReLU(),
        MaskedLinear(Hm, Dm, d_in[:, None] > d_h[None, :]),
    )
    data = (torch.rand(64, Dm) < torch.linspace(0.2, 0.8, Dm)).float()
    data[:, 3] = data[:, 0]
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for it in range(20):
        loss = F.binary_cross_entropy_with_logits(net(data), data, reduction="sum") / 64
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        s = torch.zeros(5, Dm)
        for d in range(Dm):
            s[:, d] = torch.bernoulli(torch.sigmoid(net(s)[:, d]))
    jac = torch.autograd.functional.jacobian(lambda v: net(v), data[0])
    return {
        "loss": losses,
        "s": s.flatten().tolist(),
        "tri": (jac.triu() != 0).sum().item(),
        "bufs": " ".join(n for n, _ in net.named_buffers()),
    }


def missing_targets(torch):
    """Regression with missing targets: nan_to_num/isnan masks, nanmean metrics, and the
    torch.where-with-a-safe-branch idiom so no NaN reaches the gradient."""
    torch.manual_seed(37)
    nn = torch.nn
    X = torch.randn(40, 3)
    Y = X @ torch.tensor([[1.0, -1.0], [0.5, 0.0], [0.0, 2.0]]) + 0.1 * torch.randn(40, 2)
    Y[torch.rand(40, 2) < 0.25] = float("nan")
    net = nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    obs = ~torch.isnan(Y)
    losses, metr = [], []
    for it in range(10):
        pred = net(X)
        safe = torch.where(obs, Y, pred.detach())
        err = torch.where(obs, (pred - safe) ** 2, torch.zeros_like(pred))
        loss = err.sum() / obs.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        metr.append(torch.nanmean((pred - Y).abs(), 0).tolist())
    return {
        "loss": losses,
        "m": metr,
        "g": net.weight.grad.flatten().tolist(),
        "fill": torch.nan_to_num(Y, nan=-1.0).sum().item(),
        "nansum": Y.nansum(1).tolist(),
    }


def gibbs_gmm(torch):
    """A collapsed-free Gibbs sampler for a 1-d Gaussian mixture: Dirichlet weights,
    Categorical assignments from log-probabilities, conjugate Normal means and InverseGamma
    variances, all drawn from torch.distributions."""
    torch.manual_seed(39)
    D = torch.distributions
    dd = torch.float64
    x = torch.cat([torch.randn(40, dtype=dd) - 2, torch.randn(30, dtype=dd) * 0.5 + 2])
    K = 2
    w = torch.full((K,), 1.0 / K, dtype=dd)
    mu = torch.tensor([-1.0, 1.0], dtype=dd)
    var = torch.ones(K, dtype=dd)
    trace = []
    for it in range(15):
        logp = torch.log(w) + D.Normal(mu, var.sqrt()).log_prob(x[:, None])
        z = D.Categorical(logits=logp).sample()
        nk = torch.bincount(z, minlength=K).to(dd)
        w = D.Dirichlet(1.0 + nk).sample()
        sk = torch.zeros(K, dtype=dd).index_add_(0, z, x)
        prec = nk / var + 1.0 / 10.0
        mu = D.Normal(sk / var / prec, prec.rsqrt()).sample()
        ss = torch.zeros(K, dtype=dd).index_add_(0, z, (x - mu[z]) ** 2)
        var = D.InverseGamma(2.0 + nk / 2, 1.0 + ss / 2).sample()
        trace.append(torch.cat([w, mu, var]).tolist())
    return {"trace": trace, "z": z.tolist()}


def spectral_embedding(torch):
    """Spectral clustering with a learnable bandwidth: normalised graph Laplacian, eigh, a loss
    on the eigengap differentiated through the eigenvalues; k-means on the eigenvectors."""
    torch.manual_seed(40)
    dd = torch.float64
    X = torch.cat([torch.randn(10, 2, dtype=dd) * 0.3, torch.randn(10, 2, dtype=dd) * 0.3 + 2])
    log_s = torch.tensor(0.0, dtype=dd, requires_grad=True)
    opt = torch.optim.SGD([log_s], lr=0.1)
    trace = []
    for it in range(8):
        Wm = torch.exp(-torch.cdist(X, X).pow(2) / (2 * torch.exp(2 * log_s)))
        Wm = Wm - torch.diag(torch.diagonal(Wm))
        dinv = Wm.sum(1).rsqrt()
        Lap = torch.eye(20, dtype=dd) - dinv[:, None] * Wm * dinv[None, :]
        evals, evecs = torch.linalg.eigh(Lap)
        loss = evals[1] - evals[2]
        opt.zero_grad()
        loss.backward()
        opt.step()
        trace.append([loss.item(), log_s.item()])
    U = evecs[:, :2].detach()
    U = U / U.norm(dim=1, keepdim=True)
    cent = U[[0, 19]].clone()
    for _ in range(5):
        a = torch.cdist(U, cent).argmin(1)
        cent = torch.stack([U[a == k].mean(0) for k in range(2)])
    return {"trace": trace, "assign": a.tolist(), "ev": evals.detach()[:4].tolist()}


def procrustes_rotation(torch):
    """Fitting a rotation three ways: orthogonal Procrustes by SVD (with the det sign fix), the
    matrix exponential of a learned skew-symmetric matrix by Adam, and a QR retraction."""
    torch.manual_seed(41)
    dd = torch.float64
    A = torch.randn(30, 3, dtype=dd)
    ang = torch.tensor(0.7, dtype=dd)
    R_true = torch.linalg.matrix_exp(
        torch.tensor([[0, -1.0, 0.3], [1.0, 0, -0.2], [-0.3, 0.2, 0]], dtype=dd) * ang
    )
    B = A @ R_true.T + 0.01 * torch.randn(30, 3, dtype=dd)
    U, S, Vh = torch.linalg.svd(B.T @ A)
    dfix = torch.diag(
        torch.tensor([1.0, 1.0, torch.sign(torch.linalg.det(U @ Vh)).item()], dtype=dd)
    )
    R_svd = U @ dfix @ Vh
    w = torch.zeros(3, dtype=dd, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1)
    hist = []
    for it in range(30):
        K = torch.zeros(3, 3, dtype=dd)
        K = K.index_put((torch.tensor([0, 0, 1]), torch.tensor([1, 2, 2])), w)
        R = torch.linalg.matrix_exp(K - K.T)
        loss = ((A @ R.T - B) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(loss.item())
    M = torch.eye(3, dtype=dd, requires_grad=True)
    for it in range(10):
        loss = ((A @ M.T - B) ** 2).mean()
        (g,) = torch.autograd.grad(loss, M)
        with torch.no_grad():
            Q, Rq = torch.linalg.qr(M - 0.2 * g)
            M.copy_(Q * torch.sign(torch.diagonal(Rq))[None, :])
    Usv = torch.linalg.svd(B.T.clone().requires_grad_(), full_matrices=False)
    (Usv.S.sum() + Usv.U[0, 0] * Usv.Vh[0, 0]).backward()
    return {
        "svd": R_svd.flatten().tolist(),
        "hist": hist,
        "exp": R.detach().flatten().tolist(),
        "qr": M.detach().flatten().tolist(),
    }


def forward_mode_jvp(torch):
    """Forward-mode products as programs use them: torch.func.jvp for a directional derivative,
    jacfwd for a Jacobian, torch.autograd.functional.jvp/hvp; Hutchinson's trace estimator."""
    torch.manual_seed(42)
    fn = torch.func
    W = torch.randn(4, 4)

    def f(x):
        return torch.tanh(W @ x) * x.sum()

    x = torch.randn(4)
    v = torch.randn(4)
    out, jv = fn.jvp(f, (x,), (v,))
    J = fn.jacfwd(f)(x)
    _, jv2 = torch.autograd.functional.jvp(f, x, v)
    _, hv = torch.autograd.functional.hvp(lambda z: f(z).pow(2).sum(), x, v)
    est = 0.0
    for k in range(20):
        e = torch.randint(0, 2, (4,)).float() * 2 - 1
        est += (e * fn.jvp(f, (x,), (e,))[1]).sum().item()
    return {
        "jv": jv.tolist(),
        "J": J.flatten().tolist(),
        "jv2": jv2.tolist(),
        "hv": hv.tolist(),
        "hutch": est / 20,
        "tr": torch.trace(J).item(),
    }


def sliding_windows(torch):
    """A time-series forecaster on Tensor.unfold windows: standardisation by the training mean
    and std, a Conv1d+Linear model, ReduceLROnPlateau on a validation split, early stopping
    that keeps the best state_dict by copy.deepcopy."""
    torch.manual_seed(43)
    nn, F = torch.nn, torch.nn.functional
    t = torch.arange(200, dtype=torch.float32)
    s = torch.sin(t / 8) + 0.3 * torch.sin(t / 3) + 0.1 * torch.randn(200)
    win = s.unfold(0, 17, 2)
    Xw, yw = win[:, :16], win[:, 16]
    ntr = 70
    m, sd = Xw[:ntr].mean(), Xw[:ntr].std()
    Xn, yn = (Xw - m) / sd, (yw - m) / sd
    model = nn.Sequential(
        nn.Unflatten(1, (1, 16)), nn.Conv1d(1, 4, 5), nn.ReLU(), nn.Flatten(), nn.Linear(48, 1)
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.3)
    best, best_state, bad = float("inf"), None, 0
    hist = []
    for ep in range(15):
        model.train()
        for b in range(0, ntr, 16):
            loss = F.mse_loss(model(Xn[b : b + 16]).squeeze(1), yn[b : b + 16])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = F.mse_loss(model(Xn[ntr:]).squeeze(1), yn[ntr:]).item()
        sched.step(val)
        hist.append([val, opt.param_groups[0]["lr"]])
        if val < best - 1e-4:
            best, best_state, bad = val, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
            if bad >= 3:
                break
    model.load_state_dict(best_state)
    with torch.no_grad():
        pred = model(Xn[ntr:]).squeeze(1) * sd + m
    return {"hist": hist, "pred": pred[:10].tolist(), "ep": ep, "shape": str(win.shape)}


def common_mistakes(torch):
    """The errors a beginner's training script meets, as messages."""
    torch.manual_seed(44)
    nn, F = torch.nn, torch.nn.functional
    lin = nn.Linear(3, 2)
    out = {}
    out["f64"] = _err(lambda: lin(torch.from_numpy(np.ones((4, 3)))))
    out["shape"] = _err(lambda: lin(torch.ones(4, 5)))
    out["ce_float_target"] = _err(
        lambda: F.cross_entropy(torch.randn(4, 3), torch.tensor([0.0, 1.0, 2.0, 1.0]))
    )
    out["ce_int_target_float"] = _err(
        lambda: F.cross_entropy(torch.randn(4, 3), torch.tensor([0, 1, 3, 1]))
    )
    out["nll_shape"] = _err(lambda: F.nll_loss(torch.randn(4, 3), torch.tensor([0, 1])))
    out["mse_bcast"] = _err(lambda: round(F.mse_loss(torch.randn(4, 1), torch.randn(4)).item(), 5))
    out["bce_range"] = _err(
        lambda: F.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))
    )
    out["bce_int"] = _err(
        lambda: F.binary_cross_entropy_with_logits(torch.randn(3), torch.tensor([1, 0, 1]))
    )

    def twice():
        x = torch.randn(3, requires_grad=True)
        y = (x.exp() * 2).sum()
        y.backward()
        y.backward()

    out["twice"] = _err(twice)

    def inplace_saved():
        x = torch.randn(3, requires_grad=True)
        y = x.sigmoid()
        z = y * 2
        y.add_(1)
        (z * y).sum().backward()

    out["inplace_saved"] = _err(inplace_saved)

    def inplace_exp():
        x = torch.randn(3, requires_grad=True)
        y = x.exp()
        y.mul_(2)
        y.sum().backward()

    out["inplace_exp"] = _err(inplace_exp)

    def leaf_inplace():
        w = torch.randn(3, requires_grad=True)
        w -= 0.1

    out["leaf_inplace"] = _err(leaf_inplace)

    def no_grad_bw():
        with torch.no_grad():
            y = lin(torch.ones(1, 3)).sum()
        y.backward()

    out["no_grad_bw"] = _err(no_grad_bw)
    out["numpy_rg"] = _err(lambda: lin.weight.numpy())
    out["item_many"] = _err(lambda: torch.ones(3).item())
    out["nonscalar_bw"] = _err(lambda: lin(torch.ones(2, 3)).backward())
    out["view_noncontig"] = _err(lambda: torch.ones(3, 4).t().view(12))
    out["cat_dtype"] = _err(
        lambda: torch.cat([torch.ones(2), torch.ones(2, dtype=torch.long)]).dtype
    )
    out["cat_shape"] = _err(lambda: torch.cat([torch.ones(2, 3), torch.ones(3, 2)]))
    out["stack_shape"] = _err(lambda: torch.stack([torch.ones(2), torch.ones(3)]))
    out["matmul"] = _err(lambda: torch.ones(2, 3) @ torch.ones(2, 3))
    out["bmm"] = _err(lambda: torch.bmm(torch.ones(2, 3), torch.ones(2, 3)))
    out["conv_ch"] = _err(lambda: nn.Conv2d(3, 4, 3)(torch.ones(1, 1, 5, 5)))
    out["conv_3d_in"] = _err(lambda: nn.Conv2d(3, 4, 3)(torch.ones(3, 5)))
    out["conv_small"] = _err(lambda: nn.Conv2d(1, 1, 5)(torch.ones(1, 1, 3, 3)))
    out["bn_one"] = _err(lambda: nn.BatchNorm1d(3)(torch.ones(1, 3)))
    out["emb_oob"] = _err(lambda: nn.Embedding(5, 2)(torch.tensor([5])))
    out["emb_float"] = _err(lambda: nn.Embedding(5, 2)(torch.tensor([1.0])))
    out["lstm_2d"] = _err(lambda: nn.LSTM(3, 4)(torch.ones(5, 2))[0].shape)
    out["lstm_in"] = _err(lambda: nn.LSTM(3, 4)(torch.ones(5, 2, 4)))
    out["index_oob"] = _err(lambda: torch.ones(3)[5])
    out["gather_dim"] = _err(lambda: torch.ones(3, 2).gather(1, torch.tensor([0, 1])))
    out["opt_empty"] = _err(lambda: torch.optim.SGD([], lr=0.1))
    out["opt_nonleaf"] = _err(lambda: torch.optim.SGD([lin.weight * 2], lr=0.1))
    out["opt_lr"] = _err(lambda: torch.optim.Adam(lin.parameters(), lr=-1))
    out["load_sd"] = _err(lambda: nn.Linear(3, 3).load_state_dict(lin.state_dict()))
    out["load_sd_keys"] = _err(lambda: lin.load_state_dict({"weight": torch.ones(2, 3)}))
    out["reshape"] = _err(lambda: torch.ones(6).reshape(4, -1))
    out["expand"] = _err(lambda: torch.ones(2, 3).expand(4, 3))
    out["add_bcast"] = _err(lambda: torch.ones(2, 3) + torch.ones(3, 2))
    out["requires_int"] = _err(lambda: torch.ones(3, dtype=torch.long).requires_grad_())
    out["softmax_nodim"] = _err(lambda: F.softmax(torch.ones(2, 3)).shape)
    out["sum_dim"] = _err(lambda: torch.ones(2, 3).sum(2))
    out["int_div"] = _err(lambda: (torch.tensor([5, 3]) / 2).dtype)
    out["long_mean"] = _err(lambda: torch.tensor([5, 3]).mean())
    out["bool_sub"] = _err(lambda: torch.tensor([True]) - torch.tensor([False]))
    out["module_call_np"] = _err(lambda: lin(np.ones((2, 3), dtype=np.float32)))
    out["tensor_list_ragged"] = _err(lambda: torch.tensor([[1, 2], [3]]))
    out["to_cuda"] = _err(lambda: torch.ones(2).cuda())
    return out


def graph_lifetimes(torch):
    """Graph lifetimes across training iterations, the mistakes and the right ways: losses kept
    as tensors then backpropagated after optimizer steps, an undetached RNN state, a GAN that
    reuses D(fake) after D's step, summed micro-batch losses (fine)."""
    torch.manual_seed(45)
    nn, F = torch.nn, torch.nn.functional
    out = {}

    def stale_losses():
        lin = nn.Linear(3, 1)
        opt = torch.optim.SGD(lin.parameters(), lr=0.1)
        kept = []
        for i in range(3):
            loss = lin(torch.randn(4, 3)).pow(2).mean()
            opt.zero_grad()
            loss.backward(retain_graph=True)
            opt.step()
            kept.append(loss)
        torch.stack(kept).mean().backward()

    out["stale"] = _err(stale_losses)

    def summed():
        lin = nn.Linear(3, 1)
        total = 0
        for i in range(3):
            total = total + lin(torch.randn(4, 3)).pow(2).mean()
        total.backward()
        return [round(v, 5) for v in lin.weight.grad.flatten().tolist()]

    out["summed"] = _err(summed)

    def undetached_rnn():
        cell = nn.RNNCell(2, 3)
        opt = torch.optim.SGD(cell.parameters(), lr=0.1)
        h = torch.zeros(1, 3)
        for i in range(3):
            h = cell(torch.randn(1, 2), h)
            loss = h.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()

    out["rnn"] = _err(undetached_rnn)

    def undetached_rnn_retain():
        cell = nn.RNNCell(2, 3)
        opt = torch.optim.SGD(cell.parameters(), lr=0.1)
        h = torch.zeros(1, 3)
        for i in range(3):
            h = cell(torch.randn(1, 2), h)
            loss = h.sum()
            opt.zero_grad()
            loss.backward(retain_graph=True)
            opt.step()

    out["rnn_retain"] = _err(undetached_rnn_retain)

    def gan_reuse():
        G = nn.Linear(2, 2)
        Dn = nn.Sequential(nn.Linear(2, 4), nn.LeakyReLU(0.2), nn.Linear(4, 1))
        oD = torch.optim.Adam(Dn.parameters(), lr=1e-3)
        oG = torch.optim.Adam(G.parameters(), lr=1e-3)
        fake = G(torch.randn(5, 2))
        d_fake = Dn(fake)
        lossD = F.binary_cross_entropy_with_logits(
            d_fake, torch.zeros(5, 1)
        ) + F.binary_cross_entropy_with_logits(Dn(torch.randn(5, 2)), torch.ones(5, 1))
        oD.zero_grad()
        lossD.backward(retain_graph=True)
        oD.step()
        lossG = F.binary_cross_entropy_with_logits(d_fake, torch.ones(5, 1))
        oG.zero_grad()
        lossG.backward()
        oG.step()

    out["gan"] = _err(gan_reuse)

    def relu_inplace_then_modify():
        x = torch.randn(4, requires_grad=True)
        y = F.relu(x * 2, inplace=True)
        z = torch.sigmoid(y)
        z.mul_(3)
        return z.sum().backward()

    out["sig_inplace"] = _err(relu_inplace_then_modify)

    def param_data_update():
        lin = nn.Linear(3, 1)
        x = torch.randn(4, 3)
        loss = lin(x).pow(2).mean()
        lin.weight.data -= 0.1
        loss.backward()
        return round(lin.weight.grad.sum().item(), 5)

    out["data_update"] = _err(param_data_update)

    def param_nograd_update():
        lin = nn.Linear(3, 1)
        x = torch.randn(4, 3)
        loss = lin(x).pow(2).mean()
        with torch.no_grad():
            lin.weight -= 0.1
        loss.backward()

    out["nograd_update"] = _err(param_nograd_update)

    def grad_of_nonleaf():
        x = torch.randn(3, requires_grad=True)
        y = x * 2
        (y**2).sum().backward()
        return y.grad

    import warnings

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out["nonleaf_grad"] = _err(grad_of_nonleaf)
    # (torch's C++ warnings end by naming the source line of its build)
    out["nonleaf_warn"] = " | ".join(
        str(x.message).split(" (Triggered internally")[0] for x in w
    ).replace("tapegrad", "torch")

    def free_after_grad():
        x = torch.randn(3, requires_grad=True)
        y = x.exp().sum()
        torch.autograd.grad(y, x)
        torch.autograd.grad(y, x)

    out["grad_twice"] = _err(free_after_grad)
    return out


def transformer_padding_eval(torch):
    """A TransformerEncoder classifier over padded sequences with src_key_padding_mask: trained,
    then evaluated under eval()+no_grad (torch's fast path) and inference_mode; mean pooling
    over the unpadded positions."""
    torch.manual_seed(46)
    nn, F = torch.nn, torch.nn.functional
    D, L, B = 8, 6, 4
    emb = nn.Embedding(12, D, padding_idx=0)
    layer = nn.TransformerEncoderLayer(D, 2, 16, dropout=0.1, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=True)
    head = nn.Linear(D, 3)
    x = torch.randint(1, 12, (B, L))
    lens = torch.tensor([6, 4, 2, 5])
    pad = torch.arange(L)[None] >= lens[:, None]
    x = x.masked_fill(pad, 0)
    y = torch.tensor([0, 1, 2, 1])
    params = list(emb.parameters()) + list(enc.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-2)

    def forward(xx):
        h = enc(emb(xx), src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        return head((h * keep).sum(1) / keep.sum(1)), h

    losses = []
    for it in range(5):
        enc.train()
        logits, _ = forward(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    enc.eval()
    with torch.no_grad():
        lg, h = forward(x)
    with torch.inference_mode():
        lg2, h2 = forward(x)
    lg3, h3 = forward(x)
    return {
        "loss": losses,
        "eval": lg.flatten().tolist(),
        "inf": lg2.flatten().tolist(),
        "grad_eval": lg3.detach().flatten().tolist(),
        "h_pad": h[2, 3:].flatten().tolist(),
        "h_pad_grad": h3.detach()[2, 3:].flatten().tolist(),
    }


def mha_variants(torch):
    """MultiheadAttention as programs call it: batch_first, key_padding_mask with a float
    attn_mask, per-head weights (average_attn_weights=False), kdim/vdim, add_bias_kv and
    add_zero_attn; and in eval under no_grad."""
    torch.manual_seed(47)
    nn = torch.nn
    out = {}
    q = torch.randn(2, 3, 8)
    k = torch.randn(2, 5, 6)
    v = torch.randn(2, 5, 4)
    kpm = torch.tensor([[False, False, False, True, True], [False] * 5])
    am = torch.zeros(3, 5)
    am[0, 1] = float("-inf")
    m1 = nn.MultiheadAttention(8, 2, kdim=6, vdim=4, batch_first=True, dropout=0.0)
    o, w = m1(q, k, v, key_padding_mask=kpm, attn_mask=am, average_attn_weights=False)
    out["o1"] = o.flatten().tolist()
    out["w1"] = w.flatten().tolist()
    o.sum().backward()
    out["g1"] = m1.q_proj_weight.grad.flatten()[:12].tolist()
    m2 = nn.MultiheadAttention(8, 4, add_bias_kv=True, add_zero_attn=True)
    qs = torch.randn(3, 2, 8)
    o2, w2 = m2(qs, qs, qs)
    out["o2"] = o2.flatten().tolist()
    out["w2"] = w2.flatten().tolist()
    m3 = nn.MultiheadAttention(8, 2, batch_first=True)
    m3.eval()
    x = torch.randn(2, 4, 8)
    kp = torch.tensor([[False, False, True, True], [False, False, False, False]])
    with torch.no_grad():
        o3, w3 = m3(x, x, x, key_padding_mask=kp)
        o4, _ = m3(x, x, x, key_padding_mask=kp, need_weights=False)
    out["o3"] = o3.flatten().tolist()
    out["o4"] = o4.flatten().tolist()
    out["w3"] = w3.flatten().tolist()
    return out


def sdpa_dropout(torch):
    """scaled_dot_product_attention with is_causal, a boolean mask, scale=, dropout_p>0 (its
    random stream), and enable_gqa-free grouped heads by repeat_interleave."""
    torch.manual_seed(48)
    F = torch.nn.functional
    q = torch.randn(2, 4, 5, 8, requires_grad=True)
    k = torch.randn(2, 2, 5, 8, requires_grad=True)
    v = torch.randn(2, 2, 5, 8, requires_grad=True)
    kk, vv = k.repeat_interleave(2, 1), v.repeat_interleave(2, 1)
    o1 = F.scaled_dot_product_attention(q, kk, vv, is_causal=True)
    mask = torch.rand(5, 5) > 0.3
    mask.fill_diagonal_(True)
    o2 = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask, scale=0.2)
    o3 = F.scaled_dot_product_attention(q, kk, vv, dropout_p=0.3)
    (o1.sum() + (o2**2).sum() + o3.pow(2).mean()).backward()
    return {
        "o1": o1.detach().flatten()[:20].tolist(),
        "o2": o2.detach().flatten()[:20].tolist(),
        "o3": o3.detach().flatten()[:40].tolist(),
        "gk": k.grad.flatten()[:20].tolist(),
        "after": torch.rand(2).tolist(),
    }


def random_zoo(torch):
    """The random draws a simulation script makes, in one stream: in-place samplers, the
    top-level ones with tensor arguments, multinomial without replacement, big randperm,
    Generator objects, fork_rng, get/set_rng_state."""
    torch.manual_seed(49)
    out = {}
    t = torch.empty(7)
    out["exp"] = t.exponential_(2.0).tolist()
    out["geom"] = torch.empty(7).geometric_(0.3).tolist()
    out["cauchy"] = torch.empty(5).cauchy_(0.0, 2.0).tolist()
    out["lognorm"] = torch.empty(5).log_normal_(0.5, 0.3).tolist()
    out["random"] = torch.empty(5, dtype=torch.int64).random_(0, 100).tolist()
    out["random_f"] = torch.empty(5).random_(10).tolist()
    out["uniform"] = torch.empty(5, dtype=torch.float64).uniform_(-1, 2).tolist()
    out["normal_t"] = torch.normal(torch.arange(5.0), torch.linspace(0.1, 1.0, 5)).tolist()
    out["normal_s"] = torch.normal(2.0, 3.0, size=(4,)).tolist()
    out["bern"] = torch.bernoulli(torch.linspace(0, 1, 9)).tolist()
    out["bern_p"] = torch.empty(6).bernoulli_(0.3).tolist()
    out["poisson"] = torch.poisson(torch.tensor([0.5, 3.0, 12.0, 40.0, 200.0])).tolist()
    out["mn_norep"] = torch.multinomial(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), 4).tolist()
    out["mn_2d"] = torch.multinomial(torch.rand(3, 5), 3, replacement=True).flatten().tolist()
    out["perm_big"] = torch.randperm(50000)[:20].tolist()
    out["perm_f"] = torch.randperm(10, dtype=torch.float64).tolist()
    out["randint_big"] = torch.randint(-(2**40), 2**40, (4,)).tolist()
    out["randint_like"] = torch.randint_like(torch.zeros(3), 5, 10).tolist()
    out["randn64"] = torch.randn(5, dtype=torch.float64).tolist()
    out["rand_big"] = torch.rand(20).sum().item()
    out["randn_big"] = torch.randn(1000).sum().item()
    g = torch.Generator().manual_seed(7)
    out["gen"] = torch.randn(3, generator=g).tolist() + torch.rand(2, generator=g).tolist()
    st = torch.get_rng_state()
    a = torch.rand(3).tolist()
    torch.set_rng_state(st)
    out["restore"] = [a, torch.rand(3).tolist()]
    with torch.random.fork_rng():
        torch.rand(100)
    out["fork"] = torch.rand(2).tolist()
    out["seed"] = torch.initial_seed()
    out["dropout"] = torch.nn.functional.dropout(torch.ones(12), 0.4).tolist()
    out["alpha_dropout"] = torch.nn.functional.alpha_dropout(
        torch.ones(8), 0.3, training=True
    ).tolist()
    out["fad"] = (
        torch.nn.functional.feature_alpha_dropout(torch.ones(2, 4, 3), 0.3, training=True)
        .flatten()
        .tolist()
    )
    out["d2"] = torch.nn.functional.dropout2d(torch.ones(2, 4, 2, 2), 0.5).flatten().tolist()
    out["rrelu"] = torch.nn.functional.rrelu(-torch.ones(6), training=True).tolist()
    out["gumbel"] = (
        torch.nn.functional.gumbel_softmax(torch.zeros(2, 4), tau=0.5, hard=True).flatten().tolist()
    )
    out["trunc"] = torch.nn.init.trunc_normal_(torch.empty(6), std=0.5, a=-0.5, b=0.5).tolist()
    out["orth"] = torch.nn.init.orthogonal_(torch.empty(3, 5)).flatten().tolist()
    out["xav"] = torch.nn.init.xavier_normal_(torch.empty(3, 4), gain=2.0).flatten().tolist()
    out["kai"] = (
        torch.nn.init.kaiming_uniform_(torch.empty(3, 4), a=5**0.5, mode="fan_out")
        .flatten()
        .tolist()
    )
    out["sparse"] = torch.nn.init.sparse_(torch.empty(4, 3), 0.5).flatten().tolist()
    out["last"] = torch.rand(3).tolist()
    return out


def rnn_utils_pipeline(torch):
    """Variable-length sequences end to end: pad_sequence, pack_sequence(enforce_sorted=False),
    a bidirectional 2-layer LSTM with proj_size, pad_packed_sequence(total_length), gathering
    the last valid step, unsorted_indices."""
    torch.manual_seed(51)
    nn, F = torch.nn, torch.nn.functional
    R = nn.utils.rnn
    seqs = [torch.randn(n, 3) for n in (4, 7, 2, 5)]
    lens = torch.tensor([len(s) for s in seqs])
    lstm = nn.LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=4, dropout=0.2)
    head = nn.Linear(8, 1)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-2)
    target = torch.tensor([[1.0], [-1.0], [0.5], [0.0]])
    losses = []
    for it in range(5):
        packed = R.pack_sequence(seqs, enforce_sorted=False)
        out, (h, c) = lstm(packed)
        padded, plens = R.pad_packed_sequence(out, total_length=8)
        last = padded[plens - 1, torch.arange(4)]
        loss = F.mse_loss(head(last), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    padded_in = R.pad_sequence(seqs, batch_first=True, padding_value=-1.0)
    pk = R.pack_padded_sequence(padded_in, lens, batch_first=True, enforce_sorted=False)
    lstm.eval()
    with torch.no_grad():
        o2, (h2, c2) = lstm(pk)
    return {
        "loss": losses,
        "h": h2.flatten().tolist(),
        "c": c2.flatten()[:12].tolist(),
        "bs": pk.batch_sizes.tolist(),
        "ui": pk.unsorted_indices.tolist(),
        "shape": str(padded.shape) + str(h.shape) + str(c.shape),
        "plens": plens.tolist(),
    }


def old_style_norms(torch):
    """The older utilities still in scripts: nn.utils.weight_norm and nn.utils.spectral_norm
    (power-iteration buffers updated in train mode, frozen in eval), remove_weight_norm,
    Variable, .data updates, clip_grad_norm_ with inf norm."""
    import warnings

    torch.manual_seed(52)
    nn = torch.nn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        l1 = nn.utils.weight_norm(nn.Linear(4, 6), dim=0)
        l2 = nn.utils.spectral_norm(nn.Linear(6, 3), n_power_iterations=2)
    net = nn.Sequential(l1, nn.Tanh(), l2)
    X = torch.autograd.Variable(torch.randn(10, 4))
    y = torch.randn(10, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    losses, norms = [], []
    for it in range(6):
        loss = nn.functional.mse_loss(net(X), y)
        opt.zero_grad()
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(net.parameters(), 0.5, norm_type=float("inf")).item())
        opt.step()
        losses.append(loss.item())
    net.eval()
    with torch.no_grad():
        e1 = net(X)
        e2 = net(X)
    u = l2.weight_u.clone()
    nn.utils.remove_weight_norm(l1)
    for p in l1.parameters():
        p.data.mul_(0.5)
    return {
        "loss": losses,
        "norms": norms,
        "e": e1.flatten().tolist(),
        "same": bool(torch.equal(e1, e2)),
        "u": u.tolist(),
        "names": " ".join(n for n, _ in net.named_parameters()),
        "w": l1.weight.flatten().tolist(),
    }


def ties_knn(torch):
    """A k-nearest-neighbour vote on a grid (many equal distances): cdist with p=1, topk
    smallest, mode of the neighbours' labels, sort/argsort/median/kthvalue/unique on ties,
    max/argmax/min over repeated values, and the gradients through them."""
    torch.manual_seed(54)
    g = torch.stack(
        torch.meshgrid(torch.arange(5.0), torch.arange(5.0), indexing="ij"), -1
    ).reshape(-1, 2)
    lab = (g.sum(1) % 3).long()
    q = torch.tensor([[2.0, 2.0], [0.0, 0.0], [4.0, 1.0], [1.5, 2.5]])
    d = torch.cdist(q, g, p=1)
    out = {}
    v, i = d.topk(6, largest=False)
    out["topk_v"], out["topk_i"] = v.flatten().tolist(), i.flatten().tolist()
    v2, i2 = d.topk(6, largest=False, sorted=False)
    out["topk_us"] = sorted(i2.flatten().tolist())
    out["mode"] = torch.mode(lab[i], 1).values.tolist() + torch.mode(lab[i], 1).indices.tolist()
    s, si = d.sort(1)
    out["sort_i"] = si.flatten().tolist()
    out["sort_stable"] = d.sort(dim=1, stable=True).indices.flatten().tolist()
    out["argsort_desc"] = d.argsort(1, descending=True).flatten().tolist()
    out["median"] = d.median(1).values.tolist() + d.median(1).indices.tolist()
    out["kth"] = d.kthvalue(5, 1).values.tolist() + d.kthvalue(5, 1).indices.tolist()
    out["max"] = (
        d.max(1).indices.tolist()
        + d.argmax(1).tolist()
        + d.min(1).indices.tolist()
        + d.argmin(1).tolist()
    )
    out["max_all"] = [d.argmax().item(), d.argmin().item()]
    u, inv, cnt = torch.unique(d[0], return_inverse=True, return_counts=True)
    out["unique"] = u.tolist() + inv.tolist() + cnt.tolist()
    uc = torch.unique_consecutive(torch.tensor([1, 1, 2, 2, 3, 1, 1, 2]), return_counts=True)
    out["ucons"] = uc[0].tolist() + uc[1].tolist()
    out["nanmedian"] = torch.tensor([1.0, float("nan"), 3.0, 2.0]).nanmedian().item()
    out["cummax"] = torch.cummax(torch.tensor([1.0, 3.0, 3.0, 2.0, 5.0, 5.0]), 0).indices.tolist()
    out["cummin"] = torch.cummin(torch.tensor([3.0, 1.0, 1.0, 2.0, 0.0, 0.0]), 0).indices.tolist()
    x = torch.tensor([[1.0, 3.0, 3.0, 2.0], [2.0, 2.0, 2.0, 2.0]], requires_grad=True)
    r = (
        x.max(1).values.sum()
        + x.max()
        + x.amax(1).sum()
        + x.median()
        + x.min(1).values.sum()
        + x.amin()
        + x.topk(2, 1).values.sum()
        + x.sort(1).values[:, 1].sum()
        + x.kthvalue(2, 1).values.sum()
        + x.norm(p=float("inf"))
        + torch.logsumexp(x, 1).sum()
    )
    r.backward()
    out["grad"] = x.grad.flatten().tolist()
    y = torch.tensor([0.0, 0.0, 1.0, -1.0, 0.0], requires_grad=True)
    t = (
        y.abs().sum()
        + y.relu().sum()
        + y.clamp(0, 1).sum()
        + torch.sign(y).sum()
        + y.norm() * 0
        + torch.where(y > 0, y, 0.0).sum()
        + _hardtanh(torch, y).sum()
        + torch.nn.functional.leaky_relu(y, 0.1).sum()
        + torch.nn.functional.elu(y).sum()
        + y.clamp(min=0.0).sum()
        + torch.maximum(y, torch.zeros(5)).sum()
        + torch.fmax(y, torch.zeros(5)).sum()
    )
    t.backward()
    out["kinks"] = y.grad.tolist()
    return out


def gradcam_saliency(torch):
    """Interpretability scripts: Grad-CAM from a forward hook and a full backward hook on a
    conv layer, vanilla saliency by input gradients, integrated gradients along a straight
    path, SmoothGrad with randn noise."""
    torch.manual_seed(55)
    nn, F = torch.nn, torch.nn.functional
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )
    net.eval()
    acts, grads = {}, {}
    h1 = net[2].register_forward_hook(lambda m, i, o: acts.__setitem__("a", o))
    h2 = net[2].register_full_backward_hook(lambda m, gi, go: grads.__setitem__("g", go[0]))
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    logits = net(x)
    c = logits.argmax(1).item()
    logits[0, c].backward()
    w = grads["g"].mean((2, 3), keepdim=True)
    cam = F.relu((w * acts["a"]).sum(1))
    cam = F.interpolate(cam.unsqueeze(1), size=(16, 16), mode="bilinear", align_corners=False)
    cam = (cam - cam.min()) / (cam.max() - cam.min() + 1e-8)
    sal = x.grad.abs().amax(1)
    h1.remove()
    h2.remove()
    base = torch.zeros_like(x)
    steps = torch.linspace(0, 1, 9).view(-1, 1, 1, 1)
    path = (base + steps * (x.detach() - base)).requires_grad_()
    out = net(path)[:, c].sum()
    (gp,) = torch.autograd.grad(out, path)
    ig = (x.detach() - base) * gp[:-1].add(gp[1:]).div(2).mean(0, keepdim=True)
    noisy = x.detach() + 0.1 * torch.randn(5, 3, 8, 8)
    noisy.requires_grad_()
    net(noisy)[:, c].sum().backward()
    sg = noisy.grad.mean(0)
    return {
        "c": c,
        "cam": cam.detach().flatten()[::7].tolist(),
        "sal": sal.flatten().tolist(),
        "ig": ig.flatten()[::5].tolist(),
        "ig_sum": ig.sum().item(),
        "delta": (net(x)[0, c] - net(base)[0, c]).item(),
        "sg": sg.flatten()[::9].tolist(),
    }


def adversarial_pgd(torch):
    """Adversarial examples: FGSM and a 5-step PGD inside an L-inf ball with sign steps and
    clamps, then adversarial training of the model on them (model.eval() for the attack,
    train() for the update, requires_grad_ toggled on the parameters)."""
    torch.manual_seed(56)
    nn, F = torch.nn, torch.nn.functional
    net = nn.Sequential(
        nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 3)
    )
    X = torch.rand(48, 10)
    y = X[:, :3].argmax(1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    eps, alpha = 0.1, 0.03

    def pgd(xb, yb, steps):
        for p in net.parameters():
            p.requires_grad_(False)
        delta = torch.zeros_like(xb).uniform_(-eps, eps) if steps > 1 else torch.zeros_like(xb)
        delta.requires_grad_(True)
        for _ in range(steps):
            loss = F.cross_entropy(net(xb + delta), yb)
            (g,) = torch.autograd.grad(loss, delta)
            step = eps if steps == 1 else alpha
            delta = (delta + step * g.sign()).clamp(-eps, eps)
            delta = ((xb + delta).clamp(0, 1) - xb).detach().requires_grad_(True)
        for p in net.parameters():
            p.requires_grad_(True)
        return (xb + delta).detach()

    losses, accs = [], []
    for ep in range(4):
        for b in range(3):
            xb, yb = X[b * 16 : (b + 1) * 16], y[b * 16 : (b + 1) * 16]
            net.eval()
            xa = pgd(xb, yb, 5 if ep % 2 else 1)
            net.train()
            loss = F.cross_entropy(net(torch.cat([xb, xa])), torch.cat([yb, yb]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        net.eval()
        xa = pgd(X, y, 5)
        with torch.no_grad():
            accs.append(
                [
                    (net(X).argmax(1) == y).float().mean().item(),
                    (net(xa).argmax(1) == y).float().mean().item(),
                ]
            )
    return {"loss": losses, "acc": accs, "xa": xa[:2].flatten().tolist()}


def threaded_training(torch):
    """Hyperparameter search in a thread pool: each thread trains its own model (its data and
    initial weights drawn beforehand), with backward, autograd.grad and no_grad blocks running
    concurrently in the threads."""
    from concurrent.futures import ThreadPoolExecutor

    torch.manual_seed(57)
    nn, F = torch.nn, torch.nn.functional
    X = torch.randn(64, 5)
    y = (X[:, 0] * X[:, 1] > 0).long()
    inits = [nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2)) for _ in range(4)]
    lrs = [0.01, 0.03, 0.1, 0.3]

    def train(k):
        model = inits[k]
        opt = torch.optim.Adam(model.parameters(), lr=lrs[k])
        hist = []
        for it in range(25):
            loss = F.cross_entropy(model(X), y)
            if it % 5 == 0:
                gx = torch.autograd.grad(loss, model[0].weight, retain_graph=True)[0]
                hist.append(gx.norm().item())
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                hist.append((model(X).argmax(1) == y).float().mean().item())
        return hist, loss.item()

    with ThreadPoolExecutor(4) as ex:
        res = list(ex.map(train, range(4)))
    out = {}
    for k, (hist, loss) in enumerate(res):
        out[f"h{k}"] = hist
        out[f"l{k}"] = loss
        out[f"w{k}"] = inits[k][2].weight.detach().flatten().tolist()
    return out


def tensor_decomp(torch):
    """CP decomposition of a 3-way tensor by ALS (einsum, Khatri-Rao, pinv) and then refined
    by Adam; a Tucker core by tensordot; einsum with ellipsis, repeated and diagonal indices."""
    torch.manual_seed(58)
    dd = torch.float64
    I, J, K, R = 6, 5, 4, 3
    A0, B0, C0 = (
        torch.randn(I, R, dtype=dd),
        torch.randn(J, R, dtype=dd),
        torch.randn(K, R, dtype=dd),
    )
    T = torch.einsum("ir,jr,kr->ijk", A0, B0, C0) + 0.01 * torch.randn(I, J, K, dtype=dd)
    A, B, C = torch.randn(I, R, dtype=dd), torch.randn(J, R, dtype=dd), torch.randn(K, R, dtype=dd)

    def kr(U, V):
        return torch.einsum("ir,jr->ijr", U, V).reshape(-1, U.shape[1])

    errs = []
    for it in range(8):
        A = T.reshape(I, -1) @ torch.linalg.pinv(kr(B, C)).T
        B = T.permute(1, 0, 2).reshape(J, -1) @ torch.linalg.pinv(kr(A, C)).T
        C = T.permute(2, 0, 1).reshape(K, -1) @ torch.linalg.pinv(kr(A, B)).T
        errs.append((torch.einsum("ir,jr,kr->ijk", A, B, C) - T).norm().item())
    P = [p.clone().requires_grad_() for p in (A, B, C)]
    opt = torch.optim.Adam(P, lr=1e-3)
    for it in range(10):
        loss = (torch.einsum("ir,jr,kr->ijk", *P) - T).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        errs.append(loss.item())
    U = [
        torch.linalg.svd(T.movedim(m, 0).reshape(T.shape[m], -1), full_matrices=False).U[:, :2]
        for m in range(3)
    ]
    core = torch.tensordot(
        torch.tensordot(torch.tensordot(T, U[0], dims=([0], [0])), U[1], dims=([0], [0])),
        U[2],
        dims=([0], [0]),
    )
    M = torch.randn(3, 4, 4, dtype=dd, requires_grad=True)
    v = torch.randn(4, dtype=dd)
    e = (
        torch.einsum("bii->b", M).sum()
        + torch.einsum("bij,j->bi", M, v).pow(2).sum()
        + torch.einsum("...ij,...jk->...ik", M, M).diagonal(dim1=-2, dim2=-1).sum()
        + torch.einsum("bii->bi", M).pow(3).sum()
        + torch.einsum("i,i->", v, v)
        + torch.einsum(M, [0, 1, 2], M, [0, 2, 1], [0]).sum()
    )
    e.backward()
    return {
        "errs": errs,
        "core": core.abs().flatten().tolist(),
        "gM": M.grad.flatten().tolist(),
        "kron": torch.kron(torch.eye(2, dtype=dd), v[:2, None]).flatten().tolist(),
        "bd": torch.block_diag(v[:2, None], torch.ones(1, 2, dtype=dd)).flatten().tolist(),
    }


def vision_ops_net(torch):
    """An image-restoration net built from the less common layer settings: padding='same' with
    even kernels and dilation, circular/reflect padding modes, grouped and dilated transposed
    convolutions, pixel_unshuffle/shuffle, max pooling with dilation+ceil_mode+indices and
    MaxUnpool2d, avg pooling with divisor_override, LPPool2d, interpolate (area, nearest-exact,
    bicubic, antialias), unfold/fold patches."""
    torch.manual_seed(59)
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 4, padding="same", dilation=2, padding_mode="circular")
            self.c2 = nn.Conv2d(8, 8, 3, padding=1, groups=4, padding_mode="reflect")
            self.c3 = nn.Conv2d(32, 8, 2, padding="same")
            self.up = nn.ConvTranspose2d(
                8, 8, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=1
            )
            self.pool = nn.MaxPool2d(
                3, stride=2, padding=1, dilation=1, ceil_mode=True, return_indices=True
            )
            self.unpool = nn.MaxUnpool2d(3, stride=2, padding=1)
            self.lp = nn.LPPool2d(2, 2)
            self.out = nn.Conv2d(8 + 8 + 3, 3, 1)

        def forward(self, x):
            h = F.gelu(self.c1(x))
            h = F.silu(self.c2(h))
            s = F.pixel_unshuffle(h, 2)
            s = F.pixel_shuffle(torch.cat([self.c3(s)] * 4, 1), 2)
            p, idx = self.pool(h)
            u = self.unpool(p, idx, output_size=h.shape[-2:])
            a = F.avg_pool2d(h, 2, divisor_override=3)
            a = self.up(a)
            l = F.interpolate(self.lp(h), size=h.shape[-2:], mode="nearest-exact")
            area = F.interpolate(x, scale_factor=0.5, mode="area")
            bic = F.interpolate(
                area, size=x.shape[-2:], mode="bicubic", align_corners=True, antialias=False
            )
            anti = F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True)
            anti = F.interpolate(anti, size=x.shape[-2:], mode="bilinear")
            return self.out(torch.cat([s + u + a + l, h, bic + anti], 1))

    net = Net()
    clean = torch.rand(2, 3, 12, 12)
    noisy = clean + 0.1 * torch.randn_like(clean)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for it in range(5):
        out = net(noisy)
        patches = F.unfold(out - clean, 4, stride=4)
        loss = patches.pow(2).mean() + F.l1_loss(
            F.fold(patches, (12, 12), 4, stride=4), out - clean
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        "loss": losses,
        "g": net.c1.weight.grad.flatten()[:20].tolist(),
        "gu": net.up.weight.grad.flatten()[:20].tolist(),
        "o": out.detach().flatten()[::31].tolist(),
    }


def sloppy_loops(torch):
    """Training loops written loosely, as many are: a running loss summed as a tensor (its
    graphs kept), losses appended to a list un-detached, metrics from tensors that require
    grad, a model evaluated without no_grad, .data and .detach().numpy() mixed in, float()
    and int() of tensors, a loss printed by f-string."""
    torch.manual_seed(60)
    nn, F = torch.nn, torch.nn.functional
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    X = torch.randn(30, 3)
    y = X.sum(1, keepdim=True)
    running = 0
    kept = []
    lines = []
    for ep in range(3):
        for b in range(3):
            xb, yb = X[b * 10 : (b + 1) * 10], y[b * 10 : (b + 1) * 10]
            loss = F.mse_loss(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss
            kept.append(loss)
        val = F.mse_loss(net(X), y)
        lines.append(f"epoch {ep}: running {running:.4f} val {val:.4f} last {kept[-1]:.5f}")
        lines.append(
            f"{float(val):.5f} {int(val * 100)} {val.data.numpy().round(4)} "
            f"{running.detach().numpy():.4f}"
        )
    total = torch.stack(kept).mean()
    g = torch.autograd.grad(net(X).sum(), net[0].bias)[0]
    w = net[0].weight.data
    w.add_(0.0)
    return {
        "lines": "\n".join(lines),
        "total": total.item(),
        "rg": str(running.requires_grad) + str(total.grad_fn is not None),
        "g": g.tolist(),
        "running": running.item(),
    }


def stft_fit(torch):
    """Fit a chirp's frequency and amplitude through a multi-resolution STFT magnitude loss."""
    torch.manual_seed(6)
    n = 256
    tt = torch.arange(n, dtype=torch.float64) / n
    target = 0.8 * torch.sin(2 * math.pi * (20 * tt + 15 * tt**2)) + 0.05 * torch.randn(
        n, dtype=torch.float64
    )
    f0 = torch.tensor(17.0, dtype=torch.float64, requires_grad=True)
    amp = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([f0, amp], lr=0.05)
    losses = []
    for it in range(10):
        sig = amp * torch.sin(2 * math.pi * (f0 * tt + 15 * tt**2))
        loss = 0.0
        for nfft in (32, 64):
            win = torch.hann_window(nfft, dtype=torch.float64)
            S1 = (
                torch.stft(sig, nfft, hop_length=nfft // 4, window=win, return_complex=False)
                .pow(2)
                .sum(-1)
                .add(1e-12)
                .sqrt()
            )
            S2 = (
                torch.stft(target, nfft, hop_length=nfft // 4, window=win, return_complex=False)
                .pow(2)
                .sum(-1)
                .add(1e-12)
                .sqrt()
            )
            loss = (
                loss
                + (S1 - S2).norm() / S2.norm()
                + torch.nn.functional.l1_loss(torch.log(S1 + 1e-5), torch.log(S2 + 1e-5))
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"loss": losses, "f0": f0.item(), "amp": amp.item()}


def module_zoo_reprs(torch):
    """print(model) of a model built from many layer types, the optimizers' and schedulers'
    and distributions' reprs, the way training scripts log them."""
    torch.manual_seed(38)
    nn = torch.nn
    D = torch.distributions
    model = nn.Sequential(
        nn.Conv2d(
            3,
            8,
            (3, 5),
            stride=(2, 1),
            padding=1,
            dilation=1,
            groups=1,
            bias=False,
            padding_mode="reflect",
        ),
        nn.BatchNorm2d(8, eps=1e-3, momentum=0.05, affine=False),
        nn.LeakyReLU(0.02, inplace=True),
        nn.PReLU(8),
        nn.ELU(alpha=0.5),
        nn.Hardtanh(-2, 2),
        nn.MaxPool2d(2, ceil_mode=True, return_indices=False),
        nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        nn.AdaptiveMaxPool2d((2, None)),
        nn.Dropout2d(0.1),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
        nn.GroupNorm(2, 4),
        nn.InstanceNorm2d(4, affine=True),
        nn.LayerNorm([4], elementwise_affine=False),
        nn.Flatten(1),
        nn.Identity(),
        nn.Softmax(dim=-1),
        nn.LogSoftmax(1),
        nn.Softplus(beta=2, threshold=10),
        nn.Threshold(0.1, 20),
        nn.GELU(approximate="tanh"),
        nn.Embedding(10, 3, padding_idx=1, max_norm=2.0),
        nn.EmbeddingBag(10, 3, mode="sum"),
        nn.GRU(3, 4, num_layers=2, dropout=0.1, bidirectional=True),
        nn.RNN(3, 4, nonlinearity="relu"),
        nn.LSTM(3, 4, proj_size=2),
        nn.LSTMCell(3, 4),
        nn.MultiheadAttention(8, 2, dropout=0.1, kdim=4, vdim=4),
        nn.TransformerEncoderLayer(8, 2, 16, activation="gelu"),
        nn.Bilinear(2, 3, 4),
        nn.PixelShuffle(2),
        nn.ZeroPad2d((1, 2, 0, 1)),
        nn.ReflectionPad1d(2),
        nn.ConstantPad2d(1, 3.5),
        nn.CosineSimilarity(dim=0),
        nn.PairwiseDistance(p=1),
        nn.Hardswish(),
        nn.Mish(),
        nn.SiLU(),
        nn.CELU(1.5),
        nn.GLU(),
        nn.Tanhshrink(),
        nn.Softmin(0),
        nn.RReLU(0.1, 0.3),
        nn.RMSNorm(4, eps=1e-5),
        nn.LocalResponseNorm(2),
        nn.Fold((4, 4), 2),
        nn.Unfold(2, stride=2),
        nn.ChannelShuffle(2),
    )
    losses = nn.ModuleList(
        [
            nn.CrossEntropyLoss(weight=torch.ones(3), ignore_index=2, label_smoothing=0.1),
            nn.NLLLoss(reduction="sum"),
            nn.BCEWithLogitsLoss(pos_weight=torch.ones(2)),
            nn.HuberLoss(delta=0.5),
            nn.SmoothL1Loss(beta=0.3),
            nn.KLDivLoss(reduction="batchmean"),
            nn.TripletMarginLoss(margin=0.5),
            nn.CTCLoss(blank=0, zero_infinity=True),
            nn.MarginRankingLoss(0.2),
            nn.GaussianNLLLoss(full=True),
        ]
    )
    opts = [
        torch.optim.SGD(
            model.parameters(),
            lr=0.1,
            momentum=0.9,
            dampening=0.1,
            nesterov=False,
            weight_decay=1e-4,
        ),
        torch.optim.Adam(
            [{"params": model[3].parameters(), "lr": 1e-3}, {"params": model[11].parameters()}],
            lr=0.01,
            betas=(0.8, 0.9),
            amsgrad=True,
        ),
        torch.optim.RMSprop(model.parameters(), centered=True),
        torch.optim.LBFGS(model.parameters(), history_size=3),
        torch.optim.Adagrad(model.parameters()),
        torch.optim.Rprop(model.parameters()),
    ]
    sch = torch.optim.lr_scheduler.StepLR(opts[0], 3, gamma=0.5)
    dists = [
        D.Normal(torch.zeros(3), 1.0),
        D.Categorical(logits=torch.zeros(4)),
        D.MultivariateNormal(torch.zeros(2), torch.eye(2)),
        D.Independent(D.Normal(torch.zeros(2, 3), 1.0), 1),
        D.Bernoulli(probs=torch.tensor(0.3)),
        D.Gamma(2.0, 3.0),
        D.Uniform(0.0, torch.ones(2)),
        D.Dirichlet(torch.ones(3)),
        D.TransformedDistribution(D.Normal(0.0, 1.0), [D.transforms.ExpTransform()]),
        D.MixtureSameFamily(D.Categorical(torch.ones(2)), D.Normal(torch.zeros(2), torch.ones(2))),
    ]
    out = {"model": repr(model), "losses": repr(losses)}
    for i, o in enumerate(opts):
        out[f"opt{i}"] = repr(o)
    out["sch"] = repr(sorted(sch.state_dict().items()))
    for i, d in enumerate(dists):
        out[f"d{i}"] = repr(d)
    out["tr"] = repr(
        D.transforms.ComposeTransform(
            [D.transforms.AffineTransform(0.0, 2.0), D.transforms.SigmoidTransform()]
        )
    )
    out["cons"] = (
        repr(D.constraints.interval(0.0, 1.0))
        + repr(D.Normal.arg_constraints)
        + repr(D.Gamma(1.0, 1.0).support)
    )
    out["size"] = (
        repr(torch.Size([2, 3]))
        + repr(torch.zeros(2, 3).stride())
        + repr(torch.finfo(torch.float32))
    )
    out["dtypes"] = repr([torch.float32, torch.int64, torch.bool, torch.uint8, torch.float64])
    out["iinfo"] = repr(torch.iinfo(torch.int32))
    out["device"] = repr(torch.device("cpu")) + repr(torch.zeros(1).device)
    out["gen"] = repr(torch.Generator().manual_seed(3).initial_seed())
    return out


def dist_draws(torch):
    """Sampling-based estimators over many families: rejection samplers (VonMises, Binomial,
    Poisson with large rates), LKJCholesky and Wishart, and pathwise gradients of rsample
    (the implicit ones of the gamma family and of Dirichlet and Beta draws among them)."""
    torch.manual_seed(53)
    D = torch.distributions
    dd = torch.float64
    out = {}
    out["vm"] = (
        D.VonMises(torch.tensor([0.0, 1.0], dtype=dd), torch.tensor([0.5, 8.0], dtype=dd))
        .sample((5,))
        .flatten()
        .tolist()
    )
    out["binom"] = (
        D.Binomial(torch.tensor([5.0, 50.0, 500.0]), torch.tensor([0.3, 0.6, 0.02]))
        .sample((4,))
        .flatten()
        .tolist()
    )
    out["pois"] = D.Poisson(torch.tensor([0.1, 7.0, 60.0, 1000.0])).sample((3,)).flatten().tolist()
    out["lkj"] = D.LKJCholesky(3, torch.tensor(2.0, dtype=dd)).sample((2,)).flatten().tolist()
    out["wish"] = (
        D.Wishart(torch.tensor(5.0, dtype=dd), covariance_matrix=torch.eye(2, dtype=dd) * 2)
        .sample((2,))
        .flatten()
        .tolist()
    )
    out["geomd"] = D.Geometric(torch.tensor([0.2, 0.7])).sample((3,)).flatten().tolist()
    out["negbin"] = (
        D.NegativeBinomial(torch.tensor([3.0, 10.0]), torch.tensor([0.4, 0.8]))
        .sample((3,))
        .flatten()
        .tolist()
    )
    out["mvn"] = (
        D.MultivariateNormal(torch.zeros(3, dtype=dd), precision_matrix=torch.eye(3, dtype=dd) * 4)
        .sample((2,))
        .flatten()
        .tolist()
    )
    a = torch.tensor([0.5, 2.0, 7.0], dtype=dd, requires_grad=True)
    b = torch.tensor([1.5, 0.7, 3.0], dtype=dd, requires_grad=True)
    fams = {
        "kuma": lambda: D.Kumaraswamy(a, b),
        "weibull": lambda: D.Weibull(b, a),
        "pareto": lambda: D.Pareto(b, a + 2),
        "lognormal": lambda: D.LogNormal(a, b),
        "gumbel": lambda: D.Gumbel(a, b),
        "laplace": lambda: D.Laplace(a, b),
        "halfcauchy": lambda: D.HalfCauchy(b),
        "relaxed": lambda: D.RelaxedBernoulli(torch.tensor(0.5, dtype=dd), probs=b / 4),
        "relaxed_cat": lambda: D.RelaxedOneHotCategorical(torch.tensor(0.7, dtype=dd), logits=a),
        "cb": lambda: D.ContinuousBernoulli(probs=b / 4),
        "gamma": lambda: D.Gamma(a, b),
        "studentt": lambda: D.StudentT(a, b, b),
        "chi2": lambda: D.Chi2(a),
        "fisher": lambda: D.FisherSnedecor(a + 1, b + 1),
        "invgamma": lambda: D.InverseGamma(a, b),
        "dirichlet": lambda: D.Dirichlet(a),
        "beta": lambda: D.Beta(a, b),
    }
    for name, mk in fams.items():
        a.grad = b.grad = None
        d = mk()
        x = d.rsample((4,))
        obj = (x * torch.arange(1, x.shape[-1] + 1, dtype=dd)).sum() + d.log_prob(x.detach()).sum()
        obj.backward()
        out[name] = (
            x.detach().flatten().tolist()
            + (a.grad.tolist() if a.grad is not None else [])
            + (b.grad.tolist() if b.grad is not None else [])
        )
    return out


def holt_winters(torch):
    """Holt-Winters exponential smoothing, a Python loop over 0-d tensors (level, trend,
    seasonal list), its one-step-ahead SSE fitted by LBFGS on logit-parameterised weights."""
    torch.manual_seed(61)
    n, m = 60, 6
    t = torch.arange(n, dtype=torch.float64)
    y = (
        10
        + 0.2 * t
        + 2 * torch.sin(2 * math.pi * t / m)
        + 0.3 * torch.randn(n, dtype=torch.float64)
    )
    raw = torch.tensor([0.0, -1.0, -1.0], dtype=torch.float64, requires_grad=True)
    ys = [y[i] for i in range(n)]

    def sse():
        a, b, g = torch.sigmoid(raw)
        level, trend = ys[0], ys[1] - ys[0]
        season = [ys[i] - ys[:m][0] * 0 - sum(ys[:m]) / m for i in range(m)]
        total = torch.zeros((), dtype=torch.float64)
        for i in range(m, n):
            s = season[i % m]
            pred = level + trend + s
            err = ys[i] - pred
            total = total + err * err
            new_level = a * (ys[i] - s) + (1 - a) * (level + trend)
            trend = b * (new_level - level) + (1 - b) * trend
            season[i % m] = g * (ys[i] - new_level) + (1 - g) * s
            level = new_level
        return total

    opt = torch.optim.LBFGS([raw], lr=0.5, max_iter=15, line_search_fn="strong_wolfe")
    trace = []

    def closure():
        opt.zero_grad()
        l = sse()
        l.backward()
        trace.append(l.item())
        return l

    opt.step(closure)
    return {"trace": trace, "w": torch.sigmoid(raw).tolist()}


def scalar_mlp(torch):
    """A micrograd-style network of 0-d tensors (neurons as Python lists of scalars), trained
    by hand-written SGD on the .grad of each scalar parameter."""
    torch.manual_seed(62)
    X = [[torch.tensor(float(v)) for v in row] for row in torch.randn(12, 3).tolist()]
    Y = [torch.tensor(1.0 if sum(r) > 0 else -1.0) for r in torch.randn(12, 3).tolist()]

    def neuron(nin):
        return [torch.empty(()).uniform_(-1, 1).requires_grad_() for _ in range(nin + 1)]

    layers = [[neuron(3) for _ in range(4)], [neuron(4) for _ in range(4)], [neuron(4)]]
    params = [p for layer in layers for n in layer for p in n]

    def forward(x):
        for k, layer in enumerate(layers):
            out = []
            for n in layer:
                act = n[-1]
                for w, xi in zip(n[:-1], x):
                    act = act + w * xi
                out.append(act.tanh() if k < 2 else act)
            x = out
        return x[0]

    losses = []
    for step in range(8):
        total = torch.tensor(0.0)
        for x, y in zip(X, Y):
            total = total + (1 + -y * forward(x)).relu()
        reg = sum((p * p for p in params), torch.tensor(0.0))
        loss = total / len(X) + 1e-4 * reg
        for p in params:
            p.grad = None
        loss.backward()
        lr = 1.0 - 0.9 * step / 8
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        losses.append(loss.item())
    return {"loss": losses, "p": [p.item() for p in params[:12]]}


def scalar_newton_ode(torch):
    """Scalar work loops: an implicit Euler ODE step solved by Newton with autograd.grad
    (create_graph) at each of 40 steps, then the sensitivity of the end state to a parameter;
    Black-Scholes prices and Greeks of 0-d tensors with erf."""
    torch.manual_seed(63)
    k = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(1.0, dtype=torch.float64)
    dt = 0.05
    iters = []
    for step in range(40):
        guess = y
        for it in range(6):
            r = guess - y - dt * (-k * guess**3 + torch.sin(guess))
            (dr,) = (
                torch.autograd.grad(r, guess, create_graph=True) if guess.requires_grad else (None,)
            )
            if dr is None:
                dr = 1 - dt * (-3 * k * guess**2 + torch.cos(guess))
            guess = guess - r / dr
        iters.append(guess.item())
        y = guess
    (dk,) = torch.autograd.grad(y, k)

    def bs(S, K, T, r, sig):
        d1 = (torch.log(S / K) + (r + sig**2 / 2) * T) / (sig * torch.sqrt(T))
        d2 = d1 - sig * torch.sqrt(T)
        N = lambda v: 0.5 * (1 + torch.erf(v / math.sqrt(2)))
        return S * N(d1) - K * torch.exp(-r * T) * N(d2)

    S = torch.tensor(100.0, dtype=torch.float64, requires_grad=True)
    sig = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    T = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    price = bs(
        S, torch.tensor(95.0, dtype=torch.float64), T, torch.tensor(0.01, dtype=torch.float64), sig
    )
    delta, vega, theta = torch.autograd.grad(price, (S, sig, T), create_graph=True)
    (gamma,) = torch.autograd.grad(delta, S)
    return {
        "y": iters,
        "dk": dk.item(),
        "greeks": [price.item(), delta.item(), vega.item(), theta.item(), gamma.item()],
    }


def indexing_assign(torch):
    """Differentiable programs that write through indexing: masked assignment, advanced
    indexing with broadcast index tensors, index_put_ with accumulate, slices with steps,
    Ellipsis and None, boolean masks on two dims, in-place ops on slices of non-leaves."""
    torch.manual_seed(64)
    x = torch.randn(4, 5, requires_grad=True)
    w = torch.randn(3, requires_grad=True)
    y = x * 1
    y[y < 0] = 0.0
    y[:, ::2] *= 2
    y[1:3, [0, 4]] = w[:2].unsqueeze(0).expand(2, 2) * 3
    y[..., -1] += w[2]
    rows = torch.tensor([[0], [3]])
    cols = torch.tensor([1, 2, 3])
    y[rows, cols] = y[rows, cols] ** 2
    y[None, 2] = y[None, 2].flip(-1)
    z = torch.zeros(6).index_put_(
        (torch.tensor([0, 2, 2, 5]),), w[torch.tensor([0, 1, 2, 0])] * 2, accumulate=True
    )
    m = torch.zeros(4, 5, dtype=torch.bool)
    m[1, 2] = m[3, 0] = True
    sel = y[m]
    q = y.clone()
    q[torch.arange(4), torch.tensor([4, 3, 2, 1])] = torch.tensor(7.0)
    q[:, 1].clamp_(max=0.5)
    q.diagonal().mul_(10)
    loss = (y**2).sum() + z.pow(3).sum() + sel.exp().sum() + q.tanh().sum()
    loss.backward()
    return {
        "y": y.detach().flatten().tolist(),
        "z": z.detach().tolist(),
        "gx": x.grad.flatten().tolist(),
        "gw": w.grad.tolist(),
        "q": q.detach().flatten().tolist(),
        "gfn": type(y.grad_fn).__name__ + type(q.grad_fn).__name__,
    }


def finetune_schedule(torch):
    """Fine-tuning as scripts do it: a frozen backbone (requires_grad_(False), eval-mode
    BatchNorm), the head trained alone, then the backbone unfrozen by add_param_group with a
    smaller lr, warmup by LinearLR chained into CosineAnnealingWarmRestarts via SequentialLR,
    an EMA copy by swa_utils.AveragedModel(get_ema_multi_avg_fn) and update_bn, maximize=True
    on a negated loss, optimizer state_dict round trip mid-training."""
    torch.manual_seed(65)
    nn, F = torch.nn, torch.nn.functional
    swa = torch.optim.swa_utils
    backbone = nn.Sequential(
        nn.Linear(6, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU()
    )
    head = nn.Linear(8, 3)
    model = nn.Sequential(backbone, head)
    ema = swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9))
    X = torch.randn(60, 6)
    y = torch.randint(0, 3, (60,))
    backbone.requires_grad_(False)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=0.01, maximize=True)
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=1e-4)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[3])
    hist, lrs = [], []
    for ep in range(8):
        if ep == 3:
            backbone.requires_grad_(True)
            opt.add_param_group({"params": backbone.parameters(), "lr": 1e-3, "weight_decay": 0.0})
            sd = copy.deepcopy(opt.state_dict())
            opt.load_state_dict(sd)
        model.train()
        if ep < 3:
            backbone.eval()
        for b in range(0, 60, 20):
            loss = -F.cross_entropy(model(X[b : b + 20]), y[b : b + 20])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(
                [p for p in model.parameters() if p.grad is not None], 1.0, foreach=True
            )
            opt.step()
            ema.update_parameters(model)
            hist.append(loss.item())
        sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    lam_opt = torch.optim.SGD(head.parameters(), lr=0.1)
    lam = torch.optim.lr_scheduler.LambdaLR(lam_opt, lambda e: 0.9**e)
    lam_opt.add_param_group({"params": backbone.parameters()})
    lam_opt.step()
    try:
        lam.step()
        err = "none"
    except ValueError as e:
        err = str(e)
    loader = [(X[i : i + 20],) for i in range(0, 60, 20)]
    swa.update_bn(loader, ema)
    with torch.no_grad():
        ema.eval()
        out = ema(X)
    return {
        "loss": hist,
        "lrs": sum(lrs, []),
        "ema": out[:5].flatten().tolist(),
        "n_avg": ema.n_averaged.item(),
        "rm": ema.module[0][1].running_mean.tolist(),
        "groups": len(opt.param_groups),
        "state": len(opt.state),
        "err": err,
    }


def soft_dtw(torch):
    """Soft-DTW between two series, the DP table filled element by element in place
    (R[i, j] = ... on a tensor that needs history, as the reference implementations do),
    its gradient w.r.t. the series; then a barycenter fitted by Adam."""
    torch.manual_seed(66)
    dd = torch.float64
    x = torch.sin(torch.linspace(0, 3, 9, dtype=dd)).unsqueeze(1)
    y = torch.sin(torch.linspace(0.4, 3.4, 7, dtype=dd)).unsqueeze(1) + 0.05 * torch.randn(
        7, 1, dtype=dd
    )
    gamma = 0.1

    def sdtw(a, b):
        D = torch.cdist(a, b) ** 2
        n, m = D.shape
        R = torch.full((n + 1, m + 1), float("inf"), dtype=dd)
        R[0, 0] = 0.0
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                prev = torch.stack([R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]])
                R[i, j] = D[i - 1, j - 1] - gamma * torch.logsumexp(-prev / gamma, 0)
        return R[n, m]

    xa = x.clone().requires_grad_()
    val = sdtw(xa, y)
    val.backward()
    bary = torch.zeros(6, 1, dtype=dd, requires_grad=True)
    opt = torch.optim.Adam([bary], lr=0.1)
    hist = []
    for it in range(5):
        loss = sdtw(bary, x) + sdtw(bary, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(loss.item())
    return {
        "val": val.item(),
        "g": xa.grad.flatten().tolist(),
        "hist": hist,
        "bary": bary.detach().flatten().tolist(),
    }


def beam_search(torch):
    """Beam search decoding of a small GRU language model: log_softmax scores accumulated,
    topk over flattened beams, beam and token recovered by // and %, hidden states gathered by
    index_select, finished hypotheses masked with masked_fill; a length penalty."""
    torch.manual_seed(67)
    nn, F = torch.nn, torch.nn.functional
    V, H, K, L = 7, 12, 3, 6
    emb = nn.Embedding(V, H)
    cell = nn.GRUCell(H, H)
    out = nn.Linear(H, V)
    EOS = 0
    with torch.no_grad():
        h = torch.zeros(1, H)
        tokens = torch.full((1, 1), 1, dtype=torch.long)
        scores = torch.zeros(1)
        done = torch.zeros(1, dtype=torch.bool)
        for t in range(L):
            h = cell(emb(tokens[:, -1]), h)
            logp = F.log_softmax(out(h), -1)
            logp = logp.masked_fill(done[:, None], float("-inf"))
            logp[:, EOS] = torch.where(done, torch.zeros(len(done)), logp[:, EOS])
            cand = (scores[:, None] + logp).flatten()
            top, idx = cand.topk(K)
            beam, tok = idx // V, idx % V
            tokens = torch.cat([tokens[beam], tok[:, None]], 1)
            h = h.index_select(0, beam)
            done = done[beam] | (tok == EOS)
            scores = top
        lengths = (tokens != EOS).sum(1).float()
        final = scores / lengths**0.7
        best = final.argmax()
    return {
        "tokens": tokens.flatten().tolist(),
        "scores": scores.tolist(),
        "final": final.tolist(),
        "best": best.item(),
    }


def pointnet_chamfer(torch):
    """A PointNet autoencoder on point clouds: shared MLP by Conv1d(k=1), max pooling over
    points (ties resolved as torch), a decoder, the Chamfer distance by cdist + min over both
    directions; farthest point sampling by an argmax loop."""
    torch.manual_seed(68)
    nn = torch.nn
    B, N = 3, 32
    pts = torch.randn(B, N, 3)
    pts = pts / pts.norm(dim=-1, keepdim=True)
    enc = nn.Sequential(nn.Conv1d(3, 16, 1), nn.ReLU(), nn.Conv1d(16, 32, 1))
    dec = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, N * 3))
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=3e-3)

    def chamfer(a, b):
        d = torch.cdist(a, b)
        return d.min(2).values.pow(2).mean() + d.min(1).values.pow(2).mean()

    losses = []
    for it in range(8):
        code = enc(pts.transpose(1, 2)).max(2).values
        rec = dec(code).view(B, N, 3)
        loss = chamfer(rec, pts)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    sel = [0]
    dist = torch.full((N,), float("inf"))
    for k in range(7):
        dist = torch.minimum(dist, (pts[0] - pts[0, sel[-1]]).pow(2).sum(1))
        sel.append(int(dist.argmax()))
    return {"loss": losses, "fps": sel, "g": enc[0].weight.grad.flatten().tolist()}


def floyd_warshall(torch):
    """All-pairs shortest paths by min-plus Floyd-Warshall (torch.minimum with broadcasting),
    then a soft version (-T logsumexp(-d/T)) differentiated w.r.t. edge weights."""
    torch.manual_seed(69)
    dd = torch.float64
    n = 6
    W = torch.rand(n, n, dtype=dd) * 5
    W = W.masked_fill(torch.rand(n, n) < 0.4, float("inf"))
    W.fill_diagonal_(0)
    D = W.clone()
    for k in range(n):
        D = torch.minimum(D, D[:, k : k + 1] + D[k : k + 1, :])
    Ws = torch.where(torch.isinf(W), torch.full_like(W, 50.0), W).requires_grad_()
    S = Ws
    T = 0.3
    for k in range(n):
        S = -T * torch.logsumexp(torch.stack([S, S[:, k : k + 1] + S[k : k + 1, :]]) / -T, 0)
    S.sum().backward()
    return {
        "D": torch.nan_to_num(D, posinf=-1.0).flatten().tolist(),
        "S": S.detach().flatten().tolist(),
        "g": Ws.grad.flatten().tolist(),
    }


def advi_constraints(torch):
    """Automatic differentiation VI: unconstrained Gaussians mapped to each parameter's support
    by biject_to(constraint) (positive, unit interval, simplex, lower Cholesky of a
    correlation), log-det-Jacobians added, the ELBO of a hierarchical model maximised by Adam;
    transform_to, a custom Transform in a TransformedDistribution, KL errors torch raises."""
    torch.manual_seed(70)
    D = torch.distributions
    C = D.constraints
    dd = torch.float64
    y = torch.tensor([2.1, 1.7, 2.9, 3.3, 2.4, 1.2, 2.8, 2.2], dtype=dd)
    groups = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    sites = {
        "tau": (C.positive, ()),
        "mu": (C.real, ()),
        "theta": (C.real, (3,)),
        "p": (C.unit_interval, ()),
        "w": (C.simplex, (3,)),
        "L": (C.corr_cholesky, (2, 2)),
    }
    q = {}
    for name, (con, shape) in sites.items():
        t = D.biject_to(con)
        ushape = t.inverse_shape(torch.Size(shape)) if hasattr(t, "inverse_shape") else shape
        q[name] = (
            torch.zeros(ushape, dtype=dd, requires_grad=True),
            torch.full(ushape, -1.0, dtype=dd, requires_grad=True),
            t,
        )
    params = [p for loc, ls, _ in q.values() for p in (loc, ls)]
    opt = torch.optim.Adam(params, lr=0.05)
    hist = []
    for it in range(20):
        elbo = 0
        z = {}
        for name, (loc, log_s, t) in q.items():
            base = D.Normal(loc, log_s.exp())
            u = base.rsample()
            z[name] = t(u)
            elbo = elbo - base.log_prob(u).sum() + t.log_abs_det_jacobian(u, z[name]).sum()
        elbo = (
            elbo
            + D.HalfCauchy(torch.tensor(1.0, dtype=dd)).log_prob(z["tau"])
            + D.Normal(torch.tensor(0.0, dtype=dd), 5.0).log_prob(z["mu"])
        )
        elbo = elbo + D.Normal(z["mu"], z["tau"]).log_prob(z["theta"]).sum()
        elbo = elbo + D.Normal(z["theta"][groups], 0.5).log_prob(y).sum()
        elbo = (
            elbo
            + D.Beta(torch.tensor(2.0, dtype=dd), 2.0).log_prob(z["p"])
            + D.Dirichlet(torch.ones(3, dtype=dd)).log_prob(z["w"])
        )
        elbo = elbo + D.LKJCholesky(2, torch.tensor(1.5, dtype=dd)).log_prob(z["L"])
        opt.zero_grad()
        (-elbo).backward()
        opt.step()
        hist.append(elbo.item())

    class Cube(D.transforms.Transform):
        domain = C.real
        codomain = C.real
        bijective = True

        def __init__(self):
            super().__init__(cache_size=1)

        def _call(self, x):
            return x**3 + x

        def log_abs_det_jacobian(self, x, y):
            return torch.log(3 * x**2 + 1)

    td = D.TransformedDistribution(
        D.Normal(torch.zeros(2, dtype=dd), 1.0), [D.transforms.AffineTransform(1.0, 2.0), Cube()]
    )
    s = td.rsample((3,))
    errs = []
    for a, b in [
        (
            D.MixtureSameFamily(
                D.Categorical(torch.ones(2)), D.Normal(torch.zeros(2), torch.ones(2))
            ),
            D.Normal(0.0, 1.0),
        ),
        (D.Normal(0.0, 1.0), D.StudentT(3.0)),
    ]:
        try:
            D.kl_divergence(a, b)
            errs.append("none")
        except NotImplementedError as e:
            errs.append(type(e).__name__)
    return {
        "elbo": hist,
        "loc": [v[0].detach().flatten().tolist() for v in q.values()][0],
        "grads": sum((v[1].grad.flatten().tolist() for v in q.values()), []),
        "td": s.detach().flatten().tolist(),
        "lp": td.log_prob(s).detach().flatten().tolist(),
        "errs": " ".join(errs),
        "tr": repr(D.biject_to(C.simplex))
        + repr(D.transform_to(C.positive))
        + repr(D.biject_to(C.interval(0.0, 2.0))),
    }


def dataframe_stats(torch):
    """Table statistics as a data scientist writes them in torch: group-by means by
    scatter_reduce and bincount with weights, unique rows with inverse and counts, quantiles
    with each interpolation, nanquantile, histc, weighted cov/corrcoef, searchsorted with a
    sorter and right=True, diff with prepend, trapezoid integration, a rolling mean by
    unfold, rank by double argsort, standardisation and winsorising by clamp with tensors."""
    torch.manual_seed(71)
    dd = torch.float64
    n = 40
    g = torch.randint(0, 4, (n,))
    v = torch.randn(n, dtype=dd) * 2 + g.to(dd)
    w = torch.rand(n, dtype=dd)
    out = {}
    cnt = torch.bincount(g, minlength=4).to(dd)
    out["mean"] = (
        torch.zeros(4, dtype=dd).scatter_reduce(0, g, v, "mean", include_self=False)
    ).tolist()
    out["wmean"] = (
        torch.bincount(g, weights=w * v, minlength=4) / torch.bincount(g, weights=w, minlength=4)
    ).tolist()
    out["max"] = torch.full((4,), -1e9, dtype=dd).scatter_reduce(0, g, v, "amax").tolist()
    out["cnt"] = cnt.tolist()
    rows = torch.stack([g, (v > 1).long()], 1)
    u, inv, c = torch.unique(rows, dim=0, return_inverse=True, return_counts=True)
    out["urows"] = u.flatten().tolist() + inv.tolist() + c.tolist()
    for how in ("linear", "lower", "higher", "midpoint", "nearest"):
        out["q_" + how] = torch.quantile(
            v, torch.tensor([0.1, 0.5, 0.9], dtype=dd), interpolation=how
        ).tolist()
    vn = v.clone()
    vn[::7] = float("nan")
    out["nanq"] = torch.nanquantile(vn, 0.3).item()
    out["nanmean"] = vn.nanmean().item()
    out["histc"] = torch.histc(v, bins=6, min=-3, max=6).tolist()
    X = torch.stack([v, w, v * w + 0.1 * torch.randn(n, dtype=dd)])
    out["cov"] = torch.cov(X, fweights=torch.randint(1, 3, (n,)), aweights=w).flatten().tolist()
    out["corr"] = torch.corrcoef(X).flatten().tolist()
    order = torch.argsort(v)
    out["ss"] = torch.searchsorted(
        v, torch.tensor([0.0, 1.5, 3.0], dtype=dd), sorter=order, right=True
    ).tolist()
    out["bucket"] = torch.bucketize(
        torch.tensor([0.0, 1.0, 2.5]), torch.tensor([0.5, 1.0, 2.0]), right=True, out_int32=True
    ).tolist()
    out["diff"] = torch.diff(v[:6], prepend=torch.zeros(1, dtype=dd), append=v[:1]).tolist()
    t = torch.linspace(0, 2, 21, dtype=dd)
    out["trap"] = [
        torch.trapezoid(torch.sin(t), t).item(),
        torch.trapezoid(torch.sin(t), dx=0.1).item(),
    ] + torch.cumulative_trapezoid(t**2, t)[-3:].tolist()
    out["roll"] = v.unfold(0, 5, 5).mean(1).tolist()
    out["rank"] = v.argsort().argsort().tolist()[:15]
    z = (v - v.mean()) / v.std(unbiased=True)
    lo, hi = torch.quantile(z, torch.tensor([0.05, 0.95], dtype=dd))
    out["wins"] = z.clamp(min=lo, max=hi).tolist()[:10]
    out["mode"] = torch.mode(g).values.item()
    out["var"] = [
        v.var(correction=0).item(),
        v.std(dim=0, keepdim=True).item(),
        torch.var_mean(v, correction=2)[0].item(),
    ]
    return out


def dirichlet_vae(torch):
    """A topic-model VAE (ProdLDA-like) with a Dirichlet posterior: an encoder giving
    concentrations by softplus, Dirichlet rsample (implicit gradients), a KL to a Dirichlet
    prior, Beta-distributed document weights by rsample, Adam over float32 counts."""
    torch.manual_seed(72)
    nn, F = torch.nn, torch.nn.functional
    D = torch.distributions
    V, K, N = 20, 3, 24
    docs = torch.distributions.Multinomial(
        30, probs=torch.softmax(torch.randn(N, V) * 2, -1)
    ).sample()
    enc = nn.Sequential(nn.Linear(V, 16), nn.Softplus(), nn.Linear(16, K))
    beta_logits = nn.Parameter(torch.randn(K, V) * 0.1)
    wenc = nn.Linear(V, 2)
    opt = torch.optim.Adam(
        list(enc.parameters()) + [beta_logits] + list(wenc.parameters()), lr=1e-2
    )
    prior = D.Dirichlet(torch.full((K,), 0.5))
    losses = []
    for it in range(10):
        conc = F.softplus(enc(torch.log1p(docs))) + 1e-3
        q = D.Dirichlet(conc)
        theta = q.rsample()
        ab = F.softplus(wenc(docs / 30)) + 0.5
        w = D.Beta(ab[:, 0], ab[:, 1]).rsample()
        probs = theta @ torch.softmax(beta_logits, -1)
        probs = w[:, None] * probs + (1 - w[:, None]) / V
        nll = -(docs * torch.log(probs)).sum(-1)
        kl = D.kl_divergence(q, prior) + D.kl_divergence(
            D.Beta(ab[:, 0], ab[:, 1]), D.Beta(torch.tensor(1.0), torch.tensor(1.0))
        )
        loss = (nll + kl).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        "loss": losses,
        "g": enc[2].weight.grad.flatten().tolist(),
        "gw": wenc.weight.grad.flatten()[:10].tolist(),
        "theta": theta.detach()[:3].flatten().tolist(),
    }


def module_plumbing(torch):
    """Model plumbing a library author writes: weight tying between an embedding and the output
    layer, a non-persistent buffer, apply() initialisation, .double() conversion mid-way,
    forward pre-hooks with kwargs, state_dict and load_state_dict post hooks, a parametrization
    cached during a forward, deepcopy of a hooked model, named_parameters with and without
    duplicates, requires_grad_ on a submodule, zero_grad(set_to_none=False)."""
    torch.manual_seed(73)
    nn, F = torch.nn, torch.nn.functional
    P = nn.utils.parametrize

    class Sym(nn.Module):
        def forward(self, W):
            return (W + W.T) / 2

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 6)
            self.mix = nn.Linear(6, 6, bias=False)
            self.out = nn.Linear(6, 10)
            self.out.weight = self.emb.weight
            self.register_buffer("scale", torch.tensor(0.5), persistent=False)
            self.register_buffer("count", torch.zeros((), dtype=torch.long))

        def forward(self, x, temperature=1.0):
            self.count += 1
            h = torch.tanh(self.mix(self.emb(x))) * self.scale
            return self.out(h) / temperature

    model = LM()
    P.register_parametrization(model.mix, "weight", Sym())

    def init(m):
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.constant_(m.bias, 0.1)

    model.apply(init)
    seen = []
    model.register_forward_pre_hook(
        lambda m, args, kwargs: (args, {**kwargs, "temperature": 2.0}), with_kwargs=True
    )
    model.register_forward_hook(lambda m, args, out: seen.append(out.abs().mean().item()))
    x = torch.randint(0, 10, (4, 5))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for it in range(4):
        if it == 2:
            model.double()
            opt = torch.optim.SGD(model.parameters(), lr=0.5)
        with P.cached():
            logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 10), x[:, 1:].reshape(-1))
        model.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    sd = model.state_dict()
    clone = copy.deepcopy(model)
    model.emb.requires_grad_(False)
    names = [n for n, _ in model.named_parameters()]
    names_dup = [n for n, _ in model.named_parameters(remove_duplicate=False)]
    return {
        "loss": losses,
        "seen": seen,
        "keys": " ".join(sd.keys()),
        "dtype": str(sd["emb.weight"].dtype),
        "count": model.count.item(),
        "tied": str(model.out.weight is model.emb.weight),
        "names": " ".join(names),
        "dup": " ".join(names_dup),
        "clone": clone(x[:1]).detach().flatten()[:5].tolist(),
        "rg": str([p.requires_grad for p in model.parameters()]),
        "g": model.mix.parametrizations.weight.original.grad.flatten().tolist(),
    }


def custom_optimizer(torch):
    """A research optimizer written against torch.optim.Optimizer: Lion with its defaults dict,
    per-parameter state created lazily, a closure re-evaluating the loss, decorated with
    torch.no_grad(), param groups with their own hyperparameters, step pre/post hooks,
    state_dict and load_state_dict into a fresh instance that continues identically."""
    torch.manual_seed(74)
    nn, F = torch.nn, torch.nn.functional

    class Lion(torch.optim.Optimizer):
        def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
            if lr <= 0:
                raise ValueError(f"Invalid learning rate: {lr}")
            super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

        @torch.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for group in self.param_groups:
                b1, b2 = group["betas"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if len(state) == 0:
                        state["exp_avg"] = torch.zeros_like(p)
                        state["step"] = 0
                    state["step"] += 1
                    m = state["exp_avg"]
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    update = m.mul(b1).add(p.grad, alpha=1 - b1).sign_()
                    p.add_(update, alpha=-group["lr"])
                    m.mul_(b2).add_(p.grad, alpha=1 - b2)
            return loss

    net = nn.Sequential(nn.Linear(4, 16), nn.GELU(), nn.Linear(16, 1))
    opt = Lion(
        [
            {"params": net[0].parameters(), "weight_decay": 0.1},
            {"params": net[2].parameters(), "lr": 3e-3},
        ],
        lr=1e-3,
    )
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    X = torch.randn(32, 4)
    y = torch.sin(X.sum(1, keepdim=True))
    losses = []

    def closure():
        opt.zero_grad()
        loss = F.mse_loss(net(X), y)
        loss.backward()
        return loss

    for it in range(6):
        losses.append(opt.step(closure).item())
    sd = copy.deepcopy(opt.state_dict())
    net2 = copy.deepcopy(net)
    opt2 = Lion(
        [
            {"params": net2[0].parameters(), "weight_decay": 0.1},
            {"params": net2[2].parameters(), "lr": 3e-3},
        ],
        lr=1e-3,
    )
    opt2.load_state_dict(sd)
    for o, n in ((opt, net), (opt2, net2)):
        o.zero_grad()
        F.mse_loss(n(X), y).backward()
        o.step()
    same = all(bool(torch.equal(a, b)) for a, b in zip(net.parameters(), net2.parameters()))
    try:
        Lion(net.parameters(), lr=-1)
        err = "none"
    except ValueError as e:
        err = str(e)
    return {
        "loss": losses,
        "calls": " ".join(calls),
        "same": str(same),
        "err": err,
        "steps": [s["step"] for s in opt.state.values()],
        "keys": repr(sorted(sd["param_groups"][0].keys())),
        "w": net[2].weight.detach().flatten().tolist(),
        "repr": repr(opt).replace("\n", "|"),
    }


PROGRAMS = {
    f.__name__: f
    for f in (
        crf_tagger,
        hmm_baum_welch,
        cox_survival,
        ddpm_tiny,
        distillation,
        md_lennard_jones,
        transformer_decoder_lm,
        moe_topk,
        capsule_routing,
        word2vec_sgns,
        levenberg_marquardt,
        bnn_bayes_by_backprop,
        dqn_gridworld,
        particle_filter,
        tabular_net,
        cnn_bn_dropout,
        hook_clipping,
        deq_fixed_point,
        once_diff_function,
        tv_denoise,
        neural_style,
        mmd_permutation,
        portfolio_simplex,
        seq2seq_attention,
        lagrangian_nn,
        simclr_ntxent,
        mixup_beta,
        gat_layer,
        hawkes_mle,
        checkpoint_dropout,
        temperature_scaling,
        negbin_glm,
        wavenet_causal,
        neural_ca,
        made_autoregressive,
        missing_targets,
        gibbs_gmm,
        spectral_embedding,
        procrustes_rotation,
        forward_mode_jvp,
        sliding_windows,
        common_mistakes,
        graph_lifetimes,
        transformer_padding_eval,
        mha_variants,
        sdpa_dropout,
        random_zoo,
        rnn_utils_pipeline,
        old_style_norms,
        ties_knn,
        gradcam_saliency,
        adversarial_pgd,
        threaded_training,
        tensor_decomp,
        vision_ops_net,
        sloppy_loops,
        stft_fit,
        module_zoo_reprs,
        dist_draws,
        holt_winters,
        scalar_mlp,
        scalar_newton_ode,
        indexing_assign,
        finetune_schedule,
        soft_dtw,
        beam_search,
        pointnet_chamfer,
        floyd_warshall,
        advi_constraints,
        dataframe_stats,
        dirichlet_vae,
        module_plumbing,
        custom_optimizer,
    )
}
# float64 programs: round-off only; float32 ones accumulate it over their steps
RTOL = dict.fromkeys(
    (
        "hmm_baum_welch",
        "md_lennard_jones",
        "levenberg_marquardt",
        "particle_filter",
        "tv_denoise",
        "mmd_permutation",
        "portfolio_simplex",
        "hawkes_mle",
        "negbin_glm",
        "gibbs_gmm",
        "spectral_embedding",
        "procrustes_rotation",
        "stft_fit",
        "holt_winters",
        "scalar_newton_ode",
        "soft_dtw",
        "floyd_warshall",
        "advi_constraints",
        "dataframe_stats",
    ),
    1e-9,
)
RTOL.update(tensor_decomp=1e-8, random_zoo=1e-6, dist_draws=1e-7)


def _text(s):
    """Printed text, with tapegrad's module name where torch prints its own."""
    return s.replace("tapegrad.", "torch.")


def _compare(name, got, want, rtol):
    assert got.keys() == want.keys()
    for key in want:
        if isinstance(want[key], str):
            assert _text(got[key]) == want[key], f"{name}: {key}"
            continue
        np.testing.assert_allclose(
            np.asarray(got[key], dtype=np.float64),
            np.asarray(want[key], dtype=np.float64),
            rtol=rtol,
            atol=1e-12 if rtol < 1e-6 else 1e-5,
            err_msg=f"{name}: {key}",
        )


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_matches_torch(name, torch_ref):
    _compare(name, PROGRAMS[name](tapegrad), PROGRAMS[name](torch_ref), RTOL.get(name, 2e-4))
