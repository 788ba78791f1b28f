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
            g = np.float64(G[o + i])
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g + weight_decay * np.float64(p[i])
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
            g = np.float64(G[o + i])
            if maximize:
                g = -g
            if weight_decay != 0:
                if decoupled:
                    p[i] = np.float64(p[i]) * (1.0 - lr * weight_decay)
                else:
                    g = g + weight_decay * np.float64(p[i])
            # lerp(m, g, 1 - beta1), torch's formula for weights below 0.5
            w = 1.0 - beta1
            mi = np.float64(m[i])
            if abs(w) < 0.5:
                m[i] = mi + w * (g - mi)
            else:
                m[i] = g - (g - mi) * (1.0 - w)
            v[i] = np.float64(v[i]) * beta2
            v[i] = np.float64(v[i]) + (1.0 - beta2) * g * g
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
            g = np.float64(G[o + i])
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g + weight_decay * np.float64(p[i])
            sq[i] = np.float64(sq[i]) * alpha
            sq[i] = np.float64(sq[i]) + (1.0 - alpha) * g * g
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
            g = np.float64(G[o + i])
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g + weight_decay * np.float64(p[i])
            s[i] = np.float64(s[i]) + 1.0 * g * g
            std = np.sqrt(np.float64(s[i])) + eps
            p[i] = np.float64(p[i]) + (-clr) * (g / std)


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
