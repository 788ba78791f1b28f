"""A backward's reached subgraph as short local streams (engine._sweep_tape, n-d tapes).

The roots' reached entries are found by a walk that visits only them (`reach_list`), then
gathered into local streams (`gather_reached`): local index i is entry `order[i]`, oldest
first, operands and where's condition renumbered.  The sweep and the arena layout run on these
as they would on the tape's own streams, so a backward's work, scratch and arenas follow the
reached graph, not the tape prefix: graphs dropped on the same tape without backward cost a
backward nothing but a memset of one byte per entry (the reach flags).
"""
import numpy as np

from ._jit import K
from .tape import OPCODE


class Reached:
    """Local streams of the entries one backward reaches (see the module docstring).  `mark`:
    uint8 per tape entry, 1 on the reached ones; `loc`: entry -> local index, valid where
    `mark` is set."""
    __slots__ = ("r", "order", "loc", "mark", "op", "ia", "ib", "cst", "val", "cond", "size",
                 "nd", "shp", "par", "params", "slot", "host", "freed")

    def arenas(self, objs, buffer):
        """(off, vals, total) as Tape.arenas, over the local streams: saved n-d values first
        (one concatenate of the arrays in `objs`), then every other reached node."""
        r = self.r
        off = np.empty(r, np.int64)
        saved = np.empty(r, np.int64)
        counts = np.empty(3, np.int64)
        every = np.ones(r, np.uint8)
        K.arena_layout(self.ia, self.ib, self.cond, self.size, self.slot, self.host, every,
                       np.zeros(r, np.uint8), off, saved, counts)
        t1, total, k = counts.tolist()
        vals = buffer(total)
        K.fill_values(every, self.slot, self.nd, off, self.val, vals)
        if t1:
            nodes = saved[:k]
            arrs = objs[self.slot[nodes]].tolist()
            if any(a is None for a in arrs):
                # released by another thread's backward since the slots were read: every
                # entry that saved it is freed, so a sweep that needs it fails as a second
                # backward
                arrs = [np.full(self.size[i], np.nan) if a is None else a
                        for i, a in zip(nodes, arrs)]
            np.concatenate(arrs, axis=None, out=vals[:t1], casting="unsafe")
        return off, vals, total


def gather(tape, n, roots, freed):
    """The Reached of `roots` (nodes) among the first n entries of `tape` (which has n-d
    streams); `freed`: the freed flags the sweep is to see (uint8 per entry)."""
    nds = tape.nds
    a = tape._arrays
    ia, ib, cond = a[1][:n], a[2][:n], nds.cond[:n]
    mark = np.zeros(n, np.uint8)
    out = np.empty(n, np.int64)
    counts = np.empty(2, np.int64)
    K.reach_list(ia, ib, cond, nds.npar[:n], np.asarray(roots, np.int64), mark, out, counts)
    r, p = counts.tolist()
    s = Reached()
    s.r, s.order, s.mark = r, out[:r], mark
    s.loc = np.empty(n, np.int64)
    s.op = np.empty(r, OPCODE)
    s.ia = np.empty(r, np.int32)
    s.ib = np.empty(r, np.int32)
    s.cst, s.val = np.empty((2, r))
    ints = np.empty((5, r), np.int64)
    s.cond, s.size, s.nd, s.par, s.slot = ints
    s.shp = np.ones((r, 8), np.int64)
    s.params = np.empty(max(p, 1), np.int64)
    flags = np.empty((2, r), np.uint8)
    s.host, s.freed = flags
    K.gather_reached(s.order, s.loc, a[0][:n], ia, ib, a[3][:n], cond, nds.size[:n], nds.nd[:n],
                     nds.shp[:n], nds.par[:n], nds.npar[:n], nds.params, nds.slot[:n],
                     nds.host[:n], freed, a[4][:n], s.op, s.ia, s.ib, s.cst, ints, s.shp,
                     s.params, flags, s.val)
    return s
