"""The n-d backward runs only what leads to autograd.grad's inputs (engine._runs, the sweep's
skip bit), and the core elementwise loops' cases (whole operands, one-element operands,
unary; codegen.B_CORE) give the gradients of the general loop.  Each scenario is written
once and run with tapegrad and with torch (the `torch_ref` fixture)."""
import math

import numpy as np
import pytest

import tapegrad
from tapegrad import reached


def _t(m, arr, grad=False):
    return m.tensor(np.array(arr, dtype=np.float64), requires_grad=grad)


def _np(t):
    return None if t is None else np.asarray(t.detach().numpy(), np.float64)


# ---- 1. only the entries that lead to the inputs run ---------------------------------------

def _hooked_branch(m):
    rng = np.random.default_rng(0)
    x, w = _t(m, rng.standard_normal(6), True), _t(m, rng.standard_normal(6), True)
    fired = []
    a = x * 2.0
    b = w.exp()                      # leads nowhere from the root towards x
    b.register_hook(lambda g: fired.append("b"))
    c = b * 3.0
    c.register_hook(lambda g: fired.append("c"))
    a.register_hook(lambda g: fired.append("a"))
    y = (a * c).sum()
    (gx,) = m.autograd.grad(y, x)
    return fired, _np(gx)


def test_hook_on_non_leading_tensor_does_not_fire(torch_ref):
    got, want = _hooked_branch(tapegrad), _hooked_branch(torch_ref)
    assert got[0] == want[0] == ["a"]
    np.testing.assert_allclose(got[1], want[1], rtol=1e-14)


def _function_branch(m):
    calls = []

    class Twice(m.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2.0

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g * 2.0

    x, w = _t(m, [1.0, 2.0, 3.0], True), _t(m, [0.5, -1.0, 2.0], True)
    y = (x * Twice.apply(w)).sum()
    (gx,) = m.autograd.grad(y, x, retain_graph=True)
    before = len(calls)
    (gw,) = m.autograd.grad(y, w)
    return before, len(calls), _np(gx), _np(gw)


def test_custom_function_off_the_path_is_not_run(torch_ref):
    got, want = _function_branch(tapegrad), _function_branch(torch_ref)
    assert got[:2] == want[:2] == (0, 1)
    for g, w in zip(got[2:], want[2:]):
        np.testing.assert_allclose(g, w, rtol=1e-14)


def _freed_branch(m):
    rng = np.random.default_rng(1)
    x, w = _t(m, rng.standard_normal(5), True), _t(m, rng.standard_normal(5), True)
    b = w.exp()
    b.sum().backward()               # frees ExpBackward's saved result
    y = (x * b).sum()
    (gx,) = m.autograd.grad(y, x, retain_graph=True)   # ExpBackward does not run: no error
    with pytest.raises(RuntimeError, match="second time"):
        m.autograd.grad(y, w)        # it would run here
    return _np(gx), _np(b)


def test_freed_entry_off_the_path_does_not_raise(torch_ref):
    got, want = _freed_branch(tapegrad), _freed_branch(torch_ref)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-14)
    np.testing.assert_allclose(got[0], got[1])


def _release_branch(m):
    rng = np.random.default_rng(2)
    x, w = _t(m, rng.standard_normal(4), True), _t(m, rng.standard_normal(4), True)
    b = w.exp()
    y = (x.sin() * b).sum()
    (gx,) = m.autograd.grad(y, x)    # no retain_graph: only what ran is released
    (gw,) = m.autograd.grad(b.sum(), w)   # ExpBackward kept its buffers
    with pytest.raises(RuntimeError, match="second time"):
        m.autograd.grad((x.sin() * 0 + y).sum(), x)   # y's MulBackward ran: freed
    return _np(gx), _np(gw)


def test_release_covers_only_what_ran(torch_ref):
    got, want = _release_branch(tapegrad), _release_branch(torch_ref)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-14)


def _retained_branch(m):
    x, w = _t(m, [1.0, -2.0, 0.5], True), _t(m, [0.3, 0.1, -0.7], True)
    b = w.exp()
    b.retain_grad()
    a = x * 2.0
    a.retain_grad()
    y = (a * b).sum()
    y.backward(inputs=[x])
    return _np(x.grad), _np(a.grad), b.grad is None, w.grad is None


