"""A training step's fixed tape cost (tape.py): a dead tape's arrays go back to the pools in a
new tape's state, and a leaf entry is recorded as `Tape.push` with a shape would record it."""
import gc
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _jit, tape as T
from tapegrad.ops import OPS
from tapegrad.tape import CLOSED, STATE, NdStreams, Tape
import fresh


@pytest.fixture
def fresh_pools(monkeypatch):
    # (earlier tests' tapes die first, the open one and any in a cycle, into the old pools:
    # one dying after the swap put an unexpected set into the test's pool)
    STATE.tape = CLOSED
    gc.collect()
    monkeypatch.setattr(T, "_POOL", [])
    monkeypatch.setattr(T, "_ND_POOL", [])
    yield
    STATE.tape = CLOSED


def _step(w, b, x):
    """A graph with leaves, saved arrays, params (matmul, sum), an operand list (cat) and a
    host entry when BLAS matmul is one."""
    h = (x @ w + b).tanh()
    loss = (tg.cat([h, h * 2.0, h * 3.0]) ** 2).sum()
    loss.backward()
    return loss


@pytest.mark.parametrize("kernel", [True, False])
def test_a_dead_tapes_arrays_come_back_as_a_new_tapes(fresh_pools, monkeypatch, kernel):
    monkeypatch.setattr(T, "_RESET_READY", [False])
    if kernel:       # (past the first _KERNEL_AFTER dead tapes: the next new tape readies it)
        _jit.kernels()
        monkeypatch.setattr(T, "_KERNEL_AFTER", 0)
    else:            # before the kernels are loaded the destructor cleans with numpy
        monkeypatch.setattr(T, "loaded", lambda: False)
    rng = np.random.default_rng(0)
    w = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(4), requires_grad=True)
    x = tg.tensor(rng.standard_normal((5, 3)))
    loss = _step(w, b, x)
    assert T._RESET_READY[0] == kernel
    g = (w.grad.numpy().copy(), b.grad.numpy().copy())
    tape = loss._tape
    arrs, nds, n, lim, cap = tape._arrays, tape.nds, tape.n, tape.lim, tape.cap
    assert nds.nobjs and nds.nparams and nds.nargs and n > 8
    del loss, tape
    assert T._POOL == [arrs] and T._ND_POOL == [nds]
    assert arrs.clean == max(n, lim)
    assert (arrs[2][:arrs.clean] == -1).all() and (arrs[3][:arrs.clean] == 0.0).all()
    assert not arrs[5].any()
    blank = NdStreams(cap)
    for name in ("ints", "shp", "nsaved", "host"):
        assert np.array_equal(getattr(nds, name), getattr(blank, name)), name
    assert nds.nparams == nds.nargs == nds.argn == nds.nobjs == 0
    assert all(o is None for o in nds.objs)
    # the next step takes them and computes what it computed on new arrays
    w.grad = b.grad = None
    loss = _step(w, b, x)
    assert loss._tape._arrays is arrs and loss._tape.nds is nds
    assert np.array_equal(w.grad.numpy(), g[0]) and np.array_equal(b.grad.numpy(), g[1])


def test_leaf_entry_is_what_push_with_a_shape_records(fresh_pools):
    w = tg.zeros((2, 3, 4), requires_grad=True)
    a, b = Tape(), Tape()
    n = a.leaf_node(w)
    m = b.push(OPS["leaf"].code, -1, -1, 0.0, 0.0, w._v.shape)
    assert (n, w._lserial, w._lnode) == (m, a.serial, n)
    for k in range(5):
        assert a._arrays[k][n] == b._arrays[k][m]
    assert a.shape == b.shape == {n: (2, 3, 4)}
    for name in ("size", "nd", "shp"):
        assert np.array_equal(getattr(a.nds, name)[n], getattr(b.nds, name)[m]), name
    b._watch_new(m, w)
    assert a.versions == b.versions and a.watched == b.watched
    assert a.leaves == {n: w} and a.leaf_of == {id(w): [n]}


def test_a_leaf_of_too_many_dims_leaves_the_tape_as_it_was(fresh_pools):
    w = tg.zeros((2,) * 9, requires_grad=True)
    t = Tape()
    with pytest.raises(RuntimeError, match="at most 8 dimensions"):
        t.leaf_node(w)
    assert t.n == 0 and not t.leaves and not t.versions and not t.shape


def test_a_dying_tape_loads_no_kernels():
    """A destructor must not cause the kernel module's import (and compile), and the first
    dead tapes after a backward do not compile the reset kernel."""
    code = ("import tapegrad as tg, gc; from tapegrad import _jit\n"
            "w = tg.ones((3, 2), requires_grad=True)\n"
            "y = (w * 2.0).tanh(); del y; gc.collect()\n"
            "assert not _jit.loaded(), 'kernels loaded'\n"
            "for _ in range(3):\n"
            "    y = (w * 2.0).sum(); y.backward(); del y\n"
            "assert _jit.loaded() and not _jit.K.reset_streams.signatures\n")
    fresh.run(code)


