"""Structural, indexing and sorting ops of issue #11 (torch's names, signatures and grad_fns),
on the existing kinds: no new kernel code.

  gather rows      flip, roll, repeat/tile, index_select, gather, take, masked_select, diag of a
                   matrix, and the values of sort/topk/kthvalue/median: one `gather` entry whose
                   params are the input's flat position of each output element (computed here
                   with numpy on an arange), so the gradient goes to exactly those positions and
                   repeated positions accumulate
  strided rows     diagonal (a view: offset and strides), narrow (SliceBackward0), movedim
                   (PermuteBackward0)
  scatter_idx      diag_embed / diag of a vector (zeros, the input added at its positions)
  where rows       tril, triu, masked_fill, scatter(value), index_fill: where(keep, input, value)
                   with `keep` a constant mask
  decompositions   trace, median(), scatter(src), scatter_add, index_add, index_copy
                   (tapegrad/decomps.py: primitives shown as torch's one node)
  compositions     hstack/vstack, tile, repeat_interleave, unflatten: what torch's own
                   composite implementations record
(products: addmm, outer, einsum, tensordot, kron, cross are in tapegrad/products.py)

sort & co return index-valued results.  While `tapegrad.record` traces, the positions they
found are baked into the tape, so each records a guard (a comparison count the replay
re-checks: `BranchChanged` when the order or the selection changed).  Value-dependent shapes
(masked_select with a traced mask, nonzero, where(cond)) bake the mask as a value guard, as
`x[mask]` does (`TracingError` with `record(strict=True)`).
"""
import functools
import math

import numpy as np

from . import decomps, dtypes as D, errors, layouts, return_types
from .aligned import storage_error
from .creation import zeros
from .fpstate import quiet
from .graph import show_edges
from .native_args import _MISSING, arg_error, dim_form_error, given, Overloads
from ._jit import kernel_module
from .ndops import _binary, _import_extremes, _use_extremes, where
from .ops import OPS
from .overlap import shares_elements, write_expanded
from .recording import keep_args, _record_start, _result, _tape_of
from .stdsort import (by_value_greater, by_value_less, dim_last, quick_select,
                      std_nth_element, std_sort, topk_ties)
from .parameter import Parameter
from .tape import input_node, OP_CONST, refuse_inference_index, saves_indices, STATE
from .tensor import (_dim, _int_arg, _int_list, _is_dim_item, _is_int_arg, _is_int_item, _layout_dim, _new, Tensor,
                     _tensor_operand, tensor_methods)
from .tracing import _bake, _tracing, guard_all as _all, guard_nans
from .views import _strided, _strided_view, cat, index_scatter, KIND_OPS, strided_over, \
    _tensor_list


# ---- helpers ------------------------------------------------------------------------------
def _positions(x):
    """Flat position of every element of x, in x's shape (int64)."""
    return np.arange(x.numel(), dtype=np.int64).reshape(x._shape)


def _saves_index(at, name):
    """An op whose torch node saves its index (or mask) argument, positional `at` or keyword
    `name`: its recorded result is watched for an in-place change of it (tape.saves_indices)."""
    def wrap(op):
        @functools.wraps(op)
        def saving(*args, **kwargs):
            r = op(*args, **kwargs)
            if isinstance(r, Tensor) and r._tape is not None:
                saves_indices(r, (args[at] if len(args) > at else kwargs.get(name),))
            return r
        return saving
    return wrap


def _gather(name, x, pos, preserve=False, out=None):
    """x's elements at flat positions `pos` (an int array of the result's shape): one gather
    entry of op `name` whose params are the positions.  `preserve`: pos has x's shape and
    the result x's layout (layouts.preserving), else it is row-major.  `out`: those elements
    (a fresh row-major array), when the caller has them."""
    pos = np.asarray(pos, np.int64)
    xa = x._array()
    if out is None:   # (take: one call, a fresh row-major array; of a 0-d pos, a scalar)
        out = xa.take(pos) if pos.ndim else np.array(xa.reshape(-1)[pos.reshape(-1)].reshape(()))
    if preserve:
        out = layouts.preserving(xa, out)
    tape = _tape_of(x)
    if tape is None:
        return Tensor._wrap(out, x._dtype)
    op = OPS[name]
    a = input_node(tape, x)
    # (gather, take, masked_select, cummax, cummin: torch's node saves self too)
    t = _result(out, x._dtype, tape, op.code, a, -1, 0.0,
                (("a", a, x._array()),) if "a" in op.saves else ())
    tape.add_params(t._node, pos.reshape(-1))
    return t


def _index_array(fn, index, name="index"):
    """An integer index tensor's values (torch's dtype check); traced indices are baked into
    the recorded tape with a value guard, as `x[index]`'s."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {errors.type_name(index)}")
    if index._dtype is not D.int64 and (index._dtype is not D.int32 or fn in _LONG_ONLY):
        raise _index_dtype_error(fn, index._dtype, name)
    return index._array().astype(np.int64)


_LONG_ONLY = ("index_copy", "index_fill", "take")   # (torch takes int32 indices elsewhere)


def _index_dtype_error(fn, dt, name):
    """torch's error for an index tensor of dtype dt given to `fn` (each kernel words it its
    own way; the scatter family's all name scatter)."""
    if fn in ("index_copy", "take"):
        return RuntimeError(f"{'index_copy_' if fn == 'index_copy' else fn}(): Expected a long "
                            f"tensor for index, but got {dt.legacy}")
    if fn == "index_fill":
        return IndexError("index_fill_(): Expected dtype int64 for index.")
    if fn in ("index_add", "index_reduce"):
        return RuntimeError(f"{fn}_(): Expected dtype int32/int64 for index but got: "
                            f"{dt.legacy}")
    if fn == "index_select":
        return RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    if fn == "gather" or fn.startswith("scatter"):
        return RuntimeError(f"{'gather' if fn == 'gather' else 'scatter'}(): Expected dtype "
                            f"int32/int64 for index")
    return RuntimeError(f"{fn}(): Expected dtype int64 for {name}")


def _where_mask(name, x, keep, value, row_major=False, preserve=False):
    """where(keep, x, value) recorded as op `name` (a where-kind row); `keep` a bool array or
    a (possibly traced) bool tensor.  Without history: numpy, keeping x's dtype.
    `row_major`: the result row-major; `preserve`: in x's layout as torch's empty_like(x)
    (layouts.preserving); else as numpy lays it out."""
    vrg = isinstance(value, Tensor) and value._recorded
    if not (x._recorded or vrg) or _record_start(x, value if vrg else None) is None:
        ka = keep._array() if isinstance(keep, Tensor) else keep
        v = value._array() if isinstance(value, Tensor) else value
        xa = x._array()
        out = np.where(ka, xa, np.asarray(v).astype(x._dtype.np))
        out = np.array(np.broadcast_to(out, x._shape), x._dtype.np,
                       order="C" if row_major else "K")
        return Tensor._wrap(layouts.preserving(xa, out) if preserve else out, x._dtype)
    if not isinstance(keep, Tensor):
        keep = Tensor._wrap(np.asarray(keep, bool), D.bool_)
    if isinstance(value, Tensor) and value._dtype is not x._dtype:
        value = value.to(x._dtype)
    r = where(keep, x, value, _op=name, _row_major=row_major)
    if preserve:   # (a fresh result: nothing but its tape holds its array, as _row_major)
        r._v = layouts.preserving(x._array(), r._v)
    return r


def _pre_read(x):
    """A decomposition's first entry reading x (a copy: not a view, so an in-place op that
    rebases x onto the decomposition's result leaves no view behind), so that its grad_fn
    lists x first in next_functions (groups list inputs in the order the members read them)."""
    return x.clone() if x._recorded else x


# ---- sort & co ----------------------------------------------------------------------------
def _argsort(arr, d, descending):
    """Stable argsort along d; NaN is the largest value (first when descending), as torch."""
    if not descending:
        return arr.argsort(axis=d, kind="stable")
    n = arr.shape[d]
    flip = (slice(None),) * d + (slice(None, None, -1),)   # (np.flip's view, without its layer)
    return n - 1 - arr[flip].argsort(axis=d, kind="stable")[flip]


# The flat positions of a row-major shape's elements with their index along one dim 0, and
# that dim's stride: positions along d are these plus index * stride (as take_along_axis of
# _positions, without building and indexing them per call).
_ALONG = {}   # (shape, d) -> (positions (shape with 1 at d), stride)


def _along(shape, d):
    got = _ALONG.get((shape, d))
    if got is None:
        stride = math.prod(shape[d + 1:])
        first = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)[
            (slice(None),) * d + (slice(0, 1),)].copy()
        first.flags.writeable = False
        got = (first, stride)
        if first.size <= 1 << 16:   # (a large one: its set-up is small beside the work)
            if len(_ALONG) >= 1024:
                _ALONG.clear()
            _ALONG[shape, d] = got
    return got


def _dim_arg(fn, x, dim):
    # (torch's message as for a dim given by keyword: no position)
    return _dim(dim, x.dim(), fn, "dim", None)


def _select(name, x, d, idx, keepdim=True, preserve=False):
    """(values, indices) for positions `idx` along d (int array, keepdim layout): values a
    gather entry of op `name`, indices int64; both in x's layout given `preserve` (sort's:
    torch's writes into empty_like(self)), else row-major."""
    first, stride = _along(x._shape or (1,), d)
    pos = first + idx * stride
    if not keepdim:
        pos, idx = np.squeeze(pos, d), np.squeeze(idx, d)
    if not x.dim():
        pos, idx = pos.reshape(()), idx.reshape(())
    if preserve:
        return _gather(name, x, pos, True), Tensor._wrap(
            layouts.preserving(x._array(), np.asarray(idx, np.int64)), D.int64)
    # (row-major: the tie orders and a dim other than the last leave moved views)
    pos, idx = np.asarray(pos, order="C"), np.asarray(idx, np.int64, order="C")
    return _gather(name, x, pos), Tensor._wrap(idx, D.int64)


def _argsorted(x, d, descending):
    arr = x._array()
    return _argsort(arr if arr.ndim else arr.reshape(1), d, descending)


# torch's two forms of sort and argsort: with `stable` (keyword only, and dim and
# descending then too; torch's sort.stable, whose node is SortBackward1) and without
_SORT_FORMS = ("*, bool? stable, int dim = -1, bool descending = False",
               "int dim = -1, bool descending = False")
