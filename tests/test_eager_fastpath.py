"""The lean per-op n-d paths (ndops._binary, _unary's fast branch, the no_grad in-place
ufunc path, zero_, matmul without history) against torch, beside the general paths they
fall back to: broadcasting, mixed dtypes, integer tensors, Python numbers on either side,
one-element and 0-d operands, IEEE corner cases with numpy's error state set by the caller.
Each case compares values, dtypes, shapes, grad_fn names and gradients."""
import importlib
import warnings

import numpy as np
import pytest

import tapegrad
T = importlib.import_module("tapegrad.ndops")

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)


def _arr(shape, dtype):
    if dtype in ("int64", "int32"):
        return np.asarray(RNG.integers(1, 5, size=shape), dtype)
    if dtype == "bool":
        return np.asarray(RNG.integers(0, 2, size=shape), bool)
    return np.asarray(RNG.random(shape) + 0.5, dtype)


def _pair(value, grad=False):
    """(tapegrad tensor, torch tensor) of the same value; Python numbers stay numbers."""
    if not isinstance(value, np.ndarray):
        return value, value
    a = tapegrad.tensor(value)
    b = torch.tensor(value)
    if grad:
        a.requires_grad_(True)
        b.requires_grad_(True)
    return a, b


def _same(a, b, rtol=1e-6):
    assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1]
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(np.asarray(a.detach().numpy(), np.float64),
                               b.detach().numpy().astype(np.float64), rtol=rtol, atol=1e-6)
    if b.grad_fn is not None:
        assert type(a.grad_fn).__name__ == type(b.grad_fn).__name__


OPERANDS = [  # (x, y): the fast path's cases first, then what falls back
    (_arr((4, 3), "float32"), _arr((4, 3), "float32")),
    (_arr((4, 3), "float64"), _arr((3,), "float64")),          # broadcast
    (_arr((4, 1), "float32"), _arr((1, 3), "float32")),
    (_arr((4, 3), "float32"), 2.5),                            # Python number either side
    (1.5, _arr((4, 3), "float64")),
    (_arr((4, 3), "float32"), 3),
    (_arr((4, 3), "float32"), _arr((1,), "float32")),         # one-element tensor operand
    (_arr((4, 3), "float32"), _arr((), "float32")),
    (_arr((4, 3), "float32"), _arr((4, 3), "float64")),       # mixed dtypes: general path
    (_arr((4, 3), "float32"), _arr((), "float64")),
    (_arr((4, 3), "int64"), _arr((4, 3), "int64")),           # integer tensors
    (_arr((4, 3), "int64"), 2.5),
    (_arr((4, 3), "int32"), _arr((4, 3), "float32")),
    (_arr((4, 3), "float32"), True),
    (_arr((4, 3), "float32"), 3 ** 40),                       # an int beyond 2**53
]


# x - True: torch raises, tapegrad computes (a general-path difference, not this test's)
@pytest.mark.parametrize("op, case", [(op, case) for op in ["add", "sub", "mul", "div", "pow"]
                                      for case in range(len(OPERANDS))
                                      if not (op == "sub" and OPERANDS[case][1] is True)])
def test_binary_matches_torch(op, case):
    x, y = OPERANDS[case]
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "pow": lambda a, b: a ** b}[op]
    for grad in (False, True):
        floating = lambda v: not isinstance(v, np.ndarray) or v.dtype.kind == "f"  # noqa: E731
        g = grad and floating(x) and floating(y)
        xa, xb = _pair(x, g)
        ya, yb = _pair(y, g)
        try:
            want = fn(xb, yb)
        except RuntimeError:   # e.g. int ** negative: torch's error, ours must match
            with pytest.raises(RuntimeError):
                fn(xa, ya)
            continue
        got = fn(xa, ya)
        _same(got, want, rtol=1e-5)
        if g and want.requires_grad:
            want.sum().backward()
            got.sum().backward()
            for ta, tb in ((xa, xb), (ya, yb)):
                if isinstance(tb, torch.Tensor):
                    _same(ta.grad, tb.grad, rtol=1e-5)


# int square/sign give float here, int64 in torch (general path): left out
@pytest.mark.parametrize("name, dtype", [
    (name, dtype) for name in ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu",
                               "abs", "neg", "reciprocal", "square", "sign"]
    for dtype in ["float32", "float64", "int64"]
    if not (dtype == "int64" and name in ("square", "sign"))])
