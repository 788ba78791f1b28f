"""Kinds' kernel pieces called by address, compiled only when a tape first needs them: the
structural kinds' (`sweep_reduce`, `forward_matmul`, ...) and the elementwise kinds' n-d loops
(`sweep_binary_rows`, ...: codegen.OP_PIECE, which take the row's opcode first).

Why: Numba links every callee's code into each jitted caller and compiles it again there.  The
sweep and forward kernels used to call the structural kinds' pieces (`sweep_reduce`,
`forward_matmul`, ...) directly, so each of those kernels compiled every piece again, and a
process compiled every kind whether its graphs used it or not: the first n-d backward after a
one-element one took ~12 s with an empty cache, ~7 s of it `sweep_core`.  Called by address,
a piece is compiled once, alone, when a kernel first meets an entry of its kind, and the
kernels hold only the call.

How: `piece_at(slot, vals)` reads the address of piece `slot` from this process's table for
the arena dtype of `vals` (a global array whose symbol, `TABLE_SYMBOL[dtype]`, is resolved
when Numba loads the kernel, from the cache too: the address is never in compiled code or in
tape data); 0 means "not compiled yet", and the kernel returns to Python (tapegrad.tiers),
which calls `fill_piece` and resumes at that entry.  Drivers that cannot return to Python
mid-way (the Jacobian and batch kernels) are preceded by `fill_pieces` for every kind on their
tape.
`call_piece(address, args)` calls the piece with Numba's own calling convention: the
arguments' data models are those of the canonical signature (`piece_signature`), whatever
the arrays' layout flags (an array's model is the same struct for every layout).

Imported by the generated tapegrad/_kernels.py (before any of its functions is loaded: the
symbols must be registered first), which also hands `fill_piece` and `fill_pieces` to Python
(`K.fill_piece(K, slot, dtype)`), so importing tapegrad stays free of numba.
"""
import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["SLOTS", "TABLE_SYMBOL", "piece_at", "call_piece", "piece_signature", "fill_piece",
           "fill_pieces", "piece_slots"]

SLOTS = 256           # pieces a table holds (codegen checks the pieces fit)
# one table per arena dtype: a piece compiled for float32 arenas is another function
TABLES = {np.dtype(np.float64): np.zeros(SLOTS, np.int64),
          np.dtype(np.float32): np.zeros(SLOTS, np.int64)}
TABLE_SYMBOL = {dt: "tapegrad_kind_pieces_" + dt.name for dt in TABLES}
for _dt, _table in TABLES.items():
    llvm.add_symbol(TABLE_SYMBOL[_dt], _table.ctypes.data)

# the pieces' parameters (kinds/*.py): index scalars, then the tape's streams, then arenas
_INDEX_ARGS = ("o", "e", "a", "b", "out_off", "n")   # (o: an elementwise kind's row)
_STREAMS = {"off": (types.int64, 1), "size": (types.int64, 1), "shp": (types.int64, 2),
            "nd": (types.int64, 1), "par": (types.int64, 1), "params": (types.int64, 1),
            "arg_ptr": (types.int64, 1), "arg": (types.int64, 1), "imm": (types.float64, 1)}
_ARENAS = ("vals", "adj")


def piece_signature(names, dtype):
    """The Numba argument types a piece with parameters `names` is compiled for and called
    with, in arenas of `dtype` (C-contiguous, writable arrays: one signature per dtype)."""
    arena = types.Array(types.float64 if np.dtype(dtype) == np.float64 else types.float32, 1,
                        "C")
    out = []
    for name in names:
        if name in _INDEX_ARGS:
            out.append(types.int64)
        elif name in _STREAMS:
            out.append(types.Array(_STREAMS[name][0], _STREAMS[name][1], "C"))
        elif name in _ARENAS:
            out.append(arena)
        else:
            raise TypeError(f"tapegrad: a kind piece has an unknown parameter {name!r}")
    return tuple(out)


def _arena_dtype(vals):
    if not (isinstance(vals, types.Array) and vals.ndim == 1
            and vals.dtype in (types.float64, types.float32)):
        raise TypeError(f"tapegrad: kind pieces run on 1-d float64 or float32 arenas, not {vals}")
    return np.dtype(vals.dtype.name)


@intrinsic
def piece_at(typingctx, slot, vals):
    """Address of piece `slot` for arenas like `vals`, 0 until `fill` has compiled it."""
    name = TABLE_SYMBOL[_arena_dtype(vals)]

    def codegen(context, builder, sig, args):
        module = builder.module
        i64 = ir.IntType(64)
        try:
            table = module.get_global(name)
        except KeyError:
            table = ir.GlobalVariable(module, ir.ArrayType(i64, SLOTS), name)
            table.linkage = "external"
        index = context.cast(builder, args[0], sig.args[0], types.int64)
        return builder.load(builder.gep(table, [ir.Constant(ir.IntType(32), 0), index]))

    return types.int64(slot, vals), codegen


# the parameters of a piece by face and whether its kind has operand lists (codegen checks
# every piece's against these and PIECE_CALL passes them in this order)
_SWEEP_ARGS = _INDEX_ARGS[1:] + ("off", "size", "shp", "nd", "par", "params", "imm", "vals",
                                 "adj")
