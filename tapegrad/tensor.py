"""The Tensor front end: values, flags and recording onto the tape.

A Tensor holds its value in `_v`: a Python float for one-element float tensors (the scalar
fast path, `_fastpath.py`), otherwise a numpy array of its dtype.  A tensor that requires grad
either is a leaf (`_tape` None) or names the tape entry that produced it (`_tape`, `_node`).
There is no Python object graph: `grad_fn` objects are views made on demand from the tape.

The scalar fast path computes float32 scalars in double precision; values are rounded to
float32 whenever they leave the tensor (item(), tolist(), numpy(), repr) and when stored in an
array, so results agree with torch to float32 rounding.
"""
import math
import struct
import types
import warnings

import numpy as np

from . import _fastpath, decomps, errors, return_types, vocab
from . import dtypes as D
from .dtypes import dtype as DType
from .kinds import cat as cat_kind, matmul as matmul_kind
from .ops import OPS, BY_CODE, OUTPUT_CODE, mentions
from .tape import (STATE, Tape, open_tape, input_node, retain as _retain, OP_CONST,
                   bump_version, version_counter, share_version, is_view)

class Size(tuple):
    """`tapegrad.Size`, a tuple that prints like torch.Size."""
    __module__ = "tapegrad"

    def __repr__(self):
        return "tapegrad.Size([" + ", ".join(str(int(s)) for s in self) + "])"

    __str__ = __repr__

    def numel(self):
        return int(math.prod(self))


def _size_args(size, fn=None):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if fn is not None:  # creation functions: torch's argument and negative-size errors
        for k, v in enumerate(size):
            if not isinstance(v, (int, np.integer, Tensor)):
                got = type(v).__name__
                raise TypeError(f"{fn}(): argument 'size' (position 1) must be tuple of ints, "
                                + (f"not {got}" if len(size) == 1 else
                                   f"but found element of type {got} at pos {k}"))
        size = tuple(int(s) for s in size)
        for v in size:
            if v < 0:
                if fn == "zeros":
                    raise RuntimeError("zeros: Dimension size must be non-negative.")
                raise RuntimeError(errors.NEGATIVE_DIM.format(
                    d=v, shape=", ".join(map(str, size))))
        return size
    return tuple(int(s) for s in size)


class _TensorMeta(type):
    def __call__(cls, *args):
        """Legacy constructor: Tensor([1, 2]) copies data as float32; Tensor(2, 3) is
        uninitialized (zeros here)."""
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]
            if isinstance(data, Tensor):
                return data
            return tensor(data, dtype=D.get_default_dtype())
        return empty(*args)


RETAINS, NODIFF = 1, 2    # Tensor._flags bits


