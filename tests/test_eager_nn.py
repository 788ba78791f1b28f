"""The eager per-op paths with nn.Parameter operands (#8/#12): a Parameter changes no op, so
the n-d fast paths take it as a plain Tensor (counted: the general path is not entered), and
the results, grad_fn names and gradients equal torch's; a subclass of Parameter (which may
override behaviour) still takes the general path."""
import contextlib
import importlib
import math

import numpy as np
import pytest

import tapegrad
from tapegrad import nn
from tapegrad.ops import OPS

ndops = importlib.import_module("tapegrad.ndops")
torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)
X = RNG.standard_normal((5, 4)).astype(np.float32)
W = RNG.standard_normal((4, 4)).astype(np.float32)
B = RNG.standard_normal(4).astype(np.float32)


class Sub(nn.Parameter):
    """A subclass of Parameter (it could override behaviour): not taken as a plain Tensor."""
    __slots__ = ()


def _count_general(monkeypatch):
    calls = []
    general = ndops._binary_general

    def counting(code, x, y):
        calls.append(code)
        return general(code, x, y)
    monkeypatch.setattr(ndops, "_binary_general", counting)
    return calls


BINARY = [lambda x, p: x + p, lambda x, p: p * x, lambda x, p: x - p, lambda x, p: p / 2.0,
          lambda x, p: 3 * p, lambda x, p: x ** 2 + p]


@pytest.mark.parametrize("k", range(len(BINARY)))
def test_parameter_operands_take_the_fast_path(monkeypatch, k):
    fn = BINARY[k]
    calls = _count_general(monkeypatch)
    x = tapegrad.tensor(X, requires_grad=True)
    p = nn.Parameter(tapegrad.tensor(B))
    out = fn(x, p)
    assert calls == []
    tx = torch.tensor(X, requires_grad=True)
    tp = torch.nn.Parameter(torch.tensor(B))
    ref = fn(tx, tp)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-6)
    assert type(out) is tapegrad.Tensor
    assert type(out.grad_fn).__name__ == type(ref.grad_fn).__name__
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-6)
    assert (x.grad is None) == (tx.grad is None)
    if tx.grad is not None:
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_other_subclasses_take_the_general_path(monkeypatch):
    calls = _count_general(monkeypatch)
    s = Sub(tapegrad.tensor(X))
    assert type(s) is Sub
    out = s * tapegrad.tensor(X)
    assert calls == [ndops.OPS["mul"].code]
    np.testing.assert_allclose(out.detach().numpy(), X * X)


def test_linear_layer_with_parameters_matches_torch():
    """A Linear step on the fast paths: values, grad_fn names, gradients, and a version
    error when a saved parameter is changed in place before backward."""
    grads = []
    for lib in (tapegrad, torch):
        lin = lib.nn.Linear(4, 4)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(W))
            lin.bias.copy_(lib.tensor(B))
        x = lib.tensor(X, requires_grad=True)
        y = lib.nn.functional.mse_loss(lin(x).tanh(), lib.tensor(X))
        assert type(y.grad_fn).__name__ == "MseLossBackward0"
        y.backward()
        grads.append([t.numpy() for t in (x.grad, lin.weight.grad, lin.bias.grad, y.detach())])
        out = lin(x)
        with lib.no_grad():
            lin.weight.mul_(2.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---- nn.functional.linear's one-pass writer (nn/_onepass.py) against the decomposition ----
def _fresh_input(xa, x_kind, f):
    """The open tape closed (the next op opens a fresh one), x0 = tensor(xa) requiring grad,
    and x: f(x0) for x_kind "non-leaf", else x0 itself."""
    from tapegrad.tape import CLOSED, STATE
    STATE.tape = CLOSED
    x0 = tapegrad.tensor(xa, requires_grad=True)
    return x0, (f(x0) if x_kind == "non-leaf" else x0)


def _facts(tape, keep):
    """Everything a tape holds about its entries, comparable across two tapes: the streams,
    shapes, params, saved values, host flags, version watches, leaves and groups."""
    n = tape.n
    nds = tape.nds
    ids = {id(t): k for k, t in enumerate(keep)}    # tensors by role, not identity
    versions = {node: (v[1], v[2], v[3], ids.get(id(v[4]() if v[4] else None), v[4] is None))
                for node, v in tape.versions.items()}
    saved = [None if (a := tape.saved_array(e)) is None else (a.shape, a.tobytes())
             for e in range(n)]
    return dict(
        streams=[np.asarray(s[:n]).tolist() for s in tape._arrays[:5]],
        shape=dict(tape.shape), size=nds.size[:n].tolist(), nd=nds.nd[:n].tolist(),
        shp=nds.shp[:n].tolist(), params=[nds.params_of(e).tolist() for e in range(n)],
        nsaved=nds.nsaved[:n].tolist(), host=nds.host[:n].tolist(), saved=saved,
        versions=versions, leaves={k: ids[id(t)] for k, t in tape.leaves.items()},
        first=None if tape.groups is None else tape.groups.first[:n].tolist(),
        row=None if tape.groups is None else tape.groups.row[:n].tolist())


def _scenario(fast, dtype, x_kind, out_features, twice):
    """A fresh tape, then linear (the one-pass writer or the decomposition) as a layer sees
    it; returns (tape facts, output values, gradients after backward)."""
    from tapegrad import decomps
    from tapegrad.nn import _decomps as B
    from tapegrad.tape import CLOSED, STATE
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(5)
    xa = rng.standard_normal((3, 4)).astype(dtype)
    w = nn.Parameter(tapegrad.tensor(rng.standard_normal((out_features, 4)).astype(dtype)))
    b = nn.Parameter(tapegrad.tensor(rng.standard_normal(out_features).astype(dtype)))
    STATE.tape = CLOSED
    x0 = tapegrad.tensor(xa, requires_grad=x_kind != "constant")
    x = x0 * 2.0 if x_kind == "non-leaf" else x0

    def lin(x):
        if fast:
            out = tapegrad.nn.functional.linear(x, w, b)
            assert out is not None
            return out
        return decomps.record("linear", B.linear, KIND_OPS, x, w.t(), b)
    y = lin(x)
    if twice:
        y = lin(y.tanh()[:, :4] if out_features >= 4 else y.expand(3, 4).tanh())
    keep = [x0, x, w, b, y]
    facts = _facts(y._tape, keep)
    assert type(y.grad_fn).__name__ == "AddmmBackward0"
    # torch's edges: bias, input (None for a constant), weight.t()
    facts["edges"] = [None if f is None else f.name() for f, _ in y.grad_fn.next_functions]
    y.pow(2).sum().backward()
    grads = [None if t.grad is None else t.grad.numpy() for t in (x0, w, b)]
    return facts, y.detach().numpy(), grads


def _assert_same_run(fast, slow):
    """The one-pass writer's (tape facts, value, gradients) equal the decomposition's."""
    assert fast[0] == slow[0]
    np.testing.assert_array_equal(fast[1], slow[1])
    for g, h in zip(fast[2], slow[2]):
        assert (g is None) == (h is None)
        if g is not None:
            np.testing.assert_array_equal(g, h)


@pytest.mark.parametrize("dtype,x_kind,out_features,twice", [
    ("float32", "leaf", 5, False), ("float32", "non-leaf", 5, True),
    ("float64", "constant", 5, True), ("float32", "leaf", 1, True),
    ("float64", "non-leaf", 1, False)])
def test_fast_linear_writes_the_decompositions_entries(dtype, x_kind, out_features, twice):
    _assert_same_run(_scenario(True, dtype, x_kind, out_features, twice),
                     _scenario(False, dtype, x_kind, out_features, twice))


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)])
@pytest.mark.parametrize("x_kind", ["constant", "leaf", "non-leaf"])
def test_fast_linear_of_a_flattened_input_writes_the_decompositions_entries(monkeypatch, shape,
                                                                          x_kind):
    """A 1-d or 3-d input (an RL policy's single state, a sequence batch): the one-pass writer
    of its 2-d flattening appends what the decomposition does, between the same reshape and
    view-back entries."""
    from tapegrad.nn import _onepass
    from tapegrad.tape import CLOSED, STATE
    real = _onepass.linear

    def run(fast):
        monkeypatch.setattr(_onepass, "linear", real if fast else lambda *a: None)
        rng = np.random.default_rng(9)
        w = nn.Parameter(tapegrad.tensor(rng.standard_normal((5, 4)).astype(np.float32)))
        b = nn.Parameter(tapegrad.tensor(rng.standard_normal(5).astype(np.float32)))
        STATE.tape = CLOSED
        x0 = tapegrad.tensor(rng.standard_normal(shape).astype(np.float32),
                             requires_grad=x_kind != "constant")
        x = x0 * 2.0 if x_kind == "non-leaf" else x0
        y = tapegrad.nn.functional.linear(x, w, b)
        facts = _facts(y._tape, [x0, x, w, b, y])
        facts["fn"] = [y.grad_fn.name()] + [f.name() for f, _ in
                                            y.grad_fn.next_functions[0][0].next_functions if f]
        y.pow(2).sum().backward()
        return facts, y.detach().numpy(), [None if t.grad is None else t.grad.numpy()
                                           for t in (x0, w, b)]
    _assert_same_run(run(True), run(False))


def test_fast_linear_falls_back_outside_its_case(monkeypatch):
    """Cases the one-pass writer leaves to the decomposition: no bias, a frozen weight, mixed
    dtypes, a recording tape; a 1-d or 3-d input is declined as it is and taken flattened to
    2-d (torch's addmm of the flattened input, viewed back); all still AddmmBackward0 (or
    torch's view of it) and equal to torch."""
    from tapegrad.nn import _onepass
    taken = []
    real = _onepass.linear
    monkeypatch.setattr(_onepass, "linear", lambda *a: taken.append(r := real(*a)) or r)
    F, tF = tapegrad.nn.functional, torch.nn.functional
    for shape, rg_w in (((5, 4), False), ((4,), True), ((2, 5, 4), True)):
        x = RNG.standard_normal(shape).astype(np.float32)
        out = F.linear(tapegrad.tensor(x, requires_grad=True),
                       nn.Parameter(tapegrad.tensor(W), rg_w), nn.Parameter(tapegrad.tensor(B)))
        ref = tF.linear(torch.tensor(x, requires_grad=True),
                        torch.nn.Parameter(torch.tensor(W), rg_w),
                        torch.nn.Parameter(torch.tensor(B)))
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5)
        assert type(out.grad_fn).__name__ == type(ref.grad_fn).__name__
    assert [r is None for r in taken] == [True, True, False, True, False]
    rec = tapegrad.record(lambda x: F.linear(x, nn.Parameter(tapegrad.tensor(W)),
                                             nn.Parameter(tapegrad.tensor(B))).sum(),
                          tapegrad.tensor(X))
    assert taken[-1] is None
    np.testing.assert_allclose(rec(X).numpy() if hasattr(rec(X), "numpy") else rec(X),
                               (X @ W.T + B).sum(), rtol=1e-5)


