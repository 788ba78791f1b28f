"""tapegrad.optim.swa_utils against torch.optim.swa_utils: AveragedModel with every averaging
function (parameters, and buffers with use_buffers) over the same sequence of model weights,
SWALR's learning rates and state_dict, update_bn's statistics, momenta and mode, the errors."""
import copy
import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


def _model(mod, dt):
    mod.manual_seed(0)
    m = mod.nn.Sequential(mod.nn.Linear(3, 4), mod.nn.BatchNorm1d(4), mod.nn.ReLU(),
                          mod.nn.Linear(4, 2))
    return m.double() if dt == "float64" else m


def _weights(step, like):
    """The model's weights at `step`: fixed draws, so only the averaging is compared."""
    rng = np.random.default_rng(step)
    return [rng.standard_normal(tuple(p.shape)) for p in like]


AVG = [("default", {}),
       ("swa_multi", {"multi_avg_fn": "get_swa_multi_avg_fn()"}),
       ("ema_multi", {"multi_avg_fn": "get_ema_multi_avg_fn(0.9)"}),
       ("swa_avg", {"avg_fn": "get_swa_avg_fn()"}),
       ("ema_avg", {"avg_fn": "get_ema_avg_fn(0.8)"})]


def _averaged(mod, dt, kw, use_buffers, steps=7):
    m = _model(mod, dt)
    su = mod.optim.swa_utils
    kwargs = {k: eval(v, {}, vars(su)) for k, v in kw.items()}
    avg = su.AveragedModel(m, use_buffers=use_buffers, **kwargs)
    x = mod.tensor(np.linspace(-1, 1, 15).reshape(5, 3), dtype=getattr(mod, dt))
    trace = []
    for step in range(steps):
        with mod.no_grad():
            for p, w in zip(m.parameters(), _weights(step, list(m.parameters()))):
                p.copy_(mod.tensor(w))
        m(x)      # the batch norm's running statistics move
        avg.update_parameters(m)
        trace.append([t.detach().numpy().copy() for t in avg.state_dict().values()])
    return m, avg, trace


@pytest.mark.parametrize("use_buffers", [False, True], ids=["params", "buffers"])
@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("name,kw", AVG, ids=[a for a, _ in AVG])
def test_averaged_model_matches_torch(name, kw, dt, use_buffers):
    if name == "swa_multi" and use_buffers:
        # num_batches_tracked (int64) meets torch's refusal of an integer addcdiv_
        errs = []
        for mod in (tg, torch):
            with pytest.raises(RuntimeError, match="Integer division with addcdiv") as e:
                _averaged(mod, dt, kw, use_buffers)
            errs.append(str(e.value))
        assert errs[0] == errs[1]
        return
    _, avg, ours = _averaged(tg, dt, kw, use_buffers)
    _, tavg, theirs = _averaged(torch, dt, kw, use_buffers)
    assert list(avg.state_dict()) == list(tavg.state_dict())
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and x.shape == y.shape
            if dt == "float64":
                np.testing.assert_allclose(x, y, rtol=1e-15, atol=1e-15)
            else:
                np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    assert int(avg.n_averaged) == 7 and avg.n_averaged.dtype == tg.int64
    assert repr(avg) == repr(tavg).replace("torch", "tapegrad")


def test_averaged_model_forward_and_state_dict_round_trip():
    m, avg, _ = _averaged(tg, "float64", {}, False, steps=3)
    tm, tavg, _ = _averaged(torch, "float64", {}, False, steps=3)
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    avg.eval(), tavg.eval()
    np.testing.assert_allclose(avg(tg.tensor(x)).detach().numpy(),
                               tavg(torch.tensor(x)).detach().numpy(), rtol=1e-14)
    assert avg(tg.tensor(x)).shape == avg.module(tg.tensor(x)).shape
    # the copy is a copy: the source model's parameters are other tensors
    assert all(p is not q for p, q in zip(avg.module.parameters(), m.parameters()))
    fresh = tg.optim.swa_utils.AveragedModel(_model(tg, "float64"))
    fresh.load_state_dict(copy.deepcopy(avg.state_dict()))
    assert int(fresh.n_averaged) == 3
    for a, b in zip(fresh.state_dict().values(), avg.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # torch's state dict loads into ours
    fresh2 = tg.optim.swa_utils.AveragedModel(_model(tg, "float64"))
    fresh2.load_state_dict({k: tg.tensor(v.numpy()) for k, v in tavg.state_dict().items()})
    for a, b in zip(fresh2.state_dict().values(), tavg.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-15)


def _fn_values(mod):
    su = mod.optim.swa_utils
    a = [mod.tensor([1.0, 2.0], dtype=mod.float64)]
    su.get_swa_multi_avg_fn()(a, [mod.tensor([4.0, 8.0], dtype=mod.float64)], 2)
    b = [mod.tensor([1.0, 2.0], dtype=mod.float64)]
    su.get_swa_multi_avg_fn()(b, [mod.tensor([4.0, 8.0], dtype=mod.float64)], mod.tensor(2))
    c = [mod.tensor([10, 20])]
    su.get_ema_multi_avg_fn(0.5)(c, [mod.tensor([3, 7])], 1)
    e = su.get_ema_avg_fn(0.25)(mod.tensor([1.0]), mod.tensor([3.0]), 0)
    s = su.get_swa_avg_fn()(mod.tensor([1.0]), mod.tensor([3.0]), mod.tensor(3))
    return [a[0].tolist(), b[0].tolist(), c[0].tolist(), e.tolist(), s.tolist()]


def test_averaging_functions_with_int_counts_and_integer_tensors():
    """An int count gives a float64 weight, a tensor count a float32 one; integer tensors
    take the multiply-add and are cast back."""
    assert _fn_values(tg) == _fn_values(torch)


def test_averaging_errors():
    m = _model(tg, "float32")
    for mod, mm in ((tg, m), (torch, _model(torch, "float32"))):
        su = mod.optim.swa_utils
        with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
            su.AveragedModel(mm, avg_fn=su.get_swa_avg_fn(),
                             multi_avg_fn=su.get_swa_multi_avg_fn())
        for f in (su.get_ema_avg_fn, su.get_ema_multi_avg_fn):
            with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please "
                                                 r"provide a value in \[0,1\] range."):
                f(1.5)


