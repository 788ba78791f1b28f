"""How tapegrad gets its Numba kernels: where they are cached, what happens when that cannot
work.  Every use of `tapegrad._kernels` goes
through `kernels()`, which runs this setup once, before Numba compiles anything of ours.

Cache location (first usable wins; see docs/reliability.md, "The Numba cache"):

1. `TAPEGRAD_CACHE_DIR` if set (an empty value switches caching off), else `NUMBA_CACHE_DIR`;
2. `__pycache__` next to `tapegrad/_kernels.py` (Numba's default);
3. a per-user directory, `$XDG_CACHE_HOME/tapegrad` or `~/.cache/tapegrad`, made mode 0700;
4. no caching (compiled in every process), with a warning.

A directory is usable when it can be created and written, and is safe: Numba unpickles its
cache index, so a directory others can write is a code-execution path.  One that is
world-writable, or owned by another user (root excepted), is refused with a warning.

A cache file that cannot be read back (truncated, overwritten, from a broken disk) is removed
and its kernel recompiled, with a warning; a cache that cannot be written is skipped.
"""
import contextlib
import hashlib
import os
import stat
import sys
import tempfile
import threading
import time
import warnings

try:
    import fcntl
except ImportError:   # (not on Windows: saves there go unlocked, loads are still checked)
    fcntl = None

__all__ = ["K", "kernels", "loaded", "kernel_module", "module_loaded", "cache_dir",
           "JitWarning"]


class JitWarning(RuntimeWarning):
    """tapegrad's Numba setup (cache, parallel launch) fell back to a safer path."""


_module = None
_cache_dir = None      # the directory chosen, None: no caching
_import_lock = threading.Lock()
_warned = set()


def _warn_once(key, text):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(text, JitWarning, stacklevel=4)


def kernels():
    """The `tapegrad._kernels` module, imported with the cache set up (once per process)."""
    if _module is None:
        with _import_lock:
            if _module is None:
                _load()
    return _module


def loaded():
    """Whether the kernel module is loaded: a caller that must not cause the first import and
    compile (a destructor, tape.Tape.__del__) checks this first."""
    return _module is not None


class _LazyKernels:
    """`K.sweep` etc.: attributes of `kernels()`, looked up on first use (so `import tapegrad`
    stays free of numba) and then cached on this object."""

    def __getattr__(self, name):
        value = getattr(kernels(), name)
        setattr(self, name, value)
        return value


K = _LazyKernels()


def cache_dir():
    """The directory holding tapegrad's compiled kernels, or None when caching is off."""
    kernels()
    return _cache_dir


# ---- choosing the cache directory -----------------------------------------------------------
def _unsafe(path):
    """Why `path` (an existing directory) must not hold a cache others could plant, or None."""
    st = os.stat(path)
    if st.st_mode & stat.S_IWOTH:  # sticky or not: others could plant files we never wrote
        return f"{path} is world-writable"
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is not None and st.st_uid not in (uid, 0):
        return f"{path} is owned by another user (uid {st.st_uid})"
    return None


def _usable(path, private):
    """None if `path` can hold the cache (made if missing: mode 0700 when `private`), else why
    not."""
    try:
        os.makedirs(path, mode=0o700 if private else 0o777, exist_ok=True)
        why = _unsafe(path)
        if why:
            return why
        tempfile.TemporaryFile(dir=path).close()
    except OSError as e:
        return f"{path} is not writable ({e.strerror or e})"
    return None


def _user_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tapegrad")


def _choose(config, source):
    """(cache dir or None, value for numba's config.CACHE_DIR during our import, refusals)."""
    from numba.core.caching import UserProvidedCacheLocator
    sub = UserProvidedCacheLocator.get_suitable_cache_subpath(source)
    refused = []
    given = os.environ.get("TAPEGRAD_CACHE_DIR")
    if given == "":
        return None, None, refused
    candidates = []
    if given or config.CACHE_DIR:
        root = given or config.CACHE_DIR
        # Numba writes into a per-source subdirectory: make it private and check both
        candidates.append((root, os.path.join(root, sub), root))
    candidates.append((None, os.path.join(os.path.dirname(source), "__pycache__"), ""))
    user = _user_dir()
    candidates.append((user, os.path.join(user, sub), user))
    for root, path, setting in candidates:
        # directories tapegrad makes are private; __pycache__ is made as Python makes it
        why = _usable(root, private=True) if root is not None else None
        why = why or _usable(path, private=root is not None)
        if why is None:
            return path, setting, refused
        refused.append(why)
    return None, None, refused


