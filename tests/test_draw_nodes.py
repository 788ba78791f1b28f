"""Random draws whose parameters require grad (tapegrad/draw_nodes.py): torch records a node
with a zero gradient for normal's mean and std (NormalBackward1/2/3), bernoulli's p
(BernoulliBackward0), poisson's rates and the tensor an in-place fill overwrites
(NormalBackward0, UniformBackward0, BernoulliBackward1/2, RandomBackward0/1/2, ...), and its
NotImplemented node (whose backward raises) for bernoulli with a number p, binomial and
_sample_dirichlet.  The drawn values stay torch's; checked against torch 2.13 where it is
installed, and by what torch's rules imply without it."""
import numpy as np
import pytest

import tapegrad as tg


def _node(t):
    fn = t.grad_fn
    if fn is None:
        return None
    return type(fn).__name__, [None if f is None else type(f).__name__
                               for f, _ in fn.next_functions]


def _outcome(lib, case):
    """What case(lib) gives: the values (float64 bits), dtype, requires_grad, the node and
    its edges, and the gradients of the parameters (or the error a backward raises)."""
    lib.manual_seed(7)
    try:
        out, params = case(lib)
    except Exception as e:       # noqa: BLE001  (compared as torch's)
        return type(e).__name__, str(e)
    res = (np.asarray(out.detach().numpy(), np.float64).tolist(), str(out.dtype).split(".")[-1],
           out.requires_grad, _node(out))
    try:
        grads = lib.autograd.grad((out * 3.0).sum(), params, allow_unused=True)
    except Exception as e:       # noqa: BLE001
        return res + ((type(e).__name__, str(e)),)
    return res + ([None if g is None else g.tolist() for g in grads],)


def _p(m, dtype=None):
    return m.tensor([[0.1, 0.5, 0.9], [0.3, 0.7, 0.2]], dtype=dtype or m.float32,
                    requires_grad=True)


def _inplace(method, *args):
    def case(m):
        p = _p(m)
        x = p * 2.0
        getattr(x, method)(*args)
        return x, [p]
    return case


def _bernoulli_tensor_p(m):
    q = _p(m)
    z = m.zeros(2, 3, dtype=m.float64)
    z.bernoulli_(q)
    return z, [q]


def _through_a_view(m):
    p = _p(m)
    base = p * 2.0
    base[0].uniform_()
    return base, [p]


MEAN = [[0.5], [1.0], [-2.0]]
CASES = {
    "normal(tensor, tensor)": lambda m: (lambda mu, s: (m.normal(mu, s), [mu, s]))(
        m.tensor(MEAN, requires_grad=True), m.tensor([1.0, 2.0], requires_grad=True)),
    "normal(tensor, tensor) std without grad": lambda m: (lambda mu: (
        m.normal(mu, m.tensor([1.0, 2.0])), [mu]))(m.tensor(MEAN, requires_grad=True)),
    "normal(tensor, tensor) mean without grad": lambda m: (lambda s: (
        m.normal(m.tensor(MEAN), s), [s]))(m.tensor(2.0, requires_grad=True)),
    # (torch's dtype is the mean's)
    "normal(float32, float64)": lambda m: (lambda mu, s: (m.normal(mu, s), [mu, s]))(
        m.tensor(MEAN, requires_grad=True),
        m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True)),
    "normal(tensor, float)": lambda m: (lambda mu: (m.normal(mu, 3.0), [mu]))(
        m.tensor(MEAN, requires_grad=True)),
    "normal(float, tensor)": lambda m: (lambda s: (m.normal(2.0, s), [s]))(
        m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True)),
    "normal 0-d": lambda m: (lambda mu: (m.normal(mu, 0.5), [mu]))(
        m.tensor(1.0, requires_grad=True)),
    "bernoulli": lambda m: (lambda p: (m.bernoulli(p), [p]))(_p(m)),
    "bernoulli float64": lambda m: (lambda p: (m.bernoulli(p), [p]))(_p(m, m.float64)),
    "Tensor.bernoulli": lambda m: (lambda p: (p.bernoulli(), [p]))(_p(m)),
    "bernoulli of a result": lambda m: (lambda p: (m.bernoulli(p.sigmoid()), [p]))(_p(m)),
    "bernoulli 0-d": lambda m: (lambda p: (m.bernoulli(p), [p]))(
        m.tensor(0.3, requires_grad=True)),
    "bernoulli(p, number)": lambda m: (lambda p: (m.bernoulli(p, 0.3), [p]))(_p(m)),
    "Tensor.bernoulli(number)": lambda m: (lambda p: (p.bernoulli(0.3), [p]))(_p(m)),
    "poisson": lambda m: (lambda r: (m.poisson(r * 10.0), [r]))(_p(m)),
    "binomial": lambda m: (lambda c, p: (m.binomial(c, p), [c, p]))(
        m.tensor([[5.0, 6.0, 7.0]], requires_grad=True).expand(2, 3), _p(m)),
    "binomial prob only": lambda m: (lambda p: (m.binomial(m.full((2, 3), 5.0), p), [p]))(
        _p(m)),
    "_sample_dirichlet": lambda m: (lambda a: (m._sample_dirichlet(a), [a]))(
        m.tensor([[1.0, 2.0, 3.0]], requires_grad=True)),
    "normal_": _inplace("normal_", 1.0, 2.0),
    "uniform_": _inplace("uniform_", -1.0, 1.0),
    "bernoulli_(number)": _inplace("bernoulli_", 0.3),
    "bernoulli_(tensor) on a tensor without grad": _bernoulli_tensor_p,
    "random_(from, to)": _inplace("random_", 0, 7),
    "random_(to)": _inplace("random_", 7),
    "random_()": _inplace("random_"),
    "exponential_": _inplace("exponential_"),
    "geometric_": _inplace("geometric_", 0.3),
    "cauchy_": _inplace("cauchy_"),
    "log_normal_": _inplace("log_normal_"),
    "uniform_ through a view": _through_a_view,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_as_torch(name):
    torch = pytest.importorskip("torch")
    assert _outcome(tg, CASES[name]) == _outcome(torch, CASES[name])


