"""The optimizers' fused updates: one Numba call updates every parameter of a group.

Imported on the first `step()` through `_jit.kernel_module` (so `import tapegrad` stays free
of numba, and the cache is placed as for tapegrad._kernels).

The parameters and the optimizer's state stay where they are (the leaves' own arrays, the
state tensors' arrays: `.data` aliases and views see the update, as with torch's in-place
step).  A kernel gets them as int64 data addresses (`P`, `S1`, ...: contiguous arrays, one per
parameter, kept alive by the caller for the call) and views each as an array of `like`'s
dtype; the gradients come in one array `G` (parameter j's `off[j+1] - off[j]` values from
`goff[j]`: the optimizer's concatenated buffer, or a replay's adjoint arena).
Step counters are torch's 0-d `step` tensors (`T`: addresses of values of `tlike`'s dtype,
float32 unless the default dtype is float64).
The addresses never come from outside the process: optim.optimizer takes them from arrays it
holds.

The arithmetic follows torch's single-tensor CPU path (torch.optim.*._single_tensor_*) op
for op, in float64; values are rounded to the parameter's dtype where they are stored.
"""
import numpy as np
from numba import carray, njit, types
from numba.extending import intrinsic

@intrinsic
def _pointer(typingctx, addr, like):
    """A typed pointer to `like`'s dtype at int64 address `addr`."""
    ptr = types.CPointer(like.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(ptr))
    return ptr(types.int64, like), codegen


@njit(cache=True, inline="always")
def _at(addr, n, like):
    return carray(_pointer(addr, like), n)


@njit(cache=True, inline="always")
def _grad(G, k, p, i, maximize, weight_decay):
    """G[k] as torch's step sees it: negated when maximizing, plus weight_decay * p[i] (the
    L2 decay grad.add(p, alpha=weight_decay)), in float64."""
    g = np.float64(G[k])
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * np.float64(p[i])
    return g


@njit(cache=True, inline="always")
def _decayed_grad(G, k, p, i, maximize, weight_decay, decoupled, lr):
    """_grad, or with `decoupled` (AdamW's kind) G[k] as is and p[i] shrunk by
    1 - lr * weight_decay first."""
    if decoupled and weight_decay != 0:
        p[i] = np.float64(p[i]) * (1.0 - lr * weight_decay)
        return _grad(G, k, p, i, maximize, 0.0)
    return _grad(G, k, p, i, maximize, weight_decay)


@njit(cache=True, inline="always")
def _ema_square(a, i, g, beta):
    """a[i] = a[i] * beta + (1 - beta) * g * g as torch's mul_ then addcmul_ (two roundings
    in a's dtype)."""
    a[i] = np.float64(a[i]) * beta
    a[i] = np.float64(a[i]) + (1.0 - beta) * g * g


