"""nn.functional.ctc_loss and nn.CTCLoss against torch 2.13: values and gradients w.r.t.
log_probs (float32 and float64; padded and concatenated targets; every reduction;
zero_infinity with impossible targets; blank first and last; variable lengths; unbatched
input; lengths as lists, tuples and tensors), grad_fn chains, torch's errors; finite
differences, create_graph and replay run without torch."""
import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd import gradcheck, gradgradcheck
from grad_fn_trees import grad_fn_tree

try:
    import torch
except ImportError:    # the finite-difference checks still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

R = np.random.default_rng(11)
T, N, C, S = 8, 4, 5, 4


def _log_probs(t=T, n=N, c=C, seed=0):
    x = np.random.default_rng(seed).normal(size=(t, n, c)) * 2.0
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _targets(blank, n=N, s=S, c=C, seed=1):
    labels = [k for k in range(c) if k != blank]
    return np.random.default_rng(seed).choice(labels, size=(n, s))


# (input lengths, target lengths); the third sequence repeats a label with no room for a blank
LENS = ([8, 7, 3, 5], [4, 2, 2, 0])


def _run(m, lp, targets, il, tl, dtype, **kw):
    x = m.tensor(lp, dtype=dtype, requires_grad=True)
    y = m.nn.functional.ctc_loss(x, targets, il, tl, **kw)
    (y.sum() if y.dim() else y).backward()
    return y, x.grad


def _compare(lp, make_targets, il, tl, dtype_name, rtol=None, **kw):
    dt, dg = getattr(torch, dtype_name), getattr(tg, dtype_name)
    yt, gt = _run(torch, lp, make_targets(torch), il(torch), tl(torch), dt, **kw)
    yg, gg = _run(tg, lp, make_targets(tg), il(tg), tl(tg), dg, **kw)
    tol = rtol or (1e-10 if dtype_name == "float64" else 2e-5)
    assert yg.dtype is dg and tuple(yg.shape) == tuple(yt.shape)
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(gg.numpy(), gt.numpy(), rtol=tol, atol=tol * 10)
    # nan exactly where torch has nan (infinite losses without zero_infinity)
    assert np.array_equal(np.isnan(gg.numpy()), np.isnan(gt.numpy()))
    assert grad_fn_tree(yg, 6) == grad_fn_tree(yt, 6)
    return yg, gg


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("layout", ["padded", "concat"])
@pytest.mark.parametrize("blank", [0, C - 1])
def test_against_torch(dtype, reduction, zero_infinity, layout, blank):
    lp = _log_probs()
    tgt = _targets(blank)
    tgt[2, :2] = tgt[2, 0]             # a repeat that needs 3 steps, with input length 3 ok
    tgt[1, 1] = tgt[1, 0]              # a repeat: 3 steps of 7, possible
    il, tl = LENS
    il = list(il)
    il[2] = 2                          # the repeat has no room: an infinite loss
    if layout == "padded":
        def mk(m):
            return m.tensor(tgt)
    else:
        flat = np.concatenate([tgt[i, :k] for i, k in enumerate(tl)])

        def mk(m):
            return m.tensor(flat)
    yg, gg = _compare(lp, mk, lambda m: il, lambda m: tl, dtype, reduction=reduction,
                      zero_infinity=zero_infinity, blank=blank)
    if zero_infinity:
        assert np.isfinite(gg.numpy()).all()
    elif reduction != "none":
        assert not np.isfinite(yg.item())


@needs_torch
@pytest.mark.parametrize("kind", ["list", "tuple", "tensor", "int32_tensor"])
def test_length_types(kind):
    lp = _log_probs(seed=3)
    tgt = _targets(0, seed=4)
    il, tl = [8, 6, 8, 4], [3, 4, 1, 2]

    def conv(v):
        def f(m):
            if kind == "list":
                return list(v)
            if kind == "tuple":
                return tuple(v)
            return m.tensor(v, dtype=m.int32 if kind == "int32_tensor" else m.int64)
        return f
    for red in ("mean", "none"):
        _compare(lp, lambda m: m.tensor(tgt), conv(il), conv(tl), "float64", reduction=red)


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_unbatched(reduction):
    lp = _log_probs(seed=5)[:, 0]
    tgt = _targets(0, seed=6)[0]
    for mk_tg, il, tl in [(lambda m: m.tensor(tgt[:3]), [8], [3]),
                          (lambda m: m.tensor(tgt[None]), [7], [3]),
                          (lambda m: m.tensor(tgt[:2]), lambda m: m.tensor(6),
                           lambda m: m.tensor(2))]:
        il_f = il if callable(il) else (lambda m, v=il: v)
        tl_f = tl if callable(tl) else (lambda m, v=tl: v)
        _compare(lp, mk_tg, il_f, tl_f, "float64", reduction=reduction)