_SORT_ARGS = {
    "sort": (Overloads("sort", [f"Tensor input, {_SORT_FORMS[0]}, tuple of Tensors out = None",
                                f"Tensor input, {_SORT_FORMS[1]}, *, tuple of Tensors out = "
                                f"None"]),
             Overloads("sort", _SORT_FORMS)),
    "argsort": (Overloads("argsort", [f"Tensor input, {_SORT_FORMS[0]}, Tensor out = None",
                                      f"Tensor input, {_SORT_FORMS[1]}"]),
                Overloads("argsort", _SORT_FORMS)),
}


def _sort_args(fn, method, args, kwargs):
    """(input or None, dim, descending, stable or None for the form without it)."""
    form, got = _SORT_ARGS[fn][method].parse(args, kwargs)
    if not method:
        got = got[1:]
    if form:
        stable, (dim, descending) = None, got[:2]
    else:
        stable, dim, descending = got[:3]
        stable = bool(stable)   # (None: False)
    return (-1 if dim is _MISSING else dim, bool(descending) if descending is not _MISSING
            else False, stable)


def sort(*args, **kwargs):
    """(values, indices) sorted along dim (SortBackward0, SortBackward1 given `stable`); NaN
    sorts as the largest value; ties in torch's order: kept with stable=True, std::sort's
    otherwise (_sort_ties).  The gradient goes to each value's index."""
    return _sort(args[0] if args else kwargs.get("input"), *_sort_args("sort", 0, args, kwargs))


def _sort(input, dim=-1, descending=False, stable=None):
    d = _dim_arg("sort", input, dim)
    idx = _argsorted(input, d, descending)
    if not stable and input.dim() and input._shape[d] > _INSERTION_SORT:
        idx = _sort_ties(input._array(), idx, d, descending)
    values, indices = _select("sort" if stable is None else "sort_stable", input, d, idx,
                              preserve=True)
    keep_args(values, dim=int(dim), indices=indices)
    if _tracing(values) is not None and input.dim() and input._shape[d] > 1:
        guard_nans(input)
        _guard_sorted(values, d, descending)
    return return_types.sort((values, indices))


# NOTE: besides the order, where neighbours tie is guarded (guard_all pins the recorded
# pattern): the order of tied elements, and so where their gradients go, is chosen at the
# recording point, so a replay point with a tie the recording had not (or without one it
# had) raises BranchChanged.
def _guard_sorted(values, d, descending):
    n = values._shape[d]
    lo, hi = values.narrow(d, 0, n - 1), values.narrow(d, 1, n - 1)
    _all(hi <= lo if descending else hi >= lo)
    _all(hi != lo)


def argsort(*args, **kwargs):
    """The indices that sort input along dim (int64, no gradient)."""
    return _argsort_of(args[0] if args else kwargs.get("input"),
                       *_sort_args("argsort", 0, args, kwargs))


def _argsort_of(input, dim=-1, descending=False, stable=None):
    d = _dim_arg("argsort", input, dim)
    if _tracing(input) is not None:
        return _sort(input, d, descending, stable).indices
    idx = _argsorted(input, d, descending)
    if not stable and input.dim() and input._shape[d] > _INSERTION_SORT:
        idx = _sort_ties(input._array(), idx, d, descending)
    return Tensor._wrap(layouts.preserving(input._array(), np.asarray(
        idx if input.dim() else idx.reshape(()), np.int64)), D.int64)


def msort(input):
    """input sorted along its first dim (SortBackward0)."""
    return _sort(input, 0).values


def _no_bool(fn, x):
    """torch's error for a kernel `fn` without a bool instance."""
    if x.dtype is D.bool_:
        raise NotImplementedError(f"\"{fn}\" not implemented for 'Bool'")


def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (smallest) elements along dim (TopkBackward0),
    sorted unless `sorted` is False; among ties (and unsorted) in torch's order."""
    _tensor_operand("topk", input, 1, "input")
    k = _int_arg(k, "topk", "k", 2, _is_int_item).__index__()   # (SymInt k)
    d = _dim_arg("topk", input, dim)
    n = input._shape[d] if input.dim() else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    if input.dtype is D.bool_:   # (after k's check, as torch's)
        raise RuntimeError("topk does not support bool dtypes on CPU")
    nd = len(input._shape)
    fast = _topk_untied(input, k, largest) if (
        0 < k < n and sorted and d == nd - 1 and input._dtype.is_floating_point) \
        else None
    if fast is not None:   # (_select's results, from the positions and values found)
        idx, pos, top = fast
        values, indices = _gather("topk", input, pos, out=top), Tensor._wrap(idx, D.int64)
    else:
        idx = _argsorted(input, d, largest)
        idx = idx[(slice(None),) * d + (slice(0, k),)].copy()   # (row-major: the indices')
        if k and n > 1:
            idx = topk_ties(input._array(), idx, k, d, largest, sorted)
        values, indices = _select("topk", input, d, idx)
    keep_args(values, dim=int(dim), indices=indices)
    if _tracing(values) is not None and 0 < k < n and input.dim():
        # the k found are still the top k: sorted, and every element beyond the k-th is among
        # them (each row has at least as many as its top-k part: the totals are equal iff
        # every row's are)
        guard_nans(input)
        _guard_sorted(values, d, largest)
        m = values.narrow(d, k - 1, 1)
        beyond = (input > m, values > m) if largest else (input < m, values < m)
        bool(beyond[0].sum() == beyond[1].sum())
        bool((input == m).sum() == (values == m).sum())   # (no tie left out: _guard_sorted)
    return return_types.topk((values, indices))


_TOP_LOOP_K = 16   # the largest k whose untied top k _extremes.top_untied finds


def _topk_untied(x, k, largest):
    """topk's (indices, their flat positions in x, values), sorted, along the last dim of a
    float tensor x of one or more dims when no tie decides them, else None (then topk_ties'
    order): rows without nan whose k picked values are distinct and whose k-th value is
    nowhere else in the row, where every order picks the same k in the same order; found by
    one stable argsort of the values (negated for the largest: the descending order without
    _argsort's flips)."""
    arr = x._array()
    if k <= _TOP_LOOP_K and _use_extremes(x, arr):
        # (the same, in one Numba loop: tapegrad._extremes; its insertions cost up to k
        # steps an element, so a small k only)
        n = arr.shape[-1]
        ext = kernel_module("tapegrad._extremes", "_extremes.py", _import_extremes)
        idx, pos, top, ok = ext.top_untied(np.ascontiguousarray(arr).reshape(-1, n), int(k),
                                           bool(largest))
        if not ok:
            return None
        shape = arr.shape[:-1] + (k,)
        return idx.reshape(shape), pos.reshape(shape), top.reshape(shape)
    if np.count_nonzero(arr != arr):   # (nan; count_nonzero: no Python layer as any()'s)
        return None
    order = (np.negative(arr) if largest else arr).argsort(axis=-1, kind="stable")
    idx = order[..., :k].copy()
    first, stride = _along(x._shape, arr.ndim - 1)
    pos = first + idx                  # (stride 1: the last dim)
    top = arr.take(pos)
    # (each row holds its k-th value once: as many such values as rows)
    if np.count_nonzero(top[..., 1:] == top[..., :-1]) or \
            np.count_nonzero(arr == top[..., k - 1:k]) != arr.size // arr.shape[-1]:
        return None
    return idx, pos, top


_INSERTION_SORT = 16     # libstdc++'s std::sort sorts up to this many by insertion: stable
_SORT_TIES_MAX = 1 << 15   # elements of tied rows sorted in Python per call (~1 s); past it,
#                            the stable order (docs/semantics.md)


def _sort_ties(arr, idx, d, descending):
    """idx (a stable argsort along d) with each row that has ties in the order torch's
    sort(stable=False) leaves them: libstdc++'s std::sort of (value, index) pairs compared
    by value, NaN largest (torch's KeyValueCompAsc/Desc), as long as the tied rows hold at
    most _SORT_TIES_MAX elements in all."""
    rows = dim_last(arr, d)
    n = rows.shape[-1]
    # (the rows' values sorted: np.sort's, not idx's order taken, ~2 us less; whether a row
    # has two equal neighbours, or two nan, is the same in any sorted order of its values)
    ordered = np.sort(rows, axis=-1)
    same = ordered[..., 1:] == ordered[..., :-1]
    # (count_nonzero: no Python layer as any()'s; no nan and no tie, the common rows: idx)
    if rows.dtype.kind == "f" and np.count_nonzero(ordered != ordered):
        same |= np.isnan(ordered[..., 1:]) & np.isnan(ordered[..., :-1])
    if not np.count_nonzero(same):
        return idx
    tied = same.any(-1).reshape(-1).nonzero()[0]
    if not tied.size or tied.size * n > _SORT_TIES_MAX:
        return idx
    less = by_value_greater if descending else by_value_less
    flat_rows = rows.reshape(-1, n)
    out = np.moveaxis(idx, d, -1).copy()
    flat_out = out.reshape(-1, n)
    for r in tied.tolist():
        pairs = list(zip(flat_rows[r].tolist(), range(n)))
        std_sort(pairs, less)
        flat_out[r] = [j for _, j in pairs]
    return np.moveaxis(out, -1, d)


def _kth(name, x, k, d, keepdim, tuple_type):
    n = x._shape[d] if x.dim() else 1
    idx = np.take(_argsorted(x, d, False), [k - 1], axis=d)
    arr = x._array()
    if name == "kthvalue" and n > 1:
        idx = _kth_ties(arr, idx, k, d)
    if name in ("median", "median_dim") and arr.dtype.kind == "f" and n:
        # torch's median propagates NaN: the first NaN of a row is its median
        a = arr if arr.ndim else arr.reshape(1)
        nan = np.isnan(a)
        has = nan.any(axis=d, keepdims=True)
        idx = np.where(has, np.argmax(nan, axis=d, keepdims=True), idx)
    values, indices = _select(name, x, d, idx, keepdim)
    if _tracing(values) is not None and n > 1:
        v = values if keepdim or not x.dim() else values.unsqueeze(d)
        guard_nans(x)
        _all((x < v).sum(d) <= k - 1)
        _all((x <= v).sum(d) >= k)
        _all((x == v).sum(d) == 1)   # (ties at the k-th value: see _guard_sorted's NOTE)
    return values if tuple_type is None else tuple_type((values, indices))


