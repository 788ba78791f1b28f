"""tapegrad.nn's recurrent layers (RNN, LSTM, GRU and their cells) against torch 2.13: the
same weights copied across, outputs and the gradients of every parameter and input in float32
and float64 over the options (layers, bidirectional, batch_first, bias, unbatched input, h0
given or not, nonlinearity, LSTM projections, dropout), grad_fn chains, gradcheck in float64,
reprs, state dicts, torch's errors, and a short training run that must give torch's losses;
nn.utils.rnn's packing helpers and the layers on PackedSequence input likewise.

Known differences in the grad_fn chains (no op row of torch's name in tapegrad): a no-bias
linear map of a 3-d input one UnsafeViewBackward0 node with both operands as edges (torch:
UnsafeView then Mm).  A float32 LSTM is torch's oneDNN path (one MkldnnRnnLayerBackward0 per
layer-direction) in both, and its own section below checks that node's cases and faces.
Packed data shows IndexBackward0 (torch: PackPaddedSequenceBackward0), so the packing
utilities' test prints their tensors without grad_fn."""
import contextlib
import io
import math
import re
import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

I, H, T, B = 3, 4, 5, 2
RNG = np.random.default_rng(0)


# ---- helpers ---------------------------------------------------------------------------------
def _chain(fn, depth):
    """grad_fn names to `depth` levels (a no-bias UnsafeView's edges not compared: the
    docstring's list)."""
    if fn is None or depth == 0:
        return None
    name = type(fn).__name__.replace("torch::autograd::", "")
    if name == "UnsafeViewBackward0":
        return (name, [])
    return (name, [_chain(f, depth - 1) for f, _ in fn.next_functions])


@contextlib.contextmanager
def _composite(M):
    """torch with oneDNN off (its LSTM takes the composite path, as tapegrad's)."""
    if M is torch:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.backends.mkldnn.flags(enabled=False):
                yield
    else:
        yield


def _copy_weights(tmod, pmod):
    tmod.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in pmod.state_dict().items()})


def _flat(out):
    """A module's outputs as a flat list of tensors."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _args(M, ts, lstm):
    """(input,) / (input, h) / (input, (h, c)) from the tensors ts."""
    if len(ts) == 1:
        return ts
    return (ts[0], (ts[1], ts[2])) if lstm else (ts[0], ts[1])


def _run(M, make, arrays, dtype, lstm, composite=False, depth=6):
    """Outputs, parameter and input gradients and grad_fn chains of make(M.nn) on arrays."""
    dt = getattr(M, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = make(M.nn).to(dt)
    xs = [M.tensor(a, dtype=dt, requires_grad=True) for a in arrays]
    ctx = _composite(M) if composite else contextlib.nullcontext()
    with ctx:
        outs = _flat(m(*_args(M, xs, lstm)))
    loss = 0
    for o in outs:
        w = np.linspace(-1.0, 2.0, o.numel()).reshape(tuple(o.shape))
        loss = loss + (o * M.tensor(w, dtype=dt)).sum()
    loss.backward()
    return dict(module=m, outs=[o.detach().numpy() for o in outs],
                shapes=[tuple(o.shape) for o in outs],
                pgrads={n: p.grad.numpy() for n, p in m.named_parameters()},
                xgrads=[x.grad.numpy() for x in xs],
                chains=[_chain(o.grad_fn, depth) for o in outs])


def _compare(make, arrays, dtype, lstm=False, composite=False, depth=6):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = make(torch.nn)
        tm = make(tg.nn)
    _copy_weights(tm, pm)
    sd = {k: v.clone() for k, v in pm.state_dict().items()}
    ours = _run(tg, lambda nn: tm, arrays, dtype, lstm, depth=depth)
    theirs = _run(torch, lambda nn: pm, arrays, dtype, lstm, composite, depth)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    assert ours["shapes"] == theirs["shapes"]
    for a, b in zip(ours["outs"], theirs["outs"]):
        np.testing.assert_allclose(a, b, **tol)
    assert list(ours["pgrads"]) == list(theirs["pgrads"])
    for n in theirs["pgrads"]:
        np.testing.assert_allclose(ours["pgrads"][n], theirs["pgrads"][n], **tol, err_msg=n)
    for a, b in zip(ours["xgrads"], theirs["xgrads"]):
        np.testing.assert_allclose(a, b, **tol)
    assert all(torch.equal(v, sd[k]) for k, v in pm.state_dict().items())
    return ours, theirs


# ---- cells -----------------------------------------------------------------------------------
CELLS = [
    ("RNNCell", lambda nn: nn.RNNCell(I, H)),
    ("RNNCell-relu", lambda nn: nn.RNNCell(I, H, nonlinearity="relu")),
    ("RNNCell-nobias", lambda nn: nn.RNNCell(I, H, bias=False)),
    ("LSTMCell", lambda nn: nn.LSTMCell(I, H)),
    ("LSTMCell-nobias", lambda nn: nn.LSTMCell(I, H, False)),
    ("GRUCell", lambda nn: nn.GRUCell(I, H)),
    ("GRUCell-nobias", lambda nn: nn.GRUCell(I, H, bias=False)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_h", [False, True], ids=["no-hx", "hx"])
@pytest.mark.parametrize("name,make", CELLS, ids=[c[0] for c in CELLS])
def test_cell_matches_torch(name, make, with_h, batched, dtype):
    lstm = name.startswith("LSTM")
    lead = (B,) if batched else ()
    arrays = [RNG.standard_normal(lead + (I,))]
    if with_h:
        arrays += [RNG.standard_normal(lead + (H,)) for _ in range(2 if lstm else 1)]
    ours, theirs = _compare(make, arrays, dtype, lstm, depth=8)
    assert ours["chains"] == theirs["chains"]


def test_cell_grad_fn_names_as_torch():
    x = tg.randn(2, I)
    assert type(tg.nn.RNNCell(I, H)(x).grad_fn).__name__ == "TanhBackward0"
    assert type(tg.nn.RNNCell(I, H, nonlinearity="relu")(x).grad_fn).__name__ == "ReluBackward0"
    h, c = tg.nn.LSTMCell(I, H)(x)
    assert (type(h.grad_fn).__name__, type(c.grad_fn).__name__) == ("MulBackward0",
                                                                      "AddBackward0")
    assert type(tg.nn.GRUCell(I, H)(x).grad_fn).__name__ == "AddBackward0"
    assert type(tg.nn.GRUCell(I, H)(tg.randn(I)).grad_fn).__name__ == "SqueezeBackward1"


# ---- RNN, LSTM, GRU --------------------------------------------------------------------------
NETS = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu"}),
    ("RNN", {"num_layers": 2, "bidirectional": True}),
    ("RNN", {"batch_first": True, "bias": False}),
    ("RNN", {"num_layers": 3, "nonlinearity": "relu", "batch_first": True,
             "bidirectional": True}),
    ("GRU", {}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("GRU", {"bias": False, "num_layers": 2}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"batch_first": True, "bias": False}),
    ("LSTM", {"proj_size": 2}),
    ("LSTM", {"proj_size": 3, "num_layers": 2, "bidirectional": True, "batch_first": True}),
]


def _net_arrays(kw, batched, with_h, lstm):
    lead = (B,) if batched else ()
    x = RNG.standard_normal(((B, T) if batched and kw.get("batch_first") else (T,) + lead)
                            + (I,))
    if not with_h:
        return [x]
    n = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    arrays = [x, RNG.standard_normal((n,) + lead + (kw.get("proj_size") or H,))]
    if lstm:
        arrays.append(RNG.standard_normal((n,) + lead + (H,)))
    return arrays


def _net_id(c):
    return c[0] + "".join(f"-{k}={v}" for k, v in c[1].items())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_h", [False, True], ids=["no-h0", "h0"])
@pytest.mark.parametrize("name,kw", NETS, ids=[_net_id(c) for c in NETS])
def test_rnn_matches_torch(name, kw, with_h, batched, dtype):
    lstm = name == "LSTM"
    arrays = _net_arrays(kw, batched, with_h, lstm)
    ours, theirs = _compare(lambda nn: getattr(nn, name)(I, H, **kw), arrays, dtype, lstm,
                            depth=5)
    assert ours["chains"] == theirs["chains"]


def test_lstm_matches_torchs_default_cpu_path():
    """torch's default CPU LSTM: in float32 its oneDNN kernel (one MkldnnRnnLayerBackward0
    per layer-direction), in float64 the composite path; tapegrad's the same."""
    for dtype in ("float64", "float32"):
        for kw in ({}, {"num_layers": 2, "bidirectional": True}):
            arrays = _net_arrays(kw, True, True, True)
            ours, theirs = _compare(lambda nn: nn.LSTM(I, H, **kw), arrays, dtype, True,
                                    depth=8)
            assert ours["chains"] == theirs["chains"]
            inner = ours["chains"][0] if not kw else ours["chains"][0][1][0]
            assert inner[0] == ("MkldnnRnnLayerBackward0" if dtype == "float32"
                                else "StackBackward0")