@needs_torch
def test_edge_lengths_and_targets():
    """Empty targets, empty inputs, int32 and float targets, targets of the padded width
    longer than needed, padding out of range, raw (unnormalized) log_probs."""
    lp = _log_probs(seed=7)
    tgt = _targets(0, seed=8)
    tgt[0, 3] = 99                             # padding: not read
    cases = [([8, 8, 8, 8], [0, 1, 0, 3]), ([0, 0, 5, 1], [0, 1, 2, 1]),
             ([1, 2, 3, 4], [1, 1, 1, 1])]
    for il, tl in cases:
        _compare(lp, lambda m: m.tensor(tgt), lambda m: il, lambda m: tl, "float64",
                 reduction="none")
    for dt in ("int32", "float32"):
        _compare(lp, lambda m: m.tensor(tgt).to(getattr(m, dt)), lambda m: [8] * 4,
                 lambda m: [2, 3, 3, 1], "float64")
    raw = np.random.default_rng(9).normal(size=(T, N, C))   # gradient exp(lp) - posterior
    _compare(raw, lambda m: m.tensor(tgt), lambda m: [8] * 4, lambda m: [3, 3, 2, 1],
             "float64", reduction="sum")


@needs_torch
def test_module():
    lp = _log_probs(seed=10)
    tgt = _targets(C - 1, seed=11)
    for kw in ({}, {"blank": C - 1, "reduction": "sum"}, {"zero_infinity": True,
                                                          "reduction": "none"}):
        if kw.get("blank", 0) == 0:
            tg_ = np.where(tgt == 0, 1, tgt)
        else:
            tg_ = tgt
        mt, mg = torch.nn.CTCLoss(**kw), tg.nn.CTCLoss(**kw)
        assert repr(mt) == repr(mg)
        assert (mg.blank, mg.reduction, mg.zero_infinity) == (mt.blank, mt.reduction,
                                                               mt.zero_infinity)
        yt = mt(torch.tensor(lp), torch.tensor(tg_), [8, 5, 6, 8], [4, 2, 3, 1])
        yg = mg(tg.tensor(lp), tg.tensor(tg_), [8, 5, 6, 8], [4, 2, 3, 1])
        np.testing.assert_allclose(yg.numpy(), yt.numpy(), rtol=1e-12)


def test_gradcheck_float64():
    """Finite differences through log_softmax (torch's gradient w.r.t. raw log_probs adds
    exp(log_probs), which is the gradient through a log_softmax), and the second derivative
    (torch has none: 'derivative for aten::_ctc_loss_backward is not implemented')."""
    x = tg.tensor(np.random.default_rng(12).normal(size=(6, 3, 4)), requires_grad=True)
    tgt = tg.tensor([[1, 2, 2], [3, 1, 0], [2, 3, 1]])

    def f(x):
        return F.ctc_loss(x.log_softmax(2), tgt, [6, 5, 6], [3, 1, 3], reduction="sum")
    assert gradcheck(f, (x,))
    with pytest.raises(RuntimeError, match="derivative for aten::_ctc_loss_backward is not "
                                           "implemented"):
        gradgradcheck(f, (x,))

    def g(x):   # the raw loss: its gradient is -posterior, torch's exp(lp) - posterior
        return F.ctc_loss(x, tgt, [6, 5, 6], [3, 1, 3], reduction="none")
    lp = x.detach().log_softmax(2).requires_grad_()
    (gr,) = tg.autograd.grad(g(lp).sum(), lp)
    eps = 1e-6
    fd = np.zeros(lp.shape)
    base = lp.detach().numpy()
    for idx in np.ndindex(*lp.shape):
        a, b = base.copy(), base.copy()
        a[idx] += eps
        b[idx] -= eps
        fd[idx] = (g(tg.tensor(a)).sum().item() - g(tg.tensor(b)).sum().item()) / (2 * eps)
    live = np.ones(lp.shape, bool)
    live[5:, 1] = False
    expect = np.where(live, fd + np.exp(base), 0.0)
    np.testing.assert_allclose(gr.numpy(), expect, rtol=1e-5, atol=1e-7)


