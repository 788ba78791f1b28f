"""Start-up costs, each measured in a fresh interpreter (workloads.startup)."""
import workloads as W


def track_import_time():
    """`import numpy` + `import tapegrad`: what `import tapegrad` costs a new process."""
    numpy_s, tapegrad_s = W.startup()[:2]
    return numpy_s + tapegrad_s


def track_first_backward_warm_cache():
    """First backward in a new process with the Numba cache filled: import numba + cache load."""
    W.startup()                      # fills the cache if it was not
    return W.startup()[2]


def track_first_backward_cold_cache():
    """First backward with NUMBA_CACHE_DIR an empty directory: the full kernel compile."""
    return W.startup(cold_cache=True)[2]


def track_first_nd_backward_cold_cache():
    """First backward in a new process when it is an n-d one, cold cache: the compile as a
    user whose first graph is n-d meets it (nothing compiled before it in that process)."""
    return W.first_nd_backward(cold_cache=True)


def track_nd_backward_after_scalar_cold_cache():
    """First n-d backward right after the first scalar one, cold cache: ~0 unless the n-d
    sweep needs a kernel specialization (a second compile) of its own.  (Until this
    benchmark was split off, track_first_nd_backward_cold_cache measured this: a few hundred
    µs, since the scalar backward had already compiled the one sweep kernel.)"""
    return W.startup(cold_cache=True)[3]


for _f in (track_import_time, track_first_backward_warm_cache, track_first_backward_cold_cache,
           track_first_nd_backward_cold_cache, track_nd_backward_after_scalar_cold_cache):
    _f.unit = "seconds"
    _f.timeout = 300


# -- the first replay of a process when it is an n-d one (the three cold first uses of issue #8,
# 0-d then n-d, are bench_tape.ColdCompile)
def track_cold_first_nd_replay():
    """The first replay in a fresh interpreter when it is an n-d one (record +
    value_and_grad), empty Numba cache: forward and sweep kernels and their pieces."""
    return W.cold_first_nd_replay()[0]


def track_cold_first_nd_replay_cpu():
    """CPU seconds of track_cold_first_nd_replay (steadier under load than wall time)."""
    return W.cold_first_nd_replay()[1]


for _f in (track_cold_first_nd_replay, track_cold_first_nd_replay_cpu):
    _f.unit = "seconds"
    _f.timeout = 900


class ColdBatch:
    """Seconds of the first value_and_grad_batch in a fresh interpreter with an empty Numba
    cache (workloads.cold_first_batch): of a 0-d tape, then of an n-d tape of the common ops,
    each compiling its copy of the batch driver (codegen.DRIVER_VARIANTS).  Once per asv run."""

    def setup_cache(self):
        return W.cold_first_batch()
    setup_cache.timeout = 900

    def track_first_batch_0d(self, cache):
        return cache[0]

    def track_then_nd_batch(self, cache):
        return cache[1]

    def track_cpu(self, cache):
        return cache[2]


for _f in (ColdBatch.track_first_batch_0d, ColdBatch.track_then_nd_batch, ColdBatch.track_cpu):
    _f.unit = "seconds"
