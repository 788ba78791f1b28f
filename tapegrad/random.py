"""Random numbers: `Generator` (torch's interface over a numpy generator, so values differ
from torch's for the same seed), the default generator behind `manual_seed`/`seed`, and the
sampling functions `rand`, `randn`, `randint`, `normal`, `randperm` and the `_like` forms, each
taking `generator=` as torch."""
import numpy as np

from . import devices as _device, dtypes as D
from .creation import _leaf
from .tensor import _size_args, Tensor


class Generator:
    """A random number generator, as `torch.Generator`: `manual_seed(s)` (returns itself),
    `seed()`, `initial_seed()`, `get_state()`/`set_state()`.  Draws with numpy's PCG64."""
    __module__ = "tapegrad"

    def __init__(self, device="cpu"):
        self.device = _device.check(device)
        self.seed()

    def manual_seed(self, seed):
        seed = int(seed)
        self._seed = seed
        self._np = np.random.default_rng(seed & (2 ** 64 - 1))
        return self

    def seed(self):
        """Re-seed from the OS's entropy; returns the new seed."""
        seed = int(np.random.SeedSequence().entropy) & (2 ** 63 - 1)
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator's state (a copy: `set_state` restores it)."""
        return {"seed": self._seed, "bit_generator": self._np.bit_generator.state}

    def set_state(self, state):
        self._seed = state["seed"]
        self._np = np.random.default_rng()
        self._np.bit_generator.state = state["bit_generator"]
        return self


default_generator = Generator()


def draw_state():
    """The default generator's state: a draw or a reseed changes it (record and compile
    compare it around the function they trace)."""
    return default_generator._np.bit_generator.state


def manual_seed(seed):
    """Seed the default generator (tapegrad draws with numpy, so values differ from torch's);
    returns it, as torch."""
    return default_generator.manual_seed(seed)


def seed():
    """Seed the default generator from the OS's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed():
    """The default generator's seed."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state (restore it with `set_rng_state`)."""
    return default_generator.get_state()


def set_rng_state(state):
    """Restore the default generator's state from `get_rng_state()`."""
    default_generator.set_state(state)


def _rng(generator, fn):
    if generator is None:
        return default_generator._np
    if not isinstance(generator, Generator):
        raise TypeError(f"{fn}(): argument 'generator' must be torch.Generator, not "
                        f"{type(generator).__name__}")
    return generator._np


def _sizes(size, kw, fn):
    if kw is not None:
        if size:
            raise TypeError(f"{fn}() got multiple values for argument 'size'")
        size = (kw,)
    return _size_args(size, fn)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    """Uniform samples in [0, 1)."""
    _device.check(device)
    shape = _sizes(size, kw.pop("size", None), "rand")
    dt = dtype or D.get_default_dtype()
    return _leaf(_rng(generator, "rand").random(shape).astype(dt.np), dt, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    """Standard normal samples."""
    _device.check(device)
    shape = _sizes(size, kw.pop("size", None), "randn")
    dt = dtype or D.get_default_dtype()
    return _leaf(_rng(generator, "randn").standard_normal(shape).astype(dt.np), dt,
                 requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers drawn uniformly from [low, high) (int64 unless `dtype` says otherwise):
    `randint(high, size)` or `randint(low, high, size)`."""
    _device.check(device)
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    dt = dtype or D.int64
    shape = _size_args((size,), "randint")
    arr = _rng(generator, "randint").integers(low, high, shape)
    return _leaf(arr.astype(dt.np), dt, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64)."""
    _device.check(device)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    dt = dtype or D.int64
    return _leaf(_rng(generator, "randperm").permutation(n).astype(dt.np), dt, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples: of `size` for number `mean`/`std`, else of the broadcast shape of the
    tensor(s) among them (torch's overloads)."""
    _device.check(device)
    rng = _rng(generator, "normal")
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not (tm or ts):
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments - got "
                            "(float, float), expected a size for number mean and std")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        dt = dtype or D.get_default_dtype()
        arr = rng.normal(mean, std, _size_args((size,), "normal"))
        return _leaf(arr.astype(dt.np), dt, requires_grad)
    m = mean._array() if tm else mean
    s = std._array() if ts else std
    if np.any(np.asarray(s) < 0):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    dt = mean._dtype if tm else std._dtype
    shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    arr = m + s * rng.standard_normal(shape)
    return _leaf(np.asarray(arr).astype(dt.np), dt, False)


def rand_like(x, dtype=None, requires_grad=False, device=None, generator=None):
    """Uniform samples in [0, 1) of `x`'s shape."""
    return rand(*x._shape, dtype=dtype or x._dtype, requires_grad=requires_grad,
                device=device, generator=generator)


def randn_like(x, dtype=None, requires_grad=False, device=None, generator=None):
    """Standard normal samples of `x`'s shape."""
    return randn(*x._shape, dtype=dtype or x._dtype, requires_grad=requires_grad,
                 device=device, generator=generator)


def randint_like(x, low=0, high=None, *, dtype=None, requires_grad=False, device=None,
                 generator=None):
    """Integers in [low, high) of `x`'s shape and dtype."""
    if high is None:
        low, high = 0, low
    return randint(low, high, x._shape, dtype=dtype or x._dtype, requires_grad=requires_grad,
                   device=device, generator=generator)