# ---- warnings' registries ------------------------------------------------------------------
# Every `warnings.filterwarnings`/`simplefilter` and both ends of a `catch_warnings` block bump
# the warnings module's filter version, and each call site's registry of warnings shown is
# emptied at its next warning once the version moved: a UserWarning shown once from a line
# ("default" action: torch's `.grad` of a non-leaf, `torch.tensor(tensor)`) is shown again.
# Numba does that during our loads and compiles: its first compile or cache load imports
# numba.np.linalg, which imports scipy.linalg (scipy's `catch_warnings` around `np.long`),
# and a compile wraps each type-inference step in a `catch_warnings` (thousands per kernel).
# So the first backward of a process showed a warning given before it a second time, where
# torch shows it once.  Those blocks leave the filters as they found them; while this thread
# loads or compiles our kernels, its filter changes do not bump the version (another
# thread's still do), and the version moves once at the end if the filters differ then.
_KEEPING = threading.local()   # .depth: this thread's registries_kept blocks open


def _kept_mutated(real):
    """warnings' _filters_mutated as installed once (by the first registries_kept): `real`
    unless this thread is inside a registries_kept block.  Installed for good rather than
    swapped in and out per block: two threads' blocks that overlap would otherwise put back
    each other's wrapper and leave one in place after both."""
    def mutated():
        if not getattr(_KEEPING, "depth", 0):
            real()
    mutated.real = real
    return mutated


@contextlib.contextmanager
def registries_kept():
    """Filter changes this thread makes inside and undoes before the end do not reset the
    registries of warnings already shown (see above)."""
    current = getattr(warnings, "_filters_mutated", None)
    if current is None:   # (a Python whose warnings module works otherwise: registries reset)
        yield
        return
    real = getattr(current, "real", None)
    if real is None:   # (the first block of the process: one assignment, atomic)
        real = current
        warnings._filters_mutated = _kept_mutated(real)
    before = list(warnings.filters)
    _KEEPING.depth = getattr(_KEEPING, "depth", 0) + 1
    try:
        yield
    finally:
        _KEEPING.depth -= 1
        if warnings.filters != before:
            real()


def _load():
    global _module, _cache_dir
    _module, _cache_dir = _import_cached("tapegrad._kernels", "_kernels.py", _import_kernels)


def _import_kernels():
    from . import _kernels
    return _kernels


def _import_cached(name, relpath, importer):
    """(module, cache dir or None): tapegrad's kernel module `name` (source `relpath` under
    the package, imported by calling `importer`) with Numba's cache placed as the module doc
    says."""
    from numba.core import config
    import numba.core.dispatcher as nd
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), relpath)
    chosen, setting, refused = _choose(config, source)
    unsafe = [w for w in refused if "not writable" not in w]
    if unsafe:
        _warn_once("unsafe", "tapegrad: refusing to use an unsafe Numba cache directory ("
                   + "; ".join(unsafe) + "): anyone who can write there can run code in this "
                   "process; " + (f"caching in {chosen} instead" if chosen else
                                  "compiling without a cache"))
    if chosen is None and os.environ.get("TAPEGRAD_CACHE_DIR") != "":
        _warn_once("nocache", "tapegrad: no writable, private directory for Numba's cache ("
                   + "; ".join(refused) + "): kernels are compiled in every process (set "
                   "TAPEGRAD_CACHE_DIR to a private directory to cache them)")
    saved = config.CACHE_DIR
    enable = nd.Dispatcher.enable_caching
    try:
        if chosen is None:  # @njit(cache=True) then keeps Numba's NullCache
            nd.Dispatcher.enable_caching = lambda self: None
        else:
            config.CACHE_DIR = setting
        if name in sys.modules and sys.modules[name] is not None:
            mod = sys.modules[name]  # imported directly before: as it is
        else:
            with registries_kept():
                mod = importer()
    finally:
        config.CACHE_DIR = saved
        nd.Dispatcher.enable_caching = enable
    stamp = dependency_stamp(mod)
    for value in vars(mod).values():
        if isinstance(value, nd.Dispatcher):
            _guard(value, stamp)
    return mod, chosen


_others = {}


def kernel_module(name, relpath, importer):
    """Another module of Numba kernels (the optimizers' fused updates, tapegrad/optim), set up
    as `tapegrad._kernels` is, once per process, on first use; `importer()` imports it."""
    mod = _others.get(name)
    if mod is None:
        kernels()      # first: the cache choice and its warnings are made once, there
        with _import_lock:
            mod = _others.get(name)
            if mod is None:
                mod = _others[name] = _import_cached(name, relpath, importer)[0]
    return mod



