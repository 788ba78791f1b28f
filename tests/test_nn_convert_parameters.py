"""nn.utils.parameters_to_vector / vector_to_parameters as torch's: each parameter flattened
by view(-1) (a parameter no flat view can describe raises torch's view error rather than
being copied), the vector sliced back by view_as, torch's TypeError naming a non-tensor
vector, and a non-tensor parameter failing where torch's device check reads it."""
import re

import numpy as np
import pytest

import tapegrad as tg

VIEW_ERROR = ("view size is not compatible with input tensor's size and stride (at least one "
              "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")


def _params(mod, case):
    a = mod.arange(12.0).reshape(3, 4)
    return {"transposed": [mod.nn.Parameter(mod.arange(6.0).reshape(2, 3).t())],
            "column slice": [a[:, 1:]],
            "expanded": [mod.ones(3, 1).expand(3, 4)],
            "row slice": [a[:2], mod.nn.Parameter(mod.tensor(2.0))],
            "every other column": [a.t()[:1]]}[case]


CASES = ["transposed", "column slice", "expanded", "row slice", "every other column"]


def _to_vector(mod, case):
    try:
        v = mod.nn.utils.parameters_to_vector(_params(mod, case))
    except Exception as e:      # (the outcome compared: error type and message)
        return type(e).__name__, str(e)
    return v.tolist(), type(v.grad_fn).__name__ if v.grad_fn else None


def test_parameters_that_no_flat_view_describes_raise():
    for case in ("transposed", "column slice", "expanded"):
        with pytest.raises(RuntimeError, match=re.escape(VIEW_ERROR)):
            tg.nn.utils.parameters_to_vector(_params(tg, case))
    assert _to_vector(tg, "row slice") == ([0.0, 1, 2, 3, 4, 5, 6, 7, 2], "CatBackward0")
    assert _to_vector(tg, "every other column") == ([0.0, 4, 8], None)


@pytest.mark.parametrize("case", CASES)
def test_parameters_to_vector_as_torch(case):
    torch = pytest.importorskip("torch")
    assert _to_vector(tg, case) == _to_vector(torch, case)


def _from_vector(mod, vec):
    p, q = mod.nn.Parameter(mod.zeros(2, 3)), mod.nn.Parameter(mod.zeros(2))
    try:
        mod.nn.utils.vector_to_parameters(vec(mod), [p, q])
    except Exception as e:
        return type(e).__name__, str(e)
    return p.tolist(), q.tolist(), p.stride()


VECTORS = {
    "strided": lambda mod: mod.arange(16.0)[::2],
    "2-d": lambda mod: mod.arange(8.0).reshape(4, 2),
    "transposed rows": lambda mod: mod.arange(8.0).reshape(2, 4).t()[0:3],
    "list": lambda mod: [1.0, 2.0],
    "ndarray": lambda mod: np.zeros(8),
    "short": lambda mod: mod.arange(3.0),
}


def test_vector_to_parameters_errors():
    with pytest.raises(TypeError, match="^expected torch.Tensor, but got: numpy.ndarray$"):
        tg.nn.utils.vector_to_parameters(np.zeros(8), [tg.nn.Parameter(tg.zeros(8))])
    with pytest.raises(AttributeError, match="'float' object has no attribute 'device'"):
        tg.nn.utils.vector_to_parameters(tg.ones(2), [1.0])
    with pytest.raises(AttributeError, match="'float' object has no attribute 'device'"):
        tg.nn.utils.parameters_to_vector([1.0])
    assert _from_vector(tg, VECTORS["strided"]) == (
        [[0.0, 2, 4], [6, 8, 10]], [12.0, 14], (6, 2))


@pytest.mark.parametrize("vec", list(VECTORS))
def test_vector_to_parameters_as_torch(vec):
    torch = pytest.importorskip("torch")
    assert _from_vector(tg, VECTORS[vec]) == _from_vector(torch, VECTORS[vec])


def test_vector_too_short_for_the_last_parameter_changes_none(torch_ref):
    """A vector that covers the first parameter but not the second: torch's error, and the
    first parameter keeps its data (torch has set it before the error: tapegrad's failing
    calls change nothing)."""
    def run(mod):
        p, q = mod.nn.Parameter(mod.zeros(2, 3)), mod.nn.Parameter(mod.zeros(2))
        try:
            mod.nn.utils.vector_to_parameters(mod.arange(7.0), [p, q])
        except Exception as e:      # (the outcome compared: error type and message)
            return (type(e).__name__, str(e)), p.tolist(), q.tolist()
    err, p, q = run(tg)
    assert err == run(torch_ref)[0]
    assert p == [[0.0] * 3] * 2 and q == [0.0, 0.0]
