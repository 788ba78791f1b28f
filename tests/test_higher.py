"""Higher-order derivatives: create_graph, grad of grad, autograd.functional (against torch
when installed, and against closed forms / finite differences)."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import autograd
from tapegrad.autograd import functional as F


def f_scalar(m):
    return lambda x, y: (x.sin() * y).sum() + (x ** 2 * y ** 3).sum()


def test_grad_of_grad_to_fourth_order():
    x = tg.tensor(0.7, dtype=tg.float64, requires_grad=True)
    y = x.sin() * x ** 3
    derivs = []
    g = y
    for _ in range(4):
        (g,) = autograd.grad(g, x, create_graph=True)
        derivs.append(g.item())
    s, c, v = np.sin(0.7), np.cos(0.7), 0.7
    expect = [c * v**3 + 3 * s * v**2,
              -s * v**3 + 6 * c * v**2 + 6 * s * v,
              -c * v**3 - 9 * s * v**2 + 18 * c * v + 6 * s,
              s * v**3 - 12 * c * v**2 - 36 * s * v + 24 * c]
    np.testing.assert_allclose(derivs, expect, rtol=1e-12)


def test_mixed_partials_and_grad_outputs():
    x = tg.tensor([0.3, -0.4], dtype=tg.float64, requires_grad=True)
    y = tg.tensor(1.5, dtype=tg.float64, requires_grad=True)
    f = (x * y).exp().sum()
    gx, = autograd.grad(f, x, create_graph=True)
    # d/dy of gx . w  = sum_i w_i * d/dy (y e^{x_i y}) = sum w_i (e^{x_i y} + x_i y e^{x_i y})
    w = tg.tensor([1.0, 2.0], dtype=tg.float64)
    (dy,) = autograd.grad(gx, y, grad_outputs=w)
    xv = np.array([0.3, -0.4])
    expect = np.sum([1.0, 2.0] * (np.exp(xv * 1.5) * (1 + xv * 1.5)))
    assert dy.item() == pytest.approx(expect, rel=1e-12)


def test_allow_unused_in_second_order():
    x = tg.tensor(1.0, dtype=tg.float64, requires_grad=True)
    z = tg.tensor(2.0, dtype=tg.float64, requires_grad=True)
    (g,) = autograd.grad(x * x, x, create_graph=True)
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        autograd.grad(g, [x, z])
    hx, hz = autograd.grad(g, [x, z], allow_unused=True)
    assert hx.item() == 2.0 and hz is None


def test_linear_function_second_derivative_is_not_connected():
    x = tg.tensor(1.0, requires_grad=True)
    (g,) = autograd.grad(x * 3.0, x, create_graph=True)
    assert g.item() == 3.0 and not g.requires_grad


def test_stack_and_cat_with_gradients():
    torch = pytest.importorskip("torch")
    res = []
    for m in (tg, torch):
        a = m.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=m.float64, requires_grad=True)
        b = m.tensor([[0.5, -1.0]], dtype=m.float64, requires_grad=True)
        c = m.cat([a, b * 2.0], 0)
        s = m.stack([a.sum(0), b[0]], 1)
        out = (c ** 2).sum() + (s.sin() * m.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=m.float64)).sum()
        ga, gb = m.autograd.grad(out, [a, b], create_graph=True)
        (hb,) = m.autograd.grad((ga.sum() + gb.sum()), b)
        res.append([c.detach().numpy(), s.detach().numpy(), ga.detach().numpy(),
                    gb.detach().numpy(), hb.numpy()])
    for p, q in zip(*res):
        np.testing.assert_allclose(p, q, rtol=1e-12)


# ---- autograd.functional against torch ----------------------------------------------------------
def g_vec(m):
    return lambda x: (x * x).tanh() * 2.0


CASES = {
    "vjp": lambda m, F, x, y, v: F.vjp(f_scalar(m), (x, y))[1],
    "vjp_v": lambda m, F, x, y, v: F.vjp(g_vec(m), x, v)[1],
    "jvp": lambda m, F, x, y, v: F.jvp(g_vec(m), x, v)[1],
    "jacobian": lambda m, F, x, y, v: F.jacobian(g_vec(m), x),
    "jacobian_tuple": lambda m, F, x, y, v: F.jacobian(lambda a, b: (a * b, a.sum() * b), (x, y)),
    "hessian": lambda m, F, x, y, v: F.hessian(f_scalar(m), (x, y)),
    "hessian_single": lambda m, F, x, y, v: F.hessian(lambda a: (a ** 3).sum() * a[0], x),
    "hvp": lambda m, F, x, y, v: F.hvp(f_scalar(m), (x, y), (v, v))[1],
    "vhp": lambda m, F, x, y, v: F.vhp(f_scalar(m), (x, y), (v, y))[1],
}


def _flat(r):
    if hasattr(r, "shape"):
        return [np.asarray(r.detach().tolist())]
    out = []
    for e in r:
        out += _flat(e)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_functional_matches_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xv, yv, vv = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    out = []
    for m in (tg, torch):
        x, y, v = m.tensor(xv), m.tensor(yv), m.tensor(vv)
        out.append(_flat(CASES[name](m, m.autograd.functional, x, y, v)))
    assert len(out[0]) == len(out[1])
    for a, b in zip(*out):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_functional_against_finite_differences():
    rng = np.random.default_rng(1)
    xv = rng.normal(size=4)
    def f(x):
        return (x.sin() * x).sum() ** 2
    H = F.hessian(f, tg.tensor(xv)).numpy()
    eps = 1e-5

    def grad_at(p):
        return F.vjp(f, tg.tensor(p))[1].numpy()
    num = np.stack([(grad_at(xv + eps * e) - grad_at(xv - eps * e)) / (2 * eps)
                    for e in np.eye(4)], 1)
    np.testing.assert_allclose(H, num, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H, H.T, rtol=1e-12)


def test_functional_create_graph_and_strict():
    x = tg.tensor([0.5, 1.0], dtype=tg.float64, requires_grad=True)
    _, hv = F.hvp(lambda a: (a ** 3).sum(), x, tg.ones(2, dtype=tg.float64), create_graph=True)
    assert hv.requires_grad
    (g,) = autograd.grad(hv.sum(), x)
    np.testing.assert_allclose(g.numpy(), [6.0, 6.0])
    with pytest.raises(RuntimeError, match="independent of input 1"):
        F.vjp(lambda a, b: a.sum(), (x, tg.ones(2)), strict=True)
    assert F.vjp(lambda a, b: a.sum(), (x, tg.ones(2)))[1][1].tolist() == [0.0, 0.0]


def test_create_graph_through_mm_is_torchs_mm_backward():
    """A PINN's step: u = MLP(x), du/dx by grad(create_graph=True), a loss of du, backward.
    The gradient of an mm of matrices is recorded as torch's mm backward (g B^T, A^T g: an
    MmBackward0 node, no views around it), and the loss and parameter gradients are torch's
    (float64)."""
    torch = pytest.importorskip("torch")
    got = []
    for m in (tg, torch):
        m.manual_seed(0)
        net = m.nn.Sequential(m.nn.Linear(1, 8), m.nn.Tanh(), m.nn.Linear(8, 8), m.nn.Tanh(),
                              m.nn.Linear(8, 1)).double()
        x = m.tensor(np.linspace(0, 1, 5)[:, None], requires_grad=True)
        u = net(x)
        du, = m.autograd.grad(u.sum(), x, create_graph=True)
        loss = ((du - x.cos()) ** 2).mean() + (u[0] ** 2).sum()
        loss.backward()
        got.append((type(du.grad_fn).__name__, loss.item(),
                    [p.grad.numpy().copy() for p in net.parameters()]))
    assert got[0][0] == got[1][0] == "MmBackward0"
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-12)
    for a, b in zip(got[0][2], got[1][2]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def _derivatives(L, f, x0, dtype, orders=3):
    """f's first `orders` derivatives at the point x0, by grad of grad (create_graph)."""
    x = L.tensor(x0, dtype=dtype, requires_grad=True)
    y, out = f(x), []
    for _ in range(orders):
        (y,) = L.autograd.grad(y, x, create_graph=True)
        out.append(y.item())
    return out


