"""softmax kind (softmax, log_softmax): one entry per call, saving only its output (torch's
`result`).

params [outer, m, inner]: the operand as a row-major (outer, m, inner) block, normalized
along m; imm: 1.0 for log_softmax, 0.0 for softmax.  A one-element operand has no params (0-d
to the tape): its softmax is exp(a - a), its log_softmax a - a (1 and 0; nan at an infinity
or nan, as torch's).

Forward, stable as torch's kernels: per row the maximum m (a row holding nan or +inf, or only
-inf, gives nan everywhere: inf - inf), z = x - m, s = sum(exp(z)); softmax exp(z) / s, log_softmax
z - log(s).  The eager forward (ndops._np_softmax, at the call) is numpy's, in the input's
dtype, by the calls the decomposition made (its values unchanged); the kernels' (a replay)
sum in float64.

VJP, torch's _softmax_backward_data / _log_softmax_backward_data, the row sums in float64:
    softmax:      out * (g - sum(g * out))
    log_softmax:  g - exp(out) * sum(g)
create_graph records them as tensor ops on the entry's output (`tensor_vjp_softmax`), so the
second and third derivatives are the chain rule through this entry, as torch's double
backward.  T.softmax(x, params, log) records one entry (tapegrad/ndops.py hands it in through
views.KIND_OPS).
"""
import math

import numpy as np

KINDS = ("softmax",)
NPARAMS = 3


def block(shape, d):
    """[outer, m, inner] of a tensor of `shape` normalized along dim d."""
    return [math.prod(shape[:d]), shape[d], math.prod(shape[d + 1:])]


# ---- kernel pieces (plain Python that codegen compiles into tapegrad/_kernels.py) ----------
def forward_softmax(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    log = imm[e] != 0.0
    p = par[e]
    if p < 0:   # one element
        z = vals[oa] - vals[oa]
        vals[out_off] = z if log else math.exp(z)
        return
    outer, m, inner = params[p], params[p + 1], params[p + 2]
    if inner == 1:   # along the last dim: each row contiguous (no slice per element)
        for t in range(outer):
            xs = vals[oa + t * m:oa + (t + 1) * m]
            out = vals[out_off + t * m:out_off + (t + 1) * m]
            mx = -math.inf
            for k in range(m):
                v = xs[k]
                if v > mx or v != v:
                    mx = v
            sm = 0.0
            for k in range(m):
                sm += math.exp(xs[k] - mx)
            if log:
                ls = math.log(sm)
                for k in range(m):
                    out[k] = (xs[k] - mx) - ls
            else:
                for k in range(m):
                    out[k] = math.exp(xs[k] - mx) / sm
        return
    # (row by row of `inner` contiguous elements, the maxima and sums of the `inner` rows
    # kept side by side: a walk down each column cost 2x at inner = 1000)
    mx = np.empty(inner)
    acc = np.empty(inner)
    for t in range(outer):
        blk = t * m * inner
        mx[:] = -math.inf
        for s in range(m):
            xs = vals[oa + blk + s * inner:oa + blk + (s + 1) * inner]
            for j in range(inner):
                v = xs[j]
                if v > mx[j] or v != v:
                    mx[j] = v
        acc[:] = 0.0
        for s in range(m):
            xs = vals[oa + blk + s * inner:oa + blk + (s + 1) * inner]
            for j in range(inner):
                acc[j] += math.exp(xs[j] - mx[j])
        if log:
            for j in range(inner):
                acc[j] = math.log(acc[j])
        for s in range(m):
            xs = vals[oa + blk + s * inner:oa + blk + (s + 1) * inner]
            out = vals[out_off + blk + s * inner:out_off + blk + (s + 1) * inner]
            if log:
                for j in range(inner):
                    out[j] = (xs[j] - mx[j]) - acc[j]
            else:
                for j in range(inner):
                    out[j] = math.exp(xs[j] - mx[j]) / acc[j]


def sweep_softmax(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # NOTE: torch's _log_softmax_backward_data / _softmax_backward_data, from the saved output
    oa = off[a]
    log = imm[e] != 0.0
    p = par[e]
    if p < 0:
        g = adj[out_off]
        o = vals[out_off]
        adj[oa] += g - math.exp(o) * g if log else o * (g - g * o)
        return
    outer, m, inner = params[p], params[p + 1], params[p + 2]
    if inner == 1:
        for t in range(outer):
            gs = adj[out_off + t * m:out_off + (t + 1) * m]
            os = vals[out_off + t * m:out_off + (t + 1) * m]
            ga = adj[oa + t * m:oa + (t + 1) * m]
            sm = 0.0
            if log:
                for k in range(m):
                    sm += gs[k]
                for k in range(m):
                    ga[k] += gs[k] - math.exp(os[k]) * sm
            else:
                for k in range(m):
                    sm += gs[k] * os[k]
                for k in range(m):
                    ga[k] += os[k] * (gs[k] - sm)
        return
    acc = np.empty(inner)   # (as the forward: rows of `inner` contiguous elements)
    for t in range(outer):
        blk = t * m * inner
        acc[:] = 0.0
        for s in range(m):
            k = blk + s * inner
            gs = adj[out_off + k:out_off + k + inner]
            if log:
                for j in range(inner):
                    acc[j] += gs[j]
            else:
                os = vals[out_off + k:out_off + k + inner]
                for j in range(inner):
                    acc[j] += gs[j] * os[j]
        for s in range(m):
            k = blk + s * inner
            gs = adj[out_off + k:out_off + k + inner]
            os = vals[out_off + k:out_off + k + inner]
            ga = adj[oa + k:oa + k + inner]
            if log:
                for j in range(inner):
                    ga[j] += gs[j] - math.exp(os[j]) * acc[j]
            else:
                for j in range(inner):
                    ga[j] += os[j] * (gs[j] - acc[j])


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `views.KIND_OPS`, `params` the entry's params (none for one element).
def tensor_forward_softmax(T, x, y, shape, params, imm):
    return T.softmax(x, params[:NPARAMS] if x.numel() != 1 else None, imm != 0.0).reshape(shape)


def row_dim(shape, params):
    """The dim of `shape` that params [outer, m, inner] normalize along."""
    outer, m = int(params[0]), int(params[1])
    lead = 1
    for d, k in enumerate(shape):
        if lead == outer and k == m:
            return d
        lead *= k
    raise ValueError("softmax params do not match the shape %s" % (shape,))


def tensor_vjp_softmax(T, g, operand, a_shape, b_shape, params, imm):
    out = operand(2)   # the entry's output (torch's saved `result`)
    if a_shape is None:   # one element: the row's sum is g itself
        r = g - out.exp() * g if imm != 0.0 else out * (g - g * out)
        return [(0, r)]
    d = row_dim(a_shape, params)
    if imm != 0.0:
        return [(0, g - out.exp() * g.sum(d, keepdim=True))]
    return [(0, out * (g - (g * out).sum(d, keepdim=True)))]
