"""`torch.utils.data._utils`: its `collate` module, where torch documents the collate
extension point (`collate` with `default_collate_fn_map`), `worker` (`get_worker_info`,
`WorkerInfo`), `fetch` and torch's constants; the functions live in utils/data/_collate.py,
_worker.py and _fetch.py."""
import sys

from .._worker import MP_STATUS_CHECK_INTERVAL
from . import collate, fetch, worker

IS_WINDOWS = sys.platform == "win32"
HAS_NUMPY = True    # (numpy is a dependency of tapegrad)

__all__ = ["HAS_NUMPY", "IS_WINDOWS", "MP_STATUS_CHECK_INTERVAL", "collate", "fetch", "worker"]
