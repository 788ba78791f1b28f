"""nn.utils' module transforms: parametrize (register / remove / cached / right_inverse, the
Parametrized<Class> swap), parametrizations.weight_norm / spectral_norm / orthogonal, the
older weight_norm / spectral_norm hooks, BatchNorm fusion, skip_init and
stateless.functional_call.  Against torch: values, gradients of the underlying parameters,
buffers, state_dict keys, reprs, warnings and errors; without torch: the properties."""
import copy
import pickle
import re
import warnings

import numpy as np
import pytest

import tapegrad

# ---- against torch: the parametrizations on layers -----------------------------------------


def _layer(m, case, dtype):
    """(module, input) with the transform of `case` applied, after manual_seed(3)."""
    m.manual_seed(3)
    nn, U = m.nn, m.nn.utils
    PZ = U.parametrizations
    x4 = m.linspace(-2, 2, 2 * 3 * 5 * 5, dtype=dtype).reshape(2, 3, 5, 5).sin()
    x2 = m.linspace(-2, 2, 12, dtype=dtype).reshape(2, 6).cos()
    conv = lambda: nn.Conv2d(3, 4, 3).to(dtype)
    lin = lambda i=6, o=4: nn.Linear(i, o).to(dtype)
    if case == "wn":
        return PZ.weight_norm(lin()), x2
    if case == "wn_none":
        return PZ.weight_norm(lin(), dim=None), x2
    if case == "wn_conv_dim1":
        return PZ.weight_norm(conv(), dim=1), x4
    if case == "wn_conv_dim3":
        return PZ.weight_norm(conv(), dim=3), x4
    if case == "sn":
        return PZ.spectral_norm(lin()), x2
    if case == "sn_conv3":
        return PZ.spectral_norm(conv(), n_power_iterations=3), x4
    if case == "sn_convT":
        return PZ.spectral_norm(nn.ConvTranspose2d(3, 4, 3).to(dtype)), x4
    if case == "sn_eval":
        return PZ.spectral_norm(lin()).eval(), x2
    if case == "sn_1d":
        return PZ.spectral_norm(lin(), "bias"), x2
    if case == "orth_exp_square":
        return PZ.orthogonal(lin(6, 6)), x2
    if case == "orth_exp_tall":
        return PZ.orthogonal(lin(4, 6), orthogonal_map="matrix_exp"), x2[:, :4]
    if case == "orth_cayley_wide":
        return PZ.orthogonal(lin(), orthogonal_map="cayley"), x2
    if case == "orth_householder":
        return PZ.orthogonal(lin()), x2
    if case == "orth_householder_batch":
        return PZ.orthogonal(nn.Conv1d(3, 4, 3).to(dtype)), x4[:, :, 0, :]
    if case == "orth_householder_notriv":
        return PZ.orthogonal(lin(), use_trivialization=False), x2
    if case == "orth_exp_notriv":
        return PZ.orthogonal(lin(6, 6), use_trivialization=False), x2
    if case == "orth_assign":
        mod = PZ.orthogonal(lin())
        mod.weight = m.randn(4, 6, dtype=dtype)
        return mod, x2
    if case == "orth_assign_notriv":
        mod = PZ.orthogonal(lin(), orthogonal_map="householder", use_trivialization=False)
        mod.weight = m.randn(4, 6, dtype=dtype)
        return mod, x2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if case == "old_wn":
            return U.weight_norm(lin()), x2
        if case == "old_wn_none":
            return U.weight_norm(conv(), dim=None), x4
    if case == "old_sn":
        return U.spectral_norm(lin()), x2
    if case == "old_sn_conv2":
        return U.spectral_norm(conv(), n_power_iterations=2), x4
    if case == "old_sn_convT":
        return U.spectral_norm(nn.ConvTranspose2d(3, 4, 3).to(dtype)), x4
    raise KeyError(case)


