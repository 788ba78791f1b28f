"""torch's CPU normal kernel (`Tensor.normal_`, hence `randn`, `normal`, `nn.init.normal_`),
bit for bit: `normal(engine, n, dtype, mean, std, contiguous)` is what torch writes into a
tensor of n elements after the same draws from the same generator state, and leaves the
engine (its words and its cached normal sample) as torch leaves its generator.

torch (aten/src/ATen/native/cpu/DistributionTemplates.h, normal_kernel) takes one of three
paths; checked against torch 2.13 on an AVX512 machine, also run under
ATEN_CPU_CAPABILITY=avx2 and =default (figures in tests/test_normal_draws.py's doc):

* **fill** (n >= 16 and contiguous): n uniforms first (float32: `random() & (2^24-1)` times
  2^-24; float64: `random64() & (2^53-1)` times 2^-53), then Box-Muller in place on each block
  of 16: data[j] and data[j+8] (j < 8) from u1 = 1 - data[j] (radius) and u2 = data[j+8]
  (angle).  When 16 does not divide n, 16 fresh uniforms are drawn and the last 16 elements
  recomputed from them.  The result is fma(r cos, std, mean) and fma(r sin, std, mean).
  - float32 on an AVX2 or AVX512 build (the AVX512 kernel compiles the same AVX2 code): the
    Cephes-derived `log256_ps` / `sincos256_ps` of ATen/native/cpu/avx_mathfun.h, eight lanes
    of float32 arithmetic, which GCC compiles with its default -ffp-contract=fast: every
    product whose only use is an add or subtract is fused with it, in source order (Horner
    steps, the three-part range reduction, `y*z + e*q1` fusing y*z, then `y - z*0.5`,
    `x + y + e*q2`, the cosine's `y*z - z*0.5` fusing y*z, the sine's `y*x + x`).  Run here
    lane by lane in a Numba loop with llvm's fma (`_draw_kernels.fill16_avx2_f32`), or, for a
    process's first small draws, emulated with numpy float32 arithmetic and an exactly
    rounded float32 fma (`exact.fma32`); no libm.
  - float32 under the DEFAULT capability: scalar float32 with the C library's logf, cosf,
    sinf (the angle a double product rounded to float); float64 (every capability): scalar
    double with log, cos, sin.  numpy's log differs from glibc's in the last bit, so these run
    in Numba loops calling the C library (tapegrad/_draw_kernels.py), or, for a few blocks, in
    Python's `math` (the same C functions).
* **serial** (n < 16, or not contiguous; any dtype): at::normal_distribution<double> per
  element, in storage order: the engine's cached double sample if there is one (consumed),
  else two random64() uniforms u1 (angle), u2 (radius): r = sqrt(-2 log1p(-u2)),
  theta = 2 pi u1, r sin(theta) cached, r cos(theta) returned; then `v * std + mean` in double
  (fused on AVX2/AVX512 builds, GCC contracts it; separate multiply and add in the DEFAULT
  build) and rounded to the dtype.  The float cache (`next_float_normal`) is never touched.

torch picks the build by its CPU capability: ATEN_CPU_CAPABILITY ("avx512", "avx2",
"default", exactly so spelled) if set, else AVX512 when the CPU has avx512vl, avx512bw,
avx512dq and fma3, AVX2 when it has avx2 and fma3, else DEFAULT; `cpu_capability()` decides
the same way from numpy's CPU feature table, once per process as torch does.  Not verified:
non-x86 machines (treated as DEFAULT, with the serial affine fused as compilers for arm64
contract it) and C libraries other than this machine's glibc (the libm-based paths call the
local C library, as torch does, so they follow it wherever torch links the same one).

Speed (this 2-vCPU machine, load 5, torch pinned to one thread): a 10^6-element draw 4.5 ms in
float32 (the words in mt19937's Numba loop, the AVX2 fill vectorized by LLVM), 25 ms in float64
(glibc's log/sin/cos); torch 4.3 and 24.6.  A draw of 16 values 6.8 / 11.6 us (torch 1.6 / 1.9).
"""
import math

import numpy as np

from .exact import fma32, fma32_odd, fma_float, kernels, kernels_cheap
from .fpstate import ERR_RESET, ERR_SET, QUIET
from .settings import _X86, _compute_capability, cpu_capability  # noqa: F401 (re-exported)

__all__ = ["normal", "cpu_capability"]

_F32 = np.float32
_F64 = np.float64
_F32_DTYPE, _F64_DTYPE = np.dtype(_F32), np.dtype(_F64)
_TWO_PI = 2.0 * math.pi                      # c10::pi<double> doubled: a double
_TWO_PI_F32 = _F32(_TWO_PI)                  # _mm256_set1_ps(2.0f * c10::pi<double>)

