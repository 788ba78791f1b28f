"""The core elementwise rows (codegen.core, OP_CORE): no loop of their own in the n-d kernels,
one loop per kind running their formulas, and a one-element entry swept by one call of the
formula compiled once (core_unary_grad1, core_binary_grad1)."""
import re

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import codegen, tiers
from tapegrad._jit import kernels
from tapegrad.ops import BY_CODE, OPS

# one expression per core row (u, v: operands of one element or of two)
CASES = {
    "add": lambda u, v: u + v, "sub": lambda u, v: u - v, "mul": lambda u, v: u * v,
    "div": lambda u, v: u / v, "pow": lambda u, v: u ** v, "neg": lambda u, v: -u,
    "exp": lambda u, v: u.exp(), "log": lambda u, v: u.log(), "sqrt": lambda u, v: u.sqrt(),
    "sin": lambda u, v: u.sin(), "cos": lambda u, v: u.cos(), "tanh": lambda u, v: u.tanh(),
    "sigmoid": lambda u, v: u.sigmoid(), "relu": lambda u, v: (u - 0.85).relu() * v,
    "abs": lambda u, v: (u - 0.85).abs() * v, "pow_scalar": lambda u, v: u ** 3,
    "reciprocal": lambda u, v: u.reciprocal(), "sign": lambda u, v: u.sign() * v + u,
    "zero": lambda u, v: (u * 1.0).zero_() + v, "fill": lambda u, v: (u * 1.0).fill_(2.0) * v,
    "copy": lambda u, v: (u * 1.0).copy_(v * 2.0), "fill_tensor": lambda u, v: (u * 1.0).fill_(v),
}
ZERO_DIM_V = {"fill_tensor"}   # (fill_ takes a 0-d value: v's gradient sums both elements)
X, Y = [0.7, 0.9, 0.8], [1.3, 1.1, 1.2]


def test_every_core_row_has_a_case():
    assert set(CASES) == {op.name for op in BY_CODE if codegen.core(op)}
    assert kernels().OP_CORE.tolist() == [int(codegen.core(op)) for op in BY_CODE]


def _loop_codes(name):
    """Opcodes with a branch of their own in kernel `name` of the generated module (tested
    as `o == k` or through a table of an opcode set, codegen._cond)."""
    K = kernels()
    src = open(K.__file__).read()
    body = src.split("\ndef %s(" % name, 1)[1].split("\n@njit", 1)[0]
    codes = {int(c) for c in re.findall(r"\bo == (\d+)", body)}
    for table in set(re.findall(r"\b(OP_IN_\w+)\[o\]", body)):
        codes.update(np.flatnonzero(getattr(K, table)).tolist())
    return codes


@pytest.mark.parametrize("name", [name for name, _, _ in codegen.TIERED])
def test_no_elementwise_row_of_tier_0_has_a_loop_in_the_kernels(name):
    """(Each loop costs every n-d kernel compile time.)  A row's n-d loops are its pieces
    (codegen.OP_PIECE); only the rows of tier 1 (FULL_OPS) keep branches, in the full
    kernels."""
    rows = {op.name for op in BY_CODE if op.code in _loop_codes(name)
            and op.kind in ("unary", "binary", "compare", "where")}
    assert rows == (set(codegen.FULL_OPS) if name in ("sweep", "forward_from") else set())


@pytest.mark.parametrize("face", ["sweep", "forward"])
def test_each_elementwise_row_of_tier_0_has_its_kinds_piece(face):
    """The n-d loops of each row are in its kind's piece, which takes the opcode; a one-element
    core row runs inline in the kernels (no piece is compiled for it)."""
    K = kernels()
    slots = K.OP_SWEEP_PIECE if face == "sweep" else K.OP_FORWARD_PIECE
    for op in BY_CODE:
        if codegen._outlined(op) or op.kind not in ("unary", "binary", "compare", "where") \
                or codegen.tier(op) > 0 or (face == "sweep" and op.kind == "compare"):
            continue
        assert K.PIECES[slots[op.code]] == "%s_%s_rows" % (face, op.kind), op.name
        assert K.OP_PIECE_OP[op.code] == 1
        assert op.code in _loop_codes(K.PIECES[slots[op.code]]) or codegen.core(op), op.name


