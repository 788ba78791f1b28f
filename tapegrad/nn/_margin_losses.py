"""nn.functional's margin and embedding losses: soft_margin_loss, multilabel_soft_margin_loss,
cosine_embedding_loss, triplet_margin_loss, triplet_margin_with_distance_loss,
multi_margin_loss and multilabel_margin_loss, with torch's signatures, checks and messages.

The ones torch computes in one kernel of their own (soft_margin_loss, multi_margin_loss,
multilabel_margin_loss) are decomposition rows (tapegrad/ops.py; their bodies below), so their
grad_fn carries torch's name; the ones torch composes (in Python, or in C++ for
cosine_embedding_loss and triplet_margin_loss) are the same compositions, so their grad_fn
chains are torch's too.  The class masks built from integer targets are tensor comparisons,
so a replay recomputes them."""
import numpy as np

from .. import dtypes as D, _fastpath
from ..creation import arange, zeros_like, tensor as _tensor_of
from ..ndops import _binary, where
from ..ops import OPS
from ._basic import _not_differentiable, _record, _tensor
from ._decomps import _reduce
from ._distance import pairwise_distance
from ._reduction import reduction_of

__all__ = ["soft_margin_loss", "multilabel_soft_margin_loss", "cosine_embedding_loss",
           "triplet_margin_loss", "triplet_margin_with_distance_loss", "multi_margin_loss",
           "multilabel_margin_loss"]

_STRAIGHT_THROUGH = OPS["straight_through"].code

# torch's EPSILON of cosine_embedding_loss (aten/src/ATen/native/Loss.cpp), added to the
# squared norms so that a zero vector gives cos = 0, not nan
_COS_EPS = 1e-12


def _broadcast_shape(a, b):
    """np.broadcast_shapes with torch's message for shapes that do not broadcast."""
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        n = max(len(a), len(b))
        pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
        i = next(i for i in range(n - 1, -1, -1) if pa[i] != pb[i] and 1 not in (pa[i], pb[i]))
        raise RuntimeError(f"The size of tensor a ({pa[i]}) must match the size of tensor b "
                           f"({pb[i]}) at non-singleton dimension {i}") from None


def _float_input(fn, input):
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"{fn}" not implemented for \'{input.dtype.legacy}\'')


def _long_target(target):
    if target.dtype is not D.int64:
        raise RuntimeError(f"expected scalar type Long but found {target.dtype.legacy}")


def _add_number(T, x, c):
    return x + c


def _sub_number(T, x, c):
    return x - c


# ---- the decomposition rows' bodies ----------------------------------------------------------
# NOTE: torch's multi_margin and multilabel_margin backward kernels fill a row's gradient for
# grad_output 1, then multiply it by grad_output: 0 * g where no margin term reaches an
# element, so an inf or nan g gives nan there too.  The loss per row carries the sum of x * 0
# at those elements as straight_through's gradient edge (its value the loss's own), whose
# gradient is that 0 * g.
def _times_grad_output(loss, x, reached):
    """loss (N,) of rows x (N, C), 0 * g added to the gradient of each x element not
    `reached` (N, C) by a margin term (the NOTE above)."""
    unreached = where(reached, 0.0, x * 0.0).sum(1)
    return _binary(_STRAIGHT_THROUGH, loss + unreached, loss)


def _soft_margin(T, x, target, reduction):
    """log(1 + exp(-x * target)), as torch's kernel (which overflows to inf where it does)."""
    return _reduce((-x * target).exp().log1p(), reduction)


def _multi_margin(T, x, onehot, w_target, p, margin, reduction, out_shape):
    """sum over i != y of w[y] * max(0, margin - x[y] + x[i])^p, over the C classes: x viewed
    as `onehot`'s (N, C), which marks y; `w_target` (N, 1) holds w[y] (None: no weight).  The
    mask of the positive terms is strict, so a term at 0 passes no gradient (torch's
    kernel)."""
    x = x.reshape(tuple(onehot.shape))
    xy = where(onehot, x, 0.0).sum(1, keepdim=True)
    z = (margin - xy) + x
    active = (z > 0.0) & ~onehot
    h = where(active, z, 0.0)
    if p == 2:
        h = h * h
    if w_target is not None:
        h = h * w_target
    reached = active | onehot & active.any(1, keepdim=True)
    loss = _times_grad_output(h.sum(1) / x.shape[1], x, reached)
    if reduction == "none":
        return loss.reshape(out_shape)
    return _reduce(loss, reduction)


