"""torch fidelity of optimizers' arithmetic, BCELoss at the input's bounds, the global module
hooks (torch.nn.modules.module.register_module_*) and full backward hooks' grad_output for an
unused output.

Optimizers: torch's CPU step (the single-tensor path its default foreach=None takes for CPU
tensors, or the multi-tensor one of foreach=True) computes in the parameters' dtype, rounding
every tensor op, with add_(alpha=...), addcmul_ and lerp_ one fused multiply-add each.  Its
sqrt (MKL's) can be an ulp off the correctly rounded value, so the bitwise comparisons run
torch with Tensor.sqrt / sqrt_ replaced by a correctly rounded one; without that, the runs
agree to sqrt's round-off.  LBFGS likewise, with numpy's dot for torch's (MKL's sdot)."""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

f32, f64 = np.float32, np.float64


# ==== optimizers ==============================================================================
CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, maximize=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.1)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.9), weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("RAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.01, t0=20, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, lambd=0.01, t0=20, weight_decay=0.1, foreach=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-3, 0.05), maximize=True)),
]
# foreach=True: torch's multi-tensor arithmetic (also on CPU when asked for), the last case of
# each optimizer (ASGD has its own above)
CASES += [(c, dict(kw, foreach=True)) for c, kw in dict(CASES).items() if c != "ASGD"]
IDS = [f"{c}-{i}" for i, (c, _) in enumerate(CASES)]
# steps per comparison: well past every warm-up (RAdam rectifies from step 6) and eight
# cycles of the gradients' scale (k % 7); each step a chance to differ in the last bit
STEPS = 60
SHAPES = [(37, 5), (8,), (1,), ()]


@pytest.fixture
def exact_sqrt(monkeypatch):
    """torch's Tensor.sqrt / sqrt_ and _foreach_sqrt(_) correctly rounded (numpy's), as
    tapegrad's kernels."""
    def sqrt(self):
        return torch.from_numpy(np.asarray(np.sqrt(self.detach().numpy())))

    def sqrt_(self):
        self.copy_(sqrt(self))
        return self

    def foreach_sqrt_(tensors):
        for t in tensors:
            sqrt_(t)
    monkeypatch.setattr(torch.Tensor, "sqrt", sqrt)
    monkeypatch.setattr(torch.Tensor, "sqrt_", sqrt_)
    monkeypatch.setattr(torch, "_foreach_sqrt", lambda tensors: [sqrt(t) for t in tensors])
    monkeypatch.setattr(torch, "_foreach_sqrt_", foreach_sqrt_)


def _steps(lib, cls, kw, steps, dt):
    """`steps` steps from the same parameters with the same gradients (drawn, not computed:
    any difference is the update's)."""
    rng = np.random.default_rng(0)
    ps = [lib.tensor(rng.standard_normal(s).astype(dt), requires_grad=True) for s in SHAPES]
    opt = getattr(lib.optim, cls)(ps, **kw)
    grng = np.random.default_rng(1)
    for k in range(steps):
        for p in ps:
            p.grad = lib.tensor(grng.standard_normal(tuple(p.shape)).astype(dt) * (0.1 + k % 7))
        opt.step()
    state = [{k: v.detach().numpy().copy() for k, v in opt.state[p].items()
              if hasattr(v, "numpy")} for p in ps]
    return [p.detach().numpy().copy() for p in ps], state, [p._version for p in ps]


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("cls,kw", CASES, ids=IDS)
def test_optimizer_steps_bitwise_as_torch(exact_sqrt, cls, kw, dt):
    ours, our_state, our_versions = _steps(tg, cls, kw, STEPS, dt)
    theirs, their_state, their_versions = _steps(torch, cls, kw, STEPS, dt)
    assert our_versions == their_versions
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(our_state, their_state):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("cls,kw", CASES, ids=IDS)
def test_optimizer_steps_close_to_torch_with_its_own_sqrt(cls, kw, dt):
    ours = _steps(tg, cls, kw, STEPS, dt)[0]
    theirs = _steps(torch, cls, kw, STEPS, dt)[0]
    tol = dict(rtol=1e-4, atol=1e-6) if dt == "float32" else dict(rtol=1e-12, atol=1e-14)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("cls", ["Adam", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax",
                                 "Adadelta"])
