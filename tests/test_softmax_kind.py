"""softmax and log_softmax as one entry each of the softmax kind (tapegrad/kinds/softmax.py):
values and gradients as torch's (dims, one-element dims and tensors, rows of -inf, +inf and
nan), grad_fn, next_functions and the saved result, derivatives of every order, dtype= and
integer inputs' errors, the one-element kernels, record/replay (every kernel: the kind has
kernel pieces), batches, jacobian, hvp, a tape file holding it, and cross_entropy on it."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import replay, tapefile
from tapegrad.ops import OPS
from replay_check import assert_round_trips
from test_linalg import _edited

RNG = np.random.default_rng(17)
NAMES = ["softmax", "log_softmax"]
INF, NAN = np.inf, np.nan

SHAPES_DIMS = [((32, 10), 1), ((32, 10), 0), ((32, 10), -1), ((4, 5, 6), 1), ((4, 5, 6), 0),
               ((4, 5, 6), -1), ((7,), 0), ((1, 5), 0), ((5, 1), 1), ((1, 5), 1), ((3, 1, 4), 1),
               ((), 0), ((), -1), ((1,), 0), ((0, 4), 1), ((0, 4), 0)]
TOL = {"float64": dict(rtol=1e-12, atol=1e-14), "float32": dict(rtol=2e-6, atol=1e-6)}


def _data(shape, dtype="float64", scale=3.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


def _run(m, name, x, dim, w):
    a = m.tensor(x, requires_grad=True)
    y = getattr(m.nn.functional, name)(a, dim)
    if m is tg and a.numel() > 1:   # one entry after the leaf's
        assert y._node == y._tape.n - 1 == 1 and y._tape.op[1] == OPS[name].code
    (y * m.tensor(w)).sum().backward()
    return y, a


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("name", NAMES)
def test_values_and_gradients_as_torch(name, shape, dim, dtype):
    torch = pytest.importorskip("torch")
    x, w = _data(shape, dtype), _data(shape, dtype)
    (y, a), (ty, ta) = (_run(m, name, x, dim, w) for m in (tg, torch))
    assert y.dtype.is_floating_point and tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), **TOL[dtype])
    assert y.grad_fn.name() == ty.grad_fn.name()
    assert y.detach().numpy().flags.c_contiguous


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", NAMES)
def test_rows_of_infinities_and_nan_as_torch(name, dtype):
    """A row holding nan or +inf, or only -inf, is nan (torch's kernels: inf - inf); a -inf
    among finite values is 0 (softmax) / -inf (log_softmax); its gradient as torch's."""
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 2.0, 3.0], [-INF, 0.0, 1.0], [INF, 0.0, 1.0], [-INF, -INF, -INF],
                  [NAN, 0.0, 1.0], [INF, INF, 1.0], [-INF, -INF, 2.0], [1e30, -1e30, 0.0]],
                 dtype)
    w = np.arange(24.0, dtype=dtype).reshape(8, 3) - 10.0
    for dim in (1, 0):
        xd, wd = (x, w) if dim == 1 else (x.T.copy(), w.T.copy())
        (y, a), (ty, ta) = (_run(m, name, xd, dim, wd) for m in (tg, torch))
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), equal_nan=True,
                                   **TOL[dtype])
        # (float32: torch sums the row in float32, the kernel in float64)
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), equal_nan=True,
                                   rtol=TOL[dtype]["rtol"], atol=1e-12 if dtype == "float64"
                                   else 1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_grad_fn_next_functions_and_saved_result_as_torch(name):
    torch = pytest.importorskip("torch")
    facts = []
    for m in (tg, torch):
        a = m.tensor(_data((3, 4)), requires_grad=True)
        ys = [getattr(a, name)(1), getattr(a * 2, name)(0), getattr(a[0], name)(0)]
        facts.append([(y.grad_fn.name(), [(type(f).__name__, k) for f, k in
                                          y.grad_fn.next_functions]) for y in ys])
        np.testing.assert_array_equal(ys[0].grad_fn._saved_result.detach().numpy(),
                                      ys[0].detach().numpy())
    assert facts[0] == facts[1]


