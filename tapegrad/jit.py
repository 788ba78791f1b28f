"""`tapegrad.jit` (torch.jit): the parts of TorchScript's Python API that eager code calls.

Model code guards scripting-only paths with `torch.jit.is_scripting()` / `is_tracing()` and
marks methods with `@torch.jit.ignore`, `@torch.jit.unused`, `@torch.jit.export` and
`torch.jit.annotate`: in eager mode (tapegrad's only mode) these are torch's own answers
(False) and decorators that mark the function and return it.  TorchScript itself (`script`,
`trace`) compiles to a graph tapegrad does not have: those raise NotImplementedError."""
import typing
import warnings

__all__ = ["is_scripting", "is_tracing", "ignore", "unused", "export", "annotate", "script",
           "trace", "Final"]

Final = typing.Final

# torch._jit_internal.FunctionModifiers' values, set on the function as torch sets them
_UNUSED = "unused (ignored and replaced with raising of an exception)"
_IGNORE = "ignore (leave as a call to Python, cannot be torch.jit.save'd)"
_EXPORT = "export (compile this function even if nothing calls it)"


def is_scripting():
    """False: code runs in Python, not as TorchScript (as torch's in eager mode)."""
    return False


def is_tracing():
    """False: no `torch.jit.trace` runs (tapegrad has none)."""
    return False


def ignore(drop=False, **kwargs):
    """Leave a function to Python when scripting: returns it, marked, as torch's."""
    if callable(drop):
        drop._torchscript_modifier = _IGNORE
        return drop
    if not isinstance(drop, bool):
        raise RuntimeError(f"Argument to @torch.jit.ignore must be a bool or a function but "
                           f"got {drop}")
    drop_on_export = kwargs.pop("drop_on_export", None)
    if drop_on_export:
        warnings.warn("ignore(drop_on_export=True) has been deprecated. TorchScript will now "
                      "drop the function call on compilation. Use torch.jit.unused now. {}",
                      FutureWarning, stacklevel=2)
        drop = drop_on_export
    elif drop:
        warnings.warn("ignore(True) has been deprecated. TorchScript will now drop the "
                      "function call on compilation. Use torch.jit.unused now. {}",
                      FutureWarning, stacklevel=2)

    def decorator(fn):
        fn._torchscript_modifier = _UNUSED if drop else _IGNORE
        return fn
    return decorator


def unused(fn):
    """Drop a function (or property) from a scripted module: returns it, marked."""
    if isinstance(fn, property):
        fn.fget._torchscript_modifier = _UNUSED
        if fn.fset:
            fn.fset._torchscript_modifier = _UNUSED
        return fn
    fn._torchscript_modifier = _UNUSED
    return fn


def export(fn):
    """Compile a method of a scripted module even if forward does not call it: returns it,
    marked."""
    fn._torchscript_modifier = _EXPORT
    return fn


def annotate(the_type, the_value):
    """A type hint for TorchScript: the value itself in Python."""
    return the_value


def script(obj, *args, **kwargs):
    """TorchScript compilation: not in tapegrad (NotImplementedError)."""
    raise NotImplementedError("tapegrad: torch.jit.script compiles to TorchScript, which "
                              "tapegrad has not; run the module or function as it is, or use "
                              "tapegrad.compile")


def trace(func, *args, **kwargs):
    """TorchScript tracing: not in tapegrad (NotImplementedError)."""
    raise NotImplementedError("tapegrad: torch.jit.trace records a TorchScript graph, which "
                              "tapegrad has not; run the module or function as it is, or use "
                              "tapegrad.compile")
