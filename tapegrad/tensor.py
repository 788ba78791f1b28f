"""The Tensor front end: values, flags and recording onto the tape.

A Tensor holds its value in `_v`: a Python float for one-element float tensors (the scalar
fast path, `_fastpath.py`), otherwise a numpy array of its dtype.  A tensor that requires grad
either is a leaf (`_tape` None) or names the tape entry that produced it (`_tape`, `_node`).
There is no Python object graph: `grad_fn` objects are views made on demand from the tape.

The scalar fast path computes float32 scalars in double precision; values are rounded to
float32 whenever they leave the tensor (item(), tolist(), numpy(), repr) and when stored in an
array, so results agree with torch to float32 rounding.

The class is defined here with the methods that need only the modules below it; the modules
above it that record ops (`inplace.py`, `tensor_methods.py`, `autograd`) add their methods with
the `tensor_methods` class decorator, so imports flow one way (docs/design.md, module layout).
"""
import copy
import math
import warnings
import weakref

import numpy as np

from . import dtypes as D, errors, layouts, _fastpath
from .aligned import storage_error
from ._format import format_tensor
from .devices import CPU
from .errors import _C_TYPE
from .fpstate import F32_MAX as _F32_MAX, quiet
from .graph import output_nr, shown_node
from .steptrace import OPEN as TRACING, TRACE
from .grad_mode import INFERENCE_MARKING, LEVELS, TRANSFORMS
from .tape import (check_rebased_piece, DUAL, inference_as, INFERENCE_MADE, INFERENCE_TENSOR,
                   NO_GRAD_VIEWS_MADE, PENDING_VIEW, rebased_view_without_fn,
                   regenerate_pending_view as _regenerate_pending_view, settle_retained_of,
                   share_storage, SHARED_ARRAYS, STATE, version_counter, WITHOUT_GRAD)
from .tracing import _bake


class Size(tuple):
    """`tapegrad.Size`, a tuple that prints like torch.Size."""
    __module__ = "tapegrad"

    def __new__(cls, sizes=()):
        # (as torch's THPSize_pynew: each item an int or what __index__ makes one, a bool or
        # an integer tensor; a float refused; tapegrad's own sizes skip this: _size)
        items = []
        for i, v in enumerate(sizes):
            try:
                v = v if type(v) is int else v.__index__()
            except (AttributeError, TypeError):
                raise TypeError(f"tapegrad.Size() takes an iterable of 'int' (item {i} is "
                                f"'{errors.type_name(v)}')") from None
            items.append(v)
        return tuple.__new__(cls, items)

    def __repr__(self):
        if any(not -(1 << 63) <= s < 1 << 63 for s in self):   # (torch's, as it prints)
            raise ValueError("Overflow when unpacking long long")
        return "tapegrad.Size([" + ", ".join(str(int(s)) for s in self) + "])"

    __str__ = __repr__

    def numel(self):
        return int(math.prod(self))

    # tuple arithmetic and slicing give a Size, as torch's (also `tuple + Size`: __radd__
    # of a subclass runs first)
    def __add__(self, other):
        if not isinstance(other, tuple):
            raise TypeError(f"can only concatenate tuple (not {type(other).__name__}) to "
                            f"tapegrad.Size")
        return _size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return _size(other + tuple(self))

    def __mul__(self, k):
        return _size(tuple.__mul__(self, k))

    __rmul__ = __mul__

    def __getitem__(self, key):
        got = tuple.__getitem__(self, key)
        return _size(got) if isinstance(key, slice) else got


def _size(shape):
    """A Size of ints known good (a tensor's shape): no check of its items."""
    return _TUPLE_NEW(Size, shape)


_TUPLE_NEW = tuple.__new__
_SIZE_SEQUENCES = (tuple, list, Size)   # (a size given as one argument: _plain_size)


def _is_int_arg(v, first):
    """Whether torch's parser takes v as an element of a tuple of ints: an int, a numpy
    integer or an integer tensor; a bool only after the first (where it decides whether the
    ints are spread as varargs)."""
    if isinstance(v, bool):
        return not first
    if isinstance(v, (int, np.integer)):
        return True
    # (not a bool tensor: torch's int64 parameters check isIntegralType without bool)
    return (isinstance(v, Tensor) and not v._shape and not v._dtype.is_floating_point
            and not v._dtype.is_complex and v._dtype is not D.bool_)


def _is_int_item(v, first):
    """Whether torch's parser takes v as an element of a tuple of ints (or a SymInt): one of
    _is_int_arg's, or a one-element integer tensor of any shape (tensor([1]), tensor([[1]]):
    its is_int_or_symint checks numel() == 1)."""
    return _is_int_arg(v, first) or (isinstance(v, Tensor) and v.numel() == 1 and
                                     not v._dtype.is_floating_point and
                                     not v._dtype.is_complex and v._dtype is not D.bool_)


def _is_dim_item(v, first):
    """Whether torch's parser takes v as an element of an int[] of dims: one of _is_int_item's,
    or a one-element bool tensor, read as the int it holds (x.sum(tensor(True)) sums dim 1;
    its SymInt[] sizes refuse one as they convert it, _int_list)."""
    return _is_int_item(v, first) or (isinstance(v, Tensor) and v._dtype is D.bool_ and
                                      v.numel() == 1)


def _bool_size(v):
    """torch's error for a one-element bool tensor among sizes: its parser takes one as an
    element of an int list (is_int_or_symint), and the SymInt conversion refuses it."""
    if isinstance(v, Tensor) and v._dtype is D.bool_ and v.numel() == 1:
        raise RuntimeError("Expected scalar.isIntegral( false) to be true, but got false.  "
                           "(Could this error message be improved?  If so, please report an "
                           "enhancement request to PyTorch.)")


