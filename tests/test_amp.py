"""tapegrad.amp against torch.amp (torch's CPU build): GradScaler("cpu") training with SGD and
Adam through overflowing steps, backoff and growth (scale, growth tracker, skipped steps and
state_dict exactly; the unscaled gradients bit for bit when both get the same scaled ones),
unscale_ then clip_grad_norm_, the errors and warnings, autocast's no-op cases and the
NotImplementedError of an enabled CPU autocast, the disabled scaler, pickling, and the
deprecated torch.cuda.amp spellings."""
import pickle
import threading
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import amp

try:
    import torch
except ImportError:   # the differential cases skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def _caught(fn):
    """(result, [(category name, message)]) of fn(), every warning recorded."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = fn()
    return r, [(x.category.__name__, str(x.message)) for x in w]


def _error(fn):
    """(type name, message) of the exception fn() raises."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return type(e).__name__, str(e)
    raise AssertionError("no exception")


# ---- training -------------------------------------------------------------------------------
def _problem(M, dt):
    rng = np.random.default_rng(0)
    w1, b1 = rng.standard_normal((8, 4)).astype(dt), rng.standard_normal(8).astype(dt)
    w2, b2 = rng.standard_normal((1, 8)).astype(dt), rng.standard_normal(1).astype(dt)
    x = (rng.standard_normal((16, 4)) * 3).astype(dt)
    y = (rng.standard_normal((16, 1)) * 5).astype(dt)
    model = M.nn.Sequential(M.nn.Linear(4, 8), M.nn.Tanh(), M.nn.Linear(8, 1)).to(getattr(M, dt))
    model.load_state_dict({"0.weight": M.tensor(w1), "0.bias": M.tensor(b1),
                           "2.weight": M.tensor(w2), "2.bias": M.tensor(b2)})
    return model, M.tensor(x), M.tensor(y)


def _optimizer(M, name, params):
    if name == "SGD":
        return M.optim.SGD(params, lr=0.01, momentum=0.9)
    return M.optim.Adam(params, lr=0.01)


# init_scale 2**127: the first scaled gradients overflow; backoff 0.3 makes scales that are
# not powers of two (so the reciprocal rounds); growth every 3 clean steps; step 5 has an inf
# input (NaN/inf gradients at a scale that does not overflow)
SCALER = dict(init_scale=2.0**127, growth_factor=2.0, backoff_factor=0.3, growth_interval=3)
POISON = (5,)


def _loss(M, model, X, Y, k):
    xx = X.clone()
    if k in POISON:
        xx[0, 0] = float("inf")
    with M.autocast("cpu", enabled=False):       # a training script's autocast with use_amp False
        return M.nn.functional.mse_loss(model(xx), Y)


def _train(M, opt_name, dt, steps=14):
    model, X, Y = _problem(M, dt)
    opt = _optimizer(M, opt_name, model.parameters())
    scaler = M.amp.GradScaler("cpu", **SCALER)
    trace = []
    for k in range(steps):
        opt.zero_grad()
        loss = _loss(M, model, X, Y, k)
        scaler.scale(loss).backward()
        before = [p.detach().numpy().copy() for p in model.parameters()]
        scaler.step(opt)
        skipped = all(np.array_equal(a, p.detach().numpy()) for a, p in
                      zip(before, model.parameters()))
        scaler.update()
        trace.append(dict(loss=loss.item(), skipped=skipped, state=scaler.state_dict(),
                          params=[p.detach().numpy().copy() for p in model.parameters()]))
    return trace


