"""Per-call overhead of factories and common n-d calls, tapegrad beside torch, one run.

    python benchmarks/compare_calls.py [--quick] [-k SUBSTRING]

Each case is one short call (`tensor(0.1)`, `zeros(3)`, `a.sum()`, `a[0]`, `a @ b`, ...) on
small float32 tensors (a = ones(32, 16); w the same requiring grad), timed as timeit does
(a loop of `number` calls, gc off, best of `repeat` loops), the two libraries interleaved,
torch on one thread.  What it shows is the Python work around each call (argument parsing,
dtype decisions, wrapping the result), not arithmetic: compare_ops.py times recorded ops on
fresh non-leaf inputs, this script the plain calls a script or a training loop makes.  The
`w` cases record (grad mode on, an input that requires grad); their results are dropped at
once, so no graph grows.

No targets: always exits 0.  Without torch: tapegrad's times.
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

import workloads as W

# (label, statement): names the statements see are the library (`t`) and a, b, c, v, w, s, n
# (a float32 numpy array 32x16) and n0 (a numpy float32)
CASES = [
    ("tensor(0.1)", "t.tensor(0.1)"),
    ("tensor([1.,2.,3.])", "t.tensor([1., 2., 3.])"),
    ("tensor(0.1, rg=True)", "t.tensor(0.1, requires_grad=True)"),
    ("tensor(3)", "t.tensor(3)"),
    ("tensor([[1.,2.],[3.,4.]])", "t.tensor([[1., 2.], [3., 4.]])"),
    ("tensor(range(5))", "t.tensor(range(5))"),
    ("tensor((1.,2.,3.))", "t.tensor((1., 2., 3.))"),
    ("tensor(0.1, dtype=f64)", "t.tensor(0.1, dtype=t.float64)"),
    ("tensor(ndarray 32x16)", "t.tensor(n)"),
    ("tensor(np.float32)", "t.tensor(n0)"),
    ("zeros(3)", "t.zeros(3)"),
    ("ones(32,16)", "t.ones(32, 16)"),
    ("empty(32,16)", "t.empty(32, 16)"),
    ("zeros((32,16))", "t.zeros((32, 16))"),
    ("zeros(3, dtype=f64)", "t.zeros(3, dtype=t.float64)"),
    ("ones(3, rg=True)", "t.ones(3, requires_grad=True)"),
    ("full((32,16), 0.5)", "t.full((32, 16), 0.5)"),
    ("arange(10)", "t.arange(10)"),
    ("arange(0., 1., 0.25)", "t.arange(0., 1., 0.25)"),
    ("zeros_like(a)", "t.zeros_like(a)"),
    ("ones_like(a)", "t.ones_like(a)"),
    ("randn(32,16)", "t.randn(32, 16)"),
    ("rand(32,16)", "t.rand(32, 16)"),
    ("randn(16)", "t.randn(16)"),
    ("rand(16)", "t.rand(16)"),
    ("a.sum()", "a.sum()"),
    ("a.mean()", "a.mean()"),
    ("a.sum(0)", "a.sum(0)"),
    ("a.mean(1)", "a.mean(1)"),
    ("a.sum(dim=1)", "a.sum(dim=1)"),
    ("t.sum(a)", "t.sum(a)"),
    ("a[0]", "a[0]"),
    ("a[1:3]", "a[1:3]"),
    ("a[:, 0]", "a[:, 0]"),
    ("a[0, 1]", "a[0, 1]"),
    ("a.reshape(16,32)", "a.reshape(16, 32)"),
    ("a.view(16,32)", "a.view(16, 32)"),
    ("a.view(-1)", "a.view(-1)"),
    ("a.flatten()", "a.flatten()"),
    ("a.unsqueeze(0)", "a.unsqueeze(0)"),
    ("a.t()", "a.t()"),
    ("a @ a.t()", "a @ a.t()"),
    ("a @ b", "a @ b"),
    ("t.mm(a, b)", "t.mm(a, b)"),
    ("t.matmul(a, b)", "t.matmul(a, b)"),
    ("a @ v", "a @ v"),
    ("w.sum()", "w.sum()"),
    ("w.mean(1)", "w.mean(1)"),
    ("w[0]", "w[0]"),
    ("w[1:3]", "w[1:3]"),
    ("w.reshape(16,32)", "w.reshape(16, 32)"),
    ("w.view(-1)", "w.view(-1)"),
    ("w.unsqueeze(0)", "w.unsqueeze(0)"),
    ("w @ b", "w @ b"),
    ("randint(0,10,(16,))", "t.randint(0, 10, (16,))"),
    ("multinomial(v,4,True)", "t.multinomial(v, 4, True)"),
    ("a[0] = 1.", "a[0] = 1.0"),
    ("a[:] = c", "a[:] = c"),
    ("a.copy_(c)", "a.copy_(c)"),
    ("a.fill_(1.)", "a.fill_(1.0)"),
    ("a.clamp(-1,1)", "a.clamp(-1, 1)"),
    ("a.clamp_(-1,1)", "a.clamp_(-1, 1)"),
    ("a.clamp_(0,1)", "a.clamp_(0, 1)"),
    ("a.add_(c)", "a.add_(c)"),
    ("a.sub_(c, alpha=2)", "a.sub_(c, alpha=2)"),
    ("a.mul_(2.)", "a.mul_(2.0)"),
    ("a.div_(c)", "a.div_(c)"),
    ("a.addcmul_(c, c)", "a.addcmul_(c, c)"),
    ("a.zero_()", "a.zero_()"),
    ("a.normal_()", "a.normal_()"),
    ("a.uniform_()", "a.uniform_()"),
    # (an optimizer's or a training loop's updates: Adam's, SGD's with weight decay, an EMA,
    # RMSprop's root, gradient clipping's norm)
    ("a.sqrt_()", "a.sqrt_()"),
    ("a.addcmul_(c, c, value=.1)", "a.addcmul_(c, c, value=0.1)"),
    ("a.addcdiv_(c, c, value=-.1)", "a.addcdiv_(c, c, value=-0.1)"),
    ("a.lerp_(c, 0.1)", "a.lerp_(c, 0.1)"),
    ("a.add_(c, alpha=-.1)", "a.add_(c, alpha=-0.1)"),
    ("a.mul_(c)", "a.mul_(c)"),
    ("a.norm()", "a.norm()"),
    ("a.tanh() (reference)", "a.tanh()"),
    ("a + a (reference)", "a + a"),
]


def names(t):
    """The operands the statements use, made by library `t`."""
    a = t.ones(32, 16)
    n = np.ones((32, 16), np.float32)
    return {"t": t, "a": a, "b": t.ones(16, 32), "c": t.ones(32, 16), "v": t.ones(16),
            "w": t.ones(32, 16, requires_grad=True), "s": t.tensor(0.5), "n": n, "n0": n[0, 0]}


def timed(stmts, number, repeat):
    """{library: {label: best seconds per call}}, the libraries interleaved per case."""
    fns = {}
    for lib, (mod, ns) in stmts.items():
        for label, stmt in CASES:
            # one function per case: a loop of `number` calls, as timeit compiles it
            src = f"def run(n):\n    for _ in range(n):\n        {stmt}\n"
            env = dict(ns)
            exec(compile(src, f"<{label}>", "exec"), env)
            fns.setdefault(label, {})[lib] = env["run"]
    best = {}
    for label, _ in CASES:
        per = {lib: (lambda f=f: f(number)) for lib, f in fns[label].items()}
        for f in per.values():   # (first calls: kernels, caches)
            f()
        t, _ = W.interleaved(per, repeat)
        best[label] = {lib: s / number for lib, s in t.items()}
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    ap.add_argument("-k", default="", help="only the cases whose label contains this")
    args = ap.parse_args()
    global CASES
    CASES = [c for c in CASES if args.k in c[0]]
    libs = W.libraries()
    torch = libs.get("torch")
    if torch is not None:
        torch.set_num_threads(W.TORCH_THREADS)
    print(f"python {platform.python_version()}  tapegrad {libs['tapegrad'].__version__}  "
          f"numpy {np.__version__}"
          + (f"  torch {torch.__version__} ({W.TORCH_THREADS} thread)" if torch
             else "  torch: not installed"))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    number, repeat = (200, 3) if args.quick else (2000, 7)
    start = time.perf_counter()
    best = timed({lib: (mod, names(mod)) for lib, mod in libs.items()}, number, repeat)
    print(f"\nmicroseconds per call, best of {repeat} loops of {number} "
          f"(a = ones(32, 16), b = ones(16, 32), v = ones(16), w = a requiring grad, "
          f"n = a as a numpy array)")
    ratios = []
    for label, t in best.items():
        line = f"  {label:26s} tapegrad {t['tapegrad'] * 1e6:7.2f}"
        if torch is not None:
            r = t["tapegrad"] / t["torch"]
            ratios.append(r)
            line += f"   torch {t['torch'] * 1e6:7.2f}   tapegrad / torch {r:5.2f}"
        print(line)
    if ratios:
        print(f"  median tapegrad / torch {statistics.median(ratios):.2f}; "
              f"{sum(r > 2 for r in ratios)} of {len(ratios)} above 2x, "
              f"{sum(r <= 1 for r in ratios)} at or below 1x")
    print(f"\ntotal {time.perf_counter() - start:.0f} s; load average now "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
