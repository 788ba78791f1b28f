"""`python -m tapegrad`: help, the scalar-loop comparison, and `bench`."""
import pytest

import tapegrad
from tapegrad import demo
from tapegrad import __main__ as cli
import fresh


def test_help_lists_the_choices_and_runs_nothing():
    out = fresh.run_module("tapegrad", "--help").stdout
    assert "{tutorial,bench}" in out and "--quick" in out
    assert "======== " not in out


def test_unknown_command_is_an_argparse_error():
    r = fresh.run_module("tapegrad", "nope", check=False)
    assert r.returncode == 2 and "invalid choice: 'nope'" in r.stderr


def test_scalar_loop_gradient_matches_closed_form():
    results = demo.compare(n=300, reps=1, libs={"tapegrad": tapegrad})
    rec, bwd, grad = results["tapegrad"]
    assert rec > 0 and bwd > 0
    assert grad == pytest.approx(demo.exact_grad(300), rel=1e-6)
    text = demo.report(results, 300)
    assert "pip install torch" in text and "torch / tapegrad" not in text


def test_side_by_side_with_torch():
    torch = pytest.importorskip("torch")
    results = demo.compare(n=200, reps=1, libs={"tapegrad": tapegrad, "torch": torch})
    assert results["torch"][2] == pytest.approx(results["tapegrad"][2], rel=1e-4)
    lines = demo.report(results, 200).splitlines()
    assert lines[-1].startswith("torch / tapegrad") and lines[-1].count("x") == 2


def test_bench_without_a_checkout_says_how_to_run_it(monkeypatch, capsys):
    monkeypatch.setattr(cli, "find_compare", lambda: None)
    assert cli.main(["bench"]) == 0
    assert "python benchmarks/compare.py" in capsys.readouterr().out


def test_bench_finds_the_checkouts_script():
    path = cli.find_compare()
    assert path is not None and path.endswith("benchmarks/compare.py")
