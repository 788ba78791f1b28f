"""`tapegrad.autograd.function`, torch's public module of that name: custom autograd
Functions (`Function`, `FunctionCtx`, `BackwardCFunction`, `once_differentiable`, the legacy
`InplaceFunction`, their metaclass `FunctionMeta`); they are implemented in
`tapegrad.pyfunc`, below the engine that runs their backward."""
from ..pyfunc import (BackwardCFunction, Function, FunctionCtx, FunctionMeta, InplaceFunction,
                      once_differentiable)

__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "once_differentiable",
           "InplaceFunction", "FunctionMeta"]
