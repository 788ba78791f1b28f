"""The n-d tape's streams: backward cost follows the reached graph (counted in Python calls,
not time), host entries (the sweep pauses for BLAS), grad mode keeps the open tape, cat as
one entry (more in test_operands.py), and the facts the op table derives (saved buffers, create_graph's bound)."""
import gc
import re
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _fastpath, codegen, engine, ops, reached, scratch, tiers
from tapegrad import tape as tapemod
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.kinds import matmul as matmul_kind
from tapegrad.ndops import _binary, FORMULA_NS
from tapegrad.tape import OPCODE

import test_ops


def python_calls(fn):
    """How many Python-level function calls `fn()` makes (C calls not counted)."""
    count = [0]

    def prof(frame, event, arg):
        if event == "call":
            count[0] += 1
    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count[0]


def mlp_loss(X, Ws):
    h = X
    for W in Ws[:-1]:
        h = (h @ W).tanh()
    return (h @ Ws[-1]).pow(2).mean()


def walk_short_prefixes(monkeypatch, dropped):
    """With `dropped` graphs before it, a backward takes the reached path (reached.walk) from
    a prefix of 64 entries: these tests drop a few dozen small graphs, not thousands of
    entries' worth (reached.MIN_WALK)."""
    if dropped:
        monkeypatch.setattr(reached, "MIN_WALK", 64)


@pytest.fixture
def long_prefix(monkeypatch):
    # These tests need hundreds of dropped n-d graphs on one tape; sealing by saved bytes
    # (tape.MAX_SAVED_BYTES) would move them to fresh tapes.  Long prefixes still occur (graphs
    # that save little, 0-d graphs), and are what the walks must not pay for.
    monkeypatch.setattr(tapemod, "MAX_SAVED_BYTES", 1 << 40)
    # (and the walk from 2048 entries on: a few hundred dropped graphs, not the 16k entries
    # from which a plain backward walks, reached.MIN_WALK)
    monkeypatch.setattr(reached, "MIN_WALK", 2048)


def test_backward_python_work_does_not_grow_with_dropped_graphs(long_prefix):
    rng = np.random.default_rng(0)
    X = tg.tensor(rng.standard_normal((32, 2)))
    Ws = [tg.tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 16), (16, 16), (16, 1)]]
    mlp_loss(X, Ws).backward()   # warm: every kernel a backward calls is loaded
    counts = []
    # twice each: the first long tape's backward grows the reused workspace (tapegrad.reached)
    # once; from then on the counts must be equal.  (300 graphs dropped at least: a backward
    # reaching 1/8 of the prefix or more, or one of a prefix shorter than reached.MIN_WALK,
    # sweeps the tape's own streams, another path.)
    for dropped in (300, 700, 300, 700):
        for _ in range(dropped):
            mlp_loss(X, Ws).item()   # graphs dropped without backward stay on the tape
        loss = mlp_loss(X, Ws)
        assert loss._tape.n > max(5 * dropped, reached.MIN_WALK)
        counts.append(python_calls(lambda: loss.backward()))
    assert counts[2] == counts[3], counts


def test_backward_kernels_see_only_the_reached_entries(monkeypatch, long_prefix):
    """The reach walk, the gather and layout, the value fill, the sweep and the release visit
    the reached entries only: after 700 graphs dropped on the same tape, they see as many
    entries as after 300 (counted from the kernels' arguments, not timed; a prefix shorter
    than reached.MIN_WALK is read in place)."""
    from tapegrad._jit import K, kernels
    seen = []
    measures = {"reach_list": lambda args: args[-1][0],        # counts[0]: entries reached
                "sweep": lambda args: args[14] + 1,             # from `start` down to 0
                "release_listed": lambda args: len(args[0]),    # the listed entries
                "gather_layout": lambda args: args[0],          # entries gathered, laid out
                "fill_reached": lambda args: args[0]}           # values filled
    measures["sweep_core"] = measures["sweep"]   # (tiers: whichever sweep tier runs; this
    monkeypatch.setattr(tiers, "_level", {"sweep": 0, "forward": 0})   # graph's is core)
    for name, measure in measures.items():
        fn = getattr(kernels(), name)

        def spy(*args, fn=fn, name=name.replace("_core", ""), measure=measure):
            out = fn(*args)
            seen.append((name, int(measure(args))))
            return out
        monkeypatch.setattr(K, name, spy, raising=False)
    rng = np.random.default_rng(0)
    X = tg.tensor(rng.standard_normal((32, 2)))
    Ws = [tg.tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 16), (16, 16), (16, 1)]]
    lengths, grads = [], []
    for dropped in (300, 700):
        for _ in range(dropped):
            mlp_loss(X, Ws).item()
        loss = mlp_loss(X, Ws)
        assert loss._tape.n > max(5 * dropped, reached.MIN_WALK)
        seen.clear()
        loss.backward()
        # nothing written per prefix entry either: the operand pointers of a tape without
        # operand lists were completed up to the root, 8 bytes per entry of the prefix
        assert loss._tape.nds.argn == 0
        lengths.append(sorted(seen))
        grads.append([W.grad.numpy().copy() for W in Ws])
        for W in Ws:
            W.grad = None
    assert lengths[0] == lengths[1] and len(lengths[0]) == 5, lengths
    assert dict(lengths[0])["sweep"] == 11   # 3 leaves, X, 3 matmuls, 2 tanh, pow, mean
    for g0, g1 in zip(*grads):
        np.testing.assert_array_equal(g0, g1)


def test_a_few_thousand_dropped_entries_take_the_short_path(monkeypatch):
    """A plain backward behind a few thousand entries of dropped graphs (an n-d model's tape
    seals at MAX_SAVED_BYTES long before 16k) is swept in place by the short path
    (engine.run_backward_root), with no walk: below reached.MIN_WALK reading the prefix costs
    less than the walk; past it the short path sweeps the walked part as local streams, not
    the general path.  Its gradients equal the walked path's and those
    of the same graph on a tape of its own, bit for bit; its release frees what it ran only,
    so a second backward fails as torch's and the dropped graphs keep their saved arrays.
    autograd.grad's inputs behind the same prefix are walked (reached.MIN_WALK_INPUTS)."""
    from tapegrad.autograd import api
    # A hooked leaf or a multi-grad hook still alive sends every backward to the general path
    # (hooks._LEAF, hooks.MULTI): earlier tests in this process leave such objects in
    # reference cycles (a hook's closure holding its leaf) until the collector runs.
    gc.collect()
    monkeypatch.setattr(tapemod, "MAX_SAVED_BYTES", 1 << 40)   # (300 graphs on one tape)
    walks, general = [], []
    walk, run_backward = reached.walk, api.run_backward
    monkeypatch.setattr(reached, "walk", lambda *a: walks.append(1) or walk(*a))
    monkeypatch.setattr(api, "run_backward",
                        lambda *a, **k: general.append(1) or run_backward(*a, **k))
    rng = np.random.default_rng(7)
    X = tg.tensor(rng.standard_normal((32, 2)))
    Ws = [tg.tensor(rng.standard_normal(s), requires_grad=True)
          for s in [(2, 16), (16, 16), (16, 1)]]
    mlp_loss(X, Ws).backward()   # (a process's first backward takes the general path)
    for W in Ws:
        W.grad = None
    grads = {}
    for path in ("alone", "short", "walked"):
        if path == "walked":
            monkeypatch.setattr(reached, "MIN_WALK", 64)
        for _ in range(300 if path != "alone" else 0):
            mlp_loss(X, Ws).item()   # dropped without backward, on the same tape
        loss = mlp_loss(X, Ws)
        tape = loss._tape
        assert tape.n == 11 if path == "alone" else 2048 < tape.n < 4000, (path, tape.n)
        if path == "short":   # autograd.grad's inputs walk sooner (reached.MIN_WALK_INPUTS)
            del walks[:]
            grad_in, = tg.autograd.grad(loss, Ws[0], retain_graph=True)
            assert walks == [1], (path, walks)
        del walks[:], general[:]
        loss.backward()
        # (behind a prefix it walks, the short path sweeps the walked part: no general path)
        assert (walks, general) == ([1] if path == "walked" else [], []), (path, walks, general)
        grads[path] = [W.grad.numpy().copy() for W in Ws]
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()
        if path != "alone":   # (the dropped graphs' saved arrays: 2 tanh outputs, pow's input)
            nds = tape.nds
            kept = sum(a is not None for a in nds.objs[:nds.nobjs])
            assert kept >= 3 * 300, (path, kept)
        for W in Ws:
            W.grad = None
    for path in ("short", "walked"):
        for g, want in zip(grads[path], grads["alone"]):
            np.testing.assert_array_equal(g, want)
    np.testing.assert_array_equal(grad_in.numpy(), grads["alone"][0])


def _operand_graph(lib, x, y, w, keep):
    """A loss through every entry with an operand list or several outputs: split/chunk/unbind
    (`output` entries), cat of three, stack, where on a condition the graph computes and on a
    constant mask, and a matmul (a host entry under every_matmul_on_host)."""
    a, b = (x * 2.0).split([2, 3], dim=1)
    top, bottom = y.chunk(2, dim=0)
    u = lib.cat([b, y.cos(), b * y], dim=0)
    v = lib.where(u > 0.1, u, u * u)
    s = lib.stack([a, a.tanh(), y[:, :2]], dim=0)
    r = y.unbind(1)
    m = lib.where(keep, x, 0.5 * x) @ w
    return (v.sum() + (s ** 2).sum() + (r[0] * r[2]).sum() + (top * bottom).exp().sum()
            + m.sin().sum())


