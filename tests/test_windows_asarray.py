"""torch's window functions and torch.asarray, against torch: window values (to a few ulps
of torch's vectorized cosine and Cephes i0), dtypes, periodic and symmetric forms, the
degenerate lengths, requires_grad and torch's errors; asarray's sharing, copying, dtype
conversion (recorded), requires_grad rules and its warning."""
import warnings

import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")

WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_windows_as_torch(name, dtype):
    for n in (0, 1, 2, 3, 4, 5, 8, 17, 64, 255):
        for periodic in (True, False):
            a = getattr(torch, name)(n, periodic, dtype=getattr(torch, dtype)).numpy()
            b = getattr(tg, name)(n, periodic, dtype=getattr(tg, dtype)).numpy()
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_allclose(b, a, rtol=0, atol=10 * np.finfo(a.dtype).eps)


def test_window_arguments_as_torch():
    calls = [lambda m: m.hann_window(5), lambda m: m.hamming_window(4, True, 0.6, 0.3),
             lambda m: m.hamming_window(6, False, 0.5), lambda m: m.kaiser_window(6, False, 5.0),
             lambda m: m.kaiser_window(7, True, 0.0), lambda m: m.bartlett_window(7, False),
             lambda m: m.blackman_window(3, requires_grad=True)]
    for call in calls:
        a, b = call(torch), call(tg)
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-6, atol=1e-7)
        assert (b.dtype.name, b.requires_grad, b.is_leaf) == (str(a.dtype)[6:], a.requires_grad,
                                                             a.is_leaf)


ERRORS = [lambda m: m.hann_window(-1), lambda m: m.hann_window(3, dtype=m.int64),
          lambda m: m.blackman_window(3, dtype=m.uint8), lambda m: m.hann_window(2.5),
          lambda m: m.bartlett_window(True), lambda m: m.kaiser_window(-2)]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_window_errors_as_torch(i):
    assert_same_error(ERRORS[i], torch)


def _show(t):
    return (tuple(t.shape), str(t.dtype).split(".")[-1], t.requires_grad, t.is_leaf,
            type(t.grad_fn).__name__ if t.grad_fn is not None else None,
            t.detach().numpy().tolist())


def test_asarray_as_torch():
    for m in (torch, tg):
        a = np.arange(3.0)
        t = m.asarray(a)
        a[0] = 9.0                                   # shared: the tensor sees it
        assert t.tolist() == [9.0, 1.0, 2.0] and str(t.dtype).endswith("float64")
        c = m.asarray(a, copy=True)
        a[1] = 7.0
        assert c.tolist() == [9.0, 1.0, 2.0]
        assert m.asarray(a, dtype=m.float32).tolist() == [9.0, 7.0, 2.0]
    cases = ["m.asarray([1, 2])", "m.asarray([1.0, 2])", "m.asarray(3.5)", "m.asarray(True)",
             "m.asarray([[1, 2], [3, 4]], dtype=m.float64)", "m.asarray([1.0, 2.0], requires_grad=True)",
             "m.asarray(np.arange(3, dtype=np.int32))", "m.asarray(np.float64(2.5))"]
    for src in cases:
        assert _show(eval(src, {"m": tg, "np": np})) == _show(eval(src, {"m": torch, "np": np})), src


@pytest.mark.filterwarnings("ignore:torch.asarray. unspecified requires_grad")
def test_asarray_of_tensors_as_torch():
    res = []
    for m in (torch, tg):
        x = m.ones(2, requires_grad=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            same = m.asarray(x)
            n_warned = len(w)
        cast = m.asarray(x, dtype=m.float64)
        copied = m.asarray(x, copy=True)
        quiet = m.asarray(x * 2, requires_grad=True, dtype=m.float64)
        plain = m.asarray(m.ones(2), dtype=m.int64)
        res.append((same is x, n_warned, _show(cast), _show(copied), _show(quiet), _show(plain)))
    assert res[0] == res[1]


ASARRAY_ERRORS = [lambda m: m.asarray(np.arange(3.0), dtype=m.float32, copy=False),
                  lambda m: m.asarray([1, 2], copy=False),
                  lambda m: m.asarray(m.ones(2), dtype=m.float64, copy=False)]


@pytest.mark.parametrize("i", range(len(ASARRAY_ERRORS)))
def test_asarray_errors_as_torch(i):
    assert_same_error(ASARRAY_ERRORS[i], torch)
