"""`tapegrad.nn.functional`: torch.nn.functional's activations, losses and layers with torch's
signatures, defaults, dtypes and error messages.

Each is built from tapegrad's ops; the ones torch records as one node of their own are
decomposition rows (tapegrad/ops.py, bodies in nn/_decomps.py) so their grad_fn carries
torch's name (`MseLossBackward0`, `NllLossBackward0`, `AddmmBackward0` for `linear`); the ones
torch itself decomposes (`l1_loss`, `kl_div`, `normalize`, `dropout`, cross_entropy with
probabilities or label smoothing) are the same decompositions as torch's, so their grad_fn
names agree too.
"""
import math
import warnings

import numpy as np

from .. import decomps, decomps_math as DM, dtypes as D, errors, layouts, nodiff, _fastpath
from .. import structops as S
from .._signals import COMMIT
from ..composed import broadcast_shapes as _broadcast_shapes
from ..creation import arange as _arange, full as _full, tensor as _tensor_of
from ..discrete_draws import alpha_dropout_affine, dropout_noise
from ..grad_mode import switched_grad, TRANSFORMS
from ..ndops import (_binary, where as _where, softmax as _softmax, log_softmax as _log_softmax,
                     _softmax_entry)
from ..ops import OPS
from ..orderstats import pdist  # noqa: F401  (torch.nn.functional.pdist is torch.pdist)
from ..random import arranged_like, default_generator
from ..graph import NO_TENSOR
from ..recording import keep_args, keep_later, keep_tensor_args, stored32, tensor_arg
from ..tape import INFERENCE_MADE, refuse_inference_index
from ..tensor import Tensor, _dim, _int_arg, _int_list as _int_seq, _is_int_item, _row_major
from ..tracing import refuse_state_update
from ..views import cat as _cat, KIND_OPS, _rows_at
from . import _decomps as B, _decomps_ext as X, _onepass
from ._onepass import _PLAIN
from . import grad  # noqa: F401  (torch.nn.functional.grad is torch.nn.grad)
from ._basic import (_check_dropout_p, _record, _saves_unread, _tensor, _inplace_row,  # noqa: F401
                     _not_differentiable, linear, dropout)
from ._attention import (scaled_dot_product_attention, multi_head_attention_forward,  # noqa: F401
                         _canonical_mask, _none_or_dtype)
from ._attention import __all__ as _attention_all
from ._conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d,  # noqa: F401
                    conv_transpose3d, pixel_shuffle, pixel_unshuffle, channel_shuffle, unfold,
                    fold, conv_tbc)
from ._conv import __all__ as _conv_all, _C_NAMES
from ._pooling import (max_pool1d, max_pool2d, max_pool3d, max_pool1d_with_indices,  # noqa: F401
                       max_pool2d_with_indices, max_pool3d_with_indices, avg_pool1d,
                       avg_pool2d, avg_pool3d, adaptive_avg_pool1d, adaptive_avg_pool2d,
                       adaptive_avg_pool3d, adaptive_max_pool1d, adaptive_max_pool2d,
                       adaptive_max_pool3d, lp_pool1d, lp_pool2d, lp_pool3d,
                       adaptive_max_pool1d_with_indices, adaptive_max_pool2d_with_indices,
                       adaptive_max_pool3d_with_indices)
from ._pooling import __all__ as _pooling_all
from ._unpooling import max_unpool1d, max_unpool2d, max_unpool3d  # noqa: F401
from ._unpooling import __all__ as _unpooling_all
from ._resample import interpolate, upsample, upsample_nearest, upsample_bilinear  # noqa: F401
from ._resample import __all__ as _resample_all
from ._grid import affine_grid, grid_sample  # noqa: F401
from ._grid import __all__ as _grid_all
from ._fractional import (fractional_max_pool2d, fractional_max_pool3d,  # noqa: F401
                          fractional_max_pool2d_with_indices, fractional_max_pool3d_with_indices)
from ._fractional import __all__ as _fractional_all
from ._bags import (embedding_bag, check_renorm as _check_renorm,  # noqa: F401
                    embedding_renorm_ as _embedding_renorm_)
from ._distance import cosine_similarity, pairwise_distance  # noqa: F401
from ._margin_losses import (soft_margin_loss, multilabel_soft_margin_loss,  # noqa: F401
                             cosine_embedding_loss, triplet_margin_loss,
                             triplet_margin_with_distance_loss, multi_margin_loss,
                             multilabel_margin_loss)
from ._margin_losses import __all__ as _margin_all
from ._ctc import ctc_loss  # noqa: F401
from ._ctc import __all__ as _ctc_all
from ._stochastic import rrelu, rrelu_, gumbel_softmax  # noqa: F401
from ._stochastic import __all__ as _stochastic_all
from ._reduction import REDUCTIONS as _REDUCTIONS, reduction_of
from ._reduction import legacy_reduction as _legacy_reduction  # noqa: F401  (loss modules)
from . import _reduction as _Reduction  # noqa: F401  (torch.nn.functional._Reduction)

__all__ = ["linear", "bilinear", "relu", "leaky_relu", "elu", "gelu", "silu",
           "softplus", "sigmoid", "tanh", "softmax", "log_softmax", "dropout", "mse_loss",
           "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "normalize",
           "one_hot", "pad", "layer_norm", "rms_norm", "embedding", "embedding_bag",
           "instance_norm", "linear_cross_entropy",
           # engineer "surface12"
           "relu_", "leaky_relu_", "elu_", "hardtanh", "hardtanh_", "relu6", "selu", "celu",
           "selu_", "celu_", "hardswish", "hardsigmoid", "mish", "logsigmoid", "softsign",
           "tanhshrink", "softmin", "batch_norm", "group_norm", "cosine_similarity",
           "pairwise_distance", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout", "prelu", "threshold",
           "threshold_", "glu", "softshrink", "hardshrink", "margin_ranking_loss",
           "hinge_embedding_loss", "poisson_nll_loss", "gaussian_nll_loss", "pdist",
           # engineer "nnloss"
           "local_response_norm"]
__all__ += (_conv_all + _pooling_all + _unpooling_all + _attention_all + _resample_all
            + _margin_all + _stochastic_all + _grid_all + _ctc_all + _fractional_all)


def _reduction(reduction, size_average=None, reduce=None):
    return reduction_of(reduction, size_average, reduce)


# ---- linear layers ---------------------------------------------------------------------------
def bilinear(input1, input2, weight, bias=None):
    """y_k = x1 @ weight[k] @ x2 + bias[k] over the last dims (weight: out x in1 x in2)."""
    given = [("input1", input1), ("input2", input2), ("weight", weight)] + (
        [("bias", bias)] if bias is not None else [])
    if any(t.dtype is not input1.dtype for _, t in given):   # (torch checks this first)
        raise RuntimeError("All tensors must have the same dtype, got " + ", ".join(
            f"{name}: {_C_NAMES.get(t.dtype.name, t.dtype.name)}" for name, t in given))
    if input1.dim() != input2.dim():
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.dim()} and "
                           f"{input2.dim()}")
    for i, (a, b) in enumerate(zip(input1.shape[:-1], input2.shape[:-1])):
        if a != b:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: "
                               f"got {a} and {b}")
    lead = tuple(input1.shape[:-1])
    n_out, in1, in2 = weight.shape
    for k, x, size in ((1, input1, in1), (2, input2, in2)):
        if x.shape[-1] != size:
            raise RuntimeError(f"bilinear(): input{k} size does not match weight size: got "
                               f"{x.shape[-1]} but expected {size}")
    if bias is not None and bias.shape[0] != n_out:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[0]} but expected {n_out}")
    rows = math.prod(lead)   # (spelled out: -1 is ambiguous when a size is 0)
    w = weight.permute(1, 0, 2).reshape(in1, n_out * in2)
    t = input1.reshape(rows, in1).matmul(w).reshape(rows, n_out, in2)
    y = (t * input2.reshape(rows, 1, in2)).sum(-1).reshape(lead + (n_out,))
    return y if bias is None else y + bias


# ---- activations -----------------------------------------------------------------------------
def relu(input, inplace=False):
    """max(input, 0) (ReluBackward0); in place with inplace=True."""
    try:
        return input.relu_() if inplace else input.relu()
    except AttributeError:   # (checked only here: relu is a hot path)
        _tensor("relu_" if inplace else "relu", input)
        raise


def _floating_only(kernel, x):
    """torch's error for an activation kernel given an integer or bool tensor."""
    if not x.dtype.is_floating_point:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{x.dtype.legacy}\'')


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """input where input > 0, else negative_slope * input (LeakyReluBackward0)."""
    _tensor("leaky_relu", input)
    if inplace:
        if negative_slope < 0 and _negative_slope_refused(input):
            return _refused_inplace(input, "LeakyReluBackward1", X.leaky_relu,
                                    float(negative_slope), _LEAKY_NEGATIVE)
        return _inplace_row(input, "leaky_relu_", X.leaky_relu, float(negative_slope))
    _floating_only("leaky_relu_cpu", input)
    return _fastpath.op_leaky_relu(input, float(negative_slope))


