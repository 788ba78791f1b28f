"""torch.autograd features that do not fit the tape (yet), with the reason.

Calling them raises NotImplementedError naming the reason, rather than AttributeError or a
silently different behaviour (docs/semantics.md, "Known differences")."""

_SAVED_HOOKS = (
    "saved_tensors_hooks: tapegrad's saved values are not tensors but slots of the tape (the "
    "val stream for one-element values, typed n-d arrays read by the Numba sweep), saved "
    "without Python on the scalar fast path and read in bulk by the sweep; pack/unpack hooks "
    "would need Python per saved value at record and at backward time, which the tape's "
    "design rules out (docs/semantics.md)")



class saved_tensors_hooks:
    """torch.autograd.graph.saved_tensors_hooks: not supported (see _SAVED_HOOKS)."""

    def __init__(self, pack_hook, unpack_hook):
        raise NotImplementedError(_SAVED_HOOKS)


class disable_saved_tensors_hooks:
    """torch.autograd.graph.disable_saved_tensors_hooks: there are no such hooks to
    disable, so it only checks its argument, as torch's does, and does nothing else."""

    def __init__(self, error_message):
        if not isinstance(error_message, str):
            raise TypeError("disable_saved_tensors_hooks(): argument 'error_message' must be "
                            f"str, not {type(error_message).__name__}")
        self.error_message = error_message

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class save_on_cpu:
    """torch.autograd.graph.save_on_cpu: tapegrad runs on the CPU only, so every saved value
    already lives in CPU memory; the context changes nothing (pin_memory has no meaning
    without a GPU)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        self.pin_memory = pin_memory
        self.device_type = device_type

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
