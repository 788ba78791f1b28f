"""A failing call changes nothing: tensors, `.grad`, version counters, optimizer state and
tapes are as before it, also when a KeyboardInterrupt stopped it (docs/reliability.md)."""
import gc
import random
import signal
import sys
import time

import numpy as np
import pytest

import tapegrad as tg

from .sigint import calls_interrupted, lines_interrupted, run_with_sigint, sigint_sweep

OPTIMIZERS = {
    "SGD": lambda m, groups: m.optim.SGD(groups, lr=0.1, momentum=0.9),
    "Adam": lambda m, groups: m.optim.Adam(groups, lr=0.1, amsgrad=True),
    "RMSprop": lambda m, groups: m.optim.RMSprop(groups, lr=0.1, momentum=0.5),
    "ASGD": lambda m, groups: m.optim.ASGD(groups, lr=0.1),
}


def _two_groups(m, name):
    p0 = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p1 = m.tensor([[0.5, -1.0], [2.0, 0.1]], requires_grad=True)
    p2 = m.tensor(1.5, requires_grad=True)
    opt = OPTIMIZERS[name](m, [{"params": [p0, p1]}, {"params": [p2], "lr": 0.05}])
    return [p0, p1, p2], opt


def _backward(ps):
    p0, p1, p2 = ps
    ((p0 * p0).sum() + p1.sin().sum() + p2 * p2 * 3).backward()


def _snapshot(ps, opt):
    state = [{k: np.array(v.tolist()) if hasattr(v, "tolist") else v
              for k, v in opt.state[p].items()} if p in opt.state else None for p in ps]
    return ([p.tolist() for p in ps], [p._version for p in ps], [p.grad.tolist() for p in ps],
            repr(state), len(opt.state))


def _values(ps, opt):
    return [p.tolist() for p in ps] + [
        v.tolist() for p in ps for _, v in sorted(opt.state[p].items())]


@pytest.mark.parametrize("warm", [False, True], ids=["first_step", "later_step"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_step_failing_in_a_later_group_changes_nothing(name, warm, torch_ref):
    """The last group's gradient has the wrong size (set through `.data`): the step raises,
    and neither the first group's parameters nor any state (none made at a first step) has
    changed; the step then gives torch's values.  torch updates group by group: the first
    group is updated before the error."""
    results = []
    for m in (tg, torch_ref):
        ps, opt = _two_groups(m, name)
        if warm:
            _backward(ps)
            opt.step()
            opt.zero_grad()
        _backward(ps)
        if m is tg:
            good = ps[2].grad.clone()
            ps[2].grad.data = tg.ones(2)
            before = _snapshot(ps, opt)
            with pytest.raises(RuntimeError):
                opt.step()
            assert _snapshot(ps, opt) == before
            ps[2].grad = good
        opt.step()
        opt.zero_grad()
        _backward(ps)
        opt.step()
        results.append(_values(ps, opt))
    np.testing.assert_allclose(*[np.concatenate([np.ravel(v) for v in r]) for r in results],
                               rtol=1e-5)


def test_first_step_failing_leaves_no_momentum_buffer():
    """SGD's momentum buffers are made unfilled at the first step (its kernel writes them):
    a first step that fails must not leave them in opt.state (a state_dict would carry
    whatever the memory held)."""
    ps, opt = _two_groups(tg, "SGD")
    _backward(ps)
    ps[2].grad.data = tg.ones(2)
    with pytest.raises(RuntimeError):
        opt.step()
    assert len(opt.state) == 0 and opt.state_dict()["state"] == {}


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_sigint_never_splits_an_optimizer_step(name, alarm_sends_sigint):
    """A Ctrl-C at a random moment of a step over four groups: every parameter is updated
    or none (each group used to be committed on its own)."""
    rng = random.Random(5)
    ps = ([tg.ones(50, requires_grad=True) for _ in range(20)]
          + [tg.tensor(1.0, requires_grad=True) for _ in range(20)])
    opt = OPTIMIZERS[name](tg, [{"params": ps[i::4], "lr": 0.1 * (i + 1)} for i in range(4)])
    for p in ps:
        p.grad = tg.ones_like(p)
    opt.step()
    dur = 1.0
    for _ in range(3):
        t0 = time.perf_counter()
        opt.step()
        dur = min(dur, time.perf_counter() - t0)
    interrupted = 0
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline or interrupted < 10:
        before = [p.tolist() for p in ps]
        got = run_with_sigint(opt.step, rng.uniform(1e-6, 1.3 * dur))
        changed = [p.tolist() != b for p, b in zip(ps, before)]
        assert all(changed) or not any(changed), f"{sum(changed)} of {len(ps)} updated"
        interrupted += got
        assert time.monotonic() < deadline + 20, interrupted


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_forward_that_fails_counts_no_batch(momentum, torch_ref):
    """BatchNorm in training mode counts the batch (num_batches_tracked) before its
    batch_norm call, which refuses one value per channel or another channel count: torch's
    count goes up then, tapegrad's stays.  Later batches give torch's running statistics
    (momentum=None: the cumulative average, by the count)."""
    x = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]], np.float32)
    results = []
    for m in (tg, torch_ref):
        bn = m.nn.BatchNorm1d(2, momentum=momentum)
        bn(m.tensor(x))
        for bad in (m.ones(1, 2), m.ones(3, 5)):
            with pytest.raises((ValueError, RuntimeError)):
                bn(bad)
            if m is tg:
                assert bn.num_batches_tracked.item() == 1
        if m is torch_ref:
            bn.num_batches_tracked.fill_(1)
        bn(m.tensor(x * 2))
        results.append([bn.num_batches_tracked.item()] + bn.running_mean.tolist()
                       + bn.running_var.tolist())
    np.testing.assert_allclose(*results, rtol=1e-6)


