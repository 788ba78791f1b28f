"""Every torch.optim.lr_scheduler scheduler against torch 2.13 step by step: the learning
rates (and cycled momenta), get_last_lr, a state_dict round trip into a fresh scheduler,
warnings, errors, and a tensor lr filled in place."""
import math
import pickle
import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


class Halve:
    """A callable object: LambdaLR's state_dict keeps its __dict__."""

    def __init__(self):
        self.k = 0.5

    def __call__(self, epoch):
        return self.k ** (epoch // 3)


def _opt(mod, cls="SGD", lr=0.1):
    ps = [mod.ones(2, requires_grad=True), mod.ones(1, requires_grad=True)]
    kw = {"momentum": 0.9} if cls == "SGD" else {}
    return getattr(mod.optim, cls)([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.3}],
                                   lr=lr, **kw), ps


S = "lr_scheduler"
CASES = [
    ("LambdaLR", lambda m, o: getattr(m.optim, S).LambdaLR(o, lambda e: 0.95 ** e)),
    ("LambdaLR-object", lambda m, o: getattr(m.optim, S).LambdaLR(o, [Halve(), Halve()])),
    ("MultiplicativeLR", lambda m, o: getattr(m.optim, S).MultiplicativeLR(o, lambda e: 0.9)),
    ("MultiStepLR", lambda m, o: getattr(m.optim, S).MultiStepLR(o, [3, 7, 7, 12], 0.5)),
    ("ConstantLR", lambda m, o: getattr(m.optim, S).ConstantLR(o, 0.25, total_iters=4)),
    ("LinearLR", lambda m, o: getattr(m.optim, S).LinearLR(o, 0.2, 0.9, total_iters=6)),
    ("PolynomialLR", lambda m, o: getattr(m.optim, S).PolynomialLR(o, 8, power=2.0)),
    ("CosineAnnealingWarmRestarts",
     lambda m, o: getattr(m.optim, S).CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=0.01)),
    ("OneCycleLR", lambda m, o: getattr(m.optim, S).OneCycleLR(o, [1.0, 2.0], total_steps=30)),
    ("OneCycleLR-3phase-linear", lambda m, o: getattr(m.optim, S).OneCycleLR(
        o, 1.0, epochs=3, steps_per_epoch=10, three_phase=True, anneal_strategy="linear")),
    ("CyclicLR", lambda m, o: getattr(m.optim, S).CyclicLR(o, 0.01, [0.1, 0.2], 4, 3)),
    ("CyclicLR-triangular2", lambda m, o: getattr(m.optim, S).CyclicLR(
        o, 0.01, 0.1, 3, mode="triangular2")),
    ("CyclicLR-exp_range", lambda m, o: getattr(m.optim, S).CyclicLR(
        o, 0.01, 0.1, 3, mode="exp_range", gamma=0.9)),
    ("SequentialLR", lambda m, o: getattr(m.optim, S).SequentialLR(o, [
        getattr(m.optim, S).LinearLR(o, 0.1, total_iters=4),
        getattr(m.optim, S).ExponentialLR(o, 0.8),
        getattr(m.optim, S).StepLR(o, 3, 0.5)], milestones=[5, 11])),
    ("ChainedScheduler", lambda m, o: getattr(m.optim, S).ChainedScheduler([
        getattr(m.optim, S).ConstantLR(o, 0.5, total_iters=3),
        getattr(m.optim, S).ExponentialLR(o, 0.9)])),
]


def _run(mod, make, cls="SGD", steps=29):
    opt, ps = _opt(mod, cls)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched = make(mod, opt)
        seen = [list(sched.get_last_lr())]
        for _ in range(steps):
            opt.zero_grad()
            (ps[0] * ps[0]).sum().backward()
            opt.step()
            sched.step()
            seen.append(list(sched.get_last_lr()))
            seen.append([g.get("momentum", g.get("betas", (0,))[0]) for g in opt.param_groups])
    return opt, sched, seen, sorted({str(x.message) for x in w})


@pytest.mark.parametrize("cls", ["SGD", "Adam"])
@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
def test_scheduler_matches_torch(name, make, cls):
    ours = _run(tg, make, cls)
    theirs = _run(torch, make, cls)
    np.testing.assert_array_equal(np.array(ours[2]), np.array(theirs[2]))
    assert ours[3] == theirs[3]
    # a state_dict round trip: a fresh scheduler (of a fresh optimizer) continues as torch's
    after = []
    for mod, (opt, sched, _, _) in ((tg, ours), (torch, theirs)):
        sd = sched.state_dict()
        opt2, _ = _opt(mod, cls)
        opt2.load_state_dict(opt.state_dict())
        sched2 = make(mod, opt2)
        sched2.load_state_dict(sd)
        steps = [list(sched2.get_last_lr())]
        for _ in range(1 if "OneCycle" in name else 5):
            opt2.step()
            sched2.step()
            steps.append(list(sched2.get_last_lr()))
        after.append((steps, sorted(sd)))
    assert after[0][1] == after[1][1]
    np.testing.assert_array_equal(np.array(after[0][0]), np.array(after[1][0]))


