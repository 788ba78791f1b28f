"""torch.optim.SGD: momentum, dampening, Nesterov, weight decay, maximize; one fused kernel
per group (optimizer.py)."""
import numpy as np

from .hooks import check_fused, check_lr
from .adam import _no_grad_scaling
from .optimizer import (functional_step, grad_or_param, _integral_alpha_error, Optimizer,
                        required, state_like)

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as torch.optim.SGD."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        check_lr(lr)
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self._fresh = set()    # momentum buffers not written yet: they take the gradient
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)

    _group_defaults = (("nesterov", False), ("maximize", False), ("foreach", None),
                       ("differentiable", False), ("fused", False))

    def __setstate__(self, state):
        super().__setstate__(state)
        self._fresh = set()

    def _integer_update_error(self, group, p):
        # param.add_(grad, alpha=-lr)
        return _integral_alpha_error(group["lr"], self, p)

    def _state_keys(self, group):
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _init_state(self, group, p, state):
        # torch keeps no state without momentum; the buffer is the first (modified) gradient
        if group["momentum"] != 0 and state.get("momentum_buffer") is None:
            # (the kernel writes it; torch's clone(grad): the gradient's layout)
            state["momentum_buffer"] = state_like(grad_or_param(p), dt=p._dtype)
            self._fresh.add(id(state["momentum_buffer"]))
            return True
        return False

    def _state_dropped(self, values):
        self._fresh.difference_update(map(id, values))

    def _run(self, K, group, pack, G, goff):
        momentum = float(group["momentum"])
        first = pack.zeros8     # (read only by the kernel: new flags only for new buffers)
        if momentum != 0:
            if self._fresh:
                first = np.zeros(len(pack.params), np.uint8)
                bufs = [id(self.state[p]["momentum_buffer"]) for p in pack.params]
                for j, buf in enumerate(bufs):
                    # (every occurrence of a parameter listed twice: torch makes each a new
                    # buffer from the gradient, and keeps the last)
                    first[j] = buf in self._fresh
                self._fresh.difference_update(bufs)
            B = pack.state["momentum_buffer"]
        else:
            B = pack.P
        K.sgd(pack.P, G, goff, pack.off, B, first, pack.like, float(group["lr"]), momentum,
              float(group["dampening"]), float(group["weight_decay"]),
              bool(group["nesterov"]), bool(group["maximize"]))


def sgd(params, d_p_list, momentum_buffer_list, has_sparse_grad=False, foreach=None, fused=None,
        grad_scale=None, found_inf=None, *, weight_decay, momentum, lr, dampening, nesterov,
        maximize):
    """Functional API that performs SGD algorithm computation (torch.optim.sgd.sgd): `params`
    updated in place with `d_p_list`; with momentum, the buffers in `momentum_buffer_list`
    too (a None there: the step's new buffer is put in its place, as torch's)."""
    _no_grad_scaling(fused, grad_scale, found_inf)
    lists = {"momentum_buffer": momentum_buffer_list} if momentum != 0 else {}
    functional_step(SGD, params, d_p_list, lists, {
        "lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
        "nesterov": nesterov, "maximize": maximize, "foreach": foreach,
        "differentiable": False, "fused": fused})
