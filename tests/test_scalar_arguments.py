"""Numbers and dtypes as numpy and Python spell them, and numbers where old code puts them: a
numpy scalar (np.float32(2), np.int64(i) from np.arange) is an operand as the Python number it
holds, `dtype=float` / `int` / `bool` mean float64 / int64 / bool, and the deprecated
number-first overloads (`p.add_(-lr, grad)`) work with torch's warning, as torch's argument
parser takes them; and a numpy ufunc of tensors returns a tensor, as torch's."""
import numpy as np
import pytest

import tapegrad as tg

SCALARS = [np.float32(1.5), np.float64(2.0), np.int64(2), np.int32(-3), np.uint8(2),
           np.bool_(True)]

OPERATIONS = {
    "mul": lambda m, x, v: x * v, "rmul": lambda m, x, v: v * x,
    "add": lambda m, x, v: x + v, "radd": lambda m, x, v: v + x,
    "sub": lambda m, x, v: x - v, "rsub": lambda m, x, v: v - x,
    "div": lambda m, x, v: x / v, "rdiv": lambda m, x, v: v / x,
    "pow": lambda m, x, v: x ** v, "rpow": lambda m, x, v: v ** x,
    "floordiv": lambda m, x, v: x // v, "mod": lambda m, x, v: x % v,
    "eq": lambda m, x, v: x == v, "req": lambda m, x, v: v == x, "lt": lambda m, x, v: x < v,
    "rge": lambda m, x, v: v >= x, "clamp": lambda m, x, v: x.clamp(max=v),
    "pow_fn": lambda m, x, v: m.pow(x, v), "where": lambda m, x, v: m.where(x > 1, x, v),
    "iadd": lambda m, x, v: x.clone().__iadd__(v), "mul_": lambda m, x, v: x.clone().mul_(v),
    "alpha": lambda m, x, v: x.add(x, alpha=v), "lerp": lambda m, x, v: x.lerp(x * 2, v),
    "zero_dim": lambda m, x, v: x[0] * v, "grad": lambda m, x, v: (x.requires_grad_() * v).sum(),
}


def _outcome(fn):
    try:
        r = fn()
    except Exception as e:   # noqa: BLE001 (the error is the outcome compared)
        return "error", type(e).__name__, str(e)
    return str(r.dtype).split(".")[-1], np.asarray(r.detach()).tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_numpy_scalars_are_numbers_as_in_torch(name, dtype):
    torch = pytest.importorskip("torch")
    if dtype == "int64" and name in ("grad", "lerp"):
        return
    fn = OPERATIONS[name]
    for v in SCALARS:
        if isinstance(v, np.bool_) and name in ("iadd", "mul_", "alpha", "sub", "rsub"):
            continue    # (np.bool_ is a float to torch: known edge cases, not compared)
        got = _outcome(lambda: fn(tg, tg.tensor([1, 2], dtype=getattr(tg, dtype)), v))
        want = _outcome(lambda: fn(torch, torch.tensor([1, 2], dtype=getattr(torch, dtype)), v))
        assert got == want, (type(v).__name__, got, want)


def test_numpy_scalars_without_torch():
    x = tg.tensor([1.0, 2.0])
    assert (x * np.float32(2)).tolist() == [2.0, 4.0] and (x * np.float32(2)).dtype is tg.float32
    assert (np.int64(3) - x).tolist() == [2.0, 1.0]
    assert (x == np.int64(1)).tolist() == [True, False]
    assert (tg.tensor([1, 2]) * np.int32(2)).dtype is tg.int64
    assert [float(x[0] * i) for i in np.arange(3)] == [0.0, 1.0, 2.0]


CREATIONS = {
    "zeros": lambda m, d: m.zeros(2, dtype=d), "full": lambda m, d: m.full((2,), 3, dtype=d),
    "arange": lambda m, d: m.arange(3, dtype=d), "eye": lambda m, d: m.eye(2, dtype=d),
    "tensor": lambda m, d: m.tensor([1, 2], dtype=d),
    "as_tensor": lambda m, d: m.as_tensor([1, 2], dtype=d),
    "zeros_like": lambda m, d: m.zeros_like(m.ones(2), dtype=d),
    "linspace": lambda m, d: m.linspace(0, 1, 3, dtype=d),
    "to": lambda m, d: m.ones(2).to(d), "to_keyword": lambda m, d: m.ones(2).to(dtype=d),
    "new_zeros": lambda m, d: m.ones(2).new_zeros(2, dtype=d),
    "sum": lambda m, d: m.ones(2).sum(dtype=d), "cumsum": lambda m, d: m.ones(2).cumsum(0, dtype=d),
    "prod": lambda m, d: m.ones(2).prod(dtype=d), "mean": lambda m, d: m.ones(2).mean(dtype=d),
    "randint": lambda m, d: m.randint(0, 3, (2,), dtype=d),
}


