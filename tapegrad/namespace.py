"""The rest of torch's namespace that autograd programs touch: the legacy tensor types
(`FloatTensor`, `DoubleTensor`, `LongTensor`, `IntTensor`, `ShortTensor`, `CharTensor`,
`ByteTensor`, `BoolTensor`: constructors,
`isinstance` and `.type(...)`), the constants `pi`, `e`, `inf`, `nan`, and
Tensor's `new_*` / `type_as` / `ndimension` / `element_size` methods and its in-place random
fills `uniform_` / `normal_` / `bernoulli_` / `random_` (torch's draws: the same seed gives
the same values); torch's out-of-place copies of views (`permute_copy` & co), `fill`,
`put`, `index_put_`, `adjoint`, `row_stack`, `typename`, `get_device`, and the float32 matmul
precision setting."""
import importlib
import math
import sys
import warnings

import numpy as np

from . import decomps, devices as _device, dtypes as D, errors
from .layouts import strided
from .native_args import arg_error, bind, MISSING, overloads, parsed
from .creation import copy_of, empty, _factory_options, _leaf, legacy_new, _number_arg, \
    _requires_grad_arg, size_keyword, tensor
from . import discrete_draws
from . import draw_nodes
from .inplace import _no_history
from .random import fill_memory_order, generator_of, multinomial
from .structops import diagflat
from .tape import bump_version
from .tensor import _bool_arg, _int_arg, _size_args, Tensor, _tensor_operand, tensor_methods
from .views import _split, KIND_OPS

# the C type names of torch's TensorOptions in messages
_OPTION_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
                 "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
                 "bool": "bool"}


def _options(dt):
    return (f"TensorOptions(dtype={_OPTION_NAMES.get(dt.name, dt.name)}, device=cpu, "
            f"layout=Strided, requires_grad=false (default), pinned_memory=false (default), "
            f"memory_format=(nullopt))")


pi = math.pi
e = math.e
inf = math.inf
nan = math.nan


def _root(arr):
    """The array whose memory `arr` views (itself when it owns it)."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


class _LegacyType(type):
    """The metaclass of the legacy types: `isinstance(x, FloatTensor)` tests x's dtype,
    calling one makes a tensor of that dtype."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._dtype is cls.dtype

    @parsed("new", method=True)   # (torch's parser's words: native_args' forms of new())
    def __call__(cls, *args, device=MISSING, **kw):
        if len(args) == 1 and isinstance(args[0], Tensor) and args[0]._dtype is not cls.dtype:
            raise TypeError(f"expected {_options(cls.dtype)} (got {_options(args[0]._dtype)})")
        return legacy_new(cls.dtype, args, device, kw)

    def __repr__(cls):
        return f"<class 'tapegrad.{cls.__name__}'>"


def _legacy(dt):
    doc = (f"The legacy type of {dt.name} tensors: `{dt.legacy}Tensor(data)` or "
           f"`{dt.legacy}Tensor(*size)` makes one, `isinstance` tests the dtype, "
           f"`x.type({dt.legacy}Tensor)` converts.")
    return _LegacyType(f"{dt.legacy}Tensor", (), {"dtype": dt, "__module__": "tapegrad",
                                                  "__doc__": doc})


FloatTensor = _legacy(D.float32)
DoubleTensor = _legacy(D.float64)
LongTensor = _legacy(D.int64)
IntTensor = _legacy(D.int32)
BoolTensor = _legacy(D.bool_)
ShortTensor = _legacy(D.int16)
CharTensor = _legacy(D.int8)
ByteTensor = _legacy(D.uint8)


_TENSOR_TYPE_DEPRECATED = ("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, "
                           "please use torch.set_default_dtype() and torch.set_default_device() "
                           "as alternatives.")


