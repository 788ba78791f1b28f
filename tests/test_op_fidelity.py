"""Ops whose corner cases differed from torch's: reductions with dim=None and keepdim, all/any
over no dims, a 0-d tensor where torch takes a Number (dtype inference), cat of legacy empty
tensors, fill_ of an integer tensor, integer pow with negative exponents.  Against torch;
gradients against finite differences too."""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")


def _same(ours, theirs):
    """Same dtype, shape and values (ours a tapegrad tensor, theirs torch's)."""
    assert str(ours.dtype).replace("tapegrad.", "") == str(theirs.dtype).replace("torch.", "")
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.tolist() == theirs.tolist()


def _error(fn, m):
    try:
        fn(m)
    except Exception as e:   # noqa: BLE001  (the error is the behaviour compared)
        return type(e).__name__, str(e)
    return None


# ---- reductions: dim=None with keepdim=True keeps every dim (size 1); all/any over dim=() ----
REDUCE = [
    ("sum", lambda m, x: x.sum(dim=None, keepdim=True)),
    ("sum_fn", lambda m, x: m.sum(x, dim=None, keepdim=True)),
    ("sum_pos", lambda m, x: m.sum(x, None, True)),
    ("sum_dtype", lambda m, x: x.sum(dim=None, keepdim=True, dtype=m.float64)),
    ("sum_int", lambda m, x: x.long().sum(dim=None, keepdim=True)),
    ("mean", lambda m, x: x.mean(dim=None, keepdim=True)),
    ("mean_fn", lambda m, x: m.mean(x, dim=None, keepdim=True)),
    ("mean_int_dtype", lambda m, x: x.long().mean(None, True, dtype=m.float64)),
    ("all", lambda m, x: (x > 1).all(dim=None, keepdim=True)),
    ("any", lambda m, x: (x > 1).any(keepdim=True)),
    ("all_fn", lambda m, x: m.all(x, dim=None, keepdim=True)),
    ("any_fn", lambda m, x: m.any(x > 4, dim=None, keepdim=True)),
    ("all_0d", lambda m, x: m.tensor(2.0).all(None, True)),
    ("all_noop", lambda m, x: x.all(dim=())),
    ("any_noop", lambda m, x: x.any(dim=())),
    ("any_noop_list", lambda m, x: x.any(dim=[], keepdim=True)),
    ("all_noop_fn", lambda m, x: m.all(x - 1, dim=())),
    ("all_noop_uint8", lambda m, x: x.to(m.uint8).all(dim=())),
    ("any_uint8_keep", lambda m, x: x.to(m.uint8).any(None, True)),
]


@pytest.mark.parametrize("cid,fn", REDUCE, ids=[r[0] for r in REDUCE])
def test_reductions_like_torch(cid, fn):
    _same(fn(tg, tg.arange(6.0).reshape(2, 3)), fn(torch, torch.arange(6.0).reshape(2, 3)))


@pytest.mark.parametrize("mean", [False, True])
def test_keepdim_reduction_gradient(mean):
    """sum/mean(dim=None, keepdim=True): SumBackward1 / MeanBackward1 as torch, the gradient
    through the kept shape (a (1, 1) result broadcast in a product) right."""
    vals = np.random.default_rng(0).standard_normal((2, 3))
    w = np.array([[1.0, -2.0, 0.5]])

    def f(m, x):
        r = x.mean(dim=None, keepdim=True) if mean else x.sum(dim=None, keepdim=True)
        return r * m.tensor(w) + x

    x, t = tg.tensor(vals, requires_grad=True), torch.tensor(vals, requires_grad=True)
    out, tout = f(tg, x), f(torch, t)
    assert tuple(out.shape) == tuple(tout.shape) == (2, 3)
    assert out.grad_fn.next_functions[0][0].next_functions[0][0].name() == \
        tout.grad_fn.next_functions[0][0].next_functions[0][0].name()
    (out ** 2).sum().backward()
    (tout ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    assert gradcheck(lambda a: f(tg, a), [tg.tensor(vals, requires_grad=True)])
    assert gradgradcheck(lambda a: f(tg, a), [tg.tensor(vals, requires_grad=True)])


def test_keepdim_and_noop_reductions_replay():
    """Under record: all/any over dim=() stay elementwise, sum/mean keep their dims."""
    def f(m, x):
        return (m.where(x.any(dim=()), 1.0, 0.0).sum()
                + m.where(x.all(None, keepdim=True), 2.0, 0.0).sum()
                + (x.sum(None, True) * x).sum() + (x.mean(None, keepdim=True) ** 2).sum())
    rec = tg.record(lambda x: f(tg, x), tg.tensor([[0.5, 3.0], [0.0, 1.0]], dtype=tg.float64))
    for pt in ([[0.25, 0.5], [1.0, 2.0]], [[0.0, 0.0], [0.0, 1.0]]):
        value, (g,) = rec.value_and_grad(np.array(pt))
        t = torch.tensor(pt, dtype=torch.float64, requires_grad=True)
        out = f(torch, t)
        out.backward()
        assert float(value) == pytest.approx(out.item())
        np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), rtol=1e-12)


