"""torch.linalg.householder_product / torch.orgqr / Tensor.orgqr against torch: values, both
gradients, grad_fn and next_functions on batched and square/tall shapes, and torch's
errors; torch.geqrf, whose (a, tau) they take: values, shapes, dtypes, its node (no
derivative) and out=; torch.ormqr on geqrf's form: values, the three gradients, its node and
errors."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape,k", [((4, 3), 2), ((5, 5), 5), ((2, 6, 4), 3), ((4, 2), 2),
                                     ((1, 3, 3), 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_as_torch(shape, k, dtype):
    rng = np.random.default_rng(k)
    A0, T0 = rng.normal(size=shape), rng.random(shape[:-2] + (k,))
    res = []
    for m in (torch, tg):
        A = m.tensor(A0, dtype=getattr(m, dtype), requires_grad=True)
        tau = m.tensor(T0, dtype=getattr(m, dtype), requires_grad=True)
        Q = m.linalg.householder_product(A, tau)
        (Q * m.tensor(np.cos(np.arange(Q.numel())).reshape(tuple(Q.shape)),
                      dtype=getattr(m, dtype))).sum().backward()
        res.append((Q.detach().numpy(), A.grad.numpy(), tau.grad.numpy(),
                    type(Q.grad_fn).__name__,
                    [type(f).__name__ for f, _ in Q.grad_fn.next_functions],
                    m.orgqr(A, tau).detach().numpy(), A.orgqr(tau).detach().numpy()))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for i in (0, 1, 2, 5, 6):
        np.testing.assert_allclose(res[1][i], res[0][i], **tol)
    assert res[1][3:5] == res[0][3:5]


ERRORS = [lambda m: m.linalg.householder_product(m.ones(3), m.ones(1)),
          lambda m: m.linalg.householder_product(m.ones(2, 3), m.ones(1)),
          lambda m: m.linalg.householder_product(m.ones(3, 2), m.ones(3)),
          lambda m: m.linalg.householder_product(m.ones(3, 2), m.ones(1, 1)),
          lambda m: m.linalg.householder_product(m.ones(2, 3, 2), m.ones(3, 1)),
          lambda m: m.linalg.householder_product(m.ones(3, 2), m.ones(1, dtype=m.float64)),
          lambda m: m.linalg.householder_product(m.ones(3, 2, dtype=m.int64),
                                                 m.ones(1, dtype=m.int64))]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_as_torch(i):
    assert_same_error(ERRORS[i], torch)


# ---- geqrf ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (5, 5), (2, 6, 4), (2, 1, 3, 2), (1, 1),
                                   (0, 3), (3, 0), (2, 0, 3, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_geqrf_as_torch(shape, dtype):
    A0 = np.random.default_rng(len(shape)).normal(size=shape)
    res = []
    for m in (torch, tg):
        A = m.tensor(A0, dtype=getattr(m, dtype))
        r = m.geqrf(A)
        a, tau = r
        Q = m.linalg.householder_product(a, tau) if shape[-2] >= shape[-1] else None
        res.append((type(r).__name__, r.a is a and r.tau is tau, a.numpy(), tau.numpy(),
                    str(a.dtype).split(".")[-1], str(tau.dtype).split(".")[-1],
                    None if Q is None else Q.numpy(), A.geqrf().a.numpy()))
    assert res[1][0] == res[0][0] == "geqrf" and res[1][1] and res[1][4:6] == res[0][4:6]
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for i in (2, 3, 6, 7):
        if res[0][i] is not None:
            assert res[1][i].shape == res[0][i].shape
            np.testing.assert_allclose(res[1][i], res[0][i], **tol)


def test_geqrf_has_no_derivative_as_torch():
    """Both outputs come from one GeqrfBackward0 node (output_nr 0 and 1), whose backward
    raises torch's NotImplementedError; no node without grad mode."""
    seen = []
    for m in (torch, tg):
        x = m.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]], requires_grad=True)
        a, tau = m.geqrf(x)
        f = a.grad_fn
        got = [f.name(), f is tau.grad_fn, a.output_nr, tau.output_nr,
               [type(g).__name__ for g, _ in f.next_functions]]
        for y in (a.sum(), tau.sum(), (a * 0).sum() + x.sum()):
            with pytest.raises(NotImplementedError) as e:
                y.backward()
            got.append(str(e.value))
        with m.no_grad():
            got.append(m.geqrf(x).a.requires_grad)
        seen.append(got)
    assert seen[1] == seen[0]
    assert seen[0][5] == "the derivative for 'geqrf' is not implemented."


@pytest.mark.parametrize("call", [
    lambda m: m.geqrf(m.ones(3)),
    lambda m: m.geqrf(m.tensor(1.0)),
    lambda m: m.geqrf(m.ones(2, 2, dtype=m.int64)),
    lambda m: m.geqrf(m.ones(2, 2, dtype=m.bool)),
    lambda m: m.geqrf([[1.0]]),
    lambda m: m.geqrf(m.ones(2, 2), m.ones(2)),
    lambda m: m.geqrf(),
    lambda m: m.geqrf(m.ones(3, 2), out=m.empty(0)),
    lambda m: m.geqrf(m.ones(3, 2), out=(m.empty(0, dtype=m.int64), m.empty(0))),
    lambda m: m.geqrf(m.ones(3, 2), out=(m.empty(0), m.empty(0, dtype=m.int64))),
    lambda m: m.geqrf(m.ones(3, 2, requires_grad=True), out=(m.empty(0), m.empty(0))),
])
def test_geqrf_errors_as_torch(call):
    assert_same_error(call, torch)