def test_create_graph_and_zero_infinity_hessian():
    x = tg.tensor(_log_probs(seed=13), requires_grad=True)
    tgt = tg.tensor(_targets(0, seed=14))
    y = F.ctc_loss(x, tgt, [8, 8, 1, 8], [2, 3, 3, 4], zero_infinity=True)
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    assert np.isfinite(g.detach().numpy()).all()
    assert np.all(g.detach().numpy()[:, 2] == 0)
    with pytest.raises(RuntimeError, match="_ctc_loss_backward is not implemented"):
        tg.autograd.grad((g * g).sum(), x)   # (torch's: its backward has no derivative)


def test_grad_fn_names_without_torch():
    x = tg.tensor(_log_probs(), requires_grad=True)
    tgt = tg.tensor(_targets(0))
    y = F.ctc_loss(x, tgt, [8] * 4, [2] * 4, reduction="none")
    assert type(y.grad_fn).__name__ == "CtcLossBackward0"
    assert [type(f).__name__ for f, _ in y.grad_fn.next_functions] == ["AccumulateGrad"]
    assert grad_fn_tree(F.ctc_loss(x, tgt, [8] * 4, [2] * 4), 4) == [
        "MeanBackward0", "DivBackward0", "CtcLossBackward0", "AccumulateGrad", None]


def test_replay_matches_eager(tmp_path):
    """Recorded once, replayed at new log-probabilities (also from a tape file)."""
    tgt = tg.tensor(_targets(0, seed=15))

    def f(x):
        return F.ctc_loss(x.log_softmax(2), tgt, [8, 6, 7, 8], [4, 2, 3, 1])
    x0 = np.random.default_rng(16).normal(size=(T, N, C))
    rec = tg.record(f, tg.tensor(x0))
    rec.save(tmp_path / "ctc.tape")
    for x in (x0, np.random.default_rng(17).normal(size=(T, N, C)) * 3):
        v, (g,) = tg.load_tape(tmp_path / "ctc.tape").value_and_grad(x)
        xe = tg.tensor(x, requires_grad=True)
        loss = f(xe)
        loss.backward()
        np.testing.assert_allclose(float(v), loss.item(), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(g), xe.grad.numpy(), rtol=1e-8, atol=1e-12)


def _err(m, fn):
    try:
        fn(m)
    except Exception as e:      # noqa: BLE001  (compared with torch's)
        return type(e).__name__, str(e)
    return None


ERRORS = {
    "4d": lambda m, lp, t: m.nn.functional.ctc_loss(lp.unsqueeze(0), t, [5, 5], [2, 2]),
    "1d": lambda m, lp, t: m.nn.functional.ctc_loss(lp[:, 0, 0], t, [5, 5], [2, 2]),
    "0d": lambda m, lp, t: m.nn.functional.ctc_loss(lp[0, 0, 0], t, [5, 5], [2, 2]),
    "int_lengths": lambda m, lp, t: m.nn.functional.ctc_loss(lp[:, 0], t[0], 5, 2),
    "mixed_lengths": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, 5], m.tensor([2, 2])),
    "float_blank": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, 5], [2, 2], blank=1.0),
    "blank_neg": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, 5], [2, 2], blank=-1),
    "blank_C": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, 5], [2, 2], blank=4),
    "il_size": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5], [2, 2]),
    "tl_size": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, 5], [2, 2, 2]),
    "il_neg": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, -1], [2, 2]),
    "il_big": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, 6], [2, 2]),
    "tl_neg": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, 5], [2, -1]),
    "tl_big": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, 5], [2, 3]),
    "both_neg": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, -1], [2, -1]),
    "cat_size": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t.reshape(-1), [5, 5], [2, 1]),
    "tg_batch": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t[:1], [5, 5], [2, 2]),
    "tg_3d": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t.unsqueeze(0), [5, 5], [2, 2]),
    "tg_0d": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t[0, 0], [5, 5], [2, 2]),
    "lp_long": lambda m, lp, t: m.nn.functional.ctc_loss(lp.long(), t, [5, 5], [2, 2]),
    "empty": lambda m, lp, t: m.nn.functional.ctc_loss(lp[:0], t, [0, 0], [2, 2]),
    "float_il": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, m.tensor([5., 5.]),
                                                         m.tensor([2, 2])),
    "bool_tl": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, m.tensor([5, 5]),
                                                        m.tensor([True, True])),
    "reduction": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, 5], [2, 2],
                                                          reduction="avg"),
    "module_reduction": lambda m, lp, t: m.nn.CTCLoss(reduction="x")(lp, t, [5, 5], [2, 2]),
    "zero_inf_int": lambda m, lp, t: m.nn.functional.ctc_loss(lp, t, [5, 5], [2, 2],
                                                             zero_infinity=1),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_as_torch(name):
    lp = _log_probs(5, 2, 4)
    t = np.array([[1, 2], [3, 1]])
    et = _err(torch, lambda m: ERRORS[name](m, m.tensor(lp, dtype=m.float32), m.tensor(t)))
    eg = _err(tg, lambda m: ERRORS[name](m, m.tensor(lp, dtype=m.float32), m.tensor(t)))
    assert et is not None
    assert eg == et


