"""Custom autograd Functions (`tapegrad.autograd.Function`, torch's `torch.autograd.Function`).

`MyFn.apply(*args)` runs `MyFn.forward` with grad mode off and, when an input requires grad,
records ONE entry of kind `pyfunc` (a host entry: the sweep pauses there and Python runs
`MyFn.backward`), then one `output` entry per differentiable tensor output, as split does:

* the pyfunc entry e: `ia = ib = -1`, its operand list (`arg`) the nodes of the tensor
  arguments that require grad, in argument order; `imm` = number of outputs.  Its node holds
  the differentiable outputs packed one after the other (only its adjoint is ever used: the
  outputs' values live in the output tensors).  The operands are not in ia/ib because the
  kernel marks ia/ib reached when it pauses; an input whose gradient `backward` returns as
  None must stay unreached (its `.grad` stays None, `autograd.grad` reports it unused).
* one `output` entry per differentiable output: a strided view of its block of e's node,
  `imm` = its output_nr (its position among all outputs, as torch counts).

The ctx object is the grad_fn (`MyFnBackward`, a `BackwardCFunction`, as in torch); the tape
holds its class and its state (the ctx's `__dict__`) as `tape.fn_data[e]` and the object
itself weakly (`graph.record_fn`: the ctx refers to the tape, so the tape must not refer to
it), and `graph.node_for` makes it again, with the same state, when it has gone.  `_TAPES`
lists each tape's pyfunc entries so a backward without retain_graph releases their saved
tensors (torch's "backward through the graph a second time" error when `ctx.saved_tensors` is
read again), with one dict check per swept tape when no Function was recorded.  Engine hooks:
`host_vjp` (the eager sweep), `tensor_vjp` (create_graph), `release` (the commit of a
backward without retain_graph).  They tell a backward which of its inputs' gradients the
running backward needs (`should_compute_output`: with autograd.grad's or backward's inputs,
those that lead to them), so the Functions that stand for torch's native nodes compute, and
raise their "not implemented" errors for, only those, as torch's engine does.
"""
import functools
import inspect
import math
import re
import warnings
import weakref

import numpy as np

from . import errors
from .grad_mode import call_with_grad, switched_grad, TRANSFORMS
from .hooks import run_node_posthooks, run_node_prehooks
from .anomaly import MODE as ANOMALY, nan_error
from .copyslices import rebase_on_view, view_flat_positions
from .graph import Node, _input_fn, node_for, output_nr, record_fn
from .ops import OPS, OUTPUT_CODE
from .recording import _record_start
from .tape import (STATE, bump_version, follow_retained, input_node, share_version,
                   version_counter, version_message, view_base)
from .tensor import _new, one_value, Tensor
from .views import _made_without_grad, CUSTOM, MULTI

PYFUNC_CODE = OPS["pyfunc"].code

# tape -> its pyfunc entries, in recording order (weak: the tape's lifetime is its tensors')
_TAPES = weakref.WeakKeyDictionary()
# its underlying dict (never replaced): empty when no Function is alive, so the engine tests
# it without a Python call (the mapping's __len__ is one)
LIVE = _TAPES.data


class FunctionCtx:
    """What `forward`/`setup_context` receive as `ctx` (torch.autograd.function.FunctionCtx)."""

    def save_for_backward(self, *tensors):
        """Save tensors (or None) for `backward`, read back as `ctx.saved_tensors`."""
        self.to_save = tensors

    def save_for_forward(self, *tensors):
        """Save tensors (or None) for `jvp`, as torch's `ctx.saved_for_forward`.  tapegrad has
        no forward-mode AD (its forward_ad raises), so nothing reads them: a Function written
        for both modes runs its reverse mode here as in torch."""
        for t in tensors:
            if not (isinstance(t, Tensor) or t is None):
                raise AssertionError("save_for_forward expects all arguments to be tensors; "
                                     "you should save non-tensors as attributes on ctx.")
        self.saved_for_forward = tensors

    def mark_dirty(self, *args):
        """Mark input tensors that `forward` changed in place (they are returned as outputs)."""
        self.dirty_tensors = args

    def mark_non_differentiable(self, *args):
        """Mark outputs that do not require grad (their gradient in backward is zeros)."""
        self.non_differentiable = args

    def mark_shared_storage(self, *pairs):
        """Deprecated, as torch's: shared storage is tracked without it (it only warns)."""
        warnings.warn("`mark_shared_storage` is deprecated. Tensors with shared storages are "
                      "automatically tracked. Note that calls to `set_()` are not tracked",
                      FutureWarning, stacklevel=2)

    def set_materialize_grads(self, value):
        """With False, `backward` gets None (not zeros) for outputs without a gradient."""
        if type(value) is not bool:   # (torch's parser: its text names no argument type)
            raise TypeError("set_materialize_grads received an invalid combination of arguments "
                            "- got (), but expected (bool)")
        self.materialize_grads = value


