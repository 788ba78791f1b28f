"""Creation functions: `tensor`, `as_tensor`, `from_numpy`, `zeros`/`ones`/`empty`/`full`
and their `_like` forms, `arange`, `linspace`, `logspace`, `range` (deprecated), `eye`,
`tril_indices`/`triu_indices`; and the legacy `Tensor(...)` constructor."""
import math
import warnings

import numpy as np

from . import aligned, devices as _device, dtypes as D, errors, layouts, settings
from .dtypes import dtype as DType
from .exact import fma32, fma64, fma_ints
from .fpstate import quiet
from .native_args import extra_args, missing, MISSING, parsed, renamed, Unbound
from .tape import FORWARD_MADE, STATE
from .tensor import _bool_arg, install, _int_arg, _int_list, _is_int_arg, _is_int_item, _new, _size_args, Size, Tensor, _TensorMeta
from .tensor import _plain_size
from .tracing import _bake


@install(_TensorMeta)
class _LegacyConstructor:
    """`tapegrad.Tensor(...)`, torch's legacy constructor (the metaclass's `__call__`)."""

    @parsed("new", method=True)   # (torch's parser's words: native_args' forms of new())
    def __call__(cls, *args, device=MISSING, **kw):
        """Legacy constructor: Tensor([1, 2]) copies data as float32; Tensor(2, 3) and
        Tensor(Size) are uninitialized (zeros here), Tensor() is empty."""
        if cls is not Tensor:
            raise errors.subclass_not_supported(cls)
        return legacy_new(None, args, device, kw)


def legacy_new(dt, args, device=MISSING, kw=None):
    """torch's legacy constructors, torch.Tensor(...) (`dt` None: the default dtype) and the
    typed ones (FloatTensor(...)), called under parsed("new"): data copied, sizes (spread
    ints or a Size) uninitialized (zeros here), a tensor as it is (no device= then, not even
    None)."""
    if kw:
        raise Unbound("new")
    if device is not MISSING:
        _device.check(device)
    dtype = dt or D.get_default_dtype()
    if not args:
        return empty(0, dtype=dtype)
    if len(args) == 1:
        data = args[0]
        if isinstance(data, Tensor):
            if device is not MISSING:
                raise RuntimeError(_LEGACY_DEVICE)
            return data
        if isinstance(data, Size):
            return empty(*data, dtype=dtype)
        if not isinstance(data, (int, np.integer)) or isinstance(data, bool):
            if data is None or isinstance(data, (bool, float, np.generic)):
                raise TypeError(f"new(): data must be a sequence (got "
                                f"{errors.type_name(data)})")
            return copy_of(data, dtype)
    try:   # (no dtype= for the default: keywords cost a pass through empty's wrapper)
        return empty(*args) if dt is None else empty(*args, dtype=dt)
    except TypeError as e:   # (its sizes' errors, under the constructor's name)
        raise renamed(e, "empty", "new") from None


_LEGACY_DEVICE = ("Legacy tensor constructor of the form torch.Tensor(tensor, device=device) is "
                  "not supported.  Use torch.tensor(...) or torch.as_tensor(...) instead.")


# ---- creation ------------------------------------------------------------------------------------
def _leaf(arr, dt, requires_grad):
    if requires_grad and not dt.is_floating_point:
        raise RuntimeError(errors.NOT_FLOAT_CREATE)
    t = Tensor._wrap(arr, dt, bool(requires_grad))
    if STATE.forward_call:   # (made in jvp's function: a write into it there is recorded)
        t._flags = getattr(t, "_flags", 0) | FORWARD_MADE
    return t


def _infer_dtype(data):
    """torch.tensor's dtype inference from nested Python data."""
    if isinstance(data, np.ndarray):
        return D.from_numpy_dtype(data.dtype)
    if isinstance(data, (bool, int, float)):
        flat = [data]
    else:
        try:
            flat = np.asarray(data, dtype=object).reshape(-1)
        except RuntimeError:   # a tensor that requires grad deeper in the data refuses
            return None        # __array__ (as torch's numpy()): read by _as_items
    kinds = {type(v) for v in flat}
    if any(isinstance(v, Tensor) for v in flat):
        return None
    for k in kinds:
        if not issubclass(k, (bool, int, float, np.number, np.bool_)) or \
                issubclass(k, np.complexfloating):
            _bad_data(data, k)
    if not kinds:
        return D.get_default_dtype()
    # each item's dtype (a numpy scalar keeps its own, as torch), promoted across the items
    dt = None
    for k in kinds:
        kd = _item_dtype(k)
        dt = kd if dt is None else D._promote_same_category(dt, kd)
    return dt


def _item_dtype(kind):
    """The dtype torch.tensor gives an item of Python or numpy scalar type `kind`."""
    if issubclass(kind, np.generic):
        d = D.BY_NP.get(np.dtype(kind))
        if d is not None:
            return d
        kind = bool if issubclass(kind, np.bool_) else int if issubclass(kind, np.integer) else float
    return D.scalar_dtype(kind())


def _bad_data(data, kind):
    """Raise torch.tensor's error for nested data holding a `kind` it cannot take."""
    if kind in (str, bytes):
        first = data       # (torch's shape follows first elements: a string there is a dim)
        while isinstance(first, (list, tuple)) and first:
            first = first[0]
        if first is not data and isinstance(first, str):
            raise ValueError("too many dimensions 'str'")
        raise TypeError(f"new(): invalid data type '{kind.__name__}'")
    if issubclass(kind, (complex, np.complexfloating)):   # (torch makes a complex tensor)
        raise NotImplementedError("tapegrad has no complex dtypes: a tensor of complex numbers "
                                  "is not supported")
    if kind not in (list, tuple):
        raise RuntimeError(f"Could not infer dtype of {kind.__name__}")
    shape, d = [], data          # torch takes the shape from the first element at each depth
    while isinstance(d, (list, tuple)):
        shape.append(len(d))
        d = d[0] if d else None

    def walk(d, dim):
        if dim == len(shape):
            if isinstance(d, (list, tuple)):
                raise TypeError(f"must be real number, not {type(d).__name__}")
            return
        if not isinstance(d, (list, tuple)):
            raise TypeError("not a sequence")
        if len(d) != shape[dim]:
            raise ValueError(f"expected sequence of length {shape[dim]} at dim {dim} "
                             f"(got {len(d)})")
        for v in d:
            walk(v, dim + 1)
    walk(data, 0)


# ---- fast forms ----------------------------------------------------------------------------------
# The common calls of the factories (zeros(2, 3), ones(n, dtype=float64), tensor(0.1),
# tensor([1., 2.]), zeros_like(x), ...) made without the full functions' argument checks: a
# fast form returns the result, or None for any call it does not take whole (the full function
# then binds, checks and makes it, with torch's messages).  It decides nothing itself: the
# dtype, the values and the storage come from the functions the full path uses.  They run
# from the wrappers that give torch's parser's errors (native_args.parsed, out_arg.with_out):
# a call they take costs ~1-2 us less than through the full function.

_NO_OPTIONS = (None, False)   # (the default dtype, no grad)


