"""Convolution and pooling (Tensor.unfold, F.conv1d/2d/3d, max/avg/adaptive pooling and their
modules) against torch 2.13: values and gradients (float64 to round-off, float32 to float32
rounding) over a grid of options, grad_fn names and next_functions, gradcheck and
gradgradcheck, module reprs, parameters and initialization, errors, replay, and a small CNN
trained for a few steps."""
import contextlib
import io
import itertools
import math
import re
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as tnn
from tapegrad.autograd import gradcheck, gradgradcheck

from replay_check import assert_replays_as_eager

torch = pytest.importorskip("torch")

R = np.random.default_rng(0)


def _names(fn):
    """grad_fn's class name and those of its next_functions (None for an empty edge)."""
    if fn is None:
        return None
    return (type(fn).__name__, [None if f is None else type(f).__name__
                                for f, _ in fn.next_functions])


def _run(M, fn, arrays, dtype, grads=True):
    """fn(M, *tensors) on float tensors of `dtype` (every one requires grad): the output(s),
    its grad_fn names and the inputs' gradients of a weighted sum of the first output."""
    xs = [M.tensor(a, dtype=getattr(M, dtype), requires_grad=grads) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(M, *xs)
    outs = out if isinstance(out, tuple) else (out,)
    y = outs[0]
    res = {"shape": tuple(y.shape), "dtype": str(y.dtype).split(".")[-1],
           "values": [o.detach().numpy().copy() for o in outs]}
    if grads:
        res["names"] = _names(y.grad_fn)
        w = np.cos(np.arange(y.numel())).reshape(tuple(y.shape)) + 1.5
        gs = M.autograd.grad(y, xs, M.tensor(w, dtype=y.dtype), allow_unused=True)
        res["grads"] = [None if g is None else g.numpy().copy() for g in gs]
    return res


def _compare(fn, arrays, dtype, grads=True):
    a, b = _run(tg, fn, arrays, dtype, grads), _run(torch, fn, arrays, dtype, grads)
    assert (a["shape"], a["dtype"], a.get("names")) == (b["shape"], b["dtype"], b.get("names"))
    for u, v in zip(a["values"], b["values"]):
        if u.dtype.kind == "i":
            np.testing.assert_array_equal(u, v)
        else:
            _close(u, v, dtype)
    for u, v in zip(a.get("grads", ()), b.get("grads", ())):
        assert (u is None) == (v is None)
        if u is not None:
            _close(u, v, dtype)


def _close(u, v, dtype):
    """float64 to round-off; float32 relative to the largest magnitude (torch's float32
    convolutions sum in another order)."""
    if dtype == "float64":
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)
    else:
        finite = np.abs(v[np.isfinite(v)])
        scale = max(float(finite.max()) if finite.size else 0.0, 1.0)
        np.testing.assert_allclose(u, v, rtol=2e-5, atol=2e-6 * scale)


@pytest.fixture
def decomposition():
    """2-d convolutions recorded as the convolution row's decomposition, not the one node
    (nn/_conv_node.py): for the tests of the decomposition's entries (a patch of its own,
    which the tests' monkeypatch.undo() leaves)."""
    from tapegrad.nn import _conv_node
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_conv_node, "node_case", lambda *args: False)
        yield


