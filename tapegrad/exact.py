"""Exactly rounded arithmetic that reproducing torch's CPU kernels needs and numpy does not
have: fused multiply-adds (a * b + c rounded once: GCC contracts torch's sources into them),
in numpy or for Python floats, and `kernels()`, the Numba loops (tapegrad/_draw_kernels.py)
for what numpy cannot do exactly (calls into the C library's log/sin/cos, float64 fmas over
arrays, sequential shuffles).  Used by the samplers (random, normal_draws, discrete_draws).
"""
import math

import numpy as np

from ._jit import kernel_module, loaded as jit_loaded, module_loaded

_EXACT_INT = 1 << 53   # (a Python int of at most this size converts to a float exactly)

_F32 = np.float32
_F64 = np.float64
_TIE_MASK = np.uint64(0x1FFFFFFF)       # the 29 bits a float64 loses on its way to float32
_TIE = np.uint64(0x10000000)            # ... exactly half a float32 ulp: a rounding tie


def kernels():
    """tapegrad._draw_kernels (Numba), imported on first use through _jit.kernel_module (so
    `import tapegrad` stays free of numba, and the cache is placed as for _kernels)."""
    return kernel_module("tapegrad._draw_kernels", "_draw_kernels.py", _import_kernels)


def kernels_loaded():
    """Whether kernels() is loaded already (then a call into it costs no import)."""
    return module_loaded("tapegrad._draw_kernels")


def kernels_cheap():
    """Whether a call into kernels() costs no numba import: they are loaded, or numba's main
    kernels are (a backward loaded them; these then load from the cache in ~5 ms)."""
    return module_loaded("tapegrad._draw_kernels") or jit_loaded()


def _import_kernels():
    from . import _draw_kernels
    return _draw_kernels


def _up(v):
    """A float32 array or scalar as float64 (exactly); float64 ones as they are."""
    if isinstance(v, np.ndarray):
        return v if v.dtype == _F64 else v.astype(_F64)
    return _F64(v)


def fma32(a, b, c, check=True):
    """float32 fma(a, b, c): a * b + c rounded once (what vfmadd does), returned as float32.
    a, b, c: float32 values, as float32 or float64 arrays or scalars (upcast once by the
    caller when reused).

    a * b is exact in float64 (48 bits), so the float64 sum s = a*b + c rounds to the right
    float32 unless s landed on a float32 rounding tie without the exact sum being there: only
    then the sum's rounding error (TwoSum) says which way to go.  `check=False` where the
    float64 sum is exact (then s's rounding is the only one)."""
    a, b, c = _up(a), _up(b), _up(c)
    s = a * b
    s += c
    if check:
        tie = (s.view(np.uint64) & _TIE_MASK) == _TIE
        if tie.any():
            _untie(s, tie, a, b, c)
    return s.astype(_F32)


def _untie(s, tie, a, b, c):
    """Where s = fl(a*b + c) is a float32 tie, move it one float64 ulp towards the exact sum
    if it is not there (TwoSum's error; a*b is exact).  Exact ties (most of them) stay."""
    i = np.flatnonzero(tie)
    flat = s.reshape(-1)
    ss = flat[i]
    ps = _take(a, i) * _take(b, i)
    cs = _take(c, i)
    bb = ss - ps
    err = (ps - (ss - bb)) + (cs - bb)
    off = err != 0
    if off.any():
        k, ss, err = i[off], ss[off], err[off]
        flat[k] = np.nextafter(ss, ss + np.sign(err) * np.abs(ss))


def _take(v, i):
    return v.reshape(-1)[i] if isinstance(v, np.ndarray) and v.ndim else v


def fma32_odd(a, b, c):
    """fma32 for any result, float32 subnormals included: the float64 sum rounded to odd
    (TwoSum's error says where it is inexact), which then rounds to float32 correctly."""
    a, b, c = _up(a), _up(b), _up(c)
    p = a * b
    s = p + c
    bb = s - p
    err = (p - (s - bb)) + (c - bb)
    # (an infinite operand: s is inf or nan and err nan, s already the result)
    even = (err != 0) & ((s.view(np.uint64) & np.uint64(1)) == 0) & np.isfinite(s)
    if even.any():
        s[even] = np.nextafter(s[even], (s + np.sign(err) * np.abs(s))[even])
    return s.astype(_F32)


