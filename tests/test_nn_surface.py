"""The nn surface of engineer "surface12" against torch 2.13: in-place activations (in place,
version counters, grad_fn names and edges, torch's errors), the new modules (values,
gradients, reprs, state dicts), BatchNorm's running statistics, Embedding's max_norm."""
import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

X = np.array([[-4.0, -3.0, -1.5, -0.25, 0.0], [0.4, 1.0, 2.5, 3.0, 6.5]])


def _names(y):
    return (type(y.grad_fn).__name__,
            [None if f is None else type(f).__name__.replace("torch::autograd::", "")
             for f, _ in y.grad_fn.next_functions])


INPLACE = [
    ("relu", lambda F, x: F.relu(x, inplace=True)),
    ("relu_", lambda F, x: F.relu_(x)),
    ("leaky_relu", lambda F, x: F.leaky_relu(x, 0.2, inplace=True)),
    ("leaky_relu_", lambda F, x: F.leaky_relu_(x, 0.2)),
    ("elu", lambda F, x: F.elu(x, 0.8, inplace=True)),
    ("elu_", lambda F, x: F.elu_(x)),
    ("selu", lambda F, x: F.selu(x, inplace=True)),
    ("celu_", lambda F, x: F.celu_(x, 1.5)),
    ("hardtanh_", lambda F, x: F.hardtanh_(x, -2.0, 2.0)),
    ("threshold_", lambda F, x: F.threshold_(x, 0.4, -7.0)),
    ("relu6", lambda F, x: F.relu6(x, inplace=True)),
    ("silu", lambda F, x: F.silu(x, inplace=True)),
    ("hardswish", lambda F, x: F.hardswish(x, inplace=True)),
    ("hardsigmoid", lambda F, x: F.hardsigmoid(x, inplace=True)),
    ("mish", lambda F, x: F.mish(x, inplace=True)),
    ("dropout-eval", lambda F, x: F.dropout(x, 0.5, training=False, inplace=True)),
    ("dropout-p0", lambda F, x: F.dropout(x, 0.0, inplace=True)),
]