@needs_torch
@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_training_with_skipped_steps_matches_torch(opt_name, dt):
    """The same program under both: which steps are skipped, the scale, the growth tracker
    and the state_dict agree exactly at every step; losses and parameters to the round-off of
    the forward and backward (tapegrad's Linear/mse_loss and optimizers agree with torch's to
    round-off, not bit for bit: test_optim)."""
    ours, theirs = _train(tg, opt_name, dt), _train(torch, opt_name, dt)
    skips = [t["skipped"] for t in theirs]
    # float32 gradients overflow at the first scale (float64 ones cannot), step 5's inf input
    # skips in both, and some steps are clean
    assert skips[0] == (dt == "float32") and skips[5] and not all(skips[1:5])
    assert [o["skipped"] for o in ours] == skips
    scales = [t["state"]["scale"] for t in theirs]
    assert any(b > a for a, b in zip(scales, scales[1:]))   # a growth happened
    rtol = 1e-4 if dt == "float32" else 1e-10
    for o, t in zip(ours, theirs):
        assert o["state"] == t["state"]
        assert [type(v) for v in o["state"].values()] == [type(v) for v in t["state"].values()]
        if np.isfinite(t["loss"]):
            np.testing.assert_allclose(o["loss"], t["loss"], rtol=rtol)
        else:
            assert not np.isfinite(o["loss"])
        for a, b in zip(o["params"], t["params"]):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


@needs_torch
@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_unscaled_gradients_bit_for_bit(opt_name, dt):
    """torch gets tapegrad's scaled gradients each step (and its parameters after the step):
    the unscaled gradients (times the float32 reciprocal of the float32 scale) are equal bit
    for bit, as are the found-inf flags, skips, scales and trackers."""
    model, X, Y = _problem(tg, dt)
    tmodel, _, _ = _problem(torch, dt)
    opt, topt = _optimizer(tg, opt_name, model.parameters()), \
        _optimizer(torch, opt_name, tmodel.parameters())
    scaler, tscaler = tg.amp.GradScaler("cpu", **SCALER), torch.amp.GradScaler("cpu", **SCALER)
    skipped = []
    for k in range(14):
        opt.zero_grad()
        topt.zero_grad()
        loss = _loss(tg, model, X, Y, k)
        scaled = scaler.scale(loss)
        tscaled = tscaler.scale(torch.tensor(loss.item(), dtype=getattr(torch, dt)))
        assert scaled.item() == tscaled.item() or not np.isfinite(tscaled.item())
        scaled.backward()
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            tp.grad = torch.tensor(p.grad.numpy().copy())
        scaler.unscale_(opt)
        tscaler.unscale_(topt)
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            assert p.grad.numpy().tobytes() == tp.grad.numpy().tobytes()
        found = [v.item() for v in scaler._found_inf_per_device(opt).values()]
        assert found == [v.item() for v in tscaler._found_inf_per_device(topt).values()]
        skipped.append(found[0] == 1.0)
        scaler.step(opt)
        tscaler.step(topt)
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            if skipped[-1]:
                assert p.detach().numpy().tobytes() == tp.detach().numpy().tobytes()
            else:
                np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-5)
            with torch.no_grad():
                tp.copy_(torch.tensor(p.detach().numpy().copy()))
        scaler.update()
        tscaler.update()
        assert scaler.state_dict() == tscaler.state_dict()
        assert scaler._scale.dtype is tg.float32 and scaler._growth_tracker.dtype is tg.int32
    assert skipped[0] == (dt == "float32") and skipped[5] and not all(skipped)
    # the scale is no power of two by now: the reciprocal rounded
    s = np.float32(scaler.get_scale())
    assert np.float64(np.float32(1 / np.float64(s))) * np.float64(s) != 1.0


