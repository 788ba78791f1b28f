"""Max unpooling (F.max_unpool1d/2d/3d, nn.MaxUnpool1d/2d/3d) against torch 2.13: values and
gradients in float32 and float64 over a grid of kernel, stride, padding and output_size forms
(spatial, with the batch and channel dims, list, tuple, Size), batched and unbatched inputs,
the round trip max_pool -> max_unpool (overlapping windows too), grad_fn names and
next_functions, module reprs, torch's errors; gradcheck / gradgradcheck; replay."""
import re

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck, gradgradcheck

from replay_check import assert_replays_as_eager

torch = pytest.importorskip("torch")

R = np.random.default_rng(20)


def _names(y):
    """grad_fn's name and the names down the first edges (to the leaf)."""
    out, fn = [], y.grad_fn
    while fn is not None:
        out.append(type(fn).__name__.replace("torch::autograd::", ""))
        fn = fn.next_functions[0][0] if fn.next_functions else None
    return out


def _size(M, v):
    """An output_size written as in a case: ("Size", [...]) becomes M.Size."""
    if isinstance(v, tuple) and v and v[0] == "Size":
        return M.Size(v[1])
    return v


def _round_trip(M, k, x0, pool, unpool, output_size, dtype):
    """x -> max_pool{k}d(return_indices) -> (* 3, a new leaf) -> max_unpool{k}d: the unpooled
    values, the gradients of the pooled input (leaf p) and of x, the grad_fn chain."""
    F = M.nn.functional
    dt = getattr(M, dtype)
    x = M.tensor(x0, dtype=dt, requires_grad=True)
    o, idx = getattr(F, f"max_pool{k}d")(x, return_indices=True, **pool)
    p = M.tensor(o.detach().numpy() * 3 - 1, dtype=dt, requires_grad=True)
    y = getattr(F, f"max_unpool{k}d")(p, idx, output_size=_size(M, output_size), **unpool)
    z = getattr(F, f"max_unpool{k}d")(o, idx, output_size=_size(M, output_size), **unpool)
    w = M.tensor(np.sin(np.arange(y.numel()) * 0.37).reshape(tuple(y.shape)), dtype=dt)
    ((y * w).sum() + (z * w * w).sum()).backward()
    return (y.detach().numpy(), z.detach().numpy(), p.grad.numpy(), x.grad.numpy(),
            _names(y), _names(z), str(y.dtype).split(".")[-1], idx.numpy())


# (k, input shape, max_pool kwargs, max_unpool kwargs, output_size)
GRID = [
    (2, (2, 3, 8, 8), dict(kernel_size=2), dict(kernel_size=2), None),
    (2, (2, 3, 9, 7), dict(kernel_size=2), dict(kernel_size=2), [9, 7]),
    (2, (2, 3, 9, 7), dict(kernel_size=2), dict(kernel_size=2), [2, 3, 9, 7]),
    (2, (2, 3, 9, 7), dict(kernel_size=2), dict(kernel_size=2), ("Size", [2, 3, 9, 7])),
    (2, (2, 3, 9, 7), dict(kernel_size=2), dict(kernel_size=2), ("Size", [9, 7])),
    (2, (3, 9, 7), dict(kernel_size=2), dict(kernel_size=2), (9, 7)),
    (2, (3, 8, 6), dict(kernel_size=2), dict(kernel_size=2), None),
    (2, (1, 2, 7, 9), dict(kernel_size=(3, 2), stride=(2, 1), padding=1),
     dict(kernel_size=(3, 2), stride=(2, 1), padding=1), [7, 9]),
    (2, (1, 2, 7, 9), dict(kernel_size=3, stride=2, padding=1),
     dict(kernel_size=3, stride=2, padding=1), None),
    (2, (2, 2, 6, 6), dict(kernel_size=3, stride=1), dict(kernel_size=3, stride=1), None),
    (2, (2, 2, 6, 6), dict(kernel_size=2, dilation=2), dict(kernel_size=3, stride=2), [6, 6]),
    (1, (2, 3, 9), dict(kernel_size=2), dict(kernel_size=2), None),
    (1, (2, 3, 9), dict(kernel_size=2), dict(kernel_size=2), [9]),
    (1, (2, 3, 9), dict(kernel_size=2), dict(kernel_size=2), ("Size", [2, 3, 9])),
    (1, (3, 9), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=2,
                                                              padding=1), (9,)),
    (1, (3, 10), dict(kernel_size=3, stride=1), dict(kernel_size=3, stride=1), None),
    (1, (2, 3, 11), dict(kernel_size=(4,), stride=(3,)), dict(kernel_size=(4,), stride=[3]),
     [12]),
    (3, (2, 2, 4, 4, 6), dict(kernel_size=2), dict(kernel_size=2), None),
    (3, (2, 2, 4, 5, 6), dict(kernel_size=2), dict(kernel_size=2), [4, 5, 6]),
    (3, (2, 2, 4, 5, 6), dict(kernel_size=2), dict(kernel_size=2), ("Size", [2, 2, 4, 5, 6])),
    (3, (2, 4, 5, 6), dict(kernel_size=(1, 2, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
     dict(kernel_size=(1, 2, 3), stride=(1, 2, 2), padding=(0, 1, 1)), (4, 5, 6)),
    (3, (1, 1, 4, 4, 5), dict(kernel_size=2, stride=1), dict(kernel_size=2, stride=1), None),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k,shape,pool,unpool,output_size", GRID)
def test_max_unpool_as_torch(k, shape, pool, unpool, output_size, dtype):
    x0 = R.standard_normal(shape)
    ours = _round_trip(tg, k, x0, pool, unpool, output_size, dtype)
    theirs = _round_trip(torch, k, x0, pool, unpool, output_size, dtype)
    np.testing.assert_array_equal(ours[7], theirs[7])          # max_pool's indices
    assert ours[4:7] == theirs[4:7]                             # grad_fn chains, dtype
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-13, atol=1e-13)
    for a, b in zip(ours[:4], theirs[:4]):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, **tol)


