"""Changes made to an optimizer's state between steps take effect at the next step, as torch's
step reads `opt.state` afresh every time (tapegrad's fused step keeps the state's addresses
from step to step: it must see the change): a parameter's state dict replaced ({} restarts
it), a state tensor replaced or given new storage (`.data =`), SGD's momentum buffer set to
None, momentum turned on later.  Checked against numpy references of SGD and Adam, and
against torch for every optimizer with a fused step (and through tapegrad.compile)."""
import numpy as np
import pytest

import tapegrad as tg

LR, B1, B2, EPS, MOM = 0.1, 0.9, 0.999, 1e-8, 0.9


def _train(opt, p, steps, change_at, change):
    """steps of opt on sum(p ** 2), change(opt, p) after step change_at."""
    for k in range(steps):
        opt.zero_grad()
        (p ** 2).sum().backward()
        opt.step()
        if k == change_at:
            change(opt, p)
    return p.detach().numpy()


def _adam_ref(x, steps, change_at, change):
    """torch's Adam on sum(x ** 2) in numpy; change(m, v, t) -> (m, v, t) after change_at."""
    m, v, t = np.zeros_like(x), np.zeros_like(x), 0
    for k in range(steps):
        g = 2 * x
        t += 1
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        x = x - LR / (1 - B1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - B2 ** t) + EPS)
        if k == change_at:
            m, v, t = change(m, v, t)
    return x, m, t


ADAM_CHANGES = {
    "exp_avg replaced": (lambda o, p: o.state[p].__setitem__("exp_avg", o.state[p]["exp_avg"] * 0),
                         lambda m, v, t: (m * 0, v, t)),
    "exp_avg_sq .data set": (
        lambda o, p: setattr(o.state[p]["exp_avg_sq"], "data", o.state[p]["exp_avg_sq"] * 4),
        lambda m, v, t: (m, v * 4, t)),
    "step replaced": (lambda o, p: o.state[p].__setitem__("step", o.state[p]["step"] + 10),
                      lambda m, v, t: (m, v, t + 10)),
    "state reset": (lambda o, p: o.state.__setitem__(p, {}),
                    lambda m, v, t: (m * 0, v * 0, 0)),
}


@pytest.mark.parametrize("change", list(ADAM_CHANGES))
def test_adam_state_changed_after_the_cached_steps_takes_effect(change):
    mine, ref = ADAM_CHANGES[change]
    x0 = np.array([1.0, -2.0, 0.5])
    p = tg.nn.Parameter(tg.tensor(x0))
    opt = tg.optim.Adam([p], lr=LR)
    got = _train(opt, p, 6, 2, mine)      # (the step's cache is made at the second step)
    want, m, t = _adam_ref(x0, 6, 2, ref)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(opt.state[p]["exp_avg"].numpy(), m, rtol=1e-12)
    assert float(opt.state[p]["step"]) == t


def _sgd_ref(x, steps, change_at, change, momentum=MOM):
    """torch's SGD with momentum on sum(x ** 2) in numpy (buf None: the next gradient starts
    it); change(buf, momentum) -> (buf, momentum) after change_at."""
    buf = None
    for k in range(steps):
        g = 2 * x
        if momentum != 0:
            buf = g if buf is None else momentum * buf + g
            g = buf
        x = x - LR * g
        if k == change_at:
            buf, momentum = change(buf, momentum)
    return x, buf


SGD_CHANGES = {
    "state reset": (lambda o, p: o.state.__setitem__(p, {}), lambda b, mo: (None, mo)),
    "buffer None": (lambda o, p: o.state[p].__setitem__("momentum_buffer", None),
                    lambda b, mo: (None, mo)),
    "buffer replaced": (lambda o, p: o.state[p].__setitem__(
        "momentum_buffer", o.state[p]["momentum_buffer"] * 0.5), lambda b, mo: (b * 0.5, mo)),
    "buffer .data set": (lambda o, p: setattr(o.state[p]["momentum_buffer"], "data",
                                              o.state[p]["momentum_buffer"] * 0.5),
                         lambda b, mo: (b * 0.5, mo)),
}


@pytest.mark.parametrize("change", list(SGD_CHANGES))
@pytest.mark.parametrize("shape", [(3,), ()], ids=["vector", "0-d"])
def test_sgd_momentum_buffer_changed_after_the_cached_steps_takes_effect(change, shape):
    mine, ref = SGD_CHANGES[change]
    x0 = np.full(shape, 1.5) if shape == () else np.array([1.0, -2.0, 0.5])
    p = tg.nn.Parameter(tg.tensor(x0))
    opt = tg.optim.SGD([p], lr=LR, momentum=MOM)
    got = _train(opt, p, 6, 2, mine)
    want, buf = _sgd_ref(x0, 6, 2, ref)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"].numpy(), buf, rtol=1e-12)


