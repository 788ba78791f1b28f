"""torch.linalg's factorizations as custom-Function nodes (the route of linalg.svd,
tapegrad/pyfunc.py): eigh, qr, pinv, lstsq, the LU family (lu_factor, lu, lu_solve, on a numpy
getrf, and lu_unpack), and torch's legacy cholesky, triangular_solve, cholesky_solve and
cholesky_inverse.

Each is ONE node named as torch's (LinalgEighBackward0, LinalgQrBackward0, ...): numpy's LAPACK
(or a numpy loop) computes the value, and the backward is torch's formula (FunctionsManual.cpp)
written in tapegrad ops on the saved inputs and outputs, its triangular solves as
linalg.solve_triangular's host entries, so create_graph records it and every order
differentiates.  Like svd's, a tape holding one of these nodes does not replay (record refuses
custom Functions).  The argument checks and torch's signatures are in tapegrad/linalg.py.
"""
import math

import numpy as np

from . import dtypes as D
from .creation import zeros
from .kinds import linalg as linalg_kind
from .pyfunc import as_native_node, Function
from .structops import diag_embed
from .tensor import Tensor
from .views import cat, KIND_OPS

__all__ = ["LinalgEigh", "LinalgQr", "LinalgPinv", "LinalgLstsq",
           "solve_triangular", "Cholesky", "TriangularSolve", "CholeskySolve",
           "CholeskyInverse", "LinalgLuFactorEx", "LinalgLu", "LinalgLuSolve", "LuUnpack",
           "lu_array", "pinv_backward", "pinv_array", "eps"]


def _named(cls, name):
    """Give a Function's node torch's grad_fn name."""
    as_native_node(cls, name)


def _wrap(x, dt):
    return Tensor._wrap(np.ascontiguousarray(x, dt.np), dt)


def eps(dt):
    """torch's _get_epsilon: the machine epsilon of a floating dtype."""
    return float(np.finfo(dt.np).eps)


# ---- numpy forwards ---------------------------------------------------------------------------
def pinv_array(A, atol, rtol, hermitian):
    """torch's linalg_pinv on an array: singular values (|eigenvalues| for hermitian) above
    max(atol, rtol * the largest) are inverted, the others dropped.  atol, rtol: arrays
    broadcasting against the batch dims."""
    if A.size == 0:
        return np.zeros(A.shape[:-2] + (A.shape[-1], A.shape[-2]), A.dtype)
    if hermitian:
        S, U = np.linalg.eigh(A)
        big = np.abs(S).max(-1, keepdims=True)
        keep = np.abs(S) > np.maximum(atol[..., None], rtol[..., None] * big).astype(A.dtype)
        with np.errstate(divide="ignore"):
            Sinv = np.where(keep, 1.0 / S, 0.0).astype(A.dtype)
        return (U * Sinv[..., None, :]) @ U.swapaxes(-1, -2)
    U, S, Vh = linalg_kind.svd(A, full_matrices=False)
    tol = np.maximum(atol[..., None], rtol[..., None] * S[..., :1]).astype(A.dtype)
    with np.errstate(divide="ignore"):
        Sinv = np.where(S > tol, 1.0 / S, 0.0).astype(A.dtype)
    return (Vh.swapaxes(-1, -2) * Sinv[..., None, :]) @ U.swapaxes(-1, -2)


