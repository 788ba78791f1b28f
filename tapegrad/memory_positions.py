"""Where a view's elements lie in its base: flat row-major positions read from the memory
layout (byte addresses and strides), so views of views and bases in any layout are handled the
same way.  Used by the in-place ops through a view (copyslices.py) and by the tape when it
makes a view's grad_fn again after its memory changed (Tape.regenerated_view)."""
import numpy as np


def view_positions(base_arr, view_arr):
    """Flat row-major positions in `base_arr` of each element of `view_arr` (an array sharing
    its memory), as an int64 array of the view's shape."""
    item = base_arr.itemsize
    lo = min(_low(base_arr), _low(view_arr))
    hi = max(_low(base_arr) + _span(base_arr), _low(view_arr) + _span(view_arr))
    labels = np.full((hi - lo) // item + 1, -1, np.int64)
    _over(labels, base_arr, lo)[...] = np.arange(base_arr.size).reshape(base_arr.shape)
    return _over(labels, view_arr, lo).copy()


def _low(a):
    """Lowest byte address of a's elements."""
    return a.__array_interface__["data"][0] + sum(
        (n - 1) * s for n, s in zip(a.shape, a.strides) if s < 0 and n > 0)


def _span(a):
    return sum((n - 1) * abs(s) for n, s in zip(a.shape, a.strides) if n > 0)


def _over(labels, a, lo):
    """An int64 array laid over `labels` as `a` lies over the memory starting at lo."""
    item = a.itemsize
    start = (a.__array_interface__["data"][0] - lo) // item
    return np.lib.stride_tricks.as_strided(labels[start:], a.shape,
                                           [s // item * 8 for s in a.strides])
