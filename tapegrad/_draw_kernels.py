"""The samplers' Numba loops (loaded through tapegrad.exact.kernels): the parts of torch's
CPU normal kernel that call the C library's log/sin/cos (glibc on Linux): Box-Muller through `log`, `log1p`, `sin`, `cos` (float64) and `logf`, `sinf`, `cosf`
(float32).  numpy's own SIMD log/log1p differ from glibc's in the last bit (measured: 1472 of
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