def _kth_ties(arr, idx, k, d):
    """idx (the k-th smallest's index along d of each row, from a stable argsort) with each
    row whose k-th value is tied (NaNs alike) picked as torch's CPU kthvalue picks it."""
    rows = np.moveaxis(arr, d, -1)
    picked = np.take_along_axis(rows, np.moveaxis(idx, d, -1), -1)
    same = rows == picked
    if rows.dtype.kind == "f":
        same |= np.isnan(rows) & np.isnan(picked)
    tied = np.flatnonzero(same.sum(-1) > 1)
    if not tied.size:
        return idx
    n = rows.shape[-1]
    flat_rows = rows.reshape(-1, n)
    out = np.moveaxis(idx, d, -1).copy()
    flat_out = out.reshape(-1)
    for r in tied.tolist():
        flat_out[r] = quick_select(flat_rows[r].tolist(), k - 1)
    return np.moveaxis(out, -1, d)


def _median_all(x):
    """The lower median of all elements (NaN if any is NaN); as torch, its gradient is split
    evenly among the elements equal to it (the NaNs, for a NaN): a decomposition, the mean
    of a gather of those elements."""
    n = x.numel()
    if n == 0:
        return empty_median("median", x)
    arr = x._array().reshape(-1)
    nan = np.isnan(arr) if arr.dtype.kind == "f" else np.zeros(n, bool)
    k = (n + 1) // 2
    # (the k-th smallest by a partition, O(n), not a sort, 4096 floats: ~80 -> ~10 us; only
    # its value counts: the result is the first element equal to it, a zero of torch's sign)
    value = np.partition(arr, k - 1)[k - 1]
    ties = np.flatnonzero(nan) if nan.any() else median_zero_first(
        arr, np.flatnonzero(arr == value), k - 1)
    if not x._recorded or _record_start(x) is None:
        return Tensor._wrap(np.asarray(arr[ties[0]]), x._dtype)

    out = decomps.record("median", lambda T, t: tied_value(t, ties), KIND_OPS, x)
    if _tracing(out) is not None:
        guard_nans(x)   # (with a nan: the median is the first nan, where they all are)
    if _tracing(out) is not None and not nan.any():
        # the tied elements found are still the median's, and no other element equals it
        _all((x < out).sum() <= k - 1)
        _all((x <= out).sum() >= k)
        bool((x == out).sum() == len(ties))
    return out


def empty_median(name, x):
    """median / nanmedian (row `name`) of all elements of an empty x: nan, and recorded where
    x requires grad (its gradient empty), as torch's; an integer x's is nan cast as C casts
    it, as torch's (int64's minimum, 0 for int8)."""
    if not x._recorded or _record_start(x) is None:
        return Tensor._wrap(quiet(np.asarray(math.nan).astype, x._dtype.np), x._dtype)
    return decomps.record(name, lambda T, t: t.sum() + math.nan, KIND_OPS, x)


# NOTE: the value is the tied element itself (a mean of equal values can round off it: 0.6 / 3
# is not 0.2, and a replay's guards compare with it), the gradient split evenly among the
# tied ones (the mean's), as torch's median / nanmedian of all elements.  The mean divides
# before it sums (two tied -3e38 in float32 overflowed to -inf, and -inf - -inf is nan); at
# an infinite tie the value is the mean itself
def median_zero_first(arr, ties, nth):
    """`ties` (the flat positions of arr equal to its all-elements median or nanmedian, the
    element at sorted position `nth`) reordered, where they are zeros of both signs, so that
    the first is a zero of the sign torch's median_impl returns: the element libstdc++'s
    std::nth_element (NaN largest) leaves at nth of the flattened clone (a rule of the
    comparisons, not of vector lanes).  Python work, only in that case."""
    if len(ties) < 2 or arr.dtype.kind != "f" or arr[ties[0]] != 0:
        return ties
    neg = np.signbit(arr[ties])
    if neg.all() or not neg.any():
        return ties
    vals = arr.tolist()
    std_nth_element(vals, nth, lambda a, b: a < b or b != b and a == a)
    first = int(np.argmax(neg == (math.copysign(1.0, vals[nth]) < 0)))
    return np.concatenate([ties[first:first + 1], ties[:first], ties[first + 1:]])


def tied_value(t, ties):
    """The element of t at flat positions `ties` (all equal, or all nan)."""
    tied = _gather("take", t, ties)
    if len(ties) == 1:   # (the element itself: a mean of one -0.0 would be +0.0)
        return tied.reshape(())
    mean = (tied / len(ties)).sum()
    first = tied[0].detach()
    # (first - 0.0 keeps a -0.0 first's sign, as torch's value; mean - mean.detach() + first
    # would not: +0.0 + -0.0 is +0.0)
    return where(first.isfinite(), first - (mean.detach() - mean), mean)


def kthvalue(input, k, dim=-1, keepdim=False):
    """(values, indices) of the k-th smallest element along dim (KthvalueBackward0)."""
    _tensor_operand("kthvalue", input, 1, "input")
    k = _int_arg(k, "kthvalue", "k", 2, _is_int_item).__index__()   # (SymInt k)
    d = _dim_arg("kthvalue", input, dim)
    n = input._shape[d] if input.dim() else 1
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    _no_bool("kthvalue_cpu", input)   # (after k's check, as torch's)
    return _kth("kthvalue", input, int(k), d, keepdim, return_types.kthvalue)


def median(input, dim=_MISSING, keepdim=_MISSING):
    """The lower median: of all elements (MedianBackward0, a 0-d tensor) or along dim
    ((values, indices), MedianBackward1); NaN propagates.  The gradient goes to the index."""
    err = dim_form_error("median", False, (input,), dim, keepdim)
    if err is not None:   # (keepdim without dim, or dim=None: its dim is an int)
        raise err
    keepdim = False if keepdim is _MISSING else keepdim
    if dim is _MISSING:
        _no_bool("median_cpu", input)
        return _median_all(input)
    d = _dim_arg("median", input, dim)
    _no_bool("median_out", input)
    n = input._shape[d] if input.dim() else 1
    if n == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    return _kth("median_dim", input, (n + 1) // 2, d, keepdim, return_types.median)


# ---- gathers ------------------------------------------------------------------------------
def fliplr(input):
    """input reversed along dim 1 (FlipBackward0)."""
    return input.fliplr()


def flipud(input):
    """input reversed along dim 0 (FlipBackward0)."""
    return input.flipud()


def flip(input, dims):
    """input reversed along dims (FlipBackward0)."""
    dims = _int_list((dims,), "flip", "dims", 2, bare=False, ok=_is_dim_item)
    nd = input.dim()
    ds = [_dim(d, nd) for d in dims]
    for d in ds:
        if ds.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    pos = _positions(input)
    return keep_args(_gather("flip", input, np.flip(pos, ds) if nd else pos, True),
                     dims=tuple(int(d) for d in dims))


def _shifts(shifts, pos):
    """roll's shifts (its int[1], argument `pos`) as torch's parser reads them."""
    if isinstance(shifts, Tensor) and shifts._dtype is D.bool_ and shifts.numel() == 1:
        # (a bare one-element tensor is read as the int it holds, a bool one too: only a
        # list's elements must be integral)
        shifts = int(shifts.item())
    return _int_list((shifts,), "roll", "shifts", pos)


def roll(input, shifts, dims=None):
    """input rolled by shifts along dims (flattened when dims is None: RollBackward0)."""
    shifts = _shifts(shifts, 2)
    pos = _positions(input)
    if dims is None or (isinstance(dims, (tuple, list)) and not dims):
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               f"dims:0")
        return keep_args(_gather("roll", input, np.roll(pos, int(shifts[0]))),
                         shifts=tuple(int(s) for s in shifts), dims=())
    dims = _int_list((dims,), "roll", "dims", 3, ok=_is_dim_item)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    if input.numel() == 0:   # (torch returns an empty input as it is, its dims unchecked)
        return _gather("roll", input, pos)
    # (a 0-d input has no dim to roll along: torch's "Dimension specified as 0 ...")
    ds = tuple(_layout_dim(int(d), input.dim()) for d in dims)
    return keep_args(_gather("roll", input, np.roll(pos, tuple(int(s) for s in shifts), ds)),
                     shifts=tuple(int(s) for s in shifts), dims=tuple(int(d) for d in dims))


def repeat(input, *sizes):
    """input tiled sizes times along each dim (RepeatBackward0)."""
    sizes = _int_list(sizes, "repeat", "repeats")
    if len(sizes) < input.dim():
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    if any(s < 0 for s in sizes):   # (torch names the first negative size of the result)
        shape = [s * n for s, n in zip(sizes, (1,) * (len(sizes) - input.dim()) + input.shape)]
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{next(n for n in shape if n < 0)}: {shape}")
    try:
        pos = np.tile(_positions(input), sizes)
    except (MemoryError, ValueError):   # (numpy's, for its positions: torch's, for the result)
        shape = tuple(s * n for s, n in zip(sizes, (1,) * (len(sizes) - input.dim()) +
                                            tuple(input.shape)))
        raise storage_error(shape, input.dtype.itemsize) from None
    return keep_args(_gather("repeat", input, pos), repeats=tuple(int(s) for s in sizes))