# ---- the nodes ----------------------------------------------------------------------------------
class LinalgEigh(Function):
    """linalg.eigh: (eigenvalues ascending, eigenvectors) of the symmetric matrix read from one
    triangle of A (LinalgEighBackward0; eigvalsh's create_graph VJP reads its eigenvectors)."""

    @staticmethod
    def forward(ctx, A, uplo):
        L, V = np.linalg.eigh(A._array(), UPLO=uplo)
        dt = A._dtype
        L, V = _wrap(L, dt), _wrap(V, dt)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        # torch's linalg_eig_backward, hermitian case
        L, V = ctx.saved_tensors
        if gV is None:
            return ((V * gL.unsqueeze(-2)) @ V.mT if gL is not None else None), None
        VhgV = V.mT @ gV
        VhgV = 0.5 * (VhgV - VhgV.mT)
        # NOTE: E_ij = L_j - L_i with ones on its diagonal, as torch's: a repeated eigenvalue
        # divides by zero and the gradient is inf / nan there, as torch's (the eigenvectors
        # of a repeated eigenvalue are not determined)
        n = L._shape[-1]
        E = L.unsqueeze(-2) - L.unsqueeze(-1) + _wrap(np.eye(n), L._dtype)
        gA = VhgV / E
        if gL is not None:   # its diagonal is zero: torch copies gL there
            gA = gA + diag_embed(gL)
        return V @ (gA @ V.mT), None


_named(LinalgEigh, "LinalgEighBackward0")


def solve_triangular(A, B, upper, left, unit):
    """linalg.solve_triangular's LAPACK host entry (kinds/linalg.py, recorded by linalg.py
    through views.KIND_OPS): the backwards below differentiate through it again."""
    return KIND_OPS.lapack(linalg_kind.SOLVE_TRIANGULAR, A, B,
                           linalg_kind.tri_flag(upper, left, unit))


class LinalgQr(Function):
    """linalg.qr: (Q, R) with A = Q R (LinalgQrBackward0); mode 'r' returns an empty Q and
    its backward raises, as torch's."""

    @staticmethod
    def forward(ctx, A, mode):
        a = A._array()
        dt = A._dtype
        if mode == "r":
            Q, R = np.zeros((0,), dt.np), np.linalg.qr(a, mode="r")
        else:
            Q, R = np.linalg.qr(a, mode=mode)
        Q, R = _wrap(Q, dt), _wrap(R, dt)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(Q, R)
        ctx.mode = mode
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        # torch's linalg_qr_backward
        Q, R = ctx.saved_tensors
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        m, n = Q._shape[-2], R._shape[-1]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when "
                               "mode='complete' and nrows > ncols.")
        if gQ is None and gR is None:
            return None, None
        if gQ is not None:
            gA = gR @ R.mT - Q.mT @ gQ if gR is not None else -(Q.mT @ gQ)
        else:
            gA = gR @ R.mT
        if m >= n:
            X = gA.triu()
            X = X + X.mT
            X = X - 0.5 * diag_embed(X.diagonal(0, -2, -1))   # its diagonal halved
            gA = Q @ X
            if gQ is not None:
                gA = gA + gQ
            return solve_triangular(R.mT, gA, False, False, False), None
        X = -gA
        gA = Q @ (X - X.mT).tril()
        gA = solve_triangular(R.narrow(-1, 0, m).mT, gA, False, False, False)
        gA = cat([gA, zeros(*(R._shape[:-1] + (n - m,)), dtype=R._dtype)], -1)
        if gR is not None:
            gA = gA + Q @ gR
        return gA, None


_named(LinalgQr, "LinalgQrBackward0")


def pinv_backward(g, P, A):
    """torch's pinv_backward: the gradient of pinv at A (P = pinv(A)) given g, P's."""
    m, n = A._shape[-2], A._shape[-1]
    Ph, gh = P.mT, g.mT
    if m <= n:
        K = gh @ P
        KPh = K @ Ph
        return -(P @ K).mT + KPh - (A @ P) @ KPh + (Ph @ P) @ (gh - K @ A)
    K = P @ gh
    PhK = Ph @ K
    return -(K @ P).mT + PhK - (PhK @ P) @ A + (gh - A @ K) @ P @ Ph


class LinalgPinv(Function):
    """linalg.pinv: the pseudo-inverse (LinalgPinvBackward0, torch's pinv_backward)."""

    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian):
        P = _wrap(pinv_array(A._array(), atol, rtol, hermitian), A._dtype)
        ctx.save_for_backward(A, P)
        return P

    @staticmethod
    def backward(ctx, g):
        A, P = ctx.saved_tensors
        return pinv_backward(g, P, A), None, None, None


