"""`tapegrad.linalg`: torch.linalg's functions (vector and Frobenius norms here)."""
from .mathops import linalg_norm as norm, vector_norm

__all__ = ["norm", "vector_norm"]