def test_one_element_core_rows_need_no_elementwise_piece(monkeypatch):
    """A core row's one-element entries run inline in both faces (B_CORE_ONE, F_CORE_ONE):
    given the entries' sizes, fill_pieces compiles no piece for them."""
    from tapegrad import _kindcall
    K = kernels()
    filled = []
    monkeypatch.setattr(_kindcall, "TABLES",
                        {np.dtype(np.float64): np.zeros(_kindcall.SLOTS, np.int64)})
    monkeypatch.setattr(_kindcall, "fill_piece",
                        lambda kernels, slot, dtype: filled.append(K.PIECES[slot]))
    op = np.array([OPS[name].code for name in ("mul", "sin", "add", "tanh")], np.int16)
    K.fill_pieces(K, op, np.float64, size=np.ones(4, np.int64))
    assert filled == []
    K.fill_pieces(K, op, np.float64, size=np.array([1, 3, 1, 1]))
    assert sorted(filled) == ["forward_unary_rows", "sweep_unary_rows"]
    filled.clear()
    K.fill_pieces(K, op, np.float64)   # (sizes not given: every piece the rows can call)
    assert sorted(filled) == ["forward_binary_rows", "forward_unary_rows",
                              "sweep_binary_rows", "sweep_unary_rows"]


def _grads(lib, f, one, name):
    """x's and y's gradients of f on one element (x[1], y[0]; or two 0-d leaves) or on two
    (x[1:3], y[0:2])."""
    x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
    y = lib.tensor(Y, dtype=lib.float64, requires_grad=True)
    if one == "leaves":
        u = lib.tensor(X[1], dtype=lib.float64, requires_grad=True)
        v = lib.tensor(Y[0], dtype=lib.float64, requires_grad=True)
        f(u, v).backward()
        return [0.0, u.grad.item(), 0.0], [0.0 if v.grad is None else v.grad.item(), 0.0, 0.0]
    if one == "elements":
        # the sums, x[1] and y[0] are structural entries (pieces) beside the core rows
        z = (x.sum() + y.sum()) * 0.0
        (f(x[1], y[0]) * 1.0 + z).backward()
    else:
        (f(x[1:3], y[0] if name in ZERO_DIM_V else y[0:2]) * 1.0).sum().backward()
    return [np.zeros(3) if t.grad is None else t.grad.numpy().copy() for t in (x, y)]


@pytest.mark.parametrize("one", ["leaves", "elements"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_one_element_entries_equal_the_loops(monkeypatch, name, one):
    """A one-element entry of a core row (0-d leaves or elements of a vector: sweep_core)
    gets the gradient the row's loop gives each of two elements, bit for bit, and torch's."""
    monkeypatch.setattr(tiers, "_level", {"sweep": 0, "forward": 0})
    f = CASES[name]
    one_x, one_y = _grads(tg, f, one, name)
    two_x, two_y = _grads(tg, f, "two", name)
    assert one_x[1] == two_x[1]        # (the same element's gradient)
    assert one_y[0] == two_y[0] or name in ZERO_DIM_V
    torch = pytest.importorskip("torch")
    want_x, want_y = _grads(torch, f, one, name)
    np.testing.assert_allclose(one_x, want_x, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(one_y, want_y, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_replayed_core_rows_equal_eager(name, dtype):
    """The forward loops (forward_core) and the sweep's, on a recorded tape of two-element
    operands, in the tape's dtype: the eager values and gradients (the eager forward is
    numpy's: tanh one ulp away; the eager sweep of float32 tensors runs in float64)."""
    f = CASES[name]
    dt = getattr(tg, dtype)
    x0 = np.array(X[1:], dtype=dtype)
    y0 = np.array(Y[:2], dtype=dtype)

    def g(x, y):
        return (f(x, y[0] if name in ZERO_DIM_V else y) * 1.0).sum()
    r = tg.record(g, tg.tensor(x0, dtype=dt), tg.tensor(y0, dtype=dt))
    value, (gx, gy) = r.value_and_grad(x0, y0)
    x = tg.tensor(x0, dtype=dt, requires_grad=True)
    y = tg.tensor(y0, dtype=dt, requires_grad=True)
    out = g(x, y)
    out.backward()
    rtol = 1e-15 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(value, out.item(), rtol=rtol)
    np.testing.assert_allclose(gx, x.grad.numpy(), rtol=rtol)
    np.testing.assert_allclose(gy, np.zeros(2) if y.grad is None else y.grad.numpy(), rtol=rtol)
