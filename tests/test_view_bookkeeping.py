"""The version bookkeeping of recorded views (tape.record_view, record_views) and the view
ops' recording paths, beside torch: a view's node and its base's are watched at the version
they had, so a backward through a saved view or base changed in place since (through
either, under no_grad: nothing recorded) raises torch's error; the views of a count are
remembered, so a recorded in-place op regenerates them; unbind / split / chunk's pieces are
views (one count with their input, `_base`), refused in place as torch's multi-output views.
Each case runs on both libraries and compares values, versions, grad_fn names, gradients and
error messages."""
import math

import pytest

import tapegrad
from outcomes import fn_name, outcome


def _run(lib, case):
    return outcome(lib, case)


def _grads(lib, r, *leaves):
    """Backward of (r * (1, 2, 3, ...)).sum(): the leaves' gradients."""
    w = lib.arange(1.0, 1 + r.numel(), dtype=r.dtype).reshape(r.shape)
    (r * w).sum().backward()
    return [None if t.grad is None else t.grad.tolist() for t in leaves]


def _raised(fn):
    """The type of what fn() raised, or "ok": where tapegrad's message is known to differ
    from torch's (a regenerated view's node name, a multi-output view's message at backward)
    the cases compare whether the check fired, which is what the bookkeeping decides."""
    try:
        fn()
    except Exception as e:   # noqa: BLE001
        return type(e).__name__
    return "ok"


def _leaf(lib, *shape, dtype=None):
    n = math.prod(shape)
    return (lib.arange(n, dtype=dtype or lib.float32) / 4 - 1).reshape(shape).requires_grad_()


CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


# ---- one view (record_view): the view's node, the base's node, the remembered views --------
VIEWS = {
    "view": lambda x: x.view(-1), "reshape": lambda x: x.reshape(4, 6),
    "t": lambda x: x.t(), "transpose": lambda x: x.transpose(0, 1),
    "permute": lambda x: x.permute(1, 0), "unsqueeze": lambda x: x.unsqueeze(1),
    "expand": lambda x: x[:1].expand(5, 6), "slice": lambda x: x[:, 1:4],
    "select": lambda x: x[1], "flatten": lambda x: x.reshape(2, 2, 6).flatten(1),
    "narrow": lambda x: x.narrow(1, 2, 3), "diagonal": lambda x: x.diagonal(),
}


def _view_cases(name, op):
    def saved_view_base_changed(t):
        a = _leaf(t, 4, 6)
        x = a * 2
        v = op(x)
        y = (v * v).sum()      # (mul saves the view)
        with t.no_grad():
            x.add_(1)
        return v._version, x._version, _raised(y.backward)

    def saved_base_view_changed(t):
        a = _leaf(t, 4, 6)
        x = a * 2
        y = (x * x).sum()      # (mul saves the base)
        v = op(x)
        with t.no_grad():
            v.mul_(2)
        return v._version, x._version, _raised(y.backward)

    def view_then_recorded_inplace(t):
        a = _leaf(t, 4, 6)
        x = a * 2
        v = op(x)
        x.mul_(3)              # (recorded: the view is made again from x's new node)
        return v, _grads(t, v, a)

    def view_of_view_chain(t):
        a = _leaf(t, 4, 6)
        x = a * 1
        v = op(x)
        w = v.unsqueeze(0)
        return w._base is x, v._base is x, w, _grads(t, w, a)

    def no_grad_view(t):
        a = _leaf(t, 4, 6)
        x = a * 1
        with t.no_grad():
            v = op(x)
        return v.requires_grad, v._base is x, v.mul_(2) if False else v

    def int_view(t):
        x = t.arange(24).reshape(4, 6)
        v = op(x)
        x.add_(1)
        return v, v._version, v._base is x

    for fn in (saved_view_base_changed, saved_base_view_changed, view_then_recorded_inplace,
               view_of_view_chain, no_grad_view, int_view):
        CASES[f"{name}_{fn.__name__}"] = fn


for _n, _op in VIEWS.items():
    _view_cases(_n, _op)


@case
def view_of_leaf_changed(t):
    a = _leaf(t, 4, 6)
    v = a.view(-1)
    y = (v * v).sum()
    with t.no_grad():
        a.add_(1)
    return y.backward()


@case
def view_of_detached_alias(t):
    a = _leaf(t, 4, 6)
    x = a * 2
    d = x.detach()
    v = x.view(-1)
    y = (v * v).sum()
    d.add_(1)
    return y.backward()


@case
def one_element_view_follows_memory(t):
    a = _leaf(t, 1, 1)
    x = a * 2
    v = x.view(-1)
    y = (v * 3).sum()
    x.detach().view(-1)[0] = 5.0
    return v.tolist(), v._version, y.backward(), a.grad


