"""F.affine_grid and F.grid_sample (spatial transformers): values and gradients with respect
to the input, the grid and theta against torch for every mode, padding mode, align_corners
and both float dtypes (float32 bit for bit where the kernel's arithmetic is reproduced), grids
with points on the borders, outside [-1, 1] and non-finite; finite differences and second
derivatives; grad_fn names and edges; torch's errors and warnings; record and replay.  The
torch comparisons import torch inside each test."""
import itertools
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd import gradcheck, gradgradcheck

from replay_check import assert_replays_as_eager

R = np.random.default_rng(11)
MODES = ("bilinear", "nearest", "bicubic")
PADS = ("zeros", "border", "reflection")


def _grid(shape, dtype="float64", spread=3.0):
    """Random points in [-spread / 2, spread / 2] (many outside [-1, 1]) and, first, points
    exactly on the borders and the centre."""
    g = (R.random(shape) * spread - spread / 2).astype(dtype)
    flat = g.reshape(-1, shape[-1])
    special = [-1.0, 1.0, 0.0, -1.0, 1.0, 0.5, -0.5]
    for i, v in enumerate(special):
        flat[i] = v
        flat[i + len(special), 0] = v
        flat[i + len(special), 1] = -v
    return g


# ---- torch-free -------------------------------------------------------------------------------
def test_identity_and_known_values():
    x = tg.tensor(R.standard_normal((2, 3, 4, 5)))
    eye = tg.tensor([[[1.0, 0, 0], [0, 1, 0]]] * 2, dtype=tg.float64)
    for ac in (False, True):
        grid = F.affine_grid(eye, (2, 3, 4, 5), align_corners=ac)
        assert tuple(grid.shape) == (2, 4, 5, 2)
        for mode in MODES:
            y = F.grid_sample(x, grid, mode=mode, align_corners=ac)
            np.testing.assert_allclose(y.numpy(), x.numpy(), rtol=0, atol=1e-12)
    # align_corners: the corners at -1 and 1; otherwise the pixel centres of [-1, 1]
    g = F.affine_grid(eye[:1], (1, 1, 2, 3), align_corners=True)
    assert g[0, 0].tolist() == [[-1.0, -1.0], [0.0, -1.0], [1.0, -1.0]]
    g = F.affine_grid(eye[:1], (1, 1, 1, 2), align_corners=False)
    assert g[0, 0].tolist() == [[-0.5, 0.0], [0.5, 0.0]]
    v = tg.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    at = tg.tensor([[[[0.0, 0.0], [-1.0, -1.0], [3.0, 0.0]]]])
    assert F.grid_sample(v, at, align_corners=True).tolist() == [[[[2.5, 1.0, 0.0]]]]
    assert F.grid_sample(v, at, padding_mode="border", align_corners=True).tolist() == \
        [[[[2.5, 1.0, 3.0]]]]
    # reflection: x = 3 is reflected about the border 1 onto -1
    assert F.grid_sample(v, at, padding_mode="reflection", align_corners=True).tolist() == \
        [[[[2.5, 1.0, 2.0]]]]


@pytest.mark.parametrize("mode,pad,ac", [(m, p, a) for m in ("bilinear", "bicubic")
                                         for p in PADS for a in (False, True)])
def test_gradcheck_2d(mode, pad, ac):
    x = tg.tensor(R.standard_normal((1, 2, 3, 4)), requires_grad=True)
    g = tg.tensor(R.random((1, 3, 2, 2)) * 2.6 - 1.3, requires_grad=True)
    assert gradcheck(lambda a, b: F.grid_sample(a, b, mode=mode, padding_mode=pad,
                                                align_corners=ac), [x, g])


