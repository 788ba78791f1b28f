"""`UninitializedParameter` and `UninitializedBuffer`: the placeholders of a lazy module
(modules/lazy.py) until its first forward gives them a shape, as torch.nn.parameter's.

They hold no value: torch answers any op on one with a ValueError (its __torch_function__
allows only dtype and device moves, size() and a few checks).  tapegrad has no such dispatch
hook, but every op reads its operands' `_v` (the value) or `_shape`: here both are properties
that raise torch's ValueError, and the real slots are reached through Tensor's descriptors.
`materialize(shape)` gives the tensor its storage and turns it into the class it becomes
(Parameter or Tensor), whose ordinary slots then answer."""
import sys

from .. import devices as _device, dtypes as D
from ..creation import empty
from ..parameter import Parameter, _ParameterMeta
from ..tensor import Size, Tensor, _TensorMeta

__all__ = ["UninitializedParameter", "UninitializedBuffer", "is_lazy"]

# the modules whose reading of `.shape` is torch's reading of it in Python (state dicts)
_SHAPE_READERS = frozenset(("tapegrad.nn.modules.module", "tapegrad.nn.modules.lazy"))

# Tensor's own slots, reached past the properties below
_V, _SHAPE, _DTYPE = Tensor._v, Tensor._shape, Tensor._dtype


def _set_empty(t, dtype, device):
    """Give t torch's placeholder value: an empty tensor of `dtype` (default dtype)."""
    _device.check(device)
    e = empty(0, dtype=dtype)
    _V.__set__(t, e._materialize())
    _SHAPE.__set__(t, (0,))
    _DTYPE.__set__(t, e._dtype)
    t._tape = None
    t._recorded = False


class UninitializedTensorMixin:
    """What the uninitialized parameter and buffer share: no value, no shape, torch's
    errors when used, `materialize`."""
    __module__ = "tapegrad.nn.parameter"   # (torch's, which re-exports it)
    __slots__ = ()
    cls_to_become = None

    def _refuse(self, depth=2):
        op = sys._getframe(depth).f_code.co_name    # (the tapegrad function using the value)
        raise ValueError(
            f"Attempted to use an uninitialized parameter in {op}. This error happens when "
            "you are using a `LazyModule` or explicitly manipulating "
            f"`torch.nn.parameter.{type(self).__name__}` objects. When using LazyModules Call "
            "`forward` with a dummy batch to initialize the parameters before calling torch "
            "functions")

    @property
    def _v(self):
        self._refuse()

    @_v.setter
    def _v(self, value):
        _V.__set__(self, value)

    @property
    def _shape(self):
        self._refuse()

    @_shape.setter
    def _shape(self, value):
        _SHAPE.__set__(self, value)

    @property
    def shape(self):
        # an op of tapegrad's reading the shape is torch's op refusing the placeholder (a
        # ValueError); user code and Module's state dict loading get torch's RuntimeError
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("tapegrad.") and caller not in _SHAPE_READERS:
            self._refuse()
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error "
            "usually happens in `load_state_dict` when trying to load an uninitialized "
            "parameter into an initialized one. Call `forward` to initialize the parameters "
            "before accessing their attributes.")

    def size(self, dim=None):
        """The placeholder's size, [0] (as torch's)."""
        shape = Size(_SHAPE.__get__(self))
        return shape if dim is None else shape[dim]

    def materialize(self, shape, device=None, dtype=None):
        """Give the tensor `shape` (uninitialized values, of `dtype` or its own) and make it
        a Parameter (Tensor for a buffer)."""
        _device.check(device)
        dt = _DTYPE.__get__(self) if dtype is None else dtype
        e = empty(tuple(shape), dtype=dt)   # (one tuple: () is a shape, no argument is not)
        _V.__set__(self, e._materialize())
        _SHAPE.__set__(self, e._shape)
        _DTYPE.__set__(self, dt)
        self._lserial = 0
        self.__class__ = self.cls_to_become

    # dtype and device moves change the placeholder's dtype (what it materializes as) and
    # return it: Module.to / double / float apply them to every parameter and buffer
    def to(self, *args, **kwargs):
        given = _device.parse_to(args, kwargs)
        _device.check(given.get("device"))
        dtype = given.get("dtype")
        if dtype is not None:
            _DTYPE.__set__(self, dtype)
        return self

    def double(self):
        return self.to(D.float64)

    def float(self):
        return self.to(D.float32)

    def cpu(self):
        return self

    def detach(self):
        """The placeholder itself: Module.state_dict detaches every entry, and torch saves a
        lazy module's uninitialized ones as they are."""
        return self

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call "
                           "`forward` to initialize the parameters before calling "
                           "`module.share_memory()`.")

    def __repr__(self):
        return f"<{type(self).__name__}>"

    __str__ = __repr__

    def __reduce_ex__(self, proto):
        return (type(self), (self.requires_grad,))



class _UninitializedParameterMeta(_ParameterMeta):
    """UninitializedParameter(requires_grad=True, device=None, dtype=None)."""

    def __call__(cls, requires_grad=True, device=None, dtype=None):
        p = type.__call__(cls)
        _set_empty(p, dtype, device)
        if requires_grad:
            p.requires_grad_(True)
        return p


class UninitializedParameter(UninitializedTensorMixin, Parameter,
                             metaclass=_UninitializedParameterMeta):
    """A Parameter whose shape is not known yet (a lazy module's, until its first forward);
    `materialize(shape)` makes it a Parameter."""
    __slots__ = ()
    __module__ = "tapegrad.nn.parameter"   # (torch's, which re-exports it)
    cls_to_become = Parameter

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, None, _DTYPE.__get__(self))
        return memo[id(self)]


class _UninitializedBufferMeta(_TensorMeta):
    """UninitializedBuffer(requires_grad=False, device=None, dtype=None, persistent=True)."""

    def __call__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        b = type.__call__(cls)
        _set_empty(b, dtype, device)
        if requires_grad:
            b.requires_grad_(True)
        return b


class UninitializedBuffer(UninitializedTensorMixin, Tensor, metaclass=_UninitializedBufferMeta):
    """A buffer whose shape is not known yet (a lazy module's, until its first forward);
    `materialize(shape)` makes it a Tensor."""
    __slots__ = ()
    __module__ = "tapegrad.nn.parameter"   # (torch's, which re-exports it)
    cls_to_become = Tensor

    def __deepcopy__(self, memo):
        self._refuse(1)     # (torch's buffer placeholder has no deepcopy of its own)


def is_lazy(param):
    """Whether `param` is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(param, UninitializedTensorMixin)
