"""The n-d kernels' tiers (tapegrad.tiers, codegen.TIERED): a kernel holds the ops of its tier
and the lower ones, hands the rest of a call to a higher tier's kernel at the first entry of
one, and a process that never meets one never calls (so never compiles) that kernel."""
import re

import numpy as np
import pytest
import torch

import tapegrad as tg
from tapegrad import codegen, tiers
from tapegrad._jit import K, kernels
from tapegrad.ops import BY_CODE

NAMES = ("sweep", "sweep_core", "sweep_ew", "forward_from", "forward_core")


def _branch_codes(name):
    """Opcodes with a branch of their own in kernel `name` of the generated module."""
    src = open(kernels().__file__).read()
    body = src.split("\ndef %s(" % name, 1)[1].split("\n@njit", 1)[0]
    return {int(c) for c in re.findall(r"\bo == (\d+)", body)}


@pytest.mark.parametrize("name, level", [(name, level) for name, _, level in codegen.TIERED])
def test_each_tier_holds_the_ops_of_its_tier_and_below(name, level):
    assert kernels().OP_TIER.tolist() == [codegen.tier(op) for op in BY_CODE]
    full = "sweep" if name.startswith("sweep") else "forward_from"
    above = {op.code for op in BY_CODE if codegen.tier(op) > level}
    assert _branch_codes(name) == _branch_codes(full) - above
    assert level == 2 or _branch_codes(full) & above   # (e.g. atan2 has a branch of its own)
    assert all(codegen.tier(op) == 2 for op in BY_CODE if op.code >= codegen.OUTLINE_FROM
               and op.kind in ("unary", "binary"))    # appended rows: no lower tier grows


@pytest.fixture
def calls(monkeypatch):
    """The kernel tiers called, in order, with tiers' state as in a fresh process."""
    monkeypatch.setattr(tiers, "_level", {"sweep": 0, "forward": 1})
    monkeypatch.setattr(tiers, "_called", set())
    seen = []
    for name in NAMES:
        def spy(*args, fn=getattr(kernels(), name), name=name):
            seen.append(name)
            return fn(*args)
        monkeypatch.setattr(K, name, spy, raising=False)
    return seen


def _graph(lib, w, x, full):
    h = (x @ w).tanh()                       # a host or matmul entry, then a core op
    if full:                                 # cat and log1p: full-only kinds/rows
        h = lib.cat([h, h.exp()], 1).log1p()
    return (h * h).mean()


def _inputs(lib):
    rng = np.random.default_rng(0)
    return (lib.tensor(rng.standard_normal((3, 2)), requires_grad=True),
            lib.tensor(rng.standard_normal((4, 3)), requires_grad=True))


def _torch_grads(full):
    w, x = _inputs(torch)
    _graph(torch, w, x, full).backward()
    return w.grad.numpy(), x.grad.numpy()


