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

The arithmetic follows torch's single-tensor CPU path (torch.optim.*._single_tensor_*),
the path its default foreach=None takes for CPU tensors, op for op in the parameters' dtype:
every tensor op rounds where torch's does (a float32 parameter gets float32 arithmetic), a
Python number operand is rounded to that dtype first, and add_ with alpha, addcmul_ and lerp_
are one fused multiply-add each (`_fma`), as torch's vectorized CPU kernels compute them.
The one op that may differ is sqrt: torch's (MKL's vector sqrt) can be an ulp off the
correctly rounded value LLVM's sqrt gives.  A division by zero gives inf or nan, as torch's
(error_model "numpy": Python's model would raise ZeroDivisionError, e.g. Adam with eps=0 and
a zero gradient).
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


@njit(cache=True, inline="always", error_model="numpy")
def _at(addr, n, like):
    return carray(_pointer(addr, like), n)


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma), of three floats of one dtype: torch's CPU kernels of
    add_(x, alpha=...), addcmul_ and lerp_ compute so (fused multiply-adds, in the vectorized
    loop and its scalar tail alike)."""
    if isinstance(a, types.Float) and a == b and b == c:
        def codegen(context, builder, signature, args):
            return builder.fma(args[0], args[1], args[2])
        return a(a, b, c), codegen
    return None


@njit(cache=True, inline="always", error_model="numpy")
def _r(like, x):
    """x in like's dtype: a Python number as a tensor op of that dtype takes it (rounded)."""
    return like.dtype.type(x)


@njit(cache=True, inline="always", error_model="numpy")
def _grad(G, k, p, i, maximize, l2, wd):
    """G[k] as torch's step sees it: negated when maximizing, then with `l2`
    grad.add(p, alpha=weight_decay) (the L2 decay, one fused multiply-add; wd: the decay in
    p's dtype).  (The kernels decide `l2` and round wd before their loops: decided per
    element, the weight-decay branches made Adam's loop 2-3 times slower.)"""
    g = p.dtype.type(G[k])
    if maximize:
        g = -g
    if l2:
        g = _fma(p[i], wd, g)
    return g


@njit(cache=True, inline="always", error_model="numpy")
def _decay(weight_decay, decoupled, lr, like):
    """(shrink, l2, wd, keep) of a step with weight decay coupled or not (AdamW's kind):
    shrink, p.mul_(1 - lr * weight_decay) (keep) before the update; l2, _grad's L2 term."""
    on = weight_decay != 0
    return (on and decoupled, on and not decoupled, _r(like, weight_decay),
            _r(like, 1.0 - lr * weight_decay))


@njit(cache=True, inline="always", error_model="numpy")
def _ema_square(a, i, g, beta, like):
    """a.mul_(beta).addcmul_(g, g, value=1 - beta): a[i] * beta rounded, then
    (1 - beta) * g times g plus that, one fused multiply-add."""
    a[i] = a[i] * _r(like, beta)
    a[i] = _fma(_r(like, 1.0 - beta) * g, g, a[i])


@njit(cache=True, inline="always", error_model="numpy")
def _lerp(a, i, g, w, like):
    """a[i].lerp_(g, w) for a Python number w, torch's two formulas (|w| below 0.5 or not),
    each one fused multiply-add in a's dtype."""
    wt = _r(like, w)
    d = g - a[i]
    if abs(wt) < 0.5:
        a[i] = _fma(wt, d, a[i])
    else:
        a[i] = _fma(-d, _r(like, 1.0) - wt, g)