class Tensor(metaclass=_TensorMeta):
    """A multi-dimensional array that records the operations made on it for autograd, as
    `torch.Tensor`: `requires_grad`, `grad`, `grad_fn`, `is_leaf`, `backward()`."""
    __module__ = "tapegrad"
    __slots__ = ("_v", "_dtype", "_shape", "_rg", "_tape", "_node", "_grad", "_flags",
                 "_lserial", "_lnode", "_ver", "__weakref__")
    # _rg: recorded by the ops that use it (requires grad, or traced while recording a tape);
    # _flags (unset = 0): RETAINS (retain_grad() was called), NODIFF (traced but not
    # differentiable: comparisons, detach() while recording).  One slot for rare marks keeps
    # a Tensor at 112 bytes.
    __array_priority__ = 1000  # numpy defers `ndarray * Tensor` to Tensor.__rmul__

    # ---- construction helpers --------------------------------------------------------------
    @staticmethod
    def _wrap(arr, dt, rg=False):
        """A plain tensor around ndarray `arr` (already of dtype dt)."""
        t = _new()
        if arr.size == 1 and dt.is_floating_point:
            t._v = float(arr.reshape(-1)[0])
        else:
            t._v = arr
        t._dtype = dt
        t._shape = arr.shape
        t._tape = None
        t._rg = rg
        if rg:
            t._lserial = 0
        return t

    # ---- value access ----------------------------------------------------------------------
    def _array(self):
        """The value as an ndarray of the tensor's dtype (a view when array-backed)."""
        v = self._v
        if type(v) is float:
            return np.full(self._shape, v, dtype=self._dtype.np)
        return v

    def _materialize(self):
        """Switch a float-backed tensor to array storage so it can share memory (.data, numpy)."""
        v = self._v
        if type(v) is float:
            self._v = np.full(self._shape, v, dtype=self._dtype.np)
        return self._v

    # ---- attributes ------------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._shape)
        if not isinstance(dim, int):
            raise TypeError(f"size(): argument 'dim' (position 1) must be int, not "
                            f"{type(dim).__name__}")
        return self._shape[_dim(dim, len(self._shape))]

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
        return "cpu"

    def is_floating_point(self):
        return self._dtype.is_floating_point

    @property
    def requires_grad(self):
        return self._rg and not getattr(self, "_flags", 0) & NODIFF

    @requires_grad.setter
    def requires_grad(self, flag):
        self._set_requires_grad(bool(flag), errors.NOT_FLOAT_SET)

    def requires_grad_(self, requires_grad=True):
        self._set_requires_grad(bool(requires_grad), errors.NOT_FLOAT_SET_)
        return self

    def _set_requires_grad(self, flag, msg):
        if self._tape is not None:
            if flag:
                return
            raise RuntimeError(errors.NON_LEAF_FLAG)
        if flag and not self._dtype.is_floating_point:
            raise RuntimeError(msg)
        self._rg = flag
        if flag:
            self._lserial = 0

    @property
    def _version(self):
        """How many in-place changes this tensor (or a view sharing its memory) has had."""
        return version_counter(self)[0] if hasattr(self, "_ver") else 0

    @property
    def is_leaf(self):
        return self._tape is None or getattr(self, "_flags", 0) & NODIFF != 0

    @property
    def grad_fn(self):
        tape = self._tape
        if tape is None or getattr(self, "_flags", 0) & NODIFF:
            return None
        from .autograd.graph import node_for
        return node_for(tape, self._node)

    @property
    def grad(self):
        if self._tape is not None and not getattr(self, "_flags", 0) & RETAINS:
            warnings.warn(errors.NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return getattr(self, "_grad", None)

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value._shape != self._shape:
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value._shape)}' to a tensor of size "
                                   f"'{list(self._shape)}'. Please ensure that the gradient "
                                   f"and the tensor are the same size")
            if value._dtype is not self._dtype:
                raise RuntimeError(errors.GRAD_DTYPE.format(
                    got=_C_TYPE[value._dtype.name], want=self._dtype.legacy))
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def retains_grad(self):
        return self._tape is not None and getattr(self, "_flags", 0) & RETAINS != 0

    def retain_grad(self):
        if not self._rg:
            raise RuntimeError(errors.RETAIN_NO_GRAD)
        if self._tape is None or getattr(self, "_flags", 0) & RETAINS:
            return
        self._flags = getattr(self, "_flags", 0) | RETAINS
        _retain(self)

    @property
    def data(self):
        return Tensor._share(self, self._materialize())

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__}")
        self._v = value._materialize() if type(value._v) is not float else value._v
        self._dtype = value._dtype
        self._shape = value._shape
        self._lserial = 0  # a later use records the new value (tape.leaf_node)

    @staticmethod
    def _share(src, arr):
        t = _new()
        t._v = arr
        t._dtype = src._dtype
        t._shape = src._shape
        t._tape = None
        t._rg = False
        return t

    def detach(self):
        tape = _tracing(self)
        if tape is not None:  # while recording, a detached value still follows the inputs
            t = _reshape_op("stopgrad", self, self._shape)
            t._flags = NODIFF
            return t
        t = Tensor._share(self, self._materialize())
        share_version(t, self)   # unlike .data, detach() shares the version counter
        return t

    def detach_(self):
        if self._tape is not None:
            self._tape = None
        self._rg = False
        return self

    # ---- conversion ------------------------------------------------------------------------
    def item(self):
        v = self._v
        n = self.numel()
        if n != 1:
            raise RuntimeError(errors.ITEM_MANY.format(n))
        if self._rg:
            _bake(self, "guard_value")
        if type(v) is float:
            return float(np.float32(v)) if self._dtype is D.float32 else v
        return v.reshape(-1)[0].item()

    def __float__(self):
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
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        v = self._array().reshape(-1)[0]
        if self._rg:
            _bake(self, "guard_bool", bool(v))
        return bool(v)

    def tolist(self, *args):
        if args:   # torch's is a C method
            raise TypeError(f"TensorBase.tolist() takes no arguments ({len(args)} given)")
        if self._rg:
            _bake(self, "guard_value")
        return self._array().tolist()

    def numpy(self, force=False):
        if self._rg and not force:
            raise RuntimeError(errors.NUMPY_GRAD)
        return self._materialize()

    def __array__(self, dtype=None, copy=None):
        a = self._array()
        return a if dtype is None else a.astype(dtype)

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        from ._format import format_tensor
        suffixes = []
        fn = self.grad_fn
        if fn is not None:
            suffixes.append(f"grad_fn=<{type(fn).__name__}>")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        return format_tensor(self._array(), self._dtype.name, suffixes=suffixes)

    __str__ = __repr__

    def __format__(self, spec):
        if self.numel() == 1 and spec:
            return format(self.item(), spec)
        return repr(self)

    # ---- dtype conversion (recorded as ToCopyBackward0) ------------------------------------
    def to(self, *args, dtype=None, **kwargs):
        for a in args:
            if isinstance(a, str) and a.split(":")[0] != "cpu":
                raise RuntimeError(errors.DEVICE_STRING.format(a))
            if isinstance(a, DType):
                dtype = a
            elif isinstance(a, Tensor):
                dtype = a._dtype
        if dtype is None or dtype is self._dtype:
            return self
        return _cast(self, dtype)

    def type(self, dtype=None):
        if dtype is None:
            return f"tapegrad.{self._dtype.legacy}Tensor"
        if isinstance(dtype, str):
            named = {f"{m}.{d.legacy}Tensor": d for d in D.ALL for m in ("tapegrad", "torch")}
            if dtype not in named:
                raise ValueError(f"invalid type: '{dtype}'")
            dtype = named[dtype]
        return self.to(dtype)

    def float(self):
        return self.to(D.float32)

    def double(self):
        return self.to(D.float64)

    def long(self):
        return self.to(D.int64)

    def int(self):
        return self.to(D.int32)

    def bool(self):
        return self.to(D.bool_)

    def cpu(self):
        return self

    def contiguous(self):
        v = self._v
        if type(v) is float or v.flags.c_contiguous:
            return self
        return _reshape_op("clone", self, self._shape, _contiguous(v))

    # ---- in-place ops -----------------------------------------------------------------------
    # They mutate the value (so `.data`/`.grad.data` aliases and views see it).  Where torch
    # needs no history (no_grad, or nothing involved requires grad) that is all; otherwise
    # add_/sub_/mul_/div_ record the out-of-place op and the tensor moves to its entry, as
    # torch's in-place ops rebase a tensor's grad_fn.
    def _check_inplace(self, other=None):
        """True when the change must be recorded on the tape."""
        if not STATE.enabled:
            return False
        if self._rg and self._tape is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        if not (self._rg or isinstance(other, Tensor) and other._rg):
            return False
        if is_view(self):
            raise NotImplementedError("in-place operations on views that need autograd "
                                      "history are not implemented yet (torch rebases the "
                                      "base's graph: CopySlices)")
        return True

    def _inplace_recorded(self, method, other):
        """self = method(self, other), recorded: the entry reads the old value (its own copy,
        as torch saves a clone of the original self), the new value is written into self's
        memory, and self becomes that entry's tensor (torch rebases its grad_fn)."""
        if isinstance(other, Tensor) and other._dtype is not self._dtype \
                and self._dtype.is_floating_point:
            other = other.to(self._dtype)    # the result keeps self's dtype (and grad_fn name)
        storage = self._v
        if type(storage) is not float:
            self._v = storage.copy()        # what the entry saves must not be overwritten
        before = {id(tp): tp.n for tp in (STATE.tape, self._tape, getattr(other, "_tape", None))
                  if isinstance(tp, Tape)}
        try:
            r = method(self, other)
            if r._dtype is not self._dtype:
                raise _cast_error(r._dtype, self._dtype)
            if r._shape != self._shape:
                raise _inplace_shape_error(self._shape, r._shape)
        except BaseException:
            self._v = storage
            raise
        if type(storage) is float:
            self._v = r._v
        else:
            storage[...] = r._array()
            self._v = storage
        if self._tape is not None:
            self._tape.rebased.add(self._node)
        tape = r._tape
        a = int(tape.ia[r._node])
        if a >= 0:
            tape.superseded[a] = (before.get(id(tape), 0), r._node)
        else:  # self was a number folded into the entry: still torch's in-place name (SubBackward0)
            from .autograd.graph import name_entry
            name_entry(tape, r._node, BY_CODE[tape.op[r._node]].grad_fn)
        bump_version(self)                 # the old node: changed since it took its value
        self._tape, self._node, self._rg = r._tape, r._node, True
        self._lserial = 0
        self._tape.watch(self._node, self)  # the new node: its value is this version
        return self

    def _assign(self, value):
        """Write `value` (broadcast, cast as torch does for in-place ops) into this tensor."""
        arr = np.asarray(value)
        dt = self._dtype
        if np.result_type(arr.dtype, np.float32 if dt.is_floating_point else dt.np).kind == "f" \
                and not dt.is_floating_point and arr.dtype.kind == "f":
            raise _cast_error(D.float32, dt)
        shape = np.broadcast_shapes(arr.shape, self._shape)
        if shape != self._shape:
            raise _inplace_shape_error(self._shape, shape)
        if type(self._v) is float:
            self._v = float(arr.reshape(-1)[0]) if arr.size == 1 else float(arr.flat[0])
        else:
            self._v[...] = arr.astype(dt.np, copy=False)
        self._lserial = 0  # a later use records the new value (tape.leaf_node)
        bump_version(self)
        return self

    def _inplace(self, fn, other, method=None, ufunc=None):
        if self._check_inplace(other):
            if method is None:
                raise NotImplementedError("this in-place operation on a tensor that needs "
                                          "autograd history is not implemented yet")
            return self._inplace_recorded(method, other)
        # Fast path (the optimizer step `p -= lr * p.grad` under no_grad): an array-backed
        # float tensor and a tensor of its dtype and shape, or a Python number: `ufunc` writes
        # the result into self's memory; no casts, no broadcast checks.
        sv = self._v
        if type(sv) is float and ufunc is not None:
            done = _inplace_scalar(self, sv, ufunc, other)
            if done is not None:
                return done
        if ufunc is not None and type(sv) is np.ndarray and self._dtype.is_floating_point:
            to = type(other)
            if to is Tensor:
                b = other._v if other._dtype is self._dtype and other._shape == self._shape \
                    else None
                if type(b) is float:
                    b = other._array()
            elif to is float or to is int and -_EXACT_INT <= other <= _EXACT_INT:
                b = self._dtype.np.type(other)
            else:
                b = None
            if b is not None:
                _quiet(ufunc, sv, b, sv)
                self._lserial = 0  # a later use records the new value (tape.leaf_node)
                bump_version(self)
                return self
        b = other._array() if isinstance(other, Tensor) else other
        with np.errstate(all="ignore"):
            try:
                new = fn(self._array(), b)
            except ValueError:
                _check_broadcast(self._shape, np.shape(b))
                raise
            return self._assign(new)

    def add_(self, other, alpha=1):
        if alpha == 1:
            return self._inplace(np.add, other, Tensor.__add__, np.add)
        return self._inplace(lambda a, b: a + alpha * b, other, lambda x, y: x + y * alpha)

    def sub_(self, other, alpha=1):
        if alpha == 1:
            return self._inplace(np.subtract, other, Tensor.__sub__, np.subtract)
        return self._inplace(lambda a, b: a - alpha * b, other, lambda x, y: x - y * alpha)

    def mul_(self, other):
        return self._inplace(np.multiply, other, Tensor.__mul__, np.multiply)

    def div_(self, other):
        return self._inplace(np.true_divide, other, Tensor.__truediv__, np.true_divide)

    def copy_(self, src):
        return self._inplace(lambda a, b: np.broadcast_to(b, a.shape), src,
                             lambda x, s: _binary(OPS["copy"].code, x, s))

    def fill_(self, value):
        if isinstance(value, Tensor):
            if value.dim():
                raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got "
                                   f"tensor with {value.dim()} dimensions.")
            recorded = lambda x, v: _binary(OPS["fill_tensor"].code, x, v)  # noqa: E731
        else:
            recorded = lambda x, v: _unary(OPS["fill"].code, x, float(v))  # noqa: E731
        return self._inplace(lambda a, b: np.full(a.shape, b), value, recorded)

    def zero_(self):
        sv = self._v
        if type(sv) is np.ndarray and not self._check_inplace(0):   # `p.grad.zero_()`
            sv.fill(0)
            self._lserial = 0  # a later use records the new value (tape.leaf_node)
            bump_version(self)
            return self
        return self._inplace(lambda a, b: np.zeros(a.shape, a.dtype), 0,
                             lambda x, v: _unary(OPS["zero"].code, x))

    def __setitem__(self, key, value):
        """x[key] = value: an in-place change of the selected elements; on a tensor that
        needs history (or with a value that does) recorded as CopySlices / IndexPutBackward0."""
        if STATE.enabled and self._rg and self._tape is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
        recorded = self._check_inplace(value)
        kind = value._dtype if isinstance(value, Tensor) else None
        raw = value
        if isinstance(value, Tensor):
            value = value._array()
        if not isinstance(key, tuple):
            key = (key,)
        key = tuple(k._array() if isinstance(k, Tensor) else k for k in key)
        advanced = any(isinstance(k, (list, np.ndarray)) and np.ndim(k) > 0 for k in key)
        arr = self._materialize()
        try:
            target = np.shape(arr[key])
        except IndexError as e:
            raise IndexError(str(e).replace(" for axis ", " for dimension ")) from None
        value = np.asarray(value)
        err = _setitem_shape_error(value.shape, target, kind or self._dtype, advanced)
        if err is not None:
            raise err
        if recorded:
            # the whole tensor (x[...] = v, x[:] = v): torch fills or copies it
            if all(k is Ellipsis or type(k) is slice and k == slice(None) for k in key):
                if value.ndim == 0:
                    self._inplace_recorded(lambda x, v: _binary(OPS["fill_tensor"].code, x, v), raw)
                else:
                    self._inplace_recorded(lambda x, v: _binary(OPS["copy"].code, x, v), raw)
                return
            self._inplace_recorded(lambda x, v: _put(x, key, v, advanced), raw)
            return
        with np.errstate(all="ignore"):
            arr[key] = value.astype(self._dtype.np, copy=False)
        self._lserial = 0
        bump_version(self)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    # ---- autograd --------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # ---- arithmetic: scalar fast path from _fastpath, general path below -------------------
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
        return self

    def __rtruediv__(self, other):
        # torch records `2 / x` as reciprocal then multiply
        return self.reciprocal() * other

    def __pow__(self, exponent):
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
            return _fastpath.op_pow_scalar(self, float(exponent))
        return _fastpath.op_pow(self, exponent)

    pow = __pow__

    def __rpow__(self, base):
        return _fastpath.op_rpow(self, base)

    def square(self):
        return self.pow(2)

    add = __add__
    sub = subtract = __sub__
    mul = multiply = __mul__
    div = divide = true_divide = __truediv__

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(tensor(other), self)

    matmul = __matmul__

    def mm(self, other):
        if self.dim() != 2:
            raise RuntimeError("self must be a matrix")
        if other.dim() != 2:
            raise RuntimeError("mat2 must be a matrix")
        return matmul(self, other)

    def mv(self, vec):
        if self.dim() != 2 or vec.dim() != 1 or self._shape[1] != vec._shape[0]:
            if self.dim() == 2 and vec.dim() == 1:
                raise RuntimeError(f"size mismatch, got input ({self._shape[0]}), mat "
                                   f"({self._shape[0]}x{self._shape[1]}), vec ({vec._shape[0]})")
            raise RuntimeError(f"vector + matrix @ vector expected, got 1, {self.dim()}, "
                               f"{vec.dim()}")
        return matmul(self, vec)

    def dot(self, other):
        if self.dim() != 1 or other.dim() != 1:
            raise RuntimeError(f"1D tensors expected, but got {self.dim()}D and {other.dim()}D "
                               f"tensors")
        if self._shape != other._shape:
            n, k = self._shape[0], other._shape[0]
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{k}] "
                               f"to have the same number of elements, but got {n} and {k} "
                               f"elements respectively")
        if self._dtype is not other._dtype:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                               f"{self._dtype.legacy} and {other._dtype.legacy}")
        return matmul(self, other)

    def bmm(self, other):
        return bmm(self, other)

    # comparisons: bool results, no gradient (traced while recording a tape, for guards/where)
    def __lt__(self, o):
        return _compare("lt", self, o)

    def __le__(self, o):
        return _compare("le", self, o)

    def __gt__(self, o):
        return _compare("gt", self, o)

    def __ge__(self, o):
        return _compare("ge", self, o)

    def __eq__(self, o):
        return _compare("eq", self, o)

    def __ne__(self, o):
        return _compare("ne", self, o)

    def where(self, condition, other):
        return where(condition, self, other)

    def __and__(self, o):
        if self._dtype is not D.bool_ or (isinstance(o, Tensor) and o._dtype is not D.bool_) \
                or not isinstance(o, (Tensor, bool)):
            raise NotImplementedError("& is implemented for bool tensors only")
        return _compare("logical_and", self, o)

    logical_and = __rand__ = __and__

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__

    # ---- reductions ------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None):
        if not (dim is None or hasattr(dim, "__index__") or isinstance(dim, (tuple, list))) \
                and keepdim is False and dtype is None:
            raise TypeError(errors.SUM_ARGS.format(got=type(dim).__name__))
        return _reduce(self, dim, keepdim, mean=False, dtype=dtype)

    def split(self, split_size_or_sections, dim=0):
        """Pieces of split_size_or_sections along dim (an int: that size, the last may be
        smaller; a list: those sizes), as views; one SplitBackward0 for all of them."""
        return _split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        """At most `chunks` pieces of equal size along dim (SplitBackward0, as torch)."""
        if not hasattr(chunks, "__index__") or isinstance(chunks, bool):
            raise TypeError(f"chunk(): argument 'chunks' (position 1) must be int, not "
                            f"{type(chunks).__name__}")
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        if not self._shape:
            raise RuntimeError("chunk expects at least a 1-dimensional tensor")
        size = self._shape[_dim(dim, len(self._shape))]
        return _split(self, max(-(-size // chunks), 1) if size else 1, dim)

    def unbind(self, dim=0):
        """The slices along dim, that dim removed (UnbindBackward0)."""
        if not self._shape:
            raise IndexError("Dimension specified as 0 but tensor has no dimensions")
        d = _dim(dim, len(self._shape))
        return _split(self, [1] * self._shape[d], d, name="unbind")

    @property
    def output_nr(self):
        """Which output of its grad_fn this tensor is (split's pieces: their position)."""
        tape = self._tape
        if tape is None or tape.op[self._node] != OUTPUT_CODE:
            return 0
        return int(tape.cst[self._node])

    def max(self, dim=None, keepdim=False):
        """max(dim, keepdim=False) -> (values, indices), a return_types.max."""
        return _max_min(self, dim, keepdim, "max")

    def min(self, dim=None, keepdim=False):
        """min(dim, keepdim=False) -> (values, indices), a return_types.min."""
        return _max_min(self, dim, keepdim, "min")

    def mean(self, dim=None, keepdim=False, dtype=None):
        return _reduce(self, dim, keepdim, mean=True, dtype=dtype)

    # ---- decomposition rows (tapegrad/decomps.py): primitives shown as one grad_fn ----------
    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(self), dim)), computed stably (LogsumexpBackward0)."""
        dims = _reduce_dims("logsumexp", dim, self.dim())
        x = self if self._dtype.is_floating_point else self.to(D.get_default_dtype())
        return decomps.record("logsumexp", decomps.logsumexp, KIND_OPS, x, dims, bool(keepdim))

    def softmax(self, dim, dtype=None):
        """exp(self) normalized along dim, computed stably (SoftmaxBackward0)."""
        return _softmax("softmax", self, dim, dtype)

    def log_softmax(self, dim, dtype=None):
        """log(softmax(self, dim)), computed stably (LogSoftmaxBackward0)."""
        return _softmax("log_softmax", self, dim, dtype)

    # ---- two-argument elementwise functions -----------------------------------------------
    def atan2(self, other):
        """Elementwise atan2(self, other), the angle of (other, self) (Atan2Backward0)."""
        _tensor_operand("atan2", other, 1)
        return _fastpath.op_atan2(self, other)

    def atan2_(self, other):
        """In-place atan2: recorded as Atan2Backward0 on a tensor that needs history."""
        _tensor_operand("atan2_", other, 1)
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
        _hypot_dtype(self, other)
        return self._inplace(np.hypot, other, Tensor.hypot)

    # ---- shape -----------------------------------------------------------------------------
    def reshape(self, *shape):
        shape = _infer_shape(_size_args(shape), self.numel())
        v = self._v
        if type(v) is not float and not v.flags.c_contiguous:
            return _reshape_op("unsafe_view", self, shape, _contiguous(v).reshape(shape))
        return _reshape_op("view", self, shape)

    def view(self, *shape):
        if len(shape) == 1 and not (hasattr(shape[0], "__index__")
                                    or isinstance(shape[0], (tuple, list, DType))):
            raise TypeError(errors.VIEW_ARGS.format(got=type(shape[0]).__name__))
        if len(shape) == 1 and isinstance(shape[0], DType):
            raise NotImplementedError("view(dtype) is not implemented")
        v = self._v
        if type(v) is not float and not v.flags.c_contiguous:
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                               "least one dimension spans across two contiguous subspaces). Use "
                               ".reshape(...) instead.")
        return _reshape_op("view", self, _infer_shape(_size_args(shape), self.numel()))

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        nd = self.dim()
        if nd == 0:
            return self.reshape(1)
        s, e = _dim(start_dim, nd), _dim(end_dim, nd)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if s == e:
            return self
        shp = self._shape
        return self.reshape(shp[:s] + (int(math.prod(shp[s:e + 1])),) + shp[e + 1:])

    def unsqueeze(self, dim):
        d = _dim(dim, self.dim() + 1)
        shape = self._shape[:d] + (1,) + self._shape[d:]
        return _reshape_op("unsqueeze", self, shape)

    def squeeze(self, dim=None):
        if dim is None:
            return _reshape_op("squeeze", self, tuple(s for s in self._shape if s != 1))
        nd = self.dim()
        many = isinstance(dim, (tuple, list))
        dims = {_dim(d, max(nd, 1)) for d in (dim if many else (dim,))}
        shape = tuple(s for i, s in enumerate(self._shape) if not (i in dims and s == 1))
        return _reshape_op("squeeze_dims" if many else "squeeze_dim", self, shape)

    def clone(self, memory_format=None):
        return _reshape_op("clone", self, self._shape, np.array(self._array(), copy=True))

    def transpose(self, dim0, dim1):
        nd = self.dim()
        if nd == 0:
            _dim(dim0, 0), _dim(dim1, 0)  # range checks
            return _strided("transpose", self, lambda a: a)
        d0, d1 = _dim(dim0, nd), _dim(dim1, nd)
        perm = list(range(nd))
        perm[d0], perm[d1] = perm[d1], perm[d0]
        return _strided("transpose", self, lambda a: a.transpose(perm))

    swapaxes = transpose

    def t(self):
        nd = self.dim()
        if nd > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
        if nd < 2:
            return _strided("t", self, lambda a: a)
        return _strided("t", self, lambda a: a.T)

    def permute(self, *dims):
        dims = _size_args(dims)
        nd = self.dim()
        if len(dims) == nd and len({_dim(d, nd) for d in dims}) < nd:
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        if sorted(_dim(d, nd) for d in dims) != list(range(nd)):
            raise RuntimeError("permute(sparse_coo): number of dimensions in the tensor input does "
                               "not match the length of the desired ordering of dimensions i.e. "
                               f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
        return _strided("permute", self, lambda a: a.transpose([_dim(d, nd) for d in dims]))

    @property
    def T(self):
        nd = self.dim()
        return self.permute(*range(nd - 1, -1, -1)) if nd >= 2 else self

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def expand(self, *sizes):
        sizes = _size_args(sizes)
        nd = len(sizes)
        if nd < self.dim():
            raise RuntimeError(f"expand({_tname_legacy(self)}{{{list(self._shape)}}}, "
                               f"size={list(sizes)}): the number of sizes provided ({nd}) must "
                               f"be greater or equal to the number of dimensions in the tensor "
                               f"({self.dim()})")
        lead = nd - self.dim()
        for d, s in enumerate(sizes):
            if s < 0 and (d < lead or s != -1):
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a "
                                   f"leading, non-existing dimension {d}")
        old = (1,) * lead + self._shape
        for d, (s, o) in enumerate(zip(sizes, old)):
            if s != -1 and o != 1 and s != o:
                raise RuntimeError(f"The expanded size of the tensor ({s}) must match the "
                                   f"existing size ({o}) at non-singleton dimension {d}.  "
                                   f"Target sizes: {list(sizes)}.  Tensor sizes: "
                                   f"{list(self._shape)}")
        target = tuple(o if s == -1 else s for s, o in zip(sizes, old))
        return _strided("expand", self, lambda a: np.broadcast_to(a, target))

    def expand_as(self, other):
        return self.expand(other.shape)

    def __getitem__(self, key):
        return _index(self, key)


# ---- general paths ------------------------------------------------------------------------------
def _contiguous(a):
    """Row-major `a` (a copy only if needed); unlike np.ascontiguousarray it keeps 0-d 0-d."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


# C++ type names torch uses in some messages
_C_TYPE = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
           "bool": "bool"}


