"""The per-parameter paths of a training step on one-element tensors (a micrograd-style model
whose every weight is a 0-d tensor): the unrecorded in-place update `p -= lr * p.grad` under
no_grad (tensor._inplace_scalar) and the backward's collection of one-element leaf gradients
as floats (engine._collect_leaves, autograd._stage).  The update is checked bit for bit
against the numpy path it short-cuts and against torch, the gradients against torch, and a
call count shows neither makes a numpy call per parameter."""
import gc
import importlib
import math
import random

import numpy as np
import pytest

import tapegrad
T = importlib.import_module("tapegrad.tensor")

torch = pytest.importorskip("torch")

DTYPES = [(tapegrad.float32, np.float32, torch.float32), (tapegrad.float64, np.float64, torch.float64)]
METHODS = [("add_", np.add), ("sub_", np.subtract), ("mul_", np.multiply), ("div_", np.true_divide)]


def _numpy_path(x, method, other):
    """The same update through the numpy path: x stored as a one-element array."""
    x._v = np.full(x._shape, x._v, x._dtype.np)
    getattr(x, method)(other)
    return float(x._v.reshape(-1)[0])


@pytest.mark.parametrize("dt, npdt, tdt", DTYPES)
@pytest.mark.parametrize("method, ufunc", METHODS)
def test_inplace_update_equals_numpy_path_and_torch(dt, npdt, tdt, method, ufunc):
    rng = random.Random(3)
    for _ in range(300):
        a, b = rng.uniform(-3, 3), rng.uniform(-3, 3)
        # the operand: a Python number, or a 0-d tensor whose value a fast-path op left
        # unrounded (computed in double)
        for other in (b, tapegrad.tensor(b, dtype=dt) * 1.0000001):
            x = tapegrad.tensor(a, dtype=dt)
            v0 = x._version
            with tapegrad.no_grad():
                getattr(x, method)(other)
            assert type(x._v) is float and x._version == v0 + 1
            want = _numpy_path(tapegrad.tensor(a, dtype=dt), method, other)
            assert x._v == want
            o = float(other._v) if isinstance(other, tapegrad.Tensor) else other
            ref = getattr(torch.tensor(a, dtype=tdt), method)(
                torch.tensor(o, dtype=tdt) if isinstance(other, tapegrad.Tensor) else o)
            assert x._v == ref.item()


@pytest.mark.parametrize("dt, npdt, tdt", DTYPES)
def test_inplace_update_corner_cases_take_the_numpy_path(dt, npdt, tdt):
    for a, method, b in ((1.0, "div_", 0.0), (-1.0, "div_", 0), (3e38, "mul_", 10.0),
                         (0.0, "div_", 0.0), (1.0, "add_", 2 ** 60), (1.0, "mul_", True)):
        x = tapegrad.tensor(a, dtype=dt)
        getattr(x, method)(b)
        ref = getattr(torch.tensor(a, dtype=tdt), method)(b)
        got = float(x.item())
        assert got == ref.item() or math.isnan(got) and math.isnan(ref.item())
    # shapes that broadcast are refused as torch refuses them
    x = tapegrad.tensor(1.0, dtype=dt)
    with pytest.raises(RuntimeError):
        x.add_(tapegrad.tensor([1.0, 2.0], dtype=dt))
    # another dtype: cast as torch does
    x = tapegrad.tensor(1.5, dtype=dt)
    x.mul_(tapegrad.tensor(3, dtype=tapegrad.int64))
    assert x.item() == 4.5 and x.dtype is dt


def test_inplace_update_of_a_leaf_is_seen_by_its_next_use():
    w = tapegrad.tensor(2.0, requires_grad=True)
    (w * 3.0).backward()
    with tapegrad.no_grad():
        w -= 0.5 * w.grad
    assert w.item() == 0.5
    (w * w).backward()
    assert w.grad.item() == 3.0 + 1.0
    # a leaf changed after use: backward refuses, as torch
    y = w * w
    with tapegrad.no_grad():
        w.sub_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("dt, npdt, tdt", DTYPES)
