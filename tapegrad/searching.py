"""Set, search and counting utilities, none of them differentiable (as in torch): isin,
bucketize, searchsorted, argwhere, bincount, histc, histogram, unravel_index, unique,
unique_consecutive, and the integer and predicate elementwise functions gcd, lcm and isreal.
Results, dtypes, warnings and errors are torch's; where torch records a node that only
raises in backward (bincount's weights, unique's values), so does tapegrad/nodiff.py."""
import math

import numpy as np

from . import dtypes as D, errors, nodiff, return_types
from .creation import linspace
from .fpstate import quiet
from .tensor import (_bool_arg, _dim, _int_arg, _is_int_arg, _is_int_item, Tensor, _tensor_operand,
                     tensor_methods)

__all__ = ["isin", "bucketize", "searchsorted", "argwhere", "bincount", "histc", "histogram",
           "unravel_index", "gcd", "lcm", "isreal", "unique", "unique_consecutive"]


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


def _bisect(rows_b, rows_v, right):
    """torch's binary search of each row of rows_v in the same row of rows_b, all at once:
    the first place whose boundary is not below (right: not at or below) the value.  Its
    comparisons, not numpy's sort order, decide where nan goes (nan is neither below nor
    above anything), and an unsorted row answers as torch's search does."""
    start = np.zeros(rows_v.shape, np.int64)
    end = np.full(rows_v.shape, rows_b.shape[-1], np.int64)
    rows = np.arange(rows_b.shape[0])[:, None]
    while True:
        active = start < end
        if not active.any():
            return start
        mid = start + ((end - start) >> 1)
        mid_val = rows_b[rows, np.minimum(mid, rows_b.shape[-1] - 1)]
        after = ~(mid_val > rows_v) if right else ~(mid_val >= rows_v)
        start = np.where(active & after, mid + 1, start)
        end = np.where(active & ~after, mid, end)


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
    rows_b = b.reshape(math.prod(b.shape[:-1]), b.shape[-1])
    rows_v = v.reshape(1, -1) if b.ndim == 1 else v.reshape(rows_b.shape[0], v.shape[-1])
    side = "right" if right else "left"
    if rows_b.size and (rows_b[:, 1:] >= rows_b[:, :-1]).all() and \
            not (dt.is_floating_point and np.isnan(rows_b).any()):
        # sorted rows without nan: numpy's search finds the same places, faster
        out = np.stack([np.searchsorted(p, q, side=side) for p, q in zip(rows_b, rows_v)])
    else:
        out = _bisect(rows_b, rows_v, right)
    return _wrap(out.reshape(v.shape), D.int32 if out_int32 else D.int64)


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
    if isinstance(input, Tensor):
        _warn_contiguous("input value", input)
    _warn_contiguous("boundary", boundaries)
    return _search(boundaries, input, right, None, out_int32)


def argwhere(input):
    """The indices of input's nonzero elements, one row each (int64, numel-by-ndim)."""
    return _wrap(np.argwhere(input.detach().numpy()), D.int64)


_INTEGERS = (D.uint8, D.int8, D.int16, D.int32, D.int64)


def bincount(input, weights=None, minlength=0):
    """The count of each value of a 1-d non-negative integer tensor (length max + 1, at least
    minlength), or the sum of the `weights` at each value (float64, or weights' float
    dtype).  Not differentiable: with weights that require grad, torch's NotImplemented
    node, whose backward raises."""
    _tensor_operand("bincount", input, 1, "input")
    if weights is not None:
        _tensor_operand("bincount", weights, 2, "weights")
    if minlength.__class__ is not int and not _is_int_item(minlength, True):   # (SymInt)
        raise TypeError(f"bincount(): argument 'minlength' must be int, not "
                        f"{errors.type_name(minlength)}")
    minlength = int(minlength)
    if input.dtype not in _INTEGERS:
        raise _not_implemented("bincount_cpu", input.dtype)
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    arr = input.numpy()
    if input.dim() != 1 or arr.size and arr.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.dim() != 1 or weights.shape[0] != arr.size):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if weights is None or arr.size == 0:   # (no input: an int64 result, weights or not)
        return _wrap(np.bincount(arr, minlength=minlength), D.int64)
    dt = weights.dtype if weights.dtype.is_floating_point else D.float64
    out = np.bincount(arr, weights=weights.detach().numpy().astype(np.float64),
                      minlength=minlength)
    return nodiff.result("NotImplemented", out, dt, (weights,),
                         (RuntimeError, "derivative for aten::bincount is not implemented"))


