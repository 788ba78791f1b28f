"""The checks of torch's `set_flags` / `flags()` of the backend modules (cudnn, mkldnn):
torch's C setters take a bool only and a known precision name, with their messages."""
from ..errors import type_name

PRECISIONS = ("ieee", "tf32", "bf16", "none")


def check_bool(setter, value):
    """`value` for torch's C setter `setter`, which refuses anything but a bool."""
    if type(value) is not bool:
        raise RuntimeError(f"{setter} expects a bool, but got {type_name(value)}")
    return value


def check_precision(value, backend):
    """An `fp32_precision` name for `backend` ("cuda": cudnn, which has no bf16)."""
    if value not in PRECISIONS:
        raise RuntimeError(f"Unknown precision: {value}")
    if backend == "cuda" and value == "bf16":
        raise RuntimeError("backend 'cuda' does not support precision 'bf16'")
    return value