def _int_list(args, fn, name, pos=1, bare=True, ok=_is_int_item):
    """An `int[]` argument (sizes, dims; `fn`'s `name` at `pos`) as torch's parser binds it:
    one int (unless not `bare`: an argument after the first), one sequence, or ints spread
    as positional arguments, with its messages for what it refuses (`ok` tells an element it
    takes)."""
    # (the common case first: Python ints only, nothing to convert or refuse)
    items = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    for v in items:
        if v.__class__ is not int:
            break
    else:
        if items is not args or bare or len(args) != 1:
            return tuple(items)
    if len(args) == 1 and not isinstance(args[0], (tuple, list)):
        if not bare or not ok(args[0], True):
            if bare:
                _bool_size(args[0])
            raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be tuple of "
                            f"ints, not {errors.type_name(args[0])}")
        return (int(args[0]),)
    spread = len(args) != 1
    items = args if spread else args[0]
    for k, v in enumerate(items):
        if ok(v, k == 0):
            continue
        _bool_size(v)
        if k:
            raise TypeError(f"{fn}(): argument '{name}' failed to unpack the object at pos "
                            f"{k + 1} with error \"type must be tuple of ints,but got "
                            f"{errors.type_name(v)}\"")
        if spread:
            raise TypeError(f"{fn}() takes 1 positional argument but {len(args)} were given")
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be tuple of ints, "
                        f"but found element of type {errors.type_name(v)} at pos 0")
    return tuple(int(v) for v in items)


def _plain_size(args):
    """A size given as Python ints, spread or as one tuple / list / Size of them, none
    negative: as a tuple (the factories' fast forms); None for any other (then _size_args
    binds and checks it)."""
    if not args:
        return None
    items = args[0] if len(args) == 1 and args[0].__class__ in _SIZE_SEQUENCES else args
    for v in items:
        if v.__class__ is not int or v < 0:
            return None
    return items if items.__class__ is tuple else tuple(items)


def _size_args(size, fn=None):
    """A size given as ints or one sequence of ints; named `fn` (a creation function),
    torch's argument checks and negative-size errors."""
    if fn is None:
        if len(size) == 1 and isinstance(size[0], (tuple, list)):
            size = tuple(size[0])
        return tuple(map(int, size))
    size = _int_list(size, fn, "size")
    for v in size:
        if v < 0:
            if fn == "zeros":
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(errors.NEGATIVE_DIM.format(
                d=v, shape=", ".join(map(str, size))))
    return size


# id(tensor) -> (weak reference to it, dtype or None): the leaves whose grad_dtype was set.
# Tensors have fixed slots (and torch's default follows the tensor's dtype), so the rare set
# value lives here; the engine looks only while the table is not empty (grad_dtype_of).
GRAD_DTYPES = {}


def _forget_grad_dtype(ref, key):
    entry = GRAD_DTYPES.get(key)
    if entry is not None and entry[0] is ref:
        del GRAD_DTYPES[key]


def _grad_dtype_set(t, default):
    """t's grad_dtype as set (a dtype or None), else `default`."""
    entry = GRAD_DTYPES.get(id(t))
    if entry is None or entry[0]() is not t:
        return default
    return entry[1]


def grad_dtype_of(t):
    """The dtype of the gradient the engine hands to leaf t (its `.grad`, autograd.grad's
    result): its grad_dtype where one was set (the gradient computed in t's dtype, then cast
    to it, as torch's engine), else its dtype (grad_dtype None: the gradient as computed)."""
    if GRAD_DTYPES:
        want = _grad_dtype_set(t, None)
        if want is not None:
            return want
    return t._dtype


class _TensorMeta(type):
    """The metaclass of Tensor (its `__call__`: creation.py)."""


RETAINS, NODIFF = 1, 2    # Tensor._flags bits (and tape.NO_GRAD_VIEW)
_NO_NODE = NODIFF | DUAL  # the flags of a recorded tensor shown as a leaf without grad_fn


