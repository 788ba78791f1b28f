"""tapegrad.compile of a training step (a function calling backward() and opt.step()):
after every call, the parameters, .grad, the optimizer's state, the version counters and the
returned loss equal the eager step's (float64 round-off, 100 steps); what a trace cannot hold
raises TracingError and changes nothing (fullgraph=True; by default such a step runs eagerly,
as torch.compile's graph break)."""
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn

torch = pytest.importorskip("torch")


def _params(dt="float64", mixed=True):
    """With `mixed`, the 0-d parameter is float-backed (its gradient too), else (1, 1)."""
    rng = np.random.default_rng(0)
    vals = [rng.standard_normal((3, 2)), rng.standard_normal(2),
            np.array(0.7) if mixed else np.array([[0.7]]), np.array([0.3])]
    return [tg.tensor(v.astype(dt), requires_grad=True) for v in vals]


def _loss(ps, x, y):
    """A matrix, a vector, a 0-d (float-backed) and a (1,) parameter."""
    w, b, s, c = ps
    fit = (((x @ w + b).tanh() * s - y) ** 2).mean()
    return fit + ((c - 0.5).pow(2) * s * s).sum()


def _batches(n, rows=4, dt="float64"):
    rng = np.random.default_rng(1)
    return [(tg.tensor(rng.standard_normal((rows, 3)).astype(dt)),
             tg.tensor(rng.standard_normal((rows, 2)).astype(dt))) for _ in range(n)]


def _step_fn(ps, opt, pattern):
    """The step as tutorials write it, in several orders of zero_grad/backward/step."""
    def step(x, y):
        if pattern == "zero_first":
            opt.zero_grad()
        elif pattern == "zero_in_place":
            opt.zero_grad(set_to_none=False)
        loss = _loss(ps, x, y)
        loss.backward()
        if pattern == "zero_between":      # (the update then sees zeros: weight decay only)
            opt.zero_grad(set_to_none=False)
        opt.step()
        if pattern == "zero_after":
            opt.zero_grad()
        return loss     # ("accumulate": no zero_grad, .grad sums over the steps)
    return step


def _state(ps, opt):
    grads = [None if p.grad is None else p.grad.numpy().copy() for p in ps]
    st = {i: {k: np.array(v.numpy()) if isinstance(v, tg.Tensor) else v for k, v in s.items()}
          for i, s in opt.state_dict()["state"].items()}
    return ([p.detach().numpy().copy() for p in ps], grads, [p._version for p in ps], st,
            [g["lr"] for g in opt.param_groups])


def _assert_same(a, b):
    for x, y in zip(a[0], b[0]):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)
    for x, y in zip(a[1], b[1]):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)
    assert a[2] == b[2]
    assert a[3].keys() == b[3].keys()
    for i in a[3]:
        assert a[3][i].keys() == b[3][i].keys()
        for k in a[3][i]:
            np.testing.assert_allclose(a[3][i][k], b[3][i][k], rtol=1e-12, atol=1e-14)
    assert a[4] == b[4]


CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01), "zero_first", 0),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01), "zero_first", 1),
    ("SGD", dict(lr=0.02, momentum=0.8, dampening=0.3), "zero_in_place", 0),
    ("SGD", dict(lr=0.01), "accumulate", 0),
    ("SGD", dict(lr=0.01, maximize=True), "accumulate", 1),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1), "zero_between", 1),
    ("Adam", dict(lr=0.01), "zero_after", 0),
    ("Adam", dict(lr=0.01, weight_decay=0.1), "zero_first", 1),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.05), "zero_first", 0),
    ("RMSprop", dict(lr=0.01, momentum=0.5), "zero_first", 1),
    ("NAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True), "zero_first", 1),
    ("RAdam", dict(lr=0.01, weight_decay=0.1), "zero_after", 0),
    ("Adamax", dict(lr=0.01, maximize=True), "zero_in_place", 1),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1), "accumulate", 0),
    ("Rprop", dict(lr=0.01), "zero_first", 1),
    ("ASGD", dict(lr=0.05, lambd=0.01, t0=20), "zero_first", 1),
    ("Adafactor", dict(lr=0.02, weight_decay=0.1), "zero_first", 1),
    ("Adafactor", dict(lr=0.02), "zero_after", 0),
]


