"""tapegrad.optim against torch.optim: every optimizer step by step for 100 steps on the same
problem (float64 to round-off, float32 to float32 round-off), parameter groups, state_dict
round trips, zero_grad, reprs, errors, version counters, schedulers, and the fused step's
counts (one kernel call per group)."""
import copy
import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, alpha=0.9)),
    # (centered with alpha=0.9 here drives one element's variance to ~0 after ~60 steps,
    # where sqrt(E[g^2] - E[g]^2) turns torch's and our round-off into 1e-8 differences)
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01, maximize=True)),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.05, decoupled_weight_decay=True)),
    # (RAdam: plain momentum for the first 5 steps, where rho_t <= 5, then rectified)
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, maximize=True)),
    ("RAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    ("Adamax", dict(lr=0.01)),
    # (eps=1e-3: once a gradient is ~eps, m / exp_inf amplifies float32 round-off; with
    # eps=1e-6 torch's float32 values and ours part by 1e-4 after ~80 steps, float64 agrees)
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1, maximize=True)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-3, 0.05), maximize=True)),
    ("ASGD", dict(lr=0.05)),
    # (t0=20: the average starts at step 21)
    # (foreach: torch's multi-tensor ASGD has its own arithmetic and version count)
    ("ASGD", dict(lr=0.05, lambd=0.01, t0=20, weight_decay=0.1, foreach=True)),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=20, weight_decay=0.1, maximize=True)),
]


def _values(dt):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((3, 2)).astype(dt), rng.standard_normal(2).astype(dt),
            np.array(0.7, dt), np.array([0.3], dt)]


def _data(mod, dt):
    rng = np.random.default_rng(1)
    return mod.tensor(rng.standard_normal((4, 3)).astype(dt)), \
        mod.tensor(rng.standard_normal((4, 2)).astype(dt))


def _loss(ps, x, y, sign=1.0):
    """A small smooth loss touching a matrix, a vector, a 0-d and a (1,) parameter."""
    w, b, s, c = ps
    fit = (((x @ w + b).tanh() * s - y) ** 2).mean()
    return (fit + (c - 0.5).pow(2).sum() * s * s) * sign


def _run(mod, dt, cls, kw, steps, groups=False):
    ps = [mod.tensor(v.copy(), requires_grad=True) for v in _values(dt)]
    x, y = _data(mod, dt)
    params = [{"params": ps[:2]}, {"params": ps[2:], "lr": kw["lr"] * 0.5}] if groups else ps
    opt = getattr(mod.optim, cls)(params, **kw)
    sign = -1.0 if kw.get("maximize") else 1.0
    trace = []
    for _ in range(steps):
        opt.zero_grad()
        _loss(ps, x, y, sign).backward()
        opt.step()
        trace.append([p.detach().numpy().copy() for p in ps])
    return ps, opt, trace


