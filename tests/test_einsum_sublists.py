"""einsum's sublist form (torch.einsum(op, [0, 1], op, [1, 2], [0, 2])) and bool operands,
against torch."""
import numpy as np
import pytest

import tapegrad as tg


def _einsum_sublists(m):
    def run(f):
        try:
            return f().tolist()
        except ValueError as e:
            return str(e)
    a = m.arange(6.0).reshape(2, 3)
    b = m.arange(12.0).reshape(3, 4)
    return [run(f) for f in [lambda: m.einsum(a, [0, 1], b, [1, 2], [0, 2]),
                             lambda: m.einsum(a, [0, 1], b, [1, 2]), lambda: m.einsum(a, [0, 1], [1]),
                             lambda: m.einsum(a, [Ellipsis, 1], [Ellipsis]),
                             lambda: m.einsum(a, [27, 30], [30, 27]), lambda: m.einsum(a, [0, 60])]]


def test_einsum_sublist_form():
    got = _einsum_sublists(tg)
    assert got[0] == (np.arange(6.0).reshape(2, 3) @ np.arange(12.0).reshape(3, 4)).tolist()
    assert got[2] == [3.0, 5.0, 7.0]
    torch = pytest.importorskip("torch")
    assert got == _einsum_sublists(torch)


def _einsum_bools(m):
    b1, b2 = m.tensor([True, False]), m.tensor([True, True])
    B = m.tensor([[True, False], [True, True]])
    out = []
    for eq, ops in [("i,i->i", (b1, b2)), ("i,i->", (b1, b2)), ("ij,jk->ik", (B, B)),
                    ("ij->j", (B,)), ("i,j->ij", (b1, b2)), ("ij,j->ij", (B, b1))]:
        try:
            out.append(m.einsum(eq, *ops).tolist())
        except NotImplementedError as e:
            out.append(str(e))
    return out


def test_einsum_of_bools():
    # torch multiplies bools where nothing is summed; its bmm has no bool kernel
    got = _einsum_bools(tg)
    assert got[0] == [True, False] and got[4] == [[True, True], [False, False]]
    assert got[1] == got[2] == "\"bmm\" not implemented for 'Bool'"
    torch = pytest.importorskip("torch")
    assert got == _einsum_bools(torch)


def test_einsum_without_operands_as_torch():
    """torch.einsum's own check comes before the equation's parse: ValueError (tapegrad's
    was the parse's RuntimeError, or Python's TypeError without arguments)."""
    torch = pytest.importorskip("torch")
    for args in (("ij",), ("ij", []), ("ij", ()), ()):
        got = []
        for m in (tg, torch):
            with pytest.raises(ValueError) as e:
                m.einsum(*args)
            got.append(str(e.value))
        assert got[0] == got[1]
