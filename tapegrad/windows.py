"""torch's window functions: hann_window, hamming_window, blackman_window, bartlett_window,
kaiser_window.  Each is computed as torch's factory computes it, in the requested floating
dtype's arithmetic (an arange scaled, then cosines), so float32 windows round as torch's do
(to an ulp of its vectorized cosine); `periodic` windows are the first window_length values
of the symmetric window one longer.  New leaf tensors (requires_grad as given)."""
import math

import numpy as np

from . import devices as _device, dtypes as D
from .creation import _leaf
from .errors import _C_TYPE
from .tensor import _is_int_arg
from .vocab import NUMPY

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]


def _window(fn, window_length, periodic, dtype, device, requires_grad, values):
    """The window: torch's checks, ones for a length of 0 or 1, else values(k, m, f) of the
    symmetric window of length m (m = N + 1 when periodic, then cut to N), k its arange in
    the dtype, f the dtype's scalar type."""
    _device.check(device)
    if not _is_int_arg(window_length, True):   # (a float tensor has __index__ too)
        raise TypeError(f"{fn}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}")
    if window_length < 0:
        raise RuntimeError(f"{fn} requires non-negative window_length, got "
                           f"window_length={window_length}")
    dt = dtype or D.get_default_dtype()
    if not dt.is_floating_point:
        raise RuntimeError(f"{fn} expects floating point dtypes, got: TensorOptions(dtype="
                           f"{_C_TYPE.get(dt.name, dt.name)}, device=cpu, layout=Strided "
                           f"(default), requires_grad=false (default), pinned_memory=false, "
                           f"memory_format=(nullopt))")
    n = int(window_length)
    if n <= 1:
        return _leaf(np.ones(n, dt.np), dt, requires_grad)
    m = n + 1 if periodic else n
    with np.errstate(all="ignore"):
        arr = values(np.arange(m, dtype=dt.np), m, dt.np.type)
    return _leaf(np.ascontiguousarray(arr[:n], dt.np), dt, requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, pin_memory=False, requires_grad=False):
    """alpha - beta cos(2 pi n / (N - 1))."""
    def values(k, m, f):
        return np.cos(k * f(2.0 * math.pi / (m - 1))) * f(-beta) + f(alpha)
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   values)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                pin_memory=False, requires_grad=False):
    """0.5 - 0.5 cos(2 pi n / (N - 1)) (torch's hamming_window with alpha = beta = 0.5)."""
    def values(k, m, f):
        return np.cos(k * f(2.0 * math.pi / (m - 1))) * f(-0.5) + f(0.5)
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   values)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    pin_memory=False, requires_grad=False):
    """0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    def values(k, m, f):
        w = k * f(math.pi / (m - 1))
        return np.cos(w * f(4)) * f(0.08) - np.cos(w * f(2)) * f(0.5) + f(0.42)
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   values)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    pin_memory=False, requires_grad=False):
    """The triangle 1 - |2 n / (N - 1) - 1|: 2 n / (N - 1) rising, then 2 minus it."""
    def values(k, m, f):
        w = k * f(2.0 / (m - 1))
        half = ((m - 1) >> 1) + 1
        w[half:] = w[half:] * f(-1) + f(2)
        return w
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   values)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, pin_memory=False, requires_grad=False):
    """i0(beta sqrt(1 - ((n - a) / a) ** 2)) / i0(beta), a = (N - 1) / 2 (Cephes' i0, as
    torch.i0)."""
    def values(k, m, f):
        alpha = f((m - 1) / 2.0)
        r = (k - alpha) / alpha
        arg = f(beta) * np.sqrt(np.maximum(f(1) - r * r, f(0)))
        return NUMPY["i0"](arg.astype(np.float64)) / NUMPY["i0"](float(f(beta)))
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   values)
