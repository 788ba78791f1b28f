"""Padding layers over F.pad: `ConstantPad1d`/`2d`/`3d`, `ZeroPad1d`/`2d`/`3d`,
`ReflectionPad*`, `ReplicationPad*`, `CircularPad*`, with torch's attributes and reprs."""
from .. import functional as F
from .._tuples import ntuple as _ntuple
from .module import Module, _own_init


class _CircularPadNd(Module):
    """Circular padding (F.pad(mode='circular')) after torch's input-rank check."""

    _dims = 0

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._dims)

    def forward(self, input):
        k = self._dims
        if input.dim() not in (k + 1, k + 2):
            raise ValueError(f"expected {k + 1}D or {k + 2}D input (got {input.dim()}D input)")
        return F.pad(input, self.padding, "circular")

    def extra_repr(self):
        return f"{self.padding}"


@_own_init
class CircularPad1d(_CircularPadNd):
    """Pads the last dim circularly: padding an int or (left, right)."""
    _dims = 1


@_own_init
class CircularPad2d(_CircularPadNd):
    """Pads the last 2 dims circularly: padding an int or (left, right, top, bottom)."""
    _dims = 2


@_own_init
class CircularPad3d(_CircularPadNd):
    """Pads the last 3 dims circularly: padding an int or a 6-tuple."""
    _dims = 3


class _ConstantPadNd(Module):
    """Constant padding (F.pad(mode='constant', value))."""

    _dims = 0

    def __init__(self, padding, value):
        super().__init__()
        self.value = value
        self.padding = _ntuple(padding, 2 * self._dims)

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


@_own_init
class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with `value`: padding an int or (left, right)."""
    _dims = 1


@_own_init
class ConstantPad2d(_ConstantPadNd):
    """Pads the last 2 dims with `value`: padding an int or (left, right, top, bottom)."""
    _dims = 2


@_own_init
class ConstantPad3d(_ConstantPadNd):
    """Pads the last 3 dims with `value`: padding an int or a 6-tuple."""
    _dims = 3


class ZeroPad1d(ConstantPad1d):
    """Pads the last dim with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pads the last 2 dims with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pads the last 3 dims with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _ModePadNd(Module):
    """Reflection or replication padding (F.pad(mode=...))."""

    _dims = 0
    _mode = ""

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._dims)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


@_own_init
class ReflectionPad1d(_ModePadNd):
    """Pads the last dim with its reflection."""
    _dims, _mode = 1, "reflect"


@_own_init
class ReflectionPad2d(_ModePadNd):
    """Pads the last 2 dims with their reflection."""
    _dims, _mode = 2, "reflect"


@_own_init
class ReflectionPad3d(_ModePadNd):
    """Pads the last 3 dims with their reflection."""
    _dims, _mode = 3, "reflect"


@_own_init
class ReplicationPad1d(_ModePadNd):
    """Pads the last dim with copies of its edge values."""
    _dims, _mode = 1, "replicate"


@_own_init
class ReplicationPad2d(_ModePadNd):
    """Pads the last 2 dims with copies of their edge values."""
    _dims, _mode = 2, "replicate"


@_own_init
class ReplicationPad3d(_ModePadNd):
    """Pads the last 3 dims with copies of their edge values."""
    _dims, _mode = 3, "replicate"
