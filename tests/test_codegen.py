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


def test_same_value_is_called_with_float64_operands_only():
    """Every kernel calls the guards' `same_value` with float64 values (a float32 arena's read
    through np.float64: Numba's float() of a float32 is a float32; `imm` is float64), so
    Numba compiles it for one signature whatever the arena: the n-d forwards of a float32
    replay compiled it twice, (float32, float64) for a one-element guard and (float32,
    float32) for an n-d one."""
    with open(codegen.TARGET) as f:
        calls = re.findall(r"(?<!def )\bsame_value\(([^,]+), ([^,]+),", f.read())
    assert len(calls) >= 5
    for x, y in calls:
        assert re.fullmatch(r"np\.float64\(vals\[.+\]\)", x), (x, y)
        assert re.fullmatch(r"np\.float64\(vals\[.+\]\)|imm\[e\]", y), (x, y)
