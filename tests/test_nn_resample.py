"""F.interpolate / F.upsample* and nn.Upsample, nn.UpsamplingNearest2d,
nn.UpsamplingBilinear2d: torch's source positions and weights (float32 bit for bit, with the
fmas GCC compiles torch's kernel into), gradients, grad_fn names, errors, warnings, reprs;
gradcheck in float64.  The torch comparisons import torch inside each test."""
import itertools
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as tnn
import tapegrad.nn.functional as F
from tapegrad.autograd import gradcheck

R = np.random.default_rng(7)

NAMES = {("nearest", 3): "UpsampleNearest1DBackward0", ("nearest", 4): "UpsampleNearest2DBackward0",
         ("nearest", 5): "UpsampleNearest3DBackward0",
         ("nearest-exact", 3): "UpsampleNearestExact1DBackward0",
         ("nearest-exact", 4): "UpsampleNearestExact2DBackward0",
         ("nearest-exact", 5): "UpsampleNearestExact3DBackward0",
         ("linear", 3): "UpsampleLinear1DBackward0", ("bilinear", 4): "UpsampleBilinear2DBackward0",
         ("bicubic", 4): "UpsampleBicubic2DBackward0",
         ("trilinear", 5): "UpsampleTrilinear3DBackward0",
         ("area", 4): "AdaptiveAvgPool2DBackward0", ("area", 5): "AdaptiveAvgPool3DBackward0"}
AA_NAMES = {"bilinear": "UpsampleBilinear2DAaBackward0", "bicubic": "UpsampleBicubic2DAaBackward0",
            "lanczos": "UpsampleLanczos2DAaBackward0"}


# ---- torch-free -------------------------------------------------------------------------------
def test_known_values():
    x = tg.arange(4.0).reshape(1, 1, 2, 2)
    y = F.interpolate(x, scale_factor=2)
    assert y.tolist() == [[[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]]]
    v = tg.tensor([[[0.0, 1.0]]])
    assert F.interpolate(v, size=3, mode="linear", align_corners=True).tolist() == \
        [[[0.0, 0.5, 1.0]]]
    # align_corners=False: sources (i + 0.5) / 2 - 0.5 clamped at 0
    assert F.interpolate(v, size=4, mode="linear").tolist() == [[[0.0, 0.25, 0.75, 1.0]]]
    # nearest takes floor(i * 3 / 5), nearest-exact floor((i + 0.5) * 3 / 5)
    w = tg.tensor([[[10.0, 20.0, 30.0]]])
    assert F.interpolate(w, size=5).tolist() == [[[10, 10, 20, 20, 30]]]
    assert F.interpolate(w, size=5, mode="nearest-exact").tolist() == [[[10, 10, 20, 30, 30]]]
    # bicubic at the same size: weights 0, 1, 0, 0 exactly
    a = tg.tensor(R.standard_normal((1, 2, 3, 4)))
    assert np.array_equal(F.interpolate(a, size=(3, 4), mode="bicubic").numpy(), a.numpy())
    # uint8 bilinear / bicubic: torch's int16 weights, rounded and clamped (bicubic overshoots)
    u = F.interpolate(tg.tensor([[[[0, 100]]]], dtype=tg.uint8), size=(1, 4), mode="bilinear")
    assert u.dtype == tg.uint8 and u.tolist() == [[[[0, 25, 75, 100]]]]
    c = F.interpolate(tg.tensor([[[[0, 255, 0]]]], dtype=tg.uint8), size=(1, 5), mode="bicubic")
    assert c.tolist() == [[[[0, 117, 255, 117, 0]]]]
    # along a kept-size dim torch still adds x * 0: an inf gives a nan there, as in torch
    z = F.interpolate(tg.tensor([[[1.0, float("inf"), 2.0]]]), size=3, mode="linear",
                      align_corners=False).tolist()[0][0]
    assert z[0] == 1.0 and z[1] != z[1] and z[2] == 2.0
    # area: means of windows
    assert F.interpolate(tg.tensor([[[1.0, 3.0, 5.0, 7.0]]]), scale_factor=0.5,
                         mode="area").tolist() == [[[2.0, 6.0]]]


