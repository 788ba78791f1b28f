"""A backward's reached subgraph as short local streams (engine._sweep_tape, n-d tapes).

The roots' reached entries are found by a walk that visits only them (`walk`), then, when they
are a small part of the prefix, gathered into local streams (`gather`): local index i is entry
`order[i]`, oldest first, operands (ia, ib and the CSR operand lists) renumbered, with their
arena layout (walks.gather_layout).  The sweep runs on these as it would on the tape's own streams, so a backward's work and arenas
follow the reached graph, not the tape prefix: graphs dropped on the same tape without
backward cost a backward nothing.  When the roots reach 1/DENSE of the prefix or more (and
more than SMALL entries) the engine sweeps the tape's own streams instead (the same layout,
without the copy).

The local streams live in a workspace reused across backwards (one free list per thread, as
the arenas' scratch buffers): a fresh set of a dozen small arrays per backward was a tenth of
a small net's backward.  A workspace never leaves the call that took it.
"""
import threading

import numpy as np

from ._jit import K
from .tape import OPCODE, host_direct, _joined, _VJP_READS, _WANTS


class Reached:
    """A workspace: the local streams of the entries one backward reaches (first `r` items
    valid; the arrays are longer).  `mark`: uint8 per tape entry, 1 on the reached ones (zero
    past them while the workspace is free); `loc`: entry -> local index, where `mark` is set."""
    __slots__ = ("cap", "pcap", "acap", "r", "na", "n", "order", "loc", "mark", "op", "ia",
                 "ib", "f64", "imm", "val", "arg_ptr", "arg", "ints", "size", "nd", "par",
                 "slot", "shp", "params", "u8", "host", "freed", "off", "saved", "counts")

    def __init__(self, cap, pcap, acap):
        self.cap, self.pcap, self.acap = cap, pcap, acap
        self.mark = np.zeros(cap, np.uint8)
        self.order = np.empty(cap, np.int64)
        self.loc = np.empty(cap, np.int64)
        self.op = np.empty(cap, OPCODE)
        self.ia = np.empty(cap, np.int32)
        self.ib = np.empty(cap, np.int32)
        self.f64 = np.empty((2, cap))
        self.imm, self.val = self.f64
        self.arg_ptr = np.empty(cap + 1, np.int64)
        self.arg = np.empty(acap, np.int64)
        self.ints = np.empty((4, cap), np.int64)
        self.size, self.nd, self.par, self.slot = self.ints
        self.shp = np.empty((cap, 8), np.int64)
        self.params = np.empty(pcap, np.int64)
        self.u8 = np.empty((5, cap), np.uint8)   # host, freed, layout marks, used, runs
        self.host, self.freed = self.u8[0], self.u8[1]
        self.off = np.empty(cap, np.int64)
        self.saved = np.empty((2, cap), np.int64)   # nodes, their slots (arena_layout)
        self.counts = np.empty(8, np.int64)
        self.r = self.na = self.n = 0


class _Free(threading.local):
    def __init__(self):
        self.spaces = []


_FREE = _Free()


def give(space):
    """Return a workspace from `gather` (its reach flags cleared: O(reached))."""
    space.mark[space.order[:space.r]] = 0
    space.r = 0
    free = _FREE.spaces
    if len(free) < 2:
        free.append(space)


# The local streams are built when the roots reach fewer than this fraction of the prefix;
# else the in-place sweep of the prefix costs at most this factor more than the reached part
# (and saves the copy): a 40k-entry graph that reaches everything walks 1/8 of it, not all.
DENSE = 8
# A prefix shorter than this is swept in place without a walk: the in-place layout, value fill
# and release read it at ~1.4 ns an entry warm (~4 ns in caches left cold), while the walk and
# the gather (four kernel calls of ~60 arguments, more code) cost a fixed ~14 us warm and
# ~50-70 us in the caches a long recording loop leaves cold.  Measured on an nn MLP graph (19
# entries) behind dropped graphs, warm: in place 40 vs 48 us walked at 2,100 entries, 49 vs 48
# at 11,700, 55 vs 47 at 15,600 (33 with no prefix); right after the recorded evaluations that
# made the prefix, in place costs less up to past 16k (242 vs 275 us at 7,800 entries, 258 vs
# 282 at 15,600, the walk then still through the general path), and at 2,100-2,600 entries
# it is the control's time (~110 us with no prefix) where the walk took 170-190.  So the
# threshold favours the cold case (the cliff of dropped graphs) over warm loops of 11k-16k
# entries (up to ~8 us).  Tapes seal at 1 MB of saved values, so an n-d model's tapes rarely
# grow past a few thousand entries; the walk is for long prefixes of small-saving (0-d) graphs.
MIN_WALK = 16384
# The same for a sweep with autograd.grad's inputs: in place it also marks which entries lead
# to them over the whole prefix (engine._leads) and masks its flags with them, ~2.3 ns more an
# entry (autograd.grad behind 13,000 entries: 79 us in place, 49 walked), so it walks sooner.
MIN_WALK_INPUTS = 2048
# Up to this many reached entries (behind a prefix of MIN_WALK entries or more) the local
# streams are built whatever the fraction of the prefix they are: there the walk costs less
# than reading the prefix in place.
SMALL = 256


