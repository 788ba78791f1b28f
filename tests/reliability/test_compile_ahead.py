"""Compiling kernels ahead in a child process (tapegrad/_ahead.py): the child's cache entry
is adopted and loaded, not compiled again; the child and this process each compile a kernel
of the list they claim, from its two ends; a failed child only means compiling here; an
interrupted wait kills the child and leaves nothing behind.  Those that compile run in a
fresh interpreter with an empty cache, on small kernels (a fraction of a second each)."""
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
job = ("mark_live", _ahead.signature(args))


def claimed_by_child(child, name):
    import time
    while not os.path.exists(os.path.join(child.where, "claim-" + name)):
        time.sleep(0.01)
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
    _ahead.start([job])
    child = _ahead.pending["mark_live"]
    claimed_by_child(child, "mark_live")
    _ahead.adopt("mark_live")
    assert child.done == {"mark_live"}     # (then ended: nothing more to take from it)
    assert child.process.poll() is not None and not _ahead.pending
    assert not os.path.exists(child.where)
    live = args[4].copy()                   # the last entry live: so are its operands
    K.mark_live(args[0], args[1], args[2], args[3], live)
    stats = K.mark_live.stats
    assert sum(stats.cache_hits.values()) == 1 and not stats.cache_misses, stats
    assert live.tolist() == [1, 1, 1], live
    _ahead._checked.clear()
    _ahead.start([job])         # compiled here now: no child
    assert not _ahead.pending
    """, cache)
    # the entry is in tapegrad's cache: the next process starts no child, and loads it
    _run("""
    _ahead.start([job])
    assert not _ahead.pending
    K.mark_live(*args)
    assert not K.mark_live.stats.cache_misses
    """, cache)


@needs_two_cpus
def test_the_child_and_this_process_meet_in_the_middle_of_the_list(tmp_path):
    # the child compiles from the last kernel of the list back, this process from the first
    # on; each kernel is compiled once, by the side that claimed it
    _run("""
    leads = (np.zeros(0, np.int64), args[0], args[1], args[2], args[3], np.zeros(3, np.uint8))
    calls = {"chunk_starts": (1000, 32, 8, 2), "mark_leads": leads, "mark_live": args}
    _ahead.start([(name, _ahead.signature(a)) for name, a in calls.items()])
    child = _ahead.pending["mark_live"]
    assert all(_ahead.pending[name] is child for name in calls)
    claimed_by_child(child, "mark_live")
    for name, a in calls.items():
        _ahead.adopt(name)
        getattr(K, name)(*a)
    assert "mark_live" in child.done and "chunk_starts" not in child.done
    for name in calls:
        stats = getattr(K, name).stats
        hits, misses = sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
        assert (hits, misses) == ((1, 0) if name in child.done else (0, 1)), (name, stats)
    assert child.process.poll() is not None and not os.path.exists(child.where)
    assert not _ahead.pending
    """, str(tmp_path / "cache"))


@needs_two_cpus
@pytest.mark.parametrize("claims", [True, False])
def test_a_failed_child_means_compiling_here(tmp_path, claims):
    # a child that fails after claiming the kernels of its order (this process then waits
    # for it: its end without them is seen), or at once (the order may meet a closed pipe):
    # either way nothing stays pending and the kernel is compiled here
    fake = tmp_path / "fake-python"
    fake.write_text(f"#!{sys.executable}\n" + ("import os, pickle, sys\n"
                    "where, jobs = pickle.load(sys.stdin.buffer)\n"
                    "for name, _ in jobs:\n"
                    "    open(os.path.join(where, 'claim-' + name), 'x').close()\n"
                    if claims else "") + "raise SystemExit(3)\n")
    fake.chmod(0o755)
    _run(f"""
    sys.executable = {str(fake)!r}
    _ahead.start([job])
    child = _ahead.pending.get("mark_live")
    if child is not None:
        child.process.wait()
        _ahead.adopt("mark_live")
        assert child.process.returncode == 3 and not os.path.exists(child.where)
    assert not _ahead.pending
    K.mark_live(*args)
    assert sum(K.mark_live.stats.cache_misses.values()) == 1
    """, str(tmp_path / "cache"))


def _sleeping_child(names):
    """An _ahead._Child that claimed `names` and never ends them."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               stdout=subprocess.PIPE)
    where = tempfile.mkdtemp(prefix="tapegrad-ahead-test-")
    for name in names:
        assert _ahead._claim(where, name)
    return _ahead._Child(process, where, list(names), dict.fromkeys(names))


def test_an_interrupted_wait_kills_the_child_and_cleans_up(monkeypatch):
    child = _sleeping_child(["mark_live", "sweep_core"])
    for name in child.names:
        monkeypatch.setitem(_ahead.pending, name, child)

    def interrupted(self, name):
        raise KeyboardInterrupt
    monkeypatch.setattr(_ahead._Child, "wait_for", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _ahead.adopt("mark_live")
    assert child.process.poll() is not None and not os.path.exists(child.where)
    assert not set(child.names) & set(_ahead.pending)   # (both now compiled here)


def test_the_child_ends_once_the_last_kernel_of_its_list_is_taken(monkeypatch):
    # the caller takes the list's last kernel after every other it will take: the rest (a
    # create_graph's guess of its result's backward, a piece that backward did not meet) the
    # child would go on compiling on a CPU this process wants
    process = subprocess.Popen([sys.executable, "-c", "import time\n"
                                "print('sweep_core', flush=True)\ntime.sleep(60)"],
                               stdout=subprocess.PIPE)
    where = tempfile.mkdtemp(prefix="tapegrad-ahead-test-")
    names = ["sweep_reduce", "sweep_core"]
    for name in names:
        assert _ahead._claim(where, name)
    child = _ahead._Child(process, where, names, dict.fromkeys(names))
    for name in names:
        monkeypatch.setitem(_ahead.pending, name, child)
    try:
        _ahead.adopt("sweep_core")
        assert child.done == {"sweep_core"}
        assert child.process.poll() is not None and not os.path.exists(where)
        assert not set(names) & set(_ahead.pending)
    finally:
        _ahead._end(process, where)


def test_off_with_the_environment_variable_or_no_interpreter(monkeypatch):
    monkeypatch.setenv("TAPEGRAD_COMPILE_AHEAD", "0")
    assert not _ahead._enabled()
    monkeypatch.delenv("TAPEGRAD_COMPILE_AHEAD")
    monkeypatch.setattr(sys, "executable", None)     # (embedded interpreters)
    assert not _ahead._enabled()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_process_leaves_the_parents_child_alone(monkeypatch):
    child = _sleeping_child(["mark_live"])
    monkeypatch.setitem(_ahead.pending, "mark_live", child)
    try:
        pid = os.fork()
        if pid == 0:   # the fork: nothing pending; its exit handler must not end the child
            _ahead._cancel_all()
            os._exit(0 if not _ahead.pending else 1)
        assert os.waitpid(pid, 0)[1] == 0
        assert child.process.poll() is None and os.path.isdir(child.where)
    finally:
        _ahead.pending.pop("mark_live", None)
        _ahead._end(child.process, child.where)


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
