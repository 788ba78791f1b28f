"""`tapegrad.amp`: torch.amp's `autocast` and `GradScaler`, as torch's CPU build has them.

tapegrad computes in float32/float64 only (no float16, no bfloat16, no CUDA), so:

* `autocast` keeps torch's per-thread state, checks, warnings and errors, and is a no-op
  wherever torch's CPU build is one for CPU tensors: "cuda" warns and disables itself, a
  dtype other than bfloat16/float16 warns and disables, `enabled=False`, and the device types
  whose tensors tapegrad cannot hold (mps, xpu, hpu, "cuda:0", ...: enabled as in torch, but
  no tensor of theirs exists).  An enabled CPU autocast would run ops in bfloat16/float16,
  which tapegrad cannot do: it raises `NotImplementedError` rather than computing in float32
  silently.  torch's default autocast dtypes (bfloat16 for "cpu", float16 for "cuda", ...)
  are dtypes tapegrad lacks: they are held as `Absent` names, and `get_autocast_dtype`
  raises `NotImplementedError` for them instead of returning a stand-in.
* `GradScaler` is torch's loss scaling for real on the CPU: the float32 scale and int32 growth
  tracker are tapegrad tensors, gradients are unscaled by the float32 reciprocal (computed in
  float64) and checked for inf/NaN per optimizer, steps with non-finite gradients are
  skipped, and `update` follows `torch._amp_update_scale_` bit for bit.
"""
import collections.abc
import functools
import inspect
import threading
import warnings
from collections import defaultdict
from enum import Enum

import numpy as np

from . import dtypes as D
from ._signals import COMMIT
from .creation import full
from .devices import device as _device
from .grad_mode import switched_grad
from .tensor import Tensor

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler",
           "is_autocast_enabled", "get_autocast_dtype", "is_autocast_cache_enabled"]


# ---- autocast state -------------------------------------------------------------------------
class Absent:
    """A torch dtype tapegrad does not have (bfloat16, float16), named where torch would hold
    it: the default autocast dtypes.  Not a tapegrad dtype: no tensor can have it."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


BFLOAT16, FLOAT16 = Absent("bfloat16"), Absent("float16")
_SUPPORTED = (BFLOAT16, FLOAT16)        # torch's device_supported_dtypes, in its order

# torch's default autocast dtype per device type (`get_autocast_dtype` in a fresh thread);
# hip has a default but no autocast
_DEFAULT_DTYPE = {"cpu": BFLOAT16, "cuda": FLOAT16, "mps": FLOAT16, "xpu": FLOAT16,
                  "hpu": BFLOAT16, "mtia": FLOAT16, "maia": BFLOAT16, "xla": BFLOAT16,
                  "ipu": FLOAT16, "privateuseone": FLOAT16, "hip": FLOAT16}
_AVAILABLE = ("cpu", "cuda", "mps", "xpu", "hpu", "mtia", "maia", "xla", "ipu", "privateuseone")
_NO_DISPATCH_KEY = "unknown device type for autocast in get_autocast_dispatch_key_from_device_type"


class _State(threading.local):
    """The autocast state is thread-local, as torch's."""

    def __init__(self):
        self.enabled = {}               # device type -> bool (absent: False)
        self.dtype = {}                 # device type -> dtype or Absent (absent: the default)
        self.cache_enabled = True


_STATE = _State()


def _device_type(fn, device_type):
    """The device type of a device string, with torch's argument and parse errors."""
    if not isinstance(device_type, str):
        raise TypeError(f"{fn}(): argument 'device_type' (position 1) must be str, not "
                        f"{type(device_type).__name__}")
    return _device(device_type).type


def is_autocast_available(device_type):
    """Whether autocast exists for `device_type` (torch's answer: cpu, cuda, mps, xpu, ...)."""
    return _device_type("_is_autocast_available", device_type) in _AVAILABLE


def is_autocast_enabled(device_type=None):
    """Whether autocast is on for `device_type` in this thread (no argument: "cuda").  Only a
    CPU autocast would change what tapegrad computes, and it cannot be on (see `autocast`)."""
    kind = "cuda" if device_type is None else _device_type("is_autocast_enabled", device_type)
    if kind not in _AVAILABLE:
        raise RuntimeError(_NO_DISPATCH_KEY)
    return _STATE.enabled.get(kind, False)


def _autocast_dtype(device_type):
    """The autocast dtype of a device type: a tapegrad dtype, or an `Absent` one."""
    kind = _device_type("get_autocast_dtype", device_type)
    dt = _STATE.dtype.get(kind, _DEFAULT_DTYPE.get(kind))
    if dt is None:
        raise RuntimeError("unsupported scalarType")
    return dt


