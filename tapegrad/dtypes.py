"""dtypes (`tapegrad.float32` ...), PyTorch's type promotion, and torch's dtype helpers
(`result_type`, `promote_types`, `can_cast`, `finfo`, `iinfo`)."""
import math

import numpy as np

from . import _format
from .fpstate import F32_MAX, quiet


class dtype:
    """A tensor element type, as `torch.dtype` (`tapegrad.float32`, ...)."""
    __module__ = "tapegrad"   # (torch's: type(x.dtype) is torch.dtype)
    __slots__ = ("name", "np", "is_floating_point", "itemsize", "_rank", "is_complex", "is_signed",
                 "legacy")

    def __init__(self, name, npdt, floating, rank, legacy):
        self.name = name
        self.legacy = legacy  # torch's scalar-type name: FloatTensor, "result type Float ..."
        self.np = np.dtype(npdt)
        self.is_floating_point = floating
        self.is_complex = False
        self.is_signed = name not in ("bool", "uint8")
        self.itemsize = self.np.itemsize
        self._rank = rank  # kind category for promotion: 0 bool, 1 int, 2 float

    def __repr__(self):
        return "tapegrad." + self.name

    def __reduce__(self):
        # pickled as tapegrad's global of that name (tapegrad.bool, as torch.bool; pickles
        # naming tapegrad.dtypes.bool_ still load)
        return self.name

    @property
    def abbr(self):
        """torch's short name: "f32", "i64", "b8", "u8"."""
        return ("b" if self.name == "bool" else self.name[0]) + str(8 * self.itemsize)

    def to_real(self):
        """The real dtype of this one's values: itself (tapegrad's are all real)."""
        return self

    def to_complex(self):
        """The complex dtype of the same precision: torch's error for a non-float one;
        tapegrad has no complex dtypes."""
        if not self.is_floating_point:
            raise RuntimeError(f"Unknown Complex ScalarType for {self.legacy}")
        raise NotImplementedError(f"tapegrad has no complex dtypes (to_complex of "
                                  f"tapegrad.{self.name})")


bool_ = dtype("bool", np.bool_, False, 0, "Bool")
uint8 = dtype("uint8", np.uint8, False, 1, "Byte")
int8 = dtype("int8", np.int8, False, 1, "Char")
int16 = dtype("int16", np.int16, False, 1, "Short")
int64 = dtype("int64", np.int64, False, 1, "Long")
int32 = dtype("int32", np.int32, False, 1, "Int")
float32 = dtype("float32", np.float32, True, 2, "Float")
float64 = dtype("float64", np.float64, True, 2, "Double")
ALL = (bool_, uint8, int8, int16, int32, int64, float32, float64)
BY_NP = {d.np: d for d in ALL}

_default = [float32]


def get_default_dtype():
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d):
    """Set the floating dtype used for Python floats (float32 or float64)."""
    if d not in (float32, float64):
        raise TypeError("only floating-point types are supported as the default type")
    _default[0] = d
    _format._default_dtype_name = d.name


# the numpy dtypes torch's tensors take that tapegrad's do not: arrays of them are torch's
# tensors, so tapegrad's refusal is its own, not torch's TypeError for the types it lacks
_TORCH_ONLY = {np.dtype(n): n for n in ("float16", "uint16", "uint32", "uint64")}


def from_numpy_dtype(npdt):
    d = BY_NP.get(np.dtype(npdt))
    if d is None:
        npdt = np.dtype(npdt)
        name = npdt.type.__name__
        if npdt in _TORCH_ONLY:
            raise NotImplementedError(f"tapegrad has no {_TORCH_ONLY[npdt]} dtype: an array "
                                      f"of numpy.{name} is not supported")
        if npdt.kind == "c" and npdt.itemsize <= 16:
            raise NotImplementedError(f"tapegrad has no complex dtypes: an array of "
                                      f"numpy.{name} is not supported")
        # (torch's words, which list its own dtypes)
        raise TypeError(f"can't convert np.ndarray of type numpy.{name}. The only supported "
                        f"types are: float64, float32, float16, complex64, complex128, int64, "
                        f"int32, int16, int8, uint64, uint32, uint16, uint8, and bool.")
    return d


