"""`tapegrad.autograd.graph`, torch's public module of that name: `Node`, the base class of
every `grad_fn` (its views of tape entries live in `tapegrad.graph`), and
`increment_version`."""
from ..graph import Node
from ..tape import bump_version
from ..tensor import Tensor
from .unsupported import disable_saved_tensors_hooks, save_on_cpu, saved_tensors_hooks

__all__ = ["Node", "increment_version", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks"]


def increment_version(tensor):
    """Count an in-place change of `tensor` (or of each tensor of an iterable) that autograd
    did not see, as torch's: a backward that reads the value it had raises the "modified by an
    inplace operation" error."""
    for t in (tensor,) if isinstance(tensor, Tensor) else tensor:
        bump_version(t)