def _close(a, b, dt):
    if dt == "float64":
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    else:
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("cls,kw", CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_optimizer_matches_torch_step_by_step(cls, kw, dt):
    ps, opt, ours = _run(tg, dt, cls, kw, 100)
    tps, topt, theirs = _run(torch, dt, cls, kw, 100)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        for pa, pb in zip(a, b):
            _close(pa, pb, dt)
    assert [p._version for p in ps] == [p._version for p in tps]
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert sd["state"].keys() == tsd["state"].keys()
    for i in sd["state"]:
        assert list(sd["state"][i]) == list(tsd["state"][i])
        for key, v in sd["state"][i].items():
            tv = tsd["state"][i][key]
            assert v.dtype.name == str(tv.dtype).split(".")[1] and tuple(v.shape) == tuple(tv.shape)
            _close(v.numpy(), tv.numpy(), dt)
    assert repr(opt) == repr(topt)


@pytest.mark.parametrize("cls,kw", [CASES[1], CASES[4], CASES[9], CASES[11]],
                         ids=["SGD", "Adam", "RMSprop", "Adagrad"])
def test_param_groups_and_state_dict_round_trip(cls, kw):
    ps, opt, ours = _run(tg, "float64", cls, kw, 30, groups=True)
    tps, topt, theirs = _run(torch, "float64", cls, kw, 30, groups=True)
    _close(ours[-1][3], theirs[-1][3], "float64")
    # our state_dict loaded into a fresh optimizer continues exactly as the original
    sd = copy.deepcopy(opt.state_dict())
    ps2 = [tg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ps]
    opt2 = getattr(tg.optim, cls)([{"params": ps2[:2]}, {"params": ps2[2:]}], **kw)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == kw["lr"] * 0.5
    # torch's state dict (torch tensors) loads as well
    ps3 = [tg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ps]
    opt3 = getattr(tg.optim, cls)([{"params": ps3[:2]}, {"params": ps3[2:]}], **kw)
    opt3.load_state_dict(topt.state_dict())
    x, y = _data(tg, "float64")
    tx, ty = _data(torch, "float64")
    for _ in range(5):
        for o, q in ((opt, ps), (opt2, ps2), (opt3, ps3)):
            o.zero_grad()
            _loss(q, x, y).backward()
            o.step()
        topt.zero_grad()
        _loss(tps, tx, ty).backward()
        topt.step()
    for a, b, c, d in zip(ps, ps2, ps3, tps):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        _close(c.detach().numpy(), d.detach().numpy(), "float64")
        _close(a.detach().numpy(), d.detach().numpy(), "float64")


NEW = dict(CASES[12:])      # the last case of each optimizer added after Adagrad


@pytest.mark.parametrize("cls", ["NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"])
def test_state_dict_round_trips_as_torch(cls):
    """Two parameter groups, 30 steps, then each state dict loaded into a fresh optimizer (ours
    into ours and ours into torch, torch's into ours and into torch): the loaded state's keys,
    dtypes (loading casts NAdam's mu_product and ASGD's eta and mu to the parameter's dtype,
    as torch's) and 5 more steps agree with torch's."""
    kw = NEW[cls]
    ps, opt, _ = _run(tg, "float64", cls, kw, 30, groups=True)
    tps, topt, _ = _run(torch, "float64", cls, kw, 30, groups=True)
    sd, tsd = copy.deepcopy(opt.state_dict()), copy.deepcopy(topt.state_dict())

    def fresh(mod, like, sd):
        q = [mod.tensor(p.detach().numpy().copy(), requires_grad=True) for p in like]
        o = getattr(mod.optim, cls)([{"params": q[:2]}, {"params": q[2:]}], **kw)
        o.load_state_dict(sd)
        return q, o
    runs = [(ps, opt, tg), (tps, topt, torch), fresh(tg, ps, sd) + (tg,),
            fresh(tg, ps, tsd) + (tg,), fresh(torch, tps, tsd) + (torch,)]
    mine, theirs = runs[2][1], runs[4][1]
    assert mine.param_groups[1]["lr"] == kw["lr"] * 0.5 == theirs.param_groups[1]["lr"]
    for o in (mine, runs[3][1]):
        for i, st in o.state_dict()["state"].items():
            tst = theirs.state_dict()["state"][i]
            assert list(st) == list(tst)
            assert [v.dtype.name for v in st.values()] == [
                str(v.dtype).split(".")[1] for v in tst.values()]
    for _ in range(5):
        for q, o, mod in runs:
            x, y = _data(mod, "float64")
            o.zero_grad()
            _loss(q, x, y, -1.0 if kw.get("maximize") else 1.0).backward()
            o.step()
    for k in range(4):
        _close(ps[k].detach().numpy(), tps[k].detach().numpy(), "float64")
        for a, b in ((2, 4), (3, 4)):
            _close(runs[a][0][k].detach().numpy(), runs[b][0][k].detach().numpy(), "float64")


@pytest.mark.parametrize("cls,kw", [("NAdam", NEW["NAdam"]), ("ASGD", NEW["ASGD"]),
                                    ("ASGD", dict(NEW["ASGD"], foreach=True))],
                         ids=["NAdam", "ASGD", "ASGD-foreach"])
def test_scalar_state_under_float64_default_dtype(cls, kw):
    """Under set_default_dtype(float64) torch keeps step, mu_product, eta and mu in float64 and
    makes ASGD's new eta and mu without a float32 rounding: as tapegrad does."""
    runs = []
    for mod in (tg, torch):
        old = mod.get_default_dtype()
        mod.set_default_dtype(mod.float64)
        try:
            ps, opt, trace = _run(mod, "float64", cls, kw, 40)
        finally:
            mod.set_default_dtype(old)
        runs.append((trace, opt.state_dict()["state"]))
    (ours, st), (theirs, tst) = runs
    for a, b in zip(ours, theirs):
        for pa, pb in zip(a, b):
            _close(pa, pb, "float64")
    for i in st:
        for key, v in st[i].items():
            assert v.dtype.name == str(tst[i][key].dtype).split(".")[1]
            _close(v.numpy(), tst[i][key].numpy(), "float64")


@pytest.mark.parametrize("cls", ["NAdam", "ASGD", "Rprop", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_state_dict_with_numbers_for_scalar_state_loads_as_torch(cls):
    """An old-style state dict holding Python numbers for the one-element state (step,
    mu_product, eta, mu) loads as torch's __setstate__ makes it: 0-d tensors of the scalar
    dtype, and the steps continue alike."""
    out = []
    for mod in (tg, torch):
        p = mod.tensor([1.0, -2.0, 0.5], dtype=mod.float64, requires_grad=True)
        opt = getattr(mod.optim, cls)([p], lr=0.01)
        for k in range(8):
            opt.zero_grad()
            ((p * p).sum() + p.sum()).backward()
            opt.step()
            if k == 3:
                sd = opt.state_dict()
                sd["state"][0] = {k: (float(v) if v.numel() == 1 and k != "ax" else v)
                                  for k, v in sd["state"][0].items()}
                opt.load_state_dict(sd)
                st = opt.state[p]
                out.append([(k, str(v.dtype).split(".")[-1], tuple(v.shape))
                            for k, v in st.items()])
        out.append(p.detach().numpy().copy())
    assert out[0] == out[2]
    _close(out[1], out[3], "float64")


ADDED_GROUP = {"NAdam": dict(momentum_decay=0.02, betas=(0.8, 0.9)),
               "RAdam": dict(weight_decay=0.1, decoupled_weight_decay=True),
               "Adamax": dict(betas=(0.7, 0.8), eps=1e-4), "Adadelta": dict(rho=0.5),
               "Rprop": dict(etas=(0.4, 1.1), step_sizes=(1e-4, 0.5)),
               "ASGD": dict(t0=5, lambd=0.1, alpha=0.6)}


@pytest.mark.parametrize("cls", list(ADDED_GROUP))
def test_add_param_group_as_torch(cls):
    """A group added after construction with its own lr and options: its defaults filled in,
    the repr, state_dict()'s groups and 20 steps of both groups as torch's."""
    out = []
    for mod in (tg, torch):
        ps = [mod.tensor(v.copy(), requires_grad=True) for v in _values("float64")]
        x, y = _data(mod, "float64")
        opt = getattr(mod.optim, cls)(ps[:2], lr=0.02)
        opt.add_param_group(dict(params=ps[2:], lr=0.01, **ADDED_GROUP[cls]))
        for _ in range(20):
            opt.zero_grad()
            _loss(ps, x, y).backward()
            opt.step()
        out.append((repr(opt), opt.state_dict()["param_groups"],
                    [p.detach().numpy().copy() for p in ps]))
    assert out[0][:2] == out[1][:2]
    for a, b in zip(out[0][2], out[1][2]):
        _close(a, b, "float64")


def test_parameters_without_grad_are_skipped_and_zero_grad():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0], requires_grad=True)
    opt = tg.optim.Adam([a, b], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    assert b.tolist() == [3.0] and b._version == 0 and a._version == 1
    assert len(opt.state) == 1 and list(opt.state_dict()["state"]) == [0]
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0] and b.grad is None
    opt.zero_grad()
    assert a.grad is None


def test_gradients_of_mixed_kinds_in_any_order():
    # one-element gradients (held as floats) before, between and after array ones:
    # load_grads' runs of arrays and single floats
    rng = np.random.default_rng(3)
    vals = [rng.standard_normal(s).astype(np.float32) for s in ((1,), (2, 3), (1,), (1,),
                                                                 (4,), (1,))]
    ps = [tg.tensor(v, requires_grad=True) for v in vals]
    opt = tg.optim.SGD(ps, lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        sum((p * (k + 1.0)).sum() for k, p in enumerate(ps)).backward()
        want = [p.detach().numpy() - 0.5 * p.grad.numpy() for p in ps]
        opt.step()
        for p, w in zip(ps, want):
            np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-6)


def test_update_is_in_place_and_counted():
    w = tg.tensor(np.ones((2, 3)), requires_grad=True)
    alias = w.data                       # shares w's memory, as torch's .data
    opt = tg.optim.SGD([w], lr=0.5)
    (w * 2.0).sum().backward()
    opt.step()
    assert alias.tolist() == [[0.0] * 3] * 2 and w._version == 1
    saved = w * w                        # saves w: the next step changes it in place
    w.grad = tg.ones(2, 3, dtype=tg.float64)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        saved.sum().backward()


def test_micrograd_scalars_one_kernel_call_per_group(monkeypatch):
    """0-d float-backed parameters (the micrograd step): staged into one buffer, updated by
    one kernel call, written back with torch's float32 rounding."""
    vals = np.linspace(-1, 1, 40).astype(np.float32)
    ps = [tg.tensor(float(v), requires_grad=True) for v in vals]
    tps = [torch.tensor(float(v), requires_grad=True) for v in vals]
    opt = tg.optim.SGD(ps, lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(tps, lr=0.05, momentum=0.9)
    from tapegrad.optim import optimizer as O
    K = O.fused()
    calls = []
    real = K.sgd
    monkeypatch.setattr(K, "sgd", lambda *a: (calls.append(1), real(*a))[1])
    for _ in range(20):
        for q, o in ((ps, opt), (tps, topt)):
            o.zero_grad()
            loss = q[0] * 0.0
            for i, p in enumerate(q):
                loss = loss + (p * p).sin() * (i + 1) * 0.1
            loss.backward()
            o.step()
    assert len(calls) == 20
    np.testing.assert_allclose([p.item() for p in ps], [p.item() for p in tps], rtol=1e-5,
                               atol=1e-6)
    assert all(type(p._v) is float for p in ps) and ps[0]._version == 20


def test_errors_and_repr_as_torch():
    p = tg.ones(2, requires_grad=True)
    tp = torch.ones(2, requires_grad=True)
    cases = [
        (lambda m, q: m.optim.SGD(q, lr=0.1), TypeError),
        (lambda m, q: m.optim.SGD([], lr=0.1), ValueError),
        (lambda m, q: m.optim.SGD([{"params": {q}}], lr=0.1), TypeError),
        (lambda m, q: m.optim.SGD([q * 2], lr=0.1), ValueError),
        (lambda m, q: m.optim.SGD([q], lr=-1.0), ValueError),
        (lambda m, q: m.optim.SGD([q], lr=0.1, nesterov=True), ValueError),
        (lambda m, q: m.optim.Adam([q], betas=(1.0, 0.9)), ValueError),
        (lambda m, q: m.optim.SGD([{"params": [q]}, {"params": [q]}]), ValueError),
        (lambda m, q: m.optim.RMSprop([q], alpha=-1.0), ValueError),
        (lambda m, q: m.optim.Adagrad([q], lr_decay=-1.0), ValueError),
        (lambda m, q: m.optim.NAdam([q], momentum_decay=-1.0), ValueError),
        (lambda m, q: m.optim.NAdam([q], betas=(0.9, 1.0)), ValueError),
        (lambda m, q: m.optim.RAdam([q], eps=-1.0), ValueError),
        (lambda m, q: m.optim.RAdam([q], weight_decay=-1.0), ValueError),
        (lambda m, q: m.optim.Adamax([q], betas=(-0.1, 0.9)), ValueError),
        (lambda m, q: m.optim.Adamax([q], lr=-1.0), ValueError),
        (lambda m, q: m.optim.Adadelta([q], rho=1.5), ValueError),
        (lambda m, q: m.optim.Adadelta([q], eps=-1.0), ValueError),
        (lambda m, q: m.optim.Rprop([q], etas=(1.2, 0.5)), ValueError),
        (lambda m, q: m.optim.Rprop([q], lr=-1.0), ValueError),
        (lambda m, q: m.optim.ASGD([q], weight_decay=-1.0), ValueError),
        (lambda m, q: m.optim.ASGD([q], lr=m.tensor([0.1, 0.2])), ValueError),
        (lambda m, q: m.optim.NAdam([q], fused=True), TypeError),
        (lambda m, q: m.optim.Rprop([q], 0.1, (0.5, 1.2), (1e-6, 50), True), TypeError),
    ]
    for make, err in cases:
        with pytest.raises(err) as ours:
            make(tg, p)
        with pytest.raises(err) as theirs:
            make(torch, tp)
        assert str(ours.value) == str(theirs.value).replace("torch.", "tapegrad.")
    opt = tg.optim.SGD([{"params": [p]}, {"params": [tg.ones(1, requires_grad=True)],
                                          "lr": 0.5}], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([{"params": [tp]}, {"params": [torch.ones(1, requires_grad=True)],
                                               "lr": 0.5}], lr=0.1, momentum=0.9)
    assert repr(opt) == repr(topt)
    with pytest.raises(ValueError) as ours:
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}]})
    with pytest.raises(ValueError) as theirs:
        topt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}]})
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
@pytest.mark.parametrize("dt, bdt, rtol", [("float64", "float64", 1e-13),
                                           ("float32", "float32", 3e-6),
                                           ("float64", "float32", 3e-6)])
