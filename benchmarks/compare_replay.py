"""tapegrad record/replay against hand-written Numba, torch eager and jax.jit, in one run.

    python benchmarks/compare_replay.py [--quick] [--jax] [--batch] [--cold]

Workloads in benchmarks/workloads.py (the hand-written Numba baselines in handwritten.py).
Within each section the contenders run interleaved (the order reversed every other
repetition) and each figure is the best of k repetitions (REPS below), so all see the same
machine load; gc is off inside timed regions.  First calls (Numba compile or cache load) are timed and
printed on their own, never mixed into the figures.

1. Scalar recurrence y = y*0.999 + x.sin()*0.001 (4 entries per step), n = 1e4 and 1e5 steps,
   recorded once on a float64 0-d input; `tape.value_and_grad(0.5)` (forward + backward) per
   entry, against `handwritten.recurrence_value_and_grad` (@njit(cache=True): a forward loop
   storing every intermediate, a reverse loop with cos per step; see its docstring for why x
   is read from an array).  Fixed cost: `value_and_grad` of a 1-entry tape, best of many.
   Targets: <= 10 ns/op, <= 2x the hand-written function, fixed cost <= 2 µs.
2. Rosenbrock over 1000 scalar leaves (a Python loop, 8 entries per leaf), gradients at 100
   random points: tapegrad records once and replays 100 times; tapegrad and torch eager do 100
   forward+backward; with --jax, jax.jit(jax.value_and_grad(f)) of the same loop over x[i]
   of a 1000-vector, run in a subprocess whose compile (first call) is capped at
   workloads.JAX_COMPILE_TIMEOUT s ("did not finish" beyond).  Every library's gradients are
   checked against the exact (vectorized numpy) gradient.  Targets: >= 100x faster than torch
   eager; faster than jax per call and including its compile.
3. MLP 2-16-16-1, tanh, batch 32, one SGD step: by replay (value_and_grad of the loss as a
   function of the parameter arrays, numpy in and out, update in numpy) vs the eager tapegrad
   and torch steps of compare.py.  No target: informational.
4. Batch replay: Rosenbrock over 100 leaves, `value_and_grad_batch` at B = 2000 points on 1
   vs 2 Numba threads (numba.set_num_threads).  Target: speedup >= 1.8x.  A plain prange loop
   (handwritten.parallel_control) is timed the same way as a control: it shows what 2 threads
   can give on this machine at that moment.  Each sample is one untimed call, then
   BATCH_CALLS timed consecutive calls (steady use, as asv times it): without the untimed call,
   a 2-thread sample that follows a 1-thread one finds the second core idle, and this VM takes
   milliseconds to bring an idle vCPU back to speed.  Best of 40 samples (~20 s), so that a
   moment when the second core is free is likely to be among them.  Reported apart, not in the
   target: a single call made right after the second core idled for ~20 ms.
   Then the same as distributions robust to other tenants (workloads.paired_speedups): 120
   samples, each timing the batch replay and the control on 1 and on 2 threads moments apart;
   median and 10th percentile of each speedup, of their quotient per sample (the replay
   against what the machine gave at that moment) and of the replay's over the samples where
   the control got >= 1.9x (the second core was free).  Plus counts per call (Numba runtime
   allocations, page faults), the replay's process CPU time (workloads.cpu_summary: how much
   of the 2-thread wall time its threads ran, how much more CPU the same work took on 2
   threads, the speedup at equal CPU per work; on this VM a low speedup goes with the same
   work taking more CPU, not with threads waiting), and the serial part of a call measured on one thread (the
   call's thread CPU time less the kernel's, timed around the kernel inside the same call;
   it holds up the second thread on 2) with the bytes the call staged (copied) its inputs in.
   The target, "2 threads >= 1.8x one thread, robustly" (issue #14), is read from these 120
   paired samples: the replay's median AND its 10th percentile both >= 1.8x.  It is judged
   only on a quiet machine, one where the control's own 10th percentile is >= 1.9x (the
   second core was free in at least 9 samples of 10) and so is that of a second control,
   handwritten.throughput_control (multiply-add chains bound by the core's execution units:
   the two cores ran at full speed together, which the latency-bound sin chain cannot tell;
   session 39 measured sin 1.99x, throughput 1.49x and the replay 1.50x in the same minutes);
   otherwise the verdict is n/a and the figures say how busy the machine was (the load
   average is printed beside them).
   `--batch` runs this section alone, with best of 10 instead of 40 (~35 s on a quiet machine).
   `--cold` adds the first value_and_grad_batch of a fresh interpreter with an empty Numba
   cache (workloads.cold_first_batch: a 0-d tape, then an n-d one), what a Dask worker without
   a warm cache pays; not a target.

torch runs on one thread (workloads.TORCH_THREADS).  jax runs with its defaults (x64 on).
Without --jax the jax figures are skipped (its compile alone takes ~100 s here).  Always exits 0:
this is a report, not a test.
"""
import argparse
import math
import os
import platform
import sys
import time

