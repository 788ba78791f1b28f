"""Tensor's methods that record n-d ops (defined here, above the ops they call, and added
to the class by `tensor_methods`): dtype conversion, matmul/mm/mv/dot/bmm, comparisons,
reductions, shape and indexing."""
import functools
import math
import operator
import warnings

import numpy as np

from . import decomps, devices as _device, dtypes as D, errors, layouts, mathops
from .creation import empty_strided, tensor
from .dtypes import dtype as DType
from .errors import _tname_legacy
from .multiprocessing._storage import is_shared, share_tensors
from .ndops import bmm, _cast, _compare, _logsumexp_pass, matmul, _max_min, _reduce, _softmax, \
    _softmax_entry, where
from .parameter import Parameter
from .pyfunc import Function
from .tape import bump_version, INFERENCE_MADE, refuse_inference_index, share_counter
from .native_args import arg_error, dim_form_error, given, missing, MISSING, overloads, parsed
from .tensor import (_bool_size, _contiguous, _dim, _infer_shape, _int_arg, _int_list, _is_dim_item, _is_int_item, NODIFF, OPERAND_TYPES, _reduce_dims,
                     Tensor, _tensor_operand, tensor_methods)
from .tracing import _tracing
from .recording import keep_args
from .views import _as_strided, _index, KIND_OPS, _reshape_op, _split, _strided, \
    _strided_view, strided_over, view_strides


# torch's signatures of Tensor.set_, as its parser's TypeError lists them ({bad}: the line
# under those one argument fails by its type)
_SET_SIGNATURES = (
    " * (){bad}\n"
    " * (torch.Storage source){bad}\n"
    " * (torch.Storage source, int storage_offset, tuple of ints size, tuple of ints stride = "
    "None)\n"
    " * (Tensor source){bad}\n"
    " * (Tensor source, int storage_offset, tuple of ints size, tuple of ints stride = None)\n")


def _compared(name, x, y):
    """A comparison method: the operator's NotImplemented (y no tensor, number or array) as
    torch's TypeError."""
    r = _compare(name, x, y)
    if r is NotImplemented:
        raise errors.tensor_or_number(name, y)
    return r


def _reshape_to(x, shape):
    """x.reshape(shape) for a shape already checked against x's size (reshape, flatten)."""
    v = x._v
    if type(v) is not float and not v.flags.c_contiguous:
        # a view where the strides allow one (torch's _reshape_alias: an in-place change
        # of either shows in the other), else a copy (torch's clone + _unsafe_view)
        out = v.view()
        try:
            out.shape = shape
        except AttributeError:
            c = _contiguous(v)
            if x._recorded:   # (torch's graph: UnsafeViewBackward0 -> CloneBackward0 -> x's)
                x = _reshape_op("clone", x, x._shape, c)
            return _reshape_op("unsafe_view", x, shape, c.reshape(shape))
        return _reshape_op("reshape_alias", x, shape, _size1_strided(v, shape, out))
    return _reshape_op("view", x, shape,
                       strides=_size1_strides(v, shape) if 1 in shape else None)


def _size1_strides(v, shape):
    """torch's byte strides for view/reshape of array v into `shape` where numpy's may place
    a dim of size 1 otherwise (views.view_strides); None where they agree (no dim of size 1,
    a number, an empty array, and an array owning its row-major memory: numpy's reshape of
    one gives torch's strides, and computing them cost view/reshape ~3 us a call)."""
    if 1 in shape and type(v) is not float and v.size and (
            v.base is not None or not v.flags.c_contiguous):
        return view_strides(v.shape, v.strides, shape, v.itemsize)
    return None


def _size1_strided(v, shape, out):
    """`out`, numpy's view of v in `shape`, with torch's strides (_size1_strides)."""
    st = _size1_strides(v, shape)
    return out if st is None or st == out.strides else strided_over(v, shape, st)