class BackwardCFunction(Node, FunctionCtx):
    """The grad_fn of a custom Function's outputs, and the ctx its forward/backward see
    (torch: `MyFnBackward`, subclass of BackwardCFunction and FunctionCtx)."""
    __module__ = "tapegrad.autograd.function"
    _forward_cls = None

    _native = False     # (as_native_node)

    def __repr__(self):
        # (a Python class: object's repr, which torch shows, names its module; a C++ node's
        # does not)
        cls = type(self)
        if cls._native:
            return f"<{cls.__name__} object at {hex(id(self))}>"
        return f"<{cls.__module__}.{cls.__qualname__} object at {hex(id(self))}>"

    def apply(self, *grads):
        """Run the Function's backward on `grads` (torch's `grad_fn.apply`)."""
        return _user_backward(self._forward_cls)(self, *grads)

    @property
    def saved_tensors(self):
        saved = self.__dict__.get("_pf_saved", ())
        if saved is None:
            raise RuntimeError(errors.BACKWARD_TWICE)
        if not saved:   # (none yet: inside forward, as torch's empty tuple)
            return ()
        tape = self._tape
        # (a tensor kept as it is: no call to unpack it)
        tensors = tuple([item[0] if item[3] is None else _unpack(item, tape) for item in saved])
        for t, (ref, version, name, slots) in zip(tensors, saved):
            if t is not None and version_counter(t)[0] != version:
                # torch names a saved output's maker as it was, an input's grad_fn as it is
                # now (after the in-place op: CopySlices, Add, ...)
                if slots is None or slots[_NODE] not in {spec[4] for spec in self._pf_outputs}:
                    # (an alias made again from its slots: views.apart's of self given as an
                    # argument too, x.nextafter_(x), dead with the body; torch saved self)
                    src = tape.alias_source(slots[_NODE]) if slots is not None and \
                        ref() is None else None
                    name = _fn_name(t if src is None else src)
                raise RuntimeError(_version_message(t, version, name))
        return tensors

    saved_variables = saved_tensors

    @property
    def next_functions(self):
        # one edge per tensor argument, (None, 0) where it does not require grad (torch's;
        # a native node's: per floating argument, see _torch_positions)
        tape, e = self._tape, self._node
        nodes = iter(tape.args_of(e).tolist())
        edges = _torch_positions(self)
        out = []
        for pos in self._pf_tensor_pos:
            if self.needs_input_grad[pos]:
                node = next(nodes)
                out.append((_input_fn(tape, node), output_nr(tape, node)))
            elif pos in edges:
                out.append((None, 0))
        return tuple(out)

    def _restore(self, data):
        self.__dict__ = data   # the state the tape keeps (the ctx forward saw, made again)


def _torch_positions(ctx):
    """The argument positions torch's node has an edge for: every tensor argument of a
    custom Function; of a Function that stands for a native node (as_native_node), the
    floating ones only (torch's derivatives.yaml gives integer arguments, lu_solve's and
    lu_unpack's pivots, no edge)."""
    return ctx.__dict__.get("_pf_float_pos", ctx._pf_tensor_pos)


def _torch_outputs(ctx):
    """The output positions torch's node takes gradients for: every output of a custom
    Function; of a native node's Function, the differentiable ones only (torch's
    output_differentiability: lu_factor's LU, not its pivots and info; lu's L and U, not P;
    lstsq's solution and residuals)."""
    if type(ctx)._native:
        return [spec[0] for spec in ctx._pf_outputs]
    return range(ctx._pf_nout)


def _version_message(t, version, name):
    """torch's error for a saved tensor changed in place since it was saved (`name`: its
    grad_fn to name, as torch spells it: MulBackward0 -> Mul)."""
    made = ""
    if name is not None:
        made = f", which is output {t.output_nr} of " + re.sub(
            r"Backward(\d*)$", lambda m: "" if m.group(1) in ("", "0") else m.group(1),
            name) + ","
    return version_message(t._dtype, t._shape, made, version_counter(t)[0], version)


def _saved(tensors, tape=None):
    """(tensor, its version, its grad_fn's name, None) per saved tensor: the versions as they
    are when apply returns, as torch records them (the name, not the node: the ctx's state is
    kept by the tape, and a node would refer to it).  A tensor of `tape` itself (a non-leaf
    input, an output) is kept as (weakref to it, version, name, its slots but the tape): the
    state must not refer to the tape, so that a graph dropped without backward dies by
    reference counting."""
    return [(None, 0, None, None) if t is None else
            (weakref.ref(t), _version(t), _fn_name(t), _slots(t))
            if tape is not None and t._tape is tape else
            (t, _version(t), _fn_name(t), None) for t in tensors]


def _version(t):
    """version_counter(t)[0], the counter made without the exception version_counter's
    first call raises (an output's counter is made here, when saved)."""
    c = getattr(t, "_ver", None)
    if c is None:
        c = t._ver = [0]
    return c[0] if type(c) is list else c[0][0]


# what a saved tensor is made again from: not its tape, hooks (a leaf's) or .grad, and for a
# view the counter without the base (which may be on the tape too): as detach() keeps it
_SLOTS = tuple(n for n in Tensor.__slots__
               if n not in ("__weakref__", "_tape", "_hooks", "_grad"))
_VER = _SLOTS.index("_ver")
_NODE = _SLOTS.index("_node")
_UNSET = object()


def _slots(t):
    slots = [getattr(t, name, _UNSET) for name in _SLOTS]
    if type(slots[_VER]) is tuple:
        slots[_VER] = (version_counter(t),)
    return tuple(slots)


def _unpack(item, tape):
    """The tensor a _saved item stands for: a tensor of the ctx's tape that its caller
    dropped is made again from its slots (as torch unpacks a saved output)."""
    t, _, _, slots = item
    if slots is None:
        return t
    t = t()
    if t is None:
        t = _new()
        for name, v in zip(_SLOTS, slots):
            if v is not _UNSET:
                setattr(t, name, v)
        t._tape = tape
    return t


def _fn_name(t):
    fn = t.grad_fn
    return fn.name() if fn is not None else None