def _tname_legacy(t):
    return f"tapegrad.{t._dtype.legacy}Tensor"


def _dim(d, nd):
    if not -max(nd, 1) <= d < max(nd, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(nd, 1)}, {max(nd, 1) - 1}], but got {d})")
    return d % max(nd, 1)


def _infer_shape(shape, numel):
    given = shape
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape:
        known = int(math.prod(s for s in shape if s != -1))
        if known == 0 or numel % known:
            shape = ()  # not inferable: the message below names the shape as given
        else:
            shape = tuple(numel // known if s == -1 else s for s in shape)
    if not shape and given or math.prod(shape) != numel:
        raise RuntimeError(f"shape '[{', '.join(map(str, given))}]' is invalid for input of size {numel}")
    return shape


def _operand(x):
    """(value for numpy, dtype, promotion category) of a Tensor or a Python number."""
    if isinstance(x, Tensor):
        return x._array(), x._dtype, (2 if x._shape else 1)
    if isinstance(x, (bool, int, float)):
        return x, D.scalar_dtype(x), 0
    if isinstance(x, np.ndarray):
        t = tensor(x)
        return t._array(), t._dtype, 2
    raise TypeError(f"unsupported operand type: {type(x).__name__}")


# forwards that do not read every operand (zero, fill, copy, fill_tensor): numpy gives them
# the shape of what they read, so they are broadcast to the full result shape
_PARTIAL_FWD = frozenset(
    op.code for op in BY_CODE if op.kind in ("unary", "binary")
    and not all(mentions(op.fwd, v) for v in ("a", "b")[:1 + (op.kind == "binary")]))
_NP_FWD = {op.code: eval("lambda a, b, c: " + op.fwd, dict(vocab.NUMPY))
           for op in BY_CODE if op.kind in ("unary", "binary")}

# The per-op n-d fast path (_binary_fast, _unary_fast): forwards that read every operand, as
# numpy ufuncs where the formula is one (a call less than the eval'd lambda), and which saved
# values each op's entry keeps (a, b, out), looked up once per op instead of filtered per call.
_NP_UFUNC = {"a + b": np.add, "a - b": np.subtract, "a * b": np.multiply,
             "a / b": np.true_divide, "a ** b": np.power, "-a": np.negative, "exp(a)": np.exp,
             "log(a)": np.log, "sqrt(a)": np.sqrt, "sin(a)": np.sin, "cos(a)": np.cos,
             "tanh(a)": np.tanh, "abs(a)": np.abs}
_BIN_FAST = {op.code: _NP_UFUNC.get(op.fwd) or (lambda a, b, f=_NP_FWD[op.code]: f(a, b, 0.0))
             for op in BY_CODE if op.kind == "binary" and op.code not in _PARTIAL_FWD}
# unary: fn(a, c); a ufunc is called as ufunc(a, None) (its second argument is `out`)
_UN_FAST = {op.code: (_NP_UFUNC[op.fwd], False) if op.fwd in _NP_UFUNC
            else ((lambda a, c, f=_NP_FWD[op.code]: f(a, None, c)), True)
            for op in BY_CODE if op.kind == "unary" and op.code not in _PARTIAL_FWD}
_SAVE_ROLES = {op.code: tuple(r in op.saves for r in ("a", "b", "out"))
               for op in BY_CODE if op.kind in ("unary", "binary")}
_EXACT_INT = 1 << 53    # Python ints the fast path takes as numbers (beyond: the general path)

# Floating-point warnings off for one numpy call, as `np.errstate(all="ignore")` (torch gives
# inf/nan silently) but without building a context object per op: numpy >= 2 keeps the error
# state in a context variable, set here to a prebuilt value and reset after the call.  Elsewhere
# the public errstate decorator does the same.
try:
    from numpy._core.umath import _extobj_contextvar, _make_extobj
    _QUIET, _ERR_SET, _ERR_RESET = _make_extobj(all="ignore"), _extobj_contextvar.set, \
        _extobj_contextvar.reset

    def _quiet(fn, *args):
        token = _ERR_SET(_QUIET)
        try:
            return fn(*args)
        finally:
            _ERR_RESET(token)
except ImportError:  # pragma: no cover - numpy < 2
    _quiet = np.errstate(all="ignore")(lambda fn, *args: fn(*args))


# The unrecorded in-place update of a one-element float tensor (`p -= lr * p.grad` under
# no_grad, once per 0-d parameter per step): Python arithmetic on the stored float; for float32
# operands and result rounded as the numpy path rounds them (struct's 'f' rounds to nearest, as
# a C cast; the double result of +-*/ on float32 values rounds to the float32 result).
_SCALAR_INPLACE = {np.add: float.__add__, np.subtract: float.__sub__,
                   np.multiply: float.__mul__, np.true_divide: float.__truediv__}
_F32 = struct.Struct("f")
_F32_PACK, _F32_UNPACK = _F32.pack, _F32.unpack


def _inplace_scalar(t, sv, ufunc, other):
    """t (float-backed, not recorded) = ufunc(t, other) when other is a number or a
    one-element float tensor of t's dtype and shape; None where the numpy path must decide
    (casts, broadcasting, IEEE corner cases)."""
    fn = _SCALAR_INPLACE.get(ufunc)
    to = type(other)
    if to is Tensor:
        b = other._v
        if type(b) is not float or other._dtype is not t._dtype or other._shape != t._shape:
            return None
    elif to is float or to is int and -_EXACT_INT <= other <= _EXACT_INT:
        b = float(other)
    else:
        return None
    if fn is None or t._dtype is not D.float64 and t._dtype is not D.float32:
        return None
    try:
        if t._dtype is D.float32:   # float32 operands, the exact result rounded: numpy's
            v = _F32_UNPACK(_F32_PACK(fn(_F32_UNPACK(_F32_PACK(sv))[0],
                                         _F32_UNPACK(_F32_PACK(b))[0])))[0]
        else:
            v = fn(sv, b)
    except (ArithmeticError, ValueError):   # 1/0, out of float32's range: numpy's inf/nan
        return None
    t._v = v
    t._lserial = 0  # a later use records the new value (tape.leaf_node)
    bump_version(t)
    return t


def _record_start(*inputs):
    """The tape to record on, or None when no input is recorded or grad mode is off."""
    if not any(isinstance(t, Tensor) and t._rg for t in inputs):
        return None
    tape = STATE.tape
    if tape.sealed:  # else open_tape would return it as it is
        tape = open_tape(*[t for t in inputs if isinstance(t, Tensor) and t._tape is not None][:2])
        if tape is None:
            return None
    for t in inputs:
        if isinstance(t, Tensor) and t._tape is not None and t._tape.serial > tape.serial:
            raise RuntimeError("tapegrad: combining graphs recorded in different threads is not "
                               "supported")
    return tape


def _operand_node(tape, x, arr):
    """Node for operand x on tape: its own node, or -1 (Python-number/one-element constant,
    value in the entry's cst), or a const entry holding an n-d value."""
    if isinstance(x, Tensor):
        if x._rg:
            return input_node(tape, x), 0.0
        if x.numel() == 1:
            return -1, float(np.asarray(arr).reshape(-1)[0])
        node = tape.const_node(np.asarray(arr))
        tape.save(node, np.asarray(arr))
        tape.watch(node, x)
        return node, 0.0
    return -1, float(x)


def _result(arr, dt, tape, op, a, b, c, saves=()):
    """Wrap a forward result; with a tape, append its entry."""
    t = Tensor._wrap(arr, dt)
    if tape is not None:
        n = tape.push(op, a, b, c, float(arr.reshape(-1)[0]) if arr.size == 1 else 0.0,
                      arr.shape if arr.size != 1 else None)
        t._tape = tape
        t._node = n
        t._rg = True
        for role, node, val in saves:
            tape.save(n if role == "out" else node, val)
    return t


def _check_broadcast(*shapes):
    """Raise torch's error for operand shapes that do not broadcast (called where numpy
    failed, so the success path pays nothing)."""
    if len(set(shapes)) > 1:
        msg = errors.broadcast_mismatch(*shapes)
        if msg:
            raise RuntimeError(msg)


_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "** or pow()"}


