"""Index kinds: gather (advanced indexing: out[i] = a[index[i]], params: the input's flat index
of each output element), and the adjoints create_graph records for the view kinds: scatter
(of strided: out = zeros(input shape); out[offset + idx . strides] += a; also cat's blocks)
and scatter_idx (of gather: out[index[i]] += a[i]).

Kernel pieces: plain Python compiled into tapegrad/_kernels.py by codegen.
"""
import math

from .index import gather_rows, scatter_rows

KINDS = ("gather", "scatter", "scatter_idx")


def forward_gather(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    p = par[e]
    for k in range(n):
        vals[out_off + k] = vals[oa + params[p + k]]


def sweep_gather(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # NOTE: repeated indices accumulate: each use of an element adds its gradient
    oa = off[a]
    p = par[e]
    for k in range(n):
        adj[oa + params[p + k]] += adj[out_off + k]


# NOTE: the scatter pieces walk a's elements by rows of its last dim (kinds.index's
# scatter_rows / gather_rows, as the strided pieces): strided_index per element divided once
# per dim (a convolution's padding, 25k elements: ~0.9 ms of its backward).  The elements go
# in the same order as one strided_index each, so overlapping windows add up in the same
# order.
def forward_scatter(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    for k in range(n):
        vals[out_off + k] = 0.0
    scatter_rows(vals, out_off, vals, oa, shp[a], nd[a], params, par[e], size[a])


def sweep_scatter(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    """Gather back through the same offset and strides (by rows, as forward_scatter)."""
    gather_rows(adj, off[a], adj, out_off, shp[a], nd[a], params, par[e], size[a], True)


def forward_scatter_idx(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    p = par[e]
    for k in range(n):
        vals[out_off + k] = 0.0
    for k in range(size[a]):
        vals[out_off + params[p + k]] += vals[oa + k]


def sweep_scatter_idx(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    oa = off[a]
    p = par[e]
    for k in range(size[a]):
        adj[oa + k] += adj[out_off + params[p + k]]


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward), as ordinary tensor ops.  `T` is `views.KIND_OPS`, `params` the entry's params
# (from its first one), shapes are tuples or None for one-element nodes (0-d to the tape).
def tensor_forward_gather(T, x, y, shape, params, imm):
    k = math.prod(shape)
    return x.reshape(-1)[[int(v) for v in params[:k]]].reshape(shape)


def tensor_vjp_gather(T, g, operand, a_shape, b_shape, params, imm):
    if a_shape is None:
        return [(0, g.sum())]
    return [(0, T.index_scatter(g, a_shape, params[:g.numel()]))]


def tensor_forward_scatter(T, x, y, shape, params, imm):
    return T.strided_scatter(x, shape, [int(v) for v in params[:1 + x.dim()]])


def tensor_vjp_scatter(T, g, operand, a_shape, b_shape, params, imm):
    flat = g.reshape(-1)
    if a_shape is None:  # a one-element input sits at its offset
        return [(0, flat[int(params[0])])]
    idx = T.strided_positions(a_shape, [int(v) for v in params[:1 + len(a_shape)]])
    return [(0, flat[idx.tolist()].reshape(a_shape))]


def tensor_forward_scatter_idx(T, x, y, shape, params, imm):
    return T.index_scatter(x, shape, params[:x.numel()])


def tensor_vjp_scatter_idx(T, g, operand, a_shape, b_shape, params, imm):
    flat = g.reshape(-1)
    if a_shape is None:
        return [(0, flat[int(params[0])])]
    return [(0, flat[[int(v) for v in params[:math.prod(a_shape)]]].reshape(a_shape))]