_MISSING = object()


def get_autocast_dtype(device_type=_MISSING):
    """The dtype autocast would run ops in on `device_type`.  torch's defaults (bfloat16 on the
    CPU, float16 on CUDA) are dtypes tapegrad does not have: for them this raises
    `NotImplementedError` (a tapegrad dtype comes back only when one was set, e.g. by a
    disabled `autocast(..., dtype=tapegrad.float32)`)."""
    if device_type is _MISSING:
        raise TypeError('get_autocast_dtype() missing 1 required positional arguments: '
                        '"device_type"')
    dt = _autocast_dtype(device_type)
    if isinstance(dt, Absent):
        raise NotImplementedError(
            f"torch.get_autocast_dtype({device_type!r}) is torch.{dt.name}, and tapegrad has no "
            f"{dt.name} dtype (it computes in float32 and float64 only)")
    return dt


def is_autocast_cache_enabled():
    """Whether autocast's weight cache is on in this thread (True unless an autocast with
    `cache_enabled=False` is open; tapegrad has no cast to cache)."""
    return _STATE.cache_enabled


_CPU_AUTOCAST = ("autocast on the CPU would run ops in {dt}, and tapegrad has no {name} dtype "
                 "(it computes in float32 and float64 only), so it cannot honour autocast("
                 "{device!r}) enabled.  Pass enabled=False (e.g. enabled=use_amp with use_amp "
                 "False on the CPU) to run in full precision.")


class autocast:
    """Context manager and decorator, as `torch.autocast(device_type, dtype=None,
    enabled=True, cache_enabled=None)`.  On tapegrad it is a no-op where torch's CPU build is
    one (with torch's warnings), and raises `NotImplementedError` where torch would compute on
    the CPU in bfloat16/float16 (see the module's docstring)."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.fast_dtype = _autocast_dtype(device_type) if dtype is None else dtype
        self.device = device_type
        if not is_autocast_available(self.device):
            raise RuntimeError(
                f"User specified an unsupported autocast device_type '{self.device}'")
        self.custom_backend_name = "privateuseone"
        if self.device == self.custom_backend_name:
            # torch: the backend must have registered a module with get_amp_supported_dtype
            raise AssertionError(
                "Tried to use AMP with the `privateuseone` backend, but the backend has not "
                "registered a module or  the module miss some necessary funcs. The backend "
                "should register a module by `torch._register_device_module`, and the module "
                "must have these funcs: \n`get_amp_supported_dtype() -> List[torch.dtype]`. \n")
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None \
            else cache_enabled
        device_name = self.device.upper()
        if enabled:
            if self.device == "cuda":
                # tapegrad has no CUDA (torch: amp_definitely_not_available())
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                              "autocast.", stacklevel=2)
                enabled = False
            elif not any(self.fast_dtype is d for d in _SUPPORTED):
                warnings.warn(
                    f"In {device_name} autocast, but the target dtype is not supported. "
                    f"Disabling autocast.\n{device_name} Autocast only supports dtypes of "
                    + ", ".join(map(repr, _SUPPORTED)) + " currently.", stacklevel=2)
                enabled = False
            elif _device(self.device).type == "cpu":
                raise NotImplementedError(_CPU_AUTOCAST.format(
                    dt=self.fast_dtype, name=self.fast_dtype.name, device=self.device))
        self._enabled = enabled

    def __enter__(self):
        kind = _device(self.device).type
        if not isinstance(self.fast_dtype, (D.dtype, Absent)):
            raise TypeError(f"set_autocast_dtype(): argument 'dtype' (position 2) must be "
                            f"torch.dtype, not {type(self.fast_dtype).__name__}")
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(kind)
        self.prev_fastdtype = _autocast_dtype(kind)
        _STATE.enabled[kind] = bool(self._enabled)
        _STATE.dtype[kind] = self.fast_dtype
        _STATE.cache_enabled = bool(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        kind = _device(self.device).type
        _STATE.enabled[kind] = self.prev
        _STATE.dtype[kind] = self.prev_fastdtype
        _STATE.cache_enabled = self.prev_cache_enabled
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(func).__name__}. "
                f"Did you mean to use autocast as a context manager? For example:\n"
                f"    with torch.autocast(device_type=...):\n"
                f"        output = model(input)")

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return decorate_autocast


def _cast(value, device_type, dtype):
    """torch's casting of Tensors (and containers of them) for custom_fwd(cast_inputs=)."""
    if isinstance(value, Tensor):
        eligible = value.is_floating_point() and value.device.type == device_type \
            and value.dtype is not D.float64
        return value.to(dtype) if eligible else value
    if isinstance(value, (str, bytes, np.ndarray)):
        return value
    if isinstance(value, collections.abc.Mapping):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype)
                for k, v in value.items()}
    if isinstance(value, collections.abc.Iterable):
        iterable = (_cast(v, device_type, dtype) for v in value)
        return type(value)(iterable) if isinstance(value, (list, tuple)) else iterable
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """torch.amp.custom_fwd: a decorator for a custom Function's forward that records the
    autocast state (and with `cast_inputs`, runs forward outside autocast on cast inputs)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = _autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        autocast_context = is_autocast_enabled(device_type)
        args[0]._fwd_used_autocast = False
        if autocast_context:
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast(args, device_type, cast_inputs),
                           **_cast(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """torch.amp.custom_bwd: runs a custom Function's backward in its forward's autocast
    state."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        with autocast(device_type=device_type, enabled=args[0]._fwd_used_autocast,
                      dtype=args[0]._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd


