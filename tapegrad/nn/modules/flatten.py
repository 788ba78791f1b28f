"""`torch.nn.modules.flatten`'s names, for the programs that import them from there; the
classes live in layers.py."""
from .layers import Flatten, Unflatten  # noqa: F401

__all__ = ["Flatten", "Unflatten"]
