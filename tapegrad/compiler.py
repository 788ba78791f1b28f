"""`tapegrad.compile`: torch.compile's signature, checks and module wrapper, in front of
tapegrad's compilers (replay.compile).

- A module comes back as an `OptimizedModule` (nn/modules/optimized.py), as from torch: same
  parameters, state_dict keys under `_orig_mod.`, calls run the module.
- A function comes to `replay.compile`: a training step (one that calls backward(),
  zero_grad() or an optimizer's step()) returns what it returns, as torch.compile's does, with
  the forward, sweep and update replayed in Numba; one that a trace cannot hold (dropout,
  BatchNorm in training mode, integer class labels as an argument...) runs eagerly after a
  warning, as torch's graph break, or raises with `fullgraph=True`; any other function gets
  value_and_grad semantics, `f(*args) -> (value, grads)` (issue #3's API, which torch.compile
  has not).
- `disable=True` returns the model itself; torch's arguments are checked as torch checks
  them (compile_options.py).

It is also `torch.compiler`: is_compiling (True while tapegrad.compile or record runs the
function's Python to trace it: what the function sees then is what every replay does),
is_dynamo_compiling and is_exporting (False: tapegrad has neither), disable, reset,
list_backends, allow_in_graph.  Not here: assume_constant_result and set_stance (their
effect is on Dynamo's guards and recompiles, which a replay's guards do not share)."""
import functools
import weakref

from . import compile_options, replay
from .nn.modules.module import Module
from .nn.modules.optimized import OptimizedModule
from .tape import STATE

__all__ = ["compile", "is_compiling", "is_dynamo_compiling", "is_exporting", "disable", "reset",
           "list_backends", "allow_in_graph"]

_COMPILED = weakref.WeakSet()        # compile's functions, for reset()
# torch 2.13's tags of its backends (list_backends leaves out these tags by default)
_BACKEND_TAGS = dict.fromkeys(
    ("eager", "eager_noexcept", "pre_dispatch_eager", "eager_debug", "ts", "invoke_subgraph",
     "aot_eager", "aot_eager_default_partitioner", "aot_eager_decomp_partition",
     "aot_eager_decomp_partition_with_mode", "aot_eager_decomp_partition_crossref", "aot_ts"),
    ("debug",))
_BACKEND_TAGS["openxla_eval"] = ("experimental",)


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
    compiled = replay.compile(model, strict=strict, cache_size=cache_size,
                              fullgraph=bool(fullgraph))
    _COMPILED.add(compiled)
    return compiled


def is_compiling():
    """torch.compiler.is_compiling: True while tapegrad.compile (or record) traces a function
    (its Python runs then only), False in eager code.  A compiled module's forward runs
    eagerly here, so False in it (torch: True)."""
    return STATE.tape.recording


def is_dynamo_compiling():
    """torch.compiler.is_dynamo_compiling: False (as torch 2.13's)."""
    return False


def is_exporting():
    """torch.compiler.is_exporting: False (tapegrad has no torch.export)."""
    return False


def disable(fn=None, recursive=True, *, reason=None):
    """torch.compiler.disable: `fn` wrapped to run as it is (or, with no fn, a decorator
    doing so).  A tapegrad.compile trace records the ops fn runs like any others: a replay
    runs no Python, so there is no "run fn eagerly" to fall back to (torch: a graph break)."""
    def wrap(fn):
        if not callable(fn):
            raise AssertionError("fn must be callable")

        @functools.wraps(fn)
        def disabled(*args, **kwargs):
            return fn(*args, **kwargs)
        return disabled
    return wrap if fn is None else wrap(fn)


def reset():
    """torch.compiler.reset: every function tapegrad.compile returned records again at its
    next call (their tapes are dropped)."""
    for compiled in list(_COMPILED):
        compiled.tapes.clear()


def list_backends(exclude_tags=("debug", "experimental")):
    """torch.compiler.list_backends: the backend names torch.compile accepts, sorted, less
    those with one of `exclude_tags`."""
    exclude = set(exclude_tags or ())
    return sorted(b for b in compile_options.BACKENDS
                  if not exclude.intersection(_BACKEND_TAGS.get(b, ())))


def allow_in_graph(fn):
    """torch.compiler.allow_in_graph: `fn` itself (a list or tuple: a list of them).  A
    tapegrad trace records what fn runs, with no graph breaks to avoid."""
    if isinstance(fn, (list, tuple)):
        return [allow_in_graph(x) for x in fn]
    if not callable(fn):
        raise AssertionError("allow_in_graph expects a callable")
    return fn
