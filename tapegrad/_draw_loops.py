"""The rejection samplers' per-value loops in Numba (loaded by tapegrad/gamma_draws.py through
`_jit.kernel_module`, so `import tapegrad` stays free of numba): torch's `sample_gamma`,
`sample_poisson` and `sample_binomial` (aten/src/ATen/native/Distributions.h) over the
elements in order, drawing from torch's mt19937 run here on the engine's state; and the
engine's own bulk draws there (words, uniforms) and the discrete draws that are one loop each
(randint's from-to below 2^28, randperm's swaps, exponential_, multinomial with replacement),
so that a small draw is one call, not a chain of numpy passes.

The engine state is an int64 array `mt` of N + 2 (tapegrad.mt19937.MT19937.loop_state): the
N = 624 words, mt[POS] the index of the next word (N: twist first; CPython's `random.Random`
keeps the same index), mt[DRAWN] a count of words drawn.  `cached_normal` is float64 [flag,
value], at::normal_distribution<double>'s cached second Box-Muller sample, read and left
as torch leaves it.

Arithmetic as gamma_draws' docstring says: float32 values where torch's `scalar_t` is float
(np.float32 operands, float32 literals), double elsewhere.  No fastmath, so LLVM neither
reorders nor contracts into fmas (Distributions.cpp is compiled without them).  The C library
functions are torch's: Numba's math.log/exp/pow lower to llvm.log/exp/pow, bound to numba's
helper table, and math.log1p (log1p, log1pf) to the same table, whose entries are jumps to
libm's functions (checked by disassembling numba 0.68's _helperlib); math.lgamma calls the
symbol `lgamma`, which LLVM resolves to libm's.  error_model="numpy": IEEE division (1 / 0
is inf, as in C), no Python exceptions.
"""
import math

import numpy as np
from numba import njit

N = 624                     # words of state
_M = 397                    # mt19937's shift
POS = N                     # mt[POS]: index of the next word
DRAWN = N + 1               # mt[DRAWN]: words drawn so far
_MATRIX_A = 0x9908B0DF
_UPPER = 0x80000000
_LOWER = 0x7FFFFFFF
_U53 = 2.0 ** -53
_TWO_PI = 2.0 * math.pi
_THIRD_F32 = np.float32(1.0) / np.float32(3.0)      # 1.0f / 3.0f
_C0331 = float(np.float32(0.0331))                  # 0.0331f widened
# stirling_approx_tail's table, k = 0..9
_TAIL = np.array([0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287])
_INT64_MIN = -9.223372036854775808e18

_opts = dict(cache=True, nogil=True, error_model="numpy")
# the per-draw helpers are inlined into their loops (Numba IR): as calls, each also increfs
# and decrefs the state array, which made a draw about three times slower
_inline = dict(_opts, inline="always")


# ---- the engine ---------------------------------------------------------------------------------
@njit(**_opts)
def _twist(mt):
    """The next N words (genrand's regeneration), in place; int64 arithmetic on 32-bit words."""
    for k in range(N - _M):
        y = (mt[k] & _UPPER) | (mt[k + 1] & _LOWER)
        mt[k] = mt[k + _M] ^ (y >> 1) ^ (_MATRIX_A if y & 1 else 0)
    for k in range(N - _M, N - 1):
        y = (mt[k] & _UPPER) | (mt[k + 1] & _LOWER)
        mt[k] = mt[k + _M - N] ^ (y >> 1) ^ (_MATRIX_A if y & 1 else 0)
    y = (mt[N - 1] & _UPPER) | (mt[0] & _LOWER)
    mt[N - 1] = mt[_M - 1] ^ (y >> 1) ^ (_MATRIX_A if y & 1 else 0)


@njit(**_inline)
def next_word(mt):
    """torch's random(): the next tempered word."""
    i = mt[POS]
    if i >= N:
        _twist(mt)
        i = 0
    y = mt[i]
    mt[POS] = i + 1
    mt[DRAWN] += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y


@njit(**_inline)
def uniform(mt):
    """at::uniform_real_distribution<double>(0, 1): random64() (the first word the high half),
    its low 53 bits times 2^-53."""
    high = next_word(mt)
    low = next_word(mt)
    return (((high & 0x1FFFFF) << 32) | low) * _U53


# ---- bulk draws (tapegrad.mt19937.MT19937's u32 / uniform_f32 / uniform_f64) ----------------
# (no nogil: holding the GIL makes each draw atomic between threads, as torch's mutex does)
_bulk_opts = dict(cache=True, error_model="numpy")


