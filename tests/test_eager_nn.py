"""The eager per-op paths with nn.Parameter operands (#8/#12): a Parameter changes no op, so
the n-d fast paths take it as a plain Tensor (counted: the general path is not entered), and
the results, grad_fn names and gradients equal torch's; a subclass of Parameter (which may
override behaviour) still takes the general path."""
import importlib

import numpy as np
import pytest

import tapegrad
from tapegrad import nn

ndops = importlib.import_module("tapegrad.ndops")
torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)
X = RNG.standard_normal((5, 4)).astype(np.float32)
W = RNG.standard_normal((4, 4)).astype(np.float32)
B = RNG.standard_normal(4).astype(np.float32)


class Sub(nn.Parameter):
    """A subclass of Parameter (it could override behaviour): not taken as a plain Tensor."""
    __slots__ = ()


def _count_general(monkeypatch):
    calls = []
    general = ndops._binary_general

    def counting(code, x, y):
        calls.append(code)
        return general(code, x, y)
    monkeypatch.setattr(ndops, "_binary_general", counting)
    return calls


BINARY = [lambda x, p: x + p, lambda x, p: p * x, lambda x, p: x - p, lambda x, p: p / 2.0,
          lambda x, p: 3 * p, lambda x, p: x ** 2 + p]


@pytest.mark.parametrize("k", range(len(BINARY)))
def test_parameter_operands_take_the_fast_path(monkeypatch, k):
    fn = BINARY[k]
    calls = _count_general(monkeypatch)
    x = tapegrad.tensor(X, requires_grad=True)
    p = nn.Parameter(tapegrad.tensor(B))
    out = fn(x, p)
    assert calls == []
    tx = torch.tensor(X, requires_grad=True)
    tp = torch.nn.Parameter(torch.tensor(B))
    ref = fn(tx, tp)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-6)
    assert type(out) is tapegrad.Tensor
    assert type(out.grad_fn).__name__ == type(ref.grad_fn).__name__
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-6)
    assert (x.grad is None) == (tx.grad is None)
    if tx.grad is not None:
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_other_subclasses_take_the_general_path(monkeypatch):
    calls = _count_general(monkeypatch)
    s = Sub(tapegrad.tensor(X))
    assert type(s) is Sub
    out = s * tapegrad.tensor(X)
    assert calls == [ndops.OPS["mul"].code]
    np.testing.assert_allclose(out.detach().numpy(), X * X)


def test_linear_layer_with_parameters_matches_torch():
    """A Linear step on the fast paths: values, grad_fn names, gradients, and a version
    error when a saved parameter is changed in place before backward."""
    grads = []
    for lib in (tapegrad, torch):
        lin = lib.nn.Linear(4, 4)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(W))
            lin.bias.copy_(lib.tensor(B))
        x = lib.tensor(X, requires_grad=True)
        y = lib.nn.functional.mse_loss(lin(x).tanh(), lib.tensor(X))
        assert type(y.grad_fn).__name__ == "MseLossBackward0"
        y.backward()
        grads.append([t.numpy() for t in (x.grad, lin.weight.grad, lin.bias.grad, y.detach())])
        out = lin(x)
        with lib.no_grad():
            lin.weight.mul_(2.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
