"""torch.utils.checkpoint on tapegrad: the reentrant variant (a custom Function that recomputes
in its backward) and the non-reentrant one (recorded as usual), against torch."""
import re
import warnings

import numpy as np
import pytest

import tapegrad

torch = pytest.importorskip("torch")

W1 = np.random.default_rng(0).standard_normal((3, 4))


def _fn(m):
    w = m.tensor(W1)

    def f(x, scale=2.0):
        return ((x @ w).tanh() * scale).exp()
    return f


def _run(m, reentrant, warn_always=True):
    """Values, gradients, node names and warnings of a checkpointed function."""
    x = m.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        kw = {} if reentrant is None else {"use_reentrant": reentrant}
        y = m.utils.checkpoint.checkpoint(_fn(m), x, **kw)
        (y * y).sum().backward()
    names = [f if f is None else f.name().replace("torch::autograd::", "")
             for f, _ in y.grad_fn.next_functions]
    msgs = [re.sub("torch|tapegrad", "M", str(w.message)) for w in ws
            if not str(w.message).startswith("Using backward() with create_graph")]
    return y.detach().numpy(), x.grad.numpy(), y.grad_fn.name(), names, msgs


@pytest.mark.parametrize("reentrant", [None, True, False])
def test_checkpoint_as_torch(reentrant):
    got, want = _run(tapegrad, reentrant), _run(torch, reentrant)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    assert got[2:] == want[2:]
    plain = tapegrad.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    (_fn(tapegrad)(plain) ** 2).sum().backward()
    np.testing.assert_allclose(got[1], plain.grad.numpy(), rtol=1e-12)


def test_reentrant_forward_records_nothing_of_the_function():
    x = tapegrad.tensor(np.ones((2, 3)), requires_grad=True)
    y = tapegrad.utils.checkpoint.checkpoint(_fn(tapegrad), x, use_reentrant=True)
    assert len(y._tape) <= 3        # x's leaf and the Function's entries, no tanh/exp/matmul
    z = tapegrad.utils.checkpoint.checkpoint(_fn(tapegrad), x, use_reentrant=False)
    assert type(z.grad_fn).__name__ == "ExpBackward0"


def test_recomputation_replays_the_random_state():
    """Dropout inside: the recomputation draws the forward's mask (preserve_rng_state), so the
    gradient equals the one without checkpoint from the same seed."""
    F = tapegrad.nn.functional

    def f(x):
        return F.dropout(x * 3.0, 0.5, training=True).sin()
    grads = []
    for wrap in (lambda x: tapegrad.utils.checkpoint.checkpoint(f, x, use_reentrant=True), f):
        tapegrad.manual_seed(7)
        x = tapegrad.tensor(np.linspace(0.1, 1, 20), requires_grad=True)
        wrap(x).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    assert (grads[0] == 0).any() and (grads[0] != 0).any()


def _errors(m):
    C = m.utils.checkpoint
    out = []
    x = m.ones(2, dtype=m.float64, requires_grad=True)
    for call in (lambda: m.autograd.grad(C.checkpoint(lambda v: v.exp(), x, use_reentrant=True)
                                         .sum(), [x]),
                 lambda: C.checkpoint(lambda v: v.exp(), x, use_reentrant=True).sum()
                 .backward(inputs=[x]),
                 lambda: C.checkpoint(lambda v, k: v * k, x, use_reentrant=True, k=2),
                 lambda: C.checkpoint(lambda v: v, x, use_reentrant=True, debug=True),
                 lambda: C.checkpoint(lambda v: v.detach(), x, use_reentrant=True).sum()
                 .backward(),
                 lambda: m.autograd.grad(C.checkpoint(lambda v: v.exp(), x, use_reentrant=False)
                                         .sum(), [x])[0].tolist()):
        try:
            with warnings.catch_warnings(record=True) as ws:
                warnings.simplefilter("always")
                r = call()
            out.append(("ok", r if isinstance(r, list) else None,
                        [str(w.message)[:60] for w in ws]))
        except Exception as e:  # noqa: BLE001
            out.append((type(e).__name__, re.sub("torch|tapegrad", "M", str(e))))
    return out


def test_errors_and_warnings_as_torch():
    got, want = _errors(tapegrad), _errors(torch)
    assert got == want


def _sequential(m, segments, reentrant):
    m.manual_seed(0)
    layers = [m.nn.Linear(3, 3, dtype=m.float64) for _ in range(4)]
    with m.no_grad():
        for k, lin in enumerate(layers):
            lin.weight.copy_(m.tensor(np.cos(np.arange(9.0) + k).reshape(3, 3)))
            lin.bias.copy_(m.tensor(np.sin(np.arange(3.0) + k)))
    seq = m.nn.Sequential(*[mod for lin in layers for mod in (lin, m.nn.Tanh())])
    x = m.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    y = m.utils.checkpoint.checkpoint_sequential(seq, segments, x, use_reentrant=reentrant)
    y.sum().backward()
    return (y.detach().numpy(), x.grad.numpy(), layers[0].weight.grad.numpy(),
            y.grad_fn.name())