def _mse_scenario(fast, dtype, x_kind, shape, reduction):
    from tapegrad import decomps
    from tapegrad.nn import _decomps as B
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(6)
    xa, ya = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    x0, x = _fresh_input(xa, x_kind, tapegrad.Tensor.tanh)
    y = tapegrad.tensor(ya)
    if fast:
        out = tapegrad.nn.functional.mse_loss(x, y, reduction=reduction)
    else:
        out = decomps.record("mse_loss", B.mse_loss, KIND_OPS, x, y, reduction)
    facts = _facts(out._tape, [x0, x, y, out])
    assert type(out.grad_fn).__name__ == "MseLossBackward0"
    facts["edges"] = [None if f is None else f.name() for f, _ in out.grad_fn.next_functions]
    out.backward()
    return facts, out.detach().numpy(), x0.grad.numpy()


@pytest.mark.parametrize("dtype,x_kind,shape,reduction", [
    ("float32", "leaf", (4, 3), "mean"), ("float32", "non-leaf", (32, 1), "mean"),
    ("float64", "non-leaf", (5,), "sum"), ("float64", "leaf", (2, 3, 2), "mean")])
def test_fast_mse_loss_writes_the_decompositions_entries(dtype, x_kind, shape, reduction):
    fast = _mse_scenario(True, dtype, x_kind, shape, reduction)
    slow = _mse_scenario(False, dtype, x_kind, shape, reduction)
    assert fast[0] == slow[0]
    np.testing.assert_array_equal(fast[1], slow[1])
    np.testing.assert_array_equal(fast[2], slow[2])


def test_fast_mse_loss_falls_back_outside_its_case(monkeypatch):
    """reduction="none", a target that requires grad, one element, mixed dtypes: the row's
    body (values, grad_fn names and gradients as torch's)."""
    from tapegrad.nn import _onepass
    taken = []
    real = _onepass.mse_loss
    monkeypatch.setattr(_onepass, "mse_loss", lambda *a: taken.append(r := real(*a)) or r)
    for shape, red, target_rg, tdt in (((4, 3), "none", False, "float32"),
                                       ((4, 3), "mean", True, "float32"),
                                       ((1,), "mean", False, "float32"),
                                       ((4, 3), "sum", False, "float64")):
        xa = RNG.standard_normal(shape).astype(np.float32)
        ya = RNG.standard_normal(shape).astype(tdt)
        outs = []
        for lib in (tapegrad, torch):
            x = lib.tensor(xa, requires_grad=True)
            y = lib.tensor(ya, requires_grad=target_rg)
            out = lib.nn.functional.mse_loss(x, y, reduction=red)
            out.sum().backward()
            outs.append((out, x.grad.numpy()))
        (a, ga), (b, gb) = outs
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5)
        np.testing.assert_allclose(ga, gb, rtol=1e-5)
        assert type(a.grad_fn).__name__ == type(b.grad_fn).__name__
    assert taken == [None] * 4


@pytest.mark.parametrize("shape,axis,keepdims,dtype", [
    ((32, 1), (0, 1), False, "float32"), ((4, 3), (0,), True, "float32"),
    ((2, 3, 4), (0, 2), False, "float64"), ((5,), (0,), False, "float16"),
    ((), (), False, "float32"), ((4, 3), (1,), False, "float64")])
def test_mean_without_numpys_python_layer_is_numpys_bit_for_bit(shape, axis, keepdims, dtype):
    a = (np.random.default_rng(8).standard_normal(shape) * 37).astype(dtype)
    for scale in (1.0, 1e-3, 1e2):
        b = (a * scale).astype(dtype)
        want = b.mean(axis=axis, keepdims=keepdims, dtype=dtype)
        got = ndops._np_mean(b, axis, keepdims, np.dtype(dtype))
        assert type(got) is type(want)
        assert np.asarray(got).dtype == np.asarray(want).dtype
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("values", ["normal", "subnormal", "huge", "nonfinite"])
def test_mean_quotient_in_the_arrays_dtype_is_numpys_bit_for_bit(dtype, values):
    """_np_mean divides by the count in the array's own dtype (numpy: in float64, then
    rounded): the same bits for sums near the subnormal range and past float32's, with
    infinities and nans, over every dim set of random shapes."""
    rng = np.random.default_rng(11)
    fi = np.finfo(dtype)
    for _ in range(40):
        shape = tuple(int(n) for n in rng.integers(1, 30, size=rng.integers(1, 4)))
        a = rng.standard_normal(shape)
        if values == "subnormal":
            a = a * float(fi.tiny) * rng.uniform(0, 8, shape)
        elif values == "huge":
            a = a * (float(fi.max) / 4)
        elif values == "nonfinite":
            a.flat[rng.integers(0, a.size, 3)] = rng.choice([np.inf, -np.inf, np.nan], 3)
        a = a.astype(dtype)
        nd = len(shape)
        for axis in [(d,) for d in range(nd)] + [tuple(range(1, nd)), tuple(range(nd))]:
            if not axis:
                continue
            for keepdims in (False, True):
                with np.errstate(all="ignore"):
                    want = a.mean(axis=axis, keepdims=keepdims, dtype=dtype)
                got = ndops._np_mean(a, axis, keepdims, np.dtype(dtype))
                assert np.asarray(got).dtype == np.asarray(want).dtype
                assert np.asarray(got).tobytes() == np.asarray(want).tobytes()


def test_fast_linear_weight_sharing_a_counter_matches_torch():
    """A weight whose version counter is another tensor's (a detached view of a base, made a
    leaf): the writer's shared-counter branch.  Same values and AddmmBackward0 as torch, and
    an in-place change of the base after the forward is the version error at backward."""
    from tapegrad.nn import _onepass
    for lib in (tapegrad, torch):
        base = lib.tensor(np.concatenate([W, W[:1]]))
        w = base[:4].detach().requires_grad_()
        b = lib.tensor(B, requires_grad=True)
        x = lib.tensor(X, requires_grad=True)          # (so that the weight's view is saved)
        if lib is tapegrad:
            out = _onepass.linear(x, w, b)
            assert out is not None                      # the writer's case, not the row's
        else:
            out = lib.nn.functional.linear(x, w, b)
        assert type(out.grad_fn).__name__ == "AddmmBackward0"
        np.testing.assert_allclose(out.detach().numpy(), X @ W.T + B, rtol=1e-5)
        with lib.no_grad():
            base.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()


# ---- cross_entropy / nll_loss's one-pass case: one nll entry, against the row's body --------
_NLL_BODY = [OPS[name].code for name in ("where", "sum_dim", "neg", "const")]


def _ce_scenario(fast, dtype, x_kind, reduction, twice):
    """A fresh tape, then cross_entropy (the one-pass writer, `fast` True), nll_loss of
    log_softmax's result (nll_loss's one-pass writer, `fast` "nll") or the same through the
    row's body (what cross_entropy's general path records, `fast` False); returns (the tape's
    opcodes, grad_fn facts, values, the gradient after backward)."""
    from tapegrad.nn import _onepass
    if fast is False:
        real = _onepass.nll_loss
        _onepass.nll_loss = lambda *a: None
        try:
            return _ce_scenario("body", dtype, x_kind, reduction, twice)
        finally:
            _onepass.nll_loss = real
    from tapegrad.tape import CLOSED, STATE
    F = tapegrad.nn.functional
    rng = np.random.default_rng(7)
    xa = (rng.standard_normal((6, 4)) * 3).astype(dtype)
    ta = np.array([0, 3, 1, 1, 2, 3])
    STATE.tape = CLOSED
    x0 = tapegrad.tensor(xa, requires_grad=True)
    x = x0.tanh() * 4.0 if x_kind == "non-leaf" else x0
    target = tapegrad.tensor(ta)

    def ce(x):
        if fast is True:
            out = F.cross_entropy(x, target, reduction=reduction)
            assert out._node == out._tape.n - 1
            return out
        return F.nll_loss(tapegrad.log_softmax(x, 1), target, reduction=reduction)
    outs = [ce(x)]
    if twice:   # a second loss on the same tape (the leaf already there)
        outs.append(ce(x * 0.5))
    tape = outs[0]._tape
    ops = [int(o) for o in tape.op[:tape.n]]
    facts = []
    for out in outs:
        assert type(out.grad_fn).__name__ == "NllLossBackward0"
        (ls, _), = out.grad_fn.next_functions
        assert type(ls).__name__ == "LogSoftmaxBackward0"
        facts.append([type(f).__name__ for f, _ in ls.next_functions])
        facts.append(tuple(out.grad_fn._saved_self.shape))
    sum(outs).backward()
    return ops, facts, [o.detach().numpy() for o in outs], x0.grad.numpy()


@pytest.mark.parametrize("dtype,x_kind,reduction,twice", [
    ("float32", "leaf", "mean", False), ("float32", "non-leaf", "sum", True),
    ("float64", "leaf", "sum", True), ("float64", "non-leaf", "mean", False)])
@pytest.mark.parametrize("writer", [True, "nll"], ids=["cross_entropy", "nll_loss"])
def test_fast_cross_entropy_writes_one_nll_entry(dtype, x_kind, reduction, twice, writer):
    """The one-pass case records one nll entry where the row's body records five (the mask,
    where, sum_dim, neg, the reduction): the same values bit for bit, the same gradient
    (torch's -g / N), grad_fn and edges."""
    fast = _ce_scenario(writer, dtype, x_kind, reduction, twice)
    slow = _ce_scenario(False, dtype, x_kind, reduction, twice)
    losses = 1 + twice
    assert fast[0].count(OPS["nll"].code) == losses and OPS["nll"].code not in slow[0]
    assert not set(fast[0]) & set(_NLL_BODY)
    assert [o for o in slow[0] if o not in _NLL_BODY and o != OPS[reduction].code] == \
        [o for o in fast[0] if o != OPS["nll"].code]
    assert fast[1] == slow[1]
    for a, b in zip(fast[2], slow[2]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast[3], slow[3])


