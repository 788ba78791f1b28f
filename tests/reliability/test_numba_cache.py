"""Numba's cache is not a single point of failure (issue #9, item 4).  Each case runs in a
subprocess: a copy of the package whose `__pycache__` cannot be created (a plain file stands
there, so this holds as root too), cache directories under /proc (never writable), corrupted
cache files, world-writable directories, fork() and batch calls from several threads."""
import glob
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import tapegrad

# each test compiles kernels in fresh processes with their own caches: slow
pytestmark = [pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and fork()"),
              pytest.mark.slow]

PKG = os.path.dirname(os.path.abspath(tapegrad.__file__))
UNWRITABLE = "/proc/self/no-such-dir"   # makedirs fails there even for root

PROGRAM = """
import warnings
warnings.simplefilter("always")
import tapegrad as tg
from tapegrad import _jit
x = tg.tensor([1.0, 2.0], requires_grad=True)
((x * x).sum() * 3.0).backward()
assert x.grad.tolist() == [6.0, 12.0], x.grad
print("CACHE_DIR", _jit.cache_dir())
"""
# PROGRAM on a 0-d tensor: the same cache set-up, fewer kernels to compile without a cache
SCALAR_PROGRAM = PROGRAM.replace("tg.tensor([1.0, 2.0], requires_grad=True)",
                                 "tg.tensor(2.0, requires_grad=True)").replace(
    "(x * x).sum()", "(x * x)").replace("x.grad.tolist() == [6.0, 12.0]", "x.grad.tolist() == 12.0")


def _run(code, env=None, path=None, timeout=600):
    e = dict(os.environ)
    for k in ("NUMBA_CACHE_DIR", "TAPEGRAD_CACHE_DIR", "NUMBA_THREADING_LAYER"):
        e.pop(k, None)
    e["PYTHONPATH"] = path or os.path.dirname(PKG)
    e.update(env or {})
    # cwd: `python -c` puts it first on sys.path
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=e, cwd=e["PYTHONPATH"],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def _cache_dir_of(out):
    line = [l for l in out.splitlines() if l.startswith("CACHE_DIR ")][-1]
    v = line.split(" ", 1)[1]
    return None if v == "None" else v


@pytest.fixture
def readonly_install(tmp_path):
    """A copy of the package where no `__pycache__` can be made (Python's .pyc included)."""
    root = tmp_path / "site"
    dst = root / "tapegrad"
    shutil.copytree(PKG, dst, ignore=shutil.ignore_patterns("__pycache__"))
    for d in [dst, dst / "autograd"]:
        (d / "__pycache__").write_text("not a directory")
    return str(root), str(dst)


@pytest.fixture(scope="module")
def warm_cache():
    """This process's cache directory, holding the kernels PROGRAM and the corruption test
    call (compiled here first if needed), or None when caching is off."""
    import numpy as np
    from tapegrad import _jit
    x = tapegrad.tensor([1.0, 2.0], requires_grad=True)
    ((x * x).sum() * 3.0).backward()
    reach = np.array([0, 0, 1], np.uint8)
    _jit.kernels().mark_live(np.array([-1, 0, 1]), np.full(3, -1), np.zeros(4, np.int64),
                             np.zeros(0, np.int64), reach)
    return _jit.cache_dir()


def _seed(src, dst_dir):
    """Copy the warm cache's kernel files so a test does not pay their compiles; the index
    stamp is the source's content hash, so they load from the copy.  Without a warm cache
    the subprocess compiles them (slower, same outcome)."""
    os.makedirs(dst_dir, mode=0o700, exist_ok=True)
    for f in glob.glob(os.path.join(src or "/nonexistent", "_kernels.*")):
        shutil.copy(f, dst_dir)


def _subdir(pkg_dir):
    from numba.core.caching import UserProvidedCacheLocator
    return UserProvidedCacheLocator.get_suitable_cache_subpath(os.path.join(pkg_dir, "x.py"))