def set_default_tensor_type(t):
    """torch.set_default_tensor_type (deprecated since torch 2.1, with its warning once): the
    default dtype from a floating legacy type (`DoubleTensor`) or its dotted name
    ('torch.DoubleTensor': a first component 'torch' names this module, as code written for
    torch means)."""
    if isinstance(t, str):
        first, *rest = t.split(".")
        t = sys.modules[__package__] if first in ("torch", __package__) else \
            importlib.import_module(first)
        for name in rest:
            t = getattr(t, name)
    errors.warn_once(_TENSOR_TYPE_DEPRECATED)
    if type(t) is not _LegacyType:
        raise TypeError("invalid type object: only floating-point types are supported as the "
                        "default type")
    D.set_default_dtype(t.dtype)   # (an integer type: torch's TypeError)


# the C type names torch's Cauchy error spells
_C_TYPE_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
                 "uint8": "unsigned char", "bool": "bool"}


# Tensor.new_full's own arguments, as torch's parser binds them
@tensor_methods
class _NamespaceMethods:
    """Tensor's `new_*` constructors (self's dtype unless given), `type_as`, `ndimension`,
    `element_size`."""

    # (their arguments bound as torch's parser binds them: native_args' forms, `parsed`)
    @parsed("new_zeros", method=True)
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, layout=None,
                  pin_memory=False, **kw):
        if kw:   # (size=(2, 3): torch's keyword form)
            size = size_keyword("new_zeros", size, kw)
        if dtype is not None:
            dtype = D.as_dtype(dtype, "new_zeros")
        _factory_options("new_zeros", layout, pin_memory)
        return self._new_filled(size, 0, dtype, device, requires_grad, "new_zeros")

    @parsed("new_ones", method=True)
    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, layout=None,
                 pin_memory=False, **kw):
        if kw:   # (size=(2, 3): torch's keyword form)
            size = size_keyword("new_ones", size, kw)
        if dtype is not None:
            dtype = D.as_dtype(dtype, "new_ones")
        _factory_options("new_ones", layout, pin_memory)
        return self._new_filled(size, 1, dtype, device, requires_grad, "new_ones")

    @parsed("new_empty", method=True)
    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, layout=None,
                  pin_memory=False, **kw):
        if kw:   # (size=(2, 3): torch's keyword form)
            size = size_keyword("new_empty", size, kw)
        if dtype is not None:
            dtype = D.as_dtype(dtype, "new_empty")
        _factory_options("new_empty", layout, pin_memory)
        return self._new_filled(size, 0, dtype, device, requires_grad, "new_empty")

    # torch's removed Tensor.solve / lstsq / eig / symeig: still defined, raising its
    # RuntimeError that names the replacement (an AttributeError here said nothing)
    def solve(self, other):
        return solve(self, other)

    def lstsq(self, other):
        return lstsq(self, other)

    def eig(self, eigenvectors=False):
        return eig(self, eigenvectors)

    def symeig(self, eigenvectors=False):
        return _symeig(self, eigenvectors)

    @parsed("new_full", method=True)
    def new_full(self, *args, dtype=None, device=None, requires_grad=False, layout=None,
                 pin_memory=False, **kw):
        # (torch's parser: size a sequence only, by position or keyword, never a bare int or
        # tensor; fill_value a Number, or a 0-d tensor that does not require grad)
        _, (size, fill_value, *_) = overloads("new_full", True).parse(args, kw)
        _factory_options("new_full", layout, pin_memory)
        if dtype is not None:
            dtype = D.as_dtype(dtype, "new_full")
        fill_value = _number_arg("new_full", "fill_value", 2, fill_value)
        return self._new_filled((tuple(size),), fill_value, dtype, device, requires_grad,
                                "new_full")

    def _new_filled(self, size, value, dtype, device, requires_grad, fn):
        if not size:
            raise TypeError(f'{fn}() missing 1 required positional arguments: "size"')
        _requires_grad_arg(fn, requires_grad)
        _device.check(device)
        dt = dtype or self._dtype
        return _leaf(np.full(_size_args(size, fn), D.checked(value, dt), dtype=dt.np), dt,
                     requires_grad)

    @parsed("new_tensor", method=True)
    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        if dtype is not None:
            dtype = D.as_dtype(dtype)
        _device.check(device)
        if dtype is not None and not isinstance(dtype, D.dtype):
            raise TypeError(f"new_tensor(): argument 'dtype' must be torch.dtype, not "
                            f"{type(dtype).__name__}")
        if requires_grad is not False:   # (a bool only: None too is refused here, as torch's)
            _bool_arg(requires_grad, "new_tensor", "requires_grad", None)
        if isinstance(data, Tensor):
            warnings.warn(errors.COPY_CONSTRUCT.format("tensor.new_tensor"), UserWarning,
                          stacklevel=errors.user_stacklevel())
            data = data.detach()
        t = copy_of(data, dtype=dtype or self._dtype)
        if requires_grad and not t._dtype.is_floating_point:   # (a factory's message)
            raise RuntimeError(errors.NOT_FLOAT_CREATE)
        return t._requires_grad() if requires_grad else t

    def type_as(self, other):
        _tensor_operand("type_as", other, 1)
        return self.to(other._dtype)

    def ndimension(self):
        return len(self._shape)

    def element_size(self):
        return self._dtype.itemsize

    # ---- where the tensor lives: always a strided CPU tensor --------------------------------
    is_cpu = property(lambda self: True)
    layout = property(lambda self: strided)
    is_cuda = is_sparse = is_sparse_csr = is_quantized = is_meta = is_nested = is_mkldnn = \
        is_xpu = is_mps = is_xla = is_vulkan = is_ipu = is_maia = is_mtia = \
        property(lambda self: False)

    @property
    def itemsize(self):
        return self._dtype.itemsize

    @property
    def nbytes(self):
        return self.numel() * self._dtype.itemsize

    def get_device(self):
        return -1          # (torch's answer for a CPU tensor)

    def is_same_size(self, other):
        return self._shape == other._shape

    def data_ptr(self):
        """The address of the first element (a one-element float tensor holds no array: an
        id unique to the tensor); 0 for an empty tensor, as torch's (no element to point at)."""
        v = self._v
        if type(v) is float:
            return id(self)
        return v.__array_interface__["data"][0] if v.size else 0

    def storage_offset(self):
        """Elements between the start of the array this tensor views and its first one."""
        v = self._v
        if type(v) is float:
            return 0
        start = _root(v).__array_interface__["data"][0]
        return (v.__array_interface__["data"][0] - start) // max(v.itemsize, 1)

    def is_set_to(self, tensor):
        """Whether this tensor and `tensor` view the same memory from the same element with the
        same sizes and strides (torch's is_set_to: one storage, offset, sizes, strides)."""
        if not isinstance(tensor, Tensor):
            raise TypeError(f"is_set_to(): argument 'tensor' (position 1) must be Tensor, not "
                            f"{errors.arg_type_name(tensor)}")
        if tensor is self:
            return True
        a, b = self._v, tensor._v
        if type(a) is float or type(b) is float:   # (a number held: memory of its own)
            return False
        return _root(a) is _root(b) and a.shape == b.shape and a.strides == b.strides and \
            a.__array_interface__["data"][0] == b.__array_interface__["data"][0]

    def pin_memory(self, device=None):
        raise RuntimeError("Cannot access accelerator device when none is available.")

    def new(self, *args, device=None):
        """torch's legacy constructor: `new()` (empty), `new(*sizes)` / `new(Size)`
        (uninitialized), `new(data)` (a sequence, self's dtype), `new(other)` (other itself,
        which must have self's dtype)."""
        _device.check(device)
        if not args:
            return empty(0, dtype=self._dtype)
        first = args[0]
        if len(args) == 1 and isinstance(first, Tensor):
            if first._dtype is not self._dtype:
                raise TypeError(f"expected {_options(self._dtype)} (got {_options(first._dtype)})")
            return first
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args) \
                or len(args) == 1 and type(first).__name__ == "Size":
            return empty(*args, dtype=self._dtype)
        if len(args) == 1 and isinstance(first, (list, tuple)):
            return tensor(first, dtype=self._dtype)
        raise TypeError(f"new(): data must be a sequence (got {type(first).__name__})")

    # ---- conjugate transposes (the plain ones for real tensors) ------------------------------
    @property
    def H(self):
        if self.dim() != 2 and self.dim() != 0:
            hint = (" For batches of matrices, consider using tensor.mH" if self.dim() > 2
                    else "")
            raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                               f"{self.dim()}-D tensor.{hint}")
        if self.dim() == 0:
            errors.warn_once(errors.TRANSPOSE_0D["H"])
            return self
        return self.transpose(-2, -1)

    @property
    def mH(self):
        return self._transposed("tensor.mH", "mH")

    def adjoint(self):
        return self._transposed("tensor.adjoint()", "adjoint")

    def _transposed(self, what, name):
        """The last two dims swapped (transpose `what`, property or method `name`) of a
        (batch of) matrices; a 0-d tensor is its own transpose (the tensor itself, and torch's
        deprecation warning)."""
        nd = self.dim()
        if nd == 0:
            errors.warn_once(errors.TRANSPOSE_0D[name])
            return self
        if nd < 2:
            raise RuntimeError(f"{what} is only supported on matrices or batches of matrices. "
                               f"Got {nd}-D tensor.")
        return self.transpose(-2, -1)

    # ---- reshaping reductions and splits ------------------------------------------------------
    def sum_to_size(self, *size):
        """The sum of self over the dims that `size` (which self expands to) lacks or holds as
        1 (torch's sum_to: a keepdim sum, then a view when leading dims go)."""
        shape = tuple(_size_args(size, "sum_to_size"))
        ours = tuple(self._shape)
        lead = len(ours) - len(shape)
        if lead < 0 or any(s != 1 and s != o for s, o in zip(shape, ours[lead:])):
            raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size "
                               f"{{{list(ours)}}}.")
        dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                          if s == 1 and ours[lead + i] != 1)
        r = self.sum(dims, keepdim=True) if dims else self
        return r.view(shape) if lead else r

    def split_with_sizes(self, split_sizes, dim=0):
        size = self._shape[dim]
        if sum(split_sizes) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {dim % max(self.dim(), 1)}),"
                               f" but got split_sizes={list(split_sizes)}")
        return self.split(list(split_sizes), dim)

    def diagflat(self, offset=0):
        return diagflat(self, offset)

    # ---- in-place random fills (init code: `w.data.normal_(0, 0.02)`), as torch draws ----
    def _fill_random(self, draw, name, p=None):
        """Write the draws `draw()` makes (1-d, in the order torch's kernel makes them: memory
        order) into self, as an in-place op (version bump, autograd's in-place rules), shown
        as torch's node `name` (zero gradients: tapegrad/draw_nodes.py); `p`: bernoulli_'s
        tensor of probabilities.  autograd's in-place check comes first, as torch's: a leaf
        that requires grad raises before anything is drawn.  Where nothing needs history and
        self's memory is writable (`w.data.normal_(0, 0.02)`, a script's `a.uniform_()`), the
        draws are written into it at once, as the general path's in-place op ends
        (draw_nodes.fill: 32x16 normal_ ~19 -> ~9 us)."""
        v = self._v
        plain = p is None and type(v) is np.ndarray and v.flags.writeable and _no_history(self)
        if not plain:
            self._check_inplace(p)
        values = np.asarray(draw()).astype(self._dtype.np, copy=False)
        if type(v) is float or v.flags.c_contiguous:   # (memory order is row-major order)
            arr = values.reshape(self._shape)
        else:   # (the layout of self's memory, whose order the draws follow)
            arr = np.empty_like(v, self._dtype.np)
            fill_memory_order(arr, values)
        if plain:
            self._lserial = 0   # a later use records the new value (tape.leaf_node)
            bump_version(self)  # (before the write: see inplace._assign)
            v[...] = arr
            return self
        # (a fresh array of self's dtype: wrapped as it is, not through tensor()'s checks)
        return draw_nodes.fill(self, Tensor._wrap(arr, self._dtype), name, p)

    def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kw):
        from_, to = kw.pop("from", from_), kw.pop("to", to)
        gen = generator_of(generator, "uniform_")
        if not self._dtype.is_floating_point:
            raise NotImplementedError(f'"check_uniform_bounds" not implemented for '
                                      f"'{self._dtype.legacy}'")
        if from_ > to:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                               f"from={from_:g} > to={to:g}")
        return self._fill_random(lambda: gen._uniform(self.numel(), self._dtype.np, from_, to),
                                 "UniformBackward0")

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        gen = generator_of(generator, "normal_")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        if not self._dtype.is_floating_point:
            raise NotImplementedError(f'"normal_kernel_cpu" not implemented for '
                                      f"'{self._dtype.legacy}'")
        contiguous = type(self._v) is float or self._v.flags.c_contiguous
        return self._fill_random(lambda: gen._normal(self.numel(), self._dtype.np, mean, std,
                                                     contiguous), "NormalBackward0")

    def bernoulli_(self, p=0.5, *, generator=None):
        gen = generator_of(generator, "bernoulli_")
        if isinstance(p, Tensor):
            return self._fill_random(lambda: discrete_draws.bernoulli_tensor(
                gen._engine, p._array(), self._dtype.np, self._shape).reshape(-1),
                "BernoulliBackward1", p)
        return self._fill_random(lambda: discrete_draws.bernoulli_scalar(
            gen._engine, self.numel(), p, self._dtype.np), "BernoulliBackward2")

    def bernoulli(self, p=MISSING, *, generator=None):
        if p is None:   # (a None given matches neither of torch's forms)
            raise arg_error("bernoulli", True, (p,), {})
        return draw_nodes.bernoulli_of(self, p, generator)

    def random_(self, *bounds, generator=None, **kw):
        """Integers drawn uniformly: random_(from, to) from [from, to), random_(to) from
        [0, to), random_(from, None) up to the dtype's largest value, random_() over the
        dtype's range (as torch's)."""
        gen = generator_of(generator, "random_")
        if "from" in kw or "to" in kw:
            bounds = (kw.pop("from", 0), kw.pop("to", None)) if "from" in kw else (kw.pop("to"),)
        if len(bounds) > 2:
            raise TypeError(f"random_() takes at most 2 arguments ({len(bounds)} given)")
        low, high = (None, None) if not bounds else \
            ((None, bounds[0]) if len(bounds) == 1 else bounds)
        # torch's overloads random_.from, random_.to, random_ name their nodes
        return self._fill_random(lambda: discrete_draws.random_(
            gen._engine, self.numel(), self._dtype.np, low, high),
            "RandomBackward%d" % (2 - len(bounds)))

    def exponential_(self, lambd=1.0, *, generator=None):
        gen = generator_of(generator, "exponential_")
        if not self._dtype.is_floating_point:
            raise RuntimeError(f"Exponential distribution is a continuous probability "
                               f"distribution. dtype must be a floating point but you specified "
                               f"{self._dtype.legacy}")
        if not lambd > 0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found "
                               f"lambda={errors.scalar_text(lambd)}")
        return self._fill_random(lambda: discrete_draws.exponential_(
            gen._engine, self.numel(), lambd, self._dtype.np), "ExponentialBackward0")

    def geometric_(self, p, *, generator=None):
        gen = generator_of(generator, "geometric_")
        if not 0 < p < 1:
            raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got "
                               f"p={errors.scalar_text(p)}")
        return self._fill_random(lambda: discrete_draws.geometric_(
            gen._engine, self.numel(), p, self._dtype.np), "GeometricBackward0")

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        gen = generator_of(generator, "cauchy_")
        if not self._dtype.is_floating_point:
            raise RuntimeError(f"Cauchy distribution is a continuous probability distribution. "
                               f"dtype must be a floating point but you specified "
                               f"{_C_TYPE_NAMES.get(self._dtype.name, self._dtype.name)}")
        return self._fill_random(lambda: discrete_draws.cauchy_(
            gen._engine, self.numel(), median, sigma, self._dtype.np), "CauchyBackward0")

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        """exp of normal draws N(mean, std^2): torch's serial kernel (double draws, libm's exp,
        rounded to the dtype)."""
        gen = generator_of(generator, "log_normal_")
        if not std > 0:
            raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
        if not self._dtype.is_floating_point:
            raise NotImplementedError(f'"log_normal_cpu" not implemented for '
                                      f"'{self._dtype.legacy}'")
        def draw():
            v = gen._normal(self.numel(), np.float64, mean, std, contiguous=False)
            return np.fromiter(map(math.exp, v.tolist()), np.float64, v.size)
        return self._fill_random(draw, "LogNormalBackward0")

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        _int_arg(num_samples, "multinomial", "num_samples")   # (the method's positions)
        _bool_arg(replacement, "multinomial", "replacement", 2)
        return multinomial(self, num_samples, replacement, generator=generator)


