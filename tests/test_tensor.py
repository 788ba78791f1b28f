"""Tensor creation, dtypes, promotion, attributes and conversions, against torch when it is
installed (one lambda run with both modules) and against fixed expectations otherwise."""
import itertools
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg

CREATE = {
    "tensor_float": lambda m: m.tensor([1.0, 2.0]),
    "tensor_int": lambda m: m.tensor([[1, 2], [3, 4]]),
    "tensor_bool": lambda m: m.tensor([True, False]),
    "tensor_mixed": lambda m: m.tensor([1, 2.5]),
    "tensor_0d": lambda m: m.tensor(3.5),
    "tensor_f64": lambda m: m.tensor([1, 2], dtype=m.float64),
    "legacy_list": lambda m: m.Tensor([16]),
    "legacy_size": lambda m: m.Tensor(2, 3).zero_(),
    "zeros": lambda m: m.zeros(2, 3),
    "zeros_tuple": lambda m: m.zeros((2, 3), dtype=m.int64),
    "ones": lambda m: m.ones(3, dtype=m.float64),
    "full": lambda m: m.full((2, 2), 7.0),
    "full_int": lambda m: m.full((2,), 7),
    "empty_shape": lambda m: m.empty(2, 0),
    "arange": lambda m: m.arange(5),
    "arange_float": lambda m: m.arange(0, 1, 0.25),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "eye": lambda m: m.eye(3),
    "eye_rect": lambda m: m.eye(2, 3, dtype=m.float64),
    "zeros_like": lambda m: m.zeros_like(m.ones(2, dtype=m.int64)),
    "ones_like": lambda m: m.ones_like(m.zeros(2, 2)),
    "full_like": lambda m: m.full_like(m.zeros(3), 2.5),
    "as_tensor": lambda m: m.as_tensor([1.0, 2.0], dtype=m.float64),
    "from_numpy": lambda m: m.from_numpy(np.arange(4, dtype=np.int64).reshape(2, 2)),
    "float": lambda m: m.tensor([1, 2]).float(),
    "double": lambda m: m.tensor([1, 2]).double(),
    "long": lambda m: m.tensor([1.7, -2.2]).long(),
    "to": lambda m: m.ones(2).to(m.float64),
    "bool_sum": lambda m: m.tensor([True, True, False]).sum(),
    "int_mean_dim": lambda m: m.tensor([[1.0, 2.0]]).mean(1),
    "promote_int_float": lambda m: m.tensor([1, 2]) * 2.5,
    "promote_f32_f64": lambda m: m.ones(2) + m.ones(2, dtype=m.float64),
    "promote_0d": lambda m: m.ones(2) * m.tensor(2.0, dtype=m.float64),
    "promote_int_0d_float": lambda m: m.tensor([1, 2]) * m.tensor(2.5, dtype=m.float64),
    "true_div": lambda m: m.tensor([1, 2]) / 2,
    "compare": lambda m: m.tensor([1.0, 2.0]) > 1.5,
    "T": lambda m: m.arange(6).reshape(2, 3).T,
}


def _describe(t):
    return (tuple(t.shape), str(t.dtype).split(".")[-1], t.tolist(), t.requires_grad, t.is_leaf,
            t.dim(), t.numel())


@pytest.mark.parametrize("name", sorted(CREATE))
def test_creation_matches_torch(name):
    torch = pytest.importorskip("torch")
    a, b = CREATE[name](tg), CREATE[name](torch)
    assert _describe(a) == _describe(b)
    assert repr(a) == repr(b).replace("torch.", "tapegrad.")


def test_creation_without_torch():
    assert tg.tensor([1, 2]).dtype is tg.int64
    assert tg.tensor([1.0]).dtype is tg.float32
    assert tg.tensor(True).dtype is tg.bool
    assert tg.Tensor([16]).tolist() == [16.0] and tg.Tensor([16]).dtype is tg.float32
    assert tg.zeros(2, 3).shape == tg.Size([2, 3]) and repr(tg.zeros(2, 3).shape) == "tapegrad.Size([2, 3])"
    assert tg.arange(3).tolist() == [0, 1, 2] and tg.arange(3).dtype is tg.int64
    assert tg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert tg.linspace(0, 1, 3).tolist() == [0.0, 0.5, 1.0]
    assert repr(tg.float64) == "tapegrad.float64"
    x = tg.ones(2, 3)
    assert x.size() == (2, 3) and x.size(1) == 3 and x.ndim == 2 and x.T.shape == (3, 2)


