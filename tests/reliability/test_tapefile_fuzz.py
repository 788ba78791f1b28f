"""Tape files are untrusted input: a fuzz loop over mutated tape files (damaged bytes, crafted
streams, params and headers) in a subprocess, so that a crash fails this test instead of
killing the run.  See tapefile_fuzz_worker.py for what each outcome must be."""
import json
import os
import subprocess
import sys

import tapegrad

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tapegrad.__file__)))


def test_mutated_tape_files_are_refused_or_replay_safely(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    # 4 s of mutants after the corpus is recorded (kernels come from Numba's cache, or compile once)
    proc = subprocess.run([sys.executable, os.path.join(HERE, "tapefile_fuzz_worker.py"), "20261130",
                           "4", str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=900)
    tail = "\n".join(proc.stderr.splitlines()[-25:])
    assert proc.returncode == 0, f"fuzz worker exited with {proc.returncode}:\n{tail}"
    counts = json.loads(proc.stdout.splitlines()[-1])
    # the loop did real work: many mutants, both refused and accepted ones
    assert counts["cases"] >= 200, counts
    assert counts["refused"] >= 100 and counts["replayed"] + counts["identical"] >= 10, counts