@pytest.mark.parametrize("py_type", [float, int, bool])
@pytest.mark.parametrize("name", sorted(CREATIONS))
def test_python_types_as_dtypes_as_in_torch(name, py_type):
    torch = pytest.importorskip("torch")
    fn = CREATIONS[name]
    tg.manual_seed(0)
    got = _outcome(lambda: fn(tg, py_type))
    torch.manual_seed(0)
    want = _outcome(lambda: fn(torch, py_type))
    assert got == want


def test_python_types_as_dtypes_without_torch():
    assert tg.zeros(2, dtype=float).dtype is tg.float64
    assert tg.arange(3, dtype=int).dtype is tg.int64
    assert tg.ones(2).to(float).dtype is tg.float64 and tg.ones(2).to(bool).dtype is tg.bool
    assert tg.ones(2).cumsum(0, dtype=float).dtype is tg.float64
    with pytest.raises(NotImplementedError, match="arange_cpu"):
        tg.arange(3, dtype=bool)


LEGACY = {
    "add_": lambda m, g: m.ones(3).add_(-0.1, g), "add": lambda m, g: m.ones(3).add(2.0, g),
    "sub_": lambda m, g: m.ones(3).sub_(0.5, g), "sub": lambda m, g: m.ones(3).sub(0.5, g),
    "torch.add": lambda m, g: m.add(m.ones(3), 2.0, g),
    "addcmul_": lambda m, g: m.zeros(3).addcmul_(0.1, g, g),
    "addcdiv": lambda m, g: m.zeros(3).addcdiv(0.5, g, g),
    "torch.addcmul": lambda m, g: m.addcmul(m.zeros(3), 0.1, g, g),
}


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_number_first_overloads_as_in_torch(name):
    torch = pytest.importorskip("torch")
    fn = LEGACY[name]
    for m in (tg, torch):
        got = fn(m, m.full((3,), 2.0))
        want = fn(torch, torch.full((3,), 2.0))
        assert got.tolist() == pytest.approx(want.tolist())


def test_number_first_overloads_warn_once(monkeypatch):
    from tapegrad import errors
    monkeypatch.setattr(errors, "_WARNED", set())
    g = tg.full((3,), 2.0)
    with pytest.warns(UserWarning) as record:
        p = tg.ones(3).add_(-0.1, g)
        tg.zeros(3).addcmul_(0.1, g, g)
    assert [str(w.message) for w in record] == [
        "This overload of add_ is deprecated:\n\tadd_(Number alpha, Tensor other)\nConsider "
        "using one of the following signatures instead:\n\tadd_(Tensor other, *, Number "
        "alpha = 1)"]
    assert p.tolist() == pytest.approx([0.8] * 3)
    with pytest.raises(TypeError):
        tg.ones(3).add(g, g)


UFUNCS = {
    "sqrt": lambda m, t: np.sqrt(t), "sqrt_0d": lambda m, t: np.sqrt(t[1]),
    "add": lambda m, t: np.add(t, 1), "maximum": lambda m, t: np.maximum(t, 2),
    "isnan": lambda m, t: np.isnan(t), "sqrt_int": lambda m, t: np.sqrt(t.long()),
    "exp_double": lambda m, t: np.exp(t.double()),
}


@pytest.mark.parametrize("name", sorted(UFUNCS))
def test_numpy_ufuncs_of_tensors_are_tensors_as_in_torch(name):
    torch = pytest.importorskip("torch")
    got = _outcome(lambda: UFUNCS[name](tg, tg.tensor([1.0, 4.0])))
    want = _outcome(lambda: UFUNCS[name](torch, torch.tensor([1.0, 4.0])))
    assert got == want
    assert isinstance(UFUNCS[name](tg, tg.tensor([1.0, 4.0])), tg.Tensor)


