"""`torch.optim.adamw`'s name, for the programs that import AdamW from there (it lives in
adam.py, a subclass of Adam with decoupled weight decay)."""
from .adam import AdamW  # noqa: F401

__all__ = ["AdamW"]