class Tensor(metaclass=_TensorMeta):
    """A multi-dimensional array that records the operations made on it for autograd, as
    `torch.Tensor`: `requires_grad`, `grad`, `grad_fn`, `is_leaf`, `backward()`."""
    __module__ = "tapegrad"
    __slots__ = ("_v", "_dtype", "_shape", "_recorded", "_tape", "_node", "_grad", "_flags",
                 "_lserial", "_lnode", "_ver", "__weakref__",
                 "_hooks")   # a leaf's hooks.Hooks (unset: none); owned by the leaf, so a
    # hook that refers to the leaf's own graph makes a cycle the GC collects
    # _recorded: recorded by the ops that use it (requires grad, or traced while recording a tape);
    # _flags (unset = 0): RETAINS (retain_grad() was called), NODIFF (traced but not
    # differentiable: comparisons, detach() while recording).  One slot for rare marks keeps
    # a Tensor at 112 bytes.
    __array_priority__ = 1000  # numpy defers `ndarray * Tensor` to Tensor.__rmul__

    # ---- construction helpers --------------------------------------------------------------
    @staticmethod
    def _wrap(arr, dt, requires_grad=False):
        """A plain tensor around ndarray `arr` (already of dtype dt)."""
        t = _new()
        if arr.size == 1 and dt.is_floating_point:
            t._v = arr.item()   # (a Python float, as float(arr.reshape(-1)[0]); ~0.2 us less)
        else:
            t._v = arr
        t._dtype = dt
        t._shape = arr.shape
        t._tape = None
        t._recorded = requires_grad
        if requires_grad:
            t._lserial = 0
            t._grad = None   # (set: reading a slot never set raises inside getattr, ~0.6 us)
            stack = getattr(LEVELS, "stack", None)
            if stack:   # (a leaf made inside a transformed function: see grad_mode.LEVELS)
                stack[-1].add(id(t))
        return t

    # ---- value access ----------------------------------------------------------------------
    def _array(self):
        """The value as an ndarray of the tensor's dtype (a view when array-backed)."""
        v = self._v
        if type(v) is float:   # (np.full's Python layer doubles the cost of this)
            arr = np.empty(self._shape, self._dtype.np)
            if -_F32_MAX <= v <= _F32_MAX or self._dtype is not D.float32:
                arr.fill(v)
            else:   # (a float32 value held in double past float32's range: inf, silently)
                quiet(arr.fill, v)
            return arr
        return v

    def _materialize(self):
        """Switch a float-backed tensor to array storage so it can share memory (.data, numpy);
        the tape entry holding a one-element value then follows that memory (share_storage)."""
        v = self._v
        if type(v) is float:
            # (a float32 value held in double past float32's range: inf, silently, as item())
            self._v = quiet(np.full, self._shape, v, self._dtype.np)
            SHARED_ARRAYS[0] += 1
            share_storage(self)
            self._lserial = 0   # (its next use enters it again, shared: Tape.leaf_node)
        elif v.size == 1 and self._tape is not None:
            share_storage(self)
        return self._v

    # ---- attributes ------------------------------------------------------------------------
    @property
    def shape(self):
        return _TUPLE_NEW(Size, self._shape)   # (_size, inline: x.shape is hot)

    def size(self, dim=None):
        if dim is None:
            return _TUPLE_NEW(Size, self._shape)
        if type(dim) is not int:
            # as torch's parser: np.int64 and a 0-d integer tensor are ints, a bool is not
            index = getattr(type(dim), "__index__", None)
            if index is None or isinstance(dim, bool) or isinstance(dim, Tensor) and (
                    dim._shape or dim._dtype.is_floating_point or dim._dtype is D.bool_):
                raise TypeError(f"size(): argument 'dim' (position 1) must be int, not "
                                f"{type(dim).__name__}")
            dim = index(dim)
        return self._shape[_layout_dim(dim, len(self._shape))]

    def stride(self, dim=None):
        """The step in elements between neighbours along each dimension (a tuple), or along
        `dim`: the array's own layout (a tensor holding its one value as a number is
        contiguous)."""
        v = self._v
        if type(v) is float or v.size == 0 and not any(v.strides):
            # (torch's row-major strides; numpy's of an empty array it made are all 0:
            # torch.empty(0, 3).stride() is (3, 1); an empty view keeps its base's, as torch's)
            shape = self._shape
            strides = tuple(math.prod(max(s, 1) for s in shape[d + 1:])
                            for d in range(len(shape)))
        else:
            strides = tuple(s // v.itemsize for s in v.strides)
        if dim is None:
            return strides
        if dim.__class__ is not int:   # (np.int64, a 0-d integer tensor: ints to torch)
            dim = _int_arg(dim, "stride", "dim", 1).__index__()
        return strides[_layout_dim(dim, len(self._shape))]

    def is_contiguous(self, memory_format=None):
        """Whether the elements lie in row-major order with no gaps (dimensions of size 1
        and empty tensors never break it, as in torch), or in `memory_format`'s order."""
        v = self._v
        if memory_format is not None:
            layouts.check("is_contiguous", None, None, memory_format)
            if layouts.channels(memory_format):
                strides = [s // v.itemsize for s in v.strides] if type(v) is not float else []
                return layouts.channels_last_contiguous(self._shape, strides, memory_format)
        return type(v) is float or v.flags.c_contiguous

    def dim(self):
        return len(self._shape)

    ndim = property(dim)

    def numel(self):
        return int(math.prod(self._shape))

    nelement = numel

    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self):
        return CPU

    def is_floating_point(self):
        return self._dtype.is_floating_point

    def is_signed(self):
        return self._dtype.is_signed

    @property
    def requires_grad(self):
        return self._recorded and not getattr(self, "_flags", 0) & NODIFF

    @requires_grad.setter
    def requires_grad(self, flag):
        if type(flag) is not bool:
            raise RuntimeError("requires_grad must be a bool")
        if self._tape is not None:   # torch refuses even a True that changes nothing here
            raise RuntimeError(errors.NON_LEAF_FLAG_ON if flag else errors.NON_LEAF_FLAG)
        self._set_requires_grad(flag, errors.NOT_FLOAT_SET)

    def requires_grad_(self, requires_grad=True):
        if type(requires_grad) is not bool:
            raise TypeError(f"requires_grad_(): argument 'requires_grad' (position 1) must be "
                            f"bool, not {errors.arg_type_name(requires_grad)}")
        if TRANSFORMS.depth:   # (in a function under torch.func's transforms: torch refuses)
            raise RuntimeError(errors.REQUIRES_GRAD_IN_TRANSFORM)
        self._set_requires_grad(requires_grad, errors.NOT_FLOAT_SET_)
        return self

    def _requires_grad(self, flag=True):
        """requires_grad_ for tapegrad's own leaves (a transform's, autograd.grad's, a factory's
        requires_grad=), which torch makes without it: allowed under transforms too."""
        self._set_requires_grad(flag, errors.NOT_FLOAT_SET_)
        return self

    def _set_requires_grad(self, flag, msg):
        if self._tape is not None:
            if flag:
                return
            raise RuntimeError(errors.NON_LEAF_FLAG)
        if flag and not self._dtype.is_floating_point:
            raise RuntimeError(msg)
        if flag and getattr(self, "_flags", 0) & INFERENCE_TENSOR and not STATE.inference:
            raise RuntimeError(errors.INFERENCE_REQUIRES_GRAD)
        self._recorded = flag
        if flag:
            self._lserial = 0
            if getattr(self, "_grad", None) is None:   # (as _wrap's; a .grad it has stays)
                self._grad = None
            stack = getattr(LEVELS, "stack", None)
            if stack:   # (see grad_mode.LEVELS)
                stack[-1].add(id(self))

    @property
    def volatile(self):
        """Removed from torch (always False, with its warning)."""
        warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning,
                      stacklevel=2)
        return False

    @volatile.setter
    def volatile(self, value):
        warnings.warn(errors.VOLATILE, UserWarning, stacklevel=2)

    @property
    def _version(self):
        """How many in-place changes this tensor (or a view sharing its memory) has had."""
        if getattr(self, "_flags", 0) & INFERENCE_TENSOR:
            raise RuntimeError(errors.INFERENCE_VERSION)
        return version_counter(self)[0] if hasattr(self, "_ver") else 0

    def is_inference(self):
        """Whether this is an inference tensor: made in an inference_mode block (or a view of
        one), which torch refuses to save for backward or change in place outside one."""
        return getattr(self, "_flags", 0) & INFERENCE_TENSOR != 0

    @property
    def is_leaf(self):
        if self._tape is None:
            if not self._recorded:
                return True
            if WITHOUT_GRAD:   # (a view made without grad whose memory changed: torch's
                _refuse_rebased_view_without_fn(self)   # grad_fn raises)
            # (a view of data whose base took history: torch's grad_fn made by this read)
            if not (NO_GRAD_VIEWS_MADE[0] and getattr(self, "_flags", 0) & PENDING_VIEW and
                    _regenerate_pending_view(self) >= 0):
                return True
        if getattr(self, "_flags", 0) & _NO_NODE != 0:
            return True
        if WITHOUT_GRAD and id(self) in WITHOUT_GRAD:   # (torch asks its grad_fn, which
            check_rebased_piece(self)                   # may not be made again: grad_fn's)
        if self._tape.retain_moves:   # (torch's grad_fn made again by this read)
            settle_retained_of(self)
        return False

    @property
    def grad_fn(self):
        tape = self._tape
        if tape is None and NO_GRAD_VIEWS_MADE[0] and self._recorded and \
                getattr(self, "_flags", 0) & PENDING_VIEW:
            _regenerate_pending_view(self)   # (torch's grad_fn made by this read)
            tape = self._tape
        if tape is None or getattr(self, "_flags", 0) & _NO_NODE:
            if tape is None and WITHOUT_GRAD and self._recorded:
                _refuse_rebased_view_without_fn(self)
            return None
        if WITHOUT_GRAD and id(self) in WITHOUT_GRAD:   # (a piece of unbind / split: its
            check_rebased_piece(self)                   # grad_fn may not be made again)
        if tape.retain_moves:   # (torch's grad_fn made again by this read)
            settle_retained_of(self)
        fn = shown_node(tape, self._node, version_counter(self)[0] if hasattr(self, "_ver")
                        else 0, self)
        likes = tape.likes   # for grad_fn hooks (tapegrad.hooks): the tape keeps no dtype
        if likes is None:
            likes = tape.likes = {}
        likes[fn._node] = (self._dtype, self._shape)
        return fn

    @property
    def grad(self):
        # (read once per parameter per training step: the plain count of open traces first,
        # ~110 -> ~80 ns; getattr, not a try: a slot never set raises inside either way, and
        # the try's handler doubled that case's ~0.7 us)
        if TRACING[0] and TRACE.current is not None:   # tracing for tapegrad.compile:
            TRACE.current.grad_access(self)              # refused (trainstep)
        g = getattr(self, "_grad", None)
        # (torch warns only when there is none: a .grad assigned to a non-leaf reads silently)
        if g is None and self._tape is not None and not getattr(self, "_flags", 0) & RETAINS:
            warnings.warn(errors.NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return g

    @grad.setter
    def grad(self, value):
        if TRACING[0] and TRACE.current is not None:
            TRACE.current.grad_access(self)
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value is self:
                raise RuntimeError("can't assign Variable as its own grad")
            if value._shape != self._shape:
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value._shape)}' to a tensor of size "
                                   f"'{list(self._shape)}'. Please ensure that the gradient "
                                   f"and the tensor are the same size")
            want = self._dtype if not GRAD_DTYPES else _grad_dtype_set(self, self._dtype)
            if want is not None and value._dtype is not want:
                raise RuntimeError(errors.GRAD_DTYPE.format(
                    got=_C_TYPE[value._dtype.name], want=want.legacy))
        self._grad = value

    @property
    def grad_dtype(self):
        """The dtype of gradients this leaf accepts (torch's): the engine casts incoming
        gradients to it; None: any (`.grad` may be assigned any dtype).  By default the
        tensor's dtype (following `.data` changes)."""
        if not self.is_leaf:
            raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
        return _grad_dtype_set(self, self._dtype)

    @grad_dtype.setter
    def grad_dtype(self, value):
        if value is not None and not isinstance(value, D.dtype):
            raise RuntimeError(f"grad_dtype must be a torch.dtype or None, but got "
                               f"{type(value).__name__}")
        # (torch reads .grad first: the non-leaf warning, and a gradient held of another
        # dtype refused)
        g = getattr(self, "_grad", None)
        if g is None and self._tape is not None and not getattr(self, "_flags", 0) & RETAINS:
            warnings.warn(errors.NON_LEAF_GRAD, UserWarning, stacklevel=2)
        if g is not None and value is not None and g._dtype is not value:
            raise RuntimeError(f"Cannot set grad_dtype to '{value.legacy}' because there is "
                               f"already a gradient with dtype '{_C_TYPE[g._dtype.name]}'. "
                               f"Please clear the gradient (.grad = None) before changing "
                               f"grad_dtype, or ensure the new grad_dtype matches the existing "
                               f"gradient's dtype.")
        if not self.is_leaf:
            raise RuntimeError("grad_dtype can only be set on leaf tensors.")
        key = id(self)
        GRAD_DTYPES[key] = (weakref.ref(self, lambda ref, key=key: _forget_grad_dtype(ref, key)),
                            value)

    @grad.deleter
    def grad(self):
        if TRACING[0] and TRACE.current is not None:
            TRACE.current.grad_access(self)
        self._grad = None

    @property
    def retains_grad(self):
        return self._tape is not None and getattr(self, "_flags", 0) & RETAINS != 0

    @property
    def data(self):
        if self._recorded:   # while recording, what is done with it is not on the tape
            _bake(self, "guard_value")
        return Tensor._share(self, self._materialize())

    @data.setter
    def data(self, value):
        self._check_data(value)
        if value._recorded:   # (while recording: the value is a constant of the tape)
            _bake(value, "guard_value")
        self._v = value._materialize() if type(value._v) is not float else value._v
        self._dtype = value._dtype
        self._shape = value._shape
        self._lserial = 0  # a later use records the new value (tape.leaf_node)

    def _check_data(self, value):
        """The errors of `self.data = value`, raised before anything changes."""
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__}")
        if self.requires_grad and not value._dtype.is_floating_point:
            raise RuntimeError("data set to a tensor that requires gradients must be floating "
                               "point or complex dtype")

    @staticmethod
    def _share(src, arr):
        t = _new()
        t._v = arr
        t._dtype = src._dtype
        t._shape = src._shape
        t._tape = None
        t._recorded = False
        inference_as(t, src)
        return t

    def detach_(self):
        if self._is_view():
            raise RuntimeError(errors.DETACH_VIEW)
        if self._tape is not None:
            self._tape = None
        self._recorded = False
        return self

    # ---- conversion ------------------------------------------------------------------------
    def item(self):
        v = self._v
        if type(v) is not float:   # (a number is one element: a training loop's loss.item())
            n = self.numel()
            if n != 1:
                raise RuntimeError(errors.ITEM_MANY.format(n))
        if self._recorded and (STATE.tape.recording or STATE.parked.recording):
            _bake(self, "guard_value")   # (traced: tracing._tracing's test, inline)
        if type(v) is float:
            if self._dtype is not D.float32:
                return v
            # (a float32 value held in double past float32's range: inf, silently, as torch)
            return float(np.float32(v)) if -_F32_MAX <= v <= _F32_MAX else \
                float(quiet(np.float32, v))
        return v.reshape(-1)[0].item()

    def __float__(self):
        # (torch warns before its size check, so a failing conversion spends the warning)
        if self._recorded and STATE.enabled and self.requires_grad:
            errors.warn_once(errors.SCALAR_OF_GRAD)
        if self.numel() != 1:
            raise ValueError(errors.ONE_ELEMENT)
        return float(self.item())

    def __int__(self):
        if self.numel() != 1:
            raise ValueError(errors.ONE_ELEMENT)
        return int(self.item())

    def __index__(self):
        if self._dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        n = self.numel()
        if n != 1:
            raise RuntimeError("Boolean value of Tensor with no values is ambiguous" if n == 0
                               else "Boolean value of Tensor with more than one value is "
                               "ambiguous")
        v = self._array().reshape(-1)[0]
        if self._recorded:
            _bake(self, "guard_bool", bool(v))
        return bool(v)

    def tolist(self, *args):
        if args:   # torch's is a C method
            raise TypeError(f"TensorBase.tolist() takes no arguments ({len(args)} given)")
        if self._recorded:
            _bake(self, "guard_value")
        return self._array().tolist()

    def numpy(self, *, force=False):
        if self._recorded:
            # (torch refuses a tensor that requires grad only while grad mode is on: a custom
            # Function's forward, which runs under no_grad, may call x.numpy())
            if not force and STATE.enabled and not getattr(self, "_flags", 0) & NODIFF:
                raise RuntimeError(errors.NUMPY_GRAD)
            # a traced value (a mask, detach() while recording) leaving the tape as an array:
            # a replay re-checks it (BranchChanged when it changed) instead of reusing it
            _bake(self, "guard_value")
        return self._materialize()

    def __array__(self, dtype=None, copy=None):
        if self._recorded:
            # torch's __array__ is numpy(): np.asarray of a tensor that requires grad raises
            if STATE.enabled and not getattr(self, "_flags", 0) & NODIFF:
                raise RuntimeError(errors.NUMPY_GRAD)
            _bake(self, "guard_value")   # (as numpy(): what numpy computes is not replayed)
        a = self._array()
        return a if dtype is None else a.astype(dtype)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        """A numpy ufunc's result on tensors (np.sqrt(t), np.maximum(t, 2)) is a tensor without
        history, as torch's: its dtype from numpy's, a bool result as uint8 (torch's legacy
        wrap)."""
        array = np.asarray(array)
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        return Tensor._wrap(array, D.from_numpy_dtype(array.dtype))

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))   # (torch's: the pieces show UnbindBackward0)

    def __hash__(self):
        return id(self)

    def __contains__(self, element):
        if isinstance(element, (Tensor, bool, int, float)):   # (torch's: Tensor or Number)
            return bool((element == self).any().item())
        raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you "
                           f"passed in a {type(element)}.")

    # ---- pickling and copying ----------------------------------------------------------------
    # torch's: a new leaf holding the values, requires_grad kept, no .grad and no place on a
    # tape (copied slot by slot, a copy kept this tensor's leaf node: its gradient came here).
    # copy.copy shares the memory, as torch's (the same array); pickle writes the values.
    # While recording, a copy is a constant of the tape: the traced value it holds becomes a
    # guard (a replay where it differs raises BranchChanged), as `.numpy()`.
    def __reduce_ex__(self, protocol):
        if self._recorded:
            _bake(self, "guard_value")
        return _rebuild, (type(self), self._v, self._dtype, self._shape, self.requires_grad)

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError(errors.DEEPCOPY_NON_LEAF)
        if self._recorded:
            _bake(self, "guard_value")
        new = memo.get(id(self))
        if new is None:
            v = self._v
            new = memo[id(self)] = _rebuild(type(self), v if type(v) is float else
                                            copy.deepcopy(v, memo), self._dtype, self._shape,
                                            self.requires_grad)
            grad = getattr(self, "_grad", None)
            if grad is not None:
                new._grad = copy.deepcopy(grad, memo)
        return new

    def __repr__(self):
        suffixes = []
        try:
            fn = self.grad_fn
            name = None if fn is None else type(fn).__name__
        except RuntimeError:   # (a piece of unbind whose base changed: torch's "Invalid")
            name = "Invalid"
        if name is not None:
            suffixes.append(f"grad_fn=<{name}>")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        return format_tensor(self._array(), self._dtype.name, suffixes=suffixes)

    __str__ = __repr__

    def __format__(self, spec):
        # as torch: a 0-d tensor formats as its Python number (f"{t}" too), others as repr
        if self._shape == () and type(self) is Tensor:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string passed to {type(self).__name__}"
                            f".__format__")
        return repr(self)

    # ---- arithmetic: scalar fast path from _fastpath, general path in ndops.py -------------
    __add__ = _fastpath.op_add
    __radd__ = _fastpath.op_radd
    __sub__ = _fastpath.op_sub
    __rsub__ = _fastpath.op_rsub
    __mul__ = _fastpath.op_mul
    __rmul__ = _fastpath.op_rmul
    __truediv__ = _fastpath.op_div
    __neg__ = _fastpath.op_neg
    neg = negative = _fastpath.op_neg
    exp = _fastpath.op_exp
    log = _fastpath.op_log
    sqrt = _fastpath.op_sqrt
    sin = _fastpath.op_sin
    cos = _fastpath.op_cos
    tanh = _fastpath.op_tanh
    sigmoid = _fastpath.op_sigmoid
    relu = _fastpath.op_relu
    abs = __abs__ = _fastpath.op_abs
    sign = _fastpath.op_sign
    reciprocal = _fastpath.op_reciprocal

    def __pos__(self):
        if self._dtype is D.bool_:
            raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
        return self

    def __rtruediv__(self, other):
        if not isinstance(other, OPERAND_TYPES) and not isinstance(other, np.ndarray):
            return NotImplemented
        # torch records `2 / x` as reciprocal then multiply (`a / x` for an ndarray a: the
        # product is numpy's then, as torch's)
        return self.reciprocal() * other

    def __pow__(self, exponent):
        te = type(exponent)
        if te is not float and te is not int:   # (a Python number, the usual exponent,
            if isinstance(exponent, np.generic):   # skips these tests)
                exponent = D.py_number(exponent)
                te = type(exponent)
            if not isinstance(exponent, (int, float)) or isinstance(exponent, bool):
                if self._dtype is D.bool_ and isinstance(exponent, Tensor) and \
                        exponent._dtype is D.bool_:
                    raise NotImplementedError('"pow" not implemented for \'Bool\'')
                return _fastpath.op_pow(self, exponent)
        if te is int:
            D.check_int_scalar(exponent)
            if not self._dtype.is_floating_point and not self._recorded:
                # (bool ** int promotes to int64, as bool + int does)
                return _int_pow(self.long() if self._dtype is D.bool_ else self, exponent)
        return _fastpath.op_pow_scalar(self, float(exponent))

    def pow(self, exponent):
        r = self.__pow__(exponent)
        if r is NotImplemented:
            raise errors.tensor_or_number("pow", exponent, "exponent")
        return r

    def __rpow__(self, base):
        if self._dtype is D.bool_ and type(base) is bool:
            # (pow(Scalar, Tensor) of two bools: torch's kernel has no bool case)
            raise NotImplementedError('"pow" not implemented for \'Bool\'')
        return _fastpath.op_rpow(self, base)

    def square(self):
        return self.pow(2)

    # (add, sub, subtract with torch's alpha, mul, multiply, div, divide, true_divide:
    # tapegrad/arith.py)

    @property
    def output_nr(self):
        """Which output of its grad_fn this tensor is (split's pieces: their position;
        slogdet's logabsdet: 1)."""
        tape = self._tape
        return 0 if tape is None else output_nr(tape, self._node)

    # ---- two-argument elementwise functions -----------------------------------------------
    def atan2(self, other):
        """Elementwise atan2(self, other), the angle of (other, self) (Atan2Backward0)."""
        _tensor_operand("atan2", other, 1)
        return _fastpath.op_atan2(self, other)

    def atan2_(self, other):
        """In-place atan2: recorded as Atan2Backward0 on a tensor that needs history."""
        _tensor_operand("atan2_", other, 1)
        errors.check_promotion(self, other, true_divide=True)   # (the output's, first)
        return self._inplace(np.arctan2, other, Tensor.atan2)

    arctan2, arctan2_ = atan2, atan2_

    def hypot(self, other):
        """Elementwise sqrt(self**2 + other**2) without overflow (HypotBackward0)."""
        _tensor_operand("hypot", other, 1)
        _hypot_dtype(self, other)
        return _fastpath.op_hypot(self, other)

    def hypot_(self, other):
        """In-place hypot: recorded as HypotBackward0 on a tensor that needs history."""
        _tensor_operand("hypot_", other, 1)
        errors.check_promotion(self, other)   # (the output's shape and dtype first)
        _hypot_dtype(self, other)
        return self._inplace(np.hypot, other, Tensor.hypot)


