"""nll_loss's one-pass case (F.nll_loss / F.cross_entropy of a 2-d input at class indices, no
weight, none ignored, mean or sum) as one entry of the nll kind (tapegrad/kinds/nll.py):
values and gradients as torch's and as finite differences, the entry count, grad_fn,
next_functions and the saved input, create_graph to second order, an in-place change of the
input, record/replay (every kernel: the kind has kernel pieces), hvp, a tape file holding it,
and the cases that stay the decomposition row."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import replay, tapefile
from tapegrad.ops import OPS
from replay_check import assert_round_trips
from test_linalg import _edited

RNG = np.random.default_rng(23)
NLL = OPS["nll"].code if "nll" in OPS else -1   # (-1: a tree without the kind)
SHAPES = [(2, 2), (16, 10), (64, 100)]
REDUCTIONS = ["mean", "sum"]
TOL = {"float64": dict(rtol=1e-12, atol=1e-14), "float32": dict(rtol=2e-6, atol=1e-6)}


def _data(shape, dtype="float64", scale=3.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


def _targets(n, c):
    return RNG.integers(0, c, n)


def _loss(m, fn, x, t, reduction):
    F = m.nn.functional
    if fn == "cross_entropy":
        return F.cross_entropy(x, m.tensor(t), reduction=reduction)
    return F.nll_loss(x, m.tensor(t), reduction=reduction)


def _ops(t):
    return [int(o) for o in t._tape.op[:t._tape.n]]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_values_and_gradients_as_torch(fn, reduction, shape, dtype):
    torch = pytest.importorskip("torch")
    x, t = _data(shape, dtype), _targets(*shape)
    got = []
    for m in (tg, torch):
        a = m.tensor(x, requires_grad=True)
        y = _loss(m, fn, a, t, reduction)
        y.backward()
        got.append((y.item(), a.grad.numpy(), type(y.grad_fn).__name__))
    # (the sum's rounding: numpy's pairwise sum against torch's; cancellation in float32)
    scale = np.abs(x).max() * shape[0] * np.finfo(dtype).eps * 4
    np.testing.assert_allclose(got[0][0], got[1][0], rtol=TOL[dtype]["rtol"], atol=scale)
    if fn == "nll_loss":   # torch's formula, -(g / N) or -g: the same bits
        np.testing.assert_array_equal(got[0][1], got[1][1])
    else:
        np.testing.assert_allclose(got[0][1], got[1][1], **TOL[dtype])
    assert got[0][2] == got[1][2] == "NllLossBackward0"


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_the_nll_part_is_one_entry(fn, reduction):
    """After the leaf (and cross_entropy's log_softmax entry): one nll entry, the loss's,
    holding the targets as params and imm 1.0 for mean."""
    x, t = _data((16, 10)), _targets(16, 10)
    y = _loss(tg, fn, tg.tensor(x, requires_grad=True), t, reduction)
    want = [OPS["leaf"].code] + ([OPS["log_softmax"].code] if fn == "cross_entropy" else [])
    assert _ops(y) == want + [NLL] and y._node == y._tape.n - 1
    assert y._tape.params_of(y._node).tolist() == t.tolist()
    assert float(y._tape.imm[y._node]) == (1.0 if reduction == "mean" else 0.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_gradcheck_and_gradgradcheck(fn, reduction):
    x = tg.tensor(_data((5, 4), scale=1.0), requires_grad=True)
    t = _targets(5, 4)
    assert tg.autograd.gradcheck(lambda a: _loss(tg, fn, a * a.sin(), t, reduction), (x,))
    assert tg.autograd.gradgradcheck(lambda a: _loss(tg, fn, a * a.sin(), t, reduction), (x,))


def test_same_values_as_the_decomposition_row(monkeypatch):
    """The entry's eager value is the row's body's numpy calls: the same bits, float32 and
    float64, mean and sum, with infinities among the inputs."""
    from tapegrad.nn import _onepass
    real = _onepass.nll_loss
    for dtype in ("float32", "float64"):
        for reduction in REDUCTIONS:
            x, t = _data((37, 11), dtype, 10.0), _targets(37, 11)
            x[3, t[3]] = -np.inf
            got = []
            for writer in (real, lambda *a: None):
                monkeypatch.setattr(_onepass, "nll_loss", writer)
                y = tg.nn.functional.nll_loss(tg.tensor(x, requires_grad=True), tg.tensor(t),
                                              reduction=reduction)
                got.append((y.detach().numpy().tobytes(), y._tape.op[y._node] == NLL))
            assert got[0][0] == got[1][0] and got[0][1] and not got[1][1]


@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_grad_fn_next_functions_and_saved_self_as_torch(fn):
    torch = pytest.importorskip("torch")
    x, t = _data((4, 3)), _targets(4, 3)
    facts = []
    for m in (tg, torch):
        a = m.tensor(x, requires_grad=True)
        ys = [_loss(m, fn, a, t, "mean"), _loss(m, fn, a * 2, t, "sum")]
        facts.append([(y.grad_fn.name(), [(type(f).__name__, k) for f, k in
                                          y.grad_fn.next_functions]) for y in ys])
        saved = ys[1].grad_fn._saved_self
        want = (a * 2).detach() if fn == "nll_loss" else m.log_softmax(a * 2, 1).detach()
        np.testing.assert_allclose(saved.detach().numpy(), want.numpy(), rtol=1e-15)
    assert facts[0] == facts[1]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_create_graph_second_order_as_torch(fn, reduction):
    """The gradient requires grad (it reads the input, as torch's nll_loss_backward): of nll
    its derivative in x is zeros; of cross_entropy it flows through log_softmax."""
    torch = pytest.importorskip("torch")
    x, t = _data((6, 5), scale=1.0), _targets(6, 5)
    got = []
    for m in (tg, torch):
        a = m.tensor(x, requires_grad=True)
        s = m.tensor(1.5, dtype=m.float64, requires_grad=True)
        y = _loss(m, fn, a.tanh() * 2.0, t, reduction)
        (g,) = m.autograd.grad(y, a, grad_outputs=s, create_graph=True)
        assert g.requires_grad
        h, hs = m.autograd.grad((g * g).sum(), (a, s))
        got.append((g.detach().numpy(), h.numpy(), hs.item()))
    for u, v in zip(*got):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("leaf", [True, False])
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_inplace_change_of_the_input_as_torch(fn, leaf):
    """torch's node saves self: changing the loss's input in place before backward is its
    version error (cross_entropy's input is log_softmax's output, itself saved)."""
    torch = pytest.importorskip("torch")
    msgs = []
    for m in (tg, torch):
        a0 = m.tensor(_data((4, 3)), requires_grad=True)
        a = a0 if leaf else a0 * 1.0
        x = a if fn == "nll_loss" else m.log_softmax(a, 1)
        y = m.nn.functional.nll_loss(x, m.tensor([0, 2, 1, 1]))
        with m.no_grad():
            x.mul_(2.0)
        with pytest.raises(RuntimeError) as err:
            y.backward()
        msgs.append(str(err.value).split("Hint")[0].replace("torch", "tapegrad"))
    assert msgs[0] == msgs[1]


def _model(m, fn, reduction, dtype="float64"):
    w = m.tensor(np.linspace(-1.0, 1.0, 50).reshape(5, 10).astype(dtype))
    t = m.tensor(np.array([0, 9, 3, 3, 7, 1, 2, 5]))

    def f(x):
        z = x @ w
        if fn == "cross_entropy":
            return m.nn.functional.cross_entropy(z, t, reduction=reduction)
        return m.nn.functional.nll_loss(m.log_softmax(z, 1), t, reduction=reduction)
    return f


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_record_replay_as_eager(fn, reduction, dtype):
    """A recording tape takes the one-pass case too (its targets are constants of the
    trace): one nll entry, whose kernel pieces replay it as eager does."""
    f = _model(tg, fn, reduction, dtype)
    rec = tg.record(f, tg.tensor(np.zeros((8, 5), dtype)))
    ops = rec.prog["op"].tolist()
    assert ops.count(NLL) == 1 and OPS["where"].code not in ops
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=2e-6, atol=1e-6)
    for scale in (1.0, 30.0):
        xa = _data((8, 5), dtype, scale)
        value, (g,) = rec.value_and_grad(xa)
        a = tg.tensor(xa, requires_grad=True)
        y = f(a)
        y.backward()
        np.testing.assert_allclose(float(value), y.item(), **tol)
        np.testing.assert_allclose(g, a.grad.numpy(), **tol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_batch_and_hvp_as_torch(fn, reduction):
    """value_and_grad_batch (the pieces, no pause) and hvp (replay's tensor re-run: the
    kind's tensor faces) against torch."""
    torch = pytest.importorskip("torch")
    rec = tg.record(_model(tg, fn, reduction), tg.tensor(np.zeros((8, 5))))
    xs = np.stack([_data((8, 5), scale=1.0) for _ in range(3)])
    values, (gs,) = rec.value_and_grad_batch(xs)
    tf = _model(torch, fn, reduction)
    for i, xa in enumerate(xs):
        tx = torch.tensor(xa, requires_grad=True)
        tv = tf(tx)
        tv.backward()
        np.testing.assert_allclose(values[i], tv.item(), rtol=1e-12)
        np.testing.assert_allclose(gs[i], tx.grad.numpy(), rtol=1e-10, atol=1e-13)
        v = _data((8, 5), scale=1.0)
        _, (h,) = rec.hvp((xa,), (v,))
        th = torch.autograd.functional.hvp(tf, torch.tensor(xa), torch.tensor(v))[1]
        np.testing.assert_allclose(h, th.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_tape_file_round_trip_and_bad_params(tmp_path, reduction):
    rec = tg.record(_model(tg, "cross_entropy", reduction), tg.tensor(np.zeros((8, 5))))
    assert_round_trips(rec, tmp_path / "nll.npz", _data((8, 5)))
    members = replay.to_arrays(rec)
    e = int(np.flatnonzero(members["op"] == NLL)[0])
    for k, v in ((0, 10), (3, -1)):   # a target past the classes, or negative

        def edit(arrs, k=k, v=v):
            arrs["params"][arrs["par"][e] + k] = v
        with pytest.raises(tapefile.TapeFormatError, match="nll target"):
            replay.from_arrays(_edited(members, edit))

    def half(arrs):
        arrs["imm"][e] = 0.5
    with pytest.raises(tapefile.TapeFormatError, match="imm is not 0 or 1"):
        replay.from_arrays(_edited(members, half))


def test_other_cases_stay_the_decomposition_row():
    """A weight, an ignored target, reduction="none", a 3-d input or a target that requires
    tracking keep the row nll_loss (its group); no_grad computes the value only."""
    F = tg.nn.functional
    x = tg.tensor(_data((4, 3)), requires_grad=True)
    t = tg.tensor([0, 2, 1, 1])
    for y in (F.nll_loss(x, t, weight=tg.ones(3, dtype=tg.float64)),
              F.nll_loss(x, tg.tensor([0, -100, 1, 1])),
              F.nll_loss(x, t, reduction="none").sum(),
              F.nll_loss(x.reshape(4, 3, 1), t.reshape(4, 1))):
        assert NLL not in _ops(y)
        assert y.grad_fn.name() in ("NllLossBackward0", "NllLoss2DBackward0", "SumBackward0")
    with tg.no_grad():
        y = F.nll_loss(x, t)
    assert y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), F.nll_loss(x, t).detach().numpy())


def _old_nll_value(lpa, tv, mean):
    """The nll entry's value by its first formula (where(onehot, x, 0).sum(1), neg, the sum):
    the reference the indexed one must match bit for bit."""
    n, c = lpa.shape
    dtn = lpa.dtype.type
    with np.errstate(all="ignore"):
        picked = np.asarray(np.add.reduce(np.where(tv[:, None] == np.arange(c), lpa, dtn(0.0)),
                                          (1,), dtn, None, False), dtype=dtn)
        red = np.add.reduce(np.negative(picked), (0,), dtn, None, False)
    if mean:
        red = dtn(float(red) / n)
    return np.asarray(red, dtype=dtn)


def _special_inputs(rng, n, c, dtype, kind):
    """(n, c) inputs that stress the sum: cancellation, signed zeros, infinities, nan,
    overflow, subnormals."""
    x = rng.standard_normal((n, c)).astype(dtype)
    t = rng.integers(0, c, n)
    rows = np.arange(n)
    big = np.finfo(dtype).max
    if kind == "cancel":     # large terms of both signs and small ones
        x[rows, t] = (rng.choice([-1.0, 1.0], n) * 10.0 ** rng.integers(-8, 9, n)
                      + rng.standard_normal(n)).astype(dtype)
    elif kind == "zeros":    # every picked value a signed zero
        x[rows, t] = np.where(rng.random(n) < 0.5, -0.0, 0.0).astype(dtype)
    elif kind == "negzeros":
        x[rows, t] = -0.0
    elif kind == "special":  # infinities, nan, signed zeros, subnormals among the picked
        pool = np.array([np.inf, -np.inf, np.nan, -np.nan, -0.0, 0.0,
                         np.finfo(dtype).smallest_subnormal, -big, big], dtype)
        k = rng.integers(0, 9, n)
        sel = rng.random(n) < 0.2
        x[rows[sel], t[sel]] = pool[k[sel]]
    elif kind == "overflow":
        x[rows, t] = (rng.choice([-1.0, 1.0], n) * big * rng.uniform(0.5, 1.0, n)).astype(dtype)
    return x, t


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_indexed_value_bit_equal_to_the_one_hot_sum(dtype):
    """The entry's value, x[i, target[i]] read by indexing, has the bits of the one-hot sum's
    formula it replaced, over many shapes (up to 500 rows), both reductions, with
    cancellation, signed zeros, infinities, nan, overflow; non-contiguous inputs too; eager,
    no_grad and the tensor face alike.  (A check of 'the same as before': it passes without
    the change too.  The indexed picks are made +0.0 where -0.0 as the one-hot sums were;
    numpy 2's sum of signed zeros is +0.0 whatever their signs, so that step is not seen in
    the value here, but it keeps the picks themselves the same bits.)"""
    from tapegrad.nn import _onepass
    rng = np.random.default_rng(7)
    F = tg.nn.functional
    shapes = [(2, 2), (3, 2), (2, 7), (16, 10), (37, 11), (64, 100), (127, 3), (500, 10),
              (500, 2), (256, 33)] + [tuple(int(v) for v in rng.integers(2, 80, 2))
                                      for _ in range(20)]
    for n, c in shapes:
        for kind in ("normal", "cancel", "zeros", "negzeros", "special", "overflow"):
            x, t = _special_inputs(rng, n, c, dtype, kind)
            for mean in (True, False):
                want = _old_nll_value(x, t, mean).tobytes()
                case = (n, c, t)
                assert _onepass._nll(tg.tensor(x), None, case, mean).numpy().tobytes() == want
                red = "mean" if mean else "sum"
                a = tg.tensor(x, requires_grad=True)
                y = F.nll_loss(a, tg.tensor(t), reduction=red)
                assert y._tape.op[y._node] == NLL
                assert y.detach().numpy().tobytes() == want, (n, c, kind, mean)
                # a transposed (non-contiguous) input of the same values
                xt = tg.tensor(np.ascontiguousarray(x.T), requires_grad=True).t()
                y = F.nll_loss(xt, tg.tensor(t), reduction=red)
                assert y.detach().numpy().tobytes() == want
    # the tensor face (create_graph's, a replay's re-run) reads the same formula
    x, t = _special_inputs(rng, 40, 6, dtype, "special")
    a = tg.tensor(x, requires_grad=True)
    y = tg.views.KIND_OPS.nll(a, t, True)
    assert y.detach().numpy().tobytes() == _old_nll_value(x, t, True).tobytes()


def test_target_range_check_as_before():
    """_nll_case's one-pass range check of int64 targets takes the case exactly when every
    target is in range(c) and none is ignore_index (the old min/max test): negative ones,
    ones at c, the int64 extremes, non-contiguous targets.  (The same as before.)"""
    from tapegrad.nn import _onepass
    rng = np.random.default_rng(3)
    x = tg.tensor(_data((6, 5)), requires_grad=True)
    big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    cases = [[0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 5, 0], [0, -1, 2, 3, 4, 0], [small] * 6,
             [big] * 6, [0, 0, 0, 0, 0, small], [4, 4, 4, 4, 4, big], [4] * 6, [0] * 6,
             [-100, 0, 1, 2, 3, 4]] + [list(rng.integers(-3, 8, 6)) for _ in range(50)]
    for tv in cases:
        tv = np.array(tv, np.int64)
        strided = tg.tensor(np.stack([tv, tv + 1], 1))[:, 0]
        assert not strided._v.flags.c_contiguous
        for target in (tg.tensor(tv), strided):
            for ignore in (-100, 2, 4, 5, -1, 0, 2.0, 2.5, np.int64(3), True, False):
                want = (tv.min() >= 0 and tv.max() < 5
                        and not (ignore in range(5) and (tv == ignore).any()))
                case = _onepass._nll_case(x, target, "mean", ignore)
                assert (case is not None) == bool(want), (tv, ignore)
