"""`Module`: torch.nn.Module's registration of parameters, buffers and submodules, their
traversal, train/eval, state_dict round trips, dtype conversion, `apply`, forward (pre-)hooks
and torch's repr."""
import itertools
import types
import warnings
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from ... import __future__ as _future, compile_options, devices as _device
from ..._signals import COMMIT
from ...grad_mode import switched_grad
from ...hooks import RemovableHandle
from ...multiprocessing._storage import share_tensors
from ...namespace import typename
from ...steptrace import MODE_CHANGES, TRACE
from ...tape import version_counter
from ...creation import empty_like as _empty_like
from ...tensor import Tensor
from ...trainstep import zero_grads
from .._buffer import persistent_flag
from .._uninitialized import is_lazy
from ..parameter import Parameter
from ._functions import BackwardHook

# the state_dict key of a module's get_extra_state() (after the module's prefix)
_EXTRA_STATE_KEY = "_extra_state"

# torch.compile's keyword arguments (Module.compile passes them on)
_COMPILE_KWARGS = frozenset({"fullgraph", "dynamic", "backend", "mode", "options", "name",
                             "disable", "recompile_limit", "isolate_recompiles", "shapes_spec"})



# what Module.__setstate__ adds to the state of an older pickle that lacks it (torch's list)
_STATE_DEFAULTS = tuple((name, OrderedDict) for name in (
    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called", "_state_dict_hooks", "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks", "_backward_pre_hooks")) + (
    ("_non_persistent_buffers_set", set), ("_is_full_backward_hook", lambda: None))


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _own_init(cls, owner=None):
    """Class decorator: cls's __init__ (inherited) as its own, named `owner`.__init__
    (default cls's name), the class whose __init__ torch's runs: Python's errors for missing
    or extra arguments name it.  The copy keeps the original's closure, so its
    zero-argument super() is the original's."""
    f = cls.__init__
    code = getattr(f, "__code__", None)
    name = f"{owner or cls.__qualname__}.__init__"
    if code is not None and hasattr(code, "co_qualname"):   # (Python >= 3.11 names it)
        g = types.FunctionType(code.replace(co_qualname=name), f.__globals__, f.__name__,
                               f.__defaults__, f.__closure__)
        g.__kwdefaults__, g.__doc__ = f.__kwdefaults__, f.__doc__
        g.__qualname__, g.__module__ = name, cls.__module__
        cls.__init__ = g
    return cls


def _addindent(s, n):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


# ---- hooks common to all modules (torch.nn.modules.module's global state; torch means them
# for debugging and profiling) ---------------------------------------------------------------
# run by register_buffer / register_parameter / add_module (and assignment) before storing:
# hook(module, name, value), a non-None result replacing the value
_global_buffer_registration_hooks = OrderedDict()
_global_module_registration_hooks = OrderedDict()
_global_parameter_registration_hooks = OrderedDict()
# run by every module call, before the module's own hooks of the same kind
_global_backward_pre_hooks = OrderedDict()
_global_backward_hooks = OrderedDict()
_global_is_full_backward_hook = None
_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()
_global_forward_hooks_always_called = OrderedDict()
_global_forward_hooks_with_kwargs = OrderedDict()


def _has_any_global_hook():
    """Whether a global call hook is registered (a module call then takes the hooked path)."""
    return bool(_global_backward_pre_hooks or _global_backward_hooks
                or _global_forward_pre_hooks or _global_forward_hooks)


def register_module_buffer_registration_hook(hook):
    """hook(module, name, buffer) runs every time a module registers a buffer; a non-None
    result is registered instead.  Returns a handle whose remove() unregisters it."""
    handle = RemovableHandle(_global_buffer_registration_hooks)
    _global_buffer_registration_hooks[handle.id] = hook
    return handle


def register_module_module_registration_hook(hook):
    """hook(module, name, submodule) runs every time a module registers a submodule; a
    non-None result is registered instead."""
    handle = RemovableHandle(_global_module_registration_hooks)
    _global_module_registration_hooks[handle.id] = hook
    return handle


def register_module_parameter_registration_hook(hook):
    """hook(module, name, param) runs every time a module registers a parameter (not None);
    a non-None result is registered instead."""
    handle = RemovableHandle(_global_parameter_registration_hooks)
    _global_parameter_registration_hooks[handle.id] = hook
    return handle


def register_module_forward_pre_hook(hook):
    """hook(module, input) runs before every module's forward, before the module's own
    forward pre hooks; a non-None result replaces the positional inputs (a non-tuple is
    wrapped in one)."""
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """hook(module, input, output) (with_kwargs: hook(module, input, kwargs, output)) runs
    after every module's forward, before the module's own forward hooks; a non-None result
    replaces the output.  always_call: it also runs when the call raises."""
    handle = RemovableHandle(_global_forward_hooks,
                             extra_dict=[_global_forward_hooks_always_called,
                                         _global_forward_hooks_with_kwargs])
    _global_forward_hooks[handle.id] = hook
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_pre_hook(hook):
    """hook(module, grad_output) runs as Module.register_full_backward_pre_hook's, for every
    module, before the module's own."""
    handle = RemovableHandle(_global_backward_pre_hooks)
    _global_backward_pre_hooks[handle.id] = hook
    return handle


def register_module_backward_hook(hook):
    """Deprecated, as torch's: hook(module, grad_input, grad_output) registered on the grad_fn
    of every module's output (Module.register_backward_hook's, for every module)."""
    global _global_is_full_backward_hook
    if _global_is_full_backward_hook is True:
        raise RuntimeError("Cannot use both regular backward hooks and full backward hooks as a "
                           "global Module hook. Please use only one of them.")
    _global_is_full_backward_hook = False
    handle = RemovableHandle(_global_backward_hooks)
    _global_backward_hooks[handle.id] = hook
    return handle


def register_module_full_backward_hook(hook):
    """hook(module, grad_input, grad_output) runs as Module.register_full_backward_hook's,
    for every module, before the module's own."""
    global _global_is_full_backward_hook
    if _global_is_full_backward_hook is False:
        raise RuntimeError("Cannot use both regular backward hooks and full backward hooks as a "
                           "global Module hook. Please use only one of them.")
    _global_is_full_backward_hook = True
    handle = RemovableHandle(_global_backward_hooks)
    _global_backward_hooks[handle.id] = hook
    return handle


class _ModuleNodeHook:
    """A non-full module backward hook as a node hook: hook(module, grad_input, grad_output),
    the module held weakly, as torch's _WrappedHook."""
    __slots__ = ("hook", "module")

    def __init__(self, hook, module):
        self.hook = hook
        self.module = weakref.ref(module)

    def __call__(self, grad_input, grad_output):
        module = self.module()
        if module is None:
            raise RuntimeError("You are trying to call the hook of a dead Module!")
        return self.hook(module, grad_input, grad_output)


_DEPRECATED_HOOK = (" is deprecated and will be removed in future versions. This hook will be "
                    "missing ")
_FULL = " Please use register_full_backward_hook to get the documented behavior."


def _warn_non_full_backward_hook(inputs, result, grad_fn):
    """torch's FutureWarnings where a non-full backward hook misses gradients: outputs or
    inputs that are not tensors, outputs of other nodes, a forward of several nodes."""
    def warn(what, missing, full=True):
        warnings.warn(what + _DEPRECATED_HOOK + missing + (_FULL if full else ""),
                      FutureWarning, stacklevel=4)
    if isinstance(result, Tensor):
        result = (result,)
    elif not (isinstance(result, tuple) and all(isinstance(r, Tensor) for r in result)):
        return warn("Using non-full backward hooks on a Module that does not return a single "
                    "Tensor or a tuple of Tensors", "some of the grad_output.")
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    elif not (isinstance(inputs, tuple) and all(isinstance(i, Tensor) for i in inputs)):
        return warn("Using non-full backward hooks on a Module that does not take as input a "
                    "single Tensor or a tuple of Tensors", "some of the grad_input.")
    out_fns = {r.grad_fn for r in result if r.grad_fn is not None}
    if not out_fns or len(out_fns) == 1 and grad_fn not in out_fns:
        warn("Using a non-full backward hook when outputs are nested in python data structure",
             "some grad_output.", full=False)
    elif len(out_fns) > 1:
        warn("Using a non-full backward hook when outputs are generated by different autograd "
             "Nodes", "some grad_output.")
    elif {i.grad_fn for i in inputs if i.grad_fn is not None} != {
            f for f, _ in grad_fn.next_functions}:
        warn("Using a non-full backward hook when the forward contains multiple autograd Nodes",
             "some grad_input.")


def _registration_hooks(hooks, module, name, value):
    """value after the global registration hooks `hooks` (each may replace it)."""
    for hook in list(hooks.values()):
        out = hook(module, name, value)
        if out is not None:
            value = out
    return value


class _Snapshot:
    """The parameters and buffers of a module tree (which tensor each name holds, and each
    tensor's value and version), to put back after a failed load_state_dict."""

    def __init__(self, root):
        self.tables, self.values = [], []
        seen = set()
        for m in root.modules():
            for table in (m._parameters, m._buffers):
                self.tables.append((table, dict(table)))
                for t in table.values():
                    if t is not None and id(t) not in seen and not is_lazy(t):
                        seen.add(id(t))
                        v = t._v
                        self.values.append((t, v.copy() if type(v) is np.ndarray else v,
                                            version_counter(t)[0]))

    def restore(self):
        for table, items in self.tables:
            table.clear()
            table.update(items)
        for t, v, version in self.values:
            cur = t._v
            if type(v) is np.ndarray and type(cur) is np.ndarray and cur.shape == v.shape:
                cur[...] = v             # in place: views and optimizer state share it
            else:
                t._v = v
            version_counter(t)[0] = version
            if t._tape is None:
                t._lserial = 0           # a tape's cached leaf entry holds the loaded value


class Module:
    """Base class of layers and models: assign Parameters, Modules and buffers as attributes
    in `__init__` (after `super().__init__()`), compute in `forward`, call the module."""
    __module__ = "tapegrad.nn.modules.module"   # (torch's: type(m) names it)
    training: bool
    _version = 1
    dump_patches: bool = False    # (torch's: read by nothing since its serialization rewrite)
    # torch's switch for cooperative multiple inheritance: __init__ passes its arguments on
    # to the next class of the MRO (a mixin's) instead of refusing them
    call_super_init: bool = False

    def __init__(self, *args, **kwargs):
        if self.call_super_init is False and (args or kwargs):
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword "
                            f"argument '{next(iter(kwargs))}'" if kwargs else
                            f"{type(self).__name__}.__init__() takes 1 positional argument but "
                            f"{len(args) + 1} were given")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks_always_called"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_state_dict_hooks"] = OrderedDict()
        d["_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_post_hooks"] = OrderedDict()
        # which kind of backward hook the module has: None (none yet), True (full), False
        d["_is_full_backward_hook"] = None
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    def __setstate__(self, state):
        """Restore a pickled module (copy, deepcopy, torch.load of a whole model), as torch's:
        the hook tables an older pickle lacks made empty.  Subclasses that override it call
        super().__setstate__(state)."""
        d = self.__dict__
        d.update(state)
        for name, make in _STATE_DEFAULTS:
            if name not in d:
                d[name] = make()

    def forward(self, *input):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    # ---- registration ------------------------------------------------------------------------
    def _check_name(self, name, kind):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            # (torch's add_module names the offending name; its other checks do not)
            got = f", got: {name}" if kind == "module" else ""
            raise KeyError(f'{kind} name can\'t contain "."{got}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def register_parameter(self, name, param):
        """Add parameter `param` (a Parameter, or None) under `name`."""
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{typename(param)}' object to parameter '{name}' "
                            f"(torch.nn.Parameter or None required)")
        if param is not None and _global_parameter_registration_hooks:
            param = _registration_hooks(_global_parameter_registration_hooks, self, name, param)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add buffer `tensor` (state that is not a parameter, saved in state_dict unless
        persistent=False) under `name`."""
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{typename(tensor)}' object to buffer '{name}' "
                            f"(torch Tensor or None required)")
        if _global_buffer_registration_hooks:
            tensor = _registration_hooks(_global_buffer_registration_hooks, self, name, tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add submodule `module` under `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{typename(module)} is not a Module subclass")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if _global_module_registration_hooks:
            module = _registration_hooks(_global_module_registration_hooks, self, name, module)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            # as torch: the name leaves the other tables; in _parameters it keeps its place
            self._drop(name, ("_buffers", "_modules"))
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{typename(value)}' as parameter '{name}' "
                                f"(torch.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._drop(name, ("_parameters", "_buffers"))
            if _global_module_registration_hooks:
                value = _registration_hooks(_global_module_registration_hooks, self, name, value)
            self._modules[name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign '{typename(value)}' as child module '{name}' "
                                f"(torch.nn.Module or None expected)")
            if _global_module_registration_hooks:
                value = _registration_hooks(_global_module_registration_hooks, self, name, value)
            d["_modules"][name] = value
        elif params is not None and (name in d["_buffers"] or
                                     persistent_flag(value) is not None):
            # a buffer's name, or a tensor nn.Buffer() made: registered as torch does, with
            # the Buffer's persistence, else the name's
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{typename(value)}' as buffer '{name}' "
                                f"(torch.nn.Buffer, torch.Tensor or None expected)")
            persistent = persistent_flag(value)
            if persistent is None:
                persistent = name not in d["_non_persistent_buffers_set"]
            self.register_buffer(name, value, persistent)
        else:
            if name == "training" and d.get("training", value) != value:
                MODE_CHANGES[0] += 1    # (what compiled steps traced may change: see steptrace)
            object.__setattr__(self, name, value)

    def _drop(self, name, tables):
        """Remove `name` from the instance dict and `tables` (not from the table it is being
        assigned to: torch assigns there in place, so the entry keeps its position)."""
        d = self.__dict__
        d.pop(name, None)
        for table in tables:
            d[table].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            t = d.get(table)
            if t is not None and name in t:
                return t[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if name in d.get(table, ()):
                del d[table][name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(object.__dir__(self)) + list(self._parameters) + list(self._modules) \
            + list(self._buffers)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    # ---- traversal ---------------------------------------------------------------------------
    def _named_members(self, get, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for k, v in get(m):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (mprefix + ("." if mprefix else "") + k, v)

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(name, parameter) pairs, submodules' with dotted names; each parameter once (a
        generator of this name, as torch's: print(m.named_parameters()) shows it)."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                       remove_duplicate)

    def parameters(self, recurse=True):
        """The parameters of this module and (recurse) its submodules, each once (a
        generator, as torch's: `print(model.parameters())` shows <generator object
        Module.parameters ...>; over a list made in one pass: training loops call this
        every step)."""
        seen, out = set(), []
        for m in (self._module_list() if recurse else (self,)):
            for p in m._parameters.values():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        yield from out

    def _module_list(self):
        """self and its submodules, depth first, each once (named_modules' order)."""
        seen, out, stack = set(), [], [self]
        while stack:
            m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            out.append(m)
            stack.extend(c for c in reversed(m._modules.values()) if c is not None)
        return out

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                       remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self):
        """(name, module) of the direct submodules, each once."""
        memo = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in memo:
                memo.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) of this module ('') and every submodule, depth first, each once
        (remove_duplicate=False: as often as reached); `memo`, a set of modules, holds those
        already given (and skipped), as torch's."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name,
                                       remove_duplicate)

    def modules(self, remove_duplicate=True):
        for _, m in self.named_modules(remove_duplicate=remove_duplicate):
            yield m

    def get_submodule(self, target):
        if target == "":
            return self
        m = self
        for item in target.split("."):
            if not hasattr(m, item):
                raise AttributeError(f"{m._get_name()} has no attribute `{item}`")
            m = getattr(m, item)
            if not isinstance(m, Module):   # (a parameter or buffer on the path)
                raise AttributeError(f"`{item}` is not an nn.Module")
        return m

    def get_parameter(self, target):
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        if not hasattr(m, name):     # (torch's two errors, as get_buffer's)
            raise AttributeError(f"{m._get_name()} has no attribute `{name}`")
        if name not in m._parameters:
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return m._parameters[name]

    def get_buffer(self, target):
        """The buffer at dotted path `target` ("block.bn.running_mean")."""
        mod_path, _, name = target.rpartition(".")
        m = self.get_submodule(mod_path)
        if not hasattr(m, name):
            raise AttributeError(f"{m._get_name()} has no attribute `{name}`")
        buf = getattr(m, name)
        if name not in m._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return buf

    def set_submodule(self, target, module, strict=False):
        """Put `module` at dotted path `target`, replacing the submodule there or (unless
        strict) adding it to the existing parent."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        atoms = target.split(".")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent = self if len(atoms) == 1 else self.get_submodule(".".join(atoms[:-1]))
        if strict and not hasattr(parent, atoms[-1]):
            raise AttributeError(f"{parent._get_name()} has no attribute `{atoms[-1]}`")
        if hasattr(parent, atoms[-1]) and not isinstance(getattr(parent, atoms[-1]), Module):
            raise AttributeError(f"`{atoms[-1]}` is not an nn.Module")
        setattr(parent, atoms[-1], module)

    # ---- modes and gradients -----------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (dropout active) for this module and its submodules; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        """Evaluation mode: train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        with COMMIT:    # (a Ctrl-C never leaves some parameters switched and others not)
            for p in self.parameters():
                p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the parameters' gradients: to None (default), or to zeros in place."""
        trace = TRACE.current
        if trace is not None:   # tracing a step for tapegrad.compile: noted, not run
            return trace.zero_grad(self.parameters(), set_to_none)
        with COMMIT:    # (a Ctrl-C never leaves some gradients reset and others not)
            zero_grads(self.parameters(), set_to_none)

    def compile(self, *args, **kwargs):
        """torch's Module.compile: its arguments checked as tapegrad.compile checks them; the
        module keeps running as it is (tapegrad runs modules eagerly)."""
        if args:
            raise TypeError(f"compile() takes from 0 to 1 positional arguments but "
                            f"{len(args) + 1} were given")
        unknown = set(kwargs) - _COMPILE_KWARGS
        if unknown:
            raise TypeError(f"compile() got an unexpected keyword argument "
                            f"'{sorted(unknown)[0]}'")
        compile_options.check(kwargs.get("backend"), kwargs.get("mode"), kwargs.get("options"))

    # ---- calling -----------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not (d["_forward_hooks"] or d["_forward_pre_hooks"] or d["_backward_hooks"]
                or d["_backward_pre_hooks"] or _global_backward_pre_hooks
                or _global_backward_hooks or _global_forward_hooks or _global_forward_pre_hooks):
            # NOTE: forward(*args) is a call through C in CPython 3.11 (~0.1 us more than a
            # plain call, which runs inline): the usual one- and two-argument calls skip it
            if not kwargs:
                n = len(args)
                if n == 1:
                    return self.forward(args[0])
                if n == 2:
                    return self.forward(args[0], args[1])
            return self.forward(*args, **kwargs)
        return self._call_hooked(args, kwargs)

    # torch's names of the call (libraries call module._call_impl(...) directly)
    _call_impl = __call__
    _wrapped_call_impl = __call__

    def _call_hooked(self, args, kwargs):
        """__call__ of a module with forward (pre-)hooks or full backward (pre-)hooks (its own
        or global ones), in torch's order: forward pre hooks (global first), the inputs'
        backward hook node, forward, forward hooks (global first), the outputs' backward hook
        node.  When the call raises, the forward hooks registered with always_call=True that
        have not run yet run (global first, an error of theirs only warned about), then the
        error propagates."""
        d = self.__dict__
        result = None
        called_always = set()
        always = d.get("_forward_hooks_always_called", {})
        trace = TRACE.current
        if trace is not None and (d["_forward_hooks"] or d["_forward_pre_hooks"]
                                  or _global_forward_hooks or _global_forward_pre_hooks):
            trace.hooked = True     # (their Python runs at the trace only: see trainstep)
        try:
            full_hooks, non_full_hooks = self._get_backward_hooks()
            pre_hooks = list(_global_backward_pre_hooks.values())
            pre_hooks += d["_backward_pre_hooks"].values()
            with_kwargs = d["_forward_pre_hooks_with_kwargs"]
            for hid, hook in (*_global_forward_pre_hooks.items(),
                              *d["_forward_pre_hooks"].items()):
                if hid in with_kwargs:
                    res = hook(self, args, kwargs)
                    if res is not None:
                        if isinstance(res, tuple) and len(res) == 2:
                            args, kwargs = res
                        else:
                            raise RuntimeError("forward pre-hook must return None or a tuple "
                                               f"of (new_args, new_kwargs), but got {res}.")
                else:
                    res = hook(self, args)
                    if res is not None:
                        args = res if isinstance(res, tuple) else (res,)
            bw_hook = None
            if full_hooks or pre_hooks:
                bw_hook = BackwardHook(self, full_hooks, pre_hooks)
                args = bw_hook.setup_input_hook(args)
            result = self.forward(*args, **kwargs)
            with_kwargs = d["_forward_hooks_with_kwargs"]
            for hid, hook in (*_global_forward_hooks.items(), *d["_forward_hooks"].items()):
                if hid in always or hid in _global_forward_hooks_always_called:
                    called_always.add(hid)
                if hid in with_kwargs or hid in _global_forward_hooks_with_kwargs:
                    res = hook(self, args, kwargs, result)
                else:
                    res = hook(self, args, result)
                if res is not None:
                    result = res
            if bw_hook is not None:
                if not isinstance(result, (Tensor, tuple)):
                    warnings.warn("For backward hooks to be called, module output should be a "
                                  f"Tensor or a tuple of Tensors but received {type(result)}")
                result = bw_hook.setup_output_hook(result)
            if non_full_hooks:   # (deprecated ones: on the grad_fn of the first output)
                var = result
                while not isinstance(var, Tensor):
                    if isinstance(var, dict):
                        var = next(v for v in var.values() if isinstance(v, Tensor))
                    else:
                        var = var[0]
                grad_fn = var.grad_fn
                if grad_fn is not None:
                    for hook in non_full_hooks:
                        try:
                            grad_fn.register_hook(_ModuleNodeHook(hook, self))
                        except NotImplementedError as e:
                            raise NotImplementedError(
                                f"Module.register_backward_hook (deprecated) hooks the grad_fn "
                                f"of the module's output, here {grad_fn.name()}, whose post "
                                f"hooks tapegrad does not support ({e}); "
                                f"register_full_backward_hook gives the same grad_output and "
                                f"the module inputs' gradients as grad_input") from None
                    _warn_non_full_backward_hook(args, result, grad_fn)
            return result
        except Exception:
            # (as torch: the global ones get (module, args, result) even with with_kwargs)
            for hid, hook in list(_global_forward_hooks.items()):
                if hid in _global_forward_hooks_always_called and hid not in called_always:
                    try:
                        res = hook(self, args, result)
                        if res is not None:
                            result = res
                    except Exception as e:
                        warnings.warn("global module forward hook with ``always_call=True`` "
                                      "raised an exception that was silenced as another error "
                                      f"was raised in forward: {str(e)}", stacklevel=2)
            for hid, hook in list(d["_forward_hooks"].items()):
                if hid in always and hid not in called_always:
                    try:
                        if hid in d["_forward_hooks_with_kwargs"]:
                            res = hook(self, args, kwargs, result)
                        else:
                            res = hook(self, args, result)
                        if res is not None:
                            result = res
                    except Exception as e:
                        warnings.warn("module forward hook with ``always_call=True`` raised an "
                                      "exception that was silenced as another error was raised "
                                      f"in forward: {str(e)}", stacklevel=2)
            raise

    def _get_backward_hooks(self):
        """(full, non-full) backward hooks of this module's calls, global ones first: a
        module's own are of the kind it registered (torch's _is_full_backward_hook)."""
        full = self.__dict__.get("_is_full_backward_hook")
        full_hooks = list(_global_backward_hooks.values()) \
            if _global_is_full_backward_hook is True else []
        non_full_hooks = list(_global_backward_hooks.values()) \
            if _global_is_full_backward_hook is False else []
        if full is True:
            full_hooks += self._backward_hooks.values()
        elif full is False:
            non_full_hooks += self._backward_hooks.values()
        return full_hooks, non_full_hooks

    def register_backward_hook(self, hook):
        """Deprecated, as torch's: hook(module, grad_input, grad_output) registered on the
        grad_fn of the module's (first) output at each call, so grad_input are the gradients
        of that last op's inputs, not of the module's (register_full_backward_hook gives
        those); FutureWarnings where they differ."""
        if self.__dict__.get("_is_full_backward_hook") is True:
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks "
                               "on a single Module. Please use only one of them.")
        self.__dict__["_is_full_backward_hook"] = False
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """hook(module, grad_input, grad_output) runs when the gradients of the module's tensor
        inputs are computed (grad_input: one per positional input, None where it is not a
        tensor or needs no gradient); a non-None result replaces grad_input.  Returns a handle
        whose remove() unregisters it."""
        if self.__dict__.get("_is_full_backward_hook") is False:
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks "
                               "on a single Module. Please use only one of them.")
        self.__dict__["_is_full_backward_hook"] = True
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """hook(module, grad_output) runs when the gradients of the module's outputs are
        computed, before the full backward hooks; a non-None result replaces grad_output."""
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """hook(module, args, output) runs after forward; a non-None result replaces the
        output; always_call: it also runs when the call raises.  Returns a handle whose
        remove() unregisters it."""
        d = self.__dict__
        always = d.setdefault("_forward_hooks_always_called", {})
        handle = RemovableHandle(self._forward_hooks,
                                 extra_dict=[self._forward_hooks_with_kwargs, always])
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            always[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args) runs before forward; a non-None result replaces the args."""
        handle = RemovableHandle(self._forward_pre_hooks,
                                 extra_dict=self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    # ---- state -------------------------------------------------------------------------------
    def _register_state_dict_hook(self, hook):
        """hook(module, state_dict, prefix, local_metadata) runs after state_dict() has added
        this module's entries; a non-None result replaces the state dict (respected only
        where state_dict() was called: torch's long-standing behaviour)."""
        if getattr(hook, "_from_public_api", False):
            raise RuntimeError("Cannot register the same function as the state dict post hook "
                               "that was previously registered via "
                               "register_state_dict_post_hook")
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook):
        """hook(module, prefix, keep_vars) runs before state_dict() adds this module's
        entries."""
        handle = RemovableHandle(self._state_dict_pre_hooks)
        self._state_dict_pre_hooks[handle.id] = hook
        return handle

    def register_state_dict_post_hook(self, hook):
        """hook(module, state_dict, prefix, local_metadata) runs after state_dict() has added
        this module's entries; it edits the state dict in place (returning anything but None
        raises)."""
        hook._from_public_api = True    # (torch marks the hook itself so)
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs) (module first with `with_module`) runs before load_state_dict reads this
        module's entries, on a copy of the state dict it may edit."""
        handle = RemovableHandle(self._load_state_dict_pre_hooks)
        self._load_state_dict_pre_hooks[handle.id] = (
            (lambda *a: hook(self, *a)) if with_module else hook)
        return handle

    def register_load_state_dict_pre_hook(self, hook):
        """hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs) runs before load_state_dict reads this module's
        entries."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def register_load_state_dict_post_hook(self, hook):
        """hook(module, incompatible_keys) runs after load_state_dict has loaded this module
        and its submodules; it may edit incompatible_keys' lists in place (strict then judges
        the edited lists), and must return None."""
        handle = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

    def get_extra_state(self):
        """Override (with set_extra_state) to save extra, picklable state: state_dict()
        stores it under `<prefix>_extra_state`."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called. Please file an issue at https://github.com/pytorch/pytorch"
                           "/issues/new?template=bug-report.yml to report this bug.")

    def set_extra_state(self, state):
        """Override (with get_extra_state): load_state_dict passes it the value saved under
        `<prefix>_extra_state`."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called. Please file an issue at https://github.com/pytorch/pytorch"
                           "/issues/new?template=bug-report.yml to report this bug.")

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        """Add this module's own parameters, persistent buffers and extra state (not its
        submodules') to `destination` (subclasses may override it)."""
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of the parameters and persistent buffers by dotted name (detached
        tensors sharing their memory, unless keep_vars), with torch's `_metadata` (each
        module's `_version`, which load_state_dict passes to _load_from_state_dict)."""
        if args:    # torch's deprecated positional (destination, prefix, keep_vars)
            warnings.warn("Positional args are being deprecated, use kwargs instead. Refer to "
                          "https://pytorch.org/docs/main/generated/torch.nn.Module.html#torch.nn"
                          ".Module.state_dict for details.", FutureWarning, stacklevel=2)
            if destination is None:     # (a keyword given too wins, as torch's)
                destination = args[0]
            if len(args) > 1 and prefix == "":
                prefix = args[1]
            if len(args) > 2 and keep_vars is False:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = dict(version=self._version)
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        d = self.__dict__
        for hook in list(d.get("_state_dict_pre_hooks", {}).values()):
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        for hook in list(d.get("_state_dict_hooks", {}).values()):
            res = hook(self, destination, prefix, local_metadata)
            if not getattr(hook, "_from_public_api", False):
                if res is not None:
                    destination = res
            elif res is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """Load this module's own entries of `state_dict` (keys `prefix` + name; its
        submodules' are loaded by their own calls) after the load pre hooks, noting missing
        and unexpected keys and errors in the lists (subclasses may override it, calling
        super() for the rest)."""
        for hook in list(self.__dict__.get("_load_state_dict_pre_hooks", {}).values()):
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)
        local_state = {k: v for k, v in itertools.chain(
            self._parameters.items(),
            ((k, b) for k, b in self._buffers.items()
             if k not in self._non_persistent_buffers_set)) if v is not None}
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            src = state_dict[key]
            if not isinstance(src, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected '
                                  f'torch.Tensor or Tensor-like object from checkpoint but '
                                  f'received {type(src)}')
                continue
            lazy = is_lazy(param)
            if not lazy and param.dim() == 0 and tuple(src.shape) == (1,):
                src = src[0]    # torch's compatibility with 0.3's 1-element "scalars"
            if not lazy and tuple(src.shape) != tuple(param.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{src.shape} from checkpoint, the shape in current "
                                  f"model is {param.shape}.")
                continue
            try:
                with switched_grad(False):
                    if assign:
                        if isinstance(param, Parameter):
                            if isinstance(src, Parameter):
                                src.requires_grad_(param.requires_grad)
                            else:
                                src = Parameter(src, param.requires_grad)
                        setattr(self, name, src)
                    else:
                        param.copy_(src)
            except Exception as ex:
                error_msgs.append(f'While copying the parameter named "{key}", whose '
                                  f'dimensions in the model are {param.shape} and whose '
                                  f'dimensions in the checkpoint are {src.shape}, an exception '
                                  f'occurred : {ex.args}.')
        extra_key = prefix + _EXTRA_STATE_KEY
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra_key:
                    head, *rest = key[len(prefix):].split(".", 1)
                    if (head not in self._modules) if rest else (head not in local_state):
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from `state_dict` (in place, under no_grad; `assign`:
        take the state dict's tensors themselves), each module by its _load_from_state_dict;
        with strict, missing and unexpected keys raise torch's error.  A call that fails
        changes nothing (torch keeps the entries it loaded before the error)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, unexpected, errors = [], [], []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)    # a copy the hooks may edit
        if metadata is not None:
            state_dict._metadata = metadata

        def load(module, local_state_dict, prefix=""):
            local_metadata = {} if metadata is None else metadata.get(prefix[:-1], {})
            if assign:
                local_metadata["assign_to_params_buffers"] = assign
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True,
                                         missing, unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state_dict.items()
                                 if k.startswith(child_prefix)}, child_prefix)
            keys = _IncompatibleKeys(missing, unexpected)
            for hook in list(module.__dict__.get("_load_state_dict_post_hooks", {}).values()):
                if hook(module, keys) is not None:
                    raise AssertionError(
                        "Hooks registered with ``register_load_state_dict_post_hook`` are not"
                        " expected to return new values, if incompatible_keys need to be "
                        "modified, it should be done inplace.")

        # torch copies what it can before it raises; a failing call here leaves every
        # parameter and buffer as it was (the project's rule for failing calls): the loads
        # run in torch's order (hooks see what torch's see) and are undone on failure
        before = _Snapshot(self)
        try:
            load(self, state_dict)
            if strict:
                if unexpected:
                    errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                        ", ".join(f'"{k}"' for k in unexpected)))
                if missing:
                    errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                        ", ".join(f'"{k}"' for k in missing)))
            if errors:
                raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                    type(self).__name__, "\n\t".join(errors)))
        except BaseException:
            before.restore()
            raise
        return _IncompatibleKeys(missing, unexpected)

    # ---- conversion --------------------------------------------------------------------------
    def _apply(self, fn, recurse=True):
        # every conversion first, then all the assignments in one COMMIT: a conversion that
        # raises, or a Ctrl-C, leaves every parameter, gradient and buffer as it was (torch
        # converts module after module, so a failure leaves it half converted)
        data, grads, buffers = {}, {}, []
        with switched_grad(False):
            self._conversions(fn, recurse, data, grads, buffers)
            with COMMIT:
                if (_future.get_overwrite_module_params_on_conversion()
                        and not _future.get_swap_module_params_on_conversion()):
                    self._new_parameters(recurse, data, grads)
                else:
                    for p, new in data.values():
                        p.data = new
                    for p, g in grads.values():
                        # (the gradient object stays too, as torch's `param.grad.data = `)
                        p._grad.data = g
                for table, k, b in buffers:
                    table[k] = b
        return self

    def _new_parameters(self, recurse, data, grads):
        """_apply under torch.__future__.set_overwrite_module_params_on_conversion(True): each
        parameter (a shared one once) replaced by a new Parameter of its converted value,
        with its converted gradient (the same object where nothing changed), as torch's."""
        made = {}
        for m in (self._module_list() if recurse else (self,)):
            table = m._parameters
            for k, p in table.items():
                if p is None:
                    continue
                q = made.get(id(p))
                if q is None:
                    q = made[id(p)] = Parameter(data[id(p)][1] if id(p) in data else p,
                                                p.requires_grad)
                    grad = grads[id(p)][1] if id(p) in grads else getattr(p, "_grad", None)
                    if grad is not None:
                        q.grad = grad
                table[k] = q

    def _conversions(self, fn, recurse, data, grads, buffers):
        """_apply's new values, children first, in torch's order: `data` and `grads` map a
        parameter's id to (parameter, its new data / gradient); a parameter shared by several
        modules is converted again from its new value, as torch's in-place conversion does."""
        if recurse:
            for m in self.children():
                m._conversions(fn, True, data, grads, buffers)
        for p in self._parameters.values():
            if p is None:
                continue
            cur = data[id(p)][1] if id(p) in data else p
            new = fn(p if cur is p else cur)
            if new is not cur:
                p._check_data(new)
                data[id(p)] = (p, new)
                # (not `.grad`: a compiled step's trace refuses a read the user made)
                grad = grads[id(p)][1] if id(p) in grads else getattr(p, "_grad", None)
                if grad is not None:
                    grads[id(p)] = (p, fn(grad))
        for k, b in self._buffers.items():
            if b is not None:
                buffers.append((self._buffers, k, fn(b)))

    def apply(self, fn):
        """fn(module) for every submodule (children first) and then self; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs):
        """Convert floating-point parameters and buffers to a dtype (`to(tapegrad.float64)`);
        a CPU device changes nothing, others raise."""
        given = _device.parse_to(args, kwargs)   # (torch's parser refuses them before anything)
        if "copy" in given:
            raise RuntimeError(".to() does not accept copy argument")
        dtype = given.get("dtype")
        _device.check(given.get("device"))
        # torch's Module.to passes memory_format to its 4-d and 5-d tensors (a 5-d one with
        # channels_last raises torch's rank error); tapegrad keeps row-major memory
        # (docs/semantics.md), so the format is checked, not applied
        fmt = given.get("memory_format")
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but "
                            f"got desired dtype={dtype}")
        if dtype is None and fmt is None:
            return self

        def convert(t):
            if fmt is not None and t.dim() in (4, 5):
                t = t.to(memory_format=fmt)
            return t.to(dtype) if dtype is not None and t.is_floating_point() else t
        return self._apply(convert)

    def float(self):
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self):
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self):
        """Raises Tensor.half's NotImplementedError at the first floating-point parameter or
        buffer (tapegrad has no float16), before anything changes; a module without one is
        returned as it is."""
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def bfloat16(self):
        """As half(): tapegrad has no bfloat16."""
        return self._apply(lambda t: t.bfloat16() if t.is_floating_point() else t)

    def type(self, dst_type):
        return self._apply(lambda t: t.type(dst_type))

    def to_empty(self, *, device, recurse=True):
        """Parameters and buffers replaced by uninitialized tensors of their shapes and dtypes
        on `device` (the CPU: others raise), as torch's (meta-device initialization); returns
        self.  `recurse=False`: this module's own only."""
        _device.check(device)
        return self._apply(_empty_like, recurse=recurse)

    def cpu(self):
        return self

    def share_memory(self):
        """Move the parameters, their gradients and the buffers into shared memory in place
        (Tensor.share_memory_; torch's applies it through _apply, grads included); returns
        self."""
        tensors = [t for p in self.parameters() for t in (p, p.grad) if t is not None]
        tensors += [b for b in self.buffers() if b is not None]
        for t in tensors:
            if type(t).share_memory_ is not Tensor.share_memory_:
                t.share_memory_()   # (an uninitialized parameter raises, as torch's)
        share_tensors(tensors)      # (one scan of the live tensors for all of them)
        return self

    def cuda(self, device=None):
        raise AssertionError(_device.NO_CUDA)

    def xpu(self, device=None):
        """Raises, as torch's CPU build (as `.to("xpu")`)."""
        _device.unavailable(_device.device("xpu"))

    def ipu(self, device=None):
        _device.unavailable(_device.device("ipu"))

    def mtia(self, device=None):
        _device.unavailable(_device.device("mtia"))

    # ---- repr --------------------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The text between the parentheses of the module's repr (override it)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"
