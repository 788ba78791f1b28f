"""`tapegrad.cuda.amp`: torch.cuda.amp's deprecated spellings of `tapegrad.amp` (each warns
torch's FutureWarning, then behaves as its torch.amp form with device "cuda": without CUDA,
autocast and GradScaler warn and disable themselves)."""
import functools
import warnings

from .. import amp as _amp
from ..amp import OptState  # noqa: F401  (torch keeps it importable from here)

__all__ = ["amp_definitely_not_available", "autocast", "custom_bwd", "custom_fwd", "GradScaler"]


def amp_definitely_not_available():
    """True: tapegrad has no CUDA (torch's: no CUDA and no torch_xla)."""
    return True


autocast, GradScaler = _amp.device_spellings("cuda")


def custom_fwd(fwd=None, *, cast_inputs=None):
    """Deprecated for `torch.amp.custom_fwd(args..., device_type='cuda')`."""
    warnings.warn("`torch.cuda.amp.custom_fwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_fwd(args..., device_type='cuda')` instead.", FutureWarning,
                  stacklevel=2)
    return functools.partial(_amp.custom_fwd, device_type="cuda")(fwd=fwd,
                                                                   cast_inputs=cast_inputs)


def custom_bwd(bwd):
    """Deprecated for `torch.amp.custom_bwd(args..., device_type='cuda')`."""
    warnings.warn("`torch.cuda.amp.custom_bwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_bwd(args..., device_type='cuda')` instead.", FutureWarning,
                  stacklevel=2)
    return functools.partial(_amp.custom_bwd, device_type="cuda")(bwd)