def test_unary_matches_torch(name, dtype):
    x = _arr((5, 4), dtype)
    if dtype != "int64":
        x = x - x.dtype.type(1.0)    # negatives too
    for grad in (False, dtype != "int64"):
        xa, xb = _pair(x, grad)
        try:
            want = getattr(xb, name)()
        except RuntimeError:
            with pytest.raises(RuntimeError):
                getattr(xa, name)()
            continue
        got = getattr(xa, name)()
        _same(got, want, rtol=1e-5)
        if grad:
            want.sum().backward()
            got.sum().backward()
            _same(xa.grad, xb.grad, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_of_a_number_held_value_takes_the_array_path(dtype):
    """ndops._unary of a one-element tensor held as a Python float (a sum's result, which a
    norm's sqrt reads) computes as the array-held one: the row's formula's bits (eval'd:
    _NP_FWD, the general path's), the same entry, the same gradient."""
    from tapegrad.ops import BY_CODE
    vals = [-2.5, -0.0, 0.0, 0.3, 1.7, np.nan, np.inf, -np.inf]
    for code in T._UN_ROW:
        for v in vals:
            got = []
            for held in ("number", "array"):
                x = tapegrad.tensor(v, dtype=getattr(tapegrad, dtype), requires_grad=True)
                if held == "array":
                    x._materialize()
                assert (type(x._v) is float) == (held == "number")
                with warnings.catch_warnings():
                    warnings.simplefilter("error")     # (silent, as torch)
                    out = T._unary(code, x, 0.5)
                    out.backward()
                got.append((np.asarray(out.detach().numpy()).tobytes(), out.dtype,
                            out._tape.op[out._node], x.grad.numpy().tobytes()))
            with np.errstate(all="ignore"):
                want = np.asarray(T._NP_FWD[code](np.asarray(v, dtype), None, 0.5), dtype)
            assert got[0] == got[1], (BY_CODE[code].name, v)
            assert got[0][0] == want.tobytes(), (BY_CODE[code].name, v)


def test_corner_cases_are_silent_and_leave_numpy_error_state_alone():
    """inf/nan as torch, no warning, whatever the caller's np.errstate; the caller's state
    is intact afterwards (the fast path switches warnings off for its own call only)."""
    before = np.geterr()
    big = np.full((3,), 3e38, np.float32)
    x, xt = _pair(big)
    z, zt = _pair(np.array([0.0, -1.0, 1.0], np.float32), grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            for got, want in ((x * x, xt * xt), (x - (x * x), xt - (xt * xt)),
                              (1.0 / z, 1.0 / zt), (z.log(), zt.log()), (z / z, zt / zt),
                              (z ** -1.0, zt ** -1.0), (z.sqrt(), zt.sqrt())):
                np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
            assert np.geterr()["over"] == "raise"
            with pytest.raises(FloatingPointError):
                np.float32(3e38) * np.float32(10)
    assert np.geterr() == before


@pytest.mark.parametrize("case", ["mm", "mv", "bmm", "linear", "linear_3d", "linear_host",
                                  "batch_norm"])
def test_products_of_nonfinite_values_are_silent(case):
    """A diverging fit's inf/nan through matrix products (numpy's small-product loops flag
    inf * 0: "invalid value encountered in matmul") and batch_norm's running statistics:
    torch's values, forward and backward, and no RuntimeWarning."""
    shapes = {"mm": ((3, 4), (4, 2)), "mv": ((3, 4), (4,)), "bmm": ((2, 3, 4), (2, 4, 2)),
              "linear": ((5, 4), (3, 4)), "linear_3d": ((2, 5, 4), (3, 4)),
              "linear_host": ((64, 256), (128, 256)), "batch_norm": ((3, 4), (4,))}[case]
    xv, wv = (_arr(s, "float32") - 1.0 for s in shapes)   # (signed: inf - inf in the sums)
    if case != "linear_host":   # (there the infinite gradient alone)
        xv.reshape(-1)[[0, 1, -1]] = [np.inf, np.nan, -np.inf]
    got, want = [], []
    for m, out in ((tapegrad, got), (torch, want)):
        x = m.tensor(xv, requires_grad=True)
        w = m.tensor(wv, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            if case.startswith("linear"):
                lin = m.nn.Linear(*w.shape[::-1])
                with m.no_grad():
                    lin.weight.copy_(w)
                    lin.bias.fill_(0.5)
                w = lin.weight
                y = lin(x)
            elif case == "batch_norm":
                stats = m.zeros(4), m.ones(4)
                y = m.nn.functional.batch_norm(x, *stats, w, training=True)
                out.append(stats[1].numpy().copy())
            else:
                y = x @ w
            (y * float("inf")).sum().backward()   # (inf gradients through the product)
        out += [y.detach().numpy(), x.grad.numpy(), w.grad.numpy()]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 2), ()])