@njit(cache=True)
def sgd(P, G, goff, off, B, first, like, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """SGD for parameters P; B: momentum buffers (first[j]: buffer j is new, it takes the
    gradient), unused when momentum is 0."""
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        if momentum != 0:
            b = _at(B[j], n, like)
        else:
            b = p
        for i in range(n):
            g = _grad(G, o + i, p, i, maximize, weight_decay)
            if momentum != 0:
                if first[j]:
                    b[i] = g
                else:
                    b[i] = np.float64(b[i]) * momentum
                    b[i] = np.float64(b[i]) + (1.0 - dampening) * g
                if nesterov:
                    g = g + momentum * np.float64(b[i])
                else:
                    g = np.float64(b[i])
            p[i] = np.float64(p[i]) + (-lr) * g


@njit(cache=True)
def adam(P, G, goff, off, M, V, VM, T, like, tlike, lr, beta1, beta2, eps, weight_decay, amsgrad,
         maximize, decoupled):
    """Adam / AdamW (decoupled weight decay): M, V the moments, VM the running maximum of V
    (amsgrad), T the step counters."""
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        m = _at(M[j], n, like)
        v = _at(V[j], n, like)
        vm = _at(VM[j], n, like) if amsgrad else v
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        step = np.float64(t[0])
        bc1 = 1.0 - beta1 ** step
        bc2 = 1.0 - beta2 ** step
        step_size = lr / bc1
        bc2_sqrt = bc2 ** 0.5
        for i in range(n):
            g = _decayed_grad(G, o + i, p, i, maximize, weight_decay, decoupled, lr)
            # lerp(m, g, 1 - beta1), torch's formula for weights below 0.5
            w = 1.0 - beta1
            mi = np.float64(m[i])
            if abs(w) < 0.5:
                m[i] = mi + w * (g - mi)
            else:
                m[i] = g - (g - mi) * (1.0 - w)
            _ema_square(v, i, g, beta2)
            if amsgrad:
                if v[i] > vm[i] or v[i] != v[i]:    # torch.maximum: NaN wins
                    vm[i] = v[i]
                denom = np.sqrt(np.float64(vm[i])) / bc2_sqrt + eps
            else:
                denom = np.sqrt(np.float64(v[i])) / bc2_sqrt + eps
            p[i] = np.float64(p[i]) + (-step_size) * (np.float64(m[i]) / denom)


@njit(cache=True)
def rmsprop(P, G, goff, off, SQ, BUF, GA, T, like, tlike, lr, alpha, eps, weight_decay, momentum,
            centered, maximize):
    """RMSprop: SQ the square averages, BUF the momentum buffers (momentum > 0), GA the
    gradient averages (centered), T the step counters."""
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        sq = _at(SQ[j], n, like)
        buf = _at(BUF[j], n, like) if momentum > 0 else sq
        ga = _at(GA[j], n, like) if centered else sq
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        for i in range(n):
            g = _grad(G, o + i, p, i, maximize, weight_decay)
            _ema_square(sq, i, g, alpha)
            if centered:
                w = 1.0 - alpha
                gi = np.float64(ga[i])
                if abs(w) < 0.5:
                    ga[i] = gi + w * (g - gi)
                else:
                    ga[i] = g - (g - gi) * (1.0 - w)
                gi = np.float64(ga[i])
                avg = np.sqrt(np.float64(sq[i]) + (-1.0) * gi * gi)
            else:
                avg = np.sqrt(np.float64(sq[i]))
            avg = avg + eps
            if momentum > 0:
                buf[i] = np.float64(buf[i]) * momentum
                buf[i] = np.float64(buf[i]) + g / avg
                p[i] = np.float64(p[i]) + (-lr) * np.float64(buf[i])
            else:
                p[i] = np.float64(p[i]) + (-lr) * (g / avg)


@njit(cache=True)
def adagrad(P, G, goff, off, SUM, T, like, tlike, lr, lr_decay, eps, weight_decay, maximize):
    """Adagrad: SUM the accumulated squares, T the step counters."""
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        s = _at(SUM[j], n, like)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        clr = lr / (1.0 + (np.float64(t[0]) - 1.0) * lr_decay)
        for i in range(n):
            g = _grad(G, o + i, p, i, maximize, weight_decay)
            s[i] = np.float64(s[i]) + 1.0 * g * g
            std = np.sqrt(np.float64(s[i])) + eps
            p[i] = np.float64(p[i]) + (-clr) * (g / std)


@njit(cache=True, inline="always")
def _lerp(a, i, g, w):
    """a[i].lerp_(g, w) with torch's two formulas (w below 0.5 in magnitude, or not)."""
    ai = np.float64(a[i])
    if abs(w) < 0.5:
        a[i] = ai + w * (g - ai)
    else:
        a[i] = g - (g - ai) * (1.0 - w)


@njit(cache=True, inline="always")
def _scale(a, x):
    """a[0] *= x for a one-element state tensor: x rounded to a's dtype first, as torch
    converts a Python number multiplying a tensor."""
    old = np.float64(a[0])
    a[0] = x
    a[0] = old * np.float64(a[0])


@njit(cache=True)
def nadam(P, G, goff, off, M, V, MP, T, like, tlike, mplike, lr, beta1, beta2, eps,
          weight_decay, momentum_decay, maximize, decoupled):
    """NAdam / NAdamW (decoupled weight decay): M, V the moments, MP the momentum products
    (mu_product: one element each, of mplike's dtype), T the step counters."""
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        m = _at(M[j], n, like)
        v = _at(V[j], n, like)
        mp = _at(MP[j], 1, mplike)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        step = np.float64(t[0])
        bc2 = 1.0 - beta2 ** step
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1.0) * momentum_decay)))
        _scale(mp, mu)
        mpv = np.float64(mp[0])
        c_grad = -lr * (1.0 - mu) / (1.0 - mpv)
        c_avg = (-lr * mu_next) / (1.0 - mpv * mu_next)
        for i in range(n):
            g = _decayed_grad(G, o + i, p, i, maximize, weight_decay, decoupled, lr)
            _lerp(m, i, g, 1.0 - beta1)
            _ema_square(v, i, g, beta2)
            denom = np.sqrt(np.float64(v[i]) / bc2) + eps
            p[i] = np.float64(p[i]) + c_grad * g / denom       # two addcdiv_, as torch
            p[i] = np.float64(p[i]) + c_avg * np.float64(m[i]) / denom


