"""Scratch buffers for the sweep's arenas, reused across backwards (one free list per thread).

A fresh `np.zeros` or `np.empty` of a megabyte is memory the kernel has not mapped yet: the
first write to each 4 KB page faults (about 0.25 µs each), which for a 64x1000 float32 net
cost more than its BLAS products.  A buffer taken from here was touched by an earlier
backward.  Buffers never leave the call that took them: results handed out are copies.
"""
import threading

import numpy as np

# Buffers kept per thread: up to _KEEP of them, _KEEP_BYTES each and _KEEP_TOTAL in all.  A
# backward holds three per tape it sweeps (work, values, adjoints) until it ends, and a graph
# of large activations spans several tapes (each seals past tape.MAX_SAVED_BYTES): with 4
# kept, a BatchNorm2d of a (32, 16, 30, 30) input (two tapes) faulted in fresh arenas at
# every backward (~30 ms of its ~90).
_KEEP = 16
_KEEP_BYTES = 64 << 20     # larger ones are left to the allocator
_KEEP_TOTAL = 256 << 20
# Value and adjoint arenas of up to this many elements share one buffer (values, then
# adjoints): a take less per backward; larger ones take a buffer each
PAIRED = 1 << 16
# give's short path (no sort) takes up to this many buffers kept and given in all (_KEEP: any
# that fit the bounds)
_SHORT = _KEEP


class _Free(threading.local):
    def __init__(self):
        self.buffers = []


_FREE = _Free()


def take(n):
    """A float64 buffer of at least n elements (contents undefined): slice it to [:n]."""
    free = _FREE.buffers
    best = -1
    for i, buf in enumerate(free):
        if len(buf) >= n and (best < 0 or len(buf) < len(free[best])):
            best = i
    if best >= 0:
        return free.pop(best)
    return np.empty(max(n, 1024))


def give(bufs):
    """Return buffers from `take` for later calls of this thread."""
    free = _FREE.buffers
    if len(free) + len(bufs) <= _SHORT:
        # (the usual give: a backward's few buffers back among a few kept ones.  Within
        # _KEEP buffers and _KEEP_TOTAL bytes the trim below keeps every one of them, and
        # take's best fit needs no order: appended, without its sort)
        total = 0
        for buf in free:
            total += buf.nbytes
        for buf in bufs:
            total += buf.nbytes if buf.nbytes <= _KEEP_BYTES else 0
        if total <= _KEEP_TOTAL:
            for buf in bufs:
                if buf.nbytes <= _KEEP_BYTES:
                    free.append(buf)
            return
    for buf in bufs:
        if buf.nbytes <= _KEEP_BYTES:
            free.append(buf)
    free.sort(key=len, reverse=True)   # keep the largest that fit the bounds
    total = 0
    for i, buf in enumerate(free):
        total += buf.nbytes
        if i == _KEEP or total > _KEEP_TOTAL:
            del free[i:]
            break
