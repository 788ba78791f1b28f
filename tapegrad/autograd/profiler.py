"""`tapegrad.autograd.profiler` (torch.autograd.profiler): `record_function` (a label, as
tapegrad.profiler's) and `profile`, whose `enabled=False` form (a script's profiling
switched off) runs the block as it is; an enabled one raises NotImplementedError."""
from ..profiler import record_function

__all__ = ["record_function", "profile"]


class profile:
    """torch.autograd.profiler.profile: `enabled=False` does nothing, as torch's; profiling
    itself is not in tapegrad (NotImplementedError)."""

    def __init__(self, enabled=True, **kwargs):
        if enabled:
            raise NotImplementedError("tapegrad: torch.autograd.profiler.profile times "
                                      "torch's kernels, which tapegrad does not run; time the "
                                      "steps with time.perf_counter, or profile the Python "
                                      "with cProfile")
        self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