def test_tensor_betas_as_torch(cls, dt, bdt, rtol):
    """Tensor betas (both, one element each) are taken as torch takes them and kept in the
    group as 0-d tensors; the update agrees with torch's up to its float32 bias corrections
    (docs/optim.md)."""
    runs = []
    for mod in (tg, torch):
        w = mod.nn.Parameter(mod.tensor([1.0, -2.0, 0.3], dtype=getattr(mod, dt)))
        betas = (mod.tensor(0.9, dtype=getattr(mod, bdt)),
                 mod.tensor([0.99], dtype=getattr(mod, bdt)))
        opt = getattr(mod.optim, cls)([w], lr=0.1, betas=betas, amsgrad=True)
        for _ in range(20):
            opt.zero_grad()
            (w ** 2).sum().backward()
            opt.step()
        runs.append((w.tolist(), [(b.shape, b.item()) for b in opt.param_groups[0]["betas"]]))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=rtol)
    assert [(tuple(s), v) for s, v in runs[0][1]] == [(tuple(s), v) for s, v in runs[1][1]]


@pytest.mark.parametrize("kw", [dict(foreach=True), dict(foreach=True, capturable=True),
                                dict(fused=True), dict(mixed=True), dict(long=True)])
def test_tensor_betas_checks_as_torch(kw):
    def outcome(mod):
        b0, b1 = mod.tensor(0.9), mod.tensor(0.99)
        kwargs = dict(kw)
        if kwargs.pop("mixed", False):
            b1 = 0.99
        if kwargs.pop("long", False):
            b1 = mod.tensor([0.99, 0.5])[:1].expand(2)
        try:
            opt = mod.optim.Adam([mod.ones(2, requires_grad=True)], betas=(b0, b1), **kwargs)
        except (ValueError, RuntimeError) as e:
            return type(e).__name__, str(e)
        return repr(opt).replace("tapegrad.", "torch.")
    assert outcome(tg) == outcome(torch)


