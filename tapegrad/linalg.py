"""torch.linalg.  det, slogdet, inv, solve, cholesky, svdvals, solve_triangular, matrix_exp and
eigvalsh record one LAPACK host entry each (kind `linalg`, tapegrad/kinds/linalg.py): numpy
computes the value at the call, the sweep pauses at the entry and numpy computes its VJP (g *
det * A^-T, -X^T g X^T, A^-T g ...), replay's forward and reverse sweeps pause there too, and
create_graph records the VJP with these same entries (svdvals' and eigvalsh's through the svd
and eigh nodes), so derivatives of every order come out.  Batches are stacks of matrices;
solve broadcasts A's and B's batch dims as torch (with expand entries).  Built on them: matrix
norms, cond, logdet; from other modules: the vector norms and the cross product.

The factorizations are custom-Function nodes of tapegrad/factorizations.py (svd, eigh, qr,
pinv, lstsq, the LU family; this module has their signatures and torch's argument checks),
with torch's compositions on them (multi_dot, matrix_rank, vander, diagonal, tensorinv,
tensorsolve, vecdot) and torch's legacy names (torch.svd, torch.pinverse, torch.lu,
torch.triangular_solve, ...).  torch.geqrf is LAPACK's raw QR through numpy, without a
derivative (its outputs GeqrfBackward0's: tapegrad/nodiff.py); householder_product (orgqr)
and ormqr take its form, as decomposition rows of the reflectors applied by matmuls."""
import math
import types
import warnings

import numpy as np

from . import decomps, dtypes as D, errors, factorizations as F, nodiff, numpy_names, out_arg
from . import _native_names
from .creation import eye as _eye, zeros as _zeros
from .kinds import linalg as K
from .kinds.linalg import LinAlgError, svd as linalg_kind_svd
from .mathops import linalg_norm as _vector_or_fro, vector_norm
from .ndops import matmul as _matmul, where as _where
from .ops import OPS
from .products import linalg_cross as cross  # noqa: F401  (torch.linalg.cross)
from .pyfunc import as_native_node, Function
from .recording import _record_start, _result
from .native_args import arg_error, bind, MISSING, Overloads
from . import return_types
from .return_types import geqrf as _Geqrf

_RT = {name: getattr(return_types, name) for name in (
    "linalg_slogdet", "slogdet", "linalg_inv_ex", "linalg_solve_ex", "linalg_cholesky_ex",
    "linalg_svd", "linalg_eigh", "linalg_qr", "linalg_lstsq", "svd", "qr", "triangular_solve",
    "linalg_lu_factor", "linalg_lu_factor_ex", "linalg_lu", "lu_unpack")}
from .tape import input_node
from .tensor import (_dim, _int_list, _is_dim_item, _is_int_item, Tensor, _tensor_elements,
                     _tensor_operand, tensor_methods)
from .tracing import _tracing
from .views import cat as _cat, KIND_OPS

__all__ = ["norm", "vector_norm", "matrix_norm", "cross", "det", "slogdet", "inv", "inv_ex",
           "solve", "solve_ex", "cholesky", "cholesky_ex", "svd", "svdvals", "cond",
           "LinAlgError", "eigh", "eigvalsh", "qr", "pinv", "lstsq", "matrix_exp",
           "solve_triangular", "multi_dot", "matrix_rank", "vander", "diagonal", "tensorinv",
           "tensorsolve", "eig", "eigvals", "matmul", "vecdot", "lu_factor", "lu_factor_ex",
           "lu", "lu_solve", "householder_product", "ldl_factor", "ldl_factor_ex",
           "ldl_solve"]

_ROW = K.NAMES


def _matrix_arg(fn, A, square=True, name="A", position=1):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_{fn}(): argument '{name}' (position {position}) must be "
                        f"Tensor, not {type(A).__name__}")
    ns = "" if fn == "logdet" else "linalg."   # (torch.logdet's messages: "logdet: ...")
    what = "svd" if fn == "svdvals" else fn   # (svdvals is linalg.svd's kernel)
    if A.dim() < 2:
        raise RuntimeError(f"{ns}{what}: The input tensor A must have at least 2 dimensions.")
    if square and A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"{ns}{fn}: A must be batches of square matrices, but they are "
                           f"{A._shape[-2]} by {A._shape[-1]} matrices")
    if not A._dtype.is_floating_point:
        raise RuntimeError(f"{ns}{what}: Expected a floating point or complex tensor as "
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
    if which in K.SOLVES:   # B: a vector batch (k = 1), or (..., n, k) / left=False (..., k, n)
        k = 1 if B.dim() == A.dim() - 1 else B._shape[-2 if flag & 1 else -1]
        Ba = B._array().reshape((nb, k, n) if flag & 1 else (nb, n, k))
    out = K.forward(which, flag, Aa, Ba)
    if which in K.DETS:
        oshape = shape[:-2]
    elif which in K.SOLVES:
        oshape = B._shape
    elif which == K.SVDVALS:
        oshape = shape[:-2] + (min(n, kA),)
    elif which == K.EIGVALSH:
        oshape = shape[:-1]
    else:
        oshape = shape
    out = np.asarray(out, A._dtype.np).reshape(oshape)
    tape = _record_start(A, B) if B is not None else _record_start(A)
    if tape is None:
        return Tensor._wrap(out, A._dtype)
    a = _node(tape, A, Aa)
    b = _node(tape, B, Ba) if B is not None else -1
    row = OPS[_ROW[which]]
    # (the operands saved in their own shapes: another entry reading the same node, saved
    # once per node, reads it so under create_graph; the kind's faces reshape what they read)
    saves = [("a", a, Aa.reshape(shape)), ("b", b, None if Ba is None else Ba.reshape(B._shape)),
             ("out", None, out)]
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
    if not A.numel():
        sign = Tensor._wrap(np.ones(A._shape[:-2], A._dtype.np), A._dtype)
    elif A._recorded and _tracing(A) is None:
        sign = _sign_of(A)
    else:   # (while tracing: A's node, so that a replay re-evaluates the sign)
        sign = _lapack(K.SIGNDET, A)
    return _RT["linalg_slogdet"]((sign, _lapack(K.LOGDET, A)))


def _sign_of(A):
    """slogdet's sign of A (that requires grad): torch's slogdet backward takes no gradient
    from the sign, so a backward from the sign alone does not reach A ("not used", None with
    allow_unused).  The entry reads a constant of A's value; its node shows the edge to A."""
    tape = _record_start(A)
    if tape is None:      # (grad mode off: the value alone, as for a tensor without grad)
        return _lapack(K.SIGNDET, A)
    Aa = A._array().reshape(-1, *A._shape[-2:])
    a = _node(tape, A.detach(), Aa)
    out = np.asarray(K.forward(K.SIGNDET, 0, Aa, None), A._dtype.np).reshape(A._shape[:-2])
    row = OPS[_ROW[K.SIGNDET]]
    t = _result(out, A._dtype, tape, row.code, a, -1, 0.0,
                [("a", a, Aa)] if "a" in row.saves else [])
    tape.add_params(t._node, [K.SIGNDET, Aa.shape[0], Aa.shape[1], Aa.shape[2], 0])
    tape.set_host(t._node)
    if tape.edge_nodes is None:
        tape.edge_nodes = {}
    tape.edge_nodes[t._node] = (input_node(tape, A),)
    return t


def torch_slogdet(input):
    """torch.slogdet: linalg.slogdet as a torch.return_types.slogdet."""
    A = input   # (torch's native parser's names: input=)
    return _RT["slogdet"](slogdet(A))


def torch_logdet(input):
    """log(det(A)): nan where det < 0, -inf where det == 0 (torch's WhereBackward0 node)."""
    A = input   # (torch's native parser's names: input=)
    _matrix_arg("logdet", A)
    sign, logabs = slogdet(A)
    if not logabs.requires_grad:
        return Tensor._wrap(np.where(sign._array() < 0, np.nan, logabs._array()), A._dtype)
    return _where(sign < 0, math.nan, logabs)


def inv(A, *, out=None):
    """The inverse of square matrices (LinalgInvExBackward0); torch's LinAlgError when one is
    singular."""
    _no_out("inv", out)
    _matrix_arg("inv", A)
    return _lapack(K.INV, A)


def inv_ex(A, *, check_errors=False, out=None):
    """(inverse, info) as torch.linalg.inv_ex: on a singular input info > 0 (the order of
    U's first zero diagonal element) and the inverse is what LAPACK's LU gives there (infs,
    nans), or with check_errors torch's LinAlgError."""
    try:
        return _RT["linalg_inv_ex"]((inv(A), _info(A)))
    except LinAlgError as e:
        if check_errors:
            raise LinAlgError(str(e).replace("linalg.inv:", "linalg.inv_ex:", 1)) from None
    n = A._shape[-1]
    X, info = _failed_lu(A, np.broadcast_to(np.eye(n, dtype=A._dtype.np), A._shape))
    return _RT["linalg_inv_ex"]((_failed("LinalgInvExBackward0", X, A, (A,)), info))


def _info(A):
    return Tensor._wrap(np.zeros(A._shape[:-2], np.int32), D.int32)


def _failed_lu(A, B):
    """(X, info) of A X = B through LAPACK's LU with partial pivoting, which carries a zero
    pivot on as infs and nans (what torch's inv_ex / solve_ex give at a singular A)."""
    with np.errstate(all="ignore"):
        LU, piv, info = lu_factor_ex(A.detach())
        X = lu_solve(LU, piv, Tensor._wrap(np.array(B, dtype=A._dtype.np), A._dtype))
    return X._array(), info


def _failed(node, values, A, inputs):
    """A failed factorization's result: with an input that requires grad, torch's node (its
    gradient is not computed here: at a singular or indefinite input it has no meaning)."""
    return nodiff.result(node, values, A._dtype, inputs, (
        NotImplementedError, f"tapegrad: the gradient of {node[:-9]} where the factorization "
                             f"failed (info > 0) is not implemented"))


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
                        f"{errors.type_name(B)}")
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
    """(result, info) as torch.linalg.solve_ex: on a singular A info > 0 and the result is
    what LAPACK's LU gives there (infs, nans), or with check_errors torch's LinAlgError."""
    try:
        return _RT["linalg_solve_ex"]((solve(A, B, left=left), _info(A)))
    except LinAlgError as e:
        if check_errors or not left:
            raise LinAlgError(str(e).replace("linalg.solve:", "linalg.solve_ex:", 1)) from None
    Ba = B._array()
    vector = Ba.ndim == 1 or Ba.ndim == A.dim() - 1 and Ba.shape == A._shape[:-1]
    X, info = _failed_lu(A, Ba[..., None] if vector else Ba)
    X = X[..., 0] if vector else X
    return _RT["linalg_solve_ex"]((_failed("LinalgSolveExBackward0", X, A, (A, B)), info))


