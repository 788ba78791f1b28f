"""matmul kind (dot, mv, mm, bmm, matmul): out = a (batch, m, k) @ b ([batch,] k, n) on
row-major buffers; params [batch, m, k, n, b_batched].

Small products run in the Numba kernels (`forward_matmul` / `sweep_matmul`: plain Python that
codegen compiles into tapegrad/_kernels.py; a loop beats a call into BLAS there).  From
`HOST_MIN_MACS` multiply-adds the entry is a host entry: the eager sweep and replay pause at it
and numpy's BLAS computes out = A @ B, gA = g @ Bᵀ and gB = Aᵀ @ g on the arena slices
(`host_forward` / `host_vjp`).
"""
import ctypes

import numpy as np
try:
    from numpy._core import _multiarray_umath   # (the numpy extension that links its BLAS)
except ImportError:   # (numpy < 2)
    from numpy.core import _multiarray_umath

from ..fpstate import ERR_RESET, ERR_SET, QUIET

KINDS = ("matmul",)

# Below this many multiply-adds the in-kernel loop wins over pausing the sweep for BLAS
# (a pause costs one Python round trip and a kernel re-entry, a few microseconds).
HOST_MIN_MACS = 1 << 14

# kinds.SKIPS: the operand values sweep_matmul reads when the operands wanting a gradient are
# m = 0..3 (bit 1: A, 2: B): B for A's gradient, A for B's
VJP_READS = (0, 2, 1, 3)


def runs_on_host(params):
    nb, m, k, n, _ = params
    return nb * m * k * n >= HOST_MIN_MACS


# Thin float64 products as blocks.  OpenBLAS on AVX-512 cores (SkylakeX and its successors)
# runs a dgemm with m*k*n <= 1e6 (SMALL_MNK) through unpacked "small matrix" kernels at ~34
# GMAC/s here; above that, its packed path reaches only 21-24 GMAC/s on thin products (64 x
# 1000 @ 1000 x 100: 297 us, where torch's MKL takes 185).  Such a product is faster as
# blocks under the limit: row blocks of out when m is the long side (no additions: 1000 x 64
# @ 64 x 100 267 -> 221 us), partial products over k blocks added up when k is (64 x 1000 @
# 1000 x 100 297 -> 262 us; 16 x 4000 @ 4000 x 50 258 -> 190).  Only thin ones: the other two
# sides' product <= THIN_FACE keeps every block >= 156 long on the split side; shorter blocks
# lose to per-call overhead (256^3 as 17 blocks: 578 -> 1000+ us), and so did splitting n in
# every shape measured (64 x 100 @ 100 x 1000: 230 -> 264).  float32 gains nothing (the
# packed sgemm is as fast as the small kernels).  Other BLAS builds or cores, or OpenBLAS on
# more than one thread (the small kernels use one; the packed path shares out the work): one
# call.
SMALL_MNK = 1_000_000
THIN_FACE = SMALL_MNK // 156
SMALL_K = 128   # (k blocks up to 128 long: the kernels slow down beyond, 34 -> 28 GMAC/s at 144)
_SMALL_KERNEL_CORES = ("skylakex", "cooperlake", "sapphirerapids")
# numpy's OpenBLAS's get_num_threads when it runs those cores' kernels, else False (None: not
# looked up yet; True: blocks whatever the BLAS, for tests)
_openblas = None


def _find_openblas():
    """Look up numpy's OpenBLAS (through the numpy extension that links it): its
    get_num_threads if its core is one of _SMALL_KERNEL_CORES, else False."""
    global _openblas
    _openblas = False
    try:
        lib = ctypes.CDLL(_multiarray_umath.__file__)
        for prefix, suffix in (("scipy_openblas_", "64_"), ("scipy_openblas_", ""),
                               ("openblas_", "64_"), ("openblas_", "")):
            core = getattr(lib, f"{prefix}get_corename{suffix}", None)
            threads = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
            if core is not None and threads is not None:
                core.restype = ctypes.c_char_p
                threads.restype = ctypes.c_int
                if (core() or b"").decode().lower() in _SMALL_KERNEL_CORES:
                    _openblas = threads
                break
    except (OSError, AttributeError):
        pass
    return _openblas


