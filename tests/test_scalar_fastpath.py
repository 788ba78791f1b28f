"""The 0-d record path's shortcuts (codegen's fast-path templates, vocab.Fn.fast, the no_grad
scalar in-place update) against the faces they stand for and against torch:

* a vocabulary function's C face (`fast`) equals its scalar face wherever it returns, and
  raises only where the scalar face gives inf or nan (the fast path then takes numpy's path);
* a 0-d op whose C face raises (sin(inf), log(0), sqrt(-1), exp(1000), ...) gives torch's
  value, grad_fn and gradient, without warnings;
* a Python number on either side of a binary op (float, int, bool) gives torch's value,
  dtype, grad_fn and gradients (float64: the 0-d float32 path keeps float64 values);
* `p -= lr * g` on 0-d float32 tensors under no_grad rounds as torch."""
import math
import warnings

import pytest

import tapegrad as tg
from tapegrad import vocab

torch = pytest.importorskip("torch")

SPECIAL = (0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 1e-320, 1e300, -1e300, 710.0, -710.0,
           math.inf, -math.inf, math.nan)
FAST = [f for f in vocab.FUNCS.values() if f.fast is not None]


def _same(a, b):
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b) or a != a and b != b


@pytest.mark.parametrize("fn", FAST, ids=[f.name for f in FAST])
def test_c_face_is_the_scalar_face_where_it_returns(fn):
    for x in SPECIAL:
        want = fn.scalar(x)
        try:
            got = fn.fast(x)
        except (ArithmeticError, ValueError):
            assert math.isinf(want) or math.isnan(want), (fn.name, x, want)
            continue
        assert type(got) is float and _same(got, want), (fn.name, x, got, want)


# (function, argument) where the C face raises: the 0-d op takes numpy's path
RAISING = [("sin", math.inf), ("cos", -math.inf), ("tan", math.inf), ("log", 0.0),
           ("log", -1.0), ("sqrt", -1.0), ("exp", 1000.0), ("expm1", 1000.0),
           ("log1p", -1.0), ("log2", 0.0), ("log10", -2.0), ("asin", 2.0), ("acos", -2.0),
           ("sinh", 1000.0), ("cosh", -1000.0), ("acosh", 0.5), ("atanh", 1.0)]


@pytest.mark.parametrize("name, x", RAISING)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_zero_dim_op_where_the_c_face_raises_is_torchs(name, x, dtype):
    a = tg.tensor(x, dtype=getattr(tg, dtype), requires_grad=True)
    b = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ya, yb = getattr(a, name)(), getattr(b, name)()
        ya.backward()
    yb.backward()
    assert _same(ya.item(), yb.item()), (ya.item(), yb.item())
    assert ya.dtype.name == str(yb.dtype).split(".")[1]
    assert ya.grad_fn.name() == yb.grad_fn.name()
    ga, gb = a.grad.item(), b.grad.item()
    assert _same(ga, gb) or math.isclose(ga, gb, rel_tol=1e-6), (ga, gb)


BINARY = {"add": lambda p, q: p + q, "sub": lambda p, q: p - q, "mul": lambda p, q: p * q,
          "div": lambda p, q: p / q, "pow": lambda p, q: p ** q}


@pytest.mark.parametrize("op, number", [(op, n) for op in BINARY for n in (2.5, -3, 0, math.inf)]
                         + [("add", True), ("mul", False)])
@pytest.mark.parametrize("tensor_first", [True, False])
def test_number_operand_on_either_side_is_torchs(op, number, tensor_first):
    f = BINARY[op]
    a = tg.tensor(0.75, dtype=tg.float64, requires_grad=True)
    b = torch.tensor(0.75, dtype=torch.float64, requires_grad=True)
    ha, hb = a * 2.0, b * 2.0            # a non-leaf operand, as in a recurrence
    for pa, pb in ((a, b), (ha, hb)):
        try:
            want = f(pb, number) if tensor_first else f(number, pb)
        except Exception as e:   # noqa: BLE001 - the same error type is expected
            with pytest.raises(type(e)):
                f(pa, number) if tensor_first else f(number, pa)
            continue
        got = f(pa, number) if tensor_first else f(number, pa)
        assert _same(float(got.item()), want.item()), (got.item(), want.item())
        assert got.dtype.name == str(want.dtype).split(".")[1]
        assert got.grad_fn.name() == want.grad_fn.name()
        gg, = tg.autograd.grad(got, a)
        gw, = torch.autograd.grad(want, b)
        assert _same(gg.item(), gw.item()) or math.isclose(gg.item(), gw.item(), rel_tol=1e-6)



