"""Cache misses of the MLP backward after dropped graphs (issue #8's cliff), simulated.

    python benchmarks/cache_sim.py [CASE ...]      # CASE: K0, no_grad, no_grad_2x, dropped

On the shared machine a backward after tens of milliseconds of anything, a sleep included,
runs on caches other tenants have filled (a K=0 backward after `time.sleep(0.04)` takes 2-4x
its time), so its wall time says little about what the recorded loop itself left in the
caches.  valgrind's callgrind simulates them deterministically: one child process per case
makes the case's evaluations (workloads.dropped_then_loss, the MLP 2-16-16-1) and then its
backward through `operator.call`, the only C function whose events are collected, so the
figures are the backward's alone: instructions, and misses of a simulated L2 (4 MB, 16-way,
as a core of the Xeon these figures come from) with its L1s.  The cases: K=0, the 1000
evaluations under no_grad (compare_tape.py's control), 2000 of them (as long as the recorded
loop), and the 1000 graphs dropped after `.item()`.

Numba's cache is keyed by the CPU, and valgrind's has none of AVX-512: the kernels are
compiled natively for a generic CPU first (NUMBA_CPU_NAME=generic, a cache directory of this
script's own), so the child under valgrind loads them.  Each case takes a few minutes.
"""
import operator
import os
import re
import subprocess
import sys
import tempfile

import workloads as W

CASES = {"K0": (0, True), "no_grad": (W.DROPPED, False), "no_grad_2x": (2 * W.DROPPED, False),
         "dropped": (W.DROPPED, True)}
CACHES = ["--D1=49152,12,64", "--I1=32768,8,64", "--LL=4194304,16,64"]
ENV = {"NUMBA_CPU_NAME": "generic",
       "TAPEGRAD_CACHE_DIR": os.path.join(tempfile.gettempdir(), "tapegrad-cache-sim")}


def child(case):
    """Warm up (K=0 and the case once), then the case with its backward under operator.call;
    returns the parameters (their .grad: that backward's)."""
    import gc
    mod = W.tapegrad
    params, X, Y = W.mlp(mod)
    gc.disable()   # (as compare_tape.py times it)
    try:
        for c in ("K0", case):
            W.dropped_then_loss(mod, params, X, Y, *CASES[c]).backward()
            W.clear_grads(params)
        loss = W.dropped_then_loss(mod, params, X, Y, *CASES[case])
        operator.call(loss.backward)
        return params
    finally:
        gc.enable()


def simulate(case):
    """(instructions, L2 misses, of which instruction lines) of the case's backward."""
    env = {**os.environ, **ENV}
    me = [sys.executable, os.path.abspath(__file__), "--child", case]
    subprocess.run(me, env=env, check=True)   # (native: compiles the generic kernels once)
    out = subprocess.run(["valgrind", "--tool=callgrind", "--cache-sim=yes",
                          "--collect-atstart=no", "--toggle-collect=_operator_call",
                          "--callgrind-out-file=/dev/null", *CACHES, *me],
                         env=env, capture_output=True, text=True, check=True).stderr

    def count(label):
        return int(re.search(label + r":\s+([\d,]+)", out).group(1).replace(",", ""))
    return count("I   refs"), count("LL misses"), count("LLi misses")


def main(cases):
    print(f"MLP 2-16-16-1 backward, callgrind cache simulation ({', '.join(CACHES)})")
    for case in cases:
        ir, ll, lli = simulate(case)
        print(f"  {case:<11} {ir:9,} instructions  {ll:6,} L2 misses ({lli:,} instruction lines)",
              flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        main(sys.argv[1:] or list(CASES))
