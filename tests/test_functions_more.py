"""quantile, nanquantile, nanmedian, mode, rot90, pdist (tapegrad/orderstats.py) and the
top-level forms of nn.functional's functions (tapegrad/nn_toplevel.py): values, gradients,
grad_fn graphs and errors against torch, and torch-free checks of the same."""
import math

import numpy as np
import pytest

import tapegrad
from tapegrad import stdsort

NAN = math.nan


# ---- helpers ------------------------------------------------------------------------------
def _graph(t):
    """The grad_fn graph as nested (name, [children]) with None edges kept."""
    def rec(fn):
        if fn is None:
            return None
        name = type(fn).__name__
        if name == "AccumulateGrad":
            return name
        return (name, [rec(f) for f, _ in fn.next_functions])
    return rec(t.grad_fn)


def _run(m, fn, arrays, dtype, grad=True):
    """fn(m, *tensors) with module m; (value, grads, graph) as numpy/structures."""
    dt = getattr(m, dtype)
    xs = [m.tensor(a, dtype=dt, requires_grad=grad and np.asarray(a).dtype.kind == "f")
          for a in arrays]
    out = fn(m, *xs)
    outs = out if isinstance(out, tuple) else (out,)
    vals = [o.detach().numpy() if hasattr(o, "detach") else o for o in outs]
    graph = _graph(outs[0]) if grad else None
    grads = []
    if grad and outs[0].requires_grad and outs[0].numel():
        w = np.linspace(0.5, 1.5, outs[0].numel()).reshape(tuple(outs[0].shape))
        (outs[0] * m.tensor(w, dtype=dt)).sum().backward()
        grads = [None if x.grad is None else x.grad.numpy() for x in xs]
    return vals, grads, graph


def _compare(fn, arrays, dtypes=("float32", "float64"), exact=False, grad=True):
    torch = pytest.importorskip("torch")
    for dtype in dtypes:
        tv, tg, tgraph = _run(torch, fn, arrays, dtype, grad)
        gv, gg, ggraph = _run(tapegrad, fn, arrays, dtype, grad)
        assert len(tv) == len(gv)
        for a, b in zip(tv, gv):
            assert a.dtype == b.dtype and a.shape == b.shape, (a, b)
            if exact:
                np.testing.assert_array_equal(a, b)
            else:
                tol = 1e-5 if dtype == "float32" else 1e-12
                np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
        assert ggraph == tgraph
        assert len(tg) == len(gg)
        for a, b in zip(tg, gg):
            assert (a is None) == (b is None)
            if a is not None:
                tol = 1e-5 if dtype == "float32" else 1e-12
                np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


def _errors(calls):
    """Each call's (exception type, message) with torch and tapegrad."""
    torch = pytest.importorskip("torch")
    for call in calls:
        got = []
        for m in (torch, tapegrad):
            try:
                call(m)
                got.append(None)
            except Exception as e:  # noqa: BLE001  (compared)
                got.append((type(e).__name__, str(e).replace("torch.", "tapegrad.")))
        assert got[0] == got[1], got


RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 5))
B = RNG.standard_normal((2, 3, 4))
WITH_NAN = np.array([[1.0, NAN, 3.0, -2.0, 0.5], [NAN, NAN, NAN, NAN, NAN],
                     [2.0, 2.0, NAN, 1.0, 7.0]])
MODES = ("linear", "lower", "higher", "midpoint", "nearest")


# ---- quantile -----------------------------------------------------------------------------
@pytest.mark.parametrize("interp", MODES)
def test_quantile_as_torch(interp):
    for q in (0.0, 0.3, 0.5, 1.0):
        _compare(lambda m, x: m.quantile(x, q, interpolation=interp), [A])
        _compare(lambda m, x: x.quantile(q, 1, True, interpolation=interp), [A])
        _compare(lambda m, x: m.quantile(x, q, dim=0, interpolation=interp), [B])
    for dim, keep in ((None, False), (None, True), (0, False), (1, True), (-1, False)):
        def f(m, x):
            return m.quantile(x, m.tensor([0.0, 0.25, 0.6, 1.0], dtype=x.dtype), dim=dim,
                              keepdim=keep, interpolation=interp)
        _compare(f, [B])
    _compare(lambda m, x: x.quantile(0.4, interpolation=interp), [np.array(2.5)])
    _compare(lambda m, x: m.quantile(x, m.tensor([0.4, 0.7], dtype=x.dtype), dim=0,
                                     keepdim=True, interpolation=interp), [np.array(2.5)])