def _inplace_case(kind):
    """(leaf x, the tensor changed in place, the tensor to backward from)."""
    x = tg.ones(64, requires_grad=True)
    if kind == "plain":
        t = tg.ones(64)
        return x, t, None
    if kind == "scalar":
        x = tg.tensor(1.0, requires_grad=True)
        t = x * 1.0
        return x, t, t
    b = x * 1.0
    return x, (b if kind == "result" else b[2:40]), b


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
@pytest.mark.parametrize("kind", ["plain", "scalar", "result", "view"])
def test_sigint_never_splits_an_inplace_op(kind, alarm_sends_sigint):
    """`t.mul_(1.5)` interrupted at a random moment: either nothing changed, or the value,
    the version and (with history) the graph all did: a backward gives 1.5 where t was
    scaled, else 1.  (The value used to be written before the version was counted and the
    tensor moved to its new entry: a changed value under the old node and version.)  An
    unrecorded tensor may keep its value under a counted version: what saved it refuses."""
    for (x, t, root), (v0, ver0) in sigint_sweep(
            lambda: _inplace_case(kind), lambda case: case[1].mul_(1.5),
            lambda case: (case[1].detach().clone(), case[1]._version), seed=7):
        changed = not tg.equal(v0, t.detach())
        bumped = t._version != ver0
        assert bumped or not changed, "a changed value under its old version"
        if root is not None:
            assert bumped == changed
            root.sum().backward()
            want = tg.ones_like(x)
            if changed:
                want[slice(2, 40) if kind == "view" else Ellipsis] = 1.5
            assert tg.equal(x.grad, want)


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
@pytest.mark.parametrize("fail_at", [2, 3])
@pytest.mark.parametrize("exc", [ValueError, KeyboardInterrupt])
def test_lbfgs_step_whose_closure_raises_changes_nothing(exc, fail_at, line_search,
                                                         torch_ref):
    """LBFGS evaluates its closure several times per step, moving the parameters between
    them: a closure that raises at a later evaluation left them moved and the state half
    updated (torch too, whose next step then raises TypeError).  The parameters and state
    are put back; the next steps give torch's values of a run without the failure."""
    def run(m, fail):
        x = m.tensor([1.5, -0.5], requires_grad=True)
        opt = m.optim.LBFGS([x], lr=0.5, max_iter=5, line_search_fn=line_search)
        calls = [-100]

        def closure():
            calls[0] += 1
            if calls[0] == fail:
                raise exc
            opt.zero_grad()
            loss = ((x - 1) ** 2).sum() + (x[0] * x[1]) ** 2
            loss.backward()
            return loss
        opt.step(closure)
        state = opt.state_dict()["state"]
        before = (x.tolist(), repr(state))
        if fail:
            calls[0] = 0
            with pytest.raises(exc):
                opt.step(closure)
            assert (x.tolist(), repr(opt.state_dict()["state"])) == before
            calls[0] = -100
        for _ in range(2):
            opt.step(closure)
        return x.tolist()
    np.testing.assert_allclose(run(tg, fail_at), run(torch_ref, None), rtol=1e-5)


