"""torch.optim.RMSprop (momentum, centered, alpha, weight decay, maximize); one fused kernel
per group (optimizer.py)."""

from .hooks import check_lr
from .optimizer import (check_state_steps, _default_to_fused_or_foreach, functional_step,
                        Optimizer, state_like, step_tensor)

__all__ = ["RMSprop", "rmsprop"]


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _group_defaults = (("momentum", 0), ("centered", False), ("foreach", None),
                       ("maximize", False), ("differentiable", False), ("capturable", False))
    _tensor_state_on_load = True

    def _lerps_state(self, group):
        return bool(group["centered"])

    def _state_keys(self, group):
        keys = ("step", "square_avg")
        if group["momentum"] > 0:
            keys += ("momentum_buffer",)
        if group["centered"]:
            keys += ("grad_avg",)
        return keys

    def _init_state(self, group, p, state):
        if len(state) != 0:
            return False
        state["step"] = step_tensor()
        for key in self._state_keys(group)[1:]:
            state[key] = state_like(p)
        return True

    def _run(self, K, group, pack, G, goff):
        s = pack.state
        momentum, centered = float(group["momentum"]), bool(group["centered"])
        sq = s["square_avg"]
        K.rmsprop(pack.P, G, goff, pack.off, sq, s["momentum_buffer"] if momentum > 0 else sq,
                  s["grad_avg"] if centered else sq, s["step"], pack.like, pack.tlike,
                  float(group["lr"]), float(group["alpha"]), float(group["eps"]),
                  float(group["weight_decay"]), momentum, centered, bool(group["maximize"]))


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffer_list, state_steps,
            foreach=None, maximize=False, differentiable=False, capturable=False,
            has_complex=False, *, lr, alpha, eps, weight_decay, momentum, centered):
    """Functional API that performs rmsprop algorithm computation (torch.optim.rmsprop.rmsprop)."""
    check_state_steps(state_steps)
    if foreach is None:
        _, foreach = _default_to_fused_or_foreach(params, differentiable, use_fused=False)
    lists = {"step": state_steps, "square_avg": square_avgs}
    if momentum > 0:
        lists["momentum_buffer"] = momentum_buffer_list
    if centered:
        lists["grad_avg"] = grad_avgs
    functional_step(RMSprop, params, grads, lists, {
        "lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
        "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
        "maximize": maximize, "differentiable": differentiable})