def test_round_trip_keeps_the_maxima_and_zeros_the_rest():
    x = tg.tensor([[[1., 2, 3, 4, 5, 6, 7, 8, 9]]])
    pool = tg.nn.MaxPool1d(2, stride=2, return_indices=True)
    unpool = tg.nn.MaxUnpool1d(2, stride=2)
    out, idx = pool(x)
    assert unpool(out, idx).tolist() == [[[0., 2, 0, 4, 0, 6, 0, 8]]]
    assert unpool(out, idx, output_size=x.size()).tolist() == [[[0., 2, 0, 4, 0, 6, 0, 8, 0]]]
    x = tg.tensor(np.abs(R.standard_normal((2, 3, 6, 6))) + 0.1)
    out, idx = tg.nn.functional.max_pool2d(x, 2, return_indices=True)
    back = tg.nn.functional.max_unpool2d(out, idx, 2)
    kept = back.numpy() != 0
    assert kept.sum() == out.numel()
    np.testing.assert_array_equal(back.numpy()[kept], x.numpy()[kept])
    np.testing.assert_array_equal(tg.nn.functional.max_pool2d(back, 2).numpy(), out.numpy())


def test_gradient_is_the_output_gradient_at_the_indices_also_where_they_repeat():
    """torch's backward gathers the output's gradient at every element's index, also for an
    element another one overwrote (overlapping windows); the forward keeps one value."""
    idx = [[[0, 2, 2, 5, 0]]]
    v = np.array([[[1.0, 2.0, 3.0, 4.0, 5.0]]])
    res = []
    for M in (tg, torch):
        p = M.tensor(v, requires_grad=True)
        y = M.nn.functional.max_unpool1d(p, M.tensor(idx), 2, 1)
        g = M.tensor(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape)))
        (y * g).sum().backward()
        res.append((y.detach().numpy(), p.grad.numpy()))
    np.testing.assert_array_equal(res[0][1], res[1][1])
    np.testing.assert_array_equal(res[0][1], [[[1.0, 3.0, 3.0, 6.0, 1.0]]])
    # (the value kept where an index repeats: torch's serial loop writes the last)
    np.testing.assert_array_equal(res[0][0], [[[5.0, 0.0, 3.0, 0.0, 0.0, 4.0]]])
    assert set(np.unique(res[1][0])) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}


def test_repeated_indices_with_infinities_and_nan():
    """An overwritten element that is not finite changes nothing in the output, and keeps its
    gradient (torch's backward gathers the output's gradient at every index)."""
    v = np.array([[[np.inf, -np.inf, np.nan, 2.0]]])
    p = tg.tensor(v, requires_grad=True)
    y = tg.nn.functional.max_unpool1d(p, tg.tensor([[[1, 1, 1, 3]]]), 2)
    np.testing.assert_array_equal(y.detach().numpy(), [[[0.0, np.nan, 0.0, 2.0, 0.0, 0.0, 0.0,
                                                          0.0]]])
    y.sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [[[1.0, 1.0, 1.0, 1.0]]])