# avx_mathfun.h's constants, as float32 (the C source's literals rounded by _mm256_set1_ps)
_SQRTHF = _F32(0.707106781186547524)
_LOG_P = [_F32(v) for v in (7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1,
                            -1.2420140846E-1, 1.4249322787E-1, -1.6668057665E-1,
                            2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1)]
_LOG_Q1 = _F32(-2.12194440e-4)
_LOG_Q2 = _F32(0.693359375)
_DP = [_F32(-0.78515625), _F32(-2.4187564849853515625e-4), _F32(-3.77489497744594108e-8)]
_SINCOF = [_F32(-1.9515295891E-4), _F32(8.3321608736E-3), _F32(-1.6666654611E-1)]
_COSCOF = [_F32(2.443315711809948E-005), _F32(-1.388731625493765E-003),
           _F32(4.166664568298827E-002)]
_FOPI = _F32(1.27323954473516)              # 4 / pi
_ONE, _HALF, _ZERO, _MINUS_TWO = _F32(1.0), _F32(0.5), _F32(0.0), _F32(-2.0)

_CHUNK = 1 << 15          # AVX emulation: blocks of this many elements stay in cache
# libm paths with up to this many Box-Muller pairs (serial) or blocks of 16 (float64 fill) run
# in Python's math (the same C functions), sparing a small draw Numba's import (the float64
# fill only while the kernels would cost it: their call is ~1 us, Python's ~8 us a block)
_PY_MAX_PAIRS = 32
_PY_MAX_BLOCKS = 4
# The float32 AVX2 fill runs in a Numba loop (_draw_kernels.fill16_avx2_f32, ~100x the numpy
# emulation's speed, the same bits) once the draw kernels cost no numba import (exact.
# kernels_cheap: they, or the main kernels, are loaded).  A process without numba loads them
# for a draw of at least _KERNEL_MIN elements or after _NUMPY_FILLS smaller ones: numba's
# import costs ~0.5 s once, a numpy fill ~0.2 ms + 0.1 us per element, so a short program's
# few draws do not pay it and a sampling loop does once.
_KERNEL_MIN = 1 << 16
_NUMPY_FILLS = 32
_numpy_fills = [0]
_avx2_fill = [None]   # the kernel's fill, once loaded (kernels()' lookup: ~0.3 us a draw)

def normal(engine, n, np_dtype, mean=0.0, std=1.0, contiguous=True, *, capability=None):
    """What torch's `normal_(mean, std)` writes into a tensor of `n` elements of `np_dtype`
    (np.float32 or np.float64), drawing from `engine` (a tapegrad.mt19937.MT19937) exactly as
    torch draws from its CPU generator (its words, and its cached double sample, read and
    left as torch does).  Returns the n values (shape (n,)) in the order torch writes them:
    memory order.  `contiguous` is torch's `is_contiguous()` (row-major; a channels_last or
    transposed tensor is not): then that is row-major order; otherwise torch's TensorIterator
    visits the elements by increasing address (dimensions sorted by stride), so the caller
    scatters the values in that order (for a transposed matrix: into the base, row-major).
    `capability` ("AVX512", "AVX2", "DEFAULT") overrides `cpu_capability()`, the torch build
    to reproduce.  std < 0 or nan raises torch's RuntimeError."""
    # (the dtypes the callers pass, a Tensor dtype's `.np`, by identity: numpy's builtin
    # dtypes are singletons; np.dtype() and its compares cost ~1 us of a small draw)
    dtype = _F32 if np_dtype is _F32_DTYPE else _F64 if np_dtype is _F64_DTYPE else np_dtype
    if dtype is not _F32 and dtype is not _F64:
        dtype = np.dtype(np_dtype)
        if dtype not in (np.dtype(_F32), np.dtype(_F64)):
            raise TypeError(f"normal: dtype must be float32 or float64, got {dtype}")
        dtype = dtype.type
    n = int(n)
    if n < 0:
        raise ValueError(f"normal: n must be >= 0, got {n}")
    mean, std = float(mean), float(std)
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_c_repr(std)}")
    cap = cpu_capability() if capability is None else capability
    if cap not in ("AVX512", "AVX2", "DEFAULT"):
        raise ValueError(f"normal: unknown capability {cap!r}")
    token = ERR_SET(QUIET)    # inf/nan as torch makes them, silently
    try:
        if n >= 16 and contiguous:
            if dtype is _F32:
                if cap != "DEFAULT":
                    # (the default mean and std as prebuilt float32s: ~0.2 us each; a -0.0
                    # mean is its own, a sum's sign of zero depends on it)
                    m = _ZERO if mean == 0.0 and math.copysign(1.0, mean) > 0 else _F32(mean)
                    return _fill_f32_avx2(engine, n, m, _ONE if std == 1.0 else _F32(std))
                return _fill_libm(engine, n, _F32, mean, std)
            return _fill_libm(engine, n, _F64, mean, std)
        fused = cap != "DEFAULT" or not _X86
        return _serial(engine, n, mean, std, fused).astype(dtype)
    finally:
        ERR_RESET(token)