def _cpp_double(x, from_data=False):
    """A double as C++'s ostream prints it (6 significant digits; x86's reductions give
    -nan)."""
    if math.isnan(x):
        return "-nan" if from_data or math.copysign(1.0, x) < 0 else "nan"
    return "%g" % x


def histc(input, bins=100, min=0, max=0):  # noqa: A002  (torch's names)
    """The histogram of input's values in `bins` equal bins over [min, max] (the data's range
    when both are equal), values outside ignored; input's floating dtype."""
    bins = _int_arg(bins, "histc", "bins", None).__index__()   # (np.int64, tensor(3) too)
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


def _bin_edges(x, bins, range, dt, d):  # noqa: A002
    """The bin edges of dimension d of a histogram (numpy, dtype dt): a 1-d tensor's values,
    or `bins` equal bins over `range` (x's range; widened by 0.5 each way when empty or one
    value), torch's linspace in dt; torch's checks and messages."""
    if isinstance(bins, Tensor):
        if bins.dim() != 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension, but "
                               f"got {bins.dim()} dimensions in the bins tensor for dimension {d}")
        if bins.dtype is not dt:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have "
                               f"the same dtype, but got input with dtype "
                               f"{errors._C_TYPE[dt.name]} and bins for dimension {d} with dtype "
                               f"{errors._C_TYPE[bins.dtype.name]}")
        return bins.detach().numpy().copy()
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for "
                           f"dimension {d}")
    if range is not None:
        lo, hi = float(range[0]), float(range[1])
    elif x.size:
        lo, hi = float(x.min()), float(x.max())
    else:
        lo, hi = 0.0, 1.0
    if lo > hi:
        raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min "
                           f"{_cpp_double(lo)} max {_cpp_double(hi)} for dimension {d}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histogramdd: dimension {d}'s range [{_cpp_double(lo)}, "
                           f"{_cpp_double(hi)}] is not finite")
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return linspace(lo, hi, bins + 1, dtype=dt).numpy()


def _bin_counts(x, edges, w, dt, density):
    """The (weighted) counts of the rows of x (N, D) in the D-dimensional grid of `edges`: a
    row is in bin i of dimension d when edges[d][i] <= x_d < edges[d][i + 1], each last bin
    closed, rows outside ignored; with density, divided by the total and each bin's volume."""
    shape = tuple(e.size - 1 for e in edges)
    inside = np.ones(x.shape[0], bool)
    for d, e in enumerate(edges):
        inside &= (x[:, d] >= e[0]) & (x[:, d] <= e[-1]) if e.size > 1 else False
    flat = np.zeros(int(inside.sum()), np.int64)
    for d, e in enumerate(edges):
        pos = np.searchsorted(e, x[inside, d], side="right") - 1
        pos[pos >= shape[d]] = shape[d] - 1      # (the last bin is closed)
        flat = flat * max(shape[d], 1) + pos
    hist = np.bincount(flat, weights=None if w is None else w[inside],
                       minlength=math.prod(shape)).astype(dt.np).reshape(shape)
    if density:
        volume = np.ones((), dt.np)
        for e in edges:
            volume = np.multiply.outer(volume, np.diff(e).astype(dt.np))
        with np.errstate(all="ignore"):
            hist = (hist / hist.sum(dtype=dt.np)).astype(dt.np) / volume
    return hist