# torch's backward errors of the in-place forms with a negative slope (the output cannot tell
# the input's sign, so the gradient cannot be read off it)
_LEAKY_NEGATIVE = (
    "In-place leakyReLu backward calculation is triggered with a negative slope which is not "
    "supported. This is caused by calling in-place forward function with a negative slope, "
    "please call out-of-place version instead. File an issue at "
    "https://github.com/pytorch/pytorch if you do require supporting in-place leakRelu "
    "backward calculation with negative slope")
_ELU_NEGATIVE = (
    "In-place elu backward calculation is triggered with a negative slope which is not "
    "supported. This is caused by calling in-place forward function with a negative slope, "
    "please call out-of-place version instead.")


def _negative_slope_refused(x):
    """Whether an in-place activation of x with a negative slope records torch's node whose
    backward raises: after torch's in-place checks (a leaf's errors), x has history to keep."""
    return x._check_inplace()


def _refused_inplace(x, node, body, c, message):
    """body(x, c) written into x, whose grad_fn becomes torch's `node`, its backward raising
    `message` (NOTE: torch's in-place leaky_relu_/elu_/celu_ with a negative slope)."""
    with switched_grad(False):
        values = body(KIND_OPS, x.detach(), c)._array()
    return nodiff.inplace_result(node, x, values, (RuntimeError, message))


def elu(input, alpha=1.0, inplace=False):
    """input where input > 0, else alpha * (exp(input) - 1) (EluBackward0)."""
    _tensor("elu", input)
    if inplace:
        if alpha < 0 and _negative_slope_refused(input):
            return _refused_inplace(input, "EluBackward1", X.elu, float(alpha), _ELU_NEGATIVE)
        return _inplace_row(input, "elu_", X.elu, float(alpha))
    _floating_only("elu_cpu", input)
    return keep_args(_fastpath.op_elu(input, float(alpha)), alpha=alpha)


def gelu(input, *, approximate="none"):
    """input * Phi(input), Phi the standard normal CDF (or torch's tanh approximation with
    approximate='tanh') (GeluBackward0)."""
    _tensor("gelu", input)
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _floating_only("GeluKernelImpl", input)
    return keep_args(_fastpath.op_gelu(input, 0.0 if approximate == "none" else 1.0),
                     approximate=approximate)


def silu(input, inplace=False):
    """input * sigmoid(input) (SiluBackward0)."""
    _tensor("silu", input)
    if inplace:
        return _inplace_row(input, "silu", B.silu)
    _floating_only("silu_cpu", input)
    return _fastpath.op_silu(input)


def softplus(input, beta=1, threshold=20):
    """log(1 + exp(beta * input)) / beta, linear above `threshold` (SoftplusBackward0).
    (Its defaults are torch's binding's ints, which its node keeps as given.)"""
    _tensor("softplus", input)
    if float(beta) == 1.0:
        _floating_only("softplus_cpu", input)
        out = _fastpath.op_softplus(input, float(threshold))
    else:
        out = _record("softplus_beta", B.softplus, input, float(beta), float(threshold))
    return keep_args(out, beta=beta, threshold=threshold)


def sigmoid(input):
    """1 / (1 + exp(-input))."""
    return input.sigmoid()


def tanh(input):
    """tanh(input)."""
    return input.tanh()


def _softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(input) / sum(exp(input), dim) (SoftmaxBackward0)."""
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return _softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(input, dim)) (LogSoftmaxBackward0)."""
    if type(input) in _PLAIN and type(dim) is int and dtype is None:
        nd = len(input._shape)       # (Tensor.log_softmax's checks, then its entry)
        if -nd <= dim < nd and input._dtype.is_floating_point:
            return _softmax_entry(input, dim % nd, True, dim=dim)
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return _log_softmax(input, dim, dtype)


# ---- losses ----------------------------------------------------------------------------------
def _same_size(input, target, fn, warn=True):
    if tuple(target.shape) != tuple(input.shape):
        if not warn:
            raise ValueError(f"Using a target size ({target.shape}) that is different to the "
                             f"input size ({input.shape}) is deprecated. Please ensure they "
                             f"have the same size.")
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due to "
                      f"broadcasting. Please ensure they have the same size.", stacklevel=3)


def _broadcast_pair(input, target):
    """input and target expanded to their broadcast shape, as torch's pointwise losses take
    them (so a 0-d operand's dtype promotes as a dimensioned one's); shapes that do not
    broadcast are left to the op's error."""
    if input.shape == target.shape:
        return input, target
    try:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    except ValueError:
        return input, target
    return input.expand(shape), target.expand(shape)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean (or sum, or none) of (input - target)^2 (MseLossBackward0)."""
    if not (input.dtype.is_floating_point or target.dtype.is_floating_point):
        _floating_only("mse_cpu", input)
    if size_average is None and reduce is None and weight is None:   # (_onepass.py)
        out = _onepass.mse_loss(input, target, reduction)
        if out is not None:
            return keep_tensor_args(out, reduction=_REDUCTIONS.index(reduction), target=target)
    _same_size(input, target, "mse_loss")
    input, target = _broadcast_pair(input, target)
    reduction = _reduction(reduction, size_average, reduce)
    if weight is not None:
        return B._reduce((input - target) ** 2 * weight, reduction)
    return keep_tensor_args(_record("mse_loss", B.mse_loss, input, target, reduction),
                     reduction=_REDUCTIONS.index(reduction), target=target)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean (or sum, or none) of |input - target| (torch's decomposition: MeanBackward0)."""
    _same_size(input, target, "l1_loss")
    input, target = _broadcast_pair(input, target)
    reduction = _reduction(reduction, size_average, reduce)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return B._reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, |d| - beta / 2 elsewhere (SmoothL1LossBackward0)."""
    _same_size(input, target, "smooth_l1_loss")
    input, target = _broadcast_pair(input, target)
    reduction = _reduction(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:   # torch's l1_loss then (MeanBackward0 of AbsBackward0)
        return B._reduce((input - target).abs(), reduction)
    if not (input.dtype.is_floating_point or target.dtype.is_floating_point):
        _floating_only("smooth_l1_cpu", input)
    return keep_tensor_args(_record("smooth_l1_loss", B.smooth_l1_loss, input, target, reduction,
                             float(beta)), beta=beta, reduction=_REDUCTIONS.index(reduction),
                     target=target)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, delta (|d| - delta / 2) elsewhere (HuberLossBackward0)."""
    _same_size(input, target, "huber_loss")
    if weight is not None:   # (torch's Python: the unreduced loss times weight, reduced)
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        loss = huber_loss(input, target, "none", delta) * weight
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', "
                             f"'mean', 'sum'.")
        return B._reduce(loss, reduction)
    reduction = _reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    if not input.dtype.is_floating_point:   # (torch's kernel writes in the input's dtype)
        if target.dtype.is_floating_point:
            raise errors._cast_error(target.dtype, input.dtype)
        _floating_only("huber_cpu", input)
    if target.dtype is not input.dtype:
        # torch's forward casts to the input's dtype, but its huber_loss_backward takes one
        # dtype: its node raises when a backward reaches it (the target's derivative, alone,
        # checks the other way round)
        with switched_grad(False):
            loss = _record("huber_loss", B.huber_loss, input, target, reduction, float(delta))
        found, expected = ((target, input) if input.requires_grad else (input, target))
        return nodiff.result("HuberLossBackward0", loss._array(), loss.dtype, (input, target),
                             (RuntimeError, f"Found dtype {found.dtype.legacy} but expected "
                                            f"{expected.dtype.legacy}"))
    return _record("huber_loss", B.huber_loss, input, target, reduction, float(delta))


def _class_masks(input, target, weight, ignore_index):
    """The one-hot mask of `target` over the class dim of `input` (tensor ops, so a replay
    recomputes it), the weight of each target (None: no weight and nothing ignored) and the
    mask of the targets not ignored (None: none is)."""
    if target.dtype is D.uint8:   # (torch takes Byte targets too)
        target = target.long()
    if target.dtype is not D.int64:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{target.dtype.legacy}")
    if weight is not None and weight.dtype is not input.dtype:   # (the kernel's, no promotion)
        raise RuntimeError(f"expected scalar type {input.dtype.legacy} but found "
                           f"{weight.dtype.legacy}")
    cdim = 1 if input.dim() > 1 else 0
    n_cls = input.shape[cdim]
    tv = target._array()
    bad = (tv != ignore_index) & ((tv < 0) | (tv >= n_cls))
    if np.any(bad):
        raise IndexError(f"Target {int(tv[bad].reshape(-1)[0])} is out of bounds.")
    shape = [1] * input.dim()
    shape[cdim] = n_cls
    classes = _arange(n_cls).reshape(shape)
    t = target.unsqueeze(1) if cdim else target.reshape(1)
    onehot = classes == t
    ignored = np.any(tv == ignore_index)
    if weight is None and not ignored:
        return onehot, None, None, cdim
    kept = t != ignore_index
    keep = kept.to(input.dtype)
    if weight is None:
        wt = keep
    else:
        wt = _where(onehot, weight.reshape(shape).to(input.dtype), 0.0).sum(
            cdim, keepdim=True) * keep
    squeeze = (lambda m: m.squeeze(cdim)) if cdim else (lambda m: m.reshape(()))
    return onehot, squeeze(wt), squeeze(kept) if ignored else None, cdim