def cholesky(input, *, upper=False, out=None):
    """The Cholesky factor L (A = L L^T) of symmetric positive-definite matrices, read from
    the lower triangle (upper=True: U = L^T, read from the upper triangle), as torch's
    (LinalgCholeskyExBackward0; its gradient is symmetric); torch's LinAlgError naming the
    order of the first leading minor that is not positive-definite."""
    A = input   # (torch's native parser's names: input=)
    _no_out("cholesky", out)
    _matrix_arg("cholesky", A)
    return _lapack(K.CHOLESKY, A, None, 1 if upper else 0)


def cholesky_ex(input, *, upper=False, check_errors=False, out=None):
    """(L, info) as torch.linalg.cholesky_ex: where a matrix is not positive-definite, info is
    the order of its first leading minor that is not and L LAPACK's partial factor (the
    columns before it factored, that minor's pivot, the rest of A's triangle as it was), or
    with check_errors torch's LinAlgError."""
    A = input   # (torch's native parser's names: input=)
    try:
        return _RT["linalg_cholesky_ex"]((cholesky(A, upper=upper), _info(A)))
    except LinAlgError as e:
        if check_errors:
            raise LinAlgError(str(e).replace("linalg.cholesky:", "linalg.cholesky_ex:", 1)) \
                from None
    arr = A._array()
    lower = np.swapaxes(arr, -1, -2) if upper else arr
    n = arr.shape[-1]
    flat = lower.reshape(-1, n, n)
    L = np.empty_like(flat)
    info = np.zeros(len(flat), np.int32)
    for i, a in enumerate(flat):
        try:
            L[i] = np.linalg.cholesky(a)
            if np.isnan(L[i]).any():    # (a nan pivot: numpy does not raise)
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            L[i], info[i] = K.partial_cholesky(a)
    L = L.reshape(arr.shape)
    if upper:
        L = np.swapaxes(L, -1, -2)
    info = Tensor._wrap(info.reshape(arr.shape[:-2]), D.int32)
    return _RT["linalg_cholesky_ex"]((_failed("LinalgCholeskyExBackward0", L, A, (A,)), info))


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
        U, S, Vh = linalg_kind_svd(A._array(), full_matrices=full_matrices)
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


as_native_node(LinalgSvd, "LinalgSvdBackward0")


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


# svdvals' and eigvalsh's create_graph VJPs read the singular vectors / eigenvectors through
# these (kinds/linalg.py)
KIND_OPS.svd = lambda A: LinalgSvd.apply(A, False)
KIND_OPS.eigh = F.LinalgEigh.apply


_MATRIX_ORDS = ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf)


