"""tapegrad vs torch on the scalar recurrence, in one process and one run.

    python benchmarks/compare.py [--quick]

Workload (benchmarks/workloads.py), on 0-d float32 tensors, 4 recorded ops per step:

    x = tensor(0.5, requires_grad=True); y = tensor(1.0)
    for i in range(n): y = y * 0.999 + x.sin() * 0.001
    y.backward()

for n = 1e3, 1e4, 1e5.  Both libraries are first warmed up (tapegrad's first backward loads or
compiles its Numba kernel: printed separately).  Each repetition then runs both libraries, in
alternating order, and each column is the best (minimum) over the repetitions, so both see the
same machine load.  gc is disabled inside the timed regions, as timeit does.

* record µs/op:   wall time of the loop / (4 n).
* backward µs/op: wall time of y.backward() / (4 n).
* graph bytes/op: memory held by the live graph / (4 n), measured the same way for both: the
  growth of the resident set size (/proc/self/statm) from just before recording to just after
  it, with gc.collect() and glibc malloc_trim(0) before the first reading so that the new graph
  cannot hide in memory freed earlier.  Minimum over the repetitions (noise only adds).  For
  tapegrad, tracemalloc's count of the same graph (Python objects + numpy buffers, i.e. all of
  its tape) is printed as a cross-check; it cannot see torch's C++ allocations.
* x.grad is checked against the closed form cos(0.5) * (1 - 0.999**n) and between the two
  libraries (rel. tolerance 1e-4: torch accumulates float32 rounding over 4n ops).

Acceptance targets (ratio = torch / tapegrad): record >= 4x faster than torch's forward,
backward >= 50x faster, graph memory <= 1/8 of torch's.  Start-up costs are measured in fresh
interpreters: `import tapegrad`, and the first backward with a warm Numba cache (cache load) and
with a cold one (NUMBA_CACHE_DIR set to an empty directory: full compile).  A small n-d
workload (MLP 2-16-16-1, tanh, batch 32, one SGD step) is timed the same way.

Record/replay (tapegrad.record) has its own report: compare_replay.py.

torch runs on one thread (workloads.TORCH_THREADS), as tapegrad does.  Without torch the torch
columns are left out.  Always exits 0: this is a report, not a test.
"""
import argparse
import math
import os
import platform
import sys
import time

import workloads as W

TARGETS = (  # (name, column, minimum torch/tapegrad ratio)
    ("record  >= 4x faster than torch's forward", "record", 4.0),
    ("backward >= 50x faster than torch's", "backward", 50.0),
    ("graph memory <= 1/8 of torch's", "bytes", 8.0),
)
GRAD_RTOL = 1e-4


def measure(libs, n, reps):
    """{lib: {"record", "backward", "bytes": best per-op value, "grad": x.grad}}."""
    best = {name: {"record": math.inf, "backward": math.inf, "bytes": math.inf} for name in libs}
    order = list(libs)
    for rep in range(reps):
        for name in (order if rep % 2 == 0 else order[::-1]):
            rec, bwd, mem, grad = W.timed_recurrence(libs[name], n)
            b = best[name]
            b["record"], b["backward"] = min(b["record"], rec), min(b["backward"], bwd)
            b["bytes"], b["grad"] = min(b["bytes"], mem), grad
    return best


def time_mlp(libs, steps, reps):
    """{lib: (best µs per MLP step, loss after the timed steps)}, interleaved best-of-reps."""
    state = {name: W.mlp(mod) for name, mod in libs.items()}
    for name, p in state.items():
        W.mlp_step(libs[name], *p)                       # warm-up
    best, losses = W.interleaved(
        {name: (lambda name=name: W.mlp_step(libs[name], *state[name])) for name in libs},
        reps, number=steps)
    return {name: (best[name] * 1e6, losses[name]) for name in libs}


def ratio(torch_value, tapegrad_value):
    return torch_value / tapegrad_value if tapegrad_value > 0 else math.inf


