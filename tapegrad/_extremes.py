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


@njit(cache=True)
def top_untied(a, k, largest):
    """(idx, pos, top, ok) for the C-contiguous (rows, n) array a and 0 < k < n: per row the
    indices along n of its k largest (smallest) values in that order, their flat positions
    in a and the values; ok whether no tie decides them: no row holds nan, no two of its k
    values are equal and its k-th value is nowhere else in the row (then every order picks
    the same k in the same order: structops._topk_untied's case).  A row's k kept by
    insertion as its elements are read (the k values as a multiset are the same whatever the
    ties, so the checks on them are too); ~1 us where numpy's argsort, take and tie checks
    cost ~6 us on an (8, 32) tensor."""
    rows, n = a.shape
    idx = np.empty((rows, k), np.int64)
    pos = np.empty((rows, k), np.int64)
    top = np.empty((rows, k), a.dtype)
    for r in range(rows):
        cnt = 0
        for j in range(n):
            v = a[r, j]
            if v != v:
                return idx, pos, top, False
            if cnt < k:
                p = cnt
                cnt += 1
            elif v > top[r, k - 1] if largest else v < top[r, k - 1]:
                p = k - 1
            else:
                continue
            while p > 0 and (v > top[r, p - 1] if largest else v < top[r, p - 1]):
                top[r, p] = top[r, p - 1]
                idx[r, p] = idx[r, p - 1]
                p -= 1
            top[r, p] = v
            idx[r, p] = j
        for i in range(1, k):
            if top[r, i] == top[r, i - 1]:
                return idx, pos, top, False
        kth = top[r, k - 1]
        same = 0
        for j in range(n):
            if a[r, j] == kth:
                same += 1
        if same != 1:
            return idx, pos, top, False
        for i in range(k):
            pos[r, i] = r * n + idx[r, i]
    return idx, pos, top, True