def _run_inplace(mod, fn, dtype):
    a = mod.tensor(X, dtype=dtype, requires_grad=True)
    b = a * 1.0
    v = b._version
    y = fn(mod.nn.functional, b)
    (y * mod.tensor(np.arange(1.0, 11.0).reshape(2, 5), dtype=dtype)).sum().backward()
    return (y is b, b._version - v, _names(y), y.detach().numpy().copy(),
            a.grad.numpy().copy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,fn", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_activation_as_torch(name, fn, dtype):
    ours = _run_inplace(tg, fn, getattr(tg, dtype))
    theirs = _run_inplace(torch, fn, getattr(torch, dtype))
    assert ours[:3] == theirs[:3]
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(ours[3], theirs[3], **tol)
    np.testing.assert_allclose(ours[4], theirs[4], **tol)


def test_inplace_dropout_training_mask_and_gradient():
    a = tg.tensor(X + 10.0, requires_grad=True)       # (no zeros: y == 0 iff dropped)
    b = a * 1.0
    y = tg.nn.functional.dropout(b, 0.5, inplace=True)
    assert y is b and b._version == 1 and _names(y) == ("MulBackward0", ["MulBackward0", None])
    y.sum().backward()
    kept = y.detach().numpy() != 0
    np.testing.assert_array_equal(y.detach().numpy(), np.where(kept, 2 * (X + 10.0), 0.0))
    np.testing.assert_array_equal(a.grad.numpy(), np.where(kept, 2.0, 0.0))


def _errors(mod):
    F = mod.nn.functional
    out = []
    leaf = mod.tensor(X, requires_grad=True)
    for fn in (lambda: F.relu_(leaf), lambda: F.leaky_relu(leaf, inplace=True),
               lambda: F.elu_(leaf), lambda: F.hardtanh_(leaf),
               lambda: F.silu(leaf, inplace=True)):
        with pytest.raises(RuntimeError) as e:
            fn()
        out.append(str(e.value))
    # a saved value changed in place: torch's backward error
    for make in (lambda t: t.sigmoid(), lambda t: t.exp(), lambda t: t.tanh()):
        s = make(leaf)
        F.relu_(s)
        with pytest.raises(RuntimeError) as e:
            s.sum().backward()
        out.append(str(e.value).split(" Hint")[0].replace("torch.", "tapegrad."))
    # under no_grad the value changes (and the version) without history
    t = mod.tensor(X)
    with mod.no_grad():
        F.leaky_relu_(leaf.detach(), 0.5)
        F.elu(t, inplace=True)
    out.append((t._version, t.numpy().round(6).tolist(), leaf._version))
    return out


def test_inplace_errors_as_torch():
    assert _errors(tg) == _errors(torch)


MODULES = [
    ("Hardtanh", (), {}), ("Hardtanh", (-2.0, 3.0, True), {}), ("ReLU6", (True,), {}),
    ("SELU", (), {}), ("CELU", (0.5,), {}), ("Hardswish", (), {}), ("Hardsigmoid", (), {}),
    ("Hardswish", (True,), {}), ("Hardsigmoid", (True,), {}), ("SELU", (True,), {}),
    ("Mish", (), {}), ("Mish", (True,), {}), ("LogSigmoid", (), {}), ("Softsign", (), {}), ("Tanhshrink", (), {}),
    ("Softmin", (1,), {}), ("ReLU", (True,), {}), ("LeakyReLU", (0.2, True), {}),
    ("ELU", (1.0, True), {}), ("SiLU", (True,), {}), ("Dropout", (0.3, True), {}),
    ("Threshold", (0.5, -2.0), {}), ("Threshold", (-1.0, 3.0, True), {}), ("GLU", (-2,), {}),
    ("GLU", (0,), {}), ("Softshrink", (), {}), ("Hardshrink", (1.2,), {}),
]


@pytest.mark.parametrize("name,args,kw", MODULES, ids=[f"{n}{a}" for n, a, _ in MODULES])
def test_activation_module_as_torch(name, args, kw):
    out = []
    for mod in (tg, torch):
        m = getattr(mod.nn, name)(*args, **kw).eval()
        a = mod.tensor(X, dtype=mod.float64, requires_grad=True)
        y = m(a * 1.0)
        (y * y).sum().backward()
        out.append((repr(m), _names(y)[0], y.detach().numpy(), a.grad.numpy()))
    assert out[0][:2] == out[1][:2]
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out[0][3], out[1][3], rtol=1e-7, atol=1e-15)


EDGES = [-7.0, -4.0, -3.0, -2.9, -1.0, -1e-30, -0.0, 0.0, 1e-30, 1.0, 2.9, 3.0, 6.0, 7.0,
         float("nan"), float("inf"), float("-inf")]