@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((4, 5), 0), ((3, 4, 2), 1), ((6,), -1),
                                       ((1, 3), 0), ((), 0)])
@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_second_and_third_order(name, shape, dim):
    x = tg.tensor(_data(shape, scale=1.0), requires_grad=True)
    w = tg.tensor(_data(shape, scale=1.0))

    def f(a):
        return getattr(a * a.sin(), name)(dim) * w
    assert tg.autograd.gradcheck(f, (x,))
    assert tg.autograd.gradgradcheck(f, (x,))

    def first(a):
        (g,) = tg.autograd.grad((f(a) ** 2).sum(), a, create_graph=True)
        return g
    assert tg.autograd.gradgradcheck(first, (x,))


@pytest.mark.parametrize("shape,dim", [((6, 5), 1), ((3, 4, 5), 1), ((5,), 0), ((), 0)])
@pytest.mark.parametrize("name", NAMES)
def test_create_graph_to_third_order_as_torch(name, shape, dim):
    torch = pytest.importorskip("torch")
    x, w = _data(shape, scale=1.0), _data(shape)
    out = []
    for m in (tg, torch):
        a = m.tensor(x, requires_grad=True)
        y = (getattr(a, name)(dim) * m.tensor(w)).sum()
        (g,) = m.autograd.grad(y, a, create_graph=True)
        (h,) = m.autograd.grad((g * g).sum(), a, create_graph=True)
        (k,) = m.autograd.grad((h * a).sum(), a)
        out.append((g.detach().numpy(), h.detach().numpy(), k.numpy()))
    for u, v in zip(*out):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_dtype_argument_and_integer_inputs_as_torch(name):
    torch = pytest.importorskip("torch")
    x = _data((4, 3), "float32")
    for src, dt in ((x, "float64"), (x.astype("float64"), "float32"),
                    (np.arange(12).reshape(4, 3), "float64")):
        a = getattr(tg, name)(tg.tensor(src), 1, dtype=getattr(tg, dt))
        b = getattr(torch, name)(torch.tensor(src), 1, dtype=getattr(torch, dt))
        assert str(a.dtype) == str(b.dtype).replace("torch", "tapegrad")
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL[dt])
    a = tg.tensor(x, requires_grad=True)
    y = getattr(a, name)(0, dtype=tg.float64)
    y.sum().backward()
    assert a.grad.dtype == tg.float32 and y.dtype == tg.float64
    for dim in (0, 1):
        errs = []
        for m in (tg, torch):
            with pytest.raises(Exception) as err:
                getattr(m.tensor([[1, 2], [3, 4]]), name)(dim)
            errs.append((type(err.value).__name__, str(err.value)))
        assert errs[0] == errs[1]


@pytest.mark.parametrize("name", NAMES)
def test_changed_output_refuses_backward_as_torch(name):
    torch = pytest.importorskip("torch")
    msgs = []
    for m in (tg, torch):
        a = m.tensor(_data((2, 3)), requires_grad=True)
        y = getattr(a, name)(1)
        y.mul_(2.0)
        with pytest.raises(RuntimeError) as err:
            y.sum().backward()
        msgs.append(str(err.value).split(";")[0].split("[")[0])
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("name", NAMES)
def test_one_element_graph_kernels_as_torch(name):
    """A graph of one-element nodes (the scalar kernels, record_backward's create_graph
    program, replay_scalar): softmax of one element is exp(a - a), log_softmax a - a."""
    torch = pytest.importorskip("torch")
    got = []
    for m in (tg, torch):
        xs = [m.tensor(v, dtype=m.float64, requires_grad=True) for v in (0.7, -2.0)]
        y = sum(getattr(x * x, name)(0) * x.exp() for x in xs)
        gs = m.autograd.grad(y, xs, create_graph=True)
        hs = m.autograd.grad(sum(g * g for g in gs), xs)
        got.append([t.item() for t in (y, *gs, *hs)])
    np.testing.assert_allclose(got[0], got[1], rtol=1e-12, atol=1e-14)
    rec = tg.record(lambda x: getattr(x * x, name)(0) * x.exp(), tg.tensor(0.7, dtype=tg.float64))
    for v in (0.3, 5.0):
        value, grad = rec.value_and_grad(np.array(v))
        x = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        want = getattr(x * x, name)(0) * x.exp()
        want.backward()
        assert float(value) == pytest.approx(want.item(), rel=1e-12)
        assert float(np.asarray(grad).reshape(-1)[0]) == pytest.approx(x.grad.item(), rel=1e-12)
    for v in (INF, NAN):
        assert np.isnan(float(getattr(tg.tensor(v), name)(0)))