CLOSED = [("MultiStepLR", 9), ("ConstantLR", 2), ("LinearLR", 3), ("PolynomialLR", 5),
          ("CosineAnnealingWarmRestarts", 10), ("CosineAnnealingWarmRestarts", 2.5)]


@pytest.mark.parametrize("name,epoch", CLOSED, ids=[f"{n}-{e}" for n, e in CLOSED])
def test_step_with_epoch_matches_torch(name, epoch):
    make = dict(CASES)[name]
    out = []
    for mod in (tg, torch):
        opt, _ = _opt(mod)
        sched = make(mod, opt)
        opt.step()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sched.step(epoch)
        out.append((sched.get_last_lr(), [str(x.message) for x in w]))
    assert out[0] == out[1]


def test_reduce_lr_on_plateau_matches_torch():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.2]
    runs = []
    for mod in (tg, torch):
        for kw in (dict(patience=2, factor=0.5, cooldown=1, min_lr=[0.02, 0.0]),
                   dict(mode="max", patience=1, threshold_mode="abs", threshold=0.05)):
            opt, _ = _opt(mod)
            sched = mod.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
            lrs = []
            for m in metrics:
                opt.step()
                sched.step(mod.tensor(m))
                lrs.append(sched.get_last_lr() + [sched.num_bad_epochs, sched.best])
            sd = sched.state_dict()
            again = mod.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
            again.load_state_dict(sd)
            again.step(9.0)
            lrs.append(again.get_last_lr() + [again.num_bad_epochs, again.best])
            runs.append(lrs)
    assert runs[:2] == runs[2:]


ERRORS = [
    lambda m, o: getattr(m.optim, S).ConstantLR(o, 1.5),
    lambda m, o: getattr(m.optim, S).LinearLR(o, 0.0),
    lambda m, o: getattr(m.optim, S).LinearLR(o, 0.5, 1.5),
    lambda m, o: getattr(m.optim, S).LambdaLR(o, [lambda e: 1.0]),
    lambda m, o: getattr(m.optim, S).MultiplicativeLR(o, 0.5),
    lambda m, o: getattr(m.optim, S).CosineAnnealingWarmRestarts(o, 0),
    lambda m, o: getattr(m.optim, S).CosineAnnealingWarmRestarts(o, 2, T_mult=0),
    lambda m, o: getattr(m.optim, S).OneCycleLR(o, 1.0),
    lambda m, o: getattr(m.optim, S).OneCycleLR(o, 1.0, total_steps=10, pct_start=1),
    lambda m, o: getattr(m.optim, S).OneCycleLR(o, 1.0, total_steps=10, anneal_strategy="x"),
    lambda m, o: getattr(m.optim, S).OneCycleLR(o, [1.0], total_steps=10),
    lambda m, o: getattr(m.optim, S).CyclicLR(o, 0.1, 1.0, mode="bad"),
    lambda m, o: getattr(m.optim, S).ReduceLROnPlateau(o, factor=1.0),
    lambda m, o: getattr(m.optim, S).ReduceLROnPlateau(o, mode="avg"),
    lambda m, o: getattr(m.optim, S).SequentialLR(o, [], []),
    lambda m, o: getattr(m.optim, S).SequentialLR(
        o, [getattr(m.optim, S).StepLR(o, 2)], [3]),
    lambda m, o: getattr(m.optim, S).ChainedScheduler(
        [getattr(m.optim, S).ReduceLROnPlateau(o)]),
    lambda m, o: getattr(m.optim, S).StepLR(o, 2, last_epoch=3),
]