@pytest.mark.parametrize("host", [False, True])
def test_operand_lists_after_dropped_graphs_take_the_reached_path(monkeypatch, host):
    """cat/stack/where/split graphs recorded after many dropped graphs are swept as local
    streams (the reached path): gradients as torch's, for backward and autograd.grad, and the
    release frees what they saved, so a second backward fails as torch's."""
    torch = pytest.importorskip("torch")
    if host:
        monkeypatch.setattr(matmul_kind, "HOST_MIN_MACS", 1)
    monkeypatch.setattr(reached, "MIN_WALK", 2048)   # (80 graphs: ~2,500 entries)
    walked = []
    walk = reached.walk

    def spy(tape, n, roots):
        s = walk(tape, n, roots)
        walked.append(s is not None)
        return s
    monkeypatch.setattr(reached, "walk", spy)
    rng = np.random.default_rng(3)
    xv, yv, wv = rng.standard_normal((4, 5)), rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    keep = rng.standard_normal((4, 5)) > 0
    tx, ty, tw = (torch.tensor(v, requires_grad=True) for v in (xv, yv, wv))
    _operand_graph(torch, tx, ty, tw, torch.tensor(keep)).backward()
    x, y, w = (tg.tensor(v, requires_grad=True) for v in (xv, yv, wv))
    for _ in range(80):   # graphs dropped without backward, on the same tape
        _operand_graph(tg, x, y, w, tg.tensor(keep)).item()
    loss = _operand_graph(tg, x, y, w, tg.tensor(keep))
    assert loss._tape.n > max(30 * 80, reached.MIN_WALK)
    gx, gy = tg.autograd.grad(loss, [x, y], retain_graph=True)
    assert walked == [True]
    np.testing.assert_allclose(gx.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gy.numpy(), ty.grad.numpy(), rtol=1e-12, atol=1e-12)
    loss.backward()
    assert walked == [True, True]
    for t, tt in ((x, tx), (y, ty), (w, tw)):
        np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-12, atol=1e-12)
    before = [t.grad.numpy().copy() for t in (x, y, w)]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    for t, g in zip((x, y, w), before):
        np.testing.assert_array_equal(t.grad.numpy(), g)
    # the dropped graphs still hold their saved arrays: the release was the reached entries'
    nds = loss._tape.nds
    assert sum(a is not None for a in nds.objs[:nds.nobjs]) > 60


def test_backward_python_work_does_not_grow_with_scalar_prefix(monkeypatch):
    monkeypatch.setattr(reached, "MIN_WALK", 2048)   # (both lengths past it: one path)
    x = tg.tensor(0.5, requires_grad=True)
    v = tg.ones(3, requires_grad=True)
    counts = []
    # the first run warms up lazy imports, the first long one grows the reused workspace.
    # (600 steps at least: a prefix of fewer than reached.MIN_WALK entries is read in place,
    # without the walk's attempt, and a graph of up to reached.SMALL entries is swept as local
    # streams: other paths)
    for steps in (600, 5000, 600, 5000):
        y = tg.tensor(1.0)
        for _ in range(steps):
            y = y * 0.999 + x.sin() * 0.001
        y = y + (v * v).sum()       # one n-d op on a long scalar tape
        counts.append(python_calls(lambda: y.backward()))
    assert counts[2] == counts[3], counts


def test_release_after_the_tape_grew_during_the_commit():
    """The release reads the sweep's operand streams unless the tape's stream arrays were
    replaced since (another thread's ops grew it: the old arrays went to the pool): here the
    staging step records 3000 entries on the same tape, past its capacity."""
    x = tg.ones(3, requires_grad=True)
    e = x.exp()
    y = (x * e).sum()    # mul saves both operands: its second one, ib, is exp's output
    tape = y._tape
    cap = len(tape.op)
    grown = []

    def stage(found):
        for _ in range(3000):
            x.exp()                     # entries on the same open tape
        grown.append(len(tape.op) > cap)
        return found
    found = engine.run_backward([y], [1.0], False, stage=stage, publish=lambda staged: None)
    assert grown == [True]
    exp_entry = e._node
    assert tape.op[exp_entry] == ops.OPS["exp"].code and tape.freed[exp_entry] == 1
    assert tape.saved_array(exp_entry) is None   # released by exp's entry and mul's
    np.testing.assert_allclose(found[id(x)][1], 2 * np.e, rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_release_drops_arrays_of_reached_entries_only():
    x = tg.ones(5, requires_grad=True)
    dropped = (x * 3.0).exp().sum()    # saved exp output, never swept
    y = (x * x).sum()
    y.backward()
    nds = y._tape.nds
    assert dropped._tape is y._tape
    kept = [a for a in nds.objs[:nds.nobjs] if a is not None]
    # exp's output (and x, which `x * 3.0`'s entry holds) are still needed by `dropped`
    assert any(np.allclose(a, np.exp(3.0)) for a in kept)
    dropped.backward()
    assert all(a is None for a in nds.objs)


# ---- grad mode keeps the open tape -----------------------------------------------------------
def test_no_grad_blocks_do_not_cut_the_graph():
    x = tg.tensor(0.5, requires_grad=True)
    y = tg.tensor(1.0)
    tapes = set()
    for _ in range(50):
        y = y * 0.999 + x.sin() * 0.001
        tapes.add(y._tape)
        with tg.no_grad():
            z = y * 2.0             # not recorded
        assert not z.requires_grad
        with tg.set_grad_enabled(False):
            pass
    assert len(tapes) == 1
    y.backward()
    assert abs(x.grad.item() - np.cos(0.5) * (1 - 0.999 ** 50)) < 1e-6


def test_enable_grad_inside_no_grad_records_on_the_open_tape():
    x = tg.ones(3, requires_grad=True)
    y = x * 2.0
    with tg.no_grad():
        with tg.enable_grad():
            z = y.exp()
    assert z._tape is y._tape
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2.0) * np.ones(3))


def test_in_place_change_under_no_grad_is_seen_by_later_ops():
    x = tg.tensor([2.0, 3.0], requires_grad=True)
    y = x * 3
    with tg.no_grad():
        y.add_(1)
    (y * y).sum().backward()        # torch: saves y at its new version
    np.testing.assert_allclose(x.grad.numpy(), [42.0, 60.0])


# ---- host entries: matmul's VJP on BLAS between sweep segments --------------------------------
MATMUL_CASES = [c for c in test_ops.ALL if c[0] in ("dot", "mv", "mm", "bmm", "matmul")]


@pytest.fixture
def every_matmul_on_host(monkeypatch):
    monkeypatch.setattr(matmul_kind, "HOST_MIN_MACS", 1)


