"""`tapegrad.optim.Optimizer`: torch's optimizer base (parameter groups, state, state_dict,
zero_grad) with a fused step: one Numba call updates all parameters of a group.

How a step reaches the parameters (see _fused.py): the parameters of a group that have a
gradient are a `_Pack`, built once and reused while they, their storage and the state it
addresses stay the same (torch's step reads `opt.state` afresh: an entry, a state tensor or
its `.data` replaced makes a new pack; identity checks, no lookups by parameter).  It holds
the data address of every parameter array and state array, the gradients' offsets in one
concatenated buffer, and the parameters' version counters.  A step then costs,
per group: one list of the gradients, one `np.concatenate` into the buffer, one kernel call,
and the version bumps of an in-place update (torch bumps `p._version` once per step).

One-element parameters held as Python floats (tapegrad's scalar fast path, the micrograd
case) and non-contiguous arrays are staged: their values are copied into one buffer of the
pack, updated there by the same kernel, and written back.
"""
import functools
import operator
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

import numpy as np

from .. import dtypes as D, errors, layouts
from .._jit import kernel_module
from .._signals import COMMIT
from ..compiler import is_compiling
from ..composed import view_as_real
from ..grad_mode import is_grad_enabled, switched_grad
from ..parameter import Parameter
from ..steptrace import TRACE
from ..tape import BUMPS, bump_version, STATE, version_counter, views_go_stale
from ..tensor import Tensor
from ..trainstep import zero_grads
from ..views import stack
from . import hooks
from .hooks import (OptimizerHooks, _hooked_step, register_optimizer_step_post_hook,
                    register_optimizer_step_pre_hook)

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Singleton class representing a required parameter for an Optimizer."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

# what an optimizer's params argument may be (custom optimizers annotate with it)
ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


def _use_grad_for_differentiable(func):
    """Decorator of an optimizer's step (custom optimizers copied from torch's use it): the
    step runs with grad mode on only when the optimizer is differentiable."""
    @functools.wraps(func)
    def _use_grad(*args, **kwargs):
        with switched_grad(args[0].defaults["differentiable"]):
            return func(*args, **kwargs)
    return _use_grad


# ---- torch.optim.optimizer's helpers: optimizers written as torch's own import them -------
Args = tuple[Any, ...]
Kwargs = dict[str, Any]
StateDict = dict[str, Any]
DeviceDict = dict[Any, Tensor]
DeviceDtypeDict = dict[Any, Tensor]
TensorListList = list[list[Tensor | None]]
Indices = list[int]
GlobalOptimizerPreHook = Callable[["Optimizer", Args, Kwargs], tuple[Args, Kwargs] | None]
GlobalOptimizerPostHook = Callable[["Optimizer", Args, Kwargs], None]

_foreach_supported_types = [Tensor, Parameter]
_get_capturable_supported_devices = hooks._get_capturable_supported_devices


def _get_foreach_kernels_supported_devices():
    """torch's device types with foreach kernels: not the CPU (its optimizers take their
    single-tensor path there by default, as tapegrad's arithmetic does)."""
    return ["cuda", "xpu", "mtia", "privateuseone"]


def _get_fused_kernels_supported_devices():
    """torch's device types with fused optimizer kernels (the CPU among them)."""
    return ["mps", "cuda", "xpu", "hpu", "cpu", "mtia", "privateuseone"]


def _default_to_fused_or_foreach(params, differentiable, use_fused=False):
    """(fused, foreach) as torch decides them for `params`: fused where asked for and every
    parameter is a floating tensor; foreach never on the CPU."""
    if differentiable:
        return False, False
    fused_devices = _get_fused_kernels_supported_devices()
    foreach_devices = _get_foreach_kernels_supported_devices()
    fused = use_fused and all(
        p is None or (type(p) in _foreach_supported_types and p.device.type in fused_devices
                      and p.is_floating_point())
        for p in params)
    foreach = not fused and all(
        p is None or (type(p) in _foreach_supported_types and p.device.type in foreach_devices)
        for p in params)
    return fused, foreach


def _device_dtype_check_for_fused(p, cuda_unsupported=False):
    """torch's error for a parameter a fused step cannot take."""
    devices = _get_fused_kernels_supported_devices()
    if cuda_unsupported:
        devices.remove("cuda")
    if not (p.device.type in devices and p.is_floating_point()):
        raise RuntimeError("`fused=True` requires all the params to be floating point Tensors "
                           f"of supported devices: {devices} but {p.dtype} and "
                           f"{p.device.type}")


def _get_value(x):
    """A step count as a number (`.item()`); the tensor itself while tapegrad.compile or
    record traces (as torch's under torch.compile: no number taken from a traced value)."""
    if is_compiling():
        return x
    return x.item() if isinstance(x, Tensor) else x


def _stack_if_compiling(x):
    """torch.stack(x) while tracing, else the list as it is."""
    return stack(x) if is_compiling() else x


def _disable_dynamo_if_unsupported(single_tensor_fn=None):
    """Decorator of torch's functional optimizer steps: it sends a compiled call to eager
    code in some cases; eager calls (tapegrad's, there is no dynamo) run the function."""
    def wrapper(func):
        return func
    return wrapper