SCHEDULERS = [("StepLR", dict(step_size=3, gamma=0.5)), ("ExponentialLR", dict(gamma=0.9)),
              ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01))]


@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=[n for n, _ in SCHEDULERS])
def test_schedulers_match_torch(name, kw):
    lrs = []
    for mod in (tg, torch):
        p = mod.ones(2, requires_grad=True)
        opt = mod.optim.SGD([{"params": [p]}, {"params": [mod.ones(1, requires_grad=True)],
                                                "lr": 0.3}], lr=0.1)
        sched = getattr(mod.optim.lr_scheduler, name)(opt, **kw)
        seen = []
        for _ in range(20):
            (p * p).sum().backward()
            opt.step()
            sched.step()
            seen.append(sched.get_last_lr())
        sd = sched.state_dict()
        again = getattr(mod.optim.lr_scheduler, name)(opt, **kw)
        again.load_state_dict(sd)
        seen.append(again.get_last_lr())
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sched.step(4)
        seen.append(sched.get_last_lr())
        seen.append([str(x.message) for x in w])
        lrs.append((seen, sorted(k for k in sd if not k.startswith("_") or k in (
            "_last_lr", "_step_count"))))
    assert lrs[0][1] == [k for k in lrs[1][1] if k in lrs[0][1]]
    a, b = lrs[0][0], lrs[1][0]
    assert a[-1] == b[-1]
    np.testing.assert_allclose(np.array(a[:-1]), np.array(b[:-1]), rtol=1e-15)


def test_scheduler_warns_when_stepped_before_optimizer():
    out = []
    for mod in (tg, torch):
        opt = mod.optim.SGD([mod.ones(1, requires_grad=True)], lr=0.1)
        sched = mod.optim.lr_scheduler.StepLR(opt, 2)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sched.step()
            sched.get_lr()
        out.append([str(x.message) for x in w])
    assert out[0] == out[1] and len(out[0]) == 2


@pytest.mark.parametrize("cls,kw", [CASES[1], CASES[4], ("NAdam", NEW["NAdam"]),
                                    ("ASGD", NEW["ASGD"]), ("Rprop", NEW["Rprop"])],
                         ids=["SGD", "Adam", "NAdam", "ASGD", "Rprop"])
def test_replayed_step_equals_the_eager_step(cls, kw):
    """ReplayedStep(opt, loss_fn, x, y)(x, y) == zero_grad; loss_fn(x, y).backward(); step()
    for the parameters, the optimizer state and the version counters; a scheduler drives it."""
    x, y = _data(tg, "float64")
    runs = []
    for replay in (False, True):
        ps = [tg.tensor(v.copy(), requires_grad=True) for v in _values("float64")]
        opt = getattr(tg.optim, cls)(ps, **kw)
        sched = tg.optim.lr_scheduler.StepLR(opt, 5, gamma=0.5)
        step = tg.optim.ReplayedStep(opt, lambda a, b: _loss(ps, a, b), x, y) if replay else None
        losses = []
        for i in range(12):
            xi = x * (1.0 + 0.1 * i)      # a new batch each step: an input of the replay
            if replay:
                losses.append(float(step(xi, y)))
            else:
                opt.zero_grad()
                loss = _loss(ps, xi, y)
                loss.backward()
                opt.step()
                losses.append(float(loss))
            sched.step()
        runs.append((ps, opt, losses))
    (ps, opt, la), (qs, qopt, lb) = runs
    np.testing.assert_allclose(la, lb, rtol=1e-12)
    for p, q in zip(ps, qs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-11)
        assert p._version == q._version
    for i, st in opt.state_dict()["state"].items():
        for key, v in st.items():
            np.testing.assert_allclose(v.numpy(), qopt.state_dict()["state"][i][key].numpy(),
                                       rtol=1e-11)
    assert qs[0].grad is None      # the replayed step keeps its gradients in the arena


def test_replayed_step_guards_and_arguments():
    w = tg.tensor([0.5, -0.25], requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)

    def loss_fn(x):
        if (x * w).sum() > 0:           # a guard: the replay checks the branch
            return (x * w).sum() ** 2
        return (x * w).sum()

    step = tg.optim.ReplayedStep(opt, loss_fn, tg.tensor([1.0, 1.0]))
    step(tg.tensor([1.0, 1.0]))
    before = w.tolist()
    with pytest.raises(tg.BranchChanged):
        step(tg.tensor([-1.0, -1.0]))
    assert w.tolist() == before and w._version == 1
    with pytest.raises(TypeError):
        step(tg.tensor([1.0, 1.0, 1.0]))
    with pytest.raises(TypeError):
        tg.optim.ReplayedStep(opt, lambda x: x * w, tg.tensor([1.0, 1.0]))


def test_replayed_step_runs_the_step_hooks():
    """ReplayedStep's update runs the optimizer's and the global step hooks as opt.step()
    does: pre hooks before the parameters change, post hooks after, once per call."""
    w = tg.tensor([0.5, -0.25], dtype=tg.float64, requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)
    seen = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: seen.append(("pre", w.tolist(), a[0] is o)))
    h2 = tg.optim.optimizer.register_optimizer_step_post_hook(
        lambda o, a, k: seen.append(("post", w.tolist(), a[0] is o)))
    try:
        x = tg.tensor([1.0, 1.0], dtype=tg.float64)
        step = tg.optim.ReplayedStep(opt, lambda x: ((x * w).sum()) ** 2, x)
        step(x)
        assert seen == [("pre", [0.5, -0.25], True), ("post", [0.45, -0.3], True)]
        h1.remove()
        step(x)
        assert [s[0] for s in seen] == ["pre", "post", "post"]
    finally:
        h1.remove()
        h2.remove()


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("kw", [dict(history_size=5), dict(line_search_fn="strong_wolfe",
                                                            history_size=10, max_iter=8)],
                         ids=["plain", "strong_wolfe"])