def tile(input, dims):
    """repeat with dims padded by leading 1s to input's rank (RepeatBackward0)."""
    dims = _int_list((dims,), "tile", "dims", 2, bare=False)
    dims = (1,) * (input.dim() - len(dims)) + dims
    return repeat(input, dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element repeated `repeats` times along dim (flattened first when dim is None),
    recorded as torch's: unsqueeze, expand, clone, view for an int; index_select for a
    tensor of repeats."""
    if repeats is None:   # repeat_interleave(repeats): each index repeated (torch's overload)
        if not isinstance(input, Tensor) or input.dim() > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        repeats = input.reshape(-1)
        input = Tensor._wrap(np.arange(repeats.numel(), dtype=np.int64), D.int64)
        return repeat_interleave(input, repeats, 0, output_size=output_size)
    if not isinstance(repeats, Tensor) and not _is_int_arg(repeats, True):
        raise _repeats_error(False, input, repeats, dim, output_size)
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else _dim(dim, x.dim())
    if not x.dim():   # (torch unsqueezes after dim: out of a 0-d tensor's range)
        _dim(d + 1, 0)
    n = x._shape[d] if x.dim() else 1
    if isinstance(repeats, Tensor):   # (one repeat count too: index_select, as torch)
        if repeats.dim() > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        if repeats.numel() != 1 and repeats.numel() != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {repeats.numel()} and input.size(0) = {n}")
        if repeats._dtype is not D.int64 and repeats._dtype is not D.int32:
            raise NotImplementedError(f'"repeat_interleave_cpu" not implemented for '
                                      f"'{repeats._dtype.legacy}'")
        r = np.broadcast_to(repeats._array().astype(np.int64).reshape(-1), (n,))
        if (r < 0).any():
            raise RuntimeError("repeats can not be negative")
        if output_size is not None and output_size != r.sum():
            raise RuntimeError("allocated size does not match required size")
        idx = np.repeat(np.arange(n), r)
        return index_select(x, d, Tensor._wrap(idx.astype(np.int64), D.int64))
    r = int(repeats)
    if r < 0:
        raise RuntimeError("Repeats must be non-negative")
    if output_size is not None and output_size != r * n:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {r * n} but got "
                           f"{output_size}")
    if not x.dim():
        x = x.reshape(1)
    shape = x._shape
    # (torch's clone is row-major, so the view always works: ViewBackward0 of a transposed x)
    y = x.unsqueeze(d + 1).expand(*(shape[:d + 1] + (r,) + shape[d + 1:])).clone(
        memory_format=layouts.contiguous_format)
    return y.view(shape[:d] + (shape[d] * r,) + shape[d + 1:])


def _repeats_error(method, input, repeats, dim, output_size):
    """torch's parser's TypeError for repeats no form of repeat_interleave takes (a float, a
    bool: int() read them as counts)."""
    args = ((repeats,) if method else (input, repeats)) + (() if dim is None else (dim,))
    return arg_error("repeat_interleave", method, args,
                     {} if output_size is None else {"output_size": output_size})


@_saves_index(2, "index")
def index_select(input, dim, index):
    """input's slices along dim at the 1-d index (IndexSelectBackward0; repeated indices
    accumulate their gradients)."""
    nd = input.dim()
    d = _dim(dim, nd, "index_select")   # (before the index's checks, as torch)
    idx = _index_array("index_select", index)
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if isinstance(index, Tensor) and index._recorded:
        _bake(index, "guard_value")
    n = input._shape[d] if nd else 1
    idx = idx.reshape(-1)
    if not nd and idx.size != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                           f"{idx.size} value(s)")
    if n == 0 and idx.size and nd > 1:   # (a 1-d input: the range error below, as torch's)
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    # (the range by two C reductions, ~0.5 us less than a mask's three calls and its pick;
    # the first index out of it picked only to word the error)
    if idx.size and (_min_reduce(idx) < 0 or _max_reduce(idx) >= n):
        bad = idx[(idx < 0) | (idx >= n)]
        if nd > 1 and d == 1:   # (torch's kernel for dim 1 words it its own way)
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={int(bad[0])} "
                               f"axis_dim={n}")
        raise IndexError("index out of range in self")
    pos = _positions(input)
    # (of a 0-d input, a 0-d result as torch's; the method, not np.take's Python layer)
    return keep_args(_gather("index_select", input, pos.take(idx, d) if nd else pos),
                     dim=int(dim), index=index)


_min_reduce, _max_reduce = np.minimum.reduce, np.maximum.reduce


@_saves_index(2, "index")
def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j] = input[i][index[i][j]] for dim=1 (GatherBackward0)."""
    if isinstance(index, Tensor) and index.numel() == 0:
        # torch's gather meta checks an empty index for nothing but dim (any dtype, any
        # dims): the result is empty in index's shape
        _dim(dim, input.dim(), "gather")
        return keep_args(_gather("gather", input, np.zeros(index.shape, np.int64)),
                         dim=int(dim), index=index, sparse_grad=sparse_grad)
    idx = _index_array("gather", index)
    refuse_inference_index(input, index)
    nd = input.dim()
    d = _dim(dim, nd, "gather")
    if max(idx.ndim, 1) != max(nd, 1):   # (torch counts a 0-d tensor as 1-d here)
        raise RuntimeError("Index tensor must have the same number of dimensions as input "
                           "tensor")
    pos = _positions(input) if nd else _positions(input).reshape(1)
    ix = idx if idx.ndim else idx.reshape(1)
    for k in range(ix.ndim):
        if k != d and ix.shape[k] > pos.shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(ix.shape)} to be no larger than self {list(pos.shape)} "
                               f"apart from dimension {d}")
    bad = ix[(ix < 0) | (ix >= pos.shape[d])]
    if bad.size:
        raise RuntimeError(f"index {int(bad[0])} is out of bounds for dimension {d} with size "
                           f"{pos.shape[d]}")
    if isinstance(index, Tensor) and index._recorded:
        _bake(index, "guard_value")
    sub = pos[tuple(slice(0, s) if k != d else slice(None) for k, s in enumerate(ix.shape))]
    out = np.take_along_axis(sub, ix, d)
    return keep_args(_gather("gather", input, out.reshape(idx.shape)), dim=int(dim),
                     index=index, sparse_grad=sparse_grad)


@_saves_index(1, "index")
def take(input, index):
    """input read as 1-d at index, in index's shape (TakeBackward0)."""
    idx = _index_array("take", index)
    n = input.numel()
    bad = idx[(idx < -n) | (idx >= n)]
    if bad.size:
        raise IndexError(f"out of range: tried to access index {int(bad.reshape(-1)[0])} on a "
                         f"tensor of {n} elements.")
    if isinstance(index, Tensor) and index._recorded:
        _bake(index, "guard_value")
    return _gather("take", input, np.where(idx < 0, idx + n, idx))


@_saves_index(1, "mask")
def masked_select(input, mask):
    """The elements of input (broadcast with mask) where mask is True, as a 1-d tensor
    (MaskedSelectBackward0).  Its shape depends on the mask: a traced mask is baked into a
    recorded tape with a value guard."""
    if not isinstance(mask, Tensor) or mask._dtype is not D.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    try:
        shape = np.broadcast_shapes(input._shape, mask._shape)
    except ValueError:   # (torch expands mask and input: its words, mask first)
        errors._check_broadcast(mask._shape, input._shape)
        raise
    if mask._recorded:
        _bake(mask, "guard_value")
    m = np.broadcast_to(mask._array(), shape)
    return _gather("masked_select", input, np.broadcast_to(_positions(input), shape)[m])


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the dim1, dim2 planes, a view, as the last dim (DiagonalBackward0)."""
    nd = input.dim()
    _int_arg(offset, "diagonal", "offset")
    d1, d2 = _dim(dim1, nd), _dim(dim2, nd)   # (of fewer than 2 dims: out of range or equal)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")

    def view(a):
        # np.diagonal's view is read-only: the same elements as a writable view of a
        o = np.diagonal(a, offset, d1, d2)
        if o.size == 0:
            return o
        if a.flags.c_contiguous:
            start = (o.__array_interface__["data"][0] - a.__array_interface__["data"][0])
            return np.ndarray(o.shape, a.dtype, buffer=a, offset=start, strides=o.strides)
        at = [slice(None)] * a.ndim     # (a strided a: from the diagonal's first element)
        at[d1], at[d2] = slice(max(-offset, 0), None), slice(max(offset, 0), None)
        return strided_over(a[tuple(at)], o.shape, o.strides)
    arr = input._v
    if type(arr) is not float and arr.flags.c_contiguous:
        o = np.diagonal(arr, offset, d1, d2)
        if o.size:   # (its start known: no address to read, as _strided would)
            start = max(-offset, 0) * arr.strides[d1] + max(offset, 0) * arr.strides[d2]
            out = np.ndarray(o.shape, arr.dtype, arr, start, o.strides)
            return _strided_view("diagonal", input, arr, out, start // arr.itemsize,
                                 {"offset": int(offset), "dim1": int(dim1), "dim2": int(dim2)})
    return keep_args(_strided("diagonal", input, view), offset=int(offset), dim1=int(dim1),
                     dim2=int(dim2))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose dims dim1, dim2 hold input's last dim on a diagonal (offset above it),
    zeros elsewhere (DiagEmbedBackward0)."""
    _tensor_operand("diag_embed", input, 1, "input")
    offset = _int_arg(offset, "diag_embed", "offset", 2).__index__()
    n = input._shape[-1] if input.dim() else 1
    m = n + abs(offset)
    batch = input._shape[:-1]
    nd = input.dim() + 1   # (a 0-d input: 1, and dim1=-2 is out of its range, as torch's)
    d1, d2 = _dim(dim1, nd), _dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    # (opsgaps) the diagonal in dims d1 (row), d2 (column); input's batch dims fill the others
    others = [d for d in range(nd) if d not in (d1, d2)]
    out_shape = [m] * nd
    for d, size in zip(others, batch):
        out_shape[d] = size
    out_shape = tuple(out_shape)
    grid = np.indices(batch + (n,)) if input.dim() else np.zeros((1, 1), np.int64)
    k = grid[-1]
    coords = [None] * nd
    for d, g in zip(others, grid[:-1]):
        coords[d] = g
    coords[d1], coords[d2] = (k, k + offset) if offset >= 0 else (k - offset, k)
    pos = np.ravel_multi_index(tuple(coords), out_shape).reshape(-1)
    out = np.zeros(int(math.prod(out_shape)), input._dtype.np)
    out[pos] = input._array().reshape(-1)
    out = out.reshape(out_shape)
    tape = _record_start(input)
    if tape is None:
        return Tensor._wrap(out, input._dtype)
    t = _result(out, input._dtype, tape, OPS["diag_embed"].code, input_node(tape, input), -1,
                0.0)
    tape.add_params(t._node, pos)
    return t


def diag(input, diagonal=0):
    """A vector's diagonal matrix (DiagEmbedBackward0), or a matrix's diagonal as a new
    tensor (torch records DiagonalBackward0_copy)."""
    return _diag(input, diagonal, 2)