def _operand_error(code, x, y):
    """Python's message for `x op y` when neither side takes the other (torch returns
    NotImplemented; tapegrad's generated operators raise this instead)."""
    sym = _SYMBOL.get(BY_CODE[code].name, BY_CODE[code].name)
    left, right = type(x).__name__, type(y).__name__
    if sym == "+" and isinstance(x, (str, list, tuple)):
        return f'can only concatenate {left} (not "{right}") to {left}'
    return f"unsupported operand type(s) for {sym}: '{left}' and '{right}'"


def _binary(code, x, y):
    # Fast path: a tensor of a float dtype with a tensor of the same dtype or a Python number
    # (either side): the result has that dtype, so the promotion machinery is skipped.
    fwd = _BIN_FAST.get(code)
    if fwd is not None:
        tx, ty = type(x), type(y)
        if tx is Tensor:
            dt = x._dtype
            if ty is Tensor:
                if y._dtype is dt and dt.is_floating_point:
                    return _binary_fast(code, fwd, x, y, dt, x._v, y._v)
            elif (ty is float or ty is int and -_EXACT_INT <= y <= _EXACT_INT) \
                    and dt.is_floating_point:
                return _binary_fast(code, fwd, x, y, dt, x._v, dt.np.type(y))
        elif ty is Tensor and (tx is float or tx is int and -_EXACT_INT <= x <= _EXACT_INT):
            dt = y._dtype
            if dt.is_floating_point:
                return _binary_fast(code, fwd, x, y, dt, dt.np.type(x), y._v)
    return _binary_general(code, x, y)


def _tape_for(x, y):
    """The tape for an op on x, y of which one is recorded (requires grad), or None under
    no_grad: _record_start without its scan for a recorded input."""
    tape = STATE.tape
    if tape.sealed:
        tape = open_tape(x, y)
        if tape is None:
            return None
    for t in (x, y):
        if type(t) is Tensor and t._tape is not None and t._tape.serial > tape.serial:
            raise RuntimeError("tapegrad: combining graphs recorded in different threads is not "
                               "supported")
    return tape


