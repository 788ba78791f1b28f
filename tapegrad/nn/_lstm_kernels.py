"""One LSTM layer-direction in numpy, forward and BPTT: what torch's oneDNN kernel
(`mkldnn_rnn_layer`, its node MkldnnRnnLayerBackward0) computes for a float32 nn.LSTM on CPU.
nn/_rnn.py's MkldnnRnnLayer wraps these as that one node; a step costs a few numpy calls
instead of the ~12 tape entries of the composite step.

Arrays: x (T, B, I), w_ih (4H, I), w_hh (4H, H), b (4H,) or None (b_ih + b_hh, as oneDNN
adds them once), h0 and c0 (B, H); the gates in torch's order i, f, g, o.  Inside, a step's
quantities are transposed, the batch last ((4H, B) gates, (H, B) states: w_hh @ h.T), so that
each gate is a contiguous block: numpy's ufuncs on a strided slice cost about twice as much."""
import numpy as np


def _reordered(w, H):
    """w's rows (the gates i, f, g, o) as i, f, o, g with the sigmoid gates' rows negated:
    the three sigmoids 1 / (1 + exp(-x)) are then one exp, add and reciprocal over one block
    (negating is exact: the pre-activations are -x bit for bit)."""
    r = np.empty_like(w)
    np.negative(w[:2 * H], out=r[:2 * H])
    np.negative(w[3 * H:], out=r[2 * H:3 * H])
    r[3 * H:] = w[2 * H:3 * H]
    return r


def forward(x, w_ih, w_hh, b, h0, c0, reverse):
    """(out (T, B, H), and for backward: acts (T, 4H, B), the gates after their
    nonlinearity in the order i, f, o, g; cs (T, H, B), the cell state after each step; outT
    (T, H, B), out transposed); step t reads step t - 1's state (t + 1's when reverse)."""
    T, B = x.shape[0], x.shape[1]
    H = w_hh.shape[1]
    H2, H3 = 2 * H, 3 * H
    dt = x.dtype
    # the input map of every step in one gemm, then each step's (4H, B) block made contiguous
    xw = np.matmul(_reordered(w_ih, H), x.reshape(T * B, -1).T)
    acts = np.ascontiguousarray(xw.reshape(4 * H, T, B).transpose(1, 0, 2))
    if b is not None:
        acts += _reordered(b, H)[:, None]
    cs = np.empty((T, H, B), dt)
    outT = np.empty((T, H, B), dt)
    wh = _reordered(w_hh, H)
    h, c_prev = np.ascontiguousarray(h0.T), np.ascontiguousarray(c0.T)
    rec = np.empty((4 * H, B), dt)
    with np.errstate(over="ignore"):   # (exp(-x) overflows to inf: sigmoid 0, as it should)
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            a = acts[t]                  # pre-activations in place -> activations
            np.matmul(wh, h, out=rec)
            a += rec
            s = a[:H3]
            np.exp(s, out=s)
            s += 1
            np.reciprocal(s, out=s)
            g = a[H3:]
            np.tanh(g, out=g)
            c = cs[t]
            np.multiply(a[H:H2], c_prev, out=c)
            c += a[:H] * g
            h = outT[t]
            np.tanh(c, out=h)
            h *= a[H2:H3]
            c_prev = c
    return np.ascontiguousarray(outT.transpose(0, 2, 1)), acts, cs, outT


def backward(x, w_ih, w_hh, h0, c0, acts, cs, outT, dy, dhy, dcy, reverse, need_x):
    """BPTT through forward's layer: (dx or None, dw_ih, dw_hh, db, dh0, dc0) from the
    gradients of out (T, B, H), of the last state h and c (B, H); db is the gradient of
    each bias."""
    T, H4, B = acts.shape
    H = H4 // 4
    dt = acts.dtype
    # the states each step read
    hp = np.empty_like(outT)
    cp = np.empty_like(cs)
    if reverse:
        hp[:-1], hp[-1] = outT[1:], h0.T
        cp[:-1], cp[-1] = cs[1:], c0.T
    else:
        hp[1:], hp[0] = outT[:-1], h0.T
        cp[1:], cp[0] = cs[:-1], c0.T
    a4 = acts.reshape(T, 4, H, B)
    i, f, o, g = a4[:, 0], a4[:, 1], a4[:, 2], a4[:, 3]
    tc = np.tanh(cs)
    # the factors that do not depend on the recursion: d pre-activation / d c of the i, f,
    # g gates, d pre-activation / d h of the o gate, d c / d h
    K = np.empty((T, 3, H, B), dt)
    np.multiply(g * i, 1 - i, out=K[:, 0])
    np.multiply(cp * f, 1 - f, out=K[:, 1])
    np.multiply(i, 1 - g * g, out=K[:, 2])
    Fo = tc * o * (1 - o)
    Dc = o * (1 - tc * tc)
    dyT = np.ascontiguousarray(np.asarray(dy, dt).transpose(0, 2, 1))
    D = np.empty((T, 4, H, B), dt)     # d pre-activations, torch's gate order i, f, g, o
    dh = np.array(np.asarray(dhy, dt).T, order="C")   # (C order: ufuncs mixing orders are slow)
    dc = np.array(np.asarray(dcy, dt).T, order="C")
    whT = w_hh.T
    for t in (range(T) if reverse else range(T - 1, -1, -1)):
        dh += dyT[t]
        dc += dh * Dc[t]
        d = D[t]
        np.multiply(K[t], dc, out=d[:3])
        np.multiply(dh, Fo[t], out=d[3])
        np.matmul(whT, d.reshape(H4, B), out=dh)
        dc *= f[t]
    D2 = D.transpose(1, 2, 0, 3).reshape(H4, T * B)     # (4H, T*B), steps in x's order
    dw_ih = np.matmul(D2, x.reshape(T * B, -1))
    dw_hh = np.matmul(D2, hp.transpose(0, 2, 1).reshape(T * B, H))
    db = D2.sum(1)
    dx = np.matmul(D2.T, w_ih).reshape(x.shape) if need_x else None
    return dx, dw_ih, dw_hh, db, dh.T.copy(), dc.T.copy()
