"""Reverse mode entry points: one Numba sweep per tape, then a commit.

`run_backward` seeds the roots, sweeps the tapes from newest to oldest (an `import` entry
hands its gradient to the tape it came from), and only when every sweep has succeeded does it
accumulate into `.grad`, free saved buffers and seal the tapes.  A failing call therefore
leaves every tensor, `.grad` and tape as it was.
"""
import heapq

import numpy as np

from . import (anomaly, errors, groups, hooks, nodiff, pyfunc, reached, result_grads, scratch,
               tiers)
from .anomaly import MODE as ANOMALY
from ._jit import K
from ._signals import COMMIT
from .ops import BY_CODE, formula_reads, OPS, OUTPUT_CODE
from .kinds import (DIRECT, HOST_VJP, LISTS as LIST_KINDS,
                    MODULE_OF as KIND_MODULES, tensor_vjp)
from .kinds import view as view_kind
from .dtypes import float32 as _F32, float64 as _F64, from_numpy_dtype
from .graph import (known_shape, node_edges, node_for, node_members, node_outputs, node_shape,
                    show_edges, sibling, SLOGDET, SLOGDET_SIGN)
from .fpstate import ERR_RESET, ERR_SET, QUIET
from .grad_mode import switched_grad, TRANSFORMS
from .tape import (_const_fill, _NO_ARGS, _SAVES, _DIFFERENTIABLE, BUMPS, HOST_ONLY_OPS,
                   SHARED_ARRAYS, clear_cells)
from .tensor import NODIFF, one_value, Tensor, _new
from .views import KIND_OPS
from .ndops import FORMULA_NS, _binary


class _Sweep:
    """The result of sweeping one tape: adjoint arena and reach flags (`bufs`: the scratch
    buffers its arenas live in, and `space` its reached.Reached workspace or None, given back
    when the call is done).  `loc` maps a node to its
    index in `off`/`size` (None: the node itself), `entries` lists the entries it ran (None:
    those marked in `ran`).  `side`: the gradients of nodes at offset -1 (input entries only
    direct host VJPs feed, walks.arena_layout), fresh arrays in their own dtype.  `arrays`:
    the tape's SweepArrays the sweep ran on (its release reads their operand streams), or
    None (local streams)."""
    __slots__ = ("tape", "n", "off", "size", "adj", "reach", "ran", "bufs", "loc", "entries",
                 "space", "side", "captured", "retained_seen", "arrays")

    def grad_of(self, node, shape):
        """The node's gradient: a view of the arena, or the side array (not to be kept)."""
        if self.loc is not None:
            node = self.loc[node]
        o = self.off[node]
        if o < 0:
            return self.side[node].reshape(shape)
        s = self.size[node]
        return self.adj[o:o + s].reshape(shape)

    def grad_copy(self, node, shape, dtype):
        """The node's gradient as an array of `dtype` the caller owns: a side array is
        handed over as it is when it has that dtype (no copy: it is fresh and read once)."""
        if self.loc is not None:
            node = self.loc[node]
        o = self.off[node]
        if o < 0:
            g = self.side[node].reshape(shape)
            # (a broadcast a host reduction handed over is read-only: copied out)
            return g.astype(dtype, copy=not g.flags.writeable)
        s = self.size[node]
        return self.adj[o:o + s].reshape(shape).astype(dtype)
    def result_of(self, node, shape):
        """The gradient of node as a retained .grad or an input sees it: as grad_of, unless
        hooks at node captured another value (tapegrad.hooks.pause)."""
        cap = self.captured
        if cap is not None and node in cap:
            return cap[node].reshape(shape)
        return self.grad_of(node, shape)

    def retained_of(self, node, shape):
        """The gradient a retained .grad of an autograd.grad input at node sees where hooks
        ran there after the input was captured (tapegrad.hooks.pause), else None."""
        seen = self.retained_seen
        if seen is not None and node in seen:
            return seen[node].reshape(shape)
        return None

    def release(self):
        if self.entries is None:
            self.tape.release(self.ran, self.arrays)
        else:
            self.tape.release_entries(self.entries)

    def freed_since(self):
        if self.entries is None:
            return self.tape.freed_since(self.ran)
        return self.tape.freed_since_entries(self.entries)


# the leads walks' `order` when every entry is walked (walks.mark_leads)
_EVERY = np.zeros(0, np.int64)


def _leads(tape, n, inputs, memo=None, listed=None):
    """uint8 per entry: 1 where an operand of the entry depends on (or is) one of `inputs`.
    With `inputs` a backward runs only these entries: the gradient stops at an input.
    `memo`: _marks' for the other tapes of the same backward.  `listed`: the entries a walk
    reached (reached.walk's order), or None: with it only those are marked (0 elsewhere),
    in O(reached) instead of O(n)."""
    marks = _marks(tape, n, inputs, {} if memo is None else memo, listed)
    runs = np.empty(n, np.uint8) if listed is None else np.zeros(n, np.uint8)
    K.operand_leads(_EVERY if listed is None else listed, *tape.dependencies(n), marks[:n],
                    runs)
    return runs


def _marks(tape, n, inputs, memo, listed=None):
    """uint8 per node (at least n of `tape`'s): 1 where the node is or depends on one of
    `inputs`, across tapes: an import node where its source node is (torch runs no node of a
    graph that leads to no input).  The tapes imports come from are older: they are marked
    first, each once per backward (`memo`: {id(tape): marks}; marks of more entries hold
    those of fewer, the walk being oldest first).  `listed` (as _leads'): `tape`'s own marks
    are set only at those entries, the rest of its prefix is not walked; every later reader
    of them in the same backward reads reached entries only (imports followed, hooks'
    node_executes, host VJPs)."""
    got = memo.get(id(tape))
    if got is not None and len(got) >= n:
        return got
    need = {id(tape): (tape, n)}      # every tape the imports below n lead to, and how far
    heap = [(-tape.serial, id(tape))]
    order = []
    while heap:                       # newest first: a tape's own need is final when popped
        _, key = heapq.heappop(heap)
        tp, k = need[key]
        order.append(tp)
        for node, (src, snode) in tp.imports.items():
            if node >= k:
                continue
            sk = id(src)
            have = memo.get(sk)
            if have is not None and len(have) > snode:
                continue
            if sk not in need:
                need[sk] = (src, snode + 1)
                heapq.heappush(heap, (-src.serial, sk))
            elif need[sk][1] <= snode:
                need[sk] = (src, snode + 1)
    for tp in reversed(order):        # oldest first
        k = need[id(tp)][1]
        marks = np.zeros(k, np.uint8)
        for t in inputs:
            for node in _nodes_in(tp, t):
                if node < k:
                    marks[node] = 1
                    # (an input that is one output of a node of several: torch captures it
                    # at that node, which its other outputs' readers lead to as well)
                    for m in node_outputs(tp, node):
                        if m < k:
                            marks[m] = 1
        for node, (src, snode) in tp.imports.items():
            if node < k and memo[id(src)][snode]:
                marks[node] = 1
        order = listed if listed is not None and tp is tape else _EVERY
        K.mark_leads(order, *tp.dependencies(k), marks)
        if tp.edge_nodes and _join_signs(tp, k, marks):
            K.mark_leads(order, *tp.dependencies(k), marks)   # (what reads the sign)
        memo[id(tp)] = marks
    return memo[id(tape)]


def _join_signs(tape, k, marks):
    """Mark slogdet's sign entries below k whose log|det| entry is marked (leads to an
    input): torch's one node runs for both outputs, so what reads the sign runs too and its
    gradient reaches the node's hooks.  (The sign reads a constant of A: no mark of its
    own.)  True where one was newly marked."""
    new = False
    for s in tape.edge_nodes:
        if s < k and tape.op[s] == SLOGDET_SIGN and not marks[s]:
            m = sibling(tape, s)
            if 0 <= m < k and marks[m]:
                marks[s] = 1
                new = True
    return new


def _sweep_tape(tape, seeds, inputs=None, memo=None, root=-1):
    """seeds: list of (node, float or ndarray).  Returns a _Sweep or raises (nothing changed).
    With `inputs`, only the entries that lead to them run (torch runs only those nodes): the
    others are neither laid out past their own gradient nor swept (_runs), nor checked for
    freed buffers, nor released."""
    roots = (seeds[0][0],) if len(seeds) == 1 else [node for node, _ in seeds]
    start = max(roots)
    n = start + 1
    tape.refresh_shared()
    anomaly_on = ANOMALY[0]   # its checks read the whole-tape streams, not a reached part
    leads = marks = runs = hooked = sub = None
    if tape.nds is not None and not anomaly_on and n >= (
            reached.MIN_WALK if inputs is None else reached.MIN_WALK_INPUTS):
        sub = reached.walk(tape, n, roots)   # (None: not a small part of the prefix)
    if inputs is not None:
        memo = {} if memo is None else memo
        try:
            leads = _leads(tape, n, inputs, memo, None if sub is None else sub.order[:sub.r])
        except BaseException:
            if sub is not None:
                reached.give(sub)
            raise
        marks = memo[id(tape)]   # (the nodes that are or lead to the inputs: host_vjp's)
    if sub is not None:   # a small part of the prefix: sweep it as local streams
        return _sweep_reached(tape, n, seeds, inputs, sub, leads, root, marks)
    if tape.hooks:
        hooked = _hooked(tape, n, inputs, leads, root=root, seeds=seeds)
    if leads is not None:
        runs = _runs(leads, hooked)
    s = tape.sweep_arrays(n, roots, runs=None if tape.nds is None else runs)
    try:
        if tape.nds is not None and tiers.expect_pending():
            tiers.expect_sweep(s.op[s.marks != 0])
        freed = s.freed
        if leads is not None:
            freed = freed & leads
        off, size, adj, reach = s.off, s.size, s.adj, s.reach
        if runs is not None:
            _skip(reach, runs)
        for node, seed in seeds:
            o = off[node]
            if type(seed) is float:    # a one-element root's implicit seed (autograd._seeds)
                adj[o] += seed
            else:
                _add_seed(adj[o:o + size[node]], seed)
            reach[node] |= 1
        side = _Side()
        side.tape, side.nodes = tape, None
        bad = _sweep_segments(tape, n, s, start, freed, side, hooked, leads, marks)
        if runs is not None:
            reach &= 1   # (the skip bit off: reach holds what a gradient reached)
        if bad >= 0:
            err = _second_backward(tape, n, reach if leads is None else reach & leads, bad)
            raise anomaly.reported(tape, err) if anomaly_on else err
        ran = reach if leads is None else reach & leads
        if anomaly_on:
            anomaly.check_versions(tape, n, ran)
            if ANOMALY[1]:
                anomaly.check_nan(tape, n, s.op, s.ia, s.ib, s.imm, s.par, s.params, s.arg_ptr,
                                  s.arg, off, size, s.shp, s.nd, s.vals, adj, ran, freed,
                                  s.marks, _operand_grads)
        else:
            tape.check_versions(n, ran=ran)
    except BaseException:
        scratch.give(s.bufs)
        raise
    r = _Sweep()
    r.tape, r.n, r.off, r.size, r.adj, r.reach, r.bufs = tape, n, off, size, adj, reach, s.bufs
    r.ran, r.loc, r.entries, r.space, r.side = ran, None, None, None, side
    r.captured = hooked.captured if hooked is not None else None
    r.retained_seen = hooked.retained_seen if hooked is not None else None
    r.arrays = s
    return r


def _sweep_segments(tape, n, s, start, freed, side, hooked=None, leads=None, marks=None):
    """The reverse sweep of SweepArrays `s` (seeded) from `start`: the usual first segment
    called here, _run_sweep only once the kernel pauses (at a host entry e, returned as
    -2 - e; _run_sweep resumes there), or all of it through _run_sweep where hooks pause it
    (`hooked`, `leads`, `marks`: _run_sweep's).  Returns -1 or a freed entry (as the kernel)."""
    bad = -1
    if hooked is None and start >= s.low and not s.host[start]:
        bad = tiers.sweep(s.op, s.ia, s.ib, s.imm, s.par, s.params, s.arg_ptr, s.arg, s.off,
                          s.size, s.shp, s.nd, s.vals, s.adj, start, s.reach, freed, _SAVES,
                          s.host)
        start = -2 - bad
    if start >= 0:
        bad = _run_sweep(tape, n, start, s.op, s.ia, s.ib, s.imm, s.par, s.params, s.arg_ptr,
                         s.arg, s.off, s.size, s.shp, s.nd, s.vals, s.adj, s.reach, freed,
                         side, host=s.host, leads=leads, hooked=hooked, low=s.low, marks=marks)
    return bad


