"""Binding of arguments as torch's native (C++) parser binds them, with its messages for
missing, extra and repeated arguments (the top-level forms in nn_toplevel.py and
namespace.py)."""
from . import errors
from .tensor import Tensor


def bind(fn, args, kwargs, names, defaults=()):
    """The native parser's positional binding: torch's messages for missing and extra
    arguments."""
    ndef = len(defaults)
    nreq = len(names) - ndef
    if len(args) > len(names):
        takes = (f"takes {len(names)} positional argument{'s' if len(names) > 1 else ''}"
                 if not ndef else f"takes from {nreq} to {len(names)} positional arguments")
        raise TypeError(f"{fn}() {takes} but {len(args)} were given")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            missing = [n for n in names[:nreq] if n not in bound and n not in kwargs]
            if missing:
                break
            raise TypeError(f"{fn}() got an unexpected keyword argument '{k}'")
        if k in bound:
            raise TypeError(f"{fn}() got multiple values for argument '{k}'")
        bound[k] = v
    missing = [n for n in names[:nreq] if n not in bound]
    if missing:
        plural = "argument" if len(missing) > 1 else "arguments"
        raise TypeError(f"{fn}() missing {len(missing)} required positional {plural}: "
                        + ", ".join(f'"{n}"' for n in missing))
    for n, d in zip(names[nreq:], defaults):
        bound.setdefault(n, d)
    if not isinstance(bound[names[0]], Tensor):
        raise TypeError(f"{fn}(): argument '{names[0]}' (position 1) must be Tensor, not "
                        f"{errors.type_name(bound[names[0]])}")
    return [bound[n] for n in names]