def _diag(input, diagonal, pos):
    _tensor_operand("diag", input, 1, "input")
    diagonal = _int_arg(diagonal, "diag", "diagonal", pos).__index__()
    if input.dim() == 1:
        return diag_embed(input, diagonal)
    if input.dim() != 2:
        raise RuntimeError("diag(): Supports 1D or 2D tensors. Got "
                           f"{input.dim()}D")
    return _gather("diag", input, np.diagonal(_positions(input), diagonal))


def diagflat(input, offset=0):
    """input flattened, as the diagonal of a matrix (DiagEmbedBackward0)."""
    _tensor_operand("diagflat", input, 1, "input")
    offset = _int_arg(offset, "diagflat", "offset", 2).__index__()
    return diag_embed(input.reshape(-1), offset)


def trace(input):
    """The sum of a matrix's diagonal (TraceBackward0)."""
    _no_bool("trace", input)
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    if not input._recorded:
        a = input._array()
        dt = input._dtype if input._dtype.is_floating_point else D.int64
        return Tensor._wrap(np.asarray(np.trace(a), dt.np), dt)
    return decomps.record("trace", lambda T, x: x.diagonal().sum(), KIND_OPS, input)


def _promoted(tensors):
    """torch's result_type of several tensors: the tensors with dims promoted together, the
    0-d ones together, then the 0-d ones' type only where it is of a higher kind."""
    out = {}     # category (2: with dims, 1: 0-d) -> the dtype promoted so far
    for t in tensors:
        category = 2 if t._shape else 1
        seen = out.get(category)
        out[category] = t._dtype if seen is None else D.result_type((seen, category),
                                                                    (t._dtype, category))
    if len(out) == 2:
        return D.result_type((out[2], 2), (out[1], 1))
    return next(iter(out.values()))


def block_diag(*tensors):
    """The tensors (a 0-d one as 1x1, a 1-d one as a row) along the diagonal of a matrix of
    zeros, in their promoted dtype: one BlockDiagBackward0 node with an edge per tensor, each
    input's gradient its block of the result's (a row of zeros, the block and zeros
    concatenated per input, those rows concatenated)."""
    for k, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 0, but got "
                            f"{type(t).__name__}")
    for k, t in enumerate(tensors):
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {k} has {t.dim()} dimensions")
    if not tensors:
        return zeros(1, 0)
    dt = _promoted(tensors)
    cols = [t.shape[-1] if t.dim() == 2 else t.numel() for t in tensors]
    width = sum(cols)

    def body(T, *blocks):
        rows, left = [], 0
        for b, c in zip(blocks, cols):
            b = (b if b.dim() == 2 else b.reshape(1, c)).to(dt)
            parts = [zeros(b.shape[0], left, dtype=dt)] if left else []
            parts.append(b)
            if width - left - c:
                parts.append(zeros(b.shape[0], width - left - c, dtype=dt))
            rows.append(cat(parts, 1) if len(parts) > 1 else b)
            left += c
        out = cat(rows, 0) if len(rows) > 1 else rows[0]
        return out.clone() if out is blocks[0] else out   # (a group records an entry)

    return decomps.record("block_diag", body, KIND_OPS, *tensors, edges=list(tensors))


# ---- masks --------------------------------------------------------------------------------
# (name, rows, cols, diagonal) -> tril / triu's read-only mask: numpy's np.tril of a 16x16
# mask costs ~6 us, a quarter of the op
_TRIANGLES = {}


def _triangle(name, input, diagonal):
    _tensor_operand(name, input, 1, "input")
    if input.dim() < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    key = (name, *input._shape[-2:], diagonal) if type(diagonal) is int else None
    keep = _TRIANGLES.get(key)
    if keep is None:
        ones = np.ones(input._shape[-2:], bool)
        keep = (np.tril if name == "tril" else np.triu)(ones, diagonal)
        if key is not None:
            if len(_TRIANGLES) >= 64:
                _TRIANGLES.clear()
            keep.flags.writeable = False
            _TRIANGLES[key] = keep
    # (row-major whatever the input's layout, as torch's tril / triu kernels write it)
    return _where_mask(name, input, np.broadcast_to(keep, input._shape), 0, row_major=True)


def tril(input, diagonal=0):
    """The lower triangle of the last two dims, zeros above (TrilBackward0)."""
    diagonal = _int_arg(diagonal, "tril", "diagonal", 2)
    return keep_args(_triangle("tril", input, diagonal), diagonal=int(diagonal))


def triu(input, diagonal=0):
    """The upper triangle of the last two dims, zeros below (TriuBackward0)."""
    diagonal = _int_arg(diagonal, "triu", "diagonal", 2)
    return keep_args(_triangle("triu", input, diagonal), diagonal=int(diagonal))


_C_NAME = {D.int64: "long int", D.int32: "int", D.int16: "short int", D.int8: "signed char",
           D.uint8: "unsigned char", D.float32: "float", D.float64: "double"}


def _fill_dtype_check(input, value):
    """torch's error for an out-of-place fill of a tensor of a dtype autograd does not support
    with a value that requires grad (its result would require grad); in place (masked_fill_,
    index_fill_) torch fills and the tensor keeps its dtype."""
    if isinstance(value, Tensor) and STATE.enabled and value.requires_grad and \
            not input._dtype.is_floating_point:
        raise RuntimeError(f"Autograd not support dtype: {input._dtype.legacy}")


def _mask_value_checked(fname, value, function=False):
    """torch's argument parser: a tensor or a number (a str or None used to be filled as
    nan, or raise numpy's ValueError)."""
    if not isinstance(value, (Tensor, bool, int, float, complex, np.number)):
        raise errors.mask_value_args(fname, value, function)


@_saves_index(1, "mask")
def masked_fill(input, mask, value):
    """input with value where mask is True (MaskedFillBackward0; MaskedFillBackward1 for a
    0-d tensor value, which gets the sum of the filled positions' gradients)."""
    _mask_value_checked("masked_fill", value, function=True)
    out = _masked_fill_pass(input, mask, value)
    if out is not None:
        return out
    if isinstance(mask, Tensor) and mask._shape != input._shape:
        try:
            shape = np.broadcast_shapes(input._shape, mask._shape)
        except ValueError:
            shape = input._shape       # (_masked_fill gives torch's error)
        if shape != input._shape:      # out of place, the result takes the mask's broadcast
            input = input.expand(*shape)   # (NOTE: an ExpandBackward0 torch's node has not)
    r = _masked_fill(input, mask, value)
    _fill_dtype_check(input, value)   # (after the mask and value checks, as torch's)
    return r


_MASKED_FILL = OPS["masked_fill"].code
_F64 = np.float64


def _masked_fill_pass(x, mask, value):
    """masked_fill(x, mask, value) in its common recorded case, written in one frame: what
    _masked_fill's checks and _where_mask's `where` do there (the same numpy calls, so the
    same bits; the same const entry of the kept positions with its version watch and saved
    float64 copy, then the masked_fill entry with the number in imm and the condition as its
    operand 3), without their generic steps (~17 -> ~6 us for an (8, 32) input: an
    attention mask at every step).  The case: a plain float32/float64 tensor x of two or more
    elements held as an array, recorded on the open tape (not recording for replay), a plain
    bool mask of x's shape, a Python float or int value.  Without a tape (grad mode off, or
    an x that needs no grad; not while a function is traced) the same value, nothing
    recorded (_where_mask's numpy branch: the same where, its row-major copy).  None
    otherwise (the general path)."""
    tv = type(value)
    if (tv is not float and tv is not int or type(x) is not Tensor and type(x) is not Parameter
            or type(mask) is not Tensor):
        return None
    dt = x._dtype
    xa, ma = x._v, mask._v
    if (dt is not D.float32 and dt is not D.float64 or mask._dtype is not D.bool_
            or type(xa) is not np.ndarray or type(ma) is not np.ndarray
            or mask._shape != x._shape or xa.size < 2):
        return None
    st = STATE
    tape = st.tape
    src = x._tape
    quiet = not x._recorded or not st.enabled or st.inference
    if quiet:
        if tape.recording or st.parked.recording:
            return None     # (traced operands: the general path's guards)
    elif tape.sealed or tape.recording or src is not tape and src is not None:
        return None     # (a new tape to open, baked constants, an older graph: the general path)
    v = D.checked(value, dt)
    keep = ~ma
    out = np.where(keep, xa, D.as_array(v, dt))     # (where's call, its row-major result)
    if not out.flags.c_contiguous:
        out = np.ascontiguousarray(out)
    if quiet:
        return Tensor._wrap(out, dt)
    a = x._node if src is tape else input_node(tape, x)
    shape = x._shape
    size = out.size
    c_node = tape.push_nd(OP_CONST, -1, -1, 0.0, shape, size)     # (tape.const_node)
    tape._watch_new(c_node, Tensor._wrap(keep, D.bool_))    # (where's wrapped condition)
    tape.save(c_node, keep.astype(_F64))
    n = tape.push_nd(_MASKED_FILL, a, -1, float(v), shape, size)
    tape.set_cond(n, c_node)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._node, t._recorded = out, dt, shape, tape, n, True
    return t


def _masked_fill_of(x, mask, value):
    """masked_fill_'s out-of-place op (in place, `_inplace_via` writes its result into x and
    rebases x onto its entry): the writer's entries in its case (their value row-major, which
    the write into x's memory does not read), else _masked_fill's."""
    out = _masked_fill_pass(x, mask, value)
    return out if out is not None else _masked_fill(x, mask, value, inplace=True)


def _masked_fill(input, mask, value, inplace=False):
    if not isinstance(mask, Tensor) or mask._dtype is not D.bool_:
        got = _C_NAME.get(mask._dtype, mask._dtype.legacy) if isinstance(mask, Tensor) \
            else type(mask).__name__
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{got}")
    if mask._shape == input._shape:   # (the usual mask: np.broadcast_shapes costs ~3 us)
        shape = input._shape
    else:
        try:
            shape = np.broadcast_shapes(input._shape, mask._shape)
        except ValueError:
            shape = None
    if shape is None:   # (torch's "The size of tensor a ...": the mask first out of place)
        errors._check_broadcast(*((input._shape, mask._shape) if inplace else
                                  (mask._shape, input._shape)))
    if shape != input._shape:    # (in place: the result cannot take the broadcast shape)
        raise RuntimeError(f"output with shape {list(input._shape)} doesn't match the "
                           f"broadcast shape {list(shape)}")
    name = "masked_fill"
    if isinstance(value, Tensor):
        if value.dim():
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.dim()} dimension(s).")
        name = "masked_fill_tensor"   # (needing no grad: torch's (None, 0) edge)
        if not value._recorded:   # (torch fills with its item, converted as a number)
            D.checked(value.item(), input._dtype)
    else:
        value = D.checked(value, input._dtype)
    keep = (mask == False) if _tracing(mask) is not None else ~mask._array()  # noqa: E712
    # (out of place, torch fills a row-major clone of input: `x.t().masked_fill(m, 0).view(-1)`)
    return _where_mask(name, input, keep, value, row_major=not inplace)