@pytest.mark.parametrize("name,cid,fn,shapes,dom,opts", MATMUL_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in MATMUL_CASES])
def test_host_matmul_gradients(every_matmul_on_host, name, cid, fn, shapes, dom, opts):
    xs = [tg.tensor(v, requires_grad=True) for v in test_ops._inputs(shapes, dom, 1)]
    out = fn(tg, *xs)
    tape = out._tape
    flagged = np.flatnonzero(tape.host_flags(tape.n))
    assert any(tape.op[e] == ops.OPS[name].code for e in flagged)
    assert gradcheck(lambda *a: fn(tg, *a), xs)
    assert gradgradcheck(lambda *a: fn(tg, *a), xs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_matmul_chain_against_torch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    vals = [rng.standard_normal(s).astype(dtype)
            for s in [(64, 100), (100, 50), (3, 40, 50), (3, 64, 7)]]
    res = []
    for m in (tg, torch):
        X = m.tensor(vals[0])                     # a constant operand: gets no gradient
        W1, B, C = (m.tensor(v, requires_grad=True) for v in vals[1:])
        h = (X @ W1).tanh()                       # mm
        z = (B @ h.t()).sin()                     # matmul, 3-d @ 2-d
        out = z.sum(0) @ h                        # mm of two non-leaves
        loss = (out * out).mean() + ((z @ C) ** 2).sum() * 1e-3   # batched matmul
        loss.backward()
        res.append([loss.detach().numpy()] + [t.grad.numpy() for t in (W1, B, C)])
    tol = dict(rtol=2e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    for p, q in zip(*res):
        np.testing.assert_allclose(p, q, **tol)


# Leaves only host matmuls read get their gradient from BLAS in their own dtype, outside the
# float64 arena (walks.arena_layout's offset -1, kinds.DIRECT): (loss, leaves fed directly)
DIRECT_CASES = {
    "one product": (lambda m, X, W, V: ((X @ W).tanh() @ V).pow(2).mean(), 2),
    "leaf in two products": (lambda m, X, W, V: ((X @ W) @ V).sum() + (X @ W).pow(2).sum(), 2),
    "leaf through a view": (lambda m, X, W, V: ((X @ W) @ (W.t() @ V)).sum(), 1),
    "leaf also read by a kernel op": (lambda m, X, W, V: ((X @ W).sum() + (W * W).sum()
                                                          + (X @ W @ V).mean()), 1),
    "both operands leaves": (lambda m, X, W, V: (W @ W).sum() + (X @ W @ V).sum(), 2),
}


@pytest.mark.parametrize("dropped", [0, 40], ids=["in place", "reached path"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(DIRECT_CASES))
def test_leaves_fed_by_host_products_skip_the_arena(every_matmul_on_host, monkeypatch, case,
                                                    dtype, dropped):
    torch = pytest.importorskip("torch")
    fn, n_direct = DIRECT_CASES[case]
    walk_short_prefixes(monkeypatch, dropped)
    rng = np.random.default_rng(3)
    vals = [rng.standard_normal(s).astype(dtype) for s in [(5, 6), (6, 6), (6, 3)]]
    fed = []
    monkeypatch.setattr(engine._Side, "add", lambda side, node, g, real=engine._Side.add:
                        fed.append(node) or real(side, node, g))
    res = []
    for m in (tg, torch):
        X = m.tensor(vals[0])
        W, V = (m.tensor(v, requires_grad=True) for v in vals[1:])
        for _ in range(dropped if m is tg else 0):    # graphs left on the tape: local streams
            (X @ W).sum().item()
        fn(m, X, W, V).backward()
        res.append([W.grad.numpy(), V.grad.numpy()])
        if m is tg:
            assert len(set(fed)) == n_direct
            grads = tg.autograd.grad(fn(m, X, W, V), [W, V])
            assert [g.dtype for g in grads] == [W.dtype, V.dtype] == [W.grad.dtype] * 2
            for g, t in zip(grads, (W, V)):
                np.testing.assert_array_equal(g.numpy(), t.grad.numpy())
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12)
    for p, q in zip(*res):
        np.testing.assert_allclose(p, q, **tol)


def test_host_entry_freed_twice_raises_and_changes_nothing(every_matmul_on_host):
    a = tg.ones(4, 4, requires_grad=True)
    y = (a @ a).sum()
    y.backward()
    before = a.grad.clone()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    np.testing.assert_array_equal(a.grad.numpy(), before.numpy())


def test_large_products_are_host_entries_small_ones_are_not():
    a = tg.ones(64, 64, requires_grad=True)
    b = tg.ones(4, 4, requires_grad=True)
    big, small = a @ a, b @ b
    assert big._tape.host_flags(big._tape.n)[big._node] == 1
    assert small._tape.host_flags(small._tape.n)[small._node] == 0


# ---- cat / stack: one N-operand entry -------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_gradients_against_torch(dim):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    vals = [rng.standard_normal(s) for s in [(3, 4), (3, 4), (3, 4)]]
    res = []
    for m in (tg, torch):
        a, b = (m.tensor(v, requires_grad=True) for v in vals[:2])
        c = m.tensor(vals[2])                                   # constant block
        out = m.cat([a, b * b, c, a.exp()], dim)
        w = m.tensor(rng.standard_normal(out.shape) if m is tg else res[0][-1])
        (out * w).sum().backward()
        res.append([out.detach().numpy(), a.grad.numpy(), b.grad.numpy(), w.numpy()])
    for p, q in zip(*res):
        np.testing.assert_allclose(p, q, rtol=1e-12)


@pytest.mark.parametrize("dropped", [0, 40], ids=["in place", "reached path"])
@pytest.mark.parametrize("dim,dtype", [(0, "float32"), (1, "float64"), (-1, "float32")])
def test_large_cat_is_a_host_entry(monkeypatch, dim, dtype, dropped):
    """From cat.HOST_MIN_ELEMS output elements an eager cat/stack is a host entry: leaves it alone
    feeds get their block in their dtype outside the arena, the other operands (a non-leaf,
    a leaf also read by a kernel op, a constant, operands past ia/ib) through the arena;
    gradients as torch's, for backward and autograd.grad."""
    torch = pytest.importorskip("torch")
    from tapegrad.kinds import cat as cat_kind
    monkeypatch.setattr(cat_kind, "HOST_MIN_ELEMS", 1)
    rng = np.random.default_rng(4)
    walk_short_prefixes(monkeypatch, dropped)
    vals = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(4)]

    def loss(m, a, b, c, w):
        out = m.cat([a, b * b, c, b, a.exp()], dim)
        return (out * w).sum() + (b * 2).sum() + (m.stack([a, b * 3], dim) ** 2).sum()
    res = []
    for m in (tg, torch):
        a, b = (m.tensor(v, requires_grad=True) for v in vals[:2])
        c = m.tensor(vals[2])
        w = m.tensor(np.tile(vals[3], (1, 5) if dim else (5, 1)))
        if m is tg:
            for _ in range(dropped):
                m.cat([a, c], dim).sum().item()
            y = loss(m, a, b, c, w)
            codes = (ops.OPS["cat"].code, ops.OPS["stack"].code)
            cat_entries = [e for e in range(y._tape.n) if y._tape.op[e] in codes]
            assert len(cat_entries) == 2 + dropped
            assert all(y._tape.host_flags(y._tape.n)[e] for e in cat_entries)
            ga, gb = tg.autograd.grad(loss(m, a, b, c, w), [a, b])
            assert ga.dtype == a.dtype
        else:
            y = loss(m, a, b, c, w)
        y.backward()
        res.append([a.grad.numpy(), b.grad.numpy()])
        if m is tg:
            np.testing.assert_array_equal(ga.numpy(), a.grad.numpy())
            np.testing.assert_array_equal(gb.numpy(), b.grad.numpy())
            assert a.grad.dtype == a.dtype
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12)
    for p, q in zip(*res):
        np.testing.assert_allclose(p, q, **tol)


def test_cat_host_entries_are_not_recorded_for_replay(monkeypatch):
    from tapegrad.kinds import cat as cat_kind
    monkeypatch.setattr(cat_kind, "HOST_MIN_ELEMS", 1)
    x = tg.ones(3, 2, requires_grad=True)
    rec = tg.record(lambda x: tg.cat([x, x * 2]).sum(), x)
    assert not rec.host.any()
    value, grad = rec.value_and_grad(np.ones((3, 2), np.float32))
    np.testing.assert_allclose(grad[0], np.full((3, 2), 3.0))


def test_cat_records_constant_size_params():
    a = tg.ones(1000, 100, requires_grad=True)
    out = tg.cat([a, a * 2.0])
    assert out._tape.nds.nparams == 2 + 2   # outer, inner, then one size per input


def test_stack_of_scalars_and_one_element_cat():
    x = tg.tensor(1.5, requires_grad=True)
    y = tg.tensor([2.0], requires_grad=True)
    assert gradcheck(lambda x, y: tg.stack([x, x * y.sum(), y[0]]), [x.double(), y.double()])
    assert gradgradcheck(lambda x, y: tg.cat([(x * x).reshape(1), y * x]) ** 2,
                         [x.double().detach().requires_grad_(), y.double().detach().requires_grad_()])


def test_cat_replays():
    def f(a, b):
        return (tg.cat([a * a, b, tg.ones(2)]) * tg.arange(7.0)).sum()
    tape = tg.record(f, tg.ones(3), tg.ones(2))
    a, b = np.array([1.0, 2.0, 3.0], np.float32), np.array([4.0, 5.0], np.float32)
    v, (ga, gb) = tape.value_and_grad(a, b)
    assert v == pytest.approx((np.array([1, 4, 9, 4, 5, 1, 1]) * np.arange(7.0)).sum())
    np.testing.assert_allclose(ga, 2 * a * np.arange(3.0))
    np.testing.assert_allclose(gb, [3.0, 4.0])


# ---- facts derived from the op table ----------------------------------------------------------
# Rows whose saved set differs from what their formulas read, and why.
SAVES_OVERRIDES = {
    "copy_slices": "its mask stays with the tape (torch's CopySlices saves nothing)",
    "tril": "its mask stays with the tape (torch's TrilBackward0 saves nothing)",
    "triu": "its mask stays with the tape (torch's TriuBackward0 saves nothing)",
    "sgn": "torch's SgnBackward0 saves self and result (a second backward fails there too)",
}


def test_saves_are_what_the_formulas_read():
    for op in ops.BY_CODE:
        if op.grads and op.name not in SAVES_OVERRIDES:
            assert set(op.saves) == set(ops.formula_reads(op)), op.name


def test_opcodes_fit_the_opcode_stream():
    assert len(ops.BY_CODE) <= np.iinfo(OPCODE).max
    t = tg.ones(2, requires_grad=True) * 2.0
    assert t._tape._arrays[0].dtype == OPCODE


IN_PLACE = {"zero", "fill", "copy", "fill_tensor"}   # recorded by in-place methods only
# recorded by a traced integer cast only (test_replay.py)
TRACED_ONLY = {"to_int", "to_int_wrap", "to_uint8", "int_wrap", "int_to_uint8"}


@pytest.mark.parametrize("name", [op.name for op in ops.BY_CODE if op.kind in ("unary", "binary")
                                  and op.grads and op.name not in IN_PLACE | TRACED_ONLY])
