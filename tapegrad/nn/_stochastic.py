"""nn.functional's randomized activations: rrelu (and rrelu_) and gumbel_softmax, drawing
from the default generator exactly as torch's CPU kernels do, so the same seed gives the same
slopes and the same Gumbel noise.

rrelu is torch's rrelu_with_noise node (a decomposition row, tapegrad/ops.py): while
training, x times the slopes drawn (`noise`: a draw in [lower, upper) for each x <= 0, 1
elsewhere; gradient grad * noise, as torch's); in eval mode leaky_relu with the mean slope.
gumbel_softmax is torch's Python composition."""
import warnings

from ..creation import empty_like, zeros_like, tensor as _tensor_of
from ..discrete_draws import rrelu_noise
from ..random import generator_of
from ..tensor import _row_major
from . import _decomps as B, _decomps_ext as X
from ._basic import _inplace_row, _record, _tensor

__all__ = ["rrelu", "rrelu_", "gumbel_softmax"]


def _rrelu(T, x, noise, slope):
    """x * noise while training (noise given), else leaky_relu(x, slope)."""
    if noise is not None:
        return X.reads_input(x) * noise
    return B.leaky_relu(T, x, slope)


def _rrelu_inplace(T, x, noise, slope):
    """_rrelu in place: in eval mode leaky_relu on the result (RReluWithNoiseBackward1 reads
    the result, as the in-place leaky_relu_)."""
    if noise is not None:
        return X.reads_input(x) * noise
    return X.leaky_relu(T, x, slope)


def _rrelu_args(input, lower, upper, training, generator=None):
    """(noise, slope): the slopes drawn for a training call (from `generator`, the default
    one if None), or the eval slope (lower + upper) / 2 (computed in double, as torch's)."""
    if float(lower) > float(upper):   # (torch's check, in both modes)
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not input.dtype.is_floating_point:   # (torch's eval mode runs leaky_relu)
        kernel = "rrelu_with_noise_out_cpu" if training else "leaky_relu_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{input.dtype.legacy}'")
    if training:
        noise = rrelu_noise(generator_of(generator, "rrelu")._engine, input._array(), lower,
                            upper)
        return _tensor_of(noise, dtype=input.dtype), 0.0
    return None, (float(lower) + float(upper)) / 2


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """input where input > 0, else input * a: a drawn uniformly from [lower, upper) per
    element while training, (lower + upper) / 2 otherwise (RreluWithNoiseBackward0; in place
    RreluWithNoiseBackward1)."""
    _tensor("rrelu", input)
    if inplace:
        return rrelu_(input, lower, upper, training)
    noise, slope = _rrelu_args(input, lower, upper, training)
    return _row_major(_record("rrelu_with_noise", _rrelu, input, noise, slope))


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """rrelu in place (RreluWithNoiseBackward1)."""
    return rrelu_with_generator(input, lower, upper, training, None, True)


def rrelu_with_generator(input, lower, upper, training, generator, inplace):
    """rrelu drawing from `generator` (torch.rrelu's native `generator=` argument)."""
    _tensor("rrelu_" if inplace else "rrelu", input)
    noise, slope = _rrelu_args(input, lower, upper, training, generator)
    if inplace:
        return _inplace_row(input, "rrelu_with_noise_", _rrelu_inplace, noise, slope)
    # (torch's kernel writes into a contiguous output, even of a transpose)
    return _row_major(_record("rrelu_with_noise", _rrelu, input, noise, slope))


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + g) / tau, dim), g standard Gumbel noise (-log of exponential draws);
    with `hard`, the one-hot of its argmax carrying the soft sample's gradient (straight
    through): torch's composition and draws."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -empty_like(logits).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
