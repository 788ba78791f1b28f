"""scatter(..., reduce='add'/'multiply'), scatter_reduce and index_reduce (sum, prod, mean,
amax, amin, include_self), with torch's gradients.

Each position p of the result reduces a row of candidates: input[p] (unless include_self is
False and something is scattered to p) and the src elements scattered to p.  The rows are one
constant index table T (P rows, as wide as the most crowded position, padded with the
reduction's identity), so the op is recorded as a decomposition on existing rows:

    V = cat(input.flat, src.flat, [identity]);  C = V.take(T);  out = reduce(C, dim 1)

and its gradient is the reductions' own (ScatterReduceBackward0 / IndexReduceBackward0,
edges input and src): sum and mean pass g (g / count) to each candidate, prod is prod's (right
with one and with several zeros), amax/amin split g evenly among the candidates equal to the
result, as torch.  T depends on the index only, so a replay recomputes every value.

`scatter(reduce=...)` (torch's legacy form) computes the same values; torch implements no
derivative for it, so when a gradient would be recorded the result comes from a Function whose
backward raises torch's error.  `Tensor.scatter`/`scatter_` live here (structops.scatter is
the plain form) so that the reduce forms reach this module."""
import math

import numpy as np

from . import decomps, dtypes as D, errors, structops as S
from .creation import tensor
from .grad_mode import is_grad_enabled
from .native_args import arg_error
from .pyfunc import Function
from .tensor import Tensor, tensor_methods
from .ndops import _binary, where
from .ops import OPS
from .views import cat, KIND_OPS

_REDUCES = ("sum", "prod", "mean", "amax", "amin")
_STRAIGHT_THROUGH = OPS["straight_through"].code


def _identity(reduce, dt):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = math.inf if dt.is_floating_point else (np.iinfo(dt.np).max if dt is not D.bool_ else 1)
    return -big if reduce == "amax" else big


def _table(P, out_pos, src_pos, include_self):
    """(T, count): the candidates' positions in cat(input.flat, src.flat, [pad]) per result
    position (pad: P + src size), and how many are real."""
    counts = np.bincount(out_pos, minlength=P) if out_pos.size else np.zeros(P, np.int64)
    width = 1 + (int(counts.max()) if out_pos.size else 0)
    pad = -1
    T = np.full((P, width), pad, np.int64)
    T[:, 0] = np.where((counts > 0) & (not include_self), pad, np.arange(P))
    if out_pos.size:
        order = np.argsort(out_pos, kind="stable")
        sorted_pos = out_pos[order]
        rank = np.arange(len(order)) - np.searchsorted(sorted_pos, sorted_pos, side="left")
        T[sorted_pos, 1 + rank] = P + src_pos[order]
    return T, (T >= 0).sum(1)


def _reduce_at(name, input, src, out_pos, src_pos, reduce, include_self):
    """input with src's elements at src_pos reduced into its flat positions out_pos."""
    if src._dtype is not input._dtype:
        raise RuntimeError(f"{'scatter' if name == 'scatter_reduce' else name}(): Expected "
                           f"self.dtype to be equal to src.dtype")
    P = input.numel()
    T, count = _table(P, out_pos, src_pos, include_self)
    pad = P + src.numel()
    scattered = np.bincount(out_pos, minlength=P)[:P] > 0 if out_pos.size else np.zeros(P, bool)
    T = np.where(T < 0, pad, T)
    ident = _identity(reduce, input._dtype)
    shape = input._shape
    if not ((input._recorded or src._recorded) and is_grad_enabled() and input._dtype.is_floating_point):
        V = np.concatenate([input._array().reshape(-1), src._array().reshape(-1),
                            np.array([ident], input._dtype.np)])
        C = V[T]
        if reduce == "mean":
            s = C.sum(1)
            r = s / count if input._dtype.is_floating_point else s // count
        else:
            r = {"sum": np.sum, "prod": np.prod, "amax": np.max, "amin": np.min}[reduce](C, 1)
        return Tensor._wrap(np.asarray(r, input._dtype.np).reshape(shape), input._dtype)
    index = tensor(T)
    extreme = reduce in ("amax", "amin")
    from_src = tensor((T >= P) & (T < pad))   # (the columns holding a src element)

    def body(_, x, s):
        xf, padv = x.reshape(-1), tensor([ident], dtype=x.dtype)
        if extreme and not include_self:
            # NOTE: torch's amax/amin gradient counts input[p] among the ties when it equals
            # the result even with include_self=False (and then gives it nothing): a detached
            # candidate, present only where it equals the result of the others
            others = cat([xf, s.reshape(-1), padv]).take(tensor(np.where(
                np.arange(T.shape[1]) == 0, pad, T)))
            r0 = others.amax(1) if reduce == "amax" else others.amin(1)
            fill = tensor(np.full(P, ident, x.dtype.np))
            xf = where(tensor(scattered),
                       where(xf == r0, xf.detach(), fill), xf)
            C = cat([xf, s.reshape(-1), padv]).take(tensor(np.where(
                np.arange(T.shape[1]) == 0, np.arange(P)[:, None], T)))
        else:
            C = cat([xf, s.reshape(-1), padv]).take(index)
        if reduce == "sum":
            r = C.sum(1)
        elif reduce == "mean":
            r = C.sum(1) / tensor(count.astype(x.dtype.np))
        elif reduce == "prod":
            r = C.prod(1)
        else:
            r = C.amax(1) if reduce == "amax" else C.amin(1)
            # NOTE: amax's gradient splits g among all candidates equal to the result, the
            # identity padding the rows too: at a result equal to the identity (-inf for amax)
            # the real ones got a share only.  torch's counts the src elements and input[p]
            # equal to it: the result passes g * (all ties / torch's) (straight_through: the
            # value stays r's)
            ties = C == r.unsqueeze(1)
            counted = (ties & from_src).sum(1) + (x.reshape(-1) == r)
            k = where(counted > 0, ties.sum(1).to(x.dtype) / counted.to(x.dtype), 1.0)
            r = _binary(_STRAIGHT_THROUGH, r * k, r)
        return r.reshape(shape)
    return decomps.record(name, body, KIND_OPS, input, src, edges=(input, src))


