"""Batch replay on Dask (tapegrad.dask): the figures of compare_dask.py, tracked across commits.

Rosenbrock over 100 scalar leaves at DASK_POINTS points, gradients as one (B, 100) array
(`value_and_grad_flat`), reduced on the workers (sum of values and of gradient rows), so the
figure is replay plus scheduling, not result gathering.  Skipped when dask or distributed is
not importable.  Every setup makes one call first (Numba cache load, tape scatter).
"""
import numba
import numpy as np

import workloads as W

from ._common import LibBench

DASK_POINTS = 100_000
CHUNKS = [5_000, 25_000]


def _dask():
    try:
        import dask
        import dask.array as da
        import distributed
        import tapegrad.dask as tgd
    except ImportError as e:
        raise NotImplementedError(f"dask is not importable: {e}")
    return dask, da, distributed, tgd


class _Rosenbrock(LibBench):
    def setup(self, *params):
        super().setup(*params)
        self.dask, self.da, self.distributed, self.tgd = _dask()
        self.P = W.rosenbrock_points(100, DASK_POINTS, seed=0)
        self.tape = W.record_rosenbrock(self.mod, self.P[0])


class InProcessFlat(_Rosenbrock):
    """The in-process reference: value_and_grad_flat at DASK_POINTS points on 1 or 2 threads."""
    params = [[1, 2]]
    param_names = ["threads"]

    def setup(self, threads):
        super().setup(threads)
        if threads > numba.config.NUMBA_NUM_THREADS:
            raise NotImplementedError(f"Numba has {numba.config.NUMBA_NUM_THREADS} threads")
        self.saved = numba.get_num_threads()
        numba.set_num_threads(threads)
        self.tape.value_and_grad_flat(self.P)

    def teardown(self, threads):
        numba.set_num_threads(self.saved)

    def time_value_and_grad_flat(self, threads):
        self.tape.value_and_grad_flat(self.P)


class DaskThreaded(_Rosenbrock):
    """The dask threaded scheduler, one task per chunk of points."""
    params = [CHUNKS]
    param_names = ["chunk"]

    def setup(self, chunk):
        super().setup(chunk)
        self.X = self.da.from_array(self.P, chunks=(chunk, -1))
        self.time_reduced(chunk)

    def time_reduced(self, chunk):
        v, G, held = self.tgd.value_and_grad_flat(self.tape, self.X)
        self.dask.compute(v.sum(), G.sum(axis=0), held.all(), scheduler="threads")


class DaskLocalCluster(_Rosenbrock):
    """distributed.LocalCluster of 2 worker processes x 1 thread (loopback), inputs persisted
    on the workers; one Numba thread per task."""
    params = [CHUNKS]
    param_names = ["chunk"]
    number = 1
    repeat = (1, 5, 30.0)
    timeout = 300

    def setup(self, chunk):
        super().setup(chunk)
        d = self.distributed
        self.cluster = d.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                      host="127.0.0.1", dashboard_address=None)
        self.client = d.Client(self.cluster)
        X = self.da.random.default_rng(0).uniform(-1.5, 1.5, (DASK_POINTS, 100),
                                                  chunks=(chunk, -1))
        self.X = self.client.persist(X)
        d.wait(self.X)
        self.time_reduced(chunk)

    def teardown(self, chunk):
        self.client.close()
        self.cluster.close()

    def time_reduced(self, chunk):
        v, G, held = self.tgd.value_and_grad_flat(self.tape, self.X, threads=1)
        self.dask.compute(v.sum(), G.sum(axis=0), held.all())

    def track_tape_pickled_kb(self, chunk):
        import pickle
        return len(pickle.dumps(self.tape)) / 1e3
    track_tape_pickled_kb.unit = "kB"


class DaskGraphBuild(_Rosenbrock):
    """Client-side cost of building the lazy arrays (no compute), per chunk of points."""
    params = [CHUNKS]
    param_names = ["chunk"]

    def setup(self, chunk):
        super().setup(chunk)
        self.X = self.da.from_array(np.zeros((DASK_POINTS, 100)), chunks=(chunk, -1))

    def time_build(self, chunk):
        self.tgd.value_and_grad_flat(self.tape, self.X)
