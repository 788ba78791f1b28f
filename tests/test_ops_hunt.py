"""Differences from torch found by differential testing of numeric / scientific programs
(session ops-hunt): each case runs the same call with torch and with tapegrad and compares
values, dtypes, shapes, grad_fn names and raised errors."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")


def _same(a, b):
    """tapegrad's a is torch's b: dtype, shape, values, requires_grad and grad_fn name."""
    assert str(a.dtype).replace("tapegrad.", "torch.") == str(b.dtype)
    assert tuple(a.shape) == tuple(b.shape)
    assert a.requires_grad == b.requires_grad
    assert (a.grad_fn and a.grad_fn.name()) == (b.grad_fn and b.grad_fn.name())
    x, y = a.detach().numpy(), b.detach().numpy()
    assert x.dtype == y.dtype
    np.testing.assert_allclose(x, y, rtol=1e-6, atol=0)


# ---- torch.add(1, t) & co.: a Python number as `input` (torch's parser wraps it) --------
NUMBER_INPUT = [
    lambda m: m.add(1, 2),
    lambda m: m.add(1, 2.5),
    lambda m: m.add(True, True),
    lambda m: m.mul(True, 2),
    lambda m: m.add(1.5, m.tensor([1, 2])),
    lambda m: m.add(1, m.tensor([1, 2])),
    lambda m: m.add(1, m.tensor([2.0, 3.0], requires_grad=True)),
    lambda m: m.add(1, m.tensor([2.0, 3.0], requires_grad=True), alpha=2),
    lambda m: m.sub(1, m.tensor([2.0, 3.0], requires_grad=True), alpha=2),
    lambda m: m.subtract(1, m.tensor([2.0, 3.0], requires_grad=True)),
    lambda m: m.mul(2.5, m.tensor([2.0, 3.0], requires_grad=True)),
    lambda m: m.multiply(np.float64(2.5), m.tensor([1, 2])),
    lambda m: m.div(1, m.tensor([1, 2])),
    lambda m: m.divide(1, m.tensor([2.0, 3.0], requires_grad=True)),
    lambda m: m.true_divide(3, 2),
    lambda m: m.div(7, m.tensor([1, 2]), rounding_mode="floor"),
    lambda m: m.div(-7.0, m.tensor([2, 4]), rounding_mode="trunc"),
    lambda m: m.add(1000, m.tensor([1], dtype=m.int8)),
    lambda m: m.add(1, m.tensor(2, dtype=m.int8)),
    lambda m: m.add(1, m.tensor(2.0, dtype=m.float64)),
    lambda m: m.mul(-1, m.tensor([1], dtype=m.uint8)),
    lambda m: m.add(np.int64(3), m.tensor([2.0, 3.0])),
    lambda m: m.add(1, other=m.tensor([2.0])),
    lambda m: m.add(1.5, m.tensor([True, False])),
]


@pytest.mark.parametrize("i", range(len(NUMBER_INPUT)))
def test_number_input_as_torch(i):
    _same(NUMBER_INPUT[i](tg), NUMBER_INPUT[i](torch))


def test_number_input_gradient():
    for m in (tg, torch):
        x = m.tensor([2.0, 3.0], requires_grad=True)
        (m.div(1, x) + m.sub(1, x, alpha=3) + m.mul(2.5, x)).sum().backward()
        if m is tg:
            got = x.grad.numpy()
        else:
            np.testing.assert_allclose(got, x.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("call", [
    lambda m: m.sub(True, m.tensor([1, 2])),
    lambda m: m.sub(True, True),
    lambda m: m.add("a", m.tensor([1.0])),
    lambda m: m.add(None, m.tensor([1.0])),
    lambda m: m.add(1, "a"),
    lambda m: m.add(1, m.tensor([1, 2]), alpha=1.5),
    lambda m: m.mul(2, m.tensor([1.0], requires_grad=True), out=m.empty(1)),
])
def test_number_input_errors_as_torch(call):
    assert_same_error(call, torch)


# ---- custom Functions under torch.func transforms, and setup_context's saved inputs ------
def _functions(m):
    class New(m.autograd.Function):
        @staticmethod
        def forward(x):
            return x ** 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * x * g

    class Gen(New):
        generate_vmap_rule = True

    class Both(New):
        generate_vmap_rule = True

        @staticmethod
        def vmap(info, in_dims, x):
            return x ** 2, in_dims[0]

    class Own(New):
        @staticmethod
        def vmap(info, in_dims, x):
            return x ** 2, in_dims[0]

    return New, Gen, Both, Own


FUNC_TRANSFORMS = [
    # no vmap rule: refused under vmap, even for an input that is not batched
    lambda m, F: m.vmap(lambda r: F[0].apply(m.tensor([1.0, 2.0])) + r)(m.ones(3, 2)),
    lambda m, F: m.vmap(m.func.grad(lambda r: F[0].apply(r).sum()))(m.ones(3, 2)),
    lambda m, F: m.vmap(F[0].apply)(m.ones(3, 2)),
    # both a generated rule and its own
    lambda m, F: m.vmap(F[2].apply)(m.ones(3, 2)),
    # jacfwd and hessian (forward over reverse) are vmaps of jvps: a vmap rule, then a jvp
    lambda m, F: m.func.jacfwd(F[0].apply)(m.tensor([1.0, 2.0])),
    lambda m, F: m.func.jacfwd(F[1].apply)(m.tensor([1.0, 2.0])),
    lambda m, F: m.func.hessian(lambda r: F[0].apply(r).sum())(m.tensor([1.0, 2.0])),
    lambda m, F: m.func.hessian(lambda r: F[1].apply(r).sum())(m.tensor([1.0, 2.0])),
    lambda m, F: m.func.jvp(F[1].apply, (m.tensor([1.0, 2.0]),), (m.ones(2),)),
    lambda m, F: m.autograd.Function.vmap(None, (0,), m.ones(2)),
]


@pytest.mark.parametrize("i", range(len(FUNC_TRANSFORMS)))
def test_function_transform_errors_as_torch(i):
    assert_same_error(lambda m: FUNC_TRANSFORMS[i](m, _functions(m)), torch)


def test_function_transforms_that_work():
    for m in (tg, torch):
        New, Gen, Both, Own = _functions(m)
        x = m.tensor([1.0, 2.0])
        got = [m.vmap(Gen.apply)(m.ones(3, 2) * 3), m.vmap(Own.apply)(m.ones(3, 2) * 3),
               m.func.jacrev(New.apply)(x), m.func.grad(lambda r: New.apply(r).sum())(x),
               m.func.hessian(lambda r: (r ** 3).sum())(x)]
        if m is tg:
            ours = [t.numpy() for t in got]
        else:
            for a, b in zip(ours, got):
                np.testing.assert_allclose(a, b.numpy(), rtol=1e-6)
    assert tg.autograd.Function.generate_vmap_rule is False


def _passthrough(m, save, mark=False, dirty=False):
    """A Function with setup_context returning its second input y as it is."""
    class F(m.autograd.Function):
        @staticmethod
        def forward(x, y):
            if dirty:
                y.mul_(1)
            return x * 2, y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*(inputs[1],) if save == "input" else
                                  (output[1],) if save == "output" else ())
            if mark:
                ctx.mark_non_differentiable(output[1])
            if dirty:
                ctx.mark_dirty(inputs[1])

        @staticmethod
        def backward(ctx, g, gy):
            return g * 2, gy
    return F


@pytest.mark.parametrize("call", [
    lambda m: _passthrough(m, "input").apply(m.ones(2, requires_grad=True), m.ones(2)),
    lambda m: _passthrough(m, "output").apply(m.ones(2), m.ones(2, requires_grad=True)),
    lambda m: _passthrough(m, "input").apply(m.ones(2, requires_grad=True), m.tensor([1, 2])),
    lambda m: _passthrough(m, "input", mark=True).apply(m.ones(2, requires_grad=True),
                                                        m.ones(2)),
    lambda m: _passthrough(m, "input").apply(m.ones(2), m.ones(2)),
])
def test_setup_context_saving_an_input_returned_as_is(call):
    assert_same_error(call, torch)


@pytest.mark.parametrize("call", [
    lambda m: _passthrough(m, None).apply(m.ones(2, requires_grad=True), m.ones(2)),
    lambda m: _passthrough(m, "input", dirty=True).apply(m.ones(2, requires_grad=True),
                                                         m.ones(2)),
    lambda m: _passthrough(m, "input", mark=True).apply(m.ones(2), m.ones(2, requires_grad=True)),
])
def test_setup_context_passthrough_allowed(call):
    a, b = call(tg), call(torch)
    for x, y in zip(a, b):
        assert x.requires_grad == y.requires_grad
        np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())


# ---- Dirichlet.rsample's node: torch's _DirichletBackward, once differentiable ------------
def test_dirichlet_rsample_node_as_torch():
    got = []
    for m in (tg, torch):
        m.manual_seed(0)
        c = m.tensor([2.0, 0.5, 1.0], requires_grad=True)
        s = m.distributions.Dirichlet(c).rsample((4,))
        g, = m.autograd.grad((s * m.tensor([1.0, 2.0, 3.0])).sum(), c, create_graph=True)
        # (no second derivative: torch's backward reads the draw and the concentration as
        # constants, and the gradient it returns has no graph)
        got.append((s.grad_fn.name(), g.requires_grad, g.detach().numpy()))
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        g2, = m.autograd.grad((s * x).sum(), c, create_graph=True)
        with pytest.raises(RuntimeError, match="once_differentiable"):
            g2.sum().backward()
    assert got[0][:2] == got[1][:2] == ("_DirichletBackward", False)
    np.testing.assert_allclose(got[0][2], got[1][2], rtol=1e-5)


# ---- ldexp's dtype: the pair's promotion (an integral one as the default float) -----------
LDEXP = [
    lambda m: m.ldexp(m.tensor(1.5, dtype=m.float64), m.tensor([200, 2])),
    lambda m: m.ldexp(m.tensor(1.5, dtype=m.float64), m.tensor([1, 2], dtype=m.int8)),
    lambda m: m.ldexp(m.tensor(1.5, dtype=m.float64), m.tensor([20.0, 2.0])),
    lambda m: m.ldexp(m.tensor(1.5), m.tensor([20.0, 2.0], dtype=m.float64)),
    lambda m: m.ldexp(m.tensor([1.5], dtype=m.float64), m.tensor([200, 2])),
    lambda m: m.ldexp(m.tensor(3), m.tensor([1, 2])),
    lambda m: m.ldexp(m.tensor(3, dtype=m.int8), m.tensor([1.0, 2.0], dtype=m.float64)),
    lambda m: m.ldexp(m.tensor(1.5, dtype=m.float64, requires_grad=True), m.tensor([1, 2])),
]


@pytest.mark.parametrize("i", range(len(LDEXP)))
def test_ldexp_dtype_as_torch(i):
    _same(LDEXP[i](tg), LDEXP[i](torch))


def test_ldexp_dtype_under_float64_default():
    for m in (tg, torch):
        prev = m.get_default_dtype()
        m.set_default_dtype(m.float64)
        try:
            r = m.ldexp(m.tensor(1.5, dtype=m.float32), m.tensor([1, 2]))
        finally:
            m.set_default_dtype(prev)
        assert str(r.dtype).endswith("float32")
        np.testing.assert_array_equal(r.numpy(), [3.0, 6.0])


def test_ldexp_gradient_of_a_zero_dim_float64():
    for m in (tg, torch):
        x = m.tensor(1.5, dtype=m.float64, requires_grad=True)
        m.ldexp(x, m.tensor([1, 2])).sum().backward()
        assert x.grad.item() == 6.0 and str(x.grad.dtype).endswith("float64")


# ---- products' arguments: torch's TypeError for a non-tensor, cross's one dtype -----------
PRODUCT_ERRORS = [
    lambda m: m.outer(m.ones(3), 2),
    lambda m: m.outer([1.0], m.ones(3)),
    lambda m: m.ger(m.ones(3), 2.5),
    lambda m: m.ones(3).outer(None),
    lambda m: m.ones(3).ger([1.0]),
    lambda m: m.kron(m.ones(3), [1.0]),
    lambda m: m.kron(2, m.ones(3)),
    lambda m: m.ones(3).kron(2),
    lambda m: m.cross(m.ones(3), 2, dim=0),
    lambda m: m.cross([1.0, 2.0, 3.0], m.ones(3), dim=0),
    lambda m: m.ones(3).cross(None),
    lambda m: m.linalg.cross(m.ones(3), 2),
    lambda m: m.inner(m.ones(3), 2.0),
    lambda m: m.inner(2.0, m.ones(3)),
    lambda m: m.ones(3).inner("a"),
    # one dtype, no bool (after the shape checks)
    lambda m: m.linalg.cross(m.ones(3), m.ones(3, dtype=m.float64)),
    lambda m: m.linalg.cross(m.ones(3, dtype=m.int64), m.ones(3)),
    lambda m: m.linalg.cross(m.ones(3, dtype=m.bool), m.ones(3, dtype=m.uint8)),
    lambda m: m.linalg.cross(m.ones(3, dtype=m.uint8), m.ones(3, dtype=m.bool)),
    lambda m: m.cross(m.ones(1, 3), m.ones(2, 3, dtype=m.float64), dim=1),
    lambda m: m.linalg.cross(m.ones(2), m.ones(2, dtype=m.float64)),
]


@pytest.mark.parametrize("i", range(len(PRODUCT_ERRORS)))
def test_product_argument_errors_as_torch(i):
    assert_same_error(PRODUCT_ERRORS[i], torch)


def test_cross_of_one_dtype_still_works():
    for dt in ("float32", "float64", "int64", "uint8"):
        a = [1, 2, 3]
        b = [4, 5, 7]
        got = tg.linalg.cross(tg.tensor(a, dtype=getattr(tg, dt)), tg.tensor(b, dtype=getattr(tg, dt)))
        want = torch.linalg.cross(torch.tensor(a, dtype=getattr(torch, dt)),
                                  torch.tensor(b, dtype=getattr(torch, dt)))
        assert str(got.dtype)[9:] == str(want.dtype)[6:]
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    _same(tg.ger(tg.ones(2), tg.ones(3)), torch.ger(torch.ones(2), torch.ones(3)))


# ---- prod of an empty tensor with an integer dtype= keeps that dtype -----------------------
EMPTY_PROD = [
    lambda m: m.prod(m.tensor([], dtype=m.bool), dtype=m.int16),
    lambda m: m.prod(m.tensor([], dtype=m.int32), dtype=m.int16),
    lambda m: m.prod(m.tensor([]), dtype=m.int16),
    lambda m: m.prod(m.ones(0, 2, dtype=m.bool), 0, dtype=m.int16),
    lambda m: m.prod(m.ones(0, 2, dtype=m.int8), 0, dtype=m.uint8, keepdim=True),
    lambda m: m.prod(m.ones(0, dtype=m.int8)),
    lambda m: m.ones(0, 2, requires_grad=True).prod(0),
]


@pytest.mark.parametrize("i", range(len(EMPTY_PROD)))
def test_empty_prod_dtype_as_torch(i):
    _same(EMPTY_PROD[i](tg), EMPTY_PROD[i](torch))


@pytest.mark.parametrize("call", [
    lambda m: m.dist(m.ones(3, dtype=m.uint8), m.ones(3, dtype=m.uint8)),
    lambda m: m.dist(m.ones(3, dtype=m.int64), m.ones(3, dtype=m.int8)),
    lambda m: m.ones(2, 3, dtype=m.int32).dist(m.ones(3, dtype=m.int16), 1),
    lambda m: m.dist(m.ones(3, dtype=m.bool), m.ones(3, dtype=m.bool)),
    lambda m: m.dist(m.ones(3, dtype=m.bool), m.ones(3, dtype=m.int32)),
    lambda m: m.dist(m.ones(3, dtype=m.int64), m.ones(2, dtype=m.int64)),
])
def test_dist_of_integers_errors_as_torch(call):
    assert_same_error(call, torch)


# ---- more functions' non-tensor arguments: torch's TypeError, not an AttributeError -------
ARG_ERRORS = [
    lambda m: m.take_along_dim(m.ones(3), 2),
    lambda m: m.take_along_dim([1.0], m.tensor([0])),
    lambda m: m.ones(3).take_along_dim(None),
    lambda m: m.bmm(m.ones(2, 2, 2), 2),
    lambda m: m.bmm([1.0], m.ones(2, 2, 2)),
    lambda m: m.ones(2, 2, 2).bmm([1.0]),
    lambda m: m.mv(m.ones(2, 2), 2),
    lambda m: m.ones(2, 2).mv(2.5),
    lambda m: m.bincount([1, 2]),
    lambda m: m.bincount(m.tensor([1]), 2),
    lambda m: m.tensor([1]).bincount(2),
    lambda m: m.unique([1, 2]),
    lambda m: m.diff([1.0, 2.0]),
    lambda m: m.diff(m.ones(3), append=2),
    lambda m: m.diff(m.ones(3), prepend=[1.0]),
    lambda m: m.vander([1, 2]),
    lambda m: m.diag([1.0, 2.0]),
    lambda m: m.diag_embed(2),
    lambda m: m.diagflat([1.0]),
    lambda m: m.triu([[1.0]]),
    lambda m: m.tril(2),
    lambda m: m.rot90([[1.0]]),
    lambda m: m.topk([1.0, 2.0], 1),
    lambda m: m.topk(m.ones(3), 1.5),
    lambda m: m.ones(3).topk(None),
    lambda m: m.kthvalue(m.ones(3), "a"),
    lambda m: m.ones(3).kthvalue(1.5),
    lambda m: m.kthvalue(2, 1),
    lambda m: m.cosine_similarity(m.ones(3), 2),
    lambda m: m.nn.functional.cosine_similarity([1.0], m.ones(3)),
    lambda m: m.broadcast_tensors(m.ones(2), 2),
    lambda m: m.broadcast_tensors([m.ones(2), m.ones(2)]),
    lambda m: m.cartesian_prod(m.ones(2), [1]),
    lambda m: m.cartesian_prod([m.ones(2)]),
    lambda m: m.chain_matmul(m.ones(2, 2), 2),
    lambda m: m.linalg.multi_dot([m.ones(2, 2), 2]),
    lambda m: m.linalg.multi_dot(m.ones(2, 2)),
]


@pytest.mark.parametrize("i", range(len(ARG_ERRORS)))
def test_argument_errors_as_torch(i):
    assert_same_error(ARG_ERRORS[i], torch)


# ---- torch.special.zeta: Cephes' Hurwitz zeta, differentiable in q only -------------------
def _zeta_points(m, dt):
    g = m.Generator().manual_seed(0)
    x = m.cat([m.tensor([1.0, 0.5, -1.0, 2.0, 2.0, 2.0, 1.5, 3.0, 10.0, 1.0001, 2.0, 2.0, 4.5,
                         50.0, float("inf"), float("nan"), 2.0, 2.0], dtype=m.float64),
               m.rand(200, generator=g, dtype=m.float64) * 10 + 1.001])
    q = m.cat([m.tensor([1.0, 1.0, 1.0, 0.0, -1.0, -1.5, 0.3, 2.5, 1e-3, 1.0, 1e9, 1e7, -2.5,
                         0.9, 1.0, 1.0, float("inf"), float("nan")], dtype=m.float64),
               m.rand(200, generator=g, dtype=m.float64) * 20 - 5])
    return m.special.zeta(x.to(dt), q.to(dt))


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_zeta_values_as_torch(dt):
    a, b = _zeta_points(tg, getattr(tg, dt)), _zeta_points(torch, getattr(torch, dt))
    assert str(a.dtype)[9:] == str(b.dtype)[6:]
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12 if dt == "float64" else 1e-6)


ZETA = [
    lambda m: m.special.zeta(m.tensor([True]), m.tensor([2])),
    lambda m: m.special.zeta(m.tensor([2, 3]), m.tensor([1, 2])),
    lambda m: m.special.zeta(m.ones(2, dtype=m.float64), 2),
    lambda m: m.special.zeta(m.ones(2), m.tensor(2.0, dtype=m.float64)),
    lambda m: m.special.zeta(2.5, m.tensor([1, 2])),
    lambda m: m.special.zeta(m.tensor([[2.0], [3.0]]), m.tensor([1.0, 2.5])),
    lambda m: m.special.zeta(m.tensor([2.0, 3.0], requires_grad=True), 1.0),
    lambda m: m.special.zeta(2.0, m.tensor([2.0, 3.0], requires_grad=True)),
    lambda m: m.special.zeta(m.tensor([2.0, 3.0], requires_grad=True), m.tensor([1.0, 2.0])),
]


@pytest.mark.parametrize("i", range(len(ZETA)))
def test_zeta_as_torch(i):
    _same(ZETA[i](tg), ZETA[i](torch))


@pytest.mark.parametrize("call", [
    lambda m: m.special.zeta(2, 3),
    lambda m: m.special.zeta(m.ones(2), "a"),
    lambda m: m.special.zeta([1.0], m.ones(2)),
    lambda m: m.special.zeta(m.ones(2), m.ones(3)),
    lambda m: m.special.zeta(m.tensor([2.0], requires_grad=True), 1.0).sum().backward(),
    lambda m: (lambda x: m.autograd.grad(m.special.zeta(x, x + 1).sum(), x))(
        m.tensor([2.0], requires_grad=True)),
])
def test_zeta_errors_as_torch(call):
    assert_same_error(call, torch)


def test_zeta_gradient_in_q():
    """-x zeta(x + 1, q), torch's, and its own derivative in q (create_graph); against finite
    differences too."""
    got = []
    for m in (tg, torch):
        x = m.tensor([[2.0], [3.5]], dtype=m.float64)
        q = m.tensor([1.0, 2.5, 0.7], dtype=m.float64, requires_grad=True)
        g, = m.autograd.grad(m.special.zeta(x, q).sum(), q, create_graph=True)
        h, = m.autograd.grad(g.sum(), q)
        got.append((g.detach().numpy(), h.numpy()))
    np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-12)
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-12)
    q0, eps = np.array([1.0, 2.5, 0.7]), 1e-6
    f = lambda q: tg.special.zeta(tg.tensor([[2.0], [3.5]], dtype=tg.float64),
                                  tg.tensor(q, dtype=tg.float64)).sum().item()
    fd = [(f(q0 + eps * e) - f(q0 - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(got[0][0], fd, rtol=1e-6)


# ---- float32 results of the float64 special-function faces overflow to inf quietly --------
@pytest.mark.parametrize("call", [
    lambda m: m.i0(m.tensor([100.0, 1.0])),
    lambda m: m.special.i1(m.tensor([100.0])),
    lambda m: m.i0(m.tensor(100.0)),
    lambda m: m.polygamma(3, m.tensor([1e-13, 1.0])),
])
def test_float32_overflow_of_special_functions_is_quiet(call):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = call(tg)
    np.testing.assert_allclose(got.numpy(), call(torch).numpy(), rtol=1e-6)


# ---- torch.special.erfcx: an op row (was NotImplementedError) ------------------------------
def _erfcx_points(m, dt):
    x = m.cat([m.tensor([0.0, -0.0, 1e-300, 0.5, -0.5, 5.0, -5.0, 25.9, 26.0, 26.1, 1e5, 1e9,
                         1e300, -6.1, -20.0, -26.0, -26.65, -26.7, -27.0, float("inf"),
                         -float("inf"), float("nan")], dtype=m.float64),
               m.linspace(-26.6, 60, 4001, dtype=m.float64)])
    return m.special.erfcx(x.to(dt))


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_erfcx_values_as_torch(dt):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # (float32's overflow below -9.4 is quiet)
        a = _erfcx_points(tg, getattr(tg, dt))
    b = _erfcx_points(torch, getattr(torch, dt))
    assert str(a.dtype)[9:] == str(b.dtype)[6:]
    # (float32: torch's kernel squares x in float32 below 0, 2 exp(x * x) off by up to 5e-6)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-15 if dt == "float64" else 5e-6)


def test_erfcx_gradients_as_torch():
    got = []
    for m in (tg, torch):
        x = m.linspace(-5, 40, 46, dtype=m.float64, requires_grad=True)
        y = m.special.erfcx(x)
        g, = m.autograd.grad(y.sum(), x, create_graph=True)
        h, = m.autograd.grad(g.sum(), x)
        got.append((y.grad_fn.name(), g.detach().numpy(), h.numpy()))
    assert got[0][0] == got[1][0] == "SpecialErfcxBackward0"
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[0][2], got[1][2], rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("call", [
    lambda m: m.special.erfcx(m.tensor([1, 2])),
    lambda m: m.special.erfcx(m.tensor(True)),
    lambda m: m.special.erfcx(m.tensor([0.3, -1.0, 7.0], requires_grad=True)),
])
def test_erfcx_dtypes_as_torch(call):
    _same(call(tg), call(torch))


# ---- the median of an empty integer tensor: nan cast as torch casts it, no ValueError -------
EMPTY_MEDIAN = [
    lambda m: m.median(m.ones(0, dtype=m.int64)),
    lambda m: m.median(m.ones(0, dtype=m.int32)),
    lambda m: m.median(m.ones(0, dtype=m.int16)),
    lambda m: m.ones(0, 3, dtype=m.uint8).median(),
    lambda m: m.nanmedian(m.ones(0, dtype=m.int64)),
    lambda m: m.nanmedian(m.ones(0, 3, dtype=m.int32)),
    lambda m: m.median(m.ones(0)),
    lambda m: m.median(m.ones(0, requires_grad=True)),
]


@pytest.mark.parametrize("i", range(len(EMPTY_MEDIAN)))
def test_empty_integer_median_as_torch(i):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = EMPTY_MEDIAN[i](tg)
    _same(got, EMPTY_MEDIAN[i](torch))


# ---- cumsum / cumprod: dtype is keyword-only, as torch's ---------------------------------
@pytest.mark.parametrize("call", [
    lambda m: m.cumsum(m.ones(3), 0, m.float64),
    lambda m: m.ones(3).cumsum(0, m.float64),
    lambda m: m.cumprod(m.ones(3), 0, True),
    lambda m: m.ones(3).cumprod(0, None),
])
def test_scan_dtype_is_keyword_only(call):
    assert_same_error(call, torch)


def test_scan_dtype_keyword_still_taken():
    _same(tg.cumsum(tg.ones(3), dim=0, dtype=tg.float64),
          torch.cumsum(torch.ones(3), dim=0, dtype=torch.float64))
    _same(tg.ones(3).cumprod(0, dtype=tg.int32), torch.ones(3).cumprod(0, dtype=torch.int32))


# ---- torch.special's orthogonal polynomials: torch's recurrences, no gradient --------------
POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
               "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p"]


def _polynomial_grid(m, dt):
    import math
    xs = m.cat([m.linspace(-2, 2, 81, dtype=m.float64),
                m.tensor([-1.0, 1.0, 0.0, -0.0, 0.5, 1e-3, 0.999999, -0.999999, 3.0, -3.0,
                          math.inf, -math.inf], dtype=m.float64)])
    ns = m.tensor([-3, -1, -0.5, 0, 0.7, 1, 1.5, 2, 3, 5, 6, 7, 8, 9, 10, 15, 25, 50,
                   math.nan, math.inf, -math.inf, 1e19], dtype=m.float64)
    return xs.to(dt)[None, :], ns.to(dt)[:, None]


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_values_as_torch(name):
    import warnings
    for dt in ("float64", "float32"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            a = getattr(tg.special, name)(*_polynomial_grid(tg, getattr(tg, dt)))
        b = getattr(torch.special, name)(*_polynomial_grid(torch, getattr(torch, dt)))
        assert str(a.dtype)[9:] == str(b.dtype)[6:] and a.shape == b.shape
        x, y = a.numpy(), b.numpy()
        if dt == "float32":
            # tapegrad's float32 values are its float64 recurrence rounded; torch's float32
            # recurrence loses digits under cancellation (0.1% at n = 50) and overflows to
            # nan (inf - inf): compared with torch's float64 values, rounded, where finite
            x32 = [v.to(torch.float32) for v in _polynomial_grid(torch, torch.float32)]
            y = getattr(torch.special, name)(*[v.double() for v in x32]).float().numpy()
            keep = np.isfinite(y)
            x, y = x[keep], y[keep]
        # (float64: torch's compiler fuses some products into fma, a last-bits difference
        # under cancellation)
        tol = dict(rtol=1e-10, atol=1e-13) if dt == "float64" else dict(rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(x, y, **tol)


POLYNOMIAL_CALLS = [
    lambda m: m.special.chebyshev_polynomial_t(m.tensor([1, 2]), 3),
    lambda m: m.special.hermite_polynomial_h(m.tensor([1, 2]), m.tensor(3)),
    lambda m: m.special.legendre_polynomial_p(2, m.tensor([1, 2])),
    lambda m: m.special.laguerre_polynomial_l(2.0, m.tensor([1, 2])),
    lambda m: m.special.chebyshev_polynomial_u(m.tensor([0.3, 0.5]), m.tensor([3.0],
                                                                          dtype=m.float64)),
    lambda m: m.special.hermite_polynomial_he(m.tensor([True]), 2),
    lambda m: m.special.shifted_chebyshev_polynomial_w(m.tensor([0.3, 2.0], requires_grad=True),
                                                       2),
    lambda m: m.special.chebyshev_polynomial_v(x=m.tensor([0.3]), n=4),
]


@pytest.mark.parametrize("i", range(len(POLYNOMIAL_CALLS)))
def test_polynomial_dtypes_as_torch(i):
    _same(POLYNOMIAL_CALLS[i](tg), POLYNOMIAL_CALLS[i](torch))


@pytest.mark.parametrize("call", [
    lambda m: m.special.chebyshev_polynomial_t(2, 3),
    lambda m: m.special.hermite_polynomial_h(m.ones(2), "a"),
    lambda m: m.special.legendre_polynomial_p([1.0], m.ones(2)),
    lambda m: m.special.laguerre_polynomial_l(m.ones(2), m.ones(3)),
    lambda m: m.special.chebyshev_polynomial_w(m.ones(2)),
])
def test_polynomial_errors_as_torch(call):
    assert_same_error(call, torch)


# ---- modified_bessel_i0 / i1 and spherical_bessel_j0: torch's values, no gradient ---------
@pytest.mark.parametrize("name", ["modified_bessel_i0", "modified_bessel_i1",
                                  "spherical_bessel_j0"])
def test_bessel_without_gradient_as_torch(name):
    import math
    import warnings
    pts = [0.0, -0.0, 1e-300, 0.4999, 0.5, 700.0, 710.0, math.inf, -math.inf, math.nan]
    for dt in ("float64", "float32"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            a = getattr(tg.special, name)(tg.cat([tg.linspace(-50, 50, 2001, dtype=tg.float64),
                                                  tg.tensor(pts, dtype=tg.float64)]).to(
                getattr(tg, dt)))
        b = getattr(torch.special, name)(torch.cat([
            torch.linspace(-50, 50, 2001, dtype=torch.float64),
            torch.tensor(pts, dtype=torch.float64)]).to(getattr(torch, dt)))
        np.testing.assert_allclose(a.numpy(), b.numpy(),
                                   rtol=3e-15 if dt == "float64" else 2e-6, atol=0)
    for call in (lambda m: getattr(m.special, name)(m.tensor([1, 2])),
                 lambda m: getattr(m.special, name)(m.tensor([True])),
                 lambda m: getattr(m.special, name)(m.tensor([1.0, 2.0], requires_grad=True))):
        _same(call(tg), call(torch))
    for call in (lambda m: getattr(m.special, name)(2.0),
                 lambda m: getattr(m.special, name)(m.ones(2), 3),
                 lambda m: getattr(m.special, name)()):
        assert_same_error(call, torch)


# ---- SVD of a non-finite matrix: torch's LinAlgError, not numpy's ValueError ----------------
@pytest.mark.parametrize("call", [
    lambda m: m.linalg.svd(m.tensor([[1.0, float("nan")]])),
    lambda m: m.linalg.svdvals(m.tensor([[1.0, float("nan")]])),
    lambda m: m.linalg.pinv(m.tensor([[1.0, float("nan")]])),
    lambda m: m.linalg.matrix_rank(m.tensor([[1.0, float("nan")]])),
    lambda m: m.linalg.matrix_norm(m.tensor([[1.0, float("nan")]]), ord=2),
    lambda m: m.linalg.matrix_norm(m.tensor([[1.0, float("nan")]]), ord="nuc"),
    lambda m: m.linalg.cond(m.tensor([[1.0, float("nan")], [0.0, 1.0]])),
])
def test_svd_of_non_finite_raises_torchs_linalg_error(call):
    assert_same_error(call, torch)
    with pytest.raises(tg.linalg.LinAlgError):
        call(tg)


@pytest.mark.parametrize("call", [
    lambda m: m.cholesky_inverse(m.zeros(2, 2)),
    lambda m: m.cholesky_inverse(m.tensor([[1.0, 0.0], [3.0, 0.0]]), upper=True),
    lambda m: m.cholesky_inverse(m.zeros(1, 2, 2)),
    lambda m: m.cholesky_inverse(m.tensor([[[1.0, 0], [0, 1]], [[1.0, 0], [2, 0]]])),
    lambda m: m.tensor([[1.0, 0.0], [3.0, 0.0]], requires_grad=True).cholesky_inverse(),
])
def test_cholesky_inverse_of_a_singular_factor_as_torch(call):
    assert_same_error(call, torch)


def test_cholesky_inverse_of_a_regular_factor_still_works():
    L = [[2.0, 0.0], [1.0, 3.0]]
    _same(tg.cholesky_inverse(tg.tensor(L)), torch.cholesky_inverse(torch.tensor(L)))


# ---- round(decimals=0) given: torch's round.decimals overload (RoundBackward1) -----------
ROUND = [
    lambda m: m.tensor([1.25, 2.5, -0.5], requires_grad=True).round(decimals=0),
    lambda m: m.round(m.tensor([1.25, 2.5, -0.5], requires_grad=True), decimals=0),
    lambda m: m.special.round(m.tensor([1.25, 2.5, -0.5], requires_grad=True)),
    lambda m: m.tensor([1.25, 2.5, -0.5], requires_grad=True).round(),
    lambda m: m.tensor([1, 2]).round(),
]


@pytest.mark.parametrize("i", range(len(ROUND)))
def test_round_overloads_as_torch(i):
    _same(ROUND[i](tg), ROUND[i](torch))


@pytest.mark.parametrize("call", [
    lambda m: m.tensor([1, 2]).round(decimals=0),
    lambda m: m.round(m.tensor([1, 2]), decimals=0),
    lambda m: m.tensor([1, 2]).round(decimals=1),
])
def test_round_decimals_of_integers_errors_as_torch(call):
    assert_same_error(call, torch)


def _node_names(fn, out=None):
    out = [] if out is None else out
    if fn is not None:
        out.append(fn.name())
        for g, _ in fn.next_functions:
            _node_names(g, out)
    return out


def test_ndtr_graph_as_torch():
    """torch's composite on numbers: MulBackward1(AddBackward1(ErfBackward0(MulBackward1)))."""
    got = []
    for m in (tg, torch):
        x = m.tensor([0.3, -1.2, 4.0], requires_grad=True)
        y = m.special.ndtr(x)
        g, = m.autograd.grad(y.sum(), x)
        got.append((_node_names(y.grad_fn), y.detach().numpy(), g.numpy()))
    assert got[0][0][:-1] == got[1][0][:-1]   # (the leaf's AccumulateGrad named apart)
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-6)
    np.testing.assert_allclose(got[0][2], got[1][2], rtol=1e-6)


