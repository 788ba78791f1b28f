"""torch.utils: `checkpoint` (tapegrad.utils.checkpoint)."""
from . import checkpoint

__all__ = ["checkpoint"]
