"""`tapegrad.cpu.amp`: torch.cpu.amp's deprecated spellings of `tapegrad.amp` (each warns torch's
FutureWarning, then behaves as its torch.amp form with device "cpu")."""
from .. import amp as _amp

__all__ = ["autocast", "GradScaler"]

autocast, GradScaler = _amp.device_spellings("cpu")