def test_overflowing_float32_gradients_read_as_inf_silently(shape):
    """A float32 gradient beyond float32's range, as .grad of a retained non-leaf and as
    autograd.grad's results (the arena's float64 cast to float32 there): inf, no
    RuntimeWarning ("overflow encountered in cast")."""
    got, want = [], []
    for m, out in ((tapegrad, got), (torch, want)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            x = m.full(shape, 2.0, requires_grad=True)
            h = x * 1.0
            h.retain_grad()
            (h * 1e38).sum().mul(10).backward()
            out += [h.grad.numpy(), x.grad.numpy()]
            h = x * 1.0
            out += [g.numpy() for g in m.autograd.grad((h * 1e38).sum().mul(10), [h, x])]
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_zero_dim_array_operands():
    """0-d array-backed operands (after .numpy() shared them) give 0-d results, not numpy
    scalars."""
    a, b = tapegrad.tensor(2.0), tapegrad.tensor(3.0)
    a.numpy(), b.numpy()
    for r in (a * b, a + 1.0, -a, a.exp()):
        assert isinstance(r, tapegrad.Tensor) and r.shape == () and r.dtype == tapegrad.float32
    assert (a * b).item() == 6.0


@pytest.mark.parametrize("method, other", [
    (method, other) for method in ["add_", "sub_", "mul_", "div_"]
    for other in ["same", "broadcast", "number", "int", "float64", "alpha"]
    if not (other == "alpha" and method in ("mul_", "div_"))])
def test_no_grad_inplace_matches_torch(method, other):
    base = _arr((4, 3), "float32")
    ov = {"same": _arr((4, 3), "float32"), "broadcast": _arr((3,), "float32"), "number": 0.25,
          "int": 2, "float64": _arr((4, 3), "float64"), "alpha": _arr((4, 3), "float32")}[other]
    kw = {"alpha": 0.5} if other == "alpha" else {}
    xa, xb = _pair(base.copy(), grad=True)
    oa, ob = _pair(ov)
    with tapegrad.no_grad():
        view = xa.detach()
        v0 = xa._version
        getattr(xa, method)(oa, **kw)
    with torch.no_grad():
        getattr(xb, method)(ob, **kw)
    _same(xa, xb)
    assert xa._version == v0 + 1 == view._version
    np.testing.assert_array_equal(view.numpy(), xa.detach().numpy())   # same memory
    # the leaf's next use records its new value
    (xa * xa).sum().backward()
    (xb * xb).sum().backward()
    _same(xa.grad, xb.grad)


def test_inplace_shape_and_cast_errors_unchanged():
    x = tapegrad.zeros(3)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                           r"broadcast shape \[2, 3\]"):
        x.sub_(tapegrad.ones(2, 3))
    i = tapegrad.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        i.mul_(0.5)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("shape", [(3, 2), (), (1,)])
def test_zero_matches_torch(dtype, shape):
    x = _arr(shape, dtype)
    xa, xb = _pair(x.copy())
    v0 = xa._version
    xa.zero_()
    xb.zero_()
    _same(xa, xb)
    assert xa._version == v0 + 1


def test_grad_zero_and_sgd_steps_match_torch():
    """The two-layer training loop (forward, backward, no_grad update, .grad.zero_()) keeps
    matching torch step after step: in-place updates reach the leaves' next uses."""
    rng = np.random.default_rng(3)
    data = [rng.standard_normal(s).astype(np.float32) for s in ((8, 16), (8, 4), (16, 16), (16, 4))]
    losses = []
    for mod in (tapegrad, torch):
        x, y = mod.tensor(data[0]), mod.tensor(data[1])
        w1 = mod.tensor(data[2], requires_grad=True)
        w2 = mod.tensor(data[3], requires_grad=True)
        out = []
        for _ in range(5):
            loss = (x.mm(w1).relu().mm(w2) - y).pow(2).sum()
            loss.backward()
            with mod.no_grad():
                w1 -= 1e-3 * w1.grad
                w2 -= 1e-3 * w2.grad
                w1.grad.zero_()
                w2.grad.zero_()
            out.append(loss.item())
        losses.append(out)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((4,), (4,)), ((2, 3, 4), (2, 4, 5)),
                                    ((3,), (3, 2)), ((2, 3), (3,))])
def test_matmul_matches_torch(shapes):
    sa, sb = shapes
    x, y = _arr(sa, "float64"), _arr(sb, "float64")
    for grad in (False, True):
        xa, xb = _pair(x, grad)
        ya, yb = _pair(y, grad)
        got, want = xa @ ya, xb @ yb
        _same(got, want)
        assert isinstance(got.numpy() if not grad else got.detach().numpy(), np.ndarray)
        if grad:
            want.sum().backward()
            got.sum().backward()
            _same(xa.grad, xb.grad)
            _same(ya.grad, yb.grad)


def test_fast_path_tables_cover_the_op_table():
    """Every elementwise op whose forward reads all its operands has a fast entry; the
    others (zero, fill, copy) stay on the general path, but straight_through (its operand
    broadcast by its own forward: the bodies that carry a gradient by it)."""
    from tapegrad.ops import BY_CODE
    for op in BY_CODE:
        if op.kind == "binary":
            assert (op.code in T._BIN_FAST) == (op.code not in T._PARTIAL_FWD or
                                                 op.name == "straight_through"), op.name
        if op.kind == "unary":
            assert (op.code in T._UN_FAST) == (op.code not in T._PARTIAL_FWD), op.name


