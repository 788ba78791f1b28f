"""Per-kernel cold-compile profile: what each first use compiles, and how long each kernel takes.

    python benchmarks/cold_profile.py [case ...] [--top N] [--json FILE]

Each case runs in a fresh interpreter whose Numba cache (NUMBA_CACHE_DIR and
TAPEGRAD_CACHE_DIR) is an empty temporary directory, so every kernel the case reaches is
compiled there.  Numba's event API (numba.core.event) records every "numba:compile" (one per
dispatcher and signature) and every "numba:run_pass" inside it.  A kernel that calls another
compiles the callee while it types itself: the table gives each compile's *self* time
(nested compiles subtracted), split into typing (the type-inference passes), lowering (the
lowering/LLVM passes) and the rest, in wall and CPU seconds (`time.process_time`: the
machine is shared, CPU time is the steadier figure).  A kernel compiled more than once
(several signatures) shows its count: each extra signature is a whole second compile.

Cases (the n-d ones run after the 0-d one in the same process, as workloads.cold_compile;
"replay_nd" alone is the first replay when it is an n-d one):
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads as W  # noqa: E402

_RECORDER = r'''
import time, sys, json
from numba.core import event as _ev

class _Prof(_ev.Listener):
    """Stack of open compile/pass events; on each end, inclusive and self times."""
    def __init__(self):
        self.stack, self.rows = [], []
    def on_start(self, event):
        self.stack.append([event.kind, event.data, time.perf_counter(), time.process_time(),
                           0.0, 0.0, {}])
    def on_end(self, event):
        kind, data, t0, c0, cw, cc, passes = self.stack.pop()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if kind == "numba:compile":
            d = data["dispatcher"]
            name = d.py_func.__name__
            self.rows.append(dict(name=name, args=str(data["args"]), wall=wall, cpu=cpu,
                                  self_wall=wall - cw, self_cpu=cpu - cc, passes=passes,
                                  case=_CASE[0]))
        elif kind == "numba:run_pass":
            # attribute the pass's self time to the nearest enclosing compile
            pname = data["name"].split(" [", 1)[0]
            for fr in reversed(self.stack):
                if fr[0] == "numba:compile":
                    p = fr[6].setdefault(pname, [0.0, 0.0])
                    p[0] += wall - cw
                    p[1] += cpu - cc
                    break
        if kind == "numba:compile":
            # a nested compile's time is not its callers' self time: take it off every
            # open frame up to (and including) the enclosing compile
            for fr in reversed(self.stack):
                fr[4] += wall
                fr[5] += cpu
                if fr[0] == "numba:compile":
                    break
_CASE = ["import"]
_P = _Prof()
for _k in ("numba:compile", "numba:run_pass"):
    _ev.register(_k, _P)
import tapegrad
times = []
'''

# each case: (label of the timed step, code).  The code appends to `times`; the recorder
# tags compiles with the current label.
CASES = {
    "backward": [("backward 0-d", W._COLD["backward"].split("x = tapegrad.ones")[0]),
                 ("backward n-d", "x = tapegrad.ones" + W._COLD["backward"].split("x = tapegrad.ones")[1])],
    "replay": [("replay 0-d", W._COLD["replay"].split("g = lambda")[0]),
               ("replay n-d", "g = lambda" + W._COLD["replay"].split("g = lambda")[1])],
    "replay_nd": [("replay n-d first", "g = lambda" + W._COLD["replay"].split("g = lambda")[1])],
    "create_graph": [("create_graph 0-d", W._COLD["create_graph"].split("x = tapegrad.ones")[0]),
                     ("create_graph n-d", "x = tapegrad.ones"
                      + W._COLD["create_graph"].split("x = tapegrad.ones")[1])],
}
__doc__ += "".join(f"  {k:<13} {', '.join(l for l, _ in v)}\n" for k, v in CASES.items())


def _script(case):
    parts = [_RECORDER]
    for label, code in CASES[case]:
        parts.append(f"_CASE[0] = {label!r}\n_c = time.process_time()\n{code}\n"
                     f"times.append(({label!r}, times.pop(), time.process_time() - _c))\n")
    parts.append("print('@@' + json.dumps(dict(times=times, rows=_P.rows)))\n")
    return "".join(parts)


def run(case):
    """{"times": [(label, wall s, cpu s)], "rows": [compile records]} of `case`, measured in a
    fresh interpreter with an empty Numba cache."""
    import tapegrad
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(tapegrad.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="tapegrad-numba-") as cache:
        env["NUMBA_CACHE_DIR"] = env["TAPEGRAD_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, "-c", _script(case)], env=env, check=True,
                             capture_output=True, text=True, timeout=900).stdout
    return json.loads(out.split("@@", 1)[1])


_TYPING = ("nopython_type_inference", "partial_type_inference")
_LOWERING = ("native_lowering", "nopython_backend", "cpython_wrapper", "NativeLowering")


def table(result, top=25):
    """The per-kernel table of one run(), as text."""
    lines = []
    for label, wall, cpu in result["times"]:
        rows = [r for r in result["rows"] if r["case"] == label]
        lines.append(f"\n{label}: {wall:.2f} s wall, {cpu:.2f} s CPU, "
                     f"{len(rows)} compiles")
        agg = {}
        for r in rows:
            a = agg.setdefault(r["name"], dict(n=0, wall=0.0, cpu=0.0, typing=0.0,
                                               lowering=0.0, other=0.0))
            a["n"] += 1
            a["wall"] += r["self_wall"]
            a["cpu"] += r["self_cpu"]
            for p, (_, pc) in r["passes"].items():
                key = ("typing" if p in _TYPING else "lowering" if p in _LOWERING else "other")
                a[key] += pc
        lines.append(f"  {'kernel':<28} {'n':>2} {'wall':>6} {'cpu':>6} {'typing':>7} "
                     f"{'lower':>6} {'other':>6}")
        order = sorted(agg.items(), key=lambda kv: -kv[1]["cpu"])
        for name, a in order[:top]:
            lines.append(f"  {name[:28]:<28} {a['n']:>2} {a['wall']:6.2f} {a['cpu']:6.2f} "
                         f"{a['typing']:7.2f} {a['lowering']:6.2f} {a['other']:6.2f}")
        rest = order[top:]
        if rest:
            lines.append(f"  {'(%d more)' % len(rest):<28} {sum(a['n'] for _, a in rest):>2} "
                         f"{sum(a['wall'] for _, a in rest):6.2f} "
                         f"{sum(a['cpu'] for _, a in rest):6.2f}")
        tot = [sum(a[k] for a in agg.values()) for k in ("wall", "cpu", "typing", "lowering",
                                                          "other")]
        lines.append(f"  {'total compiles':<28} {len(rows):>2} {tot[0]:6.2f} {tot[1]:6.2f} "
                     f"{tot[2]:7.2f} {tot[3]:6.2f} {tot[4]:6.2f}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", default=list(CASES), choices=list(CASES) + [[]])
    ap.add_argument("--top", type=int, default=25, help="kernels listed per step")
    ap.add_argument("--json", help="also write the raw records to this file")
    args = ap.parse_args()
    raw = {}
    for case in args.cases or list(CASES):
        raw[case] = run(case)
        print(f"== {case}" + table(raw[case], args.top), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
