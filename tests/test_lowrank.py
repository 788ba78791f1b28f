"""torch.svd_lowrank / torch.pca_lowrank (tapegrad/lowrank.py): exact on matrices of rank q,
orthonormal factors, gradients against finite differences, torch's errors; against torch for
the same seed where it is installed (the same Gaussian draws, so the same factors)."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck


def _rank(m, n, r, seed):
    rng = np.random.default_rng(seed)
    return tg.tensor(rng.standard_normal((m, r)) @ rng.standard_normal((r, n)))


@pytest.mark.parametrize("shape", [(9, 5), (5, 9), (2, 7, 6)])
def test_rank_q_matrix_is_recovered(shape):
    A = _rank(shape[-2], shape[-1], 3, 0) if len(shape) == 2 else \
        tg.stack([_rank(*shape[1:], 3, s) for s in range(shape[0])])
    tg.manual_seed(1)
    U, S, V = tg.svd_lowrank(A, q=3)
    assert U.shape == shape[:-1] + (3,) and S.shape == shape[:-2] + (3,) and \
        V.shape == shape[:-2] + (shape[-1], 3)
    np.testing.assert_allclose((U * S.unsqueeze(-2)) @ V.mT, A.numpy(), atol=1e-10)
    np.testing.assert_allclose(U.mT @ U, np.broadcast_to(np.eye(3), S.shape[:-1] + (3, 3)),
                               atol=1e-12)
    want = np.linalg.svd(A.numpy(), compute_uv=False)[..., :3]
    np.testing.assert_allclose(S.numpy(), want, rtol=1e-10)


def test_pca_centers_and_subtracts_m():
    A = _rank(12, 4, 2, 3) + tg.tensor([5.0, -1.0, 2.0, 0.5], dtype=tg.float64)
    tg.manual_seed(2)
    U, S, V = tg.pca_lowrank(A, q=2)
    centered = A.numpy() - A.numpy().mean(0)
    np.testing.assert_allclose((U * S) @ V.T, centered, atol=1e-10)
    tg.manual_seed(2)
    U2, S2, V2 = tg.svd_lowrank(A, q=2, M=A.mean(0, keepdim=True))
    np.testing.assert_allclose(S2.numpy(), S.numpy(), rtol=1e-10)


def test_errors_as_torch():
    A = tg.ones(5, 3)
    with pytest.raises(ValueError, match=r"^q\(=4\) must be non-negative integer and not "
                                         r"greater than min\(m, n\)=3$"):
        tg.pca_lowrank(A, q=4)
    with pytest.raises(ValueError, match=r"^niter\(=-1\) must be non-negative integer$"):
        tg.pca_lowrank(A, niter=-1)


def test_gradients_against_finite_differences():
    """The factors are recorded ops: a function of them (sign-free: the singular values and
    the squares of U's entries) differentiates as its finite differences, the Gaussian draw
    held fixed by a seed."""
    A = tg.tensor(np.random.default_rng(4).standard_normal((7, 5)), requires_grad=True)

    def f(a):
        tg.manual_seed(5)
        U, S, V = tg.pca_lowrank(a, q=3, niter=1)
        return S.sum() + (U ** 2 * tg.arange(7.0, dtype=tg.float64).unsqueeze(1)).sum()
    assert gradcheck(f, (A,))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_as_torch(dtype):
    torch = pytest.importorskip("torch")
    got = []
    for m in (tg, torch):
        m.manual_seed(3)
        dt = getattr(m, dtype)
        A = m.randn(8, 5, dtype=dt)
        X = A.clone().requires_grad_()
        res = [m.svd_lowrank(A, q=3), m.svd_lowrank(A.T, q=3, niter=1),
               m.svd_lowrank(A, q=4, M=A.mean(0, keepdim=True)), m.pca_lowrank(A),
               m.pca_lowrank(A, q=2, center=False, niter=0), m.pca_lowrank(X, q=3)]
        U, S, _ = res[-1]
        (S.sum() + (U[:, 0] ** 2 * m.arange(8.0, dtype=dt)).sum()).backward()
        # (signs of singular vectors are LAPACK's choice: compared up to sign)
        got.append([np.abs(t.detach().numpy()) for r in res for t in r] + [X.grad.numpy()])
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == "float64" else dict(rtol=2e-4, atol=2e-5)
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, **tol)
