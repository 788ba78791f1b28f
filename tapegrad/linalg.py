"""torch.linalg: norm, vector_norm, cross, det, inv, solve, cholesky (and torch.det / inverse /
cholesky).

det, inv, solve and cholesky are decomposition rows (tapegrad/decomps.py): Gauss-Jordan
elimination with partial pivoting and the column Cholesky algorithm, recorded as selects,
rank-1 updates and matrix products, shown as torch's one node (LinalgDetBackward0, ...).
Their gradients, derivatives of any order, replay and tape files are those of the primitives.
The pivot rows are chosen from the values at the call (numpy), and a replay keeps them: still
exact, only less stable far from the recorded point (an exact zero pivot there gives inf/nan).
Batched inputs run the algorithm per matrix.  Cost: O(n) recorded steps of O(n^2) work, so
these suit the small systems of autograd programs, not large factorizations."""
import numpy as np

from . import decomps, dtypes as D
from .mathops import linalg_norm as norm, vector_norm  # noqa: F401  (torch.linalg's norms)
from .ndops import matmul, where
from .products import linalg_cross as cross  # noqa: F401  (torch.linalg.cross)
from .tensor import Tensor, tensor_methods
from .views import KIND_OPS, stack

__all__ = ["norm", "vector_norm", "cross", "det", "inv", "solve", "cholesky", "inv_ex", "cholesky_ex"]


def _square(fn, A):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_{fn}(): argument 'A' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if A.dim() < 2:
        raise RuntimeError(f"linalg.{fn}: The input tensor A must have at least 2 dimensions.")
    if A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"linalg.{fn}: A must be batches of square matrices, but they are "
                           f"{A._shape[-2]} by {A._shape[-1]} matrices")
    if not A._dtype.is_floating_point:
        raise RuntimeError(f"linalg.{fn}: Expected a floating point or complex tensor as "
                           f"input. Got {A._dtype.legacy}")


def _batched(fn, A, *rest):
    """fn per matrix of a batch (the pivots differ per matrix), stacked back."""
    if A.dim() == 2:
        return fn(A, *rest)
    batch = A._shape[:-2]
    flat = A.reshape((-1,) + A._shape[-2:])
    others = [r.reshape((-1,) + r._shape[len(batch):]) for r in rest]
    outs = [fn(flat[i], *[o[i] for o in others]) for i in range(flat._shape[0])]
    out = stack(outs)
    return out.reshape(batch + out._shape[1:])


def _eliminate(X, Y, singular):
    """Gauss-Jordan with partial pivoting on the 2-d X (n x n) and Y (n x k or n): returns
    (X reduced to the identity, X^-1 Y, the pivots, the sign of the row swaps).  A zero
    pivot calls singular(k) (det: stop there; inv/solve: raise torch's error)."""
    n = X._shape[0]
    pivots, sign = [], 1.0
    for k in range(n):
        col = np.abs(X._array()[k:, k])
        p = k + int(np.argmax(col))
        if col[p - k] == 0:
            singular(k)
            pivots.append(X[k, k])
            return X, Y, pivots, sign, False
        if p != k:
            perm = np.arange(n)
            perm[k], perm[p] = p, k
            idx = Tensor._wrap(perm, D.int64)
            X = X.index_select(0, idx)
            Y = Y.index_select(0, idx) if Y is not None else None
            sign = -sign
        piv = X[k, k]
        pivots.append(piv)
        if k == n - 1 and Y is None:
            break
        row = np.zeros(n, bool)
        row[k] = True
        keep = Tensor._wrap(row.reshape(n, 1), D.bool_)
        f = X[:, k].reshape(n, 1)
        rx = X[k] / piv
        X = where(keep, rx, X - f * rx)
        if Y is not None:
            ry = Y[k] / piv
            if Y.dim() == 1:
                Y = where(Tensor._wrap(row, D.bool_), ry, Y - f.reshape(n) * ry)
            else:
                Y = where(keep, ry, Y - f * ry)
    return X, Y, pivots, sign, True


def _det2(A):
    def zero(k):
        pass
    _, _, pivots, sign, _ = _eliminate(A, None, zero)
    out = pivots[0]
    for p in pivots[1:]:
        out = out * p
    return out * sign if sign < 0 else out


