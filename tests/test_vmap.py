"""tapegrad.func.vmap (map then stack) against torch.func.vmap: in_dims / out_dims (ints,
None, negative, pytrees), gradients through a vmap, vmap of grad (per-sample gradients),
nested vmap, randomness modes, torch's errors; and func.jvp / jacfwd (by reverse mode)."""
import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
A, B, W = RNG.normal(size=(4, 3)), RNG.normal(size=(3, 4)), RNG.normal(size=(3,))


def _linear_loss(mod):
    def loss(w, x, y):
        return ((x * w).sum() - y) ** 2
    return loss


CASES = [
    ("dot", lambda m: m.func.vmap(lambda a, w: (a * w).sum(), in_dims=(0, None)), (A, W)),
    ("dims", lambda m: m.func.vmap(lambda a, b: a * b.exp(), in_dims=(0, 1)), (A, B)),
    ("neg-out", lambda m: m.func.vmap(lambda a: a.outer(a), in_dims=-1, out_dims=-1), (B,)),
    ("tuple-out", lambda m: m.func.vmap(lambda a: (a.sin(), a.sum()), out_dims=(1, 0)), (A,)),
    ("pytree-in", lambda m: m.func.vmap(lambda d: d["x"] * d["w"],
                                        in_dims=({"x": 0, "w": None},)), ({"x": A, "w": W},)),
    ("list-in", lambda m: m.func.vmap(lambda xs: xs[0] - xs[1].tanh()), ([A, A * 2],)),
    ("out-None", lambda m: m.func.vmap(lambda a, w: (a * w, w), in_dims=(0, None),
                                       out_dims=(0, None)), (A, W)),
    ("nested", lambda m: m.func.vmap(m.func.vmap(lambda a, b: a * b, in_dims=(0, None)),
                                     in_dims=(None, 1)), (A[0], B)),
    ("grad", lambda m: m.func.vmap(m.func.grad(_linear_loss(m)), in_dims=(None, 0, 0)),
     (W, A[:, :3], A[:, 0])),
    ("jacrev", lambda m: m.func.vmap(m.func.jacrev(lambda a: a.sin() * a.sum())), (A,)),
    ("softmax", lambda m: m.func.vmap(lambda a: a.softmax(0), in_dims=1, out_dims=1), (B,)),
]


def _tensors(mod, tree, grad):
    if isinstance(tree, dict):
        return {k: _tensors(mod, v, grad) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_tensors(mod, v, grad) for v in tree)
    return mod.tensor(tree, requires_grad=grad)


def _flat(tree):
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _flat(v)]
    if isinstance(tree, (list, tuple)):
        return [x for v in tree for x in _flat(v)]
    return [tree]