def matrix_norm(input, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """Matrix norms over the two dims `dim`: 'fro' and 'nuc' (the sum of the singular values),
    2 / -2 (the largest / smallest singular value), 1 / -1 (max / min column sum of |A|),
    inf / -inf (the same over rows), as torch's compositions."""
    A = input   # (torch's name for it, as a keyword: linalg.matrix_norm(input=x))
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
    if isinstance(dim, int) or len(dim) != 2:
        got = " ".join(str(d) for d in ([dim] if isinstance(dim, int) else dim))
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {got}")
    nd = A.dim()
    # (torch's int[] parser, then its range check: dim=(0, 5) of a 3-d A is out of range)
    d0, d1 = (_dim(int(d), nd) for d in _int_list((dim,), "linalg_matrix_norm", "dim", 3,
                                                  False, _is_dim_item))
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


# Tensor.norm's matrix norms (tapegrad/mathops.py)
KIND_OPS.matrix_norm = matrix_norm


def norm(input, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """torch.linalg.norm: a vector norm (1-d input or one dim, or ord None over everything),
    or a matrix norm (2-d input with dim None, or two dims)."""
    A = input   # (torch's name for it, as a keyword: linalg.norm(input=x))
    if dim is not None:   # (torch's int[1]? dim: its parser's words, then its length check)
        dims = _int_list((dim,), "linalg_norm", "dim", 3, True, _is_dim_item)
        if len(dims) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {list(dims)}")
        if isinstance(ord, str):   # (a str order is always a matrix norm's)
            return matrix_norm(A, ord, dims, keepdim, dtype=dtype)
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


def cond(input, p=None, *, out=None):
    """The condition number of matrices in the norm p: for p None / 2 / -2 a ratio of
    singular values, else matrix_norm(A, p) * matrix_norm(inv(A), p)."""
    A = input   # (torch's native parser's names: input=)
    _no_out("cond", out)
    A = _cond_checked(A, p)
    if A.numel() == 0:   # (torch: 0 for empty matrices, square or not, as NumPy defines none)
        return _zeros(A._shape[:-2], dtype=A._dtype)
    if p == "nuc":   # (the nuclear norm's definition: matrix_norm refuses infinities)
        s = svdvals(A)
        return s.sum(-1) * s.reciprocal().sum(-1)
    if p is None or not isinstance(p, str) and abs(p) == 2:
        s = svdvals(A)   # descending: torch divides the first by the last
        big, small = s.narrow(-1, 0, 1), s.narrow(-1, s._shape[-1] - 1, 1)
        return (big / small if p != -2 else small / big).squeeze(-1)
    try:
        Ainv = inv(A)
    except LinAlgError:   # torch: inf for a singular matrix (its backward raises there)
        return _cond_singular(A, p)
    # torch's composition ends with nan_to_num (NanToNumBackward0); infs pass through
    return (matrix_norm(A, p) * matrix_norm(Ainv, p)).nan_to_num(math.inf, math.inf, -math.inf)


def _cond_checked(A, p):
    """A, checked as torch's two linalg.cond overloads check it, in their order: the string
    norms first as square matrices, the numbers first for dims and the norm; ±1 and ±inf
    then as square matrices (named as C++'s to_string prints the norm: 1, 1.000000, inf)."""
    if not isinstance(A, Tensor):
        _matrix_arg("cond", A)
    if isinstance(p, str):
        where = f"linalg.cond(ord={p})"
        if A.dim() < 2:
            raise RuntimeError(f"{where}: The input tensor A must have at least 2 dimensions.")
        _cond_square(A, where)
        if p not in ("fro", "nuc"):
            raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
        return A
    if A.dim() < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    if p is not None and p not in (1, -1, 2, -2, math.inf, -math.inf):
        shown = p if isinstance(p, (bool, int, np.integer)) else format(float(p), "g")
        raise RuntimeError(f"linalg.cond got an invalid norm type: {shown}")
    if p is not None and abs(p) != 2 and A.numel():
        _cond_square(A, f"linalg.cond(ord={p:f})" if isinstance(p, float) and math.isfinite(p)
                     else f"linalg.cond(ord={int(p) if math.isfinite(p) else p})")
    return A


def _cond_square(A, where):
    if A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"{where}: A must be batches of square matrices, but they are "
                           f"{A._shape[-2]} by {A._shape[-1]} matrices")


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


# ---- factorizations (tapegrad/factorizations.py: one custom-Function node each) -------------
def _uplo(UPLO):
    u = str(UPLO).upper()
    if len(u) != 1 or u not in "LU":
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return u


def _eigh_arg(A, fn):
    if isinstance(A, Tensor) and A.dim() >= 2 and not A._dtype.is_floating_point:
        raise NotImplementedError(f'"linalg_eigh_cpu" not implemented for '
                                  f"'{A._dtype.legacy}'")
    _matrix_arg(fn, A)


def _eigh(A, UPLO):
    try:
        return F.LinalgEigh.apply(A, _uplo(UPLO))
    except np.linalg.LinAlgError:
        raise LinAlgError(K.EIGH_FAILED) from None


def eigh(input, UPLO="L", *, out=None):
    """(eigenvalues, eigenvectors) of symmetric matrices, read from the lower (UPLO='L') or
    upper triangle, eigenvalues ascending (LinalgEighBackward0, torch's gradient: inf / nan
    where eigenvalues repeat and the loss reads the eigenvectors).  The eigenvectors' signs
    are LAPACK's, unspecified as torch's."""
    A = input   # (torch's native parser's names: input=)
    _no_out("eigh", out)
    _eigh_arg(A, "eigh")
    return _RT["linalg_eigh"](_eigh(A, UPLO))


def eigvalsh(input, UPLO="L", *, out=None):
    """The eigenvalues of symmetric matrices, ascending, read from the lower (UPLO='L') or
    upper triangle: one LAPACK host entry (LinalgEighBackward0, torch's node name; gradient
    V diag(g) V^T, its create_graph VJP through linalg.eigh's node; it replays)."""
    A = input   # (torch's native parser's names: input=)
    _no_out("eigvalsh", out)
    _eigh_arg(A, "eigh")
    return _lapack(K.EIGVALSH, A, None, 1 if _uplo(UPLO) == "U" else 0)


def eig(input, *, out=None):   # (torch's parser's name: input=)
    """Not available: torch.linalg.eig returns complex eigenvalues and eigenvectors, and
    tapegrad has no complex dtype (eigh / eigvalsh cover symmetric matrices)."""
    raise NotImplementedError("tapegrad: linalg.eig returns complex tensors, and tapegrad has "
                              "no complex dtype; for symmetric matrices use linalg.eigh")


def _no_ldl(name):
    def f(*args, **kwargs):
        raise NotImplementedError(
            f"tapegrad: linalg.{name} is not implemented (LAPACK's Bunch-Kaufman sytrf/sytrs, "
            f"which numpy does not expose); for a symmetric positive-definite matrix use "
            f"linalg.cholesky / cholesky_solve, otherwise linalg.lu_factor / lu_solve or "
            f"linalg.solve")
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"torch.linalg.{name}: not implemented in tapegrad (raises NotImplementedError)."
    return f


ldl_factor, ldl_factor_ex, ldl_solve = (_no_ldl(n) for n in ("ldl_factor", "ldl_factor_ex",
                                                              "ldl_solve"))


def eigvals(input, *, out=None):   # (torch's parser's name: input=)
    """Not available: complex-valued in torch (see eig)."""
    raise NotImplementedError("tapegrad: linalg.eigvals returns complex tensors, and tapegrad "
                              "has no complex dtype; for symmetric matrices use "
                              "linalg.eigvalsh")


def qr(A, mode="reduced", *, out=None):
    """(Q, R) with A = Q R, R upper triangular (LinalgQrBackward0, torch's gradient).  mode
    'reduced': Q (m, k), R (k, n), k = min(m, n); 'complete': Q (m, m), R (m, n); 'r': R only
    (Q empty).  Backward raises where torch's does: mode 'r', and 'complete' with m > n."""
    _no_out("qr", out)
    _matrix_arg("qr", A, square=False)
    if mode not in ("reduced", "r", "complete"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    return _RT["linalg_qr"](F.LinalgQr.apply(A, mode))


def _tol(t):
    if isinstance(t, Tensor):
        return t._array().astype(np.float64)
    return np.asarray(float(t))


def _atol_rtol(A, atol, rtol):
    """torch's get_atol_rtol: atol 0 by default; rtol eps * max(m, n) unless atol > 0."""
    a = _tol(atol) if atol is not None else np.zeros(())
    if rtol is not None:
        return a, _tol(rtol)
    default = F.eps(A._dtype) * max(A._shape[-2:])
    return a, (np.where(a > 0, 0.0, default) if atol is not None else np.asarray(default))


_NOT_GIVEN = object()


def pinv(input, rcond=_NOT_GIVEN, hermitian=False, *, atol=_NOT_GIVEN, rtol=_NOT_GIVEN,
         out=None):
    """The Moore-Penrose pseudo-inverse from the SVD (hermitian=True: eigh), singular values
    below max(atol, rtol * the largest) dropped; rcond (torch's legacy overload) is rtol with
    atol 0 (LinalgPinvBackward0, torch's pinv_backward)."""
    A = input   # (torch's native parser's names: input=)
    _no_out("pinv", out)
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_pinv(): argument 'input' (position 1) must be Tensor, not "
                        f"{errors.type_name(A)}")
    if A.dim() < 2 or not A._dtype.is_floating_point:
        raise RuntimeError(f"linalg.pinv({A._dtype.legacy}{{{list(A._shape)}}}): expected a "
                           f"tensor with 2 or more dimensions of float, double, cfloat or "
                           f"cdouble types")
    if rcond is not _NOT_GIVEN:
        # (rcond's forms take no atol= / rtol=, nor None: torch's parser lists the four;
        # out_arg's wrapper words it again with rcond where the call gave it)
        if rcond is None or atol is not _NOT_GIVEN or rtol is not _NOT_GIVEN:
            raise arg_error("linalg_pinv", False, (input,), {"rcond": rcond, **{
                k: v for k, v in (("atol", atol), ("rtol", rtol)) if v is not _NOT_GIVEN}})
        atol, rtol = 0.0, rcond
    atol, rtol = (None if t is _NOT_GIVEN else t for t in (atol, rtol))
    if hermitian:
        _matrix_arg("eigh", A)
    a, r = _atol_rtol(A, atol, rtol)
    return F.LinalgPinv.apply(A, a, r, bool(hermitian))


_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(input, b, rcond=None, *, driver=None):
    """(solution, residuals, rank, singular_values) of min ||A X - B|| as torch's CPU drivers
    report them (default 'gelsy': rank, no residuals; 'gelsd' / 'gelss': also the singular
    values, and the residuals when m > n and A has full rank; 'gels': residuals when m > n,
    no rank).  The solution is the minimum-norm one from the SVD, singular values below
    rcond * the largest dropped (rcond None: eps * max(m, n)).  LinalgLstsqBackward0 on the
    solution and the residuals (torch's linalg_lstsq_backward, through pinv)."""
    A, B = input, b   # (torch's native parser's names: input, b=)
    for name, t, pos in (("self", A, 1), ("b", B, 2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_lstsq(): argument '{name}' (position {pos}) must be "
                            f"Tensor, not {type(t).__name__}")
    if A.dim() < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if B.dim() < 1:
        raise RuntimeError("torch.linalg.lstsq: other must have at least 1 dimension.")
    if A._dtype is not B._dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same "
                           f"dtype, but got input's dtype {A._dtype.legacy} and other's dtype "
                           f"{B._dtype.legacy}")
    diff = A.dim() - B.dim()
    if diff not in (0, 1):
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to "
                           "other.dim() and (input.dim() - other.dim()) <= 1")
    vector = diff == 1
    if A._shape[-2] != B._shape[-1 if vector else -2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match "
                           f"other.size({-1 if vector else -2})")
    name = "gelsy" if driver is None else str(driver).lower()
    if name not in _DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    if not A._dtype.is_floating_point:   # (its LAPACK dispatch's words, after the driver's)
        raise RuntimeError("This function doesn't handle types other than float and double")
    m, n = A._shape[-2:]
    rc = F.eps(A._dtype) * max(m, n) if rcond is None else float(rcond)
    b_batch = B._shape[:-1] if vector else B._shape[:-2]
    batch = tuple(np.broadcast_shapes(A._shape[:-2], b_batch))
    if A._shape[:-2] != batch:
        A = A.expand(*(batch + A._shape[-2:]))
    if b_batch != batch:
        B = B.expand(*(batch + B._shape[len(b_batch):]))
    return _RT["linalg_lstsq"](F.LinalgLstsq.apply(A, B, rc, name, vector))