@pytest.mark.parametrize("full", [False, True])
def test_backward_runs_the_lowest_tiers_the_graph_needs(calls, full):
    x0 = tg.tensor(0.5, requires_grad=True)
    (x0.sin() * x0).backward()                          # one-element ops: tier 0 only
    assert calls == ["sweep_ew"]
    assert x0.grad.item() == pytest.approx(np.sin(0.5) + 0.5 * np.cos(0.5), rel=1e-6)
    del calls[:]
    w, x = _inputs(tg)
    _graph(tg, w, x, full).backward()
    for got, want in zip((w.grad, x.grad), _torch_grads(full)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    # the root (mean) is a reduce: the sweep starts in tier 1; cat and log1p are tier 2
    assert calls == ["sweep_core"] + ["sweep"] * full
    assert tiers._level["sweep"] == 1 + full
    del calls[:]   # from then on the highest tier needed runs first
    (x0.sin() * x0).backward()
    assert calls == [("sweep_ew", "sweep_core", "sweep")[1 + full]]


@pytest.mark.parametrize("full", [False, True])
def test_replay_runs_the_tier_its_tape_needs(calls, full):
    w, x = _inputs(tg)
    r = tg.record(lambda w, x: _graph(tg, w, x, full), w.detach(), x.detach())
    del calls[:]
    value, grads = r.value_and_grad(w.detach().numpy(), x.detach().numpy())
    tw, tx = _inputs(torch)
    np.testing.assert_allclose(value, _graph(torch, tw, tx, full).item(), rtol=1e-12)
    for got, want in zip(grads, _torch_grads(full)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    forwards = [c for c in calls if c.startswith("forward")]
    sweeps = [c for c in calls if c.startswith("sweep")]
    # a recorded tape's kernels are those of its highest tier: no lower one is compiled
    assert forwards == [("forward_core", "forward_from")[full]]
    assert sweeps == [("sweep_core", "sweep")[full]]



@pytest.mark.parametrize("full", [False, True])
def test_jacobians_call_the_drivers_of_the_tier_their_graph_needs(monkeypatch, full):
    """Recorded.jacobian and autograd.functional.jacobian (engine.jacobian_rows) call the
    core copies of their drivers (codegen.DRIVER_VARIANTS) for a graph of tier-1 ops: their
    first call compiled the full kernels into them (cold: 23.7 -> 15.6 s, 14.1 -> 8.1 s)."""
    seen = []
    for name in ("jacobian_at", "jacobian_at_core", "sweep_rows", "sweep_rows_core"):
        def spy(*args, fn=getattr(kernels(), name), name=name):
            seen.append(name)
            return fn(*args)
        monkeypatch.setattr(K, name, spy, raising=False)
    w, x = _inputs(tg)

    def f(w, x):
        h = (x @ w).tanh()
        return (tg.cat([h, h.exp()], 1).log1p() if full else h * h).sum(0)
    r = tg.record(f, w.detach(), x.detach())
    jw, jx = r.jacobian(w.detach().numpy(), x.detach().numpy())
    fw, fx = tg.autograd.functional.jacobian(f, (w.detach(), x.detach()))
    assert seen == ["jacobian_at" + "_core" * (not full), "sweep_rows" + "_core" * (not full)]
    tw, tx = torch.autograd.functional.jacobian(
        lambda w, x: (torch.cat([(x @ w).tanh(), (x @ w).tanh().exp()], 1).log1p() if full
                      else (x @ w).tanh() ** 2).sum(0), _inputs(torch))
    for got in ((jw, jx), (fw.numpy(), fx.numpy())):
        np.testing.assert_allclose(got[0], tw.numpy(), rtol=1e-12)
        np.testing.assert_allclose(got[1], tx.numpy(), rtol=1e-12)

@pytest.mark.parametrize("fn, core", [(lambda x: (x.sin() * x + 1.0) ** 2, True),
                                      (lambda x: (x.log1p() * x + 1.0) ** 2, False)])
def test_one_element_replay_calls_the_core_kernels_unless_an_outlined_row_is_on_it(fn, core):
    r = tg.record(fn, tg.tensor(0.5, dtype=tg.float64))
    value, (grad,) = r.value_and_grad(0.7)
    x = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y = fn(x)
    y.backward()
    assert value == pytest.approx(y.item(), rel=1e-15)
    assert grad == pytest.approx(x.grad.item(), rel=1e-15)
    assert r(0.7) == pytest.approx(y.item(), rel=1e-15)
    names = [k.py_func.__name__ for k in r._scalar_kernels()]
    assert names == [n + "_core" * core for n in ("replay_scalar", "forward_scalar")]


def test_a_sweep_resumes_in_each_higher_tier_it_meets(calls, monkeypatch):
    """From tier 0 up: a one-element graph whose root is elementwise, with a reduction and a
    full-only row below it (the start tier not raised first: expect_sweep off)."""
    monkeypatch.setattr(tiers, "expect_sweep", lambda op: None)
    x = tg.tensor([0.3, 0.4], requires_grad=True, dtype=tg.float64)
    y = x.log1p().sum().sin() * 2.0
    y.backward()
    assert calls == ["sweep_ew", "sweep_core", "sweep"]
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.cos(np.log1p([0.3, 0.4]).sum())
                               / (1.0 + np.array([0.3, 0.4])), rtol=1e-14)


@pytest.mark.parametrize("prefix", [0, 3000])
def test_a_first_backward_starts_in_the_highest_tier_it_reaches(calls, prefix):
    """Until a process has called the tier-0 sweep or needed more, a backward starts from the
    highest tier of the entries it reaches (tiers.expect_sweep), so a first graph with an
    elementwise root calls (compiles) that tier's kernel alone.  With a long prefix of
    dropped graphs the reached part is swept as local streams (engine._sweep_reached), and
    unreached entries of a higher tier do not count."""
    x = tg.tensor([0.3, 0.4], requires_grad=True, dtype=tg.float64)
    for _ in range(prefix // 3):     # dropped graphs: a reduce and a full-only row
        x.log1p().sum() * 2.0
    ((x * x).sum() * 3.0).backward()                        # a reduce below the root
    assert calls == ["sweep_core"] and tiers._level["sweep"] == 1
    np.testing.assert_allclose(x.grad.numpy(), [6 * 0.3, 6 * 0.4], rtol=1e-15)
    tiers._level["sweep"] = 0        # as a fresh process (the fixture restores tiers' state)
    tiers._called.clear()
    del calls[:]
    (x.log1p().sum().sin() * 2.0).backward()                # and a full-only row
    assert calls == ["sweep"] and tiers._level["sweep"] == 2
    tiers._level["sweep"] = 0
    tiers._called.clear()
    del calls[:]
    x.grad = None
    (x * x * 3.0).backward(tg.ones(2, dtype=tg.float64))   # elementwise only: tier 0
    assert calls == ["sweep_ew"] and tiers._level["sweep"] == 0
    np.testing.assert_array_equal(x.grad.numpy(), [6 * 0.3, 6 * 0.4])
    # sweep_ew is compiled now: no more looking ahead (it would cost every backward ~3 us);
    # a graph that needs more resumes in the next tier
    del calls[:]
    ((x * x).sum() * 3.0).backward()
    assert calls == ["sweep_ew", "sweep_core"] and tiers._level["sweep"] == 1


@pytest.mark.parametrize("full", [False, True])
def test_replay_compiles_ahead_the_sweep_it_will_call(monkeypatch, full):
    """The first value_and_grad of a tape asks tapegrad._ahead for the very kernel and
    signature its reverse sweep then calls (else the child's compile would be wasted)."""
    from numba import typeof
    from tapegrad import _ahead
    monkeypatch.setattr(tiers, "_level", {"sweep": 0, "forward": 1})
    started, called = [], []
    monkeypatch.setattr(_ahead, "start", lambda name, args: started.append(
        (name, tuple(typeof(a) for a in args))))
    for name in NAMES:
        def spy(*args, fn=getattr(kernels(), name), name=name):
            called.append((name, tuple(typeof(a) for a in args)))
            return fn(*args)
        monkeypatch.setattr(K, name, spy, raising=False)
    w, x = _inputs(tg)
    r = tg.record(lambda w, x: _graph(tg, w, x, full), w.detach(), x.detach())
    for _ in range(2):
        r.value_and_grad(w.detach().numpy(), x.detach().numpy())
    sweeps = [c for c in called if c[0].startswith("sweep")]
    assert len(sweeps) == 2 and started == sweeps[:1]


def test_eager_and_replayed_sweeps_share_their_specializations():
    """Numba compiles a kernel once per argument types: an eager backward, a replay and the
    batch drivers pass the sweeps and forwards the same index, op_saves and start types, so
    none is compiled twice for a type that differs by accident (a writable op_saves beside
    the drivers' frozen read-only one, int64 replay indices beside the tape's int32, a
    literal 0 start beside Python's int64 all did)."""
    from tapegrad.tape import STATE, _SAVES
    x = tg.tensor([0.3, 0.4], requires_grad=True, dtype=tg.float64)
    y = (x * x).sum()
    eager = STATE.tape._arrays
    rec = tg.record(lambda a: (a * a).sum(), x.detach())
    assert rec._kargs[1].dtype == eager[1].dtype and rec._kargs[2].dtype == eager[2].dtype
    assert not _SAVES.flags.writeable        # as the drivers' OP_SAVES inside the kernels
    y.backward()
    rec.value_and_grad(np.array([0.5, 0.25]))
    rec.value_and_grad_batch(np.ones((3, 2)))
    rec.jacobian_batch(np.ones((3, 2)))
    # (every signature this process has compiled or loaded, whichever test made it)
    for name in ("forward_from", "forward_core", "backward_only", "backward_only_core"):
        assert all("Literal" not in str(sig) for sig in getattr(K, name).signatures), name
    for name in ("sweep", "sweep_core", "sweep_ew"):
        assert all(not sig[17].mutable for sig in getattr(K, name).signatures), name