@pytest.mark.parametrize("pad,ac", list(itertools.product(PADS, (False, True))))
def test_gradcheck_3d_and_nearest(pad, ac):
    x = tg.tensor(R.standard_normal((1, 2, 2, 3, 3)), requires_grad=True)
    g = tg.tensor(R.random((1, 2, 2, 1, 3)) * 2.6 - 1.3, requires_grad=True)
    assert gradcheck(lambda a, b: F.grid_sample(a, b, padding_mode=pad, align_corners=ac),
                     [x, g])
    x2 = tg.tensor(R.standard_normal((1, 2, 3, 4)), requires_grad=True)
    g2 = tg.tensor(R.random((1, 3, 2, 2)) * 2.6 - 1.3, requires_grad=True)
    assert gradcheck(lambda a: F.grid_sample(a, g2, mode="nearest", padding_mode=pad,
                                             align_corners=ac), [x2])


def test_gradgradcheck_and_affine_grid_gradcheck():
    x = tg.tensor(R.standard_normal((1, 2, 3, 4)), requires_grad=True)
    g = tg.tensor(R.random((1, 2, 3, 2)) * 2.2 - 1.1, requires_grad=True)
    for pad in PADS:
        assert gradgradcheck(lambda a, b: F.grid_sample(a, b, padding_mode=pad,
                                                        align_corners=False), [x, g])
    th = tg.tensor(R.standard_normal((2, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 4), align_corners=False), [th])
    th3 = tg.tensor(R.standard_normal((1, 3, 4)), requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, (1, 1, 2, 3, 4), align_corners=True), [th3])


def test_nearest_grid_gradient_is_zeros_and_names():
    x = tg.tensor(R.standard_normal((1, 2, 3, 4)), requires_grad=True)
    g = tg.tensor(_grid((1, 3, 5, 2)), requires_grad=True)
    y = F.grid_sample(x, g, mode="nearest", align_corners=False)
    y.sum().backward()
    assert g.grad is not None and not g.grad.numpy().any()
    assert type(y.grad_fn).__name__ == "GridSampler2DBackward0"
    assert [type(f).__name__ for f, _ in y.grad_fn.next_functions] == ["AccumulateGrad"] * 2
    # an input without gradient: torch's empty edge first
    z = F.grid_sample(x.detach(), g, align_corners=False)
    assert z.grad_fn.next_functions[0] == (None, 0)
    th = tg.tensor(R.standard_normal((1, 3, 4)), requires_grad=True)
    grid = F.affine_grid(th, (1, 2, 2, 3, 4), align_corners=False)
    assert type(grid.grad_fn).__name__ == "AffineGridGeneratorBackward0"
    assert type(F.grid_sample(tg.tensor(R.standard_normal((1, 2, 2, 3, 4))), grid,
                              align_corners=False).grad_fn).__name__ == "GridSampler3DBackward0"


def test_replay_matches_eager(tmp_path):
    """A recorded spatial transformer replays as eager: at new inputs with the grid constant,
    and at a new theta that moves no sampled corner; one that moves them raises
    BranchChanged (the corner positions are constants of the tape, guarded)."""
    x0 = R.standard_normal((2, 3, 6, 7)).astype(np.float32)
    g0 = tg.tensor(_grid((2, 5, 4, 2), "float32", 2.4))
    for mode, pad in itertools.product(MODES, PADS):
        def f(x, mode=mode, pad=pad):
            return F.grid_sample(x, g0, mode=mode, padding_mode=pad,
                                 align_corners=False).square().sum()
        rec = tg.record(f, tg.tensor(x0))
        assert_replays_as_eager(rec, f, R.standard_normal(x0.shape).astype(np.float32),
                                1e-5, 1e-4, 1e-5)
    xc = tg.tensor(x0)
    th0 = np.array([[[0.9, 0.2, 0.1], [-0.1, 1.1, 0.05]]] * 2, np.float32)

    def h(th):
        grid = F.affine_grid(th, (2, 3, 5, 4), align_corners=False)
        return F.grid_sample(xc, grid, padding_mode="reflection",
                             align_corners=False).square().sum()
    rec = tg.record(h, tg.tensor(th0))
    rec.save(tmp_path / "stn.tape")
    loaded = tg.load_tape(tmp_path / "stn.tape")
    for r in (rec, loaded):
        assert_replays_as_eager(r, h, th0, 1e-5, 1e-4, 1e-5)
        assert_replays_as_eager(r, h, th0 + np.float32(1e-5), 1e-5, 1e-4, 1e-5)
        with pytest.raises(tg.BranchChanged):
            r.value_and_grad(th0 + np.float32(0.3))


