"""torch.special's, torch.linalg's and torch.fft's functions as attributes of a module, for
pickle: each function's __qualname__ is torch's native name (special_erf, linalg_solve,
fft_fftfreq: the name its errors print), and its __module__ this one, where pickle looks the
name up (torch's are found in torch._C._special & co the same way)."""
import importlib

_NAMESPACES = ("special", "linalg", "fft")


def __getattr__(name):
    prefix, _, rest = name.partition("_")
    if prefix in _NAMESPACES and rest:
        f = getattr(importlib.import_module(f"{__package__}.{prefix}"), rest, None)
        if f is not None and getattr(f, "__qualname__", None) == name:
            return f
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