# ---- a 0-d tensor (or numpy scalar) where torch takes a Number: its dtype is inferred -------
NUMBERS = [
    ("arange_int", lambda m: m.arange(m.tensor([3, 1, 2]).max())),
    ("arange_int8", lambda m: m.arange(m.tensor(3, dtype=m.int8))),
    ("arange_float64", lambda m: m.arange(m.tensor(3.0, dtype=m.float64))),
    ("arange_bool", lambda m: m.arange(m.tensor(True))),
    ("arange_end", lambda m: m.arange(0, m.tensor(4), 2)),
    ("arange_step", lambda m: m.arange(0, 5, m.tensor(3))),
    ("arange_float_start", lambda m: m.arange(0.0, m.tensor(3))),
    ("arange_dtype", lambda m: m.arange(m.tensor(3), dtype=m.float64)),
    ("arange_np", lambda m: m.arange(np.int64(3))),
    ("full_int", lambda m: m.full((2,), m.tensor(3))),
    ("full_int8", lambda m: m.full((2,), m.tensor(3, dtype=m.int8))),
    ("full_float64", lambda m: m.full((2,), m.tensor(3.0, dtype=m.float64))),
    ("full_bool", lambda m: m.full((2,), m.tensor(True))),
    ("full_np", lambda m: m.full((2,), np.int64(3))),
    ("linspace", lambda m: m.linspace(0, m.tensor(3), 3)),
    ("scalar_tensor", lambda m: m.scalar_tensor(m.tensor(3))),
]


@pytest.mark.parametrize("cid,fn", NUMBERS, ids=[n[0] for n in NUMBERS])
def test_number_arguments_like_torch(cid, fn):
    _same(fn(tg), fn(torch))


@pytest.mark.parametrize("fn", [lambda m: m.arange(m.tensor([3])),
                                lambda m: m.full((2,), m.tensor([3])),
                                lambda m: m.scalar_tensor(m.ones(1))])
def test_tensor_with_dims_is_not_a_number(fn):
    assert _error(fn, tg) == _error(fn, torch) is not None


# ---- cat: legacy empty 1-d tensors are skipped ----------------------------------------------
CATS = [
    ("accumulate", lambda m: m.cat([m.cat([m.tensor([]), m.ones(1, 3)]), m.ones(1, 3)])),
    ("dtype", lambda m: m.cat([m.tensor([], dtype=m.float64), m.ones(1, 3)])),
    ("int_dtype", lambda m: m.cat([m.tensor([], dtype=m.long), m.ones(2, 3, dtype=m.int32)])),
    ("all_empty", lambda m: m.cat([m.tensor([]), m.tensor([])])),
    ("all_empty_dim", lambda m: m.cat([m.tensor([])], dim=3)),
    ("dim1", lambda m: m.cat([m.tensor([]), m.arange(6.0).reshape(2, 3)], dim=1)),
    ("last", lambda m: m.cat([m.arange(6.0).reshape(2, 3), m.tensor([])], dim=-1)),
    ("empty_2d", lambda m: m.cat([m.ones(0, 3), m.tensor([])])),
    ("mixed", lambda m: m.cat([m.ones(2, 3), m.ones(2, 3).bool(), m.tensor([]).double()])),
    ("1d", lambda m: m.cat([m.tensor([]), m.arange(3.0)])),
]


@pytest.mark.parametrize("cid,fn", CATS, ids=[c[0] for c in CATS])
def test_cat_skips_legacy_empty_like_torch(cid, fn):
    _same(fn(tg), fn(torch))