def test_lbfgs_matches_torch(kw, dt):
    """LBFGS with a closure on a Rosenbrock of a vector and a 0-d parameter: losses,
    parameters, evaluation counts, version counters and the state's keys as torch's."""
    runs = []
    for mod in (tg, torch):
        a = mod.tensor(np.array([-1.2, 1.0, 0.5], dt), requires_grad=True)
        b = mod.tensor(np.array(0.3, dt), requires_grad=True)
        opt = mod.optim.LBFGS([a, b], **kw)

        def closure():
            opt.zero_grad()
            x = mod.cat([a, b.reshape(1)])
            loss = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
            loss.backward()
            return loss
        trace = []
        for _ in range(3):
            loss = opt.step(closure)
            trace.append([loss.detach().item()] + a.detach().numpy().tolist() + [b.item()])
        st = opt.state_dict()["state"][0]
        runs.append((np.array(trace), a._version, st["func_evals"], st["n_iter"], sorted(st),
                     repr(opt)))
    (ours, *rest), (theirs, *trest) = runs
    _close(ours, theirs, dt) if dt == "float64" else np.testing.assert_allclose(
        ours, theirs, rtol=1e-3, atol=1e-3)
    if dt == "float32":
        # in float32 the line search's stopping tests see torch's rounding, which follows the
        # CPU's vector width (an AVX-512 machine took one evaluation more): counts within one
        (ve, fe, it), (tve, tfe, tit) = rest[:3], trest[:3]
        assert abs(ve - tve) <= 1 and abs(fe - tfe) <= 1 and abs(it - tit) <= 1, (rest, trest)
        rest, trest = rest[3:], trest[3:]
    assert rest == trest


@pytest.mark.parametrize("kw", [dict(max_iter=1), dict(max_iter=1, lr=0.5), dict(max_iter=3)])
def test_lbfgs_state_t_as_torch(kw):
    """state["t"] is what torch leaves there: the lr as given (an int 1 stays an int), or the
    0-d tensor of a first iteration's step min(1, 1 / |g|_1) * lr."""
    def ts(mod):
        w = mod.nn.Parameter(mod.tensor([1.0, -0.5, 2.0], dtype=mod.float64))
        opt = mod.optim.LBFGS([w], **kw)

        def closure():
            opt.zero_grad()
            loss = ((w - 0.5) ** 2).sum() * 3 + w.sum()
            loss.backward()
            return loss
        out = []
        for _ in range(3):
            opt.step(closure)
            t = opt.state[w]["t"]
            out.append((type(t).__name__, str(getattr(t, "dtype", "")).split(".")[-1],
                        round(float(t), 12)))
        return out
    assert ts(tg) == ts(torch)


def test_lbfgs_state_shared_by_load_state_dict_as_torch():
    """A second LBFGS that load_state_dict'ed the first's state shares its prev_flat_grad
    tensor (same-dtype tensors are not copied), which torch's step writes in place
    (prev_flat_grad.copy_): the first's next step moves the second's start, as in torch."""
    def run(m):
        w = m.tensor([2.0, -1.0], dtype=m.float64, requires_grad=True)
        w2 = w.detach().clone().requires_grad_()
        opts = []
        for p in (w, w2):
            opt = m.optim.LBFGS([p], lr=0.5, max_iter=4, history_size=2)

            def closure(opt=opt, p=p):
                opt.zero_grad()
                loss = (p ** 4).sum() + p.prod()
                loss.backward()
                return loss
            opts.append((opt, closure))
        (opt, closure), (opt2, closure2) = opts
        opt.step(closure)
        w2.data.copy_(w.detach())
        opt2.load_state_dict(opt.state_dict())
        opt.step(closure)
        opt2.step(closure2)
        return w.tolist(), w2.tolist(), opt2.state[w2]["prev_flat_grad"].tolist()
    ours, theirs = run(tg), run(torch)
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-12, atol=1e-12)


def test_lbfgs_diverging_search_is_silent_as_torch():
    """A line search running off to infinity: torch's tensor arithmetic overflows silently,
    so LBFGS's numpy arithmetic does not warn either (the closure keeps the caller's numpy
    error settings)."""
    for ls in (None, "strong_wolfe"):
        w = tg.nn.Parameter(tg.tensor([1.0, -0.5]))
        opt = tg.optim.LBFGS([w], line_search_fn=ls, max_iter=30)
        seen = []

        def closure():
            seen.append(np.geterr()["over"])
            opt.zero_grad()
            loss = (w ** 3).sum() - (w ** 2).sum()
            loss.backward()
            return loss
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="warn"):
                opt.step(closure)
        assert np.abs(w.detach().numpy()).max() > 1e9      # (it did run off)
        assert set(seen) == {"warn"}


def test_lbfgs_transposed_parameter_as_torch():
    # torch gathers p.grad.view(-1); the .grad of a transposed parameter keeps its strides,
    # which view refuses: tapegrad's flat gathering took it
    def run(m):
        p = m.nn.Parameter(m.empty(3, 2).t())
        with m.no_grad():
            p.copy_(m.arange(6.0).reshape(2, 3) / 10)
        opt = m.optim.LBFGS([p], lr=0.5, max_iter=5)

        def closure():
            opt.zero_grad()
            loss = (p ** 2 * m.arange(6.0).reshape(2, 3) - p).sum()
            loss.backward()
            return loss
        try:
            opt.step(closure)
        except RuntimeError as e:
            return str(e), p.detach().tolist()
        return None
    assert run(tg) == run(torch) is not None


def test_lbfgs_one_group_only():
    with pytest.raises(ValueError, match="per-parameter options"):
        tg.optim.LBFGS([{"params": [tg.ones(1, requires_grad=True)]},
                        {"params": [tg.ones(1, requires_grad=True)]}])


