"""Compiling a kernel ahead in a child process (tapegrad/_ahead.py): the child's cache entry
is adopted and loaded, not compiled again; a failed child only means compiling here; an
interrupted wait kills the child and leaves nothing behind.  The first two run in a fresh
interpreter with an empty cache, on `mark_live` (a small kernel: a fraction of a second)."""
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

import tapegrad
from tapegrad import _ahead

# each test compiles kernels in fresh processes with their own caches: slow
pytestmark = pytest.mark.slow

PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(tapegrad.__file__)))

SETUP = """
import os, sys
import numpy as np
from tapegrad import _ahead, _jit
K = _jit.K
args = (np.array([-1, 0, 1]), np.full(3, -1), np.zeros(4, np.int64), np.zeros(0, np.int64),
        np.array([0, 0, 1], np.uint8))
"""


def _run(code, cache):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TAPEGRAD_CACHE_DIR", "TAPEGRAD_COMPILE_AHEAD")}
    env.update(NUMBA_CACHE_DIR=cache, PYTHONPATH=PKG_PARENT)
    p = subprocess.run([sys.executable, "-c", SETUP + textwrap.dedent(code)], env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return p.stdout


needs_two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                                    reason="compiling ahead needs two CPUs")


@needs_two_cpus
def test_the_childs_compile_is_loaded_not_repeated(tmp_path):
    cache = str(tmp_path / "cache")
    _run("""
    _ahead.start("mark_live", args)
    child, where, sig = _ahead.pending["mark_live"]
    _ahead.adopt("mark_live")
    assert child.returncode == 0 and not _ahead.pending and not os.path.exists(where)
    live = args[4].copy()                   # the last entry live: so are its operands
    K.mark_live(args[0], args[1], args[2], args[3], live)
    stats = K.mark_live.stats
    assert sum(stats.cache_hits.values()) == 1 and not stats.cache_misses, stats
    assert live.tolist() == [1, 1, 1], live
    _ahead._checked.clear()
    _ahead.start("mark_live", args)         # compiled here now: no child
    assert not _ahead.pending
    """, cache)
    # the entry is in tapegrad's cache: the next process starts no child, and loads it
    _run("""
    _ahead.start("mark_live", args)
    assert not _ahead.pending
    K.mark_live(*args)
    assert not K.mark_live.stats.cache_misses
    """, cache)


@needs_two_cpus
@pytest.mark.parametrize("reads", [True, False])
def test_a_failed_child_means_compiling_here(tmp_path, reads):
    # a child that fails after reading its order, or at once (the order then meets a closed
    # pipe): either way nothing is pending, or the pending child's failure is seen
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\n" + ("cat > /dev/null\n" if reads else "") + "exit 3\n")
    fake.chmod(0o755)
    _run(f"""
    sys.executable = {str(fake)!r}
    _ahead.start("mark_live", args)
    entry = _ahead.pending.get("mark_live")
    _ahead.adopt("mark_live")
    if entry is not None:
        child, where, _ = entry
        assert child.returncode == 3 and not os.path.exists(where)
    assert not _ahead.pending
    K.mark_live(*args)
    assert sum(K.mark_live.stats.cache_misses.values()) == 1
    """, str(tmp_path / "cache"))


def test_an_interrupted_wait_kills_the_child_and_cleans_up(monkeypatch):
    child = subprocess.Popen(["sleep", "60"])
    where = tempfile.mkdtemp(prefix="tapegrad-ahead-test-")
    monkeypatch.setitem(_ahead.pending, "mark_live", (child, where, None))
    wait = child.wait
    interrupted = []

    def interrupted_wait(timeout=None):
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt
        return wait(timeout)

    child.wait = interrupted_wait
    with pytest.raises(KeyboardInterrupt):
        _ahead.adopt("mark_live")
    assert child.poll() is not None and not os.path.exists(where)
    assert "mark_live" not in _ahead.pending


def test_off_with_the_environment_variable_or_no_interpreter(monkeypatch):
    monkeypatch.setenv("TAPEGRAD_COMPILE_AHEAD", "0")
    assert not _ahead._enabled()
    monkeypatch.delenv("TAPEGRAD_COMPILE_AHEAD")
    monkeypatch.setattr(sys, "executable", None)     # (embedded interpreters)
    assert not _ahead._enabled()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_process_leaves_the_parents_child_alone(monkeypatch):
    child = subprocess.Popen(["sleep", "60"])
    where = tempfile.mkdtemp(prefix="tapegrad-ahead-test-")
    monkeypatch.setitem(_ahead.pending, "mark_live", (child, where, None))
    try:
        pid = os.fork()
        if pid == 0:   # the fork: nothing pending; its exit handler must not end the child
            _ahead._cancel_all()
            os._exit(0 if not _ahead.pending else 1)
        assert os.waitpid(pid, 0)[1] == 0
        assert child.poll() is None and os.path.isdir(where)
    finally:
        _ahead.pending.pop("mark_live", None)
        _ahead._end(child, where)


@needs_two_cpus
def test_a_first_create_graph_has_the_sweep_compiled_ahead(tmp_path):
    # the 0-d create_graph backward compiles record_backward; meanwhile a child compiles the
    # sweep its result's backward calls (tiers.sweep_ahead_of_tape), which then loads it
    out = _run("""
    import tapegrad as tg
    x = tg.tensor(0.5, dtype=tg.float64, requires_grad=True)
    g, = tg.autograd.grad((x.sin() * x) ** 2, x, create_graph=True)
    print("pending", sorted(_ahead.pending))
    g.backward()
    stats = K.sweep_core.stats
    print("hits", sum(stats.cache_hits.values()), "misses", sum(stats.cache_misses.values()))
    print("grad", x.grad.item())
    """, str(tmp_path / "cache"))
    assert "pending ['sweep_core']" in out and "hits 1 misses 0" in out, out
    import math
    want = 2 * (math.sin(0.5) + 0.5 * math.cos(0.5)) ** 2 + 2 * (0.5 * math.sin(0.5)) * (
        2 * math.cos(0.5) - 0.5 * math.sin(0.5))
    assert abs(float(out.split("grad ")[1]) - want) < 1e-12, out