def test_cat_legacy_empty_gradients():
    """The skipped input gets an empty gradient of its shape, as torch's CatBackward0; the
    others theirs, eager (host entry included), under create_graph and replayed."""
    for n in (3, 6000):   # (6000 columns: the host VJP's size)
        grads = []
        for m in (tg, torch):
            a = m.tensor([], dtype=m.float64, requires_grad=True)
            b = m.ones(2, n, dtype=m.float64, requires_grad=True)
            c = m.cat([a, b * b, a], 1)
            ga, gb = m.autograd.grad((c ** 3).sum(), [a, b], create_graph=True)
            ggb, = m.autograd.grad(gb.sum(), b)
            grads.append((tuple(ga.shape), gb.sum().item(), ggb.sum().item()))
        assert grads[0] == grads[1]
    rec = tg.record(lambda x: (tg.cat([tg.tensor([], dtype=x.dtype), x * x], 1) ** 2).sum(),
                    tg.ones(2, 3, dtype=tg.float64))
    value, (g,) = rec.value_and_grad(np.full((2, 3), 2.0))
    assert float(value) == 96.0 and np.asarray(g).tolist() == [[32.0] * 3] * 2


# ---- fill_ of an integer or bool tensor: torch's conversions ---------------------------------
FILLS = [
    ("float", lambda m: m.zeros(3, dtype=m.int64).fill_(2.7)),
    ("neg_float", lambda m: m.zeros(3, dtype=m.int64).fill_(-2.7)),
    ("int32", lambda m: m.zeros(2, dtype=m.int32).fill_(-1.5)),
    ("int8", lambda m: m.zeros(3, dtype=m.int8).fill_(-2.5)),
    ("uint8", lambda m: m.zeros(3, dtype=m.uint8).fill_(2.7)),
    ("bool", lambda m: m.zeros(2, dtype=m.bool).fill_(0.5)),
    ("bool_nan", lambda m: m.zeros(2, dtype=m.bool).fill_(math.nan)),
    ("tensor", lambda m: m.zeros(2, dtype=m.long).fill_(m.tensor(1.5))),
    ("tensor_f64", lambda m: m.zeros(2, dtype=m.long).fill_(m.tensor(-2.7, dtype=m.float64))),
    ("tensor_wraps", lambda m: m.zeros(2, dtype=m.int8).fill_(m.tensor(300.0))),
    ("tensor_inf", lambda m: m.zeros(2, dtype=m.int64).fill_(m.tensor(math.inf))),
    ("tensor_bool", lambda m: m.zeros(2, dtype=m.bool).fill_(m.tensor(0.5))),
    ("tensor_int16", lambda m: m.zeros(2, dtype=m.int16).fill_(m.tensor(70000))),
    ("view", lambda m: m.zeros(2, dtype=m.int64)[:1].fill_(2.5)),
    ("int64_big", lambda m: m.zeros(2, dtype=m.int64).fill_(2 ** 40)),
]


