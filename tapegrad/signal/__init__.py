"""torch.signal: `windows` (tapegrad.signal.windows)."""
from . import windows

__all__ = ["windows"]