def _fast_options(kw):
    """(dtype or None, requires_grad) of a factory's keywords when they are dtype= (a dtype
    or None) and requires_grad= (a bool) only, else None."""
    if not kw:
        return _NO_OPTIONS
    dt, requires_grad = None, False
    for k, v in kw.items():
        if k == "dtype" and (v is None or v.__class__ is DType):
            dt = v
        elif k == "requires_grad" and v.__class__ is bool:
            requires_grad = v
        else:
            return None
    return dt, requires_grad


def _fast_filled(value):
    """The fast form of zeros / ones / empty, filled with `value`: sizes as Python ints."""
    def fast(size, kw):
        options = _fast_options(kw)
        if options is None:
            return None
        dt, requires_grad = options
        size = _plain_size(size)
        if size is None:
            return None
        dt = dt or D.get_default_dtype()
        if requires_grad and not dt.is_floating_point:
            return None
        return _leaf(aligned.full(size, value, dt.np), dt, requires_grad)
    return fast


def _full_fast(args, kw):
    """full's fast form: full(size, fill_value) with a Python float or int fill value."""
    if len(args) != 2:
        return None
    size, value = args
    options = _fast_options(kw)
    if options is None:
        return None
    dt, requires_grad = options
    kind = value.__class__
    if not (kind is float or kind is int and -_I64 <= value < _I64) or \
            size.__class__ not in _SIZES:
        return None
    size = _plain_size((size,))
    if size is None:
        return None
    dt = dt or D.scalar_dtype(value)
    if requires_grad and not dt.is_floating_point:
        return None
    return _leaf(aligned.full(size, D.checked(value, dt), dt.np), dt, requires_grad)


_SIZES = (tuple, list, Size)


def _tensor_fast(args, kw):
    """tensor's fast form: tensor(x) of a Python float or int, of a list or tuple (or one of
    equal lists or tuples) of Python floats only or of Python ints only, or of a range."""
    if len(args) != 1:
        return None
    options = _fast_options(kw)
    if options is None:
        return None
    dt, requires_grad = options
    data = args[0]
    kind = data.__class__
    if kind is range:
        return _range_fast(data, dt, requires_grad)
    if kind is list or kind is tuple:
        if not data:
            return None
        shape, kind = _plain_items(data)
        if kind is None:
            return None
        item = data[0] if len(shape) == 1 else data[0][0]
    elif kind is np.ndarray or isinstance(data, np.generic):
        return _numpy_fast(data, dt, requires_grad)
    else:
        shape, item = (), data
    if kind is float:
        dt = dt or D.scalar_dtype(item)
        if not dt.is_floating_point:
            return None   # (a float into an integer dtype: _checked_items' checks)
    elif kind is int:
        if dt is not None and dt is not D.int64 or requires_grad or \
                shape == () and not -_I64 <= data < _I64:
            return None   # (an int converted to a float dtype: copy_of's two steps)
        dt = D.scalar_dtype(item)
    else:
        return None
    if requires_grad and not dt.is_floating_point:
        return None
    # (past float32's range: inf, silently, as copy_of's cast)
    arr = quiet(aligned.array, data, dt.np, shape) if shape else quiet(np.array, data, dt.np)
    return _leaf(arr, dt, requires_grad)


def _range_fast(r, dt, requires_grad):
    """_tensor_fast of a non-empty range of int64 values (int64, as the general path infers
    it from the items): its values computed by numpy, not read one by one.  None for any
    other (an empty one, a float dtype, requires_grad: the general path's checks)."""
    n = len(r)
    if not n or dt is not None and dt is not D.int64 or requires_grad or \
            not (-_I64 <= r.start < _I64 and -_I64 <= r[-1] < _I64 and -_I64 <= r.step < _I64):
        return None
    out = aligned.empty((n,), np.int64)
    np.multiply(np.arange(n, dtype=np.int64), r.step, out=out)
    out += r.start   # (int64 wraps in between; each value ends in range)
    return _leaf(out, D.int64, False)


def _numpy_fast(data, dt, requires_grad):
    """_tensor_fast of a numpy array or scalar of a dtype tapegrad has (its own dtype kept,
    or cast to `dt` as copy_of casts one): copy_of's checks and copy, without its
    inference for nested data and its intermediate copy."""
    src = D.BY_NP.get(data.dtype) if data.dtype.kind in "biuf" else None
    if src is None:
        return None
    array = data.__class__ is np.ndarray
    if array:
        _check_numpy_layout(data)   # (copy_of's first check: its error)
    elif dt is not None and not (dt.is_floating_point or dt is D.bool_):
        return None   # (a numpy scalar into an integer dtype: _checked_items' checks)
    dt = dt or src
    if requires_grad and not dt.is_floating_point:
        return None
    if data.dtype.kind == "f" and data.dtype.itemsize > dt.np.itemsize:
        arr = quiet(aligned.copy, data, dt.np)   # (a narrowing cast may overflow: inf)
    else:
        arr = aligned.copy(data if array else np.asarray(data), dt.np)
    return _leaf(arr, dt, requires_grad)


def _plain_items(data):
    """(shape, float or int) of a list or tuple of Python floats only or Python ints only
    (those within int64's range), or of one of equal lists or tuples of them; (None, None)
    for any other data (the full path infers, checks and converts it)."""
    first = data[0]
    if first.__class__ is list or first.__class__ is tuple:
        n = len(first)
        if not n:
            return None, None
        kind = first[0].__class__
        for row in data:
            if row.__class__ is not list and row.__class__ is not tuple or len(row) != n or \
                    _kind_of(row, kind) is None:
                return None, None
        return (len(data), n), kind
    kind = _kind_of(data, first.__class__)
    return ((len(data),), kind) if kind is not None else (None, None)


def _kind_of(items, kind):
    """kind (float or int) when every item is of that class (an int within int64's range),
    else None."""
    if kind is float:
        for v in items:
            if v.__class__ is not float:
                return None
        return kind
    if kind is int:
        for v in items:
            if v.__class__ is not int or not -_I64 <= v < _I64:
                return None
        return kind
    return None


def _like_fast(value):
    """The fast form of zeros_like / ones_like / empty_like, filled with `value`."""
    def fast(args, kw):
        if len(args) != 1:
            return None
        options = _fast_options(kw)
        if options is None:
            return None
        dt, requires_grad = options
        x = args[0]
        if not isinstance(x, Tensor):
            return None
        dt = dt or x._dtype
        if requires_grad and not dt.is_floating_point:
            return None
        return _leaf(_like_values(x, value, dt), dt, requires_grad)
    return fast


@parsed("tensor", fast=_tensor_fast)
def tensor(data=MISSING, *extra, dtype=None, device=None, requires_grad=False,
           pin_memory=False):
    """A new leaf tensor holding a copy of `data` (dtype inferred as torch does: float32 for
    floats, int64 for ints)."""
    if data is MISSING or extra:   # (torch's parser's words, not Python's)
        raise extra_args("tensor", 1, 1, 1 + len(extra)) if extra else missing("tensor", ["data"])
    if dtype is not None:
        dtype = D.as_dtype(dtype, "tensor")
    _device.check(device)
    if dtype is not None and not isinstance(dtype, DType):
        raise TypeError(f"tensor(): argument 'dtype' must be torch.dtype, not "
                        f"{type(dtype).__name__}")
    if requires_grad is not False:
        _bool_arg(requires_grad, "tensor", "requires_grad", None)
    if pin_memory is not False:   # (a bool only: None too is refused, as torch's)
        _pin_memory_arg("tensor", _bool_arg(pin_memory, "tensor", "pin_memory", None))
    if isinstance(data, Tensor):
        warnings.warn(errors.COPY_CONSTRUCT.format("torch.tensor"), UserWarning,
                      stacklevel=errors.user_stacklevel())
    return copy_of(data, dtype, requires_grad)


