"""Array faces of the formula vocabulary's `erf`, `erfc` and `lgamma` (tapegrad/vocab.py): one
Numba loop each over a contiguous float64 array, calling libm's function per element, as
CPython's math.erf / math.erfc / math.lgamma do (the same bits; tests/test_mathops.py checks
it; lgamma's poles and overflow give inf, where math.lgamma raises).  numpy has no erf:
np.vectorize of math.erf ran Python per element, ~110 µs for 512 elements, most of a
(16, 32) gelu's forward.

Imported on first use through `_jit.kernel_module` (so `import tapegrad` stays free of numba,
and the cache is placed as for tapegrad._kernels).
"""
import math

import numpy as np
from numba import njit


@njit(cache=True)
def erf(x):
    """erf of each element of the 1-d float64 array x."""
    out = np.empty(x.shape[0], np.float64)
    for i in range(x.shape[0]):
        out[i] = math.erf(x[i])
    return out


@njit(cache=True)
def erfc(x):
    """erfc of each element of the 1-d float64 array x."""
    out = np.empty(x.shape[0], np.float64)
    for i in range(x.shape[0]):
        out[i] = math.erfc(x[i])
    return out


@njit(cache=True)
def lgamma(x):
    """lgamma of each element of the 1-d float64 array x."""
    out = np.empty(x.shape[0], np.float64)
    for i in range(x.shape[0]):
        out[i] = math.lgamma(x[i])
    return out
