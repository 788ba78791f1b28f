"""torch.optim.Adadelta (rho, weight decay, maximize); one fused kernel per group
(optimizer.py)."""

from .hooks import check_lr
from .optimizer import (check_state_steps, _default_to_fused_or_foreach, functional_step,
                        Optimizer, state_like, step_tensor)

__all__ = ["Adadelta", "adadelta"]


class Adadelta(Optimizer):
    """Adadelta, as torch.optim.Adadelta (its single-tensor CPU arithmetic)."""
    _capturable = (("params and state_steps", False), ("params and state_steps", False))

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("capturable", False))
    _tensor_state_on_load = True

    def _state_keys(self, group):
        return ("step", "square_avg", "acc_delta")

    def _init_state(self, group, p, state):
        if len(state) != 0:
            return False
        state["step"] = step_tensor()
        state["square_avg"] = state_like(p)
        state["acc_delta"] = state_like(p)
        return True

    def _run(self, K, group, pack, G, goff):
        s = pack.state
        K.adadelta(pack.P, G, goff, pack.off, s["square_avg"], s["acc_delta"], s["step"],
                   pack.like, pack.tlike, float(group["lr"]), float(group["rho"]),
                   float(group["eps"]), float(group["weight_decay"]), bool(group["maximize"]))


def adadelta(params, grads, square_avgs, acc_deltas, state_steps, capturable=False,
             foreach=None, differentiable=False, has_complex=False, *, lr, rho, eps,
             weight_decay, maximize):
    """Functional API that performs Adadelta algorithm computation
    (torch.optim.adadelta.adadelta)."""
    check_state_steps(state_steps)
    if foreach is None:
        _, foreach = _default_to_fused_or_foreach(params, differentiable, use_fused=False)
    functional_step(Adadelta, params, grads, {"step": state_steps, "square_avg": square_avgs,
                                              "acc_delta": acc_deltas}, {
        "lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
        "capturable": capturable, "foreach": foreach, "differentiable": differentiable})