def test_a_full_pool_of_other_capacities_makes_room_for_the_tapes_in_use(fresh_pools):
    """A pool filled by a few long tapes (other capacities) gives way, oldest first, to the
    arrays of the tapes a program makes now: else every later tape allocated its own (a
    cat's record ~30 us slower after a long scalar graph) and none was pooled."""
    big = [T._take_streams(4096) for _ in range(T._POOL_MAX)]
    big_nd = [NdStreams(4096) for _ in range(T._POOL_MAX)]
    T._POOL.extend(big)
    T._ND_POOL.extend(big_nd)
    w = tg.ones((3, 2), requires_grad=True)
    loss = (w * 2.0).sum()
    loss.backward()
    tape = loss._tape
    arrs, nds = tape._arrays, tape.nds
    ids = [id(x) for x in big + big_nd]
    assert len(arrs[0]) == len(nds.size) == 1024 and id(arrs) not in ids and id(nds) not in ids
    del loss, tape
    # the oldest of another capacity left; this tape's arrays came in, cleaned as usual
    assert _ids(T._POOL) == _ids(big[1:] + [arrs])
    assert _ids(T._ND_POOL) == _ids(big_nd[1:] + [nds])
    assert not arrs[5].any() and nds.nparams == nds.nobjs == 0
    # the next tape takes them; a full pool of its own capacity takes no more
    loss = (w * 3.0).sum()
    assert loss._tape._arrays is arrs and loss._tape.nds is nds
    T._POOL[:] = [T._take_streams(1024) for _ in range(T._POOL_MAX)]
    T._ND_POOL[:] = [NdStreams(1024) for _ in range(T._POOL_MAX)]
    before, before_nd = list(T._POOL), list(T._ND_POOL)
    loss.backward()
    del loss
    assert _ids(T._POOL) == _ids(before) and _ids(T._ND_POOL) == _ids(before_nd)


def _ids(items):
    return [id(x) for x in items]   # (a stream set is a tuple of arrays: no == between them)


def test_a_long_graph_grows_once_onto_the_set_the_last_one_left(fresh_pools, monkeypatch):
    """A loop that records one long scalar graph per step: the first graph's arrays double
    their way up; each later one outgrows its new tape's 1024 cells once, onto the largest
    pooled set (the one the previous graph left, clean up to its length: no fill ahead
    before that), and gives its small set back.  The gradients are the first graph's."""
    grows = []
    real = Tape.grow
    monkeypatch.setattr(Tape, "grow", lambda self: grows.append(self.n) or real(self))
    x = tg.tensor(0.3, dtype=tg.float64, requires_grad=True)

    def step():
        y = x * 1.0
        for _ in range(1500):   # 6002 entries: capacity 8192
            y = y * 0.999 + x.sin() * 0.001
        y.backward()
        g = x.grad.item()
        x.grad = None
        return y, g
    y, g0 = step()
    arrs = y._tape._arrays
    assert len(arrs[0]) == 8192 and len(grows) > 4
    del y
    for _ in range(2):
        grows.clear()
        y, g = step()
        assert y._tape._arrays is arrs and g == g0
        assert grows == [1024]   # (the one resize; the pooled set is clean to 6002 cells)
        assert all(a is not arrs for a in T._POOL) and len(T._POOL[-1][0]) == 1024
        del y
        assert T._POOL[-1] is arrs
    # a new tape still takes a set of its own capacity
    small = (x * 2.0)._tape
    assert len(small._arrays[0]) == 1024


def test_n_d_streams_of_a_tape_that_grew_onto_a_large_set(fresh_pools):
    """A scalar prefix that grew onto the large set a long graph left, then an n-d op: the
    tape's arrays go back to the capacity doubling gives before its n-d streams are made
    (of that length, not the large set's); the entries and gradients are kept."""
    x = tg.tensor(0.3, dtype=tg.float64, requires_grad=True)
    y = x * 1.0
    for _ in range(5000):
        y = y * 0.999 + x.sin() * 0.001
    y.backward()
    x.grad = None
    del y   # (its 32768-cell set goes to the pool)

    def run(mod):
        a = mod.tensor(0.3, dtype=mod.float64, requires_grad=True)
        w = mod.tensor([0.5, -1.5, 2.0], dtype=mod.float64, requires_grad=True)
        y = a * 1.0
        for _ in range(400):   # 1602 entries
            y = y * 0.999 + a.sin() * 0.001
        z = (w * y).sum()   # the first n-d entries
        if mod is tg:
            tape = z._tape
            assert len(tape._arrays[0]) == tape.cap == 2048 == len(tape.nds.size)
        z.backward()
        return a.grad.item(), w.grad.tolist()
    reference = pytest.importorskip("torch")
    got, want = run(tg), run(reference)
    assert math.isclose(got[0], want[0], rel_tol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def _long_scalar_graph():
    x = tg.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(20000):      # 40k entries: its arrays grow to 65536 and go to the pool
        y = y * 0.999 + 0.001
    y.backward()


@pytest.mark.parametrize("ops", ["save nothing", "save activations"])
def test_n_d_graphs_behind_a_large_pooled_set_still_seal(fresh_pools, ops):
    """A large set a long scalar graph left in the pool must not carry n-d tapes past the
    seal: an n-d tape grows onto its own capacity (not the large set: its n-d streams are as
    long), and grow still checks its entries every _CLEAN_AHEAD appends when the set it took
    holds the defaults far ahead (it once skipped the check up to the set's clean mark: a
    tape of dropped graphs that save nothing was never sealed)."""
    _long_scalar_graph()
    _long_scalar_graph()
    assert max(len(arrs[0]) for arrs in T._POOL) >= 1 << 15
    b = tg.ones(64, 64, requires_grad=True)
    w = tg.ones(64, 64, requires_grad=True)
    held, tapes = 0, set()
    for _ in range(3000):
        loss = (b + 1).sum() if ops == "save nothing" else (b * w).tanh().sum()
        tapes.add(loss._tape.serial)
        held = max(held, tg.tape_summary(loss).bytes)
    assert len(tapes) >= 2
    assert held <= 1.5 * T.MAX_SAVED_BYTES
    loss.backward()
    assert b.grad.shape == (64, 64)
