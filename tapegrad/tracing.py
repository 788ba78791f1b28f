"""Tracing for replay: while `tapegrad.record` traces a program, a traced value that
becomes a Python value (`item()`, `bool()`, `tolist()`, an index) is baked into the tape as a
guard entry, which every replay re-checks (`BranchChanged` when it no longer holds)."""
import numpy as np

from .errors import TracingError
from .ops import OPS
from .tape import input_node, STATE, UNTRACED


def _tracing(t):
    """The recording tape when `t` is traced by tapegrad.record, else None.  Under no_grad
    or inference_mode too (the parked tape): a mask, cast or index computed there needs no
    gradient in torch either, and recorded it follows the inputs in a replay."""
    if not t._recorded:
        return None
    tape = STATE.tape
    if tape.recording:
        return tape
    tape = STATE.parked
    return tape if tape.recording else None


def refuse_state_update(what):
    """While tapegrad.record or tapegrad.compile traces a function: TracingError for `what`,
    an in-place update of state the traced values do not hold (a module's buffers), which
    every replay would leave out (never a silent difference)."""
    if STATE.tape.recording:
        raise TracingError(f"tapegrad.compile: {what} updates state in place that a replay "
                           f"would not update again; run it eagerly, or trace it in eval() "
                           f"mode")


def _guard_site():
    """'file:line: source' of the first caller outside tapegrad (named in BranchChanged)."""
    import linecache
    import os
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(here):
        f = f.f_back
    if f is None:
        return "<unknown>"
    line = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f"{f.f_code.co_filename}:{f.f_lineno}: {line}"


def _bake(t, kind, truth=None):
    """While recording, a traced value turned into a Python value becomes a guard entry: the
    replay re-checks it (`bool`: which way the branch went; `value`: the value itself)."""
    tape = _tracing(t)
    if tape is None:
        return
    _push_guard(tape, t, kind, truth)


def guard_all(cond):
    """bool(all of cond) through the tensor ops, so that while recording it is a guard.  The
    order statistics' guards hold by construction but where a nan compared false: then the
    pattern itself is guarded, or a replay could pass with another pattern just as false."""
    ok = bool(cond.sum() == cond.numel())
    if not ok:
        _bake(cond, "guard_value")
    return ok


def guard_nans(x):
    """While recording: where x holds nan becomes a guard (the order statistics pick nan as
    the largest element: a replay with nan elsewhere would pick other positions)."""
    if x._dtype.is_floating_point and _tracing(x) is not None:
        _bake(x != x, "guard_value")


def guard_untraced(tape, x, y):
    """Under no_grad or inference_mode while `tape` records: an op reading a value traced on
    it (x or y) records no entry, so its result is a constant of the tape; the value it read
    becomes a guard, so a replay where that value differs raises BranchChanged instead of
    reusing the result (tape.open_tape calls this).  A tensor from outside it reads (a target
    network's weight) joins `tape.baked`, the constants a compiled step guards between calls."""
    for t in (x, y):
        if getattr(t, "_recorded", False) and (
                t._tape is tape or t._tape is None and t._lserial == tape.serial):
            _push_guard(tape, t, "guard_value")
        elif getattr(t, "_tape", 0) is None and not t._recorded:
            tape.baked.append(t)


UNTRACED[0] = guard_untraced


def _push_guard(tape, t, kind, truth=None):
    """_bake's guard entry for traced t on recording `tape`."""
    site = _guard_site()
    if tape.strict:
        raise TracingError(f"strict recording: a traced value is converted to a Python value "
                           f"at {site}; use tapegrad.where for value-dependent selection")
    node = input_node(tape, t)
    arr = t._array()
    if kind == "guard_bool":
        n = tape.push(OPS[kind].code, node, -1, 1.0 if truth else 0.0, 0.0)
    elif arr.size == 1:
        n = tape.push(OPS[kind].code, node, -1, float(arr.reshape(-1)[0]), 0.0)
    else:
        n = tape.push(OPS[kind].code, node, -1, 0.0, 0.0, arr.shape)
        tape.save(n, np.asarray(arr, dtype=np.float64))
    tape.guard_src[n] = site