def test_input_needing_no_gradient_and_empty_outputs_as_torch():
    for M in (tg, torch):
        F = M.nn.functional
        o, i = F.max_pool2d(M.tensor(R.standard_normal((1, 2, 4, 4))), 2, return_indices=True)
        assert F.max_unpool2d(o, i, 2).grad_fn is None
    res = []
    for M in (tg, torch):
        F = M.nn.functional
        p = M.tensor(np.ones((2, 3, 1, 1)), requires_grad=True)
        y = F.max_unpool2d(p, M.tensor(np.zeros((2, 3, 1, 1), np.int64)), 3, stride=4,
                           output_size=[0, 2])
        e = F.max_unpool2d(M.zeros(0, 3, 2, 2), M.zeros(0, 3, 2, 2, dtype=M.int64), 2)
        il = F.max_unpool2d(M.zeros(0, 3, 2, 2, dtype=M.int64),
                            M.zeros(0, 3, 2, 2, dtype=M.int64), 2)
        res.append((tuple(y.shape), type(y.grad_fn).__name__, tuple(e.shape),
                    tuple(il.shape), str(il.dtype).split(".")[-1]))
    assert res[0] == res[1]


def test_gradcheck_and_gradgradcheck():
    F = tg.nn.functional
    x = tg.tensor(R.standard_normal((2, 2, 5, 6)))
    o, i = F.max_pool2d(x, 2, return_indices=True)
    p = o.detach().requires_grad_()
    assert gradcheck(lambda a: F.max_unpool2d(a, i, 2, output_size=[5, 6]), [p])
    assert gradgradcheck(lambda a: F.max_unpool2d(a, i, 2, output_size=[5, 6]), [p])
    x = tg.tensor(R.standard_normal((2, 7)), requires_grad=True)
    assert gradcheck(lambda a: F.max_unpool1d(*F.max_pool1d(a, 3, 3, 1, return_indices=True),
                                              3, 3, 1, output_size=[7]), [x])
    x = tg.tensor(R.standard_normal((1, 2, 4, 4, 4)), requires_grad=True)
    assert gradcheck(lambda a: F.max_unpool3d(*F.max_pool3d(a, 2, return_indices=True), 2),
                     [x])
    assert gradgradcheck(lambda a: F.max_unpool3d(*F.max_pool3d(a, 2, return_indices=True),
                                                  2) * a, [x])


def test_create_graph_gradient_as_torch():
    res = []
    for M in (tg, torch):
        F = M.nn.functional
        p = M.tensor(np.array([[[[1.0, -2.0], [0.5, 3.0]]]]), requires_grad=True)
        y = F.max_unpool2d(p, M.tensor([[[[0, 3], [9, 15]]]]), 2)
        w = M.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
        (g,) = M.autograd.grad((y * y * w).sum(), p, create_graph=True)
        (gw,) = M.autograd.grad(g.sum(), w)
        res.append((g.detach().numpy(), gw.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0])
    np.testing.assert_allclose(res[0][1], res[1][1])


def test_recorded_unpooling_replays_as_eager_and_guards_its_maxima():
    F = tg.nn.functional

    def f(x):
        # (overlapping windows: repeated indices.  x * 1.0: max_pool2d of the recorded input
        # itself records no guard on its maxima today)
        o, i = F.max_pool2d(x * 1.0, 3, 1, return_indices=True)
        return (F.max_unpool2d(o * 2.0, i, 3, 1) * x).sum()
    x0 = R.standard_normal((1, 2, 5, 5))
    rec = tg.record(f, tg.tensor(x0))
    x1 = x0 + 1e-6 * R.standard_normal(x0.shape)
    assert_replays_as_eager(rec, f, x1, 1e-12, 1e-12, 1e-12)
    with pytest.raises(tg.replay.BranchChanged):
        rec.value_and_grad(R.standard_normal(x0.shape))


# ---- modules ---------------------------------------------------------------------------------
REPRS = """
for m in [nn.MaxUnpool1d(2), nn.MaxUnpool1d(3, 2, 1), nn.MaxUnpool1d((3,), stride=[2]),
          nn.MaxUnpool2d(2), nn.MaxUnpool2d((2, 3)), nn.MaxUnpool2d(2, stride=1, padding=(1, 0)),
          nn.MaxUnpool3d(2), nn.MaxUnpool3d([2, 1, 1], 1), nn.MaxUnpool3d(3, (1, 2, 2), 1)]:
    print(m, m.kernel_size, m.stride, m.padding, list(m.state_dict()), list(m.parameters()))
print(nn.Sequential(nn.MaxUnpool2d(2), nn.ReLU()))
"""


