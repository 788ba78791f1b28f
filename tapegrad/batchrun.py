"""Running a batch kernel on several threads at once (value_and_grad_batch, jacobian_batch).

A batch kernel is compiled `nogil`, and one call of it is one thread's part of a batch: row t
of the call's scratch, its points taken chunk by chunk from a counter the parts share
(drivers.replay_batch).  `run_parts` calls part 0 on the calling thread and parts 1.. on threads of
a pool kept for the process, all at once.

Why not Numba's `parallel=True` (a `prange` over the threads, as before): Numba compiled the
prange's body as a function of its own, linking the batch kernel's callees (the whole forward
and reverse sweep) into it and then into the kernel again: ~15 s more of a cold compile per
copy of a batch kernel, four copies per dtype.  And its threading layers fail in ways plain
threads do not: GNU OpenMP terminates a process forked after a launch when the child launches
again, and `workqueue` aborts on launches from two threads at once.

Interrupted (Ctrl-C while the calling thread waits), the call stops the other parts at their
next chunk (the counters are set past the last one) and waits for them before the exception
goes on: no thread writes into the call's arrays once it has returned or raised.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

__all__ = ["run_parts"]

_pool = None          # the executor, and how many threads it has
_pool_size = 0
_pool_lock = threading.Lock()
_STOP = 1 << 62       # a chunk counter past any call's last chunk


def _forget_after_fork():
    """In a forked child the pool's threads do not exist: the next call makes a new pool."""
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size = None, 0
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _executor(workers):
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            old = _pool
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="tapegrad-batch")
            _pool_size = workers
            if old is not None:
                old.shutdown(wait=False)   # (its threads end once their parts are done)
        return _pool


def run_parts(kernel, args, threads, counter):
    """kernel(*args, t) for t in range(threads), at once; `counter` (the chunk counters the
    parts share) set to 0 first.  Returns the least of the parts' non-negative results
    (the first point whose guard failed), else -1."""
    counter[:] = 0
    if threads <= 1:
        return kernel(*args, 0)
    pool = _executor(threads - 1)
    futures = [pool.submit(kernel, *args, t) for t in range(1, threads)]
    try:
        results = [kernel(*args, 0)] + [f.result() for f in futures]
    except BaseException:
        counter[:] = _STOP
        while True:     # (a second Ctrl-C does not cut this wait short)
            try:
                wait(futures)
                break
            except BaseException:   # noqa: BLE001 - the first exception goes on below
                pass
        raise
    failed = [r for r in results if r >= 0]
    return min(failed) if failed else -1