# ---- several views (record_views): unbind / split / chunk's pieces ------------------------
PIECES = {
    "unbind0": lambda x: x.unbind(0), "unbind1": lambda x: x.unbind(1),
    "chunk": lambda x: x.chunk(3, 1), "split": lambda x: x.split(4, 1),
    "split_sizes": lambda x: x.split([1, 2, 3], 1), "split_past_size": lambda x: x.split(10, 1),
    "split_whole": lambda x: x.split(4, 0), "chunk_uneven": lambda x: x.chunk(4, 1),
    "chunk_more_than_size": lambda x: x.chunk(9, 0), "split_neg_dim": lambda x: x.split(5, -1),
    "chunk_one_element": lambda x: x[:1, :3].chunk(3, 1),
}


def _pieces_cases(name, op):
    def saved_piece_base_changed(t):
        a = _leaf(t, 4, 6)
        x = a * 2
        ps = op(x)
        y = sum((p * p).sum() for p in ps)
        with t.no_grad():
            x.add_(1)
        return [p._version for p in ps], _raised(y.backward)

    def saved_base_piece_changed(t):
        a = _leaf(t, 4, 6)
        x = a * 2
        y = (x * x).sum()
        ps = op(x)
        with t.no_grad():
            ps[-1].mul_(2)
        return x._version, y.backward()

    def pieces(t):
        a = _leaf(t, 4, 6)
        x = a * 2
        ps = op(x)
        out = [(p, p._base is x, p._is_view()) for p in ps]
        r = t.cat([p.reshape(-1) for p in ps])
        return out, _grads(t, r, a)

    def piece_inplace_refused(t):
        a = _leaf(t, 4, 6)
        ps = op(a * 2)
        return ps[0].mul_(2)

    def base_inplace_then_piece_used(t):
        a = _leaf(t, 4, 6)
        x = a * 2
        ps = op(x)
        x.mul_(2)
        return (ps[0] * 1).sum().backward()

    def no_grad_pieces(t):
        a = _leaf(t, 4, 6)
        with t.no_grad():
            ps = op(a * 2)
        return [(p.requires_grad, p._version) for p in ps], ps[0].mul_(2)

    def int_pieces(t):
        x = t.arange(24).reshape(4, 6)
        ps = op(x)
        x.add_(1)
        return ps, [p._version for p in ps]

    def strided_input(t):
        a = _leaf(t, 6, 4)
        x = (a * 2).t()
        ps = op(x)
        return ps, _grads(t, t.cat([p.reshape(-1) for p in ps]), a)

    for fn in (saved_piece_base_changed, saved_base_piece_changed, pieces,
               piece_inplace_refused, base_inplace_then_piece_used, no_grad_pieces,
               int_pieces, strided_input):
        CASES[f"{name}_{fn.__name__}"] = fn


for _n, _op in PIECES.items():
    _pieces_cases(_n, _op)


@case
def split_with_an_empty_piece(t):
    # (its values and gradients: torch's empty piece is a view, tapegrad's is not)
    a = _leaf(t, 4, 6)
    ps = (a * 2).split([0, 4, 2], 1)
    return [p.tolist() for p in ps], [fn_name(p.grad_fn) for p in ps], \
        _grads(t, t.cat([p.reshape(-1) for p in ps]), a)


@case
def one_element_pieces_follow_memory(t):
    # (a change through .data counts no version: the saved pieces read the memory at backward)
    out = []
    for make in (lambda x: x.unbind(0), lambda x: x.split(1), lambda x: x.chunk(3)):
        a = t.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x = a * 2
        ps = make(x)
        y = (ps[0] * ps[0] + ps[2] * 3).sum()
        x.data[0] = 5.0
        y.backward()
        out.append((a.grad.tolist(), [p.tolist() for p in ps]))
    return out


@case
def split_of_empty(t):
    x = t.zeros(0, 3, requires_grad=True) * 1
    return x.split(2), x.split(2, 1), x.chunk(2), x.unbind(1), _raised(lambda: x.split(0, 1))


@case
def unsafe_split_pieces(t):
    a = _leaf(t, 4, 6)
    x = a * 2
    ps = x.unsafe_split(2, 1)
    ps[0].mul_(2)
    return ps, [p._is_view() for p in ps], x._version, _grads(t, t.cat(ps, 1), a)


@case
def unbind_in_inference_mode(t):
    x = _leaf(t, 3, 2) * 1
    with t.inference_mode():
        ps = x.unbind(0)
    return [(p.is_inference(), p.requires_grad) for p in ps]


@case
def unbind_of_inference_tensor(t):
    with t.inference_mode():
        x = t.ones(3, 2)
    ps = x.unbind(0)
    return [p.is_inference() for p in ps]


