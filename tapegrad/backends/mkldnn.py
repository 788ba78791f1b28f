"""`tapegrad.backends.mkldnn`: not available; `enabled` is kept and changes nothing."""
from ._absent import is_available, is_built  # noqa: F401

enabled = True
