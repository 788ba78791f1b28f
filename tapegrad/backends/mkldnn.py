"""`tapegrad.backends.mkldnn`: not available (tapegrad runs no oneDNN); `enabled` is read by
nn.LSTM, whose float32 layers are torch's oneDNN node (MkldnnRnnLayerBackward0, computed in
numpy) while it is True and the composite steps when False, as torch's.  `flags()` sets
them for a block, as torch's (`deterministic`, `fp32_precision` are kept and change nothing;
torch's CPU build reads `allow_tf32` as None)."""
import warnings
from contextlib import contextmanager

from ._absent import is_available, is_built  # noqa: F401
from ._flags import check_bool, check_precision

enabled = True
deterministic = False
allow_tf32 = None
fp32_precision = "none"

# torch's Context::setAllowTF32OneDNN on a build without Intel GPU support, every call
_TF32_WARNING = ("TF32 acceleration on top of oneDNN is available for Intel GPUs. The current "
                 "Torch version does not have Intel GPU Support.")


def set_flags(_enabled=None, _deterministic=None, _allow_tf32=None, _fp32_precision="none"):
    """Set the given flags (None: kept) one after another, as torch's; the old ones."""
    global enabled, deterministic, fp32_precision
    orig = (enabled, deterministic, allow_tf32, fp32_precision)
    if _enabled is not None:
        enabled = check_bool("set_enabled_mkldnn", _enabled)
    if _deterministic is not None:
        deterministic = check_bool("set_deterministic_mkldnn", _deterministic)
    if _allow_tf32 is not None:
        check_bool("_set_onednn_allow_tf32", _allow_tf32)
        warnings.warn(_TF32_WARNING, UserWarning)   # (torch: at set_flags, its C call)
    if _fp32_precision is not None:
        fp32_precision = check_precision(_fp32_precision, "mkldnn")
    return orig


@contextmanager
def flags(enabled=False, deterministic=False, allow_tf32=True, fp32_precision="none"):
    """The flags set for the block, the old ones restored after it (torch's defaults: oneDNN
    off)."""
    orig = set_flags(enabled, deterministic, allow_tf32, fp32_precision)
    try:
        yield
    finally:
        set_flags(*orig)
