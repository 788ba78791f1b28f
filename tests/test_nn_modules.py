"""tapegrad.nn's Module machinery, layers, init, clip_grad_norm_ and func.functional_call
against torch.nn: reprs, state_dicts, parameter traversal, hooks, conversions, the layers'
values and gradients with the same weights (float64 and float32), and an end-to-end program
in the spirit of the official nn tutorial that must print what torch prints."""
import contextlib
import copy
import io
import math
import pickle
import re

import numpy as np
import pytest

import tapegrad
import tapegrad.nn as tnn

from replay_check import assert_replays_as_eager

torch = pytest.importorskip("torch")
import torch.func  # noqa: E402,F401


def _norm(text):
    return re.sub(r"0x[0-9a-f]+", "0xADDR", text.replace("torch.", "tapegrad."))


def _run(src, M):
    """exec `src` with M as torch; stdout and 'Type: message' lines for errors."""
    buf = io.StringIO()
    env = {"torch": M, "nn": M.nn, "F": M.nn.functional, "math": math, "np": np}
    with contextlib.redirect_stdout(buf):
        for block in src.strip().split("\n\n"):
            try:
                exec(block, env)
            except Exception as e:  # noqa: BLE001  (compared with torch's)
                print(f"{type(e).__name__}: {e}")
    return _norm(buf.getvalue())


REPRS = """
for m in [nn.Linear(2, 3), nn.Linear(2, 3, bias=False), nn.Bilinear(2, 3, 4), nn.ReLU(), nn.ReLU(True), nn.GELU(),
          nn.GELU('tanh'), nn.SiLU(), nn.Softmax(1), nn.Softmax(), nn.LogSoftmax(dim=0), nn.Flatten(),
          nn.Flatten(0, 1), nn.Dropout(), nn.Dropout(0.1), nn.Embedding(10, 3), nn.Embedding(10, 3, padding_idx=0),
          nn.LayerNorm(4), nn.LayerNorm((2, 3), elementwise_affine=False), nn.MSELoss(), nn.CrossEntropyLoss(),
          nn.BCEWithLogitsLoss(), nn.L1Loss(reduction='sum'), nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(),
          nn.LeakyReLU(0.2), nn.ELU(), nn.Softplus(), nn.Identity(), nn.NLLLoss(), nn.BCELoss(), nn.SmoothL1Loss(),
          nn.HuberLoss(), nn.KLDivLoss()]:
    print(m)

m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 1)))
print(m)
print(nn.ModuleList([nn.ReLU(), nn.Tanh()]))
print(nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()]))
print(nn.ModuleList(), nn.Sequential())
print(nn.ModuleDict({'a': nn.ReLU(), 'b': nn.Sequential(nn.Tanh())}))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.Tanh()
        self.heads = nn.ModuleList([nn.Linear(3, 2), nn.Linear(3, 1)])
        self.register_buffer('steps', torch.zeros(1))
        self.register_buffer('scratch', torch.zeros(2), persistent=False)
        self.scale = nn.Parameter(torch.ones(1))
    def forward(self, x):
        h = self.act(self.fc1(x)) * self.scale
        return self.heads[0](h).sum(1) + self.heads[1](h).sum(1)
net = Net()
print(net)
print([(n, tuple(p.shape)) for n, p in net.named_parameters()])
print([(n, tuple(b.shape)) for n, b in net.named_buffers()])
print(list(net.state_dict().keys()))
print([n for n, _ in net.named_modules()], [type(c).__name__ for c in net.children()])
print(len(list(net.parameters())), len(list(net.modules())), len(list(net.parameters(recurse=False))))
print(net.training, net.eval() is net, net.training, net.heads[1].training, net.train().heads[0].training)
print(type(net.state_dict()).__name__, net.state_dict()['steps'], net.get_submodule('heads.1'))
print(net.load_state_dict(net.state_dict()))

sd = net.state_dict(); del sd['fc1.bias']; sd['x'] = torch.ones(1)
net.load_state_dict(sd)

print(net.load_state_dict(sd, strict=False))

sd = net.state_dict(); sd['fc1.bias'] = torch.ones(5)
net.load_state_dict(sd)

net.foo

net.fc1.weight = torch.ones(3, 4)

net.register_buffer('steps', 3)

nn.Module().forward(1)

print(isinstance(net.fc1.weight, torch.Tensor), isinstance(net.fc1.weight, nn.Parameter), nn.Parameter(torch.ones(2)))
print(nn.Parameter(torch.tensor([1, 2]), requires_grad=False), type(nn.Parameter(torch.ones(2)) * 2).__name__)

nn.Parameter(torch.tensor([1, 2]))

net.fc1.bias = None
print(net.fc1.bias, [n for n, _ in net.named_parameters()])
del net.act
print([n for n, _ in net.named_children()])
s = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3))
print(s[0:2], len(s), s[-1], type(s[1:]).__name__)
s.append(nn.Tanh()); print(len(s), s[3])
del s[0]; print(s)
print(nn.Linear(2, 3).to(torch.float64).weight.dtype, nn.Linear(2, 3).double().bias.dtype, nn.Linear(2, 3, dtype=torch.float64).weight.dtype)
l = nn.Linear(2, 3); w = l.weight; l.to(torch.float64); print(l.weight is w, w.dtype)

nn.Linear(2, 2).to(torch.int64)

nn.Linear(2, 2).cuda()
"""