def walk(tape, n, roots):
    """A workspace listing the entries that `roots` (nodes) reach among the first n of `tape`
    (which has n-d streams): `r` of them in `order`, flagged in `mark`; None when they are
    more than SMALL and at least 1/DENSE of the prefix (the walk stops there).  Give a workspace back with `give`
    when done."""
    nds = tape.nds
    free = _FREE.spaces
    s = free.pop() if free else None
    arg_ptr, arg = nds.operands(n)
    if s is None or s.cap < n or s.pcap < nds.nparams or s.acap < len(arg):
        # (room to grow: a loop that keeps recording on the tape it differentiates makes the
        # next call a longer prefix, and a workspace made per call cost ~15 allocations)
        s = Reached(max(2 * n, 1024), max(2 * nds.nparams, 256), max(2 * len(arg), 256))
    a = tape._arrays
    try:
        # whole streams, not [:n] slices: the walk starts at the roots (< n) and goes down
        K.reach_list(a[1], a[2], arg_ptr, arg, nds.npar, np.asarray(roots, np.int64),
                     max(n // DENSE, SMALL), s.mark, s.order, s.counts)
    except BaseException:
        s.mark[:n] = 0   # the walk may have stopped anywhere: clear every flag it could set
        raise
    r = int(s.counts[0])
    if r < 0:            # dense: the walk cleared its flags
        _FREE.spaces.append(s)
        return None
    s.r, s.na, s.n = r, int(s.counts[2]), n
    return s


# gather's `runs` and `roots` when every entry runs
_ALL, _NO_ROOTS = np.zeros(0, np.uint8), np.zeros(0, np.int64)


def gather(tape, s, freed, buffer, runs=None, roots=None):
    """Fill workspace `s` (from `walk`) with the local streams of its entries and their arena
    layout (`off`); returns (vals, total, low), vals = buffer(total) holding the values the
    sweep reads, low the lowest local entry with operands (walks.arena_layout).  `freed`: the flags the sweep is to see (uint8 per entry).
    `runs` (uint8 per tape entry, or None: all): the entries whose VJP runs, laid out from
    the `roots` (tape nodes) as walks.gather_layout describes; their local flags are
    `s.u8[4]`."""
    nds = tape.nds
    a = tape._arrays
    r, counts = s.r, s.counts
    arg_ptr, arg = nds.operands(s.n)
    K.gather_layout(r, s.na, s.order, s.loc, a[0], a[1], a[2], a[3], arg_ptr, arg, nds.size,
                    nds.nd, nds.shp, nds.par, nds.npar, nds.params, nds.slot, nds.host, freed,
                    a[4], host_direct(tape), _WANTS, _VJP_READS, _ALL if runs is None else runs,
                    _NO_ROOTS if roots is None else np.asarray(roots, np.int64), s.op, s.ia, s.ib,
                    s.f64, s.arg_ptr, s.arg, s.ints,
                    s.shp, s.params, s.u8, s.off, s.saved, counts)
    s0, total, k, low = counts[3:7].tolist()
    vals = buffer(total)
    K.fill_reached(r, s.ints, s.u8, s.f64, s.off, vals)
    if k:   # the saved block: the arena's end, but its last (empty) slot
        nodes = s.saved[0, :k]
        arrs = nds.objs[s.saved[1, :k]].tolist()
        try:
            _joined(arrs, vals[s0:total - 1])
        except (TypeError, ValueError):
            # a None: released by another thread's backward since the slots were read; every
            # entry that saved it is freed, so a sweep that needs it fails as a second backward
            arrs = [np.full(s.size[i], np.nan) if x is None else x for i, x in zip(nodes, arrs)]
            _joined(arrs, vals[s0:total - 1])
    return vals, total, low
