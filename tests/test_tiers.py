"""The n-d kernels' tiers (tapegrad.tiers, codegen.TIERED): a kernel holds the ops of its tier
and the lower ones, hands the rest of a call to a higher tier's kernel at the first entry of
one, and a process that never meets one never calls (so never compiles) that kernel."""
import re

import numpy as np
import pytest
import torch

import tapegrad as tg
from tapegrad import codegen, reached, tiers
from tapegrad._jit import K, kernels
from tapegrad.ops import BY_CODE

NAMES = ("sweep", "sweep_core", "forward_from", "forward_core")


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
    assert level == 1 or _branch_codes(full) & above   # (e.g. atan2 has a branch of its own)
    assert all(codegen.tier(op) == 1 for op in BY_CODE if op.code >= codegen.OUTLINE_FROM
               and op.kind in ("unary", "binary"))    # appended rows: no lower tier grows


@pytest.fixture
def calls(monkeypatch):
    """The kernel tiers called, in order, with tiers' state as in a fresh process (a call
    that stopped for a piece not compiled yet, then resumed in the same kernel, is not
    listed: whether one is depends on what this process met before)."""
    monkeypatch.setattr(tiers, "_level", {"sweep": 0, "forward": 0})
    monkeypatch.setattr(tiers, "_called", set())
    seen = []
    for name in NAMES:
        def spy(*args, fn=getattr(kernels(), name), name=name):
            r = fn(*args)
            if r > -2 - 2 * len(args[0]):
                seen.append(name)
            return r
        monkeypatch.setattr(K, name, spy, raising=False)
    return seen


def _graph(lib, w, x, full):
    h = (x @ w).tanh()                       # a host or matmul entry, then a core op
    if full:                                 # cat (a piece) and log1p (a full-only row)
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
    assert calls == ["sweep_core"]
    assert x0.grad.item() == pytest.approx(np.sin(0.5) + 0.5 * np.cos(0.5), rel=1e-6)
    del calls[:]
    w, x = _inputs(tg)
    _graph(tg, w, x, full).backward()
    for got, want in zip((w.grad, x.grad), _torch_grads(full)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    # the root (mean) is a reduce, a piece of tier 0; log1p is of tier 1
    assert calls == ["sweep_core"] + ["sweep"] * full
    assert tiers._level["sweep"] == full
    del calls[:]   # from then on the highest tier needed runs first
    (x0.sin() * x0).backward()
    assert calls == [("sweep_core", "sweep")[full]]


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
    assert calls == ["sweep_core", "sweep"]
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.cos(np.log1p([0.3, 0.4]).sum())
                               / (1.0 + np.array([0.3, 0.4])), rtol=1e-14)