def _model(m, name, dtype="float64"):
    w = m.tensor(np.linspace(-1.0, 1.0, 15).reshape(5, 3).astype(dtype))
    c = m.tensor(np.arange(1.0, 4.0, dtype=dtype))

    def f(x):
        return (getattr(x @ w, name)(1) * c).sum()
    return f


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", NAMES)
def test_record_replay_far_from_the_recorded_point(name, dtype):
    """The kernel's forward takes the maximum of the replayed row (stable at inputs 1000
    away); values and gradients as eager and as torch's."""
    torch = pytest.importorskip("torch")
    f = _model(tg, name, dtype)
    rec = tg.record(f, tg.tensor(np.zeros((4, 5), dtype)))
    assert OPS[name].code in rec.prog["op"]
    for scale in (0.0, 1000.0, -1000.0):
        xa = (_data((4, 5), scale=2.0) + scale).astype(dtype)
        value, (g,) = rec.value_and_grad(xa)
        tx = torch.tensor(xa.astype("float64"), requires_grad=True)
        tv = _model(torch, name)(tx)
        tv.backward()
        tol = dict(rtol=1e-10, atol=1e-9) if dtype == "float64" else dict(rtol=1e-4, atol=1e-3)
        assert np.isfinite(float(value))
        np.testing.assert_allclose(float(value), tv.item(), **tol)
        np.testing.assert_allclose(np.asarray(g, "float64"), tx.grad.numpy(), **tol)


