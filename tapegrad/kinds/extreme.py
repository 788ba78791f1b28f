"""extreme kind: amax / amin over some dims as one entry (torch's AmaxBackward0 /
AminBackward0) -- the eager case of Tensor.amax / amin (mathops._extreme_entry: a float32 or
float64 operand of two or more elements, recording, not for replay; a traced call records the
decomposition row's primitives, decomps_math.extreme, whose values a replay recomputes).

params: the keepdim shape of the output (nd[a] entries), as reduce's; imm: 1.0 for amax, 0.0
for amin.  The eager forward (at the call) is numpy's reduction, the value of the no-grad
path (nan propagates, a zero's sign as torch's); the kernel's (a re-run) compares in float64.

VJP, torch's amax_backward (scale_grad_by_count): with mask = (x == result) over each slice
and count its number of hits,

    grad_x = g / count * mask

so ties split the gradient evenly, an inf or nan g gives nan off the hits (0 * inf), and a
slice whose result is nan (no hit, count 0) gets nan everywhere.  It reads x and the result,
which the row saves as torch's node saves self and result.  create_graph records the same
formula as tensor ops (the quotient by a constant count, the product by a constant mask): a
gradient that does not read x, as torch's.
"""
import numpy as np

from .index import bcast_index, is_suffix, kept_leading, middle_inner

KINDS = ("extreme",)


def slot(k, n, mode, inner, shp_a, nd_a, keep):
    """The output element (the slice) of operand element k: by the layout `mode` the pieces
    find once per entry (reduce's cases: 0 all dims reduced, 1 leading dims only, 2 trailing
    dims only, runs of `inner`, 3 a block of middle dims, 4 any)."""
    if mode == 0:
        return 0
    if mode == 1:
        return k % n
    if mode == 2:
        return k // inner
    if mode == 3:
        return (k // inner) % n
    return bcast_index(k, shp_a, nd_a, keep, nd_a)


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


# ---- kernel pieces (plain Python that codegen compiles into tapegrad/_kernels.py) ----------
def forward_extreme(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    is_max = imm[e] != 0.0
    keep = params[par[e]:par[e] + nd[a]]
    mode, inner = layout(n, size[a], shp[a], nd[a], keep)
    for k in range(n):
        vals[out_off + k] = -np.inf if is_max else np.inf
    for k in range(size[a]):
        j = out_off + slot(k, n, mode, inner, shp[a], nd[a], keep)
        v = vals[oa + k]
        m = vals[j]
        if m == m and (v != v or (v > m if is_max else v < m)):
            vals[j] = v


def sweep_extreme(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # NOTE: torch's grad / count * mask: the quotient first, then the product by 1.0 or 0.0
    # (so an inf or nan g is nan off the hits, and a slice without a hit, a nan result, nan)
    oa = off[a]
    keep = params[par[e]:par[e] + nd[a]]
    mode, inner = layout(n, size[a], shp[a], nd[a], keep)
    count = np.zeros(n)
    for k in range(size[a]):
        j = slot(k, n, mode, inner, shp[a], nd[a], keep)
        if vals[oa + k] == vals[out_off + j]:
            count[j] += 1.0
    for j in range(n):
        count[j] = adj[out_off + j] / count[j]
    for k in range(size[a]):
        j = slot(k, n, mode, inner, shp[a], nd[a], keep)
        adj[oa + k] += count[j] * (1.0 if vals[oa + k] == vals[out_off + j] else 0.0)


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `views.KIND_OPS`, `params` the entry's params.
def tensor_forward_extreme(T, x, y, shape, params, imm):
    keep = [int(v) for v in params[:len(x.shape)]]
    # (a reduced dim and a kept one of size 1 are alike: reducing it changes nothing)
    return T.extreme(x, tuple(d for d, k in enumerate(keep) if k == 1), imm != 0.0).reshape(shape)


def tensor_vjp_extreme(T, g, operand, a_shape, b_shape, params, imm):
    keep = tuple(int(v) for v in params[:len(a_shape)])
    x, out = operand(0), operand(2)
    hits = x._array() == out._array().reshape(keep)
    count = hits.sum(tuple(d for d, k in enumerate(keep) if k == 1), keepdims=True)
    dt = g._dtype
    return [(0, g.reshape(keep) / T.wrap(count.astype(dt.np), dt) * T.wrap(hits.astype(dt.np), dt))]
