"""index_put_ / index_put against torch 2.13 where several errors apply: torch reports the
arguments' types, too many indices, the masked_fill_ dispatch of a lone mask with a
one-element value (its mask-shape check; the value read as a number: no dtype or overlap
check), the overlap of self with the values and the indices, the index dtypes, mask shapes
and broadcast, an integer index into an empty dim, the value's shape, its dtype, and the
index range last (only where the result has elements).  Differential: skipped without torch.
"""
import itertools
import warnings

import pytest

import tapegrad

SELVES = ["a = m.arange(6.)", "a = m.arange(6.).view(2, 3)", "a = m.arange(6., dtype=m.float64)",
          "a = m.arange(6).view(3, 2)", "a = m.zeros(2, 0)", "a = m.zeros(0, 3)"]
INDICES = [
    "(m.tensor([0, 1]),)", "(m.tensor([0, 9]),)", "(m.tensor([0, -9]),)",
    "(m.tensor([0, 1], dtype=m.int32),)", "(m.tensor([True, False, True, False, False, False]),)",
    "(m.tensor([True, False]),)", "(m.tensor([0., 1.]),)", "(m.tensor([0]), m.tensor([1]))",
    "(m.tensor([0]), m.tensor([7]))", "(m.tensor([0, 1]), m.tensor([0, 1, 2]))",
    "(m.tensor([0, 1]), m.tensor([0, 1]), m.tensor([0]))", "(m.tensor(9),)",
    "(m.tensor([[0], [1]]),)", "(m.tensor([0., 1.]), m.tensor([0]))",
    "(m.tensor([0, 1]), m.tensor([True, False]))", "(m.tensor([[True]] * 6),)",
    "(m.tensor([True, False, True, False, False, False], dtype=m.uint8),)"]
VALUES = [
    "a[4:]", "a.view(-1)[4:]", "a.view(-1)[:3]", "a.view(-1)[0]", "a", "m.tensor([1., 2.])",
    "m.tensor([1., 2., 3.])", "m.tensor(5.)", "m.tensor([1., 2.], dtype=m.float64)",
    "m.tensor([1, 2])", "m.tensor([1., 2., 3.], dtype=m.float64)", "a.view(-1)[3:].double()",
    "a.view(-1)[3:]", "a.view(-1)[:1]", "m.tensor([True])", "m.tensor(1.5, dtype=m.float64)"]


def _outcome(m, src):
    env = {"m": m}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exec(src, env)
        except Exception as e:   # noqa: BLE001  (compared as torch's)
            return type(e).__name__, str(e).replace("tapegrad", "torch")
    return "ok", env["a"].tolist()


@pytest.mark.parametrize("form", ["a.index_put_({i}, {v}, accumulate={acc})",
                                  "a = a.index_put({i}, {v}, accumulate={acc})"])
@pytest.mark.parametrize("self_", SELVES)
def test_index_put_error_order_as_torch(torch_ref, self_, form):
    differ = []
    for i, v, acc in itertools.product(INDICES, VALUES, (False, True)):
        src = f"{self_}; " + form.format(i=i, v=v, acc=acc)
        got, want = _outcome(tapegrad, src), _outcome(torch_ref, src)
        if got != want:
            differ.append((src, got, want))
    assert not differ, f"{len(differ)} cases differ, the first: {differ[0]}"


def test_index_put_lone_mask_fill_reads_the_value_as_a_number():
    # (torch's masked_fill_ dispatch: a value of another dtype is cast, as a number)
    a = tapegrad.arange(6.)
    v = tapegrad.tensor(2.5, dtype=tapegrad.float64, requires_grad=True)
    out = a.index_put((tapegrad.tensor([True, False, True, False, False, False]),), v)
    assert out.dtype is tapegrad.float32
    assert out.tolist() == [2.5, 1.0, 2.5, 3.0, 4.0, 5.0]
    out.sum().backward()
    assert v.grad.dtype is tapegrad.float64 and v.grad.item() == 2.0