def module_loaded(name):
    """Whether kernel_module(name) has loaded that module in this process (a caller choosing
    between a numpy path and a kernel whose first load it would pay)."""
    return name in _others

# ---- reading and writing the cache --------------------------------------------------------------
# Numba's cache has one index file per function, mapping each signature to a data file.  Its
# `save` reads the index, picks the first free data-file number, writes the index, then the
# data, with no lock: two processes saving two signatures of one function at once (a cold
# cache; Dask workers replaying a float32 and a float64 tape) both pick number 1, and the
# index can end up mapping one signature to the other's code.  A process loading that entry
# then runs machine code compiled for other argument types: measured with a toy kernel,
# `a[0]` of a float64 array returned 4.6e18 (its bits read as an int64), and a float32
# entry under a float64 key failed every call.  So a compile (its load, or its compile and
# save) holds an advisory lock on the function's index, which also lets processes sharing a
# cold cache compile each kernel once, and every load checks the entry's signature.
def _guard(disp, stamp=None):
    """Make a cache file that cannot be loaded, or holds another signature's code, mean
    "recompile", not "fail every call" or "run the wrong code"; make a compile one step
    that other processes compiling the same function wait for (then load); and with `stamp`
    (dependency_stamp), make entries compiled against other sources of the modules the
    kernel calls into obsolete.  Cached or not, its loads and compiles keep the warnings'
    registries (registries_kept)."""
    if getattr(disp, "_tapegrad_guarded", False):
        return
    disp._tapegrad_guarded = True
    from numba.core.compiler_lock import global_compiler_lock
    compile_ = disp.compile
    cache = disp._cache
    if not hasattr(cache, "_cache_file"):   # (caching off: only the warnings' registries)
        def compile_uncached(sig):
            with global_compiler_lock, registries_kept():
                return compile_(sig)
        disp.compile = compile_uncached
        return
    load, save = cache.load_overload, cache.save_overload
    cache_file = cache._cache_file
    if stamp is not None:
        # (Numba's index holds this stamp and counts every entry obsolete when it differs)
        cache_file._source_stamp = (cache_file._source_stamp, stamp)
    file_load, file_save = cache_file.load, cache_file.save
    name = disp.py_func.__name__

    def load_overload(sig, target_context):
        try:
            return load(sig, target_context)
        except Exception as e:  # noqa: BLE001 - any unreadable entry: drop it, recompile
            removed = _discard(cache)
            _warn_once(("corrupt", cache._cache_path, name),
                       f"tapegrad: Numba cache for {name} in {cache._cache_path} could not be "
                       f"loaded ({type(e).__name__}: {e}); removed {removed} file(s) and "
                       f"recompiling")
            return None

    def save_overload(sig, data):
        try:
            save(sig, data)
        except Exception as e:  # noqa: BLE001 - caching is an optimisation
            _warn_once(("save", cache._cache_path),
                       f"tapegrad: could not write Numba's cache in {cache._cache_path} "
                       f"({type(e).__name__}: {e}); kernels stay compiled for this process")

    def checked_load(key):
        data = file_load(key)
        got, want = _entry_args(data), _key_args(key)
        if got is None or want is None or got == want:
            return data
        removed = _discard(cache)
        _warn_once(("mixed", cache._cache_path, name),
                   f"tapegrad: Numba cache for {name} in {cache._cache_path} held the code "
                   f"of another signature under this one's entry (two processes saved into "
                   f"it at once); removed {removed} file(s) and recompiling")
        return None

    def locked_save(key, data):
        got, want = _entry_args(data), _key_args(key)
        if got is not None and want is not None and got != want:
            return   # (never file code under another signature's key)
        with _index_lock(cache_file._index_path, name):
            file_save(key, data)

    def compile(sig):
        # one process compiles a signature while the others sharing the cache wait for it,
        # then load its entry (Numba's lock first: a thread waiting for it holds no index lock)
        with global_compiler_lock, _index_lock(cache_file._index_path, name), \
                registries_kept():
            return compile_(sig)

    cache.load_overload, cache.save_overload = load_overload, save_overload
    cache_file.load, cache_file.save = checked_load, locked_save
    disp.compile = compile


def dependency_stamp(mod):
    """A digest of the sources of the modules of `mod`'s package that `mod` takes compiled
    code from (its kernels call their functions, overloads and intrinsics: tapegrad._kernels
    calls _mathf32's float32 tanh, _atomic's fetch-and-add and _address's load), following
    theirs in turn.  Numba stamps a function's cache index with the hash of its own file
    only, so after a change to one of those files its cached kernels kept the old code:
    a float32 replay of tanh still gave the old tanh's value (measured, editing _mathf32.py).
    A number or array imported from another module is frozen into the kernels as well but not
    followed here (it has no module of its own to name): codegen writes such constants into
    the kernel module itself."""
    digest = hashlib.sha256()
    for path in sorted(dependencies(mod)):
        with open(path, "rb") as f:
            digest.update(os.path.basename(path).encode() + b"\0" + f.read())
    return digest.hexdigest()


