import gc
import warnings

import pytest


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts with grad mode on and no open tape."""
    from tapegrad.tape import STATE, CLOSED
    STATE.enabled = True
    STATE.tape = CLOSED
    yield
    STATE.enabled = True
    STATE.tape = CLOSED


def pytest_configure(config):
    """torch on one thread for the whole run (where installed).  Each pytest-xdist worker's
    torch would otherwise start a thread per core: two workers on CI's two cores then run four
    spinning OpenMP threads, and torch's small ops wait on one another (a 2000-step polynomial
    fit of test_nn_optim_fidelity2: 92 s with torch's two threads, 5 s with one, under load).
    pytest-xdist's controller runs no test: it skips torch's import (1.7 s of CPU, taken from
    the two workers while they collect)."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return
    global _torch
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
    _torch = torch


_torch = None   # torch, in a process that runs tests with it


def pytest_collection_finish(session):
    """What imports and collection made (torch, numba, tapegrad, the test modules' tables:
    ~200k objects a worker) out of the cyclic GC's full collections: each full collection
    walked them all, ~0.4 s under load, tests' own gc.collect() and automatic ones (48 in
    a run of test_ops.py, test_tape_recycle.py and test_memory.py: 62 of its 396 s).
    Objects the tests make are collected as before; only a cycle among objects already
    alive here would never be."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    """torch back on one thread after a test that changed its count.  Launching Numba's
    threading layer (numba.set_num_threads, as some batch tests and tapegrad.dask call) sets
    the thread count of the libgomp torch shares: torch then ran every later test's small
    ops on two spinning threads (the Transformer comparisons of test_nn_attention took 1-2.5 s
    of CPU each after test_nn_conv's batch replay flipped it, 0.15-0.25 s on one thread)."""
    if _torch is not None and _torch.get_num_threads() != 1:
        _torch.set_num_threads(1)


@pytest.fixture
def torch_ref():
    """torch, on one thread (skips without it): its threads compete for the two cores on the
    small ops of the differential programs (seconds instead of milliseconds)."""
    torch = pytest.importorskip("torch")
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(saved)
