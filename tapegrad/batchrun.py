"""Running a batch kernel on several threads at once (value_and_grad_batch, jacobian_batch).

A batch kernel is compiled `nogil`, and one call of it is one thread's part of a batch: row t
of the call's scratch, its points taken chunk by chunk from a counter the parts share
(drivers.replay_batch).  `run_parts` calls part 0 on the calling thread and parts 1.. on the
threads of a crew kept for the process, all at once.  Between calls a crew's threads wait in
compiled code with the GIL released (tapegrad._handoff): spinning ~1 ms for the next call,
then asleep; the caller waits for their parts spinning likewise.  On the 2-core VM this
project is measured on, each handoff through a queue and a future (a ThreadPoolExecutor, as
before) was a futex wake taking 20-60 us: Rosenbrock's batch at B = 2000 went from 3.10-3.16
to 2.96-3.03 ms a call on 2 threads (1 thread: 5.7-5.9 ms), see docs/scale.md.  A call made
while another Python thread's holds the crew runs its parts on a ThreadPoolExecutor instead.

Why not Numba's `parallel=True` (a `prange` over the threads, as before): Numba compiled the
prange's body as a function of its own, linking the batch kernel's callees (the whole forward
and reverse sweep) into it and then into the kernel again: ~15 s more of a cold compile per
copy of a batch kernel, four copies per dtype.  And its threading layers fail in ways plain
threads do not: GNU OpenMP terminates a process forked after a launch when the child launches
again, and `workqueue` aborts on launches from two threads at once.

Interrupted (Ctrl-C while the calling thread runs its part or waits), the call stops the other
parts at their next chunk (the counters are set past the last one) and waits for them before
the exception goes on: no thread writes into the call's arrays once it has returned or raised.
"""
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from ._jit import kernel_module

__all__ = ["run_parts"]

_pool = None          # the executor, and how many threads it has
_pool_size = 0
_pool_lock = threading.Lock()
_STOP = 1 << 62       # a chunk counter past any call's last chunk


_crews = {}           # workers -> _Crew
_yield = getattr(os, "sched_yield", lambda: None)
# how long a crew's worker spins for the next call before it sleeps, and the caller for the
# workers before it gives up its core and looks for an exception (Ctrl-C) in Python again;
# counted in spin rounds (one x86 `pause` each: ~11 ns on this project's Xeon, ~40-50 on
# others), timed when a crew is made
_IDLE_SECONDS = 1e-3
_DONE_SECONDS = 3e-4


def _forget_after_fork():
    """In a forked child the pool's and crews' threads do not exist: the next call makes new
    ones."""
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size = None, 0
    _pool_lock = threading.Lock()
    _crews.clear()


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


def _handoff():
    return kernel_module("tapegrad._handoff", "_handoff.py", _import_handoff)


def _import_handoff():
    from . import _handoff
    return _handoff


class _Crew:
    """`workers` threads that run parts 1.. of one call at a time.  Between calls each waits
    in compiled code with the GIL released (tapegrad._handoff.wait_call): spinning ~1 ms for
    the next call, then asleep on a condition the caller notifies."""

    def __init__(self, workers):
        handoff = _handoff()
        self.post, self.wait_done = handoff.post, handoff.wait_done
        self.state = np.zeros(handoff.WORD * (2 + workers), np.int64)
        self.workers = workers
        self.busy = threading.Lock()        # one call at a time; another thread's uses the pool
        self.asleep = threading.Condition()
        self.sleeping = 0
        self.posted = 0
        self.call = None                    # (kernel, args) of the call posted
        self.results = [-1] * workers
        self.errors = [None] * workers
        # (each compiled or loaded here, not in a call: these change no state word)
        self.post(self.state, 0, 0)
        self.wait_done(self.state, workers, 0, 0)
        handoff.wait_call(self.state, 0, 0, 0)
        rounds = 10_000
        start = time.thread_time()      # (CPU time: a busy machine does not stretch it)
        handoff.wait_call(self.state, 0, 0, rounds)    # (no call posted: spins them all)
        per_round = max((time.thread_time() - start) / rounds, 1e-9)
        self.idle_spins = max(1000, int(_IDLE_SECONDS / per_round))
        self.done_spins = max(1000, int(_DONE_SECONDS / per_round))
        for w in range(workers):
            threading.Thread(target=self._work, args=(w, handoff.wait_call), daemon=True,
                             name="tapegrad-batch-%d" % (w + 1)).start()

    def _work(self, w, wait_call):
        seen = 0
        while True:
            call = wait_call(self.state, w, seen, self.idle_spins)
            if call < 0:
                with self.asleep:
                    self.sleeping += 1
                    while self.posted == seen:
                        self.asleep.wait()
                    self.sleeping -= 1
                continue
            seen = call
            kernel, args = self.call
            try:
                self.results[w] = kernel(*args, w + 1)
            except BaseException as e:   # noqa: BLE001 - raised on the calling thread
                self.errors[w] = e
            # (not kept until the next call: the caller reuses its output block only when
            # nothing references it any more, batchbuf.BatchBuffers.outputs)
            del kernel, args

    def _wait(self, call):
        """Until every worker has finished call `call`: spinning, and between spins giving
        up this core (a worker without a core of its own, the machine busy, gets it)."""
        while not self.wait_done(self.state, self.workers, call, self.done_spins):
            _yield()

    def run(self, kernel, args, counter):
        """run_parts on this crew (held by the caller)."""
        self.call = (kernel, args)
        self.results[:] = [-1] * self.workers
        self.posted = call = self.posted + 1
        self.post(self.state, call, counter.ctypes.data)
        if self.sleeping:
            with self.asleep:
                self.asleep.notify_all()
        try:
            first = kernel(*args, 0)
            self._wait(call)
        except BaseException:
            counter[:] = _STOP
            while True:     # (a second Ctrl-C does not cut this wait short)
                try:
                    self._wait(call)
                    break
                except BaseException:   # noqa: BLE001 - the first exception goes on below
                    pass
            raise
        finally:
            self.call = None
        errors = [e for e in self.errors if e is not None]
        if errors:
            self.errors[:] = [None] * self.workers
            raise errors[0]
        failed = [r for r in (first, *self.results) if r >= 0]
        return min(failed) if failed else -1


def _crew(workers):
    """The crew of `workers` threads, held for this call; None when another thread's call
    holds it (that call's parts go to the pool)."""
    crew = _crews.get(workers)
    if crew is None:
        with _pool_lock:
            crew = _crews.get(workers)
            if crew is None:
                crew = _crews[workers] = _Crew(workers)
    return crew if crew.busy.acquire(blocking=False) else None


def run_parts(kernel, args, threads, counter):
    """kernel(*args, t) for t in range(threads), at once; `counter` (the chunk counters the
    parts share) set to 0 first.  Returns the least of the parts' non-negative results
    (the first point whose guard failed), else -1."""
    counter[:] = 0
    if threads <= 1:
        return kernel(*args, 0)
    crew = _crew(threads - 1)
    if crew is not None:
        try:
            return crew.run(kernel, args, counter)
        finally:
            crew.busy.release()
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
