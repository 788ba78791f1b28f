"""Custom autograd Functions beside torch's: the Python cost of `Function.apply` and of its
backward on small tensors, and the nn.LSTM model step (whose layers are such a node).

    python benchmarks/compare_functions.py [--quick] [--json] [--reps K] [--no-torch]

Each case times `MyFn.apply(x)` (the recorded forward: x a leaf that requires grad) and
`MyFn.apply(x)` + `.backward(g)` (one step), tapegrad then torch interleaved, best of k.  The
cases: torch's tutorial `Exp` (saves its output) and `LegendrePolynomial3` (saves its input)
on a 0-d and a (32, 16) float32 tensor, a two-input Function saving inputs and output, `Exp`
written with `setup_context`, a Function with two outputs, one marked non-differentiable,
and compare_ops' lstm model step.  Always exits 0: a report.
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np

import workloads as W


def functions(mod):
    """{name: Function class} written for `mod` as torch's docs write them."""
    F = mod.autograd.Function

    class Exp(F):
        @staticmethod
        def forward(ctx, i):
            result = i.exp()
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, grad_output):
            result, = ctx.saved_tensors
            return grad_output * result

    class LegendrePolynomial3(F):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class MulExp(F):     # saves its inputs and its output
        @staticmethod
        def forward(ctx, x, y):
            out = (x * y).exp()
            ctx.save_for_backward(x, y, out)
            return out

        @staticmethod
        def backward(ctx, g):
            x, y, out = ctx.saved_tensors
            go = g * out
            return go * y, go * x

    class ExpSetup(F):   # forward without ctx, setup_context
        @staticmethod
        def forward(i):
            return i.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)

        @staticmethod
        def backward(ctx, grad_output):
            result, = ctx.saved_tensors
            return grad_output * result

    class ClampMask(F):  # two outputs, the mask non-differentiable
        @staticmethod
        def forward(ctx, x):
            mask = x > 0
            out = x.clamp(min=0)
            ctx.mark_non_differentiable(mask)
            ctx.save_for_backward(mask)
            return out, mask

        @staticmethod
        def backward(ctx, g, _):
            mask, = ctx.saved_tensors
            return g * mask

    return {"Exp": Exp, "LegendrePolynomial3": LegendrePolynomial3, "MulExp": MulExp,
            "ExpSetup": ExpSetup, "ClampMask": ClampMask}


SHAPES = {"0-d": (), "32x16": (32, 16)}
CASES = [("Exp", "0-d"), ("Exp", "32x16"), ("LegendrePolynomial3", "0-d"),
         ("LegendrePolynomial3", "32x16"), ("MulExp", "32x16"), ("ExpSetup", "32x16"),
         ("ClampMask", "32x16")]


def case(mod, fns, name, shape):
    """(forward, step, inputs) of one case for `mod`: the callables and the leaves they use."""
    rng = np.random.default_rng(0)
    fn = fns[name]
    n_in = 2 if name == "MulExp" else 1
    xs = [mod.tensor(rng.uniform(-1, 1, SHAPES[shape]).astype(np.float32), requires_grad=True)
          for _ in range(n_in)]
    g = mod.ones(SHAPES[shape])

    def first(out):
        return out[0] if isinstance(out, tuple) else out

    def forward():
        return fn.apply(*xs)

    def step():
        first(fn.apply(*xs)).backward(g)
    return forward, step, xs


def measure(libs, reps):
    """{row name: {library: best seconds}}."""
    fns = {name: functions(mod) for name, mod in libs.items()}
    best = {}
    for name, shape in CASES:
        made = {lib: case(mod, fns[lib], name, shape) for lib, mod in libs.items()}
        for kind, i in (("apply", 0), ("apply+backward", 1)):
            calls = {lib: made[lib][i] for lib in libs}
            for c in calls.values():
                for _ in range(20):
                    c()
            best[f"{name} {shape} {kind}"], _ = W.interleaved(calls, reps, number=20)
    steps = {lib: W.model_step(mod, "lstm") for lib, mod in libs.items()}
    for s in steps.values():
        for _ in range(3):
            s()
    best["lstm model step"], _ = W.interleaved(steps, max(reps // 20, 5))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    ap.add_argument("--json", action="store_true", help="print {row: {library: us}} only")
    ap.add_argument("--reps", type=int, help="samples per row (default 200, --quick 10)")
    ap.add_argument("--no-torch", action="store_true", help="tapegrad only (an A/B of trees)")
    args = ap.parse_args()
    libs = W.libraries()
    if args.no_torch:
        libs.pop("torch", None)
    best = measure(libs, args.reps or (10 if args.quick else 200))
    if args.json:
        print(json.dumps({k: {lib: t * 1e6 for lib, t in v.items()} for k, v in best.items()}))
        return 0
    print(f"tapegrad {libs['tapegrad'].__version__}"
          + (f"  torch {libs['torch'].__version__}" if "torch" in libs else "  torch: none")
          + f"; load average {os.getloadavg()[0]:.2f}")
    ratios = []
    for row, t in best.items():
        line = f"  {row:42s} tapegrad {t['tapegrad'] * 1e6:9.1f} us"
        if "torch" in t:
            ratios.append(t["tapegrad"] / t["torch"])
            line += f"   torch {t['torch'] * 1e6:9.1f} us   tapegrad / torch {ratios[-1]:5.2f}"
        print(line)
    if ratios:
        print(f"  median tapegrad / torch {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
