"""torch.optim.Muon's Newton-Schulz orthogonalisation (torch 2.13's
_zeropower_via_newtonschulz), with its bfloat16 arithmetic emulated in numpy.

torch casts the update to bfloat16 and runs the whole iteration in it: the norm, the
division and every matrix product (accumulated in float32, the result rounded to bfloat16).
tapegrad has no bfloat16 dtype, so the values are held in float32 arrays, each op computed
in float32 (products summed in float64, then rounded to float32) and rounded to the nearest
bfloat16 (ties to even), as torch's kernels round their float32 results.  What is not
reproduced is the summation order of torch's (oneDNN) bfloat16 matrix products: where a
float32 sum lies within its round-off of a bfloat16 rounding boundary (a few elements in
10^5 per product) the two round apart by one bfloat16 ulp, which the later iterations
carry on; the result then differs from torch's in a few per cent of its elements by a
bfloat16 ulp or two (~0.4% of the element), not more."""
import numpy as np

__all__ = ["to_bfloat16", "zeropower_via_newtonschulz"]


def to_bfloat16(x):
    """float32 array x rounded to the nearest bfloat16 values (ties to even), as float32.
    (A float64 value is first rounded to float32, as torch's double -> BFloat16 cast.)"""
    with np.errstate(over="ignore"):       # (beyond float32's range: inf, as torch)
        x = np.ascontiguousarray(x, np.float32)
    bits = x.view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    out = bits.astype(np.uint32).view(np.float32)
    nan = np.isnan(x)
    if nan.any():
        out = np.where(nan, np.float32(np.nan), out)
    return out


def _mm(a, b):
    """a @ b of bfloat16 values, summed as float32 (here in float64, rounded once)."""
    return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)


def _addmm(c, a, b, beta, alpha):
    """torch.addmm(c, a, b, beta=beta, alpha=alpha) in bfloat16."""
    ab = _mm(a, b).astype(np.float64)
    return to_bfloat16((beta * c.astype(np.float64) + alpha * ab).astype(np.float32))


def zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """torch's _zeropower_via_newtonschulz(grad, ...) of a 2-D numpy array: its checks and
    errors, then ns_steps quintic iterations on grad / ||grad|| (transposed first when grad
    has more rows than columns).  Returns bfloat16 values in a float32 array."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = (float(v) for v in ns_coefficients)
    x = to_bfloat16(grad)
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    # the Frobenius norm (bounds the spectral norm), clamped below at eps
    norm = to_bfloat16(np.sqrt(np.sum(np.square(x, dtype=np.float64))).astype(np.float32))
    norm = np.maximum(norm, to_bfloat16(np.float32(eps)))
    x = to_bfloat16(x / norm)
    for _ in range(ns_steps):
        gram = to_bfloat16(_mm(x, x.T))
        update = _addmm(gram, gram, gram, b, c)
        x = _addmm(x, update, x, a, 1.0)
    return x.T if tall else x
