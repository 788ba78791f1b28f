"""Two tapes never share stream memory: not when an interrupt lands while a tape grows, and
not when threads take arrays from the pool at the same time."""
import sys
import threading
import time

import numpy as np

from tapegrad import tape as T


def _arrays_of(t):
    """Every array a tape writes or reads its streams through."""
    return list(t._arrays) + [np.asarray(v) for v in (t.op, t.ia, t.ib, t.imm, t.val)]


def _shares(xs, ys):
    return any(np.shares_memory(x, y) for x in xs for y in ys)


def _interrupt_at(k, codes):
    """A trace function raising KeyboardInterrupt at the k-th line run in `codes`."""
    count = [0]

    def local(frame, event, arg):
        if event == "line":
            count[0] += 1
            if count[0] == k:
                raise KeyboardInterrupt
        return local

    def glob(frame, event, arg):
        return local if frame.f_code in codes else None
    return glob, count


def test_an_interrupt_while_a_tape_grows_never_shares_its_arrays():
    codes = {T.Tape._resize.__code__, T._take_streams.__code__, T._pool_take.__code__,
             T._give_streams.__code__}
    k, interrupted = 1, 0
    while True:
        T._POOL.clear()
        T._give_streams(T._take_streams(2048))   # a pooled set of the size the tape grows to
        t = T.Tape(cap=1024)
        for i in range(1024):
            t.push(0, -1, -1, 0.0, float(i))
        trace, count = _interrupt_at(k, codes)
        outer = sys.gettrace()              # (a coverage tool's tracer, restored below)
        sys.settrace(trace)
        try:
            t.push(0, -1, -1, 0.0, 1024.0)  # grows
            fired = False
        except KeyboardInterrupt:
            fired = True
        finally:
            sys.settrace(outer)
        mine = _arrays_of(t)
        # the tape is on one consistent set of arrays ...
        assert all(np.shares_memory(np.asarray(v), a)
                   for v, a in zip((t.op, t.ia, t.ib, t.imm, t.val), t._arrays)), k
        assert len(t._arrays[0]) == t.cap, k
        # ... that neither the pool nor the next tapes hold
        assert not _shares(mine, [a for arrs in T._POOL for a in arrs]), k
        others = [T.Tape(cap=c) for c in (1024, 2048, 4096)]
        assert not any(_shares(mine, list(o._arrays)) for o in others), k
        # and it keeps working
        n0 = t.n
        for i in range(3000):
            t.push(0, -1, -1, 0.0, float(n0 + i))
        assert np.array_equal(np.asarray(t.val)[:t.n], np.arange(t.n)), k
        del others, t
        if not fired:
            break
        interrupted += 1
        k += 1
    assert interrupted >= 5          # every line of the grow path was interrupted once


def test_threads_never_take_the_same_arrays():
    """Thread A is paused at each line of _take_streams (and _pool_take) in turn while thread B takes from the
    pool; A then resumes.  They never end up with the same arrays."""
    codes = {T._take_streams.__code__, T._pool_take.__code__}
    k = 1
    while True:
        T._POOL.clear()
        T._POOL.extend([T._take_streams(2048), T._take_streams(1024), T._take_streams(1024)])
        paused, done, go, got = threading.Event(), threading.Event(), threading.Event(), []
        count = [0]

        def local(frame, event, arg):
            if event == "line":
                count[0] += 1
                if count[0] == k:
                    paused.set()
                    go.wait(5)
            return local

        def a():
            sys.settrace(lambda f, e, arg: local if f.f_code in codes else None)
            try:
                got.append(T._take_streams(1024))
            finally:
                sys.settrace(None)
                done.set()
        th = threading.Thread(target=a)
        th.start()
        while not (paused.is_set() or done.is_set()):
            time.sleep(0.001)
        was_paused = paused.is_set()
        b = T._take_streams(1024)
        go.set()
        th.join()
        assert not _shares(list(got[0]), list(b)), k
        pooled = [x for arrs in T._POOL for x in arrs]
        assert not _shares(list(got[0]) + list(b), pooled), k
        if not was_paused:
            break
        k += 1
    assert k > 3
