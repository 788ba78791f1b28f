"""torch.optim.Adagrad (lr_decay, initial_accumulator_value, weight decay, maximize); one
fused kernel per group (optimizer.py)."""

from .. import dtypes as D
from .hooks import check_fused, check_lr
from .adam import _no_grad_scaling
from .optimizer import (check_state_steps, _default_to_fused_or_foreach, functional_step,
                        Optimizer, state_like, step_tensor)

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad (its state is made at construction, as torch's)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(group, p, self.state[p])

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("fused", None))
    _tensor_state_on_load = True

    def _integer_update_error(self, group, p):
        # (state_sum.addcmul_(grad, grad) first: no bool kernel)
        if p._dtype is D.bool_:
            return NotImplementedError("\"addcmul_cpu_out\" not implemented for 'Bool'")
        return super()._integer_update_error(group, p)

    def _state_keys(self, group):
        return ("step", "sum")

    def _init_state(self, group, p, state):
        if len(state) != 0:
            return False
        state["step"] = step_tensor(fused=bool(group["fused"]))
        state["sum"] = state_like(p, group["initial_accumulator_value"])
        return True

    def _run(self, K, group, pack, G, goff):
        s = pack.state
        K.adagrad(pack.P, G, goff, pack.off, s["sum"], s["step"], pack.like, pack.tlike,
                  float(group["lr"]), float(group["lr_decay"]), float(group["eps"]),
                  float(group["weight_decay"]), bool(group["maximize"]))


def adagrad(params, grads, state_sums, state_steps, fused=None, grad_scale=None, found_inf=None,
            has_sparse_grad=False, foreach=None, differentiable=False, has_complex=False, *,
            lr, weight_decay, lr_decay, eps, maximize):
    """Functional API that performs Adagrad algorithm computation (torch.optim.adagrad.adagrad)."""
    check_state_steps(state_steps)
    if fused is None and foreach is None:
        _, foreach = _default_to_fused_or_foreach(params, differentiable, use_fused=False)
    _no_grad_scaling(fused, grad_scale, found_inf)
    functional_step(Adagrad, params, grads, {"step": state_steps, "sum": state_sums}, {
        "lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
        "initial_accumulator_value": 0, "foreach": foreach, "maximize": maximize,
        "differentiable": differentiable, "fused": fused})