def _nll_target_shape(input, target, weight):
    """torch's checks of a class-index target's shape against input's (N, C, d1, ...), and of
    the class weights, each input rank with its own kernel's messages and order."""
    dim = input.dim()
    spatial_weight = dim >= 3 and weight is not None and weight.numel() != input.shape[1]
    if dim <= 2:
        if target.dim() > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if dim == 1 and target.dim() == 1 and target.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: "
                             f"{target.shape[0]}")
        n_cls = input.shape[-1]
        if weight is not None and (weight.dim() != 1 or weight.numel() != n_cls):
            raise RuntimeError(f"weight tensor should be defined either for all {n_cls} classes "
                               f"or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
    elif dim == 4:      # nll_loss2d's checks, after its dtype check
        if target.dtype not in (D.int64, D.uint8):
            raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                               f"{target.dtype.legacy}")
        if target.dim() != 3:
            raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got "
                               f"targets of dimension: {target.dim()}")
        if spatial_weight:
            raise RuntimeError("weight tensor should be defined either for all or no classes")
        if tuple(target.shape[1:]) != tuple(input.shape[2:]):
            raise RuntimeError(f"size mismatch (got input: {list(input.shape)} , target: "
                               f"{list(target.shape)}")
    elif tuple(target.shape[1:]) != tuple(input.shape[2:]):
        raise RuntimeError(f"Expected target size {[input.shape[0], *input.shape[2:]]}, got "
                           f"{list(target.shape)}")
    elif spatial_weight:
        raise RuntimeError("weight tensor should be defined either for all or no classes")


def _ignore_index(v, fn):
    """ignore_index as torch's SymInt parser takes it (a 0-d or one-element integer tensor,
    a numpy integer: the int it holds; no float, no bool), as a Python int."""
    if v.__class__ is not int and not _is_int_item(v, True):
        _int_arg(v, fn, "ignore_index", 5)   # (its error)
    return int(v)


@S._saves_index(1, "target")
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """-input[n, target[n]] * weight[target[n]], averaged over the weights of the targets
    (entries whose target is ignore_index count nothing) (NllLossBackward0; inputs of 3 or
    more dims NllLoss2DBackward0, as torch)."""
    if (weight is None and size_average is None and reduce is None and type(input) in _PLAIN
            and type(target) is Tensor and type(reduction) is str
            and (reduction == "mean" or reduction == "sum") and len(input._shape) == 2
            and target._shape == input._shape[:1] and ignore_index.__class__ is int):
        # a classifier's loss (_onepass.py): arguments for which the checks below all pass
        refuse_inference_index(input, target)
        out = _onepass.nll_loss(input, target, reduction, ignore_index)
        if out is not None:
            return _nll_kept(out, target, weight, ignore_index, reduction)
    _tensor("nll_loss_nd", input)
    refuse_inference_index(input, target)   # (torch's node saves the target)
    reduction = _reduction(reduction, size_average, reduce)
    ignore_index = _ignore_index(ignore_index, "nll_loss_nd")
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if input.dim() > 1 and (target.dim() == 0 or input.shape[0] != target.shape[0]):
        # (torch reports a 0-d target's batch size as 0)
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0] if target.dim() else 0}).")
    _not_differentiable("nll_loss2d_forward" if input.dim() >= 3 else "nll_loss_forward",
                        "weight", weight)
    _nll_target_shape(input, target, weight)
    if weight is None:   # (_onepass.py: F.nll_loss(F.log_softmax(...)) of a classifier)
        out = _onepass.nll_loss(input, target, reduction, ignore_index)
        if out is not None:
            return _nll_kept(out, target, weight, ignore_index, reduction)
    if input.dim() >= 3 and input.dim() != 4 and reduction == "none":
        # torch: the 2-d loss of a 4-d view, viewed back (ViewBackward0)
        n, c, d1 = input.shape[:3]
        rest = math.prod(input.shape[3:])
        loss = nll_loss(input.reshape(n, c, d1, rest), target.reshape(n, d1, rest), weight,
                        ignore_index=ignore_index, reduction="none")
        return loss.view(tuple(target.shape))
    onehot, wt, kept, cdim = _class_masks(input, target, weight, ignore_index)
    name = "nll_loss2d" if input.dim() >= 3 else "nll_loss"
    return _nll_kept(_saves_unread(_record(name, B.nll_loss, input, onehot, wt, kept,
                                           reduction, cdim), weight),
                     target, weight, ignore_index, reduction)


def _nll_kept(out, target, weight, ignore_index, reduction):
    """out, keeping what torch's NllLossBackward0 saves beside its input: its target and
    weight, ignore_index, the reduction and total_weight (worked out when read)."""
    return keep_later(out, _nll_fields, target, NO_TENSOR if weight is None else weight,
                      ignore_index, _REDUCTIONS.index(reduction), out._dtype)


def _nll_fields(target, weight, ignore_index, reduction, dt):
    """NllLossBackward0's fields: total_weight the weights of the targets not ignored,
    summed (their count without weights; 0 unreduced)."""
    t = target._array()
    kept = t != ignore_index
    total = 0.0 if reduction == 0 else float(kept.sum()) if weight is NO_TENSOR else \
        float(weight._array()[t[kept]].sum(dtype=np.float64))
    return {"ignore_index": ignore_index, "reduction": reduction, "target": target,
            "weight": weight, "total_weight": Tensor._wrap(np.array(total, dt.np), dt)}


