"""Devices: `tapegrad.device` (torch.device's names, reprs and parsing) and the one check every
`device=` argument goes through.  tapegrad computes on the CPU only: a CPU device is accepted
everywhere, any other valid device type raises a clear error (torch's CPU build's own
`AssertionError` for CUDA), an invalid string raises torch's parse error."""
import numpy as np

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
        # torch: an int is an accelerator's ordinal (a bool is no int to its parser)
        if isinstance(dev, (int, np.integer)) and not isinstance(dev, bool):
            raise RuntimeError("Cannot access accelerator device when none is available.")
        else:
            raise TypeError(f"expected a device, but got {type(dev).__name__}")
    if d.type != "cpu":
        unavailable(d)
    return CPU


def _is_device(a):
    return a is None or isinstance(a, (str, device)) or type(a) is int


def _is_dtype(a):
    return a is None or isinstance(a, D.dtype) or type(a) is type and a in (float, int, bool,
                                                                            complex)


def _is_tensor(a):
    # (a Python number stands for a tensor, as torch's parser wraps one)
    return isinstance(getattr(a, "dtype", None), D.dtype) or type(a) in (bool, int, float, complex)


def _is_flag(a):
    return type(a) is bool


# torch's three signatures of Tensor.to / Module.to, in the order its parser tries them: the
# positional parameters (name, what it takes), how many have no default, and the keywords
# each takes (its parameters' names and memory_format, keyword-only)
_TO_FORMS = tuple(
    (params, required, frozenset(name for name, _ in params) | {"memory_format"})
    for params, required in (
        ((("device", _is_device), ("dtype", _is_dtype), ("non_blocking", _is_flag),
          ("copy", _is_flag)), 0),
        ((("dtype", lambda a: a is not None and _is_dtype(a)), ("non_blocking", _is_flag),
          ("copy", _is_flag)), 1),
        ((("tensor", _is_tensor), ("non_blocking", _is_flag), ("copy", _is_flag)), 1)))


def _bind_to(params, required, names, args, kwargs):
    """The arguments bound to one of .to's signatures (name -> value), or None."""
    if len(args) > len(params):
        return None
    bound = {name: a for (name, _), a in zip(params, args)}
    for k, v in kwargs.items():
        if k in bound or k not in names:
            return None
        bound[k] = v
    for i, (name, ok) in enumerate(params):
        if name in bound:
            if not ok(bound[name]):
                return None
        elif i < required:
            return None
    return bound


def parse_to(args, kwargs):
    """`.to(*args, **kwargs)` bound as torch's parser binds it (`torch._C._nn._parse_to`): by
    the first of its three signatures that takes them, else its TypeError.  Returns a dict
    of what was given among device, dtype (a tensor's, or a Python number's as torch wraps
    it: bool, int64, float64), non_blocking, copy and memory_format; the device unchecked,
    the dtype a tapegrad dtype (torch's complex128, for `complex`, raises: no complex dtype)."""
    for form in _TO_FORMS:
        bound = _bind_to(*form, args, kwargs)
        if bound is None:
            continue
        if "tensor" in bound:
            t = bound.pop("tensor")
            # (a number's type: as_dtype maps it, a float to float64 as torch's wrapping)
            bound["dtype"] = t.dtype if isinstance(getattr(t, "dtype", None), D.dtype) else type(t)
        if bound.get("dtype") is complex:
            raise NotImplementedError("tapegrad has no complex dtypes: .to(complex) (torch's "
                                      "complex128) is not supported")
        if bound.get("dtype") is not None:
            bound["dtype"] = D.as_dtype(bound["dtype"])
        return bound
    raise errors.to_args(args, kwargs)


# torch's CPU build's errors of moving a tensor or module to a device it lacks (`.to()`):
# an assertion for the backends it asserts on, else "not linked" (`meta`, `lazy`, ... have no
# such error there: tapegrad's own message)
_NOT_COMPILED = {
    "cuda": NO_CUDA, "xpu": "Torch not compiled with XPU enabled",
    "mtia": "Torch not compiled with MTIA enabled. Ensure you have `import "
            "mtia.host_runtime.torch_mtia.dynamic_library` in your python src file and include "
            "`//mtia/host_runtime/torch_mtia:torch_mtia` as your target dependency!"}
_NOT_LINKED = {"mps", "ipu", "xla", "vulkan", "hip", "ve", "fpga", "maia", "opengl", "opencl",
               "ideep", "mkldnn"}


def unavailable(d):
    """Raise for a non-CPU device: torch's CPU build's error where it has one, else
    tapegrad's."""
    if d.type in _NOT_COMPILED:
        raise AssertionError(_NOT_COMPILED[d.type])
    if d.type in _NOT_LINKED:
        raise RuntimeError(f"PyTorch is not linked with support for {d.type} devices")
    raise RuntimeError(f"tapegrad computes on the CPU only: device '{d}' is not available")


def set_default_device(device):
    """Set the device of new tensors: only the CPU (or None, the CPU) is accepted."""
    _default[0] = CPU if device is None else check(device)


def get_default_device():
    """The device of new tensors: always the CPU."""
    return _default[0]