def _kink_cases(L):
    F = L.nn.functional
    return {"logsigmoid": F.logsigmoid, "elu": lambda x: F.elu(x, alpha=2.0),
            "selu": F.selu, "celu": lambda x: F.celu(x, alpha=2.0), "sinc": L.sinc,
            "elu_": lambda x: F.elu(x * 1, alpha=2.0, inplace=True),
            "selu_": lambda x: F.selu(x * 1, inplace=True),
            "celu_": lambda x: F.celu(x * 1, alpha=2.0, inplace=True)}


def test_logsigmoid_derivatives_at_and_around_zero():
    """log sigmoid's derivatives are s(-x), -s(x) s(-x), -s(x) s(-x) (s(-x) - s(x)) (s the
    sigmoid) at every point, 0 included (abs's 0 derivative there gave a 0 second one)."""
    for x0 in (0.0, -0.0, 1e-300, 0.3, -0.3, 4.0, -4.0):
        s = 1.0 / (1.0 + np.exp(-x0))
        expect = [1.0 - s, -s * (1.0 - s), -s * (1.0 - s) * (1.0 - 2.0 * s)]
        got = _derivatives(tg, tg.nn.functional.logsigmoid, x0, tg.float64)
        np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-15)
    assert tg.func.grad(tg.func.grad(tg.nn.functional.logsigmoid))(
        tg.tensor(0.0, dtype=tg.float64)).item() == -0.25


def test_elu_family_second_derivative_at_zero_is_zero():
    """elu, selu, celu (and in place): first derivative alpha * scale * input_scale at 0 (the
    x <= 0 side), the second and third 0 there (torch's masks x < 0), alpha * scale *
    input_scale^k * exp(input_scale * x) below."""
    fs = _kink_cases(tg)
    for name, a, s, i in (("elu", 2.0, 1.0, 1.0), ("selu", 1.6732632423543772, 1.0507009873554805,
                                                    1.0), ("celu", 2.0, 1.0, 0.5),
                          ("elu_", 2.0, 1.0, 1.0), ("selu_", 1.6732632423543772,
                                                    1.0507009873554805, 1.0),
                          ("celu_", 2.0, 1.0, 0.5)):
        f = fs[name]
        assert _derivatives(tg, f, 0.0, tg.float64) == pytest.approx([a * s * i, 0.0, 0.0]), name
        x0 = -0.3
        expect = [a * s * i ** k * np.exp(i * x0) for k in (1, 2, 3)]
        np.testing.assert_allclose(_derivatives(tg, f, x0, tg.float64), expect, rtol=1e-13)
        assert np.isnan(_derivatives(tg, f, float("nan"), tg.float64, 1)[0])   # (as before)


def test_sinc_gradient_zero_where_its_denominator_underflows():
    """sinc'(x) = (pi x cos(pi x) - sin(pi x)) / (pi x^2) ~ -pi^2 x / 3 near 0: 0 (not 0 / 0)
    where pi x^2 underflows."""
    for x0 in (1e-300, -1e-300, 1e-170):
        x = tg.tensor(x0, dtype=tg.float64, requires_grad=True)
        (g,) = autograd.grad(tg.sinc(x), x)
        assert g.item() == 0.0
    x = tg.tensor(0.3, dtype=tg.float64, requires_grad=True)
    (g,) = autograd.grad(tg.sinc(x), x)
    h = 1e-6
    fd = (np.sinc(0.3 + h) - np.sinc(0.3 - h)) / (2 * h)
    np.testing.assert_allclose(g.item(), fd, rtol=1e-8)


