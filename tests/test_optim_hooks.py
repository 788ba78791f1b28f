"""Optimizer hooks (step pre/post, global, state_dict and load_state_dict pre/post),
tensor lr, the foreach / fused / capturable / differentiable flags, add_param_group and
repr, each against torch 2.13."""
import importlib

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

OPTS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax", "Adadelta",
        "Rprop", "ASGD", "Adafactor"]


def _fit(mod, name, steps=15, **kw):
    """`steps` steps of optimizer `name` on a small quadratic (float64); the values and the
    optimizer, or the error raised (type and message)."""
    p = mod.tensor([1.0, -2.0, 0.5], dtype=mod.float64, requires_grad=True)
    try:
        opt = getattr(mod.optim, name)([p], **kw)
        for _ in range(steps):
            opt.zero_grad()
            ((p * p * mod.tensor([1.0, 2.0, 3.0], dtype=mod.float64)).sum()
             + p.sum()).backward()
            opt.step()
    except Exception as e:           # noqa: BLE001 (compared with torch's)
        return type(e).__name__, str(e)
    step = opt.state[p].get("step")
    return p.detach().numpy().copy(), None if step is None else str(step.dtype).split(".")[1]


FLAGS = [dict(foreach=True), dict(foreach=False), dict(fused=True), dict(fused=False),
         dict(capturable=True), dict(capturable=True, foreach=True), dict(differentiable=True),
         dict(fused=True, foreach=True),
         dict(fused=True, differentiable=True), dict(lr="0-d"), dict(lr="2"),
         dict(lr="0-d", foreach=True), dict(lr="1")]


def _kw(mod, kw):
    kw = dict(kw)
    if "lr" in kw:
        # (float64: with a float32 lr tensor torch's Adam and Adagrad round lr / bias
        # correction to float32; tapegrad's kernels compute it in float64, ~1e-9 apart)
        kw["lr"] = {"0-d": mod.tensor(0.01), "1": mod.tensor([0.01]),
                    "2": mod.tensor([0.01, 0.02])}[kw["lr"]].double()
    return kw


@pytest.mark.parametrize("name", OPTS)
@pytest.mark.parametrize("flags", FLAGS, ids=[",".join(f"{k}={v}" for k, v in f.items())
                                              for f in FLAGS])
def test_flags_and_tensor_lr_as_torch(name, flags):
    ours = _fit(tg, name, **_kw(tg, flags))
    theirs = _fit(torch, name, **_kw(torch, flags))
    if isinstance(theirs[0], str) or isinstance(ours[0], str):
        assert ours == theirs
    else:
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-13, atol=1e-15)
        assert ours[1] == theirs[1]          # fused: float32 step counts, as torch's


def test_differentiable_with_non_leaf_params_is_not_implemented():
    w = tg.ones(2, requires_grad=True)
    p = w * 2.0
    p.retain_grad()
    opt = tg.optim.SGD([p], lr=0.1, differentiable=True)
    p.sum().backward()
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        opt.step()


def _hook_run(mod):
    log = []
    p = mod.ones(2, requires_grad=True)
    opt = mod.optim.SGD([p], lr=0.5)
    hooks = importlib.import_module(mod.__name__ + ".optim.optimizer")
    g1 = hooks.register_optimizer_step_pre_hook(
        lambda o, a, k: log.append(("global pre", type(o).__name__, a[0] is o, len(a), k)))
    g2 = hooks.register_optimizer_step_post_hook(
        lambda o, a, k: log.append(("global post", len(a), k)))
    try:
        h1 = opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", len(a), k)))
        closure = lambda: log.append("closure") or mod.tensor(3.0)   # noqa: E731
        opt.register_step_pre_hook(lambda o, a, k: ((o, closure), {}) if len(a) == 1 else None)
        opt.register_step_post_hook(lambda o, a, k: log.append(("post", len(a), k)))
        (p * p).sum().backward()
        loss = opt.step()
        log.append(float(loss))
        h1.remove()
        h1.remove()                               # a second remove does nothing
        opt.step(closure=None)
        log.append(p.detach().numpy().tolist())
        opt.register_step_pre_hook(lambda o, a, k: 5)
        with pytest.raises(RuntimeError) as e:
            opt.step()
        log.append(str(e.value).split(" must return")[1])
    finally:
        g1.remove()
        g2.remove()
    opt2 = mod.optim.Adam([p])
    opt2.step()                                   # the global hooks are gone
    return log


def test_step_hooks_as_torch():
    ours, theirs = _hook_run(tg), _hook_run(torch)
    assert ours == theirs
    assert ours[0] == ("global pre", "SGD", True, 1, {}) and "closure" in ours


