"""torch.linalg: det, slogdet, inv, solve, cholesky, svdvals on numpy's LAPACK, matrix norms
and cond built on them, and the vector norms and cross product of other modules.

det, slogdet, inv, solve, cholesky and svdvals record one host entry each (kind `linalg`,
tapegrad/kinds/linalg.py): np.linalg computes the value at the call, the sweep pauses at the
entry and numpy computes its VJP (g * det * A^-T, -X^T g X^T, A^-T g ...), replay's forward
and reverse sweeps pause there too, and create_graph records the VJP with these same entries,
so derivatives of every order come out (svdvals: first order only).  Batches are stacks of
matrices; solve broadcasts A's and B's batch dims as torch (with expand entries)."""
import math

import numpy as np

from . import dtypes as D
from .kinds import linalg as K
from .kinds.linalg import LinAlgError
from .mathops import linalg_norm as _vector_or_fro, vector_norm
from .ndops import where
from .ops import OPS
from .products import linalg_cross as cross  # noqa: F401  (torch.linalg.cross)
from .pyfunc import Function
from .recording import _record_start, _result
from .return_types import _make

_RT = {name: _make(name, fields) for name, fields in (
    ("linalg_slogdet", ("sign", "logabsdet")), ("slogdet", ("sign", "logabsdet")),
    ("linalg_inv_ex", ("inverse", "info")), ("linalg_solve_ex", ("result", "info")),
    ("linalg_cholesky_ex", ("L", "info")), ("linalg_svd", ("U", "S", "Vh")))}
from .tape import input_node
from .tensor import Tensor, tensor_methods
from .views import KIND_OPS

__all__ = ["norm", "vector_norm", "matrix_norm", "cross", "det", "slogdet", "inv", "inv_ex",
           "solve", "solve_ex", "cholesky", "cholesky_ex", "svd", "svdvals", "cond",
           "LinAlgError"]

_ROW = ("det", "slogdet", "inv", "solve", "cholesky", "svdvals")


def _matrix_arg(fn, A, square=True, name="A", position=1):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_{fn}(): argument '{name}' (position {position}) must be "
                        f"Tensor, not {type(A).__name__}")
    if A.dim() < 2:
        what = "svd" if fn in ("svdvals", "cond") else fn
        raise RuntimeError(f"linalg.{what}: The input tensor A must have at least 2 dimensions.")
    if square and A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"linalg.{fn}: A must be batches of square matrices, but they are "
                           f"{A._shape[-2]} by {A._shape[-1]} matrices")
    if not A._dtype.is_floating_point:
        raise RuntimeError(f"linalg.{fn}: Expected a floating point or complex tensor as "
                           f"input. Got {A._dtype.legacy}")


def _lapack(which, A, B=None, flag=0):
    """One linalg entry on A (..., n, n) (svdvals: (..., m, n)) and, for solve, B with A's
    batch dims ((..., n, k), left=False (..., k, n), or a vector batch (..., n)): the value
    from np.linalg, recorded as a host entry when an operand requires grad."""
    shape = A._shape
    nb = math.prod(shape[:-2])
    n, kA = shape[-2], shape[-1]
    Aa = A._array().reshape(nb, n, kA)
    Ba = None
    k = kA
    if which == K.SOLVE:   # B: a vector batch (k = 1), or (..., n, k) / left=False (..., k, n)
        k = 1 if B.dim() == A.dim() - 1 else B._shape[-2 if flag else -1]
        Ba = B._array().reshape((nb, k, n) if flag else (nb, n, k))
    out = K.forward(which, flag, Aa, Ba)
    if which in (K.DET, K.LOGDET):
        oshape = shape[:-2]
    elif which == K.SOLVE:
        oshape = B._shape
    elif which == K.SVDVALS:
        oshape = shape[:-2] + (min(n, kA),)
    else:
        oshape = shape
    out = np.asarray(out, A._dtype.np).reshape(oshape)
    tape = _record_start(A, B) if B is not None else _record_start(A)
    if tape is None:
        return Tensor._wrap(out, A._dtype)
    a = _node(tape, A, Aa)
    b = _node(tape, B, Ba) if B is not None else -1
    row = OPS[_ROW[which]]
    saves = [("a", a, Aa), ("b", b, Ba), ("out", None, out)]
    t = _result(out, A._dtype, tape, row.code, a, b, 0.0,
                [s for s in saves if s[0] in row.saves])
    tape.add_params(t._node, [which, nb, n, k, flag])
    tape.set_host(t._node)
    return t


