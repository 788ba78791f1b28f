"""torch.utils.checkpoint: `checkpoint` and `checkpoint_sequential`, with torch's signatures,
warnings and errors.

* `use_reentrant=True` (what torch takes when the argument is left out, with its warning):
  `CheckpointFunction`, a custom autograd.Function (`CheckpointFunctionBackward`).  Its
  forward runs the function under no_grad, so nothing of it is recorded and its activations
  are not kept; its backward runs the function again with grad enabled on detached inputs,
  with the random state of the forward (`preserve_rng_state`), and backpropagates through
  that, as torch's.  As there, it cannot serve autograd.grad or backward(inputs=...).
* `use_reentrant=False`: torch records the function's ops as usual and recomputes their saved
  tensors through saved-tensor hooks.  tapegrad saves values in the tape, not as tensors, and
  has no such hooks (autograd.graph.saved_tensors_hooks): the function runs as is, recorded as
  usual, so results, gradients and grad_fn are torch's, and its activations are kept (no
  memory is saved).  It runs again (grad mode on) in each backward that reaches its outputs,
  as torch's recomputation does, for its side effects (a BatchNorm's running statistics), its
  results dropped (`_rerun_in_backward`).
"""
import contextlib
import warnings

from ..autograd.api import _is_checkpoint_valid, backward
from ..autograd.function import Function
from ..autograd.graph import register_multi_grad_hook
from ..devices import check
from ..grad_mode import switched_grad
from ..nn import Sequential
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointFunction",
           "check_backward_validity", "detach_variable", "noop_context_fn",
           "set_checkpoint_early_stop", "set_checkpoint_debug_enabled", "CheckpointError",
           "get_device_states", "set_device_states"]

_NO_REENTRANT_ARG = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting "
    "in PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
    "use_reentrant=False is recommended, but if you need to preserve the current default "
    "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
    "differences between the two variants.")
_NO_REENTRANT_ARG_SEQUENTIAL = (
    "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
    "explicitly. In version 2.9 we will raise an exception if use_reentrant is not passed. "
    "use_reentrant=False is recommended, but if you need to preserve the current default "
    "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
    "differences between the two variants.")


class CheckpointError(RuntimeError):
    """torch's error of a non-reentrant checkpoint whose recomputation differs."""


# torch's process-wide settings, set by the contexts below: kept and reported only, as the
# non-reentrant checkpoint here does not recompute (the module's note)
_enable_checkpoint_early_stop = None
_checkpoint_debug_enabled = None


@contextlib.contextmanager
def set_checkpoint_early_stop(enable):
    """Whether a non-reentrant checkpoint stops its recomputation early (torch's switch; no
    recomputation here, so nothing changes)."""
    global _enable_checkpoint_early_stop
    prev = _enable_checkpoint_early_stop
    _enable_checkpoint_early_stop = enable
    try:
        yield
    finally:
        _enable_checkpoint_early_stop = prev


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled):
    """Overrides checkpoint's `debug` flag while active (None: defer to it)."""
    global _checkpoint_debug_enabled
    prev = _checkpoint_debug_enabled
    _checkpoint_debug_enabled = enabled
    try:
        yield
    finally:
        _checkpoint_debug_enabled = prev


def noop_context_fn():
    """The default `context_fn`: two null contexts (forward, recomputation)."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def detach_variable(inputs):
    """Each tensor of the tuple `inputs` detached, keeping its requires_grad."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    out = []
    for inp in inputs:
        if not isinstance(inp, Tensor):
            out.append(inp)
            continue
        x = inp.detach()
        x.requires_grad = inp.requires_grad
        out.append(x)
    return tuple(out)


def get_device_states(*args):
    """(device ids, their random states) of the accelerator tensors among args (nested), as
    torch's: every tapegrad tensor is a CPU tensor, whose generator is not per device, so
    both lists are empty (reversible layers save and restore them around a recomputation)."""
    return [], []


