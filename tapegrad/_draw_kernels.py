"""The samplers' Numba loops (loaded through tapegrad.exact.kernels): torch's CPU normal
kernel's float32 AVX2 fill (avx_mathfun.h's log and sincos, lane by lane, with GCC's fused
multiply-adds), and its parts that call the C library's log/sin/cos (glibc on Linux):
Box-Muller through `log`, `log1p`, `sin`, `cos` (float64) and `logf`, `sinf`, `cosf` (float32).  numpy's own SIMD log/log1p differ from glibc's in the last bit (measured: 1472 of
10^6 float64 logs, 11946 log1p), so these loops are compiled by Numba, whose `math.log` etc.
are calls into the process's C library, the very functions torch's kernel calls.  No fastmath:
LLVM neither reorders nor contracts, and torch's fused multiply-adds are spelled `fma` below.

Imported on the first draw that needs it through `_jit.kernel_module` (so `import tapegrad`
stays free of numba, and the cache is placed as for tapegrad._kernels); see
tapegrad/normal_draws.py for which torch path each loop reproduces.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

TWO_PI = 2.0 * math.pi     # torch's `2.0f * c10::pi<double>`: a double


def _fma_codegen(ty, name):
    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ty, [ty] * 3), name)
        return builder.call(fn, args)
    return codegen


@intrinsic
def fma64(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma: the vfmadd instruction, or libm's exact fma)."""
    return (types.float64(types.float64, types.float64, types.float64),
            _fma_codegen(ir.DoubleType(), "llvm.fma.f64"))


@intrinsic
def fma32(typingctx, a, b, c):
    """float32 a * b + c rounded once."""
    return (types.float32(types.float32, types.float32, types.float32),
            _fma_codegen(ir.FloatType(), "llvm.fma.f32"))


@njit(cache=True)
def fill16_f64(d, mean, std):
    """torch's scalar NormalFill16<double> on each row of d (k x 16 uniforms in [0, 1)), in
    place: row[j], row[j + 8] from u1 = 1 - row[j] (radius) and u2 = row[j + 8] (angle)."""
    for b in range(d.shape[0]):
        for j in range(8):
            u1 = 1.0 - d[b, j]
            u2 = d[b, j + 8]
            radius = math.sqrt(-2.0 * math.log(u1))
            theta = TWO_PI * u2
            d[b, j] = fma64(radius * math.cos(theta), std, mean)
            d[b, j + 8] = fma64(radius * math.sin(theta), std, mean)


@njit(cache=True)
def fill16_f32(d, mean, std):
    """NormalFill16<float> without AVX2 (torch's DEFAULT capability): float32 arithmetic,
    logf/cosf/sinf, the angle rounded from a double product; d float32 k x 16, in place."""
    minus_two = np.float32(-2.0)
    one = np.float32(1.0)
    for b in range(d.shape[0]):
        for j in range(8):
            u1 = one - d[b, j]
            u2 = d[b, j + 8]
            radius = np.float32(math.sqrt(minus_two * np.float32(math.log(u1))))
            theta = np.float32(TWO_PI * np.float64(u2))
            d[b, j] = fma32(radius * np.float32(math.cos(theta)), std, mean)
            d[b, j + 8] = fma32(radius * np.float32(math.sin(theta)), std, mean)


@intrinsic
def f32_bits(typingctx, x):
    """The bits of float32 x as an int32 (a bitcast: _mm256_castps_si256)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def bits_f32(typingctx, i):
    """The float32 whose bits are int32 i (a bitcast: _mm256_castsi256_ps)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


# avx_mathfun.h's constants as float32 (the C literals rounded by _mm256_set1_ps): the same
# values as tapegrad/normal_draws.py's, which its numpy emulation of these loops uses
_F = np.float32
_SQRTHF = _F(0.707106781186547524)
_LOG_P0, _LOG_P1, _LOG_P2 = _F(7.0376836292E-2), _F(-1.1514610310E-1), _F(1.1676998740E-1)
_LOG_P3, _LOG_P4, _LOG_P5 = _F(-1.2420140846E-1), _F(1.4249322787E-1), _F(-1.6668057665E-1)
_LOG_P6, _LOG_P7, _LOG_P8 = _F(2.0000714765E-1), _F(-2.4999993993E-1), _F(3.3333331174E-1)
_LOG_Q1, _LOG_Q2 = _F(-2.12194440e-4), _F(0.693359375)
_DP1, _DP2, _DP3 = _F(-0.78515625), _F(-2.4187564849853515625e-4), _F(-3.77489497744594108e-8)
_SIN0, _SIN1, _SIN2 = _F(-1.9515295891E-4), _F(8.3321608736E-3), _F(-1.6666654611E-1)
_COS0, _COS1, _COS2 = _F(2.443315711809948E-005), _F(-1.388731625493765E-003), \
    _F(4.166664568298827E-002)
