"""`tapegrad.distributed`: what programs ask before using torch.distributed.  tapegrad has no
process groups, so it answers as a torch build without distributed support does:
`is_available()` is False (and `is_initialized()` False), and the rest of the API is absent.
For many processes or machines, see `tapegrad.dask` (batch replay on a Dask cluster)."""

__all__ = ["is_available", "is_initialized"]


def is_available():
    """False: no distributed backend."""
    return False


def is_initialized():
    """False: no default process group."""
    return False
