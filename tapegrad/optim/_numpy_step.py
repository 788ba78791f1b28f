"""Helpers of the optimizers computed with numpy per parameter (Adafactor, Muon) rather than
by a fused kernel: the pack's parameter values as writable arrays, and torch's lerp_."""
import numpy as np

from ..decomps_math import lerp_number

__all__ = ["param_arrays", "lerp_", "add_"]


def lerp_(a, end, w):
    """a.lerp_(end, w) for a Python number w: torch's kernel, a fused multiply-add by either
    of its two formulas (decomps_math.lerp_number)."""
    a[...] = lerp_number(a, end, w)


def add_(a, b, alpha):
    """a.add_(b, alpha=alpha) for a Python number alpha: one fused multiply-add in torch's
    kernel, computed in float64 for float32 (the float32 product exact there, rounded once)."""
    t = a.dtype.type
    wide = np.float64 if a.dtype == np.float32 else t
    a[...] = a.astype(wide) + wide(t(alpha)) * b.astype(wide)


def param_arrays(pack):
    """Writable arrays of the pack's parameter values (shaped as the parameters): their own
    storage, or their slice of the staging buffer for the staged ones."""
    out = []
    staged = set(pack.staged)
    item = pack.stage.itemsize
    for j, p in enumerate(pack.params):
        n = int(pack.off[j + 1] - pack.off[j])
        if j in staged:
            start = (int(pack.P[j]) - pack.stage.ctypes.data) // item
            out.append(pack.stage[start:start + n].reshape(p._shape))
        else:
            out.append(p._v)
    return out
