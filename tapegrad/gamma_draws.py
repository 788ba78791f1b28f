"""torch's CPU samplers built on rejection loops, bit for bit, on top of
`tapegrad.mt19937.MT19937`: `standard_gamma` (torch._standard_gamma), `poisson`
(torch.poisson), `binomial` (torch.binomial) and `dirichlet` (torch._sample_dirichlet).

Each function consumes the engine exactly as torch 2.13's CPU kernel does
(aten/src/ATen/native/Distributions.cpp `_s_gamma_cpu`, `_s_poisson_cpu`, `_s_binomial_cpu`,
`_s_dirichlet_cpu`; Distributions.h `sample_gamma`, `sample_binomial`): one element after the
other in C order of the (broadcast) output, each drawing as many values as its rejection loop
needs, so that afterwards `engine.state_bytes()` equals torch's `get_rng_state()`.

* the uniforms are `at::uniform_real_distribution<double>`: one random64() each, 53 bits;
* the normals (gamma) are `at::normal_distribution<double>`: the engine's cached double normal
  if there is one, else Box-Muller from two uniforms, the second value cached;
* the arithmetic follows the C++ types: `sample_gamma<float>` computes `1.0f / alpha`,
  `alpha + 1` and `d = alpha - 1.0f/3.0f` in float32, the rest in double (float literals such
  as 0.0331f and 1/3 widened from float); `sample_binomial<float>` computes count * prob,
  1 - prob, the BTRS standard deviation (sqrtf), r and m in float32 and calls log1pf in the
  inversion.  Distributions.cpp is compiled without FMA, so nothing is fused.
* the C library's functions are called where torch calls them: Python's `math` (log, log1p,
  exp, pow: libm's) and, through ctypes, libm's lgamma and log1pf (CPython's math.lgamma is its
  own implementation, not the C library's).

The loops run in Python, one value at a time (see tests/test_gamma_draws.py for timings).
Not reproduced: float16/bfloat16 (torch.poisson takes them; tapegrad has no such dtypes), and
a NaN binomial count (torch's loop never ends; here it raises).  Special values otherwise
follow C: NaN and negative concentrations give the smallest normal, an infinite Poisson rate
INT64_MIN.
"""
import ctypes
import ctypes.util
import math

import numpy as np

__all__ = ["standard_gamma", "poisson", "binomial", "dirichlet", "sum_last_dim"]

_F32 = np.float32
_MASK53 = (1 << 53) - 1
_U53 = 2.0 ** -53
_TWO_PI = 2.0 * math.pi
_THIRD_F = float(_F32(1.0) / _F32(3.0))        # 1.0f / 3.0f, widened
_C0331 = float(_F32(0.0331))                   # 0.0331f

_libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
_lgamma = _libm.lgamma
_lgamma.restype, _lgamma.argtypes = ctypes.c_double, [ctypes.c_double]
_log1pf = _libm.log1pf
_log1pf.restype, _log1pf.argtypes = ctypes.c_float, [ctypes.c_float]


class _Draws:
    """The engine's uniform and normal doubles, one at a time, as torch's
    at::uniform_real_distribution<double> / at::normal_distribution<double> draw them."""
    __slots__ = ("engine", "_bits")

    def __init__(self, engine):
        self.engine = engine
        self._bits = engine._py.getrandbits

    def uniform(self):
        w = self._bits(64)          # two words, the first the low half of w
        self.engine._fresh = False
        return ((((w & 0xFFFFFFFF) << 32) | (w >> 32)) & _MASK53) * _U53

    def normal(self):
        eng = self.engine
        cached = eng.next_double_normal
        if cached is not None:
            eng.next_double_normal = None
            return cached
        u1 = self.uniform()
        u2 = self.uniform()
        r = math.sqrt(-2.0 * math.log1p(-u2))
        theta = _TWO_PI * u1
        eng.next_double_normal = r * math.sin(theta)
        return r * math.cos(theta)


def _check_float(arr, name):
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: float32 or float64 values expected, got {arr.dtype}")


