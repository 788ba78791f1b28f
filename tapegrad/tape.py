"""The Wengert tape: a struct of arrays, appended to by the forward, swept by `_kernels.sweep`.

Entry i produces node i.  Six parallel streams, preallocated numpy arrays written through
memoryviews (a memoryview store costs what a list append does, and the sweep then reads the
arrays with no conversion):

    op[i]   opcode (tapegrad.ops)              ia[i], ib[i]  input nodes, -1 = constant operand
    imm[i]  constant operand / scalar param    val[i]        the value when the node has one element
    freed[i]  1 once a backward without retain_graph has run the entry

A tape that holds any n-d node also has per-node n-d streams (`NdStreams`: size, ndim,
shape rows, params offset and length, operands beyond ia/ib as a CSR list (`arg_ptr`/`arg`:
where's condition, cat's inputs), saved-array slot and count, host flag), made when its first n-d fact is recorded, so a backward builds its arenas with numpy
and kernels, never with a Python loop over the tape.  `shape` (node -> shape, size > 1 only)
stays as the record-time lookup the per-op Python path uses.

Lifetimes (docs/design.md): every entry saves the buffers its op declares (`Op.saves`).
A backward without retain_graph marks the entries it ran as freed, drops their n-d saved
arrays once no unfreed entry needs them, and seals the tape.  A sealed tape takes no new
entries: later ops start a new tape and refer to the old one through `import` entries.  A
tape is also sealed when it reaches `MAX_ENTRIES` or `MAX_SAVED_BYTES`, so a loop that builds
graphs and drops them without backward holds a few tapes (import_links drops the import links
no live graph reaches, which would otherwise chain each tape to the one before it).  Tapes are
freed by reference counting: only the tensors they produced (and newer tapes importing from
them) refer to them.
"""
import itertools
import math
import re
import sys
import threading
import weakref

import numpy as np

from . import _push, errors, groups, scratch
from ._jit import K, loaded
from .errors import TracingError
from .graph import group_saved_inputs, node_for
from .import_links import release_dead_imports
from .kinds import DIRECT as _DIRECT_KINDS, HOST_ONLY as _HOST_ONLY_KINDS, SKIPS as _SKIPS
from .memory_positions import view_positions
from .ops import (OPS, BY_CODE, MULTI_VIEW_OPS, OUTPUT_CODE, VIEW_OPS, saves_mask, saves_needed,
                  vjp_reads, wants_grad)

MAX_ENTRIES = 1 << 16
# The opcode stream's dtype: the op table must fit (a row past it would wrap silently).
OPCODE = np.int16
assert len(BY_CODE) <= np.iinfo(OPCODE).max, "the op table outgrew the opcode stream"
# An open tape with n-d streams holding this much is sealed: the saved n-d data it computed
# (and integer params: index arrays) and ENTRY_BYTES per entry.  Half the L2 cache of a core:
# graphs dropped without backward stay until their tape goes, and past this they push the
# live graph's data and the sweep's code out of cache (docs/design.md, "Sealing").
MAX_SAVED_BYTES = 1 << 20
# What an entry of a tape with n-d streams holds besides its saved arrays: its cells of the
# streams (27 B) and of the n-d rows (117 B: ints, shp, nsaved, host), its shape-dict item and
# tuple (~100 B).  Small graphs hold more here than in saved data (the MLP 2-16-16-1: 13
# entries, 4.2 KB saved): counting that alone, a tape of them reached 2.1 MB in all.
ENTRY_BYTES = 256
_serials = itertools.count(1)

# Entry counts as int objects, SUCC[0][i] == i + 1, for tapes of up to MAX_ENTRIES entries: the
# scalar fast path publishes an entry with `tape.n = tape.succ[n]` (protocol.python_push), a
# list read where `n + 1` made an int per op (freed with the result tensor: ~2% of an op's
# instructions).  Made as tapes grow, a new longer list each time (a tape keeps the one it was
# given, and no two threads extend one list); at most ~2.6 MB.  A tape past MAX_ENTRIES counts
# with _COUNT (n + 1, made as before).
SUCC = [[]]
_COUNT = range(1, sys.maxsize)


def _succ(cap):
    """A sequence whose item i is i + 1, for every i < cap."""
    s = SUCC[0]
    if len(s) >= cap:
        return s
    if cap > MAX_ENTRIES:
        return _COUNT
    s = SUCC[0] = list(range(1, cap + 1))
    return s

OP_LEAF = OPS["leaf"].code
# Tensor._flags bit (tensor.py has the others): a view made with grad mode off of a tensor
# that requires grad, which requires grad but has no gradient accumulator (torch's)
NO_GRAD_VIEW = 4
# Tensor._flags bit: an inference tensor (made in an inference_mode block, or a view of one);
# until the first inference_mode block no tensor is one, and the checks for them are skipped
INFERENCE_TENSOR = 8
# Tensor._flags bit: made by a factory in the function jvp or jacfwd runs (GradState's
# forward_call), not captured from outside it: a write into it under no_grad is recorded
FORWARD_MADE = 16
# Tensor._flags bit: a primal as the function func.jvp runs sees it (func._duals), a recorded
# copy of the leaf the tangents are taken with respect to; shown as torch's dual tensor, a
# leaf with no grad_fn (is_leaf, grad_fn), which an in-place op changes
DUAL = 32
# Tensor._flags bit: a reverse transform's stand-in for an input that requires grad (a view
# of it: func._differentiable), the leaf of torch's grad level, which an in-place op refuses
TRANSFORM_LEAF = 64
# Tensor._flags bit: a view made of a tensor that needed no gradient, whose base then took
# history by an in-place op: torch's view requires grad and has no grad_fn until one is read
# (grad_fn, is_leaf, a use with grad mode on: Tape.leaf_node), made then from the base as it
# is then; before that, an in-place op on it finds a leaf (regenerate_pending_view)
PENDING_VIEW = 128
INFERENCE_MADE = [False]
# how many such views were made: until one is, leaf_node skips the check (reading an unset
# _flags slot through getattr's default costs ~0.2 us, 20 us of a 105-leaf forward)
NO_GRAD_VIEWS_MADE = [0]
OP_IMPORT = OPS["import"].code
OP_CONST = OPS["const"].code
OP_AS_STRIDED = OPS["as_strided"].code
# entries whose value lives anyway (a leaf's, which the graph keeps alive as torch's does; an
# older tape's): held by reference, so it does not count towards MAX_SAVED_BYTES.  A
# constant's array counts once per tape (Tape.save): its tensor may die while the tape keeps
# the array (an input batch of an evaluation loop, a mask), or the array is the tape's own
# copy (where's float64 mask); one used by every graph (a dataset) counts once.
_BORROWED_CODES = frozenset((OP_LEAF, OP_IMPORT))
_BORROWED_CONST_CODES = frozenset((OP_LEAF, OP_CONST))
WHERE_CODES = frozenset(op.code for op in BY_CODE if op.kind == "where")
_SAVES = np.array([saves_mask(op) for op in BY_CODE], dtype=np.int8)
# read-only, as the kernels' own copy (OP_SAVES) is inside them (Numba freezes a global array
# read-only): a writable one from Python is another type, and `sweep` compiled again for it
_SAVES.flags.writeable = False
# whether an opcode's entries save anything (Tape.release of a tape without n-d streams)
_SAVES_ANY = _SAVES != 0
_SAVES_ANY.flags.writeable = False
# bool per opcode: a LAPACK entry (kinds.HOST_ONLY), which only the pausing n-d sweeps run;
# indexed by an opcode stream (np.isin cost ~50 us a call)
HOST_ONLY_OPS = np.array([op.kind in _HOST_ONLY_KINDS for op in BY_CODE])
# uint8 per opcode: nonzero where the op's host VJP hands an input entry it alone feeds its
# gradient as a fresh array (walks.arena_layout gives such a node no arena space): 1 if it
# reads that input's saved value, 2 if not (kinds.DIRECT)
_HOST_DIRECT = np.array([_DIRECT_KINDS.get(op.kind, 0) for op in BY_CODE], np.uint8)
# ... and none: a tape with hooks keeps every gradient in the arena, where a hook's pause
# reads and replaces it (tapegrad.hooks)
_NO_DIRECT = np.zeros_like(_HOST_DIRECT)


def host_direct(tape):
    """The direct-gradient flags a sweep of `tape` uses (_HOST_DIRECT, or _NO_DIRECT when a
    hook is registered on it)."""
    return _NO_DIRECT if tape.hooks else _HOST_DIRECT
# True at the view ops' codes: a table indexed by an opcode stream (np.isin of the codes cost
# ~20 us a call)
_IS_VIEW = np.zeros(len(BY_CODE), bool)
_IS_VIEW[[OPS[name].code for name in VIEW_OPS]] = True
_MULTI_VIEW_CODES = frozenset(OPS[name].code for name in MULTI_VIEW_OPS)
_ALIAS = OPS["alias"].code
_TO_COPY = OPS["to_copy"].code


_NEEDS = np.array([saves_needed(op) for op in BY_CODE], np.int8)
# check_versions' look at the readers of changed values one by one (Tape._stale_unsaved) takes
# at most this many entries: more (a changed constant read by many graphs on one tape) go to
# its numpy passes, whose cost does not grow per entry in Python
_STALE_LOOK_MAX = 64


def _b_first(op):
    """Whether torch's node of `op` unpacks its second operand's saved value first: its
    generated backward unpacks saved inputs sorted by name (MulBackward0: `other` before
    `self`, MmBackward0: `mat2` before `self`, DotBackward0: `self` before `tensor`), so the
    version error of two changed operands names that one."""
    names = dict(op.saved_names)
    a, b = names.get("self", "self"), names.get("other", "other")
    return a is not None and b is not None and b < a


_B_FIRST = np.array([_b_first(op) for op in BY_CODE])
_DIFFERENTIABLE = np.array([wants_grad(op) for op in BY_CODE])
# walks.arena_layout's per-opcode tables: whether a node of the opcode wants a gradient, and
# the operand values its kernel VJP reads by which operands want one (ops.vjp_reads)
_WANTS = _DIFFERENTIABLE.astype(np.uint8)
_WANTS.flags.writeable = False
_VJP_READS = np.array([vjp_reads(op, _SKIPS) for op in BY_CODE], np.int8)
_VJP_READS.flags.writeable = False
_ROLE_BITS = (1, 2, 4)
# per opcode: a decomposition row whose torch node saves its result, or an input (`self`,
# `other`): the in-place check reads these at the group's output entry, as its primitives
# need not save what torch's one node does (prod's result, max's input)
_ROW_SAVES_OUT = np.array([op.kind == "decomp" and "out" in op.saves for op in BY_CODE])
_ROW_SAVES_IN = np.array([op.kind == "decomp" and ("a" in op.saves or "b" in op.saves)
                          for op in BY_CODE])
_ROLE_ROWS = np.array([[1], [2], [4], [8]], np.int8)   # saves-mask bits of a, b, out, cond


class _Closed:
    """Stands in for "no open tape": sealed, so the fast path falls through to open_tape()."""
    __slots__ = ()
    sealed = True
    frozen = True
    recording = False


CLOSED = _Closed()


class GradState(threading.local):
    """Per-thread recording state: grad mode, inference mode and the open tape (`CLOSED`
    when none is open or nothing records: grad mode off or inference mode on).  The per-op
    fast path reads only `STATE.tape`: one thread-local lookup per op."""
    enabled = True
    inference = False   # an inference_mode block: nothing records, whatever grad mode says
    tape = CLOSED
    parked = CLOSED   # the open tape while nothing records (grad_mode._sync)
    # torch.func grad-type transforms running their functions (func._grad_level): torch lifts
    # every tensor used there to the transform's level, so saving an inference tensor there
    # is no error (refuse_inference_save)
    grad_levels = 0
    # whether the innermost transformed call running is jvp's or jacfwd's (torch's forward
    # mode), set by func.py around it; and grad mode turned off by the user there
    # (grad_mode.user_set): off as is_grad_enabled shows it, while ops go on recording
    # (torch's forward-mode AD, which tapegrad's reverse-mode jvp stands for, does not heed
    # grad mode)
    forward_call = False
    fwd_off = False


STATE = GradState()
_weakref = weakref.ref   # (record_view's two per view op, without the module lookup)


# Stream arrays of dead tapes, kept for the next tapes: a loop that makes a graph per step
# then reuses memory the OS has already mapped instead of allocating (and faulting in) anew.
# Two tapes must never hold the same arrays.  A set leaves the pool by one list.pop, which is
# atomic, so no two threads get it; nothing here waits or holds a lock, so an interrupt or a
# Tape.__del__ run by the garbage collector at any point loses at most a set (allocated anew
# next time).  A tape gives its arrays back only once it no longer refers to them
# (Tape._resize).
_POOL = []
_POOL_MAX = 4


def _pool_take(pool, fits):
    """An item of `pool` for which fits(item) holds, or None; safe against other threads
    taking at the same time (list.pop is atomic; an item moved meanwhile is put back)."""
    for i, item in enumerate(list(pool)):
        if fits(item):
            try:
                got = pool.pop(i)
            except IndexError:        # another thread took from the pool meanwhile
                return None
            if got is not item:       # ... and moved what was at i: put it back
                pool.append(got)
                return None
            return item
    return None


def _pool_room(pool, cap, size):
    """Whether an item of capacity `size` may join `pool`: it has room, or an item of another
    capacity (`cap(item)`), the oldest, leaves it for this one.  A full pool of capacities no
    tape asks for any more (a program's few long tapes) would otherwise make every later tape
    allocate its arrays anew, and never pool them (a cat's record: +30 us after them)."""
    if len(pool) < _POOL_MAX:
        return True
    return _pool_take(pool, lambda item: cap(item) != size) is not None


def _streams_cap(arrs):
    return len(arrs[0])


def _nd_cap(nds):
    return len(nds.size)


class _Streams(tuple):
    """A tape's six stream arrays, with `views`: memoryviews of the first five, pooled with
    them (making five memoryviews was a fifth of a new tape's cost), and `clean`: cells below
    it of ib and imm hold protocol.DEFAULTS (the freed flags are all 0 in a set from the pool
    or new), so a new tape on a pooled set fills nothing before its first append."""


def _take_streams(cap, grown=False):
    """A stream set of capacity cap, from the pool if it has one, else new.  `grown`: for a
    tape that outgrew its arrays, the largest pooled set of at least cap: a loop that records
    one long graph per step then grows each graph's arrays once, onto the set the previous
    graph left (cleaned up to that graph's length: no fills ahead below it), not once per
    doubling onto arrays made, copied into and filled 1024 cells at a time (the 40k-entry
    recurrence: 39 grow calls, ~0.7 ms of its ~17 ms record).  A new tape takes its own
    capacity only: a small graph keeps small arrays."""
    got = None
    if grown:
        fits = [arrs for arrs in list(_POOL) if len(arrs[0]) >= cap]
        if fits:
            best = max(fits, key=_streams_cap)
            got = _pool_take(_POOL, lambda arrs: arrs is best)
        if got is not None:
            return got
    else:
        try:
            got = _POOL.pop()   # atomic: the usual case (every tape of a loop has one capacity)
        except IndexError:
            pass
        if got is not None and len(got[0]) != cap:
            _POOL.append(got)
            got = _pool_take(_POOL, lambda arrs: len(arrs[0]) == cap)
        if got is not None:
            return got
    arrs = _Streams((np.empty(cap, OPCODE), np.empty(cap, np.int32), np.empty(cap, np.int32),
                     np.empty(cap, np.float64), np.empty(cap, np.float64),
                     np.zeros(cap, np.uint8)))
    arrs.views = tuple(memoryview(a) for a in arrs[:5])
    arrs.clean = 0
    arrs.prefix = (-1,)   # (_prefix_views)
    return arrs


def _prefix_views(arrs, n):
    """(n, op, ia, ib, imm, val, freed): views of the first n entries of stream set `arrs`,
    kept on the set for the next sweep of as many entries (a loop's backwards repeat their
    sizes, and a set's arrays never change: slicing them was ~1 us of a backward)."""
    v = arrs.prefix
    if v[0] != n:
        v = arrs.prefix = (n, arrs[0][:n], arrs[1][:n], arrs[2][:n], arrs[3][:n],
                           arrs[4][:n], arrs[5][:n])
    return v


