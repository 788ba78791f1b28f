"""amax / amin recorded eagerly: one entry of the extreme kind (tapegrad/kinds/extreme.py),
its VJP torch's grad / count * mask.  Differential against torch: values, gradients under
finite, inf and nan incoming gradients (ties, nan slices, infinities, signed zeros), every
reduce layout of the kind's pieces, second and third derivatives, grad_fn facts, saved values
and their in-place checks; a traced call keeps the row's body."""
import numpy as np
import pytest

import tapegrad as tg

NAMES = ["amax", "amin"]
INF, NAN = np.inf, np.nan


def _edges():
    """A (6, 4, 3) array whose slices along every dim hold ties, nan, infinities and zeros."""
    a = np.random.default_rng(3).standard_normal((6, 4, 3))
    a[0, :, 0] = [2.0, 2.0, 1.0, 2.0]                 # a three-way tie
    a[1, 1, :] = [NAN, 0.5, 1.0]                      # a nan
    a[2, :, 1] = [INF, -INF, 0.0, INF]               # infinities, tied
    a[3, 2, :] = [-0.0, 0.0, -0.0]                    # signed zeros, tied
    a[4] = 7.0                                        # a block all tied
    a[5, 0, :] = [-INF, -INF, -INF]
    return a


# (dims, keepdim): every layout of the kind's slot (all dims, leading dims only, trailing dims
# only, a middle block, any set)
REDUCTIONS = [((), False), ((0,), False), ((0, 1), True), ((2,), False), ((1, 2), True),
              ((1,), False), ((1,), True), ((0, 2), False), ((0, 2), True), ((-1, 0, 1), False)]


def _grad_in(m, shape, kind, dtype):
    g = np.random.default_rng(4).standard_normal(shape)
    if kind != "finite":
        g.reshape(-1)[::3] = {"inf": INF, "-inf": -INF, "nan": NAN}[kind]
    return m.tensor(g, dtype=getattr(m, dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("grad", ["finite", "inf", "-inf", "nan"])
@pytest.mark.parametrize("name", NAMES)
def test_values_and_gradients_as_torch(name, grad, dtype):
    torch = pytest.importorskip("torch")
    a = _edges()
    for dims, keepdim in REDUCTIONS:
        res = []
        for m in (tg, torch):
            x = m.tensor(a, dtype=getattr(m, dtype), requires_grad=True)
            y = getattr(x, name)(dims, keepdim)
            y.backward(_grad_in(m, tuple(y.shape), grad, dtype))
            res.append((y.detach().numpy(), x.grad.numpy(), str(y.dtype).split(".")[-1],
                        type(y.grad_fn).__name__,
                        (y._node - y._tape.ia[y._node], len(y._tape) - y._node) if m is tg
                        else None))
        (y, g, dt, fn, n), (ty, tg_, tdt, tfn, _) = res
        where = (name, dims, keepdim)
        np.testing.assert_array_equal(y, ty, err_msg=str(where))
        np.testing.assert_array_equal(np.signbit(y), np.signbit(ty), err_msg=str(where))
        np.testing.assert_allclose(g, tg_, rtol=1e-6 if dtype == "float32" else 1e-15,
                                   err_msg=str(where))
        assert (dt, fn) == (tdt, tfn), where
        assert n == (1, 1), where    # (the leaf's entry, then the extreme entry, the last)


@pytest.mark.parametrize("name", NAMES)
def test_one_entry_ties_or_not(name):
    """Ties, nan and infinities or none: one entry, as torch's one node (the decomposition
    recorded two to fifteen)."""
    a = np.random.default_rng(0).standard_normal((8, 32)).astype(np.float32)
    for case in (a, np.where(a > 1.0, 1.0, a), np.where(a > 1.5, np.nan, a)):
        for dims in (1, (), (0, 1), 0):
            x = tg.tensor(case, requires_grad=True)
            y = getattr(x, name)(dims)
            # (the leaf's entry, then the one entry, the tape's last)
            tape, e = y._tape, y._node
            assert e == len(tape) - 1 and tape.ia[e] == e - 1, (case, dims)
            assert type(y.grad_fn).__name__ == name.capitalize() + "Backward0"


@pytest.mark.parametrize("grad", ["finite", "inf"])
@pytest.mark.parametrize("dims,keepdim", [((1,), False), ((0, 2), True), ((), False)])
@pytest.mark.parametrize("name", NAMES)
def test_create_graph_to_third_order_as_torch(name, dims, keepdim, grad):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(1).standard_normal((3, 4, 5))
    a[0, :, 0] = a[1, 0, :] = 3.0        # ties
    out = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        y = getattr(x * x.sin(), name)(dims, keepdim)
        w = _grad_in(m, tuple(y.shape), grad, "float64")
        (g,) = m.autograd.grad((y * w).sum() * x.sum(), x, create_graph=True)
        (h,) = m.autograd.grad((g * g).sum(), x, create_graph=True)
        (k,) = m.autograd.grad((h * x).sum(), x)
        out.append((g.detach().numpy(), h.detach().numpy(), k.numpy()))
    for u, v in zip(*out):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_create_graph_gradient_reads_no_x_as_torch(name):
    """torch's grad / count * mask: with a constant incoming gradient the first derivative
    needs no gradient; with one that depends on x its grad_fn is torch's MulBackward0."""
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 3.0, 3.0], [2.0, -1.0, 0.5]])
    facts = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        (g,) = m.autograd.grad(getattr(x, name)(1).sum(), x, create_graph=True)
        (g2,) = m.autograd.grad((getattr(x, name)(1) ** 2).sum(), x, create_graph=True)
        facts.append((g.requires_grad, type(g2.grad_fn).__name__, g2.detach().numpy().tolist()))
    assert facts[0] == facts[1]