def fma(a, b, c, t):
    """a * b + c rounded once in numpy float dtype t (float32 or float64), element-wise
    over arrays or numbers (broadcast; a Python number rounded to t first, as torch's kernel
    takes a Scalar): torch's CPU kernels of add/sub with alpha (`fma(other, alpha, self)`)
    and addcmul (`fma(value * tensor1, tensor2, self)`) compute so, in their vectorized body
    and scalar tail alike.  An array of t, of the broadcast shape.

    Through the Numba loop (llvm.fma: ~0.3 us a call) when Numba's kernels are loaded (a
    backward loaded them); before, in numpy: float32 by fma32_odd (~7 us for a few elements),
    float64 by fma64."""
    a, b, c = _of(a, t), _of(b, t), _of(c, t)
    shape = a.shape
    if c.shape != shape or b.shape != shape and b.size != 1:
        shape = np.broadcast(a, b, c).shape   # (np.broadcast_shapes costs ~2 us)
    if kernels_cheap():
        out = np.empty(shape, t)
        kernels().fma_flat(_flat(a, shape), _flat(b, shape), _flat(c, shape), out.reshape(-1))
        return out
    with np.errstate(all="ignore"):
        if t == _F64:
            return np.asarray(fma64(a, b, c), _F64)
        a, b, c = (np.broadcast_to(v, shape).reshape(-1) for v in (a, b, c))
        return fma32_odd(a, b, c).reshape(shape)


def fma_into(a, b, c, out):
    """fma(a, b, c) written into out, for a Python float b and arrays a, c, out of out's
    float dtype and shape (out row-major; it may be c): one Numba call without fma's
    conversions and result array (16x16 float32 ~0.9 us, fma and a copy ~3).  False, having
    written nothing, when the kernels are not loaded or the operands are not of that form:
    the caller takes fma."""
    if type(b) is not float or not kernels_cheap() or a.shape != out.shape or \
            c.shape != out.shape or a.dtype != out.dtype or c.dtype != out.dtype or \
            not out.flags.c_contiguous:
        return False
    kernels().fma_number_into(a.reshape(-1), b, c.reshape(-1), out.reshape(-1))
    return True


def lerp_into(x, end, w, out):
    """torch's lerp of x towards end by the Python float w (decomps_math.lerp_number) written
    into out: one Numba call for arrays x, end, out of out's float dtype and shape (out
    row-major; it may be x or end).  False, having written nothing, where fma_into would be:
    the caller computes it by fma."""
    if type(w) is not float or not kernels_cheap() or x.shape != out.shape or \
            end.shape != out.shape or x.dtype != out.dtype or end.dtype != out.dtype or \
            not out.flags.c_contiguous:
        return False
    kernels().lerp_number_into(x.reshape(-1), end.reshape(-1), w, out.reshape(-1))
    return True


def fma_scaled(t1, value, t2, x, out=None):
    """fma(value * t1, t2, x) with value * t1 rounded first (addcmul's kernel), as a new
    array (or written into `out`, of x's shape and dtype, row-major; it may be x, t1 or t2:
    each element is read before it is written), for arrays t1, t2, x of one float dtype and
    shape and a Python number value: one Numba call (16x16 float32 ~1 us, a numpy product and
    fma ~3).  None, having written nothing, when the kernels are not loaded or the operands
    are not of that form: the caller computes it in steps."""
    if type(value) is int and -_EXACT_INT <= value <= _EXACT_INT:
        value = float(value)   # (exact: then rounded once to the dtype, as torch's Scalar)
    t = x.dtype
    if type(value) is not float or not kernels_cheap() or t1.shape != x.shape or \
            t2.shape != x.shape or t1.dtype != t or t2.dtype != t:
        return None
    if out is None:
        out = np.empty(x.shape, t)
    elif out.shape != x.shape or out.dtype != t or not out.flags.c_contiguous:
        return None
    kernels().fma_scaled_into(t1.reshape(-1), value, t2.reshape(-1), x.reshape(-1),
                              out.reshape(-1))
    return out


def _of(v, t):
    """v as an array of dtype t (a Python number rounded to it)."""
    return v if type(v) is np.ndarray and v.dtype == t else np.asarray(v, t)


def _flat(v, shape):
    """v as fma_flat takes it: 1-d, of the broadcast size or (a number) of one element."""
    if v.shape == shape:
        return v.reshape(-1)
    return v.reshape(1) if v.size == 1 else np.broadcast_to(v, shape).reshape(-1)