@pytest.mark.parametrize("name", ["logsigmoid", "elu", "selu", "celu", "sinc", "elu_", "selu_",
                                  "celu_"])
def test_derivatives_at_kinks_as_torch(name):
    torch = pytest.importorskip("torch")
    points = [0.0, -0.0, 1e-300, -1e-300, 1e-170, 0.3, -0.3, 30.0, -30.0]
    for dtype in ("float64", "float32"):
        for x0 in points:
            ours = _derivatives(tg, _kink_cases(tg)[name], x0, getattr(tg, dtype))
            theirs = _derivatives(torch, _kink_cases(torch)[name], x0, getattr(torch, dtype))
            if name == "sinc" and dtype == "float32" and 0 < abs(x0) < 1e-150:
                ours, theirs = ours[:1], theirs[:1]    # (torch's nan from 0 * (0 / 0))
            # (atol: torch's logsigmoid'' (sigmoid(x) - 1) * sigmoid(x) cancels at x = 30)
            tol = dict(rtol=1e-12, atol=1e-15) if dtype == "float64" else dict(rtol=1e-5,
                                                                                atol=1e-7)
            np.testing.assert_allclose(ours, theirs, **tol, err_msg=f"{dtype} {x0}")


_PIECEWISE = {"Threshold": (0.1, -0.5), "Hardshrink": (0.2,), "Softshrink": (0.2,)}


@pytest.mark.parametrize("act", ["LeakyReLU", "ReLU6", "Hardtanh", "ReLU", "Threshold",
                                 "Hardshrink", "Softshrink", "RReLU", "PReLU"])
def test_second_derivative_of_a_piecewise_linear_mlp_is_zeros(act, torch_ref):
    """torch's leaky_relu_backward / hardtanh_backward / threshold_backward & co are functions
    of the input, so under create_graph an MLP's input gradient depends on the input: its
    derivative is zeros (and d/dv of the gradient requires grad), not "appears to not have
    been used" (n-d and 0-d; RReLU as a module: training, its slopes drawn)."""
    got = []
    for m in (tg, torch_ref):
        m.manual_seed(0)
        net = m.nn.Sequential(m.nn.Linear(2, 4), getattr(m.nn, act)(*_PIECEWISE.get(act, ())),
                              m.nn.Linear(4, 1)).double()
        x = m.tensor([[0.3, -0.2], [1.0, 0.5]], dtype=m.float64, requires_grad=True)
        du, = m.autograd.grad(net(x).sum(), x, create_graph=True)
        d2, = m.autograd.grad(du.sum(), x)
        s = m.tensor(0.3, dtype=m.float64, requires_grad=True)
        v = m.tensor(1.5, dtype=m.float64, requires_grad=True)
        g, = m.autograd.grad(getattr(m.nn, act)(*_PIECEWISE.get(act, ())).double()(s * 2.0),
                             s, v, create_graph=True)
        hs, hv = m.autograd.grad(g * 0.7, [s, v], create_graph=True)
        got.append([du.requires_grad, d2.tolist(), g.requires_grad, g.item(), hs.item(),
                    hv.item(), hv.requires_grad])
    assert got[0] == got[1]


def test_tied_extremes_beside_minus_inf_differentiate_to_any_order(torch_ref):
    """amax/amin with ties take the tie-splitting body, whose no-hit term read atan(x): its
    second derivative is nan at -inf, so a second derivative was nan where an element was -inf
    (a masked score, or scatter_reduce's -inf padding of uneven buckets) and a third nan
    everywhere; torch's are 0."""
    inf = float("inf")
    cases = [lambda m, x: x.amax(1) ** 2, lambda m, x: (-x).amin(1) ** 3,
             lambda m, x: m.zeros(3, dtype=x.dtype).scatter_reduce(
                 0, m.tensor([0, 0, 1, 2, 2, 2]), x.reshape(-1), "amax") ** 2]
    got = []
    for m in (tg, torch_ref):
        out = []
        for f in cases:
            x = m.tensor([[1.0, -inf, 1.0], [2.0, -inf, 0.5]], dtype=m.float64,
                         requires_grad=True)
            g, = m.autograd.grad(f(m, x).sum(), x, create_graph=True)
            h, = m.autograd.grad((g * x.detach().clamp(min=-3.0)).sum(), x, create_graph=True)
            t, = m.autograd.grad(h.sum(), x)
            out += [g.tolist(), h.tolist(), t.tolist()]
        got.append(out)
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-14)   # (nan at the same places)


def test_two_norm_at_zero_second_derivatives_as_torch(torch_ref):
    """torch's 2-norm gradient is grad * (x / norm) masked where norm == 0: its derivative in
    grad is 0 there (a jvp of the norm at 0 is 0; cosine_similarity / normalize of a zero
    vector differentiate to finite values), in x nan.  The masked quotient g / (2 norm) gave
    the reverse: 0 / 0 = nan through grad, 0 through x."""
    got = []
    for m in (tg, torch_ref):
        F = m.nn.functional
        out = []
        for f in (lambda a, b: a.norm() * b.sum(), lambda a, b: m.linalg.vector_norm(
                a.view(1, 3), dim=1) * b, lambda a, b: F.cosine_similarity(a, b, dim=0),
                lambda a, b: (F.normalize(a, dim=0) * b).sum(), lambda a, b: a.dist(b * 0.0)):
            a = m.zeros(3, dtype=m.float64, requires_grad=True)
            b = m.tensor([1.0, 0.5, -2.0], dtype=m.float64, requires_grad=True)
            ga, gb = m.autograd.grad(f(a, b).sum(), [a, b], create_graph=True)
            h = m.autograd.grad((ga * m.tensor([0.3, -1.0, 2.0], dtype=m.float64)).sum()
                                + gb.sum(), [a, b], allow_unused=True)
            out.append([None if t is None else t.tolist() for t in h])
        out.append(m.autograd.functional.jvp(lambda x: x.norm(), m.zeros(3), m.ones(3))[1].item())
        got.append(out)
    for a, b in zip(*got):
        np.testing.assert_allclose(np.array(a, dtype=float), np.array(b, dtype=float), rtol=1e-12)