@pytest.mark.parametrize("interp", MODES)
def test_nanquantile_and_nan_as_torch(interp):
    for fname in ("quantile", "nanquantile"):
        for q in (0.2, 0.5, 0.9):
            _compare(lambda m, x: getattr(m, fname)(x, q, 1, interpolation=interp), [WITH_NAN])
            _compare(lambda m, x: getattr(x, fname)(q, interpolation=interp), [WITH_NAN])
        _compare(lambda m, x: getattr(m, fname)(
            x, m.tensor([0.1, 0.5], dtype=x.dtype), 0, interpolation=interp), [WITH_NAN])


def test_quantile_q_requires_grad_as_torch():
    torch = pytest.importorskip("torch")
    for m in (torch, tapegrad):
        x = m.tensor(A, requires_grad=True)
        q = m.tensor([0.3, 0.6], dtype=m.float64, requires_grad=True)
        m.quantile(x, q, dim=0).sum().backward()
        if m is torch:
            expect = (x.grad.numpy(), q.grad.numpy())
        else:
            np.testing.assert_allclose(x.grad.numpy(), expect[0], rtol=1e-12)
            np.testing.assert_allclose(q.grad.numpy(), expect[1], rtol=1e-12)


def test_quantile_gradcheck():
    x = tapegrad.tensor(A, requires_grad=True)
    for interp in MODES:
        assert tapegrad.autograd.gradcheck(
            lambda t: tapegrad.quantile(t, tapegrad.tensor([0.3, 0.55], dtype=tapegrad.float64),
                                        1, interpolation=interp), (x,))


def test_quantile_errors_as_torch():
    x = np.ones((2, 3))
    _errors([
        lambda m: m.quantile(m.tensor(x), 1.5, interpolation="foo"),
        lambda m: m.quantile(m.tensor(x), 0.5, interpolation="foo"),
        lambda m: m.quantile(m.tensor(x).long(), 0.5),
        lambda m: m.quantile(m.tensor(x), 0.5, dim=3),
        lambda m: m.quantile(m.tensor(x), m.tensor([[0.5]], dtype=m.float64)),
        lambda m: m.quantile(m.tensor(x), m.tensor([0.5])),
        lambda m: m.quantile(m.tensor(x), m.tensor([1.5], dtype=m.float64)),
        lambda m: m.quantile(m.zeros(0), 0.5),
        lambda m: m.quantile(m.tensor(x), "0.5"),
        lambda m: m.quantile(m.tensor(x), [0.5]),
        lambda m: m.nanquantile(m.tensor(x), -0.1),
        lambda m: m.quantile(m.tensor(3.0), 0.5, dim=1),
        lambda m: m.nanquantile(m.tensor(x), "a"), lambda m: m.tensor(x).quantile("a"),
        lambda m: m.tensor(x).nanquantile(0.5, 0, 1),
        lambda m: m.quantile(m.tensor(x), 0.5, 0, 1),
    ])


def test_quantile_matches_numpy_without_torch():
    for method in MODES:
        for q in (0.0, 0.1, 0.37, 0.5, 0.9, 1.0):
            got = tapegrad.quantile(tapegrad.tensor(B), q, dim=2, interpolation=method)
            np.testing.assert_allclose(got.numpy(), np.quantile(B, q, axis=2, method=method),
                                       rtol=1e-12, atol=1e-12)
            got = tapegrad.nanquantile(tapegrad.tensor(WITH_NAN[[0, 2]]), q, 1,
                                       interpolation=method)
            np.testing.assert_allclose(got.numpy(), np.nanquantile(WITH_NAN[[0, 2]], q, axis=1,
                                                                   method=method))
    qs = tapegrad.tensor([0.25, 0.75], dtype=tapegrad.float64)
    assert tuple(tapegrad.quantile(tapegrad.tensor(B), qs, 1, keepdim=True).shape) == (2, 2, 1, 4)
    x = tapegrad.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    x.quantile(0.5).backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5, 0.0]
    with pytest.raises(RuntimeError, match="q must be in the range"):
        tapegrad.quantile(x, 2.0)