def matrix_exp(input):
    """The matrix exponential of square matrices, by scaling and squaring: one LAPACK host
    entry (LinalgMatrixExpBackward0: torch's gradient, the matrix_exp of a 2n x 2n block
    matrix, so it differentiates again; it replays)."""
    A = input   # (torch's native parser's names: input=)
    _matrix_arg("matrix_exp", A)
    return _lapack(K.MATRIX_EXP, A)


def solve_triangular(input, B, *, upper=MISSING, left=True, unitriangular=False, out=None):
    """X with A X = B (left=False: X A = B) for A upper (upper=True) or lower triangular,
    only that triangle read, its diagonal taken as ones with unitriangular: one LAPACK host
    entry (LinalgSolveTriangularBackward0, its gradient on that triangle; it replays); batch
    dims broadcast."""
    A = input   # (torch's native parser's names: input, B=)
    if upper is MISSING:
        raise TypeError('linalg_solve_triangular() missing 1 required positional arguments: '
                        '"upper"')
    _no_out("solve_triangular", out)
    fn = "solve_triangular"
    _matrix_arg(fn, A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg_solve_triangular(): argument 'B' (position 2) must be Tensor, "
                        f"not {type(B).__name__}")
    if B.dim() < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    n = A._shape[-1]
    if (B._shape[-2] if left else B._shape[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation {eq} ({n}x{n} and {B._shape[-2]}x{B._shape[-1]})")
    dt = D.result_type((A._dtype, 2), (B._dtype, 2))
    A, B = (t if t._dtype is dt else t.to(dt) for t in (A, B))
    batch = tuple(np.broadcast_shapes(A._shape[:-2], B._shape[:-2]))
    if A._shape[:-2] != batch:
        A = A.expand(*(batch + A._shape[-2:]))
    if B._shape[:-2] != batch:
        B = B.expand(*(batch + B._shape[-2:]))
    return _lapack(K.SOLVE_TRIANGULAR, A, B, K.tri_flag(upper, left, unitriangular))


# ---- compositions, as torch's (CompositeImplicit: their grad_fns are their parts') -----------
def multi_dot(tensors, *, out=None):
    """The product of a chain of matrices in the cheapest order (torch's: three by cost, more
    by the matrix-chain dynamic program), a 1-d first / last tensor a row / column vector;
    the result through view (ViewBackward0), as torch's."""
    _no_out("multi_dot", out)
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"linalg_multi_dot(): argument 'tensors' (position 1) must be tuple "
                        f"of Tensors, not {errors.type_name(tensors)}")
    _tensor_elements(tensors)
    ts = list(tensors)
    k = len(ts)
    if k < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {k}")
    shape, mats = [], list(ts)
    for pos, (i, word) in enumerate(((0, "first"), (k - 1, "last"))):
        d = ts[i].dim()
        if d == 1:
            mats[i] = ts[i].unsqueeze(0 if pos == 0 else -1)
        elif d == 2:
            shape.append(ts[i]._shape[pos])
        else:
            raise RuntimeError(f"multi_dot(): the {word} tensor must be 1D or 2D but got {d}D")
    for i in range(1, k - 1):
        if ts[i].dim() != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {ts[i].dim()}D")
    for i in range(1, k):
        if mats[i]._dtype is not mats[0]._dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but "
                               f"tensor 0 is {_c10(mats[0]._dtype)} and "
                               f"tensor {i} {_c10(mats[i]._dtype)}")
        if mats[i - 1]._shape[-1] != mats[i]._shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i - 1} and {i} with shapes "
                               f"{list(ts[i - 1]._shape)} and {list(ts[i]._shape)} cannot be "
                               f"multiplied")
    if k == 2:
        r = mats[0].mm(mats[1])
    elif k == 3:
        a, b = mats[0]._shape
        c, d = mats[2]._shape
        r = mats[0].mm(mats[1].mm(mats[2])) if a * c * (b + d) > b * d * (a + c) \
            else mats[0].mm(mats[1]).mm(mats[2])
    else:
        r = _chain(mats)
    return r.view(tuple(shape))   # (one sequence: () for a 0-d result, which view() refuses)


def _c10(dt):
    """A dtype as c10 prints a caffe2 TypeMeta (float, double, long int, ...)."""
    return {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
            "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
            "float16": "c10::Half", "bfloat16": "c10::BFloat16", "bool": "bool"}.get(
        dt.name, dt.name)


def _chain(mats):
    """torch's matrix_chain_order / matrix_chain_multiplication (CLRS)."""
    k = len(mats)
    p = [m._shape[0] for m in mats] + [mats[-1]._shape[1]]
    cost = [[0] * k for _ in range(k)]
    order = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = None
            for s in range(i, j):
                q = cost[i][s] + cost[s + 1][j] + p[i] * p[s + 1] * p[j + 1]
                if cost[i][j] is None or q < cost[i][j]:
                    cost[i][j], order[i][j] = q, s

    def mult(i, j):
        if i == j:
            return mats[i]
        return mult(i, order[i][j]).mm(mult(order[i][j] + 1, j))
    return mult(0, k - 1)


