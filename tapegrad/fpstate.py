"""numpy's floating-point warnings off for one call or one stretch of code, as
`np.errstate(all="ignore")` (torch gives inf and nan silently: overflowing float32 casts,
0/0), but without building a context object each time: numpy >= 2 keeps the error state in a
context variable, set to a prebuilt value (`ERR_SET(QUIET)`) and reset after (`ERR_RESET`)."""
import numpy as np

# Python numbers within this converts to float32 without overflow: the callers convert others
# under `quiet` (a comparison costs less than the call on the hot paths)
F32_MAX = float(np.finfo(np.float32).max)

try:
    from numpy._core.umath import _extobj_contextvar, _make_extobj
    QUIET, ERR_SET, ERR_RESET = _make_extobj(all="ignore"), _extobj_contextvar.set, \
        _extobj_contextvar.reset

    def quiet(fn, *args):
        """fn(*args) with floating-point warnings off."""
        token = ERR_SET(QUIET)
        try:
            return fn(*args)
        finally:
            ERR_RESET(token)
except ImportError:  # pragma: no cover - numpy < 2
    quiet = np.errstate(all="ignore")(lambda fn, *args: fn(*args))
    QUIET, ERR_SET = "ignore", lambda q: np.seterr(all=q)
    ERR_RESET = lambda old: np.seterr(**old)