def test_dropout_between_layers():
    """p = 1 (deterministic: the next layer sees zeros) in training as torch; eval mode and
    a single layer ignore it; the masks are tapegrad's generator's."""
    arrays = _net_arrays({"num_layers": 2}, True, True, False)
    for name in ("RNN", "GRU", "LSTM"):
        lstm = name == "LSTM"
        arrays = _net_arrays({"num_layers": 3}, True, True, lstm)
        ours, theirs = _compare(lambda nn: getattr(nn, name)(I, H, num_layers=3, dropout=1.0),
                                arrays, "float64", lstm, composite=lstm, depth=7)
        assert ours["chains"] == theirs["chains"]
        _compare(lambda nn: getattr(nn, name)(I, H, num_layers=3, dropout=0.4).eval(), arrays,
                 "float64", lstm)
    m = tg.nn.GRU(I, H, num_layers=2, dropout=0.5)
    x = tg.randn(T, B, I)
    tg.manual_seed(3)
    a = m(x)[0]
    tg.manual_seed(3)
    b = m(x)[0]
    c = m(x)[0]
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    assert not np.array_equal(a.detach().numpy(), c.detach().numpy())
    assert np.array_equal(m.eval()(x)[0].detach().numpy(), m(x)[0].detach().numpy())


# ---- gradcheck -------------------------------------------------------------------------------
def _gradcheck(m, inputs, lstm):
    names = [n for n, _ in m.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in m.parameters()]
    k = len(inputs)

    def f(*ts):
        out = tg.func.functional_call(m, dict(zip(names, ts[k:])), _args(tg, ts[:k], lstm))
        return tuple(_flat(out))

    assert tg.autograd.gradcheck(f, tuple(inputs) + tuple(params))


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_gradcheck_cells(name):
    tg.manual_seed(0)
    lstm = name == "LSTMCell"
    m = getattr(tg.nn, name)(2, 3).double()
    ins = [tg.randn(2, 2, dtype=tg.float64, requires_grad=True)]
    ins += [tg.randn(2, 3, dtype=tg.float64, requires_grad=True) for _ in range(1 + lstm)]
    _gradcheck(m, ins, lstm)


@pytest.mark.parametrize("name,kw", [("RNN", {"num_layers": 2, "bidirectional": True}),
                                     ("GRU", {"batch_first": True}),
                                     ("LSTM", {"bidirectional": True, "proj_size": 2}),
                                     ("LSTM", {"num_layers": 2})])
def test_gradcheck_rnns(name, kw):
    tg.manual_seed(0)
    lstm = name == "LSTM"
    m = getattr(tg.nn, name)(2, 3, **kw).double()
    n = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    ins = [tg.randn(*((2, 3) if kw.get("batch_first") else (3, 2)), 2, dtype=tg.float64,
                    requires_grad=True),
           tg.randn(n, 2, kw.get("proj_size") or 3, dtype=tg.float64, requires_grad=True)]
    if lstm:
        ins.append(tg.randn(n, 2, 3, dtype=tg.float64, requires_grad=True))
    _gradcheck(m, ins, lstm)


def test_gradcheck_with_dropout():
    m = tg.nn.LSTM(2, 3, num_layers=2, dropout=0.5).double()

    def f(x):
        tg.manual_seed(7)      # the same masks at every evaluation
        out, (h, c) = m(x)
        return out, h, c

    assert tg.autograd.gradcheck(f, (tg.randn(3, 2, 2, dtype=tg.float64, requires_grad=True),))


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_second_derivatives_as_torch(name):
    """create_graph through the recurrence: the gradient of a gradient norm, as torch."""
    torch.manual_seed(0)
    pm = getattr(torch.nn, name)(I, H, bidirectional=True).double()
    tm = getattr(tg.nn, name)(I, H, bidirectional=True).double()
    _copy_weights(tm, pm)
    xs = RNG.standard_normal((4, B, I))
    out = []
    for M, m in ((tg, tm), (torch, pm)):
        x = M.tensor(xs, requires_grad=True)
        with _composite(M):
            o = m(x)[0]
        g, = M.autograd.grad((o ** 2).sum(), x, create_graph=True)
        (g ** 2).sum().backward()
        out.append((g.detach().numpy(), x.grad.numpy(), m.weight_hh_l0.grad.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_gradgradcheck_gru_cell():
    tg.manual_seed(0)
    m = tg.nn.GRUCell(2, 3).double()
    x = tg.randn(2, 2, dtype=tg.float64, requires_grad=True)
    h = tg.randn(2, 3, dtype=tg.float64, requires_grad=True)
    assert tg.autograd.gradgradcheck(lambda x, h: m(x, h), (x, h))


# ---- module surface --------------------------------------------------------------------------
def _exec(src, M):
    """exec `src` with M as torch; what it prints, errors as 'Type: message'."""
    buf = io.StringIO()
    env = {"torch": M, "nn": M.nn, "math": math, "np": np}
    with contextlib.redirect_stdout(buf), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for block in src.strip().split("\n\n"):
            try:
                exec(block, env)
            except Exception as e:  # noqa: BLE001  (compared with torch's)
                print(f"{type(e).__name__}: {e}")
    return buf.getvalue().replace("torch.", "tapegrad.")


SURFACE = """
for m in [nn.RNN(3, 4), nn.RNN(3, 4, nonlinearity='relu'), nn.RNN(3, 4, 2, 'relu', False, True, 0.5, True),
          nn.LSTM(3, 4, proj_size=2, num_layers=2, dropout=1), nn.GRU(3, 4, bias=False, bidirectional=True),
          nn.LSTM(3, 4, 1, True, True, 0.0, True, 2), nn.RNNCell(3, 4), nn.RNNCell(3, 4, False, 'relu'),
          nn.LSTMCell(3, 4), nn.GRUCell(3, 4, False), nn.Sequential(nn.LSTM(3, 4), nn.GRUCell(4, 2))]:
    print(m)
    print([(n, tuple(p.shape)) for n, p in m.named_parameters()])
    print(list(m.state_dict()), m.training)

for m in [nn.LSTM(3, 4, proj_size=2, num_layers=2, bidirectional=True), nn.GRU(3, 5, bias=False), nn.RNN(2, 3)]:
    print(m._flat_weights_names, m._all_weights, m.mode, m.flatten_parameters())
    print([[tuple(p.shape) for p in ws] for ws in m.all_weights])
    print([tuple(w.shape) for w in m._flat_weights], m.dropout, m.proj_size, m.input_size, m.hidden_size)
    print(m.all_weights[0][0] is m.weight_ih_l0, m.double().all_weights[0][0].dtype, m._flat_weights[0].dtype)

m = nn.RNN(3, 4)
print(m.nonlinearity, nn.RNN(3, 4, 1, 'relu').nonlinearity, nn.RNNCell(3, 4).nonlinearity)
print(isinstance(m, nn.RNNBase), isinstance(nn.GRUCell(1, 2), nn.RNNCellBase), issubclass(nn.LSTM, nn.RNNBase))

for make in [lambda: nn.RNN(3, 4, proj_size=2), lambda: nn.GRU(3, 4, proj_size=2),
             lambda: nn.LSTM(3, 4, proj_size=4), lambda: nn.LSTM(3, 4, proj_size=-1),
             lambda: nn.LSTM(3, 4, dropout=2), lambda: nn.LSTM(3, 4, dropout=True),
             lambda: nn.GRU(3, 4, dropout='a'), lambda: nn.LSTM(3, 4, num_layers=0),
             lambda: nn.LSTM(3, 0), lambda: nn.LSTM(0, 3), lambda: nn.LSTM(3.0, 3),
             lambda: nn.RNN(3, 4.5), lambda: nn.LSTM(3, 4, bias=1), lambda: nn.LSTM(3, 4, batch_first=1),
             lambda: nn.RNN(3, 4, nonlinearity='sigmoid'), lambda: nn.RNNBase('FOO', 3, 4),
             lambda: nn.RNNCell(3, 4, nonlinearity='foo')]:
    try:
        print(make())
    except Exception as e:
        print(type(e).__name__, e)

import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter('always')
    nn.LSTM(3, 4, dropout=0.5)
    nn.GRU(3, 4, dropout=0.5, num_layers=2)
print([(x.category.__name__, str(x.message)) for x in w])
"""


def test_surface_as_torch():
    assert _exec(SURFACE, tg) == _exec(SURFACE, torch)


ERRORS = """
def t(f):
    try:
        r = f()
        print('ok', [tuple(o.shape) for o in (r if isinstance(r, tuple) else (r,)) if hasattr(o, 'shape')])
    except Exception as e:
        print(type(e).__name__, ':', e)

c = nn.RNNCell(3, 4)
t(lambda: c(torch.randn(2, 5)))
t(lambda: c(torch.randn(2, 3), torch.randn(3, 4)))
t(lambda: c(torch.randn(2, 3), torch.randn(2, 5)))
t(lambda: c(torch.randn(2, 3, 3)))
t(lambda: c(torch.randn(2, 3), torch.randn(2, 3, 4)))
t(lambda: c(torch.randn(3), torch.randn(2, 4)))
t(lambda: c(torch.randn(2, 3), torch.randn(4)))
t(lambda: nn.RNNCell(3, 4, nonlinearity='foo')(torch.randn(2, 3)))

l = nn.LSTMCell(3, 4)
t(lambda: l(torch.randn(2, 3), (torch.randn(2, 4), torch.randn(3, 4))))
t(lambda: l(torch.randn(2, 3), (torch.randn(2, 4), torch.randn(2, 5))))
t(lambda: l(torch.randn(2, 3), (torch.randn(2, 4),)))
t(lambda: l(torch.randn(2, 3, 1)))
t(lambda: l(torch.randn(2, 3), (torch.randn(2, 4), torch.randn(2, 4, 1))))
t(lambda: l(torch.randn(3), (torch.randn(4), torch.randn(4))))

g = nn.GRUCell(3, 4)
t(lambda: g(torch.randn(2, 5)))
t(lambda: g(torch.randn(2, 3), torch.randn(3, 4)))
t(lambda: g(torch.randn(2, 3, 1)))
t(lambda: g(torch.randn(2, 3), torch.randn(2, 3, 1)))

for name in ['RNN', 'GRU']:
    r = getattr(nn, name)(3, 4)
    t(lambda: r(torch.randn(5, 2, 3, 1)))
    t(lambda: r(torch.randn(5)))
    t(lambda: r(torch.randn(5, 2, 5)))
    t(lambda: r(torch.randn(5, 2, 3), torch.randn(1, 3, 4)))
    t(lambda: r(torch.randn(5, 2, 3), torch.randn(2, 4)))
    t(lambda: r(torch.randn(5, 3), torch.randn(1, 2, 4)))
    t(lambda: r(torch.randn(5, 3), torch.randn(2, 4)))
    t(lambda: r(torch.randn(5, 2, 3).double()))
    t(lambda: r(torch.randn(0, 2, 3)))

l = nn.LSTM(3, 4)
t(lambda: l(torch.randn(5, 2, 3), (torch.randn(1, 2, 4), torch.randn(1, 2, 5))))
t(lambda: l(torch.randn(5, 2, 3), (torch.randn(1, 3, 4), torch.randn(1, 2, 4))))
t(lambda: l(torch.randn(5, 2, 3), (torch.randn(2, 4), torch.randn(1, 2, 4))))
t(lambda: l(torch.randn(5, 3), (torch.randn(1, 2, 4), torch.randn(1, 2, 4))))
t(lambda: l(torch.randn(5, 2, 3, 3)))
t(lambda: l(torch.randn(5, 2, 3).double()))
t(lambda: l(torch.randn(0, 2, 3)))
t(lambda: nn.LSTM(3, 4, proj_size=2)(torch.randn(5, 2, 3), (torch.randn(1, 2, 4), torch.randn(1, 2, 4))))
t(lambda: nn.LSTM(3, 4, 2, bidirectional=True, proj_size=2)(torch.randn(5, 3), (torch.randn(4, 2), torch.randn(4, 4))))
t(lambda: nn.GRU(3, 4, 2, batch_first=True)(torch.randn(2, 5, 3), torch.randn(2, 5, 4)))
"""


def test_errors_as_torch():
    ours, theirs = _exec(ERRORS, tg), _exec(ERRORS, torch)
    assert ours == theirs


def test_default_init_is_torchs_distribution():
    tg.manual_seed(0)
    for m in (tg.nn.LSTM(20, 100, num_layers=2, bidirectional=True, proj_size=50),
              tg.nn.GRUCell(20, 100)):
        bound = 1 / math.sqrt(100)
        for n, p in m.named_parameters():
            a = np.abs(p.detach().numpy())
            assert a.max() <= bound and a.max() > 0.98 * bound, n
            assert p.dtype == tg.float32 and p.requires_grad
    m = tg.nn.GRU(3, 4, dtype=tg.float64)
    assert {p.dtype for p in m.parameters()} == {tg.float64}


def test_state_dict_round_trip_from_torch():
    torch.manual_seed(1)
    pm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    tm = tg.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    assert str(tm.load_state_dict({k: tg.tensor(v.numpy()) for k, v in
                                   pm.state_dict().items()})) == "<All keys matched successfully>"
    sd = tm.state_dict()
    assert list(sd) == list(pm.state_dict())
    for k, v in pm.state_dict().items():
        assert np.array_equal(sd[k].numpy(), v.numpy())
    back = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in sd.items()})
    x = torch.randn(5, 2, 3)
    assert torch.equal(back(x)[0], pm(x)[0])