@pytest.mark.parametrize("x_kind", ["leaf", "non-leaf"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fast_nll_loss_of_its_own_input_as_the_body(monkeypatch, x_kind, reduction):
    """nll_loss's one-pass writer on an input that is no log_softmax result (a leaf, or
    another op's result): one nll entry after x's, the body's value and gradient, the same
    grad_fn and next_functions."""
    from tapegrad.nn import _onepass
    from tapegrad.tape import CLOSED, STATE
    real = _onepass.nll_loss

    def run(fast):
        monkeypatch.setattr(_onepass, "nll_loss", real if fast else lambda *a: None)
        STATE.tape = CLOSED
        x0 = tapegrad.tensor(np.random.default_rng(4).standard_normal((5, 3)),
                             requires_grad=True)
        x = x0 * 2.0 if x_kind == "non-leaf" else x0
        out = tapegrad.nn.functional.nll_loss(x, tapegrad.tensor([0, 2, 1, 1, 0]),
                                              reduction=reduction)
        if fast:   # (after x's entries: the leaf's, or the leaf's and mul's)
            assert out._node == out._tape.n - 1 == (1 if x_kind == "leaf" else 2)
            assert out._tape.op[out._node] == OPS["nll"].code
        fn = [out.grad_fn.name()] + [f.name() for f, _ in out.grad_fn.next_functions
                                     if f is not None]
        out.backward()
        return fn, out.item(), x0.grad.numpy()
    fast, slow = run(True), run(False)
    assert fast[0] == slow[0] and fast[1] == slow[1]
    np.testing.assert_array_equal(fast[2], slow[2])


def test_fast_nll_loss_is_taken_in_its_case_only(monkeypatch):
    """nll_loss's one-pass writer: taken for a 2-d float input and int64 targets in range
    (mean/sum, no weight), also while recording for replay (its targets are constants of the
    trace); not for a weight, reduction none, an ignored target, a target out of range
    (torch's IndexError from the row's path)."""
    from tapegrad.nn import _onepass
    taken = []
    real = _onepass.nll_loss
    monkeypatch.setattr(_onepass, "nll_loss", lambda *a: taken.append(r := real(*a)) or r)
    F = tapegrad.nn.functional
    x = tapegrad.randn(4, 3, requires_grad=True)
    t = tapegrad.tensor([0, 2, 1, 1])
    F.nll_loss(x, t)
    F.nll_loss(x, t, reduction="sum")
    assert all(r is not None for r in taken) and len(taken) == 2
    taken.clear()
    F.nll_loss(x, t, reduction="none")
    F.nll_loss(x, tapegrad.tensor([0, -100, 1, 1]))
    F.nll_loss(x, t, weight=tapegrad.ones(3))
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        F.nll_loss(x, tapegrad.tensor([0, 3, 1, 1]))
    assert all(r is None for r in taken)
    rec = tapegrad.record(lambda x: F.nll_loss(x, t), x)
    assert taken[-1] is not None and OPS["nll"].code in rec.prog["op"]


def test_fast_cross_entropy_as_torch_and_its_fallbacks(monkeypatch):
    """The one-pass case against torch (values, gradients, second derivatives through it);
    outside it (weights, label smoothing, an ignored target, 1-d or 3-d input, one class,
    reduction="none", float targets) the general path, also as torch; under no_grad the same
    value as with a tape; and a recording tape takes it too (one nll entry)."""
    from tapegrad.nn import _onepass
    taken = []
    real = _onepass.cross_entropy
    monkeypatch.setattr(_onepass, "cross_entropy", lambda *a: taken.append(r := real(*a)) or r)
    rng = np.random.default_rng(11)
    xa = rng.standard_normal((5, 3))
    cases = [({}, (5, 3), [0, 2, 1, 1, 0], True),
             ({"reduction": "sum"}, (5, 3), [2, 2, 0, 1, 0], True),
             ({"weight": [1.0, 2.0, 0.5]}, (5, 3), [0, 2, 1, 1, 0], False),
             ({"label_smoothing": 0.1}, (5, 3), [0, 2, 1, 1, 0], False),
             ({"ignore_index": 1}, (5, 3), [0, 2, 1, 1, 0], False),
             ({"ignore_index": 1}, (5, 3), [0, 2, 0, 2, 0], True),
             ({"reduction": "none"}, (5, 3), [0, 2, 1, 1, 0], False),
             ({}, (3,), 2, False), ({}, (5, 1), [0, 0, 0, 0, 0], False),
             ({}, (1, 3), [2], False), ({}, (2, 3, 2), [[0, 1], [2, 2]], False)]
    for kwargs, shape, ta, one_pass in cases:
        got = []
        taken.clear()
        for lib in (tapegrad, torch):
            x = lib.tensor(xa.reshape(-1)[:math.prod(shape)].reshape(shape), requires_grad=True)
            kw = dict(kwargs)
            if "weight" in kw:
                kw["weight"] = lib.tensor(kw["weight"], dtype=lib.float64)
            loss = lib.nn.functional.cross_entropy(x.tanh() * 2, lib.tensor(ta), **kw)
            g, = lib.autograd.grad(loss.sum(), x, create_graph=True)
            gg, = lib.autograd.grad((g * g).sum(), x)
            got.append((loss.detach().numpy(), g.detach().numpy(), gg.numpy(),
                        type(loss.grad_fn).__name__))
        (a, ga, gga, na), (b, gb, ggb, nb) = got
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ga, gb, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gga, ggb, rtol=1e-10, atol=1e-14)
        assert na == nb
        assert any(r is not None for r in taken) == one_pass, (kwargs, shape)
        if one_pass:
            with tapegrad.no_grad():
                quiet = tapegrad.nn.functional.cross_entropy(
                    tapegrad.tensor(xa.reshape(shape)).tanh() * 2, tapegrad.tensor(ta), **kwargs)
            assert quiet.grad_fn is None
            np.testing.assert_array_equal(quiet.numpy(), a)
    with pytest.raises(IndexError, match="Target 3 is out of bounds."):
        tapegrad.nn.functional.cross_entropy(tapegrad.zeros(2, 3, requires_grad=True),
                                             tapegrad.tensor([0, 3]))
    rec = tapegrad.record(lambda x: tapegrad.nn.functional.cross_entropy(
        x, tapegrad.tensor([0, 2, 1, 1, 0])), tapegrad.tensor(xa))
    assert taken[-1] is not None and OPS["nll"].code in rec.prog["op"]
    ref = torch.nn.functional.cross_entropy(torch.tensor(xa), torch.tensor([0, 2, 1, 1, 0]))
    np.testing.assert_allclose(float(rec(xa)), float(ref), rtol=1e-12)


# ---- softmax / log_softmax: one entry of the softmax kind (ndops._softmax_entry) -----------
def _softmax_scenario(face, name, dtype, x_kind, shape, dim):
    """softmax/log_softmax by the method (`face` False) or by the kind's tensor face (what
    create_graph and a replay's re-run record: the operand as its (outer, m, inner) block)."""
    from tapegrad.kinds import softmax as smx
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(9)
    xa = (rng.standard_normal(shape) * 4).astype(dtype)
    x0, x = _fresh_input(xa, x_kind, tapegrad.Tensor.sin)
    d = dim % len(shape)
    n = x._tape.n if x._tape is not None else 0
    if face:
        out = KIND_OPS.softmax(x, smx.block(x.shape, d), name == "log_softmax")
    else:
        out = getattr(x, name)(dim)
    assert out._node == out._tape.n - 1 and out._node - n <= 1   # (a leaf's entry, then one)
    out2 = getattr(out * 2.0, name)(dim)      # a second one on the same tape
    facts = _facts(out._tape, [x0, x, out, out2])
    for t in (out, out2):
        assert type(t.grad_fn).__name__ == ("SoftmaxBackward0" if name == "softmax"
                                            else "LogSoftmaxBackward0")
    (out2 * out2).sum().backward()
    return facts, out.detach().numpy(), out2.detach().numpy(), x0.grad.numpy()


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype,x_kind,shape,dim", [
    ("float32", "leaf", (4, 3), 1), ("float64", "non-leaf", (4, 3), 0),
    ("float32", "non-leaf", (2, 3, 5), -1), ("float64", "leaf", (2, 3, 5), 1),
    ("float32", "leaf", (6,), 0), ("float64", "non-leaf", (5,), -1),
    ("float32", "non-leaf", (2,), 0)])
def test_softmax_writes_the_tensor_faces_entry(name, dtype, x_kind, shape, dim):
    eager = _softmax_scenario(False, name, dtype, x_kind, shape, dim)
    face = _softmax_scenario(True, name, dtype, x_kind, shape, dim)
    assert eager[0] == face[0]
    for a, b in zip(eager[1:], face[1:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_entry_as_torch(name):
    """1-d, one row, a dim of size 1, 3-d, float16 via dtype=, infinities and nan in a row,
    a recording tape: values, gradients and second derivatives as torch's, one entry per
    call; no_grad gives the taped value."""
    rng = np.random.default_rng(12)
    inf = float("inf")
    cases = [((5, 3), 1), ((5, 3), 0), ((2, 3, 4), 2), ((6,), 0), ((1, 4), 1), ((4, 1), 1),
             ((1,), 0), ((3, 4), -1), ((), 0)]
    for shape, dim in cases:
        xa = rng.standard_normal(shape)
        got = []
        for lib in (tapegrad, torch):
            x = lib.tensor(xa, requires_grad=True)
            xt = x.tanh() * 3
            out = getattr(lib, name)(xt, dim)
            if lib is tapegrad:
                assert out._node == xt._node + 1, (shape, dim)
            g, = lib.autograd.grad((out * out).sum(), x, create_graph=True)
            gg, = lib.autograd.grad((g * g).sum(), x)
            got.append((out.detach().numpy(), g.detach().numpy(), gg.numpy(),
                        type(out.grad_fn).__name__))
        (a, ga, gga, na), (b, gb, ggb, nb) = got
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ga, gb, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(gga, ggb, rtol=1e-10, atol=1e-13)
        assert na == nb
        with tapegrad.no_grad():
            quiet = getattr(tapegrad, name)(tapegrad.tensor(xa).tanh() * 3, dim)
        np.testing.assert_array_equal(quiet.numpy(), a)
    special = [[0.0, inf, 1.0], [-inf, -inf, 2.0], [float("nan"), 0.0, 1.0], [1.0, 2.0, 3.0]]
    for lib in (tapegrad, torch):
        out = getattr(lib, name)(lib.tensor(special, requires_grad=True), 1)
        got.append(out.detach().numpy())
    np.testing.assert_allclose(got[-2], got[-1], rtol=1e-6)   # (nan and inf where torch's)
    for dt in ("float16", "bfloat16"):
        if hasattr(tapegrad, dt):
            x = tapegrad.tensor(rng.standard_normal((3, 4)), dtype=getattr(tapegrad, dt))
            ref = getattr(torch, name)(torch.tensor(x.float().numpy()).to(getattr(torch, dt)), 1)
            np.testing.assert_allclose(getattr(tapegrad, name)(x, 1).float().numpy(),
                                       ref.float().numpy(), rtol=1e-2, atol=1e-3)
    xa = rng.standard_normal((5, 3))
    rec = tapegrad.record(lambda x: getattr(tapegrad, name)(x, 1).sum(0), tapegrad.tensor(xa))
    np.testing.assert_allclose(np.asarray(rec(xa * 2)),
                               getattr(torch, name)(torch.tensor(xa * 2), 1).sum(0).numpy(),
                               rtol=1e-12)


# ---- layer_norm's one-pass writer against its body --------------------------------------------
def _norm_kind_scenario(fast, xa, x_kind, twice, wb, norm, body, entry):
    """norm(x, w, b) (the writer: one norm entry `entry`, then * w and + b; or body(x, w, b),
    the row's body) on a fresh tape, with `twice` again on the sin of its result; w, b
    Parameters of `wb` (None: neither); returns (grad_fn names and edges of the outputs,
    the outputs, the gradients of x0, w and b after a backward, the first gradients with
    create_graph and the second derivatives through them, the errors of a second backward
    without retain_graph and after an in-place change of x)."""
    def run():
        w, b = (nn.Parameter(tapegrad.tensor(v)) for v in wb) if wb else (None, None)
        x0, x = _fresh_input(xa, x_kind, tapegrad.Tensor.tanh)

        def one(x):
            if fast:
                n = x._tape.n if x._tape is not None else 0
                out = norm(x, w, b)
                tape = out._tape
                assert out._node == tape.n - 1
                # (the norm entry (after the leaves' entries), then w's and b's entries)
                ops = [int(o) for o in tape.op[n:tape.n] if o != OPS["leaf"].code]
                assert ops[0] == OPS[entry].code and OPS["sqrt"].code not in ops
                return out
            return body(x, w, b)
        outs = [one(x)]
        if twice:
            outs.append(one(outs[0].sin()))
        return x0, x, [t for t in (x0, w, b) if t is not None], outs, \
            (outs[-1] * outs[-1]).sum()
    x0, x, leaves, outs, loss = run()
    shown = [(type(o.grad_fn).__name__, [None if f is None else type(f).__name__
                                         for f, _ in o.grad_fn.next_functions]) for o in outs]
    loss.backward()
    grads = [t.grad.numpy() for t in leaves]
    with pytest.raises(RuntimeError) as again:
        loss.backward()
    x0, x, leaves, outs, loss = run()
    gs = tapegrad.autograd.grad(loss, leaves, create_graph=True)
    gg = tapegrad.autograd.grad(sum((g * g.sin()).sum() for g in gs), leaves)
    second = ([type(g.grad_fn).__name__ for g in gs], [g.detach().numpy() for g in gs],
              [g.numpy() for g in gg])
    x0, x, leaves, outs, loss = run()
    with tapegrad.no_grad():
        x.add_(1.0) if x_kind == "non-leaf" else x.mul_(1.0)
    with pytest.raises(RuntimeError) as changed:
        loss.backward()
    return (shown, [o.detach().numpy() for o in outs], grads, second, str(again.value),
            str(changed.value))


def _assert_norm_kind_as_body(fast, slow, dtype):
    """The writer's group (one norm entry, * w, + b) shows as the body's (its name and edges),
    gives the body's values bit for bit (the same numpy calls), its gradients to rounding
    (torch's formula for the normalization, where the body's are its primitives'), with
    create_graph too (the weight's and bias's grad_fn names, second derivatives to
    rounding); a second backward without retain_graph and an in-place change of x fail as
    the body's."""
    assert fast[0] == slow[0]
    for a, b in zip(fast[1], slow[1]):
        np.testing.assert_array_equal(a, b)
    eps = 1e-4 if dtype == "float32" else 1e-11

    def close(a, b):   # (relative to the largest magnitude: second derivatives cancel)
        np.testing.assert_allclose(a, b, rtol=eps, atol=eps * max(1.0, np.abs(b).max()))
    for a, b in zip(fast[2], slow[2]):
        close(a, b)
    # (x0's gradient is the norm VJP's tensor ops where the body's is its primitives': the
    # names of its last op differ, torch's being Native*NormBackwardBackward0)
    assert fast[3][0][1:] == slow[3][0][1:]
    for a, b in zip(fast[3][1] + fast[3][2], slow[3][1] + slow[3][2]):
        close(a, b)
    assert fast[4:] == slow[4:]
    assert "second time" in fast[4] and "inplace operation" in fast[5]


def _layer_norm_scenario(fast, dtype, x_kind, shape, k, twice, affine):
    from tapegrad import decomps
    from tapegrad.nn import _decomps as B
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(13)
    xa = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    ns = shape[len(shape) - k:]
    wb = [rng.standard_normal(ns).astype(dtype) for _ in range(2)] if affine else None
    dims = tuple(range(len(shape) - k, len(shape)))
    return _norm_kind_scenario(
        fast, xa, x_kind, twice, wb,
        lambda x, w, b: tapegrad.nn.functional.layer_norm(x, ns, w, b, 1e-3),
        lambda x, w, b: decomps.record("layer_norm", B.layer_norm, KIND_OPS, x, dims, w, b,
                                       1e-3), "layer_norm_rows")


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype,x_kind,shape,k,twice", [
    ("float32", "leaf", (4, 5), 1, False), ("float32", "non-leaf", (2, 3, 4), 1, True),
    ("float64", "non-leaf", (2, 3, 4), 2, False), ("float64", "leaf", (3, 2), 1, True)])
