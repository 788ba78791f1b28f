"""avg_pool kind: a 2-d average pooling without padding as one entry (torch's
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
"""
KINDS = ("avg_pool",)
NPARAMS = 4


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