# ---- Tensor.unfold ---------------------------------------------------------------------------
UNFOLD = [((2, 3, 7), (2, 3, 1)), ((2, 3, 7), (-1, 3, 2)), ((6,), (0, 2, 2)), ((4, 5), (0, 4, 1)),
          ((4, 5), (1, 5, 3)), ((3, 4), (1, 0, 2)), ((), (0, 1, 1))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,args", UNFOLD)
def test_unfold_as_torch(shape, args, dtype):
    _compare(lambda M, x: x.unfold(*args), [R.standard_normal(shape)], dtype)


def test_unfold_is_a_view_and_differentiates_twice():
    x = tg.tensor(R.standard_normal((3, 8)), requires_grad=True)
    y = x.unfold(1, 3, 2)
    assert y._version == x._version and np.shares_memory(y.detach().numpy(), x.detach().numpy())
    assert gradcheck(lambda a: a.unfold(1, 3, 2) ** 2, [x])
    assert gradgradcheck(lambda a: a.unfold(0, 2, 1) ** 3, [x])


# ---- convolution -----------------------------------------------------------------------------
def _conv_cases():
    cases = []
    for k in (1, 2, 3):
        sp = {1: (9,), 2: (7, 6), 3: (5, 4, 5)}[k]
        kern = {1: (3,), 2: (3, 2), 3: (2, 3, 2)}[k]
        grid = [dict(), dict(stride=2), dict(padding=1), dict(padding=2, dilation=2),
                dict(stride=(2,) * k, padding=(1,) + (0,) * (k - 1)), dict(padding="same"),
                dict(padding="valid"), dict(groups=2), dict(padding="same", dilation=2),
                dict(stride=3, padding=1, dilation=(1,) * (k - 1) + (2,), groups=2)]
        if k == 3:
            grid = grid[:3] + grid[5:6] + grid[7:8]
        for kw, bias, batched in itertools.product(grid, (True, False), (True, False)):
            if not batched and (kw or not bias):
                continue
            cases.append((k, sp, kern, kw, bias, batched))
    return cases


CONV = _conv_cases()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("k,sp,kern,kw,bias,batched", CONV,
                         ids=[f"{c[0]}d-{c[3]}-b{int(c[4])}-n{int(c[5])}" for c in CONV])
def test_conv_as_torch(k, sp, kern, kw, bias, batched, dtype):
    groups = kw.get("groups", 1)
    x = R.standard_normal(((2,) if batched else ()) + (4,) + sp)
    w = R.standard_normal((6, 4 // groups) + kern) * 0.5
    b = R.standard_normal(6)
    conv = f"conv{k}d"
    if bias:
        fn = lambda M, x, w, b: getattr(M.nn.functional, conv)(x, w, b, **kw)  # noqa: E731
        _compare(fn, [x, w, b], dtype)
    else:
        fn = lambda M, x, w: getattr(M.nn.functional, conv)(x, w, **kw)  # noqa: E731
        _compare(fn, [x, w], dtype)


def _conv_transpose_cases():
    cases = []
    for k in (1, 2, 3):
        grid = [dict(), dict(stride=2), dict(stride=2, padding=1, output_padding=1),
                dict(groups=2, dilation=2), dict(stride=3, padding=2, dilation=2,
                                                 output_padding=2), dict(padding=1)]
        if k == 3:
            grid = grid[1:4]
        for kw, bias, batched in itertools.product(grid, (True, False), (True, False)):
            if not batched and (kw or not bias):
                continue
            cases.append((k, kw, bias, batched))
    return cases


CONVT = _conv_transpose_cases()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("k,kw,bias,batched", CONVT,
                         ids=[f"{c[0]}d-{c[1]}-b{int(c[2])}-n{int(c[3])}" for c in CONVT])
def test_conv_transpose_as_torch(k, kw, bias, batched, dtype):
    g = kw.get("groups", 1)
    sp = {1: (5,), 2: (4, 5), 3: (3, 4, 3)}[k]
    kern = {1: (3,), 2: (3, 2), 3: (2, 3, 2)}[k]
    x = R.standard_normal(((2,) if batched else ()) + (4,) + sp)
    w = R.standard_normal((4, 6 // g) + kern) * 0.5
    b = R.standard_normal(6)
    conv = f"conv_transpose{k}d"
    if bias:
        fn = lambda M, x, w, b: getattr(M.nn.functional, conv)(x, w, b, **kw)  # noqa: E731
        _compare(fn, [x, w, b], dtype)
    else:
        fn = lambda M, x, w: getattr(M.nn.functional, conv)(x, w, **kw)  # noqa: E731
        _compare(fn, [x, w], dtype)


@pytest.mark.parametrize("name", ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
                                  "ConvTranspose2d", "ConvTranspose3d"])
def test_conv_constructor_signatures_as_torch(name):
    """Each layer's own __init__ with torch's parameters: a missing or unknown argument is
    named as torch names it (Conv2d.__init__(), not the shared base's), and a Conv layer has
    no output_padding (only the transposed ones do)."""
    import inspect
    got = []
    for lib in (tg, torch):
        cls = getattr(lib.nn, name)
        errs = []
        for args, kw in [((1, 2), {}), ((1, 2, 3), {"output_padding": 1}),
                         ((1, 2, 3), {"bais": False})]:
            try:
                cls(*args, **kw)
                errs.append(None)
            except TypeError as e:
                errs.append(str(e))
        got.append((errs, list(inspect.signature(cls.__init__).parameters)))
    assert got[0] == got[1]


def test_conv_transpose_gradcheck_and_gradgradcheck():
    x = tg.tensor(R.standard_normal((1, 4, 3, 4)), requires_grad=True)
    w = tg.tensor(R.standard_normal((4, 1, 2, 3)), requires_grad=True)
    b = tg.tensor(R.standard_normal(2), requires_grad=True)
    f = lambda x, w, b: tg.nn.functional.conv_transpose2d(  # noqa: E731
        x, w, b, stride=2, padding=1, output_padding=1, groups=2)
    assert gradcheck(f, [x, w, b])
    assert gradgradcheck(f, [x, w, b])


def test_conv_edges_when_inputs_need_no_gradient():
    x, w, b = R.standard_normal((2, 3, 6, 6)), R.standard_normal((4, 3, 3, 3)), R.standard_normal(4)
    out = []
    for M in (tg, torch):
        X, W, B = M.tensor(x), M.tensor(w, requires_grad=True), M.tensor(b)
        out.append([_names(M.nn.functional.conv2d(X, W, B).grad_fn),
                    _names(M.nn.functional.conv2d(X.requires_grad_(), W, B).grad_fn),
                    _names(M.nn.functional.conv2d(X, W[:, :, :2], stride=2).grad_fn)])
    assert out[0] == out[1]


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(groups=2, dilation=2),
                                dict(padding="same")])
def test_conv_gradcheck_and_gradgradcheck(kw):
    x = tg.tensor(R.standard_normal((1, 4, 4, 5)), requires_grad=True)
    w = tg.tensor(R.standard_normal((4, 4 // kw.get("groups", 1), 2, 3)), requires_grad=True)
    b = tg.tensor(R.standard_normal(4), requires_grad=True)
    f = lambda x, w, b: tg.nn.functional.conv2d(x, w, b, **kw)  # noqa: E731
    assert gradcheck(f, [x, w, b])
    assert gradgradcheck(f, [x, w, b])


def test_conv1d_gradgradcheck_and_hvp_as_torch():
    vals = [R.standard_normal((2, 2, 6)), R.standard_normal((3, 2, 3)), R.standard_normal(3)]
    f = lambda M, x, w, b: M.nn.functional.conv1d(x, w, b, padding=1, stride=2)  # noqa: E731
    assert gradgradcheck(lambda *a: f(tg, *a), [tg.tensor(v, requires_grad=True) for v in vals])
    hv = []
    for M in (tg, torch):
        xs = [M.tensor(v, requires_grad=True) for v in vals]
        y = f(M, *xs)
        gs = M.autograd.grad((y * y).sum(), xs, create_graph=True)
        hv.append([h.detach().numpy() for h in M.autograd.grad(sum(
            (g * g).sum() for g in gs), xs)])
    for a, b in zip(*hv):
        np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k,kw", [(2, dict(padding=1)), (1, dict(padding=2, stride=2)),
                                  (3, dict(padding=(1, 0, 1))), (2, dict(padding="same")),
                                  (2, dict(padding=(0, 1), groups=2, dilation=2))])
def test_conv_zero_padding_entry_as_constant_pad(decomposition, monkeypatch, k, kw, dtype):
    """The convolution's zero padding (one strided_scatter entry, _decomps_conv._zero_pad)
    against constant_pad_nd's entries it replaced: the same values bit for bit (-0.0 inputs,
    a -0.0 result of a window of zeros), gradients, second derivatives and replay; and
    torch's values."""
    from tapegrad.nn import _decomps_conv as C
    sp = {1: (7,), 2: (5, 6), 3: (3, 4, 3)}[k]
    x = R.standard_normal((2, 4) + sp)
    x.reshape(-1)[::3] = -0.0
    x[0] = -0.0                  # (batch 0: windows of -0.0 only)
    w = R.standard_normal((4, 4 // kw.get("groups", 1)) + (3,) * k)
    w[1] = -np.abs(w[1])
    b = R.standard_normal(4)
    b[2] = -0.0
    conv = getattr(tg.nn.functional, f"conv{k}d")

    def run(fast):
        if not fast:
            monkeypatch.setattr(C, "_zero_pad", lambda x, padding: C._pad(
                None, x, [(p, p) for p in padding], 0.0))
        X, W, Bb = (tg.tensor(a, dtype=getattr(tg, dtype), requires_grad=True) for a in (x, w, b))
        y = conv(X * 1.0, W, Bb, **kw)
        gs = tg.autograd.grad((y * y.sin()).sum(), (X, W, Bb), create_graph=True)
        ggs = tg.autograd.grad(sum((g * g).sum() for g in gs), (X, W))
        rec = tg.record(lambda X: conv(X, W, Bb, **kw).square().sum(),
                        tg.tensor(x, dtype=getattr(tg, dtype)))
        v, (g,) = rec.value_and_grad(x.astype(dtype))
        monkeypatch.undo()
        return ([y.detach().numpy(), type(y.grad_fn).__name__]
                + [g.detach().numpy() for g in gs] + [g.numpy() for g in ggs]
                + [np.asarray(v), np.asarray(g)])
    fast, slow = run(True), run(False)
    for a, c in zip(fast, slow):
        if isinstance(a, str):
            assert a == c == "ConvolutionBackward0"
        else:
            assert a.tobytes() == c.tobytes()
    yt = getattr(torch.nn.functional, f"conv{k}d")(
        *(torch.tensor(a, dtype=getattr(torch, dtype)) for a in (x, w, b)), **kw)
    np.testing.assert_allclose(fast[0], yt.numpy(), rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_zero_padding_writes_strided_scatters_entry(decomposition, monkeypatch, dtype):
    """_decomps_conv._zero_pad (its value by a slice added into zeros) against
    views.strided_scatter of the same params: the same tape entries, params and groups, the
    same values (a -0.0 input made +0.0 by both) and gradients, for an input that records
    and one that does not (the first layer's image), 1-d to 3-d."""
    from tapegrad.nn import _decomps_conv as C
    from tapegrad.tape import CLOSED, STATE
    from tapegrad.views import strided_scatter

    def reference(x, padding):
        sizes = tuple(x.shape)
        image = sizes[:2] + tuple(s + 2 * p for s, p in zip(sizes[2:], padding))
        strides = [math.prod(image[d + 1:]) for d in range(len(image))]
        return strided_scatter(x, image, [sum(p * st for p, st in zip(padding, strides[2:]))]
                               + strides)
    for k, pad in ((1, (2,)), (2, (1, 1)), (2, (0, 2)), (3, (1, 0, 1))):
        xa = R.standard_normal((2, 3) + (4,) * k).astype(dtype)
        xa.reshape(-1)[::5] = -0.0
        wa = R.standard_normal((2, 3) + (3,) * k).astype(dtype)
        runs = []
        for fast in (True, False):
            if not fast:
                monkeypatch.setattr(C, "_zero_pad", reference)
            STATE.tape = CLOSED
            w = tg.tensor(wa, requires_grad=True)
            conv = getattr(tg.nn.functional, f"conv{k}d")
            image = tg.tensor(xa)
            y0 = conv(image, w, padding=pad)                 # an input that needs no grad
            x0 = tg.tensor(xa, requires_grad=True)
            y = conv(x0.exp() - 1.0 + y0.sum() * 0.0, w, padding=pad)
            padded = C._zero_pad(tg.tensor(xa), pad)
            facts = _tape_facts(y._tape)
            gx, gw = tg.autograd.grad((y * y).sum(), (x0, w))
            runs.append((facts, [y0.detach().numpy(), y.detach().numpy(), padded.numpy(),
                                 gx.numpy(), gw.numpy()], padded.grad_fn))
            monkeypatch.undo()
        (fa, va, pa), (fb, vb, pb) = runs
        assert fa == fb and pa is None and pb is None
        for a, b in zip(va, vb):
            assert a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_of_one_group_as_the_grouped_formulation(decomposition, dtype):
    """A convolution of one group multiplies weight.reshape(OC, depth).expand(N, ...) by the
    windows (two view entries fewer than the grouped formulation's reshape, expand, reshape
    and the product's reshape): values, gradients and second derivatives bit for bit those of
    the grouped formulation (recorded here as the row's body was), with and without bias."""
    import math as _m
    from tapegrad import decomps
    from tapegrad.nn import _decomps_conv as C
    from tapegrad.views import KIND_OPS

    def grouped(T, x, weight, bias, stride, padding, dilation, groups):
        k = weight.dim() - 2
        xp = C._zero_pad(x, padding)
        n, c, oc = x.shape[0], x.shape[1], weight.shape[0]
        kernel = tuple(weight.shape[2:])
        cols = C.windows(xp, kernel, stride, dilation)
        positions = tuple(cols.shape[2 + k:])
        cg, og = c // groups, oc // groups
        depth = cg * _m.prod(kernel)
        cols = cols.reshape(n * groups, depth, _m.prod(positions))
        w = weight.reshape(1, groups, og, depth).expand(n, groups, og, depth)
        out = w.reshape(n * groups, og, depth).matmul(cols).reshape(n, oc, cols.shape[-1])
        if bias is not None:
            out = out + bias.reshape(oc, 1).expand(oc, cols.shape[-1])
        return out.reshape((n, oc) + positions)
    for k, sp, kw in ((2, (6, 5), dict(padding=1)), (1, (9,), dict(stride=2)),
                      (3, (3, 4, 3), dict(padding=(1, 0, 1), dilation=(1, 2, 1))),
                      (2, (1, 1), dict(padding=1))):
        for with_bias in (True, False):
            arrays = [R.standard_normal((2, 3) + sp), R.standard_normal((4, 3) + (2,) * k),
                      R.standard_normal(4)]
            runs = []
            for body in (None, grouped):
                x, w, b = (tg.tensor(a, dtype=getattr(tg, dtype), requires_grad=True)
                           for a in arrays)
                bb = b if with_bias else None
                full = dict(stride=(1,) * k, padding=(0,) * k, dilation=(1,) * k)
                full.update({key: (v,) * k if isinstance(v, int) else v
                             for key, v in kw.items()})
                if body is None:
                    y = getattr(tg.nn.functional, f"conv{k}d")(x * 1.0, w, bb, **kw)
                else:
                    y = decomps.record("convolution", body, KIND_OPS, x * 1.0, w, bb,
                                       full["stride"], full["padding"], full["dilation"], 1)
                ins = (x, w, b) if with_bias else (x, w)
                gs = tg.autograd.grad((y * y.sin()).sum(), ins, create_graph=True)
                ggs = tg.autograd.grad(sum((g * g).sum() for g in gs), ins)
                runs.append([y.detach().numpy(), type(y.grad_fn).__name__]
                            + [g.detach().numpy() for g in gs] + [g.numpy() for g in ggs])
            for a, c in zip(*runs):
                assert (a == c) if isinstance(a, str) else a.tobytes() == c.tobytes()


def test_conv_checks_kept_per_shape_as_torch():
    """_conv keeps the checked arguments of a call that passed torch's checks (by shapes,
    dtypes and the int arguments as given) and skips the checks when the same call comes
    again: the second call's value, grad_fn and gradients are the first's and torch's,
    batched and unbatched; what the checks refuse still raises torch's error after a kept
    call of another shape, dtype, groups or bias; lists and strings are not kept."""
    from tapegrad.nn import _conv as CV
    F = tg.nn.functional
    x, w, b = R.standard_normal((2, 4, 5, 6)), R.standard_normal((6, 4, 3, 3)), R.standard_normal(6)
    CV._CHECKED.clear()
    calls = [((x, w, b), dict(padding=1)), ((x[0], w, b), dict(padding=(1, 0), stride=2)),
             ((x, w[:, :2], None), dict(groups=2, dilation=(2, 1))),
             ((x, w, b), dict(padding=[1, 1])), ((x, w, None), dict(padding="same"))]
    for arrays, kw in calls:
        for _ in range(2):
            _compare(lambda M, *t: M.nn.functional.conv2d(*t, **kw),
                     [a for a in arrays if a is not None], "float64")
    assert len(CV._CHECKED) == 3
    T = lambda a, dt=tg.float64: tg.tensor(a, dtype=dt)  # noqa: E731
    bad = [lambda: F.conv2d(T(x[:, :3]), T(w), T(b), padding=1),        # channels
           lambda: F.conv2d(T(x[:, :, :1, :1]), T(w), T(b)),            # kernel > input
           lambda: F.conv2d(T(x), T(w, tg.float32), T(b), padding=1),   # weight dtype
           lambda: F.conv2d(T(x), T(w), T(b[:5]), padding=1),           # bias size
           lambda: F.conv2d(T(x), T(w[:, :2]), None, groups=3, dilation=(2, 1)),
           lambda: F.conv2d(T(x[0, 0]), T(w), T(b), padding=1)]         # 2-d input
    for f in bad:
        with pytest.raises(RuntimeError):
            f()


def test_conv_integer_input_as_torch():
    x, w = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5) % 7, np.ones((2, 3, 3, 3), np.int64)
    a = tg.nn.functional.conv2d(tg.tensor(x), tg.tensor(w), stride=2)
    b = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=2)
    assert a.dtype is tg.int64 and a.tolist() == b.tolist()


def test_conv_same_warns_as_torch_for_even_kernels():
    from tapegrad import errors
    errors._WARNED.discard("Using padding='same' with even kernel lengths and odd dilation "
                           "may require a zero-padded copy of the input be created")
    x, w = tg.randn(1, 1, 5, 5), tg.randn(1, 1, 2, 2)
    with pytest.warns(UserWarning, match="padding='same' with even kernel lengths"):
        tg.nn.functional.conv2d(x, w, padding="same")


# ---- the one-node 2-d convolution (nn/_conv_node.py) -----------------------------------------
NODE_KW = [dict(), dict(padding=1), dict(stride=2, padding=(1, 0)), dict(padding=2, dilation=2),
           dict(stride=(1, 2), dilation=(2, 1)), dict(padding="same"),
           dict(stride=3, padding=(0, 2))]


def _node_runs(M, arrays, dtype, kw, bias, needs, layout, create_graph=False):
    """conv2d of the arrays (x, w, b) in `dtype`, `needs` the requires_grad flags, x and w
    made non-contiguous (`layout` "t": transposed copies transposed back; "s": slices of a
    larger array) or not: value, grad_fn names, gradients of a weighted sum, with
    create_graph also second derivatives of the gradients' squares."""
    dt = getattr(M, dtype)

    def make(a, k):
        if layout == "t" and a.ndim == 4:
            t = M.tensor(np.ascontiguousarray(a.transpose(0, 1, 3, 2)), dtype=dt).transpose(2, 3)
        elif layout == "s" and a.ndim == 4:
            big = np.zeros(a.shape[:3] + (2 * a.shape[3],))
            big[..., ::2] = a
            t = M.tensor(big, dtype=dt)[..., ::2]
        else:
            t = M.tensor(a, dtype=dt)
        return t.requires_grad_(needs[k])
    x, w, b = (make(a, k) for k, a in enumerate(arrays))
    y = M.nn.functional.conv2d(x, w, b if bias else None, **kw)
    res = [y.detach().numpy().copy(), _names(y.grad_fn)]
    ins = [t for t, n in zip((x, w, b), needs) if n and (t is not b or bias)]
    if ins:
        wt = M.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)), dtype=dt)
        gs = M.autograd.grad(y, ins, wt, create_graph=create_graph)
        res += [g.detach().numpy().copy() for g in gs]
        if create_graph:
            s = sum((g * g).sum() for g in gs)
            if s.requires_grad:
                res += [None if g is None else g.numpy().copy() for g in
                        M.autograd.grad(s, ins, allow_unused=True)]
    return res


def _node_compare(arrays, dtype, kw, bias, needs, layout, create_graph=False):
    """The node against torch (values and gradients close) and against the decomposition
    (the same forward values bit for bit, gradients close); returns tapegrad's run."""
    from tapegrad.nn import _conv_node
    a = _node_runs(tg, arrays, dtype, kw, bias, needs, layout, create_graph)
    b = _node_runs(torch, arrays, dtype, kw, bias, needs, layout, create_graph)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_conv_node, "node_case", lambda *args: False)
        c = _node_runs(tg, arrays, dtype, kw, bias, needs, layout, create_graph)
    assert a[1] == b[1] == c[1] and len(a) == len(b) == len(c)
    assert a[0].tobytes() == c[0].tobytes()
    for u, v, r in zip(a[2:], b[2:], c[2:]):
        assert (u is None) == (v is None) == (r is None)
        if u is not None:
            _close(u, v, dtype)
            _close(u, r, dtype)
    return a


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", NODE_KW, ids=[str(k) for k in NODE_KW])
def test_conv2d_node_as_torch_and_the_decomposition(kw, dtype):
    """A 2-d convolution of one group is one ConvolutionBackward0 node: values, chains and
    gradients as torch's and as the decomposition's (forward bit for bit, -0.0 inputs
    included), over strides, paddings, dilations, with and without bias, every requires_grad
    mix, contiguous and non-contiguous operands."""
    arrays = [R.standard_normal((2, 3, 7, 6)), R.standard_normal((4, 3, 3, 2)) * 0.5,
              R.standard_normal(4)]
    arrays[0].reshape(-1)[::5] = -0.0       # (-0.0 inputs; image 1: windows of -0.0 only)
    arrays[0][1] = -0.0
    arrays[2][1] = -0.0
    for bias in (True, False):
        for needs in itertools.product((True, False), repeat=3):
            if needs[2] and not bias:
                continue
            _node_compare(arrays, dtype, kw, bias, needs, "c")
    for layout in ("t", "s"):
        _node_compare(arrays, dtype, kw, True, (True, True, True), layout)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, dilation=(1, 2), padding=2)])
