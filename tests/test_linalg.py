"""torch.linalg on LAPACK host entries (tapegrad/kinds/linalg.py, tapegrad/linalg.py).

The rows themselves (det, slogdet, inv, solve, cholesky, svdvals) are in tests/cases_struct.py,
checked by test_ops.py's table (gradcheck, gradgradcheck, third derivative, torch float32 /
float64, hvp) and test_structops.py's replay.  Here: the compositions built on them (matrix
norms, cond, logdet), torch's errors, the faces no table reaches (JVP, replay of every entry,
kernels that do not pause, tape files, saved-value lifetimes) and what a call records."""
import json
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import tapefile
from tapegrad.autograd import gradcheck
from tapegrad.kinds import linalg as LK
from tapegrad.ops import OPS

from torch_errors import assert_same_error

INF = math.inf


def _spd(m, a):
    return a @ a.mT + m.eye(a.shape[-1], dtype=a.dtype)


def _eye(m, a, c=3.0):
    return m.eye(a.shape[-1], dtype=a.dtype) * c


# (id, fn(module, *tensors), input shapes): compositions on the linalg rows, as torch's
COMPOSED = [(f"matrix_norm-{o}", lambda m, a, o=o: m.linalg.matrix_norm(a, o), [(2, 3, 4)])
            for o in ("fro", "nuc", 2, -2, 1, -1, INF, -INF)] + [
    ("matrix_norm-dims-keep", lambda m, a: m.linalg.matrix_norm(a, 1, dim=(2, 0), keepdim=True),
     [(3, 2, 4)]),
    ("matrix_norm-nuc-keep", lambda m, a: m.linalg.matrix_norm(a, "nuc", dim=(0, 2),
                                                               keepdim=True), [(3, 2, 4)]),
    ("norm-2", lambda m, a: m.linalg.norm(a, 2), [(3, 4)]),
    ("norm-inf-dim", lambda m, a: m.linalg.norm(a, -INF, dim=(1, 0)), [(3, 4)]),
    ("norm-fro", lambda m, a: m.linalg.norm(a, "fro"), [(3, 4)]),
    ("norm-nuc", lambda m, a: m.linalg.norm(a, "nuc"), [(4, 3)]),
    ("cond", lambda m, a: m.linalg.cond(a + _eye(m, a)), [(3, 3)]),
    # (torch's own backward of cond(A, p) for these p raises: its inverse is changed in place)
    ("cond-1", lambda m, a: m.linalg.cond(a + _eye(m, a), 1), [(2, 3, 3)], False),
    ("cond-fro", lambda m, a: m.linalg.cond(a + _eye(m, a), "fro"), [(3, 3)], False),
    ("logdet", lambda m, a: m.logdet(_spd(m, a)), [(2, 3, 3)]),
    ("torch-slogdet", lambda m, a: m.slogdet(a + _eye(m, a)).logabsdet, [(3, 3)]),
    ("solve_ex", lambda m, a, b: m.linalg.solve_ex(a + _eye(m, a), b).result, [(3, 3), (3,)]),
    ("cholesky_ex", lambda m, a: m.linalg.cholesky_ex(_spd(m, a), upper=True).L, [(3, 3)]),
    ("solve-bcast-A", lambda m, a, b: m.linalg.solve(a + _eye(m, a), b), [(3, 3), (2, 3, 2)]),
    ("chain", lambda m, a, b: m.linalg.inv(a + _eye(m, a)) @ m.linalg.cholesky(_spd(m, b)),
     [(3, 3), (3, 3)]),
]
COMPOSED = [c if len(c) == 4 else c + (True,) for c in COMPOSED]
IDS = [c[0] for c in COMPOSED]


def _vals(shapes, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.2, 2.0, s).astype(dtype) * rng.choice([-1.0, 1.0], s).astype(dtype)
            for s in shapes]


def _w(out):
    return np.random.default_rng(5).normal(size=tuple(out.shape))


