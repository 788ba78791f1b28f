"""`tapegrad.autograd`: Variable, backward, grad (PyTorch's signatures and errors), grad mode,
gradcheck, `functional` (jacobian, hessian, vjp, jvp, hvp, vhp) and custom `Function`s."""
from ..grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from ..grad_mode import inference_mode, is_multithreading_enabled, set_multithreading_enabled
from .api import Variable, backward, grad, variable, _is_checkpoint_valid
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
from .function import Function
from . import anomaly_mode, forward_ad, function, functional, grad_mode, graph, profiler
from ..anomaly import (detect_anomaly, set_detect_anomaly, is_anomaly_enabled,
                       is_anomaly_check_nan_enabled)
from ..node_api import SavedTensor   # (grad_fn._raw_saved_<name>'s type)

__all__ = ["Variable", "variable", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "gradcheck", "gradgradcheck", "GradcheckError", "forward_ad", "functional", "graph", "grad_mode", "anomaly_mode", "profiler",
           "Function",
           "function", "inference_mode", "detect_anomaly", "set_detect_anomaly",
           "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "set_multithreading_enabled",
           "is_multithreading_enabled", "SavedTensor"]
