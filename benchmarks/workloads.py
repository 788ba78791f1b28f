"""Workloads and measuring helpers shared by `compare.py` and the asv suite (`benchmarks/`).

Every workload takes the autograd module as its first argument (`tapegrad` or `torch`), so the
two libraries run the very same code.  Importing this module makes `tapegrad` importable:
outside asv (or when tapegrad is not installed) the repository this file lives in comes first
on sys.path, so a script measures its own checkout.
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
# A script run from a checkout measures that checkout, even when another tapegrad is installed
# (asv, which sets ASV_ENV_DIR, measures the one it installed).
if (importlib.util.find_spec("tapegrad") is None
        or ("ASV_ENV_DIR" not in os.environ
            and os.path.isfile(os.path.join(ROOT, "tapegrad", "__init__.py")))):
    sys.path.insert(0, ROOT)

# tapegrad's large matmuls run on numpy's BLAS (host entries of the sweep); keep it on one
# thread, as torch is here (TORCH_THREADS), unless the caller chose.  The variable is read when
# numpy loads OpenBLAS; when numpy came first (asv's runner imports it), threadpoolctl sets the
# limit (`blas_threads` says what is in force).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

try:
    import threadpoolctl
except ImportError:         # then only OPENBLAS_NUM_THREADS (above) limits BLAS
    threadpoolctl = None
else:
    threadpoolctl.threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]), user_api="blas")


def blas_threads():
    """Threads of numpy's BLAS as in force now (a string: "?" without threadpoolctl)."""
    if threadpoolctl is None:
        return f"? (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')})"
    return ",".join(str(i["num_threads"]) for i in threadpoolctl.threadpool_info()
                    if i["user_api"] == "blas") or "?"

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
    return x, recurrence_steps(x, mod.tensor(1.0), n)


def recurrence_steps(x, y, n):
    """n steps of y = y * 0.999 + x.sin() * 0.001 from y; returns the last y."""
    for _ in range(n):
        y = y * DECAY + x.sin() * GAIN
    return y


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
    tapegrad.tape._POOL.clear()   # stream arrays kept for reuse: count the next graph's own
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


def startup(cold_cache=False, bytecode=True):
    """Start-up costs in a fresh subprocess importing the same tapegrad as this process:
    (import numpy s, import tapegrad s after numpy, first backward s (scalar graph),
    first n-d backward s after it).  The first backward imports numba and loads the cached
    kernel, or with `cold_cache` compiles it into an empty NUMBA_CACHE_DIR; the n-d one
    costs more only if it needs a kernel specialization of its own.

    `bytecode`: the imports read compiled bytecode, as an installed package's do (a primed
    private PYTHONPYCACHEPREFIX, whatever PYTHONDONTWRITEBYTECODE says); False: every module
    is compiled from source at each import (an environment that writes no bytecode).

    The priming run executes the same script, so numba's modules (imported by the first
    backward) have bytecode too: with a prefix, Python reads bytecode only there, and a
    priming run that imported only tapegrad left numba compiling from source inside the
    timed backward (~3 s of the 4.3 s once measured for a warm first backward; 1.1 s without).
    With `cold_cache` the priming run compiles into a Numba cache of its own, so the timed
    run still starts from an empty one."""
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(tapegrad.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="tapegrad-numba-") as cache, \
            tempfile.TemporaryDirectory(prefix="tapegrad-numba-prime-") as prime_cache, \
            tempfile.TemporaryDirectory(prefix="tapegrad-pyc-") as pyc:
        env["PYTHONPYCACHEPREFIX"] = pyc      # (bytecode of this run's own: none yet)
        if bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            prime = dict(env)
            if cold_cache:
                prime["NUMBA_CACHE_DIR"] = prime["TAPEGRAD_CACHE_DIR"] = prime_cache
            subprocess.run([sys.executable, "-c", _STARTUP], env=prime, check=True,
                           capture_output=True, timeout=600)
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        if cold_cache:   # tapegrad reads TAPEGRAD_CACHE_DIR first (tapegrad/_jit.py)
            env["NUMBA_CACHE_DIR"] = env["TAPEGRAD_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, "-c", _STARTUP], env=env, check=True,
                             capture_output=True, text=True, timeout=600).stdout
    return tuple(float(v) for v in out.split()[-4:])


_STARTUP_ND = """
import time
import tapegrad
x = tapegrad.ones(3, requires_grad=True); y = (x * x).sum()
t0 = time.perf_counter(); y.backward()
t1 = time.perf_counter(); print(t1 - t0)
"""


def first_nd_backward(cold_cache=False):
    """Seconds of the first backward in a fresh process when it is an n-d one (no scalar
    backward before it): import numba plus the kernel's cache load, or with `cold_cache`
    its compile, as a user whose first graph is n-d meets it."""
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(tapegrad.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="tapegrad-numba-") as cache:
        if cold_cache:   # tapegrad reads TAPEGRAD_CACHE_DIR first (tapegrad/_jit.py)
            env["NUMBA_CACHE_DIR"] = env["TAPEGRAD_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, "-c", _STARTUP_ND], env=env, check=True,
                             capture_output=True, text=True, timeout=600).stdout
    return float(out.split()[-1])


def best_startup(cold_cache=False, repeats=3):
    """Element-wise minimum of `repeats` startup() runs."""
    return tuple(map(min, zip(*(startup(cold_cache) for _ in range(repeats)))))


