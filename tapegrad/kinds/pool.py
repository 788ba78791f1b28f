"""avg_pool and adaptive_avg_pool kinds.

avg_pool: a 2-d average pooling without padding as one entry (torch's
AvgPool2DBackward0) -- the one-pass case of F.avg_pool2d (nn/_decomps_pool.avg_pool_pass: a
C-contiguous float32/float64 (N, C, H, W) input, no padding nor ceil_mode's extra padding, a
number divisor, two or more output elements, not recording for replay; every other case is
the decomposition row avg_pool2d: an `unfold` view, `sum_dim`, `div`).

params [kh, kw, sh, sw]: the window and its stride; the operand's (N, C, H, W) and the
output's (N, C, OH, OW) shapes give the rest.  imm: the divisor.

    out[p, i, j] = sum(x[p, i * sh + u, j * sw + v] for u < kh, v < kw) / divisor

The eager forward (at the call) is nn/_pool_loops.avg_sums, torch's kernel's additions in
the input's dtype, then the quotient by numpy; the kernel's (a replay's re-run) sums in
float64.

VJP: g / divisor added to each element of the window, windows in output order and each in
row-major order: the decomposition's div, sum_dim and unfold scatter in one loop, the same
additions in the same order, so the same bits.  It reads no value; the row saves x as
torch's node saves `self` (its in-place check and `_saved_self`).  create_graph records the
decomposition's VJPs as tensor ops (the quotient, an expand over the window dims, a strided
scatter of the windows) handed on through input_edge, as the row's `backward_reads_input`:
the gradient requires grad and differentiates to zeros in x, as torch's
AvgPool2DBackwardBackward0.  T.avg_pool(x, params, divisor) records one entry
(nn/_decomps_pool.py hands it in through views.KIND_OPS).

adaptive_avg_pool: an adaptive average pooling as one entry (torch's AdaptiveAvgPool2DBackward0
or AdaptiveAvgPool3DBackward0) -- the eager case of F.adaptive_avg_pool1d/2d/3d
(nn/_decomps_pool.adaptive_avg_pool_pass: a C-contiguous float32/float64 input, two or more
output elements, not recording for replay; every other case, a traced one too, is the
decomposition row adaptive_avg_pool2d / 3d: a sum over a windows view, or a gather of uneven
windows).

params [k, D, H, W, OD, OH, OW]: k the pooled dims (2 or 3; a 2-d pooling has D = OD = 1),
the operand's last k dims (D, H, W) and the output's (OD, OH, OW); the leading dims are the
planes (the output's size over OD * OH * OW).  imm: 1.0 for a float32 operand.  torch's
windows, per dim, from the sizes alone (no position array):

    start(i) = floor(i * S / O),  end(i) = ceil((i + 1) * S / O)
    out[p, t, i, j] = sum(x[p, z, u, v] over the window) / kd / kh / kw

The eager forward (at the call) is nn/_pool_loops.adaptive_avg_sums, torch's kernel's
additions in the input's dtype and its quotients, so its bits; the kernel piece (a replay's
re-run) sums in float64.

VJP, torch's backward loop: per output in row-major order g / kd / kh / kw added to each
element of its window, so an inf or nan gradient stays in its window (a product with 0/1
window matrices spread it as 0 * nan).  For a float32 operand (imm 1.0) each step is rounded
to float32 as torch's float32 kernel rounds it (the arena holds doubles): the gradient of an
input the pooling alone reads is torch's bit for bit.  It reads no value; the row saves x as
torch's node saves `self`.  create_graph records the VJP as tensor ops (the quotients by constant
count tensors, an expand over each window's slots, a scatter-add at the windows' flat
positions, the slots past a shorter window's end sent to a dropped extra element) handed on
through input_edge; T.adaptive_avg_pool(x, params) records one entry
(nn/_decomps_pool.py hands it in through views.KIND_OPS).
"""
import math

import numpy as np

KINDS = ("avg_pool", "adaptive_avg_pool")
NPARAMS = 4
NPARAMS_ADAPTIVE = 7
# kinds.SKIPS: sweep_adaptive_avg_pool reads no operand value (its operand's copy into the
# arena: ~30 us of a (8, 64, 14, 14) pooling's backward, CPU time, best of 4 alternations)
ADAPTIVE_VJP_READS = (0, 0, 0, 0)


