"""Differences from torch found by comparing calls one by one (session 58): movedim's
argument forms, ..."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")


def _x(m):
    return m.zeros(2, 3, 4)


MOVEDIM = [
    lambda m: _x(m).movedim(0, (1,)),
    lambda m: _x(m).movedim((0,), 1),
    lambda m: m.movedim(_x(m), 0, (1,)),
    lambda m: m.moveaxis(_x(m), (0,), 1),
    lambda m: _x(m).moveaxis(0, [1]),
    lambda m: _x(m).movedim(0.5, 1),
    lambda m: _x(m).movedim(None, 1),
    lambda m: _x(m).movedim(True, 1),
    lambda m: _x(m).movedim(0),
    lambda m: _x(m).movedim(),
    lambda m: m.movedim(_x(m), 0),
    lambda m: _x(m).movedim(0, 1, 2),
    lambda m: _x(m).movedim(source=0, destination=(1,)),
    lambda m: m.movedim(input=_x(m), source=0, destination=(1,)),
    lambda m: m.movedim(_x(m), 0, destination=(1,)),
    lambda m: _x(m).movedim(0, foo=1),
    lambda m: _x(m).movedim(0, 1, foo=2),
    lambda m: _x(m).movedim(0, ()),
    lambda m: _x(m).movedim(m.tensor(1.5), 1),
    lambda m: _x(m).movedim((0, 1.5), (1, 2)),
    lambda m: m.movedim(1, 0, 1),
    lambda m: _x(m).movedim((0, 1), (1,)),
    lambda m: _x(m).movedim(0, 5),
]


@pytest.mark.parametrize("i", range(len(MOVEDIM)))
def test_movedim_argument_errors_as_torch(i):
    assert_same_error(MOVEDIM[i], torch)


@pytest.mark.parametrize("call", [
    lambda m, x: x.movedim(2, 0), lambda m, x: m.moveaxis(x, -1, 0),
    lambda m, x: x.movedim([2, 0], (0, 1)), lambda m, x: x.movedim((m.tensor(2),), (0,)),
    lambda m, x: m.movedim(x, source=1, destination=0), lambda m, x: x.movedim([], ()),
    lambda m, x: x.movedim((0, True), (1, 2))])
def test_movedim_forms_as_torch(call):
    ours, theirs = call(tg, tg.arange(24.0).reshape(2, 3, 4)), call(
        torch, torch.arange(24.0).reshape(2, 3, 4))
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.stride() == theirs.stride()
    assert ours.tolist() == theirs.tolist()


def _layout(t, base):
    # (data_ptr relative to the base where non-empty: torch's is 0 for an empty tensor)
    ptr = t.data_ptr() and t.data_ptr() - base.data_ptr()
    return tuple(t.shape), t.stride(), t.storage_offset(), ptr, t.is_contiguous()


EMPTY_VIEWS = [
    lambda x: x.narrow(0, 4, 0), lambda x: x.narrow(1, 6, 0), lambda x: x.narrow(1, 3, 0),
    lambda x: x.narrow(0, -4, 0), lambda x: x.narrow(1, -1, 0),
    lambda x: x[:, 2:4].narrow(1, 2, 0), lambda x: x.t().narrow(0, 6, 0),
    lambda x: x[::2].narrow(0, 2, 0), lambda x: x.narrow(0, 4, 0).t(),
    lambda x: x[4:], lambda x: x[:, 6:], lambda x: x[2:2], lambda x: x[1, 6:],
    lambda x: x[1:3][5:], lambda x: x.narrow(1, 5, 1), lambda x: x.narrow_copy(0, 4, 0),
    # slices of non-contiguous views (numpy's copy-free path)
    lambda x: x.t()[6:], lambda x: x.t()[2:2], lambda x: x[:, 2:4][:, 2:],
    lambda x: x.unfold(0, 2, 1)[4:], lambda x: x.t()[..., 1:1],
]


@pytest.mark.parametrize("i", range(len(EMPTY_VIEWS)))
def test_empty_narrow_and_slice_layout_as_torch(i):
    ours, theirs = tg.arange(24.0).reshape(4, 6), torch.arange(24.0).reshape(4, 6)
    assert _layout(EMPTY_VIEWS[i](ours), ours) == _layout(EMPTY_VIEWS[i](theirs), theirs)


def test_empty_narrow_keeps_the_graph():
    for m in (tg, torch):
        x = m.arange(24.0, requires_grad=True)
        y = x.reshape(4, 6).narrow(0, 4, 0)
        z = x.reshape(4, 6)[:, 6:]
        assert y.grad_fn.name() == "SliceBackward0" and z.grad_fn.name() == "SliceBackward0"
        (y.sum() + z.sum() * 2 + x[3]).backward()
        assert x.grad.tolist() == [0.0] * 3 + [1.0] + [0.0] * 20


EXPANDS = [
    ((3, 1, 4, 1), (3, 5, 4, 1)), ((3, 1, 4, 1), (3, 1, 4, 1)), ((3, 1, 4, 1), (3, 5, 4, 2)),
    ((3, 1, 4, 1), (2, 3, 1, 4, 1)), ((3, 1, 4, 1), (-1, -1, -1, -1)), ((1, 1), (1, 1)),
    ((1,), (3,)), ((), (2, 3)), ((1, 2, 3), (1, 2, 3)), ((3, 0, 1), (3, 0, 1)), ((2, 0, 1), (2, 0, 1)),
]


@pytest.mark.parametrize("shape, size", EXPANDS)
def test_expand_strides_as_torch(shape, size):
    for view in (lambda t: t, lambda t: t.transpose(0, -1) if t.dim() > 1 else t):
        ours = view(tg.arange(float(tg.zeros(shape).numel())).reshape(shape))
        theirs = view(torch.arange(float(torch.zeros(shape).numel())).reshape(shape))
        if not all(s in (-1, 1) or s == n for s, n in zip(size[len(size) - len(shape):],
                                                         theirs.shape)):
            continue
        for f in (lambda t: t.expand(*size), lambda t: t.expand(size)):
            a, b = f(ours), f(theirs)
            assert (tuple(a.shape), a.stride(), a.is_contiguous()) == (
                tuple(b.shape), b.stride(), b.is_contiguous())
            assert a.tolist() == b.tolist()


def test_expand_of_strided_views_as_torch():
    calls = [lambda m: m.zeros(4, 1)[::2].expand(2, 3),
             lambda m: m.arange(12.0).reshape(3, 4)[:, :1].expand(3, 1),
             lambda m: m.arange(12.0).reshape(3, 4)[:, :1].expand(3, 5),
             lambda m: m.arange(12.0).reshape(3, 4)[:1].expand(1, 4),
             lambda m: m.arange(4.0).reshape(1, 4).t().expand(4, 1),
             lambda m: m.broadcast_to(m.zeros(3, 1, 4, 1), (3, 1, 4, 1)),
             lambda m: m.zeros(1, 3).expand_as(m.zeros(1, 3))]
    for call in calls:
        a, b = call(tg), call(torch)
        assert (tuple(a.shape), a.stride(), a.tolist()) == (tuple(b.shape), b.stride(), b.tolist())


@pytest.mark.parametrize("shape, size", [((), (1,)), ((), (1, 1)), ((), (2, 1)), ((2,), (1, 1, 2)),
                                         ((2, 1), (1, 2, 1)), ((2, 1), (1, 2, 3)),
                                         ((0, 1), (1, 0, 1)), ((0, 1), (0, 3))])
def test_expand_new_dims_strides_as_torch(shape, size):
    a, b = tg.zeros(shape).expand(*size), torch.zeros(shape).expand(*size)
    assert (tuple(a.shape), a.stride()) == (tuple(b.shape), b.stride())


def test_empty_slice_past_the_storage_end():
    # torch's offset (3) lies past its 2-element storage; numpy's cannot: no error, a's start
    v = tg.tensor([0.5, -1.0]).expand(1, -1).abs()
    w = v[1:, 1]
    assert tuple(w.shape) == (0,) and w.data_ptr() == 0 and w.tolist() == []


SORT_CALLS = [
    lambda m, x: m.sort(x, stable=True), lambda m, x: m.sort(x, dim=0, stable=True),
    lambda m, x: m.sort(x, dim=1, descending=True, stable=True),
    lambda m, x: m.sort(x, stable=False, dim=-1, descending=True),
    lambda m, x: m.sort(x, stable=None), lambda m, x: m.sort(input=x, stable=True),
    lambda m, x: x.sort(stable=True), lambda m, x: x.sort(stable=True, descending=True),
    lambda m, x: x.sort(dim=0, stable=True), lambda m, x: x.sort(0, True),
    lambda m, x: m.sort(x, 1, True), lambda m, x: m.sort(x, axis=0, stable=True),
    lambda m, x: x.sort(axis=0),
    lambda m, x: m.sort(x, stable=True, out=(m.empty(0), m.empty(0, dtype=m.long))),
]


@pytest.mark.parametrize("i", range(len(SORT_CALLS)))
def test_sort_stable_forms_as_torch(i):
    rows = [[3., 1., 2., 1., 3., 2., 1.] * 5, [0., 0., 5., 5., -1., 0., 5.] * 5]
    ours, theirs = (SORT_CALLS[i](m, m.tensor(rows, requires_grad=i != 13))
                    for m in (tg, torch))
    assert ours.values.tolist() == theirs.values.tolist()
    assert ours.indices.tolist() == theirs.indices.tolist()
    if theirs.values.grad_fn is not None:
        assert ours.values.grad_fn.name() == theirs.values.grad_fn.name()


@pytest.mark.parametrize("call", [
    lambda m, x: m.argsort(x, stable=True), lambda m, x: m.argsort(x, 0, True),
    lambda m, x: m.argsort(x, dim=0, descending=True, stable=True),
    lambda m, x: x.argsort(stable=True, descending=True), lambda m, x: x.argsort(1),
    lambda m, x: m.msort(x)])
def test_argsort_stable_forms_as_torch(call):
    rows = [[3., 1., 2., 1., 3., 2., 1.] * 5, [0., 0., 5., 5., -1., 0., 5.] * 5]
    assert call(tg, tg.tensor(rows)).tolist() == call(torch, torch.tensor(rows)).tolist()


def test_stable_sort_gradient_as_torch():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (5, 40)).astype(np.float64)
    grads = []
    for m in (tg, torch):
        t = m.tensor(a, requires_grad=True)
        v, i = m.sort(t, dim=1, descending=True, stable=True)
        w, _ = t.sort(stable=True, dim=0)
        ((v * m.arange(40.0)).sum() + (w * m.arange(5.0)[:, None]).sum()).backward()
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(*grads)


SORT_ERRORS = [
    lambda m: m.sort(m.ones(3), 0, True, stable=True), lambda m: m.sort(m.ones(3), 0, stable=True),
    lambda m: m.sort(m.ones(3), stable=1), lambda m: m.sort(m.ones(3), True),
    lambda m: m.ones(3).sort(True), lambda m: m.sort(m.ones(3), dim=1.0),
    lambda m: m.sort(m.ones(3), stable="a"), lambda m: m.sort(m.ones(3), stable=True, foo=1),
    lambda m: m.sort(stable=True), lambda m: m.sort(), lambda m: m.ones(3).sort(0, True, True),
    lambda m: m.sort(m.ones(3), 0, True, True), lambda m: m.sort(m.ones(3), descending=None,
                                                                  stable=True),
    lambda m: m.sort(m.ones(3), stable=True, dim=None), lambda m: m.ones(3).sort(0, stable=True),
    lambda m: m.argsort(m.ones(3), 0, True, stable=True), lambda m: m.argsort(),
    lambda m: m.ones(3).argsort(True), lambda m: m.argsort(m.ones(3), stable=1),
    lambda m: m.ones(3).argsort(stable=True, foo=2),
]


@pytest.mark.parametrize("i", range(len(SORT_ERRORS)))
def test_sort_argument_errors_as_torch(i):
    assert_same_error(SORT_ERRORS[i], torch)


# Python ints past int64's range: torch reads one below 2**64 as a uint64 scalar, which wraps
# into an integer tensor's dtype (and has no promotion with bool); beyond, OverflowError
BIG_INTS = [
    lambda m: m.tensor([1]) + 2**63, lambda m: m.tensor([1]) + 2**64,
    lambda m: m.tensor([1]) - 2**63 - 1, lambda m: m.tensor([1]) - (2**63 + 1),
    lambda m: m.tensor([1, 2]) * 2**63, lambda m: 2**63 + m.tensor([1]),
    lambda m: 2**63 - m.tensor([1]), lambda m: 2**64 * m.tensor([1]),
    lambda m: m.tensor([1]) / 2**63, lambda m: m.tensor([1]) // 2**63,
    lambda m: m.tensor([1]) % 2**63, lambda m: m.tensor([5, 2]).remainder(2**63),
    lambda m: m.tensor([1]) == 2**63, lambda m: m.tensor([1, 2]) < 2**63,
    lambda m: m.tensor([1, 2]).ge(2**63), lambda m: m.tensor([1]) > -2**64,
    lambda m: m.tensor([1, 2], dtype=m.uint8) < 2**63,
    lambda m: m.add(m.tensor([1]), 2**63), lambda m: m.tensor([1]).add(2**63),
    lambda m: m.tensor([1, 2]).add_(2**63), lambda m: m.tensor([1, 2]).mul_(2**63),
    lambda m: m.tensor([1, 2]).sub_(2**63), lambda m: m.tensor(1) + 2**63,
    lambda m: m.tensor([1], dtype=m.int32) + 2**63, lambda m: m.tensor([1], dtype=m.int16) * 2**63,
    lambda m: m.tensor([1], dtype=m.uint8) + 2**63, lambda m: m.tensor([1.0, 2.0]) + 2**63,
    lambda m: m.tensor([1.0, 2.0]) + 2**64, lambda m: m.tensor([1]) & 2**63,
    lambda m: m.tensor([1]) | 2**64, lambda m: m.tensor([1]) << 2**63,
    lambda m: m.tensor([True]) + 2**63, lambda m: 2**63 * m.tensor([True]),
    lambda m: m.tensor([True]) < 2**63, lambda m: m.tensor([True]) & 2**63,
    lambda m: m.tensor([True]) // 2**63, lambda m: m.tensor([True]).add_(2**63),
    lambda m: m.tensor([True]) - 2**63, lambda m: m.tensor([3]) ** 2**63,
    # alpha: add checks its conversion into int64; sub and rsub negate it, wrapping around
    lambda m: m.tensor([1, 5]).sub(1, alpha=2**63), lambda m: m.tensor([1, 5]).sub(2, alpha=2**63),
    lambda m: m.tensor([1, 5]).sub(3, alpha=2**63 + 1), lambda m: m.tensor([1, 5]).add(1, alpha=2**63),
    lambda m: m.sub(m.tensor([1, 5]), m.tensor([1, 5]), alpha=2**63),
    lambda m: m.rsub(m.tensor([1, 5]), 1, alpha=2**63), lambda m: m.tensor([1, 5]).sub(1, alpha=2**64),
    lambda m: m.tensor([1.0]).sub(1, alpha=2**63), lambda m: m.tensor([1, 5]).add(2**40, alpha=2**40),
    lambda m: m.tensor([1, 5], dtype=m.int32).sub(1, alpha=2**63),
]


@pytest.mark.parametrize("i", range(len(BIG_INTS)))
def test_python_ints_past_int64_as_torch(i):
    def outcome(m):
        try:
            r = BIG_INTS[i](m)
        except Exception as e:   # noqa: BLE001  (the error is the behaviour compared)
            return type(e).__name__, str(e)
        return str(r.dtype).split(".")[1], r.tolist()
    assert outcome(tg) == outcome(torch)


def _m2(m):
    return m.ones(2, 2)


# a missing argument (and the extra ones next to it) of the most used ops: torch's parser's
# TypeError, its "invalid combination" list where several signatures fit the count
MISSING_ARGS = [
    lambda m: m.add(_m2(m)), lambda m: _m2(m).add(), lambda m: m.add(),
    lambda m: _m2(m).add(alpha=2), lambda m: m.sub(_m2(m)), lambda m: _m2(m).sub(),
    lambda m: m.subtract(_m2(m)), lambda m: _m2(m).subtract(), lambda m: m.mul(_m2(m)),
    lambda m: _m2(m).mul(), lambda m: m.mul(), lambda m: m.multiply(_m2(m)),
    lambda m: _m2(m).multiply(), lambda m: m.div(_m2(m)), lambda m: _m2(m).div(),
    lambda m: _m2(m).div(rounding_mode="floor"), lambda m: m.divide(_m2(m)),
    lambda m: _m2(m).divide(), lambda m: m.true_divide(_m2(m)), lambda m: _m2(m).true_divide(),
    lambda m: m.matmul(_m2(m)), lambda m: _m2(m).matmul(), lambda m: m.matmul(),
    lambda m: m.mm(_m2(m)), lambda m: _m2(m).mm(), lambda m: m.sum(), lambda m: m.mean(),
    lambda m: m.clamp(), lambda m: m.cat(), lambda m: m.cat(dim=0), lambda m: m.stack(),
    lambda m: m.concat(), lambda m: m.concatenate(), lambda m: m.reshape(_m2(m)),
    lambda m: _m2(m).reshape(), lambda m: m.reshape(), lambda m: _m2(m).view(),
    # the neighbours: wrong types and counts, as the same parser reports them
    lambda m: m.matmul(_m2(m), 1), lambda m: _m2(m).matmul(1), lambda m: m.mm(_m2(m), 1),
    lambda m: _m2(m).mm(1), lambda m: m.mul(_m2(m), 1, 2), lambda m: m.stack([_m2(m)], 0, 1),
    lambda m: _m2(m).add(1, 2, 3), lambda m: m.sum(_m2(m), foo=1),
    lambda m: m.sum(_m2(m), 1, 2, 3, 4), lambda m: m.mean(_m2(m), "a"),
    lambda m: m.clamp("a"), lambda m: m.stack(1), lambda m: m.cat(_m2(m), 1, 2),
    lambda m: _m2(m).view(1.5, 2), lambda m: m.add(_m2(m), 1, foo=2),
]


# the one-signature ops the namespace forwards to their methods: their required parameters
MISSING_ARGS += [lambda m, n=n: getattr(m, n)() for n in (
    "exp", "log", "sqrt", "transpose", "unsqueeze", "flatten", "permute", "clone", "mv",
    "split", "chunk", "unbind", "t", "detach", "neg", "relu", "sigmoid", "tanh", "abs",
    "split_with_sizes", "unsafe_chunk", "negative", "reciprocal", "square", "squeeze", "max",
    "min")]
MISSING_ARGS += [lambda m: m.max(_m2(m), "a"), lambda m: m.squeeze(_m2(m), "a"),
                 lambda m: m.max(_m2(m), 0, True, 5), lambda m: m.matmul(other=_m2(m)),
                 lambda m: m.matmul(input=_m2(m)), lambda m: m.matmul(_m2(m), input=_m2(m)),
                 lambda m: m.matmul(input=_m2(m), other=1)]


@pytest.mark.parametrize("i", range(len(MISSING_ARGS)))
def test_missing_argument_errors_as_torch(i):
    assert_same_error(MISSING_ARGS[i], torch)


@pytest.mark.parametrize("call", [
    lambda m, x: m.add(x, 2), lambda m, x: x.add(2, alpha=3), lambda m, x: m.sub(x, x, alpha=2),
    lambda m, x: x.subtract(1), lambda m, x: x.mul(3), lambda m, x: m.multiply(x, 2),
    lambda m, x: x.divide(2, rounding_mode="floor"), lambda m, x: m.div(x, 2),
    lambda m, x: x.true_divide(4), lambda m, x: m.sum(x, axis=0), lambda m, x: x.sum(dim=1),
    lambda m, x: m.mean(x, (0, 1), True), lambda m, x: m.clamp(x, 0.5), lambda m, x: x.view(4),
    lambda m, x: m.cat([x, x], dim=1), lambda m, x: m.stack(tensors=[x, x]),
    lambda m, x: m.matmul(x, x), lambda m, x: x.mm(x), lambda m, x: m.reshape(x, (4,)),
    lambda m, x: m.matmul(input=x, other=x), lambda m, x: m.matmul(x, other=x),
    lambda m, x: x.matmul(other=x)])
def test_calls_that_bind_still_run(call):
    x = [[1.0, 2.0], [3.0, 4.0]]
    assert call(tg, tg.tensor(x)).tolist() == call(torch, torch.tensor(x)).tolist()



def _grad_chain(m, f):
    """Names down the first edges from the create_graph gradient of sum(f(x)**2), and the
    second derivative's first row."""
    x = m.arange(12.0, dtype=m.float64).reshape(3, 4).sin().detach().requires_grad_()
    g, = m.autograd.grad((f(m, x) ** 2).sum(), x, create_graph=True)
    fn, chain = g.grad_fn, []
    while fn is not None and len(chain) < 2:
        chain.append((fn.name(), type(fn).__name__))
        fn = next((h for h, _ in fn.next_functions if h is not None), None)
    g2, = m.autograd.grad(g.sum(), x)
    return chain[0], chain[1][0], g2.tolist()