# -- a small n-d workload: MLP 2-16-16-1, tanh, batch 32, SGD ----------------------------------
def mlp(mod, batch=32, sizes=(2, 16, 16, 1), seed=0, dtype="float32"):
    """(params, X, Y): the same data for every library (drawn with numpy), of `dtype`.
    Y is sin of the row sums of X (one output) or of a fixed random projection of X."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((fan_in, fan_out)).astype(dt) / dt.type(math.sqrt(fan_in))
        params += [mod.tensor(w, requires_grad=True),
                   mod.tensor(np.zeros(fan_out, dt), requires_grad=True)]
    X = rng.standard_normal((batch, sizes[0])).astype(dt)
    if sizes[-1] == 1:
        Y = np.sin(X.sum(axis=1, keepdims=True)).astype(dt)
    else:
        R = rng.standard_normal((sizes[0], sizes[-1])) / math.sqrt(sizes[0])
        Y = np.sin(X @ R).astype(dt)
    return params, mod.tensor(X), mod.tensor(Y)


def mlp_loss(params, X, Y):
    """Mean squared error of the tanh MLP with weights and biases `params` (w1, b1, w2, ...)."""
    h = X
    for i in range(0, len(params) - 2, 2):
        h = (h @ params[i] + params[i + 1]).tanh()
    return ((h @ params[-2] + params[-1] - Y) ** 2).mean()


def mlp_step(mod, params, X, Y, lr=0.05):
    """Forward, mean squared error, backward and the no_grad SGD update; returns the loss."""
    loss = mlp_loss(params, X, Y)
    loss.backward()
    sgd(mod, params, lr)
    return loss.item()


def sgd(mod, params, lr=0.05):
    """The update of every training step here: `p -= lr * p.grad` under no_grad, grad reset."""
    with mod.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None


# -- small n-d models and ops, eager (benchmarks/bench_eager_nd.py) ----------------------------
def two_layer(mod, N=8, D_in=16, H=16, D_out=4, seed=0):
    """(x, y, w1, w2) of PyTorch's two-layer-net tutorial (float32, drawn with numpy)."""
    rng = np.random.default_rng(seed)
    x = mod.tensor(rng.standard_normal((N, D_in)).astype(np.float32))
    y = mod.tensor(rng.standard_normal((N, D_out)).astype(np.float32))
    w1 = mod.tensor(rng.standard_normal((D_in, H)).astype(np.float32) * 0.1, requires_grad=True)
    w2 = mod.tensor(rng.standard_normal((H, D_out)).astype(np.float32) * 0.1, requires_grad=True)
    return x, y, w1, w2


def two_layer_step(mod, x, y, w1, w2, lr=1e-3):
    """One iteration of the tutorial: forward (relu for its clamp(min=0)), sum of squares,
    backward, no_grad SGD update and .grad.zero_(); returns the loss."""
    loss = (x.mm(w1).relu().mm(w2) - y).pow(2).sum()
    loss.backward()
    with mod.no_grad():
        w1 -= lr * w1.grad
        w2 -= lr * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()
    return loss.item()


def small_operands(mod, seed=1):
    """(a, b, W, g): 32x16, 32x16 and 16x16 float32 tensors requiring grad, and a 16x16 one
    that does not (an update for W): the operands of the per-op eager figures."""
    rng = np.random.default_rng(seed)
    a, b, w, g = (rng.standard_normal(s).astype(np.float32)
                  for s in ((32, 16), (32, 16), (16, 16), (16, 16)))
    return (mod.tensor(a, requires_grad=True), mod.tensor(b, requires_grad=True),
            mod.tensor(w, requires_grad=True), mod.tensor(g))


# -- record/replay (compare_replay.py, benchmarks/bench_replay.py) ------------------------------
REPLAY_SIZES = (10_000, 100_000)   # recurrence steps for the replay figures
ROSEN_N, ROSEN_POINTS = 1_000, 100  # Rosenbrock leaves, gradients wanted (at different points)
BATCH_N, BATCH_B = 100, 2_000       # batch replay: Rosenbrock leaves, points per batch
JAX_START_TIMEOUT, JAX_COMPILE_TIMEOUT = 120.0, 120.0   # seconds: import jax; first call


def recurrence_of(x, n):
    """The recurrence as a function of x alone (what `record` sees: x is its only input).
    y starts as the number 1.0: its first product is a constant, as in `recurrence`."""
    return recurrence_steps(x, 1.0, n)


def record_recurrence(mod, n):
    """The n-step recurrence recorded once on a float64 0-d input: 4 n entries."""
    return mod.record(recurrence_of, mod.tensor(X0, dtype=mod.float64), n)


def record_one_op(mod):
    """A 1-entry tape (x.sin()): what a replay costs besides its entries."""
    return mod.record(lambda x: x.sin(), mod.tensor(X0, dtype=mod.float64))


def rosenbrock(xs):
    """sum_{i<n-1} (1 - x_i)**2 + 100 (x_{i+1} - x_i**2)**2 as a Python loop over the scalar
    elements xs[i]: a sequence of 0-d tensors (tapegrad, torch) or a jax vector inside jit.
    8 recorded ops per i."""
    s = (1 - xs[0]) ** 2 + 100 * (xs[1] - xs[0] ** 2) ** 2
    for i in range(1, len(xs) - 1):
        s = s + (1 - xs[i]) ** 2 + 100 * (xs[i + 1] - xs[i] ** 2) ** 2
    return s


def _rosenbrock_of(*xs):
    return rosenbrock(xs)


def rosenbrock_grad_np(P):
    """The exact gradient, vectorized numpy, at the points P (k, n): the reference."""
    P = np.asarray(P, np.float64)
    G = np.zeros_like(P)
    a, b = P[..., :-1], P[..., 1:]
    G[..., :-1] = -2 * (1 - a) - 400 * a * (b - a ** 2)
    G[..., 1:] += 200 * (b - a ** 2)
    return G


def rosenbrock_points(n=ROSEN_N, k=ROSEN_POINTS, seed=0):
    """k random points in [-1.5, 1.5]^n, float64 (k, n); the same for every library."""
    return np.random.default_rng(seed).uniform(-1.5, 1.5, (k, n))


def record_rosenbrock(mod, point):
    """Rosenbrock recorded at `point` with one float64 0-d input per coordinate."""
    return mod.record(_rosenbrock_of, *[mod.tensor(v, dtype=mod.float64) for v in point.tolist()])


def replay_rosenbrock(tape, P):
    """(values (k,), gradients (k, n)) by one `value_and_grad` replay per point (floats in)."""
    values, grads = np.empty(len(P)), np.empty(P.shape)
    for k, p in enumerate(P.tolist()):
        values[k], grads[k] = tape.value_and_grad(*p)
    return values, grads


def record_and_replay_rosenbrock(mod, P):
    """What a user of record/replay pays for k gradients: record at P[0], then k replays."""
    return replay_rosenbrock(record_rosenbrock(mod, P[0]), P)


def eager_rosenbrock(mod, P):
    """(values, gradients) by eager forward + backward at each point (fresh leaves each time)."""
    values, grads = np.empty(len(P)), np.empty(P.shape)
    for k, p in enumerate(P.tolist()):
        xs = [mod.tensor(v, dtype=mod.float64, requires_grad=True) for v in p]
        f = rosenbrock(xs)
        f.backward()
        values[k], grads[k] = f.item(), [x.grad.item() for x in xs]
    return values, grads