def test_fused_kernels_use_tapegrad_numba_cache():
    """The update kernels are imported through _jit.kernel_module: with the default cache
    (tapegrad/__pycache__) their cache files sit in tapegrad/optim/__pycache__."""
    import glob
    import os
    from tapegrad import _jit
    from tapegrad.optim import optimizer as O
    p = tg.ones(2, requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    assert O.fused().__name__ == "tapegrad.optim._fused"
    pkg = os.path.dirname(tg.__file__)
    if _jit.cache_dir() != os.path.join(pkg, "__pycache__"):
        pytest.skip("tapegrad's Numba cache is elsewhere here")
    assert glob.glob(os.path.join(pkg, "optim", "__pycache__", "_fused.sgd-*.nbi"))


def test_one_kernel_call_per_group_and_dtype(monkeypatch):
    """Counting, not timing: a step is one update-kernel call per parameter group (and dtype),
    whatever the number of parameters."""
    from tapegrad.optim import optimizer as O
    K = O.fused()
    calls = []
    real = K.adam
    monkeypatch.setattr(K, "adam", lambda *a: (calls.append(len(a[0])), real(*a))[1])
    ps = [tg.ones(3, 2, requires_grad=True) for _ in range(5)] + \
        [tg.ones(4, dtype=tg.float64, requires_grad=True)]
    opt = tg.optim.Adam([{"params": ps[:3]}, {"params": ps[3:], "lr": 0.1}])
    for _ in range(3):
        opt.zero_grad()
        sum((p * p).sum().double() for p in ps).backward()
        opt.step()
    assert calls == [3, 2, 1] * 3


KERNELS = {"NAdam": "nadam", "RAdam": "radam", "Adamax": "adamax", "Adadelta": "adadelta",
           "Rprop": "rprop", "ASGD": "asgd"}


@pytest.mark.parametrize("cls", list(KERNELS))
def test_added_optimizers_one_kernel_call_per_group(cls, monkeypatch):
    """The optimizers added after Adagrad update a group's parameters in one call of their
    kernel too (two groups, one of two dtypes: three calls a step)."""
    from tapegrad.optim import optimizer as O
    K = O.fused()
    calls = []
    real = getattr(K, KERNELS[cls])
    monkeypatch.setattr(K, KERNELS[cls], lambda *a: (calls.append(len(a[0])), real(*a))[1])
    ps = [tg.ones(3, 2, requires_grad=True) for _ in range(5)] + \
        [tg.ones(4, dtype=tg.float64, requires_grad=True)]
    opt = getattr(tg.optim, cls)([{"params": ps[:3]}, {"params": ps[3:], "lr": 0.1}])
    for _ in range(3):
        opt.zero_grad()
        sum((p * p).sum().double() for p in ps).backward()
        opt.step()
    assert calls == [3, 2, 1] * 3


def test_state_cleared_or_storage_replaced_between_steps():
    """The fused step's cached addresses follow the parameters and the state: a cleared
    state restarts (as torch's), a parameter given new storage (.data =) is updated there."""
    out = []
    for mod in (tg, torch):
        w = mod.tensor([1.0, -2.0], requires_grad=True)
        v = mod.tensor([0.5], dtype=mod.float64, requires_grad=True)
        opt = mod.optim.Adam([w, v], lr=0.1)
        for k in range(4):
            opt.zero_grad()
            ((w * w).sum() + (v * v).sum().float()).backward()
            opt.step()
            if k == 1:
                opt.state.clear()
            if k == 2:
                w.data = mod.tensor([3.0, 4.0])
        out.append(w.tolist() + v.tolist() + [float(opt.state[w]["step"])])
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6)


# ---- the functional API (torch.optim._functional, torch.optim.adam.adam & co.) -------------
def _functional_run(mod, fn_name, kw):
    """A custom optimizer whose step() calls torch's functional update, 10 steps in float64:
    parameters, version counter and the state the function filled in."""
    import importlib
    F = importlib.import_module(mod.__name__ + ".optim._functional")
    fn = getattr(F, fn_name)

    class Custom(mod.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.05))

        @mod.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                ps = [p for p in group["params"] if p.grad is not None]
                grads = [p.grad for p in ps]
                if fn_name == "sgd":
                    bufs = [self.state[p].get("momentum_buffer") for p in ps]
                    fn(ps, grads, bufs, lr=group["lr"], **kw)
                    for p, b in zip(ps, bufs):
                        if b is not None:
                            self.state[p]["momentum_buffer"] = b
                    continue
                for p in ps:
                    if not self.state[p]:
                        self.state[p].update(step=mod.tensor(0.0), exp_avg=mod.zeros_like(p),
                                             exp_avg_sq=mod.zeros_like(p),
                                             max_exp_avg_sq=mod.zeros_like(p))
                st = [self.state[p] for p in ps]
                fn(ps, grads, [s["exp_avg"] for s in st], [s["exp_avg_sq"] for s in st],
                   [s["max_exp_avg_sq"] for s in st], [s["step"] for s in st], lr=group["lr"],
                   **kw)
    rng = np.random.default_rng(0)
    ps = [mod.tensor(rng.standard_normal((3, 2)), requires_grad=True),
          mod.tensor(rng.standard_normal(2), requires_grad=True)]
    opt = Custom(ps)
    for _ in range(10):
        opt.zero_grad()
        ((ps[0] ** 2).sum() + (ps[1] * ps[1] * ps[1]).sum()).backward()
        opt.step()
    return ([p.tolist() for p in ps], ps[0]._version,
            {k: (v.tolist(), str(v.dtype)[-7:]) for k, v in opt.state[ps[0]].items()})


ADAM_KW = dict(beta1=0.9, beta2=0.99, weight_decay=0.1, eps=1e-8, maximize=False)


@pytest.mark.parametrize("fn_name, kw", [
    ("adam", dict(ADAM_KW, amsgrad=False)), ("adam", dict(ADAM_KW, amsgrad=True)),
    ("adamw", dict(ADAM_KW, amsgrad=True)), ("adam", dict(ADAM_KW, amsgrad=False, foreach=False)),
    ("sgd", dict(weight_decay=0.01, momentum=0.9, dampening=0.0, nesterov=True,
                 maximize=False)),
    ("sgd", dict(weight_decay=0.0, momentum=0.5, dampening=0.2, nesterov=False, maximize=True)),
    ("sgd", dict(weight_decay=0.1, momentum=0, dampening=0.0, nesterov=False, maximize=False))])
