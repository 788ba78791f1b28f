"""The rest of torch's namespace that autograd programs touch: the legacy tensor types
(`FloatTensor`, `DoubleTensor`, `LongTensor`, `IntTensor`, `ShortTensor`, `CharTensor`,
`ByteTensor`, `BoolTensor`: constructors,
`isinstance` and `.type(...)`), the constants `pi`, `e`, `inf`, `nan`, and
Tensor's `new_*` / `type_as` / `ndimension` / `element_size` methods and its in-place random
fills `uniform_` / `normal_` / `bernoulli_` (tapegrad's generators: values differ from
torch's)."""
import math

import numpy as np

from . import devices as _device, dtypes as D
from .creation import empty, tensor
from .random import default_generator, Generator
from .tensor import _size_args, Tensor, tensor_methods

pi = math.pi
e = math.e
inf = math.inf
nan = math.nan


class _LegacyType(type):
    """The metaclass of the legacy types: `isinstance(x, FloatTensor)` tests x's dtype,
    calling one makes a tensor of that dtype."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._dtype is cls.dtype

    def __call__(cls, *args, device=None):
        _device.check(device)
        if not args:
            return empty(0, dtype=cls.dtype)
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            data = args[0]
            if isinstance(data, Tensor):
                if data._dtype is not cls.dtype:
                    raise TypeError(f"expected {cls.dtype.legacy} tensor (got "
                                    f"{data._dtype.legacy} tensor)")
                return data
            return tensor(data, dtype=cls.dtype)
        return empty(*_size_args(args, cls.__name__), dtype=cls.dtype)

    def __repr__(cls):
        return f"<class 'tapegrad.{cls.__name__}'>"


def _legacy(dt):
    doc = (f"The legacy type of {dt.name} tensors: `{dt.legacy}Tensor(data)` or "
           f"`{dt.legacy}Tensor(*size)` makes one, `isinstance` tests the dtype, "
           f"`x.type({dt.legacy}Tensor)` converts.")
    return _LegacyType(f"{dt.legacy}Tensor", (), {"dtype": dt, "__module__": "tapegrad",
                                                  "__doc__": doc})


FloatTensor = _legacy(D.float32)
DoubleTensor = _legacy(D.float64)
LongTensor = _legacy(D.int64)
IntTensor = _legacy(D.int32)
BoolTensor = _legacy(D.bool_)
ShortTensor = _legacy(D.int16)
CharTensor = _legacy(D.int8)
ByteTensor = _legacy(D.uint8)


@tensor_methods
class _NamespaceMethods:
    """Tensor's `new_*` constructors (self's dtype unless given), `type_as`, `ndimension`,
    `element_size`."""

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new_filled(size, 0, dtype, device, requires_grad, "new_zeros")

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new_filled(size, 1, dtype, device, requires_grad, "new_ones")

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new_filled(size, 0, dtype, device, requires_grad, "new_empty")

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return self._new_filled((tuple(size),), fill_value, dtype, device, requires_grad,
                                "new_full")

    def _new_filled(self, size, value, dtype, device, requires_grad, fn):
        _device.check(device)
        dt = dtype or self._dtype
        t = tensor(np.full(_size_args(size, fn), D.checked(value, dt), dtype=dt.np), dtype=dt)
        return t.requires_grad_() if requires_grad else t

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        _device.check(device)
        if isinstance(data, Tensor):
            data = data.detach()
        t = tensor(data, dtype=dtype or self._dtype)
        return t.requires_grad_() if requires_grad else t

    def type_as(self, other):
        return self.to(other._dtype)

    def ndimension(self):
        return len(self._shape)

    def element_size(self):
        return self._dtype.itemsize

    # ---- in-place random fills (init code: `w.data.normal_(0, 0.02)`) ------------------------
    def _fill_random(self, values):
        self.copy_(tensor(np.asarray(values).astype(self._dtype.np), dtype=self._dtype))
        return self

    def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kw):
        from_, to = kw.pop("from", from_), kw.pop("to", to)
        if not self._dtype.is_floating_point:
            raise NotImplementedError(f'"check_uniform_bounds" not implemented for '
                                      f"'{self._dtype.legacy}'")
        if from_ > to:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                               f"from={from_:g} > to={to:g}")
        return self._fill_random(_gen(generator).uniform(from_, to, self._shape))

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        return self._fill_random(_gen(generator).normal(mean, std, self._shape))

    def bernoulli_(self, p=0.5, *, generator=None):
        prob = p._array() if isinstance(p, Tensor) else p
        return self._fill_random(_gen(generator).random(self._shape) < prob)


def _gen(generator):
    return (generator if isinstance(generator, Generator) else default_generator)._np