def test_module_machinery_as_torch():
    assert _run(REPRS, tapegrad) == _run(REPRS, torch)


HOOKS = """
lin = nn.Linear(2, 2)
seen = []
h1 = lin.register_forward_hook(lambda m, args, out: seen.append(('fwd', type(m).__name__, len(args), tuple(out.shape))))
h2 = lin.register_forward_pre_hook(lambda m, args: seen.append(('pre', tuple(args[0].shape))))
h3 = lin.register_forward_hook(lambda m, args, out: out * 0)
x = torch.ones(3, 2)
print(lin(x).abs().sum().item(), seen)
h3.remove(); h1.remove()
print(lin(x).shape, len(seen))
h4 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
print(torch.allclose(lin(x), lin.bias.expand(3, 2)))
h4.remove(); h2.remove()
with lin.register_forward_hook(lambda m, a, kw, out: out + kw['bump'], with_kwargs=True):
    pass
# hooks on a Sequential's children run (Sequential calls a hook-free child's forward itself)
seq = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Sequential(nn.ReLU()))
hs = [seq[1].register_forward_hook(lambda m, args, out: out + 1),
      seq[0].register_forward_pre_hook(lambda m, args: (args[0] * 2,)),
      seq[2][0].register_forward_hook(lambda m, args, out: seen.append(('inner', tuple(out.shape))))]
print(torch.allclose(seq(x), torch.relu(torch.tanh(seq[0].forward(x * 2)) + 1)), seen[-1])
for h in hs:
    h.remove()
print(torch.allclose(seq(x), torch.relu(torch.tanh(seq[0](x)))), len(seen))
class Doubled(nn.Module):   # a child that overrides __call__ itself
    def __call__(self, *args, **kwargs):
        return 2 * super().__call__(*args, **kwargs)
    def forward(self, x, scale=1.0, shift=0.0):
        return x * scale + shift
print(torch.allclose(nn.Sequential(Doubled(), Doubled())(x), 4 * x))
print(torch.allclose(Doubled()(x, 3.0), 6 * x), torch.allclose(Doubled()(x, shift=1.0), 2 * x + 2))
print(torch.allclose(Doubled()(x, 3.0, 1.0), 6 * x + 2), nn.MSELoss()(x, x * 0).item())
names = []
m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
print(m.apply(lambda mod: names.append(type(mod).__name__)) is m, names)
"""


def test_hooks_and_apply_as_torch():
    assert _run(HOOKS, tapegrad) == _run(HOOKS, torch)


def _copy_weights(tmod, pmod):
    """Load torch module pmod's parameters and buffers into tapegrad module tmod."""
    sd = {k: tapegrad.tensor(v.detach().numpy()) for k, v in pmod.state_dict().items()}
    tmod.load_state_dict(sd)