@pytest.mark.parametrize("name", NAMES)
def test_batch_jacobian_and_hvp_run_the_kernel_piece(name):
    torch = pytest.importorskip("torch")
    f = _model(tg, name)
    rec = tg.record(f, tg.tensor(np.zeros((4, 5))))
    xs = np.stack([_data((4, 5), scale=1.0) for _ in range(3)])
    values, (gs,) = rec.value_and_grad_batch(xs)
    for i, xa in enumerate(xs):
        tx = torch.tensor(xa, requires_grad=True)
        tv = _model(torch, name)(tx)
        tv.backward()
        np.testing.assert_allclose(values[i], tv.item(), rtol=1e-12)
        np.testing.assert_allclose(gs[i], tx.grad.numpy(), rtol=1e-10, atol=1e-13)
        v = _data((4, 5), scale=1.0)
        _, (h,) = rec.hvp((xa,), (v,))
        th = torch.autograd.functional.hvp(_model(torch, name), torch.tensor(xa),
                                           torch.tensor(v))[1]
        np.testing.assert_allclose(h, th.numpy(), rtol=1e-9, atol=1e-12)
    z = _data(6, scale=1.0)
    jac = tg.record(lambda v: getattr(v, name)(0) * 2.0, tg.tensor(z)).jacobian(z)
    tj = torch.autograd.functional.jacobian(lambda v: getattr(v, name)(0) * 2.0,
                                            torch.tensor(z))
    np.testing.assert_allclose(np.asarray(jac).reshape(6, 6), tj.numpy(), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_tape_file_round_trip_and_bad_params(tmp_path, name):
    rec = tg.record(_model(tg, name), tg.tensor(np.zeros((4, 5))))
    assert_round_trips(rec, tmp_path / "softmax.npz", _data((4, 5)))
    members = replay.to_arrays(rec)
    e = int(np.flatnonzero(members["op"] == OPS[name].code)[0])
    for k, v in ((1, 4), (0, -4), (2, 2)):   # m, outer, inner not covering the operand

        def edit(arrs, k=k, v=v):
            arrs["params"][arrs["par"][e] + k] = v
        with pytest.raises(tapefile.TapeFormatError, match="softmax params"):
            replay.from_arrays(_edited(members, edit))

    def flip(arrs):   # softmax's opcode with log_softmax's imm, or the reverse
        arrs["imm"][e] = 1.0 - arrs["imm"][e]
    with pytest.raises(tapefile.TapeFormatError, match="imm does not match"):
        replay.from_arrays(_edited(members, flip))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cross_entropy_records_one_log_softmax_entry(dtype):
    torch = pytest.importorskip("torch")
    x, t = _data((32, 10), dtype), RNG.integers(0, 10, 32)
    got = []
    for m in (tg, torch):
        a = m.tensor(x, requires_grad=True)
        loss = m.nn.functional.cross_entropy(a, m.tensor(t))
        (ls, _), = loss.grad_fn.next_functions
        got.append((type(loss.grad_fn).__name__, type(ls).__name__,
                    [type(f).__name__ for f, _ in ls.next_functions]))
        if m is tg:
            ops = [int(o) for o in loss._tape.op[:loss._tape.n]]
            assert ops.count(OPS["log_softmax"].code) == 1 and ops[1] == OPS["log_softmax"].code
            assert OPS["exp"].code not in ops and OPS["max_shift"].code not in ops
        loss.backward()
        got[-1] += (loss.item(), a.grad.numpy())
    assert got[0][:3] == got[1][:3] == ("NllLossBackward0", "LogSoftmaxBackward0",
                                        ["AccumulateGrad"])
    np.testing.assert_allclose(got[0][3], got[1][3], **TOL[dtype])
    np.testing.assert_allclose(got[0][4], got[1][4], **TOL[dtype])


@pytest.mark.parametrize("name", NAMES)
def test_float32_batch_replay_and_vmap_grad(name):
    """value_and_grad_batch on a float32 tape (the pieces on float32 arenas) and vmap(grad)
    (which replays the recorded function per sample), against eager float32 and torch."""
    torch = pytest.importorskip("torch")
    f = _model(tg, name, "float32")
    rec = tg.record(f, tg.tensor(np.zeros((4, 5), "float32")))
    xs = np.stack([_data((4, 5), "float32", 1.0) for _ in range(3)])
    values, (gs,) = rec.value_and_grad_batch(xs)
    per = tg.vmap(tg.func.grad(f))(tg.tensor(xs))
    tper = torch.vmap(torch.func.grad(_model(torch, name, "float32")))(torch.tensor(xs))
    np.testing.assert_allclose(per.numpy(), tper.numpy(), rtol=1e-4, atol=1e-5)
    for i, xa in enumerate(xs):
        a = tg.tensor(xa, requires_grad=True)
        v = f(a)
        v.backward()
        np.testing.assert_allclose(values[i], v.item(), rtol=1e-5)
        np.testing.assert_allclose(gs[i], a.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dim", [0, 1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_replay_along_every_dim_of_a_3d_input(name, dim):
    """The kernel pieces' row layouts (inner 1, and rows of `inner` elements side by side),
    with a row of nan and one of -inf, against torch."""
    torch = pytest.importorskip("torch")
    w = _data((3, 4, 5))

    def f(m):
        return lambda x: (getattr(x, name)(dim) * m.tensor(w)).nansum()
    x0 = _data((3, 4, 5))
    rec = tg.record(f(tg), tg.tensor(x0))
    for x in (_data((3, 4, 5)) + 500.0, x0):
        x = x.copy()
        x[0, 0, :] = -INF
        x[1, :, 0] = NAN
        value, (g,) = rec.value_and_grad(x)
        tx = torch.tensor(x, requires_grad=True)
        tv = f(torch)(tx)
        tv.backward()
        np.testing.assert_allclose(float(value), tv.item(), rtol=1e-12)
        np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)


def _method_run(name, fast, shape, dim, kind, dtype, monkeypatch):
    """x.softmax(dim) / x.log_softmax(dim) with the method's direct entry (`fast`) or through
    ndops._softmax (its checks, then the same entry: monkeypatched in for the method's own
    branch), on a fresh tape; (tape facts, value, gradients of first and second order, the
    grad_fn's name and edges)."""
    from test_eager_nn import _facts
    from tapegrad import tensor_methods
    from tapegrad.tape import CLOSED, STATE
    if not fast:   # (the branch's entry call replaced by _softmax's whole path)
        monkeypatch.setattr(tensor_methods, "_softmax_entry",
                            lambda x, d, log, dim=None: tensor_methods._softmax(
                                "log_softmax" if log else "softmax", x,
                                d if dim is None else dim, None))
    STATE.tape = CLOSED
    xa = (np.random.default_rng(3).standard_normal(shape) * 3.0).astype(dtype)
    x0 = tg.tensor(xa, requires_grad=kind != "constant")
    x = x0 if kind == "leaf" else (x0 * 2.0).mT if kind == "transposed" else x0 * 2.0
    if kind == "other-tape":
        STATE.tape = CLOSED   # (x's tape left: the entry goes on a new one)
    y = getattr(x, name)(dim)
    if not y.requires_grad:
        return None, y.numpy().tolist()
    tape = y._tape   # (one element only: no n-d streams, its entries' streams)
    facts = _facts(tape, [x0, x, y]) if tape.nds is not None else \
        {"streams": [np.asarray(s[:tape.n]).tolist() for s in tape._arrays[:5]]}
    facts["fn"] = (y.grad_fn.name(), [(f.name() if f else None, k)
                                      for f, k in y.grad_fn.next_functions])
    g, = tg.autograd.grad((y * y).sum(), x0, create_graph=True)
    gg, = tg.autograd.grad(g.sum(), x0)
    return facts, y.detach().numpy().tolist(), g.detach().numpy().tolist(), gg.numpy().tolist()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((4, 5), -2), ((2, 3, 4), 1), ((6,), 0),
                                       ((1,), 0), ((), 0), ((0, 3), 1)])
