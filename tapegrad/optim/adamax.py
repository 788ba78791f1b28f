"""torch.optim.Adamax (Adam with the infinity norm; weight decay, maximize); one fused kernel
per group (optimizer.py)."""

from .hooks import check_lr
from .optimizer import (check_state_steps, _default_to_fused_or_foreach, functional_step,
                        Optimizer, state_like, step_tensor)

__all__ = ["Adamax", "adamax"]


class Adamax(Optimizer):
    """Adamax, as torch.optim.Adamax (its single-tensor CPU arithmetic)."""
    _capturable = (("params and state_steps", True), ("params and state_steps", False))

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("capturable", False))
    _tensor_state_on_load = True

    def _lerps_state(self, group):
        return True

    def _integer_update_error(self, group, p):
        return self._lerp_update_error(group, p)

    def _state_keys(self, group):
        return ("step", "exp_avg", "exp_inf")

    def _init_state(self, group, p, state):
        if len(state) != 0:
            return False
        state["step"] = step_tensor()
        state["exp_avg"] = state_like(p)
        state["exp_inf"] = state_like(p)
        return True

    def _run(self, K, group, pack, G, goff):
        s = pack.state
        beta1, beta2 = group["betas"]
        K.adamax(pack.P, G, goff, pack.off, s["exp_avg"], s["exp_inf"], s["step"], pack.like,
                 pack.tlike, float(group["lr"]), float(beta1), float(beta2),
                 float(group["eps"]), float(group["weight_decay"]), bool(group["maximize"]))


def adamax(params, grads, exp_avgs, exp_infs, state_steps, foreach=None, maximize=False,
           differentiable=False, capturable=False, has_complex=False, *, eps, beta1, beta2, lr,
           weight_decay):
    """Functional API that performs adamax algorithm computation (torch.optim.adamax.adamax)."""
    check_state_steps(state_steps)
    if foreach is None:
        _, foreach = _default_to_fused_or_foreach(params, differentiable, use_fused=False)
    functional_step(Adamax, params, grads,
                    {"step": state_steps, "exp_avg": exp_avgs, "exp_inf": exp_infs}, {
                        "lr": lr, "betas": (beta1, beta2), "eps": eps,
                        "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                        "differentiable": differentiable, "capturable": capturable})