# the node of the gradient of an index-selecting op under create_graph: torch's backward
# function's own node (select_backward: SelectBackwardBackward0) or the op its formula ends in
@pytest.mark.parametrize("f", [
    lambda m, x: x[0], lambda m, x: x[1:3], lambda m, x: x[:, 1], lambda m, x: x[..., ::2],
    lambda m, x: x[-1], lambda m, x: x.select(1, 2), lambda m, x: x.narrow(1, 1, 2),
    lambda m, x: x.diagonal(), lambda m, x: x.diagonal(1), lambda m, x: x.diag(),
    lambda m, x: x.unfold(1, 2, 1), lambda m, x: x.gather(1, m.tensor([[0, 2], [1, 1], [3, 0]])),
    lambda m, x: x.index_select(0, m.tensor([2, 0])), lambda m, x: x[[0, 2]],
    lambda m, x: x[x > 0], lambda m, x: x.take(m.tensor([0, 5])),
    lambda m, x: x.masked_select(x > 0), lambda m, x: x.sort(1).values,
    lambda m, x: x.topk(2).values, lambda m, x: x.flip(0), lambda m, x: x.roll(1, 0)])
def test_create_graph_gradient_nodes_as_torch(f):
    assert _grad_chain(tg, f) == _grad_chain(torch, f)