def test_conv2d_node_second_derivatives_as_torch(kw):
    """create_graph: the node's gradients (the decomposition run again) differentiate again
    as torch's; gradcheck and gradgradcheck through the node."""
    arrays = [R.standard_normal((2, 3, 6, 5)), R.standard_normal((4, 3, 2, 3)),
              R.standard_normal(4)]
    for needs in ((True, True, True), (False, True, True), (True, False, False)):
        _node_compare(arrays, "float64", kw, True, needs, "c", create_graph=True)
    x, w, b = (tg.tensor(a, requires_grad=True) for a in arrays)
    f = lambda x, w, b: tg.nn.functional.conv2d(x, w, b, **kw)  # noqa: E731
    assert type(f(x, w, b).grad_fn).__name__ == "ConvolutionBackward0"
    assert gradcheck(f, [x, w, b])
    assert gradgradcheck(f, [x, w, b])


def test_conv2d_node_fields_hooks_and_errors_as_torch():
    """The node's `_saved_*` fields, next_functions (three edges, (None, 0) for no bias),
    node hooks (three grad_inputs), retain_graph's second backward and a saved input changed
    in place: torch's values and messages."""
    arrays = [R.standard_normal((2, 3, 5, 5)), R.standard_normal((4, 3, 3, 3)),
              R.standard_normal(4)]
    out = []
    for M in (tg, torch):
        x, w, b = (M.tensor(a, requires_grad=True) for a in arrays)
        res = []
        for bias in (b, None):
            y = M.nn.functional.conv2d(x, w, bias, stride=2, padding=(1, 0))
            fn = y.grad_fn
            res.append([fn.name(), _names(fn), [f is None for f, _ in fn.next_functions]])
            res.append([(name, getattr(fn, name)) for name in sorted(dir(fn))
                        if name.startswith("_saved_") and not isinstance(
                            getattr(fn, name), M.Tensor)])
            res.append([fn._saved_input is x, fn._saved_weight is w])
        seen = []
        y = M.nn.functional.conv2d(x, w, None, padding=1)
        y.grad_fn.register_hook(lambda gi, go: seen.append(
            [None if g is None else tuple(g.shape) for g in gi] + [tuple(go[0].shape)]))
        y.grad_fn.register_prehook(lambda go: (go[0] * 2,))
        gx, = M.autograd.grad(y, x, M.ones_like(y), retain_graph=True)
        res.append(seen)
        gx2, = M.autograd.grad(y, x, M.ones_like(y))
        res.append(np.allclose(gx.numpy(), gx2.numpy()))
        for action in ("twice", "inplace"):
            xx = M.tensor(arrays[0], requires_grad=True) * 1.0
            y = M.nn.functional.conv2d(xx, w, b)
            if action == "twice":
                y.sum().backward()
            else:
                xx.mul_(2)
            try:
                y.sum().backward()
                res.append(None)
            except RuntimeError as e:
                res.append(re.sub(r"0x[0-9a-f]+", "", str(e)).replace("tapegrad", "torch"))
        out.append(res)
    assert out[0] == out[1]


def test_conv2d_node_hook_orders_and_module_backward_hook_as_torch():
    """Through the one node, leaves' tensor hooks run in torch's order (input, weight, bias)
    and nn.Conv2d's deprecated register_backward_hook sees the node's three grad_inputs, as
    torch's (the decomposition's group had no node hooks: NotImplementedError)."""
    out = []
    for M in (tg, torch):
        M.manual_seed(0)
        x = M.tensor(R.standard_normal((1, 2, 5, 5)), requires_grad=True)
        w = M.tensor(R.standard_normal((3, 2, 3, 3)), requires_grad=True)
        b = M.tensor(R.standard_normal(3), requires_grad=True)
        order = []
        for n, t in (("x", x), ("w", w), ("b", b)):
            t.register_hook(lambda g, n=n: order.append(n))
        M.nn.functional.conv2d(x, w, b, padding=1).sum().backward()
        m = M.nn.Conv2d(2, 3, 3).double()
        seen = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.register_backward_hook(lambda mod, gi, go: seen.append(
                ([None if g is None else tuple(g.shape) for g in gi],
                 [tuple(g.shape) for g in go])))
            m(x).sum().backward()
        out.append((order, seen, x.grad.shape))
    assert out[0] == out[1]

def test_conv2d_node_computes_only_the_gradients_needed(monkeypatch):
    """autograd.grad of the weight alone runs no col2im (the input's gradient); of the input
    alone no im2col in the backward; backward(inputs=) likewise.  The windows are kept from
    the forward up to MAX_SAVED_BYTES (counted towards the tape's saved bytes), made again
    past it; the gradients are the same either way."""
    from tapegrad.nn import _conv_node as CN
    loops = CN._loops()
    xa, wa = R.standard_normal((2, 3, 5, 5)), R.standard_normal((4, 3, 3, 3))
    runs = []
    for limit in (CN.MAX_SAVED_BYTES, 0):
        calls = []

        class Spy:
            im2col = staticmethod(loops.im2col)

            def col2im(self, *args):
                calls.append("col2im")
                return loops.col2im(*args)
        monkeypatch.setattr(CN, "_loops", lambda: Spy())
        monkeypatch.setattr(CN, "MAX_SAVED_BYTES", limit)
        columns = CN._columns
        monkeypatch.setattr(CN, "_columns", lambda *a: calls.append("im2col") or columns(*a))
        x, w = tg.tensor(xa, requires_grad=True), tg.tensor(wa, requires_grad=True)
        y = tg.nn.functional.conv2d(x, w, padding=1)
        again = ["im2col"] if limit == 0 else []
        assert calls == ["im2col"]
        held = y._tape.saved_bytes
        gw, = tg.autograd.grad(y.sum(), w, retain_graph=True)
        assert calls == ["im2col"] + again
        gx, = tg.autograd.grad(y.sum(), x, retain_graph=True)
        assert calls == ["im2col"] + again + ["col2im"]
        y.sum().backward(inputs=[w])
        assert calls == ["im2col"] + again + ["col2im"] + again and x.grad is None
        runs.append((held, gw.numpy(), gx.numpy(), w.grad.numpy()))
        monkeypatch.undo()
    (h0, *a), (h1, *b) = runs
    assert h0 >= h1 + 2 * 27 * 25 * 8     # (the kept windows counted)
    for u, v in zip(a, b):
        assert u.tobytes() == v.tobytes()


def test_conv2d_node_refused_cases_keep_the_decomposition():
    """The node's case (nn/_conv_node.node_case): groups, other dtypes, 1-d and 3-d, empty
    operands, a recording tape and torch.func transforms keep the decomposition (the same
    node name); no_grad and inference mode run the node's forward (no grad_fn); an inference
    tensor where one would be saved raises torch's error."""
    from tapegrad.nn import _conv_node as CN
    F = tg.nn.functional
    taken = []
    case = CN.node_case
    orig = CN.Convolution2d.apply
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CN.Convolution2d, "apply", lambda *a: taken.append(1) or orig(*a))
        x = tg.tensor(R.standard_normal((2, 4, 5, 5)), requires_grad=True)
        w = tg.tensor(R.standard_normal((4, 4, 3, 3)), requires_grad=True)
        assert case(x, w, None, 1) and not case(x, w[:, :2], None, 2)
        refused = [F.conv2d(x, w[:, :2], groups=2),
                   F.conv2d(x[:0], w),
                   F.conv1d(x[:, :, 0], w[:, :, 0]),
                   F.conv3d(x.unsqueeze(2), w.unsqueeze(2))]
        xi, wi = tg.tensor(np.ones((1, 2, 4, 4), np.int64)), tg.tensor(np.ones((1, 2, 2, 2),
                                                                          np.int64))
        assert F.conv2d(xi, wi).tolist() == torch.nn.functional.conv2d(
            torch.tensor(xi.numpy()), torch.tensor(wi.numpy())).tolist()
        assert taken == []
        assert [type(y.grad_fn).__name__ for y in refused[:1] + refused[2:]] == \
            ["ConvolutionBackward0"] * 3
        rec = tg.record(lambda x: F.conv2d(x, w, padding=1).square().sum(),
                        tg.tensor(R.standard_normal((2, 4, 5, 5))))
        assert taken == []
        xs = tg.tensor(R.standard_normal((3, 2, 4, 5, 5)))
        v = tg.func.vmap(lambda a: F.conv2d(a, w.detach(), padding=1))(xs)
        assert taken == [] and tuple(v.shape) == (3, 2, 4, 5, 5)
        assert np.isfinite(float(rec(tg.tensor(R.standard_normal((2, 4, 5, 5))))))
        eager = F.conv2d(tg.tensor(R.standard_normal((2, 4, 5, 5))), w, padding=1)
        assert taken == [1] and type(eager.grad_fn).__name__ == "ConvolutionBackward0"
        for mode in (tg.no_grad, tg.inference_mode):
            with mode():
                y = F.conv2d(x, w, padding=1)
            assert y.grad_fn is None and not y.requires_grad
        assert taken == [1, 1, 1]
        with tg.inference_mode():
            xinf = tg.tensor(R.standard_normal((2, 4, 5, 5)))
        with pytest.raises(RuntimeError, match="Inference tensors cannot be saved"):
            F.conv2d(xinf, w)
        with torch.inference_mode():
            tinf = torch.randn(2, 4, 5, 5)
        with pytest.raises(RuntimeError, match="Inference tensors cannot be saved"):
            torch.nn.functional.conv2d(tinf, torch.tensor(w.detach().numpy(),
                                                          requires_grad=True))
        assert taken == [1, 1, 1]


# ---- max pooling -----------------------------------------------------------------------------
TIES = np.array([[[[1., 3., 3., 0.], [3., 2., 3., 3.], [0., 0., -1., 3.], [3., 1., 3., 0.]]]])
NANS = np.array([[[[1., np.nan, 3., np.nan], [2., 2., np.nan, 0.],
                   [-np.inf, -np.inf, 5., 5.], [-np.inf, -np.inf, 4., np.inf]]]])


def _pool_cases():
    cases = []
    for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=2), dict(kernel_size=3, padding=1),
               dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
               dict(kernel_size=3, stride=2, ceil_mode=True),
               dict(kernel_size=2, stride=3, padding=1, ceil_mode=True),
               dict(kernel_size=3, stride=1, dilation=2, padding=1)]:
        for shape in [(2, 3, 7, 6), (3, 5, 7)]:
            cases.append(("rand", shape, kw))
    for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
               dict(kernel_size=2, stride=1)]:
        cases += [("ties", TIES.shape, kw), ("nans", NANS.shape, kw)]
    return cases


POOL = _pool_cases()


def _pool_input(kind, shape):
    return {"rand": lambda: R.standard_normal(shape), "ties": lambda: TIES,
            "nans": lambda: NANS}[kind]()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind,shape,kw", POOL, ids=[f"{c[0]}-{len(c[1])}d-{c[2]}" for c in POOL])
def test_max_pool2d_as_torch(kind, shape, kw, dtype):
    x = _pool_input(kind, shape)
    _compare(lambda M, x: M.nn.functional.max_pool2d(x, return_indices=True, **kw), [x], dtype)
    _compare(lambda M, x: M.nn.functional.max_pool2d(x * 1, **kw), [x], dtype)


