"""torch's top-level forms of nn.functional's functions (`torch.dropout(input, p, train)`,
`torch.selu`, `torch.threshold_`, `torch.conv2d`, `torch.layer_norm`, `torch.embedding`,
`torch.max_pool2d`, ...): the same implementations under the native signatures, with
torch's argument errors.  The losses take torch's int reduction enum (0 none, 1 mean, 2
sum; any other int is none, as at::apply_loss_reduction); an omitted reduction is 0, none
(torch's Python binding, whatever the schema's default of 1 says)."""
import numpy as np

from . import creation, decomps, decomps_math as DM, dtypes as D, linalg
from .discrete_draws import bernoulli_scalar
from .errors import arg_type_name, warn_once
from .grad_mode import is_grad_enabled, switched_grad
from .mathops import needs_zero_norm, zero_norm_at
from .native_args import bind, Overloads
from .nn import functional as F
from .nn import _rnn
from .nn._stochastic import rrelu_with_generator
from .random import default_generator
from .recording import keep_args
from .tensor import Tensor, tensor_methods
from .views import KIND_OPS

__all__ = ["cosine_similarity", "pairwise_distance", "dropout", "dropout_", "alpha_dropout",
           "alpha_dropout_", "feature_dropout", "feature_dropout_", "feature_alpha_dropout",
           "feature_alpha_dropout_", "selu", "selu_", "celu", "celu_", "threshold",
           "threshold_", "relu_", "conv1d", "conv2d", "conv3d", "conv_tbc", "convolution",
           "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "prelu", "hardshrink", "bilinear", "avg_pool1d",
           "adaptive_avg_pool1d", "max_pool1d", "max_pool2d", "max_pool3d", "layer_norm",
           "group_norm", "embedding", "embedding_renorm_", "constant_pad_nd", "kl_div",
           "cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss",
           "poisson_nll_loss", "triplet_margin_loss", "binary_cross_entropy_with_logits",
           "ctc_loss", "batch_norm", "instance_norm", "rms_norm", "adaptive_max_pool1d",
           "max_pool1d_with_indices", "norm_except_dim", "frobenius_norm", "nuclear_norm",
           "grid_sampler", "grid_sampler_2d", "grid_sampler_3d", "native_layer_norm",
           "native_batch_norm", "native_group_norm", "native_dropout", "rrelu", "rrelu_",
           "embedding_bag", "nonzero_static", "rnn_tanh_cell", "rnn_relu_cell", "gru_cell",
           "lstm_cell", "rnn_tanh", "rnn_relu", "gru", "lstm"]


def _dropout_form(fn, impl, inplace):
    def f(*args, **kwargs):
        x, p, train = bind(fn, args, kwargs, ("input", "p", "train"))
        if not 0 <= p <= 1:   # the native check (nn.functional's is a ValueError)
            raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")
        return impl(x, p, bool(train), inplace)
    f.__name__ = f.__qualname__ = fn
    f.__doc__ = f"torch.{fn}(input, p, train): nn.functional's implementation."
    return f


def _feature(x, p, train, inplace):
    if x.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return F._feature_dropout(x, p, train, inplace, True)


dropout = _dropout_form("dropout", F.dropout, False)
dropout_ = _dropout_form("dropout_", F.dropout, True)
alpha_dropout = _dropout_form("alpha_dropout", F.alpha_dropout, False)
alpha_dropout_ = _dropout_form("alpha_dropout_", F.alpha_dropout, True)
feature_alpha_dropout = _dropout_form("feature_alpha_dropout", F.feature_alpha_dropout, False)
feature_alpha_dropout_ = _dropout_form("feature_alpha_dropout_", F.feature_alpha_dropout, True)
feature_dropout = _dropout_form("feature_dropout", _feature, False)
feature_dropout_ = _dropout_form("feature_dropout_", _feature, True)


def selu(*args, **kwargs):
    """torch.selu(input) (EluBackward0)."""
    (x,) = bind("selu", args, kwargs, ("input",))
    return F.selu(x)


def selu_(*args, **kwargs):
    """torch.selu_(input) (EluBackward1)."""
    (x,) = bind("selu_", args, kwargs, ("input",))
    return F.selu_(x)


def celu(*args, **kwargs):
    """torch.celu(input, alpha=1.0) (CeluBackward0)."""
    x, alpha = bind("celu", args, kwargs, ("input", "alpha"), (1.0,))
    return F.celu(x, alpha)


def celu_(*args, **kwargs):
    """torch.celu_(input, alpha=1.0) (CeluBackward1)."""
    x, alpha = bind("celu_", args, kwargs, ("input", "alpha"), (1.0,))
    return F.celu_(x, alpha)


def threshold(*args, **kwargs):
    """torch.threshold(input, threshold, value) (ThresholdBackward0)."""
    x, th, value = bind("threshold", args, kwargs, ("input", "threshold", "value"))
    return F.threshold(x, th, value)


