"""tapegrad.testing.assert_close and make_tensor against torch.testing: the same verdicts,
exception types and messages (with `torch.` read as `tapegrad.`), the default tolerances per
dtype, and make_tensor's ranges, layouts and errors."""
import collections
import math

import numpy as np
import pytest

import tapegrad

torch = pytest.importorskip("torch")


def outcome(m, make):
    """'OK' or 'Type: message' of m.testing.assert_close(*args, **kwargs) for (args, kwargs)
    = make(m)."""
    args, kwargs = make(m)
    try:
        m.testing.assert_close(*args, **kwargs)
        return "OK"
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return f"{type(e).__name__}: {e}".replace("torch.", "tapegrad.")


def call(*args, **kwargs):
    return args, kwargs


Named = collections.namedtuple("Named", "a b")

CASES = {
    "float_mismatch": lambda m: call(m.tensor([1., 2., 3.]), m.tensor([1., 2.5, 3.])),
    "matrix": lambda m: call(m.tensor([[1., 2.], [3., 4.]]), m.tensor([[1., 2.], [3.1, 4.2]])),
    "int_equal_msg": lambda m: call(m.tensor([1, 2, 3]), m.tensor([1, 2, 4])),
    "int32": lambda m: call(m.tensor([1, 2], dtype=m.int32), m.tensor([1, 5], dtype=m.int32)),
    "bool": lambda m: call(m.tensor([True, False]), m.tensor([True, True])),
    "zero_dim": lambda m: call(m.tensor(1.), m.tensor(2.)),
    "zero_dim_int": lambda m: call(m.tensor(3), m.tensor(5)),
    "float64": lambda m: call(m.tensor([1., 2.], dtype=m.float64),
                              m.tensor([1., 2. + 1e-6], dtype=m.float64)),
    "float64_close": lambda m: call(m.tensor([1.], dtype=m.float64),
                                    m.tensor([1. + 1e-8], dtype=m.float64)),
    "float32_within": lambda m: call(m.ones(3), m.ones(3) + 1e-6),
    "float32_just_out": lambda m: call(m.ones(2), m.ones(2) + 1e-4),
    "dtype": lambda m: call(m.tensor([1.]), m.tensor([1.], dtype=m.float64)),
    "dtype_unchecked": lambda m: call(m.tensor([1.]), m.tensor([1.], dtype=m.float64),
                                      check_dtype=False),
    "dtype_unchecked_int": lambda m: call(m.tensor([1, 2]), m.tensor([1., 2.5]),
                                          check_dtype=False),
    "shape": lambda m: call(m.tensor([1.]), m.tensor([1., 2.])),
    "shape_2d": lambda m: call(m.ones(2, 3), m.ones(3, 2)),
    "nan": lambda m: call(m.tensor([float("nan")]), m.tensor([float("nan")])),
    "nan_equal": lambda m: call(m.tensor([float("nan"), 1.]), m.tensor([float("nan"), 1.]),
                                equal_nan=True),
    "inf_same": lambda m: call(m.tensor([1., float("inf")]), m.tensor([1., float("inf")])),
    "inf_opposite": lambda m: call(m.tensor([1., float("inf")]), m.tensor([1., -float("inf")])),
    "to_zero": lambda m: call(m.tensor([0.]), m.tensor([1e-3])),
    "from_zero": lambda m: call(m.tensor([1e-3, 0.]), m.tensor([0., 0.])),
    "tiny_from_zero": lambda m: call(m.tensor([1e-8]), m.tensor([0.])),
    "many": lambda m: call(m.arange(12.).reshape(3, 4), m.arange(12.).reshape(3, 4) * 1.1),
    "ties": lambda m: call(m.tensor([1., 2., 1., 2.]), m.tensor([2., 1., 2., 1.])),
    "explicit_tols": lambda m: call(m.tensor([1.]), m.tensor([1.05]), rtol=0.1, atol=0.),
    "explicit_tols_fail": lambda m: call(m.tensor([1.]), m.tensor([1.5]), rtol=0.1, atol=0.01),
    "zero_tols": lambda m: call(m.tensor([1.]), m.tensor([1. + 1e-7]), rtol=0., atol=0.),
    "int_tols": lambda m: call(m.tensor([10, 20]), m.tensor([11, 20]), rtol=0.2, atol=0),
    "rtol_only": lambda m: call(m.ones(2), m.ones(2), rtol=1e-3),
    "atol_only": lambda m: call(m.ones(2), m.ones(2), atol=1e-3),
    "stride": lambda m: call(m.ones(2, 3).t(), m.ones(3, 2), check_stride=True),
    "stride_unchecked": lambda m: call(m.ones(2, 3).t(), m.ones(3, 2)),
    "requires_grad": lambda m: call(m.ones(2, requires_grad=True), m.ones(2) * 2),
    "empty": lambda m: call(m.ones(0), m.ones(0)),
    "msg_str": lambda m: call(m.ones(2), m.ones(2) + 1e-4, msg="custom"),
    "msg_fn": lambda m: call(m.ones(2), m.ones(2) + 1e-4, msg=lambda s: "X" + s),
    "msg_on_shape": lambda m: call(m.ones(2), m.ones(3), msg="custom"),
    "msg_on_structure": lambda m: call([1], [1, 2], msg="custom"),
    "float_scalars": lambda m: call(1.0, 1.1),
    "float_scalars_close": lambda m: call(1.0, 1.0 + 1e-9),
    "int_scalars": lambda m: call(1, 2),
    "int_float": lambda m: call(1, 1.0),
    "int_float_unchecked": lambda m: call(1, 1.0, check_dtype=False),
    "scalar_nan": lambda m: call(float("nan"), float("nan")),
    "scalar_nan_equal": lambda m: call(float("nan"), float("nan"), equal_nan=True),
    "scalar_zero": lambda m: call(0.5, 0.0),
    "numpy_scalars": lambda m: call(np.float32(1), np.float32(1.5)),
    "bools": lambda m: call(True, False),
    "np_bools": lambda m: call(np.bool_(True), True),
    "none": lambda m: call(None, None),
    "none_vs_number": lambda m: call(None, 1),
    "list": lambda m: call([m.ones(2), m.ones(1)], [m.ones(2), m.zeros(1)]),
    "nested": lambda m: call({"a": [1, (m.ones(1), 2.0)]}, {"a": [1, (m.ones(1), 2.5)]}),
    "dict": lambda m: call({"a": m.ones(2)}, {"a": m.zeros(2)}),
    "dict_keys": lambda m: call({"a": m.ones(2), "c": 1}, {"b": m.zeros(2), "c": 1}),
    "seq_len": lambda m: call([1, 2], [1]),
    "namedtuple": lambda m: call(Named(1, m.ones(1)), Named(1, m.ones(1) * 3)),
    "tensor_vs_list": lambda m: call(m.ones(2), [1., 1.]),
    "tensor_vs_number": lambda m: call(m.tensor(1.), 1.),
    "tensor_vs_numpy": lambda m: call(m.ones(2), np.ones(2, np.float32)),
    "numpy_arrays": lambda m: call(np.ones(2, np.float32), np.array([1, 2], np.float32)),
    "strings": lambda m: call("a", "b"),
    "origination_before_values": lambda m: call([m.ones(1), "a"], [m.zeros(1), "a"]),
    "subclass": lambda m: call(m.nn.Parameter(m.ones(2)), m.ones(2)),
    "subclass_disallowed": lambda m: call(m.nn.Parameter(m.ones(2)), m.ones(2),
                                          allow_subclasses=False),
    "bool_vs_int": lambda m: call(True, 1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_assert_close_as_torch(name):
    t, g = outcome(torch, CASES[name]), outcome(tapegrad, CASES[name])
    if t.startswith("RuntimeError: Originating"):      # torch's internal-error wording
        assert g.startswith("RuntimeError: Originating a NumberPair() at item  with")
        return
    assert g == t


def test_default_tolerances_per_dtype():
    for dt, (rtol, atol) in ((tapegrad.float32, (1.3e-6, 1e-5)),
                             (tapegrad.float64, (1e-7, 1e-7))):
        x = tapegrad.tensor([100.], dtype=dt)
        tapegrad.testing.assert_close(x, x + 0.9 * (atol + rtol * 100))
        with pytest.raises(AssertionError, match=f"up to {atol} allowed"):
            tapegrad.testing.assert_close(x, x + 1.5 * (atol + rtol * 100))


def test_make_tensor():
    mt = tapegrad.testing.make_tensor
    tapegrad.manual_seed(0)
    a = mt(3, 4, dtype=tapegrad.float32, device="cpu")
    tapegrad.manual_seed(0)
    assert a.tolist() == mt((3, 4), dtype=tapegrad.float32, device="cpu").tolist()
    assert a.shape == (3, 4) and a.dtype == tapegrad.float32 and not a.requires_grad
    x = mt(2000, dtype=tapegrad.float64, device="cpu").numpy()
    assert x.min() >= -9 and x.max() < 9 and x.std() > 4
    i = mt(2000, dtype=tapegrad.int64, device="cpu", low=-3, high=3).numpy()
    assert sorted(set(i.tolist())) == [-3, -2, -1, 0, 1, 2]
    i = mt(500, dtype=tapegrad.int32, device="cpu", exclude_zero=True, low=0, high=2)
    assert set(i.tolist()) == {1} and i.dtype == tapegrad.int32
    b = mt(200, dtype=tapegrad.bool, device="cpu")
    assert set(b.tolist()) == {True, False}
    f = mt(300, dtype=tapegrad.float32, device="cpu", low=0.5, high=0.6)
    assert 0.5 <= f.min().item() and f.max().item() < 0.6
    n = mt(3, 4, dtype=tapegrad.float32, device="cpu", noncontiguous=True, requires_grad=True)
    assert n.shape == (3, 4) and not n.is_contiguous() and n.requires_grad
    assert mt(1, dtype=tapegrad.float32, device="cpu", noncontiguous=True).is_contiguous()
    z = mt(1000, dtype=tapegrad.float32, device="cpu", low=-0.0, high=1e-45, exclude_zero=True)
    assert (z.numpy() != 0).all()


@pytest.mark.parametrize("kwargs", [
    dict(dtype="int64", requires_grad=True),
    dict(dtype="float32", low=2, high=1),
    dict(dtype="int32", low=3, high=3),
    dict(dtype="float32", low=float("nan")),
    dict(dtype="int32", low=2 ** 40, high=2 ** 41),
    dict(dtype="bool", low=2, high=5),
])
def test_make_tensor_errors_as_torch(kwargs):
    def run(m):
        kw = dict(kwargs, dtype=getattr(m, kwargs["dtype"]))
        try:
            m.testing.make_tensor(2, device="cpu", **kw)
            return "OK"
        except Exception as e:  # noqa: BLE001  (compared with torch's)
            return f"{type(e).__name__}: {e}".replace("torch.", "tapegrad.")
    assert run(tapegrad) == run(torch)


def test_make_tensor_low_equal_high_warns_as_torch():
    for m in (torch, tapegrad):
        with pytest.warns(FutureWarning, match="low==high"):
            x = m.testing.make_tensor(3, dtype=m.float32, device="cpu", low=1., high=1.)
        assert not math.isnan(x.sum().item())
