"""Gradient clipping: `clip_grad_norm_` (= `get_total_norm` then `clip_grads_with_norm_`),
`clip_grad_value_` (in place on `.grad`)."""
import functools
import math
import types
import warnings

import numpy as np

from ..._signals import COMMIT
from ...creation import tensor
from ...dtypes import get_default_dtype, promote_types
from ...native_args import arg_error
from ...grad_mode import switched_grad
from ...tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _vector_norm(a, p, foreach):
    """torch.linalg.vector_norm's value for ord p (0: the count of nonzeros, ±inf: the
    largest / smallest magnitude) of a float64 array."""
    if math.isinf(p):
        if not a.size:
            name = "linalg.vector_norm" if foreach is False else "_foreach_norm"
            raise RuntimeError(f"{name} cannot compute the infinity norm on an empty tensor "
                               f"because the operation does not have an identity")
        return np.abs(a).max() if p > 0 else np.abs(a).min()
    if p == 0:
        return float(np.count_nonzero(a))
    with np.errstate(divide="ignore"):      # (a negative order of a zero: inf, then 0)
        return np.sum(np.abs(a) ** p) ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the per-tensor norms of `tensors` (a tensor of their promoted dtype, as
    torch stacks the per-dtype norms; 0. for none): what clip_grad_norm_ clips by."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    # (each rounded to its tensor's dtype, as torch's per-tensor norms are)
    norms = [t.dtype.np.type(_vector_norm(t._array().astype(np.float64, copy=False),
                                          norm_type, foreach)) for t in tensors]
    total = float(_vector_norm(np.asarray(norms, dtype=np.float64), norm_type, foreach))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           f"`parameters` is non-finite, so it cannot be clipped. To disable "
                           f"this error and scale the gradients by the non-finite norm anyway, "
                           f"set `error_if_nonfinite=False`")
    return tensor(total, dtype=functools.reduce(promote_types, (t.dtype for t in tensors)))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients in place by max_norm / (total_norm + 1e-6) when that is below 1
    (torch computes the coefficient in total_norm's dtype)."""
    grads = _grads(parameters)
    max_norm = float(max_norm)   # (checked with no gradients too, as torch)
    if not grads:
        return
    if not isinstance(total_norm, Tensor):
        # torch.clamp(max_norm / (total_norm + 1e-6), max=1.0) of a number: clamp's parser
        raise arg_error("clamp", False, (max_norm / (total_norm + 1e-6),), {"max": 1.0})
    if total_norm.dim() != 0:     # (torch's _foreach_mul_ by a tensor scalar)
        raise RuntimeError(f"scalar tensor expected to be 0 dim but it has {total_norm.dim()} "
                           f"dimensions and {total_norm.numel()} elements.")
    # (an integer or bool norm plus 1e-6: the default dtype)
    dt = total_norm.dtype if total_norm.dtype.is_floating_point else get_default_dtype()
    total = float(total_norm)
    coef = dt.np.type(max_norm) / (dt.np.type(total) + dt.np.type(1e-6))
    coef = min(float(coef), 1.0)
    with switched_grad(False), COMMIT:     # (a Ctrl-C never leaves some gradients scaled, others not)
        for g in grads:
            g.mul_(coef)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale the gradients in place so that their joint norm (the norm of the per-parameter
    norms) is at most max_norm; returns that norm before clipping (a tensor)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will "
                          "occur.", stacklevel=2)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None):
    """Deprecated: `clip_grad_norm_`."""
    warnings.warn("`tapegrad.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`tapegrad.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    grads = _grads(parameters)
    with switched_grad(False), COMMIT:     # (a Ctrl-C never leaves some gradients clipped, others not)
        # torch's CPU path: _foreach_clamp_min_ then _foreach_clamp_max_ (two version bumps)
        for g in grads:
            g.clamp_(min=-clip_value)
        for g in grads:
            g.clamp_(max=clip_value)