def _binary_fast(code, fwd, x, y, dt, xa, ya):
    """_binary where no promotion is involved: x, y tensors of float dtype dt or numbers (xa,
    ya their values: arrays, Python floats of one-element tensors, numpy scalars of numbers)."""
    if type(xa) is float:
        xa = x._array()
    if type(ya) is float:
        ya = y._array()
    try:
        out = _quiet(fwd, xa, ya)
    except ValueError:
        _check_broadcast(np.shape(xa), np.shape(ya))
        raise
    if type(out) is not np.ndarray or out.dtype != dt.np:   # 0-d operands give numpy scalars
        out = np.asarray(out, dtype=dt.np)
    rx = type(x) is Tensor and x._rg
    ry = type(y) is Tensor and y._rg
    if not (rx or ry):
        return Tensor._wrap(out, dt)
    tape = _tape_for(x, y)
    if tape is None:
        return Tensor._wrap(out, dt)
    a, ca = (input_node(tape, x), 0.0) if rx else _operand_node(tape, x, xa)
    b, cb = (input_node(tape, y), 0.0) if ry else _operand_node(tape, y, ya)
    sa, sb, so = _SAVE_ROLES[code]
    t = _result(out, dt, tape, code, a, b, ca if a < 0 else cb)
    if sa:
        tape.save(a, xa)
    if sb:
        tape.save(b, ya)
    if so:
        tape.save(t._node, out)
    return t


def _binary_general(code, x, y):
    try:
        xa, xd, xc = _operand(x)
        ya, yd, yc = _operand(y)
    except TypeError:
        raise TypeError(_operand_error(code, x, y)) from None
    dt = D.result_type((xd, xc), (yd, yc))
    op = BY_CODE[code]
    if op.name in ("div", "atan2") and not dt.is_floating_point:  # true division, as torch
        dt = D.get_default_dtype()
    xa = np.asarray(xa, dtype=dt.np)
    ya = np.asarray(ya, dtype=dt.np)
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(_NP_FWD[code](xa, ya, 0.0), dtype=dt.np)
        if code in _PARTIAL_FWD:
            out = np.array(np.broadcast_to(out, np.broadcast_shapes(np.shape(xa), np.shape(ya))))
    except ValueError:
        _check_broadcast(np.shape(xa), np.shape(ya))
        raise
    tape = _record_start(x, y)
    if tape is None:
        return Tensor._wrap(out, dt)
    if not dt.is_floating_point:
        raise RuntimeError(errors.NOT_FLOAT_CREATE)
    a, ca = _operand_node(tape, x, xa)
    b, cb = _operand_node(tape, y, ya)
    c = ca if a < 0 else cb
    saves = [("a", a, xa), ("b", b, ya), ("out", None, out)]
    return _result(out, dt, tape, code, a, b, c, [s for s in saves if s[0] in op.saves])


def _unary(code, x, c=0.0):
    # Fast path: an array-backed float tensor, an op that reads its operand (ufunc when it is one)
    fast = _UN_FAST.get(code)
    xa = x._v
    dt = x._dtype
    if fast is not None and type(xa) is not float and dt.is_floating_point:
        fwd, takes_c = fast
        out = _quiet(fwd, xa, c if takes_c else None)
        if type(out) is not np.ndarray or out.dtype != dt.np:
            out = np.asarray(out, dtype=dt.np)
        if not x._rg:
            return Tensor._wrap(out, dt)
        tape = _tape_for(x, None)
        if tape is None:
            return Tensor._wrap(out, dt)
        a = input_node(tape, x)
        sa, _, so = _SAVE_ROLES[code]
        t = _result(out, dt, tape, code, a, -1, c)
        if sa:
            tape.save(a, xa)
        if so:
            tape.save(t._node, out)
        return t
    op = BY_CODE[code]
    xa = x._array()
    dt = x._dtype if x._dtype.is_floating_point else D.get_default_dtype()
    if op.name in ("neg", "abs", "relu") and not x._dtype.is_floating_point:
        dt = x._dtype
    with np.errstate(all="ignore"):
        out = np.asarray(_NP_FWD[code](xa.astype(dt.np, copy=False), None, c), dtype=dt.np)
    if code in _PARTIAL_FWD:
        out = np.array(np.broadcast_to(out, np.shape(xa)))
    tape = _record_start(x)
    if tape is None:
        return Tensor._wrap(out, dt)
    a = input_node(tape, x)
    saves = [("a", a, xa), ("out", None, out)]
    return _result(out, dt, tape, code, a, -1, c, [s for s in saves if s[0] in op.saves])


# Bare instance creation: type.__call__ without the legacy-constructor metaclass (object.__new__
# costs twice as much here, and this is on the per-op path).
_new = super(_TensorMeta, Tensor).__call__
_fastpath._new = _new
_fastpath.Tensor = Tensor
_fastpath._binary = _binary
_fastpath._unary = _unary


_NP_CMP = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
           "eq": np.equal, "ne": np.not_equal, "logical_and": np.logical_and}


def _tracing(t):
    """The recording tape when `t` is traced by tapegrad.record, else None."""
    if not t._rg:
        return None
    tape = STATE.tape
    return tape if tape.recording else None


def _compare(name, x, y):
    xa = x._array()
    ya = y._array() if isinstance(y, Tensor) else y
    if not isinstance(y, (Tensor, bool, int, float, np.ndarray)):
        return NotImplemented
    try:
        out = np.asarray(_NP_CMP[name](xa, ya))
    except ValueError:
        _check_broadcast(np.shape(xa), np.shape(ya))
        raise
    tape = _tracing(x) or (_tracing(y) if isinstance(y, Tensor) else None)
    if tape is None:
        return Tensor._wrap(out, D.bool_)
    a, ca = _operand_node(tape, x, xa)
    b, cb = _operand_node(tape, y, ya)
    t = _result(out, D.bool_, tape, OPS[name].code, a, b, ca if a < 0 else cb)
    t._flags = NODIFF
    return t


def where(condition, input, other, _op="where"):
    """Elementwise `input if condition else other`: the branch-free way to select on values,
    which a recorded tape re-evaluates at every replay (an `if` would be baked in)."""
    cond = condition if isinstance(condition, Tensor) else tensor(condition)
    if cond._dtype is not D.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {cond._dtype.legacy}")
    ca = cond._array().astype(bool)
    xa, xd, xc = _operand(input)
    ya, yd, yc = _operand(other)
    _check_broadcast(ca.shape, np.shape(xa), np.shape(ya))
    dt = D.result_type((xd, xc), (yd, yc))
    out = np.asarray(np.where(ca, np.asarray(xa, dt.np), np.asarray(ya, dt.np)), dtype=dt.np)
    tape = _record_start(input, other, cond)
    if tape is None:
        return Tensor._wrap(out, dt)
    a, cst_a = _operand_node(tape, input, xa)
    b, cst_b = _operand_node(tape, other, ya)
    if a < 0 and b < 0:  # one constant fits in the entry; the other becomes a const node
        b = tape.push(OP_CONST, -1, -1, 0.0, cst_b)
    if cond._rg:
        c_node = input_node(tape, cond)
    elif ca.size == 1:
        c_node = tape.push(OP_CONST, -1, -1, 0.0, float(ca.reshape(-1)[0]))
    else:
        c_node = tape.const_node(ca)
    if isinstance(cond, Tensor) and not cond._rg:
        tape.watch(c_node, cond)
    tape.save(c_node, ca.astype(np.float64))
    t = _result(out, dt, tape, OPS[_op].code, a, b, cst_a if a < 0 else cst_b)
    tape.set_cond(t._node, c_node)
    return t


def _put(base, key, value, advanced):
    """base with base[key] = value, out of place and recorded: one where-kind entry
    (CopySlices / IndexPutBackward0) choosing between base and the value scattered to the
    written positions (a gather is the value's adjoint)."""
    arr = base._array()
    pos = np.arange(arr.size).reshape(arr.shape)[key]
    target, flat = np.shape(pos), np.asarray(pos).reshape(-1)
    if len(np.unique(flat)) != len(flat):
        raise NotImplementedError("x[index] = value with a repeated index on a tensor that "
                                  "needs autograd history is not implemented yet")
    keep = np.ones(arr.shape, bool)
    keep.reshape(-1)[flat] = False
    if isinstance(value, Tensor) and value._rg:
        v = value if value._dtype is base._dtype else value.to(base._dtype)
        if v._shape != target:
            v = v.expand(*target)
        scattered = index_scatter(v.reshape(-1), arr.shape, flat)
    else:
        values = np.zeros(arr.shape, base._dtype.np)
        values.reshape(-1)[flat] = np.broadcast_to(
            np.asarray(value._array() if isinstance(value, Tensor) else value), target).reshape(-1)
        scattered = Tensor._wrap(values, base._dtype)
    return where(Tensor._wrap(keep, D.bool_), base, scattered,
                 _op="index_put" if advanced else "copy_slices")


def _guard_site():
    """'file:line: source' of the first caller outside tapegrad (named in BranchChanged)."""
    import linecache
    import os
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(here):
        f = f.f_back
    if f is None:
        return "<unknown>"
    line = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f"{f.f_code.co_filename}:{f.f_lineno}: {line}"


def _bake(t, kind, truth=None):
    """While recording, a traced value turned into a Python value becomes a guard entry: the
    replay re-checks it (`bool`: which way the branch went; `value`: the value itself)."""
    tape = _tracing(t)
    if tape is None:
        return
    site = _guard_site()
    if tape.strict:
        from .replay import TracingError
        raise TracingError(f"strict recording: a traced value is converted to a Python value "
                           f"at {site}; use tapegrad.where for value-dependent selection")
    node = input_node(tape, t)
    arr = t._array()
    if kind == "guard_bool":
        n = tape.push(OPS[kind].code, node, -1, 1.0 if truth else 0.0, 0.0)
    elif arr.size == 1:
        n = tape.push(OPS[kind].code, node, -1, float(arr.reshape(-1)[0]), 0.0)
    else:
        n = tape.push(OPS[kind].code, node, -1, 0.0, 0.0, arr.shape)
        tape.save(n, np.asarray(arr, dtype=np.float64))
    tape.guard_src[n] = site


def _cast(x, dt):
    out = x._array().astype(dt.np)
    tape = _record_start(x) if dt.is_floating_point and x._dtype.is_floating_point else None
    if tape is None:
        return Tensor._wrap(out, dt)
    return _result(out, dt, tape, OPS["to_copy"].code, input_node(tape, x), -1, 0.0)


