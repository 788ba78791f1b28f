"""`tapegrad.autograd.graph`, torch's public module of that name: `Node`, the base class of
every `grad_fn` (its views of tape entries live in `tapegrad.graph`)."""
from ..graph import Node
from .unsupported import disable_saved_tensors_hooks, save_on_cpu, saved_tensors_hooks

__all__ = ["Node", "saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks"]