def test_no_writable_location_compiles_without_cache(readonly_install):
    root, _ = readonly_install
    rc, out, err = _run(SCALAR_PROGRAM, path=root, env={
        "NUMBA_CACHE_DIR": UNWRITABLE, "XDG_CACHE_HOME": UNWRITABLE, "HOME": UNWRITABLE})
    assert rc == 0, err
    assert _cache_dir_of(out) is None
    assert err.count("JitWarning") == 1 and "compiled in every process" in err


def test_read_only_install_falls_back_to_a_private_user_dir(readonly_install, tmp_path,
                                                            warm_cache):
    root, dst = readonly_install
    xdg = tmp_path / "xdg"
    target = xdg / "tapegrad" / _subdir(dst)
    _seed(warm_cache, str(target))
    rc, out, err = _run(PROGRAM, path=root, env={"XDG_CACHE_HOME": str(xdg),
                                                "NUMBA_CACHE_DIR": UNWRITABLE})
    assert rc == 0, err
    assert _cache_dir_of(out) == str(target)
    assert "JitWarning" not in err, err


def test_directories_tapegrad_makes_are_private(tmp_path):
    from tapegrad import _jit
    d = tmp_path / "a" / "b"
    assert _jit._usable(str(d), private=True) is None
    assert os.stat(d).st_mode & 0o777 == 0o700
    os.chmod(d, 0o777)
    assert "world-writable" in _jit._usable(str(d), private=True)


def test_corrupted_cache_files_are_detected_and_recompiled(readonly_install, tmp_path,
                                                           warm_cache):
    """A garbled index (.nbi, of release_saved, which the backward calls) and garbled data
    (.nbc, of the sweep: sweep_core, the tier a core-op backward runs): each is removed and recompiled with a warning; the next process
    loads the repaired cache.  (Not mark_live: the n-d backward compiles it as a callee of
    arena_layout, which rewrites its index without reading it.)"""
    root, dst = readonly_install
    cache = tmp_path / "cache"
    target = cache / _subdir(dst)
    _seed(warm_cache, str(target))
    code = PROGRAM + """
import numpy as np
reach = np.array([0, 0, 1], np.uint8)
_jit.kernels().mark_live(np.array([-1, 0, 1]), np.full(3, -1), np.zeros(4, np.int64),
                         np.zeros(0, np.int64), reach)
assert reach.tolist() == [1, 1, 1], reach
"""
    env = {"TAPEGRAD_CACHE_DIR": str(cache)}
    idx = glob.glob(str(target / "_kernels.release_saved-*.nbi"))
    data = glob.glob(str(target / "_kernels.sweep_core-*.nbc"))
    if not (idx and data):  # nothing to copy: let a first process fill the cache
        rc, out, err = _run(code, path=root, env=env)
        assert rc == 0, err
        idx = glob.glob(str(target / "_kernels.release_saved-*.nbi"))
        data = glob.glob(str(target / "_kernels.sweep_core-*.nbc"))
    assert idx and data
    import pickle
    for p in idx:   # every index of it (a cache may hold some of older source lines)
        with open(p, "r+b") as f:  # keep numba's version header, garble the rest
            pickle.load(f)
            f.write(b"\x80\x04garbage" * 20)
            f.truncate()
    for p in data:
        with open(p, "wb") as f:
            f.write(b"\x80\x04not a pickle")
    rc, out, err = _run(code, path=root, env=env)
    assert rc == 0, err
    assert err.count("could not be loaded") == 2 and "recompiling" in err, err
    assert "release_saved" in err and "sweep_core" in err
    assert _cache_dir_of(out) == str(target)
    rc, out, err = _run(code, path=root, env=env)   # the cache was repaired
    assert rc == 0 and "JitWarning" not in err, err


def test_world_writable_cache_dir_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    rc, out, err = _run(PROGRAM, env={"NUMBA_CACHE_DIR": str(shared)})
    assert rc == 0, err
    assert "world-writable" in err and "refusing" in err, err
    assert _cache_dir_of(out) == os.path.join(PKG, "__pycache__")
    assert os.listdir(shared) == []   # nothing read or written there


