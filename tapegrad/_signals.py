"""`COMMIT`: the step of a backward that publishes its results, made indivisible.

A backward computes everything first (sweeps, new gradient arrays) and then, inside
`with COMMIT:`, accumulates into `.grad`, releases saved buffers and seals tapes.  Inside it

* SIGINT is deferred: Python runs signal handlers only in the main thread, between bytecodes,
  so a Ctrl-C landing half-way through the loop over leaves would leave some `.grad`
  accumulated and others not.  In the main thread the handler is swapped for one that only
  records the signal; on exit the previous handler is put back and called with it
  (`default_int_handler` raises the KeyboardInterrupt there, after the commit is whole).
* one process-wide lock is held, so backwards from several threads into the same leaves do
  not lose accumulations (torch's AccumulateGrad locks likewise).

Cost: about 1 us per backward (the handler swap through `_signal`, signal's C core, is
~0.4 us where `signal.signal` adds ~2.5 us of enum conversion per call; the lock ~0.1 us).
"""
import threading

try:
    import _signal as _sig  # CPython's C core of `signal`, without the enum wrappers
except ImportError:  # pragma: no cover - other interpreters
    import signal as _sig

__all__ = ["COMMIT"]

_SIGINT = int(_sig.SIGINT)
_MAIN = threading.main_thread().ident
_get_ident = threading.get_ident
_getsignal = _sig.getsignal
_setsignal = _sig.signal
_LOCK = threading.RLock()

# main-thread state (only the main thread ever touches it)
_depth = 0          # nesting of COMMIT blocks in the main thread
_previous = None    # the handler to put back, None when nothing was swapped
_pending = None     # (signum, frame) of a SIGINT received during the commit


def _defer(signum, frame):
    global _pending
    _pending = (signum, frame)


class _Commit:
    """Context manager; reentrant within a thread (an RLock and a depth count)."""
    __slots__ = ()

    def __enter__(self):
        global _depth, _previous
        if _get_ident() == _MAIN:
            if _depth == 0:
                old = _getsignal(_SIGINT)
                # SIG_IGN / SIG_DFL / a handler not set from Python: nothing to defer to
                if callable(old) and old is not _defer:
                    _setsignal(_SIGINT, _defer)
                    _previous = old
                else:
                    _previous = None
            _depth += 1
        _LOCK.acquire()  # a SIGINT while waiting here is deferred too
        return self

    def __exit__(self, exc_type, exc, tb):
        global _depth, _previous, _pending
        _LOCK.release()
        if _get_ident() != _MAIN:
            return False
        _depth -= 1
        if _depth or _previous is None:
            return False
        old, _previous = _previous, None
        _setsignal(_SIGINT, old)
        got, _pending = _pending, None
        if got is not None:
            old(*got)  # default_int_handler raises KeyboardInterrupt here, after the commit
        return False


COMMIT = _Commit()
