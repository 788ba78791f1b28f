"""Set, search and counting utilities, none of them differentiable (as in torch): isin,
bucketize, searchsorted, argwhere, bincount, histc, unravel_index, and the integer and
predicate elementwise functions gcd, lcm and isreal.  Results, dtypes, warnings and errors
are torch's."""
import math

import numpy as np

from . import dtypes as D, errors
from .fpstate import quiet
from .grad_mode import is_grad_enabled
from .tensor import Tensor, tensor_methods

__all__ = ["isin", "bucketize", "searchsorted", "argwhere", "bincount", "histc",
           "unravel_index", "gcd", "lcm", "isreal"]


def _wrap(arr, dt):
    return Tensor._wrap(np.array(arr, dtype=dt.np), dt)


def _not_implemented(kernel, dt):
    return NotImplementedError(f'"{kernel}" not implemented for \'{dt.legacy}\'')


def _operand_dtype(x):
    """(dtype, category) of a tensor or Python number, as type promotion reads it."""
    if isinstance(x, Tensor):
        return x.dtype, 2 if x.dim() else 1
    return D.scalar_dtype(x), 0


def _values(x, dt):
    """x's elements (a tensor's array, or a number as a 0-d array) in dtype dt."""
    arr = x.detach().numpy() if isinstance(x, Tensor) else np.array(x)
    return arr.astype(dt.np, copy=False)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each of `elements` occurs in `test_elements` (either may be a number): a bool
    tensor of elements' shape, compared in the promoted dtype (nan matches nothing)."""
    for x in (elements, test_elements):
        if isinstance(x, bool) or isinstance(x, Tensor) and x.dtype is D.bool_:
            raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    dt = D.result_type(_operand_dtype(elements), _operand_dtype(test_elements))
    out = np.isin(_values(elements, dt), _values(test_elements, dt), invert=invert)
    return _wrap(out, D.bool_)


def _warn_contiguous(name, t):
    if t is not None and not t.is_contiguous():
        errors.warn_once(f"torch.searchsorted(): {name} tensor is non-contiguous, this will "
                         f"lower the performance due to extra data copy when converting "
                         f"non-contiguous tensor to contiguous, please use contiguous {name} "
                         f"tensor if possible. This message will only appear once per program.")


def _search(boundaries, values, right, sorter, out_int32):
    """Insertion points of `values` in each sorted row of `boundaries` (via `sorter`, its
    sorting permutation, if given)."""
    dt = D.result_type(_operand_dtype(boundaries), _operand_dtype(values))
    if dt is D.bool_:
        raise _not_implemented("searchsorted_out_cpu", dt)
    b = _values(boundaries, dt)
    if sorter is not None:
        b = np.take_along_axis(b, sorter.numpy(), -1)
    v = _values(values, dt)
    side = "right" if right else "left"
    if b.ndim == 1:
        out = np.searchsorted(b, v, side=side)
    else:
        rows_b = b.reshape(-1, b.shape[-1])
        rows_v = v.reshape(rows_b.shape[0], -1)
        out = np.stack([np.searchsorted(p, q, side=side) for p, q in zip(rows_b, rows_v)])
        out = out.reshape(v.shape)
    return _wrap(out, D.int32 if out_int32 else D.int64)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """The indices where `input`'s values would be inserted into the innermost dimension of
    `sorted_sequence` to keep it sorted (the first such place, or the last with right=True /
    side="right"); int64, or int32 with out_int32.  `sorter` sorts an unsorted sequence."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to "
                               "opposites, got side of left while right was True")
        right = side == "right"
    scalar = not isinstance(input, Tensor)
    bshape = list(sorted_sequence.shape)
    if sorter is not None:
        if sorter.dtype is not D.int64:
            raise RuntimeError(f"torch.searchsorted(): sorter must be a tensor of long dtype "
                               f"but got dtype {sorter.dtype.legacy}")
        if list(sorter.shape) != bshape:
            raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same "
                               f"size, but got boundary tensor {bshape}and got sorter tensor "
                               f"{list(sorter.shape)}")
    if not bshape:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if scalar:
        if len(bshape) != 1:
            raise RuntimeError(f"torch.searchsorted(): input value can be a scalar only when "
                               f"boundaries tensor dimension is 1, but we got boundaries "
                               f"tensor dim({len(bshape)}) and input value's dim(0) numel(1)")
    elif len(bshape) != 1 and bshape[:-1] != list(input.shape)[:-1]:
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or "
                           f"the first N-1 dimensions of boundaries tensor and input value "
                           f"tensor must match, but we got boundaries tensor {bshape} and "
                           f"input value tensor {list(input.shape)}")
    if sorter is not None and sorter.numel():
        s = sorter.numpy()
        if s.min() < 0 or s.max() >= bshape[-1]:
            raise RuntimeError("torch.searchsorted(): sorter index out of range")
    if not scalar:
        _warn_contiguous("input value", input)
    _warn_contiguous("boundary", sorted_sequence)
    _warn_contiguous("sorter", sorter)
    return _search(sorted_sequence, input, right, sorter, out_int32)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The index of the bucket of 1-d, sorted `boundaries` each of input's values falls in:
    boundaries[i-1] < x <= boundaries[i] (right=False) or boundaries[i-1] <= x <
    boundaries[i] (right=True); int64, or int32 with out_int32."""
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got "
                           f"dim({boundaries.dim()})")
    return _search(boundaries, input, right, None, out_int32)