def histogramdd(input, bins, *, range=None, weight=None, density=False):  # noqa: A002
    """(hist, bin_edges) of the points input[..., :] (the innermost dimension D is the point's
    coordinates): `bins` an int for every dimension, D ints, or D 1-d tensors of edges;
    `range` D (min, max) pairs, flat.  As `histogram` per dimension (torch.histogramdd).  Not
    differentiable (torch's NotImplemented node when input or weight requires grad)."""
    dt = input.dtype
    if not dt.is_floating_point:
        raise _not_implemented("histogramdd", dt)
    if input.dim() < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    dims = input.shape[-1]
    x = input.detach().numpy().reshape(-1, dims)
    by_tensor = not isinstance(bins, int)
    if not by_tensor:
        bins = [bins] * dims
    bins = list(bins)
    if range is not None and len(range) != 2 * dims:
        raise RuntimeError(f"torch.histogramdd: for a {dims}-dimensional histogram range should "
                           f"have {2 * dims} elements, but got {len(range)}")
    if len(bins) != dims:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                           "dimension of the input.")
    by_tensor = by_tensor and all(isinstance(b, Tensor) for b in bins)
    edges = [_bin_edges(x[:, d], b, None if range is None else range[2 * d:2 * d + 2], dt, d)
             for d, b in enumerate(bins)]
    if weight is not None and tuple(weight.shape) != tuple(input.shape[:-1]):
        raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have the "
                           f"same shape as the input tensor excluding its innermost dimension, "
                           f"but got input with shape {list(input.shape)} and weight with shape "
                           f"{list(weight.shape)}")
    w = None if weight is None else weight.detach().numpy().reshape(-1)
    hist = _bin_counts(x, edges, w, dt, density)
    op = "_histogramdd_from_bin_tensors" if by_tensor else "_histogramdd_from_bin_cts"
    error = (RuntimeError, f"derivative for aten::{op} is not implemented")
    out = nodiff.result("NotImplemented", hist, dt, (input, weight), error)
    if by_tensor:   # (the edges given are returned as they are, without a node)
        return return_types.histogramdd((out, tuple(bins)))
    return return_types.histogramdd((out, tuple(
        nodiff.result("NotImplemented", e.astype(dt.np), dt, (input, weight), error)
        for e in edges)))