# ---- shape helpers ------------------------------------------------------------------------------
def one_value(t):
    """float(t._array().reshape(-1)[0]) for a one-element tensor (a custom Function's output
    or gradient, a gradient given to backward), without making the array of a float32 or
    float64 number (its rounding, as item's)."""
    v = t._v
    if type(v) is float:
        if t._dtype is D.float64:
            return v
        if t._dtype is D.float32 and -_F32_MAX <= v <= _F32_MAX:
            return float(np.float32(v))
    return float(t._array().reshape(-1)[0])


def _contiguous(a):
    """Row-major `a` (a copy only if needed); unlike np.ascontiguousarray it keeps 0-d 0-d."""
    if a.flags.c_contiguous:
        return a
    try:
        return np.array(a, order="C")
    except MemoryError:   # (a copy of an expand too large to hold: torch's allocator's words)
        raise storage_error(a.shape, a.itemsize) from None


def _row_major(t):
    """t (an op's fresh result: nothing but its tape holds its array yet) with its value in
    row-major memory: the layout of torch's kernels that allocate a contiguous output
    (softmax, layer_norm, batch_norm) whatever the input's, which a later `view` depends on.
    The tape keeps what it saved, an equal array."""
    v = t._v
    if type(v) is np.ndarray and not v.flags.c_contiguous:
        t._v = np.array(v, order="C")
    return t