@S._saves_index(1, "target")
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """nll_loss(log_softmax(input, 1), target) for class indices; -(target * log_softmax)
    summed over classes for class probabilities (float target of input's shape), both with
    torch's label smoothing and weights."""
    _tensor("cross_entropy_loss", input)
    _tensor("cross_entropy_loss", target, "target", 2)
    refuse_inference_index(input, target)   # (torch's nll_loss saves the target)
    reduction = _reduction(reduction, size_average, reduce)
    ignore_index = _ignore_index(ignore_index, "cross_entropy_loss")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    if weight is None and label_smoothing == 0.0:   # a classifier's loss: one pass
        out = _onepass.cross_entropy(input, target, reduction, ignore_index)
        if out is not None:
            return _nll_kept(out, target, weight, ignore_index, reduction)
    cdim = 1 if input.dim() > 1 else 0
    logp = _log_softmax(input, cdim)
    n_cls = input.shape[cdim]
    if tuple(target.shape) == tuple(input.shape):      # class probabilities
        if not target.dtype.is_floating_point:
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {target.dtype.legacy}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if weight is not None and (weight.dim() != 1 or weight.numel() != n_cls):
            raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all "
                               f"{n_cls} classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        if label_smoothing > 0.0:
            target = target * (1.0 - label_smoothing) + label_smoothing / n_cls
        prod = logp * target
        if weight is not None:
            shape = [1] * input.dim()
            shape[cdim] = n_cls
            prod = prod * weight.reshape(shape)
        if reduction == "mean":
            if input.numel() == 0:   # (torch's kernel: the sum filled with nan, negated)
                return -prod.sum().fill_(float("nan"))
            return _record("div_by_number", B.div_by_number, -prod.sum(),
                           input.numel() / n_cls)
        if reduction == "sum":
            return -prod.sum()
        return -prod.sum(cdim)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing <= 0.0:
        return nll
    ignore = target == ignore_index
    if weight is not None:
        shape = [1] * input.dim()
        shape[cdim] = n_cls
        smooth = -(logp * weight.reshape(shape)).sum(cdim)
    else:
        smooth = -logp.sum(cdim)
    smooth = smooth.masked_fill(ignore, 0.0)    # (torch's masked_fill_: MaskedFillBackward0)
    if reduction == "mean":
        if weight is not None:
            tv = target._array()
            kept = tv[tv != ignore_index]
            ret = smooth.sum() / float(weight._array()[kept].sum())
        else:
            ret = smooth.sum() / float(np.count_nonzero(target._array() != ignore_index))
    elif reduction == "sum":
        ret = smooth.sum()
    else:
        ret = smooth
    # (torch's C++ `(1 - ls) * nll + ret * (ls / n)`: mul(Tensor, Scalar), MulBackward1)
    return (_record("mul_by_number", DM.mul_number, nll, 1.0 - label_smoothing)
            + _record("mul_by_number", DM.mul_number, ret, label_smoothing / n_cls))


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target) as torch 2.13's:
    `linear_weight` of shape (C, in_features) or (C, d_1, ..., d_K, in_features) (a
    K-dimensional loss over logits (N, C, d_1, ..., d_K)), `linear_bias` of shape
    (C, d_1, ..., d_K), `ignore_index=None` meaning -100 for class indices (and refused with
    class probabilities).  `options` (nn.LinearCrossEntropyOptions) is checked and resolved
    as torch's, with its fallback warning; tapegrad then computes the reference composition
    (torch's chunked op agrees with it to round-off)."""
    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.dim()}")
    num_batches = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError("expected equal input and linear_weight last dimensions "
                           f"(in_features), got {input.shape[-1]} and "
                           f"{linear_weight.shape[-1]}, respectively")
    num_classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(num_classes, *out_features)}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and not num_batches:
        raise RuntimeError(
            f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} "
            f"requires batched input, (N, {in_features}), got unbatched input with shape "
            f"{tuple(input.shape)}")
    logits_shape = (*num_batches, num_classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains "
                           "probabilities")
    ignore_index = ignore_index if ignore_index is not None else -100
    if options is not None:
        chunked = (not out_features and reduction in ("mean", "sum", "none")
                   and label_smoothing == 0.0 and target.dtype is D.int64)
        if not chunked:
            warnings.warn(
                "linear_cross_entropy: ``options`` ignored; chunked path needs "
                "reduction in {'mean','sum','none'}, label_smoothing == 0, target.dtype"
                " == int64, out_features == (). Got "
                f"reduction={reduction!r}, label_smoothing={label_smoothing}, "
                f"target.dtype={target.dtype}, out_features={out_features}"
                ", tracing=False, linear_bias.shape="
                f"{tuple(linear_bias.shape) if linear_bias is not None else None}.",
                stacklevel=2)
        else:   # torch's resolution of the options (its ValueErrors); the values are the same
            options._adjust(num_batches=num_batches[0] if num_batches else 1,
                            in_features=in_features, num_classes=num_classes,
                            dtype=input.dtype, device=None)
    if out_features:
        rows = math.prod(out_features, start=num_classes)
        linear_weight = linear_weight.reshape((rows, in_features))
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(rows)
    logits = linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=ignore_index, label_smoothing=label_smoothing)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-(target log(input) + (1 - target) log(1 - input)), logs clamped at -100
    (BinaryCrossEntropyBackward0)."""
    reduction = _reduction(reduction, size_average, reduce)
    _same_size(input, target, "binary_cross_entropy", warn=False)
    if weight is not None:   # (torch's weight.expand(_broadcast_shapes(target, weight)))
        wide = _broadcast_shapes(target.shape, weight.shape)
    _not_differentiable("binary_cross_entropy", "weight", weight)
    if weight is not None and tuple(wide) != tuple(input.shape):
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast "
                           f"shape {list(wide)}")
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {target.dtype.legacy} but expected "
                           f"{input.dtype.legacy}")
    _floating_only("binary_cross_entropy", input)
    v = input._array()
    if np.any((v < 0) | (v > 1)) or np.any(np.isnan(v)):
        raise RuntimeError("all elements of input should be between 0 and 1")
    v = target._array()
    if np.any((v < 0) | (v > 1)) or np.any(np.isnan(v)):
        raise RuntimeError("all elements of target should be between 0 and 1")
    if weight is not None and tuple(weight.shape) != tuple(wide):
        weight = weight.expand(wide)   # (torch saves the expanded view: its error's sizes)
    return keep_tensor_args(_record("binary_cross_entropy", B.binary_cross_entropy, input, target,
                             weight, reduction),
                     reduction=_REDUCTIONS.index(reduction), target=target, weight=weight)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(input), target), computed stably from the logits
    (BinaryCrossEntropyWithLogitsBackward0)."""
    reduction = _reduction(reduction, size_average, reduce)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    _not_differentiable("binary_cross_entropy_with_logits", "weight", weight)
    _not_differentiable("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    _floating_only("log_sigmoid_cpu", input)   # (torch's kernel starts at log_sigmoid(input))
    if not target.dtype.is_floating_point:
        # (torch's kernel writes its float result into a tensor of the target's dtype)
        raise RuntimeError(errors.SUB_TWO_BOOLS if target.dtype is D.bool_ else
                           f"result type {input.dtype.legacy} can't be cast to the desired "
                           f"output type {target.dtype.legacy}")
    for extra in (pos_weight, weight):   # (torch's in-place ops keep the input's shape)
        if extra is not None and errors.broadcast_mismatch(input.shape, extra.shape) is None:
            wide = tuple(np.broadcast_shapes(tuple(input.shape), tuple(extra.shape)))
            if wide != tuple(input.shape):
                raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the "
                                   f"broadcast shape {list(wide)}")
    return keep_tensor_args(_saves_unread(_record(
        "binary_cross_entropy_with_logits", B.binary_cross_entropy_with_logits, input, target,
        weight, pos_weight, reduction), pos_weight), pos_weight=pos_weight,
        reduction=_REDUCTIONS.index(reduction), target=target, weight=weight)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """xlogy(target, target) - target * input summed as `reduction` says ('batchmean': divided
    by the batch size); torch's decomposition."""
    if size_average is not None or reduce is not None:
        # (torch: the legacy pair names the reduction, without the 'mean' warning; a
        # 'batchmean' string still divides its result by the batch size below)
        how = _reduction(reduction, size_average, reduce)
    else:
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and "
                          "the support size.'batchmean' divides only by the batch size, and "
                          "aligns with the KL div math definition.'mean' will be changed to "
                          "behave the same as 'batchmean' in the next major release.",
                          stacklevel=2)
        how = "sum" if reduction == "batchmean" else _reduction(reduction)
    _tensor("kl_div", input)
    _tensor("kl_div", target, "target", 2)
    if not (input.dtype.is_floating_point and target.dtype.is_floating_point):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # (torch's xlogy: a negative target's loss nan, a zero target's gradient 0 / 0)
        loss = target.xlogy(target) - target * input
    loss = B._reduce(loss, how)
    return loss / input.shape[0] if reduction == "batchmean" and input.dim() else loss


# ---- other -----------------------------------------------------------------------------------
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p over dim, eps), torch's composition (DivBackward0 of
    ExpandBackward0 of ClampMinBackward0 of the norm's node)."""
    return input / input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)


def one_hot(input, num_classes=-1):
    """int64 one-hot rows of `input`'s class indices (num_classes=-1: max + 1)."""
    _tensor("one_hot", input)
    # (a float or a bool num_classes: torch's parser's error, named at its usual position)
    num_classes = _int_arg(num_classes, "one_hot", "num_classes", 2).__index__()
    tensor = input
    if tensor.dtype is not D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    v = tensor._array()
    if not v.size and num_classes <= 0:
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    if num_classes == -1:
        num_classes = int(v.max()) + 1
    if v.size and v.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if v.size and v.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    # (row-major, as torch's: a transposed input's comparison keeps its layout)
    return _tensor_of((v[..., None] == np.arange(num_classes)).astype(np.int64, order="C"))


def pad(input, pad, mode="constant", value=None):
    """`input` padded by `pad` (pairs for the last dims, last dim first): 'constant' (value;
    negative pads crop), 'reflect', 'replicate' or 'circular', with torch's grad_fn names."""
    _tensor("pad", input)
    if isinstance(pad, Tensor):
        raise TypeError("pad(): argument 'pad' (position 2) must be tuple of ints, not Tensor")
    # (torch's int[] parser: a float tensor refused, a bool after the first element taken)
    pad = _int_seq((pad,), "pad", "pad", 2, False, _is_int_item)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           "dimension but got padding length {} and input of dimension {}"
                           .format(len(pad), input.dim()))
    pad = tuple(int(v) for v in pad)
    if mode == "constant":
        for j in range(len(pad) // 2):
            # torch narrows by the negative pads first
            if input.shape[input.dim() - 1 - j] + min(pad[2 * j], 0) + min(pad[2 * j + 1], 0) < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
        return keep_args(_record("constant_pad_nd", B.constant_pad_nd, input, pad,
                                 0.0 if value is None else value, _cat, _full), pad=pad)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    k = len(pad) // 2
    if k not in (1, 2, 3) or input.dim() not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.dim()}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    if mode != "circular" and 0 in input.shape[input.dim() - k - 1:]:
        raise RuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 "
                           f"batch size and other non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    index = []
    for j in range(k):
        d = input.dim() - 1 - j
        n, lo, hi = input.shape[d], pad[2 * j], pad[2 * j + 1]
        pos = np.arange(-lo, n + hi)
        if mode == "reflect":
            if lo >= n or hi >= n:
                raise RuntimeError(f"Argument #{4 + 2 * j}: Padding size should be less than the "
                                   f"corresponding input dimension, but got: padding "
                                   f"({lo}, {hi}) at dimension {d} of input "
                                   f"{list(input.shape)}")
            pos = np.abs(pos)
            pos = np.where(pos > n - 1, 2 * (n - 1) - pos, pos)
        elif mode == "replicate":
            pos = np.clip(pos, 0, n - 1)
        else:
            if lo > n or hi > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            # torch wraps around what is left once the negative pads have cropped
            start = max(-lo, 0)
            kept = n - start - max(-hi, 0)
            pos = start + np.arange(-max(lo, 0), kept + max(hi, 0)) % kept
        index.append((d, _tensor_of(pos.astype(np.int64))))
    if mode != "circular" and input.dtype is D.bool_:   # (torch's kernels, after its checks)
        kernel = "reflection" if mode == "reflect" else "replication"
        raise NotImplementedError(f'"{kernel}_pad{k}d" not implemented for \'Bool\'')
    name = "circular_pad" if mode == "circular" else f"{mode}_pad{k}d"
    return _record(name, B.index_pad, input, index)


def _shape_arg(fn, shape):
    """torch's SymInt[] argument normalized_shape (position 2): a sequence of ints, not an
    int (its modules make the tuple)."""
    if type(shape) is tuple and all(type(v) is int for v in shape):   # (what a module keeps)
        return shape
    if isinstance(shape, Tensor) or not isinstance(shape, (tuple, list)):
        raise TypeError(f"{fn}(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not {errors.type_name(shape)}")
    return _int_seq((shape,), fn, "normalized_shape", 2, bare=False)