def set_device_states(devices, states, *, device_type=None):
    """Restore what get_device_states saved: nothing for CPU tensors (its lists are empty);
    a device named otherwise fails as torch's CPU build does."""
    if device_type == "meta":
        return
    device_type = device_type or "cpu"
    for device, _ in zip(devices, states):
        if device_type == "cpu":   # (torch: torch.cpu has no per-device context)
            raise AttributeError("module 'tapegrad.cpu' has no attribute 'device'")
        if device_type == "cuda":  # (torch.cuda.device's switch in a CPU build)
            raise RuntimeError("PyTorch was compiled without CUDA support")
        check(f"{device_type}:{device}")


def check_backward_validity(inputs):
    if not any(isinstance(inp, Tensor) and inp.requires_grad for inp in inputs):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=2)


class CheckpointFunction(Function):
    """The reentrant checkpoint: forward without a graph, backward by recomputation."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.preserve_rng_state = preserve_rng_state
        if preserve_rng_state:
            ctx.fwd_rng_state = get_rng_state()
        ctx.inputs, ctx.tensor_indices, tensors = [], [], []
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                tensors.append(arg)
                ctx.tensor_indices.append(i)
                ctx.inputs.append(None)
            else:
                ctx.inputs.append(arg)
        ctx.save_for_backward(*tensors)
        with switched_grad(False):
            return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        if not _is_checkpoint_valid():
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() "
                "or passing an `inputs` parameter to .backward(). To resolve this error, you can "
                "either set use_reentrant=False, or call .backward() without passing the "
                "`inputs` argument.")
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        detached = detach_variable(tuple(inputs))
        # (the forward's random state for the recomputation: dropout draws the same mask)
        now = get_rng_state() if ctx.preserve_rng_state else None
        try:
            if now is not None:
                set_rng_state(ctx.fwd_rng_state)
            with switched_grad(True):
                outputs = ctx.run_function(*detached)
        finally:
            if now is not None:
                set_rng_state(now)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        with_grad = [(out, g) for out, g in zip(outputs, grads)
                     if isinstance(out, Tensor) and out.requires_grad]
        if not with_grad:
            raise RuntimeError(
                "none of output has requires_grad=True, this checkpoint() is not necessary")
        backward([out for out, _ in with_grad], [g for _, g in with_grad])
        return (None, None) + tuple(inp.grad if isinstance(inp, Tensor) else None
                                    for inp in detached)


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """function(*args, **kwargs), its activations recomputed in the backward
    (use_reentrant=True; see the module's note for use_reentrant=False)."""
    if use_reentrant is None:
        warnings.warn(_NO_REENTRANT_ARG, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    forward_context, recompute_context = context_fn()
    state = get_rng_state() if preserve else None
    with forward_context:
        out = function(*args, **kwargs)
    _rerun_in_backward(out, function, args, kwargs, recompute_context, state)
    return out


def _rerun_in_backward(out, function, args, kwargs, context, rng_state):
    """torch's non-reentrant checkpoint runs `function` again in each backward that reaches
    its outputs (to recompute what it saved): its side effects (a BatchNorm's running
    statistics, counters) happen again, its draws from the forward's random state
    (`rng_state`; without it, from the generator as it is).  tapegrad kept the forward's
    values, so the run's results are dropped.  It runs with grad mode on, as torch's
    recomputation (ops inside see is_grad_enabled(), an autograd.grad inside works), on
    detached inputs: what it records is a graph of its own, dropped with its results."""
    tensors = [t for t in _tensors_in(out) if t.requires_grad]
    if not tensors:
        return

    def rerun(_):
        now = get_rng_state() if rng_state is not None else None
        try:
            if rng_state is not None:
                set_rng_state(rng_state)
            with switched_grad(True), context:
                function(*detach_variable(tuple(args)), **kwargs)
        finally:
            if now is not None:
                set_rng_state(now)
    register_multi_grad_hook(tensors, rerun, mode="any")


def _tensors_in(out):
    """The tensors of a function's result (nested in tuples, lists and dicts)."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _tensors_in(item)]
    return []


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """The modules or functions `functions` run in order on `input`, in `segments` chunks, each
    but the last checkpointed (torch's split)."""
    if use_reentrant is None:
        warnings.warn(_NO_REENTRANT_ARG_SEQUENTIAL, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if isinstance(functions, Sequential):
        functions = list(functions.children())

    def run_function(start, end, functions):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input,
                           use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