@pytest.mark.parametrize("cls,kw,pattern,mixed", CASES,
                         ids=[f"{c}-{p}-{'mixed' if m else 'arrays'}" for c, _, p, m in CASES])
def test_compiled_step_equals_the_eager_step(cls, kw, pattern, mixed):
    """100 steps on changing batches, a StepLR scheduler between calls, two parameter groups
    (SGD), compared after every step; zero_grad(set_to_none=False) keeps each .grad tensor."""
    batches = _batches(100)
    runs = []
    for compiled in (False, True):
        ps = _params(mixed=bool(mixed))
        groups = [{"params": ps[:2]}, {"params": ps[2:], "lr": kw["lr"] * 0.5}]
        opt = getattr(tg.optim, cls)(groups if cls == "SGD" else ps, **kw)
        sched = tg.optim.lr_scheduler.StepLR(opt, 7, gamma=0.5)
        step = _step_fn(ps, opt, pattern)
        if compiled:
            step = tg.compile(step)
        trace = []
        first = None
        for x, y in batches:
            loss = step(x, y)
            sched.step()
            trace.append((float(loss), _state(ps, opt)))
            if pattern == "zero_in_place":
                first = first or [p.grad for p in ps]
                assert all(p.grad is g for p, g in zip(ps, first))
        runs.append(trace)
        if compiled:
            assert len(step.tapes) == 1 and step.rerecords == 0
            prog = next(iter(step.tapes.values()))
            assert type(prog).__name__ == "StepProgram"
    for (la, a), (lb, b) in zip(*runs):
        assert la == pytest.approx(lb, rel=1e-12)
        _assert_same(a, b)


def _mlp(lib, dt):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(2, 16), lib.nn.Tanh(), lib.nn.Linear(16, 16),
                             lib.nn.Tanh(), lib.nn.Linear(16, 1)).to(getattr(lib, dt))


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_compiled_nn_step_as_torch(dt):
    """The issue's MLP (nn.Linear + Tanh + MSELoss + SGD, model.zero_grad()) compiled, against
    torch's eager step with the same weights and batches; the batch size changes once (a new
    signature: a second program)."""
    rng = np.random.default_rng(2)
    data = [rng.standard_normal((32 if i < 30 else 8, 2)).astype(dt) for i in range(40)]
    out = {}
    for lib in (tg, torch):
        model = _mlp(tg, dt)
        if lib is torch:
            ref = model
            model = _mlp(torch, dt)
            with torch.no_grad():
                for p, q in zip(model.parameters(), ref.parameters()):
                    p.copy_(torch.tensor(q.detach().numpy()))
        opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        loss_fn = lib.nn.MSELoss()

        def step(x, y):
            model.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss
        if lib is tg:
            step = tg.compile(step)
        losses = []
        for X in data:
            x = lib.tensor(X)
            losses.append(float(step(x, x.sum(1, keepdim=True).sin())))
        out[lib.__name__] = (losses, [p.detach().numpy().copy() for p in model.parameters()],
                             [p.grad.numpy().copy() for p in model.parameters()])
        if lib is tg:
            assert len(step.tapes) == 2
    tol = dict(rtol=1e-10, atol=1e-12) if dt == "float64" else dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(out["tapegrad"][0], out["torch"][0], **tol)
    for i in (1, 2):
        for a, b in zip(out["tapegrad"][i], out["torch"][i]):
            np.testing.assert_allclose(a, b, **tol)


def test_branch_change_records_again_and_changes_nothing_first():
    """A guard that fails re-records (compile's rule) before anything of the failed call
    changes: the results still equal the eager step's."""
    runs = []
    for compiled in (False, True):
        w = tg.tensor([0.5, -0.25], requires_grad=True)
        opt = tg.optim.SGD([w], lr=0.1, momentum=0.5)

        def step(x):
            opt.zero_grad()
            z = (x * w).sum()
            loss = z ** 2 if z > 0 else -z * 3.0
            loss.backward()
            opt.step()
            return loss
        if compiled:
            step = tg.compile(step)
        out = [float(step(tg.tensor([s, 1.0]))) for s in (1.0, 2.0, -3.0, -2.0, 4.0, 1.0)]
        runs.append((out, w.tolist(), w.grad.tolist(), w._version,
                     opt.state[w]["momentum_buffer"].tolist()))
        if compiled:
            assert step.rerecords >= 2
    assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-6)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-6)
    np.testing.assert_allclose(runs[0][2], runs[1][2], rtol=1e-6)
    assert runs[0][3] == runs[1][3]
    np.testing.assert_allclose(runs[0][4], runs[1][4], rtol=1e-6)


