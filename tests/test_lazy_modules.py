"""Lazy modules and their placeholders against torch 2.13: every Lazy* layer's repr before
and after its first call, the class it becomes, its weights after the same manual_seed (equal
to torch's), outputs, state dicts; UninitializedParameter / UninitializedBuffer (repr, size,
materialize, the errors of using one), load_state_dict into a lazy module, dtype moves and
deepcopy before the first call."""
import copy

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

# (class, constructor arguments, input shape)
LAZY = [
    ("LazyLinear", (3,), {}, (2, 5)),
    ("LazyLinear", (4,), {"bias": False}, (2, 3, 6)),
    ("LazyConv1d", (4, 3), {"padding": 1}, (2, 3, 7)),
    ("LazyConv1d", (4, 3), {"groups": 2, "padding_mode": "circular", "padding": 1}, (4, 7)),
    ("LazyConv2d", (4, 3), {"stride": 2, "bias": False}, (2, 3, 6, 6)),
    ("LazyConv3d", (2, 2), {}, (1, 2, 4, 4, 4)),
    ("LazyConvTranspose1d", (4, 2), {"stride": 2}, (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), {"groups": 2, "output_padding": 1, "stride": 2},
     (2, 4, 3, 3)),
    ("LazyConvTranspose3d", (2, 2), {"bias": False}, (3, 3, 3, 3)),
    ("LazyBatchNorm1d", (), {}, (4, 3)),
    ("LazyBatchNorm1d", (), {"affine": False, "momentum": None}, (4, 3, 5)),
    ("LazyBatchNorm2d", (), {"track_running_stats": False}, (2, 3, 4, 4)),
    ("LazyBatchNorm3d", (), {"bias": False}, (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 5)),
    ("LazyInstanceNorm2d", (), {"affine": False}, (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), {"track_running_stats": False}, (2, 3, 2, 2, 2)),
]


def _first_call(mod, name, args, kw, shape, dt="float32"):
    mod.manual_seed(0)
    m = getattr(mod.nn, name)(*args, **kw)
    before = (repr(m), m.has_uninitialized_params(),
              [type(t).__name__ for t in m.state_dict().values()], len(list(m.parameters())))
    if dt == "float64":
        m.double()
    x = mod.tensor(np.random.default_rng(1).standard_normal(shape).astype(dt))
    y = m(x)
    return m, before, y


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("name,args,kw,shape", LAZY,
                         ids=[f"{c}-{i}" for i, (c, *_) in enumerate(LAZY)])
def test_lazy_module_matches_torch(name, args, kw, shape, dt):
    m, before, y = _first_call(tg, name, args, kw, shape, dt)
    tm, tbefore, ty = _first_call(torch, name, args, kw, shape, dt)
    assert before == tbefore
    assert type(m).__name__ == type(tm).__name__ == name[4:]
    assert type(m) is getattr(tg.nn, name[4:])
    assert repr(m) == repr(tm)
    assert not m.has_uninitialized_params() if hasattr(m, "has_uninitialized_params") else True
    assert list(m.state_dict()) == list(tm.state_dict())
    tol = 1e-5 if dt == "float32" else 1e-12
    for (k, a), b in zip(m.state_dict().items(), tm.state_dict().values()):
        assert a.dtype.name == str(b.dtype).split(".")[1], k
        assert tuple(a.shape) == tuple(b.shape), k
        if k in m._parameters:      # the same draws
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
        else:                       # running statistics of the first batch
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tol, atol=tol, err_msg=k)
    assert all(type(p) is tg.nn.Parameter for p in m.parameters())
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    # the hooks are gone: later calls are the concrete module's
    assert not m._forward_pre_hooks and not m._load_state_dict_pre_hooks
    assert not hasattr(m, "_initialize_hook")


def test_uninitialized_placeholders():
    for mod in (tg, torch):
        p, b = mod.nn.UninitializedParameter(), mod.nn.UninitializedBuffer(dtype=mod.float64)
        assert (repr(p), repr(b), str(p)) == ("<UninitializedParameter>", "<UninitializedBuffer>",
                                              "<UninitializedParameter>")
        assert p.requires_grad and not b.requires_grad
        assert not mod.nn.UninitializedParameter(requires_grad=False).requires_grad
        assert list(p.size()) == [0] and p.dtype == mod.float32 and b.dtype == mod.float64
        assert isinstance(p, mod.nn.Parameter) and not isinstance(b, mod.nn.Parameter)
        assert mod.nn.parameter.is_lazy(p) and mod.nn.parameter.is_lazy(b)
        assert not mod.nn.parameter.is_lazy(mod.nn.Parameter(mod.ones(1)))
        with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized "
                                               "parameter or buffer"):
            p.shape
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter in "):
            p * 2
        with pytest.raises(ValueError, match="`torch.nn.parameter.UninitializedBuffer` objects"):
            b.sum()
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter in "):
            mod.nn.functional.linear(mod.ones(2, 3), p)
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter in "):
            mod.nn.functional.conv1d(mod.ones(1, 1, 3), p)
        with pytest.raises(RuntimeError, match="Can't share memory on an uninitialized"):
            p.share_memory_()
        p.materialize((2, 3))
        b.materialize((4,), dtype=mod.float32)
        assert type(p) is mod.nn.Parameter and type(b) is mod.Tensor
        assert tuple(p.shape) == (2, 3) and p.requires_grad and p.dtype == mod.float32
        assert tuple(b.shape) == (4,) and b.dtype == mod.float32
        (p * 2).sum().backward()
        assert p.grad.shape == p.shape


