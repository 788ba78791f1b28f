"""torch.autograd.grad_mode: the grad-mode context managers under torch's module path."""
from ..grad_mode import (enable_grad, inference_mode, no_grad, set_grad_enabled,
                         set_multithreading_enabled)

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "set_multithreading_enabled"]