def test_zero_denominator_gives_nan_as_torch(cls):
    """eps=0 and zero gradients: 0 / 0 in the update is nan, as torch's (not a Python
    ZeroDivisionError)."""
    def run(lib):
        p = lib.zeros(3, requires_grad=True)
        opt = getattr(lib.optim, cls)([p], lr=0.1, eps=0.0)
        for _ in range(7):      # (RAdam's rectified step from its 6th)
            p.grad = lib.zeros(3)
            opt.step()
        return p.detach().numpy()
    ours = run(tg)
    np.testing.assert_array_equal(ours, run(torch))
    assert np.isnan(ours).all()


def test_rmsprop_polynomial_tutorial_updates_as_torch(exact_sqrt):
    """"Learning PyTorch with Examples", its RMSprop program (a third-order polynomial fit to
    sin on 2000 points, MSELoss(reduction='sum'), lr=1e-3, 2000 steps): tapegrad's RMSprop
    fed torch's gradients at each step keeps the parameters bitwise equal to torch's."""
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    xx = x.unsqueeze(-1).pow(torch.tensor([1, 2, 3]))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    loss_fn = torch.nn.MSELoss(reduction="sum")
    topt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    ps = [tg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in model.parameters()]
    opt = tg.optim.RMSprop(ps, lr=1e-3)
    for _ in range(2000):
        topt.zero_grad()
        loss_fn(model(xx), y).backward()
        for p, q in zip(ps, model.parameters()):
            p.grad = tg.tensor(q.grad.numpy().copy())
        topt.step()
        opt.step()
    for p, q in zip(ps, model.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    sq = [opt.state[p]["square_avg"].numpy() for p in ps]
    tsq = [topt.state[q]["square_avg"].numpy() for q in model.parameters()]
    for a, b in zip(sq, tsq):
        np.testing.assert_array_equal(a, b)


def _fma32(a, b, c):
    """a * b + c rounded once to float32 (the float32 product is exact in float64)."""
    return (f64(a) * f64(b) + f64(c)).astype(f32)


def test_rmsprop_float32_arithmetic_by_hand():
    """Two RMSprop steps (momentum, weight decay) on float32 values, against torch's op order
    written out in numpy float32: every op rounded to float32, add_ with alpha and addcmul_
    fused, Python numbers rounded to float32 first.  The float64 evaluation rounded on store
    (tapegrad's former arithmetic) differs on these values."""
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal(64).astype(f32)
    grads = [rng.standard_normal(64).astype(f32) for _ in range(2)]
    lr, alpha, eps, wd, mom = 0.01, 0.99, 1e-8, 0.1, 0.9
    p = tg.tensor(p0.copy(), requires_grad=True)
    opt = tg.optim.RMSprop([p], lr=lr, alpha=alpha, eps=eps, weight_decay=wd, momentum=mom)
    for g in grads:
        p.grad = tg.tensor(g)
        opt.step()

    want, sq, buf, wide = p0.copy(), np.zeros(64, f32), np.zeros(64, f32), p0.astype(f64)
    wsq, wbuf = np.zeros(64), np.zeros(64)
    for g in grads:
        gd = _fma32(want, f32(wd), g)                                 # grad.add(p, alpha=wd)
        sq = _fma32(f32(1 - alpha) * gd, gd, sq * f32(alpha))         # mul_, addcmul_
        avg = np.sqrt(sq) + f32(eps)
        buf = buf * f32(mom) + gd / avg                               # mul_, addcdiv_
        want = _fma32(buf, f32(-lr), want)                            # p.add_(buf, alpha=-lr)
        # float64 throughout, rounded on store
        g64 = f64(g) + wd * wide
        wsq = (wsq * alpha + (1 - alpha) * g64 * g64).astype(f32).astype(f64)
        wbuf = (wbuf * mom + g64 / (np.sqrt(wsq) + eps)).astype(f32).astype(f64)
        wide = (wide - lr * wbuf).astype(f32).astype(f64)
    np.testing.assert_array_equal(p.detach().numpy(), want)
    np.testing.assert_array_equal(opt.state[p]["square_avg"].numpy(), sq)
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"].numpy(), buf)
    assert (wide.astype(f32) != want).any()


def test_sgd_nesterov_float32_arithmetic_by_hand():
    """SGD with Nesterov momentum and weight decay, 3 float32 steps, against torch's ops
    written out: each add_ with alpha one fused multiply-add, buf.mul_ rounded first."""
    rng = np.random.default_rng(6)
    p0 = rng.standard_normal(50).astype(f32)
    grads = [rng.standard_normal(50).astype(f32) for _ in range(3)]
    lr, mom, wd = 0.05, 0.9, 0.01
    p = tg.tensor(p0.copy(), requires_grad=True)
    opt = tg.optim.SGD([p], lr=lr, momentum=mom, nesterov=True, weight_decay=wd)
    want, buf = p0.copy(), None
    for g in grads:
        p.grad = tg.tensor(g)
        opt.step()
        gd = _fma32(want, f32(wd), g)
        buf = gd.copy() if buf is None else _fma32(gd, f32(1.0), buf * f32(mom))
        upd = _fma32(buf, f32(mom), gd)
        want = _fma32(upd, f32(-lr), want)
    np.testing.assert_array_equal(p.detach().numpy(), want)


def _lbfgs(lib, dt, **kw):
    """LBFGS on a quartic whose value and gradient come from numpy (the same for both)."""
    c = np.array([0.1, 0.2, -0.3, 0.4, 0.5, 1.3, -2.0], dt)
    p = lib.tensor(np.array([1.5, -0.7, 0.3, 2.0, -1.1, 0.2, 0.9], dt), requires_grad=True)
    opt = lib.optim.LBFGS([p], lr=0.5, **kw)

    def closure():
        opt.zero_grad()
        x = p.detach().numpy()
        d = x - c
        p.grad = lib.tensor((4 * d ** 3 + 2 * x).astype(dt))
        return lib.tensor(np.sum(d ** 4 + x * x, dtype=np.float64).astype(dt))
    for _ in range(6):
        opt.step(closure)
    return p.detach().numpy()


@pytest.mark.parametrize("kw", [{}, {"history_size": 2},
                                {"history_size": 3, "line_search_fn": "strong_wolfe"}],
                         ids=["default", "history2", "wolfe"])
def test_lbfgs_float32_as_torch(monkeypatch, kw):
    """torch's two-loop recursion: q.add_ and r.add_ with alpha, one fused multiply-add per
    element.  torch.dot (MKL's sdot) sums in its own order, so torch runs here with numpy's
    dot (as tapegrad's) too: then the iterates agree to a float32 ulp or two (bit for bit on
    some CPUs; the order of torch's other small reductions is its CPU kernel's)."""
    np.testing.assert_allclose(_lbfgs(tg, "float32", **kw), _lbfgs(torch, "float32", **kw),
                               rtol=1e-5, atol=1e-6)
    monkeypatch.setattr(torch.Tensor, "dot", lambda a, b: torch.tensor(
        np.dot(a.detach().numpy(), b.detach().numpy())))
    np.testing.assert_allclose(_lbfgs(tg, "float32", **kw), _lbfgs(torch, "float32", **kw),
                               rtol=5e-7, atol=0)


# ==== BCELoss at the bounds of its input =====================================================
P = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.25, 0.7, 1e-13, 1 - 2 ** -24]
T = [0.0, 0.5, 1.0, 0.0, 0.5, 1.0, 0.75, 0.7, 0.5, 1.0]
W = [0.3, 2.0, 1.5, 0.7, 1.1, 0.9, 1.3, 0.6, 1.0, 0.5]