def _second_backward(tape, n, ran, bad):
    """The error of a sweep that met entry `bad`, whose saved buffers a backward freed:
    torch's "modified by an inplace operation" error instead where an entry the sweep ran
    before it (a newer one) read a value changed since, as torch's nodes unpack their saved
    values in that order; else "backward through the graph a second time"."""
    ran = ran.copy()
    ran[:bad + 1] = 0      # (older entries were not run: the sweep stopped at `bad`)
    try:
        tape.check_versions(n, ran=ran)
    except RuntimeError as err:
        return err
    err = RuntimeError(errors.BACKWARD_TWICE)
    err.entry = bad   # (anomaly mode names its forward stack)
    return err


def _runs(leads, hooked):
    """uint8 per entry: the entries whose VJP a sweep with autograd.grad's inputs runs:
    those that lead to the inputs (`leads`), and the hooked entries it pauses at (`hooked`,
    hooks.plan: an input or the only root whose node does not execute still has its tensor
    hooks run; the kernel then runs its VJP, unused, as before this rule: rare, and it
    keeps the pause's resume at the entry)."""
    if not hooked:
        return leads
    runs = leads.copy()
    runs[list(hooked)] = 1
    return runs


def _skip(reach, runs):
    """Set the sweep's skip bit (2) in `reach` (zeros) at the entries that do not run: the
    kernels pass over them whether or not a gradient reaches them (reach bit 1), so their
    operands, which the layout gave no space, are never written.  One numpy pass."""
    np.subtract(1, runs, out=reach)
    reach <<= 1


def _sweep_reached(tape, n, seeds, inputs, sub, leads=None, root=-1, marks=None):
    """_sweep_tape for a tape with n-d streams whose roots reach a small part of the first n
    entries (listed in workspace `sub`): the sweep runs on the local streams of the reached
    entries (tapegrad.reached), so its cost follows the reached graph, not the tape prefix."""
    bufs = []

    def buffer(k):
        # one scratch buffer for the values and the adjoints (gather's only call): a take
        # less per backward; big arenas keep a buffer each (scratch keeps up to _KEEP_BYTES)
        bufs.append(scratch.take(2 * k if k <= scratch.PAIRED else k))
        return bufs[-1][:k]
    try:
        freed = tape.freed[:n]
        runs = hooked = None
        if leads is not None:
            freed = freed & leads
        if tape.hooks:   # (keyed by tape node until the gather numbers the entries)
            hooked = _hooked(tape, n, inputs, leads, root=root, seeds=seeds)
        if leads is not None:
            runs = _runs(leads, hooked)
        vals, total, low = reached.gather(tape, sub, freed, buffer, runs,
                                          None if runs is None else [nd for nd, _ in seeds])
        if hooked is not None:
            hooked = _local_pauses(hooked, sub)
        if tiers.expect_pending():
            tiers.expect_sweep(sub.op[:sub.r])
        adj = bufs[0][total:2 * total] if total <= scratch.PAIRED else buffer(total)
        adj[:] = 0.0
        rn = sub.r
        reach = np.zeros(rn, np.uint8)
        if runs is not None:
            _skip(reach, sub.u8[4, :rn])
        loc, size, off = sub.loc, sub.size, sub.off
        for node, seed in seeds:
            i = loc[node]
            o = off[i]
            if type(seed) is float:
                adj[o] += seed
            else:
                _add_seed(adj[o:o + size[i]], seed)
            reach[i] |= 1
        side = _Side()
        side.tape, side.nodes = tape, sub.order
        bad = _run_sweep(tape, rn, rn - 1, sub.op, sub.ia, sub.ib, sub.imm, sub.par,
                         sub.params, sub.arg_ptr[:rn + 1], sub.arg[:sub.na], off, size,
                         sub.shp, sub.nd, vals, adj, reach, sub.freed, side, host=sub.host,
                         nodes=sub.order, leads=leads, hooked=hooked, low=low, marks=marks)
        if runs is not None:
            reach &= 1
        order = sub.order[:rn]
        if bad >= 0:
            mark = np.zeros(n, np.uint8)
            mark[order] = reach
            raise _second_backward(tape, n, mark if leads is None else mark & leads,
                                   int(order[bad]))
        ran = reach if leads is None else reach & leads[order]
        mark = sub.mark[:n]   # the reach flags per tape entry: the sweep's, not the walk's
        mark[order] = reach   # (a where's condition is walked, not reached by a gradient)
        r = _Sweep()
        r.arrays = None
        r.reach = mark
        r.ran = mark if leads is None else mark & leads
        tape.check_versions(n, ran=r.ran)
    except BaseException:
        reached.give(sub)
        scratch.give(bufs)
        raise
    r.tape, r.n, r.off, r.size, r.adj, r.bufs = tape, n, off, size, adj, bufs
    r.loc, r.entries, r.space, r.side = loc, order[ran != 0], sub, side
    r.captured = hooked.captured if hooked is not None else None
    r.retained_seen = hooked.retained_seen if hooked is not None else None
    return r


class _Side(dict):
    """The gradients of a sweep's nodes at offset -1 (input entries only direct host VJPs
    feed: walks.arena_layout, kinds.DIRECT), node -> an array this call owns, in the node's
    dtype.  `tape`, and `nodes`: the tape node of each local index (reached streams) or None,
    are set by the maker (no __init__: one Python call less per backward)."""
    __slots__ = ("tape", "nodes")

    def add(self, node, g):
        """Add g (an array the caller gives up, of the node's size, any shape) to node's
        gradient."""
        prev = self.get(node)
        self[node] = g if prev is None else prev + g.reshape(prev.shape)

    def dtype_of(self, node):
        """The numpy dtype node's gradient is wanted in: a leaf's, else float64."""
        leaf = self.tape.leaves.get(node if self.nodes is None else int(self.nodes[node]))
        return np.float64 if leaf is None else leaf._dtype.np


def _run_sweep(tape, n, start, op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd,
               vals, adj, reach, freed, side, host=None, nodes=None, leads=None, hooked=None,
               low=0, marks=None):
    """The reverse sweep from `start`, in segments: the kernel returns at each reached host
    entry, whose VJP runs here (numpy/BLAS), then resumes below it.  Python work is per call
    and per host entry, never per tape entry.  Returns -1 or a freed entry (as the kernel).
    With `nodes` the streams are local ones (tapegrad.reached): nodes[i] is i's tape node.
    `side` (a _Side) receives the gradients of nodes at offset -1 (kinds.DIRECT).
    `leads` (tape entries whose operands lead to autograd.grad's inputs, or None) only tells
    a custom Function's entry whether to run its backward, and `marks` (the tape nodes that
    are or lead to the inputs) which of its inputs' gradients that backward needs.
    `hooked` (a hooks.Pauses, {sweep index: hooks.Pause}): entries whose hooks run when the
    sweep reaches them, before their VJP (see _hook_pause).
    `low`: the lowest reached entry with operands (walks.arena_layout); below it are input
    entries only, where the kernel has nothing to do, so it is not called for them.  A
    reached host entry next in line (a root, or right below the host entry just run) is
    paused at here, as the kernel would (its freed check, its operands marked reached),
    without a kernel call: `cat(...).sum()` or a first layer's matmul call no kernel."""
    if host is None:
        host = tape.host_flags(n)
    flags = host
    if hooked is not None:   # the kernel pauses at hooked entries too (on a copy of the flags)
        flags = host.copy()
        flags[list(hooked)] = 1
        hooked.roots = np.flatnonzero(reach & 1)   # (reach holds only the seeded roots yet)
        low = 0
    sweep = tiers.sweep
    while True:
        if start < low:
            return -1
        # (the entry's stream cells read once, as Python ints: .item() makes no numpy
        # scalar, and this runs per host entry of every backward)
        if reach.item(start) == 1 and flags.item(start) != 0:   # the kernel would pause here
            e = start
            code = op.item(e)
            if freed.item(e) != 0 and _SAVES[code] != 0:
                return e
            a, b = ia.item(e), ib.item(e)
            if a >= 0:
                reach[a] |= 1
            if b >= 0:
                reach[b] |= 1
        else:
            r = sweep(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals,
                      adj, start, reach, freed, _SAVES, flags)
            if r >= -1:
                return r
            e = -2 - r
            code, a, b = op.item(e), ia.item(e), ib.item(e)
        if hooked is not None and e in hooked:
            flags[e] = host[e]
            if not _hook_pause(tape, e, hooked.pop(e), hooked,
                               (ia, ib, arg_ptr, arg, off, size, adj, reach, nodes), marks):
                start = e    # the kernel runs e's VJP (or pauses again for its host VJP)
                continue
            start = e - 1    # the hooks ran e's VJP
            continue
        if code == pyfunc.PYFUNC_CODE:   # a custom autograd.Function: its Python backward
            pyfunc.host_vjp(tape, e, arg_ptr, arg, off, size, adj, reach, nodes, leads, marks)
            start = e - 1
            continue
        kind = BY_CODE[code].kind
        if kind in LIST_KINDS:   # the whole operand list (the kernel marked ia, ib reached)
            xs = [x for x in (a, b) if x >= 0]
            lo, hi = arg_ptr.item(e), arg_ptr.item(e + 1)
            if hi > lo:
                xs += arg[lo:hi].tolist()
            for x in xs:     # (a few operands: item stores cost less than a fancy index)
                reach[x] |= 1
            HOST_VJP[kind](params, par.item(e), xs, e, off, adj,
                           [_DIFFERENTIABLE[op.item(x)] for x in xs], side)
            start = e - 1
            continue
        needs = (a >= 0 and _DIFFERENTIABLE[op.item(a)], b >= 0 and _DIFFERENTIABLE[op.item(b)])
        if DIRECT.get(kind, 0) & 3 == 2:   # a direct VJP that reads no operand value
            HOST_VJP[kind](params, par.item(e), a, b, e, off, vals, adj, needs, None, None, side,
                           c=imm.item(e), size=size)
            start = e - 1
            continue
        # the operands as saved (their own dtype), where the tape holds them by reference
        sa, sb = (a, b) if nodes is None else (int(nodes[a]), int(nodes[b]))
        if kind in DIRECT:
            HOST_VJP[kind](params, par[e], a, b, e, off, vals, adj, needs,
                           tape.saved_array(sa), tape.saved_array(sb), side, c=float(imm[e]),
                           size=size)
        else:   # linalg: its output as saved too, and no second operand but solve's
            HOST_VJP[kind](params, par[e], a, b, e, off, vals, adj, needs,
                           tape.saved_array(sa), tape.saved_array(sb) if b >= 0 else None,
                           tape.saved_array(e if nodes is None else int(nodes[e])))
        start = e - 1