def test_fast_layer_norm_entry_against_the_decomposition(dtype, x_kind, shape, k, twice,
                                                         affine):
    """layer_norm's group with the norm entry against the row's body
    (_assert_norm_kind_as_body)."""
    fast = _layer_norm_scenario(True, dtype, x_kind, shape, k, twice, affine)
    slow = _layer_norm_scenario(False, dtype, x_kind, shape, k, twice, affine)
    _assert_norm_kind_as_body(fast, slow, dtype)


@pytest.mark.parametrize("norm,shape,params", [
    ("layer_norm", (3, 2, 7), [1, 6, 7]), ("batch_norm", (4, 3, 5), [4, 3, 5]),
    ("batch_norm", (6, 4), [6, 4, 1])])
def test_norm_kind_faces(norm, shape, params):
    """The norm kind's kernel pieces (a replay's forward, the eager sweep) and tensor faces
    agree with the eager entry: the forward piece (float64) gives the body's values to
    rounding, the sweep piece the eager gradient, the tensor VJP (create_graph's) the same
    gradient to rounding, and that gradient is torch's."""
    from tapegrad.kinds import norm as norm_kind
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(26)
    xa = rng.standard_normal(shape) * 3 + 1

    def run(lib, x):
        F = lib.nn.functional
        return F.layer_norm(x, shape[-1:], eps=1e-3) if norm == "layer_norm" else \
            F.batch_norm(x, None, None, training=True, eps=1e-3)
    x = tapegrad.tensor(xa, requires_grad=True) * 1.0
    y = run(tapegrad, x)
    tape = y._tape
    got = tape.params_of(y._node)
    assert got.tolist() == params and tape.imm[y._node] == 1e-3
    assert tape.op[y._node] == OPS[norm + "_rows"].code
    z = norm_kind.tensor_forward_norm(KIND_OPS, x, None, tuple(y.shape), got, 1e-3)
    np.testing.assert_allclose(z.detach().numpy(), y.detach().numpy(), rtol=1e-14,
                               atol=1e-14)
    n = xa.size
    args = (1, 0, -1, n, n, np.array([0, n]), None, None, None, np.array([0, 0]),
            np.asarray(got), np.array([0.0, 1e-3]))
    vals = np.concatenate([xa.ravel(), np.zeros(n)])
    norm_kind.forward_norm(*args, vals)
    np.testing.assert_allclose(vals[n:], y.detach().numpy().ravel(), rtol=1e-13, atol=1e-14)
    gy = rng.standard_normal(xa.shape)
    adj = np.concatenate([np.zeros(n), gy.ravel()])
    norm_kind.sweep_norm(*args, vals, adj)
    gx, = tapegrad.autograd.grad(y, x, tapegrad.tensor(gy))
    np.testing.assert_array_equal(adj[:n].reshape(xa.shape), gx.numpy())
    (_, t), = norm_kind.tensor_vjp_norm(KIND_OPS, tapegrad.tensor(gy), lambda i: x, xa.shape,
                                        None, got, 1e-3)
    np.testing.assert_allclose(t.detach().numpy(), gx.numpy(), rtol=1e-12, atol=1e-13)
    ref = torch.tensor(xa, requires_grad=True)
    tg, = torch.autograd.grad(run(torch, ref), ref, torch.tensor(gy))
    np.testing.assert_allclose(gx.numpy(), tg.numpy(), rtol=1e-12, atol=1e-13)


def test_norm_entry_is_eager_only():
    """A traced layer_norm records the row's primitives, so no tape file holds a norm entry:
    one edited in is refused."""
    import json
    from tapegrad import tapefile
    xa = np.random.default_rng(27).standard_normal((3, 4))
    rec = tapegrad.record(lambda x: tapegrad.nn.functional.layer_norm(x, (4,)).sum(),
                          tapegrad.tensor(xa))
    ops = rec.prog["op"]
    assert OPS["layer_norm_rows"].code not in ops and OPS["sqrt"].code in ops
    members = tapefile.arrays(rec.prog, rec.meta)
    e = int(np.flatnonzero(members["op"] == OPS["sqrt"].code)[0])
    arrs = {k: v.copy() for k, v in members.items() if k != "meta"}
    arrs["op"][e] = OPS["layer_norm_rows"].code
    header = json.loads(str(members["meta"]))
    header["digest"] = tapefile.digest(header, arrs)
    tapefile.from_arrays(members)
    with pytest.raises(tapefile.TapeFormatError, match="norm entry"):
        tapefile.from_arrays(dict(arrs, meta=np.array(json.dumps(header))))


def _norm_layer_as_torch(monkeypatch, writer, make, cases, seed, state=None):
    """A norm layer in training against torch: values, the gradients of input and affine
    parameters, second derivatives, and `state(layer)` (a function returning what to compare
    after the forward); for each case (shape, affine, frozen weight, input requires grad,
    whether nn/_onepass's `writer` takes it), that the one-pass writer took it or not."""
    from tapegrad.nn import _onepass
    taken = []
    real = getattr(_onepass, writer)
    monkeypatch.setattr(_onepass, writer, lambda *a: taken.append(r := real(*a)) or r)
    rng = np.random.default_rng(seed)
    for shape, affine, frozen, x_rg, one_pass in cases:
        xa = rng.standard_normal(shape)
        got = []
        taken.clear()
        for lib in (tapegrad, torch):
            lib.manual_seed(0)
            layer = make(lib, shape, affine).double()
            if affine:
                with lib.no_grad():
                    layer.weight.mul_(1.5).add_(0.1)
                    layer.bias.add_(0.3)
                layer.weight.requires_grad_(not frozen)
            x = lib.tensor(xa, requires_grad=True)
            after = state(layer) if state else (lambda: [])
            y = layer(x * 2 if x_rg else x.detach())
            params = [p for p in layer.parameters() if p.requires_grad]
            ins = ([x] if x_rg else []) + params
            gs = lib.autograd.grad((y * y.sin()).sum(), ins, create_graph=True) if ins else []
            gg = lib.autograd.grad(sum((g * g).sum() for g in gs), ins, allow_unused=True) \
                if ins else []
            got.append([y.detach().numpy()] + after() + [g.detach().numpy() for g in gs] +
                       [None if g is None else g.numpy() for g in gg])
        for a, b in zip(*got):
            if a is None or b is None:
                assert (a is None) == (b is None) or not np.any(b if a is None else a)
                continue
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        assert any(r is not None for r in taken) == one_pass, shape


def test_layer_norm_checks_its_weight_and_bias_shapes_as_torch():
    msgs = []
    for lib in (tapegrad, torch):
        x = lib.ones(2, 3, 4, requires_grad=True)
        for w, b in ((lib.ones(4), lib.zeros(3, 4)), (lib.ones(3, 4), lib.zeros(4)),
                     (None, lib.zeros(2, 4)), (lib.ones(4), None)):
            with pytest.raises(RuntimeError) as e:
                lib.nn.functional.layer_norm(x, (3, 4), w, b)
            msgs.append(str(e.value))
    assert msgs[:4] == msgs[4:]


def test_fast_layer_norm_as_torch_and_its_fallbacks(monkeypatch):
    """nn.LayerNorm in training against torch (values, the three gradients, second
    derivatives), with and without its affine parameters; outside the case (a frozen weight,
    one row, an input that needs no grad, float64 weights on float32 input) the body, also
    as torch."""
    _norm_layer_as_torch(
        monkeypatch, "layer_norm",
        lambda lib, shape, affine: lib.nn.LayerNorm(4, elementwise_affine=affine),
        (((5, 4), True, False, True, True), ((2, 3, 4), True, False, True, True),
         ((5, 4), False, False, True, True), ((5, 4), True, True, True, False),
         ((1, 4), True, False, True, False), ((5, 4), True, False, False, False)), 14)