def test_other_users_numba_cache_dir_is_left_alone_after_import(tmp_path, warm_cache):
    """Our setting of numba's CACHE_DIR is scoped to importing tapegrad's kernels (from a
    cache directory of our own, seeded from this process's)."""
    cache = tmp_path / "cache"
    _seed(warm_cache, str(cache / _subdir(PKG)))
    rc, out, err = _run("""
        import tapegrad as tg
        from numba.core import config
        before = config.CACHE_DIR
        tg.tensor(2.0, requires_grad=True).exp().backward()
        assert config.CACHE_DIR == before, (config.CACHE_DIR, before)
        print("ok")
    """, env={"TAPEGRAD_CACHE_DIR": str(cache)})
    assert rc == 0 and "ok" in out, err



# Two signatures of one cached function, as two processes compile them (a float32 and a float64
# replay on a cold cache): a toy kernel under the same guard as tapegrad's (_jit._guard), so
# that each process compiles in a fraction of a second.
TOY = """
from numba import njit


@njit(cache=True)
def first(a):
    return a[0] * 1.0
"""
TOY_CALL = """
import sys, warnings
import numpy as np
warnings.simplefilter("always")
sys.path.insert(0, {mod!r})
import toykernel
from tapegrad import _jit
_jit._guard(toykernel.first)
print("VALUE", toykernel.first(np.array([1.5, 2.5], dtype={dtype!r})))
print("HITS", sorted(str(s[0].dtype) for s in toykernel.first.stats.cache_hits))
"""


def _toy(tmp_path):
    mod = tmp_path / "mod"
    mod.mkdir(exist_ok=True)
    (mod / "toykernel.py").write_text(TOY)
    return str(mod)


def _toy_run(mod, cache, dtype, prelude=""):
    rc, out, err = _run(prelude + TOY_CALL.format(mod=mod, dtype=dtype),
                        env={"NUMBA_CACHE_DIR": str(cache)})
    assert rc == 0, err
    value = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("VALUE ")]
    hits = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("HITS ")]
    return value[0], hits[0], err


def test_an_entry_holding_another_signatures_code_is_recompiled(tmp_path):
    """What Numba's unlocked index update can leave behind: the float64 entry's data file
    holding the int64 code.  Loaded as it is, `a[0]` of [1.5, 2.5] gives 4.6e18 (the float's
    bits read as an int64); the guard sees the entry's signature, removes the function's
    files, recompiles with a warning, and the next process loads the repaired entry."""
    mod = _toy(tmp_path)
    assert _toy_run(mod, tmp_path / "c64", "float64")[0] == "1.5"
    assert _toy_run(mod, tmp_path / "ci", "int64")[0] == "1.0"
    (ours,) = glob.glob(str(tmp_path / "c64" / "**" / "*.nbc"), recursive=True)
    (theirs,) = glob.glob(str(tmp_path / "ci" / "**" / "*.nbc"), recursive=True)
    shutil.copy(theirs, ours)
    value, hits, err = _toy_run(mod, tmp_path / "c64", "float64")
    assert value == "1.5" and hits == "[]", (value, hits)
    assert err.count("JitWarning") == 1 and "held the code of another signature" in err, err
    value, hits, err = _toy_run(mod, tmp_path / "c64", "float64")
    assert (value, hits) == ("1.5", "['float64']") and "JitWarning" not in err, err