# ---- nanmedian, mode ----------------------------------------------------------------------
def test_nanmedian_as_torch():
    _compare(lambda m, x: m.nanmedian(x), [WITH_NAN])
    _compare(lambda m, x: x.nanmedian(), [np.full((2, 2), NAN)])
    _compare(lambda m, x: x.nanmedian(), [np.array([1.0, 2.0, 2.0, 1.0, 2.0, NAN])])
    for dim, keep in ((0, False), (1, True), (-1, False)):
        _compare(lambda m, x: tuple(m.nanmedian(x, dim, keep)), [WITH_NAN], exact=True)
    _compare(lambda m, x: tuple(x.nanmedian(0)), [np.array(3.0)], exact=True)
    for n in (1, 3, 4, 5, 8, 17, 33, 100):   # rows of NaNs: introselect's first index
        _compare(lambda m, x: tuple(m.nanmedian(x, 1)), [np.full((2, n), NAN)], exact=True,
                 dtypes=("float32",))
    ints = np.array([[3, 1, 2, 2], [5, 5, 1, 0]])
    _compare(lambda m, x: (m.nanmedian(x),) + tuple(m.nanmedian(x, 1)), [ints], exact=True,
             dtypes=("int64",), grad=False)
    _errors([lambda m: m.nanmedian(m.zeros(0, 3), 0),
             lambda m: m.nanmedian(m.tensor([True, False])),
             lambda m: m.nanmedian(m.zeros(3), 1)])


def test_mode_as_torch():
    rng = np.random.default_rng(3)
    for shape, dim in (((4, 40), 1), ((40, 3), 0), ((100,), 0), ((3, 17), -1), ((2, 5), 1)):
        x = rng.integers(0, 6, shape).astype(np.float64)
        _compare(lambda m, t: tuple(m.mode(t, dim)), [x], exact=True)
        _compare(lambda m, t: tuple(t.mode(dim, keepdim=True)), [x], exact=True)
    _compare(lambda m, t: tuple(m.mode(t)), [np.array(2.0)], exact=True)
    _compare(lambda m, t: tuple(m.mode(t, 1)), [np.array([[1.0, NAN, NAN, 2.0, 1.0]])],
             exact=True)
    x = rng.integers(-3, 3, (5, 30))
    _compare(lambda m, t: tuple(m.mode(t, 1)), [x], dtypes=("int64",), exact=True, grad=False)
    _errors([lambda m: m.mode(m.zeros(0, 3), 0), lambda m: m.mode(m.zeros(3), 1)])


