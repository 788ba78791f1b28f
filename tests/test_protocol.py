"""The one recording protocol (tapegrad/protocol.py): every writer of tape entries is rendered
from it by codegen, and they agree.

* structurally: in `Tape.push`, every scalar fast-path function and the create_graph emit
  kernels, each append is "reserve, one store per stream in protocol order, publish";
* by what they write: the fast path, `Tape.push` and the emit kernel put the same five cells
  on a tape for the same entry."""
import ast
import inspect
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _fastpath, _push, codegen, protocol
from tapegrad._jit import kernels
from tapegrad.ops import OPS
from tapegrad.tape import STATE, CLOSED, Tape

KERNELS_SOURCE = open(codegen.TARGET).read()


def _events(fn_node, stream_of):
    """The function's appends in source order: "reserve", a stream name per store, "publish".
    `stream_of(target)` names the stream a subscript store writes (or None)."""
    out = []
    for node in ast.walk(fn_node):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            tgt, val = node.targets[0], node.value
            src = ast.unparse(val)
            if isinstance(tgt, ast.Subscript) and stream_of(tgt) is not None:
                out.append((node.lineno, stream_of(tgt)))
            elif src in ("tape.n", "self.n", "cnt[0]") and isinstance(tgt, ast.Name):
                out.append((node.lineno, "reserve"))
            elif ast.unparse(tgt) in ("tape.n", "self.n", "cnt[0]"):
                out.append((node.lineno, "publish"))
    return [e for _, e in sorted(out)]


def _blocks(events):
    """The appends of an event list: each from a "reserve" to the next "publish"."""
    out, cur = [], None
    for e in events:
        if e == "reserve":
            assert cur is None, events
            cur = [e]
        else:
            assert cur is not None, events
            cur.append(e)
            if e == "publish":
                out.append(cur)
                cur = None
    assert cur is None, events
    return out


def _appends_follow_protocol(events, lean=False, names=None):
    """Every append is "reserve", one store per stream in protocol order, "publish"; with
    `lean` (the fast path) the store of a stream in protocol.DEFAULTS may be left out (the
    cell already holds the default)."""
    names = protocol.NAMES if names is None else names
    blocks = _blocks(events)
    assert blocks, "no append found"
    for b in blocks:
        stores = b[1:-1]
        if lean:
            assert stores == [n for n in names if n in stores], events
            assert set(names) - set(stores) <= set(protocol.DEFAULTS), events
        else:
            assert stores == list(names), events


def _python_stream(tgt):
    v = tgt.value
    if isinstance(v, ast.Attribute) and v.attr in protocol.NAMES:
        return v.attr
    return None


def _numba_stream(tgt):
    v = tgt.value
    if isinstance(v, ast.Name) and v.id in protocol.NAMES:
        return v.id
    return None


def _function(source, name):
    tree = ast.parse(source)
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)


def test_tape_push_is_the_rendered_one():
    assert Tape.push is _push.push and Tape.push_nd is _push.push_nd
    assert Tape.push_input_nd is _push.push_input_nd and Tape.push_input is _push.push_input
    with open(codegen.PUSH_TARGET) as f:
        assert f.read() == codegen.generate_push(), "run `python tapegrad/codegen.py`"
    for name in ("push", "push_nd"):
        _appends_follow_protocol(_events(_function(inspect.getsource(_push), name),
                                         _python_stream))
    # (an input entry leaves out the stores of its default cells)
    for name in ("push_input_nd", "push_input"):
        _appends_follow_protocol(_events(_function(inspect.getsource(_push), name),
                                         _python_stream), lean=True)


def test_push_nd_writes_what_push_writes(fresh_tape):
    """push_nd(op, a, b, c, shape, size) leaves the same cells, shape and n-d streams as
    push(op, a, b, c, 0.0, shape); past 8 dimensions it raises before any store."""
    tapes = []
    for fn in (lambda t: t.push(5, 0, 0, 0.0, 0.0, (3, 4)),
               lambda t: t.push_nd(5, 0, 0, 0.0, (3, 4), 12)):
        t = Tape()
        t.push(OPS["leaf"].code, -1, -1, 0.0, 0.0, (3, 4))
        fn(t)
        tapes.append(t)
    a, b = tapes
    assert a.n == b.n == 2 and _cells(a, 1) == _cells(b, 1) and a.shape == b.shape
    for name in ("size", "nd", "shp", "par", "npar", "slot"):
        np.testing.assert_array_equal(getattr(a.nds, name)[:2], getattr(b.nds, name)[:2])
    with pytest.raises(RuntimeError, match="at most 8 dimensions"):
        b.push_nd(5, 0, 0, 0.0, (1,) * 9, 1)
    assert b.n == 2 and _cells(b, 2)[2:4] == (-1, 0.0)   # (the defaults past the count)


