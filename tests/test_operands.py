"""Operand lists (issue #8 section 1): operands beyond ia/ib in the CSR streams `arg_ptr` /
`arg`, read the same way by the walks, sweeps, replay, create_graph, next_functions and tape
files; where's condition is operand 3; cat and stack are one N-operand entry each."""
import io

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import ops
from tapegrad.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")


def names(fn):
    return [(type(f).__name__ if f is not None else None, i) for f, i in fn.next_functions]


def _entries_of(t, name):
    tape = t._tape
    return [e for e in range(tape.n) if ops.BY_CODE[tape.op[e]].name == name]


# ---- the CSR operand streams --------------------------------------------------------------------
def test_where_condition_is_the_third_operand():
    x = tg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    c = x > 0
    y = tg.where(c, x, x * 2.0)
    tape = y._tape
    (cond,) = tape.args_of(y._node).tolist()
    assert tape.op[cond] == ops.OPS["const"].code
    np.testing.assert_array_equal(tape.saved_array(cond), [1.0, 0.0, 1.0])
    arg_ptr, arg = tape.dependencies(tape.n)[2:]
    assert len(arg_ptr) == tape.n + 1 and arg_ptr[0] == 0 and arg_ptr[-1] == len(arg)
    assert np.count_nonzero(np.diff(arg_ptr)) == 1          # only the where entry has a list
    assert not hasattr(tape.nds, "cond")
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 1.0])
    assert tape.saved_array(cond) is None                    # released with the entry


def test_one_operand_add_arg_writes_what_add_args_writes():
    """NdStreams.add_arg (where's condition) stores the CSR streams as add_args of a
    one-element list: after entries without lists, right after another list, past the
    `arg` array's growth, and refuses an entry before the last one given operands."""
    from tapegrad.tape import NdStreams
    one, many = NdStreams(64), NdStreams(64)
    plan = [(0, 5), (3, 7), (4, 1), (9, 0)] + [(10 + k, k) for k in range(30)]
    for e, node in plan:
        one.add_arg(e, node)
        many.add_args(e, (node,))
        assert (one.nargs, one.argn) == (many.nargs, many.argn)
        np.testing.assert_array_equal(one.arg[:one.nargs], many.arg[:many.nargs])
        np.testing.assert_array_equal(one.arg_ptr[:one.argn + 1], many.arg_ptr[:many.argn + 1])
    for add in (one.add_arg, lambda e, k: many.add_args(e, (k,))):
        with pytest.raises(RuntimeError, match="in order"):
            add(20, 1)


def test_cat_operands_past_the_second_are_listed():
    a, b, c, d = (tg.full((2,), float(k), requires_grad=True) for k in range(4))
    out = tg.cat([a, b * 1.0, c, d])
    tape = out._tape
    e = out._node
    assert tape.ia[e] == a._lnode and tape.ib[e] >= 0
    assert tape.args_of(e).tolist() == [c._lnode, d._lnode]
    assert tape.params_of(e).tolist() == [1, 1, 2, 2, 2, 2]   # outer, inner, d_k
    # the walks reach the listed operands: only through them do c and d get gradients
    reach = tape.reached([e], tape.n)
    assert reach[c._lnode] and reach[d._lnode]
    (out * tg.arange(8.0)).sum().backward()
    for k, t in enumerate((a, b, c, d)):
        np.testing.assert_array_equal(t.grad.numpy(), [2 * k, 2 * k + 1])


def test_inputs_stop_at_listed_operands():
    a, b, c = (tg.ones(3, requires_grad=True) for _ in range(3))
    out = tg.cat([a, b, c * 3.0])
    (gc,) = tg.autograd.grad((out * out).sum(), [c])
    np.testing.assert_array_equal(gc.numpy(), np.full(3, 18.0))


def test_operands_given_out_of_order_are_refused():
    tape = tg.tape.Tape()
    for _ in range(3):
        tape.push(ops.OPS["const"].code, -1, -1, 0.0, 0.0, (2,))
    tape.add_args(2, [0])
    with pytest.raises(RuntimeError, match="in order"):
        tape.add_args(1, [0])


