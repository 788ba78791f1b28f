"""`tapegrad.nn.Parameter` (defined in tapegrad/parameter.py, below the ops whose fast paths
take it as a plain Tensor) and the lazy modules' placeholders (_uninitialized.py)."""
from ..parameter import Parameter, _rebuild  # noqa: F401  (_rebuild: pickles name it here)
from ._buffer import Buffer  # noqa: F401
from ._uninitialized import (UninitializedBuffer, UninitializedParameter,  # noqa: F401
                             UninitializedTensorMixin, is_lazy)