def argwhere(input):
    """The indices of input's nonzero elements, one row each (int64, numel-by-ndim)."""
    return _wrap(np.argwhere(input.detach().numpy()), D.int64)


def bincount(input, weights=None, minlength=0):
    """The count of each value of a 1-d non-negative integer tensor (length max + 1, at least
    minlength), or the sum of the `weights` at each value (float64, or weights' float
    dtype).  Not differentiable: weights that require grad are refused outside no_grad."""
    if input.dtype not in (D.int32, D.int64):
        raise _not_implemented("bincount_cpu", input.dtype)
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    arr = input.numpy()
    if input.dim() != 1 or arr.size and arr.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.dim() != 1 or weights.shape[0] != arr.size):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if weights is not None and weights.requires_grad and is_grad_enabled():
        # torch records a NotImplemented node whose backward raises this; tapegrad has no
        # such node, so it refuses here rather than give a result without the dependence
        raise RuntimeError("derivative for aten::bincount is not implemented")
    if weights is None or arr.size == 0:   # (no input: an int64 result, weights or not)
        return _wrap(np.bincount(arr, minlength=minlength), D.int64)
    dt = weights.dtype if weights.dtype.is_floating_point else D.float64
    out = np.bincount(arr, weights=weights.detach().numpy().astype(np.float64),
                      minlength=minlength)
    return _wrap(out, dt)


def _cpp_double(x, from_data=False):
    """A double as C++'s ostream prints it (6 significant digits; x86's reductions give
    -nan)."""
    if math.isnan(x):
        return "-nan" if from_data or math.copysign(1.0, x) < 0 else "nan"
    return "%g" % x


def histc(input, bins=100, min=0, max=0):  # noqa: A002  (torch's names)
    """The histogram of input's values in `bins` equal bins over [min, max] (the data's range
    when both are equal), values outside ignored; input's floating dtype."""
    if not isinstance(bins, int) or isinstance(bins, bool):
        raise TypeError(f"histc(): argument 'bins' must be int, not {type(bins).__name__}")
    dt = input.dtype
    if dt is D.bool_:
        raise _not_implemented("linspace_cpu", dt)
    if not dt.is_floating_point:
        raise _not_implemented("histogram_cpu", dt)
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for "
                           f"dimension 0")
    arr = input.detach().numpy().reshape(-1)
    lo, hi, from_data = float(min), float(max), False
    if lo == hi and arr.size:
        from_data = True
        lo, hi = float(np.min(arr)), float(np.max(arr))
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        nan = from_data and (math.isnan(lo) or math.isnan(hi))
        raise RuntimeError(f"torch.histc: range of [{_cpp_double(lo, nan)}, "
                           f"{_cpp_double(hi, nan)}] is not finite")
    if lo >= hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    # torch's linear interpolation, in the input's dtype: (x - lo) * bins / (hi - lo)
    left, right = dt.np.type(lo), dt.np.type(hi)
    inside = arr[(arr >= left) & (arr <= right)]
    pos = quiet(lambda: ((inside - left) * dt.np.type(bins) / (right - left)).astype(np.int64))
    pos[pos == bins] = bins - 1
    return _wrap(np.bincount(pos, minlength=bins), dt)


