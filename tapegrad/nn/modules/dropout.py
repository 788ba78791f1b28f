"""`torch.nn.modules.dropout`'s names, for the programs that import them from there; the
classes live in layers.py."""
from .layers import (AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d,  # noqa: F401
                     FeatureAlphaDropout, _DropoutNd)

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]
