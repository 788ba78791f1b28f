"""Tensor's methods as attributes of a module, for pickle: a method's __qualname__ is its
bare name, as torch's argument errors name it (native_args.name_as_torch), and its
__module__ this one, where pickle looks the name up."""
from .tensor import Tensor


def __getattr__(name):
    try:
        return getattr(Tensor, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
