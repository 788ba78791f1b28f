"""RMSNorm / F.rms_norm against torch 2.13: the same weights copied across, outputs and the
gradients of inputs and weights in float32 and float64, grad_fn chains, gradcheck in float64,
reprs, state dicts, errors.

Known difference: F.rms_norm's eps add shows AddBackward0 (torch: AddBackward1, its add of a
number)."""
import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
TOL = {"float32": 2e-5, "float64": 1e-11}


def _pair(shape, dtype="float64", grad=True):
    a = RNG.standard_normal(shape).astype(dtype)
    return (torch.tensor(a, requires_grad=grad), tg.tensor(a, requires_grad=grad))


def _close(t, g, dtype):
    """Equal to rounding: the tolerance relative to the largest entry (float32 sums of a few
    terms of size ~30 lose ~1e-5 absolute)."""
    a = t.detach().numpy()
    scale = max(1.0, float(np.abs(a).max())) if a.size else 1.0
    np.testing.assert_allclose(g.detach().numpy(), a, rtol=TOL[dtype], atol=TOL[dtype] * scale)


def _chain(fn, depth):
    """grad_fn names depth-first to `depth` levels (edges to no node left out: tapegrad's
    add of a number keeps one for the number)."""
    if fn is None or depth == 0:
        return None
    kids = [_chain(f, depth - 1) for f, _ in fn.next_functions if f is not None]
    return (type(fn).__name__, kids)


def _copy(tmod, gmod):
    gmod.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()})


# ---- rms_norm ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,ns,eps,weight", [((2, 3, 4), (4,), None, True),
                                                 ((2, 3, 4), [3, 4], 1e-3, True),
                                                 ((5, 4), [4], None, False),
                                                 ((3,), (3,), 0.5, True)])
def test_rms_norm_functional(dtype, shape, ns, eps, weight):
    xt, xg = _pair(shape, dtype)
    wshape = tuple(ns)
    wt, wg = _pair(wshape, dtype) if weight else (None, None)
    yt = torch.nn.functional.rms_norm(xt, ns, wt, eps)
    yg = tg.nn.functional.rms_norm(xg, ns, wg, eps)
    assert yg.dtype == getattr(tg, dtype) and tuple(yg.shape) == tuple(yt.shape)
    _close(yt, yg, dtype)
    g = RNG.standard_normal(shape).astype(dtype)
    (yt * torch.tensor(g)).sum().backward()
    (yg * tg.tensor(g)).sum().backward()
    _close(xt.grad, xg.grad, dtype)
    if weight:
        _close(wt.grad, wg.grad, dtype)
    rename = {"AddBackward1": "AddBackward0"}
    ct = str(_chain(yt.grad_fn, 6))
    for a, b in rename.items():
        ct = ct.replace(a, b)
    assert str(_chain(yg.grad_fn, 6)) == ct


def test_rms_norm_default_eps_is_dtype_eps():
    x = tg.tensor([[1e-5, -1e-5, 2e-5]], dtype=tg.float32)
    y = tg.nn.functional.rms_norm(x, (3,))
    y_eps = tg.nn.functional.rms_norm(x, (3,), eps=tg.finfo(tg.float32).eps)
    assert np.array_equal(y.numpy(), y_eps.numpy())
    xt = torch.tensor(x.numpy())
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.rms_norm(xt, (3,)).numpy(),
                               rtol=1e-6)


def test_rms_norm_errors():
    for ns, err in [((4,), RuntimeError), ((2, 4), RuntimeError), ((5, 2, 3), ValueError),
                    (3, TypeError)]:
        msgs = []
        for M in (torch, tg):
            with pytest.raises(err) as e:
                M.nn.functional.rms_norm(M.zeros(2, 3), ns)
            msgs.append(str(e.value))
        assert msgs[0] == msgs[1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rms_norm_module(dtype):
    for args, kw in [((4,), {}), (([3, 4],), {"eps": 1e-4}), ((4,), {"elementwise_affine": False})]:
        tm = torch.nn.RMSNorm(*args, dtype=getattr(torch, dtype), **kw)
        gm = tg.nn.RMSNorm(*args, dtype=getattr(tg, dtype), **kw)
        assert repr(gm) == repr(tm)
        assert list(gm.state_dict()) == list(tm.state_dict())
        assert gm.eps == tm.eps and gm.normalized_shape == tm.normalized_shape
        if tm.weight is not None:
            assert np.array_equal(gm.weight.detach().numpy(), tm.weight.detach().numpy())
            with torch.no_grad():
                tm.weight.normal_()
            _copy(tm, gm)
            assert gm.weight.dtype == getattr(tg, dtype)
        xt, xg = _pair((2, 3, 4), dtype)
        yt, yg = tm(xt), gm(xg)
        _close(yt, yg, dtype)
        yt.pow(2).sum().backward()
        yg.pow(2).sum().backward()
        _close(xt.grad, xg.grad, dtype)
        if tm.weight is not None:
            _close(tm.weight.grad, gm.weight.grad, dtype)


def test_rms_norm_gradcheck():
    x = tg.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    w = tg.tensor(RNG.standard_normal(3), requires_grad=True)
    assert tg.autograd.gradcheck(lambda a, b: tg.nn.functional.rms_norm(a, (3,), b, 1e-3),
                                 (x, w))