@pytest.mark.parametrize("norm,dtype,shape,affine,mode", [
    ("layer_norm", "float32", (8, 32), True, "no_grad"),
    ("layer_norm", "float64", (2, 3, 4), False, "inference"),
    ("layer_norm", "float32", (4, 6), True, "nothing requires grad"),
    ("batch_norm", "float32", (4, 3, 5, 5), True, "no_grad"),
    ("batch_norm", "float64", (6, 4), False, "nothing requires grad")])
def test_norm_writer_without_a_tape_gives_the_bodys_values(monkeypatch, norm, dtype, shape,
                                                           affine, mode):
    """With no tape (grad mode off, inference mode, or no operand that requires grad) the
    one-pass writers compute the body's values by its numpy calls (bit for bit) and record
    nothing; the result is a plain tensor as the body's (torch's flags too)."""
    from tapegrad import decomps
    from tapegrad.nn import _decomps as B, _decomps_ext as X, _onepass
    from tapegrad.views import KIND_OPS
    taken = []
    real = _onepass._norm_pass
    monkeypatch.setattr(_onepass, "_norm_pass", lambda *a: taken.append(r := real(*a)) or r)
    rng = np.random.default_rng(24)
    xa = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    c = shape[-1] if norm == "layer_norm" else shape[1]
    wa, ba = (rng.standard_normal(c).astype(dtype) for _ in range(2))
    rg = mode != "nothing requires grad"
    results = []
    for lib in (tapegrad, torch):
        x = lib.tensor(xa, requires_grad=rg)
        w, b = (lib.tensor(a, requires_grad=rg) if affine else None for a in (wa, ba))
        ctx = {"no_grad": lib.no_grad, "inference": lib.inference_mode}.get(
            mode, contextlib.nullcontext)
        with ctx():
            if norm == "layer_norm":
                y = lib.nn.functional.layer_norm(x, (c,), w, b, 1e-3)
            else:
                y = lib.nn.functional.batch_norm(x, None, None, w, b, True, 0.1, 1e-3)
            if lib is tapegrad:
                dims = (len(shape) - 1,) if norm == "layer_norm" else \
                    (0,) + tuple(range(2, len(shape)))
                body = decomps.record(norm, B.layer_norm, KIND_OPS, x, dims, w, b, 1e-3) \
                    if norm == "layer_norm" else decomps.record(
                        norm, X.batch_norm, KIND_OPS, x, dims, None, None, w, b, 1e-3,
                        (1, c) + (1,) * (len(shape) - 2))
                np.testing.assert_array_equal(y.numpy(), body.numpy())
                assert body.grad_fn is None
        results.append((y.detach().numpy(), y.grad_fn is None, y.requires_grad,
                        y.is_inference(), y.is_contiguous()))
    assert taken and all(r is not None for r in taken)
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-5)
    assert results[0][1:] == results[1][1:]


def test_norm_writer_refuses_a_traced_call_without_a_tape():
    """no_grad inside a recorded function: the body's ops (their guards of the traced
    input, so a replay at another point raises BranchChanged), not the writer's values
    (which a replay would have reused silently)."""
    from tapegrad.nn import _onepass

    def f(x):
        with tapegrad.no_grad():
            y = tapegrad.nn.functional.layer_norm(x, (4,))
        return (x * y).sum()
    xa = np.random.default_rng(25).standard_normal((3, 4))
    rec = tapegrad.record(f, tapegrad.tensor(xa))
    with tapegrad.no_grad():
        tapegrad.nn.functional.layer_norm(tapegrad.tensor(xa), (4,))   # (eager: taken)
    calls = []
    real = _onepass._norm_pass
    try:
        _onepass._norm_pass = lambda *a: calls.append(r := real(*a)) or r
        tapegrad.record(f, tapegrad.tensor(xa))
    finally:
        _onepass._norm_pass = real
    assert calls and all(r is None for r in calls)
    np.testing.assert_allclose(float(rec(xa)), float(f(tapegrad.tensor(xa))), rtol=1e-12)
    with pytest.raises(tapegrad.BranchChanged):
        rec(xa * 2)


def test_fast_layer_norm_of_a_weight_without_bias_as_torch(monkeypatch):
    """nn.LayerNorm(bias=False) (a weight, no bias: GPT-style models) takes the one-pass
    writer too, with torch's values, gradients, second derivatives and edges (the bias's
    (None, 0))."""
    _norm_layer_as_torch(
        monkeypatch, "layer_norm",
        lambda lib, shape, affine: lib.nn.LayerNorm(4, bias=False),
        (((5, 4), False, False, True, True), ((2, 3, 4), False, False, True, True)), 15)
    for lib in (tapegrad, torch):
        y = lib.nn.functional.layer_norm(lib.ones(3, 4, requires_grad=True) * 2, (4,),
                                         lib.ones(4, requires_grad=True), None)
        assert [(type(f).__name__ if f is not None else None, i)
                for f, i in y.grad_fn.next_functions] == \
            [("MulBackward0", 0), ("AccumulateGrad", 0), (None, 0)]


# ---- batch_norm's one-pass writer (training) against its body --------------------------------
def _batch_norm_scenario(fast, dtype, x_kind, shape, twice, affine=True):
    from tapegrad import decomps
    from tapegrad.nn import _decomps_ext as X
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(16)
    xa = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    wb = [rng.standard_normal(shape[1]).astype(dtype) for _ in range(2)] if affine else None
    dims = (0,) + tuple(range(2, len(shape)))
    view = (1, shape[1]) + (1,) * (len(shape) - 2)
    return _norm_kind_scenario(
        fast, xa, x_kind, twice, wb,
        lambda x, w, b: tapegrad.nn.functional.batch_norm(x, None, None, w, b, True, 0.1, 1e-3),
        lambda x, w, b: decomps.record("batch_norm", X.batch_norm, KIND_OPS, x, dims, None,
                                       None, w, b, 1e-3, view), "batch_norm_rows")


@pytest.mark.parametrize("dtype,x_kind,shape,twice,affine", [
    ("float32", "leaf", (4, 5), False, True), ("float32", "non-leaf", (3, 2), True, True),
    ("float64", "non-leaf", (5, 3), False, True), ("float64", "leaf", (2, 4), True, True),
    ("float32", "non-leaf", (4, 3, 5, 5), False, True), ("float64", "leaf", (2, 3, 4), True, True),
    ("float32", "non-leaf", (2, 2, 3, 2, 2), True, True),
    ("float32", "non-leaf", (4, 3, 5, 5), True, False), ("float64", "leaf", (5, 3), False, False),
    ("float64", "non-leaf", (2, 3, 4), False, False)])
def test_fast_batch_norm_entry_against_the_decomposition(dtype, x_kind, shape, twice, affine):
    """batch_norm's group (training) with the norm entry against the row's body
    (_assert_norm_kind_as_body)."""
    fast = _batch_norm_scenario(True, dtype, x_kind, shape, twice, affine)
    slow = _batch_norm_scenario(False, dtype, x_kind, shape, twice, affine)
    _assert_norm_kind_as_body(fast, slow, dtype)


def test_fast_batch_norm_as_torch_and_its_fallbacks(monkeypatch):
    """nn.BatchNorm1d in training against torch (values, the three gradients, second
    derivatives, running statistics, their versions); outside the case (a frozen weight, one
    channel, an input that needs no grad with affine parameters that do) the body, also as
    torch; nothing that requires grad: the writer's values without a tape."""
    def state(layer):
        v0 = layer.running_mean._version
        return lambda: [layer.running_mean.numpy(), layer.running_var.numpy(),
                        layer.num_batches_tracked.numpy(),
                        np.array(layer.running_mean._version - v0)]
    _norm_layer_as_torch(
        monkeypatch, "batch_norm",
        lambda lib, shape, affine: lib.nn.BatchNorm1d(shape[1], affine=affine, momentum=0.3),
        (((5, 4), True, False, True, True), ((3, 4, 2), True, False, True, True),
         ((5, 4), False, False, True, True), ((3, 4, 2), False, False, True, True),
         ((5, 4), True, True, True, False), ((3, 4, 2), True, True, True, False),
         ((5, 1), True, False, True, False), ((3, 1, 2), True, False, True, False),
         ((5, 4), True, False, False, False), ((3, 4, 2), False, False, False, True)),
        17, state)


def test_fast_batch_norm_of_images_as_torch_and_its_fallbacks(monkeypatch):
    """nn.BatchNorm2d / 3d in training (the (1, C, 1, ...) views of weight and bias inside the
    group), with and without affine parameters, against torch; outside the case (a frozen
    weight, one channel, an input that needs no grad) the body, also as torch."""
    def state(layer):
        return lambda: [layer.running_mean.numpy(), layer.running_var.numpy()]
    _norm_layer_as_torch(
        monkeypatch, "batch_norm",
        lambda lib, shape, affine: (lib.nn.BatchNorm2d if len(shape) == 4 else lib.nn.BatchNorm3d)(
            shape[1], affine=affine),
        (((4, 3, 5, 5), True, False, True, True), ((4, 3, 5, 5), False, False, True, True),
         ((2, 3, 2, 3, 2), True, False, True, True), ((4, 3, 5, 5), True, True, True, False),
         ((4, 1, 5, 5), True, False, True, False), ((4, 3, 5, 5), True, False, False, False)),
        18, state)


def test_batch_norm_checks_and_layout_as_torch():
    """F.batch_norm's checks (skipped in training when nothing but the input is given: none
    can fail then) and its result's layout, against torch: the errors of a missing running
    statistic in evaluation, a parameter of another size or dtype; training without
    statistics or parameters; a channels-last input's channels-last result."""
    xa = np.random.default_rng(20).standard_normal((2, 3, 4, 5))
    calls = [lambda M, x: M.nn.functional.batch_norm(x, None, None, training=False),
             lambda M, x: M.nn.functional.batch_norm(x, M.zeros(3), None, training=False),
             lambda M, x: M.nn.functional.batch_norm(x, None, None, M.ones(4), training=True),
             lambda M, x: M.nn.functional.batch_norm(x, None, None, None, M.ones(2), True),
             lambda M, x: M.nn.functional.batch_norm(x, M.zeros(3, dtype=M.float32),
                                                     M.ones(3), training=True)]
    for f in calls:
        msgs = []
        for M in (tapegrad, torch):
            with pytest.raises((RuntimeError, ValueError)) as e:
                f(M, M.tensor(xa, requires_grad=True))
            msgs.append((type(e.value), str(e.value)))
        assert msgs[0] == msgs[1]
    outs = []
    for M in (tapegrad, torch):
        x = M.tensor(xa, requires_grad=True)
        y = M.nn.functional.batch_norm(x * 2, None, None, training=True)
        z = M.nn.functional.batch_norm((x * 2).permute(0, 2, 3, 1).permute(0, 3, 1, 2), None,
                                       None, training=True)
        outs.append((y.detach().numpy(), y.is_contiguous(), z.is_contiguous(),
                     z.is_contiguous(memory_format=M.channels_last), type(y.grad_fn).__name__))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-10, atol=1e-12)
    assert outs[0][1:] == outs[1][1:]