class FunctionMeta(type):
    """Makes each Function subclass's grad_fn class, `<Name>Backward` (torch's FunctionMeta)."""
    __module__ = "tapegrad.autograd.function"

    def __init__(cls, name, bases, attrs):
        cls._backward_cls = type(name + "Backward", (BackwardCFunction,),
                                 {"_forward_cls": cls, "__module__": BackwardCFunction.__module__})
        super().__init__(name, bases, attrs)


class Function(FunctionCtx, metaclass=FunctionMeta):
    """Base class of custom autograd operations: define static `forward(ctx, *args)` and
    `backward(ctx, *grads)` (or `forward(*args)` plus `setup_context(ctx, inputs, output)`)
    and call `MyFn.apply(*args)`, as torch.autograd.Function."""
    __module__ = "tapegrad.autograd.function"

    def __init__(self, *args, **kwargs):
        warnings.warn(f"{self.__class__} should not be instantiated. Methods on autograd "
                      f"functions are all static, so you should invoke them on the class itself. "
                      f"Instantiating an autograd function will raise an error in a future "
                      f"version of PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method. (Example: "
                           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        # (torch's words; tapegrad has no forward-mode AD to call an implemented one)
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    # torch.vmap's rule for the Function: generated (vmap of forward), or its own `vmap`
    # staticmethod.  tapegrad's vmap runs forward once per sample either way (its own `vmap`
    # is not called); a Function with neither is refused under a vmap, as torch refuses it.
    generate_vmap_rule = False

    @staticmethod
    def vmap(info, in_dims, *args):
        raise NotImplementedError("To use autograd.Function with vmap, you must either "
                                  "override the vmap staticmethod or set "
                                  "generate_vmap_rule=True.")

    @classmethod
    def apply(cls, *args, **kwargs):
        # bound by forward's signature, as torch does: always with setup_context (forward
        # then gets, and setup_context's `inputs` holds, every default: LinearFunction.apply(
        # x, w) of the Extending notes has inputs (x, w, None)), else for keywords only
        setup = _has_setup_context(cls)
        if TRANSFORMS.depth and not cls.__module__.startswith("tapegrad."):
            _check_transforms(cls, setup)     # (tapegrad's own Functions: torch's ops)
        if setup or kwargs:
            spec = _SIGNATURES.get(cls)
            if spec is None:
                spec = _SIGNATURES[cls] = _forward_spec(cls)
            sig, arity, names, defaults = spec
            # (every parameter given by position: bind's args are the call's, and binding
            # costs ~2.5 us)
            if setup and (kwargs or len(args) != arity):
                bound = sig.bind(*args, **kwargs)
                bound.apply_defaults()
                args, kwargs = bound.args, bound.kwargs
            if kwargs:
                args = _keywords_by_position(args, kwargs, names[0 if setup else 1:],
                                             defaults[0 if setup else 1:])
        return _apply(cls, args)


# per Function class, forward's signature (inspect.signature costs ~10 us a call) and its
# number of parameters when all are positional (else -1); weak, so a class defined in a
# loop or a test goes
_SIGNATURES = weakref.WeakKeyDictionary()
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _forward_spec(cls):
    """forward's signature, its arity when every parameter is positional (else -1), and its
    positional parameters' names and defaults (`inspect.Parameter.empty` for none)."""
    sig = inspect.signature(cls.forward)
    params = sig.parameters.values()
    positional = [p for p in params if p.kind in _POSITIONAL]
    return (sig, len(params) if len(positional) == len(params) else -1,
            tuple(p.name for p in positional), tuple(p.default for p in positional))


def _keywords_by_position(args, kwargs, names, defaults):
    """The arguments forward gets, as torch's C++ `apply` passes keywords: each by its name's
    place among forward's positional parameters `names` (after ctx), a gap before the last
    one filled with its default; forward is then called by position only, so a keyword-only
    or **kwargs parameter is refused (with setup_context, even one bound by default)."""
    placed = {}
    for name, value in kwargs.items():
        if name not in names:
            raise TypeError(f"forward() got an unexpected keyword argument '{name}'")
        i = names.index(name)
        if i < len(args):
            raise TypeError(f"forward() got multiple values for argument '{name}'")
        placed[i] = value
    args = list(args)
    for i in range(len(args), max(placed) + 1):
        if i in placed:
            args.append(placed[i])
        elif defaults[i] is not inspect.Parameter.empty:
            args.append(defaults[i])
        else:
            raise TypeError(f"forward() missing required argument: '{names[i]}' "
                            f"(position {i})")
    return tuple(args)


def _has_setup_context(cls):
    return cls.setup_context is not Function.setup_context


_FUNC_NOTES = "For more details, please see https://pytorch.org/docs/main/notes/extending.func.html"


def _check_transforms(cls, setup):
    """torch's errors for user Function `cls` applied under torch.func transforms: without
    setup_context; under a vmap without a vmap rule (or with both kinds); under jacfwd
    (forward mode in torch) without a jvp."""
    if not setup:
        raise RuntimeError("In order to use an autograd.Function with functorch transforms "
                           "(vmap, grad, jvp, jacrev, ...), it must override the setup_context "
                           "staticmethod. " + _FUNC_NOTES)
    if TRANSFORMS.vmaps:
        own_rule = cls.vmap is not Function.vmap
        if cls.generate_vmap_rule and own_rule:
            raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it has both "
                               f"generate_vmap_rule=True and an overridden vmap staticmethod. "
                               f"Please set generate_vmap_rule=False or delete the overridden "
                               f"vmap staticmethod to avoid ambiguity. " + _FUNC_NOTES)
        if not (cls.generate_vmap_rule or own_rule):
            raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it does not have "
                               f"vmap support. Please override and implement the vmap "
                               f"staticmethod or set generate_vmap_rule=True. " + _FUNC_NOTES)
    if TRANSFORMS.forwards and cls.jvp is Function.jvp:
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")


