"""`torch.nn.modules.dropout`'s names, for the programs that import them from there; the
classes live in layers.py."""
from .layers import (AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d,  # noqa: F401
                     FeatureAlphaDropout, _DropoutNd)

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]

# (torch's home of the classes: type(m) and pickles name this module, as torch's do)
for _cls in (AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout, _DropoutNd):
    _cls.__module__ = __name__
