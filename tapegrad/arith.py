"""add / sub / rsub with `alpha` (torch's `add(input, other, *, alpha=1)`), and div with
`rounding_mode`.

`x.add(y, alpha=k)` is recorded as `x + y * k` (the gradient of y is k * g; `y * k` as the
`mul_by_number` row, whose entries a backward does not free, as torch's node saves alpha
only), and the sum's entry shows torch's one node: AddBackward0 / SubBackward0 / RsubBackward0
whose edges are x's and y's (not the product's); a Python-number `other` is an empty edge, as
torch wraps it in a tensor when alpha is given.  alpha == 1 takes the operators' own path.

`x.div(y, rounding_mode=m)`: with m None the true quotient, shown as torch's DivBackward2;
with "trunc" or "floor" the rounded quotient, whose gradient torch defines as zero: the
value plus zero(x) (and zero(y)), shown as DivBackward2 with x's and y's edges."""
import numpy as np

from . import decomps, decomps_math as DM, dtypes as D, errors, _fastpath
from .exact import fma, fma_into
from .fpstate import quiet
from .floordiv import rounded_div
from .graph import show_edges
from .native_args import arg_error, MISSING
from .ndops import _unary
from .ops import OPS
from .recording import keep_args, revalued
from .tensor import Tensor, _tensor_operand, tensor_methods
from .views import apart, KIND_OPS

_UNSET = object()


def _integral(v):
    if isinstance(v, Tensor):
        return not v._dtype.is_floating_point
    return isinstance(v, (bool, int))


def _check_alpha(x, other, alpha):
    if isinstance(alpha, bool):
        if not (getattr(x, "_dtype", None) is not None and x._dtype.name == "bool"
                and isinstance(other, (Tensor, bool))
                and (not isinstance(other, Tensor) or other._dtype.name == "bool")):
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
    elif isinstance(alpha, float) and _integral(x) and _integral(other):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    elif not isinstance(alpha, (int, float)):
        raise TypeError(f"add(): argument 'alpha' must be Number, not {type(alpha).__name__}")


def _shown(r, name, inputs):
    """r's entry shows as torch's node `name` with one edge per input."""
    if r._tape is not None and r._recorded:
        show_edges(r._tape, r._node, inputs, name)
    return r


def _number_first(name, alpha, legacy):
    """(other, alpha) of torch's deprecated `name(Number alpha, Tensor other)`; another extra
    positional argument is a TypeError."""
    if len(legacy) != 1 or not isinstance(legacy[0], Tensor):
        raise arg_error(name, True, (alpha,) + legacy) or TypeError(
            f"{name}() takes 1 positional argument but {1 + len(legacy)} were given")
    return errors.alpha_first(name, alpha, legacy[0])


def _with_alpha(x, other, alpha, name):
    alpha = D.py_number(alpha)
    if type(alpha) is int:   # (torch's parser: an int64, or a uint64 above; beyond, its error)
        D.check_int_scalar(alpha)
    _check_alpha(x, other, alpha)
    if x._dtype.name == "bool" and (isinstance(other, bool) or isinstance(other, Tensor)
                                    and other._dtype.name == "bool") and name == "AddBackward0":
        # bool results stay bool, as torch: alpha as a bool too (-1 is True)
        return (x.long() + other * int(bool(alpha))) != 0
    # the scaled operand in the pair's dtype first, as torch computes alpha * other in it
    dt = D.torch_result_type(x, other)
    if type(alpha) is int and alpha > D.I64_MAX and name != "AddBackward0" and \
            not dt.is_floating_point:
        alpha -= 1 << 64   # (sub and rsub negate a uint64 alpha: as an int64, it wraps around)
    D.checked(alpha, dt)   # (alpha converts into that dtype, checked)
    y = other.to(dt) if isinstance(other, Tensor) and other._dtype is not dt else apart(x, other)
    if name == "RsubBackward0":     # rsub: other - alpha * x
        xd = x if x._dtype is dt else x.to(dt)
        r = (other if not isinstance(other, Tensor) else y) - _scaled(xd, alpha, dt)
        r = _fused(r, xd, -alpha, y, (x, other))
        if not isinstance(other, Tensor):
            return keep_args(_shown(r, "RsubBackward1", (x,)), alpha=alpha)
        return keep_args(_shown(r, name, (x, other)), alpha=alpha)
    scaled = _scaled(y, alpha, dt)
    if type(scaled) is int and not dt.is_floating_point:
        # (a product of Python ints: torch's is int64's, which wraps around)
        scaled = (scaled + (1 << 63)) % (1 << 64) - (1 << 63)
    r = x + scaled if name == "AddBackward0" else x - scaled
    r = _fused(r, y, alpha if name == "AddBackward0" else -alpha, x, (x, other))
    return keep_args(_shown(r, name, (x, other)), alpha=alpha)


