"""torch's memory-overlap checks of in-place writes (ATen's MemoryOverlap.cpp).

An in-place op whose input shares memory with the tensor it writes could read elements it
already wrote; torch refuses the cases it can tell apart:

* `no_partial_overlap`: copy_ and the TensorIterator ops (add_, mul_, addcmul_, lerp_,
  clamp_, comparisons, ..., x[1:] = x[:-1]) refuse an input that overlaps the output
  partly; one that is the output itself (same memory and strides: x.mul_(x)) is fine.
* `no_overlap`: index_copy_, index_add_, index_put_ (x[index] = v), scatter_, scatter_add_
  and put_ refuse any overlap, the output itself too.
* `write_expanded`: index_put_, masked_fill_ and index_fill_ into a tensor whose elements
  share memory (an expand's view) are torch's deprecated writes: a warning, then the write.
  With history (`shared_write`), those and fill_, zero_ and a copy_ of itself write too; the
  backward refuses them.

The two checks look only at dense layouts (a permutation of a contiguous block), as torch's
get_overlap_status: x[::2] and x[1::2] are "too hard" to tell and pass.  The arrays are
numpy's, so views, `.data`, `detach()` and numpy aliases all count.
"""
import warnings

import numpy as np

from . import errors, nodiff
from .layouts import dim_order
from .tape import bump_version

NONE, FULL, PARTIAL = 0, 1, 2


def status(out, src):
    """get_overlap_status of numpy arrays `out` and `src`: NONE (or too hard to tell), FULL
    (the same elements in the same layout) or PARTIAL."""
    if out is src:
        return FULL
    if not shared(out, src) or not out.size or not src.size or \
            not (_dense(out) and _dense(src)):
        return NONE
    a0 = out.__array_interface__["data"][0]
    b0 = src.__array_interface__["data"][0]
    a1, b1 = a0 + out.nbytes, b0 + src.nbytes
    if a0 == b0 and a1 == b1:
        # (torch compares the strides of every dim, of size 1 too: a 0-d tensor and its (1,)
        # view differ, and so do x.view(-1) and x.view(-1)[0:1:2] of one element; the views
        # keep torch's strides there: tensor_methods._size1_strides)
        return FULL if out.strides == src.strides and out.ndim == src.ndim else PARTIAL
    return PARTIAL if a0 < b1 and b0 < a1 else NONE


def expanded(a, shape):
    """Array a expanded to `shape` with torch's strides (inferExpandGeometry: a dim expanded
    from 1 has stride 0, and so has a new leading dim, but one of size 1 the extent of the
    dim after it), for the checks: a read-only view of a's memory."""
    strides = [0] * len(shape)   # (a 0-d a: all 0)
    lead = len(shape) - a.ndim
    nxt = a.itemsize
    for i in range(len(shape) - 1 if a.ndim else -1, -1, -1):
        if i >= lead:
            n, st = a.shape[i - lead], a.strides[i - lead]
            strides[i] = st if n == shape[i] else 0
        else:
            strides[i] = nxt if shape[i] == 1 else 0
        nxt = shape[i] * strides[i]
    return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)


def shared(a, b):
    """Whether arrays a and b may share memory: False for the common cases, two arrays
    owning theirs or views of two such (numpy's base is then the owner), cheaply."""
    ra, rb = a.base, b.base
    ra = a if ra is None else ra
    rb = b if rb is None else rb
    if ra is not rb and getattr(ra, "base", 0) is None and getattr(rb, "base", 0) is None:
        return False
    return _owner(ra) is _owner(rb)


def _owner(a):
    """The object at the end of a's chain of bases: the memory's owner."""
    b = getattr(a, "base", None)   # (an owner need not be an array: bytes, an mmap)
    while b is not None:
        a, b = b, getattr(b, "base", None)
    return a


def _dense(a):
    """torch's is_non_overlapping_and_dense: the dims, sorted by stride, tile one block."""
    expected = a.itemsize
    for st, n in sorted((st, n) for st, n in zip(a.strides, a.shape) if n != 1):
        if st != expected:
            return False
        expected *= n
    return True


def _array(t):
    """t's memory (a tensor's, or t itself, an array), None where it holds none (a number;
    a one-element value kept as a Python number shares no memory)."""
    if type(t) is np.ndarray:
        return t
    v = getattr(t, "_v", None)   # (a number, None: no memory)
    return v if type(v) is np.ndarray else None


