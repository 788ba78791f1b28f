"""torch.utils.hooks: the names re-exported from where tapegrad keeps them (RemovableHandle:
nn.Module's, whose constructor is torch's; BackwardHook: nn.Module's full backward hooks),
plus torch's unserializable_hook; warn_if_has_hooks (torch.save's warning) is hooks.py's."""
from ..hooks import warn_if_has_hooks
from ..nn.modules._functions import BackwardHook
from ..nn.modules.module import RemovableHandle

__all__ = ["RemovableHandle", "unserializable_hook", "warn_if_has_hooks", "BackwardHook"]


def unserializable_hook(f):
    """Mark `f` as a hook that is not saved with its tensor (no warn_if_has_hooks warning)."""
    f.__torch_unserializable__ = True
    return f
