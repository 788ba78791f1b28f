"""torch.lerp with a number weight recorded eagerly: one entry of the lerp kind
(tapegrad/kinds/lerp.py), its VJP torch's g * (1 - w) and g * w.  Differential against torch:
values (both sides of |w| < 0.5, infinities and nan in the operands), gradients under finite,
inf and nan incoming gradients, constant operands, one tensor as both, second derivatives,
grad_fn facts; a traced call and broadcast operands keep the row's body."""
import numpy as np
import pytest

import tapegrad as tg

INF, NAN = np.inf, np.nan
WEIGHTS = [0.3, 0.5, -0.49, 0.7, 1.0, -2.5, 3.0, 0.0]


def _operands():
    rng = np.random.default_rng(7)
    x, e = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    x[0, :4], e[0, :4] = [INF, -INF, NAN, 1.0], [1.0, -INF, 2.0, INF]
    x[1, 0] = e[1, 0] = 0.0
    return x, e


def _grad_in(m, kind, dtype):
    g = np.random.default_rng(8).standard_normal((4, 5))
    if kind != "finite":
        g.reshape(-1)[::3] = {"inf": INF, "-inf": -INF, "nan": NAN}[kind]
    return m.tensor(g, dtype=getattr(m, dtype))


def _last_entry(y):
    """Whether y is its tape's last entry, reading the two entries just before it (the
    leaves' or constants' entries): the call recorded one entry."""
    tape, e = y._tape, y._node
    return e == len(tape) - 1 and {int(tape.ia[e]), int(tape.ib[e])} <= {e - 1, e - 2}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("grad", ["finite", "inf", "-inf", "nan"])
def test_values_and_gradients_as_torch(grad, dtype):
    torch = pytest.importorskip("torch")
    xa, ea = _operands()
    for w in WEIGHTS:
        res = []
        for m in (tg, torch):
            x = m.tensor(xa, dtype=getattr(m, dtype), requires_grad=True)
            e = m.tensor(ea, dtype=getattr(m, dtype), requires_grad=True)
            y = m.lerp(x, e, w)
            y.backward(_grad_in(m, grad, dtype))
            res.append((y.detach().numpy(), x.grad.numpy(), e.grad.numpy(),
                        type(y.grad_fn).__name__, str(y.dtype).split(".")[-1],
                        _last_entry(y) if m is tg else True))
        (y, gx, ge, fn, dt, one), (ty, tgx, tge, tfn, tdt, _) = res
        # (torch's vector kernel rounds w * (end - x) + x as one fma: the last bit may differ)
        tol = dict(rtol=1e-6 if dtype == "float32" else 1e-15, atol=1e-7, err_msg=str(w))
        np.testing.assert_allclose(y, ty, **tol)
        np.testing.assert_allclose(gx, tgx, **tol)
        np.testing.assert_allclose(ge, tge, **tol)
        assert (fn, dt, one) == (tfn, tdt, True), w


@pytest.mark.parametrize("which", ["x", "end", "both"])
def test_constant_operand_and_one_tensor_twice_as_torch(which):
    torch = pytest.importorskip("torch")
    xa, ea = _operands()
    res = []
    for m in (tg, torch):
        x = m.tensor(xa, requires_grad=which != "end")
        e = x if which == "both" else m.tensor(ea, requires_grad=which == "end")
        y = m.lerp(x, e, 0.3) * m.tensor(np.arange(20.0).reshape(4, 5))
        leaf = e if which == "end" else x
        (g,) = m.autograd.grad(y.sum(), leaf)
        res.append((y.detach().numpy(), g.numpy()))
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v, rtol=1e-15)


@pytest.mark.parametrize("w", [0.25, 0.8])
def test_create_graph_second_and_third_order_as_torch(w):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    xa, ea = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    out = []
    for m in (tg, torch):
        x, e = m.tensor(xa, requires_grad=True), m.tensor(ea, requires_grad=True)
        y = m.lerp(x * x.sin(), e * e, w)
        gx, ge = m.autograd.grad((y * y).sum(), (x, e), create_graph=True)
        hx, he = m.autograd.grad((gx * ge).sum(), (x, e), create_graph=True)
        (k,) = m.autograd.grad((hx * he).sum(), x)
        out.append([t.detach().numpy() for t in (gx, ge, hx, he, k)] +
                   [type(gx.grad_fn).__name__])
    for u, v in zip(out[0][:-1], out[1][:-1]):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)
    assert out[0][-1] == out[1][-1]


