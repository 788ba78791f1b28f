"""torch.utils.hooks: the names re-exported from where tapegrad keeps them (RemovableHandle:
nn.Module's, whose constructor is torch's; BackwardHook: nn.Module's full backward hooks),
plus torch's unserializable_hook and warn_if_has_hooks."""
import warnings

from ..hooks import leaf_hooks
from ..nn.modules._functions import BackwardHook
from ..nn.modules.module import RemovableHandle

__all__ = ["RemovableHandle", "unserializable_hook", "warn_if_has_hooks", "BackwardHook"]


def unserializable_hook(f):
    """Mark `f` as a hook that is not saved with its tensor (no warn_if_has_hooks warning)."""
    f.__torch_unserializable__ = True
    return f


def _tensor_hooks(tensor):
    """The tensor's register_hook hooks (a leaf keeps them, a non-leaf's tape does)."""
    h = leaf_hooks(tensor) if tensor._tape is None else (tensor._tape.hooks or {}).get(
        tensor._node)
    return h.tensor if h is not None else {}


def warn_if_has_hooks(tensor):
    """torch's warning for each of the tensor's hooks not marked unserializable_hook."""
    for hook in _tensor_hooks(tensor).values():
        if not hasattr(hook, "__torch_unserializable__"):
            warnings.warn(f"backward hook {repr(hook)} on tensor will not be serialized.  If "
                          "this is expected, you can decorate the function with "
                          "@torch.utils.hooks.unserializable_hook to suppress this warning",
                          stacklevel=2)