def threshold_(*args, **kwargs):
    """torch.threshold_(input, threshold, value) (ThresholdBackward1)."""
    x, th, value = bind("threshold_", args, kwargs, ("input", "threshold", "value"))
    return F.threshold_(x, th, value)


def relu_(*args, **kwargs):
    """torch.relu_(input) (ReluBackward0)."""
    (x,) = bind("relu_", args, kwargs, ("input",))
    return F.relu_(x)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """torch.cosine_similarity: nn.functional's."""
    return F.cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """torch.pairwise_distance: nn.functional's."""
    return F.pairwise_distance(x1, x2, p, eps, keepdim)


# the functions whose native signature is nn.functional's
conv1d, conv2d, conv3d, conv_tbc = F.conv1d, F.conv2d, F.conv3d, F.conv_tbc
conv_transpose1d, conv_transpose2d, conv_transpose3d = (F.conv_transpose1d, F.conv_transpose2d,
                                                        F.conv_transpose3d)
def convolution(*args, **kwargs):
    """torch.convolution(input, weight, bias, stride, padding, dilation, transposed,
    output_padding, groups): the convolution (transposed or not) of as many spatial dims as
    weight has past two, batched (ConvolutionBackward0, as conv1d/2d/3d)."""
    names = ("input", "weight", "bias", "stride", "padding", "dilation", "transposed",
             "output_padding", "groups")
    x, w, b, stride, padding, dilation, transposed, output_padding, groups = bind(
        "convolution", args, kwargs, names)
    for pos, name in ((4, "stride"), (5, "padding"), (6, "dilation"), (8, "output_padding")):
        v = locals()[name]
        if not isinstance(v, (list, tuple)):
            raise TypeError(f"convolution(): argument '{name}' (position {pos}) must be tuple "
                            f"of ints, not {arg_type_name(v)}")
    if not isinstance(transposed, bool):
        raise TypeError(f"convolution(): argument 'transposed' (position 7) must be bool, not "
                        f"{arg_type_name(transposed)}")
    groups = _int("convolution", "groups", groups, 9, "groups" in kwargs)
    if w.dim() < 3:
        raise RuntimeError("weight should have at least three dimensions")
    if x.dim() != w.dim():   # (no unbatched input here, unlike conv1d & co)
        raise RuntimeError(f"Expected {w.dim()}-dimensional input for {w.dim()}-dimensional "
                           f"weight {list(w.shape)}, but got {x.dim()}-dimensional input of "
                           f"size {list(x.shape)} instead")
    k = w.dim() - 2
    if transposed:
        return getattr(F, f"conv_transpose{k}d")(x, w, b, list(stride), list(padding),
                                                 list(output_padding), groups, list(dilation))
    return getattr(F, f"conv{k}d")(x, w, b, list(stride), list(padding), list(dilation), groups)


pixel_shuffle, pixel_unshuffle, channel_shuffle = (F.pixel_shuffle, F.pixel_unshuffle,
                                                   F.channel_shuffle)
prelu, hardshrink, bilinear = F.prelu, F.hardshrink, F.bilinear
avg_pool1d, adaptive_avg_pool1d = F.avg_pool1d, F.adaptive_avg_pool1d


def _max_pool_form(k):
    fn = f"max_pool{k}d"
    impl = getattr(F, fn)

    def f(*args, **kwargs):
        x, kernel, stride, padding, dilation, ceil = bind(
            fn, args, kwargs, ("input", "kernel_size", "stride", "padding", "dilation",
                               "ceil_mode"), ((), 0, 1, False))
        # (the native default stride is an empty list: the kernel size)
        stride = None if isinstance(stride, (list, tuple)) and not stride else stride
        return impl(x, kernel, stride, padding, dilation, ceil)
    f.__name__ = f.__qualname__ = fn
    f.__doc__ = (f"torch.{fn}(input, kernel_size, stride=[], padding=0, dilation=1, "
                 f"ceil_mode=False): nn.functional's.")
    return f


max_pool1d, max_pool2d, max_pool3d = (_max_pool_form(k) for k in (1, 2, 3))


def layer_norm(*args, **kwargs):
    """torch.layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05,
    cudnn_enable=True) (NativeLayerNormBackward0)."""
    x, shape, weight, bias, eps, _ = bind(
        "layer_norm", args, kwargs, ("input", "normalized_shape", "weight", "bias", "eps",
                                     "cudnn_enable"), (None, None, 1e-5, True))
    return F.layer_norm(x, shape, weight, bias, eps)


def group_norm(*args, **kwargs):
    """torch.group_norm(input, num_groups, weight=None, bias=None, eps=1e-05,
    cudnn_enabled=True) (NativeGroupNormBackward0)."""
    x, groups, weight, bias, eps, _ = bind(
        "group_norm", args, kwargs, ("input", "num_groups", "weight", "bias", "eps",
                                     "cudnn_enabled"), (None, None, 1e-5, True))
    return F.group_norm(x, groups, weight, bias, eps)