def as_array(v, dt):
    """`v` (an array or a Python number) as an array of dtype `dt`.  A Python int outside the
    range of an integer dtype narrower than int64 wraps around as torch's cast of a scalar
    does (uint8: 300 -> 44, -1 -> 255; int32: 2**31 -> -2**31), where numpy would raise
    OverflowError."""
    if dt.itemsize < 8 and not dt.is_floating_point and dt is not bool_ and \
            isinstance(v, int) and not isinstance(v, bool):
        return np.asarray(np.int64(v) if v <= I64_MAX else np.uint64(v)).astype(dt.np)
    if type(v) is int and v > I64_MAX and dt is int64:
        # (an int in [2**63, 2**64) is torch's uint64 scalar, which wraps around into int64:
        # 2**63 -> -2**63; check_int_scalar refused larger ones)
        return np.asarray(np.uint64(v)).astype(np.int64)
    if type(v) is float and dt is float32 and not -F32_MAX <= v <= F32_MAX:
        return quiet(np.asarray, v, dt.np)     # (inf, silently as torch's cast)
    return np.asarray(v, dtype=dt.np)


SMALL_INTS = (uint8, int8, int16)


# the C++ type torch's checked scalar conversion names in its overflow error
_CHECKED_NAMES = {"int32": "int", "float32": "float", "float64": "double"}


I64_MAX = 0x7FFFFFFFFFFFFFFF


def check_uint64_operands(x, y):
    """torch's error for its uint64 scalar (a Python int in [2**63, 2**64)) against a bool
    tensor: a promotion it has no rule for."""
    for v, t in ((x, y), (y, x)):
        if type(v) is int and v > I64_MAX and getattr(t, "_dtype", None) is bool_:
            raise RuntimeError("Promotion for uint16, uint32, uint64 types is not supported, "
                               "attempted to promote Bool and UInt64")


def check_int_scalar(v):
    """Python int `v` read as torch's parser reads a Scalar: an int64, or a uint64 above
    int64's range; beyond those, its OverflowError."""
    if not -0x8000000000000000 <= v < 0x10000000000000000:
        raise OverflowError("can't convert negative int to unsigned" if v < 0 else
                            "int too big to convert")


def checked(v, dt, name=None):
    """Python number `v` converted to dtype `dt` as torch's checked scalar conversion (fill
    values, setitem, torch.tensor's items): into an integer dtype an int within [min, max]
    ([-max, max] for uint8, wrapping around) or a float truncated if within [min, max]; into
    float32 a finite number within float32's range; anything else raises
    torch's RuntimeError (`name`: the type as the message names it, C++'s by default:
    uint8_t, int, int64_t, float).  Other values (bool, float64, tensors) come back as
    they are."""
    if type(v) is int:
        check_int_scalar(v)
    if isinstance(v, (complex, np.complexfloating)) and dt is not bool_:
        # (torch's check of a complex number into a real dtype: nonzero imaginary part or not)
        raise RuntimeError(f"value cannot be converted to type "
                           f"{name or _CHECKED_NAMES.get(dt.name, dt.name + '_t')} without "
                           f"overflow")
    if isinstance(v, (bool, np.bool_)) or dt is bool_ or \
            not isinstance(v, (int, float, np.integer, np.floating)):
        return v
    if dt.is_floating_point:
        if dt is float32 and not -F32_MAX <= v <= F32_MAX and v == v and \
                not math.isinf(v):
            raise RuntimeError(f"value cannot be converted to type "
                               f"{name or _CHECKED_NAMES[dt.name]} without overflow")
        return v
    info = np.iinfo(dt.np)
    if isinstance(v, (int, np.integer)):
        v = int(v)
        bad = v > info.max or v < (-info.max if dt is uint8 else info.min)
    else:
        v = float(v)
        bad = v != v or not info.min <= v <= info.max
    if bad:
        raise RuntimeError(f"value cannot be converted to type "
                           f"{name or _CHECKED_NAMES.get(dt.name, dt.name + '_t')} without "
                           f"overflow")
    return as_array(int(v), dt).item() if dt in SMALL_INTS else int(v)


def _promote_same_category(x, y):
    if x is y:
        return x
    if x._rank != y._rank:
        return x if x._rank > y._rank else y
    if x.is_signed != y.is_signed:
        # uint8 with a signed integer: the signed type that holds both (uint8 + int8: int16)
        s, u = (x, y) if x.is_signed else (y, x)
        return s if s.itemsize > u.itemsize else int16
    return x if x.itemsize >= y.itemsize else y


