"""The n-d kernels in tiers (codegen.TIERED): `sweep_core` and `forward_core` (the elementwise
ops of the tape v2 table and every structural kind), `sweep` and `forward_from` (every op).  A
lower tier compiles in a fraction of the time.  A call starts from the highest of: the tier
this process has needed so far, the caller's `tier` (a recorded tape's highest, known once
per tape) and, for a sweep, the tier of the entry it starts from (an n-d backward's root is
mostly a reduction: no elementwise-only kernel is compiled just to stop there).  A kernel
that meets an entry e of a higher tier (`OP_TIER`) returns -2 - len(op) - e, and the call
resumes from e with the kernel of e's tier, which runs first from then on (it is compiled,
and one call per segment is cheaper than two).  A kernel that meets an entry whose kind's
piece is not compiled yet returns -2 - 2 len(op) - e: the piece is compiled
(tapegrad._kindcall) and the call resumes from e in the same kernel.  So a process compiles
the pieces of the kinds its graphs use, and one whose graphs use the common ops never compiles
the full kernels.

Both functions take and return what the full kernels do (docs/design.md, "Kernel tiers").
`sweep_ahead` starts compiling the sweep a coming call will need, and the pieces it and the
forward before it will meet, in a child process (tapegrad._ahead), while this one compiles the
forward kernel."""
import numpy as np

from . import _ahead, scratch
from ._jit import K

__all__ = ["sweep", "forward_from", "fill_pieces", "sweep_ahead", "sweep_ahead_of_tape",
           "expect_pending", "expect_sweep"]

SWEEPS = ("sweep_core", "sweep")
FORWARDS = ("forward_core", "forward_from")
# sweep's and forward_from's `start` argument (the entry they resume from)
_SWEEP_START = 14
_FORWARD_START = 13
_VALS = 12      # (both kernels' value arena)
_SIZE = 9       # (both kernels' entry sizes)
# the tier each face starts from: the highest one this process has needed
_level = {"sweep": 0, "forward": 0}
# the kernels this process has called (so compiled or loaded): expect_pending
_called = set()


def _tiered(face, names, start, args, level):
    """names[level] called with args, resumed with a higher tier's kernel where it returns an
    entry it lacks; `start`: the index in args of the entry a kernel starts from."""
    tiers = _OP_TIERS or _load_tiers()
    if level > _level[face]:
        _level[face] = level
    else:
        level = _level[face]
    op = args[0]
    miss = -2 - len(op)     # a kernel returns miss - e at an entry e it lacks
    unready = miss - len(op)    # and unready - e at an entry whose kind's piece it lacks
    while True:
        if _ahead.pending:
            if names[level] in _ahead.pending:
                # the pieces of the child's list this call meets first, each compiled here or
                # taken from the child, which compiles the kernel first (it starts from the
                # end of its list); others are compiled when met, as without a child (an
                # entry the sweep does not reach meets none)
                for slot in K.piece_slots(K, op, (face,), args[_SIZE]):
                    if K.PIECES[slot] in _ahead.pending:
                        _fill_slot(slot, args[_VALS].dtype)
            _ahead.adopt(names[level])
        r = getattr(K, names[level])(*args)
        _called.add(names[level])
        if r > miss:
            return r
        if r <= unready:
            e = unready - r
            _fill(face, op[e], args[_VALS])
        else:
            e = miss - r
            level = _level[face] = max(level + 1, tiers[op[e]])
        args = args[:start] + (e,) + args[start + 1:]


def _fill(face, opcode, vals):
    """Compile the piece entries with `opcode` call in `face`'s kernels, for arenas like
    `vals` (once per process and dtype: tapegrad._kindcall)."""
    _fill_slot(int((K.OP_SWEEP_PIECE if face == "sweep" else K.OP_FORWARD_PIECE)[opcode]),
               vals.dtype)


def _fill_slot(slot, dtype):
    """K.fill_piece, with the piece taken from a child compiling it (tapegrad._ahead)."""
    if _ahead.pending:
        _ahead.adopt(K.PIECES[slot])
    K.fill_piece(K, slot, dtype)


def fill_pieces(op, dtype, size=None):
    """K.fill_pieces (every piece that entries with opcodes `op` call, compiled before a
    driver, which cannot stop for one), each piece a child compiles taken from it as the
    kernels' are (`_fill_slot`), not compiled a second time here."""
    if _ahead.pending:
        for slot in K.piece_slots(K, op, size=size):
            _fill_slot(slot, dtype)
    else:
        K.fill_pieces(K, op, dtype, size=size)


# OP_TIER as a list of Python ints (read per call), filled on first use: the kernel module is
# not imported before a first sweep
_OP_TIERS = []