# (ndim, k) -> the last k of ndim dims: layer_norm's normalized dims
_TRAILING_DIMS = {(nd, k): tuple(range(nd - k, nd)) for nd in range(9) for k in range(1, nd + 1)}


def _layer_norm_pass(x, ns, w, b, eps):
    """layer_norm's result by _onepass.layer_norm when its case and layer_norm's checks hold
    plainly, else None (the checked path decides)."""
    shape = x._shape
    nd, k = len(shape), len(ns)
    dt = x._dtype
    if not 0 < k <= nd or shape[nd - k:] != ns or dt is not D.float32 and dt is not D.float64:
        return None
    for v in ns:
        if type(v) is not int:
            return None
    for p in (w, b):
        if p is not None and (type(p) not in _PLAIN or p._shape != ns or p._dtype is not dt):
            return None
    out = _onepass.layer_norm(x, _TRAILING_DIMS.get((nd, k)) or tuple(range(nd - k, nd)), w, b,
                              float(eps))
    return None if out is None else _row_major(out)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """(input - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape)
    dims (NativeLayerNormBackward0)."""
    if type(normalized_shape) is tuple and type(input) in _PLAIN:
        # a layer's call (a tuple of ints matching the input's trailing sizes, weight and bias
        # None or of those sizes in the input's float dtype): the checks below pass, straight
        # to the one-pass writer
        out = _layer_norm_pass(input, normalized_shape, weight, bias, eps)
        if out is not None:
            return _layer_norm_kept(out, input, normalized_shape, weight, bias, eps)
    _tensor("layer_norm", input)
    ns = _shape_arg("layer_norm", normalized_shape)
    if not ns:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    # (torch's order: the mixed type, the parameters' shapes, the input's, their dtypes)
    _check_mixed_dtypes(input, weight, bias)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(ns)}")
    shape = tuple(input.shape)
    nd = len(shape)
    if shape[nd - len(ns):] != ns or len(ns) > nd:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{list(shape)}")
    if weight is not None or bias is not None:
        _check_norm_dtypes(input, weight, bias)
    _floating_only("LayerNormKernelImpl", input)
    dims = _TRAILING_DIMS.get((nd, len(ns))) or tuple(range(nd - len(ns), nd))
    out = _onepass.layer_norm(input, dims, weight, bias, float(eps))   # (a layer in training)
    if out is None:
        out = _record("layer_norm", B.layer_norm, input, dims, weight, bias, float(eps))
    # (torch's kernel: a contiguous output, even of a transpose)
    return _layer_norm_kept(_row_major(out), input, ns, weight, bias, eps)


def _layer_norm_kept(out, input, normalized_shape, weight, bias, eps):
    """out, keeping what torch's NativeLayerNormBackward0 saves beside its input: weight,
    bias, normalized_shape, and its kernel's mean and rstd (result1, result2), worked out
    when read from the input's value now."""
    if not out._recorded:
        return out
    tape = out._tape
    return keep_later(out, _ln_fields, input._array(), normalized_shape, eps, out._dtype,
                      tensor_arg(tape, weight), tensor_arg(tape, bias))


def _ln_fields(x, normalized_shape, eps, dt, weight, bias):
    ns = tuple(int(n) for n in normalized_shape)
    return {"weight": weight, "bias": bias, "normalized_shape": ns,
            "result1": _ln_moments(x, len(ns), eps, 0, dt),
            "result2": _ln_moments(x, len(ns), eps, 1, dt)}