def jacobian_rows(outputs, inputs):
    """The Jacobian of outputs w.r.t. inputs as one array (rows: output elements, columns:
    input elements), from one Numba call sweeping once per row; None when the graph spans
    several tapes (the outputs', or through a reached import) or a leaf has several entries
    (the caller then uses autograd.grad)."""
    tapes = {o._tape for o in outputs if o._tape is not None}
    if len(tapes) != 1:
        return None
    tape = tapes.pop()
    if pyfunc.has_functions(tape):   # sweep_rows does not pause for a Function's backward
        return None
    host = tape.host_flags(tape.n)
    if host.any() and HOST_ONLY_OPS[tape.streams(tape.n)[0][host != 0]].any():
        return None   # nor for a LAPACK entry (kinds.HOST_ONLY): autograd.grad does
    targets = []
    for t in inputs:
        nodes = _nodes_in(tape, t)
        if len(nodes) > 1:
            return None
        targets.append(nodes[0] if nodes else -1)
    roots, root_k = [], []
    for o in outputs:
        if o._tape is None:
            return None
        roots += [o._node] * o.numel()
        root_k += list(range(o.numel()))
    n = max(roots) + 1
    if any(node < n for node in tape.imports):
        # a gradient reaching an import goes on to an older tape (a graph split by an
        # in-place change under no_grad: cosine_similarity's clamp_min_ of its norms), which
        # sweep_rows does not follow
        reach = tape.reached(sorted(set(roots)), n)
        if any(reach[node] for node in tape.imports if node < n):
            return None
    tape.refresh_shared()
    # sweep_rows does not pause: every saved value goes into the arena
    s = tape.sweep_arrays(n, sorted(set(roots)), host=False)
    try:
        targets = np.array([t if t < n else -1 for t in targets], np.int64)
        tsizes = np.array([t.numel() for t in inputs], np.int64)
        out = np.zeros((len(roots), int(tsizes.sum())))
        # (the core copy when every entry is of tier 0: codegen.DRIVER_VARIANTS; a core
        # kernel returns past an entry it lacks; nor can it stop for a piece not compiled)
        rows = K.sweep_rows if K.OP_TIER[s.op].max(initial=0) > 0 else K.sweep_rows_core
        tiers.fill_pieces(s.op, s.vals.dtype, size=s.size)
        bad = rows(s.op, s.ia, s.ib, s.imm, s.par, s.params, s.arg_ptr, s.arg, s.off, s.size,
                   s.shp, s.nd, s.vals, np.array(roots, np.int64), np.array(root_k, np.int64),
                   s.freed, targets, tsizes, out)
    finally:
        scratch.give(s.bufs)
    if bad >= 0:
        raise RuntimeError(errors.BACKWARD_TWICE)
    tape.check_versions(n, roots=sorted(set(roots)))
    return out


def run_backward(roots, seeds, retain_graph, inputs=None, validate=None, stage=None,
                 publish=None, run_inputs=False):
    """Sweep from `roots` (tensors requiring grad) seeded with `seeds` (arrays/floats).

    With `inputs` None: returns {id(leaf): (leaf, grad ndarray)} for every reached leaf and
    retained non-leaf.  With `inputs` a list of tensors: returns a list of gradients (None
    where an input was not reached).  `validate(result)` may raise before anything is
    committed; `staged = stage(result)` prepares the caller's commit (new `.grad` values) and
    `publish(staged)` runs with buffer release and sealing as one step that neither a Ctrl-C
    nor another thread's backward can split.  With `inputs`, `stage(result, kept)` also gets
    the (tensor, gradient) pairs of the retained non-leaves whose gradient the run computed
    (`_retained`): torch fills their `.grad` too.  `run_inputs` (backward(inputs=...)): the
    non-leaf inputs' own entries count as run (torch executes their nodes), so one whose
    saved buffers a backward freed fails the call as a second backward (`_run_inputs`).
    """
    pending = {}          # tape -> list of (node, seed)
    direct = []           # roots that are leaves: their seed is their gradient
    for t, s in zip(roots, seeds):
        if t._tape is None:
            direct.append((t, s))
        else:
            pending.setdefault(t._tape, []).append((t._node, s))

    done = []
    memo = {}             # with inputs: _marks of each tape, for the next tapes' sweeps
    try:
        while pending:
            tape = next(iter(pending)) if len(pending) == 1 else max(pending, key=_serial)
            r = _sweep_tape(tape, pending.pop(tape), inputs, memo, _only_root(roots, tape))
            done.append(r)
            reach = r.reach
            marks = None if inputs is None else memo[id(tape)]
            for node, (src, snode) in tape.imports.items():
                # (with inputs, an import whose graph leads to none of them is not followed)
                if node < r.n and reach[node] and (marks is None or marks[node]):
                    _check_import_shape(tape, node, src, snode, r.n)
                    # (not copied: r's arena and side arrays live until this call returns,
                    # and the older tape's sweep only reads the seed)
                    pending.setdefault(src, []).append((snode, r.grad_of(node, -1)))
        if run_inputs:
            _run_function_inputs(done, inputs)
            _run_inputs(done, inputs)
        return _finish(done, direct, roots, inputs, validate, stage, publish, retain_graph)
    finally:   # the arenas' scratch buffers: every result above is a copy
        for r in done:
            scratch.give(r.bufs)
            if r.space is not None:
                reached.give(r.space)


def _finish(done, direct, roots, inputs, validate, stage, publish, retain_graph):
    """run_backward's steps once every tape was swept (`done`, its _Sweeps; `direct`: the
    roots that are leaves, with their seeds): the gradients collected, the leaves' hooks,
    validate, stage, and the commit.  The caller gives back the sweeps' buffers."""
    if inputs is not None:
        out = []
        for t in inputs:
            g = None
            for tt, s in direct:
                if tt is t:
                    g = _add(g, np.asarray(s, np.float64).reshape(t.shape))
            for r in done:
                for node in _nodes_in(r.tape, t):
                    if node < r.n and r.reach[node]:
                        g = _add(g, r.result_of(node, t.shape))
            if g is not None and t._tape is None and hooks._LEAF:
                h = hooks.leaf_hooks(t)      # a leaf input's hooks run, as in torch
                if h is not None and (h.tensor or h.pre or h.post):
                    # (its AccumulateGrad's too where it runs: backward(inputs=))
                    g = hooks.leaf_grad(h, t, g, accumulate=not isinstance(
                        inputs, hooks.GradInputs),
                        summed=_leaf_summed(t, done, direct) if h.tensor else None)
            out.append(g)
        kept = _retained(done, inputs, out, roots) if stage is not None else None
    else:
        out = {}
        for t, s in direct:
            _collect(out, t, np.asarray(s, np.float64).reshape(t.shape))
        for r in done:
            tape, reach = r.tape, r.reach
            _collect_leaves(out, tape, r.n, reach, r.loc, r.off, r.size, r.adj, r.side)
            for node, ref in tape.retained.items():
                t = ref()
                if t is not None and node < r.n and reach[node]:
                    _collect(out, t, r.result_of(node, t.shape))
        if hooks._LEAF:   # leaf hooks: on each leaf's summed gradient, before accumulation
            out = _in_hook_order(out, done)
            hooks.leaf_grads(out, summed=lambda t: _leaf_summed(t, done, direct))

    if validate is not None:
        validate(out)
    staged = None if stage is None else stage(out) if inputs is None else stage(out, kept)
    with COMMIT:
        for r in done:
            if r.tape.frozen:
                if r.freed_since():
                    # another thread's backward freed, after this call's sweep checked them,
                    # buffers it read: this call fails as a second backward
                    raise RuntimeError(errors.BACKWARD_TWICE)
        if publish is not None:
            publish(staged)
        if not retain_graph:
            for r in done:
                r.release()
                if pyfunc.LIVE:   # custom Functions' saved tensors (no call without)
                    pyfunc.release(r.tape, r.ran, r.n)
                r.tape.seal()
    return out


def run_backward_root(root, retain_graph, stage, stage_swept, publish, gradient=None):
    """run_backward for the usual `loss.backward()` or `out.backward(g)`: one root recorded
    on a tape, one-element unless `gradient` (a Tensor of its shape, else None: the caller's
    general path checks and raises) seeds it, and nothing on the tape or in the process that
    needs the general path's machinery (hooks, imports from older tapes, retained non-leaves,
    anomaly mode, a tape a backward froze or one being recorded, the first sweep's choice of
    kernel tier).  run_backward's steps for that case (the same sweep, in place or, behind a
    prefix of reached.MIN_WALK entries or more, on the walked part's local streams as
    _sweep_reached; custom Functions' backwards at their pauses, collection, commit and
    release), without its bookkeeping per tape and per root: ~10 us of a 64x64 matmul's 73 us
    backward, ~15-30 us of a small graph's behind a long prefix in cold caches.  Returns
    run_backward's result, or None where the case is another one (nothing done: the caller
    takes run_backward).  `stage` and `publish` as run_backward's (`stage` where a custom
    Function's backward needs the general path's collection); `stage_swept(tape, n, reach,
    loc, off, size, adj, side)` collects the reached leaves' gradients from the sweep's
    arrays and stages their commit in one step (autograd.api._stage_swept: (_collect_leaves'
    result, what `publish` takes))."""
    tape = root._tape
    if tape is None or not root._recorded:
        return None
    nds = tape.nds
    n = root._node + 1
    if gradient is None:
        v = root._v
        if type(v) is not float and v.size != 1:
            return None
    elif not isinstance(gradient, Tensor) or gradient._shape != root._shape:
        return None
    if (tape.hooks or tape.imports or tape.retained or tape.frozen or tape.recording
            or ANOMALY[0] or hooks._LEAF or hooks.MULTI[0] or tiers.expect_pending()):
        return None
    node = n - 1
    # _seeds' conversion of a given gradient, before anything is swept (a one-element one held
    # as a number: its value as that array's, without making one)
    seed = None if gradient is None else one_value(gradient) \
        if type(gradient._v) is float else np.asarray(gradient._array(), dtype=np.float64)
    # (refresh_shared and check_versions below where they have work: most tapes none, and
    # each call cost ~0.5 us a backward in situ)
    if tape.leaves_seen != SHARED_ARRAYS[0] or tape.shared or tape.folded_consts or \
            tape.hooked:
        tape.refresh_shared()   # (imports: none on this path)
    r = s = None
    if nds is not None and n >= reached.MIN_WALK:
        sub = reached.walk(tape, n, (node,))   # (None: not a small part of the prefix)
        if sub is not None:   # (it gives back sub and its buffers when it raises)
            r = _sweep_reached(tape, n, [(node, 1.0 if seed is None else seed)], None, sub)
    if r is None:
        s = tape.sweep_arrays(n, (node,))
    try:
        if r is not None:   # (swept, checked; reach: the tape's entries, loc: their indices)
            off, size, adj, reach, side, loc = r.off, r.size, r.adj, r.reach, r.side, r.loc
        else:
            off, size, adj, reach, freed, loc = s.off, s.size, s.adj, s.reach, s.freed, None
            if seed is None:
                adj[off[node]] += 1.0    # (the implicit seed, as _sweep_tape's)
            elif type(seed) is float:
                adj[off[node]] += seed
            else:
                _add_seed(adj[off[node]:off[node] + size[node]], seed)
            reach[node] = 1
            side = _Side()
            side.tape, side.nodes = tape, None
            bad = _sweep_segments(tape, n, s, node, freed, side)
            if bad >= 0:
                raise _second_backward(tape, n, reach, bad)
            if tape.checked != BUMPS[0]:   # (else nothing changed since: no check to make)
                tape.check_versions(n, ran=reach)
        if tape.retained or hooks._LEAF:
            # a custom Function's backward retained a gradient or hooked a leaf: the general
            # path's collection, hooks and commit (as run_backward, whose sweep ran the same)
            if r is None:
                r = _Sweep()
                r.tape, r.n, r.off, r.size, r.adj, r.reach, r.bufs = tape, n, off, size, adj, \
                    reach, s.bufs
                r.ran, r.loc, r.entries, r.space, r.side = reach, None, None, None, side
                r.captured = r.retained_seen = None
                r.arrays = s
            return _finish([r], [], (root,), None, None, stage, publish, retain_graph)
        out, staged = stage_swept(tape, n, reach, loc, off, size, adj, side)
        with COMMIT:
            # another thread's backward froze the tape and freed, after this sweep checked
            # them, buffers it read: this call fails as a second backward (run_backward's rule)
            if tape.frozen and (tape.freed_since(reach) if s is not None else r.freed_since()):
                raise RuntimeError(errors.BACKWARD_TWICE)
            publish(staged)
            if not retain_graph:
                if s is not None:
                    tape.release(reach, s)
                else:
                    r.release()
                if pyfunc.LIVE:   # custom Functions' saved tensors (no call without)
                    pyfunc.release(tape, reach, n)
                tape.seal()
        return out
    finally:   # (every result above is a copy)
        if s is not None:
            scratch.give(s.bufs)
        else:
            scratch.give(r.bufs)
            reached.give(r.space)


