"""Two-argument vocabulary functions (atan2, hypot) and decomposition rows (logsumexp, softmax,
log_softmax): forward and gradients against torch and finite differences, create_graph,
replay, and what users see of a decomposition (grad_fn, next_functions, viz, tape_summary)."""
import ast
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import autograd, codegen, groups, vocab
from tapegrad.autograd.gradcheck import gradcheck, gradgradcheck
from tapegrad.ops import OPS

DTYPES = ["float32", "float64"]
TOL = {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-14)}


def _both(x, dtype, rg=True):
    """The same values as a tapegrad and a torch tensor."""
    torch = pytest.importorskip("torch")
    x = np.asarray(x, dtype=dtype)
    return (tg.tensor(x, requires_grad=rg), torch.tensor(x, requires_grad=rg))


def _close(got, want, dtype, **kw):
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    got = got.detach().numpy() if hasattr(got, "detach") else np.asarray(got)
    tol = dict(TOL[dtype], **kw)
    np.testing.assert_allclose(got, want, equal_nan=True, **tol)


# ---- the vocabulary: a two-argument function in every face -----------------------------------
def test_two_argument_rows_of_the_vocabulary():
    for name, ref in (("atan2", np.arctan2), ("hypot", np.hypot)):
        f = vocab.FUNCS[name]
        assert f.arity == 2 and f.numpy is ref and name in vocab.MATH_IMPORTS
        for args in ((3.0, 4.0), (-0.0, -1.0), (math.inf, 1.0), (math.nan, 0.0)):
            np.testing.assert_array_equal(f.scalar(*args), ref(*args))


def test_tensor_face_takes_a_constant_on_either_side():
    from tapegrad.ndops import FORMULA_NS as ns
    x = tg.tensor([0.5, -2.0], dtype=tg.float64, requires_grad=True)
    for args, want in (((x, 2.0), np.arctan2([0.5, -2.0], 2.0)),
                       ((2.0, x), np.arctan2(2.0, [0.5, -2.0]))):
        r = ns["atan2"](*args)
        assert type(r.grad_fn).__name__ == "Atan2Backward0"
        np.testing.assert_allclose(r.detach().numpy(), want, rtol=1e-15)
        (g,) = autograd.grad(r.sum(), x)
        a, b = (np.array([0.5, -2.0]), 2.0) if args[0] is x else (2.0, np.array([0.5, -2.0]))
        dx = b / (a * a + b * b) if args[0] is x else -a / (a * a + b * b)
        np.testing.assert_allclose(g.numpy(), dx, rtol=1e-14)
    assert ns["hypot"](3.0, 4.0) == 5.0


def test_create_graph_emits_two_argument_calls_as_binary_entries():
    """A two-argument call in a gradient formula is a `bin` instruction of the function's
    opcode on its arguments' registers (create_graph's VJP programs, codegen.vjp_programs).
    Recorded: relu's gradient, threshold_backward(g, out), appends one such entry, and an
    operation on two constants (the seed times 1.5) appends none."""
    code = OPS["threshold_backward"].code
    prog = codegen._Program()
    prog.formula("g * threshold_backward(a, b)", len(codegen.VJP_FIXED))
    a_reg, b_reg = codegen.VJP_FIXED.index("a"), codegen.VJP_FIXED.index("b")
    assert [codegen._K["bin"], code, a_reg, b_reg] in [row[:4] for row in prog.rows], prog.rows
    with pytest.raises(ValueError, match="takes 2 argument"):
        codegen._Program().formula("atan2(a)", len(codegen.VJP_FIXED))
    x = tg.tensor(0.3, dtype=tg.float64, requires_grad=True)
    h = x * 2.0
    y = h.relu() * 1.5
    tape = y._tape
    n0 = tape.n
    (g,) = autograd.grad(y, x, create_graph=True)
    assert g.item() == 3.0
    appended = tape.op[n0:tape.n].tolist()
    assert appended == [code, OPS["mul"].code]          # relu's, then h = x * 2.0's
    assert tape.ib[n0] == h._node + 1 and tape.imm[n0] == 1.5   # on (the folded 1.5, out)
    assert tape.val[n0] == 1.5


