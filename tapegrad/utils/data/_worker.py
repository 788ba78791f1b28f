"""DataLoader worker processes, as `torch.utils.data._utils.worker`: the loop a worker runs
(indices in, batches or wrapped exceptions out), its seeding, and `get_worker_info`."""
import dataclasses
import os
import pickle
import queue
import random
import sys
import traceback

import numpy as np

from multiprocessing.reduction import ForkingPickler

from ...random import manual_seed
from ...settings import set_num_threads
from ._fetch import create_fetcher

_worker_info = None         # this process's WorkerInfo (None: the main process)
MP_STATUS_CHECK_INTERVAL = 5.0   # seconds between a worker's checks that its parent lives


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` tells a worker: its id, the number of workers, its seed and
    its copy of the dataset."""
    id: int
    num_workers: int
    seed: int
    dataset: object
    rng: object = None
    worker_method: str = "multiprocessing"


def get_worker_info():
    """In a DataLoader worker process, its `WorkerInfo` (id, num_workers, seed, dataset: an
    IterableDataset splits its work by it); None in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process (its type and formatted
    traceback) and raised there as torch does."""

    def __init__(self, exc_info=None, where="in background"):
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:  # noqa: BLE001  (an exception type that takes other arguments)
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:    # no frame -> traceback -> frame cycle: the iterator (and its workers)
            del exception   # go as soon as the caller drops the error, not at a gc pass


class _KeyErrorMessage(str):
    """A KeyError's message shown as is (KeyError shows its argument's repr)."""

    def __repr__(self):
        return self


@dataclasses.dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """A worker's iterable dataset is exhausted."""
    worker_id: int


class _ResumeIteration:
    """Start a new epoch (persistent workers): make the fetcher again."""


class _WorkerDone:
    """The worker's iterable dataset ran out and the main process still reads results: end
    after the queue's thread has sent everything.  (The None of a shutdown ends at once.)"""


def _send(data_queue, idx, data, worker_id):
    """Put (idx, data pickled here): a batch that cannot be pickled reaches the main process
    as the pickling error (pickled by the queue's thread it would be lost: a hang)."""
    try:
        payload = bytes(ForkingPickler.dumps(data))
    except Exception:  # noqa: BLE001  (sent to the main process)
        payload = bytes(ForkingPickler.dumps(
            ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")))
    data_queue.put((idx, payload))


def receive(item):
    """A worker's (idx, payload) as (idx, data)."""
    idx, payload = item
    return idx, pickle.loads(payload)


_MASK32 = 0xFFFFFFFF


def _hash_mix(value, const, mult):
    """One step of numpy SeedSequence's hashmix: (the hashed value, the next constant)."""
    value = (value ^ const) & _MASK32
    const = (const * mult) & _MASK32
    value = (value * const) & _MASK32
    return (value ^ (value >> 16)) & _MASK32, const


def _generate_state(base_seed, worker_id):
    """The numpy seed of a worker (four uint32 words), as torch's _generate_state: numpy's
    SeedSequence mixing of [worker_id, base_seed's low and high words, 0], so np.random in a
    worker draws what it draws under torch."""
    entropy = [worker_id, base_seed & _MASK32, base_seed >> 32, 0]
    const = 0x43B0D7E5
    pool = []
    for e in entropy:
        h, const = _hash_mix(e, const, 0x931E8875)
        pool.append(h)
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                h, const = _hash_mix(pool[i_src], const, 0x931E8875)
                mixed = ((0xCA01F9DD * pool[i_dst]) - (0x4973F715 * h)) & _MASK32
                pool[i_dst] = (mixed ^ (mixed >> 16)) & _MASK32
    const, state = 0x8B51F9DD, []
    for value in pool:
        h, const = _hash_mix(value, const, 0x58F38DED)
        state.append(h)
    return state


def _worker_loop(iterable, dataset, index_queue, data_queue, auto_collation, collate_fn,
                 drop_last, base_seed, init_fn, worker_id, num_workers):
    """A worker: seed (base_seed + worker_id), run worker_init_fn, then fetch each (idx, index)
    from index_queue and put (idx, batch) on data_queue until None arrives (or the parent
    dies)."""
    global _worker_info
    try:
        set_num_threads(1)      # (torch's workers compute on one thread each)
        seed = base_seed + worker_id
        random.seed(seed)
        manual_seed(seed)
        np.random.seed(_generate_state(base_seed, worker_id))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        parent = os.getppid()
        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:  # noqa: BLE001  (sent to the main process with the first batch)
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        iteration_end = False
        while True:
            try:
                r = index_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent:
                    break
                continue
            if isinstance(r, _ResumeIteration):
                _send(data_queue, r, None, worker_id)
                iteration_end = False
                fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn,
                                         drop_last)
                continue
            if r is None:       # the end: what is still unsent may be dropped (no hang on exit)
                data_queue.cancel_join_thread()
                break
            if isinstance(r, _WorkerDone):
                # NOTE: no cancel_join_thread here: the queue's thread may not have released
                # the write lock the workers share yet (the main process can have read the
                # last message before); leaving without joining it could kill it holding
                # the lock, and the other workers' results would never be sent (a hang)
                break
            if iteration_end:
                continue
            idx, index = r
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:  # noqa: BLE001  (sent to the main process)
                    if isinstance(e, StopIteration) and iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(
                            where=f"in DataLoader worker process {worker_id}")
            _send(data_queue, idx, data, worker_id)
            del data, idx, index, r
    except KeyboardInterrupt:
        pass