def test_create_graph_appends_within_the_derived_bound(name):
    from tapegrad import _kernels
    a = tg.tensor(0.7, requires_grad=True)
    b = tg.tensor(1.3, requires_grad=True)
    op = ops.OPS[name]
    out = _apply(op, a, b)
    assert out._tape.op[out._node] == op.code
    tape = out._tape
    n0 = tape.n
    tg.autograd.grad(out, [a, b] if op.kind == "binary" else [a], create_graph=True,
                     allow_unused=True)
    reached = tape.reached([out._node], out._node + 1)
    bound = _kernels.EMIT_BOUND[tape._arrays[0][:out._node + 1][reached != 0]].sum()
    assert tape.n - n0 <= bound


def test_create_graph_of_where_rows_appends_within_the_derived_bound():
    """where's gradients of a constant seed have two constant branches: emit_where then
    appends a const node before its entry, which the bound counts.  (It did not: this graph's
    create_graph wrote past the end of the tape's arrays and the process aborted.)"""
    from tapegrad import _kernels
    x = tg.tensor(0.5, requires_grad=True)
    y = tg.tensor(1.5, requires_grad=True)
    c = x > 0
    roots = [tg.where(c, x, y) for _ in range(2000)]
    tape = roots[0]._tape
    n0, last = tape.n, roots[-1]._node + 1
    gx, gy = tg.autograd.grad(roots, [x, y], create_graph=True)
    assert (gx.item(), gy.item()) == (2000.0, 0.0)
    reached = tape.reached([t._node for t in roots], last)
    bound = _kernels.EMIT_BOUND[tape._arrays[0][:last][reached != 0]].sum()
    assert tape.n - n0 <= bound and tape.n <= tape.cap


def _apply(op, a, b):
    x, y = a * 1.0, b * 1.0   # non-leaf operands: nothing folds
    table = {"add": lambda: x + y, "sub": lambda: x - y, "mul": lambda: x * y,
             "div": lambda: x / y, "pow": lambda: x ** y, "pow_scalar": lambda: x ** 2.5,
             "neg": lambda: -x, "round_decimals": lambda: x.round(decimals=1),
             "polygamma": lambda: tg.polygamma(1, x),
             # torch.special's rows that are no Tensor methods (as in torch)
             "xlog1py": lambda: tg.special.xlog1py(x, y), "entr": lambda: tg.special.entr(x),
             "ndtri": lambda: tg.special.ndtri(x), "log_ndtr": lambda: tg.special.log_ndtr(x),
             "i0e": lambda: tg.special.i0e(x), "i1": lambda: tg.special.i1(x),
             "i1e": lambda: tg.special.i1e(x), "erfcx": lambda: tg.special.erfcx(x),
             # relu's gradient, recorded as create_graph records it (no Tensor method)
             "threshold_backward": lambda: FORMULA_NS["threshold_backward"](x, y),
             # prelu's gradient at its kink, likewise
             "straight_through": lambda: FORMULA_NS["straight_through"](x, y),
             # leaky_relu's and hardtanh's gradients, likewise
             "depends_on": lambda: FORMULA_NS["depends_on"](x, y),
             # a pooling's gradient as create_graph records it (engine._reading_inputs)
             "input_edge": lambda: _binary(ops.OPS["input_edge"].code, x, y),
             # remainder's and fmod's gradients, likewise
             "div_floor": lambda: _binary(ops.OPS["div_floor"].code, x, y),
             "div_trunc": lambda: _binary(ops.OPS["div_trunc"].code, x, y),
             "div_trunc_float32": lambda: _binary(ops.OPS["div_trunc_float32"].code, x, y),
             # (fmod of these float32 tensors records fmod_float32; fmod's row is float64's)
             "fmod": lambda: _binary(ops.OPS["fmod"].code, x, y),
             "fmod_float32": lambda: x.fmod(y),
             # var's and std's squared deviations (inside their groups)
             "sq_deviation": lambda: _binary(ops.OPS["sq_deviation"].code, x, y),
             # the activations that are unary rows (nn.functional only, as in torch)
             "leaky_relu": lambda: tg.nn.functional.leaky_relu(-x, 0.2),
             "leaky_relu_result": lambda: tg.nn.functional.leaky_relu_(-x, 0.2),
             "elu": lambda: tg.nn.functional.elu(-x), "silu": lambda: tg.nn.functional.silu(x),
             "gelu": lambda: tg.nn.functional.gelu(x, approximate="tanh"),
             "softplus": lambda: tg.nn.functional.softplus(x),
             "bce_with_logits": lambda: tg.nn.functional.binary_cross_entropy_with_logits(
                 x, y, reduction="none"),
             "bce": lambda: tg.nn.functional.binary_cross_entropy(
                 x.sigmoid(), y.sigmoid(), reduction="none"),
             # (a 0-d input's norm is |x|, as torch's; given a dim, torch squares it)
             "sqrt0": lambda: x.std(), "norm_sqrt": lambda: x.norm(dim=0),
             "hardswish": lambda: tg.nn.functional.hardswish(x),
             "hardsigmoid": lambda: tg.nn.functional.hardsigmoid(x),
             "mish": lambda: tg.nn.functional.mish(x), "selu": lambda: tg.nn.functional.selu(-x),
             "celu": lambda: tg.nn.functional.celu(-x, 0.5),
             "logsigmoid": lambda: tg.nn.functional.logsigmoid(x),
             # hardtanh's two entries, each alone (their generated recorders)
             "hardtanh_min": lambda: _fastpath.op_hardtanh_min(x, 0.8),
             "hardtanh_max": lambda: _fastpath.op_hardtanh_max(x, 0.5),
             "smooth_l1": lambda: _fastpath.op_smooth_l1(x, 0.5),
             "huber": lambda: _fastpath.op_huber(x, 1.5),
             # a random draw's zero gradients (NormalBackward3: both parameters)
             "draw": lambda: tg.normal(x, y)}
    if op.kind == "binary" and op.name not in table:   # atan2, hypot: methods taking other
        return getattr(x, op.name)(y)
    return table.get(op.name, lambda: getattr(x, op.name)())()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_replay_runs_host_entries_between_kernel_segments(every_matmul_on_host, dtype):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6, 5)).astype(dtype)

    def loss(W1, B, v):
        h = (tg.tensor(X) @ W1).tanh()          # mm with a baked constant
        z = (B @ h.t()).sin()                   # matmul, 3-d @ 2-d
        return ((z @ h).sum(0) @ v).pow(2).sum()    # bmm-style, mv

    args = [rng.standard_normal(s).astype(dtype) for s in [(5, 4), (2, 3, 4), (4,)]]
    tape = tg.record(loss, *[tg.tensor(a) for a in args])
    assert tape.host.sum() >= 3
    new = [a + 0.1 for a in args]
    value, grads = tape.value_and_grad(*new)
    ts = [tg.tensor(a, requires_grad=True) for a in new]
    out = loss(*ts)
    out.backward()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(value, out.item(), rtol=tol)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(tape(*new), out.item(), rtol=tol)


def test_where_next_functions_as_torch():
    torch = pytest.importorskip("torch")

    def names(fn):
        return [(type(f).__name__ if f is not None else None, i) for f, i in fn.next_functions]
    for build in (lambda m, x: m.where(x > 2, x, x * 2), lambda m, x: m.where(x > 2, x, 0.0),
                  lambda m, x: m.where(x > 2, 1.0, x)):
        got = [names(build(m, m.tensor([1.0, 3.0], requires_grad=True)).grad_fn)
               for m in (tg, torch)]
        assert got[0] == got[1]


def test_tape_files_keep_host_flags_and_cat_params(tmp_path, every_matmul_on_host):
    def f(W, s):
        h = tg.stack([s, s * 2.0, s * s])          # one-element blocks
        return ((tg.ones(3, 4) @ W).tanh().sum(0) * h.sum()).sum()
    tape = tg.record(f, tg.ones(4, 5), tg.tensor(0.5))
    assert tape.host.any()
    tape.save(tmp_path / "t.npz")
    back = tg.load_tape(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.host, tape.host)
    W, s = np.full((4, 5), 0.3, np.float32), np.float32(0.7)
    v1, g1 = tape.value_and_grad(W, s)
    v2, g2 = back.value_and_grad(W, s)
    assert v1 == v2
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("r, span", [(0, 1), (1, 1), (7, 50), (16, 16), (17, 40), (300, 2000),
                                     (300, 300 * 64 + 1000), (2000, 2000)])
def test_reached_list_ordering_matches_a_sort(r, span):
    """walks.order_marked (the reach walk's ordering; its source is compiled into the
    kernels) on each of its paths: insertion (r <= 16), scan of the marked span, heapsort."""
    from tapegrad import walks
    rng = np.random.default_rng(r + span)
    picked = rng.choice(span, size=r, replace=False).astype(np.int64)
    mark = np.zeros(span + 5, np.uint8)
    mark[picked] = 1
    out = np.concatenate([picked, np.full(3, -7, np.int64)])
    walks.order_marked(mark, out, r)
    assert out[:r].tolist() == sorted(picked.tolist())
    assert out[r:].tolist() == [-7, -7, -7]