def _c_repr(x):
    """A double as torch's message prints it (C++ ostream: 6 significant digits)."""
    return f"{x:g}"


# ---- the AVX2 fill (float32) ----------------------------------------------------------------
_TIE_MASK = np.uint64(0x1FFFFFFF)       # the 29 bits a float64 loses on its way to float32
_TIE = np.uint64(0x10000000)            # ... exactly half a float32 ulp: a rounding tie


def _log256_ps(x):
    """avx_mathfun.h's log256_ps, lane by lane, for float32 x > 0 (normal numbers: here
    x = 1 - u >= 2^-24), with GCC's contractions."""
    bits = x.view(np.int32)
    e = ((bits >> 23) - 127).astype(_F32) + _ONE
    x = ((bits & np.int32(~0x7f800000)) | np.int32(0x3f000000)).view(_F32)   # in [0.5, 1)
    mask = (x < _SQRTHF).astype(_F32)      # 1.0 or 0.0: x & mask, one & mask
    tmp = x * mask
    x = x - _ONE
    e = e - mask
    x = x + tmp
    z = x * x
    # Horner: x is a multiple of 2^-24 and every partial sum y (a float32 whose size stays
    # within [0.057, 0.43] for x in [-0.293, 0.415]) a multiple of 2^-28, so y*x is one of
    # 2^-52 and so is y*x + p (p: float32 above 0.07); below 1 in size, that is exact in float64
    x64 = x.astype(_F64)
    y = fma32(_LOG_P[0], x64, _LOG_P[1], check=False)
    for p in _LOG_P[2:]:
        y = fma32(y, x64, p, check=False)
    y = y * x
    y = fma32(y, z, e * _LOG_Q1)          # y*z + e*q1: y*z comes first, it is fused
    y = fma32(z, -_HALF, y)               # y - z*0.5
    return fma32(e, _LOG_Q2, x + y)       # (x + y) + e*q2


def _sincos256_ps(x):
    """avx_mathfun.h's sincos256_ps, lane by lane, for float32 x >= 0 (here the angle
    2 pi u2 < 2 pi), with GCC's contractions: (sin, cos)."""
    y = x * _FOPI
    j = y.astype(np.int32)                 # cvttps: truncation
    j = (j + 1) & ~1
    y = j.astype(_F32)
    sign_sin = (j & 4) << 29               # x >= 0: no sign of its own
    sign_cos = (~(j - 2) & 4) << 29
    poly = ((j & 2) >> 1) - 1              # all ones where j & 2 == 0
    # x - y*(DP1 + DP2 + DP3), y an even integer <= 8: each float64 sum is exact (x is a
    # multiple of 2^-45, y*DP1, y*DP2, y*DP3 of 2^-7, 2^-23, 2^-47, all below 8 in size)
    x = fma32(y, _DP[0], x, check=False)
    x = fma32(y, _DP[1], x, check=False)
    x = fma32(y, _DP[2], x, check=False)
    z = x * x
    z64 = z.astype(_F64)
    yc = fma32(_COSCOF[0], z64, _COSCOF[1])
    yc = fma32(yc, z64, _COSCOF[2])
    yc = yc * z
    yc = fma32(yc, z64, -(z * _HALF))     # y*z - z*0.5: y*z comes first, it is fused
    yc = yc + _ONE
    ys = fma32(_SINCOF[0], z64, _SINCOF[1])
    ys = fma32(ys, z64, _SINCOF[2])
    ys = ys * z
    ys = fma32(ys, x, x)
    ysin2 = (ys.view(np.int32) & poly).view(_F32)
    ysin1 = (yc.view(np.int32) & ~poly).view(_F32)
    s = ((ysin1 + ysin2).view(np.int32) ^ sign_sin).view(_F32)
    c = (((yc - ysin1) + (ys - ysin2)).view(np.int32) ^ sign_cos).view(_F32)
    return s, c