_FOPI = _F(1.27323954473516)
_ONE, _HALF, _MINUS_TWO, _ZERO = _F(1.0), _F(0.5), _F(-2.0), _F(0.0)
_TWO_PI_F32 = _F(TWO_PI)
_EXPONENT, _HALF_EXPONENT = np.int32(~0x7f800000), np.int32(0x3f000000)
_I1, _I2, _I4, _I29, _I_2 = (np.int32(v) for v in (1, 2, 4, 29, -2))


# The lane functions are inlined into fill16_avx2_f32 (Numba IR) and branch-free, so that LLVM
# vectorizes its loop over the 8 lanes of a block as the AVX code does: 100k values 509 -> 58
# us, every float32 uniform's log and angle's sincos bit-identical to the scalar lanes
# (tests/test_normal_draws.py sweeps all 2^24 of each).
@njit(cache=True, inline="always")
def log256_ps(x):
    """avx_mathfun.h's log256_ps on one lane, float32 x > 0 and normal, with GCC's
    contractions (-ffp-contract=fast: a product whose only use is an add is fused with it)."""
    bits = f32_bits(x)
    e = np.float32((bits >> 23) - 127) + _ONE
    x = bits_f32((bits & _EXPONENT) | _HALF_EXPONENT)      # the mantissa, in [0.5, 1)
    mask = _ONE if x < _SQRTHF else _ZERO    # (the AVX code: x + (x & mask), e - (one & mask))
    tmp = x * mask
    x = x - _ONE
    e = e - mask
    x = x + tmp
    z = x * x
    y = fma32(_LOG_P0, x, _LOG_P1)
    y = fma32(y, x, _LOG_P2)
    y = fma32(y, x, _LOG_P3)
    y = fma32(y, x, _LOG_P4)
    y = fma32(y, x, _LOG_P5)
    y = fma32(y, x, _LOG_P6)
    y = fma32(y, x, _LOG_P7)
    y = fma32(y, x, _LOG_P8)
    y = y * x
    y = fma32(y, z, e * _LOG_Q1)          # y*z + e*q1: y*z comes first, it is fused
    y = fma32(z, -_HALF, y)               # y - z*0.5
    return fma32(e, _LOG_Q2, x + y)       # (x + y) + e*q2


@njit(cache=True, inline="always")
def sincos256_ps(x):
    """avx_mathfun.h's sincos256_ps on one lane, float32 x >= 0, with GCC's contractions:
    (sin, cos)."""
    # (int32 arithmetic throughout, as AVX's: Numba's int literals would widen it to int64,
    # which vectorizes at half the width)
    j = np.int32(x * _FOPI)               # cvttps: truncation
    j = np.int32((j + _I1) & _I_2)
    y = np.float32(j)
    sign_sin = np.int32((j & _I4) << _I29)              # (x >= 0: no sign of its own)
    sign_cos = np.int32((~(j - _I2) & _I4) << _I29)
    poly = np.int32(((j & _I2) >> _I1) - _I1)           # all ones where j & 2 == 0
    x = fma32(y, _DP1, x)
    x = fma32(y, _DP2, x)
    x = fma32(y, _DP3, x)
    z = x * x
    yc = fma32(_COS0, z, _COS1)
    yc = fma32(yc, z, _COS2)
    yc = yc * z
    yc = fma32(yc, z, -(z * _HALF))       # y*z - z*0.5: y*z comes first, it is fused
    yc = yc + _ONE
    ys = fma32(_SIN0, z, _SIN1)
    ys = fma32(ys, z, _SIN2)
    ys = ys * z
    ys = fma32(ys, x, x)
    # (the integer arithmetic is int64 in Numba; np.int32 keeps the low 32 bits, as AVX's)
    ysin2 = bits_f32(np.int32(f32_bits(ys) & poly))
    ysin1 = bits_f32(np.int32(f32_bits(yc) & ~poly))
    s = bits_f32(np.int32(f32_bits(ysin1 + ysin2) ^ sign_sin))
    c = bits_f32(np.int32(f32_bits((yc - ysin1) + (ys - ysin2)) ^ sign_cos))
    return s, c


@njit(cache=True)
def fill16_avx2_f32(d, mean, std):
    """NormalFill16<float>'s AVX2 specialization (torch's AVX2 and AVX512 builds) on each row
    of d (k x 16 float32 uniforms in [0, 1)), in place: row[j], row[j + 8] from
    u1 = 1 - row[j] (radius) and u2 = row[j + 8] (angle)."""
    for b in range(d.shape[0]):
        for j in range(8):
            u1 = _ONE - d[b, j]
            theta = _TWO_PI_F32 * d[b, j + 8]
            radius = np.float32(np.sqrt(_MINUS_TWO * log256_ps(u1)))
            s, c = sincos256_ps(theta)
            d[b, j] = fma32(radius * c, std, mean)
            d[b, j + 8] = fma32(radius * s, std, mean)