# Cells [n, lim) of a tape's ib and imm streams hold protocol.DEFAULTS (the fast path does not
# store those values); Tape.grow fills them this many entries ahead, so the defaults touch
# no memory the graph does not reach (filling whole new arrays cost ~10 B/op of RSS).
_CLEAN_AHEAD = 1024


def clear_cells(arrs, lo, hi):
    """Put protocol.DEFAULTS back into cells lo..hi-1 of the ib and imm streams `arrs` (a
    tape's _arrays): for a writer that stored entries there and does not publish them."""
    arrs[2][lo:hi] = -1
    arrs[3][lo:hi] = 0.0


def _give_streams(arrs, n=0, lim=0):
    """Pool the stream arrays of a tape that wrote n entries and whose cells [n, lim) hold the
    defaults (Tape._resize; Tape.__del__ does the same inline): cleaned here (O(entries
    written)), so the next tape starts with lim cells ready and its freed flags clear.  Only
    sets no tape refers to any more come here."""
    if len(arrs[0]) <= MAX_ENTRIES and _pool_room(_POOL, _streams_cap, len(arrs[0])):
        if n:
            clear_cells(arrs, 0, n)
            arrs[5][:n] = 0
        arrs.clean = max(n, lim)
        _POOL.append(arrs)   # last: an interrupt in the cleaning only loses this set