@pytest.mark.parametrize("cid,fn,shapes,torch_grad", COMPOSED, ids=IDS)
def test_composed_gradcheck(cid, fn, shapes, torch_grad):
    xs = [tg.tensor(v, requires_grad=True) for v in _vals(shapes, 1)]
    assert gradcheck(lambda *a: fn(tg, *a), xs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cid,fn,shapes,torch_grad", COMPOSED, ids=IDS)
def test_composed_against_torch(cid, fn, shapes, torch_grad, dtype):
    """Value, gradient, dtypes and grad_fn name as torch's, eager and replayed."""
    torch = pytest.importorskip("torch")
    vals = _vals(shapes, 2, getattr(np, dtype))
    res = []
    for m in (tg, torch):
        xs = [m.tensor(v, requires_grad=True) for v in vals]
        out = fn(m, *xs)
        if torch_grad or m is tg:
            (out * m.tensor(_w(out), dtype=out.dtype)).sum().backward()
        res.append((out, [x.grad for x in xs]))
    (out, grads), (tout, tgrads) = res
    assert type(out.grad_fn).__name__ == type(tout.grad_fn).__name__
    assert out.dtype.name == str(tout.dtype).replace("torch.", "")
    tol = dict(rtol=2e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), **tol)
    for g, t in zip(grads, tgrads if torch_grad else ()):
        assert g.dtype.name == str(t.dtype).replace("torch.", "")
        np.testing.assert_allclose(g.numpy(), t.numpy(), **tol)
    # replayed at the point it was recorded at and at another one
    w = tg.tensor(_w(out), dtype=out.dtype)
    rec = tg.record(lambda *a: (fn(tg, *a) * w).sum(), *[tg.tensor(v) for v in vals])
    for point in (vals, [v * np.asarray(1.1, v.dtype) for v in vals]):
        xs = [tg.tensor(v, requires_grad=True) for v in point]
        e = (fn(tg, *xs) * w).sum()
        e.backward()
        value, rgrads = rec.value_and_grad(*point)
        np.testing.assert_allclose(value, e.item(), **tol)
        for g, x in zip(rgrads, xs):
            np.testing.assert_allclose(g, x.grad.numpy(), **tol)


def _torch_and_ours(fn):
    torch = pytest.importorskip("torch")
    out = []
    for m in (tg, torch):
        with pytest.raises(Exception) as info:
            fn(m)
        out.append(info.value)
    return out


ERRORS = [
    lambda m: m.linalg.inv(m.ones(3, 3)),
    lambda m: m.linalg.inv(m.stack([m.eye(2), m.tensor([[1.0, 2.0], [2.0, 4.0]])])),
    lambda m: m.linalg.inv(m.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])),
    lambda m: m.linalg.solve(m.ones(3, 3), m.ones(3)),
    lambda m: m.linalg.solve(m.stack([m.eye(2), m.zeros(2, 2)]), m.ones(2), left=True),
    lambda m: m.linalg.cholesky(m.tensor([[1.0, 2.0, 0], [2.0, 1.0, 0], [0, 0, 1.0]])),
    lambda m: m.linalg.cholesky(m.stack([m.eye(3), -m.eye(3)])),
    lambda m: m.linalg.cholesky(m.tensor([[4.0, 7.0], [1.0, 5.0]]), upper=True),
    lambda m: m.linalg.cholesky(m.ones(2, 3)),
    lambda m: m.linalg.det(m.ones(3)),
    lambda m: m.linalg.svdvals(m.ones(3)),
    lambda m: m.linalg.slogdet(m.ones(3, 2)),
    lambda m: m.linalg.inv(m.ones(2, 2, dtype=m.int64)),
    lambda m: m.linalg.solve(m.eye(3), m.ones(2)),
    lambda m: m.linalg.solve(m.eye(3), m.ones(2, 2, 3)),
    lambda m: m.linalg.solve(m.eye(3), m.ones(3), left=False),
    lambda m: m.linalg.solve(m.eye(3), m.ones(3, 2, dtype=m.float64)),
    lambda m: m.linalg.solve(m.eye(3), m.ones(2, 3, 4), left=False),
    lambda m: m.linalg.matrix_norm(m.ones(3), "fro"),
    lambda m: m.linalg.matrix_norm(m.ones(3, 3), 3),
    lambda m: m.linalg.norm(m.ones(2, 3, 4), 0.5),
    lambda m: m.linalg.norm(m.ones(2, 3, 4), "fro"),
    lambda m: m.linalg.norm(m.ones(3), "fro"),
    lambda m: m.linalg.norm(m.ones(2, 3), 0.5, dim=(0, 1)),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_like_torch(k):
    ours, theirs = _torch_and_ours(ERRORS[k])
    assert str(ours).split("\n")[0] == str(theirs).split("\n")[0]
    torch = pytest.importorskip("torch")
    # LinAlgError where torch raises its LinAlgError, a RuntimeError both
    assert isinstance(ours, tg.linalg.LinAlgError) == isinstance(theirs, torch.linalg.LinAlgError)
    assert isinstance(ours, RuntimeError) == isinstance(theirs, RuntimeError)


def test_a_failing_call_records_nothing():
    a = tg.ones(3, 3, requires_grad=True)
    b = a * 1.0
    n = b._tape.n
    with pytest.raises(tg.linalg.LinAlgError):
        tg.linalg.inv(b)
    assert b._tape.n == n


