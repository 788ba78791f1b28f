"""linalg kind (det, slogdet's log|det| and sign, inv, solve, cholesky, svdvals, solve_triangular,
matrix_exp, eigvalsh): LAPACK host entries.

One entry per call, on numpy's LAPACK (np.linalg), never a loop in the Numba kernels: every
entry of this kind carries the `host` flag, so the eager sweep and replay's forward and
reverse sweeps pause at it and run the faces below on the arena slices (kinds.HOST_FORWARD,
kinds.HOST_VJP).  Kernels that do not pause (value_and_grad_batch's prange, jacobian,
sweep_rows, replay_scalar) have no piece for this kind: their callers refuse such tapes
(`HOST_ONLY`), as a loop there would silently leave the entry's value and gradient at zero.

params [which, nb, n, k, flag], on row-major buffers:
    DET, LOGDET  A (nb, n, n) -> (nb,)                  (k = n)
    INV          A (nb, n, n) -> (nb, n, n)
    SOLVE        A (nb, n, n), B (nb, n, k) -> X (nb, n, k): A X = B; flag 1: left=False,
                 B and X (nb, k, n), X A = B.  A vector B is (nb, n, 1) (k = 1) row-major.
    CHOLESKY     A (nb, n, n) -> L (nb, n, n) from A's lower triangle; flag 1: upper (L^T)
    SVDVALS      A (nb, n, k) -> (nb, min(n, k))
    SOLVE_TRIANGULAR  as SOLVE, A read from one triangle (LAPACK's trsm, by substitution
                 here: no pivoting, inf / nan on a zero diagonal element); flag bits: 1
                 left=False, 2 upper, 4 unitriangular.
    MATRIX_EXP   A (nb, n, n) -> exp(A) (nb, n, n), scaling and squaring (numpy, float64)
    EIGVALSH     A (nb, n, n) -> (nb, n) ascending, from A's lower triangle; flag 1: upper
    SIGNDET      A (nb, n, n) -> (nb,): slogdet's sign (-1, 0 or 1; no gradient)
Batches are broadcast before the entry (expand entries), so A and B share nb.

Faces: `forward` (numpy, torch's errors), `vjp` (numpy, what the sweep adds), `jvp` (numpy,
the tangent map beside it, for forward mode), `tensor_vjp_linalg` (the VJP as recorded tensor
ops for create_graph: composed of these same entries, so every order differentiates) and
`tensor_forward_linalg` (replay's tensor re-run).  T.lapack(which, A, B, flag) records one
entry of this kind, T.svd(A) linalg.svd's node and T.eigh(A, uplo) linalg.eigh's
(tapegrad/linalg.py hands them in through views.KIND_OPS).
"""
import numpy as np

from ..fpstate import quiet

KINDS = ("linalg",)

(DET, LOGDET, INV, SOLVE, CHOLESKY, SVDVALS, SOLVE_TRIANGULAR, MATRIX_EXP, EIGVALSH,
 SIGNDET) = range(10)
NAMES = ("det", "slogdet", "inv", "solve", "cholesky", "svdvals", "solve_triangular",
         "matrix_exp", "eigvalsh", "slogdet_sign")
DETS = (DET, LOGDET, SIGNDET)          # the entries with one value per matrix
SOLVES = (SOLVE, SOLVE_TRIANGULAR)     # the entries with a right-hand side B
NPARAMS = 5