def test_fast_batch_norm_refuses_what_is_not_its_case():
    """The n-d writer's refusals: a weight without a bias (or the reverse), a weight of
    another shape than (C,), another dtype, a subclass; the body records those (also as
    torch: values and gradients)."""
    from tapegrad.nn import _onepass
    rng = np.random.default_rng(19)
    xa = rng.standard_normal((4, 3, 2, 2))
    for lib in (tapegrad, torch):
        x = lib.tensor(xa, requires_grad=True) * 2
        w = lib.ones(3, dtype=lib.float64, requires_grad=True)
        b = lib.zeros(3, dtype=lib.float64, requires_grad=True)
        if lib is tapegrad:
            assert _onepass.batch_norm(x, w, None, 1e-5) is None
            assert _onepass.batch_norm(x, None, b, 1e-5) is None
            assert _onepass.batch_norm(x, w.reshape(1, 3), b, 1e-5) is None
            assert _onepass.batch_norm(x.float(), w, b, 1e-5) is None
            assert _onepass.batch_norm(x, w, b, 1e-5) is not None
    ys = []
    for lib in (tapegrad, torch):
        x = lib.tensor(xa, requires_grad=True)
        w = lib.tensor([1.5, 0.5, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.nn.functional.batch_norm(x * 2, None, None, w, None, True)
        assert type(y.grad_fn).__name__ == "NativeBatchNormBackward0"
        (y * y.sin()).sum().backward()
        ys.append((y.detach().numpy(), x.grad.numpy(), w.grad.numpy()))
    for a, b in zip(*ys):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---- logsumexp's one-pass writer (ndops._logsumexp_pass) against its body -------------------
def _logsumexp_scenario(fast, dtype, x_kind, shape, dims, keepdim):
    from tapegrad import decomps
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(15)
    xa = (rng.standard_normal(shape) * 4).astype(dtype)
    x0, x = _fresh_input(xa, x_kind, tapegrad.Tensor.sin)

    def lse(x):
        if fast:
            out = x.logsumexp(dims, keepdim=keepdim)
            assert out._node == out._tape.n - 1
            return out
        return decomps.record("logsumexp", decomps.logsumexp, KIND_OPS, x, dims, keepdim)
    out = lse(x)
    out2 = lse((out * 2.0).unsqueeze(dims[0]).expand(shape) if not keepdim else out * x)
    facts = _facts(out._tape, [x0, x, out, out2])
    assert type(out.grad_fn).__name__ == "LogsumexpBackward0"
    (out2 * out2).sum().backward()
    return facts, out.detach().numpy(), out2.detach().numpy(), x0.grad.numpy()


@pytest.mark.parametrize("dtype,x_kind,shape,dims,keepdim", [
    ("float32", "leaf", (4, 3), (1,), False), ("float64", "non-leaf", (4, 3), (0,), True),
    ("float32", "non-leaf", (2, 3, 4), (2,), False), ("float64", "leaf", (2, 3, 4), (1, 2), True),
    ("float32", "leaf", (6,), (0,), True), ("float64", "non-leaf", (5,), (0,), False),
    ("float32", "non-leaf", (3, 4), (0, 1), False), ("float64", "leaf", (2, 3), (0, 1), True)])
def test_fast_logsumexp_writes_the_decompositions_entries(dtype, x_kind, shape, dims, keepdim):
    fast = _logsumexp_scenario(True, dtype, x_kind, shape, dims, keepdim)
    slow = _logsumexp_scenario(False, dtype, x_kind, shape, dims, keepdim)
    assert fast[0] == slow[0]
    for a, b in zip(fast[1:], slow[1:]):
        np.testing.assert_array_equal(a, b)


def test_fast_logsumexp_as_torch_and_its_fallbacks(monkeypatch):
    """Inside the case (with one-element results: over every element, one row, a 1-d input)
    and outside it (a one-element input) values, gradients and second derivatives as
    torch's, infinities and nan included; no_grad the taped value."""
    methods = importlib.import_module("tapegrad.tensor_methods")
    taken = []
    real = methods._logsumexp_pass
    monkeypatch.setattr(methods, "_logsumexp_pass", lambda *a: taken.append(r := real(*a)) or r)
    rng = np.random.default_rng(16)
    inf = float("inf")
    for shape, dim, keep, one_pass in (((5, 3), 1, False, True), ((5, 3), 0, True, True),
                                       ((2, 3, 4), (1, 2), False, True), ((6,), 0, False, True),
                                       ((1, 4), 1, False, True), ((5, 3), (0, 1), False, True),
                                       ((1,), 0, True, False)):
        xa = rng.standard_normal(shape)
        got = []
        taken.clear()
        for lib in (tapegrad, torch):
            x = lib.tensor(xa, requires_grad=True)
            out = (x.tanh() * 3).logsumexp(dim, keepdim=keep)
            g, = lib.autograd.grad((out * out).sum(), x, create_graph=True)
            gg, = lib.autograd.grad((g * g).sum(), x)
            got.append((out.detach().numpy(), g.detach().numpy(), gg.numpy()))
        for a, b in zip(*got):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
        assert any(r is not None for r in taken) == one_pass, shape
        with tapegrad.no_grad():
            quiet = (tapegrad.tensor(xa).tanh() * 3).logsumexp(dim, keepdim=keep)
        np.testing.assert_array_equal(quiet.numpy(), got[0][0])
    special = [[0.0, inf, 1.0], [-inf, -inf, -inf], [float("nan"), 0.0, 1.0], [1.0, 2.0, 3.0]]
    vals = [lib.tensor(special).logsumexp(1).numpy() for lib in (tapegrad, torch)]
    np.testing.assert_allclose(vals[0], vals[1], rtol=1e-6)


# ---- avg_pool2d's one-pass writer (nn/_decomps_pool.avg_pool_pass: one entry of the
# avg_pool kind, kinds/pool.py) against the row's body (three entries) ----------------------
def _avg_pool_scenario(fast, dtype, x_kind, shape, kw, twice):
    """avg_pool2d (the writer, or the row's body) on a fresh tape, twice: again on its result
    times 2; returns (what the entries show: grad_fn names, edges, saved self; the outputs;
    x0's gradient after a backward; the first gradient with create_graph and the second
    derivative through it; the error of a second backward without retain_graph; the error
    after an in-place change of x)."""
    from tapegrad import decomps
    from tapegrad.nn import _decomps_pool as P
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(21)
    xa = (rng.standard_normal(shape) * 3).astype(dtype)

    def pool(x):
        if fast:
            n = x._tape.n if x._tape is not None else 0
            out = tapegrad.nn.functional.avg_pool2d(x, **kw)
            # (one entry, its input's leaf entry before it when x is a leaf)
            assert out._node == out._tape.n - 1 and out._tape.n - n <= 2
            assert out._tape.op[out._node] == OPS["avg_pool2d_windows"].code
            return out
        k = kw["kernel_size"]
        s = kw.get("stride", k)
        d = kw.get("divisor_override") or k[0] * k[1]
        return decomps.record("avg_pool2d", P.avg_pool, KIND_OPS, x, k, s, (0, 0), (0, 0),
                              float(d))

    def run():
        x0, x = _fresh_input(xa, x_kind, tapegrad.Tensor.tanh)
        outs = [pool(x)]
        if twice:
            outs.append(pool(outs[0] * 2.0))
        weights = tapegrad.tensor(np.cos(np.arange(outs[-1].numel())).reshape(
            outs[-1].shape).astype(dtype))
        return x0, x, outs, (outs[-1] * weights).sum()
    def saved_self(o):   # (the body's own entries need not have saved it)
        try:
            return o.grad_fn._saved_self.detach().numpy().tobytes()
        except NotImplementedError:
            return None
    x0, x, outs, loss = run()
    ins = [x.detach().numpy().tobytes()] + [(o * 2.0).detach().numpy().tobytes()
                                            for o in outs[:-1]]
    shown = [(type(o.grad_fn).__name__,
              [(type(f).__name__, k) for f, k in o.grad_fn.next_functions],
              saved_self(o), i) for o, i in zip(outs, ins)]
    assert all(o.is_contiguous() for o in outs)
    loss.backward(retain_graph=True)
    grad = x0.grad.numpy().copy()
    loss.backward()
    assert np.array_equal(x0.grad.numpy(), 2 * grad)
    with pytest.raises(RuntimeError) as again:
        loss.backward()
    x0, x, outs, loss = run()
    g, = tapegrad.autograd.grad(loss, x0, create_graph=True)
    gg, = tapegrad.autograd.grad((g * g.sin()).sum(), x0)
    x0, x, outs, loss = run()
    with tapegrad.no_grad():
        x.add_(1.0) if x_kind == "non-leaf" else x.mul_(1.0)
    with pytest.raises(RuntimeError) as changed:
        loss.backward()
    return (shown, [o.detach().numpy() for o in outs], grad,
            (g.requires_grad, type(g.grad_fn).__name__, g.detach().numpy(), gg.numpy()),
            str(again.value), str(changed.value))


@pytest.mark.parametrize("dtype,x_kind,shape,kw,twice", [
    ("float32", "non-leaf", (4, 3, 8, 8), dict(kernel_size=(2, 2)), False),
    ("float32", "leaf", (2, 3, 9, 7), dict(kernel_size=(3, 2), stride=(2, 1)), True),
    ("float64", "non-leaf", (2, 2, 10, 12), dict(kernel_size=(2, 3), stride=(2, 2),
                                                 divisor_override=5), True),
    ("float64", "leaf", (3, 1, 5, 5), dict(kernel_size=(5, 5), stride=(1, 1)), False),
    ("float32", "non-leaf", (2, 3, 7, 7), dict(kernel_size=(3, 3), stride=(1, 1)), True)])
def test_fast_avg_pool2d_entry_against_the_decomposition(dtype, x_kind, shape, kw, twice):
    """The writer's one entry shows the body's group (AvgPool2DBackward0, its edges, saved
    self: also where the body's entries did not keep it), and its gradients are the body's bit for bit (the same additions in the same
    order, overlapping windows included), with create_graph too (its gradient an
    input_edge of x, the second derivative the body's); a second backward without
    retain_graph and an in-place change of x fail as the body's; its values are torch's
    additions in its kernel's order, the body's numpy reduce's to rounding."""
    fast = _avg_pool_scenario(True, dtype, x_kind, shape, kw, twice)
    slow = _avg_pool_scenario(False, dtype, x_kind, shape, kw, twice)
    for f, s in zip(fast[0], slow[0]):
        assert f[:2] == s[:2] and f[2] == f[3] and s[2] in (None, f[2])
    eps = 1e-6 if dtype == "float32" else 1e-14     # (relative to the largest magnitude)
    for a, b in zip(fast[1], slow[1]):
        np.testing.assert_allclose(a, b, rtol=eps, atol=eps * np.abs(b).max())
    np.testing.assert_array_equal(fast[2], slow[2])
    assert fast[3][:2] == slow[3][:2]
    assert fast[3][:2] == (True, "InputEdgeBackward0" if x_kind == "leaf" else "MulBackward0")
    np.testing.assert_array_equal(fast[3][2], slow[3][2])
    np.testing.assert_array_equal(fast[3][3], slow[3][3])
    assert fast[4:] == slow[4:]
    assert "second time" in fast[4] and "inplace operation" in fast[5]


def test_avg_pool_kind_faces():
    """The kind's kernel pieces (a replay's forward, the eager sweep) and its tensor forward
    agree with the eager entry: the forward pieces sum in float64, so float64 values to
    rounding; the tensor face records the same one entry, and outside the writer's case
    (a non-contiguous operand) the row's body."""
    from tapegrad.kinds import pool
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(24)
    xa = rng.standard_normal((2, 3, 9, 8))
    x = tapegrad.tensor(xa, requires_grad=True) * 1.0
    y = tapegrad.nn.functional.avg_pool2d(x, (3, 2), (2, 3), divisor_override=7)
    tape = y._tape
    params = tape.params_of(y._node)
    assert params.tolist() == [3, 2, 2, 3] and tape.imm[y._node] == 7.0
    z = pool.tensor_forward_avg_pool(KIND_OPS, x, None, tuple(y.shape), params, 7.0)
    assert z._tape.op[z._node] == OPS["avg_pool2d_windows"].code
    np.testing.assert_array_equal(z.detach().numpy(), y.detach().numpy())
    # the kernel pieces as plain Python on a small arena: the operand at 0, the output after
    n, out_off = xa.size, xa.size
    shp = np.zeros((2, 8), np.int64)
    shp[0, :4], shp[1, :4] = xa.shape, y.shape
    args = (1, 0, -1, out_off, y.numel(), np.array([0, out_off]), None, shp, None,
            np.array([0, 0]), np.asarray(params), np.array([0.0, 7.0]))
    vals = np.concatenate([xa.ravel(), np.zeros(y.numel())])
    pool.forward_avg_pool(*args, vals)
    np.testing.assert_allclose(vals[out_off:], y.detach().numpy().ravel(), rtol=1e-14)
    gy = rng.standard_normal(y.shape)
    adj = np.concatenate([np.zeros(n), gy.ravel()])
    pool.sweep_avg_pool(*args, vals, adj)
    gx, = tapegrad.autograd.grad(y, x, tapegrad.tensor(gy))
    np.testing.assert_array_equal(adj[:n].reshape(xa.shape), gx.numpy())
    t = x.transpose(2, 3)
    w = pool.tensor_forward_avg_pool(KIND_OPS, t, None, None, [2, 2, 2, 2], 4.0)
    assert type(w.grad_fn).__name__ == "AvgPool2DBackward0"
    assert w._tape.op[w._node] != OPS["avg_pool2d_windows"].code
    np.testing.assert_allclose(w.detach().numpy(), torch.nn.functional.avg_pool2d(
        torch.tensor(xa).transpose(2, 3), 2).numpy(), rtol=1e-14)


def test_fast_avg_pool2d_as_torch_and_its_fallbacks(monkeypatch):
    """Inside the writer's case the values are torch's bit for bit (its order of additions:
    long windows, signed zeros, infinities and nan), the gradients and second derivatives as
    torch's; outside it (padding, ceil_mode's extra padding, a 3-d input, a non-contiguous
    input, a one-element output, recording for replay) the body, also as torch; under
    no_grad and without requires_grad the writer's value with no entry."""
    from tapegrad.nn import _decomps_pool as P
    taken = []
    real = P.avg_pool_pass
    monkeypatch.setattr(P, "avg_pool_pass", lambda *a: taken.append(r := real(*a)) or r)
    rng = np.random.default_rng(22)
    cases = [((4, 3, 8, 8), dict(kernel_size=2), "float32", None, True),
             ((2, 3, 20, 20), dict(kernel_size=(5, 4), stride=(3, 2)), "float32", None, True),
             ((2, 2, 9, 9), dict(kernel_size=3, stride=1, divisor_override=2), "float64", None,
              True),
             ((2, 3, 6, 6), dict(kernel_size=2), "float32", "special", True),
             ((2, 3, 7, 6), dict(kernel_size=3, stride=2, padding=1), "float32", None, False),
             ((2, 3, 7, 7), dict(kernel_size=2, ceil_mode=True), "float32", None, False),
             ((2, 3, 8, 8), dict(kernel_size=2, ceil_mode=True), "float32", None, True),
             ((3, 8, 8), dict(kernel_size=2), "float32", None, False),
             ((2, 3, 8, 8), dict(kernel_size=2), "float32", "transposed", False),
             ((1, 1, 2, 2), dict(kernel_size=2), "float32", None, False)]
    for shape, kw, dtype, kind, one_pass in cases:
        xa = (rng.standard_normal(shape) * rng.uniform(0.01, 100, shape)).astype(dtype)
        if kind == "special":
            xa[0, 0, :2, :2] = -0.0
            xa[0, 1, 0, 0], xa[0, 1, 2, 3], xa[1, 2, 5, 5] = np.inf, -np.inf, np.nan
        got = []
        taken.clear()
        for lib in (tapegrad, torch):
            x = lib.tensor(xa, requires_grad=True)
            xin = (x * 1.0).transpose(2, 3) if kind == "transposed" else x * 1.0
            y = lib.nn.functional.avg_pool2d(xin, **kw)
            g, = lib.autograd.grad((y * y.sin()).sum(), x, create_graph=True)
            gg, = lib.autograd.grad((g * g).sum(), x)
            got.append((y.detach().numpy(), type(y.grad_fn).__name__, g.detach().numpy(),
                        gg.numpy()))
        assert got[0][1] == got[1][1] == "AvgPool2DBackward0"
        if one_pass:
            np.testing.assert_array_equal(got[0][0], got[1][0])
        else:
            np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-5, atol=1e-6)
        for a, b in zip(got[0][2:], got[1][2:]):
            np.testing.assert_allclose(a, b, rtol=1e-4 if dtype == "float32" else 1e-12,
                                       atol=1e-5 if dtype == "float32" else 1e-12)
        assert any(r is not None for r in taken) == one_pass, (shape, kw, kind)
        if one_pass:
            for quiet in (tapegrad.no_grad, lambda: contextlib.nullcontext()):
                with quiet():
                    z = tapegrad.nn.functional.avg_pool2d(tapegrad.tensor(xa), **kw)
                assert z.grad_fn is None and not z.requires_grad
                np.testing.assert_array_equal(z.numpy(), got[0][0])
    # avg_pool1d of (N, C, L) pools its (N, C, 1, L) view: the writer's case too
    xa = (rng.standard_normal((2, 3, 11)) * 10).astype(np.float32)
    taken.clear()
    ys = [lib.nn.functional.avg_pool1d(lib.tensor(xa, requires_grad=True) * 1.0, 3, 2)
          for lib in (tapegrad, torch)]
    assert taken and taken[0] is not None
    np.testing.assert_array_equal(ys[0].detach().numpy(), ys[1].detach().numpy())
    assert [type(y.grad_fn).__name__ for y in ys] == ["SqueezeBackward1"] * 2
    xa = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    taken.clear()
    rec = tapegrad.record(lambda x: tapegrad.nn.functional.avg_pool2d(x, 2).sum(),
                          tapegrad.tensor(xa))
    assert taken and all(r is None for r in taken)
    np.testing.assert_allclose(float(rec(xa * 2)), float(
        torch.nn.functional.avg_pool2d(torch.tensor(xa * 2), 2).sum()), rtol=1e-5)


def test_avg_pool_entry_is_eager_only():
    """A traced avg_pool2d records the row's primitives (a replay computes them), so no tape
    file holds an avg_pool entry: one edited in is refused."""
    import json
    from tapegrad import tapefile
    xa = np.random.default_rng(25).standard_normal((2, 3, 6, 6))
    rec = tapegrad.record(lambda x: tapegrad.nn.functional.avg_pool2d(x, 2).sum(),
                          tapegrad.tensor(xa))
    ops = rec.prog["op"]
    assert OPS["avg_pool2d_windows"].code not in ops and OPS["sum_dim"].code in ops
    members = tapefile.arrays(rec.prog, rec.meta)
    e = int(np.flatnonzero(members["op"] == OPS["sum_dim"].code)[0])
    arrs = {k: v.copy() for k, v in members.items() if k != "meta"}
    arrs["op"][e] = OPS["avg_pool2d_windows"].code
    header = json.loads(str(members["meta"]))
    header["digest"] = tapefile.digest(header, arrs)
    tapefile.from_arrays(members)
    with pytest.raises(tapefile.TapeFormatError, match="avg_pool entry"):
        tapefile.from_arrays(dict(arrs, meta=np.array(json.dumps(header))))


def test_avg_pool2d_front_end_memo_keeps_torchs_checks(monkeypatch):
    """A layer's repeated call skips the checks (nn/_pooling._AVG_PASS: the writer's
    arguments by the arguments as given, the input's shape and dtype) with the same result;
    an argument set that fails a check is never kept, and another shape, dtype, a list
    argument or a non-bool flag is checked again (torch's errors and values)."""
    from tapegrad.nn import _pooling as PL
    monkeypatch.setattr(PL, "_AVG_PASS", {})
    rng = np.random.default_rng(23)
    xa = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    F = tapegrad.nn.functional
    outs = [F.avg_pool2d(tapegrad.tensor(xa, requires_grad=True) * 1.0, 3, 1, divisor_override=4)
            for _ in range(2)]
    assert len(PL._AVG_PASS) == 1
    ref = torch.nn.functional.avg_pool2d(torch.tensor(xa), 3, 1, divisor_override=4)
    for o in outs:
        assert type(o.grad_fn).__name__ == "AvgPool2DBackward0"
        np.testing.assert_array_equal(o.detach().numpy(), ref.numpy())
    F.avg_pool2d(tapegrad.tensor(xa, requires_grad=True) * 1.0, [3, 3], 1)   # (a list: no key)
    F.avg_pool2d(tapegrad.tensor(xa, requires_grad=True) * 1.0, 3, 1, ceil_mode=0)
    assert len(PL._AVG_PASS) == 1
    for M in (tapegrad, torch):
        for call in (lambda M: M.nn.functional.avg_pool2d(M.ones(2, 3, 6, 6) * 1.0, 3, 1,
                                                          divisor_override=0),
                     lambda M: M.nn.functional.avg_pool2d(M.ones(2, 3, 2, 2) * 1.0, 3, 1,
                                                          divisor_override=4),
                     lambda M: M.nn.functional.avg_pool2d(M.ones(2, 3, 6, 6, dtype=M.int32),
                                                          3, 1, divisor_override=4)):
            for _ in range(2):
                with pytest.raises((RuntimeError, NotImplementedError)) as e:
                    call(M)
                outs.append((type(e.value).__name__, str(e.value)))
    assert outs[2:8] == outs[8:]
    assert len(PL._AVG_PASS) == 1


# ---- adaptive average pooling as one entry of the adaptive_avg_pool kind (kinds/pool.py;
# nn/_decomps_pool.adaptive_avg_pool_pass) against torch, and the row's body elsewhere -------
_ADAPTIVE_CASES = [
    ("2d", (4, 16, 14, 14), (5, 5)), ("2d-even", (2, 4, 14, 14), (7, 7)),
    ("2d-up", (2, 3, 5, 4), (9, 7)), ("2d-unbatched", (3, 13, 17), (6, 5)),
    ("2d-long", (1, 2, 40, 33), (3, 4)), ("1d", (2, 3, 50), (7,)),
    ("1d-unbatched", (4, 9), (4,)), ("3d", (2, 3, 6, 10, 10), (4, 3, 7)),
    ("3d-unbatched", (2, 5, 9, 11), (2, 4, 3))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,out", [c[1:] for c in _ADAPTIVE_CASES],
                         ids=[c[0] for c in _ADAPTIVE_CASES])
def test_adaptive_avg_pool_entry_as_torch(shape, out, dtype):
    """A contiguous float32/float64 input pools as one entry of the adaptive_avg_pool kind:
    its values and gradient are torch's bit for bit (its kernel's additions in window
    order and g / kd / kh / kw, each step of a float32 one rounded to float32, also where an
    element lies in several windows), signed zeros, infinities and nans included; grad_fn,
    next_functions and _saved_self as torch's; the create_graph gradient and the second
    derivative through it as torch's to rounding; under no_grad the same values, no entry;
    an in-place change of x fails the backward as torch's."""
    k = len(out)
    rng = np.random.default_rng(31)
    xa = (rng.standard_normal(shape) * rng.uniform(0.01, 100, shape)).astype(dtype)
    special = xa.copy().reshape(-1)
    special[3], special[special.size // 3], special[special.size // 2] = -0.0, np.inf, np.nan
    special = special.reshape(shape)
    lead = shape[:len(shape) - k]
    gy = (rng.standard_normal(lead + out) * 10).astype(dtype)
    gy.reshape(-1)[1] = -np.inf

    def pool(lib, x):
        return getattr(lib.nn.functional, f"adaptive_avg_pool{k}d")(x, out)

    got = []
    for lib in (tapegrad, torch):
        x = lib.tensor(special, requires_grad=True)
        y = pool(lib, x)
        node = y if k > 1 else y.grad_fn.next_functions[0][0]
        saved = (node if k == 1 else y.grad_fn)._saved_self.detach().numpy() if k > 1 else \
            None
        gx, = lib.autograd.grad(y, x, lib.tensor(gy))
        x2 = lib.tensor(xa, requires_grad=True)
        g, = lib.autograd.grad((pool(lib, x2) * pool(lib, x2).sin()).sum(), x2,
                               create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), x2)
        with lib.no_grad():
            quiet = pool(lib, lib.tensor(special))
        x3 = lib.tensor(xa, requires_grad=True) * 1.0
        y3 = pool(lib, x3)
        with lib.no_grad():
            x3.mul_(2.0)
        with pytest.raises(RuntimeError, match="inplace operation"):
            y3.sum().backward()
        got.append((y.detach().numpy(), type(y.grad_fn).__name__,
                    [type(f).__name__ for f, _ in y.grad_fn.next_functions], saved,
                    gx.numpy(), g.detach().numpy(), gg.numpy(), quiet.numpy(),
                    quiet.requires_grad))
        if lib is tapegrad:
            row = OPS[f"adaptive_avg_pool{max(k, 2)}d_windows"].code
            assert row in np.asarray(y._tape.op[:y._tape.n]).tolist()
            assert node is y or row == y._tape.op[y._tape.n - 2]
    ours, theirs = got
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1:3] == theirs[1:3]
    if k > 1:
        np.testing.assert_array_equal(ours[3], theirs[3])
    np.testing.assert_array_equal(ours[4], theirs[4])
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours[5], theirs[5], **tol)
    np.testing.assert_allclose(ours[6], theirs[6], **tol)
    np.testing.assert_array_equal(ours[7], theirs[7])
    assert ours[8] is theirs[8] is False