def test_log_ndtr_third_derivative_in_its_asymptotic_range(torch_ref):
    """log_ndtr's derivatives read its value and cancel (out'' + 1 ~ 1 / x^2), so below -20,
    where the value is an asymptotic series, the series' truncation shows in the third
    derivative: 2.5e-3 off at x = -21 when it stopped at u^4 (torch's: 2e-6)."""
    for x0 in (-20.5, -21.0, -25.0, -30.0):
        ours = _derivatives(tg, tg.special.log_ndtr, x0, tg.float64)
        theirs = _derivatives(torch_ref, torch_ref.special.log_ndtr, x0, torch_ref.float64)
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, err_msg=str(x0))


def test_det_differentiates_twice_at_singular_matrices(torch_ref):
    """Under create_graph torch's det gradient is the cofactor matrix by the SVD where
    |det| < 100 eps (g det A^-T elsewhere): second derivatives at a singular matrix are finite
    (rank n - 1; nan at rank n - 2 and below, as torch's), where the inverse raised
    LinAlgError; a batch mixes both.  A 3 x 3 det is cubic: its third derivative, a constant,
    is torch's at a regular matrix (torch's own through the SVD at the singular one is not)."""
    mats = [[[[1.0, 2.0], [2.0, 4.0]], [[2.0, 0.5], [1.0, 3.0]]],
            [[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]], [[0.0, 0.0], [0.0, 0.0]]]
    for dtype, tol in (("float64", dict(rtol=1e-9, atol=1e-12)),
                       ("float32", dict(rtol=1e-3, atol=1e-4))):
        got = []
        for m in (tg, torch_ref):
            out = []
            for A in mats:
                x = m.tensor(A, dtype=getattr(m, dtype), requires_grad=True)
                w = m.linspace(-1.0, 2.0, x.numel(), dtype=x.dtype).reshape(x.shape)
                g, = m.autograd.grad(m.linalg.det(x).sum(), x, create_graph=True)
                h, = m.autograd.grad((g * w).sum(), x, create_graph=True)
                out += [g.tolist(), h.tolist()]
                if x.shape[-1] == 3:
                    if m is not tg:   # (torch's at a regular matrix)
                        x = (x.detach() + m.diag(m.tensor([0.5, 0.3, 0.2], dtype=x.dtype))
                             ).requires_grad_()
                        g, = m.autograd.grad(m.linalg.det(x).sum(), x, create_graph=True)
                        h, = m.autograd.grad((g * w).sum(), x, create_graph=True)
                    out.append(m.autograd.grad((h * w * w).sum(), x)[0].tolist())
            got.append(out)
        for a, b in zip(*got):
            np.testing.assert_allclose(a, b, **tol, err_msg=dtype)


def test_logcumsumexp_second_derivative_beside_infinities(torch_ref):
    """logcumsumexp's scan of logaddexp: logaddexp's own second derivative at an infinite
    operand is nan (torch's too), which spread to every later position of the scan; torch's
    logcumsumexp is nan only at the infinity (whose first derivative it makes nan as well)."""
    inf = float("inf")
    for xs in ([-inf, -1.0, 2.0, 0.5], [0.5, -1.0, inf, 0.5], [0.3, -inf, 2.0, -inf]):
        got = []
        for m in (tg, torch_ref):
            x = m.tensor(xs, dtype=m.float64, requires_grad=True)
            g, = m.autograd.grad((x.logcumsumexp(0) * m.tensor([1.0, 0.5, -1.0, 2.0],
                                 dtype=m.float64)).sum(), x, create_graph=True)
            h, = m.autograd.grad((g * m.tensor([0.3, 0.5, -1.0, 2.0], dtype=m.float64)).sum(), x)
            got.append((g.detach().numpy(), h.numpy()))
        finite = np.isfinite(xs)
        for ours, theirs in zip(*got):
            assert np.isfinite(ours).all(), xs
            np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-12, atol=1e-15)


_READS_INPUT = {
    "max_pool2d": lambda F, x: F.max_pool2d(x, 2, padding=1),
    "max_pool3d": lambda F, x: F.max_pool3d(x.view(1, 1, 2, 2, 3), 2),
    "avg_pool1d": lambda F, x: F.avg_pool1d(x.view(1, 4, 3), 2),
    "avg_pool2d": lambda F, x: F.avg_pool2d(x, 2, padding=1),
    "adaptive_avg_pool2d": lambda F, x: F.adaptive_avg_pool2d(x, 2),
    "adaptive_max_pool2d": lambda F, x: F.adaptive_max_pool2d(x, 2),
    "fractional_max_pool2d": lambda F, x: F.fractional_max_pool2d(
        x, 1, output_size=(1, 2), _random_samples=x.new_tensor([[[0.3, 0.6], [0.5, 0.1]]])),
    "reflect_pad": lambda F, x: F.pad(x, (2, 1, 1, 1), mode="reflect"),
    "replicate_pad": lambda F, x: F.pad(x, (2, 1, 1, 1), mode="replicate"),
    "nll_loss": lambda F, x: F.nll_loss(x.view(4, 3), x.new_tensor([0, 2, 1, 1]).long()),
    "nll_loss_weight": lambda F, x: F.nll_loss(x.view(4, 3), x.new_tensor([0, 2, 1, 1]).long(),
                                               weight=x.new_tensor([1.0, 2.0, 0.5])),
    "nll_loss2d": lambda F, x: F.nll_loss(x.view(1, 2, 2, 3), x.new_tensor(
        [[[0, 1, 1], [1, 0, 0]]]).long(), reduction="sum"),
}