def test_max_pool_loop_picks_as_the_numpy_path_and_torch(monkeypatch):
    """max_positions by tapegrad.nn._pool_loops' loop (float32/float64) against the numpy
    path it replaced (monkeypatched back) on random geometries (1-d to 3-d, stride, padding,
    dilation, ceil_mode, windows holding no input element) and values (nans, infinities,
    ties, all -inf), every output equal; torch's values, indices and gradients on some of
    them; int64 input (the numpy path) as before."""
    from tapegrad.nn import _decomps_pool as P
    from tapegrad.nn._pooling import _out_size
    rng = np.random.default_rng(7)
    seen_empty = checked = 0
    for trial in range(600):
        k = 1 + trial % 3
        sizes = tuple(int(v) for v in rng.integers(1, 6, k))
        kernel = [int(v) for v in rng.integers(1, 4, k)]
        stride = [int(v) for v in rng.integers(1, 4, k)]
        dilation = [int(v) for v in rng.integers(1, 3, k)]
        padding = [int(rng.integers(0, q // 2 + 1)) for q in kernel]
        ceil = bool(trial % 2)
        try:
            out = [_out_size(sizes[i], kernel[i], padding[i], stride[i], dilation[i], ceil)
                   for i in range(k)]
        except RuntimeError:
            continue
        if min(out) < 1:
            continue
        dt = (np.float32, np.float64)[trial % 2]
        arr = rng.standard_normal((2, 3) + sizes).astype(dt)
        r = rng.random(arr.shape)
        arr[r < 0.1], arr[(r > 0.1) & (r < 0.2)], arr[(r > 0.2) & (r < 0.3)] = np.nan, -np.inf, 0.5
        if trial % 7 == 0:
            arr[...] = -np.inf
        if trial % 4 == 1:
            arr = np.asfortranarray(arr)
        new = P.max_positions(arr, kernel, stride, padding, dilation, out)
        monkeypatch.setattr(P, "_LOOP_DTYPES", ())
        old = P.max_positions(arr, kernel, stride, padding, dilation, out)
        monkeypatch.undo()
        for a, b in zip(new, old):
            assert (a is None) == (b is None)
            if isinstance(a, tuple):
                assert a == b
            elif a is not None:
                assert a.shape == b.shape and np.array_equal(a, b), (trial, a, b)
        seen_empty += new[4] is not None
        checked += 1
    assert checked > 300 and seen_empty > 0
    # nans and ties, padding, dilation: as torch (not a window wholly in the padding: torch's
    # backward then adds at its index past the plane, out of the tensor for the last one)
    for x, kw in ((NANS, dict(kernel_size=2, stride=1)), (TIES, dict(kernel_size=3, padding=1)),
                  (R.standard_normal((2, 3, 5, 6)), dict(kernel_size=(2, 3), padding=1,
                                                         dilation=2, ceil_mode=True))):
        for dtype in ("float32", "float64"):
            _compare(lambda M, x: M.nn.functional.max_pool2d(x, return_indices=True, **kw),
                     [x], dtype)
    for lib in (tg, torch):
        y, i = lib.nn.functional.max_pool2d(lib.tensor([[[[3, 1], [4, 1]]]]), 2,
                                             return_indices=True)
        assert y.tolist() == [[[[4]]]] and i.tolist() == [[[[2]]]]


def _tape_facts(tape):
    """A tape's entries as comparable data: streams, shapes, params, saved values, groups."""
    n, nds = tape.n, tape.nds
    return dict(streams=[np.asarray(a[:n]).tolist() for a in tape._arrays[:5]],
                shp=nds.shp[:n].tolist(), params=[nds.params_of(e).tolist() for e in range(n)],
                saved=[None if (a := tape.saved_array(e)) is None else a.tobytes()
                       for e in range(n)],
                first=tape.groups.first[:n].tolist(), row=tape.groups.row[:n].tolist())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_writer_records_the_rows_entry(monkeypatch, dtype):
    """max_pool1d/2d/3d's direct writer (_decomps_pool.max_pool_pass) against the row's body
    through decomps.record (monkeypatched back): the same tape entries, params, groups, values,
    indices, grad_fn and edges, gradients and second derivatives; without a tape (no_grad,
    an input that needs no grad) the same values; a Parameter, a window wholly in the padding
    and a recording tape go to the body."""
    from tapegrad.nn import _decomps_pool as P
    from tapegrad.tape import CLOSED, STATE
    taken = []
    real = P.max_pool_pass
    F = tg.nn.functional
    cases = [(lambda x: F.max_pool2d(x, 2, return_indices=True), (2, 3, 6, 5)),
             (lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True), (3, 7, 6)),
             (lambda x: F.max_pool1d(x, 2, return_indices=True), (2, 3, 7)),
             (lambda x: F.max_pool3d(x, 2, 1, return_indices=True), (1, 2, 3, 4, 3)),
             (lambda x: F.max_pool2d(x, (1, 2), return_indices=True), (1, 1, 1, 2))]
    for f, shape in cases:
        xa = R.standard_normal(shape).astype(dtype)
        runs = []
        for fast in (True, False):
            monkeypatch.setattr(P, "max_pool_pass", (lambda *a: taken.append(
                r := real(*a)) or r) if fast else (lambda *a: None))
            STATE.tape = CLOSED
            x0 = tg.tensor(xa, requires_grad=True)
            x = x0.sin()
            y, i = f(x)
            z = f(y.cos())[0] if y.numel() > 1 else y * 2     # (one element: as it is)
            facts = _tape_facts(y._tape)
            names = [_names(y.grad_fn), _names(z.grad_fn)]
            g, = tg.autograd.grad((z * z).sum() + (y * y.exp()).sum(), x0, create_graph=True)
            gg, = tg.autograd.grad((g * g).sum(), x0)
            with tg.no_grad():
                quiet = f(x0)[0].numpy()
            plain = f(tg.tensor(xa))[0]
            runs.append((facts, names, [y.detach().numpy(), i.numpy(), z.detach().numpy(),
                                        g.detach().numpy(), gg.numpy(), quiet, plain.numpy()],
                         plain.grad_fn))
        (fa, na, va, pa), (fb, nb, vb, pb) = runs
        assert fa == fb and na == nb and pa is None and pb is None
        for a, b in zip(va, vb):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert taken and all(t is not None for t in taken)
    monkeypatch.undo()
    # not its case: the body (a Parameter; a recording tape, which adds the guard)
    taken.clear()
    monkeypatch.setattr(P, "max_pool_pass", lambda *a: taken.append(r := real(*a)) or r)
    p = tnn.Parameter(tg.tensor(R.standard_normal((1, 2, 4, 4)).astype(dtype)))
    assert type(F.max_pool2d(p, 2).grad_fn).__name__ == "MaxPool2DWithIndicesBackward0"
    assert taken == [None]
    msgs = []
    for writer in (real, lambda *a: None):  # an inference tensor that requires grad: the
        monkeypatch.setattr(P, "max_pool_pass", writer)     # row's refusal (as decomps.record)
        with tg.inference_mode():
            xi = tg.ones(1, 1, 2, 2, requires_grad=True)
        with pytest.raises(RuntimeError) as e:
            F.max_pool2d(xi, 2)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1] and "Inference tensors cannot be saved" in msgs[0]
    monkeypatch.setattr(P, "max_pool_pass", lambda *a: taken.append(r := real(*a)) or r)
    xr = R.standard_normal((1, 2, 4, 4)).astype(dtype)
    rec = tg.record(lambda x: F.max_pool2d(x, 2).square().sum(), tg.tensor(xr))
    assert taken == [None]      # (recording: a guard, the body; the writer not asked)
    assert_replays_as_eager(rec, lambda x: F.max_pool2d(x, 2).square().sum(), xr, 1e-5, 1e-5,
                            1e-6)


def test_pool_args_kept_as_given_and_as_torch():
    """_pooling._pool_args keeps its parsed arguments by the arguments as given (ints,
    tuples of ints, None): repeated max/avg poolings 2-d and 3-d give torch's values and
    gradients; lists and other types are parsed each time; invalid arguments still raise
    torch's errors after a kept call; the lists returned are new ones."""
    from tapegrad.nn import _pooling as PL
    PL._ARGS.clear()
    PL._MAX_SETUP.clear()   # (a max pooling kept there skips _pool_args)
    PL._AVG_PASS.clear()    # (so does an average pooling's one-pass writer kept there)
    x2, x3 = R.standard_normal((2, 3, 7, 6)), R.standard_normal((1, 2, 5, 4, 6))
    calls = [("max_pool2d", x2, (2,), {}), ("max_pool2d", x2, (3, 2, 1), dict(dilation=1)),
             ("max_pool2d", x2, ((3, 2), None, (1, 0)), {}), ("avg_pool2d", x2, (2,), {}),
             ("avg_pool2d", x2, ([3, 2], [2, 1]), {}), ("max_pool3d", x3, (2, 1), {}),
             ("avg_pool3d", x3, ((2, 1, 3),), dict(padding=(1, 0, 1)))]
    for name, x, args, kw in calls:
        for _ in range(2):
            _compare(lambda M, t: getattr(M.nn.functional, name)(t, *args, **kw), [x],
                     "float64")
    assert len(PL._ARGS) == 6
    got = PL._pool_args("max_pool2d", 2, 2, None, 0, None)
    got[0].append(9)
    assert PL._pool_args("max_pool2d", 2, 2, None, 0, None) == [[2, 2], [2, 2], [0, 0], [1, 1]]
    msgs = []
    for lib in (tg, torch):
        t = lib.tensor(x2)
        for f in (lambda: lib.nn.functional.max_pool2d(t, (2, 2, 2)),
                  lambda: lib.nn.functional.avg_pool2d(t, 2, padding=2),
                  lambda: lib.nn.functional.max_pool2d(t, 2, stride=(1, 1, 1)),
                  lambda: lib.nn.functional.max_pool2d(t, 3, 2, 2)):
            with pytest.raises(RuntimeError) as e:
                f()
            msgs.append(str(e.value))
    assert msgs[:4] == msgs[4:]


def test_max_pool_setup_kept_per_shape_and_arguments_as_torch():
    """_pooling._max_pool keeps _pool_setup's checked arguments and output size by the input's
    shape and the arguments as given (plain ints, tuples of ints, None, a bool ceil_mode):
    calls again with them, then with another dtype, a batchless input, a Parameter, lists,
    an input too small for the kept arguments and invalid arguments give torch's values,
    gradients, indices and errors each time; lists are not kept."""
    from tapegrad.nn import _pooling as PL
    PL._MAX_SETUP.clear()
    x4, x3 = R.standard_normal((2, 3, 6, 6)), R.standard_normal((3, 6, 6))
    calls = [(x4, (2,), {}), (x4, (3, 2, 1), dict(dilation=1)), (x4, ((3, 2), None, (1, 0)), {}),
             (x4, (2,), dict(ceil_mode=True, stride=(2, 1))), (x3, (2,), {}),
             (x4, ([2, 2],), {}), (x4, (2,), dict(padding=[1]))]
    for x, args, kw in calls:
        for dtype in ("float64", "float32", "float64"):
            _compare(lambda M, t: M.nn.functional.max_pool2d(t, *args, **kw), [x], dtype)
            _compare(lambda M, t: M.nn.functional.max_pool2d(t, *args, return_indices=True,
                                                             **kw)[1].to(t.dtype) + t.sum() * 0,
                     [x], dtype)
    assert len(PL._MAX_SETUP) == 5
    p = tg.nn.Parameter(tg.tensor(x4))
    tp = torch.nn.Parameter(torch.tensor(x4))
    np.testing.assert_array_equal(tg.nn.functional.max_pool2d(p, 2).detach().numpy(),
                                  torch.nn.functional.max_pool2d(tp, 2).detach().numpy())
    msgs = []
    for lib in (tg, torch):
        F = lib.nn.functional
        small, flat = lib.tensor(R.standard_normal((1, 1, 2, 2))), lib.tensor(np.zeros((6, 6)))
        big = lib.tensor(x4)
        for f in (lambda: F.max_pool2d(small, 3, 2, 1), lambda: F.max_pool2d(small, 3),
                  lambda: F.max_pool2d(flat, 2), lambda: F.max_pool2d(big, 2, padding=2),
                  lambda: F.max_pool2d(big, (2, 2, 2)), lambda: F.max_pool2d(big, 2)):
            try:
                msgs.append(tuple(f().shape))
            except RuntimeError as e:
                msgs.append(str(e))
    assert msgs[:6] == msgs[6:]


ONE_D = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
         dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=2, dilation=3, stride=1)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", ONE_D)
@pytest.mark.parametrize("shape", [(2, 3, 9), (3, 8)])
def test_pool1d_as_torch(shape, kw, dtype):
    x = R.standard_normal(shape)
    F = lambda M: M.nn.functional  # noqa: E731
    _compare(lambda M, x: F(M).max_pool1d(x, **kw), [x], dtype)
    _compare(lambda M, x: F(M).max_pool1d(x, return_indices=True, **kw), [x], dtype)
    kw = {k: v for k, v in kw.items() if k != "dilation"}
    for extra in (dict(), dict(count_include_pad=False)):
        _compare(lambda M, x: F(M).avg_pool1d(x, **kw, **extra), [x], dtype)
    for size in (1, 4, 3):
        _compare(lambda M, x: F(M).adaptive_avg_pool1d(x, size), [x], dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(2, 3, 2), stride=1,
                                                          padding=1, ceil_mode=True),
                                dict(kernel_size=2, stride=2, dilation=(1, 2, 1))])
def test_pool3d_as_torch(kw, dtype):
    x = R.standard_normal((2, 2, 4, 5, 4))
    F = lambda M: M.nn.functional  # noqa: E731
    _compare(lambda M, x: F(M).max_pool3d(x, return_indices=True, **kw), [x], dtype)
    kw = {k: v for k, v in kw.items() if k != "dilation"}
    _compare(lambda M, x: F(M).avg_pool3d(x, **kw), [x], dtype)
    _compare(lambda M, x: F(M).avg_pool3d(x[0], count_include_pad=False, **kw), [x], dtype)
    for size in (1, 2, (3, None, 2)):
        _compare(lambda M, x: F(M).adaptive_avg_pool3d(x, size), [x], dtype)