def test_adaptive_avg_pool_kind_faces():
    """The kind's kernel pieces (a replay's forward, the eager sweep) and its tensor forward
    agree with the eager entry: the forward piece sums in float64, so the values to rounding;
    the sweep piece's gradient is the entry's (its float32 rounding on imm 1.0); the tensor
    face records the same one entry, and outside the writer's case (a non-contiguous
    operand) the row's body, as torch."""
    from tapegrad.kinds import pool
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(32)
    for dtype, shape, out in [("float64", (2, 3, 9, 8), (4, 3)),
                              ("float32", (2, 2, 5, 6, 7), (2, 4, 3))]:
        k = len(out)
        xa = rng.standard_normal(shape).astype(dtype)
        x = tapegrad.tensor(xa, requires_grad=True) * 1.0
        y = getattr(tapegrad.nn.functional, f"adaptive_avg_pool{k}d")(x, out)
        tape = y._tape
        params = tape.params_of(y._node)
        imm = 1.0 if dtype == "float32" else 0.0
        pad = (1,) * (3 - k)
        assert params.tolist() == [k, *pad, *shape[-k:], *pad, *out]
        assert tape.imm[y._node] == imm
        z = pool.tensor_forward_adaptive_avg_pool(KIND_OPS, x, None, tuple(y.shape), params,
                                                  imm)
        assert z._tape.op[z._node] == OPS[f"adaptive_avg_pool{k}d_windows"].code
        np.testing.assert_array_equal(z.detach().numpy(), y.detach().numpy())
        # the kernel pieces as plain Python on a small float64 arena: the operand at 0, the
        # output after it
        n, out_off = xa.size, xa.size
        args = (1, 0, -1, out_off, y.numel(), np.array([0, out_off]),
                np.array([n, y.numel()]), None, None, np.array([0, 0]), np.asarray(params),
                np.array([0.0, imm]))
        vals = np.concatenate([xa.ravel().astype(np.float64), np.zeros(y.numel())])
        pool.forward_adaptive_avg_pool(*args, vals)
        eps = 1e-6 if dtype == "float32" else 1e-14     # (relative to the largest magnitude)
        np.testing.assert_allclose(vals[out_off:], y.detach().numpy().ravel(), rtol=eps,
                                   atol=eps * np.abs(xa).max())
        gy = rng.standard_normal(tuple(y.shape)).astype(dtype)
        adj = np.concatenate([np.zeros(n), gy.ravel().astype(np.float64)])
        pool.sweep_adaptive_avg_pool(*args, vals, adj)
        gx, = tapegrad.autograd.grad(y, x, tapegrad.tensor(gy))
        np.testing.assert_array_equal(adj[:n].reshape(shape).astype(dtype), gx.numpy())
        t = x.transpose(-1, -2)
        sizes = tuple(t.shape[-k:])
        w = pool.tensor_forward_adaptive_avg_pool(
            KIND_OPS, t, None, None, [k, *pad, *sizes, *pad, *out], imm)
        assert type(w.grad_fn).__name__ == f"AdaptiveAvgPool{k}DBackward0"
        assert w._tape.op[w._node] != OPS[f"adaptive_avg_pool{k}d_windows"].code
        ref = getattr(torch.nn.functional, f"adaptive_avg_pool{k}d")(
            torch.tensor(xa).transpose(-1, -2), out)
        np.testing.assert_allclose(w.detach().numpy(), ref.numpy(), rtol=1e-5)