class InplaceFunction(Function):
    """Kept by torch for old code only (use Function): a Function whose instances carry an
    `inplace` flag."""
    __module__ = "tapegrad.autograd.function"

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace


def _user_backward(cls):
    """The Function's backward: `backward` or its alias `vjp`, not both (torch's rule)."""
    backward, vjp = cls.backward, cls.vjp
    if backward is not Function.backward and vjp is not Function.vjp:
        raise RuntimeError("Implementing both 'backward' and 'vjp' for a custom Function is "
                           "not allowed. You should only implement one of them.")
    return vjp if vjp is not Function.vjp else backward


def once_differentiable(fn):
    """Decorator of `backward`: it runs with grad mode off, and differentiating its results
    again raises (torch.autograd.function.once_differentiable)."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = STATE.enabled
        outputs = call_with_grad(False, fn, ctx, *args)   # (no generator context: ~1 us)
        if not prev:
            return outputs
        if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            return outputs
        outs = outputs if isinstance(outputs, tuple) else (outputs,)
        fake = []
        for v in outs:
            if v is not None:
                v = v.detach()
                v.requires_grad = True
            fake.append(v)
        return DelayedError.apply(_ONCE, *fake)
    return wrapper


def as_native_node(fn, name, cpp_name=None, raises=False):
    """Show Function `fn`'s grad_fn as torch's C++ node `name` (IgammaBackward0,
    NotImplemented, ...), for the Functions that stand for one: its class's name and
    qualified name, `<name object at ...>` as its repr, and `name()` `cpp_name` (default:
    name; torch's hand-written nodes say `torch::autograd::NotImplemented`).  raises: the
    node of an op torch has no derivative for (its backward raises)."""
    fn._no_derivative = raises
    cls = fn._backward_cls
    cls.__name__ = cls.__qualname__ = name
    cls._native = True
    full = cpp_name or name
    cls.name = lambda self: full


def _untraceable(cls):
    """tapegrad.record's TracingError message for Function `cls` on a traced input."""
    node = cls._backward_cls.__name__
    if getattr(cls, "_no_derivative", False):
        return (f"tapegrad.record cannot trace an op torch has no derivative for on a tensor "
                f"that requires grad (torch's {node} node, whose backward raises); compute it "
                f"outside the recorded function and pass it in")
    if getattr(cls._backward_cls, "_native", False):
        return (f"tapegrad.record cannot trace torch's {node}: tapegrad computes its gradient "
                f"in Python, which a recorded tape cannot replay; call it eagerly")
    return (f"tapegrad.record cannot trace the custom autograd.Function {cls.__name__}: its "
            f"backward is Python code, which a recorded tape cannot replay; call it eagerly")


_ONCE = "trying to differentiate twice a function that was marked with @once_differentiable"


class DelayedError(Function):
    """once_differentiable's node: its outputs are its inputs; differentiating them raises."""

    @staticmethod
    def forward(ctx, msg, *xs):
        ctx.msg = msg
        return xs if len(xs) != 1 else xs[0]

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(ctx.msg)


as_native_node(DelayedError, "Error", "torch::autograd::Error")


# ---- apply: forward with grad mode off, then one pyfunc entry and its output entries ----------

def _check_saved_inputs(ctx, outs, inputs, dirty, to_save, executable):
    """torch's error for a Function with setup_context that returns an input as it is (not
    marked dirty) and saves it: that output becomes a view of the input made after
    setup_context ran, so the saved tensor could be neither (torch's _wrap_outputs passes
    over only a non-differentiable output that requires grad, which it detaches)."""
    saved = {id(t) for t in to_save}
    nodiff = {id(t) for t in ctx.__dict__.get("non_differentiable", ())}
    for o in outs:
        if not (isinstance(o, Tensor) and id(o) in inputs and id(o) in saved) or \
                id(o) in dirty:
            continue
        differentiable = executable and id(o) not in nodiff and o._dtype.is_floating_point
        if differentiable or not o.requires_grad:
            raise RuntimeError("An input that has been returned as-is as output is being "
                               "saved for backward. This is not supported if you override "
                               "setup_context. You should return and save a view of the "
                               "input instead, e.g. with x.view_as(x) or setup ctx inside the "
                               "forward function itself.")


def _apply(cls, args):
    tpos, targs, needs = [], [], []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            tpos.append(i)
            targs.append(a)
            needs.append(a.requires_grad)
        else:
            needs.append(False)
    needs = tuple(needs)
    ctx = cls._backward_cls()
    ctx.needs_input_grad = needs
    ctx.materialize_grads = True
    prev = STATE.enabled
    setup = _has_setup_context(cls)
    if setup:
        out = call_with_grad(False, _forward_setup, cls, ctx, args)
    else:
        out = call_with_grad(False, cls.forward, ctx, *args)
    single = not isinstance(out, tuple)
    outs = [out] if single else list(out)
    state = ctx.__dict__
    to_save = state.pop("to_save", None) or ()
    for i, t in enumerate(to_save):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"save_for_backward can only save variables, but argument {i} is "
                            f"of type {type(t).__name__}")
    inputs = {id(a) for a in targs}
    # (no set built for the marks a forward did not make: the common case)
    dirty = state.get("dirty_tensors")
    dirty = {id(t) for t in dirty} if dirty else _NONE
    # (every marked tensor, an input or not, must be returned; checked with grad mode off too)
    if dirty and dirty - {id(o) for o in outs}:
        raise RuntimeError("Some elements marked as dirty during the forward method were not "
                           "returned as output. The inputs that are modified inplace must all "
                           "be outputs of the Function.")
    executable = prev and any(needs)
    if to_save and setup:
        _check_saved_inputs(ctx, outs, inputs, dirty, to_save, executable)
    if not executable:
        # an input returned as it is comes back as another tensor (torch's); with grad mode
        # on, it and the views of inputs are torch's views made in a custom Function
        mode = CUSTOM if sum(isinstance(o, Tensor) for o in outs) == 1 else MULTI
        for k, o in enumerate(outs):
            if not isinstance(o, Tensor):
                continue
            if id(o) in dirty:
                bump_version(o)   # (apply counts the change again, as torch's)
                continue
            if id(o) in inputs:
                o = outs[k] = _alias(o)
            elif not (prev and _views_an_input(o, args)):
                continue
            if prev:
                _made_without_grad(o, mode, None, k)
        ctx._pf_saved = _saved(to_save)
        return outs[0] if single else tuple(outs)
    if dirty:
        if dirty - inputs:
            warnings.warn("ctx.mark_dirty() received a tensor that was not an input. Only "
                          "input Tensors that have been mutated should be passed to "
                          "ctx.mark_dirty().", UserWarning, stacklevel=3)
        for a in targs:
            if id(a) in dirty:
                if a._recorded and a._tape is None:
                    raise RuntimeError("a leaf Variable that requires grad has been used in "
                                       "an in-place operation.")
                base = view_base(a)
                if base is not None and base._recorded and base._tape is None:
                    raise RuntimeError("a view of a leaf Variable that requires grad is being "
                                       "used in an in-place operation.")
    nodiff = state.get("non_differentiable")
    nodiff = {id(t) for t in nodiff} if nodiff else _NONE
    tape = _record_start(*targs)
    if tape.recording:
        raise errors.TracingError(_untraceable(cls))
    operands = [input_node(tape, args[i]) for i in tpos if needs[i]]
    # the differentiable outputs: (position, tensor); an input returned as it is becomes a
    # view of it (torch), unless marked dirty (then the input itself moves to the new entry)
    diff, others = [], []
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            continue
        if id(o) in nodiff or not o._dtype.is_floating_point:
            others.append((k, o._shape, o._dtype))
            if id(o) in dirty:
                bump_version(o)
            if id(o) in inputs and (o.requires_grad or id(o) not in dirty):
                # (torch: a detached alias of an input that requires grad, no view; a view of
                # one that does not, unless marked dirty: then the input itself)
                outs[k] = o.detach() if o.requires_grad else _alias(o)
            continue
        if id(o) not in dirty and (id(o) in inputs or o._tape is not None or o._recorded):
            o = outs[k] = _alias(o)
        diff.append((k, o))
    if not diff:   # (an input returned as it is is its alias all the same)
        ctx._pf_saved = _saved(to_save)
        return outs[0] if single else tuple(outs)
    if len(outs) > 1 and dirty and any(id(o) in dirty and view_base(o) is not None
                                       for _, o in diff):
        raise RuntimeError(_DIRTY_VIEW_OF_MANY)
    sizes = [o.numel() for _, o in diff]
    total = sum(sizes)
    first = one_value(diff[0][1]) if total == 1 else 0.0
    e = tape.push(PYFUNC_CODE, -1, -1, float(len(outs)), first, None if total == 1 else (total,))
    if len(operands) == 1:   # (one operand: stored as an item, no array made)
        tape.nd_streams().add_arg(e, operands[0])
    else:
        tape.add_args(e, operands)
    tape.set_host(e)
    # the input arrays an output may share memory with (read once all aliases are made)
    arrays = None
    specs, through_views = [], []
    start = 0
    for (k, o), size in zip(diff, sizes):
        shape = o._shape
        node = tape.push(OUTPUT_CODE, e, -1, float(k),
                         (first if total == 1 else one_value(o)) if size == 1 else 0.0,
                         shape if size != 1 else None)
        strides = [math.prod(shape[j + 1:]) for j in range(len(shape))] if size != 1 else []
        tape.add_params(node, [start] + strides)
        specs.append((k, start, shape, o._dtype, node))
        start += size
        if id(o) in dirty:
            if view_base(o) is not None:
                # a changed view: its base is rebased (torch's CopySlices), once the entry is
                # whole
                r = Tensor._share(o, o._v)
                r._tape, r._node, r._recorded = tape, node, True
                through_views.append((o, r))
                continue
            # the changed input moves to this entry (torch rebases it)
            bump_version(o)  # apply counts the change again, as torch's
            if o._tape is not None:
                o._tape.rebased[o._node] = o._tape.n
            o._lserial = 0
            old_tape, old_node = o._tape, getattr(o, "_node", -1)
            o._tape, o._node, o._recorded = tape, node, True
            follow_retained(o, old_tape, old_node)
            tape.watch(node, o)
            continue
        o._tape, o._node, o._recorded = tape, node, True
        v = o._v
        if type(v) is float:
            continue
        if arrays is None:
            arrays = [a._v for a in targs if type(a._v) is not float]
        for a in arrays:
            if np.may_share_memory(v, a):
                # torch's view made in a custom Function (an input returned as it is, or a
                # view of one): an in-place change of it with autograd raises (views.py)
                _made_without_grad(o, MULTI if len(diff) > 1 else CUSTOM, type(ctx).__name__, k)
                break
    # (what the ctx keeps alive, counted before the ctx's own entries go into its state:
    # flags, lists and the tape, which count nothing)
    held = _held_bytes(state, to_save)
    ctx._tape, ctx._node = tape, e
    ctx._pf_nargs = len(args)
    ctx._pf_tensor_pos = tpos
    if type(ctx)._native:   # (torch's native node: no edge for an integer argument)
        ctx._pf_float_pos = [i for i, a in zip(tpos, targs) if a._dtype.is_floating_point]
    ctx._pf_inputs = [(i, a._shape, a._dtype) for i, a in zip(tpos, targs) if needs[i]]
    ctx._pf_outputs = specs
    ctx._pf_nout = len(outs)
    ctx._pf_other = others
    tape.grad_fns[e] = weakref.ref(ctx)   # (an output's grad_fn: the ctx, for _saved's names)
    # versions as they are after forward (torch saves them when apply returns)
    ctx._pf_saved = _saved(to_save, tape)
    for name in ("dirty_tensors", "non_differentiable"):   # cleared, as torch's apply does
        if name in state:
            state[name] = None
    record_fn(tape, e, type(ctx), state)
    tape.hold(held)
    _TAPES.setdefault(tape, []).append(e)
    for o, r in through_views:
        base = view_base(o)
        rebase_on_view(o, base, view_flat_positions(base, o), r,
                       lambda _: ctx.next_functions[1:])
    return outs[0] if single else tuple(outs)


