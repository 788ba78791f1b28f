"""docs/ops.md lists the op table as generated from tapegrad/ops.py (run
`python -m tapegrad.optable` after changing the table)."""
from tapegrad import optable
from tapegrad.ops import BY_CODE


def test_ops_doc_is_current():
    with open(optable.TARGET) as f:
        assert f.read() == optable.render(), "stale docs/ops.md: run python -m tapegrad.optable"


def test_every_row_has_a_torch_name():
    assert not [op.name for op in BY_CODE if optable.torch_name(op) == "(internal)"]