def _view_as_real(params, *state_and_grads):
    """Complex parameters (and their state and gradients, lists alike) as real views."""
    for i, p in enumerate(params):
        if p.is_complex():
            params[i] = view_as_real(params[i])
            for s in state_and_grads:
                s[i] = view_as_real(s[i])


def _get_scalar_dtype(is_fused=None):
    """The dtype of one-element state (`step`): float32 for a fused step, else float32
    unless the default dtype is float64."""
    return D.float32 if is_fused else _step_dtype()


def _to_scalar(x):
    """A hyperparameter given as a 1-element tensor with dims, as a 0-d tensor."""
    if isinstance(x, Tensor) and x.dim() != 0:
        return x.squeeze()
    return x


_foreach_doc = r"""foreach (bool, optional): whether foreach implementation of optimizer
            is used. If unspecified by the user (so foreach is None), we will try to use
            foreach over the for-loop implementation on CUDA, since it is usually
            significantly more performant. Note that the foreach implementation uses
            ~ sizeof(params) more peak memory than the for-loop version due to the intermediates
            being a tensorlist vs just one tensor. If memory is prohibitive, batch fewer
            parameters through the optimizer at a time or switch this flag to False (default: None)"""

_fused_doc = r"""fused (bool, optional): whether the fused implementation is used.
            Currently, `torch.float64`, `torch.float32`, `torch.float16`, and `torch.bfloat16`
            are supported. (default: None)

    .. note:: The foreach and fused implementations are typically faster than the for-loop,
              single-tensor implementation, with fused being theoretically fastest with both
              vertical and horizontal fusion. As such, if the user has not specified either
              flag (i.e., when foreach = fused = None), we will attempt defaulting to the foreach
              implementation when the tensors are all on CUDA. Why not fused? Since the fused
              implementation is relatively new, we want to give it sufficient bake-in time.
              To specify fused, pass True for fused. To force running the for-loop
              implementation, pass False for either foreach or fused. """

_capturable_doc = r"""capturable (bool, optional): whether this instance is safe to
            capture in a graph, whether for CUDA graphs or for torch.compile support.
            Tensors are only capturable when on supported :ref:`accelerators<accelerators>`.
            Passing True can impair ungraphed performance, so if you don't intend to graph
            capture this instance, leave it False (default: False)"""

_differentiable_doc = r"""differentiable (bool, optional): whether autograd should
            occur through the optimizer step in training. Otherwise, the step()
            function runs in a torch.no_grad() context. Setting to True can impair
            performance, so leave it False if you don't intend to run autograd
            through this instance (default: False)"""

_maximize_doc = r"""maximize (bool, optional): maximize the objective with respect to the
            params, instead of minimizing (default: False)"""

_params_doc = r"""params (iterable): iterable of parameters or named_parameters to optimize
            or iterable of dicts defining parameter groups. When using named_parameters,
            all parameters in all groups should be named"""


def _group_tensors_by_device_and_dtype(tensorlistlist, with_indices=False):
    """{(device, dtype): (the lists' tensors at the positions of that group, positions)}
    by the tensors of the first list (positions only `with_indices`), as torch's."""
    n = len(tensorlistlist[0])
    for tl in tensorlistlist:
        if len(tl) not in (n, 0):
            raise RuntimeError("Expected all tensor lists to have the same length as the "
                               "first, or to be empty")
    groups = {}
    for i, t in enumerate(tensorlistlist[0]):
        if t is None:
            raise RuntimeError(f"Tensors of the first list of nested Tensor lists are supposed "
                               f"to be defined but the {i}-th Tensor is not.")
        lists, indices = groups.setdefault(
            (t.device, t.dtype), ([[] for _ in tensorlistlist], []))
        for out, tl in zip(lists, tensorlistlist):
            if tl:
                out.append(tl[i])
        if with_indices:
            indices.append(i)
    return groups


def _import_fused():
    from . import _fused
    return _fused


def fused():
    """The module of fused update kernels (imported, with numba, on the first step)."""
    return kernel_module("tapegrad.optim._fused", "optim/_fused.py", _import_fused)


def _typename(obj):
    if isinstance(obj, Tensor):
        return f"tapegrad.{obj.dtype.legacy}Tensor"
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def state_tensor(arr, dt):
    """An optimizer-state tensor around ndarray `arr` (kept array-backed, also with one
    element, so the kernels can address it)."""
    t = Tensor._wrap(arr, dt)
    t._v = arr
    return t


def state_like(t, fill=0.0, dt=None):
    """A state tensor of t's shape (a parameter, or its gradient) filled with `fill`, laid out
    as torch's zeros_like / full_like / clone (memory_format=preserve_format) lay out t: its
    strides where t is dense (a transposed parameter's state is transposed too), else
    row-major by its dims' order.  The steps address it through the pack's staging."""
    dt = dt or t._dtype
    v = t._v
    if type(v) is float or v.flags.c_contiguous:
        arr = np.zeros(t._shape, dt.np) if fill == 0 else np.full(t._shape, fill, dt.np)
    else:
        arr = layouts.empty_preserving(v, dt.np)
        arr[...] = fill
    return state_tensor(arr, dt)