def test_random_keyword_overloads_name_their_nodes():
    x = tg.tensor([1.0, 2.0], requires_grad=True) * 1.0
    assert type(x.random_(to=5).grad_fn).__name__ == "RandomBackward1"
    assert type(x.random_(**{"from": 1, "to": 5}).grad_fn).__name__ == "RandomBackward0"


def test_straight_through_estimator():
    # h + p - p.detach(): h's zero gradient adds nothing to p's, sigmoid' passes on
    l = tg.tensor([0.3, -0.2], requires_grad=True)
    p = tg.sigmoid(l)
    h = tg.bernoulli(p)
    (h + p - p.detach()).sum().backward()
    s = 1 / (1 + np.exp(-np.array([0.3, -0.2], np.float32)))
    assert np.allclose(l.grad.numpy(), s * (1 - s))
    assert h.requires_grad and type(h.grad_fn).__name__ == "BernoulliBackward0"


def test_normal_records_zero_gradients_and_same_draws():
    m = tg.tensor([0.5, 1.0], requires_grad=True)
    s = tg.tensor([1.0, 2.0], requires_grad=True)
    tg.manual_seed(0)
    y = tg.normal(m, s)
    tg.manual_seed(0)
    plain = tg.normal(m.detach(), s.detach())
    assert np.array_equal(y.detach().numpy(), plain.numpy()) and not plain.requires_grad
    assert type(y.grad_fn).__name__ == "NormalBackward3"
    (y.sum() + m.sum()).backward()
    assert m.grad.tolist() == [1.0, 1.0] and s.grad.tolist() == [0.0, 0.0]
    # zeros however large the incoming gradient (derivatives.yaml's zeros, not g * 0)
    g, = tg.autograd.grad(tg.normal(m, 1.0), m, grad_outputs=tg.tensor([np.inf, np.nan]))
    assert g.tolist() == [0.0, 0.0]
    # create_graph: zeros without history
    g, = tg.autograd.grad(tg.normal(m, s).sum(), s, create_graph=True)
    assert g.tolist() == [0.0, 0.0] and not g.requires_grad
    with tg.no_grad():
        assert not tg.normal(m, s).requires_grad and not tg.bernoulli(m / 2).requires_grad


def test_not_implemented_nodes_raise_on_backward():
    p = tg.tensor([0.2, 0.6], requires_grad=True)
    for y, op in ((tg.bernoulli(p, 0.5), "bernoulli"),
                  (tg.binomial(tg.full((2,), 4.0), p), "binomial"),
                  (tg._sample_dirichlet(p + 1.0), "_sample_dirichlet")):
        assert y.requires_grad and y.grad_fn.name() == "torch::autograd::NotImplemented"
        with pytest.raises(RuntimeError, match=f"derivative for aten::{op} is not implemented"):
            y.sum().backward()


