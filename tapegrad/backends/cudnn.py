"""`tapegrad.backends.cudnn`: not available; the flags programs set (directly or for a block
with `flags()`) are kept and change nothing (torch's CPU build: `version()` is None)."""
from contextlib import contextmanager

from ._absent import is_available, is_built  # noqa: F401
from ._flags import check_bool, check_precision

enabled = True
benchmark = False
benchmark_limit = None   # (a CUDA build's count of algorithms tried: None without one)
deterministic = False
allow_tf32 = True
fp32_precision = "none"
depthwise_kernel = "auto"

_DEPTHWISE = ("auto", "cudnn", "native")


def version():
    return None


def set_flags(_enabled=None, _benchmark=None, _benchmark_limit=None, _deterministic=None,
              _allow_tf32=None, _fp32_precision="none", _depthwise_kernel=None):
    """Set the given flags (None: kept) one after another, as torch's; the old ones
    (`_benchmark_limit` needs CUDA: ignored)."""
    global enabled, benchmark, deterministic, allow_tf32, fp32_precision, depthwise_kernel
    orig = (enabled, benchmark, benchmark_limit, deterministic, allow_tf32, fp32_precision,
            depthwise_kernel)
    if _enabled is not None:
        enabled = check_bool("set_enabled_cudnn", _enabled)
    if _benchmark is not None:
        benchmark = check_bool("set_benchmark_cudnn", _benchmark)
    if _deterministic is not None:
        deterministic = check_bool("set_deterministic_cudnn", _deterministic)
    if _allow_tf32 is not None:
        allow_tf32 = check_bool("set_allow_tf32_cublas", _allow_tf32)
    if _fp32_precision is not None:
        fp32_precision = check_precision(_fp32_precision, "cuda")
    if _depthwise_kernel is not None:
        if _depthwise_kernel not in _DEPTHWISE:
            raise RuntimeError(f"Unknown cuDNN depthwise kernel mode: {_depthwise_kernel}. "
                               f"Expected one of: auto, cudnn, native")
        depthwise_kernel = _depthwise_kernel
    return orig


@contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False,
          allow_tf32=True, fp32_precision="none", depthwise_kernel="auto"):
    """The flags set for the block, the old ones restored after it."""
    orig = set_flags(enabled, benchmark, benchmark_limit, deterministic, allow_tf32,
                     fp32_precision, depthwise_kernel)
    try:
        yield
    finally:
        set_flags(*orig)
