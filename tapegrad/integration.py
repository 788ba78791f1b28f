"""trapezoid / trapz and cumulative_trapezoid: the trapezoid rule along a dim, composed as
torch composes them (aten's Integration.cpp), so values, dtypes and grad_fn chains are
torch's:

    spacing dx (a number):  (y.sum(dim) - (y[0] + y[-1]) * 0.5) * dx       (MulBackward1)
                            ((y[1:] + y[:-1]) * (dx / 2)).cumsum(dim)
    sample points x:        ((y[1:] + y[:-1]) * (x[1:] - x[:-1])).sum(dim) / 2   (DivBackward1)
                            ((y[1:] + y[:-1]) * (x[1:] - x[:-1])).cumsum(dim) / 2

(slices along dim; a 1-d x is viewed along dim, a shorter one padded with leading 1s).  The
products and quotients by a number are torch's mul/div(Tensor, Scalar): decomposition rows
shown as MulBackward1 / DivBackward1."""
import numbers

import numpy as np

from . import decomps, decomps_math as DM, errors
from .tensor import _dim, _is_int_arg, Tensor, _tensor_operand
from .views import KIND_OPS

__all__ = ["trapezoid", "trapz", "cumulative_trapezoid"]


def _mul_number(x, c):
    return decomps.record("mul_by_number", DM.mul_number, KIND_OPS, x, c)


def _div_number(x, c):
    return decomps.record("div_by_number", DM.div_number, KIND_OPS, x, c)


def _args(fn, y, x, dx, dim):
    """(dim as non-negative, spacing) after torch's argument checks; spacing x or dx."""
    _tensor_operand(fn, y, 1, "y")
    # (torch's parser takes a 0-d tensor that needs no grad as a Number; its messages name
    # the tensor)
    number = dx.item() if isinstance(dx, Tensor) and not dx._shape and not dx.requires_grad \
        else dx
    if x is not None and dx is not None or x is not None and not isinstance(x, Tensor) or \
            dx is not None and not isinstance(number, numbers.Number) or \
            not _is_int_arg(dim, True):
        got = ", ".join(["Tensor"] + ([errors.type_name(x)] if x is not None else []) +
                        [f"{k}={errors.type_name(v)}" for k, v in (("dim", dim), ("dx", dx))
                         if v is not None and (k != "dim" or v != -1)])
        forms = [" * (Tensor y, Tensor x, *, int dim = -1)",
                 f" * (Tensor y, *, {'float' if fn == 'trapz' else 'Number'} dx = 1, int dim = -1)"]
        raise TypeError(f"{fn}() received an invalid combination of arguments - got ({got}), "
                        f"but expected one of:\n" + "\n".join(forms[::-1] if fn == "trapz"
                                                               else forms) + "\n")
    if not y.dim():   # (torch's cumulative_trapezoid slices first)
        if fn == "cumulative_trapezoid":
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return _dim(dim.__index__(), y.dim()), (x if x is not None else 1 if dx is None else number)


def _cut(t, d, start, stop):
    """t[start:stop] along d (torch's slice: SliceBackward0)."""
    return t[(slice(None),) * d + (slice(start, stop),)]


def _sides(y, d):
    """(y[1:] + y[:-1]) along d."""
    return _cut(y, d, 1, None) + _cut(y, d, 0, -1)


def _spacing(fn, y, x, d):
    """x[1:] - x[:-1] along d, x viewed to y's number of dims."""
    if x.dim() == 1:
        if x._shape[0] != y._shape[d]:
            raise RuntimeError(f"{fn}: There must be one `x` value for each sample point")
        shape = [1] * y.dim()
        shape[d] = x._shape[0]
        x = x.view(shape)
    elif x.dim() < y.dim():
        x = x.view((1,) * (y.dim() - x.dim()) + x._shape)
    return _cut(x, d, 1, None) - _cut(x, d, 0, -1)


def _real_dx(fn, dx):
    if isinstance(dx, (bool, complex)):
        raise RuntimeError(f"{fn}: Currently, we only support dx as a real number.")


def _bool_check(fn, y, x):
    if isinstance(x, Tensor):
        if y.dtype.name == "bool" or x.dtype.name == "bool":
            raise RuntimeError(f"{fn}: received a bool input for `x` or `y`, but bool is not "
                               f"supported")
    elif y.dtype.name == "bool":
        raise RuntimeError(f"{fn}: received a bool input for `y`, but bool is not supported")


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoid rule's integral of y along dim, at sample points x or spacing dx
    (default 1); 0 for no samples."""
    d, sp = _args("trapezoid", y, x, dx, dim)
    if y._shape[d] == 0:
        return Tensor._wrap(np.zeros(y._shape[:d] + y._shape[d + 1:], y._dtype.np), y._dtype)
    _bool_check("trapezoid", y, sp)
    if isinstance(sp, Tensor):
        return _div_number((_sides(y, d) * _spacing("trapezoid", y, sp, d)).sum(d), 2.0)
    _real_dx("trapezoid", sp)
    return _mul_number(y.sum(d) - _mul_number(y.select(d, 0) + y.select(d, -1), 0.5), sp)


def trapz(y, x=None, *, dx=None, dim=-1):
    """torch.trapz: trapezoid (its integral of y along dim at x, or with spacing dx)."""
    _args("trapz", y, x, dx, dim)
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoid rule's running integral of y along dim (one element fewer), at sample
    points x or spacing dx (default 1)."""
    d, sp = _args("cumulative_trapezoid", y, x, dx, dim)
    _bool_check("cumulative_trapezoid", y, sp if isinstance(sp, Tensor) else None)
    if isinstance(sp, Tensor):
        return _div_number((_sides(y, d) * _spacing("cumulative_trapezoid", y, sp, d))
                           .cumsum(d), 2.0)
    _real_dx("cumulative_trapezoid", sp)
    return _mul_number(_sides(y, d), sp / 2.0).cumsum(d)