def _src_tensor(input, idx, src, value):
    if isinstance(src, Tensor):
        return src
    v = value if src is None else src
    return tensor(np.full(idx.shape, v, input._dtype.np), dtype=input._dtype)


def _scatter_positions(fn, input, dim, index, src):
    idx, d = S._checked_index(fn, input, dim, index, False)
    S._scatter_shape_check(input, d, idx, src)
    out_pos = S._scatter_grid(input._shape or (1,), d, idx).reshape(-1) if idx.size \
        else idx.reshape(-1)
    src_pos = S._scatter_grid(src._shape or (1,), d, np.indices(idx.shape)[d]).reshape(-1) \
        if idx.size else idx.reshape(-1)
    return out_pos, src_pos


@S._saves_index(2, "index")
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """input with src's elements reduced in at index along dim (ScatterReduceBackward0)."""
    if reduce not in _REDUCES:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    out_pos, src_pos = _scatter_positions("scatter_reduce", input, dim, index, src)
    return _reduce_at("scatter_reduce", input, src, out_pos, src_pos, reduce,
                      bool(include_self))


@S._saves_index(2, "index")
def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """input with source's slices reduced in at index along dim (IndexReduceBackward0)."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    errors.warn_once("index_reduce() is in beta and the API may change at any time.")
    idx, d = S._checked_index("index_reduce", input, dim, index, True, loop=True)
    # (torch's checks of source: its size along dim, then its other dims against input's;
    # numpy would broadcast a (3, 1) or a 0-d source)
    ss, n = source._shape, len(idx)
    if ss and d < len(ss) and n != ss[d]:
        raise RuntimeError(f"index_reduce_(): Number of indices ({n}) should be equal to "
                           f"source.size(dim): ({ss[d]}), for dim: {d}")
    if len(ss) != len(input._shape) or any(a != b for k, (a, b) in enumerate(
            zip(input._shape, ss)) if k != d):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input._shape)} "
                           f"source.shape = {list(ss)}")
    out_pos = S._index_grid(input._shape, d, idx).reshape(-1)
    if source.numel() != out_pos.size:
        raise RuntimeError(f"index_reduce_(): Number of indices ({len(idx)}) should be equal to "
                           f"source.size(dim) ({source._shape[d] if source.dim() else 1})")
    return _reduce_at("index_reduce", input, source, out_pos, np.arange(out_pos.size), reduce,
                      bool(include_self))


class NotImplemented(Function):   # noqa: A001  (torch's node for scatter(reduce=))
    """scatter(reduce=...)'s values when a gradient would be recorded: torch has no
    derivative for it, so backward raises torch's error."""

    @staticmethod
    def forward(ctx, x, s, values):
        return values.clone()

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("derivative for aten::scatter is not implemented")


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """input with src's elements (or value) written at index along dim (ScatterBackward0/1);
    with reduce='add'/'multiply' combined with what is there (no derivative, as torch)."""
    if src is None and value is None:
        raise _missing_source(False, (input, dim, index), reduce)
    if reduce is None:
        return S.scatter(input, dim, index, src, value)
    if reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    if src is None and value is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    idx = S._checked_index("scatter", input, dim, index, False)[0]
    s = _src_tensor(input, idx, src, value)
    out_pos, src_pos = _scatter_positions("scatter", input, dim, index, s)
    if isinstance(src, Tensor):
        errors.warn_once("The reduce argument of torch.scatter with Tensor src is deprecated "
                         "and will be removed in a future PyTorch release. Use "
                         "torch.scatter_reduce instead for more reduction options.")
    red = "sum" if reduce == "add" else "prod"
    plain = _reduce_at("scatter_reduce", input.detach(), s.detach(), out_pos, src_pos, red, True)
    if (input._recorded or s._recorded) and is_grad_enabled():
        return NotImplemented.apply(input, s, plain)
    return plain


def _missing_source(method, args, reduce):
    """torch's parser's TypeError for scatter without src or value."""
    return arg_error("scatter", method, args, {} if reduce is None else {"reduce": reduce})


@tensor_methods
class _Methods:
    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        if src is None and value is None:
            raise _missing_source(True, (dim, index), reduce)
        return scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        other = src if isinstance(src, Tensor) else None
        return S._inplace_via(self, lambda x: scatter(x, dim, index, src, value, reduce=reduce),
                              other, "any")

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        return scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        return S._inplace_via(self, lambda x: scatter_reduce(x, dim, index, src, reduce,
                                                             include_self=include_self), src,
                              "any")

    def index_reduce(self, dim, index, source, reduce, *, include_self=True):
        return index_reduce(self, dim, index, source, reduce, include_self=include_self)

    def index_reduce_(self, dim, index, source, reduce, *, include_self=True):
        return S._inplace_via(self, lambda x: index_reduce(x, dim, index, source, reduce,
                                                           include_self=include_self), source,
                              "any")
