"""The positions of the extremes along the middle axis of an (outer, m, inner) block: the eager
forward of max/min(dim), and of max()/amax/amin when each slice has one extreme, in one
Numba loop (numpy's argmax, two take_along_axis and a tie check cost 10-20 µs on a (16, 3)
tensor; this ~1.5 µs).

Imported on first use through `_jit.kernel_module`, as tapegrad._sums.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def first_extremes(a, is_max):
    """(at, pos, sole) for the C-contiguous (outer, m >= 1, inner) array a: at[o * inner + i]
    the index along m of the first extreme of slice a[o, :, i] (the first nan where the slice
    holds one, as numpy's argmax and torch's max(dim)), pos the same element's flat position
    in a, and sole whether every slice's extreme is its only element equal to it and none is
    nan (-0.0 and 0.0 are equal: a tie)."""
    outer, m, inner = a.shape
    at = np.zeros(outer * inner, np.int64)
    pos = np.empty(outer * inner, np.int64)
    best = np.empty(inner, a.dtype)
    ties = np.zeros(inner, np.bool_)
    nan = np.zeros(inner, np.bool_)
    sole = True
    for o in range(outer):
        row = o * inner
        for i in range(inner):
            v = a[o, 0, i]
            best[i] = v
            at[row + i] = 0
            ties[i] = False
            nan[i] = v != v
        # along m in the outer loop: the inner elements are contiguous
        for k in range(1, m):
            for i in range(inner):
                if nan[i]:
                    continue
                v = a[o, k, i]
                if v != v:
                    nan[i] = True
                    at[row + i] = k
                elif v > best[i] if is_max else v < best[i]:
                    best[i] = v
                    at[row + i] = k
                    ties[i] = False
                elif v == best[i]:
                    ties[i] = True
        for i in range(inner):
            if nan[i] or ties[i]:
                sole = False
            pos[row + i] = (o * m + at[row + i]) * inner + i
    return at, pos, sole
