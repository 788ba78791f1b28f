"""Tape lifetimes: saved buffers, "backward a second time", sealing, imports between tapes,
reclamation of dropped graphs, and failure atomicity."""
import ctypes
import gc
import sys
import weakref

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import tape as tapemod
from tapegrad.ops import OPS

import cases_gaps
import cases_math

SECOND_TIME = "Trying to backward through the graph a second time"

# one use of each elementwise op: whether a second backward fails follows from Op.saves
def _nnf(x):
    """nn.functional of x's library (tapegrad or torch)."""
    return sys.modules[type(x).__module__.split(".")[0]].nn.functional


ELEMENTWISE = {
    "add": lambda x: x + 1.0, "sub": lambda x: x - 1.0, "mul": lambda x: x * 2.0,
    "div": lambda x: x / 2.0, "pow": lambda x: x ** tg.tensor(2.0), "pow_scalar": lambda x: x ** 2,
    "neg": lambda x: -x, "exp": lambda x: x.exp(), "log": lambda x: x.log(),
    "sqrt": lambda x: x.sqrt(), "sin": lambda x: x.sin(), "cos": lambda x: x.cos(),
    "tanh": lambda x: x.tanh(), "sigmoid": lambda x: x.sigmoid(), "relu": lambda x: x.relu(),
    "abs": lambda x: x.abs(), "reciprocal": lambda x: x.reciprocal(),
    "sign": lambda x: x.sign(), "where": lambda x: tg.where(x > 0, x, -x),
    "zero": lambda x: (x + 1.0).zero_(), "fill": lambda x: (x + 1.0).fill_(3.0),
    "copy": lambda x: (x + 1.0).copy_(x + 2.0),
    "fill_tensor": lambda x: (x + 1.0).fill_(x.sum() + 1.0),
    "copy_slices": lambda x: _put(x + 1.0, ..., x + 2.0),
    "index_put": lambda x: _put(x.reshape(-1) + 1.0, tg.tensor([0]), (x + 2.0).reshape(-1)[:1]),
    "atan2": lambda x: x.atan2(tg.tensor(2.0)), "hypot": lambda x: x.hypot(tg.tensor(2.0)),
    "copysign": lambda x: x.copysign(x - 2.0),
    "threshold_backward": lambda x: _relu_grad(x),
    # where rows of the structural ops (opsstruct): masks made from x, so torch runs them too
    "tril": lambda x: x.reshape(1, -1).tril(), "triu": lambda x: x.reshape(1, -1).triu(1),
    "masked_fill": lambda x: x.masked_fill(x > 2.0, 0.5),
    "masked_fill_tensor": lambda x: x.masked_fill(x > 2.0, x.sum()),
    "scatter_value": lambda x: x.reshape(-1).scatter(0, (x.reshape(-1) * 0).long(), 2.0),
    "index_fill": lambda x: x.reshape(-1).index_fill(0, (x.reshape(-1)[:1] * 0).long(), 2.0),
    # the activations that are unary rows (nn.functional only, as in torch; torch's too)
    "leaky_relu": lambda x: _nnf(x).leaky_relu(x - 2.0, 0.2),
    "leaky_relu_result": lambda x: _nnf(x).leaky_relu_(x - 2.0, 0.2),
    "elu": lambda x: _nnf(x).elu(x - 2.0, 0.5),
    "gelu": lambda x: _nnf(x).gelu(x - 2.0, approximate="tanh"),
    "silu": lambda x: _nnf(x).silu(x),
    "softplus": lambda x: _nnf(x).softplus(x, threshold=1.6),
    "bce_with_logits": lambda x: _nnf(x).binary_cross_entropy_with_logits(
        x, (x * 0.3).detach(), reduction="none"),
    "bce": lambda x: _nnf(x).binary_cross_entropy(
        (x * 0.1).sigmoid(), (x * 0.3).sigmoid().detach(), reduction="none"),
    "sqrt0": lambda x: x.std(),      # (the square root inside the std's group)
    "norm_sqrt": lambda x: x.norm(),     # (the square root inside the norm's group)
    "sq_deviation": lambda x: x.var(),   # (the squared deviations inside the var's group)
    "hardswish": lambda x: _nnf(x).hardswish(x - 2.0),
    "hardsigmoid": lambda x: _nnf(x).hardsigmoid(x - 2.0),
    "mish": lambda x: _nnf(x).mish(x - 2.0), "selu": lambda x: _nnf(x).selu(x - 2.0),
    "celu": lambda x: _nnf(x).celu(x - 2.0, 0.5), "logsigmoid": lambda x: _nnf(x).logsigmoid(x),
    "prelu": lambda x: _nnf(x).prelu(x - 2.0, x.new_tensor([0.25])),
    "hardtanh_min": lambda x: _nnf(x).hardtanh(x, 1.5, 9.0),   # (hardtanh's two entries)
    "hardtanh_max": lambda x: _nnf(x).hardtanh(x, -9.0, 1.5),
    "smooth_l1": lambda x: _nnf(x).smooth_l1_loss(x, (x * 0.3).detach(), reduction="none",
                                                  beta=0.8),
    "huber": lambda x: _nnf(x).huber_loss(x, (x * 0.3).detach(), reduction="none", delta=0.8),
    # a random draw's zero gradient (torch.normal's NormalBackward1 in torch), in x's module
    "draw": lambda x: sys.modules[type(x).__module__.split(".")[0]].normal(x, 1.0),
}
ELEMENTWISE.update(cases_math.ELEMENTWISE)   # issue #11's rows (opsmath)
ELEMENTWISE.update(cases_gaps.ELEMENTWISE)   # torch.special's rows (opsgaps)


