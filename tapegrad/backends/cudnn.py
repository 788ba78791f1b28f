"""`tapegrad.backends.cudnn`: not available; the flags programs set are kept and change
nothing (torch's CPU build: `version()` is None)."""
from ._absent import is_available, is_built  # noqa: F401

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def version():
    return None