@needs_torch
@pytest.mark.parametrize("growth_factor,backoff_factor", [(1.1, 0.37), (3.7, 0.9)])
def test_update_rule_matches_torch(growth_factor, backoff_factor):
    """_amp_update_scale_'s arithmetic (the float32 scale times a double factor, rounded
    once to float32; growth only if finite) over random found-inf patterns, near overflow."""
    rng = np.random.default_rng(1)
    kw = dict(init_scale=3e38, growth_factor=growth_factor, backoff_factor=backoff_factor,
              growth_interval=2)
    ours, theirs = [], []
    for M, out in ((tg, ours), (torch, theirs)):
        p = M.zeros(3, requires_grad=True)
        opt = M.optim.SGD([p], lr=0.1)
        scaler = M.amp.GradScaler("cpu", **kw)
        flags = np.random.default_rng(1).random(60) < 0.3
        for bad in flags:
            opt.zero_grad()
            scaler.scale(p.sum() * 0.0 + 1.0).backward()
            if bad:
                with M.no_grad():
                    p.grad[1] = float("nan")
            scaler.step(opt)
            scaler.update()
            out.append((scaler.get_scale(), scaler._get_growth_tracker()))
        scaler.update(new_scale=1.2345678901)      # a float: rounded to float32
        out.append(scaler.get_scale())
        scaler.update(new_scale=M.tensor(7.000001, dtype=M.float64))
        out.append(scaler.get_scale())
    assert rng is not None and ours == theirs
    assert len({s for s, _ in theirs[:-2]}) > 5


@needs_torch
def test_growth_interval_lowered_past_the_tracker():
    """The tracker is compared with growth_interval for equality (torch's kernel): lowered
    below the count, it never grows again until a skipped step resets the tracker."""
    out = {}
    for M in (tg, torch):
        p = M.ones(2, requires_grad=True)
        opt = M.optim.SGD([p], lr=0.0)
        scaler = M.amp.GradScaler("cpu", init_scale=8.0, growth_interval=5)
        trace = []
        for k in range(10):
            if k == 3:
                scaler.set_growth_interval(2)
            opt.zero_grad()
            scaler.scale((p * (float("inf") if k == 7 else 1.0)).sum()).backward()
            scaler.step(opt)
            scaler.update()
            trace.append((scaler.get_scale(), scaler._get_growth_tracker()))
        out[M] = trace
    assert out[tg] == out[torch]
    assert out[torch][6] == (8.0, 7)


@needs_torch
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_unscale_then_clip_grad_norm(dt):
    """unscale_, then clip_grad_norm_ on the unscaled gradients, then step: as torch."""
    out = {}
    for M in (tg, torch):
        model, X, Y = _problem(M, dt)
        opt = M.optim.SGD(model.parameters(), lr=0.1)
        scaler = M.amp.GradScaler("cpu", init_scale=1024.0)
        norms = []
        for _ in range(3):
            opt.zero_grad()
            scaler.scale(M.nn.functional.mse_loss(model(X), Y)).backward()
            scaler.unscale_(opt)
            norms.append(M.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0).item())
            scaler.step(opt)
            scaler.update()
        out[M] = norms, [p.detach().numpy() for p in model.parameters()], scaler.state_dict()
    (n, ps, sd), (tn, tps, tsd) = out[tg], out[torch]
    rtol = 1e-5 if dt == "float32" else 1e-12
    np.testing.assert_allclose(n, tn, rtol=rtol)
    assert tn[0] > 1.0          # the clip did something
    for a, b in zip(ps, tps):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    assert sd == tsd


# ---- the scaler's API -----------------------------------------------------------------------
@needs_torch
def test_scale_outputs_as_torch():
    for M in (tg, torch):
        s = M.amp.GradScaler("cpu", init_scale=4.0)
        a, b = M.tensor([1.0, 2.0]), M.tensor(3.0, dtype=M.float64)
        nested = s.scale([a, (b, [a])])
        assert type(nested) is list and type(nested[1]) is tuple and type(nested[1][1]) is list
        assert nested[0].tolist() == [4.0, 8.0] and nested[1][0].item() == 12.0
        assert nested[1][0].dtype is M.float64
        lazy = s.scale(x for x in [a])
        assert not isinstance(lazy, (list, tuple)) and next(iter(lazy)).tolist() == [4.0, 8.0]
    assert _error(lambda: tg.amp.GradScaler("cpu").scale(3)) == \
        _error(lambda: torch.amp.GradScaler("cpu").scale(3))
    assert _error(lambda: tg.amp.GradScaler("cpu").scale([tg.ones(1), 3])) == \
        _error(lambda: torch.amp.GradScaler("cpu").scale([torch.ones(1), 3]))


