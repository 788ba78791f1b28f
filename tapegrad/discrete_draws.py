"""torch's CPU discrete (and a few simple continuous) random draws, bit for bit, on top of
`tapegrad.mt19937.MT19937`.

Each function consumes the engine exactly as torch 2.13's CPU kernel does (same words, same
order), so that after it `engine.state_bytes()` equals torch's `get_rng_state()`, and returns
torch's values as a numpy array.  The kernels reproduced (aten/src/ATen/native/cpu/
DistributionTemplates.h, core/DistributionsHelper.h, core/TransformationHelper.h,
native/TensorFactories.cpp, native/Dropout.cpp, native/Distributions.cpp, rrelu's in
native/Activation.cpp):

* uniform integers: `val = random()` (one 32-bit word) or `random64()` (two words, the first
  the high half), then `int64((val % range) + from)`, the sum wrapping in uint64;
* uniform reals: `(random() & (2**24 - 1)) * 2**-24` for float, `(random64() & (2**53 - 1))
  * 2**-53` for double;
* `bernoulli_(p)` with a Python float p, exponential_, geometric_, cauchy_: torch's serial
  kernels through a *double* uniform (so two words per element whatever the dtype).  Some
  earlier torch versions sent `bernoulli_(p)` (on Intel CPUs) and `exponential_` to MKL's VSL
  generators; torch 2.13's x86-64 wheel does not: it draws `random64()` per element, checked
  on an Intel CPU with 1 and 2 threads.

Integer ranges of 2**28 and more take random64() (the public builds' threshold; Meta's
internal builds use 2**32).  Transcendentals (log, log1p, tan) go through Python's `math`
module, i.e. the C library's libm, which is what torch's scalar kernels call: numpy's
vectorised versions differ from it in the last bit for some arguments.  cauchy_ reproduces
the fused multiply-add of torch's AVX2/AVX512 kernels.  randperm's sequential shuffles run in
Numba above a few thousand items (numba imported on first such use).

Not reproduced: bfloat16/float16 dtypes; torch's MKL paths of earlier versions (see above).
"""
import math

import numpy as np

from . import dtypes as D
from .errors import scalar_text
from .exact import fma64, kernels, kernels_cheap
from .stdsort import topk_ties

__all__ = ["randint", "random_", "randperm", "bernoulli_scalar", "bernoulli_tensor",
           "dropout_noise", "alpha_dropout_affine", "native_dropout", "exponential_", "geometric_", "cauchy_", "multinomial", "rrelu_noise"]

_U64 = np.uint64
_INT64_MIN = -(1 << 63)
# randperm switches to its random64 "inside-out" shuffle from this size on
RANDPERM_LARGE_N = 0xFFFFFFFF // 20


def _libm(fn, x):
    """fn (a `math` function: libm's) applied to each element of the float64 array x."""
    return np.fromiter(map(fn, x.tolist()), np.float64, count=x.size)


# ---- uniform integers ---------------------------------------------------------------------------
def _dtype_bounds(dt):
    """(lowest, highest) value torch's random_ may produce for dtype dt without bounds."""
    if dt == np.bool_:
        return 0, 1
    if dt.kind == "f":
        digits = np.finfo(dt).nmant + 1
        return -(1 << digits), 1 << digits
    info = np.iinfo(dt)
    return int(info.min), int(info.max)


def _from_to(engine, n, rng, base, dt):
    """torch's random_from_to kernel: n values `(val % rng) + base` cast to dtype dt, `val`
    from random64() when the range is >= 2**28 (whatever the dtype: the public builds' branch
    of uniform_int_from_to_distribution; Meta's internal one uses 2**32 and a dtype list),
    else from random()."""
    if rng >= (1 << 28):
        rem = _mod(engine.u64(n), _U64(rng))
    else:
        drawn = engine.from_to(n, rng, base)   # (one Numba call, not six numpy ones)
        if drawn is None and n <= _PY_FROM_TO:   # (a few values: Python ints, no numpy pass)
            drawn = np.array([w % rng + base for w in engine.u32_list(n)], np.int64)
        if drawn is not None:
            return _cast_int64(drawn, dt)
        rem = _mod(engine.u32(n), np.uint32(rng)).astype(_U64)
    raw = (rem + _U64(base & 0xFFFFFFFFFFFFFFFF)).view(np.int64)
    return _cast_int64(raw, dt)


