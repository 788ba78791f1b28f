"""torch.func transforms composed with regular autograd (tensors a function closes over keep
their graph through jacrev / jacfwd / jvp / hessian results, nested transforms, no_grad),
torch.func's argument checks and pytrees; logsumexp over dim=(); arange / full / range /
linspace refusing what torch's argument parser refuses; fill_ of an integer tensor with a
float value that requires grad.  Against torch 2.13 where it is installed; by hand-computed
values and finite differences without it."""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _arr(t):
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def _flat(o):
    if isinstance(o, (tuple, list)):
        return [u for v in o for u in _flat(v)]
    if isinstance(o, dict):
        return [u for v in o.values() for u in _flat(v)]
    return [o]


def _error(fn):
    try:
        fn()
    except Exception as e:   # noqa: BLE001  (the error is the behaviour compared)
        return type(e).__name__, str(e).replace("tapegrad.", "torch.")
    return None


# ---- 1. closed-over tensors through the transforms ------------------------------------------
W, B, X = [0.5, -1.2, 2.0], 0.7, [0.3, 0.7, -0.4]


def _ones(m):
    return m.ones(3, dtype=m.float64)


CLOSED = {
    "jacrev": lambda m, F, w, b, x: F.jacrev(lambda x: (w * x).sin() + b)(x),
    "jacrev_tuple_out": lambda m, F, w, b, x: F.jacrev(lambda x: ((w * x).sin(),
                                                                  (x * b).sum()))(x),
    "jacrev_argnums": lambda m, F, w, b, x: F.jacrev(lambda x, y: (w * x * y).sin(),
                                                     argnums=(0, 1))(x, x * 2),
    "jacrev_aux": lambda m, F, w, b, x: F.jacrev(lambda x: ((w * x).sin(), w * 2),
                                                 has_aux=True)(x),
    "jacrev_aux_only": lambda m, F, w, b, x: F.jacrev(lambda x: (x.sin(), (w * 2, x * 2)),
                                                      has_aux=True)(x),
    "jacrev_nothing": lambda m, F, w, b, x: F.jacrev(lambda x: x.sin() * 3)(x),
    "jacrev_only_w": lambda m, F, w, b, x: F.jacrev(lambda x: w.sin() + x * 0)(x),
    "jacfwd": lambda m, F, w, b, x: F.jacfwd(lambda x: (w * x).sin() + b)(x),
    "jacfwd_nothing": lambda m, F, w, b, x: F.jacfwd(lambda x: x.exp())(x),
    "jvp": lambda m, F, w, b, x: F.jvp(lambda x: (w * x).sin() * b, (x,), (x + 1,)),
    "jvp_nothing": lambda m, F, w, b, x: F.jvp(lambda x: x.sin(), (x,), (x + 1,)),
    "jvp_aux": lambda m, F, w, b, x: F.jvp(lambda x: ((w * x).sin(), b * 2), (x,), (x + 1,),
                                           has_aux=True),
    "jvp_two": lambda m, F, w, b, x: F.jvp(lambda x, y: (w * x * y).sin(), (x, x + 1),
                                           (x * 0 + 1, x * 2)),
    "hessian": lambda m, F, w, b, x: F.hessian(lambda x: ((w * x).sin() * b).sum())(x),
    "hessian_nothing": lambda m, F, w, b, x: F.hessian(lambda x: (x.sin() * x).sum())(x),
    "hessian_argnums": lambda m, F, w, b, x: F.hessian(lambda x, y: (w * x * y).sin().sum(),
                                                       argnums=(0, 1))(x, x * 2),
    "jacrev_jacrev": lambda m, F, w, b, x: F.jacrev(F.jacrev(lambda x: (w * x).sin()))(x),
    "jacrev_grad": lambda m, F, w, b, x: F.jacrev(F.grad(lambda x: (w * x.sin()).sum()))(x),
    "grad_jacrev": lambda m, F, w, b, x: F.grad(
        lambda x: F.jacrev(lambda x: (w * x).sin())(x).sum())(x),
    "jacfwd_jacrev": lambda m, F, w, b, x: F.jacfwd(
        F.jacrev(lambda x: (w * x.exp()).sum()))(x),
    "vjp_jacrev": lambda m, F, w, b, x: F.vjp(F.jacrev(lambda x: (w * x).sin()), x)[1](
        m.ones(3, 3, dtype=m.float64)),
    "jvp_grad": lambda m, F, w, b, x: F.jvp(F.grad(lambda x: (w * x.sin()).sum()), (x,),
                                            (x * 0 + 1,)),
    "jacrev_inner_const": lambda m, F, w, b, x: F.jacrev(
        lambda x: F.jacrev(lambda z: (w * z).sin())(x.detach()) * x)(x),
    "jacrev_input_requires_grad": lambda m, F, w, b, x: F.jacrev(
        lambda x: (w * x).sin())(x.clone().requires_grad_()),
    "grad_gradient_independent_of_w": lambda m, F, w, b, x: F.grad_and_value(
        lambda x: x.sin().sum() + (w * 0).sum())(x),
    "grad_aux": lambda m, F, w, b, x: F.grad(
        lambda x: ((w * x).sin().sum(), (w * 2, x * 2)), has_aux=True)(x),
    "vjp_cotangent_requires_grad": lambda m, F, w, b, x: F.vjp(lambda x: x.sin() * 2, x)[1](
        w * 1),
    "jvp_tangent_requires_grad": lambda m, F, w, b, x: F.jvp(lambda x: x.sin() * 2, (x,),
                                                             (w * 1,)),
    # w is the outer transform's own input: closed over by the inner one
    "grad_over_jacrev": lambda m, F, w, b, x: F.grad(
        lambda v: F.jacrev(lambda x: (v * x).sin())(x).sum())(w.detach() * 1),
    "grad_over_jvp": lambda m, F, w, b, x: F.grad(
        lambda v: F.jvp(lambda x: (v * x).sin(), (x,), (_ones(m),))[1].sum())(w.detach() * 1),
    "grad_over_hessian": lambda m, F, w, b, x: F.grad(
        lambda v: F.hessian(lambda x: (v * x).sin().sum())(x).sum())(w.detach() * 1),
    "vjp_over_jvp": lambda m, F, w, b, x: F.vjp(
        lambda v: F.jvp(lambda x: (v * x).sin(), (x,), (x,))[1], w.detach() * 1)[1](_ones(m)),
    "three_levels": lambda m, F, w, b, x: F.grad(lambda a: F.grad(lambda c: F.grad(
        lambda d: (w * a * c * d.sin()).sum())(c).sum())(a).sum())(x + 1),
    # the inner derivative is the partial in its own argument (a view of a), not also via a
    "nested_same_input": lambda m, F, w, b, x: F.grad(
        lambda a: F.grad(lambda c: (a * c * c.sin()).sum())(a).sum())(x + 1),
    "nested_same_input_jacrev": lambda m, F, w, b, x: F.grad(
        lambda a: F.jacrev(lambda c: a * c * c.sin())(a).sum())(x + 1),
    "nested_same_input_jvp": lambda m, F, w, b, x: F.grad(
        lambda a: F.jvp(lambda c: a * c * c.sin(), (a,), (_ones(m),))[1].sum())(x + 1),
    "sibling_result": lambda m, F, w, b, x: F.grad(lambda z: (F.jacrev(
        lambda x: (w * x).sin())(x) @ z).sum())(x + 1),
}


