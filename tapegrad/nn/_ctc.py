"""nn.functional.ctc_loss (nn.CTCLoss): the connectionist temporal classification loss, with
torch's signature, checks, messages, reductions and grad_fn chain.

torch composes it (ctc_loss_impl, aten/src/ATen/native/LossCTC.cpp) around one node of its
own, `_ctc_loss` (CtcLossBackward0: the negative log-likelihood of each sequence):

    [log_probs.unsqueeze(1) if unbatched] -> _ctc_loss -> [where(inf, 0) if zero_infinity]
    -> (/ target lengths clamped to 1).mean() | .sum() | [squeeze(0) if unbatched]

and so does this module; `_ctc_loss` is the decomposition row `ctc_loss` (tapegrad/ops.py,
body `_nll` below), so its grad_fn carries torch's name and its gradient, create_graph,
replay and tape files are those of the primitives it records.

The body is the forward-variable (alpha) recursion in log space, vectorized over the batch
and the extended-label states (blank, l1, blank, l2, ..., blank; L = 2 S + 1): one gather of
the per-step log-probabilities at the extended labels, then per time step a sliding window
(s-2, s-1, s) of the previous alphas, the s-2 term masked where the skip transition is not
allowed (a blank, or a label equal to the one two states back), their log-sum-exp and the new
log-probability; a sequence past its input length keeps its alphas.  Python runs once per
time step, never per element.  Where all terms of a log-sum-exp are -inf (an unreachable
state) the sum is made safe before its log, so an unreachable state passes a zero gradient,
not 0 * inf = nan.

Gradient: torch's CtcLossBackward0 gives exp(log_probs) - posterior (the gradient through a
log_softmax that torch assumes produced log_probs; the derivative of the loss itself is
-posterior), 0 past a sequence's input length, nan where the loss is infinite (0 with
zero_infinity).  The body adds terms whose value is exactly 0 and whose gradients are those
extra parts (d = exp(lp).detach() - exp(lp), subtracted, where the loss is finite;
0 * sqrt(d) where it is infinite, whose gradient is 0 / 0), so the gradient w.r.t. log_probs
is torch's to rounding, and a finite-difference check passes through a log_softmax.

Masks that depend on the targets' values are tensor ops, so a replay recomputes them; the
lengths are read on the host, as torch does (its checks, the number of time steps run, the
padded state count of concatenated targets), so a recorded tape keeps its lengths.

Why a decomposition and not a host entry (numpy alpha/beta with an analytic VJP, as a custom
Function): replay and tape files cannot hold a custom Function's Python, and its create_graph
would need the VJP written again in tensor ops; here both come from the primitives.  The cost
is Python per time step (about 12 recorded ops) and a backward over those entries.
"""
import numpy as np

from .. import dtypes as D
from ..creation import arange, full, tensor as _tensor_of
from ..ndops import where
from ..tensor import Tensor
from ..views import cat
from ._basic import _record
from ._reduction import REDUCTIONS, get_enum

__all__ = ["ctc_loss"]

_NINF = float("-inf")
_WHERE = " (while checking arguments for ctc_loss_allocate_outputs)"


# ---- the decomposition row's body ------------------------------------------------------------
def _lse_safe(x, dim, T):
    """log(sum(exp(x), dim)) over the last dim of x; -inf where all terms are -inf, with a
    zero gradient there (the sum is made 1 before its log)."""
    m = T.max_shift(x, (dim,), True)
    s = (x - m).exp().sum(dim)
    ok = s != 0.0    # (a nan term keeps its nan, as torch's recursion: not unreachable)
    return where(ok, where(ok, s, 1.0).log() + m.squeeze(dim), _NINF)