def test_functional_api_as_torch(fn_name, kw):
    ours, theirs = _functional_run(tg, fn_name, kw), _functional_run(torch, fn_name, kw)
    _close(ours[0][0], theirs[0][0], "float64")
    _close(ours[0][1], theirs[0][1], "float64")
    assert ours[1] == theirs[1] and ours[2].keys() == theirs[2].keys()
    for k in ours[2]:
        _close(ours[2][k][0], theirs[2][k][0], "float64")
        assert ours[2][k][1] == theirs[2][k][1]


def test_functional_api_errors_as_torch():
    import importlib

    def outcomes(mod):
        F = importlib.import_module(mod.__name__ + ".optim._functional")
        w = mod.nn.Parameter(mod.ones(2))
        one = dict(amsgrad=False, beta1=0.9, beta2=0.99, lr=0.1, weight_decay=0, eps=1e-8,
                   maximize=False)
        sgd = dict(weight_decay=0, momentum=0, lr=0.1, dampening=0, nesterov=False,
                   maximize=False)
        calls = [
            lambda: F.adam([w], [mod.ones(2)], [mod.zeros(2)], [mod.zeros(2)], [],
                           [mod.tensor(0.0)], **one),
            lambda: F.adam([w], [mod.ones(2)], [mod.zeros(2)], [mod.zeros(2)], [], [0], **one),
            lambda: F.adam([w], [mod.ones(2)], [mod.zeros(2)], [mod.zeros(2)], [],
                           [mod.tensor(0.0)], capturable=True, **one),
            lambda: F.adam([w], [mod.ones(2)], [mod.zeros(2)], [mod.zeros(2)], [],
                           [mod.tensor(0.0)], grad_scale=mod.tensor(1.0), **one),
            lambda: F.sgd([w], [mod.ones(2)], [None], found_inf=mod.tensor(0.0), **sgd),
            lambda: F.sgd([w], [mod.ones(2)], [None], **dict(sgd, momentum=0.5, lr=-0.1)),
            lambda: F.adam([], [], [], [], [], [], **one)]
        out = []
        for i, call in enumerate(calls):
            try:
                if i == 0:
                    call()
                else:
                    with mod.no_grad():
                        call()
                out.append(w.tolist())
            except (RuntimeError, AssertionError) as e:
                out.append((type(e).__name__, str(e)))
        return out
    assert outcomes(tg) == outcomes(torch)


def _functional_lists(mod, fn_name, kw, state_of):
    """10 functional steps (under no_grad) of torch.optim._functional.<fn_name> with state
    lists made by state_of(mod, param): parameters, version counter, the first state."""
    import importlib
    fn = getattr(importlib.import_module(mod.__name__ + ".optim._functional"), fn_name)
    rng = np.random.default_rng(0)
    ps = [mod.tensor(rng.standard_normal((3, 2)), requires_grad=True),
          mod.tensor(rng.standard_normal(2), requires_grad=True)]
    states = [state_of(mod, p) for p in ps]
    for _ in range(10):
        for p in ps:
            p.grad = None
        ((ps[0] ** 2).sum() + (ps[1] * ps[1] * ps[1]).sum()).backward()
        with mod.no_grad():
            fn(ps, [p.grad for p in ps], *[list(x) for x in zip(*states)], **kw)
    return ([p.tolist() for p in ps], ps[0]._version,
            [(str(v.dtype)[-7:], v.tolist()) for v in states[0]])


def _zeros(mod, p):
    return mod.zeros_like(p)


FUNCTIONAL = [
    ("adagrad", dict(lr=0.1, weight_decay=0.1, lr_decay=0.01, eps=1e-10, maximize=False),
     lambda m, p: (_zeros(m, p) + 0.1, m.tensor(0.0))),
    ("rmsprop", dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.1, momentum=0.5,
                     centered=True),
     lambda m, p: (_zeros(m, p), _zeros(m, p), _zeros(m, p), m.tensor(0.0))),
    ("rmsprop", dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.0, momentum=0,
                     centered=False),
     lambda m, p: (_zeros(m, p), _zeros(m, p), _zeros(m, p), m.tensor(0.0))),
    ("rprop", dict(step_size_min=1e-6, step_size_max=50, etaminus=0.5, etaplus=1.2),
     lambda m, p: (_zeros(m, p), _zeros(m, p) + 0.01, m.tensor(0.0))),
    ("asgd", dict(lambd=1e-4, lr=0.01, t0=3, alpha=0.75, weight_decay=0.1),
     lambda m, p: (_zeros(m, p), m.tensor(1.0), m.tensor(0.01), m.tensor(0.0))),
    ("nadam", dict(beta1=0.9, beta2=0.999, lr=0.01, weight_decay=0.1, momentum_decay=0.004,
                   eps=1e-8, decoupled_weight_decay=True),
     lambda m, p: (_zeros(m, p), _zeros(m, p), m.tensor(1.0), m.tensor(0.0))),
    ("radam", dict(beta1=0.9, beta2=0.999, lr=0.01, weight_decay=0.1, eps=1e-8),
     lambda m, p: (_zeros(m, p), _zeros(m, p), m.tensor(0.0))),
    ("adamax", dict(beta1=0.9, beta2=0.999, lr=0.01, weight_decay=0.1, eps=1e-8),
     lambda m, p: (_zeros(m, p), _zeros(m, p), m.tensor(0.0))),
    ("adadelta", dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.1, maximize=False),
     lambda m, p: (_zeros(m, p), _zeros(m, p), m.tensor(0.0)))]


@pytest.mark.parametrize("fn_name, kw, state_of", FUNCTIONAL,
                         ids=[f"{f[0]}{i}" for i, f in enumerate(FUNCTIONAL)])
def test_functional_steps_of_every_optimizer_as_torch(fn_name, kw, state_of):
    ours = _functional_lists(tg, fn_name, kw, state_of)
    theirs = _functional_lists(torch, fn_name, kw, state_of)
    _close(ours[0][0], theirs[0][0], "float64")
    _close(ours[0][1], theirs[0][1], "float64")
    assert ours[1] == theirs[1] and [d for d, _ in ours[2]] == [d for d, _ in theirs[2]]
    for (_, a), (_, b) in zip(ours[2], theirs[2]):
        _close(a, b, "float64")