def grad_or_param(p):
    """p's gradient where it has one of p's shape, else p: the tensor whose layout torch's
    clone(grad) / full_like(grad) state takes (a replayed or functional step passes its
    gradients apart: p's layout, which a gradient has unless set otherwise)."""
    g = getattr(p, "_grad", None)
    return g if g is not None and g._shape == p._shape else p


def _step_dtype():
    """torch's dtype of `state["step"]`: float64 under a float64 default dtype, else float32."""
    return D.float64 if D.get_default_dtype() is D.float64 else D.float32


def step_tensor(value=0.0, fused=False):
    """A `state["step"]` tensor; float32 for fused=True, as torch's fused kernels keep it."""
    dt = D.float32 if fused else _step_dtype()
    return state_tensor(np.array(value, dt.np), dt)


def tensor_scalar_state(opt, keys):
    """torch's __setstate__ of an optimizer with one-element state: a number held under one
    of `keys` (an old state dict's step count) becomes a 0-d tensor of the scalar dtype
    (float32 in a fused group, as torch's _get_scalar_dtype(is_fused=True))."""
    for group in opt.param_groups:
        fused = group.get("fused")
        for p in group["params"]:
            st = opt.state.get(p)
            for key in keys if st else ():
                if key in st and not isinstance(st[key], Tensor):
                    st[key] = step_tensor(float(st[key]), fused)


_is = operator.is_


def _addressable(pstate, key, dt, size, shape=None, grad_first=False):
    """The array of state tensor pstate[key] as a kernel may address it: contiguous, of dtype
    dt and `size` elements.  A loaded state of another dtype (or a float step count) is
    converted, as torch casts state to its parameter's dtype; another size raises, as the
    in-place op reading it would in torch: with its message where the state's shape and the
    gradient's (`shape`; `grad_first`: the gradient is that op's tensor a) do not broadcast."""
    t = pstate[key]
    if not isinstance(t, Tensor):     # e.g. an int step from an old state dict
        t = pstate[key] = state_tensor(np.array(t, dt.np), dt)
    arr = t._v
    # (an array of another layout is kept: the pack stages it, as torch's state keeps the
    # strides it was made with)
    if type(arr) is float or arr.dtype != dt.np:
        arr = np.array(arr, dt.np, order="C")   # (a copy, 0-d kept: not ascontiguousarray)
        t._v, t._dtype = arr, dt
    if arr.size != size:
        msg = None if shape is None else errors.broadcast_mismatch(
            *((shape, t._shape) if grad_first else (t._shape, shape)))
        raise RuntimeError(msg or f"optimizer state '{key}' has {arr.size} elements where its "
                                  f"parameter has {size}")
    return arr