LAYERS = {
    "linear": (lambda nn: nn.Linear(4, 3), lambda M: [M.randn(5, 4)]),
    "linear_nobias": (lambda nn: nn.Linear(4, 3, bias=False), lambda M: [M.randn(2, 5, 4)]),
    "bilinear": (lambda nn: nn.Bilinear(4, 3, 2), lambda M: [M.randn(5, 4), M.randn(5, 3)]),
    "embedding": (lambda nn: nn.Embedding(6, 3, padding_idx=2),
                  lambda M: [M.tensor([[0, 2, 5], [2, 2, 1]])]),
    "embedding_freq": (lambda nn: nn.Embedding(6, 3, scale_grad_by_freq=True),
                       lambda M: [M.tensor([[0, 5, 5], [5, 2, 0]])]),
    "layer_norm": (lambda nn: nn.LayerNorm(4), lambda M: [M.randn(3, 4) * 3]),
    "mlp": (lambda nn: nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.GELU(), nn.Linear(5, 4),
                                     nn.SiLU(), nn.Dropout(0.5), nn.Linear(4, 3),
                                     nn.Softmax(dim=1)),
            lambda M: [M.randn(2, 2, 3)]),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers_match_torch_with_the_same_weights(name, dtype):
    make, inputs = LAYERS[name]
    torch.manual_seed(0)
    pm = make(torch.nn).to(getattr(torch, dtype)).eval()
    tm = make(tnn).to(getattr(tapegrad, dtype)).eval()
    _copy_weights(tm, pm)
    ins = [x.to(getattr(torch, dtype)) if x.is_floating_point() else x
           for x in inputs(torch)]
    tins = [tapegrad.tensor(x.numpy()) for x in ins]
    po, to = pm(*ins), tm(*tins)
    assert type(to.grad_fn).__name__ == type(po.grad_fn).__name__
    g = np.linspace(-1, 2, po.numel()).reshape(tuple(po.shape))
    po.backward(torch.tensor(g, dtype=po.dtype))
    to.backward(tapegrad.tensor(g, dtype=to.dtype))
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to.detach().numpy(), po.detach().numpy(), **tol)
    tp = dict(tm.named_parameters())
    for n, p in pm.named_parameters():
        np.testing.assert_allclose(tp[n].grad.numpy(), p.grad.numpy(), **tol)


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "CrossEntropyLoss", "BCEWithLogitsLoss",
                                  "NLLLoss", "BCELoss", "SmoothL1Loss", "HuberLoss",
                                  "KLDivLoss"])
def test_loss_modules_match_torch(name):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3))
    kw, t = {}, rng.random((4, 3))
    if name in ("CrossEntropyLoss", "NLLLoss"):
        t, kw = np.array([0, 2, 1, 2]), {"weight": np.array([1.0, 0.5, 2.0])}
    if name == "BCEWithLogitsLoss":
        kw = {"pos_weight": np.array([1.0, 3.0, 0.5])}
    if name == "BCELoss":
        x = 1 / (1 + np.exp(-x))
    if name == "KLDivLoss":
        kw = {"reduction": "batchmean"}
    res = []
    for M in (tapegrad, torch):
        kwm = {k: M.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        loss_fn = getattr(M.nn, name)(**kwm)
        xi = M.tensor(x, requires_grad=True)
        out = loss_fn(xi, M.tensor(t))
        out.backward()
        res.append((out.item(), xi.grad.numpy(), type(out.grad_fn).__name__, repr(loss_fn),
                    sorted(loss_fn.state_dict())))
    assert res[0][2:] == res[1][2:]
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-10)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-10, atol=1e-14)


def test_linear_default_init_is_torchs_distribution():
    tapegrad.manual_seed(0)
    lin = tnn.Linear(400, 300)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    bound = 1 / math.sqrt(400)      # kaiming_uniform_(a=sqrt(5)): gain sqrt(1/3), sqrt(3/fan)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(b).max() <= bound and abs(b.mean()) < 0.15 * bound
    assert lin.weight.dtype is tapegrad.float32 and lin.weight.requires_grad


def test_init_functions():
    init = tnn.init
    g = tapegrad.Generator().manual_seed(3)
    t = tapegrad.empty(300, 200)
    fan_in, fan_out = 200, 300
    cases = [
        (lambda: init.uniform_(t, -2, 3, generator=g), -2, 3, None),
        (lambda: init.normal_(t, 1.0, 0.5), None, None, 0.5),
        (lambda: init.xavier_uniform_(t, gain=2.0), None, None,
         2.0 * math.sqrt(2 / (fan_in + fan_out))),
        (lambda: init.xavier_normal_(t), None, None, math.sqrt(2 / (fan_in + fan_out))),
        (lambda: init.kaiming_uniform_(t, nonlinearity="relu"), None, None,
         math.sqrt(2 / fan_in)),
        (lambda: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), None, None,
         math.sqrt(2 / fan_out)),
        (lambda: init.trunc_normal_(t, std=2.0, a=-1.0, b=1.0), -1.0, 1.0, None),
    ]
    for fill, lo, hi, std in cases:
        assert fill() is t
        v = t.numpy()
        if lo is not None:
            assert v.min() >= lo and v.max() <= hi
        if std is not None:
            assert abs(v.std() - std) < 0.03 * std
    assert np.all(init.zeros_(t).numpy() == 0) and np.all(init.ones_(t).numpy() == 1)
    assert np.all(init.constant_(t, 0.25).numpy() == 0.25)
    o = init.orthogonal_(tapegrad.empty(3, 5, dtype=tapegrad.float64))
    np.testing.assert_allclose(o.numpy() @ o.numpy().T, np.eye(3), atol=1e-12)
    assert init.eye_(tapegrad.empty(2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]
    for name, param in (("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", 0.2),
                        ("selu", None), ("sigmoid", None)):
        assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)
    p = tnn.Parameter(tapegrad.ones(2, 2))
    init.normal_(p)      # in place on a leaf that requires grad: no graph, still a leaf
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(tapegrad.empty(3))