def _reshape_op(name, x, shape, out=None):
    """view/reshape/(un)squeeze/clone: same elements in the same order."""
    shape = tuple(shape)
    if out is None:
        v = x._v
        if type(v) is float:
            t = _new()
            t._v, t._dtype, t._shape, t._tape, t._rg = v, x._dtype, shape, None, False
            tape = _record_start(x)
            if tape is not None:
                n = tape.push(OPS[name].code, input_node(tape, x), -1, 0.0, v)
                t._tape, t._node, t._rg = tape, n, True
            return t
        out = v.reshape(shape)
    tape = _record_start(x)
    if tape is None:
        t = Tensor._wrap(out, x._dtype)
    else:
        t = _result(out, x._dtype, tape, OPS[name].code, input_node(tape, x), -1, 0.0)
    if name not in ("clone", "unsafe_view"):
        _as_view(t, x, out)
    return t


def _as_view(t, x, out):
    """If result t's array `out` shares x's memory, t is a view of x as in torch: it keeps
    the array (even with one element, so an in-place change writes through) and shares x's
    version counter; on a tape both nodes are entered for the in-place checks."""
    v = x._v
    if type(v) is float or not np.may_share_memory(out, v):
        return
    t._v = out
    share_version(t, x)
    tape = t._tape
    if tape is not None:
        tape.watch(t._node, t)
        if x._tape is tape:
            tape.watch(x._node, x)


def _strided(name, x, fn):
    """An op whose result is a strided view of x: record offset and strides in elements of
    x's row-major layout, so the sweep can scatter the gradient back."""
    base = _contiguous(x._array())
    out = fn(base)
    tape = _record_start(x)
    if tape is None:
        t = Tensor._wrap(out, x._dtype)
    else:
        item = base.itemsize
        offset = (out.__array_interface__["data"][0]
                  - base.__array_interface__["data"][0]) // item
        t = _result(out, x._dtype, tape, OPS[name].code, input_node(tape, x), -1, 0.0)
        tape.add_params(t._node, [offset] + [s // item for s in out.strides])
    _as_view(t, x, out)
    return t


def _index(x, key):
    try:
        return _index_numpy(x, key)
    except IndexError as e:
        raise IndexError(_index_message(x, key, str(e))) from None


def _index_message(x, key, msg):
    """torch's text for numpy's indexing errors."""
    if msg.startswith("too many indices"):
        if x.dim() == 0:
            return ("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                    "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        return f"too many indices for tensor of dimension {x.dim()}"
    if msg.startswith("boolean index did not match"):
        keys = key if isinstance(key, tuple) else (key,)
        k, mask = next((k, m) for k, m in enumerate(keys) if isinstance(m, Tensor))
        return (f"The shape of the mask {list(mask._shape)} at index {k} does not match the "
                f"shape of the indexed tensor {list(x._shape)} at index {k}")
    if msg.startswith("arrays used as indices must be"):
        return "tensors used as indices must be long, int, byte or bool tensors"
    if msg.startswith("only integers, slices"):
        keys = key if isinstance(key, tuple) else (key,)
        bad = next((k for k in keys if not isinstance(k, (int, slice, type(None), type(...),
                                                         Tensor, list, np.ndarray))), None)
        return ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                f"are valid indices (got {type(bad).__name__})")
    return msg.replace(" for axis ", " for dimension ")


def _index_numpy(x, key):
    if not isinstance(key, tuple):
        key = (key,)
    if any(isinstance(k, str) for k in key):
        raise TypeError("new(): invalid data type 'str'")
    for k in key:
        if isinstance(k, Tensor) and k._rg:
            _bake(k, "guard_value")  # indices become constants of the recorded tape
    key = tuple((int(k.item()) if not k._shape and k._dtype in (D.int64, D.int32) else k._array())
                if isinstance(k, Tensor) else k for k in key)
    advanced = any(isinstance(k, (list, np.ndarray)) for k in key)
    base = _contiguous(x._array())
    if not advanced:
        for k in key:
            if isinstance(k, slice) and k.step is not None and k.step <= 0:
                raise ValueError("step must be greater than zero")
        if Ellipsis not in key:
            key = key + (Ellipsis,)  # numpy then returns a 0-d view, not a scalar copy
        if any(isinstance(k, (int, np.integer)) for k in key):
            name = "select"
        elif any(isinstance(k, slice) for k in key):
            name = "slice"
        else:
            name = "unsqueeze" if any(k is None for k in key) else "alias"
        try:
            out = base[key]
        except IndexError as e:
            raise IndexError(str(e).replace(" for axis ", " for dimension ")) from None
        if name in ("unsqueeze", "alias"):
            return _reshape_op(name, x, out.shape)
        return _strided(name, x, lambda a: a[key])
    idx = np.arange(base.size).reshape(base.shape)[key]
    out = base[key]
    tape = _record_start(x)
    if tape is None:
        return Tensor._wrap(np.asarray(out), x._dtype)
    t = _result(np.asarray(out), x._dtype, tape, OPS["index"].code, input_node(tape, x), -1, 0.0)
    tape.add_params(t._node, np.asarray(idx).reshape(-1))
    return t


def strided_scatter(g, shape, params):
    """Adjoint of a strided view (params = [offset, strides...] of the view `g` into a
    row-major tensor of `shape`): a tensor of `shape` with g added at the viewed positions."""
    flat = strided_positions(g._shape, params)
    return _scatter("strided_scatter", g, shape, flat, params)


def index_scatter(g, shape, index):
    """Adjoint of an advanced-indexing gather: g[i] added at flat position index[i]."""
    return _scatter("index_scatter", g, shape, np.asarray(index, np.int64), index)


def strided_positions(view_shape, params):
    """Flat positions of a strided view's elements (params = [offset, strides...])."""
    offset, strides = params[0], params[1:]
    pos = np.full(view_shape, offset, np.int64)
    for d, (s, st) in enumerate(zip(view_shape, strides)):
        pos += (np.arange(s) * st).reshape((s,) + (1,) * (len(view_shape) - d - 1))
    return pos.reshape(-1)


def _scatter(name, g, shape, flat, params):
    out = np.zeros(int(np.prod(shape)), dtype=g._dtype.np)
    np.add.at(out, flat, g._array().reshape(-1))
    out = out.reshape(shape)
    tape = _record_start(g)
    if tape is None:
        return Tensor._wrap(out, g._dtype)
    t = _result(out, g._dtype, tape, OPS[name].code, input_node(tape, g), -1, 0.0)
    tape.add_params(t._node, list(params))
    return t


def cat(tensors, dim=0):
    """Concatenate along `dim`: one `cat` entry whose operands are the N inputs (CatBackward0;
    tapegrad/kinds/cat.py), so each input's gradient is its block of the result's."""
    tensors = [t if isinstance(t, Tensor) else tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    nd = tensors[0].dim()
    for k, t in enumerate(tensors):
        if t.dim() == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {k}) cannot be "
                               f"concatenated")
        if t.dim() != nd:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and "
                               f"{t.dim()}")
    d = _dim(dim, nd)
    for k, t in enumerate(tensors):
        for j in range(nd):
            if j != d and t._shape[j] != tensors[0]._shape[j]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {tensors[0]._shape[j]} but got size "
                                   f"{t._shape[j]} for tensor number {k} in the list.")
    dt = _joined_dtype(tensors)
    out = np.concatenate([t._array() for t in tensors], axis=d, dtype=dt.np, casting="unsafe")
    return _join("cat", tensors, dt, out, [t._shape for t in tensors], d)


def stack(tensors, dim=0):
    """Join tensors of one shape along a new dimension `dim`: one `stack` entry
    (StackBackward0), laid out as a cat of the inputs unsqueezed at `dim`."""
    tensors = [t if isinstance(t, Tensor) else tensor(t) for t in tensors]
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for k, t in enumerate(tensors):
        if t._shape != tensors[0]._shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0]._shape)} at entry 0 and {list(t._shape)} at "
                               f"entry {k}")
    d = _dim(dim, tensors[0].dim() + 1)
    dt = _joined_dtype(tensors)
    out = np.stack([t._array() for t in tensors], axis=d, dtype=dt.np, casting="unsafe")
    shape = tensors[0]._shape
    return _join("stack", tensors, dt, out, [shape[:d] + (1,) + shape[d:]] * len(tensors), d)


def _joined_dtype(tensors):
    dt = tensors[0]._dtype
    for t in tensors[1:]:
        dt = D.result_type((dt, 2), (t._dtype, 2))
    return dt


def _join(name, tensors, dt, out, shapes, d):
    """Wrap cat/stack's result `out`; with a tape, one entry whose operands are the inputs
    (ia, ib, then the `arg` list) and whose params are their layout along `d` (`shapes`: the
    inputs' shapes as joined)."""
    tape = _record_start(*tensors)
    if tape is None:
        return Tensor._wrap(out, dt)
    nodes = []
    for t in tensors:
        if t._dtype is not dt:
            t = t.to(dt)
        if t._rg:
            node = input_node(tape, t)
        else:  # a constant operand: replay re-evaluates the result from it
            arr = t._array()
            if arr.size == 1:
                node = tape.push(OP_CONST, -1, -1, 0.0, float(arr.reshape(-1)[0]))
            else:
                node = tape.const_node(arr)
                tape.watch(node, t)
                tape.save(node, arr)
        nodes.append(node)
    res = _result(out, dt, tape, OPS[name].code, nodes[0], nodes[1] if len(nodes) > 1 else -1,
                  0.0)
    if len(nodes) > 2:
        tape.add_args(res._node, nodes[2:])
    tape.add_params(res._node, cat_kind.layout(shapes, d))
    return res