def test_concurrent_saves_of_two_signatures_keep_both(tmp_path):
    """Two processes compile the two signatures at once, each pausing 1 s between reading
    the function's index and writing it back: the save lock makes the second wait, so the
    index keeps both entries (unlocked, both took data file 1 and one entry was lost)."""
    mod = _toy(tmp_path)
    cache = tmp_path / "cache"
    slow = textwrap.dedent("""
        import time
        from numba.core import caching
        _save_index = caching.IndexDataCacheFile._save_index
        def slow_save_index(self, overloads):
            time.sleep(1.0)
            _save_index(self, overloads)
        caching.IndexDataCacheFile._save_index = slow_save_index
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=os.path.dirname(PKG))
    procs = [subprocess.Popen([sys.executable, "-c", slow + TOY_CALL.format(mod=mod, dtype=dt)],
                              env=env, cwd=os.path.dirname(PKG), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for dt in ("float64", "int64")]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and "VALUE" in out, err
    for dtype, value in (("float64", "1.5"), ("int64", "1.0")):
        got, hits, err = _toy_run(mod, cache, dtype)
        assert (got, hits) == (value, f"['{dtype}']") and "JitWarning" not in err, (got, hits, err)



def test_a_second_process_loads_what_the_first_compiles(tmp_path):
    """Processes sharing a cold cache compile each kernel once between them: while the first
    compiles (here held 1.5 s inside its save), the second waits for the function's lock,
    then loads the entry (a cache hit) instead of compiling it too."""
    mod = _toy(tmp_path)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.path.dirname(PKG))
    slow = textwrap.dedent("""
        import time
        from numba.core import caching
        _save_index = caching.IndexDataCacheFile._save_index
        def slow_save_index(self, overloads):
            print("SAVING", flush=True)
            time.sleep(1.5)
            _save_index(self, overloads)
        caching.IndexDataCacheFile._save_index = slow_save_index
    """)
    first = subprocess.Popen([sys.executable, "-c", slow + TOY_CALL.format(mod=mod, dtype="float64")],
                             env=env, cwd=os.path.dirname(PKG), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "SAVING"
        value, hits, err = _toy_run(mod, tmp_path / "cache", "float64")
    finally:
        out, err1 = first.communicate(timeout=300)
    assert first.returncode == 0 and "VALUE 1.5" in out, err1
    assert (value, hits) == ("1.5", "['float64']") and "JitWarning" not in err, (value, hits, err)


def test_a_compile_waits_for_another_process_only_so_long(tmp_path):
    """A process that holds a function's lock and never lets go (stopped, hung) delays the
    others' compile by _jit.COMPILE_WAIT, then they compile unlocked, with a warning."""
    mod = _toy(tmp_path)
    hold = textwrap.dedent(f"""
        import fcntl, os, sys
        sys.path.insert(0, {mod!r})
        import toykernel
        from tapegrad import _jit
        _jit._guard(toykernel.first)
        _jit.COMPILE_WAIT = 0.3
        os.makedirs(toykernel.first._cache._cache_path, exist_ok=True)
        holder = os.open(toykernel.first._cache._cache_file._index_path + ".lock",
                         os.O_RDWR | os.O_CREAT)
        fcntl.flock(holder, fcntl.LOCK_EX)   # (another open file: as another process's)
    """)
    value, hits, err = _toy_run(mod, tmp_path / "cache", "float64", prelude=hold)
    assert value == "1.5" and hits == "[]", (value, hits)
    assert err.count("JitWarning") == 1 and "waited 0.3 s for another process compiling first" \
        in err and "compiling it here too" in err, err


TOY_PACKAGE = {
    "__init__.py": "",
    "helper.py": "from numba import njit\n\n\n@njit\ndef helper(x):\n    return x + 1.0\n",
    "kernel.py": ("from numba import njit\n\nfrom .helper import helper\n\n\n"
                  "@njit(cache=True)\ndef first(a):\n    return helper(a[0])\n"),
}
TOY_PACKAGE_CALL = """
import sys, warnings
import numpy as np
warnings.simplefilter("always")
sys.path.insert(0, {root!r})
from toypkg import kernel
from tapegrad import _jit
_jit._guard(kernel.first, _jit.dependency_stamp(kernel))
print("VALUE", kernel.first(np.array([1.5, 2.5])))
"""


def test_a_change_in_a_module_the_kernels_call_recompiles_them(tmp_path):
    """Numba stamps a function's cache with its own file's hash: after an edit of the module
    a cached kernel calls into, it loaded the old code (tapegrad's float32 replay kept the
    old tanh of _mathf32.py).  With the dependency stamp the edit makes the entry obsolete."""
    pkg = tmp_path / "toypkg"
    pkg.mkdir()
    for name, text in TOY_PACKAGE.items():
        (pkg / name).write_text(text)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def value():
        rc, out, err = _run(TOY_PACKAGE_CALL.format(root=str(tmp_path)), env=env)
        assert rc == 0 and "JitWarning" not in err, err
        return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("VALUE ")]
    assert value() == ["2.5"]
    assert value() == ["2.5"]     # (from the cache)
    (pkg / "helper.py").write_text(TOY_PACKAGE["helper.py"].replace("+ 1.0", "+ 2.0"))
    assert value() == ["3.5"]