def _eager_backward_works():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    (a * a * 3).sum().backward()
    return a.grad is not None and a.grad.tolist() == [6.0, 12.0] and tg.is_grad_enabled()


def test_interrupt_inside_record_leaves_eager_autograd_working(monkeypatch):
    """A Ctrl-C landing in record's call of draw_state (a signal handler runs at a call),
    which came after the switch of the thread to the recording tape and before the `try`
    that switches back: the thread stayed on the dead tape, and every later backward gave
    no .grad (found with SIGINTs at random moments: 1 in ~100 interrupted records)."""
    import tapegrad.replay as R
    real = R.draw_state

    def interrupted():
        raise KeyboardInterrupt
    monkeypatch.setattr(R, "draw_state", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tg.record(lambda x: (x * 2).sum(), tg.ones(3))
    monkeypatch.setattr(R, "draw_state", real)
    assert _eager_backward_works()
    assert tg.record(lambda x: (x * 2).sum(), tg.ones(3)).value_and_grad(
        np.ones(3, np.float32))[0] == 6.0


def test_a_tape_whose_init_was_interrupted_dies_quietly(monkeypatch):
    """A KeyboardInterrupt at the very start of Tape.__init__ (seen with SIGINTs during
    record) left an instance without its slots; its __del__ then raised AttributeError,
    printed as 'Exception ignored in Tape.__del__'."""
    from tapegrad.tape import Tape
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    t = Tape.__new__(Tape)
    del t
    gc.collect()
    assert seen == []


def test_interrupt_inside_no_grads_switch_leaves_grad_mode_on(monkeypatch):
    """no_grad's __enter__ switched the flag, then called _sync to park the open tape: a
    Ctrl-C landing at that call (a handler runs at a call) raised from __enter__ with the
    flag off, and the `with` never ran __exit__: grad mode stayed off for good (found with
    SIGINTs during load_state_dict, whose no_grad blocks run per parameter)."""
    import tapegrad.grad_mode as M

    def interrupted(st):
        raise KeyboardInterrupt
    monkeypatch.setattr(M, "_sync", interrupted)
    x = tg.ones(2, requires_grad=True)
    y = x * 2
    try:
        with tg.no_grad():
            z = y * 3
        assert not z.requires_grad
    except KeyboardInterrupt:
        pass
    finally:
        monkeypatch.undo()
    assert tg.is_grad_enabled() and _eager_backward_works()


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
@pytest.mark.parametrize("kind", ["plain", "result"])
def test_sigint_never_splits_an_inplace_view_op(kind, alarm_sends_sigint):
    """`t.unsqueeze_(0)` (an in-place change of sizes) interrupted at a random moment: the
    new shape never comes without its version; with history the count, the entry and the
    move to it happen together (before: 1 in ~3 interrupted calls counted the version of a
    shape it did not set)."""
    for (x, t, root), ver0 in sigint_sweep(
            lambda: _inplace_case(kind), lambda case: case[1].unsqueeze_(0),
            lambda case: case[1]._version, seed=13):
        changed, bumped = t.shape != (64,), t._version != ver0
        assert bumped or not changed, "a new shape under its old version"
        if root is not None:
            assert bumped == changed
            t.sum().backward()
            assert tg.equal(x.grad, tg.ones_like(x))


SCHEDULERS = {
    "LambdaLR": lambda m, o: m.optim.lr_scheduler.LambdaLR(o, [lambda e: 0.9 ** e,
                                                                lambda e: 0.5 ** e]),
    "OneCycleLR": lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=20),
    "CyclicLR": lambda m, o: m.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=2),
    "ReduceLROnPlateau": lambda m, o: m.optim.lr_scheduler.ReduceLROnPlateau(o, patience=0),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_step_failing_in_a_later_group_changes_nothing(name, torch_ref):
    """The second group lost its lr: step() raises KeyError after setting the first group's
    lr (and, OneCycleLR and CyclicLR, every group's momentum; ReduceLROnPlateau its
    counters).  Nothing may change: with the lr put back, the next steps give torch's values
    of a run without the failure (tapegrad's first group was stepped twice)."""
    def run(m, fail):
        p, q = m.ones(2, requires_grad=True), m.ones(3, requires_grad=True)
        opt = m.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.2}], lr=0.1, momentum=0.9)
        sch = SCHEDULERS[name](m, opt)
        step = (lambda: sch.step(2.0)) if name == "ReduceLROnPlateau" else sch.step
        p.grad, q.grad = m.ones(2), m.ones(3)
        opt.step()
        step()
        if fail:
            groups = [dict(g) for g in opt.param_groups]
            lr = opt.param_groups[1].pop("lr")
            with pytest.raises(KeyError):
                step()
            opt.param_groups[1]["lr"] = lr
            assert [dict(g) for g in opt.param_groups] == groups
        for _ in range(3):
            opt.step()
            step()
        return [g["lr"] for g in opt.param_groups] + p.tolist() + q.tolist()
    np.testing.assert_allclose(run(tg, True), run(torch_ref, False), rtol=1e-6)