def _closed_run(m, case, no_grad=False):
    """The outputs (values, requires_grad) and the closed-over tensors' gradients after a
    backward of every output that requires grad."""
    w = m.tensor(W, dtype=m.float64, requires_grad=True)
    b = m.tensor(B, dtype=m.float64, requires_grad=True)
    x = m.tensor(X, dtype=m.float64)
    if no_grad:
        with m.no_grad():
            out = CLOSED[case](m, m.func, w, b, x)
    else:
        out = CLOSED[case](m, m.func, w, b, x)
    outs = _flat(out)
    live = [o.sum() for o in outs if o.requires_grad]
    if live:
        sum(live).backward()
    grads = [None if t.grad is None else _arr(t.grad) for t in (w, b)]
    return [o.requires_grad for o in outs], [_arr(o) for o in outs], grads, x.requires_grad


@pytest.mark.parametrize("no_grad", [False, True], ids=["grad", "no_grad"])
@pytest.mark.parametrize("case", list(CLOSED))
def test_closed_over_like_torch(torch, case, no_grad):
    ours, theirs = _closed_run(tg, case, no_grad), _closed_run(torch, case, no_grad)
    assert ours[0] == theirs[0]           # which results require grad
    assert ours[3] is theirs[3] is False  # the input is left alone
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(ours[2], theirs[2]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_jacrev_closed_over_hand_computed():
    """J = diag(w cos(w x)): d(sum J)/dw_i = cos(w_i x_i) - w_i x_i sin(w_i x_i)."""
    w = tg.tensor(W, dtype=tg.float64, requires_grad=True)
    x = tg.tensor(X, dtype=tg.float64)
    for transform in (tg.func.jacrev, tg.func.jacfwd):
        w.grad = None
        J = transform(lambda x: (w * x).sin())(x)
        assert J.requires_grad and not x.requires_grad
        J.sum().backward()
        wv, xv = np.array(W), np.array(X)
        np.testing.assert_allclose(_arr(J), np.diag(wv * np.cos(wv * xv)), rtol=1e-12)
        np.testing.assert_allclose(_arr(w.grad), np.cos(wv * xv) - wv * xv * np.sin(wv * xv),
                                   rtol=1e-12)


def _fd(f, w0, eps=1e-6):
    """Central differences of the scalar f at w0 (numpy)."""
    g = np.zeros_like(w0)
    for i in range(w0.size):
        e = np.zeros_like(w0)
        e[i] = eps
        g[i] = (f(w0 + e) - f(w0 - e)) / (2 * eps)
    return g


@pytest.mark.parametrize("case", ["hessian", "jvp", "jacrev_jacrev", "grad_jacrev",
                                  "jacfwd_jacrev", "three_levels", "sibling_result"])
def test_closed_over_finite_differences(case):
    """The gradient reaching w through a transform's results is the derivative of those
    results' sum (computed with w a constant) in w."""
    x = tg.tensor(X, dtype=tg.float64)
    b = tg.tensor(B, dtype=tg.float64)

    def total(wv, requires_grad=False):
        w = tg.tensor(wv, dtype=tg.float64, requires_grad=requires_grad)
        outs = _flat(CLOSED[case](tg, tg.func, w, b, x))
        return w, sum(o.sum() for o in outs)

    w, s = total(np.array(W), True)
    s.backward()
    np.testing.assert_allclose(_arr(w.grad), _fd(lambda v: total(v)[1].item(), np.array(W)),
                               rtol=1e-6, atol=1e-8)


def test_nothing_closed_over_needs_no_grad():
    x = tg.tensor(X, dtype=tg.float64)
    for out in (tg.func.jacrev(lambda x: x.sin())(x), tg.func.jacfwd(lambda x: x.exp())(x),
                tg.func.hessian(lambda x: (x.sin() * x).sum())(x),
                *tg.func.jvp(lambda x: x.sin(), (x,), (x,))):
        assert not out.requires_grad
    assert not x.requires_grad


def test_nested_partial_hand_computed():
    """d/da sum(a * d/db[a b sin b] at b = a) = sin a + 3 a cos a - a^2 sin a."""
    a = np.array(X) + 1
    g = tg.func.grad(lambda a: tg.func.grad(lambda c: (a * c * c.sin()).sum())(a).sum())(
        tg.tensor(a, dtype=tg.float64))
    np.testing.assert_allclose(_arr(g), np.sin(a) + 3 * a * np.cos(a) - a ** 2 * np.sin(a),
                               rtol=1e-12)


def test_no_grad_results_have_no_graph():
    w = tg.tensor(W, dtype=tg.float64, requires_grad=True)
    x = tg.tensor(X, dtype=tg.float64)
    with tg.no_grad():
        outs = [tg.func.jacrev(lambda x: (w * x).sin())(x),
                tg.func.grad(lambda x: (w * x).sin().sum())(x),
                *tg.func.jvp(lambda x: (w * x).sin(), (x,), (x,)),
                tg.func.hessian(lambda x: (w * x).sin().sum())(x)]
    assert not any(o.requires_grad for o in outs)


def test_vjp_fn_follows_its_own_grad_mode(torch):
    def run(m):
        w = m.tensor(W, dtype=m.float64, requires_grad=True)
        x = m.tensor(X, dtype=m.float64)
        o, fn = m.func.vjp(lambda x: x.sin() * w, x)
        with m.no_grad():
            a = fn(m.ones(3, dtype=m.float64))[0]
        with m.no_grad():
            o2, fn2 = m.func.vjp(lambda x: x.sin() * w, x)
        c = fn2(m.ones(3, dtype=m.float64))[0]
        d = fn(m.ones(3, dtype=m.float64), create_graph=False)[0]
        return o.requires_grad, a.requires_grad, o2.requires_grad, c.requires_grad, \
            d.requires_grad
    assert run(tg) == run(torch)


# ---- torch.func's checks, messages and pytrees ------------------------------------------------
def _model(m):
    lin = m.nn.Linear(2, 3).double()
    with m.no_grad():
        lin.weight.copy_(m.tensor([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]], dtype=m.float64))
        lin.bias.copy_(m.tensor([0.01, -0.02, 0.03], dtype=m.float64))
    return lin