def embedding(*args, **kwargs):
    """torch.embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False,
    sparse=False): the weight first, and a negative padding_idx meaning none (nn.functional's
    wraps its own before calling it) (EmbeddingBackward0)."""
    weight, indices, padding_idx, freq, sparse = bind(
        "embedding", args, kwargs, ("weight", "indices", "padding_idx", "scale_grad_by_freq",
                                    "sparse"), (-1, False, False))
    # (a padding_idx past the rows matches no valid index: torch does not check it here)
    return F.embedding(indices, weight, padding_idx if 0 <= padding_idx < weight.shape[0]
                       else None, scale_grad_by_freq=freq, sparse=sparse)


def embedding_renorm_(*args, **kwargs):
    """torch.embedding_renorm_(input, indices, max_norm, norm_type): the rows of input at
    `indices` whose norm exceeds max_norm scaled down to it, in place (F.embedding's
    max_norm step); input returned."""
    x, indices, max_norm, norm_type = bind("embedding_renorm_", args, kwargs, (
        "input", "indices", "max_norm", "norm_type"))
    for pos, name, v in ((1, "input", x), (2, "indices", indices)):
        if not isinstance(v, Tensor):
            raise TypeError(f"embedding_renorm_(): argument '{name}' (position {pos}) must be "
                            f"Tensor, not {arg_type_name(v)}")
    if x._recorded and is_grad_enabled():
        if x.is_leaf:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        # (torch records EmbeddingRenormBackward0, whose backward raises)
        raise NotImplementedError("the derivative for 'embedding_renorm' is not implemented: "
                                  "tapegrad refuses the change of a tensor that requires grad")
    F._check_renorm(x, indices)
    F._embedding_renorm_(x, indices._array(), float(max_norm), float(norm_type))
    return x


def constant_pad_nd(*args, **kwargs):
    """torch.constant_pad_nd(input, pad, value=0) (ConstantPadNdBackward0)."""
    x, pad, value = bind("constant_pad_nd", args, kwargs, ("input", "pad", "value"), (0,))
    return F.pad(x, pad, value=value)