def _in_hook_order(out, done):
    """`out` (id -> (tensor, gradient)) in the order torch's engine runs the leaves'
    AccumulateGrad nodes, where their hooks run (the tensor hooks here, the post-accumulate
    hooks on publishing): a leaf's once the last of its readers the sweep runs (its first
    reader on the tape) is done, the newest such reader first, two leaves of one reader in
    operand order.  As it is with fewer than two hooked leaves."""
    hooked = [k for k, (t, _) in out.items() if t._tape is None and
              hooks.leaf_hooks(t) is not None]
    if len(hooked) < 2:
        return out
    keys = {}
    for i, r in enumerate(done):
        tape, n = r.tape, r.n
        nodes = [(node, id(leaf)) for node, leaf in tape.leaves.items()
                 if node < n and id(leaf) in out]
        if not nodes:
            continue
        first = _first_readers(tape, n)
        for node, k in nodes:
            code = int(first[node])
            key = (i, -(code >> 3), code & 7) if code != _NO_READER else (i, -node, 0)
            if k not in keys or key > keys[k]:   # (the lowest reader of a leaf's nodes)
                keys[k] = key
    last = (len(done), 0, 0)
    return dict(sorted(out.items(), key=lambda item: keys.get(item[0], last)))


_NO_READER = np.iinfo(np.int64).max


def _first_readers(tape, n):
    """int64 per entry (first n): 8 * (the first entry reading it) + its operand position
    there (ia 0, ib 1, the operand list from 2, capped at 7), _NO_READER where none does."""
    ia, ib, arg_ptr, arg = tape.dependencies(n)
    e = np.arange(n, dtype=np.int64)
    first = np.full(n, _NO_READER, np.int64)
    for col, pos in ((ia, 0), (ib, 1)):
        m = col >= 0
        np.minimum.at(first, col[m], e[m] * 8 + pos)
    used = int(arg_ptr[n]) if len(arg) else 0
    if used:
        counts = np.diff(arg_ptr[:n + 1])
        owner = np.repeat(e, counts)
        within = np.arange(used) - np.repeat(arg_ptr[:n], counts)
        np.minimum.at(first, arg[:used], owner * 8 + np.minimum(2 + within, 7))
    return first


def _input_entries(tape, n, reach, inputs):
    """The entries of `tape` (below n, reached) that backward(inputs=...) runs for its
    non-leaf inputs: each one's own node, as torch does (its gradient is taken there).  Raise
    torch's "backward a second time" error if a backward freed one's saved buffers."""
    hits = []
    for t in inputs:
        if t._tape is not tape:
            continue
        node = t._node
        if node >= n or not reach[node]:
            continue
        # an output of a multi-output op (a custom Function's, split's): torch's node is the op
        for e in (node,) if tape.op[node] != OUTPUT_CODE else (node, int(tape.ia[node])):
            if tape.freed[e] and _SAVES[tape.op[e]]:
                raise RuntimeError(errors.BACKWARD_TWICE)
            hits.append(e)
    return hits


def _check_own_entries(tape, n, entries):
    """backward(inputs=...): torch's engine runs each non-leaf input's own node, and a node
    unpacks its saved tensors when it runs, whatever outputs it computes: one changed in
    place since fails the call with the version error (checked before anything is marked or
    committed)."""
    if entries:
        own = np.zeros(n, np.uint8)
        own[entries] = 1
        if ANOMALY[0]:
            anomaly.check_versions(tape, n, own)
        else:
            tape.check_versions(n, ran=own)


def _with_entries(ran, reach, entries):
    """`ran` with `entries` set (a copy where `ran` is the reach array itself)."""
    if entries and not ran[entries].all():
        ran = ran.copy() if ran is reach else ran
        ran[entries] = 1
    return ran


def _run_function_inputs(done, inputs):
    """backward(inputs=...): a custom Function's node whose outputs are inputs and whose own
    inputs lead to none of them still executes, as torch's engine executes every non-leaf
    input's node: its hooks and backward run on those outputs' gradients (None for its
    other outputs), and what it computes goes nowhere.  (One that leads to an input ran in
    the sweep.)"""
    for r in done:
        if pyfunc.has_functions(r.tape):
            _run_unused(r.tape, inputs, lambda node: r.n > node and r.reach[node] != 0,
                        lambda e: r.ran[e] != 0,
                        lambda t: Tensor._wrap(r.grad_of(t._node, t.shape).copy(), _F64))


def _run_unused(tape, inputs, reached, ran, grad, create_graph=False):
    """_run_function_inputs on one tape: `reached(node)`, `ran(entry)`, `grad(input)`."""
    calls = {}   # pyfunc entry -> {output node: gradient}
    for t in inputs:
        if t._tape is not tape or not reached(t._node):   # (a leaf: no _node)
            continue
        node = t._node
        e = int(tape.ia[node]) if tape.op[node] == OUTPUT_CODE else node
        if tape.op[e] == pyfunc.PYFUNC_CODE and not ran(e):
            calls.setdefault(e, {})[node] = grad(t)
    for e, grads in calls.items():
        pyfunc.run_unused(tape, e, grads, create_graph)


def _run_inputs(done, inputs):
    """backward(inputs=...) counts each reached non-leaf input's own entry as run
    (_input_entries; released with the others).  All checks first, then the marks."""
    hits = [(r, [e for e in _input_entries(r.tape, r.n, r.reach, inputs) if not r.ran[e]])
            for r in done]
    for r, new in hits:
        _check_own_entries(r.tape, r.n, new)
    for r, new in hits:
        r.ran = _with_entries(r.ran, r.reach, new)
        if new and r.entries is not None:
            r.entries = np.append(r.entries, new)


def _retained(done, inputs, grads, roots):
    """(tensor, gradient) of each retained non-leaf whose gradient a run with `inputs`
    computed: one of the inputs (`grads`: theirs), one whose entry the run executed (it leads
    to the inputs), the run's only root (its seed: torch then starts at the root's own node,
    whose hooks run; several roots hang under one root node, which passes nothing to a node
    that leads nowhere), or another output of a node where an input is captured.  torch's
    retain_grad hook fires wherever a tensor's gradient arrives, autograd.grad and
    backward(inputs=...) included."""
    given = {id(t): g for t, g in zip(inputs, grads)}
    out = {}
    for r in done:
        tape, ran, reach = r.tape, r.ran, r.reach
        root = _only_root(roots, tape)
        captured = _captured_outputs(tape, inputs)
        for node, ref in tape.retained.items():
            t = ref()
            if t is None or node >= r.n:
                continue
            k = id(t)
            if k in given:
                g = r.retained_of(node, t.shape)   # (an input captured before its hooks)
                if g is not None:
                    out[k] = (t, g)
                elif given[k] is not None and k not in out:
                    _collect(out, t, given[k])
            elif ran[node] or reach[node] and (node == root or node in captured):
                _collect(out, t, r.result_of(node, t.shape))
    return list(out.values())


def _nd_shape(tape, n):
    """Entry n's shape when it holds more than one element (else None: not stored)."""
    nds = tape.nds
    if nds is None or nds.size[n] == 1:
        return None
    return tuple(int(s) for s in nds.shp[n, :nds.nd[n]])


def _check_import_shape(tape, node, src, snode, n):
    """torch's engine check of a gradient against its node's input: a tensor whose shape an
    in-place view op changed under no_grad (`y.t_()`) keeps its old node, and a gradient of
    the new shape that does not expand to the old one is refused, naming the node that
    computed it."""
    got, want = _nd_shape(tape, node), _nd_shape(src, snode)
    if got is None or want is None or got == want:
        return
    if len(want) <= len(got) and all(w in (1, g) for w, g in zip(want[::-1], got[::-1])):
        return     # torch sums it to the node's shape (squeeze_ / unsqueeze_)
    ia, ib = tape.dependencies(n)[:2]
    uses = np.flatnonzero((ia == node) | (ib == node))
    e = int(uses[0]) if len(uses) else node
    name = node_for(tape, e).name() if len(uses) else "ImportBackward"
    k = 0 if not len(uses) or ia[e] == node else 1
    raise RuntimeError(f"Function {name} returned an invalid gradient at index {k} - got "
                       f"{list(got)} but expected shape compatible with {list(want)}")


def graph_marks(roots):
    """{id(tape): (tape, uint8 marks)}: the entries the graphs of `roots` (tensors, or GradientEdge
    stand-ins) reach, across tapes, newest tape first (torch: the nodes of the running graph
    task).  For register_multi_grad_hook, once per backward that has such hooks."""
    need = {}
    for t in roots:
        if t._tape is not None:
            need.setdefault(id(t._tape), (t._tape, []))[1].append(t._node)
    heap = [(-tape.serial, key) for key, (tape, _) in need.items()]
    heapq.heapify(heap)
    marks = {}
    while heap:       # newest first: every import into a tape is known when it is popped
        _, key = heapq.heappop(heap)
        tape, nodes = need[key]
        n = max(nodes) + 1
        live = np.zeros(n, np.uint8)
        live[nodes] = 1
        K.mark_live(*tape.dependencies(n), live)
        marks[key] = (tape, live)
        for node, (src, snode) in tape.imports.items():
            if node < n and live[node]:
                if id(src) not in need:
                    need[id(src)] = (src, [])
                    heapq.heappush(heap, (-src.serial, id(src)))
                need[id(src)][1].append(snode)
    return marks


def node_executes(task, tape, node):
    """Whether the backward `task` (hooks.Task) runs entry `node` of `tape` (torch's
    _will_engine_execute_node of its grad_fn): reached from the roots and, with inputs, one of
    them or leading to one."""
    got = task.graph().get(id(tape))
    if got is None or node >= len(got[1]) or not got[1][node]:
        return False
    if task.inputs is None:
        # NOTE: torch's engine skips its dummy root node when there is one root, so that
        # root's own node is then not among the graph task's nodes (its hooks still run)
        root = task.roots[0]
        return len(task.roots) > 1 or root._tape is not tape or root._node != node
    if any(t._tape is tape and t._node == node for t in task.inputs):
        return True
    return bool(_leads(tape, len(got[1]), task.inputs, task.memo)[node])


def leaf_executes(task, t):
    """node_executes for leaf t's AccumulateGrad: reached (without inputs) or one of the
    inputs of backward(inputs=...); torch refuses the question under autograd.grad."""
    if task.inputs is not None:
        if not any(x is t for x in task.inputs):
            return False
        if not task.accumulate:
            raise RuntimeError(errors.LEAF_WILL_EXECUTE)
        return True
    if any(r is t for r in task.roots):
        return True
    for tape, live in task.graph().values():
        if any(node < len(live) and live[node] for node in tape.leaf_of.get(id(t), ())):
            return True
    return False


def _serial(tape):
    return tape.serial


def _leaf_summed(t, done, direct):
    """hooks.sum_consumer's dims for leaf t (with hooks) when its one reached use in the
    swept tapes (`done`; not a root: `direct`) is a sum, whose expanded gradient torch's
    hooks on t get; else None."""
    if any(tt is t for tt, _ in direct):
        return None
    found = None
    for r in done:
        for node in _nodes_in(r.tape, t):
            if node < r.n and r.reach[node]:
                if found is not None:
                    return None
                found = (r.tape, node, r.n)
    return None if found is None else hooks.sum_consumer(*found)


def _nodes_in(tape, t):
    """Nodes whose gradient is t's gradient on this tape: t's own node, or its leaf entries.
    (A non-leaf's gradient is complete at its own node: imports of it were fed into it.)"""
    if t._tape is tape:
        return (t._node,)
    if t._tape is None:
        return tape.leaf_of.get(id(t), ())
    return ()


def _add(g, x):
    return x.copy() if g is None else g + x


def _add_seed(dst, seed):
    """Add a root's seed (an array of any real dtype and the node's element count) into its
    slice `dst` of the float64 adjoint arena, cast on the way in (no float64 temporary): an
    import's float32 gradient of 225,792 elements (a small CNN's im2col, handed to the tape
    before it) took 265 us copied and converted first, 108 us this way."""
    np.add(dst, np.asarray(seed).reshape(-1), out=dst, casting="unsafe")