# ---- GradScaler -----------------------------------------------------------------------------
class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state():
    # (a module-level factory, so that a GradScaler pickles)
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class _MultiDeviceReplicator:
    """A tensor's copies per device, made on first request (torch's; one device here)."""

    def __init__(self, master):
        self.master = master
        self._per_device_tensors = {}

    def get(self, dev):
        t = self._per_device_tensors.get(dev)
        if t is None:
            t = self._per_device_tensors[dev] = self.master.clone()
        return t


def _non_finite_check_and_unscale_(grads, found_inf, inv_scale):
    """torch._amp_foreach_non_finite_check_and_unscale_ on the CPU: found_inf becomes 1.0 if
    any element is inf or NaN, and every gradient is multiplied in place by inv_scale (float32
    gradients in float32, float64 ones by the float32 value in float64)."""
    for g in grads:
        if not np.isfinite(g.detach().numpy()).all():
            found_inf.fill_(1.0)
        g.mul_(inv_scale)


def _update_scale_(scale, growth_tracker, found_inf, growth_factor, backoff_factor,
                   growth_interval):
    """torch._amp_update_scale_ on the CPU: the float32 scale times the factor in double,
    stored as float32 (a growth only if finite); the int32 tracker counts clean steps."""
    s = np.float32(scale.item())
    if found_inf.item():
        with np.errstate(over="ignore"):
            scale.fill_(float(np.float32(np.float64(s) * backoff_factor)))
        growth_tracker.fill_(0)
        return
    successful = int(growth_tracker.item()) + 1
    if successful == growth_interval:
        with np.errstate(over="ignore"):        # (a growth past float32's range: inf, kept out)
            grown = np.float32(np.float64(s) * growth_factor)
        if np.isfinite(grown):
            scale.fill_(float(grown))
        growth_tracker.fill_(0)
    else:
        growth_tracker.fill_(successful)