def test_bicubic_weights_sum_to_one_and_gradient_is_adjoint():
    x = tg.tensor(R.standard_normal((1, 1, 5, 6)), requires_grad=True)
    y = F.interpolate(x, size=(9, 4), mode="bicubic", align_corners=False)
    ones = F.interpolate(tg.ones(1, 1, 5, 6, dtype=tg.float64), size=(9, 4), mode="bicubic")
    np.testing.assert_allclose(ones.numpy(), 1.0, rtol=0, atol=1e-14)
    g = tg.tensor(R.standard_normal((1, 1, 9, 4)))
    y.backward(g)
    # <interp(x), g> = <x, interp^T(g)> for a linear map
    lhs = float((y * g).sum())
    rhs = float((x * x.grad).sum())
    assert abs(lhs - rhs) < 1e-12 * max(1.0, abs(lhs))


@pytest.mark.parametrize("mode,nd", sorted(NAMES))
def test_gradcheck_and_names(mode, nd):
    shape = (2, 2) + (3, 4, 2)[:nd - 2]
    x = tg.tensor(R.standard_normal(shape), requires_grad=True)
    sizes = (5, 3, 4)[:nd - 2]
    kw = {} if mode in ("nearest", "nearest-exact", "area") else {"align_corners": False}
    y = F.interpolate(x, size=sizes, mode=mode, **kw)
    assert type(y.grad_fn).__name__ == NAMES[mode, nd]
    assert tuple(y.shape) == shape[:2] + sizes
    assert gradcheck(lambda t: F.interpolate(t, size=sizes, mode=mode, **kw), [x])
    if kw:
        assert gradcheck(lambda t: F.interpolate(t, scale_factor=1.7, mode=mode,
                                                 align_corners=True), [x])


def test_errors():
    x = tg.randn(1, 2, 4, 5)
    with pytest.raises(RuntimeError, match=r"Input and output sizes should be greater than 0, "
                       r"but got input \(H: 4, W: 5\) output \(H: 0, W: 3\)"):
        F.interpolate(x, size=(0, 3))
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, size=3, align_corners=True)
    with pytest.raises(NotImplementedError, match="Got 4D input, but linear mode needs 3D"):
        F.interpolate(x, size=3, mode="linear")
    with pytest.raises(ValueError, match="Lanczos mode requires antialias=True"):
        F.interpolate(x, size=3, mode="lanczos")
    with pytest.raises(NotImplementedError, match="uint8"):
        F.interpolate(x.to(tg.uint8), size=3, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match="Anti-alias option is restricted"):
        F.interpolate(x, size=3, mode="nearest", antialias=True)
    with pytest.raises(TypeError, match="expected size to be one of int"):
        F.interpolate(x, size=(3.0, 3))
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful"):
        F.interpolate(x, size=3, recompute_scale_factor=True)


# a size that is not a sequence goes on as [size] * dims to torch's kernel, whose parser
# refuses a float, a bool or a float tensor (F.interpolate(x, size=2.0) was read as 2)
SIZE_CALLS = [(mode, nd, size, aa) for mode, nd in (
    ("nearest", 3), ("nearest-exact", 4), ("linear", 3), ("bilinear", 4), ("bicubic", 4),
    ("trilinear", 5), ("area", 3), ("nearest", 5))
    for size in ("2.0", "True", "m.tensor(2.)", "np.float64(2)", "m.tensor(2)", "np.int64(2)",
                 "m.tensor([2])", "'a'") for aa in ((False, True) if nd == 4 and mode in (
                     "bilinear", "bicubic") else (False,))]