def _exec(src, M):
    out = []
    exec(src, {"nn": M.nn, "print": lambda *a: out.append(" ".join(map(str, a)))})
    return [s.replace("torch.", "tapegrad.") for s in out]


def test_module_reprs_and_attributes_as_torch():
    assert _exec(REPRS, tg) == _exec(REPRS, torch)


@pytest.mark.parametrize("k,shape,kw,size", [
    (1, (2, 3, 9), dict(kernel_size=2), [9]), (1, (3, 8), dict(kernel_size=3, stride=1), None),
    (2, (2, 3, 7, 7), dict(kernel_size=2), ("Size", [2, 3, 7, 7])),
    (2, (3, 5, 5), dict(kernel_size=3, stride=2, padding=1), None),
    (3, (1, 2, 4, 4, 5), dict(kernel_size=2), [4, 4, 5]),
])
def test_modules_as_torch(k, shape, kw, size):
    x0 = R.standard_normal(shape)
    res = []
    for M in (tg, torch):
        x = M.tensor(x0, requires_grad=True)
        o, i = getattr(M.nn, f"MaxPool{k}d")(return_indices=True, **kw)(x)
        unpool = getattr(M.nn, f"MaxUnpool{k}d")(**kw)
        y = unpool(o, i) if size is None else unpool(o, i, output_size=_size(M, size))
        (y * y).sum().backward()
        res.append((y.detach().numpy(), x.grad.numpy(), type(y.grad_fn).__name__))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-13)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-13)
    assert res[0][2] == res[1][2]


def test_public_names():
    for name in ("max_unpool1d", "max_unpool2d", "max_unpool3d"):
        assert name in tg.nn.functional.__all__
        assert callable(getattr(tg.nn.functional, name))
    for name in ("MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"):
        assert getattr(tg.nn, name).__name__ == name
        assert name in tg.nn.modules.__all__