@pytest.mark.parametrize("prefix", [0, 3000])
def test_a_first_backward_starts_in_the_highest_tier_it_reaches(calls, monkeypatch, prefix):
    """Until a process has called the tier-0 sweep or needed more, a backward starts from the
    highest tier of the entries it reaches (tiers.expect_sweep), so a first graph with an
    elementwise root calls (compiles) that tier's kernel alone.  With a long prefix of
    dropped graphs the reached part is swept as local streams (engine._sweep_reached), and
    unreached entries of a higher tier do not count."""
    monkeypatch.setattr(reached, "MIN_WALK", 2048)   # (the walk from 3000 entries)
    x = tg.tensor([0.3, 0.4], requires_grad=True, dtype=tg.float64)
    for _ in range(prefix // 3):     # dropped graphs: a reduce and a full-only row
        x.log1p().sum() * 2.0
    ((x * x).sum() * 3.0).backward()                        # a reduce below the root
    assert calls == ["sweep_core"] and tiers._level["sweep"] == 0
    np.testing.assert_allclose(x.grad.numpy(), [6 * 0.3, 6 * 0.4], rtol=1e-15)
    tiers._called.clear()            # as a fresh process (the fixture restores tiers' state)
    del calls[:]
    (x.log1p().sum().sin() * 2.0).backward()                # and a full-only row
    assert calls == ["sweep"] and tiers._level["sweep"] == 1
    tiers._level["sweep"] = 0
    tiers._called.clear()
    del calls[:]
    x.grad = None
    (x * x * 3.0).backward(tg.ones(2, dtype=tg.float64))   # elementwise only: tier 0
    assert calls == ["sweep_core"] and tiers._level["sweep"] == 0
    np.testing.assert_array_equal(x.grad.numpy(), [6 * 0.3, 6 * 0.4])
    # sweep_core is compiled now: no more looking ahead (it would cost every backward ~3 us);
    # a graph that needs more resumes in the next tier
    del calls[:]
    (x.log1p().sum() * 3.0).backward()
    assert calls == ["sweep_core", "sweep"] and tiers._level["sweep"] == 1


@pytest.mark.parametrize("full", [False, True])
def test_replay_compiles_ahead_what_it_will_call(monkeypatch, full):
    """The first value_and_grad of a tape asks tapegrad._ahead for the very kernel and
    signature its reverse sweep then calls (else the child's compile would be wasted), after
    the pieces its forward and then its sweep compile, in the order they compile them (the
    child compiles from the end of the list, this process from its start)."""
    from numba import typeof
    from tapegrad import _ahead, _kindcall
    monkeypatch.setattr(tiers, "_level", {"sweep": 0, "forward": 0})
    started, called, filled = [], [], []
    monkeypatch.setattr(_ahead, "_checked", set())     # (as in a fresh process)
    monkeypatch.setattr(_ahead, "start", started.append)
    for name in NAMES:
        def spy(*args, fn=getattr(kernels(), name), name=name):
            r = fn(*args)
            if r > -2 - 2 * len(args[0]):    # (not a stop for a piece, resumed at once)
                called.append((name, tuple(typeof(a) for a in args)))
            return r
        monkeypatch.setattr(K, name, spy, raising=False)
    real = K.fill_piece
    monkeypatch.setattr(K, "fill_piece", lambda kernels, slot, dtype: filled.append(
        (kernels.PIECES[slot], _kindcall.piece_signature(kernels.PIECE_ARGS[slot], dtype)))
        or real(kernels, slot, dtype), raising=False)
    w, x = _inputs(tg)
    r = tg.record(lambda w, x: _graph(tg, w, x, full), w.detach(), x.detach())
    table = _kindcall.TABLES[np.dtype(r.dtype)]
    saved = table.copy()
    table[:] = 0             # as in a process that has met none of the kinds yet
    try:
        for _ in range(2):
            r.value_and_grad(w.detach().numpy(), x.detach().numpy())
    finally:
        table[:] = np.where(table != 0, table, saved)
    sweeps = [c for c in called if c[0].startswith("sweep")]
    assert len(sweeps) == 2 and len(started) == 1
    assert started[0] == filled + sweeps[:1]
    assert {n.split("_")[0] for n, _ in filled} == {"forward", "sweep"}


def test_the_pieces_a_sweep_meets_compile_while_a_child_compiles_the_sweep(monkeypatch):
    """Before waiting for a child compiling the sweep kernel (the last kernel of its list,
    which it compiles first), tiers takes (tapegrad._ahead.adopt) and compiles the pieces of
    that list the sweep will call; the sweep then meets none missing.  A piece not on the
    list is compiled when met, as without a child."""
    from tapegrad import _ahead, _kindcall
    table = _kindcall.TABLES[np.dtype(np.float64)]
    slot = _piece_slot("sweep", tg.ops.OPS["cumsum"].code)
    met = [K.PIECES[s] for s in K.piece_slots(
        K, np.array([tg.ops.OPS[n].code for n in ("cumsum", "sin", "mul", "sum")]), ("sweep",))]
    unlisted = "sweep_binary_rows"
    assert unlisted in met and "sweep_scan" in met
    events = []
    monkeypatch.setattr(tiers, "_level", {"sweep": 0, "forward": 0})
    for name in met + ["sweep_core"]:
        if name != unlisted:
            monkeypatch.setitem(_ahead.pending, name, None)
    monkeypatch.setattr(_ahead, "adopt", lambda name: events.append(
        (name, table[slot] != 0)) or _ahead.pending.pop(name, None))
    saved = int(table[slot])
    table[slot] = 0
    try:
        x = tg.tensor([0.3, 0.4, 0.5], dtype=tg.float64, requires_grad=True)
        (x.cumsum(0).sin() * 2.0).sum().backward()
    finally:
        table[slot] = table[slot] or saved
    assert events[-1] == ("sweep_core", True) and ("sweep_scan", False) in events
    assert [n for n, _ in events[:-1]] == [n for n in met if n != unlisted]
    tx = torch.tensor([0.3, 0.4, 0.5], dtype=torch.float64, requires_grad=True)
    (tx.cumsum(0).sin() * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-14)


def test_a_create_graph_lists_and_takes_only_the_pieces_of_its_graph(monkeypatch):
    """The first create_graph of a process lists for the child (tiers.sweep_ahead_of_tape)
    the pieces of the entries its root reaches, not those of other graphs on the tape, and
    its result's backward takes before the sweep kernel only pieces of that list: the
    others' (cumsum's, max's) were compiled for nothing, by the child or here."""
    from tapegrad import _ahead
    listed, adopted = [], []

    def start(jobs):
        listed[:] = [name for name, _ in jobs]
        for name in listed:
            _ahead.pending[name] = None
    monkeypatch.setattr(tiers, "_level", {"sweep": 0, "forward": 0})
    monkeypatch.setattr(tiers, "_called", set())
    monkeypatch.setattr(_ahead, "_checked", set())
    monkeypatch.setattr(_ahead, "pending", {})
    monkeypatch.setattr(_ahead, "start", start)
    monkeypatch.setattr(_ahead, "adopt", lambda name: adopted.append(name)
                        or _ahead.pending.pop(name, None))
    z = tg.ones(5, dtype=tg.float64, requires_grad=True)
    other = z.cumsum(0).max() * 2.0      # (on the tape, never differentiated)
    f = lambda x, lib: x.reshape(1).sum() * x.sin() + x.exp() ** 2
    x = tg.tensor(0.5, dtype=tg.float64, requires_grad=True)
    g, = tg.autograd.grad(f(x, tg), x, create_graph=True)
    g.backward()
    assert listed == ["sweep_reduce", "sweep_reshape", "sweep_core"], listed
    assert adopted == listed, adopted
    tx = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    tg_, = torch.autograd.grad(f(tx, torch), tx, create_graph=True)
    tg_.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-14)
    assert other.requires_grad


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
    for name in ("sweep", "sweep_core"):
        assert all(not sig[17].mutable for sig in getattr(K, name).signatures), name


