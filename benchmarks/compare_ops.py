"""Single ops and small models beside torch, one run: where tapegrad's eager speed stands.

    python benchmarks/compare_ops.py [--quick] [--ops] [--models]

1. Recorded forward of ~55 common ops on small float32 tensors (8x32, 4x3x8x8, ...; the input
   a fresh non-leaf each sample, so the op records as it would inside a model), interleaved
   with torch's, best of k samples; sorted by tapegrad / torch.
2. One Adam training step (zero_grad, forward, loss, backward, step) of small nn models as
   tutorials write them: an MLP, an MNIST-sized CNN, an LSTM and a GRU over 20 steps, a
   transformer encoder layer, a batch-norm MLP, an embedding model (workloads.model_step).

No targets: a map of the ops and models where tapegrad's per-op Python work (or a
decomposition recorded as several entries) costs most against torch's C++ dispatch, for
choosing what to make faster.  Always exits 0: a report.  Without torch: tapegrad's times.
"""
import argparse
import gc
import os
import platform
import statistics
import sys
import time

import numpy as np

import workloads as W


def ops(libs, samples):
    """Section 1: {op name: {library: best seconds}}."""
    cases = {name: W.op_cases(mod) for name, mod in libs.items()}
    best = {}
    for op in cases["tapegrad"]:
        times = dict.fromkeys(libs, float("inf"))
        names = list(libs)
        for rep in range(samples):
            for name in (names if rep % 2 == 0 else names[::-1]):
                make, fn = cases[name][op]
                x = make()               # (untimed: the op's input, fresh each sample)
                gc.disable()
                try:
                    t = time.perf_counter()
                    fn(x)
                    times[name] = min(times[name], time.perf_counter() - t)
                finally:
                    gc.enable()
        best[op] = times
    return best


def models(libs, reps):
    """Section 2: {model name: {library: best seconds per step}}."""
    best = {}
    for model in W.MODEL_NAMES:
        steps = {name: W.model_step(mod, model) for name, mod in libs.items()}
        for step in steps.values():     # (first calls: kernels, caches, allocator)
            for _ in range(3):
                step()
        best[model], _ = W.interleaved(steps, reps)
    return best


def table(title, best, libs, unit, scale):
    print(f"\n{title}")
    rows = sorted(best.items(), key=lambda kv: -(kv[1]["tapegrad"] / kv[1]["torch"])
                  if "torch" in libs else -kv[1]["tapegrad"])
    ratios = []
    for name, t in rows:
        line = f"  {name:20s} tapegrad {t['tapegrad'] * scale:9.2f} {unit}"
        if "torch" in libs:
            r = t["tapegrad"] / t["torch"]
            ratios.append(r)
            line += f"   torch {t['torch'] * scale:9.2f} {unit}   tapegrad / torch {r:5.2f}"
        print(line)
    if ratios:
        print(f"  median tapegrad / torch {statistics.median(ratios):.2f}; "
              f"{sum(r > 4 for r in ratios)} of {len(ratios)} above 4x, "
              f"{sum(r <= 1 for r in ratios)} at or below 1x")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    ap.add_argument("--ops", action="store_true", help="section 1 only")
    ap.add_argument("--models", action="store_true", help="section 2 only")
    args = ap.parse_args()
    both = not (args.ops or args.models)
    libs = W.libraries()
    torch = libs.get("torch")
    print(f"python {platform.python_version()}  tapegrad {libs['tapegrad'].__version__}  "
          f"numpy {np.__version__} (BLAS threads: {W.blas_threads()})"
          + (f"  torch {torch.__version__} ({W.TORCH_THREADS} thread)" if torch
             else "  torch: not installed"))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    start = time.perf_counter()
    if both or args.ops:
        samples = 50 if args.quick else 1500
        table(f"1. recorded forward of one op, small float32 tensors; best of {samples} samples",
              ops(libs, samples), libs, "us", 1e6)
    if both or args.models:
        reps = 2 if args.quick else 30
        table(f"2. one Adam training step of a small nn model; best of {reps}",
              models(libs, reps), libs, "ms", 1e3)
    print(f"\ntotal {time.perf_counter() - start:.0f} s; load average now "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