class GradScaler:
    """torch.amp.GradScaler(device="cuda", init_scale=2.**16, growth_factor=2.0,
    backoff_factor=0.5, growth_interval=2000, enabled=True): loss scaling with torch's
    semantics.  "cuda" warns and disables itself (no CUDA); "cpu" scales for real.

    `scaler.scale(loss).backward()` gives gradients times the scale; `scaler.step(opt)`
    unscales them (unless `unscale_(opt)` did), and calls `opt.step()` only if they are all
    finite; `scaler.update()` halves the scale after a skipped step and doubles it after
    `growth_interval` clean ones."""

    def __init__(self, device="cuda", init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = device
        self._enabled = enabled
        if self._device == "cuda" and enabled:
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                          "Disabling.", stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale = None              # made by the first scale()
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None     # made by the first scale()
            self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def _check_scale_growth_tracker(self, funcname):
        fix = ("This may indicate your script did not use scaler.scale(loss or outputs) "
               "earlier in the iteration.")
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self, dev):
        if self._growth_tracker is not None:
            raise AssertionError("_growth_tracker initialized before _scale")
        self._scale = full((), self._init_scale, dtype=D.float32, device=dev)
        self._growth_tracker = full((), self._init_growth_tracker, dtype=D.int32, device=dev)

    def scale(self, outputs):
        """`outputs` (a Tensor, or nested lists/tuples/iterables of them) times the scale;
        unchanged when disabled."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale
        stash = []

        def apply_scale(val):
            if isinstance(val, Tensor):
                if not stash:
                    if self._scale is None:
                        self._lazy_init_scale_growth_tracker(val.device)
                    stash.append(_MultiDeviceReplicator(self._scale))
                return val * stash[0].get(val.device)
            if isinstance(val, collections.abc.Iterable):
                iterable = map(apply_scale, val)
                return type(val)(iterable) if isinstance(val, (list, tuple)) else iterable
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")
        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale, found_inf, allow_fp16):
        per_device_inv_scale = _MultiDeviceReplicator(inv_scale)
        per_device_found_inf = _MultiDeviceReplicator(found_inf)
        grads = defaultdict(lambda: defaultdict(list))   # device -> dtype -> gradients
        with switched_grad(False):
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if not isinstance(param, Tensor):
                        raise AssertionError(
                            f"expected param to be torch.Tensor, got {type(param).__name__}")
                    if param.grad is None:
                        continue
                    # (no float16 or sparse gradients exist in tapegrad)
                    g = param.grad
                    grads[g.device][g.dtype].append(g)
            for dev, per_dtype in grads.items():
                for gs in per_dtype.values():
                    _non_finite_check_and_unscale_(gs, per_device_found_inf.get(dev),
                                                   per_device_inv_scale.get(dev))
        return per_device_found_inf._per_device_tensors

    def unscale_(self, optimizer):
        """Divide the gradients of `optimizer`'s parameters by the scale (at most once per
        optimizer between updates), noting whether any is inf or NaN."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # the reciprocal in float64, rounded to float32 (torch's)
        inv_scale = self._scale.double().reciprocal().float()
        found_inf = full((), 0.0, dtype=D.float32, device=self._scale.device)
        # (a Ctrl-C never leaves some gradients divided, or all of them without the stage
        # that keeps step() from dividing them again)
        with COMMIT:
            optimizer_state["found_inf_per_device"] = self._unscale_grads_(
                optimizer, inv_scale, found_inf, False)
            optimizer_state["stage"] = OptState.UNSCALED

    def _maybe_opt_step(self, optimizer, optimizer_state, *args, **kwargs):
        retval = None
        if not sum(v.item() for v in optimizer_state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        return retval

    def step(self, optimizer, *args, **kwargs):
        """Unscale (unless done) and call `optimizer.step(*args, **kwargs)` if the gradients
        are finite; its return value, or None when skipped."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._check_scale_growth_tracker("step")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if getattr(optimizer, "_step_supports_amp_scaling", False):
            return self._step_amp_aware(optimizer, optimizer_state, args, kwargs)
        if optimizer_state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(optimizer_state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        # (a Ctrl-C never leaves the parameters stepped without the stage that refuses a
        # second step before update())
        with COMMIT:
            retval = self._maybe_opt_step(optimizer, optimizer_state, *args, **kwargs)
            optimizer_state["stage"] = OptState.STEPPED
        return retval

    def _step_amp_aware(self, optimizer, optimizer_state, args, kwargs):
        """torch's contract with an optimizer that handles scaling itself (no tapegrad
        optimizer declares `_step_supports_amp_scaling`; a user's may): it gets `grad_scaler=`
        if its step takes one, else `grad_scale` and `found_inf` attributes for the call."""
        has_grad_scaler_kwarg = "grad_scaler" in inspect.signature(optimizer.step).parameters
        if has_grad_scaler_kwarg:
            warnings.warn(
                "GradScaler is going to stop passing itself as a keyword argument to the passed "
                "optimizer. In the near future GradScaler registers `grad_scale: Tensor` and "
                "`found_inf: Tensor` to the passed optimizer and let the optimizer use them "
                "directly.", FutureWarning, stacklevel=3)
            kwargs.update({"grad_scaler": self})
        else:
            if optimizer_state["stage"] is OptState.READY:
                self._check_inf_per_device(optimizer)
            scaler = self._scale
            found_inf = sum(t.clone() for t in optimizer_state["found_inf_per_device"].values())
            optimizer.grad_scale = (
                getattr(optimizer, "grad_scale", None)
                if optimizer_state["stage"] == OptState.UNSCALED
                else scaler * getattr(optimizer, "grad_scale", 1))
            optimizer.found_inf = found_inf
        retval = optimizer.step(*args, **kwargs)
        optimizer_state["stage"] = OptState.STEPPED
        if not has_grad_scaler_kwarg:
            del optimizer.grad_scale
            del optimizer.found_inf
        return retval

    def update(self, new_scale=None):
        """Back the scale off if a step was skipped, grow it after `growth_interval` clean
        steps, or set it to `new_scale` (a float, or a one-element CPU tensor)."""
        if not self._enabled:
            return
        _scale, _growth_tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                self._scale.fill_(new_scale)
            else:
                reason = ("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                          "torch.FloatTensor with requires_grad=False.")
                if new_scale.device.type != self._device:
                    raise AssertionError(reason)
                if new_scale.numel() != 1:
                    raise AssertionError(reason)
                if new_scale.requires_grad is True:
                    raise AssertionError(reason)
                self._scale.copy_(new_scale)
        else:
            found_infs = [found_inf for state in self._per_optimizer_states.values()
                          for found_inf in state["found_inf_per_device"].values()]
            if len(found_infs) == 0:
                raise AssertionError("No inf checks were recorded prior to update.")
            found_inf_combined = found_infs[0]
            for other in found_infs[1:]:
                found_inf_combined += other
            _update_scale_(_scale, _growth_tracker, found_inf_combined, self._growth_factor,
                           self._backoff_factor, self._growth_interval)
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def _get_scale_async(self):
        return self._scale

    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if self._enabled:
            return self._init_scale if self._scale is None else self._scale.item()
        return 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def _get_growth_tracker(self):
        if self._enabled:
            return self._init_growth_tracker if self._growth_tracker is None \
                else self._growth_tracker.item()
        return 0

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        """scale, growth_factor, backoff_factor, growth_interval, _growth_tracker ({} when
        disabled)."""
        if self._enabled:
            return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                    "backoff_factor": self._backoff_factor,
                    "growth_interval": self._growth_interval,
                    "_growth_tracker": self._get_growth_tracker()}
        return {}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        # every entry read before any is set: a missing one (KeyError, as torch's) loads
        # nothing (torch has set the scale by then)
        scale, growth_factor, backoff_factor, growth_interval, tracker = (
            state_dict["scale"], state_dict["growth_factor"], state_dict["backoff_factor"],
            state_dict["growth_interval"], state_dict["_growth_tracker"])
        self._init_scale = scale
        if self._scale is not None:
            self._scale.fill_(scale)
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._init_growth_tracker = tracker
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(tracker)

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError("A GradScaler instance may only be pickled at the "
                                     "beginning of an iteration, or at the end after "
                                     "scaler.update().")
            # the unpickled instance makes its tensors again on its first scale()
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _check_inf_per_device(self, optimizer):
        _scale, _ = self._check_scale_growth_tracker("_check_inf_per_device")
        dummy_inv_scale = full((), 1.0, dtype=D.float32, device=_scale.device)
        found_inf = full((), 0.0, dtype=D.float32, device=_scale.device)
        self._per_optimizer_states[id(optimizer)]["found_inf_per_device"] = \
            self._unscale_grads_(optimizer, dummy_inv_scale, found_inf, True)
        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]

    def _found_inf_per_device(self, optimizer):
        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]


# ---- torch.<device>.amp: the deprecated per-device spellings ----------------------------------
def device_spellings(device):
    """(autocast, GradScaler) of torch.<device>.amp (device "cuda" or "cpu"), deprecated for
    their torch.amp forms: each warns torch's FutureWarning, then is that form on `device`.
    dtype=None stands for the device's default autocast dtype (float16 / bfloat16), which
    tapegrad does not have."""
    def _warn(name):
        warnings.warn(f"`torch.{device}.amp.{name}(args...)` is deprecated. Please use "
                      f"`torch.amp.{name}('{device}', args...)` instead.", FutureWarning,
                      stacklevel=3)

    class _Autocast(autocast):
        def __init__(self, enabled=True, dtype=None, cache_enabled=True):
            _warn("autocast")
            super().__init__(device, enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)

    class _GradScaler(GradScaler):
        def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                     growth_interval=2000, enabled=True):
            _warn("GradScaler")
            super().__init__(device, init_scale=init_scale, growth_factor=growth_factor,
                             backoff_factor=backoff_factor, growth_interval=growth_interval,
                             enabled=enabled)
    for cls, name in ((_Autocast, "autocast"), (_GradScaler, "GradScaler")):
        cls.__name__ = cls.__qualname__ = name
        cls.__module__ = f"tapegrad.{device}.amp"
        cls.__doc__ = (f"`torch.{device}.amp.{name}`, deprecated for "
                       f"`torch.amp.{name}(\"{device}\", ...)`.")
    return _Autocast, _GradScaler