def _xy(m):
    return (m.tensor(X, dtype=m.float64), m.tensor([1.5, -0.5, 2.0], dtype=m.float64))


SURFACE = {
    "grad_argnums_float": lambda m, F, x, y: F.grad(lambda x, y: (x * y).sum(), argnums=1.0)(
        x, y),
    "grad_argnums_list": lambda m, F, x, y: F.grad(lambda x, y: (x * y).sum(), argnums=[0, 1])(
        x, y),
    "grad_argnums_elem": lambda m, F, x, y: F.grad(lambda x, y: (x * y).sum(),
                                                   argnums=(0, 1.0))(x, y),
    "grad_argnums_dup": lambda m, F, x, y: F.grad(lambda x, y: (x * y).sum(),
                                                  argnums=(0, -2))(x, y),
    "grad_argnums_empty": lambda m, F, x, y: F.grad(lambda x, y: (x * y).sum(), argnums=())(
        x, y),
    "grad_argnums_oob": lambda m, F, x, y: F.grad(lambda x, y: (x * y).sum(), argnums=2)(x, y),
    "grad_python_float": lambda m, F, x, y: F.grad(lambda x: x * 2)(3.0),
    "grad_aux_int": lambda m, F, x, y: F.grad(lambda x: (x.sum(), 3), has_aux=True)(x),
    "grad_aux_none": lambda m, F, x, y: F.grad(lambda x: (x.sum(), {"a": None}),
                                               has_aux=True)(x),
    "vjp_float_primal": lambda m, F, x, y: F.vjp(lambda x: x * 2, 3.0),
    "vjp_aux_not_pair": lambda m, F, x, y: F.vjp(lambda x: x.sin(), x, has_aux=True),
    "vjp_aux_int": lambda m, F, x, y: F.vjp(lambda x: (x.sin(), 3), x, has_aux=True),
    "vjp_out_float": lambda m, F, x, y: F.vjp(lambda x: (x.sin(), 2.0), x),
    "vjp_out_empty": lambda m, F, x, y: F.vjp(lambda x: (), x),
    "vjp_out_int": lambda m, F, x, y: F.vjp(lambda x: (x * 2).long(), x),
    "vjp_cot_struct": lambda m, F, x, y: F.vjp(lambda x: x.sin(), x)[1]((y,)),
    "vjp_cot_dict": lambda m, F, x, y: F.vjp(lambda x: {"a": x.sin(), "b": (x, x)}, x)[1](
        {"a": y, "b": [y, y]}),
    "vjp_dict": lambda m, F, x, y: F.vjp(lambda d: {"p": d["a"] * d["b"]}, {"a": x, "b": y})[1](
        {"p": y}),
    "jvp_tangents_not_tuple": lambda m, F, x, y: F.jvp(lambda x: x.sin(), (x,), y),
    "jvp_len": lambda m, F, x, y: F.jvp(lambda x: x.sin(), (x,), (y, y)),
    "jvp_nested_struct": lambda m, F, x, y: F.jvp(lambda p: p[0].sin(), ((x, y),), ((x, y, y),)),
    "jvp_shape": lambda m, F, x, y: F.jvp(lambda x: x.sin(), (x,), (m.ones(4, dtype=m.float64),)),
    "jvp_float": lambda m, F, x, y: F.jvp(lambda x: x * 2, (3.0,), (1.0,)),
    "jvp_empty": lambda m, F, x, y: F.jvp(lambda: m.ones(2), (), ()),
    "jvp_dict": lambda m, F, x, y: F.jvp(lambda d: {"s": d["a"].sin() * d["b"]},
                                         ({"a": x, "b": y},), ({"a": y, "b": x},)),
    "jvp_aux_not_pair": lambda m, F, x, y: F.jvp(lambda x: x.sin(), (x,), (y,), has_aux=True),
    "jvp_out_float": lambda m, F, x, y: F.jvp(lambda x: 2.0, (x,), (y,)),
    "jacrev_dict_out": lambda m, F, x, y: F.jacrev(lambda x: {"a": x.sin(), "b": x.sum()})(x),
    "jacrev_dict_in": lambda m, F, x, y: F.jacrev(lambda d: d["a"] * d["b"])({"a": x, "b": y}),
    "jacrev_tuple_in_argnums": lambda m, F, x, y: F.jacrev(
        lambda p, z: (p[0] * p[1] * z, z.sum()), argnums=(0, 1))((x, y), y),
    "jacrev_chunk0": lambda m, F, x, y: F.jacrev(lambda x: x.sin(), chunk_size=0),
    "jacrev_float_out": lambda m, F, x, y: F.jacrev(lambda x: 2.0)(x),
    "jacrev_aux_not_pair": lambda m, F, x, y: F.jacrev(lambda x: x.sin(), has_aux=True)(x),
    "jacrev_float_in": lambda m, F, x, y: F.jacrev(lambda x: x * 2)(3.0),
    "jacrev_empty_in": lambda m, F, x, y: F.jacrev(lambda x: x.sin())(m.zeros(0, 2)),
    "jacrev_empty_out": lambda m, F, x, y: F.jacrev(lambda x: x[:0] * 2)(x),
    "jacfwd_randomness": lambda m, F, x, y: F.jacfwd(lambda x: x.sin(), randomness="bad")(x),
    "jacfwd_float_out": lambda m, F, x, y: F.jacfwd(lambda x: 2.0)(x),
    "jacfwd_dict_in": lambda m, F, x, y: F.jacfwd(lambda d: d["a"] * d["b"])({"a": x, "b": y}),
    "hessian_dict": lambda m, F, x, y: F.hessian(lambda d: (d["a"] * d["b"].sin()).sum())(
        {"a": x, "b": y}),
    "fcall_dup": lambda m, F, x, y: (lambda lin: F.functional_call(
        lin, ({"weight": lin.weight, "bias": lin.bias}, {"bias": lin.bias, "weight": lin.weight}),
        (x[:2],)))(_model(m)),
    "fcall_not_dicts": lambda m, F, x, y: (lambda lin: F.functional_call(
        lin, [{"weight": lin.weight}, 3], (x[:2],)))(_model(m)),
    "fcall_set": lambda m, F, x, y: (lambda lin: F.functional_call(lin, {1, 2}, (x[:2],)))(
        _model(m)),
    "fcall_strict_missing": lambda m, F, x, y: (lambda lin: F.functional_call(
        lin, {"weight": lin.weight * 2}, (x[:2],), strict=True))(_model(m)),
    "fcall_strict_both": lambda m, F, x, y: (lambda lin: F.functional_call(
        lin, {"zz": lin.weight, "aa": lin.bias}, (x[:2],), strict=True))(_model(m)),
    "fcall_two_dicts": lambda m, F, x, y: (lambda lin: F.functional_call(
        lin, ({"weight": lin.weight * 0},), x[:2]))(_model(m)),
}


