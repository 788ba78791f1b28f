"""Helpers shared by the distributions, as torch.distributions.utils: `broadcast_all`,
`logits_to_probs` / `probs_to_logits` / `clamp_probs`, `lazy_property`,
`tril_matrix_to_vec` / `vec_to_tril_matrix`, and the private `_sum_rightmost`,
`_standard_normal`, `_finfo`."""
import numbers

import numpy as np

from ..composed import broadcast_tensors
from ..creation import arange, tensor
from ..dtypes import finfo, get_default_dtype
from ..grad_mode import switched_grad
from ..ndops import softmax
from ..random import randn
from ..tensor import Tensor

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits",
           "lazy_property", "tril_matrix_to_vec", "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060  # Euler Mascheroni Constant


def _finfo(dtype):
    """numpy's finfo of a floating dtype (torch.finfo's eps / tiny / min / max; cached by
    numpy, ten times cheaper than building a tapegrad.finfo per call); a non-floating one
    raises torch.finfo's TypeError, as torch's callers do (e.g. probs_to_logits of an integer
    tensor)."""
    if not dtype.is_floating_point:
        finfo(dtype)    # (raises torch's TypeError)
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


def count_and_odds(dist, total_count, probs, logits):
    """Binomial's and NegativeBinomial's parameters: total_count broadcast with `probs` or
    `logits` (exactly one given) and cast to its dtype; returns the batch shape."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    name, value = ("probs", probs) if probs is not None else ("logits", logits)
    count, param = broadcast_all(total_count, value)
    dist.total_count = count.type_as(param)
    setattr(dist, name, param)
    dist._param = param
    return param.size()


def expand_count_and_odds(dist, new, batch_shape):
    """`expand` of count_and_odds' parameters onto `new`."""
    new.total_count = dist.total_count.expand(batch_shape)
    for name in ("probs", "logits"):
        if name in dist.__dict__:
            setattr(new, name, getattr(dist, name).expand(batch_shape))
            new._param = getattr(new, name)


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
        with switched_grad(True):
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def tril_matrix_to_vec(mat, diag=0):
    """The lower triangle of the (batched) square matrix mat, from diagonal `diag` down
    (diag=-1: strictly below the diagonal), as a vector (row by row)."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    ar = arange(n)
    tril_mask = ar < ar.view(-1, 1) + (diag + 1)
    return mat[..., tril_mask]


def vec_to_tril_matrix(vec, diag=0):
    """The inverse of tril_matrix_to_vec: a (batched) square matrix with vec's entries in
    its lower triangle from diagonal `diag` down, zeros elsewhere."""
    # +ve root of D**2 + (1+2*diag)*D - |diag| * (diag+1) - 2*vec.shape[-1] = 0
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * vec.shape[-1]
                            + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    eps = float(_finfo(vec.dtype).eps)
    if round(n) - n > eps:
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be "
                         f"expressed as the lower triangular part of a square D x D matrix.")
    n = round(n)
    mat = vec.new_zeros(tuple(vec.shape[:-1]) + (n, n))
    ar = arange(n)
    tril_mask = ar < ar.view(-1, 1) + (diag + 1)
    mat[..., tril_mask] = vec
    return mat
