"""Differences from torch found by comparing calls one by one (session 58): movedim's
argument forms, ..."""
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")


def _x(m):
    return m.zeros(2, 3, 4)


MOVEDIM = [
    lambda m: _x(m).movedim(0, (1,)),
    lambda m: _x(m).movedim((0,), 1),
    lambda m: m.movedim(_x(m), 0, (1,)),
    lambda m: m.moveaxis(_x(m), (0,), 1),
    lambda m: _x(m).moveaxis(0, [1]),
    lambda m: _x(m).movedim(0.5, 1),
    lambda m: _x(m).movedim(None, 1),
    lambda m: _x(m).movedim(True, 1),
    lambda m: _x(m).movedim(0),
    lambda m: _x(m).movedim(),
    lambda m: m.movedim(_x(m), 0),
    lambda m: _x(m).movedim(0, 1, 2),
    lambda m: _x(m).movedim(source=0, destination=(1,)),
    lambda m: m.movedim(input=_x(m), source=0, destination=(1,)),
    lambda m: m.movedim(_x(m), 0, destination=(1,)),
    lambda m: _x(m).movedim(0, foo=1),
    lambda m: _x(m).movedim(0, 1, foo=2),
    lambda m: _x(m).movedim(0, ()),
    lambda m: _x(m).movedim(m.tensor(1.5), 1),
    lambda m: _x(m).movedim((0, 1.5), (1, 2)),
    lambda m: m.movedim(1, 0, 1),
    lambda m: _x(m).movedim((0, 1), (1,)),
    lambda m: _x(m).movedim(0, 5),
]


@pytest.mark.parametrize("i", range(len(MOVEDIM)))
def test_movedim_argument_errors_as_torch(i):
    assert_same_error(MOVEDIM[i], torch)


@pytest.mark.parametrize("call", [
    lambda m, x: x.movedim(2, 0), lambda m, x: m.moveaxis(x, -1, 0),
    lambda m, x: x.movedim([2, 0], (0, 1)), lambda m, x: x.movedim((m.tensor(2),), (0,)),
    lambda m, x: m.movedim(x, source=1, destination=0), lambda m, x: x.movedim([], ()),
    lambda m, x: x.movedim((0, True), (1, 2))])
def test_movedim_forms_as_torch(call):
    ours, theirs = call(tg, tg.arange(24.0).reshape(2, 3, 4)), call(
        torch, torch.arange(24.0).reshape(2, 3, 4))
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.stride() == theirs.stride()
    assert ours.tolist() == theirs.tolist()