def _collect_leaves(out, tape, n, reach, loc, off, size, adj, side):
    """Add the gradients of the leaves of `tape` that a sweep of its first n entries reached
    into `out` (the sweep's arrays: _Sweep's fields).  On an all-scalar tape with many leaves
    (a model of 0-d parameters: one leaf entry per parameter per step) one fancy index reads
    them all, as Python floats; elsewhere (few leaves, n-d ones) a loop over the leaves costs
    less than the numpy calls."""
    leaves = tape.leaves
    if tape.nds is not None or len(leaves) < _BULK_LEAVES:
        token = ERR_SET(QUIET)   # (a float32 cast that overflows: inf, silently as torch)
        try:
            _collect_each(out, leaves, reach, n, loc, off, size, adj, side)
        finally:
            ERR_RESET(token)
        return
    nodes = np.fromiter(leaves, np.int64, len(leaves))
    hit = nodes < n
    hit[hit] = reach[nodes[hit]] != 0
    pos = np.flatnonzero(hit)
    tensors = list(leaves.values())
    ts = [tensors[i] for i in pos.tolist()] if len(pos) < len(tensors) else tensors
    gs = adj[nodes[pos]].tolist()   # all-scalar tape: node i's adjoint is adj[i]
    if not all(t._recorded for t in ts):   # (requires_grad turned off since: as _collect_each)
        ts, gs = zip(*[(t, g) for t, g in zip(ts, gs) if t._recorded]) if any(
            t._recorded for t in ts) else ((), ())
    if not out and len(tape.leaf_of) == len(tensors):   # one entry per leaf: nothing to sum
        out.update(zip(map(id, ts), zip(ts, gs)))
        return
    for t, g in zip(ts, gs):
        key = id(t)
        if key in out:
            out[key] = (t, out[key][1] + g)
        else:
            out[key] = (t, g)


def _collect_each(out, leaves, reach, n, loc, off, size, adj, side):
    """_collect_leaves' loop over the leaves: each reached one's gradient copied out in its
    dtype (a float32 or float64 one-element leaf's as a Python float), from a sweep's
    arrays (_Sweep's fields)."""
    for node, leaf in leaves.items():
        # (a leaf whose requires_grad was turned off since gets none: torch's AccumulateGrad
        # checks the flag when it runs)
        if node < n and reach.item(node) and leaf._recorded:
            # (grad_copy, inline, on Python ints (item: one call, no numpy scalar): once per
            # leaf per backward, ~0.5 µs)
            i = node if loc is None else loc.item(node)
            o = off.item(i)
            if o < 0:
                g = side[i]
                dtn = leaf._dtype.np
                if g.dtype is not dtn or not g.flags.writeable:
                    g = g.astype(dtn)   # (a read-only broadcast is copied out)
                g = g.reshape(leaf._shape)
            else:
                s = size.item(i)
                dt = leaf._dtype
                if s == 1 and (dt is _F32 or dt is _F64):
                    # a float, as the bulk path's: a one-element .grad holds one, and
                    # api._stage rounds it to float32 (no array made and unwrapped again)
                    g = float(adj[o])
                else:   # (shaped first: astype's result then owns its memory, no
                    g = adj[o:o + s].reshape(leaf._shape).astype(dt.np)   # view on it)
            k = id(leaf)     # (_collect_owned, inline: once per leaf per backward)
            out[k] = (leaf, out[k][1] + g) if k in out else (leaf, g)


_BULK_LEAVES = 8


def _collect_owned(out, t, g):
    """_collect of a gradient `g` in t's dtype that the caller owns (no copy)."""
    k = id(t)
    out[k] = (t, out[k][1] + g) if k in out else (t, g)


def _collect(out, t, g):
    k = id(t)
    if k in out:
        out[k] = (t, out[k][1] + g)
    else:
        # the copy out of the arena is made in t's dtype: one pass, and the commit then
        # casts nothing (a float32 leaf's gradient was a float64 copy and then a cast)
        token = ERR_SET(QUIET)   # (a float32 cast that overflows: inf, silently as torch)
        try:
            out[k] = (t, g.astype(t._dtype.np))
        finally:
            ERR_RESET(token)


# ---- create_graph=True: the backward recorded on the tape -----------------------------------------
# The reverse pass walks the reached entries newest first, as the sweep does, but evaluates each
# op's gradient formulas (the same strings from ops.py the kernels are generated from) as tensor
# expressions, so every step is itself an ordinary recorded op: derivatives of any order come
# out of the same table.  Structural kinds have their adjoints written with tensor ops.

_formula_cache = {}
# per decomposition opcode, whether its row's backward reads its input (a group's row stream
# holds -1 at its other entries: the last slot, False)
_READS_INPUT = np.array([op.backward_reads_input or op.backward_is_one_node for op in BY_CODE]
                        + [False])
# per decomposition opcode, whether create_graph hands its gradient on as torch's formula on
# the row's result (result_grads; the last slot for the other entries, False)
_RESULT_READING = np.array([op.name in result_grads.GRADS for op in BY_CODE] + [False])
# kinds the one-element recording sweep does not handle (their inputs live elsewhere)
# per opcode, indexed by a stream of opcodes (np.isin costs ~50 us a call, this ~1 us)
_NO_FAST = HOST_ONLY_OPS | np.array([op.kind in ("import", "pyfunc") or bool(op.double_backward)
                                      for op in BY_CODE])


def _formula(code, i):
    key = (code, i)
    fn = _formula_cache.get(key)
    if fn is None:
        fn = eval("lambda g, a, b, out, c, cond: " + BY_CODE[code].grads[i], dict(FORMULA_NS))
        _formula_cache[key] = fn
    return fn


def _handle(tape, node, like):
    """A tensor standing for node `node` (so formulas differentiate through it): the leaf
    itself, the imported tensor's node, or a view of the saved value.  `like` (the incoming
    gradient) supplies the dtype of one-element nodes, whose dtype the tape does not keep."""
    kind = BY_CODE[tape.op[node]].kind
    if kind == "leaf":
        return tape.leaves[node]
    if kind == "import":
        src, snode = tape.imports[node]
        while BY_CODE[src.op[snode]].kind == "import":
            src, snode = src.imports[snode]
        if node not in tape.shape and BY_CODE[src.op[snode]].kind != "leaf":
            # one element: the value this tape imported, standing for the node there (which
            # holds an older value when the tensor was changed under no_grad or through an
            # alias since: torch's saved tensor is the tensor as it was when saved)
            t = _new()
            t._v, t._shape, t._dtype = float(tape.val[node]), (), like._dtype
            t._tape, t._node, t._recorded = src, snode, True
            return t
        if (node in tape.shape and snode in src.shape and BY_CODE[src.op[snode]].kind != "leaf"
                and src.saved_array(snode) is None):
            # a backward freed the value there, but this tape saved its own copy for the
            # entries that read it: that copy, standing for the node there (torch's saved
            # tensor is the value, whatever happened to the graph that made it)
            arr = tape.saved_array(node)
            if arr is not None:
                return _handle_of(src, snode, np.asarray(arr), tape.shape[node], like)
        return _handle(src, snode, like)
    if node in tape.shape:
        arr = tape.saved_array(node)
        if arr is None:
            raise RuntimeError(errors.BACKWARD_TWICE)
        return _handle_of(tape, node, np.asarray(arr), tape.shape[node], like)
    t = _new()
    t._v, t._shape, t._dtype = float(tape.val[node]), (), like._dtype
    if kind == "const":
        t._tape, t._recorded = None, False
    else:
        t._tape, t._node, t._recorded = tape, node, True
    return t


def _handle_of(tape, node, arr, shape, like):
    """A tensor of n-d value `arr` standing for `node` of `tape` (a constant for a const)."""
    t = _new()
    t._v, t._shape = arr, tuple(shape)
    t._dtype = from_numpy_dtype(arr.dtype) if arr.dtype.kind == "f" else like._dtype
    if BY_CODE[tape.op[node]].kind == "const":
        t._tape, t._recorded = None, False
    else:
        t._tape, t._node, t._recorded = tape, node, True
    return t


def _sum_to(g, shape):
    """Reduce a broadcast gradient to `shape` (None: a one-element node)."""
    if shape is None:
        return g.sum() if g.numel() > 1 else g
    gs = tuple(g.shape)
    if gs == tuple(shape):
        return g
    lead = len(gs) - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and gs[lead + i] != 1)
    if dims:
        g = g.sum(dims, keepdim=True)
    return g.reshape(shape)


# what each row's gradient formulas read (a, b, out, cond): looked up per entry
_READS = tuple(frozenset(formula_reads(op)) for op in BY_CODE)


_VIEWS_AS_TORCH = frozenset(("t", "transpose", "permute", "unsqueeze", "squeeze", "squeeze_dim",
                             "squeeze_dims", "expand"))
# torch's node of the gradient create_graph records for these rows, where tapegrad records
# one scatter entry as torch one node: their backward functions' own nodes (select_backward's
# SelectBackwardBackward0, ...) or the op torch's formula ends in (gather's scatter_add, the
# value-selecting ops' scatter)
_GRAD_NODES_AS_TORCH = {
    "select": "SelectBackwardBackward0", "slice": "SliceBackwardBackward0",
    "diagonal": "DiagonalBackwardBackward0", "diag": "DiagonalBackwardBackward0",
    "unfold": "UnfoldBackwardBackward0", "gather": "ScatterAddBackward0",
    "index_select": "IndexAddBackward0", "index": "IndexPutImplBackward0",
    "view_gather": "IndexPutImplBackward0",
    "take": "PutBackward0", "masked_select": "MaskedScatterBackward0",
    "flip": "FlipBackward0", "roll": "RollBackward0", "rot90": "Rot90Backward0",
    "sort": "ScatterBackward0", "sort_stable": "ScatterBackward0", "topk": "ScatterBackward0",
    "max_dim": "ScatterBackward0", "min_dim": "ScatterBackward0",
    "kthvalue": "ScatterBackward0", "median_dim": "ScatterBackward0",
    "nanmedian_dim": "ScatterBackward0", "mode": "ScatterBackward0",
}
_SCATTERS = frozenset((OPS["strided_scatter"].code, OPS["index_scatter"].code))


def _in_group(tape, e):
    """Whether entry e is part of a decomposition (whose gradient torch computes otherwise:
    max()'s evenly distributed one, ...)."""
    groups = tape.groups
    return groups is not None and e < len(groups.first) and groups.first[e] >= 0


def _shown_as_torch(name, g, grads):
    """The scatter entries of a create_graph VJP of `name` shown as torch's node."""
    for _, gi in grads:
        if gi is not g and gi._recorded and gi._tape is not None and \
                gi._tape.op[gi._node] in _SCATTERS:
            show_edges(gi._tape, gi._node, [g], name)
    return grads


def _operand_grads(tape, e, g):
    """Entry e's VJP on its gradient g (a float64 array), one float64 array per operand slot
    (in the kernel both slots of an op given one tensor twice add into its one adjoint):
    anomaly mode's check of which output holds a nan.  Computed without recording."""
    shape = node_shape(tape, e) if e in tape.shape else ()
    with switched_grad(False):
        gt = Tensor._wrap(np.asarray(g, np.float64).reshape(shape), _F64)
        return [np.asarray(gi._array(), np.float64) for _, gi in _input_grads(tape, e, gt)]