# values _from_to computes with Python ints when the Numba loops are not there
_PY_FROM_TO = 64


def _mod(val, m):
    """val % m for unsigned val and a scalar m of its dtype, as val - (val // m) * m: numpy
    divides by a scalar with libdivide, but not in its `%` (6400 words: 30 -> 7 us in
    uint64, 3.4 in uint32)."""
    return val - (val // m) * m


def _cast_int64(raw, dt):
    """static_cast<T>(int64) as C++ does it: wrap for narrower integers, nearest for floats."""
    if dt == np.bool_:
        return raw != 0
    # (numpy's int64 -> intN wraps and -> float rounds, as C++ does; int64 itself: no copy)
    return raw.astype(dt, copy=False)


def _digits(dt):
    return np.finfo(dt).nmant + 1


def _update_from(low, dt):
    """torch's update_from: for a float dtype, move `from` right until it survives the
    round trip through the dtype."""
    plus1 = int(dt.type(low + 1))
    if plus1 < low:
        k = abs(low + 1).bit_length() - 1
        low = plus1 + (1 << (k - _digits(dt) + 1))
    return low


def _update_to(high, dt):
    """torch's update_to: for a float dtype, move `to` left until `to - 1` survives the
    round trip through the dtype."""
    minus1 = int(dt.type(high - 1))
    if minus1 >= high:
        k = abs(high - 1).bit_length() - 1
        high = minus1 - (1 << (k - _digits(dt) + 1))
    return high


def randint(engine, n, low, high, np_dtype=np.int64):
    """torch.randint(low, high, (n,), dtype): `random_(low, high)` on a fresh tensor.  For a
    float dtype torch first moves low and high inwards to values the dtype holds
    (update_from / update_to)."""
    low, high = int(low), int(high)
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    dt = np.dtype(np_dtype)
    if dt.kind == "f":
        low, high = _update_from(low, dt), _update_to(high, dt)
        if high <= low:
            raise RuntimeError("random_ expects 'from' casted to dtype to be less than 'to' "
                               f"casted to dtype, but got from={low} >= to={high}")
    _check_in_range(low, high - 1, dt)
    return _from_to(engine, n, high - low, low, dt)


# dtype -> (lowest, highest) value (_check_in_range: np.iinfo costs ~1 us a call)
_INT_BOUNDS = {}


def _check_in_range(low, top, dt):
    """torch's check_from_to_in_range for integer and bool dtypes (top: the largest value)."""
    if dt.kind in "iub":
        bounds = _INT_BOUNDS.get(dt)
        if bounds is None:
            bounds = _INT_BOUNDS[dt] = (0, 1) if dt == np.bool_ else \
                (int(np.iinfo(dt).min), int(np.iinfo(dt).max))
        lo, hi = bounds
        for v, name in ((low, "from"), (top, "to - 1")):
            if not lo <= v <= hi:
                raise RuntimeError(f"{name} is out of bounds for {dt.name}")


def random_(engine, n, np_dtype=np.int64, low=None, high=None):
    """Tensor.random_() on an n-element tensor of dtype np_dtype.

    * no bounds: int64 `random64() % 2**63`; other integers `random() % (max + 1)`; bool
      `random() & 1`; float32 `random() % (2**24 + 1)`; float64 `random64() % (2**53 + 1)`;
    * `random_(to)` (high only): `random_(0, to)`;
    * `random_(low, high)`: as torch.randint;
    * `random_(low, None)`: up to the dtype's largest value (2**digits for floats), with
      torch's special full-range kernel (`int64(random64())`) for int64 from -2**63."""
    dt = np.dtype(np_dtype)
    if low is None and high is None:
        if dt == np.bool_:
            return (engine.u32(n) & np.uint32(1)).astype(np.bool_)
        if dt in (np.int64, np.float64):
            val = engine.u64(n)
        else:
            val = engine.u32(n).astype(_U64)
        if dt.kind == "f":
            mod = (1 << (np.finfo(dt).nmant + 1)) + 1
        else:
            mod = int(np.iinfo(dt).max) + 1
        return _mod(val, _U64(mod)).astype(dt)
    if low is None:
        low = 0
    if high is None:
        top = _dtype_bounds(dt)[1]
        if dt == np.int64 and low == _INT64_MIN:
            return engine.u64(n).view(np.int64).copy()
        if dt.kind == "f":
            low = _update_from(low, dt)
        return _from_to(engine, n, top - low + 1, low, dt)
    return randint(engine, n, low, high, dt)


# ---- randperm -----------------------------------------------------------------------------------
def randperm(engine, n, np_dtype=np.int64):
    """torch.randperm(n) on CPU.  For n < 2**32 // 20 torch fills 0..n-1 and swaps item i with
    item i + `random() % (n - i)` for i = 0..n-2 (n - 1 words); from there on it runs an
    "inside-out" Fisher-Yates with `random64() % (i + 1)` for i = 0..n-1.  The words are drawn
    in chunks; the swaps run in Python up to _PY_SHUFFLE_MAX items unless the Numba kernels
    cost no import (then randperm(1000) 192 -> ~10 us), in Numba above."""
    n = int(n)
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    large = n >= RANDPERM_LARGE_N
    drawn = engine.randperm(n) if 1 < n and not large else None   # (one Numba call)
    if drawn is not None:
        return drawn.astype(np_dtype, copy=False)
    if n <= 1 or n <= _PY_SHUFFLE_MAX and not kernels_cheap():
        if n <= 1:
            return np.arange(n, dtype=np_dtype)
        if not large:
            offs = (engine.u32(n - 1).astype(np.int64)
                    % np.arange(n, 1, -1, dtype=np.int64)).tolist()
            r = list(range(n))
            for i, z in enumerate(offs):
                j = i + z
                r[i], r[j] = r[j], r[i]
            return np.array(r, dtype=np_dtype)
    K = kernels()
    out = np.arange(n, dtype=np.int64) if not large else np.empty(n, np.int64)
    steps = n if large else n - 1
    for start in range(0, steps, _CHUNK):
        k = min(_CHUNK, steps - start)
        if large:
            zs = (engine.u64(k) % np.arange(start + 1, start + k + 1, dtype=_U64)
                  ).astype(np.int64)
            K.inside_out_shuffle(zs, out, start)
        else:
            offs = (engine.u32(k).astype(np.int64)
                    % np.arange(n - start, n - start - k, -1, dtype=np.int64))
            K.swap_shuffle(offs, out, start)
    return out.astype(np_dtype, copy=False)


_PY_SHUFFLE_MAX = 4096         # above: the Numba shuffles (import and cache load cost ~0.3 s)
_CHUNK = 1 << 22               # words drawn at a time by randperm's Numba path


# ---- bernoulli ----------------------------------------------------------------------------------
def bernoulli_scalar(engine, n, p, np_dtype=np.float32):
    """`torch.empty(n, dtype).bernoulli_(p)` with a Python float p: torch 2.13's CPU kernel
    draws a double uniform u per element (random64) and writes `u < p` (in double)."""
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got "
                           f"p={scalar_text(p)}")
    return (engine.uniform_f64(n) < float(p)).astype(np_dtype)