def test_empty_shapes():
    for n, c, oh in ((0, 2, 3), (2, 0, 3), (2, 2, 0)):
        x = tg.zeros((n, c, 3, 4), requires_grad=True)
        y = F.grid_sample(x, tg.zeros((n, oh, 5, 2)), align_corners=False)
        assert tuple(y.shape) == (n, c, oh, 5)
        y.sum().backward()
        assert tuple(x.grad.shape) == (n, c, 3, 4)


# ---- against torch ----------------------------------------------------------------------------
def _sample(M, x, g, go, mode, pad, ac, dtype):
    xt = M.tensor(x, dtype=getattr(M, dtype), requires_grad=True)
    gt = M.tensor(g, dtype=getattr(M, dtype), requires_grad=True)
    y = M.nn.functional.grid_sample(xt, gt, mode=mode, padding_mode=pad, align_corners=ac)
    gx, gg = M.autograd.grad(y, [xt, gt], M.tensor(go, dtype=y.dtype))
    return (y.detach().numpy(), gx.numpy(), gg.numpy(), type(y.grad_fn).__name__,
            [type(f).__name__ for f, _ in y.grad_fn.next_functions])


def test_grid_sample_against_torch():
    torch = pytest.importorskip("torch")
    exact = total = 0
    cases = [(m, p, a, 4) for m in MODES for p in PADS for a in (False, True)]
    cases += [(m, p, a, 5) for m in ("bilinear", "nearest") for p in PADS for a in (False, True)]
    for mode, pad, ac, nd in cases:
        for dtype in ("float32", "float64"):
            shape = (2, 3, 5, 7) if nd == 4 else (2, 3, 3, 4, 5)
            gshape = (2, 6, 9, 2) if nd == 4 else (2, 2, 5, 4, 3)
            x = R.standard_normal(shape)
            g = _grid(gshape, dtype)
            oshape = shape[:2] + gshape[1:-1]
            go = R.standard_normal(oshape)
            yt, xt, gt, nt, et = _sample(torch, x, g, go, mode, pad, ac, dtype)
            yg, xg, gg, ng, eg = _sample(tg, x, g, go, mode, pad, ac, dtype)
            assert (ng, eg) == (nt, et)
            assert yg.shape == yt.shape and yg.dtype == yt.dtype
            bitwise = mode != "bicubic" and (dtype == "float32" or nd == 5 or mode == "nearest")
            if bitwise:   # torch's coordinates, positions and sums (its fmas) bit for bit
                assert np.array_equal(yg, yt), (mode, pad, ac, nd, dtype)
            tol = 1e-5 if dtype == "float32" else 1e-12
            np.testing.assert_allclose(yg, yt, rtol=tol, atol=tol)
            np.testing.assert_allclose(xg, xt, rtol=tol, atol=tol)
            np.testing.assert_allclose(gg, gt, rtol=tol * 10, atol=tol * 10)
            exact += np.array_equal(yg, yt)
            total += 1
    assert total == 60 and exact >= 40


def test_double_backward_against_torch():
    """create_graph: the gradients' own gradients (torch's GridSampler2DBackwardBackward0)."""
    torch = pytest.importorskip("torch")
    cases = [(m, 4) for m in MODES] + [("bilinear", 5), ("nearest", 5)]
    for (mode, nd), pad, ac in itertools.product(cases, PADS, (False, True)):
        x = R.standard_normal((2, 2, 4, 5) if nd == 4 else (1, 2, 3, 4, 5))
        g = _grid((2, 3, 4, 2) if nd == 4 else (1, 2, 3, 4, 3), spread=2.4)
        out = []
        for M in (torch, tg):
            xt = M.tensor(x, requires_grad=True)
            gt = M.tensor(g, requires_grad=True)
            y = M.nn.functional.grid_sample(xt, gt, mode=mode, padding_mode=pad,
                                            align_corners=ac)
            gx, gg = M.autograd.grad((y * y).sum(), [xt, gt], create_graph=True)
            total = (gx * gx).sum() + ((gg * gg).sum() if gg.requires_grad else 0)
            second = M.autograd.grad(total, [xt, gt], allow_unused=True)
            out.append([None if v is None else v.detach().numpy()
                        for v in (gx, gg) + tuple(second)])
        for a, b in zip(*out):
            if a is None or b is None:   # (nearest: the grid's gradient is a constant 0)
                assert mode == "nearest" and not np.any(a if b is None else b)
                continue
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9, err_msg=f"{mode} {pad}")


