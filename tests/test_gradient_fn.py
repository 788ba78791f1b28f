"""torch.gradient against torch: values, grad_fn and gradients for uniform spacings (a
number, one per dim), coordinate tensors, edge_order 1 and 2, dims, integer input, and
torch's errors."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")


def _run(m, X, dtype, coords, **kw):
    x = m.tensor(X, dtype=getattr(m, dtype), requires_grad=True)
    if coords is not None:
        kw["spacing"] = [m.tensor(c, dtype=getattr(m, dtype)) for c in coords]
    out = m.gradient(x, **kw)
    total = sum((o * (i + 1.5)).sum() for i, o in enumerate(out))
    total.backward()
    return ([o.detach().numpy() for o in out], x.grad.numpy(),
            [type(o.grad_fn).__name__ for o in out])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_as_torch(dtype, edge_order):
    rng = np.random.default_rng(edge_order)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for trial in range(24):
        shape = tuple(int(rng.integers(3, 7)) for _ in range(int(rng.integers(1, 4))))
        X = rng.normal(size=shape)
        kind = trial % 5
        coords, kw = None, {}
        if kind == 1:
            kw = dict(spacing=0.7)
        elif kind == 2:
            kw = dict(spacing=[0.5 * (i + 1) for i in range(len(shape))])
        elif kind == 3:
            kw = dict(dim=len(shape) - 1)
            coords = [np.cumsum(rng.random(shape[-1]) + 0.1)]
        elif kind == 4:
            kw = dict(dim=[0] if len(shape) == 1 else [-1, 0], spacing=[2.0] * (
                1 if len(shape) == 1 else 2))
        ours = _run(tg, X, dtype, coords, edge_order=edge_order, **kw)
        theirs = _run(torch, X, dtype, coords, edge_order=edge_order, **kw)
        assert ours[2] == theirs[2]
        for a, b in zip(ours[0] + [ours[1]], theirs[0] + [theirs[1]]):
            np.testing.assert_allclose(a, b, **tol)


def test_integer_and_0d_input_as_torch():
    for m in (torch, tg):
        out = m.gradient(m.arange(5), spacing=2.5)
        assert [o.tolist() for o in out] == [[0.4000000059604645] * 5]
        assert str(out[0].dtype).endswith("float32")
        assert m.gradient(m.tensor(3.0)) == ()
        assert m.gradient(m.arange(5.0), spacing=m.tensor(2.0))[0].tolist() == [0.5] * 5


ERRORS = [lambda m: m.gradient(m.arange(5.0), edge_order=3),
          lambda m: m.gradient(m.arange(2.0), edge_order=2),
          lambda m: m.gradient(m.arange(1.0)),
          lambda m: m.gradient(m.ones(3, 4), spacing=[1.0, 2.0, 3.0]),
          lambda m: m.gradient(m.ones(3, 4), spacing=[1.0], dim=(0, 1)),
          lambda m: m.gradient(m.arange(5.0), spacing=[m.arange(4.0)]),
          lambda m: m.gradient(m.arange(5.0), dim=2),
          lambda m: m.gradient(m.ones(3, 4), dim=[1, 1])]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_as_torch(i):
    assert_same_error(ERRORS[i], torch)
