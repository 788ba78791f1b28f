"""Float sums and means with torch's values: float32 and float64 arrays summed as torch 2.13's
CPU `sum` sums them (its cascade_sum, in the dtype, in its kernel's order, split between
torch's intra-op threads as TensorIterator splits it), by tapegrad._sums' Numba kernel; a
mean is that sum divided by the count in the dtype, as torch's CPU `mean` (sum_out, then
div_ by the count).

The kernel module is imported on the first sum through `_jit.kernel_module` (so `import
tapegrad` stays free of numba).
"""
import numpy as np

from .fpstate import ERR_RESET as _ERR_RESET, ERR_SET as _ERR_SET, QUIET as _QUIET
from ._jit import kernel_module
from .settings import get_num_threads

__all__ = ["sums", "kernels", "KERNEL_DTYPES", "memory_of", "reduce_float", "total",
           "sum_last_dim"]

# the dtypes tapegrad._sums' sum is compiled for (others: numpy's sums)
KERNEL_DTYPES = (np.float32, np.float64)

_fns = []          # [_sums.torch_total, torch_sum_middle, torch_sum], once imported


def _import_sums():
    from . import _sums
    return _sums


def sums():
    """tapegrad._sums, imported (with numba) on first use."""
    return kernel_module("tapegrad._sums", "_sums.py", _import_sums)


def kernels():
    """(_sums.torch_total, torch_sum_middle, torch_sum)."""
    if not _fns:
        mod = sums()
        _fns[:] = [mod.torch_total, mod.torch_sum_middle, mod.torch_sum]
    return _fns


def memory_of(arr):
    """(flat, element strides) of the array arr: flat the 1-d array of the memory its
    elements span (row-major: typed contiguous for the kernel), or of its row-major copy where
    a stride is negative (numpy's reversed views; torch has none, its flip copies)."""
    item = arr.itemsize
    strides = [s // item for s in arr.strides]
    if min(strides, default=0) < 0:
        arr = np.ascontiguousarray(arr)
        strides = [s // item for s in arr.strides]
    span = 0 if arr.size == 0 else 1 + sum((n - 1) * s for n, s in zip(arr.shape, strides))
    return np.lib.stride_tricks.as_strided(arr, (span,), (item,)), strides


def reduce_float(arr, dims, keepdim, mean):
    """torch's sum (mean with `mean`) of the float32/float64 array arr over the sorted tuple
    of dims, keepdim as torch's: a row-major array of arr's dtype, as torch lays out a
    reduction's result."""
    shape = arr.shape
    nd = len(shape)
    count = 1
    for d in dims:
        count *= shape[d]
    if keepdim:
        kept = list(shape)
        for d in dims:
            kept[d] = 1
    else:
        kept = [shape[d] for d in range(nd) if d not in dims]
    if arr.size == 1:   # (torch's sum of one value: 0 + x, -0.0 to 0.0; the mean the same)
        return np.add(arr.reshape(kept), arr.dtype.type(0))
    out = np.empty(kept, arr.dtype)
    fns = _fns or kernels()
    if arr.flags.c_contiguous and (not dims or dims[-1] - dims[0] == len(dims) - 1):
        # (adjacent dims of a row-major array: its (outer, m, inner) middle dim)
        outer = inner = 1
        for d in range(dims[0] if dims else 0):
            outer *= shape[d]
        for d in range(dims[-1] + 1 if dims else nd, nd):
            inner *= shape[d]
        fns[1](arr.reshape(-1), outer, count, inner, out.reshape(-1), get_num_threads())
    else:
        flat, strides = memory_of(arr)
        fns[2](flat, np.array(shape, np.int64), np.array(strides, np.int64),
               np.array([d in dims for d in range(nd)], np.bool_), out.reshape(-1),
               get_num_threads())
    if mean:
        token = _ERR_SET(_QUIET)   # (0/0: nan, silently as torch)
        try:
            np.true_divide(out, arr.dtype.type(count), out)
        finally:
            _ERR_RESET(token)
    return out


def total(arr, mean):
    """torch's sum (mean: divided by the element count in the dtype) of every element of the
    float32/float64 array arr, as a numpy scalar of its dtype."""
    if mean and arr.size == 0:   # (torch's 0 / 0: the CPU's NaN, its sign bit set)
        return reduce_float(arr, tuple(range(arr.ndim)), False, True)[()]
    if arr.flags.c_contiguous:   # (numba hands a float32 back as a Python float: exact)
        return arr.dtype.type((_fns or kernels())[0](arr.reshape(-1), arr.size if mean else 0,
                                                     get_num_threads()))
    out = reduce_float(arr, tuple(range(arr.ndim)), False, mean)
    return out.dtype.type(out)


def sum_last_dim(x):
    """x.sum(-1) of a float array (at least 1-d), as torch's CPU sum computes it."""
    return reduce_float(x, (x.ndim - 1,), False, False)
