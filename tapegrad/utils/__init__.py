"""torch.utils: `checkpoint` (tapegrad.utils.checkpoint) and `data` (datasets, samplers,
DataLoader: tapegrad.utils.data)."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
