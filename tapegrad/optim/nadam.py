"""torch.optim.NAdam (momentum_decay, weight decay coupled or decoupled: NAdamW, maximize);
one fused kernel per group (optimizer.py)."""

from .hooks import check_lr
from .optimizer import (check_state_steps, _default_to_fused_or_foreach, functional_step,
                        Optimizer, state_like, step_tensor)

__all__ = ["NAdam", "nadam"]


class NAdam(Optimizer):
    """NAdam (Adam with Nesterov momentum), as torch.optim.NAdam (its single-tensor CPU
    arithmetic, or with foreach=True its multi-tensor one); `mu_product` is a 0-d tensor of
    the step's dtype, as torch's."""
    _scalar_state = ("step", "mu_product")
    _capturable = (("params, mu_products and state_steps", True),
                   ("params, mu_products, and state_steps", False))

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
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
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _group_defaults = (("maximize", False), ("foreach", None), ("capturable", False),
                       ("differentiable", False), ("decoupled_weight_decay", False))
    _tensor_state_on_load = True

    def _lerps_state(self, group):
        return True

    def _integer_update_error(self, group, p):
        return self._lerp_update_error(group, p)

    def _state_keys(self, group):
        return ("step", "mu_product", "exp_avg", "exp_avg_sq")

    def _init_state(self, group, p, state):
        if len(state) != 0:
            return False
        state["step"] = step_tensor()
        state["mu_product"] = step_tensor(1.0)
        state["exp_avg"] = state_like(p)
        state["exp_avg_sq"] = state_like(p)
        return True

    def _bumps(self, group):
        # torch: two addcdiv_, after a param.mul_ for decoupled weight decay
        return 3 if group["decoupled_weight_decay"] and group["weight_decay"] != 0 else 2

    def _run(self, K, group, pack, G, goff):
        s = pack.state
        beta1, beta2 = group["betas"]
        K.nadam(pack.P, G, goff, pack.off, s["exp_avg"], s["exp_avg_sq"], s["mu_product"],
                s["step"], pack.like, pack.tlike, pack.slike["mu_product"],
                float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                float(group["weight_decay"]), float(group["momentum_decay"]),
                bool(group["maximize"]), bool(group["decoupled_weight_decay"]),
                bool(group["foreach"]))


def nadam(params, grads, exp_avgs, exp_avg_sqs, mu_products, state_steps,
          decoupled_weight_decay=False, foreach=None, capturable=False, differentiable=False,
          has_complex=False, maximize=False, *, beta1, beta2, lr, weight_decay, momentum_decay,
          eps):
    """Functional API that performs NAdam algorithm computation (torch.optim.nadam.nadam)."""
    check_state_steps(state_steps)
    check_state_steps(mu_products, "mu_products")
    if foreach is None:
        _, foreach = _default_to_fused_or_foreach(params, differentiable, use_fused=False)
    functional_step(NAdam, params, grads, {"step": state_steps, "mu_product": mu_products,
                                           "exp_avg": exp_avgs, "exp_avg_sq": exp_avg_sqs}, {
        "lr": lr, "betas": (beta1, beta2), "eps": eps, "weight_decay": weight_decay,
        "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
        "maximize": maximize, "foreach": foreach, "capturable": capturable,
        "differentiable": differentiable})