def _stepped(M, **kw):
    p = M.ones(2, requires_grad=True)
    opt = M.optim.SGD([p], lr=0.5)
    scaler = M.amp.GradScaler("cpu", **kw)
    scaler.scale((p * p).sum()).backward()
    return p, opt, scaler


ERRORS = {
    "step twice": lambda M: (lambda p, o, s: (s.step(o), s.step(o)))(*_stepped(M)),
    "unscale twice": lambda M: (lambda p, o, s: (s.unscale_(o), s.unscale_(o)))(*_stepped(M)),
    "unscale after step": lambda M: (lambda p, o, s: (s.step(o), s.unscale_(o)))(*_stepped(M)),
    "closure": lambda M: (lambda p, o, s: s.step(o, closure=lambda: 0))(*_stepped(M)),
    "update before scale": lambda M: M.amp.GradScaler("cpu").update(),
    "step before scale": lambda M: M.amp.GradScaler("cpu").step(M.optim.SGD([M.ones(1)], lr=1)),
    "unscale before scale": lambda M: M.amp.GradScaler("cpu").unscale_(
        M.optim.SGD([M.ones(1)], lr=1)),
    "update without step": lambda M: _stepped(M)[2].update(),
    "no gradients": lambda M: (lambda p, o, s: (setattr(p, "grad", None), s.step(o)))(
        *_stepped(M)),
    "growth factor": lambda M: M.amp.GradScaler("cpu", growth_factor=1.0),
    "backoff factor": lambda M: M.amp.GradScaler("cpu", backoff_factor=1.0),
    "empty state dict": lambda M: M.amp.GradScaler("cpu").load_state_dict({}),
    "pickle mid-iteration": lambda M: (lambda p, o, s: (s.unscale_(o), pickle.dumps(s)))(
        *_stepped(M)),
    "new_scale requires grad": lambda M: (lambda p, o, s: (
        s.step(o), s.update(new_scale=M.ones((), requires_grad=True))))(*_stepped(M)),
    "new_scale two elements": lambda M: (lambda p, o, s: (
        s.step(o), s.update(new_scale=M.ones(2))))(*_stepped(M)),
    "new_scale int": lambda M: (lambda p, o, s: (s.step(o), s.update(new_scale=3)))(
        *_stepped(M)),
    "param not a tensor": lambda M: (lambda p, o, s: (
        o.param_groups[0]["params"].append(3), s.step(o)))(*_stepped(M)),
}


@needs_torch
@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_as_torch(case):
    theirs = _error(lambda: ERRORS[case](torch))
    assert _error(lambda: ERRORS[case](tg)) == theirs


@needs_torch
def test_step_skips_and_state_dict_round_trip():
    """A skipped step returns None and leaves the parameters; a taken one returns step()'s
    value; state_dict/load_state_dict and pickling carry the scale and the tracker."""
    res = {}
    for M in (tg, torch):
        p, opt, scaler = _stepped(M, init_scale=8.0, growth_interval=2)
        assert scaler.step(opt) is None and p.tolist() == [1.0 - 0.5 * 2, 0.0]
        scaler.update()
        opt.zero_grad()
        scaler.scale((p * float("inf")).sum()).backward()
        assert scaler.step(opt) is None and p.tolist() == [0.0, 0.0]   # skipped
        scaler.update()
        sd = scaler.state_dict()
        fresh = M.amp.GradScaler("cpu")
        fresh.load_state_dict(sd)
        assert fresh.state_dict() == sd and fresh.get_scale() == 4.0
        clone = pickle.loads(pickle.dumps(scaler))
        assert clone.state_dict() == sd and clone._scale is None
        res[M] = sd, clone.get_growth_factor(), clone.get_backoff_factor(), \
            clone.get_growth_interval(), clone.is_enabled()
        scaler.set_growth_factor(3.0)
        scaler.set_backoff_factor(0.25)
        scaler.set_growth_interval(7)
        assert (scaler.get_growth_factor(), scaler.get_backoff_factor(),
                scaler.get_growth_interval()) == (3.0, 0.25, 7)
    assert res[tg] == res[torch]