def _bce(lib, reduction, weighted, dt="float32", module=False):
    x = lib.tensor(np.array(P, dt), requires_grad=True)
    t = lib.tensor(np.array(T, dt), requires_grad=True)
    w = lib.tensor(np.array(W, dt)) if weighted else None
    if module:
        loss = lib.nn.BCELoss(weight=w, reduction=reduction)(x, t)
    else:
        loss = lib.nn.functional.binary_cross_entropy(x, t, weight=w, reduction=reduction)
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy(), t.grad.numpy()


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weight"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_bce_forward_and_input_grad_at_bounds_as_torch(reduction, weighted):
    loss, gx, gt = _bce(tg, reduction, weighted, module=reduction == "sum")
    tloss, tgx, tgt = _bce(torch, reduction, weighted, module=reduction == "sum")
    bound = slice(0, 6)         # p in {0, 1}, target in {0, 0.5, 1}: torch's clamp 1e-12
    if reduction == "none":
        np.testing.assert_array_equal(loss[bound], tloss[bound])
        assert (np.signbit(loss) == np.signbit(tloss)).all()      # torch's 0.0 and -0.0
    # (inside, the logs' float32 round-off: torch's are glibc's logf and log1pf)
    np.testing.assert_allclose(loss, tloss, rtol=2.5e-7)
    if reduction == "mean":     # (torch divides g * w * (p - t) / 1e-12 by n, here g / n
        np.testing.assert_allclose(gx[bound], tgx[bound], rtol=2.5e-7)   # is multiplied)
    else:
        np.testing.assert_array_equal(gx[bound], tgx[bound])
    np.testing.assert_allclose(gx, tgx, rtol=2e-6)
    # the target's gradient: torch's -logit(p) g, +-inf at the bounds
    np.testing.assert_allclose(gt[6:], tgt[6:], rtol=2e-6)
    np.testing.assert_array_equal(gt[:6], tgt[:6])