# ---- cat and stack against torch ---------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_cat_values_gradients_and_graph_as_torch(dim):
    rng = np.random.default_rng(5)
    shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4), (2, 3, 4)]
    shapes = [tuple(s if j != dim % 3 else s + k for j, s in enumerate(sh))
              for k, sh in enumerate(shapes)]
    vals = [rng.standard_normal(s) for s in shapes]
    res = []
    for m in (tg, torch):
        a, b, d = (m.tensor(vals[k], requires_grad=True) for k in (0, 1, 3))
        c = m.tensor(vals[2])                                      # a constant operand
        out = m.cat([a, b.exp(), c, d], dim)
        assert type(out.grad_fn).__name__ == "CatBackward0"
        w = m.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape))
        (out * w).sum().backward()
        res.append((names(out.grad_fn), out.detach().numpy(),
                    [t.grad.numpy() for t in (a, b, d)]))
    assert res[0][0] == res[1][0]
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)
    for p, q in zip(res[0][2], res[1][2]):
        np.testing.assert_allclose(p, q, rtol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
def test_stack_values_gradients_and_graph_as_torch(dim):
    rng = np.random.default_rng(6)
    vals = [rng.standard_normal((3, 2)) for _ in range(3)]
    res = []
    for m in (tg, torch):
        a, b = (m.tensor(vals[k], requires_grad=True) for k in (0, 1))
        out = m.stack([a, m.tensor(vals[2]), b * b], dim)
        assert type(out.grad_fn).__name__ == "StackBackward0"
        w = m.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape))
        (out * w).sum().backward()
        res.append((names(out.grad_fn), tuple(out.shape), out.detach().numpy(),
                    a.grad.numpy(), b.grad.numpy()))
    assert res[0][:2] == res[1][:2]
    for p, q in zip(res[0][2:], res[1][2:]):
        np.testing.assert_allclose(p, q, rtol=1e-12)


def test_cat_is_one_entry_with_params_linear_in_the_operands():
    a = tg.ones(1000, 100, requires_grad=True)
    b = tg.ones(1000, 100, requires_grad=True)
    out = tg.cat([a, b])
    tape = out._tape
    assert tape.n == 3                                 # two leaf entries and the cat
    assert tape.nds.nparams == 4 and tape.nds.nargs == 0
    assert len(tape.params_of(out._node)) == 4


def test_cat_promotes_dtypes_and_gives_each_input_its_dtype():
    for m in (tg, torch):
        a = m.ones(2, dtype=m.float32, requires_grad=True)
        b = m.ones(3, dtype=m.float64, requires_grad=True)
        i = m.ones(1, dtype=m.int64)
        out = m.cat([a, b, i])
        assert str(out.dtype).split(".")[-1] == "float64"
        (out * 2.0).sum().backward()
        assert str(a.grad.dtype).split(".")[-1] == "float32"
        np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0])
        assert str(m.stack([m.ones(2, dtype=m.int32), m.ones(2, dtype=m.int64)]).dtype
                   ).split(".")[-1] == "int64"


def _edge_names(t):
    return [None if f is None else type(f).__name__.replace("torch::autograd::", "")
            for f, _ in t.grad_fn.next_functions]


@pytest.mark.parametrize("fn", ["stack", "cat", "hstack", "vstack"])
def test_mixed_dtype_join_links_the_inputs_own_nodes_as_torch(fn):
    """torch's cat/stack promote inside the op: the edges are the inputs' own nodes
    (AccumulateGrad of a leaf), with no ToCopyBackward0 between."""
    names = []
    for m in (tg, torch):
        a = m.ones(2, dtype=m.float32, requires_grad=True)
        b = m.ones(2, dtype=m.float64, requires_grad=True)
        out = getattr(m, fn)([a, b * 2.0])
        names.append(_edge_names(out))
        out.sum().backward()
        assert str(a.grad.dtype).split(".")[-1] == "float32"
        np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])
        np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0])
    assert names[0] == names[1]