ROWS = [   # the activations that are one unary row (hardtanh: two), at their kinks and specials
    ("hardtanh", lambda F, x: F.hardtanh(x)), ("relu6", lambda F, x: F.relu6(x)),
    ("hardtanh_equal", lambda F, x: F.hardtanh(x, 2.9, 2.9)),
    ("hardswish", lambda F, x: F.hardswish(x)), ("hardsigmoid", lambda F, x: F.hardsigmoid(x)),
    ("mish", lambda F, x: F.mish(x)), ("logsigmoid", lambda F, x: F.logsigmoid(x)),
    ("selu", lambda F, x: F.selu(x)), ("celu", lambda F, x: F.celu(x, 0.5)),
    ("elu", lambda F, x: F.elu(x, 0.7))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,fn", ROWS, ids=[n for n, _ in ROWS])
def test_activation_rows_at_kinks_and_specials_as_torch(name, fn, dtype):
    """Values (signs of zeros included) and gradients at the bounds, -0.0, nan and the
    infinities as torch's; torch's grad_fn name and saved numbers.  (64 elements: all in
    torch's vectorized loop, whose gradients at nan its scalar loop for the last few elements
    does not always give.)"""
    out = []
    for mod in (tg, torch):
        x = mod.tensor(EDGES + [0.5] * (64 - len(EDGES)), dtype=getattr(mod, dtype),
                       requires_grad=True)
        y = fn(mod.nn.functional, x)
        g, = mod.autograd.grad(y, x, mod.ones_like(y))
        fields = sorted(a for a in dir(y.grad_fn) if a.startswith("_saved_") and
                        a not in ("_saved_self", "_saved_buffer"))
        out.append((y.detach().numpy(), g.numpy(), type(y.grad_fn).__name__,
                    {a: getattr(y.grad_fn, a) for a in fields}))
    (y, g, name_ours, saved_ours), (ty, tgr, name_theirs, saved_theirs) = out
    assert (name_ours, saved_ours) == (name_theirs, saved_theirs)
    # (float32: torch's vectorized mish / logsigmoid differ in the last bits)
    tol = dict(rtol=1e-6, atol=1e-37) if dtype == "float32" else dict(rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(y, ty, **tol)
    np.testing.assert_array_equal(np.signbit(y) & ~np.isnan(y), np.signbit(ty) & ~np.isnan(ty))
    np.testing.assert_allclose(g, tgr, **tol)


LOSSES = [("smooth_l1", lambda F, x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=0.7)),
          ("smooth_l1_beta1", lambda F, x, t, r: F.smooth_l1_loss(x, t, reduction=r)),
          ("smooth_l1_beta0", lambda F, x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=0.0)),
          ("huber", lambda F, x, t, r: F.huber_loss(x, t, reduction=r, delta=0.7)),
          ("huber_delta1", lambda F, x, t, r: F.huber_loss(x, t, reduction=r))]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,fn", LOSSES, ids=[n for n, _ in LOSSES])
def test_smooth_l1_and_huber_at_kinks_as_torch(name, fn, dtype, reduction):
    """Values and both gradients at the kinks |d| = beta (delta), zeros, nan and infinities
    as torch's, and its grad_fn (beta 0: l1_loss's composition)."""
    d = [-3.0, -1.0, -0.7, -0.5, -0.0, 0.0, 0.5, 0.7, 1.0, 3.0, float("nan"), float("inf"),
         float("-inf")]
    out = []
    for mod in (tg, torch):
        x = mod.tensor(d + [0.25] * (64 - len(d)), dtype=getattr(mod, dtype), requires_grad=True)
        t = mod.zeros(64, dtype=getattr(mod, dtype), requires_grad=True)
        y = fn(mod.nn.functional, x, t, reduction)
        gx, gt = mod.autograd.grad(y, (x, t), mod.ones_like(y))
        out.append((type(y.grad_fn).__name__, y.detach().numpy(), gx.numpy(), gt.numpy()))
    assert out[0][0] == out[1][0]
    tol = dict(rtol=1e-6, atol=0) if dtype == "float32" else dict(rtol=1e-15, atol=0)
    for a, b in zip(out[0][1:], out[1][1:]):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("dtype", ["int64", "int8"])
def test_hardtanh_of_integers_keeps_their_dtype(dtype):
    out = []
    for mod in (tg, torch):
        x = mod.tensor([-3, -1, 0, 1, 2, 5, 7], dtype=getattr(mod, dtype))
        F = mod.nn.functional
        out.append([(str(v.dtype).split(".")[1], v.tolist()) for v in
                    (F.hardtanh(x, -1.5, 1.5), F.hardtanh(x, -0.5, 0.7), F.relu6(x))])
        with pytest.raises(RuntimeError, match="Bool inputs not supported for hardtanh"):
            F.relu6(mod.tensor([True, False]))
    assert out[0] == out[1]


def test_hardtanh_checks_its_bounds_as_torch():
    out = []
    for mod in (tg, torch):
        with pytest.raises(AssertionError) as e:
            mod.nn.Hardtanh(1.0, 1.0)
        out.append(str(e.value))
        with pytest.raises(ValueError) as e:
            mod.nn.functional.hardtanh(mod.ones(2), 2.0, 1.0)
        out.append(str(e.value))
    assert out[:2] == out[2:]