import numba
import numpy as np

import handwritten as H
import workloads as W

NS_PER_OP_MAX = 10.0        # replay forward + backward, ns per entry
HANDWRITTEN_MAX = 2.0       # replay / hand-written Numba
FIXED_COST_MAX = 2e-6       # seconds per value_and_grad call of a 1-entry tape
TORCH_SPEEDUP_MIN = 100.0   # Rosenbrock: torch eager total / tapegrad record + replays total
BATCH_SPEEDUP_MIN = 1.8     # value_and_grad_batch: 1 thread / 2 threads (issue #14)
BATCH_CALLS = 5             # consecutive value_and_grad_batch calls per sample
BATCH_PAIRED_PER_REP = 3    # paired 1-/2-thread samples per repetition of section 4
BATCH_QUIET_MIN = 10        # samples with a free second core needed for the quiet-sample figures
BATCH_ONLY_REPS = 10        # best-of repetitions of section 4 under --batch (the paired samples stay 120)
GRAD_RTOL = 1e-12           # gradients vs the exact one: max |error| / max |exact|

# Repetitions (best of k).  This shared machine switches between a fast and a ~1.8x slower
# state every few seconds (other tenants), so the cheap measurements take many short samples
# spread over several seconds: the best of them is the fast state.  Costly ones (eager
# Rosenbrock: ~15-25 s per sample for torch; jax) get few.
REPS = {
    "full": dict(recurrence=200, fixed=200, rosen=20, rosen_eager=2, rosen_jax=5, mlp=20,
                 mlp_steps=20, batch=40),
    "quick": dict(recurrence=20, fixed=20, rosen=3, rosen_eager=1, rosen_jax=2, mlp=3,
                  mlp_steps=20, batch=5),
}


def verdict(ok):
    return "PASS" if ok else "FAIL"


def target(title, value, ok):
    print(f"  {title:<58} {value:>16}  {verdict(ok) if ok is not None else 'n/a'}")


def first_call(fn):
    """Seconds of fn()'s first call (compile or cache load), and its result."""
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def rel_err(g, exact):
    return float(np.max(np.abs(np.asarray(g) - exact)) / np.max(np.abs(exact)))