def bernoulli_tensor(engine, probs, out_dtype=None, shape=None):
    """torch.bernoulli(probs) / `empty(shape, out_dtype).bernoulli_(probs)`: serial over the
    output in C order (probs broadcast to `shape`).  Float64 probabilities: a double uniform
    (random64) each, `u < p`; float32 ones: a float uniform (one random() word), `u < p` in
    float.  Returns dtype out_dtype (default: probs' dtype)."""
    probs = np.asarray(probs)
    if probs.dtype not in (np.float32, np.float64):
        raise NotImplementedError(f'"bernoulli_tensor_cpu_p_" not implemented for '
                                  f"'{D.from_numpy_dtype(probs.dtype).legacy}'")
    if shape is not None:
        probs = np.broadcast_to(probs, shape)
    flat = np.ascontiguousarray(probs).reshape(-1)
    if flat.dtype == np.float64:
        u = engine.uniform_f64(flat.size)
    else:
        u = engine.uniform_f32(flat.size)
    out = (u < flat).reshape(probs.shape)
    return out.astype(out_dtype or probs.dtype)


# ---- dropout ------------------------------------------------------------------------------------
def _noise_shape(shape, feature):
    shape = tuple(shape)
    if not feature:
        return shape
    if len(shape) < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return shape[:2] + (1,) * (len(shape) - 2)