def _lrs(mod, kw, epochs=14, groups=False):
    p = [mod.tensor([1.0], requires_grad=True), mod.tensor([2.0], requires_grad=True)]
    params = [{"params": p[:1]}, {"params": p[1:], "lr": 0.3}] if groups else p
    opt = mod.optim.SGD(params, lr=0.1)
    sched = mod.optim.swa_utils.SWALR(opt, **kw)
    out = [sched.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return opt, sched, out


SWALR_CASES = [dict(swa_lr=0.05), dict(swa_lr=0.05, anneal_strategy="linear", anneal_epochs=5),
               dict(swa_lr=0.5, anneal_epochs=0), dict(swa_lr=[0.01, 0.2], anneal_epochs=4),
               dict(swa_lr=0.02, anneal_epochs=1, anneal_strategy="linear")]


@pytest.mark.parametrize("kw", SWALR_CASES, ids=[str(i) for i in range(len(SWALR_CASES))])
def test_swalr_matches_torch(kw):
    groups = isinstance(kw["swa_lr"], list)
    opt, sched, ours = _lrs(tg, kw, groups=groups)
    topt, tsched, theirs = _lrs(torch, kw, groups=groups)
    assert ours == theirs           # the same float arithmetic: equal to the bit
    assert [g["swa_lr"] for g in opt.param_groups] == [g["swa_lr"] for g in topt.param_groups]
    sd, tsd = sched.state_dict(), tsched.state_dict()
    assert sd == tsd
    # a fresh scheduler loaded from the state dict continues as the original
    _, fresh, _ = _lrs(tg, dict(kw, anneal_strategy="cos"), epochs=0, groups=groups)
    fresh.optimizer.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    fresh.load_state_dict(copy.deepcopy(sd))
    assert fresh.anneal_func == sched.anneal_func
    for _ in range(3):
        sched.step(), fresh.step(), tsched.step()
    assert sched.get_last_lr() == tsched.get_last_lr()
    assert fresh.get_last_lr()[0] == sched.get_last_lr()[0]


def test_swalr_errors_and_warning():
    for mod in (tg, torch):
        opt = mod.optim.SGD([mod.tensor([1.0], requires_grad=True)], lr=0.1)
        su = mod.optim.swa_utils
        with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or "
                                             "'linear', instead got exp"):
            su.SWALR(opt, 0.1, anneal_strategy="exp")
        with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, "
                                             "got -1"):
            su.SWALR(opt, 0.1, anneal_epochs=-1)
        with pytest.raises(ValueError, match="swa_lr must have the same length as "
                                             "optimizer.param_groups"):
            su.SWALR(opt, [0.1, 0.2])
        sched = su.SWALR(opt, 0.1)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sched.get_lr()
        assert "please use `get_last_lr()`" in str(w[-1].message)
        assert isinstance(sched, mod.optim.lr_scheduler.LRScheduler)


def _bn_model(mod):
    mod.manual_seed(1)
    return mod.nn.Sequential(mod.nn.Linear(3, 4), mod.nn.BatchNorm1d(4, momentum=0.3),
                             mod.nn.Linear(4, 4), mod.nn.BatchNorm1d(4)).double()


def test_update_bn_matches_torch():
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((6, 3)) for _ in range(4)]
    out = []
    for mod in (tg, torch):
        m = _bn_model(mod)
        m.eval()
        # a tuple batch is read by its first element
        loader = [mod.tensor(batches[0]), (mod.tensor(batches[1]), 0),
                  [mod.tensor(batches[2])], mod.tensor(batches[3])]
        mod.optim.swa_utils.update_bn(loader, m)
        out.append((m.training, m[1].momentum, m[3].momentum, int(m[1].num_batches_tracked),
                    [b.numpy().copy() for b in m.buffers()]))
        m.train()
        mod.optim.swa_utils.update_bn(loader[:1], m)
        assert m.training
    (tr, m1, m3, n, bufs), (ttr, tm1, tm3, tn, tbufs) = out
    assert (tr, m1, m3, n) == (ttr, tm1, tm3, tn) == (False, 0.3, 0.1, 4)
    for a, b in zip(bufs, tbufs):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    # no batch norm: the loader is not read
    tg.optim.swa_utils.update_bn(iter(()), tg.nn.Linear(2, 2))