@pytest.mark.parametrize("call", [
    "m.cat([])", "m.stack([])", "m.cat([x, y], dim=2)", "m.cat([x, y], dim=-3)",
    "m.stack([x, x], dim=3)", "m.stack([x, x], dim=-4)", "m.cat([x, z])", "m.stack([x, y])",
    "m.cat([x, x.sum()])", "m.cat([x, x[0]])",
])
def test_errors_as_torch(call):
    errs = []
    for m in (tg, torch):
        x = m.ones(2, 3, requires_grad=True)
        y, z = m.ones(1, 3), m.ones(2, 4)
        with pytest.raises(Exception) as info:
            eval(call)
        errs.append((type(info.value), str(info.value)))
    assert errs[0] == errs[1]


def test_failed_cat_leaves_the_tape_as_it_was():
    x = tg.ones(2, 3, requires_grad=True)
    y = x * 2.0
    n = y._tape.n
    with pytest.raises(RuntimeError):
        tg.cat([y, tg.ones(2, 4)])
    assert y._tape.n == n


# ---- create_graph, gradcheck ------------------------------------------------------------------
def test_cat_and_stack_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(7)
    xs = [tg.tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 3), (1, 3), (4, 3)]]

    def f(a, b, c):
        j = tg.cat([a * a, b, c.sin(), a], 0)
        return tg.stack([j, j * j, j.exp()], 1) * tg.cat([b] * 9)[:, None]
    assert gradcheck(f, xs)
    assert gradgradcheck(f, xs)


def test_double_backward_through_cat_as_torch():
    res = []
    for m in (tg, torch):
        x = m.tensor([0.5, -1.0, 2.0], dtype=m.float64, requires_grad=True)
        y = m.tensor([1.5], dtype=m.float64, requires_grad=True)
        out = m.stack([m.cat([x * x, y ** 3, x]), m.cat([y, x.exp(), y * x[0], x[1:]])]).pow(2).sum()
        gx, gy = m.autograd.grad(out, [x, y], create_graph=True)
        assert type(gx.grad_fn).__name__ != "NoneType"
        (gx.sum() + (gy * gy).sum()).backward()
        res.append((gx.detach().numpy(), gy.detach().numpy(), x.grad.numpy(), y.grad.numpy()))
    for p, q in zip(*res):
        np.testing.assert_allclose(p, q, rtol=1e-12)


def test_one_element_cat_on_a_scalar_graph_records_backward_in_the_kernel():
    x = tg.tensor([2.0], requires_grad=True)
    y = (tg.cat([x * x]) * 3.0).sum()
    (g,) = tg.autograd.grad(y, [x], create_graph=True)
    assert g.item() == 12.0
    (h,) = tg.autograd.grad(g.sum(), [x])
    assert h.item() == 6.0


# ---- replay: record / compile / batch / files ---------------------------------------------------
def _f(a, b, c):
    j = tg.cat([a, b * b, tg.ones(2, dtype=tg.float64), c.exp(), a], 0)
    s = tg.stack([j, j.sin()], 1)
    return (s * s).sum() + tg.where(j > 0.5, j, -j).sum()


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(k) for k in (3, 2, 4)]


def _eager(xs):
    ts = [tg.tensor(x, requires_grad=True) for x in xs]
    out = _f(*ts)
    out.backward()
    return out.item(), [t.grad.numpy() for t in ts]


def test_replay_value_and_grad_batch_jacobian_and_files():
    xs = _inputs()
    tape = tg.record(_f, *(tg.tensor(x) for x in xs))
    for seed in (0, 1):
        x = _inputs(seed)
        v, g = tape.value_and_grad(*x)
        ve, ge = _eager(x)
        assert v == pytest.approx(ve, rel=1e-12)
        for p, q in zip(g, ge):
            np.testing.assert_allclose(p, q, rtol=1e-12)
    buf = io.BytesIO()
    tape.save(buf)
    buf.seek(0)
    back = tg.load_tape(buf)
    x = _inputs(2)
    assert back.value_and_grad(*x)[0] == tape.value_and_grad(*x)[0]
    batch = [np.stack([_inputs(s)[k] for s in (3, 4)]) for k in range(3)]
    values, grads = tape.value_and_grad_batch(*batch)
    for p, s in enumerate((3, 4)):
        ve, ge = _eager(_inputs(s))
        assert values[p] == pytest.approx(ve, rel=1e-12)
        for k in range(3):
            np.testing.assert_allclose(grads[k][p], ge[k], rtol=1e-12)
    # jacobian of a vector output through cat
    t2 = tg.record(lambda a, b: tg.cat([a * b[0], b, a]), tg.ones(2, dtype=tg.float64),
                   tg.ones(3, dtype=tg.float64))
    (ja, jb) = t2.jacobian(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]))
    assert ja.shape == (7, 2) and jb.shape == (7, 3)
    np.testing.assert_array_equal(ja[:2], 3.0 * np.eye(2))
    np.testing.assert_array_equal(jb[:2, 0], [1.0, 2.0])
    np.testing.assert_array_equal(jb[2:5], np.eye(3))
    np.testing.assert_array_equal(ja[5:], np.eye(2))


