"""addc kind: the term of Tensor.addcmul / addcdiv, value * t1 * t2 or value * t1 / t2, as one
entry whose VJP is torch's (AddcmulBackward0 / AddcdivBackward0) -- the eager case of the
rows addcmul / addcdiv (decomps_math.addcmul / addcdiv: tensor1 and tensor2 of one float32
or float64 dtype and of the result's shape, two or more elements, not for replay; a traced
call records the rows' primitives, as before).  The row's body adds self to the term.

Operands t1 (a) and t2 (b); params [div, f32]: 1 for addcdiv's quotient, 1 for a float32
entry; imm: value, rounded to the dtype (torch's Scalar beside a tensor of that dtype).  The
value at the call is numpy's in the dtype ((t1 * value) op t2: what addcdiv adds to self;
addcmul's result is torch's fused fma(value * t1, t2, self), decomps_math.addcmul_fused).

VJP, derivatives.yaml's, each step rounded to the dtype as torch's tensor ops round it:

    addcmul:  grad_t1 = g * (t2 * value)           grad_t2 = g * (t1 * value)
    addcdiv:  grad_t1 = g * (value / t2)           grad_t2 = -g * ((t1 * value) / (t2 * t2))

The sweep's arena holds doubles: a float32 entry rounds the factors to float32 (`in_dtype`);
g times a float32 factor is then exact, rounded once when the gradient leaves the arena.  The
carrier's products ((g * value) * t2 and the like) differed from torch's in the last bit on
most elements.  create_graph records the same formulas as tensor ops (in the dtype).
"""
import numpy as np

KINDS = ("addc",)


def in_dtype(v, f32):
    """v rounded to the entry's dtype: float32 where f32, else as it is (a double)."""
    return np.float64(np.float32(v)) if f32 else v


# ---- kernel pieces (plain Python that codegen compiles into tapegrad/_kernels.py) ----------
def forward_addc(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa, ob = off[a], off[b]
    c = imm[e]
    div = params[par[e]] != 0
    f32 = params[par[e] + 1] != 0
    for k in range(n):
        s = in_dtype(vals[oa + k] * c, f32)
        vals[out_off + k] = in_dtype(s / vals[ob + k] if div else s * vals[ob + k], f32)


def sweep_addc(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # NOTE: torch's factors first (t2 * value; value / t2; (t1 * value) / (t2 * t2)), each
    # rounded to the dtype, then their product by the gradient
    oa, ob = off[a], off[b]
    c = imm[e]
    div = params[par[e]] != 0
    f32 = params[par[e] + 1] != 0
    for k in range(n):
        g = adj[out_off + k]
        x, y = vals[oa + k], vals[ob + k]
        if div:
            adj[oa + k] += g * in_dtype(c / y, f32)
            adj[ob + k] += -g * in_dtype(in_dtype(x * c, f32) / in_dtype(y * y, f32), f32)
        else:
            adj[oa + k] += g * in_dtype(y * c, f32)
            adj[ob + k] += g * in_dtype(x * c, f32)


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `views.KIND_OPS`.
def tensor_forward_addc(T, x, y, shape, params, imm):
    return x * imm / y if params[0] else x * imm * y


def tensor_vjp_addc(T, g, operand, a_shape, b_shape, params, imm):
    x, y = operand(0), operand(1)
    if params[0]:
        # (torch's C++ value / tensor2 fills a tensor with value and divides it: a quotient,
        # where Python's number / tensor is a product by the reciprocal)
        dt = y.dtype
        filled = T.wrap(np.full(tuple(y.shape), imm, dt.np), dt)
        return [(0, g * (filled / y)), (1, -g * ((x * imm) / (y * y)))]
    return [(0, g * (y * imm)), (1, g * (x * imm))]
