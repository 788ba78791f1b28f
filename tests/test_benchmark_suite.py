"""The asv suite imports as asv imports it (the package `benchmarks` under benchmarks/), and
defines benchmarks asv recognises.  Timings are not checked here."""
import importlib
import os
import pkgutil
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
            "bench_higher", "bench_eager_nd"} <= set(suite_modules())