def copy_of(data, dtype=None, requires_grad=False):
    """torch.tensor's leaf copy of `data` (checked arguments; no warning for a tensor)."""
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    if isinstance(data, Tensor):
        _bake(data, "guard_value")   # (a traced value copied out of the recorded tape)
        arr = np.array(data._array(), copy=True)
        dt = dtype or data._dtype
    else:
        if isinstance(data, np.ndarray):
            _check_numpy_layout(data)
        if isinstance(data, (list, tuple)) and \
                any(isinstance(d, (Tensor, np.ndarray)) for d in data):
            data = _as_items(data)
        dt = dtype or _infer_dtype(data)
        if dt is None:  # tensors deeper in the data
            data = _as_items(data)
            dt = _infer_dtype(data)
        try:
            arr = np.array(data, dtype=None if isinstance(data, np.ndarray) else None)
            deeper = isinstance(data, (list, tuple)) and arr.ndim > len(_first_sizes(data))
        except ValueError:   # (ragged to numpy)
            if not _holds_tensor(data):
                if isinstance(data, (list, tuple)):
                    _bad_data(data, list)   # (torch's error for ragged data)
                raise
            deeper = True
        if deeper:
            # a tensor deeper in the data that numpy read as a sequence: torch's shape stops
            # at it (it is one item there)
            data = _as_items(data)
            dt = dtype or _infer_dtype(data)
            arr = np.array(data)
        if arr.dtype.kind in "SU" and not isinstance(data, np.ndarray):
            _infer_dtype(data)   # (strings with a dtype given: torch's errors too)
        if not (dt.is_floating_point or dt is D.bool_ or isinstance(data, np.ndarray)):
            arr = _checked_items(data, arr, dt)
        elif arr.dtype.kind == "O" and dt.is_floating_point:
            _real_items(arr)
    if arr.dtype.kind == "f" and arr.dtype.itemsize > dt.np.itemsize:
        arr = quiet(aligned.copy, arr, dt.np)   # (a narrowing cast may overflow: inf, silently)
    else:
        arr = aligned.copy(arr, dt.np)
    return _leaf(arr, dt, requires_grad)


def _holds_tensor(data):
    return isinstance(data, Tensor) or isinstance(data, (list, tuple)) and \
        any(_holds_tensor(d) for d in data)


def _first_sizes(data):
    """torch.tensor's shape of nested data: the lengths of the first elements' chain of
    lists, tuples and numpy arrays (a tensor ends it: it is an item there)."""
    sizes = []
    while isinstance(data, (list, tuple)) or isinstance(data, np.ndarray) and data.ndim:
        sizes.append(len(data))
        if not sizes[-1]:
            break
        data = data[0]
    return sizes


def _as_items(data, sizes=None, dim=0):
    """Nested data with its tensors and numpy arrays as numpy scalars of their dtypes, as
    torch.tensor reads them: an array as a sequence of its items (a float64 array gives
    float64), a tensor as one item (a one-element tensor of any shape: its value) where the
    shape (`sizes`, from the first elements) ends, else as the sequence of its rows."""
    if sizes is None:
        sizes = _first_sizes(data)
    if isinstance(data, Tensor):
        if dim < len(sizes) and data.dim():
            return [_as_items(row, sizes, dim + 1) for row in data]
        if data._recorded and STATE.enabled and data.requires_grad:
            errors.warn_once(errors.SCALAR_OF_GRAD)   # (torch reads each as a Python scalar)
        _bake(data, "guard_value")   # (a traced value copied out of the recorded tape)
        if data.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return data._array().reshape(-1)[0]
    if isinstance(data, np.ndarray):
        if data.ndim == 0:
            return data[()]
        errors.warn_once("Creating a tensor from a list of numpy.ndarrays is extremely slow. "
                         "Please consider converting the list to a single numpy.ndarray with "
                         "numpy.array() before converting to a tensor.")
        return [_as_items(a, sizes, dim + 1) for a in data]
    if isinstance(data, (list, tuple)):
        return [_as_items(d, sizes, dim + 1) for d in data]
    return data


def _checked_items(data, arr, dt):
    """Python data for an integer dtype, each item converted as torch checks it (uint8: -1 ->
    255, 300 raises, an int32 past its range or a nan raises): at once for all-int (or
    all-bool) data, else item by item.  A Python int past int64's range is torch's
    ValueError (its parser reads ints as long long)."""
    if arr.dtype.kind in "iub":
        info = np.iinfo(dt.np)
        lo = -info.max if dt is D.uint8 else info.min
        if arr.dtype.kind != "b" and arr.size and (arr.min() < lo or arr.max() > info.max):
            v = int(arr.max() if arr.max() > info.max else arr.min())
            _long_long(v)
            D.checked(v, dt, dt.name)
        return arr.astype(dt.np)
    flat = [v.item() if isinstance(v, np.generic) else v
            for v in np.asarray(data, dtype=object).reshape(-1).tolist()]
    # item by item, each read as a long long and then converted, as torch's parser: the first
    # item that fails decides the error (range(2**63 - 2, 2**63 + 1) as int32: its first
    # item's RuntimeError, not the third's ValueError)
    flat = [D.checked(_long_long(v) if type(v) is int else v, dt, dt.name) for v in flat]
    return np.array(flat, dtype=dt.np).reshape(arr.shape)


def _real_items(arr):
    # (items numpy kept as objects, for a float dtype: torch converts each as a real number,
    # where numpy makes a None nan)
    for v in arr.reshape(-1):
        if not isinstance(v, (int, float, np.number, np.bool_)):
            raise TypeError(f"must be real number, not {errors.type_name(v)}")


def _long_long(v):
    """torch's error for a Python int its parser cannot read as a long long."""
    if not -2 ** 63 <= v < 2 ** 63:
        raise ValueError("Overflow when unpacking long long")
    return v


@parsed("as_tensor")
def as_tensor(data, *, dtype=None, device=None):
    """`data` as a tensor: returned as is when it already is one with the requested dtype."""
    if dtype is not None:
        dtype = D.as_dtype(dtype, "as_tensor")
    _device.check(device)
    if isinstance(data, Tensor):   # (another dtype: a recorded cast, as torch's)
        return data if dtype is None or dtype is data._dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or dtype.np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


_UNSET = object()


@parsed("scalar_tensor")
def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=False,
                  requires_grad=False):
    """A 0-d tensor holding the number s, in the default dtype unless `dtype` says
    (whatever s's type)."""
    if dtype is not None:
        dtype = D.as_dtype(dtype, "scalar_tensor")
    _factory_options("scalar_tensor", layout, pin_memory)
    _device.check(device)
    _requires_grad_arg("scalar_tensor", requires_grad)
    s = _number_arg("scalar_tensor", "s", 1, s)
    return tensor(s, dtype=dtype or D.get_default_dtype(), requires_grad=bool(requires_grad))