@pytest.mark.parametrize("mode,nd,size,aa", SIZE_CALLS)
def test_interpolate_size_types_as_torch(mode, nd, size, aa):
    torch = pytest.importorskip("torch")

    def run(m):
        x = m.ones((1, 1) + (3,) * (nd - 2))
        try:
            return tuple(m.nn.functional.interpolate(x, size=eval(size), mode=mode,
                                                     antialias=aa).shape)
        except Exception as e:   # noqa: BLE001  (the error is the behaviour compared)
            return type(e).__name__, str(e)
    assert run(tg) == run(torch)


def test_deprecated_and_modules():
    x = tg.randn(1, 1, 3, 3)
    with pytest.warns(UserWarning, match="`nn.functional.upsample` is deprecated"):
        a = F.upsample(x, scale_factor=2)
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        b = F.upsample_bilinear(x, size=5)
    with pytest.warns(UserWarning, match="upsample_nearest` is deprecated"):
        F.upsample_nearest(x, size=5)
    assert np.array_equal(a.numpy(), F.interpolate(x, scale_factor=2).numpy())
    assert np.array_equal(b.numpy(), F.interpolate(x, size=5, mode="bilinear",
                                                    align_corners=True).numpy())
    assert repr(tnn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(tnn.Upsample(size=(3, 4), mode="bilinear")) == \
        "Upsample(size=(3, 4), mode='bilinear')"
    assert repr(tnn.UpsamplingBilinear2d(size=3)) == "UpsamplingBilinear2d(size=3, mode='bilinear')"
    m = tnn.UpsamplingNearest2d(scale_factor=2.5)
    assert repr(m) == "UpsamplingNearest2d(scale_factor=2.5, mode='nearest')"
    assert tuple(m(x).shape) == (1, 1, 7, 7)
    assert type(tnn.UpsamplingBilinear2d(scale_factor=2)(x).grad_fn).__name__ in (
        "NoneType",)   # x needs no grad
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # torch 2.13 no longer warns about align_corners
        F.interpolate(x, size=4, mode="bilinear")


# ---- against torch ----------------------------------------------------------------------------
def _grid():
    cases = []
    for mode, nd in [("nearest", 3), ("nearest", 4), ("nearest", 5), ("nearest-exact", 3),
                     ("nearest-exact", 4), ("nearest-exact", 5), ("linear", 3),
                     ("bilinear", 4), ("bicubic", 4), ("trilinear", 5), ("area", 4)]:
        acs = [None] if mode in ("nearest", "nearest-exact", "area") else [False, True]
        specs = [("size", 1), ("size", 4), ("size", 9), ("scale_factor", 0.5),
                 ("scale_factor", 1.7), ("scale_factor", 3.0), ("scale_factor", 1 / 3)]
        if mode == "bilinear":   # torch's generic kernel past out_h + out_w > 128
            specs += [("size", (70, 66)), ("size", (64, 64)), ("size", (3, 130))]
        for ins, spec, ac in itertools.product((3, 7), specs, acs):
            if isinstance(spec[1], tuple) and nd != 4:
                continue
            cases.append((mode, nd, ins, spec, ac))
    return cases


def _call(M, a, dtype, mode, spec, ac, rsf=None, grads=True):
    x = M.tensor(a, dtype=getattr(M, dtype), requires_grad=grads)
    kw = {spec[0]: spec[1], "mode": mode, "align_corners": ac}
    if rsf is not None:
        kw["recompute_scale_factor"] = rsf
    y = M.nn.functional.interpolate(x, **kw)
    w = np.cos(np.arange(y.numel())).reshape(tuple(y.shape)) + 1.5
    (g,) = M.autograd.grad(y, [x], M.tensor(w, dtype=y.dtype))
    return y.detach().numpy(), g.numpy(), type(y.grad_fn).__name__


def test_interpolate_against_torch():
    torch = pytest.importorskip("torch")
    exact = total = 0
    for i, (mode, nd, ins, spec, ac) in enumerate(_grid()):
        shape = (2, 3) + tuple(ins + j for j in range(nd - 2))
        if isinstance(spec[1], tuple):
            shape = (1, 2, 5, 6)
        a = R.standard_normal(shape)
        for dtype in ("float32", "float64"):
            rsf = (None, True)[i % 2] if spec[0] == "scale_factor" else None
            yt, gt, nt = _call(torch, a, dtype, mode, spec, ac, rsf)
            yg, gg, ng = _call(tg, a, dtype, mode, spec, ac, rsf)
            assert nt == ng, (mode, spec)
            assert yt.shape == yg.shape and yt.dtype == yg.dtype, (mode, spec)
            if dtype == "float32" and mode != "area":
                # torch's positions, weights and sums bit for bit
                assert np.array_equal(yt, yg), (mode, nd, ins, spec, ac)
            else:
                np.testing.assert_allclose(yg, yt, rtol=1e-6 if dtype == "float32" else 1e-14,
                                           atol=1e-7 if dtype == "float32" else 1e-14)
            exact += np.array_equal(yt, yg)
            total += 1
            np.testing.assert_allclose(gg, gt, rtol=1e-5 if dtype == "float32" else 1e-12,
                                       atol=1e-5 if dtype == "float32" else 1e-12)
    assert total > 300 and exact > total // 2


def test_uint8_and_empty_batch_against_torch():
    torch = pytest.importorskip("torch")
    a = R.integers(0, 255, (1, 2, 3, 5)).astype(np.uint8)
    for mode in ("nearest", "nearest-exact"):
        yt = torch.nn.functional.interpolate(torch.tensor(a), size=(4, 7), mode=mode)
        yg = F.interpolate(tg.tensor(a), size=(4, 7), mode=mode)
        assert yg.dtype == tg.uint8 and np.array_equal(yt.numpy(), yg.numpy())
    # bilinear / bicubic of uint8: torch's int16 weights and rounding, bit for bit (channels
    # <= 4: torch's AVX kernel; 5: its generic one)
    for mode, c, ac, spec in itertools.product(("bilinear", "bicubic"), (1, 3, 5),
                                               (False, True),
                                               ((8, 11), (2, 3), (4, 5), 1.7, 0.45)):
        a = R.integers(0, 256, (2, c, 4, 5)).astype(np.uint8)
        kw = {"size": spec} if isinstance(spec, tuple) else {"scale_factor": spec}
        yt = torch.nn.functional.interpolate(torch.tensor(a), mode=mode, align_corners=ac, **kw)
        yg = F.interpolate(tg.tensor(a), mode=mode, align_corners=ac, **kw)
        assert yg.dtype == tg.uint8 and np.array_equal(yt.numpy(), yg.numpy()), (mode, c, spec)
    e = np.zeros((0, 2, 4, 5), np.float32)
    assert tuple(F.interpolate(tg.tensor(e), size=3, mode="bilinear").shape) == \
        tuple(torch.nn.functional.interpolate(torch.tensor(e), size=3, mode="bilinear").shape)


def _outcome(M, fn):
    try:
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            y = fn(M)
        return ("ok", tuple(y.shape), [str(w.message) for w in ws])
    except Exception as e:      # noqa: BLE001
        return (type(e).__name__, str(e))


def test_errors_and_warnings_against_torch():
    torch = pytest.importorskip("torch")
    a = R.standard_normal((1, 2, 4, 5)).astype(np.float32)

    def on(f):
        return lambda M: f(M, M.tensor(a), M.nn.functional)
    calls = [
        on(lambda M, x, F_: F_.interpolate(x, size=(0, 3))),
        on(lambda M, x, F_: F_.interpolate(x, size=(0, 3), mode="bilinear")),
        on(lambda M, x, F_: F_.interpolate(x, scale_factor=0.1, mode="bilinear")),
        on(lambda M, x, F_: F_.interpolate(x, scale_factor=-1.0)),
        on(lambda M, x, F_: F_.interpolate(x, size=3, mode="linear")),
        on(lambda M, x, F_: F_.interpolate(x, size=3, mode="trilinear")),
        on(lambda M, x, F_: F_.interpolate(x, size=3, mode="foo")),
        on(lambda M, x, F_: F_.interpolate(x, size=3, align_corners=True)),
        on(lambda M, x, F_: F_.interpolate(x, size=3, scale_factor=2)),
        on(lambda M, x, F_: F_.interpolate(x)),
        on(lambda M, x, F_: F_.interpolate(x, size=(3, 3, 3))),
        on(lambda M, x, F_: F_.interpolate(x, scale_factor=(2.0,))),
        on(lambda M, x, F_: F_.interpolate(x, size=3, recompute_scale_factor=True)),
        on(lambda M, x, F_: F_.interpolate(x, size=3, mode="nearest", antialias=True)),
        on(lambda M, x, F_: F_.interpolate(x.reshape(2, 10), size=3)),
        on(lambda M, x, F_: F_.interpolate(x[0, 0].reshape(1, 1, 20), size=3,
                                           mode="bilinear")),
        on(lambda M, x, F_: F_.upsample(x, size=3)),
        on(lambda M, x, F_: F_.upsample_nearest(x, size=3)),
        on(lambda M, x, F_: F_.upsample_bilinear(x, size=3)),
        on(lambda M, x, F_: F_.interpolate(x, size=4, mode="bilinear")),
    ]
    for c in calls:
        assert _outcome(tg, c) == _outcome(torch, c)


def test_modules_against_torch():
    torch = pytest.importorskip("torch")
    a = R.standard_normal((2, 3, 4, 5)).astype(np.float32)
    for args, kw in [((), {"scale_factor": 2}), ((), {"size": (3, 7), "mode": "bilinear"}),
                     ((), {"scale_factor": (1.5, 2), "mode": "bicubic",
                           "align_corners": True}),
                     ((5,), {}), ((), {"scale_factor": 0.5, "mode": "area"})]:
        mt, mg = torch.nn.Upsample(*args, **kw), tnn.Upsample(*args, **kw)
        assert repr(mt) == repr(mg)
        # (area: adaptive average pooling, to float32 rounding)
        np.testing.assert_allclose(mg(tg.tensor(a)).numpy(), mt(torch.tensor(a)).numpy(),
                                   rtol=0 if kw.get("mode") != "area" else 1e-6, atol=0)
    for cls in ("UpsamplingNearest2d", "UpsamplingBilinear2d"):
        for kw in ({"size": 6}, {"scale_factor": 2.5}, {"size": (3, 9)}):
            mt, mg = getattr(torch.nn, cls)(**kw), getattr(tnn, cls)(**kw)
            assert repr(mt) == repr(mg)
            assert np.array_equal(mt(torch.tensor(a)).numpy(), mg(tg.tensor(a)).numpy())


def test_replay_matches_eager(tmp_path):
    """A recorded model with upsampling (the gathers and weights are constants of the tape)
    replays at new inputs as eager, also from a tape file."""
    tg.manual_seed(2)
    net = tnn.Sequential(tnn.Conv2d(2, 2, 3, padding=1), tnn.Upsample(scale_factor=1.5,
                                                                      mode="bicubic"),
                         tnn.UpsamplingBilinear2d(size=(9, 70)), tnn.Upsample(size=(4, 5)))

    def f(x):
        return net(x).square().sum()
    x0 = R.standard_normal((2, 2, 5, 6)).astype(np.float32)
    rec = tg.record(f, tg.tensor(x0))
    rec.save(tmp_path / "up.tape")
    for x in (x0, R.standard_normal((2, 2, 5, 6)).astype(np.float32)):
        v, (g,) = tg.load_tape(tmp_path / "up.tape").value_and_grad(x)
        xe = tg.tensor(x, requires_grad=True)
        loss = f(xe)
        loss.backward()
        np.testing.assert_allclose(float(v), loss.item(), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(g), xe.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_non_finite_inputs_against_torch():
    """torch's kernels read the zero-weight neighbours too (also along a dim whose size is
    kept): an inf there makes a nan, the same elements as torch's."""
    torch = pytest.importorskip("torch")
    for mode, nd in [("nearest", 4), ("linear", 3), ("bilinear", 4), ("bicubic", 4),
                     ("trilinear", 5)]:
        for sizes in [(5, 9, 4), (5, 5, 5), (70, 70, 3)]:
            a = R.standard_normal((1, 2) + (5,) * (nd - 2))
            a.reshape(-1)[[3, 7]] = [np.inf, np.nan]
            kw = {} if mode == "nearest" else {"align_corners": False}
            s = sizes[:nd - 2]
            yt = torch.nn.functional.interpolate(torch.tensor(a, dtype=torch.float32), size=s,
                                                 mode=mode, **kw).numpy()
            yg = F.interpolate(tg.tensor(a, dtype=tg.float32), size=s, mode=mode, **kw).numpy()
            assert np.array_equal(yt, yg, equal_nan=True), (mode, s)


def _nan_pattern(a):
    return "".join("N" if v != v else "I" if abs(v) == np.inf else "." for v in a.reshape(-1))


# (an output width of 1 with the height resized is torch_antialias_width_1 in
# test_fuzz_nn.py's KNOWN: torch repeats the first output row there, so none below)
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, size", [((1, 1, 1, 5), (1, 3)), ((1, 1, 2, 7), (3, 2)),
                                         ((1, 1, 3, 3), (5, 4)), ((1, 1, 5, 1), (5, 3)),
                                         ((1, 2, 4, 4), (3, 2))])