def _forward_setup(cls, ctx, args):
    """The setup_context form's forward (grad mode off: _apply)."""
    out = cls.forward(*args)
    cls.setup_context(ctx, args, out)
    return out


_NONE = frozenset()


_DIRTY_VIEW_OF_MANY = (
    "If your Function modifies inplace an input that is a view of another Tensor, your "
    "Function cannot return more than one Tensor. This is not supported by the current "
    "autograd engine. You should either make sure the input is not a view (using .clone() for "
    "example) or make your Function only return one Tensor (potentially splitting it into two "
    "Functions: one doing the inplace that returns a single Tensor and a second one that does "
    "the other operations). You can ask on the forum https://discuss.pytorch.org/ if you need "
    "help to do this change.")


def _views_an_input(o, args):
    """Whether output o's memory is an input tensor's."""
    v = o._v
    return type(v) is not float and any(
        isinstance(a, Tensor) and type(a._v) is not float and np.may_share_memory(v, a._v)
        for a in args)


_PLAIN = frozenset((bool, int, float, str, tuple, list, type(None)))


def _held_bytes(attrs, saved):
    """Bytes of the data a ctx (its attributes `attrs`, its saved tensors) keeps alive that
    nothing else accounts for: arrays, and tensors that are neither on a tape nor leaves
    that require grad (parameters: the model holds them)."""
    total = 0
    for v in (*attrs.values(), *saved):
        if type(v) in _PLAIN:   # (ctx's own state: flags, counts, lists of specs)
            continue
        if isinstance(v, np.ndarray):
            total += v.nbytes
        elif isinstance(v, Tensor) and v._tape is None and not v._recorded and \
                type(v._v) is not float:
            total += v._v.nbytes
    return total