def test_numpy_longdouble_is_a_float_operand_as_in_torch(torch_ref):
    # np.longdouble(2).item() is an np.longdouble: read as the float it holds, not recursed
    for v in (np.longdouble(2.5), np.float16(0.5)):
        for fn in (lambda m, x: x * v, lambda m, x: v - x, lambda m, x: m.full((2,), v)):
            got = fn(tg, tg.tensor([1.0, 2.0]))
            want = fn(torch_ref, torch_ref.tensor([1.0, 2.0]))
            assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
            assert got.tolist() == want.tolist()


# torch.add(2.0, y): torch's parser takes a Python number as `input` of these functions
NUMBER_INPUT_CALLS = {
    "add": lambda m, n, t: m.add(n, t), "add_alpha": lambda m, n, t: m.add(n, t, alpha=2),
    "sub": lambda m, n, t: m.sub(n, t), "subtract": lambda m, n, t: m.subtract(n, t, alpha=3),
    "mul": lambda m, n, t: m.mul(n, t), "multiply": lambda m, n, t: m.multiply(n, t),
    "div": lambda m, n, t: m.div(n, t), "divide": lambda m, n, t: m.divide(input=n, other=t),
    "true_divide": lambda m, n, t: m.true_divide(n, t),
    "div_floor": lambda m, n, t: m.div(n, t, rounding_mode="floor"),
}


def _number_input_outcome(m, call, number, dtype, shape):
    t = m.ones(shape, dtype=getattr(m, dtype)) * 3
    if t.dtype.is_floating_point:
        t.requires_grad_()
    try:
        r = call(m, number, t)
    except Exception as e:   # noqa: BLE001 (the error is the outcome compared)
        return "error", type(e).__name__
    out = [str(r.dtype).split(".")[-1], r.detach().tolist()]
    if r.requires_grad:
        out.append([n is None for n, _ in r.grad_fn.next_functions])
        out.append(m.autograd.grad(r.sum(), t)[0].tolist())
    return out


@pytest.mark.parametrize("name", sorted(NUMBER_INPUT_CALLS))
def test_number_as_input_as_in_torch(name):
    torch = pytest.importorskip("torch")
    call = NUMBER_INPUT_CALLS[name]
    for number in (2.0, -0.5, 7, True, 2 ** 40, np.float64(1.5)):
        for dtype in ("float32", "float64", "int64", "int32", "int8", "bool"):
            for shape in ((), (2,)):
                got = _number_input_outcome(tg, call, number, dtype, shape)
                want = _number_input_outcome(torch, call, number, dtype, shape)
                # (a 0-d float32 gradient may differ in its last bit: the scalar fast path
                # computes in double)
                assert got[:3] == want[:3], (number, dtype, shape, got, want)
                assert np.allclose(got[3:], want[3:], rtol=1e-6), (number, dtype, shape, got,
                                                                   want)


def test_number_as_input_without_torch():
    y = tg.tensor(1.5, requires_grad=True)
    r = tg.sub(2.0, y, alpha=2)
    assert r.item() == -1.0 and r.grad_fn.name() == "SubBackward0"
    assert r.grad_fn.next_functions[0][0] is None
    r.backward()
    assert y.grad.item() == -2.0
    assert tg.div(2, tg.tensor(3)).dtype is tg.float32            # computed in floating point
    assert tg.div(2 ** 40, tg.tensor(8, dtype=tg.int32)).item() == 2 ** 37
    assert tg.mul(2, tg.tensor(3, dtype=tg.int8)).dtype is tg.int8
    with pytest.raises(RuntimeError, match="Subtraction"):
        tg.sub(True, tg.tensor(2))
    with pytest.raises(TypeError, match="got \\(float\\)"):
        tg.add(2.0)


# a tensor for a Scalar parameter: torch's parser takes a 0-d tensor that does not require
# grad as its number (a tensor lr in a hand-written update), refuses any other
SCALAR_TENSOR_CALLS = {
    "add_": lambda m, x, y, v: x.clone().add_(y, alpha=v),
    "sub_": lambda m, x, y, v: x.clone().sub_(y, alpha=v),
    "add": lambda m, x, y, v: m.add(x, y, alpha=v),
    "sub": lambda m, x, y, v: x.sub(y, alpha=v),
    "addcmul": lambda m, x, y, v: m.addcmul(x, y, y, value=v),
    "addcdiv": lambda m, x, y, v: x.addcdiv(y, y + 1, value=v),
    "addcmul_": lambda m, x, y, v: x.clone().addcmul_(y, y, value=v),
    "addcdiv_": lambda m, x, y, v: x.clone().addcdiv_(y, y + 1, value=v),
}


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("name", sorted(SCALAR_TENSOR_CALLS))
def test_zero_dim_tensors_as_scalar_arguments_as_in_torch(torch_ref, name, dtype):
    fn = SCALAR_TENSOR_CALLS[name]

    def outcomes(m):
        x = m.tensor([1, 2], dtype=getattr(m, dtype))
        y = m.tensor([3, 5], dtype=getattr(m, dtype))
        return [_outcome(lambda: fn(m, x, y, v)) for v in (
            m.tensor(0.5), m.tensor(2), m.tensor(-0.25, dtype=m.float64), m.tensor(True),
            m.tensor([0.5]), m.tensor(0.5, requires_grad=True))]
    assert outcomes(tg) == outcomes(torch_ref)