def test_sgd_momentum_turned_on_later_starts_a_buffer():
    """torch's SGD reads the group's momentum at every step: turned on, a buffer starts (the
    cached step once raised KeyError: 'momentum_buffer')."""
    x0 = np.array([1.0, -2.0])
    p = tg.nn.Parameter(tg.tensor(x0))
    opt = tg.optim.SGD([p], lr=LR)
    got = _train(opt, p, 6, 2, lambda o, p: o.param_groups[0].__setitem__("momentum", MOM))
    want, buf = _sgd_ref(x0, 6, 2, lambda b, mo: (None, MOM), momentum=0)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"].numpy(), buf, rtol=1e-12)


# every optimizer whose step goes through the fused packs, against torch
OPTIMIZERS = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1)),
    ("NAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01)),
    ("Adadelta", dict(lr=1.0)),
    ("Rprop", dict(lr=0.01)),
    ("ASGD", dict(lr=0.05, t0=2)),
    ("Adafactor", dict(lr=0.02)),
    ("Muon", dict(lr=0.02)),
]


def _new_tensors(mod, opt, ps):
    for p in ps:
        st = opt.state[p]
        for key, v in list(st.items()):
            if isinstance(v, mod.Tensor):
                st[key] = v + 10 if key == "step" else v * 0.5


def _new_data(mod, opt, ps):
    for p in ps:
        for key, v in opt.state[p].items():
            if isinstance(v, mod.Tensor):
                v.data = v + 10 if key == "step" else v * 0.5


def _reset(mod, opt, ps):
    for p in ps:
        opt.state[p] = {}


def _run(mod, cls, kw, change):
    rng = np.random.default_rng(0)
    shapes = [(3, 2), (2, 2)] if cls == "Muon" else [(3, 2), (2,), (), (1,)]
    ps = [mod.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    opt = getattr(mod.optim, cls)(ps, **kw)
    for k in range(7):
        opt.zero_grad()
        sum((((p * (i + 1.0)).sin() - 0.3) ** 2).sum() for i, p in enumerate(ps)).backward()
        opt.step()
        if k == 2:
            change(mod, opt, ps)
    state = {i: {key: v.numpy().copy() for key, v in st.items()}
             for i, st in opt.state_dict()["state"].items()}
    return [p.detach().numpy().copy() for p in ps], state


@pytest.mark.parametrize("change", [_new_tensors, _new_data, _reset],
                         ids=["tensors replaced", ".data set", "state reset"])
@pytest.mark.parametrize("cls,kw", OPTIMIZERS, ids=[c for c, _ in OPTIMIZERS])
def test_state_changes_take_effect_as_torch(cls, kw, change):
    torch = pytest.importorskip("torch")
    (mine, st), (theirs, tst) = _run(tg, cls, kw, change), _run(torch, cls, kw, change)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert st.keys() == tst.keys()
    for i in st:
        assert list(st[i]) == list(tst[i])
        for key in st[i]:
            np.testing.assert_allclose(st[i][key], tst[i][key], rtol=1e-10, atol=1e-12)


# a non-contiguous parameter (a transposed view made a Parameter, `.data` set to a transpose,
# a strided slice): torch's state tensors take its layout (zeros_like / full_like / clone
# with preserve_format: a transpose's strides, a slice's dims in row-major order), and the
# steps read and write them in it (tapegrad made every state tensor row-major)
def _layouts(mod, how):
    base = mod.arange(24.0, dtype=mod.float64).reshape(4, 6) / 10
    if how == "transposed":
        return mod.nn.Parameter(base[:, :4].t())
    if how == "slice":
        return mod.nn.Parameter(base[:, ::2])
    p = mod.nn.Parameter(base[:, :3].clone())
    p.data = base[:3, :4].t()
    return p


def _strided_run(mod, cls, kw, how):
    p = _layouts(mod, how)
    opt = getattr(mod.optim, cls)([p], **kw)
    w = mod.arange(float(p.numel()), dtype=mod.float64).reshape(p.shape) / 7
    for _ in range(4):
        opt.zero_grad()
        (((p * w).sin() - 0.3) ** 2).sum().backward()
        opt.step()
    state = {key: (tuple(v.stride()) if v.dim() else None, v.detach().numpy().copy())
             for key, v in opt.state[p].items() if isinstance(v, mod.Tensor)}
    return p.detach().numpy().copy(), state


@pytest.mark.parametrize("how", ["transposed", ".data transposed", "slice"])
@pytest.mark.parametrize("cls,kw", OPTIMIZERS, ids=[c for c, _ in OPTIMIZERS])
def test_state_of_non_contiguous_parameters_as_torch(cls, kw, how):
    torch = pytest.importorskip("torch")
    (mine, st), (theirs, tst) = _strided_run(tg, cls, kw, how), _strided_run(torch, cls, kw, how)
    np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
    assert list(st) == list(tst)
    for key in st:
        assert st[key][0] == tst[key][0], key
        np.testing.assert_allclose(st[key][1], tst[key][1], rtol=1e-10, atol=1e-12)
