"""shift kind (max_shift): the shift of a numerically stable softmax / logsumexp, the maximum
of a over the reduced dims, kept as the keepdim shape (params, as reduce's).  With imm == 1.0
an infinite maximum becomes 0 (torch's logsumexp: a row of -inf gives -inf, not nan).  NaN
propagates, as torch's amax.

It has no gradient: softmax and logsumexp do not depend on the shift (any constant gives the
same function), so the decompositions (tapegrad/decomps.py) treat it as a constant.  In eager
mode it is a constant; it is recorded only while tracing for replay, so that a replay
recomputes the shift at its own point and stays stable there (a baked-in shift would
overflow at points far from the recorded one).

Kernel pieces: plain Python compiled into tapegrad/_kernels.py by codegen (forward only).
"""
import math

from .index import bcast_index

KINDS = ("shift",)


def forward_shift(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    for k in range(n):
        vals[out_off + k] = -math.inf
    if n == 1:
        for k in range(size[a]):
            v = vals[oa + k]
            if vals[out_off] == vals[out_off] and (v > vals[out_off] or v != v):
                vals[out_off] = v
    else:
        keep = params[par[e]:par[e] + nd[a]]
        for k in range(size[a]):
            j = out_off + bcast_index(k, shp[a], nd[a], keep, nd[a])
            v = vals[oa + k]
            if vals[j] == vals[j] and (v > vals[j] or v != v):
                vals[j] = v
    if imm[e] != 0.0:
        for k in range(n):
            if abs(vals[out_off + k]) == math.inf:
                vals[out_off + k] = 0.0


# ---- tensor face: what replay's tensor re-run records (no VJP: it passes no gradient).
# `T` is `views.KIND_OPS`; params: the keepdim shape.
def tensor_forward_shift(T, x, y, shape, params, imm):
    keep = [int(v) for v in params[:len(x.shape)]]
    return T.max_shift(x, tuple(d for d, k in enumerate(keep) if k == 1 and x.shape[d] != 1),
                       imm != 0.0)