def dropout_noise(engine, shape, p, np_dtype=np.float32, feature=False):
    """What torch.nn.functional.dropout(x, p, training=True) multiplies x by on CPU (x of
    `shape` and dtype np_dtype): `noise = empty_like(x).bernoulli_(1 - p); noise.div_(1 - p)`
    (at::native::_dropout_impl), so `x * noise` is torch's output bit for bit.  p == 0 draws
    nothing and returns ones, p == 1 draws nothing and returns zeros (torch multiplies by a
    0-d zero).  feature=True: the channel-wise noise of feature_dropout (F.dropout1d/2d/3d on
    batched input), of shape (N, C, 1, ...), to broadcast against x."""
    dt = np.dtype(np_dtype)
    nshape = _noise_shape(shape, feature)
    if p < 0 or p > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0:
        return np.ones(nshape, dt)
    if p == 1:
        return np.zeros(nshape, dt)
    q = 1.0 - p
    n = math.prod(nshape)
    noise = bernoulli_scalar(engine, n, q, dt).reshape(nshape)
    return noise / dt.type(q)


def alpha_dropout_affine(engine, shape, p, np_dtype=np.float32, feature=False):
    """(a, b) with torch.nn.functional.alpha_dropout(x, p, training=True) == `x * a + b` bit
    for bit (feature=True: feature_alpha_dropout, a and b of shape (N, C, 1, ...)).  torch:
    `noise.bernoulli_(1 - p); b = noise.add(-1).mul_(alpha * a).add_(alpha * a * p);
    noise.mul_(a)` with a = 1 / sqrt((alpha**2 * p + 1) * (1 - p)), in the tensor's dtype.
    p == 0 gives (1, 0) and draws nothing; p == 1 gives (0, 0) (torch multiplies by zero)."""
    dt = np.dtype(np_dtype)
    nshape = _noise_shape(shape, feature)
    if p < 0 or p > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0:
        return np.ones(nshape, dt), np.zeros(nshape, dt)
    if p == 1:
        return np.zeros(nshape, dt), np.zeros(nshape, dt)
    alpha = 1.7580993408473766
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    n = math.prod(nshape)
    noise = bernoulli_scalar(engine, n, 1.0 - p, dt).reshape(nshape)
    b = (noise + dt.type(-1)) * dt.type(alpha * a) + dt.type(alpha * a * p)
    return noise * dt.type(a), b


def native_dropout(engine, x, p, train=True):
    """torch.native_dropout(x, p, train) on CPU: (output, mask); `mask = bernoulli_(1 - p)`
    (x's dtype, read as bool) and `output = x * mask * (1 / (1 - p))`."""
    x = np.asarray(x)
    if not train:
        return x.copy(), np.ones(x.shape, np.bool_)
    q = 1.0 - p
    scale = 0.0 if q == 0 else 1.0 / q
    mask = bernoulli_scalar(engine, x.size, q, x.dtype).reshape(x.shape)
    return (x * mask) * x.dtype.type(scale), mask.astype(np.bool_)


def rrelu_noise(engine, x, lower, upper):
    """The slopes of torch's rrelu_with_noise while training (native/Activation.cpp): for each
    element of x (C order) that is <= 0, one double uniform in [lower, upper) (the bounds
    first rounded to x's dtype, the kernel's opmath type), cast to x's dtype; 1 elsewhere
    (a nan draws nothing)."""
    flat = np.ascontiguousarray(x).reshape(-1)
    draw = flat <= 0
    lo, hi = float(x.dtype.type(lower)), float(x.dtype.type(upper))
    noise = np.ones(flat.shape, x.dtype)
    noise[draw] = (engine.uniform_f64(int(draw.sum())) * (hi - lo) + lo).astype(x.dtype)
    return noise.reshape(x.shape)