# ---- large full reductions: host entries handing their one value over as a broadcast ---------
# (perf8) With reduce.HOST_MIN_ELEMS and cat.HOST_MIN_ELEMS at 1 every full sum/mean and every
# cat is a host entry: a cat only such reductions (and host products) read gets no arena space
# (walks.arena_layout, off -1), its gradient is the reduction's broadcast in the side, and the
# leaves get fills in their dtype.  Cases: (loss of (m, a, b, W), retain the cat's grad).
HOST_SUM_CASES = {
    "cat then sum": lambda m, a, b, W: m.cat([a, b]).sum(),
    "cat then mean": lambda m, a, b, W: m.cat([a, b], 1).mean(),
    "two reductions of one cat": lambda m, a, b, W: (lambda c: c.sum() * 3 + c.mean())(
        m.cat([a, b * 2])),
    "cat read by a kernel op too": lambda m, a, b, W: (lambda c: c.sum() + (c * c).sum())(
        m.cat([a, b])),
    "cat read by a product too": lambda m, a, b, W: (lambda c: c.mean() + (c @ W).sum())(
        m.cat([a, b])),
    "sum of a leaf": lambda m, a, b, W: a.sum() * 2 + b.mean(),
}


@pytest.mark.parametrize("dropped", [0, 40], ids=["in place", "reached path"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(HOST_SUM_CASES))
def test_host_reductions_hand_a_broadcast(monkeypatch, every_matmul_on_host, case, dtype,
                                          dropped):
    torch = pytest.importorskip("torch")
    from tapegrad.kinds import cat as cat_kind, reduce as reduce_kind
    monkeypatch.setattr(cat_kind, "HOST_MIN_ELEMS", 1)
    monkeypatch.setattr(reduce_kind, "HOST_MIN_ELEMS", 1)
    fn = HOST_SUM_CASES[case]
    walk_short_prefixes(monkeypatch, dropped)
    rng = np.random.default_rng(5)
    vals = [rng.standard_normal(s).astype(dtype) for s in [(3, 4), (3, 4), (4, 2)]]
    res = []
    for m in (tg, torch):
        a, b, W = (m.tensor(v, requires_grad=True) for v in vals)
        if m is tg:
            for _ in range(dropped):
                m.cat([a, b]).sum().item()
            y = fn(m, a, b, W)
            sums = [e for e in range(y._tape.n) if y._tape.op[e] in
                    (ops.OPS["sum"].code, ops.OPS["mean"].code)]
            assert sums and all(y._tape.host_flags(y._tape.n)[e] for e in sums)
            grads = tg.autograd.grad(fn(m, a, b, W), [a, b])
        else:
            y = fn(m, a, b, W)
        y.backward()
        res.append([y.detach().numpy()] + [t.grad.numpy() for t in (a, b)])
        if m is tg:
            for g, t in zip(grads, (a, b)):
                assert g.dtype == t.grad.dtype == t.dtype
                assert t.grad.numpy().flags.writeable
                np.testing.assert_array_equal(g.numpy(), t.grad.numpy())
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12)
    for p, q in zip(*res):
        np.testing.assert_allclose(p, q, **tol)


def test_cat_between_host_entries_is_off_the_arena_unless_a_root(monkeypatch):
    """The cat of `cat(...).sum()` takes its gradient from the sum's broadcast (no arena
    space); a retained or seeded cat still gets the right gradient."""
    torch = pytest.importorskip("torch")
    from tapegrad.kinds import cat as cat_kind, reduce as reduce_kind
    monkeypatch.setattr(cat_kind, "HOST_MIN_ELEMS", 1)
    monkeypatch.setattr(reduce_kind, "HOST_MIN_ELEMS", 1)
    res = []
    for m in (tg, torch):
        a, b = m.ones(2, 3, requires_grad=True), m.ones(2, 3, requires_grad=True)
        c = m.cat([a, b * 2])
        c.retain_grad()
        y = c.sum() * 3
        if m is tg:
            tape = y._tape
            arrays = tape.sweep_arrays(tape.n, [y._node])
            assert arrays.off[c._node] == -1
            scratch.give(arrays.bufs)
        m.autograd.backward([y, c], [m.tensor(1.0), m.full((4, 3), 0.5)])
        res.append([c.grad.numpy(), a.grad.numpy(), b.grad.numpy()])
    for p, q in zip(*res):
        np.testing.assert_allclose(p, q)


def test_large_sums_are_host_entries_not_while_recording():
    x = tg.ones(200, 100, requires_grad=True)
    big, small = x.sum(), x[:2].sum()
    assert big._tape.host_flags(big._tape.n)[big._node] == 1
    assert small._tape.host_flags(small._tape.n)[small._node] == 0
    rec = tg.record(lambda x: x.sum(), x)
    assert not rec.host.any()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_full_sums_take_one_path_bit_for_bit(dtype):
    # sum()/mean() of a large contiguous tensor is recorded by _reduce's fast path; its value
    # is the general path's (dim = every dim: tapegrad._sums' float64 total, rounded once),
    # and a transposed (non-contiguous) operand, which takes the general path (numpy's own
    # summation order), agrees to round-off
    rng = np.random.default_rng(3)
    a = rng.standard_normal((300, 200)).astype(dtype)
    x = tg.tensor(a, requires_grad=True)
    for mean in (False, True):
        fast = x.mean() if mean else x.sum()
        every = x.mean(dim=(0, 1)) if mean else x.sum(dim=(0, 1))
        assert fast.item() == every.item()
        np.testing.assert_allclose(fast.item(), a.astype(np.float64).sum() / (a.size if mean else 1),
                                   rtol=1e-6 if dtype == "float32" else 1e-12)
        assert fast._tape.host_flags(fast._tape.n)[fast._node] == 1
        assert fast.grad_fn.name() == ("MeanBackward0" if mean else "SumBackward0")
        fast.backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.full(a.shape, 1 / a.size if mean else 1,
                                                               dtype))
        x.grad = None
    xt = tg.tensor(a.T.copy(), requires_grad=True).t()
    np.testing.assert_allclose(xt.sum().item(), x.sum().item(), rtol=1e-6)


def test_create_graph_kernel_has_one_call_site_per_emit_kind():
    """record_backward interprets every row's VJP program, calling each emit kernel once: a
    row added to the table adds instructions, not Numba code to type."""
    src = open(codegen.TARGET).read()
    body = src.split("\ndef record_backward(", 1)[1].split("\n@njit", 1)[0]
    calls = re.findall(r"\bemit_(bin|un|where)\(", body)
    assert sorted(calls) == ["bin", "un", "where"]


def test_every_row_create_graph_records_has_a_vjp_program():
    """Each operand with a gradient formula has a program and a result register; rows
    appended from OUTLINE_FROM have none (the engine declines them)."""
    from tapegrad import _kernels
    for op in ops.BY_CODE:
        formulas = codegen._vjp_formulas(op)
        roles = len(formulas) if formulas and not codegen._outlined(op) else 0
        assert (_kernels.VJP_RESULT[op.code] >= 0).sum() == roles, op.name
        assert _kernels.VJP_START[op.code, 0] <= _kernels.VJP_START[op.code, 1] \
            <= _kernels.VJP_START[op.code, 2], op.name


def test_create_graph_stops_at_the_end_of_the_tape(monkeypatch):
    """Were EMIT_BOUND to undercount, record_backward stops before writing past the tape's
    arrays: an error, and the tape as it was."""
    from tapegrad._jit import K
    monkeypatch.setattr(K, "EMIT_BOUND", np.zeros_like(K.EMIT_BOUND))   # (what engine reads)
    monkeypatch.setattr(tapemod, "_POOL", [])   # (a new tape, its capacity by doubling)
    monkeypatch.setattr(tapemod.STATE, "tape", tapemod.CLOSED)
    x = tg.tensor(0.5, requires_grad=True)
    y = tg.tensor(1.5, requires_grad=True)
    c = x > 0
    roots = [tg.where(c, x, y) for _ in range(2000)]
    tape = roots[0]._tape
    n0, cap = tape.n, tape.cap
    assert n0 == 2 + 2 * len(roots) and 5 * len(roots) > cap - n0   # (~6 per root: no fit)
    with pytest.raises(RuntimeError, match="internal error"):
        tg.autograd.grad(roots, [x, y], create_graph=True)
    assert (tape.n, tape.cap) == (n0, cap)
    assert (tape._arrays[2][n0:cap] == -1).all() and (tape._arrays[3][n0:cap] == 0.0).all()
    assert tg.autograd.grad(roots[0], x)[0].item() == 1.0


class _Twice(tg.autograd.Function):   # a host entry (its VJP runs in Python)
    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        return g * 2.0


def _scalar_prefix(n=50):
    x = tg.tensor(0.3, requires_grad=True)
    y = tg.tensor(1.0)
    for _ in range(n):
        y = y * 0.9 + x.sin()
    return x, y


def _nd_after(x, y):
    return y + (tg.ones(3, requires_grad=True) ** 2).sum(), None


def _some_inputs(x, y):
    return y * (tg.ones(3, requires_grad=True) * y).sum(), [x]


def _scalar_leaf_in_nd(x, y):
    return (tg.ones(4) * x).sum() + y, None


def _function_on_scalar(x, y):
    return _Twice.apply(y) + (tg.ones(2, requires_grad=True) * y).sum(), None


def _root_in_prefix(x, y):
    tg.ones(2, requires_grad=True) * 3.0   # n-d streams for the tape, not in the loss
    return y, None


def _stacked_by_a_host_cat(x, y):
    # a cat of 2^14 elements is a host entry (kinds.cat), direct: it reads the prefix's y, x
    return (tg.stack([y, x] * 8192) * tg.linspace(0, 1, 16384)).sum(), None