def test_no_fp_flag_forwards_raise_no_flag():
    """The unary forwards run without an errstate (ndops._NO_FP_FLAGS) raise no
    floating-point flag on nan, inf, subnormals or huge values: numpy checks the flags after
    every loop, so under all="raise" a flag would be an error."""
    from tapegrad.ops import BY_CODE
    assert {BY_CODE[c].name for c in T._NO_FP_FLAGS} == {"neg", "tanh", "abs", "relu"}
    for dtype in (np.float32, np.float64):
        info = np.finfo(dtype)
        x = np.array([np.nan, np.inf, -np.inf, info.smallest_subnormal, -info.tiny, -0.0, 0.0,
                      info.max, -info.max, 88.8, -1000.0, 0.5] * 9, dtype)
        for code in T._NO_FP_FLAGS:
            fwd, takes_c = T._UN_FAST[code]
            for arr in (x, x[::2], x.reshape(-1, 2)[:, 0], x.reshape(9, 12)):
                with np.errstate(all="raise"):
                    fwd(arr, 0.0 if takes_c else None)


# (x requires grad, y a constant n-d tensor): a fresh tape, then an open one; either side
@pytest.mark.parametrize("fn", [lambda a, b: a + b, lambda a, b: b - a, lambda a, b: a * b,
                                lambda a, b: b / a, lambda a, b: a @ b.T, lambda a, b: b @ a.T,
                                lambda a, b: (a * b).tanh().mean(), lambda a, b: (b - a) ** 2])
def test_leaves_and_constants_on_fresh_and_open_tapes(fn):
    x, y = _arr((3, 4), "float32"), _arr((3, 4), "float32")
    xa, xb = _pair(x, True)
    ya, yb = _pair(y)
    for _ in range(2):    # the second forward: on the tape the first one left open
        xa.grad = xb.grad = None
        got, want = fn(xa, ya), fn(xb, yb)
        _same(got, want, rtol=1e-5)
        got.sum().backward()
        want.sum().backward()
        _same(xa.grad, xb.grad, rtol=1e-5)
    got, want = fn(xa, ya), fn(xb, yb)
    with tapegrad.no_grad():
        ya.add_(1.0)   # a constant the graph saved, changed: torch's error if it is read
    yb.add_(1.0)
    try:
        want.sum().backward()
    except RuntimeError:
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            got.sum().backward()
    else:
        got.sum().backward()


@pytest.mark.parametrize("fn", [lambda w: w * w, lambda w: w @ w, lambda w: w + w.tanh()])
def test_a_leaf_read_twice_by_one_op_has_one_leaf_entry(fn):
    w = tapegrad.tensor(_arr((3, 3), "float64"), requires_grad=True)
    out = fn(w)
    assert len(out._tape.leaf_of[id(w)]) == 1


# leaves not yet on the tape (_binary's and matmul's -4 operands, entered by leaf_node):
# two leaves, one leaf twice, on a fresh tape and then on the one the first call left open
@pytest.mark.parametrize("fn, nleaves", [
    (lambda v, w: v + w, 2), (lambda v, w: w * v, 2), (lambda v, w: v @ w, 2),
    (lambda v, w: w @ v.T, 2), (lambda v, w: v + v, 1), (lambda v, w: v @ v, 1),
    (lambda v, w: (v @ w) + v, 2), (lambda v, w: v - (w @ w), 2)])
def test_leaves_entered_by_the_fast_paths_as_torch(fn, nleaves):
    a, b = _pair(_arr((3, 3), "float32"), True)
    c, d = _pair(_arr((3, 3), "float32"), True)
    for step in range(2):   # (the second: on the tape the first forward left open)
        got, want = fn(a, c), fn(b, d)
        _same(got, want, rtol=1e-5)
        tape = got._tape   # (one entry per leaf: the open tape's second forward reuses it)
        assert sum(len(tape.leaf_of.get(id(t), ())) for t in (a, c)) == nleaves
    got.sum().backward()
    want.sum().backward()
    for x, y in ((a, b), (c, d)):
        if y.grad is None:
            assert x.grad is None
        else:
            _same(x.grad, y.grad, rtol=1e-5)