def test_hardtanh_takes_the_deprecated_bound_names_as_torch():
    """Hardtanh(min_value=..., max_value=...): torch's old spellings, taken after a
    FutureWarning each."""
    out = []
    for mod in (tg, torch):
        with pytest.warns(FutureWarning) as w:
            m = mod.nn.Hardtanh(min_value=-0.5, max_value=2.0)
        out.append(([str(x.message) for x in w], repr(m),
                     m(mod.tensor([-1.0, 0.0, 3.0])).tolist()))
    assert out[0] == out[1]


def _bn_run(mod, cls, shape, dtype, **kw):
    rng = np.random.default_rng(0)
    m = getattr(mod.nn, cls)(shape[1], **kw)
    if m.weight is not None:
        with mod.no_grad():
            m.weight.copy_(mod.tensor(rng.uniform(0.5, 1.5, shape[1]), dtype=m.weight.dtype))
            if m.bias is not None:
                m.bias.copy_(mod.tensor(rng.uniform(-0.5, 0.5, shape[1]), dtype=m.bias.dtype))
    m = m.to(dtype)
    seen = []
    for step in range(3):
        x = mod.tensor(rng.normal(size=shape) * 2 + 1, dtype=dtype, requires_grad=True)
        y = m(x)
        (y * mod.tensor(rng.normal(size=shape), dtype=dtype)).sum().backward()
        seen.append((y.detach().numpy(), x.grad.numpy()))
    # (the node and its input's edge: torch also lists None for an absent weight / bias,
    # tapegrad's decomposition rows list the inputs present; see the report)
    names = _names(y)[0], _names(y)[1][:1]
    m.eval()
    x = mod.tensor(rng.normal(size=shape), dtype=dtype, requires_grad=True)
    y = m(x)
    y.sum().backward()
    seen.append((y.detach().numpy(), x.grad.numpy()))
    sd = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
    grads = [p.grad.numpy() for p in m.parameters()]
    return repr(m), names, _names(y)[0], seen, sd, grads


BN = [("BatchNorm1d", (6, 3), {}), ("BatchNorm1d", (4, 3, 5), dict(momentum=None)),
      ("BatchNorm2d", (2, 3, 2, 2), dict(affine=False)),
      ("BatchNorm1d", (5, 2), dict(track_running_stats=False, eps=1e-3)),
      ("BatchNorm3d", (2, 2, 2, 1, 2), dict(bias=False, momentum=0.3))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cls,shape,kw", BN, ids=[f"{c}{s}" for c, s, _ in BN])
def test_batch_norm_as_torch(cls, shape, kw, dtype):
    ours = _bn_run(tg, cls, shape, getattr(tg, dtype), **kw)
    theirs = _bn_run(torch, cls, shape, getattr(torch, dtype), **kw)
    assert ours[:3] == theirs[:3]
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    for (y, g), (ty, tgr) in zip(ours[3], theirs[3]):
        np.testing.assert_allclose(y, ty, **tol)
        np.testing.assert_allclose(g, tgr, **tol)
    assert list(ours[4]) == list(theirs[4])
    for k in ours[4]:
        assert ours[4][k].dtype == theirs[4][k].dtype
        np.testing.assert_allclose(ours[4][k], theirs[4][k], **tol)
    for a, b in zip(ours[5], theirs[5]):
        np.testing.assert_allclose(a, b, **tol)


def test_batch_norm_errors_and_state_dict_round_trip():
    out = []
    for mod in (tg, torch):
        m = mod.nn.BatchNorm1d(3)
        for bad in (mod.ones(2, 3, 4, 5), mod.ones(1, 3)):
            with pytest.raises(ValueError) as e:
                m(bad)
            out.append(str(e.value).replace("torch.", "tapegrad."))
        m(mod.tensor(X[:, :3], dtype=mod.float32))
        again = mod.nn.BatchNorm1d(3)
        again.load_state_dict(m.state_dict())
        out.append((int(again.num_batches_tracked), again.running_var.numpy().round(6).tolist()))
    # torch counts the refused one-sample batch (it counts before batch_norm checks); a
    # failing call here changes nothing (docs/semantics.md, "a call that fails")
    assert out[:2] == out[3:5] and out[2][1] == out[5][1]
    assert (out[2][0], out[5][0]) == (1, 2)


def test_group_norm_and_distances_as_torch():
    rng = np.random.default_rng(1)
    v, w = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    out = []
    for mod in (tg, torch):
        a = mod.tensor(v, requires_grad=True)
        b = mod.tensor(w, requires_grad=True)
        gn = mod.nn.GroupNorm(2, 4).double()
        res = [gn(a), mod.nn.GroupNorm(4, 4, affine=False, eps=1e-3).double()(a),
               mod.nn.CosineSimilarity()(a, b), mod.nn.CosineSimilarity(dim=-1, eps=0.5)(a, b),
               mod.nn.PairwiseDistance()(a, b), mod.nn.PairwiseDistance(1.0, keepdim=True)(a, b),
               mod.nn.functional.cosine_similarity(a[0], b, dim=1)]
        total = sum((r * r).sum() for r in res)
        total.backward()
        out.append(([r.detach().numpy() for r in res], a.grad.numpy(), b.grad.numpy(),
                    [_names(r)[0] for r in res[:4]], repr(gn),
                    repr(mod.nn.PairwiseDistance()), repr(mod.nn.CosineSimilarity())))
    for x, y in zip(out[0][0], out[1][0]):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-9, atol=1e-12)
    assert out[0][3:] == out[1][3:]
    with pytest.raises(ValueError, match="must be divisible"):
        tg.nn.GroupNorm(3, 4)