def matrix_rank(input, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """The number of singular values (hermitian: |eigenvalues|) above max(atol, rtol * the
    largest), int64 per matrix (tol: torch's legacy overload, atol with rtol 0)."""
    A = input   # (torch's native parser's names: input=)
    _no_out("matrix_rank", out)
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_matrix_rank(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(A).__name__}")
    if A.dim() < 2:
        raise RuntimeError("torch.linalg.matrix_rank: The input tensor input must have at "
                           "least 2 dimensions.")
    if not A._dtype.is_floating_point:
        raise RuntimeError("This function doesn't handle types other than float and double")
    if tol is not None:
        atol, rtol = tol, 0.0
    if A.numel() == 0:
        return Tensor._wrap(np.zeros(A._shape[:-2], np.int64), D.int64)
    a, r = _atol_rtol(A, atol, rtol)
    x = A._array()
    if hermitian and A._shape[-1] != A._shape[-2]:
        _matrix_arg("eigh", A)
    if _tracing(A) is not None:   # (tapegrad.record: the rank follows A in every replay)
        S = eigvalsh(A).abs() if hermitian else svdvals(A)
        big = S.amax(-1, keepdim=True) if hermitian else S[..., :1]
        a, r = (Tensor._wrap(np.asarray(v[..., None], x.dtype), A._dtype) for v in (a, r))
        return (S > a.maximum(r * big)).sum(-1)
    if hermitian:
        S = np.abs(np.linalg.eigvalsh(x))
        big = S.max(-1, keepdims=True)
    else:
        S = linalg_kind_svd(x, compute_uv=False)
        big = S[..., :1]
    tol_ = np.maximum(a[..., None], r[..., None] * big).astype(x.dtype)
    return Tensor._wrap(np.asarray((S > tol_).sum(-1), np.int64), D.int64)


def vander(x, *, N=None):
    """The Vandermonde matrix of x (..., n): columns x^0 ... x^(N-1), as torch's cumprod and
    cat (CatBackward0)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg_vander(): argument 'x' (position 1) must be Tensor, not "
                        f"{errors.type_name(x)}")
    if x._dtype.name in ("bool", "float16", "bfloat16"):
        raise RuntimeError(f"linalg.vander supports floating point, complex, and integer "
                           f"tensors, but got {x._dtype.legacy}")
    if N is not None and N.__class__ is not int and not _is_int_item(N, True):
        # (torch's SymInt? N: a float, a bool or a float tensor is refused)
        raise TypeError(f"linalg_vander(): argument 'N' must be int, not {errors.type_name(N)}")
    x_ = x.unsqueeze(-1) if x.dim() == 0 else x
    n = x_._shape[-1] if N is None else int(N)
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    shape = x_._shape + (n - 1,)
    powers = x_.unsqueeze(-1).expand(*shape).cumprod(-1)
    ones = Tensor._wrap(np.ones(x_._shape + (1,), powers._dtype.np), powers._dtype)
    return _cat([ones, powers], -1)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """A.diagonal(offset, dim1, dim2), with torch.linalg's defaults (the last two dims)."""
    nd = A.dim()
    return A.diagonal(offset, _dim(dim1, nd), _dim(dim2, nd))


def tensorinv(input, ind=2, *, out=None):
    """The inverse of A for tensordot over its first `ind` dims: inv of A reshaped to a square
    matrix, reshaped to A.shape[ind:] + A.shape[:ind] (torch's composition)."""
    A = input   # (torch's native parser's names: input=)
    _no_out("tensorinv", out)
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    lead, tail = A._shape[:ind], A._shape[ind:]
    p_end, p_start = math.prod(tail), math.prod(lead)
    if p_end != p_start:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {p_end} != {p_start}")
    try:
        Ainv = inv(A.reshape(p_end, p_end))
    except LinAlgError as e:   # torch's check names it "inv"
        raise LinAlgError(str(e).replace("linalg.inv: ", "inv: ", 1)) from None
    return Ainv.reshape(*(tail + lead))


def tensorsolve(input, other, dims=None, *, out=None):
    """X with tensordot(A, X, X.ndim) = B: A's dims in `dims` moved last, then a solve of A as a
    square matrix against B flattened (torch's composition)."""
    A, B = input, other   # (torch's native parser's names: input, other=)
    _no_out("tensorsolve", out)
    nd = A.dim()
    if dims is not None:
        dims = list(dims)
        A = A.movedim(dims, list(range(nd - len(dims), nd)))
    result_shape = A._shape[B.dim():]
    rp, op = math.prod(result_shape), math.prod(B._shape)
    if rp != op:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:"
                           f"]) == prod(self.shape[:other.ndim]), but got {rp} != {op}")
    return solve(A.reshape(rp, rp), B.flatten()).reshape(*result_shape)


# ---- torch's legacy names ------------------------------------------------------------------------
def torch_svd(input, some=True, compute_uv=True):
    """torch.svd: (U, S, V) with V = Vh^T of linalg.svd (full_matrices = not some); without
    compute_uv, U and V are zeros of the full sizes and S comes from svdvals."""
    if isinstance(input, Tensor) and input.dim() < 2:
        raise RuntimeError(f"linalg.svd: input should have at least 2 dimensions, but has "
                           f"{input.dim()} dimensions instead")
    if compute_uv:
        U, S, Vh = svd(input, full_matrices=not some)
    else:
        S = svdvals(input)
        m, n = input._shape[-2:]
        U = _zeros(*(input._shape[:-2] + (m, m)), dtype=input._dtype)
        Vh = _zeros(*(input._shape[:-2] + (n, n)), dtype=input._dtype)
    return _RT["svd"]((U, S, Vh.mT))


def torch_pinverse(input, rcond=1e-15):
    """torch.pinverse: linalg.pinv with rcond as the relative tolerance."""
    return pinv(input, rcond)


_CHOLESKY_WARNING = (
    "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a "
    "future PyTorch release.\nL = torch.cholesky(A)\nshould be replaced with\n"
    "L = torch.linalg.cholesky(A)\nand\nU = torch.cholesky(A, upper=True)\nshould be "
    "replaced with\nU = torch.linalg.cholesky(A).mH\nThis transform will produce equivalent "
    "results for all valid (symmetric positive definite) inputs.")
_warned = set()


def torch_cholesky(input, upper=False, *, out=None):
    """torch.cholesky (deprecated, warns once as torch): linalg.cholesky's factor as a
    CholeskyBackward0 node."""
    _warn_once("cholesky", _CHOLESKY_WARNING)
    _no_out("cholesky", out)
    _matrix_arg("cholesky", input)
    return F.Cholesky.apply(input, bool(upper))