@pytest.mark.parametrize("cls", ["Embedding", "EmbeddingBag"])
def test_embedding_from_pretrained_needs_a_matrix(cls):
    errs = []
    for M in (tapegrad, torch):
        with pytest.raises(AssertionError) as e:
            getattr(M.nn, cls).from_pretrained(M.ones(3))
        errs.append(str(e.value))
    assert errs[0] == errs[1] == "Embeddings parameter is expected to be 2-dimensional"


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_init_checks_and_warnings_as_torch(name):
    """torch computes the fan before the gain (a 1-d tensor with an unknown nonlinearity
    blames the dimensions) and warns that a zero-element tensor is left as it is."""
    got = []
    for M in (tapegrad, torch):
        init = getattr(M.nn.init, name)
        with pytest.raises(ValueError) as e:
            init(M.ones(3), nonlinearity="foo")
        with pytest.warns(UserWarning) as w:
            empty = M.ones(0, 3)
            assert init(empty) is empty
        got.append((str(e.value), [str(x.message) for x in w]))
    assert got[0] == got[1]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_as_torch(norm_type):
    res = []
    for M in (tapegrad, torch):
        a = M.tensor([[3.0, -4.0], [1.0, 2.0]], requires_grad=True)
        b = M.tensor([0.5, -12.0], requires_grad=True)
        c = M.tensor([1.0], requires_grad=True)      # no grad: skipped
        (a * M.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
        (b * b).sum().backward()
        total = M.nn.utils.clip_grad_norm_([a, b, c], max_norm=5.0, norm_type=norm_type)
        res.append((total.item(), a.grad.numpy().copy(), b.grad.numpy().copy(), str(total.dtype)))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-6)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-6)
    np.testing.assert_allclose(res[0][2], res[1][2], rtol=1e-6)
    assert res[0][3].split(".")[-1] == res[1][3].split(".")[-1]


@pytest.mark.parametrize("clip", [0.5, -0.5])
def test_clip_grad_value_values_and_versions_as_torch(clip):
    """torch clamps with _foreach_clamp_min_ then _foreach_clamp_max_: the values, and two
    version bumps per gradient."""
    res = []
    for M in (tapegrad, torch):
        a = M.tensor([[3.0, -4.0], [0.25, float("nan")]], requires_grad=True)
        b = M.tensor([0.5, -0.125], dtype=M.float64, requires_grad=True)
        a.grad = M.tensor([[3.0, -0.25], [0.125, float("nan")]])
        b.grad = M.tensor([-1.0, 0.375], dtype=M.float64)
        versions = [a.grad._version, b.grad._version]
        M.nn.utils.clip_grad_value_([a, b], clip)
        res.append((a.grad.tolist(), b.grad.tolist(),
                    [a.grad._version - versions[0], b.grad._version - versions[1]]))
    assert repr(res[0]) == repr(res[1])


def test_clip_grads_with_norm_total_norm_kinds_as_torch():
    """clip_grads_with_norm_ wants the total norm as a 0-d tensor: a number fails in torch's
    clamp, a tensor with dims in its _foreach_mul_; an integer norm scales in the default
    dtype."""
    res = []
    for M in (tapegrad, torch):
        out = []
        for total in (10.0, 10, M.tensor([10.0]), M.tensor([]), M.tensor(3), M.tensor(True),
                      M.tensor(10.0, dtype=M.float64)):
            w = M.nn.Parameter(M.ones(2))
            w.grad = M.ones(2) * 3
            try:
                M.nn.utils.clip_grads_with_norm_([w], 1.5, total)
                out.append(w.grad.tolist())
            except (TypeError, RuntimeError) as e:
                out.append((type(e).__name__, str(e)))
        res.append(out)
    assert res[0] == res[1]