class Tape:
    __slots__ = ("n", "cap", "lim", "succ", "op", "ia", "ib", "imm", "val", "_arrays", "shape",
                 "nds", "serial", "sealed", "leaves", "leaf_of", "imports",
                 "import_of", "retained", "grad_fns", "recording", "strict", "input_ids",
                 "guard_src", "baked", "saved_bytes", "frozen", "versions", "watched", "checked",
                 "rebased", "superseded", "groups", "folded", "unread", "shared", "folded_consts",
                 "regenerated",
                 "folded_seen", "leaves_seen", "__weakref__",
                 "hooks",       # tapegrad.hooks: {node: Hooks} of this tape's hooked entries
                 "edge_nodes",  # graph.node_for: {group output: torch's input nodes} (_onepass)
                 "fn_data",     # graph.record_fn: {node: (grad_fn class, its data)}
                 "call_args",   # recording.keep_args: {node: {name: value}}, or None
                 "likes",       # Tensor.grad_fn: {node: (dtype, shape) of its tensor}, or None
                 "const_arrays",  # save: ids of the constants' arrays counted, or None
                 "hooked",      # saved-tensor hooks: [[start, end or None, pin], ...] or None
                 "snapshot",    # save copies what it saves (save_on_cpu(pin_memory=True))
                 "retain_moves",  # {view's node: node its retains-grad hook stays on} or None
                 "read_links")  # read_as: {one-element node: nodes read as it once shared}

    def __init__(self, cap=1024, recording=False, strict=False):
        self.n = 0
        self._arrays = None     # (set last below: __del__ pools nothing of a failed __init__)
        self.nds = None         # NdStreams, made with the first n-d fact
        self.groups = None      # groups.Groups, made with the first decomposition
        self.hooks = None       # tapegrad.hooks: hooks of non-leaf tensors/grad_fns, die with it
        self.edge_nodes = None  # {group output: its torch input nodes, -1: (None, 0)}, or None
        self.likes = None       # (dtype, shape) of the tensor last seen with a node as grad_fn
        self.const_arrays = None
        self.hooked = None
        self.snapshot = False
        if SAVE_HOOKS.open:   # (made inside save_on_cpu: its entries are the context's)
            SAVE_HOOKS.open[-1].cover(self, 0)
        # (_resize from nothing, inline): cells [n, lim) of ib and imm hold protocol.DEFAULTS
        # (up to a pooled set's clean mark, else from the first append's grow)
        arrs = _take_streams(cap)
        if _DEATHS[0] >= _KERNEL_AFTER and not _RESET_READY[0]:
            _ready_reset(arrs)
        self.op, self.ia, self.ib, self.imm, self.val = arrs.views
        self.lim, self.cap, self._arrays = arrs.clean, cap, arrs
        self.succ = _succ(cap)
        self.shape = {}
        self.saved_bytes = 0
        self.serial = next(_serials)
        # sealed: no new graph starts here (full, or freed); ops continuing a graph that
        # lives here still append, so a graph is not split across tapes just because the
        # tape filled up.  frozen: a backward freed it; nothing is appended any more.
        self.sealed = False
        self.frozen = False
        self.leaves = {}        # node -> leaf Tensor (the graph keeps its leaves alive, as torch)
        self.leaf_of = {}       # id(leaf Tensor) -> its leaf nodes here
        self.imports = {}       # node -> (older Tape, node there)
        self.import_of = {}     # (serial, node) -> node
        self.retained = {}      # node -> weakref to a non-leaf Tensor that called retain_grad()
        # node -> weakref to its grad_fn object, made on first access (weak: a node refers
        # to its tape); what a node was given when recorded is data in fn_data (graph.py)
        self.grad_fns = {}
        self.fn_data = {}
        # the non-tensor arguments torch's node of an entry saves (dims, flags: Op.saved_args)
        # as its call gave them, for `grad_fn._saved_<name>`; None until one is kept
        self.call_args = None
        # version counters (torch's in-place checks): node -> (the tensor's counter, its
        # version when the node took its value, dtype name, shape, (tape, node) of the entry
        # that made the tensor or None).  Leaves, imports and n-d constants are entered when
        # recorded; an op's output only when it is first modified in place or viewed.
        self.versions = {}
        # the same nodes by counter and expected version: {id(counter): (counter, {version:
        # [nodes]})}, so the check scans counters, not nodes (a constant used by 1000 graphs
        # on this tape is one counter).  None until a reader needs it (watch_index builds it
        # from `versions`, then every writer keeps it): a training step's tape, made after the
        # update's bumps, never does, and its entries' groups cost ~2 us a step
        self.watched = None
        # BUMPS[0] when no entered counter had moved: none is entered yet, and each will be
        # entered at its version then, so until an in-place change anywhere (a training
        # step's tape, made after opt.step's bumps) check_versions has nothing to look at
        self.checked = BUMPS[0]
        # node whose tensor a recorded in-place op moved to a new entry -> the entry count
        # when that op was done (a view of the node used by a later entry is stale)
        self.rebased = {}
        # node read as the old value by a recorded in-place op -> (first entry recorded for
        # that op, the op's own entry): see check_versions
        self.superseded = {}
        # one-element constant tensors folded into an entry's imm (no node of their own):
        # (entry, operand bit 1 = a / 2 = b, counter, version, dtype, shape), checked as nodes
        self.folded = []
        # tensors torch's node of an entry saves that no entry reads (nll_loss's weight,
        # binary_cross_entropy_with_logits' pos_weight: the tape holds values derived from
        # them), as `folded` with operand bit 0 (always saved), checked the same way; or None
        self.unread = None
        # one-element values whose memory others may write unseen (.data, detach(), numpy()):
        # {node: (the tensor's array, its version counter, the version then)} or None;
        # refresh_shared copies each into val before a backward (the value torch's saved
        # tensor reads), while the counter has not moved
        self.shared = None
        # the tensors of `folded` by (id, version then): (tensor, [entries]); refresh_shared
        # copies one whose memory was handed out into those entries' imm, as `shared` into
        # val; folded_seen: SHARED_ARRAYS[0] when none was, -1 while one is
        self.folded_consts = None
        self.folded_seen = 0
        # entries made for a view's grad_fn made again (regenerated_view), which may fall
        # inside a decomposition's span: not members of its group (groups.mark)
        self.regenerated = None
        self.retain_moves = None
        self.read_links = None
        # SHARED_ARRAYS[0] when the leaves were last looked at: a leaf held as a number whose
        # memory is handed out later is entered in `shared` by refresh_shared
        self.leaves_seen = SHARED_ARRAYS[0]
        # record/replay (tapegrad.replay): a recording tape is never sealed by size, treats
        # every tensor but its inputs as a constant, and turns Python conversions into guards
        self.recording = recording
        self.strict = strict
        self.input_ids = set()
        self.baked = []
        self.guard_src = {}     # guard node -> "file:line: source" where the value was baked

    def __len__(self):
        return self.n

    def _resize(self, cap, grown=True):
        new = _take_streams(cap, grown)
        cap = len(new[0])   # (a pooled set may be larger)
        views = new.views
        old = self._arrays
        n = self.n
        if old is not None:
            for src, arr in zip(old, new):
                arr[:n] = src[:n]
        if self.nds is not None:   # first: the n-d streams must never be shorter than cap
            self.nds.grow(cap, n)
        # Switch to the new arrays in one statement of plain stores (no call, so no signal
        # handler runs inside it), and only then pool the old ones: an interrupt anywhere here
        # leaves this tape on one consistent set of arrays that no other tape can take (at
        # worst the new set is dropped, or the old one is not pooled).
        # (lim: the new arrays hold the defaults past n up to their `clean` mark, else only
        # once grow fills them)
        lim, old_lim = max(n, new.clean), self.lim
        if self.nds is not None:   # (grow checks an n-d tape's entries against the seal
            lim = min(lim, n + _CLEAN_AHEAD)   # every _CLEAN_AHEAD appends)
        self.succ = _succ(cap)   # (first: it covers the old cap too)
        self.op, self.ia, self.ib, self.imm, self.val, self._arrays, self.cap, self.lim = \
            views + (new, cap, lim)
        if old is not None:
            _give_streams(old, n, old_lim)

    def __del__(self):
        """Pool the stream arrays and n-d streams (each when its pool has room and it is not
        too big), their first n entries put back to a new tape's state by one kernel call
        (walks.reset_streams) once a new tape has readied it (_ready_reset: after
        _KERNEL_AFTER deaths, the kernels loaded), numpy fills until then: a destructor runs
        at any GC point (another thread, interpreter shutdown), so it must neither import the
        kernel module nor compile or load the reset kernel (seconds, or a wait for another
        process's compile); that cost is paid by loops that make many tapes, not by a short
        program's first backward or replay.  Nothing is pooled at interpreter exit."""
        try:
            arrs = self._arrays
        except AttributeError:   # (a Ctrl-C at the start of __init__, before its first line)
            return
        if arrs is None or sys.is_finalizing():
            return
        n, nds = self.n, self.nds
        # (_pool_room's first test inline: a pool with room, the usual case, costs no call)
        cap = len(arrs[0])
        keep = cap <= MAX_ENTRIES and (len(_POOL) < _POOL_MAX or
                                       _pool_room(_POOL, _streams_cap, cap))
        keep_nd = nds is not None and len(nds.size) <= _ND_POOL_CAP and (
            len(_ND_POOL) < _POOL_MAX or _pool_room(_ND_POOL, _nd_cap, len(nds.size)))
        cleaned = False
        if n and (keep or keep_nd) and _RESET_READY[0]:
            K.reset_streams(arrs[2], arrs[3], arrs[5], n if keep else 0,
                            *((nds.ints, nds.shp, nds.nsaved, nds.host) if keep_nd else _NO_ROWS),
                            n if keep_nd else 0)
            cleaned = True
        elif _DEATHS[0] < _KERNEL_AFTER:
            _DEATHS[0] += 1
        if keep:
            if n and not cleaned:
                clear_cells(arrs, 0, n)
                arrs[5][:n] = 0
            arrs.clean = max(n, self.lim)
            _POOL.append(arrs)      # last: an interrupt in the cleaning only loses this set
        if keep_nd:
            nds.reset(n, rows=not cleaned)
            _ND_POOL.append(nds)    # (the same)

    def grow(self):
        """Called by every append when n reaches lim: when full, double (past MAX_ENTRIES also
        seal: new graphs go elsewhere); then put protocol.DEFAULTS into the next cells."""
        n = self.n
        if n >= self.cap:
            if self.cap >= MAX_ENTRIES and not self.recording:
                self.sealed = True
            # (a scalar tape takes the largest pooled set; an n-d one its own capacity: its
            # n-d streams are made as long)
            self._resize(2 * self.cap, grown=self.nds is None)
        # (graphs of n-d ops that save little or nothing: their entries alone reach the
        # budget; checked here, every _CLEAN_AHEAD appends, not per append)
        if self.nds is not None and self.saved_bytes + ENTRY_BYTES * n > MAX_SAVED_BYTES \
                and not self.recording:
            self.sealed = True
        if self.lim > n:   # (arrays from the pool, clean past n already: _resize set lim)
            return
        hi = min(n + _CLEAN_AHEAD, self.cap)
        if self._arrays.clean >= hi:   # (a pooled set holding the defaults up to hi already)
            self.lim = hi
            return
        clear_cells(self._arrays, n, hi)
        self.lim = hi   # after the fill: an interrupt before this leaves lim lower (safe)

    @property
    def freed(self):
        """uint8 per entry: 1 once a backward without retain_graph released its buffers."""
        return self._arrays[5]

    # -- appending ----------------------------------------------------------------------------
    # push(op, a, b, c, v, shape=None): append one entry (`shape` only for nodes with more
    # than one element); rendered from tapegrad/protocol.py by codegen, as every writer of entries
    push = _push.push
    # push_nd(op, a, b, c, shape, size): an n-d op's entry and its shape in one call (ndops)
    push_nd = _push.push_nd
    # push_input_nd(op, shape, size): push_nd(op, -1, -1, 0.0, shape, size) of a leaf or const
    # entry, its default cells not stored again
    push_input_nd = _push.push_input_nd
    # push_input(op, v): push(op, -1, -1, 0.0, v) of a leaf or import holding Python float v
    push_input = _push.push_input

    def clear_cells(self, lo, hi):
        """Put protocol.DEFAULTS back into cells lo..hi-1 (past the count: not published)."""
        clear_cells(self._arrays, lo, hi)

    def nd_streams(self):
        nds = self.nds
        if nds is None:
            if self.cap > 4 * max(self.n, 1024):
                # a scalar tape that grew onto a large pooled set (_take_streams): its n-d
                # streams, as long as its arrays, are made for the capacity doubling gives
                # (a 1500-entry prefix: 2048, not the 65536 a long graph left, 7.5 MB)
                cap = 1024
                while cap <= self.n:
                    cap *= 2
                self._resize(cap, grown=False)
            nds = self.nds = _take_nd(self.cap)
            # (from now on grow checks the entries against the seal every _CLEAN_AHEAD appends)
            self.lim = min(self.lim, self.n + _CLEAN_AHEAD)
            # every entry before this call's (the newest, or the next) is one-element, and
            # its n-d streams keep their defaults: n-d facts are written for new entries only
            nds.plain = max(self.n - 1, 0)
        return nds

    def save(self, node, arr):
        """Keep an n-d value that a backward will read (one count per saving entry), by
        reference: a change through `.data` is seen by backward, as in torch.  Saved data of
        graphs dropped without backward stays until the tape goes, so a tape that holds much
        of it is sealed: the next op starts a new one (only what the tape computed counts)."""
        if node in self.shape:   # (n-d nodes only; no constant's -1 is a key)
            if self.snapshot:   # (save_on_cpu(pin_memory=True): torch's packed copy)
                arr = arr.copy()
            nds = self.nds
            cells = nds._cells
            slots = cells[5]
            s = slots[node]
            if s >= 0:   # (a later saver of the node)
                nds.objs[s] = arr
                cells[6][node] += 1
                return
            code = self.op[node]
            if code not in _BORROWED_CODES and (code != OP_CONST or self._first_const(arr)):
                held = self.saved_bytes = self.saved_bytes + arr.nbytes
                if held + ENTRY_BYTES * self.n > MAX_SAVED_BYTES and not self.recording:
                    self.sealed = True
            s = nds.nobjs   # (new_slot, inline: in a training step every save is a first)
            if s == len(nds.objs):
                s = nds.new_slot(node)
            else:
                slots[node] = s
                nds.nobjs = s + 1
            nds.objs[s] = arr
            cells[6][node] = 1   # (its first saver: a node without a slot has none)

    def hold(self, nbytes):
        """Count `nbytes` of data the tape keeps alive outside its streams (what a custom
        Function's ctx holds) toward MAX_SAVED_BYTES, as save counts a saved array: a loop of
        graphs dropped without backward then does not keep them all until 65,536 entries."""
        self.saved_bytes += nbytes
        held = self.saved_bytes + (ENTRY_BYTES * self.n if self.nds is not None else 0)
        if held > MAX_SAVED_BYTES and not self.recording:
            self.sealed = True

    def _first_const(self, arr):
        """Whether `arr`, saved for a constant node, is new to this tape (counted once: the
        tape holds it, so its id is not reused meanwhile)."""
        seen = self.const_arrays
        if seen is None:
            seen = self.const_arrays = set()
        key = id(arr)
        if key in seen:
            return False
        seen.add(key)
        return True

    def saved_array(self, node):
        """The n-d value saved for `node`, or None (never saved, or released)."""
        nds = self.nds
        if nds is None or node >= len(nds.slot) or nds.slot[node] < 0:
            return None
        return nds.objs[nds.slot[node]]

    def read_as(self, node, src):
        """What the entries reading `node` read of it is `src`'s value from now on: src's saved
        n-d array (the same memory), or for one element, src's shared array, followed before
        each backward as src's is (refresh_shared).  The node's own value is unchanged."""
        nds = self.nds
        if node in self.shape:
            if nds.slot[node] >= 0 and nds.slot[src] >= 0:
                nds.objs[nds.slot[node]] = nds.objs[nds.slot[src]]
        elif self.shared is not None and src in self.shared:
            self.shared[node] = self.shared[src]
        elif not self.recording:   # (src's memory may be handed out later: share follows)
            if self.read_links is None:
                self.read_links = {}
            self.read_links.setdefault(src, []).append(node)

    def add_params(self, n, values):
        """Entry n's integer params (shape, strides, indices...), appended with one copy.
        They count towards MAX_SAVED_BYTES as saved data does: a gather's positions are as
        large as its output, and dropped graphs' stay until their tape goes."""
        nds = self.nds or self.nd_streams()
        if type(values) is list and len(values) <= 48:
            try:   # (a short list of ints: stored without a numpy conversion)
                nds.add_param_ints(n, values)
            except TypeError:   # (a float among them: numpy's cast, as before; the count
                nds.add_params(n, values)   # was not moved, what was stored is overwritten)
        else:
            nds.add_params(n, values)
        self._hold_params(int(nds._cells[4][n]))

    def param_space(self, n, k):
        """Entry n's k integer params as an int64 array for the caller to fill (add_params for
        params made by numpy arithmetic: computed in place, no temporary and no copy)."""
        nds = self.nds or self.nd_streams()
        space = nds.reserve_params(n, k)
        self._hold_params(k)
        return space

    def _hold_params(self, k):
        """k params more count towards MAX_SAVED_BYTES (add_params, param_space)."""
        self.saved_bytes += 8 * k
        if self.saved_bytes + ENTRY_BYTES * self.n > MAX_SAVED_BYTES and not self.recording:
            self.sealed = True

    def add_args(self, e, nodes):
        """Entry e's operands beyond ia/ib (its operand list is ia, ib, then these), appended
        to the CSR `arg` stream with one copy; e must be the newest entry given operands."""
        self.nd_streams().add_args(e, nodes)

    def set_cond(self, e, node):
        """where's condition of entry e: its operand 3 (the first of its `arg` list)."""
        self.nd_streams().add_arg(e, node)

    def params_of(self, e):
        """Entry e's params as an int64 array (a view)."""
        return self.nds.params_of(e)

    def set_host(self, e):
        """Entry e's VJP runs in Python between segments of the sweep (engine.HOST_VJP)."""
        self.nd_streams().host[e] = 1

    def leaf_node(self, t):
        """A `leaf` entry for leaf tensor `t`, holding its current value.  The tensor caches
        (tape serial, node) so later uses on this tape skip this call; an in-place change of
        the leaf clears that cache, so the next use records the new value in a new entry (the
        gradients of all of a leaf's entries add up).
        A one-element leaf stored in an array may change unseen: its memory is shared (.data,
        detach(), a view, numpy()), and its entry holds a copy of its value.  The entry is
        registered in `shared`, so each backward reads the array's value then, as torch's saved
        tensors read their storage: reusing it for later uses (the cache) gives their
        gradients torch's values too, whatever was written there meanwhile."""
        if self.recording:
            if id(t) not in self.input_ids:
                return self.baked_node(t)
            nodes = self.leaf_of.get(id(t))
            if nodes:   # a traced input has one entry, which a replay writes its value into
                return nodes[0]
        if NO_GRAD_VIEWS_MADE[0]:
            if getattr(t, "_flags", 0) & PENDING_VIEW:
                n = regenerate_pending_view(t, self)
                if n >= 0:
                    return n
            elif t._tape is self:   # (such a view made again for this op's other operand)
                return t._node
        if NO_GRAD_VIEWS_MADE[0] and getattr(t, "_flags", 0) & NO_GRAD_VIEW:
            refused = rebased_view_without_fn(t)
            if refused is not None:   # (torch's use reads the view's grad_fn)
                raise RuntimeError(refused)
            return self._no_grad_view_node(t)
        v = t._v
        shared = False
        if type(v) is float:   # (_push_input's case, inline: once per 0-d parameter per step)
            n = self.push_input(OP_LEAF, v)
        elif v.size == 1:
            n = self._push_input(OP_LEAF, t)
            shared = True
        else:
            n = self.push_input_nd(OP_LEAF, v.shape, v.size)
        # the version watch (_watch_new's, its lookup inline): a leaf that requires grad
        # never gets a grad_fn, so its entry names no tensor
        try:
            c = t._ver
        except AttributeError:
            c = t._ver = [0]
        else:
            if type(c) is not list:
                c = c[0]
        # (_enter, inline: once per leaf per step)
        ver = c[0]
        self.versions[n] = (c, ver, t._dtype, t._shape, None if t._recorded else weakref.ref(t))
        if self.watched is not None:
            self.watch_group(c, ver, [n])
        if shared and t._dtype.is_floating_point:
            self.share(n, v, c)
        self.leaves[n] = t
        key = id(t)
        leaf_of = self.leaf_of
        nodes = leaf_of.get(key)
        if nodes is None:
            leaf_of[key] = [n]
        else:
            nodes.append(n)
        t._lserial = self.serial
        t._lnode = n
        return n

    def _no_grad_view_node(self, t):
        """The node of a view made with grad mode off of a tensor that requires grad: torch's
        requires grad without a gradient accumulator, so what it is used in records, and the
        gradient that reaches it goes nowhere.  A constant entry holding its value (saved, its
        version watched), cached as a leaf's entry is."""
        v = t._v
        if type(v) is float or v.size == 1:
            n = self.push(OP_CONST, -1, -1, 0.0, float(np.asarray(v).reshape(-1)[0]))
        else:
            n = self.push_nd(OP_CONST, -1, -1, 0.0, v.shape, v.size)
            self.save(n, v)
        self._watch_new(n, t)
        t._lserial = self.serial
        t._lnode = n
        return n

    def import_node(self, t):
        """The node standing for non-leaf `t` of an older tape."""
        if self.recording:
            return self.baked_node(t)
        src = t._tape
        key = (src.serial, t._node)
        n = self.import_of.get(key)
        if n is not None:
            watch = self.versions.get(n)
            if watch is not None and watch[0][0] != watch[1]:
                n = None   # changed since (in place, through an alias): imported again
        if n is None:
            if WITHOUT_GRAD:
                # (a piece of unbind / split changed in place under no_grad since its tape
                # was let go: torch's error as its grad_fn is made again for this use)
                check_rebased_piece(t)
            if src.stale_view_without_grad(t._node, t):
                return self._regenerated_without_grad(t)
            if src.stale_view(t._node):
                n = self.regenerated_view(t)
                if n >= 0:
                    return n
            n = self._push_input(OP_IMPORT, t)
            self.watch(n, t)
            if type(t._v) is not float:   # (one element: its value follows the memory)
                share_storage_at(self, n, t)
            self.imports[n] = (src, t._node)
            self.import_of[key] = n
        return n

    def _regenerated_without_grad(self, t):
        """t moved to what torch makes its grad_fn again as (stale_view_without_grad): an
        as_strided gather (AsStridedBackward0) of a constant holding its value now, so the
        gradient that reaches it goes nowhere."""
        v = t._v
        if type(v) is float or v.size == 1:
            x = float(np.asarray(v).reshape(-1)[0])
            c = self.push(OP_CONST, -1, -1, 0.0, x)
            g = self.push(OP_AS_STRIDED, c, -1, 0.0, x, None)
        else:
            c = self.const_entry(t, v)
            g = self.push_nd(OP_AS_STRIDED, c, -1, 0.0, v.shape, v.size)
        self.add_params(g, np.arange(np.size(v)))
        old_tape, old_node = t._tape, t._node
        t._tape, t._node, t._lserial = self, g, 0
        self.watch(g, t)
        follow_retained(t, old_tape, old_node)
        return g

    def regenerated_view(self, t):
        """t, a view whose memory changed by an op with no entry (stale_view), moved to what
        torch makes its grad_fn again as at its next use: an as_strided gather
        (AsStridedBackward0) of its `_base`'s node now, so its later uses (and a retains-grad
        hook, moved along as torch's) no longer pass through the view it was made from: a
        retained gradient of that view gets none of theirs.  Its earlier uses keep the old
        node.  -1 (nothing done) where t's memory cannot be read as a gather of the base's."""
        base = view_base(t)
        v = t._v
        if base is None or not base._recorded or multi_view_rebased(t) is not None:
            return -1
        if type(v) is float or type(base._v) is float:
            # (a one-element base holding its value as a number: its one element)
            if np.size(v) != 1 or np.size(base._v) != 1:
                return -1
            pos = np.zeros(1, np.int64)
        else:
            pos = view_positions(base._v, v).reshape(-1)
            if pos.size and pos.min() < 0:   # (no longer in the base's memory: `.data = ...`)
                return -1
        src = input_node(self, base)
        if np.size(v) == 1:
            g = self.push(OP_AS_STRIDED, src, -1, 0.0, float(np.asarray(v).reshape(-1)[0]),
                          None)
        else:
            g = self.push_nd(OP_AS_STRIDED, src, -1, 0.0, v.shape, v.size)
        self.add_params(g, pos)
        if self.regenerated is None:
            self.regenerated = set()
        self.regenerated.add(g)
        old_tape, old_node = t._tape, getattr(t, "_node", -1)
        t._tape, t._node, t._lserial = self, g, 0
        self.watch(g, t)
        if np.size(v) == 1:
            share_storage_at(self, g, t)
        follow_retained(t, old_tape, old_node)
        return g

    def _push_input(self, op, t):
        """An input-less entry (leaf/import) standing for tensor t: its value if one element,
        its shape otherwise."""
        v = t._v
        if type(v) is float:
            return self.push_input(op, v)
        one = v.size == 1
        return self.push(op, -1, -1, 0.0, float(v.flat[0]) if one else 0.0, None if one else v.shape)

    def baked_node(self, t):
        """While recording, a tensor from outside the recorded function is a constant."""
        key = ("baked", id(t))
        n = self.import_of.get(key)
        if n is None:
            arr = np.asarray(t._array(), dtype=np.float64)
            if arr.size == 1:
                n = self.push(OP_CONST, -1, -1, 0.0, float(arr.reshape(-1)[0]))
            else:
                n = self.const_node(arr)
                self.save(n, arr)
            self.import_of[key] = n
            self.baked.append(t)  # keeps id(t) from being reused while recording
        return n

    def const_entry(self, t, arr):
        """The const entry of n-d tensor t (not recorded), value `arr`, saved once for the
        entries reading it (save: its bytes counted once per array) and its version entered."""
        n = self.push_input_nd(OP_CONST, arr.shape, arr.size)
        self.save(n, arr)
        self._watch_new(n, t)
        return n

    def const_node(self, arr):
        """An n-d operand that needs no gradient: stored once, saved for the entries reading it."""
        return self.push_input_nd(OP_CONST, arr.shape, arr.size)

    # -- version counters ---------------------------------------------------------------------
    def watch(self, node, t):
        """Enter tensor t, whose value node `node` holds, with its version now (first entry
        wins: that is the version the node's value has)."""
        if node not in self.versions:
            self._watch_new(node, t)

    def changed_constants(self):
        """Constant and leaf entries, and views of them, whose tensor was changed in place
        since it was entered, by an op this tape has no entry for (a recorded in-place op
        supersedes its operand's old entry): a replay would read one value for their uses on
        both sides of the change."""
        ops, ia = self._arrays[0], self._arrays[1]
        changed = []
        for c, by_version in self.watch_index().values():
            for v, nodes in by_version.items():
                if c[0] == v:
                    continue
                for m in nodes:
                    src = m
                    while _IS_VIEW[ops[src]] and ia[src] >= 0:
                        src = ia[src]
                    if ops[src] in _BORROWED_CONST_CODES and m not in self.superseded:
                        changed.append(m)
        return changed

    def _watch_new(self, node, t):
        """watch() of a node not entered yet (one just pushed)."""
        try:
            c = t._ver
        except AttributeError:
            c = t._ver = [0]
        else:
            if type(c) is not list:
                c = c[0]
        # the tensor itself only for naming its grad_fn in the error: a leaf that requires
        # grad never gets one (a constant can, by a recorded in-place op); _enter, inline (a
        # step's constants: its batch, its targets)
        ver = c[0]
        self.versions[node] = (c, ver, t._dtype, t._shape,
                               None if t._tape is None and t._recorded else
                               named_by(t) if NAMED_AS else weakref.ref(t))
        if self.watched is not None:
            self.watch_group(c, ver, [node])

    def _enter(self, node, c, dtype, shape, ref):
        """Watch `node`, whose value a tensor of version counter `c` holds (dtype, shape and
        a weak reference to the tensor, or None, for the error), at c's version now."""
        ver = c[0]
        self.versions[node] = (c, ver, dtype, shape, ref)
        if self.watched is not None:
            self.watch_group(c, ver, [node])

    def watch_group(self, c, ver, nodes):
        """Add `nodes`, just entered in `versions` with counter c at version ver, to their
        group of `watched` (a writer's part once the index exists: watch_index)."""
        group = self.watched.get(id(c))
        if group is None:
            self.watched[id(c)] = (c, {ver: nodes})
        else:
            had = group[1].get(ver)
            if had is None:
                group[1][ver] = nodes
            else:
                had += nodes

    def watch_index(self):
        """`watched`, built from `versions` on first use (the groups in the order their
        counters were first entered, each group's nodes in the order they were entered: as
        the writers would have made them); kept by every writer from then on."""
        watched = self.watched
        if watched is None:
            watched = self.watched = {}
            for node, w in self.versions.items():
                self.watch_group(w[0], w[1], [node])
        return watched

    def share(self, node, arr, c, ver=None):
        """Node `node` holds the one-element value stored in `arr` (of version counter `c`, at
        version `ver`, default now), which may change through an alias without a version
        bump: refresh_shared reads it."""
        if self.recording:
            return
        if self.shared is None:
            self.shared = {}
        if node not in self.shared:   # (the first: the version the node's value has)
            self.shared[node] = (arr, c, c[0] if ver is None else ver)
            if self.read_links and node in self.read_links:   # (Tape.read_as's readers)
                for reader in self.read_links.pop(node):
                    self.shared[reader] = self.shared[node]

    def refresh_shared(self):
        """Before a backward: each shared one-element node takes its array's value now, as
        torch's saved tensors read their storage at backward (a change through `.data` or
        numpy memory counts no version).  A node whose counter moved since is left alone: an
        in-place change made it stale (what saved it fails the version check; a recorded
        in-place op's own entry reads the value it had then, torch's clone).  Python per
        shared node: only tensors whose one-element memory was handed out have one."""
        if self.retain_moves:   # (what a backward collects: retained views read since)
            self.settle_retained()
        if self.leaves_seen != SHARED_ARRAYS[0]:
            self._share_leaves()
        shared = self.shared
        if shared:   # (most tapes: None, no imports and no folded constants)
            val = self.val
            for node, (arr, c, ver) in shared.items():
                if c[0] == ver and node < self.n:
                    val[node] = arr.item()
        if self.imports:
            self._refresh_imports()
        if self.hooked:
            self._refresh_hooked()
        if self.folded_consts and self.folded_seen != SHARED_ARRAYS[0]:
            # (per folded constant tensor, not per entry: one numpy store for its entries)
            seen = SHARED_ARRAYS[0]
            imm = self._arrays[3]   # (the array under the memoryview self.imm)
            for (_, ver), (t, entries) in self.folded_consts.items():
                arr = t._v
                if type(arr) is not float:
                    seen = -1
                    if version_counter(t)[0] == ver:
                        imm[np.array(entries, np.int64)] = arr.item()
            self.folded_seen = seen

    def _refresh_hooked(self):
        """refresh_shared for save_on_cpu(pin_memory=False): a one-element node that an entry
        recorded under it reads, changed in place since, takes its tensor's value now (torch's
        pack hook returned the tensor itself, whose memory its backward reads; n-d values are
        read from their memory already).  Python per changed node."""
        n = self.n
        alias = np.zeros(n, bool)
        for start, end, pin in self.hooked:   # (outermost first: an inner context decides)
            alias[start:n if end is None else end] = not pin
        if not alias.any():
            return
        read = np.zeros(n + 1, bool)   # (a -1 operand marks the slot past every node)
        read[self._arrays[1][:n][alias]] = True
        read[self._arrays[2][:n][alias]] = True
        val = self.val
        for node, w in self.versions.items():
            if node < n and read[node] and w[0][0] != w[1] and node not in self.shape:
                t = self.leaves.get(node) if w[4] is None else w[4]()
                if t is not None and t._dtype.is_floating_point and np.size(t._v) == 1:
                    val[node] = float(np.asarray(t._v).reshape(-1)[0])
        if self.folded_consts:   # (one-element constants folded into such entries)
            imm = self._arrays[3]
            for (_, ver), (t, entries) in self.folded_consts.items():
                at = [e for e in entries if e < n and alias[e]]
                if at and version_counter(t)[0] != ver:
                    imm[np.array(at, np.int64)] = float(np.asarray(t._v).reshape(-1)[0])

    def _share_leaves(self):
        """Enter in `shared` the leaf entries whose tensor was held as a number when entered
        and has an array now (its memory was handed out since), at the version the entry has.
        Python per leaf entry, only after some tensor's memory was first handed out."""
        self.leaves_seen = SHARED_ARRAYS[0]
        shared = self.shared
        for node, t in self.leaves.items():
            arr = t._v
            if type(arr) is not float and arr.size == 1 and t._dtype.is_floating_point and (
                    shared is None or node not in shared):
                watch = self.versions.get(node)
                if watch is not None:
                    self.share(node, arr, watch[0], watch[1])
                    shared = self.shared

    def _refresh_imports(self):
        """refresh_shared for import entries: a tensor imported while held as a number whose
        memory was handed out later is registered on its own tape only; the import follows
        it while the counter is where it was when imported.  Python per import entry."""
        val, versions = self.val, self.versions
        for node, (src, snode) in self.imports.items():
            while src.shared is None and src.op[snode] == OP_IMPORT:
                src, snode = src.imports[snode]
            got = src.shared.get(snode) if src.shared else None
            if got is not None:
                arr, c, _ = got
                watch = versions.get(node)
                if watch is not None and watch[0] is c and c[0] == watch[1]:
                    val[node] = arr.item()

    def settle(self, node):
        """A recorded in-place op is about to overwrite the memory node `node` shares: the node
        keeps the value it has now (what the op's entry reads) and stops following it."""
        shared = self.shared
        if shared and node in shared:
            arr, c, ver = shared.pop(node)
            if c[0] == ver:
                self.val[node] = arr.item()

    def watch_folded(self, e, t, bit):
        """Entry e (about to be pushed, or just pushed) folds one-element constant tensor t
        into its imm as operand a (bit 1) or b (bit 2): a later in-place change of t is an
        error at backward if the entry saves that operand, as torch."""
        c = version_counter(t)
        self.folded.append((e, bit, c, c[0], t._dtype, t._shape))
        if self.folded_consts is None:
            self.folded_consts = {}
        key = (id(t), c[0])
        group = self.folded_consts.get(key)
        if group is None:
            self.folded_consts[key] = (t, [e])
        else:
            group[1].append(e)
        if type(t._v) is not float:   # its memory may be shared already
            self.folded_seen = -1

    def watch_unread(self, e, t):
        """Entry e stands for a torch node that saves tensor t, which the tape does not
        read: a later in-place change of t is an error at a backward that runs e, as torch."""
        c = version_counter(t)
        if self.unread is None:
            self.unread = []
        # (and what names it in the error: unread_named; a constant can get a grad_fn, by a
        # recorded in-place op, x.clamp_(lo, x))
        self.unread.append((e, 0, c, c[0], t._dtype, t._shape,
                            (named_by(t), t._node if t._tape is self else -1)))

    def unread_named(self, named):
        """The tensor whose grad_fn torch's error names for a watch_unread tensor (`named`:
        its weak reference and node): the tensor, or once
        dead, for an alias internal to a group (views.apart's of self given as an argument
        too: x.clamp_(lo, x)), the tensor it aliases, which torch saved."""
        t = named[0]()
        if t is None and named[1] >= 0 and groups.is_internal(self, named[1]):
            t = self.alias_source(named[1])
        return t

    def unfold_self(self, e, t):
        """Entry e, a recorded in-place op on one-element constant t folded into it as operand
        a, reads its own copy of t's old value (torch saves a clone of the original self):
        no check of that operand (as `superseded` for a node); t given as operand b too
        (t.mul_(t)) is still checked.  Its records are the newest: a look from the end."""
        folded, c = self.folded, version_counter(t)
        for k in range(len(folded) - 1, -1, -1):
            f = folded[k]
            if f[0] < e:
                break
            if f[0] == e and f[1] == 1 and f[2] is c:
                del folded[k]

    def folded_tensor(self, e, version):
        """The tensor whose grad_fn torch's error names for a one-element constant folded into
        entry e at `version` (folded_consts keeps it; named_by), or None.  Python per folded
        constant: for the error only."""
        for (_, ver), (t, entries) in (self.folded_consts or {}).items():
            if ver == version and e in entries:
                return named_by(t)()
        return None

    def alias_source(self, node):
        """For an alias entry (row alias: views.apart's, decomps.distinct's), the tensor it
        aliases while that lives, else None."""
        if self.op[node] != _ALIAS:
            return None
        src = self.versions.get(int(self.ia[node]))
        return src[4]() if src is not None and src[4] is not None else None

    def _stale_unsaved(self, stale, n):
        """Whether no entry among the first n saves a `stale` node (changed in place since it
        was recorded) in a role it reads, nor is such a node saving its own output: then the
        full check below finds nothing.  It looks only at the entries reading a stale node and
        the stale entries themselves, in Python (a few: an `add_` on a product, batch_first's
        `transpose_`; a training step's backward paid ~180 us for the full check's tables over
        every entry); any of them in a decomposition group, or a view of a node an in-place op
        rebased (`rebased`), defers to the full check."""
        ops = self._arrays[0]
        ia, ib = self._arrays[1][:n], self._arrays[2][:n]
        if self.rebased:
            moved = list(self.rebased)
            rebased = np.zeros(max(n, max(moved) + 1) + 1, bool)   # (a -1 reads the last slot)
            rebased[moved] = True
            for e in np.flatnonzero(rebased[ia]).tolist():
                if _IS_VIEW[ops[e]]:
                    return False
        cond = self.first_args(n)
        changed = np.zeros(n + 1, bool)
        changed[stale] = True
        g = self.groups
        glen = 0 if g is None else len(g.first)
        readers = np.flatnonzero(changed[ia] | changed[ib] | changed[cond])
        if len(readers) + len(stale) > _STALE_LOOK_MAX:   # (many: the full check's numpy passes)
            return False
        # (the full check's masks, entry by entry: _NEEDS by which operands are differentiable)
        for e in readers.tolist() + stale:
            if e < glen and g.first[e] >= 0:
                return False
            a, b, c = int(ia[e]), int(ib[e]), int(cond[e])
            da = a >= 0 and _DIFFERENTIABLE[ops[a]]
            db = b >= 0 and _DIFFERENTIABLE[ops[b]]
            mask = int(_NEEDS[ops[e], 0 if da and not db else 1 if db and not da else 2])
            if (mask & 1 and a >= 0 and changed[a] or mask & 2 and b >= 0 and changed[b]
                    or mask & 4 and changed[e] or mask & 8 and c >= 0 and changed[c]):
                return False
        return True

    def check_versions(self, n, ran=None, roots=None):
        """Raise torch's error if an entry among the first n that a backward runs (`ran`, or
        the entries reached from `roots`) saved a value that was changed in place since."""
        if not self.versions and not self.folded and not self.unread or \
                self.checked == BUMPS[0]:
            return
        seen = BUMPS[0]
        stale = [m for c, by_version in self.watch_index().values()
                 for v, nodes in by_version.items()
                 if c[0] != v for m in nodes]
        refolded = [f for f in (self.folded + self.unread if self.unread else self.folded)
                    if f[2][0] != f[3]]
        if not stale and not refolded:   # (none anywhere: `checked` holds for every n)
            self.checked = seen
            return
        stale = [m for m in stale if m < n]
        refolded = [f for f in refolded if f[0] < n]
        if not stale and not refolded:
            return
        if not refolded and not REFUSED_VIEWS.get(self) and self._stale_unsaved(stale, n):
            return
        if ran is None:
            ran = self.reached(roots, n)
        ops = self._arrays[0][:n]
        ia, ib = self.dependencies(n)[:2]
        cond = self.first_args(n)
        da = (ia >= 0) & _DIFFERENTIABLE[ops[np.maximum(ia, 0)]]
        db = (ib >= 0) & _DIFFERENTIABLE[ops[np.maximum(ib, 0)]]
        mask = _NEEDS[ops, np.where(da & ~db, 0, np.where(db & ~da, 1, 2))]
        keys = np.array(stale, np.int64)
        idx = np.arange(n)
        # changed[node]: a table lookup per operand stream (np.isin sorts; one slot past n, which
        # the -1 of an absent operand reads, stays False)
        changed = np.zeros(n + 1, bool)
        changed[keys] = True
        roles = [((mask & 1) != 0) & changed[ia], ((mask & 2) != 0) & changed[ib],
                 ((mask & 4) != 0) & changed[:n], ((mask & 8) != 0) & changed[cond]]
        # a decomposition's output entry checks what torch's node saves: its result, self and
        # other (graph.group_saved_inputs), which the primitives may not read
        g = self.groups
        ga = gb = None
        if g is not None:
            m = min(n, len(g.row))
            rows = np.asarray(g.row[:m], np.int64)
            outs = rows >= 0
            roles[2][:m] |= outs & _ROW_SAVES_OUT[rows] & changed[:m]
            first = np.asarray(g.first[:m], np.int64)
            # the groups one of whose members reads a changed node (Python per such group)
            touched = (first >= 0) & (changed[ia[:m]] | changed[ib[:m]] | changed[cond[:m]])
            if touched.any():
                ga = np.full(n, -1, np.int64)
                gb = np.full(n, -1, np.int64)
                hit_groups = np.zeros(m + 1, bool)   # (by group; a -1 reads the last slot)
                hit_groups[first[touched]] = True
                at = np.flatnonzero(outs & _ROW_SAVES_IN[rows] & hit_groups[first])
                for e in at.tolist():
                    ga[e], gb[e] = group_saved_inputs(self, e, needed=True, changed=changed)
        if ga is None:
            ga = gb = np.full(n, -1, np.int64)
            roles += [np.zeros(n, bool)] * 2
        else:
            roles += [changed[ga], changed[gb]]
        # A value replaced by a recorded in-place op: the entries recorded from then on (the
        # op's own, and what create_graph derives from them) read their own copy of it, as
        # torch saves a clone of the original self; but the op's other operand is saved by
        # reference, so `y.mul_(y)` is caught as in torch.
        grouped = roles[4].any() or roles[5].any()
        for m, (start, own) in self.superseded.items():
            w = self.versions.get(m)
            if m < n and w is not None and w[0][0] != w[1]:
                later = idx >= start
                roles[0] &= ~(later & (ia == m))
                roles[1] &= ~(later & (ib == m) & (idx != own))
                roles[3] &= ~(later & (cond == m))
                if grouped:
                    roles[4] &= ~(later & (ga == m))
                    roles[5] &= ~(later & (gb == m) & (idx != own))
        live = (ran[:n] != 0) & (self._arrays[5][:n] == 0)
        if self.hooked:   # (what they saved is their hooks' packed value: nothing to check)
            live &= ~self.hooked_entries(n)
        hit = (roles[0] | roles[1] | roles[2] | roles[3] | roles[4] | roles[5]) & live
        # A view taken before a recorded in-place op on its base and used after it: the views
        # tapegrad knows of are regenerated from the base's new node (copyslices.py), as torch
        # does; a use of one it could not regenerate is refused rather than differentiated
        # through the view's old graph.  Uses recorded during the op itself read the value
        # before the change and are fine.
        refused = REFUSED_VIEWS.get(self)
        if refused:
            # a view torch refuses to regenerate (unbind's piece) read by an entry recorded
            # after its base changed: torch's error (torch raises at the use itself)
            nodes = np.array(list(refused), np.int64)
            since = np.array([refused[m][0] for m in nodes.tolist()], np.int64)
            after = np.full(n + 1, n, np.int64)
            after[nodes[nodes < n]] = since[nodes < n]
            reads = np.zeros(n, bool)
            for src in (ia, ib, cond):
                reads |= (src >= 0) & (idx >= after[src])
            reads &= live
            if reads.any():
                e = int(np.flatnonzero(reads)[-1])
                src = next(int(s[e]) for s in (ia, ib, cond) if s[e] >= 0 and e >= after[s[e]])
                raise RuntimeError(refused[src][1])
        if self.rebased:
            moved = np.array(sorted(self.rebased), np.int64)
            ends = np.array([self.rebased[m] for m in moved.tolist()], np.int64)
            # (tables, not np.isin: a -1 operand reads the slot past every node, False)
            rebased = np.zeros(max(n, int(moved[-1]) + 1) + 1, bool)
            rebased[moved] = True
            is_view = _IS_VIEW[ops] & rebased[ia]
            end_of = np.full(n, n, np.int64)
            at = np.flatnonzero(is_view)
            end_of[at] = ends[np.searchsorted(moved, ia[at])]
            views = np.zeros(n, bool)
            for src in (ia, ib, cond):
                s = np.maximum(src, 0)
                views |= (src >= 0) & is_view[s] & (idx >= end_of[s])
            views &= live
            if views.any() and (not hit.any() or np.flatnonzero(views)[-1] > np.flatnonzero(hit)[-1]):
                raise NotImplementedError(
                    "a view of a tensor that was changed by an in-place operation recorded "
                    "afterwards is used in this backward: torch rebases such views onto the "
                    "new graph, which tapegrad does not implement yet")
        folded_at = -1
        for f in refolded:   # the newest folded constant whose entry runs and saves it (live:
            # not one recorded under saved-tensor hooks)
            if live[f[0]] and (mask[f[0]] & f[1] or not f[1]) and f[0] > folded_at:
                folded_at, folded = f[0], f
        if folded_at >= 0 and (not hit.any() or folded_at > np.flatnonzero(hit)[-1]):
            _, _, c, expected, dtype, shape = folded[:6]
            # (a saved tensor no entry reads, watch_unread: named by its grad_fn now, as
            # torch's saved input; a folded constant has none)
            t = self.unread_named(folded[6]) if len(folded) > 6 else \
                self.folded_tensor(folded_at, expected)
            made = ""
            if t is not None:   # (its type: a cast copy's stands for it, NAMED_AS)
                dtype, shape = t._dtype, t._shape
                made = output_of(t.grad_fn)
            err = RuntimeError(version_message(dtype, shape, made, c[0], expected))
            err.entry = folded_at
            raise err
        if not hit.any():
            return
        e = int(np.flatnonzero(hit)[-1])   # the sweep meets the newest such entry first
        srcs = (ia, ib, idx, cond, ga, gb)
        # (an entry of a decomposition: its operands are not the node's named inputs; torch's
        # node unpacks self, other, then result)
        grouped = g is not None and e < len(g.first) and g.first[e] >= 0
        b_first = _B_FIRST[ops[e]] and not grouped
        node, out = next((int(srcs[k][e]), k == 2) for k in (
            (4, 5, 2, 0, 1, 3) if grouped else (1, 0, 2, 3) if b_first else (0, 1, 2, 3))
            if roles[k][e])
        err = RuntimeError(self.version_error(node, out))
        err.entry = e     # the entry whose saved value changed (anomaly mode names its stack)
        raise err

    def hooked_entries(self, n):
        """bool per entry among the first n: recorded under saved-tensor hooks (save_on_cpu),
        whose saved values torch's backward takes from the hooks, not version-checked."""
        mask = np.zeros(n, bool)
        for start, end, _ in self.hooked:
            mask[start:n if end is None else end] = True
        return mask

    def version_error(self, node, saved_output=False):
        c, expected, dtype, shape, ref = self.versions[node]
        # torch names the entry for a saved output, else the tensor's grad_fn as it is now
        fn = None
        if saved_output:
            fn = node_for(self, node)
        else:
            t = ref() if ref is not None else None
            if t is None and groups.is_internal(self, node):
                # (decomps.distinct's alias of a tensor given twice, dead with its group's
                # body: torch saved the tensor itself)
                t = self.alias_source(node)
            if t is None or t._tape is self and t._node == node:
                # a piece of unbind / split still on the entry that saw its old value: torch
                # refuses to make its grad_fn again (as the saved input's grad_fn is unpacked;
                # torch's node keeps the piece alive, here the entry tells once it is gone)
                rebased = multi_view_rebased(t) if t is not None else self._rebased_piece(node)
                if rebased is not None:
                    return rebased
            if t is not None:
                fn = t.grad_fn
                # torch's saved input is the tensor: its sizes now (t_()), its type (a cast
                # copy read in its place stands for it: NAMED_AS)
                dtype, shape = t._dtype, t._shape
            if (t is None or fn is not None and t._tape is self and t._node == node) \
                    and self._differentiable_view(node):
                # a view (linear's w.t()) still on the entry that saw its old value: torch
                # makes a view's grad_fn again (AsStridedBackward0) once the version of its
                # memory moved on, under no_grad too (an optimizer's step)
                fn = _REGENERATED_VIEW
            elif t is None and self.op[node] == _TO_COPY and \
                    self._differentiable_view(int(self.ia[node])):
                # (read_as_saved's cast copy of a view, which died with its statement:
                # a[1:].mul_(b[1:].double()); torch's node kept the view, made again)
                fn = _REGENERATED_VIEW
        return version_message(dtype, shape, output_of(fn), c[0], expected)

    def _rebased_piece(self, node):
        """multi_view_rebased's message for entry `node`, whose tensor is gone: a piece of
        unbind / split (an output entry of one), or a view of one made by view ops (which
        inherits MULTI_OUTPUT_NODE: torch names the view's own op, output 0); else None."""
        e = node
        while True:
            op = self.op[e]
            if op == OUTPUT_CODE:
                src = int(self.ia[e])
                if src < 0 or self.op[src] not in _MULTI_VIEW_CODES:
                    return None
                return _rebased_message(BY_CODE[self.op[src]].grad_fn, int(self.imm[e])) \
                    if e == node else _rebased_message(BY_CODE[self.op[node]].grad_fn, 0)
            if not _IS_VIEW[op] or self.ia[e] < 0:
                return None
            e = int(self.ia[e])

    def _differentiable_view(self, node):
        """Whether entry `node` is a view of a tensor that requires grad."""
        return bool(_IS_VIEW[self.op[node]]) and self.op[self.view_source(node)] != OP_CONST

    def stale_view_without_grad(self, node, t):
        """Whether view t, on entry `node` of this tape, changed since by an op with no entry
        (under no_grad, through detach()), and its torch `_base` does not require grad: t
        requires grad only through a view that was made a leaf (`x = base[1:];
        x.requires_grad_(); t = x[1:]`, or of `w.detach()`).  torch then makes t's grad_fn
        again from that base: AsStridedBackward0 with no edge, the gradient goes nowhere."""
        w = self.versions.get(node)
        if w is None or w[1] == w[0][0] or not self._differentiable_view(node):
            return False
        base = view_base(t)
        return base is not None and not base._recorded

    def stale_view(self, node):
        """Whether entry `node` is a view of a tensor that requires grad whose memory changed
        since by an op with no entry (under no_grad, through detach()): torch makes its
        grad_fn again at its next use (graph.shown_node shows that one meanwhile)."""
        w = self.versions.get(node)
        return w is not None and w[1] != w[0][0] and self._differentiable_view(node) and \
            groups.row_at(self, node) < 0

    def view_source(self, node):
        """The entry `node`'s chain of view entries starts from (torch's `_base`)."""
        src = node
        while _IS_VIEW[self.op[src]] and self.ia[src] >= 0:
            src = int(self.ia[src])
        return src

    # -- lifetimes ----------------------------------------------------------------------------
    def seal(self):
        """After a backward that freed its buffers: no entry may be added any more."""
        self.sealed = self.frozen = True
        if STATE.tape is self:  # let it go now, not at this thread's next op
            STATE.tape = CLOSED
        if STATE.parked is self:
            STATE.parked = CLOSED

    def release(self, ran, arrays=None):
        """Free the saved buffers of the entries a backward without retain_graph ran (`ran`:
        uint8 per entry): mark those that save something freed, and drop an n-d saved array
        once no unfreed entry needs it (one kernel pass).  One-element values live in `val`
        and go with the tape.  `arrays`: the sweep's SweepArrays (its operand streams, not
        sliced again), or None."""
        a = self._arrays
        n = len(ran)
        nds = self.nds
        if self.groups is not None and self.groups.quiet:
            ran = np.where(groups.quiet_members(self, n), np.uint8(0), ran)
        if nds is None:  # nothing saved by reference: only the freed flags
            # (three numpy passes: release_saved's walk of the operands' slots, which this
            # tape has none of, was ~100 of a 40k-entry scalar graph's ~700 us backward)
            marks = _SAVES_ANY.take(a[0][:n])   # (take: ~5x a fancy index here)
            np.logical_and(marks, ran, out=marks)
            freed = a[5][:n]
            freed |= marks.view(np.uint8)
            return
        if arrays is None or arrays.streams is not a:
            # (a tape that grew since gave its old stream arrays to the pool: sliced anew)
            op, ia, ib, freed = a[0][:n], a[1][:n], a[2][:n], a[5][:n]
            arg_ptr, arg = nds.operands(n)
        else:   # (read only, and fixed below n; the freed flags: the tape's current array)
            op, ia, ib, arg_ptr, arg, freed = arrays.op, arrays.ia, arrays.ib, \
                arrays.arg_ptr, arrays.arg, arrays.freed
        dead = nds.dead_space(n * 3 + len(arg))
        k = K.release_saved(ran, op, ia, ib, arg_ptr, arg, _SAVES, freed, nds.slot,
                            nds.nsaved, dead)
        if k:
            nds.objs[dead[:k]] = None

    def release_entries(self, entries):
        """release for the entries listed in `entries` (int64; a backward's reached entries
        of a tape with n-d streams): one kernel pass over them, not over the tape."""
        a = self._arrays
        nds = self.nds
        n = int(entries[-1]) + 1 if len(entries) else 0
        if self.groups is not None and self.groups.quiet:
            entries = entries[~groups.quiet_members(self, n)[entries]]
        arg_ptr, arg = nds.operands(n)
        dead = np.empty(3 * len(entries) + len(arg), np.int64)
        k = K.release_listed(entries, a[0], a[1], a[2], arg_ptr, arg, _SAVES, a[5], nds.slot,
                             nds.nsaved, dead)
        if k:
            nds.objs[dead[:k]] = None

    def freed_since_entries(self, entries):
        """freed_since for the entries listed in `entries`."""
        a = self._arrays
        return bool(K.any_freed_listed(entries, a[0], _SAVES, a[5]))

    def freed_since(self, ran):
        """Whether an entry marked in `ran` that saves something has been freed (by another
        thread's backward since this one swept)."""
        a = self._arrays
        n = len(ran)
        return bool(K.any_freed(ran, a[0][:n], _SAVES, a[5][:n]))

    # -- numpy views for the sweep ------------------------------------------------------------
    def streams(self, n):
        """(op, ia, ib, imm, freed) for the first n entries: views, no copy."""
        a = self._arrays
        return a[0][:n], a[1][:n], a[2][:n], a[3][:n], a[5][:n]

    def sweep_arrays(self, n, roots, host=True, runs=None):
        """What a reverse sweep of the first n entries from `roots` reads and writes, made in
        one pass (a SweepArrays): the streams, the arena layout (`off`: walks.arena_layout,
        one kernel pass), the value arena filled, the adjoint arena zeroed, and the sweep's
        reach flags.  With `host` False (a sweep that does not pause)
        every saved value is copied in.  `runs` (uint8 per entry, or None: all, as on a tape
        without n-d streams): the entries whose VJP the sweep runs (walks.arena_layout).  Only the nodes a gradient from `roots` can reach get
        arena space, saved n-d values last (_joined: a slice store each), so the cost follows the
        reached graph, not the tape prefix (graphs dropped without backward cost nothing
        here).  The arenas are scratch buffers (`bufs`): scratch.give them back when done.
        The reach flags are all 0: the caller marks the roots as it seeds them."""
        a = self._arrays
        s = SweepArrays()
        s.streams = a
        _, s.op, s.ia, s.ib, s.imm, val, s.freed = _prefix_views(a, n)
        nds = self.nds
        if nds is None:  # all one-element nodes: node i sits at offset i, valued in `val`
            views = _SCALAR_VIEWS.get(n)
            if views is None:
                views = _scalar_views(n)
            s.off, s.size, s.nd, s.par, s.arg_ptr, s.host = views
            s.shp, s.params, s.arg = _NO_SHAPES, _NO_PARAMS, _NO_ARGS
            s.vals, s.low, s.marks = val, 0, None
            buf = scratch.take(n)
            s.bufs, s.adj = [buf], buf[:n]
            s.adj[:] = 0.0
            s.reach = np.zeros(n, np.uint8)
            return s
        return nds.sweep_arrays(s, n, roots, val, host, host_direct(self),
                                _ALL_RUN if runs is None else runs)

    def dependencies(self, n):
        """(ia, ib, arg_ptr, arg) of the first n entries (views): every entry's operand
        list, ia, ib and then arg[arg_ptr[e]:arg_ptr[e + 1]] (arg_ptr has n + 1 items).  What
        the liveness kernels walk."""
        if self.nds is None:
            return self._arrays[1][:n], self._arrays[2][:n], _const_fill(n + 1, 0), _NO_ARGS
        return (self._arrays[1][:n], self._arrays[2][:n]) + self.nds.operands(n)

    def first_args(self, n):
        """int64 per entry (first n): its first operand beyond ia/ib (where's condition), -1
        where it has none."""
        if self.nds is None:     # (no operand lists at all)
            return _const_fill(n, -1)
        _, _, arg_ptr, arg = self.dependencies(n)
        has = arg_ptr[1:] > arg_ptr[:-1]
        return np.where(has, arg[np.where(has, arg_ptr[:-1], 0)] if len(arg) else -1, -1)

    def read_since(self, node):
        """Whether an entry recorded after `node` reads it."""
        n, lo = self.n, node + 1
        ia, ib, arg_ptr, arg = self.dependencies(n)
        return bool((ia[lo:] == node).any() or (ib[lo:] == node).any() or
                    len(arg) and (arg[arg_ptr[lo]:arg_ptr[n]] == node).any())

    def settle_retained(self):
        """Before a backward: the retains-grad hooks of views made again (defer_retained)
        whose new node an entry reads since move there, as torch's use moved them."""
        moves = self.retain_moves
        for node, hooked in list(moves.items()):
            ref = self.retained.get(hooked)
            if ref is None or ref() is None:
                del moves[node]
            elif self.read_since(node):
                del moves[node], self.retained[hooked]
                self.retained[node] = ref

    def args_of(self, e):
        """Entry e's operands beyond ia/ib as an int64 array (a view; empty for none)."""
        if self.nds is None:
            return _NO_ARGS[:0]
        return self.nds.args_of(e)

    def reached(self, roots, n):
        """uint8 per entry (first n): 1 where a gradient from `roots` can arrive."""
        reach = np.zeros(n, np.uint8)
        reach[np.asarray(roots, np.int64)] = 1
        K.mark_live(*self.dependencies(n), reach)
        return reach

    def host_flags(self, n):
        """uint8 per entry: 1 where the sweep pauses for a Python VJP."""
        if self.nds is None:
            return _const_zeros8(n)
        return self.nds.host[:n]


