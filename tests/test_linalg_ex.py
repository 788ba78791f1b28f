"""linalg's *_ex functions at inputs where the factorization fails: torch returns info > 0
and LAPACK's partial result (a Cholesky jitter-retry loop reads info), raising only with
check_errors; a nan makes cholesky fail as LAPACK's pivot test does."""
import numpy as np
import pytest

import tapegrad as tg

NAN = float("nan")


def _cases(m):
    def run(f):
        try:
            return [v.tolist() for v in f()]
        except RuntimeError as e:
            return type(e).__name__, str(e)
    A = m.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=m.float64)
    B = m.tensor([[4.0, 2.0, 1.0], [2.0, 1.0, 3.0], [1.0, 3.0, 2.0]], dtype=m.float64)
    S, P = m.tensor([[1.0, 2.0], [2.0, 4.0]]), m.tensor([[2.0, 1.0], [1.0, 2.0]])
    la = m.linalg
    cases = [lambda: la.cholesky_ex(A), lambda: la.cholesky_ex(B), lambda: la.cholesky_ex(B, upper=True),
             lambda: la.cholesky_ex(m.stack([A, m.eye(2, dtype=m.float64)])),
             lambda: la.cholesky_ex(A, check_errors=True), lambda: la.inv_ex(S),
             lambda: la.inv_ex(S, check_errors=True), lambda: la.solve_ex(S, m.ones(2)),
             lambda: la.solve_ex(S, m.ones(2, 3)), lambda: la.solve_ex(m.stack([S, P]), m.ones(2, 2, 1)),
             lambda: la.solve_ex(S, m.ones(2), check_errors=True), lambda: la.inv_ex(P),
             lambda: la.cholesky_ex(P), lambda: la.cholesky_ex(m.tensor([[NAN, 0.0], [0.0, 1.0]])),
             lambda: [la.cholesky(m.tensor([[1.0, 0.0], [NAN, 1.0]]))],
             lambda: [la.cholesky(m.tensor([[1.0, NAN], [0.0, 1.0]]))],
             lambda: [la.cholesky(m.stack([P, m.tensor([[1.0, 0.0], [0.0, NAN]])]))]]
    return [run(f) for f in cases]


def test_failed_factorizations_report_info():
    got = _cases(tg)
    assert got[0] == [[[1.0, 0.0], [2.0, -3.0]], 2]     # the pivot unrooted, info its order
    assert got[1] == [[[2.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 3.0, 2.0]], 2]
    assert got[3][1] == [2, 0]
    assert got[4] == ("_LinAlgError", "linalg.cholesky_ex: The factorization could not be "
                      "completed because the input is not positive-definite (the leading minor "
                      "of order 2 is not positive-definite).")
    assert got[5] == [[[-np.inf, np.inf], [np.inf, -np.inf]], 2]
    assert got[13][1] == 1 and got[14][0] == "_LinAlgError"
    torch = pytest.importorskip("torch")
    want = _cases(torch)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        # (float32 factors: the last bit follows the LAPACK build, 1/sqrt(2) is 0.70710677 or
        # one ulp below it; messages, info codes and float64 values exactly)
        if isinstance(g, tuple) or isinstance(w, tuple):
            assert g == w
            continue
        assert [np.shape(v) for v in g] == [np.shape(v) for v in w]
        for a, b in zip(g, w):
            np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1.2e-7,
                                       atol=0, equal_nan=True)


def test_jitter_retry_and_the_nodes():
    def fit(m):
        K = m.tensor([[1.0, 1.0], [1.0, 1.0 - 1e-3]], dtype=m.float64, requires_grad=True)
        jitter, tries = 1e-6, 0
        while True:
            L, info = m.linalg.cholesky_ex(K + jitter * m.eye(2, dtype=m.float64))
            tries += 1
            if not info.any():
                break
            jitter *= 10
        L.sum().backward()
        failed = m.linalg.cholesky_ex(m.tensor([[1.0, 2.0], [2.0, 1.0]], requires_grad=True))
        return tries, K.grad.tolist(), type(failed.L.grad_fn).__name__, failed.info.requires_grad
    got = fit(tg)
    assert got[0] == 4 and got[2:] == ("LinalgCholeskyExBackward0", False)
    torch = pytest.importorskip("torch")
    want = fit(torch)
    assert got[0] == want[0] and got[2:] == want[2:]
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10)