@pytest.mark.parametrize("call", [
    lambda m: m.nanmean(m.tensor([1, 2]), dtype=m.float64),
    lambda m: m.tensor([1, 2]).nanmean(dtype=m.float32),
    lambda m: m.nanmean(m.tensor([1.0]), dtype=m.int64),
])
def test_nanmean_dtype_checks_as_torch(call):
    assert_same_error(call, torch)


def test_nanmean_float_dtype_still_taken():
    _same(tg.nanmean(tg.tensor([1.0, float("nan")]), dtype=tg.float64),
          torch.nanmean(torch.tensor([1.0, float("nan")]), dtype=torch.float64))


# ---- torch.special.softmax / log_softmax: dtype positional, the parser's messages -----------
@pytest.mark.parametrize("call", [
    lambda m: m.special.softmax(m.tensor([1.0, 2.0]), 0, m.float64),
    lambda m: m.special.log_softmax(m.tensor([[1.0, 2.0]], requires_grad=True), 1,
                                    dtype=m.float64),
    lambda m: m.special.softmax(m.tensor([1.0, 2.0]), dim=0, dtype=m.float64),
    lambda m: m.special.log_softmax(m.tensor([1.0, 2.0]), axis=0),
])
def test_special_softmax_forms_as_torch(call):
    _same(call(tg), call(torch))


@pytest.mark.parametrize("call", [
    lambda m: m.special.softmax([1.0], 0),
    lambda m: m.special.softmax(m.ones(2), "a"),
    lambda m: m.special.log_softmax(m.ones(2)),
    lambda m: m.special.softmax(m.ones(2), 0, out=None),
    lambda m: m.special.softmax(m.ones(2), 0, m.float64, 1),
    lambda m: m.special.log_softmax(m.ones(2), 0, m.float64),
])
def test_special_softmax_errors_as_torch(call):
    assert_same_error(call, torch)
