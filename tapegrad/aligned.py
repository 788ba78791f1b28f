"""Arrays that start on a 64-byte boundary, as torch's CPU allocator places every storage.

numpy's allocations of more than a few KB start 16 bytes past a 64-byte boundary (malloc's
chunk header), and OpenBLAS's float64 kernels read a matrix placed so more slowly: on this
host's SkylakeX cores (one thread), 64x1000 @ 1000x100 took 276-278 us with the right-hand
operand there against 249-258 us on a boundary, and 1000x64 @ 64x100 230-237 against 219-221
(float32 showed no difference).  `tapegrad.tensor` and the filling factories (zeros, ones,
empty, full, what nn's layers start from) take their storage here when it is large enough for
BLAS to see it; smaller ones keep numpy's own (a call ~1 us cheaper).

The array views a memoryview of a larger numpy buffer, not the buffer itself: its chain of
numpy bases ends at a flat array of exactly its elements, its storage root at offset 0, as
storage_offset(), is_set_to(), serialization and the version counters read it.
"""
import math

import numpy as np

__all__ = ["ALIGN", "MIN_BYTES", "empty", "full", "copy", "array", "check_nbytes", "alloc_error",
           "storage_error"]

ALIGN = 64               # bytes: a cache line, and torch's alignment of CPU storage
MIN_BYTES = 1 << 16      # smaller arrays: numpy's own allocation
_INT64_END = 1 << 63


def check_nbytes(shape, itemsize):
    """The byte count of a contiguous storage of `shape`; torch's error where it overflows
    int64 (computeStorageNbytesContiguous), before any allocation is tried."""
    nbytes = math.prod(shape) * itemsize
    if nbytes >= _INT64_END:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}")
    return nbytes


def alloc_error(nbytes):
    """torch's error for a storage of nbytes its CPU allocator could not get (numpy's
    MemoryError, or its "too big" ValueError for a temporary larger than the result)."""
    return RuntimeError(f"[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: "
                        f"can't allocate memory: you tried to allocate {nbytes} bytes. "
                        f"Error code 12 (Cannot allocate memory)")


def storage_error(shape, itemsize):
    """torch's error for a result of `shape` (elements of `itemsize` bytes) whose storage
    numpy could not allocate (its MemoryError, or its "too big" ValueError past intp), for
    the `except` of a computation that allocates it: check_nbytes's overflow error (raised
    here), else alloc_error.  The `try` costs nothing where the allocation succeeds."""
    return alloc_error(check_nbytes(shape, itemsize))


def empty(shape, dtype):
    """np.empty(shape, dtype), on a 64-byte boundary when MIN_BYTES or larger (torch's
    errors where the storage cannot be had)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    check_nbytes(shape, dtype.itemsize)
    try:
        raw = np.empty(nbytes + ALIGN, np.uint8)
    except (MemoryError, ValueError):   # (ValueError: past numpy's intp, 2**63 - 64 bytes on)
        raise alloc_error(nbytes) from None
    at = -raw.__array_interface__["data"][0] % ALIGN
    # (frombuffer keeps the memoryview as the base: np.ndarray(buffer=) would unwrap it to raw)
    return np.frombuffer(memoryview(raw)[at:at + nbytes], dtype).reshape(shape)


def full(shape, value, dtype):
    """np.full(shape, value, dtype) on empty()'s storage (numpy's cast of value, unsafe)."""
    dtype = np.dtype(dtype)
    kind = value.__class__
    if math.prod(shape) * dtype.itemsize < MIN_BYTES:   # (empty()'s test, its dtype made once)
        if kind is int and value == 0:
            return np.zeros(shape, dtype)   # (~0.8 us less than empty + copyto)
        out = np.empty(shape, dtype)
    else:
        out = empty(shape, dtype)
    if kind is float and dtype.kind == "f" or kind is int and dtype.kind in "fiu":
        out.fill(value)   # (numpy's unsafe cast as copyto's, for these; ~0.35 us less)
    else:   # (bools, numpy scalars, ints into bool: where fill's conversions differ)
        np.copyto(out, value, casting="unsafe")
    return out


def copy(arr, dtype):
    """np.array(arr, dtype=dtype, copy=True) on empty()'s storage (for numbers and bools; other
    kinds of arr take numpy's own copy and its conversions)."""
    dtype = np.dtype(dtype)
    if arr.size * dtype.itemsize < MIN_BYTES or arr.dtype.kind not in "biuf" or \
            dtype.kind not in "biufc":
        return np.array(arr, dtype=dtype, copy=True)
    out = empty(arr.shape, dtype)
    np.copyto(out, arr, casting="unsafe")
    return out


def array(items, dtype, shape):
    """np.array(items, dtype) of a list of Python numbers (or of equal lists of them) of
    that `shape`, on empty()'s storage when large (copy()'s placement, without numpy's
    intermediate float64 / int64 array)."""
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize < MIN_BYTES:
        return np.array(items, dtype)
    out = empty(shape, dtype)
    out[...] = items
    return out