def test_functional_state_checks_as_torch():
    import importlib

    def outcomes(mod):
        F = importlib.import_module(mod.__name__ + ".optim._functional")
        w = mod.nn.Parameter(mod.ones(2))
        z = mod.zeros(2)
        calls = [
            lambda: F.nadam([w], [mod.ones(2)], [z], [z], [1.0], [mod.tensor(0.0)], beta1=0.9,
                            beta2=0.999, lr=0.01, weight_decay=0, momentum_decay=0.004,
                            eps=1e-8),
            lambda: F.adagrad([w], [mod.ones(2)], [z], [mod.tensor(0.0)],
                              grad_scale=mod.tensor(1.0), lr=0.1, weight_decay=0, lr_decay=0,
                              eps=1e-10, maximize=False),
            lambda: F.rmsprop([w], [mod.ones(2)], [z], [], [], [0], lr=0.1, alpha=0.9, eps=1e-8,
                              weight_decay=0, momentum=0, centered=False),
            lambda: F.adadelta([w], [mod.ones(2)], [z], [z], [mod.tensor(0.0)], capturable=True,
                               lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)]
        out = []
        for call in calls:
            try:
                with mod.no_grad():
                    call()
            except (RuntimeError, AssertionError) as e:
                out.append((type(e).__name__, str(e)))
        return out, w.tolist()
    assert outcomes(tg) == outcomes(torch)


@pytest.mark.parametrize("cls, kw", [("Adam", {}), ("AdamW", {}), ("SGD", dict(lr=0.1)),
                                     ("SGD", dict(lr=0.1, momentum=0.9)), ("Adagrad", {})])
@pytest.mark.parametrize("fused", [True, False])
def test_fused_steps_count_no_version_as_torch(cls, kw, fused):
    """torch's fused kernels (fused=True) update the parameters without moving their
    version counters, so a graph saved before the step still backpropagates (through the
    new values); the other paths count their in-place ops."""
    def run(mod):
        w = mod.nn.Parameter(mod.tensor([1.0, -2.0], dtype=mod.float64))
        opt = getattr(mod.optim, cls)([w], fused=fused, **kw)
        versions = []
        for _ in range(3):
            opt.zero_grad()
            (w ** 2).sum().backward()
            opt.step()
            versions.append(w._version)
        saved = (w * w * w).sum()
        opt.zero_grad()
        (w ** 2).sum().backward()
        opt.step()
        try:
            saved.backward()
            after = w.grad.tolist()
        except RuntimeError as e:
            after = str(e).split(":")[0]
        return versions, after
    (versions, after), (tversions, tafter) = run(tg), run(torch)
    assert versions == tversions and type(after) is type(tafter)
    if isinstance(after, str):
        assert after == tafter
    else:
        _close(after, tafter, "float64")


@pytest.mark.parametrize("cls, kw", [("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("Adam", dict(lr=0.1)), ("RMSprop", dict(lr=0.1))])
def test_parameter_listed_twice_as_torch(cls, kw):
    """A parameter listed twice in a group (torch warns, and steps it twice): SGD's first
    step makes a buffer from the gradient for each occurrence, as torch's."""
    def run(mod):
        w = mod.nn.Parameter(mod.tensor([1.0, -2.0], dtype=mod.float64))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt = getattr(mod.optim, cls)([w, w], **kw)
        for _ in range(3):
            opt.zero_grad()
            (w ** 2).sum().backward()
            opt.step()
        return w.tolist(), {k: v.tolist() for k, v in opt.state[w].items()}
    (ours, ostate), (theirs, tstate) = run(tg), run(torch)
    _close(ours, theirs, "float64")
    assert ostate.keys() == tstate.keys()
    for k in ostate:
        _close(ostate[k], tstate[k], "float64")


@pytest.mark.parametrize("cls, kw", [("Adam", {}), ("AdamW", {}), ("NAdam", {}), ("RAdam", {}),
                                     ("Adamax", {}), ("RMSprop", dict(centered=True)),
                                     ("Adam", dict(fused=True)), ("SGD", dict(momentum=0.9))])
@pytest.mark.parametrize("to", ["double", "float"])
def test_model_converted_after_a_step_as_torch(cls, kw, to):
    """The model's dtype changed after the optimizer's first step: torch's steps that lerp
    the gradient into their state (and fused kernels) raise; SGD's computes on."""
    def run(mod):
        m = mod.nn.Linear(2, 1)
        if to == "float":
            m = m.double()
        opt = getattr(mod.optim, cls)(m.parameters(), lr=0.1, **kw)
        m(mod.ones(3, 2, dtype=m.weight.dtype)).sum().backward()
        opt.step()
        getattr(m, to)()
        opt.zero_grad()
        m(mod.ones(3, 2, dtype=m.weight.dtype)).sum().backward()
        try:
            opt.step()
        except RuntimeError as e:
            return str(e)
        return None
    assert run(tg) == run(torch)


INTEGER_CASES = [("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
                 ("Adam", {}), ("Adam", dict(weight_decay=0.1)),
                 ("Adam", dict(weight_decay=0.1, decoupled_weight_decay=True)), ("AdamW", {}),
                 ("RMSprop", {}), ("Adagrad", {}), ("Rprop", {}), ("ASGD", {}), ("NAdam", {}),
                 ("RAdam", {}), ("Adamax", {}), ("Adadelta", {}), ("Adam", dict(fused=True)),
                 ("SGD", dict(lr=0.1, fused=True)), ("Adagrad", dict(fused=True)),
                 ("Adafactor", {}), ("Adafactor", dict(eps=(1e-3, 1e-3))), ("LBFGS", {})]


@pytest.mark.parametrize("cls, kw", INTEGER_CASES,
                         ids=[f"{c}{i}" for i, (c, _) in enumerate(INTEGER_CASES)])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_step_of_integer_parameters_raises_as_torch(cls, kw, dtype):
    """A step of an integer or bool parameter raises torch's error (its first op that cannot
    take one), not the kernels' typing error."""
    def outcome(mod):
        y = mod.tensor([1, 2], dtype=getattr(mod, dtype))
        opt = getattr(mod.optim, cls)([y], **kw)
        y.grad = mod.tensor([1, 1], dtype=getattr(mod, dtype))
        try:
            opt.step(lambda: mod.tensor(1.0)) if cls == "LBFGS" else opt.step()
        except (RuntimeError, NotImplementedError, TypeError) as e:
            return type(e).__name__, str(e).replace("tapegrad.", "torch.")
        return y.tolist()
    assert outcome(tg) == outcome(torch)