def test_max_dim_gradient_node_as_torch():
    # torch's value-selecting backward scatters into zeros (then unsqueezes without keepdim)
    for f in (lambda m, x: x.max(1, keepdim=True).values, lambda m, x: x.kthvalue(2).values):
        assert _grad_chain(tg, f)[0] == _grad_chain(torch, f)[0]


# a None in an index with slices: torch unsqueezes as it meets it, so the new dim's stride
# is the size times the stride of the dim the index reaches next (numpy's is 0)
@pytest.mark.parametrize("key", [
    (None, slice(1, None)), (slice(1, None), None), (slice(None, None, 2), None, slice(None, None, 3)),
    (slice(1, None), Ellipsis, None), (None, slice(2, 4), None), (2, None, slice(1, None)),
    (None, slice(7, None)), (slice(None), None, slice(4, None)), (None, slice(4, None))])
@pytest.mark.parametrize("transposed", [False, True])
def test_none_in_a_sliced_index_strides_as_torch(key, transposed):
    def layout(m):
        x = m.arange(24.0).reshape(4, 6)
        t = (x.t() if transposed else x)[key]
        return tuple(t.shape), t.stride(), t.storage_offset(), t.is_contiguous(), t.tolist()
    assert layout(tg) == layout(torch)


def test_none_in_a_sliced_index_keeps_the_gradient():
    grads = []
    for m in (tg, torch):
        x = m.arange(24.0, dtype=m.float64).reshape(4, 6).requires_grad_()
        y = x.t()[None, 1:, None] * m.arange(20.0, dtype=m.float64).reshape(1, 5, 1, 4)
        (y ** 2).sum().backward()
        grads.append(x.grad.tolist())
    assert grads[0] == grads[1]


