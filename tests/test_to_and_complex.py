"""Tensor.to / Module.to bind their arguments as torch's parser does (its three signatures,
its TypeError for anything else: an argument none of them takes is never ignored), and
complex numbers are refused clearly where torch would make a complex tensor, or raise
torch's error where it converts into a real dtype: never silently made real."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import error_of


def _outcome(call, m):
    """(dtype name, whether the result is the input itself) of call(m, x) for x a float32
    ones(2), or the error it raises."""
    x = m.ones(2)
    err = error_of(lambda m: call(m, x), m)
    if err is not None:
        return err
    r = call(m, x)
    return str(r.dtype).split(".")[-1], r is x


TO_CALLS = [
    lambda m, x: x.to(m.float64),
    lambda m, x: x.to(m.float32),
    lambda m, x: x.to(np.float64),          # a numpy type: no signature takes it
    lambda m, x: x.to(1.5),                 # a Python number stands for a tensor: float64
    lambda m, x: x.to(True),                # ... a bool one: bool
    lambda m, x: x.to(float),
    lambda m, x: x.to(int),
    lambda m, x: x.to(m.float64, 1),        # non_blocking must be a bool
    lambda m, x: x.to(m.float64, False, True),
    lambda m, x: x.to(m.float32, False, True),          # copy=True: a new tensor
    lambda m, x: x.to("cpu", m.float32, False, True),
    lambda m, x: x.to(m.ones(1, dtype=m.float64), False, True),
    lambda m, x: x.to(None),
    lambda m, x: x.to(None, m.float64),
    lambda m, x: x.to("cpu", None),
    lambda m, x: x.to(m.float64, None),
    lambda m, x: x.to("cpu", "cpu"),
    lambda m, x: x.to(m.float64, m.float64),
    lambda m, x: x.to(m.ones(1), m.float64),
    lambda m, x: x.to(m.float32, False, False, False),
    lambda m, x: x.to([1]),
    lambda m, x: x.to("cpu", False),
    lambda m, x: x.to(m.device("cpu"), m.float64),
    lambda m, x: x.to(0),
    lambda m, x: x.to(dtype=m.float64, copy=True),
    lambda m, x: x.to(m.float64, dtype=m.float32),
    lambda m, x: x.to("cpu", device="cpu"),
    lambda m, x: x.to(tensor=m.ones(1, dtype=m.float64)),
    lambda m, x: x.to(m.float64, foo=1),
    lambda m, x: x.to(non_blocking=1),
    lambda m, x: x.to(m.float64, memory_format=m.contiguous_format),
    lambda m, x: x.to(memory_format=None),
    lambda m, x: x.to(m.ones(1, dtype=m.int32), dtype=m.float64),
]


@pytest.mark.parametrize("call", TO_CALLS)
def test_tensor_to_binds_arguments_as_torch(call):
    torch = pytest.importorskip("torch")
    assert _outcome(call, tg) == _outcome(call, torch)


def _module_outcome(call, m):
    lin = m.nn.Linear(2, 2)
    err = error_of(lambda m: call(m, lin), m)
    if err is not None:
        return err
    r = call(m, lin)
    return str(r.weight.dtype).split(".")[-1], r is lin


MODULE_TO_CALLS = [
    lambda m, lin: lin.to(np.float64),
    lambda m, lin: lin.to(1.5),
    lambda m, lin: lin.to("cpu", m.float64),
    lambda m, lin: lin.to(m.ones(1, dtype=m.float64)),
    lambda m, lin: lin.to(m.float64, True),
    lambda m, lin: lin.to(m.float64, False, True),
    lambda m, lin: lin.to(copy=True),
    lambda m, lin: lin.to(m.int32),
    lambda m, lin: lin.to(m.float64, None),
    lambda m, lin: lin.to("cpu", "cpu"),
    lambda m, lin: lin.to([1]),
    lambda m, lin: lin.to(True),
    lambda m, lin: lin.to(dtype=m.float64, foo=1),
    lambda m, lin: lin.to(non_blocking=1),
    lambda m, lin: lin.to(None),
    lambda m, lin: lin.to(m.float64, dtype=m.float64),
    lambda m, lin: lin.to(0),
]


@pytest.mark.parametrize("call", MODULE_TO_CALLS)
def test_module_to_binds_arguments_as_torch(call):
    torch = pytest.importorskip("torch")
    assert _module_outcome(call, tg) == _module_outcome(call, torch)


def test_to_arguments_no_signature_takes_raise():
    """(without torch) what torch's parser refuses raises, never a silent no-op."""
    x = tg.ones(2)
    for args in ((np.float64,), (tg.float64, 1), ("cpu", False), ([1],), (tg.float64, None)):
        with pytest.raises(TypeError, match=r"^to\(\) received an invalid combination"):
            x.to(*args)
    with pytest.raises(TypeError, match=r"^to\(\) received an invalid combination"):
        tg.nn.Linear(2, 2).to(np.float64)
    y = x.to(tg.float32, False, True)      # copy, positionally
    assert y is not x and y.dtype is tg.float32
    assert x.to(1.5).dtype is tg.float64 and x.to(True).dtype is tg.bool
    assert x.to(tg.ones(1, dtype=tg.int64)).dtype is tg.int64


