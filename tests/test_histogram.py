"""torch.histogram / Tensor.histogram against torch: counts (weighted, density) and bin edges
(torch's linspace, bit for bit) for bin counts, ranges and edge tensors on random data, the
empty and one-value cases, the NotImplemented node of an input that requires grad, and
torch's errors."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")


def _hist(m, X, dtype, bins, kw, weight):
    k = dict(kw)
    if weight is not None:
        k["weight"] = m.tensor(weight, dtype=getattr(m, dtype))
    b = bins if isinstance(bins, int) else m.tensor(bins, dtype=getattr(m, dtype))
    h = m.histogram(m.tensor(X, dtype=getattr(m, dtype)), b, **k)
    return h.hist.numpy(), h.bin_edges.numpy(), type(h).__name__


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_as_torch(dtype):
    rng = np.random.default_rng(0 if dtype == "float32" else 1)
    for trial in range(120):
        n = int(rng.integers(0, 40))
        X = np.round(rng.normal(size=n) * 3, int(rng.integers(0, 3)))
        bins = int(rng.integers(1, 9)) if trial % 4 else np.sort(np.round(rng.normal(size=4) * 3, 1))
        kw = {}
        if trial % 3 == 0 and isinstance(bins, int):
            low = float(rng.normal())
            kw["range"] = (low, low + 3.0)
        if trial % 7 == 0:
            kw["density"] = True
        weight = np.linspace(0.5, 2, n) if trial % 5 == 0 else None
        ours, theirs = _hist(tg, X, dtype, bins, kw, weight), _hist(torch, X, dtype, bins, kw,
                                                                    weight)
        np.testing.assert_array_equal(ours[1], theirs[1])
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6, equal_nan=True)
        assert ours[0].dtype == theirs[0].dtype and ours[2] == theirs[2]


def test_special_cases_as_torch():
    for X, bins, kw in (([2.0, 2.0], 4, {}), ([], 3, {}), ([1.0, 2.0], 2, {"range": (1.0, 1.0)}),
                        ([5.0, 6.0], 2, {"range": (0.0, 1.0), "density": True}),
                        ([[1.0, 2.0], [3.0, 4.0]], 2, {})):
        ours, theirs = _hist(tg, X, "float32", bins, kw, None), _hist(torch, X, "float32", bins,
                                                                     kw, None)
        np.testing.assert_array_equal(ours[1], theirs[1])
        np.testing.assert_allclose(ours[0], theirs[0], equal_nan=True)
    for m in (torch, tg):
        x = m.tensor([1.0, 2.0, 2.5], requires_grad=True)
        h = x.histogram(2)
        assert type(h.hist.grad_fn).__name__ == "NotImplemented"
        assert type(h.bin_edges.grad_fn).__name__ == "NotImplemented"


ERRORS = [lambda m: m.histogram(m.tensor([1.0, 2.0]), 2, range=(3.0, 1.0)),
          lambda m: m.histogram(m.tensor([1.0, float("inf")]), 2),
          lambda m: m.histogram(m.tensor([1.0, 2.0]), 0),
          lambda m: m.histogram(m.tensor([1, 2]), 2),
          lambda m: m.histogram(m.tensor([1.0, 2.0]), m.tensor([[0.0, 1.0]])),
          lambda m: m.histogram(m.tensor([1.0, 2.0]), 2, weight=m.ones(3)),
          lambda m: m.histogram(m.tensor([1.0, 2.0], dtype=m.float64), m.tensor([0.0, 3.0]))]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_as_torch(i):
    assert_same_error(ERRORS[i], torch)


def test_edges_with_a_range_refused_as_torch():
    for m in (torch, tg):
        with pytest.raises(TypeError, match="invalid combination of arguments"):
            m.histogram(m.tensor([1.0]), m.tensor([0.0, 2.0]), range=(0.0, 1.0))