def _int_arg(v, fn, name, pos=1, ok=_is_int_arg):
    """v, an int argument (`fn`'s `name` at `pos`, None for a keyword: for torch's message if
    it is not one, as a bool or a float is not); `ok=_is_int_item` for a SymInt parameter,
    which also takes a one-element integer tensor of any shape (topk's k, select's index)."""
    # (a 0-d float tensor has __index__ too, which torch's parser refuses as an int)
    if v.__class__ is not int and (isinstance(v, bool) or not hasattr(v, "__index__") or
                                   isinstance(v, Tensor) and not ok(v, True)):
        if ok is _is_int_item and _is_dim_item(v, True):   # (a SymInt's bool tensor)
            raise RuntimeError('scalar.isIntegral( false) INTERNAL ASSERT FAILED at '
                               '"/__w/pytorch/pytorch/torch/csrc/utils/pybind.cpp":27, please '
                               'report a bug to PyTorch. ')
        at = f" (position {pos})" if pos else ""
        raise TypeError((f"{fn}(): argument '{name}'{at} " if fn else f"argument '{name}' ")
                        + f"must be int, not {errors.type_name(v)}")
    # (its parser unpacks an int as a long long)
    if v.__class__ is int and not -0x8000000000000000 <= v <= 0x7fffffffffffffff:
        raise ValueError("Overflow when unpacking long long")
    return v