def test_returns_and_grad_tensors_as_eager():
    """The step returns what the function returns (tensors as values, constants as they
    were); each call's .grad is a new tensor (set_to_none), one the user holds keeps its
    value; a scheduler between calls is seen."""
    ps = _params()
    opt = tg.optim.Adam(ps, lr=0.1)

    @tg.compile
    def step(x, y):
        opt.zero_grad()
        loss = _loss(ps, x, y)
        loss.backward()
        opt.step()
        return loss, "tag", loss * 2

    (x, y), = _batches(1)
    loss, tag, twice = step(x, y)
    assert tag == "tag" and float(twice) == pytest.approx(2 * float(loss))
    assert not loss.requires_grad and loss.shape == ()
    g0 = ps[0].grad
    held = g0.numpy().copy()
    step(x, y)
    assert ps[0].grad is not g0
    np.testing.assert_array_equal(g0.numpy(), held)
    assert int(opt.state[ps[0]]["step"]) == 2


def test_a_dict_or_nested_result_holds_this_calls_tensors():
    """A step returning a dict ({"loss": loss, ...}) or nested tuples returns this call's
    values, as the eager step (it returned the trace's tensors, stale, at every call)."""
    runs = []
    for compiled in (False, True):
        ps = _params()
        opt = tg.optim.SGD(ps, lr=0.05, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = _loss(ps, x, y)
            loss.backward()
            opt.step()
            return {"loss": loss, "parts": (loss * 2, [loss + 1, "tag"])}
        if compiled:
            step = tg.compile(step)
        seen = []
        for x, y in _batches(4):
            r = step(x, y)
            assert type(r) is dict and r["parts"][1][1] == "tag"
            seen.append([r["loss"].item(), r["parts"][0].item(), r["parts"][1][0].item()])
        runs.append(seen)
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-12)
    assert len({tuple(s) for s in runs[1]}) == 4


@pytest.mark.parametrize("case", ["create_graph", "second_backward", "grad_read", "clip",
                                  "grad_write", "scheduler_inside", "read_after_step",
                                  "hook", "lbfgs", "arg_requires_grad", "outside_history",
                                  "dropout"])
def test_what_a_step_trace_cannot_hold_raises(case):
    w = tg.tensor([0.5, -0.25], requires_grad=True)
    w.grad = tg.tensor([1.0, 1.0])
    opt = tg.optim.SGD([w], lr=0.1)
    sched = tg.optim.lr_scheduler.StepLR(opt, 1)
    outside = w * 2.0
    x = tg.tensor([1.0, 2.0], requires_grad=case == "arg_requires_grad")
    if case == "hook":
        w.register_hook(lambda g: g)

    def step(x):
        opt.zero_grad()
        loss = ((outside if case == "outside_history" else x * w) ** 2).sum()
        if case == "dropout":
            loss = nn.functional.dropout(x * w, 0.5).sum()
        loss.backward(create_graph=case == "create_graph")
        if case == "second_backward":
            (x * w).sum().backward()
        if case == "grad_read":
            float(w.grad.sum())
        if case == "clip":
            nn.utils.clip_grad_norm_([w], 1.0)
        if case == "grad_write":
            w.grad = None
        if case == "lbfgs":
            tg.optim.LBFGS([w]).step(lambda: (x * w).sum())
        opt.step()
        if case == "scheduler_inside":
            sched.step()
        if case == "read_after_step":
            return loss + w.sum()
        return loss

    before = (w.tolist(), w.grad.tolist(), w._version)
    with pytest.raises(tg.TracingError, match="compile"):
        tg.compile(step, fullgraph=True)(x)
    assert (w.tolist(), w.grad.tolist(), w._version) == before
    assert not opt.state