def test_push_input_nd_writes_what_push_writes(fresh_tape):
    """push_input_nd(op, shape, size) leaves the cells, shape and n-d streams push(op, -1,
    -1, 0.0, 0.0, shape) leaves, on new streams and on pooled ones whose cells held other
    values (a tape that died after writing operands and immediates there); past 8
    dimensions it raises before any store."""
    const = OPS["const"].code
    for _ in range(3):   # (the later rounds take the streams the earlier tapes pooled)
        tapes = []
        for fn in (lambda t: t.push(const, -1, -1, 0.0, 0.0, (3, 4)),
                   lambda t: t.push_input_nd(const, (3, 4), 12)):
            t = Tape()
            t.push(OPS["leaf"].code, -1, -1, 0.0, 0.0, (2,))
            fn(t)
            tapes.append(t)
        a, b = tapes
        assert a.n == b.n == 2 and _cells(a, 1) == _cells(b, 1) == (const, -1, -1, 0.0, 0.0)
        assert a.shape == b.shape
        for name in ("size", "nd", "shp", "par", "npar", "slot"):
            np.testing.assert_array_equal(getattr(a.nds, name)[:2], getattr(b.nds, name)[:2])
        with pytest.raises(RuntimeError, match="at most 8 dimensions"):
            b.push_input_nd(const, (1,) * 9, 1)
        assert b.n == 2
        for t in (a, b):   # (dirty the cells the next tapes on these streams will use)
            t.push(5, 0, 1, 2.5, 0.0, (3, 4))
            t.push(5, 1, 0, -1.5, 0.0, (3, 4))
        del a, b, t, tapes


def test_push_input_writes_what_push_writes(fresh_tape):
    """push_input(op, v) (a one-element leaf's or import's entry) leaves the cells and count
    push(op, -1, -1, 0.0, v) leaves, on new streams and on pooled ones whose cells held other
    values, also where the append grows the tape."""
    leaf = OPS["leaf"].code
    for _ in range(3):   # (the later rounds take the streams the earlier tapes pooled)
        tapes = []
        for fn in (lambda t, v: t.push(leaf, -1, -1, 0.0, v),
                   lambda t, v: t.push_input(leaf, v)):
            t = Tape()
            for i in range(t.lim + 1100):   # (past lim: grow fills the defaults ahead)
                assert fn(t, 0.5 * i) == i
            tapes.append(t)
        a, b = tapes
        assert a.n == b.n
        assert [_cells(a, i) for i in range(a.n)] == [_cells(b, i) for i in range(b.n)] == \
            [(leaf, -1, -1, 0.0, 0.5 * i) for i in range(a.n)]
        for t in (a, b):   # (dirty the cells the next tapes on these streams will use)
            for i in range(t.n):
                t.ib[i], t.imm[i] = 3, 2.5
        del a, b, t, tapes


@pytest.mark.parametrize("name", [n for n in dir(_fastpath) if n.startswith("op_")])
def test_fast_path_appends_follow_the_protocol(name):
    fn = getattr(_fastpath, name)
    _appends_follow_protocol(_events(_function(inspect.getsource(fn), name), _python_stream),
                             lean=True)


@pytest.mark.parametrize("name", ["emit_bin", "emit_un", "emit_where"])
def test_emit_kernels_follow_the_protocol(name):
    _appends_follow_protocol(_events(_function(KERNELS_SOURCE, name), _numba_stream))