def test_compile_and_hvp_through_cat():
    f = tg.compile(lambda a, b: (tg.cat([a * a, b, a * b[:3].sum()]) ** 2).sum())
    a, b = np.array([0.3, -0.7, 1.1]), np.array([0.2, 0.4, -0.5, 0.9])
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    ref = (torch.cat([ta * ta, tb, ta * tb[:3].sum()]) ** 2).sum()
    ga, gb = torch.autograd.grad(ref, [ta, tb], create_graph=True)
    va, vb = np.ones(3), np.linspace(0, 1, 4)
    h = torch.autograd.grad((ga * torch.tensor(va)).sum() + (gb * torch.tensor(vb)).sum(), [ta, tb])
    tape = tg.record(lambda a, b: (tg.cat([a * a, b, a * b[:3].sum()]) ** 2).sum(),
                     tg.tensor(a), tg.tensor(b))
    value, got = tape.hvp((tg.tensor(a), tg.tensor(b)), (tg.tensor(va), tg.tensor(vb)))
    assert float(value) == pytest.approx(ref.item(), rel=1e-12)
    for p, q in zip(got, h):
        np.testing.assert_allclose(np.asarray(p), q.numpy(), rtol=1e-10)
    for _ in range(2):                                  # records, then replays
        v, (g1, g2) = f(tg.tensor(a), tg.tensor(b))
        assert float(v) == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(np.asarray(g1), ga.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(g2), gb.detach().numpy(), rtol=1e-12)


def test_one_element_views_and_sums_round_trip_through_files():
    """(A fix on the way: a one-element view's strides, or a one-element sum's kept shape,
    made a params slice longer than the kernels read, so such a tape file did not load.)"""
    def f(y):
        return y[:1].sum() + (y * 2.0).sum(1).sum() + tg.cat([y[1], y[2:3, 0]]).sum()
    tape = tg.record(f, tg.ones(4, 1, dtype=tg.float64))
    buf = io.BytesIO()
    tape.save(buf)
    buf.seek(0)
    x = np.arange(4.0).reshape(4, 1)
    v, (g,) = tg.load_tape(buf).value_and_grad(x)
    assert v == tape.value_and_grad(x)[0] == 0.0 + 12.0 + 3.0
    np.testing.assert_array_equal(g, [[3.0], [3.0], [3.0], [2.0]])


# ---- several outputs: max/min(dim), split/chunk/unbind ------------------------------------------
@pytest.mark.parametrize("call", [
    "x.max(1)", "x.min(0)", "m.max(x, -1, keepdim=True)", "m.min(x, dim=1)", "x.max(dim=0)",
    "s.max(0)", "m.min(s, -1, True)",
])
def test_max_min_dim_as_torch(call):
    res = []
    for m in (tg, torch):
        x = m.tensor([[1.0, 3.0, 3.0], [2.0, -1.0, 5.0], [0.5, 0.5, 0.5]], dtype=m.float64,
                     requires_grad=True)
        s = m.tensor(2.5, dtype=m.float64, requires_grad=True)
        r = eval(call)
        values, indices = r
        assert r.values is values and r.indices is indices and len(r) == 2
        assert type(r).__name__ == ("max" if "max" in call else "min")
        assert not indices.requires_grad and indices.grad_fn is None
        assert str(indices.dtype).endswith("int64")
        y = values * 2.0
        y.sum().backward()
        src = s if "s." in call or "(s," in call else x
        res.append((type(values.grad_fn).__name__, names(values.grad_fn), names(y.grad_fn),
                    values.output_nr, values.detach().numpy(), indices.numpy(),
                    src.grad.numpy()))
    assert res[0][:4] == res[1][:4]
    for p, q in zip(res[0][4:], res[1][4:]):
        np.testing.assert_array_equal(p, q)
    assert repr(eval(call.replace("m.", "tg."), {"tg": tg, "x": tg.ones(2, 2), "s": tg.tensor(1.0)})
                ).startswith("tapegrad.return_types.")


