"""`tapegrad.cpu`: torch.cpu's device queries and stream API for device-agnostic code.  tapegrad
computes on the CPU, synchronously: one device, always available; a stream or event has
nothing to wait for, so their methods return at once, as torch's CPU ones do.
`tapegrad.cpu.amp`: torch's deprecated spellings of `tapegrad.amp` for the CPU."""
from . import amp  # noqa: F401  (torch.cpu.amp)

__all__ = ["current_device", "current_stream", "device_count", "get_capabilities",
           "is_available", "is_initialized", "set_device", "stream", "synchronize", "Event",
           "Stream", "StreamContext"]


def is_available():
    """True: the CPU is always available."""
    return True


def device_count():
    """1: the number of CPU devices (not cores)."""
    return 1


def current_device():
    """'cpu'."""
    return "cpu"


def is_initialized():
    """True: the CPU needs no initialization."""
    return True


def set_device(device):
    """Does nothing: there is one CPU device."""


def synchronize(device=None):
    """Returns at once: every tapegrad op has finished when it returns."""


def get_capabilities():
    """torch's mapping of CPU features (cpuinfo's) is not available: tapegrad has no probe of
    its own for cache sizes, socket counts and torch's feature names."""
    raise NotImplementedError("tapegrad.cpu.get_capabilities is not implemented (torch reads "
                              "it from its bundled cpuinfo library; numpy exposes no "
                              "equivalent)")


class Stream:
    """A CPU stream: work runs in order as it is issued, so there is nothing to wait for."""

    def __init__(self, priority=-1):
        pass

    def wait_stream(self, stream):
        pass

    def wait_event(self, event):
        pass

    def record_event(self, event=None):
        pass


class Event:
    """A CPU event: complete as soon as it is recorded."""

    def query(self):
        return True

    def record(self, stream=None):
        pass

    def synchronize(self):
        pass

    def wait(self, stream=None):
        pass


_default_stream = Stream()
_current = [_default_stream]


def current_stream(device=None):
    """The stream selected by `stream(...)` (the default stream outside one)."""
    return _current[0]


class StreamContext:
    """Selects `stream` as the current stream inside the `with` block (None: no change)."""

    def __init__(self, stream):
        self.stream = stream
        self.prev_stream = _default_stream

    def __enter__(self):
        if self.stream is not None:
            self.prev_stream, _current[0] = _current[0], self.stream

    def __exit__(self, *exc):
        if self.stream is not None:
            _current[0] = self.prev_stream
        return False


def stream(stream):
    """A StreamContext selecting `stream`."""
    return StreamContext(stream)