EIGH_FAILED = ("linalg.eigh: The algorithm failed to converge because the input matrix is "
               "ill-conditioned or has too many repeated eigenvalues.")


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a singular matrix in inv/solve, a matrix that is not
    positive-definite in cholesky (a RuntimeError, as torch's)."""


# (torch's class is torch._C._LinAlgError: its name in tracebacks and type(e).__name__)
LinAlgError.__name__ = LinAlgError.__qualname__ = "_LinAlgError"


def svd(A, **kwargs):
    """np.linalg.svd, its failure as torch's LinAlgError (numpy's is a ValueError, which
    `except torch.linalg.LinAlgError` would miss): a non-finite input, as torch says, or one
    LAPACK could not converge on."""
    try:
        return np.linalg.svd(A, **kwargs)
    except np.linalg.LinAlgError:
        why = ("contained non-finite values" if not np.isfinite(A).all() else
               "is ill-conditioned or has too many repeated singular values")
        raise LinAlgError(f"linalg.svd: The algorithm failed to converge because the input "
                          f"matrix {why}.") from None


# ---- shapes --------------------------------------------------------------------------------
def in_sizes(which, nb, n, k, flag):
    """Element counts of A, B (0: none) and the output."""
    if which == SVDVALS:
        return nb * n * k, 0, nb * min(n, k)
    if which == EIGVALSH:
        return nb * n * n, 0, nb * n
    if which in DETS:
        return nb * n * n, 0, nb
    if which in SOLVES:
        return nb * n * n, nb * n * k, nb * n * k
    return nb * n * n, 0, nb * n * n


def _shapes(which, nb, n, k, flag):
    """(A's, B's, out's) 3-d shapes of the entry's buffers."""
    if which == SVDVALS:
        return (nb, n, k), None, (nb, min(n, k))
    if which == EIGVALSH:
        return (nb, n, n), None, (nb, n)
    if which in DETS:
        return (nb, n, n), None, (nb,)
    if which in SOLVES:
        b = (nb, k, n) if flag & 1 else (nb, n, k)
        return (nb, n, n), b, b
    return (nb, n, n), None, (nb, n, n)


def _batch_prefix(nb, i):
    return f"(Batch element {i}): " if nb > 1 else ""


# ---- errors as torch's (found again on the failing path only: numpy does not say where) -------
def _first_zero_pivot(M):
    """The 1-based index of the first zero diagonal element of U in LU with partial pivoting
    (LAPACK getrf's info), or 0."""
    U = np.array(M, dtype=np.float64)
    n = U.shape[0]
    for j in range(n):
        p = j + int(np.argmax(np.abs(U[j:, j])))
        if U[p, j] == 0.0:
            return j + 1
        if p != j:
            U[[j, p]] = U[[p, j]]
        U[j + 1:, j:] -= np.outer(U[j + 1:, j] / U[j, j], U[j, j:])
    return 0


def _singular(which, A):
    nb = A.shape[0]
    for i in range(nb):
        j = _first_zero_pivot(A[i])
        if j:
            if which == INV:
                return LinAlgError(f"linalg.inv: {_batch_prefix(nb, i)}The diagonal element "
                                   f"{j} is zero, the inversion could not be completed "
                                   f"because the input matrix is singular.")
            return LinAlgError(f"torch.linalg.solve: {_batch_prefix(nb, i)}The solver failed "
                               f"because the input matrix is singular.")
    return LinAlgError(f"linalg.{NAMES[which]}: the input matrix is singular.")


def _not_positive_definite(A):
    nb = A.shape[0]
    for i in range(nb):
        order = partial_cholesky(A[i])[1]
        if order:
            return LinAlgError(f"linalg.cholesky: {_batch_prefix(nb, i)}The factorization "
                               f"could not be completed because the input is not "
                               f"positive-definite (the leading minor of order {order} is not "
                               f"positive-definite).")
    return LinAlgError("linalg.cholesky: the input is not positive-definite.")


def partial_cholesky(a):
    """LAPACK's unblocked lower Cholesky (potf2) of the matrix a until a pivot is not positive
    (or is nan): (L, the order of that leading minor, 0 if none); L holds that pivot
    unrooted and the rest of a's lower triangle as it was (its upper triangle zero)."""
    L = np.tril(a)
    n = len(L)
    for j in range(n):
        ajj = L[j, j] - L[j, :j] @ L[j, :j]
        if not ajj > 0:
            L[j, j] = ajj
            return L, j + 1
        L[j, j] = ajj = np.sqrt(ajj)
        L[j + 1:, j] = (L[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / ajj
    return L, 0


# ---- the numpy faces ---------------------------------------------------------------------------
def trsm(A, B, upper, left, unit):
    """X with T X = B (left) or X T = B, T the upper / lower triangle of A (unit: ones on its
    diagonal), by substitution as LAPACK's trsm: no pivoting, inf / nan on a zero diagonal
    element, as torch.  A (..., n, n) and B (..., n, k) / (..., k, n), batch dims equal."""
    if not left:   # X T = B  <=>  T^T X^T = B^T, T^T of the other triangle
        return trsm(A.swapaxes(-1, -2), B.swapaxes(-1, -2), not upper, True,
                    unit).swapaxes(-1, -2)
    n = A.shape[-1]
    X = np.array(B, dtype=np.result_type(A, B), copy=True)
    order = range(n - 1, -1, -1) if upper else range(n)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for i in order:
            rest = slice(i + 1, n) if upper else slice(0, i)
            if rest.stop > rest.start:
                X[..., i, :] -= np.einsum("...j,...jk->...k", A[..., i, rest], X[..., rest, :])
            if not unit:
                X[..., i, :] /= A[..., i, i:i + 1]
    return X


# Higham (2005), "The scaling and squaring method for the matrix exponential revisited": the
# [m/m] Pade approximants' coefficients and the 1-norm bounds up to which each is exact in
# double precision (torch uses degree-optimised Taylor polynomials: equal to rounding)
_PADE = {3: (120., 60., 12., 1.),
         5: (30240., 15120., 3360., 420., 30., 1.),
         7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
         9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
             3960., 90., 1.),
         13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
              129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
              40840800., 960960., 16380., 182., 1.)}
_THETA = ((3, 1.495585217958292e-002), (5, 2.539398330063230e-001),
          (7, 9.504178996162932e-001), (9, 2.097847961257068e+000))
_THETA13 = 5.371920351148152


def _expm(A):
    """exp of one float64 matrix by scaling and squaring on a Pade approximant."""
    n = A.shape[-1]
    eye = np.eye(n)
    norm = np.abs(A).sum(0).max() if n else 0.0
    if not np.isfinite(norm):
        return np.full_like(A, np.nan)
    for m, theta in _THETA:
        if norm <= theta:
            return _pade(A, m, eye)
    s = max(0, int(np.ceil(np.log2(norm / _THETA13))))
    E = _pade(A / 2.0 ** s, 13, eye)
    for _ in range(s):
        E = E @ E
    return E


def _pade(A, m, eye):
    b = _PADE[m]
    A2 = A @ A
    if m == 13:
        A4, A6 = A2 @ A2, A2 @ A2 @ A2
        U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4
                 + b[3] * A2 + b[1] * eye)
        V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 \
            + b[0] * eye
    else:
        P, U, V = eye, 0.0, 0.0
        for k in range(0, m + 1, 2):
            U = U + b[k + 1] * P
            V = V + b[k] * P
            P = P @ A2
        U = A @ U
    return np.linalg.solve(V - U, V + U)