def no_partial_overlap(out, *srcs):
    """torch's assert_no_partial_overlap of the written tensor (or array) `out` with each
    tensor among `srcs` (others skipped)."""
    a = _array(out)
    if a is None:
        return
    for s in srcs:
        b = _array(s)
        if b is not None and b is not a and shared(a, b) and status(a, b) == PARTIAL:
            raise RuntimeError(errors.PARTIAL_OVERLAP)


def no_overlap(out, *srcs):
    """torch's assert_no_overlap: any shared element of `out` with a tensor among `srcs`."""
    if any(s is out for s in srcs):   # (a one-element tensor held as a number too)
        raise RuntimeError(errors.PARTIAL_OVERLAP)
    a = _array(out)
    if a is None:
        return
    for s in srcs:
        b = _array(s)
        if b is not None and status(a, b) != NONE:
            raise RuntimeError(errors.PARTIAL_OVERLAP)


# torch's deprecation warning for index_put_ / masked_fill_ / index_fill_ into a tensor whose
# elements share memory, which it then writes (TensorAdvancedIndexing.cpp)
_EXPANDED = ("Use of {} on expanded tensors is deprecated. Please clone() the tensor before "
             "performing this operation. This also applies to advanced indexing e.g. "
             "tensor[{}] = {}")
_EXPANDED_FORMS = {"index_put_": ("indices", "tensor"), "masked_fill_": ("mask", "scalar"),
                   "index_fill_": ("mask", "scalar")}


def shares_elements(t):
    """Whether t's elements share memory (an expand's view: numpy's read-only array with a
    stride 0 over more than one element)."""
    sv = t._v
    return type(sv) is np.ndarray and not sv.flags.writeable and any(
        st == 0 and n > 1 for st, n in zip(sv.strides, sv.shape))


def write_expanded(t, ops, write):
    """index_put_ (x[index] = v), masked_fill_ or index_fill_ of t whose elements share
    memory (shares_elements), with no history: torch warns (once per op of `ops`) and writes
    each position in turn, the last write to one memory location staying; `write(alias)`
    does it into a writable alias of t's array.  False where the memory's owner is read-only
    (the usual paths' errors)."""
    alias = t._v.view()
    try:
        alias.flags.writeable = True
    except ValueError:
        return False
    for op in ops:
        warnings.warn(_EXPANDED.format(op, *_EXPANDED_FORMS[op]), UserWarning, stacklevel=3)
    t._lserial = 0
    bump_version(t)   # (before the write: see _assign)
    with np.errstate(all="ignore"):
        write(alias)
    return True


def _refused(base):
    """base's values through torch's CopySlices, whose backward raises (shared_write)."""
    return nodiff.result("CopySlices", base._array(), base._dtype, (base,),
                         (RuntimeError, errors.INTERNAL_OVERLAP))


def shared_write(t, ops=()):
    """An in-place op with history into view t whose elements share memory (an expand's),
    one torch lets write them (fill_, zero_, a copy_ of itself; index_put_, masked_fill_ and
    index_fill_, named in `ops`, warned as write_expanded's): torch writes, and its
    CopySlices's backward copies the base's gradient into the view's memory, which refuses
    it (the overlap error) once the base's previous history needs a gradient.  The function
    giving the base as the recorded entries read it, through such a node (copyslices
    .inplace_on_view); None where t's elements share no memory (the usual path)."""
    if not shares_elements(t):
        return None
    for op in ops:
        warnings.warn(_EXPANDED.format(op, *_EXPANDED_FORMS[op]), UserWarning, stacklevel=4)
    return _refused


# torch's CPU kernels take a dimension whose elements are contiguous in every operand in
# vector steps of two registers (Loops.h vectorized_loop): read before any write.  Where that
# dimension holds as many elements as two 256-bit registers (AVX2's; AVX-512's hold twice as
# many), the result depends on the host: in_torch_order leaves it to numpy's (read first).
_VECTOR_BYTES = 32


