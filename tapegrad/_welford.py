"""The values of var / std (and var_mean's mean) as torch's CPU reductions compute them.

`welford`: along the middle axis of an (outer, m, inner) block by Welford's update, torch's
route where a call has more than one result, and var_mean / std_mean's always (its
WelfordOps): each element in turn, in float64, the slice's mean and sum of squared deviations
updated, the quotient (and std's square root) taken in float64 and rounded once to the
result's dtype.  Equal elements give exactly 0 (two passes in the dtype may not).
`squared_deviations`: the second of the two passes in float64 of var / std of one result.

Imported on first use through `_jit.kernel_module`, as tapegrad._sums.
"""
import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def welford(a, correction, var, std, mean):
    """var[o, i], std[o, i] and mean[o, i] of slice a[o, :, i] of the C-contiguous (outer, m,
    inner) array a, the var over max(m - correction, 0) (inf or nan at 0, as torch's
    quotient), std its square root in float64 (var, std and mean (outer, inner) arrays of the
    result's dtype, each rounded once).  The slices advance together along the inner axis:
    each update's chain of a subtraction, a division and an addition is latency-bound alone,
    vectorized across slices (a short inner axis: the caller transposes)."""
    outer, m, inner = a.shape
    mu = np.empty(inner)
    m2 = np.empty(inner)
    divisor = m - correction if m > correction else 0.0
    for o in range(outer):
        for i in range(inner):
            mu[i] = 0.0
            m2[i] = 0.0
        for k in range(m):
            nf = float(k + 1)
            for i in range(inner):
                x = float(a[o, k, i])
                delta = x - mu[i]
                new_mu = mu[i] + delta / nf
                m2[i] += delta * (x - new_mu)
                mu[i] = new_mu
        for i in range(inner):
            v = m2[i] / divisor
            var[o, i] = v
            std[o, i] = math.sqrt(v)
            mean[o, i] = mu[i]


@njit(cache=True)
def squared_deviations(x, mean):
    """The sum of (x[k] - mean)^2 over the 1-d array x, in float64, element by element in
    order (torch's second pass over every element for a var / std of one result; no fastmath:
    its order and bits)."""
    s = 0.0
    for k in range(x.shape[0]):
        d = float(x[k]) - mean
        s += d * d
    return s
