"""The lean paths of common n-d calls (benchmarks/compare_calls.py times them): a one-dim sum /
mean of a tensor that records nothing (ndops._reduce's one-dim fast path, also taken now
without a tape), and methods called with keywords through numpy_names' positional front
(x.sum(dim=1): the given positionals passed on without a generator's tuple).  Values, dtypes,
shapes and errors as torch's; the general path's results where the fast path does not apply."""
import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

R = np.random.default_rng(3)
DATA = R.standard_normal((5, 7, 3))


def _pair(dtype="float32", shape=(5, 7, 3)):
    data = DATA.reshape(-1)[:int(np.prod(shape))].reshape(shape).astype(dtype)
    return tg.tensor(data), torch.tensor(data)


def _same(ours, theirs, general=None):
    """ours as torch's result (float32 sums in another order: to rounding), and bit for bit
    as the general path's result `general` where given."""
    assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert not ours.requires_grad and ours.grad_fn is None and ours.is_leaf
    if general is not None:
        assert type(ours._v) is type(general._v)   # (a one-element float held as a number)
        np.testing.assert_array_equal(ours.numpy(), general.numpy())
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=2e-6, atol=1e-6)


# call -> (its form, the general path's form of it: a dims tuple, which the fast path
# leaves to the general steps; None: nothing to compare bit for bit)
CALLS = {
    "sum(0)": (lambda x: x.sum(0), lambda x: x.sum((0,))),
    "sum(-1)": (lambda x: x.sum(-1), lambda x: x.sum((-1,))),
    "sum(1, True)": (lambda x: x.sum(1, True), lambda x: x.sum((1,), True)),
    "mean(1)": (lambda x: x.mean(1), lambda x: x.mean((1,))),
    "mean(-3, keepdim)": (lambda x: x.mean(-3, keepdim=True),
                          lambda x: x.mean((-3,), keepdim=True)),
    "sum(dim=1)": (lambda x: x.sum(dim=1), lambda x: x.sum((1,))),
    "mean(dim=2)": (lambda x: x.mean(dim=2), lambda x: x.mean((2,))),
    "sum(1, keepdim=True)": (lambda x: x.sum(1, keepdim=True), lambda x: x.sum((1,), True)),
    "softmax(dim=-1)": (lambda x: x.softmax(dim=-1), lambda x: x.softmax(-1)),
    "transpose(dim0=0, dim1=2)": (lambda x: x.transpose(dim0=0, dim1=2),
                                  lambda x: x.transpose(0, 2)),
    "t-sum(0)": (lambda x: x.transpose(0, 1).sum(0), None),   # (not row-major: general)
}