@needs_torch
def test_two_optimizers_as_torch():
    """Each optimizer's gradients are checked on their own (one skips, the other steps); one
    inf anywhere backs the scale off at update()."""
    out = {}
    for M in (tg, torch):
        a, b = M.ones(2, requires_grad=True), M.ones(3, requires_grad=True)
        oa, ob = M.optim.SGD([a], lr=0.25), M.optim.SGD([b], lr=0.125)
        scaler = M.amp.GradScaler("cpu", init_scale=4.0, growth_interval=1)
        trace = []
        for k in range(4):
            oa.zero_grad()
            ob.zero_grad()
            bad = float("inf") if k == 1 else 1.0
            scaler.scale([(a * a).sum() * bad, (b * b * 3.0).sum()])[0].backward()
            scaler.scale((b * b * 3.0).sum()).backward()
            trace.append((scaler.step(oa), scaler.step(ob)))
            scaler.update()
            trace.append((a.tolist(), b.tolist(), scaler.state_dict()))
        out[M] = trace
    assert out[tg] == out[torch]
    assert out[torch][3][0] == out[torch][1][0] and out[torch][3][1] != out[torch][1][1]


@needs_torch
def test_signatures_as_torch():
    import inspect

    def params(f):
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]

    for name in ("GradScaler", "autocast", "custom_fwd", "custom_bwd", "is_autocast_available"):
        assert params(getattr(tg.amp, name)) == params(getattr(torch.amp, name))
    assert params(tg.cuda.amp.GradScaler) == params(torch.cuda.amp.GradScaler)
    assert tg.autocast is tg.amp.autocast and torch.autocast is torch.amp.autocast
    # (torch.cuda.amp.autocast's dtype defaults to torch.float16, which tapegrad lacks: None)
    assert params(tg.cuda.amp.autocast)[1][2] is None
    with pytest.raises(AttributeError, match="no float16 or bfloat16 dtype"):
        tg.float16
    assert getattr(tg, "bfloat16", None) is None


def test_disabled_scaler_passes_through():
    p = tg.ones(2, requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.5)
    scaler = tg.amp.GradScaler("cpu", enabled=False)
    loss = (p * p).sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    scaler.unscale_(opt)
    assert p.grad.tolist() == [2.0, 2.0]
    assert scaler.step(opt, closure=None) is None and p.tolist() == [0.0, 0.0]
    scaler.update()
    scaler.load_state_dict({})
    assert scaler.get_scale() == 1.0 and scaler.state_dict() == {} and not scaler.is_enabled()
    assert scaler._get_growth_tracker() == 0
    assert pickle.loads(pickle.dumps(scaler)).is_enabled() is False


def test_scaler_in_float64_and_growth():
    """The scale is float32 whatever the loss; growth after growth_interval clean steps."""
    p = tg.tensor([1.0, -2.0], dtype=tg.float64, requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.0)
    scaler = tg.amp.GradScaler("cpu", init_scale=3.0, growth_interval=2)
    for _ in range(4):
        opt.zero_grad()
        out = scaler.scale((p * p).sum())
        assert out.dtype is tg.float64
        out.backward()
        scaler.step(opt)
        scaler.update()
    # the last step's scale was 6: float64 gradients times float32(1 / 6), in float64
    inv = np.float64(np.float32(1 / np.float64(6.0)))
    assert p.grad.tolist() == [2.0 * 6.0 * inv, -4.0 * 6.0 * inv] != [2.0, -4.0]
    assert scaler.get_scale() == 12.0 and scaler._get_growth_tracker() == 0