def test_max_pool_gradient_goes_where_torchs_kernel_points():
    """On ties the first maximum of a window (row-major), the last nan of a window with
    nans, the first element of a window of -inf inside the input; overlapping windows that
    pick one element add up."""
    for x in (TIES, NANS, np.full((1, 1, 3, 3), -np.inf)):
        grads = []
        for M in (tg, torch):
            t = M.tensor(x, requires_grad=True)
            y, i = M.nn.functional.max_pool2d(t, 2, 1, 1, return_indices=True)
            y.sum().backward()
            grads.append((t.grad.numpy().copy(), i.numpy().copy()))
        np.testing.assert_array_equal(grads[0][0], grads[1][0])
        np.testing.assert_array_equal(grads[0][1], grads[1][1])


def test_max_pool_gradcheck_and_gradgradcheck():
    x = tg.tensor(R.standard_normal((2, 2, 5, 6)), requires_grad=True)
    f = lambda a: tg.nn.functional.max_pool2d(a, 3, 2, 1, ceil_mode=True)  # noqa: E731
    assert gradcheck(f, [x])
    assert gradgradcheck(f, [x])


# ---- average pooling -------------------------------------------------------------------------
AVG = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
       dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
       dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True),
       dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
       dict(kernel_size=2, stride=1, divisor_override=3),
       dict(kernel_size=3, padding=1, ceil_mode=True, divisor_override=2)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", AVG)
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (3, 5, 8)])
def test_avg_pool2d_as_torch(shape, kw, dtype):
    _compare(lambda M, x: M.nn.functional.avg_pool2d(x, **kw), [R.standard_normal(shape)], dtype)


def test_avg_and_adaptive_pool_gradcheck_and_gradgradcheck():
    x = tg.tensor(R.standard_normal((2, 2, 5, 6)), requires_grad=True)
    for f in (lambda a: tg.nn.functional.avg_pool2d(a, 3, 2, 1, ceil_mode=True,
                                                    count_include_pad=False),
              lambda a: tg.nn.functional.adaptive_avg_pool2d(a, (3, 4)),
              lambda a: tg.nn.functional.adaptive_avg_pool2d(a, (5, 2))):
        assert gradcheck(f, [x])
        assert gradgradcheck(f, [x])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("size", [1, 2, (3, 4), (None, 5), (4, None), (9, 7), (1, 3), 0])
@pytest.mark.parametrize("shape", [(2, 3, 8, 6), (3, 5, 7)])
def test_adaptive_avg_pool2d_as_torch(shape, size, dtype):
    # (an empty output: torch's backward refuses it, so values only)
    _compare(lambda M, x: M.nn.functional.adaptive_avg_pool2d(x, size),
             [R.standard_normal(shape)], dtype, grads=size != 0)