def test_det_gradient_on_singular_matrices_as_torch():
    """torch's backward gives zeros on an exactly singular matrix (not the cofactors).  The
    matrices are ones whose LU is exact in any LAPACK (a zero row, pivots of powers of two):
    elsewhere torch's LAPACK may round a singular matrix's det off zero on one CPU and not on
    another (MKL on an AVX-512 machine gave -6.7e-16 for [[1,2,3],[2,4,6],[1,0,1]])."""
    torch = pytest.importorskip("torch")
    for v in ([[1.0, 2.0], [2.0, 4.0]], [[2.0, 4.0], [1.0, 2.0]],
              [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [4.0, 5.0, 6.0]]):
        grads = []
        for m in (tg, torch):
            x = m.tensor(v, dtype=m.float64, requires_grad=True)
            d = m.linalg.det(x)
            assert d.item() == 0.0
            d.backward()
            grads.append(x.grad.numpy())
        np.testing.assert_array_equal(*grads)


def test_logdet_gradient_of_a_large_matrix_whose_det_leaves_floats_range():
    # det(eye(200) * 0.01) = 1e-400 underflows to 0 (and * 100 overflows, with a warning):
    # the singularity test read det, so the gradient A^-T was nan
    for scale in (0.01, 100.0):
        for f in (tg.logdet, lambda a: tg.linalg.slogdet(a)[1]):
            A = (tg.eye(200, dtype=tg.float64) * scale).requires_grad_()
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                f(A).backward()
            np.testing.assert_array_equal(A.grad.numpy(), np.eye(200) / scale)


JVP = [(LK.DET, 0, [(2, 3, 3)]), (LK.LOGDET, 0, [(2, 3, 3)]), (LK.INV, 0, [(2, 3, 3)]),
       (LK.SOLVE, 0, [(2, 3, 3), (2, 3, 2)]), (LK.SOLVE, 1, [(2, 3, 3), (2, 2, 3)]),
       (LK.CHOLESKY, 0, [(2, 3, 3)]), (LK.CHOLESKY, 1, [(2, 3, 3)]),
       (LK.SVDVALS, 0, [(2, 3, 4)]), (LK.SOLVE_TRIANGULAR, 2, [(2, 3, 3), (2, 3, 2)]),
       (LK.SOLVE_TRIANGULAR, 1, [(2, 3, 3), (2, 2, 3)]),
       (LK.SOLVE_TRIANGULAR, 6, [(2, 3, 3), (2, 3, 2)]), (LK.MATRIX_EXP, 0, [(2, 3, 3)]),
       (LK.EIGVALSH, 0, [(2, 3, 3)]), (LK.EIGVALSH, 1, [(2, 3, 3)])]