@pytest.mark.parametrize("k", [3, 12])       # below and above engine._BULK_LEAVES
@pytest.mark.parametrize("nd_leaf", [False, True])
def test_one_element_leaf_gradients_as_torch(dt, npdt, tdt, k, nd_leaf):
    """k one-element leaves (0-d and (1,)-shaped, one array-backed), with or without an n-d
    leaf on the tape; two steps, so the second accumulates into float- and array-backed
    `.grad`s."""
    rng = np.random.default_rng(k)
    vals = rng.uniform(-1, 1, k).tolist()

    def build(mod, cast):
        ps = [mod.tensor(v if i % 3 else [v], dtype=cast, requires_grad=True)
              for i, v in enumerate(vals)]
        return ps, mod.tensor([0.5, -0.25], dtype=cast, requires_grad=True)

    def loss(ps, c, with_c):
        y = ps[0] * 0.5
        for p in ps[1:]:
            y = (y * p).tanh() + p * 0.25
        if with_c:
            y = y + (c * ps[1]).sum()
        return y.sum()

    (tps, tc), (rps, rc) = build(tapegrad, dt), build(torch, tdt)
    tps[0].detach().numpy()   # an array-backed one-element leaf (memory shared)
    assert type(tps[0]._v) is not float
    for step in range(2):
        loss(tps, tc, nd_leaf).backward()
        loss(rps, rc, nd_leaf).backward()
        for x, y in zip(tps + [tc] * nd_leaf, rps + [rc] * nd_leaf):
            assert x.grad.dtype is dt and tuple(x.grad.shape) == tuple(y.grad.shape)
            # float32: tapegrad's scalar path computes in double, torch in float
            np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(),
                                       rtol=1e-12 if dt is tapegrad.float64 else 1e-5)
            g = x.grad.numpy()
            assert g.dtype == npdt   # and its value is representable in that dtype
            assert np.array_equal(g.astype(np.float64).astype(npdt), g)


@pytest.mark.parametrize("k", [3, 12])
def test_leaf_with_two_entries_and_a_leaf_on_two_tapes(k):
    """A leaf changed in place between two uses has two leaf entries, whose gradients add
    up; a leaf used on two tapes (the second importing the first's graph) gets the sum."""
    ps = [tapegrad.tensor(0.1 * (i + 1), dtype=tapegrad.float64, requires_grad=True)
          for i in range(k)]
    ts = [torch.tensor(0.1 * (i + 1), dtype=torch.float64, requires_grad=True) for i in range(k)]
    a = ps[0] * 2.0          # saves nothing of ps[0]: changing it later is allowed
    for p in ps[1:]:
        a = a + p * p
    with tapegrad.no_grad():
        ps[0].add_(0.0)      # its next use records a second leaf entry
    (a * ps[0]).backward()
    ta = ts[0] * 2.0
    for p in ts[1:]:
        ta = ta + p * p
    with torch.no_grad():
        ts[0].add_(0.0)
    (ta * ts[0]).backward()
    for x, y in zip(ps, ts):
        assert math.isclose(x.grad.item(), y.grad.item(), rel_tol=1e-14)
    # two tapes: the first sealed (full), the second continues from its result
    for x in ps:
        x.grad = None
    h = ps[0] * ps[1]
    for p in ps[2:]:
        h = h + p
    tapegrad.tape.STATE.tape.sealed = True
    tapegrad.tape.STATE.tape = tapegrad.tape.CLOSED
    z = ps[0] * 3.0 + ps[1]     # a new tape: these leaves get entries there too
    (z * h).backward()
    ts = [t.detach().requires_grad_() for t in ts]
    ht = ts[0] * ts[1]
    for p in ts[2:]:
        ht = ht + p
    ((ts[0] * 3.0 + ts[1]) * ht).backward()
    for x, y in zip(ps, ts):
        assert math.isclose(x.grad.item(), y.grad.item(), rel_tol=1e-14)


# k=1 takes the numpy cast, which warns (test_differential's strict xfail
# test_no_numpy_warnings_on_float32_overflow); k=12 the bulk read, which does not
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("k", [1, 12])
def test_leaf_gradient_past_float32_range_is_inf(k):
    for mod in (tapegrad, torch):
        ps = [mod.tensor(1e30, requires_grad=True) for _ in range(k)]
        y = ps[0] * ps[0] * 1e10
        for p in ps[1:]:
            y = y + p * -1e39   # a gradient past float32's range
        y.backward()
        assert ps[0].grad.item() == math.inf
        assert all(p.grad.item() == -math.inf for p in ps[1:])


