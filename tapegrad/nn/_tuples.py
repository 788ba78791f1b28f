"""torch.nn.modules.utils' `_single` / `_pair` / `_triple`, once for the functionals and the
modules (an int argument, or a sequence of them, as a tuple of one per dimension)."""
from collections.abc import Iterable

__all__ = ["ntuple"]


def ntuple(v, n):
    """A tuple of v's items when v is iterable, else v repeated n times (torch's
    `_ntuple(n)(v)`)."""
    return tuple(v) if isinstance(v, Iterable) else (v,) * n