def test_default_dtype():
    assert tg.get_default_dtype() is tg.float32
    try:
        tg.set_default_dtype(tg.float64)
        assert tg.tensor([1.0]).dtype is tg.float64 and tg.zeros(1).dtype is tg.float64
        assert repr(tg.tensor([1.0])) == "tensor([1.])"
        assert repr(tg.tensor([1.0], dtype=tg.float32)) == "tensor([1.], dtype=tapegrad.float32)"
        x = tg.tensor(0.1, requires_grad=True)
        (x * 3).backward()
        assert x.grad.dtype is tg.float64
    finally:
        tg.set_default_dtype(tg.float32)
    assert tg.tensor([1.0]).dtype is tg.float32


def test_set_default_tensor_type_as_torch(monkeypatch):
    """The deprecated torch.set_default_tensor_type: a floating legacy type or its dotted
    name ('torch.' standing for tapegrad) sets the default dtype, with torch's warning once
    and torch's errors for anything else."""
    from tapegrad import errors
    monkeypatch.setattr(errors, "_WARNED", set())
    try:
        with pytest.warns(UserWarning, match=r"set_default_tensor_type\(\) is deprecated as of "
                                             r"PyTorch 2.1") as caught:
            tg.set_default_tensor_type(tg.DoubleTensor)
            assert tg.tensor([1.5]).dtype is tg.float64 and tg.Tensor([1]).dtype is tg.float64
            assert tg.FloatTensor([1]).dtype is tg.float32
            tg.set_default_tensor_type("torch.FloatTensor")
            assert tg.get_default_dtype() is tg.float32
            tg.set_default_tensor_type("tapegrad.DoubleTensor")
            assert tg.get_default_dtype() is tg.float64
        assert len(caught) == 1
        for bad, exc, msg in [(tg.LongTensor, TypeError, "^only floating-point types"),
                              ("torch.IntTensor", TypeError, "^only floating-point types"),
                              (5, TypeError, "^invalid type object: only floating-point"),
                              (tg.float64, TypeError, "^invalid type object"),
                              (tg.Tensor, TypeError, "^invalid type object"),
                              ("FloatTensor", ModuleNotFoundError, "No module named"),
                              ("torch.Foo", AttributeError, "has no attribute 'Foo'")]:
            with pytest.raises(exc, match=msg):
                tg.set_default_tensor_type(bad)
        assert tg.get_default_dtype() is tg.float64   # (failed calls change nothing)
    finally:
        tg.set_default_dtype(tg.float32)


def test_manual_seed_is_reproducible():
    tg.manual_seed(10000)
    a = tg.randn(2, 2)
    tg.manual_seed(10000)
    assert tg.randn(2, 2).tolist() == a.tolist()
    r = tg.rand(1000)
    assert r.dtype is tg.float32 and bool((r.numpy() >= 0).all()) and bool((r.numpy() < 1).all())


def test_from_numpy_shares_memory():
    a = np.zeros(3)
    t = tg.from_numpy(a)
    t.fill_(2.0)
    assert a.tolist() == [2.0, 2.0, 2.0]


def test_data_shares_storage_and_setter():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.is_leaf
    d.zero_()
    assert x.tolist() == [0.0, 0.0] and x.requires_grad
    x.data = tg.tensor([5.0, 6.0])
    assert x.tolist() == [5.0, 6.0] and x.requires_grad


def test_module_level_functions():
    x = tg.tensor([0.5, 1.0])
    for name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "neg"):
        np.testing.assert_allclose(getattr(tg, name)(x).numpy(), getattr(x, name)().numpy())
    assert tg.add(x, 1.0).tolist() == [1.5, 2.0] and tg.mul(x, x).tolist() == [0.25, 1.0]
    assert tg.pow(x, 2).tolist() == [0.25, 1.0] and tg.pow(2.0, tg.tensor([1.0])).tolist() == [2.0]
    assert tg.sum(x).item() == 1.5 and tg.mean(x).item() == 0.75
    assert tg.reshape(x, (2, 1)).shape == (2, 1) and tg.transpose(tg.ones(2, 3), 0, 1).shape == (3, 2)
    assert tg.matmul(tg.ones(2, 3), tg.ones(3)).tolist() == [3.0, 3.0]
    assert tg.is_tensor(x) and not tg.is_tensor(1.0) and tg.numel(x) == 2


@pytest.mark.parametrize("data", [
    np.float64(1.5), np.float32(1.5), np.int32(3), np.int64(3), np.bool_(True),
    [np.float64(1.5)], [1.0, np.float64(2.0)], [np.float32(1.0), np.float64(2.0)],
    [np.int32(1), 2], [np.int32(1), 2.0], [np.float32(1.0), 2], [np.float64(1.0), True],
    [True, 1], [[1, 2], [3, 4.0]], 2.5, 3, True], ids=repr)