def test_in_place_fills_record_torch_nodes():
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    x = p * 2.0
    x.normal_()
    assert type(x.grad_fn).__name__ == "NormalBackward0"
    assert [type(f).__name__ for f, _ in x.grad_fn.next_functions] == ["MulBackward0"]
    (x * 3.0).sum().backward()
    assert p.grad.tolist() == [0.0, 0.0]
    # a leaf that requires grad raises before anything is drawn (torch's check comes first)
    tg.manual_seed(1)
    expected = tg.rand(2)
    tg.manual_seed(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        tg.ones(2, requires_grad=True).uniform_()
    assert tg.rand(2).tolist() == expected.tolist()
    # under no_grad (initialisation code): values only, the version counts the change
    w = tg.nn.Parameter(tg.ones(3))
    with tg.no_grad():
        w.normal_()
    assert w.grad_fn is None and w._version == 1


# ---- in-place fills of tensors that need no history (namespace._fill_random's plain write) ----
def _plain_fill_cases():
    """(name, fn(lib) -> tensors to compare) of in-place draws under grad mode where the
    tensor needs no history (written at once) and the neighbours the general path decides:
    a leaf that requires grad, a view of one, a saved tensor changed, an inference tensor, an
    expand, a transposed tensor, a detach()ed alias, integer and float64 tensors.  Each case
    draws once more after, so a stream left in another state shows."""
    fills = {"normal_": lambda x: x.normal_(0.5, 2.0), "uniform_": lambda x: x.uniform_(),
             "bernoulli_": lambda x: x.bernoulli_(0.3), "exponential_": lambda x: x.exponential_(),
             "random_": lambda x: x.random_(0, 9)}

    def then(lib, *ts):
        return ts + (lib.rand(3),)

    def saved(lib, fill):
        w, a = lib.ones(2, 8, requires_grad=True), lib.ones(2, 8)
        y = w * a
        fill(a)
        y.sum().backward()
        return (w.grad,)

    def inference(lib, fill):
        with lib.inference_mode():
            x = lib.ones(2, 8)
        return (fill(x),)

    cases = {}
    for name, fill in fills.items():
        cases.update({
            f"{name} plain": lambda lib, f=fill: then(lib, f(lib.empty(2, 8))),
            f"{name} float64": lambda lib, f=fill: then(lib, f(lib.empty(2, 8,
                                                                         dtype=lib.float64))),
            f"{name} 0-d": lambda lib, f=fill: then(lib, f(lib.tensor(0.0))),
            f"{name} leaf that requires grad": lambda lib, f=fill: then(
                lib, f(lib.ones(2, 8, requires_grad=True))),
            f"{name} view of one": lambda lib, f=fill: then(
                lib, f(lib.ones(2, 8, requires_grad=True)[0])),
            f"{name} view": lambda lib, f=fill: (lambda a: then(lib, f(a[1]), a))(
                lib.zeros(2, 8)),
            f"{name} transposed": lambda lib, f=fill: (lambda a: then(lib, f(a.t()), a))(
                lib.zeros(4, 8)),
            f"{name} saved then changed": lambda lib, f=fill: then(lib, *saved(lib, f)),
            f"{name} inference tensor outside": lambda lib, f=fill: then(lib, *inference(lib, f)),
            f"{name} expanded": lambda lib, f=fill: then(lib, f(lib.zeros(1, 8).expand(3, 8))),
            f"{name} detached": lambda lib, f=fill: (lambda w: then(lib, f(w.detach()), w))(
                lib.ones(2, 8, requires_grad=True)),
        })
    cases["random_ int64"] = lambda lib: then(lib, lib.zeros(2, 8, dtype=lib.int64).random_(0, 9))
    cases["bernoulli_ bool"] = lambda lib: then(lib, lib.zeros(2, 8, dtype=lib.bool).bernoulli_())
    return cases


def _plain_fill_outcome(lib, fn):
    lib.manual_seed(11)
    try:
        ts = fn(lib)
    except Exception as e:       # noqa: BLE001  (compared as torch's)
        return type(e).__name__, str(e).replace(lib.__name__, "LIB")
    return [(t.detach().numpy().tobytes(), str(t.dtype).split(".")[-1], tuple(t.shape),
             t._version, t.requires_grad, _node(t)) for t in ts]


def test_plain_in_place_fills_equal_the_general_path(monkeypatch):
    from tapegrad import namespace
    fast = {k: _plain_fill_outcome(tg, f) for k, f in _plain_fill_cases().items()}
    monkeypatch.setattr(namespace, "_no_history", lambda t: False)
    general = {k: _plain_fill_outcome(tg, f) for k, f in _plain_fill_cases().items()}
    for k in fast:
        assert fast[k] == general[k], k


def test_plain_in_place_fills_as_torch():
    torch = pytest.importorskip("torch")
    for k, f in _plain_fill_cases().items():
        ours, theirs = _plain_fill_outcome(tg, f), _plain_fill_outcome(torch, f)
        if ours[0] in ("RuntimeError", "NotImplementedError", "TypeError") or \
                theirs[0] in ("RuntimeError", "NotImplementedError", "TypeError"):
            assert ours[0] == theirs[0], (k, ours, theirs)
        else:
            assert ours == theirs, k


def test_plain_in_place_fill_takes_the_short_path(monkeypatch):
    """A tensor that needs no history, under grad mode, is written at once: no
    draw_nodes.fill, no in-place op."""
    from tapegrad import draw_nodes
    monkeypatch.setattr(draw_nodes, "fill", lambda *a, **k: pytest.fail("fill called"))
    a = tg.empty(4, 16)
    a.normal_()
    a.uniform_(-1.0, 1.0)
    assert a._version == 2 and ((a >= -1) & (a < 1)).all()
