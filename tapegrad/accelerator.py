"""`tapegrad.accelerator`: torch.accelerator as on a machine without one (tapegrad computes
on the CPU), so `torch.accelerator.current_accelerator().type if
torch.accelerator.is_available() else "cpu"`, the first line of torch's current tutorials,
picks "cpu"; the device calls raise torch's error for that case."""

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "current_device_idx", "set_device_index", "set_device_idx", "synchronize",
           "empty_cache", "current_stream", "set_stream", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "max_memory_reserved", "memory_stats",
           "reset_peak_memory_stats", "reset_accumulated_memory_stats", "get_memory_info",
           "get_device_capability"]

_NONE = "Cannot access accelerator device when none is available."


def is_available():
    """False: tapegrad has no accelerator."""
    return False


def current_accelerator(check_available=False):
    """None: no accelerator (torch's answer on a CPU-only machine)."""
    return None


def device_count():
    return 0


def _no_device(name):
    def call(*args, **kwargs):
        raise RuntimeError(_NONE)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"torch.accelerator.{name}: raises, as torch does without an accelerator."
    return call


current_device_index = _no_device("current_device_index")
current_device_idx = _no_device("current_device_idx")
set_device_index = _no_device("set_device_index")
set_device_idx = _no_device("set_device_idx")
synchronize = _no_device("synchronize")
empty_cache = _no_device("empty_cache")
current_stream = _no_device("current_stream")
set_stream = _no_device("set_stream")
memory_allocated = _no_device("memory_allocated")
max_memory_allocated = _no_device("max_memory_allocated")
memory_reserved = _no_device("memory_reserved")
max_memory_reserved = _no_device("max_memory_reserved")
memory_stats = _no_device("memory_stats")
reset_peak_memory_stats = _no_device("reset_peak_memory_stats")
reset_accumulated_memory_stats = _no_device("reset_accumulated_memory_stats")
get_memory_info = _no_device("get_memory_info")
get_device_capability = _no_device("get_device_capability")