def _permutation(dims, nd):
    """permute's dims (ints) as non-negative dims, checked in torch's order: their number,
    then each dim's range and whether an earlier one was the same."""
    if len(dims) != nd:
        raise RuntimeError("permute(sparse_coo): number of dimensions in the tensor input does "
                           "not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    perm = []
    for d in dims:
        d = _dim(d, nd)
        if d in perm:
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        perm.append(d)
    return tuple(perm)


# (permute's dims as given, all Python ints; the tensor's number of dims) -> the checked
# permutation: the checks run once per spelling and number of dims
_PERMS = {}
_REVERSED = tuple(tuple(range(nd - 1, -1, -1)) for nd in range(9))   # (Tensor.T's dims)


def _to_dtype(t, dtype):
    """`t` in `dtype`: `t` itself where it has it (torch's .to without copy), else a cast
    (ToCopyBackward0)."""
    return t if dtype is t._dtype else _cast(t, dtype)


# (torch's split() given a bool split_size: its parser's message, dim shown as an int)
_SPLIT_BOOL = ("split() received an invalid combination of arguments - got (Tensor, bool, int), "
               "but expected one of:\n * (Tensor input, int split_size, int dim = 0)\n      "
               "didn't match because some of the arguments have invalid types: (Tensor, !bool!, "
               "!int!)\n * (Tensor input, tuple of ints split_size, int dim = 0)\n      didn't "
               "match because some of the arguments have invalid types: (Tensor, !bool!, !int!)\n")


@tensor_methods
class _OpMethods:
    """Tensor's methods that record n-d ops: dtype conversion, matrix products, comparisons,
    reductions, shape and indexing."""

    def as_subclass(self, cls):
        """torch's view of self as an instance of a subclass: not supported (see
        errors.subclass_not_supported)."""
        if cls is Tensor:
            return self[...]      # (an alias: AliasBackward0, as torch's)
        raise errors.subclass_not_supported(cls)

    @staticmethod
    def _make_subclass(cls, data, require_grad=False, *args, **kwargs):
        """torch's constructor of subclass instances: not supported, as as_subclass."""
        raise errors.subclass_not_supported(cls)

    def detach(self):
        tape = _tracing(self)
        if tape is not None:  # while recording, a detached value still follows the inputs
            t = _reshape_op("stopgrad", self, self._shape)
            t._flags = NODIFF
            return t
        t = Tensor._share(self, self._materialize())
        share_counter(t, self)   # unlike .data, detach() shares the version counter
        if self._tape is not None:   # so a change through t is seen by the version check
            self._tape.watch(self._node, self)
        return t

    # ---- shared memory (tapegrad.multiprocessing) ------------------------------------------
    def share_memory_(self):
        """Move the storage into shared memory in place (a no-op when it is there already):
        this tensor and every view of its storage then use memory that child processes share
        (forked ones, and those a Queue sends it to).  Returns self."""
        share_tensors([self])
        return self

    def is_shared(self):
        """Whether the storage is in shared memory (share_memory_)."""
        return is_shared(self)

    def untyped_storage(self):
        """torch's storage object: none here (a tensor's elements are a numpy array, reached
        by numpy() and data_ptr())."""
        raise NotImplementedError(
            "tapegrad has no storage objects: Tensor.untyped_storage() (use numpy(), "
            "data_ptr() or clone())")

    def storage(self):
        """torch's (deprecated) typed storage: none here, as untyped_storage."""
        raise NotImplementedError(
            "tapegrad has no storage objects: Tensor.storage() (use numpy(), data_ptr() or "
            "clone())")

    def set_(self, source=None, *args, **kwargs):
        """torch's set_(source): this tensor takes source's memory (shared from now on), shape
        and strides, an in-place change counted in its version; set_() makes it empty.  The
        storage forms (a storage, or an offset, size and strides) need storage objects, which
        tapegrad has not; a set_ autograd would record (torch's node has no derivative) and
        one of a tensor with autograd history are refused (NotImplementedError)."""
        if args or kwargs:
            raise NotImplementedError("tapegrad has no storage objects: Tensor.set_(source, "
                                      "storage_offset, size, stride) (use as_strided)")
        if source is not None and not isinstance(source, Tensor):
            bad = ("\n      didn't match because some of the arguments have invalid types: "
                   f"(!{errors.parser_arg_desc(source)}!)")
            raise TypeError(f"set_() received an invalid combination of arguments - got "
                            f"({errors.got_args((source,), {})}), but expected one of:\n"
                            + _SET_SIGNATURES.format(bad=bad))
        if source is None:
            source = Tensor._wrap(np.empty((0,), self._dtype.np), self._dtype)
        elif source._dtype is not self._dtype:
            raise RuntimeError(f"Could not set tensor of type {errors._C_TYPE[source._dtype.name]}"
                               f" to a tensor of type {errors._C_TYPE[self._dtype.name]}")
        # (the leaf's and the views' errors first, as torch's in-place check)
        if self._check_inplace(source) or self._tape is not None:
            raise NotImplementedError(
                "Tensor.set_ of a tensor with autograd history, or that autograd would record "
                "(grad mode on and source requires grad), is not supported: torch's node for "
                "it has no derivative; use it under no_grad on a leaf or on tensors that need "
                "no gradient")
        bump_version(self)
        self._v = source._materialize()   # (a number held: an array now, which both share)
        self._shape = source._shape
        self._lserial = 0  # a later use records the new value (tape.leaf_node)
        return self

    # ---- dtype conversion (recorded as ToCopyBackward0) ------------------------------------
    def to(self, *args, **kwargs):
        if not kwargs:   # (the usual calls: a dtype, or a tensor whose dtype to take)
            if len(args) == 1:
                a = args[0]
                if type(a) is DType:
                    return _to_dtype(self, a)
                if isinstance(a, Tensor):
                    return _to_dtype(self, a._dtype)
        elif not args and len(kwargs) == 1 and type(kwargs.get("dtype")) is DType:
            return _to_dtype(self, kwargs["dtype"])
        given = _device.parse_to(args, kwargs)
        _device.check(given.get("device"))
        layouts.check("to", len(self._shape), None, given.get("memory_format"))
        dtype = given.get("dtype")
        if given.get("copy") and (dtype is None or dtype is self._dtype):
            return self.clone()
        return self if dtype is None else _to_dtype(self, dtype)

    def type(self, dtype=None):
        if dtype is None:
            return f"tapegrad.{self._dtype.legacy}Tensor"
        if isinstance(dtype, str):
            named = {f"{m}.{d.legacy}Tensor": d for d in D.ALL for m in ("tapegrad", "torch")}
            if dtype not in named:
                raise ValueError(f"invalid type: '{dtype}'")
            dtype = named[dtype]
        elif isinstance(getattr(dtype, "dtype", None), DType):   # FloatTensor & co
            dtype = dtype.dtype
        elif isinstance(dtype, type):   # (torch's: a Python type is no tensor type)
            name = dtype.__name__ if dtype.__module__ == "builtins" else \
                f"{dtype.__module__}.{dtype.__qualname__}"
            raise ValueError(f"invalid type: '{name}'")
        elif not isinstance(dtype, DType):
            raise TypeError("dtype must be a type, str, or dtype object")
        return self.to(dtype)

    def float(self):
        return _to_dtype(self, D.float32)

    def double(self):
        return _to_dtype(self, D.float64)

    def long(self):
        return _to_dtype(self, D.int64)

    def int(self):
        return _to_dtype(self, D.int32)

    def short(self):
        return _to_dtype(self, D.int16)

    def char(self):
        return _to_dtype(self, D.int8)

    def byte(self):
        return _to_dtype(self, D.uint8)

    def bool(self):
        return _to_dtype(self, D.bool_)

    def cpu(self, memory_format=None):
        return self

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """Raises: tapegrad has no CUDA backend (torch's CPU build's error)."""
        raise AssertionError(_device.NO_CUDA)

    def xpu(self, device=None, non_blocking=False, *, memory_format=None):
        """Raises, as torch's CPU build (as `.to("xpu")`)."""
        _device.unavailable(_device.device("xpu"))

    def ipu(self, device=None, non_blocking=False, *, memory_format=None):
        _device.unavailable(_device.device("ipu"))

    def mtia(self, device=None, non_blocking=False, *, memory_format=None):
        _device.unavailable(_device.device("mtia"))

    def contiguous(self, *, memory_format=None):
        layouts.check("contiguous", len(self._shape), None, memory_format)
        v = self._v
        if type(v) is float or v.flags.c_contiguous:
            return self
        return _reshape_op("clone", self, self._shape, _contiguous(v))

    def __matmul__(self, other):
        if not isinstance(other, OPERAND_TYPES):
            return NotImplemented   # (Python then asks other, as torch's)
        return matmul(self, other)

    def __rmatmul__(self, other):
        if not isinstance(other, OPERAND_TYPES):
            return NotImplemented
        return matmul(tensor(other), self)

    def matmul(self, other=MISSING):
        try:
            return matmul(self, other)
        except TypeError:   # (the function's complaint counts `self`: the method's here)
            err = arg_error("matmul", True, given(other))
            if err is None:
                raise
            raise err from None

    def mm(self, mat2=MISSING):
        if not isinstance(mat2, Tensor):
            raise arg_error("mm", True, given(mat2))
        if len(self._shape) != 2:
            raise RuntimeError("self must be a matrix")
        if len(mat2._shape) != 2:
            raise RuntimeError("mat2 must be a matrix")
        return matmul(self, mat2)

    def mv(self, vec):
        _tensor_operand("mv", vec, 1, "vec")
        if self.dim() != 2 or vec.dim() != 1 or self._shape[1] != vec._shape[0]:
            if self.dim() == 2 and vec.dim() == 1:
                raise RuntimeError(f"size mismatch, got input ({self._shape[0]}), mat "
                                   f"({self._shape[0]}x{self._shape[1]}), vec ({vec._shape[0]})")
            raise RuntimeError(f"vector + matrix @ vector expected, got 1, {self.dim()}, "
                               f"{vec.dim()}")
        return matmul(self, vec)

    def dot(self, tensor=MISSING):
        if tensor is MISSING:
            raise missing("dot", ["tensor"])
        other = tensor
        _tensor_operand("dot", other, 1, "tensor")
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

    def bmm(self, mat2):
        _tensor_operand("bmm", mat2, 1, "mat2")
        return bmm(self, mat2)

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

    def where(self, condition=MISSING, other=MISSING):
        if other is MISSING:
            raise arg_error("where", True, given(condition))
        return where(condition, self, other)

    def logical_and(self, other):
        # (& and the other bitwise operators: tapegrad/bitwise.py)
        _tensor_operand("logical_and", other, 1)
        return _compare("logical_and", self, other)

    def lt(self, other):
        return _compared("lt", self, other)

    def le(self, other):
        return _compared("le", self, other)

    def gt(self, other):
        return _compared("gt", self, other)

    def ge(self, other):
        return _compared("ge", self, other)

    def eq(self, other):
        return _compared("eq", self, other)

    def ne(self, other):
        return _compared("ne", self, other)

    # ---- reductions ------------------------------------------------------------------------
    def sum(self, dim=MISSING, keepdim=MISSING, *, dtype=None):
        # (dim=None given is torch's sum.dim_IntList overload: every dim, SumBackward1)
        if keepdim.__class__ is not bool:   # (torch's parser takes no int, None or numpy bool)
            if keepdim is not MISSING:
                raise arg_error("sum", True, given(dim, keepdim))
            keepdim = False
        elif dim is MISSING:   # (keepdim without dim: only the dim form takes it)
            raise dim_form_error("sum", True, (), dim, keepdim, dtype=dtype)
        if dtype is not None:
            dtype = _reduction_dtype("sum", dtype, dim, keepdim)
        dim = None if dim is MISSING else () if dim is None else dim
        if not (dim is None or hasattr(dim, "__index__") and not isinstance(dim, bool) or
                isinstance(dim, (tuple, list))) and keepdim is False and dtype is None:
            raise TypeError(errors.SUM_ARGS.format(got=type(dim).__name__))
        return _reduce(self, dim, keepdim, mean=False, dtype=dtype)

    def split(self, split_size_or_sections, dim=0):
        """Pieces of split_size_or_sections along dim (an int: that size, the last may be
        smaller; a list: those sizes), as views; one SplitBackward0 for all of them."""
        size = split_size_or_sections
        if size.__class__ is not int and not isinstance(size, (list, tuple)):
            # torch's Tensor.split (Python): an int goes to split (which refuses a bool), a
            # tensor by int() when it has one element, anything else (a numpy integer, a
            # float) to split_with_sizes, whose parser refuses it
            if isinstance(size, bool):
                raise TypeError(_SPLIT_BOOL)
            if isinstance(size, Tensor) and size.numel() == 1:
                size = int(size)
            elif not isinstance(size, int):
                raise TypeError(f"split_with_sizes(): argument 'split_sizes' (position 2) must "
                                f"be tuple of ints, not {errors.type_name(size)}")
        return _split(self, size, dim)

    def unsafe_split(self, split_size, dim=0):
        """split, whose pieces autograd does not treat as views (UnsafeSplitBackward0)."""
        return _split(self, split_size, dim, unsafe=True)

    def unsafe_split_with_sizes(self, split_sizes, dim=0):
        """split by sizes, pieces not views to autograd (UnsafeSplitWithSizesBackward0)."""
        return _split(self, list(split_sizes), dim, unsafe=True)

    def unsafe_chunk(self, chunks, dim=0):
        """chunk, whose pieces autograd does not treat as views (UnsafeSplitBackward0)."""
        return self.chunk(chunks, dim, _unsafe=True)

    def chunk(self, chunks, dim=0, _unsafe=False):
        """At most `chunks` pieces of equal size along dim (SplitBackward0, as torch)."""
        _int_arg(chunks, "chunk", "chunks")
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        if not self._shape:
            raise RuntimeError("chunk expects at least a 1-dimensional tensor")
        size = self._shape[_dim(dim, len(self._shape))]
        if size == 0:   # (torch: `chunks` empty pieces, split by sizes)
            return _split(self, [0] * chunks, dim, unsafe=_unsafe)
        return _split(self, max(-(-size // chunks), 1), dim, unsafe=_unsafe)

    def unbind(self, dim=0):
        """The slices along dim, that dim removed (UnbindBackward0)."""
        if not self._shape:   # (torch: its range error first, then the wrapped dim's)
            raise IndexError(f"Dimension specified as {_dim(dim, 0, 'unbind')} but tensor has "
                             f"no dimensions")
        d = _dim(dim, len(self._shape), "unbind")
        return _split(self, [1] * self._shape[d], d, name="unbind")

    def max(self, *args, **kwargs):
        """max() over all elements, max(other) (maximum), or max(dim, keepdim=False) ->
        (values, indices), a return_types.max."""
        return _extreme(self, args, kwargs, True)

    def min(self, *args, **kwargs):
        """min() over all elements, min(other) (minimum), or min(dim, keepdim=False) ->
        (values, indices), a return_types.min."""
        return _extreme(self, args, kwargs, False)

    def mean(self, dim=MISSING, keepdim=MISSING, *, dtype=None):
        # (dim=None given is torch's mean.dim overload: every dim, MeanBackward1)
        if keepdim.__class__ is not bool:
            if keepdim is not MISSING:
                raise arg_error("mean", True, given(dim, keepdim))
            keepdim = False
        elif dim is MISSING:   # (keepdim without dim: only the dim form takes it)
            raise dim_form_error("mean", True, (), dim, keepdim, dtype=dtype)
        if dtype is not None:
            dtype = _reduction_dtype("mean", dtype, dim, keepdim)
        dim = None if dim is MISSING else () if dim is None else dim
        if dtype is not None and not dtype.is_floating_point:
            raise RuntimeError(f"mean(): could not infer output dtype. Optional dtype must be "
                               f"either a floating point or complex dtype. Got: {dtype.legacy}")
        return _reduce(self, dim, keepdim, mean=True, dtype=dtype)

    # ---- decomposition rows (tapegrad/decomps.py): primitives shown as one grad_fn ----------
    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(self), dim)), computed stably (LogsumexpBackward0)."""
        if type(keepdim) is not bool:
            raise arg_error("logsumexp", True, (dim, keepdim))
        nd = self.dim()
        if isinstance(dim, (tuple, list)) and not dim and nd:
            # torch 2.13 reduces over every dim for dim=(); without keepdim its addition of
            # the kept maxima (shape [1] * nd) to the result fails, except on an empty input
            # (which takes no maxima)
            if not keepdim and self.numel():
                raise RuntimeError(f"output with shape [] doesn't match the broadcast shape "
                                   f"{[1] * nd}")
            dim = tuple(range(nd))
        dims = _reduce_dims("logsumexp", dim, nd)
        x = self if self._dtype.is_floating_point else self.to(D.get_default_dtype())
        out = _logsumexp_pass(x, dims, bool(keepdim))
        if out is None:
            out = decomps.record("logsumexp", decomps.logsumexp, KIND_OPS, x, dims,
                                 bool(keepdim))
        return keep_args(out, keepdim=keepdim, dim=(int(dim),) if hasattr(dim, "__index__")
                         else tuple(int(d) for d in dim))

    def softmax(self, dim, dtype=None):
        """exp(self) normalized along dim, computed stably (SoftmaxBackward0)."""
        if type(dim) is int and dtype is None and (type(self) is Tensor or
                                                   type(self) is Parameter):
            nd = len(self._shape)      # (_softmax's checks, then its entry)
            if -nd <= dim < nd and self._dtype.is_floating_point:
                return _softmax_entry(self, dim % nd, False, dim=dim)
        if dtype is not None:
            dtype = D.as_dtype(dtype, "softmax")
        return _softmax("softmax", self, dim, dtype)

    def log_softmax(self, dim, dtype=None):
        """log(softmax(self, dim)), computed stably (LogSoftmaxBackward0)."""
        if type(dim) is int and dtype is None and (type(self) is Tensor or
                                                   type(self) is Parameter):
            nd = len(self._shape)      # (_softmax's checks, then its entry)
            if -nd <= dim < nd and self._dtype.is_floating_point:
                return _softmax_entry(self, dim % nd, True, dim=dim)
        if dtype is not None:
            dtype = D.as_dtype(dtype, "log_softmax")
        return _softmax("log_softmax", self, dim, dtype)

    # ---- shape -----------------------------------------------------------------------------
    def reshape(self, *shape):
        if not shape:
            raise TypeError('reshape() missing 1 required positional arguments: "shape"')
        for s in shape:   # (spread Python ints, the common case, as they are)
            if s.__class__ is not int:
                shape = _int_list(shape, "reshape", "shape")
                break
        v = self._v
        return _reshape_to(self, _infer_shape(shape, 1 if type(v) is float else v.size))

    def view(self, *shape, dtype=None):
        if dtype is not None:   # (torch's view(torch.dtype dtype) form, by keyword)
            if shape:
                raise arg_error("view", True, shape, {"dtype": dtype})
            shape = (dtype,)
        if len(shape) == 1 and type(shape[0]) is not int:
            _bool_size(shape[0])   # (its parser takes a bool tensor; the conversion refuses it)
            if not (hasattr(shape[0], "__index__") or isinstance(shape[0], (tuple, list, DType))):
                raise TypeError(errors.VIEW_ARGS.format(got=type(shape[0]).__name__))
            if isinstance(shape[0], DType):
                return self._view_dtype(shape[0])
            if isinstance(shape[0], (tuple, list)):
                if shape[0] and not _is_int_item(shape[0][0], True):   # (no form matches)
                    why = (f"      didn't match because some of the arguments have invalid "
                           f"types: (!{errors.parser_arg_desc(shape[0])}!)\n")
                    raise TypeError(f"view() received an invalid combination of arguments - "
                                    f"got ({type(shape[0]).__name__}), but expected one of:\n"
                                    f" * (torch.dtype dtype)\n{why} * (tuple of ints size)\n"
                                    + why)
                shape = _int_list(shape, "view", "size")
        elif not shape or type(shape[0]) is not int and not _is_int_item(shape[0], True):
            # (none, or the first of spread ints)
            if shape:
                _bool_size(shape[0])
            raise arg_error("view", True, shape)
        v = self._v
        for s in shape:   # (Python ints, the common case, as they are; else converted)
            if s.__class__ is not int:
                for t in shape:   # (a bool tensor: taken by the parser, refused converted)
                    _bool_size(t)
                try:
                    shape = tuple(map(operator.index, shape))
                except TypeError:   # (a float among spread ints: torch's message, not int()'s)
                    _int_list(shape, "view", "size")
                    raise
                break
        shape = _infer_shape(shape, 1 if type(v) is float else v.size)   # (numel, inline)
        if type(v) is float or v.flags.c_contiguous:
            # (_size1_strides' test inline: view is hot, its frames counted)
            return _reshape_op("view", self, shape,
                               strides=_size1_strides(v, shape) if 1 in shape else None)
        # a strided tensor: a view where its strides allow one without a copy (numpy's rule
        # for a reshape in place, torch's for view: dims split or merged within contiguous runs)
        out = v.view()
        try:
            out.shape = shape
        except AttributeError:
            raise RuntimeError("view size is not compatible with input tensor's size and stride "
                               "(at least one dimension spans across two contiguous subspaces). "
                               "Use .reshape(...) instead.") from None
        return _reshape_op("view", self, shape, _size1_strided(v, shape, out))

    def _view_dtype(self, dt):
        """The same memory read as dtype dt: torch's view(dtype), an alias outside autograd
        (as detach(), it shares the version counter); a different element size rescales the
        last dimension, which must then be dense."""
        if _tracing(self) is not None:
            raise NotImplementedError("view(dtype) reinterprets memory, which a recorded tape "
                                      "cannot replay")
        old, new = self._dtype.itemsize, dt.itemsize
        if old != new:
            what = (f"to view {self._dtype.legacy} as {dt.legacy} (different element sizes)")
            if not self._shape:
                raise RuntimeError(f"self.dim() cannot be 0 {what}")
            if self.stride(-1) != 1:
                raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got "
                                   f"{self.stride(-1)}")
            if new > old:
                ratio = new // old
                checks = [("self.size(-1)", self._shape[-1]),
                          ("self.storage_offset()", self.storage_offset())]
                checks += [(f"self.stride({i})", st) for i, st in enumerate(self.stride()[:-1])]
                for name, n in checks:
                    if n % ratio:
                        raise RuntimeError(f"{name} must be divisible by {ratio} {what}, but "
                                           f"got {n}")
        t = Tensor._share(self, self._materialize().view(dt.np))
        t._dtype = dt
        t._shape = t._v.shape
        share_counter(t, self)
        if self._tape is not None:
            self._tape.watch(self._node, self)
        return t

    def view_as(self, other):
        _tensor_operand("view_as", other, 1)
        return self.view(other.shape)

    def reshape_as(self, other):
        _tensor_operand("reshape_as", other, 1)
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        nd = len(self._shape)
        # (0 and -1 for a 0-d tensor; _dim's common case inline: Python ints in range)
        s = start_dim % nd if start_dim.__class__ is int and -nd <= start_dim < nd else \
            _dim(start_dim, nd, "flatten", "start_dim")
        e = end_dim % nd if end_dim.__class__ is int and -nd <= end_dim < nd else \
            _dim(end_dim, nd, "flatten", "end_dim", 2)
        if nd == 0:
            return self.reshape(1)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if s == e:
            return self
        shp = self._shape
        return _reshape_to(self, shp[:s] + (int(math.prod(shp[s:e + 1])),) + shp[e + 1:])

    def unsqueeze(self, dim):
        n = len(self._shape) + 1
        # (_dim's common case inline: a Python int in range)
        d = dim % n if dim.__class__ is int and -n <= dim < n else _dim(dim, n, "unsqueeze")
        shape = self._shape[:d] + (1,) + self._shape[d:]
        v = self._v
        # torch's stride for the new dim: the next dim's extent, or 1 past the last, the others
        # kept; numpy's reshape gives the last one the stride before it, a row-major array's
        # dims of size 1 row-major strides (and an empty array its own)
        if type(v) is not float:
            if v.size:
                st = v.strides
            else:
                st = tuple(s * v.itemsize for s in self.stride())
            st = st[:d] + (self._shape[d] * st[d] if d < v.ndim else v.itemsize,) + st[d:]
            return keep_args(_reshape_op("unsqueeze", self, shape, strides=st), dim=int(dim))
        return keep_args(_reshape_op("unsqueeze", self, shape), dim=int(dim))

    def _squeezed_strides(self, kept):
        """torch's byte strides of a squeeze of an empty tensor (self) keeping dims `kept`
        (numpy's reshape of an empty array places them its own way)."""
        st = self.stride()
        return tuple(st[i] * self._v.itemsize for i in kept)

    def squeeze(self, dim=None, *dims):
        if dims:   # (x.squeeze(0, 2): the method's dims spread, as torch's parser takes them)
            dim = _int_list((dim,) + dims, "squeeze", "dim", ok=_is_dim_item)
        elif isinstance(dim, (tuple, list)) or isinstance(dim, Tensor) and (
                dim._shape or dim._dtype is D.bool_):
            # (squeeze(int[] dim): tensor([0]), (tensor([0]),) and tensor(True) too, as
            # torch's parser)
            dim = _int_list((dim,), "squeeze", "dim", ok=_is_dim_item)
        v = self._v
        empty = type(v) is not float and not v.size
        if dim is None:
            if empty:
                kept = [i for i, s in enumerate(self._shape) if s != 1]
                return _reshape_op("squeeze", self, tuple(self._shape[i] for i in kept),
                                   strides=self._squeezed_strides(kept))
            return _reshape_op("squeeze", self, tuple(s for s in self._shape if s != 1))
        # (the kept dims keep their strides, as torch's; numpy's reshape gives a row-major
        # array's dims of size 1 row-major ones)
        nd = self.dim()
        many = isinstance(dim, (tuple, list))
        wrapped = [_dim(d, max(nd, 1)) for d in (dim if many else (dim,))]
        dims = set(wrapped)
        if len(dims) < len(wrapped):
            dup = next(d for k, d in enumerate(wrapped) if d in wrapped[:k])
            raise RuntimeError(f"dim {dup} appears multiple times in the list of dims")
        kept = [i for i, s in enumerate(self._shape) if not (i in dims and s == 1)]
        shape = tuple(self._shape[i] for i in kept)
        out = _reshape_op("squeeze_dims" if many else "squeeze_dim", self, shape,
                          strides=self._squeezed_strides(kept) if empty else
                          tuple(v.strides[i] for i in kept) if 1 in shape and
                          type(v) is not float else None)
        return keep_args(out, dim=tuple(int(d) for d in dim) if many else int(dim))

    def clone(self, *, memory_format=None):
        layouts.check("clone", len(self._shape), None, memory_format)
        keep = memory_format is None or memory_format is layouts.preserve_format
        arr = self._array()
        if keep and not arr.flags.c_contiguous:   # (torch's empty_like(preserve) layout)
            out = layouts.empty_preserving(arr)
            out[...] = arr
        else:
            out = np.array(arr, copy=True, order="C")
        return _reshape_op("clone", self, self._shape, out)

    def transpose(self, dim0, dim1):
        nd = len(self._shape)
        v = self._v
        if dim0.__class__ is int and dim1.__class__ is int and -nd <= dim0 < nd and \
                -nd <= dim1 < nd and type(v) is not float and v.flags.c_contiguous:
            # (the common case: dims in range, a row-major array: _strided's first case,
            # without its frames and _dim's)
            return _strided_view("transpose", self, v, v.swapaxes(dim0, dim1), 0,
                                 {"dim0": dim0, "dim1": dim1} if self._recorded else None)
        if nd == 0:
            _dim(dim0, 0, "transpose", "dim0"), _dim(dim1, 0, "transpose", "dim1", 2)
            return keep_args(_strided("transpose", self, lambda a: a), dim0=int(dim0),
                             dim1=int(dim1))
        d0, d1 = _dim(dim0, nd, "transpose", "dim0"), _dim(dim1, nd, "transpose", "dim1", 2)
        perm = list(range(nd))
        perm[d0], perm[d1] = perm[d1], perm[d0]
        return keep_args(_strided("transpose", self, lambda a: a.transpose(perm)),
                         dim0=int(dim0), dim1=int(dim1))

    def swapaxes(self, axis0, axis1):
        """transpose under numpy's name, and its argument names (swapaxes(axis0=, axis1=))."""
        return self.transpose(axis0, axis1)

    def t(self):
        nd = len(self._shape)
        v = self._v
        if nd == 2 and type(v) is not float and v.flags.c_contiguous:   # (_strided's case)
            return _strided_view("t", self, v, v.T, 0)
        if nd > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
        if nd < 2:
            return _strided("t", self, lambda a: a)
        return _strided("t", self, lambda a: a.T)

    def permute(self, *dims):
        # (only ints as a key: a bool or a float equals an int, but torch refuses them; a
        # loop: all() over a generator cost a tenth of a permute)
        ints = True
        for d in dims:
            if d.__class__ is not int:
                ints = False
                break
        perm = _PERMS.get((dims, len(self._shape))) if ints else None
        if perm is None:
            if not dims:
                raise TypeError('permute() missing 1 required positional arguments: "dims"')
            perm = _permutation(_int_list(dims, "permute", "dims", ok=_is_dim_item),
                                len(self._shape))
            if ints:
                if len(_PERMS) > 1024:
                    _PERMS.clear()
                _PERMS[dims, len(self._shape)] = perm
        v = self._v
        # (torch keeps the dims as given: -1 too)
        given = dims if ints and len(dims) > 1 else tuple(_int_list(
            dims, "permute", "dims", ok=_is_dim_item)) if self._recorded else None
        if type(v) is not float and v.flags.c_contiguous:   # (_strided's case, inline)
            return _strided_view("permute", self, v, v.transpose(perm), 0,
                                 None if given is None else {"dims": given})
        return keep_args(_strided("permute", self, lambda a: a.transpose(perm)), dims=given)

    @property
    def T(self):
        """The dimensions reversed (PermuteBackward0); torch warns (once) for any but a
        matrix."""
        nd = len(self._shape)
        if nd != 2:
            errors.warn_once(errors.T_0D if nd == 0 else errors.T_NOT_2D)
        perm = _REVERSED[nd] if nd < len(_REVERSED) else tuple(range(nd - 1, -1, -1))
        # (permute's op on a permutation valid by construction; a 0-d tensor's is empty,
        # which permute() would refuse as a missing argument)
        return keep_args(_strided("permute", self, lambda a: a.transpose(perm)), dims=perm)

    @property
    def mT(self):
        return self._transposed("tensor.mT", "mT")

    def expand(self, *sizes):
        if not sizes:
            raise TypeError('expand() missing 1 required positional arguments: "size"')
        sizes = _int_list(sizes, "expand", "size")
        nd = len(sizes)
        shape = self._shape
        lead = nd - len(shape)
        # (the common case, no -1 and each size kept or a size 1 made longer, checked at once;
        # a loop: all() over generators cost a third of an expand)
        ok = lead >= 0
        if ok:
            k = 0
            for s in sizes:
                if s < 0 or k >= lead and s != shape[k - lead] and shape[k - lead] != 1:
                    ok = False
                    break
                k += 1
        if ok:
            arr = self._v
            if type(arr) is np.ndarray and arr.flags.c_contiguous:
                # (_strided's case for it, inline: no closure, no call between; a layer's
                # bias broadcast to its batch)
                return _strided_view("expand", self, arr, _expanded(arr, sizes), 0)
            return _strided("expand", self, lambda a: _expanded(a, sizes))
        if nd < self.dim():
            raise RuntimeError(f"expand({_tname_legacy(self)}{{{list(self._shape)}}}, "
                               f"size={list(sizes)}): the number of sizes provided ({nd}) must "
                               f"be greater or equal to the number of dimensions in the tensor "
                               f"({self.dim()})")
        lead = nd - self.dim()
        old = (1,) * lead + self._shape
        for d in range(nd - 1, -1, -1):   # (torch checks from the last dim)
            s, o = sizes[d], old[d]
            if s == -1 and not self._shape:   # (torch expands a 0-d tensor by the sizes
                raise RuntimeError("numel: integer multiplication overflow")   # as given)
            if s == -1 and d < lead:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a "
                                   f"leading, non-existing dimension {d}")
            if s != -1 and o != 1 and s != o:
                raise RuntimeError(f"The expanded size of the tensor ({s}) must match the "
                                   f"existing size ({o}) at non-singleton dimension {d}.  "
                                   f"Target sizes: {list(sizes)}.  Tensor sizes: "
                                   f"{list(self._shape)}")
        if any(s < -1 for s in sizes):   # (torch's size arithmetic then overflows)
            raise RuntimeError("numel: integer multiplication overflow")
        target = tuple(o if s == -1 else s for s, o in zip(sizes, old))
        return _strided("expand", self, lambda a: _expanded(a, target))

    def expand_as(self, other):
        _tensor_operand("expand_as", other, 1)
        return self.expand(other.shape)

    def unfold(self, dimension, size, step):
        """The slices of `size` elements every `step` elements along `dimension`, as a new
        last dim (that dim keeps the slices' count): a view (UnfoldBackward0); the gradient
        of overlapping slices adds up."""
        nd = self.dim()
        d = _dim(dimension, max(nd, 1), "unfold", "dimension")
        _int_arg(size, "unfold", "size", 2)
        _int_arg(step, "unfold", "step", 3)
        top = self._shape[d] if nd else 1
        if size > top:
            raise RuntimeError(f"maximum size for tensor at dimension {d} is {top} but size "
                               f"is {size}")
        if size < 0:
            raise RuntimeError(f"size is {size} but must be >= 0")
        if step <= 0:
            raise RuntimeError(f"step is {step} but must be > 0")

        def view(a):
            if not nd:
                return strided_over(a, (size,), (a.itemsize,))
            shape, strides = list(a.shape), list(a.strides)
            shape[d], strides[d] = (shape[d] - size) // step + 1, strides[d] * step
            return strided_over(a, shape + [size], strides + [a.strides[d]])
        return _strided("unfold", self, view)


    # ---- torch's dtypes tapegrad does not have: a clear error, not an AttributeError ------
    def half(self, memory_format=None):
        """Raises NotImplementedError: tapegrad has no float16 dtype."""
        raise NotImplementedError(_absent_dtype("half", "float16"))

    def bfloat16(self, memory_format=None):
        """Raises NotImplementedError: tapegrad has no bfloat16 dtype."""
        raise NotImplementedError(_absent_dtype("bfloat16", "bfloat16"))

    def cfloat(self, memory_format=None):
        """Raises NotImplementedError: tapegrad has no complex64 dtype."""
        raise NotImplementedError(_absent_dtype("cfloat", "complex64"))

    def cdouble(self, memory_format=None):
        """Raises NotImplementedError: tapegrad has no complex128 dtype."""
        raise NotImplementedError(_absent_dtype("cdouble", "complex128"))

    def chalf(self, memory_format=None):
        """Raises NotImplementedError: tapegrad has no complex32 dtype."""
        raise NotImplementedError(_absent_dtype("chalf", "complex32"))

    # ---- memory and layout queries -------------------------------------------------------
    def is_pinned(self, device=None):
        """False: tapegrad's tensors are never in pinned (page-locked) memory.  Passing
        `device` warns, as torch (a deprecated argument)."""
        if device is not None:
            warnings.warn("The argument 'device' of Tensor.is_pinned() is deprecated. Please do "
                          "not pass this argument.", DeprecationWarning, stacklevel=2)
        return False

    def const_data_ptr(self):
        """The address of the first element (as data_ptr(); tapegrad has no read-only
        pointers)."""
        return self.data_ptr()

    def to_dense(self, dtype=None, *, masked_grad=True):
        """The tensor itself (every tapegrad tensor is dense), cast to `dtype` if given."""
        if dtype is None or dtype is self._dtype:
            return self
        return self.to(dtype)

    def dim_order(self, *, ambiguity_check=False):
        """The dims from the outermost to the innermost in memory, from the strides, as
        torch's (torch._prims_common.compute_elementwise_output_logical_to_physical_perm):
        `ambiguity_check=True` raises RuntimeError when the order is not unique (a size-1 dim,
        two equal strides), a list of memory formats when the tensor is not contiguous in
        exactly one of them."""
        if not isinstance(ambiguity_check, bool):
            if not isinstance(ambiguity_check, list) or not all(
                    isinstance(m, layouts.memory_format) for m in ambiguity_check):
                raise TypeError("The ambiguity_check argument must be a bool or a list of memory "
                                "formats.")
        shape, strides = self._shape, self.stride()
        formats = ambiguity_check if isinstance(ambiguity_check, list) else []
        check = ambiguity_check if isinstance(ambiguity_check, bool) else True
        multiple = (any(a == b for a, b in zip(strides, strides[1:]))
                    or any(n == 1 for n in shape))
        if check and multiple and sum(
                bool(self.is_contiguous(memory_format=m)) for m in formats) != 1:
            raise RuntimeError("The tensor does not have unique dim order, or cannot map to "
                               "exact one of the given memory formats.")
        perm, ambiguous = _dim_order(shape, strides, self.is_contiguous(),
                                     len(shape) == 4 and self.is_contiguous(
                                         memory_format=layouts.channels_last),
                                     bool(ambiguity_check))
        if ambiguous:
            raise RuntimeError("The tensor does not have unique dim order.")
        return tuple(perm)

    # ---- new tensors, shapes ---------------------------------------------------------------
    @parsed("new_empty_strided", method=True)   # (its forms: native_args)
    def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False,
                          layout=None, pin_memory=False):
        """empty_strided(size, stride) of this tensor's dtype unless `dtype` is given (tapegrad
        fills it with zeros)."""
        if dtype is not None:
            dtype = D.as_dtype(dtype, "new_empty_strided")
        return empty_strided(size, stride, dtype=dtype or self._dtype, layout=layout,
                             device=device, requires_grad=requires_grad, pin_memory=pin_memory)

    def resize(self, *sizes):
        """torch's deprecated out-of-place resize: warns, then the tensor's elements in the
        new shape (the same number of them: torch's autograd `Resize` Function, whose node
        is `ResizeBackward`)."""
        warnings.warn("non-inplace resize is deprecated", stacklevel=2)
        return Resize.apply(self, sizes)

    def resize_as(self, tensor):
        """torch's deprecated out-of-place resize_as: resize(tensor.size()), warning."""
        warnings.warn("non-inplace resize_as is deprecated", stacklevel=2)
        return Resize.apply(self, tensor.size())

    def as_strided(self, size, stride, storage_offset=None):
        """A view of this tensor's storage with the given size, strides and storage offset
        (elements from the start of the storage; default this tensor's own): torch's
        as_strided, differentiable (AsStridedBackward0, gradients summed where the view's
        elements overlap)."""
        return _as_strided(self, size, stride, storage_offset, 1)

    def __getitem__(self, key):
        if INFERENCE_MADE[0] and self._recorded:   # (torch's IndexBackward0 saves the indices)
            for k in key if type(key) is tuple else (key,):
                refuse_inference_index(self, k)
        return _index(self, key)


def _extreme(x, args, kwargs, is_max):
    """max/min bound as torch's parser binds them: max(), max(Tensor other), max(int dim,
    bool keepdim=False), the first that takes the arguments (a 0-d integer tensor given
    with keepdim, or as dim=, is a dim; keepdim only a bool), else torch's TypeError."""
    name = "max" if is_max else "min"
    n = len(args)
    if not kwargs and n < 3:   # (the usual calls, without the parser)
        dim = args[0] if n else None
        if type(dim) is int and (n == 1 or type(args[1]) is bool):
            return _max_min(x, dim, n == 2 and args[1], name)
        if n == 0 or n == 1 and isinstance(dim, Tensor):
            return mathops.max_min(x, dim, False, is_max)
    form, bound = overloads(name, True).parse(args, kwargs)
    if form < 2:   # max() / max(other)
        return mathops.max_min(x, bound[0] if form else None, False, is_max)
    dim, keepdim = bound
    return _max_min(x, operator.index(dim), keepdim is not MISSING and keepdim, name)


def _reduction_dtype(fn, dtype, dim, keepdim):
    """sum's / mean's dtype= as a dtype; one that is none: torch's parser's TypeError (it
    matches none of their forms)."""
    dt = D.as_dtype(dtype)
    if type(dt) is not DType:
        kwargs = {} if dim is MISSING else {"dim": dim}
        kwargs.update({} if keepdim is False else {"keepdim": keepdim}, dtype=dtype)
        raise arg_error(fn, True, (), kwargs) or D.as_dtype(dtype, fn)
    return dt


def _expanded(a, target):
    """Array `a` broadcast to `target`: numpy's read-only view where elements share memory
    (a size-1 dim made longer), else a writable one (the same sizes, or new leading dims
    of size 1), as torch's expand, whose in-place ops then write into `a`."""
    lead = len(target) - a.ndim
    own = a.strides
    if not a.size and not any(own):   # (numpy's made empty array: torch's row-major strides)
        own = [math.prod(max(n, 1) for n in a.shape[d + 1:]) * a.itemsize
               for d in range(a.ndim)]
    # torch's strides (inferExpandGeometry): a lengthened dim's 0, a kept dim's its own (of
    # size 1 too, where numpy's broadcast_to gives 0), a new dim of size 1 the size times
    # the stride of the dim after it (of a 0-d tensor, 0)
    nt = len(target)
    strides = [0] * nt
    shape = a.shape
    shares = False   # (a dim of more than one element at stride 0: elements share memory)
    for i in range(nt - 1, -1, -1):
        d = i - lead
        m = target[i]
        if d >= 0:
            st = own[d] if shape[d] == m else 0
        else:
            st = target[i + 1] * strides[i + 1] if i + 1 < nt and m == 1 else 0
        strides[i] = st
        if m > 1 and not st:
            shares = True
    if a.flags.c_contiguous and a.size:
        # (over a's buffer: a tenth of broadcast_to's cost, and storage_offset() then finds
        # a's root)
        b = np.ndarray(target, a.dtype, a, 0, strides)
        if shares and b.size != a.size:
            b.setflags(write=False)   # (a third of the cost of a store through b.flags)
        return b
    b = strided_over(a, target, strides)
    if shares and b.flags.writeable:
        b.setflags(write=False)
    return b


def _absent_dtype(method, name):
    return (f"tapegrad: Tensor.{method}() converts to {name}, a dtype tapegrad does not have "
            "(it computes in float32 and float64)")


def _dim_order(shape, strides, contiguous, channels_last, check):
    """torch._prims_common.compute_elementwise_output_logical_to_physical_perm for one
    tensor: (the permutation, whether `check` finds it ambiguous)."""
    ndim = len(shape)
    if ndim == 0:
        return [], False
    if ndim == 1:
        return [0], False
    if contiguous and not channels_last:
        return list(range(ndim)), False
    if channels_last and not contiguous:
        return [0, *range(2, ndim), 1], False

    def ge(a, b):
        if b == 0:
            return True
        if a == 0:
            return False
        return a >= b or a % b == 0

    def should_swap(a, b):
        sa, sb = strides[a], strides[b]
        if sa == 0 or sb == 0:
            return 0
        if sa == sb:
            return 0 if ge(shape[b], shape[a]) else 1
        if ge(sb, sa):
            return -1
        if ge(sa, sb):
            return 1
        return 0

    perm = layouts.dim_order(ndim, should_swap)
    ambiguous = check and any(should_swap(perm[i], perm[i + 1]) != -1 for i in range(ndim - 1))
    return list(reversed(perm)), ambiguous


class Resize(Function):
    """torch.autograd._functions.Resize: the elements in a new shape of as many elements
    (Tensor.resize / resize_as, deprecated in torch); node `ResizeBackward`."""

    @staticmethod
    def forward(ctx, tensor, sizes):
        ctx.sizes = sizes
        ctx.numel = functools.reduce(operator.mul, sizes, 1)
        if tensor.numel() != ctx.numel:
            raise RuntimeError(
                "requested resize to {} ({} elements in total), but the given tensor has a "
                "size of {} ({} elements). autograd's resize can only change the shape of a "
                "given tensor, while preserving the number of elements. ".format(
                    "x".join(map(str, sizes)), ctx.numel, "x".join(map(str, tensor.size())),
                    tensor.numel()))
        ctx.input_sizes = tensor.size()
        return tensor.contiguous().view(*sizes)

    @staticmethod
    def backward(ctx, grad_output):
        if grad_output.numel() != ctx.numel:
            raise AssertionError(f"Expected grad_output to have {ctx.numel} elements, but got "
                                 f"{grad_output.numel()}")
        return grad_output.contiguous().view(ctx.input_sizes), None
