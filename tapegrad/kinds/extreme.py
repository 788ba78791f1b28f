"""extreme kind: amax / amin over some dims (torch's AmaxBackward0 / AminBackward0) and max() /
min() over all elements (MaxBackward1 / MinBackward1) as one entry -- the eager case of
Tensor.amax / amin / max / min (mathops._extreme_entry: a float32 or float64 operand of two or
more elements, recording, not for replay; a traced call records the decomposition row's
primitives, decomps_math.extreme, whose values a replay recomputes).

params: the keepdim shape of the output (nd[a] entries), as reduce's, then the rule: 0 for
amax/amin, 1 for max()/min() (torch's evenly_distribute_backward; every dim reduced); imm: 1.0
for a maximum, 0.0 for a minimum.  The eager forward (at the call) is numpy's reduction, the
value of the no-grad path (nan propagates, a zero's sign as torch's); the kernel's (a re-run)
compares in float64.

VJP, amax/amin: torch's amax_backward (scale_grad_by_count): with mask = (x == result) over
each slice and count its number of hits,

    grad_x = g / count * mask

so ties split the gradient evenly, an inf or nan g gives nan off the hits (0 * inf), and a
slice whose result is nan (no hit, count 0) gets nan everywhere.  max()/min(): torch's
evenly_distribute_backward (its CPU branch), zeros with g / count written at the hits, where
a nan result's hits are the nan elements:

    grad_x = zeros.masked_fill(mask, g / count)

so an inf or nan g stays off the other elements (exact +0.0 there).  Both read x and the
result, which the rows save as torch's nodes save self and result.  create_graph records the
same formulas as tensor ops (the quotient by a constant count, then the product by a constant
mask or the masked_fill of constant zeros): a gradient that does not read x, as torch's.
"""
import numpy as np

from ..dtypes import bool_
from .index import bcast_index, is_suffix, kept_leading, middle_inner

KINDS = ("extreme",)


def slot(k, n, mode, inner):
    """The output element (the slice) of operand element k by the layout `mode` the pieces
    find once per entry (reduce's cases: 0 all dims reduced, 1 leading dims only, 2 trailing
    dims only, runs of `inner`, 3 a block of middle dims; 4, any set, is bcast_index's)."""
    # NOTE: integers only: an array argument (shp[a], keep) costs a reference count in and
    # out per element, inlined or not: 65,536 elements took 1.7 ms, not 0.12, forward
    if mode == 0:
        return 0
    if mode == 1:
        return k % n
    if mode == 2:
        return k // inner
    return (k // inner) % n


def layout(n, size_a, shp_a, nd_a, keep):
    """(mode, inner) of slot for a reduction of size_a elements to n."""
    if n == 1:
        return 0, 0
    if is_suffix(shp_a, nd_a, keep, nd_a):
        return 1, 0
    if kept_leading(shp_a, nd_a, keep):
        return 2, size_a // n
    inner = middle_inner(shp_a, nd_a, keep, nd_a)
    if inner > 0:
        return 3, inner
    return 4, 0


def is_hit(v, r, even):
    """Whether operand element v gets a share of its slice's gradient (result r): it equals
    r, or (`even`: max()/min()'s rule) both are nan."""
    return v == r or (even and r != r and v != v)


# ---- kernel pieces (plain Python that codegen compiles into tapegrad/_kernels.py) ----------
def forward_extreme(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    is_max = imm[e] != 0.0
    keep = params[par[e]:par[e] + nd[a]]
    mode, inner = layout(n, size[a], shp[a], nd[a], keep)
    for k in range(n):
        vals[out_off + k] = -np.inf if is_max else np.inf
    for k in range(size[a]):
        j = out_off + (slot(k, n, mode, inner) if mode < 4 else
                       bcast_index(k, shp[a], nd[a], keep, nd[a]))
        v = vals[oa + k]
        m = vals[j]
        if m == m and (v != v or (v > m if is_max else v < m)):
            vals[j] = v


def sweep_extreme(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # NOTE: amax/amin: torch's grad / count * mask, the quotient first, then the product by
    # 1.0 or 0.0 (so an inf or nan g is nan off the hits, and a slice without a hit, a nan
    # result, nan).  max()/min() (even): torch's masked_fill of zeros, g / count at the hits
    # (a nan result's: its nan elements) and +0.0 elsewhere, whatever g is
    oa = off[a]
    keep = params[par[e]:par[e] + nd[a]]
    even = params[par[e] + nd[a]] != 0
    if n == 1:   # every dim reduced (max(), amax()): the count and share in locals, 10x faster
        xs = vals[oa:oa + size[a]]
        ga = adj[oa:oa + size[a]]
        r = vals[out_off]
        hits = 0.0
        for k in range(size[a]):
            if is_hit(xs[k], r, even):
                hits += 1.0
        share = adj[out_off] / hits
        for k in range(size[a]):
            if even:
                ga[k] += share if is_hit(xs[k], r, even) else 0.0
            else:
                ga[k] += share * (1.0 if is_hit(xs[k], r, even) else 0.0)
        return
    mode, inner = layout(n, size[a], shp[a], nd[a], keep)
    count = np.zeros(n)
    for k in range(size[a]):
        j = slot(k, n, mode, inner) if mode < 4 else bcast_index(k, shp[a], nd[a], keep, nd[a])
        if is_hit(vals[oa + k], vals[out_off + j], even):
            count[j] += 1.0
    for j in range(n):
        count[j] = adj[out_off + j] / count[j]
    for k in range(size[a]):
        j = slot(k, n, mode, inner) if mode < 4 else bcast_index(k, shp[a], nd[a], keep, nd[a])
        hit = is_hit(vals[oa + k], vals[out_off + j], even)
        if even:
            adj[oa + k] += count[j] if hit else 0.0
        else:
            adj[oa + k] += count[j] * (1.0 if hit else 0.0)


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `views.KIND_OPS`, `params` the entry's params.
def tensor_forward_extreme(T, x, y, shape, params, imm):
    keep = [int(v) for v in params[:len(x.shape)]]
    # (a reduced dim and a kept one of size 1 are alike: reducing it changes nothing)
    return T.extreme(x, tuple(d for d, k in enumerate(keep) if k == 1), imm != 0.0).reshape(shape)


def tensor_vjp_extreme(T, g, operand, a_shape, b_shape, params, imm):
    nd = len(a_shape)
    keep = tuple(int(v) for v in params[:nd])
    even = params[nd] != 0
    x, out = operand(0), operand(2)
    xa, ra = x._array(), out._array().reshape(keep)
    hits = xa == ra
    if even:
        hits |= (xa != xa) & (ra != ra)
    count = hits.sum(tuple(d for d, k in enumerate(keep) if k == 1), keepdims=True)
    dt = g._dtype
    if even:   # (every dim reduced: g and count are one value each, torch's 0-d fill value)
        share = g.reshape(()) / T.wrap(count.reshape(()).astype(dt.np), dt)
        return [(0, T.wrap(np.zeros(a_shape, dt.np), dt).masked_fill(T.wrap(hits, bool_),
                                                                     share))]
    return [(0, g.reshape(keep) / T.wrap(count.astype(dt.np), dt) * T.wrap(hits.astype(dt.np), dt))]
