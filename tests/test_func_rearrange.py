"""torch.func.rearrange (einops patterns) and torch.func.debug_unwrap: values, gradients,
views and errors as torch's; differential against torch where it is installed."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.func import debug_unwrap, rearrange
from tapegrad.rearrange import DimensionBindError

PATTERNS = [
    ("a b c -> c a b", {}), ("a b c -> a (b c)", {}), ("a (h w) c -> a h w c", {"h": 3}),
    ("a b c -> (a b c)", {}), ("a b c -> a 1 b c", {}), ("... c -> c ...", {}),
    ("a ... -> (a ...)", {}), ("a b c -> a b c", {}), ("a 1 b -> a b", {}),
    ("a b c -> (c a) b", {}), ("(a1 a2) b c -> a1 b c a2", {"a2": 2}),
    ("a ... c -> c ... a", {}), ("a b (c1 c2) -> (c2 a) b c1", {"c1": 2}),
    ("a (b 1) c -> a b c", {}), ("... -> ...", {}), ("a b ... c -> a (b ... c)", {}),
]

ERRORS = [
    ("a (h w) c -> a h w c", {}), ("a (h w) c -> a h w c", {"h": 2}), ("a b -> a b", {}),
    ("a b c -> a b", {}), ("a b c -> a b c", {"z": 3}), ("a b c", {}),
    ("a b c -> a b 2 c", {}), ("a b c -> a b (c", {}), ("a b b -> a b", {}),
    ("a b c -> a b c", {"a": 2.0}), ("a b c -> a b c", {"a": 5}),
    ("a b c -> (a b) ... c", {}), ("a b. c -> c b a", {}), ("a _b c -> a _b c", {}),
    ("a ((b)) c -> a b c", {}), ("a b) c -> a b c", {}), ("a b c -> a b+ c", {}),
    ("(a ...) -> a", {}), ("a 0 b -> a b", {}), ("(a b) c d -> a b c d", {"b": 4}),
    ("a b c d ... -> a b c d", {}),
]


def test_rearrange_without_torch():
    x = tg.arange(24.0).reshape(2, 6, 2).requires_grad_()
    y = rearrange(x, "b (h w) c -> b c h w", h=2)
    ref = np.arange(24.0).reshape(2, 2, 3, 2).transpose(0, 3, 1, 2)
    assert tuple(y.shape) == (2, 2, 2, 3) and np.array_equal(y.detach().numpy(), ref)
    w = tg.arange(24.0).reshape(2, 2, 2, 3)
    (y * w).sum().backward()
    # the gradient is w moved back by the inverse rearrangement
    back = np.arange(24.0).reshape(2, 2, 2, 3).transpose(0, 2, 3, 1).reshape(2, 6, 2)
    assert np.array_equal(x.grad.numpy(), back)
    # a unit axis on the left is summed out whatever its size; a list is stacked first
    assert rearrange(x, "a 1 c -> a c").tolist() == x.detach().sum(1).tolist()
    assert rearrange([tg.ones(2), tg.zeros(2)], "a b -> b a").tolist() == [[1, 0], [1, 0]]
    s = tg.tensor(3.0)
    assert rearrange(s, " -> ") is s and rearrange(s, "... -> ...") is s
    with pytest.raises(DimensionBindError,
                       match=r"cannot infer the sizes of two dimensions at once d1 and d2"):
        rearrange(x, "a (h w) c -> a h w c")


def test_debug_unwrap_returns_the_tensor():
    x = tg.ones(2)
    assert debug_unwrap(x) is x and debug_unwrap(x, recurse=False) is x
    seen = []
    tg.func.vmap(lambda a: seen.append(debug_unwrap(a)) or a)(tg.ones(3, 2))
    assert all(isinstance(t, tg.Tensor) and tuple(t.shape) == (2,) for t in seen)


def test_func_names_as_torch():
    torch = pytest.importorskip("torch")
    assert set(torch.func.__all__) <= set(tg.func.__all__)


@pytest.mark.parametrize("pattern,lengths", PATTERNS)
def test_rearrange_as_torch(pattern, lengths):
    torch = pytest.importorskip("torch")
    out = {}
    for lib in (torch, tg):
        x = lib.arange(24.0, dtype=lib.float64).reshape(2, 3, 4).requires_grad_()
        w = lib.arange(24.0, dtype=lib.float64).reshape(2, 3, 4).cos()
        y = lib.func.rearrange(x, pattern, **lengths)
        g, = lib.autograd.grad((y * lib.func.rearrange(w, pattern, **lengths)).sum(), x)
        out[lib] = y.detach().numpy(), g.numpy(), y._base is not None
    (ty, tgr, tview), (gy, ggr, gview) = out[torch], out[tg]
    assert ty.shape == gy.shape and np.array_equal(ty, gy)
    assert np.allclose(tgr, ggr, rtol=1e-15, atol=0)
    if not tview:   # (a result torch copies is a copy here too)
        assert not gview


@pytest.mark.parametrize("pattern,lengths", ERRORS)
def test_rearrange_errors_as_torch(pattern, lengths):
    torch = pytest.importorskip("torch")
    got = []
    for lib in (torch, tg):
        x = lib.arange(24.0).reshape(2, 3, 4)
        with pytest.raises(Exception) as info:
            lib.func.rearrange(x, pattern, **lengths)
        got.append((type(info.value).__name__, str(info.value)))
    assert got[0] == got[1]