def _node(tape, x, arr):
    """x's node on tape: its own (requires grad) or a const node holding its value."""
    if x._recorded:
        return input_node(tape, x)
    node = tape.const_node(np.asarray(arr).reshape(x._shape))
    tape.save(node, np.asarray(arr).reshape(x._shape))
    tape.watch(node, x)
    return node


# the tensor faces of the linalg kind record their entries through this (create_graph, replay)
KIND_OPS.lapack = _lapack


def det(A, *, out=None):
    """The determinant of square matrices (LinalgDetBackward0).  Its gradient on an exactly
    singular matrix is zero, as torch's."""
    _no_out("det", out)
    _matrix_arg("det", A)
    return _lapack(K.DET, A)


def slogdet(A, *, out=None):
    """(sign, logabsdet) of square matrices (LinalgSlogdetBackward0 on logabsdet; the sign of
    a real matrix is a constant: its gradient is zero)."""
    _no_out("slogdet", out)
    _matrix_arg("slogdet", A)
    sign = np.linalg.slogdet(A._array())[0].astype(A._dtype.np) if A.numel() else \
        np.ones(A._shape[:-2], A._dtype.np)
    return _RT["linalg_slogdet"]((Tensor._wrap(np.asarray(sign).reshape(A._shape[:-2]), A._dtype),
                  _lapack(K.LOGDET, A)))


def torch_slogdet(A):
    """torch.slogdet: linalg.slogdet as a torch.return_types.slogdet."""
    return _RT["slogdet"](slogdet(A))


def logdet(A):
    """log(det(A)): nan where det < 0, -inf where det == 0 (torch's WhereBackward0 node)."""
    _matrix_arg("logdet", A)
    sign, logabs = slogdet(A)
    if not logabs.requires_grad:
        return Tensor._wrap(np.where(sign._array() < 0, np.nan, logabs._array()), A._dtype)
    return where(sign < 0, math.nan, logabs)


def inv(A, *, out=None):
    """The inverse of square matrices (LinalgInvExBackward0); torch's LinAlgError when one is
    singular."""
    _no_out("inv", out)
    _matrix_arg("inv", A)
    return _lapack(K.INV, A)


def inv_ex(A, *, check_errors=False, out=None):
    """(inverse, info) as torch.linalg.inv_ex (info 0: this raises on a singular input)."""
    return _RT["linalg_inv_ex"]((inv(A, out=out), _info(A)))


def _info(A):
    return Tensor._wrap(np.zeros(A._shape[:-2], np.int32), D.int32)


def _no_out(fn, out):
    if out is not None:
        raise NotImplementedError(f"tapegrad: linalg.{fn}(out=...) is not implemented")


def solve(A, B, *, left=True, out=None):
    """X with A @ X = B (left=False: X @ A = B) (LinalgSolveExBackward0); B a vector or a
    matrix as torch decides, batch dims broadcast; torch's LinAlgError for a singular A."""
    _no_out("solve", out)
    _matrix_arg("solve", A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg_solve(): argument 'B' (position 2) must be Tensor, not "
                        f"{type(B).__name__}")
    if B._dtype is not A._dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {A._dtype.legacy} and B of type {B._dtype.legacy} "
                           f"instead")
    n = A._shape[-1]
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and B._shape == A._shape[:-1])
    rows, cols = ((B._shape[-1], 1) if vector else B._shape[-2:]) if B.dim() else (1, 1)
    if B.dim() < 1 or (not vector and B.dim() < 2):
        raise RuntimeError("linalg.solve: The input tensor B must have at least 2 dimensions.")
    if (rows if left else cols) != n or (vector and not left and n != 1):
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{eq} ({n}x{n} and {rows}x{cols})")
    b_batch = B._shape[:-1] if vector else B._shape[:-2]
    try:
        batch = np.broadcast_shapes(A._shape[:-2], b_batch)
    except ValueError:
        raise RuntimeError(f"linalg.solve: The batch dimensions of A {list(A._shape[:-2])} and "
                           f"B {list(b_batch)} are not broadcastable") from None
    if A._shape[:-2] != batch:
        A = A.expand(*(batch + A._shape[-2:]))
    if b_batch != batch:
        B = B.expand(*(batch + B._shape[len(b_batch):]))
    return _lapack(K.SOLVE, A, B, 0 if left else 1)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """(result, info) as torch.linalg.solve_ex (info 0: this raises on a singular input)."""
    X = solve(A, B, left=left, out=out)
    return _RT["linalg_solve_ex"]((X, _info(A)))