def test_replaced_weights_are_used():
    """functional_call and assignment reach the recurrence (no stale flat-weight cache)."""
    m = tg.nn.GRU(3, 4)
    x = tg.randn(5, 2, 3)
    zeros = {n: tg.zeros(*p.shape) for n, p in m.named_parameters()}
    out = tg.func.functional_call(m, zeros, (x,))[0]
    np.testing.assert_array_equal(out.detach().numpy(), 0.0)
    m.weight_ih_l0 = tg.nn.Parameter(tg.zeros(12, 3))
    m.weight_hh_l0 = tg.nn.Parameter(tg.zeros(12, 4))
    assert m._flat_weights[0] is m.weight_ih_l0
    np.testing.assert_array_equal(m(x)[0].detach().numpy(), m(x * 2)[0].detach().numpy())


def test_flat_weights_read_each_weight_as_an_attribute():
    """_flat_weights reads every name as attribute access does, once: a deleted weight is
    None, a plain tensor or a buffer set in its place is that tensor, a subclass's property
    of that name is what it returns."""
    class Tied(tg.nn.LSTM):
        @property
        def weight_hh_l0(self):
            return self.tied

    m = tg.nn.LSTM(3, 4)
    flat = m._flat_weights
    assert [w is getattr(m, n) for w, n in zip(flat, m._flat_weights_names)] == [True] * 4
    del m.bias_hh_l0
    assert m._flat_weights[3] is None
    plain = tg.ones(16)
    m.bias_hh_l0 = plain        # (no longer a Parameter: an attribute in the dict)
    assert m._flat_weights[3] is plain
    del m.bias_ih_l0
    m.register_buffer("bias_ih_l0", tg.zeros(16))
    assert m._flat_weights[2] is m._buffers["bias_ih_l0"]
    t = Tied.__new__(Tied)
    tg.nn.Module.__init__(t)
    t._flat_weights_names = ["weight_ih_l0", "weight_hh_l0"]
    t.tied = tg.zeros(16, 4)
    assert t._flat_weights == [None, t.tied]


