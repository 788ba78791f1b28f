"""Helpers of the optimizers computed with numpy per parameter (Adafactor, Muon) rather than
by a fused kernel: the pack's parameter values as writable arrays, and torch's lerp_."""
import numpy as np

__all__ = ["param_arrays", "lerp_", "add_"]


def lerp_(a, end, w):
    """a.lerp_(end, w) for a Python number w, with torch's two formulas.  For float32 the
    product and sum are one fused multiply-add in torch's kernel: computed here in float64
    (the float32 product is exact there) and rounded once."""
    t = a.dtype.type
    w = t(w)
    wide = np.float64 if a.dtype == np.float32 else a.dtype.type
    diff = (end - a).astype(wide)
    if abs(w) < 0.5:
        a[...] = a.astype(wide) + wide(w) * diff
    else:
        a[...] = end.astype(wide) - diff * wide(t(1) - w)


def add_(a, b, alpha):
    """a.add_(b, alpha=alpha) for a Python number alpha: one fused multiply-add in torch's
    kernel, computed as lerp_'s (the float32 product exact in float64, rounded once)."""
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
