"""torch.utils: `checkpoint` (tapegrad.utils.checkpoint) and `data` (datasets, samplers,
DataLoader: tapegrad.utils.data, loaded on first use: with multiprocessing it is ~15 ms of
`import tapegrad`)."""
from . import checkpoint

__all__ = ["checkpoint", "data"]


def __getattr__(name):
    if name == "data":
        import importlib
        return importlib.import_module(f"{__name__}.data")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"data"})