@pytest.mark.parametrize("name", sorted(_READS_INPUT))
def test_gradients_of_backward_kernels_that_read_the_input(name, torch_ref):
    """torch's max_pool2d_with_indices_backward, avg_pool2d_backward, reflection_pad2d_backward,
    nll_loss_backward & co take the input: under create_graph the input's gradient requires
    grad (with a gradient seed that needs none) and differentiates to zeros, where the
    primitives' (a scatter of the seed) was a constant: "does not require grad" on the second
    grad, or "not used" (strict) instead of zeros."""
    got = []
    for m in (tg, torch_ref):
        x = m.tensor(np.linspace(-1.0, 1.3, 12).reshape(1, 2, 2, 3) ** 3, dtype=m.float64,
                     requires_grad=True)
        y = _READS_INPUT[name](m.nn.functional, x)
        v = m.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)), dtype=m.float64)
        g, = m.autograd.grad(y, x, v, create_graph=True)
        h, = m.autograd.grad((g * g.detach()).sum(), x)
        # with a seed that needs grad, its derivative (torch's max_pool_double_backward(grad,
        # indices), ...) reads no input: it needs no grad
        v.requires_grad_()
        gv, = m.autograd.grad(y, x, v, create_graph=True)
        hx, hv = m.autograd.grad((gv * g.detach()).sum(), [x, v], create_graph=True)
        got.append([g.requires_grad, h.requires_grad, hx.requires_grad, hv.requires_grad,
                    g.tolist(), h.tolist(), hx.tolist(), hv.tolist()])
    assert got[0][:4] == got[1][:4]
    for a, b in zip(got[0][4:], got[1][4:]):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_one_element_gradients_of_backward_kernels_that_read_the_input(torch_ref):
    """The same with one-element tensors, which create_graph records in one Numba sweep
    (engine._record_backward_fast): a group whose backward reads its input takes the path
    that knows groups."""
    got = []
    for m in (tg, torch_ref):
        F = m.nn.functional
        out = []
        for f in (lambda x: F.nll_loss(x, m.tensor([0])),
                  lambda x: F.avg_pool1d(x, 1), lambda x: F.pad(x, (1, 1), mode="replicate")):
            x = m.tensor([[0.7]], dtype=m.float64, requires_grad=True)
            g, = m.autograd.grad(f(x).sum(), x, create_graph=True)
            h, = m.autograd.grad(g.sum(), x)
            out.append([g.requires_grad, g.tolist(), h.tolist()])
        got.append(out)
    assert got[0] == got[1]


@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_hardtanh_second_derivative_in_the_input_needs_no_grad(shape, torch_ref):
    """torch's hardtanh_backward(grad, self) differentiates to zeros_like(grad) in self: no
    grad.  hardtanh is two clips here, and the upper one's zero gradient into the lower one's
    output reached the input through the lower one's depends_on: it required grad."""
    got = []
    for m in (tg, torch_ref):
        F = m.nn.functional
        out = []
        for f in (lambda x: F.hardtanh(x, -0.5, 1.0), F.relu6):
            x = m.tensor(np.linspace(-1.0, 7.0, 6).reshape(shape) if shape else 0.3,
                         dtype=m.float64, requires_grad=True)
            for vreq in (False, True):
                v = m.full(shape, 0.8, dtype=m.float64, requires_grad=vreq)
                g, = m.autograd.grad(f(x), x, v, create_graph=True)
                hs = m.autograd.grad((g * 1.3).sum(), [x, v] if vreq else [x],
                                     create_graph=True)
                out.append([g.requires_grad, g.tolist()] + [[h.requires_grad, h.tolist()]
                                                            for h in hs])
        got.append(out)
    assert got[0] == got[1]


def test_amax_and_inf_norm_second_derivatives_do_not_read_the_input(torch_ref):
    """torch's amax_backward (grad * mask / count) reads the input only through the mask:
    with a seed that needs grad, the second derivative in the input is not used and the one
    in the seed needs no grad (the inf-norm's, x.sgn() times that, zeros without grad in the
    input).  The tie-splitting body's nan term (tanh(x) * (0 / count)) read x: zeros that
    required grad."""
    got = []
    for m in (tg, torch_ref):
        out = []
        for f in (lambda x: m.stack([x, x, x * 0.5]).amax(0), lambda x: x.amin(1),
                  lambda x: m.linalg.vector_norm(x, float("inf")),
                  lambda x: m.dist(x, x.detach() * 3.0, float("inf"))):
            x = m.tensor([[1.0, 3.0, 3.0], [-2.0, 0.5, -2.0]], dtype=m.float64,
                         requires_grad=True)
            y = f(x)
            v = m.full(tuple(y.shape), 0.8, dtype=m.float64, requires_grad=True)
            g, = m.autograd.grad(y, x, v, create_graph=True)
            hx, hv = m.autograd.grad((g * 1.3).sum(), [x, v], allow_unused=True,
                                     create_graph=True)
            out.append([g.tolist(), None if hx is None else (hx.requires_grad,
                                                              hx.clone().tolist()),
                        hv.requires_grad, hv.tolist()])
        got.append(out)
    assert got[0] == got[1]


