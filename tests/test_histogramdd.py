"""torch.histogramdd (tapegrad/searching.py): counts against numpy.histogramdd, weights, density,
edges given as tensors, torch's errors and non-differentiable nodes; the same program against
torch where it is installed (histogram, its 1-d case, shares the code)."""
import numpy as np
import pytest

import tapegrad as tg



def _program(m):
    def show(r):
        return (r.hist.tolist(), str(r.hist.dtype).split(".")[-1],
                [e.tolist() for e in r.bin_edges], type(r).__name__)
    x = m.tensor([[0., 1.], [1., 0.], [2., 0.], [2., 2.], [0.5, 1.5]])
    out = [show(m.histogramdd(x, bins=[3, 3], weight=m.tensor([1., 2., 4., 8., 1.]))),
           show(m.histogramdd(x, bins=2, range=[0., 1., 0., 1.], density=True)),
           show(m.histogramdd(x, bins=[m.tensor([0., 1., 2.5]), m.tensor([0., 2.])])),
           show(m.histogramdd(x, bins=(2, 3))),
           show(m.histogramdd(m.zeros(0, 2), bins=2)),
           show(m.histogramdd(m.tensor([[1.0, 1.0]], dtype=m.float64), bins=2)),
           show(m.histogramdd(m.arange(36.0).reshape(3, 4, 3) % 7, bins=[2, 3, 1],
                              weight=m.ones(3, 4))),
           show(m.histogram(m.tensor([1., 2., 1., 4.]), bins=3, density=True)),
           show(m.histogram(m.tensor([1., 2., 1., 4.]), bins=m.tensor([0., 2., 5.]),
                            weight=m.tensor([1., 2., 3., 4.])))]
    for bad in [dict(bins=[2]), dict(bins=[2, 2], range=[0., 1.]), dict(bins=0),
                dict(bins=[2, 2], weight=m.ones(4)), dict(bins=[m.ones(2, 2), m.ones(2)]),
                dict(bins=[2, 0]), dict(bins=2, range=[1., 0., 0., 1.]),
                dict(bins=[m.ones(2), m.ones(2, dtype=m.float64)]),
                dict(bins=[2, 2, 2], range=[0., 1.])]:
        try:
            m.histogramdd(x, **bad)
            out.append("no error")
        except RuntimeError as e:
            out.append(str(e))
    for args in [(x.long(), 2), (m.ones(3), 2)]:
        try:
            m.histogramdd(*args)
        except (RuntimeError, NotImplementedError) as e:
            out.append((type(e).__name__, str(e)))
    x2 = (m.arange(24.0).reshape(3, 4, 2) / 24).requires_grad_()
    for bins in (2, [m.tensor([0., 1.]), m.tensor([0., .5, 1.])]):
        h = m.histogramdd(x2, bins=bins)
        out.append((h.hist.requires_grad, [e.requires_grad for e in h.bin_edges]))
        with pytest.raises(RuntimeError, match="derivative for aten::_histogramdd_from_bin"):
            h.hist.sum().backward()
    return out


def test_counts_as_numpy():
    rng = np.random.default_rng(0)
    pts = rng.standard_normal((500, 3))
    w = rng.random(500)
    for bins, rng_ in [((4, 5, 2), None), ((3, 3, 3), [-1, 1, -2, 2, 0, 1])]:
        got = tg.histogramdd(tg.tensor(pts), bins=list(bins), range=rng_, weight=tg.tensor(w),
                             density=True)
        want, edges = np.histogramdd(pts, bins=bins, weights=w, density=True,
                                     range=None if rng_ is None else np.reshape(rng_, (3, 2)))
        np.testing.assert_allclose(got.hist.numpy(), want, rtol=1e-12)
        for a, b in zip(got.bin_edges, edges):
            np.testing.assert_allclose(a.numpy(), b, rtol=1e-12)


def test_histogramdd_as_torch():
    got = _program(tg)
    assert got[0][0] == [[0.0, 1.0, 1.0], [2.0, 0.0, 0.0], [4.0, 0.0, 8.0]]
    torch = pytest.importorskip("torch")
    assert got == _program(torch)
