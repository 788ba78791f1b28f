"""torch.optim.Adam and AdamW (amsgrad, weight decay coupled or decoupled, maximize); one
fused kernel per group (optimizer.py)."""

from ..tensor import Tensor
from .hooks import check_fused, check_lr
from .optimizer import (check_state_steps, _default_to_fused_or_foreach, functional_step,
                        Optimizer, state_like, step_tensor, _to_scalar)

__all__ = ["Adam", "AdamW", "adam"]


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (its single-tensor CPU arithmetic)."""
    _capturable = (("params and state_steps", True), ("params and state_steps", False))

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_lr(lr, foreach, capturable, tensor_lr_foreach=True)
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
        if not (isinstance(betas[0], float) and isinstance(betas[1], float)
                or isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor)):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, beta in enumerate(betas):
            if isinstance(beta, Tensor):
                if not capturable and foreach:
                    raise ValueError(f"betas[{i}] as a Tensor is not supported for "
                                     f"capturable=False and foreach=True")
                if beta.numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
        defaults = {"lr": lr, "betas": tuple(map(_to_scalar, betas)), "eps": eps,
                    "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)

    _group_defaults = (("amsgrad", False), ("maximize", False), ("foreach", None),
                       ("capturable", False), ("differentiable", False),
                       ("decoupled_weight_decay", False), ("fused", None))
    _tensor_state_on_load = True

    def _lerps_state(self, group):
        return True

    def _integer_update_error(self, group, p):
        return self._lerp_update_error(group, p)

    def _state_keys(self, group):
        keys = ("step", "exp_avg", "exp_avg_sq")
        return keys + ("max_exp_avg_sq",) if group["amsgrad"] else keys

    def _init_state(self, group, p, state):
        if len(state) != 0:
            return False
        state["step"] = step_tensor(fused=bool(group["fused"]))
        state["exp_avg"] = state_like(p)
        state["exp_avg_sq"] = state_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = state_like(p)
        return True

    def _bumps(self, group):
        # torch: param.mul_(1 - lr * weight_decay) before the addcdiv_ when decoupled; its
        # fused kernel (fused=True) counts no in-place op
        if group["fused"]:
            return 0
        return 2 if group["decoupled_weight_decay"] and group["weight_decay"] != 0 else 1

    def _run(self, K, group, pack, G, goff):
        s = pack.state
        amsgrad = bool(group["amsgrad"])
        # NOTE: tensor betas are read as numbers (float32 ones exactly): 1 - beta is then
        # torch's, its bias corrections are computed in float64 where torch's are tensor ops
        # of the betas' dtype (as for a tensor lr: docs/optim.md)
        beta1, beta2 = group["betas"]
        K.adam(pack.P, G, goff, pack.off, s["exp_avg"], s["exp_avg_sq"],
               s["max_exp_avg_sq"] if amsgrad else s["exp_avg_sq"], s["step"], pack.like,
               pack.tlike,
               float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
               float(group["weight_decay"]), amsgrad, bool(group["maximize"]),
               bool(group["decoupled_weight_decay"]))


class AdamW(Adam):
    """Adam with decoupled weight decay, as torch.optim.AdamW."""
    _inherits_torch_step = True     # (torch's AdamW steps with Adam.step: its messages say so)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, foreach=None,
         capturable=False, differentiable=False, fused=None, grad_scale=None, found_inf=None,
         has_complex=False, decoupled_weight_decay=False, *, amsgrad, beta1, beta2, lr,
         weight_decay, eps, maximize):
    """Functional API that performs Adam algorithm computation (torch.optim.adam.adam):
    `params` updated in place with `grads`, the moments and the 0-d `state_steps` too."""
    if fused is None and foreach is None:
        _, foreach = _default_to_fused_or_foreach(params, differentiable, use_fused=False)
    check_state_steps(state_steps)
    _no_grad_scaling(fused, grad_scale, found_inf)
    lists = {"step": state_steps, "exp_avg": exp_avgs, "exp_avg_sq": exp_avg_sqs}
    if amsgrad:
        lists["max_exp_avg_sq"] = max_exp_avg_sqs
    functional_step(Adam, params, grads, lists, {
        "lr": lr, "betas": (beta1, beta2), "eps": eps, "weight_decay": weight_decay,
        "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach, "capturable": capturable,
        "differentiable": differentiable, "fused": fused,
        "decoupled_weight_decay": decoupled_weight_decay})


def _no_grad_scaling(fused, grad_scale, found_inf):
    """torch's functional steps take GradScaler's grad_scale / found_inf only fused (the
    others assert they are None)."""
    if grad_scale is None and found_inf is None:
        return
    if not fused:
        raise AssertionError("Expected grad_scale and found_inf to be None")
    raise NotImplementedError("tapegrad: grad_scale / found_inf of a fused functional optimizer "
                              "step are not implemented (GradScaler unscales the gradients "
                              "before an optimizer's step() here)")
