"""torch.nn.attention: `SDPBackend` and the `sdpa_kernel` context manager, with torch's
argument checks and its save/restore of the enabled backends.  tapegrad's
scaled_dot_product_attention (nn/_attention.py) has one path, the math one, standing for
torch's two CPU kernels (math, flash): with neither enabled it raises torch's "No viable
backend" error.  Which backends are enabled are torch's global flags, kept in backends.cuda
(`enable_math_sdp`, ...)."""
import contextlib
import enum

from ..backends import cuda as _cuda

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.Enum):
    """torch's SDPBackend: not an int (SDPBackend.MATH != 0), but int() of one is its value."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __int__(self):
        return self.value


# torch's defaults: every backend enabled, tried in this order
_ALL = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
        SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE]
_STATE = {"priority": list(_ALL)}
# each backend's global flag (backends.cuda.SDP: torch.backends.cuda.enable_flash_sdp & co)
_FLAG = {SDPBackend.FLASH_ATTENTION: "flash", SDPBackend.EFFICIENT_ATTENTION: "mem_efficient",
         SDPBackend.MATH: "math", SDPBackend.CUDNN_ATTENTION: "cudnn",
         SDPBackend.OVERRIDEABLE: "overrideable"}


def _cur_sdpa_kernel_backends(with_priority=False):
    """The enabled backends (in torch's listing order, or by priority)."""
    order = _STATE["priority"] if with_priority else [
        SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
        SDPBackend.MATH, SDPBackend.OVERRIDEABLE]
    return [b for b in order if _cuda.SDP[_FLAG[b]]]


def _sdpa_kernel(backends, set_priority=False):
    for b in _ALL:
        _cuda.SDP[_FLAG[b]] = b in backends
    if set_priority:
        _STATE["priority"] = list(backends) + [b for b in _STATE["priority"]
                                               if b not in backends]


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """torch.nn.attention.sdpa_kernel: only `backends` (one or a list) enabled inside."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError(f"Backend must be an instance of SDPBackend or a list of SDPBackend "
                             f"instances, got {type(backends).__name__}")
    if isinstance(backends, SDPBackend):
        backends = [backends]
    backends = list(dict.fromkeys(backends))
    previous = _cur_sdpa_kernel_backends(with_priority=set_priority)
    try:
        _sdpa_kernel(backends, set_priority)
        yield {}
    finally:
        _sdpa_kernel(previous, set_priority)