def _input_grads(tape, e, g):
    """[(node, gradient tensor)] for entry e given the gradient g of its output."""
    op = BY_CODE[tape.op[e]]
    kind = op.kind
    a, b = int(tape.ia[e]), int(tape.ib[e])
    shape_a = tape.shape.get(a) if a >= 0 else None
    if kind in ("unary", "binary", "where"):
        need = _READS[op.code]
        imm = float(tape.imm[e])

        def value(node, name):
            if node < 0:
                return imm
            return _handle(tape, node, g) if name in need else None
        av = value(a, "a")
        bv = value(b, "b") if kind != "unary" else None
        out = _handle(tape, e, g) if "out" in need else None
        cond = None
        if kind == "where":
            cond = _handle(tape, int(tape.args_of(e)[0]), g) != 0.0
        res = []
        for i, node in enumerate((a, b) if kind != "unary" else (a,)):
            if node >= 0:
                gi = _formula(op.code, i)(g, av, bv, out, imm, cond)
                if not hasattr(gi, "shape"):  # a constant gradient (zeros): no history
                    gi = Tensor._wrap(np.full(g.shape, float(gi), g._dtype.np), g._dtype)
                shape = tape.shape.get(node)
                gi = _sum_to(gi, shape)
                if shape is None and not gi.requires_grad:
                    # (a one-element operand's shape where the tape knows it, a leaf's or a
                    # saved value's, for the post hooks: torch's node hands prelu's (1, 1)
                    # weight view a (1, 1) gradient)
                    shape = node_shape(tape, node)
                    if shape is not None and tuple(gi.shape) != shape:
                        gi = gi.reshape(shape)
                res.append((node, gi))
        return res
    if op.name in _VIEWS_AS_TORCH:   # (torch's inverse view, named as its node)
        got = view_kind.tensor_vjp_as_torch(KIND_OPS, op.name, g, shape_a,
                                            tape.params_of(e) if tape.nds is not None else ())
        if got is not None:
            return [(a, gi) for _, gi in got]
    vjp = tensor_vjp(kind) if kind in KIND_MODULES else None
    if vjp is None:
        return []  # compare, guard, stopgrad: no gradient
    if kind in LIST_KINDS:   # the whole operand list: ia, ib, then the entry's arg list
        nodes = [x for x in (a, b) if x >= 0] + tape.args_of(e).tolist()
        grads = vjp(KIND_OPS, g, [tape.shape.get(x) for x in nodes], tape.params_of(e))
        return [(nodes[i], list_operand_shaped(op, g, gi)) for i, gi in grads
                if _DIFFERENTIABLE[tape.op[nodes[i]]]]
    nodes = (a, b, e)   # (operand 2: the entry's own output, which linalg's VJPs read)
    # (a tape of one-element nodes has no n-d streams: no params)
    params = tape.params_of(e) if tape.nds is not None else np.zeros(0, np.int64)
    grads = vjp(KIND_OPS, g, lambda i: _handle(tape, nodes[i], g), shape_a,
                tape.shape.get(b) if b >= 0 else None, params, float(tape.imm[e]))
    if op.name in _GRAD_NODES_AS_TORCH and not _in_group(tape, e):
        _shown_as_torch(_GRAD_NODES_AS_TORCH[op.name], g, grads)
    return [(nodes[i], gi) for i, gi in grads]




def list_operand_shaped(op, g, gi):
    """The gradient gi of a one-element operand of cat / stack in the operand's shape: the
    tape keeps none for it, so the VJP's is 0-d; all its dims are 1, as many as those of the
    result (g's: a one-element result's shape where the hooks know it, else 0-d, which
    leaves gi 0-d) or one fewer (stack).  For the post hooks, as _input_grads does for a
    binary op: torch's node hands a (1, 1) operand a (1, 1) gradient."""
    if gi.requires_grad or gi.numel() != 1 or op.name not in ("cat", "stack"):
        return gi
    shape = (1,) * (g.dim() - (op.name == "stack"))
    return gi.reshape(shape) if tuple(gi.shape) != shape else gi


def _record_backward_fast(roots, seeds, inputs, retain_graph=True):
    """create_graph on a graph of one-element nodes on one tape: `_kernels.record_backward`
    appends the backward entries in one Numba call.  Returns None where it does not apply
    (n-d nodes, several tapes, a frozen tape): the Python path below handles those."""
    tape = roots[0]._tape if roots and roots[0]._tape is not None else None
    if tape is None or tape.frozen or _has_hooks(tape):
        return None
    for t, s in zip(roots, seeds):
        if t._tape is not tape or t.numel() != 1 or s.numel() != 1:
            return None
        if s._recorded and s._tape is not tape:
            return None
    n = max(t._node for t in roots) + 1
    tape.refresh_shared()
    ops = tape._arrays[0]
    cond = tape.first_args(n)
    reach = tape.reached([t._node for t in roots], n)
    reached = np.flatnonzero(reach)
    if (tape.nds is not None and tape.nds.nd[reached].any()) or _NO_FAST[ops[reached]].any():
        return None
    if K.OP_EW[ops[reached]].any():   # outlined rows (codegen.OUTLINE_FROM): no emit branch
        return None
    if tape.groups is not None:   # a group whose backward reads its input (_reading_inputs)
        # or its result (result_grads)
        rows = tape.groups.row
        codes = rows[reached[reached < len(rows)]]
        if _READS_INPUT[codes].any() or _RESULT_READING[codes].any():
            return None
    # with inputs, only what leads to them runs (is checked), as torch
    leads = None if inputs is None else _leads(tape, n, inputs)
    ran = reach if leads is None else reach & leads
    tape.check_versions(n, ran=ran)
    # backward(inputs=...), not autograd.grad: each input's own entry runs (is checked, and
    # freed)
    own = [] if inputs is None or isinstance(inputs, hooks.GradInputs) else \
        _input_entries(tape, n, reach, inputs)
    _check_own_entries(tape, n, [e for e in own if not ran[e]])
    if retain_graph:
        own = []
    # (a first one in a process: the backward of its result will want a sweep kernel,
    # compiled meanwhile in a child while this one compiles record_backward)
    tiers.sweep_ahead_of_tape(tape, n, n - 1, _SAVES)
    has = np.zeros(n, np.uint8)
    adj_n = np.zeros(n, np.uint8)
    adj_i = np.full(n, -1, np.int64)
    adj_v = np.zeros(n)
    for t, s in zip(roots, seeds):
        k = t._node
        sv = float(s._array().reshape(-1)[0])
        node = (s._node if s._tape is tape else -1) if s._recorded else -1
        if has[k]:
            return None  # the same root twice: rare, let the Python path add the seeds
        has[k], adj_n[k], adj_i[k], adj_v[k] = 1, node >= 0, node, sv
    n0 = tape.n
    bound = int(K.EMIT_BOUND[ops[reached]].sum())  # derived from the formulas by codegen
    need = n0 + bound + 1
    if tape.cap < need:
        tape._resize(max(need, 2 * tape.cap))
    arr = tape._arrays
    cnt = np.array([n0, 0], np.int64)
    wheres = np.zeros((bound + 1, 2), np.int64)
    # the VJP programs' registers (allocated here: np.full in the kernel is a compile of its own)
    registers = (np.zeros(K.VJP_REGISTERS, np.bool_), np.full(K.VJP_REGISTERS, -1, np.int64),
                 np.zeros(K.VJP_REGISTERS))
    try:
        bad = K.record_backward(arr[0], arr[1], arr[2], arr[3], arr[4], arr[5][:n], cond,
                                n - 1, reach, has, adj_n, adj_i, adj_v, cnt, wheres, *registers)
        if bad >= 0:  # nothing appended counts: the entries past n0 are dropped
            raise RuntimeError(errors.BACKWARD_TWICE)
        if bad == -2:
            raise RuntimeError("tapegrad internal error: create_graph appended more entries "
                               "than _kernels.EMIT_BOUND allows (nothing was recorded)")
        with COMMIT:  # the appended entries and their where-params become visible together
            for k in range(int(cnt[1])):
                tape.set_cond(int(wheres[k, 0]), int(wheres[k, 1]))
            tape.n = int(cnt[0])
    except BaseException:
        if tape.n == n0:   # dropped: cells past the count hold the defaults again (protocol)
            clear_cells(arr, n0, max(need, int(cnt[0])))
        raise

    differentiable = _differentiable(tape, tape.n)

    def grad_tensor(node, like):
        if not has[node]:
            return None
        t = _new()
        t._v, t._shape, t._dtype = float(adj_v[node]), tuple(like._shape), like._dtype
        if adj_n[node]:
            t._tape, t._node, t._recorded = tape, int(adj_i[node]), True
            if not differentiable[t._node]:
                t._flags = NODIFF
        else:
            t._tape, t._recorded = None, False
        return t

    if inputs is not None:
        out = []
        for t in inputs:
            nodes = [k for k in _nodes_in(tape, t) if k < n and has[k]]
            if len(nodes) > 1:
                return None  # several entries of one leaf: the Python path adds them
            out.append(grad_tensor(nodes[0], t) if nodes else None)
        kept = []
        if tape.retained:
            given, root = {id(t) for t in inputs}, _only_root(roots, tape)
            captured = _captured_outputs(tape, inputs)
            for node, ref in tape.retained.items():
                t = ref()
                if (t is not None and node < n and id(t) not in given
                        and _fills_retained(leads, node, root, captured)):
                    g = grad_tensor(node, t)
                    if g is not None:
                        kept.append((t, g))
        return (out, kept), [] if retain_graph else [(tape, _with_entries(reach & leads,
                                                                          reach, own))]
    found = {}
    for node, leaf in tape.leaves.items():
        if node < n and leaf._recorded:   # (requires_grad turned off since: none, as torch)
            g = grad_tensor(node, leaf)
            if g is not None:
                if id(leaf) in found:
                    g = found[id(leaf)][1] + g
                found[id(leaf)] = (leaf, g)
    for node, ref in tape.retained.items():
        t = ref()
        if t is not None and node < n:
            g = grad_tensor(node, t)
            if g is not None:
                found[id(t)] = (t, g)
    return found, [] if retain_graph else [(tape, reach)]


def _differentiable(tape, n):
    """uint8 per entry (first n of a one-element tape): 1 where it depends on a leaf or an
    import through the entries' ia/ib, not through where's condition.  record_backward
    appends a where of two constants under a mask of the input (a gradient formula's
    where(a > 0, g, 0) with a constant seed) as an entry, so that a replay selects anew;
    such a gradient depends on no leaf: it needs no grad, as torch's."""
    marks = np.zeros(n, np.uint8)
    for node in tape.leaves:
        if node < n:
            marks[node] = 1
    for node in tape.imports:
        if node < n:
            marks[node] = 1
    K.mark_leads(_EVERY, tape._arrays[1][:n], tape._arrays[2][:n], _const_fill(n + 1, 0),
                 _NO_ARGS, marks)
    return marks


def _anomaly_dry_run(roots, seeds, inputs):
    """Anomaly mode's checks for a create_graph backward: the same sweep without recording
    (nothing is committed), so a nan is reported as for a plain backward; other failures are
    left to the recording backward itself."""
    plain = [s if type(s) is float else np.asarray(s._array() if isinstance(s, Tensor) else s,
                                                   np.float64) for s in seeds]
    try:
        run_backward(roots, plain, True, inputs=None if inputs is None else list(inputs))
    except RuntimeError as e:
        if str(e).startswith("Function '"):
            raise