def _nll(T, lp, ext, skip3, live, last, steps, zero_infinity):
    """The negative log-likelihood of each sequence, (N,).

    lp (Tn, N, C) the log-probabilities; ext (N, L) int64 the extended labels; skip3
    (N, L, 3) float, -inf at [n, s, 0] where the transition s-2 -> s is not allowed, else 0;
    live (Tn, N, 1) bool, t < input length; last (N, 2) int64 the final states 2 tl - 1 and
    2 tl, as indices of the padded alphas (state -1, the virtual start, where tl = 0: it holds
    log 1 before the first step, -inf after, so an empty input matches an empty target only);
    steps: the least and the largest input length (steps before the first need no mask, after
    the last none run)."""
    n_t, n, _ = lp.shape
    n_s = ext.shape[1]
    lpe = lp.gather(2, ext.unsqueeze(0).expand(n_t, n, n_s))            # (Tn, N, L)
    # alphas before the first step, padded with two states of -inf in front: the start state
    # (log 1 = 0) is reached from the padding's last state, so step 0 is the general step
    init = np.full((n, n_s + 2), _NINF)
    init[:, 1] = 0.0
    alpha = _tensor_of(init, dtype=lp.dtype)
    pad = full((n, 2), _NINF, dtype=lp.dtype)
    prev = alpha
    all_live, n_run = steps
    # torch computes only states 0 and 1 at the first step (the others stay -inf, whatever
    # their log-probability: nan or +inf there does not reach the loss)
    first = _tensor_of(np.arange(n_s) < 2)
    for t in range(n_run):
        # (masked by where, not by adding -inf: a nan alpha two states back stays out)
        win = where(skip3 == 0.0, alpha.unfold(1, 3, 1), _NINF)          # (N, L, 3)
        new = lpe[t] + _lse_safe(win, 2, T)
        alpha = cat([pad, new if t else where(first, new, _NINF)], 1)
        if t >= all_live:
            alpha = where(live[t], alpha, prev)
        prev = alpha
    fin = alpha.gather(1, last)                                           # (N, 2)
    nll = -_lse_safe(fin, 1, T)
    # torch's gradient adds exp(lp) (t < input length) where the loss is finite, and is nan
    # where it is infinite (0 with zero_infinity): terms of value 0 with those gradients
    # (lp made finite first: d = exp(nan) - exp(nan) would make the loss nan)
    odd = ~((lp == lp) & (lp != float("inf")))
    e = where(odd, 0.0, lp).exp()
    d = e.detach() - e          # subtracted below: nll - 0 keeps torch's -0 of an empty match
    finite = (nll != float("inf")).reshape(1, n, 1)
    extra = where(finite & live, d, 0.0)     # (not d * float(live): nan * 0 past the length)
    # torch's gradient at a log-probability of -inf is exp(-inf) - exp(-inf + nll + inf),
    # and at nan or +inf it is nan or inf (t < input length, finite loss); 0 * sqrt(d) is 0
    # with a nan gradient there
    dead = ((lp == _NINF) | odd) & live & finite
    # and where the loss is nan its formula's exp(lcab + nll - lp) is nan at every t < input
    # length, zero_infinity or not
    dead = dead | ((nll != nll).reshape(1, n, 1) & live)
    extra = extra + where(dead, d, 1.0).sqrt() * 0.0
    if not zero_infinity:
        inf_live = (~finite) & live
        extra = extra + where(inf_live, d, 1.0).sqrt() * 0.0
    return nll - extra.sum((0, 2))


# ---- the front end ---------------------------------------------------------------------------
def _type_name(v):
    if isinstance(v, Tensor):
        return "Tensor"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(type(x).__name__ for x in v)
        return f"{type(v).__name__} of [{inner}]" if v else type(v).__name__
    return type(v).__name__


def _int_seq(v):
    return isinstance(v, (list, tuple)) and all(
        isinstance(x, (int, np.integer)) and not isinstance(x, bool)
        or (isinstance(x, Tensor) and x.numel() == 1 and not x.dtype.is_floating_point
            and x.dtype is not D.bool_)
        for x in v)