class _Pack:
    """The parameters of one group (and one dtype) that have a gradient, as the kernels take
    them: data addresses, gradient offsets, staging for float-backed values."""
    __slots__ = ("params", "dt", "like", "tlike", "slike", "P", "off", "goff", "G",
                 "stage", "staged", "state", "counters", "leaf", "keep", "staged_floats",
                 "staged_arrays", "zeros8", "mixed", "runs", "arrays", "arrays_held", "floats",
                 "keys", "outer", "dicts", "state_arrays", "state_staged", "restage")

    def __init__(self, params, dt, state_keys, state, scalars=("step",), grad_first=False):
        self.params = params
        self.dt = dt
        npdt = dt.np
        self.like = np.zeros(0, npdt)
        sizes = np.array([p.numel() for p in params], np.int64)
        self.off = np.zeros(len(params) + 1, np.int64)
        np.cumsum(sizes, out=self.off[1:])
        self.goff = self.off[:-1]
        self.zeros8 = np.zeros(len(params), np.uint8)   # (a kernel's all-false flags)
        self.G = np.empty(int(self.off[-1]), npdt)
        self.mixed = self.runs = None   # load_grads' plan for gradients of mixed kinds
        held, staged = [], []
        for j, p in enumerate(params):
            v = p._v
            if type(v) is float:
                held.append(float)
                staged.append(j)
            else:
                held.append(v)
                if not (v.flags.c_contiguous and v.dtype == npdt):
                    staged.append(j)
        self.staged = staged
        # (stored()'s identity checks: parameters held as arrays, and those held as floats)
        self.arrays = [p for p, v in zip(params, held) if v is not float]
        self.arrays_held = [v for v in held if v is not float]
        self.floats = [p for p, v in zip(params, held) if v is float]
        ssz = [int(sizes[j]) for j in staged]
        self.stage = np.empty(sum(ssz), npdt)
        soff = np.concatenate([[0], np.cumsum(ssz)]).astype(np.int64) if ssz else None
        base = self.stage.ctypes.data
        P = np.empty(len(params), np.int64)
        for j, v in enumerate(held):
            if v is not float:
                P[j] = v.ctypes.data
        for k, j in enumerate(staged):
            P[j] = base + int(soff[k]) * np.dtype(npdt).itemsize
        self.P = P
        self.keep = []
        self.state_staged = []   # (state array, its row-major copy the kernel addresses)
        self.state = {}
        self.slike = {}     # one-element state (`scalars`: step, NAdam's mu_product...): its dtype
        self.keys = tuple(state_keys)
        for key in state_keys:
            if key in scalars:
                want = state[params[0]][key]
                want = want._dtype if isinstance(want, Tensor) else _step_dtype()
                want = want if want.is_floating_point else D.float32
                self.slike[key] = np.zeros(0, want.np)
            else:
                want = dt
            arrs = [_addressable(state[p], key, want, 1, None) if key in scalars else
                    _addressable(state[p], key, want, p.numel(), p._shape, grad_first)
                    for p in params]
            self.keep.append(arrs)
            self.state[key] = np.array([self._address(a) for a in arrs], np.int64)
        # what state_current() compares: the whole opt.state (its keys and values: looking up
        # each parameter's entry costs more, a tensor's hash being a Python call), and per key
        # the arrays of the parameters' state tensors
        self.outer = self.dicts = None
        if state_keys:      # (without, no state: state[p] of a defaultdict would make an entry)
            self.outer = (list(state), list(state.values()))
            self.dicts = [state[p] for p in params]
        self.state_arrays = [(key, arrs) for key, arrs in zip(state_keys, self.keep)]
        self.restage = bool(staged or self.state_staged)
        self.tlike = self.slike.get("step")
        self.counters = [version_counter(p) for p in params]
        self.leaf = all(p._tape is None for p in params)
        # staged values: (params, stage slice) of floats, (param, start, end) of arrays
        self.staged_floats = None
        self.staged_arrays = []
        if staged:
            flt = [k for k, j in enumerate(staged) if held[j] is float]
            if len(flt) == len(staged):          # all floats: one list in, one list out
                self.staged_floats = [params[j] for j in staged]
            else:
                self.staged_arrays = [(params[j], int(soff[k]), int(soff[k + 1]))
                                      for k, j in enumerate(staged)]

    def _address(self, a):
        """The address the kernels take for state array a (in its parameter's flat order):
        its own, or that of a row-major copy staged in and out around each step (a state
        tensor laid out as a non-contiguous parameter, state_like)."""
        if not a.flags.c_contiguous:
            c = np.empty(a.shape, a.dtype)
            self.state_staged.append((a, c))
            a = c
        return a.ctypes.data

    def valid(self, params):
        """params are the pack's parameters, with the storage it holds."""
        return (len(params) == len(self.params) and all(map(_is, params, self.params))
                and self.stored())

    def stored(self):
        """The parameters' storage is what the pack holds: the same array, or a float where a
        float is staged (no `.data` set since)."""
        floats = self.floats   # (comprehensions: 3.11 reads a slot faster than attrgetter)
        return (all(map(_is, [p._v for p in self.arrays], self.arrays_held))
                and [type(p._v) for p in floats].count(float) == len(floats))

    def state_current(self, state):
        """The state arrays the pack addresses are still those torch's step would read, of
        state[p][key]: no entry of `state` replaced or removed, no state tensor replaced by
        one of other storage and no `.data` set since the pack was made (by identity)."""
        if self.outer is None:
            return True
        keys, values = self.outer
        if not (len(state) == len(keys) and all(map(_is, state, keys))
                and all(map(_is, state.values(), values))):
            return False
        dicts = self.dicts      # (the same dicts as state's entries, checked above)
        try:
            for key, arrays in self.state_arrays:
                if not all(map(_is, [d[key]._v for d in dicts], arrays)):
                    return False
        except (KeyError, AttributeError):      # a state entry removed, or not a tensor
            return False
        return True

    def load_grads(self):
        """Concatenate the gradients into G."""
        gv = [p._grad._v for p in self.params]
        kinds = [type(v) is float for v in gv]
        G = self.G
        if not any(kinds):
            if len(gv) == 1:
                G[:] = gv[0].reshape(-1)
            else:
                np.concatenate(gv, axis=None, out=G)
        elif all(kinds):
            G[:] = gv
        else:
            # arrays and floats (a one-element parameter's gradient, e.g. a 1-output layer's
            # bias): each run of arrays by one concatenate, each float by one store; a float
            # given to concatenate as (v,) costs more than the whole rest (an array made from
            # a tuple, then cast: ~3 us of the nn MLP's ~6 us load)
            if kinds != self.mixed:
                self.mixed, self.runs = kinds, self._runs(kinds)
            for i, j, out in self.runs:
                if out is None:
                    G[i] = gv[j]
                else:
                    np.concatenate(gv[i:j], axis=None, out=out)

    def _runs(self, kinds):
        """load_grads' plan for gradients of these kinds (True: a float): (offset in G, param,
        None) per float, (first param, end param, its slice of G) per run of arrays."""
        runs, off, G = [], self.off, self.G
        j, n = 0, len(kinds)
        while j < n:
            if kinds[j]:
                runs.append((int(off[j]), j, None))
                j += 1
                continue
            i = j
            while j < n and not kinds[j]:
                j += 1
            runs.append((i, j, G[off[i]:off[j]]))
        return runs

    def stage_in(self):
        """Copy the staged parameters' values into the stage buffer (and staged state into
        its copies)."""
        for a, c in self.state_staged:
            c[...] = a
        sf = self.staged_floats
        if sf is not None:
            if len(sf) == 1:            # (one float: no list)
                self.stage[0] = sf[0]._v
            else:
                self.stage[:] = [p._v for p in sf]
            return
        stage = self.stage
        for p, a, b in self.staged_arrays:
            v = p._v
            if type(v) is float:
                stage[a] = v
            else:
                stage[a:b] = v.reshape(-1)

    def stage_out(self):
        """Write the updated stage buffer back into the staged parameters (and the staged
        state's copies back into it)."""
        for a, c in self.state_staged:
            a[...] = c
        sf = self.staged_floats
        if sf is not None:
            if len(sf) == 1:
                sf[0]._v = self.stage.item(0)
            else:
                for p, v in zip(sf, self.stage.tolist()):
                    p._v = v
            return
        stage = self.stage
        for p, a, b in self.staged_arrays:
            if type(p._v) is float:
                p._v = float(stage[a])
            else:
                p._v[...] = stage[a:b].reshape(p._shape)

    def bump(self, times):
        """The version bumps of `times` in-place ops on every parameter (torch's add_ etc.)."""
        if self.leaf:
            for p in self.params:
                p._lserial = 0    # a later use records the new value (tape.leaf_node)
            if not (STATE.tape.sealed and STATE.parked.sealed):
                for c in self.counters:   # (recorded views on the open tape: see bump_version)
                    if len(c) > 1:
                        views_go_stale(c)
            for c in self.counters:
                c[0] += times
            BUMPS[0] += 1
        else:
            for p in self.params:
                p._lserial = 0
                for _ in range(times):
                    bump_version(p)