# ---- continuous draws through a double uniform --------------------------------------------------
def exponential_(engine, n, lambd=1.0, np_dtype=np.float32):
    """`empty(n, dtype).exponential_(lambd)`: `-1 / lambd * log1p(-u)` in double (u a double
    uniform), cast to the dtype."""
    drawn = engine.exponential(n, lambd)   # (libm's log1p in Numba: ~4x faster than below)
    if drawn is None:
        drawn = (-1.0 / lambd) * _libm(math.log1p, -engine.uniform_f64(n))
    return drawn.astype(np_dtype)


def geometric_(engine, n, p, np_dtype=np.float32):
    """`empty(n, dtype).geometric_(p)`: `ceil(log(u) / log1p(-p))` in double, cast."""
    u = engine.uniform_f64(n)
    with np.errstate(divide="ignore"):
        lu = np.array([math.log(v) if v > 0 else -math.inf for v in u.tolist()], np.float64)
    return np.ceil(lu / math.log1p(-p)).astype(np_dtype)


def cauchy_(engine, n, median=0.0, sigma=1.0, np_dtype=np.float32, fused=True):
    """`empty(n, dtype).cauchy_(median, sigma)`: `median + sigma * tan(pi * (u - 0.5))` in
    double, cast.  torch's AVX2 and AVX512 builds of the kernel (what x86-64 CPUs of the last
    decade run) contract that into one fused multiply-add, rounded once: fused=True does the
    same, exactly; fused=False rounds the product first, as torch's baseline build
    (ATEN_CPU_CAPABILITY=default) does."""
    u = engine.uniform_f64(n)
    t = _libm(math.tan, math.pi * (u - 0.5))
    median, sigma = float(median), float(sigma)
    if not fused:
        return (median + sigma * t).astype(np_dtype)
    return fma64(t, sigma, median).astype(np_dtype)


# ---- multinomial --------------------------------------------------------------------------------
def multinomial(engine, probs, num_samples, replacement=False):
    """torch.multinomial(probs, num_samples, replacement) on CPU, probs 1-d or 2-d, float32
    or float64; int64 indices.

    Without replacement, or with num_samples == 1: `q = empty_like(probs).exponential_(1)`
    (one double uniform per element, in C order), then argmax (num_samples == 1) or topk of
    `probs / q` per row.  With replacement: per row, a cumulative sum in the probs' dtype,
    divided by the total, its last entry set to 1, and for each sample a double uniform u
    placed by binary search (the first index whose cumulative value is >= u).

    Bit-exact (among zero-probability categories too, drawn when num_samples exceeds the
    number of nonzero probabilities: in topk's order of ties)."""
    probs = np.asarray(probs)
    if probs.dtype not in (np.float32, np.float64):
        raise TypeError("multinomial: probabilities must be float32 or float64")
    one_d = probs.ndim == 1
    rows = probs.reshape(1, -1) if one_d else probs
    n_dist, n_cat = rows.shape
    if not replacement and num_samples > n_cat:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if not replacement or num_samples == 1:
        q = exponential_(engine, rows.size, 1.0, rows.dtype).reshape(rows.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = rows / q
        if num_samples == 1:
            out = np.argmax(ratio, axis=1)[:, None]
        else:
            # topk, largest first; equal keys (zero probabilities, when more samples are asked
            # than there are nonzero ones) in the order torch's topk leaves them
            out = np.argsort(-ratio, axis=1, kind="stable")[:, :num_samples]
            out = topk_ties(ratio, out, num_samples, 1, True, True)
        out = out.astype(np.int64)
    else:
        drawn = engine.multinomial(np.ascontiguousarray(rows), num_samples) if n_cat else None
        if drawn is not None:   # (one Numba call: per row, its sum, the scan and the searches)
            out, bad = drawn
            if bad >= 0:
                raise RuntimeError("invalid multinomial distribution (sum of probabilities "
                                   "<= 0)")
            return out[0] if one_d else out
        out = np.empty((n_dist, num_samples), np.int64)
        for i in range(n_dist):
            cum = np.cumsum(rows[i], dtype=rows.dtype)    # sequential, as torch's loop
            total = cum[-1]
            if not total > 0:
                raise RuntimeError("invalid multinomial distribution (sum of probabilities "
                                   "<= 0)")
            cum = cum / total
            cum[-1] = 1
            u = engine.uniform_f64(num_samples)
            out[i] = np.searchsorted(cum.astype(np.float64), u, side="left")
    return out[0] if one_d else out