PARAMS = {(face, listed): args[:11] + (("arg_ptr", "arg") if listed else ()) + args[11:]
          for face, args in (("sweep", _SWEEP_ARGS), ("forward", _SWEEP_ARGS[:-1]))
          for listed in (False, True)}
# an elementwise kind's pieces (codegen.OP_PIECE) take the row's opcode first
PARAMS.update({(face + "_op", listed): ("o",) + names for (face, listed), names in PARAMS.items()})


def _canonical(given):
    """The canonical signature (piece_signature) of the parameters a call passes, or a
    TypeError: a call whose types differ would read its arguments with another layout."""
    for names in PARAMS.values():
        if len(names) != len(given):
            continue
        arena = given[names.index("vals")]
        if not (isinstance(arena, types.Array) and arena.dtype in (types.float64, types.float32)):
            break
        want = piece_signature(names, arena.dtype.name)
        if all(isinstance(g, types.Integer) if isinstance(w, types.Integer) else
               isinstance(g, types.Array) and (g.dtype, g.ndim) == (w.dtype, w.ndim)
               and g.layout in ("C", "A") for g, w in zip(given, want)):
            return want
    raise TypeError(f"tapegrad: a kind piece is called with {given}, not the parameters of "
                    f"one (int64 indices and streams, a float64 or float32 arena)")


@intrinsic
def call_piece(typingctx, address, args):
    """Call the piece at `address` with the tuple `args` (its parameters in order)."""
    given = tuple(args.types)
    want = _canonical(given)

    def codegen(context, builder, sig, llargs):
        values = []
        for i, (g, w) in enumerate(zip(given, want)):
            v = builder.extract_value(llargs[1], i)
            if isinstance(w, types.Array):
                if g.layout != "C":   # (the same struct; the piece indexes it as contiguous)
                    _check_contiguous(context, builder, g, v)
            else:
                v = context.cast(builder, v, g, w)
            values.append(v)
        fnty = context.call_conv.get_function_type(types.none, want)
        fn = builder.inttoptr(context.cast(builder, llargs[0], sig.args[0], types.int64),
                              fnty.as_pointer())
        status, _ = context.call_conv.call_function(builder, fn, types.none, want, values)
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return context.get_dummy_value()

    return types.none(address, args), codegen


def _check_contiguous(context, builder, typ, value):
    """Raise in the kernel unless the array `value` of layout "A" is C-contiguous."""
    ary = context.make_array(typ)(context, builder, value)
    strides = cgutils.unpack_tuple(builder, ary.strides, typ.ndim)
    shape = cgutils.unpack_tuple(builder, ary.shape, typ.ndim)
    expect = ary.itemsize
    ok = cgutils.true_bit
    for d in range(typ.ndim - 1, -1, -1):
        ok = builder.and_(ok, builder.icmp_signed("==", strides[d], expect))
        expect = builder.mul(expect, shape[d])
    with cgutils.if_unlikely(builder, builder.not_(ok)):
        context.call_conv.return_user_exc(builder, RuntimeError,
                                          ("tapegrad: a kind piece was given a non-contiguous array",))


def fill_piece(kernels, slot, dtype):
    """Compile piece `slot` of the kernel module `kernels` (PIECES, PIECE_ARGS) for arenas of
    `dtype` and enter its address in that dtype's table (once per process)."""
    table = TABLES[np.dtype(dtype)]
    if table[slot] == 0:
        dispatcher = getattr(kernels, kernels.PIECES[slot])
        sig = piece_signature(kernels.PIECE_ARGS[slot], dtype)
        dispatcher.compile(sig)
        result = dispatcher.overloads[sig]
        if result.signature.return_type != types.none:   # (call_piece discards no value)
            raise TypeError(f"tapegrad: kind piece {kernels.PIECES[slot]} returns a value")
        table[slot] = result.library.get_pointer_to_function(result.fndesc.llvm_func_name)


def piece_slots(kernels, op, faces=("sweep", "forward"), size=None):
    """The slots of the pieces that entries with opcodes `op` call in `faces`, each once, in
    the order the kernels meet them (a forward's first entry first, a sweep's last entry
    first).  With the entries' `size`, a core row's one-element entries are left out: the
    kernels run them inline (OP_CORE)."""
    if size is not None:
        op = op[(size != 1) | (kernels.OP_CORE[op] == 0)]
    slots = []
    for face in faces:
        used = (kernels.OP_SWEEP_PIECE[op[::-1]] if face == "sweep"
                else kernels.OP_FORWARD_PIECE[op])
        found, first = np.unique(used, return_index=True)
        slots += [s for s in found[np.argsort(first)].tolist() if s >= 0]
    return slots


def fill_pieces(kernels, op, dtype, faces=("sweep", "forward"), size=None):
    """`fill_piece` every piece that entries with opcodes `op` call in `faces` (piece_slots):
    before a driver, which cannot stop at an entry whose piece is missing."""
    table = TABLES[np.dtype(dtype)]
    for slot in piece_slots(kernels, op, faces, size):
        if table[slot] == 0:
            fill_piece(kernels, slot, dtype)
