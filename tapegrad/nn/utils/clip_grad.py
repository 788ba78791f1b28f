"""Gradient clipping: `clip_grad_norm_` (= `get_total_norm` then `clip_grads_with_norm_`),
`clip_grad_value_` (in place on `.grad`)."""
import math
import types
import warnings

import numpy as np

from ..._signals import COMMIT
from ...creation import tensor
from ...grad_mode import switched_grad
from ...tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the per-tensor norms of `tensors` (a tensor of their dtype; 0. for none):
    what clip_grad_norm_ clips by."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    arrays = [t._array().astype(np.float64, copy=False) for t in tensors]
    if norm_type == math.inf:
        norms = [np.abs(a).max() if a.size else 0.0 for a in arrays]
        total = max(norms)
    else:
        norms = [np.sum(np.abs(a) ** norm_type) ** (1.0 / norm_type) for a in arrays]
        total = float(np.sum(np.asarray(norms) ** norm_type) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           f"`parameters` is non-finite, so it cannot be clipped. To disable "
                           f"this error and scale the gradients by the non-finite norm anyway, "
                           f"set `error_if_nonfinite=False`")
    return tensor(total, dtype=tensors[0].dtype)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients in place by max_norm / (total_norm + 1e-6) when that is below 1
    (torch computes the coefficient in the gradients' dtype)."""
    grads = _grads(parameters)
    max_norm = float(max_norm)   # (checked with no gradients too, as torch)
    if not grads:
        return
    dt = grads[0].dtype
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
    clipped = [tensor(np.clip(g._array(), -clip_value, clip_value), dtype=g.dtype) for g in grads]
    with switched_grad(False), COMMIT:     # (a Ctrl-C never leaves some gradients clipped, others not)
        for g, c in zip(grads, clipped):
            g.copy_(c)