# ---- torch's out-of-place copies of views: the view, copied contiguous (torch's results are),
# recorded as the op table's `*_copy` row so that grad_fn is torch's `*Backward0_copy` --------
def _copy_of(row, view, input):
    def body(T, x):
        y = view(x)
        return y.clone() if y.is_contiguous() else y.contiguous()
    return decomps.record(row, body, KIND_OPS, input)


def alias_copy(*args, **kwargs):
    """torch.alias_copy(input): a copy of input (AliasBackward0_copy)."""
    (x,) = bind("alias_copy", args, kwargs, ("input",))
    return _copy_of("alias_copy", lambda v: v.view(v.shape), x)


def diagonal_copy(*args, **kwargs):
    """torch.diagonal_copy(input, offset=0, dim1=0, dim2=1): diagonal()'s view, copied."""
    x, offset, d1, d2 = bind("diagonal_copy", args, kwargs, ("input", "offset", "dim1", "dim2"),
                              (0, 0, 1))
    return _copy_of("diagonal_copy", lambda v: v.diagonal(offset, d1, d2), x)


def expand_copy(*args, **kwargs):
    """torch.expand_copy(input, size): expand()'s view, copied."""
    kwargs.pop("implicit", None)     # (a tracing flag; no effect on the result)
    x, size = bind("expand_copy", args, kwargs, ("input", "size"))
    return _copy_of("expand_copy", lambda v: v.expand(*size), x)


