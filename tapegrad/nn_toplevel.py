"""torch's top-level forms of nn.functional's functions (`torch.dropout(input, p, train)`,
`torch.selu`, `torch.threshold_`, `torch.conv2d`, `torch.layer_norm`, `torch.embedding`,
`torch.max_pool2d`, ...): the same implementations under the native signatures, with
torch's argument errors."""
from .nn import functional as F
from .tensor import Tensor, tensor_methods

__all__ = ["cosine_similarity", "pairwise_distance", "dropout", "dropout_", "alpha_dropout",
           "alpha_dropout_", "feature_dropout", "feature_dropout_", "feature_alpha_dropout",
           "feature_alpha_dropout_", "selu", "selu_", "celu", "celu_", "threshold",
           "threshold_", "relu_", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "prelu", "hardshrink", "bilinear", "avg_pool1d",
           "adaptive_avg_pool1d", "max_pool1d", "max_pool2d", "max_pool3d", "layer_norm",
           "group_norm", "embedding", "constant_pad_nd"]


def _args(fn, args, kwargs, names, defaults=()):
    """The native parser's positional binding: torch's messages for missing and extra
    arguments."""
    ndef = len(defaults)
    nreq = len(names) - ndef
    if len(args) > len(names):
        takes = (f"takes {len(names)} positional argument{'s' if len(names) > 1 else ''}"
                 if not ndef else f"takes from {nreq} to {len(names)} positional arguments")
        raise TypeError(f"{fn}() {takes} but {len(args)} were given")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            missing = [n for n in names[:nreq] if n not in bound and n not in kwargs]
            if missing:
                break
            raise TypeError(f"{fn}() got an unexpected keyword argument '{k}'")
        if k in bound:
            raise TypeError(f"{fn}() got multiple values for argument '{k}'")
        bound[k] = v
    missing = [n for n in names[:nreq] if n not in bound]
    if missing:
        plural = "argument" if len(missing) > 1 else "arguments"
        raise TypeError(f"{fn}() missing {len(missing)} required positional {plural}: "
                        + ", ".join(f'"{n}"' for n in missing))
    for n, d in zip(names[nreq:], defaults):
        bound.setdefault(n, d)
    if not isinstance(bound[names[0]], Tensor):
        raise TypeError(f"{fn}(): argument '{names[0]}' (position 1) must be Tensor, not "
                        f"{type(bound[names[0]]).__name__}")
    return [bound[n] for n in names]


def _dropout_form(fn, impl, inplace):
    def f(*args, **kwargs):
        x, p, train = _args(fn, args, kwargs, ("input", "p", "train"))
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
    (x,) = _args("selu", args, kwargs, ("input",))
    return F.selu(x)


def selu_(*args, **kwargs):
    """torch.selu_(input) (EluBackward1)."""
    (x,) = _args("selu_", args, kwargs, ("input",))
    return F.selu_(x)


def celu(*args, **kwargs):
    """torch.celu(input, alpha=1.0) (CeluBackward0)."""
    x, alpha = _args("celu", args, kwargs, ("input", "alpha"), (1.0,))
    return F.celu(x, alpha)


def celu_(*args, **kwargs):
    """torch.celu_(input, alpha=1.0) (CeluBackward1)."""
    x, alpha = _args("celu_", args, kwargs, ("input", "alpha"), (1.0,))
    return F.celu_(x, alpha)


def threshold(*args, **kwargs):
    """torch.threshold(input, threshold, value) (ThresholdBackward0)."""
    x, th, value = _args("threshold", args, kwargs, ("input", "threshold", "value"))
    return F.threshold(x, th, value)


def threshold_(*args, **kwargs):
    """torch.threshold_(input, threshold, value) (ThresholdBackward1)."""
    x, th, value = _args("threshold_", args, kwargs, ("input", "threshold", "value"))
    return F.threshold_(x, th, value)


def relu_(*args, **kwargs):
    """torch.relu_(input) (ReluBackward0)."""
    (x,) = _args("relu_", args, kwargs, ("input",))
    return F.relu_(x)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """torch.cosine_similarity: nn.functional's."""
    return F.cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """torch.pairwise_distance: nn.functional's."""
    return F.pairwise_distance(x1, x2, p, eps, keepdim)


# the functions whose native signature is nn.functional's
conv1d, conv2d, conv3d = F.conv1d, F.conv2d, F.conv3d
conv_transpose1d, conv_transpose2d, conv_transpose3d = (F.conv_transpose1d, F.conv_transpose2d,
                                                        F.conv_transpose3d)
pixel_shuffle, pixel_unshuffle, channel_shuffle = (F.pixel_shuffle, F.pixel_unshuffle,
                                                   F.channel_shuffle)
prelu, hardshrink, bilinear = F.prelu, F.hardshrink, F.bilinear
avg_pool1d, adaptive_avg_pool1d = F.avg_pool1d, F.adaptive_avg_pool1d


def _max_pool_form(k):
    fn = f"max_pool{k}d"
    impl = getattr(F, fn)

    def f(*args, **kwargs):
        x, kernel, stride, padding, dilation, ceil = _args(
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
    x, shape, weight, bias, eps, _ = _args(
        "layer_norm", args, kwargs, ("input", "normalized_shape", "weight", "bias", "eps",
                                     "cudnn_enable"), (None, None, 1e-5, True))
    return F.layer_norm(x, shape, weight, bias, eps)


def group_norm(*args, **kwargs):
    """torch.group_norm(input, num_groups, weight=None, bias=None, eps=1e-05,
    cudnn_enabled=True) (NativeGroupNormBackward0)."""
    x, groups, weight, bias, eps, _ = _args(
        "group_norm", args, kwargs, ("input", "num_groups", "weight", "bias", "eps",
                                     "cudnn_enabled"), (None, None, 1e-5, True))
    return F.group_norm(x, groups, weight, bias, eps)


def embedding(*args, **kwargs):
    """torch.embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False,
    sparse=False): the weight first, and a negative padding_idx meaning none (nn.functional's
    wraps its own before calling it) (EmbeddingBackward0)."""
    weight, indices, padding_idx, freq, sparse = _args(
        "embedding", args, kwargs, ("weight", "indices", "padding_idx", "scale_grad_by_freq",
                                    "sparse"), (-1, False, False))
    return F.embedding(indices, weight, padding_idx if padding_idx >= 0 else None,
                       scale_grad_by_freq=freq, sparse=sparse)


def constant_pad_nd(*args, **kwargs):
    """torch.constant_pad_nd(input, pad, value=0) (ConstantPadNdBackward0)."""
    x, pad, value = _args("constant_pad_nd", args, kwargs, ("input", "pad", "value"), (0,))
    return F.pad(x, pad, value=value)


@tensor_methods
class _NnMethods:
    """Tensor's methods of the same functions (torch.Tensor.hardshrink, .prelu)."""

    def hardshrink(self, lambd=0.5):
        return F.hardshrink(self, lambd)

    def prelu(self, weight):
        return F.prelu(self, weight)
