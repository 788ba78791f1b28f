"""torch.linalg backward (issue #11): tapegrad's LAPACK host entries against torch.

    python benchmarks/compare_linalg.py [--quick]

For each op (inv, solve, slogdet, cholesky) and n (8, 64): the backward of
`op(A).sum()` on float64 leaves (A n x n, solve's B n x 4), the forward built untimed;
contenders interleaved, best of k (benchmarks/workloads.py's `interleaved`).  The asv suite
(benchmarks/benchmarks/bench_linalg.py) times the same workloads.  A report: exits 0."""
import argparse
import os
import time

import workloads as W   # first: it pins numpy's BLAS to one thread before numpy loads


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few repetitions")
    reps = 3 if ap.parse_args().quick else 30
    libs = W.libraries()
    print(f"tapegrad {os.path.dirname(W.tapegrad.__file__)}; load average "
          f"{os.getloadavg()[0]:.2f}; best of {reps}")
    for mod in libs.values():
        W.warm_up(mod)
    for n in W.LINALG_SIZES:
        for op in W.LINALG_OPS:
            leaves = {name: W.linalg_leaves(mod, n) for name, mod in libs.items()}

            def run(name, op=op, leaves=leaves):
                A, B = leaves[name]
                loss = W.linalg_loss(libs[name], op, A, B)
                t = time.perf_counter()
                loss.backward()
                t = time.perf_counter() - t
                W.clear_grads((A, B))
                return t
            fns = {name: (lambda name=name: run(name)) for name in libs}
            best = dict.fromkeys(libs, float("inf"))
            for rep in range(reps + 1):             # (the first round warms up)
                for name in (list(libs) if rep % 2 == 0 else list(libs)[::-1]):
                    t = fns[name]()
                    if rep:
                        best[name] = min(best[name], t)
            line = f"  {op:<9} n={n:<3}" + "".join(f"  {k} {v * 1e6:8.1f} us"
                                                    for k, v in best.items())
            if "torch" in best:
                line += f"   tapegrad/torch {best['tapegrad'] / best['torch']:.2f}x"
            print(line)


if __name__ == "__main__":
    main()