def histogram(input, bins, *, range=None, weight=None, density=False, out=None):  # noqa: A002
    """(hist, bin_edges): the (weighted) count of input's elements in each bin, bins being
    `bins` equal ones over `range` (the data's range; widened by 0.5 each way when empty or
    one value) or the edges of a 1-d tensor; an element is in bin i when edges[i] <= x <
    edges[i + 1], the last bin closed, values outside ignored; with density, divided by the
    total and each bin's width.  The edges are torch's linspace in input's dtype.  Not
    differentiable (torch's NotImplemented node when input or weight requires grad)."""
    dt = input.dtype
    x = input.detach().numpy().reshape(-1)
    if isinstance(bins, Tensor) and range is not None:   # (no such overload in torch)
        given = ", ".join(f"{k}={type(v).__name__}" for k, v in (
            ("weight", weight), ("density", density), ("range", range)) if v is not None
            and (k != "density" or v))
        raise TypeError(f"histogram() received an invalid combination of arguments - got "
                        f"(Tensor, Tensor, {given}), but expected one of:\n"
                        f" * (Tensor input, Tensor bins, *, Tensor weight = None, bool density "
                        f"= False, tuple of Tensors out = None)\n"
                        f" * (Tensor input, int bins = 100, *, tuple of floats range = None, "
                        f"Tensor weight = None, bool density = False, tuple of Tensors out = "
                        f"None)\n")
    if not dt.is_floating_point:
        raise _not_implemented("histogramdd", dt)
    if not isinstance(bins, Tensor) and not _is_int_arg(bins, True):
        raise TypeError(f"histogram() received an invalid combination of arguments - got "
                        f"(Tensor, {errors.type_name(bins)})")
    if not isinstance(bins, Tensor):
        bins = int(bins)   # (a numpy integer: an int to torch's parser)
    edges = _bin_edges(x, bins, range, dt, 0)
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have the "
                           f"same shape as the input tensor excluding its innermost dimension, "
                           f"but got input with shape {list(input.reshape(-1, 1).shape)} and "
                           f"weight with shape {list(weight.shape)}")
    w = None if weight is None else weight.detach().numpy().reshape(-1)
    hist = _bin_counts(x.reshape(-1, 1), [edges], w, dt, density)
    error = (RuntimeError, "derivative for aten::histogram is not implemented")
    # (torch's node is an output of both, the edges too)
    return return_types.histogram((nodiff.result("NotImplemented", hist, dt, (input, weight),
                                                 error),
                                   nodiff.result("NotImplemented", edges.astype(dt.np), dt,
                                                 (input, weight), error)))


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
                            f"{errors.type_name(x)}")
    dt = D.result_type(_operand_dtype(input), _operand_dtype(other))
    if dt not in _INTEGERS:
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
    if a.dtype.itemsize < 4:   # (C++'s promotion to int: |a / g * b| wraps after the abs)
        a, b, g = a.astype(np.int32), b.astype(np.int32), g.astype(np.int32)
    with np.errstate(all="ignore"):
        out = np.abs(a // np.where(g == 0, 1, g) * b)
    return _wrap(np.where(g == 0, 0, out).astype(dt.np), dt)


def isreal(input):
    """Whether each element is real: all of them (tapegrad has no complex dtype)."""
    return _wrap(np.ones(input.shape, dtype=bool), D.bool_)


def _unique_dim(input, dim):
    """input's slices along dim as rows of a 2-d array, and the normalized dim."""
    if input.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _dim(dim, input.dim())
    if input.numel() == 0 and list(input.shape).count(0) > 1:
        raise RuntimeError("Number of zero sized dimensions is more than one, so unique cannot "
                           "be applied ")
    if input.numel() == 0 and input.shape[d] != 0:
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique "
                           "cannot be applied")
    arr = np.moveaxis(input.detach().numpy(), d, 0)
    return arr.reshape(arr.shape[0], math.prod(arr.shape[1:])), arr.shape, d


def _groups(starts):
    """(group of each row, counts) given the boolean `starts` of the groups."""
    group = np.cumsum(starts) - 1
    counts = np.diff(np.append(np.flatnonzero(starts), len(starts)))
    return group, counts


def _unique_result(node, fn, input, out, inverse, counts, return_inverse, return_counts):
    dt = input.dtype
    values = nodiff.result(node, out, dt, (input,),
                           (NotImplementedError, f"the derivative for '{fn}' is not "
                                                 f"implemented."))
    extra = []
    if return_inverse:
        extra.append(_wrap(inverse, D.int64))
    if return_counts:
        extra.append(_wrap(counts, D.int64))
    return (values, *extra) if extra else values


def _insertion_order(rows):
    """The order torch's std::sort leaves at most 16 rows in (libstdc++ sorts so few by
    insertion) under its comparison, the first element that is < or > decides: where a nan
    makes rows neither, they keep their places, which numpy's nan-last order does not."""
    def before(a, b):
        for x, y in zip(rows[a].tolist(), rows[b].tolist()):
            if x < y:
                return True
            if x > y:
                return False
        return False
    order = []
    for i in range(len(rows)):
        if order and before(i, order[0]):
            order.insert(0, i)
            continue
        at = len(order)
        while at > 0 and before(i, order[at - 1]):
            at -= 1
        order.insert(at, i)
    return np.array(order, dtype=np.int64)