# ---- end to end ------------------------------------------------------------------------------
def _train(M, state, dtype, steps=6):
    dt = getattr(M, dtype)

    class Seq(M.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = M.nn.LSTM(3, 8, num_layers=2, batch_first=True)
            self.head = M.nn.Linear(8, 1)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    model = Seq().to(dt)
    model.load_state_dict({k: M.tensor(v) for k, v in state.items()})
    opt = M.optim.Adam(model.parameters(), lr=0.01)
    x = M.tensor(np.sin(np.linspace(0, 6, 4 * 7 * 3)).reshape(4, 7, 3), dtype=dt)
    y = M.tensor(np.cos(np.arange(4.0)).reshape(4, 1), dtype=dt)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = M.nn.MSELoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_an_lstm_gives_torchs_losses(dtype):
    torch.manual_seed(0)
    lstm, head = torch.nn.LSTM(3, 8, num_layers=2, batch_first=True), torch.nn.Linear(8, 1)
    state = {**{"lstm." + k: v.numpy() for k, v in lstm.state_dict().items()},
             **{"head." + k: v.numpy() for k, v in head.state_dict().items()}}
    ours, theirs = _train(tg, state, dtype), _train(torch, state, dtype)
    assert ours[-1] < ours[0]
    tol = dict(rtol=1e-10) if dtype == "float64" else dict(rtol=1e-4)
    np.testing.assert_allclose(ours, theirs, **tol)


def test_linear_of_a_non_contiguous_sequence_as_torch():
    """The input map of a batch_first sequence (a transposed, non-contiguous input): torch's
    linear runs matmul then adds the bias (AddBackward0), not the flattened addmm."""
    out = []
    arrays = [RNG.standard_normal((2, 5, 3)), RNG.standard_normal((4, 3)),
              RNG.standard_normal(4)]
    for M in (tg, torch):
        x, w, b = (M.tensor(a, requires_grad=True) for a in arrays)
        ys = [M.nn.functional.linear(x.transpose(0, 1), w, b), M.nn.functional.linear(x, w, b)]
        (ys[0].sum() + (ys[1] * ys[1]).sum()).backward()
        out.append(([_chain(y.grad_fn, 3) for y in ys], ys[0].detach().numpy(),
                    x.grad.numpy(), w.grad.numpy(), b.grad.numpy()))
    assert out[0][0] == out[1][0]
    for a, b in zip(out[0][1:], out[1][1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ---- packed sequences ------------------------------------------------------------------------
PACK = """
U = nn.utils.rnn
x = torch.tensor(np.arange(30.0).reshape(5, 3, 2))
ps = U.pack_padded_sequence(x, [5, 3, 2])
print(ps)
print(ps.batch_sizes.dtype, type(ps).__name__, isinstance(ps, tuple), ps._fields)
ps = U.pack_padded_sequence(x, torch.tensor([2.0, 5.0, 3.0]), enforce_sorted=False)
print(ps)
print(U.pad_packed_sequence(ps))
print(U.pad_packed_sequence(ps, batch_first=True, padding_value=-1.0, total_length=6))
print(U.pack_padded_sequence(x.transpose(0, 1), [3, 5, 1], batch_first=True, enforce_sorted=False))
print(U.pad_sequence([x[:2, 0], x[:4, 1], x[:1, 2]]))
print(U.pad_sequence([x[:2, 0], x[:4, 1]], batch_first=True, padding_value=9.0, padding_side='left'))
print(U.pad_sequence(x[:2]).shape, U.pad_sequence((s for s in [x[0], x[1, :2]])).shape)
print(U.pack_sequence([x[:2, 0], x[:4, 1], x[:1, 2]], enforce_sorted=False))
print(U.unpack_sequence(ps))
padded, lengths = U.pad_packed_sequence(ps, batch_first=True)
print(U.unpad_sequence(padded, lengths, batch_first=True))
print(U.unpad_sequence(U.pad_packed_sequence(ps)[0], lengths))
print(U.invert_permutation(torch.tensor([2, 0, 3, 1])), U.invert_permutation(None))
print(ps.double().data.dtype, ps.float().data.dtype, ps.to(torch.float64).unsorted_indices, ps.to(torch.float64).to(torch.float64).data.dtype, ps.is_cuda)
a, b = torch.ones(3, 2, requires_grad=True), torch.ones(1, 2, requires_grad=True)
for bf in (False, True):
    s = U.pad_sequence([a, b * 2], batch_first=bf, padding_side='left')
    s.backward(torch.arange(12.0).reshape(s.shape))
    print(s.grad_fn.name(), [type(f).__name__ for f, _ in s.grad_fn.next_functions], a.grad, b.grad)
print(U.PackedSequence(ps.data, ps.batch_sizes) == (ps.data, ps.batch_sizes, None, None), U.PackedSequence((ps.data, ps.batch_sizes)).batch_sizes)

def t(f):
    try:
        print('ok', f())
    except Exception as e:
        print(type(e).__name__, ':', e)
t(lambda: U.pack_padded_sequence(x, [4, 2]))
t(lambda: U.pack_padded_sequence(x, [4, 2, 0]))
t(lambda: U.pack_padded_sequence(x, [2, 4, 1]))
t(lambda: U.pack_padded_sequence(torch.zeros(0, 3, 2), [2, 4, 1]))
t(lambda: U.pack_padded_sequence(torch.zeros(4), [4]))
t(lambda: U.pad_packed_sequence(U.pack_padded_sequence(x, [4, 2, 1]), total_length=3))
t(lambda: U.pad_sequence([]))
t(lambda: U.pad_sequence(3))
t(lambda: U.pad_sequence([x[0], x[1]], padding_side='middle'))
t(lambda: U.pad_sequence([x[:2, 0], x[:1, 1, :1]]))
t(lambda: U.pad_sequence([x[:2, 0], x[:1, 1, :1]], batch_first=True))
t(lambda: U.pad_sequence([torch.zeros(2, 3), torch.zeros(1, 2)], batch_first=True))
t(lambda: U.pad_sequence([torch.zeros(2, 3, 2), torch.zeros(1, 3)]))
t(lambda: U.PackedSequence(x))
p = torch.tensor(np.arange(12.0).reshape(4, 3))
print(U.unpad_sequence(p, torch.tensor([4, 2, 1])), p.shape, p._version)   # transposed in place
t(lambda: U.unpad_sequence(p, torch.tensor([4, 2])))
t(lambda: U.unpad_sequence(p, torch.tensor([4, 2, 1, 1, 1]), batch_first=True))
"""


def test_packing_utilities_as_torch():
    assert _exec(PACK, tg) == _exec(PACK, torch)


def _packed_run(M, m, arrays, lengths, with_h, lstm, enforce_sorted, batch_first):
    dt = m.weight_ih_l0.dtype
    U = M.nn.utils.rnn
    x, h0, c0 = (M.tensor(a, dtype=dt, requires_grad=True) for a in arrays)
    ps = U.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    hx = None if not with_h else ((h0, c0) if lstm else h0)
    with _composite(M):
        out, h = m(ps, hx)
    hs = list(h) if lstm else [h]
    padded, lens = U.pad_packed_sequence(out, batch_first)
    loss = (padded * padded).sum() + sum((t * t * t).sum() for t in hs)
    loss.backward()
    return (type(out).__name__, [padded.detach().numpy()] + [t.detach().numpy() for t in hs],
            [x.grad.numpy()] + ([h0.grad.numpy()] if with_h else []),
            {n: p.grad.numpy() for n, p in m.named_parameters()},
            [_chain(out.data.grad_fn, 5)] + [_chain(t.grad_fn, 5) for t in hs],
            lens.tolist(), out.batch_sizes.tolist())


PACKED = [("RNN", {}), ("RNN", {"nonlinearity": "relu", "num_layers": 2, "batch_first": True}),
          ("GRU", {"num_layers": 2, "bidirectional": True}),
          ("LSTM", {"bidirectional": True, "proj_size": 2, "batch_first": True}),
          ("LSTM", {"num_layers": 2, "bias": False})]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sort", [True, False], ids=["sorted", "unsorted"])
@pytest.mark.parametrize("with_h", [False, True], ids=["no-h0", "h0"])
@pytest.mark.parametrize("name,kw", PACKED, ids=[_net_id(c) for c in PACKED])
def test_packed_input_matches_torch(name, kw, with_h, sort, dtype):
    lstm, bf = name == "LSTM", kw.get("batch_first", False)
    lengths = [5, 3, 3, 1] if sort else [3, 5, 1, 3]
    n = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    arrays = [RNG.standard_normal((4, 5, I) if bf else (5, 4, I)),
              RNG.standard_normal((n, 4, kw.get("proj_size") or H)),
              RNG.standard_normal((n, 4, H))]
    torch.manual_seed(0)
    pm = getattr(torch.nn, name)(I, H, **kw).to(getattr(torch, dtype))
    tm = getattr(tg.nn, name)(I, H, **kw).to(getattr(tg, dtype))
    _copy_weights(tm, pm)
    ours = _packed_run(tg, tm, arrays, lengths, with_h, lstm, sort, bf)
    theirs = _packed_run(torch, pm, arrays, lengths, with_h, lstm, sort, bf)
    assert ours[0] == theirs[0] == "PackedSequence"
    assert ours[4:] == theirs[4:]
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    for a, b in zip(ours[1] + ours[2], theirs[1] + theirs[2]):
        np.testing.assert_allclose(a, b, **tol)
    for k in theirs[3]:
        np.testing.assert_allclose(ours[3][k], theirs[3][k], **tol, err_msg=k)


def test_packed_errors_as_torch():
    src = """
U = nn.utils.rnn
ps = U.pack_padded_sequence(torch.randn(5, 3, 2), [5, 3, 2])
for m, hx in [(nn.GRU(2, 4), torch.zeros(1, 2, 4)), (nn.RNN(3, 4), None), (nn.LSTM(2, 4), (torch.zeros(1, 3, 4), torch.zeros(1, 2, 4))),
              (nn.LSTM(2, 4, proj_size=1), (torch.zeros(1, 3, 4), torch.zeros(1, 3, 4))), (nn.GRU(2, 4).double(), None)]:
    try:
        m(ps, hx)
    except Exception as e:
        print(type(e).__name__, e)
"""
    assert _exec(src, tg) == _exec(src, torch)



def test_pack_padded_lengths_errors_as_torch():
    """A lengths argument of another rank than 1 (a (1, B) tensor from a stray unsqueeze, a
    number) is torch's RuntimeError, not flattened into B lengths."""
    src = """
U = nn.utils.rnn
for lengths in [torch.tensor([[3, 1]]), torch.tensor(3), [[3, 1]], [3, 0], [3], [1, 3]]:
    try:
        print(U.pack_padded_sequence(torch.ones(3, 2), lengths))
    except Exception as e:
        print(type(e).__name__, e)
"""
    assert _exec(src, tg) == _exec(src, torch)

def test_gradcheck_packed():
    m = tg.nn.LSTM(2, 3, bidirectional=True).double()
    U = tg.nn.utils.rnn

    def f(x, h0, c0):
        out, (h, c) = m(U.pack_padded_sequence(x, [1, 3, 2], enforce_sorted=False), (h0, c0))
        return U.pad_packed_sequence(out)[0], h, c

    ins = (tg.randn(3, 3, 2, dtype=tg.float64, requires_grad=True),
           tg.randn(2, 3, 3, dtype=tg.float64, requires_grad=True),
           tg.randn(2, 3, 3, dtype=tg.float64, requires_grad=True))
    assert tg.autograd.gradcheck(f, ins)


def test_compiled_training_step_matches_eager():
    """tapegrad.compile of a GRU + LSTM training step replays the eager step's losses."""
    x = tg.tensor(RNG.standard_normal((6, 3, 2)))
    y = tg.tensor(RNG.standard_normal((3, 1)))
    runs = []
    for compiled in (False, True):
        tg.manual_seed(0)
        gru = tg.nn.GRU(2, 4, bidirectional=True).double()
        lstm = tg.nn.LSTM(8, 3, proj_size=1, batch_first=True).double()
        params = list(gru.parameters()) + list(lstm.parameters())
        opt = tg.optim.Adam(params, lr=0.05)

        def step(x, y):
            opt.zero_grad()
            out, _ = lstm(gru(x)[0].transpose(0, 1))
            loss = ((out[:, -1] - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        f = tg.compile(step) if compiled else step
        runs.append([float(f(x, y)) for _ in range(4)])
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-12)
    assert runs[0][-1] < runs[0][0]


# ---- the one-pass gate writer (nn/_gates.py) against the steps' tensor ops -----------------
def _gate_run(monkeypatch, fast, make, arrays, dtype, lstm, state, loop=False, kind="nn"):
    """A fresh tape, then `make(tg.nn)` on `arrays` with _gates' writers on or off: (tape
    facts, grad_fn chains, outputs, gradients of every input and parameter, second
    derivatives of a create_graph backward, how many steps the writers took)."""
    from test_eager_nn import _facts
    from tapegrad.nn import _gates
    from tapegrad.tape import CLOSED, STATE
    taken = []
    for name in ("lstm", "gru"):
        real = getattr(_gates, name)
        monkeypatch.setattr(_gates, name, (lambda real: lambda *a: taken.append(
            r := real(*a)) or r)(real) if fast else lambda *a: None)
    # (a float32 LSTM's composite path: oneDNN's node, not the steps, where torch takes it)
    monkeypatch.setattr(tg.backends.mkldnn, "enabled", False)
    dt = getattr(tg, dtype)
    tg.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = make(tg.nn).to(dt)
    STATE.tape = CLOSED
    x0 = [tg.tensor(a, dtype=dt, requires_grad=state != "constant") for a in arrays]
    xs = [x * 1.0 for x in x0] if state == "non-leaf" else x0
    if loop:   # a cell stepped over the sequence in a Python loop, as users write it
        h = xs[1:] or None
        outs = []
        for x in xs[0]:
            h = m(x, None if h is None else (tuple(h) if lstm else h[0]))
            outs.append(h[0] if lstm else h)
            h = list(h) if lstm else [h]
        outs = _flat(outs) + _flat(h)
    else:
        outs = _flat(m(*_args(tg, xs, lstm)))
    tape = outs[0]._tape
    params = list(m.parameters())
    facts = _facts(tape, x0 + xs + params + outs)
    loss = sum((o * tg.tensor(np.linspace(-1.0, 2.0, o.numel()).reshape(tuple(o.shape)),
                              dtype=dt)).sum() for o in outs)
    ins = [x for x in x0 if x.requires_grad] + params
    grads = tg.autograd.grad(loss, ins, create_graph=True, allow_unused=True)
    used = [g for g in grads if g is not None and g.requires_grad]
    second = tg.autograd.grad(sum((g * g).sum() for g in used), params, allow_unused=True) \
        if used else ()
    return dict(facts=facts, chains=[_chain(o.grad_fn, 12) for o in outs],
                outs=[o.detach().numpy() for o in outs],
                grads=[None if g is None else g.detach().numpy() for g in grads],
                second=[None if g is None else g.numpy() for g in second],
                taken=[r is not None for r in taken])


def _assert_gate_runs_equal(fast, slow):
    assert fast["facts"] == slow["facts"]
    assert fast["chains"] == slow["chains"]
    for key in ("outs", "grads", "second"):
        assert len(fast[key]) == len(slow[key])
        for a, b in zip(fast[key], slow[key]):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)


GATE_CASES = [   # (id, make, lstm, input shapes, loop)
    ("LSTM", lambda nn: nn.LSTM(I, H), True, [(T, B, I), (1, B, H), (1, B, H)], False),
    ("LSTM-2-bi-bf", lambda nn: nn.LSTM(I, H, 2, batch_first=True, bidirectional=True),
     True, [(B, T, I), (4, B, H), (4, B, H)], False),
    ("LSTM-proj", lambda nn: nn.LSTM(I, H, proj_size=2), True, [(T, B, I), (1, B, 2),
                                                                 (1, B, H)], False),
    ("LSTM-unbatched", lambda nn: nn.LSTM(I, H, bias=False), True, [(T, I), (1, H), (1, H)],
     False),
    ("GRU", lambda nn: nn.GRU(I, H), False, [(T, B, I), (1, B, H)], False),
    ("GRU-2-bi-bf", lambda nn: nn.GRU(I, H, 2, batch_first=True, bidirectional=True), False,
     [(B, T, I), (4, B, H)], False),
    ("LSTMCell-loop", lambda nn: nn.LSTMCell(I, H), True, [(T, B, I), (B, H), (B, H)], True),
    ("GRUCell-loop", lambda nn: nn.GRUCell(I, H, bias=False), False, [(T, B, I), (B, H)], True),
    ("LSTMCell-loop-no-hx", lambda nn: nn.LSTMCell(I, H), True, [(T, B, I)], True),
    ("GRU-one-element", lambda nn: nn.GRU(I, 1), False, [(T, 1, I), (1, 1, 1)], False),
]


@pytest.mark.parametrize("state", ["leaf", "non-leaf", "constant"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", GATE_CASES, ids=[c[0] for c in GATE_CASES])
def test_gate_writer_writes_the_steps_entries(monkeypatch, case, dtype, state):
    """Where _gates takes a step (every step whose state is a node of the open tape: all but
    the first from a leaf or default state) it appends what the step's tensor ops do: the
    same tape facts, grad_fn chains, values, gradients and second derivatives, bit for bit."""
    _, make, lstm, shapes, loop = case
    arrays = [RNG.standard_normal(s) for s in shapes]
    fast = _gate_run(monkeypatch, True, make, arrays, dtype, lstm, state, loop)
    slow = _gate_run(monkeypatch, False, make, arrays, dtype, lstm, state, loop)
    _assert_gate_runs_equal(fast, slow)
    # each layer-direction's first step reads the initial state: a node of the tape (an
    # unbind of hx, or a non-leaf a loop passes), else a leaf or constant the writer leaves
    first = len(shapes) > 1 and (state == "non-leaf" or state == "leaf" and not loop)
    taken = ([first] + [True] * (T - 1)) * (4 if "-2-bi" in case[0] else 1)
    if case[0] == "GRU-one-element":       # (one-element pieces: _split's own case)
        taken = [False] * T
    assert fast["taken"] == taken


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "record"])
@pytest.mark.parametrize("lstm", [True, False], ids=["LSTM", "GRU"])
def test_gate_writer_leaves_other_cases_to_the_tensor_ops(monkeypatch, lstm, mode):
    """No tape (no_grad, inference mode) and a tape recording for replay (the tensor ops'
    own guards and baking): the writer declines every step, and the results are torch's."""
    from tapegrad.nn import _gates
    taken = []
    real = getattr(_gates, "lstm" if lstm else "gru")
    monkeypatch.setattr(_gates, "lstm" if lstm else "gru",
                        lambda *a: taken.append(r := real(*a)) or r)
    arrays = [RNG.standard_normal((T, B, I)), RNG.standard_normal((B, H)),
              RNG.standard_normal((B, H))]
    torch.manual_seed(0)
    pm = (torch.nn.LSTMCell if lstm else torch.nn.GRUCell)(I, H)
    tm = (tg.nn.LSTMCell if lstm else tg.nn.GRUCell)(I, H)
    _copy_weights(tm, pm)

    def run(M, m, xs, h, c):
        for x in xs:
            h = m(x, (h, c)) if lstm else m(x, h)
            h, c = h if lstm else (h, None)
        return h

    def ref(*a):
        with torch.no_grad():
            return run(torch, pm, *[torch.tensor(v, dtype=torch.float32) for v in a]).numpy()
    if mode == "record":
        f = tg.record(lambda *a: run(tg, tm, *a).sum(),
                      *[tg.tensor(a, dtype=tg.float32) for a in arrays])
        value, grads = f.value_and_grad(*[a.astype(np.float32) for a in arrays])
        np.testing.assert_allclose(value, ref(*arrays).sum(), rtol=1e-5)
    else:
        with getattr(tg, mode)():
            out = run(tg, tm, *[tg.tensor(a, dtype=tg.float32) for a in arrays])
        assert not out.requires_grad
        # (float32 matmuls summed in another order than torch's BLAS: a last-bit difference
        # in an element near zero is over any rtol, hence the atol)
        np.testing.assert_allclose(out.numpy(), ref(*arrays), rtol=1e-5, atol=1e-6)
    assert len(taken) >= T and not any(r is not None for r in taken)


def test_gate_writer_declines_operands_outside_its_case():
    """Direct calls: a state of another dtype (the ops promote), a leaf or constant state (its
    entry is made by the op that reads it), a state of other sizes (the ops broadcast or
    raise), gates not cut evenly, a Parameter; then the case itself."""
    from tapegrad.nn import _gates

    def node(shape, dtype=tg.float32):
        return tg.randn(*shape, dtype=dtype, requires_grad=True) * 1.0
    g4, g3, h = node((B, 4 * H)), node((B, 3 * H)), node((B, H))
    for c in (node((B, H), tg.float64), tg.randn(B, H, requires_grad=True), tg.randn(B, H),
              node((B, H + 1)), node((1, H))):
        assert _gates.lstm(g4, c) is None
        assert _gates.gru(g3, g3, c) is None
    assert _gates.lstm(node((B, 4 * H + 2)), h) is None
    assert _gates.gru(g3, node((B, 3 * H), tg.float64), h) is None
    assert _gates.lstm(tg.nn.Parameter(g4.detach()), h) is None
    hy, cy = _gates.lstm(g4, h)
    assert (hy.grad_fn.name(), cy.grad_fn.name()) == ("MulBackward0", "AddBackward0")
    assert _gates.gru(g3, g3, h).grad_fn.name() == "AddBackward0"


@pytest.mark.parametrize("lstm", [True, False], ids=["LSTM", "GRU"])
def test_gate_writer_across_sealed_tapes(monkeypatch, lstm):
    """Tapes sealed every few steps (a tiny saved-bytes budget): the steps go on across
    tapes through imports as the tensor ops' do; values, gradients and chains as the ops'."""
    import tapegrad.tape as tape_mod
    from tapegrad.nn import _gates
    # (2000 B of saved data and 40 entries: the entries count towards the budget too)
    monkeypatch.setattr(tape_mod, "MAX_SAVED_BYTES", 2000 + 40 * tape_mod.ENTRY_BYTES)
    arrays = [RNG.standard_normal((T, B, I)), RNG.standard_normal((1, B, H)),
              RNG.standard_normal((1, B, H))][:3 if lstm else 2]
    make = (lambda nn: nn.LSTM(I, H)) if lstm else (lambda nn: nn.GRU(I, H))
    runs = []
    for fast in (True, False):
        taken = []
        real = getattr(_gates, "lstm" if lstm else "gru")
        monkeypatch.setattr(_gates, "lstm" if lstm else "gru", (
            lambda *a: taken.append(r := real(*a)) or r) if fast else lambda *a: None)
        tg.manual_seed(0)
        runs.append(_run(tg, make, arrays, "float64", lstm, depth=14))
        monkeypatch.setattr(_gates, "lstm" if lstm else "gru", real)
        if fast:
            assert any(r is None for r in taken) and any(r is not None for r in taken)
    fast, slow = runs
    assert fast["chains"] == slow["chains"]
    for key in ("outs", "xgrads"):
        for a, b in zip(fast[key], slow[key]):
            np.testing.assert_array_equal(a, b)
    for n in slow["pgrads"]:
        np.testing.assert_array_equal(fast["pgrads"][n], slow["pgrads"][n])


# ---- torch's oneDNN LSTM (float32): one MkldnnRnnLayerBackward0 per layer-direction --------
def _onednn_pair(kw, train=True):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm, tm = torch.nn.LSTM(I, H, **kw), tg.nn.LSTM(I, H, **kw)
    _copy_weights(tm, pm)
    pm.train(train)
    tm.train(train)
    return tm, pm


def _onednn_run(M, m, arrays, grads, dtype="float32", composite=False):
    """(outputs, chains to depth 6, the gradients of the tensors whose flag in `grads` is
    set (input, h0, c0, then the parameters; a parameter not flagged requires no grad))."""
    dt = getattr(M, dtype)
    m = m.to(dt)
    xs = [M.tensor(a, dtype=dt, requires_grad=g) for a, g in zip(arrays, grads)]
    params = list(m.parameters())
    for p, g in zip(params, grads[len(arrays):]):
        p.requires_grad_(g)
    M.manual_seed(0)
    with _composite(M) if composite else contextlib.nullcontext():
        outs = _flat(m(*_args(M, xs, len(xs) == 3)))
    leaves = [t for t in xs + params if t.requires_grad]
    loss = sum((o * M.tensor(np.linspace(-1.0, 2.0, o.numel()).reshape(tuple(o.shape)),
                             dtype=dt)).sum() for o in outs)
    gs = M.autograd.grad(loss, leaves) if leaves else ()
    return ([o.detach().numpy() for o in outs], [_chain(o.grad_fn, 6) for o in outs],
            [g.numpy() for g in gs])


ONEDNN_CASES = [   # (id, LSTM keywords, train, input shape, with h0/c0, requires_grad flags)
    ("plain", {}, True, (T, B, I), False, None),
    ("batch_first", {"batch_first": True}, True, (B, T, I), False, None),
    ("no-bias-h0", {"bias": False}, True, (T, B, I), True, None),
    ("bi-bf-h0", {"bidirectional": True, "batch_first": True}, True, (B, T, I), True, None),
    ("2-layers-dropout", {"num_layers": 2, "dropout": 1.0}, True, (T, B, I), True, None),
    ("2-layers-dropout-eval", {"num_layers": 2, "dropout": 0.5}, False, (T, B, I), False,
     None),
    ("unbatched-h0", {}, True, (T, I), True, None),
    ("unbatched-bf", {"batch_first": True}, True, (T, I), False, None),
    ("input-only", {}, True, (T, B, I), True, [True, False, False] + [False] * 4),
    ("states-only", {"bidirectional": True}, True, (T, B, I), True,
     [False, True, True] + [False] * 8),
    ("weights-only", {}, True, (B, T, I), True, [False, False, False] + [True] * 4),
    ("c0-and-w_hh", {}, True, (T, B, I), True, [False, False, True, False, True, False,
                                                 False]),
]


@pytest.mark.parametrize("case", ONEDNN_CASES, ids=[c[0] for c in ONEDNN_CASES])
def test_onednn_lstm_as_torch(case):
    """torch's float32 LSTM node: grad_fn chains (MkldnnRnnLayerBackward0 with edges input,
    w_ih, w_hh, b_ih, b_hh, hx, cx; the batch_first transpose and clone, Select of the
    states, Cat of the directions, Mul of dropout, Stack of the last states), values and
    gradients over the options and requires_grad mixes; and the composite path's results
    (oneDNN off) to round-off."""
    _, kw, train, shape, with_h, flags = case
    tm, pm = _onednn_pair(kw, train)
    arrays = [RNG.standard_normal(shape)]
    if with_h:
        n = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
        lead = (n, shape[0] if kw.get("batch_first") else shape[1]) if len(shape) == 3 \
            else (n,)
        arrays += [RNG.standard_normal(lead + (H,)) for _ in range(2)]
    flags = flags or [True] * (len(arrays) + len(list(pm.parameters())))
    ours = _onednn_run(tg, tm, arrays, flags)
    theirs = _onednn_run(torch, pm, arrays, flags)
    assert ours[1] == theirs[1]
    assert "MkldnnRnnLayerBackward0" in repr(ours[1][0])
    tg.backends.mkldnn.enabled = False
    try:
        general = _onednn_run(tg, tm, arrays, flags)
    finally:
        tg.backends.mkldnn.enabled = True
    assert "MkldnnRnnLayerBackward0" not in repr(general[1])
    for other in (theirs, general):
        assert len(ours[2]) == len(other[2])
        for a, b in zip(ours[0] + ours[2], other[0] + other[2]):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_onednn_lstm_node_faces():
    """The node's edges in torch's order and roles, the output numbers of h_n's and c_n's
    edges, name, repr, and its hooks (grad_inputs one per edge)."""
    tm, pm = _onednn_pair({})
    xs = RNG.standard_normal((T, B, I))
    seen = []
    for M, m in ((tg, tm), (torch, pm)):
        x = M.tensor(xs, dtype=M.float32, requires_grad=True)
        h0 = M.zeros(1, B, H, requires_grad=True)
        y, (h, c) = m(x, (h0, M.zeros(1, B, H)))
        fn = y.grad_fn
        edges = [(None if f is None else f.name(), k) for f, k in fn.next_functions]
        assert fn.next_functions[0][0].variable is x
        assert [f.variable for f, _ in fn.next_functions[1:5]] == list(m.parameters())
        assert fn.next_functions[5][0].next_functions[0][0].variable is h0
        assert h.grad_fn.next_functions[0] == (fn, 1) and c.grad_fn.next_functions[0] == (fn, 2)
        got = []
        fn.register_prehook(lambda go: got.append([None if g is None else tuple(g.shape)
                                                   for g in go]))
        fn.register_hook(lambda gi, go: got.append([None if g is None else tuple(g.shape)
                                                    for g in gi]))
        h.sum().backward()
        seen.append((fn.name(), type(fn).__name__, repr(fn).split(" object")[0], edges, got,
                     x.grad.numpy()))
    assert seen[0][:5] == seen[1][:5]
    assert seen[0][0] == "MkldnnRnnLayerBackward0"
    np.testing.assert_allclose(seen[0][5], seen[1][5], rtol=2e-5, atol=2e-6)


def test_onednn_lstm_one_element_as_torch():
    """One step, batch, feature and hidden unit (one-element tensors, held as numbers)."""
    torch.manual_seed(0)
    pm, tm = torch.nn.LSTM(1, 1), tg.nn.LSTM(1, 1)
    _copy_weights(tm, pm)
    seen = []
    for M, m in ((tg, tm), (torch, pm)):
        x = M.tensor([[[0.7]]], requires_grad=True)
        h0 = M.tensor([[[0.3]]], requires_grad=True)
        y, (h, c) = m(x, (h0, h0 * 2))
        (y.sum() * 2 + c.sum()).backward()
        seen.append((y.grad_fn.name(), [t.detach().numpy() for t in (y, h, c, x.grad, h0.grad)]
                     + [p.grad.numpy() for p in m.parameters()]))
    assert seen[0][0] == seen[1][0] == "MkldnnRnnLayerBackward0"
    for a, b in zip(seen[0][1], seen[1][1]):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_onednn_lstm_non_contiguous_operands_as_torch():
    """A non-contiguous input and states (contiguous(): CloneBackward0 before the node, as
    torch's) and a transposed weight: chains, values and gradients as torch's."""
    tm, pm = _onednn_pair({})
    xs, hs = RNG.standard_normal((B, T, I)), RNG.standard_normal((B, 1, H))
    seen = []
    for M, m in ((tg, tm), (torch, pm)):
        m.weight_hh_l0 = M.nn.Parameter(m.weight_hh_l0.detach().t().contiguous().t())
        assert not m.weight_hh_l0.is_contiguous()
        x = M.tensor(xs, dtype=M.float32, requires_grad=True)
        h0 = M.tensor(hs, dtype=M.float32, requires_grad=True)
        y, (h, c) = m(x.transpose(0, 1), (h0.transpose(0, 1), h0.transpose(0, 1) * 2))
        (y.sum() + (h * c).sum()).backward()
        seen.append(([_chain(t.grad_fn, 6) for t in (y, h, c)],
                     [t.detach().numpy() for t in (y, h, c, x.grad, h0.grad)] +
                     [p.grad.numpy() for p in m.parameters()]))
    assert seen[0][0] == seen[1][0]
    assert seen[0][0][0][1][0][0] == "CloneBackward0"
    for a, b in zip(seen[0][1], seen[1][1]):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("kw", [{}, {"bidirectional": True, "batch_first": True}])
def test_onednn_lstm_second_derivatives_as_torch(kw):
    """create_graph through the node (its gradients from the composite layer run again):
    first and second derivatives as torch's, the states and parameters too."""
    tm, pm = _onednn_pair(kw)
    shape = (B, T, I) if kw else (T, B, I)
    xs, hs = RNG.standard_normal(shape), RNG.standard_normal((2 if kw else 1, B, H))
    out = []
    for M, m in ((tg, tm), (torch, pm)):
        x = M.tensor(xs, dtype=M.float32, requires_grad=True)
        h0 = M.tensor(hs, dtype=M.float32, requires_grad=True)
        y, (h, c) = m(x, (h0, h0 * 0.5))
        gx, gh, gw = M.autograd.grad((y ** 2).sum() + c.sum(), (x, h0, m.weight_hh_l0),
                                     create_graph=True)
        assert gx.requires_grad and gw.requires_grad
        ((gx ** 2).sum() + (gh * gw.sum()).sum()).backward()
        out.append([t.detach().numpy() for t in (gx, gh, gw, x.grad, h0.grad)] +
                   [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_onednn_lstm_saved_tensors_as_torch():
    """retain_graph, torch's error for a second backward without it, and for a saved input or
    weight changed in place before the backward (the same messages); autograd.grad of some
    inputs only."""
    xs = RNG.standard_normal((T, B, I))
    msgs = []
    for M, m in ((tg, _onednn_pair({})[0]), (torch, torch.nn.LSTM(I, H))):
        x = M.tensor(xs, dtype=M.float32, requires_grad=True)
        y = m(x)[0]
        a, = M.autograd.grad(y.sum(), x, retain_graph=True)
        b, = M.autograd.grad(y.sum(), x)
        assert np.array_equal(a.numpy(), b.numpy())
        got = []
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            M.autograd.grad(y.sum(), x)
        y = m(x)[0]
        with M.no_grad():
            m.weight_hh_l0.mul_(1)
        with pytest.raises(RuntimeError) as e:
            y.sum().backward()
        got.append(str(e.value).split(". Hint")[0].replace(M.__name__ + ".", ""))
        x2 = x * 2
        y = m(x2)[0]
        x2.mul_(2)
        with pytest.raises(RuntimeError) as e:
            y.sum().backward()
        got.append(str(e.value).split(". Hint")[0].replace(M.__name__ + ".", ""))
        h0 = M.zeros(1, B, H, requires_grad=True)
        y, (h, c) = m(x, (h0, h0))
        gh, = M.autograd.grad(c.sum(), h0)
        assert gh.shape == (1, B, H) and x.grad is None and m.weight_ih_l0.grad is None
        msgs.append(got)
    assert "which is output 0 of Mul" in msgs[1][1]
    # (the weight's version: tapegrad's load_state_dict counts one more change than torch's
    # fresh module; the rest of the message is the same)
    assert [re.sub(r"version \d+", "version N", m) for m in msgs[0]] == \
        [re.sub(r"version \d+", "version N", m) for m in msgs[1]]


def _saved_faces(fn, params):
    """The node's `_saved_*` fields as comparable values: a tensor as a list [shape, dtype,
    requires_grad, grad_fn name, which parameter it is, its values], else the value."""
    out = {}
    for a in (a for a in dir(fn) if a.startswith("_saved_")):
        v = getattr(fn, a)
        if hasattr(v, "shape"):
            v = [tuple(v.shape), str(v.dtype).split(".")[-1], v.requires_grad,
                 None if v.grad_fn is None else v.grad_fn.name(),
                 [k for k, p in enumerate(params) if v is p], v.detach().numpy()]
        out[a] = v
    return out


@pytest.mark.parametrize("kw", [{}, {"num_layers": 2, "dropout": 1.0},
                                {"bidirectional": True, "batch_first": True, "bias": False}])
@pytest.mark.parametrize("train", [True, False])
def test_onednn_lstm_saved_fields_as_torch(kw, train):
    """The node's `_saved_*` fields, torch's names and values: the layer's input (the
    batch_first transpose's clone), weights (zeros of the weights' shapes for the biases of
    a layer without them), its initial states, its outputs, and the layer's options (but its
    oneDNN workspace, `_saved_result3`, which tapegrad has not); freed by a backward."""
    tm, pm = _onednn_pair(kw, train)
    shape = (B, T, I) if kw.get("batch_first") else (T, B, I)
    xs = RNG.standard_normal(shape)
    n = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    hs = RNG.standard_normal((n, B, H))
    seen = []
    for M, m in ((tg, tm), (torch, pm)):
        x = M.tensor(xs, dtype=M.float32, requires_grad=True)
        h0 = M.tensor(hs, dtype=M.float32, requires_grad=True)
        y, (h, c) = m(x, (h0, M.zeros(n, B, H)))
        nodes = [f for f, _ in h.grad_fn.next_functions]
        faces = [_saved_faces(f, list(m.parameters())) for f in nodes]
        for f in faces:
            f.pop("_saved_result3", None)
        y.sum().backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            nodes[0]._saved_input
        assert (nodes[0]._saved_hidden_size, nodes[-1]._saved_reverse) == \
            (H, kw.get("bidirectional", False))   # (plain values outlive the backward)
        seen.append(faces)
    assert len(seen[0]) == len(seen[1]) == n
    for ours, theirs in zip(*seen):
        assert ours.keys() == theirs.keys()
        for k in ours:
            if isinstance(ours[k], list):
                assert ours[k][:5] == theirs[k][:5], k
                np.testing.assert_allclose(ours[k][5], theirs[k][5], rtol=1e-4, atol=1e-5)
            else:
                assert ours[k] == theirs[k], k


@pytest.mark.parametrize("onednn", [True, False])
def test_onednn_lstm_states_of_another_dtype_as_torch(onednn):
    """A float32 LSTM given float64 or int64 states: torch's oneDNN kernel refuses them (its
    use_mkldnn looks at the input only), with grad mode on or off; oneDNN off, the composite
    path's matmul refuses the mix."""
    tm, pm = _onednn_pair({})
    seen = []
    for M, m in ((tg, tm), (torch, pm)):
        got = []
        M.backends.mkldnn.enabled = onednn
        try:
            for dt, which, grad in ((M.float64, 0, True), (M.int64, 0, True),
                                    (M.float64, 1, True), (M.float64, 0, False)):
                states = [M.zeros(1, B, H), M.zeros(1, B, H)]
                states[which] = states[which].to(dt)
                x = M.randn(T, B, I, requires_grad=grad)
                with pytest.raises(RuntimeError) as e:
                    m(x, tuple(states))
                got.append(str(e.value))
        finally:
            M.backends.mkldnn.enabled = True
        seen.append(got)
    assert seen[0] == seen[1]


@pytest.mark.parametrize("mode", ["float64", "no-onednn", "proj", "packed", "empty",
                                  "record"])
def test_onednn_lstm_refused_cases(mode):
    """Where torch runs its composite path (float64, oneDNN off, projections, packed input,
    an empty batch) tapegrad records the composite steps as before; a tape recording for
    replay does too (the node computes in Python), and replays torch's values."""
    kw = {"proj_size": 2} if mode == "proj" else {}
    tm, pm = _onednn_pair(kw)
    dt = tg.float64 if mode == "float64" else tg.float32
    x = tg.tensor(RNG.standard_normal((T, 0 if mode == "empty" else B, I)), dtype=dt,
                  requires_grad=True)
    tm.to(dt)
    if mode == "record":
        f = tg.record(lambda x: tm(x)[0].sum(), x)   # (the node would raise TracingError)
        with torch.no_grad():
            ref = pm(torch.tensor(x.detach().numpy()))[0].sum().item()
        np.testing.assert_allclose(float(f(x)), ref, rtol=1e-5)
        value, grads = f.value_and_grad(x.detach().numpy())
        np.testing.assert_allclose(value, ref, rtol=1e-5)
        return
    if mode == "packed":
        x = tg.nn.utils.rnn.pack_padded_sequence(x, [T, T - 2])
    if mode == "no-onednn":
        tg.backends.mkldnn.enabled = False
    try:
        out = tm(x)
    finally:
        tg.backends.mkldnn.enabled = True
    h = out[1][0]
    assert h.grad_fn.name() == "StackBackward0"
    inner = h.grad_fn.next_functions[0][0]
    if mode != "empty":
        assert inner.name() != "MkldnnRnnLayerBackward0"


def test_onednn_lstm_compiled_step_as_eager():
    """tapegrad.compile of a float32 LSTM training step: the trace takes the composite path
    (a replay cannot run the node's Python) and gives the eager steps' losses, which run
    the node, to float32 round-off."""
    x = tg.tensor(RNG.standard_normal((3, T, I)), dtype=tg.float32)
    y = tg.tensor(RNG.standard_normal((3, 1)), dtype=tg.float32)
    runs = []
    for compiled in (False, True):
        tg.manual_seed(0)
        lstm = tg.nn.LSTM(I, H, batch_first=True, num_layers=2)
        opt = tg.optim.Adam(lstm.parameters(), lr=0.05)

        def step(x, y):
            opt.zero_grad()
            out, _ = lstm(x)
            loss = ((out[:, -1, :1] - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        f = tg.compile(step, fullgraph=True) if compiled else step   # (no eager fallback)
        runs.append([float(f(x, y).detach()) for _ in range(4)])
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-5)
    assert runs[0][-1] < runs[0][0]


def test_onednn_lstm_without_graph_as_torch():
    """no_grad, inference mode and inputs that require no grad: the same kernel's values (no
    node), torch's to round-off."""
    tm, pm = _onednn_pair({"num_layers": 2, "bidirectional": True})
    xs = RNG.standard_normal((T, B, I))
    ref = [t.detach().numpy() for t in _flat(pm(torch.tensor(xs, dtype=torch.float32)))]
    x = tg.tensor(xs, dtype=tg.float32, requires_grad=True)
    eager = [t.detach().numpy() for t in _flat(tm(x))]
    for ctx in (tg.no_grad, tg.inference_mode):
        with ctx():
            outs = _flat(tm(x))
        assert not any(o.requires_grad for o in outs)
        for a, b, c in zip(outs, eager, ref):
            np.testing.assert_array_equal(a.numpy(), b)
            np.testing.assert_allclose(a.numpy(), c, rtol=2e-5, atol=2e-6)


# ---- torch.rnn_tanh_cell / rnn_relu_cell / gru_cell / lstm_cell: the cells' functions -------
def _cell_functions(M):
    rng = np.random.default_rng(0)

    def t(*s, rg=False):
        return M.tensor(rng.standard_normal(s), dtype=M.float32, requires_grad=rg)
    x, h, c = t(B, I, rg=True), t(B, H), t(B, H)
    w = {n: (t(n * H, I), t(n * H, H), t(n * H)) for n in (1, 3, 4)}
    calls = [
        lambda: M.rnn_tanh_cell(x, h, *w[1], w[1][2]),
        lambda: M.rnn_relu_cell(x, h, *w[1][:2]),
        lambda: M.gru_cell(x, h, *w[3], w[3][2]),
        lambda: M.gru_cell(input=x, hx=h, w_ih=w[3][0], w_hh=w[3][1], b_hh=w[3][2]),
        lambda: M.lstm_cell(x, (h, c), *w[4], w[4][2]),
        lambda: M.lstm_cell(x, [h, c], *w[4][:2]),
        lambda: M.gru_cell(x[0], h[0], *w[3][:2]),
        lambda: M.lstm_cell(x, h, *w[4][:2]),
        lambda: M.lstm_cell(x, (h, h, h), *w[4][:2]),
        lambda: M.gru_cell(x, h, w[3][0]),
        lambda: M.gru_cell(x, h, *w[3][:2], bias=None),
        lambda: M.gru_cell(t(B, I + 1), h, *w[3][:2]),
        lambda: M.gru_cell(x, t(B + 1, H), *w[3][:2]),
        lambda: M.gru_cell([1.0], h, *w[3][:2]),
    ]
    out = []
    for call in calls:
        try:
            r = call()
        except (RuntimeError, TypeError, IndexError) as e:
            out.append((type(e).__name__, str(e)))
            continue
        r = r if isinstance(r, tuple) else (r,)
        sum(v.sum() for v in r).backward()
        out.append([(type(v.grad_fn).__name__, v.detach().numpy()) for v in r] +
                   [x.grad.numpy().copy()])
        x.grad = None
    return out


def _assert_outcomes_as_torch(ours, theirs, **tol):
    """Each call's outcome as torch's: the same error (type, message), or per result its
    grad_fn name and values, then the gradients, within `tol`."""
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, tuple):
            assert a == b
            continue
        assert len(a) == len(b)
        for u, v in zip(a, b):
            if isinstance(v, tuple):
                assert u[0] == v[0]
                u, v = u[1], v[1]
            np.testing.assert_allclose(u, v, **tol)


def test_cell_functions_as_torch():
    """The top-level cells nn.RNNCell & co. run: values, grad_fn, gradients, errors."""
    _assert_outcomes_as_torch(_cell_functions(tg), _cell_functions(torch), rtol=1e-5, atol=1e-6)


# ---- torch.rnn_tanh / rnn_relu / gru / lstm: the whole-sequence functions -------------------
def _sequence_functions(M, dtype):
    rng = np.random.default_rng(1)
    T, L = 4, 2

    def t(*s, rg=False):
        return M.tensor(rng.standard_normal(s) * 0.5, dtype=dtype, requires_grad=rg)
    x = t(B, T, I, rg=True)
    xt = x.detach().transpose(0, 1).contiguous().requires_grad_(True)

    def weights(n, bias=True):   # (per layer w_ih, w_hh[, b_ih, b_hh], as nn.RNN's _flat_weights)
        out = []
        for layer in range(L):
            out += [t(n * H, I if layer == 0 else H, rg=True), t(n * H, H, rg=True)]
            if bias:
                out += [t(n * H), t(n * H)]
        return out
    h, c = t(L, B, H), t(L, B, H)
    w1, w3, w4 = weights(1), weights(3), weights(4, bias=False)
    # packed: a batch of 3 sequences of lengths 3, 2, 2 (time-major rows)
    data = t(7, I, rg=True)
    sizes = M.tensor([3, 3, 1])
    hp = t(L, 3, H)
    calls = [
        lambda: M.rnn_tanh(x, h, w1, True, L, 0.0, True, False, True),
        lambda: M.rnn_relu(xt, h, w1, True, L, 0.0, False, False, False),
        lambda: M.gru(x, h, w3[:6] + w3[6:], True, L, 0.0, True, False, True),
        lambda: M.lstm(x, (h, c), w4, False, L, 0.0, True, False, True),
        lambda: M.lstm(xt, [h, c], w4, False, L, 0.0, True, False, False),
        lambda: M.gru(data, sizes, hp, w3, True, L, 0.0, True, False),
        lambda: M.lstm(data, sizes, (hp, hp), w4, False, L, 0.0, True, False),
        lambda: M.gru(),
        lambda: M.lstm(x),
        lambda: M.gru(x, h, w3, True, L, 0.0, True, False),
    ]
    out = []
    for call in calls:
        try:
            r = call()
        except (RuntimeError, TypeError) as e:
            out.append((type(e).__name__, str(e)))
            continue
        sum(v.sum() for v in r).backward()
        grads = [v.grad.numpy().copy() for v in (x, xt, data, *w1, *w3, *w4) if v.grad is not None]
        for v in (x, xt, data, *w1, *w3, *w4):
            v.grad = None
        out.append([(type(v.grad_fn).__name__, v.detach().numpy()) for v in r] + grads)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sequence_functions_as_torch(dtype):
    """torch.rnn_tanh / rnn_relu / gru / lstm (what nn.RNN & co. run), both forms (a padded
    input, packed data with batch_sizes): values, grad_fn, gradients, torch's errors."""
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    _assert_outcomes_as_torch(_sequence_functions(tg, getattr(tg, dtype)),
                              _sequence_functions(torch, getattr(torch, dtype)), **tol)