@parsed("asarray")
def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=_UNSET):
    """`obj` as a tensor (torch.asarray): a tensor as it is, or converted (a recorded cast,
    ToCopyBackward0) to `dtype`; a numpy array sharing its memory when its dtype is kept;
    other data copied as `tensor()` infers it.  copy=True always copies (a tensor: clone,
    recorded); copy=False refuses a conversion that would.  Unspecified requires_grad
    follows a tensor `obj` (with torch's warning when that is True)."""
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    if requires_grad is not _UNSET:
        _requires_grad_arg("asarray", requires_grad)   # (None: unspecified)
        requires_grad = _UNSET if requires_grad is None else requires_grad
    _device.check(device)
    if isinstance(obj, Tensor):
        if requires_grad is _UNSET:
            if obj.requires_grad:
                warnings.warn("torch.asarray: unspecified requires_grad now defaults to "
                              "obj.requires_grad instead of False. Pass requires_grad=False "
                              "explicitly to get the old behavior and silence this warning.",
                              UserWarning, stacklevel=2)
            requires_grad = obj.requires_grad
        convert = dtype is not None and dtype is not obj._dtype
        if convert and copy is False:
            raise ValueError(f"can't alias tensor with dtype '{obj._dtype.legacy}' into dtype "
                             f"'{dtype.legacy}'.")
        out = obj.to(dtype) if convert else (obj.clone() if copy else obj)
        if out is obj:
            return obj._requires_grad(bool(requires_grad)) if obj.is_leaf else obj
        return out if requires_grad or not out.requires_grad else out.detach()
    requires_grad = False if requires_grad is _UNSET else bool(requires_grad)
    if isinstance(obj, np.ndarray):
        keep = dtype is None or dtype.np == obj.dtype
        if copy is False and not keep:
            raise ValueError(f"can't alias tensor with dtype "
                             f"'{D.from_numpy_dtype(obj.dtype).legacy}' into dtype "
                             f"'{dtype.legacy}'.")
        if keep and not copy:
            return from_numpy(obj)._requires_grad(requires_grad)
    elif copy is False:
        raise ValueError("can't alias arbitrary sequence into a tensor.")
    return tensor(obj, dtype=dtype, requires_grad=requires_grad)


_FROM_NUMPY = "torch._VariableFunctionsClass.from_numpy() takes "


def from_numpy(arr=MISSING, /, *extra, **kwargs):
    """A tensor sharing memory with the numpy array `arr` (as torch's: not of an array with a
    negative stride; a read-only one with torch's warning, once)."""
    # (torch's from_numpy is a C method of one argument, METH_O: CPython's own messages)
    if kwargs:
        raise TypeError(_FROM_NUMPY + "no keyword arguments")
    if arr is MISSING or extra:
        raise TypeError(_FROM_NUMPY + f"exactly one argument "
                        f"({len(extra) + (arr is not MISSING)} given)")
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {errors.type_name(arr)})")
    if not arr.flags.writeable:
        errors.warn_once(_NUMPY_NOT_WRITABLE)
    _check_numpy_layout(arr)
    dt = D.from_numpy_dtype(arr.dtype)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._recorded = arr, dt, arr.shape, None, False
    return t


def _flag(v):
    # (whether torch's parser takes v for a `bool? ` parameter: a bool or None)
    return v is None or v.__class__ is bool


def _requires_grad_arg(fn, requires_grad):
    # (the factories' `bool? requires_grad`: None is taken, an int is not)
    if not _flag(requires_grad):
        _bool_arg(requires_grad, fn, "requires_grad", None)


def _filled(size, value, dtype, requires_grad, fn=None):
    if not size:
        raise TypeError(f'{fn}() missing 1 required positional arguments: "size"')
    _requires_grad_arg(fn, requires_grad)
    if dtype is not None:
        dtype = D.as_dtype(dtype, fn)
    dt = dtype or D.get_default_dtype()
    return _leaf(aligned.full(_size_args(size, fn), D.checked(value, dt), dt.np), dt,
                 requires_grad)


def _factory_options(fn, layout, pin_memory, memory_format=None, ndim=None):
    """torch's checks of a factory function's layout=, pin_memory= and memory_format=
    arguments (tapegrad's tensors are strided, in C order: tapegrad/layouts.py)."""
    layouts.check(fn, ndim, layout, memory_format)
    if memory_format is layouts.preserve_format:
        raise RuntimeError("unsupported memory format Preserve")
    _pin_memory_arg(fn, pin_memory)


def _pin_memory_arg(fn, pin_memory):
    # (a factory's `bool? pin_memory`: True needs an accelerator, which tapegrad has none of)
    if not _flag(pin_memory):
        _bool_arg(pin_memory, fn, "pin_memory", None)
    if pin_memory:
        raise RuntimeError("pin_memory=True requires a CUDA or other accelerator backend; no "
                           "pinned memory allocator is available on this system.")


def size_keyword(fn, size, kw):
    """size of a factory whose sizes are spread ints (zeros, ones, empty, new_zeros...) given
    as size= (in kw, its other keywords): torch's keyword form, a sequence given once."""
    if not size and "size" not in kw:   # (its parser: the missing size first)
        raise TypeError(f'{fn}() missing 1 required positional arguments: "size"')
    for k in kw:
        if k != "size":
            raise TypeError(f"{fn}() got an unexpected keyword argument '{k}'")
    v = kw["size"]
    if size:
        raise TypeError(f"{fn}() got multiple values for argument 'size'")
    if not isinstance(v, (tuple, list)):   # (no int, no tensor: those only spread)
        raise TypeError(f"{fn}(): argument 'size' must be tuple of ints, not "
                        f"{errors.type_name(v)}")
    return (v,)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, **kw):
    """A tensor of the given size filled with 0."""
    if kw:   # (size=(2, 3): torch's keyword form)
        size = size_keyword("zeros", size, kw)
    _device.check(device)
    _factory_options("zeros", layout, pin_memory)
    return _filled(size, 0, dtype, requires_grad, "zeros")


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False, **kw):
    """A tensor of the given size filled with 1."""
    if kw:
        size = size_keyword("ones", size, kw)
    _device.check(device)
    _factory_options("ones", layout, pin_memory)
    return _filled(size, 1, dtype, requires_grad, "ones")


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, memory_format=None, **kw):
    """A tensor of the given size (tapegrad fills it with 0)."""
    if kw:
        size = size_keyword("empty", size, kw)
    _device.check(device)
    ndim = None if memory_format is None else len(_size_args(size, "empty"))
    _factory_options("empty", layout, pin_memory, memory_format, ndim)
    return _filled(size, 0, dtype, requires_grad, "empty")


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
         pin_memory=False):
    """A tensor of `size` filled with `fill_value`."""
    _device.check(device)
    _factory_options("full", layout, pin_memory)
    fill_value = _number_arg("full", "fill_value", 2, fill_value)
    if dtype is None:
        if isinstance(fill_value, complex):   # (torch: a complex tensor)
            raise NotImplementedError("tapegrad has no complex dtypes: full() with a complex "
                                      "fill_value and no dtype is not supported")
        dtype = D.scalar_dtype(fill_value)
    if not isinstance(size, (tuple, list)):   # (torch's size here is never spread ints)
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{errors.type_name(size)}")
    return _filled((size,), fill_value, dtype, requires_grad, "full")


zeros._fast, ones._fast, empty._fast, full._fast = (_fast_filled(0), _fast_filled(1),
                                                    _fast_filled(0), _full_fast)