def expm(A):
    """exp of each matrix of A (..., n, n), computed in float64, in A's dtype."""
    flat = np.asarray(A, np.float64).reshape((int(np.prod(A.shape[:-2])),) + A.shape[-2:])
    out = np.stack([_expm(M) for M in flat]) if flat.shape[0] else flat.copy()
    return out.reshape(A.shape).astype(A.dtype)



def _expm_block(X, Y):
    """The top-right block of exp([[X, Y], [0, X]]): the derivative of exp at X along Y
    (Mathias 1996, torch's linalg_matrix_exp_differential)."""
    nb, n = X.shape[0], X.shape[-1]
    M = np.zeros((nb, 2 * n, 2 * n), np.result_type(X, Y))
    M[:, :n, :n] = X
    M[:, n:, n:] = X
    M[:, :n, n:] = Y
    return expm(M)[:, :n, n:]


def tri_flag(upper, left, unit):
    """A SOLVE_TRIANGULAR entry's flag bits (1 left=False, 2 upper, 4 unitriangular)."""
    return (0 if left else 1) | (2 if upper else 0) | (4 if unit else 0)


def _tri_flags(flag):
    """(upper, left, unit) of a SOLVE_TRIANGULAR entry's flag bits."""
    return bool(flag & 2), not flag & 1, bool(flag & 4)


def _project(G, upper, unit):
    """G on the triangle the entry reads (without its diagonal when unitriangular)."""
    return np.triu(G, int(unit)) if upper else np.tril(G, -int(unit))


