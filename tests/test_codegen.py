"""The generated kernels and fast path are current with the op table."""
import re

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


def test_rows_own_branches_come_before_the_shared_core_loops():
    """In each elementwise piece a row's own branch (tanh's vectorizable float32 forward, add's
    bias rows) precedes the core rows' shared loops, which would otherwise take the row first:
    tanh's own loop was unreachable behind the shared one (a float32 replay's tanh ~5x
    slower)."""
    pieces = codegen._op_pieces(codegen._elementwise_branches())
    checked = 0
    for (face, kind), (fn, _, source, _) in pieces.items():
        heads = re.findall(r"(?m)^    elif (.*):", source)
        shared = [i for i, h in enumerate(heads) if h.startswith("OP_CORE[o] != 0")]
        own = [i for i, h in enumerate(heads) if h.startswith("o == ")]
        if shared and own:
            assert max(own) < min(shared), (fn, heads)
            checked += 1
    assert checked >= 2    # (forward_unary_rows: tanh; forward_binary_rows: add)