@pytest.mark.parametrize("name,make,args", CASES, ids=[c[0] for c in CASES])
def test_vmap_matches_torch(name, make, args):
    res = []
    for mod in (tg, torch):
        xs = _tensors(mod, args, True)
        out = make(mod)(*xs)
        outs = [o for o in _flat(out) if isinstance(o, mod.Tensor)]
        total = sum((o * o).sum() for o in outs if o.requires_grad)
        if not isinstance(total, int):
            total.backward()
        res.append(([o.detach().numpy() for o in outs],
                    [None if x.grad is None else x.grad.numpy() for x in _flat(xs)]))
    for a, b in zip(res[0][0], res[1][0]):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for a, b in zip(res[0][1], res[1][1]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


ERRORS = [
    lambda m: m.func.vmap(lambda a, b: a + b)(m.ones(3, 2), m.ones(4, 2)),
    lambda m: m.func.vmap(lambda a: a, in_dims=(None,))(m.ones(3)),
    lambda m: m.func.vmap(lambda a: 1)(m.ones(3)),
    lambda m: m.func.vmap(lambda a: a, in_dims=2)(m.ones(3, 2)),
    lambda m: m.func.vmap(lambda a: a, randomness="bad")(m.ones(3)),
    lambda m: m.func.vmap(lambda a: a)(1.0),
    lambda m: m.func.vmap(lambda a: a.sum(), out_dims=1)(m.ones(3, 2)),
    lambda m: m.func.vmap(lambda a: a + m.rand(2))(m.ones(3, 2)),
]


@pytest.mark.parametrize("call", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_as_torch(call):
    out = []
    for mod in (tg, torch):
        with pytest.raises(Exception) as e:
            call(mod)
        out.append((type(e.value).__name__, str(e.value)))
    assert out[0] == out[1]


def test_randomness_modes():
    tg.manual_seed(3)
    state = tg.get_rng_state() if hasattr(tg, "get_rng_state") else None
    with pytest.raises(RuntimeError, match="randomness error mode"):
        tg.func.vmap(lambda a: a + tg.rand(2))(tg.ones(3, 2))
    if state is not None:                       # the failed call drew nothing
        assert str(tg.get_rng_state()) == str(state)
    same = tg.func.vmap(lambda a: a + tg.rand(2), randomness="same")(tg.zeros(3, 2))
    diff = tg.func.vmap(lambda a: a + tg.rand(2), randomness="different")(tg.zeros(3, 2))
    assert (same[0] == same[1]).all() and (same[1] == same[2]).all()
    assert not (diff[0] == diff[1]).all()
    assert tg.vmap is tg.func.vmap


def test_jvp_and_jacfwd_match_torch():
    res = []
    for mod in (tg, torch):
        x, v = mod.tensor(A), mod.tensor(A[::-1].copy())
        out, t = mod.func.jvp(lambda a: (a.sin() * a).sum(1), (x,), (v,))
        out2, t2, aux = mod.func.jvp(lambda a, b: (a * b, a.sum()), (x, x), (v, v),
                                     has_aux=True)
        J = mod.func.jacfwd(lambda a, b: a.tanh() * b, argnums=(0, 1))(mod.tensor(W),
                                                                      mod.tensor(W * 2))
        res.append([out.numpy(), t.numpy(), out2.numpy(), t2.numpy(), aux.numpy(),
                    J[0].numpy(), J[1].numpy()])
        with pytest.raises(RuntimeError) as e:
            mod.func.jvp(lambda a: a, x, v)
        res[-1].append(str(e.value))
    assert res[0][-1] == res[1][-1]
    for a, b in zip(res[0][:-1], res[1][:-1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def _loss(w, x, y):
    return ((x * w).sum() - y) ** 2


def _loss_branch(w, x, y):
    s = (x * w).sum()
    if s.item() > 0:                   # a recorded branch: the other samples are re-run
        return (s - y) ** 2
    return (s - y).abs()


@pytest.mark.parametrize("fn", [_loss, _loss_branch], ids=["plain", "branch"])
def test_vmap_of_grad_takes_the_batch_replay_path(fn, monkeypatch):
    calls = []
    real = tg.replay.Recorded.value_and_grad_batch
    monkeypatch.setattr(tg.replay.Recorded, "value_and_grad_batch",
                        lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    w, x, y = RNG.normal(size=3), RNG.normal(size=(9, 3)), RNG.normal(size=9)
    ours = tg.func.vmap(tg.func.grad_and_value(fn, argnums=(0, 1)), in_dims=(None, 0, 0))(
        tg.tensor(w), tg.tensor(x), tg.tensor(y))
    g = tg.func.vmap(tg.func.grad(fn), in_dims=(None, 0, 0))(tg.tensor(w), tg.tensor(x),
                                                            tg.tensor(y))
    assert calls == [1, 1]
    ref = [torch.func.grad_and_value(fn, argnums=(0, 1))(
        torch.tensor(w), torch.tensor(x[i]), torch.tensor(y[i])) for i in range(9)]
    np.testing.assert_allclose(ours[0][0].numpy(), np.stack([r[0][0].numpy() for r in ref]),
                               rtol=1e-13)
    np.testing.assert_allclose(ours[0][1].numpy(), np.stack([r[0][1].numpy() for r in ref]),
                               rtol=1e-13)
    np.testing.assert_allclose(ours[1].numpy(), np.stack([r[1].numpy() for r in ref]),
                               rtol=1e-13)
    np.testing.assert_array_equal(g.numpy(), ours[0][0].numpy())
    assert ours[1].dtype == tg.float64 and g.shape == (9, 3)


def test_vmap_of_grad_falls_back_to_the_loop():
    calls = []
    tg.manual_seed(0)
    x = tg.tensor(A)
    with pytest.raises(RuntimeError, match="randomness error mode"):   # a random draw
        tg.func.vmap(tg.func.grad(lambda a: (a * tg.rand(3)).sum()))(x)
    nested = tg.tensor(A, requires_grad=True)                          # a graph is wanted
    g = tg.func.vmap(tg.func.grad(lambda a: (a ** 3).sum()))(nested)
    g.sum().backward()
    np.testing.assert_allclose(nested.grad.numpy(), 6 * A, rtol=1e-14)
    aux = tg.func.vmap(tg.func.grad(lambda a: ((a * a).sum(), calls.append(1) or a.sum()),
                                    has_aux=True))(x)                  # has_aux
    assert len(calls) == 4 and aux[0].shape == (4, 3) and aux[1].shape == (4,)


def test_vmap_of_grad_of_a_lapack_op_takes_the_loop():
    # the batch kernels cannot call LAPACK (they raised NotImplementedError): the loop runs
    M = RNG.normal(size=(5, 3, 3))
    M = M @ M.transpose(0, 2, 1) + 3 * np.eye(3)
    v = RNG.normal(size=(5, 3))
    for m in (tg, torch):
        f = lambda a, b, m=m: m.logdet(a) + m.linalg.solve(a, b).sum()
        g = m.func.vmap(m.func.grad(f, argnums=(0, 1)))(m.tensor(M), m.tensor(v))
        if m is tg:
            ours = g
    for a, b in zip(ours, g):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_vmap_of_grad_keeps_the_graph_to_a_closed_over_tensor(monkeypatch):
    """grad's results keep a graph to a tensor f closes over (torch.func composes with
    autograd); a recording would bake it in as a constant, so vmap runs the loop."""
    calls = []
    real = tg.replay.Recorded.value_and_grad_batch
    monkeypatch.setattr(tg.replay.Recorded, "value_and_grad_batch",
                        lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    w0, X = RNG.normal(size=3), RNG.normal(size=(5, 3))
    res = {}
    for m in (tg, torch):
        w = m.tensor(w0, requires_grad=True)
        g = m.func.vmap(m.func.grad(lambda x: (w * x).sin().sum()))(m.tensor(X))
        g.pow(2).sum().backward()
        res[m] = g.requires_grad, g.detach().numpy(), w.grad.numpy()
        with m.no_grad():   # no graph wanted: tapegrad's batch path
            assert not m.func.vmap(m.func.grad(lambda x: (w * x).sin().sum()))(
                m.tensor(X)).requires_grad
    assert calls == [1] and res[tg][0] is True
    np.testing.assert_allclose(res[tg][1], res[torch][1], rtol=1e-13)
    np.testing.assert_allclose(res[tg][2], res[torch][2], rtol=1e-12)
    # d/dw sum_i sum_j (w_j cos(w_j x_ij))^2, by hand
    c = np.cos(w0 * X)
    np.testing.assert_allclose(
        res[tg][2], (2 * w0 * c * (c - w0 * X * np.sin(w0 * X))).sum(0), rtol=1e-12)


def test_jacfwd_refuses_random_draws_by_default_as_torch():
    """torch's jacfwd is a vmap of jvp: with randomness='error' (its default) a draw inside
    the function raises vmap's error and leaves the generator where it was; 'different'
    computes."""
    torch = pytest.importorskip("torch")

    def run(m):
        x = m.ones(3)
        m.manual_seed(0)
        out = []
        try:
            m.func.jacfwd(lambda x: x * m.rand(3))(x)
        except RuntimeError as e:
            out.append(str(e))
        out.append(m.rand(1).item())
        out.append(tuple(m.func.jacfwd(lambda x: x * m.rand(3), randomness="different")(x).shape))
        out.append(m.func.jacfwd(lambda x: x * 2)(x).tolist())
        return out
    assert run(tg) == run(torch)
