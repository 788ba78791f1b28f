"""scan kind (cumsum): the running sum of a along one dim, one entry per call.

params [outer, m, inner, reverse]: the operand as a row-major (outer, m, inner) block, summed
along m, from the last element when `reverse` is 1.  A one-element operand has no params (0-d
to the tape): the kernels copy it (torch's 0-d cumsum is a copy; the eager forward of a (1,)
one sums from +0.0 as torch, a replay copies a -0.0 there as it is).

The sums are sequential, as torch's CPU kernel: each output is the previous output plus the
next element, from 0.0 (so no output is -0.0), accumulated in float64 and rounded once per
output (torch's acc_type: a float32 tensor sums in double).  numpy's cumsum sums in the same
order, so the eager forward (`forward`, at the call) and the kernels (`running_sum`, on the
arena) give torch's values bit for bit.

VJP: torch's cumsum_backward, the gradient's running sum from the other end
(g.flip(d).cumsum(d).flip(d)): the sweep runs it in the kernel, and create_graph records it as
one entry of this kind with `reverse` flipped, so every order differentiates; JVP: the
tangent's running sum (the map is linear).  T.scan(x, params) records one entry
(tapegrad/mathops.py hands it in through views.KIND_OPS).
"""
import math

import numpy as np

from ..fpstate import ERR_RESET, ERR_SET, QUIET

KINDS = ("scan",)
NPARAMS = 4


def block(shape, d):
    """(outer, m, inner) of a tensor of `shape` summed along dim d (math.prod: np.prod's
    Python layer cost more than the rest of a small cumsum's set-up)."""
    return math.prod(shape[:d]), int(shape[d]), math.prod(shape[d + 1:])


_ACCUMULATE = np.add.accumulate


def forward(x, reverse=0):
    """The running sum of x (outer, m, inner) along axis 1, in x's dtype (float32 summed in
    float64, as torch)."""
    if reverse:
        x = x[:, ::-1]
    # (the prebuilt error state, not np.errstate: ~2 us less a call)
    # inf - inf, and a float32 sum past its range cast to inf, as torch: silently
    token = ERR_SET(QUIET)
    try:
        # (float32: its exact float64 copy's running sum, add.accumulate's same-type loop:
        # the bits of cumsum(dtype=float64), whose casting loop costs ~1 us more at 8x32)
        out = _ACCUMULATE(x.astype(np.float64), axis=1) if x.dtype == np.float32 else \
            _ACCUMULATE(x, axis=1) if x.dtype == np.float64 else x.cumsum(axis=1, dtype=x.dtype)
        if out.dtype.kind == "f":
            out += 0.0   # torch's sum starts at +0.0: a leading -0.0 becomes 0.0
        if reverse:
            out = out[:, ::-1]
        return np.ascontiguousarray(out, x.dtype)
    finally:
        ERR_RESET(token)


def jvp(params, dx):
    """The output's tangent given the operand's (the map is linear: its own running sum)."""
    outer, m, inner, reverse = (int(v) for v in params[:NPARAMS])
    return forward(dx.reshape(outer, m, inner), reverse).reshape(dx.shape)


# ---- kernel pieces (plain Python that codegen compiles into tapegrad/_kernels.py) ----------
def running_sum(buf, src, dst, outer, m, inner, reverse, add):
    """buf[dst:] (or += with `add`) the running sums of the (outer, m, inner) block at
    buf[src:] along m; float64 sums rounded once to buf's dtype per output, as torch's."""
    acc = np.zeros(inner)
    row = np.empty(inner, buf.dtype)
    if inner == 1:   # along the last dim: no slices per element (they cost 5x the sums)
        for t in range(outer):
            s0 = 0.0
            for s in range(m):
                k = t * m + (m - 1 - s if reverse else s)
                s0 += buf[src + k]
                row[0] = s0
                if add:
                    buf[dst + k] += row[0]
                else:
                    buf[dst + k] = row[0]
        return
    for t in range(outer):
        acc[:] = 0.0
        for s in range(m):
            i = m - 1 - s if reverse else s
            k = (t * m + i) * inner
            xs = buf[src + k:src + k + inner]
            out = buf[dst + k:dst + k + inner]
            for j in range(inner):
                acc[j] += xs[j]
                row[j] = acc[j]
            if add:
                for j in range(inner):
                    out[j] += row[j]
            else:
                for j in range(inner):
                    out[j] = row[j]


def forward_scan(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    p = par[e]
    if p < 0:   # one element: a copy
        vals[out_off] = vals[off[a]]
        return
    running_sum(vals, off[a], out_off, params[p], params[p + 1], params[p + 2], params[p + 3],
                False)


def sweep_scan(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    p = par[e]
    if p < 0:
        adj[off[a]] += adj[out_off]
        return
    # NOTE: torch's cumsum_backward: g's running sum from the other end
    running_sum(adj, out_off, off[a], params[p], params[p + 1], params[p + 2],
                1 - params[p + 3], True)


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `views.KIND_OPS`, `params` the entry's params (none for one element).
def tensor_forward_scan(T, x, y, shape, params, imm):
    return T.scan(x, params[:NPARAMS] if x.numel() != 1 else None).reshape(shape)


def tensor_vjp_scan(T, g, operand, a_shape, b_shape, params, imm):
    if a_shape is None:   # one element: the gradient passes
        return [(0, g)]
    outer, m, inner, reverse = (int(v) for v in params[:NPARAMS])
    return [(0, T.scan(g.reshape(a_shape), [outer, m, inner, 1 - reverse]))]
