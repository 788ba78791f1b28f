"""Bitwise ops on integer and bool tensors: bitwise_and/or/xor/not, bitwise_left_shift /
bitwise_right_shift, the operators & | ^ ~ << >> (reflected and in-place forms), with torch's
dtype promotion and its errors for floating-point operands.

No gradient: the results are integers (or bools).  Bool operands go through the logical
compare entries (`ndops._compare`), so while recording for replay `mask & other_mask` is an
entry that a replay re-evaluates, as before.  An integer operand that is traced (its value
depends on a replay's inputs) is baked in with a value guard: a replay at inputs that change
it raises BranchChanged instead of using the recorded value.
"""
import numpy as np

from . import dtypes as D, errors
from .creation import tensor
from .errors import _check_broadcast
from .ndops import _compare
from .recording import _operand
from .tensor import Tensor, tensor_methods
from .tracing import _bake, _tracing

_NP = {"bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
       "bitwise_xor": np.bitwise_xor, "lshift": np.left_shift, "rshift": np.right_shift}
_LOGICAL = {"bitwise_and": "logical_and", "bitwise_or": "logical_or",
            "bitwise_xor": "logical_xor"}


def _not_implemented(name, dt):
    return NotImplementedError(f'"{name}_cpu" not implemented for \'{dt.legacy}\'')


def _result_dtype(name, x, y):
    xa, xd, xc = _operand(x)
    ya, yd, yc = _operand(y)
    D.check_uint64_operands(x, y)
    dt = D.result_type((xd, xc), (yd, yc))
    if dt.is_floating_point:
        raise _not_implemented(name, dt)
    return xa, ya, dt


def _shift(name, a, s, dt):
    """torch's shifts: a shift by the bit width or more (or a negative one) gives 0, or -1
    for a right shift of a negative value (numpy's result there is undefined)."""
    bits = dt.np.itemsize * 8
    a = np.asarray(a, dt.np)
    s = np.asarray(s).astype(np.int64)
    out_of_range = (s < 0) | (s >= bits)
    safe = np.where(out_of_range, 0, s).astype(dt.np)
    if name == "lshift":
        return np.where(out_of_range, 0, np.left_shift(a, safe)).astype(dt.np)
    return np.where(out_of_range, np.where(a < 0, -1, 0),
                    np.right_shift(a, safe)).astype(dt.np)


def binary(name, x, y):
    """x <op> y for op `name` (a key of _NP); x or y may be a Python number."""
    xa, ya, dt = _result_dtype(name, x, y)
    if dt is D.bool_:
        if name not in _LOGICAL:
            raise _not_implemented(name, dt)
        return _compare(_LOGICAL[name], *((x, y) if isinstance(x, Tensor) else (y, x)))
    for t in (x, y):
        if isinstance(t, Tensor):
            _bake(t, "guard_value")
    _check_broadcast(np.shape(xa), np.shape(ya))
    # both operands converted to the result dtype first, as torch's: a number or a 0-d
    # tensor out of its range wraps around (uint8 & -3 is uint8 & 253)
    xa, ya = D.as_array(xa, dt), D.as_array(ya, dt)
    if name in ("lshift", "rshift"):
        out = _shift(name, xa, ya, dt)
    else:
        out = _NP[name](xa, ya)
    return Tensor._wrap(np.asarray(out, dt.np), dt)


def bitwise_not(x, op="bitwise_not"):
    """~x: every bit flipped (integer tensors), logical not (bool tensors)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"bitwise_not(): argument 'input' (position 1) must be Tensor, not "
                        f"{errors.type_name(x)}")
    if x._dtype.is_floating_point:
        if op == "~":
            raise TypeError("~ (operator.invert) is only implemented on integer and "
                            "Boolean-type tensors")
        raise _not_implemented("bitwise_not", x._dtype)
    if x._dtype is D.bool_:
        return _compare("eq", x, False)
    _bake(x, "guard_value")
    return Tensor._wrap(np.invert(x._array()), x._dtype)


def _inplace(name, x, y):
    """x <op>= y: the result written into x (its dtype must hold the promoted type)."""
    y = D.py_number(y)   # (a numpy scalar as the number it stands for: np.bool_ a float)
    errors.check_promotion(x, y)     # (the output's shape, then its dtype: torch's order)
    r = binary(name, x, y)
    if _tracing(x) is not None:
        raise NotImplementedError("tapegrad: an in-place bitwise op on a traced tensor is not "
                                  "supported while recording; use the out-of-place form")
    return x._assign(r._array())


# what the operators take as the other operand: a numpy scalar too, read as torch's parser
# reads it (dtypes.py_number: np.int64 an int, np.bool_ a float), not left to numpy (whose
# reflected op made `int_tensor & np.int64(1)` an ndarray)
_NUMBERS = (Tensor, bool, int, float, np.integer, np.bool_, np.floating)


def _spelled(name, reflected=False):
    def method(self, other):
        if not isinstance(other, _NUMBERS):
            return NotImplemented
        return binary(name, other, self) if reflected else binary(name, self, other)
    return method


def _method(name):
    def method(self, other):
        return binary(name, self, other if isinstance(other, _NUMBERS) else tensor(other))
    method.__name__ = name
    return method


def _inplace_method(name):
    def method(self, other):
        return _inplace(name, self, other)
    return method


def _inplace_spelled(name):
    def method(self, other):
        if not isinstance(other, _NUMBERS):
            return NotImplemented
        return _inplace(name, self, other)
    return method


_SHIFT_NAMES = {"bitwise_left_shift": "lshift", "bitwise_right_shift": "rshift"}
_OPERATORS = {"and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
              "lshift": "lshift", "rshift": "rshift"}

_members = {}
for _sym, _name in _OPERATORS.items():
    _members[f"__{_sym}__"] = _spelled(_name)
    _members[f"__r{_sym}__"] = _spelled(_name, reflected=True)
    _members[f"__i{_sym}__"] = _inplace_spelled(_name)
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    _members[_name] = _method(_name)
    _members[_name + "_"] = _inplace_method(_name)
for _name, _code in _SHIFT_NAMES.items():
    _members[_name] = _method(_code)
    _members[_name + "_"] = _inplace_method(_code)
_members["__invert__"] = lambda self: bitwise_not(self, "~")
_members["bitwise_not"] = lambda self: bitwise_not(self)
_members["bitwise_not_"] = lambda self: self._assign(bitwise_not(self)._array())
tensor_methods(type("_Bitwise", (), _members))


def _module_function(name, code):
    def f(input, other):
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            f"({type(input).__name__}, {type(other).__name__})")
        return binary(code, input, other)
    f.__name__ = name
    f.__doc__ = f"tapegrad.{name}(input, other): elementwise, integer and bool tensors"
    return f


MODULE_FUNCTIONS = {name: _module_function(name, _SHIFT_NAMES.get(name, name)) for name in
                    ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                     "bitwise_right_shift")}
def _bitwise_not_function(input):
    """torch.bitwise_not(input): every bit flipped (integer tensors), logical not (bool)."""
    return bitwise_not(input)   # (torch.bitwise_not(input=x): its parser's name)


_bitwise_not_function.__name__ = _bitwise_not_function.__qualname__ = "bitwise_not"
MODULE_FUNCTIONS["bitwise_not"] = _bitwise_not_function
