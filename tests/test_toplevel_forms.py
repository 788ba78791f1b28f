"""torch's top-level forms of nn.functional's functions (native signatures: torch.conv2d,
torch.max_pool2d's stride=[], torch.layer_norm's cudnn_enable, torch.embedding's weight
first and padding_idx=-1, ...), the module-level in-place functions (torch.sin_(x) & co),
Tensor.hardshrink / prelu and angle, against torch: values, gradients, grad_fn names and
errors."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.inplace_forms import NAMES as INPLACE_NAMES

torch = pytest.importorskip("torch")

R = np.random.default_rng(0)
X = R.normal(size=(2, 4, 6, 6))
W = R.normal(size=(3, 4, 3, 3))

CALLS = {
    "conv2d": lambda m, x: m.conv2d(x, m.tensor(W, dtype=x.dtype), None, 1, 1),
    "conv1d": lambda m, x: m.conv1d(x[:, :, 0], m.tensor(W[:, :, 0], dtype=x.dtype), stride=2),
    "conv_transpose2d": lambda m, x: m.conv_transpose2d(x, m.tensor(W, dtype=x.dtype).transpose(
        0, 1), stride=2),
    "pixel_shuffle": lambda m, x: m.pixel_shuffle(x, 2),
    "pixel_unshuffle": lambda m, x: m.pixel_unshuffle(x, 2),
    "channel_shuffle": lambda m, x: m.channel_shuffle(x, 2),
    "prelu": lambda m, x: m.prelu(x, m.tensor([0.2, 0.1, 0.3, 0.4], dtype=x.dtype)),
    "prelu_method": lambda m, x: x.prelu(m.tensor([0.2], dtype=x.dtype)),
    "hardshrink": lambda m, x: m.hardshrink(x, 0.3),
    "hardshrink_method": lambda m, x: x.hardshrink(),
    "bilinear": lambda m, x: m.bilinear(x[0, 0], x[1, 0], m.full((2, 6, 6), 0.1, dtype=x.dtype)),
    "max_pool2d": lambda m, x: m.max_pool2d(x, 2),
    "max_pool2d_stride": lambda m, x: m.max_pool2d(x, 3, [1], 1),
    "max_pool1d": lambda m, x: m.max_pool1d(x[0], 2),
    "max_pool3d": lambda m, x: m.max_pool3d(x[None], 2),
    "avg_pool1d": lambda m, x: m.avg_pool1d(x[0], 3, 2),
    "adaptive_avg_pool1d": lambda m, x: m.adaptive_avg_pool1d(x[0], 4),
    "layer_norm": lambda m, x: m.layer_norm(x, [6, 6], None, None, 1e-5, True),
    "group_norm": lambda m, x: m.group_norm(x, 2),
    "embedding": lambda m, x: m.embedding(x[0, 0, :5, :3], m.tensor([[0, 2], [4, 1]])),
    "embedding_pad": lambda m, x: m.embedding(x[0, 0, :5, :3], m.tensor([[0, 2], [4, 1]]), 2),
    "constant_pad_nd": lambda m, x: m.constant_pad_nd(x, [1, 2], 0.5),
    "angle": lambda m, x: m.angle(x) + x.angle(),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forms_as_torch(name, dtype):
    res = []
    for m in (torch, tg):
        x = m.tensor(X, dtype=getattr(m, dtype), requires_grad=True)
        y = CALLS[name](m, x)
        y.backward(m.ones(tuple(y.shape), dtype=y.dtype) * 0.5)
        res.append((y.detach().numpy(), x.grad.numpy(), type(y.grad_fn).__name__))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res[1][0], res[0][0], **tol)
    np.testing.assert_allclose(res[1][1], res[0][1], **tol)
    assert res[1][2] == res[0][2]


def test_angle_special_values_as_torch():
    vals = [-1.0, 0.0, -0.0, 2.0, math.inf, -math.inf, math.nan]
    for dtype in ("float32", "float64"):
        got = []
        for m in (torch, tg):
            x = m.tensor(vals, dtype=getattr(m, dtype), requires_grad=True)
            y = x.angle()
            y.sum().backward()
            got.append((y.tolist(), x.grad.tolist(), str(y.dtype).split(".")[-1]))
        assert str(got[0]) == str(got[1])
    for m in (torch, tg):
        assert m.angle(m.tensor([-1, 2])).tolist() == [np.float32(math.pi).item(), 0.0]


@pytest.mark.parametrize("name", INPLACE_NAMES)
def test_inplace_forms_as_torch(name):
    if name == "as_strided_":   # (no storage behind tapegrad's arrays: the method's refusal)
        with pytest.raises(NotImplementedError, match="as_strided_ is not implemented"):
            tg.as_strided_(tg.ones(3), (2,), (1,), 1)
        return
    args = {"clamp_": (-0.5, 0.4), "clamp_max_": (0.3,), "clamp_min_": (-0.2,),
            "clip_": (-0.5, 0.4), "fill_": (2.0,), "gcd_": None, "lcm_": None,
            "xlogy_": None, "logit_": (0.1,), "nan_to_num_": (0.0,)}.get(name, ())
    got = []
    for m in (torch, tg):
        if name in ("gcd_", "lcm_"):
            x = m.tensor([4, 6, 9])
            out = getattr(m, name)(x, m.tensor([6, 4, 3]))
        elif name == "resize_as_":
            x = m.tensor([0.25, 0.75, 0.5])
            out = getattr(m, name)(x, m.ones(2))
        elif name == "xlogy_":
            x = m.tensor([0.5, 2.0, 0.0])
            out = getattr(m, name)(x, m.tensor([2.0, 3.0, 0.5]))
        else:
            x = m.tensor([0.25, 0.75, 0.5])
            out = getattr(m, name)(x, *args)
        got.append((out is x, repr(np.round(x.detach().numpy().astype(np.float64), 5).tolist())))
    assert got[0] == got[1]


def test_top_level_errors_as_torch():
    calls = [lambda m: m.sin_([1.0]), lambda m: m.embedding(m.ones(3, 2)),
             lambda m: m.layer_norm(m.ones(2, 3), [3], None, None, 1e-5, True, 7)]
    for call in calls:
        got = []
        for m in (torch, tg):
            try:
                call(m)
                got.append(None)
            except Exception as e:   # noqa: BLE001  (the error is the behaviour compared)
                got.append(type(e).__name__)
        assert got[0] is not None and got[0] == got[1]


KEYWORD_CALLS = {
    "zeros_like": lambda m, x: m.zeros_like(input=x),
    "ones_like": lambda m, x: m.ones_like(input=x, dtype=m.float64),
    "empty_like": lambda m, x: m.empty_like(input=x).shape,
    "full_like": lambda m, x: m.full_like(input=x, fill_value=2.5),
    "rand_like": lambda m, x: m.rand_like(input=x),
    "randn_like": lambda m, x: m.randn_like(input=x),
    "randint_like": lambda m, x: m.randint_like(input=x, high=7),
    "mm": lambda m, x: m.mm(x, mat2=x.T),
    "mm_method": lambda m, x: x.mm(mat2=x.T),
    "bmm": lambda m, x: m.bmm(input=x[None], mat2=x[None]),
    "bmm_method": lambda m, x: x[None].bmm(mat2=x[None]),
    "max_other": lambda m, x: m.max(x, other=x.T * 2),
    "min_other": lambda m, x: m.min(input=x, other=x.T * 2),
    "max_other_method": lambda m, x: x.max(other=x.T * 2),
    "min_other_method": lambda m, x: x.min(other=x.T * 2),
    "zeros_size": lambda m, x: m.zeros(size=(2, 3)),
    "ones_size": lambda m, x: m.ones(size=[2], dtype=m.float64),
    "empty_size": lambda m, x: m.empty(size=m.Size([0, 2])),
    "zeros_size_0d": lambda m, x: m.zeros(size=()).reshape(1),
}


@pytest.mark.parametrize("name", sorted(KEYWORD_CALLS))
def test_keyword_names_as_torch(name):
    """torch's parser takes these arguments by their names (input=, other=, mat2=)."""
    got = []
    for m in (tg, torch):
        m.manual_seed(0)
        r = KEYWORD_CALLS[name](m, m.eye(2) * 2 + 1)
        got.append(r.tolist() if hasattr(r, "tolist") else list(r))
    assert got[0] == got[1]