def dependencies(mod):
    """The source files of dependency_stamp: the modules of `mod`'s package that its
    globals come from (functions, overloads, modules), and theirs, transitively."""
    package = mod.__name__.partition(".")[0]
    seen, todo = {mod.__name__}, [mod]
    files = []
    while todo:
        for value in vars(todo.pop()).values():
            name = value.__name__ if type(value) is type(sys) else getattr(value, "__module__", None)
            if type(name) is not str or name in seen or name.partition(".")[0] != package:
                continue
            seen.add(name)
            dep = sys.modules.get(name)
            path = getattr(dep, "__file__", None)
            if path:
                files.append(path)
                todo.append(dep)
    return files


def _entry_args(data):
    """The argument types a cache entry (Numba's pickled CompileResult: libdata, fndesc,
    environment, signature, ...) was compiled for, or None where its layout is not known."""
    sig = data[3] if type(data) is tuple and len(data) > 3 else None
    args = getattr(sig, "args", None)
    return tuple(args) if type(args) is tuple else None


def _key_args(key):
    """The argument types of a cache index key (signature, codegen magic, code hashes), or
    None where they cannot be read."""
    from numba.core import sigutils
    try:
        return tuple(sigutils.normalize_signature(key[0])[0])
    except Exception:  # noqa: BLE001 - unknown: the entry is not judged
        return None


# The index locks this process holds: lock path -> [file descriptor or None, depth].  Taken
# re-entrantly (a compile's save, a load's discard, a callee's compile inside its caller's),
# under `_held_lock`, which a thread keeps while it holds any: one thread at a time, as
# Numba's compiles are (a compile takes Numba's lock first, then this one).
_held = {}
_held_lock = threading.RLock()
# How long a compile waits for another process's compile of the same function before it
# compiles too (unlocked: its load is still checked); a big kernel compiles in 5-30 s here.
COMPILE_WAIT = 300.0


def _forget_held():
    """In a forked child: the locks are the parent's."""
    global _held_lock
    _held.clear()
    _held_lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_held)


@contextlib.contextmanager
def _index_lock(index_path, name=""):
    """An exclusive advisory lock (flock) on `index_path + ".lock"`, held while this process
    compiles, loads or saves the function's entries: another process compiling the same
    function waits, then loads what this one saved.  Where locks are not available (no
    fcntl, a file system without them) or the wait passes COMPILE_WAIT, the work goes on
    unlocked: loads are still checked.  A generator, not a class: a Ctrl-C at the entry of a
    class's __exit__ released nothing, and `_held_lock` stayed with this thread, so the next
    compile on another thread (a batch replay's) waited for ever; here the release is the
    generator's `finally`, which runs when the manager is dropped too."""
    path = index_path + ".lock"
    _held_lock.acquire()
    try:
        entry = _held.get(path)
        if entry is None:
            _held[path] = [_lock_file(path, name), 1]
        else:
            entry[1] += 1
    except BaseException:   # (Ctrl-C while waiting: nothing held)
        _held_lock.release()
        raise
    try:
        yield
    finally:
        try:
            entry = _held[path]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[path]
                if entry[0] is not None:
                    os.close(entry[0])   # (releases the lock)
        finally:
            _held_lock.release()


def _lock_file(path, name):
    """A descriptor of `path` holding its flock, or None (see _index_lock)."""
    if fcntl is None:
        return None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        deadline = time.monotonic() + COMPILE_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    _warn_once(("wait", path), f"tapegrad: waited {COMPILE_WAIT:g} s for "
                               f"another process compiling {name} into {os.path.dirname(path)}; "
                               f"compiling it here too")
                    os.close(fd)
                    return None
                time.sleep(0.02)
    except OSError:   # (no locks on this file system)
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise


def _discard(cache):
    """Remove one function's index and data files; how many went."""
    f = cache._cache_file
    index = os.path.basename(f._index_path)
    stem = index[:-len(".nbi")]
    n = 0
    with _index_lock(f._index_path, stem):
        for name in os.listdir(cache._cache_path):
            if name == index or (name.startswith(stem + ".") and name.endswith(".nbc")):
                try:
                    os.unlink(os.path.join(cache._cache_path, name))
                    n += 1
                except OSError:
                    pass
    return n