def test_amax_beside_minus_inf_second_derivatives_do_not_read_the_input(torch_ref):
    """An element at -inf (a masked score; scatter_reduce's and index_reduce's -inf
    padding of uneven buckets) took the tie-splitting body's tanh(x) term, whose create_graph
    gradient read x: a second derivative in x that required grad (zeros) where torch's
    amax_backward leaves it unused."""
    inf = float("inf")
    cases = [lambda m, x: x.amax(1), lambda m, x: (-x).amin(0),
             lambda m, x: m.full((3,), -inf, dtype=x.dtype).scatter_reduce(
                 0, m.tensor([0, 0, 1, 1, 1, 2]), x.reshape(-1), "amax"),
             lambda m, x: m.full((3, 3), -inf, dtype=x.dtype).index_reduce(
                 0, m.tensor([0, 0]), x, "amax")]
    got = []
    for m in (tg, torch_ref):
        out = []
        for f in cases:
            x = m.tensor([[1.0, -inf, 3.0], [2.0, -inf, 0.5]], dtype=m.float64,
                         requires_grad=True)
            y = f(m, x)
            v = m.full(tuple(y.shape), 0.8, dtype=m.float64, requires_grad=True)
            g, = m.autograd.grad(y, x, v, create_graph=True)
            hx, hv = m.autograd.grad((g * 1.3).sum(), [x, v], allow_unused=True)
            out.append([g.tolist(), g.requires_grad, None if hx is None else hx.tolist(),
                        hv.tolist()])
        got.append(out)
    assert got[0] == got[1]


def test_a_where_of_constants_under_a_traced_mask_needs_no_grad(torch_ref):
    """On one-element graphs (create_graph's Numba recording sweep) a gradient formula's
    where(mask of the input, constant, constant) (where's, clamp's, hardswish's, smooth_l1's
    backward with a constant seed) was appended as an entry that required grad: the
    gradient required grad where torch's does not, and differentiating it raised "not
    used".  It stays an entry (a replay selects anew), without gradient."""
    got = []
    for m in (tg, torch_ref):
        F = m.nn.functional
        out = []
        for f in (lambda x: m.where(x > 0, x * 2.0, 0.0), lambda x: x.clamp(max=0.3) * 1.5,
                  F.hardswish, lambda x: F.smooth_l1_loss(x, x.detach() * 0 + 0.2,
                                                          reduction="none", beta=3.0)):
            for value in (0.77, -0.4, [0.77, -0.4, 1.3]):
                x = m.tensor(value, dtype=m.float64, requires_grad=True)
                g, = m.autograd.grad(f(x).sum(), x, create_graph=True)
                row = [g.requires_grad, g.tolist()]
                if g.requires_grad:
                    h, = m.autograd.grad(g.sum(), x, create_graph=True)
                    row += [h.requires_grad, h.tolist()]
                out.append(row)
        got.append(out)
    assert got[0] == got[1]


def test_remainder_gradient_in_the_divisor_is_torchs_floor_division(torch_ref):
    """remainder's gradient in the divisor is -grad * a.div(b, rounding_mode="floor"), c10's
    div_floor from fmod: floor(a / b) was one more where a / b rounds up to an integer
    (a = k * b rounded: 0.3 * 18 / 0.3 is 18.0, the quotient 17), a wrong first derivative.
    Under create_graph the quotient (remainder's and fmod's) needs no grad in a and b, as
    torch's DivBackward2."""
    b = np.array([0.3, 0.1, -0.88238147, 0.7, 2.5, -1.5])
    a = b * np.array([18.0, 10.0, -3.0, 7.0, -2.96, 2.93])
    got = []
    for m in (tg, torch_ref):
        out = []
        for f in (m.remainder, m.fmod):
            x = m.tensor(a, dtype=m.float64, requires_grad=True)
            y = m.tensor(b, dtype=m.float64, requires_grad=True)
            gx, gy = m.autograd.grad(f(x, y).sum(), [x, y], create_graph=True)
            hx, hy = m.autograd.grad((gy * y).sum(), [x, y], allow_unused=True)
            out.append([gx.tolist(), gy.tolist(), gy.requires_grad,
                        None if hx is None else hx.tolist(), hy.tolist()])
        got.append(out)
    assert got[0] == got[1]


@pytest.mark.parametrize("shape", [(), (5,)])
def test_celu_gradients_take_torchs_float32_input_scale(shape, torch_ref):
    """torch's celu backward is elu_backward with input_scale 1 / float32(alpha) (its forward
    1 / alpha): its gradient is 1e-7 * |x| (relative) from the forward's derivative, which
    tapegrad's was; first and second derivatives now agree with torch's to rounding."""
    x0 = np.linspace(-2.1, 0.4, 5) if shape else -0.93
    got = []
    for m in (tg, torch_ref):
        out = []
        for alpha in (1.3, 0.7, 2.0):
            x = m.tensor(x0, dtype=m.float64, requires_grad=True)
            g, = m.autograd.grad(m.nn.functional.celu(x, alpha).sum(), x, create_graph=True)
            h, = m.autograd.grad(g.sum(), x)
            out.append([g.tolist(), h.tolist()])
        got.append(out)
    np.testing.assert_allclose(np.array(got[0]), np.array(got[1]), rtol=2e-16, atol=0)


_ONE_NODE = {
    "conv2d": lambda F, m, x, w, b: F.conv2d(x, w, b),
    "conv2d_frozen_weight": lambda F, m, x, w, b: F.conv2d(x, w.detach(), b),
    "conv_transpose2d": lambda F, m, x, w, b: F.conv_transpose2d(x, w.transpose(0, 1), b),
    "batch_norm": lambda F, m, x, w, b: F.batch_norm(x, None, None, w[:, 0, 0, 0], b,
                                                    training=True),
    "layer_norm": lambda F, m, x, w, b: F.layer_norm(x, (3,), w[0, 0, 0], b),
}


