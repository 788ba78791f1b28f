"""The asv configurations: `asv.conf.json` builds and installs each commit into a virtualenv
(asv run A..B, asv continuous), `asv.existing.json` runs against the work tree.  `asv check`
imports the suite as asv does and checks every benchmark's signature."""
import json
import os
import re
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def config(name):
    with open(os.path.join(BENCH, name)) as f:
        text = f.read()
    return json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))


def test_history_config_installs_each_commit():
    conf = config("asv.conf.json")
    assert conf["environment_type"] == "virtualenv"
    assert conf["repo"] == ".." and conf["branches"] == ["main"]
    assert any("{build_dir}" in c for c in conf["build_command"])
    assert any("{wheel_file}" in c for c in conf["install_command"])
    assert conf["benchmark_dir"] == "benchmarks"


def test_existing_config_builds_nothing():
    conf = config("asv.existing.json")
    assert conf["environment_type"] == "existing"
    assert conf["build_command"] == conf["install_command"] == []


@pytest.mark.parametrize("name", ["asv.conf.json", "asv.existing.json"])
def test_asv_check(name, tmp_path):
    pytest.importorskip("asv")
    r = subprocess.run([sys.executable, "-m", "asv", "check", "--config", name, "--python=same"],
                       cwd=BENCH, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "HOME": str(tmp_path)})
    assert r.returncode == 0 and "No problems found" in r.stdout, r.stdout + r.stderr