def _surface(m, case):
    x, y = _xy(m)
    try:
        out = SURFACE[case](m, m.func, x, y)
    except Exception as e:   # noqa: BLE001  (the error is the behaviour compared)
        return type(e).__name__, str(e).replace("tapegrad.", "torch.")
    if callable(out) and not isinstance(out, (tuple, list, dict)):
        return "callable"
    flat = [o for o in _flat(out) if not callable(o)]
    return [(tuple(o.shape), str(o.dtype).split(".")[-1], o.requires_grad,
             np.round(_arr(o), 10).tolist()) for o in flat], _structure(out)


def _structure(o):
    if isinstance(o, dict):
        return {k: _structure(v) for k, v in o.items()}
    if isinstance(o, (tuple, list)):
        return type(o).__name__, [_structure(v) for v in o if not callable(v)]
    return "*"


@pytest.mark.parametrize("case", list(SURFACE))
def test_func_surface_like_torch(torch, case):
    assert _surface(tg, case) == _surface(torch, case)


def test_func_surface_messages():
    """torch.func's messages, checked without torch."""
    x, y = _xy(tg)
    assert _error(lambda: tg.func.grad(lambda x: x.sum(), argnums=(0, 0))(x)) == (
        "RuntimeError", "argnums elements must be unique, got (0, 0)")
    assert _error(lambda: tg.func.vjp(lambda x: x.sin(), x)[1]((y,))) == (
        "RuntimeError", "Expected pytree structure of cotangents to be the same as pytree "
        "structure of outputs to the function. cotangents: (*,), primal output: *")
    assert _error(lambda: tg.func.jvp(lambda x: x.sin(), (x,), (y, y))) == (
        "RuntimeError", "jvp(f, primals, tangents): Expected primals and tangents to have the "
        "same python structure. For example, if primals is a tuple of 3 tensors, tangents also "
        "must be. Got primals with structure TreeSpec(tuple, None, [*]) and tangents with "
        "structure TreeSpec(tuple, None, [*,\n  *])")
    assert _error(lambda: tg.func.jacrev(lambda x: x, chunk_size=0)) == (
        "ValueError", "jacrev: `chunk_size` should be greater than 0.")
    J = tg.func.jacrev(lambda d: {"s": d["a"] * d["b"]})({"a": x, "b": y})
    np.testing.assert_allclose(_arr(J["s"]["a"]), np.diag(_arr(y)))
    np.testing.assert_allclose(_arr(J["s"]["b"]), np.diag(_arr(x)))
    assert tuple(tg.func.jacrev(lambda x: x[:0])(x).shape) == (0, 3)


