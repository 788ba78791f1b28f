"""func.functional_call on modules with tied weights (one tensor under several names):
tie_weights replaces every name of a tied tensor, strict counts each name, the errors for
tied names given different tensors, tensors the module assigns written back into the dict;
closed forms without torch, and the same programs against torch where it is installed."""
import numpy as np
import pytest

import tapegrad as tg


def _tied(L):
    """b(a(x)) with b's weight a's (and a buffer the forward reassigns)."""
    class M(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = L.nn.Linear(2, 2, bias=False)
            self.b = L.nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight
            self.register_buffer("steps", L.zeros(()))

        def forward(self, x):
            self.steps = self.steps + 1
            return self.b(self.a(x))
    return M()


def _outcome(fn):
    try:
        r = fn()
    except Exception as e:      # noqa: BLE001  (compared with torch's)
        return type(e).__name__, str(e).replace("torch.", "T.").replace("tapegrad.", "T.")
    return np.asarray(r.detach().numpy())


def test_one_name_of_a_tied_weight_replaces_all():
    m = _tied(tg)
    x = tg.tensor([1.0, -2.0], dtype=tg.float64)
    W = tg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tg.float64)
    own = m.a.weight.detach().double()
    m.double()
    for name in ("a.weight", "b.weight"):
        out = tg.func.functional_call(m, {name: W}, (x,))
        np.testing.assert_allclose(out.numpy(), (W @ W @ x).numpy())
    untied = tg.func.functional_call(m, {"a.weight": W}, (x,), tie_weights=False)
    np.testing.assert_allclose(untied.detach().numpy(), (own @ W @ x).numpy())
    assert m.b.weight is m.a.weight         # the tie is back after the call
    np.testing.assert_array_equal(m.a.weight.detach().numpy(), own.numpy())


def test_grad_through_a_tied_weight_is_both_uses():
    """d/dW 1'WWx = 1(Wx)' + W'1x': the gradient of both uses, as a plain tensor."""
    m = _tied(tg).double()
    x = tg.tensor([1.0, -2.0], dtype=tg.float64)
    W = tg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tg.float64)
    g = tg.func.grad(lambda p: tg.func.functional_call(m, p, (x,)).sum())({"a.weight": W})
    one = np.ones(2)
    Wn, xn = W.numpy(), x.numpy()
    np.testing.assert_allclose(g["a.weight"].numpy(),
                               np.outer(one, Wn @ xn) + np.outer(Wn.T @ one, xn))
    assert not g["a.weight"].requires_grad and g["a.weight"].grad_fn is None


def test_tied_names_strict_and_errors():
    m = _tied(tg)
    W = tg.eye(2)
    x = tg.ones(2)
    with pytest.raises(ValueError, match=r"functional_call got multiple values for keys "
                       r"\['a.weight', 'b.weight'\], which are tied. Consider using "
                       r"tie_weights=False"):
        tg.func.functional_call(m, {"a.weight": W, "b.weight": W.clone()}, (x,))
    same = tg.func.functional_call(m, {"a.weight": W, "b.weight": W}, (x,))
    np.testing.assert_array_equal(same.numpy(), x.numpy())
    # strict counts each name of a tied tensor: filled in by the tie, missing without it
    tg.func.functional_call(m, {"a.weight": W, "steps": tg.zeros(())}, (x,), strict=True)
    with pytest.raises(RuntimeError, match=r"Missing key\(s\): 'b.weight'\."):
        tg.func.functional_call(m, {"a.weight": W, "steps": tg.zeros(())}, (x,),
                                strict=True, tie_weights=False)


def test_assigned_buffer_written_back_into_the_dict():
    m = _tied(tg)
    given = {"steps": tg.tensor(5.0)}
    tg.func.functional_call(m, given, (tg.ones(2),))
    assert given["steps"].item() == 6.0 and m.steps.item() == 0.0


def _programs(L):
    out = []
    L.manual_seed(0)
    m = _tied(L)
    x = L.ones(2)
    W = 2 * L.eye(2)
    out.append(_outcome(lambda: L.func.functional_call(m, {"a.weight": W}, (x,))))
    out.append(_outcome(lambda: L.func.functional_call(m, {"b.weight": W}, (x,),
                                                       tie_weights=False)))
    out.append(_outcome(lambda: L.func.functional_call(m, {"a.weight": W, "b.weight": W * 1},
                                                       (x,))))
    out.append(_outcome(lambda: L.func.functional_call(m, {"a.weight": W}, (x,), strict=True)))
    out.append(_outcome(lambda: L.func.functional_call(m, {"a.weight": W, "zz": W}, (x,),
                                                       strict=True, tie_weights=False)))
    out.append(_outcome(lambda: L.func.functional_call(m, {"q.weight": W}, (x,))))
    out.append(_outcome(lambda: L.func.functional_call(m, {"a.weight": 3}, (x,))))
    out.append(m.steps.item())          # no forward ran for the calls that raised

    class LM(L.nn.Module):              # an embedding tied to the output layer
        def __init__(self):
            super().__init__()
            self.emb = L.nn.Embedding(5, 3)
            self.head = L.nn.Linear(3, 5, bias=False)
            self.head.weight = self.emb.weight

        def forward(self, idx):
            return self.head(self.emb(idx))
    lm = LM().double()
    idx = L.tensor([1, 3])

    def loss(p):
        return L.func.functional_call(lm, p, (idx,)).logsumexp(-1).sum()
    for params in ({k: v.detach() for k, v in lm.named_parameters()},
                   dict(lm.named_parameters()), {"head.weight": lm.emb.weight.detach()}):
        g = L.func.grad(loss)(params)
        out.append(sorted(g))
        for v in g.values():
            out += [v.requires_grad, _outcome(lambda: v)]
    return out


def test_tied_functional_call_as_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _programs(tg), _programs(torch)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-6 if b.dtype == np.float32 else 1e-12)
        else:
            assert a == b
