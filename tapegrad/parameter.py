"""`tapegrad.nn.Parameter`: a leaf tensor that a Module registers as one of its parameters.

As torch's, a Parameter is a Tensor (a subclass): it shares the memory of the tensor it is made
from, requires grad unless told otherwise, prints as "Parameter containing:" and is copied
(copy.deepcopy, pickling) as a Parameter.  Ops on it return plain tensors.

It changes no behaviour of a Tensor's ops, so the per-op fast paths (ndops, the generated
_fastpath, recording) take `type(x) is Parameter` as they take `type(x) is Tensor`; that is
why the class lives here, below the ops (tapegrad.nn re-exports it), and binds itself into
_fastpath as tensor.py binds Tensor.  A subclass of it, or of Tensor, takes the general path."""
import numpy as np

from . import errors, _fastpath
from .creation import empty, tensor
from .tensor import Tensor, _TensorMeta


class _ParameterMeta(_TensorMeta):
    """Parameter(data=None, requires_grad=True): torch's constructor."""

    def __call__(cls, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            data.detach()   # (torch's constructor calls it: a list or number raises there)
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not "
                            f"{errors.type_name(data)}")
        p = type.__call__(cls)
        p._v = data._v if type(data._v) is float else data._materialize()
        p._dtype = data._dtype
        p._shape = data._shape
        p._tape = None
        p._recorded = False
        if requires_grad:
            p._set_requires_grad(True, errors.NOT_FLOAT_CREATE)
        return p


def _rebuild(arr, requires_grad):
    return Parameter(tensor(arr), requires_grad)


class Parameter(Tensor, metaclass=_ParameterMeta):
    """A tensor that is a module's parameter: assigning one to a Module attribute registers
    it (it then appears in `parameters()` and `state_dict()`)."""
    __slots__ = ()
    __module__ = "tapegrad.nn.parameter"   # (torch's: type(p) names it; it re-exports it)

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(tensor(np.array(self._array(), copy=True), dtype=self._dtype),
                      self.requires_grad)
        memo[id(self)] = p
        return p

    def __reduce_ex__(self, protocol):
        return _rebuild, (np.array(self._array(), copy=True), self.requires_grad)


_fastpath.Parameter = Parameter