@pytest.mark.parametrize("which,flag,shapes", JVP)
def test_jvp_matches_finite_differences_and_vjp(which, flag, shapes):
    """The JVP rule beside the VJP: central differences, and <vjp(g), d> == <g, jvp(d)>."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=shapes[0])
    if which in (LK.CHOLESKY, LK.LOGDET):
        A = A @ A.swapaxes(-1, -2) + np.eye(A.shape[-1])
    elif which != LK.SVDVALS:
        A = A + 3 * np.eye(A.shape[-1])
    B = rng.normal(size=shapes[1]) if len(shapes) > 1 else None
    dA = rng.normal(size=A.shape)
    dB = rng.normal(size=B.shape) if B is not None else None
    out = LK.forward(which, flag, A, B)
    h = 1e-6

    def at(s):
        return LK.forward(which, flag, A + s * dA, None if B is None else B + s * dB)
    fd = (at(h) - at(-h)) / (2 * h)
    if which in (LK.CHOLESKY, LK.EIGVALSH):   # one triangle read: the FD of a symmetric dA
        dA = dA + dA.swapaxes(-1, -2)
        fd = (at(h) - at(-h)) / (2 * h)
    jv = LK.jvp(which, flag, A, B, out, dA, dB)
    np.testing.assert_allclose(jv, fd, rtol=1e-6, atol=1e-7)
    g = rng.normal(size=out.shape)
    gA, gB = LK.vjp(which, flag, g, A, B, out, (True, True))
    lhs = (gA * dA).sum() + (0.0 if gB is None else (gB * dB).sum())
    np.testing.assert_allclose(lhs, (g * jv).sum(), rtol=1e-9)


def _lapack_tape():
    A = np.random.default_rng(0).normal(size=(3, 3)) + 3 * np.eye(3)
    B = np.random.default_rng(1).normal(size=(3, 2))

    def f(a, b):
        return (tg.linalg.solve(a, b, left=True).sum() + tg.linalg.det(a)
                + tg.linalg.inv(a).sum() + tg.linalg.cholesky(_spd(tg, a), upper=True).sum()
                + tg.linalg.svdvals(a).sum() + tg.linalg.slogdet(a)[1])
    return f, A, B, tg.record(f, tg.tensor(A), tg.tensor(B))


def test_replay_saved_to_a_file_pauses_at_every_lapack_entry(tmp_path):
    f, A, B, rec = _lapack_tape()
    assert int(rec.host.sum()) == 6      # one host entry per call
    path = tmp_path / "t.npz"
    rec.save(path)
    loaded = tg.load_tape(path)
    A2 = A * 1.1
    x, y = tg.tensor(A2, requires_grad=True), tg.tensor(B, requires_grad=True)
    e = f(x, y)
    e.backward()
    for r in (rec, loaded):
        v, (ga, gb) = r.value_and_grad(A2, B)
        np.testing.assert_allclose(v, e.item(), rtol=1e-12)
        np.testing.assert_allclose(ga, x.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, y.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(r(A2, B), e.item(), rtol=1e-12)
    # a singular matrix at replay: torch's error, from the host forward
    with pytest.raises(tg.linalg.LinAlgError, match="torch.linalg.solve: The solver failed"):
        rec.value_and_grad(np.ones((3, 3)), B)


@pytest.mark.parametrize("call", ["jacobian", "value_and_grad_batch", "value_and_grad_flat",
                                  "jacobian_batch", "hvp_batch"])
def test_kernels_that_do_not_pause_refuse_lapack_entries(call):
    """They run every entry in Numba, which has no LAPACK piece: an error naming the op and
    the alternative, never values that skipped the entry."""
    _, A, B, rec = _lapack_tape()
    calls = {"jacobian": lambda: rec.jacobian(A, B),
             "value_and_grad_batch": lambda: rec.value_and_grad_batch(A[None], B[None]),
             "value_and_grad_flat": lambda: rec.value_and_grad_flat(np.zeros((1, 15))),
             "jacobian_batch": lambda: rec.jacobian_batch(A[None], B[None]),
             "hvp_batch": lambda: rec.hvp_batch((A[None], B[None]), (A[None], B[None]))}
    with pytest.raises(NotImplementedError, match=r"linalg\.solve.*value_and_grad per point"):
        calls[call]()


def test_one_element_matrices_replay_through_the_pausing_kernels():
    rec = tg.record(lambda a: tg.linalg.inv(a).sum() * tg.linalg.det(a),
                    tg.tensor([[2.0]], dtype=tg.float64))
    assert not rec.scalar
    v, (g,) = rec.value_and_grad(np.array([[4.0]]))
    assert v == pytest.approx(1.0) and g[0, 0] == pytest.approx(0.0)   # det(a) / a


def test_jacobian_functions_fall_back_from_sweep_rows():
    torch = pytest.importorskip("torch")
    A = np.random.default_rng(2).normal(size=(3, 3)) + 3 * np.eye(3)
    ours = tg.autograd.functional.jacobian(tg.linalg.inv, tg.tensor(A))
    theirs = torch.autograd.functional.jacobian(torch.linalg.inv, torch.tensor(A))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    ours = tg.func.jacrev(tg.linalg.det)(tg.tensor(A))
    np.testing.assert_allclose(ours.numpy(), torch.func.jacrev(torch.linalg.det)(
        torch.tensor(A)).numpy(), rtol=1e-12)


def _members(rec):
    return tapefile.arrays(rec.prog, rec.meta)


def _edited(members, edit):
    """What an attacker writes: the streams edited, the digest recomputed."""
    arrs = {k: v.copy() for k, v in members.items() if k != "meta"}
    edit(arrs)
    header = json.loads(str(members["meta"]))
    header["digest"] = tapefile.digest(header, arrs)
    return dict(arrs, meta=np.array(json.dumps(header)))


@pytest.mark.parametrize("edit,msg", [
    (lambda a, e: a["params"].__setitem__(a["par"][e], LK.DET), "linalg params"),
    (lambda a, e: a["params"].__setitem__(a["par"][e] + 2, 4), "linalg params"),
    (lambda a, e: a["params"].__setitem__(a["par"][e] + 4, 2), "linalg params"),
    (lambda a, e: a["params"].__setitem__(a["par"][e], 99), "linalg params"),
    (lambda a, e: a["ib"].__setitem__(e, -1), "linalg params"),
    (lambda a, e: a["host"].__setitem__(e, 0), "without its host flag"),
])
def test_tape_files_check_lapack_entries(edit, msg):
    rec = tg.record(lambda a, b: tg.linalg.solve(a, b).sum(), tg.eye(3, dtype=tg.float64) * 2,
                    tg.ones(3, 2, dtype=tg.float64))
    members = _members(rec)
    e = int(np.flatnonzero(members["op"] == OPS["solve"].code)[0])
    tapefile.from_arrays(_edited(members, lambda a: None))   # intact: loads
    with pytest.raises(tapefile.TapeFormatError, match=msg):
        tapefile.from_arrays(_edited(members, lambda a: edit(a, e)))


def test_saved_values_follow_torchs_lifetimes():
    torch = pytest.importorskip("torch")
    for m in (tg, torch):
        a = m.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
        x = m.linalg.inv(a)
        x.sum().backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            x.sum().backward()
        x = m.linalg.cholesky(a)
        x.sum().backward(retain_graph=True)
        x.sum().backward()       # retained: a second backward works
        np.testing.assert_allclose(a.grad.numpy() if m is tg else a.grad.numpy(),
                                   a.grad.numpy())
        x = m.linalg.inv(a)
        with m.no_grad():
            x.mul_(2.0)          # inv saves its result: changed in place, backward refuses
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            x.sum().backward()


def test_one_entry_per_call_whatever_the_size():
    """A host entry each: inv of a 64x64 matrix is one entry (the decomposition it replaced
    recorded O(n) steps), and the backward runs it once."""
    a = tg.tensor(np.eye(64) * 2.0, requires_grad=True)
    x = tg.linalg.inv(a)
    assert x._node == a._lnode + 1       # the leaf's entry, then the inv entry
    assert type(x.grad_fn).__name__ == "LinalgInvExBackward0"
    x.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), -np.full((64, 64), 0.25))


def test_next_functions_as_torch():
    torch = pytest.importorskip("torch")
    names = []
    for m in (tg, torch):
        a = m.eye(3, dtype=m.float64, requires_grad=True)
        b = m.ones(3, 2, dtype=m.float64, requires_grad=True)
        c = m.ones(3, 2, dtype=m.float64)
        row = []
        for out in (m.linalg.solve(a, b), m.linalg.solve(a, c), m.linalg.solve(a.detach(), b),
                    m.linalg.det(a), m.linalg.slogdet(a)[1]):
            row.append([(type(f).__name__ if f is not None else None, k)
                        for f, k in out.grad_fn.next_functions])
        names.append(row)
    assert names[0] == names[1]


def test_hooks_anomaly_and_hessians_as_torch():
    """A tensor hook and a grad_fn post hook on a LAPACK entry (the sweep pauses twice, the
    post hook runs the VJP through the tensor faces), anomaly mode, and Hessians (the
    create_graph VJP differentiated)."""
    torch = pytest.importorskip("torch")
    A0 = np.random.default_rng(0).normal(size=(3, 3)) + 3 * np.eye(3)
    res = []
    for m in (tg, torch):
        a = m.tensor(A0, requires_grad=True)
        x = m.linalg.inv(a)
        seen = []
        x.register_hook(lambda g: seen.append(g.sum().item()) or g * 2)
        x.grad_fn.register_hook(lambda gi, go: None)
        (x * x).sum().backward()
        with m.autograd.detect_anomaly():
            b = m.tensor(A0, requires_grad=True)
            m.linalg.det(b).backward()
        h1 = m.autograd.functional.hessian(lambda v: m.linalg.det(v).exp(), m.tensor(A0))
        h2 = m.func.hessian(lambda v: m.linalg.slogdet(v)[1])(m.tensor(A0))
        res.append([a.grad.numpy(), np.array(seen), b.grad.numpy(), h1.numpy(), h2.numpy()])
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-12)


def test_backward_on_the_reached_part_of_a_long_tape():
    """Graphs dropped before on the same tape: the sweep runs on local streams (reached.py),
    whose node numbers the host VJP maps back to the tape's saved values."""
    A0 = np.random.default_rng(4).normal(size=(2, 3, 3)) + 3 * np.eye(3)
    a = tg.tensor(A0, requires_grad=True)
    for _ in range(300):
        (a * 2.0).sum()                  # dropped: left on the tape
    (tg.linalg.det(a) + tg.linalg.slogdet(a)[1]).sum().backward(retain_graph=True)
    (tg.linalg.inv(a).sum() * 0.5).backward()
    inv = np.linalg.inv(A0)
    det = np.linalg.det(A0)
    expect = (det[:, None, None] + 1.0) * inv.swapaxes(-1, -2) \
        - 0.5 * (inv.swapaxes(-1, -2) @ np.ones((3, 3)) @ inv.swapaxes(-1, -2))
    np.testing.assert_allclose(a.grad.numpy(), expect, rtol=1e-10)


