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


# ---- torch.optim.optimizer's helpers, imported by optimizers written as torch's ----------
def _lion_like(mod):
    """A custom optimizer written as torch's own are (their helpers imported from
    torch.optim.optimizer, a single-tensor step), run for a few steps; with the helpers'
    answers."""
    import importlib
    O = importlib.import_module(mod.__name__ + ".optim.optimizer")

    class Lion(O.Optimizer):
        __doc__ = "Lion.\n    " + "\n    ".join([O._params_doc, O._maximize_doc, O._foreach_doc,
                                                O._capturable_doc, O._differentiable_doc,
                                                O._fused_doc])

        def __init__(self, params: O.ParamsT, lr=1e-2, betas=(0.9, 0.99), weight_decay=0.0,
                     maximize=False, foreach=None, differentiable=False):
            super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay,
                                          maximize=maximize, foreach=foreach,
                                          differentiable=differentiable))

        @O._use_grad_for_differentiable
        def step(self, closure=None):
            self._cuda_graph_capture_health_check()
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                _, foreach = O._default_to_fused_or_foreach(params, group["differentiable"])
                assert not foreach
                grads = [p.grad for p in params]
                for p in params:
                    st = self.state[p]
                    if not st:
                        st["step"] = mod.tensor(0.0, dtype=O._get_scalar_dtype())
                        st["exp_avg"] = mod.zeros_like(p)
                exp_avgs = [self.state[p]["exp_avg"] for p in params]
                O._view_as_real(params, grads, exp_avgs)
                b1, b2 = group["betas"]
                lr = O._to_scalar(group["lr"])
                for p, g, m in zip(params, grads, exp_avgs):
                    st = self.state[p]
                    st["step"] += 1
                    g = -g if group["maximize"] else g
                    p.mul_(1 - lr * group["weight_decay"] / O._get_value(st["step"]))
                    update = m.mul(b1).add(g, alpha=1 - b1).sign()
                    p.add_(update, alpha=-lr)
                    m.mul_(b2).add_(g, alpha=1 - b2)
            return None

    import warnings
    w = mod.nn.Parameter(mod.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=mod.float64))
    opt = Lion([w], lr=mod.tensor([0.05], dtype=mod.float64), weight_decay=0.1)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(4):
            opt.zero_grad()
            ((w - 0.25) ** 2).sum().backward()
            opt.step()
    grouped = O.Optimizer._group_tensors_by_device_and_dtype(
        [[w, mod.ones(2), w.double()], [None, mod.zeros(2), w]], with_indices=True)
    try:
        O._device_dtype_check_for_fused(mod.ones(2, dtype=mod.int64), cuda_unsupported=True)
    except RuntimeError as e:
        fused_error = str(e).replace(mod.__name__, "torch")
    return ([(x.category, str(x.message), x.lineno) for x in seen],
            w.tolist(), opt.state[w]["step"].item(), str(opt.state[w]["step"].dtype)[-7:],
            Lion.__doc__, fused_error,
            O._default_to_fused_or_foreach([w, None], False, use_fused=True),
            O._default_to_fused_or_foreach([mod.ones(2, dtype=mod.int64)], False, True),
            O._default_to_fused_or_foreach([w], True, True), O._get_value(2),
            O._get_capturable_supported_devices(False), O._stack_if_compiling([1, 2]),
            sorted((str(k[1]).split(".")[-1], [len(x) for x in v[0]], v[1])
                   for k, v in grouped.items()))


def test_optimizer_helpers_of_torch_optimizers_as_torch():
    torch = pytest.importorskip("torch")
    assert _lion_like(tg) == _lion_like(torch)


# ---- nn.utils.convert_conv2d/3d_weight_memory_format --------------------------------------
def _converted(mod):
    mod.manual_seed(0)
    net = mod.nn.Sequential(mod.nn.Conv2d(2, 3, 3), mod.nn.Sequential(
        mod.nn.ConvTranspose2d(3, 2, 2), mod.nn.Conv3d(1, 1, 1)), mod.nn.Linear(2, 2))
    before = [p for p in net.parameters()]
    values = [p.tolist() for p in before]
    out = []
    for fn, fmt in (("2d", "channels_last"), ("3d", "channels_last_3d"),
                    ("2d", "contiguous_format"), ("2d", "preserve_format"),
                    ("2d", "channels_last_3d"), ("3d", "channels_last")):
        convert = getattr(mod.nn.utils, f"convert_conv{fn}_weight_memory_format")
        try:
            out.append(convert(net, getattr(mod, fmt)) is net)
        except RuntimeError as e:
            out.append(str(e))
    same = [p is q for p, q in zip(before, net.parameters())]
    return (out, same, [p.tolist() for p in net.parameters()] == values,
            [type(p).__name__ for p in net.parameters()],
            [p.requires_grad for p in net.parameters()])


def test_convert_conv_weight_memory_format_as_torch():
    torch = pytest.importorskip("torch")
    assert _converted(tg) == _converted(torch)
    assert tg.nn.utils.memory_format.convert_conv2d_weight_memory_format is \
        tg.nn.utils.convert_conv2d_weight_memory_format


def test_functional_sparse_adam_refuses_dense_gradients_as_torch():
    torch = pytest.importorskip("torch")
    import importlib

    def outcome(m, n):
        F = importlib.import_module(m.__name__ + ".optim._functional")
        ws = [m.ones(2) for _ in range(n)]
        return error_of(lambda m: F.sparse_adam(ws, [m.ones(2)] * n, [m.zeros(2)] * n,
                                                [m.zeros(2)] * n, [1] * n, eps=1e-8, beta1=0.9,
                                                beta2=0.99, lr=0.1, maximize=True), m)
    assert [outcome(tg, n) for n in (0, 2)] == [outcome(torch, n) for n in (0, 2)]