def permute_copy(*args, **kwargs):
    """torch.permute_copy(input, dims): permute()'s view, copied."""
    x, dims = bind("permute_copy", args, kwargs, ("input", "dims"))
    return _copy_of("permute_copy", lambda v: v.permute(*dims), x)


def select_copy(*args, **kwargs):
    """torch.select_copy(input, dim, index): select()'s view, copied."""
    x, dim, index = bind("select_copy", args, kwargs, ("input", "dim", "index"))
    return _copy_of("select_copy", lambda v: v.select(dim, index), x)


def slice_copy(*args, **kwargs):
    """torch.slice_copy(input, dim=0, start=None, end=None, step=1): a slice, copied."""
    x, dim, start, end, step = bind("slice_copy", args, kwargs, (
        "input", "dim", "start", "end", "step"), (0, None, None, 1))
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    key = (slice(None),) * (dim % max(x.dim(), 1)) + (slice(start, end, step),)
    return _copy_of("slice_copy", lambda v: v[key], x)


def squeeze_copy(input, dim=None):
    """squeeze_copy(input) / (input, dim) / (input, dims): SqueezeBackward0/1/2_copy."""
    if dim is None:
        return _copy_of("squeeze_copy", lambda v: v.squeeze(), input)
    row = "squeeze_copy_dim" if isinstance(dim, int) else "squeeze_copy_dims"
    return _copy_of(row, lambda v: v.squeeze(dim), input)


