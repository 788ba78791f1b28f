"""Decomposition groups: the per-entry facts that make an op recorded as several primitive
entries (a decomposition row of tapegrad/ops.py, e.g. logsumexp) show as the one grad_fn
torch has (`LogsumexpBackward0`), whose `next_functions` lead to the decomposition's inputs.

Two typed streams per entry, made with a tape's first decomposition (a tape that has none
never pays for them) and grown on demand; entries past their end are in no group:

    first[i]  int32  the first entry of the group entry i belongs to (-1: in none)
    row[i]    int16  at a group's output entry, the decomposition's opcode (-1 elsewhere)

The group of output entry e is the entries j in first[e]..e with first[j] == first[e]: the
internal entries, which users never see (no tensor they hold is made by one), and e itself.
Leaf and import entries recorded while the decomposition ran are not members: they stand for
its inputs.  Its constants (const entries, e.g. the shift of a stable softmax) are members.
A group recorded inside another decomposition is absorbed by the outer one.

The sweeps, replay and the liveness walks never read these streams: the primitives are
ordinary entries with ordinary gradients.  The inspection faces (grad_fn names,
next_functions, saved buffers, viz, tape_summary: graph.py) read them, per inspected node,
with numpy over the group's own entries; and create_graph's Python walk, for the groups of
a row whose torch backward reads its input or is one node (`Op.backward_reads_input`,
`backward_is_one_node`: the gradient it hands each input then depends on that input, or is
that node's output, engine._reading_inputs).
"""
import numpy as np

from .ops import BY_CODE, KIND_CODE

_KIND = np.array([KIND_CODE[op.kind] for op in BY_CODE], np.int64)
# entries recorded during a decomposition that are not part of it (its constants are)
_OUTSIDE = np.array([KIND_CODE[k] for k in ("leaf", "import")], np.int64)
# per opcode: whether an entry of it recorded during a decomposition is a member (a table
# lookup: np.isin per mark cost ~40 us, most of an nn.Linear call)
_MEMBER = ~np.isin(_KIND, _OUTSIDE)


def _minus_ones(cap, dtype):
    """np.full(cap, -1, dtype) without np.full's Python layer (a third of the cost: the
    streams are made once per training step of an nn model)."""
    arr = np.empty(cap, dtype)
    arr.fill(-1)
    return arr


class Groups:
    # quiet: whether a group of a row whose torch node saves no tensor was marked
    __slots__ = ("first", "row", "_first_mv", "_row_mv", "quiet")

    def __init__(self, cap):
        self.quiet = False
        if cap == _FIRST_CAP:   # a tape's first decomposition (once per training step)
            self.first, self.row = _FIRST_FILLED.copy(), _ROW_FILLED.copy()
        else:
            self.first = _minus_ones(cap, np.int32)
            self.row = _minus_ones(cap, np.int16)
        self._views()

    def _views(self):
        # memoryviews of both streams: an item store through one costs ~30 ns, a numpy item
        # store ~100 ns (a layer's group is a few stores, written once per layer and step)
        self._first_mv = memoryview(self.first)
        self._row_mv = memoryview(self.row)

    def _fit(self, n):
        cap = len(self.first)
        if n > cap:
            cap = max(n, 2 * cap)
            first = _minus_ones(cap, np.int32)
            row = _minus_ones(cap, np.int16)
            first[:len(self.first)] = self.first
            row[:len(self.row)] = self.row
            self.first, self.row = first, row
            self._views()

    def mark(self, ops, start, out, code):
        """Entries start..out (`ops`: their opcodes, a sequence of ints) become one group
        shown as op `code` at its output entry `out`."""
        if out >= len(self.first):
            self._fit(out + 1)
        if out - start < _SMALL:   # a layer's few entries: item stores beat numpy's calls
            first, row = self._first_mv, self._row_mv
            member = _MEMBER_LIST
            for j in range(start, out + 1):
                if member[ops[j - start]]:
                    first[j] = start
                row[j] = -1
            row[out] = code
            return
        inside = _MEMBER[np.asarray(ops)]
        first = self.first[start:out + 1]
        first[inside] = start
        self.row[start:out + 1] = -1
        self.row[out] = code


_SMALL = 8
_QUIET = np.array([op.frees_nothing for op in BY_CODE])
_QUIET_CODES = frozenset(np.flatnonzero(_QUIET).tolist())
_MEMBER_LIST = _MEMBER.tolist()
# Streams start this long (and double as needed): a tape's first decomposition, once per
# training step, then costs two small fills, not two of the tape's capacity
_FIRST_CAP = 256
# copied for a new tape's streams: one copy each (~0.1 us), not np.empty and fill (~0.55 us)
_FIRST_FILLED = _minus_ones(_FIRST_CAP, np.int32)
_ROW_FILLED = _minus_ones(_FIRST_CAP, np.int16)