@njit(cache=True, error_model="numpy")
def sgd(P, G, goff, off, B, first, like, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """SGD for parameters P; B: momentum buffers (first[j]: buffer j is new, it takes the
    gradient), unused when momentum is 0."""
    neg_lr = _r(like, -lr)
    mom = _r(like, momentum)
    keep = _r(like, 1.0 - dampening)
    l2, wd = weight_decay != 0, _r(like, weight_decay)
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        if momentum != 0:
            b = _at(B[j], n, like)
        else:
            b = p
        for i in range(n):
            g = _grad(G, o + i, p, i, maximize, l2, wd)
            if momentum != 0:
                if first[j]:
                    b[i] = g                                # buf = grad.clone()
                else:
                    b[i] = _fma(g, keep, b[i] * mom)        # buf.mul_(m).add_(g, alpha=1-d)
                if nesterov:
                    g = _fma(b[i], mom, g)                  # grad.add(buf, alpha=m)
                else:
                    g = b[i]
            p[i] = _fma(g, neg_lr, p[i])                    # p.add_(grad, alpha=-lr)


@njit(cache=True, error_model="numpy")
def adam(P, G, goff, off, M, V, VM, T, like, tlike, lr, beta1, beta2, eps, weight_decay, amsgrad,
         maximize, decoupled):
    """Adam / AdamW (decoupled weight decay): M, V the moments, VM the running maximum of V
    (amsgrad), T the step counters."""
    e = _r(like, eps)
    shrink, l2, wd, keep = _decay(weight_decay, decoupled, lr, like)
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        m = _at(M[j], n, like)
        v = _at(V[j], n, like)
        vm = _at(VM[j], n, like) if amsgrad else v
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        # (the bias corrections in Python floats, as torch's non-capturable step)
        step = np.float64(t[0])
        bc1 = 1.0 - beta1 ** step
        bc2 = 1.0 - beta2 ** step
        neg_step_size = _r(like, -(lr / bc1))
        bc2_sqrt = _r(like, bc2 ** 0.5)
        for i in range(n):
            if shrink:
                p[i] = p[i] * keep
            g = _grad(G, o + i, p, i, maximize, l2, wd)
            _lerp(m, i, g, 1.0 - beta1, like)
            _ema_square(v, i, g, beta2, like)
            if amsgrad:
                if v[i] > vm[i] or v[i] != v[i]:    # torch.maximum: NaN wins
                    vm[i] = v[i]
                denom = np.sqrt(vm[i]) / bc2_sqrt + e
            else:
                denom = np.sqrt(v[i]) / bc2_sqrt + e
            # p.addcdiv_(exp_avg, denom, value=-step_size)
            p[i] = p[i] + neg_step_size * m[i] / denom


@njit(cache=True, error_model="numpy")
def rmsprop(P, G, goff, off, SQ, BUF, GA, T, like, tlike, lr, alpha, eps, weight_decay, momentum,
            centered, maximize):
    """RMSprop: SQ the square averages, BUF the momentum buffers (momentum > 0), GA the
    gradient averages (centered), T the step counters."""
    neg_lr = _r(like, -lr)
    mom = _r(like, momentum)
    e = _r(like, eps)
    l2, wd = weight_decay != 0, _r(like, weight_decay)
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        sq = _at(SQ[j], n, like)
        buf = _at(BUF[j], n, like) if momentum > 0 else sq
        ga = _at(GA[j], n, like) if centered else sq
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        for i in range(n):
            g = _grad(G, o + i, p, i, maximize, l2, wd)
            _ema_square(sq, i, g, alpha, like)
            if centered:
                _lerp(ga, i, g, 1.0 - alpha, like)
                # square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
                avg = np.sqrt(_fma(-ga[i], ga[i], sq[i]))
            else:
                avg = np.sqrt(sq[i])
            avg = avg + e
            if momentum > 0:
                buf[i] = buf[i] * mom + g / avg             # buf.mul_(m).addcdiv_(grad, avg)
                p[i] = _fma(buf[i], neg_lr, p[i])           # p.add_(buf, alpha=-lr)
            else:
                p[i] = p[i] + neg_lr * g / avg              # p.addcdiv_(grad, avg, value=-lr)


@njit(cache=True, error_model="numpy")
def adagrad(P, G, goff, off, SUM, T, like, tlike, lr, lr_decay, eps, weight_decay, maximize):
    """Adagrad: SUM the accumulated squares, T the step counters."""
    e = _r(like, eps)
    l2, wd = weight_decay != 0, _r(like, weight_decay)
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        s = _at(SUM[j], n, like)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        neg_clr = _r(like, -(lr / (1.0 + (np.float64(t[0]) - 1.0) * lr_decay)))
        for i in range(n):
            g = _grad(G, o + i, p, i, maximize, l2, wd)
            s[i] = _fma(g, g, s[i])                         # state_sum.addcmul_(g, g, value=1)
            std = np.sqrt(s[i]) + e
            p[i] = p[i] + neg_clr * g / std                 # p.addcdiv_(g, std, value=-clr)


@njit(cache=True, inline="always", error_model="numpy")
def _scale(a, x):
    """a[0] *= x for a one-element state tensor: x rounded to a's dtype first, as torch
    converts a Python number multiplying a tensor."""
    old = np.float64(a[0])
    a[0] = x
    a[0] = old * np.float64(a[0])


@njit(cache=True, error_model="numpy")
def nadam(P, G, goff, off, M, V, MP, T, like, tlike, mplike, lr, beta1, beta2, eps,
          weight_decay, momentum_decay, maximize, decoupled, foreach):
    """NAdam / NAdamW (decoupled weight decay): M, V the moments, MP the momentum products
    (mu_product: one element each, of mplike's dtype), T the step counters.  `foreach`:
    torch's multi-tensor denominator, sqrt(v) / sqrt(bias_correction2) + eps."""
    e = _r(like, eps)
    shrink, l2, wd, keep = _decay(weight_decay, decoupled, lr, like)
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        m = _at(M[j], n, like)
        v = _at(V[j], n, like)
        mp = _at(MP[j], 1, mplike)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        step = np.float64(t[0])
        bc2 = _r(like, 1.0 - beta2 ** step)
        bc2_sqrt = _r(like, (1.0 - beta2 ** step) ** 0.5)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1.0) * momentum_decay)))
        _scale(mp, mu)
        mpv = np.float64(mp[0])
        c_grad = _r(like, -lr * (1.0 - mu) / (1.0 - mpv))
        c_avg = _r(like, (-lr * mu_next) / (1.0 - mpv * mu_next))
        for i in range(n):
            if shrink:
                p[i] = p[i] * keep
            g = _grad(G, o + i, p, i, maximize, l2, wd)
            _lerp(m, i, g, 1.0 - beta1, like)
            _ema_square(v, i, g, beta2, like)
            if foreach:
                denom = np.sqrt(v[i]) / bc2_sqrt + e
            else:
                denom = np.sqrt(v[i] / bc2) + e             # exp_avg_sq.div(bc2).sqrt()
            p[i] = p[i] + c_grad * g / denom                # two addcdiv_, as torch
            p[i] = p[i] + c_avg * m[i] / denom


