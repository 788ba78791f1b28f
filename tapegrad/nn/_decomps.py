"""The bodies of nn.functional's decomposition rows (tapegrad/ops.py, the block of engineer
"nn"): each is a function of tensor ops, recorded by `decomps.record` as one group that shows
as torch's grad_fn (`MseLossBackward0`, ...), so forward, gradient, create_graph, replay and
tape files are those of the primitives.

The bodies receive validated arguments (nn/functional.py checks them).  Data-dependent masks
are tensor comparisons (recorded while tracing, so a replay recomputes them), never numpy
computed from a recorded value.  Where a branch of a `where` could overflow or divide by
zero, its input is first made safe with another `where`, so the unused branch gets a zero
gradient, not 0 * inf = nan.
"""
from .. import _fastpath
from ..ndops import _binary, where
from ..ops import OPS
from ..tensor import Tensor

_BCE_WITH_LOGITS, _BCE = OPS["bce_with_logits"].code, OPS["bce"].code

# NOTE: gradients are the primitives'; they equal torch's formulas mathematically (the rows'
# tests compare them with torch in float64), except where the notes below say otherwise.


def linear(T, x, weight_t, bias):
    """x @ weight_t + bias (AddmmBackward0 for 2-d x with a bias): the caller records
    weight.t() before the group, since torch's addmm reads it as a node of its own
    (TBackward0)."""
    return x.matmul(weight_t) + bias


def leaky_relu(T, x, slope):
    """x where x > 0, else slope * x (torch's gradient at 0: the slope): the leaky_relu row,
    whose gradient depends on x under create_graph as torch's (rrelu's eval mode)."""
    return _fastpath.op_leaky_relu(x, slope)


def log1p(u):
    """log(1 + u) to full precision for small u: log(w) plus the first-order correction for
    the rounding of w = 1 + u (its gradient is 1 / w)."""
    w = u + 1.0
    return w.log() + (u - (w - 1.0)) / w


def softplus_stable(z):
    """log(1 + exp(z)) without overflow: z + log1p(exp(-z)) for z > 0, log1p(exp(z)) else
    (gradient sigmoid(z), 1/2 at 0)."""
    pos = z > 0.0
    base = log1p(where(pos, -z, z).exp())
    return where(pos, z + base, base)


def softplus(T, x, beta, threshold):
    """log(1 + exp(beta * x)) / beta, x itself where beta * x > threshold (torch's rule);
    the body of row softplus_beta (beta 1 is the unary row softplus).  NOTE: log1p(exp(s)) is
    that row's, whose second derivative is 0 at s == threshold, as torch's double backward
    (masked by x * beta < threshold) while its gradient there is still sigmoid's."""
    s = x * beta
    return where(s > threshold, x, _fastpath.op_softplus(s, threshold) / beta)


def silu(T, x):
    """x * sigmoid(x)."""
    return x * x.sigmoid()


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def mse_loss(T, x, target, reduction):
    d = x - target
    return _reduce(d * d, reduction)


def smooth_l1_loss(T, x, target, reduction, beta):
    """The unary row smooth_l1 of the difference (beta > 0), reduced."""
    return _reduce(_fastpath.op_smooth_l1(x - target, beta), reduction)


def huber_loss(T, x, target, reduction, delta):
    """The unary row huber of the difference, in the input's dtype (torch's kernel writes
    into empty_like(input)), reduced."""
    loss = _fastpath.op_huber(x - target, delta)
    if loss.dtype is not x.dtype:
        loss = loss.to(x.dtype)
    return _reduce(loss, reduction)


def nll_loss(T, x, onehot, wt, kept, reduction, cdim):
    """-x[target] * weight[target]: `onehot` the target's one-hot mask over the class dim
    `cdim` (False on ignored entries), `wt` the weight of each target (0 where ignored; None:
    all weights 1), `kept` the mask of the targets not ignored (None: none is)."""
    picked = where(onehot, x, 0.0).sum(cdim)
    loss = -(picked * wt) if wt is not None else -picked
    if kept is not None:   # torch writes 0 for an ignored target (-(0 * 0) is -0.0)
        loss = where(kept, loss, 0.0)
    if reduction == "mean" and wt is not None:
        return loss.sum() / wt.sum()
    return _reduce(loss, reduction)