def _alias(t):
    """A view of t sharing its memory and version counter (what torch returns for an input
    that forward returned as it is)."""
    a = Tensor._share(t, t._materialize())
    share_version(a, t)
    return a


# ---- backward: the Function's gradients as the sweep (or create_graph) needs them -----------
def _output_grads(ctx, grads):
    """(the gradients handed to `backward`, one per output; the node's grad_outputs).  The
    grad_outputs: `grads` (the caller's list, one item per output: the gradient of each
    differentiable output reached by the gradient, None for the others) after the node's
    prehooks (hooks.function_hooks).  The gradients: those, with zeros (or None without
    materialize_grads) for the differentiable outputs not reached and the non-differentiable
    tensor outputs; None for non-tensor outputs."""
    state = ctx.__dict__
    tables = state.get("_pf_hooks")
    shown = _torch_outputs(ctx)
    if tables is not None and tables[0]:
        got = run_node_prehooks(tables[0], tuple(grads[k] for k in shown))
        grads = list(grads)
        for k, g in zip(shown, got):
            grads[k] = g
    given = tuple(grads[k] for k in shown)
    if state.get("materialize_grads", True):
        for k, start, shape, dt, node in ctx._pf_outputs:
            if grads[k] is None:
                grads[k] = _zeros(shape, dt)
        for k, shape, dt in ctx._pf_other:
            grads[k] = _zeros(shape, dt)
    return grads, given


def _posthooks(ctx, res, given):
    """The node's post hooks on backward's result `res` (one item per forward argument):
    torch's grad_inputs are the tensor arguments' items."""
    tables = ctx.__dict__.get("_pf_hooks")
    if tables is None or not tables[1]:
        return res
    pos = _torch_positions(ctx)
    got = run_node_posthooks(tables[1], tuple(res[i] for i in pos), given)
    res = list(res)
    for i, g in zip(pos, got):
        res[i] = g
    return tuple(res)