def test_zero_dim_tensor_alpha_of_rsub_as_in_torch(torch_ref):
    def outcomes(m):
        x = m.tensor([1.0, 2.0])
        return [_outcome(lambda: m.rsub(x, other, alpha=v)) for other in (x * 3, 2.5)
                for v in (m.tensor(0.5), m.tensor(2), m.tensor(-1.5, dtype=m.float64))]
    assert outcomes(tg) == outcomes(torch_ref)


def test_tensor_lr_in_a_hand_written_update_as_in_torch(torch_ref):
    def run(m):
        w = m.tensor([1.0, -2.0], requires_grad=True)
        lr = m.tensor(0.1)
        for _ in range(3):
            (w ** 2).sum().backward()
            with m.no_grad():
                w.add_(w.grad, alpha=-lr)
                w.grad.zero_()
            lr.mul_(0.5)
        return w.tolist()
    assert run(tg) == run(torch_ref)


# float32 gradients through a Python number: torch casts the number to float32 (a wrapped
# number), so x * c's gradient is the float32 product g * float32(c), x / c's the float32
# quotient; `replayed` runs the same graph by record / value_and_grad
_NUMBER_GRADS = {
    "x * c": (lambda x, c: x * c, lambda g, x, c: g * c),
    "c * x": (lambda x, c: c * x, lambda g, x, c: g * c),
    "x / c": (lambda x, c: x / c, lambda g, x, c: g / c),
    "x + c then * c": (lambda x, c: (x + c) * c, lambda g, x, c: g * c),
    "x - c then / c": (lambda x, c: (x - c) / c, lambda g, x, c: g / c),
}


def _number_grad_case(seed):
    rng = np.random.default_rng(seed)
    xv = rng.standard_normal(257).astype(np.float32)
    gv = rng.standard_normal(257).astype(np.float32)
    return xv, gv, float(rng.uniform(0.05, 3.0))


@pytest.mark.parametrize("replayed", [False, True])
@pytest.mark.parametrize("name", sorted(_NUMBER_GRADS))
def test_float32_gradients_through_a_number_are_float32_arithmetic(name, replayed):
    """Bit for bit numpy's float32 arithmetic with the number cast to float32 (about half the
    elements differed in the last bit while the number was held as a double)."""
    fn, want = _NUMBER_GRADS[name]
    for seed in range(3):
        xv, gv, c = _number_grad_case(seed)
        if replayed:
            rec = tg.record(lambda x: (fn(x, c) * tg.tensor(gv)).sum(), tg.tensor(xv))
            got = np.asarray(rec.value_and_grad(xv)[1], np.float32).reshape(-1)
        else:
            x = tg.tensor(xv, requires_grad=True)
            fn(x, c).backward(tg.tensor(gv))
            got = x.grad.numpy()
        expected = want(gv, xv, np.float32(c))
        assert expected.dtype == np.float32
        np.testing.assert_array_equal(got, expected, err_msg=f"{name}, seed {seed}")


@pytest.mark.parametrize("name", sorted(_NUMBER_GRADS))
def test_float32_gradients_through_a_number_as_in_torch(torch_ref, name):
    fn, _ = _NUMBER_GRADS[name]
    for seed in range(3):
        xv, gv, c = _number_grad_case(seed)
        got = []
        for m in (tg, torch_ref):
            x = m.tensor(xv, requires_grad=True)
            y = fn(x, c)
            y.backward(m.tensor(gv))
            got.append((y.detach().numpy(), x.grad.numpy()))
        np.testing.assert_array_equal(got[0][0], got[1][0], err_msg=f"{name} value, seed {seed}")
        np.testing.assert_array_equal(got[0][1], got[1][1], err_msg=f"{name} grad, seed {seed}")