def _bool_arg(v, fn, name, pos=1):
    """v, a bool argument (`fn`'s `name` at `pos`, None for a keyword): torch's parser takes
    no int, None or numpy bool for one."""
    if v.__class__ is not bool:
        at = f" (position {pos})" if pos else ""
        raise TypeError(f"{fn}(): argument '{name}'{at} must be bool, not "
                        f"{errors.type_name(v)}")
    return v


def _dim(d, nd, fn=None, name="dim", pos=1):
    """d wrapped into [0, nd) (a 0-d tensor takes -1 and 0), refused as torch's parser
    refuses a non-int (named as `fn`'s argument `name` at `pos`)."""
    if d.__class__ is not int:
        # (as the int it stands for: a 0-d integer tensor compared as a tensor, and a set of
        # them found no dim, x.squeeze(tensor(0)) a no-op)
        d = _int_arg(d, fn, name, pos).__index__()
    n = nd if nd > 0 else 1   # (no max() calls: this runs once or twice per op)
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {d})")
    return d % n


def _layout_dim(d, nd):
    """A dimension of size(dim) / stride(dim): a 0-d tensor has none (no wrap-around as
    reductions allow)."""
    if nd == 0:
        raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")
    return _dim(d, nd)


def _infer_shape(shape, numel):
    # (the common cases first, with the same result: a flatten to (-1,), and sizes that are
    # all given and fit; ~0.3 us of a view / reshape less)
    if shape == (-1,):
        return (numel,)
    if shape and min(shape) >= 0 and math.prod(shape) == numel:
        return shape
    given = shape
    inferred = shape.count(-1)
    if inferred > 1 or shape and min(shape) < -1:
        for i, n in enumerate(shape):   # (torch's checks, in the order of the dims)
            if n < -1:
                raise RuntimeError(f"invalid shape dimension {n} at index {i} of shape "
                                   f"[{', '.join(map(str, given))}]")
            if n == -1 and i > shape.index(-1):
                raise RuntimeError("only one dimension can be inferred")
    if inferred:
        known = -math.prod(shape)   # (the product of the others: one of them is -1)
        if known == 0 and numel == 0:
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape "
                               f"[{', '.join(map(str, given))}] because the unspecified "
                               f"dimension size -1 can be any value and is ambiguous")
        if known == 0 or numel % known:
            shape = ()  # not inferable: the message below names the shape as given
        else:
            d = shape.index(-1)
            shape = shape[:d] + (numel // known,) + shape[d + 1:]
    if not shape and given or math.prod(shape) != numel:
        raise RuntimeError(f"shape '[{', '.join(map(str, given))}]' is invalid for input of size {numel}")
    return shape


# what the arithmetic operators take as the other operand (anything else: NotImplemented).
# An ndarray is not one, as in torch: `t + a` is then numpy's (Tensor.__array_wrap__), so
# its dtype is numpy's promotion (float32 + int64 is float64) and a tensor that requires
# grad raises as its numpy() does.
OPERAND_TYPES = (Tensor, bool, int, float, np.generic)


def _rebuild(cls, value, dtype, shape, requires_grad):
    """A pickled or copied tensor (Tensor.__reduce_ex__): value, a float or an array."""
    t = _new() if cls is Tensor else object.__new__(cls)
    t._v, t._dtype, t._shape, t._tape, t._recorded = value, dtype, shape, None, requires_grad
    if requires_grad:
        t._lserial = 0
    return t


# Bare instance creation: type.__call__ without the legacy-constructor metaclass (object.__new__
# costs twice as much here, and this is on the per-op path).
_new = super(_TensorMeta, Tensor).__call__
_fastpath._new = _new
_fastpath.Tensor = Tensor


def _made_in_inference_mode(self, *args, **kwargs):
    """Tensor.__init__ while an inference_mode block is open in some thread: a tensor made in
    this thread's block is an inference tensor (type.__call__ runs it for every tensor made,
    the fast paths' included; out of every block Tensor has no __init__ of its own).  Its
    counter is held in a 1-tuple, so the in-place fast paths leave its changes to
    bump_version, which refuses them outside inference mode."""
    if STATE.inference:
        self._flags = INFERENCE_TENSOR
        self._ver = ([0],)


def _mark_inference_tensors(on):
    if on:
        INFERENCE_MADE[0] = True
        Tensor.__init__ = _made_in_inference_mode
    elif "__init__" in Tensor.__dict__:
        del Tensor.__init__


INFERENCE_MARKING[0] = _mark_inference_tensors


def _int_pow(x, exponent):
    """An integer tensor to a Python int power, as torch: an integer of x's dtype (wrapping
    around), negative exponents refused."""
    if exponent < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    exponent = D.checked(exponent, x._dtype)
    with np.errstate(all="ignore"):
        out = np.power(x._array(), D.as_array(exponent, x._dtype), dtype=x._dtype.np)
    return Tensor._wrap(np.asarray(out, x._dtype.np), x._dtype)


def _tensor_operand(fname, x, pos, name="other"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{errors.type_name(x)}")


def _tensor_elements(xs):
    """torch's TypeError for an element of a tensor-list argument that is no tensor."""
    for k, t in enumerate(xs):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 0, but got "
                            f"{errors.type_name(t)}")


def _hypot_dtype(x, y):
    dt = D.result_type((x._dtype, 2 if x._shape else 1), (y._dtype, 2 if y._shape else 1))
    if not dt.is_floating_point:
        raise NotImplementedError(f'"hypot_cpu" not implemented for \'{dt.legacy}\'')


def _reduce_dims(fname, dim, nd, pos=1):
    """dim (an int or a sequence of ints; argument `pos` of fname) as sorted non-negative
    dims, with torch's errors; () for a 0-d tensor."""
    # (a float tensor has __index__ too: refused, as torch's parser does)
    if dim.__class__ is int or _is_dim_item(dim, True):
        dims = [dim]
    elif isinstance(dim, (tuple, list)):
        dims = _int_list((dim,), fname, "dim", pos, False, _is_dim_item)
    else:
        raise TypeError(f"{fname}(): argument 'dim' (position {pos}) must be tuple of ints, "
                        f"not {errors.type_name(dim)}")
    if not dims and nd:   # torch's own error for an empty dim list
        raise RuntimeError(f"output with shape [] doesn't match the broadcast shape {[1] * nd}")
    seen = []
    for d in dims:
        d = _dim(int(d), nd)
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.append(d)
    return tuple(sorted(seen)) if nd else ()


_NOT_MEMBERS = frozenset(("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__",
                          "__firstlineno__", "__static_attributes__"))


def _refuse_rebased_view_without_fn(t):
    """torch's error where reading the grad_fn of view t (made with grad mode off) is refused
    since its memory changed (tape.rebased_view_without_fn)."""
    refused = rebased_view_without_fn(t)
    if refused is not None:
        raise RuntimeError(refused)


def install(target):
    """Class decorator: copy the methods (and properties, aliases) defined in the decorated
    class onto `target`.  Modules above tensor.py define the methods of Tensor that call them
    this way, so that imports flow one way (no late imports)."""
    def add(holder):
        for name, value in vars(holder).items():
            if name in _NOT_MEMBERS or name == "__hash__" and value is None:
                continue   # (a class defining __eq__ gets __hash__ = None: Tensor keeps its own)
            if name in vars(target):
                raise TypeError(f"{target.__name__}.{name} is defined twice")
            for fn in ((value.fget, value.fset, value.fdel) if isinstance(value, property)
                       else (getattr(value, "__func__", value),)):
                if hasattr(fn, "__qualname__"):
                    fn.__qualname__ = f"{target.__name__}.{name}"
            setattr(target, name, value)
        return holder
    return add


tensor_methods = install(Tensor)


def read_only_as_torch(cls):
    """Give cls's read-only properties torch's error for an assignment (`x.shape = (3, 2)`:
    "attribute 'shape' of 'torch._C.TensorBase' objects is not writable") in place of
    Python's "property 'shape' of 'Tensor' object has no setter"; called once every module
    has added its own (imag keeps its own: torch's complains of the dtype)."""
    for klass in cls.__mro__:
        for name, v in list(vars(klass).items()):
            if isinstance(v, property) and v.fset is None and name != "imag":
                setattr(cls, name, property(v.fget, _not_writable(name), v.fdel, v.__doc__))


def _not_writable(name):
    def refuse(self, value):
        raise AttributeError(f"attribute '{name}' of 'tapegrad._C.TensorBase' objects is not "
                             f"writable")
    return refuse