def blocks_pay():
    """Whether a thin float64 product runs faster in blocks now: numpy's BLAS is an OpenBLAS
    on one of _SMALL_KERNEL_CORES, limited to one thread (the small kernels run on one; on
    more, one packed product shares the work among them)."""
    threads = _openblas if _openblas is not None else _find_openblas()
    return threads is True or (threads is not False and threads() == 1)


def product(A, B, out=None):
    """A @ B (into `out` when given): np.matmul, or for a thin float64 2-d product that
    OpenBLAS computes faster in blocks (see SMALL_MNK), the same product block by block.
    The caller sets the floating-point error state."""
    if A.ndim == 2 and B.ndim == 2 and A.dtype == np.float64 and B.dtype == np.float64:
        m, k = A.shape
        n = B.shape[1]
        if B.shape[0] == k and m * k * n > SMALL_MNK and (k >= m and m * n <= THIN_FACE or
                                      m > k and k * n <= THIN_FACE) and blocks_pay():
            if out is None:
                out = np.empty((m, n))
            parts = -(-m * k * n // SMALL_MNK)
            if k >= m:
                parts = max(parts, -(-k // SMALL_K))
                cuts = [k * i // parts for i in range(parts + 1)]
                np.matmul(A[:, :cuts[1]], B[:cuts[1]], out=out)
                part = np.empty((m, n))
                for lo, hi in zip(cuts[1:-1], cuts[2:]):
                    np.matmul(A[:, lo:hi], B[lo:hi], out=part)
                    np.add(out, part, out=out)
            else:
                cuts = [m * i // parts for i in range(parts + 1)]
                for lo, hi in zip(cuts[:-1], cuts[1:]):
                    np.matmul(A[lo:hi], B, out=out[lo:hi])
            return out
    return np.matmul(A, B) if out is None else np.matmul(A, B, out=out)


def operands(params, p, a, b, off, vals, A=None, B=None):
    """A as (batch*m, k) and B as (k, n) when B is shared (one 2-d GEMM: numpy's BLAS path),
    else A (batch, m, k) and B (batch, k, n); from the arena unless given (arrays of any
    shape and dtype holding them)."""
    nb, m, k, n, b_batched = params[p:p + 5].tolist()   # (Python ints: cheaper arithmetic)
    if A is None:
        A = vals[off[a]:off[a] + nb * m * k]
    if B is None:
        B = vals[off[b]:off[b] + (nb if b_batched else 1) * k * n]
    if b_batched:
        return A.reshape(nb, m, k), B.reshape(nb, k, n)
    return A.reshape(nb * m, k), B.reshape(k, n)


def host_forward(params, p, a, b, e, off, vals, A=None, B=None):
    """Write entry e's value: A @ B into its arena slice (the operands from the arena unless
    given: a replay's inputs as the caller passed them, Recorded._load's `direct`)."""
    A, B = operands(params, p, a, b, off, vals, A, B)
    out = vals[off[e]:off[e] + A.shape[-2] * B.shape[-1] * (A.shape[0] if A.ndim == 3 else 1)]
    token = ERR_SET(QUIET)   # (inf * 0: nan silently, as torch)
    try:
        product(A, B, out.reshape(A.shape[:-1] + B.shape[-1:]))
    finally:
        ERR_RESET(token)


def host_vjp(params, p, a, b, e, off, vals, adj, needs, A=None, B=None, side=None, c=0.0,
             size=None):
    """Add entry e's input gradients into `adj` (`needs[i]`: operand i wants one; 2: this
    entry gives it its first gradient, written over whatever its block held: a replay's
    plan, Recorded._plan, which then leaves the block unzeroed).  Given the
    operands as saved (A, B: float32 for a float32 model), the products run in their dtype,
    as torch's do: sgemm, not dgemm on float64 copies.  An operand at offset -1 (an input
    entry that only direct host entries feed: walks.arena_layout) gets its gradient by
    side.add, the product itself (float32 for a float32 weight): no float64 round trip.
    (`c`, `size`: the DIRECT protocol's, unused here.)"""
    A, B = operands(params, p, a, b, off, vals, A, B)
    g = adj[off[e]:off[e] + A.size // A.shape[-1] * B.shape[-1]].reshape(A.shape[:-1] + B.shape[-1:])
    if g.dtype != A.dtype:
        g = g.astype(A.dtype)
    # (the prebuilt error state, not np.errstate: ~0.7 us less per host entry)
    token = ERR_SET(QUIET)   # (inf * 0: nan silently, as torch)
    try:
        if needs[0]:
            if off[a] < 0:
                side.add(a, product(g, B.swapaxes(-1, -2)))
            else:
                ga = adj[off[a]:off[a] + A.size].reshape(A.shape)
                if needs[0] == 2:
                    product(g, B.swapaxes(-1, -2), ga)
                else:
                    ga += product(g, B.swapaxes(-1, -2))
        if needs[1]:
            if off[b] < 0:
                side.add(b, product(A.swapaxes(-1, -2), g))
            else:
                gb = adj[off[b]:off[b] + B.size].reshape(B.shape)
                if needs[1] == 2:
                    product(A.swapaxes(-1, -2), g, gb)
                else:
                    gb += product(A.swapaxes(-1, -2), g)
    finally:
        ERR_RESET(token)


def forward_matmul(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    p = par[e]
    nb = params[p]
    m = params[p + 1]
    depth = params[p + 2]
    cols = params[p + 3]
    b_batched = params[p + 4]
    oa = off[a]
    ob = off[b]
    # NOTE: each element is one sum over q ascending, of the products A[i, q] B[q, j] in
    # float64: what one dot product per element computes, rounded the same.  A dot product is
    # a serial chain of adds (no reordering allowed: it does not vectorize), so the loops run
    # over whole rows of slices instead (whose indices Numba knows are in range: without
    # wraparound checks the inner loops vectorize): row i accumulates the rows of B scaled by
    # A[i, q] (inner loop over j), or, when the product has more rows than columns, column j
    # accumulates the columns of A (from a transposed copy) scaled by B[q, j] (inner loop over
    # i).  Small products cost their inner loops' starts more than their arithmetic: the
    # longer inner loop halves them at 32x16x16 and removes them at 32x16x1 (1.7 -> 0.4 us).
    if m > cols:
        at = np.empty(depth * m, vals.dtype)
        acc = np.zeros(m)
        for t in range(nb):
            ao = oa + t * m * depth
            bo = ob + (t * depth * cols if b_batched else 0)
            go = out_off + t * m * cols
            for i in range(m):
                arow = vals[ao + i * depth:ao + i * depth + depth]
                for q in range(depth):
                    at[q * m + i] = arow[q]
            out = vals[go:go + m * cols]
            for j in range(cols):
                acc[:] = 0.0
                for q in range(depth):
                    bv = vals[bo + q * cols + j]
                    acol = at[q * m:q * m + m]
                    for i in range(m):
                        acc[i] += acol[i] * bv
                for i in range(m):
                    out[i * cols + j] = acc[i]
        return
    acc = np.zeros(cols)
    for t in range(nb):
        ao = oa + t * m * depth
        bo = ob + (t * depth * cols if b_batched else 0)
        go = out_off + t * m * cols
        for i in range(m):
            acc[:] = 0.0
            arow = vals[ao + i * depth:ao + i * depth + depth]
            for q in range(depth):
                av = arow[q]
                brow = vals[bo + q * cols:bo + q * cols + cols]
                for j in range(cols):
                    acc[j] += av * brow[j]
            out = vals[go + i * cols:go + i * cols + cols]
            for j in range(cols):
                out[j] = acc[j]


def sweep_matmul(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # (an operand given as -2 - node wants no gradient (kinds.SKIPS): its value is read for
    # the other's gradient, its own is not computed: `x @ W` with x a constant)
    ga_on = a >= 0
    gb_on = b >= 0
    if not ga_on:
        a = -2 - a
    if not gb_on:
        b = -2 - b
    p = par[e]
    nb = params[p]
    m = params[p + 1]
    depth = params[p + 2]
    cols = params[p + 3]
    b_batched = params[p + 4]
    oa = off[a]
    ob = off[b]
    # NOTE: gA[i, q] = sum_j g[i, j] B[q, j], summed in float64 over j ascending and added
    # once; gB[q, j] += A[i, q] g[i, j] for i ascending.  A dot product per gA element is a
    # serial chain of float64 adds (no reordering allowed: it does not vectorize), so row i
    # of gA accumulates the rows of a transposed copy of B scaled by g[i, j] instead: the
    # same sums in the same order (bit for bit), vectorized (5.8 -> 2.4 us at 32x16x16).
    # (Choosing each loop order by shape, as forward_matmul does, saved another 1.2 us at
    # 32x2x16 but cost ~0.9 s of CPU in the first n-d replay's cold compile.)
    bt = np.empty(depth * cols if ga_on else 0, vals.dtype)
    acc = np.zeros(depth)
    for t in range(nb):
        ao = oa + t * m * depth
        bo = ob + (t * depth * cols if b_batched else 0)
        go = out_off + t * m * cols
        if ga_on and (t == 0 or b_batched):
            for q in range(depth):
                brow = vals[bo + q * cols:bo + q * cols + cols]
                for j in range(cols):
                    bt[j * depth + q] = brow[j]
        for i in range(m):
            grow = adj[go + i * cols:go + i * cols + cols]
            if ga_on:
                acc[:] = 0.0
                for j in range(cols):
                    g = grow[j]
                    btrow = bt[j * depth:j * depth + depth]
                    for q in range(depth):
                        acc[q] += g * btrow[q]
            if gb_on:
                arow = vals[ao + i * depth:ao + i * depth + depth]
                for q in range(depth):
                    av = arow[q]
                    gbrow = adj[bo + q * cols:bo + q * cols + cols]
                    for j in range(cols):
                        gbrow[j] += grow[j] * av     # gB[q, j] += A[i, q] g[i, j]
            if ga_on:
                garow = adj[ao + i * depth:ao + i * depth + depth]
                for q in range(depth):
                    garow[q] += acc[q]


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward), as ordinary tensor ops.  `T` is `views.KIND_OPS`, `params` the entry's params
# (from its first one), shapes are tuples or None for one-element nodes (0-d to the tape).
def tensor_forward_matmul(T, x, y, shape, params, imm):
    nb, m, k, n, b_batched = (int(v) for v in params[:5])
    if nb == 1 and not b_batched and x.shape == (m, k) and y.shape == (k, n) and shape == (m, n):
        return x @ y   # (mm of matrices: no views around it)
    if b_batched:
        return (x.reshape(nb, m, k) @ y.reshape(nb, k, n)).reshape(shape)
    return (x.reshape(nb * m, k) @ y.reshape(k, n)).reshape(shape)


def tensor_vjp_matmul(T, g, operand, a_shape, b_shape, params, imm):
    nb, m, k, n, b_batched = (int(v) for v in params[:5])
    if nb == 1 and not b_batched and a_shape == (m, k) and b_shape == (k, n) and g.shape == (m, n):
        # mm of matrices: torch's mm backward, g B^T and A^T g, no views around them
        return [(0, g @ operand(1).t()), (1, operand(0).t() @ g)]
    A = operand(0).reshape(nb, m, k)
    B = operand(1).reshape(nb if b_batched else 1, k, n)
    G = g.reshape(nb, m, n)
    ga = (G @ B.transpose(1, 2)) if b_batched else (G.reshape(nb * m, n) @ B.reshape(k, n).t())
    gb = (A.transpose(1, 2) @ G) if b_batched \
        else (A.reshape(nb * m, k).t() @ G.reshape(nb * m, n))
    return [(0, ga.reshape(a_shape if a_shape is not None else ())),
            (1, gb.reshape(b_shape if b_shape is not None else ()))]