def test_antialias_non_finite_input_against_torch(mode, dtype, shape, size):
    """Antialiasing sums each position's used terms alone: the unused ones, weight 0 at xmin,
    made nan of an inf there (fuzz_nn seeds 205, 26538, 28192, ...), where torch's forward
    skips them; its backward does not (a nan gradient times the zero weights: the same
    elements as torch's where every dim is resized; test_fuzz_nn's
    antialias_kept_dim_backward_window where one is kept)."""
    torch = pytest.importorskip("torch")
    n = int(np.prod(shape))
    got = {}
    for m in (tg, torch):
        dt = getattr(m, dtype)
        outs = []
        for p, v in itertools.product(range(n), (np.inf, -np.inf, np.nan)):
            a = np.linspace(0.5, 1.5, n)
            a[p] = v
            x = m.tensor(a, dtype=dt).reshape(shape).requires_grad_()
            y = m.nn.functional.interpolate(x, size=size, mode=mode, antialias=True)
            y.backward(m.ones_like(y))
            outs.append((_nan_pattern(y.detach().numpy()), _nan_pattern(x.grad.numpy())))
        for q in range(int(np.prod(size)) * shape[1] if shape[2] != size[0] else 0):
            x = m.ones(shape, dtype=dt, requires_grad=True)
            y = m.nn.functional.interpolate(x, size=size, mode=mode, antialias=True)
            g = m.zeros(y.numel(), dtype=dt)
            g[q] = np.nan
            y.backward(g.reshape(y.shape))
            outs.append(_nan_pattern(x.grad.numpy()))
        got[m] = outs
    assert got[tg] == got[torch]


