"""Compiling kernels ahead, in a child process, while this one compiles others.

The first n-d replay of a process with an empty Numba cache compiles the forward kernel, the
pieces of the tape's kinds the forward calls, those the reverse sweep calls, and the sweep
kernel, in that order (issue #8's cold start: ~9 s of compiling here).  Numba compiles under
one global lock and mostly in Python, so a thread cannot share that work; a process can.
`start(jobs)` launches one child given the kernels this process will call, in the order it
will call them (kernel name and signature each); the child compiles them from the *last* one
back into a private temporary cache, while this process compiles from the first one on.
Each side claims a kernel before compiling it (a file made with O_EXCL in the child's
directory), so the two never compile one kernel twice and meet in the middle, wherever the
kernels' compile times put it.  Before this process calls a kernel of the list it calls
`adopt(name)`: a kernel nobody claimed yet is claimed here (the caller then compiles it as
usual); one the child claimed is waited for (the child writes its name on its stdout once the
entry is saved), copied into tapegrad's cache (`_jit.cache_dir()`) and loaded by Numba from
there, as from any warm cache.  The list's last kernel is adopted after every other the
caller takes, so the child is ended then: the rest of the list (a guess that was not met)
would only take a CPU from this process.

The child writes only to its own directory, so two processes never update one cache index at
once (Numba's index is rewritten whole: concurrent writers could point one signature at the
other's code).  It imports only `_jit` and the kernel modules, not the package (whose import,
~1 s of CPU, compiles nothing).  Anything that goes wrong (the child fails, is killed, its
entry cannot be read) only means that this process compiles the kernel itself, as it would
have.  A start happens only when it can pay: at least two CPUs for this process, caching on,
and some kernel of the list neither compiled here nor in the cache.
TAPEGRAD_COMPILE_AHEAD=0 turns it off.
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

__all__ = ["start", "adopt", "pending", "looked_at", "signature"]

# kernel name -> the _Child compiling the kernels of its list; read unlocked on the hot path
# (`if pending:`), changed under _lock
pending = {}
_checked = set()   # kernel names start() has looked at: one look per name and process
_lock = threading.Lock()

# the child's program: the package's directory as a bare package, so that importing
# tapegrad._ahead runs no tapegrad/__init__.py (it imports every module: ~1 s of CPU in a
# process that only compiles kernels)
_CHILD = ("import sys, types\n"
          "package = types.ModuleType('tapegrad')\n"
          "package.__path__ = [sys.argv[1]]\n"
          "sys.modules['tapegrad'] = package\n"
          "from tapegrad._ahead import _child_main\n"
          "_child_main()\n")


class _Child:
    """A child process compiling the kernels of `names` (their signatures in `sigs`) from
    the last to the first, into the cache in `where`; `done`: the names it reported saved."""

    def __init__(self, process, where, names, sigs):
        self.process, self.where, self.names, self.sigs = process, where, names, sigs
        self.done = set()
        self.open = set(names)     # the names neither adopted nor claimed here yet
        self.lock = threading.Lock()

    def claim(self, name):
        """Whether this process got `name` to compile (the child has not claimed it)."""
        return _claim(self.where, name)

    def wait_for(self, name):
        """Wait until the child reported `name` saved (True) or ended without it (False)."""
        with self.lock:
            while name not in self.done:
                line = self.process.stdout.readline()
                if not line:
                    return False
                self.done.add(line.decode().strip())
            return True


def _claim(where, name):
    try:
        os.close(os.open(os.path.join(where, "claim-" + name),
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


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


def signature(args):
    """The Numba signature a call with `args` compiles."""
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


def start(jobs):
    """Have the kernels of `jobs` ((kernel name, signature) pairs, in the order this process
    will call them) compiled by a child process from the last one back, but those compiled
    (here or in the cache), already looked at, or when this process cannot gain by it."""
    with _lock:
        jobs = [(name, sig) for name, sig in dict(jobs).items() if name not in _checked]
        _checked.update(name for name, _ in jobs)
    if not jobs or not _enabled():
        return
    jobs = [(name, sig) for name, sig in jobs if not _cached(getattr(_jit.K, name), sig)]
    if not jobs:
        return
    with _lock:
        where = tempfile.mkdtemp(prefix="tapegrad-ahead-")
        env = dict(os.environ, TAPEGRAD_CACHE_DIR=where, TAPEGRAD_COMPILE_AHEAD="0")
        package = os.path.dirname(os.path.abspath(__file__))
        try:
            process = subprocess.Popen([sys.executable, "-c", _CHILD, package],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, env=env)
        except OSError:
            shutil.rmtree(where, ignore_errors=True)
            return
        try:
            process.stdin.write(pickle.dumps((where, jobs)))
            process.stdin.close()
        except OSError:      # (it ended already: a broken pipe)
            _end(process, where)
            return
        child = _Child(process, where, [name for name, _ in jobs], dict(jobs))
        for name, _ in jobs:
            pending[name] = child


def adopt(name):
    """Before calling kernel `name`: if it is on a child's list, claim it (the call compiles
    it here), or, if the child claimed it first, wait for it and put its entry in tapegrad's
    cache, where the call finds it.  Interrupted, the child is killed and its kernels are
    left to this process."""
    with _lock:
        child = pending.pop(name, None)
    if child is None:
        return
    try:
        if not child.claim(name) and child.wait_for(name):
            _copy_entry(getattr(_jit.K, name), child.sigs[name], child.where)
    except BaseException:
        _drop(child)
        raise
    with _lock:
        child.open.discard(name)
        last = not child.open or name == child.names[-1]
    # nothing more to take from it: it has ended, or ends at its next claim; or this is the
    # last kernel of its list, which the caller calls after every other it takes (the rest
    # were listed but not met: a create_graph's guess), so what the child still compiles
    # would only take CPU from this process
    if last:
        _drop(child)


def _drop(child):
    """End `child` and forget the kernels of its list."""
    with _lock:
        for name in child.names:
            if pending.get(name) is child:
                del pending[name]
    _end(child.process, child.where)


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


def _end(process, where):
    if process.poll() is None:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
    shutil.rmtree(where, ignore_errors=True)


@atexit.register
def _cancel_all():
    with _lock:
        children = {id(child): child for child in pending.values()}
        pending.clear()
    for child in children.values():
        _end(child.process, child.where)


def _child_main():
    where, jobs = pickle.load(sys.stdin.buffer)
    for name, sig in reversed(jobs):
        if _claim(where, name):
            getattr(_jit.K, name).compile(sig)
            sys.stdout.write(name + "\n")
            sys.stdout.flush()