# ---- adaptive max pooling --------------------------------------------------------------------
ADAPTIVE_MAX = [((2, 3, 7, 6), (3, 4)), ((3, 7, 6), 4), ((2, 3, 7, 6), (9, 2)),
                ((2, 3, 7, 6), (None, 2)), ((2, 3, 7, 6), 1), ((2, 3, 8, 6), (4, 3))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,size", ADAPTIVE_MAX)
def test_adaptive_max_pool_as_torch(shape, size, dtype):
    x = R.standard_normal(shape)
    F = lambda M: M.nn.functional  # noqa: E731
    _compare(lambda M, x: F(M).adaptive_max_pool2d(x, size, return_indices=True), [x], dtype)
    _compare(lambda M, x: F(M).adaptive_max_pool2d(x, size), [x], dtype)
    _compare(lambda M, x: F(M).adaptive_max_pool1d(x.flatten(-2), 5), [x], dtype)
    _compare(lambda M, x: F(M).adaptive_max_pool1d(x[..., 0], 3, True), [x], dtype)
    _compare(lambda M, x: F(M).adaptive_max_pool3d(x[None], (1, 3, 2)), [x], dtype)


@pytest.mark.parametrize("size", [(2, 3), 3, (1, 4)])
def test_adaptive_max_pool_picks_as_torch_on_ties_and_nans(size):
    _compare(lambda M, x: M.nn.functional.adaptive_max_pool2d(x, size, return_indices=True),
             [np.concatenate([TIES, NANS], 1)], "float64")


def test_adaptive_max_pool_gradcheck_and_gradgradcheck():
    x = tg.tensor(R.standard_normal((2, 2, 5, 6)), requires_grad=True)
    f = lambda a: tg.nn.functional.adaptive_max_pool2d(a, (3, 4))  # noqa: E731
    assert gradcheck(f, [x]) and gradgradcheck(f, [x])


# ---- pixel shuffle, F.unfold / F.fold ---------------------------------------------------------
SHUFFLE = [("pixel_shuffle", (2, 8, 3, 4), 2), ("pixel_shuffle", (3, 2, 9, 2, 3), 3),
           ("pixel_shuffle", (4, 2, 3), 1), ("pixel_unshuffle", (2, 3, 4, 6), 2),
           ("pixel_unshuffle", (2, 6, 3), 3)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,shape,r", SHUFFLE)
def test_pixel_shuffle_as_torch(name, shape, r, dtype):
    _compare(lambda M, x: getattr(M.nn.functional, name)(x, r), [R.standard_normal(shape)],
             dtype)


FOLDS = [dict(kernel_size=2), dict(kernel_size=(2, 3), padding=1, stride=2),
         dict(kernel_size=3, dilation=(2, 1), padding=(2, 1), stride=(1, 2)),
         dict(kernel_size=2, stride=3)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", FOLDS)
@pytest.mark.parametrize("batched", [True, False])
def test_unfold_and_fold_as_torch(kw, batched, dtype):
    shape = ((2,) if batched else ()) + (3, 7, 6)
    x = R.standard_normal(shape)
    F = lambda M: M.nn.functional  # noqa: E731
    _compare(lambda M, x: F(M).unfold(x, **kw), [x], dtype)
    cols = torch.nn.functional.unfold(torch.tensor(x), **kw).numpy()
    _compare(lambda M, c: F(M).fold(c, (7, 6), **kw), [cols], dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scatter_kernels_by_rows_replay_as_eager_and_torch(dtype):
    """The scatter kind's kernel pieces (kinds/gather.py: forward_scatter, sweep_scatter, by
    rows of the operand's last dim): a replay of F.fold with overlapping windows, of a padded
    convolution and of conv_transpose (forward_scatter adding repeated positions in numpy's
    np.add.at order) equals the eager values bit for bit and the eager gradients (sweep_scatter);
    create_graph through strided views of 1 to 4 dims and a 0-d select (their VJP a
    strided_scatter, swept again) gives torch's second derivatives."""
    def cases(M):
        F, w = M.nn.functional, M.tensor(W4, dtype=getattr(M, dtype))
        return [(lambda x: F.fold(x, (5, 6), 3, padding=1, stride=(1, 2)), (2, 18, 15)),
                (lambda x: F.conv2d(x, w, padding=(2, 1), stride=(1, 2)), (2, 3, 5, 7)),
                (lambda x: F.conv_transpose2d(x, w, stride=2, padding=1), (2, 4, 3, 4))]
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for i, ((f, shape), (ft, _)) in enumerate(zip(cases(tg), cases(torch))):
        x = R.standard_normal(shape).astype(dtype)
        out = tg.record(f, tg.tensor(x))
        rec = tg.record(lambda x: f(x).sin().sum(), tg.tensor(x))
        for at in (x, x * 0.5 - 0.25):
            xe, xt = tg.tensor(at, requires_grad=True), torch.tensor(at, requires_grad=True)
            y = f(xe)
            if i == 0:   # (fold: the scatter alone, bit for bit; the others hold products)
                assert np.asarray(out.forward(at)).tobytes() == y.detach().numpy().tobytes()
            else:
                np.testing.assert_allclose(np.asarray(out.forward(at)), y.detach().numpy(), **tol)
            y.sin().sum().backward()
            ft(xt).sin().sum().backward()
            v, (g,) = rec.value_and_grad(at)
            np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), **tol)
            np.testing.assert_allclose(np.asarray(g), xe.grad.numpy(), **tol)
    xa = R.standard_normal((3, 4, 5))
    views = [lambda x: x[1], lambda x: x[:, 1:4:2], lambda x: x.transpose(0, 2)[1:, ::2],
             lambda x: x[2, 3, 1], lambda x: x.unsqueeze(1).expand(3, 2, 4, 5)]
    got = []
    for M in (tg, torch):
        x = M.tensor(xa, dtype=getattr(M, dtype), requires_grad=True)
        outs = []
        for view in views:
            y = view(x * x.sin())
            g, = M.autograd.grad((y * y * y).sum(), x, create_graph=True)
            gg, = M.autograd.grad((g * g.cos()).sum(), x)
            outs += [g.detach().numpy(), gg.numpy()]
        got.append(outs)
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-4 if dtype == "float32" else 1e-10,
                                   atol=1e-4 if dtype == "float32" else 1e-10)


W4 = R.standard_normal((4, 3, 3, 2))


def test_fold_gradcheck_and_gradgradcheck():
    c = tg.tensor(R.standard_normal((2, 8, 15)), requires_grad=True)
    f = lambda a: tg.nn.functional.fold(a, (4, 5), 2, padding=1, stride=(1, 2))  # noqa: E731
    assert gradcheck(f, [c]) and gradgradcheck(f, [c])


EMPTY = ["F.conv2d(m.randn(0, 3, 8, 8, requires_grad=True), m.randn(4, 3, 3, 3), m.randn(4))",
         "F.conv_transpose2d(m.randn(0, 3, 4, 4, requires_grad=True), m.randn(3, 2, 2, 2),"
         " m.randn(2))",
         "F.max_pool2d(m.randn(0, 3, 4, 4, requires_grad=True), 2, padding=1)",
         "F.avg_pool2d(m.randn(0, 3, 4, 4, requires_grad=True), 2)",
         "F.adaptive_avg_pool2d(m.randn(0, 3, 4, 4, requires_grad=True), 3)",
         "F.adaptive_max_pool2d(m.randn(0, 3, 4, 4, requires_grad=True), 3)",
         "F.unfold(m.randn(0, 3, 4, 4, requires_grad=True), 2)",
         "F.fold(m.randn(0, 12, 9, requires_grad=True), (4, 4), 2)"]
# (torch's PixelShuffleBackward0 fails on an empty batch, so it is not compared here)


@pytest.mark.parametrize("src", EMPTY)
def test_empty_batches_as_torch(src):
    res = []
    for M in (tg, torch):
        y = eval(src, {"m": M, "F": M.nn.functional})
        y.sum().backward()
        res.append((tuple(y.shape), type(y.grad_fn).__name__))
    assert res[0] == res[1]


# ---- errors ----------------------------------------------------------------------------------
ERRORS = [
    "x.unfold(2, 9, 1)", "x.unfold(2, 3, 0)", "x.unfold(2, -1, 1)", "x.unfold(4, 2, 1)",
    "F.conv2d(x, m.randn(4, 2, 3, 3))", "F.conv2d(x, w, groups=2)",
    "F.conv2d(m.randn(2, 4, 8, 8), m.randn(3, 2, 3, 3), groups=2)", "F.conv2d(x, w, groups=0)",
    "F.conv2d(x, m.randn(1, 3, 3, 3), groups=2)", "F.conv2d(x[None], w)", "F.conv2d(x[0, 0], w)",
    "F.conv2d(x, w[0])", "F.conv2d(x, m.randn(4, 3, 3, 3, 3))", "F.conv2d(x, m.randn(4, 3, 9, 9))",
    "F.conv2d(x, w, stride=0)", "F.conv2d(x, w, padding=-1)", "F.conv2d(x, w, dilation=0)",
    "F.conv2d(x, w, stride=2, padding='same')", "F.conv2d(x, w, padding='foo')",
    "F.conv2d(x, w, m.randn(3))", "F.conv2d(x, w, m.randn(4, 1))", "F.conv2d(x, w.double())",
    "F.conv2d(x.double(), w)", "F.conv2d(x, w, m.randn(4).double())",
    "F.conv2d(x, w, stride=(1, 1, 1))", "F.conv1d(x, w)", "F.conv3d(x, w)",
    "F.conv2d(x, w, dilation=(1, 1, 1))", "F.conv2d(x, w, padding=(1, -1))",
    "F.max_pool2d(x, 9)", "F.max_pool2d(x, 2, padding=2)", "F.max_pool2d(x, 2, padding=-1)",
    "F.max_pool2d(x, 2, stride=0)", "F.max_pool2d(x, 3, 1, 2, dilation=2)",
    "F.max_pool2d(x, 3, 1, 2, dilation=2, return_indices=True)[1].shape",
    "F.max_pool2d(x, 2, dilation=0)", "F.max_pool2d(x, 0)",
    "F.max_pool2d(x, 0, 1)", "F.max_pool2d(x[0, 0], 2)", "F.max_pool2d(x[None], 2)",
    "F.max_pool2d(x, (2, 2, 2))", "F.max_pool2d(x, 2, (2, 2, 2))",
    "F.max_pool2d(x, 2, 2, (0, 0, 0))", "F.max_pool2d(x, 2, 2, 0, (1, 1, 1))",
    "F.max_pool2d(x[:, :0], 2)", "F.max_pool1d(x, 2)", "F.max_pool1d(x[0, 0, 0], 2)",
    "F.max_pool1d(x[0], 9)", "F.max_pool1d(x[0], 2, padding=2)", "F.max_pool1d(x[0], 2, 0)",
    "F.max_pool1d(x[0], 0)", "F.max_pool1d(x[0], 2, dilation=0)", "F.max_pool1d(x[0], (2, 2))",
    "F.max_pool1d(x[0], 9, return_indices=True)", "F.max_pool1d(x, 2, return_indices=True)",
    "F.avg_pool2d(x, 9)", "F.avg_pool2d(x, 2, padding=2)", "F.avg_pool2d(x, 2, stride=0)",
    "F.avg_pool2d(x, 0)", "F.avg_pool2d(x, 2, divisor_override=0)", "F.avg_pool2d(x[0, 0], 2)",
    "F.avg_pool2d(x[None], 2)", "F.avg_pool2d(x, (2, 2, 2))", "F.avg_pool2d(x, 2, (2, 2, 2))",
    "F.avg_pool2d(x, 2, 2, (0, 0, 0))", "F.avg_pool1d(x, 2)", "F.avg_pool1d(x[0], 9)",
    "F.avg_pool1d(x[0], 2, padding=2)", "F.avg_pool1d(x[0], (2, 2))",
    "F.avg_pool2d(x.long(), 2)", "F.adaptive_avg_pool2d(x, -1)",
    "F.adaptive_avg_pool2d(x[0, 0], 2)", "F.adaptive_avg_pool2d(x, (2, 2, 2))",
    "F.adaptive_avg_pool1d(x, 2)", "F.adaptive_avg_pool1d(x[0], (2, 2))",
    "F.adaptive_avg_pool2d(x.long(), 2)", "F.avg_pool2d(x.int(), 2)",
    "F.avg_pool2d(m.arange(-8, 8).reshape(1, 1, 4, 4), 2, divisor_override=-3).tolist()",
    "F.avg_pool2d(m.arange(-8, 8).reshape(1, 1, 4, 4), 3, padding=1).tolist()",
    "F.max_pool2d(m.arange(-8, 8).reshape(1, 4, 4), 3, padding=1).tolist()",
    "F.max_pool3d(x, 2)", "F.avg_pool3d(x[0], 2)", "F.max_pool3d(y, 2, padding=2)",
    "F.max_pool3d(y, 3, 1, 2, dilation=2)", "F.max_pool3d(y, 9)", "F.max_pool3d(y, (2, 2))",
    "F.avg_pool3d(y, (2, 2))", "F.avg_pool3d(y, 2, (2, 2))", "F.avg_pool3d(y, 9)",
    "F.max_pool3d(y, 0, 1)", "F.adaptive_avg_pool3d(y[0, 0], 2)",
    "F.adaptive_avg_pool3d(y, (2, 2))",
    "nn.Conv2d(3, 4, 3, groups=2)", "nn.Conv2d(4, 3, 3, groups=2)", "nn.Conv2d(4, 4, 3, groups=0)",
    "nn.Conv2d(4, 4, 3, padding_mode='foo')", "nn.Conv2d(4, 4, 3, stride=2, padding='same')",
    "nn.Conv2d(4, 4, 3, padding='foo')",
    "F.pixel_shuffle(x[0, 0], 2)", "F.pixel_shuffle(x, 3)", "F.pixel_shuffle(x, 0)",
    "F.pixel_unshuffle(x, 3)", "F.pixel_unshuffle(x[:, :, :7], 2)", "F.pixel_unshuffle(x, 0)",
    "F.pixel_unshuffle(x[0, 0], 2)", "F.unfold(x, 0)", "F.unfold(x, 2, dilation=0)",
    "F.unfold(x, 2, padding=-1)", "F.unfold(x, 2, stride=0)", "F.unfold(x[0, 0], 2)",
    "F.unfold(x[None], 2)", "F.unfold(x, 9)", "F.unfold(x, (2, 2, 2))", "F.unfold(x[:, :0], 2)",
    "F.fold(m.randn(2, 13, 20), (5, 6), 2)", "F.fold(m.randn(2, 12, 21), (5, 6), 2)",
    "F.fold(m.randn(2, 12, 20), (5, 6), 0)", "F.fold(m.randn(2, 12, 20), (5, 6), 2, stride=0)",
    "F.fold(m.randn(2, 12, 20), (5, 6), 2, padding=-1)",
    "F.fold(m.randn(2, 12, 20), (5, 6), 2, dilation=0)", "F.fold(m.randn(2, 12, 20), 5, 2)",
    "F.fold(m.randn(2, 2, 12, 20), (5, 6), 2)", "F.fold(m.randn(2, 12, 20), (1, 1), 2)",
    "F.fold(m.randn(2, 12, 20), (5, 6, 1), 2)", "nn.Softmax2d()(x[0, 0])",
    "nn.CircularPad2d(1)(x[0, 0])", "F.conv_transpose2d(x, w, output_padding=2)",
    "F.conv_transpose2d(x, w, stride=2, output_padding=2)", "F.conv_transpose2d(x, w[:3])",
    "F.conv_transpose2d(x, w, padding='same')", "F.conv_transpose2d(x[:, :, :4], w, m.randn(4))",
    "F.conv_transpose2d(x, w, groups=2)", "F.conv_transpose2d(x, w, groups=0)",
    "F.conv_transpose2d(x[0, 0], w)", "F.conv_transpose2d(x, w.double())",
    "F.conv_transpose2d(x[:, :, :4], m.randn(3, 2, 3, 3).double())",
    "F.conv2d(x, m.randn(4, 2, 3, 3).double())", "F.conv_transpose2d(x.double(), w[:3])",
    "F.conv_transpose2d(x, w, m.randn(4).double())", "F.conv_transpose2d(x.double(), w)",
    "F.conv_transpose2d(x, w, stride=0)", "F.conv_transpose2d(x, w, padding=-1)",
    "F.conv_transpose2d(x, w, output_padding=-1)", "F.conv_transpose2d(x, w, stride=(1, 1, 1))",
    "F.conv_transpose1d(x, w)", "nn.ConvTranspose2d(4, 6, 3, padding_mode='reflect')",
    "nn.ConvTranspose2d(3, 6, 3, stride=2)(x, output_size=(20, 17))",
    "nn.ConvTranspose2d(3, 6, 3, stride=2)(x, output_size=(17,))",
    "list(nn.ConvTranspose2d(3, 6, 3, stride=2)(x, output_size=(2, 6, 18, 17)).shape)",
    "F.adaptive_max_pool2d(x, -1)", "F.adaptive_max_pool2d(x[0, 0], 2)",
    "F.adaptive_max_pool2d(x, (2, 2, 2))", "F.adaptive_max_pool1d(x, 2)",
    "F.adaptive_max_pool1d(x[0], (2, 2))", "F.adaptive_max_pool2d(x.long(), 2)",
    "F.adaptive_max_pool2d(x[:, :0], 2)", "F.adaptive_max_pool3d(x[0, 0], 2)",
    "list(F.adaptive_max_pool2d(x, 0).shape)", "F.adaptive_max_pool2d(x[0], (1, 2, 3))",
    "F.adaptive_max_pool1d(x[0, :, :, :0], 2)", "F.adaptive_avg_pool1d(x[0, :, :, :0], 2)",
    "F.adaptive_max_pool2d(x[:, :, 1:1], 2)", "F.adaptive_avg_pool2d(x[:, :, :, :0], 2)",
]


def _errors(M):
    env = {"m": M, "F": M.nn.functional, "nn": M.nn, "x": M.randn(2, 3, 8, 8),
           "w": M.randn(4, 3, 3, 3), "y": M.randn(2, 2, 6, 6, 6)}
    out = []
    for src in ERRORS:
        try:
            r = eval(src, env)
            out.append(f"{src}: {r if isinstance(r, list) else 'no error'}")
        except Exception as e:  # noqa: BLE001  (compared with torch's)
            # (a set in a message prints in its hash order, which differs between processes)
            msg = re.sub(r"\{([^{}]*)\}", lambda g: "{" + ", ".join(sorted(
                g.group(1).split(", "))) + "}", str(e))
            out.append(f"{src}: {type(e).__name__}: {msg}".replace("torch.", "tapegrad."))
    return out


def test_errors_as_torch():
    for a, b in zip(_errors(tg), _errors(torch)):
        assert a == b


# ---- modules ---------------------------------------------------------------------------------
REPRS = """
for m in [nn.Conv2d(3, 8, 3), nn.Conv2d(4, 8, (3, 5), stride=2, padding=1, dilation=2, groups=2,
          bias=False, padding_mode='reflect'), nn.Conv1d(2, 3, 3, padding='same'),
          nn.Conv2d(2, 2, 3, padding='valid'), nn.Conv3d(2, 4, (1, 2, 3), stride=(1, 1, 2)),
          nn.Conv1d(2, 4, 5, padding=2, padding_mode='circular'),
          nn.MaxPool2d(2), nn.MaxPool1d(3, 2, 1, ceil_mode=True), nn.MaxPool3d((1, 2, 2)),
          nn.MaxPool2d(3, return_indices=True, dilation=2), nn.AvgPool2d(2), nn.AvgPool1d(3),
          nn.AvgPool2d((2, 3), padding=1, divisor_override=2), nn.AvgPool3d(2, 1),
          nn.AdaptiveAvgPool2d((None, 3)), nn.AdaptiveAvgPool1d(3), nn.AdaptiveAvgPool3d(1),
          nn.PixelShuffle(2), nn.PixelUnshuffle(3), nn.Softmax2d(), nn.Unfold(2),
          nn.Fold((4, 4), 2), nn.Unfold((2, 3), dilation=2, padding=1, stride=2),
          nn.ZeroPad1d(2), nn.ZeroPad2d((1, 0, 2, 1)), nn.ZeroPad3d(1), nn.ConstantPad1d((1, 2), 3),
          nn.ConstantPad2d(1, -1.5), nn.ConstantPad3d((1, 0, 0, 1, 2, 0), 0.5),
          nn.ReflectionPad1d(2), nn.ReflectionPad2d((1, 0, 2, 1)), nn.ReflectionPad3d(1),
          nn.ReplicationPad1d((0, 2)), nn.ReplicationPad2d(1), nn.ReplicationPad3d(1),
          nn.CircularPad1d(1), nn.CircularPad2d((1, 2, 0, 1)), nn.CircularPad3d(1),
          nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, output_padding=1),
          nn.ConvTranspose1d(2, 3, 3), nn.ConvTranspose3d(2, 4, 2, dilation=2, bias=False),
          nn.AdaptiveMaxPool2d((3, None)), nn.AdaptiveMaxPool1d(3, return_indices=True),
          nn.AdaptiveMaxPool3d(2)]:
    print(m, [(n, tuple(p.shape)) for n, p in m.named_parameters()], list(m.state_dict()))

m = nn.Conv2d(4, 8, (3, 5), groups=2)
print(m._reversed_padding_repeated_twice, m.padding, m.transposed, m.output_padding, m.groups)
print(nn.Conv2d(2, 2, 4, padding='same', dilation=1)._reversed_padding_repeated_twice)
print(nn.Conv1d(2, 2, 3, padding='same', dilation=3)._reversed_padding_repeated_twice)
p = nn.MaxPool2d(2, return_indices=True); print(p.stride, p.padding, p.dilation, p.ceil_mode)
print(nn.AvgPool1d(3).stride, nn.AvgPool2d(3).stride, nn.AvgPool2d(3).count_include_pad)
print(nn.Conv2d(3, 4, 3).double().weight.dtype, nn.Conv2d(3, 4, 3, dtype=torch.float64).bias.dtype)
net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                    nn.Linear(4 * 4 * 4, 10))
print(net)
print(list(net.state_dict()))
"""


def _exec(src, M):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(src, {"torch": M, "nn": M.nn})
    return buf.getvalue().replace("torch.", "tapegrad.")


def test_module_reprs_parameters_and_state_dicts_as_torch():
    assert _exec(REPRS, tg) == _exec(REPRS, torch)


MODULES = [
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 9)),
    ("Conv1d", (2, 4, 3), dict(padding="same", padding_mode="circular"), (2, 2, 7)),
    ("Conv2d", (4, 6, (3, 2)), dict(dilation=(2, 1), groups=2, padding=(2, 1)), (2, 4, 7, 6)),
    ("Conv2d", (3, 2, 3), dict(padding=1, padding_mode="reflect", bias=False), (3, 6, 5)),
    ("Conv2d", (3, 2, 3), dict(padding=(2, 1), padding_mode="replicate"), (2, 3, 6, 5)),
    ("Conv2d", (3, 2, 4), dict(padding="same"), (2, 3, 6, 5)),
    ("Conv3d", (2, 3, (2, 3, 2)), dict(padding=1, stride=(1, 2, 1)), (2, 2, 4, 5, 4)),
    ("MaxPool1d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 3, 8)),
    ("MaxPool2d", (2,), dict(), (2, 3, 6, 5)),
    ("MaxPool3d", (2,), dict(stride=1), (2, 2, 4, 3, 4)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 8)),
    ("AvgPool2d", (3,), dict(stride=2, ceil_mode=True), (2, 3, 7, 6)),
    ("AvgPool3d", (2,), dict(divisor_override=3), (2, 2, 4, 4, 4)),
    ("AdaptiveAvgPool1d", (3,), dict(), (2, 3, 8)),
    ("AdaptiveAvgPool2d", ((3, None),), dict(), (2, 3, 7, 6)),
    ("AdaptiveAvgPool3d", (2,), dict(), (2, 2, 4, 5, 4)),
    ("ConvTranspose1d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 5)),
    ("ConvTranspose2d", (4, 6, (2, 3)), dict(groups=2, dilation=(1, 2)), (4, 3, 5)),
    ("ConvTranspose3d", (2, 2, 2), dict(stride=2), (1, 2, 2, 3, 2)),
    ("AdaptiveMaxPool1d", (4,), dict(), (2, 3, 9)),
    ("AdaptiveMaxPool2d", ((3, None),), dict(), (2, 3, 7, 6)),
    ("AdaptiveMaxPool3d", ((2, 1, 3),), dict(), (2, 2, 4, 5, 4)),
    ("PixelShuffle", (2,), dict(), (2, 8, 3, 2)), ("PixelUnshuffle", (2,), dict(), (2, 2, 4, 6)),
    ("Softmax2d", (), dict(), (2, 3, 4, 5)), ("Unfold", (2,), dict(padding=1), (2, 3, 4, 5)),
    ("ZeroPad2d", ((1, 0, 2, 1),), dict(), (2, 3, 4, 5)),
    ("ConstantPad3d", (1, 2.5), dict(), (2, 3, 2, 3, 2)),
    ("ReflectionPad2d", (2,), dict(), (3, 4, 5)),
    ("ReplicationPad1d", ((1, 3),), dict(), (2, 3, 4)),
    ("CircularPad2d", ((1, 2, 0, 1),), dict(), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,args,kw,shape", MODULES, ids=[f"{m[0]}-{i}" for i, m in
                                                             enumerate(MODULES)])