def verdict(ratio, target):
    return f"{ratio:6.1f}x {'PASS' if ratio >= target else 'FAIL'}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = ap.parse_args()
    reps = dict(zip(W.SIZES, (3, 1, 1) if args.quick else (15, 5, 2)))
    t_start = time.perf_counter()

    libs = W.libraries()
    has_torch = "torch" in libs
    print(f"python {platform.python_version()}  tapegrad {W.tapegrad.__version__} "
          f"({os.path.dirname(W.tapegrad.__file__)})  numpy {W.np.__version__}  "
          + (f"torch {libs['torch'].__version__} ({W.TORCH_THREADS} thread)" if has_torch
             else "torch: not importable, torch columns skipped"))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")

    first = {name: W.warm_up(mod) for name, mod in libs.items()}
    print("first backward (compile or cache load), this process: "
          + ", ".join(f"{name} {t:.3f} s" for name, t in first.items()) + "\n")

    results = {n: measure(libs, n, reps[n]) for n in W.SIZES}
    traced = {n: W.traced_bytes_per_op(W.tapegrad, n) for n in W.SIZES}

    # -- per-op table ----------------------------------------------------------------------
    cols = [("record", "record µs/op", 1e6, "{:10.3f}"), ("backward", "backward µs/op", 1e6, "{:10.3f}"),
            ("bytes", "graph bytes/op (RSS)", 1, "{:10.0f}")]
    names = ["tapegrad", "torch", "torch/tg"][:3 if has_torch else 1]
    width = max(10 * len(names), *(len(title) for _, title, _, _ in cols))

    def row(label, cells, last):
        print(f"{label:>11} |" + "|".join(f" {c:>{width}} " for c in cells) + f"| {last}")

    print("scalar recurrence y = y*0.999 + x.sin()*0.001, 4 recorded ops/step; best of k")
    row("n   k", [f"{title:<{width}}" for _, title, _, _ in cols], "tapegrad B/op")
    row("", ["".join(f"{h:>10}" for h in names)] * len(cols), "(tracemalloc)")
    for n in W.SIZES:
        r, cells = results[n], []
        for key, _, scale, fmt in cols:
            cell = fmt.format(r["tapegrad"][key] * scale)
            if has_torch:
                cell += fmt.format(r["torch"][key] * scale)
                cell += f"{ratio(r['torch'][key], r['tapegrad'][key]):9.1f}x"
            cells.append(cell)
        row(f"{n:>7} {reps[n]:>3}", cells, f"{traced[n]:8.1f}")

    # -- gradients -------------------------------------------------------------------------
    print("\nx.grad vs closed form cos(0.5)*(1-0.999**n)"
          + (f"; tapegrad vs torch within rtol {GRAD_RTOL:g}" if has_torch else ""))
    for n in W.SIZES:
        exact = W.exact_grad(n)
        line = f"{n:>7}  exact {exact:.9f}"
        for name in libs:
            g = results[n][name]["grad"]
            line += f"  {name} {g:.9f} (rel err {abs(g - exact) / exact:.1e})"
        if has_torch:
            ok = math.isclose(results[n]["tapegrad"]["grad"], results[n]["torch"]["grad"],
                              rel_tol=GRAD_RTOL)
            line += "  SAME" if ok else "  MISMATCH"
        print(line)

    # -- acceptance ------------------------------------------------------------------------
    if has_torch:
        print("\nacceptance targets (torch / tapegrad ratio)    "
              + "".join(f"{'n=%d' % n:>15}" for n in W.SIZES))
        for title, key, target in TARGETS:
            print(f"  {title:<44}" + "".join(
                f"{verdict(ratio(results[n]['torch'][key], results[n]['tapegrad'][key]), target):>15}"
                for n in W.SIZES))
    else:
        print("\nacceptance targets need torch: skipped")

    # -- n-d workload ----------------------------------------------------------------------
    steps, mreps = (20, 2) if args.quick else (50, 5)
    mlp = time_mlp(libs, steps, mreps)
    print(f"\nMLP 2-16-16-1 tanh, batch 32, forward+backward+SGD step; best of {mreps} x {steps} steps")
    print("  " + "   ".join(f"{name} {us:8.1f} µs/step (loss {loss:.6f})"
                            for name, (us, loss) in mlp.items())
          + (f"   torch/tapegrad {mlp['torch'][0] / mlp['tapegrad'][0]:.1f}x" if has_torch else ""))

    # -- start-up --------------------------------------------------------------------------
    warm = W.best_startup(cold_cache=False, repeats=1 if args.quick else 3)
    cold = W.startup(cold_cache=True)
    print(f"\nstart-up, fresh interpreters (warm: best of {1 if args.quick else 3}; cold: one run)")
    print(f"  import numpy                                {warm[0]:7.3f} s")
    print(f"  import tapegrad (after numpy)               {warm[1]:7.3f} s")
    print(f"  first backward, warm Numba cache (load)     {warm[2]:7.3f} s   (includes import numba)")
    print(f"  first backward, cold Numba cache (compile)  {cold[2]:7.3f} s")
    print(f"  then first n-d backward, warm / cold cache  {warm[3]:7.3f} s / {cold[3]:.3f} s")
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    try:
        main()
    except Exception:                       # a report: show the failure, exit 0 regardless
        import traceback
        traceback.print_exc()
    sys.exit(0)
