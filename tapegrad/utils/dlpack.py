"""torch.utils.dlpack: `from_dlpack` and `to_dlpack`, and Tensor's `__dlpack__` /
`__dlpack_device__`, through numpy's DLPack support.  A tensor exported or imported shares its
memory (as `numpy()` / `from_numpy` do); tapegrad's tensors live on the CPU (kDLCPU)."""
import numpy as np

from .. import devices as _device
from ..creation import from_numpy
from ..tensor import tensor_methods
from ..tracing import _bake

__all__ = ["from_dlpack", "to_dlpack"]

_KDLCPU = 1
_INVALID = ("from_dlpack received an invalid capsule. Note that DLTensor capsules can be "
            "consumed only once, so you might have already constructed a tensor from it once.")


@tensor_methods
class _DLPackMethods:
    """Tensor's DLPack protocol (the producer side)."""

    def __dlpack__(self, *, stream=-1, max_version=None, dl_device=None, copy=None):
        if self.requires_grad:
            raise BufferError("Can't export tensors that require gradient, use "
                              "tensor.detach()")
        if self._recorded:
            _bake(self, "guard_value")   # (as numpy(): a traced value leaves the tape)
        arr = self._materialize()        # (a one-element value gets memory to share)
        return arr.__dlpack__(max_version=max_version, dl_device=dl_device, copy=copy)

    def __dlpack_device__(self):
        return (_KDLCPU, 0)


class _Capsule:
    """A bare DLPack capsule (legacy protocol) as the object numpy's from_dlpack reads."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (_KDLCPU, 0)


def from_dlpack(ext_tensor, *, device=None, copy=None):
    """A tensor sharing the memory of `ext_tensor` (an object with `__dlpack__`, e.g. a numpy
    or torch array on the CPU, or a DLPack capsule, which can be consumed once)."""
    _device.check(device)
    if hasattr(ext_tensor, "__dlpack__"):
        return from_numpy(np.from_dlpack(ext_tensor, copy=copy))
    if type(ext_tensor).__name__ != "PyCapsule":
        raise RuntimeError(_INVALID)
    try:
        arr = np.from_dlpack(_Capsule(ext_tensor), copy=copy)
    except (TypeError, ValueError):   # (a capsule consumed already)
        raise RuntimeError(_INVALID) from None
    return from_numpy(arr)


def to_dlpack(tensor):
    """A DLPack capsule of `tensor`'s memory (consumable once)."""
    return tensor.__dlpack__()