def _train(M, state, x, target):
    """A tiny decoder (Conv2d, InstanceNorm2d, ReLU, Upsample, Conv2d) trained with SGD
    from the given weights: its losses."""
    net = M.nn.Sequential(M.nn.Conv2d(2, 3, 3, padding=1), M.nn.InstanceNorm2d(3, affine=True),
                          M.nn.ReLU(), M.nn.Upsample(scale_factor=2, mode="bilinear"),
                          M.nn.Conv2d(3, 1, 3, padding=1)).double()
    net.load_state_dict({k: M.tensor(v) for k, v in state.items()})
    opt = M.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = M.nn.functional.mse_loss(net(M.tensor(x)), M.tensor(target))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_small_decoder_trains_as_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1),
                              torch.nn.InstanceNorm2d(3, affine=True), torch.nn.ReLU(),
                              torch.nn.Upsample(scale_factor=2, mode="bilinear"),
                              torch.nn.Conv2d(3, 1, 3, padding=1)).double()
    state = {k: v.detach().numpy().copy() for k, v in ref.state_dict().items()}
    x = R.standard_normal((2, 2, 5, 6))
    target = R.standard_normal((2, 1, 10, 12))
    lt, lg = _train(torch, state, x, target), _train(tg, state, x, target)
    np.testing.assert_allclose(lg, lt, rtol=1e-10)
    assert lg[-1] < lg[0]