def as_dtype(x, fn=None):
    """A dtype argument as torch's parser takes it: a dtype, or a Python type standing for one
    (float: float64, int: int64, bool: bool, as `torch.zeros(2, dtype=float)`); anything else
    raises torch's TypeError for function `fn` (of one signature), or without `fn` is returned
    as it is (the caller's own check)."""
    dt = _PY_TYPES.get(x, x) if type(x) is type else x
    if fn is not None and type(dt) is not dtype:
        raise TypeError(f"{fn}(): argument 'dtype' must be torch.dtype, not {type(x).__name__}")
    return dt


def py_number(x):
    """A numpy scalar (np.float32(2), np.int64(i) from np.arange) as the Python number torch's
    argument parser reads it as (np.bool_ as a float: int64 tensor * np.bool_(True) is float32
    in torch); anything else as it is."""
    if isinstance(x, np.generic):
        if isinstance(x, (np.floating, np.bool_)):
            return float(x)       # (np.longdouble's item() is itself: float() reads it)
        return int(x) if isinstance(x, np.integer) else x.item()
    return x


def scalar_dtype(v):
    if isinstance(v, bool):
        return bool_
    if isinstance(v, int):
        return int64
    return get_default_dtype()


def result_type(a, b):
    """PyTorch's promotion of two operands, each (dtype, category) with category
    2 = tensor with dims, 1 = zero-dim tensor, 0 = Python number."""
    (da, ca), (db, cb) = a, b
    if ca == cb:
        if ca == 0:
            r = _promote_same_category(da, db)
            return get_default_dtype() if r._rank == 2 else r
        return _promote_same_category(da, db)
    hi, lo = ((da, ca), (db, cb)) if ca > cb else ((db, cb), (da, ca))
    if lo[0]._rank > hi[0]._rank:
        # a lower category wins only by a higher kind; a Python float takes the default dtype
        return get_default_dtype() if lo[1] == 0 and lo[0]._rank == 2 else lo[0]
    return hi[0]


# ---- torch's dtype helpers: result_type, promote_types, can_cast, finfo, iinfo ----------------
def _check_dtype(fn, arg, pos, value):
    if not isinstance(value, dtype):
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be tapegrad.dtype, not "
                        f"{type(value).__name__}")


def _operand(x):
    """(dtype, category) of a tensor (anything with a tapegrad dtype) or a Python number."""
    dt = getattr(x, "dtype", None)
    if isinstance(dt, dtype):
        return dt, 2 if x.dim() else 1
    if isinstance(x, (bool, int, float)):
        return scalar_dtype(x), 0
    if isinstance(x, (np.integer, np.floating, np.bool_)):
        # numpy scalars as torch reads them: integers as int, the rest (np.bool_ too) as float
        return scalar_dtype(int(x) if isinstance(x, np.integer) else 0.0), 0
    raise TypeError(f"result_type(): expected Tensor or Number arguments, got "
                    f"{type(x).__name__}")


def torch_result_type(tensor1, tensor2):
    """torch.result_type: the dtype an arithmetic op on the two operands (tensors or Python
    numbers) gives, by torch's promotion (dimensioned tensors, then 0-d ones, then
    numbers: a lower category counts only with a higher kind)."""
    return result_type(_operand(tensor1), _operand(tensor2))


def promoted(*operands):
    """torch's promotion of several operands (tensors or Python numbers), as its
    TensorIterator's common dtype: each category (dimensioned tensors, 0-d tensors, numbers)
    promoted within itself, a lower category then counting only by a higher kind."""
    # (tensors of one dtype, the common case: that dtype whatever their categories)
    first = getattr(operands[0], "dtype", None) if operands else None
    if isinstance(first, dtype):
        for v in operands:
            if getattr(v, "dtype", None) is not first:
                break
        else:
            return first
    best = {}
    for v in operands:
        d, c = _operand(v)
        best[c] = _promote_same_category(best[c], d) if c in best else d
    dt = None
    for c in (2, 1, 0):
        if c in best:
            dt = (best[c], c) if dt is None else (result_type(dt, (best[c], c)), dt[1])
    return dt[0] if dt[1] or not dt[0].is_floating_point else get_default_dtype()


