"""Optimizer hooks and option checks, as torch.optim's: step pre/post hooks (per optimizer
and global: `register_optimizer_step_pre_hook`/`_post_hook`), state_dict and load_state_dict
pre/post hooks, and torch's checks of a tensor `lr` and of the `foreach` / `fused` /
`capturable` / `differentiable` flags on CPU.

`OptimizerHooks` is the base of `Optimizer`: it holds the hook tables and wraps each
optimizer class's `step` once (torch's `profile_hook_step`), so a step with no hook
registered costs one check of two empty tables."""
import functools
from collections import OrderedDict
from itertools import chain

from ..hooks import RemovableHandle
from ..steptrace import TRACE
from ..tensor import Tensor

__all__ = ["register_optimizer_step_pre_hook", "register_optimizer_step_post_hook",
           "OptimizerHooks", "check_lr", "check_fused", "has_step_hooks",
           "run_with_step_hooks"]

_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()

_TABLES = ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
           "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
           "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks")


def _add(table, hook, prepend=False):
    handle = RemovableHandle(table)
    table[handle.id] = hook
    if prepend:
        table.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook):
    """Register hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs), run before
    every optimizer's step (before the optimizer's own pre hooks)."""
    return _add(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """Register hook(optimizer, args, kwargs), run after every optimizer's step (after the
    optimizer's own post hooks)."""
    return _add(_global_optimizer_post_hooks, hook)


def _hooked_step(func):
    """torch's profile_hook_step: the global, then the optimizer's pre hooks (each may
    replace the arguments), the step, the optimizer's, then the global post hooks."""
    @functools.wraps(func)
    def step(*args, **kwargs):
        self = args[0]
        pre = self._optimizer_step_pre_hooks
        post = self._optimizer_step_post_hooks
        if not (pre or post or _global_optimizer_pre_hooks or _global_optimizer_post_hooks):
            return func(*args, **kwargs)
        if TRACE.current is not None:
            # a compiled step replays the update without Python: the hooks would run once
            TRACE.current.unsupported("opt.step() of an optimizer with step hooks")
        # NOTE: as torch's, the hooks' `args` start with the optimizer itself
        for hook in chain(_global_optimizer_pre_hooks.values(), pre.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(f"{_step_shown(func, self)} must return None or a tuple "
                                       f"of (new_args, new_kwargs), but got {result}.")
        out = func(*args, **kwargs)
        for hook in chain(post.values(), _global_optimizer_post_hooks.values()):
            hook(self, args, kwargs)
        return out
    step.hooked = True
    return step


def _step_shown(func, opt):
    """The step function as torch's message shows it: tapegrad's optimizers share
    Optimizer.step, where each of torch's has its own (`<function Adam.step at 0x...>`)."""
    if func.__qualname__ == "Optimizer.step":
        for cls in type(opt).__mro__:
            if cls.__module__.startswith("tapegrad.optim.") and cls.__name__ != "Optimizer" \
                    and not cls.__dict__.get("_inherits_torch_step"):
                return f"<function {cls.__name__}.step at {hex(id(func))}>"
    return func


def has_step_hooks(opt):
    """Whether a step of `opt` runs any step pre/post hook (its own or a global one)."""
    return bool(opt._optimizer_step_pre_hooks or opt._optimizer_step_post_hooks
                or _global_optimizer_pre_hooks or _global_optimizer_post_hooks)


def run_with_step_hooks(opt, update):
    """update() between opt's step pre and post hooks, as `opt.step()` runs them (for a
    step whose update is not `opt.step()` itself: tapegrad.optim.ReplayedStep)."""
    return _hooked_step(lambda self: update())(opt)


class OptimizerHooks:
    """The hook tables and `register_*_hook` methods of torch.optim.Optimizer."""

    def _init_hooks(self):
        for name in _TABLES:
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        cls = self.__class__
        if not getattr(cls.step, "hooked", False):
            cls.step = _hooked_step(cls.step)

    def register_step_pre_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs) before step()."""
        return _add(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """hook(optimizer, args, kwargs) after step()."""
        return _add(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """hook(optimizer) before state_dict() builds the dict."""
        return _add(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """hook(optimizer, state_dict) -> None or a new state_dict, after state_dict()."""
        return _add(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """hook(optimizer, state_dict) -> None or the state_dict to load instead."""
        return _add(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """hook(optimizer) after load_state_dict()."""
        return _add(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    def _state_dict_pre(self):
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)

    def _state_dict_post(self, state_dict):
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def _load_state_dict_pre(self, state_dict):
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def _load_state_dict_post(self):
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    # capturable=True on CPU: torch's AssertionError names what its check reads and the
    # devices it allows, per path: (what, with xla) of the single-tensor and the foreach path
    _capturable = (("params and state_steps", True), ("params and state_steps", True))

    def _check_step_flags(self):
        """torch's errors at step() for options a CPU step cannot honour."""
        for group in self.param_groups:
            if group.get("capturable"):
                what, xla = self._capturable[bool(group.get("foreach"))]
                devices = _get_capturable_supported_devices(xla)
                raise AssertionError(f"If capturable=True, {what} must be on supported "
                                     f"devices: {devices}.")
            if group.get("differentiable"):
                if any(p.is_leaf and p.requires_grad for p in group["params"]):
                    raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                       "in-place operation.")
                raise NotImplementedError(
                    "tapegrad: differentiable=True (an update recorded on the tape) is not "
                    "implemented; write the update with tensor ops and differentiate it with "
                    "tapegrad.func.grad / autograd.grad(create_graph=True)")


def _get_capturable_supported_devices(supports_xla=True):
    """torch's device types of a capturable optimizer (none of them tapegrad's CPU)."""
    return ["cuda", "xpu", "hpu", "privateuseone"] + (["xla"] if supports_xla else [])


def check_lr(lr, foreach=None, capturable=False, tensor_lr_foreach=False):
    """torch's checks of a tensor lr at construction."""
    if isinstance(lr, Tensor):
        if tensor_lr_foreach and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
        if lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")


def check_fused(fused, foreach, differentiable):
    """torch's construction errors of fused=True (the optimizers that have a fused form)."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