def div_by_number(T, x, number):
    """x / number with a Python number (torch's DivBackward1)."""
    return x / number


def binary_cross_entropy(T, x, target, weight, reduction):
    """torch's (t - 1) * max(log1p(-x), -100) - t * max(log(x), -100) (one bce entry: torch's
    formulas, both gradients; the target has x's dtype, as torch requires), times the weight
    (computed in the promoted dtype and cast back to x's, as torch's in-place multiply)."""
    loss = _binary(_BCE, x, target)
    if weight is not None:
        loss = loss * weight
        if loss.dtype is not x.dtype:
            loss = loss.to(x.dtype)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(T, x, target, weight, pos_weight, reduction):
    """(1 - t) x + (1 + (pw - 1) t) softplus(-x), softplus computed stably; without weights
    one bce_with_logits entry (torch's formula) and the reduction."""
    if weight is None and pos_weight is None and isinstance(target, Tensor) and \
            target.dtype is x.dtype:
        return _reduce(_binary(_BCE_WITH_LOGITS, x, target), reduction)
    sp = softplus_stable(-x)
    if pos_weight is not None:
        sp = sp * ((pos_weight - 1.0) * target + 1.0)
    loss = (1.0 - target) * x + sp
    if weight is not None:
        loss = loss * weight
    if isinstance(target, Tensor) and loss.dtype is not target.dtype:
        # torch's kernel works in place on (1 - target): the loss has the target's dtype
        loss = loss.to(target.dtype)
    return _reduce(loss, reduction)


def layer_norm(T, x, dims, weight, bias, eps):
    """(x - mean) / sqrt(var + eps) over the last dims (biased variance), then * w + b."""
    xc = x - x.mean(dims, keepdim=True)
    y = xc / ((xc * xc).mean(dims, keepdim=True) + eps).sqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


# NOTE: scale_grad_by_freq divides each looked-up row's gradient by its index's count
# (`scale`, a constant 1 / count per row) and keeps the value exact: a finite element as
# d - (d - x) * scale with d = x.detach() (d - x is 0, and -0.0 stays -0.0), a non-finite
# one as x * scale (inf and nan unchanged); either branch's gradient is g * scale.
def grad_scaled(x, scale):
    """x, whose gradient is multiplied by `scale` (a constant broadcast against x)."""
    d = x.detach()
    return where(d.isfinite(), d - (d - x) * scale, x * scale)


def embedding(T, weight, index, pad_mask, scale=None):
    """weight[index]; rows looked up at padding_idx get no gradient; with `scale`, each
    row's gradient is multiplied by it."""
    out = weight[index]
    if scale is not None:
        out = grad_scaled(out, scale)
    if pad_mask is not None:
        out = where(pad_mask, out.detach(), out)
    return out


def constant_pad_nd(T, x, pads, value, cat, full):
    """x padded (or cropped, for negative pads) by `pads` (torch's order: last dim first):
    always new memory, as torch's (no pad, or crops only, copy x or its slice)."""
    out, copied = x, False
    for k in range(len(pads) // 2):
        d = out.dim() - 1 - k
        lo, hi = pads[2 * k], pads[2 * k + 1]
        if lo < 0 or hi < 0:
            idx = [slice(None)] * out.dim()
            idx[d] = slice(max(-lo, 0), out.shape[d] - max(-hi, 0))
            out = out[tuple(idx)]
        parts = []
        for n in (max(lo, 0), None, max(hi, 0)):
            if n is None:
                parts.append(out)
            elif n:
                shape = list(out.shape)
                shape[d] = n
                parts.append(full(shape, value, dtype=out.dtype))
        if len(parts) > 1:
            out, copied = cat(parts, d), True
    return out if copied else out.clone()


def index_pad(T, x, index_per_dim):
    """x with each of its last dims gathered at an index list (reflect / replicate / circular
    padding): one advanced-indexing entry per padded dim; repeated positions accumulate."""
    out = x
    for d, idx in index_per_dim:
        key = (slice(None),) * d + (idx,)
        out = out[key]
    return out