def t_copy(*args, **kwargs):
    """torch.t_copy(input): t()'s view, copied."""
    (x,) = bind("t_copy", args, kwargs, ("input",))
    return _copy_of("t_copy", lambda v: v.t(), x)


def transpose_copy(*args, **kwargs):
    """torch.transpose_copy(input, dim0, dim1): transpose()'s view, copied."""
    x, d0, d1 = bind("transpose_copy", args, kwargs, ("input", "dim0", "dim1"))
    return _copy_of("transpose_copy", lambda v: v.transpose(d0, d1), x)


def unfold_copy(*args, **kwargs):
    """torch.unfold_copy(input, dimension, size, step): unfold()'s view, copied."""
    x, dim, size, step = bind("unfold_copy", args, kwargs, ("input", "dimension", "size",
                                                              "step"))
    return _copy_of("unfold_copy", lambda v: v.unfold(dim, size, step), x)


def unsqueeze_copy(*args, **kwargs):
    """torch.unsqueeze_copy(input, dim): unsqueeze()'s view, copied."""
    x, dim = bind("unsqueeze_copy", args, kwargs, ("input", "dim"))
    return _copy_of("unsqueeze_copy", lambda v: v.unsqueeze(dim), x)


def view_copy(input, size):
    """view_copy(input, size) (ViewBackward0_copy); view_copy(input, dtype) is view(dtype)'s
    copy."""
    if isinstance(size, D.dtype):
        return input.view(size).clone()
    return _copy_of("view_copy", lambda v: v.view(size), input)