class Optimizer(OptimizerHooks):
    """Base class of all optimizers (torch.optim.Optimizer): `param_groups`, `state`
    (keyed by parameter), `zero_grad`, `state_dict`/`load_state_dict`, `add_param_group`,
    step and state_dict hooks (hooks.py)."""

    OptimizerPreHook = Callable[[Any, Args, Kwargs], tuple[Args, Kwargs] | None]
    OptimizerPostHook = Callable[[Any, Args, Kwargs], None]

    # torch's step wrapper (the step hooks around `func`), for a step defined after the fact
    profile_hook_step = staticmethod(_hooked_step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._init_hooks()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        self._packs = {}
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    @staticmethod
    def _group_tensors_by_device_and_dtype(tensorlistlist, with_indices=False):
        """Lists of tensors grouped by the device and dtype of the first list's."""
        return _group_tensors_by_device_and_dtype(tensorlistlist, with_indices)

    @staticmethod
    def _process_value_according_to_param_policy(param, value, param_id, param_groups,
                                                  key=None):
        """A loaded state tensor as load_state_dict casts it (see _cast_by_param_policy)."""
        return _cast_by_param_policy(param, value, param_id, param_groups, key)

    def _accelerator_graph_capture_health_check(self):
        """torch's check of a step captured in a CUDA/XPU graph: nothing to check without such
        an accelerator (optimizers written as torch's call it first thing in step())."""

    def _cuda_graph_capture_health_check(self):
        """The deprecated name of _accelerator_graph_capture_health_check (torch's warning)."""
        warnings.warn("Use _accelerator_graph_capture_health_check instead",
                      DeprecationWarning, stacklevel=2)
        self._accelerator_graph_capture_health_check()

    def _optimizer_step_code(self):
        """torch's entry point for its profiler after each step (empty, as torch's)."""

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    # What torch's __setstate__ of each optimizer gives a pickle from an older version: the
    # param-group settings it lacked, (key, default) in that class's order, and (flag) its
    # one-element state numbers as 0-d tensors
    _group_defaults = ()
    _tensor_state_on_load = False

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_hooks()
        self._packs = {}
        self.defaults.setdefault("differentiable", False)
        for group in self.param_groups:
            for key, value in self._group_defaults:
                group.setdefault(key, value)
        if self._tensor_state_on_load:
            tensor_scalar_state(self, self._scalar_state)

    def __repr__(self):
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        format_string += ")"
        return format_string

    # ---- parameter groups --------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a parameter group (a dict with "params" and any of the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) == len(tensors):
                param_group["param_names"] = names
            else:
                raise ValueError("all optimizer params should be with/without names. Some "
                                 "param names are missing")
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not self.defaults.get("differentiable", None) and not (
                    param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len(set(map(id, params))):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        param_set = set()
        for group in self.param_groups:
            param_set.update(map(id, group["params"]))
            if ("param_names" in param_group) != ("param_names" in group):
                current = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {current} to the optimizer")
        if not param_set.isdisjoint(map(id, param_group["params"])):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ---- gradients ---------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors: to None (default, as torch 2.x) or to
        zeros in place."""
        trace = TRACE.current
        if trace is not None:   # tracing a step for tapegrad.compile: noted, not run
            return trace.optimizer_zero_grad(self, set_to_none)
        with COMMIT:    # (a Ctrl-C never leaves some groups reset and others not)
            for group in self.param_groups:
                zero_grads(group["params"], set_to_none)

    def step(self, closure=None):
        """One optimization step; `closure` re-evaluates the model and returns the loss."""
        self._check_step_flags()
        trace = TRACE.current
        if trace is not None:   # tracing a step for tapegrad.compile: noted, not run
            return trace.optimizer_step(self, closure)
        loss = None
        if closure is not None:
            with switched_grad(True):
                loss = closure()
        with switched_grad(False):
            self._groups_step([(i, group, None, None)
                               for i, group in enumerate(self.param_groups)])
        return loss

    # ---- the fused step ----------------------------------------------------------------------
    # Subclasses define _state_keys(group) (the state tensors the kernel addresses, in order),
    # _init_state(group, p, state) (torch's lazy state creation) and _run (the kernel call);
    # _scalar_state: the keys of one-element state tensors of their own dtype (not p's).
    _scalar_state = ("step",)

    def _state_keys(self, group):
        return ()

    def _init_state(self, group, p, state):
        """Create p's state at its first step; True if something was created."""
        return False

    def _packs_of(self, index, group, params, undo):
        """The packs (one per dtype) of `params` (the group's parameters that have a
        gradient), with new state made for those stepping the first time; `undo` gets
        (parameter, its state entry before or None) for each entry this may change."""
        if not params:
            return ()
        cached = self._packs.get(index)
        if cached is not None:
            held, packs, nstate = cached
            # the same parameters, storage and state as when the packs were made: torch's step
            # reads opt.state afresh, so a replaced entry, tensor or .data takes effect
            if (len(held) == len(params) and all(map(_is, params, held))
                    and nstate == len(self.state)
                    and all([pk.stored() and self._state_current(group, pk) for pk in packs])):
                return packs
        for p in params:
            if not p._dtype.is_floating_point:     # (the kernels take floating parameters)
                raise self._integer_param_error(group, p)
        state = self.state
        created = False
        for p in params:
            undo.append((p, dict(state[p]) if p in state else None))
            created |= self._init_state(group, p, state[p])
            if not state[p]:
                del state[p]    # (as torch: no entry for a parameter without state)
        by_dtype = {}
        for p in params:
            by_dtype.setdefault(p._dtype, []).append(p)
        keys = self._state_keys(group)
        for p in params:
            for key in keys:
                v = state[p].get(key) if key not in self._scalar_state else None
                if isinstance(v, Tensor) and v._dtype is not p._dtype and \
                        v._dtype.is_floating_point and p._dtype.is_floating_point:
                    error = self._state_dtype_error(group, key, v._dtype, p._dtype)
                    if error is not None:
                        raise error
        packs = [_Pack(ps, dt, keys, state, self._scalar_state, self._grad_is_operand_a)
                 for dt, ps in by_dtype.items()]
        if not created:
            self._packs[index] = (params, packs, len(state))
        else:
            self._packs.pop(index, None)
        return packs

    def _state_current(self, group, pack):
        """The state keys group's settings ask for (e.g. SGD's momentum turned on) and the
        state pack addresses are as when it was made."""
        return pack.keys == self._state_keys(group) and pack.state_current(self.state)

    def _group_step(self, index, group, params=None, grads=None):
        """Update `params` (default: the group's parameters that have a `.grad`) with their
        `.grad`, or with the gradients `grads(pack)` says where to find: (array, offsets)."""
        self._groups_step([(index, group, params, grads)])

    def _groups_step(self, work):
        """_group_step of each (index, group, params, grads) of `work` as one step: every
        group is checked and its packs made (new state too) before any is updated, then all
        are updated in one COMMIT.  So a failing check or a Ctrl-C leaves every parameter
        and the state as they were (torch's step updates group by group, and its state is
        made before the checks)."""
        undo = []
        try:
            ready = [self._group_ready(index, group, params, grads, undo)
                     for index, group, params, grads in work]
        except BaseException:
            self._undo_state(undo)
            raise
        with COMMIT:
            for items in ready:
                for group, pack, goff, G in items:
                    self._step_packs(((group, pack, goff),), G)

    def _group_ready(self, index, group, params, grads, undo):
        """The (group, pack, gradient offsets, gradient array) of each pack of a group's
        update, checked and with its gradients loaded; nothing updated yet."""
        if params is None:
            params = [p for p in group["params"] if getattr(p, "_grad", None) is not None]
        if grads is None:
            for p in params:
                if p._grad._shape != p._shape:   # (the grad setter checks; .data may not)
                    raise self._grad_shape_error(p._shape, p._grad._shape)
        items = []
        for pack in self._packs_of(index, group, params, undo):
            if grads is None:
                pack.load_grads()
                items.append((group, pack, pack.goff, pack.G))
            else:
                G, goff = grads(pack)
                items.append((group, pack, goff, G))
        return items

    # which operand of torch's first in-place op on a parameter's gradient is the parameter's
    # (its state's) shape: tensor a (Rprop's first op is the gradient's)
    _grad_is_operand_a = False

    def _grad_shape_error(self, shape, gshape):
        """torch's error from the first in-place op of a step on a gradient of another shape
        than its parameter: the sizes that do not broadcast, else the broadcast shape that
        is not the parameter's."""
        pair = (gshape, shape) if self._grad_is_operand_a else (shape, gshape)
        msg = errors.broadcast_mismatch(*pair)
        if msg is not None:
            return RuntimeError(msg)
        both = np.broadcast_shapes(shape, gshape)
        if both != tuple(shape):
            return errors._inplace_shape_error(shape, both)
        return NotImplementedError(
            f"tapegrad: a gradient of shape {list(gshape)} for a parameter of shape "
            f"{list(shape)}: torch broadcasts it in the update (its state then takes the "
            f"gradient's shape or the parameter's, by optimizer); tapegrad's steps do not")

    def _undo_state(self, undo):
        """Put back the state entries _packs_of changed (a step that failed before its
        update): each as it was, or removed where it was made."""
        state = self.state
        dropped = []
        for p, old in reversed(undo):
            now = state.pop(p, None) if old is None else state[p]
            if now:
                dropped += [v for k, v in now.items() if old is None or old.get(k) is not v]
            if old is not None:
                now.clear()
                now.update(old)
        self._packs.clear()
        self._state_dropped(dropped)

    def _integer_param_error(self, group, p):
        """torch's error for a step of an integer or bool parameter: its fused kernels' check,
        else the first of its in-place ops that cannot take one (the L2 decay's
        grad.add(param, alpha=weight_decay), then the update's: _integer_update_error)."""
        if group.get("fused"):
            try:
                _device_dtype_check_for_fused(p)
            except RuntimeError as e:
                return e
        wd = group.get("weight_decay", 0)
        if wd != 0 and not group.get("decoupled_weight_decay"):
            return _integral_alpha_error(wd, self, p)
        return self._integer_update_error(group, p)

    def _integer_update_error(self, group, p):
        """torch's update on an integer or bool parameter: an in-place op whose float result
        the parameter cannot take."""
        return RuntimeError(f"result type {D.get_default_dtype().legacy} can't be cast to the "
                            f"desired output type {p._dtype.legacy}")

    def _lerps_state(self, group):
        """Whether torch's step lerps the gradient into the state (exp_avg.lerp_(grad, ...)),
        which refuses a gradient of another dtype."""
        return False

    def _lerp_update_error(self, group, p):
        """_integer_update_error of a step that lerps into its state: the decoupled decay's
        param.mul_ first, else the lerp (no integer kernel)."""
        if group.get("weight_decay", 0) != 0 and group.get("decoupled_weight_decay"):
            return Optimizer._integer_update_error(self, group, p)
        return NotImplementedError(f"\"lerp_kernel_scalar\" not implemented for "
                                   f"'{p._dtype.legacy}'")

    def _state_dtype_error(self, group, key, state_dt, param_dt):
        """torch's error for a step on state of another floating dtype than its parameter's
        (the model converted after the optimizer's first step): a fused group's kernel and a
        lerp of the gradient into the state refuse it; None where torch's step computes in
        both dtypes (the state is then converted to the parameter's: docs/optim.md)."""
        if group.get("fused"):
            return RuntimeError(f"expected scalar type {param_dt.legacy} but found "
                                f"{state_dt.legacy}")
        if self._lerps_state(group):
            return RuntimeError(f"expected dtype {errors._C_TYPE[state_dt.name]} for `end` "
                                f"but got dtype {errors._C_TYPE[param_dt.name]}")
        return None

    def _state_dropped(self, values):
        """State tensors made by a step that failed and removed again (SGD's fresh
        momentum buffers: forgotten)."""

    def _step_packs(self, items, G):
        """The update of _group_step for packs already made and checked (a compiled step's
        plan, trainstep.StepProgram): items are (group, pack, gradient offsets into G).  The
        caller holds COMMIT (a Ctrl-C waits until the whole step is done)."""
        K = fused()
        for group, pack, goff in items:
            if pack.restage:
                pack.stage_in()
            self._run(K, group, pack, G, goff)
            if pack.restage:
                pack.stage_out()
            pack.bump(self._bumps(group))

    def _run(self, K, group, pack, G, goff):
        """One kernel call: pack's parameters updated with the gradients in G from goff."""
        raise NotImplementedError

    def _bumps(self, group):
        """How many in-place ops torch's step makes on each parameter (its version count):
        none for fused=True (SGD, Adagrad, Adam), whose fused kernels do not count theirs."""
        return 0 if group.get("fused") else 1

    # ---- state_dict --------------------------------------------------------------------------
    def state_dict(self):
        """{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]} as torch."""
        self._state_dict_pre()
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update({id(p): i for i, p in enumerate(group["params"], start_index)
                                   if id(p) not in param_mappings})
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        return self._state_dict_post({"state": packed_state, "param_groups": param_groups})

    def load_state_dict(self, state_dict):
        """Load a state_dict() (this optimizer's or a torch-format one).  As torch's, the state
        tensors are shared, not copied: each is cast with `.to` (the same tensor when nothing
        changes) to its parameter's floating dtype, `step` kept as it is (float32 in a fused
        or capturable group); a torch tensor (a state dict saved by torch) becomes ours."""
        state_dict = self._load_state_dict_pre(state_dict.copy())
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def _cast(param, value, param_id, key=None):
            # torch's _cast: a tensor by its parameter's policy, a dict item by item (with its
            # key), any other iterable rebuilt as type(value)(its items cast)
            if _is_torch_tensor(value):
                value = _from_torch(value)
            if isinstance(value, Tensor):
                return _cast_by_param_policy(param, value, param_id,
                                             state_dict["param_groups"], key)
            if isinstance(value, dict):
                return {k: _cast(param, v, param_id, k) for k, v in value.items()}
            if isinstance(value, Iterable):
                # (as torch's, a str too: it becomes its generator's repr)
                return type(value)(_cast(param, v, param_id) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v, k)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        self._load_state_dict_post()


def check_state_steps(values, what="state_steps"):
    """torch's check of a functional step's one-element state (numbers from an old API)."""
    if not all(isinstance(t, Tensor) for t in values):
        raise RuntimeError(f"API has changed, `{what}` argument must contain a list of "
                           f"singleton tensors")


def _integral_alpha_error(alpha, opt, p):
    """torch's error for an integer or bool tensor's add with alpha (a float: its parser's
    check); an integral alpha computes in integers there, which tapegrad's kernels do not."""
    if isinstance(alpha, float):
        return RuntimeError("For integral input tensors, argument alpha must not be a floating "
                            "point number.")
    return NotImplementedError(f"tapegrad: {type(opt).__name__} steps of a {p._dtype} parameter "
                               f"with integral hyperparameters (torch's integer arithmetic) "
                               f"are not implemented")


def functional_step(cls, params, grads, lists, group):
    """torch's functional optimizer API (torch.optim.adam.adam & co.): one step of optimizer
    class `cls` with the settings `group` over `params` and their `grads`, the state tensors
    given in `lists` ({state key: one tensor per parameter}) updated in place.  A None in a
    list is state the step makes, then put in the list (SGD's first momentum buffers, as
    torch's).  Through the class's fused kernel, as its step() (no hooks, as torch's)."""
    if is_grad_enabled() and any(p.is_leaf and p.requires_grad for p in params):
        # (torch's in-place update of such a parameter outside no_grad)
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    state = defaultdict(dict)
    for key, values in lists.items():
        for p, v in zip(params, values, strict=True):
            if v is not None:
                state[p][key] = v
    # (an optimizer as unpickled: no construction-time checks, which torch's functions lack)
    opt = cls.__new__(cls)
    opt.__setstate__({"defaults": dict(group), "state": state,
                      "param_groups": [dict(group, params=list(params))]})
    opt._check_step_flags()
    given = {id(p): g for p, g in zip(params, grads, strict=True)}
    for p in params:
        if given[id(p)]._shape != p._shape:
            raise opt._grad_shape_error(p._shape, given[id(p)]._shape)

    def gradients(pack):
        G = np.concatenate([np.ravel(given[id(p)]._array()) for p in pack.params])
        return G.astype(pack.dt.np, copy=False), pack.goff
    with switched_grad(False):
        opt._group_step(0, opt.param_groups[0], list(params), gradients)
    for key, values in lists.items():
        for i, p in enumerate(params):
            if values[i] is None:
                values[i] = state[p].get(key)


def _cast_by_param_policy(param, value, param_id, param_groups, key):
    """torch's Optimizer._process_value_according_to_param_policy: state tensor `value` of
    parameter `param` (index param_id in the loaded param_groups) as loaded."""
    fused = capturable = False
    for pg in param_groups:
        if param_id in pg["params"]:
            fused = pg.get("fused", False)
            capturable = pg.get("capturable", False)
            break
    if key == "step":   # (not cast: pytorch/pytorch#74424, unless fused or capturable)
        return value.to(dtype=D.float32) if capturable or fused else value
    if param.is_floating_point():
        return value.to(dtype=param.dtype)
    return value        # (torch's value.to(device=param.device): the same tensor on the CPU)


def _from_torch(value):
    """A torch tensor's values as a tapegrad state tensor of its dtype."""
    arr = _as_array(value)
    return state_tensor(np.array(arr, copy=True), _dtype_named(arr.dtype))


def _is_torch_tensor(value):
    """A torch.Tensor (a state dict saved by torch), recognised without importing torch."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach") \
        and hasattr(value, "numpy")


def _as_array(value):
    if isinstance(value, Tensor):
        return value._array()
    return value.detach().cpu().numpy()


def _dtype_named(npdt):
    return {np.dtype(np.float32): D.float32, np.dtype(np.float64): D.float64,
            np.dtype(np.int64): D.int64, np.dtype(np.int32): D.int32,
            np.dtype(np.bool_): D.bool_}[np.dtype(npdt)]