def _split(x, sections, dim, name=None):
    """split / split_with_sizes / unbind: views of x's pieces along dim.  Recorded as one
    split entry whose node holds the pieces packed, then one `output` entry per piece (a
    strided view of its block, cst = its output_nr): every piece shows the one split entry as
    its grad_fn, as torch's."""
    if not x._shape:
        raise RuntimeError(f"{'unbind' if name else 'split'} expects at least a 1-dimensional "
                           f"tensor")
    nd = len(x._shape)
    d = _dim(dim, nd)
    size = x._shape[d]
    if isinstance(sections, (list, tuple)):
        sizes = [int(s) for s in sections]
        if sum(sizes) != size or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
        name = name or "split_with_sizes"
    else:
        if not hasattr(sections, "__index__") or isinstance(sections, bool):
            raise TypeError(f"split(): argument 'split_size' must be int, not "
                            f"{type(sections).__name__}")
        step = int(sections)
        if step < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
        if step == 0 and size != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {size}")
        sizes = [min(step, size - s) for s in range(0, size, step)] if size else [step]
        name = "split"
    base = _contiguous(x._array())
    cuts = np.cumsum(sizes)[:-1]
    pieces = np.split(base, cuts, axis=d)
    if name == "unbind":
        pieces = [p.reshape(p.shape[:d] + p.shape[d + 1:]) for p in pieces]
    tape = _record_start(x)
    if tape is None:
        outs = [Tensor._wrap(p, x._dtype) for p in pieces]
    else:
        shape = x._shape
        packed = np.concatenate([p.reshape(-1) for p in pieces]) if pieces else base.reshape(-1)
        e = _result(packed, x._dtype, tape, OPS[name].code, input_node(tape, x), -1,
                    float(len(sizes)))
        tape.add_params(e._node, cat_kind.layout([shape[:d] + (s,) + shape[d + 1:]
                                                  for s in sizes], d))
        outs, start = [], 0
        for k, p in enumerate(pieces):
            strides = [math.prod(p.shape[j + 1:]) for j in range(p.ndim)] if p.size != 1 else []
            t = _result(p, x._dtype, tape, OUTPUT_CODE, e._node, -1, float(k))
            tape.add_params(t._node, [start] + strides)
            start += p.size
            outs.append(t)
    for t, p in zip(outs, pieces):
        _as_view(t, x, p)
    return tuple(outs)


def _max_min(x, dim, keepdim, name):
    """(values, indices) of max/min along `dim`.  values is one gather entry (MaxBackward0 /
    MinBackward0) reading the returned positions, so its gradient goes to the returned index
    (the first extreme, as torch on CPU); indices is int64 and needs no gradient."""
    if dim is None or isinstance(dim, Tensor):
        raise NotImplementedError(
            f"tapegrad: {name}() over all elements and {name}(input, other) are not implemented "
            f"yet; {name}(dim, keepdim=False) is")
    if not hasattr(dim, "__index__") or isinstance(dim, bool):
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"(dim={type(dim).__name__}), but expected (int dim, bool keepdim)")
    nd = len(x._shape)
    d = _dim(dim.__index__(), nd)
    if nd and x._shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    arr = x._array()
    a = arr if nd else arr.reshape(1)
    pick = np.argmax if name == "max" else np.argmin
    idx = pick(a, axis=d, keepdims=True)
    values = np.take_along_axis(a, idx, axis=d)
    pos = np.take_along_axis(np.arange(a.size).reshape(a.shape), idx, axis=d)
    kidx = idx
    if not keepdim or not nd:
        shape = x._shape[:d] + x._shape[d + 1:] if nd else ()
        idx, values, pos = idx.reshape(shape), values.reshape(shape), pos.reshape(shape)
    indices = Tensor._wrap(np.asarray(idx, np.int64), D.int64)
    pair = return_types.max if name == "max" else return_types.min
    tape = _record_start(x)
    if tape is None:
        return pair((Tensor._wrap(np.asarray(values), x._dtype), indices))
    t = _result(np.asarray(values), x._dtype, tape, OPS[name + "_dim"].code,
                input_node(tape, x), -1, 0.0)
    tape.add_params(t._node, pos.reshape(-1))
    if tape.recording and nd:
        _guard_extreme(x, t, kidx, d, name)
    return pair((t, indices))


def _guard_extreme(x, values, kidx, d, name):
    """While recording: the gather reads the positions found now, so a guard checks that
    they are still the first extreme along d (strictly beyond every element before, at least
    every one after); a replay where the argmax moved raises BranchChanged."""
    kshape = list(x._shape)
    kshape[d] = 1
    v = values.reshape(kshape)
    n = x._shape[d]
    ar = np.arange(n).reshape([n if j == d else 1 for j in range(len(kshape))])
    before = Tensor._wrap(ar < kidx, D.bool_)
    strict, loose = (x < v, x <= v) if name == "max" else (x > v, x >= v)
    bool(where(before, strict, loose).sum() == x.numel())


def _reduce(x, dim, keepdim, mean, dtype=None):
    shape = x._shape
    nd = len(shape)
    if dim is None:
        dims = tuple(range(nd))
        name = "mean" if mean else "sum"
        keepdim_eff = False
    elif isinstance(dim, (tuple, list)) and len(dim) == 0:  # torch: all dims, keepdim honoured
        dims = tuple(range(nd))
        name = "mean_dim" if mean else "sum_dim"
        keepdim_eff = keepdim
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        seen = set()
        for d in dims:
            if isinstance(d, int) and _dim(d, nd) in seen:
                raise RuntimeError(f"dim {_dim(d, nd)} appears multiple times in the list of dims")
            seen.add(_dim(d, nd) if isinstance(d, int) else d)
        dims = tuple(sorted({_dim(d, nd) for d in dims})) if nd else ()
        name = "mean_dim" if mean else "sum_dim"
        keepdim_eff = keepdim
    arr = x._array()
    if mean and not x._dtype.is_floating_point and dtype is None:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {x._dtype.legacy}")
    dt = dtype or (x._dtype if x._dtype.is_floating_point else D.int64)
    red = (np.mean if mean else np.sum)(arr, axis=dims, keepdims=keepdim_eff, dtype=dt.np)
    out = np.asarray(red, dtype=dt.np)
    tape = _record_start(x)
    if tape is None:
        return Tensor._wrap(out, dt)
    count = int(math.prod(shape[d] for d in dims)) if dims else 1
    kshape = [1 if i in dims else s for i, s in enumerate(shape)]
    t = _result(out, dt, tape, OPS[name].code, input_node(tape, x), -1,
                (1.0 / count if count else math.nan) if mean else 1.0)
    # (none for a one-element input: the tape treats it as 0-d, and tape files check that)
    tape.add_params(t._node, kshape if arr.size != 1 else [])
    return t


def matmul(x, y, name=None):
    """Matrix product with torch.matmul's rules for 1-d, 2-d and batched operands."""
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError("matmul(): argument 'other' (position 1) must be Tensor")
    nx, ny = len(x._shape), len(y._shape)
    if nx == 0 or ny == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{nx}D and {ny}D")
    if x._dtype is not y._dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_tname(x._dtype)} != {_tname(y._dtype)}")
    xa, ya = x._v, y._v
    if type(xa) is float:
        xa = x._array()
    if type(ya) is float:
        ya = y._array()
    try:
        out = np.matmul(xa, ya)
    except ValueError:
        if xa.ndim == 2 and ya.ndim == 1:
            raise RuntimeError(f"size mismatch, got input ({xa.shape[0]}), mat "
                               f"({xa.shape[0]}x{xa.shape[1]}), vec ({ya.shape[0]})") from None
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, xa.shape))} and {'x'.join(map(str, ya.shape))})") from None
    if type(out) is not np.ndarray:   # vector @ vector: a numpy scalar
        out = np.asarray(out)
    if not (x._rg or y._rg):
        return Tensor._wrap(out, x._dtype)
    tape = _tape_for(x, y)
    if tape is None:
        return Tensor._wrap(out, x._dtype)
    if nx == 1 and ny == 2:
        # torch: unsqueeze, mm, squeeze
        r = matmul(x.unsqueeze(0), y)
        return _reshape_op("squeeze_mm", r, r._shape[1:])
    if nx == 1 and ny == 1:
        name, params = "dot", [1, 1, xa.shape[0], 1, 0]
    elif nx == 2 and ny == 1:
        name, params = "mv", [1, xa.shape[0], xa.shape[1], 1, 0]
    elif nx == 2 and ny == 2:
        name, params = "mm", [1, xa.shape[0], xa.shape[1], ya.shape[1], 0]
    elif ny == 2 or (ny == 1 and nx > 2):
        k = xa.shape[-1]
        nn = ya.shape[1] if ny == 2 else 1
        name, params = "matmul", [1, xa.size // k, k, nn, 0]
    elif xa.shape[:-2] == ya.shape[:-2]:
        nb = int(math.prod(xa.shape[:-2]))
        name, params = name or "matmul", [nb, xa.shape[-2], xa.shape[-1], ya.shape[-1], 1]
    else:
        raise NotImplementedError("matmul with broadcast batch dimensions is not implemented yet")
    a, b = input_node(tape, x) if x._rg else None, input_node(tape, y) if y._rg else None
    if a is None:
        a = tape.const_node(xa)
        tape.watch(a, x)
    if b is None:
        b = tape.const_node(ya)
        tape.watch(b, y)
    tape.save(a, xa)
    tape.save(b, ya)
    t = _result(out, x._dtype, tape, OPS[name].code, a, b, 0.0)
    tape.add_params(t._node, params)
    if matmul_kind.runs_on_host(params):
        tape.set_host(t._node)
    return t


def bmm(x, y):
    """Batched matrix product of two 3-d tensors with equal batch size (BmmBackward0)."""
    if x.dim() != 3 or y.dim() != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if x._shape[0] != y._shape[0] or x._shape[2] != y._shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{x._shape[0]}, {x._shape[2]}] but got: [{y._shape[0]}, {y._shape[1]}].")
    return matmul(x, y, name="bmm")


def _cast_error(src, dst):
    """torch's error for an in-place result whose dtype cannot go into the tensor."""
    return RuntimeError(f"result type {src.legacy} can't be cast to the desired output type "
                        f"{dst.legacy}")


def _inplace_shape_error(shape, broadcast):
    return RuntimeError(f"output with shape [{', '.join(map(str, shape))}] doesn't match the "
                        f"broadcast shape [{', '.join(map(str, broadcast))}]")


def _setitem_shape_error(value, target, dt, advanced):
    """torch's error when a value of shape `value` cannot fill x[key] of shape `target`."""
    v, t = ", ".join(map(str, value)), ", ".join(map(str, target))
    if advanced:
        try:
            np.broadcast_shapes(value, target)
            return None
        except ValueError:
            return RuntimeError(f"shape mismatch: value tensor of shape [{v}] cannot be "
                                f"broadcast to indexing result of shape [{t}]")
    if len(value) > len(target):
        return RuntimeError(f"expand(tapegrad.{dt.legacy}Tensor{{[{v}]}}, size=[{t}]): the number "
                            f"of sizes provided ({len(target)}) must be greater or equal to the "
                            f"number of dimensions in the tensor ({len(value)})")
    for i in range(1, len(value) + 1):
        if value[-i] != 1 and value[-i] != target[-i]:
            return RuntimeError(f"The expanded size of the tensor ({target[-i]}) must match the "
                                f"existing size ({value[-i]}) at non-singleton dimension "
                                f"{len(target) - i}.  Target sizes: [{t}].  Tensor sizes: [{v}]")
    return None