def test_modules_match_torch_with_the_same_weights(name, args, kw, shape, dtype):
    x = R.standard_normal(shape)
    res = []
    for M in (tg, torch):
        mod = getattr(M.nn, name)(*args, **kw).to(getattr(M, dtype))
        params = list(mod.parameters())
        with M.no_grad():
            for i, p in enumerate(params):
                p.copy_(M.tensor(np.sin(np.arange(p.numel()) * (0.3 + i)).reshape(
                    tuple(p.shape)), dtype=p.dtype))
        xt = M.tensor(x, dtype=getattr(M, dtype), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = mod(xt)
        (y * y).sum().backward()
        res.append([y.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in params]
                   + [_names(y.grad_fn)])
    # (torch's circular pad is a cat of slices and copies; tapegrad's one gather: same values,
    # another graph, docs/semantics.md)
    assert res[0][-1] == res[1][-1] or name.startswith("Circular")
    for a, b in zip(res[0][:-1], res[1][:-1]):
        _close(a, b, dtype)


def test_conv_default_init_is_torchs_distribution():
    tg.manual_seed(0)
    m = tnn.Conv2d(6, 8, (3, 5), groups=2)
    fan_in = 3 * 15
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    # kaiming_uniform_(a=sqrt(5)): gain sqrt(1/3) times sqrt(3 / fan_in)
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound and w.std() > 0.45 * bound
    assert m.weight.requires_grad and type(m.weight).__name__ == "Parameter"


# ---- replay ----------------------------------------------------------------------------------
def test_cnn_recorded_once_replays_as_eager_and_guards_its_maxima(tmp_path):
    tg.manual_seed(0)
    net = tnn.Sequential(tnn.Conv2d(2, 3, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                         tnn.AdaptiveMaxPool2d((3, 2)), tnn.AvgPool2d(2, ceil_mode=True),
                         tnn.Flatten(), tnn.Linear(3 * 2 * 1, 2))
    x0 = R.standard_normal((2, 2, 7, 8)).astype(np.float32)

    def f(x):
        return net(x).square().sum()
    rec = tg.record(f, tg.tensor(x0))
    rec.save(tmp_path / "cnn.tape")
    assert_replays_as_eager(tg.load_tape(tmp_path / "cnn.tape"), f, x0, 1e-5, 1e-4, 1e-6)
    x1 = x0 + np.float32(1e-4) * R.standard_normal(x0.shape).astype(np.float32)
    assert_replays_as_eager(rec, f, x1, 1e-5, 1e-4, 1e-6)   # (the maxima stay where they were)
    with pytest.raises(tg.replay.BranchChanged):
        rec.value_and_grad(R.standard_normal((2, 2, 7, 8)).astype(np.float32))


def test_conv1d_model_replays_at_new_inputs_and_in_batches():
    tg.manual_seed(1)
    net = tnn.Sequential(tnn.Conv1d(2, 4, 3, padding="same"), tnn.Tanh(),
                         tnn.AdaptiveAvgPool1d(3), tnn.AvgPool1d(2, 1), tnn.Flatten(),
                         tnn.Linear(8, 1))

    def f(x):
        return net(x).square().sum()
    rec = tg.record(f, tg.tensor(R.standard_normal((3, 2, 9)).astype(np.float32)))
    ys = R.standard_normal((4, 3, 2, 9)).astype(np.float32)
    vb, (gb,) = rec.value_and_grad_batch(ys)
    for y, v, g in zip(ys, np.asarray(vb), np.asarray(gb)):
        t = tg.tensor(y, requires_grad=True)
        loss = f(t)
        loss.backward()
        np.testing.assert_allclose(v, loss.item(), rtol=1e-5)
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-4, atol=1e-6)


# ---- end to end ------------------------------------------------------------------------------
def _train(M):
    """A tiny CNN (Conv2d, ReLU, MaxPool2d, Linear) trained with CrossEntropyLoss and SGD
    from fixed weights: its losses."""
    net = M.nn.Sequential(M.nn.Conv2d(1, 4, 3, padding=1), M.nn.ReLU(), M.nn.MaxPool2d(2),
                          M.nn.Conv2d(4, 6, 3, stride=2, groups=2), M.nn.ReLU(),
                          M.nn.Flatten(), M.nn.Linear(6, 3)).double()
    with M.no_grad():
        for i, p in enumerate(net.parameters()):
            p.copy_(M.tensor(np.sin(np.arange(p.numel()) * 0.7 + i).reshape(tuple(p.shape))
                             * 0.4, dtype=M.float64))
    rng = np.random.default_rng(3)
    x = M.tensor(rng.standard_normal((8, 1, 6, 6)), dtype=M.float64)
    t = M.tensor(rng.integers(0, 3, 8))
    opt = M.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss_fn = M.nn.CrossEntropyLoss()
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = loss_fn(net(x), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_tiny_cnn_trains_as_torch():
    a, b = _train(tg), _train(torch)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert a[-1] < a[0]


def _subclassed_transpose(lib, shape, output_size):
    """A ConvTranspose2d subclass whose forward is torch's, calling _output_padding with its
    full signature (as copies of torch's forward do)."""
    class Standardized(lib.nn.ConvTranspose2d):
        def forward(self, input, output_size=None):
            w = self.weight - self.weight.mean()
            output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                                  self.kernel_size, 2, self.dilation)
            return lib.nn.functional.conv_transpose2d(input, w, self.bias, self.stride,
                                                      self.padding, output_padding,
                                                      self.groups, self.dilation)
    lib.manual_seed(0)
    layer = Standardized(2, 3, 3, stride=2, padding=1, dilation=2)
    x = lib.tensor(np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 10)
    try:
        return layer(x, output_size=output_size).detach().numpy()
    except ValueError as e:
        return str(e).replace("tapegrad.", "torch.")


@pytest.mark.parametrize("shape, output_size", [((1, 2, 4, 4), [8, 9]), ((1, 2, 4, 4), None),
                                                ((2, 4, 4), [1, 3, 9, 8]),
                                                ((2, 4, 4), [12, 12])])
def test_conv_transpose_output_padding_has_torchs_signature(shape, output_size):
    """_output_padding(input, output_size, stride, padding, kernel_size, num_spatial_dims,
    dilation=None), as torch's (tapegrad's took (input, output_size): a TypeError); its
    range error shows input.size()[2:] even of an unbatched input, as torch's."""
    ours = _subclassed_transpose(tg, shape, output_size)
    theirs = _subclassed_transpose(torch, shape, output_size)
    if isinstance(theirs, str):
        assert ours == theirs
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 0, 4), (0, 3, 0, 4), (2, 3, 4, 0), (3, 0, 4),
                                   (0, 3, 4, 4), (2, 0, 4, 4)])
@pytest.mark.parametrize("kernel", [1, 2])
def test_conv_transpose_of_empty_input_as_torch(shape, kernel):
    """An empty input to a transposed convolution: with an empty batch or channel dim the
    empty result, even of size 0 (torch's kernel and its "Output size is too small" are not
    reached), else torch's "Only zero batch or zero channel inputs are supported" (tapegrad:
    that output-size error, or a result)."""
    def call(lib):
        w = lib.ones(shape[-3], 2, kernel, kernel)
        try:
            return list(lib.nn.functional.conv_transpose2d(lib.ones(shape), w).shape)
        except RuntimeError as e:
            return str(e)
    assert call(tg) == call(torch)


@pytest.mark.parametrize("shape", [(2, 3, 0), (3, 0), (2, 3, 0, 2, 2), (3, 0, 2, 2)])
def test_conv_transpose_of_empty_spatial_dims_shows_torchs_shape(shape):
    """torch's message shows the input as its kernels see it: batched, and a 1-d one as
    2-d ([2, 3, 1, 0])."""
    k = len(shape) - 1 if len(shape) in (2, 4) else len(shape) - 2
    fn = getattr(tg.nn.functional, f"conv_transpose{k}d")
    tfn = getattr(torch.nn.functional, f"conv_transpose{k}d")
    with pytest.raises(RuntimeError) as ref:
        tfn(torch.ones(shape), torch.ones((3, 2) + (1,) * k))
    with pytest.raises(RuntimeError) as got:
        fn(tg.ones(shape), tg.ones((3, 2) + (1,) * k))
    assert str(got.value) == str(ref.value)


def _empty_conv_run(lib, name, xs, ws, bs=None, xdt="float32", wdt="float32", **kw):
    """name's output (shape, dtype, sum) and the gradients' (shape, dtype, sum), or the error."""
    x = lib.ones(xs, dtype=getattr(lib, xdt), requires_grad=True)
    w = lib.ones(ws, dtype=getattr(lib, wdt), requires_grad=True)
    args = (x, w) if bs is None else (x, w, lib.ones(bs, requires_grad=True))
    try:
        y = getattr(lib.nn.functional, name)(*args, **kw)
    except Exception as e:   # noqa: BLE001  (the error is the behaviour compared)
        return type(e).__name__, str(e).replace("torch.", "tapegrad.")
    (y.double() * 1.5).sum().backward()
    return [(tuple(t.shape), str(t.dtype).split(".")[1], float(t.sum()))
            for t in (y,) + tuple(a.grad for a in args)]


