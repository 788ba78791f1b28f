"""Order statistics and two structural functions, composed or recorded as torch records them.

  quantile, nanquantile   torch's composition (Sorting.cpp's quantile_impl): flatten or move
                          dim last, sort, view, ranks from q (tensor ops, so a q that
                          requires grad gets torch's gradient), gather below/above, lerp,
                          then squeeze_ / unsqueeze_.transpose_.squeeze_ (torch's nodes:
                          SortBackward0, GatherBackward0, LerpBackward1, SqueezeBackward4 ...)
  nanmedian               of all elements: a decomposition row (NanmedianBackward0), its
                          gradient split among the elements equal to it, as median()'s; along
                          dim: a gather row (NanmedianBackward1) at the index torch's
                          nth_element picks (a row of NaNs: the index libstdc++'s introselect
                          leaves first)
  mode                    a gather row (ModeBackward0) at the index torch's CPU kernel picks:
                          the (value, index) pairs sorted by value with libstdc++'s std::sort
                          (not stable), the smallest most frequent value, the index of the
                          last of its run
  rot90                   a gather row (Rot90Backward0) of the rotated positions
  pdist                   a decomposition row (PdistBackward0): the differences of the row
                          pairs i < j and their p-norms; its gradient is torch's
                          _pdist_backward (for p = inf: every tied coordinate gets it)
"""
import math

import numpy as np

from . import decomps, decomps_math as DM, dtypes as D, errors, return_types
from .composed import broadcast_tensors
from .creation import full_like, tensor
from .fpstate import quiet
from .mathops import vector_norm
from .stdsort import std_nth_element, std_sort
from .structops import _all, _dim_arg, _gather, _no_bool, _positions, _select, empty_median, \
    median_zero_first, tied_value
from .native_args import arg_error, dim_form_error, MISSING
from .tensor import _dim, _int_arg, _is_int_arg, Tensor, _tensor_operand, tensor_methods
from .tracing import _bake, _tracing
from .views import KIND_OPS

__all__ = ["quantile", "nanquantile", "nanmedian", "mode", "rot90", "pdist"]


def _never(x, y):
    return False


# ---- quantile -----------------------------------------------------------------------------
_MODES = ("linear", "lower", "higher", "midpoint", "nearest")
_SIG = ("quantile() received an invalid combination of arguments - got ({got}), but expected "
        "one of:\n * (Tensor input, Tensor q, int dim = None, bool keepdim = False, *, str "
        "interpolation = \"linear\", Tensor out = None)\n * (Tensor input, float q, int dim = "
        "None, bool keepdim = False, *, str interpolation = \"linear\", Tensor out = None)\n")


def _type_name(v):
    return "Tensor" if isinstance(v, Tensor) else errors.type_name(v)


_METHOD_SIG = ("{fn}() received an invalid combination of arguments - got ({got}), but "
               "expected one of:\n * (Tensor q, int dim = None, bool keepdim = False, *, str "
               "interpolation = \"linear\")\n * (float q, int dim = None, bool keepdim = False, "
               "*, str interpolation = \"linear\")\n")