@njit(cache=True)
def radam(P, G, goff, off, M, V, T, like, tlike, lr, beta1, beta2, eps, weight_decay, maximize,
          decoupled):
    """RAdam (decoupled weight decay or not): M, V the moments, T the step counters; the
    rectified adaptive step once the SMA length rho_t exceeds 5, plain momentum before."""
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        m = _at(M[j], n, like)
        v = _at(V[j], n, like)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        step = np.float64(t[0])
        bc1 = 1.0 - beta1 ** step
        bc2 = 1.0 - beta2 ** step
        rho_t = rho_inf - 2.0 * step * (beta2 ** step) / bc2
        adaptive = rho_t > 5.0
        rect = 0.0
        if adaptive:
            rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5
        bc2_sqrt = bc2 ** 0.5
        for i in range(n):
            g = _decayed_grad(G, o + i, p, i, maximize, weight_decay, decoupled, lr)
            _lerp(m, i, g, 1.0 - beta1)
            _ema_square(v, i, g, beta2)
            u = np.float64(m[i]) / bc1 * lr
            if adaptive:
                u = u * (bc2_sqrt / (np.sqrt(np.float64(v[i])) + eps)) * rect
            p[i] = np.float64(p[i]) + (-1.0) * u


@njit(cache=True)
def adamax(P, G, goff, off, M, U, T, like, tlike, lr, beta1, beta2, eps, weight_decay,
           maximize):
    """Adamax: M the first moments, U the infinity norms (exp_inf), T the step counters."""
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        m = _at(M[j], n, like)
        u = _at(U[j], n, like)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        clr = lr / (1.0 - beta1 ** np.float64(t[0]))
        for i in range(n):
            g = _grad(G, o + i, p, i, maximize, weight_decay)
            _lerp(m, i, g, 1.0 - beta1)
            u[i] = np.float64(u[i]) * beta2
            a = abs(g) + eps
            if a > u[i] or a != a:          # torch.maximum: NaN wins
                u[i] = a
            p[i] = np.float64(p[i]) + (-clr) * np.float64(m[i]) / np.float64(u[i])


@njit(cache=True)
def adadelta(P, G, goff, off, SQ, ACC, T, like, tlike, lr, rho, eps, weight_decay, maximize):
    """Adadelta: SQ the square averages, ACC the accumulated updates (acc_delta), T the step
    counters."""
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        sq = _at(SQ[j], n, like)
        acc = _at(ACC[j], n, like)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        for i in range(n):
            g = _grad(G, o + i, p, i, maximize, weight_decay)
            _ema_square(sq, i, g, rho)
            std = np.sqrt(np.float64(sq[i]) + eps)
            delta = np.sqrt(np.float64(acc[i]) + eps) / std * g
            acc[i] = np.float64(acc[i]) * rho
            acc[i] = np.float64(acc[i]) + (1.0 - rho) * delta * delta
            p[i] = np.float64(p[i]) + (-lr) * delta