def _module_state(net):
    return [(n, str(t.dtype), t.tolist(), None if getattr(t, "grad", None) is None
             else (str(t.grad.dtype), t.grad.tolist()))
            for n, t in list(net.named_parameters()) + list(net.named_buffers())]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_module_conversion_failing_half_way_changes_nothing(exc, monkeypatch):
    """`net.double()` whose fifth tensor conversion fails (out of memory, a Ctrl-C): torch
    converts module after module, so its first layer is float64 and the rest float32.  Every
    parameter, gradient and buffer keeps its dtype and value; a retry converts them all."""
    net = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.BatchNorm1d(4), tg.nn.Linear(4, 2))
    (net(tg.ones(2, 3)) ** 2).sum().backward()
    before = _module_state(net)
    real, calls = tg.Tensor.double, [0]

    def double(t):
        calls[0] += 1
        if calls[0] == 5:
            raise exc
        return real(t)
    monkeypatch.setattr(tg.Tensor, "double", double)
    with pytest.raises(exc):
        net.double()
    assert _module_state(net) == before
    net.double()
    assert {str(p.dtype) for p in net.parameters()} == {"tapegrad.float64"}
    assert {str(p.grad.dtype) for p in net.parameters()} == {"tapegrad.float64"}
    assert net(tg.ones(2, 3, dtype=tg.float64)).dtype == tg.float64


def _trained_net():
    tg.manual_seed(0)
    net = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.BatchNorm1d(4), tg.nn.Linear(4, 2))
    (net(tg.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])) ** 2).sum().backward()
    return net


def _rg_state(net):
    return [p.requires_grad for p in net.parameters()] + _module_state(net)