def test_anomaly_mode_names_the_lapack_entry_that_made_a_nan():
    x = tg.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=tg.float64, requires_grad=True)
    with pytest.warns(UserWarning), tg.autograd.detect_anomaly():
        loss = tg.linalg.slogdet(x)[1] + tg.linalg.det(y) + tg.linalg.inv(y).sum()
        with pytest.raises(RuntimeError, match="'LinalgSlogdetBackward0' returned nan values "
                                               "in its 0th output"):
            loss.backward()


def _svd_loss(m, a, full):
    """A loss of all three outputs that does not depend on the singular vectors' signs."""
    U, S, Vh = m.linalg.svd(a, full_matrices=full)
    k = S.shape[-1]
    P = (U[..., :k] * S.unsqueeze(-2)) @ Vh[..., :k, :]
    W = m.tensor(np.random.default_rng(1).normal(size=tuple(P.shape)), dtype=a.dtype)
    return (P * W).sum() + (S ** 3).sum() + (U[..., :k] ** 4).sum() + (Vh[..., :k, :] ** 4).sum()


SVD = [((4, 3), False), ((3, 4), False), ((3, 3), True), ((4, 3), True), ((2, 3, 5), False)]


@pytest.mark.parametrize("shape,full", SVD)
def test_svd_first_and_second_derivatives_as_torch(shape, full):
    torch = pytest.importorskip("torch")
    A0 = np.random.default_rng(6).normal(size=shape)
    res = []
    for m in (tg, torch):
        a = m.tensor(A0, requires_grad=True)
        out = m.linalg.svd(a, full_matrices=full)
        assert [type(t.grad_fn).__name__ for t in out] == ["LinalgSvdBackward0"] * 3
        g, = m.autograd.grad(_svd_loss(m, a, full), a, create_graph=True)
        g2, = m.autograd.grad((g ** 2).sum(), a)
        res.append([x.detach().numpy() for x in (*out, g, g2)])
    for u, v in zip(*res):
        np.testing.assert_allclose(np.abs(u), np.abs(v), rtol=1e-9, atol=1e-11)
    a = tg.tensor(A0, requires_grad=True)
    assert gradcheck(lambda x: _svd_loss(tg, x, full), [a])


