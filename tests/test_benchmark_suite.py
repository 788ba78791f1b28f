"""The asv suite imports as asv imports it (the package `benchmarks` under benchmarks/), and
defines benchmarks asv recognises.  Timings are not checked here."""
import importlib
import importlib.util
import os
import pkgutil
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
PREFIXES = ("time_", "track_", "mem_", "peakmem_", "timeraw_")


def suite_modules():
    return [m.name for m in pkgutil.iter_modules([os.path.join(ROOT, "benchmarks")])
            if m.name.startswith("bench_")]


@pytest.mark.parametrize("name", suite_modules())
def test_asv_module_imports_as_a_package(name, monkeypatch):
    monkeypatch.syspath_prepend(ROOT)
    for key in [k for k in sys.modules if k == "benchmarks" or k.startswith("benchmarks.")]:
        monkeypatch.delitem(sys.modules, key)
    module = importlib.import_module(f"benchmarks.{name}")
    found = [name for name, obj in vars(module).items()             # module-level functions
             if callable(obj) and name.startswith(PREFIXES)]
    found += [attr for cls in vars(module).values() if isinstance(cls, type)
              for attr in dir(cls) if attr.startswith(PREFIXES)]
    assert found, f"{name} defines no benchmark"


def test_the_suite_has_every_module():
    assert {"bench_scalar", "bench_mlp", "bench_startup", "bench_replay",
            "bench_higher", "bench_eager_nd", "bench_tape"} <= set(suite_modules())



def test_cache_sim_child_runs_each_case(monkeypatch):
    # (natively: what cache_sim.py runs under valgrind; the backward reaches every parameter)
    monkeypatch.syspath_prepend(ROOT)
    import cache_sim
    for case in cache_sim.CASES:
        params = cache_sim.child(case)
        assert all(p.grad is not None and p.grad.shape == p.shape for p in params)

@pytest.mark.slow   # (a whole benchmark script in a subprocess: slow)
def test_compare_tape_quick_runs_every_target():
    """compare_tape.py --quick (a smoke run, ~10 s) reaches its 'Done when' table: every
    workload of issue #8 runs on this tapegrad (and torch, when installed) without error."""
    import tapegrad
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(tapegrad.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "compare_tape.py"), "--quick"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0
    assert "Traceback" not in out.stderr, out.stderr
    assert f"({os.path.join(src, 'tapegrad')})" in out.stdout     # this tapegrad, not another
    table = out.stdout.split("issue #8 'Done when'")[1]
    rows = [line for line in table.splitlines() if line.rstrip().endswith(("PASS", "FAIL"))]
    has_torch = importlib.util.find_spec("torch") is not None
    assert len(rows) == (21 if has_torch else 3), table   # no section dropped silently


def test_compare_replay_times_the_batch_kernel_it_calls(capsys, monkeypatch):
    """compare_replay.py section 4 times value_and_grad_batch's kernel by wrapping
    replay.run_parts: the wrapper takes whatever replay passes it (it once lost the
    `threads` keyword, and the section died)."""
    import numpy as np
    import tapegrad as tg
    monkeypatch.syspath_prepend(ROOT)
    import compare_replay
    tape = tg.record(lambda a: (a * a).sin(), tg.tensor(0.5))
    compare_replay.serial_part(tape, (np.linspace(0.0, 1.0, 64),), calls=3)
    assert "serial part per call on 1 thread" in capsys.readouterr().out


def test_compare_ops_cases_run_on_tapegrad(capsys, monkeypatch):
    """compare_ops.py's ops and models run on tapegrad (torch absent or not: the sections
    time tapegrad alone then), each case once: a case an API change breaks fails here, not
    minutes into a benchmark run."""
    import tapegrad as tg
    monkeypatch.syspath_prepend(ROOT)
    import compare_ops
    libs = {"tapegrad": tg}
    best = compare_ops.ops(libs, samples=1)
    assert len(best) > 50 and all(t["tapegrad"] > 0 for t in best.values())
    compare_ops.table("ops", best, libs, "us", 1e6)
    import math
    import workloads
    for name in workloads.MODEL_NAMES:
        step = workloads.model_step(tg, name)
        first, second = step(), step()     # (the second: after Adam moved the parameters)
        assert math.isfinite(first) and math.isfinite(second) and first != second, name
    assert "ops" in capsys.readouterr().out


def test_compare_functions_cases_run_and_agree_with_torch(monkeypatch):
    """compare_functions.py's custom Functions run on tapegrad, each step once, and (torch
    installed) give torch's gradients: a case an API change breaks fails here."""
    import numpy as np
    import tapegrad as tg
    monkeypatch.syspath_prepend(ROOT)
    import compare_functions
    libs = {"tapegrad": tg}
    if importlib.util.find_spec("torch") is not None:
        import torch
        libs["torch"] = torch
    grads = {}
    for lib, mod in libs.items():
        fns = compare_functions.functions(mod)
        for name, shape in compare_functions.CASES:
            forward, step, xs = compare_functions.case(mod, fns, name, shape)
            forward()
            step()
            grads[lib, name, shape] = [x.grad.numpy().copy() for x in xs]
    for (lib, name, shape), got in grads.items():
        if lib == "torch":
            for a, b in zip(grads["tapegrad", name, shape], got):
                np.testing.assert_allclose(a, b, rtol=1e-5, err_msg=f"{name} {shape}")