class _AmpAwareSGD:
    """An optimizer that handles the scale itself (torch's `_step_supports_amp_scaling`)."""
    _step_supports_amp_scaling = True

    def __init__(self, M, params):
        self.inner = M.optim.SGD(params, lr=0.5)
        self.param_groups = self.inner.param_groups
        self.seen = []

    def step(self):
        self.seen.append((self.grad_scale.item(), self.found_inf.item()))
        return "stepped"


@needs_torch
def test_amp_aware_optimizer_gets_scale_and_found_inf():
    seen = {}
    for M in (tg, torch):
        p = M.ones(2, requires_grad=True)
        opt = _AmpAwareSGD(M, [p])
        scaler = M.amp.GradScaler("cpu", init_scale=16.0)
        scaler.scale((p * p).sum()).backward()
        assert scaler.step(opt) == "stepped" and not hasattr(opt, "grad_scale")
        scaler.update()
        scaler.scale((p * float("nan")).sum()).backward()
        scaler.step(opt)
        scaler.update()
        seen[M] = opt.seen, scaler.state_dict()
    assert seen[tg] == seen[torch]


# ---- warnings and deprecated spellings --------------------------------------------------------
@needs_torch
def test_cuda_scaler_and_autocast_warn_and_disable_as_torch():
    cases = [
        lambda M: M.amp.GradScaler("cuda").is_enabled(),
        lambda M: M.amp.GradScaler().is_enabled(),
        lambda M: M.amp.GradScaler("cuda", enabled=False).is_enabled(),
        lambda M: M.cuda.amp.GradScaler(init_scale=8.0).is_enabled(),
        lambda M: M.cuda.amp.autocast()._enabled,
        lambda M: M.cuda.amp.autocast(enabled=False)._enabled,
        lambda M: M.autocast("cuda")._enabled,
        lambda M: M.amp.autocast(device_type="cuda", enabled=True)._enabled,
        lambda M: M.autocast("cpu", dtype=M.float32)._enabled,
        lambda M: M.autocast("cpu:0", dtype=M.float64)._enabled,
        lambda M: M.autocast("mps", dtype=M.float32)._enabled,
        lambda M: M.autocast("xpu", dtype=M.int64)._enabled,
        lambda M: M.autocast("cpu", enabled=False)._enabled,
        lambda M: M.autocast("xpu")._enabled,
        lambda M: M.autocast("cuda:0")._enabled,
    ]
    for case in cases:
        assert _caught(lambda: case(tg)) == _caught(lambda: case(torch))
    _, w = _caught(lambda: tg.cuda.amp.GradScaler())
    assert [c for c, _ in w] == ["FutureWarning", "UserWarning"]


def test_warnings_point_at_the_caller():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        tg.autocast("cuda")
        tg.amp.GradScaler()
        tg.cuda.amp.autocast()
    assert [x.filename for x in w[:3]] == [__file__] * 3