@njit(cache=True, error_model="numpy")
def radam(P, G, goff, off, M, V, T, like, tlike, lr, beta1, beta2, eps, weight_decay, maximize,
          decoupled, foreach):
    """RAdam (decoupled weight decay or not): M, V the moments, T the step counters; the
    rectified adaptive step once the SMA length rho_t exceeds 5, plain momentum before.
    `foreach`: torch's multi-tensor arithmetic, p + m * (1 / ((sqrt(v) + eps) / c) + u), c
    and u the adaptive and plain step sizes (one of them 0)."""
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    e = _r(like, eps)
    shrink, l2, wd, keep = _decay(weight_decay, decoupled, lr, like)
    lr_t = _r(like, lr)
    one = _r(like, 1.0)
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
        rect_t = _r(like, rect)
        bc1_t = _r(like, bc1)
        bc2_sqrt = _r(like, bc2 ** 0.5)
        # (foreach: torch's step sizes in Python floats; c is -0.0 before rectification, the
        # reciprocal term -0.0 then)
        c = _r(like, (bc2 ** 0.5) * (lr * rect / bc1) * -1)
        u_plain = _r(like, (lr * (0.0 if rect > 0 else 1.0) / bc1) * -1)
        for i in range(n):
            if shrink:
                p[i] = p[i] * keep
            g = _grad(G, o + i, p, i, maximize, l2, wd)
            _lerp(m, i, g, 1.0 - beta1, like)
            _ema_square(v, i, g, beta2, like)
            if foreach:
                b = one / ((np.sqrt(v[i]) + e) / c) + u_plain
                p[i] = _fma(m[i], b, p[i])                  # p.addcmul_(exp_avg, b)
                continue
            u = m[i] / bc1_t * lr_t                         # exp_avg / bc1 * lr
            if adaptive:
                # * (bc2 ** 0.5 / (sqrt(v) + eps)), a number over a tensor being
                # tensor.reciprocal() * number in torch; then * rect
                u = u * (one / (np.sqrt(v[i]) + e) * bc2_sqrt) * rect_t
            p[i] = p[i] - u                                 # p.add_(u, alpha=-1.0)


@njit(cache=True, error_model="numpy")
def adamax(P, G, goff, off, M, U, T, like, tlike, lr, beta1, beta2, eps, weight_decay,
           maximize):
    """Adamax: M the first moments, U the infinity norms (exp_inf), T the step counters."""
    b2 = _r(like, beta2)
    e = _r(like, eps)
    l2, wd = weight_decay != 0, _r(like, weight_decay)
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        m = _at(M[j], n, like)
        u = _at(U[j], n, like)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        neg_clr = _r(like, -(lr / (1.0 - beta1 ** np.float64(t[0]))))
        for i in range(n):
            g = _grad(G, o + i, p, i, maximize, l2, wd)
            _lerp(m, i, g, 1.0 - beta1, like)
            u[i] = u[i] * b2
            a = abs(g) + e
            if a > u[i] or a != a:          # torch.maximum: NaN wins
                u[i] = a
            p[i] = p[i] + neg_clr * m[i] / u[i]             # p.addcdiv_(m, u, value=-clr)