def test_grad_fn_facts_and_in_place_changes_as_torch():
    """torch's node saves only the weight: changing an operand in place after the call
    leaves the backward as it was."""
    torch = pytest.importorskip("torch")
    xa, ea = _operands()
    facts = []
    for m in (tg, torch):
        a, b = m.tensor(xa[1:], requires_grad=True), m.tensor(ea[1:], requires_grad=True)
        x, e = a * 1.0, b * 1.0
        y = x.lerp(e, 0.75)
        fn = y.grad_fn
        x.mul_(2.0)
        e.add_(1.0)
        y.sum().backward()
        facts.append((fn.name(), [type(f).__name__ for f, _ in fn.next_functions],
                      fn._saved_weight, a.grad.tolist(), b.grad.tolist()))
    assert facts[0] == facts[1]


def test_traced_call_and_broadcast_keep_the_body():
    torch = pytest.importorskip("torch")
    xa, ea = np.random.default_rng(2).standard_normal((2, 3, 4))
    rec = tg.record(lambda x, e: (tg.lerp(x, e, 0.6) ** 2).sum(), tg.tensor(xa), tg.tensor(ea))
    for sx, se in ((xa, ea), (xa * 3.0, ea - 1.0)):
        v, (gx, ge) = rec.value_and_grad(sx, se)
        x, e = torch.tensor(sx, requires_grad=True), torch.tensor(se, requires_grad=True)
        y = (torch.lerp(x, e, 0.6) ** 2).sum()
        y.backward()
        np.testing.assert_allclose(v, y.item(), rtol=1e-14)
        np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-14)
        np.testing.assert_allclose(ge, e.grad.numpy(), rtol=1e-14)
    res = []
    for m in (tg, torch):
        x, e = m.tensor(xa, requires_grad=True), m.tensor(ea[:1], requires_grad=True)
        y = m.lerp(x, e, 0.2)
        y.backward(m.tensor(np.full((3, 4), INF)))
        res.append((y.detach().numpy(), x.grad.numpy(), e.grad.numpy()))
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v, rtol=1e-15)


# (numpy scalars warn at 0 * inf and x / 0 where the compiled pieces are quiet)
@pytest.mark.filterwarnings("ignore:.*encountered in scalar:RuntimeWarning")
@pytest.mark.parametrize("w", WEIGHTS)
def test_kind_faces(w):
    """The kind's kernel pieces (a replay's forward, the eager sweep) as plain Python on a
    small arena, and its tensor faces, agree with the eager entry (both sides of |w| < 0.5,
    infinities and nan in the operands)."""
    from tapegrad.kinds import lerp
    from tapegrad.views import KIND_OPS
    xa, ea = _operands()
    x, end = tg.tensor(xa, requires_grad=True), tg.tensor(ea, requires_grad=True)
    y = tg.lerp(x, end, w)
    tape, e = y._tape, y._node
    assert type(y.grad_fn).__name__ == "LerpBackward0" and tape.imm[e] == w
    n = xa.size
    args = (2, 0, 1, 2 * n, n, np.array([0, n, 2 * n]), None, None, None, np.array([0, 0, 0]),
            np.array([0]), np.array([0.0, 0.0, w]))
    vals = np.concatenate([xa.ravel(), ea.ravel(), np.zeros(n)])
    lerp.forward_lerp(*args, vals)
    # (the piece's value is the two-sided formula's in float64, not fused: the eager value,
    # torch's fused multiply-add, may differ from it in the last bit)
    with np.errstate(invalid="ignore"):
        two_sided = xa + w * (ea - xa) if abs(w) < 0.5 else ea - (ea - xa) * (1 - w)
    np.testing.assert_array_equal(vals[2 * n:], two_sided.ravel())
    g = np.random.default_rng(9).standard_normal(xa.shape)
    adj = np.concatenate([np.zeros(2 * n), g.ravel()])
    lerp.sweep_lerp(*args, vals, adj)
    gx, ge = tg.autograd.grad(y, (x, end), tg.tensor(g))
    np.testing.assert_array_equal(adj[:n].reshape(xa.shape), gx.numpy())
    np.testing.assert_array_equal(adj[n:2 * n].reshape(xa.shape), ge.numpy())
    z = lerp.tensor_forward_lerp(KIND_OPS, x, end, tuple(y.shape), None, w)
    np.testing.assert_array_equal(z.detach().numpy(), y.detach().numpy())
    faces = dict(lerp.tensor_vjp_lerp(KIND_OPS, tg.tensor(g), None, xa.shape, ea.shape, None, w))
    np.testing.assert_array_equal(faces[0].detach().numpy(), gx.numpy())
    np.testing.assert_array_equal(faces[1].detach().numpy(), ge.numpy())
