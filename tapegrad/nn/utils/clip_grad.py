"""Gradient clipping: `clip_grad_norm_`, `clip_grad_value_` (in place on `.grad`)."""
import math

import numpy as np

from ...creation import tensor
from ...grad_mode import no_grad
from ...tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale the gradients in place so that their joint norm (the norm of the per-parameter
    norms) is at most max_norm; returns that norm before clipping (a tensor)."""
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return tensor(0.0)
    arrays = [g._array().astype(np.float64, copy=False) for g in grads]
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
    dt = grads[0].dtype
    total_t = tensor(total, dtype=dt)
    # torch: clip_coef = max_norm / (total + 1e-6), clamped to 1, computed in the grads' dtype
    coef = dt.np.type(max_norm) / (dt.np.type(total) + dt.np.type(1e-6))
    coef = min(float(coef), 1.0)
    with no_grad():
        for g in grads:
            g.mul_(coef)
    return total_t


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.copy_(tensor(np.clip(g._array(), -clip_value, clip_value), dtype=g.dtype))
