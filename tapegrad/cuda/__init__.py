"""`tapegrad.cuda`: the queries programs make before choosing a device.  tapegrad has no CUDA
backend: `is_available()` is False (programs then pick the CPU), and calls that would need a
GPU raise torch's CPU build's error.  `tapegrad.cuda.amp`: torch's deprecated spellings of
`tapegrad.amp`'s autocast and GradScaler (both warn and disable themselves without CUDA)."""
from ..devices import NO_CUDA
from . import amp  # noqa: F401  (torch.cuda.amp)


def is_available():
    """False: tapegrad computes on the CPU only."""
    return False


def device_count():
    """0: no CUDA devices."""
    return 0


def is_initialized():
    """False: there is no CUDA state."""
    return False


def manual_seed(seed):
    """Does nothing without CUDA (as torch's CPU build)."""


def manual_seed_all(seed):
    """Does nothing without CUDA (as torch's CPU build)."""


def synchronize(device=None):
    """torch's CPU build raises: there is nothing to synchronize with."""
    raise AssertionError(NO_CUDA)


def current_device():
    """torch's CPU build raises: there is no current CUDA device."""
    raise AssertionError(NO_CUDA)


def get_device_name(device=None):
    """torch's CPU build raises: there is no CUDA device to name."""
    raise AssertionError(NO_CUDA)


def get_device_properties(device=None):
    """torch's CPU build raises: there is no CUDA device."""
    raise AssertionError(NO_CUDA)


def empty_cache():
    """Does nothing: there is no CUDA caching allocator (as torch's CPU build)."""


def memory_allocated(device=None):
    """0 bytes: nothing is allocated on a CUDA device (as torch's CPU build)."""
    return 0


def max_memory_allocated(device=None):
    """0 bytes (as torch's CPU build)."""
    return 0


def memory_reserved(device=None):
    """0 bytes (as torch's CPU build)."""
    return 0


def max_memory_reserved(device=None):
    """0 bytes (as torch's CPU build)."""
    return 0
