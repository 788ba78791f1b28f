"""Sums of large float arrays over every element, for recording a full `sum`/`mean`: one
Numba loop with a float64 accumulator.  numpy's pairwise float32 sum is not vectorized (27 µs
for 200k elements, torch's sum 7 µs); this loop is (fastmath's `reassoc` lets LLVM split the
accumulator into vector lanes: 7.6 µs), and float64 accumulation keeps it at least as exact
as numpy's pairwise float32 sum.  The caller rounds the result to the array's dtype.

Imported on the first large sum through `_jit.kernel_module` (so `import tapegrad` stays
free of numba, and the cache is placed as for tapegrad._kernels).

And the eager forward of a float cumsum (`running_sums`): numpy's astype, accumulate, `+=
0.0` and cast back cost ~3 us of an (8, 32) cumsum; this loop gives the same bits in one call.
"""
import numpy as np
from numba import njit


@njit(cache=True, fastmath={"reassoc"})
def total(x):
    """The sum of the 1-d array x, accumulated in float64 (in any order)."""
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
    return s


@njit(cache=True)
def running_sums(x, out, reverse):
    """out[o, :, i] = the running sums of x[o, :, i] (x and out (outer, m, inner), float32 or
    float64) from +0.0, from the last element with `reverse`: each the previous sum plus the
    next element, accumulated in float64 and rounded once to out's dtype (no fastmath: the
    order and bits of kinds/scan.forward's numpy accumulate, torch's cumsum)."""
    outer, m, inner = x.shape
    acc = np.empty(inner)
    for o in range(outer):
        for i in range(inner):
            acc[i] = 0.0
        for s in range(m):
            k = m - 1 - s if reverse else s
            for i in range(inner):
                acc[i] += x[o, k, i]
                out[o, k, i] = acc[i]