def _tname(dt):
    return {"float32": "float", "float64": "double", "int64": "long", "int32": "int",
            "bool": "bool"}[dt.name]


# ---- creation ------------------------------------------------------------------------------------
def _leaf(arr, dt, requires_grad):
    if requires_grad and not dt.is_floating_point:
        raise RuntimeError(errors.NOT_FLOAT_CREATE)
    return Tensor._wrap(arr, dt, bool(requires_grad))


def _infer_dtype(data):
    """torch.tensor's dtype inference from nested Python data."""
    if isinstance(data, np.ndarray):
        return D.from_numpy_dtype(data.dtype)
    flat = np.asarray(data, dtype=object).reshape(-1) if not isinstance(data, (bool, int, float)) else [data]
    kinds = {type(v) for v in flat}
    if any(isinstance(v, Tensor) for v in flat):
        return None
    for k in kinds:
        if not issubclass(k, (bool, int, float, np.number, np.bool_)):
            _bad_data(data, k)
    if kinds and kinds <= {bool, np.bool_}:
        return D.bool_
    if kinds and all(isinstance(v, (bool, int, np.integer)) for v in flat):
        return D.int64
    return D.get_default_dtype()


def _bad_data(data, kind):
    """Raise torch.tensor's error for nested data holding a `kind` it cannot take."""
    if kind is str:
        raise TypeError("new(): invalid data type 'str'")
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


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new leaf tensor holding a copy of `data` (dtype inferred as torch does: float32 for
    floats, int64 for ints)."""
    if dtype is not None and not isinstance(dtype, DType):
        raise TypeError(f"tensor(): argument 'dtype' must be torch.dtype, not "
                        f"{type(dtype).__name__}")
    if isinstance(data, Tensor):
        arr = np.array(data._array(), copy=True)
        dt = dtype or data._dtype
    else:
        dt = dtype or _infer_dtype(data)
        if dt is None:  # a list of tensors
            data = [d._array() if isinstance(d, Tensor) else d for d in data]
            dt = D.get_default_dtype()
        arr = np.array(data, dtype=None if isinstance(data, np.ndarray) else None)
    arr = np.array(arr, dtype=dt.np, copy=True)
    return _leaf(arr, dt, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """`data` as a tensor: returned as is when it already is one with the requested dtype."""
    if isinstance(data, Tensor) and (dtype is None or dtype is data._dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or dtype.np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def from_numpy(arr):
    """A tensor sharing memory with the numpy array `arr`."""
    dt = D.from_numpy_dtype(arr.dtype)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._rg = arr, dt, arr.shape, None, False
    return t


def _filled(size, value, dtype, requires_grad, fn=None):
    dt = dtype or D.get_default_dtype()
    return _leaf(np.full(_size_args(size, fn), value, dtype=dt.np), dt, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of the given size filled with 0."""
    return _filled(size, 0, dtype, requires_grad, "zeros")


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of the given size filled with 1."""
    return _filled(size, 1, dtype, requires_grad, "ones")


def empty(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of the given size (tapegrad fills it with 0)."""
    return _filled(size, 0, dtype, requires_grad, "empty")


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of `size` filled with `fill_value`."""
    if dtype is None:
        dtype = D.scalar_dtype(fill_value)
    return _filled((tuple(size),), fill_value, dtype, requires_grad, "full")


def _like(x, value, dtype, requires_grad, fn):
    if not isinstance(x, Tensor):
        raise TypeError(errors.EXPECTED_TENSOR.format(fn=fn, arg="input", pos=1,
                                                      got=type(x).__name__))
    dt = dtype or x._dtype
    return _leaf(np.full(x._shape, value, dtype=dt.np), dt, requires_grad)


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    """zeros of `x`'s shape (and dtype unless given)."""
    return _like(x, 0, dtype, requires_grad, "zeros_like")


def ones_like(x, dtype=None, device=None, requires_grad=False):
    """ones of `x`'s shape (and dtype unless given)."""
    return _like(x, 1, dtype, requires_grad, "ones_like")


def empty_like(x, dtype=None, device=None, requires_grad=False):
    """An uninitialized tensor of `x`'s shape (tapegrad fills it with 0)."""
    return _like(x, 0, dtype, requires_grad, "empty_like")


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of `x`'s shape filled with `fill_value`."""
    return _like(x, fill_value, dtype, requires_grad, "full_like")


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from `start` to `end` (exclusive) by `step`, as torch.arange."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = D.int64 if all(isinstance(v, int) for v in (start, end, step)) else D.get_default_dtype()
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    return _leaf(np.arange(start, end, step).astype(dtype.np), dtype, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """`steps` evenly spaced values from `start` to `end` inclusive."""
    dt = dtype or D.get_default_dtype()
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return _leaf(np.linspace(start, end, steps).astype(dt.np), dt, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """A 2-d tensor with ones on the diagonal."""
    dt = dtype or D.get_default_dtype()
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    return _leaf(np.eye(n, m).astype(dt.np), dt, requires_grad)


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


# ---- two-argument functions and decomposition rows: argument checks, and the shift -------------
def atan2(input, other):
    """Elementwise atan2(input, other) (Atan2Backward0)."""
    _tensor_operand("atan2", input, 1, "input")
    _tensor_operand("atan2", other, 2)
    return input.atan2(other)


def hypot(input, other):
    """Elementwise sqrt(input**2 + other**2) (HypotBackward0)."""
    _tensor_operand("hypot", input, 1, "input")
    _tensor_operand("hypot", other, 2)
    return input.hypot(other)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(input), dim)), computed stably (LogsumexpBackward0)."""
    _tensor_operand("logsumexp", input, 1, "input")
    return input.logsumexp(dim, keepdim)


def softmax(input, dim, dtype=None):
    """exp(input) normalized along dim (SoftmaxBackward0)."""
    _tensor_operand("softmax", input, 1, "input")
    return input.softmax(dim, dtype)


def log_softmax(input, dim, dtype=None):
    """log(softmax(input, dim)) (LogSoftmaxBackward0)."""
    _tensor_operand("log_softmax", input, 1, "input")
    return input.log_softmax(dim, dtype)


def _tensor_operand(fname, x, pos, name="other"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{type(x).__name__}")


def _hypot_dtype(x, y):
    dt = D.result_type((x._dtype, 2 if x._shape else 1), (y._dtype, 2 if y._shape else 1))
    if not dt.is_floating_point:
        raise NotImplementedError(f'"hypot_cpu" not implemented for \'{dt.legacy}\'')


def _reduce_dims(fname, dim, nd):
    """dim (an int or a sequence of ints) as sorted non-negative dims, with torch's errors;
    () for a 0-d tensor."""
    if hasattr(dim, "__index__") and not isinstance(dim, bool):
        dims = [dim]
    elif isinstance(dim, (tuple, list)) and all(hasattr(d, "__index__") for d in dim):
        dims = list(dim)
    else:
        raise TypeError(f"{fname}(): argument 'dim' (position 1) must be tuple of ints, not "
                        f"{type(dim).__name__}")
    if not dims and nd:   # torch's own error for an empty dim list
        raise RuntimeError(f"output with shape [] doesn't match the broadcast shape {[1] * nd}")
    seen = []
    for d in dims:
        d = _dim(int(d), nd)
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.append(d)
    return tuple(sorted(seen)) if nd else ()


def _softmax(name, x, dim, dtype):
    if not hasattr(dim, "__index__") or isinstance(dim, bool):
        raise TypeError(f"{name}(): argument 'dim' (position 1) must be int, not "
                        f"{type(dim).__name__}")
    nd = x.dim()
    d = _dim(int(dim), nd)
    if dtype is not None:
        x = x.to(dtype)
    if not x._dtype.is_floating_point:
        last = "lastdim_" if d == max(nd, 1) - 1 else ""
        raise NotImplementedError(f'"{name}_{last}kernel_impl" not implemented for '
                                  f"'{x._dtype.legacy}'")
    body = decomps.softmax if name == "softmax" else decomps.log_softmax
    return decomps.record(name, body, KIND_OPS, x, d)


def max_shift(x, dims, zero_inf):
    """The shift of a stable softmax/logsumexp: the maximum of x over `dims`, keepdim shape,
    NaN propagating, infinite maxima 0 when `zero_inf` (torch's logsumexp).  A constant (no
    gradient); recorded as a `max_shift` entry only while tracing, so a replay recomputes it."""
    arr = x._array()
    dims = tuple(dims) if x._shape else ()   # a 0-d tensor's dim 0 is itself
    with np.errstate(invalid="ignore"):
        m = np.amax(arr, axis=dims, keepdims=True, initial=-np.inf) if dims else arr.copy()
    if zero_inf:
        m = np.where(np.isinf(m), 0, m)
    m = np.asarray(m, dtype=x._dtype.np)
    tape = _tracing(x)
    if tape is None:
        return Tensor._wrap(m, x._dtype)
    t = _result(m, x._dtype, tape, OPS["max_shift"].code, input_node(tape, x), -1,
                1.0 if zero_inf else 0.0)
    # the keepdim shape, as reduce's params (none for a one-element input: 0-d to the tape)
    tape.add_params(t._node, [1 if d in dims else s for d, s in enumerate(x._shape)]
                    if arr.size != 1 else [])
    t._flags = NODIFF
    return t


# The formula vocabulary on tensors (create_graph's backward, re-running a recorded program):
# every step is a recorded op, so derivatives of any order come out of the same table.
FORMULA_NS = vocab.tensor_namespace(where, lambda x: isinstance(x, Tensor),
                                    lambda name, x, y: _binary(OPS[name].code, x, y))
# The tensor functions the kinds' tensor faces use (tapegrad.kinds), handed to them as `T`.
KIND_OPS = types.SimpleNamespace(strided_scatter=strided_scatter, index_scatter=index_scatter,
                                 strided_positions=strided_positions, cat=cat,
                                 max_shift=max_shift)
