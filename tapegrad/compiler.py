"""`tapegrad.compile`: torch.compile's signature, checks and module wrapper, in front of
tapegrad's compilers (replay.compile).

- A module comes back as an `OptimizedModule` (nn/modules/optimized.py), as from torch: same
  parameters, state_dict keys under `_orig_mod.`, calls run the module.
- A function comes to `replay.compile`: a training step (one that calls backward(),
  zero_grad() or an optimizer's step()) returns what it returns, as torch.compile's does, with
  the forward, sweep and update replayed in Numba; any other function gets value_and_grad
  semantics, `f(*args) -> (value, grads)` (issue #3's API, which torch.compile has not).
- `disable=True` returns the model itself; torch's arguments are checked as torch checks
  them (compile_options.py)."""
from . import compile_options, replay
from .nn.modules.module import Module
from .nn.modules.optimized import OptimizedModule

__all__ = ["compile"]


def compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None,  # noqa: A001
            options=None, name=None, disable=False, recompile_limit=None,
            isolate_recompiles=False, shapes_spec=None, strict=False, cache_size=64):
    """torch.compile: `model` compiled (see the module doc for what that is here), or, with
    no model, a decorator doing so.  `strict` and `cache_size` are replay.compile's."""
    if model is None:
        def decorate(model):
            return compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                           mode=mode, options=options, name=name, disable=disable,
                           recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec,
                           strict=strict, cache_size=cache_size)
        return decorate
    compile_options.check(backend, mode, options)
    if disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model)
    return replay.compile(model, strict=strict, cache_size=cache_size)