def test_backward_inputs_fills_only_what_ran(torch_ref):
    got, want = _retained_branch(tapegrad), _retained_branch(torch_ref)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-14)
    assert (got[1] is None) == (want[1] is None)
    if got[1] is not None:
        np.testing.assert_allclose(got[1], want[1], rtol=1e-14)
    assert got[2:] == want[2:]


def _greeks(m, n=20_000):
    rng = np.random.default_rng(3)
    S0, sigma = _t(m, 100.0, True), _t(m, 0.2, True)
    K, r, T = 100.0, 0.05, 1.0
    Z = _t(m, rng.standard_normal(n))
    ST = S0 * m.exp((r - 0.5 * sigma ** 2) * T + sigma * math.sqrt(T) * Z)
    price = math.exp(-r * T) * m.clamp(ST - K, min=0).mean()
    delta, vega = m.autograd.grad(price, (S0, sigma), create_graph=True)
    (gamma,) = m.autograd.grad(delta, S0, allow_unused=True, retain_graph=True)
    (vanna,) = m.autograd.grad(delta, sigma, allow_unused=True, retain_graph=True)
    (volga,) = m.autograd.grad(vega, sigma, allow_unused=True)
    return [_np(t) for t in (price, delta, vega, gamma, vanna, volga)]


def test_greeks_second_derivatives(torch_ref):
    got, want = _greeks(tapegrad), _greeks(torch_ref)
    for g, w in zip(got, want):
        assert (g is None) == (w is None)
        if g is not None:
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    assert got[3] is None   # delta does not depend on S0 differentiably


def _behind_dropped_graphs(m, dropped):
    rng = np.random.default_rng(4)
    x = _t(m, rng.standard_normal((3, 4)), True)
    w = _t(m, rng.standard_normal(4), True)
    v = _t(m, rng.standard_normal((3, 4)), True)
    s = _t(m, 0.0, True)
    for _ in range(dropped):          # graphs dropped without backward on the same tape
        s = s * 1.0001 + 0.5
    y = ((x * w).tanh() * v.exp() + s).sum()
    gx, gs = m.autograd.grad(y, (x, s), retain_graph=True)
    (gw,) = m.autograd.grad(y, w)
    return _np(gx), _np(gs), _np(gw)


@pytest.mark.parametrize("dropped", [0, reached.MIN_WALK_INPUTS])
def test_reached_part_and_whole_prefix(torch_ref, dropped):
    got, want = _behind_dropped_graphs(tapegrad, dropped), _behind_dropped_graphs(torch_ref, dropped)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_non_leaf_input_and_anomaly_mode(torch_ref):
    def run(m, anomaly):
        x, w = _t(m, [0.5, 1.5, -1.0], True), _t(m, [2.0, 1.0, 3.0], True)
        with m.autograd.set_detect_anomaly(anomaly):
            h = (x * w).sin()
            y = (h * w.exp()).sum()
            gh, gw = m.autograd.grad(y, (h, w))
        return _np(gh), _np(gw)
    for anomaly in (False, True):
        for g, w in zip(run(tapegrad, anomaly), run(torch_ref, anomaly)):
            np.testing.assert_allclose(g, w, rtol=1e-14)


# ---- 2. the core elementwise loops' cases --------------------------------------------------

CHAINS = {
    "unary": lambda x, y, s: ((x * 1.3).exp() * x + x).tanh().sum(),
    "scalar_operand": lambda x, y, s: (s * x * s + s).sum(),
    "scalar_sub_div": lambda x, y, s: ((s - x) / s + x / (s + 2.0) - s * x.sigmoid()).sum(),
    "whole": lambda x, y, s: (x * y - y / (x * x + 1.0) + x.maximum(y)).sum(),
    "same_operand": lambda x, y, s: (x * x + (x.abs() + 1.0) ** x).sum(),
    "broadcast_rows": lambda x, y, s: (x.reshape(-1, 4) + y.reshape(-1, 4)[:1]).pow(2).sum(),
    "broadcast_cols": lambda x, y, s: (x.reshape(-1, 4) * y.reshape(-1, 4)[:, :1]).sum(),
}