def test_std_sort_and_nth_element_without_torch():
    rng = np.random.default_rng(0)
    for n in (0, 1, 5, 16, 17, 40, 300):
        vals = rng.integers(0, 7, n).tolist()
        a = [(v, i) for i, v in enumerate(vals)]
        stdsort.std_sort(a, lambda p, q: p[0] < q[0])
        assert [v for v, _ in a] == sorted(vals)
        assert sorted(i for _, i in a) == list(range(n))
        for k in range(0, n, max(1, n // 5)):
            b = list(vals)
            stdsort.std_nth_element(b, k, lambda p, q: p < q)
            assert b[k] == sorted(vals)[k]
            assert all(v <= b[k] for v in b[:k]) and all(v >= b[k] for v in b[k + 1:])
    # libstdc++'s result for equal keys (a row of NaNs: every comparison false)
    idx = list(range(4))
    stdsort.std_nth_element(idx, 0, lambda p, q: False)
    assert idx[0] == 2
    m = tapegrad.mode(tapegrad.tensor([[1.0, 3.0, 3.0, 2.0, 1.0], [4.0, 4.0, 4.0, 0.0, 0.0]]), 1)
    assert m.values.tolist() == [1.0, 4.0]
    assert m.indices.tolist()[1] in (0, 1, 2)
    med = tapegrad.nanmedian(tapegrad.tensor([[NAN, 1.0, 5.0, 3.0]]), 1)
    assert med.values.tolist() == [3.0] and med.indices.tolist() == [3]
    x = tapegrad.tensor([1.0, 2.0, 2.0, NAN], requires_grad=True)
    x.nanmedian().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5, 0.0]
    assert type(x.nanmedian().grad_fn).__name__ == "NanmedianBackward0"


# ---- rot90, pdist -------------------------------------------------------------------------
def test_rot90_as_torch():
    for k in (-5, -1, 0, 1, 2, 3, 4, 6):
        _compare(lambda m, x: m.rot90(x, k), [A], exact=True)
        _compare(lambda m, x: x.rot90(k, [2, 0]), [B], exact=True)
        _compare(lambda m, x: m.rot90(x, k, (-1, 1)), [B], exact=True)
    _errors([lambda m: m.rot90(m.zeros(3)), lambda m: m.rot90(m.zeros(3, 3), 1, [0]),
             lambda m: m.rot90(m.zeros(3, 3), 1, [0, 0]),
             lambda m: m.rot90(m.zeros(3, 3), 1, [0, 2]),
             lambda m: m.rot90(m.zeros(3, 3), 1, [-3, 1]),
             lambda m: m.rot90(m.zeros(3, 3), 1, [0, -2]),
             lambda m: m.rot90(m.zeros(3, 3), 1.5)])


def test_rot90_without_torch():
    x = tapegrad.tensor(B, requires_grad=True)
    for k in range(-2, 6):
        np.testing.assert_array_equal(tapegrad.rot90(x, k, (0, 2)).detach().numpy(),
                                      np.rot90(B, k, (0, 2)))
    y = tapegrad.rot90(x, 1, (1, 2))
    (y * tapegrad.tensor(np.rot90(B, 1, (1, 2)).copy())).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), B)
    assert type(y.grad_fn).__name__ == "Rot90Backward0"
    with pytest.raises(RuntimeError, match="rotation dims to be different"):
        tapegrad.rot90(x, 1, (1, 1))


def test_pdist_as_torch():
    x = RNG.standard_normal((5, 3))
    for p in (0, 0.5, 1, 1.5, 2, 3, math.inf):
        _compare(lambda m, t: m.pdist(t, p), [x])
    dup = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 2.5, 1.0], [1.0, 0.0, 3.0]])
    for p in (1, 2, 3, math.inf):   # zero distances and ties of the max
        _compare(lambda m, t: m.pdist(t, p), [dup])
    _compare(lambda m, t: m.pdist(t), [np.ones((1, 3))])
    _compare(lambda m, t: m.pdist(t.t()), [x])
    _errors([lambda m: m.pdist(m.zeros(3)), lambda m: m.pdist(m.zeros(3, 3), -1),
             lambda m: m.pdist(m.zeros(3, 3, dtype=m.int64))])


def test_pdist_without_torch():
    x = RNG.standard_normal((4, 3))
    i, j = np.triu_indices(4, 1)
    for p in (1.0, 2.0, 3.0):
        t = tapegrad.tensor(x, requires_grad=True)
        np.testing.assert_allclose(tapegrad.pdist(t, p).detach().numpy(),
                                   (np.abs(x[i] - x[j]) ** p).sum(1) ** (1 / p), rtol=1e-12)
        assert tapegrad.autograd.gradcheck(lambda a: tapegrad.pdist(a, p), (t,))
    d = tapegrad.pdist(tapegrad.tensor(x, requires_grad=True))
    assert type(d.grad_fn).__name__ == "PdistBackward0"
    assert tapegrad.nn.functional.pdist is tapegrad.pdist   # as torch's


