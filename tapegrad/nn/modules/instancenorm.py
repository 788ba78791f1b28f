"""`torch.nn.modules.instancenorm`'s names, for the programs that import them from there; the
classes live in normalization.py and lazy.py."""
from .lazy import LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d  # noqa: F401
from .normalization import (InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,  # noqa: F401
                            _InstanceNorm)

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]

# (torch's home of the classes: type(m) and pickles name this module, as torch's do)
for _cls in (LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d, InstanceNorm1d,
             InstanceNorm2d, InstanceNorm3d, _InstanceNorm):
    _cls.__module__ = __name__