@pytest.mark.parametrize("name", sorted(_ONE_NODE))
def test_bias_gradients_of_one_backward_node_require_grad_unused(name, torch_ref):
    """torch's convolution_backward / native_batch_norm_backward / native_layer_norm_backward
    are one node taking the input and weight: under create_graph the bias's gradient (the
    seed's sum) requires grad, and its derivative in them is not used (None, or the strict
    error), as is a frozen weight's input gradient.  tapegrad's were constants: "does not
    require grad"."""
    flags, values = [], []
    for m in (tg, torch_ref):
        F = m.nn.functional
        x = m.tensor(np.linspace(-1.0, 1.3, 18).reshape(1, 3, 2, 3) ** 3, dtype=m.float64,
                     requires_grad=True)
        w = m.tensor(np.linspace(0.5, -0.7, 27).reshape(3, 3, 1, 3), dtype=m.float64,
                     requires_grad=True)
        b = m.tensor([0.1, -0.2, 0.3], dtype=m.float64, requires_grad=True)
        y = _ONE_NODE[name](F, m, x, w, b)
        v = m.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)), dtype=m.float64)
        gs = m.autograd.grad(y, [x, w, b], v, create_graph=True, allow_unused=True)
        flag = [None if g is None else g.requires_grad for g in gs]
        value = [g.tolist() for g in gs if g is not None]
        for g in gs:
            if g is not None and g.requires_grad:
                loss = (g * g.detach()).sum()
                hs = m.autograd.grad(loss, [x, w, b], allow_unused=True, retain_graph=True)
                flag.append([h is None for h in hs])
                value += [h.tolist() for h in hs if h is not None]
                try:
                    m.autograd.grad(loss, [x, w, b], retain_graph=True)
                    flag.append("used")
                except RuntimeError as e:
                    flag.append(str(e))
        flags.append(flag)
        values.append(value)
    assert flags[0] == flags[1]
    for a, c in zip(*values):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)


def test_nearest_grid_sample_gradients_require_grad(torch_ref):
    """grid_sampler_2d_backward(grad, input, grid) is one node: with mode='nearest' (the
    gradients depend on the seed alone) both gradients still require grad under
    create_graph, and the input's is not used by a second derivative in the input."""
    got = []
    for m in (tg, torch_ref):
        x = m.tensor(np.arange(9.0).reshape(1, 1, 3, 3), dtype=m.float64, requires_grad=True)
        grid = m.tensor([[[[-0.6, 0.2], [0.4, -0.9]], [[0.1, 0.7], [-0.3, 0.5]]]],
                        dtype=m.float64, requires_grad=True)
        y = m.nn.functional.grid_sample(x, grid, mode="nearest", align_corners=False)
        gx, gg = m.autograd.grad(y, [x, grid], m.ones_like(y), create_graph=True)
        try:
            m.autograd.grad(gx.sum(), x)
            err = None
        except RuntimeError as e:
            err = str(e)
        got.append([gx.requires_grad, gg.requires_grad, gx.tolist(), gg.tolist(), err])
    assert got[0] == got[1]


@pytest.mark.parametrize("dims", [2, 3])
def test_nearest_grid_sample_second_derivatives_as_torch(dims, torch_ref):
    """mode='nearest' with a seed that needs grad: torch's input gradient differentiates to
    zeros in the grid (None in the input), its grid gradient (zeros) to None in the input,
    grid and seed.  tapegrad's input gradient did not reach the grid (None)."""
    got = []
    for m in (tg, torch_ref):
        shape = (1, 1, 3, 4) if dims == 2 else (1, 1, 2, 3, 2)
        x = m.tensor(np.arange(float(np.prod(shape))).reshape(shape), dtype=m.float64,
                     requires_grad=True)
        pts = np.array([[-0.6, 0.2, 0.3], [0.4, -0.9, 0.8], [0.1, 0.7, -0.2]])[:, :dims]
        grid = m.tensor(pts.reshape((1,) + (1,) * (dims - 1) + (3, dims)), dtype=m.float64,
                        requires_grad=True)
        y = m.nn.functional.grid_sample(x, grid, mode="nearest", align_corners=False)
        v = m.full(tuple(y.shape), 0.5, dtype=m.float64, requires_grad=True)
        gx, gg = m.autograd.grad(y, [x, grid], v, create_graph=True)
        out = []
        for t in (gx, gg):
            h = m.autograd.grad((t * 1.5).sum(), [x, grid, v], allow_unused=True,
                                retain_graph=True)
            out.append([None if q is None else q.tolist() for q in h])
        got.append([gx.tolist(), gg.tolist(), out])
    assert got[0] == got[1]


def test_in_place_leaky_relu_second_derivative_requires_grad(torch_ref):
    """torch's in-place leaky_relu_ (and rrelu_ in eval mode) backward is
    leaky_relu_backward(grad, result, ...): under create_graph the gradient depends on the
    result, so its derivative in the input is zeros that require grad.  The gradient
    depended on the input (the out-of-place row's), whose derivative here needs none."""
    got = []
    for m in (tg, torch_ref):
        F = m.nn.functional
        out = []
        for f in (lambda t: F.leaky_relu_(t, 0.2), lambda t: F.rrelu_(t, 0.1, 0.3)):
            x = m.tensor([[-1.5, 0.3, 2.0], [0.0, -0.2, 1.1]], dtype=m.float64,
                         requires_grad=True)
            g, = m.autograd.grad(f(x * 1.0).sum(), x, create_graph=True)
            h, = m.autograd.grad((g * 1.3).sum(), x, create_graph=True)
            out.append([g.requires_grad, g.tolist(), h.requires_grad, h.tolist()])
        got.append(out)
    assert got[0] == got[1]


def test_prod_over_one_element_reads_the_input(torch_ref):
    """torch's prod_backward reads an n-d input, also over a dim of size 1: the create_graph
    gradient requires grad and differentiates to zeros (0-d inputs excepted: torch returns
    the seed).  A product of one factor had no entry reading x."""
    got = []
    for m in (tg, torch_ref):
        out = []
        for shape, f in (((2, 1), lambda a: a.prod(-1)), ((1,), lambda a: a.prod()),
                         ((1, 1), lambda a: a.prod(0, keepdim=True)), ((), lambda a: a.prod())):
            x = m.full(shape, 0.7, dtype=m.float64, requires_grad=True)
            g, = m.autograd.grad(f(x).sum(), x, create_graph=True)
            row = [g.requires_grad, g.tolist()]
            if g.requires_grad:
                row.append(m.autograd.grad(g.sum(), x)[0].tolist())
            out.append(row)
        got.append(out)
    assert got[0] == got[1]


