"""torch.optim.RAdam (weight decay coupled or decoupled, maximize); one fused kernel per group
(optimizer.py)."""

from .hooks import check_lr
from .optimizer import (check_state_steps, _default_to_fused_or_foreach, functional_step,
                        Optimizer, state_like, step_tensor)

__all__ = ["RAdam", "radam"]


class RAdam(Optimizer):
    """RAdam (rectified Adam), as torch.optim.RAdam (its single-tensor CPU arithmetic, or
    with foreach=True its multi-tensor one)."""
    _capturable = (("params and state_steps", True), ("params and state_steps", False))

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
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
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("decoupled_weight_decay", False), ("capturable", False))
    _tensor_state_on_load = True

    def _lerps_state(self, group):
        return True

    def _integer_update_error(self, group, p):
        return self._lerp_update_error(group, p)

    def _state_keys(self, group):
        return ("step", "exp_avg", "exp_avg_sq")

    def _init_state(self, group, p, state):
        if len(state) != 0:
            return False
        state["step"] = step_tensor()
        state["exp_avg"] = state_like(p)
        state["exp_avg_sq"] = state_like(p)
        return True

    def _bumps(self, group):
        # torch: param.mul_(1 - lr * weight_decay) before the add_ when decoupled
        return 2 if group["decoupled_weight_decay"] and group["weight_decay"] != 0 else 1

    def _run(self, K, group, pack, G, goff):
        s = pack.state
        beta1, beta2 = group["betas"]
        K.radam(pack.P, G, goff, pack.off, s["exp_avg"], s["exp_avg_sq"], s["step"], pack.like,
                pack.tlike, float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                float(group["weight_decay"]), bool(group["maximize"]),
                bool(group["decoupled_weight_decay"]), bool(group["foreach"]))


def radam(params, grads, exp_avgs, exp_avg_sqs, state_steps, decoupled_weight_decay=False,
          foreach=None, differentiable=False, capturable=False, has_complex=False,
          maximize=False, *, beta1, beta2, lr, weight_decay, eps):
    """Functional API that performs RAdam algorithm computation (torch.optim.radam.radam)."""
    check_state_steps(state_steps)
    if foreach is None:
        _, foreach = _default_to_fused_or_foreach(params, differentiable, use_fused=False)
    functional_step(RAdam, params, grads,
                    {"step": state_steps, "exp_avg": exp_avgs, "exp_avg_sq": exp_avg_sqs}, {
                        "lr": lr, "betas": (beta1, beta2), "eps": eps,
                        "weight_decay": weight_decay, "maximize": maximize, "foreach": foreach,
                        "capturable": capturable,
                        "decoupled_weight_decay": decoupled_weight_decay,
                        "differentiable": differentiable})