@pytest.mark.parametrize("name", NAMES)
def test_grad_fn_saved_values_and_in_place_checks_as_torch(name):
    torch = pytest.importorskip("torch")
    facts = []
    for m in (tg, torch):
        a = m.tensor([[1.0, 4.0, 4.0], [2.0, 0.0, -3.0]], requires_grad=True)
        x = a * 1.0
        y = getattr(x, name)(1, True)
        fn = y.grad_fn
        facts.append((fn.name(), [type(f).__name__ for f, _ in fn.next_functions],
                      fn._saved_self.tolist(), fn._saved_result.tolist(), fn._saved_dim,
                      fn._saved_keepdim))
        errs = []
        for changed in ("x", "y"):
            x = a * 1.0
            y = getattr(x, name)(1)
            (x if changed == "x" else y).mul_(2.0)
            with pytest.raises(RuntimeError) as err:
                y.sum().backward()
            errs.append(str(err.value).split(";")[0].split("[")[0])
        facts.append(errs)
    assert facts[0] == facts[2] and facts[1] == facts[3]


@pytest.mark.parametrize("name", NAMES)
def test_traced_call_replays_the_body(name):
    """While tracing the row's body records (a replay's ties and slices are its own): replayed
    at other points, values and gradients as torch's."""
    torch = pytest.importorskip("torch")
    w = tg.tensor([1.0, 2.0], dtype=tg.float64)
    rec = tg.record(lambda x: (getattr(x, name)(1) * w).sum(),
                    tg.tensor([[1.0, 2.0, 3.0], [0.0, 5.0, 1.0]], dtype=tg.float64))
    for pt in ([[3.0, 3.0, 1.0], [INF, 2.0, 1.0]], [[NAN, 1.0, 1.0], [0.0, -0.0, -1.0]]):
        v, (g,) = rec.value_and_grad(np.array(pt))
        x = torch.tensor(pt, requires_grad=True)
        y = (getattr(x, name)(1) * torch.tensor([1.0, 2.0])).sum()
        y.backward()
        np.testing.assert_array_equal(v, y.item())
        np.testing.assert_array_equal(g, x.grad.numpy())


# (numpy scalars warn at 0 * inf and x / 0 where the compiled pieces are quiet)
@pytest.mark.filterwarnings("ignore:.*encountered in scalar:RuntimeWarning")
@pytest.mark.parametrize("dims,keepdim", REDUCTIONS)
@pytest.mark.parametrize("name", NAMES)
def test_kind_faces(name, dims, keepdim):
    """The kind's kernel pieces (a replay's forward, the eager sweep) as plain Python on a
    small arena, and its tensor faces (a re-run's forward, create_graph's VJP), agree with the
    eager entry on every layout of slot, ties, nan and infinities included."""
    from tapegrad.kinds import extreme
    from tapegrad.views import KIND_OPS
    a = _edges()
    x = tg.tensor(a, requires_grad=True)
    y = getattr(x, name)(dims, keepdim)
    tape, e = y._tape, y._node
    params, imm = tape.params_of(e), float(tape.imm[e])
    assert imm == (1.0 if name == "amax" else 0.0)
    n, size = y.numel(), a.size
    shp = np.zeros((2, 8), np.int64)
    shp[0, :3], shp[1, :y.dim()] = a.shape, y.shape
    args = (1, 0, -1, size, n, np.array([0, size]), np.array([size, n]), shp,
            np.array([3, y.dim()]), np.array([0, 0]), np.asarray(params), np.array([0.0, imm]))
    vals = np.concatenate([a.ravel(), np.zeros(n)])
    extreme.forward_extreme(*args, vals)
    np.testing.assert_array_equal(vals[size:], y.detach().numpy().ravel())
    g = np.random.default_rng(5).standard_normal(y.shape)
    adj = np.concatenate([np.zeros(size), g.ravel()])
    extreme.sweep_extreme(*args, vals, adj)
    gx, = tg.autograd.grad(y, x, tg.tensor(g))
    np.testing.assert_array_equal(adj[:size].reshape(a.shape), gx.numpy())
    z = extreme.tensor_forward_extreme(KIND_OPS, x, None, tuple(y.shape), params, imm)
    np.testing.assert_array_equal(z.detach().numpy(), y.detach().numpy())
    (i, t), = extreme.tensor_vjp_extreme(KIND_OPS, tg.tensor(g), {0: x, 2: y}.get, a.shape,
                                         None, params, imm)
    assert i == 0
    np.testing.assert_allclose(t.detach().numpy(), gx.numpy(), rtol=1e-15)