def in_torch_order(out, src):
    """The values a copy of array `src` (of out's dtype, broadcasting to its shape) into `out`
    writes, as torch's TensorIterator kernel copies where src shares memory with out in a
    layout its overlap check cannot tell (not dense: x[1:].copy_(x[:-1]) it refuses,
    x[0] = x.diagonal() it runs): element by element in its order (the dims sorted by out's
    strides, then src's, as reorder_dimensions), each element reading what the earlier ones
    wrote.  An array of out's shape, or None where src shares no memory with out, or the
    order is its vector unit's."""
    if type(src) is not np.ndarray or not shared(out, src):
        return None   # (the common case, cheaply)
    shape = out.shape
    try:
        src = np.broadcast_to(src, shape)
    except ValueError:   # (the caller's error: shapes that do not broadcast)
        return None
    if not np.may_share_memory(out, src) or src.dtype != out.dtype or out.size < 2:
        return None
    perm = _iteration_order([out, src])
    if _vector_steps([out, src], perm, out.itemsize):
        return None
    size = out.size
    order = np.arange(size).reshape(shape).transpose(perm[::-1]).reshape(-1)
    result = copied_in_order(_offsets(out).reshape(-1)[order],
                             np.ascontiguousarray(src).reshape(-1)[order],
                             _offsets(src).reshape(-1)[order])
    if result is None:
        return None
    done = np.empty(size, out.dtype)
    done[order] = result
    return done.reshape(shape)


def copied_in_order(at, vals, src_at):
    """The values a copy writes at byte addresses `at` (distinct), element by element in
    their order, element i reading vals[i] from address src_at[i] -- or, where an earlier
    element wrote that address, what it wrote.  Each element's value is then the source
    value at the head of its chain of such reads, found by pointer doubling: O(log chain)
    numpy passes (x[2::2] = x[:-2:2] chains every element).  None where addresses repeat."""
    size = at.size
    if not size:
        return vals.copy()
    by_address = np.argsort(at, kind="stable")
    sorted_at = at[by_address]
    if (sorted_at[1:] == sorted_at[:-1]).any():
        return None   # (out's elements share memory: an as_strided torch does not refuse)
    loc = np.minimum(np.searchsorted(sorted_at, src_at), size - 1)
    writer = np.where(sorted_at[loc] == src_at, by_address[loc], -1)
    seq = np.arange(size)
    head = np.where((writer >= 0) & (writer < seq), writer, seq)
    while True:
        further = head[head]
        if np.array_equal(further, head):
            return vals[head]
        head = further


def _offsets(a):
    """The byte address of each element of array a."""
    off = np.full(a.shape, a.__array_interface__["data"][0], np.int64)
    for d, (n, st) in enumerate(zip(a.shape, a.strides)):
        off += (np.arange(n) * st).reshape((n,) + (1,) * (a.ndim - d - 1))
    return off


def _iteration_order(ops):
    """TensorIterator's reorder_dimensions for operands `ops` (the output first) of one
    shape: the dims from the innermost (perm[0]) out, by stride, the output's first."""
    nd = ops[0].ndim

    def should_swap(d0, d1):
        for a in ops:
            s0, s1 = a.strides[d0], a.strides[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return -1 if s0 < s1 else 1
            if a.shape[d0] > a.shape[d1]:
                return 1
        return 0
    return dim_order(nd, should_swap)


def _vector_steps(ops, perm, item):
    """Whether the innermost dim, coalesced as TensorIterator's, is contiguous in every
    operand (or a broadcast number's 0) and long enough for vector steps (_VECTOR_BYTES)."""
    n, strides = 1, None
    for d in perm:
        size = ops[0].shape[d]
        if size == 1:
            continue
        st = [a.strides[d] for a in ops]
        if strides is None:
            n, strides = size, st
        elif all(s * n == t for s, t in zip(strides, st)):
            n *= size
        else:
            break
    if strides is None:
        return False
    if strides[0] != item or any(s not in (item, 0) for s in strides[1:]):
        return False
    return n * item >= 2 * _VECTOR_BYTES


def put_in_torch_order(arr, flat, values):
    """arr (C-contiguous) with `values` (an array of flat's shape) written at its row-major
    positions `flat`, as torch's index kernel (index_put_ with one-element indices) writes
    where the values share memory with arr in a layout its overlap check cannot tell: one by
    one in row-major order, each reading what the earlier ones wrote.  None where they share
    no memory, or a position repeats."""
    if not shared(arr, values) or values.dtype != arr.dtype or not arr.flags.c_contiguous \
            or not np.may_share_memory(arr, values):
        return None
    flat = np.asarray(flat, np.int64).reshape(-1)
    if np.unique(flat).size != flat.size:
        return None
    got = copied_in_order(_offsets(arr).reshape(-1)[flat],
                          np.ascontiguousarray(values).reshape(-1), _offsets(values).reshape(-1))
    if got is None:
        return None
    out = arr.copy()
    out.reshape(-1)[flat] = got
    return out