def forward(which, flag, A, B=None):
    """The entry's value from 3-d A (and B), in their dtype; torch's errors.  Silent where
    a value overflows (a float32 det past its range, expm's cast back, a solve by a tiny
    matrix), as torch's LAPACK results are: no numpy RuntimeWarning."""
    return quiet(_forward, which, flag, A, B)


def _forward(which, flag, A, B):
    try:
        if which == DET:
            return np.linalg.det(A)
        if which == LOGDET:
            return np.linalg.slogdet(A)[1]
        if which == SIGNDET:
            return np.linalg.slogdet(A)[0]
        if which == INV:
            return np.linalg.inv(A)
        if which == SOLVE:
            if flag:
                return np.linalg.solve(A.swapaxes(-1, -2), B.swapaxes(-1, -2)).swapaxes(-1, -2)
            return np.linalg.solve(A, B)
        if which == CHOLESKY:   # upper: U = L^T of the upper triangle's matrix, as torch
            L = np.linalg.cholesky(A.swapaxes(-1, -2)).swapaxes(-1, -2) if flag \
                else np.linalg.cholesky(A)
            if np.isnan(L).any():   # (numpy's nan result where LAPACK's pivot was nan)
                raise np.linalg.LinAlgError
            return L
        if which == SOLVE_TRIANGULAR:
            return trsm(A, B, *_tri_flags(flag))
        if which == MATRIX_EXP:
            return expm(A)
        if which == EIGVALSH:
            return np.linalg.eigvalsh(A, UPLO="U" if flag else "L")
        return svd(A, compute_uv=False)
    except np.linalg.LinAlgError:
        if which == EIGVALSH:
            raise LinAlgError(EIGH_FAILED) from None
        if which == CHOLESKY:
            raise _not_positive_definite(A.swapaxes(-1, -2) if flag else A) from None
        raise _singular(which, A) from None


def _inv_t(A, det, fill):
    """A^-T per matrix, `fill` where det == 0 (det: the determinants, or their signs)."""
    out = np.full_like(A, fill)
    ok = det != 0
    if ok.any():
        out[ok] = np.linalg.inv(A[ok]).swapaxes(-1, -2)
    return out


def _phi(P):
    """The lower triangle of P with half its diagonal (Cholesky's derivative map)."""
    P = np.tril(P)
    d = np.einsum("...ii->...i", P)
    d *= 0.5
    return P


def vjp(which, flag, g, A, B, out, needs):
    """(gA, gB) (None where not needed) of the entry given g, its output's gradient, all 3-d
    (det: 1-d) arrays in one dtype; silent where they overflow, as forward."""
    return quiet(_vjp, which, flag, g, A, B, out, needs)