# torch's Empty backend (an empty input): an input without channels gives an output without
# channels (N, 0, *positions), in the dtype of input * weight, whatever OC, the bias's
# gradient zeros; it checks no dtypes (tapegrad gave (N, OC, ...) with the bias broadcast,
# and refused a weight of another dtype)
EMPTY_CONV_CALLS = {
    "conv2d no channels": ("conv2d", (1, 0, 5, 5), (3, 0, 3, 3)),
    "conv2d no channels bias": ("conv2d", (2, 0, 5, 5), (3, 0, 3, 3), (3,)),
    "conv2d no channels groups": ("conv2d", (1, 0, 5, 5), (4, 0, 3, 3), None, "float32",
                                  "float32", {"groups": 2}),
    "conv2d no channels float64 weight": ("conv2d", (1, 0, 5, 5), (3, 0, 3, 3), None,
                                          "float32", "float64"),
    "conv2d no channels same": ("conv2d", (1, 0, 5, 5), (3, 0, 3, 3), None, "float32",
                                "float32", {"padding": "same"}),
    "conv1d no channels unbatched": ("conv1d", (0, 5), (3, 0, 3)),
    "conv3d no channels": ("conv3d", (1, 0, 3, 3, 3), (2, 0, 2, 2, 2), (2,)),
    "conv2d no batch float64 weight": ("conv2d", (0, 2, 5, 5), (3, 2, 3, 3), None, "float32",
                                       "float64"),
    "conv2d no batch float32 weight": ("conv2d", (0, 2, 5, 5), (3, 2, 3, 3), None, "float64",
                                       "float32"),
    "conv2d no batch no out channels": ("conv2d", (0, 2, 5, 5), (0, 2, 3, 3)),
    "conv_transpose2d no batch float64 weight": ("conv_transpose2d", (0, 2, 5, 5),
                                                 (2, 3, 3, 3), (3,), "float32", "float64"),
    "conv_transpose2d no out channels": ("conv_transpose2d", (1, 2, 3, 3), (2, 0, 2, 2)),
    "conv_transpose1d no out channels": ("conv_transpose1d", (1, 2, 3), (2, 0, 2)),
    "conv_transpose3d no out channels": ("conv_transpose3d", (2, 2, 3, 3, 3),
                                         (2, 0, 2, 2, 2), None, "float64", "float64"),
    "conv_transpose2d no out channels oneDNN": ("conv_transpose2d", (2, 2, 3, 3),
                                                (2, 0, 2, 2)),
    "conv_transpose2d no out channels no batch": ("conv_transpose2d", (0, 2, 3, 3),
                                                  (2, 0, 2, 2)),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CONV_CALLS))
def test_convolution_of_empty_input_as_torch(name):
    entry = EMPTY_CONV_CALLS[name]
    fn, xs, ws, bs, xdt, wdt, kw = entry + (None, "float32", "float32", {})[len(entry) - 3:]
    ours = _empty_conv_run(tg, fn, xs, ws, bs, xdt, wdt, **kw)
    assert ours == _empty_conv_run(torch, fn, xs, ws, bs, xdt, wdt, **kw)


# another dtype of weight (or bias) fails with the check of the backend torch picks: oneDNN's
# "Input type ... should be the same or input should be a MKLDNN tensor" for float32 input
# where its use_mkldnn holds (a batch, groups, a large kernel or image, strides), the native
# kernels' "expected scalar type" elsewhere, and a transposed 1-d or 2-d convolution's native
# kernel adds a bias of another dtype in the input's (tapegrad: oneDNN's for every float32
# batch of several, the other one for a single image, and refused every other bias)
@pytest.mark.parametrize("case", [
    ("conv2d", (1, 2, 3, 3), (3, 2, 2, 2), None, "float64", {}),
    ("conv2d", (1, 2, 6, 6), (3, 2, 4, 4), None, "float64", {}),
    ("conv2d", (1, 2, 6, 6), (4, 1, 2, 2), None, "float64", {"groups": 2}),
    ("conv1d", (1, 2, 6), (3, 2, 4), None, "int64", {}),
    ("conv2d", (2, 2, 3, 3), (3, 2, 2, 2), None, "float64", {}),
    ("conv_transpose2d", (1, 2, 3, 3), (2, 3, 2, 2), None, "float64", {}),
    ("conv_transpose2d", (1, 2, 3, 3), (2, 3, 2, 2), "float64", None, {}),
    ("conv_transpose1d", (2, 2, 3), (2, 3, 2), "int64", None, {}),
    ("conv_transpose3d", (1, 2, 3, 3, 3), (2, 3, 2, 2, 2), "float64", None, {}),
])
def test_convolution_dtype_checks_as_torch(case):
    name, xs, ws, bdt, wdt, kw = case

    def call(lib):
        b = None if bdt is None else lib.full((ws[1] if "transpose" in name else ws[0],), 0.5,
                                              dtype=getattr(lib, bdt))
        w = lib.ones(ws, dtype=getattr(lib, wdt or "float32"))
        try:
            y = getattr(lib.nn.functional, name)(lib.ones(xs), w, b, **kw)
        except RuntimeError as e:
            return str(e).replace("torch.", "tapegrad.")
        return tuple(y.shape), str(y.dtype).split(".")[1], float(y.sum())
    assert call(tg) == call(torch)


@pytest.mark.parametrize("k, batch, padding, x_dt, weight_too", list(itertools.product(
    (1, 2, 3), (1, 2), ("same", "valid", 1), ("float32", "float64"), (False, True))))
def test_conv_padding_string_takes_a_bias_of_another_dtype(k, batch, padding, x_dt, weight_too):
    # fuzz_nn seeds 10507, 11893: conv{k}d's own check of the bias's dtype ("Input type (float)
    # and bias type (double) should be the same") is not in its padding-string form, whose
    # backend then decides: oneDNN refuses the bias, the native kernels add it in x's dtype
    # (its gradient in the bias's), a weight of another dtype failing first either way
    other = "float64" if x_dt == "float32" else "float32"

    def call(lib):
        x = lib.arange(batch * 2 * 5 ** k, dtype=getattr(lib, x_dt)).reshape(
            (batch, 2) + (5,) * k).div(50).requires_grad_()
        w = lib.linspace(-1, 1, 4 * 3 ** k, dtype=getattr(lib, other if weight_too else x_dt))
        w = w.reshape((2, 2) + (3,) * k).requires_grad_()
        b = lib.tensor([0.5, -1.5], dtype=getattr(lib, other), requires_grad=True)
        try:
            y = getattr(lib.nn.functional, f"conv{k}d")(x, w, b, padding=padding)
        except RuntimeError as e:
            return str(e).replace("torch.", "tapegrad.")
        (y * y).sum().backward()
        return (str(y.dtype)[-7:], type(y.grad_fn).__name__, str(b.grad.dtype)[-7:],
                [np.asarray(t.tolist()) for t in (y, x.grad, w.grad, b.grad)])
    ours, theirs = call(tg), call(torch)
    if isinstance(theirs, str):
        assert ours == theirs
    else:
        assert ours[:3] == theirs[:3]
        for a, b in zip(ours[3], theirs[3]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("other", ["weight", "bias"])
def test_conv_transpose_checks_shapes_before_dtypes_as_torch(k, other):
    # fuzz_nn seeds 13172, 13424, 13905: torch's oneDNN takes no output padding as large as
    # the stride, and the native kernels check the output padding and the output size
    # before the dtypes; tapegrad checked the dtypes first (oneDNN's message where torch
    # says "output padding must be smaller than either stride or dilation")
    def call(lib, n, dx, op, small, stride):
        wrong = "float64" if dx == "float32" else "float32"
        x = lib.ones((n, 2) + (2,) * k, dtype=getattr(lib, dx))
        w = lib.ones((2, 3) + (2,) * k, dtype=getattr(lib, wrong if other == "weight" else dx))
        b = lib.ones(3, dtype=getattr(lib, wrong if other == "bias" else dx))
        try:   # (small: a padding of 2, an output too small where stride + op < 3)
            y = getattr(lib.nn.functional, f"conv_transpose{k}d")(
                x, w, b, stride=stride, padding=2 if small else 0, output_padding=op)
        except RuntimeError as e:
            return str(e).replace("torch.", "tapegrad.")
        return str(y.dtype).split(".")[1], tuple(y.shape)
    for case in itertools.product((1, 2), ("float32", "float64"), (0, 1, 2), (False, True),
                                  (1, 2)):
        assert call(tg, *case) == call(torch, *case), case


@pytest.mark.parametrize("k", [1, 2, 3])
def test_conv_transpose_zero_dilation_checked_first_in_the_native_kernels(k):
    # the native kernels' shape check reads the dilations before the output padding and the
    # output size (and before the dtypes): tapegrad's zero-dilation check came last
    def call(lib, other, op, small, stride):
        x = lib.ones((1, 2) + (2,) * k, dtype=lib.float64)
        w = lib.ones((2, 3) + (2,) * k, dtype=lib.float32 if other == "weight" else lib.float64)
        b = lib.ones(3, dtype=lib.float32 if other == "bias" else lib.float64)
        try:
            y = getattr(lib.nn.functional, f"conv_transpose{k}d")(
                x, w, b, stride=stride, padding=2 if small else 0, output_padding=op,
                dilation=0)
        except RuntimeError as e:
            return str(e).replace("torch.", "tapegrad.")
        return str(y.dtype).split(".")[1], tuple(y.shape)
    for case in itertools.product(("weight", "bias", None), (0, 1, 2), (False, True), (1, 2)):
        assert call(tg, *case) == call(torch, *case), case


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_windows_pick_as_the_numpy_path_and_torch(monkeypatch, dtype):
    """2 x 2 windows wholly inside the input (_pool_loops._full_2x2, the window unrolled) on
    values full of nans, infinities and ties, with strides and dilations (no padding: every
    window inside): every output as the numpy path's (monkeypatched back), torch's values,
    indices and gradients."""
    from tapegrad.nn import _decomps_pool as P
    from tapegrad.nn._pooling import _out_size
    rng = np.random.default_rng(11)
    vals = np.array([np.nan, -np.inf, np.inf, 0.5, -0.0, 0.0], dtype)
    checked = 0
    for trial in range(60):
        sizes = tuple(int(v) for v in rng.integers(2, 9, 2))
        stride = [int(v) for v in rng.integers(1, 4, 2)]
        dilation = [int(v) for v in rng.integers(1, 3, 2)]
        out = [_out_size(sizes[i], 2, 0, stride[i], dilation[i], False) for i in range(2)]
        if min(out) < 1:
            continue
        arr = rng.standard_normal((2, 3) + sizes).astype(dtype)
        odd = rng.random(arr.shape) < 0.4
        arr[odd] = rng.choice(vals, int(odd.sum()))
        if trial % 9 == 0:
            arr[...] = -np.inf
        new = P.max_positions(arr, [2, 2], stride, [0, 0], dilation, out)
        with monkeypatch.context() as m:
            m.setattr(P, "_LOOP_DTYPES", ())
            old = P.max_positions(arr, [2, 2], stride, [0, 0], dilation, out)
        for a, b in zip(new, old):
            if isinstance(a, np.ndarray):
                assert a.shape == b.shape and np.array_equal(a, b), trial
            else:
                assert a == b
        if trial % 10 == 0:
            _compare(lambda M, x: M.nn.functional.max_pool2d(
                x, 2, stride=stride, dilation=dilation, return_indices=True), [arr],
                np.dtype(dtype).name)
        checked += 1
    assert checked > 30


JOINED_KW = [dict(padding=1), dict(padding="same"), dict(padding=(0, 1)),
             dict(padding=(2, 2), dilation=(1, 2)), dict(padding=(1, 1), dilation=(2, 1))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", JOINED_KW, ids=[str(k) for k in JOINED_KW])
def test_conv2d_node_same_width_rows_as_torch_and_the_decomposition(kw, dtype):
    """Stride-1 convolutions whose output rows are as long as the input's (the loops' one
    run per kernel element, _conv_loops._im2col_rows_joined / _col2im_rows_joined): values
    and gradients as torch's and the decomposition's (forward bit for bit, -0.0 inputs
    included)."""
    arrays = [R.standard_normal((2, 3, 5, 7)), R.standard_normal((4, 3, 3, 3)) * 0.5,
              R.standard_normal(4)]
    arrays[0].reshape(-1)[::4] = -0.0
    arrays[0][1, 2] = -0.0
    for bias in (True, False):
        for needs in ((True, True, True), (True, False, False), (False, True, False)):
            if needs[2] and not bias:
                continue
            _node_compare(arrays, dtype, kw, bias, needs, "c")
    _node_compare(arrays, dtype, kw, True, (True, True, True), "t")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("padding, output_padding", [(2, 0), (3, 0), (0, 1), (0, 2)])
def test_conv_transpose_output_size_and_output_padding_checks_as_torch(dtype, dim, groups,
                                                                        padding, output_padding):
    # test_fuzz_nn seeds 138, 160, 1426, 1499: oneDNN (float32, groups > 1) makes an empty
    # result of a zero output size and fails on a negative one with its own words (tapegrad
    # raised "Output size is too small"); a 1-d convolution's messages show it as 2-d
    # ("(1 x 2)", "output_padding_height: 0 ..."), tapegrad's showed one dim.  (A 2-wide
    # kernel, dilated: output size 4 - 2 * padding + output_padding, and oneDNN's choice
    # does not depend on the thread count, which conftest sets for torch only)
    got = []
    for m in (tg, torch):
        x = m.ones((1, 2) + (2,) * dim, dtype=getattr(m, dtype), requires_grad=True)
        w = m.ones((2, 1) + (2,) * dim, dtype=getattr(m, dtype), requires_grad=True)
        f = getattr(m.nn.functional, f"conv_transpose{dim}d")
        try:
            y = f(x, w, None, padding=padding, output_padding=output_padding, groups=groups,
                  dilation=2)
            y.sum().backward()
            got.append((tuple(y.shape), x.grad.tolist(), w.grad.tolist()))
        except RuntimeError as e:
            got.append(str(e).replace("torch.", "tapegrad."))
    assert got[0] == got[1]