@pytest.mark.parametrize("call", ["zeros(2, size=(2,))", "ones(size=(2,), sizes=3)",
                                  "empty(foo=1)"])
def test_factory_size_keyword_errors_as_torch(call):
    # zeros / ones / empty take size= (torch's `SymInt[] size`), not with a spread size nor
    # another keyword: Python's TypeErrors, as torch's parser words them
    got = []
    for m in (tg, torch):
        with pytest.raises(TypeError) as e:
            eval(f"m.{call}", {"m": m})
        got.append(str(e.value))
    assert got[0] == got[1]


def test_narrow_copy_scalar_tensor_is_same_size_as_torch():
    got = []
    for m in (torch, tg):
        x = m.arange(6.0).reshape(2, 3).requires_grad_()
        y = x.narrow_copy(1, 1, 2)
        z = m.narrow_copy(x, 0, 0, 1)
        (y.sum() + z.sum() * 2).backward()
        w = m.arange(3.0)
        c = w.narrow_copy(0, 0, 2)
        c[0] = 9.0                                   # a copy: w keeps its values
        errors = []
        for call in (lambda: m.scalar_tensor(m.ones(1)), lambda: x.narrow_copy(1, 2, 2)):
            try:
                call()
            except Exception as e:   # noqa: BLE001
                errors.append((type(e).__name__, str(e)))
        got.append((y.tolist(), type(y.grad_fn).__name__, type(z.grad_fn).__name__,
                    x.grad.tolist(), w.tolist(), m.is_same_size(x, m.ones(2, 3)),
                    m.is_same_size(x, m.ones(3, 2)),
                    [(t.item(), str(t.dtype).split(".")[-1], t.requires_grad) for t in (
                        m.scalar_tensor(3), m.scalar_tensor(3, dtype=m.int64),
                        m.scalar_tensor(True), m.scalar_tensor(2.5, requires_grad=True))],
                    errors))
    assert got[0] == got[1]