def _vjp(which, flag, g, A, B, out, needs):
    gA = gB = None
    if which == DET:
        # NOTE: g * det * A^-T; on an exactly singular matrix torch's backward (an LU solve of
        # det * I, det = 0) gives zeros, not the cofactor matrix; so do we (+0.0 each: torch's
        # signs of them, and of det's zero itself, come from MKL's LU, see docs/semantics.md)
        gA = (g * out)[:, None, None] * _inv_t(A, out, 0.0)
    elif which == LOGDET:
        # NOTE: nan on an exactly singular matrix (torch: +-inf from a perturbed LU solve);
        # singular by slogdet's sign, not det: a det past float's range (0 or inf, with a
        # warning) for a large well-conditioned matrix (eye(200) * 0.01) is not singular
        gA = g[:, None, None] * _inv_t(A, np.linalg.slogdet(A)[0], np.nan)
    elif which == SIGNDET:
        # NOTE: the sign is piecewise constant; torch's slogdet backward of a real matrix
        # reads no gradient of it (zero here)
        gA = np.zeros_like(A)
    elif which == INV:
        Xt = out.swapaxes(-1, -2)
        gA = -(Xt @ g @ Xt)
    elif which == SOLVE:
        if flag:   # X A = B: gB = g A^-T, gA = -X^T gB
            gB = np.linalg.solve(A, g.swapaxes(-1, -2)).swapaxes(-1, -2)
            if needs[0]:
                gA = -(out.swapaxes(-1, -2) @ gB)
        else:      # A X = B: gB = A^-T g, gA = -gB X^T
            gB = np.linalg.solve(A.swapaxes(-1, -2), g)
            if needs[0]:
                gA = -(gB @ out.swapaxes(-1, -2))
    elif which == CHOLESKY:
        # torch's cholesky_backward: gA = L^-T Phi L^-1, Phi = (P + tril(P, -1)^T) / 2 with
        # P = tril(L^T gL): symmetric (the function is taken on symmetric matrices)
        L, gL = (out.swapaxes(-1, -2), g.swapaxes(-1, -2)) if flag else (out, g)
        P = np.tril(L.swapaxes(-1, -2) @ gL)
        P = 0.5 * (P + np.tril(P, -1).swapaxes(-1, -2))
        Lt = L.swapaxes(-1, -2)
        Y = np.linalg.solve(Lt, P)
        gA = np.linalg.solve(Lt, Y.swapaxes(-1, -2)).swapaxes(-1, -2)
    elif which == SOLVE_TRIANGULAR:
        # torch's linalg_solve_triangular_backward: G_B = A^-T g, G_A = -G_B X^T (left=False:
        # -X^T G_B) on the triangle A is read from
        upper, left, unit = _tri_flags(flag)
        gB = trsm(A.swapaxes(-1, -2), g, not upper, left, unit)
        if needs[0]:
            Xt = out.swapaxes(-1, -2)
            gA = _project(-(gB @ Xt) if left else -(Xt @ gB), upper, unit)
    elif which == MATRIX_EXP:   # the adjoint of the derivative: at A^T along g
        gA = _expm_block(A.swapaxes(-1, -2), g)
    elif which == EIGVALSH:     # torch's: V diag(g) V^T (not restricted to the triangle read)
        V = np.linalg.eigh(A, UPLO="U" if flag else "L")[1]
        gA = (V * g[:, None, :]) @ V.swapaxes(-1, -2)
    else:
        U, _, Vh = svd(A, full_matrices=False)
        gA = U @ (g[:, :, None] * Vh)
    return gA, gB


def jvp(which, flag, A, B, out, dA, dB):
    """The output's tangent given the operands' tangents dA (and dB; None: zero)."""
    if which == SIGNDET:
        return np.zeros_like(out)
    if which in (DET, LOGDET):
        tr = np.einsum("bij,bji->b", np.linalg.inv(A), dA)
        return out * tr if which == DET else tr
    if which == INV:
        return -(out @ dA @ out)
    if which == SOLVE:
        if flag:   # X A = B: dX = (dB - X dA) A^-1
            r = (dB if dB is not None else 0.0) - out @ dA
            return np.linalg.solve(A.swapaxes(-1, -2), r.swapaxes(-1, -2)).swapaxes(-1, -2)
        r = (dB if dB is not None else 0.0) - dA @ out
        return np.linalg.solve(A, r)
    if which == CHOLESKY:
        # dA symmetrized from the triangle the value reads (upper: its upper one)
        dA = dA.swapaxes(-1, -2) if flag else dA
        low = np.tril(dA)
        dS = low + np.tril(dA, -1).swapaxes(-1, -2)
        L = out.swapaxes(-1, -2) if flag else out
        Linv = np.linalg.inv(L)
        dL = L @ _phi(Linv @ dS @ Linv.swapaxes(-1, -2))
        return dL.swapaxes(-1, -2) if flag else dL
    if which == MATRIX_EXP:
        return _expm_block(A, dA)
    if which == EIGVALSH:   # v_i^T dS v_i, dS the symmetric matrix of the triangle read
        dA = dA.swapaxes(-1, -2) if flag else dA
        dS = np.tril(dA) + np.tril(dA, -1).swapaxes(-1, -2)
        V = np.linalg.eigh(A, UPLO="U" if flag else "L")[1]
        return np.einsum("bji,bjk,bki->bi", V, dS, V)
    if which == SOLVE_TRIANGULAR:   # A^-1 (dB - dA' X), dA' on A's triangle
        upper, left, unit = _tri_flags(flag)
        dT = _project(dA, upper, unit)
        r = (dB if dB is not None else 0.0) - (dT @ out if left else out @ dT)
        return trsm(A, r, upper, left, unit)
    U, _, Vh = svd(A, full_matrices=False)
    return np.einsum("bji,bjk,bik->bi", U, dA, Vh)   # u_i^T dA v_i


