"""torch.optim.SparseAdam: Adam for sparse gradients (embedding rows).  tapegrad has no sparse
tensors, so every gradient is dense and a step that meets one raises torch's error for a
dense gradient; construction checks its arguments as torch does."""
from ..grad_mode import switched_grad
from .hooks import check_lr
from .optimizer import Optimizer

__all__ = ["SparseAdam", "sparse_adam"]


class SparseAdam(Optimizer):
    """SparseAdam, as torch.optim.SparseAdam: its checks; a step with any gradient raises
    (the gradients here are dense: use Adam)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        check_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize})

    def step(self, closure=None):
        """torch's step: the closure's loss, and its RuntimeError at the first parameter
        that has a gradient (never sparse here)."""
        loss = None
        if closure is not None:
            with switched_grad(True):
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    raise RuntimeError("SparseAdam does not support dense gradients, please "
                                       "consider Adam instead")
        return loss


def sparse_adam(params, grads, exp_avgs, exp_avg_sqs, state_steps, *, eps, beta1, beta2, lr,
                maximize):
    """torch.optim._functional.sparse_adam: its update coalesces each (sparse) gradient; the
    gradients here are dense, so the first parameter meets torch's error for a dense one."""
    for _ in params:
        raise RuntimeError("coalesce expected sparse coordinate tensor layout but got Strided")