def test_generated_faces_call_the_two_argument_functions():
    src = open(codegen.TARGET).read()
    for name in ("atan2", "hypot"):
        assert f"vals[out_off + k] = {name}(a_v, b_v)" in src          # numba forward
        # create_graph's VJP programs: the emitted entry's value (emitted_value's branch)
        assert codegen._value(name, "x", "y") == f"({name}(x, y))"
    fast = open(codegen.FAST_TARGET).read()
    assert "v = atan2(sv, ov)" in fast and "v = hypot(sv, ov)" in fast   # scalar fast path
    ast.parse(src)


# ---- atan2 and hypot ----------------------------------------------------------------------------
SHAPES = [((), ()), ((4,), (4,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((3,), ())]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("name", ["atan2", "hypot"])
def test_binary_function_matches_torch(name, shapes, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(shapes[0]) * 7 + len(shapes[1]))
    xa, ya = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    x, tx = _both(xa, dtype)
    y, ty = _both(ya, dtype)
    out, tout = getattr(tg, name)(x, y), getattr(torch, name)(tx, ty)
    assert out.dtype == getattr(tg, dtype) and tuple(out.shape) == tuple(tout.shape)
    assert type(out.grad_fn).__name__ == type(tout.grad_fn).__name__
    _close(out, tout, dtype)
    w = rng.standard_normal(tuple(tout.shape))
    (out * tg.tensor(w.astype(dtype))).sum().backward()
    (tout * torch.tensor(w.astype(dtype))).sum().backward()
    _close(x.grad, tx.grad, dtype, rtol=1e-4 if dtype == "float32" else 1e-12)
    _close(y.grad, ty.grad, dtype, rtol=1e-4 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("name", ["atan2", "hypot"])
def test_binary_function_gradients_against_finite_differences(name):
    rng = np.random.default_rng(5)
    x = tg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = tg.tensor(rng.uniform(0.5, 2, 3), requires_grad=True)
    assert gradcheck(lambda a, b: getattr(tg, name)(a, b), (x, y))
    assert gradgradcheck(lambda a, b: getattr(tg, name)(a, b), (x, y))
    x0 = tg.tensor(0.4, dtype=tg.float64, requires_grad=True)   # one-element: the fast paths
    y0 = tg.tensor(-1.1, dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda a, b: getattr(a, name)(b), (x0, y0))
    assert gradgradcheck(lambda a, b: getattr(a, name)(b), (x0, y0))


@pytest.mark.parametrize("shape", [(), (3,)])
@pytest.mark.parametrize("name", ["atan2", "hypot"])
def test_binary_function_second_and_third_derivatives_match_torch(name, shape):
    torch = pytest.importorskip("torch")
    xa, ya = np.full(shape, 0.7), np.full(shape, -1.3)
    res = []
    for m in (tg, torch):
        x = m.tensor(xa, requires_grad=True)
        y = m.tensor(ya, requires_grad=True)
        f = (getattr(m, name)(x, y) * getattr(m, name)(y, x)).sum()
        gx, gy = m.autograd.grad(f, (x, y), create_graph=True)
        hxy, = m.autograd.grad(gx.sum(), y, create_graph=True)
        t, = m.autograd.grad((hxy * hxy).sum(), x)
        res.append([v.detach().numpy() for v in (gx, gy, hxy, t)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_special_values_match_torch():
    torch = pytest.importorskip("torch")
    inf, nan = math.inf, math.nan
    ya = np.array([0.0, -0.0, 0.0, -0.0, 1.0, -1.0, inf, -inf, inf, nan, 1.0, 0.0])
    xa = np.array([0.0, 0.0, -0.0, -0.0, inf, -inf, inf, inf, 1.0, 1.0, nan, 5.0])
    for name in ("atan2", "hypot"):
        for shape in ((), (len(ya),)):
            for k in (range(len(ya)) if not shape else [slice(None)]):
                y, ty = _both(ya[k], "float64")
                x, tx = _both(xa[k], "float64")
                out, tout = getattr(y, name)(x), getattr(ty, name)(tx)
                np.testing.assert_array_equal(np.signbit(out.detach().numpy()),
                                              np.signbit(tout.detach().numpy()))
                _close(out, tout, "float64")
                out.sum().backward()
                tout.sum().backward()
                _close(y.grad, ty.grad, "float64")
                _close(x.grad, tx.grad, "float64")


def test_dtypes_and_errors_as_torch():
    torch = pytest.importorskip("torch")
    i, ti = tg.tensor([1, 2]), torch.tensor([1, 2])
    assert tg.atan2(i, i).dtype == tg.float32 and torch.atan2(ti, ti).dtype == torch.float32
    _close(tg.atan2(i, i), torch.atan2(ti, ti), "float32")
    mixed = tg.atan2(tg.tensor([1.0], dtype=tg.float64), tg.tensor([2.0]))
    assert mixed.dtype == tg.float64
    x = tg.tensor([1.0], requires_grad=True)
    for call, tcall in ((lambda: tg.atan2(x, 2.0), lambda: torch.atan2(torch.ones(1), 2.0)),
                        (lambda: x.atan2(2), lambda: torch.ones(1).atan2(2)),
                        (lambda: x.hypot(2.0), lambda: torch.ones(1).hypot(2.0)),
                        (lambda: tg.hypot(i, i), lambda: torch.hypot(ti, ti)),
                        (lambda: i.atan2_(tg.tensor([1.5])),
                         lambda: ti.atan2_(torch.tensor([1.5])))):
        with pytest.raises(Exception) as want:
            tcall()
        with pytest.raises(type(want.value), match=str(want.value).split("(")[0][:20]):
            call()
    assert str(pytest.raises(TypeError, tg.atan2, x, 2.0).value) == \
        "atan2(): argument 'other' (position 2) must be Tensor, not float"


@pytest.mark.parametrize("name", ["atan2", "hypot"])
def test_in_place_forms(name):
    torch = pytest.importorskip("torch")
    res = []
    for m in (tg, torch):
        a = m.tensor([1.0, -2.0, 0.5])
        getattr(a, name + "_")(m.tensor([0.5, 3.0, -1.0]))   # no history: in place
        x = m.tensor([0.3, -0.7, 1.2], dtype=m.float64, requires_grad=True)
        y = m.tensor([1.1, 0.4, -2.0], dtype=m.float64, requires_grad=True)
        w = x * 1.0
        getattr(w, name + "_")(y)
        names = (type(w.grad_fn).__name__,
                 [type(f).__name__ for f, _ in w.grad_fn.next_functions])
        w.sum().backward()
        res.append((a.numpy(), names, x.grad.numpy(), y.grad.numpy()))
    (a1, n1, gx1, gy1), (a2, n2, gx2, gy2) = res
    np.testing.assert_allclose(a1, a2, rtol=1e-6)
    assert n1 == n2
    np.testing.assert_allclose(gx1, gx2, rtol=1e-12)
    np.testing.assert_allclose(gy1, gy2, rtol=1e-12)
    # (torch's alias is a method of its own name, as tapegrad's: native_args.name_as_torch)
    assert getattr(tg.Tensor, "arctan2").__qualname__ == "arctan2"


@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_binary_functions_replay(shape):
    def f(x, y):
        return (x.atan2(y) * x.hypot(y)).sum()
    rng = np.random.default_rng(2)
    tape = tg.record(f, tg.ones(shape, dtype=tg.float64), tg.ones(shape, dtype=tg.float64))
    for _ in range(3):
        xa, ya = rng.standard_normal(shape), rng.standard_normal(shape)
        v, (gx, gy) = tape.value_and_grad(xa, ya)
        x = tg.tensor(xa, requires_grad=True)
        y = tg.tensor(ya, requires_grad=True)
        out = f(x, y)
        out.backward()
        assert float(v) == pytest.approx(out.item(), rel=1e-12)
        np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(gy, y.grad.numpy(), rtol=1e-10)
    val, (hx, hy) = tape.hvp((np.full(shape, 0.3), np.full(shape, -0.8)),
                             (np.full(shape, 1.0), np.full(shape, 0.5)))
    x = tg.tensor(np.full(shape, 0.3), requires_grad=True)
    y = tg.tensor(np.full(shape, -0.8), requires_grad=True)
    gx, gy = autograd.grad(f(x, y), (x, y), create_graph=True)
    ex, ey = autograd.grad((gx * 1.0 + gy * 0.5).sum(), (x, y))
    np.testing.assert_allclose(hx, ex.numpy(), rtol=1e-10)
    np.testing.assert_allclose(hy, ey.numpy(), rtol=1e-10)


# ---- decomposition rows: logsumexp, softmax, log_softmax ---------------------------------------
inf = math.inf
ROWS = np.array([[1.0, 2.0, 3.0], [-inf, -inf, -inf], [inf, 1.0, 2.0], [1000.0, 1000.0, 999.0],
                 [-1000.0, -999.0, -1001.0], [math.nan, 1.0, 2.0]])

CASES = [  # (name, shape, args)
    ("logsumexp", (4, 5), (1,)), ("logsumexp", (4, 5), (0, True)),
    ("logsumexp", (2, 3, 4), ((0, 2),)),
    ("logsumexp", (2, 3, 4), ((-1, 0), True)), ("logsumexp", (), (0,)), ("logsumexp", (5,), (-1,)),
    ("logsumexp", (1, 1), (1,)),
    ("softmax", (4, 5), (1,)), ("softmax", (4, 5), (0,)), ("softmax", (2, 3, 4), (1,)),
    ("softmax", (), (0,)), ("softmax", (5,), (-1,)),
    ("log_softmax", (4, 5), (1,)), ("log_softmax", (2, 3, 4), (-3,)), ("log_softmax", (), (0,)),
    ("log_softmax", (6,), (0,)),
]
GRAD_FN = {"logsumexp": "LogsumexpBackward0", "softmax": "SoftmaxBackward0",
           "log_softmax": "LogSoftmaxBackward0"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape, args", CASES)
def test_decomposition_matches_torch(name, shape, args, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(shape))
    xa = rng.standard_normal(shape) * 3
    x, tx = _both(xa, dtype)
    out, tout = getattr(tg, name)(x, *args), getattr(torch, name)(tx, *args)
    assert tuple(out.shape) == tuple(tout.shape) and out.dtype == getattr(tg, dtype)
    assert type(out.grad_fn).__name__ == GRAD_FN[name] == type(tout.grad_fn).__name__
    _close(out, tout, dtype)
    w = rng.standard_normal(tuple(tout.shape)).astype(dtype)
    (out * tg.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    _close(x.grad, tx.grad, dtype, atol=1e-5 if dtype == "float32" else 1e-13)
    m = getattr(x, name)(*args)          # the Tensor method is the same
    np.testing.assert_array_equal(m.detach().numpy(), out.detach().numpy())


@pytest.mark.parametrize("name, dim", [("logsumexp", 1), ("softmax", 1), ("log_softmax", 1),
                                       ("logsumexp", 0), ("softmax", 0)])
def test_decomposition_extreme_rows_as_torch(name, dim):
    """Stable for large inputs, and infinities / nan give what torch gives (values and
    gradients, nan included)."""
    torch = pytest.importorskip("torch")
    rows = ROWS if dim == 1 else ROWS.T.copy()
    x, tx = _both(rows, "float64")
    out, tout = getattr(x, name)(dim), getattr(tx, name)(dim)
    _close(out, tout, "float64")
    assert np.isfinite(out.detach().numpy()[3]).all() if dim == 1 else True
    out.sum().backward()
    tout.sum().backward()
    _close(x.grad, tx.grad, "float64", atol=1e-12)


@pytest.mark.parametrize("name, args", [("logsumexp", (1,)), ("logsumexp", ((0, 1), True)),
                                        ("softmax", (0,)), ("log_softmax", (1,))])
def test_decomposition_gradients_against_finite_differences(name, args):
    rng = np.random.default_rng(9)
    x = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda a: getattr(a, name)(*args), (x,))
    assert gradgradcheck(lambda a: getattr(a, name)(*args), (x,))
    x0 = tg.tensor(0.8, dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda a: getattr(a, name)(0) * a, (x0,))
    assert gradgradcheck(lambda a: getattr(a, name)(0) * a, (x0,))


@pytest.mark.parametrize("name", ["logsumexp", "softmax", "log_softmax"])
def test_decomposition_higher_derivatives_match_torch(name):
    torch = pytest.importorskip("torch")
    xa = np.random.default_rng(4).standard_normal((3, 4))
    res = []
    for m in (tg, torch):
        x = m.tensor(xa, requires_grad=True)
        w = m.tensor(np.arange(12.0).reshape(3, 4) if name != "logsumexp" else np.arange(3.0))
        f = (getattr(x, name)(1) * w).sum()
        g, = m.autograd.grad(f, x, create_graph=True)
        h, = m.autograd.grad((g * g).sum(), x, create_graph=True)
        t, = m.autograd.grad(h.sin().sum(), x)
        res.append([v.detach().numpy() for v in (g, h, t)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_decomposition_shows_torch_graph():
    torch = pytest.importorskip("torch")
    for m in (tg, torch):
        x = m.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
        y = (x * 2.0).logsumexp(1)
        z = x.double().softmax(0)
        u = x.log_softmax(1, dtype=m.float64)
        names = [(type(t.grad_fn).__name__,
                  [type(f).__name__ for f, _ in t.grad_fn.next_functions]) for t in (y, z, u)]
        if m is tg:
            mine = names
        else:
            assert mine == names
    assert mine[0] == ("LogsumexpBackward0", ["MulBackward0"])
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.logsumexp(0)
    (acc, k), = y.grad_fn.next_functions
    assert k == 0 and acc.variable is x
    assert y.grad_fn.name() == "LogsumexpBackward0"
    assert y.grad_fn.next_functions == y.grad_fn.next_functions  # stable views


def test_decomposition_internals_are_invisible():
    x = tg.tensor(np.ones((3, 4)), requires_grad=True)
    y = x.logsumexp(1)
    loss = (y * y.softmax(0)).sum()
    s = tg.tape_summary(loss).tapes[0]
    assert s["by_op"].get("logsumexp") == 1 and s["by_op"].get("softmax") == 1
    for hidden in ("exp", "max_shift", "log", "div", "const", "view"):
        assert hidden not in s["by_op"], hidden
    assert "logsumexp 1" in str(tg.tape_summary(loss))
    src = tg.viz.to_dot(loss, params={"x": x}).source
    assert "LogsumexpBackward0" in src and "SoftmaxBackward0" in src
    for hidden in ("ExpBackward0", "LogBackward0", "DivBackward0", "SumBackward1"):
        assert hidden not in src, hidden
    # walking next_functions from the loss meets only user-visible nodes
    seen, todo = set(), [loss.grad_fn]
    while todo:
        fn = todo.pop()
        seen.add(type(fn).__name__)
        todo += [f for f, _ in fn.next_functions if f is not None]
    assert seen == {"SumBackward0", "MulBackward0", "LogsumexpBackward0", "SoftmaxBackward0",
                    "AccumulateGrad"}
    tape = y._tape
    members = groups.members(tape, y._node)
    assert members[-1] == y._node and len(members) > 3
    assert all(groups.is_internal(tape, int(e)) for e in members[:-1])
    assert not groups.is_internal(tape, y._node)


def test_decomposition_saved_buffers_and_release():
    from tapegrad.graph import is_freed, saved_buffers
    x = tg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    y = x.logsumexp(1)
    saved = saved_buffers(y.grad_fn)
    assert [s.name for s in saved] == ["self", "result"]   # torch: _saved_self, _saved_result
    assert saved[0].shape == (1, 3) and all(s.alive for s in saved)
    assert [s.name for s in saved_buffers(x.softmax(1).grad_fn)] == ["result"]
    y.sum().backward()
    g = x.grad.clone()
    assert is_freed(y.grad_fn) and not any(s.alive for s in saved_buffers(y.grad_fn))
    assert "(freed)" in tg.viz.to_dot(y).source
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), g.numpy())
    z = x.logsumexp(1)
    z.sum().backward(retain_graph=True)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * g.numpy(), rtol=1e-6)


def test_decomposition_dtypes_and_errors_as_torch():
    torch = pytest.importorskip("torch")
    i, ti = tg.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]])
    assert i.logsumexp(1).dtype == tg.float32
    _close(i.logsumexp(1), ti.logsumexp(1), "float32")
    _close(i.softmax(0, dtype=tg.float64), ti.softmax(0, dtype=torch.float64), "float64")
    f, tf = i.float(), ti.float()
    calls = [
        lambda m, a, b: a.softmax(0), lambda m, a, b: a.softmax(1),
        lambda m, a, b: a.log_softmax(1), lambda m, a, b: b.logsumexp(2),
        lambda m, a, b: b.logsumexp((0, 0)), lambda m, a, b: b.logsumexp(1.5),
        lambda m, a, b: b.softmax(None), lambda m, a, b: b.softmax((0, 1)),
        lambda m, a, b: b.logsumexp([]), lambda m, a, b: m.logsumexp(b.sum(), 1),
    ]
    for call in calls:
        with pytest.raises(Exception) as want:
            call(torch, ti, tf)
        with pytest.raises(type(want.value)) as got:
            call(tg, i, f)
        assert str(got.value).split("(position")[0] == str(want.value).split("(position")[0]


@pytest.mark.parametrize("name, args", [("logsumexp", (1,)), ("softmax", (1,)),
                                        ("log_softmax", (0,)), ("logsumexp", ((0, 1), True))])
def test_decomposition_replay_recomputes_the_shift(name, args):
    """A replay far from the recorded point stays stable: the shift is an entry of the tape
    (logsumexp's max_shift; softmax's own entry takes the maximum in its kernel), not a
    constant baked in at recording."""
    torch = pytest.importorskip("torch")

    def f(m):
        return lambda x: (getattr(x, name)(*args) * m.arange(1.0, 7.0, dtype=m.float64)
                          .reshape(2, 3).sum(1, keepdim=True) if name != "logsumexp"
                          else getattr(x, name)(*args) * 1.5).sum()
    tape = tg.record(f(tg), tg.zeros(2, 3, dtype=tg.float64))
    assert OPS["max_shift" if name == "logsumexp" else name].code in tape.prog["op"]
    for scale in (1.0, 1000.0, -1000.0):
        xa = np.random.default_rng(int(abs(scale))).standard_normal((2, 3)) * 3 + scale
        v, (g,) = tape.value_and_grad(xa)
        tx = torch.tensor(xa, requires_grad=True)
        tv = f(torch)(tx)
        tv.backward()
        assert np.isfinite(v) and float(v) == pytest.approx(tv.item(), rel=1e-12)
        np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    # the same tape saved and loaded (the shift's params checked as untrusted input)
    import io
    buf = io.BytesIO()
    tape.save(buf)
    buf.seek(0)
    loaded = tg.load_tape(buf)
    xa = np.full((2, 3), 700.0) + np.arange(6).reshape(2, 3)
    assert loaded.value_and_grad(xa)[0] == tape.value_and_grad(xa)[0]
    # hvp re-runs the tape with tensor ops (the shift's tensor face)
    _, (h,) = tape.hvp((xa,), (np.ones((2, 3)),))
    tx = torch.tensor(xa)
    th = torch.autograd.functional.hvp(f(torch), tx, torch.ones(2, 3))[1]
    np.testing.assert_allclose(h, th.numpy(), rtol=1e-8, atol=1e-12)


def test_decomposition_of_one_element_replays_on_the_scalar_kernels():
    tape = tg.record(lambda x: x.logsumexp(0) + x.softmax(0) * 2.0,
                     tg.tensor(0.5, dtype=tg.float64))
    assert tape.scalar
    for xv in (0.5, 1e6, -1e6):     # logsumexp of one element is itself, its softmax 1
        v, (g,) = tape.value_and_grad(xv)
        assert v == xv + 2.0 and g == 1.0
    v, (g,) = tape.value_and_grad(-math.inf)   # torch: -inf + 2 * nan
    assert math.isnan(v)


def test_shift_entry_is_checked_as_untrusted_input():
    import json
    from tapegrad import tapefile
    tape = tg.record(lambda x: x.logsumexp(1).sum(), tg.zeros(2, 3, dtype=tg.float64))
    members = tapefile.arrays(tape.prog, tape.meta)
    e = int(np.flatnonzero(members["op"] == OPS["max_shift"].code)[0])

    def edited(edit):   # what an attacker writes: the digest recomputed
        arrs = {k: v.copy() for k, v in members.items() if k != "meta"}
        edit(arrs)
        header = json.loads(str(members["meta"]))
        header["digest"] = tapefile.digest(header, arrs)
        return dict(arrs, meta=np.array(json.dumps(header)))
    tapefile.from_arrays(edited(lambda a: None))      # intact: loads
    with pytest.raises(tapefile.TapeFormatError, match="kept shape does not match its input"):
        tapefile.from_arrays(edited(lambda a: a["params"].__setitem__(a["par"][e], 5)))
    with pytest.raises(tapefile.TapeFormatError, match="decomposition row"):
        tapefile.from_arrays(edited(lambda a: a["op"].__setitem__(e, OPS["logsumexp"].code)))


def test_design_walk_through_quotes_the_code():
    """docs/design.md's "Adding an op" quotes the rows, the body and the test cases as they
    are in the source."""
    import os
    import re
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = open(os.path.join(root, "docs", "design.md")).read()
    section = text.split("## Adding an op: a walk-through")[1].split("\n## ")[0]
    source = " ".join(open(os.path.join(root, f)).read() for f in (
        "tapegrad/ops.py", "tapegrad/decomps.py", "tapegrad/vocab.py", "tests/test_ops.py"))
    source = re.sub(r'"""[\s\S]*?"""', "", source)   # the docs quote code, not docstrings
    squash = lambda t: re.sub(r"\s+", " ", t).strip()   # noqa: E731
    quoted = re.findall(r"\n\n((?:       [^\n]*\n)+)", section)   # the indented code blocks
    quoted += re.findall(r"`(Fn\([^`]*\)|Op\([^`]*\))`", section)
    assert len(quoted) >= 4
    for q in quoted:   # (a quote may end in "...": the rest is elided)
        assert squash(q.split("...")[0]) in squash(source), q


def test_decomposition_in_batch_replay_and_functional():
    """The shift runs in the batch kernels too (points far apart each get their own), and
    autograd.functional sees the primitives."""
    torch = pytest.importorskip("torch")
    tape = tg.record(lambda x: x.logsumexp(0) * x.softmax(0)[1], tg.zeros(4, dtype=tg.float64))
    X = np.random.default_rng(2).standard_normal((50, 4)) * 300
    vals, (g,) = tape.value_and_grad_batch(X)
    for p in (0, 17, 49):
        x = torch.tensor(X[p], requires_grad=True)
        v = x.logsumexp(0) * x.softmax(0)[1]
        v.backward()
        assert vals[p] == pytest.approx(v.item(), rel=1e-12)
        np.testing.assert_allclose(g[p], x.grad.numpy(), rtol=1e-9, atol=1e-300)
    xa = np.random.default_rng(1).standard_normal(4)
    f = lambda m: lambda x: x.logsumexp(0) + x.softmax(0)[1] * x.log_softmax(0).sum()  # noqa
    h = tg.autograd.functional.hessian(f(tg), tg.tensor(xa))
    th = torch.autograd.functional.hessian(f(torch), torch.tensor(xa))
    np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-10, atol=1e-13)


def test_nested_decomposition_is_absorbed_by_the_outer_one():
    from tapegrad import decomps
    from tapegrad.views import KIND_OPS
    x = tg.tensor([[1.0, 2.0, 4.0]], dtype=tg.float64, requires_grad=True)
    y = decomps.record("log_softmax", lambda T, v, d: v - v.logsumexp(d, keepdim=True),
                       KIND_OPS, x, 1)
    assert type(y.grad_fn).__name__ == "LogSoftmaxBackward0"
    assert [f.variable for f, _ in y.grad_fn.next_functions] == [x]
    by_op = tg.tape_summary(y).tapes[0]["by_op"]
    assert by_op.get("log_softmax") == 1 and "logsumexp" not in by_op
    np.testing.assert_allclose(y.detach().numpy(), x.log_softmax(1).detach().numpy(),
                               rtol=1e-13)