def test_unflatten_and_parameter_containers_as_torch():
    out = []
    for mod in (tg, torch):
        m = mod.nn.Module()
        m.pl = mod.nn.ParameterList([mod.nn.Parameter(mod.ones(2)), mod.zeros(2, 3)])
        m.pl.append(mod.ones(1))
        m.pd = mod.nn.ParameterDict({"b": mod.ones(3), "a": mod.nn.Parameter(mod.ones(2))})
        m.pd["c"] = mod.zeros(1, dtype=mod.float64)
        m.un = mod.nn.Unflatten(1, (2, 3))
        y = m.un(mod.ones(4, 6, requires_grad=True))
        with pytest.raises(IndexError) as e:
            m.pl[5]
        with pytest.raises(RuntimeError) as e2:
            m.pl(1)
        sliced = m.pl[1:]
        popped = m.pd.pop("b")
        out.append((repr(m).replace("torch.", "tapegrad."), sorted(m.state_dict()),
                    len(list(m.parameters())), tuple(y.shape), _names(y)[0], str(e.value),
                    str(e2.value), len(sliced), type(popped).__name__, list(m.pd.keys()),
                    "a" in m.pd, len(m.pd)))
    assert out[0] == out[1]


def _embedding(mod, **kw):
    w = mod.tensor(np.arange(20.0).reshape(5, 4) / 5)
    e = mod.nn.Embedding.from_pretrained(w, freeze=False, **kw)
    idx = mod.tensor([[0, 3, 3], [1, 4, -1 + 5]])
    v = e.weight._version
    y = e(idx)
    (y * y).sum().backward()
    return (repr(e), _names(y)[0], e.weight._version - v, e.weight.detach().numpy(),
            e.weight.grad.numpy())


@pytest.mark.parametrize("kw", [dict(max_norm=2.0), dict(max_norm=1.5, norm_type=1.0),
                                dict(max_norm=3.0, padding_idx=1),
                                dict(max_norm=1.0, norm_type=float("inf"))],
                         ids=["l2", "l1", "padding", "inf"])
def test_embedding_max_norm_as_torch(kw):
    ours, theirs = _embedding(tg, **kw), _embedding(torch, **kw)
    assert ours[:3] == theirs[:3]
    np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-6)
    np.testing.assert_allclose(ours[4], theirs[4], rtol=1e-6)