def test_a_step_of_0d_parameters_makes_no_per_parameter_numpy_calls(monkeypatch):
    """Counting calls, not time: the update never takes the numpy path (Tensor._assign), and
    the backward reads the leaves' gradients without a per-leaf array (engine._collect /
    _Sweep.grad_of), however many parameters."""
    from tapegrad import engine
    calls = {"assign": 0, "collect": 0, "grad_of": 0}

    def counting(name, fn):
        def wrapper(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapper
    monkeypatch.setattr(T.Tensor, "_assign", counting("assign", T.Tensor._assign))
    monkeypatch.setattr(engine, "_collect", counting("collect", engine._collect))
    monkeypatch.setattr(engine._Sweep, "grad_of", counting("grad_of", engine._Sweep.grad_of))
    # the update is done whole by inplace._update_scalar, not the general in-place path
    monkeypatch.setattr(T.Tensor, "_inplace", counting("inplace", T.Tensor._inplace))
    calls["inplace"] = 0
    for k in (20, 200):
        ps = [tapegrad.tensor(0.01 * i, requires_grad=True) for i in range(k)]
        for _ in range(2):
            loss = ps[0] * 1.0
            for p in ps[1:]:
                loss = loss + (p * 0.5).tanh()
            loss.backward()
            with tapegrad.no_grad():
                for p in ps:
                    p -= 0.1 * p.grad
                    p.grad = None
    assert calls == {"assign": 0, "collect": 0, "grad_of": 0, "inplace": 0}


@pytest.mark.parametrize("dt, npdt, tdt", DTYPES)
@pytest.mark.parametrize("method, ufunc", METHODS)
def test_inplace_update_of_aliases_and_results_as_torch(dt, npdt, tdt, method, ufunc):
    """The updates the whole-update shortcut leaves to the general path: a view or a
    detach()ed alias (their base sees the change), a recorded result changed under no_grad
    (its graph then refuses a backward), another dtype's operand, grad mode on."""
    def run(mod, kind):
        d = {tapegrad: dt, torch: tdt}[mod]
        w = mod.tensor([1.5], dtype=d, requires_grad=True)
        out = []
        with mod.no_grad():
            if kind == "view":
                base = mod.tensor([2.0, 3.0], dtype=d)
                x = base[0]
                getattr(x, method)(0.75)
                out += [base.tolist(), x._version, base._version]
            elif kind == "detached":
                src = mod.tensor(2.0, dtype=d)
                x = src.detach()
                getattr(x, method)(0.75)
                out += [src.item(), src._version]
            elif kind == "other dtype":
                x = mod.tensor(2.0, dtype=d)
                getattr(x, method)(mod.tensor(3, dtype=mod.int64))
                out += [x.item(), x.dtype == d]
        if kind == "result":
            y = (w * 2.0).sum()
            with mod.no_grad():
                getattr(y, method)(0.75)
            out.append(y.item())
            try:
                y.backward()
            except RuntimeError as e:
                out.append("modified by an inplace operation" in str(e))
        if kind == "grad mode on":
            x = mod.tensor(2.0, dtype=d)
            getattr(x, method)(w.sum())
            out += [x.item(), x.requires_grad, type(x.grad_fn).__name__]
        return out
    for kind in ("view", "detached", "other dtype", "result", "grad mode on"):
        assert run(tapegrad, kind) == run(torch, kind), kind


@pytest.mark.parametrize("dt, npdt, tdt", DTYPES)
def test_first_grads_of_many_scalar_leaves_as_torch(dt, npdt, tdt):
    """The first `.grad`s of many 0-d leaves (autograd._stage_fresh_scalars): reached leaves
    get a new tensor each (torch's dtype, shape, version and flags), a leaf with an entry the
    root does not reach, one recorded after the root and one never used get none, and a leaf
    whose requires_grad was turned off after its use takes the general path, as torch.
    (Each leaf is used once: torch sums two gradients of one leaf in place, which moves its
    `.grad`'s _version to 1; tapegrad's stays 0, on every path: a known gap.)"""
    vals = [0.1 * (i + 1) - 0.45 for i in range(14)]

    def run(mod, d):
        ps = [mod.tensor(v, dtype=d, requires_grad=True) for v in vals]
        loss = ps[0] * 1.5
        for p in ps[1:10]:
            loss = loss + (p * 0.5).tanh()   # (one use each: see below)
        ps[10] * 2.0                 # an entry the root does not reach
        loss = loss * 1.0
        ps[11] * 3.0                 # an entry recorded after the root
        loss.backward()
        out = []
        for p in ps:
            g = p.grad
            out.append(None if g is None else (g.item(), g.dtype == d, tuple(g.shape),
                                               g._version, g.requires_grad, g.is_leaf))
        out.append(len({id(p.grad) for p in ps[:10]}))   # ten distinct new tensors
        ps[1].requires_grad_(False)   # (now a plain tensor: the general path's collection)
        loss = ps[0] * ps[2] + ps[1]
        for p in ps[3:12]:
            loss = loss + p
        for p in ps:
            if p.requires_grad:
                p.grad = None
        loss.backward()
        out.append([None if p.grad is None else p.grad.item() for p in ps])
        return out
    got, want = run(tapegrad, dt), run(torch, tdt)
    assert [type(g) for g in got] == [type(w) for w in want]
    for g, w in zip(got[:14], want[:14]):
        if g is not None:
            assert g[1:] == w[1:] and math.isclose(g[0], w[0], rel_tol=1e-6)
            assert g[0] == float(npdt(g[0]))   # a value of its dtype
    assert got[14] == want[14] == 10
    assert [g is None for g in got[15]] == [w is None for w in want[15]]
    np.testing.assert_allclose([g or 0.0 for g in got[15]], [w or 0.0 for w in want[15]],
                               rtol=1e-6)


def test_first_grads_of_scalar_leaves_round_in_one_cast(monkeypatch):
    """Counting calls, not time: a step's first `.grad`s of many float32 0-d leaves are
    rounded by one numpy cast and staged in one loop, not through the per-leaf rounding and
    the general staging loop (autograd._round32, _stage_each); a second backward, which
    accumulates into them, still takes that path."""
    from tapegrad.autograd import api
    calls = {"round32": 0, "stage_each": 0}

    def counting(name, fn):
        def wrapper(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapper
    monkeypatch.setattr(api, "_round32", counting("round32", api._round32))
    monkeypatch.setattr(api, "_stage_each", counting("stage_each", api._stage_each))
    gc.collect()   # (earlier tests' hooked leaves in cycles: the short path declines then)
    ps = [tapegrad.tensor(0.01 * i, requires_grad=True) for i in range(50)]

    def step():
        loss = ps[0] * 1.0
        for p in ps[1:]:
            loss = loss + (p * 0.5).tanh()
        loss.backward()
    step()
    assert calls == {"round32": 0, "stage_each": 0}
    step()
    assert calls["stage_each"] == 1


@pytest.mark.parametrize("dt, npdt, tdt", DTYPES)
def test_operator_update_of_a_0d_leaf_in_one_frame_as_torch(dt, npdt, tdt, monkeypatch):
    """`p -= lr * p.grad` / `p += ...` of a float-held 0-d leaf (or Parameter) under no_grad:
    done by the operator itself (inplace._no_grad_update's operator), not through
    _update_scalar / _scalar_result, with torch's bits and versions (a float32 result past
    its range: inf); an operand of another dtype and a (1,)-shaped one still take the
    general path, as torch."""
    from tapegrad import inplace
    calls = []
    for name in ("_update_scalar", "_scalar_result"):
        real = getattr(inplace, name)
        monkeypatch.setattr(inplace, name,
                            lambda *a, real=real, name=name: calls.append(name) or real(*a))

    took = []   # per case: the calls of _update_scalar / _scalar_result it made

    def run(mod, d):
        out = []
        for v, g in ((0.1, 0.3), (1.0 / 3.0, 2.0 / 7.0), (-1e-40, 7e-46), (3.3e38, -3e38)):
            for make in (lambda x: mod.tensor(x, dtype=d, requires_grad=True),
                         lambda x: mod.nn.Parameter(mod.tensor(x, dtype=d))):
                p = make(v)
                n = len(calls)
                with mod.no_grad():
                    p -= 0.05 * mod.tensor(g, dtype=d)   # (3.3e38: past float32's range)
                    p += mod.tensor(g, dtype=d)
                if mod is tapegrad:
                    took.append(len(calls) - n)
                out.append((p.item(), p._version, p.dtype == d, p.requires_grad))
        p = mod.tensor(0.5, dtype=d, requires_grad=True)
        with mod.no_grad():
            p -= mod.tensor(0.25, dtype=mod.float64 if d == mod.float32 else mod.float32)
            try:
                p += mod.tensor([0.125], dtype=d)   # (a 0-d p: no room for the broadcast)
            except RuntimeError as e:
                out.append(str(e))
        out.append((p.item(), p._version))
        return out
    assert run(tapegrad, dt) == run(torch, tdt)
    assert took == [0] * 8


def test_first_uses_on_a_tape_enter_leaves_and_imports_directly(monkeypatch):
    """The fast path enters a leaf (or a tensor of an older tape) on first use through
    Tape.leaf_node / import_node itself, not through tape.input_node (and a float-held
    leaf's entry not through Tape._push_input: two frames once per 0-d parameter per step); the gradients are torch's, through every
    operand position: a number, both tensors, reflected and unary ops, and an import."""
    from tapegrad import _fastpath
    fail = lambda *a: pytest.fail("input_node / _push_input")   # noqa: E731
    real = tapegrad.tape.Tape._push_input
    monkeypatch.setattr(_fastpath, "input_node", fail, raising=False)
    monkeypatch.setattr(tapegrad.tape.Tape, "_push_input", lambda tape, op, t: fail() if (
        op == tapegrad.tape.OP_LEAF) else real(tape, op, t))

    def run(mod, cut):
        a, b, c, d, e = (mod.tensor(v, dtype=mod.float64, requires_grad=True)
                         for v in (0.3, -0.7, 1.1, 0.4, 2.0))
        h = a * 2.0 + 3.0 * b      # number operands, reflected
        h = c * h - d.tanh()       # tensors: a new leaf on either side, unary
        if cut:   # (a new tape: h becomes an import there, e a leaf again)
            cut()
        y = (h * e + 0.5 / e + a) * h
        y.backward()
        return [t.grad.item() for t in (a, b, c, d, e)]

    def new_tape():
        tapegrad.tape.STATE.tape.sealed = True
        tapegrad.tape.STATE.tape = tapegrad.tape.CLOSED
    for cut in (None, new_tape):
        got = run(tapegrad, cut)
        want = run(torch, None)
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_first_grads_staged_then_given_since_accumulate(monkeypatch):
    """A leaf that got a `.grad` between the staging of the many-leaf first `.grad`s and
    their commit (another thread's backward committed in between) has the staged gradient
    added to it, as the general path adds; the other leaves take their staged tensors, as
    torch's values."""
    from tapegrad.autograd import api
    vals = [0.05 * i - 0.3 for i in range(12)]

    def run(mod):
        ps = [mod.tensor(v, requires_grad=True) for v in vals]
        loss = ps[0] * 1.5
        for p in ps[1:]:
            loss = loss + (p * 0.5).tanh()
        return ps, loss

    gc.collect()   # (earlier tests' hooked leaves in cycles: the short path declines then)
    ps, loss = run(tapegrad)
    stage = api._stage_swept

    def staged_then_given(*args):
        got = stage(*args)
        ps[3].grad = tapegrad.tensor(2.0)   # (in place of another thread's commit)
        return got
    monkeypatch.setattr(api, "_stage_swept", staged_then_given)
    loss.backward()
    tps, tloss = run(torch)
    tloss.backward()
    with torch.no_grad():
        tps[3].grad += 2.0
    assert [p.grad.item() for p in ps] == pytest.approx([p.grad.item() for p in tps], rel=1e-6)