@pytest.mark.parametrize("grad", ["grad mode", "no_grad"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("call", list(CALLS))
def test_one_dim_reductions_and_keyword_calls_as_torch(call, dtype, grad):
    ours, theirs = _pair(dtype)
    fast, general = CALLS[call]
    with tg.set_grad_enabled(grad == "grad mode"):
        got, want = fast(ours), general and general(ours)
    _same(got, fast(theirs), want)


def test_a_one_dim_reduction_of_a_parameter_that_needs_no_grad():
    p = tg.nn.Parameter(tg.tensor(DATA.astype("float32")), requires_grad=False)
    q = torch.nn.Parameter(torch.tensor(DATA.astype("float32")), requires_grad=False)
    _same(p.sum(1), q.sum(1), p.sum((1,)))
    _same(p.mean(0), q.mean(0), p.mean((0,)))


def test_one_element_results():
    ours, theirs = _pair(shape=(1, 1))
    got = ours.sum(0)
    assert type(got._v) is float   # (a one-element float result held as a number)
    _same(got, theirs.sum(0), ours.sum((0,)))
    _same(ours.mean(1, keepdim=True), theirs.mean(1, keepdim=True), ours.mean((1,), True))


def test_the_recorded_one_dim_path_is_unchanged():
    x = tg.tensor(DATA.astype("float32"), requires_grad=True)
    y = torch.tensor(DATA.astype("float32"), requires_grad=True)
    a, b = x.mean(1), y.mean(1)
    assert a.grad_fn.name() == b.grad_fn.name()
    (a * a).sum().backward()
    (b * b).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("call", [
    lambda m, x: x.sum(1, foo=2), lambda m, x: x.sum(dim=1, keepdim=1),
    lambda m, x: x.sum(1, 2, 3, 4), lambda m, x: x.sum(1, dim=2),
    lambda m, x: x.softmax(-1, dim=0), lambda m, x: x.mean(dim=5),
])
def test_keyword_calls_refused_as_torch(call):
    ours, theirs = _pair()
    with pytest.raises(Exception) as e_theirs:
        call(torch, theirs)
    with pytest.raises(type(e_theirs.value)) as e_ours:
        call(tg, ours)
    assert str(e_ours.value) == str(e_theirs.value)


VIEWS = {
    "x[0]": lambda x: x[0], "x[1:3]": lambda x: x[1:3], "x[:, 0]": lambda x: x[:, 0],
    "x[0, 1]": lambda x: x[0, 1], "x.t()": lambda x: x[0].t(),
    "x.view(-1)": lambda x: x.view(-1), "x.reshape(7, 15)": lambda x: x.reshape(7, 15),
    "x.flatten()": lambda x: x.flatten(), "x.unsqueeze(0)": lambda x: x.unsqueeze(0),
    "x.transpose(0, 2)": lambda x: x.transpose(0, 2),
}


@pytest.mark.parametrize("mode", ["grad mode", "no_grad", "inference_mode"])
@pytest.mark.parametrize("view", list(VIEWS))
def test_views_of_data_share_its_memory_and_version_as_torch(view, mode):
    ours, theirs = _pair()
    got = []
    for m, x in ((tg, ours), (torch, theirs)):
        ctx = m.inference_mode() if mode == "inference_mode" else \
            m.set_grad_enabled(mode == "grad mode")
        with ctx:
            v = VIEWS[view](x)
            v.add_(1.0)   # (through the view: the base sees it, one version counter)
            got.append((v._base is x, v._version, x._version, v.requires_grad, v.is_leaf,
                        v.storage_offset(), v.stride(), tuple(v.shape),
                        x.tolist(), v.is_inference()))
    assert got[0] == got[1]


@pytest.mark.parametrize("view", list(VIEWS))
def test_a_view_of_data_made_without_grad_refuses_as_torch_when_changed_in_grad_mode(view):
    got = []
    for m, x in zip((tg, torch), _pair()):
        leaf = m.ones(VIEWS[view](x).shape, requires_grad=True)
        with m.no_grad():
            v = VIEWS[view](x)
        try:   # (a view made without grad, changed in place by a recorded op)
            v.mul_(leaf)
            got.append((v.requires_grad, v.grad_fn is not None))
        except RuntimeError as e:
            got.append(str(e))
    assert got[0] == got[1]


@pytest.mark.parametrize("mode", ["grad mode", "no_grad", "leaf in no_grad", "leaf"])
@pytest.mark.parametrize("call", ["sum", "mean"])
def test_a_sum_of_every_element_as_torch(call, mode):
    got = []
    for m, x in zip((tg, torch), _pair()):
        if mode.startswith("leaf"):
            x.requires_grad_()
        with m.set_grad_enabled(not mode.endswith("no_grad")):
            r = getattr(x, call)()
        got.append((r.dtype.is_floating_point, tuple(r.shape), r.requires_grad, r.is_leaf,
                    r.grad_fn is None, round(r.item(), 4)))
    assert got[0] == got[1]
    ours = getattr(_pair()[0], call)()
    assert type(ours._v) is float   # (a 0-d float held as a number, as Tensor._wrap holds it)


def test_mm_refuses_as_torch():
    for args in [((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (4, 2))]:
        errs = []
        for m in (tg, torch):
            try:
                m.mm(m.ones(*args[0]), m.ones(*args[1]))
            except RuntimeError as e:
                errs.append(str(e))
        assert len(errs) == 2 and errs[0] == errs[1]


@pytest.mark.parametrize("view", list(VIEWS))
def test_views_of_a_leaf_on_the_open_tape_as_torch(view):
    """The second view of a leaf (entered on the open tape by the first: the one-frame path)
    records as the first does: grad_fn, base, versions, gradients, in-place refusals."""
    got = []
    for m, x in zip((tg, torch), _pair("float64")):
        x.requires_grad_()
        first, second = VIEWS[view](x), VIEWS[view](x)
        loss = (first * 2.0).sum() + (second * second).sum()
        loss.backward()
        try:
            VIEWS[view](x).add_(1.0)
            refused = None
        except RuntimeError as e:
            refused = str(e)
        got.append((type(second.grad_fn).__name__ if m is torch else second.grad_fn.name(),
                    second._base is x, second.is_leaf, second.requires_grad, x._version,
                    tuple(second.shape), second.stride(), np.round(x.grad.numpy(), 12).tolist(),
                    refused))
    assert got[0] == got[1]