# ---- the losses under their native signatures ----------------------------------------------
def _int(fn, name, value, pos, by_keyword):
    """An int argument (torch's parser: no bool, no float), with its message."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    where = "" if by_keyword else f" (position {pos})"
    raise TypeError(f"{fn}(): argument '{name}'{where} must be int, not "
                    f"{arg_type_name(value)}")


def _reduction(fn, value, pos, kwargs):
    r = _int(fn, "reduction", value, pos, "reduction" in kwargs)
    return "mean" if r == 1 else "sum" if r == 2 else "none"


def _reduced(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def kl_div(*args, **kwargs):
    """torch.kl_div(input, target, reduction=0, *, log_target=False): no 'mean' warning (the
    warning is nn.functional's)."""
    log_target = kwargs.pop("log_target", False)
    x, target, red = bind("kl_div", args, kwargs, ("input", "target", "reduction"), (0,))
    red = _reduction("kl_div", red, 3, kwargs)
    return _reduced(F.kl_div(x, target, reduction="none", log_target=log_target), red)


def cosine_embedding_loss(*args, **kwargs):
    """torch.cosine_embedding_loss(input1, input2, target, margin=0., reduction=0)."""
    x1, x2, target, margin, red = bind("cosine_embedding_loss", args, kwargs, (
        "input1", "input2", "target", "margin", "reduction"), (0.0, 0))
    return F.cosine_embedding_loss(x1, x2, target, margin,
                                   reduction=_reduction("cosine_embedding_loss", red, 5, kwargs))


def hinge_embedding_loss(*args, **kwargs):
    """torch.hinge_embedding_loss(input, target, margin=1., reduction=0)."""
    x, target, margin, red = bind("hinge_embedding_loss", args, kwargs, (
        "input", "target", "margin", "reduction"), (1.0, 0))
    return F.hinge_embedding_loss(x, target, margin,
                                  reduction=_reduction("hinge_embedding_loss", red, 4, kwargs))


def margin_ranking_loss(*args, **kwargs):
    """torch.margin_ranking_loss(input1, input2, target, margin=0., reduction=0)."""
    x1, x2, target, margin, red = bind("margin_ranking_loss", args, kwargs, (
        "input1", "input2", "target", "margin", "reduction"), (0.0, 0))
    return F.margin_ranking_loss(x1, x2, target, margin,
                                 reduction=_reduction("margin_ranking_loss", red, 5, kwargs))


def poisson_nll_loss(*args, **kwargs):
    """torch.poisson_nll_loss(input, target, log_input, full, eps, reduction): all required."""
    x, target, log_input, full, eps, red = bind("poisson_nll_loss", args, kwargs, (
        "input", "target", "log_input", "full", "eps", "reduction"))
    return F.poisson_nll_loss(x, target, log_input, full, eps=eps,
                              reduction=_reduction("poisson_nll_loss", red, 6, kwargs))


def triplet_margin_loss(*args, **kwargs):
    """torch.triplet_margin_loss(anchor, positive, negative, margin=1., p=2., eps=1e-06,
    swap=False, reduction=0)."""
    a, pos, neg, margin, p, eps, swap, red = bind("triplet_margin_loss", args, kwargs, (
        "anchor", "positive", "negative", "margin", "p", "eps", "swap", "reduction"),
        (1.0, 2.0, 1e-6, False, 0))
    return F.triplet_margin_loss(a, pos, neg, margin, p, eps, swap,
                                 reduction=_reduction("triplet_margin_loss", red, 8, kwargs))


def binary_cross_entropy_with_logits(*args, **kwargs):
    """torch.binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
    reduction=0)."""
    x, target, weight, pos_weight, red = bind(
        "binary_cross_entropy_with_logits", args, kwargs,
        ("input", "target", "weight", "pos_weight", "reduction"), (None, None, 0))
    red = _reduction("binary_cross_entropy_with_logits", red, 5, kwargs)
    return F.binary_cross_entropy_with_logits(x, target, weight, reduction=red,
                                              pos_weight=pos_weight)


def ctc_loss(*args, **kwargs):
    """torch.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0,
    zero_infinity=False)."""
    lp, targets, il, tl, blank, red, zero_inf = bind("ctc_loss", args, kwargs, (
        "log_probs", "targets", "input_lengths", "target_lengths", "blank", "reduction",
        "zero_infinity"), (0, 0, False))
    return F.ctc_loss(lp, targets, il, tl, blank, _reduction("ctc_loss", red, 6, kwargs),
                      zero_inf)


# ---- normalizations and pooling -------------------------------------------------------------
def batch_norm(*args, **kwargs):
    """torch.batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
    eps, cudnn_enabled): all required, the affine parameters first."""
    x, w, b, rm, rv, training, momentum, eps, _ = bind("batch_norm", args, kwargs, (
        "input", "weight", "bias", "running_mean", "running_var", "training", "momentum",
        "eps", "cudnn_enabled"))
    return F.batch_norm(x, rm, rv, w, b, training, momentum, eps)


def instance_norm(*args, **kwargs):
    """torch.instance_norm(input, weight, bias, running_mean, running_var, use_input_stats,
    momentum, eps, cudnn_enabled): all required."""
    x, w, b, rm, rv, use_stats, momentum, eps, _ = bind("instance_norm", args, kwargs, (
        "input", "weight", "bias", "running_mean", "running_var", "use_input_stats",
        "momentum", "eps", "cudnn_enabled"))
    return F.instance_norm(x, rm, rv, w, b, use_stats, momentum, eps)


def rms_norm(*args, **kwargs):
    """torch.rms_norm(input, normalized_shape, weight=None, eps=None)."""
    x, shape, weight, eps = bind("rms_norm", args, kwargs, (
        "input", "normalized_shape", "weight", "eps"), (None, None))
    return F.rms_norm(x, shape, weight, eps)


def adaptive_max_pool1d(*args, **kwargs):
    """torch.adaptive_max_pool1d(input, output_size): (values, indices), always."""
    x, size = bind("adaptive_max_pool1d", args, kwargs, ("input", "output_size"))
    return F.adaptive_max_pool1d(x, size, return_indices=True)


def max_pool1d_with_indices(*args, **kwargs):
    """torch.max_pool1d_with_indices(input, kernel_size, stride=[], padding=0, dilation=1,
    ceil_mode=False): (values, indices)."""
    x, kernel, stride, padding, dilation, ceil = bind(
        "max_pool1d_with_indices", args, kwargs, ("input", "kernel_size", "stride", "padding",
                                                  "dilation", "ceil_mode"), ((), 0, 1, False))
    stride = None if isinstance(stride, (list, tuple)) and not stride else stride
    return F.max_pool1d(x, kernel, stride, padding, dilation, ceil, return_indices=True)


# ---- norms as torch's at::norm (NormBackward1) compositions ---------------------------------
def _norm_dims(x, p, dims, keepdim):
    if needs_zero_norm(p, x):   # (NormBackward1 without a gradient, as torch's)
        return zero_norm_at(x, tuple(dims), keepdim)
    return keep_args(decomps.record("norm_dim", DM.norm_body(x, p, dims), KIND_OPS, x,
                                    float(p), tuple(dims), bool(keepdim)),
                     dim=tuple(dims), keepdim=bool(keepdim), p=p)


def norm_except_dim(*args, **kwargs):
    """torch.norm_except_dim(v, pow=2, dim=0): the p-norm over all dims but `dim`, shaped to
    broadcast against v (weight_norm's), as torch's composition."""
    v, p, dim = bind("norm_except_dim", args, kwargs, ("v", "pow", "dim"), (2, 0))
    if dim == -1:
        dims = tuple(range(v.dim()))
        if needs_zero_norm(p, v):
            return zero_norm_at(v, dims, False, dim_given=False)
        return keep_args(decomps.record("norm_all", DM.norm_body(v, p, dims), KIND_OPS, v,
                                        float(p), dims, False), p=p)
    if dim == 0:
        return _norm_dims(v.contiguous().view(v.shape[0], -1), p, (1,), False).view(
            (v.shape[0],) + (1,) * (v.dim() - 1))
    if dim == v.dim() - 1:
        return _norm_dims(v.contiguous().view(-1, v.shape[-1]), p, (0,), False).view(
            (1,) * (v.dim() - 1) + (v.shape[-1],))
    return norm_except_dim(v.transpose(0, dim), p, 0).transpose(0, dim)


def frobenius_norm(*args, **kwargs):
    """torch.frobenius_norm(input, dim, keepdim=False): at::norm(input, 2, dim, keepdim), with
    torch's deprecation warning."""
    x, dim, keepdim = bind("frobenius_norm", args, kwargs, ("input", "dim", "keepdim"),
                            (False,))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions "
                           f"instead.")
    warn_once("at::frobenius_norm is deprecated and it is just left for JIT compatibility. It "
              "will be removed in a future PyTorch release. Please use `linalg.vector_norm(A, "
              "2., dim, keepdim)` instead")
    return _norm_dims(x, 2.0, dims, keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    """torch.nuclear_norm(input, keepdim=False) / (input, dim, keepdim=False):
    linalg.matrix_norm(input, 'nuc', dim, keepdim), with torch's deprecation warning."""
    if isinstance(dim, bool):           # (the overload without dim: keepdim second)
        dim, keepdim = None, dim
    warn_once("at::nuclear_norm is deprecated and it is just left for JIT compatibility. It "
              "will be removed in a future PyTorch release. Please use `linalg.matrix_norm(A, "
              "'nuc', dim, keepdim)` instead")
    return linalg.matrix_norm(input, "nuc", (-2, -1) if dim is None else tuple(dim), keepdim)


# ---- grid sampling with torch's int enums ---------------------------------------------------
_GRID_MODES = ("bilinear", "nearest", "bicubic")
_GRID_PADDINGS = ("zeros", "border", "reflection")


def _enum(fn, name, value, pos, kwargs, names):
    v = _int(fn, name, value, pos, name in kwargs)
    if not 0 <= v < len(names):   # (torch's kernels read other values as undefined behaviour)
        raise RuntimeError(f"{fn}(): {name} must be 0, 1 or 2, but got {v}")
    return names[v]


def _grid_form(fn, k):
    def f(*args, **kwargs):
        x, grid, mode, padding, align = bind(fn, args, kwargs, (
            "input", "grid", "interpolation_mode", "padding_mode", "align_corners"))
        mode = _enum(fn, "interpolation_mode", mode, 3, kwargs, _GRID_MODES)
        padding = _enum(fn, "padding_mode", padding, 4, kwargs, _GRID_PADDINGS)
        if k and (x.dim() != k + 2 or grid.dim() != k + 2):
            # torch's checks in its order: the shared ones (nn.functional's, run with the
            # input's own dims), then the kernel's dims
            F.grid_sample(x, grid, "bilinear", padding, align)
            raise RuntimeError(f"grid_sampler(): expected {k + 2}D input and grid with same number "
                               f"of dimensions, but got input with sizes {list(x.shape)} and "
                               f"grid with sizes {list(grid.shape)}")
        return F.grid_sample(x, grid, mode, padding, align)
    f.__name__ = f.__qualname__ = fn
    f.__doc__ = (f"torch.{fn}(input, grid, interpolation_mode, padding_mode, align_corners): "
                 f"F.grid_sample with torch's enums (0 bilinear / zeros, 1 nearest / border, "
                 f"2 bicubic / reflection).")
    return f


grid_sampler = _grid_form("grid_sampler", 0)
grid_sampler_2d = _grid_form("grid_sampler_2d", 2)
grid_sampler_3d = _grid_form("grid_sampler_3d", 3)


# ---- the recurrent cells (torch.rnn_tanh_cell, ..., what nn.RNNCell & co. run) ------------
_CELL_ARGS = ("input", "hx", "w_ih", "w_hh", "b_ih", "b_hh")


def _cell_form(fn, mode):
    def f(*args, **kwargs):
        x, hx, w_ih, w_hh, b_ih, b_hh = bind(fn, args, kwargs, _CELL_ARGS, (None, None))
        return _rnn.rnn_cell(mode, x, hx, w_ih, w_hh, b_ih, b_hh)
    f.__name__ = f.__qualname__ = fn
    f.__doc__ = (f"torch.{fn}(input, hx, w_ih, w_hh, b_ih=None, b_hh=None): one step of the "
                 f"cell on a 2-d input and hidden state (nn.{'GRU' if mode == 'GRU' else 'RNN'}"
                 f"Cell's), the new hidden state.")
    return f


rnn_tanh_cell = _cell_form("rnn_tanh_cell", "RNN_TANH")
rnn_relu_cell = _cell_form("rnn_relu_cell", "RNN_RELU")
gru_cell = _cell_form("gru_cell", "GRU")


def lstm_cell(*args, **kwargs):
    """torch.lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None): one LSTM step on a 2-d
    input and hx = (h, c) (nn.LSTMCell's), the new (h, c)."""
    x, hx, w_ih, w_hh, b_ih, b_hh = bind("lstm_cell", args, kwargs, _CELL_ARGS, (None, None))
    return _rnn.lstm_cell(x, hx, w_ih, w_hh, b_ih, b_hh)



# ---- the whole-sequence recurrences (torch.rnn_tanh, rnn_relu, gru, lstm: what nn.RNN & co.
# run), each with torch's two forms: a padded input, or packed data with its batch_sizes
_SEQ_TAIL = ("tuple of Tensors params, bool has_biases, int num_layers, float dropout, "
             "bool train, bool bidirectional")


def _seq_overloads(fn, hx):
    return Overloads(fn, [f"Tensor data, Tensor batch_sizes, {hx} hx, {_SEQ_TAIL}",
                          f"Tensor input, {hx} hx, {_SEQ_TAIL}, bool batch_first"])


def _seq_args(overloads, args, kwargs):
    """(input, batch_sizes as a list of ints or None, hx, CellParams, num_layers, dropout,
    train, bidirectional, batch_first) of a call of one of the whole-sequence functions."""
    form, got = overloads.parse(args, kwargs)
    if form == 0:
        data, batch_sizes, hx, params, has_biases, layers, p, train, bidir = got
        batch_sizes, first = batch_sizes.tolist(), False
    else:
        data, hx, params, has_biases, layers, p, train, bidir, first = got
        batch_sizes = None
    h = hx[0] if isinstance(hx, (tuple, list)) else hx
    # (as torch's: an LSTM has projections where h's size differs from c's)
    proj = isinstance(hx, (tuple, list)) and h.shape[-1] != hx[1].shape[-1]
    cells = _rnn.gather_params(list(params), has_biases, proj)
    return data, batch_sizes, hx, cells, layers, p, train, bidir, first


def _seq_form(fn, mode):
    overloads = _seq_overloads(fn, "Tensor")

    def f(*args, **kwargs):
        data, batch_sizes, hx, cells, layers, p, train, bidir, first = _seq_args(
            overloads, args, kwargs)
        return _rnn.rnn_forward(mode, data, batch_sizes, hx, cells, layers, p, train, bidir,
                                first)
    f.__name__ = f.__qualname__ = fn
    f.__doc__ = (f"torch.{fn}(input, hx, params, has_biases, num_layers, dropout, train, "
                 f"bidirectional, batch_first), or (data, batch_sizes, hx, params, ...) of packed "
                 f"data: the whole sequence through the layers (nn.{'GRU' if mode == 'GRU' else 'RNN'}"
                 f"'s recurrence), (output, h_n).")
    return f


rnn_tanh = _seq_form("rnn_tanh", "RNN_TANH")
rnn_relu = _seq_form("rnn_relu", "RNN_RELU")
gru = _seq_form("gru", "GRU")
_LSTM = _seq_overloads("lstm", "tuple of Tensors")


def lstm(*args, **kwargs):
    """torch.lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
    batch_first), or (data, batch_sizes, hx, params, ...) of packed data: the whole sequence
    through the layers (nn.LSTM's recurrence), (output, h_n, c_n); hx = (h_0, c_0)."""
    data, batch_sizes, hx, cells, layers, p, train, bidir, first = _seq_args(_LSTM, args, kwargs)
    return _rnn.lstm_forward(data, batch_sizes, tuple(hx), cells, layers, p, train, bidir, first)

@tensor_methods
class _NnMethods:
    """Tensor's methods of the same functions (torch.Tensor.hardshrink, .prelu,
    .nonzero_static)."""

    def hardshrink(self, lambd=0.5):
        return F.hardshrink(self, lambd)

    def prelu(self, weight):
        return F.prelu(self, weight)

    def nonzero_static(self, *args, **kwargs):
        if args:   # (torch's parser: size and fill_value are keyword-only)
            raise TypeError(f"nonzero_static() takes from 1 to 0 positional arguments but "
                            f"{len(args)} were given")
        return nonzero_static(self, **kwargs)


# ---- the native normalizations and dropout with their saved statistics ---------------------
_ENFORCE = ("  (Could this error message be improved?  If so, please report an enhancement "
            "request to PyTorch.)")


def _rstd(var, eps):
    return (var + eps).rsqrt()


def native_layer_norm(*args, **kwargs):
    """torch.native_layer_norm(input, normalized_shape, weight, bias, eps): (out, mean, rstd),
    the statistics over the normalized dims shaped (*batch, 1, ...) in the input's dtype and
    not differentiable, as torch's (out: NativeLayerNormBackward0)."""
    x, shape, weight, bias, eps = bind("native_layer_norm", args, kwargs, (
        "input", "normalized_shape", "weight", "bias", "eps"))
    shape = F._shape_arg("native_layer_norm", shape)
    out = F.layer_norm(x, shape, weight, bias, eps)
    k = len(shape)
    dims = tuple(range(x.dim() - k, x.dim()))
    with switched_grad(False):
        mean = x.mean(dims, keepdim=True)
        rstd = _rstd(x.var(dims, unbiased=False, keepdim=True), eps)
    return out, mean, rstd


def native_batch_norm(*args, **kwargs):
    """torch.native_batch_norm(input, weight, bias, running_mean, running_var, training,
    momentum, eps): (out, save_mean, save_invstd): the batch's mean and 1/sqrt(var + eps) per
    channel while training (not differentiable; the running statistics updated in place), two
    empty tensors in evaluation (out: NativeBatchNormBackward0)."""
    x, w, b, rm, rv, training, momentum, eps = bind("native_batch_norm", args, kwargs, (
        "input", "weight", "bias", "running_mean", "running_var", "training", "momentum",
        "eps"))
    if not training and (rm is None or rv is None):
        # (torch 2.13 crashes here: its CPU kernel reads the missing statistics)
        raise RuntimeError("native_batch_norm: running_mean and running_var must be defined "
                           "in evaluation mode")
    if training:
        dims = (0,) + tuple(range(2, x.dim()))
        with switched_grad(False):
            mean = x.mean(dims)
            invstd = _rstd(x.var(dims, unbiased=False), eps)
    out = F.batch_norm(x, rm, rv, w, b, bool(training), momentum, eps)
    if not training:
        mean, invstd = (creation.empty(0, dtype=x.dtype) for _ in range(2))
    return out, mean, invstd


def native_group_norm(*args, **kwargs):
    """torch.native_group_norm(input, weight, bias, N, C, HxW, group, eps): (out, mean, rstd),
    the statistics (N, group) in the input's dtype.  Gradients flow through all three, as
    torch's (out: NativeGroupNormBackward0; mean and rstd are a mean and an rsqrt node here,
    torch's show its NativeGroupNormBackward0: docs/semantics.md)."""
    x, w, b, n, c, hxw, group, eps = bind("native_group_norm", args, kwargs, (
        "input", "weight", "bias", "N", "C", "HxW", "group", "eps"))
    if x.numel() != n * c * hxw:
        raise RuntimeError("Expected X.numel() == N * C * HxW to be true, but got false."
                           + _ENFORCE)
    out = F.group_norm(x, group, w, b, eps)
    flat = x.reshape(n, group, -1)
    return out, flat.mean(-1), _rstd(flat.var(-1, unbiased=False), eps)


def native_dropout(*args, **kwargs):
    """torch.native_dropout(input, p, train): (out, mask).  Training (train True or None):
    mask = bernoulli(1 - p) from the default generator (torch's CPU draws: the same seed, the
    same mask as torch's and as F.dropout's), out = input * mask * 1/(1 - p) (0 for p == 1),
    whose gradient is grad * mask * 1/(1 - p), or grad * mask with train None, as torch's;
    otherwise a copy of the input and a mask of ones.  The mask is bool and not
    differentiable; out's node is a MulBackward0 (CloneBackward0 in evaluation) where torch
    shows NativeDropoutBackward0 (docs/semantics.md)."""
    x, p, train = bind("native_dropout", args, kwargs, ("input", "p", "train"))
    if x.numel() == 0:
        return x, creation.empty_like(x)
    if train is not None and not train:
        return x.clone(), creation.ones(tuple(x.shape), dtype=D.bool_)
    q = 1.0 - float(p)
    mask = bernoulli_scalar(default_generator._engine, x.numel(), q, np.bool_).reshape(
        tuple(x.shape))
    dt = x.dtype.np
    scale = dt.type(0.0 if q == 0 else 1.0 / q)
    if train is None:
        # torch's derivative scales the gradient by 1 when train is None (not given as
        # True), whatever the forward multiplied by: the scale is applied outside the graph
        out = x * creation.tensor(mask.astype(dt), dtype=x.dtype)
        with switched_grad(False):
            out.mul_(creation.tensor(scale, dtype=x.dtype))
    else:
        out = x * creation.tensor(mask.astype(dt) * scale, dtype=x.dtype)
    return out, creation.tensor(mask, dtype=D.bool_)


def rrelu(*args, **kwargs):
    """torch.rrelu(input, lower=1/8, upper=1/3, training=False, generator=None):
    nn.functional's, drawing from `generator` (RreluWithNoiseBackward0)."""
    x, lower, upper, training, gen = bind("rrelu", args, kwargs, (
        "input", "lower", "upper", "training", "generator"), (1.0 / 8, 1.0 / 3, False, None))
    return rrelu_with_generator(x, lower, upper, training, gen, False)


def rrelu_(*args, **kwargs):
    """torch.rrelu_(input, lower=1/8, upper=1/3, training=False, generator=None): in place
    (RreluWithNoiseBackward1)."""
    x, lower, upper, training, gen = bind("rrelu_", args, kwargs, (
        "input", "lower", "upper", "training", "generator"), (1.0 / 8, 1.0 / 3, False, None))
    return rrelu_with_generator(x, lower, upper, training, gen, True)


_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(*args, **kwargs):
    """torch.embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0,
    sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    (output, offset2bag, bag_size, max_indices) as torch's CPU kernel fills them.  output is
    nn.functional's (EmbeddingBagBackward0); mode is torch's enum (0 sum, 1 mean, 2 max);
    padding_idx is an index >= 0 or -1/None for none.  offset2bag is each index's bag (empty
    on torch's float32 sum path), bag_size the bag's non-padding count (mean, max, or any
    mode while weight requires grad; zeros for sum), max_indices the row picked per output
    element (max) or a copy of bag_size."""
    (weight, indices, offsets, freq, mode, sparse, psw, last, padding_idx) = bind(
        "embedding_bag", args, kwargs, ("weight", "indices", "offsets", "scale_grad_by_freq",
                                        "mode", "sparse", "per_sample_weights",
                                        "include_last_offset", "padding_idx"),
        (False, 0, False, None, False, None))
    if indices.dim() != 1:
        raise NotImplementedError("tapegrad: torch.embedding_bag with indices of dimension "
                                  f"{indices.dim()} (only 1-D indices with offsets; "
                                  "nn.functional.embedding_bag takes 2-D input)")
    mode = _int("embedding_bag", "mode", mode, 5, "mode" in kwargs)
    if not 0 <= mode <= 2:
        raise RuntimeError(f"embedding_bag: mode must be 0 (sum), 1 (mean) or 2 (max), "
                           f"but got {mode}")
    pad = -1 if padding_idx is None else int(padding_idx)
    out = F.embedding_bag(indices, weight, offsets, None, 2, freq, _BAG_MODES[mode], sparse,
                          psw, bool(last), pad if pad >= 0 else None)
    idx_dt = D.int64 if D.int64 in (indices.dtype, offsets.dtype) else D.int32
    ind = indices._array().astype(np.int64)
    off = offsets._array().astype(np.int64)
    nbags = off.shape[0] - (1 if last else 0)
    warr = weight._array()
    requires_grad = weight.requires_grad and is_grad_enabled()
    fast_sum = (mode == 0 and weight.dtype is D.float32
                and warr.strides[1] == warr.itemsize and pad < 0
                and (psw is None or psw._array().strides[0] == psw._array().itemsize))
    if fast_sum:
        offset2bag = np.zeros(0, np.int64)
    else:
        o2b = np.zeros(ind.shape[0] + 1, np.int64)
        np.add.at(o2b, off[:nbags], 1)
        o2b[0] -= 1
        offset2bag = np.cumsum(o2b)[:ind.shape[0]]
    if requires_grad or mode > 0:
        ends = np.append(off[1:nbags], ind.shape[0]) if nbags else np.zeros(0, np.int64)
        bag_size = ends - off[:nbags]
        if pad >= 0 and mode > 0:
            bags = np.repeat(np.arange(nbags), bag_size)
            bag_size = bag_size - np.bincount(bags[ind == pad], minlength=nbags)
    else:
        bag_size = np.zeros(off.shape[0], np.int64)
    if mode == 0:
        bag_size = np.zeros_like(bag_size)
    if mode == 2:
        max_indices = np.zeros((nbags, warr.shape[1]), np.int64)
        best = np.zeros((nbags, warr.shape[1]), warr.dtype)
        seen = np.zeros(nbags, bool)
        for i, (b, r) in enumerate(zip(offset2bag, ind)):
            if r == pad:
                continue
            row = warr[r]
            take = np.ones(row.shape, bool) if not seen[b] else row > best[b]
            best[b][take], max_indices[b][take] = row[take], r
            seen[b] = True
    else:
        max_indices = bag_size.copy()
    return (out,) + tuple(creation.tensor(a, dtype=idx_dt)
                          for a in (offset2bag, bag_size, max_indices))


def nonzero_static(*args, **kwargs):
    """torch.nonzero_static(input, *, size, fill_value=-1): nonzero(input)'s first `size`
    rows, padded to `size` rows with fill_value."""
    size = kwargs.pop("size", None)
    fill = kwargs.pop("fill_value", -1)
    if len(args) > 1:
        raise TypeError(f"nonzero_static() takes from 2 to 1 positional arguments but "
                        f"{len(args)} were given")
    if size is None:
        missing = '"input", "size"' if not args and "input" not in kwargs else '"size"'
        n = missing.count(",") + 1      # (torch's parser's grammar)
        raise TypeError(f"nonzero_static() missing {n} required positional "
                        f"argument{'' if n > 1 else 's'}: {missing}")
    (x,) = bind("nonzero_static", args, kwargs, ("input",))
    size = _int("nonzero_static", "size", size, 2, True)
    fill = _int("nonzero_static", "fill_value", fill, 3, True)
    if size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    nz = x.nonzero()._array()[:size]
    out = np.full((size, x.dim()), fill, np.int64)
    out[:nz.shape[0]] = nz
    return creation.tensor(out, dtype=D.int64)