def test_svd_refuses_recording_with_a_clear_error():
    with pytest.raises(tg.TracingError, match="cannot trace torch's LinalgSvdBackward0"):
        tg.record(lambda a: tg.linalg.svd(a)[1].sum(), tg.ones(3, 2, dtype=tg.float64))


def test_geqrf_holds_r_and_the_reflectors_of_a_qr():
    """torch.geqrf's (a, tau): R on and above a's diagonal, and householder_product(a, tau) the
    Q of A = QR (LAPACK's geqrf; numpy's qr(mode="raw") transposed), batched."""
    A = tg.tensor(np.random.default_rng(0).normal(size=(2, 5, 3)))
    a, tau = tg.geqrf(A)
    assert a.shape == (2, 5, 3) and tau.shape == (2, 3) and a.dtype is tau.dtype is tg.float64
    Q = tg.linalg.householder_product(a, tau)
    np.testing.assert_allclose((Q @ a.triu()[..., :3, :]).numpy(), A.numpy(), atol=1e-12)
    np.testing.assert_allclose((Q.mT @ Q).numpy(), np.broadcast_to(np.eye(3), (2, 3, 3)),
                               atol=1e-12)
    R = tg.linalg.qr(A).R
    np.testing.assert_allclose(np.abs(a.triu()[..., :3, :].numpy()), np.abs(R.numpy()),
                               atol=1e-12)
    assert tg.geqrf(A.float()).tau.dtype is tg.float32
    assert tg.geqrf(tg.ones(3, 2, requires_grad=True)).a.grad_fn.name() == "GeqrfBackward0"


def test_ormqr_applies_the_q_of_geqrf():
    """torch.ormqr(a, tau, C, left, transpose): op(Q) C or C op(Q), Q the full square product
    of geqrf's reflectors; differentiable in a (below its diagonal), tau and C."""
    rng = np.random.default_rng(2)
    A, C = tg.tensor(rng.normal(size=(5, 3))), tg.tensor(rng.normal(size=(5, 2)))
    a, tau = tg.geqrf(A)
    Q = tg.linalg.householder_product(tg.cat([a, tg.zeros(5, 2, dtype=a.dtype)], 1), tau)
    for left, tr in ((True, False), (True, True), (False, False), (False, True)):
        X = C if left else C.mT
        want = (Q.mT if tr else Q) @ X if left else X @ (Q.mT if tr else Q)
        np.testing.assert_allclose(tg.ormqr(a, tau, X, left, tr).numpy(), want.numpy(),
                                   atol=1e-12)
    # Q^T A = R (geqrf's R above the diagonal)
    np.testing.assert_allclose(tg.ormqr(a, tau, A, transpose=True)[:3].numpy(),
                               a.triu()[:3].numpy(), atol=1e-12)
    a, tau, X = (t.detach().requires_grad_() for t in (a, tau, C))
    assert gradcheck(lambda a, t, x: tg.ormqr(a, t, x, True, True), (a, tau, X))
    assert tg.ormqr(a, tau, X).grad_fn.name() == "OrmqrBackward0"