@pytest.mark.parametrize("functional", [False, True])
def test_compiled_step_refuses_batch_norm_in_training(functional):
    """BatchNorm in training mode updates its buffers in place, which a replay would not do
    again: TracingError before any buffer changes; in eval() mode the step compiles."""
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    bn = model[1]
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    x = tg.randn(8, 3)

    def step(x):
        opt.zero_grad()
        h = model[0](x)
        out = nn.functional.batch_norm(h, bn.running_mean, bn.running_var,
                                       training=model.training) if functional else bn(h)
        loss = out.pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    before = [t.tolist() for t in (bn.running_mean, bn.running_var, bn.num_batches_tracked,
                                   model[0].weight)]
    with pytest.raises(tg.TracingError, match="BatchNorm1d in training mode|batch_norm in"):
        tg.compile(step, fullgraph=True)(x)
    assert [t.tolist() for t in (bn.running_mean, bn.running_var, bn.num_batches_tracked,
                                 model[0].weight)] == before
    model.eval()     # the running statistics are read, not written: the step compiles
    compiled = tg.compile(step)
    losses = [float(compiled(x)) for _ in range(3)]
    assert losses[2] < losses[1] < losses[0]
    assert [t.tolist() for t in (bn.running_mean, bn.running_var,
                                 bn.num_batches_tracked)] == before[:3]


def test_a_step_a_trace_cannot_hold_runs_eagerly_by_default():
    """torch.compile's default (fullgraph=False) breaks the graph: a step with dropout and
    BatchNorm in training mode runs eagerly after one warning, the same as the eager step
    from the same seed (the failed trace drew nothing that counts), buffers updated at each
    call; fullgraph=True raises instead."""
    def make():
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3),
                              nn.Linear(8, 1))
        opt = tg.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            loss.backward()
            opt.step()
            return loss.detach()
        return model, step

    x = tg.randn(16, 3)
    eager_model, eager_step = make()
    tg.manual_seed(5)
    eager = [eager_step(x).item() for _ in range(3)]
    model, step = make()
    compiled = tg.compile(step)
    tg.manual_seed(5)
    with pytest.warns(UserWarning, match="runs eagerly") as record:
        got = [compiled(x).item() for _ in range(3)]
    assert got == eager and len(record) == 1
    assert model[1].num_batches_tracked.item() == 3
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_a_step_with_class_labels_runs_eagerly_by_default():
    """An integer tensor argument (class labels) cannot be a replay's input: a training step
    taking one runs eagerly after one warning (fullgraph=True, and a function that is no
    step, raise the TypeError)."""
    def make():
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        opt = tg.optim.Adam(model.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()
        return model, step

    x, y = tg.randn(16, 4), tg.randint(0, 3, (16,))
    _, eager_step = make()
    eager = [eager_step(x, y).item() for _ in range(3)]
    _, step = make()
    compiled = tg.compile(step)
    with pytest.warns(UserWarning, match="class labels") as record:
        got = [compiled(x, y).item() for _ in range(3)]
    # (the first call runs its trace's program: float32 round-off of a replay)
    np.testing.assert_allclose(got, eager, rtol=1e-6)
    assert len(record) == 1
    with pytest.raises(TypeError, match="inputs must be floating point"):
        tg.compile(make()[1], fullgraph=True)(x, y)
    with pytest.raises(TypeError, match="inputs must be floating point"):
        tg.compile(lambda a, b: (a * b).sum())(x[:, 0], y)


def test_an_argument_that_requires_grad_later_is_refused():
    """The cache key does not hold requires_grad: a call whose argument requires grad, where
    the trace's did not, raises instead of leaving the argument's .grad unset."""
    w = tg.tensor([0.5, -0.25], requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)

    @tg.compile
    def step(x):
        opt.zero_grad()
        (x * w).sum().backward()
        opt.step()
    step(tg.tensor([1.0, 2.0]))
    before = (w.tolist(), w.grad.tolist(), w._version)
    with pytest.raises(tg.TracingError, match="argument 0 requires grad"):
        step(tg.tensor([1.0, 2.0], requires_grad=True))
    assert (w.tolist(), w.grad.tolist(), w._version) == before


def test_eager_backward_and_step_unaffected_after_a_trace():
    """A trace that failed leaves no trace open: eager backward and step work after it."""
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.5)

    def bad(x):
        loss = (x * w).sum()
        loss.backward(create_graph=True)
    with pytest.raises(tg.TracingError):
        tg.compile(bad, fullgraph=True)(tg.tensor([1.0, 1.0]))
    (w * w).sum().backward()
    opt.step()
    assert w.tolist() == [0.0, 0.0]


