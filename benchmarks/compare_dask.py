"""Batch replay in one process and on Dask (tapegrad.dask), in one run.

    python benchmarks/compare_dask.py [--points N] [--quick] [--no-mlp]

Workloads (benchmarks/workloads.py):
* Rosenbrock over n = 100 scalar leaves (891 entries), gradients at N points (default 2e5;
  --points 1e6 for the issue's figure: the inputs and the gradients are then 800 MB each).
  The inputs as one (N, 100) array: `value_and_grad_flat` (one array in, one out), and at one
  chunk size also as 100 arrays of (N,) (`value_and_grad_batch`, one task per array per chunk).
* the MLP 2-16-16-1 loss (batch 32, X and Y baked in) as a function of its 6 parameter arrays,
  gradients at N / 20 parameter sets (`value_and_grad_batch`, 6 arrays in, 6 out).

Sections:
1. in-process: the kernel alone on 1 and 2 Numba threads (points/s, µs per point).
2. dask threaded scheduler (2 threads, the in-process call per chunk): wall time of the
   computation for several chunk sizes.  "reduced" computes sum(values) + G.sum(axis=0) (no
   result gathering), "gathered" computes G itself into the client.
3. distributed.LocalCluster, 2 worker processes x 1 thread (loopback), Numba threads=1 per task:
   inputs made and persisted on the workers first (not timed), then the same two computations.
   Also: the tape's pickled size, the time to scatter it to both workers, and the cluster's
   start time.
Overhead per chunk = (dask wall time - in-process wall time on as many cores) / chunks; the
"overhead probe" lines measure it with 200 chunks of 100 points, where it dominates.

Figures are the best of k repetitions (REPS); this machine is shared, so they are noisy; the
load average is printed at start and end.  Always exits 0: a report, not a test.
"""
import argparse
import os
import pickle
import platform
import sys
import time

import numba
import numpy as np

import workloads as W

REPS = {"full": 3, "quick": 1}   # interleaved with the in-process reference: best of each
CHUNKS = (2_000, 10_000, 50_000)
PROBE_POINTS, PROBE_CHUNK = 20_000, 100      # 200 tasks of little work each


def best_of(fn, reps):
    """(best seconds, last result) of reps calls."""
    best, out = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def on_threads(k, fn):
    def run():
        saved = numba.get_num_threads()
        numba.set_num_threads(k)
        try:
            return fn()
        finally:
            numba.set_num_threads(saved)
    return run


def rate(n, s):
    return f"{n / s:12,.0f} points/s"


def row(label, n, s, base=None, chunks=None):
    extra = ""
    if base is not None and chunks:
        extra = f"   in-process {base:6.3f} s, overhead {(s - base) / chunks * 1e3:7.2f} ms/chunk"
    print(f"  {label:<46} {s:8.3f} s {rate(n, s)}{extra}", flush=True)


def against(label, n, fn, ref, reps, chunks):
    """fn timed interleaved with the in-process reference `ref` (same machine load), best of
    reps each; the overhead per chunk is the difference over the chunks."""
    best, _ = W.interleaved({"dask": fn, "ref": ref}, reps)
    row(label, n, best["dask"], best["ref"], chunks)


def rosenbrock_tape(tg, n):
    P = W.rosenbrock_points(n, 1, seed=1)
    return W.record_rosenbrock(tg, P[0])


def in_process(tg, tape, P, reps):
    N = len(P)
    tape.value_and_grad_flat(P[:10])
    times = {}
    for k in (1, 2):
        if k > numba.config.NUMBA_NUM_THREADS:
            continue
        times[k], (v, G) = best_of(on_threads(k, lambda: tape.value_and_grad_flat(P)), reps)
        row(f"value_and_grad_flat, {k} Numba thread{'s' * (k > 1)}", N, times[k])
    err = np.max(np.abs(G - W.rosenbrock_grad_np(P))) / np.max(np.abs(W.rosenbrock_grad_np(P)))
    print(f"  per point on 1 thread: {times[1] / N * 1e6:.2f} µs; 2 threads / 1: "
          f"{times[1] / times.get(2, times[1]):.2f}x; gradient rel err vs exact {err:.1e}")
    return times