@njit(cache=True)
def box_muller_pairs(u, out):
    """at::normal_distribution<double>'s fresh draws: pair i of uniforms (u[2i] angle, u[2i+1]
    radius) gives out[2i] = r cos(theta) (returned) and out[2i+1] = r sin(theta) (cached)."""
    for i in range(u.shape[0] // 2):
        u1 = u[2 * i]
        u2 = u[2 * i + 1]
        r = math.sqrt(-2.0 * math.log1p(-u2))
        theta = TWO_PI * u1
        out[2 * i] = r * math.cos(theta)
        out[2 * i + 1] = r * math.sin(theta)


@njit(cache=True)
def affine_fma(v, mean, std):
    """v * std + mean, fused (torch's AVX2/AVX512 builds contract it), in place."""
    for i in range(v.shape[0]):
        v[i] = fma64(v[i], std, mean)


# ---- exact.fma64 over arrays (uniform_'s x * (to - from) + from, arange, cauchy_ ...) ------
@njit(cache=True)
def fma_f64(a, b, c, out):
    """out[i] = a[i] * b[i] + c[i] rounded once (1-d float64 arrays of one length)."""
    for i in range(a.shape[0]):
        out[i] = fma64(a[i], b[i], c[i])


# ---- exact.fma over arrays of either float dtype (add/sub with alpha, addcmul) --------------
@intrinsic
def fma_same(typingctx, a, b, c):
    """a * b + c rounded once, of three floats of one dtype (llvm.fma of that type)."""
    if isinstance(a, types.Float) and a == b and b == c:
        def codegen(context, builder, signature, args):
            return builder.fma(args[0], args[1], args[2])
        return a(a, b, c), codegen
    return None


@njit(cache=True)
def fma_flat(a, b, c, out):
    """out[i] = a[i] * b[i] + c[i] rounded once (1-d arrays of out's float dtype; one of
    length 1 stands for all: a number broadcast)."""
    sa = 1 if a.shape[0] > 1 else 0
    sb = 1 if b.shape[0] > 1 else 0
    sc = 1 if c.shape[0] > 1 else 0
    for i in range(out.shape[0]):
        out[i] = fma_same(a[i * sa], b[i * sb], c[i * sc])


@njit(cache=True)
def fma_number_into(a, b, c, out):
    """out[i] = a[i] * b + c[i] rounded once: 1-d arrays of one float dtype and length (out
    may be c: each element is read before it is written), b a Python float rounded to that
    dtype first, as torch's kernel takes its Scalar (add_/sub_ with alpha)."""
    n = out.shape[0]
    if a.shape[0] != n or c.shape[0] != n:
        raise ValueError("fma_number_into: operands of different lengths")
    held = np.empty(1, out.dtype)
    held[0] = b
    bt = held[0]
    for i in range(n):
        out[i] = fma_same(a[i], bt, c[i])


@njit(cache=True)
def fma_scaled_into(t1, value, t2, x, out):
    """out[i] = fma(value * t1[i], t2[i], x[i]): torch's addcmul kernel (value rounded to the
    dtype, its product with t1[i] rounded, then one fused multiply-add); 1-d arrays of one
    float dtype and length, value a Python float."""
    n = out.shape[0]
    if t1.shape[0] != n or t2.shape[0] != n or x.shape[0] != n:
        raise ValueError("fma_scaled_into: operands of different lengths")
    held = np.empty(1, out.dtype)
    held[0] = value
    v = held[0]
    for i in range(n):
        out[i] = fma_same(v * t1[i], t2[i], x[i])


@njit(cache=True)
def lerp_number_into(x, end, w, out):
    """out[i] = torch's lerp of x[i] towards end[i] by the number w (rounded to the dtype):
    fma(w, end[i] - x[i], x[i]) for |w| < 0.5, else fma(w - 1, end[i] - x[i], end[i]), w - 1
    rounded (its vectorized body and scalar tail alike); 1-d arrays of one float dtype and
    length (out may be x or end: each element is read before it is written)."""
    n = out.shape[0]
    if x.shape[0] != n or end.shape[0] != n:
        raise ValueError("lerp_number_into: operands of different lengths")
    held = np.empty(2, out.dtype)
    held[0] = w
    held[1] = 1.0
    wt = held[0]
    if abs(wt) < 0.5:
        for i in range(n):
            out[i] = fma_same(wt, end[i] - x[i], x[i])
    else:
        c = wt - held[1]
        for i in range(n):
            e = end[i]
            out[i] = fma_same(c, e - x[i], e)


# ---- randperm's shuffles (each swap reads what the previous ones wrote: no array operation) --
@njit(cache=True, nogil=True)
def swap_shuffle(offs, out, start):
    """Steps start .. start + len(offs) - 1 of torch's randperm for n < 2**32 // 20 (out
    starts as 0..n-1): swap out[i] and out[i + offs[i - start]], offs holding
    random() % (n - i)."""
    for k in range(offs.shape[0]):
        i = start + k
        j = i + offs[k]
        t = out[i]
        out[i] = out[j]
        out[j] = t


@njit(cache=True, nogil=True)
def inside_out_shuffle(zs, out, start):
    """Steps start .. start + len(zs) - 1 of torch's randperm from n = 2**32 // 20 on, zs
    holding random64() % (i + 1): out[i] = out[z]; out[z] = i."""
    for k in range(zs.shape[0]):
        i = start + k
        z = zs[k]
        out[i] = out[z]
        out[z] = i