def run_backward_graph(roots, seeds, inputs=None, retain_graph=True):
    """Like run_backward, with gradients as recorded tensors (create_graph=True).  Returns
    (result, swept): result {id(tensor): (tensor, grad Tensor)} or, with `inputs`, (a list
    of grad Tensors / None, [(retained non-leaf, grad Tensor)] of the other retained tensors
    the run fills); swept, without retain_graph, [(tape, ran)] for `release_swept` to free
    in the caller's commit (torch frees the graph: differentiating the result again then
    fails where it needs a freed value), else []."""
    if ANOMALY[0] and ANOMALY[1]:
        _anomaly_dry_run(roots, seeds, inputs)
    fast = _record_backward_fast(roots, seeds, inputs, retain_graph)
    if fast is not None:
        return fast
    adj = {}                      # (tape, node) -> Tensor
    direct, pending = [], set()
    for t, s in zip(roots, seeds):
        if t._tape is None:
            direct.append((t, s))
        else:
            key = (t._tape, t._node)
            adj[key] = adj[key] + s if key in adj else s
            pending.add(t._tape)
    wanted = {}
    if inputs is not None:
        for t in inputs:
            if t._tape is not None:
                wanted[(t._tape, t._node)] = None
    leaf_grads = {}
    swept = []                    # without retain_graph: (tape, entries run)
    memo = {}                     # with inputs: _marks of each tape
    kept = {}                     # with inputs: id -> (retained non-leaf, its gradient)
    given = set() if inputs is None else {id(t) for t in inputs}
    # backward(inputs=...), not autograd.grad: each input's own entry runs (is freed)
    runs_inputs = inputs is not None and not isinstance(inputs, hooks.GradInputs)
    unused = []                   # backward(inputs=): (tape, input entry, gradient) not run
    while pending:
        tape = max(pending, key=lambda tp: tp.serial)
        pending.discard(tape)
        seeds_here = [node for (tp, node) in adj if tp is tape]
        n = max(seeds_here) + 1
        tape.refresh_shared()
        reach = tape.reached(seeds_here, n)
        # with inputs, only what leads to them runs (is checked, differentiated), as torch
        leads = None if inputs is None else _leads(tape, n, inputs, memo)
        marks = None if inputs is None else memo[id(tape)]
        ran = reach if leads is None else reach & leads
        tape.check_versions(n, ran=ran)
        own = _input_entries(tape, n, reach, inputs) if runs_inputs else []
        _check_own_entries(tape, n, [e for e in own if not ran[e]])
        if not retain_graph:
            ran = _with_entries(ran, reach, own)
            swept.append((tape, ran))
        freed = tape.freed
        root = _only_root(roots, tape)
        captured = set() if inputs is None else _captured_outputs(tape, inputs)
        hooked = _hooked(tape, n, inputs, leads, root=root) if tape.hooks else None
        reading = {}   # _reading_inputs: a group's first entry -> its inputs
        for e in np.flatnonzero(reach)[::-1].tolist():
            g = adj.pop((tape, e), None)
            if g is None:
                continue
            done, seen, seen_retained = None, g, g
            if hooked is not None and e in hooked:
                p = hooked[e]
                got = None if p.outputs is None else [bool(reach[m]) for m, _ in p.outputs]
                if tape.op[e] == SLOGDET:
                    hooks.join_sign(tape, p, hooked, int, lambda m: _sign_seen(
                        adj.get((tape, m)), p.h))
                if p.group is not None and not p.group.done:
                    hooks.run_output_hooks(p.group, [
                        g if m == e else adj.get((tape, m)) if m < len(reach) and reach[m]
                        else None for m, _, _ in p.group.members], create_graph=True)
                if p.own:
                    g, seen, seen_retained, done = hooks.graph_pause(
                        tape, p, g, _read_vjp(_without_derivative(_hook_vjp(marks)), reading),
                        got)
            if (tape, e) in wanted:
                wanted[(tape, e)] = seen
            kind = BY_CODE[tape.op[e]].kind
            if kind == "leaf":
                leaf = tape.leaves[e]
                if leaf._recorded:   # (requires_grad turned off since: none, as torch)
                    k = id(leaf)
                    leaf_grads[k] = (leaf, leaf_grads[k][1] + g if k in leaf_grads else g)
                continue
            if kind == "import":
                if marks is not None and not marks[e]:
                    continue      # its graph leads to no input
                src, snode = tape.imports[e]
                key = (src, snode)
                adj[key] = adj[key] + g if key in adj else g
                pending.add(src)
                continue
            runs = leads is None or leads[e]
            if runs and freed[e] and _SAVES[tape.op[e]]:
                raise RuntimeError(errors.BACKWARD_TWICE)
            if e in tape.retained:
                t = tape.retained[e]()
                if t is None:
                    pass
                elif inputs is None:
                    leaf_grads[id(t)] = (t, seen)
                elif id(t) not in given:
                    if _fills_retained(leads, e, root, captured):
                        kept[id(t)] = (t, seen)
                elif seen_retained is not seen:   # an input captured before its hooks
                    kept[id(t)] = (t, seen_retained)
                # (else an input's is returned as the input's)
            if not runs:
                if runs_inputs and (kind == "pyfunc" or tape.op[e] == OUTPUT_CODE) and \
                        (tape, e) in wanted:
                    unused.append((tape, e, g))
                continue
            row = -1 if tape.groups is None or tape.recording else groups.row_at(tape, e)
            if done is not None:
                pairs = done
            elif row >= 0 and BY_CODE[row].double_backward:
                # (the whole row's gradients, each through one node of torch's: its members
                # then get none)
                slots, grads = _without_derivative(_node_grads)(tape, e, g)
                pairs = [(k, gi) for k, gi in zip(slots, grads) if k >= 0 and gi is not None]
            elif row >= 0 and _RESULT_READING[row] and not tape.recording and \
                    (got := node_for(tape, e)._result_call(g)) is not None:
                # (torch's formula on the node's result, result_grads: a second backward
                # runs through this node again, as torch's; its members then get none)
                pairs = [(k, _sum_to(gi, tape.shape.get(k))) for k, gi in got]
            elif kind == "pyfunc":   # a custom autograd.Function: its backward, recorded
                pairs = pyfunc.tensor_vjp(tape, e, g, reach, marks)
            else:
                pairs = _input_grads(tape, e, g)
            if tape.groups is not None and done is None:   # (_read_vjp's ran before hooks)
                pairs = _reading_inputs(tape, e, pairs, reading)
            if _UNDIFFERENTIABLE[tape.op[e]] and not tape.recording:   # (hardsigmoid)
                op = BY_CODE[tape.op[e]]
                pairs = [(node, _no_derivative(op.double_backward, gi, g,
                                               [_edge_of(tape, node, g)], gi._dtype,
                                               op.jvp_error)) for node, gi in pairs]
            for node, gi in pairs:
                key = (tape, node)
                adj[key] = adj[key] + gi if key in adj else gi
    for tape, e, g in unused:   # (custom Functions' nodes: executed, _run_function_inputs)
        got = {e: g}
        _run_unused(tape, inputs, lambda node: node in got, lambda e: False,
                    lambda t: got[t._node], True)
    for t, s in direct:
        k = id(t)
        leaf_grads[k] = (t, leaf_grads[k][1] + s if k in leaf_grads else s)
    if hooks._LEAF:   # leaf hooks (autograd.grad: only its inputs' run, as torch)
        hooks.leaf_grads(leaf_grads, True,
                         None if inputs is None else {id(t) for t in inputs},
                         accumulate=not isinstance(inputs, hooks.GradInputs))
    if inputs is None:
        return leaf_grads, swept
    out = []
    for t in inputs:
        if t._tape is None:
            hit = leaf_grads.get(id(t))
            out.append(hit[1] if hit else None)
        else:
            out.append(wanted.get((t._tape, t._node)))
    return (out, list(kept.values())), swept


_INPUT_EDGE = OPS["input_edge"].code


def _reading_inputs(tape, e, pairs, reading):
    """`pairs` (entry e's input gradients), where e is a member of a group whose row's torch
    backward reads its input (Op.backward_reads_input), with the gradients it hands to the
    group's inputs as input_edge(gradient, input): torch's max_pool2d_with_indices_
    backward(grad, self, ...) makes the input's gradient require grad, and its derivative in
    the input zeros, where the primitives' (a scatter of grad) would not depend on it; its
    derivative in grad stays the primitives' (the input_edge row passes it).  A row whose
    backward is one node (Op.backward_is_one_node): the gradients that need no grad become
    that node's output (_BackwardNode).  The group's output entry comes first in the walk
    (newest first) and notes its inputs."""
    first = tape.groups.first
    if e >= len(first) or first[e] < 0:
        return pairs
    start = int(first[e])
    if e not in reading and start not in reading:
        code = groups.row_at(tape, e)
        row = BY_CODE[code] if code >= 0 else None
        if row is not None and row.backward_reads_input:
            reading[start] = (None, frozenset(groups.inputs(tape, e)))
        elif row is not None and row.backward_is_one_node and not tape.recording:
            reading[start] = (code, groups.inputs(tape, e))
        else:
            return pairs
    code, ins = reading.get(start, (None, None))
    if not ins:
        return pairs
    if code is None:
        return [(node, _binary(_INPUT_EDGE, gi, _edge_of(tape, node, gi)) if node in ins
                 else gi) for node, gi in pairs]
    # (a Function cannot be traced: tapegrad.record's create_graph keeps the primitives')
    return [(node, _backward_node(code).apply(gi, *[_edge_of(tape, k, gi) for k in ins])
             if node in ins and not gi.requires_grad else gi) for node, gi in pairs]


def _read_vjp(vjp, reading):
    """The create_graph walk's VJP for a post hook's pause: `vjp`'s grad_inputs as the walk
    hands them on (_reading_inputs: a row whose torch backward is one node, or reads its
    input), so that the hooks see them as torch's: under create_graph every output of
    native_layer_norm_backward requires grad, the bias's (the seed's sum) too."""
    def read(tape, e, g):
        slots, gi = vjp(tape, e, g)
        if tape.groups is None:
            return slots, gi
        given = [k for k, (s, x) in enumerate(zip(slots, gi)) if s >= 0 and x is not None]
        read = _reading_inputs(tape, e, [(slots[k], gi[k]) for k in given], reading)
        out = list(gi)
        for k, (_, x) in zip(given, read):
            out[k] = x
        return slots, tuple(out)
    return read


def _without_derivative(vjp):
    """`vjp` (a node's (slots, grad_inputs), engine._node_grads') where the node is the output
    of a row whose torch backward has no derivative (Op.double_backward): each gradient as
    the output of that backward's node (_no_derivative, in its input's dtype, as torch's
    node gives it), also as a post hook sees it on the create_graph walk."""
    def read(tape, e, g):
        slots, gi = vjp(tape, e, g)
        row = -1 if tape.groups is None or tape.recording else groups.row_at(tape, e)
        if row < 0 or not BY_CODE[row].double_backward:
            return slots, gi
        edges = [_edge_of(tape, k, g) if k >= 0 else None for k in slots]
        spec = BY_CODE[row].double_backward
        specs = spec if isinstance(spec[0], tuple) else (spec,) * len(slots)
        return slots, tuple(
            x if k < 0 or x is None else
            _no_derivative(s, x, g, edges, edges[i]._dtype, BY_CODE[row].jvp_error)
            for i, (k, x, s) in enumerate(zip(slots, gi, specs)))
    return read


def _no_derivative(spec, gi, g, inputs, dt, jvp_error=""):
    """Gradient gi that a row hands an input, given its output's gradient g, as the output
    (of dtype dt) of torch's node of the row's backward, which has no derivative (`spec`:
    its Op.double_backward triple): edges to g and to the row's `inputs` (tensors) that
    require grad, a backward that raises torch's error (inside a forward transform the
    row's Op.jvp_error, where it has one: torch's forward AD refuses the backward op)."""
    name, kind, message = spec[:3]
    if jvp_error and TRANSFORMS.forwards:
        kind, message = NotImplementedError, jvp_error
    if len(spec) > 3:   # (the edges torch's backward op reads)
        inputs = [inputs[i] for i in spec[3] if i < len(inputs)]
    if not dt.is_floating_point:
        dt = gi._dtype
    return nodiff.result(name, gi._array(), dt, [g] + [t for t in inputs if t is not None],
                         (kind, message))


# per opcode: a row of one entry whose torch backward has no derivative (Op.double_backward)
_UNDIFFERENTIABLE = np.array([bool(op.double_backward) and op.kind != "decomp"
                              for op in BY_CODE])


class _BackwardNode(pyfunc.Function):
    """torch's node of a decomposition row's backward (Op.backward_is_one_node), standing for
    it where the primitives' gradient depends on the seed alone: its output is that gradient,
    its inputs the row's inputs, to which it passes no gradient (None: "not used"), as
    torch's double backward of convolution_backward & co for the bias's gradient."""

    @staticmethod
    def forward(g, *inputs):
        return g

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.inputs = len(inputs) - 1

    @staticmethod
    def backward(ctx, g):
        return (g,) + (None,) * ctx.inputs


_BACKWARD_NODES = {}


def _backward_node(code):
    """The _BackwardNode of row `code`, shown as torch's (ConvolutionBackwardBackward0)."""
    fn = _BACKWARD_NODES.get(code)
    if fn is None:
        name = BY_CODE[code].grad_fn.replace("Backward0", "BackwardBackward0")
        fn = _BACKWARD_NODES[code] = type(name, (_BackwardNode,), {})
        pyfunc.as_native_node(fn, name)
    return fn