# NdStreams of dead tapes, reset to a new tape's state, kept for the next tapes (the same
# rules as _POOL): a training loop makes a tape with n-d streams per step, and copying in
# their initial arrays (and their memoryviews) was half of a new tape's fixed cost.  Only
# small capacities are kept: a reset costs O(entries written), a copy O(capacity).
_ND_POOL = []
_ND_POOL_CAP = 4096


def _take_nd(cap):
    nds = None
    try:
        nds = _ND_POOL.pop()   # atomic: the usual case, as _take_streams
    except IndexError:
        pass
    if nds is not None and len(nds.size) != cap:
        _ND_POOL.append(nds)
        nds = _pool_take(_ND_POOL, lambda nds: len(nds.size) == cap)
    return nds if nds is not None else NdStreams(cap)


# Tape.__del__ resets pooled arrays with numpy until this many tapes have died (counted in
# _DEATHS, a list: no global statement; a lost update under threads only delays the switch)
# and the next new tape has readied walks.reset_streams (_RESET_READY), then with that kernel
# (compiled ~1 s with an empty Numba cache, then 2.5x cheaper per dead tape than the eight
# numpy fills)
_KERNEL_AFTER = 64
_DEATHS = [0]
_RESET_READY = [False]


def _ready_reset(arrs):
    """Compile (or load from the cache) walks.reset_streams for the types Tape.__del__ calls
    it with (`arrs`: a tape's stream arrays; the n-d rows' types are _NO_ROWS'), here, where a
    new tape is made, not in a destructor; then let __del__ use it.  Nothing before the kernel
    module is loaded (its first import is a backward's or a replay's to pay)."""
    if loaded():
        K.reset_streams(arrs[2], arrs[3], arrs[5], 0, *_NO_ROWS, 0)   # (resets nothing)
        _RESET_READY[0] = True