def _relu_grad(x):
    """relu's gradient as create_graph records it (the threshold_backward row), in x's module."""
    m = tg if isinstance(x, tg.Tensor) else __import__("torch")
    return m.autograd.grad((x.relu() * x).sum(), x, create_graph=True)[0]


def _put(t, key, value):
    t[key] = value
    return t


# (a traced integer cast: no gradient to free; test_replay.py)
TRACED_ONLY = {"to_int", "to_int_wrap", "to_uint8", "int_wrap", "int_to_uint8"}
# (straight_through: only prelu's create_graph gradient records it, among entries that save:
# tests/test_nn_functional.py, test_prelu_double_backward_at_zero; depends_on likewise
# leaky_relu's and hardtanh's, input_edge the pools', div_floor / div_trunc(_float32)
# remainder's and fmod's: tests/test_higher.py)
INSIDE_GRADIENTS = {"straight_through", "depends_on", "input_edge", "div_floor", "div_trunc",
                    "div_trunc_float32"}


def test_every_elementwise_op_listed():
    assert set(ELEMENTWISE) == {n for n, op in OPS.items()
                                if op.kind in ("unary", "binary", "where")} - TRACED_ONLY - \
        INSIDE_GRADIENTS


@pytest.mark.parametrize("shape", [(), (3,)])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_second_backward_fails_iff_op_saves(name, shape):
    x = tg.full(shape, 1.5, requires_grad=True)
    y = ELEMENTWISE[name](x).sum()
    y.backward()
    g = x.grad.clone()
    if OPS[name].saves:
        with pytest.raises(RuntimeError, match=SECOND_TIME):
            y.backward()
        np.testing.assert_array_equal(x.grad.numpy(), g.numpy())  # failed call changed nothing
    else:
        y.backward()
        np.testing.assert_allclose(x.grad.numpy(), 2 * g.numpy())


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_second_backward_matches_torch(name):
    torch = pytest.importorskip("torch")
    results = []
    for m in (tg, torch):
        x = m.full((2,), 1.5, requires_grad=True)
        fn = ELEMENTWISE[name]
        if name == "pow":
            fn = lambda x, m=m: x ** m.tensor(2.0)
        if name == "where":
            fn = lambda x, m=m: m.where(x > 0, x, -x)
        if name == "index_put":
            fn = lambda x, m=m: _put(x.reshape(-1) + 1.0, m.tensor([0]), (x + 2.0).reshape(-1)[:1])
        if name in ("atan2", "hypot"):
            fn = lambda x, m=m, f=name: getattr(x, f)(m.tensor(2.0))
        y = fn(x).sum()
        y.backward()
        try:
            y.backward()
            results.append("ok")
        except RuntimeError as e:
            results.append(str(e))
    assert results[0] == results[1]


