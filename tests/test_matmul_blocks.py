"""Thin float64 products computed in blocks (kinds.matmul.product: OpenBLAS's small-matrix
kernels): the same values as one np.matmul, for every layout, dtype and batch shape, and the
same gradients as torch through the eager, backward and replay paths."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.kinds import matmul as matmul_kind

torch = pytest.importorskip("torch")

# (m, k, n): k blocks (k the long side), row blocks (m the long side), and shapes left whole
K_SPLIT = [(64, 1000, 100), (32, 1000, 100), (16, 4000, 50), (3, 100_000, 5)]
M_SPLIT = [(1000, 64, 100), (784, 64, 100), (4000, 16, 50)]
WHOLE = [(64, 100, 1000), (256, 256, 256), (128, 128, 128), (64, 1000, 10)]


@pytest.fixture
def blocks(monkeypatch):
    """The block rule on, whatever BLAS this machine has (it is a choice of formulation)."""
    monkeypatch.setattr(matmul_kind, "_openblas", True)


def layouts(a):
    """a (2-d) as C-ordered, F-ordered, a transposed view, and a strided slice of a larger
    array."""
    big = np.zeros((a.shape[0] * 2, a.shape[1] + 3), a.dtype)
    big[::2, 1:1 + a.shape[1]] = a
    return {"C": np.ascontiguousarray(a), "F": np.asfortranarray(a),
            "T view": np.ascontiguousarray(a.T).T, "strided": big[::2, 1:1 + a.shape[1]]}


def split_of(m, k, n):
    """The blocks product makes: ('k' | 'm', cuts), or None for one call."""
    if m * k * n <= matmul_kind.SMALL_MNK:
        return None
    parts = -(-m * k * n // matmul_kind.SMALL_MNK)
    if k >= m and m * n <= matmul_kind.THIN_FACE:
        parts = max(parts, -(-k // matmul_kind.SMALL_K))
        return "k", [k * i // parts for i in range(parts + 1)]
    if m > k and k * n <= matmul_kind.THIN_FACE:
        return "m", [m * i // parts for i in range(parts + 1)]
    return None


def by_hand(A, B, split):
    """The blocked product spelled out with np.matmul: the same products, the same order."""
    if split is None:
        return A @ B
    side, cuts = split
    if side == "m":
        return np.concatenate([A[lo:hi] @ B for lo, hi in zip(cuts, cuts[1:])])
    out = A[:, :cuts[1]] @ B[:cuts[1]]
    for lo, hi in zip(cuts[1:-1], cuts[2:]):
        out = out + A[:, lo:hi] @ B[lo:hi]
    return out


@pytest.mark.parametrize("shape", K_SPLIT + M_SPLIT + WHOLE)
def test_rule_splits_thin_products_only(shape):
    m, k, n = shape
    expect = "k" if shape in K_SPLIT else "m" if shape in M_SPLIT else None
    got = split_of(m, k, n)
    assert (got and got[0]) == (expect or None)
    if got:   # every block within the small kernels' limit
        cuts = got[1]
        other = m * n if got[0] == "k" else k * n
        assert all((hi - lo) * other <= matmul_kind.SMALL_MNK for lo, hi in zip(cuts, cuts[1:]))


@pytest.mark.parametrize("shape", K_SPLIT + M_SPLIT + WHOLE)
def test_blocks_equal_the_same_products_by_hand(blocks, shape):
    m, k, n = shape
    rng = np.random.default_rng(m + k + n)
    A0, B0 = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    split = split_of(m, k, n)
    for la, A in layouts(A0).items():
        for lb, B in layouts(B0).items():
            want = by_hand(A, B, split)
            got = matmul_kind.product(A, B)
            assert np.allclose(got, A0 @ B0, rtol=1e-12, atol=1e-10 * np.sqrt(k)), (la, lb)
            if split is None or split[0] == "m" or (la, lb) == ("C", "C"):
                # (the same BLAS calls on the same layouts: bit for bit)
                assert np.array_equal(got, want), (la, lb)
            out = np.full((m, n), np.nan)
            assert matmul_kind.product(A, B, out) is out
            assert np.array_equal(out, got), (la, lb)


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_other_dtypes_and_batches_stay_one_call(blocks, dtype):
    rng = np.random.default_rng(1)
    A = (rng.standard_normal((64, 1000)) * 4).astype(dtype)
    B = (rng.standard_normal((1000, 100)) * 4).astype(dtype)
    assert np.array_equal(matmul_kind.product(A, B), np.matmul(A, B))
    A3 = rng.standard_normal((2, 64, 1000))
    B3 = rng.standard_normal((2, 1000, 100))
    assert np.array_equal(matmul_kind.product(A3, B3), np.matmul(A3, B3))
    with pytest.raises(ValueError):   # (a mismatched inner size is refused, never sliced)
        matmul_kind.product(np.ones((64, 1000)), np.ones((2000, 100)))


def test_off_when_blas_lacks_the_kernels(monkeypatch):
    monkeypatch.setattr(matmul_kind, "_openblas", False)
    rng = np.random.default_rng(2)
    A, B = rng.standard_normal((64, 1000)), rng.standard_normal((1000, 100))
    assert np.array_equal(matmul_kind.product(A, B), np.matmul(A, B))


def test_blocks_pay_follows_the_openblas_core_and_threads(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    info = [i for i in threadpoolctl.threadpool_info() if i.get("internal_api") == "openblas"
            and "numpy" in i.get("filepath", "")]
    if not info:
        pytest.skip("numpy's BLAS is not OpenBLAS")
    monkeypatch.setattr(matmul_kind, "_openblas", None)
    small = info[0]["architecture"].lower() in matmul_kind._SMALL_KERNEL_CORES
    for threads in (1, 2):
        with threadpoolctl.threadpool_limits(threads, user_api="blas"):
            assert matmul_kind.blocks_pay() == (small and threads == 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_two_layer_net_matches_torch(blocks, dtype):
    """The N=64 1000->100->10 net (compare_tape's): loss and gradients as torch's, eager and
    replayed (both run the blocked products)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((64, 1000)).astype(dtype)
    Y = rng.standard_normal((64, 10)).astype(dtype)
    ws = [(rng.standard_normal(s) * 0.05).astype(dtype) for s in ((1000, 100), (100,),
                                                                  (100, 10), (10,))]

    def loss(mod, X, Y, w1, b1, w2, b2):
        return (((X @ w1 + b1).tanh() @ w2 + b2 - Y) ** 2).mean()

    tp = [torch.tensor(w, requires_grad=True) for w in ws]
    tl = loss(torch, torch.tensor(X), torch.tensor(Y), *tp)
    tl.backward()
    gp = [tg.tensor(w, requires_grad=True) for w in ws]
    gl = loss(tg, tg.tensor(X), tg.tensor(Y), *gp)
    gl.backward()
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=1e-4, atol=1e-6)
    assert np.allclose(gl.item(), tl.item(), **tol)
    for g, t in zip(gp, tp):
        assert np.allclose(g.grad.numpy(), t.grad.numpy(), **tol)
    rec = tg.record(lambda w1, b1, w2, b2: loss(tg, tg.tensor(X), tg.tensor(Y), w1, b1, w2, b2),
                    *[tg.tensor(w) for w in ws])
    val, grads = rec.value_and_grad(*ws)
    # (the loss's last bits may differ: replay's mean sums in its own order; the gradients
    # are the same products)
    assert np.isclose(float(val), gl.item(), rtol=1e-12 if dtype == "float64" else 1e-6)
    for g, p in zip(grads, gp):   # (float32: replay's arena holds float64 sums)
        if dtype == "float64":
            assert np.array_equal(np.asarray(g), p.grad.numpy())
        else:
            assert np.allclose(np.asarray(g), p.grad.numpy(), **tol)


@pytest.mark.parametrize("shapes", [((64, 1000), (1000, 100)), ((1000, 100), (100, 64))])
def test_matmul_backward_of_thin_operands_matches_torch(blocks, shapes):
    """Forward, g @ Bᵀ and Aᵀ @ g of products that run in blocks (64x1000 @ 1000x100: out by k
    blocks, gB by rows; 1000x100 @ 100x64: out and gA by rows, gB by k blocks), both operands
    wanting a gradient, which other uses add to."""
    rng = np.random.default_rng(4)
    A0, B0 = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    A, B = tg.tensor(A0, requires_grad=True), tg.tensor(B0, requires_grad=True)
    At, Bt = torch.tensor(A0, requires_grad=True), torch.tensor(B0, requires_grad=True)
    for a, b in ((A, B), (At, Bt)):
        ((a @ b).tanh().sum() + (a * 2).sum() + (b * 3).sum()).backward()
    assert np.allclose(A.grad.numpy(), At.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert np.allclose(B.grad.numpy(), Bt.grad.numpy(), rtol=1e-10, atol=1e-10)
