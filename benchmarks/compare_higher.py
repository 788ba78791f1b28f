"""Higher-order derivatives of the scalar Rosenbrock loop: tapegrad against torch, one run.

    python benchmarks/compare_higher.py [--quick]

For n = 10, 100, 1000 float64 0-d leaves (a Python loop, 8 ops per leaf): the gradient
(autograd.grad), a Hessian-vector product (autograd.functional.hvp: reverse over reverse) and,
for n = 10 and 100, the full Hessian (autograd.functional.hessian), each timed from the
forward pass on; the same code runs with both libraries (workloads.py), interleaved, best of
k.  Results are checked against the exact Hessian.  Targets (issue #4): hvp >= 10x faster
than torch eager at n = 1000, full Hessian >= 10x at n = 100.  Always exits 0: a report.
"""
import argparse
import os
import platform
import sys
import time

import numpy as np

import workloads as W

HVP_MIN, HESSIAN_MIN = 10.0, 10.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    reps = 2 if args.quick else 5
    libs = W.libraries()
    tg, torch = libs["tapegrad"], libs.get("torch")
    print(f"python {platform.python_version()}  tapegrad {tg.__version__}  numpy {np.__version__}"
          + (f"  torch {torch.__version__} ({W.TORCH_THREADS} thread)" if torch else "  torch: not installed"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    for mod in libs.values():
        W.warm_up(mod)
        xs, vs = W.rosen_leaves(mod, 4)      # first calls: compile or load the kernels
        W.rosen_hvp(mod, xs, vs)
        W.rosen_hessian(mod, xs)
    rows = []
    print(f"\n{'what':8s} {'n':>5s} | {'tapegrad ms':>12s} {'torch ms':>10s} {'torch/tg':>9s} | exact")
    for what, sizes in (("gradient", W.HIGHER_SIZES), ("hvp", W.HIGHER_SIZES),
                        ("hessian", W.HESSIAN_SIZES)):
        for n in sizes:
            fns = {}
            for name, mod in libs.items():
                def run(mod=mod, n=n, what=what):
                    xs, vs = W.rosen_leaves(mod, n)
                    if what == "gradient":
                        return W.rosen_gradient(mod, xs)
                    if what == "hvp":
                        return W.rosen_hvp(mod, xs, vs)
                    return W.rosen_hessian(mod, xs)
                fns[name] = run
            k = reps if n <= 100 else max(2, reps // 2)
            best, last = W.interleaved(fns, k)
            rng = np.random.default_rng(0)          # the point and direction rosen_leaves drew
            x = rng.uniform(-1.5, 1.5, n)
            v = rng.normal(size=n)
            H = W.rosen_hessian_np(x)
            exact = {"gradient": W.rosenbrock_grad_np(x[None])[0], "hvp": H @ v, "hessian": H}[what]
            ok = all(np.allclose(r, exact, rtol=1e-9, atol=1e-9) for r in last.values())
            t_tg = best["tapegrad"]
            t_torch = best.get("torch")
            ratio = t_torch / t_tg if t_torch else None
            rows.append((what, n, ratio))
            print(f"{what:8s} {n:5d} | {t_tg * 1e3:12.2f} "
                  + (f"{t_torch * 1e3:10.2f} {ratio:8.1f}x" if t_torch else f"{'-':>10s} {'-':>9s}")
                  + f" | {'yes' if ok else 'NO'}", flush=True)
    print("\ntargets (torch eager / tapegrad)")
    for what, n, target in (("hvp", 1000, HVP_MIN), ("hessian", 100, HESSIAN_MIN)):
        ratio = next((r for w, m, r in rows if w == what and m == n), None)
        verdict = "n/a (no torch)" if ratio is None else ("PASS" if ratio >= target else "FAIL")
        shown = "-" if ratio is None else f"{ratio:.1f}x"
        print(f"  {what} n={n} >= {target:.0f}x faster than torch eager {shown:>10s}  {verdict}")


if __name__ == "__main__":
    sys.exit(main())
