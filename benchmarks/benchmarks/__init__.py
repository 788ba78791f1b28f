"""asv suite for tapegrad (see ../README.md).  The shared workloads live in ../workloads.py."""
import os
import sys

_BENCH_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _BENCH_ROOT not in sys.path:
    sys.path.insert(0, _BENCH_ROOT)
