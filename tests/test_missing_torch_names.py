"""Names torch has that tapegrad lacked (found by comparing torch's namespaces): their
values, or torch's errors, or a clear NotImplementedError where tapegrad has no such thing
(complex dtypes, storages, sparse gradients)."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import error_of


def _same_error(call):
    torch = pytest.importorskip("torch")
    theirs = error_of(call, torch)
    assert theirs is not None
    assert error_of(call, tg) == theirs


# ---- nn.Module's class attributes --------------------------------------------------------
def test_module_class_flags_as_torch():
    torch = pytest.importorskip("torch")
    for m in (tg, torch):
        assert m.nn.Module.call_super_init is False and m.nn.Module.dump_patches is False
        assert m.nn.Linear(1, 1).call_super_init is False


def test_call_super_init_passes_arguments_to_a_mixin():
    class Mixin:
        def __init__(self, *args, **kwargs):
            self.seen = (args, kwargs)

    class Net(tg.nn.Module, Mixin):
        call_super_init = True

        def __init__(self):
            super().__init__(1, k=2)
    net = Net()
    assert net.seen == ((1,), {"k": 2}) and net.training


@pytest.mark.parametrize("call", [
    lambda m: m.nn.Module(1),
    lambda m: m.nn.Module(k=1),
    lambda m: m.nn.Module(1, k=1),   # (torch names the keyword first)
])
def test_module_init_arguments_refused_as_torch(call):
    _same_error(call)


# ---- conv_tbc ------------------------------------------------------------------------------
@pytest.mark.parametrize("pad", [0, 1, 2, -1])
def test_conv_tbc_values_and_gradients_as_torch(pad):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(pad + 5)
    arrays = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 3, 4)), \
        rng.standard_normal(4)
    outs = []
    for m in (torch, tg):
        x, w, b = (m.tensor(a, requires_grad=True) for a in arrays)
        y = m.nn.functional.conv_tbc(x, w, b, pad)
        y.backward(m.tensor(np.arange(y.numel(), dtype=float).reshape(tuple(y.shape))))
        outs.append([t.detach().numpy() for t in (y, x.grad, w.grad, b.grad)])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_conv_tbc_gradcheck():
    gen = tg.Generator().manual_seed(0)
    args = [tg.randn(*s, dtype=tg.float64, generator=gen, requires_grad=True)
            for s in ((4, 2, 3), (2, 3, 2), (2,))]
    assert tg.autograd.gradcheck(lambda *a: tg.conv_tbc(*a, pad=1), args)


def _v(m):
    return m.ones(3, 3, dtype=m.float64)


@pytest.mark.parametrize("call", [
    lambda m: m.conv_tbc(_v(m).view(3, 3, 1), _v(m).view(3, 1, 3)),
    lambda m: m.conv_tbc(_v(m).view(3, 3, 1), _v(m).view(3, 1, 3), _v(m)[0], 1.5),
    lambda m: m.conv_tbc(_v(m), _v(m).view(1, 3, 3), _v(m)[0]),
    lambda m: m.conv_tbc(_v(m).view(3, 1, 3), _v(m), _v(m)[0]),
    lambda m: m.conv_tbc(_v(m).view(3, 1, 3), _v(m).view(1, 3, 3), _v(m)[0, :2]),
    lambda m: m.conv_tbc(_v(m).view(3, 3, 1), _v(m).view(1, 3, 3), _v(m)[0]),
    lambda m: m.conv_tbc(_v(m), _v(m).view(1, 3, 3), 1),
    lambda m: m.conv_tbc(_v(m), _v(m).view(1, 3, 3), _v(m)[0], pad=1, foo=2),
])
def test_conv_tbc_errors_as_torch(call):
    _same_error(call)


# ---- complex results, storages, sparse gradients -----------------------------------------
@pytest.mark.parametrize("name", ["polar", "complex"])
def test_complex_constructors_refused_clearly(name):
    with pytest.raises(NotImplementedError, match="no complex dtype"):
        getattr(tg, name)(tg.ones(2), tg.ones(2))


def test_view_as_complex_refused_clearly():
    with pytest.raises(NotImplementedError, match="no complex dtype"):
        tg.view_as_complex(tg.ones(2, 2))


@pytest.mark.parametrize("call", [
    lambda m: m.view_as_real(m.ones(2)),
    lambda m: m.polar(1, m.ones(2)),
    lambda m: m.polar(m.ones(2), 1),
    lambda m: m.complex(m.ones(2), 1.0),
])
def test_complex_functions_argument_errors_as_torch(call):
    _same_error(call)


@pytest.mark.parametrize("name", ["untyped_storage", "storage"])
def test_storages_refused_clearly(name):
    with pytest.raises(NotImplementedError, match="no storage objects"):
        getattr(tg.ones(2), name)()


def _sparse_adam_step(m, with_grad):
    p = m.ones(2, requires_grad=True)
    if with_grad:
        (p * 2).sum().backward()
    return m.optim.SparseAdam([p]).step(lambda: 7.0)


def test_sparse_adam_refuses_dense_gradients_as_torch():
    _same_error(lambda m: _sparse_adam_step(m, True))
    torch = pytest.importorskip("torch")
    assert _sparse_adam_step(tg, False) == _sparse_adam_step(torch, False) == 7.0


@pytest.mark.parametrize("kwargs", [{"lr": 0}, {"eps": 0.0}, {"betas": (1.0, 0.9)},
                                    {"betas": (0.9, -0.1)}])
def test_sparse_adam_argument_checks_as_torch(kwargs):
    _same_error(lambda m: m.optim.SparseAdam([m.ones(2, requires_grad=True)], **kwargs))