@pytest.mark.parametrize("segments, reentrant", [(2, True), (3, True), (2, False)])
def test_checkpoint_sequential_as_torch(segments, reentrant):
    got, want = _sequential(tapegrad, segments, reentrant), _sequential(torch, segments,
                                                                         reentrant)
    for a, b in zip(got[:3], want[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert got[3] == want[3]


def _settings(m):
    """torch's checkpoint switches: contexts that restore the setting on exit, a checkpoint
    run inside them as usual, and CheckpointError a RuntimeError."""
    cp = m.utils.checkpoint
    x = m.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    seen = [cp._enable_checkpoint_early_stop, cp._checkpoint_debug_enabled]
    with cp.set_checkpoint_early_stop(False), cp.set_checkpoint_debug_enabled(True):
        seen += [cp._enable_checkpoint_early_stop, cp._checkpoint_debug_enabled]
        y = cp.checkpoint(_fn(m), x, use_reentrant=False)
    y.sum().backward()
    seen += [cp._enable_checkpoint_early_stop, cp._checkpoint_debug_enabled,
             issubclass(cp.CheckpointError, RuntimeError)]
    return seen, y.detach().numpy().round(12).tolist(), x.grad.numpy().round(12).tolist()


def test_checkpoint_settings_as_torch():
    # AttributeError before: set_checkpoint_early_stop & co were missing
    assert _settings(tapegrad) == _settings(torch)


def _side_effects(m):
    """The non-reentrant checkpoint runs its function again in each backward that reaches its
    outputs (torch's recomputation), from the forward's random state, put back after: a
    BatchNorm's running statistics are updated twice, a counter counts the runs; not under
    autograd.grad of what does not go through it, nor under no_grad."""
    m.manual_seed(0)
    bn = m.nn.BatchNorm1d(3)
    runs = [0]

    def f(v):
        runs[0] += 1
        return m.nn.functional.dropout(bn(v), 0.5, training=True).sin()
    x = m.randn(4, 3, requires_grad=True)
    w = m.randn(4, 3, requires_grad=True)
    out = []
    y = m.utils.checkpoint.checkpoint(f, x, use_reentrant=False)
    (y * w).sum().backward(retain_graph=True)
    (y * w).sum().backward()
    out += [runs[0], bn.running_mean.numpy().round(6).tolist(), int(bn.num_batches_tracked)]
    y = m.utils.checkpoint.checkpoint(f, x, use_reentrant=False)
    m.autograd.grad((y * w).sum(), w)
    with m.no_grad():
        m.utils.checkpoint.checkpoint(f, x, use_reentrant=False)
    out += [runs[0], x.grad.numpy().round(5).tolist(), m.rand(2).numpy().round(6).tolist()]

    def nested(v):
        runs[0] += 1
        return {"a": v.sin(), "b": [v.cos(), 3]}
    y = m.utils.checkpoint.checkpoint(nested, x, use_reentrant=False)
    (y["a"].sum() + y["b"][0].sum()).backward()
    out.append(runs[0])
    return out


def test_non_reentrant_checkpoint_reruns_in_backward_as_torch():
    # ran once: the running statistics were updated once, torch's twice
    assert _side_effects(tapegrad) == _side_effects(torch)


def _recomputation_grad_mode(m):
    """What the function sees when the backward recomputes it, and a function that
    differentiates inside without enable_grad (it needs grad mode on in the recomputation)."""
    out = []
    for reentrant in (True, False):
        log = []

        def f(x):
            log.append(m.is_grad_enabled())
            return x.sin() * 2

        def g(x):
            gx, = m.autograd.grad((x * x).sum(), x, create_graph=True)
            return gx * x
        x = m.tensor([0.5, 1.0], requires_grad=True)
        m.utils.checkpoint.checkpoint(f, x, use_reentrant=reentrant).sum().backward()
        out += [log, np.round(x.grad.numpy(), 5).tolist()]
        if not reentrant:   # (reentrant: its forward under no_grad fails in both)
            x.grad = None
            m.utils.checkpoint.checkpoint(g, x, use_reentrant=False).sum().backward()
            out.append(x.grad.tolist())
    return out


def test_recomputation_runs_with_grad_mode_on_as_torch():
    assert _recomputation_grad_mode(tapegrad) == _recomputation_grad_mode(torch)


def _device_states(m):
    """get_device_states / set_device_states, as reversible layers call them around their
    recomputation (reformer_pytorch's Deterministic): nothing to save for CPU tensors."""
    cp = m.utils.checkpoint
    x = m.ones(2, requires_grad=True)
    out = [cp.get_device_states(x, [x, 3], {"k": x}), cp.get_device_states()]
    cp.set_device_states(*cp.get_device_states(x))
    cp.set_device_states([0], [m.ones(2)], device_type="meta")
    for kw in ({}, {"device_type": "cpu"}, {"device_type": "cuda"}):
        try:
            cp.set_device_states([0], [m.ones(2)], **kw)
        except (AttributeError, AssertionError, RuntimeError) as e:
            out.append((type(e).__name__, str(e).replace(m.__name__, "torch")))
    return out


def test_device_states_as_torch():
    """They were missing (AttributeError on import from torch.utils.checkpoint)."""
    assert _device_states(tapegrad) == _device_states(torch)