def _state_hooks(mod):
    log = []
    p = mod.ones(2, requires_grad=True)
    opt = mod.optim.SGD([p], lr=0.1, momentum=0.9)
    (p * p).sum().backward()
    opt.step()
    opt.register_state_dict_pre_hook(lambda o: log.append("pre"))
    opt.register_state_dict_pre_hook(lambda o: log.append("pre first"), prepend=True)

    def post(o, sd):
        log.append(("post", sorted(sd)))
        sd = dict(sd)
        sd["extra"] = 1
        return sd
    opt.register_state_dict_post_hook(post)
    opt.register_state_dict_post_hook(lambda o, sd: log.append(("post first", sorted(sd))),
                                      prepend=True)
    sd = opt.state_dict()
    log.append(sorted(sd))

    def load_pre(o, sd):
        log.append(("load pre", sorted(sd)))
        sd = dict(sd)
        sd.pop("extra")
        sd["param_groups"] = [dict(g, lr=0.25) for g in sd["param_groups"]]
        return sd
    opt.register_load_state_dict_pre_hook(load_pre)
    h = opt.register_load_state_dict_post_hook(lambda o: log.append(
        ("load post", o.param_groups[0]["lr"])))
    opt.register_load_state_dict_post_hook(lambda o: log.append("load post first"),
                                           prepend=True)
    opt.load_state_dict(sd)
    h.remove()
    opt.load_state_dict(sd)
    log.append(sorted(opt.state_dict()))
    return log


def test_state_dict_hooks_as_torch():
    assert _state_hooks(tg) == _state_hooks(torch)


def test_add_param_group_and_repr_as_torch():
    out = []
    for mod in (tg, torch):
        a, b = mod.ones(2, requires_grad=True), mod.ones(3, requires_grad=True)
        opt = mod.optim.Adam([a], lr=mod.tensor(0.01), weight_decay=0.1)
        opt.add_param_group({"params": b, "lr": 0.5, "betas": (0.8, 0.9)})
        errs = []
        for bad in ({"params": a}, {"params": {b}}, [b]):
            with pytest.raises(Exception) as e:
                opt.add_param_group(bad)
            errs.append((type(e.value).__name__, str(e.value).replace("torch", "tapegrad")))
        out.append((repr(opt).replace("torch", "tapegrad"), errs,
                    sorted(opt.param_groups[1]), opt.param_groups[1]["betas"]))
    assert out[0] == out[1]


def test_hooks_survive_pickling_state_and_subclass_steps_are_hooked():
    import pickle
    p = tg.ones(1, requires_grad=True)
    opt = tg.optim.LBFGS([p])
    seen = []
    opt.register_step_post_hook(lambda o, a, k: seen.append(len(a)))
    opt.step(lambda: (p * p).sum())
    assert seen == [2]           # (self, closure), as torch's
    again = pickle.loads(pickle.dumps(tg.optim.SGD([tg.ones(1, requires_grad=True)])))
    assert again._optimizer_step_pre_hooks == {}


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "NAdam", "RAdam", "Adamax", "Adadelta",
                                  "Adagrad", "RMSprop", "Rprop", "ASGD"])
def test_setstate_of_an_older_pickle_as_torch(name):
    """__setstate__ fills the group settings an older pickle lacks with torch's defaults (each
    class's own: Optimizer._group_defaults)."""
    torch = pytest.importorskip("torch")
    got = {}
    for m in (tg, torch):
        opt = getattr(m.optim, name)([m.nn.Parameter(m.ones(2))], lr=0.1)
        state = opt.__getstate__()
        keys = [k for k in state["param_groups"][0] if k not in ("params", "lr")]
        for group in state["param_groups"]:
            for k in keys:
                group.pop(k)
        again = getattr(m.optim, name).__new__(getattr(m.optim, name))
        again.__setstate__(state)
        got[m.__name__] = {k: v for k, v in again.param_groups[0].items() if k != "params"}
    assert got["tapegrad"] == got["torch"]


@pytest.mark.parametrize("make", [
    lambda m, w: m.optim.Adam([w]), lambda m, w: m.optim.AdamW([w]),
    lambda m, w: m.optim.SGD([w], lr=0.1), lambda m, w: m.optim.RMSprop([w]),
    lambda m, w: type("MyAdam", (m.optim.Adam,), {})([w])])
def test_bad_step_pre_hook_result_names_the_step_as_torch(make):
    """A step pre-hook returning something else than None or (args, kwargs): torch's error
    names the class's own step function (AdamW's is Adam's)."""
    import re

    def message(m):
        w = m.nn.Parameter(m.ones(2))
        w.grad = m.ones(2)
        opt = make(m, w)
        opt.register_step_pre_hook(lambda *a: 5)
        with pytest.raises(RuntimeError) as e:
            opt.step()
        return re.sub("0x[0-9a-f]+", "0x", str(e.value))
    assert message(tg) == message(torch)