@pytest.mark.parametrize("call", ["x.max(2)", "x.min(-3)", "x.max(dim=1.5)",
                                  "m.zeros(2, 0).max(1)"])   # (max(), max(x, x): test_mathops)
def test_max_min_errors(call):
    errs = []
    for m in (tg, torch):
        x = m.ones(2, 3)
        try:
            eval(call)
        except Exception as e:   # noqa: BLE001 - compared with torch below
            errs.append((type(e), str(e).split("\n")[0]))
        else:
            errs.append(None)
    if errs[1] is None:   # torch has it; tapegrad says clearly that it does not, yet
        assert errs[0][0] is NotImplementedError, errs
    else:
        assert errs[0][0] is errs[1][0], errs
        if "dim" not in call:
            assert errs[0][1] == errs[1][1]


@pytest.mark.parametrize("call", [
    "x.split(2, 1)", "x.split([1, 3, 1], -1)", "x.split(3)", "x.chunk(2, 1)", "x.chunk(4, 1)",
    "m.split(x, 1)", "x.unbind(1)", "m.unbind(x)", "m.chunk(x, 3, 0)", "x.split([0, 5], 1)",
])
def test_split_chunk_unbind_as_torch(call):
    res = []
    vals = np.arange(15.0).reshape(3, 5) / 7.0
    for m in (tg, torch):
        x = m.tensor(vals, requires_grad=True)
        outs = eval(call)
        assert type(outs) is tuple
        fns = [o.grad_fn for o in outs]
        assert all(f is fns[0] for f in fns)                  # one node for every output
        loss = sum(((o * (k + 1.0)) ** 2).sum() for k, o in enumerate(outs))
        consumer = outs[-1] * 2.0
        loss.backward()
        res.append((type(fns[0]).__name__, names(fns[0]), [o.output_nr for o in outs],
                    names(consumer.grad_fn), [tuple(o.shape) for o in outs],
                    [o.detach().numpy() for o in outs], x.grad.numpy()))
    assert res[0][:5] == res[1][:5]
    for p, q in zip(res[0][5], res[1][5]):
        np.testing.assert_allclose(p, q, rtol=1e-15)
    np.testing.assert_allclose(res[0][6], res[1][6], rtol=1e-13)


@pytest.mark.parametrize("call", ["x.split(-1)", "x.split([1, 1])", "x.chunk(0)", "x.unbind(2)",
                                  "s.unbind()", "s.split(1)", "x.split(0, 1)"])
def test_split_errors_as_torch(call):
    errs = []
    for m in (tg, torch):
        x, s = m.ones(3, 2), m.tensor(1.0)
        with pytest.raises(Exception) as info:
            eval(call)
        errs.append((type(info.value), str(info.value)))
    assert errs[0] == errs[1]


def test_split_pieces_are_views_sharing_the_version_counter():
    x = tg.arange(6.0).reshape(2, 3)
    a, b = x.split([1, 2], 1)
    a.mul_(10.0)
    assert x[0, 0].item() == 0.0 and x[1, 0].item() == 30.0
    assert a._version == x._version == 1


def _empty_pieces(m):
    out = []
    for grad in (True, False):
        for split in (lambda x: x.split([0, 4]), lambda x: x.split([4, 0]),
                      lambda x: x.reshape(4, 1)[:, :0].unbind(0)):
            x = m.ones(4, requires_grad=True) * 1.0 if grad else m.ones(4)
            ps = split(x)
            base = x   # (unbind of a view of x: the root, x)
            row = [[p._base is base for p in ps], [p._version for p in ps]]
            with m.no_grad():
                x.add_(1.0)
            row.append([p._version for p in ps])
            out.append(row)
        x = m.ones(4, requires_grad=True) * 1.0
        with m.no_grad():
            ps = x.split([0, 4])
        out.append([p.requires_grad for p in ps])
        try:
            ps[0].mul_(2.0)
        except RuntimeError as e:
            out.append(str(e)[:60])
    return out