def _index_grid(shape, d, idx):
    """Flat positions in a tensor of `shape` of the elements of a block of idx's extent along
    d whose coordinate along d is replaced by idx (index_add / index_copy / index_fill)."""
    block = shape[:d] + (len(idx),) + shape[d + 1:]
    grid = list(np.indices(block, sparse=True))
    grid[d] = idx.reshape([-1 if k == d else 1 for k in range(len(shape))])
    return np.ravel_multi_index(tuple(np.broadcast_arrays(*grid)), shape) if shape else \
        np.zeros(len(idx), np.int64)


def _scatter_grid(shape, d, idx):
    """Flat positions in `shape` of scatter's index elements (their own coordinates, the one
    along d replaced by the index's value)."""
    grid = list(np.indices(idx.shape))
    grid[d] = idx
    return np.ravel_multi_index(tuple(grid), shape)


def _checked_index(fn, input, dim, index, vector, loop=False):
    """(index values, wrapped dim) with torch's checks; `loop`: the kernel checks the bounds
    in its own loop (IndexError 'index out of range in self')."""
    nd = input.dim()
    # torch wraps dim before it looks at the index's dtype, but for index_fill
    idx = _index_array(fn, index) if fn == "index_fill" else None
    d = _dim(dim, nd)
    if idx is None:
        idx = _index_array(fn, index)
    n = input._shape[d] if nd else 1
    if vector and idx.ndim > 1:
        if fn == "index_copy":   # (its meta function's words)
            raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got "
                             f"{idx.ndim})")
        raise IndexError(f"{fn}(): Index is supposed to be a vector")
    if not vector and max(idx.ndim, 1) != max(nd, 1):   # (a 0-d index counts as 1-d)
        raise RuntimeError("Index tensor must have the same number of dimensions as self "
                           "tensor")
    if not vector and not idx.ndim:
        idx = idx.reshape(1)
    # torch's bounds and errors: index_fill alone takes negative indices; the kernels with
    # a loop of their own name no index; the scatters raise RuntimeError
    low = -n if fn == "index_fill" else 0
    bad = idx[(idx < low) | (idx >= n)]
    if bad.size:
        msg = f"index {int(bad.reshape(-1)[0])} is out of bounds for dimension {d} with size {n}"
        if loop:
            raise IndexError("index out of range in self")
        if fn == "index_copy":
            raise IndexError("index_copy_(): " + msg)
        raise (IndexError if fn == "index_fill" else RuntimeError)(msg)
    if isinstance(index, Tensor) and index._recorded:
        _bake(index, "guard_value")
    return (np.where(idx < 0, idx + n, idx).reshape(-1) if vector else idx), d


def index_fill(input, dim, index, value):
    """input with value at the index along dim (IndexFillBackward0; IndexFillBackward1 for a
    0-d tensor value, which gets the sum of the filled positions' gradients)."""
    r = _index_fill(input, dim, index, value)
    _fill_dtype_check(input, value)
    return r


@_saves_index(2, "index")
def _index_fill(input, dim, index, value, fn="index_fill"):
    if not isinstance(value, (Tensor, bool, int, float, np.generic)):
        got = [errors.arg_type_name(v) for v in (dim, index, value)]
        why = (f"      didn't match because some of the arguments have invalid types: "
               f"({got[0]}, {got[1]}, !{got[2]}!)\n")
        raise TypeError(f"{fn}() received an invalid combination of arguments - got "
                        f"({', '.join(got)}), but expected one of:\n * (int dim, Tensor index, "
                        f"Tensor value)\n{why} * (int dim, Tensor index, Number value)\n{why}")
    idx, d = _checked_index("index_fill", input, dim, index, True)
    if isinstance(value, Tensor):
        if value.dim():
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.dim()} dimension(s).")
        if not value._recorded:   # (torch fills with its item, converted as a number)
            D.checked(value.item(), input._dtype)
    else:
        value = D.checked(value, input._dtype)
    keep = np.ones(input._shape, bool)
    if input.dim():
        keep[(slice(None),) * d + (idx,)] = False
    else:
        keep[...] = not idx.size
    r = _where_mask("index_fill", input, keep, value, preserve=True)
    if isinstance(value, Tensor) and r._tape is not None:
        # the where row shown as torch's tensor-value overload: the value is an edge of it,
        # (None, 0) where it needs no gradient
        show_edges(r._tape, r._node, (input, value), "IndexFillBackward1")
    return r



# NOTE: where an index repeats, torch's scatter writes one of the values (here the last) but
# its source gradient is grad.gather(dim, index): every element written to a position gets
# that position's gradient.  The written value is then straight_through(sum of all writes,
# last write): its value, the sum's gradient.
def _write_last(name, input, src, tgt, sel, every=None):
    """input with flat positions `tgt` replaced by src's flat elements `sel` (each position's
    last write), recorded as decomposition row `name` when either needs a gradient; with
    `every` (src's flat elements, their flat positions: more than one per position), each
    written element gets its position's gradient."""
    _same_dtype(name, input, src)
    if not (input._recorded or src._recorded) or _record_start(input, src) is None:
        out = np.array(input._array(), order="C")   # (reshape(-1) must be a view)
        out.reshape(-1)[tgt] = src._array().reshape(-1)[sel]
        return Tensor._wrap(out, input._dtype)
    keep = np.ones(input.numel(), bool)
    keep[tgt] = False

    def body(T, x, s):
        base = _pre_read(x)
        put = index_scatter(_gather("view_gather", s, sel), x._shape, tgt)
        if every is not None:
            summed = index_scatter(_gather("view_gather", s, every[0]), x._shape, every[1])
            put = _binary(OPS["straight_through"].code, summed, put)
        return where(Tensor._wrap(keep.reshape(x._shape), D.bool_), base, put)
    return decomps.record(name, body, KIND_OPS, input, src, edges=(input, src))

def _scatter_shape_check(input, d, idx, src=None):
    """torch's scatter_shape_check: the index no larger than input apart from dim d, nor
    than src (a 0-d tensor counting as size 1 in every dim); numpy's indexing would fail
    with its own errors or read src's elements from the wrong places."""
    if not idx.size:
        return
    nd = max(len(input._shape), 1)
    ishape, shape = idx.shape or (1,), input._shape or (1,)
    wrong = any(ishape[k] > shape[k] for k in range(nd) if k != d)
    if not wrong and src is not None:
        sshape = src._shape
        n = len(sshape)
        if n and n < len(ishape):   # (src.size(n): torch's range error)
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, "
                             f"{n - 1}], but got {n})")
        if max(n, 1) != len(ishape):
            raise RuntimeError("Index tensor must have the same number of dimensions as src "
                               "tensor")
        wrong = any(ishape[k] > (sshape[k] if n else 1) for k in range(nd))
    if wrong:
        raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                           f"{list(input._shape)} apart from dimension {d}" + (
                               "" if src is None else
                               f" and to be no larger size than src {list(src._shape)}"))


@_saves_index(2, "index")
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """input with src's elements (or value) written at index along dim (ScatterBackward0, or
    ScatterBackward1 for a value).  A repeated index writes the last of its values; each of
    them gets the position's gradient, as torch's."""
    if reduce is not None:   # (the reduce forms: tapegrad/scatter_reduce.py)
        raise NotImplementedError("tapegrad: structops.scatter is the plain form; "
                                  "tapegrad.scatter takes reduce=")
    if src is None and value is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    idx, d = _checked_index("scatter", input, dim, index, False)
    _scatter_shape_check(input, d, idx, src)
    out_pos = _scatter_grid(input._shape or (1,), d, idx) if idx.size else idx.reshape(-1)
    if src is None:
        keep = np.ones(input.numel(), bool)
        keep[out_pos.reshape(-1)] = False
        v = value.item() if isinstance(value, Tensor) else D.checked(value, input._dtype)
        return _where_mask("scatter_value", input, keep.reshape(input._shape), v)
    src_pos = _scatter_grid(src._shape or (1,), d, np.indices(idx.shape)[d]) if idx.size \
        else idx.reshape(-1)
    flat_out, flat_src = out_pos.reshape(-1), src_pos.reshape(-1)
    # the last write to each position wins
    tgt, first = np.unique(flat_out[::-1], return_index=True)
    sel = flat_src[::-1][first]
    return keep_args(_write_last("scatter", input, src, tgt, sel,
                                 (flat_src, flat_out) if len(tgt) < len(flat_out) else None),
                     dim=int(dim), index=index)


# torch's messages for a source of another dtype than the tensor written into
_SAME_DTYPE = {
    "index_add": "index_add_(): self ({self}) and source ({src}) must have the same scalar type",
    "index_copy": "index_copy_(): self and source expected to have the same dtype, but got "
                  "(self) {self} and (source) {src}"}


def _same_dtype(fn, input, src):
    if src._dtype is not input._dtype:
        raise RuntimeError(_SAME_DTYPE.get(fn, "scatter(): Expected self.dtype to be equal to "
                                               "src.dtype").format(self=input._dtype.legacy,
                                                                   src=src._dtype.legacy))


def _add_at(name, input, src, out_pos, src_pos, alpha=1):
    """input + alpha * (src's elements at src_pos added at out_pos): ScatterAddBackward0 /
    IndexAddBackward0 as a decomposition (input read first, then src)."""
    _same_dtype(name, input, src)
    if not (input._recorded or src._recorded) or _record_start(input, src) is None:
        out = np.array(input._array(), order="C")   # (reshape(-1) must be a view)
        vals = src._array().reshape(-1)
        vals = (vals if src_pos is None else vals[src_pos]) * alpha
        np.add.at(out.reshape(-1), out_pos, vals.astype(out.dtype))
        return Tensor._wrap(out, input._dtype)

    def body(T, x, s):
        base = _pre_read(x)
        picked = s.reshape(-1) if src_pos is None else _gather("view_gather", s, src_pos)
        put = index_scatter(picked if alpha == 1 else picked * alpha, x._shape, out_pos)
        return base + put
    return decomps.record(name, body, KIND_OPS, input, src, edges=(input, src))