# ---- 2. logsumexp over dim=() ---------------------------------------------------------------
LSE = {
    "2d": lambda m: m.tensor([[0.1, 0.2, 0.3], [1.0, -2.0, 0.5]], dtype=m.float64),
    "1d": lambda m: m.tensor([0.1, 0.2, 0.3]),
    "0d": lambda m: m.tensor(0.25, dtype=m.float64),
    "int": lambda m: m.arange(4).reshape(2, 2),
    "bool": lambda m: m.tensor([True, False]),
    "empty": lambda m: m.zeros(0, 3),
    "empty_1d": lambda m: m.zeros(0),
    "inf": lambda m: m.tensor([[math.inf, -math.inf]]),
    "all_neg_inf": lambda m: m.tensor([[-math.inf, -math.inf]]),
    "nan": lambda m: m.tensor([[math.nan, 1.0]]),
}


def _lse(m, case, dim, keepdim, form):
    x = LSE[case](m)
    try:
        if form == "method":
            y = x.logsumexp(dim, keepdim)
        elif form == "special":
            y = m.special.logsumexp(x, dim, keepdim)
        else:
            y = m.logsumexp(x, dim=dim, keepdim=keepdim)
    except Exception as e:   # noqa: BLE001  (the error is the behaviour compared)
        return type(e).__name__, str(e)
    v = _arr(y)
    return tuple(y.shape), str(y.dtype).split(".")[-1], [u if u == u else "nan"
                                                         for u in v.reshape(-1).tolist()]


