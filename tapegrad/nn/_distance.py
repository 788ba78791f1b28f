"""nn.functional's distances between two batches of vectors, cosine_similarity and
pairwise_distance, as torch's C++ compositions (their grad_fn names are those of the ops
torch calls); below `functional` so that the losses built on them can import them."""
import numpy as np

from .. import decomps_math as DM, dtypes as D, errors
from ..grad_mode import switched_grad
from ..mathops import needs_zero_norm, zero_norm_at
from ..recording import keep_args
from ..tensor import _int_arg, Tensor, _tensor_operand
from ._basic import _record


def _clamped_norm(x, dim, eps):
    """||x||_2 over dim (kept), cloned and raised to eps where smaller by torch's clamp_min_
    under no_grad: the gradient is the norm's (CloneBackward0 <- LinalgVectorNormBackward0)."""
    n = x.norm(2, dim, keepdim=True).clone()
    with switched_grad(False):
        n.clamp_min_(eps)
    return n


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps), dim) (torch's decomposition:
    SumBackward1; both inputs expanded when their shapes differ, as expand_outplace)."""
    _tensor_operand("cosine_similarity", x1, 1, "x1")
    _tensor_operand("cosine_similarity", x2, 2, "x2")
    # (a dim that is no int: torch's parser's error, named as the keyword it is usually
    # given by; None reduced every dim, a bool one dim)
    _int_arg(dim, "cosine_similarity", "dim", None)
    common = D.torch_result_type(x1, x2)
    if not common.is_floating_point:
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{common.legacy}")
    # torch casts an integer (or bool) operand to the common dtype, a float one stays
    a = x1 if x1.dtype.is_floating_point else x1.to(common)
    b = x2 if x2.dtype.is_floating_point else x2.to(common)
    if tuple(x1.shape) != tuple(x2.shape):
        bad = errors.broadcast_mismatch(x1.shape, x2.shape)
        if bad:
            raise RuntimeError(bad)
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
        a, b = a.expand(shape), b.expand(shape)
    return ((a / _clamped_norm(a, dim, eps)) * (b / _clamped_norm(b, dim, eps))).sum(dim)


def _add_number(T, x, c):
    return x + c


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim: torch's at::norm (NormBackward1) of its
    at::add of a number (AddBackward1)."""
    for pos, t in enumerate((x1, x2), 1):
        if not isinstance(t, Tensor):
            raise TypeError(f"pairwise_distance(): argument 'x{pos}' (position {pos}) must be "
                            f"Tensor, not {errors.type_name(t)}")
    d = x1 - x2
    if not d.dtype.is_floating_point:
        return (d + eps).norm(p, -1, keepdim=keepdim)
    d = _record("add_number", _add_number, d, eps)
    if isinstance(p, str) or not isinstance(p, (int, float)):
        raise TypeError(f"pairwise_distance(): argument 'p' (position 3) must be float, not "
                        f"{type(p).__name__}")
    dims = (d.dim() - 1 if d.dim() else 0,)
    if needs_zero_norm(p, d):   # (NormBackward1 without a gradient, as torch's)
        return zero_norm_at(d, dims, keepdim)
    return keep_args(_record("norm_dim", DM.norm_body(d, p, dims), d, float(p), dims,
                             bool(keepdim)), dim=dims, keepdim=bool(keepdim), p=float(p))
