"""The generated kernels and fast path are current with the op table."""
from tapegrad import codegen


def test_kernels_current():
    with open(codegen.TARGET) as f:
        assert f.read() == codegen.generate(), "run `python tapegrad/codegen.py`"


def test_fastpath_current():
    with open(codegen.FAST_TARGET) as f:
        assert f.read() == codegen.generate_fastpath(), "run `python tapegrad/codegen.py`"


def test_push_current():
    with open(codegen.PUSH_TARGET) as f:
        assert f.read() == codegen.generate_push(), "run `python tapegrad/codegen.py`"


def test_vecspecial_current():
    with open(codegen.VEC_TARGET) as f:
        assert f.read() == codegen.generate_vec(), "run `python tapegrad/codegen.py`"
