"""`tapegrad.nn.Parameter` (defined in tapegrad/parameter.py, below the ops whose fast paths
take it as a plain Tensor)."""
from ..parameter import Parameter, _rebuild  # noqa: F401  (_rebuild: pickles name it here)
