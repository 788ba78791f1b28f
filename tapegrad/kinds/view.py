"""View kinds: reshape (view, reshape, (un)squeeze, clone, dtype casts: the same elements in
the same order), strided (select, slice, transpose, permute, expand:
out[i] = a[offset + sum(idx * stride)], params [offset, strides...] on the input's row-major
buffer) and stopgrad (replay's `detach()`: identity forward, no gradient).

Kernel pieces: plain Python compiled into tapegrad/_kernels.py by codegen.
"""
from .index import strided_index

KINDS = ("reshape", "strided", "stopgrad")


def forward_reshape(e, a, b, oo, n, off, size, shp, nd, par, params, cst, vals):
    oa = off[a]
    for k in range(n):
        vals[oo + k] = vals[oa + k]


def sweep_reshape(e, a, b, oo, n, off, size, shp, nd, par, params, cst, vals, adj):
    oa = off[a]
    for k in range(n):
        adj[oa + k] += adj[oo + k]


def forward_strided(e, a, b, oo, n, off, size, shp, nd, par, params, cst, vals):
    oa = off[a]
    p = par[e]
    for k in range(n):
        vals[oo + k] = vals[oa + strided_index(k, shp[e], nd[e], params, p)]


def sweep_strided(e, a, b, oo, n, off, size, shp, nd, par, params, cst, vals, adj):
    """Scatter-add through the same offset and strides (an expand sums its copies)."""
    oa = off[a]
    p = par[e]
    for k in range(n):
        adj[oa + strided_index(k, shp[e], nd[e], params, p)] += adj[oo + k]


forward_stopgrad = forward_reshape