@njit(**_inline)
def _take_words(mt, words, k):
    """words[:k] <- the next k words (k <= N), a block of the state at a time so that the
    tempering runs as a vectorized loop (10^5 words: 147 -> 94 us against next_word's)."""
    i = mt[POS]
    j = 0
    while j < k:
        if i >= N:
            _twist(mt)
            i = 0
        m = min(N - i, k - j)
        for q in range(m):
            y = mt[i + q]
            y ^= y >> 11
            y ^= (y << 7) & 0x9D2C5680
            y ^= (y << 15) & 0xEFC60000
            y ^= y >> 18
            words[j + q] = y
        i += m
        j += m
    mt[POS] = i
    mt[DRAWN] += k


@njit(**_bulk_opts)
def fill_words(mt, out):
    """out (uint32) <- the next out.size words, as that many calls of torch's random()."""
    words = np.empty(N, np.int64)
    n = out.shape[0]
    for start in range(0, n, N):
        k = min(N, n - start)
        _take_words(mt, words, k)
        for q in range(k):
            out[start + q] = words[q]


@njit(**_bulk_opts)
def fill_uniform_f32(mt, out):
    """out (float32) <- uniform_real_distribution<float>(0, 1): 24 bits of random() times
    2^-24 (both exact in float32)."""
    scale = np.float32(2.0 ** -24)
    words = np.empty(N, np.int64)
    n = out.shape[0]
    for start in range(0, n, N):
        k = min(N, n - start)
        _take_words(mt, words, k)
        for q in range(k):
            out[start + q] = np.float32(words[q] & 0xFFFFFF) * scale


@njit(**_bulk_opts)
def fill_uniform_f64(mt, out):
    """out (float64) <- uniform_real_distribution<double>(0, 1), as `uniform` above: a pair
    of words per value, the first the high half."""
    words = np.empty(N, np.int64)
    n = out.shape[0]
    half = N // 2
    for start in range(0, n, half):
        k = min(half, n - start)
        _take_words(mt, words, 2 * k)
        for q in range(k):
            out[start + q] = (((words[2 * q] & 0x1FFFFF) << 32) | words[2 * q + 1]) * _U53


@njit(**_bulk_opts)
def fill_from_to(mt, rng, base, out):
    """out (int64) <- torch's random_from_to for a range 0 < rng < 2^28: (random() % rng) +
    base per value (the sum stays within int64: base + rng - 1 is the range's top)."""
    words = np.empty(N, np.int64)
    n = out.shape[0]
    for start in range(0, n, N):
        k = min(N, n - start)
        _take_words(mt, words, k)
        for q in range(k):
            out[start + q] = words[q] % rng + base


@njit(**_bulk_opts)
def fill_exponential(mt, lambd, out):
    """out (float64) <- torch's exponential_(lambd) before the cast: (-1 / lambd) *
    log1p(-u) per value, u a double uniform (random64's 53 bits), log1p libm's."""
    scale = -1.0 / lambd
    for i in range(out.shape[0]):
        out[i] = scale * math.log1p(-uniform(mt))


@njit(**_bulk_opts)
def fill_multinomial(mt, rows, out):
    """out[i, :] <- torch's multinomial with replacement from row i of `rows` (float32 or
    float64): the row's sequential cumulative sum in its dtype, divided by the total, the
    last entry 1; per sample a double uniform u placed at the first index whose cumulative
    value (as a double) is >= u.  Returns -1, or the first row whose total is not > 0 (its
    rows before it drawn, as torch's loop)."""
    n_dist, n_cat = rows.shape
    cum = np.empty(n_cat, rows.dtype)
    wide = np.empty(n_cat, np.float64)
    for i in range(n_dist):
        acc = rows[i, 0]   # (numpy's cumsum starts from the first value, not 0 + it)
        cum[0] = acc
        for j in range(1, n_cat):
            acc += rows[i, j]
            cum[j] = acc
        total = cum[n_cat - 1]
        if not total > 0:
            return i
        for j in range(n_cat):
            wide[j] = np.float64(cum[j] / total)
        wide[n_cat - 1] = 1.0
        for k in range(out.shape[1]):
            u = uniform(mt)
            lo = 0
            hi = n_cat
            while lo < hi:   # (the first index with wide >= u: searchsorted's "left")
                mid = (lo + hi) >> 1
                if wide[mid] < u:
                    lo = mid + 1
                else:
                    hi = mid
            out[i, k] = lo
    return -1


