"""The installed package holds every subpackage of the checkout: `pip install .` then
`import tapegrad` elsewhere must not miss tapegrad.nn, tapegrad.optim, ... (a hand-written
package list once left them out); and CI runs the README's test command, not another."""
import os
import re
import tomllib

from setuptools import find_packages

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_subpackage_is_installed():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        conf = tomllib.load(f)["tool"]["setuptools"]
    found = set(find_packages(ROOT, include=["tapegrad", "tapegrad.*"]))
    installed = set(find_packages(ROOT, **conf["packages"]["find"]))
    assert {"tapegrad.nn", "tapegrad.optim", "tapegrad.nn.modules"} <= found
    assert installed == found


def _commands(text):
    """The `pip install ...` command lines of a text (indented code in the README)."""
    return [line.strip() for line in text.splitlines() if re.match(r"\s*(python -m )?pip install", line)]


def test_ci_runs_the_readme_test_command():
    # the brief: README states the two commands; .ci/run runs exactly the test one
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = _commands(f.read())
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        ci = _commands(f.read())
    test_commands = [c for c in readme if '".[test]"' in c and "pytest" in c]
    assert len(test_commands) == 1 and len(ci) == 1
    assert re.sub(r"^python -m pip", "pip", ci[0]) == test_commands[0]
