"""floor_divide and the `//` operators: the quotient rounded toward -inf, computed as torch's
kernels compute it (integers: Python's floor division, a zero divisor refused; floating
point: c10's div_floor from fmod, so inf // 2 is nan), with torch's promotion.  torch has no
derivative for it: an input that requires grad gets torch's NotImplemented node
(tapegrad/nodiff.py), whose backward raises.  `rounded_div`: the values of torch's
div(rounding_mode="trunc" / "floor")."""
import numpy as np

from . import dtypes as D, errors, layouts, nodiff
from .fpstate import quiet
from .tensor import Tensor, tensor_methods
from .tracing import _bake, _tracing
from .vocab import FUNCS

__all__ = ["floor_divide", "rounded_div"]


def _operand(x):
    if isinstance(x, Tensor):
        return x.dtype, 2 if x.dim() else 1
    if type(x) is int:
        D.check_int_scalar(x)
    return D.scalar_dtype(x), 0


# c10::div_floor_floating on arrays of one floating dtype (remainder's gradient reads it)
_div_floor = FUNCS["div_floor"].numpy


def floor_divide(input, other):
    """input // other elementwise (either or both may be Python numbers), rounded toward
    -inf."""
    return _floor_divide(input, other, "floor_divide")


def _floor_divide(input, other, op):
    """floor_divide, its node's error naming aten's `op` (floor_divide_ in place)."""
    input, other = D.py_number(input), D.py_number(other)
    for x in (input, other):
        if not isinstance(x, (Tensor, bool, int, float)):
            raise TypeError(f"floor_divide() received an invalid combination of arguments - "
                            f"got ({type(input).__name__}, {type(other).__name__})")
    dt = D.result_type(_operand(input), _operand(other))
    D.check_uint64_operands(input, other)
    if dt is D.bool_:
        raise NotImplementedError("\"div_floor_cpu\" not implemented for 'Bool'")
    vals = [x.detach().numpy() if isinstance(x, Tensor) else np.array(x)
            for x in (input, other)]
    try:
        # (a number past float32's range is inf there, silently, as torch's cast)
        a, b = np.broadcast_arrays(*(quiet(lambda v: v.astype(dt.np, copy=False), v)
                                     for v in vals))
    except ValueError:
        errors._check_broadcast(*(np.shape(v) for v in vals))
        raise
    if dt.is_floating_point:
        out = quiet(_div_floor, a, b)
    else:
        if (b == 0).any():
            raise RuntimeError("ZeroDivisionError")
        out = quiet(np.floor_divide, a, b)
    # (torch's result keeps its first operand of the full shape's layout, as an elementwise op)
    lead = next((v for v in vals if v.shape == out.shape), None)
    if lead is not None:
        out = layouts.preserving(lead, out)
    return nodiff.result("NotImplemented", out, dt, (input, other),
                         (RuntimeError, f"derivative for aten::{op} is not implemented"))


@tensor_methods
class _FloorDivideMethods:
    """Tensor.floor_divide / floor_divide_ and the `//` operators."""

    def floor_divide(self, other):
        return floor_divide(self, other)

    def floor_divide_(self, other):
        # with history: rebased on floor_divide's NotImplemented node, as torch's
        errors.check_promotion(self, other)
        return self._inplace(
            lambda a, b: floor_divide(Tensor._wrap(a, self.dtype), other)._array(), other,
            lambda x, o: _floor_divide(x, o, "floor_divide_"))

    def __floordiv__(self, other):
        if not isinstance(other, (Tensor, bool, int, float, np.generic)):
            return NotImplemented
        return floor_divide(self, other)

    def __rfloordiv__(self, other):
        if not isinstance(other, (bool, int, float, np.generic)):
            return NotImplemented
        return floor_divide(other, self)

    def __ifloordiv__(self, other):
        if not isinstance(other, (Tensor, bool, int, float, np.generic)):
            return NotImplemented
        return self.floor_divide_(other)


def rounded_div(a, b, mode):
    """torch.div(a, b, rounding_mode=mode) for mode 'trunc' or 'floor' (no gradient)."""
    if mode == "floor":
        return floor_divide(a, b)
    dt = D.result_type(_operand(a), _operand(b))
    if dt is D.bool_:
        raise NotImplementedError("\"div_trunc_cpu\" not implemented for 'Bool'")
    traced = [t for t in (a, b) if isinstance(t, Tensor) and _tracing(t) is not None]
    if traced:   # (while tapegrad.record traces: never a constant a replay reuses silently)
        if dt.is_floating_point:
            return (a / b).trunc()   # c10's div_trunc: trunc of the true quotient, recorded
        for t in traced:   # (integers: a replay where an operand changes raises BranchChanged)
            _bake(t, "guard_value")
    x = np.asarray(a._array() if isinstance(a, Tensor) else a).astype(dt.np)
    y = np.asarray(b._array() if isinstance(b, Tensor) else b).astype(dt.np)
    with np.errstate(all="ignore"):
        if dt.is_floating_point:
            out = np.trunc(x / y)
        else:
            if (y == 0).any():
                raise RuntimeError("ZeroDivisionError")
            q = np.floor_divide(x, y)
            out = q + ((np.remainder(x, y) != 0) & ((x < 0) != (y < 0)))
    return Tensor._wrap(np.asarray(out, dt.np), dt)