def mark(tape, start, out, code):
    """Make entries start..out of `tape` the group of decomposition row `code` (out: the
    entry of its result)."""
    groups = tape.groups
    if groups is None:
        groups = tape.groups = Groups(max(_FIRST_CAP, out + 1))
    groups.mark(tape.op[start:out + 1], start, out, code)
    regenerated = tape.regenerated
    if regenerated:   # (a view's grad_fn made again by the body's first use of it: an input)
        for e in regenerated:
            if start <= e < out:
                groups.first[e] = -1
    if code in _QUIET_CODES:
        groups.quiet = True


def quiet_members(tape, n):
    """bool per entry below n: the members of groups of a row whose torch node saves no
    tensor (`Op.frees_nothing`), whose primitives' buffers a backward does not free, so their
    graph can be swept again as torch's (an upsample's weights, torch's numbers)."""
    groups = tape.groups
    m = min(n, len(groups.row))
    first, row = groups.first[:m], groups.row[:m]
    outs = np.flatnonzero(row >= 0)
    starts = first[outs[_QUIET[row[outs].astype(np.int64)]]]
    quiet = np.zeros(n, bool)
    quiet[:m] = (first >= 0) & np.isin(first, starts)
    return quiet


def save_input(tape, x):
    """Save tensor x's value where x is an input of a group whose row's gradient under
    create_graph is torch's formula on its result and inputs (result_grads: logsumexp's,
    prod's) and the members did not keep it (they read the shifted values, partial
    products), as torch's node saves `self` (`other`).  Leaves and imports need none."""
    n = x._node if x._recorded and x._tape is tape else -1
    if n >= 0 and n in tape.shape and tape.saved_array(n) is None and \
            _KIND[tape.op[n]] not in _OUTSIDE:
        tape.save(n, x._v)


def row_at(tape, e):
    """The decomposition opcode entry e shows as (it is a group's output), else -1."""
    groups = tape.groups
    if groups is None or e >= len(groups.row):
        return -1
    return int(groups.row[e])


def members(tape, e):
    """The entries of the group whose output is entry e, ascending (e last)."""
    first = tape.groups.first
    s = int(first[e])
    return s + np.flatnonzero(first[s:e + 1] == s)


def inputs(tape, e):
    """The group's input nodes (what its next_functions lead to), in the order the group's
    entries first read them: operands of members that are not members themselves (nor
    constants: an input that needs no gradient has no edge)."""
    mem = members(tape, e)
    ia, ib, arg_ptr, arg = tape.dependencies(e + 1)
    # each member's operand list in order: ia, ib, then its `arg` slice (a group has a few
    # members, and this runs per next_functions call, not in a backward)
    reads = np.concatenate([np.array([ia[m], ib[m]], np.int64)
                            if arg_ptr[m + 1] == arg_ptr[m] else
                            np.concatenate([[ia[m], ib[m]], arg[arg_ptr[m]:arg_ptr[m + 1]]])
                            for m in mem.tolist()]).astype(np.int64)
    reads = reads[reads >= 0]
    reads = reads[~np.isin(reads, mem)]
    reads = reads[_KIND[np.asarray(tape._arrays[0])[reads]] != KIND_CODE["const"]]
    _, first_use = np.unique(reads, return_index=True)
    return [int(v) for v in reads[np.sort(first_use)]]


def is_internal(tape, e):
    """Whether entry e is inside a group and not its output: invisible to users."""
    groups = tape.groups
    return (groups is not None and e < len(groups.first) and groups.first[e] >= 0
            and groups.row[e] < 0)


def shown_opcodes(tape, n):
    """The opcodes the first n entries show as, -1 for internal entries: what a summary
    of the tape counts (a decomposition once, by its row's name)."""
    ops = np.asarray(tape._arrays[0][:n]).astype(np.int64)
    groups = tape.groups
    if groups is None:
        return ops
    m = min(n, len(groups.first))
    first, row = groups.first[:m], groups.row[:m].astype(np.int64)
    shown = ops.copy()
    shown[:m] = np.where(row >= 0, row, np.where(first >= 0, -1, ops[:m]))
    return shown


# mark_members' item stores serve groups of up to this many entries (an affine layer_norm's
# 11: mark's numpy path cost ~2 us there, these stores ~0.6)
_MEMBERS_MAX = 16
_NEG16 = memoryview(_minus_ones(_MEMBERS_MAX, np.int16))


def mark_members(tape, start, out, members, code):
    """mark() for a writer that knows which of entries start..out are the group's members
    (`members`: those entries, `out` among them; each other entry there a leaf or import
    entry, in no group): nn/_onepass.py's, which write their rows' very entries.  The same
    stores as mark(), without reading the opcodes back (a layer's group: ~0.3 us, not ~1)."""
    groups = tape.groups
    if groups is None or out >= len(groups.first) or out - start >= _MEMBERS_MAX:
        mark(tape, start, out, code)
        return
    first, row = groups._first_mv, groups._row_mv
    for j in members:
        first[j] = start
    row[start:out + 1] = _NEG16[:out + 1 - start]
    row[out] = code
    if code in _QUIET_CODES:
        groups.quiet = True