def _load_tiers():
    _OP_TIERS[:] = K.OP_TIER.tolist()
    return _OP_TIERS


def sweep(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, adj, start,
          reach, freed, op_saves, host, tier=0):
    """K.sweep(...), through the lowest tier that has the entries swept (at least `tier`, and
    the tier of the entry it starts from)."""
    if start >= 0:
        tier = max(tier, (_OP_TIERS or _load_tiers())[op[start]])
    return _tiered("sweep", SWEEPS, _SWEEP_START,
                   (op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, adj,
                    start, reach, freed, op_saves, host), tier)


def expect_pending():
    """Whether a backward should call expect_sweep first: only while `sweep` starts from tier
    0 and its tier-0 kernel has not been called (compiled or loaded) in this process.  Once
    it has, a graph that needs more only resumes in the next tier (a kernel call, no compile
    saved by knowing it first), and the check would cost every backward ~3 us."""
    return _level["sweep"] == 0 and SWEEPS[0] not in _called


def expect_sweep(op):
    """Start `sweep` from the highest tier of the opcodes `op` (the entries a backward is
    about to sweep): a first graph that reaches an op of the full tier from a root of the
    core one (`(x.atan2(y) * 3.0).sum().backward()`) then compiles `sweep` alone instead of
    `sweep_core` first.  A numpy pass over `op`: callers make it only while
    expect_pending()."""
    if len(op):
        level = int(K.OP_TIER[op].max())
        if level > _level["sweep"]:
            _level["sweep"] = level


def sweep_ahead(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, adj,
                start, reach, freed, op_saves, host, tier=0, forward_host=None, reached=None):
    """Have a child process compile (tapegrad._ahead), if they are not compiled yet, the
    kernel that `sweep` with these arguments will call first and the pieces of the kinds it
    will meet (of the entries `reached` flags, when given), and with `forward_host` (the
    `host` of a `forward_from` over the same entries that comes first) the pieces that
    forward will meet before them: for a caller that compiles another kernel before that
    call.  The child compiles from the last of those back, this process from the first on
    (each kernel once: _ahead)."""
    tier = max(tier, _level["sweep"], (_OP_TIERS or _load_tiers())[op[start]])
    if _ahead.looked_at(SWEEPS[tier]):
        return      # (once per kernel and process, with the pieces: ~1 ms to list them)
    jobs = []
    if forward_host is not None:
        jobs += _piece_jobs("forward", op, size, forward_host == 0, vals.dtype)
    swept = np.zeros(len(op), bool)
    swept[:start + 1] = host[:start + 1] == 0
    if reached is not None:
        swept[:len(reached)] &= reached != 0
    jobs += _piece_jobs("sweep", op, size, swept, vals.dtype)
    jobs.append((SWEEPS[tier], _ahead.signature(
        (op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, adj, start,
         reach, freed, op_saves, host))))
    _ahead.start(jobs)


def _piece_jobs(face, op, size, kept, dtype):
    """(name, signature) of the pieces the entries `kept` call in `face`, in the order met."""
    return [(K.PIECES[slot], K.piece_signature(K.PIECE_ARGS[slot], dtype))
            for slot in K.piece_slots(K, op[kept], (face,), size[kept])]


def sweep_ahead_of_tape(tape, n, root, op_saves):
    """sweep_ahead for the first reverse sweep of `tape`'s first n entries from `root`, once
    per process and only while no sweep has run: for a caller about to compile another
    kernel before any backward (a 0-d create_graph compiles record_backward, then its
    result's backward compiles sweep_core: 4.6 + 3.7 s one after the other with an empty
    cache).  The arguments are the ones that backward builds (Tape.sweep_arrays), so the
    child compiles the signature it will call (op_saves: the one the backward passes); a
    wrong guess costs only the child's work.  Only the pieces of entries a gradient from
    `root` reaches are listed: not those of other graphs on the tape, which that backward
    never meets."""
    if not expect_pending():
        return
    tier = max(_level["sweep"], (_OP_TIERS or _load_tiers())[tape.op[root]])
    if _ahead.looked_at(SWEEPS[tier]):
        return
    reached = tape.reached((root,), n)
    s = tape.sweep_arrays(n, (root,))
    try:
        sweep_ahead(s.op, s.ia, s.ib, s.imm, s.par, s.params, s.arg_ptr, s.arg, s.off, s.size,
                    s.shp, s.nd, s.vals, s.adj, root, s.reach, s.freed, op_saves, s.host,
                    reached=reached)
    finally:
        scratch.give(s.bufs)


def forward_from(*args, tier=1):
    """K.forward_from(*args), through the lowest tier that has the entries evaluated (at
    least `tier`)."""
    return _tiered("forward", FORWARDS, _FORWARD_START, args, tier)