_named(LinalgPinv, "LinalgPinvBackward0")


def default_pinv(A):
    """pinv(A) with torch's default tolerances (what lstsq's backward reads)."""
    m, n = A._shape[-2:]
    return LinalgPinv.apply(A, np.zeros(()), np.asarray(eps(A._dtype) * max(m, n)), False)


class LinalgLstsq(Function):
    """linalg.lstsq: (solution, residuals, rank, singular_values) (LinalgLstsqBackward0 on
    the first two, rank and singular_values not differentiable).  A (..., m, n), B (..., m, k)
    with equal batch dims, or a vector batch (..., m) (vector: X (..., n))."""

    @staticmethod
    def forward(ctx, A, B, rcond, driver, vector):
        a, b = A._array(), B._array()
        if vector:
            b = b[..., None]
        dt = A._dtype
        m, n = a.shape[-2:]
        batch = a.shape[:-2]
        if a.size:
            U, S, Vh = linalg_kind.svd(a, full_matrices=False)
        else:
            U = np.zeros(batch + (m, min(m, n)), dt.np)
            S = np.zeros(batch + (min(m, n),), dt.np)
            Vh = np.zeros(batch + (min(m, n), n), dt.np)
        if driver == "gels":   # QR: no rank decision, a full-rank A
            keep = np.ones(S.shape, bool)
        else:
            keep = S > (np.asarray(rcond, dt.np) * S[..., :1] if S.shape[-1] else S)
        with np.errstate(divide="ignore"):
            Sinv = np.where(keep, 1.0 / S, 0.0).astype(dt.np)
        X = (Vh.swapaxes(-1, -2) * Sinv[..., None, :]) @ (U.swapaxes(-1, -2) @ b)
        rank = keep.sum(-1).astype(np.int64)
        res = np.zeros((0,), dt.np)
        if m > n and driver != "gelsy" and (driver == "gels" or (rank == n).all()):
            res = ((a @ X - b) ** 2).sum(-2)
        X, res = _wrap(X[..., 0] if vector else X, dt), _wrap(res, dt)
        rank_t = Tensor._wrap(rank if driver != "gels" else np.zeros((0,), np.int64),
                              D.int64)
        sv = _wrap(S if driver in ("gelsd", "gelss") else np.zeros((0,), dt.np), dt)
        ctx.mark_non_differentiable(sv)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(A, B, X)
        ctx.vector = vector
        return X, res, rank_t, sv

    @staticmethod
    def backward(ctx, gX, gL, _grank, _gsv):
        # torch's linalg_lstsq_backward: the solution's through pinv(A), the residuals' as
        # if X did not depend on A, B (Danskin)
        A, B, X = ctx.saved_tensors
        if ctx.vector:
            B, X = B.unsqueeze(-1), X.unsqueeze(-1)
            gX = gX.unsqueeze(-1) if gX is not None else None
        needA, needB = ctx.needs_input_grad[:2]
        gA = gB = None
        if gX is not None:
            P = default_pinv(A)
            if needA:
                gA = pinv_backward(gX @ B.mT, P, A)
            if needB:
                gB = P.mT @ gX
        if gL is not None and gL.numel():
            r = A @ X - B
            gl = gL.unsqueeze(-2)
            if needA:
                t = 2.0 * (gl * r) @ X.mT
                gA = t if gA is None else gA + t
            if needB:
                t = -2.0 * gl * r
                gB = t if gB is None else gB + t
        if ctx.vector and gB is not None:
            gB = gB.squeeze(-1)
        return gA, gB, None, None, None


_named(LinalgLstsq, "LinalgLstsqBackward0")