# ---- host faces (kinds.HOST_FORWARD / HOST_VJP) ---------------------------------------------------
def _arena(vals, off, node, count, shape, given=None):
    if given is not None:
        return np.asarray(given).reshape(shape)
    return vals[off[node]:off[node] + count].reshape(shape)


def host_forward(params, p, a, b, e, off, vals):
    """Write entry e's value into its arena slice (replay's forward)."""
    which, nb, n, k, flag = (int(v) for v in params[p:p + NPARAMS])
    sa, sb, so = in_sizes(which, nb, n, k, flag)
    ash, bsh, osh = _shapes(which, nb, n, k, flag)
    A = _arena(vals, off, a, sa, ash)
    B = _arena(vals, off, b, sb, bsh) if which in SOLVES else None
    vals[off[e]:off[e] + so] = forward(which, flag, A, B).reshape(-1)


def host_vjp(params, p, a, b, e, off, vals, adj, needs, A=None, B=None, out=None):
    """Add entry e's input gradients into `adj`.  A, B, out: the values as saved (their own
    dtype: float32 LAPACK for a float32 model, as torch's), else read from the arena (replay,
    one-element nodes)."""
    which, nb, n, k, flag = (int(v) for v in params[p:p + NPARAMS])
    sa, sb, so = in_sizes(which, nb, n, k, flag)
    ash, bsh, osh = _shapes(which, nb, n, k, flag)
    A = _arena(vals, off, a, sa, ash, A)
    B = _arena(vals, off, b, sb, bsh, B) if which in SOLVES else None
    out = _arena(vals, off, e, so, osh, out)
    dt = np.result_type(A.dtype, out.dtype)
    g = adj[off[e]:off[e] + so].reshape(osh).astype(dt)
    gA, gB = vjp(which, flag, g, A.astype(dt, copy=False), B, out.astype(dt, copy=False), needs)
    if needs[0] and gA is not None:
        adj[off[a]:off[a] + sa] += gA.reshape(-1)
    if which in SOLVES and needs[1] and gB is not None:
        adj[off[b]:off[b] + sb] += gB.reshape(-1)


# ---- tensor faces (create_graph, replay's tensor re-run) -------------------------------------------
def tensor_forward_linalg(T, x, y, shape, params, imm):
    which, nb, n, k, flag = (int(v) for v in params[:NPARAMS])
    ash, bsh, _ = _shapes(which, nb, n, k, flag)
    yb = y.reshape(bsh) if which in SOLVES else None
    return T.lapack(which, x.reshape(ash), yb, flag).reshape(shape)


def _near_singular(det):
    """torch's bound of det's singular formula: 100 eps of the dtype."""
    return 100.0 * float(np.finfo(np.float32 if det.dtype.itemsize == 4 else np.float64).eps)


def _any_near_singular(det):
    return bool((np.abs(det.detach().numpy()) < _near_singular(det)).any())


# NOTE: torch's linalg_det_backward under create_graph takes g times the cofactor matrix by
# the SVD where |det| < 100 eps, (U diag(the products of the other singular values) Vh)
# det(U) det(Vh) (prod_safe_zeros_backward: right at a zero singular value), and g det A^-T
# elsewhere: a second derivative of det at a singular matrix is then finite (rank n - 1), not
# the inverse's LinAlgError.  (Its first derivative there, without create_graph, is torch's
# zeros: an LU solve of det * I.)
def _det_vjp_near_singular(T, G, A, det):
    nb, n = A.shape[0], A.shape[-1]
    U, S, Vh = T.svd(A)
    alpha = T.lapack(DET, U, None, 0) * T.lapack(DET, Vh, None, 0)
    ones = S.new_ones((nb, 1))
    # (the product rule's running products: their derivatives stay exact at a singular value
    # near 0, where cumprod's, torch's reversed_cumsum(y * g) / x, divide by it)
    before = T.running_product(T.cat([ones, S.narrow(-1, 0, n - 1)], -1))
    after = T.running_product(T.cat([ones, S.narrow(-1, 1, n - 1).flip(-1)], -1)).flip(-1)
    D = (G * alpha).reshape(nb, 1) * (before * after)
    cof = (U * D.unsqueeze(-2)) @ Vh
    small = (det.abs() < _near_singular(det)).reshape(nb, 1, 1)
    if bool(small.all()):
        return cof
    safe = A.where(~small, A.new_tensor(np.eye(n)))
    regular = (G * det).reshape(nb, 1, 1) * T.lapack(INV, safe, None, 0).mT
    return cof.where(small, regular)