def test_embedding_sparse_is_not_implemented():
    e = tg.nn.Embedding(4, 2, sparse=True)
    assert repr(e) == repr(torch.nn.Embedding(4, 2, sparse=True))
    with pytest.raises(NotImplementedError, match="sparse"):
        e(tg.tensor([1, 2]))


@pytest.mark.parametrize("fn", [lambda F, v: F.relu_(v), lambda F, v: F.leaky_relu_(v, 0.1),
                                lambda F, v: F.hardtanh_(v, -2.0, 2.0),
                                lambda F, v: F.elu_(v)], ids=["relu_", "leaky", "hardtanh",
                                                             "elu"])
def test_inplace_activation_through_a_view_as_torch(fn):
    out = []
    for mod in (tg, torch):
        a = mod.tensor(X[:, 1:4], requires_grad=True)
        x = a * 1.0
        v = x[0]
        fn(mod.nn.functional, v)
        (x * mod.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
        out.append((_names(x)[0], _names(v)[0], x._version, x.detach().numpy().round(12),
                    a.grad.numpy().round(12)))
    assert out[0][:3] == out[1][:3]
    np.testing.assert_array_equal(out[0][3], out[1][3])
    np.testing.assert_array_equal(out[0][4], out[1][4])


@pytest.mark.parametrize("name,shape", [("Dropout1d", (3, 4, 5)), ("Dropout1d", (4, 5)),
                                        ("Dropout2d", (2, 3, 2, 2)), ("Dropout3d", (2, 2, 1, 2, 3)),
                                        ("Dropout3d", (3, 1, 2, 2))])
def test_channel_dropout(name, shape):
    m = getattr(tg.nn, name)(p=0.5)
    assert repr(m) == repr(getattr(torch.nn, name)(p=0.5))
    a = tg.tensor(np.random.default_rng(2).uniform(1, 2, shape), requires_grad=True)
    y = m(a * 1.0)
    y.sum().backward()
    lead = 1 if len(shape) in (2, 4) and name != "Dropout2d" else 2
    kept = (y.detach().numpy() != 0).reshape(shape[:lead] + (-1,))
    assert (kept.all(-1) | ~kept.any(-1)).all()         # whole channels kept or dropped
    np.testing.assert_allclose(a.grad.numpy(), 2.0 * (y.detach().numpy() != 0))
    # (an unbatched input: torch runs a batch of one and squeezes it away, in eval mode too)
    batched = not (len(shape) in (2, 4) and name != "Dropout2d")
    assert _names(y)[0] == ("MulBackward0" if batched else "SqueezeBackward1")
    assert (m.eval()(a) is a) == batched
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        tg.nn.functional.dropout1d(tg.ones(2))


def test_prelu_module_as_torch():
    out = []
    for mod in (tg, torch):
        m = mod.nn.PReLU(5, init=0.1).double()
        single = mod.nn.PReLU().double()
        a = mod.tensor(X, requires_grad=True)
        y = m(a) + single(a * 2.0)
        (y * y).sum().backward()
        out.append((repr(m), _names(m(a))[0], sorted(m.state_dict()), y.detach().numpy(),
                    a.grad.numpy(), m.weight.grad.numpy(), single.weight.grad.numpy()))
        with pytest.raises(RuntimeError) as e:
            mod.nn.PReLU(3)(mod.ones(2, 5))
        out[-1] += (str(e.value),)
    assert out[0][:3] == out[1][:3] and out[0][-1] == out[1][-1]
    for a, b in zip(out[0][3:-1], out[1][3:-1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_glu_and_shrink_errors_as_torch():
    out = []
    for mod in (tg, torch):
        F = mod.nn.functional
        for call in (lambda: F.glu(mod.ones(3)), lambda: F.softshrink(mod.ones(3), -1),
                     lambda: F.softshrink(mod.ones(3, dtype=mod.float64), -0.5)):
            with pytest.raises(RuntimeError) as e:
                call()
            out.append(str(e.value))
    assert out[:3] == out[3:]


LOSSES = [
    ("MarginRankingLoss", dict(margin=0.3), 3), ("MarginRankingLoss", dict(reduction="sum"), 3),
    ("HingeEmbeddingLoss", dict(margin=0.5), 2), ("HingeEmbeddingLoss", dict(reduction="none"), 2),
    ("PoissonNLLLoss", {}, 2), ("PoissonNLLLoss", dict(log_input=False, full=True), 2),
    ("GaussianNLLLoss", {}, "var"), ("GaussianNLLLoss", dict(full=True, reduction="sum"), "var1"),
    ("GaussianNLLLoss", dict(eps=0.5), "var"),
]


@pytest.mark.parametrize("name,kw,arity", LOSSES, ids=[f"{n}{k}" for n, k, _ in LOSSES])
def test_composed_losses_as_torch(name, kw, arity):
    rng = np.random.default_rng(4)
    x1, x2 = rng.uniform(0.1, 2.0, (4, 3)), rng.normal(size=(4, 3))
    sign = np.where(rng.normal(size=(4, 3)) > 0, 1.0, -1.0)
    counts = rng.integers(0, 5, (4, 3)).astype(float)
    var = rng.uniform(0.2, 1.5, (4, 3)) if arity == "var" else rng.uniform(0.2, 1.5, (4,))
    out = []
    for mod in (tg, torch):
        m = getattr(mod.nn, name)(**kw)
        a = mod.tensor(x1, requires_grad=True)
        b = mod.tensor(x2, requires_grad=True)
        v = mod.tensor(var, requires_grad=True)
        if name == "MarginRankingLoss":
            y = m(a, b, mod.tensor(sign))
        elif name == "HingeEmbeddingLoss":
            y = m(b, mod.tensor(sign))
        elif name == "PoissonNLLLoss":
            y = m(a if kw.get("log_input") is False else b, mod.tensor(counts))
        else:
            y = m(b, a, v)
        (y * y).sum().backward()
        out.append((repr(m), type(y.grad_fn).__name__, y.detach().numpy(),
                    [None if t.grad is None else t.grad.numpy() for t in (a, b, v)]))
    assert out[0][:2] == out[1][:2]
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-12)
    for g, h in zip(out[0][3], out[1][3]):
        assert (g is None) == (h is None)
        if g is not None:
            np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-14)


# ---- engineer "nnloss": the names it added, with torch's signatures (behaviour:
# tests/test_nn_losses_more.py, tests/test_nn_nnloss_layers.py) -------------------------------
NNLOSS_F = ["soft_margin_loss", "multilabel_soft_margin_loss", "cosine_embedding_loss",
            "triplet_margin_loss", "triplet_margin_with_distance_loss", "multi_margin_loss",
            "multilabel_margin_loss", "rrelu", "gumbel_softmax", "lp_pool1d", "lp_pool2d",
            "lp_pool3d", "local_response_norm"]
NNLOSS_BUILTINS = ["rrelu_", "channel_shuffle"]     # (torch's are C functions: no signature)
NNLOSS_MODULES = ["SoftMarginLoss", "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss",
                  "TripletMarginLoss", "TripletMarginWithDistanceLoss", "MultiMarginLoss",
                  "MultiLabelMarginLoss", "RReLU", "LPPool1d", "LPPool2d", "LPPool3d",
                  "LocalResponseNorm", "ChannelShuffle"]


def _params(fn):
    import inspect
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", NNLOSS_F)
def test_nnloss_functional_names_and_signatures(name):
    assert name in tg.nn.functional.__all__
    assert _params(getattr(tg.nn.functional, name)) == _params(
        getattr(torch.nn.functional, name))


def test_nnloss_builtin_names():
    for name in NNLOSS_BUILTINS:
        assert name in tg.nn.functional.__all__ and hasattr(torch.nn.functional, name)


@pytest.mark.parametrize("name", NNLOSS_MODULES)
def test_nnloss_module_names_and_signatures(name):
    assert name in tg.nn.modules.__all__ and hasattr(tg.nn, name)
    assert _params(getattr(tg.nn, name).__init__) == _params(getattr(torch.nn, name).__init__)
    assert _params(getattr(tg.nn, name).forward) == _params(getattr(torch.nn, name).forward)
