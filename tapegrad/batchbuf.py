"""Memory of the batch kernels' calls (`Recorded.value_and_grad_batch`, `value_and_grad_flat`,
`jacobian_batch`): cache-line-aligned output arrays, the buffers one call keeps for the
next call of the same tape, and where `replay_batch` reads its inputs (`sources`: in the
caller's arrays, found by their id(), staged only when they are not C-contiguous aligned
arrays of the tape's dtype; `jacobian_batch` still stages all of them).

Why keep them: a batch call at B = 2000 points of a 100-input tape may stage 1.6 MB of inputs
and returns 1.6 MB of gradients.  Fresh arrays of that size come from glibc either as warm heap
memory or as new pages, depending on the process's history (its dynamic mmap and trim
thresholds): measured, 0 page faults per call in one process and ~750 in another, at ~2 us
per fault on this VM, i.e. ~1.5 ms on a 6 ms call, and the staging faults fall in the serial
part of the call.  So a steady stream of calls should touch no new memory:

- the staged inputs (if any) go to a buffer kept across calls (never returned to the caller);
- the outputs are one block per call; the next call with the same layout reuses it only when
  nothing else references the block, that is, when the caller has dropped every array it got
  (each is a view of the block, so each holds a reference to it).  An output the caller still
  holds is never written again.

Only buffers of at most KEEP_BYTES are kept, so a tape does not hold on to the memory of one
huge call; larger calls allocate as before (their faults are spread over both threads inside
the kernel, apart from the staging).
"""
import ctypes
import math
import sys

import numpy as np

__all__ = ["LINE", "PAGE", "KEEP_BYTES", "DATA_OFFSET", "ARRAY_FIELDS", "IN_PLACE_FLAGS",
           "aligned_empty", "BatchBuffers", "sources"]

LINE = 64                   # bytes in a cache line
PAGE = 4096                 # bytes in a page: no hardware prefetcher reads across one
KEEP_BYTES = 32 << 20       # the largest buffer a tape keeps between batch calls