def promote_types(type1, type2):
    """The smallest dtype both dtypes convert to without loss of kind (bool < integer <
    floating point, then size)."""
    _check_dtype("promote_types", "type1", 1, type1)
    _check_dtype("promote_types", "type2", 2, type2)
    return _promote_same_category(type1, type2)


def can_cast(from_, to):
    """Whether torch's casting rules allow from_ -> to in an in-place op: not floating point
    to integer, nor anything but bool to bool."""
    _check_dtype("can_cast", "from_", 1, from_)
    _check_dtype("can_cast", "to", 2, to)
    if from_.is_floating_point and not to.is_floating_point and to is not bool_:
        return False
    return not (to is bool_ and from_ is not bool_)


class _TypeInfo:
    """The common face of finfo and iinfo: read-only attributes, equality by dtype, torch's
    repr."""
    __slots__ = ("_dt",)
    _FIELDS = ()

    def __hash__(self):   # (as torch's: equal by value, unhashable)
        raise TypeError(f"unhashable type: 'tapegrad.{type(self).__name__}'")

    def __getattr__(self, name):   # (only for a name that is not there)
        raise AttributeError(f"'tapegrad.{type(self).__name__}' object has no attribute "
                             f"'{name}'")

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._dt is other._dt

    def __setattr__(self, name, value):
        kind = type(self).__name__
        if name == "_dt" and not hasattr(self, "_dt"):
            object.__setattr__(self, name, value)
        elif hasattr(type(self), name):
            raise AttributeError(f"attribute '{name}' of 'tapegrad.{kind}' objects is not "
                                 f"writable")
        else:
            raise AttributeError(f"'tapegrad.{kind}' object has no attribute '{name}'")

    @property
    def bits(self):
        return self._dt.itemsize * 8

    @property
    def dtype(self):
        return self._dt.name

    def __repr__(self):
        body = ", ".join(f"{f}={getattr(self, f):g}" for f in self._FIELDS)
        return f"{type(self).__name__}({body}, dtype={self.dtype})"


class finfo(_TypeInfo):
    """The numerical properties of a floating-point dtype (the default dtype if none):
    bits, eps, max, min, tiny (= smallest_normal), resolution (10 ** -decimal digits),
    dtype (its name)."""
    __slots__ = ()
    _FIELDS = ("resolution", "min", "max", "eps", "smallest_normal", "tiny")

    def __init__(self, type=None):  # noqa: A002  (torch's name)
        if type is None:
            type = get_default_dtype()
        _check_dtype("finfo", "type", 1, type)
        if not type.is_floating_point:
            raise TypeError("tapegrad.finfo() requires a floating point input type. Use "
                            "tapegrad.iinfo to handle 'tapegrad.finfo'")
        self._dt = type

    @property
    def eps(self):
        return float(np.finfo(self._dt.np).eps)

    @property
    def max(self):
        return float(np.finfo(self._dt.np).max)

    @property
    def min(self):
        return float(np.finfo(self._dt.np).min)

    @property
    def tiny(self):
        return float(np.finfo(self._dt.np).smallest_normal)

    smallest_normal = tiny

    @property
    def resolution(self):
        return 10.0 ** -int(np.finfo(self._dt.np).precision)


class iinfo(_TypeInfo):
    """The numerical properties of an integer dtype: bits, max, min, dtype (its name)."""
    __slots__ = ()
    _FIELDS = ("min", "max")

    def __init__(self, *args, **kwargs):
        if len(args) > 1:
            raise TypeError(f"iinfo() takes 1 positional argument but {len(args)} were given")
        if len(args) + len(kwargs) != 1 or kwargs and "type" not in kwargs:
            raise TypeError('iinfo() missing 1 required positional arguments: "type"')
        type = args[0] if args else kwargs["type"]  # noqa: A001
        _check_dtype("iinfo", "type", 1, type)
        if type is bool_:
            raise TypeError("tapegrad.bool is not supported by tapegrad.iinfo")
        if type.is_floating_point:
            raise TypeError("tapegrad.iinfo() requires an integer input type. Use "
                            "tapegrad.finfo to handle 'tapegrad.iinfo'")
        self._dt = type

    @property
    def max(self):
        return int(np.iinfo(self._dt.np).max)

    @property
    def min(self):
        return int(np.iinfo(self._dt.np).min)


finfo.__module__ = iinfo.__module__ = "tapegrad"


_PY_TYPES = {float: float64, int: int64, bool: bool_}
