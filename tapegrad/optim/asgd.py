"""torch.optim.ASGD (averaged SGD: lambd, alpha, t0, weight decay, maximize); one fused
kernel per group (optimizer.py)."""
import numpy as np

from .. import dtypes as D
from ..tensor import Tensor
from .hooks import check_lr
from .optimizer import (_default_to_fused_or_foreach, functional_step, Optimizer, state_like,
                        step_tensor)

__all__ = ["ASGD", "asgd"]


class ASGD(Optimizer):
    """Averaged stochastic gradient descent, as torch.optim.ASGD (its single-tensor CPU
    arithmetic); `eta` and `mu` are 0-d tensors of the step's dtype, as torch's, and `ax`
    holds the averaged parameters."""
    _scalar_state = ("step", "eta", "mu")
    _capturable = (("params, mus, etas, and state_steps", True),
                   ("params, mus, etas, and state_steps", False))

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("capturable", False))
    _tensor_state_on_load = True

    def _state_keys(self, group):
        return ("step", "eta", "mu", "ax")

    def _init_state(self, group, p, state):
        if len(state) != 0:
            return False
        state["step"] = step_tensor()
        state["eta"] = step_tensor(float(group["lr"]))
        state["mu"] = step_tensor(1.0)
        state["ax"] = state_like(p)
        return True

    def _bumps(self, group):
        # torch: param.mul_ (the decay) and param.add_; foreach: one _foreach_addcmul_
        return 1 if group["foreach"] else 2

    def _run(self, K, group, pack, G, goff):
        s, sl = pack.state, pack.slike
        lr, foreach = group["lr"], bool(group["foreach"])
        # torch makes the new eta and mu as tensors: of the default dtype from Python numbers;
        # of lr's dtype for a tensor lr (foreach: lr's and the step's, as 0-d tensors promote);
        # foreach with a float lr computes eta on the step tensor (the kernel's `chain`)
        mu32 = D.get_default_dtype() is not D.float64
        if isinstance(lr, Tensor):
            eta32 = lr.dtype is D.float32 and not (foreach and pack.tlike.dtype == np.float64)
        else:
            eta32 = mu32
        K.asgd(pack.P, G, goff, pack.off, s["ax"], s["step"], s["eta"], s["mu"], pack.like,
               pack.tlike, sl["eta"], sl["mu"], float(lr), float(group["lambd"]),
               float(group["alpha"]), float(group["t0"]), float(group["weight_decay"]),
               bool(group["maximize"]), eta32, mu32, foreach,
               foreach and not isinstance(lr, Tensor))


def asgd(params, grads, axs, mus, etas, state_steps, foreach=None, maximize=False,
         differentiable=False, capturable=False, has_complex=False, *, lambd, lr, t0, alpha,
         weight_decay):
    """Functional API that performs asgd algorithm computation (torch.optim.asgd.asgd)."""
    if foreach is None:
        _, foreach = _default_to_fused_or_foreach(params, differentiable, use_fused=False)
    functional_step(ASGD, params, grads,
                    {"step": state_steps, "eta": etas, "mu": mus, "ax": axs}, {
                        "lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                        "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                        "differentiable": differentiable, "capturable": capturable})