def _bad_args(args):
    """torch's TypeError of an argument no overload takes; as torch's parser shows it, every
    argument but a Tensor in a Tensor slot is marked in the lines of each overload."""
    got = ", ".join(type(a).__name__ if not isinstance(a, Tensor) else "Tensor" for a in args)

    def marks(tensor_slots):
        return ", ".join(_type_name(a) if isinstance(a, Tensor) and i in tensor_slots
                         else f"!{_type_name(a)}!" for i, a in enumerate(args))
    tail = ", int blank = 0, int reduction = at::Reduction::Mean, bool zero_infinity = False)"
    raise TypeError(
        f"ctc_loss() received an invalid combination of arguments - got ({got}), but expected "
        f"one of:\n * (Tensor log_probs, Tensor targets, tuple of ints input_lengths, tuple of "
        f"ints target_lengths{tail}\n      didn't match because some of the arguments have "
        f"invalid types: ({marks((0, 1))})\n * (Tensor log_probs, Tensor targets, Tensor "
        f"input_lengths, Tensor target_lengths{tail}\n      didn't match because some of the "
        f"arguments have invalid types: ({marks((0, 1, 2, 3))})\n")


def _lengths(v, name):
    """The lengths as an int64 numpy vector (torch reads them on the host)."""
    if isinstance(v, Tensor):
        if v.dtype.is_floating_point or v.dtype.is_complex or v.dtype is D.bool_:
            raise RuntimeError(f"{name} must be integral")
        return np.asarray(v.detach()._array(), dtype=np.int64).reshape(-1)
    return np.array([int(x) for x in v], dtype=np.int64)


def _check(lp, targets, il, tl, blank):
    """torch's checks of _ctc_loss (ctc_loss_allocate_outputs), in its order."""
    if not lp.dtype.is_floating_point or lp.dtype not in (D.float32, D.float64):
        raise NotImplementedError(f"\"ctc_loss_cpu\" not implemented for '{lp.dtype.legacy}'")
    if lp.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    if lp.dim() != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {lp.dim()}-dimensional "
                           f"tensor for argument #1 'log_probs'" + _WHERE)
    if not 1 <= targets.dim() <= 2:
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {targets.dim()}-dimensional "
                           f"tensor for argument #2 'targets'" + _WHERE)
    n_t, n, n_c = lp.shape
    if not 0 <= blank < n_c:
        raise RuntimeError("blank must be in label range")
    if il.size != n:
        raise RuntimeError("input_lengths must be of size batch_size")
    if tl.size != n:
        raise RuntimeError("target_lengths must be of size batch_size")
    for v in tl:
        if v < 0:
            raise RuntimeError(f"Expected target_lengths to have value at least 0, but got "
                               f"value {v}" + _WHERE)
    if targets.dim() == 1:
        if targets.shape[0] != int(tl.sum()):
            raise RuntimeError(f"Expected tensor to have size {int(tl.sum())} at dimension 0, "
                               f"but got size {targets.shape[0]} for argument #2 'targets'"
                               + _WHERE)
    else:
        if targets.shape[0] != n:
            raise RuntimeError(f"Expected tensor to have size {n} at dimension 0, but got "
                               f"size {targets.shape[0]} for argument #2 'targets'" + _WHERE)
        s_max = int(tl.max()) if n else 0
        if targets.shape[1] < s_max:
            raise RuntimeError(f"Expected tensor to have size at least {s_max} at dimension "
                               f"1, but got size {targets.shape[1]} for argument #2 "
                               f"'targets'" + _WHERE)
    for v in il:
        if v < 0:
            raise RuntimeError(f"Expected input_lengths to have value at least 0, but got "
                               f"value {v}" + _WHERE)
        if v > n_t:
            raise RuntimeError(f"Expected input_lengths to have value at most {n_t}, but got "
                               f"value {v}" + _WHERE)


def _padded_targets(targets, tl, n):
    """(N, S) int64 targets from padded or concatenated ones, entries past each target length
    unspecified (S at least 1)."""
    t = targets.detach()
    if t.dtype is not D.int64:
        t = t.to(D.int64)
    if targets.dim() == 2:
        return t if t.shape[1] > 0 else _tensor_of(np.zeros((n, 1), dtype=np.int64))
    s_max = max(int(tl.max()) if n else 0, 1)
    offsets = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
    pos = offsets[:, None] + np.arange(s_max)[None, :]
    pos = np.minimum(pos, max(t.shape[0] - 1, 0))
    if t.shape[0] == 0:
        return _tensor_of(np.zeros((n, s_max), dtype=np.int64))
    return t[_tensor_of(pos)]