def test_every_copy_is_rendered_from_the_description(monkeypatch):
    """Change the description (streams written in another order) and every writer codegen
    renders changes with it: none of the copies is written by hand."""
    order = tuple(reversed(protocol.NAMES))
    monkeypatch.setattr(protocol, "NAMES", order)
    fast = ast.parse(codegen.generate_fastpath())
    kern = ast.parse(codegen.generate())
    push = ast.parse(codegen.generate_push())
    for tree, names, stream_of, lean in (
            (fast, [n for n in dir(_fastpath) if n.startswith("op_")], _python_stream, True),
            (kern, ["emit_bin", "emit_un", "emit_where"], _numba_stream, False),
            (push, ["push", "push_nd"], _python_stream, False),
            (push, ["push_input_nd", "push_input"], _python_stream, True)):
        for name in names:
            fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)
            _appends_follow_protocol(_events(fn, stream_of), lean=lean, names=order)


def _cells(tape, n):
    return (int(tape.op[n]), int(tape.ia[n]), int(tape.ib[n]), float(tape.imm[n]),
            float(tape.val[n]))


@pytest.fixture
def fresh_tape():
    STATE.tape = CLOSED
    yield
    STATE.tape = CLOSED


@pytest.mark.parametrize("opname, const_first", [("mul", False), ("sub", True), ("add", False),
                                                  ("div", False)])
def test_fast_path_push_and_emit_write_the_same_cells(fresh_tape, opname, const_first):
    code = OPS[opname].code
    x = tg.tensor(0.75, dtype=tg.float64, requires_grad=True)
    c = 1.5
    # the fast path
    y = {"mul": lambda: x * c, "add": lambda: x + c, "div": lambda: x / c,
         "sub": lambda: c - x}[opname]()
    tape = y._tape
    a = x._lnode
    fast = _cells(tape, y._node)
    # Tape.push with the same operands
    ia, ib = (-1, a) if const_first else (a, -1)
    n = tape.push(code, ia, ib, c, float(tape.val[y._node]))
    assert _cells(tape, n) == fast
    # the emit kernel (create_graph's recording sweep) on copies of the streams
    k = kernels()
    size = tape.n + 4
    arrs = [np.zeros(size, dt) for dt in (np.int16, np.int32, np.int32, np.float64, np.float64)]
    arrs[4][a] = 0.75
    cnt = np.array([tape.n, 0], np.int64)
    xt = (True, np.int64(a), 0.75)
    ct = (False, np.int64(-1), c)
    args = (ct, xt) if const_first else (xt, ct)
    # (record_backward evaluates the op's formula inline and passes the value)
    v = {"mul": 0.75 * c, "add": 0.75 + c, "div": 0.75 / c, "sub": c - 0.75}[opname]
    k.emit_bin(code, *args, 0.0, v, *arrs, cnt)
    e = tape.n
    emitted = (int(arrs[0][e]), int(arrs[1][e]), int(arrs[2][e]), float(arrs[3][e]),
               float(arrs[4][e]))
    assert cnt[0] == e + 1
    assert emitted[:4] == fast[:4]
    assert math.isclose(emitted[4], fast[4], rel_tol=1e-15)


def test_unary_fast_path_push_and_emit_write_the_same_cells(fresh_tape):
    code = OPS["tanh"].code
    x = tg.tensor(0.3, dtype=tg.float64, requires_grad=True)
    y = x.tanh()
    tape = y._tape
    fast = _cells(tape, y._node)
    n = tape.push(code, x._lnode, -1, 0.0, math.tanh(0.3))
    assert _cells(tape, n) == fast
    arrs = [np.zeros(tape.n + 2, dt) for dt in (np.int16, np.int32, np.int32, np.float64, np.float64)]
    cnt = np.array([tape.n, 0], np.int64)
    kernels().emit_un(code, (True, np.int64(x._lnode), 0.3), 0.0, math.tanh(0.3), *arrs, cnt)
    e = tape.n
    assert (int(arrs[0][e]), int(arrs[1][e]), int(arrs[2][e]), float(arrs[3][e])) == fast[:4]
    assert math.isclose(float(arrs[4][e]), fast[4], rel_tol=1e-15)


def _defaults_past_count(tape):
    """Cells n..lim-1 hold protocol.DEFAULTS (what a lean append leaves unstored)."""
    a = tape._arrays
    assert tape.n <= tape.lim <= tape.cap
    return bool((a[2][tape.n:tape.lim] == int(protocol.DEFAULTS["ib"])).all()
                and (a[3][tape.n:tape.lim] == float(protocol.DEFAULTS["imm"])).all())