def test_adaptive_avg_pool_entry_is_eager_only():
    """A traced adaptive_avg_pool2d records the row's primitives (a replay computes them, as
    torch's values), so no tape file holds an adaptive_avg_pool entry: one edited in is
    refused."""
    import json
    from tapegrad import tapefile
    xa = np.random.default_rng(33).standard_normal((2, 3, 7, 6))
    f = tapegrad.nn.functional.adaptive_avg_pool2d
    rec = tapegrad.record(lambda x: f(x, (3, 4)).sum(), tapegrad.tensor(xa))
    ops = rec.prog["op"]
    assert OPS["adaptive_avg_pool2d_windows"].code not in ops and OPS["sum_dim"].code in ops
    np.testing.assert_allclose(float(rec(xa * 2)), float(torch.nn.functional.adaptive_avg_pool2d(
        torch.tensor(xa * 2), (3, 4)).sum()), rtol=1e-12)
    members = tapefile.arrays(rec.prog, rec.meta)
    e = int(np.flatnonzero(members["op"] == OPS["sum_dim"].code)[0])
    arrs = {k: v.copy() for k, v in members.items() if k != "meta"}
    arrs["op"][e] = OPS["adaptive_avg_pool2d_windows"].code
    header = json.loads(str(members["meta"]))
    header["digest"] = tapefile.digest(header, arrs)
    tapefile.from_arrays(members)
    with pytest.raises(tapefile.TapeFormatError, match="adaptive_avg_pool entry"):
        tapefile.from_arrays(dict(arrs, meta=np.array(json.dumps(header))))


_ADAPTIVE_MAX_CASES = [
    ("1d", (2, 3, 50), (7,)), ("2d-unbatched", (3, 13, 17), (6, 5)),
    ("2d", (2, 4, 14, 14), (5, 5)), ("2d-up", (2, 3, 5, 4), (9, 7)),
    ("3d", (2, 3, 6, 10, 10), (4, 3, 7)), ("empty-batch", (0, 3, 5, 5), (2, 2)),
    # (the loop's blocks of 64 planes: two full ones and a part)
    ("1d-blocks", (3, 43, 20), (6,)), ("2d-blocks", (2, 65, 9, 7), (4, 3))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,out", [c[1:] for c in _ADAPTIVE_MAX_CASES],
                         ids=[c[0] for c in _ADAPTIVE_MAX_CASES])
def test_adaptive_max_pool_loop_as_torch(monkeypatch, shape, out, dtype):
    """A float32/float64 adaptive max pooling finds its maxima by nn/_pool_loops' loop: the
    element torch's kernel picks (the first maximum on ties, the last nan, the first element
    of a window of -inf), the window index numpy's path finds (a traced call's guard reads
    it); values, indices and grad_fn are torch's bit for bit, gradients too for float64."""
    from tapegrad.nn import _decomps_pool as P
    k = len(out)
    rng = np.random.default_rng(34)
    xa = rng.integers(-2, 3, shape).astype(dtype)      # (ties)
    m = rng.random(shape)
    xa[m < 0.05], xa[(m > 0.05) & (m < 0.25)], xa[(m > 0.25) & (m < 0.28)] = \
        np.nan, -np.inf, np.inf
    if xa.size:
        xa.reshape(-1)[:shape[-1] * 2] = -np.inf    # (whole windows of -inf)
    lead = shape[:len(shape) - k]
    gy = rng.standard_normal(lead + out).astype(dtype)
    calls = []
    monkeypatch.setattr(P, "_loops_max_adaptive", [])
    P.adaptive_max_positions(np.zeros((1, 1) + (2,) * max(k, 2), dtype), (1,) * max(k, 2))
    loop = P._loops_max_adaptive[0]
    P._loops_max_adaptive[0] = lambda *a: calls.append(1) or loop(*a)
    got = []
    for lib in (tapegrad, torch):
        x = lib.tensor(xa, requires_grad=True)
        y, i = getattr(lib.nn.functional, f"adaptive_max_pool{k}d")(x, out, return_indices=True)
        gx, = lib.autograd.grad(y, x, lib.tensor(gy))
        got.append((y.detach().numpy(), i.numpy(), type(y.grad_fn).__name__, gx.numpy()))
    assert calls
    for a, b in zip(got[0][:3], got[1][:3]):
        np.testing.assert_array_equal(a, b)
    # (float32: an element picked by three or more windows adds their gradients in the
    # float64 arena, torch in float32, so the last bit may differ)
    tol = dict(rtol=1e-6, atol=0) if dtype == "float32" else dict(rtol=0, atol=0)
    np.testing.assert_allclose(got[0][3], got[1][3], **tol)
    # the loop's positions and window indices against numpy's path (a longdouble copy)
    arr = xa if k > 1 else xa[:, :, None]
    arr = arr if arr.ndim == max(k, 2) + 2 else arr[None]
    size = out if k > 1 else (1,) + out
    for a, b in zip(P.adaptive_max_positions(arr, size),
                    P.adaptive_max_positions(arr.astype(np.longdouble), size)):
        np.testing.assert_array_equal(a, b)