# (torch's nodes of the multi-output copies are one node per call; here each piece is its own
# copy, CloneBackward0)
def split_copy(*args, **kwargs):
    """torch.split_copy(input, split_size, dim=0): split()'s pieces, each copied."""
    x, size, dim = bind("split_copy", args, kwargs, ("input", "split_size", "dim"), (0,))
    # (a native op: its SymInt takes a numpy integer, which Tensor.split's Python refuses)
    return [p.clone() for p in _split(x, size, dim)]


def split_with_sizes_copy(*args, **kwargs):
    """torch.split_with_sizes_copy(input, split_sizes, dim=0): the pieces, each copied."""
    x, sizes, dim = bind("split_with_sizes_copy", args, kwargs, ("input", "split_sizes",
                                                                  "dim"), (0,))
    return [p.clone() for p in x.split_with_sizes(sizes, dim)]


def unbind_copy(*args, **kwargs):
    """torch.unbind_copy(input, dim=0): unbind()'s pieces, each copied."""
    x, dim = bind("unbind_copy", args, kwargs, ("input", "dim"), (0,))
    return [p.clone() for p in x.unbind(dim)]


# ---- function forms of Tensor's methods ---------------------------------------------------
def fill(input, value):
    """torch.fill(input, value): a copy of input filled with value (a number: FillBackward0; a
    0-d tensor: FillBackward1, whose gradient is the sum of the result's)."""
    if isinstance(value, Tensor):
        return decomps.record("fill_out_tensor", lambda T, x, v: x.clone().fill_(v), KIND_OPS,
                              input, value)
    return decomps.record("fill_out", lambda T, x: x.clone().fill_(value), KIND_OPS, input)


