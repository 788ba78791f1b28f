"""`tapegrad.nn.utils.stateless.functional_call` (deprecated in torch 2.0 for
`torch.func.functional_call`, which it calls)."""
import warnings

from ... import func as _func

__all__ = ["functional_call"]


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """Deprecated: torch.func.functional_call (module(*args, **kwargs) with the named
    parameters and buffers replaced for the call)."""
    warnings.warn("`tapegrad.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 "
                  "and will be removed in a future version of PyTorch. Please use "
                  "`tapegrad.func.functional_call` instead which is a drop-in replacement.",
                  FutureWarning, stacklevel=2)
    return _func.functional_call(module, parameters_and_buffers, args, kwargs,
                                 tie_weights=tie_weights, strict=strict)