# ---- errors ----------------------------------------------------------------------------------
ERRORS = [
    # torch's Python front end: output_size's length and range, negative sizes
    "F.max_unpool2d(o, i, 2, output_size=[20, 20])",
    "F.max_unpool2d(o, i, 2, output_size=[9, 5])",
    "F.max_unpool2d(o, i, 2, output_size=[5, 7])",
    "F.max_unpool2d(o, i, 2, output_size=(30, 30))",
    "F.max_unpool2d(o, i, 2, output_size=m.Size([2, 3, 30, 30]))",
    "F.max_unpool2d(o, i, 2, output_size=[8])",
    "F.max_unpool2d(o, i, 2, output_size=[3, 9, 9])",
    "F.max_unpool2d(o, i, 2, output_size=m.Size([3, 8, 8]))",
    "F.max_unpool2d(o, i, 2, output_size=7)",
    "F.max_unpool2d(o, i, 2, padding=5)",
    "F.max_unpool2d(o[:, :, :1, :1], i[:, :, :1, :1] * 0, 3, stride=4, padding=2, "
    "output_size=[-1, 2])",
    "F.max_unpool2d(o, i, (2, 2, 2))",
    "F.max_unpool1d(o1, i1, 2, output_size=[40])",
    "F.max_unpool1d(o1[0], i1[0], 2, output_size=[3, 8])",
    "F.max_unpool1d(o1, i1, 2, output_size=m.Size([2, 3, 30]))",
    "F.max_unpool3d(o3, i3, 2, output_size=[2, 2])",
    "F.max_unpool3d(o3, i3, 2, output_size=[2, 2, 2, 2])",
    "F.max_unpool3d(o3, i3, 1, output_size=[2, 4, 4])",
    # the C++ op's argument parsing and checks, in torch's order
    "F.max_unpool2d(o, i, 2, output_size=[7.0, 7])",
    "F.max_unpool2d(o, i, 2, output_size=[7, 7.0])",
    "F.max_unpool2d(o, [1], 2)",
    "F.max_unpool2d([1], i, 2)",
    "F.max_unpool2d(o, i.float(), 2)",
    "F.max_unpool2d(o, i.int(), 2)",
    "F.max_unpool2d(o[None], i.float(), 2)",
    "F.max_unpool2d(o[None], i[None], [2])",
    "F.max_unpool2d(o, i, [2])",
    "F.max_unpool2d(o[0, 0], i[0, 0], 2)",
    "F.max_unpool2d(o[None], i[None], 2)",
    "F.max_unpool2d(o, i[:, :, :3], 2)",
    "F.max_unpool2d(o, i[:1], 2)",
    "F.max_unpool2d(o.long(), i[:1], 2)",
    "F.max_unpool2d(o[:, :0], i[:, :0], 2)",
    "F.max_unpool2d(o[:, :, :0], i[:, :, :0], 2)",
    "F.max_unpool2d(o.long(), i, 2)",
    "F.max_unpool2d(o.long()[:, :0], i[:, :0], 2)",
    "F.max_unpool1d(o1[0, 0], i1[0, 0], 2)",
    "F.max_unpool1d(o1, i1[:, :, :2], 2)",
    "F.max_unpool1d(o1.long(), i1, 2)",
    "F.max_unpool3d(o3, i3.float(), 2)",
    "F.max_unpool3d(o3[0, 0], i3[0, 0], 2)",
    "F.max_unpool3d(o3[0, 0], i3[0, 0].float(), 2)",
    "F.max_unpool3d(o3[0], i3[0], (2, 2))",
    "F.max_unpool3d(o3, i3, (2, 2))",
    "F.max_unpool3d(o3, i3, (2, 2, 2), stride=(1, 1, 1, 1))",
    "F.max_unpool3d(o3, i3, (2, 2, 2), padding=(0, 0, 0, 0))",
    "F.max_unpool3d(o3, i3[:, :1], (2, 2, 2), padding=(0, 0, 0, 0))",
    "F.max_unpool3d(o3, i3[:, :1], 2)",
    "F.max_unpool3d(o3, i3[:, :1], 2, stride=0)",
    "F.max_unpool3d(o3, i3, 2, stride=0)",
    "F.max_unpool3d(o3[:, :0], i3[:, :0], 2, stride=0)",
    "F.max_unpool3d(o3.long(), i3, 2)",
    "F.max_unpool3d(o3.long()[:, :, :0], i3[:, :, :0], 2)",
    # indices out of range (one invalid index: torch's threads report any of several)
    "F.max_unpool2d(o, setidx(i, 1, 64), 2)",
    "F.max_unpool2d(o, setidx(i, 5, -1), 2)",
    "F.max_unpool2d(o[0], setidx(i[0], 7, 100), 2)",
    "F.max_unpool1d(o1, setidx(i1, 3, 8), 2)",
    "F.max_unpool1d(o1[0], setidx(i1[0], 0, -3), 2, output_size=[1, 3, 8])",
    "F.max_unpool3d(o3, setidx(i3, 2, 64), 2)",
    "F.max_unpool3d(o3[0], setidx(i3[0], 2, 1000), 2, output_size=[4, 4, 5])",
    "F.max_unpool3d(o3, setidx(i3, 4, -7), 2, output_size=m.Size([2, 2, 5, 4, 4]))",
    # modules
    "nn.MaxUnpool2d(2)(o, i, output_size=[12, 12])",
    "nn.MaxUnpool1d(2)(o1, i1, [5, 5])",
    "nn.MaxUnpool3d(2)(o3, i3.float())",
    "list(nn.MaxUnpool2d(2)(o, i, [9, 9]).shape)",
]


def _setidx(M):
    def setidx(t, k, v):
        a = t.numpy().copy()
        a.reshape(-1)[k] = v
        return M.tensor(a)
    return setidx


def _errors(M):
    F = M.nn.functional
    x = M.tensor(R.standard_normal((2, 3, 8, 8)).astype(np.float32))
    o, i = F.max_pool2d(x, 2, return_indices=True)
    o1, i1 = F.max_pool1d(M.tensor(x.numpy()[:, :, 0]), 2, return_indices=True)
    x3 = M.tensor(np.float32(R.standard_normal((2, 2, 4, 4, 4))))
    o3, i3 = F.max_pool3d(x3, 2, return_indices=True)
    env = {"m": M, "F": F, "nn": M.nn, "o": o, "i": i, "o1": o1, "i1": i1, "o3": o3, "i3": i3,
           "setidx": _setidx(M)}
    out = []
    for src in ERRORS:
        try:
            r = eval(src, env)
            out.append(f"{src}: {r if isinstance(r, list) else 'no error'}")
        except Exception as e:  # noqa: BLE001  (compared with torch's)
            out.append(f"{src}: {type(e).__name__}: {e}".replace("torch.", "tapegrad."))
    return out


def test_errors_as_torch():
    state = R.bit_generator.state
    ours = _errors(tg)
    R.bit_generator.state = state
    theirs = _errors(torch)
    assert len(ours) == len(ERRORS)
    for a, b in zip(ours, theirs):
        assert a == b
    assert sum("no error" in s for s in theirs) == 0, [s for s in theirs if "no error" in s]
    assert all(re.search(r": [A-Za-z]+(Error|Exception): ", s) or s.endswith("]")
               for s in ours)