def _fused(r, a, b, c, inputs):
    """r (c + a * b recorded: the sum's entry last) with torch's kernel's value, fma(a, b,
    c), one rounding (float32, float64; decomps_math.own_value): its entries give the
    gradient."""
    if DM.own_value(r, inputs):
        a, c = (v._array() if isinstance(v, Tensor) else v for v in (a, c))
        out = r._v
        # (r's array is the sum's own, new, result: written over where the kernel can)
        if type(out) is np.ndarray and out.base is None and out is not a and out is not c and \
                type(a) is np.ndarray and type(c) is np.ndarray and fma_into(a, b, c, out):
            return r
        revalued(r, fma(a, b._array() if isinstance(b, Tensor) else b, c, r._dtype.np))
    return r


def _scaled(y, alpha, dt):
    """y * alpha (y: a tensor or a number of the result's dtype dt).  One that records is
    mul(Tensor, Scalar), whose entries save the number only: torch's Add/Sub/RsubBackward0
    save alpha, no tensor, so their graph can be swept again (`y * alpha` saves the number
    as a tensor, which a backward frees)."""
    if isinstance(y, Tensor) and y._recorded and dt.is_floating_point:
        return decomps.record("mul_by_number", DM.mul_number, KIND_OPS, y, alpha)
    return y * alpha


def _rounded(x, other, mode):
    if mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{mode}'")
    plain = other.detach() if isinstance(other, Tensor) else other
    r = rounded_div(x.detach(), plain, mode)
    inputs = [t for t in (x, apart(x, other)) if isinstance(t, Tensor) and t._recorded]
    if not inputs or not r._dtype.is_floating_point:
        return r
    for t in inputs:     # zero gradients, as torch's DivBackward2 gives
        # NOTE: -0.0 is the additive identity (-0.0 + x is x for every x, -0.0 included);
        # adding +0.0 would turn a -0.0 quotient into +0.0
        z = -_unary(OPS["zero"].code, t)
        r = r + (z if z._dtype is r._dtype else z.to(r._dtype))
    return _shown(r, "DivBackward2", (x, other))


def _method_result(fname, r, other):
    """The result of an operator called for method fname: its NotImplemented (an operand
    that is no tensor, number or array, or none) as torch's TypeError."""
    if r is NotImplemented:
        if other is MISSING:
            raise arg_error(fname, True, ())
        _tensor_operand(fname, other, 1)
    return r


def _no_other(fname, other, **kwargs):
    """torch's TypeError of method fname called without `other` (the keywords given)."""
    if other is MISSING:
        raise arg_error(fname, True, (), {k: v for k, v in kwargs.items() if v is not _UNSET})


def _tensor_or_number(fname, r, other):
    """The result of an operator called for method fname, whose other operand torch's
    signature types "Tensor or Number": its NotImplemented as torch's TypeError."""
    if r is NotImplemented:
        _no_other(fname, other)
        raise errors.tensor_or_number(fname, other)
    return r