def det(A):
    """The determinant of square matrices (LinalgDetBackward0)."""
    _square("det", A)
    if A._shape[-1] == 0:
        return Tensor._wrap(np.ones(A._shape[:-2], A._dtype.np), A._dtype)
    return _record("det", lambda T, x: _batched(_det2, x), A)


def _singular_inv(k):
    raise RuntimeError(f"linalg.inv: The diagonal element {k + 1} is zero, the inversion could "
                       f"not be completed because the input matrix is singular.")


def _singular_solve(k):
    raise RuntimeError("torch.linalg.solve: The solver failed because the input matrix is "
                       "singular.")


def _inv2(A):
    n = A._shape[0]
    eye = Tensor._wrap(np.eye(n, dtype=A._dtype.np), A._dtype)
    return _eliminate(A, eye, _singular_inv)[1]


def inv(A):
    """The inverse of square matrices (LinalgInvExBackward0)."""
    _square("inv", A)
    return _record("inv", lambda T, x: _batched(_inv2, x), A)


def inv_ex(A, *, check_errors=False):
    """(inverse, info) as torch.linalg.inv_ex (info 0: this raises on a singular input)."""
    return inv(A), Tensor._wrap(np.zeros(A._shape[:-2], np.int32), D.int32)


def solve(A, B, *, left=True):
    """X with A @ X = B (LinalgSolveExBackward0); B a vector or a matrix (batches as A's)."""
    _square("solve", A)
    if not left:
        raise NotImplementedError("tapegrad: linalg.solve(left=False) is not implemented")
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg_solve(): argument 'B' (position 2) must be Tensor, not "
                        f"{type(B).__name__}")
    vector = B.dim() == A.dim() - 1 or B.dim() == 1
    n = A._shape[-1]
    if (B._shape[-1] if vector else B._shape[-2]) != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({'x'.join(map(str, A._shape[-2:]))} and "
                           f"{'x'.join(map(str, B._shape[-1:] if vector else B._shape[-2:]))})")
    if B._dtype is not A._dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {A._dtype.legacy} and B of type {B._dtype.legacy} "
                           f"instead")

    def one(a, b):
        return _eliminate(a, b, _singular_solve)[1]

    def body(T, a, b):
        if a.dim() > 2 and b.dim() == 1:   # one vector for every matrix of the batch
            b = b.expand(*(a._shape[:-2] + b._shape))
        return _batched(one, a, b)
    return _record("solve", body, A, B)


def _chol2(A):
    n = A._shape[0]
    # the value from the lower triangle (as LAPACK's), the gradient symmetric (torch's):
    # A_s = (A + A^T) / 2 carries the gradient, the lower triangle's difference is constant
    sym = (A + A.transpose(0, 1)) * 0.5
    low = A.tril()
    lower = low + low.tril(-1).transpose(0, 1)
    A_eff = sym + (lower - sym).detach()
    cols = []
    for j in range(n):
        v = A_eff[:, j]
        if cols:
            C = stack(cols, 1)
            v = v - matmul(C, C[j])
        d = float(v._array()[j])
        if not d > 0:
            raise RuntimeError(f"linalg.cholesky: The factorization could not be completed "
                               f"because the input is not positive-definite (the leading minor "
                               f"of order {j + 1} is not positive-definite).")
        mask = np.zeros(n, bool)
        mask[j:] = True
        cols.append(where(Tensor._wrap(mask, D.bool_), v / v[j].sqrt(), 0.0))
    return stack(cols, 1)


def cholesky(A, *, upper=False):
    """The Cholesky factor L (A = L L^T) of symmetric positive-definite matrices, read from
    the lower triangle (LinalgCholeskyExBackward0); its gradient is symmetric, as torch's."""
    _square("cholesky", A)

    def body(T, x):
        out = _batched(_chol2, x)
        return out.transpose(-2, -1) if upper else out
    return _record("cholesky", body, A)


def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info) as torch.linalg.cholesky_ex (info 0: this raises on a failed factorization)."""
    return cholesky(A, upper=upper), Tensor._wrap(np.zeros(A._shape[:-2], np.int32), D.int32)


@tensor_methods
class _LinalgMethods:
    """Tensor.det(), Tensor.inverse()."""

    def det(self):
        return det(self)

    def inverse(self):
        return inv(self)


def _record(name, body, x, *args):
    if not any(isinstance(t, Tensor) and t._rg for t in (x,) + args):
        return body(None, x, *args)
    return decomps.record(name, body, KIND_OPS, x, *args)