# ---- the top-level forms of nn.functional's functions -------------------------------------
def test_toplevel_functional_as_torch():
    x, y = A, RNG.standard_normal((3, 5))
    _compare(lambda m, a, b: m.cosine_similarity(a, b), [x, y])
    _compare(lambda m, a, b: m.cosine_similarity(a, b[:1], 1, 1e-3), [x, y])
    _compare(lambda m, a, b: m.pairwise_distance(a, b), [x, y])
    _compare(lambda m, a, b: m.pairwise_distance(a, b, 1.0, 1e-3, True), [x, y])
    _compare(lambda m, a: m.selu(a), [x])
    # (alphas exact in float32: torch's celu gradient uses 1 / float32(alpha), tapegrad 1 / alpha)
    _compare(lambda m, a: m.celu(a, 0.5), [x])
    _compare(lambda m, a: m.celu(a, alpha=2.0), [x])
    _compare(lambda m, a: m.threshold(a, 0.1, 20.0), [x])
    _compare(lambda m, a: m.selu_(a * 1), [x])
    _compare(lambda m, a: m.celu_(a * 1, 1.5), [x])
    _compare(lambda m, a: m.threshold_(a * 1, 0.1, 2.0), [x])
    _compare(lambda m, a: m.relu_(a * 1), [x])
    _compare(lambda m, a: m.dropout(a, 0.3, False), [x])

    def seeded(name, p, train, shape=None):
        def f(m, a):
            m.manual_seed(5)
            a = a if shape is None else a.reshape(shape)
            return getattr(m, name)(a * 1 if name.endswith("_") else a, p, train)
        return f
    for name in ("dropout", "dropout_", "alpha_dropout", "alpha_dropout_",
                 "feature_alpha_dropout", "feature_dropout", "feature_dropout_"):
        _compare(seeded(name, 0.4, True, (3, 5, 1)), [x])
        _compare(seeded(name, 0.4, False), [x])
    torch = pytest.importorskip("torch")
    for m in (torch, tapegrad):
        t = m.ones(3)
        assert m.dropout(t, 0.5, False) is t and m.dropout_(t, 0.5, False) is t
    _errors([lambda m: m.dropout(m.zeros(3)), lambda m: m.dropout(m.zeros(3), 0.5),
             lambda m: m.dropout(m.zeros(3), 0.5, True, 1),
             lambda m: m.dropout(m.zeros(3), 1.5, True),
             lambda m: m.dropout(m.zeros(3), 0.5, training=False),
             lambda m: m.dropout_(m.zeros(3), 0.5),
             lambda m: m.alpha_dropout(m.zeros(3)), lambda m: m.selu(m.zeros(3), True),
             lambda m: m.celu_(m.zeros(3), 1.0, 2.0, 3.0),
             lambda m: m.threshold(m.zeros(3), 1.0), lambda m: m.threshold_(m.zeros(3)),
             lambda m: m.feature_dropout(m.zeros(3), 0.5, True)])


def test_toplevel_functional_without_torch():
    x = tapegrad.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
    F = tapegrad.nn.functional
    for a, b in ((tapegrad.selu(x), F.selu(x)), (tapegrad.celu(x, 0.5), F.celu(x, 0.5)),
                 (tapegrad.threshold(x, 0.0, -1.0), F.threshold(x, 0.0, -1.0))):
        assert a.tolist() == b.tolist() and type(a.grad_fn) is type(b.grad_fn)
    assert tapegrad.dropout(x, 0.5, False) is x
    tapegrad.manual_seed(1)
    d = tapegrad.dropout(x, 0.5, True)
    assert set(d.tolist()) <= {0.0, -4.0, -1.0, 1.0, 4.0}
    assert type(d.grad_fn).__name__ == "MulBackward0"
    with pytest.raises(TypeError, match='missing 1 required positional arguments: "train"'):
        tapegrad.dropout(x, 0.5)
    c = tapegrad.cosine_similarity(x[None], x[None] * 2)
    assert abs(c.item() - 1.0) < 1e-6
    assert abs(tapegrad.pairwise_distance(x[None], x[None] * 0, eps=0.0).item() - math.sqrt(8.5)) \
        < 1e-6