def _warn_once(key, text):
    """torch's TORCH_WARN_ONCE: a deprecated name warns the first time it is called."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(text, UserWarning, stacklevel=3)


def matmul(input, other, *, out=None):
    """torch.linalg.matmul: torch.matmul."""
    _no_out("matmul", out)
    return _matmul(input, other)


def vecdot(x, y, *, dim=-1, out=None):
    """The dot product of vectors along dim, broadcasting (torch's (x * y).sum(dim):
    SumBackward1)."""
    _no_out("vecdot", out)
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"linalg.vecdot: Expected a floating point or complex tensor as "
                           f"input. Got {x._dtype.legacy}")
    if x._dtype is not y._dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found "
                           f"x of type {x._dtype.legacy} and y of type {y._dtype.legacy} "
                           f"instead")
    return (x * y).sum(dim)


def torch_qr(input, some=True, *, out=None):
    """torch.qr (deprecated, warns once as torch): linalg.qr with mode 'reduced' (some) or
    'complete', as a torch.return_types.qr."""
    _warn_once("qr", "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in "
                     "a future PyTorch release.\nThe boolean parameter 'some' has been replaced "
                     "with a string parameter 'mode'.\nQ, R = torch.qr(A, some)\nshould be "
                     "replaced with\nQ, R = torch.linalg.qr(A, 'reduced' if some else "
                     "'complete')")
    return _RT["qr"](qr(input, "reduced" if some else "complete", out=out))


def torch_chain_matmul(*matrices, out=None):
    """torch.chain_matmul (deprecated, warns once as torch): multi_dot of 2-d matrices; one
    matrix is cloned."""
    _warn_once("chain_matmul", "torch.chain_matmul is deprecated and will be removed in a "
                               "future PyTorch release. Use torch.linalg.multi_dot instead, "
                               "which accepts a list of two or more tensors rather than "
                               "multiple parameters.")
    _no_out("chain_matmul", out)
    _tensor_elements(matrices)
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for t in matrices:
        if t.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {t.dim()}, expected 2 instead.")
    return matrices[0].clone() if len(matrices) == 1 else multi_dot(list(matrices))


def _solve_args(fn, b, A, bname, aname):
    """torch's checks of the legacy solvers' (b, A): dims, dtypes, sizes; batch dims
    broadcast."""
    for t, name in ((b, bname), (A, aname)):
        if t.dim() < 2:
            raise RuntimeError(f"torch.triangular_solve: Expected {name} to have at least 2 "
                               f"dimensions, but it has {t.dim()} dimensions instead"
                               if fn == "triangular_solve" else
                               f"{name} should have at least 2 dimensions, but has {t.dim()} "
                               f"dimensions instead")
    if b._dtype is not A._dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{b._dtype.legacy} and A of type {A._dtype.legacy} instead.")
    if A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"A must be batches of square matrices, but they are "
                           f"{A._shape[-2]} by {A._shape[-1]} matrices")
    if A._shape[-1] != b._shape[-2]:
        raise RuntimeError(f"Incompatible matrix sizes for {fn}: each A matrix is "
                           f"{A._shape[-1]} by {A._shape[-1]} but each b matrix is "
                           f"{b._shape[-2]} by {b._shape[-1]}")
    batch = tuple(np.broadcast_shapes(A._shape[:-2], b._shape[:-2]))
    if A._shape[:-2] != batch:
        A = A.expand(*(batch + A._shape[-2:]))
    if b._shape[:-2] != batch:
        b = b.expand(*(batch + b._shape[-2:]))
    return b, A


def torch_triangular_solve(input, A, upper=True, transpose=False, unitriangular=False, *,
                           out=None):
    """torch.triangular_solve (deprecated, warns once as torch): (solution, cloned_coefficient)
    with op(A) X = b, op(A) = A^T when transpose (TriangularSolveBackward0 on both)."""
    _warn_once("triangular_solve",
               "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangular"
               "and will be removed in a future PyTorch release.\ntorch.linalg.solve_triangular "
               "has its arguments reversed and does not return a copy of one of the inputs.\n"
               "X = torch.triangular_solve(B, A).solution\nshould be replaced with\n"
               "X = torch.linalg.solve_triangular(A, B).")
    _no_out("triangular_solve", out)
    for k, (t, name) in enumerate(((input, "input"), (A, "A")), 1):   # (its parser's names)
        _tensor_operand("triangular_solve", t, k, name)
    b, A = _solve_args("triangular_solve", input, A, "b", "A")
    return _RT["triangular_solve"](F.TriangularSolve.apply(b, A, bool(upper), bool(transpose),
                                                           bool(unitriangular)))


def torch_cholesky_solve(input, input2, upper=False, *, out=None):
    """torch.cholesky_solve: X with A X = B given A's Cholesky factor L (A = L L^T; upper:
    A = U^T U) (CholeskySolveBackward0)."""
    _no_out("cholesky_solve", out)
    b, L = _solve_args("cholesky_solve", input, input2, "b", "u")
    return F.CholeskySolve.apply(b, L, bool(upper))


def torch_cholesky_inverse(input, upper=False, *, out=None):
    """torch.cholesky_inverse: A^-1 given A's Cholesky factor (CholeskyInverseBackward0)."""
    _no_out("cholesky_inverse", out)
    if isinstance(input, Tensor) and input.dim() >= 2 and not input._dtype.is_floating_point:
        raise NotImplementedError(f'"cholesky_inverse_out_cpu" not implemented for '
                                  f"'{input._dtype.legacy}'")
    if input.dim() < 2:
        raise RuntimeError("cholesky_inverse: The input tensor A must have at least 2 "
                           "dimensions.")
    if input._shape[-1] != input._shape[-2]:
        raise RuntimeError(f"cholesky_inverse: A must be batches of square matrices, but they "
                           f"are {input._shape[-2]} by {input._shape[-1]} matrices")
    # torch's (LAPACK potri's) error for a zero on the factor's diagonal: the first matrix
    # with one, its first (1-based)
    zero = np.diagonal(input._array(), axis1=-2, axis2=-1) == 0
    if zero.any():
        zero = zero.reshape(-1, zero.shape[-1])
        b = int(np.argmax(zero.any(-1)))
        where = f"(Batch element {b}): " if input.dim() > 2 else ""
        raise LinAlgError(f"cholesky_inverse: {where}The diagonal element "
                          f"{int(np.argmax(zero[b])) + 1} is zero, the inversion could not be "
                          f"completed because the input matrix is singular.")
    return F.CholeskyInverse.apply(input, bool(upper))


# ---- LU (factorizations.py: a numpy getrf) -----------------------------------------------------
def _lu_arg(A, fn, name):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_{name}(): argument 'A' (position 1) must be Tensor, not "
                        f"{errors.type_name(A)}")
    if A.dim() < 2:
        raise RuntimeError(f"{fn}: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(A._shape)} instead")
    if not A._dtype.is_floating_point:
        raise NotImplementedError(f'"lu_cpu" not implemented for \'{A._dtype.legacy}\'')


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """(LU, pivots, info) of LAPACK's getrf: L (unit diagonal, not stored) and U packed in
    LU, 1-based int32 row interchanges, info > 0 where U has a zero diagonal element
    (LinalgLuFactorExBackward0 on LU)."""
    _no_out("lu_factor_ex", out)
    _lu_arg(A, "torch.lu_factor", "lu_factor_ex")
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the "
                           "CPU")
    LU, piv, info = F.LinalgLuFactorEx.apply(A)
    if check_errors and info._array().any():
        _lu_singular(info._array(), "torch.linalg.lu_factor_ex")
    return _RT["linalg_lu_factor_ex"]((LU, piv, info))