class Cholesky(Function):
    """torch.cholesky, the deprecated name: linalg.cholesky's value as one node of its own
    name (CholeskyBackward0, torch's cholesky_backward)."""

    @staticmethod
    def forward(ctx, A, upper):
        a = A._array()
        try:
            L = linalg_kind.forward(linalg_kind.CHOLESKY, int(upper),
                                    a.reshape((-1,) + a.shape[-2:]))
        except linalg_kind.LinAlgError as e:   # torch names it "cholesky: ..."
            raise linalg_kind.LinAlgError(str(e).replace("linalg.cholesky: ", "cholesky: ", 1)) \
                from None
        L = _wrap(L.reshape(a.shape), A._dtype)
        ctx.save_for_backward(L)
        ctx.upper = upper
        return L

    @staticmethod
    def backward(ctx, g):
        L, = ctx.saved_tensors
        if ctx.upper:
            L, g = L.mT, g.mT
        gA = (L.mT @ g).tril()
        gA = 0.5 * (gA + gA.tril(-1).mT)
        gA = solve_triangular(L.mT, gA, True, True, False)
        return solve_triangular(L, gA, False, False, False), None


_named(Cholesky, "CholeskyBackward0")


class TriangularSolve(Function):
    """torch.triangular_solve, the deprecated name: (X, a copy of A) with op(A) X = b, op the
    transpose when `transpose`, A read from one triangle (TriangularSolveBackward0)."""

    @staticmethod
    def forward(ctx, b, A, upper, transpose, unit):
        a = A._array()
        T, up = (a.swapaxes(-1, -2), not upper) if transpose else (a, upper)
        X = _wrap(linalg_kind.trsm(T, b._array(), up, True, unit), A._dtype)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(A, X)
        ctx.flags = (upper, transpose, unit)
        return X, _wrap(a, A._dtype)

    @staticmethod
    def backward(ctx, gX, gM):
        # torch's triangular_solve_backward: gb = op(A)^-T gX, gA = -gb X^T (transpose:
        # -X gb^T) on A's triangle, plus the copy's gradient
        A, X = ctx.saved_tensors
        upper, transpose, unit = ctx.flags
        gb = gA = None
        if gX is not None:
            gb = solve_triangular(A, gX, upper, True, unit) if transpose else \
                solve_triangular(A.mT, gX, not upper, True, unit)
            if ctx.needs_input_grad[1]:
                gA = -(X @ gb.mT) if transpose else -(gb @ X.mT)
                gA = gA.triu(int(unit)) if upper else gA.tril(-int(unit))
        if gM is not None and ctx.needs_input_grad[1]:
            gA = gM if gA is None else gA + gM
        return gb, gA, None, None, None


_named(TriangularSolve, "TriangularSolveBackward0")


def _cholesky_solve(B, L, upper):
    """(L L^T)^-1 B (upper: (U^T U)^-1 B) on arrays, by two triangular solves."""
    if upper:
        return linalg_kind.trsm(L, linalg_kind.trsm(L.swapaxes(-1, -2), B, False, True, False),
                                True, True, False)
    return linalg_kind.trsm(L.swapaxes(-1, -2), linalg_kind.trsm(L, B, False, True, False),
                            True, True, False)


class CholeskySolve(Function):
    """torch.cholesky_solve: X with (L L^T) X = B from the Cholesky factor L (upper: U^T U)
    (CholeskySolveBackward0)."""

    @staticmethod
    def forward(ctx, B, L, upper):
        X = _wrap(_cholesky_solve(B._array(), L._array(), upper), B._dtype)
        ctx.save_for_backward(L, X)
        ctx.upper = upper
        return X

    @staticmethod
    def backward(ctx, g):
        # torch's cholesky_solve_backward
        L, X = ctx.saved_tensors
        gB = CholeskySolve.apply(g, L, ctx.upper)
        gL = None
        if ctx.needs_input_grad[1]:
            C = gB @ X.mT
            C = C + C.mT
            gL = -(L @ C) if ctx.upper else -(C @ L)
        return (gB if ctx.needs_input_grad[0] else None), gL, None


_named(CholeskySolve, "CholeskySolveBackward0")