@pytest.mark.parametrize("name", ["ldl_factor", "ldl_factor_ex", "ldl_solve"])
def test_ldl_family_raises_not_implemented(name):
    """torch.linalg's LDL^T family (LAPACK's sytrf): named and refused, not missing."""
    with pytest.raises(NotImplementedError, match=f"linalg.{name} is not implemented"):
        getattr(tg.linalg, name)(tg.eye(2))


def test_slogdet_of_a_tensor_that_requires_grad_under_no_grad():
    """linalg.slogdet / slogdet / logdet of a leaf that requires grad with grad mode off: the
    values without a graph (the sign's node was recorded on no tape: AttributeError)."""
    A = tg.tensor([[4.0, 1.0], [1.0, -3.0]], requires_grad=True)
    with tg.no_grad():
        s = tg.linalg.slogdet(A)
        assert (s.sign.item(), s.logabsdet.item()) == (-1.0, pytest.approx(math.log(13.0)))
        assert not s.sign.requires_grad and not s.logabsdet.requires_grad
        assert tg.slogdet(A)[0].item() == -1.0 and math.isnan(tg.logdet(A).item())
    assert tg.linalg.slogdet(A).logabsdet.grad_fn is not None


# linalg.cond as torch's two overloads check it: the number norms for dims and the norm
# first (its own messages), ±1 / ±inf then as square matrices named with the norm, the
# string norms as square matrices first; 0 for empty matrices (tapegrad: one message for
# all, and an error for empty input); svdvals' dtype error is linalg.svd's; lstsq of
# integer matrices its LAPACK dispatch's words, after the driver's check
def _cond_call(lib, shape, p, dtype="float32"):
    x = lib.ones(shape, dtype=getattr(lib, dtype))
    if len(shape) == 2 and all(shape):   # (full rank: a finite condition number)
        x = x + lib.eye(*shape, dtype=x.dtype)
    try:
        r = lib.linalg.cond(x, p)
    except RuntimeError as e:
        return str(e)
    return tuple(r.shape), str(r.dtype).split(".")[1], r.tolist()


@pytest.mark.parametrize("p", [None, 1, -1, 1.0, True, 2, -2, INF, -INF, "fro", "nuc", 3, 2.5,
                               "bad"])
@pytest.mark.parametrize("shape, dtype", [((2, 3), "float32"), ((2,), "float32"),
                                          ((2, 2), "int64"), ((0, 0), "float32"),
                                          ((2, 0, 0), "float64"), ((2, 0), "float32"),
                                          ((0, 0), "int64")])
def test_cond_checks_and_empty_matrices_as_torch(p, shape, dtype):
    torch = pytest.importorskip("torch")
    ours, theirs = _cond_call(tg, shape, p, dtype), _cond_call(torch, shape, p, dtype)
    if isinstance(theirs, tuple):
        assert ours[:2] == theirs[:2] and ours[2] == pytest.approx(theirs[2], rel=1e-5)
    else:
        assert ours == theirs


@pytest.mark.parametrize("call", [
    lambda m: m.linalg.svdvals(m.ones(2, 2, dtype=m.int64)),
    lambda m: m.linalg.lstsq(m.ones(2, 2, dtype=m.int64), m.ones(2, 1, dtype=m.int64)),
    lambda m: m.linalg.lstsq(m.ones(2, 2, dtype=m.int32), m.ones(2, 1, dtype=m.int32),
                             driver="bad"),
])
def test_linalg_integer_input_errors_as_torch(call):
    torch = pytest.importorskip("torch")
    assert_same_error(call, torch)


# the names torch's native parser gives the linalg functions' arguments (input= where its docs
# say A, for most; lstsq's b, tensorsolve's other), and torch.inverse / logdet / slogdet's
# input: by keyword they were refused (tapegrad's A=)


@pytest.mark.parametrize("call", [
    lambda m: m.linalg.cholesky(input=_mat(m)), lambda m: m.linalg.cholesky_ex(input=_mat(m)).L,
    lambda m: m.linalg.cond(input=_mat(m)), lambda m: m.linalg.eigvalsh(input=_mat(m)),
    lambda m: m.linalg.eigh(input=_mat(m)).eigenvalues, lambda m: m.linalg.pinv(input=_mat(m)),
    lambda m: m.linalg.matrix_exp(input=_mat(m)),
    lambda m: m.linalg.matrix_power(input=_mat(m), n=2),
    lambda m: m.linalg.matrix_rank(input=_mat(m)),
    lambda m: m.linalg.lstsq(input=_mat(m), b=_mat(m)[:, :1]).solution,
    lambda m: m.linalg.solve_triangular(input=_mat(m), B=_mat(m), upper=True),
    lambda m: m.linalg.householder_product(input=_mat(m), tau=_mat(m)[0, :1]),
    lambda m: m.linalg.tensorinv(input=_mat(m).reshape(2, 2, 1), ind=1),
    lambda m: m.linalg.tensorsolve(input=_mat(m), other=_mat(m)[0]),
    lambda m: m.inverse(input=_mat(m)), lambda m: m.logdet(input=_mat(m)),
    lambda m: m.slogdet(input=_mat(m)).logabsdet,
])
def test_linalg_keyword_names_as_torch(call):
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(call(tg).numpy(), call(torch).numpy(), rtol=1e-6, atol=1e-7)


