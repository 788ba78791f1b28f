"""norm kind: the normalization (x - mean) / sqrt(var + eps) of layer_norm and of batch_norm in
training (biased variance) as one entry -- the one-pass cases of F.layer_norm and
F.batch_norm (nn/_onepass._norm_pass: float32/float64, two or more groups of two or more
elements, not recording for replay), the first member of the row's group (then `* weight`,
`+ bias`: mul and add entries); every other case is the row's body (mean_dim, sub, mul,
mean_dim, add, sqrt, div).

params [a, c, b]: the operand as a row-major (a, c, b) block, normalized over a and b for each
c (layer_norm over its trailing dims: [1, rows, m]; batch_norm of (N, C, *): [N, C, the
positions]); imm: eps.

The eager forward (at the call) is the body's numpy calls, so its values; the kernel's (a
replay's re-run) computes in float64.

VJP, torch's backward of the normalization (layer_norm's, and batch_norm's in training, without
the affine part): with y the normalized value and r = 1 / sqrt(var + eps), both from x in
float64 (the sums in float64), over each group of n = a * b elements

    gx = r * (g - mean(g) - y * mean(g * y))

It reads x (saved, as torch's nodes save `input`) and no output.  create_graph records the
same formula as tensor ops on x and g (y and r recomputed from x), so it differentiates
again in both; the tensor forward (a replay's re-run) records the body's normalization.
"""
import math

KINDS = ("norm",)
NPARAMS = 3


# ---- kernel pieces (plain Python that codegen compiles into tapegrad/_kernels.py) ----------
def channel_moments(vals, oa, na, nc, nb, c):
    """(mean, mean squared deviation) of channel c of the (na, nc, nb) block at vals[oa:],
    two passes with float64 sums: the statistics both pieces below normalize by."""
    cnt = na * nb
    s = 0.0
    for i in range(na):
        xs = vals[oa + (i * nc + c) * nb:oa + (i * nc + c + 1) * nb]
        for k in range(nb):
            s += xs[k]
    mu = s / cnt
    v = 0.0
    for i in range(na):
        xs = vals[oa + (i * nc + c) * nb:oa + (i * nc + c + 1) * nb]
        for k in range(nb):
            d = xs[k] - mu
            v += d * d
    return mu, v / cnt


def forward_norm(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    p = par[e]
    na, nc, nb = params[p], params[p + 1], params[p + 2]
    eps = imm[e]
    for c in range(nc):
        mu, var = channel_moments(vals, oa, na, nc, nb, c)
        sd = math.sqrt(var + eps)
        for i in range(na):
            xs = vals[oa + (i * nc + c) * nb:oa + (i * nc + c + 1) * nb]
            out = vals[out_off + (i * nc + c) * nb:out_off + (i * nc + c + 1) * nb]
            for k in range(nb):
                out[k] = (xs[k] - mu) / sd


def sweep_norm(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # NOTE: torch's layer_norm / batch_norm (training) backward, the input's part, its
    # statistics from the saved input and the sums in float64
    oa = off[a]
    p = par[e]
    na, nc, nb = params[p], params[p + 1], params[p + 2]
    eps = imm[e]
    cnt = na * nb
    for c in range(nc):
        mu, var = channel_moments(vals, oa, na, nc, nb, c)
        r = 1.0 / math.sqrt(var + eps)
        sg = 0.0
        sgy = 0.0
        for i in range(na):
            j = (i * nc + c) * nb
            xs = vals[oa + j:oa + j + nb]
            gs = adj[out_off + j:out_off + j + nb]
            for k in range(nb):
                sg += gs[k]
                sgy += gs[k] * ((xs[k] - mu) * r)
        sg /= cnt
        sgy /= cnt
        for i in range(na):
            j = (i * nc + c) * nb
            xs = vals[oa + j:oa + j + nb]
            gs = adj[out_off + j:out_off + j + nb]
            ga = adj[oa + j:oa + j + nb]
            for k in range(nb):
                ga[k] += r * (gs[k] - sg - ((xs[k] - mu) * r) * sgy)


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `views.KIND_OPS`, `params` the entry's params.
def _blocks(x, params):
    return x.reshape(int(params[0]), int(params[1]), int(params[2]))


def tensor_forward_norm(T, x, y, shape, params, imm):
    x3 = _blocks(x, params)
    xc = x3 - x3.mean((0, 2), keepdim=True)
    return (xc / ((xc * xc).mean((0, 2), keepdim=True) + imm).sqrt()).reshape(shape)


def tensor_vjp_norm(T, g, operand, a_shape, b_shape, params, imm):
    x3 = _blocks(operand(0), params)
    g3 = _blocks(g, params)
    xc = x3 - x3.mean((0, 2), keepdim=True)
    r = 1.0 / ((xc * xc).mean((0, 2), keepdim=True) + imm).sqrt()
    y = xc * r
    gx = r * (g3 - g3.mean((0, 2), keepdim=True) - y * (g3 * y).mean((0, 2), keepdim=True))
    return [(0, gx.reshape(a_shape))]