@pytest.mark.parametrize("form", ["fn", "method", "special"])
@pytest.mark.parametrize("dim", [(), []], ids=["tuple", "list"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("case", list(LSE))
def test_logsumexp_empty_dims_like_torch(torch, case, keepdim, dim, form):
    ours, theirs = _lse(tg, case, dim, keepdim, form), _lse(torch, case, dim, keepdim, form)
    assert ours[:2] == theirs[:2]
    if len(ours) == 3:
        np.testing.assert_allclose(np.array(ours[2], dtype=float),
                                   np.array(theirs[2], dtype=float), rtol=1e-6)


@pytest.mark.parametrize("case", ["2d", "1d", "0d"])
def test_logsumexp_empty_dims_gradient_like_torch(torch, case):
    def run(m):
        x = LSE[case](m).double().requires_grad_()
        y = m.logsumexp(x, dim=(), keepdim=True)
        (y * 3).sum().backward()
        return y.grad_fn.name(), _arr(x.grad)
    (ours_name, ours), (theirs_name, theirs) = run(tg), run(torch)
    assert ours_name == theirs_name
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_logsumexp_empty_dims_hand_computed():
    v = np.array([[0.1, 0.2, 0.3], [1.0, -2.0, 0.5]])
    x = tg.tensor(v, requires_grad=True)
    y = tg.logsumexp(x, dim=(), keepdim=True)
    lse = np.log(np.exp(v).sum())
    assert tuple(y.shape) == (1, 1)
    np.testing.assert_allclose(_arr(y), [[lse]], rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(_arr(x.grad), np.exp(v - lse), rtol=1e-12)   # softmax
    assert _error(lambda: tg.logsumexp(x, dim=())) == (
        "RuntimeError", "output with shape [] doesn't match the broadcast shape [1, 1]")
    e = tg.logsumexp(tg.zeros(0, 3), dim=())
    assert tuple(e.shape) == () and e.item() == -math.inf
    assert tg.logsumexp(tg.tensor(0.25, dtype=tg.float64), ()).item() == 0.25


# ---- 3. arange and the other creation functions' Number arguments ---------------------------
t1 = lambda m: m.tensor([5])                                   # noqa: E731
t0 = lambda m: m.tensor(5)                                     # noqa: E731
CREATE = {
    "arange_end_1d": lambda m: m.arange(0, t1(m)),
    "arange_start_1d": lambda m: m.arange(t1(m), 7),
    "arange_step_1d": lambda m: m.arange(0, 7, t1(m)),
    "arange_single_1d": lambda m: m.arange(t1(m)),
    "arange_single_2d": lambda m: m.arange(m.tensor([[5]])),
    "arange_end_2d": lambda m: m.arange(0, m.tensor([[5]])),
    "arange_end_empty": lambda m: m.arange(0, m.tensor([], dtype=m.int64)),
    "arange_end_float_1d": lambda m: m.arange(0, m.tensor([2.5])),
    "arange_both_1d": lambda m: m.arange(t1(m), t1(m)),
    "arange_float_start": lambda m: m.arange(0.5, t1(m)),
    "arange_dtype": lambda m: m.arange(0, t1(m), dtype=m.float32),
    "arange_dtype_requires_grad": lambda m: m.arange(0, t1(m), dtype=m.float32,
                                                     requires_grad=True),
    "arange_device": lambda m: m.arange(0, t1(m), device="cpu"),
    "arange_single_dtype": lambda m: m.arange(t1(m), dtype=m.float32),
    "arange_requires_grad_0d": lambda m: m.arange(0, m.tensor(3.0, requires_grad=True)),
    "arange_single_requires_grad_0d": lambda m: m.arange(m.tensor(3.0, requires_grad=True)),
    "arange_list": lambda m: m.arange(0, [3]),
    "arange_str": lambda m: m.arange(0, "3"),
    "arange_ndarray": lambda m: m.arange(0, np.array([3])),
    "arange_ndarray_0d": lambda m: m.arange(0, np.array(3)),
    "arange_none": lambda m: m.arange(None),
    # still Numbers
    "arange_0d": lambda m: m.arange(0, t0(m)),
    "arange_0d_start": lambda m: m.arange(t0(m), 8),
    "arange_0d_step": lambda m: m.arange(0, 8, m.tensor(2)),
    "arange_0d_float": lambda m: m.arange(0, m.tensor(2.5)),
    "arange_single_0d": lambda m: m.arange(t0(m)),
    "arange_numpy_scalar": lambda m: m.arange(0, np.int64(3)),
    "arange_numpy_float": lambda m: m.arange(np.float64(2.5)),
    "arange_numbers": lambda m: m.arange(1, 2.5, 0.5),
    "full_requires_grad_0d": lambda m: m.full((2,), m.tensor(3.0, requires_grad=True)),
    "full_1d": lambda m: m.full((2,), m.tensor([1.0])),
    "full_str": lambda m: m.full((2,), "a"),
    "full_none": lambda m: m.full((2,), None),
    "full_ndarray": lambda m: m.full((2,), np.array(2.5)),
    "full_0d_int": lambda m: m.full((2,), m.tensor(3)),
    "full_like_requires_grad_0d": lambda m: m.full_like(m.zeros(2, dtype=m.int64),
                                                        m.tensor(3.0, requires_grad=True)),
    "full_like_1d": lambda m: m.full_like(m.zeros(2), m.tensor([1.0])),
    "full_like_none": lambda m: m.full_like(m.zeros(2), None),
    "full_like_0d": lambda m: m.full_like(m.zeros(2, dtype=m.int64), m.tensor(2.7)),
    "scalar_tensor_requires_grad": lambda m: m.scalar_tensor(m.tensor(3.0,
                                                                      requires_grad=True)),
    "scalar_tensor_1d": lambda m: m.scalar_tensor(m.tensor([3.0])),
    "scalar_tensor_ndarray": lambda m: m.scalar_tensor(np.array(2.0)),
    "scalar_tensor_0d": lambda m: m.scalar_tensor(m.tensor(3)),
    "range_end_1d": lambda m: m.range(0, m.tensor([3.0])),
    "range_start_1d": lambda m: m.range(m.tensor([3.0]), 5),
    "range_step_requires_grad": lambda m: m.range(0, 5, m.tensor(2.0, requires_grad=True)),
    "range_none": lambda m: m.range(0, None),
    "range_0d": lambda m: m.range(0, m.tensor(3.0)),
    "linspace_end_1d": lambda m: m.linspace(0, m.tensor([3.0]), 3),
    "linspace_both_1d": lambda m: m.linspace(m.tensor([3.0]), m.tensor([3.0]), 3),
    "linspace_2d": lambda m: m.linspace(0, m.ones(1, 1), 3),
    "logspace_start_1d": lambda m: m.logspace(m.tensor([3.0]), 5, 3),
    "linspace_requires_grad_0d": lambda m: m.linspace(0, m.tensor(3.0, requires_grad=True), 3),
}


def _create(m, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # (torch.range is deprecated, in both)
        try:
            y = CREATE[case](m)
        except Exception as e:   # noqa: BLE001  (the error is the behaviour compared)
            return type(e).__name__, str(e)
    return tuple(y.shape), str(y.dtype).split(".")[-1], _arr(y).tolist(), y.requires_grad


@pytest.mark.parametrize("case", list(CREATE))
def test_creation_numbers_like_torch(torch, case):
    assert _create(tg, case) == _create(torch, case)


def test_arange_messages():
    assert _error(lambda: tg.arange(0, tg.tensor([5]))) == ("TypeError", (
        "arange() received an invalid combination of arguments - got (int, Tensor), but "
        "expected one of:\n * (Number end, *, Tensor out = None, torch.dtype dtype = None, "
        "torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool "
        "requires_grad = False)\n * (Number start, Number end, *, torch.dtype dtype = None, "
        "torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool "
        "requires_grad = False)\n * (Number start, Number end, Number step = 1, *, Tensor out = "
        "None, torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, "
        "bool pin_memory = False, bool requires_grad = False)\n"))
    assert _error(lambda: tg.arange(0, tg.tensor([5]), dtype=tg.float32))[1].startswith(
        "arange() received an invalid combination of arguments - got (int, Tensor, "
        "dtype=torch.dtype), but")
    assert _error(lambda: tg.arange(tg.tensor([5]))) == (
        "TypeError", "arange(): argument 'end' (position 1) must be Number, not Tensor")
    assert _error(lambda: tg.full((2,), tg.tensor(1.0, requires_grad=True))) == (
        "TypeError", "full(): argument 'fill_value' (position 2) must be Number, not Tensor")
    assert tg.arange(0, tg.tensor(5)).tolist() == [0, 1, 2, 3, 4]
    assert tg.arange(tg.tensor(2.5)).tolist() == [0.0, 1.0, 2.0]
    assert tg.arange(1, 2.5, 0.5).tolist() == [1.0, 1.5, 2.0]
    inf, nan = float("inf"), float("nan")
    for args, message in [((0, nan), "unsupported range: 0 -> nan"),
                          ((nan, 1.0), "unsupported range: nan -> 1"),
                          ((-inf, 0, 1.0), "unsupported range: -inf -> 0"),
                          ((0.5, inf, 0.1), "unsupported range: 0.5 -> inf"),
                          ((0, 1, nan), "step must be nonzero"),
                          ((0.0, 1.0, -inf), "upper bound and lower bound inconsistent with step "
                                             "sign")]:
        assert _error(lambda: tg.arange(*args)) == ("RuntimeError", message)
    assert tg.arange(0, 1, inf).tolist() == [] and tg.arange(0.0, 1.0, inf).dtype == tg.float32


def test_arange_end_by_keyword(torch):
    """`arange(end=n)` is torch's arange(Number end) overload by keyword (tapegrad's start
    was a required parameter: TypeError); `arange()` and a dtype= that is no dtype are
    torch's invalid combination."""
    for kw in ({"end": 4}, {"end": 2.5, "dtype": "float64"}, {"end": 3, "requires_grad": False}):
        got, want = (m.arange(**{k: getattr(m, v) if k == "dtype" else v for k, v in kw.items()})
                     for m in (tg, torch))
        assert (got.tolist(), str(got.dtype)[9:]) == (want.tolist(), str(want.dtype)[6:])
    assert _error(tg.arange) == _error(torch.arange)
    for bad in ("a", 4):   # (a dtype= that is none: torch's invalid combination, not AttributeError)
        assert _error(lambda: tg.arange(3, dtype=bad)) == _error(lambda: torch.arange(3, dtype=bad))


# ---- 4. fill_ of an integer tensor with a float value that requires grad ---------------------
FILL = {
    "int64": lambda m, v: m.zeros(3, dtype=m.int64).fill_(v),
    "int32": lambda m, v: m.zeros(3, dtype=m.int32).fill_(v),
    "uint8": lambda m, v: m.zeros(3, dtype=m.uint8).fill_(v),
    "int8_wraps": lambda m, v: m.zeros(3, dtype=m.int8).fill_(v * 0 + 300.7),
    "bool": lambda m, v: m.zeros(3, dtype=m.bool).fill_(v),
    "negative": lambda m, v: m.zeros(3, dtype=m.int64).fill_(-v),
    "view": lambda m, v: m.zeros(2, 3, dtype=m.int64)[:, 1].fill_(v),
    "float64": lambda m, v: m.zeros(3, dtype=m.float64).fill_(v),
    "masked_fill_": lambda m, v: m.zeros(3, dtype=m.int64).masked_fill_(
        m.tensor([True, False, True]), v),
}


def _fill(m, case, no_grad):
    v = m.tensor(2.7, requires_grad=True)
    if no_grad:
        with m.no_grad():
            y = FILL[case](m, v)
    else:
        y = FILL[case](m, v)
    return tuple(y.shape), str(y.dtype).split(".")[-1], _arr(y).tolist()


@pytest.mark.parametrize("no_grad", [False, True], ids=["grad", "no_grad"])
@pytest.mark.parametrize("case", list(FILL))
def test_fill_with_requires_grad_value_like_torch(torch, case, no_grad):
    assert _fill(tg, case, no_grad) == _fill(torch, case, no_grad)


def test_fill_integer_with_requires_grad_value():
    """The value is cast as torch casts it; the integer result has no history (torch marks it
    as requiring grad, but no backward can pass through it); a float one records
    FillBackward3 with the value's gradient."""
    v = tg.tensor(2.7, requires_grad=True)
    a = tg.zeros(3, dtype=tg.int64)
    assert a.fill_(v) is a and a.tolist() == [2, 2, 2] and a.dtype is tg.int64
    assert not a.requires_grad and a.grad_fn is None
    assert tg.zeros(2, dtype=tg.int8).fill_(v * 0 + 300.7).tolist() == [44, 44]
    with tg.no_grad():
        assert tg.zeros(2, dtype=tg.int16).fill_(v).tolist() == [2, 2]
    f = tg.zeros(3, dtype=tg.float64).fill_(v)
    assert f.grad_fn.name() == "FillBackward3"
    f.sum().backward()
    assert v.grad.item() == pytest.approx(3.0)