def _checked(ctx, res):
    """backward's result as one item per forward argument, checked as torch checks it."""
    if not isinstance(res, tuple):
        res = (res,)
    n = ctx._pf_nargs
    if len(res) != n:
        if len(res) > n and all(r is None for r in res[n:]):
            res = res[:n]
        else:
            raise RuntimeError(f"function {type(ctx).__name__} returned an incorrect number of "
                               f"gradients (expected {n}, got {len(res)})")
    tensor_pos = ctx._pf_tensor_pos
    every = len(tensor_pos) == n   # (every argument a tensor: no position to look up)
    for i, g in enumerate(res):
        if g is None:
            continue
        if not every and i not in tensor_pos:
            raise RuntimeError(f"function {type(ctx).__name__} returned a gradient different "
                               f"than None at position {i + 1}, but the corresponding forward "
                               f"input was not a Variable")
        if not isinstance(g, Tensor):
            raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
    return res


def _reduce_dims(ctx, i, shape, gshape):
    """The dims to sum a gradient of shape `gshape` over to get `shape` (torch's sum_to), or
    raise torch's error when `shape` cannot be expanded to it."""
    lead = len(gshape) - len(shape)
    ok = lead >= 0 and all(s == g or s == 1 for s, g in zip(shape, gshape[lead:]))
    if not ok:
        index = ctx._pf_tensor_pos.index(i)
        raise RuntimeError(f"Function {type(ctx).__name__} returned an invalid gradient at index "
                           f"{index} - got {list(gshape)} but expected shape compatible with "
                           f"{list(shape)}")
    return tuple(range(lead)) + tuple(lead + j for j, s in enumerate(shape)
                                      if s == 1 and gshape[lead + j] != 1)


def _zeros(shape, dt):
    return Tensor._wrap(np.zeros(shape, dt.np), dt)


def _run_backward(ctx, grads, needed):
    """The Function's backward on `grads`, its result checked as torch does.  `needed`: per
    forward argument, whether this backward needs its gradient (should_compute_output).  The
    caller has set grad mode for the node's hooks and backward (off, on under create_graph:
    what backward computes is recorded) once, as torch's engine does: a prehook that switches
    it leaves backward with the switched mode, as in torch."""
    ctx._pf_needed = needed
    try:
        return _checked(ctx, _user_backward(type(ctx)._forward_cls)(ctx, *grads))
    finally:
        del ctx._pf_needed   # (the ctx's state is kept on the tape: no stale answer in it)


def call_native(ctx, grads):
    """`grad_fn(*grad_outputs)` of a Function that stands for a native node (as_native_node:
    LinalgEighBackward0 & co), as torch's node runs: one gradient per differentiable output
    (torch's errors for another count or a non-tensor), the Function's backward on them
    (zeros for None; none at all when all are None) with no hook and grad mode as it is, and
    the gradients of its inputs with an edge (a tensor for one input, else a tuple)."""
    outs = ctx._pf_outputs
    if len(grads) != len(outs):
        raise TypeError(f"expected {len(outs)} arguments, got {len(grads)} instead")
    for i, g in enumerate(grads):
        if g is not None and not isinstance(g, Tensor):
            raise TypeError(f"argument {i} is not a Variable")
    edges = _torch_positions(ctx)
    res = [None] * ctx._pf_nargs
    if any(g is not None for g in grads):
        full = [None] * ctx._pf_nout
        for (k, _, shape, dt, _), g in zip(outs, grads):
            full[k] = g if g is not None else _zeros(shape, dt)
        for k, shape, dt in ctx._pf_other:
            full[k] = _zeros(shape, dt)
        res = _run_backward(ctx, full, ctx.needs_input_grad)
    got = tuple(res[i] for i in edges)
    return got[0] if len(got) == 1 else got


def _needed(ctx, operands, marks):
    """Per forward argument, whether the backward running now needs its gradient: an input
    that requires grad (`ctx.needs_input_grad`) and, for a backward with inputs
    (autograd.grad, backward(inputs=)), whose operand node (`operands`, in the entry's
    order) is or leads to one of them (`marks`: engine._marks of the tape)."""
    if marks is None:
        return ctx.needs_input_grad
    needed = [False] * len(ctx.needs_input_grad)
    for (i, _, _), node in zip(ctx._pf_inputs, operands):
        needed[i] = bool(marks[node])
    return tuple(needed)


def should_compute_output(ctx, i):
    """torch's task_should_compute_output, for the native nodes tapegrad writes as Functions
    (IgammaBackward0 & co): whether the backward running now needs the gradient of forward
    argument i, i.e. it requires grad and, when the backward has inputs (autograd.grad,
    backward(inputs=)), leads to one of them; torch's engine computes no other (and raises
    its "not implemented" errors only for those it computes).  Outside a backward: whether it
    requires grad.  (A custom Function's `ctx.needs_input_grad` stays torch's: requires_grad
    at the call.)"""
    return ctx.__dict__.get("_pf_needed", ctx.needs_input_grad)[i]


