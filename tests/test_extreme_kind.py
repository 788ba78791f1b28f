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


# ---- max() / min() over all elements: the even rule (torch's evenly_distribute_backward) ----
ALL_NAMES = ["max", "min"]


def _all_cases():
    """Arrays of 2 to 4096 elements whose extreme is unique, tied, nan (one or several), an
    infinity or a zero tied with a zero of the other sign."""
    rng = np.random.default_rng(7)
    out = []
    for shape in [(2,), (3,), (2, 3), (7, 1, 3), (33,), (64, 64)]:
        a = rng.standard_normal(shape)
        out.append(a)
        for fill in ([5.0, 5.0], [-5.0, -5.0], [NAN], [NAN, NAN], [INF, -INF], [INF, INF],
                     [0.0, -0.0], [-0.0, 0.0]):
            b = a.copy()
            b.flat[[0, -1][:len(fill)]] = fill
            if fill[0] == 0.0:     # (the zeros both extremes: the rest made +-1)
                b[(b != 0.0) & (b > 0)], b[(b != 0.0) & (b < 0)] = -1.0, -1.0
                out.append(-b)
            out.append(b)
        out.append(np.full(shape, -INF))
        out.append(np.full(shape, 7.0))
    return out


def _zero_tie(a):
    """Whether a's extreme could be a +0.0 or a -0.0: a tie torch's and numpy's SIMD lanes
    settle each its own way (x.max() of [-0.0, 0.0, -0.0, -0.0, 0.0] is 0.0 in torch, -0.0
    in numpy): the sign is then the no-grad path's."""
    z = a[a == 0.0]
    return z.size and np.signbit(z).any() and not np.signbit(z).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("grad", [1.5, -0.25, INF, -INF, NAN])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_all_elements_values_and_gradients_as_torch(name, grad, dtype):
    """max()/min() and torch.max/min(x): value, gradient (exact, a zero's sign too: +0.0 off
    the hits whatever the incoming gradient, the nan elements the hits of a nan result),
    dtype and grad_fn as torch's, one entry."""
    torch = pytest.importorskip("torch")
    for i, a in enumerate(_all_cases()):
        res = []
        for m in (tg, torch):
            x = m.tensor(a, dtype=getattr(m, dtype), requires_grad=True)
            y = getattr(x, name)() if i % 2 else getattr(m, name)(x)
            y.backward(m.tensor(grad, dtype=getattr(m, dtype)))
            res.append((y.detach().numpy(), x.grad.numpy(), str(y.dtype), type(y.grad_fn).__name__,
                        (y._node - y._tape.ia[y._node], len(y._tape) - y._node) if m is tg
                        else None))
        (y, g, dt, fn, n), (ty, tgr, tdt, tfn, _) = res
        where = (name, a.shape, a.ravel()[[0, -1]], grad)
        np.testing.assert_array_equal(y, ty, err_msg=str(where))
        plain = getattr(tg.tensor(a, dtype=getattr(tg, dtype)), name)().numpy()
        sign = np.signbit(plain if _zero_tie(a) else ty)
        assert y != y or np.signbit(y) == sign, where   # (a nan's sign: torch's SIMD's)
        np.testing.assert_array_equal(g, tgr, err_msg=str(where))
        np.testing.assert_array_equal(np.signbit(g), np.signbit(tgr), err_msg=str(where))
        assert (dt.split(".")[-1], fn) == (tdt.split(".")[-1], tfn), where
        assert n == (1, 1), where    # (the leaf's entry, then the extreme entry, the last)


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_all_elements_of_one_element_as_torch(name, shape):
    """One element (the rows max_all / min_all: a gather, or the body at nan): value,
    gradient under an inf incoming gradient, grad_fn, saved values, second derivative."""
    torch = pytest.importorskip("torch")
    for v in (2.0, NAN, -INF, -0.0):
        res = []
        for m in (tg, torch):
            x = m.full(shape, v, dtype=m.float64, requires_grad=True)
            z = x * 1.0
            y = getattr(z, name)()
            fn = y.grad_fn
            facts = (type(fn).__name__, [type(f).__name__ for f, _ in fn.next_functions],
                     fn._saved_self.tolist(), fn._saved_result.tolist())
            g, = m.autograd.grad(y ** 2, x, create_graph=True)
            h, = m.autograd.grad(g.sum(), x, retain_graph=True)
            x.grad = None
            y.backward(m.tensor(INF, dtype=m.float64))
            res.append((str(facts), y.detach().numpy(), g.detach().numpy(), h.numpy(),
                        x.grad.numpy()))
        for u, w in zip(*res):
            np.testing.assert_array_equal(u, w, err_msg=str((name, shape, v)))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_all_elements_integer_and_empty_as_torch(name):
    """Integer and bool inputs: the value (no gradient to take); an empty input: torch's
    error, nothing recorded."""
    torch = pytest.importorskip("torch")
    for dt in ("int64", "int32", "uint8", "bool"):
        vals = [getattr(getattr(m.tensor([[3, 1, 3], [0, 2, 1]]).to(getattr(m, dt)), name)(),
                        "tolist")() for m in (tg, torch)]
        dts = [str(getattr(m.tensor([3, 1]).to(getattr(m, dt)), name)().dtype).split(".")[-1]
               for m in (tg, torch)]
        assert vals[0] == vals[1] and dts[0] == dts[1], dt
    errs = []
    for m in (tg, torch):
        for x in (m.empty(0, requires_grad=True), m.zeros(3, 0, dtype=m.float64)):
            with pytest.raises(Exception) as err:
                getattr(x, name)()
            errs.append((type(err.value).__name__, str(err.value)))
    assert errs[:2] == errs[2:]