def put(*args, **kwargs):
    """torch.put(input, index, source, accumulate=False): Tensor.put, out of place."""
    x, index, source, accumulate = bind("put", args, kwargs, ("input", "index", "source",
                                                               "accumulate"), (False,))
    return x.put(index, source, accumulate)


def index_put_(*args, **kwargs):
    """torch.index_put_(input, indices, values, accumulate=False): Tensor.index_put_."""
    x, indices, values, accumulate = bind("index_put_", args, kwargs, (
        "input", "indices", "values", "accumulate"), (False,))
    return x.index_put_(indices, values, accumulate)


def adjoint(*args, **kwargs):
    """torch.adjoint(input): the conjugate transpose of the last two dims (a view)."""
    (x,) = bind("adjoint", args, kwargs, ("input",))
    return x.adjoint()


def get_device(*args, **kwargs):
    """torch.get_device(input): -1 for a CPU tensor."""
    (x,) = bind("get_device", args, kwargs, ("input",))
    return x.get_device()


def typename(obj):
    """The type name of obj: a tensor's type() ("tapegrad.DoubleTensor"), else the module and
    qualified name of obj (a class or function) or of its class (torch's rule)."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


newaxis = None


# float32 matmuls here are always full float32 ("highest"); torch's "high" and "medium" only
# permit lower internal precision, so the setting is kept and reported as torch's is
_MATMUL_PRECISION = ["highest"]


def get_float32_matmul_precision():
    """torch.get_float32_matmul_precision(): the setting ('highest', 'high' or 'medium')."""
    return _MATMUL_PRECISION[0]


def set_float32_matmul_precision(precision):
    """torch.set_float32_matmul_precision(precision): kept and reported; float32 matmuls here
    are always full precision, which every setting permits."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got "
                           f"{type(precision).__name__}")
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      f"setFloat32MatmulPrecision call has no effect.", stacklevel=2)
        return
    _MATMUL_PRECISION[0] = precision