# ---- gamma ---------------------------------------------------------------------------------------
def _gamma_one(draws, alpha, single):
    """sample_gamma<scalar_t, double>(alpha) before the cast: a float (double).
    single: scalar_t is float (alpha a float32 value).  IEEE results where Python's math
    would raise (a NaN or negative concentration gives NaN, as torch's loop then does)."""
    scale = 1.0
    if alpha < 1.0:
        if alpha == 0.0:
            return 0.0
        inv = float(_F32(1.0) / _F32(alpha)) if single else 1.0 / alpha
        scale *= _pow(1.0 - draws.uniform(), inv)
        alpha = float(_F32(alpha) + _F32(1.0)) if single else alpha + 1.0
    d = float(_F32(alpha) - _F32(_THIRD_F)) if single else alpha - _THIRD_F
    nine_d = 9.0 * d
    if nine_d > 0:
        c = 1.0 / math.sqrt(nine_d)
    else:                                   # 1 / sqrt(0) = inf; sqrt(< 0) and NaN: NaN
        c = math.inf if nine_d == 0 else math.nan
    uniform, normal, log = draws.uniform, draws.normal, math.log
    while True:
        while True:
            x = normal()
            y = 1.0 + c * x
            if not y <= 0:
                break
        v = y * y * y
        u = 1 - uniform()
        xx = x * x
        if u < 1.0 - _C0331 * xx * xx:
            return scale * d * v
        if log(u) < 0.5 * xx + d * (1.0 - v + _log(v)):
            return scale * d * v


def _pow(x, y):
    try:
        return math.pow(x, y)
    except OverflowError:
        return math.inf


def _log(x):
    """C's log: -inf at 0, NaN below."""
    if x > 0 or x != x:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def _int64(k):
    """static_cast<int64_t>(double) as x86-64 does it: out of range, inf and NaN give
    INT64_MIN."""
    if k != k or not -9.223372036854775808e18 <= k < 9.223372036854775808e18:
        return -(1 << 63)
    return int(k)


def _floor(x):
    """math.floor as a float, inf and NaN passing through."""
    return float(math.floor(x)) if math.isfinite(x) else x


def standard_gamma(engine, alpha):
    """torch._standard_gamma(alpha) on CPU (alpha float32 or float64, any shape): a
    Gamma(alpha, 1) draw per element in C order, clamped below at the dtype's smallest normal
    number; returns alpha's dtype and shape."""
    alpha = np.asarray(alpha)
    _check_float(alpha, "standard_gamma")
    single = alpha.dtype == np.float32
    draws = _Draws(engine)
    tiny = float(np.finfo(alpha.dtype).tiny)
    out = np.empty(alpha.size, alpha.dtype)
    with np.errstate(all="ignore"):
        for i, a in enumerate(alpha.reshape(-1).tolist()):
            g = _gamma_one(draws, a, single)
            out[i] = max(tiny, g) if not single else max(tiny, float(_F32(g)))
    return out.reshape(alpha.shape)


# ---- dirichlet -----------------------------------------------------------------------------------
def dirichlet(engine, alpha, return_gammas=False):
    """torch._sample_dirichlet(alpha) on CPU (alpha float32 or float64, at least 1-d): double
    gamma draws (alpha widened to double, each clamped at DBL_MIN) in C order, divided by
    their sum over the last dimension (torch's cascade sum, `sum_last_dim`), cast to the
    dtype and clamped to [smallest normal, largest value below 1].  return_gammas: also the
    float64 gamma draws."""
    alpha = np.asarray(alpha)
    _check_float(alpha, "dirichlet")
    draws = _Draws(engine)
    tiny = float(np.finfo(np.float64).tiny)
    g = np.empty(alpha.size, np.float64)
    for i, a in enumerate(alpha.reshape(-1).tolist()):
        g[i] = max(tiny, _gamma_one(draws, a, False))
    g = g.reshape(alpha.shape)
    total = sum_last_dim(g) if alpha.ndim else g
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (g / total[..., None] if alpha.ndim else g / total).astype(alpha.dtype)
    dt = alpha.dtype.type
    out = np.minimum(np.nextafter(dt(1), dt(0)), np.maximum(np.finfo(alpha.dtype).tiny, ratio))
    return (out, g) if return_gammas else out


def _ceil_log2(x):
    return 1 if x <= 2 else (x - 1).bit_length()