def test_retain_graph_allows_repeats_and_the_last_backward_frees():
    x = tg.tensor(2.0, requires_grad=True)
    y = x * x
    for _ in range(3):
        y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 16.0
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        y.backward()


def test_nd_saved_buffers_are_released():
    x = tg.ones(100, requires_grad=True)
    y = (x * x).exp().sum()
    tape = y._tape
    assert tape.nds.nobjs and (tape.nds.slot >= 0).any()
    y.backward()
    assert not (tape.nds.slot >= 0).any() and not tape.nds.nsaved.any()
    assert all(arr is None for arr in tape.nds.objs)  # the arrays themselves are dropped
    assert tape.sealed


def test_retain_graph_keeps_nd_buffers():
    x = tg.ones(10, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    assert (y._tape.nds.slot >= 0).any() and not y._tape.sealed


def test_graph_across_a_freed_tape_fails_without_committing():
    x = tg.tensor(2.0, requires_grad=True)
    y = x * x
    y.backward()                        # frees y's tape, seals it
    z = y * 3                           # recorded on a new tape, importing y
    assert z._tape is not y._tape
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        z.backward()
    assert x.grad.item() == 4.0


def test_gradient_flows_through_imports():
    x = tg.tensor(0.5, requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)       # retained: no seal
    x.grad = None
    y._tape.seal()                      # force the next op onto a new tape
    z = (y * 3).sin()
    z.backward()
    assert x.grad.item() == pytest.approx(np.cos(0.75) * 3 * 2 * 0.5, rel=1e-6)


def test_long_chain_spans_sealed_tapes():
    n = tapemod.MAX_ENTRIES  # ~4 ops a step: several tapes
    x = tg.tensor(0.3, dtype=tg.float64, requires_grad=True)
    y = tg.tensor(1.0, dtype=tg.float64)
    for _ in range(n // 2):
        y = y * 0.999 + x.sin() * 0.001
    assert y._tape.serial > 1
    y.backward()
    # closed form: y_n = 0.999^n + 0.001 sin(x) sum 0.999^k
    k = n // 2
    expect = 0.001 * np.cos(0.3) * (1 - 0.999 ** k) / (1 - 0.999)
    assert x.grad.item() == pytest.approx(expect, rel=1e-9)


def test_dropped_tapes_are_freed():
    x = tg.tensor(1.0, requires_grad=True)
    y = x * 2
    ref = weakref.ref(y._tape)
    del y
    tapemod.STATE.tape = tapemod.CLOSED
    gc.collect()
    assert ref() is None


try:   # glibc keeps freed heap pages mapped until trimmed: without a trim, RSS readings
    # swing by several MB from malloc's own bookkeeping, not from what the loop keeps alive
    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):
    _malloc_trim = None


def _rss():
    if _malloc_trim is not None:
        _malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _live_tapes():
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is tapemod.Tape)