# ---- kernel pieces (plain Python that codegen compiles into tapegrad/_kernels.py) ----------
def forward_avg_pool(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    p = par[e]
    kh, kw, sh, sw = params[p], params[p + 1], params[p + 2], params[p + 3]
    h, w = shp[a, 2], shp[a, 3]
    oh, ow = shp[e, 2], shp[e, 3]
    d = imm[e]
    k = out_off
    for q in range(shp[a, 0] * shp[a, 1]):
        base = oa + q * h * w
        for i in range(oh):
            for j in range(ow):
                r = base + i * sh * w + j * sw
                s = 0.0
                for u in range(kh):
                    for v in range(kw):
                        s += vals[r + u * w + v]
                vals[k] = s / d
                k += 1


def sweep_avg_pool(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # NOTE: the decomposition's order (div's g / divisor, then the unfold view's scatter-add
    # over (N, C, OH, OW, kh, kw) row-major), so its bits
    oa = off[a]
    p = par[e]
    kh, kw, sh, sw = params[p], params[p + 1], params[p + 2], params[p + 3]
    h, w = shp[a, 2], shp[a, 3]
    oh, ow = shp[e, 2], shp[e, 3]
    d = imm[e]
    k = out_off
    for q in range(shp[a, 0] * shp[a, 1]):
        base = oa + q * h * w
        for i in range(oh):
            for j in range(ow):
                gd = adj[k] / d
                k += 1
                r = base + i * sh * w + j * sw
                for u in range(kh):
                    for v in range(kw):
                        adj[r + u * w + v] += gd


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `views.KIND_OPS`, `params` the entry's params.
def tensor_forward_avg_pool(T, x, y, shape, params, imm):
    return T.avg_pool(x, [int(v) for v in params[:NPARAMS]], imm)


def window_strides(a_shape, params):
    """[offset, strides...] in elements of the windows view (N, C, OH, OW, kh, kw) of a
    row-major (N, C, H, W) operand (the decomposition's `unfold` entry's params)."""
    _, c, h, w = (int(v) for v in a_shape)
    sh, sw = int(params[2]), int(params[3])
    return [0, c * h * w, h * w, sh * w, sw, w, 1]


def tensor_vjp_avg_pool(T, g, operand, a_shape, b_shape, params, imm):
    kh, kw = int(params[0]), int(params[1])
    n, c, oh, ow = g.shape
    spread = (g / imm).reshape(n, c, oh, ow, 1, 1).expand(n, c, oh, ow, kh, kw)
    gx = T.strided_scatter(spread, a_shape, window_strides(a_shape, params))
    return [(0, T.input_edge(gx, operand(0)))]


# ---- adaptive_avg_pool ---------------------------------------------------------------------
def forward_adaptive_avg_pool(e, a, b, out_off, n, off, size, shp, nd, par, params, imm,
                              vals):
    oa = off[a]
    p = par[e]
    d, h, w = params[p + 1], params[p + 2], params[p + 3]
    od, oh, ow = params[p + 4], params[p + 5], params[p + 6]
    k = out_off
    for q in range(size[e] // (od * oh * ow)):
        base = oa + q * d * h * w
        for t in range(od):
            z0, z1 = (t * d) // od, ((t + 1) * d + od - 1) // od
            for i in range(oh):
                h0, h1 = (i * h) // oh, ((i + 1) * h + oh - 1) // oh
                for j in range(ow):
                    w0, w1 = (j * w) // ow, ((j + 1) * w + ow - 1) // ow
                    s = 0.0
                    for z in range(z0, z1):
                        for u in range(h0, h1):
                            r = base + (z * h + u) * w
                            for v in range(w0, w1):
                                s += vals[r + v]
                    vals[k] = s / (z1 - z0) / (h1 - h0) / (w1 - w0)
                    k += 1


def sweep_adaptive_avg_pool(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals,
                            adj):
    if a < 0:       # (an operand that wants no gradient: kinds.SKIPS)
        return
    oa = off[a]
    p = par[e]
    d, h, w = params[p + 1], params[p + 2], params[p + 3]
    od, oh, ow = params[p + 4], params[p + 5], params[p + 6]
    f32 = imm[e] == 1.0
    n_out = od * oh * ow
    planes = size[e] // n_out
    plane = d * h * w
    g = np.empty(planes)
    # (the planes innermost: each element's additions stay in output order, and the planes'
    # independent ones vectorize)
    for t in range(od):
        z0, z1 = (t * d) // od, ((t + 1) * d + od - 1) // od
        for i in range(oh):
            h0, h1 = (i * h) // oh, ((i + 1) * h + oh - 1) // oh
            for j in range(ow):
                w0, w1 = (j * w) // ow, ((j + 1) * w + ow - 1) // ow
                k = out_off + (t * oh + i) * ow + j
                if f32:
                    # NOTE: torch's float32 kernel: g, each quotient of g / kd / kh / kw and
                    # each addition into the input's gradient rounded to float32 (a double
                    # quotient or sum of two floats rounded once is the float one); in
                    # doubles an element in three or more windows, or a quotient by kh then
                    # kw, could differ in its last bit
                    for q in range(planes):
                        v = np.float64(np.float32(adj[k + q * n_out]))
                        v = np.float64(np.float32(v / (z1 - z0)))
                        v = np.float64(np.float32(v / (h1 - h0)))
                        g[q] = np.float32(v / (w1 - w0))
                    for z in range(z0, z1):
                        for u in range(h0, h1):
                            r = oa + (z * h + u) * w
                            for v in range(w0, w1):
                                for q in range(planes):
                                    at = r + v + q * plane
                                    adj[at] = np.float32(adj[at] + g[q])
                else:
                    for q in range(planes):
                        g[q] = adj[k + q * n_out] / (z1 - z0) / (h1 - h0) / (w1 - w0)
                    for z in range(z0, z1):
                        for u in range(h0, h1):
                            r = oa + (z * h + u) * w
                            for v in range(w0, w1):
                                for q in range(planes):
                                    adj[r + v + q * plane] += g[q]


def adaptive_windows(sizes, out):
    """torch's adaptive windows over spatial sizes `sizes` for output `out`: per output
    position, the plane indices of its window's elements (padded with the window's first
    element) and which are real, shapes (*out, K)."""
    k = len(out)
    starts = [np.arange(o) * s // o for o, s in zip(out, sizes)]
    ends = [-((-(np.arange(o) + 1) * s) // o) for o, s in zip(out, sizes)]
    kmax = [int((e - b).max()) if o else 1 for b, e, o in zip(starts, ends, out)]
    index = np.zeros(tuple(out) + tuple(kmax), np.int64)
    valid = np.ones(tuple(out) + tuple(kmax), bool)
    for i in range(k):
        j = np.arange(kmax[i])
        c = starts[i][:, None] + j                    # (out_i, kmax_i)
        ok = c < ends[i][:, None]
        shape = [1] * (2 * k)
        shape[i], shape[k + i] = out[i], kmax[i]
        index = index * sizes[i] + np.where(ok, c, starts[i][:, None]).reshape(shape)
        valid &= ok.reshape(shape)
    K = math.prod(kmax)
    return index.reshape(tuple(out) + (K,)), valid.reshape(tuple(out) + (K,))


def window_counts(sizes, out):
    """Per pooled dim, the window sizes along it (end - start), int64 (O,)."""
    return [-((-(np.arange(o) + 1) * s) // o) - np.arange(o) * s // o if o else
            np.zeros(0, np.int64) for o, s in zip(out, sizes)]


def tensor_forward_adaptive_avg_pool(T, x, y, shape, params, imm):
    return T.adaptive_avg_pool(x, [int(v) for v in params[:NPARAMS_ADAPTIVE]])


def tensor_vjp_adaptive_avg_pool(T, g, operand, a_shape, b_shape, params, imm):
    k = int(params[0])
    sizes = tuple(int(v) for v in params[4 - k:4])
    out = tuple(int(v) for v in params[7 - k:7])
    dt = g.dtype
    for i, c in enumerate(window_counts(sizes, out)):     # torch's g / kd / kh / kw
        g = g / T.wrap(c.astype(dt.np).reshape((-1,) + (1,) * (k - 1 - i)), dt)
    cand, valid = adaptive_windows(sizes, out)
    lead = tuple(int(v) for v in a_shape[:len(a_shape) - k])
    planes = math.prod(lead)
    n = planes * math.prod(sizes)
    pos = np.arange(0, n, math.prod(sizes), dtype=np.int64).reshape(
        (-1,) + (1,) * (k + 1)) + cand
    pos = np.where(valid, pos, n)   # (a shorter window's extra slots: the dropped element n)
    slots = cand.shape[-1]
    spread = g.reshape(tuple(g.shape) + (1,)).expand(tuple(g.shape) + (slots,))
    gx = T.index_scatter(spread, (n + 1,), pos.reshape(-1))[:n].reshape(tuple(a_shape))
    return [(0, T.input_edge(gx, operand(0)))]
