"""F.fractional_max_pool2d / 3d and nn.FractionalMaxPool2d / 3d against torch: values and
indices bit for bit on random layouts and both dtypes (the windows' starts are computed in
the input's dtype, as torch's kernel does), gradients to float32 rounding, the default samples drawn from the
same generator draws as torch's, nan windows, reprs, torch's errors, and replay with its
guard."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")


def _run(m, k, X, pool, out, U, dtype, grad=True):
    x = m.tensor(X, dtype=getattr(m, dtype), requires_grad=grad)
    f = getattr(m.nn.functional, f"fractional_max_pool{k}d")
    y, idx = f(x, pool, output_size=out, return_indices=True,
               _random_samples=m.tensor(U, dtype=getattr(m, dtype)))
    g = np.cos(np.arange(y.numel(), dtype=np.float64)).reshape(tuple(y.shape))
    y.backward(m.tensor(g, dtype=getattr(m, dtype)))
    return y.detach().numpy(), idx.numpy(), x.grad.numpy(), type(y.grad_fn).__name__


@pytest.mark.parametrize("k", [2, 3])
def test_random_layouts_bit_for_bit_as_torch(k):
    rng = np.random.default_rng(k)
    for trial in range(25):
        batch = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if trial % 3 else \
            (int(rng.integers(1, 3)),)
        sizes = tuple(int(rng.integers(3, 9)) for _ in range(k))
        pool = tuple(int(rng.integers(1, min(4, s))) for s in sizes)
        # (torch's 2-d check allows out + pool - 1 == size, its 3-d one not)
        out = tuple(int(rng.integers(1, s - p + 1 + (k == 2))) for s, p in zip(sizes, pool))
        X = np.round(rng.normal(size=batch + sizes), 1)    # (ties: the first maximum)
        U = rng.random((batch[0] if len(batch) == 2 else 1, batch[-1], k))
        dtype = ("float32", "float64")[trial % 2]
        ours = _run(tg, k, X, pool, out, U, dtype)
        theirs = _run(torch, k, X, pool, out, U, dtype)
        np.testing.assert_array_equal(ours[0], theirs[0])
        np.testing.assert_array_equal(ours[1], theirs[1])
        # (overlapping windows picking one element: its gradients add in the float64 arena,
        # torch's in float32)
        np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6 if dtype == "float32" else 0)
        assert ours[3] == theirs[3]


def test_nan_windows_and_repeated_picks_as_torch():
    X = np.array([[[[1.0, np.nan, 3.0, 0.5], [np.nan, 2.0, -np.inf, 9.0],
                    [-np.inf, -np.inf, 4.0, 4.0]]]])
    for dtype in ("float32", "float64"):
        ours = _run(tg, 2, X, (2, 2), (2, 3), np.array([[[0.9, 0.1]]]), dtype)
        theirs = _run(torch, 2, X, (2, 2), (2, 3), np.array([[[0.9, 0.1]]]), dtype)
        for a, b in zip(ours[:3], theirs[:3]):
            np.testing.assert_array_equal(a, b)


def test_default_samples_and_modules_as_torch():
    X = np.random.default_rng(1).normal(size=(2, 3, 7, 8))
    res = []
    for m in (torch, tg):
        m.manual_seed(5)
        pool = m.nn.FractionalMaxPool2d(2, output_ratio=(0.5, 0.6), return_indices=True)
        x = m.tensor(X, dtype=m.float32)
        y, i = pool(x)
        y2 = pool(x)[0]                          # new draws per call
        y3 = m.nn.functional.fractional_max_pool2d(x[0], 3, output_size=3)
        z = m.nn.FractionalMaxPool3d((2, 2, 3), output_size=(2, 3, 2))(
            m.tensor(X[:, :, None].repeat(4, 2)))
        fixed = m.nn.FractionalMaxPool2d(2, output_size=3, _random_samples=m.full(
            (2, 3, 2), 0.25))
        res.append([y.numpy(), i.numpy(), y2.numpy(), y3.numpy(), z.numpy(),
                    fixed(x).numpy(), repr(pool), list(dict(fixed.named_buffers())),
                    pool.kernel_size, pool.output_ratio, pool.output_size])
    for a, b in zip(*res):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


ERRORS = [
    lambda m: m.nn.FractionalMaxPool2d(2),
    lambda m: m.nn.FractionalMaxPool2d(2, output_size=2, output_ratio=0.5),
    lambda m: m.nn.FractionalMaxPool2d(2, output_ratio=1.5),
    lambda m: m.nn.FractionalMaxPool3d(2, output_ratio=(0.5, 0.0, 0.5)),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 1, 5, 6), 2),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 1, 5, 6), 2, output_ratio=0.5),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 1, 5, 6), 2, output_size=5),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 1, 5, 6), (1, 2),
                                                    output_size=(5, 6)),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 1, 5, 6), 2, output_size=(3,)),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 1, 5, 6), (2, 2, 2),
                                                    output_size=2),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 1, 1, 5, 6), 2, output_size=2,
                                                    _random_samples=m.rand(1, 1, 2)),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 0, 5, 6), 2, output_size=2,
                                                    _random_samples=m.rand(1, 0, 2)),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(2, 1, 5, 6), 2, output_size=2,
                                                    _random_samples=m.rand(1, 1, 2)),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 2, 5, 6), 2, output_size=2,
                                                    _random_samples=m.rand(1, 3, 2)),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 2, 5, 6), 2, output_size=2,
                                                    _random_samples=m.rand(1, 2, 3)),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 2, 5, 6), 2, output_size=2,
                                                    _random_samples=m.rand(2, 2)),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 2, 5, 6), 2, output_size=2,
                                                    _random_samples=m.rand(1, 2, 2).double()),
    lambda m: m.nn.functional.fractional_max_pool2d(m.ones(1, 1, 5, 6), 2, output_size=-1,
                                                    _random_samples=m.rand(1, 1, 2)),
    lambda m: m.nn.functional.fractional_max_pool3d(m.ones(1, 1, 5, 5, 5), 2, output_size=4),
    lambda m: m.nn.functional.fractional_max_pool3d(m.ones(1, 1, 5, 5, 5), 2,
                                                    output_size=(3, 4, 4)),
    lambda m: m.nn.functional.fractional_max_pool3d(m.ones(1, 1, 5, 5, 5), 2,
                                                    output_size=(3, 3, 4)),
    lambda m: m.nn.functional.fractional_max_pool3d(m.ones(3, 4, 5), 2, output_size=2,
                                                    _random_samples=m.rand(1, 3, 3)),
    lambda m: m.nn.functional.fractional_max_pool3d(m.ones(1, 1, 5, 5, 5), (2, 2),
                                                    output_size=2),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_as_torch(i):
    assert_same_error(ERRORS[i], torch)


def test_empty_batch_and_output_as_torch():
    for args in ((2, (2, 2)), (2, (0, 0))):
        res = []
        for m in (torch, tg):
            x = m.ones(0 if args[1] == (2, 2) else 1, 2, 5, 6)
            y = m.nn.functional.fractional_max_pool2d(
                x, args[0], output_size=args[1], _random_samples=m.rand(1, 2, 2))
            res.append(tuple(y.shape))
        assert res[0] == res[1]


def test_replay_follows_torch_and_guards_the_maxima():
    U = tg.tensor([[[0.3, 0.8]]], dtype=tg.float64)

    def f(x):
        return tg.nn.functional.fractional_max_pool2d(x, 2, output_size=(2, 3),
                                                      _random_samples=U).pow(2).sum()
    X = np.random.default_rng(4).normal(size=(1, 1, 5, 6))
    rec = tg.record(f, tg.tensor(X))
    value, (g,) = rec.value_and_grad(X * 1.5)        # the maxima stay where they were
    xt = torch.tensor(X * 1.5, requires_grad=True)
    out = torch.nn.functional.fractional_max_pool2d(
        xt, 2, output_size=(2, 3), _random_samples=torch.tensor(U.numpy())).pow(2).sum()
    out.backward()
    assert value == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12)
    with pytest.raises(tg.BranchChanged):
        rec.value_and_grad(-X)