def _ln_moments(x, k, eps, which, dt):
    """layer_norm's mean (which 0) or rstd (1) of array x over its last k dims, kept dims of
    size 1, in dtype dt (computed in float64, then rounded)."""
    dims = tuple(range(x.ndim - k, x.ndim))
    x = x.astype(np.float64)
    mean = x.mean(axis=dims, keepdims=True)
    if which == 0:
        return Tensor._wrap(mean.astype(dt.np), dt)
    var = ((x - mean) ** 2).mean(axis=dims, keepdims=True)
    return Tensor._wrap((1.0 / np.sqrt(var + eps)).astype(dt.np), dt)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """input * rsqrt(mean(input ** 2) + eps) * weight over the last len(normalized_shape) dims,
    torch's composition (MulBackward0 <- RsqrtBackward0 <- Add <- MeanBackward1 <-
    PowBackward0); eps=None is torch.finfo(input.dtype).eps.  The eps add shows
    AddBackward0 (torch: AddBackward1, its add of a number)."""
    _tensor("rms_norm", input)
    if not isinstance(normalized_shape, (tuple, list)) and not hasattr(normalized_shape,
                                                                       "__len__"):
        raise TypeError("rms_norm(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not {type(normalized_shape).__name__}")
    ns = tuple(normalized_shape)
    if weight is not None and tuple(weight.shape) != ns:   # (torch's first check)
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got "
                           f"weight of shape {list(weight.shape)} and normalized_shape = "
                           f"{list(ns)}")
    if len(ns) > input.dim():
        raise ValueError(f"Input tensor must have at least {len(ns)} dimensions, but got "
                           f"{input.dim()}")
    if tuple(input.shape[input.dim() - len(ns):]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*{', '.join(map(str, ns))}], but got input of size"
                           f"{list(input.shape)}")
    mixed = weight is not None and weight.dtype is not input.dtype
    if mixed:
        # torch's fused kernel needs one dtype; its composition casts the product back to the
        # input's dtype (a float64 weight on float32 input: float32, ToCopyBackward0)
        errors.warn_once("Mismatch dtype between input and weight: input dtype = "
                         f"{errors._C_TYPE[input.dtype.name]}, weight dtype = "
                         f"{errors._C_TYPE[weight.dtype.name]}, Cannot dispatch to fused "
                         "implementation.", key="rms_norm dtypes")
    _floating_only("rms_norm", input)   # (both of torch's paths: after that warning)
    if eps is None:
        eps = D.finfo(input.dtype).eps
    dims = tuple(range(input.dim() - len(ns), input.dim()))
    out = input * (input.pow(2).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is None:
        return out
    return (out * weight).to(input.dtype) if mixed else out * weight


@S._saves_index(0, "input")
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """The rows of `weight` at the indices `input` (EmbeddingBackward0); the row at
    padding_idx gets no gradient.  With max_norm, the looked-up rows whose norm_type-norm
    exceeds it are first scaled to it in place, under no_grad (torch's embedding_renorm_).
    With scale_grad_by_freq, each looked-up row's gradient is divided by the number of times
    its index occurs in `input`."""
    _tensor("embedding", weight, "weight")   # (torch.embedding(weight, indices, ...))
    _tensor("embedding", input, "indices", 2)
    if padding_idx is not None and not -weight.shape[0] <= padding_idx < max(weight.shape[0], 1):
        raise AssertionError("Padding_idx must be within num_embeddings")   # (torch's assert)
    if padding_idx is not None and padding_idx.__class__ is not int and \
            not _is_int_item(padding_idx, True):   # (then torch.embedding's parser: SymInt)
        raise TypeError(f"embedding(): argument 'padding_idx' (position 3) must be int, not "
                        f"{errors.type_name(padding_idx)}")
    if max_norm is not None:   # (torch renorms first: its checks come before embedding's)
        _check_renorm(weight, input)
    if sparse:
        raise NotImplementedError("tapegrad: embedding(sparse=True) is not implemented (tapegrad "
                                  "has no sparse tensors); use sparse=False: the dense "
                                  "gradient has the same values")
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    if input.dtype not in (D.int64, D.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"{errors.checked_type_name(input.dtype)} instead (while checking "
                           f"arguments for embedding)")
    if padding_idx is None and max_norm is None and not scale_grad_by_freq and \
            type(input) is Tensor and input._shape and not input._recorded and \
            type(weight) in _PLAIN and type(weight._v) is np.ndarray and \
            not INFERENCE_MADE[0] and type(input._v) is np.ndarray and input._v.size and \
            np.minimum.reduce(input._v, None) >= 0:
        # the common lookup: the body's one entry (weight[input]'s, views._rows_at, which
        # checks the indices are below the rows: else None, and the general path's error;
        # negative ones, which it would take as Python's, are torch's error too) as the row's
        # group, without the indexing dispatch and record's general steps
        tape, start = decomps.open_length()
        out = _rows_at(weight, input)
        if out is not None:
            return _embedding_kept(decomps.written("embedding", out, tape, start), input,
                                   weight, padding_idx, scale_grad_by_freq, sparse)
    v = input._array()
    if max_norm is not None:    # first, as torch (it raises its own error for a bad index)
        _embedding_renorm_(weight, v, float(max_norm), float(norm_type))
    if v.size and weight.shape[0] == 0:   # (torch's index_select's errors)
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    if v.size and (v.min() < 0 or v.max() >= weight.shape[0]):
        # torch's index_select: no negative indices (unlike Python's)
        raise IndexError("index out of range in self")
    mask = None
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += weight.shape[0]
        mask = (input == padding_idx).unsqueeze(-1)
    scale = None
    if scale_grad_by_freq:
        counts = np.bincount(v.reshape(-1), minlength=weight.shape[0])
        scale = _tensor_of((1.0 / counts[v])[..., None], dtype=weight.dtype)
    return _embedding_kept(_record("embedding", B.embedding, weight, input, mask, scale), input,
                           weight, padding_idx, scale_grad_by_freq, sparse)


def _embedding_kept(out, indices, weight, padding_idx, scale_grad_by_freq, sparse):
    """out, keeping what torch's EmbeddingBackward0 saves: the indices, padding_idx (wrapped;
    -1 without one), the flags and the number of rows (worked out when read)."""
    return keep_later(out, _embedding_fields, indices, padding_idx, scale_grad_by_freq, sparse,
                      weight._shape[0])


def _embedding_fields(indices, padding_idx, scale_grad_by_freq, sparse, rows):
    return {"indices": indices, "padding_idx": -1 if padding_idx is None else
            padding_idx % rows, "scale_grad_by_freq": scale_grad_by_freq, "sparse": sparse,
            "weight_sym_argsize_0": rows}


# ---- engineer "surface12": in-place activations, more activations, batch / group norm,
# distances (bodies in nn/_decomps_ext.py) --------------------------------------------------
def relu_(input):
    """relu in place (ReluBackward0)."""
    return input.relu_()


def leaky_relu_(input, negative_slope=0.01):
    """leaky_relu in place (LeakyReluBackward1)."""
    return leaky_relu(input, negative_slope, inplace=True)


def elu_(input, alpha=1.0):
    """elu in place (EluBackward1)."""
    return elu(input, alpha, inplace=True)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """min(max(input, min_val), max_val) (HardtanhBackward0)."""
    _tensor("hardtanh", input)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if not input.dtype.is_floating_point:   # torch's clamp in the input's integer dtype
        if input.dtype is D.bool_:
            raise RuntimeError("Bool inputs not supported for hardtanh")
        lo, hi = int(min_val), int(max_val)
        if input.dtype is D.uint8 and (lo < 0 or hi < 0):   # (clamp would wrap them to 255)
            raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
        if inplace:
            return input.clamp_(lo, hi)
        return input.clamp(lo, hi)
    if inplace:
        return _inplace_row(input, "hardtanh", X.hardtanh, float(min_val), float(max_val))
    return _record("hardtanh", X.hardtanh, input, float(min_val), float(max_val))


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """hardtanh in place."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(input, 0), 6) (HardtanhBackward0, as torch)."""
    _tensor("relu6_" if inplace else "relu6", input)
    return hardtanh(input, 0.0, 6.0, inplace)


def selu(input, inplace=False):
    """scale * elu(input, alpha) with torch's constants (EluBackward0; in place
    EluBackward1)."""
    _tensor("selu", input)
    if inplace:
        return _inplace_row(input, "elu_", X.selu)
    _floating_only("elu_cpu", input)
    return _fastpath.op_selu(input)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (CeluBackward0; in place
    CeluBackward1)."""
    _tensor("celu", input)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    alpha = float(alpha)
    if inplace:
        if alpha < 0 and _negative_slope_refused(input):
            return _refused_inplace(input, "CeluBackward1", X.celu, alpha, _ELU_NEGATIVE)
        return _inplace_row(input, "celu_", X.celu, alpha)
    _floating_only("elu_cpu", input)
    return _fastpath.op_celu(input, alpha)


def selu_(input):
    """selu in place (EluBackward1)."""
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    """celu in place (CeluBackward1)."""
    return celu(input, alpha, inplace=True)


def _unary_row(input, kernel, op, inplace):
    """op(input) (a unary row's generated recorder); in place, the same row recorded on
    input (torch's in-place forms of these keep the Backward0 node)."""
    _floating_only(kernel, input)
    if not inplace:
        return op(input)
    return input._inplace(lambda arr, _: op(input._wrap(np.array(arr), input.dtype))._array(),
                          None, lambda t, _: op(t))


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6 (HardswishBackward0)."""
    _tensor("hardswish", input)
    return _unary_row(input, "hardswish_cpu", _fastpath.op_hardswish, inplace)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6 (HardsigmoidBackward0)."""
    _tensor("hardsigmoid", input)
    return _unary_row(input, "hardsigmoid_cpu", _fastpath.op_hardsigmoid, inplace)


def mish(input, inplace=False):
    """x * tanh(softplus(x)) (MishBackward0)."""
    _tensor("mish", input)
    return _unary_row(input, "mish_cpu", _fastpath.op_mish, inplace)


def logsigmoid(input):
    """log(sigmoid(x)) (LogSigmoidBackward0)."""
    _tensor("log_sigmoid", input)
    _floating_only("log_sigmoid_cpu", input)
    # (torch's log_sigmoid_forward writes into a contiguous output, even of a transpose)
    return _row_major(_fastpath.op_logsigmoid(input))


def softsign(input):
    """x / (1 + |x|) (torch's decomposition: DivBackward0)."""
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x) (torch's decomposition: SubBackward0; a one-element float32 tanh rounded
    to float32 first, as torch's: the difference magnifies its rounding near 0)."""
    return input - stored32(input.tanh())


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-input, dim) (SoftmaxBackward0 of NegBackward0, as torch)."""
    if dim is None:
        dim = _softmax_dim("softmin", input.dim(), _stacklevel)
    return _softmax(-input, dim, dtype)


def _check_mixed_dtypes(input, *params):
    """torch's CPU check of a normalization's 'mixed type' (the first parameter given of
    another dtype than the input's: meant for reduced-float inputs with float32 parameters,
    which tapegrad has not), which it refuses."""
    given = [t for t in params if t is not None]
    if given and given[0].dtype is not input.dtype:
        if any(t.dtype is not D.float32 for t in given):
            raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    return given


def _check_norm_dtypes(input, *params):
    """torch's CPU checks of a normalization's parameter dtypes: the mixed type refused,
    then each must be the input's."""
    for t in _check_mixed_dtypes(input, *params):
        if t.dtype is not input.dtype:
            raise RuntimeError(f"expected scalar type {input.dtype.legacy} but found "
                               f"{t.dtype.legacy}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Normalize over every dim but the channels (dim 1) with the batch statistics
    (training; running_mean/var, when given, updated in place under no_grad with the
    unbiased variance, as torch) or with the running statistics (NativeBatchNormBackward0)."""
    if TRANSFORMS.levels and training and (running_mean is not None or
                                           running_var is not None):
        # (under grad & co. torch's kernel updates even captured statistics: no check)
        _stats_under_transforms((running_mean, running_var), ("vmap",))
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps):
    _tensor("batch_norm", input)
    if input.dim() < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[-{max(input.dim(), 1)}, {max(input.dim(), 1) - 1}], but got 1)")
    c = input.shape[1]
    if training and c and input.numel() // c == 1:   # (torch: exactly one, not none)
        raise ValueError(f"Expected more than 1 value per channel when training, got "
                         f"input size {input.shape}")
    if not hasattr(momentum, "__float__"):   # (the modules' momentum=None is theirs)
        raise TypeError(f"batch_norm(): argument 'momentum' (position 7) must be float, not "
                        f"{errors.type_name(momentum)}")
    if training and (running_mean is not None or running_var is not None):
        refuse_state_update("batch_norm in training mode (its running statistics)")
    if input.numel() == 0:   # (torch: a copy, scaled and shifted by the first weight and bias)
        out = input.clone()
        if weight is not None:
            out = out * weight[0]
        return out if bias is None else out + bias[0]
    given = not training or running_mean is not None or running_var is not None or \
        weight is not None or bias is not None   # (else nothing given to check)
    if given:
        for name, t in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
            if t is None and name.startswith("running") and not training:
                raise RuntimeError(f"{name} must be defined in evaluation mode")
            if t is not None and t.numel() != c:
                raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    _floating_only("batch_norm", input)   # (torch: after the sizes, before the dtypes)
    if given:
        _check_norm_dtypes(input, weight, bias, running_mean, running_var)
    shape = (1, c) + (1,) * (input.dim() - 2)
    dims = (0,) + tuple(range(2, input.dim()))
    if training:
        out = _onepass.batch_norm(input, weight, bias, float(eps))   # (None: not its case)
        if out is None:
            out = _record("batch_norm", X.batch_norm, input, dims, None, None, weight, bias,
                          float(eps), shape)
        _batch_norm_kept(out, input, dims, running_mean, running_var, weight, True, eps)
        if running_mean is not None or running_var is not None:
            _update_running_stats(running_mean, running_var, input._array(), dims,
                                  float(momentum))
        return _suggested_layout(out, input)
    return _suggested_layout(_batch_norm_kept(
        _record("batch_norm", X.batch_norm, input, dims, running_mean.detach(),
                running_var.detach(), weight, bias, float(eps), shape),
        input, dims, running_mean, running_var, weight, False, eps), input)


def _batch_norm_kept(out, input, dims, running_mean, running_var, weight, training, eps):
    """out, keeping what torch's NativeBatchNormBackward0 saves beside its input: weight, the
    running statistics (the buffers themselves), training, eps, and its kernel's batch mean
    and inverse std (result1, result2: empty in evaluation), worked out when read."""
    if not out._recorded:
        return out
    tape = out._tape
    return keep_later(out, _bn_fields, input._array(), dims, eps, training, out._dtype,
                      tensor_arg(tape, weight), tensor_arg(tape, running_mean),
                      tensor_arg(tape, running_var))


def _bn_fields(x, dims, eps, training, dt, weight, running_mean, running_var):
    if training:
        stats = [_bn_moments(x, dims, eps, k, dt) for k in (0, 1)]
    else:
        stats = [Tensor._wrap(np.empty(0, dt.np), dt) for _ in (0, 1)]
    return {"weight": weight, "running_mean": running_mean, "running_var": running_var,
            "training": training, "eps": eps, "result1": stats[0], "result2": stats[1]}


def _bn_moments(x, dims, eps, which, dt):
    """batch_norm's batch mean (which 0) or inverse std (1, of the biased variance) of array
    x over `dims`, one per channel, in dtype dt (computed in float64, then rounded)."""
    x = x.astype(np.float64)
    mean = x.mean(axis=dims)
    if which == 0:
        return Tensor._wrap(mean.astype(dt.np), dt)
    var = x.var(axis=dims)
    return Tensor._wrap((1.0 / np.sqrt(var + eps)).astype(dt.np), dt)


_CAPTURED = ("During a grad (vjp, jvp, grad, etc) transform, the function provided attempted "
             "to call in-place operation (aten::add_.Tensor) that would mutate a captured "
             "Tensor. This is not supported; please rewrite the function being transformed to "
             "explicitly accept the mutated Tensor(s) as inputs.")
_UNBATCHED = ("Batch norm got a batched tensor as input while the running_mean or running_var, "
              "which will be updated in place, were not batched.\nIf you are using a module "
              "and do not need eval mode, please set `track_running_stats` to be False.If you "
              "are using a prebuilt module and do not need eval mode, please see the functorch "
              "website for resources on how to patch your module to work with vmap")


def _stats_under_transforms(stats, kinds):
    """torch.func's refusal to update statistics in place under a transform: under grad & co.
    (torch's check comes first, at any level: BatchNorm's num_batches_tracked.add_(1)) when
    they are not among (views of) the tensors the transformed function was given (captured:
    a module's own buffers), under vmap (batch norm's running statistics) when they are not
    among its mapped samples (unbatched).  functional_call with the buffers passed in (and
    mapped, under vmap) updates them, as torch's."""
    levels = TRANSFORMS.levels
    for kind, given in [lv for k in kinds for lv in levels if lv[0] == k]:
        for t in stats:
            if t is None:
                continue
            base = t._base if t._base is not None else t
            if not any(a is t or a is base or a._base is not None and a._base is base
                       for a in given):
                raise RuntimeError(_CAPTURED if kind == "grad" else _UNBATCHED)


_CHANNELS_LAST = {4: layouts.channels_last, 5: layouts.channels_last_3d}


def _suggested_layout(out, input):
    """batch_norm's result in torch's layout: the input's suggested memory format, so
    channels-last when the input is (a permuted NHWC tensor), else row-major."""
    fmt = _CHANNELS_LAST.get(input.dim())
    if fmt is not None and not input.is_contiguous() and input.is_contiguous(memory_format=fmt):
        return out
    return _row_major(out)


def _update_running_stats(running_mean, running_var, xa, dims, m):
    """running = m * batch statistic + (1 - m) * running, in float64 (torch's accumulate
    type), the variance unbiased, each written into the buffer's memory (no version bump, as
    torch's kernel)."""
    v = xa.astype(np.float64)
    n = v.size // v.shape[1]
    with np.errstate(all="ignore"):   # (an inf in the batch: nan statistics silently, as torch)
        mean = np.add.reduce(v, axis=dims, keepdims=True) / n   # (np.mean's and np.var's steps)
        var = None if running_var is None else \
            np.add.reduce(np.square(v - mean), axis=dims) / (n - 1)
    news = [(t, stat.reshape(-1) * m + np.float64(1.0 - m) * t._array())
            for t, stat in ((running_mean, mean), (running_var, var)) if t is not None]
    with COMMIT:    # (a Ctrl-C never updates the mean without the variance)
        for t, new in news:
            if type(t._v) is np.ndarray:
                t._v[...] = new
            else:
                t._v = float(new[0])
            t._lserial = 0    # (a later use records the new value: tape.leaf_node)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-05):
    """Normalize each channel of each sample over its positions: torch's composition, batch
    norm of the (1, N * C, *) view (weight, bias and running statistics repeated N times),
    viewed back (ViewBackward0 of NativeBatchNormBackward0); with use_input_stats the running
    statistics, when given, move towards the means over the batch of the per-sample ones."""
    _tensor("instance_norm", input)
    if use_input_stats:
        n_spatial = math.prod(input.shape[2:])
        if n_spatial == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input "
                             f"size {input.shape}")
    if input.dim() < 2:
        raise ValueError(f"Expected more than 1 spatial element when training, got input "
                         f"size {input.shape}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither "
                         "be None")
    if use_input_stats and running_mean is not None and TRANSFORMS.levels:
        # (under vmap torch refuses unbatched running statistics, under grad it updates them)
        _stats_under_transforms((running_mean, running_var), ("vmap",))
    n, c = input.shape[0], input.shape[1]
    shape = (1, n * c) + tuple(input.shape[2:])
    w = weight.repeat(n) if weight is not None else None
    b = bias.repeat(n) if bias is not None else None
    rm = running_mean.detach() if running_mean is not None else None
    rv = running_var.detach() if running_var is not None else None
    stats_dtype = weight.dtype if weight is not None else input.dtype
    if rm is not None and rm.dtype is not stats_dtype:
        # torch casts both statistics to the weight's dtype (the input's without one) when
        # the mean's differs (float32 statistics of a float64 input pass; a float64 mean
        # beside a float32 var does not; a float32 weight of a float64 input makes float64
        # statistics float32, so batch_norm's check finds all its parameters float32)
        rm, rv = rm.to(stats_dtype), rv.to(stats_dtype)
    rm = rm.repeat(n) if rm is not None else None
    rv = rv.repeat(n) if rv is not None else None
    out = _batch_norm(input.contiguous().view(shape), rm, rv, w, b, use_input_stats, momentum,
                      eps)
    if use_input_stats:
        if running_mean is not None:
            running_mean._assign(rm._array().reshape(n, c).mean(0).astype(
                running_mean.dtype.np))
        if running_var is not None:
            running_var._assign(rv._array().reshape(n, c).mean(0).astype(
                running_var.dtype.np))
    return out.view(tuple(input.shape))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalize each of num_groups groups of channels over its channels and positions,
    then * weight + bias per channel (NativeGroupNormBackward0)."""
    _tensor("group_norm", input)
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.dim()}")
    c = input.shape[1]
    # torch's _verify_batch_size (its // raises for 0 groups), then the kernel's checks
    size = [input.shape[0] * c // num_groups, num_groups] + list(input.shape[2:])
    if size[0] * int(np.prod(size[2:])) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {size}")
    if num_groups <= 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    # (torch's bias message shows the weight's shape, [0] without a weight)
    weight_shape = list(weight.shape) if weight is not None else [0]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {weight_shape} "
                               f"and input of shape {list(input.shape)}")
    _check_norm_dtypes(input, weight, bias)
    _floating_only("GroupNormKernelImpl", input)
    shape = (1, c) + (1,) * (input.dim() - 2)
    return _record("group_norm", X.group_norm, input, num_groups, weight, bias, float(eps),
                   shape)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """input / (k + alpha * mean(input^2 over `size` neighbouring channels))^beta, the window
    zero-padded at the ends: torch's composition (pad, then an average pooling along the
    channels; DivBackward0)."""
    dim = input.dim()
    if dim < 3:
        # (the run of spaces is in torch's message)
        raise ValueError(f"Expected 3D or higher dimensionality                          "
                         f"input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    div = input.mul(input)
    if dim == 3:
        div = pad(div.unsqueeze(1), (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = tuple(input.shape)
        div = div.view(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1).view(sizes)
    return input / div.mul(alpha).add(k).pow(beta)


def _feature_dropout(input, p, training, inplace, batched):
    """Zero whole channels (dim 1, or dim 0 of an unbatched input) with probability p and
    scale the rest by 1 / (1 - p) (MulBackward0)."""
    _check_dropout_p(p)
    if not training or p == 0.0:
        return input
    lead = 2 if batched else 1
    shape = tuple(input.shape[:lead]) + (1,) * (input.dim() - lead)
    if p == 1.0:
        scale = np.zeros((), input.dtype.np)
    elif not input.dtype.is_floating_point:   # (torch divides its noise in the input's dtype)
        raise errors._cast_error(D.float32, input.dtype)
    else:   # torch's noise: one Bernoulli draw per channel (make_feature_noise)
        scale = dropout_noise(default_generator._engine, shape, p, input.dtype.np)
    mask = _tensor_of(scale, dtype=input.dtype)
    return input.mul_(mask) if inplace else input * mask


def _unbatched_feature_dropout(input, p, training, inplace, batched):
    """dropout1d/3d as torch's: an unbatched input is unsqueezed to a batch of one and the
    result squeezed back (in place with inplace=True), so even in eval mode the result is a
    new view (SqueezeBackward1; SqueezeBackward4 in place), not the input itself."""
    if batched:
        return _feature_dropout(input, p, training, inplace, True)
    input = input.unsqueeze_(0) if inplace else input.unsqueeze(0)
    result = _feature_dropout(input, p, training, inplace, True)
    return result.squeeze_(0) if inplace else result.squeeze(0)


def _alpha_dropout(input, p, training, inplace, feature):
    """torch's alpha dropout: input * a + b with a, b from Bernoulli(1 - p) noise (per
    element, or per channel with `feature`), keeping SELU's mean and variance (MulBackward0,
    then AddBackward0)."""
    _check_dropout_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        zero = _tensor_of(np.zeros((), input.dtype.np), dtype=input.dtype)
        return input.mul_(zero) if inplace else input * zero
    if not input.dtype.is_floating_point:
        # (torch's noise of a bool input is made in int64 first)
        raise errors._cast_error(D.float32, D.int64 if input.dtype is D.bool_ else input.dtype)
    a, b = alpha_dropout_affine(default_generator._engine, tuple(input.shape), p,
                                input.dtype.np, feature)
    if not feature:   # (torch's noise is empty_like(input): in a transposed input's memory order)
        a, b = arranged_like(input._array(), a), arranged_like(input._array(), b)
    a, b = _tensor_of(a, dtype=input.dtype), _tensor_of(b, dtype=input.dtype)
    return input.mul_(a).add_(b) if inplace else input * a + b


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout (for SELU networks) while training; the input itself otherwise."""
    return _alpha_dropout(input, p, training, inplace, False)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels (dim 1) while training."""
    return _alpha_dropout(input, p, training, inplace, True)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel-wise dropout of (N, C, L) or (C, L) inputs."""
    _check_dropout_p(p)   # (before the dim checks and their warnings, as torch)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a "
                           f"{input.dim()}D input. Note that dropout1d exists to provide "
                           f"channel-wise dropout on inputs with 1 spatial dimension, a channel "
                           f"dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _unbatched_feature_dropout(input, p, training, inplace, input.dim() == 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel-wise dropout of (N, C, H, W) inputs (a 3-d input: (N, C, L), as torch)."""
    _check_dropout_p(p)   # (before the dim checks and their warnings, as torch)
    if input.dim() not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.dim()}-D input to dropout2d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch "
                      "dimension (i.e. 3D or 4D inputs).", stacklevel=2)
    if input.dim() == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout "
                      "behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace, input.dim() >= 2)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Channel-wise dropout of (N, C, D, H, W) or (C, D, H, W) inputs."""
    _check_dropout_p(p)   # (before the dim checks and their warnings, as torch)
    if input.dim() not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.dim()}-D input to dropout3d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch "
                      "dimension (i.e. 4D or 5D inputs).", stacklevel=2)
    return _unbatched_feature_dropout(input, p, training, inplace, input.dim() == 5)