def _layout(specs, align=LINE):
    """(bytes of each (shape, dtype) spec, total bytes with each one `align`-aligned)."""
    sizes = [math.prod(shape) * np.dtype(dt).itemsize for shape, dt in specs]
    return sizes, sum(-(-n // align) * align for n in sizes) + align


def _views(raw, specs, sizes, align=LINE):
    start = -raw.ctypes.data % align
    out = []
    for (shape, dt), n in zip(specs, sizes):
        out.append(raw[start:start + n].view(dt).reshape(shape))
        start += -(-n // align) * align
    return out


def aligned_empty(*specs, align=LINE):
    """np.empty arrays of the (shape, dtype) `specs`, each starting on a multiple of `align`
    bytes (numpy guarantees 16): on a cache line by default, so that with chunks of whole
    lines the outputs' lines each belong to one chunk.  One allocation for all of them (they
    are freed together)."""
    sizes, total = _layout(specs, align)
    return _views(np.empty(total, np.uint8), specs, sizes, align)


def _refs(buffers):
    """(sys.getrefcount of `buffers.out`, of each of `buffers.views`), always taken through
    this one code path: compared with _ALONE (the same counts of a block and views nothing
    else references), so that it does not depend on how an interpreter counts its own
    temporary references."""
    return sys.getrefcount(buffers.out), [sys.getrefcount(v) for v in buffers.views]


def _free(buffers):
    """Is no array cut from the kept block referenced but by `buffers`?  Every view of the
    block (numpy collapses a view's base to the block) holds a reference to the block; the
    kept views themselves never leave `outputs`, but are checked all the same."""
    block, views = _refs(buffers)
    return block == _ALONE[0] + len(views) and all(c == _ALONE[1] for c in views)


class BatchBuffers:
    """One batch call's staging buffer and output block, kept for a later call (see the
    module doc).  A call takes a set from `Recorded._io_pool` and puts it back after, so
    calls from several Python threads at once each use a set of their own."""
    __slots__ = ("stage", "out", "out_key", "views")

    def __init__(self):
        self.stage = np.empty(0, np.uint8)
        self.out = None         # the last output block (uint8), or None
        self.out_key = None     # its layout: the specs it was cut into
        self.views = None       # the arrays it was cut into (cutting them anew each call
                                # cost ~25 us on the caches a kernel call leaves cold)

    def staging(self, shape, dtype):
        """An uninitialized array of `shape` and `dtype` in the kept staging buffer (grown
        when too small; not kept beyond KEEP_BYTES)."""
        n = math.prod(shape) * np.dtype(dtype).itemsize
        if n > KEEP_BYTES:
            return np.empty(shape, dtype)
        if self.stage.nbytes < n:
            self.stage = np.empty(n, np.uint8)
        return self.stage[:n].view(dtype).reshape(shape)

    def outputs(self, *specs):
        """aligned_empty(*specs) as a tuple: the last call's arrays when they have the same
        layout and none of them, nor any view of their block, is referenced any more (the
        reference counts are ours alone)."""
        if self.out is not None and self.out_key == specs and _free(self):
            views = self.views
        else:
            sizes, total = _layout(specs)
            raw = np.empty(total, np.uint8)
            views = tuple(_views(raw, specs, sizes))
            if total <= KEEP_BYTES:
                self.out, self.out_key, self.views = raw, specs, views
            else:
                self.out = self.out_key = self.views = None
        # new array objects on the kept views: a caller that sets an array's shape, strides
        # or flags changes its own object, never the next call's
        return tuple(map(np.ndarray.view, views))


def _alone():
    b = BatchBuffers()
    b.out = np.empty(LINE, np.uint8)
    b.views = (b.out[:1],)
    block, views = _refs(b)
    return block - 1, views[0]


_ALONE = _alone()   # _refs of a kept block (less its views' references) and of a kept view
                    # that nothing else references


# -- the inputs of a batch call, read in place ----------------------------------------------------
def _data_offset():
    """Byte offset of the data address inside a numpy array object (numpy's C struct
    PyArrayObject_fields: the object header, then `char *data`, read by every compiled numpy
    extension through PyArray_DATA, so fixed for a numpy ABI), or None where it cannot be
    confirmed: found by reading each candidate offset of three probe arrays (of different
    dtypes and sizes, one a view) and kept only when every probe's `ctypes.data` is there.
    Only CPython's id() is an object's address."""
    if sys.implementation.name != "cpython":
        return None
    base = np.arange(7.0)
    probes = (base, base[3:], np.empty(5, np.float32), np.empty(0, np.int64))
    step = ctypes.sizeof(ctypes.c_void_p)
    for off in range(step, 16 * step, step):
        if all(ctypes.c_void_p.from_address(id(a) + off).value == a.ctypes.data for a in probes):
            return off
    return None


DATA_OFFSET = _data_offset()

# The flag bits of an array object that the batch kernel needs set to read an input in place
# (numpy's NPY_ARRAY_C_CONTIGUOUS and NPY_ARRAY_ALIGNED, confirmed on probes in _array_fields)
IN_PLACE_FLAGS = 0x1 | 0x100


def _array_fields():
    """Byte offsets inside a numpy array object of what decides whether the batch kernel can
    read it in place, as an int64 array [ob_type, data, nd, dimensions, descr, flags]: CPython's
    object header, then numpy's public C struct PyArrayObject_fields (`char *data`, `int nd`,
    `npy_intp *dimensions`, `npy_intp *strides`, `PyObject *base`, `PyArray_Descr *descr`,
    `int flags`), fixed for a numpy ABI.  None where it cannot be confirmed: each offset is
    numpy's, checked (not searched for) on probe arrays of several ranks, dtypes and layouts
    against ndim, shape, dtype and flags, and the flag bits against numpy's own."""
    if DATA_OFFSET is None or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    fields = np.array([8, DATA_OFFSET, DATA_OFFSET + 8, DATA_OFFSET + 16, DATA_OFFSET + 40,
                       DATA_OFFSET + 48], np.int64)
    type_off, _, nd_off, dims_off, descr_off, flags_off = fields.tolist()
    raw = np.zeros(17, np.uint8)
    base = np.arange(24.0).reshape(2, 3, 4)
    probes = (base, base[:, 1], np.empty(5, np.float32), np.empty(0, np.int64), np.array(3.0),
              np.asfortranarray(np.ones((3, 2))), np.frombuffer(raw.data, np.float64, 2, offset=1))
    for a in probes:
        at = id(a)
        if (ctypes.c_void_p.from_address(at + type_off).value != id(type(a))
                or ctypes.c_int.from_address(at + nd_off).value != a.ndim
                or ctypes.c_void_p.from_address(at + descr_off).value != id(a.dtype)
                or ctypes.c_int.from_address(at + flags_off).value != a.flags.num):
            return None
        if a.ndim:      # (read only once the fields before said this is numpy's struct)
            dims = ctypes.c_void_p.from_address(at + dims_off).value
            if not dims or tuple((ctypes.c_int64 * a.ndim).from_address(dims)) != a.shape:
                return None
    in_place = [a.flags.num & IN_PLACE_FLAGS == IN_PLACE_FLAGS for a in probes]
    if in_place != [a.flags.c_contiguous and a.flags.aligned for a in probes]:
        return None
    return fields


ARRAY_FIELDS = _array_fields()


def sources(Xs, sizes, B, dtype, buffers):
    """(src, deref, keep): where replay_batch reads each input of a batch call (see its doc):
    `src` an int64 array of one entry per input, `deref` as the kernel takes it, `keep` the
    arrays it points into (alive until the kernel returns).  Xs are the inputs, already
    checked to have shape (B,) + the input's shape, `sizes` their elements per point.

    An input that is an ndarray of `dtype`, C-contiguous and aligned is read where it is (0
    bytes copied); any other (another dtype, strided, a list, a Tensor) is copied (cast as
    np.concatenate(casting="unsafe") would) into `buffers`' kept staging buffer, point-major.
    The check is three attribute reads per input (~7 us for 100), the addresses one id() each
    (~3 us), against ~80 us for 100 `ctypes.data` reads."""
    keep = list(Xs)
    # (`is` first: an array's dtype is almost always numpy's own instance, and == costs 5x)
    direct = [type(a) is np.ndarray and (a.dtype is dtype or a.dtype == dtype)
              and (f := a.flags).c_contiguous and f.aligned for a in Xs]
    if not all(direct):
        stage = buffers.staging((sum(k for k, d in zip(sizes, direct) if not d) * B,), dtype)
        start = 0
        for i, (a, k, d) in enumerate(zip(Xs, sizes, direct)):
            if not d:
                keep[i] = stage[start:start + k * B].reshape(B, k)
                np.copyto(keep[i], np.asarray(a).reshape(B, k), casting="unsafe")
                start += k * B
    if DATA_OFFSET is None:
        return np.array([a.ctypes.data for a in keep], np.int64), -1, keep
    return np.fromiter(map(id, keep), np.int64, len(keep)), DATA_OFFSET, keep