def test_closure_backward_only_and_none_results():
    """opt.step(closure) traces the closure; a step with only backward() accumulates .grad
    call after call, as eager; a step returning None returns None."""
    runs = []
    for compiled in (False, True):
        ps = _params(mixed=False)
        opt = tg.optim.SGD(ps, lr=0.05, momentum=0.9)

        def with_closure(x, y):
            def closure():
                opt.zero_grad()
                loss = _loss(ps, x, y)
                loss.backward()
                return loss
            return opt.step(closure)

        def accumulate(x, y):
            _loss(ps, x, y).backward()

        fns = [with_closure, accumulate]
        if compiled:
            fns = [tg.compile(f) for f in fns]
        out = []
        for x, y in _batches(5):
            out.append(float(fns[0](x, y)))
        opt.zero_grad()
        for x, y in _batches(3):
            assert fns[1](x, y) is None
        runs.append((out, _state(ps, opt)))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-12)
    _assert_same(runs[0][1], runs[1][1])


@pytest.mark.parametrize("scope", ["optimizer", "global"])
def test_optimizer_step_hooks_are_refused(scope):
    # a compiled step runs the update without Python, so a hook would run only once
    torch = tg
    model = torch.nn.Linear(2, 1).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []
    hook = (lambda o, a, k: calls.append(1))
    handle = (opt.register_step_post_hook(hook) if scope == "optimizer"
              else torch.optim.optimizer.register_optimizer_step_post_hook(hook))
    try:
        @torch.compile(fullgraph=True)
        def step(x, y):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        before = [p.detach().clone() for p in model.parameters()]
        x, y = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 1, dtype=torch.float64)
        with pytest.raises(tg.TracingError, match="step hooks"):
            step(x, y)
        assert calls == []
        assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))
    finally:
        handle.remove()



def _reload(ps, opt, x):
    opt.load_state_dict(opt.state_dict())


def _new_storage(ps, opt, x):
    ps[0].data = ps[0].data.clone()


def _strided_storage(ps, opt, x):
    # (a non-contiguous array of the same shape: its values are copied in at every call)
    ps[0].data = ps[0].data.T.contiguous().T


def _clear_state(ps, opt, x):
    opt.state.clear()


def _new_group_list(ps, opt, x):
    opt.param_groups[0]["params"] = list(opt.param_groups[0]["params"])


def _in_place(ps, opt, x):
    with tg.no_grad():
        ps[0].mul_(0.5)
        ps[2].add_(0.25)      # (float-backed: a new value object)
        x.mul_(-1.0)          # (the batch, an argument of every call)


def _reset_state_entry(ps, opt, x):
    opt.state[ps[1]] = {}       # (the momentum restarts: same number of entries, new dict)


def _replace_buffer(ps, opt, x):
    opt.state[ps[0]]["momentum_buffer"] = opt.state[ps[0]]["momentum_buffer"] * 0.5


def _buffer_data(ps, opt, x):
    buf = opt.state[ps[2]]["momentum_buffer"]
    buf.data = buf * 0.5


def _buffer_none(ps, opt, x):
    opt.state[ps[3]]["momentum_buffer"] = None


@pytest.mark.parametrize("change", [_reload, _new_storage, _strided_storage, _clear_state,
                                    _new_group_list, _in_place, _reset_state_entry,
                                    _replace_buffer, _buffer_data, _buffer_none])
def test_the_step_plan_follows_changes_between_calls(change):
    """A compiled step reuses its update plan (packs, gradient offsets) and its views of the
    inputs from call to call; a change to the optimizer, its state (an entry, a tensor or its
    .data replaced), the parameters' storage or values, or the batch between calls must be
    seen.  Full batch: the same x, y at every call."""
    runs = []
    for compiled in (False, True):
        ps = _params()
        (x, y), = _batches(1)
        opt = tg.optim.SGD(ps, lr=0.05, momentum=0.9)
        step = _step_fn(ps, opt, "zero_first")
        if compiled:
            step = tg.compile(step)
        trace = []
        for i in range(8):
            if i in (3, 6):
                change(ps, opt, x)
            trace.append((float(step(x, y)), _state(ps, opt)))
        runs.append(trace)
        if compiled:
            assert next(iter(step.tapes.values()))._plans   # (the plan was made and kept)
    for (la, a), (lb, b) in zip(*runs):
        assert la == pytest.approx(lb, rel=1e-12)
        _assert_same(a, b)


