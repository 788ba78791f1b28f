"""Whether this thread is tracing a step for `tapegrad.compile` (see trainstep.py).

Kept free of tapegrad imports so the low modules that must defer to a trace (the `.grad`
property, `backward()`, `Optimizer.step`/`zero_grad`, `Module.zero_grad`) can check it:
`TRACE.current` is None, or the `trainstep.StepTrace` recording on this thread, whose methods
they call instead of acting (one attribute read when no trace is open).  `OPEN[0]` counts the
traces open on all threads: the `.grad` property, read and set once per parameter per
training step, reads that plain list item (~15 ns) and the thread-local `TRACE.current` (~40
ns) only when some thread traces.  `MODE_CHANGES[0]`
counts the switches of a module's `training` flag (train()/eval()): a compiled step traced one
mode, and records again when it moved.
"""
import threading

__all__ = ["TRACE", "MODE_CHANGES", "OPEN", "begin", "end"]


class _Trace(threading.local):
    current = None


TRACE = _Trace()
OPEN = [0]
_OPEN_LOCK = threading.Lock()   # (+= on a list item is no atomic step: two threads' would race)


def begin(trace):
    """Make `trace` this thread's current trace; returns the one it replaces (for `end`)."""
    with _OPEN_LOCK:
        OPEN[0] += 1   # (counted first: a reader seeing the trace also sees the count)
    prev = TRACE.current
    TRACE.current = trace
    return prev


def end(prev):
    """Undo `begin`: `prev` (what it returned) is this thread's current trace again."""
    TRACE.current = prev
    with _OPEN_LOCK:
        OPEN[0] -= 1


MODE_CHANGES = [0]