@_saves_index(2, "index")
def scatter_add(input, dim, index, src):
    """input with src's elements added at index along dim; repeated indices accumulate
    (ScatterAddBackward0)."""
    idx, d = _checked_index("scatter_add", input, dim, index, False)
    _scatter_shape_check(input, d, idx, src)
    out_pos = _scatter_grid(input._shape or (1,), d, idx).reshape(-1)
    src_pos = _scatter_grid(src._shape or (1,), d, np.indices(idx.shape)[d]).reshape(-1)
    return keep_args(_add_at("scatter_add", input, src, out_pos, src_pos), dim=int(dim),
                     index=index)


@_saves_index(2, "index")
def index_add(input, dim, index, source, *, alpha=1):
    """input with alpha * source's slices added at index along dim (IndexAddBackward0)."""
    # (torch adds into a self of two or more dims with alpha 1 as a scatter_add, whose
    # bounds error names the index; other cases in a loop of its own)
    scatters = input.dim() > 1 and type(alpha) is not bool and alpha == 1
    idx, d = _checked_index("index_add", input, dim, index, True, loop=not scatters)
    shape = input._shape
    # torch's checks, in its order: the count along dim, then the other dims' sizes
    along = source._shape[d] if d < source.dim() else 1
    if len(idx) != along:
        raise RuntimeError(f"index_add_(): Number of indices ({len(idx)}) should be equal to "
                           f"source.size(dim): ({along}), for dim: {d}")
    if d and d >= source.dim():
        raise RuntimeError(f"index_add_(): Indexing dim {d} is out of bounds of the source "
                           f"tensor with dim {source.dim()}")
    if len(shape) != source.dim() or \
            shape[:d] + shape[d + 1:] != source._shape[:d] + source._shape[d + 1:]:
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(shape)} source.shape "
                           f"= {list(source._shape)}")
    out_pos = _index_grid(shape, d, idx).reshape(-1)
    return _add_at("index_add", input, source, out_pos, None, alpha)


def _index_copy_source(input, d, n, source):
    """torch's index_copy checks of source against input (n indices along dim d): its
    dimensionality, its slices' shape, its size along d (numpy would broadcast or cut)."""
    sd, nd = len(source._shape), len(input._shape)
    if sd == 0 and n != 1:
        raise IndexError(f"index_copy_(): When source is scalar, index should have one "
                         f"element (got {n})")
    if sd != nd and sd and nd:
        raise IndexError(f"index_copy_(): When source and destination are not scalars, their "
                         f"dimensionality must match. Source dimensionality ({sd}), "
                         f"destination dimensionality ({nd})")
    dst = [s for k, s in enumerate(input._shape) if k != d]
    src = [s for k, s in enumerate(source._shape) if k != d]
    if dst != src:
        raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice "
                           f"shapes. Destination slice shape: {' '.join(map(str, dst))} at "
                           f"dimension {d} and source slice shape: {' '.join(map(str, src))} "
                           f"at dimension 0.")
    if sd and n != source._shape[d]:
        raise IndexError(f"index_copy_(): Number of indices ({n}) should be equal to "
                         f"source.size(dim) ({source._shape[d]})")


@_saves_index(2, "index")
def index_copy(input, dim, index, source):
    """input with source's slices written at index along dim (IndexCopyBackward0)."""
    idx, d = _checked_index("index_copy", input, dim, index, True)
    if isinstance(source, Tensor):
        _index_copy_source(input, d, idx.size, source)
    out_pos = _index_grid(input._shape, d, idx).reshape(-1)
    tgt, first = np.unique(out_pos[::-1], return_index=True)
    every = np.arange(len(out_pos))
    sel = every[::-1][first]
    return _write_last("index_copy", input, source, tgt, sel,
                       (every, out_pos) if len(tgt) < len(out_pos) else None)


# ---- values without gradient --------------------------------------------------------------
def nonzero(input, *, as_tuple=False):
    """The indices of the nonzero elements: (n, ndim) int64, or one vector per dim.  The
    count depends on the values: a traced input is baked in with a value guard."""
    arr = input._array()
    if _tracing(input) is not None:
        _bake(input != 0, "guard_value")
    nz = np.nonzero(arr if arr.ndim else arr.reshape(1))
    if as_tuple:
        if not arr.ndim:
            return (Tensor._wrap(np.asarray(nz[0], np.int64), D.int64),)
        return tuple(Tensor._wrap(np.asarray(v, np.int64), D.int64) for v in nz)
    cols = [np.asarray(v, np.int64) for v in nz] if arr.ndim else []
    out = np.stack(cols, axis=1) if cols else np.zeros((len(nz[0]), 0), np.int64)
    return Tensor._wrap(np.ascontiguousarray(out, np.int64), D.int64)


def where_(condition, input=_MISSING, other=_MISSING):
    """torch.where: where(condition, input, other), or with the condition alone
    nonzero(condition, as_tuple=True)."""
    if input is _MISSING or other is _MISSING:
        if input is _MISSING and other is _MISSING:
            return nonzero(condition, as_tuple=True)
        raise arg_error("where", False, given(condition, input, other))
    return where(condition, input, other)


# ---- joins and shapes ---------------------------------------------------------------------
def _atleast(t, nd):
    if t.dim() >= nd:
        return t
    if t.dim() == 0:
        return t.reshape((1,) * nd)
    return t.unsqueeze(0)


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for vectors) (CatBackward0)."""
    ts = [_atleast(t, 1) for t in _tensor_list("hstack", tensors)]
    return cat(ts, 0 if ts and ts[0].dim() == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0, vectors as rows (CatBackward0)."""
    return cat([_atleast(t, 2) for t in _tensor_list("vstack", tensors)], 0)


def _narrow_args(dim, start, length):
    """torch's TypeError of narrow's arguments when neither of its forms, (int dim, Tensor
    start, int length) and (int dim, int start, int length), takes them (a bool is no int)."""
    args = (dim, start, length)
    int_dim = _is_int_arg(dim, True)
    # (narrow.Tensor's length is an int; the other form's start and length are SymInts,
    # which take a one-element integer tensor of any shape too)
    takes = ((isinstance(start, Tensor), _is_int_arg(length, True)),
             (_is_int_item(start, True), _is_int_item(length, True)))
    if int_dim and any(s and n for s, n in takes):
        return
    names = [errors.arg_type_name(v) for v in args]
    why = "      didn't match because some of the arguments have invalid types: ({})\n"
    forms = []
    for start_ok, length_ok in takes:
        oks = (int_dim, start_ok, length_ok)
        forms.append(why.format(", ".join(n if ok else f"!{n}!" for n, ok in zip(names, oks))))
    raise TypeError(f"narrow() received an invalid combination of arguments - got "
                    f"({', '.join(names)}), but expected one of:\n * (int dim, Tensor start, "
                    f"int length)\n{forms[0]} * (int dim, int start, int length)\n{forms[1]}")


def narrow(input, dim=_MISSING, start=_MISSING, length=_MISSING):
    """The length-long slice from start along dim, a view (SliceBackward0)."""
    if length is _MISSING:
        raise arg_error("narrow", False, given(input, dim, start))
    _narrow_args(dim, start, length)
    # (torch's narrow.Tensor: a 0-d integer tensor, no float, bool or 1-d one)
    if isinstance(start, Tensor) and (start._dtype is D.bool_ or not _is_int_arg(start, True)):
        raise RuntimeError("start must be an 0-dim integral Tensor.")
    if not input.dim():
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    length = length.__index__()
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    d = _dim(dim, input.dim())
    size = input._shape[d]
    start = int(start.item() if isinstance(start, Tensor) else start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    start %= max(size, 1) if start < 0 else size + 1
    if length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    key = (slice(None),) * d + (slice(start, start + length),)
    arr = input._v
    if not length and type(arr) is not float:
        # (numpy's empty slice starts at the array's first element and a copy of x would
        # lose its strides: torch's keeps both, `start` elements along dim in)
        shape = input._shape[:d] + (0,) + input._shape[d + 1:]
        out = _strided("slice", input, lambda a: strided_over(a, shape, a.strides,
                                                               start * a.strides[d]))
    elif type(arr) is not float and arr.flags.c_contiguous:
        # (its offset known: no address to read, as _strided would)
        out = _strided_view("slice", input, arr, arr[key],
                            start * math.prod(input._shape[d + 1:]))
    else:
        out = _strided("slice", input, lambda a: a[key])
    # (torch's narrow is slice(dim, start, start + length), its start wrapped)
    return keep_args(out, dim=int(dim), start=start, end=start + length, step=1,
                     self_sym_sizes=input._shape)


def narrow_copy(input, dim, start, length):
    """narrow's slice as a new tensor, not a view (NarrowCopyBackward0)."""
    view = narrow(input, dim, start, length)      # (its checks and messages)
    if not input._recorded:
        return view.clone()
    return decomps.record("narrow_copy", lambda T, x: narrow(x, dim, start, length).clone(),
                          KIND_OPS, input)


def _movedim_overloads(fn):
    # (torch's two forms: both ints or both int lists, never one of each)
    forms = ["int source, int destination",
             "tuple of ints source, tuple of ints destination"]
    return Overloads(fn, ["Tensor input, " + f for f in forms]), Overloads(fn, forms)


_MOVEDIM = {fn: _movedim_overloads(fn) for fn in ("movedim", "moveaxis")}


def movedim(*args, **kwargs):
    """input with dims moved from source to destination (PermuteBackward0)."""
    return _movedim("movedim", *_MOVEDIM["movedim"][0].parse(args, kwargs)[1])


def moveaxis(*args, **kwargs):
    """movedim's alias (numpy's name)."""
    return _movedim("moveaxis", *_MOVEDIM["moveaxis"][0].parse(args, kwargs)[1])


def _movedim(fn, input, source, destination):
    if isinstance(source, (tuple, list)):
        src = list(_int_list((source,), fn, "source", 2, bare=False, ok=_is_dim_item))
        dst = list(_int_list((destination,), fn, "destination", 3, bare=False,
                             ok=_is_dim_item))
    else:
        src, dst = [int(source)], [int(destination)]
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} "
                           f"dims)")
    nd = input.dim()
    if not nd:   # (0 and -1 are its dims, as for the reductions; torch's result: an alias)
        for d in src + dst:
            _dim(d, nd)
        return input[...]
    wrapped = [_dim(d, nd) for d in src], [_dim(d, nd) for d in dst]   # (range first)
    for name, dims, w in zip(("source", "destination"), (src, dst), wrapped):
        if len(set(w)) != len(w):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({dims})")
    rest = [d for d in range(nd) if d not in wrapped[0]]
    out = [None] * nd
    for s, d in zip(*wrapped):
        out[d] = s
    it = iter(rest)
    out = [o if o is not None else next(it) for o in out]
    return input.permute(*out)


