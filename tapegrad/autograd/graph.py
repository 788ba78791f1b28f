"""`tapegrad.autograd.graph`, torch's public module of that name: `Node`, the base class of
every `grad_fn` (its views of tape entries live in `tapegrad.graph`)."""
from ..graph import Node

__all__ = ["Node"]
