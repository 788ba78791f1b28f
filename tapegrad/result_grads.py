"""The gradients, as torch's formulas on the node's result, of the decomposition rows whose
torch backward reads `result` (derivatives.yaml: logsumexp_backward(grad, self, result, ...),
prod_backward, norm_backward (vector_norm, at::norm, dist), ldexp's `grad * result * ln 2`).
A row's own gradient is its primitives' (decomps.py); these are what calling its node gives
(node_api), and so what a post hook's pause and the create_graph walk hand on (engine): the
gradient then reads the result's node, so a second backward runs through that node again,
with its hooks, a retained `.grad` of the result and `autograd.grad` with respect to it, as
torch's.  The primitives' gradient reads the members' values, which lead to the inputs but
not through the result.

Each function takes the gradient g of the result, the node's inputs (in torch's edge order:
`ins[i]` a tensor standing for input i's node, `ins.given(i)` whether edge i leads anywhere,
`ins.shape(i)`), the result and the arguments the call kept (recording.keep_args), and
returns one gradient per input (None: none), or None where torch's formula does not read the
result there (the primitives' then).  An input value the tape does not hold (Unavailable)
makes the caller keep the primitives'; groups.save_input keeps the ones torch's node saves."""
import math


class Unavailable(Exception):
    """A value torch's formula reads that the tape does not hold (the members saved others):
    the caller keeps the primitives' gradient."""


def _unsqueezed(t, dims, shape):
    """t (a reduction's result or gradient) in the shape with the reduced dims `dims` of
    `shape` put back as size 1 (torch's unsqueeze_multiple; a reshape, so a one-element
    result, 0-d on the tape, too)."""
    nd = len(shape)
    if nd == 0:
        return t
    if dims is None or (isinstance(dims, (tuple, list)) and not dims):
        return t.reshape((1,) * nd)
    dims = {d % nd for d in ((dims,) if isinstance(dims, int) else dims)}
    return t.reshape(tuple(1 if d in dims else k for d, k in enumerate(shape)))


def _masked(t, mask):
    """t with 0 where mask (torch's masked_fill_(mask, 0))."""
    return t.masked_fill(mask, 0.0)


def ldexp(g, ins, out, kept):
    # torch's ldexp: self `grad * 2^other` (exp2), other `grad * result * ln 2`
    if not ins.given(1):   # (an exponent without gradient: self's reads no result)
        return None
    return [g * ins[1].exp2() if ins.given(0) else None, g * out * math.log(2.0)]


def logsumexp(g, ins, out, kept):
    # torch's logsumexp_backward(grad, self, result, dim, keepdim)
    x = ins[0]
    dims, shape = kept.get("dim"), x.shape
    return [_unsqueezed(g, dims, shape) * (x - _unsqueezed(out, dims, shape)).exp()]


def prod(g, ins, out, kept):
    # torch's prod_backward(grad, self, result[, dim, keepdim]): grad * (result / self) where
    # no element is 0; prod_safe_zeros_backward (the input alone, as the primitives') else
    x = ins[0]
    if x.dim() == 0:
        return [g]
    if bool((x == 0).any()):
        return None
    dims, shape = kept.get("dim"), x.shape
    return [_unsqueezed(g, dims, shape) * (_unsqueezed(out, dims, shape) / x)]


def _norm_grad(g, x, p, norm, dims):
    """torch's norm_backward(grad, self, p, norm, dim, keepdim) for the orders whose formula
    reads the norm: all but 0, 1 and inf (which read none, or only compare with it); None
    for those."""
    if p in (0.0, 1.0) or math.isinf(p):
        return None
    g, norm = _unsqueezed(g, dims, x.shape), _unsqueezed(norm, dims, x.shape)
    if p == 2.0:
        return g * _masked(x / norm, norm == 0)
    if p < 1.0:
        scaled = x.sgn() * _masked(x.abs().pow(p - 1), x == 0)
        return scaled * g * norm.pow(1 - p)
    scaled = x.sgn() * x.abs().pow(p - 1) if p < 2.0 else x * x.abs().pow(p - 2)
    return scaled * _masked(g / norm.pow(p - 1), norm == 0)


def vector_norm(g, ins, out, kept):
    # torch's linalg_vector_norm_backward: norm_backward(grad, self, ord, result, dim, keepdim)
    got = _norm_grad(g, ins[0], float(kept.get("ord", 2.0)), out, kept.get("dim"))
    return None if got is None else [got]


def norm(g, ins, out, kept):
    # torch's at::norm (NormBackward0 / NormBackward1): norm_backward(grad, self, p, result,
    # dim, keepdim)
    got = _norm_grad(g, ins[0], float(kept.get("p", 2.0)), out, kept.get("dim"))
    return None if got is None else [got]


def dist(g, ins, out, kept):
    # torch's dist: norm_backward(grad, self - other, p, result), other's negated
    x = ins[0] if ins.given(0) else ins.kept(kept.get("self"))
    other = ins[1] if ins.given(1) else ins.kept(kept.get("other"))
    got = _norm_grad(g, x - other, float(kept.get("p", 2.0)), out, None)
    return None if got is None else [got if ins.given(0) else None,
                                     -got if ins.given(1) else None]


# by decomposition row name
GRADS = {
    "dist": dist,
    "ldexp": ldexp,
    "logsumexp": logsumexp,
    "norm_all": norm,
    "norm_dim": norm,
    "prod": prod,
    "prod_dim": prod,
    "vector_norm": vector_norm,
}
