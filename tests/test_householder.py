"""torch.linalg.householder_product / torch.orgqr / Tensor.orgqr against torch: values, both
gradients, grad_fn and next_functions on batched and square/tall shapes, and torch's
errors."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape,k", [((4, 3), 2), ((5, 5), 5), ((2, 6, 4), 3), ((4, 2), 2),
                                     ((1, 3, 3), 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_as_torch(shape, k, dtype):
    rng = np.random.default_rng(k)
    A0, T0 = rng.normal(size=shape), rng.random(shape[:-2] + (k,))
    res = []
    for m in (torch, tg):
        A = m.tensor(A0, dtype=getattr(m, dtype), requires_grad=True)
        tau = m.tensor(T0, dtype=getattr(m, dtype), requires_grad=True)
        Q = m.linalg.householder_product(A, tau)
        (Q * m.tensor(np.cos(np.arange(Q.numel())).reshape(tuple(Q.shape)),
                      dtype=getattr(m, dtype))).sum().backward()
        res.append((Q.detach().numpy(), A.grad.numpy(), tau.grad.numpy(),
                    type(Q.grad_fn).__name__,
                    [type(f).__name__ for f, _ in Q.grad_fn.next_functions],
                    m.orgqr(A, tau).detach().numpy(), A.orgqr(tau).detach().numpy()))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for i in (0, 1, 2, 5, 6):
        np.testing.assert_allclose(res[1][i], res[0][i], **tol)
    assert res[1][3:5] == res[0][3:5]


ERRORS = [lambda m: m.linalg.householder_product(m.ones(3), m.ones(1)),
          lambda m: m.linalg.householder_product(m.ones(2, 3), m.ones(1)),
          lambda m: m.linalg.householder_product(m.ones(3, 2), m.ones(3)),
          lambda m: m.linalg.householder_product(m.ones(3, 2), m.ones(1, 1)),
          lambda m: m.linalg.householder_product(m.ones(2, 3, 2), m.ones(3, 1)),
          lambda m: m.linalg.householder_product(m.ones(3, 2), m.ones(1, dtype=m.float64)),
          lambda m: m.linalg.householder_product(m.ones(3, 2, dtype=m.int64),
                                                 m.ones(1, dtype=m.int64))]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_as_torch(i):
    assert_same_error(ERRORS[i], torch)
