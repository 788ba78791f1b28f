"""torch.optim.Adafactor (torch 2.13's: relative step size min(lr, 1/sqrt(t)), decoupled
weight decay, update clipping at d, factored second moments for parameters of two or more
dimensions, maximize, the single-tensor and foreach arithmetic).

Unlike the fused optimizers this one (and Muon) is not a Numba kernel: its state is not shaped
like the parameter (row_var and col_var are the second moment's row and column means, of
shapes (..., m, 1) and (..., 1, n)), which the packs' per-element state addressing does not
hold, and each update needs two whole-tensor norms first.  So `_run` updates the parameters
of a pack one by one with numpy, op for op as torch's _single_tensor_adafactor (in the
parameter's dtype; norms and means accumulated in float64, then rounded to it, where torch
reduces in its own order).  The parameters and gradients still come from the pack (its
staging buffer for float-backed values, the concatenated or replayed gradients), so eager,
compiled and replayed steps all take this path."""
import numpy as np

from ..tensor import Tensor
from ._numpy_step import add_ as _add_, lerp_ as _lerp_, param_arrays as _param_arrays
from .optimizer import Optimizer, state_tensor, step_tensor

__all__ = ["Adafactor"]


def _norm(x, axis=None):
    """torch.norm(x, 2, dim=axis, keepdim=True) in x's dtype (accumulated in float64)."""
    sq = np.square(x, dtype=np.float64)
    keep = axis is not None
    return np.sqrt(np.sum(sq, axis=axis, keepdims=keep)).astype(x.dtype)


class Adafactor(Optimizer):
    """Adafactor, as torch.optim.Adafactor: lr caps the relative step size and scales the
    decoupled weight decay; eps = (eps1, eps2) with eps1 None meaning the dtype's machine
    epsilon; d the update-clipping threshold."""

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    _group_defaults = (("foreach", None),)
    _tensor_state_on_load = True

    def _integer_param_error(self, group, p):
        # (torch reads torch.finfo(p.dtype) first to make eps1, else the parameter's norm)
        if group["eps"][0] is None:
            return TypeError("torch.finfo() requires a floating point input type. Use "
                             "torch.iinfo to handle 'torch.finfo'")
        return RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                            f"input. Got {p._dtype.legacy}")

    def _state_keys(self, group):
        return ("step",)        # (the moments are read from self.state: not element-shaped)

    def _init_state(self, group, p, state):
        if p._dtype.is_complex:
            raise RuntimeError("Adafactor does not support complex parameters")
        if len(state) != 0:
            return False
        state["step"] = step_tensor()
        if len(p._shape) > 1:
            row = list(p._shape)
            row[-1] = 1
            col = list(p._shape)
            col[-2] = 1
            state["row_var"] = state_tensor(np.zeros(row, p._dtype.np), p._dtype)
            state["col_var"] = state_tensor(np.zeros(col, p._dtype.np), p._dtype)
        else:
            state["variance"] = state_tensor(np.zeros(p._shape, p._dtype.np), p._dtype)
        return True

    def _bumps(self, group):
        # torch: param.mul_(1 - lr * weight_decay) before the param.add_ when weight_decay
        return 2 if group["weight_decay"] != 0 else 1

    def _eps1(self, group, pack):
        """eps1, or (None) the machine epsilon of the first stepped parameter's dtype: torch
        sets it once per group from the first parameter it updates."""
        eps1 = group["eps"][0]
        if eps1 is not None:
            return float(eps1)
        first = next((p for p in group["params"] if getattr(p, "_grad", None) is not None),
                     pack.params[0])
        return float(np.finfo(first._dtype.np).eps)

    def _run(self, K, group, pack, G, goff):
        lr = float(group["lr"])
        beta2_decay = float(group["beta2_decay"])
        eps1 = self._eps1(group, pack)
        eps2 = float(group["eps"][1])
        d = float(group["d"])
        weight_decay = float(group["weight_decay"])
        maximize = bool(group["maximize"])
        foreach = bool(group["foreach"])
        npdt = pack.dt.np
        for j, (p, x) in enumerate(zip(pack.params, _param_arrays(pack))):
            n = int(pack.off[j + 1] - pack.off[j])
            o = int(goff[j])
            grad = np.asarray(G[o:o + n], dtype=npdt).reshape(p._shape)
            if maximize:
                grad = -grad
            _step_param(self.state[p], x, grad, lr, beta2_decay, eps1, eps2, d, weight_decay,
                        foreach)


def _step_param(state, x, grad, lr, beta2_decay, eps1, eps2, d, weight_decay, foreach):
    """One Adafactor update of parameter values x (in place) with gradient grad."""
    t = x.dtype.type
    step_t = state["step"]
    step_arr = step_t._materialize()
    step_arr[...] = step_arr + step_arr.dtype.type(1)
    step = float(step_arr)
    one_minus_beta2_t = step ** beta2_decay
    rho_t = min(lr, 1 / (step ** 0.5))
    alpha = max(eps2, float(_norm(x)) / (x.size ** 0.5)) * rho_t
    if weight_decay != 0:
        x[...] = x * t(1 - lr * weight_decay)
    if grad.ndim > 1:
        row_var = state["row_var"]._materialize()
        col_var = state["col_var"]._materialize()
        row_mean = np.square(_norm(grad, -1)) / t(grad.shape[-1])
        _lerp_(row_var, row_mean, one_minus_beta2_t)
        col_mean = np.square(_norm(grad, -2)) / t(grad.shape[-2])
        _lerp_(col_var, col_mean, one_minus_beta2_t)
        var_estimate = row_var @ col_var
        row_var_mean = np.mean(row_var, axis=-2, keepdims=True, dtype=np.float64).astype(
            x.dtype)
        var_estimate = var_estimate / np.maximum(row_var_mean, t(eps1))
    else:
        variance = state["variance"]._materialize()
        _lerp_(variance, grad * grad, one_minus_beta2_t)
        var_estimate = variance.copy()
    update = t(1) / np.sqrt(np.maximum(var_estimate, t(eps1 * eps1)))
    update = update * grad
    denom = max(1.0, float(_norm(update)) / ((update.size ** 0.5) * d))
    if foreach:     # torch's multi-tensor path scales the update, then adds it
        x[...] = x + update * t(-alpha / denom)
    else:           # param.add_(update, alpha=-alpha / denom)
        _add_(x, update, -alpha / denom)