@pytest.mark.parametrize("kernel", [True, False])
def test_cells_past_the_count_hold_the_defaults(fresh_tape, monkeypatch, kernel):
    """The fast path skips storing protocol.DEFAULTS: cells n..lim-1 hold them, on new
    stream arrays, on pooled ones a dead tape wrote (cleaned when given back, by the reset
    kernel or, before the kernels are loaded, by numpy), and after growing."""
    from tapegrad import tape as tape_module
    monkeypatch.setattr(tape_module, "_POOL", [])   # room for the dead tape's set
    monkeypatch.setattr(tape_module, "_RESET_READY", [False])
    if kernel:   # (the next new tape readies the reset kernel)
        kernels()
        monkeypatch.setattr(tape_module, "_KERNEL_AFTER", 0)
    else:
        monkeypatch.setattr(tape_module, "loaded", lambda: False)
    x = tg.tensor(0.5, requires_grad=True)
    w = tg.tensor(2.0, requires_grad=True)
    y = x
    for _ in range(3000):   # binary entries with ib >= 0 and imm != 0 in most cells; grows
        y = y * w + 1.5
    tape = y._tape
    assert tape.cap > 1024 and _defaults_past_count(tape)
    cap, written = tape.cap, tape.n
    y.backward()
    assert tape_module._RESET_READY[0] == kernel
    del y, tape
    STATE.tape = CLOSED   # the dead tape's streams go back to the pool
    t = Tape(cap)          # ... and this one takes them, cleaned up to their `clean` mark
    assert t.n == 0 and t.lim >= written and _defaults_past_count(t)
    assert not t._arrays[5].any()
    for k in range(t.lim + 1500):  # lean appends through the cleaned cells, and past lim
        t.push(OPS["mul"].code, k - 1, k, 0.5, 1.0) if k % 2 else None
        n = t.n
        if n >= t.lim:
            t.grow()
        assert _defaults_past_count(t)
        t.op[n], t.ia[n], t.val[n] = OPS["sin"].code, n - 1, 0.25
        t.n = n + 1
        assert _cells(t, n)[1:4] == (n - 1, -1, 0.0)
    del t
    STATE.tape = CLOSED
    z = x.sin()            # lean stores on a fresh tape: ib and imm come from the defaults
    s = x * 3.0
    u = z + s
    tape = u._tape
    assert _cells(tape, z._node)[1:4] == (x._lnode, -1, 0.0)
    assert _cells(tape, s._node)[2:4] == (-1, 3.0)
    assert _cells(tape, u._node)[1:4] == (z._node, s._node, 0.0)
    assert _defaults_past_count(tape)


def test_dropped_create_graph_entries_leave_the_defaults(fresh_tape, monkeypatch):
    """create_graph's recording sweep writes entries past the count before it publishes them:
    when the call fails (here Ctrl-C just before publishing) they are dropped and the cells
    hold the defaults again."""
    from tapegrad import engine

    class Interrupted:
        def __enter__(self):
            raise KeyboardInterrupt

        def __exit__(self, *exc):
            return False

    x = tg.tensor(0.5, dtype=tg.float64, requires_grad=True)
    y = (x * x * 3.0).sin()
    tape = y._tape
    n = tape.n
    monkeypatch.setattr(engine, "COMMIT", Interrupted())
    with pytest.raises(KeyboardInterrupt):
        tg.autograd.grad(y, x, create_graph=True)
    assert tape.n == n and _defaults_past_count(tape)
    monkeypatch.undo()
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    assert math.isclose(float(g), math.cos(0.75) * 3.0, rel_tol=1e-12)
    assert _defaults_past_count(tape)


def test_a_failing_push_leaves_the_defaults(fresh_tape):
    """Tape.push stores every stream; a value that does not convert fails after ib and imm
    were stored, and the cells hold the defaults again (a lean append may follow)."""
    x = tg.tensor(0.5, dtype=tg.float64, requires_grad=True)
    y = x * 2.0
    tape = y._tape
    n = tape.n
    with pytest.raises(TypeError):
        tape.push(OPS["mul"].code, y._node, y._node, 2.5, "not a float")
    assert tape.n == n and _defaults_past_count(tape)
    z = y.sin()
    assert _cells(tape, z._node)[1:4] == (y._node, -1, 0.0)
