"""torch.linalg: the linear-algebra namespace (cross here; det, inv, solve, cholesky: see
docs/semantics.md for what is not implemented yet)."""
from .structops import linalg_cross as cross

__all__ = ["cross"]