def tensor_vjp_linalg(T, g, operand, a_shape, b_shape, params, imm):
    which, nb, n, k, flag = (int(v) for v in params[:NPARAMS])
    ash, bsh, osh = _shapes(which, nb, n, k, flag)
    # operand(2) is the entry's output, as saved (torch's VJPs read `result` too), so the
    # recorded gradient differentiates through it
    G = g.reshape(osh)
    res = []
    if which == SIGNDET:
        res.append((0, G.new_zeros(ash)))
    elif which == DET and _any_near_singular(operand(2)):
        res.append((0, _det_vjp_near_singular(T, G, operand(0).reshape(ash),
                                              operand(2).reshape(osh))))
    elif which in (DET, LOGDET):
        A = operand(0).reshape(ash)
        Ainv_t = T.lapack(INV, A, None, 0).mT
        scale = G * operand(2).reshape(osh) if which == DET else G
        res.append((0, scale.reshape(nb, 1, 1) * Ainv_t))
    elif which == INV:
        Xt = operand(2).reshape(osh).mT
        res.append((0, -(Xt @ G @ Xt)))
    elif which == SOLVE:
        A = operand(0).reshape(ash)
        X = operand(2).reshape(osh)
        if flag:
            gB = T.lapack(SOLVE, A.mT, G, 1)           # g A^-T: Y A^T = g
            gA = -(X.mT @ gB)
        else:
            gB = T.lapack(SOLVE, A.mT, G, 0)
            gA = -(gB @ X.mT)
        res += [(0, gA), (1, gB)]
    elif which == CHOLESKY:
        L = operand(2).reshape(osh)
        L, gL = (L.mT, G.mT) if flag else (L, G)
        P = (L.mT @ gL).tril()
        P = (P + P.tril(-1).mT) * 0.5
        Y = T.lapack(SOLVE, L.mT, P, 0)
        res.append((0, T.lapack(SOLVE, L.mT, Y.mT, 0).mT))
    elif which == SOLVE_TRIANGULAR:   # A^T's entry reads the other triangle (upper bit flipped)
        upper, left, unit = _tri_flags(flag)
        A = operand(0).reshape(ash)
        X = operand(2).reshape(osh)
        gB = T.lapack(SOLVE_TRIANGULAR, A.mT, G, flag ^ 2)
        gA = -(gB @ X.mT) if left else -(X.mT @ gB)
        res += [(0, gA.triu(int(unit)) if upper else gA.tril(-int(unit))), (1, gB)]
    elif which == MATRIX_EXP:   # exp of the 2n x 2n block matrix: an entry of this kind again
        At = operand(0).reshape(ash).mT
        block = T.cat([T.cat([At, G], -1), T.cat([G.new_zeros(ash), At], -1)], -2)
        E = T.lapack(MATRIX_EXP, block, None, 0)
        res.append((0, E.narrow(-2, 0, n).narrow(-1, n, n)))
    elif which == EIGVALSH:   # V of linalg.eigh's node (T.eigh): it differentiates again
        V = T.eigh(operand(0).reshape(ash), "U" if flag else "L")[1]
        res.append((0, (V * G.unsqueeze(-2)) @ V.mT))
    else:   # U diag(g) V^T with U, Vh of linalg.svd's node (T.svd): it differentiates again
        U, _, Vh = T.svd(operand(0).reshape(ash))
        res.append((0, U @ (G.reshape(osh + (1,)) * Vh)))
    shapes = (a_shape, b_shape)
    return [(i, gi.reshape(shapes[i] if shapes[i] is not None else ())) for i, gi in res]
