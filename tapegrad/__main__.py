"""`python -m tapegrad [tutorial|bench]`: the demo.

tutorial (the default) walks through the autograd tutorial's examples and prints what they
print (the same output as PyTorch 2.13, random values aside: tapegrad draws with numpy), then
times the scalar loop against torch.  bench runs the benchmark comparison of a source
checkout (benchmarks/compare.py).
"""
import argparse
import os
import subprocess
import sys

import tapegrad
from tapegrad import demo
from tapegrad.tutorial import EXAMPLES, ORDER, run_example


def tutorial(steps):
    print("Numba: preparing tapegrad's backward kernels (compiled once on first use, which "
          "takes a while; later runs load them from the cache) ...", end=" ", flush=True)
    print(f"ready in {demo.warm_up():.1f} s\n", flush=True)
    for name in ORDER:
        print("=" * 8, name.replace("_", " "))
        print(EXAMPLES[name].strip())
        print("-" * 8, "output")
        print(run_example(EXAMPLES[name], tapegrad), end="")
        print()
    print("=" * 8, "why tapegrad: a scalar loop, tapegrad and torch side by side")
    print(demo.report(demo.compare(steps), steps))


def find_compare():
    """benchmarks/compare.py of the source checkout: in the current directory (the README's
    `pip install . && python -m tapegrad` runs from the checkout) or beside the package."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(tapegrad.__file__)))
    for root in (os.getcwd(), here):
        path = os.path.join(root, "benchmarks", "compare.py")
        if os.path.isfile(path):
            return path
    return None


def bench(quick):
    path = find_compare()
    if path is None:
        print("The benchmark comparison is part of tapegrad's source checkout, not of the "
              "installed package.\nFrom a checkout run:  python benchmarks/compare.py [--quick]"
              "\n(or `python -m tapegrad bench` from the checkout's top directory)")
        return 0
    print(f"running {path}" + (" --quick" if quick else ""), flush=True)
    # the script imports the tapegrad running this demo, not another one on sys.path
    here = os.path.dirname(os.path.dirname(os.path.abspath(tapegrad.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [here, os.environ.get("PYTHONPATH")]))}
    return subprocess.call([sys.executable, path] + (["--quick"] if quick else []), env=env)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m tapegrad",
        description="tapegrad's demo: the autograd tutorial's examples run with tapegrad, then a "
                    "scalar loop timed against torch; or the benchmark comparison.")
    ap.add_argument("command", nargs="?", default="tutorial", choices=["tutorial", "bench"],
                    help="tutorial: the tutorial's examples, then the scalar loop timed against "
                         "torch (default); bench: the full comparison table "
                         "(benchmarks/compare.py)")
    ap.add_argument("--steps", type=int, default=10_000,
                    help="steps of the scalar loop in the tutorial's timing (default 10000)")
    ap.add_argument("--quick", action="store_true", help="bench: fewer repetitions")
    args = ap.parse_args(argv)
    if args.command == "bench":
        return bench(args.quick)
    tutorial(args.steps)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:   # `python -m tapegrad | head`: the reader left, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