# ---- the counters' index (Tape.watched), built on the first check that needs it ----------
def _after_first_check(t, change):
    """Entries made on a tape after a backward that built its counters' index (a change
    elsewhere first, so the check looks; retain_graph keeps the tape open), then `change`
    of what they saved: the next backward raises torch's error only if every writer kept
    the index."""
    a = _leaf(t, 4)
    y = a * t.ones(4)
    other = t.ones(2)
    other.add_(1)
    y.sum().backward(retain_graph=True)
    c = t.arange(4.0)                       # a constant entered (_enter)
    v = y[1:]                                # a view of a result (record_view)
    p0, p1 = (y * 1).unbind(0)[:2]           # pieces (record_views)
    z = (y * c).sum() + (v * v).sum() + p0 * p1
    change(a, c, v, y)
    z.backward()
    return a.grad


@case
def index_kept_for_a_constant(t):
    return _after_first_check(t, lambda a, c, v, y: c.add_(1))


@case
def index_kept_for_a_view(t):
    def change(a, c, v, y):
        with t.no_grad():
            y.add_(1)
    return _after_first_check(t, change)


@case
def index_kept_untouched(t):
    return _after_first_check(t, lambda a, c, v, y: None)


@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name):
    torch = pytest.importorskip("torch")
    got, want = _run(tapegrad, CASES[name]), _run(torch, CASES[name])
    assert got == want, f"\ntapegrad: {got}\ntorch:    {want}"


def test_short_param_lists_keep_numpy_cast():
    """Tape.add_params stores a short list of ints one by one; a float among them is cast
    as numpy casts it, as before."""
    from tapegrad.tape import Tape
    tape = Tape()
    n = tape.push_nd(0, -1, -1, 0.0, (2, 3), 6)
    tape.add_params(n, [3, 1, 2])
    m = tape.push_nd(0, -1, -1, 0.0, (2, 3), 6)
    tape.add_params(m, [4, 2.0, 7])
    k = tape.push_nd(0, -1, -1, 0.0, (2, 3), 6)
    tape.add_params(k, list(range(40)) + [5.0])   # (a float after 40 ints stored)
    j = tape.push_nd(0, -1, -1, 0.0, (2, 3), 6)
    tape.add_params(j, [9])
    assert tape.nds.params_of(n).tolist() == [3, 1, 2]
    assert tape.nds.params_of(m).tolist() == [4, 2, 7]
    assert tape.nds.params_of(k).tolist() == list(range(40)) + [5]
    assert tape.nds.params_of(j).tolist() == [9]


def test_param_space_is_the_entrys_params():
    """Tape.param_space hands out entry n's params to fill in place, counted as add_params
    counts them."""
    import numpy as np
    from tapegrad.tape import Tape
    tape = Tape()
    n = tape.push_nd(0, -1, -1, 0.0, (2, 3), 6)
    before = tape.saved_bytes
    space = tape.param_space(n, 6)
    np.add(np.array([[0], [10]]), np.arange(3), out=space.reshape(2, 3))
    m = tape.push_nd(0, -1, -1, 0.0, (2, 3), 6)
    tape.add_params(m, [7, 8])
    assert tape.nds.params_of(n).tolist() == [0, 1, 2, 10, 11, 12]
    assert tape.nds.params_of(m).tolist() == [7, 8]
    assert tape.saved_bytes - before == 8 * 8


def _index(tape):
    """Tape.watched as comparable data: each counter's {version: nodes}, in order."""
    return [{v: list(nodes) for v, nodes in by.items() if nodes}
            for _, by in tape.watched.values()]


def test_watch_index_is_what_the_writers_keep():
    """The counters' index built from `versions` when first needed is the one every writer
    keeps once it exists: leaves, constants, views, pieces, nn.Linear's one-pass transpose
    and prod's own counter, recorded twice, the index built before them and after."""
    got = []
    for early in (True, False):
        lin = tapegrad.nn.Linear(3, 4)
        x = tapegrad.ones(2, 3)
        a = _leaf(tapegrad, 3)
        y = a * 2
        tape = y._tape
        if early:
            tape.watch_index()
        h = lin(x)
        v = y[1:]
        ps = (y * 1).unbind(0)
        q = (a * x).prod(1)
        z = h.sum() + v.sum() + ps[0] * x.sum() + q.sum()
        assert z._tape is tape and (tape.watched is None) != early
        kept = _index(tape) if early else None
        tape.watched = None
        tape.watch_index()
        if early:
            assert _index(tape) == kept
        got.append(_index(tape))
        assert sum(len(n) for by in got[-1] for n in by.values()) == len(tape.versions) > 6
        z.backward()   # (seals the tape: the next run records on a new one)
    assert got[0] == got[1]


def test_a_step_builds_no_watch_index():
    """A training step's tape, opened after the update's version changes, never needs the
    index: no check looks (nothing changed since its entries were made)."""
    w = _leaf(tapegrad, 3, 2)
    x = tapegrad.ones(4, 3)
    for _ in range(2):
        loss = (x @ w).tanh().sum()
        loss.backward()
        assert loss._tape.watched is None and len(loss._tape.versions) == 2
        with tapegrad.no_grad():
            w -= 0.1 * w.grad