def _mat(m):
    return m.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=m.float64)


# torch's legacy solvers and orgqr by its parser's names (input=, input2=), torch.bitwise_not's
# input=, and triangular_solve's TypeError for a non-tensor (an AttributeError here)
@pytest.mark.parametrize("call", [
    lambda m: m.lu_solve(input=_mat(m)[:, :1], LU_data=_mat(m),
                         LU_pivots=m.tensor([1, 2], dtype=m.int32)),
    lambda m: m.triangular_solve(input=_mat(m)[:, :1], A=_mat(m)).solution,
    lambda m: m.orgqr(_mat(m), input2=_mat(m)[0, :1]),
    lambda m: m.bitwise_not(input=m.tensor([1, -2])),
])
def test_legacy_keyword_names_as_torch(call):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(call(tg).numpy(), call(torch).numpy(), rtol=1e-6, atol=1e-12)


def test_triangular_solve_refuses_a_number_as_torch():
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_error(lambda m: m.triangular_solve(1, m.eye(2)), torch)


_OVERFLOWING = {
    "det": lambda m, a: m.linalg.det(a * 1e30),
    "solve_tiny": lambda m, a: m.linalg.solve(a * 1e-30, m.ones(2)),
    "solve_triangular_tiny": lambda m, a: m.linalg.solve_triangular(
        (a * 1e-30).tril(), m.ones(2, 1), upper=False),
    "matrix_exp": lambda m, a: m.linalg.matrix_exp(a * 50),
}


@pytest.mark.parametrize("case", sorted(_OVERFLOWING))
def test_overflowing_lapack_results_are_silent_as_torch(case):
    # float32 results past float32's range (det, expm cast back from float64, a solve by a
    # tiny matrix, and their gradients) are inf / nan silently in torch; numpy warned
    # ("overflow encountered in cast / matmul") with its default error state
    def run(m):
        a = m.tensor([[3.0, 1.0], [1.0, 2.0]], requires_grad=True)
        y = _OVERFLOWING[case](m, a)
        (g,) = m.autograd.grad(y.sum(), a)
        return y.detach().numpy(), g.numpy()
    with warnings.catch_warnings(), np.errstate(divide="warn", over="warn", invalid="warn"):
        warnings.simplefilter("error", RuntimeWarning)
        ours = run(tg)
    torch = pytest.importorskip("torch")
    for a, b in zip(ours, run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-4, equal_nan=True)


def _solve_operands_read_elsewhere(m, variant):
    x = m.tensor([1.5, -2.0, 0.5], dtype=m.float64, requires_grad=True)
    z = m.tensor([-1.0, 3.0, 2.0], dtype=m.float64, requires_grad=True)
    w = m.tensor([[0.5, 1.0, -1.0]], dtype=m.float64, requires_grad=True)
    z1 = z * 1.0
    A = x.reshape(3, 1) * z1 + m.eye(3, dtype=m.float64) * 3
    if variant == "b":        # B is read by the entry that made A too
        loss = (m.linalg.solve(A, z1) ** 2).sum()
    else:                     # A is read by another entry (A * w)
        loss = (m.linalg.solve(A, z) ** 2).sum() + (A * w).sum()
    gx, gw = m.autograd.grad(loss, (x, w), create_graph=True, allow_unused=True)
    hx, = m.autograd.grad((gx * gx).sum(), x)
    return [np.round(t.detach().numpy(), 6).tolist() for t in (gx, hx)] + \
        [None if gw is None else np.round(gw.detach().numpy(), 6).tolist()]


@pytest.mark.parametrize("variant", ["a", "b"])
def test_create_graph_through_solve_operands_read_elsewhere(variant):
    """linalg.solve saved its operands reshaped for LAPACK ((1, 3, 1) for a vector B): a
    node is saved once, so another entry reading it (the mul that made A) read it so under
    create_graph, and broadcast it wrongly (x's gradient -0.169 for torch's -0.508)."""
    torch = pytest.importorskip("torch")
    assert _solve_operands_read_elsewhere(tg, variant) == \
        _solve_operands_read_elsewhere(torch, variant)