def unflatten(input, dim, sizes):
    """dim split into sizes (one may be -1), a view (ViewBackward0)."""
    if not input.dim():
        raise RuntimeError(f"unflatten got an unexpected error:\nDimension specified as "
                           f"{_dim(dim, 0, 'unflatten')} but tensor has no dimensions")  # (range first)
    d = _dim(dim, input.dim(), "unflatten")
    given = _int_list((sizes,), "unflatten", "sizes", 2, bare=False)
    if not given:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = input._shape[d]
    # torch's infer_size: its errors other than a wrong product are 'unexpected' ones
    unexpected = "unflatten got an unexpected error:\n"
    if given.count(-1) > 1:
        raise RuntimeError(unexpected + "only one dimension can be inferred")
    for i, s in enumerate(given):
        if s < -1:
            raise RuntimeError(unexpected + f"invalid shape dimension {s} at index {i} of "
                               f"shape {list(given)}")
    known = int(math.prod(s for s in given if s != -1))
    infer = -1 in given
    if not (n == known or infer and known > 0 and n % known == 0):
        raise RuntimeError(f"unflatten: Provided sizes {list(given)} don't multiply up to the "
                           f"size of dim {d} ({n}) in the input tensor")
    if infer and known == 0:
        raise RuntimeError(unexpected + f"cannot reshape tensor of 0 elements into shape "
                           f"{list(given)} because the unspecified dimension size -1 can be "
                           f"any value and is ambiguous")
    sizes = tuple(n // known if s == -1 else s for s in given)
    return input.reshape(input._shape[:d] + sizes + input._shape[d + 1:])


# ---- Tensor methods -----------------------------------------------------------------------
def _inplace_via(self, fn, other=None, overlap=True, shared=None):
    """self = fn(self), in place: recorded as the out-of-place op with self rebased onto it
    (as torch's in-place ops); without history the new value is written into self.
    `overlap`, `shared`: Tensor._inplace's."""
    from_np = lambda a, b: fn(Tensor._wrap(a, self._dtype))._array()  # noqa: E731
    return self._inplace(from_np, other, lambda x, o: fn(x), overlap=overlap, shared=shared)


@tensor_methods
class _StructMethods:
    """Tensor's structural, indexing and sorting methods (tapegrad/structops.py)."""

    def sort(self, *args, **kwargs):
        return _sort(self, *_sort_args("sort", 1, args, kwargs))

    def argsort(self, *args, **kwargs):
        return _argsort_of(self, *_sort_args("argsort", 1, args, kwargs))

    def msort(self):
        return msort(self)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        _int_arg(k, "topk", "k", 1, _is_int_item)     # (the method's position of k: 1)
        if type(largest) is not bool or type(sorted) is not bool:
            raise arg_error("topk", True, (k, dim, largest, sorted))
        return topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim=False):
        _int_arg(k, "kthvalue", "k", 1, _is_int_item)
        if type(keepdim) is not bool:
            raise arg_error("kthvalue", True, (k, dim, keepdim))
        return kthvalue(self, k, dim, keepdim)

    def median(self, dim=_MISSING, keepdim=_MISSING):
        err = dim_form_error("median", True, (), dim, keepdim)
        if err is not None:
            raise err
        if keepdim is not _MISSING and type(keepdim) is not bool:
            raise arg_error("median", True, (dim, keepdim))
        return median(self, dim, keepdim)

    def flip(self, *dims):
        if not dims:
            raise TypeError('flip() missing 1 required positional arguments: "dims"')
        return flip(self, _int_list(dims, "flip", "dims", ok=_is_dim_item))

    def __reversed__(self):
        """reversed(x): x flipped along dim 0 (FlipBackward0), a 0-d x itself, as torch's."""
        return self if not self._shape else flip(self, (0,))

    def fliplr(self):
        if self.dim() < 2:
            raise RuntimeError("Input must be >= 2-d.")
        return flip(self, (1,))

    def flipud(self):
        if self.dim() < 1:
            raise RuntimeError("Input must be >= 1-d.")
        return flip(self, (0,))

    def roll(self, shifts, dims=None):
        return roll(self, _shifts(shifts, 1),
                    None if dims is None else _int_list((dims,), "roll", "dims", 2,
                                                        ok=_is_dim_item))

    def repeat(self, *sizes):
        if not sizes:   # (torch's parser, before the count check)
            raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
        return repeat(self, *sizes)

    def tile(self, *dims):
        return tile(self, _int_list(dims, "tile", "dims"))

    def repeat_interleave(self, repeats=None, dim=None, *, output_size=None):
        if repeats is None:   # (the method has no repeats-only form: torch's parser error)
            raise TypeError("repeat_interleave() received an invalid combination of arguments - "
                            "got (), but expected one of:\n * (Tensor repeats, int dim = None, *, "
                            "int output_size = None)\n * (int repeats, int dim = None, *, int "
                            "output_size = None)\n")
        if not isinstance(repeats, Tensor) and not _is_int_arg(repeats, True):
            raise _repeats_error(True, self, repeats, dim, output_size)
        return repeat_interleave(self, repeats, dim, output_size=output_size)

    def index_select(self, dim, index):
        return index_select(self, dim, index)

    def gather(self, dim, index, *, sparse_grad=False):
        return gather(self, dim, index)

    def take(self, index):
        return take(self, index)

    def masked_select(self, mask):
        return masked_select(self, mask)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return diagonal(self, offset, dim1, dim2)

    def diag(self, diagonal=0):
        return _diag(self, diagonal, 1)

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        return diag_embed(self, offset, dim1, dim2)

    def trace(self):
        return trace(self)

    def tril(self, diagonal=0):
        return tril(self, _int_arg(diagonal, "tril", "diagonal"))

    def triu(self, diagonal=0):
        return triu(self, _int_arg(diagonal, "triu", "diagonal"))

    def tril_(self, diagonal=0):
        return _inplace_via(self, lambda x: tril(x, diagonal))

    def triu_(self, diagonal=0):
        return _inplace_via(self, lambda x: triu(x, diagonal))

    def masked_fill(self, mask, value):
        _mask_value_checked("masked_fill", value)
        return masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        _mask_value_checked("masked_fill_", value)
        if shares_elements(self) and not self._check_inplace(value):
            # (an expand's view: torch's deprecated write, warned, of the masked positions)
            new = _masked_fill_of(self.detach(), mask, value)._array()
            at = np.broadcast_to(mask._array(), self._shape)
            if write_expanded(self, ("masked_fill_",), lambda alias: alias.__setitem__(
                    at, new[at])):
                return self
        # (a 0-d value is a number to torch's kernel: no overlap check)
        return _inplace_via(self, lambda x: _masked_fill_of(x, mask, value),
                            value if isinstance(value, Tensor) else None, False,
                            ("masked_fill_",))

    def index_fill(self, dim, index, value):
        return index_fill(self, dim, index, value)

    def index_fill_(self, dim, index, value):
        if shares_elements(self) and not self._check_inplace(value):
            # (an expand's view: torch's deprecated write, warned, of the indexed positions)
            new = _index_fill(self.detach(), dim, index, value, "index_fill_")._array()
            idx, d = _checked_index("index_fill", self, dim, index, True)
            at = np.zeros(self._shape, bool)
            at[(slice(None),) * d + (idx,)] = True
            if write_expanded(self, ("index_fill_",), lambda alias: alias.__setitem__(
                    at, new[at])):
                return self
        return _inplace_via(self, lambda x: _index_fill(x, dim, index, value, "index_fill_"),
                            value if isinstance(value, Tensor) else None, False,
                            ("index_fill_",))

    # (scatter, scatter_ with reduce=: tapegrad/scatter_reduce.py)

    def scatter_add(self, dim, index, src):
        return scatter_add(self, dim, index, src)

    def scatter_add_(self, dim, index, src):
        return _inplace_via(self, lambda x: scatter_add(x, dim, index, src), src, "any")

    def index_add(self, dim, index, source, *, alpha=1):
        return index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim, index, source, *, alpha=1):
        return _inplace_via(self, lambda x: index_add(x, dim, index, source, alpha=alpha),
                            source, "any")

    def index_copy(self, dim, index, source):
        return index_copy(self, dim, index, source)

    def index_copy_(self, dim, index, source):
        return _inplace_via(self, lambda x: index_copy(x, dim, index, source), source, "any")

    def nonzero(self, *, as_tuple=False):
        return nonzero(self, as_tuple=as_tuple)

    def narrow(self, dim=_MISSING, start=_MISSING, length=_MISSING):
        if length is _MISSING:
            raise arg_error("narrow", True, given(dim, start))
        return narrow(self, dim, start, length)

    def narrow_copy(self, dim, start, length):
        return narrow_copy(self, dim, start, length)

    def movedim(self, *args, **kwargs):
        return _movedim("movedim", self, *_MOVEDIM["movedim"][1].parse(args, kwargs)[1])

    def moveaxis(self, *args, **kwargs):
        return _movedim("moveaxis", self, *_MOVEDIM["moveaxis"][1].parse(args, kwargs)[1])

    def swapdims(self, dim0, dim1):
        return self.transpose(dim0, dim1)

    def unflatten(self, dim, sizes):
        return unflatten(self, dim, sizes)

    def ravel(self):
        return self.contiguous().view(-1)   # torch's: a clone when not contiguous, a view
