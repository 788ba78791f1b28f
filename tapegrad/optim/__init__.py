"""tapegrad.optim: torch.optim's optimizers and learning-rate schedulers.

Every optimizer updates all parameters of a parameter group in one fused Numba call
(optimizer.py, _fused.py), with torch's arithmetic, state and state_dict format."""
from .optimizer import Optimizer
from . import optimizer  # noqa: F401  (torch.optim.optimizer: the global step hooks)
from .sgd import SGD
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from .adadelta import Adadelta
from .adamax import Adamax
from .nadam import NAdam
from .radam import RAdam
from .rprop import Rprop
from .asgd import ASGD
from .lbfgs import LBFGS
from .adafactor import Adafactor
from .muon import Muon
from .sparse_adam import SparseAdam
from .replayed import ReplayedStep
from ._stateless import swap_in_optimizer_params_and_state
from . import _functional, adamw  # noqa: F401  (torch.optim._functional, torch.optim.adamw)
from . import lr_scheduler
from . import swa_utils

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax",
           "NAdam", "RAdam", "Rprop", "ASGD", "LBFGS", "Adafactor", "Muon", "SparseAdam", "ReplayedStep",
           "lr_scheduler", "swa_utils", "swap_in_optimizer_params_and_state"]