def cholesky(A, *, upper=False, out=None):
    """The Cholesky factor L (A = L L^T) of symmetric positive-definite matrices, read from
    the lower triangle (upper=True: U = L^T, read from the upper triangle), as torch's
    (LinalgCholeskyExBackward0; its gradient is symmetric); torch's LinAlgError naming the
    order of the first leading minor that is not positive-definite."""
    _no_out("cholesky", out)
    _matrix_arg("cholesky", A)
    return _lapack(K.CHOLESKY, A, None, 1 if upper else 0)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """(L, info) as torch.linalg.cholesky_ex (info 0: this raises on a failed factorization)."""
    return _RT["linalg_cholesky_ex"]((cholesky(A, upper=upper, out=out), _info(A)))


def svdvals(A, *, driver=None, out=None):
    """The singular values of matrices, descending (LinalgSvdBackward0; gradient U diag(g)
    V^T, first order only)."""
    _no_out("svdvals", out)
    _matrix_arg("svdvals", A, square=False)
    return _lapack(K.SVDVALS, A)


class LinalgSvd(Function):
    """linalg.svd as one node with three outputs (LinalgSvdBackward0), on the custom-Function
    machinery: numpy's LAPACK forward, torch's svd_backward in tapegrad ops (so it
    differentiates again; svdvals' create_graph VJP goes through it)."""

    @staticmethod
    def forward(ctx, A, full_matrices):
        U, S, Vh = np.linalg.svd(A._array(), full_matrices=full_matrices)
        dt = A._dtype
        U, S, Vh = (Tensor._wrap(np.ascontiguousarray(x, dt.np), dt) for x in (U, S, Vh))
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(U, S, Vh)
        ctx.full = full_matrices
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        k = S._shape[-1]
        if ctx.full:   # torch: the gradient of the first k columns / rows only
            U, Vh = U.narrow(-1, 0, k), Vh.narrow(-2, 0, k)
            gU = gU.narrow(-1, 0, k) if gU is not None else None
            gVh = gVh.narrow(-2, 0, k) if gVh is not None else None
        return _svd_backward(gU, gS, gVh, U, S, Vh), None


LinalgSvd._backward_cls.__name__ = "LinalgSvdBackward0"
LinalgSvd._backward_cls.name = lambda self: "LinalgSvdBackward0"


def _svd_backward(gU, gS, gVh, U, S, Vh):
    """torch's svd_backward (FunctionsManual.cpp), real case, reduced U (m, k), Vh (k, n)."""
    m, n = U._shape[-2], Vh._shape[-1]
    if gU is None and gVh is None:
        return U @ (gS.unsqueeze(-1) * Vh) if gS is not None else None
    V = Vh.mT
    gV = gVh.mT if gVh is not None else None
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1)
    eye = Tensor._wrap(np.eye(S._shape[-1], dtype=S._dtype.np), S._dtype)
    E = E + eye                        # (its diagonal set to 1)
    if gU is not None:
        UhgU = U.mT @ gU
        UhgU = UhgU - UhgU.mT
    if gV is not None:
        VhgV = Vh @ gV
        VhgV = VhgV - VhgV.mT
    if gU is not None and gV is not None:
        gA = (UhgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VhgV) / E
    elif gU is not None:
        gA = UhgU * (S.unsqueeze(-2) / E)
    else:
        gA = S.unsqueeze(-1) * (VhgV / E)
    if gS is not None:
        gA = gA + gS.diag_embed()
    if m > n and gU is not None:
        gA = U @ gA
        gUSinv = gU / S.unsqueeze(-2)
        gA = gA + gUSinv - U @ (U.mT @ gUSinv)
        return gA @ Vh
    if m < n and gV is not None:
        gA = gA @ Vh
        SinvgVh = gV.mT / S.unsqueeze(-1)
        gA = gA + SinvgVh - (SinvgVh @ V) @ Vh
        return U @ gA
    return U @ (gA @ Vh)


def svd(A, full_matrices=True, *, driver=None, out=None):
    """(U, S, Vh) with A = U diag(S) Vh (LinalgSvdBackward0, torch's gradient; with
    full_matrices the gradient of the first min(m, n) singular vectors).  One custom-Function
    node: a tape holding it does not replay (record refuses it)."""
    _no_out("svd", out)
    _matrix_arg("svd", A, square=False)
    return _RT["linalg_svd"](LinalgSvd.apply(A, bool(full_matrices)))


