"""The layers of engineer "nnloss" against torch 2.13: lp_pool1d/2d/3d, local_response_norm,
channel_shuffle, rrelu / rrelu_ and gumbel_softmax (F forms and modules): values, gradients,
whole grad_fn trees and the generator's state after the call (rrelu's slopes and
gumbel_softmax's noise are torch's draws), in float32 and float64; reprs and errors.  The
finite-difference checks and the draws' properties run without torch too."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck
from grad_fn_trees import grad_fn_tree

try:
    import torch
except ImportError:    # the finite-difference and distribution checks still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

R = np.random.default_rng(11)
X3 = R.normal(size=(2, 6, 7))
X4 = R.normal(size=(2, 4, 5, 6))
X5 = R.normal(size=(1, 4, 4, 5, 6))


def _tree(y, depth=12):
    return grad_fn_tree(y, depth)


# name -> fn(m, F, a, b, c): a, b, c the 3-d, 4-d and 5-d leaves of X3, X4, X5
CASES = {
    "lp_pool1d": lambda m, F, a, b, c: F.lp_pool1d(a, 2, 3),
    "lp_pool1d_stride_ceil": lambda m, F, a, b, c: F.lp_pool1d(a.abs() + 0.1, 1.5, 3, stride=2,
                                                               ceil_mode=True),
    "lp_pool1d_inf": lambda m, F, a, b, c: F.lp_pool1d(a, float("inf"), 2),
    "lp_pool1d_-inf": lambda m, F, a, b, c: F.lp_pool1d(a, -float("inf"), 2, stride=1),
    "lp_pool2d": lambda m, F, a, b, c: F.lp_pool2d(b, 2, (2, 3)),
    "lp_pool2d_odd_power": lambda m, F, a, b, c: F.lp_pool2d(b, 3, 2, stride=1),  # (nan, as torch)
    "lp_pool2d_unbatched": lambda m, F, a, b, c: F.lp_pool2d(a, 2.5, 2),
    "lp_pool2d_inf": lambda m, F, a, b, c: F.lp_pool2d(b, float("inf"), 2, ceil_mode=True),
    "lp_pool3d": lambda m, F, a, b, c: F.lp_pool3d(c, 2, 2),
    "lp_pool3d_stride": lambda m, F, a, b, c: F.lp_pool3d(c, 1, (1, 2, 3), stride=(1, 1, 2)),
    "local_response_norm_3d": lambda m, F, a, b, c: F.local_response_norm(a, 3),
    "local_response_norm_4d": lambda m, F, a, b, c: F.local_response_norm(
        b, 2, alpha=0.1, beta=0.6, k=2.0),
    "local_response_norm_5d": lambda m, F, a, b, c: F.local_response_norm(c, 5, alpha=0.3),
    "channel_shuffle": lambda m, F, a, b, c: F.channel_shuffle(a, 3),
    "channel_shuffle_4d": lambda m, F, a, b, c: F.channel_shuffle(b * 2, 2),
    "channel_shuffle_5d": lambda m, F, a, b, c: F.channel_shuffle(c, 4),
    "rrelu_eval": lambda m, F, a, b, c: F.rrelu(b),
    "rrelu_eval_bounds": lambda m, F, a, b, c: F.rrelu(a, 0.05, 0.7),
    "rrelu_train": lambda m, F, a, b, c: F.rrelu(b, training=True),
    "rrelu_train_strided": lambda m, F, a, b, c: F.rrelu(c[..., ::2].transpose(1, 3), 0.2, 0.6,
                                                         training=True),
    "rrelu_inplace_train": lambda m, F, a, b, c: F.rrelu_(b * 1, training=True),
    "rrelu_inplace_eval": lambda m, F, a, b, c: F.rrelu(b * 1, 0.1, 0.5, inplace=True),
    "rrelu_module_train": lambda m, F, a, b, c: m.nn.RReLU(0.3, 0.4)(a),
    "rrelu_module_eval": lambda m, F, a, b, c: m.nn.RReLU(inplace=True).eval()(a * 1),
    "gumbel_softmax": lambda m, F, a, b, c: F.gumbel_softmax(b, tau=0.7),
    "gumbel_softmax_hard": lambda m, F, a, b, c: F.gumbel_softmax(a, hard=True, dim=1),
    "lp_pool_module": lambda m, F, a, b, c: m.nn.LPPool2d(2, 2, stride=1)(b),
    "local_response_norm_module": lambda m, F, a, b, c: m.nn.LocalResponseNorm(2)(b),
    "channel_shuffle_module": lambda m, F, a, b, c: m.nn.ChannelShuffle(2)(a),
}


def _run(m, fn, dtype, seed=5):
    m.manual_seed(seed)
    leaves = [m.tensor(v, dtype=getattr(m, dtype), requires_grad=True) for v in (X3, X4, X5)]
    y = fn(m, m.nn.functional, *leaves)
    w = m.tensor(np.linspace(0.5, 1.5, y.numel()).reshape(tuple(y.shape)), dtype=y.dtype)
    (y * w).sum().backward()
    return (y.detach().numpy(), tuple(y.shape), str(y.dtype).split(".")[-1], _tree(y),
            m.get_rng_state().numpy().tobytes(),
            [None if t.grad is None else t.grad.numpy() for t in leaves])


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_as_torch(name, dtype):
    ours, theirs = _run(tg, CASES[name], dtype), _run(torch, CASES[name], dtype)
    assert ours[1:5] == theirs[1:5]        # shape, dtype, grad_fn tree, generator state
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    if name.startswith(("rrelu", "channel_shuffle", "lp_pool1d_inf", "lp_pool1d_-inf")):
        np.testing.assert_array_equal(ours[0], theirs[0])    # torch's draws, bit for bit
    np.testing.assert_allclose(ours[0], theirs[0], equal_nan=True, **tol)
    for g, h in zip(ours[5], theirs[5]):
        assert (g is None) == (h is None)
        if g is not None:
            np.testing.assert_allclose(g, h, equal_nan=True, **tol)


GRADCHECK = {
    "lp_pool1d": lambda x: tg.nn.functional.lp_pool1d(x.abs() + 0.5, 2, 2),
    "lp_pool2d": lambda x: tg.nn.functional.lp_pool2d(x.abs() + 0.5, 1.5, (2, 1), stride=1),
    "lp_pool3d": lambda x: tg.nn.functional.lp_pool3d(x.reshape(1, 2, 2, 3, 2) ** 2 + 0.5, 2,
                                                      (1, 2, 2)),
    "local_response_norm": lambda x: tg.nn.functional.local_response_norm(x, 3, alpha=0.5),
    "local_response_norm_4d": lambda x: tg.nn.functional.local_response_norm(
        x.reshape(1, 4, 3, 2), 2, k=0.5),
    "channel_shuffle": lambda x: tg.nn.functional.channel_shuffle(x, 2),
    "rrelu_eval": lambda x: tg.nn.functional.rrelu(x, 0.2, 0.4),
    # the same draws at every evaluation (the seed set first)
    "rrelu_train": lambda x: (tg.manual_seed(3), tg.nn.functional.rrelu(x, training=True))[1],
    "gumbel_softmax": lambda x: (tg.manual_seed(3),
                                 tg.nn.functional.gumbel_softmax(x, tau=0.5, dim=1))[1],
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_layer_gradcheck(name):
    x = tg.tensor(R.normal(size=(2, 4, 3)), requires_grad=True)
    assert gradcheck(GRADCHECK[name], [x])


def test_rrelu_draws_without_torch():
    """The slopes lie in [lower, upper), one draw (two 32-bit words) per element <= 0, none
    for the others; eval mode draws nothing and uses the mean slope."""
    F = tg.nn.functional
    x = tg.tensor(np.concatenate([-np.abs(R.normal(size=2000)) - 0.1, np.abs(R.normal(size=500))
                                  + 0.1]))
    tg.manual_seed(0)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    state = tg.get_rng_state()
    slopes = (y / x).numpy()
    neg = x.numpy() < 0
    assert (slopes[~neg] == 1).all()
    assert (slopes[neg] >= 0.1 - 1e-12).all() and (slopes[neg] < 0.3 + 1e-12).all()
    assert abs(slopes[neg].mean() - 0.2) < 0.01 and abs(slopes[neg].std() - 0.2 / 12 ** 0.5) < 0.01
    tg.manual_seed(0)
    tg.rand(2000, dtype=tg.float64)            # 2000 double uniforms: the same words
    assert tg.get_rng_state().tolist() == state.tolist()
    before = tg.get_rng_state()
    np.testing.assert_array_equal(F.rrelu(x, 0.1, 0.3).numpy(), np.where(neg, 0.2, 1.0)
                                  * x.numpy())
    assert tg.get_rng_state().tolist() == before.tolist()


def test_gumbel_softmax_without_torch():
    F = tg.nn.functional
    tg.manual_seed(1)
    logits = tg.tensor(np.log([[0.7, 0.2, 0.1]] * 4000), requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.detach().numpy().sum(1), 1.0, rtol=1e-12)
    hard = F.gumbel_softmax(logits, hard=True)
    h = hard.detach().numpy()
    assert set(np.unique(h)) <= {0.0, 1.0} and (h.sum(1) == 1).all()
    freq = h.mean(0)                           # argmax of logits + Gumbel ~ softmax(logits)
    np.testing.assert_allclose(freq, [0.7, 0.2, 0.1], atol=0.03)
    hard.sum().backward()                      # straight through: the soft sample's gradient
    assert np.abs(logits.grad.numpy()).max() < 1e-9


@needs_torch
def test_gumbel_softmax_eps_warning_as_torch():
    out = []
    for m in (tg, torch):
        with pytest.warns(UserWarning) as seen:
            m.nn.functional.gumbel_softmax(m.ones(2, 3), eps=1e-3)
        out.append([str(w.message) for w in seen])
    assert out[0] == out[1]


MODULES = [("RReLU", (), {}), ("RReLU", (0.1, 0.3, True), {}), ("LPPool1d", (2, 3), {}),
           ("LPPool2d", (1.5, (2, 3), 1, True), {}), ("LPPool3d", (2, 2), {}),
           ("LocalResponseNorm", (3,), {}), ("LocalResponseNorm", (2, 1e-3, 0.5, 2.0), {}),
           ("ChannelShuffle", (3,), {})]


@needs_torch
@pytest.mark.parametrize("name,args,kw", MODULES, ids=[f"{n}{a}" for n, a, _ in MODULES])
def test_module_repr_and_state_as_torch(name, args, kw):
    ours, theirs = getattr(tg.nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict()) == []
    assert {k: v for k, v in vars(ours).items() if not k.startswith("_")} == \
        {k: v for k, v in vars(theirs).items() if not k.startswith("_")}


def _errors(m):
    F = m.nn.functional
    x = m.tensor(X3)
    leaf = m.tensor(X3, requires_grad=True)
    calls = [
        lambda: F.channel_shuffle(x, 0), lambda: F.channel_shuffle(x, -2),
        lambda: F.channel_shuffle(x, 4), lambda: F.channel_shuffle(x[0], 2),
        lambda: F.channel_shuffle(x, 2.0),
        lambda: F.local_response_norm(x[0], 2),
        lambda: F.lp_pool1d(x, 2, 8),
        lambda: F.lp_pool2d(m.tensor(X4), 2, 7),
        lambda: F.rrelu_(leaf), lambda: F.rrelu(leaf, inplace=True, training=True),
        lambda: m.nn.ChannelShuffle(4)(x),
    ]
    out = []
    for call in calls:
        try:
            call()
            out.append("no error")
        except Exception as e:   # the type and message are what is compared
            out.append((type(e).__name__, str(e).split(" Hint")[0]))
    # what passes: an empty batch, an integer input, an empty local_response_norm input
    out.append(tuple(F.channel_shuffle(m.ones(0, 4, 2), 2).shape))
    out.append(F.channel_shuffle(m.arange(8).reshape(1, 8, 1), 2).flatten().tolist())
    out.append(tuple(F.local_response_norm(m.ones(2, 3, 0), 2).shape))
    return out


@needs_torch
def test_errors_as_torch():
    ours, theirs = _errors(tg), _errors(torch)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, i
