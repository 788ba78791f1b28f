"""`torch.utils.data._utils`: its `collate` module, where torch documents the collate
extension point (`collate` with `default_collate_fn_map`); the functions live in
utils/data/_collate.py."""
from . import collate  # noqa: F401