def test_empty_split_pieces_are_views_as_torch():
    """torch's empty pieces of split / unbind are views of x as the others: `_base` is x,
    one version counter, made under no_grad as the others (tapegrad made them no views)."""
    assert _empty_pieces(tg) == _empty_pieces(torch)


def _rebased_pieces(m):
    """A saved piece of unbind / split (or a view of one) whose base changed under no_grad:
    the backward's error, with the pieces alive or gone; the pieces' grad_fn and repr."""
    out = []

    def backward(split, use, alive):
        x = m.arange(1.0, 13.0).reshape(4, 3).requires_grad_()
        xx = x * 1.0
        ps = split(xx)
        z = use(ps)
        with m.no_grad():
            xx.add_(1.0)
        if not alive:
            del ps
        try:
            z.backward()
            return x.grad.sum().item()
        except RuntimeError as e:
            return str(e).replace(m.__name__, "LIB")

    for alive in (True, False):
        for split in (lambda t: t.unbind(0), lambda t: t.chunk(2), lambda t: t.split(1, 1),
                      lambda t: t.split([1, 3])):
            out.append(backward(split, lambda ps: (ps[1] * ps[1]).sum(), alive))
        out.append(backward(lambda t: t.unbind(0), lambda ps: (ps[1][1:] * ps[1][1:]).sum(),
                            alive))
        out.append(backward(lambda t: t.unbind(0), lambda ps: ps[1].sum(), alive))
    x = m.ones(3, 2, requires_grad=True) * 1.0
    ps = x.unbind(0)
    with m.no_grad():
        x.add_(1.0)
    try:
        ps[1].grad_fn
    except RuntimeError as e:
        out.append(str(e))
    out.append(repr(ps[0]))
    return out


def test_saved_piece_whose_base_changed_raises_as_torch():
    """torch refuses to make a changed multi-output view's grad_fn again: the backward that
    unpacks a saved piece raises "Output k of Unbind is a view and its base ... has been
    modified inplace" (tapegrad: the generic saved-version error), grad_fn access raises
    it too, and repr shows grad_fn=<Invalid>."""
    assert _rebased_pieces(tg) == _rebased_pieces(torch)


def _pieces_of_no_grad_views(m):
    out = []
    for sizes in ([0, 4], [2, 2]):
        x = m.ones(4, requires_grad=True)
        for base in (x, x * 1.0):
            with m.no_grad():
                v = base[:]
            ps = v.split(sizes)
            for change in (lambda: ps[1].mul_(2.0),
                           lambda: ps[1].mul_(m.ones(sizes[1], requires_grad=True))):
                try:
                    change()
                    out.append(ps[1]._version)
                except RuntimeError as e:
                    out.append(str(e))
    return out


def test_pieces_of_a_no_grad_view_are_multi_output_views_as_torch():
    """torch's pieces of unbind / split of a view made under no_grad are marked
    MULTI_OUTPUT_NODE (propagate_creation_meta: the new mark wins): their in-place change
    with grad mode on fails with "Output k of SplitWithSizes is a view and is being modified
    inplace" (tapegrad: the no_grad view's "view of a view ... no_grad mode", output 0)."""
    assert _pieces_of_no_grad_views(tg) == _pieces_of_no_grad_views(torch)


def test_split_is_one_entry_with_one_output_entry_per_piece():
    x = tg.ones(4, 6, requires_grad=True)
    pieces = x.split(2, 1)
    tape = pieces[0]._tape
    parent = int(tape.ia[pieces[0]._node])
    assert {int(tape.ia[p._node]) for p in pieces} == {parent}
    assert ops.BY_CODE[tape.op[parent]].name == "split"
    assert tape.params_of(parent).tolist() == [4, 1, 2, 2, 2] and tape.imm[parent] == 3