# reset_streams' n-d rows when it resets only a tape's stream arrays (never written)
_NO_ROWS = (np.ones((6, 1), np.int64), np.ones((1, 8), np.int64), np.zeros(1, np.int32),
            np.zeros(1, np.uint8))


class NdStreams:
    """Per-node streams of a tape that holds n-d nodes, grown with the tape (numpy arrays,
    written at record time, read by the sweep as they are):

        size[i]  elements of node i (1 for one-element nodes)   nd[i], shp[i, :8]  its shape
        par[i], npar[i]  start and length of entry i's slice of `params` (-1, 0: none)
        arg_ptr[i], arg_ptr[i + 1]  entry i's operands beyond ia/ib: arg[arg_ptr[i]:arg_ptr[i+1]]
            (CSR; where's condition, cat's inputs past the second).  Entries are given
            operands in order, so arg_ptr is final up to `argn` and filled on from there when
            read (`operands`), never written per entry without operands.
        slot[i]  index of node i's saved n-d array in `objs` (-1: none)  nsaved[i]  its savers
        host[i]  1: the sweep pauses at entry i for a Python VJP (BLAS matmul)

    `plain`: the entries below it were recorded before these streams existed (Tape.nd_streams),
    so none of them has an n-d fact (size 1, no slot, host flag or operand list): the
    layout reads none of those streams for them (walks.arena_layout).  Slots, shapes,
    operand lists and host flags are written for the entry being recorded only (a slot for a
    node with a shape), never for one recorded before.
    """
    __slots__ = ("size", "nd", "shp", "par", "npar", "slot", "nsaved", "host", "ints",
                 "params", "nparams", "arg_ptr", "arg", "nargs", "argn", "objs", "nobjs", "_cells",
                 "_pmv",    # a memoryview of params (add_param_row's stores)
                 "plain",
                 "_prefix", "_work",   # sweep_arrays' kept views (rows, work buffer,
                 "_params_view",       # params, arenas)
                 "_arenas",
                 "_dead")              # release's dead slots (dead_space)

    # size, nd, par, npar, slot and arg_ptr are the rows of one int64 block (`ints`, cap + 1
    # columns; arg_ptr is the full row), so a reset for the next tape is one broadcast store
    _INT_FILL = np.array([1, 0, -1, 0, -1, 0], np.int64)[:, None]
    _blank = {}   # cap -> the streams' initial arrays: a new tape copies them (C memcpy)

    def __init__(self, cap):
        blank = NdStreams._blank.get(cap)
        if blank is None:
            ints = np.empty((6, cap + 1), np.int64)
            ints[:] = NdStreams._INT_FILL
            blank = NdStreams._blank[cap] = (ints, np.ones((cap, 8), np.int64),
                                             np.zeros(cap, np.int32), np.zeros(cap, np.uint8))
        self.ints, self.shp, self.nsaved, self.host = (a.copy() for a in blank)
        self.params = np.zeros(256, np.int64)
        self._pmv = memoryview(self.params)
        self.nparams = 0
        self.arg = np.zeros(16, np.int64)
        self.nargs = 0
        self.argn = 0   # arg_ptr[:argn + 1] is final
        self.objs = np.empty(16, object)
        self.nobjs = 0
        self.plain = 0
        self._work = (None,)   # (sweep_arrays' views of its last work buffer)
        self._params_view = (None, -1, None)   # (... and of its params)
        self._arenas = (None,)                 # (... and of its arenas)
        self._dead = np.empty(64, np.int64)
        self._rows()

    def _rows(self):
        ints = self.ints
        cap = ints.shape[1] - 1
        self.size, self.nd, self.par, self.npar, self.slot = (ints[i, :cap] for i in range(5))
        self.arg_ptr = ints[5]
        self._views()
        self._prefix = (-1,)   # (sweep_arrays' views of the rows, made again from these)

    def reset(self, n, rows=True):
        """Back to a new tape's state, after a tape that wrote its first n entries (every
        writer writes entries below the tape's count, operand pointers up to n + 1); `rows`
        False: walks.reset_streams already reset the per-node rows."""
        if rows:
            self.ints[:, :n + 1] = NdStreams._INT_FILL
            self.shp[:n] = 1
            self.nsaved[:n] = 0
            self.host[:n] = 0
        self.objs[:self.nobjs] = None   # the saved arrays go with the tape, as before
        if len(self.params) > 4096:
            self.params = np.zeros(256, np.int64)
            self._pmv = memoryview(self.params)
        if len(self.arg) > 4096:
            self.arg = np.zeros(16, np.int64)
        if len(self.objs) > 4096:
            self.objs = np.empty(16, object)
        self.nparams = self.nargs = self.argn = self.nobjs = 0

    def _views(self):
        # memoryviews of size, nd and the flat shape rows: set_shape runs once per n-d op,
        # and a memoryview store costs a fraction of a numpy item or slice assignment
        self._cells = (memoryview(self.size), memoryview(self.nd),
                       memoryview(self.shp.reshape(-1)), memoryview(self.par),
                       memoryview(self.npar), memoryview(self.slot), memoryview(self.nsaved))

    def grow(self, cap, n):
        old = self.ints
        if old.shape[1] < cap + 1:
            new = np.empty((6, cap + 1), np.int64)
            new[:] = NdStreams._INT_FILL
            new[:5, :n] = old[:5, :n]
            new[5, :self.argn + 1] = old[5, :self.argn + 1]
            self.ints = new
        for name, fill in (("shp", 1), ("nsaved", 0), ("host", 0)):
            old = getattr(self, name)
            if len(old) < cap:
                new = np.full((cap,) + old.shape[1:], fill, old.dtype)
                new[:n] = old[:n]
                setattr(self, name, new)
        self._rows()

    def set_shape(self, node, shape):
        k = len(shape)
        if k > 8:
            raise RuntimeError("tapegrad supports tensors of at most 8 dimensions")
        cells = self._cells
        cells[0][node] = math.prod(shape)
        cells[1][node] = k
        shp = cells[2]
        row = 8 * node
        for s in shape:
            shp[row] = s
            row += 1

    def add_params(self, node, values):
        if type(values) is not list:   # a list of ints (shapes, matmul's sizes) is stored as is
            values = np.asarray(values, np.int64).reshape(-1)
        k, p = len(values), self.nparams
        if p + k > len(self.params):
            self._grow_params(p + k)
        self.params[p:p + k] = values
        self.nparams = p + k
        cells = self._cells
        cells[3][node] = p
        cells[4][node] = k

    def _grow_params(self, need):
        p = self.nparams
        new = np.zeros(max(2 * len(self.params), need), np.int64)
        new[:p] = self.params[:p]
        self.params, self._pmv = new, memoryview(new)   # (one statement of stores: _resize)

    def reserve_params(self, node, k):
        """Node's k params, left for the caller to write: the view of `params` they take."""
        p = self.nparams
        if p + k > len(self.params):
            self._grow_params(p + k)
        self.nparams = p + k
        cells = self._cells
        cells[3][node] = p
        cells[4][node] = k
        return self.params[p:p + k]

    def add_param_row(self, node, row):
        """add_params for a memoryview of int64 (a row ndops keeps per shape): one buffer
        copy instead of a list's conversion (~0.25 us of a matmul's record cost)."""
        k, p = len(row), self.nparams
        if p + k > len(self.params):
            self._grow_params(p + k)
        self._pmv[p:p + k] = row
        self.nparams = p + k
        cells = self._cells
        cells[3][node] = p
        cells[4][node] = k

    def add_param_ints(self, node, values):
        """add_params for a short list of Python ints (a view's [offset, strides...]): stored
        one by one through the memoryview, half the cost of the list's conversion."""
        k, p = len(values), self.nparams
        if p + k > len(self.params):
            self._grow_params(p + k)
        mv = self._pmv
        i = p
        for v in values:
            mv[i] = v
            i += 1
        self.nparams = i
        cells = self._cells
        cells[3][node] = p
        cells[4][node] = k

    def params_of(self, e):
        p = self.par[e]
        return self.params[p:p + self.npar[e]]

    def add_args(self, e, nodes):
        nodes = np.asarray(nodes, np.int64).reshape(-1)
        if e < self.argn:
            raise RuntimeError("tapegrad: operands must be given to entries in order")
        k, p = len(nodes), self.nargs
        if p + k > len(self.arg):
            new = np.zeros(max(2 * len(self.arg), p + k), np.int64)
            new[:p] = self.arg[:p]
            self.arg = new
        self.arg[p:p + k] = nodes
        self.arg_ptr[self.argn + 1:e + 1] = p   # the entries between have none
        self.arg_ptr[e + 1] = p + k
        self.nargs = p + k
        self.argn = e + 1

    def add_arg(self, e, node):
        """add_args(e, (node,)): one operand, stored as items, not through an array and
        three slice stores (where's condition: once per where)."""
        if e < self.argn:
            raise RuntimeError("tapegrad: operands must be given to entries in order")
        p = self.nargs
        if p + 1 > len(self.arg):
            new = np.zeros(max(2 * len(self.arg), p + 1), np.int64)
            new[:p] = self.arg[:p]
            self.arg = new
        self.arg[p] = node
        arg_ptr = self.arg_ptr
        if e > self.argn:   # (the entries between have none)
            arg_ptr[self.argn + 1:e + 1] = p
        arg_ptr[e + 1] = p + 1
        self.nargs = p + 1
        self.argn = e + 1

    def operands(self, n):
        """(arg_ptr[:n + 1], arg) for the first n entries (arg_ptr completed up to n).
        Without any operand list, a shared zero array: completing arg_ptr wrote 8 bytes per
        entry of the prefix (100 KB behind 1000 dropped graphs) in every backward."""
        if self.nargs == 0:
            return _const_fill(n + 1, 0), self.arg[:0]
        if self.argn < n:
            self.arg_ptr[self.argn + 1:n + 1] = self.nargs
            self.argn = n
        return self.arg_ptr[:n + 1], self.arg[:self.nargs]

    def args_of(self, e):
        if e >= self.argn:
            return self.arg[:0]
        return self.arg[self.arg_ptr[e]:self.arg_ptr[e + 1]]

    def dead_space(self, k):
        """An int64 array of at least k items for release's dead slots (kept for the next
        release: a release runs inside COMMIT, one at a time; contents undefined)."""
        d = self._dead
        if len(d) < k:
            d = self._dead = np.empty(max(k, 2 * len(d)), np.int64)
        return d

    def new_slot(self, node):
        """A slot in `objs` for node's saved array (Tape.save fills it and counts the
        saver: once per saving entry, the slot once per node)."""
        if self.nobjs == len(self.objs):
            new = np.empty(2 * len(self.objs), object)
            new[:self.nobjs] = self.objs[:self.nobjs]
            self.objs = new
        s = self._cells[5][node] = self.nobjs
        self.nobjs += 1
        return s

    def sweep_arrays(self, s, n, roots, val, host, direct, runs):
        """Tape.sweep_arrays for a tape with n-d streams: fills SweepArrays `s` (its streams
        set) from one layout kernel, the scalar values by one kernel and the saved arrays'
        values by _joined.  `direct`: tape.host_direct's flags; `runs`: the entries
        whose VJP runs (empty: all)."""
        # (views of the rows' first n entries, kept for the next sweep of as many: _rows
        # makes them again when the rows are new arrays)
        # (and the shared zero operand pointers of a tape without operand lists: _const_fill's,
        # its call only when they grow, so that a backward's Python calls do not depend on
        # whether these views were kept)
        rows = self._prefix
        if rows[0] != n:
            zeros = _consts.get(0)
            zeros = zeros[:n + 1] if zeros is not None and len(zeros) > n else \
                _const_fill(n + 1, 0)
            rows = self._prefix = (n, self.size[:n], self.nd[:n], self.shp[:n], self.par[:n],
                                   self.host[:n], self.slot[:n], zeros)
        _, size, nd, s.shp, s.par, s.host, slot, no_ptrs = rows
        s.size, s.nd = size, nd
        params = self._params_view   # (the params' view, kept while they neither grow nor move)
        if params[0] is not self.params or params[1] != self.nparams:
            params = self._params_view = (self.params, self.nparams,
                                          self.params[:max(self.nparams, 1)])
        s.params = params[2]
        if self.nargs == 0:   # (operands(n) without any operand list, inline)
            arg_ptr, arg = s.arg_ptr, s.arg = no_ptrs, _NO_ARGS
        else:
            arg_ptr, arg = s.arg_ptr, s.arg = self.operands(n)
        # One scratch buffer (scratch.take: pages an earlier backward touched) for off, saved
        # (two rows) and counts, which arena_layout writes in full, and the three flag rows:
        # fresh arrays, cleared, cost ~150 us of memory traffic and page faults in a 40k-entry
        # backward after a long recording; the slot stream is read in place (arena_layout).
        # Its views are kept for the next sweep of as many entries that gets the same buffer.
        # (and room behind its cells for both arenas as large as the last sweep of as many
        # entries had: a loop's backwards repeat their sizes, and then the arenas need no take
        # of their own)
        head = 3 * n + 5 + (3 * n + 7) // 8
        work = scratch.take(head + _ARENAS.get(n, 0))
        views = self._work
        if views[0] is not work or views[1] != n:
            ints = work[:3 * n + 5].view(np.int64)
            flags = work[3 * n + 5:].view(np.uint8)[:3 * n]
            views = self._work = (work, n, ints[:n], ints[n:3 * n].reshape(2, n), ints[3 * n:],
                                  flags, flags[:n], flags[n:2 * n], flags[2 * n:])
        # marks: what the layout reaches; used: its scratch; reach: the sweep's
        _, _, off, saved, counts, flags, marks, used, s.reach = views
        s.off = off
        flags[:] = 0
        s.marks = marks
        for e in roots:   # (a few roots: item stores cost less than a fancy index)
            marks[e] = 1
        plain = min(self.plain, n)   # (a backward from a root inside the prefix: n < plain)
        K.arena_layout(s.op, s.ia, s.ib, arg_ptr, arg, size, slot,
                       s.host if host else _const_zeros8(n), direct, _WANTS, _VJP_READS, runs,
                       marks, used, off, saved, counts, plain)
        s0, total, k, s.low, prefix = counts.tolist()
        if total <= scratch.PAIRED:   # one scratch buffer for both arenas
            if 2 * total <= len(work) - head:   # (behind the work cells: no take)
                arenas = self._arenas   # (their views, kept as the work cells' are)
                if arenas[0] is not work or arenas[1] != head or arenas[2] != total:
                    arenas = self._arenas = (work, head, total, work[head:head + total],
                                             work[head + total:head + 2 * total])
                s.bufs, s.vals, s.adj = [work], arenas[3], arenas[4]
            else:
                buf = scratch.take(2 * total)
                s.bufs, s.vals, s.adj = [work, buf], buf[:total], buf[total:2 * total]
                if len(_ARENAS) >= 64:
                    _ARENAS.clear()
                _ARENAS[n] = 2 * total
        else:
            s.bufs = [work, scratch.take(total), scratch.take(total)]
            s.vals, s.adj = s.bufs[1][:total], s.bufs[2][:total]
        s.adj[:] = 0.0
        vals = s.vals
        if prefix < 0:
            K.fill_values(marks, nd, off, val, vals)
        else:   # the prefix as one block (arena_layout), every entry of it placed
            vals[prefix:prefix + plain] = val[:plain]
            marks[:plain] = 1
            K.fill_values(marks[plain:], nd[plain:], off[plain:], val[plain:], vals)
        if k:
            arrs = self.objs[saved[1, :k]].tolist()
            try:
                _joined(arrs, vals[s0:total - 1])
            except (TypeError, ValueError):
                # a None: released by another thread's backward since `slot` was read: every
                # entry that saved it is freed, so a sweep that needs it fails as a second
                # backward
                arrs = [np.full(self.size[e], np.nan) if a is None else a
                        for e, a in zip(saved[0, :k], arrs)]
                _joined(arrs, vals[s0:total - 1])
        return s


