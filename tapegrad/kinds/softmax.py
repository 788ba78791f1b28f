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
    for t in range(outer):
        for j in range(inner):
            base = t * m * inner + j
            mx = -math.inf
            for s in range(m):
                v = vals[oa + base + s * inner]
                if v > mx or v != v:
                    mx = v
            acc = 0.0
            for s in range(m):
                acc += math.exp(vals[oa + base + s * inner] - mx)
            if log:
                ls = math.log(acc)
                for s in range(m):
                    k = base + s * inner
                    vals[out_off + k] = (vals[oa + k] - mx) - ls
            else:
                for s in range(m):
                    k = base + s * inner
                    vals[out_off + k] = math.exp(vals[oa + k] - mx) / acc


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
    for t in range(outer):
        for j in range(inner):
            base = t * m * inner + j
            acc = 0.0
            if log:
                for s in range(m):
                    acc += adj[out_off + base + s * inner]
                for s in range(m):
                    k = base + s * inner
                    adj[oa + k] += adj[out_off + k] - math.exp(vals[out_off + k]) * acc
            else:
                for s in range(m):
                    k = base + s * inner
                    acc += adj[out_off + k] * vals[out_off + k]
                for s in range(m):
                    k = base + s * inner
                    adj[oa + k] += vals[out_off + k] * (adj[out_off + k] - acc)


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `tensor.KIND_OPS`, `params` the entry's params (none for one element).
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