def _like(x, value, dtype, requires_grad, fn, layout=None, memory_format=None,
          pin_memory=False):
    _pin_memory_arg(fn, pin_memory)
    if dtype is not None:
        dtype = D.as_dtype(dtype, fn)
    if not isinstance(x, Tensor):
        raise TypeError(errors.EXPECTED_TENSOR.format(fn=fn, arg="input", pos=1,
                                                      got=type(x).__name__))
    _requires_grad_arg(fn, requires_grad)
    layouts.check(fn, len(x._shape), layout, memory_format)
    dt = dtype or x._dtype
    return _leaf(_like_values(x, D.checked(value, dt), dt, memory_format), dt, requires_grad)


def _like_values(x, value, dt, memory_format=None):
    """The array of a _like factory: x's shape filled with `value` (checked) in dtype dt."""
    arr = x._v
    if (memory_format is None or memory_format is layouts.preserve_format) and \
            type(arr) is np.ndarray and not arr.flags.c_contiguous and 0 not in arr.strides:
        # torch's preserve_format: the input's order of dims in memory (a transpose's
        # result is a transpose), as numpy's order "K"; an expanded input gives row-major
        return np.full_like(arr, value, dtype=dt.np)
    return aligned.full(x._shape, value, dt.np)   # (zeros' storage, for the same reasons)


@parsed("zeros_like", fast=_like_fast(0))
def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None, pin_memory=False):
    """zeros of `input`'s shape (and dtype unless given)."""
    _device.check(device)
    return _like(input, 0, dtype, requires_grad, "zeros_like", layout, memory_format,
                 pin_memory)


@parsed("ones_like", fast=_like_fast(1))
def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None, pin_memory=False):
    """ones of `input`'s shape (and dtype unless given)."""
    _device.check(device)
    return _like(input, 1, dtype, requires_grad, "ones_like", layout, memory_format,
                 pin_memory)


@parsed("empty_like", fast=_like_fast(0))
def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None, pin_memory=False):
    """An uninitialized tensor of `input`'s shape (tapegrad fills it with 0)."""
    _device.check(device)
    return _like(input, 0, dtype, requires_grad, "empty_like", layout, memory_format,
                 pin_memory)


@parsed("full_like")
def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None, pin_memory=False):
    """A tensor of `input`'s shape filled with `fill_value`."""
    _device.check(device)
    fill_value = _number_arg("full_like", "fill_value", 2, fill_value)
    return _like(input, fill_value, dtype, requires_grad, "full_like", layout, memory_format,
                 pin_memory)


def _arange_fast(args, kw):
    """arange's fast form: arange(end), arange(start, end[, step]) of Python ints (within
    int64's range) and floats."""
    if not 1 <= len(args) <= 3:
        return None
    options = _fast_options(kw)
    if options is None:
        return None
    dtype, requires_grad = options
    for v in args:
        kind = v.__class__
        if not (kind is float or kind is int and -_I64 <= v < _I64):
            return None
    if len(args) == 1:
        start, end, step = 0, args[0], 1
    else:
        start, end, step = args if len(args) == 3 else (*args, 1)
    values, dtype = _arange_values(start, end, step, dtype)
    if requires_grad and not dtype.is_floating_point:
        return None   # (arange's error)
    return _leaf(values, dtype, requires_grad)


@parsed("arange", fast=_arange_fast)
def arange(start=_UNSET, end=_UNSET, step=_UNSET, *extra, dtype=None, device=None,
           requires_grad=False, layout=None, pin_memory=False):
    """Values from `start` to `end` (exclusive) by `step`, as torch.arange."""
    # (torch's options are keyword-only: a 4th positional matches no form; end and step
    # _UNSET unless given: arange(5, None) and arange(end=5, step=1) match none either)
    if extra or start is _UNSET and (end is _UNSET or step is not _UNSET):
        raise Unbound("arange")
    _factory_options("arange", layout, pin_memory)
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    if start is _UNSET:   # (arange(end=n): torch's arange(Number end) overload by keyword)
        start, end = end, _UNSET
    if step is _UNSET:
        step = 1
    if not (_is_number(start) and (end is _UNSET or _is_number(end)) and _is_number(step)) \
            or not _flag(requires_grad):
        raise Unbound("arange")
    _device.check(device)
    if end is _UNSET:
        start, end = 0, start
    start, end, step = _number(start), _number(end), _number(step)
    for v in (start, end, step):   # (torch's parser: an int64, or a uint64 above it)
        if type(v) is int:
            D.check_int_scalar(v)
    values, dtype = _arange_values(start, end, step, dtype)
    return _leaf(values, dtype, requires_grad)


def _arange_values(start, end, step, dtype):
    """(values, dtype) of arange from the numbers start, end, step (Python ints and floats)
    and `dtype` (None: inferred), after torch's checks of them."""
    if dtype is D.bool_:
        raise NotImplementedError("\"arange_cpu\" not implemented for 'Bool'")
    if dtype is None:
        dtype = D.int64 if isinstance(start, int) and isinstance(end, int) and \
            isinstance(step, int) else D.get_default_dtype()
    if dtype is D.int64:   # (its bounds converted to int64 first, checked)
        for v in (start, end, step):
            _to_int64(v)
    if not (step > 0 or step < 0):    # (nan too, as torch's check)
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {errors.scalar_text(start)} -> "
                           f"{errors.scalar_text(end)}")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = _arange_size(start, end, step, dtype)
    if not dtype.is_floating_point:
        _to_int64(step)   # (the kernel's int64 step)
    nbytes = aligned.check_nbytes((n,), dtype.itemsize)
    try:
        values = (_arange_int(start, step, n, dtype) if not dtype.is_floating_point else
                  _arange_float(float(start), float(step), n, dtype.np))
    except (MemoryError, ValueError):   # (numpy's, past what it can allocate: torch's words)
        raise aligned.alloc_error(nbytes) from None
    return values, dtype


_I64 = 1 << 63


def _to_int64(v):
    """torch's checked Scalar.to<int64_t>() of a finite bound or step."""
    if not (-_I64 <= v < _I64) and (type(v) is int or math.isfinite(v)):
        raise RuntimeError("value cannot be converted to type int64_t without overflow")


def _arange_size(start, end, step, dtype):
    """torch's compute_arange_size: for int64 from the int64 values (toward zero: arange(0, 5,
    1.5) steps by 1), whose sums wrap around (arange(-2**63, 0) overflows), else from the
    numbers as doubles; a count past int64's range refused, one of 2**63 cast to int64's
    minimum (torch's sizes then refuse it)."""
    if dtype is D.int64:
        xstart, xend, xstep = int(start), int(end), int(step)
        if xstep == 0:   # (a ValueError here, torch's size computation for int64)
            raise ValueError("step must be nonzero")
        span = (xend - xstart + xstep - (1 if xstep > 0 else -1) + _I64) % (2 * _I64) - _I64
        q = abs(span) // abs(xstep)
        size = float(q if (span < 0) == (xstep < 0) else -q)
    else:
        size = math.ceil((float(end) - float(start)) / float(step))
    if not 0 <= size <= 2.0 ** 63:
        raise RuntimeError("invalid size, possible overflow?")
    if size == 2.0 ** 63:
        raise RuntimeError("IntArrayRef contains an int that cannot be represented as a "
                           "SymInt: -9223372036854775808")
    return int(size)