# ---- the structural kinds' pieces, called by address (tapegrad._kindcall) ------------------------
def _piece_slot(face, opcode):
    return int((K.OP_SWEEP_PIECE if face == "sweep" else K.OP_FORWARD_PIECE)[opcode])


def test_every_structural_kind_has_its_pieces_in_the_tables():
    """Each kind's sweep and forward pieces have a slot, as has each differentiable
    elementwise row of tier 0 (codegen.OP_PIECE; outlined rows and FULL_OPS have none); each
    piece takes what the kernels' one branch per face passes (_kindcall.PARAMS)."""
    from tapegrad import _kindcall, ops
    for op in BY_CODE:
        structural = any(kind == op.kind for kind, _ in codegen._kind_pieces("sweep"))
        elementwise = op.kind in ("unary", "binary", "where") and not codegen._outlined(op) \
            and codegen.tier(op) == 0
        assert (_piece_slot("sweep", op.code) >= 0) == (structural or elementwise), op.name
        if structural:
            slot = _piece_slot("forward", op.code)
            assert slot < 0 or K.PIECES[slot].startswith("forward_"), op.name
    assert len(K.PIECES) == len(K.PIECE_ARGS) <= _kindcall.SLOTS
    for name, params in zip(K.PIECES, K.PIECE_ARGS):
        face = "sweep" if name.startswith("sweep_") else "forward"
        assert params[-1] == ("adj" if face == "sweep" else "vals"), name
        assert params in [_kindcall.PARAMS[face + op, listed]
                          for op in ("", "_op") for listed in (False, True)], name
    assert ops.OPS["cat"].code in np.flatnonzero(K.OP_LISTED)