def test_non_finite_and_far_grids_against_torch():
    """nan, ±inf and huge grid values: torch's outputs for every mode and padding (border
    and reflection clip a nan coordinate to 0 in 2-d, to size - 1 in 3-d); gradients where
    torch's backward is defined (it reads outside the input for a nan or inf point with
    border or reflection padding)."""
    torch = pytest.importorskip("torch")
    x = np.arange(1.0, 13.0).reshape(1, 1, 3, 4)
    x3 = np.arange(1.0, 25.0).reshape(1, 1, 2, 3, 4)
    for v in (float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 3e9):
        g = np.array([[[[v, 0.3], [0.2, v], [0.5, 0.5]]]])
        g3 = np.array([[[[[v, 0.3, 0.1], [0.2, v, -0.4], [0.5, 0.5, v]]]]])
        go = np.ones((1, 1, 1, 3))
        for mode, pad, ac in itertools.product(MODES, PADS, (False, True)):
            for dtype in ("float32", "float64"):
                backward = pad == "zeros" or np.isfinite(v) or mode == "nearest"
                xs = [(x, g)] + ([(x3, g3)] if mode != "bicubic" else [])
                for xv, gv in xs:
                    res = []
                    for M in (torch, tg):
                        xt = M.tensor(xv, dtype=getattr(M, dtype), requires_grad=True)
                        gt = M.tensor(gv, dtype=getattr(M, dtype), requires_grad=True)
                        y = M.nn.functional.grid_sample(xt, gt, mode=mode, padding_mode=pad,
                                                        align_corners=ac)
                        res.append([y.detach().numpy()])
                        if backward and xv is x:
                            res[-1] += [t.numpy() for t in M.autograd.grad(
                                y, [xt, gt], M.tensor(go, dtype=y.dtype))]
                    for a, b in zip(*res):
                        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6,
                                                   err_msg=f"{v} {mode} {pad} {ac} {dtype}")
    # (where torch's backward reads outside the input, tapegrad's gradient is the one of
    # the clipped coordinate: finite)
    xt = tg.tensor(x, requires_grad=True)
    gt = tg.tensor([[[[float("nan"), 0.3]]]], dtype=tg.float64, requires_grad=True)
    F.grid_sample(xt, gt, padding_mode="border", align_corners=False).sum().backward()
    assert np.isfinite(xt.grad.numpy()).all() and np.isfinite(gt.grad.numpy()).all()