# -- 1. scalar recurrence ----------------------------------------------------------------------
def recurrence(tg, reps, fixed_reps, first):
    first["record + value_and_grad, 10 steps"] = first_call(
        lambda: W.record_recurrence(tg, 10).value_and_grad(W.X0))[0]
    rec, tapes, bufs = {}, {}, {}
    for n in W.REPLAY_SIZES:
        rec[n], tapes[n] = first_call(lambda n=n: W.record_recurrence(tg, n))
        bufs[n] = H.recurrence_buffers(n, W.X0)
        tapes[n].value_and_grad(W.X0)
    first["hand-written recurrence"] = first_call(
        lambda: H.recurrence_value_and_grad(*bufs[W.REPLAY_SIZES[0]]))[0]
    first["hand-written, x scalar"] = first_call(
        lambda: H.scalar_x_variant(W.X0, 10, bufs[W.REPLAY_SIZES[0]][1]))[0]

    print(f"1. scalar recurrence y = y*0.999 + x.sin()*0.001, float64, recorded once; "
          f"value_and_grad({W.X0}); best of {reps} (fixed cost: of {fixed_reps})")
    print(f"  {'n':>7} {'entries':>8} {'record s':>9} {'replay ns/op':>13} "
          f"{'hand-written ns/op':>19} {'ratio':>6}   dy/dx rel err: replay, hand-written")
    res = {}
    for n in W.REPLAY_SIZES:
        ops = W.OPS_PER_STEP * n
        number = max(1, 100_000 // n)                  # ~4 ms per sample
        best, last = W.interleaved({
            "replay": lambda n=n: tapes[n].value_and_grad(W.X0),
            "hand": lambda n=n: H.recurrence_value_and_grad(*bufs[n])}, reps, number)
        exact = W.exact_grad(n)
        g_tape, g_hand = float(last["replay"][1][0]), float(last["hand"][1])
        res[n] = (best["replay"] / ops * 1e9, best["hand"] / ops * 1e9)
        print(f"  {n:>7} {len(tapes[n]):>8} {rec[n]:>9.3f} {res[n][0]:>13.2f} {res[n][1]:>19.2f} "
              f"{res[n][0] / res[n][1]:>5.2f}x   {abs(g_tape - exact) / exact:.1e}, "
              f"{abs(g_hand - exact) / exact:.1e}")
    n = W.REPLAY_SIZES[-1]
    hoisted, _ = W.interleaved({"h": lambda: H.scalar_x_variant(W.X0, n, bufs[n][1])}, reps)
    print(f"  reference only: the hand-written loops with x a scalar (LLVM hoists sin/cos out "
          f"of them): {hoisted['h'] / (W.OPS_PER_STEP * n) * 1e9:.2f} ns/op at n={n}")

    one = W.record_one_op(tg)
    one.value_and_grad(W.X0)
    arrays = [np.zeros(1) for _ in range(9)]
    fixed, _ = W.interleaved({"replay": lambda: one.value_and_grad(W.X0),
                              "empty": lambda: H.empty_call(*arrays, 0)}, fixed_reps, 5_000)
    print(f"  fixed cost: value_and_grad({W.X0}) of a 1-entry tape (x.sin()) "
          f"{fixed['replay'] * 1e6:.2f} µs/call; for scale, a Numba call of an empty function "
          f"with 10 arguments {fixed['empty'] * 1e6:.2f} µs")
    print("  targets")
    for n in W.REPLAY_SIZES:
        target(f"replay forward+backward <= {NS_PER_OP_MAX:g} ns/op (n={n})",
               f"{res[n][0]:.2f} ns/op", res[n][0] <= NS_PER_OP_MAX)
    for n in W.REPLAY_SIZES:
        r = res[n][0] / res[n][1]
        target(f"replay <= {HANDWRITTEN_MAX:g}x hand-written @njit (n={n})", f"{r:.2f}x",
               r <= HANDWRITTEN_MAX)
    target(f"fixed cost per call <= {FIXED_COST_MAX * 1e6:g} µs", f"{fixed['replay'] * 1e6:.2f} µs",
           fixed["replay"] <= FIXED_COST_MAX)


# -- 2. Rosenbrock: 100 gradients --------------------------------------------------------------
def rosenbrock(tg, torch, run_jax, reps, eager_reps, jax_reps):
    P = W.rosenbrock_points()
    exact, exact_v = W.rosenbrock_grad_np(P), W.rosenbrock(P.T)
    k = len(P)
    jax = None
    if run_jax:
        print(f"   (jax: compiling in a subprocess, capped at {W.JAX_COMPILE_TIMEOUT:.0f} s ...)",
              flush=True)
        jax = W.JaxRosenbrock()
    split = {"record": math.inf, "replay": math.inf}

    def record_and_replay():
        t0 = time.perf_counter()
        tape = W.record_rosenbrock(tg, P[0])
        t1 = time.perf_counter()
        out = W.replay_rosenbrock(tape, P)
        t2 = time.perf_counter()
        split["record"], split["replay"] = min(split["record"], t1 - t0), min(split["replay"], t2 - t1)
        return out + (len(tape),)

    fns = {"tapegrad record + replay": record_and_replay,
           "tapegrad eager": lambda: W.eager_rosenbrock(tg, P)}
    slow = {"tapegrad eager": eager_reps}
    if torch is not None:
        fns["torch eager"] = lambda: W.eager_rosenbrock(torch, P)
        slow["torch eager"] = eager_reps
    if jax is not None and jax.status == "ok":
        fns["jax jit"] = jax.run
        slow["jax jit"] = jax_reps
    record_and_replay()                                 # warm-up (kernel load)
    best, last = W.interleaved(fns, reps, reps_of=slow)
    if jax is not None and jax.status == "ok":
        last["jax jit"] = jax.results()
    if jax is not None:
        jax.close()
    entries = last["tapegrad record + replay"][2]

    print(f"2. Rosenbrock over {P.shape[1]} scalar leaves ({entries} entries), gradients at {k} "
          f"random points; best of {reps} (eager: of {eager_reps}; jax: of {jax_reps})")
    print(f"  {'':<26} {'record/compile s':>17} {'per gradient ms':>16} "
          f"{'total s for ' + str(k):>16}   grad rel err, value rel err vs exact")
    rows = {}
    rows["tapegrad record + replay"] = (split["record"], split["replay"] / k,
                                        split["record"] + split["replay"])
    rows["tapegrad eager"] = (None, best["tapegrad eager"] / k, best["tapegrad eager"])
    if torch is not None:
        rows["torch eager"] = (None, best["torch eager"] / k, best["torch eager"])
    if "jax jit" in best:
        per = best["jax jit"] / k
        rows["jax jit"] = (jax.first_s, per, jax.first_s + (k - 1) * per)
    agree = True
    for name, (first, per, total) in rows.items():
        v, g = last[name][:2]
        ge, ve = rel_err(g, exact), rel_err(v, exact_v)
        agree &= ge <= GRAD_RTOL and ve <= GRAD_RTOL
        first = "-" if first is None else f"{first:.3f}"
        print(f"  {name:<26} {first:>17} {per * 1e3:>16.3f} {total:>16.3f}   {ge:.1e}, {ve:.1e}")
    if jax is None:
        print("  jax jit: skipped (pass --jax; its compile takes ~100 s on this machine)")
    elif jax.status != "ok":
        print(f"  jax jit: {jax.status}"
              + (f" (first call over {W.JAX_COMPILE_TIMEOUT:.0f} s)" if jax.status == "did not finish"
                 else f": {jax.error}"))
    else:
        print(f"  jax {jax.version}: import {jax.import_s:.1f} s; first call (trace + compile + "
              f"run) {jax.first_s:.1f} s; total = first call + {k - 1} compiled calls")
    print(f"  gradients and values of every library within {GRAD_RTOL:g} (relative to the "
          f"largest) of the exact ones: {'YES' if agree else 'NO'}")

    tg_total, tg_per = rows["tapegrad record + replay"][2], rows["tapegrad record + replay"][1]
    print("  targets")
    if torch is not None:
        r = rows["torch eager"][2] / tg_total
        target(f"record + {k} replays >= {TORCH_SPEEDUP_MIN:g}x faster than torch eager",
               f"{r:.0f}x", r >= TORCH_SPEEDUP_MIN)
    else:
        target("faster than torch eager", "torch missing", None)
    if "jax jit" in rows:
        r = rows["jax jit"][1] / tg_per
        target("faster than jax per call (after compile)", f"{r:.1f}x", r > 1)
        r = rows["jax jit"][2] / tg_total
        target(f"faster than jax for {k} gradients including compile", f"{r:.0f}x", r > 1)
    elif jax is not None and jax.status == "did not finish":
        target("faster than jax per call (after compile)", "jax: did not finish", None)
        target(f"faster than jax for {k} gradients including compile",
               f"> {W.JAX_COMPILE_TIMEOUT / tg_total:.0f}x", True)
    else:
        target("faster than jax per call and including compile", "jax not run", None)
    target(f"gradients agree across libraries (rel {GRAD_RTOL:g})", "YES" if agree else "NO", agree)


# -- 3. MLP step by replay ---------------------------------------------------------------------
def mlp(tg, torch, steps, reps, first):
    tape, arrays = W.mlp_replay(tg)
    first["MLP replay (float32 kernels)"] = first_call(lambda: W.mlp_replay_step(tape, arrays))[0]
    libs = {"tapegrad": tg, "torch": torch} if torch is not None else {"tapegrad": tg}
    state = {name: W.mlp(mod) for name, mod in libs.items()}
    for name, mod in libs.items():
        W.mlp_step(mod, *state[name])                   # warm-up: every model one step
    fns = {"tapegrad replay": lambda: W.mlp_replay_step(tape, arrays)}
    fns.update({f"{name} eager": (lambda name=name: W.mlp_step(libs[name], *state[name]))
                for name in libs})
    best, loss = W.interleaved(fns, reps, steps)
    print(f"3. MLP 2-16-16-1 tanh, batch 32, one SGD step; best of {reps} x {steps} steps "
          f"(no target: informational)")
    for name in fns:
        print(f"  {name:<18} {best[name] * 1e6:9.1f} µs/step   loss after "
              f"{1 + reps * steps} steps {loss[name]:.7f}   "
              f"{best[name] / best['tapegrad replay']:5.1f}x the replay step")
    same = all(math.isclose(v, loss["tapegrad replay"], rel_tol=1e-4) for v in loss.values())
    print(f"  losses agree within rel 1e-4: {'YES' if same else 'NO'}")


# -- 4. batch replay ---------------------------------------------------------------------------
def batch(tg, reps, first, samples=None):
    tape, Xs = W.batch_rosenbrock(tg)
    B, n = len(Xs[0]), len(Xs)
    saved = numba.get_num_threads()
    X, out = H.control_buffers(B)
    first["batch replay"] = first_call(lambda: tape.value_and_grad_batch(*Xs))[0]
    first["parallel control"] = first_call(lambda: H.parallel_control(X, out))[0]
    samples = samples or reps * BATCH_PAIRED_PER_REP
    print(f"4. batch replay: Rosenbrock over {n} leaves ({len(tape)} entries), "
          f"value_and_grad_batch at B = {B} points; best of {reps} x {BATCH_CALLS} "
          f"consecutive calls")
    if numba.config.NUMBA_NUM_THREADS < 2:
        print(f"  skipped: Numba has {numba.config.NUMBA_NUM_THREADS} thread")
        return

    def on(k, fn):
        def run():
            numba.set_num_threads(k)
            return fn()
        return run
    def after_idle(k):  # one call on k threads after the second core idled for ~20 ms
        def run():
            numba.set_num_threads(1)
            H.parallel_control(X[:B // 2], out[:B // 2])
            numba.set_num_threads(k)
            t = time.perf_counter()
            result = tape.value_and_grad_batch(*Xs)
            return time.perf_counter() - t, result
        return run
    try:
        best, last = W.interleaved({
            "tape 1": on(1, lambda: tape.value_and_grad_batch(*Xs)),
            "tape 2": on(2, lambda: tape.value_and_grad_batch(*Xs)),
            "control 1": on(1, lambda: H.parallel_control(X, out)),
            "control 2": on(2, lambda: H.parallel_control(X, out))}, reps, BATCH_CALLS, prime=1)
        cold = {k: min(after_idle(k)()[0] for _ in range(reps)) for k in (1, 2)}
    finally:
        numba.set_num_threads(saved)
    P = np.stack(Xs, axis=1)
    v, g = last["tape 2"]
    ge = rel_err(np.stack(g, axis=1), W.rosenbrock_grad_np(P))
    ve = rel_err(v, W.rosenbrock(P.T))
    speed = best["tape 1"] / best["tape 2"]
    control = best["control 1"] / best["control 2"]
    print(f"  value_and_grad_batch   1 thread {best['tape 1'] * 1e3:8.2f} ms   2 threads "
          f"{best['tape 2'] * 1e3:8.2f} ms   speedup {speed:.2f}x   "
          f"({best['tape 1'] / B * 1e6:.1f} µs/point on 1 thread)")
    print(f"  control prange loop    1 thread {best['control 1'] * 1e3:8.2f} ms   2 threads "
          f"{best['control 2'] * 1e3:8.2f} ms   speedup {control:.2f}x   "
          f"(threading layer {numba.threading_layer()})")
    print(f"  one call after the second core idled: 1 thread {cold[1] * 1e3:8.2f} ms   2 threads "
          f"{cold[2] * 1e3:8.2f} ms   speedup {cold[1] / cold[2]:.2f}x   (not a target; see above)")
    print(f"  gradients vs exact: rel err {ge:.1e}, values {ve:.1e}")
    print("  targets")
    target(f"2 threads >= {BATCH_SPEEDUP_MIN:g}x faster than 1 (first call excluded)",
           f"{speed:.2f}x", speed >= BATCH_SPEEDUP_MIN)
    if speed < BATCH_SPEEDUP_MIN and control < BATCH_SPEEDUP_MIN:
        print(f"  (inconclusive: the control loop got {control:.2f}x too, so the second core was "
              f"busy; rerun on a quiet machine)")
    target(f"gradients match the exact ones (rel {GRAD_RTOL:g})", f"{ge:.1e}", ge <= GRAD_RTOL)
    paired(tape, Xs, X, out, samples)


def serial_part(tape, Xs, calls=300):
    """Print the serial part of value_and_grad_batch on one thread: per call, its thread CPU
    time less the kernel's (timed around tapegrad.replay.run_parts within the same
    call), min and median of `calls`; and the bytes the tape's kept buffers staged inputs in
    (0 when every input is read in place)."""
    from tapegrad import replay
    real, inner, serial = replay.run_parts, [], []

    def timed(*args, **kwargs):
        t = time.thread_time()
        try:
            return real(*args, **kwargs)
        finally:
            inner.append(time.thread_time() - t)
    saved = numba.get_num_threads()
    replay.run_parts = timed
    try:
        numba.set_num_threads(1)
        for k in range(calls + 10):
            inner.clear()
            t = time.thread_time()
            tape.value_and_grad_batch(*Xs)
            if k >= 10:
                serial.append(time.thread_time() - t - sum(inner))
    finally:
        replay.run_parts = real
        numba.set_num_threads(saved)
    staged = max((io.stage.nbytes for io in tape._io_pool), default=0)
    print(f"    serial part per call on 1 thread (call less kernel, thread CPU time, {calls} "
          f"calls): min {min(serial) * 1e6:.0f} µs, median {np.median(serial) * 1e6:.0f} µs; "
          f"inputs staged: {staged} bytes")


def paired(tape, Xs, X, out, samples):
    """Section 4's scaling measured so that other tenants cannot fake or hide it: paired
    1-/2-thread samples of the batch replay and the control loop, moments apart (see
    workloads.paired_speedups), as distributions; counts of what a call allocates."""
    load = os.getloadavg()[0]
    times, cpu = {}, {}
    sp = W.paired_speedups({"tape": lambda: tape.value_and_grad_batch(*Xs),
                            "control": lambda: H.parallel_control(X, out),
                            "throughput": lambda: H.throughput_control(X, out)},
                           samples=samples, times=times, cpu=cpu)
    med = {name: np.median(t, axis=0) * 1e3 for name, t in times.items()}
    s = W.speedup_summary(sp["tape"], sp["control"])
    print(f"  paired samples: {samples} x (1 untimed + {W.SCALING_CALLS} timed calls on 1 and on 2 "
          f"threads), batch replay and control in each; load average {load:.1f} -> "
          f"{os.getloadavg()[0]:.1f}")
    print(f"    batch replay speedup  median {s['median']:.2f}x   10th percentile {s['p10']:.2f}x"
          f"   (median ms per call: {med['tape'][0]:.2f} on 1 thread, {med['tape'][1]:.2f} on 2)")
    print(f"    control loop speedup  median {s['control median']:.2f}x   10th percentile "
          f"{s['control p10']:.2f}x   (median ms per call: {med['control'][0]:.2f} on 1 thread, "
          f"{med['control'][1]:.2f} on 2)")
    u = sp["throughput"]
    print(f"    throughput control    median {np.median(u):.2f}x   10th percentile "
          f"{np.percentile(u, 10):.2f}x   (median ms per call: {med['throughput'][0]:.2f} on 1 "
          f"thread, {med['throughput'][1]:.2f} on 2: multiply-add chains, bound by the core's "
          f"units, which the sin chain is not)")
    print(f"    replay / control, per sample: median {s['relative median']:.2f}   10th percentile "
          f"{s['relative p10']:.2f}")
    print(f"    samples where the control got >= {W.QUIET_CONTROL:g}x (second core free): "
          f"{s['quiet samples']}" + (f"; batch replay there: median {s['quiet median']:.2f}x   "
                                      f"10th percentile {s['quiet p10']:.2f}x"
                                      if s["quiet samples"] else ""))
    c = W.cpu_summary(times["tape"], cpu["tape"])
    print(f"    batch replay's process CPU time: its threads ran {c['busy median']:.1%} of the "
          f"2-thread calls' wall time (10th percentile {c['busy p10']:.1%}); CPU per call on 2 "
          f"threads / on 1: median {c['cpu quotient median']:.2f}; speedup at equal CPU per "
          f"work: median {c['equal-cpu speedup median']:.2f}x, 10th percentile "
          f"{c['equal-cpu speedup p10']:.2f}x; correlation of the speedup with the CPU quotient "
          f"{c['correlation']:.2f} (near -1: a low speedup is the same work taking more CPU, "
          f"the cores running slower, not threads waiting)")
    counts = W.call_counts(lambda: tape.value_and_grad_batch(*Xs))
    print("    per call on 2 threads: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    serial_part(tape, Xs)
    # quiet: the second core was free (sin control) and ran at full speed (throughput control)
    quiet = min(s["control p10"], np.percentile(u, 10)) >= W.QUIET_CONTROL
    ok = s["median"] >= BATCH_SPEEDUP_MIN and s["p10"] >= BATCH_SPEEDUP_MIN
    target(f"robustly: median and 10th percentile of {samples} paired samples >= "
           f"{BATCH_SPEEDUP_MIN:g}x", f"{s['median']:.2f}x, {s['p10']:.2f}x",
           ok if quiet else None)
    if not quiet:
        print(f"  (n/a: the machine was not quiet: the controls' 10th percentiles were "
              f"{s['control p10']:.2f}x (sin) and {np.percentile(u, 10):.2f}x (throughput), one "
              f"< {W.QUIET_CONTROL:g}x, so in more than 1 sample of 10 another tenant held the "
              f"second core or the two cores ran slower together; rerun on a quiet machine.  "
              f"Indicative: the "
              f"replay over the {s['quiet samples']} samples with a free core got "
              + (f"{s['quiet median']:.2f}x median, {s['quiet p10']:.2f}x 10th percentile)"
                 if s["quiet samples"] >= BATCH_QUIET_MIN else "too few to say)"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    ap.add_argument("--batch", action="store_true",
                    help="section 4 alone (2-thread batch scaling, ~35 s on a quiet machine)")
    ap.add_argument("--cold", action="store_true",
                    help="also time the first value_and_grad_batch of a fresh interpreter with "
                         "an empty Numba cache, 0-d then n-d tape (~30 s)")
    ap.add_argument("--jax", action="store_true",
                    help=f"include jax (compile ~100 s, capped at {W.JAX_COMPILE_TIMEOUT:.0f} s)")
    args = ap.parse_args()
    r = REPS["quick" if args.quick else "full"]
    t_start = time.perf_counter()

    tg, torch = W.tapegrad, W.load("torch")
    print(f"python {platform.python_version()}  tapegrad {tg.__version__} "
          f"({os.path.dirname(tg.__file__)})  numpy {np.__version__}  numba {numba.__version__} "
          f"({numba.config.NUMBA_NUM_THREADS} threads)  "
          + (f"torch {torch.__version__} ({W.TORCH_THREADS} thread)" if torch is not None
             else "torch: not importable, skipped")
          + ("" if args.jax else "  jax: skipped (--jax)"))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")

    first = {}
    sections = [lambda: recurrence(tg, r["recurrence"], r["fixed"], first),
                lambda: rosenbrock(tg, torch, args.jax, r["rosen"], r["rosen_eager"], r["rosen_jax"]),
                lambda: mlp(tg, torch, r["mlp_steps"], r["mlp"], first),
                lambda: batch(tg, r["batch"], first)]
    if args.batch:
        sections = [lambda: batch(tg, BATCH_ONLY_REPS, first, W.SCALING_SAMPLES)]
    for section in sections:
        t = time.perf_counter()
        try:
            section()
        except Exception:                   # a report: show the failure, go on
            import traceback
            traceback.print_exc(file=sys.stdout)
        print(f"  ({time.perf_counter() - t:.0f} s)\n", flush=True)

    print("first calls in this process (Numba compile or cache load), excluded above: "
          + ", ".join(f"{name} {s:.3f} s" for name, s in first.items()))
    if args.cold:
        zero_d, n_d, cpu = W.cold_first_batch()
        print(f"first value_and_grad_batch of a fresh interpreter, empty Numba cache: 0-d tape "
              f"{zero_d:.2f} s, then an n-d tape {n_d:.2f} s (CPU {cpu:.2f} s)")
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    try:
        main()
    except Exception:                       # a report: show the failure, exit 0 regardless
        import traceback
        traceback.print_exc()
    sys.exit(0)