@pytest.mark.parametrize("n", [4, 12, 4096, 200_000])
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_elementwise_chain_against_torch(torch_ref, chain, n):
    rng = np.random.default_rng(n)
    data = (rng.standard_normal(n), rng.standard_normal(n), 0.7)
    grads = []
    for m in (tapegrad, torch_ref):
        x, y, s = (_t(m, d, True) for d in data)
        CHAINS[chain](x, y, s).backward()
        grads.append([_np(t.grad) for t in (x, y, s)])
    for g, w in zip(*grads):
        assert (g is None) == (w is None)
        if g is not None:
            np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-11 * n)


@pytest.mark.parametrize("chain", ["unary", "scalar_operand", "scalar_sub_div", "whole"])
def test_elementwise_chain_float32(torch_ref, chain):
    rng = np.random.default_rng(5)
    data = [rng.standard_normal(1000).astype(np.float32) for _ in range(2)] + [np.float32(0.7)]
    grads = []
    for m in (tapegrad, torch_ref):
        x, y, s = (m.tensor(d, requires_grad=True) for d in data)
        CHAINS[chain](x, y, s).backward()
        grads.append([None if t.grad is None else np.asarray(t.grad.numpy()) for t in (x, y, s)])
    for g, w in zip(*grads):
        if g is not None:
            assert g.dtype == np.float32
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-3)


@pytest.mark.parametrize("chain", ["unary", "scalar_operand", "scalar_sub_div", "same_operand"])
def test_elementwise_chain_finite_differences(chain):
    rng = np.random.default_rng(6)
    data = [rng.standard_normal(8), rng.standard_normal(8), np.float64(0.7)]
    ts = [_t(tapegrad, d, True) for d in data]
    CHAINS[chain](*ts).backward()
    for i, t in enumerate(ts):
        base = np.array(data[i], dtype=np.float64)
        fd = np.zeros(base.size)
        for k in range(base.size):
            val = []
            for h in (1e-6, -1e-6):
                d = [np.array(v, dtype=np.float64) for v in data]
                d[i] = base.copy().reshape(-1)
                d[i][k] += h
                d[i] = d[i].reshape(base.shape)
                val.append(float(CHAINS[chain](*(_t(tapegrad, v) for v in d))))
            fd[k] = (val[0] - val[1]) / 2e-6
        g = np.zeros(base.size) if t.grad is None else _np(t.grad).reshape(-1)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)


def test_non_leading_entries_are_neither_laid_out_nor_swept(monkeypatch):
    """A branch that leads to no input gets no arena space past its own gradient and no kernel
    time: the arena follows what runs, and a graph where nothing leads calls no kernel."""
    from tapegrad import tape as tape_mod, tiers
    arenas, calls = [], []
    make, sweep = tape_mod.Tape.sweep_arrays, tiers.sweep

    def sweep_arrays(self, *args, **kw):
        s = make(self, *args, **kw)
        arenas.append(len(s.adj))
        return s

    def counted(*args, **kw):
        calls.append(1)
        return sweep(*args, **kw)
    monkeypatch.setattr(tape_mod.Tape, "sweep_arrays", sweep_arrays)
    monkeypatch.setattr(tiers, "sweep", counted)
    x = tapegrad.tensor(np.arange(3.0), requires_grad=True)
    w = tapegrad.tensor(np.linspace(0, 1, 50_000), requires_grad=True)
    big = ((w * 2.0).exp() * w).sin().sum()       # leads nowhere towards x
    y = (x * x).sum() * big
    (gx,) = tapegrad.autograd.grad(y, x, retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), 2 * np.arange(3.0) * float(big), rtol=1e-14)
    assert arenas and max(arenas) < 100            # not the 50,000-element branch
    (gw,) = tapegrad.autograd.grad(y, w, retain_graph=True)   # (the control: it runs)
    assert arenas[-1] > 50_000
    s0 = tapegrad.tensor(2.0, requires_grad=True)
    z = (w * 3.0).exp().sum() * 1.0                # nothing on this graph leads to s0
    del calls[:]
    (g0,) = tapegrad.autograd.grad(z, s0, allow_unused=True)
    assert g0 is None and calls == []
