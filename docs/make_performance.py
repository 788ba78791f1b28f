"""Measure and plot the figures of docs/performance.md.

    python docs/make_performance.py [--quick]

Writes docs/perf/machine.txt, docs/perf/compare.txt (the output of benchmarks/compare.py),
docs/perf/results.json and the plots docs/img/perf_*.svg.  Needs matplotlib; torch, jax and
micrograd are each optional (a library that does not import is left out).

The plots use one workload every library can run, 4 recorded ops per step:

    x = 0.5 (requires grad); y = 1.0
    for _ in range(n): y = y * 0.999 + x * x * 0.001
    dy/dx

(micrograd has no `sin`, so the headline recurrence of compare.py uses `x.sin()` instead of
`x * x`).  tapegrad and torch record eagerly and call `y.backward()`; jax runs
`jax.grad` of the Python loop (eager: it traces every op, then differentiates; `jax.jit`
would compile the unrolled loop, which takes minutes at these sizes); micrograd builds its
`Value` graph and calls `backward()`.  Each point is the best of a few runs, libraries
interleaved, gc off while timing.  torch runs on one thread, as tapegrad does.
"""
import argparse
import gc
import json
import math
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import workloads as W  # noqa: E402

import tapegrad  # noqa: E402

DECAY, GAIN = 0.999, 0.001
COLORS = {"tapegrad": "#1f77b4", "torch": "#ee4c2c", "jax": "#7b61ff", "micrograd": "#2ca02c"}


def poly_tapegrad_like(mod):
    def run(n):
        x = mod.tensor(0.5, dtype=mod.float64, requires_grad=True)
        y = mod.tensor(1.0, dtype=mod.float64)
        t0 = time.perf_counter()
        for _ in range(n):
            y = y * DECAY + x * x * GAIN
        t1 = time.perf_counter()
        y.backward()
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, float(x.grad)
    return run


def poly_jax(jax):
    def f(x, n):
        y = 1.0
        for _ in range(n):
            y = y * DECAY + x * x * GAIN
        return y

    def run(n):
        t0 = time.perf_counter()
        g = jax.grad(f)(0.5, n)
        g = float(g)
        return None, time.perf_counter() - t0, g
    return run


def poly_micrograd(engine):
    sys.setrecursionlimit(100_000)   # its backward sorts the graph recursively

    def run(n):
        x = engine.Value(0.5)
        y = engine.Value(1.0)
        t0 = time.perf_counter()
        for _ in range(n):
            y = y * DECAY + x * x * GAIN
        t1 = time.perf_counter()
        y.backward()
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, x.grad
    return run


def libraries():
    libs = {"tapegrad": (poly_tapegrad_like(tapegrad), 100_000)}
    torch = W.load("torch")
    if torch is not None:
        libs["torch"] = (poly_tapegrad_like(torch), 100_000)
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        libs["jax"] = (poly_jax(jax), 3_000)
    except ImportError:
        pass
    try:
        from micrograd import engine
        libs["micrograd"] = (poly_micrograd(engine), 3_000)
    except ImportError:
        pass
    return libs


def measure(libs, sizes, reps):
    """{lib: {n: (record s or None, backward s (jax: all), grad)}}, best of reps."""
    out = {name: {} for name in libs}
    for n in sizes:
        names = [name for name, (_, nmax) in libs.items() if n <= nmax]
        for rep in range(reps):
            for name in (names if rep % 2 == 0 else names[::-1]):
                run = libs[name][0]
                gc.collect()
                gc.disable()
                try:
                    rec, bwd, grad = run(n)
                finally:
                    gc.enable()
                old = out[name].get(n)
                total = (rec or 0.0) + bwd
                if old is None or total < (old[0] or 0.0) + old[1]:
                    out[name][n] = (rec, bwd, grad)
        print(f"n={n}: " + ", ".join(
            f"{name} {((out[name][n][0] or 0) + out[name][n][1]) * 1e3:.1f} ms"
            for name in names), flush=True)
    return out