# ---- antialias --------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", sorted(AA_NAMES))
def test_antialias_gradcheck_names_and_weights(mode):
    """PIL's filters stretched by the scale when downsampling, normalized: ones stay ones."""
    x = tg.tensor(R.standard_normal((1, 2, 9, 4)), requires_grad=True)
    for size in ((3, 7), (4, 2)):
        y = F.interpolate(x, size=size, mode=mode, antialias=True)
        assert type(y.grad_fn).__name__ == AA_NAMES[mode]
        assert gradcheck(lambda t: F.interpolate(t, size=size, mode=mode, antialias=True), [x])
        ones = F.interpolate(tg.ones(1, 1, 9, 4, dtype=tg.float64), size=size, mode=mode,
                             antialias=True)
        np.testing.assert_allclose(ones.numpy(), 1.0, rtol=0, atol=1e-14)


@pytest.mark.parametrize("mode", sorted(AA_NAMES))
@pytest.mark.parametrize("spec", [{"size": (3, 2)}, {"size": (5, 11)}, {"scale_factor": 0.3},
                                  {"scale_factor": (0.5, 2.3)}, {"size": (7, 5)},
                                  {"scale_factor": 0.45, "recompute_scale_factor": False}])
@pytest.mark.parametrize("align_corners", [False, True])
def test_antialias_against_torch(torch_ref, mode, spec, align_corners):
    """Values and gradients of torch's _upsample_bilinear2d_aa / _upsample_bicubic2d_aa /
    _upsample_lanczos2d_aa: its float32 weights bit for bit (the sums, and Lanczos' sines, to
    round-off), down- and upsampling."""
    if mode == "lanczos" and align_corners:
        _raises_as_torch(torch_ref, lambda M: M.nn.functional.interpolate(
            M.ones(1, 1, 4, 4), size=2, mode=mode, antialias=True, align_corners=True))
        return
    a = R.standard_normal((2, 3, 16, 13))
    for dtype in ("float32", "float64"):
        yt, gt, nt = _call_aa(torch_ref, a, dtype, mode, spec, align_corners)
        yg, gg, ng = _call_aa(tg, a, dtype, mode, spec, align_corners)
        assert ng == nt and yg.shape == yt.shape and yg.dtype == yt.dtype
        tol = 1e-5 if dtype == "float32" else 1e-13
        np.testing.assert_allclose(yg, yt, rtol=tol, atol=tol)
        np.testing.assert_allclose(gg, gt, rtol=tol, atol=tol)
    # the weights, read off an identity along the width, are torch's in float32 exactly
    eye = np.eye(13, dtype="float32").reshape(1, 13, 1, 13)
    w = [M.nn.functional.interpolate(M.tensor(eye), size=(1, 5), mode=mode, antialias=True,
                                     align_corners=align_corners).numpy()
         for M in (torch_ref, tg)]
    if mode == "lanczos":
        np.testing.assert_allclose(w[1], w[0], rtol=0, atol=1e-7)
    else:
        assert np.array_equal(w[1], w[0])