def _unique_rows(rows, consecutive):
    """(order of the rows, group of each ordered row, counts) for unique along a dimension:
    rows sorted lexicographically (unless consecutive), equal neighbours (==, so nan never
    and -0.0 with 0.0) one group."""
    if consecutive:
        order = np.arange(len(rows))
    elif rows.dtype.kind == "f" and len(rows) <= 16 and np.isnan(rows).any():
        order = _insertion_order(rows)
    else:
        order = np.lexsort(rows.T[::-1])
    ordered = rows[order]
    starts = np.ones(len(rows), dtype=bool)
    if len(rows) > 1:
        starts[1:] = ~(ordered[1:] == ordered[:-1]).all(axis=1)
    return order, *_groups(starts)


def _unique_along(node, fn, input, dim, consecutive, return_inverse, return_counts):
    rows, shape, d = _unique_dim(input, dim)
    order, group, counts = _unique_rows(rows, consecutive)
    firsts = order[np.flatnonzero(np.append(True, np.diff(group) != 0))] if len(rows) else order
    out = np.moveaxis(rows[firsts].reshape((len(firsts),) + shape[1:]), 0, d)
    inverse = np.empty(len(rows), dtype=np.int64)
    inverse[order] = group
    return _unique_result(node, fn, input, out, inverse, counts, return_inverse,
                          return_counts)


def _flags(fn, **flags):
    # (torch's Python unique passes its flags on by keyword to its native op: only bools)
    for name, v in flags.items():
        _bool_arg(v, fn, name, None)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The unique elements of input, sorted (torch's CPU kernels sort whatever `sorted`
    says; each nan is its own), or its unique slices along `dim`; with return_inverse each
    element's index into them (input's shape, or along dim), with return_counts their
    counts (int64)."""
    fn = "_unique2" if dim is None else "unique_dim"
    _tensor_operand(fn, input, 1, "input")
    _flags(fn, sorted=sorted, return_inverse=return_inverse, return_counts=return_counts)
    if dim is not None:
        return _unique_along("UniqueDimBackward0", "unique_dim", input, dim, False,
                             return_inverse, return_counts)
    arr = input.detach().numpy()
    out, inverse, counts = np.unique(arr.reshape(-1), return_inverse=True, return_counts=True,
                                     equal_nan=False)
    return _unique_result("Unique2Backward0", "_unique2", input, out,
                          inverse.reshape(arr.shape), counts, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """input with each run of equal consecutive elements (or slices along `dim`) kept once;
    with return_inverse each element's run index, with return_counts the runs' lengths."""
    _flags("unique_consecutive", return_inverse=return_inverse, return_counts=return_counts)
    if dim is not None:
        return _unique_along("UniqueConsecutiveBackward0", "unique_consecutive", input, dim,
                             True, return_inverse, return_counts)
    arr = input.detach().numpy()
    flat = arr.reshape(-1)
    starts = np.ones(flat.size, dtype=bool)
    starts[1:] = flat[1:] != flat[:-1]
    group, counts = _groups(starts)
    return _unique_result("UniqueConsecutiveBackward0", "unique_consecutive", input,
                          flat[starts], group.reshape(arr.shape), counts, return_inverse,
                          return_counts)


@tensor_methods
class _SearchingMethods:
    """Tensor.argwhere, bincount, histc, gcd, lcm, isreal, unique, unique_consecutive (torch
    has no method form of isin, bucketize, searchsorted or unravel_index)."""

    def argwhere(self):
        return argwhere(self)

    def bincount(self, weights=None, minlength=0):
        if weights is not None:
            _tensor_operand("bincount", weights, 1, "weights")
        return bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):  # noqa: A002
        _int_arg(bins, "histc", "bins", 1)   # (the method's position)
        return histc(self, bins, min, max)

    def histogram(self, bins, *, range=None, weight=None, density=False):  # noqa: A002
        return histogram(self, bins, range=range, weight=weight, density=density)

    def gcd(self, other):
        return gcd(self, other)

    def lcm(self, other):
        return lcm(self, other)

    def isreal(self):
        return isreal(self)

    def unique(self, sorted=True, return_inverse=False, return_counts=False,  # noqa: A002
               dim=None):
        return unique(self, sorted, return_inverse, return_counts, dim)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        return unique_consecutive(self, return_inverse, return_counts, dim)