def test_geqrf_out_as_torch():
    A0 = np.random.default_rng(3).normal(size=(4, 3))
    seen = []
    for m in (torch, tg):
        o = (m.empty(0, dtype=m.float64), m.empty(0))      # (a cast into out's dtype)
        r = m.geqrf(m.tensor(A0, dtype=m.float32), out=o)
        seen.append((type(r).__name__, r.a is o[0], r.tau is o[1], o[0].numpy(), o[1].numpy(),
                     str(o[0].dtype).split(".")[-1]))
    assert seen[1][:3] == seen[0][:3] == ("geqrf_out", True, True) and seen[1][5] == seen[0][5]
    for i in (3, 4):
        np.testing.assert_allclose(seen[1][i], seen[0][i], rtol=1e-5, atol=1e-6)


# ---- ormqr ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,cols", [((5, 3), 2), ((4, 4), 3), ((2, 6, 4), 3), ((5, 6), 2),
                                        ((0, 3, 2), 2)])
@pytest.mark.parametrize("left,transpose", [(True, False), (True, True), (False, False),
                                            (False, True)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ormqr_as_torch(shape, cols, left, transpose, dtype):
    rng = np.random.default_rng(cols)
    A0 = rng.normal(size=shape)
    C0 = rng.normal(size=shape[:-1] + (cols,) if left else shape[:-2] + (cols, shape[-2]))
    res = []
    for m in (torch, tg):
        dt = getattr(m, dtype)
        a, tau = (t.detach().requires_grad_() for t in m.geqrf(m.tensor(A0, dtype=dt)))
        C = m.tensor(C0, dtype=dt, requires_grad=True)
        r = m.ormqr(a, tau, C, left, transpose)
        w = m.tensor(np.cos(np.arange(r.numel())).reshape(tuple(r.shape)), dtype=dt)
        (r * w).sum().backward()
        # (torch leaves an empty batch's a.grad and tau.grad None: tapegrad's are empty)
        res.append((r.detach().numpy(), *(np.zeros(t.shape) if t.grad is None else
                                          t.grad.numpy() for t in (a, tau, C)),
                    a.detach().ormqr(tau.detach(), C.detach(), left=left,
                                     transpose=transpose).numpy(),
                    type(r.grad_fn).__name__,
                    [type(f).__name__ for f, _ in r.grad_fn.next_functions]))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-11, atol=1e-12)
    for i in range(5):
        np.testing.assert_allclose(res[1][i], res[0][i], **tol)
    assert res[1][5:] == res[0][5:]


def test_ormqr_edges_of_inputs_without_grad_as_torch():
    A0 = np.random.default_rng(1).normal(size=(4, 3))
    seen = []
    for m in (torch, tg):
        a, tau = m.geqrf(m.tensor(A0))
        C = m.ones(4, 2, dtype=m.float64, requires_grad=True)
        r = m.ormqr(a, tau, C, transpose=True)
        seen.append([None if f is None else type(f).__name__ for f, _ in
                     r.grad_fn.next_functions])
    assert seen[1] == seen[0]


ORMQR_ERRORS = [
    lambda m: m.ormqr(m.ones(5), m.ones(3), m.ones(5, 2)),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(3), m.ones(5)),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(3), m.ones(4, 2)),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(3), m.ones(2, 4), left=False),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(4), m.ones(5, 2)),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(2), m.ones(5, 2)),
    lambda m: m.ormqr(m.ones(5, 6), m.ones(2), m.ones(2, 5), left=False),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(1, 3), m.ones(5, 2)),
    lambda m: m.ormqr(m.ones(2, 5, 3), m.ones(2, 3), m.ones(5, 2)),
    lambda m: m.ormqr(m.ones(2, 5, 3), m.ones(3, 3), m.ones(2, 5, 2)),
    lambda m: m.ormqr(m.ones(2, 5, 3), m.ones(2, 3), m.ones(3, 5, 2)),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(3, dtype=m.float64), m.ones(5, 2)),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(3), m.ones(5, 2, dtype=m.float64)),
    lambda m: m.ormqr(m.ones(5, 3, dtype=m.int64), m.ones(3, dtype=m.int64),
                      m.ones(5, 2, dtype=m.int64)),
    lambda m: m.ormqr([[1.0]], m.ones(1), m.ones(1, 1)),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(3), m.ones(5, 2), 1.5),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(3), m.ones(5, 2), left=0),
    lambda m: m.ormqr(m.ones(5, 3), m.ones(3), m.ones(5, 2), True, True, 1),
    lambda m: m.ormqr(m.ones(5, 3), tau=m.ones(3), other=m.ones(5, 2)),
    lambda m: m.ormqr(m.ones(3, 2), m.zeros(2), m.ones(3, 2), out=m.empty(0, dtype=m.float64)),
    lambda m: m.ormqr(m.ones(3, 2), m.zeros(2), m.ones(3, 2, requires_grad=True),
                      out=m.empty(0)),
    lambda m: m.orgqr(m.ones(3, 2), m.zeros(2), out=m.empty(0, dtype=m.int64)),
    lambda m: m.orgqr(m.ones(3, 2, requires_grad=True), m.zeros(2), out=m.empty(0)),
]


@pytest.mark.parametrize("i", range(len(ORMQR_ERRORS)))
def test_ormqr_errors_as_torch(i):
    assert_same_error(ORMQR_ERRORS[i], torch)
