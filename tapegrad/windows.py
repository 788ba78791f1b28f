"""torch's window functions: hann_window, hamming_window, blackman_window, bartlett_window,
kaiser_window.  Each is computed as torch's factory computes it, in the requested floating
dtype's arithmetic (an arange scaled, then cosines), so float32 windows round as torch's do
(to an ulp of its vectorized cosine); `periodic` windows are the first window_length values
of the symmetric window one longer.  New leaf tensors (requires_grad as given)."""
import math

import numpy as np

from . import devices as _device, dtypes as D
from .creation import _leaf
from ._special import i0

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]


# C++'s names of the integer dtypes, in torch's message for a window of one
_C_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "bool": "bool", "uint16": "short unsigned int",
            "uint32": "unsigned int", "uint64": "long unsigned int"}


def _length(fn, window_length, dtype):
    if not hasattr(window_length, "__index__") or isinstance(window_length, bool):
        raise TypeError(f"{fn}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}")
    if window_length < 0:
        raise RuntimeError(f"{fn} requires non-negative window_length, got "
                           f"window_length={window_length}")
    dt = dtype or D.get_default_dtype()
    if not dt.is_floating_point:
        raise RuntimeError(f"{fn} expects floating point dtypes, got: TensorOptions(dtype="
                           f"{_C_NAMES.get(dt.name, dt.name)}, device=cpu, layout=Strided "
                           f"(default), requires_grad=false (default), pinned_memory=false, "
                           f"memory_format=(nullopt))")
    return int(window_length), dt


def _window(values, n, periodic, dt, requires_grad):
    """The window of length n: `values` computed for the symmetric one of n + periodic."""
    arr = values[:n] if periodic else values
    return _leaf(np.ascontiguousarray(arr, dt.np), dt, requires_grad)


def _trivial(n, dt, requires_grad):
    return _leaf(np.ones(n, dt.np), dt, requires_grad)


def _cosine_sum(fn, window_length, periodic, dtype, device, requires_grad, terms):
    """sum of c_k * cos(k * w) over `terms` (k, c_k) plus terms[0]'s constant, w = the
    arange times 2 pi / (N - 1) (in the dtype, as torch's mul_ of a double scalar)."""
    _device.check(device)
    n, dt = _length(fn, window_length, dtype)
    if n <= 1:
        return _trivial(n, dt, requires_grad)
    m = n + 1 if periodic else n
    f = dt.np.type
    with np.errstate(all="ignore"):
        return _window(terms(np.arange(m, dtype=dt.np), m, f), n, periodic, dt, requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, pin_memory=False, requires_grad=False):
    """alpha - beta cos(2 pi n / (N - 1))."""
    def terms(k, m, f):
        w = k * f(2.0 * math.pi / (m - 1))
        return np.cos(w) * f(-beta) + f(alpha)
    return _cosine_sum("hamming_window", window_length, periodic, dtype, device,
                       requires_grad, terms)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                pin_memory=False, requires_grad=False):
    """0.5 - 0.5 cos(2 pi n / (N - 1)) (torch's hamming_window with alpha = beta = 0.5)."""
    def terms(k, m, f):
        w = k * f(2.0 * math.pi / (m - 1))
        return np.cos(w) * f(-0.5) + f(0.5)
    return _cosine_sum("hann_window", window_length, periodic, dtype, device, requires_grad,
                       terms)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    pin_memory=False, requires_grad=False):
    """0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    def terms(k, m, f):
        w = k * f(math.pi / (m - 1))
        return np.cos(w * f(4)) * f(0.08) - np.cos(w * f(2)) * f(0.5) + f(0.42)
    return _cosine_sum("blackman_window", window_length, periodic, dtype, device,
                       requires_grad, terms)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    pin_memory=False, requires_grad=False):
    """The triangle 1 - |2 n / (N - 1) - 1|: 2 n / (N - 1) rising, then 2 minus it."""
    _device.check(device)
    n, dt = _length("bartlett_window", window_length, dtype)
    if n <= 1:
        return _trivial(n, dt, requires_grad)
    m = n + 1 if periodic else n
    f = dt.np.type
    w = np.arange(m, dtype=dt.np) * f(2.0 / (m - 1))
    half = ((m - 1) >> 1) + 1
    w[half:] = w[half:] * f(-1) + f(2)
    return _window(w, n, periodic, dt, requires_grad)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, pin_memory=False, requires_grad=False):
    """i0(beta sqrt(1 - ((n - a) / a) ** 2)) / i0(beta), a = (N - 1) / 2 (Cephes' i0, as
    torch.i0)."""
    _device.check(device)
    n, dt = _length("kaiser_window", window_length, dtype)
    if n <= 1:
        return _trivial(n, dt, requires_grad)
    m = n + 1 if periodic else n
    f = dt.np.type
    alpha = f((m - 1) / 2.0)
    k = np.arange(m, dtype=dt.np)
    with np.errstate(all="ignore"):
        r = (k - alpha) / alpha
        arg = f(beta) * np.sqrt(np.maximum(f(1) - r * r, f(0)))
        vals = np.array([i0(float(v)) for v in arg], np.float64) / i0(float(f(beta)))
    return _window(vals.astype(dt.np), n, periodic, dt, requires_grad)
