"""torch.backends.mha: whether torch's fused multi-head-attention fast path may run.  tapegrad
computes attention one way; what the switch changes here is what it changes in values:
TransformerEncoder's nested-tensor path, which zeroes padded positions
(nn/modules/transformer.py), runs only while it is on."""

_enabled = True


def get_fastpath_enabled():
    """Whether the fast path is enabled (True by default)."""
    return _enabled


def set_fastpath_enabled(value):
    """Enable or disable the fast path (torch stores the value as given)."""
    global _enabled
    _enabled = value