def _multilabel_margin(T, x, pairs, reduction, out_shape):
    """sum over listed targets j and unlisted classes i of max(0, 1 - x[j] + x[i]), over the
    C classes: x viewed as (N, C); `pairs` (N, C, C) counts each (j, i) (a target listed
    twice counts twice, as in torch's loop)."""
    x = x.reshape(tuple(pairs.shape[:2]))
    z = (1.0 - x).unsqueeze(2) + x.unsqueeze(1)
    # (where, not a product with pairs: an unlisted class at -inf makes z inf where pairs
    # is 0, a term torch's loop never reads)
    active = (z > 0.0) & (pairs > 0.0)
    loss = where(active, z * pairs, 0.0).sum((1, 2)) / x.shape[1]
    loss = _times_grad_output(loss, x, active.any(2) | active.any(1))
    if reduction == "none":
        return loss.reshape(out_shape)
    return _reduce(loss, reduction)


# ---- the losses ------------------------------------------------------------------------------
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)) (targets +-1), reduced (SoftMarginLossBackward0).  The
    target broadcasts to the input's shape; the loss has the input's dtype."""
    reduction = reduction_of(reduction, size_average, reduce, stacklevel=3)
    _tensor("soft_margin_loss", input)
    _not_differentiable("soft_margin_loss", "target", target)
    shape = _broadcast_shape(tuple(input.shape), tuple(target.shape))
    if shape != tuple(input.shape):
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast "
                           f"shape {list(shape)}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{input.dtype.legacy}")
    t = target.detach()
    if t.dtype is not input.dtype:
        t = t.to(input.dtype)
    return _record("soft_margin_loss", _soft_margin, input, t, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """-(target log sigmoid(input) + (1 - target) log sigmoid(-input)), times weight,
    averaged over the classes (the last dim), then reduced: torch's composition."""
    if size_average is not None or reduce is not None:
        reduction = reduction_of(None, size_average, reduce, stacklevel=3)
    _tensor("multilabel_soft_margin_loss", input)
    loss = -(target * _fastpath.op_logsigmoid(input)
             + (1 - target) * _fastpath.op_logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(dim=class_dim) / input.shape[class_dim]
    if reduction not in ("none", "mean", "sum"):   # (torch checks it last, in these words)
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1, 0
    elsewhere, reduced: torch's C++ composition (cos from squared norms plus 1e-12)."""
    reduction = reduction_of(reduction, size_average, reduce, stacklevel=3)
    targ_dim = target.dim()
    if targ_dim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = 2 if targ_dim == 1 else 1
    if input1.dim() != want or input2.dim() != want:
        raise RuntimeError(f"{targ_dim}D target tensor expects {want}D input tensors, but found "
                           f"inputs with sizes {list(input1.shape)} and {list(input2.shape)}.")
    prod_sum = (input1 * input2).sum(targ_dim)
    mag1 = _record("add_number", _add_number, (input1 * input1).sum(targ_dim), _COS_EPS)
    mag2 = _record("add_number", _add_number, (input2 * input2).sum(targ_dim), _COS_EPS)
    cos = prod_sum / (mag1 * mag2).sqrt()
    zeros = zeros_like(cos)
    # torch's `1 - cos` in C++: a wrapped one minus cos (SubBackward0 with an empty edge)
    pos = _tensor_of(1.0, dtype=cos.dtype) - cos
    neg = _record("sub_number", _sub_number, cos, float(margin)).clamp_min(0)
    output = where(target == 1, pos, zeros) + where(target == -1, neg, zeros)
    return _reduce(output, reduction)


def _same_dims(anchor, positive, negative):
    a, p, n = anchor.dim(), positive.dim(), negative.dim()
    if not a == p == n:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {p}D, and "
                           f"negative {n}D inputs")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)), d the pairwise p-norm distance (with `swap`,
    d(a, n) is min(d(a, n), d(p, n))), reduced: torch's C++ composition."""
    reduction = reduction_of(reduction, size_average, reduce, stacklevel=3)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _same_dims(anchor, positive, negative)
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = dist_neg.minimum(pairwise_distance(positive, negative, p, eps))
    output = (_record("add_number", _add_number, dist_pos, float(margin)) - dist_neg).clamp_min(0)
    return _reduce(output, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """triplet_margin_loss with any distance_function (default pairwise_distance): torch's
    Python composition."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _same_dims(anchor, positive, negative)
    if distance_function is None:
        distance_function = pairwise_distance
    dist_pos = distance_function(anchor, positive)
    dist_neg = distance_function(anchor, negative)
    if swap:
        dist_neg = dist_neg.minimum(distance_function(positive, negative))
    return _reduce((margin + dist_pos - dist_neg).clamp_min(0), reduction)


def _margin_input(input):
    """(samples, classes) of a multi-margin input; torch's error for other shapes."""
    nd = input.dim()
    if not ((nd == 2 and input.shape[1] != 0) or (nd == 1 and input.shape[0] != 0) or nd == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    return (1 if nd <= 1 else input.shape[0]), (1 if nd == 0 else input.shape[-1])


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """sum over i != y of max(0, margin - x[y] + x[i])^p (times weight[y]) over the C
    classes, per sample, reduced (MultiMarginLossBackward0); p is 1 or 2."""
    reduction = reduction_of(reduction, size_average, reduce, stacklevel=3)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    _tensor("multi_margin_loss", input)
    _not_differentiable("multi_margin_loss", "weight", weight)
    nframe, dim = _margin_input(input)
    if target.dim() > 1 or target.numel() != nframe:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to "
                           f"the number of input samples (batch size). Expected target size "
                           f"[{nframe}], but got {list(target.shape)}. Input has shape "
                           f"{list(input.shape)}.")
    if weight is not None and weight.numel() != dim:
        raise RuntimeError(f"inconsistent weight size, expected {dim} but got "
                           f"{list(weight.shape)}")
    _float_input("multi_margin_loss_cpu_kernel", input)
    _long_target(target)
    if weight is not None and weight.dtype is not input.dtype:
        raise RuntimeError(f"expected scalar type {input.dtype.legacy} but found "
                           f"{weight.dtype.legacy}")
    tv = target._array()
    if np.any((tv < 0) | (tv >= dim)):
        raise RuntimeError("target out of range")
    onehot = arange(dim) == target.reshape(nframe, 1)
    w_target = None
    if weight is not None:
        w_target = where(onehot, weight.detach(), 0.0).sum(1, keepdim=True)
    out_shape = (nframe,) if input.dim() == 2 else tuple(target.shape)
    return _record("multi_margin_loss", _multi_margin, input, onehot, w_target, int(p),
                   float(margin), reduction, out_shape)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over the listed targets j (target's leading entries up to the first -1) and the
    other classes i of max(0, 1 - x[j] + x[i]), over the C classes, per sample, reduced
    (MultilabelMarginLossBackward0)."""
    reduction = reduction_of(reduction, size_average, reduce, stacklevel=3)
    _tensor("multilabel_margin_loss", input)
    nframe, dim = _margin_input(input)
    if input.dim() <= 1:
        ok = target.dim() <= 1 and target.numel() == dim
    else:
        ok = target.dim() == 2 and tuple(target.shape) == (nframe, dim)
    if not ok:
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    _float_input("multilabel_margin_loss_forward_out_frame", input)
    _long_target(target)
    tv = target._array()
    if np.any((tv < -1) | (tv >= dim)):
        raise RuntimeError("argument #2 'target' is out of range")
    t = target.reshape(nframe, dim)
    listed = (t == -1).cumsum(1) == 0                       # before the first -1
    hits = (t.unsqueeze(2) == arange(dim)) & listed.unsqueeze(2)
    count = hits.to(input.dtype).sum(1)                     # (N, C): times class j is listed
    others = (count == 0).to(input.dtype)
    pairs = count.unsqueeze(2) * others.unsqueeze(1)
    out_shape = (nframe,) if input.dim() == 2 else ()
    return _record("multilabel_margin_loss", _multilabel_margin, input, pairs, reduction,
                   out_shape)
