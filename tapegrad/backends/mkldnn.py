"""`tapegrad.backends.mkldnn`: not available (tapegrad runs no oneDNN); `enabled` is read by
nn.LSTM, whose float32 layers are torch's oneDNN node (MkldnnRnnLayerBackward0, computed in
numpy) while it is True and the composite steps when False, as torch's."""
from ._absent import is_available, is_built  # noqa: F401

enabled = True