@njit(**_bulk_opts)
def fill_randperm(mt, out):
    """out (int64, n items, n < 2^32 // 20) <- torch's randperm(n): 0..n-1, then item i
    swapped with item i + random() % (n - i) for i = 0..n-2, a word per step."""
    n = out.shape[0]
    for i in range(n):
        out[i] = i
    for i in range(n - 1):
        j = i + next_word(mt) % (n - i)
        t = out[i]
        out[i] = out[j]
        out[j] = t


@njit(**_inline)
def normal(mt, cached_normal):
    """at::normal_distribution<double>(0, 1): the cached sample if there is one, else
    Box-Muller from two uniforms (u1 angle, u2 radius), r sin cached, r cos returned."""
    if cached_normal[0] != 0.0:
        cached_normal[0] = 0.0
        return cached_normal[1]
    u1 = uniform(mt)
    u2 = uniform(mt)
    r = math.sqrt(-2.0 * math.log1p(-u2))
    theta = _TWO_PI * u1
    cached_normal[0] = 1.0
    cached_normal[1] = r * math.sin(theta)
    return r * math.cos(theta)


# ---- gamma --------------------------------------------------------------------------------------
@njit(**_opts)
def gamma_one(alpha, single, mt, cached_normal):
    """sample_gamma<scalar_t, double>(alpha) before the cast, a double.  single: scalar_t is
    float (alpha a float32 value), so 1/alpha, alpha + 1 and alpha - 1/3 are float32 sums."""
    scale = 1.0
    if alpha < 1.0:
        if alpha == 0.0:
            return 0.0
        if single:
            inv = np.float64(np.float32(1.0) / np.float32(alpha))
        else:
            inv = 1.0 / alpha
        scale *= math.pow(1.0 - uniform(mt), inv)
        if single:
            alpha = np.float64(np.float32(alpha) + np.float32(1.0))
        else:
            alpha = alpha + 1.0
    if single:
        d = np.float64(np.float32(alpha) - _THIRD_F32)
    else:
        d = alpha - np.float64(_THIRD_F32)
    c = 1.0 / math.sqrt(9.0 * d)        # inf at d = 0, NaN below: C's values
    while True:
        while True:
            x = normal(mt, cached_normal)
            y = 1.0 + c * x
            if not y <= 0:
                break
        v = y * y * y
        u = 1 - uniform(mt)
        xx = x * x
        if u < 1.0 - _C0331 * xx * xx:
            return scale * d * v
        if math.log(u) < 0.5 * xx + d * (1.0 - v + math.log(v)):
            return scale * d * v


@njit(**_opts)
def gamma_fill(alpha, single, out, mt, cached_normal):
    """out[i] = gamma_one(alpha[i]) for each i in order (alpha float64, 1-d)."""
    for i in range(alpha.shape[0]):
        out[i] = gamma_one(alpha[i], single, mt, cached_normal)


# ---- poisson ------------------------------------------------------------------------------------
@njit(**_opts)
def _to_int64(k):
    """static_cast<int64_t>(double) as x86-64 does it (out of range, inf and NaN give
    INT64_MIN), as a double: fptosi alone is undefined there."""
    if k != k or not -9.223372036854775808e18 <= k < 9.223372036854775808e18:
        return _INT64_MIN
    return k


@njit(**_opts)
def poisson_one(lam, mt):
    """sample_poisson(lambda), lambda >= 0: Hoermann's transformed rejection for
    lambda >= 10, else the product of uniforms; the int64 count as a double."""
    if lam >= 10:
        slam = math.sqrt(lam)
        loglam = math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        log_invalpha = math.log(invalpha)
        while True:
            U = uniform(mt) - 0.5
            V = uniform(mt)
            us = 0.5 - abs(U)
            k = np.floor((2 * a / us + b) * U + lam + 0.43)   # us == 0: U = -0.5, k = -inf
            if us >= 0.07 and V <= vr:
                return _to_int64(k)
            if k < 0 or (us < 0.013 and V > us):
                continue
            if ((math.log(V) + log_invalpha - math.log(a / (us * us) + b))
                    <= (-lam + k * loglam - math.lgamma(k + 1.0))):
                return _to_int64(k)
    if lam == 0:
        return 0.0
    enlam = math.exp(-lam)
    x = 0
    prod = 1.0
    while True:
        prod *= uniform(mt)
        if prod > enlam:
            x += 1
        else:
            return np.float64(x)