def _arange_int(start, step, n, dtype):
    """torch's CPU arange of n values of an integer dtype: the start and step converted to
    int64 first (toward zero: arange(0, 5, 1.5, dtype=int32) steps by 1, a step truncated to
    0 repeats the start); the values wrap into the dtype."""
    xstart, xstep = int(start), int(step)
    values = np.arange(n, dtype=np.int64)
    if xstep != 1:
        values *= xstep
    if xstart:
        values += xstart
    return values.astype(dtype.np, copy=False)


_GRAIN = 32768     # at::internal::GRAIN_SIZE: torch's parallel_for chunks of a range kernel


def _arange_float(start, step, n, np_dtype):
    """torch's CPU arange of a float dtype: values computed in double and rounded to the
    dtype, in vectors of 32 bytes made two at a time (8 float32 / 4 float64 lanes: lane k of
    a vector at index i is fma(k, step, base), base = dt(fma(step, i, start))), the elements
    after the last pair one by one (fma(step, i, start)); each chunk of torch's parallel_for
    (one per thread, from GRAIN_SIZE elements on) starts its own vectors."""
    dt = np.dtype(np_dtype).type
    if n == 0:   # (an infinite step among them)
        return np.empty(0, dt)
    lanes = 32 // np.dtype(dt).itemsize
    # step * i exact in float64 for every index and lane i (a step of few bits: 1.0, 0.5):
    # fma(step, i, x) is then numpy's step * i + x, rounded once
    exact = abs(step.as_integer_ratio()[0]) * max(n, lanes) < 2 ** 53
    if not exact and n <= _FEW_STEPS:
        return _arange_few(start, step, n, dt, lanes)
    if exact and n < 2 * lanes:
        # (no pair of vectors: each value fma(step, i, start), the product exact, so Python's
        # step * i + start rounds once as numpy's does below; arange(0., 1., .25): ~3 us of
        # numpy calls on a few elements -> ~1 us)
        return np.array([step * i + start for i in range(n)], np.float64).astype(dt)
    fma = _fma_exact_product if exact else fma64
    out = np.empty(n, dt)
    threads = max(1, min(settings.get_num_threads(), -(-n // _GRAIN)))
    chunk = -(-n // threads) if n else 0
    for lo in range(0, n, max(chunk, 1)):
        hi = min(n, lo + chunk)
        vec_end = lo + (hi - lo) // (2 * lanes) * (2 * lanes)
        if vec_end > lo:
            starts = np.arange(lo, vec_end, lanes, dtype=np.float64)
            bases = fma(step, starts, start).astype(dt).astype(np.float64)
            k = np.arange(lanes, dtype=np.float64)
            out[lo:vec_end] = fma(k[None, :], step, bases[:, None]).astype(dt).reshape(-1)
        if hi > vec_end:
            rest = np.arange(vec_end, hi, dtype=np.float64)
            out[vec_end:hi] = fma(step, rest, start).astype(dt)
    return out


_FEW_STEPS = 256   # up to: _arange_few (an fma in integers costs ~0.2 us; numpy's exact
#                   path ~75 us for 100 elements, 256 ~110 us)


def _arange_few(start, step, n, dt, lanes):
    """_arange_float of a few elements (one chunk), each fma in Python integers (fma_ints)."""
    vec_end = n // (2 * lanes) * (2 * lanes)
    bases = np.array(fma_ints(step, range(0, vec_end, lanes), start)).astype(dt).tolist()
    values = []
    for base in bases:
        values += fma_ints(step, range(lanes), base)
    values += fma_ints(step, range(vec_end, n), start)
    with np.errstate(over="ignore"):   # (past float32's range: inf, as torch's cast)
        return np.array(values, np.float64).astype(dt)


def _fma_exact_product(a, b, c):
    """fma64 where every a * b is exact in float64: one rounding, numpy's."""
    return np.multiply(a, b, dtype=np.float64) + c


_NO_STEPS = object()


@parsed("linspace")
def linspace(start, end, steps=_NO_STEPS, *extra, dtype=None, device=None, requires_grad=False,
             layout=None, pin_memory=False):
    """`steps` evenly spaced values from `start` to `end` inclusive."""
    # (its options are keyword-only, as torch's; steps an int: no float, no bool)
    if steps is _NO_STEPS or extra or not _is_int_arg(steps, True) or not _flag(requires_grad) \
            or not (_is_bound(start) and _is_bound(end)):
        raise Unbound("linspace")
    _factory_options("linspace", layout, pin_memory)
    if dtype is not None:
        dtype = D.as_dtype(dtype, "linspace")
    _device.check(device)
    start, end = _bounds_0d("linspace", start, end)
    dt = dtype or D.get_default_dtype()
    if _int_arg(steps, "linspace", "steps", 3) < 0:
        raise RuntimeError("number of steps must be non-negative")
    if dt is D.bool_:
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    if dt is not D.float64:
        # the bounds by torch's checked conversion into dt (uint8: 300 raises, -1 is 255;
        # float32: 1e40 raises)
        start, end = D.checked(start, dt), D.checked(end, dt)
    try:
        values = _linspace(start, end, int(steps), dt.np)
    except (MemoryError, ValueError):   # (numpy's, past what it can allocate: torch's words)
        raise aligned.storage_error((int(steps),), dt.itemsize) from None
    return _leaf(values, dt, requires_grad)


def _linspace(start, end, steps, np_dtype):
    """torch's CPU linspace: step = (end - start) / (steps - 1), the first half from start
    (fma(step, i, start)), the second from end (fma(-step, steps - 1 - i, end)), in the dtype
    (float32 or float64), or in double and truncated for an integer dtype."""
    dt = np.dtype(np_dtype).type
    if steps <= 1:
        return np.full(steps, start, dt)
    floating = np.dtype(dt).kind == "f"
    if floating:
        start, end = dt(start), dt(end)
    else:
        start, end = float(int(start)), float(int(end))   # the bounds as the dtype holds them
    step = (end - start) / (dt(steps - 1) if floating else steps - 1)
    half = steps // 2
    up = np.arange(half, dtype=dt if floating else np.float64)
    down = np.arange(steps - half - 1, -1, -1, dtype=up.dtype)
    fma = fma32 if dt is np.float32 else fma64
    out = np.concatenate([fma(up, step, start), fma(down, -step, end)])
    return out.astype(dt) if floating else np.trunc(out).astype(dt)


@parsed("eye")
def eye(n=_UNSET, m=_UNSET, *extra, dtype=None, device=None, requires_grad=False, layout=None,
        pin_memory=False):
    """A 2-d tensor with ones on the diagonal."""
    # (m _UNSET unless given: eye(3, None) matches none of torch's forms; its options are
    # keyword-only: a 3rd positional matches none either)
    if n is _UNSET or extra or m is not _UNSET and not _is_int_item(m, True) or \
            not _flag(requires_grad):
        raise Unbound("eye")
    _factory_options("eye", layout, pin_memory)
    if dtype is not None:
        dtype = D.as_dtype(dtype, "eye")
    _device.check(device)
    dt = dtype or D.get_default_dtype()
    _int_arg(n, "eye", "n", 1, _is_int_item)   # (SymInt n, m)
    n = n.__index__()
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    m = None if m is _UNSET else _int_arg(m, "eye", "m", 2, _is_int_item).__index__()
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    try:
        values = np.eye(n, m).astype(dt.np)
    except (MemoryError, ValueError):   # (numpy's, past what it can allocate: torch's words)
        raise aligned.storage_error((n, n if m is None else m), dt.itemsize) from None
    return _leaf(values, dt, requires_grad)


def _index_options(name, device, layout, requires_grad, pin_memory):
    _factory_options(name, layout, pin_memory)
    _requires_grad_arg(name, requires_grad)
    _device.check(device)


def _index_pairs(name, rows, cols, offset, dtype, requires_grad, pick):
    # (torch's parser: ints, in its order; offset named as given positionally)
    rows = _int_arg(rows, name, "row", 1).__index__()
    cols = _int_arg(cols, name, "col", 2).__index__()
    offset = _int_arg(offset, name, "offset", 3).__index__()
    dtype = D.int64 if dtype is None else D.as_dtype(dtype)
    if rows < 0:
        raise RuntimeError(f"row must be non-negative, got{rows}")
    if cols < 0:
        raise RuntimeError(f"col must be non-negative, got{cols}")
    if dtype not in (D.int32, D.int64):
        raise NotImplementedError(f'"{name}" not implemented for \'{dtype.legacy}\'')
    return _leaf(np.array(pick(rows, cols, offset), dtype=dtype.np).reshape(2, -1), dtype,
                 requires_grad)


@parsed("tril_indices")
def tril_indices(row, col, offset=0, *, dtype=D.int64, device=None, layout=None,
                 requires_grad=False, pin_memory=False):
    """The coordinates (2 x N, row-major) of the lower triangle of a row x col matrix: the
    elements with column - row <= offset."""
    _index_options("tril_indices", device, layout, requires_grad, pin_memory)
    return _index_pairs("tril_indices", row, col, offset, dtype, requires_grad,
                        lambda r, c, k: np.tril_indices(r, k, c))


@parsed("triu_indices")
def triu_indices(row, col, offset=0, *, dtype=D.int64, device=None, layout=None,
                 requires_grad=False, pin_memory=False):
    """The coordinates (2 x N, row-major) of the upper triangle of a row x col matrix: the
    elements with column - row >= offset."""
    _index_options("triu_indices", device, layout, requires_grad, pin_memory)
    return _index_pairs("triu_indices", row, col, offset, dtype, requires_grad,
                        lambda r, c, k: np.triu_indices(r, k, c))


def _number(x):
    """A Number argument given as a tensor or a numpy scalar, as the Python number torch
    reads from it: an integer tensor gives an int (so arange and full infer int64 from it)."""
    return x.item() if isinstance(x, (Tensor, np.generic)) else x


def _is_number(x):
    """Whether torch's argument parser takes `x` for a Number: a Python or numpy scalar, or a
    0-d tensor that does not require grad (one that does is only a Tensor to it)."""
    if isinstance(x, Tensor):
        return not x._shape and not x.requires_grad
    return isinstance(x, (bool, int, float, complex, np.number, np.bool_))


def _number_arg(fn, name, pos, x):
    """The Number argument `x` (`name`, at `pos`) of `fn` as a Python number, or torch's
    error for anything else."""
    if not _is_number(x):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be Number, not "
                        f"{errors.arg_type_name(x)}")
    return _number(x)


def _is_bound(x):
    # (linspace's / logspace's start and end: a Number or a Tensor)
    return isinstance(x, Tensor) or _is_number(x)


def _bounds_0d(fn, start, end):
    """(start, end) as numbers, after torch's error for a start or end tensor of linspace /
    logspace that is not 0-d."""
    bad = [f"{k} with {v.dim()} dimension(s)" for k, v in (("start", start), ("end", end))
           if isinstance(v, Tensor) and v.dim()]
    if bad:
        raise RuntimeError(f"{fn} only supports 0-dimensional start and end tensors, but got "
                           f"{' and '.join(bad)}.")
    # (read as numbers: a bound that requires grad gives a result without history, as torch)
    return tuple(v.item() if isinstance(v, Tensor) else v for v in (start, end))


@parsed("logspace")
def logspace(start, end, steps=_NO_STEPS, base=10.0, *, dtype=None, device=None, layout=None,
             requires_grad=False, pin_memory=False):
    """`steps` values from base ** start to base ** end, exponents evenly spaced, computed
    as torch does: in double precision from start and end converted to the dtype (so an
    integer dtype truncates them, and the powers), each half from its own end."""
    if steps is _NO_STEPS or not _is_int_arg(steps, True) or not _flag(requires_grad) or \
            not (_is_bound(start) and _is_bound(end)):
        raise Unbound("logspace")
    _factory_options("logspace", layout, pin_memory)
    if dtype is not None:
        dtype = D.as_dtype(dtype, "logspace")
    _device.check(device)
    start, end = _bounds_0d("logspace", start, end)
    dt = dtype or D.get_default_dtype()
    if _int_arg(steps, "logspace", "steps", 3) < 0:
        raise RuntimeError("number of steps must be non-negative")
    if dt is D.bool_:
        raise NotImplementedError("\"logspace_cpu\" not implemented for 'Bool'")
    start, end = _number(start), _number(end)
    if steps == 1:
        exps = np.array([float(start)])
    else:
        lo, hi = dt.np.type(start), dt.np.type(end)   # (C++'s start.to<scalar_t>())
        step = float(hi - lo) / (steps - 1)
        try:
            i = np.arange(steps)
        except (MemoryError, ValueError):   # (numpy's, past what it can allocate: torch's)
            raise aligned.storage_error((steps,), dt.itemsize) from None
        half = steps // 2
        exps = np.where(i < half, float(lo) + step * i, float(hi) - step * (steps - i - 1))
    # C's pow, as torch's kernel calls it (numpy's vectorized power is 1 ulp off at times)
    out = np.array([_c_pow(float(base), x) for x in exps.tolist()], np.float64)
    return _leaf(quiet(out.astype, dt.np), dt, requires_grad)


def _c_pow(base, x):
    """C's pow(base, x), whose inf and nan math.pow raises for."""
    try:
        return math.pow(base, x)
    except OverflowError:   # (a negative base to an odd power keeps its sign)
        return -math.inf if base < 0 and x.is_integer() and x % 2 == 1 else math.inf
    except ValueError:      # 0 to a negative power; a negative base to a fractional one
        return math.inf if base == 0 else math.nan


RANGE_DEPRECATED = ("torch.range is deprecated and will be removed in a future release because "
                    "its behavior is inconsistent with Python's range builtin. Instead, use "
                    "torch.arange, which produces values in [start, end).")


@parsed("range")
def torch_range(start, end, step=1, *, dtype=None, device=None, layout=MISSING,
                requires_grad=False):
    """torch.range: values from start to end inclusive by step (default dtype unless given),
    computed in double (or int64 for an integer dtype, the bounds truncated); deprecated, as
    in torch."""
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    # (its layout and requires_grad take no None)
    if layout is None or not isinstance(requires_grad, bool):
        raise Unbound("range")
    if layout is not MISSING:
        layouts.check("range", None, layout)
    start, end, step = (_number_arg("range", k, i, v) for i, (k, v) in
                        enumerate((("start", start), ("end", end), ("step", step)), 1))
    warnings.warn(RANGE_DEPRECATED, UserWarning, stacklevel=errors.user_stacklevel())
    _device.check(device)
    dt = dtype or D.get_default_dtype()
    if dt is D.bool_:
        raise NotImplementedError("\"range_cpu\" not implemented for 'Bool'")
    acc = float if dt.is_floating_point else int
    if not (math.isfinite(start) and math.isfinite(end)):
        if acc is int:   # (int64 accumulation: the conversion fails first)
            raise RuntimeError("value cannot be converted to type int64_t without overflow")
        raise RuntimeError(f"unsupported range: {float(start):g} -> {float(end):g}")
    xstart, xend, xstep = acc(start), acc(end), acc(step)
    if xstep == 0:
        raise RuntimeError("step must be nonzero")
    if not (xstep > 0 and xend >= xstart or xstep < 0 and xend <= xstart):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if acc is int:
        size = _trunc_div(xend - xstart, xstep) + 1
        out = xstart + np.arange(size, dtype=np.int64) * xstep
    else:
        size = int((xend - xstart) / xstep + 1)
        out = xstart + np.arange(size, dtype=np.float64) * xstep
    return _leaf(out.astype(dt.np), dt, requires_grad)


def _trunc_div(a, b):
    """C++'s integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


@parsed("empty_strided")
def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """A tensor of `size` whose elements lie `stride` elements apart in a storage of its own
    (tapegrad fills it with 0; overlapping strides such as 0 share elements, as torch's).
    `tensor.stride()` reports `stride`: the tensor is a numpy view with those strides."""
    if dtype is not None:
        dtype = D.as_dtype(dtype, "empty_strided")
    _factory_options("empty_strided", None, pin_memory)
    _requires_grad_arg("empty_strided", requires_grad)
    _device.check(device)
    size = [_int_arg(s, "empty_strided", "size", 1).__index__() for s in size]
    stride = [_int_arg(s, "empty_strided", "stride", 2).__index__() for s in stride]
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality "
                           f"of strides ({len(stride)})")
    for s in size:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {size}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={size} and "
                           f"strides={stride}")
    layouts.check("empty_strided", len(size), layout, None)
    dt = dtype or D.get_default_dtype()
    n = 0 if 0 in size else 1 + sum((s - 1) * st for s, st in zip(size, stride))
    storage = np.zeros(n, dt.np)
    arr = np.lib.stride_tricks.as_strided(storage, tuple(size),
                                          tuple(st * storage.itemsize for st in stride))
    return _leaf(arr, dt, requires_grad)


@parsed("empty_permuted")
def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    """An uninitialized dense tensor of `size` whose dims lie in memory in the order
    `physical_layout` lists them, outermost first (tapegrad fills it with 0): a row-major
    array of the permuted size, seen through the inverse permutation."""
    size = list(_int_list((size,), "empty_permuted", "size", 1, bare=False))
    order = list(_int_list((physical_layout,), "empty_permuted", "physical_layout", 2,
                           bare=False))
    if dtype is not None:
        dtype = D.as_dtype(dtype, "empty_permuted")
    _device.check(device)
    _factory_options("empty_permuted", layout, pin_memory)
    _requires_grad_arg("empty_permuted", requires_grad)
    if len(size) != len(order):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the "
                           f"physical_layout; i.e. len(size) = {len(size)} is not equal to "
                           f"len(physical_layout) = {len(order)}")
    for k, d in enumerate(order):
        if not 0 <= d < len(size):
            raise RuntimeError(f"Dimension out of range (expected to be between 0 and "
                               f"{len(size) - 1}, but got {d} at index {k}).  NB: negative "
                               f"dims not currently supported; file an issue if you want it.")
    if len(set(order)) != len(order):
        raise RuntimeError("Duplicate dim not allowed")
    for s in size:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {size}")
    dt = dtype or D.get_default_dtype()
    physical = np.zeros([size[d] for d in order], dt.np)
    arr = physical.transpose(np.argsort(order))
    if not physical.size:   # (torch's strides count an empty dim as one element)
        strides, step = [0] * len(size), physical.itemsize
        for d in reversed(order):
            strides[d], step = step, step * max(size[d], 1)
        arr = np.lib.stride_tricks.as_strided(physical, tuple(size), tuple(strides))
    return _leaf(arr, dt, requires_grad)


_NEGATIVE_STRIDES = (
    "At least one stride in the given numpy array is negative, and tensors with negative "
    "strides are not currently supported. (You can probably work around this by making a copy "
    "of your array  with array.copy().) ")
_BYTE_ORDER = ("given numpy array has byte order different from the native byte order. "
               "Conversion between byte orders is currently not supported.")


def _check_numpy_layout(arr):
    """torch's checks of the memory of a numpy array it reads (torch.tensor, as_tensor and
    from_numpy alike), made before those of its dtype."""
    if arr.itemsize and any(st % arr.itemsize for st in arr.strides):
        raise ValueError("given numpy array strides not a multiple of the element byte size. "
                         "Copy the numpy array to reallocate the memory.")
    if any(st < 0 for st in arr.strides):
        raise ValueError(_NEGATIVE_STRIDES)
    if not arr.dtype.isnative:
        raise ValueError(_BYTE_ORDER)


_NUMPY_NOT_WRITABLE = (
    "The given NumPy array is not writable, and PyTorch does not support non-writable tensors. "
    "This means writing to this tensor will result in undefined behavior. You may want to copy "
    "the array to protect its data or make it writable before converting it to a tensor. This "
    "type of warning will be suppressed for the rest of this program.")
_NOT_WRITABLE = (
    "The given buffer is not writable, and PyTorch does not support non-writable tensors. This "
    "means you can write to the underlying (supposedly non-writable) buffer using the tensor. "
    "You may want to copy the buffer to protect its data or make it writable before "
    "converting it to a tensor. This type of warning will be suppressed for the rest of this "
    "program.")


@parsed("frombuffer")
def frombuffer(buffer, *, dtype=None, count=-1, offset=0, requires_grad=False):
    """A 1-d tensor over the bytes of an object with the buffer protocol (sharing its memory:
    writes through either show in the other), `count` elements of `dtype` from byte
    `offset` (count -1: all that follow), with torch's checks.  A read-only buffer gives
    torch's warning (once) and a tensor that in-place writes refuse (torch writes into it:
    docs/semantics.md)."""
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    if dtype is None:   # (required: torch's parser's message)
        raise TypeError('frombuffer() missing 1 required positional arguments: "dtype"')
    count = _int_arg(count, "frombuffer", "count", None)
    offset = _int_arg(offset, "frombuffer", "offset", None)
    _bool_arg(requires_grad, "frombuffer", "requires_grad", None)
    try:
        view = memoryview(buffer)
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    length, elsize = view.nbytes, dtype.itemsize
    if length <= 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({length} bytes) minus 1")
    if count <= 0 and (length - offset) % elsize:
        raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} "
                         f"bytes) must be a multiple of element size ({elsize})")
    if count < 0:
        count = (length - offset) // elsize
    elif offset + count * elsize > length:
        raise ValueError(f"requested buffer length ({count} * {elsize} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({length} bytes)")
    if view.readonly:
        errors.warn_once(_NOT_WRITABLE)
    raw = view if view.ndim == 1 and view.format == "B" else view.cast("B")
    return _leaf(np.frombuffer(raw, dtype.np, count, offset), dtype, requires_grad)
