"""`tapegrad.backends.cuda`: not available (tapegrad runs on the CPU alone)."""
from ._absent import is_available, is_built  # noqa: F401