def jax_rosenbrock_worker():
    """Run in a subprocess by `JaxRosenbrock`: jax.jit(jax.value_and_grad(rosenbrock)) on a
    float64 vector.  Replies one JSON line per command read from stdin."""
    n, k, seed = (int(a) for a in sys.argv[1:4])
    import json

    def reply(**kw):
        print(json.dumps(kw), flush=True)

    t = time.perf_counter()
    import jax
    jax.config.update("jax_enable_x64", True)
    reply(version=jax.__version__, import_s=time.perf_counter() - t)
    P = rosenbrock_points(n, k, seed)
    f = jax.jit(jax.value_and_grad(rosenbrock))

    def run():
        values, grads = np.empty(len(P)), np.empty(P.shape)
        for i, p in enumerate(P):
            values[i], grads[i] = f(p)          # converting to numpy waits for the result
        return values, grads

    t = time.perf_counter()
    jax.block_until_ready(f(P[0]))
    reply(first_s=time.perf_counter() - t)    # trace + lower + XLA compile + one call
    for line in sys.stdin:
        cmd = line.split()
        if cmd[0] == "run":                     # k gradients, as the other libraries do
            t = time.perf_counter()
            run()
            reply(seconds=time.perf_counter() - t)
        elif cmd[0] == "save":                  # the gradients, for the comparison
            values, grads = run()
            np.savez(cmd[1], values=values, grads=grads)
            reply(saved=cmd[1])
        else:
            break


