"""What `python -m tapegrad` shows after the tutorial: the scalar loop that tapegrad is made
for, differentiated by tapegrad and (when installed) torch, timed side by side.

    x = tensor(0.5, requires_grad=True); y = tensor(1.0)
    for _ in range(n): y = y * 0.999 + x.sin() * 0.001      # 4 recorded ops per step
    y.backward()

Each library runs the same code; each figure is the best of a few repetitions, alternating
which library goes first, with gc off while timing (as timeit does).  torch runs on one
thread, as tapegrad does.  `benchmarks/compare.py` (`python -m tapegrad bench`) is the full
report with memory, larger sizes and start-up costs.
"""
import gc
import importlib
import math
import time

import tapegrad

X0, DECAY, GAIN = 0.5, 0.999, 0.001


def scalar_loop(mod, n):
    """Record the loop with `mod` (tapegrad or torch); returns (x, y)."""
    x = mod.tensor(X0, requires_grad=True)
    y = mod.tensor(1.0)
    for _ in range(n):
        y = y * DECAY + x.sin() * GAIN
    return x, y


def exact_grad(n):
    """dy/dx in closed form: cos(0.5) * (1 - 0.999**n)."""
    return math.cos(X0) * (1.0 - DECAY ** n)


def warm_up():
    """Run one small backward (scalar and n-d) so Numba loads or compiles its kernels;
    returns the seconds it took."""
    t = time.perf_counter()
    scalar_loop(tapegrad, 10)[1].backward()
    tapegrad.ones(2, 2, requires_grad=True).exp().sum().backward()
    return time.perf_counter() - t


def time_once(mod, n):
    """(record seconds, backward seconds, x.grad) of one run, gc off."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        x, y = scalar_loop(mod, n)
        t1 = time.perf_counter()
        y.backward()
        t2 = time.perf_counter()
    finally:
        gc.enable()
    return t1 - t0, t2 - t1, float(x.grad)


def torch_or_none():
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def compare(n=10_000, reps=3, libs=None):
    """{name: (record s, backward s, x.grad)}: best of `reps`, libraries interleaved."""
    if libs is None:
        libs = {"tapegrad": tapegrad}
        torch = torch_or_none()
        if torch is not None:
            libs["torch"] = torch
    best = {name: [math.inf, math.inf, None] for name in libs}
    order = list(libs)
    for rep in range(reps):
        for name in (order if rep % 2 == 0 else order[::-1]):
            rec, bwd, grad = time_once(libs[name], n)
            b = best[name]
            b[0], b[1], b[2] = min(b[0], rec), min(b[1], bwd), grad
    return {name: tuple(v) for name, v in best.items()}


def report(results, n):
    """The side-by-side table as text."""
    ops = 4 * n
    lines = [f"y = y * 0.999 + x.sin() * 0.001 for {n:,} steps ({ops:,} recorded ops), "
             f"then y.backward(); best of a few runs",
             f"{'':10} {'x.grad':>12} {'record':>12} {'backward':>12}",
             f"{'exact':10} {exact_grad(n):12.7f}"]
    for name, (rec, bwd, grad) in results.items():
        lines.append(f"{name:10} {grad:12.7f} {rec * 1e3:9.2f} ms {bwd * 1e3:9.2f} ms")
    if "torch" in results:
        (tr, tb, _), (gr, gb, _) = results["torch"], results["tapegrad"]
        lines.append(f"{'torch / tapegrad':23} {tr / gr:11.1f}x {tb / gb:11.1f}x")
    else:
        lines.append("(install torch to see it side by side: pip install torch)")
    return "\n".join(lines)
