"""Devices: `tapegrad.device` (torch.device's names, reprs and parsing) and the one check every
`device=` argument goes through.  tapegrad computes on the CPU only: a CPU device is accepted
everywhere, any other valid device type raises a clear error (torch's CPU build's own
`AssertionError` for CUDA), an invalid string raises torch's parse error."""
from . import dtypes as D, errors

# torch's device types, in the order of its parse error message
TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
         "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
NO_CUDA = "Torch not compiled with CUDA enabled"


class device:
    """A device, as `torch.device`: `device("cpu")`, `device("cuda:0")`, `device("cuda", 1)`.
    Only CPU tensors exist; other devices can be named (and compared) but not used."""
    __slots__ = ("type", "index", "_saved")
    __module__ = "tapegrad"

    def __init__(self, type, index=None):  # noqa: A002  (torch's argument name)
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device(): argument 'type' (position 1) must be str, not "
                            f"{type.__class__.__name__}")
        name, sep, num = type.partition(":")
        if name not in TYPES:
            raise RuntimeError(errors.DEVICE_STRING.format(type))
        if sep:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            if not num.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(num)
        if index is not None and index < 0:
            raise RuntimeError("Device index must not be negative")
        object.__setattr__(self, "type", name)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        if name == "_saved":
            return object.__setattr__(self, name, value)
        raise AttributeError(f"attribute '{name}' of 'torch.device' objects is not writable")

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        return (isinstance(other, device) and self.type == other.type
                and self.index == other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return device, (self.type, self.index)

    def __enter__(self):
        """`with device("cpu"):` makes it the default device for the block."""
        self._saved = _default[0]
        set_default_device(self)
        return self

    def __exit__(self, *exc):
        _default[0] = self._saved


CPU = device("cpu")
_default = [CPU]


def check(dev):
    """The device a `device=` argument names, raising unless it is a CPU (None: the default)."""
    if dev is None:
        return _default[0]
    d = dev if isinstance(dev, device) else device(dev) if isinstance(dev, str) else None
    if d is None:
        if isinstance(dev, int):  # torch: an int is an accelerator's ordinal
            raise RuntimeError("Cannot access accelerator device when none is available.")
        else:
            raise TypeError(f"expected a device, but got {type(dev).__name__}")
    if d.type != "cpu":
        unavailable(d)
    return CPU


def to_dtype(args, dtype=None):
    """The dtype `.to(*args)` of a module or a lazy placeholder asks for: a dtype, or a
    tensor's, else `dtype`; every other argument is a device, checked."""
    for a in args:
        if isinstance(a, D.dtype):
            dtype = a
        elif isinstance(getattr(a, "dtype", None), D.dtype):   # a tensor: its dtype
            dtype = a.dtype
        else:
            check(a)
    return dtype


def unavailable(d):
    """Raise for a non-CPU device: torch's CPU build's message for CUDA, else tapegrad's."""
    if d.type == "cuda":
        raise AssertionError(NO_CUDA)
    raise RuntimeError(f"tapegrad computes on the CPU only: device '{d}' is not available")


def set_default_device(device):
    """Set the device of new tensors: only the CPU (or None, the CPU) is accepted."""
    _default[0] = CPU if device is None else check(device)


def get_default_device():
    """The device of new tensors: always the CPU."""
    return _default[0]