MODULE_CHANGES = {
    "zero_grad": (lambda net: net.zero_grad(), _module_state),
    "zero_grad_to_zeros": (lambda net: net.zero_grad(set_to_none=False), _module_state),
    "optimizer_zero_grad": (lambda net: tg.optim.SGD([{"params": net[0].parameters()}, {
        "params": net[2].parameters()}], lr=0.1).zero_grad(), _module_state),
    "requires_grad_": (lambda net: net.requires_grad_(False), _rg_state),
    "clip_grad_norm_": (lambda net: tg.nn.utils.clip_grad_norm_(net.parameters(), 0.1),
                        _module_state),
    "clip_grad_value_": (lambda net: tg.nn.utils.clip_grad_value_(net.parameters(), 0.01),
                         _module_state),
    "vector_to_parameters": (lambda net: tg.nn.utils.vector_to_parameters(
        tg.arange(36.0), net.parameters()), _module_state),
    "batch_norm_statistics": (lambda net: net(tg.ones(2, 3) * tg.tensor([[1.0], [2.0]])),
                              _module_state),
}


@pytest.mark.parametrize("name", list(MODULE_CHANGES))
def test_interrupted_module_change_is_all_or_nothing(name):
    """A Ctrl-C at any line of a change of several tensors (each parameter's .grad or
    requires_grad, the gradients scaled or clipped, the parameters written from one vector,
    a BatchNorm's mean, variance and batch count) leaves all of them changed or none (they
    were changed one after another: a Ctrl-C between two left some changed)."""
    change, state = MODULE_CHANGES[name]
    before = state(_trained_net())
    net = _trained_net()
    change(net)
    after = state(net)
    assert after != before
    interrupted = 0
    for net, fired in lines_interrupted(_trained_net, change):
        interrupted += fired
        assert state(net) in (before, after)
        assert tg.is_grad_enabled()
    assert interrupted >= 10


def _scaled_step():
    tg.manual_seed(0)
    net = tg.nn.Linear(3, 2)
    opt = tg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    scaler = tg.amp.GradScaler("cpu", init_scale=4.0)
    scaler.scale((net(tg.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])) ** 2).sum()).backward()
    return net, opt, scaler


def _finish_step(ns):
    """scaler.step() again (refused after a step that took effect), then update(): the
    parameters."""
    net, opt, scaler = ns
    try:
        scaler.step(opt)
    except RuntimeError as e:
        assert "already been called" in str(e)
    scaler.update()
    return [p.tolist() for p in net.parameters()]


@pytest.mark.parametrize("call", ["unscale_", "step"])
def test_interrupted_grad_scaler_never_unscales_or_steps_twice(call):
    """A Ctrl-C at any line of scaler.unscale_(opt) or scaler.step(opt): the gradients are
    divided by the scale once or not at all, with the stage that says so, and finishing the
    step gives one uninterrupted step's parameters (a Ctrl-C after the division but before
    the stage was noted made step() divide them again; one after opt.step() but before
    its stage let a retry step twice)."""
    ns = _scaled_step()
    getattr(ns[2], call)(ns[1])
    want = _finish_step(ns)
    interrupted = 0
    for ns, fired in lines_interrupted(_scaled_step, lambda ns: getattr(ns[2], call)(ns[1])):
        interrupted += fired
        assert _finish_step(ns) == want
    assert interrupted >= 10


@pytest.mark.parametrize("at", [3, 5])
def test_functional_call_interrupted_while_swapping_restores_the_module(at, monkeypatch):
    """A KeyboardInterrupt at the `at`-th tensor swapped into the module (from a setattr
    hook, or a Ctrl-C): the swapped ones used to stay in the module for good (the undo
    caught Exception only, and the caller's restore had no record of them)."""
    from tapegrad.nn.utils import _named_member_accessor as A
    net = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.BatchNorm1d(4), tg.nn.Linear(4, 2))
    params = {k: v.detach() * 2 for k, v in net.state_dict().items()}
    before = [(n, id(t), t.tolist()) for n, t in net.state_dict(keep_vars=True).items()]
    real, calls = A.swap_tensor, [0]

    def swap(*args, **kwargs):
        calls[0] += 1
        if calls[0] == at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(A, "swap_tensor", swap)
    with pytest.raises(KeyboardInterrupt):
        tg.func.functional_call(net, params, (tg.ones(2, 3),))
    assert [(n, id(t), t.tolist()) for n, t in net.state_dict(keep_vars=True).items()] == before


