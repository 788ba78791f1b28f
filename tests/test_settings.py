"""torch's process-wide settings (tapegrad/settings.py): thread counts and deterministic-
algorithm flags, their errors as torch's, the intra-op count driving torch-exact range fills
and batch replay's default threads."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import replay, settings
import fresh

try:
    import torch
except ImportError:
    torch = None


@pytest.fixture
def restore():
    saved = dict(settings._state)
    yield
    settings._state.update(saved)
    if torch is not None:
        torch.use_deterministic_algorithms(False)


BAD = ["set_num_threads(0)", "set_num_threads(-2)", "set_num_threads(1.5)",
       "set_num_threads('2')", "set_num_threads(True)", "set_num_interop_threads(0)",
       "use_deterministic_algorithms(1)", "use_deterministic_algorithms(True, warn_only=1)",
       "set_deterministic_debug_mode('x')", "set_deterministic_debug_mode(5)",
       "set_deterministic_debug_mode(1.0)"]


@pytest.mark.parametrize("call", BAD)
def test_errors_are_torchs(call, restore):
    with pytest.raises((RuntimeError, TypeError)) as got:
        eval("tg." + call)
    if torch is not None:
        with pytest.raises((RuntimeError, TypeError)) as want:
            eval("torch." + call)
        assert type(got.value) is type(want.value) and str(got.value) == str(want.value)


def test_thread_counts_round_trip(restore):
    tg.set_num_threads(3)
    assert tg.get_num_threads() == 3
    tg.set_num_threads(1)
    assert tg.get_num_threads() == 1 and replay._threads() == 1   # batch replay's default


def test_interop_threads_are_set_once():
    code = ("import tapegrad as tg\n"
            "n = tg.get_num_interop_threads()\n"
            "tg.set_num_interop_threads(2)\n"
            "try:\n    tg.set_num_interop_threads(3)\nexcept RuntimeError as e:\n    print(e)\n"
            "print(n >= 1, tg.get_num_interop_threads())\n")
    out = fresh.run(code).stdout.splitlines()
    assert out == ["Error: cannot set number of interop threads after parallel work has started "
                   "or set_num_interop_threads called", "True 2"]


@pytest.mark.parametrize("mode", ["default", "warn", "error", 0, 1, 2])
def test_deterministic_flags(mode, restore):
    tg.set_deterministic_debug_mode(mode)
    got = (tg.get_deterministic_debug_mode(), tg.are_deterministic_algorithms_enabled(),
           tg.is_deterministic_algorithms_warn_only_enabled())
    assert got == {"default": (0, False, False), "warn": (1, True, True),
                   "error": (2, True, False)}[("default", "warn", "error")[mode] if
                                              isinstance(mode, int) else mode]
    if torch is not None:
        torch.set_deterministic_debug_mode(mode)
        assert got == (torch.get_deterministic_debug_mode(),
                       torch.are_deterministic_algorithms_enabled(),
                       torch.is_deterministic_algorithms_warn_only_enabled())


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_range_fills_follow_the_thread_count_as_torchs(threads, restore):
    # torch splits a float32 arange over its intra-op threads, and the split shows in the bits
    # (1 and 2 threads differ in 2 of these 150000 values)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        want = torch.arange(-3.7, 11.3, 0.0001, dtype=torch.float32).numpy()
    finally:
        torch.set_num_threads(saved)
    tg.set_num_threads(threads)
    got = tg.arange(-3.7, 11.3, 0.0001, dtype=tg.float32).numpy()
    np.testing.assert_array_equal(got, want)


def test_distributed_is_not_available():
    import tapegrad.distributed as dist
    assert tg.distributed is dist
    assert not dist.is_available() and not dist.is_initialized()
    assert not hasattr(dist, "init_process_group")     # as a build without it


def test_the_default_thread_count_is_read_once(monkeypatch, restore):
    # (a Dask nanny sets OMP_NUM_THREADS=1 in the process that starts its workers)
    before = tg.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", str(before + 3))
    assert tg.get_num_threads() == before