@needs_torch
def test_deprecated_cuda_amp_spellings():
    from tapegrad.cuda.amp import GradScaler, autocast      # torch's import path
    assert issubclass(GradScaler, tg.amp.GradScaler) and issubclass(autocast, tg.autocast)
    assert tg.cuda.amp.amp_definitely_not_available() is True
    assert tg.cuda.amp.OptState is amp.OptState
    for M in (tg, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = M.cuda.amp.GradScaler()
            x = M.ones(2)
            assert s.scale(x) is x and s.state_dict() == {}
            with M.cuda.amp.autocast():
                assert not M.is_autocast_enabled("cuda") and not M.is_autocast_enabled()
    _, w = _caught(lambda: tg.cuda.amp.custom_fwd(lambda ctx, x: x))
    _, tw = _caught(lambda: torch.cuda.amp.custom_fwd(lambda ctx, x: x))
    assert w == tw
    _, w = _caught(lambda: tg.cuda.amp.custom_bwd(lambda ctx, g: g))
    _, tw = _caught(lambda: torch.cuda.amp.custom_bwd(lambda ctx, g: g))
    assert w == tw


# ---- autocast ---------------------------------------------------------------------------------
def test_enabled_cpu_autocast_raises():
    """CPU autocast would compute in bfloat16 (its default dtype), which tapegrad lacks:
    NotImplementedError, never float32 silently; enabled=False runs in full precision."""
    for make in (lambda: tg.autocast("cpu"), lambda: tg.autocast(device_type="cpu:0"),
                 lambda: tg.amp.autocast("cpu", dtype=None, enabled=True),
                 lambda: tg.autocast("cpu")(lambda: None)):
        with pytest.raises(NotImplementedError, match="enabled=False"):
            make()
    assert not tg.is_autocast_enabled("cpu")
    lin = tg.nn.Linear(3, 2)
    x = tg.randn(4, 3)
    with tg.autocast("cpu", enabled=False):
        y = lin(x)
    assert y.dtype is tg.float32 and y.tolist() == lin(x).tolist()


@needs_torch
def test_autocast_state_and_queries_as_torch():
    devices = ["cpu", "cuda", "mps", "xpu", "hpu", "mtia", "maia", "xla", "ipu", "cuda:0",
               "cpu:1", "meta", "lazy", "hip", "fpga", "foo", "cuda:x", "CPU"]
    for d in devices:
        for q in (lambda M: M.amp.is_autocast_available(d), lambda M: M.is_autocast_enabled(d),
                  # (float32 where the default dtype would enable CPU autocast)
                  lambda M: M.autocast(d, dtype=M.float32 if d.startswith("cpu") else None)
                  ._enabled):
            assert _outcome(lambda: q(tg)) == _outcome(lambda: q(torch))
    for args in [(3,), ("foo",), ("meta",), ("cpu",)]:
        e = _error(lambda: tg.get_autocast_dtype(*args))
        if args == ("cpu",):
            assert e[0] == "NotImplementedError" and "bfloat16" in e[1]
        else:
            assert e == _error(lambda: torch.get_autocast_dtype(*args))
    assert _error(lambda: tg.get_autocast_dtype()) == _error(lambda: torch.get_autocast_dtype())
    assert _error(lambda: tg.is_autocast_enabled(3)) == _error(lambda: torch.is_autocast_enabled(3))
    assert _error(lambda: tg.autocast(3)) == _error(lambda: torch.autocast(3))
    assert _error(lambda: tg.autocast("cpu", enabled=False)(3)) == \
        _error(lambda: torch.autocast("cpu", enabled=False)(3))
    assert _error(lambda: tg.autocast("privateuseone")) == \
        _error(lambda: torch.autocast("privateuseone"))
    assert tg.is_autocast_enabled() is False and tg.is_autocast_cache_enabled() is True
    # inside the no-op autocasts: torch's state, restored on exit
    for M in (tg, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with M.autocast("cpu", dtype=M.float32, cache_enabled=False):
                assert M.get_autocast_dtype("cpu") is M.float32
                assert not M.is_autocast_enabled("cpu") and not M.is_autocast_cache_enabled()
                with M.autocast("xpu"):
                    assert M.is_autocast_enabled("xpu") and not M.is_autocast_enabled("cpu")
                assert not M.is_autocast_enabled("xpu")
                with M.autocast("cuda:0"):
                    assert M.is_autocast_enabled() and M.is_autocast_enabled("cuda")
                    assert (M.ones(2, 2) @ M.ones(2, 2)).dtype is M.float32
            assert M.is_autocast_cache_enabled() and not M.is_autocast_enabled("cuda")
            with pytest.raises(TypeError, match="must be torch.dtype, not str"):
                with M.autocast("cuda", dtype="x"):
                    pass


def _outcome(fn):
    """("ok", result, warnings) or ("error", type name, message) of fn()."""
    try:
        r, w = _caught(fn)
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return "error", type(e).__name__, str(e)
    return "ok", r, w


def test_autocast_as_decorator_and_per_thread():
    calls = []

    @tg.autocast("xpu")
    def inside(a):
        calls.append(tg.is_autocast_enabled("xpu"))
        return a * 2

    assert inside.__name__ == "inside" and inside(tg.tensor(2.0)).item() == 4.0
    assert calls == [True] and not tg.is_autocast_enabled("xpu")
    seen = []
    with tg.autocast("xpu"):
        t = threading.Thread(target=lambda: seen.append(tg.is_autocast_enabled("xpu")))
        t.start()
        t.join()
        assert tg.is_autocast_enabled("xpu")
    assert seen == [False]
    with pytest.raises(ValueError):
        with tg.autocast("mps"):
            raise ValueError      # the state is restored on an exception
    assert not tg.is_autocast_enabled("mps")


def test_cuda_autocast_leaves_a_training_step_unchanged():
    """The usual script, autocast("cuda", enabled=True) and GradScaler("cuda") on a machine
    without CUDA: both disable themselves, and the step is plain float32 training."""
    tg.manual_seed(0)
    model = tg.nn.Linear(3, 1)
    ref = tg.nn.Linear(3, 1)
    ref.load_state_dict(model.state_dict())
    x, y = tg.randn(8, 3), tg.randn(8, 1)
    opt, ref_opt = tg.optim.SGD(model.parameters(), lr=0.1), tg.optim.SGD(ref.parameters(), lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scaler = tg.amp.GradScaler("cuda", enabled=True)
        ctx = tg.autocast(device_type="cuda", enabled=True)
    for _ in range(3):
        opt.zero_grad()
        with ctx:
            loss = tg.nn.functional.mse_loss(model(x), y)
        assert loss.dtype is tg.float32
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        ref_opt.zero_grad()
        tg.nn.functional.mse_loss(ref(x), y).backward()
        ref_opt.step()
    for a, b in zip(model.parameters(), ref.parameters()):
        assert a.tolist() == b.tolist()


def test_custom_fwd_and_bwd():
    class Double(tg.autograd.Function):
        @staticmethod
        @tg.amp.custom_fwd(device_type="cpu", cast_inputs=tg.float64)
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @tg.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            assert not tg.is_autocast_enabled("cpu")
            return g * 2

    x = tg.ones(3, requires_grad=True)
    y = Double.apply(x)
    assert y.dtype is tg.float32
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        tg.amp.custom_fwd(device_type=None)


def test_overflowed_scaled_loss_reads_as_inf_silently():
    """A float32 scaled loss past float32's range is inf when read, with no numpy warning
    (torch gives none)."""
    p = tg.tensor(30.0, requires_grad=True)
    scaler = tg.amp.GradScaler("cpu", init_scale=2.0**127)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = scaler.scale(p * 1.0)
        assert scaled.item() == float("inf") and float(scaled.detach()) == float("inf")


def test_grad_scaler_at_top_level_as_torch(torch_ref):
    # torch.GradScaler is torch.amp.GradScaler (tapegrad had only the latter)
    assert tg.GradScaler is tg.amp.GradScaler
    assert torch_ref.GradScaler is torch_ref.amp.GradScaler


def test_load_state_dict_missing_an_entry_loads_nothing(torch_ref):
    """A state dict without `growth_factor`: torch's KeyError, after torch has set the scale;
    here nothing is loaded (a failing call changes nothing)."""
    got = []
    for M in (tg, torch_ref):
        scaler = M.amp.GradScaler("cpu", init_scale=4.0)
        scaler.scale(M.ones(1))     # (the scale tensor exists: load_state_dict fills it)
        with pytest.raises(KeyError) as e:
            scaler.load_state_dict({"scale": 2.0})
        got.append((str(e.value), scaler.get_scale()))
    assert got == [("'growth_factor'", 4.0), ("'growth_factor'", 2.0)]
