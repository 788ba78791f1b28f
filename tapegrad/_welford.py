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
def welford(a, correction, m2, var, std, mean):
    """m2, var, std and mean of slice a[o, :, i] of the C-contiguous (outer, m, inner) array
    a, at flat position o * inner + i of each (C-contiguous arrays of outer * inner elements,
    in the result's shape, of its dtype, each value rounded once): the sum of squared
    deviations m2 and the mean by Welford's update in float64, the var m2 over
    max(m - correction, 0) (inf or nan at 0, as torch's quotient), std its square root in
    float64.  The slices advance together along the inner axis: each
    update's chain of a subtraction, a division and an addition is latency-bound alone,
    vectorized across slices (a short inner axis: the caller transposes)."""
    outer, m, inner = a.shape
    m2, var, std, mean = m2.reshape(-1), var.reshape(-1), std.reshape(-1), mean.reshape(-1)
    mu = np.empty(inner)
    s2 = np.empty(inner)
    divisor = m - correction if m > correction else 0.0
    for o in range(outer):
        for i in range(inner):
            mu[i] = 0.0
            s2[i] = 0.0
        for k in range(m):
            nf = float(k + 1)
            for i in range(inner):
                x = float(a[o, k, i])
                delta = x - mu[i]
                new_mu = mu[i] + delta / nf
                s2[i] += delta * (x - new_mu)
                mu[i] = new_mu
        for i in range(inner):
            v = s2[i] / divisor
            at = o * inner + i
            var[at] = v
            std[at] = math.sqrt(v)
            m2[at] = s2[i]
            mean[at] = mu[i]


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


@njit(cache=True, fastmath={"reassoc"})
def squared_deviations_any_order(x, mean):
    """squared_deviations' sum in whatever order the vector loop adds (fastmath's
    reassociation, of the additions only: each term (x[k] - mean)^2 is the same double), ~7x
    faster: any order's sum of n terms >= 0 is within (n - 1) * 2^-53 of it relative
    (ndops.torch_moments bounds the in-order sum by that)."""
    s = 0.0
    for k in range(x.shape[0]):
        d = float(x[k]) - mean
        s += d * d
    return s


@njit(cache=True, error_model="numpy")
def welford_chain(x):
    """(mean, m2) of the 1-d array x by `welford`'s update, element by element in order, as
    two floats (var_mean / std_mean of one result: no arrays to make)."""
    mu = 0.0
    s2 = 0.0
    for k in range(x.shape[0]):
        v = float(x[k])
        delta = v - mu
        mu = mu + delta / float(k + 1)
        s2 += delta * (v - mu)
    return mu, s2