def _raises_as_torch(torch_ref, fn):
    with pytest.raises(Exception) as ref:
        fn(torch_ref)
    with pytest.raises(type(ref.value), match=str(ref.value)):
        fn(tg)


def _call_aa(M, a, dtype, mode, spec, align_corners):
    x = M.tensor(a.astype(dtype), requires_grad=True)
    y = M.nn.functional.interpolate(x, mode=mode, antialias=True, align_corners=align_corners,
                                    **spec)
    w = np.cos(np.arange(y.numel())).reshape(tuple(y.shape)) + 1.5
    (g,) = M.autograd.grad(y, [x], M.tensor(w, dtype=y.dtype))
    return y.detach().numpy(), g.numpy(), type(y.grad_fn).__name__


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_antialias_to_the_same_size_is_a_copy(torch_ref, mode):
    """Both dims unchanged: torch's kernel copies into a new tensor (its node, an identity
    gradient), never hands back the input itself."""
    res = []
    for M in (torch_ref, tg):
        x = M.tensor(R.standard_normal((1, 2, 4, 3)), requires_grad=True)
        y = M.nn.functional.interpolate(x, size=(4, 3), mode=mode, antialias=True)
        (g,) = M.autograd.grad(y, [x], M.full(tuple(y.shape), 2.0, dtype=y.dtype))
        res.append((y is x, type(y.grad_fn).__name__, y.detach().numpy() - x.detach().numpy(),
                    g.numpy()))
    assert res[1][:2] == res[0][:2]
    np.testing.assert_array_equal(res[1][2], res[0][2])
    np.testing.assert_array_equal(res[1][3], res[0][3])