def _apply(m, case, dtype):
    mod, x = _layer(m, case, getattr(m, dtype))
    y = mod(x)
    y2 = mod(x)                   # a second call (spectral norm: another power iteration)
    (y * y2).sum().backward()
    return dict(
        repr=_named(m, [repr(mod)])[0], keys=list(mod.state_dict()),
        y=y.detach().numpy(), weight=mod.weight.detach().numpy(),
        grads={k: p.grad.numpy().copy() for k, p in mod.named_parameters()
               if p.grad is not None},
        buffers={k: b.numpy().copy() for k, b in mod.named_buffers()})


LAYER_CASES = ["wn", "wn_none", "wn_conv_dim1", "wn_conv_dim3", "sn", "sn_conv3", "sn_convT",
               "sn_eval", "sn_1d", "orth_exp_square", "orth_exp_tall", "orth_cayley_wide",
               "orth_householder", "orth_householder_batch", "orth_householder_notriv",
               "orth_exp_notriv", "orth_assign", "orth_assign_notriv", "old_wn", "old_wn_none",
               "old_sn", "old_sn_conv2", "old_sn_convT"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", LAYER_CASES)
def test_parametrized_layer_as_torch(case, dtype):
    torch = pytest.importorskip("torch")
    ours, theirs = _apply(tapegrad, case, dtype), _apply(torch, case, dtype)
    assert ours["repr"] == theirs["repr"]
    assert ours["keys"] == theirs["keys"]
    assert ours["grads"].keys() == theirs["grads"].keys()
    assert ours["buffers"].keys() == theirs["buffers"].keys()
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    for k in ("y", "weight"):
        np.testing.assert_allclose(ours[k], theirs[k], **tol, err_msg=k)
    for k in theirs["grads"]:
        np.testing.assert_allclose(ours["grads"][k], theirs["grads"][k], **tol, err_msg=k)
    for k in theirs["buffers"]:
        np.testing.assert_allclose(ours["buffers"][k], theirs["buffers"][k], **tol, err_msg=k)


# ---- against torch: the parametrize API ----------------------------------------------------
def _r(t):
    return None if t is None else t.detach().numpy().round(5).tolist()


def _named(m, out):
    """`out` with the module's name (torch / tapegrad, as in reprs and messages) as "M"."""
    sub = lambda x: re.sub(rf"\b{m.__name__}\b", "M", x) if isinstance(x, str) else x
    return [tuple(map(sub, o)) if isinstance(o, tuple) else sub(o) for o in out]


def _outcome(fn):
    try:
        return fn()
    except Exception as e:     # noqa: BLE001 (the error is compared)
        return (type(e).__name__, str(e))


def _parametrize_story(m):
    out = []
    m.manual_seed(1)
    nn = m.nn
    P = nn.utils.parametrize

    class Sym(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT

        def right_inverse(self, A):
            return A.triu()

    class Scale(nn.Module):
        def forward(self, X):
            return 2 * X

    class RankOne(nn.Module):
        def forward(self, x, y):
            return x.unsqueeze(-1) @ y.unsqueeze(-2)

        def right_inverse(self, Z):
            return Z[:, 0].clone(), Z[0, :].clone()

    class Crop(nn.Module):
        def forward(self, X):
            return X[:2]

    lin = nn.Linear(3, 3)
    w0 = lin.weight
    P.register_parametrization(lin, "weight", Sym())
    out.append(lin.parametrizations.weight.original is w0)
    P.register_parametrization(lin, "weight", Scale())
    out += [repr(lin), type(lin).__name__, type(lin).__mro__[1].__name__, list(lin.state_dict()),
            [n for n, _ in lin.named_parameters()], P.is_parametrized(lin),
            P.is_parametrized(lin, "weight"), P.is_parametrized(lin, "bias"),
            P.type_before_parametrizations(lin).__name__, _r(lin.weight)]
    with P.cached():
        out.append(lin.weight is lin.weight)
    out.append(lin.weight is lin.weight)
    lin(m.ones(2, 3)).sum().backward()
    out.append(_r(lin.parametrizations.weight.original.grad))
    out.append(_outcome(lambda: setattr(lin, "weight", m.eye(3))))     # Scale: no right_inverse
    twin = copy.deepcopy(lin)
    out += [type(twin).__name__, _r(twin.weight)]
    out.append(_outcome(lambda: pickle.dumps(lin)))
    P.remove_parametrizations(lin, "weight", leave_parametrized=False)
    out += [repr(lin), type(lin).__name__, lin.weight is w0, list(lin.state_dict()),
            _r(lin.weight)]
    P.register_parametrization(lin, "weight", Sym())
    lin.weight = m.arange(9.0).reshape(3, 3)                 # right_inverse: the upper triangle
    out += [_r(lin.parametrizations.weight.original), _r(lin.weight)]
    P.remove_parametrizations(lin, "weight")
    out += [lin.weight is w0, _r(lin.weight), type(lin.weight).__name__]

    lin = nn.Linear(3, 3)
    P.register_parametrization(lin, "weight", RankOne())
    out += [list(lin.state_dict()), repr(lin),
            [(n, tuple(p.shape), p.requires_grad) for n, p in lin.named_parameters()]]
    lin(m.ones(2, 3)).sum().backward()
    out.append(_r(lin.parametrizations.weight.original0.grad))
    out.append(_outcome(lambda: P.remove_parametrizations(lin, "weight", leave_parametrized=False)))
    P.remove_parametrizations(lin, "weight")
    out += [type(lin.weight).__name__, lin.weight.requires_grad, _r(lin.weight)]

    lin = nn.Linear(3, 3)
    out.append(_outcome(lambda: P.register_parametrization(lin, "weight", Crop())))
    out.append(_outcome(lambda: P.register_parametrization(lin, "foo", Sym())))
    out.append(_outcome(lambda: P.remove_parametrizations(lin, "weight")))
    P.register_parametrization(lin, "weight", Scale())
    out.append(_outcome(lambda: P.register_parametrization(lin, "weight", Crop())))
    P.register_parametrization(lin, "weight", Crop(), unsafe=True)
    out += [tuple(lin.weight.shape), lin.parametrizations.weight.unsafe]
    out.append(_outcome(lambda: setattr(lin, "weight", nn.Parameter(m.zeros(2, 3)))))

    bn = nn.BatchNorm1d(3)                                   # a buffer
    P.register_parametrization(bn, "running_var", Scale())
    out += [list(bn.state_dict()), _r(bn.running_var), repr(bn)]
    scale = Scale()
    P.register_parametrization(nn.Linear(2, 2).eval(), "weight", scale)
    out.append(scale.training)

    src, dst = nn.Linear(3, 3), nn.Linear(3, 3)
    P.register_parametrization(src, "weight", Sym())
    P.transfer_parametrizations_and_params(src, dst)
    out += [repr(dst), _r(dst.weight) == _r(src.weight)]
    return _named(m, out)


def test_parametrize_api_as_torch():
    torch = pytest.importorskip("torch")
    assert _parametrize_story(tapegrad) == _parametrize_story(torch)


# ---- against torch: the older hooks, fusion, skip_init, stateless ----------------------------
def _caught(m, fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = fn()
    return res, _named(m, [(x.category.__name__, str(x.message)) for x in w])


def _hooks_story(m):
    out = []
    nn, U = m.nn, m.nn.utils
    m.manual_seed(5)
    lin = nn.Linear(3, 2)
    out.append(_caught(m, lambda: U.weight_norm(lin))[1])
    out += [repr(lin), list(lin.state_dict()), [n for n, _ in lin.named_parameters()],
            type(lin.weight).__name__, _r(lin.weight_g), tuple(lin.weight_g.shape),
            [type(h).__name__ for h in lin._forward_pre_hooks.values()]]
    out.append(_outcome(lambda: _caught(m, lambda: U.weight_norm(lin))[0]))
    old = {k: v.clone() for k, v in lin.state_dict().items()}
    lin(m.ones(1, 3)).sum().backward()
    out += [_r(lin.weight_v.grad), _r(lin.weight_g.grad)]
    U.remove_weight_norm(lin)
    out += [repr(lin), list(lin.state_dict()), type(lin.weight).__name__, _r(lin.weight)]
    out.append(_outcome(lambda: U.remove_weight_norm(lin)))
    new = U.parametrizations.weight_norm(nn.Linear(3, 2))    # loads the old keys
    out += [repr(new.load_state_dict(old)), _r(new.weight), list(new.state_dict())]

    m.manual_seed(6)
    lin = nn.Linear(4, 3)
    U.spectral_norm(lin)
    out += [repr(lin), list(lin.state_dict()), sorted(n for n, _ in lin.named_buffers()),
            _r(lin.weight_u), _r(lin.weight), type(lin.weight).__name__]
    out.append(_outcome(lambda: U.spectral_norm(lin)))
    lin(m.ones(2, 4))
    out += [_r(lin.weight_u), _r(lin.weight)]
    other = U.spectral_norm(nn.Linear(4, 3))
    out += [repr(other.load_state_dict(lin.state_dict())), _r(other.weight_v)]
    U.remove_spectral_norm(lin)
    out += [list(lin.state_dict()), _r(lin.weight), type(lin.weight).__name__,
            len(lin._state_dict_hooks)]
    out.append(_outcome(lambda: U.remove_spectral_norm(lin)))
    for fn in [lambda: U.spectral_norm(nn.Linear(2, 2), n_power_iterations=0),
               lambda: U.parametrizations.spectral_norm(nn.Linear(2, 2), n_power_iterations=0),
               lambda: U.parametrizations.spectral_norm(nn.Linear(2, 2), dim=2),
               lambda: U.parametrizations.spectral_norm(nn.Linear(2, 2), "foo"),
               lambda: U.parametrizations.orthogonal(nn.Linear(2, 2), "bias"),
               lambda: U.parametrizations.orthogonal(nn.Linear(2, 2), orthogonal_map="foo"),
               lambda: U.spectral_norm(nn.Linear(2, 2, bias=False), "bias")]:
        out.append(_outcome(lambda: repr(fn())))

    m.manual_seed(7)
    conv, bn = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)
    bn(conv(m.randn(4, 2, 5, 5)))
    conv.eval()
    bn.eval()
    fused = U.fuse_conv_bn_eval(conv, bn)
    x = m.randn(1, 2, 5, 5)
    out += [repr(fused), _r(fused.weight), _r(fused.bias), type(fused.weight).__name__,
            fused.weight.requires_grad, _r(fused(x)) == _r(bn(conv(x)))]
    out.append(_outcome(lambda: U.fuse_conv_bn_eval(conv.train(), bn)))
    conv.eval()
    ft = U.fuse_conv_bn_eval(nn.ConvTranspose2d(2, 3, 3, bias=False).eval(), bn, transpose=True)
    out += [_r(ft.weight), _r(ft.bias)]
    lin, bn1 = nn.Linear(4, 3).eval(), nn.BatchNorm1d(3)
    bn1(lin(m.randn(5, 4)))
    bn1.eval()
    fl = U.fuse_linear_bn_eval(lin, bn1)
    out += [_r(fl.weight), _r(fl.bias)]
    out.append(_outcome(lambda: U.fuse_linear_bn_eval(lin, nn.BatchNorm1d(2).eval())))
    w, b = U.fuse_linear_bn_weights(lin.weight, None, bn1.running_mean, bn1.running_var, 1e-5,
                                    bn1.weight, bn1.bias)
    out.append((_r(w), _r(b), b.requires_grad, type(b).__name__))
    w, b = U.fuse_conv_bn_weights(conv.weight, None, bn.running_mean, bn.running_var, 1e-3,
                                  None, None)
    out.append((_r(b), _r(w)))

    m.manual_seed(8)
    skipped = U.skip_init(nn.Linear, 3, 2)
    out += [repr(skipped), _r(m.rand(2)), type(skipped.weight).__name__,
            skipped.weight.requires_grad, list(skipped.state_dict())]
    out.append(_outcome(lambda: U.skip_init(int)))
    out.append(_outcome(lambda: U.skip_init(nn.ReLU)))

    y, caught = _caught(m, lambda: U.stateless.functional_call(
        nn.Linear(2, 2), {"weight": m.ones(2, 2), "bias": m.zeros(2)}, (m.ones(1, 2),)))
    out += [caught, _r(y)]
    return _named(m, out)


def test_hooks_fusion_skip_init_stateless_as_torch():
    torch = pytest.importorskip("torch")
    assert _hooks_story(tapegrad) == _hooks_story(torch)


# ---- without torch -------------------------------------------------------------------------
nn = tapegrad.nn
P = nn.utils.parametrize
PZ = nn.utils.parametrizations


class _Double(nn.Module):
    def forward(self, X):
        return 2 * X

    def right_inverse(self, X):
        return X / 2


def test_register_swaps_the_class_and_moves_the_tensor():
    lin = nn.Linear(3, 2)
    w = lin.weight
    w0 = w.detach().numpy().copy()
    P.register_parametrization(lin, "weight", _Double())
    assert type(lin).__name__ == "ParametrizedLinear" and isinstance(lin, nn.Linear)
    assert lin.parametrizations.weight.original is w
    assert list(lin.state_dict()) == ["bias", "parametrizations.weight.original"]
    np.testing.assert_allclose(w.detach().numpy(), w0 / 2)     # right_inverse ran, in place
    np.testing.assert_allclose(lin.weight.detach().numpy(), w0)
    x = tapegrad.ones(4, 3)
    lin(x).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.full((2, 3), 8.0))    # 2 * sum over the batch
    assert repr(lin).startswith("ParametrizedLinear(\n  in_features=3, out_features=2, bias=True")
    assert "(0): _Double()" in repr(lin)
    P.remove_parametrizations(lin, "weight")
    assert type(lin) is nn.Linear and lin.weight is w and not hasattr(lin, "parametrizations")
    assert list(lin.state_dict()) == ["bias", "weight"]       # re-registered last, as torch


def test_cached_computes_once_per_block():
    calls = []

    class Count(nn.Module):
        def forward(self, X):
            calls.append(1)
            return X + 1

    lin = P.register_parametrization(nn.Linear(2, 2), "weight", Count())
    calls.clear()
    with P.cached():
        with P.cached():
            a, b = lin.weight, lin.weight
        c = lin.weight
    assert a is b is c and len(calls) == 1
    lin.weight
    assert len(calls) == 2


def test_assignment_runs_right_inverse_and_errors():
    lin = P.register_parametrization(nn.Linear(2, 2), "weight", _Double())
    lin.weight = tapegrad.full((2, 2), 6.0)
    np.testing.assert_allclose(lin.parametrizations.weight.original.detach().numpy(), 3.0)
    np.testing.assert_allclose(lin.weight.detach().numpy(), 6.0)

    class NoInverse(nn.Module):
        def forward(self, X):
            return X * 3

    P.register_parametrization(lin, "weight", NoInverse())
    with pytest.raises(RuntimeError, match="NoInverse does not implement right_inverse"):
        lin.weight = tapegrad.zeros(2, 2)
    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(nn.Linear(3, 2), "weight", type(
            "Row", (nn.Module,), {"forward": lambda self, X: X[0]})())
    with pytest.raises(ValueError, match="does not have a parametrization on bias"):
        P.remove_parametrizations(lin, "bias")
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(lin)
    twin = copy.deepcopy(lin)
    assert type(twin).__name__ == "ParametrizedLinear"
    np.testing.assert_allclose(twin.weight.detach().numpy(), lin.weight.detach().numpy())


def test_weight_norm_is_g_times_direction():
    lin = PZ.weight_norm(nn.Linear(4, 3))
    g = lin.parametrizations.weight.original0
    v = lin.parametrizations.weight.original1
    assert tuple(g.shape) == (3, 1) and tuple(v.shape) == (3, 4)
    with tapegrad.no_grad():
        g.mul_(2.0)
    vv = v.detach().numpy()
    np.testing.assert_allclose(lin.weight.detach().numpy(), g.detach().numpy() * vv
                               / np.linalg.norm(vv, axis=1, keepdims=True), rtol=1e-6)
    P.remove_parametrizations(lin, "weight")
    np.testing.assert_allclose(np.linalg.norm(lin.weight.detach().numpy(), axis=1),
                               g.detach().numpy()[:, 0], rtol=1e-6)


def test_spectral_norm_divides_by_the_top_singular_value():
    tapegrad.manual_seed(0)
    lin = PZ.spectral_norm(nn.Linear(5, 4), n_power_iterations=30)
    sn = lin.parametrizations.weight[0]
    u = sn._u
    w = lin.weight.detach().numpy()
    assert sn._u is u                            # the power iteration updates in place
    np.testing.assert_allclose(np.linalg.svd(w, compute_uv=False)[0], 1.0, rtol=1e-5)
    old = nn.utils.spectral_norm(nn.Linear(5, 4), n_power_iterations=30)
    old(tapegrad.ones(1, 5))
    np.testing.assert_allclose(np.linalg.svd(old.weight.detach().numpy(), compute_uv=False)[0],
                               1.0, rtol=1e-5)


@pytest.mark.parametrize("kind", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
def test_orthogonal_stays_orthogonal_after_a_step(kind, shape):
    tapegrad.manual_seed(0)
    lin = PZ.orthogonal(nn.Linear(shape[1], shape[0]), orthogonal_map=kind)
    opt = tapegrad.optim.SGD(lin.parameters(), lr=0.5)
    lin(tapegrad.randn(6, shape[1])).pow(3).sum().backward()
    opt.step()
    q = lin.weight.detach().numpy()
    gram = q @ q.T if shape[0] <= shape[1] else q.T @ q
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-5)


def test_old_weight_norm_warns_and_recomputes_before_forward():
    lin = nn.Linear(3, 2)
    with pytest.warns(FutureWarning, match="nn.utils.weight_norm` is deprecated"):
        nn.utils.weight_norm(lin)
    with tapegrad.no_grad():
        lin.weight_g.fill_(3.0)
    lin(tapegrad.ones(1, 3))
    np.testing.assert_allclose(np.linalg.norm(lin.weight.detach().numpy(), axis=1), 3.0,
                               rtol=1e-6)
    nn.utils.remove_weight_norm(lin)
    assert isinstance(lin.weight, nn.Parameter) and list(lin.state_dict()) == ["bias", "weight"]


def test_fusion_skip_init_and_stateless():
    tapegrad.manual_seed(0)
    conv, bn = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)
    bn(conv(tapegrad.randn(8, 2, 6, 6)))
    conv.eval()
    bn.eval()
    x = tapegrad.randn(2, 2, 6, 6)
    fused = nn.utils.fuse_conv_bn_eval(conv, bn)
    np.testing.assert_allclose(fused(x).detach().numpy(), bn(conv(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 3), nn.BatchNorm1d(3).eval())

    tapegrad.manual_seed(4)
    skipped = nn.utils.skip_init(nn.Linear, 6, 5)       # draws nothing
    after = tapegrad.rand(3).numpy()
    tapegrad.manual_seed(4)
    np.testing.assert_array_equal(after, tapegrad.rand(3).numpy())
    assert isinstance(skipped.weight, nn.Parameter) and tuple(skipped.weight.shape) == (5, 6)
    with pytest.raises(RuntimeError, match="must support a 'device' arg"):
        nn.utils.skip_init(nn.ReLU)

    lin = nn.Linear(2, 2)
    params = {"weight": tapegrad.eye(2), "bias": tapegrad.ones(2)}
    with pytest.warns(FutureWarning, match="stateless.functional_call` is deprecated"):
        y = nn.utils.stateless.functional_call(lin, params, tapegrad.tensor([[1.0, 2.0]]))
    np.testing.assert_array_equal(y.detach().numpy(), [[2.0, 3.0]])