# Graphs whose n-d streams start after a run of one-element entries (NdStreams.plain > 0):
# (x, y) of _scalar_prefix -> (loss, inputs for autograd.grad or None for backward)
PLAIN_PREFIX_CASES = {"n-d op after the scalars": _nd_after, "only some inputs run": _some_inputs,
                      "scalar leaf read by an n-d op": _scalar_leaf_in_nd,
                      "a Function on a scalar": _function_on_scalar,
                      "root in the prefix": _root_in_prefix,
                      "read by a direct host entry": _stacked_by_a_host_cat}


@pytest.mark.parametrize("case", list(PLAIN_PREFIX_CASES))
def test_one_element_prefix_is_one_block_with_the_same_gradients(monkeypatch, case):
    """arena_layout lays a tape's one-element prefix (below NdStreams.plain) out as one
    block, entry e at counts[4] + e, unless a direct host entry reads it (then entry by
    entry, counts[4] = -1): the gradients equal, bit for bit, those of the entry-by-entry
    layout of every entry (plain = 0)."""
    real = tapemod.K.arena_layout

    def run(plain_as):
        blocks = []

        def layout(*args):
            args = args[:-1] + ((args[-1] if plain_as is None else plain_as),)
            real(*args)
            blocks.append(int(args[-2][4]))   # counts (the argument before `plain`)
        monkeypatch.setattr(tapemod.K, "arena_layout", layout)
        x, y = _scalar_prefix()
        loss, inputs = PLAIN_PREFIX_CASES[case](x, y)
        assert loss._tape.nds.plain >= y._node   # the scalar prefix is below plain
        if inputs is None:
            loss.backward()
            grads = [x.grad]
        else:
            grads = tg.autograd.grad(loss, inputs)
        return [g.numpy().copy() for g in grads], blocks
    got, blocks = run(None)
    want, general = run(0)
    assert general and all(b == -1 for b in general)
    assert blocks and (blocks[0] >= 0) == (case != "read by a direct host entry")
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_backward_from_a_root_deep_inside_the_one_element_prefix():
    """A root far below NdStreams.plain sweeps a prefix shorter than plain (n < plain): the
    layout stays within its n entries and the gradient is the scalar tape's."""
    def steps(nd_streams):
        x = tg.tensor(0.3, requires_grad=True)
        y = tg.tensor(1.0)
        ys = []
        for _ in range(200):
            y = y * 0.9 + x.sin()
            ys.append(y)
        if nd_streams:
            tg.ones(2, requires_grad=True) * 3.0
            assert y._tape.nds.plain >= y._node
        return x, ys[5]
    x, root = steps(True)
    assert root._node < root._tape.nds.plain // 10
    x2, root2 = steps(False)
    want = tg.autograd.grad(root2, [x2])[0].item()
    assert tg.autograd.grad(root, [x], retain_graph=True)[0].item() == want
    root.backward()
    assert x.grad.item() == want


def test_plain_prefix_gradients_match_the_scalar_tape():
    """The same scalar loss through a tape with n-d streams after its prefix (adding a zero
    n-d term) and through the scalar tape: equal gradients."""
    x, y = _scalar_prefix()
    gx, = tg.autograd.grad(y, [x])
    x2, y2 = _scalar_prefix()
    loss = y2 + (tg.zeros(3, requires_grad=True) * 0.0).sum()
    assert loss._tape.nds is not None and loss._tape.nds.plain >= y2._node
    gx2, = tg.autograd.grad(loss, [x2])
    assert gx2.item() == gx.item()