@pytest.mark.parametrize("shape,dim,first,second", [
    ((3, 4, 5), 0, "x.unbind(0)", "x.split(1, 0)"), ((3, 4, 5), 0, "x.split(1, 0)", "x.unbind(0)"),
    ((2, 3), 1, "x.unbind(1)", "x.split([1, 1, 1], 1)"), ((3,), 0, "x.unbind(0)", "x.split(1)"),
    ((4, 6), 1, "x.chunk(3, 1)", "x.chunk(3, 1)"), ((70, 2), 0, "x.unbind(0)", "x.split(1)"),
    ((2, 70), 1, "x.unbind(1)", "x.unbind(1)"), ((1,), 0, "x.unbind(0)", "x.split(1)")])
def test_split_params_rows_kept_per_layout(shape, dim, first, second):
    """The split entry's and its output entries' params (views._split_rows, kept per layout:
    unbind's pieces drop the dim where split's keep it) are its layout [outer, inner,
    sizes...] and each piece's [start, row-major strides] ([start] for one element), call
    after call, also on a tape of one-element entries only; values and gradients as
    torch's."""
    vals = np.arange(float(np.prod(shape))).reshape(shape) / 7.0
    outer, inner = int(np.prod(shape[:dim])), int(np.prod(shape[dim + 1:]))
    for call in (first, second, first):
        res = []
        for m in (tg, torch):
            x = m.tensor(vals, requires_grad=True) * 1.0
            held = x._tape.saved_bytes if m is tg else 0
            outs = eval(call)
            if m is tg:
                tape = outs[0]._tape
                parent = int(tape.ia[outs[0]._node])
                assert tape.params_of(parent).tolist() == [outer, inner] + [
                    o.numel() // (outer * inner) for o in outs]
                # (the layout counts towards MAX_SAVED_BYTES, as tape.add_params counts it)
                assert tape.saved_bytes - held == 8 * (2 + len(outs))
                start = 0
                for o in outs:
                    oshape = tuple(o.shape)
                    want = [start] if o.numel() == 1 else \
                        [start] + [int(np.prod(oshape[j + 1:])) for j in range(len(oshape))]
                    assert tape.params_of(o._node).tolist() == want, (call, oshape)
                    start += o.numel()
            loss = sum(((o * (k + 1.0)) ** 2).sum() for k, o in enumerate(outs))
            g, = m.autograd.grad(loss, x)
            res.append(([tuple(o.shape) for o in outs], [o.detach().numpy() for o in outs],
                        g.numpy()))
        assert res[0][0] == res[1][0]
        for p, q in zip(res[0][1] + [res[0][2]], res[1][1] + [res[1][2]]):
            np.testing.assert_allclose(p, q, rtol=1e-13)


def test_max_and_split_gradcheck_create_graph_and_replay():
    rng = np.random.default_rng(11)
    x = tg.tensor(rng.standard_normal((4, 5)), requires_grad=True)

    def f(x):
        a, b, c = x.split([2, 1, 2], 1)
        v = (a * c).max(1).values + b.squeeze(1).exp() - x.min(0, keepdim=True)[0].sum()
        return tg.stack(x.unbind(0)[1:], 0).sum() * v
    assert gradcheck(f, [x])
    assert gradgradcheck(f, [x])
    tape = tg.record(lambda x: f(x).sum(), tg.tensor(x.detach().numpy()))
    buf = io.BytesIO()
    tape.save(buf)
    buf.seek(0)
    back = tg.load_tape(buf)
    for seed in (0, 1):
        xv = np.random.default_rng(seed).standard_normal((4, 5))
        for t in (tape, back):
            v, (g,) = t.value_and_grad(x.detach().numpy() + 1e-3 * xv)   # same extremes
            xt = tg.tensor(x.detach().numpy() + 1e-3 * xv, requires_grad=True)
            out = f(xt).sum()
            out.backward()
            assert v == pytest.approx(out.item(), rel=1e-12)
            np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12)
            # where the argmax moved, the replay refuses (a guard re-checks the positions)
            with pytest.raises(tg.BranchChanged):
                t.value_and_grad(xv * 10.0 + np.arange(20.0).reshape(4, 5)[::-1])