SQUEEZES = [
    lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(1), lambda x: x.unsqueeze(2),
    lambda x: x.unsqueeze(-1), lambda x: x[:, ::2].unsqueeze(2), lambda x: x.t().unsqueeze(2),
    lambda x: x[1:3, 1:5].unsqueeze(2), lambda x: x[:, :0].unsqueeze(1),
    lambda x: x[:0].unsqueeze(0), lambda x: x[:0, 1:].unsqueeze(0), lambda x: x[:, 6:].unsqueeze(2),
    lambda x: x[:0].unsqueeze(0).squeeze(0), lambda x: x[:, :0].unsqueeze(1).squeeze(1),
    lambda x: x[:0, 1:].unsqueeze(0).squeeze(), lambda x: x[:0, 1:].unsqueeze(0).squeeze((0,)),
    lambda x: x[:, ::2][:, None].squeeze(1), lambda x: x.t()[:, :0].squeeze(),
    lambda x: x[:0].unsqueeze(2).squeeze(-1),
]


@pytest.mark.parametrize("i", range(len(SQUEEZES)))
def test_unsqueeze_and_squeeze_strides_as_torch(i):
    """torch's strides: a new dim has the next dim's extent (1 past the last), and the kept
    dims keep theirs, empty tensors included (numpy's reshape places either its own way)."""
    ours, theirs = tg.arange(24.0).reshape(4, 6), torch.arange(24.0).reshape(4, 6)
    a, b = SQUEEZES[i](ours), SQUEEZES[i](theirs)
    assert _layout(a, ours) == _layout(b, theirs)
    assert a._is_view() and b._is_view()