def _fill16_avx2(d, mean, std):
    """NormalFill16<float>'s AVX2 specialization on each row of d (k x 16 float32)."""
    u1 = _ONE - d[:, :8]
    theta = _TWO_PI_F32 * d[:, 8:]
    radius = np.sqrt(_MINUS_TWO * _log256_ps(u1))
    s, c = _sincos256_ps(theta)
    if std == _ONE:                        # fma(v, 1, mean) is v + mean rounded once
        d[:, :8] = radius * c + mean
        d[:, 8:] = radius * s + mean
    else:
        # radius*cos is 0 or above 2^-41 in size: with std >= 2^-90 an inexact float64 sum
        # is a normal float32's size, where fma32's tie test holds; below, round to odd
        fma = fma32 if std >= _F32(2.0 ** -90) else fma32_odd
        d[:, :8] = fma(radius * c, std, mean)
        d[:, 8:] = fma(radius * s, std, mean)


def _fill_f32_avx2(engine, n, mean, std):
    """normal_fill<float> on an AVX2/AVX512 build: uniforms, 16-blocks, the recomputed tail."""
    out = engine.uniform_f32(n)
    rem = n % 16
    blocks = (out[:n - rem] if rem else out).reshape(-1, 16)
    tail = engine.uniform_f32(16).reshape(1, 16) if rem else None
    fill = _avx2_fill[0]
    if fill is None and (n >= _KERNEL_MIN or _numpy_fills[0] >= _NUMPY_FILLS or
                         kernels_cheap()):
        fill = _avx2_fill[0] = kernels().fill16_avx2_f32
    if fill is not None:
        fill(blocks, mean, std)
    else:
        _numpy_fills[0] += 1
        fill = _fill16_avx2
        step = _CHUNK // 16
        for i in range(0, blocks.shape[0], step):
            fill(blocks[i:i + step], mean, std)
    if tail is not None:
        fill(tail, mean, std)
        out[n - 16:] = tail.ravel()
    return out


# ---- the libm fills (float64; float32 under DEFAULT) and the serial path -------------------------
def _fill_libm(engine, n, dt, mean, std):
    """normal_fill<scalar_t> with the scalar NormalFill16 (C library log/cos/sin)."""
    uniform = engine.uniform_f32 if dt is _F32 else engine.uniform_f64
    out = uniform(n)
    nb = n // 16
    tail = uniform(16).reshape(1, 16) if n % 16 else None
    blocks = out[:16 * nb].reshape(nb, 16)
    m, s = dt(mean), dt(std)
    if dt is _F64 and nb + (tail is not None) <= _PY_MAX_BLOCKS and not kernels_cheap():
        fill = _fill16_py_f64
    else:
        lib = kernels()
        fill = lib.fill16_f64 if dt is _F64 else lib.fill16_f32
    fill(blocks, m, s)
    if tail is not None:
        fill(tail, m, s)
        out[n - 16:] = tail.ravel()
    return out


def _fill16_py_f64(d, mean, std):
    """fill16_f64 in Python's math (the same C functions), for a few blocks."""
    mean, std = float(mean), float(std)
    for row in d:
        vals = row.tolist()
        for j in range(8):
            radius = math.sqrt(-2.0 * math.log(1.0 - vals[j]))
            theta = _TWO_PI * vals[j + 8]
            row[j] = fma_float(radius * math.cos(theta), std, mean)
            row[j + 8] = fma_float(radius * math.sin(theta), std, mean)


def _serial(engine, n, mean, std, fused):
    """at::normal_distribution<double> n times (float64 values, before the dtype cast), the
    engine's double cache read first and left as torch leaves it."""
    v = np.empty(n, _F64)
    if n == 0:
        return v
    k = 0
    if engine.next_double_normal is not None:
        v[0] = engine.next_double_normal
        engine.next_double_normal = None
        k = 1
    pairs = (n - k + 1) // 2
    if pairs:
        u = engine.uniform_f64(2 * pairs)
        bm = np.empty(2 * pairs, _F64)
        if pairs <= _PY_MAX_PAIRS:
            _box_muller_py(u, bm)
        else:
            kernels().box_muller_pairs(u, bm)
        v[k:] = bm[:n - k]
        if (n - k) % 2:
            engine.next_double_normal = float(bm[-1])
    if std == 1.0:
        return v + mean                    # v*1 is exact: fused or not, v*1 + mean is v + mean
    if not fused:
        return v * std + mean
    if n <= 2 * _PY_MAX_PAIRS:
        return np.array([fma_float(x, std, mean) for x in v.tolist()], _F64)
    kernels().affine_fma(v, mean, std)
    return v


def _box_muller_py(u, out):
    ul = u.tolist()
    for i in range(len(ul) // 2):
        r = math.sqrt(-2.0 * math.log1p(-ul[2 * i + 1]))
        theta = _TWO_PI * ul[2 * i]
        out[2 * i] = r * math.cos(theta)
        out[2 * i + 1] = r * math.sin(theta)