def _multi_row_sum(load, nrows, size):
    """torch's multi_row_sum (cpu/SumKernel.cpp): nrows interleaved cascade sums over `size`
    steps, four levels, `load(i, k)` the k-th value of step i (arrays summed elementwise)."""
    levels = 4
    power = max(4, _ceil_log2(size) // levels)
    step = 1 << power
    mask = step - 1
    acc = [[0.0] * nrows for _ in range(levels)]
    i = 0
    while i + step <= size:
        for _ in range(step):
            for k in range(nrows):
                acc[0][k] = acc[0][k] + load(i, k)
            i += 1
        for j in range(1, levels):
            for k in range(nrows):
                acc[j][k] = acc[j][k] + acc[j - 1][k]
                acc[j - 1][k] = 0.0
            if i & (mask << (j * power)):
                break
    while i < size:
        for k in range(nrows):
            acc[0][k] = acc[0][k] + load(i, k)
        i += 1
    for j in range(1, levels):
        for k in range(nrows):
            acc[0][k] = acc[0][k] + acc[j][k]
    return acc[0]


def _row_sum(load, size):
    """torch's row_sum: the row read as (-1, 4), multi_row_sum over it, the leftover values
    added to the first partial sum, then the four partial sums in order."""
    ilp = 4
    n_ilp = size // ilp
    parts = _multi_row_sum(lambda i, k: load(i * ilp + k), ilp, n_ilp)
    for i in range(n_ilp * ilp, size):
        parts[0] = parts[0] + load(i)
    for k in range(1, ilp):
        parts[0] = parts[0] + parts[k]
    return parts[0]


def sum_last_dim(x):
    """x.sum(-1) of a C-contiguous float64 array as torch's CPU cascade_sum computes it (the
    inner-reduction paths; one thread per row): rows of at least one vector of 4 doubles sum
    vectors lane-wise, then the leftover values, then the lanes; shorter rows sum their values
    in row_sum's order.  Vectorized over the rows.  torch registers no AVX512 build of its sum
    kernel, so an AVX512 machine runs the AVX2 one (4 lanes), checked on one; the DEFAULT
    build's Vectorized<double> has 4 lanes too."""
    x = np.ascontiguousarray(x, np.float64)
    k = x.shape[-1]
    rows = x.reshape(-1, k)
    lanes = 4        # Vectorized<double> of torch's AVX2 kernel, which AVX512 machines run too
    if k < lanes:
        s = _row_sum(lambda i: rows[:, i], k)
    else:
        nvec = k // lanes
        vecs = rows[:, :nvec * lanes].reshape(-1, nvec, lanes)
        acc = _row_sum(lambda i: vecs[:, i, :], nvec)
        s = np.zeros(rows.shape[0])
        for i in range(nvec * lanes, k):
            s = s + rows[:, i]
        for lane in range(lanes):
            s = s + (acc[:, lane] if isinstance(acc, np.ndarray) else acc)
    s = np.broadcast_to(np.asarray(s, np.float64), (rows.shape[0],))
    return s.reshape(x.shape[:-1])


# ---- poisson -------------------------------------------------------------------------------------
def _poisson_one(draws, lam):
    """sample_poisson(lambda): Hoermann's transformed rejection for lambda >= 10, else the
    product of uniforms; an integer count."""
    if not lam >= 0:
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    uniform = draws.uniform
    if lam >= 10:
        slam = math.sqrt(lam)
        loglam = math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        log_invalpha = math.log(invalpha)
        while True:
            U = uniform() - 0.5
            V = uniform()
            us = 0.5 - abs(U)
            # (us == 0: U = -0.5 and a > 0, so k = -inf)
            k = _floor((2 * a / us + b) * U + lam + 0.43) if us else -math.inf
            if us >= 0.07 and V <= vr:
                return _int64(k)
            if k < 0 or (us < 0.013 and V > us):
                continue
            if ((_log(V) + log_invalpha - math.log(a / (us * us) + b))
                    <= (-lam + k * loglam - _lgamma(k + 1.0))):
                return _int64(k)
    if lam == 0:
        return 0
    enlam = math.exp(-lam)
    x = 0
    prod = 1.0
    while True:
        prod *= uniform()
        if prod > enlam:
            x += 1
        else:
            return x


def poisson(engine, rates):
    """torch.poisson(rates) on CPU (float32 or float64 rates): a count per element, in C
    order, returned in the rates' dtype and shape."""
    rates = np.asarray(rates)
    _check_float(rates, "poisson")
    flat = rates.reshape(-1).tolist()
    draws = _Draws(engine)      # (a negative or NaN rate raises there, as torch's check)
    out = np.array([_poisson_one(draws, lam) for lam in flat], np.float64)
    return out.astype(rates.dtype).reshape(rates.shape)


# ---- binomial ------------------------------------------------------------------------------------
_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983, 0.02079067210376509,
         0.0166446911898211, 0.0138761288230707, 0.0118967099458917, 0.0104112652619720,
         0.00925546218271273, 0.00833056343336287)


