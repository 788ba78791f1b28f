"""The waits of a batch call's threads, in compiled code with the GIL released
(tapegrad.batchrun's crew): a worker waits for the next call spinning on a word the caller
writes, the caller waits for the workers' parts spinning on words they write.

Why not a queue and a future (a ThreadPoolExecutor, as before): each handoff there is a
futex wake, and on this project's 2-core machine (a VM) a woken thread ran 20-60 µs later:
per 3.3 ms call of Rosenbrock's batch (B = 2000) the caller spent ~26 µs posting the part,
the worker started ~50 µs after the call, and when the worker finished last the caller
resumed ~60 µs after it.  A worker that takes the GIL while the caller holds it waits for
another wake, so a worker starts only once the caller's own part has begun (the call's chunk
counter is no longer 0), when the GIL is free.

Imported on first use through `_jit.kernel_module`, as tapegrad._handoff.
"""
from numba import njit

from ._atomic import load_acquire, load_acquire_at, spin_pause, store_release

__all__ = ["WORD", "post", "wait_call", "wait_done"]

# the crew's state words, each alone on a pair of cache lines: [0] the last call posted,
# [WORD] the address of that call's chunk counter, [WORD * (2 + w)] the last call worker w
# has finished (its part returned, and it is out of Python again)
WORD = 16


@njit(cache=True, nogil=True)
def post(state, call, counter_address):
    """The caller's: call number `call` is posted, its chunk counter at `counter_address`."""
    store_release(state, WORD, counter_address)
    store_release(state, 0, call)


@njit(cache=True, nogil=True)
def wait_call(state, worker, seen, spins):
    """Worker `worker`'s wait after call `seen`: marks that call done, then spins until a
    later one is posted and its caller's part has started; returns its number, or -1 after
    `spins` rounds with none posted (the worker then sleeps)."""
    store_release(state, WORD * (2 + worker), seen)
    for _ in range(spins):
        if load_acquire(state, 0) != seen:
            counter = load_acquire(state, WORD)
            for _ in range(spins):
                if load_acquire_at(counter) != 0:
                    break
                spin_pause()
            return load_acquire(state, 0)
        spin_pause()
    return -1


@njit(cache=True, nogil=True)
def wait_done(state, workers, call, spins):
    """The caller's wait: until workers 0..workers-1 have each finished call `call`; False
    after `spins` rounds for one of them (the caller waits again)."""
    for worker in range(workers):
        n = 0
        while load_acquire(state, WORD * (2 + worker)) != call:
            n += 1
            if n > spins:
                return False
            spin_pause()
    return True