def cold_start(libs):
    """Seconds, each in a fresh interpreter: import, first gradient (warm / cold cache)."""
    code = {
        "torch": "import torch; x = torch.tensor(0.5, requires_grad=True); (x * x).backward()",
        "jax": "import jax; jax.grad(lambda x: x * x)(0.5)",
        "micrograd": "from micrograd.engine import Value; x = Value(0.5); (x * x).backward()",
    }
    res = {}
    warm = W.best_startup(cold_cache=False, repeats=3)
    cold = W.startup(cold_cache=True)
    res["tapegrad"] = {"import": warm[0] + warm[1], "first gradient (warm cache)": warm[2],
                       "first gradient (cold cache)": cold[2]}
    def best_of(src, k=3):
        best = math.inf
        for _ in range(k):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", src], check=True, capture_output=True)
            best = min(best, time.perf_counter() - t0)
        return best

    empty = best_of("pass", 5)            # an interpreter's own start, subtracted
    for name in libs:
        if name != "tapegrad":
            res[name] = {"import + first gradient": max(best_of(code[name]) - empty, 0.0)}
    return res


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = [f"python {platform.python_version()}", f"tapegrad {tapegrad.__version__}"]
    from importlib import metadata
    for name in ("numpy", "numba", "torch", "jax", "micrograd"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return (f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
            f"load average {os.getloadavg()[0]:.2f} at start\n" + ", ".join(versions)
            + f"\nmeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")


def plot(results, cold, sizes):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    img = os.path.join(HERE, "img")
    plt.rcParams.update({"font.size": 9, "svg.hashsalt": "tapegrad", "svg.fonttype": "none"})
    meta = {"Date": None}

    # per-op cost at one size
    n0 = 1_000
    fig, ax = plt.subplots(figsize=(6, 2.8))
    names = [name for name in results if n0 in results[name]]
    for i, name in enumerate(names):
        rec, bwd, _ = results[name][n0]
        ops = 4 * n0
        if rec is None:
            ax.barh(i, bwd / ops * 1e6, color=COLORS[name], label=None)
            ax.text(bwd / ops * 1e6, i, f"  {bwd / ops * 1e6:.2f} (trace + grad)", va="center")
        else:
            ax.barh(i, rec / ops * 1e6, color=COLORS[name], alpha=0.55)
            ax.barh(i, bwd / ops * 1e6, left=rec / ops * 1e6, color=COLORS[name])
            ax.text((rec + bwd) / ops * 1e6, i,
                    f"  {rec / ops * 1e6:.2f} + {bwd / ops * 1e6:.3f}", va="center")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(f"µs per recorded op (n = {n0:,} steps): record (light) + backward (dark)")
    ax.set_xlim(right=ax.get_xlim()[1] * 20)
    fig.tight_layout()
    fig.savefig(os.path.join(img, "perf_per_op.svg"), metadata=meta)
    plt.close(fig)

    # cost vs size, log-log
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, by_n in results.items():
        ns = sorted(by_n)
        ax.plot(ns, [(by_n[n][0] or 0) + by_n[n][1] for n in ns], "o-", color=COLORS[name],
                label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("steps n (4 recorded ops each)")
    ax.set_ylabel("seconds: record + backward")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(img, "perf_size.svg"), metadata=meta)
    plt.close(fig)

    # cold start
    fig, ax = plt.subplots(figsize=(6, 2.6))
    labels, values, colors = [], [], []
    for name, parts in cold.items():
        for what, s in parts.items():
            labels.append(f"{name}: {what}")
            values.append(s)
            colors.append(COLORS[name])
    ax.barh(range(len(values)), values, color=colors)
    for i, v in enumerate(values):
        ax.text(v, i, f"  {v:.2f} s", va="center")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("seconds, in a fresh interpreter")
    ax.set_xlim(right=max(values) * 1.25)
    fig.tight_layout()
    fig.savefig(os.path.join(img, "perf_cold.svg"), metadata=meta)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, no compare.py run")
    args = ap.parse_args()
    out = os.path.join(HERE, "perf")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "machine.txt"), "w") as f:
        f.write(machine())
    if not args.quick:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}   # this checkout's tapegrad
        report = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "compare.py")],
                                capture_output=True, text=True, check=True, env=env).stdout
        with open(os.path.join(out, "compare.txt"), "w") as f:
            f.write(report)
    libs = libraries()
    for name, (run, _) in libs.items():   # warm up: kernels, jax's dispatch caches
        run(50)
    sizes = [100, 300, 1_000, 3_000, 10_000, 30_000, 100_000]
    results = measure(libs, sizes, reps=2 if args.quick else 3)
    cold = cold_start(libs)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"scaling": {k: {str(n): v for n, v in r.items()} for k, r in results.items()},
                   "cold_start": cold}, f, indent=1)
    plot(results, cold, sizes)
    print(json.dumps(cold, indent=1))


if __name__ == "__main__":
    main()
