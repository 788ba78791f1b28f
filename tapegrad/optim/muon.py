"""torch.optim.Muon (torch 2.13's): momentum (a lerp towards the gradient), Nesterov's
look-ahead, the update orthogonalised by Newton-Schulz iterations (in bfloat16, as torch:
_newton_schulz.py), decoupled weight decay and the learning rate scaled by the matrix's
shape; 2-D parameters only.

Like Adafactor this is not a fused Numba kernel: the orthogonalisation is a handful of
matrix products of the whole parameter, so `_run` updates the parameters of a pack one by
one with numpy, op for op as torch's _single_tensor_muon.  The momentum buffer is an
element-shaped state tensor the pack addresses (cast to the parameter's dtype on load)."""
import math

import numpy as np

from ..tensor import Tensor
from ._newton_schulz import zeropower_via_newtonschulz
from ._numpy_step import lerp_, param_arrays
from .optimizer import Optimizer, _as_array, _is_torch_tensor, state_tensor

__all__ = ["Muon"]

# torch's defaults (Keller Jordan's quintic coefficients)
EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5


def _adjust_lr(lr, adjust_lr_fn, shape):
    """The learning rate for a parameter of this shape: "original" (None) scales it by
    sqrt(max(1, rows / cols)), "match_rms_adamw" by 0.2 * sqrt(max(rows, cols))."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


def _lr_numbers(lr, weight_decay, adjust_lr_fn, shape):
    """(1 - lr * weight_decay, the adjusted lr) as torch computes them: with Python floats,
    or, for a tensor lr (which torch keeps a tensor), in the tensor's dtype with the Python
    numbers rounded to it (a float32 lr makes both float32 values)."""
    if isinstance(lr, Tensor) or _is_torch_tensor(lr):    # (torch's: from its state dict)
        arr = _as_array(lr)
    else:
        return 1 - lr * weight_decay, _adjust_lr(lr, adjust_lr_fn, shape)
    t = arr.dtype.type
    v = t(arr.reshape(()))
    decay = t(1) - v * t(weight_decay)
    adjusted = v * t(_adjust_lr(1.0, adjust_lr_fn, shape))
    return float(decay), float(adjusted)


class Muon(Optimizer):
    """Muon, as torch.optim.Muon: for the 2-D parameters of hidden layers (others, biases
    and embeddings, belong to e.g. AdamW)."""

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS,
                 ns_steps=DEFAULT_NS_STEPS, adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum,
                    "nesterov": nesterov, "ns_coefficients": ns_coefficients, "eps": eps,
                    "ns_steps": ns_steps, "adjust_lr_fn": adjust_lr_fn}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.size()}")

    _scalar_state = ()      # (no step count)

    def _state_keys(self, group):
        return ("momentum_buffer",)

    def _init_state(self, group, p, state):
        if p._dtype.is_complex:
            raise RuntimeError("Muon does not support complex parameters")
        if "momentum_buffer" in state:
            return False
        dt = p._grad._dtype
        state["momentum_buffer"] = state_tensor(np.zeros(p._shape, dt.np), dt)
        return True

    def _bumps(self, group):
        return 2        # torch: param.mul_(1 - lr * weight_decay), then param.add_

    def _run(self, K, group, pack, G, goff):
        lr = group["lr"]
        weight_decay = float(group["weight_decay"])
        momentum = float(group["momentum"])
        nesterov = bool(group["nesterov"])
        coefficients = group["ns_coefficients"]
        eps = float(group["eps"])
        ns_steps = group["ns_steps"]
        adjust_lr_fn = group["adjust_lr_fn"]
        npdt = pack.dt.np
        bufs = pack.keep[0]
        for j, (p, x) in enumerate(zip(pack.params, param_arrays(pack))):
            n = int(pack.off[j + 1] - pack.off[j])
            o = int(goff[j])
            grad = np.asarray(G[o:o + n], dtype=npdt).reshape(p._shape)
            if grad.ndim != 2:
                raise ValueError("Param gradient must be a 2D matrix")
            buf = bufs[j].reshape(p._shape)
            _step_param(x, grad, buf, lr, weight_decay, momentum, nesterov, coefficients,
                        ns_steps, eps, adjust_lr_fn)


def _step_param(x, grad, buf, lr, weight_decay, momentum, nesterov, coefficients, ns_steps,
                eps, adjust_lr_fn):
    """One Muon update of parameter values x (in place) with gradient grad and momentum
    buffer buf (in place)."""
    t = x.dtype.type
    lerp_(buf, grad, 1 - momentum)
    if nesterov:
        update = grad.copy()
        lerp_(update, buf, momentum)
    else:
        update = buf
    ortho = zeropower_via_newtonschulz(update, coefficients, ns_steps, eps)
    decay, adjusted_lr = _lr_numbers(lr, weight_decay, adjust_lr_fn, x.shape)
    x[...] = x * t(decay)
    # param.add_(update, alpha=-adjusted_lr): the bfloat16 update promoted to x's dtype; for
    # float32 one fused multiply-add (the float32 product is exact in float64)
    wide = np.float64 if x.dtype == np.float32 else x.dtype.type
    x[...] = x.astype(wide) + wide(t(-adjusted_lr)) * ortho.astype(wide)