def fma_float(a, b, c):
    """a * b + c rounded once, for Python floats: in integers (a float is n / 2**k exactly,
    and Python's int / int rounds correctly, subnormal results included), ~0.5 us."""
    if b == 1.0:
        return a + c                       # a*1 is exact
    try:
        an, ad = a.as_integer_ratio()
        bn, bd = b.as_integer_ratio()
    except (OverflowError, ValueError):    # a or b inf or nan: a * b is exact, so a * b + c
        return a * b + c
    try:
        cn, cd = c.as_integer_ratio()
    except (OverflowError, ValueError):    # c inf or nan plus a finite product (which may be
        return c                           # past float's range: not inf - inf)
    num = an * bn * cd + cn * ad * bd
    if num == 0:
        return a * b + c                   # its sign: a*b rounds to -c exactly, or is a zero
    try:
        return num / (ad * bd * cd)
    except OverflowError:
        return math.inf if num > 0 else -math.inf


def fma_ints(a, ks, c):
    """[fma(a, k, c) for k in ks]: finite Python floats a, c and Python ints ks, each a * k + c
    rounded once, in integers as fma_float (the terms over their common denominator once:
    ~0.2 us an element)."""
    an, ad = a.as_integer_ratio()
    cn, cd = c.as_integer_ratio()
    p, q, den = an * cd, cn * ad, ad * cd
    out = []
    for k in ks:
        num = p * k + q
        out.append(num / den if num else a * k + c)   # (a zero: IEEE's sign, as fma_float)
    return out


def fma64(a, b, c):
    """a * b + c rounded once, element-wise over float64 arrays or numbers (broadcast): exact
    in numpy for a few elements, through the Numba loop (llvm.fma) for more."""
    a, b, c = np.asarray(a, _F64), np.asarray(b, _F64), np.asarray(c, _F64)
    shape = np.broadcast(a, b, c).shape
    if math.prod(shape) <= _FMA64_FLOATS_MAX:
        # a few: fma_float on each (numpy's ~30 calls cost ~25 us); broadcast by a product
        # with ones (np.broadcast_arrays costs ~8 us; x * 1.0 keeps every value, -0.0 too)
        ones = np.ones(shape)
        return np.array(list(map(fma_float, (a * ones).ravel().tolist(),
                                 (b * ones).ravel().tolist(), (c * ones).ravel().tolist())),
                        _F64).reshape(shape)
    a, b, c = np.broadcast_arrays(a, b, c)
    if a.size <= _FMA64_NUMPY_MAX:
        return _fma64_numpy(a, b, c).reshape(a.shape)
    out = np.empty(a.shape, _F64)
    kernels().fma_f64(np.ravel(a), np.ravel(b), np.ravel(c), out.reshape(-1))
    return out


_FMA64_FLOATS_MAX = 32     # up to: fma_float per element (numpy's ~30 calls cost ~25 us)
_FMA64_NUMPY_MAX = 256     # above: the Numba loop (its import and cache load cost ~0.3 s once)


def _fma64_numpy(a, b, c):
    """fma64 in numpy (a, b, c: float64 arrays of one shape): the products split exactly into
    hi + lo (Dekker), `math.fsum` rounds hi + lo + c correctly; elements where the split
    could overflow or underflow go through exact rational arithmetic."""
    a, b, c = np.ravel(a), np.ravel(b), np.ravel(c)
    split = 134217729.0                                   # 2**27 + 1
    with np.errstate(all="ignore"):
        ca = split * a
        ah = ca - (ca - a)
        al = a - ah
        cb = split * b
        bh = cb - (cb - b)
        bl = b - bh
        hi = a * b
        lo = ((ah * bh - hi) + ah * bl + al * bh) + al * bl
    safe = (np.abs(a) < 1e290) & (np.abs(b) < 1e290) & ((np.abs(hi) > 1e-280) | (hi == 0))
    safe &= np.isfinite(hi) & np.isfinite(c) & (np.abs(c) < 1e300)
    out = np.empty(a.size, _F64)
    idx = np.nonzero(safe)[0]
    out[idx] = np.fromiter(map(math.fsum, zip(hi[idx].tolist(), lo[idx].tolist(),
                                              c[idx].tolist())), _F64, count=idx.size)
    # fsum's zero is +0.0 whatever the signs of its terms: where the sum is zero, the float
    # a * b + c is too (exactly), with IEEE's sign (fma(0, -0.1, -0.0) is -0.0)
    zero = out == 0
    if zero.any():
        out[zero] = a[zero] * b[zero] + c[zero]
    for k in np.nonzero(~safe)[0].tolist():
        out[k] = fma_float(float(a[k]), float(b[k]), float(c[k]))
    return out
