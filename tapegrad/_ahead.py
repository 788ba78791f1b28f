"""Compiling a kernel ahead, in a child process, while this one compiles another.

The first n-d replay of a process with an empty Numba cache compiles two big kernels one after
the other: the forward re-evaluation, then the reverse sweep (about 6 s each here, issue #8's
cold start).  Numba compiles under one global lock and mostly in Python, so a thread cannot
share that work; a process can.  `start(name, args)` launches `python -m tapegrad._ahead`,
which compiles kernel `name` for the types of `args` into a private temporary cache; the
caller goes on compiling the kernel it needs first.  Before this process calls `name`, it calls
`adopt(name)`: that waits for the child, copies the child's cache entry into tapegrad's cache
(`_jit.cache_dir()`) and lets Numba load it from there, as from any warm cache.

The child writes only to its own directory, so two processes never update one cache index at
once (Numba's index is rewritten whole: concurrent writers could point one signature at the
other's code).  Anything that goes wrong (the child fails, is killed, its entry cannot be
read) only means that this process compiles the kernel itself, as it would have.  A start
happens only when it can pay: at least two CPUs for this process, caching on, and the
signature neither compiled here nor in the cache.  TAPEGRAD_COMPILE_AHEAD=0 turns it off.
"""
import atexit
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading

from . import _jit

__all__ = ["start", "adopt", "pending", "looked_at"]

# kernel name -> (child process, its cache directory, signature); read unlocked on the hot
# path (`if pending:`), changed under _lock
pending = {}
_checked = set()   # kernel names start() has looked at: one look per name and process
_lock = threading.Lock()


def _forget_after_fork():
    """In a forked process: the children (and their directories) are the parent's to end."""
    global _lock
    pending.clear()
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _enabled():
    if os.environ.get("TAPEGRAD_COMPILE_AHEAD", "1") == "0" or not sys.executable:
        return False    # (an embedded interpreter may have no executable to start)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # (not on every platform)
        cpus = os.cpu_count() or 1
    return cpus >= 2 and _jit.cache_dir() is not None


def _signature(args):
    from numba import typeof
    return tuple(typeof(a) for a in args)


def _cached(disp, sig):
    """Whether `disp` has `sig` compiled in this process or in tapegrad's cache."""
    try:
        if sig in disp.overloads:
            return True
        key = disp._cache._index_key(sig, disp.targetctx.codegen())
        return key in disp._cache._cache_file._load_index()
    except Exception:  # noqa: BLE001 - unknown (not a cached dispatcher): start nothing
        return True


def looked_at(name):
    """Whether start() has run for kernel `name` in this process (whatever it decided)."""
    return name in _checked


def start(name, args):
    """Compile kernel `name` for the types of `args` in a child process, unless it is
    compiled (here or in the cache), already under way, or this process cannot gain by it."""
    with _lock:
        if name in _checked:
            return
        _checked.add(name)
    if not _enabled():
        return
    disp = getattr(_jit.K, name)
    sig = _signature(args)
    if _cached(disp, sig):
        return
    with _lock:
        where = tempfile.mkdtemp(prefix="tapegrad-ahead-")
        env = dict(os.environ, TAPEGRAD_CACHE_DIR=where, TAPEGRAD_COMPILE_AHEAD="0")
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent,
                                                          env.get("PYTHONPATH")]))
        try:
            child = subprocess.Popen([sys.executable, "-m", "tapegrad._ahead"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=env)
        except OSError:
            shutil.rmtree(where, ignore_errors=True)
            return
        try:
            child.stdin.write(pickle.dumps((name, sig)))
            child.stdin.close()
        except OSError:      # (it ended already: a broken pipe)
            _end(child, where)
            return
        pending[name] = (child, where, sig)


def adopt(name):
    """Before calling kernel `name`: if a child is compiling it, wait for it and put its
    result in tapegrad's cache, where the call finds it.  Interrupted, the child is killed
    and nothing else changes."""
    with _lock:
        entry = pending.pop(name, None)
    if entry is None:
        return
    child, where, sig = entry
    try:
        if child.wait() == 0:
            _copy_entry(getattr(_jit.K, name), sig, where)
    finally:
        _end(child, where)


def _copy_entry(disp, sig, where):
    """Copy `disp`'s entry for `sig` from the cache in `where` into the dispatcher's own."""
    from numba.core import caching, config
    saved = config.CACHE_DIR
    config.CACHE_DIR = where
    try:
        theirs = caching.FunctionCache(disp.py_func)   # (the locator reads CACHE_DIR here)
    finally:
        config.CACHE_DIR = saved
    # (the child stamped its index as _jit._guard stamps ours: the same sources, the same stamp)
    theirs._cache_file._source_stamp = disp._cache._cache_file._source_stamp
    try:
        key = theirs._index_key(sig, disp.targetctx.codegen())
        data = theirs._cache_file.load(key)   # the entry as Numba pickled it: not rebuilt
        if data is not None:
            disp._cache._cache_file.save(key, data)
    except Exception:  # noqa: BLE001 - the kernel is then compiled here, as without a child
        pass


def _end(child, where):
    if child.poll() is None:
        child.kill()
        child.wait()
    shutil.rmtree(where, ignore_errors=True)


@atexit.register
def _cancel_all():
    with _lock:
        entries = list(pending.values())
        pending.clear()
    for child, where, _ in entries:
        _end(child, where)


def _child_main():
    name, sig = pickle.load(sys.stdin.buffer)
    getattr(_jit.K, name).compile(sig)


if __name__ == "__main__":
    _child_main()