def test_bce_float64_inside_the_clamp_as_torch():
    """float64 input: torch's EPSILON is 1e-12 rounded to float32 there too, and the target's
    gradient inside the clamp is the unclamped -logit(p) (115.1 at p = 1e-50, not 100)."""
    p = [0.0, 1.0, 1e-50, 1e-13, 1 - 1e-16, 0.3]
    t = [0.2, 0.7, 0.1, 0.0, 0.4, 0.5]

    def run(lib):
        x = lib.tensor(p, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(t, dtype=lib.float64, requires_grad=True)
        loss = lib.nn.functional.binary_cross_entropy(x, y, reduction="sum")
        return (loss.detach().numpy(),) + tuple(g.numpy() for g in lib.autograd.grad(loss, (x, y)))
    loss, gx, gt = run(tg)
    tloss, tgx, tgt = run(torch)
    np.testing.assert_array_equal(loss, tloss)
    np.testing.assert_array_equal(gx[:5], tgx[:5])
    np.testing.assert_allclose(gx[5:], tgx[5:], rtol=1e-15)
    np.testing.assert_allclose(gt[2:], tgt[2:], rtol=1e-15)
    assert gt[2] > 115.0
    np.testing.assert_array_equal(gt[:2], tgt[:2])        # torch's +-inf


def test_bce_input_grad_by_hand():
    """Without torch: at p = 0 or 1 the gradient is (p - t) / 1e-12 (1e-12 in float32), times
    the weight; inside, the derivative of the loss (central differences in float64)."""
    eps = f64(f32(1e-12))
    x = tg.tensor(np.array(P[:6], f32), requires_grad=True)
    t = tg.tensor(np.array(T[:6], f32))
    w = tg.tensor(np.array(W[:6], f32))
    tg.nn.functional.binary_cross_entropy(x, t, weight=w, reduction="sum").backward()
    want = ((np.array(P[:6]) - np.array(T[:6])) / eps * np.array(W[:6], f32)).astype(f32)
    np.testing.assert_array_equal(x.grad.numpy(), want)
    assert x.grad.numpy()[0] == 0.0 and x.grad.numpy()[2] == f32(-1.5 / eps)

    v = np.array([0.2, 0.5, 0.9, 1e-6])
    tv = np.array([0.1, 1.0, 0.3, 0.0])
    x = tg.tensor(v, requires_grad=True)
    tg.nn.functional.binary_cross_entropy(x, tg.tensor(tv), reduction="sum").backward()

    def f(p):
        return -(tv * np.log(p) + (1 - tv) * np.log1p(-p))
    h = 1e-9
    np.testing.assert_allclose(x.grad.numpy(), (f(v + h) - f(v - h)) / (2 * h), rtol=1e-5)
    # the loss itself: torch's clamp of each log at -100
    out = tg.nn.functional.binary_cross_entropy(tg.tensor([0.0, 1.0]), tg.tensor([1.0, 0.0]),
                                                reduction="none")
    np.testing.assert_array_equal(out.numpy(), [100.0, 100.0])


def test_bce_second_derivative_inside_as_torch():
    def run(lib):
        x = lib.tensor([0.2, 0.7, 0.5], dtype=lib.float64, requires_grad=True)
        t = lib.tensor([0.1, 0.9, 0.5], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
        loss = lib.nn.functional.binary_cross_entropy(x, t, weight=w)
        gx, = lib.autograd.grad(loss, x, create_graph=True)
        hx, ht = lib.autograd.grad(gx.sum(), (x, t))
        return loss.grad_fn.name(), gx.detach().numpy(), hx.numpy(), ht.numpy()
    ours, theirs = run(tg), run(torch)
    assert ours[0] == theirs[0] == "BinaryCrossEntropyBackward0"
    # (torch's double backward formula adds 1e-12 to p and 1 - p)
    for a, b in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-9)


def _err(f):
    try:
        f()
    except Exception as e:      # noqa: BLE001 (the error itself is compared)
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("x,t", [([0.5], [1.5]), ([0.5], [-0.1]), ([1.5], [0.5]),
                                 ([0.5], [float("nan")])])
def test_bce_range_errors_as_torch(x, t):
    def run(lib):
        return _err(lambda: lib.nn.functional.binary_cross_entropy(lib.tensor(x),
                                                                   lib.tensor(t)))
    assert run(tg) == run(torch) is not None


@pytest.mark.parametrize("xdt,tdt", [("float32", "float64"), ("float64", "float32"),
                                     ("float32", "int64")])
def test_bce_target_of_another_dtype_raises_as_torch(xdt, tdt):
    def run(lib):
        return _err(lambda: lib.nn.functional.binary_cross_entropy(
            lib.tensor([0.5, 0.25], dtype=getattr(lib, xdt)),
            lib.tensor([1, 0], dtype=getattr(lib, tdt))))
    assert run(tg) == run(torch) is not None


def test_bce_weight_of_another_dtype_keeps_the_input_dtype_as_torch():
    def run(lib):
        x = lib.tensor([0.3, 0.6, 0.9], requires_grad=True)
        loss = lib.nn.functional.binary_cross_entropy(
            x, lib.tensor([1.0, 0.0, 1.0]), weight=lib.tensor([0.5, 2.0, 1.5], dtype=lib.float64),
            reduction="none")
        loss.sum().backward()
        return str(loss.dtype).split(".")[1], loss.tolist(), x.grad.tolist()
    assert run(tg) == run(torch)


# ==== global module hooks =====================================================================
GLOBAL = ["register_module_forward_pre_hook", "register_module_forward_hook",
          "register_module_full_backward_pre_hook", "register_module_full_backward_hook",
          "register_module_buffer_registration_hook", "register_module_module_registration_hook",
          "register_module_parameter_registration_hook"]


def test_global_hooks_exported_where_torch_has_them():
    for name in GLOBAL:
        assert callable(getattr(tg.nn.modules.module, name))
        for ours, theirs in ((tg.nn.modules, torch.nn.modules), (tg.nn, torch.nn)):
            assert hasattr(ours, name) == hasattr(theirs, name)


def _call_hooks(lib):
    """Global and module call hooks: the order they run in, forward and backward, through a
    Sequential, then after removing some and all of the global ones."""
    nn, M = lib.nn, lib.nn.modules.module
    log = []
    # (a global full backward hook sets this for good, in torch too: restored below, so that
    # a later test may register the other kind)
    flag = M._global_is_full_backward_hook
    hs = [M.register_module_forward_pre_hook(lambda m, a: log.append(("gpre", type(m).__name__))),
          M.register_module_forward_hook(lambda m, a, o: log.append(("gfwd", type(m).__name__))),
          M.register_module_forward_hook(
              lambda m, a, k, o: log.append(("gfwdkw", type(m).__name__, sorted(k))),
              with_kwargs=True),
          M.register_module_full_backward_pre_hook(
              lambda m, go: log.append(("gbpre", type(m).__name__, len(go)))),
          M.register_module_full_backward_hook(
              lambda m, gi, go: log.append(("gbwd", type(m).__name__, len(gi), len(go))))]
    try:
        lin = nn.Linear(2, 2)
        lin.register_forward_pre_hook(lambda m, a: log.append("pre"))
        lin.register_forward_hook(lambda m, a, o: log.append("fwd"))
        lin.register_forward_pre_hook(lambda m, a: log.append("pre0"), prepend=True)
        lin.register_full_backward_pre_hook(lambda m, go: log.append("bpre"))
        lin.register_full_backward_hook(lambda m, gi, go: log.append("bwd"))
        seq = nn.Sequential(lin, nn.Tanh())
        x = lib.ones(1, 2, requires_grad=True)
        seq(x).sum().backward()
        log.append("--- some removed")
        for h in (hs[0], hs[1], hs[3]):
            h.remove()
        seq(x).sum().backward()
        log.append("--- all removed")
    finally:
        for h in hs:
            h.remove()
        M._global_is_full_backward_hook = flag
    seq(x).sum().backward()
    return log


def test_global_call_hooks_order_and_removal_as_torch():
    ours = _call_hooks(tg)
    assert ours == _call_hooks(torch)
    # the global ones first, each kind: pre hooks, forward hooks, backward (pre) hooks
    assert ours[:6] == [("gpre", "Sequential"), ("gpre", "Linear"), "pre0", "pre",
                        ("gfwd", "Linear"), ("gfwdkw", "Linear", [])]
    assert ours[ours.index("--- all removed") + 1:] == ["pre0", "pre", "fwd", "bpre", "bwd"]


def test_global_forward_hooks_change_args_and_output_as_torch():
    def run(lib):
        M = lib.nn.modules.module
        hs = [M.register_module_forward_pre_hook(lambda m, a: a[0] * 2),
              M.register_module_forward_hook(lambda m, a, o: o + 1)]
        try:
            lin = lib.nn.Linear(1, 1)
            lin.register_forward_pre_hook(lambda m, a: (a[0] + 3,))
            lin.register_forward_hook(lambda m, a, o: o * 10)
            with lib.no_grad():
                lin.weight.fill_(1.0)
                lin.bias.fill_(0.0)
            out = lin(lib.tensor([[1.0]])).item()
        finally:
            for h in hs:
                h.remove()
        return out, lin(lib.tensor([[1.0]])).item()
    ours = run(tg)
    assert ours == run(torch) == (((1 * 2 + 3) + 1) * 10, (1 + 3) * 10)


def _registration_hooks(lib):
    nn, M = lib.nn, lib.nn.modules.module
    log = []

    def on_buffer(m, name, v):
        log.append(("buffer", type(m).__name__, name, None if v is None else tuple(v.shape)))
        if name == "swap":
            return lib.zeros(3)

    def on_param(m, name, v):
        log.append(("param", type(m).__name__, name, tuple(v.shape)))

    def on_module(m, name, v):
        log.append(("module", type(m).__name__, name, type(v).__name__))
        if name == "swapme":
            return nn.ReLU()
    hs = [M.register_module_buffer_registration_hook(on_buffer),
          M.register_module_parameter_registration_hook(on_param),
          M.register_module_module_registration_hook(on_module)]
    try:
        nn.Linear(2, 3)
        nn.BatchNorm1d(2)
        c = nn.Module()
        c.swap = nn.Buffer(lib.ones(1))
        c.register_buffer("none", None)
        c.p = nn.Parameter(lib.ones(2))
        c.p = None                          # (no hook for a None parameter, as torch)
        c.register_parameter("q", None)
        c.swapme = nn.Tanh()
        c.add_module("other", nn.Identity())
        c.other = None
        nn.Sequential(nn.Linear(1, 1))
        log.append(("final", type(c.swapme).__name__, tuple(c.swap.shape), list(c._buffers)))
    finally:
        for h in hs:
            h.remove()
    nn.Linear(1, 1)
    return log


def test_global_registration_hooks_as_torch():
    ours = _registration_hooks(tg)
    assert ours == _registration_hooks(torch)
    assert ours[-1] == ("final", "ReLU", (3,), ["swap", "none"])
    assert ("module", "Module", "other", "NoneType") in ours


def _always_call(lib):
    nn, M = lib.nn, lib.nn.modules.module
    log = []

    class Boom(nn.Module):
        def forward(self, x):
            log.append("forward")
            raise ValueError("boom")
    hs = [M.register_module_forward_hook(lambda m, a, o: log.append(("g_always", o)),
                                         always_call=True),
          M.register_module_forward_hook(lambda m, a, o: log.append(("g_plain", o))),
          # (torch calls a global always_call hook with (module, args, output) after an error,
          # also one registered with_kwargs: it raises, and that is warned about)
          M.register_module_forward_hook(lambda m, a, k, o: log.append(("g_kw", o)),
                                         with_kwargs=True, always_call=True)]
    try:
        b = Boom()
        b.register_forward_hook(lambda m, a, o: log.append(("m_always", o)), always_call=True)
        b.register_forward_hook(lambda m, a, k, o: log.append(("m_kw", sorted(k), o)),
                                with_kwargs=True, always_call=True)
        b.register_forward_hook(lambda m, a, o: log.append(("m_plain", o)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                b(lib.ones(1))
            except ValueError as e:
                log.append(("raised", str(e)))
        log.append([str(w.message)[:70] for w in caught])

        class Ok(nn.Module):
            def forward(self, x):
                return x

        def bad(m, a, out):
            log.append("bad")
            raise KeyError("k")
        o = Ok()
        h = o.register_forward_hook(lambda m, a, out: log.append("always, ran before"),
                                    always_call=True)
        o.register_forward_hook(bad)
        o.register_forward_hook(lambda m, a, out: log.append(("always", float(out.sum()))),
                                always_call=True)
        try:
            o(lib.ones(1))
        except KeyError:
            log.append("KeyError")
        h.remove()
    finally:
        for h in hs:
            h.remove()
    return [(e[0], None if e[1] is None else float(e[1].sum())) if isinstance(e, tuple)
            and len(e) == 2 and e[0] in ("g_always", "g_plain", "g_kw", "m_always") else e
            for e in log]


def test_forward_hooks_always_call_as_torch():
    ours = _always_call(tg)
    assert ours == _always_call(torch)
    assert ours[:4] == ["forward", ("g_always", None), ("m_always", None), ("m_kw", [], None)]
    assert ours[-4:] == ["always, ran before", "bad", ("always", 1.0), "KeyError"]


# ==== full backward hooks: grad_output of an output the loss does not use =====================
def _backward_hook_grads(lib, which):
    nn = lib.nn
    log = []

    class Two(nn.Module):
        def forward(self, a, b):
            if which == "unused_input":
                return a * 2, a * 3
            return a * 2, b * 3

    def desc(grads):
        return tuple(None if g is None else g.detach().numpy().tolist() for g in grads)
    m = Two()
    m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", desc(go))))
    m.register_full_backward_hook(lambda mod, gi, go: log.append(("hook", desc(gi), desc(go))))
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0], requires_grad=which != "b_no_grad")
    x, y = m(a, b)
    if which == "both":
        (x.sum() + y.sum()).backward()
    elif which == "second_only":
        y.sum().backward()
    else:
        x.sum().backward()
    log.append(("a.grad", a.grad.numpy().tolist()))
    return log


@pytest.mark.parametrize("which", ["both", "first_only", "second_only", "unused_input",
                                   "b_no_grad"])
def test_full_backward_hook_grad_output_none_for_unused_output_as_torch(which):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _backward_hook_grads(tg, which)
        assert ours == _backward_hook_grads(torch, which)
    if which == "first_only":
        # grad_output: None for the unused output; grad_input: zeros for the input whose
        # path got no gradient (torch's Function backward materializes it)
        assert ours[0] == ("pre", ([1.0, 1.0], None))
        assert ours[1] == ("hook", ([2.0, 2.0], [0.0, 0.0]), ([1.0, 1.0], None))


def test_backward_pre_hook_can_fill_an_unused_output_grad_as_torch():
    def run(lib):
        class Two(lib.nn.Module):
            def forward(self, a):
                return a * 2, a * 3
        seen = []
        m = Two()

        def pre(mod, go):
            seen.append(go[1] is None)
            return go[0], lib.ones(2)
        m.register_full_backward_pre_hook(pre)
        m.register_full_backward_hook(
            lambda mod, gi, go: seen.append(gi[0].detach().numpy().tolist()))
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x, _ = m(a)
        x.sum().backward()
        return seen, a.grad.numpy().tolist()
    ours = run(tg)
    assert ours == run(torch) == ([True, [5.0, 5.0]], [5.0, 5.0])


# ==== a custom optimizer written as torch's own are =============================================
def _custom_sgd(lib):
    from importlib import import_module
    opt_mod = import_module(lib.__name__ + ".optim.optimizer")

    class PlainSGD(opt_mod.Optimizer):
        def __init__(self, params: opt_mod.ParamsT, lr=opt_mod.required, differentiable=False):
            super().__init__(params, dict(lr=lr, differentiable=differentiable))

        @opt_mod._use_grad_for_differentiable
        def step(self, closure=None):
            """torch's docstring rule: the decorator keeps the name and doc."""
            seen = lib.is_grad_enabled()
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-group["lr"])
            return seen
    return PlainSGD


def test_custom_optimizer_with_torchs_step_decorator():
    """`_use_grad_for_differentiable` (grad mode on in the step only for a differentiable
    optimizer) and the `ParamsT` annotation, which optimizers copied from torch's use."""
    out = []
    for lib in (tg, torch):
        cls = _custom_sgd(lib)
        w = lib.tensor([1.0, -2.0], requires_grad=True)
        opt = cls([w], lr=0.5)
        (w * w).sum().backward()
        grad_on = opt.step()
        with pytest.raises(ValueError, match="required optimization parameter lr"):
            cls([w])
        out.append((grad_on, w.tolist(), cls.step.__name__, cls.step.__doc__,
                    cls([lib.ones(1, requires_grad=True)], lr=0.1, differentiable=True).step()))
    assert out[0] == out[1]
    assert out[0][0] is False and out[0][4] is True