def _quantile(fn, input, q, dim, keepdim, interpolation, ignore_nan, method=False):
    args = ([] if method else [input]) + [q] + ([dim] if dim is not None else []) \
        + ([keepdim] if keepdim is not False else [])
    bad = (not isinstance(input, Tensor)
           or not (isinstance(q, Tensor) or (isinstance(q, (int, float))
                                             and not isinstance(q, bool)))
           or not (dim is None or _is_int_arg(dim, True))   # (not a float tensor)
           or not isinstance(keepdim, bool) or not isinstance(interpolation, str))
    if bad:
        sig = _METHOD_SIG if method else _SIG.replace("quantile()", "{fn}()")
        raise TypeError(sig.format(fn=fn, got=", ".join(_type_name(v) for v in args)))
    if not isinstance(q, Tensor):
        q = float(q)
        if not 0 <= q <= 1:
            raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q:g}")
        q = tensor(q, dtype=input.dtype)
    if interpolation not in _MODES:
        raise RuntimeError("quantile() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    nd = input.dim()
    if input.numel() == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if q.dim() > 1:
        raise RuntimeError("quantile() q must be a scalar or 1D tensor")
    if input.dtype not in (D.float32, D.float64):
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if q.dtype is not input.dtype:
        raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
    d = _dim(0 if dim is None else dim.__index__(), nd)   # (after the checks, as torch's)
    if dim is not None and nd > 0:
        shape = list(input.shape)
        if keepdim:
            shape[d] = 1
        else:
            del shape[d]
    else:
        shape = [1] * nd if keepdim else []
    qa = q._array()
    if not bool(((qa >= 0) & (qa <= 1)).all()):
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    if dim is None:
        s = input.flatten().sort().values
    elif d == nd - 1:
        s = input.sort().values
    else:
        s = input.unsqueeze(-1).transpose(d, -1).sort().values
    n = s.shape[-1]
    s = s.view(*shape, n)
    if n > 2 ** 24:
        raise RuntimeError("quantile() input tensor is too large")
    if ignore_nan:
        ranks = q * (s.isnan().logical_not().sum(-1, True) - 1)
        ranks = ranks.masked_fill(ranks < 0, 0)
    else:
        last = n - 1
        r, nan = broadcast_tensors(q * last, s.isnan().any(-1, True))
        ranks = r.masked_fill(nan, last)
    if interpolation in ("lower", "higher", "nearest"):
        ranks = getattr(ranks.detach(), {"lower": "floor", "higher": "ceil",
                                         "nearest": "round"}[interpolation])()
    below = ranks.detach().long()
    out = s.gather(-1, below)
    if interpolation in ("linear", "midpoint"):
        weights = full_like(ranks, 0.5) if interpolation == "midpoint" else ranks - below
        above = ranks.detach().ceil().long()
        out = out.lerp(s.gather(-1, above), weights)
    if q.dim() == 0:
        return out.squeeze_(-1)
    return out.unsqueeze_(0).transpose_(0, -1).squeeze_(-1)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The q-th quantiles of input (all elements, or along dim), torch's composition."""
    if out is not None:
        raise NotImplementedError("quantile(out=...) is not supported by tapegrad")
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """quantile ignoring NaNs (a row of NaNs gives NaN)."""
    if out is not None:
        raise NotImplementedError("nanquantile(out=...) is not supported by tapegrad")
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


# ---- nanmedian, mode ----------------------------------------------------------------------
def _nanmedian_all(x):
    _no_bool("median_cpu", x)
    arr = x._array().reshape(-1)
    nan = np.isnan(arr) if arr.dtype.kind == "f" else np.zeros(arr.size, bool)
    m = arr.size - int(nan.sum())
    if arr.size == 0 or m == 0:
        # (an empty integer x's nan casts as C casts it: torch's int64 minimum, int8's 0)
        value = quiet(np.asarray(math.nan).astype, x._dtype.np) if arr.size == 0 or \
            arr.dtype.kind == "f" else arr[0]
        ties = np.flatnonzero(nan)
    else:
        value = np.sort(arr[~nan], kind="stable")[(m - 1) // 2]
        ties = median_zero_first(arr, np.flatnonzero(arr == value), (m - 1) // 2)
        value = arr[ties[0]]
    if arr.size == 0:
        return empty_median("nanmedian", x)
    if not x._recorded:
        return Tensor._wrap(np.asarray(value, x._dtype.np), x._dtype)

    out = decomps.record("nanmedian", lambda T, t: tied_value(t, ties), KIND_OPS, x)
    _guard_order(x.reshape(-1), 0)
    return out


def _nanmedian_index(row):
    """The index torch's nth_element leaves at the nanmedian's place in one row."""
    nan = np.isnan(row) if row.dtype.kind == "f" else np.zeros(row.size, bool)
    m = row.size - int(nan.sum())
    if m == 0:   # every comparison false: the index introselect leaves first
        idx = list(range(row.size))
        std_nth_element(idx, 0, _never)
        return idx[0]
    order = np.argsort(np.where(nan, np.inf, row) if nan.any() else row, kind="stable")
    order = order[~nan[order]] if nan.any() else order
    return int(order[(m - 1) // 2])


def _guard_order(x, d):
    """While recording for replay: the positions nanmedian and mode pick are baked into the
    tape, so guard what they depend on: the order of each row along d and which neighbours
    in that order are equal (and which are NaN).  Where these hold, libstdc++'s sort and
    nth_element make the same comparisons with the same outcomes, so pick the same index
    (sort & co guard their order likewise: structops)."""
    if _tracing(x) is None:
        return
    xs = x if x.dim() else x.reshape(1)
    arr = xs._array()
    n = arr.shape[d]
    if n < 2:
        return
    pos = np.take_along_axis(_positions(xs), np.argsort(arr, axis=d, kind="stable"), d)
    srt = _gather("take", xs, pos)
    lo, hi = srt.narrow(d, 0, n - 1), srt.narrow(d, 1, n - 1)
    a = np.take_along_axis(arr, np.argsort(arr, axis=d, kind="stable"), d)
    alo, ahi = np.take(a, range(n - 1), d), np.take(a, range(1, n), d)
    pattern = np.where(ahi > alo, 2.0, np.where(ahi == alo, 1.0, 0.0))
    now = (hi > lo).to(D.float64) * 2.0 + (hi == lo).to(D.float64)
    _all(now == Tensor._wrap(pattern, D.float64))
    _all(srt.isnan() == Tensor._wrap(np.isnan(a) if a.dtype.kind == "f"
                                     else np.zeros(a.shape, bool), D.bool_))


def _rows(x, d):
    a = x._array()
    a = a if a.ndim else a.reshape(1)
    return np.moveaxis(a, d, -1)


def nanmedian(input, dim=MISSING, keepdim=MISSING):
    """The lower median of the non-NaN elements: of all (NanmedianBackward0) or along dim
    ((values, indices), NanmedianBackward1)."""
    err = dim_form_error("nanmedian", False, (input,), dim, keepdim)
    if err is not None:   # (keepdim without dim, or dim=None: its dim is an int)
        raise err
    keepdim = False if keepdim is MISSING else keepdim
    if dim is MISSING:
        return _nanmedian_all(input)
    d = _dim_arg("nanmedian", input, dim)
    _no_bool("median_out", input)
    return return_types.nanmedian(_pick_per_row("nanmedian_dim", "median", input, d,
                                                _nanmedian_index, keepdim))


def _pick_per_row(op, what, input, d, pick, keepdim):
    """(values, indices) of row op `op` along dim d: in each row the element at pick(row),
    the row a numpy array (`what`: the name torch's error for an empty dim gives)."""
    n = input._shape[d] if input.dim() else 1
    if n == 0:
        raise IndexError(f"{what}(): Expected reduction dim {d} to have non-zero size.")
    rows = _rows(input, d)
    idx = np.array([pick(r) for r in rows.reshape(-1, n)], np.int64).reshape(rows.shape[:-1])
    values, indices = _select(op, input, d, np.expand_dims(idx, d), keepdim)
    _guard_order(input, d)
    return values, indices


def _mode_row(row):
    vals = row.tolist()
    elems = [(v, k) for k, v in enumerate(vals)]
    std_sort(elems, lambda i, j: i[0] < j[0])
    mode, modei, freq, best = 0, 0, 0, 0
    n = len(elems)
    for i in range(n):
        freq += 1
        if i == n - 1 or elems[i][0] != elems[i + 1][0]:
            if freq > best:
                mode, modei, best = elems[i][0], elems[i][1], freq
            freq = 0
    return modei


def mode(input, dim=-1, keepdim=False):
    """(values, indices): the most frequent value along dim (the smallest among equally
    frequent ones) and the index torch's CPU kernel reports for it (ModeBackward0)."""
    d = _dim_arg("mode", input, dim)
    return return_types.mode(_pick_per_row("mode", "mode", input, d, _mode_row, keepdim))


# ---- rot90, pdist -------------------------------------------------------------------------
def rot90(input, k=1, dims=(0, 1)):
    """input rotated by 90 degrees k times in the plane of dims, from dims[0] towards dims[1]
    (Rot90Backward0)."""
    _tensor_operand("rot90", input, 1, "input")
    k = _int_arg(k, "rot90", "k", 2).__index__()
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    nd = input.dim()
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = _dim(dims[0], nd), _dim(dims[1], nd)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = "
                           f"{dims[0]} and dim1 = {dims[1]}")
    pos = np.ascontiguousarray(np.rot90(_positions(input), int(k), (d0, d1)))
    return _gather("rot90", input, pos)


def _pdist_body(T, x, p):
    n = x.shape[0]
    i, j = np.triu_indices(n, 1)
    i, j = tensor(i.astype(np.int64)), tensor(j.astype(np.int64))
    diff = x.index_select(0, i) - x.index_select(0, j)
    if p == 0:
        return (diff != 0).sum(1).to(x.dtype) + (diff * 0).sum(1)
    if p == math.inf:
        dist = vector_norm(diff.detach(), math.inf, 1)
        a = diff.abs() * (diff.detach().abs() == dist.unsqueeze(1))
        s = a.sum(1)
        return dist + (s - s.detach())
    # (torch's kernel sums |d|^p also over one feature: float32 2e19 -> inf, as cdist's)
    return DM.vector_norm(KIND_OPS, diff, float(p), (1,), False)


def pdist(input, p=2):
    """The p-norm distances between the rows of a matrix, pairs i < j in row-major order
    (PdistBackward0)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pdist(): argument 'input' (position 1) must be Tensor, not "
                        f"{errors.type_name(input)}")
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"pdist(): argument 'p' (position 2) must be float, not "
                        f"{type(p).__name__}")
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if not p >= 0:
        raise RuntimeError("pdist only supports non-negative p values")
    p = float(p)
    if not input.is_contiguous():   # torch's input.contiguous() (CloneBackward0)
        input = input.contiguous()
    if not input._recorded:
        return _pdist_body(KIND_OPS, input, p)
    return decomps.record("pdist", lambda T, x: _pdist_body(T, x, p), KIND_OPS, input)


@tensor_methods
class _OrderMethods:
    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return _quantile("quantile", self, q, dim, keepdim, interpolation, False, True)

    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return _quantile("nanquantile", self, q, dim, keepdim, interpolation, True, True)

    def nanmedian(self, dim=MISSING, keepdim=MISSING):
        err = dim_form_error("nanmedian", True, (), dim, keepdim)
        if err is not None:
            raise err
        if keepdim is not MISSING and type(keepdim) is not bool:
            raise arg_error("nanmedian", True, (dim, keepdim))
        return nanmedian(self, dim, keepdim)

    def mode(self, dim=-1, keepdim=False):
        if type(keepdim) is not bool:
            raise arg_error("mode", True, (dim, keepdim))
        return mode(self, dim, keepdim)

    def rot90(self, k=1, dims=(0, 1)):
        return rot90(self, k, dims)