def test_clip_grad_norm_checks_max_norm_without_gradients():
    """torch converts max_norm with float() before it looks for gradients: a bad max_norm
    raises even when no parameter has one."""
    errs = []
    for M in (tapegrad, torch):
        with pytest.raises(ValueError) as e:
            M.nn.utils.clip_grad_norm_(M.ones(2, requires_grad=True), "a")
        errs.append(str(e.value))
    assert errs[0] == errs[1]


def test_parameters_to_vector_and_back_as_torch():
    res = []
    for M in (tapegrad, torch):
        m = M.nn.Linear(3, 2)
        with M.no_grad():
            m.weight.copy_(M.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
            m.bias.copy_(M.tensor([7.0, 8.0]))
        v = M.nn.utils.parameters_to_vector(m.parameters())
        (v * M.arange(8.0)).sum().backward()
        M.nn.utils.vector_to_parameters(M.arange(8.0) * 10, m.parameters())
        res.append((v.tolist(), type(v.grad_fn).__name__, m.weight.grad.tolist(),
                    m.weight.tolist(), m.bias.tolist(), type(m.weight).__name__))
    assert res[0] == res[1]


def test_zero_grad_deepcopy_pickle():
    m = tnn.Sequential(tnn.Linear(2, 2), tnn.Tanh(), tnn.Linear(2, 1))
    m(tapegrad.ones(1, 2)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m2 = copy.deepcopy(m)
    assert repr(m2) == repr(m) and type(m2[0].weight).__name__ == "Parameter"
    assert m2[0].weight is not m[0].weight
    np.testing.assert_array_equal(m2[0].weight.detach().numpy(), m[0].weight.detach().numpy())
    p = pickle.loads(pickle.dumps(m[0].weight))
    assert type(p).__name__ == "Parameter" and p.requires_grad


def test_functional_call_as_torch():
    torch.manual_seed(0)
    pm = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1))
    tm = tnn.Sequential(tnn.Linear(3, 2), tnn.Tanh(), tnn.Linear(2, 1))
    _copy_weights(tm, pm)
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    res = []
    for M, m in ((tapegrad, tm), (torch, pm)):
        params = {k: v.detach() * 2 for k, v in m.named_parameters()}
        loss = lambda p: M.func.functional_call(m, p, (M.tensor(x, dtype=M.float32),)).sum()
        g = M.func.grad(loss)(params)
        out = M.func.functional_call(m, params, M.tensor(x, dtype=M.float32))
        res.append((out.detach().numpy(), {k: v.numpy() for k, v in g.items()},
                    m[0].weight.detach().numpy().copy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-5)
    for k in res[1][1]:
        np.testing.assert_allclose(res[0][1][k], res[1][1][k], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res[0][2], res[1][2])       # the module's own weights are back
    with pytest.raises(RuntimeError, match="Missing key"):
        tapegrad.func.functional_call(tm, {"0.weight": tapegrad.ones(2, 3)},
                                      (tapegrad.ones(1, 3),), strict=True)


def test_model_recorded_once_replays_as_eager():
    """A model's loss recorded with tapegrad.record replays at new inputs (its decomposition
    rows are primitives, its masks tensor comparisons) with eager's value and gradient."""
    tapegrad.manual_seed(0)
    m = tnn.Sequential(tnn.Linear(3, 4), tnn.GELU(), tnn.LayerNorm(4), tnn.LeakyReLU(0.1),
                       tnn.Linear(4, 3))
    target = tapegrad.tensor([0, 2, 1, 1, 0])

    def f(x):
        return tnn.functional.cross_entropy(m(x), target, label_smoothing=0.1)
    rng = np.random.default_rng(5)
    rec = tapegrad.record(f, tapegrad.tensor(rng.standard_normal((5, 3)).astype(np.float32)))
    for _ in range(2):
        x1 = rng.standard_normal((5, 3)).astype(np.float32)
        assert_replays_as_eager(rec, f, x1, 1e-5, 1e-4, 1e-6)


TUTORIAL = """
# In the spirit of the official nn tutorial (polynomial fit, then a small classifier):
# fixed initial weights so that both libraries start from the same point.
x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
print(model)
with torch.no_grad():
    model[0].weight.copy_(torch.tensor([[0.5, -0.2, 0.1]]))
    model[0].bias.fill_(0.05)
loss_fn = torch.nn.MSELoss(reduction='sum')
learning_rate = 1e-6
for t in range(500):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, f"{loss.item():.4g}")
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad
linear_layer = model[0]
print(f'Result: y = {linear_layer.bias.item():.4f} + {linear_layer.weight[:, 0].item():.4f} x + {linear_layer.weight[:, 1].item():.4f} x^2 + {linear_layer.weight[:, 2].item():.4f} x^3')
print(loss.grad_fn.name(), y_pred.grad_fn.name(), model[0](xx).grad_fn.name())

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
    def forward(self, x):
        return self.net(x)

clf = Classifier().double()
for name, prm in clf.named_parameters():
    with torch.no_grad():
        n = prm.numel()
        prm.copy_((torch.arange(n, dtype=torch.float64).reshape(prm.shape) * 0.37).sin() * 0.5)
print(clf)
pts = torch.tensor([[math.cos(0.7 * i) * (1 + i % 3), math.sin(0.7 * i) * (1 + i % 3)] for i in range(30)], dtype=torch.float64)
labels = torch.tensor([i % 3 for i in range(30)])
crit = nn.CrossEntropyLoss(label_smoothing=0.05)
for step in range(60):
    out = clf(pts)
    loss = crit(out, labels)
    clf.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(clf.parameters(), 1.0)
    with torch.no_grad():
        for prm in clf.parameters():
            prm -= 0.5 * prm.grad
    if step % 20 == 0:
        print(step, f"{loss.item():.6f}", loss.grad_fn.name())
print(sorted(clf.state_dict().keys()), clf.training, clf.eval().training)
"""


def test_nn_tutorial_program_prints_what_torch_prints():
    out = _run(TUTORIAL, tapegrad)
    assert "Error" not in out, out
    assert out == _run(TUTORIAL, torch)


def test_to_empty_and_absent_dtypes_as_torch():
    """to_empty(device='cpu') replaces parameters and buffers by uninitialized tensors of their
    shapes (the same Parameter objects, still requiring grad); half()/bfloat16() raise
    Tensor.half's NotImplementedError (no such dtypes) before anything changes."""
    for m in (tapegrad, torch):
        net = m.nn.Sequential(m.nn.Linear(2, 3), m.nn.BatchNorm1d(3))
        w = net[0].weight
        assert net.to_empty(device="cpu") is net and net[0].weight is w
        assert tuple(w.shape) == (3, 2) and w.requires_grad
        assert tuple(net[1].running_mean.shape) == (3,)
    net = tnn.Linear(2, 3)
    before = net.weight.tolist()
    with pytest.raises(NotImplementedError, match="float16"):
        net.half()
    assert net.weight.tolist() == before and net.weight.dtype is tapegrad.float32
    assert isinstance(tnn.ReLU().half(), tnn.ReLU)


def test_module_to_memory_format_as_torch():
    """Module.to(memory_format=...) (CNN training scripts' channels_last) is accepted, with
    a dtype too; a 5-d parameter with channels_last raises torch's rank error (tapegrad
    keeps row-major memory: docs/semantics.md)."""
    torch = pytest.importorskip("torch")

    def run(m):
        conv = m.nn.Conv2d(3, 4, 3)
        out = [conv.to(memory_format=m.channels_last) is conv,
               conv.to(m.float64, memory_format=m.channels_last).weight.dtype == m.float64,
               m.nn.Linear(3, 4).to(memory_format=m.channels_last).weight.dtype == m.float32]
        try:
            m.nn.Conv3d(1, 1, 1).to(memory_format=m.channels_last)
        except RuntimeError as e:
            out.append(str(e))
        return out
    assert run(tapegrad) == run(torch)


def test_sequential_extend_takes_its_argument_by_torchs_name():
    """Sequential.extend(sequential=...) as torch's signature names it (tapegrad's shared
    container method named it `modules`: a TypeError)."""
    def built(lib):
        seq = lib.nn.Sequential(lib.nn.ReLU())
        out = seq.extend(sequential=lib.nn.Sequential(lib.nn.Tanh(), lib.nn.Sigmoid()))
        return out is seq, [type(m).__name__ for m in seq]
    assert built(tapegrad) == built(torch) == (True, ["ReLU", "Tanh", "Sigmoid"])