def _lu_singular(info, fn):
    flat = info.reshape(-1)
    i = int(np.flatnonzero(flat)[0])
    prefix = f"(Batch element {i}): " if info.ndim else ""
    j = int(flat[i])
    raise RuntimeError(f"{fn}: {prefix}U[{j},{j}] is zero and using it on lu_solve would "
                       f"result in a division by zero. If you still want to perform the "
                       f"factorization, consider calling linalg.lu(A, pivot) or "
                       f"linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True, out=None):
    """(LU, pivots) as lu_factor_ex, raising torch's error when U has a zero diagonal
    element."""
    LU, piv, info = lu_factor_ex(A, pivot=pivot, out=out)
    if info._array().any():
        _lu_singular(info._array(), "torch.linalg.lu_factor")
    return _RT["linalg_lu_factor"]((LU, piv))


def lu(A, *, pivot=True, out=None):
    """(P, L, U) with A = P L U, L (m, k) unit lower triangular, U (k, n) upper
    (LinalgLuBackward0 on L and U, torch's gradient; P is a constant)."""
    _no_out("lu", out)
    _lu_arg(A, "linalg.lu", "lu")
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the "
                           "CPU")
    return _RT["linalg_lu"](F.LinalgLu.apply(A))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """X with A X = B (adjoint: A^T X = B; left=False: X A = B) from lu_factor's (LU,
    pivots), batch dims broadcast (LinalgLuSolveBackward0)."""
    _no_out("lu_solve", out)
    if B.dim() < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 "
                           "dimensions.")
    if LU.dim() < 2:
        raise RuntimeError("torch.linalg.lu_solve: The input tensor A must have at least 2 "
                           "dimensions.")
    if LU._shape[-1] != LU._shape[-2]:
        raise RuntimeError(f"torch.linalg.lu_solve: A must be batches of square matrices, but "
                           f"they are {LU._shape[-2]} by {LU._shape[-1]} matrices")
    n = LU._shape[-1]
    if (B._shape[-2] if left else B._shape[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{eq} ({n}x{n} and {B._shape[-2]}x{B._shape[-1]})")
    if LU._dtype is not B._dtype:
        raise RuntimeError(f"linalg.lu_solve: Expected LU and B to have the same dtype, but "
                           f"found LU of type {LU._dtype.legacy} and B of type "
                           f"{B._dtype.legacy} instead")
    if pivots._dtype is not D.int32:
        raise RuntimeError("linalg.lu_solve: pivots should be a Tensor of scalar type "
                           "torch.int32")
    if pivots._shape[-1:] != (n,):
        raise RuntimeError("linalg.lu_solve: Number of pivots per batch should be same as the "
                           "dimension of the matrix")
    batch = tuple(np.broadcast_shapes(LU._shape[:-2], pivots._shape[:-1], B._shape[:-2]))
    if LU._shape[:-2] != batch:
        LU = LU.expand(*(batch + LU._shape[-2:]))
    if pivots._shape[:-1] != batch:
        pivots = pivots.expand(*(batch + (n,)))
    if B._shape[:-2] != batch:
        B = B.expand(*(batch + B._shape[-2:]))
    return F.LinalgLuSolve.apply(LU, pivots, B, bool(left), bool(adjoint))


def torch_lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """torch.lu_unpack: (P, L, U) from lu_factor's (LU, pivots) (LuUnpackBackward0 on L and
    U); with unpack_data / unpack_pivots False, L and U / P are empty."""
    _no_out("lu_unpack", out)
    if LU_data.dim() < 2:
        raise RuntimeError(f"torch.lu_unpack: Expected tensor with 2 or more dimensions. Got "
                           f"size: {list(LU_data._shape)} instead")
    if LU_pivots._dtype is not D.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor "
                           "of torch.int32 dtype.\nNote: this function is intended to be used "
                           "with the output produced by torch.linalg.lu_factor")
    m, n = LU_data._shape[-2:]
    p = LU_pivots._array()
    if unpack_pivots and (p.shape[-1:] != (min(m, n),) or (p < 1).any() or (p > m).any()):
        raise RuntimeError("pivots passed to lu_unpack must be between 1 and LU.size(-2) "
                           "inclusive.Did you properly pass the result of lu_factor?")
    return _RT["lu_unpack"](F.LuUnpack.apply(LU_data, LU_pivots, bool(unpack_data),
                                             bool(unpack_pivots)))


def torch_lu(A, pivot=True, get_infos=False, out=None):
    """torch.lu (deprecated, warns once as torch): (LU, pivots) or, with get_infos, (LU,
    pivots, infos) of lu_factor_ex, as a plain tuple."""
    _warn_once("lu", "torch.lu is deprecated in favor of torch.linalg.lu_factor / "
                     "torch.linalg.lu_factor_ex and will be removed in a future PyTorch "
                     "release.\nLU, pivots = torch.lu(A, compute_pivots)\nshould be replaced "
                     "with\nLU, pivots = torch.linalg.lu_factor(A, compute_pivots)\nand\nLU, "
                     "pivots, info = torch.lu(A, compute_pivots, get_infos=True)\nshould be "
                     "replaced with\nLU, pivots, info = torch.linalg.lu_factor_ex(A, "
                     "compute_pivots)")
    LU, piv, info = lu_factor_ex(A, pivot=pivot, out=out)
    return (LU, piv, info) if get_infos else (LU, piv)


def torch_lu_solve(input, LU_data, LU_pivots, *, out=None):
    """torch.lu_solve (deprecated, warns once as torch): linalg.lu_solve(LU, pivots, b)."""
    _warn_once("lu_solve", "torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand "
                           "will be removed in a future PyTorch release.\nNote that "
                           "torch.linalg.lu_solve has its arguments reversed.\nX = "
                           "torch.lu_solve(B, LU, pivots)\nshould be replaced with\nX = "
                           "torch.linalg.lu_solve(LU, pivots, B)")
    return lu_solve(LU_data, LU_pivots, input, out=out)   # (input=: its parser's name)


@tensor_methods
class _LinalgMethods:
    """Tensor.det(), Tensor.inverse(), Tensor.logdet(), Tensor.slogdet(), Tensor.pinverse(),
    Tensor.matrix_exp(), Tensor.svd(), Tensor.cholesky(), Tensor.qr(),
    Tensor.triangular_solve(), Tensor.cholesky_solve(), Tensor.cholesky_inverse(),
    Tensor.lu(), Tensor.lu_solve()."""

    def det(self):
        return det(self)

    def inverse(self):
        return inv(self)

    def logdet(self):
        return torch_logdet(self)

    def slogdet(self):
        return slogdet(self)

    def pinverse(self, rcond=1e-15):
        return torch_pinverse(self, rcond)

    def matrix_exp(self):
        return matrix_exp(self)

    def svd(self, some=True, compute_uv=True):
        return torch_svd(self, some, compute_uv)

    def cholesky(self, upper=False):
        return torch_cholesky(self, upper)

    def qr(self, some=True):
        return torch_qr(self, some)

    def triangular_solve(self, A, upper=True, transpose=False, unitriangular=False):
        return torch_triangular_solve(self, A, upper, transpose, unitriangular)

    def cholesky_solve(self, input2, upper=False):
        return torch_cholesky_solve(self, input2, upper)

    def cholesky_inverse(self, upper=False):
        return torch_cholesky_inverse(self, upper)

    def lu(self, pivot=True, get_infos=False):
        return torch_lu(self, pivot, get_infos)

    def lu_solve(self, LU_data, LU_pivots):
        return torch_lu_solve(self, LU_data, LU_pivots)


# ---- householder_product (torch.linalg, torch.orgqr) ----------------------------------------
def _householder_body(T, A, tau):
    """Q = H_1 ... H_k times the first n columns of the identity, H_i = I - tau_i v_i v_i^T,
    v_i the i-th column of A below the diagonal with a 1 on it: the reflectors applied last
    to first, as LAPACK's orgqr (the gradients are the products')."""
    m, n = A.shape[-2:]
    k = tau.shape[-1]
    V = A[..., :, :k].tril(-1) + _eye(m, k, dtype=A.dtype)
    Q = _eye(m, n, dtype=A.dtype)
    for i in reversed(range(k)):
        v = V[..., :, i:i + 1]
        Q = Q - tau[..., i:i + 1].unsqueeze(-1) * (v @ (v.transpose(-2, -1) @ Q))
    return Q if k else Q + A[..., :, :n] * 0.0


def householder_product(input, tau, *, out=None):
    """The first n columns of the product of the Householder reflectors stored in A's columns
    below the diagonal with the factors tau (LAPACK's orgqr: the Q of `geqrf`)
    (LinalgHouseholderProductBackward0)."""
    A = input   # (torch's native parser's names: input=)
    _no_out("householder_product", out)
    fn = "torch.linalg.householder_product"
    if A.dim() < 2:
        raise RuntimeError(f"{fn}: input must have at least 2 dimensions.")
    if A.shape[-2] < A.shape[-1]:
        raise RuntimeError(f"{fn}: input.shape[-2] must be greater than or equal to "
                           f"input.shape[-1]")
    if A.shape[-1] < tau.shape[-1]:
        raise RuntimeError(f"{fn}: input.shape[-1] must be greater than or equal to "
                           f"tau.shape[-1]")
    if tau.dim() != A.dim() - 1:
        raise RuntimeError(f"{fn}: Expected tau to have one dimension less than input, but got "
                           f"tau.ndim equal to {tau.dim()} and input.ndim is equal to {A.dim()}")
    if tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"{fn}: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {list(tau.shape[:-1])}")
    if tau.dtype is not A.dtype:
        raise RuntimeError(f"{fn}: tau dtype {tau.dtype.legacy} does not match input dtype "
                           f"{A.dtype.legacy}")
    if not A.dtype.is_floating_point:
        raise NotImplementedError(f'"orgqr_cpu" not implemented for \'{A.dtype.legacy}\'')
    if not (A._recorded or tau._recorded):
        return _householder_body(None, A, tau)
    return decomps.record("householder_product", _householder_body, KIND_OPS, A, tau)


