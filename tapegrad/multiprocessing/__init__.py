"""`tapegrad.multiprocessing`: Python's multiprocessing plus tensor sharing, as
torch.multiprocessing.

Everything of `multiprocessing` is re-exported (Process, Queue, Pool, get_context, ...); its
pickler (Queues, Pipes, a spawned Process's arguments) sends a tensor in shared memory
(`Tensor.share_memory_()`, `Module.share_memory()`) as a handle to that memory, so that the
receiving process works on the same values (reductions.py; the memory: _storage.py).  `spawn`
and `start_processes` run a function in several processes (spawn.py)."""
import multiprocessing
import sys

from . import reductions, spawn as _spawn
from .reductions import init_reductions

# torch's `from multiprocessing import *` (assigned: a star import hides names from pyflakes)
globals().update({name: getattr(multiprocessing, name) for name in multiprocessing.__all__})
__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies"]
__all__ += multiprocessing.__all__

ENV_VAR_PARALLEL_START = _spawn.ENV_VAR_PARALLEL_START
ProcessContext, SpawnContext = _spawn.ProcessContext, _spawn.SpawnContext
ProcessException, ProcessExitedException, ProcessRaisedException = (
    _spawn.ProcessException, _spawn.ProcessExitedException, _spawn.ProcessRaisedException)
start_processes = _spawn.start_processes
spawn = _spawn.spawn    # (the function, as torch's: it hides the submodule's name)

# torch's: file descriptors where the system can pass them, else named files
if sys.platform == "darwin" or sys.platform == "win32":
    _all_sharing_strategies = {"file_system"}
else:
    _all_sharing_strategies = {"file_descriptor", "file_system"}
reductions.STRATEGY[0] = "file_system" if len(_all_sharing_strategies) == 1 else \
    "file_descriptor"


def set_sharing_strategy(new_strategy):
    """Set the strategy for sharing CPU tensors: one of get_all_sharing_strategies().
    'file_descriptor' sends the memory's file descriptor; 'file_system' sends a path to the
    sender's descriptor (/proc/<pid>/fd/<n>: the sender must still hold the tensor when it is
    received)."""
    if new_strategy not in _all_sharing_strategies:
        raise AssertionError(f"invalid sharing strategy {new_strategy!r}, "
                             f"expected one of {_all_sharing_strategies}")
    reductions.STRATEGY[0] = new_strategy


def get_sharing_strategy():
    """Return the current strategy for sharing CPU tensors."""
    return reductions.STRATEGY[0]


def get_all_sharing_strategies():
    """Return a set of sharing strategies supported on a current system."""
    return _all_sharing_strategies


init_reductions()