class JaxRosenbrock:
    """The jax side of the Rosenbrock benchmark, in a subprocess so that its compile can be
    capped (`JAX_COMPILE_TIMEOUT`).  The parent waits while the worker runs, so passes of the
    other libraries and `run()` here can be interleaved on the same machine load.
    `status` is "ok", "not importable", "did not finish" (compile over the cap) or "failed"."""

    def __init__(self, n=ROSEN_N, k=ROSEN_POINTS, seed=0, compile_timeout=JAX_COMPILE_TIMEOUT):
        self.version = self.import_s = self.first_s = None
        self.proc = None
        self.error = ""
        if importlib.util.find_spec("jax") is None:
            self.status = "not importable"
            return
        env = dict(os.environ)
        here = os.path.dirname(os.path.abspath(__file__))
        src = os.path.dirname(os.path.dirname(tapegrad.__file__))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, src, env.get("PYTHONPATH")]))
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import workloads; workloads.jax_rosenbrock_worker()",
             str(n), str(k), str(seed)], env=env, text=True, bufsize=1,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err)
        try:
            r = self._reply(JAX_START_TIMEOUT)
            self.version, self.import_s = r["version"], r["import_s"]
            self.first_s = self._reply(compile_timeout)["first_s"]
            self.status = "ok"
        except TimeoutError:
            self.status = "did not finish"
            self.close()
        except Exception as e:              # noqa: BLE001  (reported, not raised)
            self.status = "failed"
            self._err.seek(0)
            self.error = f"{e!r}; stderr: {self._err.read()[-2000:]}"
            self.close()

    def _reply(self, timeout):
        import json
        import select
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            raise TimeoutError
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"jax worker exited with {self.proc.wait()}")
        return json.loads(line)

    def _ask(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        return self._reply(None)

    def run(self):
        """Seconds for the k gradients (compiled)."""
        return self._ask("run")["seconds"]

    def results(self):
        """(values, gradients) at the k points."""
        with tempfile.TemporaryDirectory(prefix="tapegrad-jax-") as d:
            path = self._ask(f"save {os.path.join(d, 'g.npz')}")["saved"]
            with np.load(path) as z:
                return z["values"], z["grads"]

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:               # noqa: BLE001
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self._err.close()
        self.proc = None


# -- the MLP through replay: the loss as a function of the 4 parameter arrays -----------------
def mlp_replay(mod, **kw):
    """(tape, parameter arrays): the loss of `mlp(mod)` recorded as a function of its
    parameters (X and Y baked in), and numpy copies of the initial parameters."""
    params, X, Y = mlp(mod, **kw)
    tape = mod.record(lambda *p: mlp_loss(p, X, Y), *params)
    return tape, [p.detach().numpy().copy() for p in params]


def mlp_replay_step(tape, arrays, lr=0.05):
    """One SGD step by replay: value_and_grad with numpy arrays in and out, update in numpy."""
    loss, grads = tape.value_and_grad(*arrays)
    for p, g in zip(arrays, grads):
        p -= lr * g
    return float(loss)


# -- batch replay ------------------------------------------------------------------------------
def batch_rosenbrock(mod, n=BATCH_N, B=BATCH_B, seed=1):
    """(tape, Xs): Rosenbrock of n leaves recorded once and B points as n arrays of shape (B,)
    (the argument list of `value_and_grad_batch`)."""
    P = rosenbrock_points(n, B, seed)
    return record_rosenbrock(mod, P[0]), tuple(P.T.copy())


def interleaved(fns, reps, number=1, reps_of=None, prime=0):
    """Time the callables {name: fn} on the same machine load: repetition r runs each fn
    `number` times, the order reversed every other repetition; `reps_of` {name: k} gives
    costly ones fewer repetitions; `prime` untimed calls precede each timed sample, so that
    no fn is timed from a state another left behind (e.g. cores idled by a 1-thread run).  gc
    is off while timing (as timeit).  Returns ({name: best seconds per call}, {name: what fn
    returned last})."""
    best, last = dict.fromkeys(fns, math.inf), {}
    names = list(fns)
    for rep in range(reps):
        for name in (names if rep % 2 == 0 else names[::-1]):
            if rep >= (reps_of or {}).get(name, reps):
                continue
            fn = fns[name]
            for _ in range(prime):
                fn()
            gc.disable()
            try:
                t = time.perf_counter()
                for _ in range(number):
                    last[name] = fn()
                best[name] = min(best[name], (time.perf_counter() - t) / number)
            finally:
                gc.enable()
    return best, last


# -- higher-order derivatives (compare_higher.py, benchmarks/bench_higher.py) --------------------
HIGHER_SIZES = (10, 100, 1000)      # Rosenbrock leaves for gradient and hvp
HESSIAN_SIZES = (10, 100)           # full Hessians (torch's n=1000 takes minutes)


def rosen_leaves(mod, n, seed=0):
    """(xs, vs): n float64 0-d leaves at a random point and a random direction, as tuples."""
    rng = np.random.default_rng(seed)
    xs = tuple(mod.tensor(v, dtype=mod.float64, requires_grad=True)
               for v in rng.uniform(-1.5, 1.5, n).tolist())
    vs = tuple(mod.tensor(v, dtype=mod.float64) for v in rng.normal(size=n).tolist())
    return xs, vs


def rosen_gradient(mod, xs):
    """The gradient by autograd.grad, as a numpy vector."""
    return np.array([g.item() for g in mod.autograd.grad(rosenbrock(xs), xs)])


def rosen_hvp(mod, xs, vs):
    """Hessian-vector product by autograd.functional.hvp (reverse over reverse)."""
    _, hv = mod.autograd.functional.hvp(_rosenbrock_of, xs, vs)
    return np.array([h.item() for h in hv])


def rosen_hessian(mod, xs):
    """The full Hessian by autograd.functional.hessian, as an (n, n) numpy array."""
    H = mod.autograd.functional.hessian(_rosenbrock_of, xs)
    return np.array([[h.item() for h in row] for row in H])


def rosen_hessian_np(x):
    """The exact Hessian of the Rosenbrock sum at x (the reference)."""
    x = np.asarray(x, np.float64)
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        a, b = x[i], x[i + 1]
        H[i, i] += 2 - 400 * (b - a * a) + 800 * a * a
        H[i, i + 1] += -400 * a
        H[i + 1, i] += -400 * a
        H[i + 1, i + 1] += 200
    return H


# -- tape v2, issue #8 (compare_tape.py, benchmarks/bench_tape.py) ------------------------------
# Each cliff is split into an untimed build and the timed part, so that the asv suite can put
# the build in setup and compare_tape.py can time the phases of one call.
TWO_LAYER = dict(batch=64, sizes=(1000, 100, 10))      # the 1000->100->10 net, N = 64
SMALL_NET = dict(batch=8, sizes=(16, 16, 4))           # the 16->16->4 net, N = 8
MATMUL_SIZES = (64, 256, 1024)                          # square float64 matmul backward
DROPPED = 1000                                          # evaluation graphs left on the tape
SCALAR_STEPS = 10_000                                   # 40k-entry scalar graph
NO_GRAD_STEPS = 2_000                                   # recurrence with a no_grad block
CAT_SHAPE = (1000, 100)                                 # cat of two of these
MICRO_SIZES, MICRO_SAMPLES = (2, 8, 8, 1), 4            # micrograd-style MLP of 0-d tensors


def wide_net(mod, dtype="float32", **kw):
    """(params, X, Y) of the 1000->100->10 tanh net on a batch of 64 (or `kw`)."""
    return mlp(mod, **{**TWO_LAYER, **kw}, dtype=dtype)


def dropped_then_loss(mod, params, X, Y, k, recorded=True):
    """Evaluate the MLP loss k times, dropping each graph after `.item()` (they stay on the
    open tape), then return a loss to differentiate: its backward should not see them.
    With `recorded=False` the k evaluations run under no_grad (nothing on the tape): the
    control that does the same work before the backward (the backward right after 1000
    forwards runs on caches they left cold, in torch too)."""
    with mod.set_grad_enabled(recorded):
        for _ in range(k):
            mlp_loss(params, X, Y).item()
    return mlp_loss(params, X, Y)


def clear_grads(params):
    for p in params:
        p.grad = None


def scalar_graph(mod, n=SCALAR_STEPS, nd_op=False):
    """(x, y): the n-step recurrence (4n entries); with `nd_op`, plus one n-d op on the same
    tape (`y + (v * v).sum()`, v of 3 elements)."""
    x, y = recurrence(mod, n)
    if nd_op:
        v = mod.ones(3, requires_grad=True)
        y = y + (v * v).sum()
    return x, y


def recurrence_no_grad_blocks(mod, n=NO_GRAD_STEPS, block=True):
    """(x, y): the README's recurrence, with an empty `with no_grad(): pass` in each step if
    `block` (a grad-mode switch must not cut the graph into n tapes)."""
    x = mod.tensor(X0, requires_grad=True)
    y = mod.tensor(1.0)
    for _ in range(n):
        y = y * DECAY + x.sin() * GAIN
        if block:
            with mod.no_grad():
                pass
    return x, y


def cat_leaves(mod, shape=CAT_SHAPE, seed=0):
    """Two float32 leaves of `shape` for the cat benchmark."""
    rng = np.random.default_rng(seed)
    return [mod.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
            for _ in range(2)]


def cat_record(mod, a, b):
    """The recorded part of the cat benchmark: cat along dim 0, then a sum to differentiate."""
    return mod.cat([a, b]).sum()


def matmul_leaves(mod, n, seed=0):
    """Two float64 (n, n) leaves for the matmul backward benchmark."""
    rng = np.random.default_rng(seed)
    return [mod.tensor(rng.standard_normal((n, n)), requires_grad=True) for _ in range(2)]


def matmul_loss(A, B):
    """(A @ B).sum(): its backward is one matmul VJP (two products) and a sum's broadcast."""
    return (A @ B).sum()


def micro_mlp(mod, sizes=MICRO_SIZES, samples=MICRO_SAMPLES, seed=0):
    """(layers, xs, ys): a micrograd-style MLP whose every weight and bias is a 0-d float32
    tensor (layers: list of [(weights, bias) per neuron]), and `samples` data points as
    Python floats."""
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append([([mod.tensor(v, requires_grad=True) for v in rng.uniform(-1, 1, fan_in).tolist()],
                        mod.tensor(0.0, requires_grad=True)) for _ in range(fan_out)])
    xs = rng.uniform(-1, 1, (samples, sizes[0])).tolist()
    ys = [1.0 if i % 2 == 0 else -1.0 for i in range(samples)]
    return layers, xs, ys


def micro_params(layers):
    return [p for layer in layers for ws, b in layer for p in (*ws, b)]


def micro_loss(layers, xs, ys):
    """Sum of squared errors; neurons act = b + sum w_i x_i, tanh except on the last layer."""
    loss = None
    for x, y in zip(xs, ys):
        h = x
        for i, layer in enumerate(layers):
            out = []
            for ws, b in layer:
                act = b
                for w, v in zip(ws, h):
                    act = act + w * v
                out.append(act.tanh() if i < len(layers) - 1 else act)
            h = out
        err = (h[0] - y) ** 2
        loss = err if loss is None else loss + err
    return loss


def micro_step(mod, layers, xs, ys, lr=0.05):
    """One micrograd-style training step: forward, backward, no_grad SGD on every 0-d
    parameter.  Returns the loss."""
    loss = micro_loss(layers, xs, ys)
    loss.backward()
    sgd(mod, micro_params(layers), lr)
    return loss.item()


# -- cold compiles, each in a fresh interpreter with an empty Numba cache ------------------------
_COLD = {
    # the first backward of a scalar graph, then of an n-d one (and a host-matmul one)
    "backward": """
x = tapegrad.tensor(0.5, requires_grad=True); y = x.sin() * 2.0
t = time.perf_counter(); y.backward(); times.append(time.perf_counter() - t)
x = tapegrad.ones(3, requires_grad=True); y = (x * x).sum()
t = time.perf_counter(); y.backward(); times.append(time.perf_counter() - t)
""",
    # the first replay (record + value_and_grad) of a 0-d function, then of an n-d one
    "replay": """
f = lambda x: (x.sin() * x + 1.0) ** 2
t = time.perf_counter(); r = tapegrad.record(f, tapegrad.tensor(0.5)); r.value_and_grad(0.7)
times.append(time.perf_counter() - t)
g = lambda w, x: ((x @ w).tanh() ** 2).mean()
w, x = tapegrad.ones(3, 2), tapegrad.ones(4, 3)
t = time.perf_counter(); r = tapegrad.record(g, w, x); r.value_and_grad(w.numpy(), x.numpy())
times.append(time.perf_counter() - t)
""",
    # the first create_graph backward (and the backward of its result) of a 0-d graph, then
    # of an n-d one
    "create_graph": """
x = tapegrad.tensor(0.5, requires_grad=True)
t = time.perf_counter(); g, = tapegrad.autograd.grad((x.sin() * x) ** 2, x, create_graph=True)
g.backward(); times.append(time.perf_counter() - t)
x = tapegrad.ones(3, requires_grad=True)
t = time.perf_counter(); g, = tapegrad.autograd.grad((x.sin() * x).pow(2).sum(), x, create_graph=True)
g.sum().backward(); times.append(time.perf_counter() - t)
""",
}
COLD_CASES = tuple(_COLD)
COLD_LIMIT = 10.0          # seconds, issue #8


def cold_compile(case, cold_cache=True):
    """Seconds of the first call(s) of `case` (a key of _COLD: "backward", "replay",
    "create_graph") in a fresh interpreter, with NUMBA_CACHE_DIR an empty directory when
    `cold_cache`: (0-d first call, n-d first call after it, CPU seconds of both: less
    sensitive to other load than the wall times).  The process imports tapegrad (not timed)
    and runs nothing else, so the first call pays import numba and every compile it needs."""
    return _cold_run(_COLD[case], cold_cache)


# the first replay when it is an n-d one: nothing compiled before it in the process
_COLD_ND_REPLAY = "g = lambda" + _COLD["replay"].split("g = lambda", 1)[1]


def cold_first_nd_replay(cold_cache=True):
    """(seconds, CPU seconds) of the first replay (record + value_and_grad) in a fresh
    interpreter when it is an n-d one, with an empty Numba cache when `cold_cache`."""
    return _cold_run(_COLD_ND_REPLAY, cold_cache)


# the first value_and_grad_batch of a process: of a 0-d tape (Rosenbrock over 10 leaves), then
# of an n-d one of the common ops (the same over one vector)
_COLD_BATCH = """
import numpy as np
P = np.random.default_rng(0).standard_normal((64, 10))
f = lambda *x: sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2 for i in range(9))
r = tapegrad.record(f, *[tapegrad.tensor(0.0)] * 10)
t = time.perf_counter(); r.value_and_grad_batch(*P.T); times.append(time.perf_counter() - t)
g = lambda x: (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()
r = tapegrad.record(g, tapegrad.zeros(10))
t = time.perf_counter(); r.value_and_grad_batch(P); times.append(time.perf_counter() - t)
"""


def cold_first_batch(cold_cache=True):
    """(0-d seconds, n-d seconds, CPU seconds of both): the first value_and_grad_batch of a
    fresh interpreter, of a 0-d tape, then of an n-d one, with an empty Numba cache when
    `cold_cache` (what a Dask worker without a warm cache pays: issue #14)."""
    return _cold_run(_COLD_BATCH, cold_cache)


def _cold_run(body, cold_cache):
    """The times `body` appends to `times`, then the CPU seconds of the whole body (children
    included), from a fresh interpreter importing this tapegrad (NUMBA_CACHE_DIR empty when `cold_cache`)."""
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(tapegrad.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    env.pop("TAPEGRAD_CACHE_DIR", None)   # (it would win over NUMBA_CACHE_DIR: tapegrad/_jit.py)
    # CPU: this process's and its waited-for children's (a kernel compiled ahead in a child
    # process, tapegrad/_ahead.py, costs CPU there)
    code = ("import resource, time\nimport tapegrad\ntimes = []\n"
            "cpu = lambda: time.process_time() + sum(resource.getrusage("
            "resource.RUSAGE_CHILDREN)[:2])\nc0 = cpu()\n" + body
            + "print('@@', *times, cpu() - c0)\n")
    with tempfile.TemporaryDirectory(prefix="tapegrad-numba-") as cache:
        if cold_cache:
            env["NUMBA_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                             capture_output=True, text=True, timeout=900).stdout
    return tuple(float(v) for v in out.rsplit("@@", 1)[1].split())


# -- the same MLP built from nn modules (issue #12's "Done when": eager <= torch) ---------------
def nn_mlp(mod, batch=32, sizes=(2, 16, 16, 1), seed=0, dtype="float32", lr=0.05):
    """(model, loss_fn, opt, X, Y): nn.Linear layers with nn.Tanh between them in an
    nn.Sequential, nn.MSELoss and optim.SGD, the weights and data of `mlp(mod)` (the weights
    transposed into Linear's (out, in) layout)."""
    params, X, Y = mlp(mod, batch, sizes, seed, dtype)
    nn = mod.nn
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = nn.Linear(fan_in, fan_out, dtype=getattr(mod, dtype))
        with mod.no_grad():
            lin.weight.copy_(params[2 * i].detach().t())
            lin.bias.copy_(params[2 * i + 1].detach())
        layers += [lin, nn.Tanh()]
    model = nn.Sequential(*layers[:-1])
    return model, nn.MSELoss(), mod.optim.SGD(model.parameters(), lr=lr), X, Y


def eval_loop_rss_growth(mod, steps=3000):
    """MB the process grows by over `steps` evaluations of an nn MLP (256x2 inputs, 64-64-1)
    without backward, each dropped after `.item()` (a validation loss computed with grad mode
    on), counted from step 200 (the kernels and the first tapes are in by then)."""
    model, loss_fn, _, X, Y = nn_mlp(mod, batch=256, sizes=(2, 64, 64, 1))
    start = None
    for i in range(steps):
        loss_fn(model(X), Y).item()
        if i == 200:
            gc.collect()
            start = rss()
    gc.collect()
    return (rss() - start) / 2 ** 20


def nn_mlp_train_step(model, loss_fn, opt, X, Y):
    """The training step of torch's tutorials: zero_grad, forward, loss, backward, step."""
    opt.zero_grad()
    loss = loss_fn(model(X), Y)
    loss.backward()
    opt.step()
    return loss.item()


# -- optimizers and the replayed training step (tapegrad.optim; engineer optim, issue #12) ------
def mlp_optim(mod, name="SGD", **kw):
    """(params, X, Y, opt): `mlp(mod)` with `mod.optim.<name>` over its parameters, and one
    step taken (the state exists, .grad holds a gradient: `opt.step()` alone is the update)."""
    params, X, Y = mlp(mod)
    opt = getattr(mod.optim, name)(params, **(kw or {"lr": 0.05}))
    mlp_optim_step(mod, params, X, Y, opt)
    mlp_loss(params, X, Y).backward()
    return params, X, Y, opt


def mlp_optim_step(mod, params, X, Y, opt):
    """The eager training step as torch's tutorials write it; returns the loss."""
    opt.zero_grad()
    loss = mlp_loss(params, X, Y)
    loss.backward()
    opt.step()
    return loss.item()


def handwritten_state(mod):
    """(params, state): `mlp(mod)`'s parameters with a gradient each, and Adam's two moment
    buffers per parameter, for handwritten_adam."""
    params, X, Y = mlp(mod)
    mlp_loss(params, X, Y).backward()
    return params, [(mod.zeros_like(p), mod.zeros_like(p)) for p in params]


def handwritten_adam(mod, params, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Adam's update written by hand with in-place tensor ops under no_grad, as people write
    their own optimizers (and torch.optim's single-tensor loop does): lerp_, mul_, addcmul_,
    sqrt, add_, addcdiv_ per parameter (no bias correction: the ops are what is measured)."""
    with mod.no_grad():
        for p, (m, v) in zip(params, state):
            g = p.grad
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.addcdiv_(m, v.sqrt().add_(eps), value=-lr)
            p.add_(g, alpha=-lr * 0.01)   # (a decoupled decay-like term: add_ with alpha)


def mlp_replayed(mod, name="SGD", **kw):
    """(step, X, Y): the same training step recorded once, `step(X, Y)` replays it with the
    optimizer's fused update inside (tapegrad only)."""
    params, X, Y = mlp(mod)
    opt = getattr(mod.optim, name)(params, **(kw or {"lr": 0.05}))
    return mod.optim.ReplayedStep(opt, lambda x, y: mlp_loss(params, x, y), X, Y), X, Y


def nn_mlp_step(mod, name="SGD", compiled=False, **kw):
    """(step, X, Y): the issue #12 MLP 2-16-16-1 as tutorials write it (nn.Linear + Tanh,
    MSELoss, `mod.optim.<name>`) and its training step `step(X, Y)` (zero_grad, forward,
    backward, step; returns the loss tensor); `compiled`: the same function through
    `tapegrad.compile` (recorded on the first call, replayed after)."""
    params, X, Y = mlp(mod)
    nn = mod.nn
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, 1))
    with mod.no_grad():
        for p, v in zip(model.parameters(), params):   # the same weights in every library
            p.copy_(v.detach().T if v.dim() == 2 else v.detach())
    opt = getattr(mod.optim, name)(model.parameters(), **(kw or {"lr": 0.05}))
    loss_fn = nn.MSELoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return (mod.compile(step) if compiled else step), X, Y


def micro_replayed(mod, lr=0.05):
    """The micrograd step (its SGD on the 0-d parameters inside) recorded once: a 0-d tape
    replayed by one Numba call, then one fused update (tapegrad only)."""
    layers, xs, ys = micro_mlp(mod)
    opt = mod.optim.SGD(micro_params(layers), lr=lr)
    return mod.optim.ReplayedStep(opt, lambda: micro_loss(layers, xs, ys))


def micro_optim_step(mod, layers, xs, ys, opt):
    """micro_step with `opt.step()` (one fused update of every 0-d parameter) for the loop."""
    opt.zero_grad()
    loss = micro_loss(layers, xs, ys)
    loss.backward()
    opt.step()
    return loss.item()


# -- engineer "linalg": torch.linalg on LAPACK host entries (issue #11) ------------------------
LINALG_OPS = ("inv", "solve", "det", "cholesky")
LINALG_SIZES = (8, 64)


def linalg_leaves(mod, n, seed=0):
    """(A, B): a well-conditioned float64 (n, n) leaf (a symmetric positive-definite one for
    cholesky's sake) and a float64 (n, 4) right-hand side, both requiring grad."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    A = M @ M.T / n + np.eye(n)
    return (mod.tensor(A, requires_grad=True),
            mod.tensor(rng.standard_normal((n, 4)), requires_grad=True))


def linalg_loss(mod, op, A, B):
    """The scalar whose backward is one linalg VJP (plus a sum's broadcast)."""
    if op == "inv":
        return mod.linalg.inv(A).sum()
    if op == "solve":
        return mod.linalg.solve(A, B).sum()
    if op == "det":
        return mod.linalg.slogdet(A)[1]   # (det of a 64x64 matrix under/overflows)
    return mod.linalg.cholesky(A).sum()
# -- 2-thread scaling measured on a shared machine (issue #14; engineer batch14) ------------------
SCALING_SAMPLES = 120   # paired samples (~0.1 s each at B = 2000)
SCALING_CALLS = 3       # timed consecutive calls per thread count in a sample
QUIET_CONTROL = 1.9     # a sample whose control got at least this from 2 threads: the core was free


def paired_speedups(fns, threads=(1, 2), samples=SCALING_SAMPLES, calls=SCALING_CALLS,
                    times=None, cpu=None):
    """{name: array of per-sample speedups t(threads[0]) / t(threads[1])} of the callables
    {name: fn} on Numba thread counts, measured so that every speedup compares two timings
    taken moments apart: in each sample, every fn runs on both thread counts back to back
    (fns and thread counts in an order reversed every other sample, so that a load change
    within a sample favours neither), each as one untimed call (which brings an idle core
    back up) and `calls` timed ones.  A fn run next to another in the same sample (a control
    loop) shows whether the second core was free at that moment.  gc is off while timing.
    `times`, a dict, receives {name: (samples, len(threads)) array of seconds per call};
    `cpu`, a dict, {name: the same of the process's CPU seconds per call} (all its threads:
    what the calls got of the cores, which a co-tenant slowing the cores does not lower)."""
    import numba
    saved = numba.get_num_threads()
    out = {name: np.empty(samples) for name in fns}
    order = [(name, k) for name in fns for k in threads]
    try:
        for s in range(samples):
            t, c = {}, {}
            for name, k in (order if s % 2 == 0 else order[::-1]):
                fn = fns[name]
                numba.set_num_threads(k)
                fn()
                gc.disable()
                try:
                    c0, t0 = time.process_time(), time.perf_counter()
                    for _ in range(calls):
                        fn()
                    t[name, k] = time.perf_counter() - t0
                    c[name, k] = time.process_time() - c0
                finally:
                    gc.enable()
            for name in fns:
                out[name][s] = t[name, threads[0]] / t[name, threads[1]]
                for into, got in ((times, t), (cpu, c)):
                    if into is not None:
                        into.setdefault(name, np.empty((samples, len(threads))))[s] = [
                            got[name, k] / calls for k in threads]
    finally:
        numba.set_num_threads(saved)
    return out


def speedup_summary(speedups, control, quiet=QUIET_CONTROL):
    """Figures of paired_speedups' arrays for a measured fn against the control measured in
    the same samples: median and 10th percentile of each, of their per-sample quotient, and
    of the fn over the quiet samples only (control >= quiet), with their count."""
    quiet_mask = control >= quiet
    rel = speedups / control
    return {"median": float(np.median(speedups)), "p10": float(np.percentile(speedups, 10)),
            "control median": float(np.median(control)),
            "control p10": float(np.percentile(control, 10)),
            "relative median": float(np.median(rel)), "relative p10": float(np.percentile(rel, 10)),
            "quiet samples": int(quiet_mask.sum()),
            "quiet median": float(np.median(speedups[quiet_mask])) if quiet_mask.any() else math.nan,
            "quiet p10": (float(np.percentile(speedups[quiet_mask], 10)) if quiet_mask.any()
                          else math.nan)}


def cpu_summary(times, cpu):
    """Where a 2-thread call's time went, from paired_speedups' `times` and `cpu` of one fn
    (1 then 2 threads): the share of the 2-thread wall time its threads ran (2 x wall = 1),
    the CPU per call on 2 threads over that on 1 (above 1: the same work took more CPU, the
    cores ran slower), the speedup at equal CPU per work (speedup x that quotient: what the
    parallel part gives when both calls run at one speed), medians and 10th percentiles; and
    the correlation of the speedup with the CPU quotient over the samples."""
    speedup = times[:, 0] / times[:, 1]
    busy = cpu[:, 1] / (2 * times[:, 1])
    more = cpu[:, 1] / cpu[:, 0]
    equal = speedup * more
    figures = {"busy": busy, "cpu quotient": more, "equal-cpu speedup": equal}
    out = {f"{k} {q}": float(np.median(v) if q == "median" else np.percentile(v, 10))
           for k, v in figures.items() for q in ("median", "p10")}
    out["correlation"] = float(np.corrcoef(speedup, more)[0, 1])
    return out


def call_counts(fn, calls=20, threads=2):
    """{what: count per call} of fn() on `threads` Numba threads, after one call: allocations
    by Numba's runtime (arrays made inside kernels; "n/a" where this Numba cannot count them)
    and minor page faults (memory touched for the first time: fresh allocations)."""
    import resource
    import numba
    try:
        from numba.core.runtime import _nrt_python, rtsys
        _nrt_python.memsys_enable_stats()
        nrt = rtsys.get_allocation_stats
    except (ImportError, AttributeError, RuntimeError):
        nrt = None
    saved = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        fn()
        a0 = nrt().alloc if nrt else 0
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(calls):
            fn()
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / calls
        allocs = (nrt().alloc - a0) / calls if nrt else None
    finally:
        numba.set_num_threads(saved)
    return {"Numba runtime allocations": "n/a" if allocs is None else f"{allocs:.0f}",
            "minor page faults": f"{faults:.1f}"}


# -- single ops and small models beside torch (compare_ops.py) ----------------------------------
def op_cases(mod, seed=0):
    """{name: (make, op)}: common ops on small float32 tensors that require grad.  `make()`
    gives the op's input, a fresh non-leaf each call (the op records as it would inside a
    model: its input is an entry of the open tape); `op(x)` is what is timed."""
    mod.manual_seed(seed)
    F = mod.nn.functional
    a = mod.randn(8, 32, requires_grad=True)
    b = mod.randn(8, 32, requires_grad=True)
    w = mod.randn(32, 32, requires_grad=True)
    bias = mod.randn(32, requires_grad=True)
    gates = mod.randn(4, 128, requires_grad=True)
    seq = mod.randn(20, 4, 32, requires_grad=True)
    img = mod.randn(4, 3, 8, 8, requires_grad=True)
    cw = mod.randn(6, 3, 3, 3, requires_grad=True)
    idx = mod.randint(0, 8, (8,))
    tgt = mod.randint(0, 32, (8,))
    ones, zeros = mod.ones(32, requires_grad=True), mod.zeros(32, requires_grad=True)
    bd = b.detach()

    def of(leaf):
        return lambda: leaf * 1.0
    A, I, G = of(a), of(img), of(gates)
    return {
        "add": (A, lambda x: x + b), "mul": (A, lambda x: x * b), "div": (A, lambda x: x / b),
        "sub number": (A, lambda x: x - 1.0), "pow 2": (A, lambda x: x ** 2),
        "exp": (A, lambda x: x.exp()), "tanh": (A, lambda x: x.tanh()),
        "sigmoid": (A, lambda x: x.sigmoid()), "relu": (A, lambda x: x.relu()),
        "gelu": (A, lambda x: F.gelu(x)), "silu": (A, lambda x: F.silu(x)),
        "softplus": (A, lambda x: F.softplus(x)), "clamp": (A, lambda x: x.clamp(-1, 1)),
        "clamp_min": (A, lambda x: x.clamp(min=0)), "where": (A, lambda x: mod.where(x > 0, x, b)),
        "masked_fill": (A, lambda x: x.masked_fill(x > 0, 0.0)),
        "sum": (A, lambda x: x.sum()), "mean(1)": (A, lambda x: x.mean(1)),
        "max(1)": (A, lambda x: x.max(1)), "norm": (A, lambda x: x.norm()),
        "cumsum(1)": (A, lambda x: x.cumsum(1)), "sort(1)": (A, lambda x: x.sort(1)),
        "topk(3)": (A, lambda x: x.topk(3, 1)),
        "softmax": (A, lambda x: x.softmax(1)), "log_softmax": (A, lambda x: x.log_softmax(1)),
        "layer_norm": (A, lambda x: F.layer_norm(x, (32,))),
        "layer_norm affine": (A, lambda x: F.layer_norm(x, (32,), ones, zeros)),
        "batch_norm train": (I, lambda x: F.batch_norm(x, None, None, training=True)),
        "dropout": (A, lambda x: F.dropout(x, 0.1)),
        "mse_loss": (A, lambda x: F.mse_loss(x, bd)),
        "cross_entropy": (A, lambda x: F.cross_entropy(x, tgt)),
        "matmul": (A, lambda x: x @ w), "linear": (A, lambda x: F.linear(x, w, bias)),
        "bmm": (I, lambda x: mod.bmm(x.reshape(4, 3, 64), x.reshape(4, 64, 3))),
        "einsum": (A, lambda x: mod.einsum("ij,jk->ik", x, w)),
        "conv2d": (I, lambda x: F.conv2d(x, cw, padding=1)),
        "max_pool2d": (I, lambda x: F.max_pool2d(x, 2)), "avg_pool2d": (I, lambda x: F.avg_pool2d(x, 2)),
        "embedding": (lambda: w * 1.0, lambda x: F.embedding(idx, x)),
        "view": (A, lambda x: x.view(-1)), "reshape": (A, lambda x: x.reshape(32, 8)),
        "transpose": (A, lambda x: x.transpose(0, 1)), "permute": (I, lambda x: x.permute(0, 2, 3, 1)),
        "unsqueeze": (A, lambda x: x.unsqueeze(0)), "expand": (lambda: bias * 1.0, lambda x: x.expand(8, 32)),
        "slice": (A, lambda x: x[:, :16]), "index": (A, lambda x: x[idx]),
        "index_select": (A, lambda x: x.index_select(0, idx)),
        "chunk(4)": (G, lambda x: x.chunk(4, 1)), "unbind 20": (lambda: seq * 1.0, lambda x: x.unbind(0)),
        "cat": (A, lambda x: mod.cat([x, b], 1)), "stack": (A, lambda x: mod.stack([x, b])),
        "clone": (A, lambda x: x.clone()), "contiguous of t": (A, lambda x: x.t().contiguous()),
        "flatten": (I, lambda x: x.flatten(1)),
    }


MODEL_NAMES = ("mlp", "cnn", "lstm", "gru", "transformer", "bn_mlp", "embedding")


def model_step(mod, name, seed=0):
    """One Adam training step (zero_grad, forward, loss, backward, step) of a small model as
    tutorials write it with nn modules; returns the step function (it returns the loss)."""
    nn = mod.nn
    mod.manual_seed(seed)
    if name == "mlp":
        m = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
        x, y = mod.randn(32, 2), mod.randn(32, 1)
        loss_of = (lambda lossf: lambda: lossf(m(x), y))(nn.MSELoss())
    elif name == "cnn":     # MNIST-sized: conv, relu, pool, conv, relu, global pool, linear
        m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(16, 10))
        x, y = mod.randn(16, 1, 28, 28), mod.randint(0, 10, (16,))
        loss_of = (lambda lossf: lambda: lossf(m(x), y))(nn.CrossEntropyLoss())
    elif name in ("lstm", "gru"):   # 20 steps of a batch of 4, the last output to a head
        rnn = (nn.LSTM if name == "lstm" else nn.GRU)(8, 32, batch_first=True)
        head = nn.Linear(32, 1)
        m = nn.ModuleList([rnn, head])
        x, y = mod.randn(4, 20, 8), mod.randn(4, 1)
        loss_of = lambda: ((head(rnn(x)[0][:, -1]) - y) ** 2).mean()
    elif name == "transformer":
        m = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        x = mod.randn(4, 10, 32)
        loss_of = lambda: m(x).pow(2).mean()
    elif name == "bn_mlp":
        m = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(64, 5))
        x, y = mod.randn(32, 20), mod.randint(0, 5, (32,))
        loss_of = (lambda lossf: lambda: lossf(m(x), y))(nn.CrossEntropyLoss())
    elif name == "embedding":
        m = nn.Sequential(nn.Embedding(1000, 32), nn.Flatten(), nn.Linear(32 * 8, 2))
        x, y = mod.randint(0, 1000, (16, 8)), mod.randint(0, 2, (16,))
        loss_of = (lambda lossf: lambda: lossf(m(x), y))(nn.CrossEntropyLoss())
    else:
        raise ValueError(f"no model {name!r}: one of {MODEL_NAMES}")
    opt = mod.optim.Adam(m.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
        return loss.item()
    return step
