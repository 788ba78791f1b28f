"""The factories' fast forms (tapegrad/creation.py, "fast forms"): the common calls
(tensor(0.1), tensor([1., 2.]), zeros(2, 3), ones(n, dtype=float64), full((2, 3), 0.5),
zeros_like(x), ...) made without the full functions' argument checks give what the full
functions give, and what torch gives; every other call goes on to the full function (its
errors: tests/test_argument_error_names.py, tests/test_out_arg.py)."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import aligned, creation

A = tg.ones(3, 4)

# (name, args, kwargs) of calls the fast forms take
TAKEN = [
    ("tensor", (0.1,), {}), ("tensor", (-2.5e-30,), {}), ("tensor", (1e38,), {}),
    ("tensor", (0.1,), {"requires_grad": True}), ("tensor", (0.1,), {"dtype": tg.float64}),
    ("tensor", (0.1,), {"dtype": None, "requires_grad": False}),
    ("tensor", (float("inf"),), {}), ("tensor", (3.5e38,), {}), ("tensor", ([-1e39, 2.0],), {}),
    ("tensor", (3,), {}), ("tensor", (-2 ** 63,), {}), ("tensor", (7,), {"dtype": tg.int64}),
    ("tensor", ([1.0, 2.5, -0.1],), {}), ("tensor", ([0.1] * 5,), {"dtype": tg.float64}),
    ("tensor", ([0.3, 1e-40],), {"requires_grad": True}),
    ("tensor", ([0.5] * 30000,), {}), ("tensor", ([[0.5] * 100] * 300,), {}),
    ("tensor", ([[1.0, 2.0], [3.0, 4.0]],), {}),
    ("tensor", ([[1e-3, -2.0]],), {"dtype": tg.float64}),
    ("tensor", ([[1.0]],), {}), ("tensor", ([1, 2, 3],), {}),
    ("tensor", ([[1, -2], [3, 2 ** 62]],), {}),
    ("tensor", ([[7] * 100] * 300,), {"dtype": tg.int64}),
    ("tensor", (np.ones((3, 2), np.float32),), {}),
    ("tensor", (np.arange(6.0).reshape(2, 3).T,), {}),
    ("tensor", (np.full(4, 1e300),), {"dtype": tg.float32}), ("tensor", (np.arange(5),), {}),
    ("tensor", (np.linspace(-3, 3, 7),), {"dtype": tg.int32}), ("tensor", (np.ones(30000),), {}),
    ("tensor", (np.array([True, False]),), {}), ("tensor", (np.arange(3, dtype=np.uint8),), {}),
    ("tensor", (np.array(2.5),), {"requires_grad": True}), ("tensor", (np.float32(0.1),), {}),
    ("tensor", (np.float64(0.1),), {}), ("tensor", (np.int32(7),), {}),
    ("tensor", (np.bool_(True),), {}), ("tensor", (np.int64(3),), {"dtype": tg.float32}),
    ("tensor", (np.ones((2, 6))[:, ::2],), {}),
    ("tensor", ((1.0, 2.5),), {}), ("tensor", ((1, -2, 3),), {}),
    ("tensor", (((1, 2), (3, 4)),), {}), ("tensor", ([(1.0, 2.0), [3.0, 4.0]],), {}),
    ("tensor", ((0.5,) * 30000,), {"dtype": tg.float64}),
    ("tensor", (range(5),), {}), ("tensor", (range(3, 10, 2),), {}),
    ("tensor", (range(10, 0, -3),), {"dtype": tg.int64}), ("tensor", (range(10000),), {}),
    ("tensor", (range(2 ** 63 - 2, 2 ** 63),), {}),
    ("tensor", (range(-2 ** 63, 2 ** 63 - 1, 2 ** 63 - 1),), {}),
    ("zeros", (3,), {}), ("zeros", (2, 0, 4), {}), ("zeros", ((2, 3),), {}),
    ("zeros", ([2, 3],), {}), ("zeros", (tg.Size([4, 1]),), {}), ("zeros", ((),), {}),
    ("zeros", (1,), {}), ("zeros", (300, 100), {"dtype": tg.float64}),
    ("ones", (32, 16), {}), ("ones", (3,), {"dtype": tg.int32}),
    ("ones", (3,), {"dtype": tg.bool}), ("ones", (2,), {"requires_grad": True}),
    ("ones", (1, 1), {"dtype": tg.float64, "requires_grad": True}),
    ("empty", (5, 2), {}), ("empty", (3,), {"dtype": tg.uint8}),
    ("full", ((2, 3), 0.5), {}), ("full", ((2,), 7), {}), ("full", ([4], -1.5), {}),
    ("full", ((3,), 2), {"dtype": tg.float64}), ("full", ((3,), 300), {"dtype": tg.int16}),
    ("full", ((2, 2), 1.0), {"requires_grad": True}), ("full", ((), 0.25), {}),
    ("full", ((3,), 1), {"dtype": tg.bool}),
    ("zeros_like", (A,), {}), ("ones_like", (A,), {}), ("empty_like", (A,), {}),
    ("ones_like", (A,), {"dtype": tg.int64}), ("zeros_like", (A.t(),), {}),
    ("ones_like", (A[0, 0],), {"requires_grad": True}),
    ("zeros_like", (tg.arange(6),), {}), ("zeros_like", (tg.ones(300, 100),), {}),
    ("arange", (10,), {}), ("arange", (2, 9, 3), {}), ("arange", (5, 0, -1), {}),
    ("arange", (0.0, 1.0, 0.25), {}), ("arange", (-3, 3.5), {}), ("arange", (0, 0), {}),
    ("arange", (5,), {"dtype": tg.float64}), ("arange", (0, 1, 0.1), {"requires_grad": True}),
    ("arange", (0, 5, 1.5), {"dtype": tg.int64}), ("arange", (7,), {"dtype": tg.int32}),
]

# calls they leave to the full function (its checks, its inference, its messages)
LEFT = [
    ("tensor", (True,), {}), ("tensor", ([1, 2.0],), {}),
    ("tensor", ([],), {}), ("tensor", (float("nan"),), {"dtype": tg.int32}),
    ("tensor", (2 ** 63,), {}), ("tensor", (1.5,), {"dtype": tg.int64}),
    ("tensor", (3,), {"dtype": tg.float32}), ("tensor", (3,), {"requires_grad": True}),
    ("tensor", (0.1,), {"device": "cpu"}), ("tensor", (0.1,), {"requires_grad": 1}),
    ("tensor", (A,), {}), ("tensor", (np.ones(2, np.float16),), {}),
    ("tensor", (np.ones(2, np.complex64),), {}), ("tensor", (np.array(["a"]),), {}),
    ("tensor", (np.ones(2).view(np.ma.MaskedArray),), {}),
    ("tensor", (np.float64(1.5),), {"dtype": tg.int64}),
    ("tensor", (np.ones(2, np.uint64),), {}), ("tensor", (np.arange(2),), {"requires_grad": True}),
    ("tensor", ([[1.0], [2.0, 3.0]],), {}), ("tensor", ([[1.0, 2]],), {}),
    ("tensor", ([1, 2 ** 63],), {}), ("tensor", ([[]],), {}), ("tensor", ([[1.0], 2.0],), {}),
    ("tensor", ([1.0, [2.0]],), {}), ("tensor", ([1, 2],), {"dtype": tg.float32}),
    ("tensor", ([True, False],), {}), ("tensor", ([[[1.0]]],), {}), ("tensor", ((1, 2.0),), {}),
    ("tensor", ((),), {}), ("tensor", (((1.0,), (2.0, 3.0)),), {}), ("tensor", ((True,),), {}),
    ("tensor", (range(0),), {}), ("tensor", (range(2 ** 63 - 2, 2 ** 63 + 1),), {}),
    ("tensor", (range(3),), {"dtype": tg.float32}), ("tensor", (range(3),), {"dtype": tg.int32}),
    ("tensor", (range(3),), {"requires_grad": True}),
    ("tensor", ([1.0, 2.0],), {"dtype": tg.int32}), ("tensor", ([1, 2],), {"requires_grad": True}),
    ("zeros", (), {}), ("zeros", (-1,), {}), ("zeros", (2, True), {}),
    ("zeros", (np.int64(3),), {}), ("zeros", ((2, 3.0),), {}), ("zeros", (3,), {"size": 2}),
    ("zeros", (3,), {"dtype": "float32"}), ("zeros", (3,), {"layout": tg.strided}),
    ("ones", (2,), {"dtype": tg.int64, "requires_grad": True}),
    ("full", (3, 0.5), {}), ("full", ((3,), True), {}), ("full", ((3,), 2 ** 64), {}),
    ("full", ((3,), np.float32(1)), {}), ("full", ((3,), 1.0), {"device": None}),
    ("zeros_like", (np.ones(3),), {}), ("zeros_like", (A,), {"memory_format": None}),
    ("zeros_like", (A, A), {}), ("ones_like", (A,), {"dtype": tg.int64, "requires_grad": True}),
    ("arange", (), {}), ("arange", (True,), {}), ("arange", (np.int64(3),), {}),
    ("arange", (tg.tensor(3),), {}), ("arange", (1, 2, 3, 4), {}), ("arange", (2 ** 63,), {}),
    ("arange", (5,), {"device": "cpu"}), ("arange", (5,), {"requires_grad": True}),
    ("arange", (5,), {"end": 6}), ("arange", (0, None), {}),
]

# calls the fast forms take whose values torch refuses: the full function's error
REFUSED = [
    ("arange", (0, 5, 0), {}), ("arange", (0, 5, -1), {}), ("arange", (0.0, float("inf")), {}),
    ("arange", (0, 1.0, float("nan")), {}), ("arange", (5,), {"dtype": tg.bool}),
    ("arange", (-2 ** 63, 2 ** 63 - 1), {}), ("full", ((3,), 1e300), {}),
    ("full", ((3,), 300), {"dtype": tg.uint8}), ("full", ((2,), 2 ** 40), {"dtype": tg.int32}),
    ("tensor", (np.ones(3)[::-1],), {}), ("tensor", (np.ones(3, ">f4"),), {}),
    ("zeros", (2 ** 62,), {}), ("ones", (2 ** 31, 2 ** 31), {"dtype": tg.float64}),
    ("arange", (2 ** 62,), {}),
]

FAST = {"tensor": creation._tensor_fast, "zeros": creation.zeros._fast,
        "ones": creation.ones._fast, "empty": creation.empty._fast,
        "full": creation.full._fast, "zeros_like": creation.zeros_like._fast,
        "ones_like": creation.ones_like._fast, "empty_like": creation.empty_like._fast,
        "arange": creation.arange._fast}
FULL = {"tensor": creation.tensor._parsed, "zeros": creation.zeros, "ones": creation.ones,
        "empty": creation.empty, "full": creation.full,
        "zeros_like": creation.zeros_like._parsed, "ones_like": creation.ones_like._parsed,
        "empty_like": creation.empty_like._parsed, "arange": creation.arange._parsed}


def _same(x, y):
    """x and y alike in everything a user sees, and in how each holds its value."""
    assert type(x) is type(y) is tg.Tensor
    assert x.dtype is y.dtype and x.shape == y.shape and x.stride() == y.stride()
    assert x.requires_grad is y.requires_grad and x.is_leaf and y.is_leaf
    assert type(x._v) is type(y._v)   # (a Python float for one float element, else an array)
    np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())
    if isinstance(x._v, np.ndarray):
        assert x._v.dtype == y._v.dtype
        if x._v.nbytes >= aligned.MIN_BYTES:   # (aligned.py's rule: large ones on 64 bytes)
            assert x.data_ptr() % 64 == 0 and y.data_ptr() % 64 == 0


def _case_id(case):
    name, args, kw = case
    text = ", ".join([repr(a)[:20] for a in args] + [f"{k}={v}" for k, v in kw.items()])
    return f"{name}({text})"


@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("case", TAKEN, ids=_case_id)
def test_a_fast_form_gives_what_the_full_function_gives(case, default):
    name, args, kw = case
    saved = tg.get_default_dtype()
    tg.set_default_dtype(getattr(tg, default))
    try:
        assert FAST[name](args, dict(kw)) is not None, "a common form it should take"
        # (fresh results each time: numpy() moves a one-element value into an array)
        _same(FAST[name](args, dict(kw)), FULL[name](*args, **kw))
        _same(FAST[name](args, dict(kw)), getattr(tg, name)(*args, **kw))
    finally:
        tg.set_default_dtype(saved)


@pytest.mark.parametrize("case", LEFT, ids=_case_id)
def test_a_fast_form_leaves_other_calls_to_the_full_function(case):
    name, args, kw = case
    with np.errstate(all="raise"):   # (and casts nothing on the way: no numpy warning)
        assert FAST[name](args, dict(kw)) is None


@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("case", TAKEN, ids=_case_id)
def test_the_fast_forms_results_are_torchs(case, default):
    torch = pytest.importorskip("torch")
    name, args, kw = case
    if name == "empty" or name == "empty_like":
        pytest.skip("torch's empty is uninitialised")

    def convert(mod, v):
        if isinstance(v, tg.Tensor):
            return mod.tensor(v.detach().numpy()) if mod is torch else v
        if isinstance(v, tg.dtype):
            return getattr(mod, str(v).split(".")[1])
        if isinstance(v, tg.Size):
            return mod.Size(v)
        return v
    saved = (tg.get_default_dtype(), torch.get_default_dtype())
    tg.set_default_dtype(getattr(tg, default))
    torch.set_default_dtype(getattr(torch, default))
    try:
        ours = getattr(tg, name)(*[convert(tg, a) for a in args],
                                 **{k: convert(tg, v) for k, v in kw.items()})
        theirs = getattr(torch, name)(*[convert(torch, a) for a in args],
                                      **{k: convert(torch, v) for k, v in kw.items()})
    finally:
        tg.set_default_dtype(saved[0])
        torch.set_default_dtype(saved[1])
    assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.requires_grad == theirs.requires_grad and ours.is_leaf
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    if ours.dim() == 0 and ours.dtype.is_floating_point:
        assert ours.item() == theirs.item() or math.isnan(theirs.item())


def _error(f, *args, **kw):
    try:
        f(*args, **kw)
    except Exception as e:   # noqa: BLE001  (any: compared as they are)
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("case", REFUSED, ids=_case_id)
def test_the_fast_forms_refuse_as_the_full_functions_and_torch(case):
    name, args, kw = case
    ours = _error(getattr(tg, name), *args, **kw)
    assert ours is not None and ours == _error(FULL[name], *args, **kw)
    torch = pytest.importorskip("torch")
    kw = {k: getattr(torch, str(v).split(".")[1]) for k, v in kw.items()}
    assert ours == _error(getattr(torch, name), *args, **kw)


DRAWS = [
    ("rand", (3, 2), {}), ("rand", ((4,),), {"dtype": tg.float64}), ("randn", (32, 16), {}),
    ("randn", (5,), {"requires_grad": True}), ("randn", ([2, 3],), {"dtype": tg.float64}),
    ("rand", (0,), {}), ("randn", (17,), {"dtype": None}),
]
DRAWS_REFUSED = [("rand", (2 ** 62,), {}), ("randn", (2 ** 31, 2 ** 31), {})]
DRAWS_LEFT = [
    ("rand", (3,), {"generator": None}), ("randn", (3,), {"dtype": tg.int64}),
    ("rand", (-1,), {}), ("randn", (), {}), ("rand", (3,), {"device": "cpu"}),
    ("randn", (np.int64(3),), {}), ("rand", (3,), {"size": (3,)}),
]


@pytest.mark.parametrize("case", DRAWS, ids=_case_id)
def test_the_draws_fast_forms_draw_as_the_full_functions_and_torch(case):
    from tapegrad import random
    name, args, kw = case
    fast, full = getattr(random, name)._fast, getattr(random, name)
    tg.manual_seed(7)
    ours = fast(args, dict(kw))
    tg.manual_seed(7)
    _same(ours, full(*args, **kw))
    torch = pytest.importorskip("torch")
    torch.manual_seed(7)
    theirs = getattr(torch, name)(*args, **{k: v and getattr(torch, str(v).split(".")[1])
                                            if k == "dtype" else v for k, v in kw.items()})
    assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    assert ours.requires_grad == theirs.requires_grad
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())


@pytest.mark.parametrize("case", DRAWS_LEFT, ids=_case_id)
def test_the_draws_fast_forms_leave_other_calls_to_the_full_functions(case):
    from tapegrad import random
    name, args, kw = case
    state = tg.get_rng_state()
    assert getattr(random, name)._fast(args, dict(kw)) is None
    assert bool((tg.get_rng_state() == state).all())   # (nothing drawn)


@pytest.mark.parametrize("case", DRAWS_REFUSED, ids=_case_id)
def test_the_draws_fast_forms_refuse_huge_sizes_as_the_full_functions_and_torch(case):
    from tapegrad import random
    name, args, kw = case
    state = tg.get_rng_state()
    ours = _error(getattr(tg, name), *args, **kw)
    assert ours is not None and ours == _error(getattr(random, name), *args, **kw)
    assert bool((tg.get_rng_state() == state).all())   # (nothing drawn)
    torch = pytest.importorskip("torch")
    assert ours == _error(getattr(torch, name), *args, **kw)