def _freeze(model):
    model[0].requires_grad_(False)


def _unfreeze(model):
    model[0].requires_grad_(True)


def _scale_frozen(model):
    with _lib(model).no_grad():
        model[0].weight.mul_(0.5)


def _load_frozen(model):
    model.load_state_dict({k: v * 2 for k, v in model.state_dict().items()})


def _lib(model):
    return tg if type(model).__module__.startswith("tapegrad") else torch


@pytest.mark.parametrize("change,frozen", [(_freeze, False), (_unfreeze, True),
                                           (_scale_frozen, True), (_load_frozen, True)],
                         ids=["freeze", "unfreeze", "scale_frozen", "load_frozen"])
def test_freezing_or_changing_a_frozen_layer_between_calls_as_torch(change, frozen):
    """A layer frozen or unfrozen between calls, or a frozen layer's weights changed (in
    place, by load_state_dict), is seen by the next call as torch sees it (torch.compile's
    guards recompile): the trace took the frozen weights as constants and the trainable ones
    as inputs, so the step records again."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    init = [rng.standard_normal(s) * 0.3 for s in ((8, 4), (8,), (3, 8), (3,))]
    out = []
    for lib in (tg, torch):
        model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(),
                                  lib.nn.Linear(8, 3)).double()
        with lib.no_grad():
            for p, a in zip(model.parameters(), init):
                p.copy_(lib.tensor(a))
        if frozen:
            _freeze(model)
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(xb, yb):
            opt.zero_grad()
            loss = lib.nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
            return loss
        if lib is tg:
            step = tg.compile(step)
        xb, yb = lib.tensor(x), lib.tensor(y)
        losses = [step(xb, yb).item() for _ in range(3)]
        change(model)
        losses += [step(xb, yb).item() for _ in range(3)]
        out.append((losses, [p.detach().numpy().copy() for p in model.parameters()],
                    [None if p.grad is None else p.grad.numpy().copy()
                     for p in model.parameters()]))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)
    for a, b in zip(out[0][1] + out[0][2], out[1][1] + out[1][2]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_a_step_traced_in_eval_mode_then_trained_as_torch():
    """torch.compile guards on the modules' training flags: a step first called in eval()
    mode (dropout off: traced) and then in train() mode drops as torch's does (the trace
    cannot hold dropout: with compile's default it then runs eagerly, drawing torch's masks)."""
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    init = [rng.standard_normal(s) * 0.3 for s in ((8, 4), (8,), (3, 8), (3,))]
    out = []
    for lib in (tg, torch):
        model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Dropout(0.5), lib.nn.Tanh(),
                                  lib.nn.Linear(8, 3)).double().eval()
        with lib.no_grad():
            for p, a in zip(model.parameters(), init):
                p.copy_(lib.tensor(a))
        opt = lib.optim.SGD(model.parameters(), lr=0.1)

        def step(xb, yb):
            opt.zero_grad()
            loss = lib.nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
            return loss
        if lib is tg:
            step = tg.compile(step)
        lib.manual_seed(0)
        xb, yb = lib.tensor(x), lib.tensor(y)
        losses = [step(xb, yb).item() for _ in range(2)]
        model.train()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (compile's: the step runs eagerly)
            losses += [step(xb, yb).item() for _ in range(2)]
        out.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)
    for a, b in zip(out[0][1], out[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_a_target_network_read_under_no_grad_is_seen_when_synced():
    """A DQN step reads its target network under no_grad (no entries: the result is a
    constant of the trace); syncing the target (load_state_dict, or a soft update in place)
    between calls makes the step record again, as torch.compile's guards on the weights."""
    rng = np.random.default_rng(7)
    s, s2, r = rng.standard_normal((8, 4)), rng.standard_normal((8, 4)), rng.standard_normal(8)
    init = [rng.standard_normal(sh) * 0.3 for sh in ((16, 4), (16,), (2, 16), (2,))]
    out = []
    for lib in (tg, torch):
        def net():
            m = lib.nn.Sequential(lib.nn.Linear(4, 16), lib.nn.ReLU(),
                                  lib.nn.Linear(16, 2)).double()
            with lib.no_grad():
                for p, a in zip(m.parameters(), init):
                    p.copy_(lib.tensor(a))
            return m
        q, target = net(), net()
        target.requires_grad_(False)
        opt = lib.optim.Adam(q.parameters(), lr=0.01)

        def step(sb, rb, s2b):
            with lib.no_grad():
                y = rb + 0.9 * target(s2b).max(1).values
            loss = lib.nn.functional.smooth_l1_loss(q(sb).max(1).values, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        if lib is tg:
            step = tg.compile(step)
        args = lib.tensor(s), lib.tensor(r), lib.tensor(s2)
        losses = []
        for i in range(9):
            losses.append(step(*args).item())
            if i % 3 == 2:
                target.load_state_dict(q.state_dict())
            elif i % 3 == 1:
                with lib.no_grad():
                    for pt, pq in zip(target.parameters(), q.parameters()):
                        pt.mul_(0.5).add_(pq, alpha=0.5)
        out.append(losses)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12)