class CholeskyInverse(Function):
    """torch.cholesky_inverse: (L L^T)^-1 from the Cholesky factor L (upper: (U^T U)^-1)
    (CholeskyInverseBackward0)."""

    @staticmethod
    def forward(ctx, L, upper):
        a = L._array()
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
        Ainv = _wrap(_cholesky_solve(eye, a, upper), L._dtype)
        ctx.save_for_backward(L, Ainv)
        ctx.upper = upper
        return Ainv

    @staticmethod
    def backward(ctx, g):
        # torch's cholesky_inverse_backward
        L, Ainv = ctx.saved_tensors
        C = Ainv @ ((g + g.mT) @ Ainv)
        return (-(L @ C) if ctx.upper else -(C @ L)), None


_named(CholeskyInverse, "CholeskyInverseBackward0")


# ---- LU ------------------------------------------------------------------------------------------
def lu_array(A):
    """LAPACK getrf on A (..., m, n): (LU packed, pivots int32 1-based, info int32): partial
    pivoting by the first largest |element| of the column (idamax), a zero pivot reported in
    info and skipped, as LAPACK."""
    shape = A.shape
    m, n = shape[-2:]
    k = min(m, n)
    nb = math.prod(shape[:-2])
    LU = np.array(A, copy=True).reshape(nb, m, n)
    piv = np.zeros((nb, k), np.int32)
    info = np.zeros(nb, np.int32)
    rows = np.arange(nb)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(LU[:, j:, j]), axis=1)
            piv[:, j] = p + 1
            top = LU[rows, j].copy()
            LU[rows, j] = LU[rows, p]
            LU[rows, p] = top
            d = LU[:, j, j]
            zero = d == 0
            info[zero & (info == 0)] = j + 1
            if j + 1 < m:
                LU[:, j + 1:, j] = np.where(zero[:, None], LU[:, j + 1:, j],
                                            LU[:, j + 1:, j] / d[:, None])
                LU[:, j + 1:, j + 1:] -= LU[:, j + 1:, j:j + 1] * LU[:, j:j + 1, j + 1:]
    return (LU.reshape(shape), piv.reshape(shape[:-2] + (k,)),
            info.reshape(shape[:-2]))


def permutation(piv, m, dtype):
    """P (..., m, m) with A = P L U from getrf's pivots (..., k)."""
    batch = piv.shape[:-1]
    flat = piv.reshape(math.prod(batch), piv.shape[-1]) - 1
    perm = np.tile(np.arange(m), (flat.shape[0], 1))
    rows = np.arange(flat.shape[0])
    for j in range(flat.shape[1]):
        a, b = perm[rows, j].copy(), perm[rows, flat[:, j]]
        perm[rows, j] = b
        perm[rows, flat[:, j]] = a
    P = np.zeros((flat.shape[0], m, m), dtype)
    P[rows[:, None], perm, np.arange(m)[None, :]] = 1.0
    return P.reshape(batch + (m, m))


def _unpack(LU, piv):
    """(P, L, U) of a packed LU tensor: L and U are tensor ops on LU (so they differentiate),
    P a constant."""
    m, n = LU._shape[-2:]
    k = min(m, n)
    dt = LU._dtype
    eye = _wrap(np.eye(m, k), dt)
    L = LU.narrow(-1, 0, k).tril(-1) + eye
    U = LU.narrow(-2, 0, k).triu()
    return _wrap(permutation(np.asarray(piv), m, dt.np), dt), L, U