def test_tensor_infers_dtype_from_numpy_scalars_as_torch(data):
    """A numpy scalar keeps its dtype and the items' dtypes are promoted (np.float64 gave
    float32 before)."""
    torch = pytest.importorskip("torch")
    for default in (tg.float32, tg.float64):
        tg.set_default_dtype(default)
        torch.set_default_dtype(getattr(torch, str(default).split(".")[1]))
        try:
            assert str(tg.tensor(data).dtype).split(".")[1] == str(torch.tensor(data).dtype).split(".")[1]
        finally:
            tg.set_default_dtype(tg.float32)
            torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
def test_linspace_matches_torch_bit_for_bit(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for _ in range(60):
        a, b = rng.uniform(-100, 100, 2)
        n = int(rng.integers(0, 700))
        want = torch.linspace(a, b, n, dtype=getattr(torch, dtype)).numpy()
        got = tg.linspace(a, b, n, dtype=getattr(tg, dtype)).numpy()
        assert got.dtype == want.dtype and np.array_equal(got, want), (a, b, n)


def test_linspace_halves_meet_exactly():
    # the first half counts up from start, the second down from end: both ends exact, and
    # symmetric bounds give values symmetric about zero
    v = tg.linspace(-1.0, 1.0, 40).numpy()
    assert v[0] == -1.0 and v[-1] == 1.0 and np.array_equal(v, -v[::-1])
    assert tg.linspace(0.5, 3.7, 5, dtype=tg.int64).tolist() == [0, 0, 1, 2, 3]
    assert tg.linspace(2.0, 9.0, 1).tolist() == [2.0] and tg.linspace(0, 1, 0).numel() == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_arange_matches_torch_bit_for_bit(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    cases = [(0.0, 1.0, 0.1), (-1.0, 1.0, 0.5), (1.0, 0.0, -0.25), (0.0, 40000 * 0.37, 0.37),
             (-0.0, -1.0, -0.1), (-0.0, -10.8, -0.1), (-0.0, -100.0, -0.1), (0.0, 1e308, 1e307)]
    for _ in range(40):
        a, s = rng.uniform(-10, 10), rng.uniform(0.01, 1.3) * rng.choice([-1, 1])
        cases.append((a, a + s * int(rng.integers(1, 300)), s))
    for s in (0.5, -0.25, 2.0, 1 / 3, -0.1, 1e-300):   # (dyadic: exact products) x lengths
        for n in (3, 16, 17, 64, 255, 257, 600):
            cases.append((-0.0, s * (n - 0.5), s))
    for a, b, s in cases:
        want = torch.arange(a, b, s, dtype=getattr(torch, dtype)).numpy()
        with np.errstate(over="raise"):
            got = tg.arange(a, b, s, dtype=getattr(tg, dtype)).numpy()
        # (bits: the sign of a zero too)
        assert got.shape == want.shape and np.array_equal(
            got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}")), (a, b, s)


def test_float_arange_is_computed_in_double():
    # each value rounds a double to float32 once: 0.1 * 3 in double is 0.30000000000000004,
    # float32(that) is float32(0.3), not 3 * float32(0.1)
    v = tg.arange(0.0, 0.35, 0.1).numpy()
    assert v.dtype == np.float32 and v[3] == np.float32(0.1 * 3)
    assert tg.arange(0.0, 1.0, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]


def test_integer_arange_of_float_arguments():
    # torch converts the bounds and step to int64 first (toward zero), then counts in int64
    # for int64 and from the given numbers for the other integer types
    assert tg.arange(0, 5, 1.5, dtype=tg.int32).tolist() == [0, 1, 2, 3]
    assert tg.arange(-1.5, 2, dtype=tg.int64).tolist() == [-1, 0, 1]
    assert tg.arange(0, 2, 0.5, dtype=tg.int32).tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="step must be nonzero"):
        tg.arange(0, 2.5, 0.5, dtype=tg.int64)
    assert tg.arange(-3, 4.9, 2, dtype=tg.uint8).tolist() == [253, 255, 1, 3]


def test_integer_arange_as_torch():
    torch = pytest.importorskip("torch")
    values = [0, 1, -1, 5, -3, 0.5, 1.5, -1.5, 4.9, -0.7]
    for dt in ("int64", "int32", "uint8", "int8"):
        for a, b, s in itertools.product(values, values, [1, 2, -1, -2, 0.5, 1.5, -1.5, 3]):
            out = []
            for m in (torch, tg):
                try:
                    out.append(m.arange(a, b, s, dtype=getattr(m, dt)).tolist())
                except (RuntimeError, ValueError) as e:
                    out.append((type(e), str(e)))
            assert out[0] == out[1], (dt, a, b, s)


@pytest.mark.parametrize("call", [
    lambda m, x: x.unsafe_split(3), lambda m, x: x.unsafe_chunk(2, 1),
    lambda m, x: m.unsafe_split_with_sizes(x, [1, 3]), lambda m, x: m.unsafe_chunk(x, 2),
    lambda m, x: m.split_with_sizes(x, [1, 3])])
def test_unsafe_splits_as_torch(call):
    torch = pytest.importorskip("torch")
    out = []
    for m in (tg, torch):
        leaf = m.arange(12.0, requires_grad=True)
        pieces = call(m, leaf.reshape(4, 3))
        sum((p * (i + 1)).sum() for i, p in enumerate(pieces)).backward()
        out.append(([p.grad_fn.name() for p in pieces], [tuple(p.shape) for p in pieces],
                    leaf.grad.tolist()))
    assert out[0] == out[1]


def test_unsafe_split_pieces_are_not_views():
    # an in-place change of a piece is not seen by autograd as a change of the base (torch's
    # unsafe_split): the base's version stays
    y = tg.ones(4, 3) * 1
    a, _ = y.unsafe_chunk(2)
    a.mul_(2)
    assert y._version == 0 and a._version == 1
    assert [p.grad_fn.name() for p in tg.ones(4, requires_grad=True).unsafe_split(2)] == [
        "UnsafeSplitBackward0"] * 2


@pytest.mark.parametrize("value", [1.5, [1.0, 2.0]], ids=["0-d", "1-d"])
@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_copies_and_pickles_are_new_leaves(how, value):
    # a leaf already on the open tape, then copied: the copy is a leaf of its own (copied slot
    # by slot, it kept the source's leaf node and its gradient went to the source)
    import copy
    import pickle
    dup = {"pickle": lambda t: pickle.loads(pickle.dumps(t)), "copy": copy.copy,
           "deepcopy": copy.deepcopy}[how]
    x = tg.tensor(value, requires_grad=True)
    (x * 2.0).sum().backward()
    c = dup(x)
    assert c.is_leaf and c.requires_grad and c is not x and c.tolist() == x.tolist()
    assert (c.grad is None) == (how != "deepcopy")     # (torch: only deepcopy copies .grad)
    x.grad = c.grad = None
    (x + 3.0 * c).sum().backward()
    assert x.grad.tolist() == tg.ones_like(x).tolist()
    assert c.grad.tolist() == (3.0 * tg.ones_like(x)).tolist()
    y = x * 2.0     # a non-leaf: pickled or copied as a new leaf; deepcopy refuses, as torch
    if how == "deepcopy":
        with pytest.raises(RuntimeError, match=r"Only Tensors created explicitly by the user "
                                               r"\(graph leaves\) support the deepcopy protocol"):
            copy.deepcopy(y)
    else:
        d = dup(y)
        assert d.is_leaf and d.requires_grad and d.grad_fn is None and d.tolist() == y.tolist()


def test_copy_shares_memory_and_deepcopy_does_not():
    import copy
    x = tg.arange(3.0)
    c, d = copy.copy(x), copy.deepcopy(x)
    x.add_(1.0)
    assert c.tolist() == [1.0, 2.0, 3.0] and d.tolist() == [0.0, 1.0, 2.0]


def test_a_dtype_that_is_not_one_raises_torchs_type_error():
    for call, fn, got in [(lambda: tg.zeros(2, dtype="float32"), "zeros", "str"),
                          (lambda: tg.empty(2, dtype=1), "empty", "int"),
                          (lambda: tg.full((2,), 1.0, dtype="f"), "full", "str"),
                          (lambda: tg.ones_like(tg.ones(2), dtype="f"), "ones_like", "str"),
                          (lambda: tg.tensor([1.0], dtype="float32"), "tensor", "str"),
                          (lambda: tg.as_tensor([1.0], dtype=np.float32), "as_tensor", "type")]:
        with pytest.raises(TypeError) as err:
            call()
        assert str(err.value) == f"{fn}(): argument 'dtype' must be torch.dtype, not {got}"
    assert tg.zeros(2, dtype=float).dtype == tg.float64     # (a Python type stands for one)


def test_must_be_tensor_names_a_c_type_with_its_module():
    # CPython's tp_name, as torch's parser prints it: numpy.ndarray, not ndarray
    for call, fn in [(lambda: tg.nn.Linear(2, 2)(np.ones(2, np.float32)), "linear"),
                     (lambda: tg.sin(np.ones(2)), "sin")]:
        with pytest.raises(TypeError) as err:
            call()
        assert str(err.value) == (f"{fn}(): argument 'input' (position 1) must be Tensor, not "
                                  f"numpy.ndarray")
    with pytest.raises(TypeError, match=r"must be Tensor, not list$"):
        tg.sin([1.0])
    with pytest.raises(TypeError, match=r"must be Tensor, not numpy.float64$"):
        tg.sin(np.float64(1.0))


def test_numpy_argument_names_as_torchs_parser_takes_them():
    # axis= for dim=, keepdims= for keepdim=, on methods and namespace functions
    x = tg.tensor(np.arange(6.0).reshape(2, 3))
    a = np.arange(6.0).reshape(2, 3)
    assert x.sum(axis=1).tolist() == a.sum(axis=1).tolist()
    assert tg.sum(x, axis=0).tolist() == a.sum(axis=0).tolist()
    assert x.mean(axis=0, keepdims=True).tolist() == a.mean(axis=0, keepdims=True).tolist()
    assert tg.cat([x, x], axis=0).shape == (4, 3) and tg.stack([x, x], axis=1).shape == (2, 2, 3)
    assert x.max(axis=1).values.tolist() == [2.0, 5.0] and tg.argmax(x, axis=1).tolist() == [2, 2]
    assert tg.cumsum(x, axis=1).tolist() == np.cumsum(a, axis=1).tolist()
    with pytest.raises(TypeError, match="got an unexpected keyword argument 'axis'"):
        x.sum(dim=1, axis=1)
    with pytest.raises(TypeError):       # nn.functional's are Python functions, as torch's
        tg.nn.functional.softmax(x, axis=1)


def test_contains_keyword_forms_and_index_messages_as_torch():
    x = tg.tensor([[1, 2], [3, 4]])
    assert 3 in x and 7 not in x and tg.tensor([1, 2]) in x and tg.tensor([9, 9]) not in x
    with pytest.raises(RuntimeError, match="only supports Tensor or scalar, but you passed in a "
                                           "<class 'str'>"):
        "a" in x
    y = tg.ones(4, 5, 6)
    assert y.permute(dims=(2, 0, 1)).shape == (6, 4, 5) and y.view(size=(20, 6)).shape == (20, 6)
    assert y.reshape(shape=(20, 6)).shape == (20, 6) and y.flip(dims=(0,)).shape == (4, 5, 6)
    assert y.tile(dims=(2,)).shape == (4, 5, 12) and y.repeat(repeats=(1, 2, 1)).shape == (4, 10, 6)
    assert tg.ones(2, 1).expand(size=(2, 3)).shape == (2, 3) and len(y.split(split_size=2)) == 2
    assert y[(0, 1),].shape == (2, 5, 6)          # an inner tuple is an index sequence
    with pytest.raises(IndexError) as err:
        y[tg.tensor([[0, 1], [1, 2]]), tg.tensor([[0, 1, 2]])]
    assert str(err.value) == ("shape mismatch: indexing tensors could not be broadcast together "
                              "with shapes [2, 2], [1, 3]")
    with pytest.raises(RuntimeError, match="kthvalue\\(\\): selected number k out of range"):
        tg.ones(3).kthvalue(5)


def test_small_api_points_as_torch():
    x = tg.ones(2, requires_grad=True)
    y = x * 2
    y.grad = tg.ones(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # an assigned non-leaf .grad reads silently
        assert y.grad.tolist() == [1.0, 1.0]
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
        assert (x * 3).grad is None
    assert tg.repeat_interleave(tg.tensor([1, 0, 3])).tolist() == [0, 2, 2, 2]
    with pytest.raises(RuntimeError, match="only accept 1D vector as repeat"):
        tg.repeat_interleave(tg.ones(2, 2, dtype=tg.int64))
    with pytest.raises(TypeError, match="received an invalid combination of arguments"):
        tg.tensor([2, 1]).repeat_interleave()
    with pytest.warns(FutureWarning, match="Decorating classes is deprecated"):
        @tg.no_grad()
        class Made:
            def __init__(self):
                self.grad_mode = tg.is_grad_enabled()
    assert Made().grad_mode is False and tg.is_grad_enabled()


def _basics_and_errors(m):
    def run(f):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                r = f()
            r = (tuple(r.shape), str(r.dtype).split(".")[-1], r.tolist()) \
                if hasattr(r, "shape") else r
            return r, [str(w.message).split(" (Triggered")[0] for w in caught]
        except (RuntimeError, TypeError, ValueError) as e:
            return type(e).__name__, str(e)
    y = m.tensor(1.0, requires_grad=True) * 2
    cases = [lambda: bool(m.tensor([])), lambda: m.from_numpy([1, 2]),
             lambda: m.Tensor(5.5), lambda: m.Tensor(True), lambda: m.Tensor(),
             lambda: m.Tensor(m.Size([2, 3])).shape, lambda: m.Tensor([1, 2]),
             lambda: m.remainder(5, m.tensor([3, -3])), lambda: m.remainder(5.5, m.tensor([3.0])),
             lambda: m.ones(3).mT, lambda: m.ones(3).mH, lambda: m.ones(2).adjoint(),
             lambda: m.ones(2, 3).mT, lambda: m.ones(4, 2, 3).mH]
    m.set_warn_always(True)     # (the 0-d transposes warn once per process)
    try:
        out = [run(f) for f in cases]
        for name in ("mT", "mH", "H"):
            out.append(run(lambda: getattr(y, name) is y))
        out.append(run(lambda: y.adjoint() is y))
    finally:
        m.set_warn_always(False)
    return out


def test_basic_errors_and_zero_d_transposes():
    got = _basics_and_errors(tg)
    assert got[0] == ("RuntimeError", "Boolean value of Tensor with no values is ambiguous")
    assert got[1] == ("TypeError", "expected np.ndarray (got list)")
    assert got[2] == ("TypeError", "new(): data must be a sequence (got float)")
    assert got[7][0] == ((2,), "int64", [2, -1])
    assert got[-1][0] is True and got[-1][1] == [
        "adjoint() is deprecated on 0-D tensors. Consider using x.conj()."]
    torch = pytest.importorskip("torch")
    assert got == _basics_and_errors(torch)


def test_numbers_past_float32_range_give_no_numpy_warning():
    # torch's casts to float32 give inf silently; numpy's warn of the overflow
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (tg.tensor([1, 2]) + 1e40).tolist() == [math.inf, math.inf]
        assert (tg.tensor([1.0, 2.0]) < 1e300).tolist() == [True, True]
        assert (tg.tensor([1.0, 2.0]) == -1e300).tolist() == [False, False]
        assert (tg.tensor([1.0]) >= float("nan")).tolist() == [False]


def _checked_conversions(m):
    def run(f):
        try:
            return f().tolist()
        except (RuntimeError, ValueError) as e:
            return type(e).__name__, str(e)

    def setitem(x, v):
        x[0] = v
        return x
    big = 2 ** 31
    cases = [lambda: m.tensor([big], dtype=m.int32), lambda: m.tensor([2 ** 63]),
             lambda: m.tensor([math.nan], dtype=m.int64), lambda: m.tensor([1e40], dtype=m.int32),
             lambda: m.tensor([1e40]), lambda: m.tensor([1, 2.5, True], dtype=m.int32),
             lambda: m.full((2,), 1e40), lambda: m.full((2,), big, dtype=m.int32),
             lambda: m.full((2,), 2.5, dtype=m.int64), lambda: m.zeros(2).fill_(1e40),
             lambda: m.zeros(2).fill_(math.inf), lambda: setitem(m.zeros(2), 1e40),
             lambda: setitem(m.zeros(2, dtype=m.int32), big),
             lambda: setitem(m.zeros(2, dtype=m.int32), 2.7),
             lambda: m.where(m.tensor([True]), m.tensor([1.0]), 1e40),
             lambda: m.where(m.tensor([True]), m.tensor([1], dtype=m.int32), big),
             lambda: m.clamp(m.tensor([1.0]), max=1e40), lambda: m.clamp(m.tensor([1, 5]), max=2.5),
             lambda: m.clamp(m.tensor([1, 5], dtype=m.int32), max=big),
             lambda: m.full_like(m.zeros(2), -1e40)]
    return [run(f) for f in cases]


def test_numbers_are_checked_as_torch_converts_them():
    got = _checked_conversions(tg)
    assert got[0] == ("RuntimeError", "value cannot be converted to type int32 without overflow")
    assert got[1] == ("ValueError", "Overflow when unpacking long long")
    assert got[4] == [math.inf] and got[8] == [2, 2] and got[13] == [2, 0]
    assert got[6] == ("RuntimeError", "value cannot be converted to type float without overflow")
    assert got[7] == ("RuntimeError", "value cannot be converted to type int without overflow")
    torch = pytest.importorskip("torch")
    assert got == _checked_conversions(torch)


def _overflowing_items(m):
    """Python ints past int64 among the items, with a narrower dtype: each item is read as a
    long long and then converted, so the first item that fails decides the error."""
    def run(f):
        try:
            return f().tolist()
        except (RuntimeError, ValueError) as e:
            return type(e).__name__, str(e)
    top = 2 ** 63
    cases = [lambda: m.tensor(range(top - 2, top + 1), dtype=m.int32),
             lambda: m.tensor([top - 2, top], dtype=m.int8),
             lambda: m.tensor([[300], [top]], dtype=m.uint8),
             lambda: m.tensor([top, 300], dtype=m.int16),
             lambda: m.tensor(range(top - 2, top + 1)),
             lambda: m.as_tensor(range(top - 1, top + 1), dtype=m.int32),
             lambda: m.tensor([-top - 1, 2 ** 40], dtype=m.int32)]
    return [run(f) for f in cases]


def test_overflowing_items_fail_at_the_first_as_torch():
    got = _overflowing_items(tg)
    assert got[0] == ("RuntimeError", "value cannot be converted to type int32 without overflow")
    assert got[3] == ("ValueError", "Overflow when unpacking long long")
    torch = pytest.importorskip("torch")
    assert got == _overflowing_items(torch)


def _int32_with_wide_ints(m):
    def i32():
        return m.tensor([1, -3, 2 ** 31 - 1], dtype=m.int32)
    return [(i32() + 2 ** 31).tolist(), (i32() * 2 ** 33).tolist(), (2 ** 31 + i32()).tolist(),
            (i32() < 2 ** 32 + 5).tolist(), (i32() == 2 ** 32 + 1).tolist(),
            i32().add_(2 ** 31).tolist(), str(i32().sub_(2 ** 40).dtype).split(".")[-1]]


def test_int32_operands_wrap_python_ints_as_torch():
    # torch casts the int into the tensor's int32 (wrapping); numpy raised OverflowError
    got = _int32_with_wide_ints(tg)
    assert got[0] == [-2147483647, 2147483645, -1] and got[3] == [True, True, False]
    torch = pytest.importorskip("torch")
    assert got == _int32_with_wide_ints(torch)


def _dtype_checks(m):
    def run(f):
        try:
            r = f()
            return str(r.dtype).split(".")[-1], r.tolist()
        except (RuntimeError, NotImplementedError) as e:
            return type(e).__name__, str(e)
    f32, f64, i64 = m.zeros(3), m.ones(2, dtype=m.float64), m.tensor([1, 2])
    idx = m.tensor([0, 1])
    b1, b2 = m.tensor([True, False]), m.tensor([[True, False], [False, True]])
    cases = [lambda: m.zeros(3).scatter_(0, idx, f64), lambda: f32.scatter(0, idx, i64),
             lambda: m.zeros(3).scatter_add_(0, idx, i64), lambda: m.zeros(3).index_add_(0, idx, i64),
             lambda: m.zeros(3).index_copy_(0, idx, i64), lambda: f32.scatter(0, idx, m.ones(2)),
             lambda: m.lerp(m.zeros(2), f64, 0.5), lambda: m.lerp(f64, m.zeros(2), 0.5),
             lambda: m.lerp(m.zeros(2), m.ones(2), m.tensor(0.5, dtype=m.float64)),
             lambda: m.lerp(m.zeros(2), m.ones(2), f64), lambda: m.lerp(i64, i64, 0.5),
             lambda: m.dot(b1, b1), lambda: b2 @ b2, lambda: b2 @ b1,
             lambda: m.ones(2, 2, 2, dtype=m.bool) @ b2, lambda: b1.abs(), lambda: +b1,
             lambda: +i64, lambda: i64.abs()]
    return [run(f) for f in cases]


@pytest.mark.parametrize("shapes", [((3,), (), (4,)), ((2, 3), (), (2, 3)), ((), (), ()),
                                    ((2, 1), (1, 3), ()), ((2, 3), (3, 2), ())])
def test_broadcast_checks_skip_zero_dim_shapes_only(torch_ref, shapes):
    """errors._check_broadcast folds only where two shapes other than () differ: where()
    with a number (torch checks the shapes first) and broadcast_tensors raise torch's
    message for those, and pass where a 0-d shape meets any other."""
    def run(lib):
        c, a, b = (lib.tensor(np.ones(s)) for s in shapes)
        out = []
        for f in (lambda: lib.where(c > 0, a, 0.0), lambda: lib.where(c > 0, 0.0, b),
                  lambda: lib.broadcast_tensors(c, a, b)[0]):
            try:
                out.append(tuple(f().shape))
            except RuntimeError as e:
                out.append(str(e))
        return out
    assert run(tg) == run(torch_ref)


def test_dtype_checks_as_torch():
    got = _dtype_checks(tg)
    assert got[0] == ("RuntimeError", "scatter(): Expected self.dtype to be equal to src.dtype")
    assert got[6] == ("RuntimeError", "expected dtype float for `end` but got dtype double")
    assert got[12] == ("NotImplementedError", "\"addmm_impl_cpu_\" not implemented for 'Bool'")
    torch = pytest.importorskip("torch")
    assert got == _dtype_checks(torch)


def test_broadcast_tensors_message_as_torch():
    # torch's message is its operators' (a Normal of mismatched parameters shows it too)
    for shapes in [((2,), (3,)), ((2, 3), (4, 3), (3,))]:
        with pytest.raises(RuntimeError) as e:
            tg.broadcast_tensors(*[tg.zeros(s) for s in shapes])
        assert str(e.value).startswith("The size of tensor a (2) must match the size of tensor b")
        torch = pytest.importorskip("torch")
        with pytest.raises(RuntimeError) as t:
            torch.broadcast_tensors(*[torch.zeros(s) for s in shapes])
        assert str(e.value) == str(t.value)


# ---- set_: the tensor takes another's memory, shape and strides -----------------------------
def _set_cases(m):
    out = []

    def run(f):
        try:
            r = f()
        except (RuntimeError, TypeError) as e:
            return type(e).__name__, str(e).replace("tapegrad", "torch")
        return [(tuple(v.shape), v.stride(), v.tolist()) if isinstance(v, m.Tensor) else v
                for v in r]

    def shared():
        a, b = m.zeros(3), m.arange(4.0)
        r = a.set_(b)
        b[0] = 9
        return [r is a, a, a._version, b._version]

    def strided():
        a, s = m.zeros(2), m.arange(6.0).view(2, 3).t()
        a.set_(s)
        s.mul_(2)
        return [a, a.is_contiguous()]

    def number():
        a, s = m.zeros(2), m.tensor(7.0)
        a.set_(s)
        s.add_(1)
        return [a]

    def alias():
        a, b = m.zeros(2), m.ones(2)
        a.set_(b)
        a.add_(1)
        return [b, b._version, a._version]

    def leaf_under_no_grad():
        x = m.ones(3, requires_grad=True)
        with m.no_grad():
            x.set_(m.zeros(2))
        (x * 3).sum().backward()
        return [x.detach(), x.requires_grad, x._version, x.grad]

    def source_requires_grad_under_no_grad():
        a = m.zeros(2)
        with m.no_grad():
            a.set_(m.ones(2, requires_grad=True))
        return [a.requires_grad, a.grad_fn is None]

    for f in (shared, strided, number, alias, leaf_under_no_grad,
              source_requires_grad_under_no_grad,
              lambda: [m.ones(2).set_(), m.ones(2).set_()._version],
              lambda: m.ones(2).set_(m.ones(2, dtype=m.float64)),
              lambda: m.ones(2, dtype=m.int64).set_(m.ones(2, dtype=m.int32)),
              lambda: m.ones(2, dtype=m.bool).set_(m.ones(2, dtype=m.uint8)),
              lambda: m.ones(2, requires_grad=True).set_(m.zeros(2)),
              lambda: m.ones(2).set_(5), lambda: m.ones(2).set_([1.0])):
        out.append(run(f))
    return out


def test_set_as_torch(torch_ref):
    assert _set_cases(tg) == _set_cases(torch_ref)


def test_set_refuses_what_it_cannot_do():
    """What torch records (a node without derivative) and its storage forms: refused."""
    x = tg.ones(2, requires_grad=True) * 2
    for f in (lambda: tg.zeros(2).set_(tg.ones(2, requires_grad=True)),
              lambda: x.set_(tg.zeros(2)), lambda: tg.zeros(2).set_(tg.ones(4), 0, (2,), (2,))):
        with pytest.raises(NotImplementedError):
            f()
    assert x.tolist() == [2.0, 2.0]


def _is_set_to(m):
    a, m2, t = m.ones(4), m.ones(2, 3), m.tensor(5.0)
    x = m.ones(3, requires_grad=True)
    b, c = m.zeros(3), m.arange(3.0)
    b.set_(c)
    out = [a[1:].is_set_to(a[1:]), a[1:].is_set_to(a[:3]), a.is_set_to(a.view(2, 2)),
           a.is_set_to(a.view(4)), a.is_set_to(a[:]), m.empty(0).is_set_to(m.empty(0)),
           t.is_set_to(t.view(())), t.is_set_to(t.detach()), t.is_set_to(t.clone()),
           b.is_set_to(c), c.is_set_to(b), x.is_set_to(x.data), x.is_set_to(x * 1),
           m2.is_set_to(m2.t().t()), m2.t().is_set_to(m2.t()), m2[1].is_set_to(m2[1])]
    try:
        a.is_set_to(5)
    except TypeError as e:
        out.append(str(e))
    return out


def test_is_set_to_as_torch(torch_ref):
    """The same memory from the same element, with the same sizes and strides."""
    assert _is_set_to(tg) == _is_set_to(torch_ref)