@pytest.mark.parametrize("kind", ["non-leaf", "leaf", "transposed", "constant", "other-tape"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_method_entry_as_the_general_path(monkeypatch, name, shape, dim, kind, dtype):
    """Tensor.softmax / log_softmax's direct entry for an int dim (and _softmax_entry's
    inline recording for an input on the open tape) append exactly what the checked path
    does, with its values and gradients (create_graph too), for leaves, views, inputs that
    need no gradient or live on a sealed tape, one element, 0-d and empty inputs."""
    if kind == "transposed" and len(shape) < 2:
        pytest.skip("a matrix case")
    fast = _method_run(name, True, shape, dim, kind, dtype, monkeypatch)
    monkeypatch.undo()
    slow = _method_run(name, False, shape, dim, kind, dtype, monkeypatch)
    assert str(fast) == str(slow)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("call", [lambda x, n: getattr(x, n)(1), lambda x, n: getattr(x, n)(-2),
                                  lambda x, n: getattr(x, n)(2), lambda x, n: getattr(x, n)(True),
                                  lambda x, n: getattr(x, n)(1.0), lambda x, n: getattr(x, n)(-3),
                                  lambda x, n: getattr(x, n)(dim=1),
                                  lambda x, n: getattr(x, n)(1, dtype=x.dtype),
                                  lambda x, n: getattr(x.long(), n)(1)])
def test_method_arguments_beside_the_direct_entry_as_torch(name, call):
    """The method's direct entry (dims 1 and -2 of a non-leaf) and its neighbours (a bool or
    float dim, a keyword dim, dtype=, an integer input): torch's values, gradients of first
    and second order, or errors."""
    torch = pytest.importorskip("torch")
    got, xa, w = [], _data((3, 4), "float32"), _data((3, 4), "float32")
    for m in (tg, torch):
        x0 = m.tensor(xa, requires_grad=True)
        x = x0 * 1.0   # (on the open tape: _softmax_entry's inline recording)
        try:
            y = call(x, name)
        except Exception as e:   # noqa: BLE001  (the error's type and message compared)
            got.append((type(e).__name__, str(e)))
            continue
        res = [np.round(y.detach().numpy(), 5).tolist(), y.grad_fn and y.grad_fn.name()]
        if y.requires_grad:
            g, = m.autograd.grad((y * m.tensor(w)).sum(), x0, create_graph=True)
            gg, = m.autograd.grad((g * g).sum(), x0)
            res += [np.round(g.detach().numpy(), 4).tolist(), np.round(gg.numpy(), 3).tolist()]
        got.append(res)
    assert got[0] == got[1]