def test_affine_grid_against_torch():
    torch = pytest.importorskip("torch")
    cases = [((2, 3, 5, 7), (2, 2, 3)), ((2, 3, 1, 6), (2, 2, 3)), ((3, 1, 4, 5, 6), (3, 3, 4)),
             ((1, 1, 1, 1, 1), (1, 3, 4)), ((2, 1, 17, 33), (2, 2, 3)), ((1, 2, 9, 8), (1, 2, 3))]
    for (size, tshape), ac, dtype in itertools.product(cases, (False, True),
                                                       ("float32", "float64")):
        th = R.standard_normal(tshape)
        out = []
        for M in (torch, tg):
            t = M.tensor(th, dtype=getattr(M, dtype), requires_grad=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                grid = M.nn.functional.affine_grid(t, size, align_corners=ac)
            go = M.tensor(np.cos(np.arange(grid.numel())).reshape(tuple(grid.shape)),
                          dtype=grid.dtype)
            (gt,) = M.autograd.grad(grid, [t], go)
            out.append((grid.detach().numpy(), gt.numpy(), type(grid.grad_fn).__name__))
        (ya, ga, na), (yb, gb, nb) = out
        assert na == nb and yb.dtype == ya.dtype
        # to rounding: torch's grid is a bmm, whose order of sums (and fma) follows the CPU's
        # kernels (bit for bit on AVX-512, an ulp apart in float32 on AVX2)
        np.testing.assert_allclose(yb, ya, rtol=1e-6 if dtype == "float32" else 1e-15,
                                   atol=1e-6 if dtype == "float32" else 1e-15,
                                   err_msg=str((size, ac, dtype)))
        np.testing.assert_allclose(gb, ga, rtol=1e-5 if dtype == "float32" else 1e-12,
                                   atol=1e-5 if dtype == "float32" else 1e-12)


def _outcome(M, fn):
    try:
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            y = fn(M)
        return ("ok", tuple(y.shape), str(y.dtype).split(".")[-1], [str(w.message) for w in ws])
    except Exception as e:      # noqa: BLE001
        return (type(e).__name__, str(e).replace("torch.Size", "Size")
                .replace("tapegrad.Size", "Size").replace("torch.", "").replace("tapegrad.", ""))


def test_errors_and_warnings_against_torch():
    torch = pytest.importorskip("torch")
    a = R.standard_normal((2, 3, 4, 5)).astype(np.float32)
    gr = (R.random((2, 6, 7, 2)) * 2 - 1).astype(np.float32)
    th = R.standard_normal((2, 2, 3)).astype(np.float32)

    def on(f):
        return lambda M: f(M, M.tensor(a), M.tensor(gr), M.tensor(th), M.nn.functional)
    calls = [
        on(lambda M, x, g, t, F_: F_.grid_sample(x, g)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x, g, align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x, g.double(), align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x.double(), g, align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x.long(), g.long(), align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x, g[:1], align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x, g[..., :1], align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x[0], g[0], align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x, g[0], align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x[:, :, :0], g, align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x, g, mode="foo")),
        on(lambda M, x, g, t, F_: F_.grid_sample(x, g, padding_mode="foo")),
        on(lambda M, x, g, t, F_: F_.grid_sample(x, g, mode="trilinear")),
        on(lambda M, x, g, t, F_: F_.grid_sample(x[None], g, align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x[None], M.zeros(1, 2, 6, 7, 3),
                                                 mode="bicubic", align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x[None], M.zeros(1, 2, 6, 7, 3),
                                                 align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x[None, None], M.zeros(1, 2, 6, 7, 3, 3),
                                                 align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x, 3, align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(3, g, align_corners=True)),
        on(lambda M, x, g, t, F_: F_.grid_sample(x, g, align_corners=1)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t, (2, 3, 4, 5))),
        on(lambda M, x, g, t, F_: F_.affine_grid(t, [2, 3, 4, 5], align_corners=False)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t, M.Size([2, 3, 4, 5]), align_corners=False)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t, (2, 3, 4), align_corners=False)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t, (2, 3, 4, 5, 6), align_corners=False)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t.int(), (2, 3, 4, 5), align_corners=False)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t, (3, 3, 4, 5), align_corners=False)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t, (2, 3, 0, 5), align_corners=False)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t, (2, 3, 1, 5), align_corners=True)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t, (2, 3, -1, 5), align_corners=True)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t[0], (2, 3, 4, 5), align_corners=False)),
        on(lambda M, x, g, t, F_: F_.affine_grid(M.zeros(2, 3, 4), (2, 3, 4, 5),
                                                 align_corners=False)),
        on(lambda M, x, g, t, F_: F_.affine_grid(t, (2, 3, 4.0, 5), align_corners=False)),
    ]
    for c in calls:
        assert _outcome(tg, c) == _outcome(torch, c)


def test_signatures_as_torch():
    torch = pytest.importorskip("torch")
    import inspect
    for name in ("affine_grid", "grid_sample"):
        assert name in F.__all__
        params = [[(p.name, p.kind, p.default) for p in
                   inspect.signature(getattr(mod, name)).parameters.values()]
                  for mod in (F, torch.nn.functional)]   # (names, kinds, defaults)
        assert params[0] == params[1]