@tensor_methods
class _Methods:
    # The operators return NotImplemented for an operand that is no tensor, number or array
    # (Python then asks the other operand, as with torch's); the methods raise torch's error.
    def mul(self, other=MISSING):
        r = _fastpath.op_mul(self, other)
        if r is NotImplemented:
            _method_result("mul", r, other)
        return r

    def multiply(self, other=MISSING):
        return _tensor_or_number("multiply", _fastpath.op_mul(self, other), other)

    def true_divide(self, other=MISSING):
        return _tensor_or_number("true_divide", _fastpath.op_div(self, other), other)

    def div(self, other=MISSING, *, rounding_mode=_UNSET):
        """self / other; with rounding_mode "trunc" or "floor" rounded toward zero or -inf
        (DivBackward0; DivBackward2 when a rounding_mode is given, None included)."""
        if rounding_mode is _UNSET:
            return _method_result("div", self.__truediv__(other), other)
        _no_other("div", other, rounding_mode=rounding_mode)
        if rounding_mode is None:
            return _shown(_method_result("div", self.__truediv__(other), other), "DivBackward2",
                          (self, other))
        return _rounded(self, other, rounding_mode)

    def divide(self, other=MISSING, *, rounding_mode=_UNSET):
        _no_other("divide", other, rounding_mode=rounding_mode)
        return self.div(other, rounding_mode=rounding_mode)

    def div_(self, other, *, rounding_mode=_UNSET):
        if rounding_mode is _UNSET:
            return self._inplace_div(other)
        return self.divide_(other, rounding_mode=rounding_mode)

    def add(self, other=MISSING, *legacy, alpha=1):
        """self + alpha * other (AddBackward0)."""
        if legacy:
            other, alpha = _number_first("add", other, legacy)
        if isinstance(alpha, Tensor):   # (a 0-d tensor is a Scalar to torch's parser)
            alpha = errors.tensor_scalar("add", "alpha", alpha)
        if alpha == 1 and not isinstance(alpha, bool):
            return _method_result("add", self.__add__(other), other)
        _no_other("add", other, alpha=alpha)
        return _with_alpha(self, other, alpha, "AddBackward0")

    def sub(self, other=MISSING, *legacy, alpha=1):
        """self - alpha * other (SubBackward0)."""
        if legacy:
            other, alpha = _number_first("sub", other, legacy)
        if isinstance(alpha, Tensor):   # (a 0-d tensor is a Scalar to torch's parser)
            alpha = errors.tensor_scalar("sub", "alpha", alpha)
        errors.check_sub(self, other)
        if alpha == 1 and not isinstance(alpha, bool):
            return _method_result("sub", self.__sub__(other), other)
        _no_other("sub", other, alpha=alpha)
        return _with_alpha(self, other, alpha, "SubBackward0")

    def subtract(self, other=MISSING, *legacy, alpha=1):
        _no_other("subtract", other, **({} if legacy or alpha == 1 else {"alpha": alpha}))
        return self.sub(other, *legacy, alpha=alpha)


# torch's parser takes a Python number as `input` of these functions (its
# allow_numbers_as_tensors list): torch.add(2.0, y), torch.div(1, n)
NUMBER_INPUT = frozenset(("add", "sub", "mul", "div", "subtract", "multiply", "divide",
                          "true_divide"))


def number_input(x, other, div):
    """Python number `x` given as `input` of a NUMBER_INPUT function, as the 0-d tensor torch's
    parser makes of it (a wrapped number: a constant, no edge of the result's node), in the
    dtype the op computes in with `other` (`div`: a true division), so that it promotes as the
    number does; anything else as it is (the function's own TypeError)."""
    x = D.py_number(x)
    if not isinstance(x, (bool, int, float)):
        return x
    if type(x) is int:
        D.check_int_scalar(x)
    if type(x) is bool or not isinstance(other, Tensor):
        dt = D.scalar_dtype(x)   # (a bool stays one: sub refuses it, as torch's)
    else:
        dt = D.torch_result_type(x, other)
        if div and not dt.is_floating_point:   # (true division computes in floating point)
            dt = D.get_default_dtype()
    # (an int wraps into a narrower integer dtype, a float past float32's range is inf, as
    # torch's cast of the wrapped number into the common dtype)
    return Tensor._wrap(quiet(np.array(x).astype, dt.np), dt)


def rsub(input, other, *, alpha=1):
    """other - alpha * input (RsubBackward0; RsubBackward1 for a number other)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub(): argument 'input' (position 1) must be Tensor, not "
                        f"{errors.type_name(input)}")
    errors.check_sub(other, input)
    if isinstance(alpha, Tensor):   # (a 0-d tensor is a Scalar to torch's parser)
        alpha = errors.tensor_scalar("rsub", "alpha", alpha)
    if alpha == 1 and not isinstance(alpha, bool):
        if isinstance(other, Tensor):
            return _shown(other - input, "RsubBackward0", (input, other))
        r = input.__rsub__(other)
        if r is NotImplemented:
            _tensor_operand("rsub", other, 2)
        return r
    return _with_alpha(input, other, alpha, "RsubBackward0")
