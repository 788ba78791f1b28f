"""torch's top-level forms of nn.functional's functions (`torch.dropout(input, p, train)`,
`torch.selu`, `torch.threshold_`, ...): the same implementations under the native
signatures, with torch's argument errors."""
from .nn import functional as F
from .tensor import Tensor

__all__ = ["cosine_similarity", "pairwise_distance", "dropout", "dropout_", "alpha_dropout",
           "alpha_dropout_", "feature_dropout", "feature_dropout_", "feature_alpha_dropout",
           "feature_alpha_dropout_", "selu", "selu_", "celu", "celu_", "threshold",
           "threshold_", "relu_"]


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
