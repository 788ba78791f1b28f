"""`torch.nn.modules.flatten`'s names, for the programs that import them from there; the
classes live in layers.py."""
from .layers import Flatten, Unflatten  # noqa: F401

__all__ = ["Flatten", "Unflatten"]

# (torch's home of the classes: type(m) and pickles name this module, as torch's do)
for _cls in (Flatten, Unflatten):
    _cls.__module__ = __name__