def lu_backward(gL, gU, P, L, U):
    """torch's linalg_lu_backward (P L U = A, L (m, k) unit lower, U (k, n) upper)."""
    if gL is None and gU is None:
        return None
    m, n = L._shape[-2], U._shape[-1]
    k = min(m, n)
    ST = solve_triangular

    def plus(a, b):
        return b if a is None else a + b
    if m == n:
        gA = (L.mT @ gL).tril(-1) if gL is not None else None
        if gU is not None:
            gA = plus(gA, (gU @ U.mT).triu())
        gA = ST(U.mT, gA, False, False, False)
        return P @ ST(L.mT, gA, True, True, True)
    if m < n:
        gA = L.mT @ gL if gL is not None else None
        if gU is not None:
            gA = plus(gA, -(gU.triu() @ U.mT))
        gA = ST(U.narrow(-1, 0, k).mT, gA.tril(-1), False, False, False)
        if gU is not None:
            gA = cat([gA + gU.narrow(-1, 0, k).triu(), gU.narrow(-1, k, n - k)], -1)
        gA = ST(L.mT, gA, True, True, True)
        if gU is None:
            gA = cat([gA, zeros(*(U._shape[:-1] + (n - k,)), dtype=U._dtype)], -1)
        return P @ gA
    gA = gU @ U.mT if gU is not None else None
    if gL is not None:
        gA = plus(gA, -(L.mT @ gL.tril(-1)))
    gA = ST(L.narrow(-2, 0, k).mT, gA.triu(), True, True, True)
    if gL is not None:
        gA = cat([gA + gL.narrow(-2, 0, k).tril(-1), gL.narrow(-2, k, m - k)], -2)
    gA = ST(U.mT, gA, False, False, False)
    if gL is None:
        gA = cat([gA, zeros(*(L._shape[:-2] + (m - k, k)), dtype=L._dtype)], -2)
    return P @ gA


class LinalgLuFactorEx(Function):
    """linalg.lu_factor(_ex): (LU, pivots, info) of LAPACK's getrf (LinalgLuFactorExBackward0
    on LU, torch's lu_factor_ex_backward; pivots and info are integers)."""

    @staticmethod
    def forward(ctx, A):
        LU, piv, info = lu_array(A._array())
        LU = _wrap(LU, A._dtype)
        ctx.save_for_backward(LU)
        ctx.piv = piv
        return LU, Tensor._wrap(piv, D.int32), Tensor._wrap(info, D.int32)

    @staticmethod
    def backward(ctx, g, _gpiv, _ginfo):
        LU, = ctx.saved_tensors
        P, L, U = _unpack(LU, ctx.piv)
        k = min(LU._shape[-2:])
        return lu_backward(g.narrow(-1, 0, k), g.narrow(-2, 0, k), P, L, U)


_named(LinalgLuFactorEx, "LinalgLuFactorExBackward0")


class LinalgLu(Function):
    """linalg.lu: (P, L, U) with A = P L U (LinalgLuBackward0 on L and U, torch's
    linalg_lu_backward; P is not differentiable)."""

    @staticmethod
    def forward(ctx, A):
        LU, piv, _ = lu_array(A._array())
        m, n = LU.shape[-2:]
        k = min(m, n)
        dt = A._dtype
        P = _wrap(permutation(piv, m, dt.np), dt)
        L = _wrap(np.tril(LU[..., :k], -1) + np.eye(m, k, dtype=dt.np), dt)
        U = _wrap(np.triu(LU[..., :k, :]), dt)
        ctx.mark_non_differentiable(P)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(P, L, U)
        return P, L, U

    @staticmethod
    def backward(ctx, _gP, gL, gU):
        P, L, U = ctx.saved_tensors
        return lu_backward(gL, gU, P, L, U)


_named(LinalgLu, "LinalgLuBackward0")


def lu_solve_array(LU, piv, B, left, adjoint):
    """X with A X = B (adjoint: A^T X = B; left=False: X A = B / X A^T = B), A = P L U from
    getrf's packed LU and pivots."""
    n = LU.shape[-1]
    P = permutation(piv, n, LU.dtype)
    L = np.tril(LU, -1) + np.eye(n, dtype=LU.dtype)
    U = np.triu(LU)
    Lt, Ut, Pt = L.swapaxes(-1, -2), U.swapaxes(-1, -2), P.swapaxes(-1, -2)
    ts = linalg_kind.trsm
    if left and not adjoint:
        return ts(U, ts(L, Pt @ B, False, True, True), True, True, False)
    if left:
        return P @ ts(Lt, ts(Ut, B, False, True, False), True, True, True)
    if not adjoint:
        return ts(L, ts(U, B, True, False, False), False, False, True) @ Pt
    return ts(Ut, ts(Lt, B @ P, True, False, True), False, False, False)