def test_sum_gradient_under_create_graph_is_torchs_expand(torch_ref):
    """torch's sum_backward is grad.expand(sizes) (ExpandBackward0); the reduce kind's
    tensor VJP multiplied the expansion by the sum's scale 1 (MulBackward0, one product
    more per sum in every create_graph backward)."""
    got = []
    for m in (tg, torch_ref):
        out = []
        for f, shape in ((lambda x: x.sum(), (2, 3)), (lambda x: x.sum(0), (2, 3)),
                         (lambda x: x.sum((0, 2), keepdim=True), (2, 1, 3)),
                         (lambda x: x.sum(), ())):
            x = m.arange(float(np.prod(shape)), dtype=m.float64).reshape(shape)
            x.requires_grad_(True)
            y = f(x)
            v = m.full(tuple(y.shape), 0.5, dtype=m.float64, requires_grad=True)
            g, = m.autograd.grad(y, x, v, create_graph=True)
            hv, = m.autograd.grad((g * x).sum(), v)
            out.append((type(g.grad_fn).__name__, g.tolist(), hv.tolist()))
        got.append(out)
    assert got[0] == got[1]


@pytest.mark.parametrize("name", ["t", "transpose", "permute", "unsqueeze", "squeeze",
                                  "squeeze_dim", "squeeze_dims", "expand", "expand_same"])
def test_view_gradients_under_create_graph_are_torchs_inverse_views(name, torch_ref):
    """torch's backward of t / transpose / permute is the inverse view (TBackward0,
    TransposeBackward0, PermuteBackward0), of unsqueeze a squeeze (SqueezeBackward1), of
    squeeze an unsqueeze per dropped dim (UnsqueezeBackward0), of expand torch's sum_to
    (SumBackward1, then ViewBackward0 where expand added dims); tapegrad's create_graph
    gradients were the view kinds' scatter (AsStridedScatterBackward0) or reshape
    (ViewBackward0).  The values, and those of a second backward, are unchanged."""
    views = {"t": lambda x: x.t(), "transpose": lambda x: x.transpose(0, 2),
             "permute": lambda x: x.permute(2, 0, 1, 3), "unsqueeze": lambda x: x.unsqueeze(2),
             "squeeze": lambda x: x.squeeze(), "squeeze_dim": lambda x: x.squeeze(1),
             "squeeze_dims": lambda x: x.squeeze((1, 3)),
             "expand": lambda x: x.expand(2, x.shape[0], 4, x.shape[2], 2),
             "expand_same": lambda x: x.expand(x.shape[0], 2, x.shape[2], 3)}
    got = []
    for m in (tg, torch_ref):
        out = []
        for shape in ((2, 3), (3, 1)) if name == "t" else ((2, 1, 3, 1), (3, 1, 2, 1)):
            x = m.arange(float(np.prod(shape)), dtype=m.float64).reshape(shape)
            y = views[name](x.requires_grad_(True))
            v = (m.arange(float(y.numel()), dtype=m.float64).reshape(y.shape) - 1.5)
            v.requires_grad_(True)
            g, = m.autograd.grad(y, x, v, create_graph=True)
            hv, = m.autograd.grad((g * (x + 1.0)).sum(), v)
            out.append((type(g.grad_fn).__name__, tuple(g.shape), g.tolist(), hv.tolist()))
        got.append(out)
    assert got[0] == got[1]


@pytest.mark.parametrize("create_graph", [False, True])
def test_slogdet_sign_alone_does_not_reach_the_matrix(create_graph, torch_ref):
    """torch's slogdet backward takes no gradient from the sign: a backward from the sign
    alone leaves A unused (RuntimeError; None with allow_unused), where tapegrad's zero
    gradient reached A (zeros).  With logabsdet in the graph, the gradient is its."""
    got = []
    for m in (tg, torch_ref):
        A = m.tensor([[[2.0, 1.0], [0.5, -3.0]], [[1.0, 0.2], [0.0, 1.5]]], dtype=m.float64,
                     requires_grad=True)
        sign, logabs = m.linalg.slogdet(A * 1.0)
        out = [type(sign.grad_fn).__name__, sign.requires_grad,
               m.autograd.grad(sign.sum(), A, allow_unused=True, retain_graph=True,
                               create_graph=create_graph)]
        with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
            m.autograd.grad(m.slogdet(A)[0].sum(), A, create_graph=create_graph)
        g, = m.autograd.grad((sign * logabs).sum(), A, create_graph=create_graph)
        out.append(g.tolist())
        got.append(out)
    assert got[0] == got[1]


@pytest.mark.parametrize("split", [lambda x: x.split(2, 1), lambda x: x.chunk(2, 0),
                                   lambda x: x.split([1, 3], 1)])
def test_split_gradient_under_create_graph_is_torchs_cat(split, torch_ref):
    """torch's split backward is a cat of the outputs' gradients along the split dim
    (CatBackward0, in the input's shape); tapegrad's cat of (outer, d, inner) blocks was then
    reshaped (ViewBackward0)."""
    got = []
    for m in (tg, torch_ref):
        x = m.arange(8.0, dtype=m.float64).reshape(2, 4).requires_grad_(True)
        parts = split(x)
        vs = [m.full(tuple(p.shape), k + 0.5, dtype=m.float64, requires_grad=True)
              for k, p in enumerate(parts)]
        g, = m.autograd.grad(parts, x, vs, create_graph=True)
        hv = m.autograd.grad((g * x).sum(), vs)
        got.append((type(g.grad_fn).__name__, g.tolist(), [h.tolist() for h in hv]))
    assert got[0] == got[1]