def test_a_scheduler_stepped_inside_the_step_steps_once_per_call_as_torch():
    """sched.step() inside the compiled function: the trace refuses it before the scheduler
    changes (it used to step it at the trace, then once more in the eager run: one epoch
    ahead), so the step runs eagerly with torch's learning rates."""
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    init = [rng.standard_normal(s) * 0.3 for s in ((3, 4), (3,))]
    out = []
    for lib in (tg, torch):
        model = lib.nn.Linear(4, 3).double()
        with lib.no_grad():
            for p, a in zip(model.parameters(), init):
                p.copy_(lib.tensor(a))
        opt = lib.optim.Adam(model.parameters(), lr=0.05)
        sched = lib.optim.lr_scheduler.StepLR(opt, 1, 0.7)

        def step(xb, yb):
            opt.zero_grad()
            loss = lib.nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            return loss
        if lib is tg:
            step = tg.compile(step)
        xb, yb = lib.tensor(x), lib.tensor(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (compile's: the step runs eagerly)
            losses = [step(xb, yb).item() for _ in range(4)]
        out.append((losses, opt.param_groups[0]["lr"], sched.last_epoch))
    assert out[0][1:] == out[1][1:]
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)


def test_settings_changed_inside_the_step_change_once_per_call_as_torch():
    """`g["lr"] *= 0.9` inside the compiled function: the trace refuses it after the fact,
    so it puts the settings back before the step runs eagerly (they decayed twice at the
    first call)."""
    out = []
    for lib in (tg, torch):
        w = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1, momentum=0.5)

        def step(x):
            opt.zero_grad()
            loss = ((w * x).sum() - 1.0) ** 2
            loss.backward()
            opt.step()
            for g in opt.param_groups:
                g["lr"] *= 0.9
            return loss
        if lib is tg:
            step = tg.compile(step)
        x = lib.tensor([0.5, 0.25], dtype=lib.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (compile's: the step runs eagerly)
            losses = [step(x).item() for _ in range(3)]
        out.append((losses, opt.param_groups[0]["lr"], w.tolist()))
    assert out[0][1] == out[1][1]
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-12)


def test_a_class_label_steps_python_runs_once_per_call():
    """A step taking class labels runs eagerly; its first call used to run the function
    twice (the trace, then eagerly), so a counter or a loss log in it counted the first call
    twice.  That call now runs the program its trace made: the eager step's losses and
    parameters (to a replay's round-off), and the function's Python once per call."""
    def make():
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        opt = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        log = []

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            log.append(loss.item())
            return loss.detach()
        return model, step, log

    x, y = tg.randn(16, 4), tg.randint(0, 3, (16,))
    eager_model, eager_step, eager_log = make()
    eager = [eager_step(x, y).item() for _ in range(3)]
    model, step, log = make()
    compiled = tg.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # (compile's: the step runs eagerly)
        got = [compiled(x, y).item() for _ in range(3)]
    assert len(log) == 3            # (4 before: the trace's call logged too)
    # (the first call is a replay: float32 round-off)
    np.testing.assert_allclose(got, eager, rtol=1e-6)
    np.testing.assert_allclose(log, eager_log, rtol=1e-6)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-7)