def test_a_growing_tape_reuses_its_walk_workspace(monkeypatch):
    """autograd.grad(..., retain_graph=True) in a loop that records on the same open tape:
    each call's prefix is longer, and the walk's workspace (reached.Reached) is made with
    room to grow, not once per call (~15 allocations each)."""
    monkeypatch.setattr(tapemod, "MAX_SAVED_BYTES", 1 << 40)   # (1100 graphs on one tape)
    made = []
    real = reached.Reached.__init__

    def counted(self, *args):
        made.append(args[0])
        real(self, *args)
    monkeypatch.setattr(reached.Reached, "__init__", counted)
    monkeypatch.setattr(reached._FREE, "spaces", [])   # (none left by earlier tests)
    gen = tg.Generator().manual_seed(0)   # (values of its own: the check is not order-dependent)
    W = tg.randn(8, 8, generator=gen, requires_grad=True)
    X = tg.randn(4, 8, generator=gen)
    for i in range(1100):
        y = (X * (i + 1.0) @ W).tanh().sum()
        g, = tg.autograd.grad(y, W, retain_graph=True)
    assert y._tape.n > 2 * reached.MIN_WALK_INPUTS   # the calls took the walk
    want = (1.0 - (X * 1100.0 @ W).tanh() ** 2)
    np.testing.assert_allclose(g.numpy(), (X * 1100.0).numpy().T @ want.detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert 1 <= len(made) <= 4, made


def test_grad_inputs_behind_a_long_prefix_are_marked_where_the_roots_reach(monkeypatch):
    """autograd.grad's inputs behind a long prefix (a walk's sweep): which entries lead to
    them is marked over the entries the roots reach (walks.mark_leads' `order`), not the
    whole prefix; the gradient is the same."""
    monkeypatch.setattr(tapemod, "MAX_SAVED_BYTES", 1 << 40)   # (1100 graphs on one tape)
    gen = tg.Generator().manual_seed(0)   # (values of its own: the check is not order-dependent)
    W = tg.randn(8, 8, generator=gen, requires_grad=True)
    X = tg.randn(4, 8, generator=gen)
    for i in range(1100):
        y = (X * (i + 1.0) @ W).tanh().sum()
    assert y._tape.n > reached.MIN_WALK_INPUTS
    walked = []
    for name in ("mark_leads", "operand_leads"):
        real = getattr(engine.K, name)
        monkeypatch.setattr(engine.K, name,
                            lambda *args, real=real: walked.append(len(args[0])) or real(*args))
    g, = tg.autograd.grad(y, W)
    assert len(walked) == 2 and 0 < max(walked) < 100   # the reached entries' order, listed
    want = (1.0 - (X * 1100.0 @ W).tanh() ** 2)
    np.testing.assert_allclose(g.numpy(), (X * 1100.0).numpy().T @ want.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# ---- the short path of a plain `loss.backward()` (engine.run_backward_root) ------------------
def _plain_graphs(rng):
    """(name, leaves, loss function) of graphs a plain backward takes the short path for."""
    a = tg.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    b = tg.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    c = tg.tensor(rng.standard_normal((64, 64)), requires_grad=True)
    s = tg.tensor(0.5, requires_grad=True)
    x = tg.tensor(rng.standard_normal((6, 5)))
    return [
        ("elementwise", [a, s], lambda: ((a * s).sin() + x).pow(2).mean()),
        ("float32 matmul", [b], lambda: (tg.ones(3, 5) @ b).tanh().sum()),
        ("host matmul", [c], lambda: (c @ c).relu().sum()),
        ("cat and reduce", [a, s], lambda: tg.cat([a, a * s], 0).logsumexp(1).sum()),
        ("a leaf twice", [a], lambda: (a * a + a).sum()),
    ]


@pytest.mark.parametrize("dropped", [0, 40], ids=["in place", "walked"])
@pytest.mark.parametrize("retain", [False, True])
def test_plain_backward_short_path_equals_the_general_path(monkeypatch, retain, dropped):
    """Also behind dropped graphs, where both paths sweep the walked part's local streams
    (the short path without the general path's bookkeeping)."""
    from tapegrad.autograd import api
    walk_short_prefixes(monkeypatch, dropped)
    monkeypatch.setattr(tapemod, "MAX_SAVED_BYTES", 1 << 40)   # (the dropped graphs stay)
    walked = []
    walk = reached.walk

    def spy(*args):
        sub = walk(*args)
        walked.append(sub is not None)
        return sub
    monkeypatch.setattr(reached, "walk", spy)
    grads = {}
    for path in ("short", "general"):
        if path == "general":   # (the short path declines: run_backward runs)
            assert all(walked) and len(walked) >= 5 if dropped else not walked
            monkeypatch.setattr(api, "run_backward_root", lambda *args: None)
        for name, leaves, loss_fn in _plain_graphs(np.random.default_rng(0)):
            for _ in range(dropped):
                loss_fn().item()   # (left on the tape, without backward)
            loss = loss_fn()
            loss.backward(retain_graph=retain)
            if retain:   # a second backward of the kept graph accumulates
                loss.backward()
            else:
                with pytest.raises(RuntimeError, match="second time"):
                    loss.backward()
            grads[path, name] = [(p.grad.dtype, p.grad.numpy().copy()) for p in leaves]
    for name, _, _ in _plain_graphs(np.random.default_rng(0)):
        for (dt1, g1), (dt2, g2) in zip(grads["short", name], grads["general", name]):
            assert dt1 == dt2
            np.testing.assert_array_equal(g1, g2, err_msg=name)


@pytest.mark.parametrize("retain", [False, True])
def test_backward_with_a_gradient_short_path_equals_the_general_path(monkeypatch, retain):
    """backward(g) takes the short path for a root of g's shape (one-element or n-d, g of
    the root's dtype or another): the gradients equal the general path's bit for bit."""
    from tapegrad.autograd import api
    rng = np.random.default_rng(3)
    a = tg.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    b = tg.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    s = tg.tensor(0.5, requires_grad=True)
    g64, g32 = rng.standard_normal((6, 5)), rng.standard_normal((3, 4)).astype(np.float32)
    cases = [
        ("n-d", [a, s], lambda: (a * s).sin(), tg.tensor(g64)),
        ("float32 matmul", [b], lambda: (tg.ones(3, 5) @ b).tanh(), tg.tensor(g32)),
        ("float64 seed of a float32 root", [b], lambda: tg.ones(3, 5) @ b,
         tg.tensor(g32.astype(np.float64) / 3)),
        ("0-d", [s], lambda: (s * s).exp(), tg.tensor(1.5)),
        # one-element gradients held as numbers: a float32 one not rounded yet (a scalar
        # op's result), a float64 one; an integer one (an array)
        ("0-d, float32 gradient not rounded", [s], lambda: (s * s).exp(), tg.tensor(0.1) * 3),
        ("0-d, float64 gradient", [s], lambda: s * 3.0, tg.tensor(0.1, dtype=tg.float64) * 3),
        ("0-d, integer gradient", [s], lambda: s.sin(), tg.tensor(3)),
        ("one element", [a], lambda: a[:1, :1].sin(), tg.tensor([[0.25]])),
    ]
    grads = {}
    for path in ("short", "general"):
        if path == "general":
            monkeypatch.setattr(api, "run_backward_root", lambda *args: None)
        for name, leaves, fn, g in cases:
            for p in leaves:
                p.grad = None
            out = fn()
            out.backward(g, retain_graph=retain)
            if retain:
                out.backward(g)
            grads[path, name] = [(p.grad.dtype, p.grad.numpy().copy()) for p in leaves]
    for name, _, _, _ in cases:
        for (dt1, g1), (dt2, g2) in zip(grads["short", name], grads["general", name]):
            assert dt1 == dt2
            np.testing.assert_array_equal(g1, g2, err_msg=name)


def _fresh_grad_cases(rng):
    """(name, leaves, loss function, .grad values set before the backward or None) of the
    leaves a plain backward gives their gradients: _stage_swept's one loop where every
    reached leaf gets its first .grad, its general path elsewhere."""
    w32 = tg.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    w64 = tg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    s32 = tg.tensor(np.float32(0.3), requires_grad=True)
    b32 = tg.tensor(rng.standard_normal(1).astype(np.float32), requires_grad=True)
    wt = tg.tensor(rng.standard_normal((5, 3)).astype(np.float32)).t().requires_grad_()
    twice = tg.tensor(rng.standard_normal((2, 3)), requires_grad=True)

    def changed_between_uses():   # (two leaf entries of one tensor: their gradients add)
        y = twice * 2.0
        with tg.no_grad():
            twice.add_(1.0)
        return (y + twice * 3.0).sum()
    x = tg.tensor(rng.standard_normal((2, 5)).astype(np.float32))
    off = tg.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    return [
        ("fresh n-d float32 and float64, 0-d and (1,) float32",
         [w32, w64, s32, b32],
         lambda: ((x @ w32 * s32 + b32).tanh()[:, :3].double() @ w64).pow(2).mean(), None),
        ("a leaf held transposed (its .grad has its layout)", [wt],
         lambda: (x @ wt.t()).sum(), None),
        ("a .grad to accumulate into", [w32, s32], lambda: (x @ w32 * s32).sum(), 0.5),
        ("a leaf changed in place between its uses", [twice], changed_between_uses, None),
        ("requires_grad turned off after use", [w32, off],
         lambda: (x @ w32 + x @ off.requires_grad_(True)).sum(), None),
    ]


@pytest.mark.parametrize("case", range(5))
def test_fresh_grads_in_one_loop_equal_the_general_collection(monkeypatch, case):
    """_stage_swept's loop (first .grads of a training step's leaves) gives what
    engine._collect_leaves and _stage_found give: values, dtypes, shapes and layouts; it
    declines (None) where a leaf needs their general path."""
    from tapegrad.autograd import api
    gc.collect()   # (earlier tests' multi-grad hooks in cycles: the short path declines)
    (tg.ones(2, 2, requires_grad=True) * 2.0).sum().backward()   # (the first backward of a
    fast = api._stage_fresh                                     # process chooses the tier)
    took = []
    monkeypatch.setattr(api, "_stage_fresh",
                        lambda *args: took.append(r := fast(*args)) or r)
    got = {}
    for path in ("one loop", "general"):
        if path == "general":
            monkeypatch.setattr(api, "_stage_fresh", lambda *args: None)
        name, leaves, loss_fn, before = _fresh_grad_cases(np.random.default_rng(case))[case]
        for p in leaves:
            p.grad = None if before is None else tg.full_like(p, before)
        loss = loss_fn()
        if name.startswith("requires_grad"):
            leaves[1].requires_grad_(False)   # (after use: torch gives it no gradient)
        loss.backward()
        got[path] = [None if p.grad is None else
                     (p.grad.dtype, p.grad.shape, p.grad.stride(), p.grad.numpy().copy())
                     for p in leaves]
    taken = name.startswith(("fresh", "a leaf held", "requires_grad"))
    assert (bool(took) and took[0] is not None) == taken, name   # (None, or not asked)
    for g1, g2 in zip(got["one loop"], got["general"]):
        assert (g1 is None) == (g2 is None)
        if g1 is not None:
            assert g1[:3] == g2[:3]
            np.testing.assert_array_equal(g1[3], g2[3], err_msg=name)


def test_plain_backward_takes_the_short_path(monkeypatch):
    from tapegrad.autograd import api
    gc.collect()   # (earlier tests' hooked leaves in cycles: the short path declines then)
    rng = np.random.default_rng(1)
    w = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    x = tg.tensor(rng.standard_normal((2, 4)))
    (x @ w).sum().backward()   # (the first backward of a process chooses the kernel tier)
    general = []
    monkeypatch.setattr(api, "run_backward", lambda *args, **kw: general.append(1) or {})
    w.grad = None
    (x @ w).tanh().sum().backward()
    # a gradient given: one-element and n-d roots
    (x @ w).sum().backward(tg.tensor(2.0))
    (x @ w).tanh().backward(tg.ones(2, 3))
    tg.autograd.backward((x @ w).tanh(), tg.ones(2, 3))
    assert not general and w.grad is not None
    # what the short path leaves to run_backward: a retained non-leaf, a tensor hook; and
    # to the general path's checks, which raise torch's errors: a gradient of another shape,
    # or none for an n-d root
    h = x @ w
    h.retain_grad()
    h.sum().backward()
    h = x @ w
    h.register_hook(lambda g: g)
    h.sum().backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x @ w).backward(tg.ones(3, 2))
    with pytest.raises(RuntimeError, match="implicitly created only for scalar"):
        (x @ w).backward()
    assert len(general) == 2


def test_scratch_give_keeps_what_the_general_path_keeps(monkeypatch):
    """scratch.give's short path (buffers that fit _KEEP and _KEEP_TOTAL with the kept ones,
    appended without a sort) keeps the buffers the general path keeps (none larger than
    _KEEP_BYTES), and take then hands out the same best fit; at the bounds and past them
    (more buffers, more bytes) give trims as the general path does."""
    monkeypatch.setattr(scratch, "_KEEP_BYTES", 8 * 4096)
    monkeypatch.setattr(scratch, "_KEEP_TOTAL", 16 * 4096)
    monkeypatch.setattr(scratch, "_KEEP", 5)
    sizes = [(2048,), (4096, 1024), (8192, 1024, 2048), (1024,) * 4, (1024,) * 5, (),
             (4096, 4096), (2048, 2048, 2048)]
    unsorted = 0
    for ns in sizes:
        for start in ((), (3000,), (1024, 2048), (4096, 3000, 1024), (4096, 4096)):
            kept = []
            for short in (True, False):
                monkeypatch.setattr(scratch, "_SHORT", 5 if short else -1)
                scratch._FREE.buffers = free = [np.empty(n) for n in start]
                scratch.give([np.empty(n) for n in ns])
                got = sorted(len(b) for b in free)
                unsorted += [len(b) for b in free] != sorted(got, reverse=True)
                fits = [len(scratch.take(n)) for n in (1000, 2000, 5000)]
                kept.append((got, fits))
            assert kept[0] == kept[1], (ns, start)
            assert 8192 not in kept[0][0] and len(kept[0][0]) <= 5
            assert sum(kept[0][0]) * 8 <= 16 * 4096
    assert unsorted > 5   # (the short path taken: appended, not sorted)
    scratch._FREE.buffers = []


def test_sweeps_of_as_many_entries_and_other_arenas_get_their_own_views():
    """Tape.sweep_arrays keeps its views of the rows, the work cells and the arenas for the
    next sweep of as many entries: backwards alternating between graphs of the same entry
    count but other arena sizes (and an operand list or none) get the right gradients."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)

    def loss(lib, x, w, cat):
        h = (x @ w).tanh()
        return (lib.cat([h, h], 1) if cat else h * h).mean()
    for _ in range(3):
        for rows, cols, cat in ((4, 3, False), (9, 5, False), (4, 3, True), (2, 7, False)):
            xv = rng.standard_normal((rows, 6)).astype(np.float32)
            wv = rng.standard_normal((6, cols)).astype(np.float32)
            got = []
            for lib in (tg, torch):
                x, w = lib.tensor(xv), lib.tensor(wv, requires_grad=True)
                out = loss(lib, x, w, cat)
                out.backward()
                got.append(w.grad.numpy())
            np.testing.assert_allclose(got[0], got[1], rtol=1e-5, atol=1e-6)


def test_joined_saved_block_is_concatenates():
    """tape._joined (the saved arrays flattened into the value arena, a slice store each)
    writes what np.concatenate(axis=None, casting="same_kind") writes: C order, the same casts,
    for contiguous, strided (small: raveled; large: through a view) and 0-d arrays of float,
    half, int and bool dtypes; a None raises TypeError and a short block ValueError."""
    rng = np.random.default_rng(5)
    big = tapemod._RAVEL_MAX
    arrs = [rng.standard_normal((3, 4)).astype(np.float32),
            rng.standard_normal((5, 7)).T,                              # small, strided
            rng.standard_normal((big // 8, 16)).astype(np.float32).T,  # large, strided
            rng.standard_normal((4, 6))[:, ::2],
            np.array(2.5, np.float32), rng.standard_normal(6).astype(np.float16),
            np.arange(5), rng.standard_normal(4) > 0,
            np.full(big + 3, -0.0)]
    total = sum(a.size for a in arrs)
    want = np.empty(total)
    np.concatenate(arrs, axis=None, out=want, casting="same_kind")
    got = np.full(total, np.nan)
    tapemod._joined(arrs, got)
    assert got.tobytes() == want.tobytes()
    with pytest.raises(TypeError):
        tapemod._joined(arrs[:2] + [None], np.empty(total))
    with pytest.raises(ValueError):
        tapemod._joined(arrs[:-1], np.empty(total))


def test_release_of_many_saved_arrays_after_a_few():
    """release lists the dead slots in a buffer kept on the n-d streams (dead_space), grown
    for a graph with more saved arrays than it held: every one is dropped, and a later small
    graph on the same (pooled) streams releases as before."""
    for count in (3, 200, 5):
        xs = [tg.full((4,), float(i + 1), requires_grad=True) for i in range(count)]
        y = sum(((x * x) * x).sum() for x in xs)
        tape = y._tape
        nds = tape.nds
        assert nds.nobjs > 2 * count - 1
        y.backward()
        assert all(a is None for a in nds.objs) and not nds.nsaved.any()
        assert len(nds._dead) >= 3 * tape.n or count < 100
        for i, x in enumerate(xs):
            np.testing.assert_allclose(x.grad.numpy(), 3.0 * (i + 1) ** 2)


def test_arenas_behind_the_work_cells_after_a_first_sweep():
    """sweep_arrays puts both arenas behind its work cells, in one scratch buffer, once the
    n-d streams have seen an arena that large (a loop's next backward); a larger graph on
    the same streams takes a buffer of its own again; the gradients are the same."""
    rng = np.random.default_rng(2)
    w = tg.tensor(rng.standard_normal((16, 8)).astype(np.float32), requires_grad=True)
    x = tg.tensor(rng.standard_normal((4, 16)).astype(np.float32))
    bufs, grads = [], []
    for rows in (4, 4, 40, 40, 4):
        xs = x.repeat(rows // 4, 1)
        loss = (xs @ w).tanh().sum()
        tape = loss._tape
        for _ in range(2):   # (the second: the streams saw this graph's arenas)
            s = tape.sweep_arrays(loss._node + 1, (loss._node,))
            assert all(b.base is None for b in s.bufs)
            scratch.give(s.bufs)
        bufs.append(len(s.bufs))
        loss.backward()
        grads.append(w.grad.numpy().copy() / (rows // 4))
        w.grad = None
    assert bufs == [1] * 5, bufs
    for g in grads[1:]:
        np.testing.assert_allclose(g, grads[0], rtol=1e-5)


# A constant operand wants no gradient: the kernel sweep computes none for it (kinds.SKIPS:
# matmul's piece) and the layout copies into the value arena only the values the wanted
# gradients read (ops.vjp_reads).  (loss of X, Y constants and W, V leaves; the constants'
# nodes in recording order, whether its matmul skips a constant's gradient)
CONSTANT_CASES = {
    "X @ W": (lambda X, Y, W, V: (X @ W).tanh().sum(), True),
    "W @ Y": (lambda X, Y, W, V: (W @ Y).pow(2).sum(), True),
    "both sides": (lambda X, Y, W, V: (X @ W @ Y).tanh().sum(), True),
    "X - V": (lambda X, Y, W, V: ((X - V) ** 2).mean(), False),
}


def _sweep_of(loss):
    """The in-place sweep of `loss`'s backward (engine.run_backward_root's steps), its arrays
    kept: (tape, SweepArrays)."""
    tape, n = loss._tape, loss._node + 1
    s = tape.sweep_arrays(n, (n - 1,))
    s.adj[s.off[n - 1]] += 1.0
    s.reach[n - 1] = 1
    side = engine._Side()
    side.tape, side.nodes = tape, None
    assert engine._sweep_segments(tape, n, s, n - 1, s.freed, side) == -1
    return tape, s


@pytest.mark.parametrize("case", list(CONSTANT_CASES))
def test_constant_operands_get_no_gradient_and_no_copy(monkeypatch, case):
    fn, skipped = CONSTANT_CASES[case]
    rng = np.random.default_rng(5)
    X, Y = (tg.tensor(rng.standard_normal(s).astype("float32")) for s in [(8, 16), (16, 4)])
    W = tg.tensor(rng.standard_normal((16, 16)).astype("float32"), requires_grad=True)
    V = tg.tensor(rng.standard_normal((8, 16)).astype("float32"), requires_grad=True)
    copied = []
    monkeypatch.setattr(tapemod, "_joined", lambda arrs, out, real=tapemod._joined:
                        copied.extend(arrs) or real(arrs, out))
    loss = fn(X, Y, W, V)
    tape, s = _sweep_of(loss)
    try:
        consts = [e for e in range(loss._node + 1) if tape.op[e] == tapemod.OP_CONST]
        assert consts
        for e in consts:
            block = s.adj[s.off[e]:s.off[e] + s.size[e]]
            if skipped:   # never written, whatever the layout gave it
                assert s.marks[e] == 0 or not block.any()
        # the leaves' values: copied only where a kernel VJP reads them for another
        # operand's gradient, and no constant's gradient reads them here
        assert not any(a is W._v or a is V._v for a in copied)
    finally:
        scratch.give(s.bufs)
    if skipped:   # a constant is copied where the leaf's gradient reads it
        assert any(a is X._v or a is Y._v for a in copied)
    else:         # a difference reads no value
        assert not any(a is X._v for a in copied)
    loss = fn(X, Y, W, V)
    loss.backward()
    assert W.grad is not None or V.grad is not None


# (losses of a constant X and leaves W1, W2: the product of a constant and a leaf, and past it)
MIXED = {
    "net": lambda m, X, W1, W2: ((X @ W1).tanh() @ W2 - X[:, :4]).pow(2).sum(),
    "leaf on the right": lambda m, X, W1, W2: (W2.t() @ (X @ W1).t()).sin().sum(),
    "times a constant": lambda m, X, W1, W2: ((X * W1[0]) @ W1 * X).sum() + (X @ W2).sum(),
    "batched": lambda m, X, W1, W2: (X.reshape(2, 4, 16) @ W1).tanh().sum()
    + (W1.t() @ X.reshape(2, 16, 4)).pow(2).sum() + (X.reshape(2, 4, 16) @ W2).sum(),
}


@pytest.mark.parametrize("dropped", [0, 40], ids=["in place", "reached path"])
@pytest.mark.parametrize("case", list(MIXED))
def test_constant_operand_gradients_against_torch(monkeypatch, case, dropped):
    """One operand constant, the other wanting a gradient: backward, autograd.grad of each
    leaf alone (inputs= a subset) and create_graph's double backward give torch's values."""
    torch = pytest.importorskip("torch")
    fn = MIXED[case]
    walk_short_prefixes(monkeypatch, dropped)
    rng = np.random.default_rng(7)
    vals = [rng.standard_normal(s) for s in [(8, 16), (16, 16), (16, 4)]]
    res = []
    for m in (tg, torch):
        X = m.tensor(vals[0])
        W1, W2 = (m.tensor(v, requires_grad=True) for v in vals[1:])
        for _ in range(dropped if m is tg else 0):    # graphs left on the tape: local streams
            (X @ W1).sum().item()
        fn(m, X, W1, W2).backward()
        got = [W1.grad.numpy().copy(), W2.grad.numpy().copy()]
        for w in (W1, W2):
            g, = m.autograd.grad(fn(m, X, W1, W2), [w], allow_unused=True)
            got.append(np.zeros(1) if g is None else g.numpy())
        W1.grad = W2.grad = None
        g, = m.autograd.grad(fn(m, X, W1, W2), [W1], create_graph=True)
        (g * g).sum().backward()
        got.append(W1.grad.numpy())
        got.append(np.zeros(1) if W2.grad is None else W2.grad.numpy())
        res.append(got)
    for p, q in zip(*res):
        np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-12)
