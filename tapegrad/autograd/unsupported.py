"""torch.autograd features that do not fit the tape (yet), with the reason.

Calling them raises NotImplementedError naming the reason, rather than AttributeError or a
silently different behaviour (docs/semantics.md, "Known differences")."""
import contextlib
import threading

from ..tape import SavedOnCpu

_SAVED_HOOKS = (
    "saved_tensors_hooks: tapegrad's saved values are not tensors but slots of the tape (the "
    "val stream for one-element values, typed n-d arrays read by the Numba sweep), saved "
    "without Python on the scalar fast path and read in bulk by the sweep; pack/unpack hooks "
    "would need Python per saved value at record and at backward time, which the tape's "
    "design rules out (docs/semantics.md)")
_MUTATION_OF_SAVED = (
    "allow_mutation_on_saved_tensors: torch clones a saved tensor just before an in-place "
    "operation changes it, so that the backward reads the old value; tapegrad's in-place "
    "operations change the memory the tape's entries read, and a backward that reads a "
    "changed value raises the in-place version error instead (clone the tensor before "
    "changing it)")


# torch's thread-local state of default saved-tensor hooks: `disabled`, the message of the
# innermost disable_saved_tensors_hooks (None: enabled), and `active`, how many save_on_cpu
# contexts (tapegrad's only hooks, which change nothing) are open
_STATE = threading.local()


def _disabled():
    return getattr(_STATE, "disabled", None)


def _push_hooks():
    """Entering a saved-tensor hooks context: torch's error while they are disabled."""
    message = _disabled()
    if message is not None:
        raise RuntimeError(message)
    _STATE.active = getattr(_STATE, "active", 0) + 1


def _pop_hooks():
    _STATE.active -= 1


class saved_tensors_hooks:
    """torch.autograd.graph.saved_tensors_hooks: not supported (see _SAVED_HOOKS); where
    the hooks are disabled, torch's error of entering one comes first."""

    def __init__(self, pack_hook, unpack_hook):
        message = _disabled()
        if message is not None:
            raise RuntimeError(message)
        raise NotImplementedError(_SAVED_HOOKS)


class disable_saved_tensors_hooks(contextlib.ContextDecorator):
    """torch.autograd.graph.disable_saved_tensors_hooks: while active, entering save_on_cpu
    (or making saved_tensors_hooks) raises RuntimeError(error_message), and it cannot be
    entered inside save_on_cpu, as torch's."""

    def __init__(self, error_message):
        if not isinstance(error_message, str):
            raise TypeError("disable_saved_tensors_hooks(): argument 'error_message' must be "
                            f"str, not {type(error_message).__name__}")
        self.error_message = error_message

    def __enter__(self):
        if getattr(_STATE, "active", 0):
            raise RuntimeError(self.error_message)
        self._prev = _disabled()
        _STATE.disabled = self.error_message
        return self

    def __exit__(self, *exc):
        _STATE.disabled = self._prev
        return False


class save_on_cpu:
    """torch.autograd.graph.save_on_cpu: tapegrad runs on the CPU only, so every saved value
    already lives in CPU memory; what changes is torch's: the values saved while it is open
    are its hooks' (no version check at backward; with pin_memory=True a copy made at the
    save: tape.SavedOnCpu), and torch's rules of disable_saved_tensors_hooks."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        self.pin_memory = pin_memory
        self.device_type = device_type
        self._open = []

    def __enter__(self):
        _push_hooks()
        hooks = SavedOnCpu(bool(self.pin_memory))
        hooks.enter()
        self._open.append(hooks)
        return self

    def __exit__(self, *exc):
        self._open.pop().exit()
        _pop_hooks()
        return False


class allow_mutation_on_saved_tensors:
    """torch.autograd.graph.allow_mutation_on_saved_tensors: not supported (see
    _MUTATION_OF_SAVED)."""

    def __init__(self):
        raise NotImplementedError(_MUTATION_OF_SAVED)