def test_a_step_through_a_module_with_forward_hooks_runs_them_at_each_call():
    """A forward hook's Python (a log, a stored activation) runs at the trace only, so a
    replay left it out: torch.compile runs the hooks at each call.  Such a step runs eagerly
    (its first call runs the trace's program: the hooks ran once there)."""
    runs = []
    for compiled in (False, True):
        ps = _params()
        opt = tg.optim.SGD(ps, lr=0.05, momentum=0.9)
        lin = nn.Linear(2, 2).double()
        with tg.no_grad():
            lin.weight.copy_(tg.tensor([[0.5, -1.0], [2.0, 0.25]]))
            lin.bias.fill_(0.1)
        acts = []
        lin.register_forward_hook(lambda mod, inp, out: acts.append(out.detach().sum().item()))

        def step(x, y):
            opt.zero_grad()
            loss = _loss(ps, x, y) + lin(y).pow(2).mean()
            loss.backward()
            opt.step()
            return loss
        raw = step
        if compiled:
            step = tg.compile(step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (compile's: the step runs eagerly)
            losses = [step(x, y).item() for x, y in _batches(4)]
        runs.append((losses, acts))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-12)
    assert len(runs[1][1]) == 4
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-12)
    with pytest.warns(UserWarning, match="forward hooks"):
        tg.compile(raw)(*_batches(1)[0])


def test_a_step_with_dropout_runs_its_python_once_per_call():
    """A step that draws (dropout) runs eagerly; its first call ran the function twice (the
    trace, then eagerly from the generator state put back), so a counter in it counted that
    call twice.  That call now runs the trace's program, whose draws are the ones the eager
    call makes (the generator is left after them): the eager step's values, Python once."""
    def make():
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.3), nn.Tanh(),
                              nn.Linear(8, 1)).double()
        opt = tg.optim.SGD(model.parameters(), lr=0.1)
        calls = []

        def step(x):
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            loss.backward()
            opt.step()
            calls.append(1)
            return loss.detach()
        return model, step, calls

    x = tg.randn(16, 3, dtype=tg.float64)
    runs = []
    for compiled in (False, True):
        model, step, calls = make()
        if compiled:
            step = tg.compile(step)
        tg.manual_seed(5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (compile's: the step runs eagerly)
            got = [step(x).item() for _ in range(3)]
        runs.append((got, len(calls), tg.rand(2).tolist(),
                     [p.detach().numpy().copy() for p in model.parameters()]))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-12)
    assert runs[1][1] == runs[0][1] == 3 and runs[1][2] == runs[0][2]
    for a, b in zip(runs[1][3], runs[0][3]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_the_count_of_open_traces_follows_each_trace():
    """steptrace.OPEN counts the traces open on all threads (the `.grad` property reads the
    thread's trace only while it is not 0): 1 inside a step being traced, 0 again after a
    trace that raised (a .grad read refused) and after one that recorded; a trace open on
    another thread leaves this one's `.grad` free to read and assign."""
    import threading
    from tapegrad import steptrace
    w = tg.tensor([0.5, -0.25], requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)
    seen = []

    def step(x, read):
        opt.zero_grad()
        loss = (x * w).sum()
        loss.backward()
        seen.append(steptrace.OPEN[0])
        if read:
            float(w.grad.sum())
        opt.step()
        return loss

    x = tg.tensor([1.0, 2.0])
    with pytest.raises(tg.TracingError, match="compile"):
        tg.compile(step, fullgraph=True)(x, True)
    assert seen == [1] and steptrace.OPEN[0] == 0
    tg.compile(step, fullgraph=True)(x, False)
    assert seen[1] == 1 and steptrace.OPEN[0] == 0

    inside, release = threading.Event(), threading.Event()
    v = tg.tensor([1.0], requires_grad=True)

    def held(x):
        inside.set()
        release.wait(10)
        return (x * 2.0).sum()

    worker = threading.Thread(target=lambda: tg.compile(held)(tg.tensor([1.0])))
    worker.start()
    try:
        assert inside.wait(10) and steptrace.OPEN[0] == 1
        v.grad = tg.tensor([3.0])
        assert v.grad.tolist() == [3.0]
        del v.grad
        assert v.grad is None
    finally:
        release.set()
        worker.join(10)
    assert steptrace.OPEN[0] == 0