@pytest.mark.parametrize("make", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_match_torch(make):
    out = []
    for mod in (tg, torch):
        opt, _ = _opt(mod)
        with pytest.raises(Exception) as e:
            make(mod, opt)
        out.append((type(e.value), str(e.value)))
    assert out[0] == out[1]


def _after_a_group_is_added(mod, make):
    """The lrs a scheduler sets over four steps when the optimizer gains a group after the
    scheduler was made (fine-tuning unfreezing a backbone), or the error of the step."""
    opt, ps = _opt(mod)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = make(mod, opt)
        try:
            for k in range(4):
                opt.step()
                if k == 1:
                    opt.add_param_group({"params": [mod.ones(3, requires_grad=True)],
                                         "lr": 0.01})
                sched.step()
                seen.append([round(g["lr"], 9) for g in opt.param_groups])
        except Exception as e:   # noqa: BLE001  (compared with torch's)
            seen.append(f"{type(e).__name__}: {e}")
    return seen


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
def test_a_group_added_after_the_scheduler_as_torch(name, make):
    """torch's schedulers pair groups and lrs with strict zips: those that keep one value per
    group (LambdaLR, CyclicLR, SequentialLR's, ...) raise at the next step."""
    assert _after_a_group_is_added(tg, make) == _after_a_group_is_added(torch, make)


def test_one_cycle_raises_past_total_steps_and_rejects_an_optimizer_without_momentum():
    out = []
    for mod in (tg, torch):
        opt, _ = _opt(mod)
        sched = mod.optim.lr_scheduler.OneCycleLR(opt, 1.0, total_steps=2)
        opt.step()
        sched.step()
        sched.step()
        with pytest.raises(ValueError) as e:
            sched.step()
        out.append(str(e.value))
        p = mod.ones(1, requires_grad=True)
        with pytest.raises(ValueError) as e:
            mod.optim.lr_scheduler.OneCycleLR(mod.optim.Adagrad([p]), 1.0, total_steps=2)
        out.append(str(e.value))
    assert out[:2] == out[2:]


def test_tensor_lr_is_filled_in_place():
    out = []
    for mod in (tg, torch):
        p = mod.ones(2, requires_grad=True)
        lr = mod.tensor(0.5)
        opt = mod.optim.SGD([p], lr=lr)
        sched = mod.optim.lr_scheduler.StepLR(opt, 2, 0.5)
        for _ in range(5):
            opt.step()
            sched.step()
        assert opt.param_groups[0]["lr"] is lr
        out.append((float(lr), [float(x) for x in sched.get_last_lr()],
                    type(sched.get_last_lr()[0]).__name__))
    assert out[0] == out[1]


def test_state_dict_pickles_and_lambda_objects_restore():
    opt, _ = _opt(tg)
    sched = tg.optim.lr_scheduler.LambdaLR(opt, [Halve(), Halve()])
    sched.lr_lambdas[0].k = 0.25
    sd = pickle.loads(pickle.dumps(sched.state_dict()))
    assert sd["lr_lambdas"] == [{"k": 0.25}, {"k": 0.5}]
    again = tg.optim.lr_scheduler.LambdaLR(opt, [Halve(), Halve()])
    again.load_state_dict(sd)
    assert again.lr_lambdas[0].k == 0.25 and "lr_lambdas" in sd
    cyc = tg.optim.lr_scheduler.CyclicLR(_opt(tg)[0], 0.01, 0.1)
    assert "_scale_fn_ref" not in pickle.loads(pickle.dumps(cyc.state_dict()))
    assert math.isclose(cyc.get_last_lr()[0], 0.01)


def test_a_step_whose_get_lr_raises_counts_no_epoch():
    """LambdaLR whose function raises once: torch has counted the epoch by then (its retry
    skips one); here the failed step changes nothing, so the retry gives torch's rates of a
    run without the failure.  OneCycleLR past its total steps likewise keeps its epoch."""
    rates = []
    for mod, fail in ((tg, True), (torch, False)):
        opt, _ = _opt(mod)
        calls = [0]

        def lam(epoch, fail=fail):
            calls[0] += 1
            if fail and calls[0] == 3:
                raise ZeroDivisionError
            return 0.5 ** epoch
        sched = mod.optim.lr_scheduler.LambdaLR(opt, lam)
        for _ in range(4):
            opt.step()
            before = sched.last_epoch, sched._step_count
            try:
                sched.step()
            except ZeroDivisionError:
                assert (sched.last_epoch, sched._step_count) == before
                sched.step()
        rates.append((sched.last_epoch, sched.get_last_lr()))
    assert rates[0] == rates[1]
    opt, _ = _opt(tg)
    sched = tg.optim.lr_scheduler.OneCycleLR(opt, 1.0, total_steps=2)
    opt.step()
    sched.step()
    sched.step()
    with pytest.raises(ValueError):
        sched.step()
    assert sched.last_epoch == 2


def test_step_warnings_name_the_callers_line_as_torch():
    """A scheduler's step warnings (stepped before the optimizer, the deprecated epoch
    argument, ReduceLROnPlateau's too) point at the user's line, not at tapegrad's files."""
    seen = []
    for mod in (tg, torch):
        S = mod.optim.lr_scheduler
        opt, _ = _opt(mod)
        sched, plateau = S.StepLR(opt, 2), S.ReduceLROnPlateau(opt)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sched.step()
            sched.step(3)
            plateau.step(1.0, 4)
        seen.append([(x.filename, len(str(x.message))) for x in w])
    assert seen[0] == seen[1]
    assert len(seen[0]) == 3 and all(f == __file__ for f, _ in seen[0])
