"""`torch.nn.modules.batchnorm`'s names, for the programs that import them from there
(`_BatchNorm` in isinstance checks: weight decay off for the norms, freezing their
statistics); the classes live in normalization.py and lazy.py."""
from .lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, _LazyNormBase  # noqa: F401
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, SyncBatchNorm,  # noqa: F401
                            _BatchNorm, _NormBase)

__all__ = ["BatchNorm1d", "LazyBatchNorm1d", "BatchNorm2d", "LazyBatchNorm2d", "BatchNorm3d",
           "LazyBatchNorm3d", "SyncBatchNorm"]

# (torch's home of the classes: type(m) and pickles name this module, as torch's do)
for _cls in (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, BatchNorm1d, BatchNorm2d,
             BatchNorm3d, SyncBatchNorm, _BatchNorm, _NormBase, _LazyNormBase):
    _cls.__module__ = __name__