@pytest.mark.parametrize("name", ALL_NAMES)
def test_all_elements_node_facts_as_torch(name):
    """grad_fn name, next_functions, _saved_self / _saved_result and the in-place checks of
    the saved self and result, as torch's MaxBackward1 / MinBackward1."""
    torch = pytest.importorskip("torch")
    facts = []
    for m in (tg, torch):
        a = m.tensor([[1.0, 4.0, 4.0], [2.0, -3.0, -3.0]], requires_grad=True)
        x = a * 1.0
        for y in (getattr(x, name)(), getattr(m, name)(x), getattr(a, name)()):
            fn = y.grad_fn
            facts.append((fn.name(), [type(f).__name__ for f, _ in fn.next_functions],
                          fn._saved_self.tolist(), fn._saved_result.tolist(),
                          sorted(k for k in dir(fn) if k.startswith("_saved_"))))
        errs = []
        for changed in ("x", "y"):
            x = a * 1.0
            y = getattr(x, name)()
            (x if changed == "x" else y).mul_(2.0)
            with pytest.raises(RuntimeError) as err:
                y.backward()
            errs.append(str(err.value).split(";")[0].split("[")[0])
        facts.append(errs)
    assert facts[:4] == facts[4:]


@pytest.mark.parametrize("grad", ["finite", "inf"])
@pytest.mark.parametrize("tie", ["none", "tie", "nan"])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_all_elements_create_graph_to_third_order_as_torch(name, tie, grad):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(1).standard_normal((3, 4, 5))
    if tie == "tie":   # (x * sin(x) is even: x and -x tie, at its maximum / its minimum)
        a[0, 1, 2] = 2.029 if name == "max" else 4.5
        a[2, 3, 4] = -a[0, 1, 2]
    elif tie == "nan":
        a[0, 1, 2] = a[1, 1, 1] = NAN
    out = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        y = getattr(x * x.sin(), name)()
        w = m.tensor(INF if grad == "inf" else 1.7, dtype=m.float64)
        (g,) = m.autograd.grad((y * w) * x.sum(), x, create_graph=True)
        (h,) = m.autograd.grad((g * g).sum(), x, create_graph=True)
        (k,) = m.autograd.grad((h * x).sum(), x)
        out.append((g.detach().numpy(), h.detach().numpy(), k.numpy()))
    for u, v in zip(*out):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_all_elements_create_graph_gradient_as_torch(name):
    """torch's create_graph gradient is zeros.masked_fill_(mask, grad / count): it needs no
    gradient where the incoming one is constant, and is MaskedFillBackward1 (edges: None, the
    quotient's DivBackward0) where it depends on x; exact zeros off the hits."""
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 3.0, 3.0], [-2.0, -1.0, -2.0]])
    facts = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        (g,) = m.autograd.grad(getattr(x, name)(), x, create_graph=True)
        (g2,) = m.autograd.grad(getattr(x, name)() ** 2, x, create_graph=True)
        fn = g2.grad_fn
        facts.append((g.requires_grad, g.tolist(), np.signbit(g.numpy()).tolist(),
                      type(fn).__name__,
                      [type(f).__name__ if f is not None else None for f, _ in fn.next_functions],
                      g2.tolist(), np.signbit(g2.detach().numpy()).tolist()))
    assert facts[0] == facts[1]


@pytest.mark.parametrize("name", ALL_NAMES)
def test_all_elements_gradcheck(name):
    """gradcheck and gradgradcheck (float64) of max()/min() composed with smooth ops, no
    ties."""
    rng = np.random.default_rng(11)
    for shape in [(2,), (5, 3), (40,)]:
        x = tg.tensor(rng.standard_normal(shape), dtype=tg.float64, requires_grad=True)

        def f(t):
            return getattr(t * t.sin(), name)() * t.sum()

        assert tg.autograd.gradcheck(f, (x,))
        assert tg.autograd.gradgradcheck(f, (x,))


