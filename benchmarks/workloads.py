"""Workloads and measuring helpers shared by `compare.py` and the asv suite (`benchmarks/`).

Every workload takes the autograd module as its first argument (`tapegrad` or `torch`), so the
two libraries run the very same code.  Importing this module makes `tapegrad` importable: if it
is neither installed nor on PYTHONPATH, the repository this file lives in is put on sys.path.
"""
import ctypes
import gc
import importlib
import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if importlib.util.find_spec("tapegrad") is None:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import tapegrad  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
OPS_PER_STEP = 4            # y * 0.999, x.sin(), (.) * 0.001, (.) + (.)
X0, DECAY, GAIN = 0.5, 0.999, 0.001
TORCH_THREADS = 1          # tapegrad runs on one thread; so does torch here (see README)


def load(name):
    """The module `name` ("tapegrad" or "torch"), or None if it cannot be imported."""
    try:
        mod = importlib.import_module(name)
    except ImportError:
        return None
    if name == "torch":
        mod.set_num_threads(TORCH_THREADS)
    return mod


def libraries():
    """{name: module} of the importable libraries, tapegrad first."""
    return {name: mod for name in ("tapegrad", "torch") if (mod := load(name)) is not None}


# -- the scalar recurrence ---------------------------------------------------------------------
def recurrence(mod, n):
    """Record y_{i+1} = y_i * 0.999 + sin(x) * 0.001 on 0-d tensors: 4 ops per step.
    Returns (x, y); only y (and x) keep the graph alive."""
    x = mod.tensor(X0, requires_grad=True)
    y = mod.tensor(1.0)
    for _ in range(n):
        y = y * DECAY + x.sin() * GAIN
    return x, y


def exact_grad(n):
    """dy_n/dx in closed form: cos(x) * GAIN * sum_{k<n} DECAY**k."""
    return math.cos(X0) * (1.0 - DECAY ** n)


def warm_up(mod):
    """Record and differentiate a small graph (loads or compiles tapegrad's Numba kernel).
    Returns the seconds the backward took."""
    _, y = recurrence(mod, 100)
    t = time.perf_counter()
    y.backward()
    return time.perf_counter() - t


# -- memory ------------------------------------------------------------------------------------
try:
    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):   # not glibc: RSS deltas are then a little noisier
    _malloc_trim = None
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    """Resident set size of this process in bytes (/proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def quiesce():
    """Release what earlier graphs left behind, collect garbage and hand free heap pages back
    to the OS, so the next RSS delta counts new allocations, not reused free memory.
    tapegrad's thread state keeps its last tape (and that tape's leaves) until the next
    recorded op; entering grad mode closes it, so it goes with its last tensor."""
    with tapegrad.enable_grad():
        pass
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)


def timed_recurrence(mod, n):
    """One measured run: record the graph, read RSS, backward.  Returns per recorded op
    (record s, backward s, graph bytes) and x.grad.  gc is off while timing (as timeit)."""
    ops = OPS_PER_STEP * n
    quiesce()
    r0 = rss()
    gc.disable()
    try:
        t0 = time.perf_counter()
        x, y = recurrence(mod, n)
        t1 = time.perf_counter()
        r1 = rss()
        t2 = time.perf_counter()
        y.backward()
        t3 = time.perf_counter()
    finally:
        gc.enable()
    return (t1 - t0) / ops, (t3 - t2) / ops, (r1 - r0) / ops, float(x.grad)


def bytes_per_op(mod, n, repeats=3):
    """Memory held by a live recurrence graph per recorded op: min over `repeats` of the RSS
    growth while recording it.  The graph is differentiated afterwards, which seals tapegrad's
    tape, so the next build starts on a fresh one (as after a training step)."""
    best = math.inf
    for _ in range(repeats):
        quiesce()
        r0 = rss()
        x, y = recurrence(mod, n)
        best = min(best, rss() - r0)
        y.backward()
        del x, y
    return best / (OPS_PER_STEP * n)


def traced_bytes_per_op(mod, n):
    """tracemalloc's count of the bytes a live recurrence graph holds, per recorded op.
    Sees Python objects and numpy buffers (tapegrad's whole tape) but not C++ allocations,
    so it is a cross-check for tapegrad only."""
    import tracemalloc
    quiesce()
    tracemalloc.start()
    try:
        x, y = recurrence(mod, n)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    y.backward()
    return held / (OPS_PER_STEP * n)


# -- start-up costs, each in a fresh interpreter -----------------------------------------------
_STARTUP = """
import time
t0 = time.perf_counter(); import numpy
t1 = time.perf_counter(); import tapegrad
t2 = time.perf_counter(); x = tapegrad.tensor(0.5, requires_grad=True); y = x.sin() * 2.0
t3 = time.perf_counter(); y.backward()
t4 = time.perf_counter(); x = tapegrad.ones(3, requires_grad=True); y = (x * x).sum()
t5 = time.perf_counter(); y.backward()
t6 = time.perf_counter(); print(t1 - t0, t2 - t1, t4 - t3, t6 - t5)
"""


def startup(cold_cache=False):
    """Start-up costs in a fresh subprocess importing the same tapegrad as this process:
    (import numpy s, import tapegrad s after numpy, first backward s (scalar graph),
    first n-d backward s after it).  The first backward imports numba and loads the cached
    kernel, or with `cold_cache` compiles it into an empty NUMBA_CACHE_DIR; the n-d one
    costs more only if it needs a kernel specialization of its own."""
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(tapegrad.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="tapegrad-numba-") as cache:
        if cold_cache:
            env["NUMBA_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, "-c", _STARTUP], env=env, check=True,
                             capture_output=True, text=True, timeout=600).stdout
    return tuple(float(v) for v in out.split()[-4:])


def best_startup(cold_cache=False, repeats=3):
    """Element-wise minimum of `repeats` startup() runs."""
    return tuple(map(min, zip(*(startup(cold_cache) for _ in range(repeats)))))


# -- a small n-d workload: MLP 2-16-16-1, tanh, batch 32, SGD ----------------------------------
def mlp(mod, batch=32, sizes=(2, 16, 16, 1), seed=0):
    """(params, X, Y): the same float32 data for every library (drawn with numpy)."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((fan_in, fan_out)).astype(np.float32) / np.float32(math.sqrt(fan_in))
        params += [mod.tensor(w, requires_grad=True),
                   mod.tensor(np.zeros(fan_out, np.float32), requires_grad=True)]
    X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    Y = np.sin(X.sum(axis=1, keepdims=True)).astype(np.float32)
    return params, mod.tensor(X), mod.tensor(Y)


def mlp_step(mod, params, X, Y, lr=0.05):
    """Forward, mean squared error, backward and the no_grad SGD update; returns the loss."""
    h = X
    for i in range(0, len(params) - 2, 2):
        h = (h @ params[i] + params[i + 1]).tanh()
    loss = ((h @ params[-2] + params[-1] - Y) ** 2).mean()
    loss.backward()
    with mod.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss.item()
