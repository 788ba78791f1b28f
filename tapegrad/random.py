"""The random generator behind `rand`/`randn` (numpy's, so values differ from torch's):
`manual_seed`, `seed`, `rand`, `randn`, `rand_like`, `randn_like`."""
import numpy as np

from . import dtypes as D
from .creation import _leaf
from .tensor import _size_args


_rng = [np.random.default_rng()]


def manual_seed(seed):
    """Seed the generator of rand/randn (tapegrad draws with numpy, so values differ from
    torch's)."""
    _rng[0] = np.random.default_rng(int(seed))
    return _rng[0]


def seed():
    """Seed the generator of rand/randn from the OS's entropy."""
    _rng[0] = np.random.default_rng()


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform samples in [0, 1)."""
    dt = dtype or D.get_default_dtype()
    return _leaf(_rng[0].random(_size_args(size, "rand")).astype(dt.np), dt, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal samples."""
    dt = dtype or D.get_default_dtype()
    return _leaf(_rng[0].standard_normal(_size_args(size, "randn")).astype(dt.np), dt,
                 requires_grad)


def rand_like(x, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1) of `x`'s shape."""
    return rand(*x._shape, dtype=dtype or x._dtype, requires_grad=requires_grad)


def randn_like(x, dtype=None, requires_grad=False):
    """Standard normal samples of `x`'s shape."""
    return randn(*x._shape, dtype=dtype or x._dtype, requires_grad=requires_grad)
