"""One LSTM layer-direction in numpy, forward and BPTT: what torch's oneDNN kernel
(`mkldnn_rnn_layer`, its node MkldnnRnnLayerBackward0) computes for a float32 nn.LSTM on CPU.
nn/_rnn.py's MkldnnRnnLayer wraps these as that one node; a step costs a few numpy calls
instead of the ~12 tape entries of the composite step.

Arrays: x (T, B, I), w_ih (4H, I), w_hh (4H, H), b (4H,) or None (b_ih + b_hh, as oneDNN
adds them once), h0 and c0 (B, H); the gates in torch's order i, f, g, o."""
import numpy as np


def forward(x, w_ih, w_hh, b, h0, c0, reverse):
    """(out (T, B, H), acts (T, B, 4H): the gates after their nonlinearity, cs (T, B, H): the
    cell state after each step); step t reads step t - 1's state (t + 1's when reverse)."""
    T, B = x.shape[0], x.shape[1]
    H = w_hh.shape[1]
    dt = x.dtype
    # the input map of every step in one gemm
    acts = np.matmul(x.reshape(T * B, -1), w_ih.T).reshape(T, B, 4 * H)
    if b is not None:
        acts += b
    cs = np.empty((T, B, H), dt)
    out = np.empty((T, B, H), dt)
    whT = w_hh.T
    h, c_prev = h0, c0
    rec = np.empty((B, 4 * H), dt)
    with np.errstate(over="ignore"):   # (exp(-x) overflows to inf: sigmoid 0, as it should)
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            a = acts[t]                  # pre-activations in place -> activations
            np.matmul(h, whT, out=rec)
            a += rec
            g = a[:, 2 * H:3 * H]
            tg = np.tanh(g)
            np.negative(a, out=a)
            np.exp(a, out=a)
            a += 1
            np.reciprocal(a, out=a)
            g[...] = tg
            c = cs[t]
            np.multiply(a[:, H:2 * H], c_prev, out=c)
            c += a[:, :H] * g
            h = out[t]
            np.tanh(c, out=h)
            h *= a[:, 3 * H:]
            c_prev = c
    return out, acts, cs


def backward(x, w_ih, w_hh, h0, c0, out, acts, cs, dy, dhy, dcy, reverse, need_x):
    """BPTT through forward's layer: (dx or None, dw_ih, dw_hh, db, dh0, dc0) from the
    gradients of out (T, B, H), of the last state h and c (B, H); db is the gradient of
    each bias."""
    T, B, H4 = acts.shape
    H = H4 // 4
    dt = acts.dtype
    # the states each step read
    hp = np.empty_like(out)
    cp = np.empty_like(cs)
    if reverse:
        hp[:-1], hp[-1] = out[1:], h0
        cp[:-1], cp[-1] = cs[1:], c0
    else:
        hp[1:], hp[0] = out[:-1], h0
        cp[1:], cp[0] = cs[:-1], c0
    a4 = acts.reshape(T, B, 4, H)
    i, f, g, o = a4[:, :, 0], a4[:, :, 1], a4[:, :, 2], a4[:, :, 3]
    tc = np.tanh(cs)
    # the factors that do not depend on the recursion: d pre-activation / d c of the i, f,
    # g gates, d pre-activation / d h of the o gate, d c / d h
    K = np.empty((T, B, 3, H), dt)
    np.multiply(g * i, 1 - i, out=K[:, :, 0])
    np.multiply(cp * f, 1 - f, out=K[:, :, 1])
    np.multiply(i, 1 - g * g, out=K[:, :, 2])
    Fo = tc * o * (1 - o)
    Dc = o * (1 - tc * tc)
    D = np.empty((T, B, 4, H), dt)
    dh = np.array(dhy, dt)
    dc = np.array(dcy, dt)
    for t in (range(T) if reverse else range(T - 1, -1, -1)):
        dh += dy[t]
        dc += dh * Dc[t]
        d = D[t]
        np.multiply(K[t], dc[:, None, :], out=d[:, :3])
        np.multiply(dh, Fo[t], out=d[:, 3])
        dh = np.matmul(d.reshape(B, H4), w_hh)
        dc *= f[t]
    D2 = D.reshape(T * B, H4)
    dw_ih = np.matmul(D2.T, x.reshape(T * B, -1))
    dw_hh = np.matmul(D2.T, hp.reshape(T * B, H))
    db = D2.sum(0)
    dx = np.matmul(D2, w_ih).reshape(x.shape) if need_x else None
    return dx, dw_ih, dw_hh, db, dh, dc