@njit(**_opts)
def poisson_fill(rate, out, mt):
    """out[i] = poisson_one(rate[i]) in order (rate float64, 1-d); returns -1, or the index of
    the first rate that is negative or NaN (torch's check, after the draws before it)."""
    for i in range(rate.shape[0]):
        lam = rate[i]
        if not lam >= 0:
            return i
        out[i] = poisson_one(lam, mt)
    return -1


# ---- binomial -----------------------------------------------------------------------------------
@njit(**_opts)
def _stirling_tail(k):
    """stirling_approx_tail<double>(k): the table below 10, the series above."""
    if k < 10:
        return _TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


@njit(**_opts)
def _binomial_inversion(count, prob, single, mt):
    """binomial_inversion<scalar_t, double>: geometric waiting times until they pass count
    (log1pf of the float32 prob when single)."""
    if single:
        logprob = np.float64(math.log1p(-np.float32(prob)))
    else:
        logprob = math.log1p(-prob)
    geom_sum = 0.0
    num = 0
    while True:
        geom_sum += np.ceil(math.log(uniform(mt)) / logprob)   # (u = 0: log -inf, sum inf)
        if geom_sum > count:
            return np.float64(num)
        num += 1


@njit(**_opts)
def _btrs(count, prob, single, mt):
    """btrs<scalar_t, double>: Hoermann's transformed rejection with squeeze."""
    if single:
        count32, prob32, one32 = np.float32(count), np.float32(prob), np.float32(1.0)
        cp = count32 * prob32
        stddev = np.float64(math.sqrt(cp * (one32 - prob32)))      # sqrtf
        c = np.float64(cp) + 0.5
        m = np.float64(np.floor((count32 + one32) * prob32))
        count1 = np.float64(count32 + one32)
    else:
        stddev = math.sqrt(count * prob * (1 - prob))
        c = count * prob + 0.5
        m = np.floor((count + 1) * prob)
        count1 = count + 1
    r = prob / (1 - prob)
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * stddev
    # terms fixed for the element
    t_m = (m + 0.5) * math.log((m + 1) / (r * (count - m + 1)))
    tail_m = _stirling_tail(m)
    tail_cm = _stirling_tail(count - m)
    while True:
        U = uniform(mt) - 0.5
        V = uniform(mt)
        us = 0.5 - abs(U)
        if us == 0:             # U = -0.5 and a > 0: k = -inf, rejected
            continue
        k = np.floor((2 * a / us + b) * U + c)
        if single:
            k = np.float64(np.float32(k))
        if k < 0 or k > count:
            continue
        if us >= 0.07 and V <= v_r:
            return k
        V = math.log(V * alpha / (a / (us * us) + b))
        if single:
            cmk32 = np.float32(count) - np.float32(k)                   # count - k in float
            cmk1 = np.float64(cmk32 + np.float32(1.0))
            kp1 = np.float64(np.float32(k) + np.float32(1.0))
            cmk = np.float64(cmk32)
        else:
            cmk = count - k
            cmk1 = cmk + 1
            kp1 = k + 1
        upper = (t_m + count1 * math.log((count - m + 1) / cmk1)
                 + (k + 0.5) * math.log(r * cmk1 / kp1)
                 + tail_m + tail_cm - _stirling_tail(k) - _stirling_tail(cmk))
        if V <= upper:
            return k


@njit(**_opts)
def binomial_one(count, prob, single, mt):
    """sample_binomial<scalar_t, double>(count, prob), a double (count not NaN)."""
    if count <= 0.0 or prob <= 0.0:
        return 0.0
    if prob >= 1.0:
        return count
    if prob <= 0.5:
        if single:
            cp = np.float64(np.float32(count) * np.float32(prob))
        else:
            cp = count * prob
        if cp >= 10.0:
            return _btrs(count, prob, single, mt)
        return _binomial_inversion(count, prob, single, mt)
    if prob > 0.5:
        if single:
            q = np.float64(np.float32(1.0 - prob))
            cq = np.float64(np.float32(count) * np.float32(q))
        else:
            q = 1.0 - prob
            cq = count * q
        if cq >= 10.0:
            k = _btrs(count, q, single, mt)
        else:
            k = _binomial_inversion(count, q, single, mt)
        if single:
            return np.float64(np.float32(count) - np.float32(k))
        return count - k
    return math.nan             # a NaN prob


@njit(**_opts)
def binomial_fill(count, prob, single, out, mt):
    """out[i] = binomial_one(count[i], prob[i]) in order (float64, 1-d, one length)."""
    for i in range(count.shape[0]):
        out[i] = binomial_one(count[i], prob[i], single, mt)