def test_the_kernels_dependency_stamp_covers_the_modules_they_call():
    from tapegrad import _jit
    names = {os.path.basename(p) for p in _jit.dependencies(_jit.kernels())}
    assert names == {"_mathf32.py", "_atomic.py", "_address.py", "_kindcall.py"}
    stamp = _jit.kernels().sweep._cache._cache_file._source_stamp
    assert stamp[1] == _jit.dependency_stamp(_jit.kernels())


BATCH = """
import os, threading, warnings
import numpy as np
import tapegrad as tg
warnings.simplefilter("always")
tape = tg.record(lambda x: (x * x).sin() * 2.0, tg.tensor(0.5))
X = np.linspace(0.0, 1.0, 5000)    # enough points for every thread (replay.BATCH_GRAIN)
want = 4.0 * X * np.cos(X * X)
"""


def test_value_and_grad_batch_after_fork():
    rc, out, err = _run(BATCH + """
v, (g,) = tape.value_and_grad_batch(X)      # the parent starts the thread pool
assert np.allclose(g, want)
pid = os.fork()
if pid == 0:
    v2, (g2,) = tape.value_and_grad_batch(X)
    os._exit(0 if np.array_equal(g2, g) and np.array_equal(v2, v) else 3)
_, st = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(st))
""")
    assert rc == 0, err
    assert "child 0" in out, (out, err)


def test_value_and_grad_batch_from_threads_at_once():
    rc, out, err = _run(BATCH + """
bad = []
def work():
    for _ in range(30):
        v, (g,) = tape.value_and_grad_batch(X)
        if not np.allclose(g, want):
            bad.append(1)
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
print("bad", len(bad))
""")
    assert rc == 0, err
    assert "bad 0" in out, (out, err)


@pytest.mark.parametrize("where", ["entering", "leaving"])
def test_index_lock_is_released_when_interrupted(tmp_path, where):
    """A Ctrl-C as the index lock is taken or given back (raised at the entry or resumption
    of its frame, where CPython runs a signal handler) leaves it released: another thread can
    take it.  (A class's __exit__ interrupted at its entry kept it: the next compile on a
    batch replay's thread waited for ever.)"""
    import threading
    from tapegrad import _jit
    index = str(tmp_path / "f.nbi")
    calls = {"n": 0}
    fire_at = 1 if where == "entering" else 2

    def trace(frame, event, arg):
        if event == "call" and frame.f_code.co_filename == _jit.__file__ and \
                frame.f_code.co_name in ("_index_lock", "__enter__", "__exit__"):
            calls["n"] += 1
            if calls["n"] == fire_at:
                raise KeyboardInterrupt
        return None
    sys.settrace(trace)
    try:
        with pytest.raises(KeyboardInterrupt):
            with _jit._index_lock(index, "f"):
                pass
    finally:
        sys.settrace(None)
    assert calls["n"] == fire_at and not _jit._held
    took = []

    def take():
        took.append(_jit._held_lock.acquire(timeout=5))
        if took[0]:
            _jit._held_lock.release()
    t = threading.Thread(target=take)
    t.start()
    t.join()
    assert took == [True]
