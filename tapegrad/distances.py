"""cdist: the p-norm distances between the rows of two (batched) matrices, recorded as torch
records them.  Its default compute_mode takes torch's matrix-product path for p = 2 when a
side has more than 25 rows (or always, with 'use_mm_for_euclid_dist'): torch's
_euclidean_dist (EuclideanDistBackward0) and a view; else torch's _cdist_forward
(CdistBackward0).  Both are decomposition rows (tapegrad/decomps_math.py).

NOTE: torch's CdistBackward0 has no derivative of its own (a second backward raises); this
decomposition's gradient is differentiable again, as the other rows'."""
import math

import numpy as np

from . import decomps, decomps_math as DM
from . import errors
from .errors import _check_broadcast
from .tensor import Tensor, _tensor_operand
from .views import KIND_OPS

__all__ = ["cdist"]

_MODES = {"use_mm_for_euclid_dist_if_necessary": 0, "use_mm_for_euclid_dist": 1,
          "donot_use_mm_for_euclid_dist": 2}


def _batched(x, batch):
    """x expanded to the broadcast batch and viewed as (product, rows, columns): torch's
    expand and reshape (a copy when the expansion broadcast)."""
    e = x.expand(*batch, *x._shape[-2:])
    view = (math.prod(batch),) + x._shape[-2:]
    return e.view(view) if e.is_contiguous() else e.contiguous().view(view)


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between each row of x1 and each row of x2 (batch dims broadcast):
    CdistBackward0, or torch's matrix-product path for p = 2 (EuclideanDistBackward0)."""
    _tensor_operand("cdist", x1, 1, "x1")
    _tensor_operand("cdist", x2, 2, "x2")
    # (torch's `float p`: a number, a bool, a numpy number or a 0-d tensor)
    if not isinstance(p, (int, float, np.integer, np.floating)) and not (
            isinstance(p, Tensor) and not p._shape):
        raise TypeError(f"cdist(): argument 'p' (position 3) must be float, not "
                        f"{errors.type_name(p)}")
    if p.__class__ is not float:
        p = float(p)
    if compute_mode not in _MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    mode = _MODES[compute_mode]
    for name, x in (("X1", x1), ("X2", x2)):
        if x.dim() < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: "
                               f"{x.dim()}D")
    if x1._shape[-1] != x2._shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1._shape[-1]} X2: {x2._shape[-1]}")
    for name, x in (("X1", x1), ("X2", x2)):
        if not x._dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{x._dtype.legacy}")
    if not p >= 0:
        raise RuntimeError("cdist only supports non-negative p values")
    try:
        batch = tuple(np.broadcast_shapes(x1._shape[:-2], x2._shape[:-2]))
    except ValueError:
        _check_broadcast(x1._shape[:-2], x2._shape[:-2])
    if x1._dtype is not x2._dtype:
        raise RuntimeError(f"expected scalar type {x1._dtype.legacy} but found "
                           f"{x2._dtype.legacy}")
    r1, r2 = x1._shape[-2], x2._shape[-2]
    if x1.numel() and x2.numel() and p == 2 and (mode == 1 or mode == 0 and
                                                  (r1 > 25 or r2 > 25)):
        if math.prod(batch) == 1:
            a, b = x1, x2
        else:
            a, b = _batched(x1, batch), _batched(x2, batch)
        dist = decomps.record("euclidean_dist", DM.euclidean_dist, KIND_OPS, a, b,
                              edges=(a, b))
        return dist.view(batch + (r1, r2))
    return decomps.record("cdist", DM.cdist, KIND_OPS, x1, x2, float(p), edges=(x1, x2))