def test_antialias_to_width_one_is_the_two_passes():
    """To an output width of 1 (height resized too) torch 2.13's forward repeats the first
    row (its gradient is the adjoint of the right map; gradcheck fails): tapegrad resizes the
    width, then the height, as torch does for any other size."""
    x = tg.tensor(R.standard_normal((1, 2, 9, 7)))
    y = F.interpolate(x, size=(4, 1), mode="bilinear", antialias=True)
    two = F.interpolate(F.interpolate(x, size=(9, 1), mode="bilinear", antialias=True),
                        size=(4, 1), mode="bilinear", antialias=True)
    np.testing.assert_allclose(y.numpy(), two.numpy(), rtol=1e-14)
    assert not np.allclose(y.numpy()[:, :, 0], y.numpy()[:, :, 1])


@pytest.mark.parametrize("scale", [(1.1, 1.1), (0.999, 1.001), (1.001, 1.5), (2.1, 1.1),
                                   (2.1, 2.1), (1.2, 2.0)])
@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8"])
def test_nearest_2d_same_and_double_size_shortcuts(torch_ref, scale, dtype):
    """torch's 2-d nearest kernel copies where a dim keeps its size and halves where it
    doubles, whatever the scale factor (floor(i / 1.1) would repeat row 0): values and
    gradients."""
    a = np.arange(2 * 3 * 7 * 5).reshape(2, 3, 7, 5).astype(dtype)
    res = []
    for M in (torch_ref, tg):
        x = M.tensor(a, requires_grad=dtype != "uint8")
        y = M.nn.functional.interpolate(x, scale_factor=scale, mode="nearest")
        if dtype == "uint8":
            res.append((y.numpy(),))
            continue
        (g,) = M.autograd.grad(y, [x], M.tensor(np.cos(np.arange(y.numel())).reshape(
            tuple(y.shape)), dtype=y.dtype))
        res.append((y.detach().numpy(), g.numpy()))
    np.testing.assert_array_equal(res[1][0], res[0][0])
    if dtype != "uint8":    # (the adds of the scatter in another order)
        np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-6, atol=1e-6)