class _Square(tg.autograd.Function):
    generate_vmap_rule = True   # (torch's vmap refuses a setup_context Function without it)

    @staticmethod
    def forward(x):
        return x * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 2 * g * x


class _Triple(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 3

    @staticmethod
    @tg.autograd.function.once_differentiable
    def backward(ctx, g):
        return 3 * g


@tg.no_grad()
def _doubled(x):
    return x * 2


def _switched_state():
    from tapegrad.grad_mode import LEVELS as _LEVELS, TRANSFORMS
    from tapegrad.tape import CLOSED, STATE
    return (STATE.enabled, STATE.inference, getattr(TRANSFORMS, "depth", 0),
            len(getattr(_LEVELS, "stack", ())), STATE.parked is CLOSED, TRANSFORMS.levels)


def _training_step(x):
    tg.manual_seed(0)
    net = tg.nn.Sequential(tg.nn.Linear(2, 2), tg.nn.BatchNorm1d(2))
    opt = tg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(x.detach().reshape(1, 2).expand(4, 2) * tg.arange(4.0)[:, None]).sum().backward()
    tg.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
    opt.step()


SWITCHING_CALLS = {
    "training_step": _training_step,
    "function_forward": lambda x: _Square.apply(x),
    "function_backward": lambda x: _Square.apply(x).sum().backward(),
    "once_differentiable": lambda x: _Triple.apply(x).sum().backward(),
    "create_graph": lambda x: tg.autograd.grad(_Square.apply(x).sum(), x, create_graph=True),
    "tensor_hook": lambda x: (x * 1).register_hook(lambda g: g * 2) or None,
    "hooked_backward": lambda x: [(y := x * 1).register_hook(lambda g: g * 2),
                                  y.sum().backward()],
    "no_grad_decorated": _doubled,
    "vmap": lambda x: tg.func.vmap(lambda r: _Square.apply(r))(x.detach()),
    "grad": lambda x: tg.func.grad(lambda r: _Square.apply(r).sum())(x.detach()),
    "vmap_of_grad": lambda x: tg.func.vmap(tg.func.grad(lambda r: (r * r).sum()))(
        x.detach().reshape(2, 1)),
    "jacrev_of_grad": lambda x: tg.func.jacrev(tg.func.grad(lambda r: (r ** 3).sum()))(
        x.detach()),
}


@pytest.mark.parametrize("name", list(SWITCHING_CALLS))
def test_interrupt_at_any_call_leaves_grad_mode_and_transform_depth(name):
    """A KeyboardInterrupt delivered at the entry of each call the operation makes inside
    tapegrad (where CPython runs a SIGINT's handler), also of the call that switches grad
    mode back or counts a transform out: grad mode stays on, the transform depth 0 and no
    torch.func level left on the stack (a custom Function's forward or backward interrupted
    left grad mode off for good, a vmap or grad left its depth raised, so that later
    Functions without setup_context were refused, and grad a stale level)."""
    interrupted = 0
    want = _switched_state()
    for _, fired in calls_interrupted(
            lambda: tg.tensor([1.0, 2.0], requires_grad=True), SWITCHING_CALLS[name]):
        interrupted += fired
        assert _switched_state() == want
    assert interrupted >= 5


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_sigint_in_a_vmap_of_a_function_leaves_the_mode_and_depth(alarm_sends_sigint):
    """Real SIGINTs at random moments of a vmap over a custom Function: grad mode and the
    transform depth are as before each one."""
    vmapped = tg.func.vmap(lambda r: _Square.apply(r))
    want = _switched_state()
    for _ in sigint_sweep(lambda: tg.ones(4, 2), vmapped, lambda x: None, seed=11):
        assert _switched_state() == want