def _growth(fn, steps):
    """RSS growth from step 10% to step 100% of a loop, and the live tapes at the end.  The
    growth is twice the smaller of its two halves' (10-55%, 55-100%): a leak grows both, a
    one-off allocation (a kernel loaded, an allocator arena) only one."""
    fn(steps // 10)
    rss = []
    for k in range(3):
        if k:
            fn((steps - steps // 10) // 2)
        gc.collect()
        rss.append(_rss())
    return 2 * min(rss[1] - rss[0], rss[2] - rss[1]), _live_tapes()


@pytest.mark.slow   # (10^5 steps: the soak step of the README's test command)
def test_memory_flat_when_graphs_are_dropped_without_backward():
    x = tg.tensor(1.0, requires_grad=True)
    w = tg.ones(4, requires_grad=True)

    def loop(n):
        for _ in range(n):
            y = (x * 2.0).sin() + x
            v = (w * 3.0).sum()
        return y, v

    grown, tapes = _growth(loop, 100_000)
    assert tapes <= 2               # the open tape and the one y/v point into, not 10^5 graphs
    # Dropped graphs stay on the open tape until it is sealed at MAX_ENTRIES (2^16 entries);
    # such a tape, with n-d streams, holds ~10 MB at capacity, so RSS at a given step swings
    # by up to that much with where the tape is in its cycle.  Keeping the 90,000 dropped
    # graphs (630,000 entries) would take > 60 MB.
    assert grown < 16 * 2 ** 20, grown


@pytest.mark.slow   # (10^5 steps: the soak step of the README's test command)
def test_memory_flat_in_a_training_loop():
    rng = np.random.default_rng(0)
    xs = rng.normal(size=32)
    w = tg.tensor(0.0, requires_grad=True)
    b = tg.tensor(0.0, requires_grad=True)

    def train(n):
        for i in range(n):
            xi = float(xs[i % 32])
            loss = (w * xi + b - 2.0 * xi) ** 2
            loss.backward()
            with tg.no_grad():
                w.data = w.data - 0.01 * w.grad
                b.data = b.data - 0.01 * b.grad
            w.grad = None
            b.grad = None

    grown, tapes = _growth(train, 100_000)
    assert tapes <= 1
    assert grown < 2 ** 20, grown
    assert w.item() == pytest.approx(2.0, abs=1e-3)


def test_memory_flat_when_nd_graphs_are_dropped_without_backward():
    w = tg.randn(1000, 1000, requires_grad=True)   # each graph saves a 4 MB tanh output

    def loop(n):
        for _ in range(n):
            loss = (w * w).tanh().sum()
        return loss

    grown, tapes = _growth(loop, 100)            # 400 MB if dropped graphs were kept
    assert tapes <= 2
    assert grown < 100 * 2 ** 20, grown


def test_backward_lets_go_of_the_tape():
    x = tg.tensor(1.0, requires_grad=True)
    y = x * 2
    ref = weakref.ref(y._tape)
    y.backward()
    del y
    gc.collect()
    assert ref() is None


def test_leaf_changed_in_place_between_uses_on_one_tape():
    x = tg.tensor(2.0, requires_grad=True)
    y1 = x * x                        # saves x at version 0
    with tg.no_grad():
        x.add_(1.0)                   # x = 3, version 1
    y2 = x * x                        # a new leaf entry: saves x = 3 at version 1
    assert x._version == 1
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0 instead"):
        (y1 + y2).backward()          # as torch: y1 needs the x it saw
    assert x.grad is None             # the failed call changed nothing
    y2.backward()                     # what only needs the new value runs
    assert x.grad.item() == 2 * 3.0
    (g,) = tg.autograd.grad(tg.tensor(1.0, requires_grad=True) * 0 + x * 1.0, [x])
    assert g.item() == 1.0


def test_dropped_graphs_saved_data_seals_the_tape():
    # Graphs dropped without backward keep their saved arrays until their tape goes; a tape
    # holding MAX_SAVED_BYTES of data it computed is sealed, so the next graph starts a new
    # one and the old data can go.  Leaf values are the caller's memory: saving them does not
    # count; a constant's array (here the 512 KB x, in every graph) counts once per tape.
    w = tg.ones(64, requires_grad=True)
    x = tg.tensor(np.ones((1024, 64)))                 # 512 KB constant, saved by the product
    per_graph = 1024 * 64 * 8                            # tanh(w * x), saved by its backward
    tapes = set()
    for _ in range(5 * tapemod.MAX_SAVED_BYTES // per_graph):
        loss = (w * x).tanh().sum()
        tapes.add(loss._tape.serial)
        assert loss._tape.saved_bytes <= tapemod.MAX_SAVED_BYTES + 2 * per_graph
    assert len(tapes) >= 3
    loss.backward()
    assert w.grad.shape == (64,)
    # only one constant and leaves saved: never sealed by size
    first = (w * x).sum()
    for _ in range(8):
        loss = (w * x).sum()
    assert loss._tape is first._tape and loss._tape.saved_bytes == x.numpy().nbytes



def _small_mlp_loss(params, X, Y):
    h = X
    for i in range(0, len(params) - 2, 2):
        h = (h @ params[i] + params[i + 1]).tanh()
    return ((h @ params[-2] + params[-1] - Y) ** 2).mean()


def test_dropped_small_graphs_entries_count_towards_the_seal():
    # A graph of small n-d ops holds more in its entries (streams, n-d rows, shape items)
    # than in its saved arrays: the MLP 2-16-16-1 on 32 rows saves 4.2 KB in 13 entries.
    # Counting only the saved data, a tape of such graphs dropped without backward grew to
    # 3,243 entries and 1.8 MB held before it was sealed, and the backward after them ran
    # on caches they had filled; the entries count too, so what it holds stays near the limit.
    rng = np.random.default_rng(0)
    params = [tg.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
              for s in [(2, 16), (16,), (16, 16), (16,), (16, 1), (1,)]]
    X = tg.tensor(rng.standard_normal((32, 2)).astype(np.float32))
    Y = tg.tensor(rng.standard_normal((32, 1)).astype(np.float32))
    held, tapes = 0, set()
    for _ in range(1000):
        loss = _small_mlp_loss(params, X, Y)
        tapes.add(loss._tape.serial)
        held = max(held, tg.tape_summary(loss).bytes)
        loss.item()
    assert len(tapes) >= 5
    assert held <= 1.25 * tapemod.MAX_SAVED_BYTES
    loss.backward()
    assert params[0].grad.shape == (2, 16)


def test_dropped_graphs_that_save_nothing_seal_the_tape():
    # n-d graphs whose ops save nothing (`(b + 1).sum()`): their entries alone seal the tape
    # (checked as the streams grow), where they filled it up to MAX_ENTRIES (65,536)
    b = tg.ones(64, 64, requires_grad=True)
    held, tapes = 0, set()
    for _ in range(6000):
        loss = (b + 1).sum()
        tapes.add(loss._tape.serial)
        held = max(held, tg.tape_summary(loss).bytes)
    assert len(tapes) >= 2
    assert held <= 1.5 * tapemod.MAX_SAVED_BYTES
    loss.backward()
    assert b.grad.sum().item() == 64 * 64

def _walk(fn, names):
    """The names of fn and of every node its next_functions lead to (depth first)."""
    if fn is not None:
        names.append(fn.name())
        for f, _ in fn.next_functions:
            _walk(f, names)
    return names


def _split_graph(w1, w2, x):
    """A graph whose middle op reads only leaves (w2 * 0.5): when the tape is sealed just
    before it, that op starts a new tape and the rest imports h from the sealed one.  Nearly
    all it saves is h, so a tape is nearly always sealed there (every tape it fills is)."""
    h = (x * w1).tanh()
    return (h * (w2 * 0.5)).sum(1).tanh().sum()


@pytest.mark.parametrize("shown", [False, True])
def test_dropped_graphs_split_across_tapes_do_not_chain_them(shown):
    # Each tape sealed in the middle of a graph is imported from by the next, which stays open
    # for the next graphs and is sealed in the middle of one in turn: without
    # import_links.release_dead_imports every tape held the one before it, and a loop
    # evaluating graphs without backward kept them all (4.6 GB after 30k steps of a small MLP).
    w1 = tg.ones(64, requires_grad=True)
    w2 = tg.ones(64, requires_grad=True)
    x = tg.tensor(np.full((200, 64), 0.5))
    tapes, splits = [], 0
    for _ in range(12 * tapemod.MAX_SAVED_BYTES // (200 * 64 * 8)):
        loss = _split_graph(w1, w2, x)
        loss.item()
        if shown:                     # grad_fn objects cached, naming the older tape's
            _walk(loss.grad_fn, [])
        splits += bool(loss._tape.imports)
        if not tapes or tapes[-1]() is not loss._tape:
            tapes.append(weakref.ref(loss._tape))
    assert splits >= 10               # the graphs did go on from older tapes
    gc.collect()
    assert len(tapes) >= 8 and sum(t() is not None for t in tapes) <= 3
    loss.backward()                   # the last graph, split or not, still differentiates
    assert w2.grad.shape == (64,)


@pytest.mark.parametrize("how", ["no_grad", "detach", "cosine_similarity"])
def test_results_changed_in_place_outside_the_graph_do_not_chain_tapes(torch_ref, how):
    # A recorded result changed in place under no_grad (or through a detach()ed alias) lets
    # its tape go: the next op opens a new tape that imports the result.  That new tape stays
    # open for the next step, whose own change lets it go in turn: each tape held the one
    # before (every tape of a forward-only loop of F.cosine_similarity stayed alive, ~150 KB
    # each) until the replaced tape's dead import links were dropped as open_tape drops them.
    x = tg.tensor(np.linspace(-1.0, 1.0, 64).reshape(8, 8), requires_grad=True)
    other = tg.tensor(np.linspace(0.5, 2.0, 64).reshape(8, 8))

    def step():
        if how == "cosine_similarity":
            return tg.nn.functional.cosine_similarity(x, other).sum()
        y = x * 2.0
        if how == "no_grad":
            with tg.no_grad():
                y.clamp_min_(0.5)
        else:
            y.detach().clamp_min_(0.5)
        return (y * 3.0).sum()
    tapes = []
    for _ in range(40):
        loss = step()
        assert loss._tape.imports          # (the step did go on from the tape it let go)
        tapes.append(weakref.ref(loss._tape))
    del loss
    gc.collect()
    assert sum(t() is not None for t in tapes) <= 3
    loss = step()
    loss.backward()                        # the last step still differentiates, as torch
    xt = torch_ref.tensor(x.detach().numpy(), requires_grad=True)
    ot = torch_ref.tensor(other.numpy())
    if how == "cosine_similarity":
        want = torch_ref.nn.functional.cosine_similarity(xt, ot).sum()
    else:
        yt = xt * 2.0
        with torch_ref.no_grad():
            yt.clamp_min_(0.5)
        want = (yt * 3.0).sum()
    want.backward()
    np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_graph_spanning_many_sealed_tapes_keeps_every_link_it_needs():
    # One graph across many tapes, its intermediate tensors dropped: the tapes are held only
    # by the import entries of newer ones, and the links the graph runs through must stay.
    steps = 5 * tapemod.MAX_SAVED_BYTES // (2 * 200 * 64 * 8)

    def run():
        w1 = tg.tensor(np.linspace(0.5, 1.5, 64), requires_grad=True)
        w2 = tg.tensor(np.linspace(1.0, 0.2, 64), requires_grad=True)
        h = tg.tensor(np.full((200, 64), 0.1))
        tapes = set()
        for _ in range(steps):
            h = (h * (w2 * 0.5) + w1 * 0.01).tanh()
            tapes.add(h._tape.serial)
        h.sum().backward()
        return len(tapes), w1.grad.numpy().copy(), w2.grad.numpy().copy()
    spanned, g1, g2 = run()
    assert spanned >= 3               # the graph went across several tapes
    saved, tapemod.MAX_SAVED_BYTES = tapemod.MAX_SAVED_BYTES, 1 << 40
    try:
        spanned, r1, r2 = run()       # the same graph on one tape
    finally:
        tapemod.MAX_SAVED_BYTES = saved
    assert spanned == 1
    # (across tapes the gradient of w1, used in every step, is summed in another order)
    np.testing.assert_allclose(g1, r1, rtol=1e-13)
    np.testing.assert_allclose(g2, r2, rtol=1e-13)


def test_a_kept_loss_or_grad_fn_keeps_its_graph_across_sealed_tapes():
    w1 = tg.ones(64, requires_grad=True)
    w2 = tg.ones(64, requires_grad=True)
    x = tg.tensor(np.full((200, 64), 0.5))
    kept = fn = None
    for i in range(6 * tapemod.MAX_SAVED_BYTES // (200 * 64 * 8)):
        loss = _split_graph(w1, w2, x)
        repr(loss)                    # (caches its grad_fn node on the tape)
        if kept is None and loss._tape.imports:
            kept = loss               # a graph that went on from an older tape
            fn = (loss * 1.0).grad_fn
    assert kept is not None

    names = _walk(fn, [])              # through the import into the older tape: w1's node
    assert names.count("torch::autograd::AccumulateGrad") == 2, names
    kept.backward()                   # its graph, reached through the older tape
    g1, g2 = w1.grad.numpy().copy(), w2.grad.numpy().copy()
    w1.grad = w2.grad = None
    _split_graph(w1, w2, x).backward()
    np.testing.assert_array_equal(g1, w1.grad.numpy())
    np.testing.assert_array_equal(g2, w2.grad.numpy())


@pytest.mark.parametrize("case", ["index", "embedding", "gather", "where", "masked select",
                                  "scatter_add", "fresh constant"])
def test_dropped_graphs_of_index_ops_and_constants_hold_bounded_memory(case):
    """A forward-only loop (evaluation without no_grad) whose graphs die unused: the tape
    they are on is sealed once what it holds passes MAX_SAVED_BYTES, and dies with them.
    An index op's positions (params as large as its output) and a constant's array (a batch
    that dies, where's float64 copy of its mask) count; each call here leaves ~64-130 KB, so
    300 calls kept would be 20-40 MB (counted from the live tapes, not RSS)."""
    gen = tg.Generator().manual_seed(0)
    emb = tg.randn(1000, 64, requires_grad=True, generator=gen)
    idx = tg.randint(0, 1000, (256,), generator=gen)
    x = tg.randn(256, 64, requires_grad=True, generator=gen)
    cls = tg.randint(0, 64, (256, 1), generator=gen)
    fn = {"index": lambda: emb[idx],
          "embedding": lambda: tg.nn.functional.embedding(idx, emb),
          "gather": lambda: x.gather(1, cls.expand(256, 64)),
          "where": lambda: tg.where(x > 0, x, 0.0),
          "masked select": lambda: x[x > 0],
          "scatter_add": lambda: x.scatter_add(1, cls.expand(256, 64), x),
          "fresh constant": lambda: x * tg.randn(256, 64, generator=gen)}[case]
    for _ in range(300):
        fn()
    gc.collect()
    assert tg.tape_summary().bytes < 4 * tapemod.MAX_SAVED_BYTES


class _Holds(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x, big):
        ctx.save_for_backward(big)
        ctx.also = big._array()          # (an attribute: the ctx keeps it too)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2, None


def test_dropped_graphs_of_a_custom_function_hold_bounded_memory():
    # the tape keeps each call's ctx (its saved tensors and attributes), which counted for
    # nothing: 300 calls of 4 MB each kept 1.1 GB (the tape sealed only at 65,536 entries)
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    alive = []
    for _ in range(300):
        big = tg.ones(250_000)
        alive.append(weakref.ref(big))
        _Holds.apply(x, big)
        del big
    gc.collect()
    assert sum(r() is not None for r in alive) < 10


# (x: a (2, 3) leaf, x4: a (1, 1, 4, 4) leaf)
_SECOND_BACKWARD = [
    # torch's node saves its indices (or mask): a second backward fails
    "x[torch.tensor([0, 1, 1])]", "x[:, [True, False, True]]", "x[[0, 1], [1, 2]]",
    "x.index_select(1, torch.tensor([0, 2]))", "x.gather(1, torch.tensor([[1], [0]]))",
    "x.take(torch.tensor([1, 4]))", "torch.take_along_dim(x, torch.tensor([[0], [2]]), 1)",
    "x.masked_select(x > 2)", "x[x > 2]", "x.sort()[0]", "x.sort(stable=True)[0]", "x.msort()",
    "x.topk(2)[0]", "x.kthvalue(2)[0]", "x.max(1)[0]", "x.min(1).values", "x.max()", "x.amax(1)",
    "x.median()", "x.median(1)[0]", "x.nanmedian(1)[0]", "x.mode(1)[0]", "x.cummax(1)[0]",
    "x.cummin(1)[0]", "F.embedding(torch.tensor([1, 0]), x)", "F.max_pool2d(x4, 2)",
    "F.adaptive_max_pool2d(x4, 2)", "x.repeat_interleave(torch.tensor([1, 2]), dim=0)",
    "torch.nn.utils.rnn.pack_padded_sequence(x.reshape(2, 3, 1), [2, 1, 1]).data",
    "torch.zeros(4).scatter_reduce(0, torch.tensor([0, 0, 1]), x[0], 'amax')",
    "torch.zeros(2, 3).index_add(0, torch.tensor([1, 1]), x)",
    "torch.zeros(2, 3).scatter_add(1, torch.tensor([[0, 0, 0]]), x[:1])",
    "torch.zeros(2, 3).index_put((torch.tensor([1]),), x[0], accumulate=True)",
    "torch.zeros(6).put(torch.tensor([1, 1]), x[0, :2], accumulate=True)",
    # torch's node saves no tensor: the graph can be swept again
    "x.flip(1)", "x.roll(1, 1)", "x.repeat(2, 1)", "x.rot90()", "x.diagonal()", "x[:, 1:]",
    "x.narrow(1, 1, 2)", "(x * 1)[:, :2].add_(1)", "(x * 1)[0].copy_(x[1])",
    "F.interpolate(x4, scale_factor=2)",
    "F.interpolate(x4, scale_factor=2, mode='bilinear')",
    "F.interpolate(x4, scale_factor=0.5, mode='bicubic', antialias=True)",
    "F.affine_grid(x.unsqueeze(0), (1, 1, 2, 2), align_corners=False)",
    "torch.select_scatter(x4, x4[:, :, 0], 2, 1)", "torch.slice_scatter(x4, x4[:, :, :2], 2, 0, 2)",
    "torch.diagonal_scatter(x4[0, 0], x4[0, 0, 0])", "F.pixel_shuffle(x4.reshape(1, 4, 2, 2), 2)",
    # (mul(Tensor, Scalar) & co in torch's compositions save the number, no tensor)
    "torch.trapezoid(x)", "torch.trapezoid(x, dx=2.)", "torch.cumulative_trapezoid(x)",
    "torch.trapz(x, dx=0.5)", "torch.trapezoid(x, torch.tensor([0., 1., 3.]))",
    "F.cosine_embedding_loss(x, x.detach() * 2, torch.tensor([1, -1]))",
    # (LerpBackward0 of a number weight saves the number; LerpBackward1 saves the tensors)
    "x.lerp(x.detach() * 2, 0.3)", "x.lerp(x.detach() * 2, 0.7)",
    "x.lerp(x.detach() * 2, torch.full((3,), 0.3))",
    # (Add/Sub/RsubBackward0 of an alpha save the number)
    "torch.add(x, x.detach(), alpha=2)", "torch.sub(x.detach(), x, alpha=0.5)",
    "torch.rsub(x, 3.0, alpha=2)", "x.add(x, alpha=3)"]


@pytest.mark.parametrize("expr", _SECOND_BACKWARD)
def test_second_backward_through_saved_indices_matches_torch(expr):
    """A gather whose torch node saves its indices (IndexBackward0, SortBackward0, ...) is
    freed by a backward without retain_graph; a decomposition whose node saves no tensor
    (an upsample, select_scatter) frees none of its primitives, as torch frees nothing."""
    torch = pytest.importorskip("torch")
    results = []
    for m in (tg, torch):
        x = m.arange(1.0, 7.0).reshape(2, 3).requires_grad_()
        x4 = m.arange(16.0).reshape(1, 1, 4, 4).requires_grad_()
        y = eval(expr, {"torch": m, "F": m.nn.functional, "x": x, "x4": x4})
        y.sum().backward()
        try:
            y.sum().backward()
            # (to 5 decimals: an antialiased bicubic's gradient differs in the last bit)
            results.append(("ok",) + tuple(t.grad is not None and np.round(
                np.array(t.grad.tolist()), 5).tolist() for t in (x, x4)))
        except RuntimeError as e:
            results.append(str(e))
    assert results[0] == results[1]


def test_release_of_a_scalar_tape_marks_what_release_saved_marks():
    """A tape without n-d streams frees by three numpy passes (Tape.release): the entries
    marked run (any nonzero mark, the skip bit too) whose op saves something, and no other,
    as the kernel release_saved marks them; then a second backward raises torch's error."""
    from tapegrad._jit import K
    x = tg.tensor(0.5, requires_grad=True)
    w = tg.tensor(2.0, requires_grad=True)
    y = x
    for _ in range(50):   # saving (mul of two tensors, sin, exp) and not (add, mul by a number)
        y = (y * w).sin() + y.exp() * 0.25 + 1.0
    tape = y._tape
    assert tape.nds is None
    n = tape.n
    rng = np.random.default_rng(0)
    ran = rng.choice(np.array([0, 1, 3], np.uint8), n)
    a = tape._arrays
    want = a[5][:n].copy()
    K.release_saved(ran, a[0][:n], a[1][:n], a[2][:n], np.zeros(n + 1, np.int64),
                    np.zeros(0, np.int64), tapemod._SAVES, want, np.full(n, -1, np.int64),
                    np.zeros(1, np.int32), np.zeros(1, np.int64))
    tape.release(ran)
    got = a[5][:n]
    np.testing.assert_array_equal(got, want)
    assert got.any() and not got.all()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