def threaded(tg, tgd, tape, P, reps, ref):
    import dask
    import dask.array as da
    N = len(P)
    small = P[:PROBE_POINTS]
    probe("overhead probe", tgd, tape, da.from_array(small, chunks=(PROBE_CHUNK, -1)),
          on_threads(2, lambda: tape.value_and_grad_flat(small)), reps,
          lambda *a: dask.compute(*a, scheduler="threads"))
    for c in CHUNKS:
        if c > N:
            continue
        X = da.from_array(P, chunks=(c, -1))
        nch = X.numblocks[0]

        def reduced():
            v, G, held = tgd.value_and_grad_flat(tape, X)
            return dask.compute(v.sum(), G.sum(axis=0), held.all(), scheduler="threads")

        def gathered():
            v, G, held = tgd.value_and_grad_flat(tape, X)
            return dask.compute(v, G, scheduler="threads")
        against(f"chunk {c:>6} ({nch:>4} chunks) reduced", N, reduced, ref, reps, nch)
        against(f"chunk {c:>6} ({nch:>4} chunks) gathered", N, gathered, ref, reps, nch)


def cluster(tg, tgd, tape, P, reps, ref, mlp):
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster, wait
    N, n = P.shape
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as lc, Client(lc) as client:
        print(f"  cluster start {time.perf_counter() - t0:.2f} s; tape pickled "
              f"{len(pickle.dumps(tape)) / 1e3:.1f} kB", flush=True)
        t0 = time.perf_counter()
        fut = tgd.tape_of(tape)
        wait(fut)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        wait(tgd.tape_of(pickle.loads(pickle.dumps(tape))))   # a second tape: warm comms
        print(f"  scatter the tape to both workers: first {first * 1e3:.1f} ms, another "
              f"{(time.perf_counter() - t0) * 1e3:.1f} ms (once per tape and client)")
        # warm each worker (Numba cache load) outside the timings
        w = tgd.value_and_grad_flat(tape, da.from_array(P[:200], chunks=(100, -1)), threads=1)
        w[0].compute()
        Xs = da.random.default_rng(1).uniform(-1.5, 1.5, (PROBE_POINTS, n),
                                              chunks=(PROBE_CHUNK, -1))
        Xs = client.persist(Xs)                 # made on the workers
        wait(Xs)
        small = P[:PROBE_POINTS]
        probe("overhead probe", tgd, tape, Xs,
              on_threads(2, lambda: tape.value_and_grad_flat(small)), reps, dask.compute)
        del Xs
        for c in CHUNKS:
            if c > N:
                continue
            X = da.random.default_rng(0).uniform(-1.5, 1.5, (N, n), chunks=(c, -1))
            X = client.persist(X)
            wait(X)
            nch = X.numblocks[0]

            def reduced():
                v, G, held = tgd.value_and_grad_flat(tape, X, threads=1)
                return dask.compute(v.sum(), G.sum(axis=0), held.all())

            def gathered():
                v, G, held = tgd.value_and_grad_flat(tape, X, threads=1)
                return dask.compute(v, G)
            against(f"chunk {c:>6} ({nch:>4} chunks) reduced", N, reduced, ref, reps, nch)
            against(f"chunk {c:>6} ({nch:>4} chunks) gathered ({N * n * 8 / 1e6:.0f} MB)", N,
                    gathered, ref, reps, nch)
            del X
        # one array per input: 100 arrays in, 100 gradient arrays out
        c = CHUNKS[1] if CHUNKS[1] <= N else N
        X = client.persist(da.random.default_rng(0).uniform(-1.5, 1.5, (N, n), chunks=(c, -1)))
        cols = client.persist([X[:, i] for i in range(n)])
        wait(cols)
        nch = X.numblocks[0]

        def per_input():
            v, G, held = tgd.value_and_grad_batch(tape, *cols, threads=1)
            return dask.compute(v.sum(), [g.sum() for g in G], held.all())
        against(f"chunk {c:>6} ({nch:>4} chunks) {n} arrays in/out, reduced", N, per_input,
                ref, reps, nch)
        del X, cols
        if mlp is not None:
            mtape, Ps, mref, mtape_arrays = mlp
            M = len(Ps[0])
            c = max(M // 8, 1)
            rng = da.random.default_rng(3)              # made on the workers, as in section 1
            arrs = client.persist([(a[None] + 0.1 * rng.standard_normal(
                (M,) + a.shape, chunks=(c,) + a.shape)).astype(a.dtype) for a in mtape_arrays])
            wait(arrs)

            def mlp_reduced():
                v, G, held = tgd.value_and_grad_batch(mtape, *arrs, threads=1)
                return dask.compute(v.sum(), [g.sum(axis=0) for g in G], held.all())
            against(f"MLP loss, chunk {c} ({len(arrs[0].chunks[0])} chunks), reduced", M,
                    mlp_reduced, mref, reps, len(arrs[0].chunks[0]))


def mlp_section(tg, M, reps):
    tape, arrays = W.mlp_replay(tg)
    rng = np.random.default_rng(3)
    Ps = [(a[None] + 0.1 * rng.standard_normal((M,) + a.shape)).astype(a.dtype) for a in arrays]
    tape.value_and_grad_batch(*[p[:4] for p in Ps])
    times = {}
    print(f"  MLP loss ({len(tape)} entries, float32), value_and_grad_batch at {M} parameter "
          f"sets")
    for k in (1, 2):
        if k > numba.config.NUMBA_NUM_THREADS:
            continue
        times[k], (v, G) = best_of(on_threads(k, lambda: tape.value_and_grad_batch(*Ps)), reps)
        row(f"MLP loss, {k} Numba thread{'s' * (k > 1)}", M, times[k])
    one = tape.value_and_grad(*[p[7] for p in Ps])
    ok = all(np.allclose(g[7], e, rtol=1e-5, atol=1e-7) for g, e in zip(G, one[1]))
    print(f"  per parameter set on 1 thread: {times[1] / M * 1e6:.1f} µs; batch == single "
          f"replay at point 7: {ok}")
    return tape, Ps, times, arrays


def probe(label, tgd, tape, X, ref, reps, compute):
    """Many small chunks: what a task costs beyond its points."""
    def run():
        v, G, held = tgd.value_and_grad_flat(tape, X, threads=1)
        return compute(v.sum(), G.sum(axis=0), held.all())
    against(f"{label}: chunk {X.chunks[0][0]} ({X.numblocks[0]} chunks) reduced", X.shape[0], run,
            ref, reps, X.numblocks[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=float, default=2e5, help="Rosenbrock points (default 2e5)")
    ap.add_argument("--quick", action="store_true", help="one repetition (a smoke run)")
    ap.add_argument("--no-mlp", action="store_true", help="skip the MLP loss")
    args = ap.parse_args()
    reps = REPS["quick" if args.quick else "full"]
    N = int(args.points)
    tg = W.tapegrad
    try:
        import dask
        import distributed
        import tapegrad.dask as tgd
    except ImportError as e:
        print(f"dask is not importable ({e}): pip install '.[dask]'")
        return
    print(f"python {platform.python_version()}  tapegrad ({os.path.dirname(tg.__file__)})  "
          f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads)  dask "
          f"{dask.__version__}  distributed {distributed.__version__}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"best of {reps}\n")
    t_start = time.perf_counter()
    tape = rosenbrock_tape(tg, 100)
    P = W.rosenbrock_points(100, N, seed=0)
    print(f"Rosenbrock n=100 ({len(tape)} entries, float64) at N = {N:,} points "
          f"({P.nbytes / 1e6:.0f} MB in, as much out)")
    print("1. in-process")
    base = in_process(tg, tape, P, reps)
    mlp = None
    if not args.no_mlp:
        mtape, Ps, mtimes, marrays = mlp_section(tg, max(N // 20, 100), reps)
        mlp = (mtape, Ps, on_threads(2, lambda: mtape.value_and_grad_batch(*Ps)), marrays)
    b2 = on_threads(2, lambda: tape.value_and_grad_flat(P))
    print("\n2. dask threaded scheduler (overhead vs in-process on 2 threads)")
    threaded(tg, tgd, tape, P, reps, b2)
    print("\n3. distributed.LocalCluster, 2 processes x 1 thread (overhead vs in-process on 2 "
          "threads)")
    try:
        cluster(tg, tgd, tape, P, reps, b2, mlp)
    except Exception:                   # a report: show the failure
        import traceback
        traceback.print_exc(file=sys.stdout)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s; load average now "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