def unravel_index(indices, shape):
    """The coordinates, in a tensor of `shape`, of the flat `indices`: one int64 tensor per
    dimension, each of indices' shape (torch.unravel_index's floor_divide and remainder, so
    out-of-range and negative indices wrap)."""
    if indices.dtype.is_floating_point or indices.dtype is D.bool_:
        raise TypeError(f"expected 'indices' to be integer dtype, but got tapegrad."
                        f"{indices.dtype.name}")
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    elif not isinstance(shape, (tuple, list)):
        raise TypeError(f"expected 'shape' to be int or sequence of ints, but got "
                        f"{type(shape)}")
    for d in shape:
        if not isinstance(d, int):
            raise TypeError(f"expected 'shape' sequence to only contain ints, but got "
                            f"{type(d)}")
    shape = tuple(shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    if 0 in shape[1:]:
        raise RuntimeError("ZeroDivisionError")
    coefs = [math.prod(shape[k + 1:]) for k in range(len(shape))]
    flat = indices.numpy().astype(np.int64)[..., None]
    if 0 in shape:
        raise RuntimeError("ZeroDivisionError")
    out = flat // np.array(coefs, dtype=np.int64) % np.array(shape, dtype=np.int64)
    return tuple(_wrap(out[..., k], D.int64) for k in range(len(shape)))


def _integer_pair(name, input, other):
    for pos, (arg, x) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not "
                            f"{type(x).__name__}")
    dt = D.result_type(_operand_dtype(input), _operand_dtype(other))
    if dt not in (D.int32, D.int64):
        raise _not_implemented(f"{name}_cpu", dt)
    try:
        a, b = np.broadcast_arrays(_values(input, dt), _values(other, dt))
    except ValueError:
        errors._check_broadcast(input._shape, other._shape)
        raise
    return a, b, dt


def gcd(input, other):
    """The elementwise greatest common divisor of two integer tensors (non-negative; gcd(0,
    0) = 0)."""
    a, b, dt = _integer_pair("gcd", input, other)
    return _wrap(np.gcd(a, b), dt)


def lcm(input, other):
    """The elementwise least common multiple of two integer tensors, as torch computes it:
    |a / gcd(a, b) * b| (0 where the gcd is 0; wrapping on overflow)."""
    a, b, dt = _integer_pair("lcm", input, other)
    g = np.gcd(a, b)
    with np.errstate(all="ignore"):
        out = np.abs(a // np.where(g == 0, 1, g) * b)
    return _wrap(np.where(g == 0, 0, out), dt)


def isreal(input):
    """Whether each element is real: all of them (tapegrad has no complex dtype)."""
    return _wrap(np.ones(input.shape, dtype=bool), D.bool_)


@tensor_methods
class _SearchingMethods:
    """Tensor.argwhere, bincount, histc, gcd, lcm, isreal (torch has no method form of isin,
    bucketize, searchsorted or unravel_index)."""

    def argwhere(self):
        return argwhere(self)

    def bincount(self, weights=None, minlength=0):
        return bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):  # noqa: A002
        return histc(self, bins, min, max)

    def gcd(self, other):
        return gcd(self, other)

    def lcm(self, other):
        return lcm(self, other)

    def isreal(self):
        return isreal(self)