_PRELU = OPS["prelu"].code


def prelu(input, weight):
    """input where input > 0, else weight * input, weight one value or one per channel
    (dim 1; an input of fewer dims has one channel, as torch's) (PreluKernelBackward0)."""
    _tensor("prelu", input)
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {input.dtype.legacy} and "
                           f"{weight.dtype.legacy}")
    if weight.dim() > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.dim()}")
    n = weight.numel()
    if n != 1:
        if input.dim() == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        c = input.shape[1] if input.dim() >= 2 else 1
        if n != c:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {n} and channel size = {c}.")
        shape = (1, c) + (1,) * (input.dim() - 2)
    else:
        shape = (1,) * input.dim()
    _floating_only("prelu_cpu", input)
    if tuple(weight.shape) != shape:   # (torch views the weight: ViewBackward0)
        weight = weight.view(shape)
    return _binary(_PRELU, input, weight)


def threshold(input, threshold, value, inplace=False):
    """input where input > threshold, else value (ThresholdBackward0; in place
    ThresholdBackward1)."""
    _tensor("threshold", input)
    if not input.dtype.is_floating_point:
        return _threshold_integer(input, threshold, value, inplace)
    if inplace:
        return _inplace_row(input, "threshold_", X.threshold, float(threshold), float(value))
    return _record("threshold", X.threshold, input, float(threshold), float(value))