def test_a_piece_is_compiled_when_a_kernel_first_meets_its_kind(monkeypatch):
    """A kernel that meets an entry whose piece's address is 0 returns to Python, which
    compiles the piece (fill_piece) and resumes from that entry: the gradient is torch's."""
    from tapegrad import _kindcall
    table = _kindcall.TABLES[np.dtype(np.float64)]
    cumsum = tg.ops.OPS["cumsum"].code
    slot = _piece_slot("sweep", cumsum)
    filled = []
    real = K.fill_piece

    def spy(kernels, s, dtype):
        filled.append((kernels.PIECES[s], np.dtype(dtype).name))
        return real(kernels, s, dtype)
    x = tg.tensor([0.3, 0.4, 0.5], dtype=tg.float64, requires_grad=True)
    (x.cumsum(0).sin() * 2.0).sum().backward()   # (the graph's other pieces: compiled)
    x.grad = None
    monkeypatch.setattr(K, "fill_piece", spy, raising=False)
    saved = int(table[slot])
    table[slot] = 0          # as in a process that has not met the kind yet
    try:
        (x.cumsum(0).sin() * 2.0).sum().backward()
    finally:
        if table[slot] == 0:
            table[slot] = saved
    assert filled == [("sweep_scan", "float64")]
    assert table[slot] != 0
    tx = torch.tensor([0.3, 0.4, 0.5], dtype=torch.float64, requires_grad=True)
    (tx.cumsum(0).sin() * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_drivers_find_every_piece_of_their_tape_compiled(monkeypatch, dtype):
    """The batch and Jacobian drivers cannot stop for a piece: every piece their tape's kinds
    call is compiled before (fill_pieces), in the tape's arena dtype."""
    from tapegrad import _kindcall
    table = _kindcall.TABLES[np.dtype(dtype)]
    cumsum = tg.ops.OPS["cumsum"].code
    slots = [_piece_slot("sweep", cumsum), _piece_slot("forward", cumsum)]
    saved = [int(table[s]) for s in slots]
    table[slots] = 0
    try:
        f = lambda x: (x.cumsum(0).sin() * 2.0).sum()
        r = tg.record(f, tg.ones(3, dtype=getattr(tg, dtype)))
        X = np.array([[0.3, 0.4, 0.5], [0.1, 0.2, 0.3]], dtype=dtype)
        values, (grads,) = r.value_and_grad_batch(X)
        assert all(table[s] != 0 for s in slots)
    finally:
        for s, a in zip(slots, saved):
            if table[s] == 0:
                table[s] = a
    for i in range(2):
        tx = torch.tensor(X[i].astype(np.float64), requires_grad=True)
        y = f(tx)
        y.backward()
        np.testing.assert_allclose(values[i], y.item(), rtol=1e-6 if dtype == "float32" else 1e-14)
        np.testing.assert_allclose(grads[i], tx.grad.numpy(), rtol=1e-5 if dtype == "float32" else 1e-14)


@pytest.mark.parametrize("driver", ["batch", "jacobian", "jacobian_rows", "arena_step"])
def test_drivers_take_their_pieces_from_a_child_compiling_them(monkeypatch, driver):
    """The pieces compiled before a driver (tiers.fill_pieces) go through the claim the
    kernels' pieces go through (tapegrad._ahead.adopt): one a child compiling it claimed is
    waited for, not compiled here a second time."""
    from tapegrad import _ahead
    from tapegrad.trainstep import ArenaStep
    adopted = []
    for name in K.PIECES:
        monkeypatch.setitem(_ahead.pending, name, None)
    monkeypatch.setattr(_ahead, "adopt", lambda name: adopted.append(name)
                        or _ahead.pending.pop(name, None))
    f = lambda x: (x.cumsum(0).sin() * 2.0).sum()
    X = np.array([[0.3, 0.4, 0.5], [0.1, 0.2, 0.3]])
    r = tg.record(f, tg.ones(3, dtype=tg.float64))
    if driver == "batch":
        got = r.value_and_grad_batch(X)[1][0][1]
    elif driver == "jacobian":
        got = r.jacobian(X[1])[0]
    elif driver == "jacobian_rows":
        got = tg.autograd.functional.jacobian(f, tg.tensor(X[1])).numpy()
    else:
        vals, adj = r._arena()
        vals[r.in_offs[0]:r.in_offs[0] + 3] = X[1]
        ArenaStep(r, [], r.outputs[0][0]).run(vals, adj)
        got = adj[r.in_offs[0]:r.in_offs[0] + 3]
    assert {"forward_scan", "sweep_scan"} <= set(adopted), adopted
    tx = torch.tensor(X[1], requires_grad=True)
    f(tx).backward()
    np.testing.assert_allclose(got, tx.grad.numpy(), rtol=1e-14)


def test_a_piece_given_a_non_contiguous_array_raises():
    """call_piece passes arrays of layout "A" as the contiguous arrays a piece indexes; one
    that is not contiguous is refused in the kernel, not read wrongly."""
    from numba import njit
    from tapegrad import _kindcall
    K.fill_pieces(K, np.array([tg.ops.OPS["cumsum"].code]), np.float64)
    slot = _piece_slot("forward", tg.ops.OPS["cumsum"].code)

    @njit
    def run(vals, step):
        z = np.zeros(1, np.int64)
        f = _kindcall.piece_at(slot, vals)
        v = vals[::step]
        _kindcall.call_piece(f, (0, 0, -1, 0, 1, z, z + 1, np.zeros((1, 1), np.int64), z, z - 1, z,
                                 np.zeros(1), v))
        return v[0]
    assert run(np.arange(4.0), 1) == 0.0
    with pytest.raises(RuntimeError, match="non-contiguous"):
        run(np.arange(4.0), 2)


def test_a_piece_called_with_other_types_does_not_compile():
    """call_piece passes its arguments as the piece was compiled (piece_signature): a call
    whose streams or constants have another dtype would be read with another layout, so it
    is a compile error, not a call."""
    from numba import njit
    from numba.core.errors import TypingError
    from tapegrad import _kindcall

    @njit
    def run(vals, imm):
        z = np.zeros(1, np.int64)
        _kindcall.call_piece(0, (0, 0, -1, 0, 1, z, z + 1, np.zeros((1, 1), np.int64), z, z - 1, z,
                                 imm, vals))
    with pytest.raises((TypeError, TypingError), match="tapegrad: a kind piece is called with"):
        run(np.arange(4.0), np.zeros(1, np.float32))      # imm must be float64
    with pytest.raises((TypeError, TypingError), match="tapegrad: a kind piece is called with"):
        run(np.arange(4, dtype=np.int64), np.zeros(1))    # an integer arena
