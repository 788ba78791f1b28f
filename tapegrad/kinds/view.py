"""View kinds: reshape (view, reshape, (un)squeeze, clone, dtype casts: the same elements in
the same order), strided (select, slice, transpose, permute, expand:
out[i] = a[offset + sum(idx * stride)], params [offset, strides...] on the input's row-major
buffer) and stopgrad (replay's `detach()`: identity forward, no gradient).

Kernel pieces: plain Python compiled into tapegrad/_kernels.py by codegen.
"""
from .index import strided_index

KINDS = ("reshape", "strided", "stopgrad")


def forward_reshape(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    for k in range(n):
        vals[out_off + k] = vals[oa + k]


def sweep_reshape(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    oa = off[a]
    for k in range(n):
        adj[oa + k] += adj[out_off + k]


def forward_strided(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    p = par[e]
    if nd[e] == 2:   # (a transpose or slice of a matrix: two loops, no division per element)
        c = shp[e][1]
        s0 = params[p + 1]
        s1 = params[p + 2]
        for i in range(shp[e][0]):
            src = oa + params[p] + i * s0
            dst = out_off + i * c
            for j in range(c):
                vals[dst + j] = vals[src + j * s1]
        return
    # (other ranks: one source index per row of the last dim, then a strided inner loop, so
    # a sliding-window view (unfold, a convolution's windows) costs no division per element)
    ndim = nd[e]
    last = shp[e][ndim - 1] if ndim else 1
    if last == 0:
        return
    step = params[p + ndim] if ndim else 0
    for r in range(n // last):
        src = oa + strided_index(r * last, shp[e], ndim, params, p)
        dst = out_off + r * last
        for j in range(last):
            vals[dst + j] = vals[src + j * step]


def sweep_strided(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    """Scatter-add through the same offset and strides (an expand sums its copies)."""
    oa = off[a]
    p = par[e]
    if nd[e] == 2:   # (as forward_strided; the same order of additions as the loop below)
        c = shp[e][1]
        s0 = params[p + 1]
        s1 = params[p + 2]
        for i in range(shp[e][0]):
            src = oa + params[p] + i * s0
            dst = out_off + i * c
            for j in range(c):
                adj[src + j * s1] += adj[dst + j]
        return
    # (other ranks: by rows of the last dim, as forward_strided; the elements in the same
    # order as one strided_index each)
    ndim = nd[e]
    last = shp[e][ndim - 1] if ndim else 1
    if last == 0:
        return
    step = params[p + ndim] if ndim else 0
    for r in range(n // last):
        src = oa + strided_index(r * last, shp[e], ndim, params, p)
        dst = out_off + r * last
        for j in range(last):
            adj[src + j * step] += adj[dst + j]


forward_stopgrad = forward_reshape


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward), as ordinary tensor ops.  `T` is `tensor.KIND_OPS`, `params` the entry's params
# (from its first one), shapes are tuples or None for one-element nodes (0-d to the tape).
def tensor_forward_reshape(T, x, y, shape, params, imm):
    return x.reshape(shape)


def tensor_vjp_reshape(T, g, operand, a_shape, b_shape, params, imm):
    return [(0, g.reshape(a_shape) if a_shape is not None else g)]


def tensor_forward_strided(T, x, y, shape, params, imm):
    pos = T.strided_positions(shape, [int(v) for v in params[:1 + len(shape)]])
    return x.reshape(-1)[pos.tolist()].reshape(shape)


def tensor_vjp_strided(T, g, operand, a_shape, b_shape, params, imm):
    if a_shape is None:  # a one-element input: every element of g came from it (expand)
        return [(0, g if g.numel() == 1 else g.sum())]
    return [(0, T.strided_scatter(g, a_shape, [int(v) for v in params[:1 + g.dim()]]))]


def tensor_forward_stopgrad(T, x, y, shape, params, imm):
    return x.detach()