def _target_range(tg, tl, n_c):
    """torch reads targets out of [0, C) unchecked (memory past log_probs); refuse them."""
    arr = np.asarray(tg._array())
    used = np.arange(arr.shape[1])[None, :] < tl[:, None]
    bad = used & ((arr < 0) | (arr >= n_c))
    if np.any(bad):
        raise IndexError(f"Target {int(arr[bad][0])} is out of bounds.")


def _masks(lp, tg, il, tl, blank):
    """The body's masks from the (N, S) targets and the lengths, as tensor ops."""
    n_t, n, _ = lp.shape
    s = tg.shape[1]
    n_s = 2 * s + 1
    tl_t = _tensor_of(tl).reshape(n, 1)
    il_t = _tensor_of(il).reshape(1, n, 1)
    states = arange(n_s).reshape(1, n_s)
    is_label = (states % 2) == 1
    label_at = tg.gather(1, ((states - 1) // 2).clamp(0, s - 1).expand(n, n_s))
    # labels past a target length (padding, maybe out of range) are not read: the blank there
    ext = where(is_label & (states < 2 * tl_t), label_at, blank)
    prev2 = cat([full((n, 2), -1, dtype=D.int64), ext[:, :-2]], 1)
    # (state 1 takes the virtual start state -1 as its s-2 term: prev2 is -1 there)
    skip = is_label & (ext != prev2)
    skip3 = cat([where(skip, 0.0, _NINF).to(lp.dtype).unsqueeze(2),
                 full((n, n_s, 2), 0.0, dtype=lp.dtype)], 2)
    live = arange(n_t).reshape(n_t, 1, 1) < il_t
    last = cat([2 * tl_t + 1, 2 * tl_t + 2], 1)
    steps = (int(il.min()), int(il.max()))
    return ext, skip3, live, last, steps


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """The connectionist temporal classification loss of log_probs (T, N, C), or (T, C)
    unbatched, against targets padded (N, S) or concatenated (sum of target_lengths): per
    sequence the negative log of the summed probability of its alignments (CtcLossBackward0),
    then 'mean' (each divided by its target length clamped to 1, then averaged), 'sum' or
    'none'; zero_infinity zeroes infinite losses and their gradients."""
    enum = get_enum(reduction)   # (torch's: 'elementwise_mean' is 'mean', with its warning)
    reduction = REDUCTIONS[enum]
    args = (log_probs, targets, input_lengths, target_lengths, blank, enum, zero_infinity)
    tensors = isinstance(input_lengths, Tensor) and isinstance(target_lengths, Tensor)
    ints = _int_seq(input_lengths) and _int_seq(target_lengths)
    if (not isinstance(log_probs, Tensor) or not isinstance(targets, Tensor)
            or not (tensors or ints) or not isinstance(blank, (int, np.integer))
            or isinstance(blank, bool) or not isinstance(zero_infinity, bool)):
        _bad_args(args)
    il = _lengths(input_lengths, "input_lengths")
    tl = _lengths(target_lengths, "target_lengths")
    batched = log_probs.dim() == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    blank = int(blank)
    _check(lp, targets, il, tl, blank)
    n = lp.shape[1]
    tg = _padded_targets(targets, tl, n)
    _target_range(tg, tl, lp.shape[2])
    masks = _masks(lp, tg, il, tl, blank)
    res = _record("ctc_loss", _nll, lp, *masks, bool(zero_infinity))
    if zero_infinity:
        res = where(res == float("inf"), _tensor_of(0.0, dtype=res.dtype), res)
    if reduction == "mean":
        tlt = _tensor_of(tl).to(res.dtype).clamp_min(1)
        return (res / tlt).mean()
    if reduction == "sum":
        return res.sum()
    return res if batched else res.squeeze(0)
