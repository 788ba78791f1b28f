"""Helpers shared by the distributions, as torch.distributions.utils: `broadcast_all`,
`logits_to_probs` / `probs_to_logits` / `clamp_probs`, `lazy_property`, and the private
`_sum_rightmost`, `_standard_normal`, `_finfo`."""
import numbers

import numpy as np

from ..composed import broadcast_tensors
from ..creation import tensor
from ..dtypes import get_default_dtype
from ..grad_mode import enable_grad
from ..ndops import softmax
from ..random import randn
from ..tensor import Tensor

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits",
           "lazy_property"]

euler_constant = 0.57721566490153286060  # Euler Mascheroni Constant


def _finfo(dtype):
    """numpy's finfo of a floating tapegrad dtype (torch.finfo's eps / tiny / min / max)."""
    return np.finfo(dtype.np)


def broadcast_all(*values):
    """Broadcast the given tensors and numbers to one shape: numbers become tensors of the
    first tensor's dtype (the default dtype if there is none)."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, torch.Tensor or "
                         "objects implementing __torch_function__.")
    if not all(isinstance(v, Tensor) for v in values):
        dtype = next((v.dtype for v in values if isinstance(v, Tensor)), get_default_dtype())
        values = [v if isinstance(v, Tensor) else tensor(v, dtype=dtype) for v in values]
    return broadcast_tensors(*values)


def _standard_normal(shape, dtype):
    """Standard normal draws of `shape` (tapegrad's generator; no gradient)."""
    return randn(tuple(shape), dtype=dtype)


def _sum_rightmost(value, dim):
    """Sum out the `dim` rightmost dimensions of value."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    """Probabilities from logits: sigmoid when `is_binary`, else softmax over the last
    dimension."""
    if is_binary:
        return logits.sigmoid()
    return softmax(logits, -1)


def clamp_probs(probs):
    """Clamp probabilities to [eps, 1 - eps] (eps of their dtype)."""
    eps = float(_finfo(probs.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    """Logits from probabilities (clamped away from 0 and 1): log(p) - log1p(-p) when
    `is_binary`, else log(p)."""
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return ps_clamped.log() - (-ps_clamped).log1p()
    return ps_clamped.log()


class lazy_property:
    """A property computed once (with gradients enabled) on first access and then stored as
    an instance attribute, as torch's `lazy_property` (e.g. Bernoulli's `logits` from
    `probs`)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value
