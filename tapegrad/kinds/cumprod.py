"""cumprod kind: the running product of a along one dim as one entry (torch's
CumprodBackward0) -- the eager case of Tensor.cumprod (mathops._cumprod_entry: a float32 or
float64 operand whose dim has two or more elements, not recording for replay; a traced call
records the decomposition row cumprod's primitives, decomps_math.scan).

params [outer, m, inner]: the operand as a row-major (outer, m, inner) block, multiplied along
m.  The products are sequential from 1.0, accumulated in float64 and rounded once per output,
as torch's CPU kernel (acc_type: a float32 tensor multiplies in double): the eager forward
(`forward`, at the call) and the kernel piece give its values bit for bit.

VJP, torch's cumprod_backward.  Plain (the kernel's sweep), per slice x_0..x_{m-1} with
output y and incoming gradient g, z the first zero of the slice (m where it has none):

    k < z:   grad_k = (sum_{z > j >= k} y_j g_j) / x_k        (reversed_cumsum(w) / x, w
             masked to 0 from z on; nan at an inf or nan x_k)
    k = z:   grad_z = (sum_j P_j g'_j) * y_{z-1}  (1 where z = 0), P the running product of
             x between z and the second zero z2 (1 elsewhere), g' = g on [z, z2), 0 elsewhere
             (so an infinite P past z2 meets a 0: nan, as torch's)
    k > z:   0

(a tensor without a zero takes torch's reversed_cumsum(w) / x: the case z = m.)  create_graph
records torch's grad-mode formulas as tensor ops: reversed_cumsum(y * g) / x where x has no
zero (it reads the entry's output: higher orders go through the entry again), else the
product rule, sum_j g_j prod_{i <= j, i != k} x_i, by torch's omitted products.
"""
import math

import numpy as np

from ..fpstate import ERR_RESET, ERR_SET, QUIET

KINDS = ("cumprod",)
NPARAMS = 3


def block(shape, d):
    """(outer, m, inner) of a tensor of `shape` multiplied along dim d."""
    return math.prod(shape[:d]), int(shape[d]), math.prod(shape[d + 1:])


_ACCUMULATE = np.multiply.accumulate


def forward(x):
    """The running product of x (outer, m, inner) along axis 1 in x's dtype, in float64
    (torch's acc_type), sequential as torch's."""
    token = ERR_SET(QUIET)   # (overflow to inf, 0 * inf: silently, as torch)
    try:
        out = _ACCUMULATE(x.astype(np.float64) if x.dtype == np.float32 else x, axis=1)
        return np.ascontiguousarray(out, x.dtype)
    finally:
        ERR_RESET(token)


# ---- kernel pieces (plain Python that codegen compiles into tapegrad/_kernels.py) ----------
def forward_cumprod(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    p = par[e]
    outer, m, inner = params[p], params[p + 1], params[p + 2]
    for t in range(outer):
        for j in range(inner):
            base = t * m * inner + j
            acc = 1.0
            for i in range(m):
                k = base + i * inner
                acc *= vals[oa + k]
                vals[out_off + k] = acc


def sweep_cumprod(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # NOTE: torch's cumprod_backward with grad mode off (see the module's docstring): the
    # quotient before the first zero, the products between the first and second zeros at it,
    # 0 after it
    oa = off[a]
    p = par[e]
    outer, m, inner = params[p], params[p + 1], params[p + 2]
    for t in range(outer):
        for j in range(inner):
            base = t * m * inner + j
            z = m
            for i in range(m):
                if vals[oa + base + i * inner] == 0.0:
                    z = i
                    break
            s = 0.0
            for i in range(z - 1, -1, -1):
                k = base + i * inner
                s += vals[out_off + k] * adj[out_off + k]
                adj[oa + k] += s / vals[oa + k]
            if z == m:
                continue
            acc = adj[out_off + base + z * inner]   # (P_z = 1)
            prod = 1.0
            i = z + 1
            while i < m and vals[oa + base + i * inner] != 0.0:
                k = base + i * inner
                prod *= vals[oa + k]
                acc += prod * adj[out_off + k]
                i += 1
            if i < m:   # (past the second zero: P times a masked 0)
                acc += (m - i) * (prod * 0.0)
            if z > 0:
                acc *= vals[out_off + base + (z - 1) * inner]
            adj[oa + base + z * inner] += acc


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `views.KIND_OPS`, `params` the entry's params.
def tensor_forward_cumprod(T, x, y, shape, params, imm):
    outer, m, inner = (int(v) for v in params[:NPARAMS])
    return x.reshape(outer, m, inner).cumprod(1).reshape(shape)


def tensor_vjp_cumprod(T, g, operand, a_shape, b_shape, params, imm):
    outer, m, inner = (int(v) for v in params[:NPARAMS])
    x = operand(0).reshape(outer, m, inner)
    gs = g.reshape(outer, m, inner)
    if not (x._array() == 0.0).any():
        # (torch's first branch, in either grad mode: reversed_cumsum(w) / x)
        w = operand(2).reshape(outer, m, inner) * gs
        return [(0, (w.flip(1).cumsum(1).flip(1) / x).reshape(a_shape))]
    # NOTE: torch's grad-mode formula with a zero: the product rule by omitted products,
    # prod(x[:k]) * cumprod(x[k+1:]), per k
    ones = T.wrap(np.ones((outer, 1, inner), g._dtype.np), g._dtype)
    cols = []
    for k in range(m):
        if k == 0:
            omitted = T.cat([ones, x[:, 1:].cumprod(1)], 1)
        else:
            until = x[:, :k].prod(1, keepdim=True)
            if k == m - 1:
                omitted = until
            else:
                after = x[:, k + 1:].cumprod(1)
                omitted = T.cat([until, until.expand(after.shape) * after], 1)
        cols.append((gs[:, k:] * omitted).sum(1, keepdim=True))
    return [(0, T.cat(cols, 1).reshape(a_shape))]