def test_formula_functions_equal_the_formulas():
    """ndops._NP_FORMULA's functions give the op row's formula's bits (eval'd: _NP_FWD)."""
    from tapegrad.ops import BY_CODE
    x = np.array([-2.5, -0.0, 0.0, 0.3, 1.7, np.nan, np.inf, -np.inf], np.float32)
    for op in BY_CODE:
        if op.fwd in T._NP_FORMULA:
            for c in (2.0, 3.0, 0.5, -1.0):
                with np.errstate(all="ignore"):
                    got = T._NP_FORMULA[op.fwd](x, c)
                    want = np.asarray(T._NP_FWD[op.code](x, None, c), np.float32)
                np.testing.assert_array_equal(got, want)
                np.testing.assert_array_equal(np.signbit(got), np.signbit(want))   # (-0.0)
                assert got.dtype == want.dtype


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape", [(), (3, 4)])
def test_formula_functions_equal_the_formulas_in_every_float_dtype(dtype, shape):
    """ndops._NP_FORMULA's functions (softplus's, relu's, ...) give the formula's bits in
    each float dtype, for 0-d and n-d operands, at thresholds the dtype holds exactly and
    not (20.1), beside the threshold, past exp's range, subnormal, nan, inf and -0.0."""
    from tapegrad.ops import BY_CODE
    vals = [-2.5, -0.0, 0.0, 0.3, 20.0, 20.1, 19.99, 25.0, 100.0, -100.0, 1e-40, np.nan,
            np.inf, -np.inf]
    for op in BY_CODE:
        if op.fwd not in T._NP_FORMULA:
            continue
        for v in vals if not shape else [None]:
            x = np.asarray(v if v is not None else
                           np.resize(vals, int(np.prod(shape))).reshape(shape), dtype)
            for c in (20.0, 20.1, 2.0, 0.5, -1.0):
                with np.errstate(all="ignore"):
                    got = T._NP_FORMULA[op.fwd](x.copy(), c)
                    want = T._NP_FWD[op.code](x.copy(), None, c)
                assert np.asarray(got).dtype == np.asarray(want).dtype, op.name
                np.testing.assert_array_equal(got, want)
                np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_softplus_of_a_recorded_input_as_torch():
    """F.softplus (the unary fast path's formula function) at its threshold's neighbours and
    special values: torch's values (to its last bit's rounding), gradient and grad_fn, with
    the default and another threshold."""
    torch = pytest.importorskip("torch")
    vals = np.array([-30.0, -2.5, -0.0, 0.0, 0.3, 19.99, 20.0, 20.01, 25.0, 90.0, np.inf,
                     -np.inf], np.float32)
    for th in (20.0, 1.5):
        got = []
        for m in (tapegrad, torch):
            x0 = m.tensor(vals, requires_grad=True)
            y = m.nn.functional.softplus(x0 * 1.0, threshold=th)
            y.sum().backward()
            got.append((y.detach().numpy(), x0.grad.numpy(), y.grad_fn.name()))
        # (torch's vectorized exp / log1p: within an ulp of numpy's)
        np.testing.assert_allclose(got[0][0], got[1][0], rtol=2e-7, atol=0)
        np.testing.assert_allclose(got[0][1], got[1][1], rtol=2e-7, atol=0)
        assert got[0][2] == got[1][2]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pow_of_tensors_is_c_pow(dtype):
    """tensor ** tensor is C pow per element (numpy's power with an exponent array of the
    full shape), also for an exponent of one element (numpy's loop would take sqrt for 0.5:
    -inf -> nan, -0.0 -> -0.0), in the fast path (one dtype) and the general one (mixed),
    as torch's."""
    base = [-np.inf, -0.0, 0.0, 4.0, 2.5, np.inf, np.nan]
    for e in (0.5, 2.0, -1.0, 1.5, 3.0):
        for edt in (dtype, "float64" if dtype == "float32" else "float32"):
            for shape in ((), (1,), (len(base),)):
                # (a 0-d exponent does not promote the base's dtype, as torch's)
                rdt = np.dtype(dtype) if shape == () else np.result_type(dtype, edt)
                with np.errstate(all="ignore"):
                    want = np.power(np.asarray(base, dtype).astype(rdt),
                                    np.full(len(base), e, rdt))
                x = tapegrad.tensor(base, dtype=getattr(tapegrad, dtype))
                y = tapegrad.tensor(np.full(shape, e), dtype=getattr(tapegrad, edt))
                got = (x ** y).numpy()
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)
                np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_formula_functions_equal_the_formulas(dtype):
    """ndops._NP_BIN_FORMULA's functions (clamp_min, clamp_max, maximum, minimum by
    np.maximum / np.minimum) give the formula's bits, zeros' signs and nan included, for
    bounds that are numbers of the dtype (the fast path's) or arrays, broadcast either way,
    past one SIMD vector."""
    from tapegrad.ops import BY_CODE
    vals = [-2.5, -0.0, 0.0, 0.3, 1.7, np.nan, np.inf, -np.inf]
    x = np.array(vals * 5, dtype)
    grid = np.array(vals, dtype)
    cases = [(x, np.dtype(dtype).type(b)) for b in vals] + [
        (x, np.array(vals[::-1] * 5, dtype)), (grid[:, None], grid[None, :]),
        (grid[None, :], grid[:, None])]
    rows = [op for op in BY_CODE if op.fwd in T._NP_BIN_FORMULA and op.name != "pow"]
    assert {op.name for op in rows} >= {"clamp_min", "clamp_max", "maximum", "minimum"}
    for op in rows:
        for a, b in cases:
            with np.errstate(all="ignore"):
                got = T._NP_BIN_FORMULA[op.fwd](a, b)
                want = np.asarray(T._NP_FWD[op.code](a, b, 0.0), dtype)
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
            assert got.dtype == want.dtype