def test_state_dict_and_load_before_the_first_call():
    for mod in (tg, torch):
        mod.manual_seed(3)
        src = mod.nn.Sequential(mod.nn.Linear(4, 3), mod.nn.BatchNorm1d(3))
        lazy = mod.nn.Sequential(mod.nn.LazyLinear(3), mod.nn.LazyBatchNorm1d())
        sd = lazy.state_dict()
        assert [type(v).__name__ for v in sd.values()] == [
            "UninitializedParameter", "UninitializedParameter", "UninitializedParameter",
            "UninitializedParameter", "UninitializedBuffer", "UninitializedBuffer", "Tensor"]
        assert repr(lazy.load_state_dict(src.state_dict())) == "<All keys matched successfully>"
        # materialized by the load, still lazy modules until their first call
        assert [type(m).__name__ for m in lazy] == ["LazyLinear", "LazyBatchNorm1d"]
        assert not lazy[0].has_uninitialized_params()
        for a, b in zip(lazy.state_dict().values(), src.state_dict().values()):
            assert (a == b).all()
        y = lazy(mod.ones(2, 4))
        assert [type(m).__name__ for m in lazy] == ["Linear", "BatchNorm1d"]
        assert lazy[0].in_features == 4
        assert tuple(y.shape) == (2, 3)
        # an uninitialized value loaded into an initialized module: torch's shape error
        with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
            src.load_state_dict(mod.nn.Sequential(mod.nn.LazyLinear(3),
                                                  mod.nn.LazyBatchNorm1d()).state_dict())


def test_dtype_moves_deepcopy_and_optimizer_before_the_first_call():
    out = []
    for mod in (tg, torch):
        mod.manual_seed(5)
        m = mod.nn.Sequential(mod.nn.LazyConv1d(2, 2), mod.nn.LazyBatchNorm1d()).double()
        twin = copy.deepcopy(m[0])
        assert twin.has_uninitialized_params() and twin.weight is not m[0].weight
        assert twin.weight.dtype == mod.float64
        # (torch's UninitializedBuffer has no deepcopy: the tensor op refuses it)
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
            copy.deepcopy(m[1])
        opt = mod.optim.SGD(m.parameters(), lr=0.1)
        assert len(opt.param_groups[0]["params"]) == 4
        x = mod.tensor(np.linspace(-1, 1, 18).reshape(2, 3, 3))
        m(x).sum().backward()
        opt.step()
        assert m[0].weight.dtype == mod.float64 and m[1].running_mean.dtype == mod.float64
        assert m[1].num_batches_tracked.dtype == mod.int64
        out.append([t.detach().numpy().copy() for t in m.state_dict().values()])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_lazy_errors_match_torch():
    cases = [("LazyConv2d", (4, 3), {}, (3, 3)),
             ("LazyConv2d", (4, 3), {"groups": 2}, (1, 3, 5, 5)),
             ("LazyConvTranspose1d", (4, 3), {}, (1, 2, 3, 4)),
             ("LazyBatchNorm2d", (), {}, (2, 3, 4)),
             ("LazyInstanceNorm1d", (), {}, (2, 3, 4, 5))]
    for name, args, kw, shape in cases:
        got = []
        for mod in (tg, torch):
            m = getattr(mod.nn, name)(*args, **kw)
            with pytest.raises(Exception) as e:
                m(mod.ones(*shape))
            got.append((type(e.value).__name__,
                        str(e.value).replace("tapegrad.Size", "torch.Size")))
        assert got[0] == got[1], name


def test_names_exported():
    names = [n for n in torch.nn.modules.__all__ if n.startswith("Lazy")]
    assert len(names) == 13
    for n in names + ["UninitializedParameter", "UninitializedBuffer"]:
        assert hasattr(tg.nn, n), n
    assert set(names) <= set(tg.nn.modules.__all__)