_C_INT_NAMES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int",
                "int64": "int64_t"}


def _scalar_as(number, kind):
    """A Python number converted as torch's Scalar.to<T>() converts it to integer type kind:
    a float truncated within the type's range, an int wrapping (unsigned: down to -max)."""
    info = np.iinfo(kind)
    if isinstance(number, float):
        bad = not info.min <= number <= info.max       # (nan and inf fail too)
    else:
        number = int(number)
        low = -info.max if info.min == 0 else info.min
        bad = not low <= number <= info.max
    if bad:
        raise RuntimeError(f"value cannot be converted to type {_C_INT_NAMES[np.dtype(kind).name]}"
                           f" without overflow")
    return np.int64(int(number)).astype(kind)


def _threshold_integer(input, threshold, value, inplace):
    """threshold of an integer tensor, in its dtype: torch's kernel converts threshold and
    value to it and compares in it."""
    if input.dtype is D.bool_:
        raise NotImplementedError('"threshold_cpu" not implemented for \'Bool\'')
    v = input._array()
    kind = v.dtype.type
    out = _tensor_of(np.where(v > _scalar_as(threshold, kind), v, _scalar_as(value, kind)))
    return input.copy_(out) if inplace else out


def threshold_(input, threshold, value):
    """threshold in place (ThresholdBackward1)."""
    _tensor("threshold_", input)
    if not input.dtype.is_floating_point:
        return _threshold_integer(input, threshold, value, True)
    return _inplace_row(input, "threshold_", X.threshold, float(threshold), float(value))


def glu(input, dim=-1):
    """a * sigmoid(b), a and b the two halves of input along dim (GluBackward0)."""
    _tensor("glu", input)
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    _int_arg(dim, "glu", "dim", 2)
    d = _dim(dim.__index__(), input.dim())
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size "
                           f"{input.shape[d]}")
    _floating_only("glu_cpu", input)
    return _record("glu", X.glu, input, d)


def _shrink_check(input, lambd):
    if lambd < 0:
        name, top = (("Double", "1.79769e+308") if input.dtype is D.float64
                     else ("Float", "3.40282e+38"))
        raise RuntimeError(f"lambda must be in range [0, {top}] for input dtype {name}, but "
                           f"found {lambd:g}")


def softshrink(input, lambd=0.5):
    """input -+ lambd outside [-lambd, lambd], 0 inside (SoftshrinkBackward0)."""
    _tensor("softshrink", input)
    _floating_only("softshrink_check", input)
    _shrink_check(input, lambd)
    return _record("softshrink", X.softshrink, input, float(lambd))


def hardshrink(input, lambd=0.5):
    """input outside [-lambd, lambd], 0 inside (HardshrinkBackward0)."""
    _tensor("hardshrink", input)
    _floating_only("hardshrink_cpu", input)
    return _record("hardshrink", X.hardshrink, input, float(lambd))


# ---- losses torch composes from other ops (their grad_fn: MeanBackward0 / SumBackward0) ----
def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target * (input1 - input2) + margin), reduced."""
    reduction = _reduction(reduction, size_average, reduce)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.shape}, input2: {input2.shape}, "
                           f"target: {target.shape} ")
    loss = (-target * (input1 - input2) + margin).clamp_min(0)
    return B._reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """input where target is 1, max(0, margin - input) where target is -1, reduced."""
    reduction = _reduction(reduction, size_average, reduce)
    # (torch's C++ margin - input fills a tensor of the input's dtype with margin: an integer
    # input's loss is integer, margin truncated; SubBackward0)
    clamp = (_full(tuple(input.shape), margin, dtype=input.dtype) - input).clamp_min(0)
    zero = _full((), 0, dtype=input.dtype)
    loss = _where(target != 1, clamp, zero) + _where(target != -1, input, zero)
    return B._reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """exp(input) - target * input (log_input), or input - target * log(input + eps); with
    full, Stirling's term where target > 1."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        # (torch's C++ input + eps: add(Tensor, Scalar), AddBackward1)
        loss = input - target * _record("add_number", DM.add_number, input, float(eps)).log()
    if full:
        # NOTE: torch's C++ formula (its numbers: mul(Tensor, Scalar), MulBackward1): the
        # masked terms' gradient is 0 times that of t * log(t) + 0.5 * log(2 pi t), so a
        # target <= 0 that requires grad gets nan
        half_log = _record("mul_by_number", DM.mul_number, _record(
            "mul_by_number", DM.mul_number, target, 2 * math.pi).log(), 0.5)
        stirling = target * target.log() - target + half_log
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return B._reduce(loss, reduction)


_STRAIGHT_THROUGH = OPS["straight_through"].code


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ log(2 pi) / 2 with
    full), reduced; var may be one dim short of input or broadcast in one dim (torch's
    homoscedastic cases).  The clamp is torch's in-place clamp under no_grad: the gradient
    reaches var unclamped."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = _tensor_of(np.full(tuple(input.shape), var), dtype=input.dtype)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (input.dim() == var.dim() and sum(
                y for x, y in zip(input.shape, var.shape) if x != y) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    v = var.clone()
    vd = v.detach()
    # (the clamped value with v's whole gradient: v + (clamped - vd) was inf - inf = nan at
    # an infinite var)
    v = _binary(_STRAIGHT_THROUGH, v, _where(vd < eps, eps, vd))
    loss = 0.5 * (v.log() + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return B._reduce(loss, reduction)
