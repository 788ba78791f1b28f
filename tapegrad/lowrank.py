"""torch.svd_lowrank and torch.pca_lowrank: randomized low-rank SVD (Halko, Martinsson and Tropp,
"Finding structure with randomness", 2009: a range finder with power iterations, then the SVD of
the small projected matrix), composed of recorded ops (randn, matmul, linalg.qr, linalg.svd),
so gradients flow through it as through torch's composition.  The Gaussian test matrix is
drawn from the default generator in torch's order and shape, so a seed gives torch's result."""
from . import dtypes as D
from .linalg import qr, svd
from .random import randn

__all__ = ["svd_lowrank", "pca_lowrank"]


def _basis(A, q, niter, M):
    """An orthonormal basis Q (n_rows x q) whose span approximates the range of A - M: Q of
    (A - M) R for a Gaussian R, refined by `niter` power iterations, each re-orthonormalized
    (a QR after every product keeps small singular values from being lost to round-off)."""
    dt = A.dtype if A.dtype.is_floating_point else D.float32
    R = randn(A.shape[-1], q, dtype=dt)

    def times(X, right):   # (A - M) @ X, or (A - M)^H @ X
        if right:
            return A @ X if M is None else A @ X - M @ X
        return A.mH @ X if M is None else A.mH @ X - M.mH @ X
    Q = qr(times(R, True)).Q
    for _ in range(niter):
        Q = qr(times(Q, False)).Q
        Q = qr(times(Q, True)).Q
    return Q


def _svd_lowrank(A, q, niter, M):
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)
    wide = m < n
    if wide:   # (the basis of the smaller side: work on the conjugate transpose)
        A = A.mH
        M = None if M is None else M.mH
    Q = _basis(A, q, niter, M)
    B = Q.mH @ A if M is None else Q.mH @ A - Q.mH @ M
    U, S, Vh = svd(B, full_matrices=False)
    U, V = Q @ U, Vh.mH
    return (V, S, U) if wide else (U, S, V)


def svd_lowrank(A, q=6, niter=2, M=None):
    """(U, S, V), U diag(S) V^H approximating A - M (M broadcast to A's shape) at rank q, by
    `niter` power iterations (torch.svd_lowrank).  A may carry batch dimensions."""
    return _svd_lowrank(A, 6 if q is None else q, 2 if niter is None else niter, M)


def pca_lowrank(A, q=None, center=True, niter=2):
    """(U, S, V) of the (column-centered, by default) data matrix A at rank q, default
    min(6, m, n): V's columns are the principal directions (torch.pca_lowrank)."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if center:
        A = A - A.mean(dim=(-2,), keepdim=True)
    return _svd_lowrank(A, q, niter, None)