# ---- functions torch removed in 1.9 but still defines, raising its messages -----------------
def matrix_rank(input, tol=None, symmetric=False, *, out=None):
    """Removed from torch (use `linalg.matrix_rank`): raises torch's RuntimeError."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed.\n"
        "Please use the `torch.linalg.matrix_rank` function instead. "
        "The parameter 'symmetric' was renamed in `torch.linalg.matrix_rank()` to 'hermitian'.")


def solve(input, A, *, out=None):
    """Removed from torch (use `linalg.solve(A, B)`): raises torch's RuntimeError."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. "
        "`torch.solve` is deprecated in favor of `torch.linalg.solve`. "
        "`torch.linalg.solve` has its arguments reversed and does not return the LU "
        "factorization.\n\n"
        "To get the LU factorization see `torch.lu`, which can be used with `torch.lu_solve` "
        "or `torch.lu_unpack`.\n"
        "X = torch.solve(B, A).solution "
        "should be replaced with:\n"
        "X = torch.linalg.solve(A, B)")


def lstsq(input, A, *, out=None):
    """Removed from torch (use `linalg.lstsq(A, B)`): raises torch's RuntimeError."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. "
        "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n"
        "`torch.linalg.lstsq` has reversed arguments and does not return the QR decomposition "
        "in the returned tuple (although it returns other information about the problem).\n\n"
        "To get the QR decomposition consider using `torch.linalg.qr`.\n\n"
        "The returned solution in `torch.lstsq` stored the residuals of the solution in the "
        "last m - n columns of the returned value whenever m > n. In torch.linalg.lstsq, "
        "the residuals are in the field 'residuals' of the returned named tuple.\n\n"
        "The unpacking of the solution, as in\n"
        "X, _ = torch.lstsq(B, A).solution[:A.size(1)]\n"
        "should be replaced with:\n"
        "X = torch.linalg.lstsq(A, B).solution")


def _symeig(input, eigenvectors=False, upper=True, *, out=None):
    """Removed from torch (torch.symeig; use `linalg.eigvalsh` / `linalg.eigh`): raises
    torch's RuntimeError."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. "
        "The default behavior has changed from using the upper triangular portion of the "
        "matrix by default to using the lower triangular portion.\n\n"
        "L, _ = torch.symeig(A, upper=upper) "
        "should be replaced with:\n"
        "L = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\n"
        "and\n\n"
        "L, V = torch.symeig(A, eigenvectors=True) "
        "should be replaced with:\n"
        "L, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')")


symeig = _symeig


def eig(self, eigenvectors=False, *, e=None, v=None):
    """Removed from torch (use `linalg.eig` / `linalg.eigvals`): raises torch's RuntimeError."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. "
        "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than "
        "real tensors mimicking complex tensors.\n\n"
        "L, _ = torch.eig(A) "
        "should be replaced with:\n"
        "L_complex = torch.linalg.eigvals(A)\n\n"
        "and\n\n"
        "L, V = torch.eig(A, eigenvectors=True) "
        "should be replaced with:\n"
        "L_complex, V_complex = torch.linalg.eig(A)")