_DIRECT_WRITERS = {
    "clamp": lambda m, x: x.clamp(-1.0, 1.0), "clamp_min": lambda m, x: x.clamp(min=0),
    "norm": lambda m, x: x.norm(), "softmax": lambda m, x: x.softmax(1),
    "log_softmax": lambda m, x: x.log_softmax(-1), "cumsum": lambda m, x: x.cumsum(1),
    "topk": lambda m, x: x.topk(2, 1).values,
    "embedding": lambda m, x: m.nn.functional.embedding(m.tensor([2, 0, 1]), x),
    "layer_norm": lambda m, x: m.nn.functional.layer_norm(x, (4,)),
    "dropout": lambda m, x: m.nn.functional.dropout(x, 0.0),
    "softplus": lambda m, x: m.nn.functional.softplus(x)}


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "enable_grad"])
@pytest.mark.parametrize("name", sorted(_DIRECT_WRITERS))
def test_direct_writers_under_grad_modes_as_torch(name, mode):
    """The ops with writers of their own (clamp, norm, softmax, cumsum, topk, embedding,
    layer_norm, dropout, softplus) on a tensor computed from a leaf, under no_grad,
    inference_mode and grad mode: torch's values, requires_grad, grad_fn and
    is_inference."""
    torch = pytest.importorskip("torch")
    xa = np.linspace(-2.0, 2.5, 12, dtype=np.float32).reshape(3, 4)
    got = []
    for m in (tapegrad, torch):
        x = m.tensor(xa, requires_grad=True) * 1.5
        with getattr(m, mode)():
            y = _DIRECT_WRITERS[name](m, x)
        got.append((np.round(y.detach().numpy(), 5).tolist(), y.requires_grad,
                    y.grad_fn and y.grad_fn.name(), y.is_inference()))
    assert got[0] == got[1]


# _binary's result when no operand is recorded (an optimizer's `lr * p.grad` under no_grad,
# plain tensors): Tensor._wrap's tensor, its array case made inline
@pytest.mark.parametrize("shape", [(4, 3), (0, 3), (1,), ()])
@pytest.mark.parametrize("mode", ["plain", "no_grad"])
def test_unrecorded_binary_results_are_what_wrap_makes(shape, mode):
    x, y = _arr(shape, "float32"), _arr(shape, "float32")
    grad = mode == "no_grad"
    xa, xb = _pair(x, grad)
    ya, yb = _pair(y, grad)
    # (a numpy scalar: the general path's call of _binary, one-element results included)
    for fn in (lambda a, b: 0.05 * b, lambda a, b: a * 3, lambda a, b: a + b,
               lambda a, b: b - a, lambda a, b: a * np.float32(2.0)):
        with tapegrad.no_grad(), torch.no_grad():
            got, want = fn(xa, ya), fn(xb, yb)
        ref = tapegrad.Tensor._wrap(np.asarray(got._array()), got.dtype)
        # (a float when one element, else the array; before numpy() shares its memory)
        assert type(got._v) is type(ref._v)
        assert got._shape == ref._shape and got._tape is None and not got.requires_grad
        assert got.is_leaf and got.grad_fn is None and got._version == 0
        _same(got, want)


# a leaf's first .grad is copied out of the sweep's float64 arena in its dtype and shape
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2), (3,), (1,), (), (1, 1)])
def test_first_grads_of_leaves_as_torch(dtype, shape):
    a, b = _pair(_arr(shape, dtype), True)
    c, d = _pair(_arr(shape, dtype), True)
    for p, q in ((a, b), (c, d)):   # (a transposed leaf: its first .grad has its layout)
        if len(shape) == 2:
            p, q = p.detach().T.requires_grad_(True), q.detach().T.requires_grad_(True)
        (p * p + c.reshape(p.shape).tanh()).sum().backward() if p is not c else \
            ((p ** 3).sum() * 0.5).backward()
        (q * q + d.reshape(q.shape).tanh()).sum().backward() if q is not d else \
            ((q ** 3).sum() * 0.5).backward()
        _same(p.grad, q.grad, rtol=1e-6)
        assert p.grad.stride() == q.grad.stride() and p.grad.dtype == p.dtype
        if p.grad.numel() > 1:
            arr = p.grad.numpy()
            assert arr.flags.writeable and arr.flags.c_contiguous == q.grad.is_contiguous()


@pytest.mark.parametrize("exponent", [2, 3, -1, 0, 2.0, 0.5, -0.5, 1.5, True, False,
                                      np.float32(2.0), np.int64(3), np.float64(0.5),
                                      np.bool_(True), 2 ** 62, 2 ** 64, -2 ** 63 - 1])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_pow_of_number_exponents_as_torch(exponent, dtype):
    """Tensor.__pow__ takes Python ints and floats first (no isinstance chain): the same
    results, grad_fns and errors as torch for every kind of exponent."""
    for grad in (False, True):
        if grad and dtype in ("int64", "bool"):
            continue
        xa, xb = _pair(_arr((3, 2), dtype), grad)
        try:
            want = xb ** exponent
        except (RuntimeError, OverflowError) as e:
            with pytest.raises(type(e)):
                xa ** exponent
            continue
        got = xa ** exponent
        _same(got, want, rtol=1e-5)
        if grad:
            want.sum().backward()
            got.sum().backward()
            _same(xa.grad, xb.grad, rtol=1e-5)


def test_pow_of_bool_tensors_and_tensor_exponents_as_torch():
    x = tapegrad.tensor([True, False])
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        x ** x
    a, b = _pair(_arr((3,), "float32"), True)
    e, f = _pair(_arr((3,), "float32"))
    _same(a ** e, b ** f, rtol=1e-5)
    for x in (a, b):
        with pytest.raises(TypeError):
            x ** "2"