class LinalgLuSolve(Function):
    """linalg.lu_solve from lu_factor's (LU, pivots) (LinalgLuSolveBackward0: torch's
    linalg_lu_solve_LU for LU, lu_solve with the adjoint flipped for B)."""

    @staticmethod
    def forward(ctx, LU, pivots, B, left, adjoint):
        piv = pivots._array()
        X = _wrap(lu_solve_array(LU._array(), piv, B._array(), left, adjoint), B._dtype)
        ctx.save_for_backward(LU, X)
        ctx.piv, ctx.pivots, ctx.flags = piv, pivots, (left, adjoint)
        return X

    @staticmethod
    def backward(ctx, gX):
        LU, X = ctx.saved_tensors
        left, adjoint = ctx.flags
        gLU = gB = None
        if ctx.needs_input_grad[2]:
            gB = LinalgLuSolve.apply(LU, ctx.pivots, gX, left, not adjoint)
        if ctx.needs_input_grad[0]:
            P, L, U = _unpack(LU, ctx.piv)
            ST = solve_triangular
            if left != adjoint:
                gR = ST(U.mT, -((gX if left else gX.mT) @ (X.mT if left else X)), False, True,
                        False)
                gL = ST(L.mT, gR @ U.mT, True, True, True).tril(-1)
                gLU = gL + gR.triu()
            else:
                gR = -(P.mT @ (X if left else X.mT) @ (gX.mT if left else gX) @ P)
                gR = ST(L.mT, gR, True, False, True)
                gU = ST(U.mT, L.mT @ gR, False, False, False).triu()
                gLU = gR.tril(-1) + gU
        return gLU, None, gB, None, None


_named(LinalgLuSolve, "LinalgLuSolveBackward0")


class LuUnpack(Function):
    """torch.lu_unpack: (P, L, U) from lu_factor's (LU, pivots) (LuUnpackBackward0 on L and
    U, torch's lu_unpack_backward); unpack_data / unpack_pivots False leave L, U / P empty."""

    @staticmethod
    def forward(ctx, LU, pivots, unpack_data, unpack_pivots):
        a = LU._array()
        m, n = a.shape[-2:]
        k = min(m, n)
        dt = LU._dtype
        empty = np.zeros((0,), dt.np)
        P = permutation(pivots._array(), m, dt.np) if unpack_pivots else empty
        L = np.tril(a[..., :k], -1) + np.eye(m, k, dtype=dt.np) if unpack_data else empty
        U = np.triu(a[..., :k, :]) if unpack_data else empty
        P, L, U = _wrap(P, dt), _wrap(L, dt), _wrap(U, dt)
        ctx.mark_non_differentiable(P)
        ctx.set_materialize_grads(False)
        ctx.mn = (m, n)
        return P, L, U

    @staticmethod
    def backward(ctx, _gP, gL, gU):
        m, n = ctx.mn
        k = min(m, n)
        if gL is not None and gL.numel() == 0:
            gL = None
        if gU is not None and gU.numel() == 0:
            gU = None
        if gL is None and gU is None:
            return None, None, None, None
        if gL is not None and gU is not None:
            if m == n:
                return gL.tril(-1) + gU.triu(), None, None, None
            A1 = gL.narrow(-2, 0, k).tril(-1) + gU.narrow(-1, 0, k).triu()
            A2 = gL.narrow(-2, k, m - k) if m > n else gU.narrow(-1, k, n - k)
            return cat([A1, A2], -2 if m > n else -1), None, None, None
        if gL is not None:
            if m >= n:
                return gL.tril(-1), None, None, None
            return cat([gL.tril(-1), zeros(*(gL._shape[:-1] + (n - m,)), dtype=gL._dtype)],
                       -1), None, None, None
        if n >= m:
            return gU.triu(), None, None, None
        return cat([gU.triu(), zeros(*(gU._shape[:-2] + (m - n, n)), dtype=gU._dtype)],
                   -2), None, None, None


_named(LuUnpack, "LuUnpackBackward0")
