"""`tapegrad.nn.Buffer`: torch's marker for a module buffer (torch.nn.parameter.Buffer).

As torch's, `Buffer(data, persistent=True)` returns a plain tensor, `data` detached with its
requires_grad kept, that `isinstance(t, nn.Buffer)` recognises: assigning it to a Module
attribute registers it as a buffer, persistent or not (in `state_dict` or not).  torch sets
`persistent` and `_is_buffer` attributes on the tensor; tapegrad's tensors have fixed slots,
so the flag lives here, in a table keyed by the tensor's id that drops an entry when its
tensor dies (`persistent_flag`).  Reading `t.persistent` is therefore not available."""
import weakref

from ..creation import empty
from ..tensor import Tensor, _TensorMeta

__all__ = ["Buffer", "persistent_flag"]

# id(tensor) -> (weak reference to it, persistent): the tensors Buffer() made
_FLAGS = {}


def _forget(ref, key):
    entry = _FLAGS.get(key)
    if entry is not None and entry[0] is ref:
        del _FLAGS[key]


def persistent_flag(t):
    """Whether tensor t was made by Buffer() with persistent=True (True/False), else None."""
    entry = _FLAGS.get(id(t))
    if entry is None or entry[0]() is not t:
        return None
    return entry[1]


class _BufferMeta(_TensorMeta):
    """Buffer(data=None, *, persistent=True): torch's constructor; isinstance(t, Buffer) is
    True for the tensors it returned."""

    def __call__(cls, data=None, *, persistent=True):
        if data is None:
            data = empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        key = id(t)
        _FLAGS[key] = (weakref.ref(t, lambda ref, key=key: _forget(ref, key)), bool(persistent))
        return t

    def __instancecheck__(cls, instance):
        if cls is Buffer and isinstance(instance, Tensor) and \
                persistent_flag(instance) is not None:
            return True
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """A tensor that is a module's state but not a parameter (BatchNorm's running_mean):
    assigning one to a Module attribute registers it as a buffer (`persistent`: whether it
    is saved in `state_dict`).  Buffer(data) returns a plain tensor: see the module doc."""
    __slots__ = ()
    __module__ = "tapegrad.nn.parameter"   # (torch's, which re-exports it)
