"""Kernel faces of the formula vocabulary's functions that neither `math` nor Numba provide
with torch's IEEE-754 behaviour (rounding, remainders, erfinv, digamma, polygamma).

Each is plain Python in the subset Numba compiles; codegen copies the source into
tapegrad/_kernels.py as a callee under the vocabulary name (`vocab.Fn.kernel`).  The
special functions (erfinv, digamma, polygamma) are also their scalar faces, and, vectorized,
their numpy faces (numpy has none), so each formula is written once.
"""
import math

import numpy as np


def k_floor(x):
    return np.floor(x)


def k_ceil(x):
    return np.ceil(x)


def k_trunc(x):
    return np.trunc(x)


def k_rint(x):
    return np.rint(x)      # round half to even, as torch.round


def k_fmod(x, y):
    return np.fmod(x, y)


def k_remainder(x, y):
    """torch.remainder: fmod moved to the sign of the divisor (a zero keeps fmod's sign)."""
    r = np.fmod(x, y)
    if r != 0.0 and (r < 0.0) != (y < 0.0):
        r += y
    return r


def k_exp2(x):
    return 2.0 ** x


def erfinv(y):
    """Inverse error function: Giles' single-precision approximation, then Newton steps (on
    log(erfc) above 0.5, where erf has no relative precision left)."""
    if y != y or y < -1.0 or y > 1.0:
        return math.nan
    if y == 1.0:
        return math.inf
    if y == -1.0:
        return -math.inf
    s = 1.0
    if y < 0.0:
        s = -1.0
        y = -y
    w = -math.log((1.0 - y) * (1.0 + y))
    if w < 5.0:
        w = w - 2.5
        p = 2.81022636e-08
        p = 3.43273939e-07 + p * w
        p = -3.5233877e-06 + p * w
        p = -4.39150654e-06 + p * w
        p = 0.00021858087 + p * w
        p = -0.00125372503 + p * w
        p = -0.00417768164 + p * w
        p = 0.246640727 + p * w
        p = 1.50140941 + p * w
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        p = 0.000100950558 + p * w
        p = 0.00134934322 + p * w
        p = -0.00367342844 + p * w
        p = 0.00573950773 + p * w
        p = -0.0076224613 + p * w
        p = 0.00943887047 + p * w
        p = 1.00167406 + p * w
        p = 2.83297682 + p * w
    x = p * y
    for _ in range(8):
        d = 1.1283791670955126 * math.exp(-x * x)
        if d == 0.0:
            break
        if y > 0.5:   # Newton on log(erfc(x)) = log(1 - y): erfc keeps its relative precision
            c = math.erfc(x)
            step = (math.log(1.0 - y) - math.log(c)) * c / d
        else:
            step = (math.erf(x) - y) / d
        x -= step
        if abs(step) <= 1e-16 * abs(x):
            break
    return s * x


def digamma(x):
    """psi(x) = d/dx lgamma(x), as torch: -inf at 0, nan at negative integers and -inf."""
    if x != x or x == math.inf:
        return x
    if x == -math.inf:
        return math.nan
    if x == 0.0:
        return math.copysign(math.inf, -x)
    result = 0.0
    if x < 0.0:
        if x == np.floor(x):
            return math.nan
        # reflection: psi(x) = psi(1 - x) - pi / tan(pi x)
        result = -math.pi / math.tan(math.pi * x)
        x = 1.0 - x
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    t = f * (-1.0 / 12.0 + f * (1.0 / 120.0 + f * (-1.0 / 252.0 + f * (
        1.0 / 240.0 + f * (-1.0 / 132.0 + f * (691.0 / 32760.0 + f * (-1.0 / 12.0)))))))
    return result + math.log(x) - 0.5 / x + t


def hurwitz_zeta(s, q):
    """zeta(s, q) = sum over k >= 0 of (q + k)^-s, s > 1: shifted to q >= 10, then the
    Euler-Maclaurin tail with eight Bernoulli terms (relative error ~1e-16)."""
    if q != q:
        return q
    if q == math.inf:
        return 0.0
    if q <= 0.0 and q == np.floor(q):
        return math.inf
    acc = 0.0
    while q < 10.0:
        acc += q ** -s
        q += 1.0
    acc += q ** (1.0 - s) / (s - 1.0) + 0.5 * q ** -s
    bern = (1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0,
            7.0 / 6.0, -3617.0 / 510.0)
    poch = s
    qp = q ** (-s - 1.0)
    fac = 2.0
    for j in range(8):
        acc += bern[j] / fac * poch * qp
        k = 2.0 * j + 2.0
        poch *= (s + k - 1.0) * (s + k)
        qp /= q * q
        fac *= (k + 1.0) * (k + 2.0)
    return acc


def polygamma(n, x):
    """The n-th derivative of digamma (n a non-negative integer): (-1)^(n+1) n! zeta(n+1, x)."""
    if n == 0.0:
        return digamma(x)
    if x == -math.inf:
        return math.nan
    sign = 1.0 if np.fmod(n, 2.0) == 1.0 else -1.0
    return sign * math.gamma(n + 1.0) * hurwitz_zeta(n + 1.0, x)