@njit(cache=True)
def rprop(P, G, goff, off, PREV, SS, T, like, tlike, etaminus, etaplus, step_min, step_max,
          maximize):
    """Rprop: PREV the previous gradients (0 where the sign flipped), SS the step sizes, T the
    step counters; etas and step-size bounds come rounded to the parameters' dtype."""
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        prev = _at(PREV[j], n, like)
        ss = _at(SS[j], n, like)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        for i in range(n):
            g = np.float64(G[o + i])
            if maximize:
                g = -g
            prev[i] = g * np.float64(prev[i])     # grad.mul(prev) in p's dtype: its sign
            prod = prev[i]
            if prod > 0:
                s = etaplus
            elif prod < 0:
                s = etaminus
            elif prod == 0:
                s = 1.0
            else:
                s = np.nan
            ss[i] = np.float64(ss[i]) * s
            if ss[i] < step_min:                   # clamp_: NaN stays
                ss[i] = step_min
            if ss[i] > step_max:
                ss[i] = step_max
            if prod < 0:
                g = 0.0
            sg = np.sign(g)
            p[i] = np.float64(p[i]) + (-1.0) * sg * np.float64(ss[i])
            prev[i] = g


@njit(cache=True)
def asgd(P, G, goff, off, AX, T, ETA, MU, like, tlike, elike, mlike, lr, lambd, alpha, t0,
         weight_decay, maximize, eta32, mu32, foreach, chain):
    """ASGD: AX the averaged parameters, T the step counters, ETA and MU the one-element
    step sizes and averaging weights (new values rounded through float32 when eta32 / mu32:
    torch makes them as float32 tensors first).  `foreach`: torch's multi-tensor arithmetic,
    which differs (one addcmul_ for decay and step); `chain`: its new eta computed on the
    step tensor, op by op in the step's dtype (a float lr)."""
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        ax = _at(AX[j], n, like)
        e = _at(ETA[j], 1, elike)
        mu_t = _at(MU[j], 1, mlike)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        eta = np.float64(e[0])
        mu = np.float64(mu_t[0])
        for i in range(n):
            g = np.float64(G[o + i])
            if maximize:
                g = -g
            if foreach:
                if weight_decay != 0:
                    g = np.float64(like.dtype.type(g + weight_decay * np.float64(p[i])))
                g = g + lambd * np.float64(p[i])
                p[i] = np.float64(p[i]) + (-1.0 * g) * eta
                d = np.float64(like.dtype.type(np.float64(p[i]) - np.float64(ax[i])))
                ax[i] = np.float64(ax[i]) + d * mu
                continue
            if weight_decay != 0:
                g = g + weight_decay * np.float64(p[i])
            p[i] = np.float64(p[i]) * (1.0 - lambd * eta)
            p[i] = np.float64(p[i]) + (-eta) * g
            if mu != 1:
                ax[i] = np.float64(ax[i]) + (np.float64(p[i]) - np.float64(ax[i])) * mu
            else:
                ax[i] = p[i]
        step = np.float64(t[0])
        if chain:       # lr / (1 + lambd * lr * step) ** alpha with step a tensor
            # (alpha 0.5: torch's tensor ** 0.5 is its sqrt kernel, which can be an ulp off
            # the correctly rounded value: eta then differs by an ulp of the step's dtype)
            r = tlike.dtype.type
            c = r(np.float64(r(step * np.float64(r(lambd * lr)))) + 1.0)
            c = r(np.float64(c) ** alpha)
            new_eta = np.float64(r(np.float64(r(1.0 / np.float64(c))) * np.float64(r(lr))))
        else:
            new_eta = lr / ((1.0 + lambd * lr * step) ** alpha)
            if eta32:
                new_eta = np.float64(np.float32(new_eta))
        new_mu = 1.0 / max(1.0, step - t0)
        if mu32:
            new_mu = np.float64(np.float32(new_mu))
        e[0] = new_eta
        mu_t[0] = new_mu


@njit(cache=True)
def add_flat(P, D, off, like, alpha):
    """p += alpha * D[p's slice] for every parameter (LBFGS's _add_grad)."""
    for j in range(len(P)):
        o, n = off[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        for i in range(n):
            p[i] = np.float64(p[i]) + alpha * np.float64(D[o + i])


@njit(cache=True)
def copy_flat(P, D, off, like, to_params):
    """Copy D's slices into the parameters (to_params) or the parameters into D."""
    for j in range(len(P)):
        o, n = off[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        for i in range(n):
            if to_params:
                p[i] = D[o + i]
            else:
                D[o + i] = p[i]