def torch_orgqr(input, input2):
    """torch.orgqr: linalg.householder_product (its parser's names: input, input2=)."""
    return householder_product(input, input2)


# ---- ormqr (torch.ormqr, Tensor.ormqr): Q of geqrf's form times a matrix ---------------------
_ORMQR = Overloads("ormqr", ["Tensor input, Tensor input2, Tensor input3, bool left = True, "
                             "bool transpose = False, *, Tensor out = None"])


def _ormqr_body(T, A, tau, other, left, transpose):
    """op(Q) @ other (left) or other @ op(Q), Q = H_1 ... H_k, H_i = I - tau_i v_i v_i^T as in
    householder_product, op(Q) = Q^T when transpose: the reflectors applied one by one (each
    is symmetric), H_1 first where it is the one next to other."""
    m, k = A.shape[-2], tau.shape[-1]
    if k == 0:
        return other + (A.sum() + tau.sum()) * 0.0     # (empty A and tau: still the inputs)
    V = A[..., :, :k].tril(-1) + _eye(m, k, dtype=A.dtype)
    C = other
    for i in (range(k) if left == transpose else reversed(range(k))):
        v, t = V[..., :, i:i + 1], tau[..., i:i + 1].unsqueeze(-1)
        C = C - t * (v @ (v.transpose(-2, -1) @ C)) if left else \
            C - t * ((C @ v) @ v.transpose(-2, -1))
    return C


def torch_ormqr(*args, **kwargs):
    """op(Q) @ other (left) or other @ op(Q), Q the product of the Householder reflectors in
    input's columns below the diagonal with the factors tau (geqrf's form: LAPACK's ormqr),
    op(Q) = Q^T when transpose (OrmqrBackward0)."""
    _, (A, tau, other, left, transpose, _out) = _ORMQR.parse(args, kwargs)
    left = True if left is MISSING else left
    transpose = False if transpose is MISSING else transpose
    fn = "torch.ormqr"
    if A.dim() < 2:
        raise RuntimeError(f"{fn}: input must have at least 2 dimensions.")
    if other.dim() < 2:
        raise RuntimeError(f"{fn}: other must have at least 2 dimensions.")
    side = -2 if left else -1
    if other.shape[side] != A.shape[-2]:
        raise RuntimeError(f"{fn}: other.shape[{side}] must be equal to input.shape[-2]")
    if tau.dim() == 0 or tau.shape[-1] != min(other.shape[side], A.shape[-1]):
        raise RuntimeError(f"{fn}: tau.shape[-1] must be equal to min(other.shape[{side}], "
                           f"input.shape[-1])")
    if tau.dim() != A.dim() - 1:
        raise RuntimeError(f"{fn}: Expected tau to have one dimension less than input, but got "
                           f"tau.ndim equal to {tau.dim()} and input.ndim is equal to {A.dim()}")
    if other.dim() != A.dim():
        raise RuntimeError(f"{fn}: Expected other to have the same number of dimensions as "
                           f"input, but got other.ndim equal to {other.dim()} and input.ndim is "
                           f"equal to {A.dim()}")
    for name, t in (("tau", tau.shape[:-1]), ("other", other.shape[:-2])):
        if tuple(t) != tuple(A.shape[:-2]):
            raise RuntimeError(f"{fn}: Expected batch dimensions of {name} to be equal to "
                               f"input.shape[:-2], but got {list(t)}")
    for name, t in (("tau", tau), ("other", other)):
        if t.dtype is not A.dtype:     # (torch's message has no space after "dtype")
            raise RuntimeError(f"{fn}: Expected input and {name} to have the same dtype, but "
                               f"input has dtype{A.dtype.legacy} and {name} has dtype "
                               f"{t.dtype.legacy}")
    if not A.dtype.is_floating_point:
        raise NotImplementedError(f'"ormqr_cpu" not implemented for \'{A.dtype.legacy}\'')
    if not (A._recorded or tau._recorded or other._recorded):
        return _ormqr_body(None, A, tau, other, left, transpose)
    return decomps.record("ormqr", _ormqr_body, KIND_OPS, A, tau, other, left, transpose)


# ---- geqrf (torch.geqrf): LAPACK's Householder QR, which torch does not differentiate -------
_GEQRF_ERROR = (NotImplementedError, "the derivative for 'geqrf' is not implemented.")


def torch_geqrf(*args, **kwargs):
    """LAPACK's geqrf of each matrix of input: (a, tau), R on and above a's diagonal, the
    Householder vectors below it (their 1 on the diagonal implied) and their factors in tau
    (numpy's qr(mode="raw"), whose h is a transposed); householder_product(a, tau) is the Q.
    torch has no derivative for it: with an input that requires grad both outputs are those
    of a GeqrfBackward0 node, whose backward raises."""
    input, = bind("geqrf", args, kwargs, ["input"])     # (torch's parser's messages)
    if input.dim() < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    dt = input._dtype
    if not dt.is_floating_point:
        raise NotImplementedError(f'"geqrf_cpu" not implemented for \'{dt.legacy}\'')
    h, tau = np.linalg.qr(input.detach().numpy(), mode="raw")
    return _Geqrf(nodiff.result("GeqrfBackward0", (np.swapaxes(h, -1, -2), tau), dt, (input,),
                                _GEQRF_ERROR))


@tensor_methods
class _HouseholderMethods:
    def orgqr(self, input2):
        return householder_product(self, input2)

    def geqrf(self):
        return torch_geqrf(self)

    def ormqr(self, input2, input3, left=True, transpose=False):
        return torch_ormqr(self, input2, input3, left, transpose)


def torch_det(*args, **kwargs):
    """torch.det(input): linalg.det, without out= (torch's has none)."""
    return det(*bind("det", args, kwargs, ["input"]))


torch_det.__name__ = torch_det.__qualname__ = "det"


def torch_inverse(input, *, out=None):
    """torch.inverse: linalg.inv of its parser's name for the matrix (inverse(input=x))."""
    return inv(input, out=out)


torch_inverse.__name__ = torch_inverse.__qualname__ = "inverse"

# torch.linalg's functions are all native ones named linalg_<name> (their __name__): Python's
# own binding errors ("missing 1 required positional argument", "unexpected keyword
# argument") name the function by its __qualname__ (vector_norm() was shown)
# (torch.matrix_exp, native too, is plain matrix_exp(): the top level's own copy)
torch_matrix_exp = types.FunctionType(matrix_exp.__code__, matrix_exp.__globals__, "matrix_exp",
                                      matrix_exp.__defaults__, matrix_exp.__closure__)
torch_matrix_exp.__doc__ = matrix_exp.__doc__
for _name in __all__:
    _f = globals()[_name]
    if isinstance(_f, types.FunctionType):
        _f.__name__ = _f.__qualname__ = "linalg_" + _name
        _f.__module__ = _native_names.__name__   # (where pickle finds it)

# torch's out= (tapegrad/out_arg.py; its messages name them linalg_<name>)
out_arg.apply(globals(), out_arg.LINALG_OUT, "linalg_")

# numpy's x= / a= / x1= for input, x2= for other, as torch's parser takes them; the binding
# errors of the functions of one signature listed in native_args (vander, diagonal) its own
numpy_names.apply_operand_names(globals(), forms_prefix="linalg_")
