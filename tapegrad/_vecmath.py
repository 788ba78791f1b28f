"""Array faces of the formula vocabulary's `erf`, `erfc` and `lgamma` (tapegrad/vocab.py): one
Numba loop each over a contiguous float64 array, calling libm's function per element, as
CPython's math.erf / math.erfc / math.lgamma do (the same bits; tests/test_mathops.py checks
it; lgamma's poles and overflow give inf, where math.lgamma raises).  numpy has no erf:
np.vectorize of math.erf ran Python per element, ~110 µs for 512 elements, most of a
(16, 32) gelu's forward.

`libm_exp`, `libm_log`, `libm_sin`, `libm_cos`: libm's function per element in the array's
dtype (a float32 array: libm's float functions, expf & co), for tapegrad/_bessel.py, whose
torch kernels call them per element (numpy's own float64 exp differs from glibc's by an ulp
on ~5% of arguments, and its float32 functions from glibc's float ones).

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


@njit(cache=True)
def libm_exp(x):
    """libm's exp of each element of the 1-d float array x, in its dtype."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = math.exp(x[i])
    return out


@njit(cache=True)
def libm_log(x):
    """libm's log of each element of the 1-d float array x, in its dtype."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = math.log(x[i])     # (libm's: -inf at 0, nan below, no exception)
    return out


@njit(cache=True)
def libm_sin(x):
    """libm's sin of each element of the 1-d float array x, in its dtype."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = math.sin(x[i])
    return out


@njit(cache=True)
def libm_cos(x):
    """libm's cos of each element of the 1-d float array x, in its dtype."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = math.cos(x[i])
    return out