def _stirling_tail(k):
    """stirling_approx_tail<double>(k): the table below 10, the series above."""
    if k < 10:
        return _TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


def _binomial_inversion(draws, count, prob, single):
    """binomial_inversion<scalar_t, double>: geometric waiting times until they pass count."""
    logprob = float(_log1pf(-prob)) if single else math.log1p(-prob)
    geom_sum = 0.0
    num = 0
    uniform, log, ceil = draws.uniform, math.log, math.ceil
    while True:
        u = uniform()
        geom_sum += ceil(log(u) / logprob) if u > 0 else math.inf
        if geom_sum > count:
            return num
        num += 1


def _btrs(draws, count, prob, single):
    """btrs<scalar_t, double>: Hoermann's transformed rejection with squeeze."""
    if single:
        f = _F32
        cp = f(count) * f(prob)
        q = f(1) - f(prob)
        stddev = float(np.sqrt(cp * q, dtype=_F32))
        c = float(cp) + 0.5
        r = prob / (1 - prob)
        m = float(np.floor((f(count) + f(1)) * f(prob)))
    else:
        stddev = math.sqrt(count * prob * (1 - prob))
        c = count * prob + 0.5
        r = prob / (1 - prob)
        m = math.floor((count + 1) * prob)
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * stddev
    uniform, log = draws.uniform, math.log
    # terms fixed for the element (count + 1 is a float32 sum when scalar_t is float)
    count1 = float(_F32(count) + _F32(1)) if single else count + 1
    t_m = (m + 0.5) * log((m + 1) / (r * (count - m + 1)))
    tail_m, tail_cm = _stirling_tail(m), _stirling_tail(count - m)
    while True:
        U = uniform() - 0.5
        V = uniform()
        us = 0.5 - abs(U)
        if not us:              # U = -0.5 and a > 0: k = -inf, rejected
            continue
        k = math.floor((2 * a / us + b) * U + c)
        if single:
            k = float(_F32(k))
        if k < 0 or k > count:
            continue
        if us >= 0.07 and V <= v_r:
            return k
        V = _log(V * alpha / (a / (us * us) + b))
        if single:
            cmk = _F32(count) - _F32(k)                       # count - k in float
            cmk1 = float(cmk + _F32(1))
            kp1 = float(_F32(k) + _F32(1))
            cmk = float(cmk)
        else:
            cmk = count - k
            cmk1 = cmk + 1
            kp1 = k + 1
        upper = (t_m + count1 * log((count - m + 1) / cmk1)
                 + (k + 0.5) * log(r * cmk1 / kp1)
                 + tail_m + tail_cm - _stirling_tail(k) - _stirling_tail(cmk))
        if V <= upper:
            return k


def _binomial_one(draws, count, prob, single):
    """sample_binomial<scalar_t, double>(count, prob) (a float)."""
    if count <= 0.0 or prob <= 0.0:
        return 0.0
    if prob >= 1.0:
        return count
    if prob <= 0.5:
        cp = float(_F32(count) * _F32(prob)) if single else count * prob
        if cp >= 10.0:
            return _btrs(draws, count, prob, single)
        return float(_binomial_inversion(draws, count, prob, single))
    if prob > 0.5:
        q = float(_F32(1.0 - prob)) if single else 1.0 - prob
        cq = float(_F32(count) * _F32(q)) if single else count * q
        if cq >= 10.0:
            k = _btrs(draws, count, q, single)
        else:
            k = float(_binomial_inversion(draws, count, q, single))
        return float(_F32(count) - _F32(k)) if single else count - k
    return math.nan


def binomial(engine, count, prob):
    """torch.binomial(count, prob) on CPU: count and prob float arrays of one dtype
    (float32 or float64), broadcast together; a draw per element of the broadcast shape in C
    order, returned in that dtype."""
    count, prob = np.asarray(count), np.asarray(prob)
    _check_float(count, "binomial")
    if prob.dtype != count.dtype:
        raise TypeError("binomial: count and prob must have the same dtype")
    count, prob = np.broadcast_arrays(count, prob)
    single = count.dtype == np.float32
    draws = _Draws(engine)
    cl, pl = count.reshape(-1).tolist(), prob.reshape(-1).tolist()
    for c in cl:
        if math.isnan(c):
            raise RuntimeError("binomial: a NaN count (torch's sampler would not terminate)")
    out = np.array([_binomial_one(draws, c, p, single) for c, p in zip(cl, pl)], np.float64)
    return out.astype(count.dtype).reshape(count.shape)