def test_all_elements_traced_call_replays_the_body():
    """While tracing the rows max_all / min_all record their body: replayed at points with
    other ties and nan, values and gradients as torch's."""
    torch = pytest.importorskip("torch")
    for name in ALL_NAMES:
        rec = tg.record(lambda x: getattr(x * 2.0, name)() * 3.0,
                        tg.tensor([[1.0, 2.0, 3.0], [0.0, 5.0, 1.0]], dtype=tg.float64))
        for pt in ([[3.0, 3.0, 1.0], [1.0, 2.0, 3.0]], [[NAN, 1.0, 1.0], [0.0, NAN, -1.0]],
                   [[-1.0, -1.0, -1.0], [-1.0, -1.0, -1.0]], [[INF, 1.0, -INF], [INF, 2.0, 0.0]]):
            v, (g,) = rec.value_and_grad(np.array(pt))
            x = torch.tensor(pt, dtype=torch.float64, requires_grad=True)
            y = getattr(x * 2.0, name)() * 3.0
            y.backward()
            np.testing.assert_array_equal(v, y.item())
            np.testing.assert_array_equal(g, x.grad.numpy())


@pytest.mark.parametrize("name", ALL_NAMES)
def test_dim_and_other_forms_unchanged(name):
    """max(dim) (MaxBackward0, values and indices), max(dim, keepdim) and max(other)
    (MaximumBackward0) keep their own paths: torch's values, gradients and grad_fn."""
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 4.0, 4.0], [2.0, NAN, -3.0], [5.0, 5.0, 5.0]])
    b = np.array([[1.0, 0.0, 4.0], [3.0, 1.0, -3.0], [5.0, 6.0, 5.0]])
    calls = [lambda m, x, o: getattr(x, name)(1).values, lambda m, x, o: getattr(x, name)(1)[1],
             lambda m, x, o: getattr(m, name)(x, 0, keepdim=True).values,
             lambda m, x, o: getattr(x, name)(dim=-1, keepdim=False).values,
             lambda m, x, o: getattr(x, name)(o), lambda m, x, o: getattr(m, name)(x, o)]
    for i, call in enumerate(calls):
        res = []
        for m in (tg, torch):
            x = m.tensor(a, requires_grad=True)
            o = m.tensor(b, requires_grad=True)
            y = call(m, x, o)
            fn = type(y.grad_fn).__name__ if y.grad_fn is not None else None
            if y.dtype == m.float64:
                y.backward(m.ones_like(y))
            res.append((fn, y.detach().numpy(), None if x.grad is None else x.grad.numpy(),
                        None if o.grad is None else o.grad.numpy()))
        assert res[0][0] == res[1][0], i
        for u, v in zip(res[0][1:], res[1][1:]):
            np.testing.assert_array_equal(u, v, err_msg=str(i))


# (numpy scalars warn at x / 0 where the compiled pieces are quiet)
@pytest.mark.filterwarnings("ignore:.*encountered in scalar:RuntimeWarning")
@pytest.mark.parametrize("grad", [0.75, INF])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_even_kind_faces(name, grad):
    """The even rule's kernel pieces (plain Python) and tensor faces agree with the eager
    entry: ties, nan (the nan elements hit), infinities, an inf incoming gradient."""
    from tapegrad.kinds import extreme
    from tapegrad.views import KIND_OPS
    for a in _all_cases()[:40]:
        x = tg.tensor(a, requires_grad=True)
        y = getattr(x, name)()
        tape, e = y._tape, y._node
        params, imm = tape.params_of(e), float(tape.imm[e])
        assert list(params) == [1] * a.ndim + [1] and imm == (1.0 if name == "max" else 0.0)
        size, nd = a.size, a.ndim
        shp = np.zeros((2, 8), np.int64)
        shp[0, :nd] = a.shape
        args = (1, 0, -1, size, 1, np.array([0, size]), np.array([size, 1]), shp,
                np.array([nd, 0]), np.array([0, 0]), np.asarray(params), np.array([0.0, imm]))
        vals = np.concatenate([a.ravel(), [0.0]])
        extreme.forward_extreme(*args, vals)
        np.testing.assert_array_equal(vals[size:], y.detach().numpy().ravel())
        adj = np.concatenate([np.zeros(size), [grad]])
        extreme.sweep_extreme(*args, vals, adj)
        gx, = tg.autograd.grad(y, x, tg.tensor(grad, dtype=tg.float64))
        np.testing.assert_array_equal(adj[:size].reshape(a.shape), gx.numpy())
        z = extreme.tensor_forward_extreme(KIND_OPS, x, None, (), params, imm)
        np.testing.assert_array_equal(z.detach().numpy(), y.detach().numpy())
        (i, t), = extreme.tensor_vjp_extreme(KIND_OPS, tg.tensor(grad, dtype=tg.float64),
                                             {0: x, 2: y}.get, a.shape, None, params, imm)
        assert i == 0
        np.testing.assert_array_equal(t.detach().numpy(), gx.numpy())
        np.testing.assert_array_equal(np.signbit(t.detach().numpy()), np.signbit(gx.numpy()))
