"""torch.fft: the sample frequencies (`fftfreq`, `rfftfreq`) and the shifts (`fftshift`,
`ifftshift`: rolls, RollBackward0), computed as torch's.  The transforms themselves return or
read complex tensors, and tapegrad has no complex dtypes: each raises NotImplementedError
saying so, rather than an AttributeError half-way through a program."""
import numpy as np

from . import devices as _device, dtypes as D, layouts, numpy_names, _native_names
from .creation import _leaf
from .native_args import _MISSING, Overloads
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


# torch's signatures of the transforms: one dim (fft, rfft, ...), two (fft2, ...), n (fftn, ...)
_SIGNATURES = {
    1: "Tensor input, int? n = None, int dim = -1, str? norm = None, *, Tensor out = None",
    2: "Tensor input, tuple of ints^? s = None, tuple of ints^ dim = (-2,-1), "
       "str? norm = None, *, Tensor out = None",
    "n": "Tensor input, tuple of ints^? s = None, tuple of ints^? dim = None, "
         "str? norm = None, *, Tensor out = None"}


def _wrap_dim(d, nd):
    """maybe_wrap_dim without wrapping a scalar (SpectralOps.cpp): torch's IndexErrors."""
    if nd == 0:
        raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")
    if not -nd <= d < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, "
                         f"{nd - 1}], but got {d})")
    return d % nd


def _checked_transform(name, args, kwargs):
    """torch's checks of a transform's arguments, in its order (the parser's, then
    SpectralOps.cpp's: dims, the number of points, the norm), so that a call torch refuses
    raises its error rather than the refusal of a complex result."""
    family = 1 if name[-1] not in "2n" else 2 if name[-1] == "2" else "n"
    bound = Overloads("fft_" + name, [_SIGNATURES[family]]).parse(args, kwargs)[1]
    x, size, dim, norm = (None if v is _MISSING else v for v in bound[:4])
    nd, shape = x.dim(), x.shape
    c2r = name.startswith(("irfft", "hfft"))   # (a real result: 2 (m - 1) points)
    if family == 1:
        d = _wrap_dim(int(-1 if dim is None else dim), nd)
        n = int(size) if size is not None else \
            2 * (shape[d] - 1) if c2r else shape[d]
        points = [n]
    else:
        if family == 2 and dim is None:
            dim = (-2, -1)
        dims = None if dim is None else [_wrap_dim(int(k), nd) for k in (
            dim if isinstance(dim, (tuple, list)) else (dim,))]
        if dims is not None and len(set(dims)) < len(dims):
            raise RuntimeError("FFT dims must be unique")
        sizes = None if size is None else [int(k) for k in (
            size if isinstance(size, (tuple, list)) else (size,))]
        if sizes is not None:
            if dims is not None and len(dims) != len(sizes):
                raise RuntimeError("When given, dim and shape arguments must have the same "
                                   "length")
            if len(sizes) > nd:
                raise RuntimeError(f"Got shape with {len(sizes)} values but input tensor "
                                   f"only has {nd} dimensions.")
            if dims is None:
                dims = list(range(nd - len(sizes), nd))
            points = [shape[d] if k == -1 else k for k, d in zip(sizes, dims)]
        else:
            dims = list(range(nd)) if dims is None else dims
            points = [shape[d] for d in dims]
    for n in points:
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    if family != 1 and ("r" in name or "hfft" in name):
        # (the real <-> complex n-d transforms: fft_rfftn & co, which the 2-d forms call)
        if not points:
            raise RuntimeError(f"{name.rstrip('2n')}n must transform at least one axis")
        if c2r and (size is None or sizes[-1] == -1):   # (the last dim's default: 2 (m - 1))
            last = 2 * (shape[dims[-1]] - 1)
            if last < 1:
                raise RuntimeError(f"Invalid number of data points ({last}) specified")
    if norm is not None and norm not in ("backward", "forward", "ortho"):
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')


def _complex_transform(name):
    def transform(*args, **kwargs):
        _checked_transform(name, args, kwargs)
        raise NotImplementedError(
            f"tapegrad has no complex dtypes: torch.fft.{name} (which returns or reads a "
            f"complex tensor) is not supported")
    transform.__name__ = transform.__qualname__ = "fft_" + name
    transform.__doc__ = (f"torch.fft.{name}: raises NotImplementedError (no complex dtypes), "
                         f"after torch's checks of its arguments.")
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
