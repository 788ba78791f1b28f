"""torch.fft: the sample frequencies (`fftfreq`, `rfftfreq`) and the shifts (`fftshift`,
`ifftshift`: rolls, RollBackward0), computed as torch's.  The transforms themselves return or
read complex tensors, and tapegrad has no complex dtypes: each raises NotImplementedError
saying so, rather than an AttributeError half-way through a program."""
import numpy as np

from . import devices as _device, dtypes as D, layouts, numpy_names, _native_names
from .creation import _leaf
from .out_arg import _write
from .structops import roll
from .tensor import _dim, Tensor

__all__ = ["fftfreq", "rfftfreq", "fftshift", "ifftshift", "fft", "ifft", "fft2", "ifft2",
           "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn", "hfft",
           "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn"]


def _frequencies(name, n, d, out, dtype, layout, device, requires_grad):
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"fft_{name}(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    _device.check(device)
    layouts.check(f"fft_{name}", None, layout)
    dt = D.as_dtype(dtype) if dtype is not None else out.dtype if out is not None else \
        D.get_default_dtype()
    if out is not None and dt is not out.dtype:
        raise RuntimeError(f"dtype {dt.legacy} does not match dtype of out parameter "
                           f"({out.dtype.legacy})")
    if not dt.is_floating_point:
        raise RuntimeError(f"{name} requires a floating point or complex dtype")
    d = float(d.item() if isinstance(d, Tensor) else d)
    if name == "fftfreq":   # torch's: [0, 1, ..., (n - 1) // 2, -(n // 2), ..., -1]
        k = np.arange(n, dtype=np.float64)
        k[(n + 1) // 2:] -= n
    else:
        k = np.arange(n // 2 + 1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # (torch multiplies by 1 / (n d), rounded to the dtype, as its mul_ by a number)
        scale = np.divide(1.0, np.float64(n) * d).astype(dt.np)
        values = k.astype(dt.np) * scale
    result = _leaf(values, dt, requires_grad)
    if out is None:
        return result
    _write(out, result)
    return out


def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an n-point FFT with sample spacing d (cycles per unit)."""
    return _frequencies("fftfreq", n, d, out, dtype, layout, device, requires_grad)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The non-negative sample frequencies of an n-point real FFT: n // 2 + 1 of them."""
    return _frequencies("rfftfreq", n, d, out, dtype, layout, device, requires_grad)


def _shift(input, dim, half):
    nd = input.dim()
    dims = range(nd) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    dims = [_dim(k, nd) for k in dims]
    if not dims:
        raise RuntimeError("`shifts` required")
    return roll(input, [half(input.shape[k]) for k in dims], dims)


def fftshift(input, dim=None):
    """The zero frequency moved to the middle: a roll by n // 2 along `dim` (all dims)."""
    return _shift(input, dim, lambda n: n // 2)


def ifftshift(input, dim=None):
    """fftshift's inverse: a roll by (n + 1) // 2."""
    return _shift(input, dim, lambda n: (n + 1) // 2)


def _complex_transform(name):
    def transform(input, *args, **kwargs):
        raise NotImplementedError(
            f"tapegrad has no complex dtypes: torch.fft.{name} (which returns or reads a "
            f"complex tensor) is not supported")
    transform.__name__ = transform.__qualname__ = "fft_" + name
    transform.__doc__ = f"torch.fft.{name}: raises NotImplementedError (no complex dtypes)."
    return transform


(fft, ifft, fft2, ifft2, fftn, ifftn, rfft, irfft, rfft2, irfft2, rfftn, irfftn, hfft, ihfft,
 hfft2, ihfft2, hfftn, ihfftn) = (_complex_transform(name) for name in __all__[4:])

# torch.fft's functions are native ones named fft_<name>: their __name__, and the name Python's
# binding errors print
for _name in __all__[:4]:
    globals()[_name].__name__ = globals()[_name].__qualname__ = "fft_" + _name
for _name in __all__:
    globals()[_name].__module__ = _native_names.__name__   # (where pickle finds it)
del _name

# numpy's x= / a= / x1= for input, as torch's parser takes them
numpy_names.apply_operand_names(globals())
