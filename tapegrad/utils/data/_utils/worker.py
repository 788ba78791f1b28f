"""`torch.utils.data._utils.worker`'s public names (programs import `get_worker_info` and
`WorkerInfo` from here); they live in utils/data/_worker.py."""
from .._worker import MP_STATUS_CHECK_INTERVAL, WorkerInfo, get_worker_info

__all__ = ["MP_STATUS_CHECK_INTERVAL", "WorkerInfo", "get_worker_info"]
