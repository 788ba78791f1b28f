"""torch.optim._functional: the functional optimizer steps (each also in its optimizer's
module, as torch's: torch.optim.adam.adam) that custom optimizers call from their step()."""
from .adam import adam
from .adamw import adamw
from .sgd import sgd

__all__ = ["adam", "adamw", "sgd"]
