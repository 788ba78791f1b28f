"""`tapegrad.profiler` (torch.profiler): the labels training code puts around its steps.

`record_function(name)` marks a region for a profiler to attribute time to; with no
profiler running (tapegrad has none) it changes nothing, as torch's outside a profile.
Profiling itself (`profile`) measures torch's kernels, which tapegrad does not run: it
raises NotImplementedError."""
import contextlib
import enum

__all__ = ["record_function", "profile", "ProfilerActivity"]


class record_function(contextlib.ContextDecorator):
    """Context manager and decorator labelling a region (`with record_function("forward"):`)
    for a profiler: none runs here, so it only keeps the name and args."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class ProfilerActivity(enum.Enum):
    """The devices a torch profile records (the argument `activities=` names them)."""
    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


def profile(*args, **kwargs):
    """torch.profiler.profile: not in tapegrad (NotImplementedError)."""
    raise NotImplementedError("tapegrad: torch.profiler.profile times torch's kernels, which "
                              "tapegrad does not run; time the steps with time.perf_counter, "
                              "or profile the Python with cProfile")