def test_uninitialized_parameter_to_takes_torch_forms():
    p = tg.nn.UninitializedParameter()
    assert p.to(tg.float64) is p and p.to("cpu", tg.float32) is p
    with pytest.raises(TypeError, match=r"^to\(\) received an invalid combination"):
        p.to(np.float64)


# ---- complex numbers ------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda: tg.tensor(1j),
    lambda: tg.tensor([1.0, 2j]),
    lambda: tg.tensor(np.complex64(1)),     # (numpy's cast would drop the imaginary part)
    lambda: tg.tensor(np.array([1 + 2j])),
    lambda: tg.as_tensor(np.array([1j])),
    lambda: tg.from_numpy(np.ones(2, np.complex64)),
    lambda: tg.full((2,), 1j),
    lambda: tg.ones(2).to(complex),
    lambda: tg.nn.Linear(2, 2).to(complex),
])
def test_complex_tensors_refused_clearly(call):
    with pytest.raises(NotImplementedError, match="no complex dtypes"):
        call()


@pytest.mark.parametrize("name", ["complex64", "cfloat", "complex128", "cdouble", "chalf"])
def test_complex_dtypes_absent_with_a_reason(name):
    with pytest.raises(AttributeError, match="no complex dtypes"):
        getattr(tg, name)
    assert getattr(tg, name, None) is None


COMPLEX_FILLS = {
    "masked_fill": lambda m, dt: m.zeros(2, dtype=dt).masked_fill(m.ones(2, dtype=m.bool), 1j),
    "masked_fill_": lambda m, dt: m.zeros(2, dtype=dt).masked_fill_(m.ones(2, dtype=m.bool), 2j),
    "full": lambda m, dt: m.full((2,), 1j, dtype=dt),
    "full_like": lambda m, dt: m.full_like(m.zeros(2, dtype=dt), 1j),
    "new_full": lambda m, dt: m.zeros(2, dtype=dt).new_full((2,), 1j),
    "fill_": lambda m, dt: m.zeros(2, dtype=dt).fill_(1j),
}


@pytest.mark.parametrize("dt", ["float32", "float64", "int64", "int32", "int16", "int8",
                                "uint8", "bool"])
@pytest.mark.parametrize("name", list(COMPLEX_FILLS))
def test_complex_value_into_a_real_dtype_as_torch(name, dt):
    """torch's checked conversion: "value cannot be converted to type float without
    overflow" into a number dtype (a bool one takes it as nonzero)."""
    torch = pytest.importorskip("torch")
    if (name, dt) == ("fill_", "bool"):
        pytest.skip("fill_ of a bool tensor with a complex number: a TypeError here")
    call = COMPLEX_FILLS[name]
    outs = []
    for m in (torch, tg):
        err = error_of(lambda m: call(m, getattr(m, dt)), m)
        outs.append(err if err is not None else call(m, getattr(m, dt)).tolist())
    assert outs[1] == outs[0]


def test_complex_fill_value_error_without_torch():
    x = tg.zeros(2)
    with pytest.raises(RuntimeError, match="^value cannot be converted to type float without"):
        x.masked_fill(x == 0, 1j)
    with pytest.raises(RuntimeError, match="^value cannot be converted to type double without"):
        tg.full((2,), 1j, dtype=tg.float64)
    with pytest.raises(RuntimeError, match="^value cannot be converted to type int64_t without"):
        tg.zeros(2, dtype=tg.int64).fill_(1j)
    assert x.tolist() == [0.0, 0.0]



# arithmetic and comparisons with a complex number: torch computes in a complex dtype; here a
# clear NotImplementedError (numpy's reflected op made `x * np.complex128(1)` an ndarray,
# `x + 1j` a TypeError and `x == 1j` the bool False)
@pytest.mark.parametrize("call", [
    lambda x: x + 1j, lambda x: 1j * x, lambda x: x - np.complex128(1), lambda x: x / 1j,
    lambda x: x * np.complex64(2), lambda x: np.complex128(1) * x, lambda x: x ** 1j,
    lambda x: x.add(np.complex128(1)), lambda x: x == 1j, lambda x: x < np.complex128(1),
    lambda x: x[0] * 1j, lambda x: x.long() + 1j,
])
def test_complex_operands_refused_clearly(call):
    with pytest.raises(NotImplementedError, match="no complex dtypes"):
        call(tg.ones(2))
