"""`torch.utils.data._utils.fetch`'s fetchers (a map-style dataset's by index, an iterable
one's by iterating); they live in utils/data/_fetch.py."""
from .._fetch import _IterableDatasetFetcher, _MapDatasetFetcher

__all__ = ["_IterableDatasetFetcher", "_MapDatasetFetcher"]