@pytest.mark.parametrize("cid,fn", FILLS, ids=[f[0] for f in FILLS])
def test_fill_like_torch(cid, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error")    # (torch casts inf silently)
        _same(fn(tg), fn(torch))


@pytest.mark.parametrize("dtype,value", [("int64", 1e30), ("int64", math.nan),
                                         ("int32", 1e10), ("int32", 2 ** 40),
                                         ("int16", math.inf), ("uint8", 300.0)])
def test_fill_overflow_errors_like_torch(dtype, value):
    def fn(m):
        return m.zeros(2, dtype=getattr(m, dtype)).fill_(value)
    assert _error(fn, tg) == _error(fn, torch) is not None


# ---- integer pow: negative exponents of a tensor give torch's integers -----------------------
POWS = [
    ("tensor", lambda m: m.tensor([2, -3, 1, -1]) ** m.tensor([-1, -3, -2, -3])),
    ("zero_base", lambda m: m.tensor([0, 0, 5, -1, -1, 1, 2]) **
     m.tensor([-1, -2, -1, -3, -4, -5, -63])),
    ("rpow", lambda m: 2 ** m.tensor([3, -1])),
    ("rpow_neg_one", lambda m: (-1) ** m.tensor([-3, -2])),
    ("rpow_zero", lambda m: 0 ** m.tensor([-1, 2])),
    ("0d_exponent", lambda m: m.tensor([2, 3]) ** m.tensor(-1)),
    ("int8", lambda m: m.tensor([0, 2, -1], dtype=m.int8) ** m.tensor(-1, dtype=m.int8)),
    ("uint8_wraps", lambda m: m.tensor([3], dtype=m.uint8) ** m.tensor(-1)),
    ("pow_fn", lambda m: m.pow(2, m.tensor([-1, 2]))),
    ("method", lambda m: m.tensor([2, 3]).pow(m.tensor([-1]))),
    ("inplace", lambda m: m.tensor([2, 1]).pow_(m.tensor(-1))),
    ("bool_base", lambda m: m.tensor([True]) ** m.tensor([-1])),
    ("positive_wraps", lambda m: m.tensor([3], dtype=m.int8) ** m.tensor([7], dtype=m.int8)),
    ("bool_to_int", lambda m: m.tensor([True, False]) ** 2),       # promoted to int64
    ("bool_to_zero", lambda m: m.tensor([True, False]) ** 0),
    ("bool_square", lambda m: m.square(m.tensor([True, False]))),
    ("bool_to_float", lambda m: m.tensor([True, False]) ** 2.5),
]


@pytest.mark.parametrize("cid,fn", POWS, ids=[p[0] for p in POWS])
def test_int_pow_like_torch(cid, fn):
    _same(fn(tg), fn(torch))


@pytest.mark.parametrize("fn", [lambda m: m.tensor([2, 3]) ** -1,
                                lambda m: m.tensor([True, False]) ** -3,
                                lambda m: m.tensor([True]) ** m.tensor([False])])
def test_int_pow_by_negative_number_still_refused(fn):
    assert _error(fn, tg) == _error(fn, torch) is not None


# ---- tensor(): tensors and numpy arrays inside a list are read as items of their dtype ------
DATA = [
    ("one_element_tensors", lambda m: m.tensor([m.tensor([1.0]), m.tensor([2.0])])),
    ("int_tensors", lambda m: m.tensor([m.tensor(1), m.tensor(2)])),
    ("nested_one_element", lambda m: m.tensor([m.tensor([[1]]), m.tensor([[2]])])),
    ("float64_tensor", lambda m: m.tensor([m.tensor(1.0, dtype=m.float64), 2])),
    ("deeper_tensors", lambda m: m.tensor([[m.tensor(1)], [m.tensor(2)]])),
    ("bool_tensors", lambda m: m.tensor([m.tensor(True), m.tensor(False)])),
    ("float64_arrays", lambda m: m.tensor([np.array([1.0, 2.0]), np.array([3.0, 4.0])])),
    ("int_arrays", lambda m: m.tensor([np.array([1, 2]), np.array([3, 4])])),
    ("int8_array_and_list", lambda m: m.tensor([np.array([1, 2], dtype=np.int8), [3, 4]])),
    ("mixed_float_arrays", lambda m: m.tensor([np.array([1.0], dtype=np.float32),
                                               np.array([3.0])])),
]


@pytest.mark.parametrize("cid,fn", DATA, ids=[d[0] for d in DATA])
def test_tensor_from_nested_tensors_and_arrays_like_torch(cid, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # (torch warns of a list of arrays)
        _same(fn(tg), fn(torch))


def test_tensor_from_tensors_of_several_elements_refused():
    def fn(m):
        return m.tensor([m.tensor([1.0, 2.0]), m.tensor([3.0, 4.0])])
    assert _error(fn, tg) == _error(fn, torch) is not None


# ---- indexing: Ellipses after the first at the end of a key take no dims ---------------------
KEYS = [
    ("two", lambda m: (..., ...)),
    ("select", lambda m: (..., 0, ...)),
    ("first", lambda m: (0, ..., ...)),
    ("none", lambda m: (..., None, ...)),
    ("two_ints", lambda m: (0, ..., 1, ...)),
    ("tensor", lambda m: (..., m.tensor([0, 2]), ...)),
]


@pytest.mark.parametrize("cid,key", KEYS, ids=[k[0] for k in KEYS])
def test_repeated_trailing_ellipsis_like_torch(cid, key):
    x = tg.arange(24.0).reshape(2, 3, 4).requires_grad_()
    t = torch.arange(24.0).reshape(2, 3, 4).requires_grad_()
    out, tout = x[key(tg)], t[key(torch)]
    assert out.grad_fn.name() == tout.grad_fn.name()
    _same(out.detach(), tout.detach())
    w = np.arange(out.numel(), dtype=np.float32).reshape(tuple(out.shape))
    (out * tg.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    assert x.grad.tolist() == t.grad.tolist()
    y, u = x.detach().clone(), t.detach().clone()
    y[key(tg)] = -1.0
    u[key(torch)] = -1.0
    _same(y, u)
