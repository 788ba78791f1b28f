"""The installed package holds every subpackage of the checkout: `pip install .` then
`import tapegrad` elsewhere must not miss tapegrad.nn, tapegrad.optim, ... (a hand-written
package list once left them out)."""
import os
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