def test_out_of_range_target_refused():
    """torch reads a target outside [0, C) unchecked (memory next to log_probs); refused."""
    lp = tg.tensor(_log_probs(5, 2, 4))
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        F.ctc_loss(lp, tg.tensor([[1, 4], [3, 1]]), [5, 5], [2, 2])
    # entries past a target length are not read
    F.ctc_loss(lp, tg.tensor([[1, 9], [3, 1]]), [5, 5], [1, 2])


@needs_torch
def test_blank_as_target_label():
    """A target equal to the blank (torch's docs: not allowed, but torch takes it): the loss is
    torch's; torch's gradient disagrees with its own loss there (its backward differs from
    finite differences of its forward by up to 0.6 here), tapegrad's is the loss's."""
    lp = torch.tensor(_log_probs(4, 1, 3, seed=18)).log_softmax(2)
    for tgt in ([0, 1], [1, 0], [0, 0], [0]):
        args = (torch.tensor([tgt]), [4], [len(tgt)])
        yt = torch.nn.functional.ctc_loss(lp, *args, reduction="sum")
        x = tg.tensor(lp.numpy(), requires_grad=True)
        yg = F.ctc_loss(x, tg.tensor([tgt]), [4], [len(tgt)], reduction="sum")
        np.testing.assert_allclose(yg.item(), yt.item(), rtol=1e-12)
        (g,) = tg.autograd.grad(yg, x)
        fd = np.zeros(lp.shape)
        for idx in np.ndindex(*lp.shape):
            a, b = lp.clone(), lp.clone()
            a[idx] += 1e-6
            b[idx] -= 1e-6
            fd[idx] = (torch.nn.functional.ctc_loss(a, *args, reduction="sum")
                       - torch.nn.functional.ctc_loss(b, *args, reduction="sum")).item() / 2e-6
        np.testing.assert_allclose(g.numpy(), fd + np.exp(lp.numpy()), atol=1e-8)


@needs_torch
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("where, value, targets, lengths", [
    ((1, 0, 1), float("nan"), [[1], [2]], [1, 1]),    # nan at a reachable state
    ((0, 0, 3), float("nan"), [[2, 3], [1, 1]], [2, 1]),   # at t = 0, an unreachable state
    ((1, 0, 2), float("-inf"), [[1], [2]], [1, 1]),   # a class of probability 0
    ((0, 0, 2), float("inf"), [[2, 2], [1, 1]], [2, 2]),   # impossible target, inf input
    ((2, 1, 1), float("nan"), [[1], [2]], [1, 1]),    # past sample 1's input length
])
def test_ctc_loss_with_non_finite_log_probs_as_torch(zero_infinity, reduction, where, value,
                                                     targets, lengths):
    # test_fuzz_nn seeds 169, 249, 370, 687: a nan log-probability made a state "unreachable"
    # (-inf: zero_infinity then gave loss 0, torch nan); -inf gave a finite gradient where
    # torch's exp(lp) - exp(lcab + nll - lp) is nan; a nan past the input length or two states
    # back (a skip not allowed) reached the loss; a nan loss had finite gradients
    x = np.random.default_rng(3).normal(size=(3, 2, 4)).round(2)
    x[where] = value
    got = []
    for m in (tg, torch):
        xx = m.tensor(x, requires_grad=True)
        loss = m.nn.functional.ctc_loss(
            m.nn.functional.log_softmax(xx, 2), m.tensor(targets), m.tensor([3, 2]),
            m.tensor(lengths), reduction=reduction, zero_infinity=zero_infinity)
        loss.sum().backward()
        got.append((np.array(loss.tolist()), np.array(xx.grad.tolist())))
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True)