# entries swept -> 2 x the arena total of the last sweep of as many (NdStreams.sweep_arrays
# takes its work buffer with that much room behind the work cells)
_ARENAS = {}


class SweepArrays:
    """Tape.sweep_arrays' result: the streams of the first n entries (`op`, `ia`, `ib`, `imm`,
    `freed`, `par`, `params`, `arg_ptr`, `arg`, `size`, `shp`, `nd`, `host`: views), the
    arena layout (`off`, `low`: the lowest reached entry with operands; `marks`: nonzero at
    the entries it placed, None on a tape without n-d streams, where every entry is placed), the value and
    adjoint arenas (`vals`, `adj` zeroed, in the scratch buffers `bufs`) and the sweep's reach
    flags (`reach`, zeros); `streams`: the tape's stream arrays the views are of."""
    __slots__ = ("op", "ia", "ib", "imm", "freed", "par", "params", "arg_ptr", "arg", "off",
                 "size", "shp", "nd", "host", "vals", "adj", "reach", "low", "bufs", "streams",
                 "marks")


# _joined flattens an array of fewer elements with ravel whatever its layout (a strided one's
# copy costs less than the layout test); a larger strided one is stored through a view
_RAVEL_MAX = 4096


def _joined(arrs, out):
    """Write the saved arrays `arrs` flattened end to end into `out` (the value arena's saved
    block), each cast on its way in: one pass per array (a concatenate into a temporary in
    their common dtype, then one cast into the arena, took 1.2-2.5x as long: 3.6 -> 2.8 us for
    a float32 net's three arrays of 7,680 values, 53 -> 21 us for one float64 array of
    100,000).  One slice store per array, not np.concatenate(arrs, axis=None, out=out): the
    same values (C order, the same casts), without concatenate's set-up per call and per array
    (an N=8 MLP step's sweep_arrays: 20.6 -> 19.4 us in situ); a large strided array is
    stored through a view of its shape (one strided pass, as concatenate's, not ravel's copy).  A
    None among them (an array another thread's release dropped) raises TypeError, and sizes
    that do not fill `out` ValueError, maybe after writing the arrays before it: the callers
    then write the whole block again."""
    o = 0
    try:
        for a in arrs:
            k = a.size
            m = o + k
            if k < _RAVEL_MAX or a.flags.c_contiguous:
                out[o:m] = a.ravel()
            else:
                out[o:m].reshape(a.shape)[...] = a
            o = m
    except AttributeError:   # (a None)
        raise TypeError("a saved array was released") from None
    if o != len(out):
        raise ValueError("the saved arrays do not fill the arena's block")


# Index arrays shared by every sweep of an all-scalar tape (sliced to length, never written).
_consts = {}
_NO_SHAPES = np.ones((1, 1), np.int64)
_NO_PARAMS = np.zeros(1, np.int64)
_NO_ARGS = np.zeros(0, np.int64)   # the operand list of a tape without n-d streams
_ALL_RUN = np.zeros(0, np.uint8)   # arena_layout's `runs` when every entry's VJP runs


# (off, size, nd, par, arg_ptr, host) of the sweep of an all-scalar tape's first n entries:
# constant views, by n (a loop's backwards repeat a few sizes: one lookup, not six slicings)
_SCALAR_VIEWS = {}


