"""Whether this thread is tracing a step for `tapegrad.compile` (see trainstep.py).

Kept free of tapegrad imports so the low modules that must defer to a trace (the `.grad`
property, `backward()`, `Optimizer.step`/`zero_grad`, `Module.zero_grad`) can check it:
`TRACE.current` is None, or the `trainstep.StepTrace` recording on this thread, whose methods
they call instead of acting (one attribute read when no trace is open).  `MODE_CHANGES[0]`
counts the switches of a module's `training` flag (train()/eval()): a compiled step traced one
mode, and records again when it moved.
"""
import threading

__all__ = ["TRACE", "MODE_CHANGES"]


class _Trace(threading.local):
    current = None


TRACE = _Trace()


MODE_CHANGES = [0]