def host_vjp(tape, e, arg_ptr, arg, off, size, adj, reach, nodes, leads=None, marks=None):
    """The sweep paused at pyfunc entry e (a local index when `nodes` maps local entries to
    tape nodes): call the Function's backward (grad mode off) on its outputs' gradients, add
    what it returns into the inputs' adjoints and mark those inputs reached.  Raises (nothing
    committed: `adj` and `reach` are the call's own) on a bad result.  With `leads` (tape
    entries whose operands lead to autograd.grad's inputs) an entry that leads nowhere is
    skipped, as torch does not run such a node; `marks` (the tape nodes that are or lead to
    those inputs) tell the backward which gradients are needed (should_compute_output)."""
    te = e if nodes is None else int(nodes[e])
    if leads is not None and not leads[te]:
        return
    ctx = node_for(tape, te)
    o = int(off[e])
    packed = adj[o:o + int(size[e])]
    # the reached outputs' gradients, each a copy of its block (the arena is scratch reused
    # by later backwards)
    grads = [None] * ctx._pf_nout
    if nodes is None:
        nr = len(reach)
        for k, start, shape, dt, node in ctx._pf_outputs:
            # (an output past the swept prefix is not reached; bit 2 of reach: skipped,
            # engine._skip)
            if node < nr and reach[node] & 1:
                n = math.prod(shape)
                grads[k] = Tensor._wrap(packed[start:start + n].astype(dt.np).reshape(shape), dt)
    else:
        local = nodes[:len(reach)]
        for k, start, shape, dt, node in ctx._pf_outputs:
            i = int(np.searchsorted(local, node))
            if i < len(local) and local[i] == node and reach[i] & 1 != 0:
                n = math.prod(shape)
                grads[k] = Tensor._wrap(packed[start:start + n].astype(dt.np).reshape(shape), dt)
    # (the node's hooks too with grad mode off, as torch's engine runs them)
    res = call_with_grad(False, _host_backward, tape, te, ctx, grads, marks)
    # (anomaly mode's nan check of the sweep sees no VJP that runs in Python)
    if ANOMALY[0] and ANOMALY[1]:
        for i, g in enumerate(res):
            if g is not None and np.isnan(g._array()).any():
                raise nan_error(tape, te, i)
    adds = []
    a0 = int(arg_ptr[e])
    for j, (i, shape, dt) in enumerate(ctx._pf_inputs):
        g = res[i]
        if g is None:
            continue
        if type(g._v) is float and g._dtype is dt and not shape and not g._shape:
            # a number of the input's dtype (0-d): its value as _array would round it, added
            # to the float64 arena as that array's element would be, without making one
            adds.append((int(arg[a0 + j]), one_value(g)))
            continue
        arr = g._array()
        if tuple(arr.shape) != tuple(shape):
            dims = _reduce_dims(ctx, i, shape, arr.shape)
            arr = arr.sum(axis=dims, keepdims=True).reshape(shape) if dims else arr.reshape(shape)
        # torch casts a gradient to its input's dtype before accumulating it
        adds.append((int(arg[a0 + j]), np.asarray(arr, dt.np).reshape(-1)))
    for x, arr in adds:   # all checked: now write
        ox = int(off[x])
        if type(arr) is float:
            adj[ox] += arr
        else:
            adj[ox:ox + int(size[x])] += arr
        reach[x] |= 1


def run_unused(tape, te, got, create_graph=False):
    """Run the hooks and backward of pyfunc entry te on its outputs' gradients `got`
    ({output node: gradient tensor}; None for the others) and drop the result: the node of
    a backward(inputs=...) input that leads to no other input, which torch's engine executes
    all the same (engine._run_function_inputs).  Grad mode: `create_graph`, as the engine's."""
    ctx = node_for(tape, te)
    grads = [None] * ctx._pf_nout
    for k, _, shape, dt, node in ctx._pf_outputs:
        g = got.get(node)
        if g is not None:
            g = g if g._dtype is dt else g.to(dt)
            grads[k] = g if g._shape == tuple(shape) else g.reshape(shape)
    call_with_grad(create_graph, _host_backward, tape, te, ctx, grads, None)


def _host_backward(tape, te, ctx, grads, marks):
    """host_vjp's hooks and backward (grad mode off): backward's checked result."""
    grads, given = _output_grads(ctx, grads)
    res = _run_backward(ctx, grads, ctx.needs_input_grad if marks is None else
                        _needed(ctx, tape.args_of(te), marks))
    return _posthooks(ctx, res, given)


def tensor_vjp(tape, e, g, reach, marks=None):
    """create_graph: [(operand node, gradient tensor)] of pyfunc entry e given its packed
    gradient `g` (a recorded tensor): backward runs with grad mode on, so what it computes
    with tapegrad ops is recorded and can be differentiated again.  `marks`: as host_vjp's."""
    ctx = node_for(tape, e)
    flat = g.reshape(-1)
    operands = tape.args_of(e).tolist()
    with switched_grad(True):
        grads = [None] * ctx._pf_nout
        for k, start, shape, dt, node in ctx._pf_outputs:
            if node < len(reach) and reach[node] != 0:
                b = flat[start:start + math.prod(shape)].reshape(shape)
                grads[k] = b if b._dtype is dt else b.to(dt)
        grads, given = _output_grads(ctx, grads)
        res = _run_backward(ctx, grads, _needed(ctx, operands, marks))
        res = _posthooks(ctx, res, given)
    out = []
    for j, (i, shape, dt) in enumerate(ctx._pf_inputs):
        gi = res[i]
        if gi is None:
            continue
        if gi._shape != tuple(shape):
            dims = _reduce_dims(ctx, i, shape, gi._shape)
            gi = (gi.sum(dims, keepdim=True) if dims else gi).reshape(shape)
        if gi._dtype is not dt:
            gi = gi.to(dt)
        out.append((operands[j], gi))
    return out


def release(tape, ran, n):
    """A backward without retain_graph ran the entries flagged in `ran` (first n entries):
    the pyfunc entries among them drop their saved tensors."""
    if not LIVE:
        return
    entries = _TAPES.get(tape)
    if not entries:
        return
    for e in entries:
        if e < n and ran[e]:
            state = tape.fn_data[e][1]
            if state.get("_pf_saved") is not None:   # (none saved: freed all the same)
                state["_pf_saved"] = None


def has_functions(tape):
    """Whether a custom Function was recorded on `tape` (one dict lookup)."""
    return bool(LIVE) and tape in _TAPES