def _scalar_views(n):
    if len(_SCALAR_VIEWS) >= 256:
        _SCALAR_VIEWS.clear()
    views = _SCALAR_VIEWS[n] = (_const_range(n), _const_fill(n, 1), _const_fill(n, 0),
                                _const_fill(n, -1), _const_fill(n + 1, 0), _const_zeros8(n))
    return views


def _const_zeros8(n):
    arr = _consts.get("zeros8")
    if arr is None or len(arr) < n:
        arr = np.zeros(max(n, 2 * len(arr) if arr is not None else 1024), np.uint8)
        _consts["zeros8"] = arr
    return arr[:n]


# In-place changes made so far, all threads (a list: bumped without a lock, only compared for
# equality, so a lost update costs at most one extra check).
BUMPS = [0]
# tensors whose one-element value moved from a float to an array (Tensor._materialize): a
# folded constant among them may now change through an alias (Tape.refresh_shared)
SHARED_ARRAYS = [0]


def version_counter(t):
    """t's version counter (a one-item list), made on first need.  A view holds its base's
    list in a tuple (counter, the base it views, never itself a view: torch's `_base`);
    `detach()` holds it in (counter, None, a weak reference to its source: share_counter), a
    saved tensor made again in a 1-tuple (counter,): the same count, but not a view."""
    try:
        c = t._ver
    except AttributeError:
        c = t._ver = [0]
        return c
    return c if type(c) is list else c[0]


# id(v) -> (weak reference to v, weak reference to the tensor torch's version error names
# for it): a constant computed from a saved tensor alone (read_as_saved), which the tape reads
# in its place; an entry leaves with v
NAMED_AS = {}


def named_by(t):
    """A weak reference to the tensor whose grad_fn torch's version error names for t: t,
    or the tensor a constant read in its place stands for (NAMED_AS)."""
    named = NAMED_AS.get(id(t))
    return named[1] if named is not None and named[0]() is t else weakref.ref(t)


def read_as_saved(v, orig):
    """v, a value computed from tensor `orig` alone (a cast copy, a scaled copy) that the
    entries read in its place, watched under orig's version counter: torch's node saves orig
    itself, so changing orig in place before the backward must raise torch's error, not
    differentiate silently through the copy's old value."""
    if v is not orig and v._tape is None and not v._recorded and not orig._recorded:
        # a constant (made of a constant): the count of orig's changes, named as orig (a
        # constant self changed by its own in-place op gets a grad_fn: x.addcmul_(x, w))
        v._ver = (version_counter(orig),)   # (orig's count; not a view of orig)
        key = id(v)
        NAMED_AS[key] = (weakref.ref(v, lambda _, key=key: NAMED_AS.pop(key, None)),
                         named_by(orig))
        return v
    if v is not orig and v._tape is not None and v._recorded:
        tape = v._tape
        w = None
        if orig._tape is tape and orig._recorded:
            w = tape.versions.get(orig._node)
            if tape.op[orig._node] == _ALIAS:
                # (views.apart's alias of self given as an argument too, which dies with the
                # body: torch saved self itself)
                w = tape.versions.get(int(tape.ia[orig._node]), w)
        if w is not None and w[0] is version_counter(orig):
            # entered as orig was (an in-place op's cast argument: as the user's tensor),
            # so the error names the same tensor whichever of the two is found changed
            if v._node not in tape.versions:
                tape._enter(v._node, w[0], w[2], w[3], w[4])
        else:
            tape.watch(v._node, orig)
    return v


def saves_indices(r, indices):
    """r, the result of an op whose torch node saves these index tensors (IndexBackward0,
    IndexPutBackward0, GatherBackward0, MaskedSelectBackward0, ...; None and non-tensors
    skipped): the tape holds positions taken from their values when recorded, so an in-place
    change of one afterwards fails r's backward, as torch's does."""
    return saves_unread(r, indices)


def saves_unread(r, tensors):
    """r, the result of an op whose torch node saves these tensors (None and non-tensors
    skipped), which no entry of it reads as such: an in-place change of one afterwards fails
    r's backward, as torch's does (Tape.watch_unread)."""
    tape = r._tape
    if tape is not None:
        for t in tensors:
            if t is not None and hasattr(t, "_dtype"):
                tape.watch_unread(r._node, t)
    return r


def share_version(view, base):
    """`view` shares `base`'s memory: one version counter for both, as torch's views; it
    remembers the tensor at the root of its chain of views (torch's `_base`).  A float view
    is also remembered weakly beside the count (register_view's list): a recorded in-place
    op on its base, which takes a gradient then, makes it again from the base's new node
    (copyslices.regenerate_views), as torch makes a view's grad_fn again at its next use."""
    ver = view._ver = _count_and_root(base)
    if view._dtype.is_floating_point:   # (torch's views of other dtypes take no gradient)
        c = ver[0]
        ref = _weakref(view)
        if len(c) == 1:   # (_remember_view, inline: a view of data is hot)
            c += ([ref], 8)
        else:
            refs = c[1]
            refs.append(ref)
            if len(refs) > c[2]:
                _prune_views(c)
    if INFERENCE_MADE[0]:   # (inference_as's first test, inline: a view of data is hot)
        inference_as(view, base)


def register_view(t, base):
    """Remember recorded view t of `base` (weakly, beside their shared count), so a recorded
    in-place op on the base or a view of it regenerates t from the base's new node.  Plain
    weak references (no callback: cheaper than a WeakSet), pruned when the list doubles."""
    _remember_view(version_counter(base), weakref.ref(t))


def _remember_view(c, ref):
    """Keep `ref` (to a recorded view) in count c's list of views."""
    if len(c) == 1:
        c += ([], 8)
    refs = c[1]
    refs.append(ref)
    if len(refs) > c[2]:
        _prune_views(c)


def _remember_views(c, new):
    """_remember_view of each weak reference in `new` (a list the count may keep)."""
    if len(c) == 1:   # (the first views of a count, alive: nothing to prune until it doubles)
        c += (new, max(8, 2 * len(new)))
        return
    refs = c[1]
    refs.extend(new)
    if len(refs) > c[2]:
        _prune_views(c)


def _prune_views(c):
    """Drop the dead references from count c's list of views; prune again when it doubles."""
    refs = c[1]
    refs[:] = [r for r in refs if r() is not None]
    c[2] = max(8, 2 * len(refs))


def _count_and_root(base):
    """(base's version counter, made if it has none; the tensor at the root of its chain of
    views): what a view of base shares."""
    c = getattr(base, "_ver", None)   # (an unset slot: getattr's default costs half a raise)
    if c is None:
        c = base._ver = [0]
        return c, base
    if type(c) is list:
        return c, base
    return c[0], (c[1] if len(c) == 2 else base)   # (a 1-tuple: detach()'s, no view)


def record_view(tape, t, base):
    """The version bookkeeping of recorded view `t` of `base` (t's node just pushed on
    `tape`): share_version, register_view and the watch of both nodes, inline in one call
    (every recorded view op does all of it: as the calls of _count_and_root, _remember_view,
    _enter and _watch_new it cost twice the view's entry)."""
    # (_count_and_root: an unset slot costs getattr's default half what a try's raise does)
    c = getattr(base, "_ver", None)
    if c is None:
        c = base._ver = [0]
        root = base
    elif type(c) is list:
        root = base
    else:
        root = c[1] if len(c) == 2 else base   # (a 1-tuple: detach()'s, no view)
        c = c[0]
    t._ver = (c, root)
    if INFERENCE_MADE[0]:
        inference_as(t, base)
    ref = _weakref(t)
    if len(c) == 1:   # (_remember_view)
        c += ([ref], 8)
    else:
        refs = c[1]
        refs.append(ref)
        if len(refs) > c[2]:
            _prune_views(c)
    # _enter of t's node and, not entered yet, base's (_watch_new): one group lookup (the
    # list of nodes entered only where `watched` exists: an index made by a writer)
    versions = tape.versions
    ver = c[0]
    node = t._node
    entered = node not in versions
    if entered:
        versions[node] = (c, ver, t._dtype, t._shape, ref)
    btape = base._tape
    bnode = base._node if btape is tape else None
    if bnode is not None and bnode not in versions:
        versions[bnode] = (c, ver, base._dtype, base._shape, _weakref(base))
    else:
        bnode = None
        if btape is not None and btape is not tape:
            # (base's node on an older tape, read through an import: a change through the
            # view changes what that node's savers read, so it is entered on its own tape)
            btape.watch(base._node, base)
    if tape.watched is not None and (entered or bnode is not None):
        nodes = [node] if entered else []
        if bnode is not None:
            nodes.append(bnode)
        tape.watch_group(c, ver, nodes)


def record_views(tape, views, base, ones=()):
    """record_view of each of `views` (recorded views of `base`, in the order their nodes were
    pushed on `tape`: unbind / split's pieces), with base's counter read once, in one loop
    over the pieces (as record_view: no raise, one group lookup for the pieces' nodes and
    base's); the entry of each one-element view among them (`ones`, which the caller knows)
    reads its memory again before each backward (share_storage).  Returns the weak
    references to the views, in their order (views._pieces_made's marks take them)."""
    c = getattr(base, "_ver", None)   # (_count_and_root, inline as in record_view)
    if c is None:
        c = base._ver = [0]
        root = base
    elif type(c) is list:
        root = base
    else:
        root = c[1] if len(c) == 2 else base
        c = c[0]
    versions = tape.versions
    ver = c[0]
    pair = (c, root)
    inference = INFERENCE_MADE[0]
    refs = []
    nodes = []
    for t in views:
        t._ver = pair
        if inference:
            inference_as(t, base)
        ref = weakref.ref(t)
        refs.append(ref)
        node = t._node
        if node not in versions:
            versions[node] = (c, ver, t._dtype, t._shape, ref)
            nodes.append(node)
    _remember_views(c, refs)
    if base._tape is tape:   # (_watch_new of base's node, in the same group)
        bnode = base._node
        if bnode not in versions:
            versions[bnode] = (c, ver, base._dtype, base._shape, weakref.ref(base))
            nodes.append(bnode)
    elif base._tape is not None:   # (on an older tape: as record_view)
        base._tape.watch(base._node, base)
    if nodes and tape.watched is not None:   # (_enter's group, once)
        tape.watch_group(c, ver, nodes)
    if ones and not tape.recording and base._dtype.is_floating_point:
        for t in ones:
            tape.share(t._node, t._v, c)
    return refs


# Views made with grad mode off (torch's CreationMeta NO_GRAD_MODE / INFERENCE_MODE), the
# pieces of unbind / split / chunk made with it on (MULTI_OUTPUT_NODE), and the views made of
# them with grad mode on, which inherit it: id(view) -> (weakref to it, the mode's message,
# torch's grad_fn name of the op that made it or None, the view's output_nr in it).  Only
# those are entered (and what is made of them): other grad mode views pay a test.
# Plain weak references (no callback: a third of the cost), the dead ones pruned when the
# table doubles; an entry counts only while its view is alive (a new tensor may reuse an id).
# (views.py enters them; here so that the version checks read it too)
WITHOUT_GRAD = {}


def multi_view_rebased(t):
    """torch's error for t's grad_fn, made again once t's memory changed in place, where t is
    a piece of unbind / split made with grad mode on (MULTI_OUTPUT_NODE), or a view of one:
    such a view's grad_fn cannot be made again.  None for any other tensor."""
    made = WITHOUT_GRAD.get(id(t)) if WITHOUT_GRAD else None
    if made is None or made[1] is not errors.MULTI_OUTPUT_VIEW_INPLACE or not made[2] or \
            made[0]() is not t:
        return None
    return _rebased_message(made[2], made[3])


def rebased_view_without_fn(t):
    """torch's error (handle_view_on_rebase, indirect) for a read of the grad_fn of t, a view
    with none made with grad mode off (or a piece of unbind / split of a tensor that did not
    require grad then, or a custom Function's output) whose base requires grad now, once its
    memory changed in place since it was made: its `requires_grad` is the base's, and its
    grad_fn may not be made.  None for any other tensor."""
    made = WITHOUT_GRAD.get(id(t))
    if made is None or made[0]() is not t or t._tape is not None or len(made) < 5:
        return None
    base = view_base(t)
    if base is None or not base._recorded or version_counter(t)[0] == made[4]:
        return None
    if made[1] is errors.MULTI_OUTPUT_VIEW_INPLACE or made[1] is errors.CUSTOM_FUNCTION_VIEW_INPLACE:
        return made[1].format(prefix=errors.NO_GRAD_VIEW_REBASED)
    if made[1] is errors.NO_GRAD_VIEW_INPLACE:
        return errors.NO_GRAD_VIEW_REBASED + errors.NO_GRAD_VIEW_FORBIDDEN
    return made[1].format(prefix=errors.VIEW_MADE).replace(
        "and is being modified", "and its base or another view of its base has been modified", 1)


def _rebased_message(grad_fn, nr):
    """torch's error for output `nr` of node `grad_fn` (a multi-output view) used after its
    memory changed in place."""
    return errors.MULTI_OUTPUT_VIEW_INPLACE.format(prefix=errors.MULTI_VIEW_REBASED.format(
        nr=nr, name=errors.short_node_name(grad_fn)))


# id(view) -> (weak reference to it, torch's error): views made with grad mode off (or pieces
# of unbind / split / chunk of a tensor without grad) whose base a recorded in-place op then
# changed: torch's view requires grad and refuses its grad_fn and every use
# (copyslices.regenerate_views; check_rebased_piece raises it)
INVALID_VIEWS = {}


def invalid_view(t, message):
    """Enter view t in INVALID_VIEWS (dropped with t)."""
    key = id(t)
    INVALID_VIEWS[key] = (weakref.ref(t, lambda _, key=key: INVALID_VIEWS.pop(key, None)),
                          message)


def check_rebased_piece(t):
    """torch's error for the grad_fn of t, a recorded piece of unbind / split (or a view of
    one) whose memory changed in place since its entry took its value (under no_grad, or a
    recorded change its base's other views moved on by): multi_view_rebased's; or of a view
    in INVALID_VIEWS."""
    if INVALID_VIEWS:
        bad = INVALID_VIEWS.get(id(t))
        if bad is not None and bad[0]() is t:
            raise RuntimeError(bad[1])
    tape = t._tape
    saw = tape.versions.get(t._node) if tape is not None else None
    if saw is not None and saw[0][0] != saw[1]:
        rebased = multi_view_rebased(t)
        if rebased is not None:
            raise RuntimeError(rebased)


# {tape: {view node: torch's error}}: views a recorded in-place op on their base did not
# regenerate because torch refuses their use (copyslices.regenerate_views: unbind's and
# split's pieces); check_versions raises it for a backward that reads one after the change
REFUSED_VIEWS = weakref.WeakKeyDictionary()


def refuse_rebased_view(tape, node, message):
    """View node `node` of `tape` may not be read by an entry recorded from now on (its base
    changed): `message` at a backward that runs one."""
    REFUSED_VIEWS.setdefault(tape, {})[node] = (tape.n, message)


def registered_views(t):
    """The live recorded views sharing t's count (see register_view)."""
    c = version_counter(t)
    if len(c) == 1:
        return []
    return [v for v in (r() for r in c[1]) if v is not None]


class _SourceRef(weakref.ref):
    """detach()'s weak reference to its source (share_counter).  A pickled or copied tensor
    shares no memory with that source, so it gets a dead reference (a plain weakref does
    not pickle)."""
    __slots__ = ()

    def __reduce__(self):
        return _no_source, ()


class _Gone:
    pass


def _no_source():
    """A dead _SourceRef (what a pickled or copied one becomes)."""
    return _SourceRef(_Gone())


def share_counter(t, src):
    """`t` shares `src`'s version counter but is no view of it (`detach()`): (counter, None, a
    weak reference to the tensor whose leaf entries a change through t makes stale, src or
    the base src views; bump_version)."""
    v = getattr(src, "_ver", None)
    owner = src
    if type(v) is tuple:
        if len(v) == 2:
            owner = v[1]
        elif len(v) == 3 and v[2]() is not None:
            owner = v[2]()
    t._ver = (version_counter(src), None, _SourceRef(owner))


def is_view(t):
    v = getattr(t, "_ver", None)
    return type(v) is tuple and len(v) == 2