# (a tensor operand's role in a tensor-tensor op: a leaf that requires grad, a result recorded
# on the open tape, one of an older (frozen) tape, a constant; each float-held or one-element
# array storage)
ROLES = ("leaf", "result", "older", "const")


def _operands(role, x, lib, array_held):
    if role == "older":
        t0 = lib.tensor(0.5, dtype=lib.float64, requires_grad=True)
        h = t0 * 3.0
        (h * 1.0).backward(retain_graph=True)   # (tapegrad: the tape is frozen, h is imported)
        leaf, t = t0, h + (x - 1.5)
    else:
        leaf = lib.tensor(x, dtype=lib.float64, requires_grad=role != "const")
        t = leaf * 1.0 if role == "result" else leaf
    if array_held and lib is tg:
        t.detach().numpy()                      # the value now lives in a one-element ndarray
        assert type(t._v) is not float
    return leaf, t


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("left", ROLES)
@pytest.mark.parametrize("right", ROLES)
@pytest.mark.parametrize("array_held", [False, True])
def test_tensor_operands_in_every_role_are_torchs(op, left, right, array_held):
    """The fast path's tensor-tensor branches (both operands recorded, one folded as a
    constant, neither; leaves, results, imports; float or array storage) against torch."""
    f = BINARY[op]
    got = []
    for lib in (tg, torch):
        la, a = _operands(left, 0.75, lib, array_held)
        lb, b = _operands(right, -1.25, lib, array_held and left == "const")
        y = f(a, b)
        leaves = [t for t in (la, lb) if t.requires_grad]
        grads = lib.autograd.grad(y, leaves, allow_unused=True) if y.requires_grad else ()
        got.append((y.item(), y.requires_grad, y.grad_fn.name() if y.grad_fn else None,
                    [None if g is None else g.item() for g in grads]))
    assert got[0] == got[1]


def test_fast_path_counts_entries_through_growth():
    """An entry's node is the count it published (Tape.succ past each growth of the tape),
    and a longer count list is a new one: a tape keeps the list it was given."""
    from tapegrad import tape as T
    x = tg.tensor(0.5, requires_grad=True)
    y = x.sin()
    tape = y._tape
    first = y._node
    old = tape.succ
    nodes = []
    for _ in range(3000):               # past the 1024 and 2048 capacities
        y = y * 1.0001
        nodes.append(y._node)
    assert nodes == list(range(first + 1, first + 3001)) and tape.n == first + 3001
    assert tape.cap >= 4096 and len(tape.succ) >= tape.cap
    assert all(tape.succ[i] == i + 1 for i in range(tape.cap))
    assert list(old) == list(range(1, len(old) + 1))
    assert T._succ(T.MAX_ENTRIES + 1) is T._COUNT and T._COUNT[T.MAX_ENTRIES + 7] == \
        T.MAX_ENTRIES + 8
    grown = T.Tape()
    grown._resize(2 * T.MAX_ENTRIES)    # (a tape past MAX_ENTRIES: recording, or a graph
    assert grown.succ is T._COUNT       # that goes on on a sealed tape) counts with a range

def test_scalar_sgd_update_rounds_as_torch_float32():
    vals = [0.1, -1.7, 3.4e38, 1e-45, 123456.789, -0.0]
    grads = [0.3, 1e38, -3.4e38, 2e-45, 1e-3, 0.0]
    ps = [tg.tensor(v) for v in vals]
    qs = [torch.tensor(v) for v in vals]
    for p, q, g in zip(ps, qs, grads):
        with tg.no_grad():
            p -= 0.7 * tg.tensor(g)
            p += 3
            p *= 1.1
            p /= 0.3
        with torch.no_grad():
            q -= 0.7 * torch.tensor(g)
            q += 3
            q *= 1.1
            q /= 0.3
        assert _same(p.item(), q.item()), (p.item(), q.item())