def _edge_of(tape, node, like):
    """A tensor on `node` for an edge to it only (input_edge's second operand, whose value
    nothing reads): the node's own handle where its value is at hand, else zeros of its
    shape (a group's primitives need not have saved their input's value)."""
    if (node not in tape.shape or BY_CODE[tape.op[node]].kind in ("leaf", "import")
            or tape.saved_array(node) is not None):
        return _handle(tape, node, like)
    shape = tape.shape[node]
    return _handle_of(tape, node, np.zeros(shape, like._dtype.np), shape, like)


def release_swept(swept):
    """Free what a create_graph run without retain_graph ran (run_backward_graph's `swept`),
    as run_backward frees its own: in the caller's commit, after its results are published."""
    for tape, ran in swept:
        tape.release(ran)
        if pyfunc.LIVE:   # custom Functions' saved tensors (no call without)
            pyfunc.release(tape, ran, len(ran))
        tape.seal()


def _only_root(roots, tape):
    """The node on `tape` of a run's only root, else -1 (torch evaluates that root's node even
    where it leads to none of the inputs: its hooks run, its retained .grad is filled)."""
    return roots[0]._node if len(roots) == 1 and roots[0]._tape is tape else -1


def _fills_retained(leads, node, root, captured):
    """Whether a create_graph run with inputs fills the retained tensor of entry `node` (as
    _retained's rule): the entry leads to the inputs (`leads`: _leads), it is the run's
    only root (`root`: _only_root), or another output of a node where an input is captured
    (`captured`: _captured_outputs)."""
    return leads[node] or node == root or node in captured


def _captured_outputs(tape, inputs):
    """The entries of `tape` that are outputs of a node of several where one of `inputs` (an
    output of it) is captured (graph.node_outputs): torch runs the tensor pre-hooks of all
    that node's outputs there, retain_grad's among them."""
    return {m for t in inputs for node in _nodes_in(tape, t) for m in node_outputs(tape, node)}


# ---- hooks (tapegrad.hooks): the sweep pauses at hooked entries -----------------------------
# A tape with hooked entries (`tape.hooks`) makes _run_sweep pass the kernel a copy of the host
# flags with those entries set: the kernel stops at one once its gradient is complete, the
# hooks run on it here, and the kernel resumes at the same entry.  Without hooks nothing here
# runs: one test of `tape.hooks` per swept tape.

def _hooked(tape, n, inputs, leads, root=-1, seeds=None):
    """hooks.Pauses {tape node: hooks.Pause} of the hooked entries below n that this
    backward runs, or None.  With `inputs` only those on a path to an input run their
    grad_fn's hooks, as torch runs only those nodes, and the inputs themselves their tensor
    hooks.  `seeds`: the sweep's (node, seed) pairs, for the hooks of a node whose gradient
    only a sum hands on (hooks.sum_consumer; None: not looked for)."""
    mine = ()
    if inputs is not None:
        mine = {node for t in inputs for node in _nodes_in(tape, t)}
    out = hooks.Pauses()
    for node, h in tape.hooks.items():
        if node >= n or not h.active():
            continue
        p = hooks.plan(tape, node, h, inputs, leads, mine, root)
        if p is None:
            continue
        if seeds is not None and h.tensor and all(node != s for s, _ in seeds):
            p.summed = hooks.sum_consumer(tape, node, n, {s for s, _ in seeds})
        out[node] = p
    hooks.output_groups(tape, n, out, leads, mine)
    return out or None


def _local_pauses(hooked, sub):
    """_hooked's Pauses keyed by local index in `sub` (a reached.Reached, gathered), of the
    reached entries only, or None."""
    out = hooks.Pauses()
    for node, p in hooked.items():
        if sub.mark[node]:
            out[int(sub.loc[node])] = p
            if p.outputs is not None:   # (a split entry's pieces: by local index too)
                p.outputs = [(int(sub.loc[m]) if sub.mark[m] else -1, shape)
                             for m, shape in p.outputs]
    groups = {id(p.group): p.group for p in hooked.values() if p.group is not None}
    for group in groups.values():   # (an Outputs' members: by local index too)
        for member in group.members:
            m = member[0]
            member[0] = int(sub.loc[m]) if m < len(sub.mark) and sub.mark[m] else -1
    return out or None


def _hook_pause(tape, e, p, pauses, streams, marks=None):
    """Run the hooks of sweep entry e (a hooks.Pause) on its gradient in `adj`.  True when
    they ran e's VJP too (grad_fn post hooks) and added it into `adj`: for a node made of
    several entries the whole node's, whose other entries are then skipped."""
    ia, ib, arg_ptr, arg, off, size, adj, reach, nodes = streams
    if nodes is not None:
        nodes = nodes[:len(reach)]   # (a workspace's: longer than the sweep's entries)
    node = p.node
    o, s = off[e], size[e]
    # (a piece past the sweep's last entry, std_mean's mean when the backward starts at its
    # std: not reached, its gradient None)
    got = None if p.outputs is None else [0 <= i < len(reach) and bool(reach[i] & 1)
                                          for i, _ in p.outputs]
    if tape.op[node] == SLOGDET:
        def sign_grad(m):
            i = _local(nodes, m)
            return hooks.as_gradient(adj[off[i]:off[i] + size[i]], p.h) \
                if i >= 0 and reach[i] & 1 else None
        hooks.join_sign(tape, p, pauses, lambda m: _local(nodes, m), sign_grad)
    if p.group is not None and not p.group.done:
        hooks.run_output_hooks(p.group, [
            adj[off[i]:off[i] + size[i]] if 0 <= i < len(reach) and reach[i] & 1 else None
            for i, _, _ in p.group.members])
    res = hooks.pause(tape, p, adj[o:o + s], _hook_vjp(marks), pauses, got)
    if res is None:
        return False
    added, dropped = res
    marked = (int(ia[e]), int(ib[e]))   # (the operands the pause marked reached)
    for operand, arr in added:
        i = _local(nodes, operand)
        adj[off[i]:off[i] + size[i]] += arr.reshape(-1)
        reach[i] |= 1    # (a group input or a list operand: no kernel marked it)
    for operand in dropped:   # a post hook gave it None: no gradient, unless reached elsewhere
        i = _local(nodes, operand)
        if i in marked and not _reached_above(i, e, ia, ib, arg_ptr, arg, reach, pauses.roots):
            reach[i] &= 2   # (its skip bit stays)
    edges = node_edges(tape, node)
    if edges is not None:
        # the node's other entries' VJPs ran here: they do not run again (bit 2) but count as
        # run (bit 1: checked and released as the node they are part of), unless a gradient
        # reaches them from outside the node (a create_graph gradient that read their
        # values), which they pass on
        live = []
        for m in reversed(node_members(tape, node, edges)[:-1]):
            i = _local(nodes, m)
            if i < 0:
                continue
            if _reached_above(i, e, ia, ib, arg_ptr, arg, reach, pauses.roots) or any(
                    i in (ia[j], ib[j]) or i in arg[arg_ptr[j]:arg_ptr[j + 1]] for j in live):
                live.append(i)
            else:
                reach[i] |= 3
    return True


def _local(nodes, node):
    """The sweep index of tape node `node` (`nodes`: the local streams' tape nodes, ascending,
    or None: the tape's own streams), -1 where the sweep does not hold it."""
    if nodes is None:
        return node
    i = int(np.searchsorted(nodes, node))
    return i if i < len(nodes) and nodes[i] == node else -1


def _sign_seen(g, h):
    """The create_graph walk's gradient g of slogdet's sign (None: none) as its node's hooks
    see it: in the tensor's shape (a one-element one is 0-d on the walk)."""
    return g if g is None or tuple(g.shape) == tuple(h.shape) else g.reshape(h.shape)


def _hook_vjp(marks):
    """The VJP a grad_fn post hook's pause runs: _node_grads, with None for the inputs that
    are not and lead to none of autograd.grad's / backward(inputs=)'s inputs (`marks`:
    _marks of the tape, or None), as torch's engine computes only what it needs."""
    if marks is None:
        return _node_grads

    def vjp(tape, e, g):
        slots, gi = _node_grads(tape, e, g)
        if BY_CODE[tape.op[e]].kind in LIST_KINDS and any(k >= 0 and marks[k] for k in slots):
            return slots, gi   # (torch computes a tensor list's gradients for all or none)
        return slots, tuple(None if k < 0 or not marks[k] else x for k, x in zip(slots, gi))
    return vjp


def _node_grads(tape, e, g):
    """(slots, grad_inputs): what torch's node at entry e hands its inputs given the gradient
    g of its output, as its post hooks see it (one per edge, None where an input takes none;
    reduced to the input's shape, as torch's engine validates them before the hooks), and
    the tape nodes those edges lead to (-1: none).  A node made of several entries (a
    decomposition, an op shown with torch's edges) or taking an operand list (cat) runs its
    backward as calling it does (node_api's `Node.__call__`, on the class graph.py defines)."""
    edges = node_edges(tape, e)
    row = groups.row_at(tape, e)
    if edges is None or row < 0 and BY_CODE[tape.op[e]].torch_outputs > 1:
        # (an entry that is one output of a torch node of several cannot call that node
        # with its gradient alone: its own VJP, matched to torch's edges; slogdet's sign
        # reads a constant of A, so A's slot gets None, as torch's)
        slots, gi = hooks.grad_inputs_of(tape, e, _input_grads(tape, e, g))
        return slots, tuple(_one_shaped(tape, k, x) for k, x in zip(slots, gi))
    if row >= 0 and BY_CODE[row].torch_outputs > 1:
        # results stacked (var_mean), or other outputs not on the tape (native_group_norm's
        # mean and rstd: no gradient)
        flat, pieces, start = g.reshape(-1), [], 0
        for _, shape in hooks.stacked_outputs(tape, e):
            stop = start + int(np.prod(shape))
            pieces.append(flat[start:stop].reshape(shape))
            start = stop
        if not pieces:
            pieces = [g] + [None] * (BY_CODE[row].torch_outputs - 1)
        got = node_for(tape, e)(*pieces)
    else:
        got = node_for(tape, e)(g)
    got = got if isinstance(got, tuple) else (got,)
    slots = hooks.roles(tape, e)
    # (a cat's constant operand gets its block too, as torch's: computed for all or none)
    return slots, tuple(x if k < 0 or x is None else
                        _one_shaped(tape, k, _sum_to(x, tape.shape.get(k)))
                        for k, x in zip(slots, got))


def _one_shaped(tape, node, g):
    """Gradient g of input `node` in the node's shape where it has one element (the tape keeps
    no shape for those, so a VJP's is 0-d) and the tape knows it (graph.known_shape: a
    leaf's, a hooked, seen or retained tensor's)."""
    if g is None or node < 0 or node in tape.shape or g.numel() != 1:
        return g
    shape = known_shape(tape, node)
    return g if shape is None or shape == g._shape else g.reshape(shape)


def _reached_above(i, e, ia, ib, arg_ptr, arg, reach, roots):
    """Whether node i was reached before the sweep came to entry e: a seeded root, or an
    operand of a reached later entry (their flags are final by then).  numpy passes over the
    entries above e: a post hook that drops a gradient is rare."""
    if (roots == i).any():
        return True
    k = len(reach)
    later = e + 1 + np.flatnonzero((ia[e + 1:k] == i) | (ib[e + 1:k] == i))
    if (reach[later] & 1).any():
        return True
    if len(arg_ptr) > k and arg_ptr[k] > 0:
        pos = np.flatnonzero(arg[:arg_ptr[k]] == i)
        owners = np.searchsorted(arg_ptr[:k + 1], pos, side="right") - 1
        return bool((reach[owners[owners > e]] & 1).any())
    return False


def _has_hooks(tape):
    """Whether a create_graph backward over `tape` may run hooks (then not the fast path)."""
    if tape.hooks:
        return True
    return bool(hooks._LEAF) and any(hooks.leaf_hooks(t) is not None
                                     for t in tape.leaves.values())