# svdvals' create_graph VJP reads the singular vectors through this (kinds/linalg.py)
KIND_OPS.svd = lambda A: LinalgSvd.apply(A, False)


_MATRIX_ORDS = ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """Matrix norms over the two dims `dim`: 'fro' and 'nuc' (the sum of the singular values),
    2 / -2 (the largest / smallest singular value), 1 / -1 (max / min column sum of |A|),
    inf / -inf (the same over rows), as torch's compositions."""
    _no_out("matrix_norm", out)
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_matrix_norm(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(A).__name__}")
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if not A._dtype.is_floating_point:
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor "
                           f"as input. Got {A._dtype.legacy}")
    if dtype is not None:
        A = A.to(dtype)
    nd = A.dim()
    d0, d1 = (int(d) % nd for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, "
                           f"{dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):   # torch's: the two dims permuted last, and back for keepdim
        perm = [d for d in range(nd) if d not in (d0, d1)] + [d0, d1]
        s = svdvals(A.permute(perm))
        r = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            r = r.unsqueeze(-1).unsqueeze(-1).permute(list(np.argsort(perm)))
        return r
    # 1 / -1: the 1-norm over rows (d0) then max/min over columns; inf / -inf the other way
    # (torch's composition: LinalgVectorNormBackward0 then AmaxBackward0 / AminBackward0)
    over, across = (d0, d1) if abs(ord) == 1 else (d1, d0)
    if not keepdim and over < across:
        across -= 1
    s = vector_norm(A, 1, over, keepdim)
    return s.amax(across, keepdim) if ord > 0 else s.amin(across, keepdim)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """torch.linalg.norm: a vector norm (1-d input or one dim, or ord None over everything),
    or a matrix norm (2-d input with dim None, or two dims)."""
    _no_out("norm", out)
    if isinstance(A, Tensor) and ord is not None and dim is None and A.dim() not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.dim()}D.")
    if isinstance(A, Tensor) and ord is not None and dim is None and A.dim() == 1 and \
            isinstance(ord, str):
        return matrix_norm(A, ord)      # (torch's error: a matrix norm of a vector)
    if isinstance(A, Tensor) and ord is not None and not isinstance(ord, str) and \
            ((dim is None and A.dim() == 2) or (isinstance(dim, (tuple, list)) and len(dim) == 2)):
        return matrix_norm(A, ord, (-2, -1) if dim is None else tuple(dim), keepdim, dtype=dtype)
    if isinstance(ord, str) and ord != "fro" or ord == "fro" and dim is not None and \
            len(dim) == 2:
        return matrix_norm(A, ord, (-2, -1) if dim is None else tuple(dim), keepdim, dtype=dtype)
    return _vector_or_fro(A, ord, dim, keepdim, dtype=dtype)


def cond(A, p=None, *, out=None):
    """The condition number of matrices in the norm p: for p None / 2 / -2 a ratio of
    singular values, else matrix_norm(A, p) * matrix_norm(inv(A), p)."""
    _no_out("cond", out)
    _matrix_arg("cond", A, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(A)   # descending: torch divides the first by the last
        big, small = s.narrow(-1, 0, 1), s.narrow(-1, s._shape[-1] - 1, 1)
        return (big / small if p != -2 else small / big).squeeze(-1)
    try:
        Ainv = inv(A)
    except LinAlgError:   # torch: inf for a singular matrix (its backward raises there)
        return _cond_singular(A, p)
    # torch's composition ends with nan_to_num (NanToNumBackward0); infs pass through
    return (matrix_norm(A, p) * matrix_norm(Ainv, p)).nan_to_num(math.inf, math.inf, -math.inf)


def _cond_singular(A, p):
    """cond(A, p) of a batch holding a singular matrix: inf there, no gradient (torch's
    backward raises on it)."""
    a = A._array()
    out = np.empty(A._shape[:-2], A._dtype.np).reshape(-1)
    for i, M in enumerate(a.reshape((-1,) + a.shape[-2:])):
        try:
            out[i] = np.linalg.norm(M, p) * np.linalg.norm(np.linalg.inv(M), p)
        except np.linalg.LinAlgError:
            out[i] = math.inf
    return Tensor._wrap(out.reshape(A._shape[:-2]), A._dtype)


@tensor_methods
class _LinalgMethods:
    """Tensor.det(), Tensor.inverse(), Tensor.logdet(), Tensor.slogdet()."""

    def det(self):
        return det(self)

    def inverse(self):
        return inv(self)

    def logdet(self):
        return logdet(self)

    def slogdet(self):
        return slogdet(self)
