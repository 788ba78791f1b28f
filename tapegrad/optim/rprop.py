"""torch.optim.Rprop (etas, step_sizes, maximize); one fused kernel per group
(optimizer.py)."""

from .. import dtypes as D, errors
from .hooks import check_lr
from .optimizer import (check_state_steps, _default_to_fused_or_foreach, functional_step,
                        grad_or_param, Optimizer, state_like, step_tensor)

__all__ = ["Rprop", "rprop"]


class Rprop(Optimizer):
    """Resilient backpropagation, as torch.optim.Rprop (its single-tensor CPU arithmetic):
    per element, a step size grown by etas[1] while the gradient keeps its sign and shrunk by
    etas[0] when it flips, within step_sizes; the step is -sign(grad) * step size."""

    _grad_is_operand_a = True

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("capturable", False))
    _tensor_state_on_load = True

    def _integer_update_error(self, group, p):
        # (its failing op names the dtypes as C types)
        return RuntimeError(f"result type {D.get_default_dtype().legacy} can't be cast to the "
                            f"desired output type {errors._C_TYPE[p._dtype.name]}")

    def _state_keys(self, group):
        return ("step", "prev", "step_size")

    def _init_state(self, group, p, state):
        if len(state) != 0:
            return False
        state["step"] = step_tensor()
        state["prev"] = state_like(p)
        # (torch's full_like(grad, lr): the gradient's layout)
        state["step_size"] = state_like(grad_or_param(p), float(group["lr"]), p._dtype)
        return True

    def _run(self, K, group, pack, G, goff):
        s = pack.state
        # (torch compares and clamps in the parameters' dtype: the constants rounded to it)
        r = pack.like.dtype.type
        etaminus, etaplus = group["etas"]
        step_min, step_max = group["step_sizes"]
        K.rprop(pack.P, G, goff, pack.off, s["prev"], s["step_size"], s["step"], pack.like,
                pack.tlike, float(r(etaminus)), float(r(etaplus)), float(r(step_min)),
                float(r(step_max)), bool(group["maximize"]))


def rprop(params, grads, prevs, step_sizes, state_steps, foreach=None, capturable=False,
          maximize=False, differentiable=False, has_complex=False, *, step_size_min,
          step_size_max, etaminus, etaplus):
    """Functional API that performs rprop algorithm computation (torch.optim.rprop.rprop)."""
    check_state_steps(state_steps)
    if foreach is None:
        _, foreach = _default_to_fused_or_foreach(params, differentiable, use_fused=False)
    functional_step(Rprop, params, grads,
                    {"step": state_steps, "prev": prevs, "step_size": step_sizes}, {
                        "lr": None, "etas": (etaminus, etaplus),
                        "step_sizes": (step_size_min, step_size_max), "foreach": foreach,
                        "maximize": maximize, "differentiable": differentiable,
                        "capturable": capturable})