def test_unsqueezed_strided_view_writes_through():
    for m in (tg, torch):
        x = m.arange(24.0).reshape(4, 6)
        u = x.t().unsqueeze(2)
        u.add_(1)
        assert x[0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] and x._version == u._version == 1
        w = m.arange(12.0, requires_grad=True)
        (w.reshape(3, 4).t().unsqueeze(2) * m.arange(3.0).view(1, 3, 1)).sum().backward()
        assert w.grad.tolist() == [0.0] * 4 + [1.0] * 4 + [2.0] * 4


# dot's second parameter is torch's `tensor`; the two-tensor functions (maximum, vdot, ...)
# name their missing parameters as torch's parser, from the first one missing
DOT_AND_TWO = [
    lambda m: m.dot(), lambda m: m.dot(m.ones(2)), lambda m: m.ones(2).dot(),
    lambda m: m.maximum(), lambda m: m.maximum(m.ones(2)), lambda m: m.maximum(other=m.ones(2)),
    lambda m: m.minimum(m.ones(2)), lambda m: m.vdot(m.ones(2)), lambda m: m.fmax(),
    lambda m: m.logaddexp(input=m.ones(2)),
]


@pytest.mark.parametrize("i", range(len(DOT_AND_TWO)))
def test_dot_and_two_tensor_missing_arguments_as_torch(i):
    assert_same_error(DOT_AND_TWO[i], torch)


def test_dot_takes_tensor_by_keyword():
    for m in (tg, torch):
        a = m.arange(3.0)
        assert m.dot(a, tensor=a).item() == a.dot(tensor=a).item() == 5.0
        assert m.maximum(input=a, other=-a).tolist() == [0.0, 1.0, 2.0]
