"""Index kinds: gather (advanced indexing: out[i] = a[index[i]], params: the input's flat index
of each output element), and the adjoints create_graph records for the view kinds: scatter
(of strided: out = zeros(input shape); out[offset + idx . strides] += a; also cat's blocks)
and scatter_idx (of gather: out[index[i]] += a[i]).

Kernel pieces: plain Python compiled into tapegrad/_kernels.py by codegen.
"""
from .index import strided_index

KINDS = ("gather", "scatter", "scatter_idx")


def forward_gather(e, a, b, oo, n, off, size, shp, nd, par, params, cst, vals):
    oa = off[a]
    p = par[e]
    for k in range(n):
        vals[oo + k] = vals[oa + params[p + k]]


def sweep_gather(e, a, b, oo, n, off, size, shp, nd, par, params, cst, vals, adj):
    # NOTE: repeated indices accumulate: each use of an element adds its gradient
    oa = off[a]
    p = par[e]
    for k in range(n):
        adj[oa + params[p + k]] += adj[oo + k]


def forward_scatter(e, a, b, oo, n, off, size, shp, nd, par, params, cst, vals):
    oa = off[a]
    p = par[e]
    for k in range(n):
        vals[oo + k] = 0.0
    for k in range(size[a]):
        vals[oo + strided_index(k, shp[a], nd[a], params, p)] += vals[oa + k]


def sweep_scatter(e, a, b, oo, n, off, size, shp, nd, par, params, cst, vals, adj):
    """Gather back through the same offset and strides."""
    oa = off[a]
    p = par[e]
    for k in range(size[a]):
        adj[oa + k] += adj[oo + strided_index(k, shp[a], nd[a], params, p)]


def forward_scatter_idx(e, a, b, oo, n, off, size, shp, nd, par, params, cst, vals):
    oa = off[a]
    p = par[e]
    for k in range(n):
        vals[oo + k] = 0.0
    for k in range(size[a]):
        vals[oo + params[p + k]] += vals[oa + k]


def sweep_scatter_idx(e, a, b, oo, n, off, size, shp, nd, par, params, cst, vals, adj):
    oa = off[a]
    p = par[e]
    for k in range(size[a]):
        adj[oa + k] += adj[oo + params[p + k]]
