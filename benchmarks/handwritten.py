"""Hand-written Numba baselines for the replay benchmarks (compare_replay.py, bench_replay.py).

A module of its own (not workloads.py) so that `import workloads` does not import numba, and
so that `cache=True` can cache the compiled functions next to this file.
"""
import math
import os

# parallel_control runs on Numba's OpenMP threads, whose waiting threads spin ~3 ms by
# default (GOMP_SPINCOUNT 300000) after each call, on the cores the batch replay timed beside
# it needs.  tapegrad set 0 for every OpenMP user of a process until its batches moved to
# threads of its own (tapegrad.batchrun); the control keeps that setting, so that the paired
# samples are taken as before, a user's own left alone.  Read once, when libgomp loads (the
# first parallel launch).
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "0")

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from workloads import BATCH_B, DECAY, GAIN  # noqa: E402


@njit(cache=True)
def recurrence_value_and_grad(xs, vals):
    """The scalar recurrence y = y*0.999 + sin(x)*0.001 (y starts at 1.0) and dy/dx, doing the
    work a replayed tape does: a forward loop that evaluates the 4 entries of every step and
    stores their values in `vals` (4 n, preallocated like the tape's arena), then a reverse loop
    over the stored steps that computes the adjoints, with cos(x) evaluated per step.

    `xs` holds x once per step (n copies of the same value); the loops read xs[i].  This is
    deliberate: sin and cos are LLVM intrinsics without side effects, so with x a scalar (or
    an array element LLVM can prove unchanged) loop-invariant code motion evaluates sin(x) and
    cos(x) once per call instead of once per step, and the baseline would no longer do the
    work of the tape (which reads x through vals[ia[e]] at every sin entry).  A per-step array
    element is opaque to the compiler, so nothing can be hoisted; the cost is one sequential
    load per step, which the tape pays too.  (`scalar_x_variant` below is the hoistable
    version, kept to show the difference: on this machine it runs at ~0.8 ns/op against
    ~5-6 ns/op for this function; see compare_replay.py's output.)"""
    n = xs.shape[0]
    y = 1.0
    for i in range(n):                      # forward: 4 entries per step, values stored
        a = y * DECAY
        s = math.sin(xs[i])
        b = s * GAIN
        y = a + b
        k = 4 * i
        vals[k] = a
        vals[k + 1] = s
        vals[k + 2] = b
        vals[k + 3] = y
    gy = 1.0                                # d y_n / d y_n
    gx = 0.0
    for i in range(n - 1, -1, -1):          # reverse over the steps
        # y = a + b: ga = gb = gy;  b = s*GAIN: gs = gb*GAIN;  s = sin(x): gx += gs*cos(x);
        # a = y_prev*DECAY: g(y_prev) = ga*DECAY
        gx += gy * GAIN * math.cos(xs[i])
        gy = gy * DECAY
    return y, gx


@njit(cache=True)
def scalar_x_variant(x, n, vals):
    """The same with x a scalar: LLVM may hoist sin(x) and cos(x) out of the loops (not a
    fair baseline; printed for reference only)."""
    y = 1.0
    for i in range(n):
        a = y * DECAY
        s = math.sin(x)
        b = s * GAIN
        y = a + b
        k = 4 * i
        vals[k] = a
        vals[k + 1] = s
        vals[k + 2] = b
        vals[k + 3] = y
    gy = 1.0
    gx = 0.0
    for i in range(n - 1, -1, -1):
        gx += gy * GAIN * math.cos(x)
        gy = gy * DECAY
    return y, gx


def recurrence_buffers(n, x):
    """(xs, vals) for `recurrence_value_and_grad`, allocated once and reused across calls."""
    return np.full(n, float(x)), np.empty(4 * n)


@njit(cache=True)
def empty_call(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9):
    """Does nothing with 10 arguments: the floor of a Numba call with as many arguments as a
    scalar replay passes (dispatch: type-checking and unboxing each argument)."""
    return 0.0


@njit(cache=True, parallel=True)
def parallel_control(X, out):
    """A plain prange loop, one row per iteration, each row a serial chain of sin (no
    vectorization, no shared writes): what 1 vs 2 threads give on this machine right now, to
    compare with the batch replay's speedup."""
    for p in prange(X.shape[0]):
        s = 0.0
        for j in range(X.shape[1]):
            s = math.sin(X[p, j] + 1e-9 * s)
        out[p] = s


@njit(cache=True, parallel=True)
def throughput_control(X, out):
    """A prange loop whose rows are 8 independent multiply-add chains each (no memory traffic
    beyond reading X, no shared writes): bound by the core's execution units, not by latency
    as `parallel_control`'s sin chain.  It gets less than 2x from 2 threads when the host runs
    the two vCPUs on one physical core's hyperthreads, or beside another tenant's busy
    sibling thread, or at a lower clock: what the sin chain does not see (two latency-bound
    chains share a core's units without slowing each other)."""
    for p in prange(X.shape[0]):
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for j in range(X.shape[1]):
            x = X[p, j]
            a0 = a0 * 0.999 + x
            a1 = a1 * 0.998 + x
            a2 = a2 * 0.997 + x
            a3 = a3 * 0.996 + x
            a4 = a4 * 0.995 + x
            a5 = a5 * 0.994 + x
            a6 = a6 * 0.993 + x
            a7 = a7 * 0.992 + x
        out[p] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7


def control_buffers(rows=BATCH_B, cols=1_000, seed=2):
    """(X, out) for `parallel_control`: as many rows as the batch replay has points, each
    about as long (~20 µs on one core) as one point's replay."""
    return np.random.default_rng(seed).uniform(-1, 1, (rows, cols)), np.empty(rows)