# (a Python float in float32's range goes into + - * / as it is, numpy casting it to the
# tensor's dtype; the rest as the dtype's scalar: both must give dt.np.type(number)'s bits;
# one-element tensors take the scalar fast path, not this one)
_NUMBERS = [0.05, 1 / 3, -0.0, 0.0, 1e-45, 1e-39, 3.4e38, -3.4e38, 3.5e38, -1e300,
            float("inf"), float("nan"), 7, -(2 ** 40), 0.1 + 0.2]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2), (0, 3)])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_number_operands_have_the_scalar_operands_bits(dtype, shape, op):
    ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}[op]
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b}[op]
    dtn = np.dtype(dtype)
    arr = np.asarray(RNG.standard_normal(shape) * 1e3, dtn)
    for number in _NUMBERS:
        with np.errstate(all="ignore"):
            scalar = dtn.type(number)
        for left in (False, True):
            with np.errstate(all="ignore"):
                if left and op == "div":   # (number / x: reciprocal, then a product, as torch)
                    recip = tapegrad.tensor(arr).reciprocal().numpy()
                    ref = np.asarray(np.multiply(recip, scalar), dtn)
                else:
                    ref = np.asarray(ufunc(scalar, arr) if left else ufunc(arr, scalar), dtn)
            for grad in (False, True):
                xa, xb = _pair(arr, grad)
                with np.errstate(all="raise"), warnings.catch_warnings():
                    warnings.simplefilter("error")   # (silent: no flag, no warning)
                    got = fn(number, xa) if left else fn(xa, number)
                want = fn(number, xb) if left else fn(xb, number)
                assert str(got.dtype) == str(want.dtype).replace("torch", "tapegrad")
                assert tuple(got.shape) == tuple(want.shape)
                # (bit for bit, nan payloads aside)
                got_arr = got.detach().numpy()
                same = (got_arr == ref) | (np.isnan(got_arr) & np.isnan(ref))
                same &= np.signbit(got_arr) == np.signbit(ref)
                assert same.all(), (number, left, grad)
                if grad:
                    assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
                    if not abs(number) < 1e30:   # (float32 overflow inside torch's VJPs)
                        continue
                    got.sum().backward()
                    want.sum().backward()
                    _same(xa.grad, xb.grad)


