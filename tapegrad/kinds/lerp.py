"""lerp kind: torch.lerp(x, end, weight) with a number weight as one entry (torch's
LerpBackward0) -- its eager case (mathops._lerp_entry: x and end of one float32 or float64
dtype and one shape of two or more elements, recording, not for replay; a traced call records
the decomposition row lerp's primitives, decomps_math.lerp).

Operands x (a) and end (b); params [f32]: 1 for a float32 entry; imm: the weight w.  torch's
two-sided value

    out = x + w * (end - x)        where |w| < 0.5
    out = end - (end - x) * (1 - w)  elsewhere

is computed at the call as torch's vectorized kernel computes it, fused multiply-adds in the
operands' dtype (decomps_math.lerp_number on the arrays, the no-grad path's values); the
kernel's (a re-run) in float64.

VJP, torch's lerp_backward: grad_x = g * (1 - w), grad_end = g * w (an inf g is inf there,
where the two-sided formula's own derivative g - g * w is inf - inf = nan), the factors
rounded to the dtype (torch's Scalar 1 - w, computed in double, and w: in_dtype).  It reads no
value: the row saves nothing, as torch's node saves only the weight.  create_graph records
the same products as tensor ops (linear in g: no second derivative in x or end).
"""
from .addc import in_dtype

KINDS = ("lerp",)


# ---- kernel pieces (plain Python that codegen compiles into tapegrad/_kernels.py) ----------
def forward_lerp(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa, ob = off[a], off[b]
    w = imm[e]
    for k in range(n):
        x, y = vals[oa + k], vals[ob + k]
        vals[out_off + k] = x + w * (y - x) if abs(w) < 0.5 else y - (y - x) * (1.0 - w)


def sweep_lerp(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # NOTE: torch's grad * (1 - weight) and grad * weight (an inf grad stays inf), each
    # factor a Scalar rounded to the dtype
    oa, ob = off[a], off[b]
    f32 = params[par[e]] != 0
    v = in_dtype(1.0 - imm[e], f32)
    w = in_dtype(imm[e], f32)
    for k in range(n):
        g = adj[out_off + k]
        adj[oa + k] += g * v
        adj[ob + k] += g * w


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `views.KIND_OPS`.
def tensor_forward_lerp(T, x, y, shape, params, imm):
    return x.lerp(y, imm)


def tensor_vjp_lerp(T, g, operand, a_shape, b_shape, params, imm):
    return [(0, g * (1.0 - imm)), (1, g * imm)]
