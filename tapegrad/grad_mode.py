"""Grad mode: `no_grad`, `enable_grad`, `set_grad_enabled`, `is_grad_enabled` (thread-local).

The flag lives in `tape.STATE`, next to the tape this thread records into, so an op reads
both from one thread-local object.
"""
import functools

from .tape import STATE, CLOSED


def is_grad_enabled():
    return STATE.enabled


def _set(mode):
    """Switch grad mode.  Turning it off parks the open tape (ops see `CLOSED` and record
    nothing); turning it back on reopens the parked tape, so a loop with a `no_grad` block
    in each step still records one graph on one tape.  (A leaf changed in place meanwhile
    has its tape cache cleared, so its next use records its new value.)"""
    st = STATE
    if mode == st.enabled:
        return
    st.enabled = mode
    if mode:
        st.tape, st.parked = st.parked, CLOSED
    else:
        st.parked, st.tape = st.tape, CLOSED


class _GradModeContext:
    """Base: a context manager that is also a decorator (as torch's)."""
    _target = True

    def __enter__(self):
        self._prev = STATE.enabled
        _set(self._target)

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_GradModeContext):
    _target = False

    def __init__(self, orig_func=None):
        if orig_func is not None and not callable(orig_func):
            raise TypeError("no_grad() takes no positional arguments")


class enable_grad(_GradModeContext):
    _target = True


class set_grad_enabled(_GradModeContext):
    """Sets grad mode on construction (like torch) and restores it on exit."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, "
                            f"not {type(mode).__name__}")
        self._prev = STATE.enabled
        self._target = mode
        _set(mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, fn):
        _set(self._prev)
        mode = self._target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return set_grad_enabled(self._target)