@pytest.mark.parametrize("n", [256, 4099])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_of_a_large_tensor_keeps_zeros_signs_and_nans_as_torch(dtype, n):
    """relu of a tensor long enough for numpy's SIMD maximum (whose sign for -0.0 varies
    with its loop), its zeros found by one compare pass (a count for a small one): torch's
    bits, -0.0 kept where the input has it, +0.0 for negatives, nan kept; and without any
    zero (no fix-up)."""
    x = RNG.standard_normal(n).astype(dtype)
    x[[0, 17, 100, n - 1]] = -0.0
    x[[5, 200]] = 0.0
    x[[9, 201]] = np.nan
    for arr in (x, np.where(x == 0, 1.0, x).astype(dtype)):
        got = tapegrad.tensor(arr).relu().numpy()
        want = torch.tensor(arr).relu().numpy()
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_relu_of_a_small_tensor_makes_no_python_call_in_numpy():
    """Counting calls, not time: relu of a small tensor finds its zeros by a count, without
    ndarray.any's Python frame (numpy's _methods._any, ~0.3 us of a 256-element relu)."""
    import sys
    x = tapegrad.randn(8, 32, requires_grad=True) * 1.0
    x.relu()
    seen = []

    def prof(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.endswith("_methods.py"):
            seen.append(frame.f_code.co_name)
    sys.setprofile(prof)
    try:
        x.relu()
    finally:
        sys.setprofile(None)
    assert not seen, seen


@pytest.mark.parametrize("name", ["sigmoid", "silu"])
def test_sigmoid_family_by_formula_functions(name):
    """Counting calls, not time: sigmoid and silu of a small tensor run their formula
    functions (ndops._NP_FORMULA, one temporary), not the vocabulary's numpy lambdas; their
    bits are the formulas' (test_formula_functions_equal_the_formulas_in_every_float_dtype)."""
    import sys
    from tapegrad.ops import OPS
    assert OPS[name].fwd in T._NP_FORMULA
    x = tapegrad.randn(8, 32, requires_grad=True) * 1.0
    op = getattr(tapegrad.nn.functional, name)
    op(x)
    seen = []

    def prof(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "<lambda>":
            seen.append(frame.f_code.co_filename)
    sys.setprofile(prof)
    try:
        op(x)
    finally:
        sys.setprofile(None)
    assert not seen, seen


@pytest.mark.parametrize("shape, call", [
    ((8, 32), lambda x: x.sum(1)), ((8, 32), lambda x: x.mean(-1, True)),
    ((3, 4, 5), lambda x: x.sum(1, keepdim=True)), ((3, 4, 5), lambda x: x.mean(0)),
    ((4, 0), lambda x: x.mean(1)), ((4, 0), lambda x: x.sum(0)),
    ((2, 3), lambda x: x.t().sum(1)), ((5, 1), lambda x: x.mean(0)),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reduction_over_one_dim_as_torch(shape, call, dtype):
    """_reduce's one-dim path (a row-major float tensor on the open tape) and the general
    path beside it (a transposed input): values, dtype, grad_fn and gradient as torch's."""
    arr = RNG.standard_normal(shape).astype(dtype)
    got, want = [], []
    for lib, acc in ((tapegrad, got), (torch, want)):
        leaf = lib.tensor(arr, requires_grad=True)
        r = call(leaf * 1.0)
        acc += [r.detach().numpy(), str(r.dtype).split(".")[-1], type(r.grad_fn).__name__]
        (r * 2.0).sum().backward()
        acc.append(leaf.grad.numpy().tolist())
    # (the sums' rounding: numpy's pairwise order, not torch's vectorized one)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5 if dtype == "float32" else 1e-12)
    assert got[0].shape == want[0].shape and got[1:] == want[1:]


def test_reduction_over_one_dim_in_few_frames():
    """Counting calls, not time: x.sum(1) of a node on the open tape records in one frame
    below the method (no _dim, _array, _tape_for, _check_mixed, input_node calls)."""
    import sys
    x = tapegrad.randn(8, 32, requires_grad=True) * 1.0
    x.sum(1)
    seen = []

    def prof(frame, event, arg):
        if event == "call":
            seen.append(frame.f_code.co_name)
    sys.setprofile(prof)
    try:
        x.sum(1)
    finally:
        sys.setprofile(None)
    assert not {"_dim", "_array", "_tape_for", "input_node"} & set(seen), seen


# a one-element operand held as a number (a (1,) bias, a 0-d scale) beside an n-d array:
# _binary hands numpy a scalar of the dtype; the same bits, shapes and gradients as torch,
# with the operand on either side and of more dims than the array (the array's path then)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xshape, bshape", [((5, 1), (1,)), ((3, 4), (1,)), ((3, 4), ()),
                                            ((3, 4), (1, 1)), ((4,), (1, 1)), ((), (1,)),
                                            ((2, 3, 2), (1, 1))])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_number_held_one_element_operands_as_torch(dtype, xshape, bshape, op):
    x, xt = _pair(_arr(xshape, dtype), True)
    b, bt = _pair(_arr(bshape, dtype), True)
    assert type(b._v) is float   # (a one-element tensor holds its value as a number)
    for got, want in ((getattr(tapegrad, op)(x, b), getattr(torch, op)(xt, bt)),
                      (getattr(tapegrad, op)(b, x), getattr(torch, op)(bt, xt))):
        assert tuple(got.shape) == tuple(want.shape) and str(got.dtype) == "tapegrad." + dtype
        assert np.array_equal(got.detach().numpy(), want.detach().numpy())
        got.sum().backward()
        want.sum().backward()
    _same(x.grad, xt.grad)
    _same(b.grad, bt.grad)


def test_number_held_float32_operand_past_float32_range_is_inf_as_torch():
    # (a float32 one-element value the scalar fast path holds in double past float32's
    # range reads as inf when it meets an array, silently)
    big = tapegrad.tensor(3e38, dtype=tapegrad.float32, requires_grad=True) * 10.0
    bigt = torch.tensor(3e38, dtype=torch.float32, requires_grad=True) * 10.0
    x, xt = _pair(_arr((3, 2), "float32"), True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = x * big
    want = xt * bigt
    assert np.array_equal(got.detach().numpy(), want.detach().numpy())


# the const entry of an n-d operand that does not require grad (a batch, targets): one per
# use, holding the value the entries read, entered with its version; as torch when changed
@pytest.mark.parametrize("fn", [lambda w, c: c @ w, lambda w, c: w.T @ c.T,
                                lambda w, c: (w - c) ** 2, lambda w, c: c * w])
def test_const_entries_as_torch(fn):
    w, wt = _pair(_arr((3, 3), "float32"), True)
    c, ct = _pair(_arr((3, 3), "float32"))
    got, want = fn(w, c), fn(wt, ct)
    tape = got._tape
    consts = [e for e in range(tape.n) if tape.op[e] == T.OP_CONST]
    assert len(consts) == 1 and np.shares_memory(tape.saved_array(consts[0]), c._v)
    assert tape.nds.nsaved[consts[0]] >= 1 and tape.versions[consts[0]][1] == 0
    got.sum().backward(retain_graph=True)
    want.sum().backward(retain_graph=True)
    _same(w.grad, wt.grad, rtol=1e-5)
    with tapegrad.no_grad():
        c.mul_(2.0)
    with torch.no_grad():
        ct.mul_(2.0)
    try:
        want.sum().backward()
    except RuntimeError as e:
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            got.sum().backward()
        assert "modified by an inplace operation" in str(e)
    else:   # (an entry that does not read the constant's value: as torch, no error)
        got.sum().backward()