def own_counter(t):
    """Result t of a decomposition, a view of a value of its own group (prod's reshape of
    its last product), which no user holds, becomes no view, with a version counter of its
    own, as torch's result is: an in-place change of it then moves t's own node, which the
    group's grad_fn (torch's node saving its result) reads, not the inner value's."""
    old = version_counter(t)
    c = t._ver = [old[0]]
    tape = t._tape
    w = tape.versions.pop(t._node, None)
    if w is not None:   # (entered when viewed: watched again with its own counter)
        if tape.watched is not None:
            tape.watched[id(old)][1][w[1]].remove(t._node)
        tape._enter(t._node, c, w[2], w[3], w[4])
    shared = tape.shared
    if shared is not None and t._node in shared:   # (a one-element value in an array)
        arr, _, ver = shared[t._node]
        shared[t._node] = (arr, c, ver)


def view_base(t):
    """The tensor whose memory view `t` shares (torch's `_base`), else None."""
    v = getattr(t, "_ver", None)
    return v[1] if type(v) is tuple and len(v) == 2 else None


def share_storage(t):
    """t's one-element value is in an array that aliases may write without a version bump
    (`.data`, `detach()`, `numpy()`, a view): the entry holding it reads the array again
    before each backward (refresh_shared)."""
    tape = t._tape
    if tape is not None:   # (a leaf's entries: Tape.leaf_node, or refresh_shared later)
        share_storage_at(tape, t._node, t)


def share_storage_at(tape, node, t):
    """Node `node` of `tape` holds t's value: share_storage's entry, or an import's."""
    arr = t._v
    if type(arr) is not float and arr.size == 1 and t._dtype.is_floating_point:
        tape.share(node, arr, version_counter(t))


def _alias_owners(t):
    """The tensors whose memory an unrecorded change of t writes: a view's base and a
    detach()ed alias's source, followed through detach()es of views and views of detach()es."""
    owners = []
    v = getattr(t, "_ver", None)
    while type(v) is tuple and len(v) > 1:
        owner = v[1] if len(v) == 2 else v[2]()
        if owner is None or any(o is owner for o in owners):
            break
        owners.append(owner)
        v = getattr(owner, "_ver", None)
    return owners


def _refuse_unrecorded_change(t, tape):
    """While `tape` records: an in-place change of t that it records no entry for (under
    no_grad or inference_mode, or through a detach()ed alias) would be made at the recording
    only, every replay computing t as before: TracingError where t is traced on it (a
    result or an input; constants it read: Tape.changed_constants, at the end)."""
    if t._tape is tape or t._tape is None and id(t) in tape.input_ids:
        raise TracingError(errors.UNRECORDED_CHANGE)


def refuse_inference_save(t):
    """torch's error for an inference tensor that an op would save for backward (not while
    tracing for replay: a traced value needs no gradient in torch's eyes; nor inside a
    torch.func transform's function: GradState.grad_levels)."""
    if (INFERENCE_MADE[0] and getattr(t, "_flags", 0) & INFERENCE_TENSOR
            and not STATE.tape.recording and not STATE.grad_levels):
        raise RuntimeError(errors.INFERENCE_SAVED)


def refuse_inference_index(x, index):
    """refuse_inference_save of `index` (an index tensor torch's node saves: gather's,
    indexing's, nll_loss's target) where an op on x records."""
    if INFERENCE_MADE[0] and x._recorded and STATE.enabled and not STATE.inference:
        refuse_inference_save(index)


def inference_as(t, src):
    """t (a view, or an alias: detach, .data) is an inference tensor if src is one, whatever
    mode it was made in (a view made in inference mode of a normal tensor is a normal one)."""
    if not INFERENCE_MADE[0]:
        return
    flags = getattr(t, "_flags", 0)
    if (flags ^ getattr(src, "_flags", 0)) & INFERENCE_TENSOR:
        t._flags = flags ^ INFERENCE_TENSOR


def refuse_inference_change(t):
    """torch's error for an in-place change of inference tensor t outside inference mode.  It
    comes before the errors of views (a view of an inference tensor is no view to torch's
    autograd, nor does it require grad), not before a leaf's that requires grad."""
    if INFERENCE_MADE[0] and getattr(t, "_flags", 0) & INFERENCE_TENSOR and not STATE.inference:
        raise RuntimeError(errors.INFERENCE_INPLACE)


def bump_version(t):
    """Record an in-place change of t: enter its own node first (so a backward expects the
    version it had when that node took its value), then count the change.  An inference
    tensor outside inference mode: torch's error (called before the write, so the tensor is
    left as it was; torch's comes after its kernel)."""
    c = getattr(t, "_ver", None)
    if (type(c) is list or c is None) and t._tape is None and not INFERENCE_MADE[0] and \
            not STATE.parked.recording:
        # (the common case, a tensor with a counter of its own, or none yet (a fresh .grad's
        # zero_(): version_counter's, counted), and no tape, nothing to refuse: the steps
        # below that apply, without their calls; an in-place op's ~0.3 us)
        if c is None:
            t._ver = [1]
        else:
            if len(c) > 1 and c[1]:   # (views, not all found gone: views_go_stale)
                views_go_stale(c)
            c[0] += 1
        BUMPS[0] += 1
        return
    if INFERENCE_MADE[0]:
        refuse_inference_change(t)
    if STATE.parked.recording:
        _refuse_unrecorded_change(t, STATE.parked)
        for owner in _alias_owners(t):
            _refuse_unrecorded_change(owner, STATE.parked)
    c = version_counter(t)
    tape = t._tape
    if tape is not None:
        tape.watch(t._node, t)
        if STATE.parked is tape:
            # changed under no_grad: later ops must not save it under the node (and version)
            # it had, so they start a new tape and see it through an import entry
            let_go(tape)
    if type(t._ver) is tuple:
        for owner in _alias_owners(t):
            # a change through a view or a detach()ed alias: the leaf entry its base (or
            # source) caches holds the old version; the next use enters it again
            owner._lserial = 0
            src = owner._tape
            if src is not None and tape is None:
                # a result changed through an unrecorded alias (detach()): later ops must not
                # save its node, watched at the old version, so they start a new tape and
                # see it through an import entry (as under no_grad above)
                if src.recording:
                    _refuse_unrecorded_change(owner, src)
                src.watch(owner._node, owner)
                if STATE.tape is src or STATE.parked is src:
                    let_go(src)
    if len(c) > 1 and (tape is None or type(t._ver) is tuple and t._ver[1] is None or
                       not STATE.enabled and STATE.parked is not tape):
        # (a recorded change of a detach()ed alias too: its source's views have no entry for
        # it either, and torch makes their grad_fn again at their next read; and a change
        # under no_grad of a tensor on an older tape than the parked one, which a view of it
        # made again there reads: retain_grad's, whose hook moves at the view's next read)
        views_go_stale(c)
    c[0] += 1
    BUMPS[0] += 1


def views_go_stale(c):
    """An unrecorded change of a tape-less tensor (a leaf under no_grad, or through a
    detach()ed alias) whose count has recorded views: a view on the open (or parked) tape
    holds the old value under its node, watched at the old version, so the tape is let go
    and the view's later uses read it through an import entry at the new version, as torch
    saves the view as it is then (its ViewBackward0 saves nothing, only sizes).  A change
    through the tape itself (a recorded in-place op) moves its views instead
    (copyslices.regenerate_views).  Called only for a count with views (`len(c) > 1`);
    nothing open (an optimizer's step after a backward): two attribute reads.  A walk that
    finds every view gone empties the list, so the changes after it walk none (a tensor
    viewed once, then changed in place in a loop while a tape is open: ~0.4 us a change)."""
    st = STATE
    for tape in (st.tape, st.parked):
        if tape.sealed or tape.recording:   # (CLOSED too; an optimizer's step: nothing open)
            continue
        refs = c[1]
        alive = False
        for r in refs:
            u = r()
            if u is not None:
                if u._tape is tape:
                    let_go(tape)
                    break
                alive = True
        else:
            if not alive:
                refs.clear()   # (the list kept, in place: a view made now appends to it)
                return


class _RegeneratedView:
    """The name of torch's grad_fn of a view whose memory changed since it was made."""
    @staticmethod
    def name():
        return "AsStridedBackward0"


_REGENERATED_VIEW = _RegeneratedView()


VERSION_ERROR = (
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation: [{kind} [{shape}]]{made} is at version {now}; expected version "
    "{expected} instead. Hint: enable anomaly detection to find the operation that failed to "
    "compute its gradient, with tapegrad.autograd.set_detect_anomaly(True, check_nan=False).")


def output_of(fn):
    """The error's ", which is output 0 of Op," for a saved tensor whose grad_fn is fn (""
    for None), in torch's spelling: MulBackward0 -> Mul, FillBackward2 -> Fill2."""
    if fn is None:
        return ""
    return ", which is output 0 of " + re.sub(
        r"Backward(\d*)$", lambda m: "" if m.group(1) in ("", "0") else m.group(1),
        fn.name()) + ","


def version_message(dtype, shape, made, now, expected):
    """VERSION_ERROR for a saved tensor of `dtype` and `shape` (`made`: ", which is output k
    of Op," or "")."""
    return VERSION_ERROR.format(kind=errors.checked_type_name(dtype),
                                shape=", ".join(map(str, shape)), made=made, now=now,
                                expected=expected)


class _SaveHooks(threading.local):
    open = ()   # the save_on_cpu contexts open on this thread, innermost last (a list)


SAVE_HOOKS = _SaveHooks()


class SavedOnCpu:
    """torch.autograd.graph.save_on_cpu's effect on the tapes of this thread while it is
    open: the entries recorded then are not version-checked (torch's backward reads what the
    pack hook returned: the tensor itself on a CPU, whose memory it reads then, or with
    pin_memory=True a copy made at the save, which `snapshot` makes tapegrad's saves too;
    one-element values, copies in their entries, take their tensor's value at the backward
    with pin_memory=False: _refresh_hooked).  An n-d value a recorded in-place op changed
    afterwards is read as it was (the op saved its own copy of it under the node)."""

    def __init__(self, pin):
        self.pin = pin
        self.ranges = []   # (tape, its range, the tape's snapshot before)

    def enter(self):
        st = STATE
        SAVE_HOOKS.open = list(SAVE_HOOKS.open) + [self]
        # (a sealed tape that is not frozen still takes the ops of graphs that live on it)
        for tape in {id(t): t for t in (st.tape, st.parked) if not t.frozen}.values():
            self.cover(tape, tape.n)

    def cover(self, tape, start):
        """Entries of `tape` from `start` on are this context's until it closes."""
        r = [start, None, self.pin]
        if tape.hooked is None:
            tape.hooked = []
        tape.hooked.append(r)
        self.ranges.append((tape, r, tape.snapshot))
        tape.snapshot = self.pin

    def exit(self):
        for tape, r, before in reversed(self.ranges):
            r[1] = tape.n
            tape.snapshot = before
        self.ranges = []
        SAVE_HOOKS.open = [c for c in SAVE_HOOKS.open if c is not self]


def _const_fill(n, value):
    arr = _consts.get(value)
    if arr is None or len(arr) < n:
        # writable although never written: Numba compiles read-only arrays as another type
        arr = np.full(max(n, 2 * len(arr) if arr is not None else 1024), value, np.int64)
        _consts[value] = arr
    return arr[:n]


def _const_range(n):
    arr = _consts.get("range")
    if arr is None or len(arr) < n:
        arr = np.arange(max(n, 2 * len(arr) if arr is not None else 1024), dtype=np.int64)
        _consts["range"] = arr
    return arr[:n]


# tracing.guard_untraced (set there: tracing reads this module): the guards of traced values an
# op reads while grad mode is off in a recording
UNTRACED = [None]


def let_go(tape):
    """`tape` stops being the thread's open (or parked) tape before it is sealed: the next op
    opens a new one, which reads tape's results through import entries.  As open_tape does
    for a sealed tape it replaces, the import links of the older tapes `tape` reads that no
    live graph can reach are dropped (import_links): a loop that changes a recorded result
    in place under no_grad at each step (cosine_similarity's clamp_min_ of its norms) kept
    every tape it opened, each holding the one before."""
    if STATE.tape is tape:
        STATE.tape = CLOSED
    if STATE.parked is tape:
        STATE.parked = CLOSED
    if tape.imports:
        release_dead_imports(tape)


def open_tape(x=None, y=None):
    """The tape for an op with inputs x, y (None under no_grad): the open tape; when it is
    sealed, the same tape if an input lives there and it is not frozen, else a new one."""
    st = STATE
    tape = st.tape
    if tape.sealed:
        if not st.enabled or st.inference:
            if st.parked.recording:   # (no_grad inside a recorded function)
                UNTRACED[0](st.parked, x, y)
            return None
        if tape is not CLOSED and not tape.frozen and (
                getattr(x, "_tape", None) is tape or getattr(y, "_tape", None) is tape):
            return tape
        old = tape
        tape = st.tape = Tape()
        if old is not CLOSED and old.imports:
            # a graph that went on from an older tape into `old`: without this, each tape
            # sealed in the middle of a graph holds the one before it (import_links)
            release_dead_imports(old)
    return tape


def regenerate_pending_view(t, tape=None):
    """t's grad_fn made at its first read (PENDING_VIEW): an as_strided gather of its base's
    node now, on `tape` (else the tape an op would record on now).  Its node, or -1 where none
    can be made (under no_grad; t's memory no longer in its base's): t then stays as it is, or
    is a view whose gradient goes nowhere."""
    if tape is None:
        tape = open_tape(t)
        if tape is None or tape.recording:
            return -1
    t._flags &= ~PENDING_VIEW
    n = tape.regenerated_view(t)
    if n < 0:
        t._flags |= NO_GRAD_VIEW
    return n


def read_grad_fn_of(t):
    """What torch's node does to an operand that requires grad, reading its grad_fn: a
    pending view's is made now (before an in-place op on its base moves the base's memory)."""
    if NO_GRAD_VIEWS_MADE[0] and t._tape is None and getattr(t, "_flags", 0) & PENDING_VIEW:
        regenerate_pending_view(t)


def input_node(tape, t):
    """Node of tensor `t` (which requires grad) on `tape`: its own, a leaf slot or an import."""
    src = t._tape
    if src is tape:
        return t._node
    if src is None:
        if t._lserial == tape.serial:
            return t._lnode
        return tape.leaf_node(t)
    return tape.import_node(t)


def retain(t):
    t._tape.retained[t._node] = weakref.ref(t)


def follow_retained(t, old_tape, old_node):
    """After an in-place op moved t from old_node to a new entry: torch moves the retains-grad
    hook to the tensor's new grad_fn, so its .grad is the gradient of its latest value."""
    if old_tape is None:
        return
    moves = old_tape.retain_moves
    hooked = moves.pop(old_node, old_node) if moves else old_node
    ref = old_tape.retained.get(hooked)
    if ref is not None and ref() is t:
        del old_tape.retained[hooked]
        retain(t)


# NOTE: a view made again because its base changed (copyslices.regenerate_views) has its
# new node at once, but torch makes its grad_fn again only at its next read (grad_fn,
# is_leaf, a use with grad mode on) and moves the retains-grad hook there: until
# then the hook stays on the old node, whose gradient its .grad gets.  Tape.retain_moves
# keeps such a view's node -> the node the hook is on; a read moves it (Tensor.grad_fn,
# is_leaf, an in-place op on the view: follow_retained; not retain_grad, which finds the
# hook and returns) and so does a backward where an entry reads the view's node
# (Tape.settle_retained, numpy per such view).
def defer_retained(t, old_tape, old_node):
    """regenerate_views moved view t from old_node to its new node: its retains-grad hook
    moves at t's next read."""
    tape = t._tape
    if old_tape is not tape:
        follow_retained(t, old_tape, old_node)
        return
    moves = tape.retain_moves
    hooked = moves.pop(old_node, old_node) if moves else old_node
    ref = tape.retained.get(hooked)
    if ref is None or ref() is not t:
        return
    if hooked != old_node and tape.read_since(old_node):   # (read since its last change)
        del tape.retained[hooked]
        tape.retained[old_node], hooked = ref, old_node
    if tape.retain_moves is None:
        tape.retain_moves = {}
    tape.retain_moves[t._node] = hooked


def settle_retained_of(t):
    """A read of view t: its retains-grad hook moves to its node now (defer_retained)."""
    tape = t._tape
    if tape is not None and tape.retain_moves and t._node in tape.retain_moves:
        follow_retained(t, tape, t._node)
