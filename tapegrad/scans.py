"""Scans of torch's own nodes: cummax / cummin (values and indices; CummaxBackward0 /
CumminBackward0) and logcumsumexp (LogcumsumexpBackward0).

cummax / cummin find the running extreme's index with numpy and record the values as one
`gather` entry reading those positions (as sort & co, tapegrad/structops.py), so the gradient
goes to exactly the returned indices.  While `tapegrad.record` traces, a guard re-checks that
they are still the running extremes.  logcumsumexp is a decomposition row
(tapegrad/decomps_math.py)."""
import numpy as np

from . import decomps, decomps_math as DM, dtypes as D, return_types
from .ndops import where
from .structops import _all, _gather, _positions
from .tensor import _dim, _int_arg, Tensor, tensor_methods
from .tracing import _tracing, guard_nans
from .views import KIND_OPS

__all__ = ["cummax", "cummin", "logcumsumexp"]


# NOTE: as torch's CPU kernel, the running extreme moves to a later element that ties it
# (>= for cummax, <= for cummin) or that is nan (nan then stays the extreme until the next
# nan), so on ties the gradient goes to the last tied element seen so far.
def _running_index(arr, d, is_max):
    """The index along d of the running maximum (minimum) at each position."""
    a = np.moveaxis(arr, d, 0)
    idx = np.zeros(a.shape, np.int64)
    if a.shape[0] == 0:
        return np.moveaxis(idx, 0, d)
    cur = a[0].copy()
    at = np.zeros(a.shape[1:], np.int64)
    for j in range(1, a.shape[0]):
        x = a[j]
        take = x >= cur if is_max else x <= cur
        if a.dtype.kind == "f":
            take |= np.isnan(x)
        cur = np.where(take, x, cur)
        at = np.where(take, j, at)
        idx[j] = at
    return np.moveaxis(idx, 0, d)


def _guard_running(x, values, idx, d, is_max):
    """While recording: the positions found now are still the running extremes (for output
    j, every element up to its index at most the value, every one after it and up to j
    strictly below: for cummax), or a replay raises BranchChanged."""
    n = x._shape[d]
    k = np.arange(n).reshape([n if i == d else 1 for i in range(x.dim() + 1)])
    j = np.arange(n).reshape([n if i == d + 1 else 1 for i in range(x.dim() + 1)])
    xk, v = x.unsqueeze(d + 1), values.unsqueeze(d)
    upto = Tensor._wrap(k <= np.expand_dims(idx, d), D.bool_)
    loose, strict = (xk <= v, xk < v) if is_max else (xk >= v, xk > v)
    later = Tensor._wrap(np.array(np.broadcast_to(k > j, upto.shape)), D.bool_)
    guard_nans(x)
    _all(where(later, later, where(upto, loose, strict)))   # (outputs before k: no check)


def _dim_arg(fn, x, dim, pos):
    """dim as a non-negative int, with torch's errors (pos: its position, 1 for a method)."""
    dim = _int_arg(dim, fn, "dim", pos).__index__()
    if not x.dim() and fn != "logcumsumexp" and dim not in (0, -1):
        raise IndexError(f"{fn}(): Expected reduction dim -1 or 0 for scalar but got {dim}")
    return _dim(dim, x.dim())


def _cum_extreme(name, input, dim, pos=2):
    d = _dim_arg(name, input, dim, pos)
    arr = input._array()
    a = arr if input.dim() else arr.reshape(1)
    idx = _running_index(a, d, name == "cummax")
    pos = np.take_along_axis(_positions(input).reshape(a.shape), idx, d)
    if not input.dim():
        pos, idx = pos.reshape(()), idx.reshape(())
    values = _gather(name, input, pos)
    # (row-major, as torch's: _running_index walks d first and moves it back)
    indices = Tensor._wrap(np.asarray(idx, np.int64, order="C"), D.int64)
    if _tracing(values) is not None and input.dim() and input._shape[d] > 1:
        _guard_running(input, values, idx, d, name == "cummax")
    return getattr(return_types, name)((values, indices))


def cummax(input, dim):
    """(values, indices): the running maximum along dim and its index (CummaxBackward0: the
    gradient goes to the index; on ties the last element, as torch)."""
    return _cum_extreme("cummax", input, dim)


def cummin(input, dim):
    """(values, indices): the running minimum along dim and its index (CumminBackward0)."""
    return _cum_extreme("cummin", input, dim)


def logcumsumexp(input, dim):
    """log(cumsum(exp(input), dim)), computed stably (LogcumsumexpBackward0)."""
    return _logcumsumexp(input, dim, 2)


def _logcumsumexp(input, dim, pos):
    d = _dim_arg("logcumsumexp", input, dim, pos)
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for "
                                  f"'{input._dtype.legacy}'")
    return decomps.record("logcumsumexp", DM.logcumsumexp, KIND_OPS, input, d)


@tensor_methods
class _ScanMethods:
    """Tensor.cummax, cummin, logcumsumexp."""

    def cummax(self, dim):
        return _cum_extreme("cummax", self, dim, 1)

    def cummin(self, dim):
        return _cum_extreme("cummin", self, dim, 1)

    def logcumsumexp(self, dim):
        return _logcumsumexp(self, dim, 1)