@njit(cache=True, error_model="numpy")
def adadelta(P, G, goff, off, SQ, ACC, T, like, tlike, lr, rho, eps, weight_decay, maximize):
    """Adadelta: SQ the square averages, ACC the accumulated updates (acc_delta), T the step
    counters."""
    e = _r(like, eps)
    l2, wd = weight_decay != 0, _r(like, weight_decay)
    neg_lr = _r(like, -lr)
    for j in range(len(P)):
        o, n = goff[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        sq = _at(SQ[j], n, like)
        acc = _at(ACC[j], n, like)
        t = _at(T[j], 1, tlike)
        t[0] += 1.0
        for i in range(n):
            g = _grad(G, o + i, p, i, maximize, l2, wd)
            _ema_square(sq, i, g, rho, like)
            std = np.sqrt(sq[i] + e)
            delta = np.sqrt(acc[i] + e) / std * g           # delta.div_(std).mul_(grad)
            _ema_square(acc, i, delta, rho, like)
            p[i] = _fma(delta, neg_lr, p[i])                # p.add_(delta, alpha=-lr)


@njit(cache=True, error_model="numpy")
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
            g = _r(like, G[o + i])
            if maximize:
                g = -g
            prod = g * prev[i]                      # grad.mul(prev) in p's dtype: its sign
            if prod > 0:
                s = etaplus
            elif prod < 0:
                s = etaminus
            elif prod == 0:
                s = 1.0
            else:
                s = np.nan
            ss[i] = ss[i] * _r(like, s)
            if ss[i] < step_min:                   # clamp_: NaN stays
                ss[i] = step_min
            if ss[i] > step_max:
                ss[i] = step_max
            if prod < 0:
                g = _r(like, 0.0)
            # p.addcmul_(grad.sign(), step_size, value=-1)
            p[i] = _fma(-np.sign(g), ss[i], p[i])
            prev[i] = g


@njit(cache=True, error_model="numpy")
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
        # (eta and mu as the tensor ops take them: numbers, or 0-d tensors that do not
        # promote p's dtype, in p's dtype either way)
        eta_t = _r(like, eta)
        mu_r = _r(like, mu)
        shrink = _r(like, 1.0 - lambd * eta)
        neg_eta = _r(like, -eta)
        lambd_t = _r(like, lambd)
        l2, wd = weight_decay != 0, _r(like, weight_decay)
        for i in range(n):
            g = _r(like, G[o + i])
            if maximize:
                g = -g
            if foreach:
                # grad.add(p, alpha=wd).add_(p, alpha=lambd); p.addcmul_(that, eta, value=-1);
                # ax.addcmul_(p.sub(ax), mu)
                if l2:
                    g = _fma(p[i], wd, g)
                g = _fma(p[i], lambd_t, g)
                p[i] = _fma(-g, eta_t, p[i])
                ax[i] = _fma(p[i] - ax[i], mu_r, ax[i])
                continue
            if l2:
                g = _fma(p[i], wd, g)
            p[i] = p[i] * shrink                            # p.mul_(1 - lambd * eta)
            p[i] = _fma(g, neg_eta, p[i])                   # p.add_(grad, alpha=-eta)
            if mu != 1:
                ax[i] = ax[i] + (p[i] - ax[i]) * mu_r       # ax.add_(p.sub(ax).mul_(mu))
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


@njit(cache=True, error_model="numpy")
def add_flat(P, D, off, like, alpha):
    """p.add_(D[p's slice], alpha=alpha) for every parameter (LBFGS's _add_grad)."""
    a = _r(like, alpha)
    for j in range(len(P)):
        o, n = off[j], off[j + 1] - off[j]
        p = _at(P[j], n, like)
        for i in range(n):
            p[i] = _fma(_r(like, D[o + i]), a, p[i])


@njit(cache=True, error_model="numpy")
def axpy(a, x, alpha):
    """a.add_(x, alpha=alpha) of two flat arrays (LBFGS's two-loop recursion), in a's dtype."""
    al = a.dtype.type(alpha)
    for i in range(a.shape[0]):
        a[i] = _fma(a.dtype.type(x[i]), al, a[i])


@njit(cache=True, error_model="numpy")
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
