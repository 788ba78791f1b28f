"""Tensor layout options as torch names them: `layout` (tapegrad's tensors are all
`strided`) and `memory_format` (`contiguous_format`, `preserve_format`, `channels_last`,
`channels_last_3d`), with torch's checks of a `layout=` / `memory_format=` argument.

tapegrad lays tensors out in C order whatever format is asked: values and gradients are
torch's, and `is_contiguous(memory_format=...)` answers for the layout the tensor has (so a
tensor made with `channels_last` is not channels-last contiguous here, as it is in torch).
A copy that keeps its source's layout (memory_format=preserve) is laid out by torch's rule:
`empty_preserving`."""

import numpy as np

from .aligned import storage_error

__all__ = ["layout", "strided", "memory_format", "contiguous_format", "preserve_format",
           "channels_last", "channels_last_3d", "check", "channels", "channels_last_contiguous",
           "empty_preserving", "preserving", "reduced", "flat_apply"]


class _Named:
    """A constant of the tapegrad namespace: shown and pickled by its name there."""
    __module__ = "tapegrad"

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"tapegrad.{self._name}"

    def __reduce__(self):
        return self._name


class layout(_Named):
    """A memory layout, as `torch.layout`: tapegrad's tensors are all `strided`."""
    __module__ = "tapegrad"


class memory_format(_Named):
    """A memory format, as `torch.memory_format` (see the module doc for what it changes)."""
    __module__ = "tapegrad"


strided = layout("strided")
contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
# the rank each channels-last format needs, and its dims from the innermost out
_RANK = {channels_last: 4, channels_last_3d: 5}
_ORDER = {channels_last: (1, 3, 2, 0), channels_last_3d: (1, 4, 3, 2, 0)}


def check(fn, ndim, layout_arg=None, format_arg=None):
    """Raise torch's error for the `layout=` / `memory_format=` arguments of `fn` on a tensor
    of `ndim` dimensions (None: the rank is not checked); an argument None was not given."""
    if layout_arg is not None and not isinstance(layout_arg, layout):
        raise TypeError(f"{fn}(): argument 'layout' must be torch.layout, not "
                        f"{type(layout_arg).__name__}")
    if format_arg is None:
        return
    if not isinstance(format_arg, memory_format):
        raise TypeError(f"{fn}(): argument 'memory_format' must be torch.memory_format, not "
                        f"{type(format_arg).__name__}")
    rank = _RANK.get(format_arg)
    if rank is not None and ndim is not None and ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {format_arg._name} format")


def channels_last_contiguous(shape, strides, format_arg):
    """torch's is_contiguous(memory_format=channels_last / channels_last_3d) for a tensor of
    `shape` with element `strides` (dims of size 1 never break it)."""
    order = _ORDER[format_arg]
    if len(shape) != len(order):
        return False
    expected = 1
    for d in order:
        if shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= shape[d]
    return True


def channels(format_arg):
    """Whether `format_arg` is one of the channels-last formats."""
    return format_arg in _ORDER


def dim_order(nd, should_swap):
    """The dims 0..nd-1 from the innermost out, by torch's stable insertion sort of them
    (TensorIterator's reorder_dimensions, infer_dense_strides, suggest_memory_format): each
    dim moves outward past the ones `should_swap(outer, inner)` > 0 puts after it, and stops
    at the first < 0 (0: no order between the two, it goes on)."""
    perm = list(range(nd - 1, -1, -1))
    for i in range(1, nd):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = should_swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    return perm


def empty_preserving(a, dtype=None):
    """An uninitialized array of array a's shape (and `dtype`, else a's) laid out as torch's
    empty_like(x, memory_format=preserve) lays out x's: row-major where a is, else by torch's
    infer_dense_strides, a's dims in the order of their strides (a stable insertion sort in
    which a dim of stride 0, an expand's, keeps its row-major place; numpy's order "K" put
    it innermost).  What clone, the dtype conversions and the *_like draws are written into."""
    dtype = a.dtype if dtype is None else np.dtype(dtype)
    if a.flags.c_contiguous or not a.size:
        return np.empty(a.shape, dtype)
    shape, strides = a.shape, a.strides
    nd = len(shape)

    def after(d0, d1):
        s0, s1 = strides[d0], strides[d1]
        if s0 == 0 or s1 == 0:
            return 0
        return -1 if s0 < s1 else 1 if s0 > s1 or shape[d0] > shape[d1] else 0
    perm = dim_order(nd, after)   # (dims from the innermost out)
    out_strides, step = [0] * nd, dtype.itemsize
    for d in perm:
        out_strides[d] = step
        step *= max(shape[d], 1)
    try:
        storage = np.empty(a.size, dtype)
    except (MemoryError, ValueError):   # (a copy of an expand too large to hold)
        raise storage_error(shape, dtype.itemsize) from None
    return np.ndarray(shape, dtype, storage, 0, out_strides)


def dense(a):
    """Whether array a's elements are non-overlapping and dense (torch's
    is_non_overlapping_and_dense): its dims of size > 1, by stride, each step the product
    of the inner ones' sizes (any order: a transposed or permuted row-major block too)."""
    shape, strides = a.shape, a.strides
    step = a.itemsize
    for st, n in sorted((strides[d], shape[d]) for d in range(len(shape)) if shape[d] != 1):
        if st != step:
            return False
        step *= n
    return True


def like_dense(a, out):
    """Array `out` (row-major, of array a's shape and size > 1) laid out with a's strides
    where a is non-overlapping and dense but not row-major (torch's AccumulateGrad: a first
    .grad obeys its parameter's layout, `new_empty_strided(sizes, strides)`), else `out`
    itself (a non-dense one's .grad is row-major, as torch's)."""
    if a.flags.c_contiguous or type(a) is not np.ndarray or not dense(a):
        return out
    shape, strides = a.shape, a.strides
    size = a.itemsize   # (strides in elements, then in out's itemsize)
    r = np.ndarray(shape, out.dtype, np.empty(a.size, out.dtype), 0,
                   tuple(st // size * out.itemsize for st in strides))
    r[...] = out
    return r


def preserving(a, out):
    """Array `out` (of array a's shape) laid out as empty_preserving(a): itself where a is
    row-major, else a copy.  The layout of torch's kernels that write into empty_like(self)
    (flip, sort, index_fill, index_put)."""
    if a.flags.c_contiguous or type(out) is not np.ndarray:
        return out
    r = empty_preserving(a, out.dtype)
    r[...] = out
    return r


def reduced(a, out):
    """Array `out`, numpy's reduction of array a, laid out as torch lays out a reduction's
    result: row-major, a dim of size 1 included (its stride that of the next dim), whatever
    a's layout (numpy's result follows a's order: a transposed input's sum is transposed)."""
    if a.flags.c_contiguous or type(out) is not np.ndarray:
        return out
    return out.copy()


def flat_apply(f, arrays, like):
    """f (of 1-d arrays, elementwise) over `arrays` of one shape, laid out as torch's
    elementwise kernels lay out a result of array `like` (of that shape, 2 or more dims, not
    row-major; TensorIterator: the dims in the order of empty_preserving's strides): f over
    the elements in that order, its result's permuted view handed back."""
    lay = empty_preserving(like, np.int8)
    order = sorted(range(like.ndim), key=lambda d: -lay.strides[d])
    srcs = [np.ascontiguousarray(v.transpose(order)) for v in arrays]
    out = f(*(v.reshape(-1) for v in srcs))
    return out.reshape(srcs[0].shape).transpose(np.argsort(order))