def test_top_level_forms_take_the_methods_keywords(torch_ref):
    # torch.reshape(x, shape=...) and torch.permute(x, dims=...) raised TypeError: the
    # top-level form called the method as it was before numpy_names gave it torch's keywords
    for src in ("M.reshape(x, shape=(3, 2))", "M.reshape(input=x, shape=[-1])",
                "M.permute(x, dims=(1, 0))", "M.flip(x, dims=(1,))", "M.sum(x, axis=1)",
                "M.mean(x, dim=0, keepdim=True)"):
        got = [eval(src, {"M": M, "x": M.arange(6.).reshape(2, 3)}) for M in (tg, torch_ref)]
        assert got[0].tolist() == got[1].tolist(), src


def test_max_min_other_by_keyword_errors_as_torch():
    """max/min's `other=` beside `dim`/`keepdim`: torch's parser's errors for the function
    and the method (other= by keyword was an unexpected keyword argument)."""
    got = []
    for m in (tg, torch):
        x, y = m.tensor([1.0, 5.0]), m.tensor([3.0, 2.0])
        for call in (lambda: m.max(x, other=y, dim=0), lambda: x.max(0, other=y),
                     lambda: x.min(other=y, keepdim=True)):
            with pytest.raises(TypeError) as e:
                call()
            got.append(str(e.value))
    assert got[:3] == got[3:]
