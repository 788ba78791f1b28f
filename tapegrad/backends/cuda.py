"""`tapegrad.backends.cuda`: not available (tapegrad runs on the CPU alone).  `matmul` holds
torch's flags for CUDA matrix products, which scripts set whatever the device
(`torch.backends.cuda.matmul.allow_tf32 = True`): kept, and read by nothing here.  The
scaled-dot-product-attention backend flags (`enable_flash_sdp`, `sdp_kernel`, ...) are
torch's global ones, which nn.attention.sdpa_kernel sets too."""
import contextlib
import warnings

from ..errors import type_name
from ._absent import is_available, is_built  # noqa: F401
from ._flags import check_bool


class _MatmulFlags:
    """torch.backends.cuda.matmul: its flags with torch's defaults."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


# ---- scaled_dot_product_attention's backends ------------------------------------------------
# Whether each of torch's SDPA backends may run (torch's global flags, which
# nn.attention.sdpa_kernel sets too: nn/attention.py reads and writes them here).  tapegrad's
# one attention path stands for torch's CPU kernels, math and flash (nn/_attention.py).
SDP = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True, "overrideable": True}
_FP16_BF16_REDUCTION = [False]

_SDP_KERNEL_DEPRECATED = (
    "`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this context manager will "
    "be removed. Please see `torch.nn.attention.sdpa_kernel()` for the new context manager, "
    "with updated signature.")


def _sdp_flag(key, enabled):
    if type(enabled) is not bool:
        # (torch's setters name the math one, the cudnn one with a stray %s)
        if key == "cudnn":
            raise RuntimeError(f"set_sdp_use_cudnn expects a bool, but got %s"
                               f"{type_name(enabled)}")
        check_bool("set_sdp_use_math", enabled)
    SDP[key] = enabled


def enable_flash_sdp(enabled):
    """Enable or disable flash scaled dot product attention."""
    _sdp_flag("flash", enabled)


def flash_sdp_enabled():
    return SDP["flash"]


def enable_mem_efficient_sdp(enabled):
    """Enable or disable memory-efficient scaled dot product attention."""
    _sdp_flag("mem_efficient", enabled)


def mem_efficient_sdp_enabled():
    return SDP["mem_efficient"]


def enable_math_sdp(enabled):
    """Enable or disable the math scaled dot product attention."""
    _sdp_flag("math", enabled)


def math_sdp_enabled():
    return SDP["math"]


def enable_cudnn_sdp(enabled):
    """Enable or disable cuDNN scaled dot product attention."""
    _sdp_flag("cudnn", enabled)


def cudnn_sdp_enabled():
    return SDP["cudnn"]


def allow_fp16_bf16_reduction_math_sdp(enabled):
    """Allow fp16/bf16 reductions in the math attention (no such dtypes here: kept)."""
    _FP16_BF16_REDUCTION[0] = check_bool("set_sdp_use_math", enabled)


def fp16_bf16_reduction_math_sdp_allowed():
    return _FP16_BF16_REDUCTION[0]


def is_flash_attention_available():
    """Whether a flash attention kernel was built (CUDA's: none)."""
    return False


def is_ck_sdpa_available():
    return False


def sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True,
               enable_cudnn=True):
    """Deprecated (FutureWarning, as torch's): a block with only the named SDPA backends
    enabled, the flags restored after it (nn.attention.sdpa_kernel's form)."""
    warnings.warn(_SDP_KERNEL_DEPRECATED, FutureWarning, stacklevel=2)
    return _sdp_block({"flash": bool(enable_flash), "mem_efficient": bool(enable_mem_efficient),
                       "math": bool(enable_math), "cudnn": bool(enable_cudnn),
                       "overrideable": False})


@contextlib.contextmanager
def _sdp_block(flags):
    before = dict(SDP)
    SDP.update(flags)
    try:
        yield {}
    finally:
        SDP.update(before)
