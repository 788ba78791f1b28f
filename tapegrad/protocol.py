"""The recording protocol: what appending one entry to a tape does, described once.

An entry is appended in three steps: reserve the next index (`Tape.grow` when the count
reaches `lim`: growing the streams when the tape is full, filling DEFAULTS ahead), write one
cell of each entry stream, in `STREAMS` order, then publish the entry by advancing the count.  Publishing last means an interrupt between the steps leaves no
half-written entry on the tape (the count never covers an unwritten cell).  Cells past the
count hold `DEFAULTS` in the streams that have one, and a Python writer may leave out a store
of the default value (the scalar fast path does: `python_push(lean=True)`).

Every writer of entries is rendered from this description by `tapegrad/codegen.py`, never
written by hand:

* `Tape.push`, `Tape.push_nd`, `Tape.push_input_nd` and `Tape.push_input` (generated into
  `tapegrad/_push.py`), the general path's appends (push_nd: an entry whose node has a shape,
  its shape row in the same call; push_input_nd: push_nd of a leaf or const entry, lean;
  push_input: push of a leaf or import holding a Python float, lean);
* the scalar fast path's per-op functions (`tapegrad/_fastpath.py`);
* the emit kernels of `create_graph`'s recording sweep (`emit_bin`, `emit_un`, `emit_where`,
  Numba, in `tapegrad/_kernels.py`), which append to the stream arrays themselves and reserve
  no space: the engine sized the tape from `EMIT_BOUND` before the call.

`tests/test_protocol.py` checks that every copy performs exactly these steps.
"""

# The entry streams (Tape attributes; Numba kernels take the arrays under the same names) in
# the order an entry writes them, with what each holds.
STREAMS = (
    ("op", "opcode"),
    ("ia", "first input node, -1: a constant operand"),
    ("ib", "second input node, -1: a constant operand"),
    # (an immediate, as an instruction's: a number held in the entry, which its op reads as
    # the constant operand of `x * 0.999`, the parameter of `x ** 2.5`, a mean's 1/count, a
    # count (cat's pieces, a pyfunc's outputs) or an `output` entry's output_nr)
    ("imm", "the entry's immediate: a number its op defines the meaning of"),
    ("val", "the node's value when it has one element"),
)
NAMES = tuple(name for name, _ in STREAMS)

# What a cell of these streams holds until an entry is written there: cells n..lim-1 of a tape
# hold it (Tape.grow fills them ahead, and every append calls grow when n reaches lim; a writer
# that stores past the count without publishing puts the defaults back), so an append whose
# value for such a stream is the default may skip that store.  The scalar fast path does (a
# store costs ~15 ns, a fifth of an op's tape work).
DEFAULTS = {"ib": "-1", "imm": "0.0"}


def python_push(values, indent, tape="tape", n="n", lean=False, succ=False):
    """Source lines of one append from Python: `values` maps each stream to an expression; the
    new entry's index is left in local `n`.  `lean`: skip the stores of DEFAULTS values.
    `succ` (the scalar fast path): publish the count read from `Tape.succ` (int objects made
    once; `n + 1` makes one per append)."""
    lines = [f"{n} = {tape}.n",
             f"if {n} >= {tape}.lim:",
             f"    {tape}.grow()"]
    lines += [f"{tape}.{name}[{n}] = {values[name]}" for name in NAMES
              if not (lean and DEFAULTS.get(name) == str(values[name]))]
    lines.append(f"{tape}.n = {tape}.succ[{n}]" if succ else f"{tape}.n = {n} + 1")
    return [indent + ln for ln in lines]


def numba_push(values, indent, k="k", count="cnt[0]"):
    """Source lines of one append inside a Numba kernel whose stream arrays are locals named as
    the streams and whose entry count is `count` (space reserved by the caller)."""
    lines = [f"{k} = {count}"]
    lines += [f"{name}[{k}] = {values[name]}" for name in NAMES]
    lines.append(f"{count} = {k} + 1")
    return [indent + ln for ln in lines]
