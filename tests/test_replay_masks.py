"""Replay of values that need no gradient: masks from comparisons, their casts (`.float()`,
`.to(dtype)`, `.long()`), integer casts of values, integer arithmetic on them.  Each is either
an entry the replay re-evaluates or a guard (BranchChanged; compile records again), never a
constant silently reused: replayed at points where the masks change, values and gradients
equal eager evaluation at those points."""
import numpy as np
import pytest

import tapegrad as tg

# the point recorded at, and points where every mask below changes somewhere
X0 = np.array([1.0, 2.0, 3.0, -1.5], np.float32)
Y0 = np.array([2.0, 2.0, 2.0, 2.0], np.float32)
POINTS = [(np.array([5.0, 2.5, -3.0, 0.5], np.float32), np.array([2.0, 3.0, -4.0, 2.0], np.float32)),
          (np.array([-1.0, 4.0, 1.5, 3.0], np.float32), np.array([0.0, 4.0, 1.0, -2.0], np.float32)),
          (X0, Y0)]

# recorded as entries: a replay re-evaluates them (no guard)
REPLAYED = {
    "gt.float": lambda x, y: ((x > y).float() * x).sum(),
    "gt.double": lambda x, y: ((x > y).double() * x).sum(),
    "gt.to(dtype)": lambda x, y: ((x > y).to(x.dtype) * x).sum(),
    "ge.to(float32 kw)": lambda x, y: (x.ge(y).to(dtype=tg.float32) * x).sum(),
    "gt.type_as": lambda x, y: ((x > y).type_as(x) * x).sum(),
    "eq.float": lambda x, y: ((x == y).float() * x * y).sum(),
    "gt.long": lambda x, y: ((x > y).long() * x).sum(),
    "gt.int": lambda x, y: ((x > y).int() * x).sum(),
    "mask count": lambda x, y: ((x > y).float().sum() * x).sum(),
    "mask mean": lambda x, y: ((x > y).float().mean() * x * y).sum(),
    "mask cumsum": lambda x, y: ((x > y).float().cumsum(0) * x).sum(),
    "long sum": lambda x, y: ((x > y).long().sum() * x).sum(),
    "two masks": lambda x, y: ((x > y).float() + (x < 0).float()).mul(x).sum(),
    "one-element mask": lambda x, y: ((x.sum() > y.sum()).float() * x).sum(),
    "x.bool": lambda x, y: ((x - y).bool().float() * x).sum(),
    "bool mask where": lambda x, y: tg.where(x.bool() & (x > 1.0), x, y).sum(),
    "x.long": lambda x, y: (x.long() * y).sum(),
    "x.int.float": lambda x, y: (x.int().float() * y * x).sum(),
    "x.to(int64).to(float32)": lambda x, y: (x.to(tg.int64).to(tg.float32) * y).sum(),
    "int8 cast": lambda x, y: (x.to(tg.int8).float() * y).sum(),
    "uint8 of long": lambda x, y: ((x * 100).long().to(tg.uint8).float() * y).sum(),
    "int arithmetic": lambda x, y: (((x > y).long() + 1) * ((x > y).long() - (x < 0).long())
                                    * x).sum(),
    "bool + 0": lambda x, y: (((x > y) + 0) * x).sum(),
    "bool * bool": lambda x, y: (((x > y) * (x > 0)).float() * x).sum(),
    "bool + bool": lambda x, y: (((x > y) + (x < 0)).float() * y).sum(),
    "neg long": lambda x, y: ((-(x > y).long()) * x).sum(),
    "where(gt)": lambda x, y: tg.where(x > y, x, y * 2).sum(),
    "where(float mask > .5)": lambda x, y: tg.where((x > y).float() > 0.5, x, y).sum(),
    "copy_ into int": lambda x, y: _into(tg.int64, x, lambda c: c.copy_(x), y),
    "copy_ into bool": lambda x, y: tg.where(_into(tg.bool, x, lambda c: c.copy_(x - 2.0)),
                                            x, y).sum(),
    "copy_ mask into float": lambda x, y: _into(tg.float32, x, lambda c: c.copy_(x > y), y),
    "int += mask": lambda x, y: _into(tg.int64, x, lambda c: c.add_((x > y).long()), y),
    "count *= 3": lambda x, y: _into(tg.int64, x, lambda c: c.copy_(x > y).mul_(3), y),
}

# not re-evaluated by a replay: guarded (BranchChanged where the value changed)
GUARDED = {
    "long // 2": lambda x, y: ((((x > y).long() + 3) // 2) * x).sum(),
    "long max": lambda x, y: ((x > y).long().max() * x).sum(),
    "int argmax": lambda x, y: x[(x > y).int().argmax()] * y.sum(),
    "mask numpy": lambda x, y: (tg.tensor((x > y).numpy().astype(np.float32)) * y).sum(),
    "detach numpy": lambda x, y: (tg.tensor(x.detach().numpy() * 2) * y).sum(),
    "np.asarray": lambda x, y: (tg.tensor(np.asarray(x > y).astype(np.float32)) * y).sum(),
    "x.data": lambda x, y: (x.data * y).sum(),
    "tensor(x)": lambda x, y: (tg.tensor(x) * y).sum(),
    "new_tensor": lambda x, y: (x.new_tensor(x) * y).sum(),
    "signbit": lambda x, y: tg.where(tg.signbit(x), x, y).sum(),
    "bucketize": lambda x, y: (tg.bucketize(x, tg.tensor([0.0, 2.0])).float() * y).sum(),
    "setitem mask": lambda x, y: _set_masked(x, y),
    "count //= 2": lambda x, y: _into(tg.int64, x, lambda c: c.copy_((x > y).long() + 2)
                                      .floor_divide_(2), y),
}


def _into(dt, x, change, y=None):
    """change(c) on a new tensor c of dtype dt, x's shape; then (c * y).sum(), or c."""
    c = tg.zeros(x.shape, dtype=dt)
    change(c)
    return c if y is None else (c * y).sum()


def _set_masked(x, y):
    z = x.clone()
    z[x > y] = 0.0
    return (z * y).sum()


def eager(f, x, y):
    """f's value and gradients at (x, y), evaluated eagerly."""
    xt, yt = tg.tensor(x, requires_grad=True), tg.tensor(y, requires_grad=True)
    out = f(xt, yt)
    if not out.requires_grad:
        return float(out), np.zeros_like(x), np.zeros_like(y)
    gx, gy = tg.autograd.grad(out, (xt, yt), allow_unused=True, materialize_grads=True)
    return float(out), gx.numpy(), gy.numpy()


def check(got, want):
    value, (gx, gy) = got
    np.testing.assert_allclose(float(value), want[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(gx), want[1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(gy), want[2], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", REPLAYED)
def test_replay_reevaluates_masks_and_casts(name):
    f = REPLAYED[name]
    tape = tg.record(f, tg.tensor(X0), tg.tensor(Y0))
    assert not tape.guards, tape.guards     # re-evaluated, not guarded
    for x, y in POINTS:
        check(tape.value_and_grad(x, y), eager(f, x, y))


@pytest.mark.parametrize("name", REPLAYED)
def test_compile_reevaluates_masks_and_casts(name):
    f = REPLAYED[name]
    cf = tg.compile(f)
    for x, y in [(X0, Y0)] + POINTS:
        value, (gx, gy) = cf(tg.tensor(x), tg.tensor(y))
        check((value.item(), (gx.numpy(), gy.numpy())), eager(f, x, y))
    assert cf.rerecords == 0 and len(cf.tapes) == 1


@pytest.mark.parametrize("name", REPLAYED)
def test_batch_reevaluates_masks_and_casts(name):
    f = REPLAYED[name]
    tape = tg.record(f, tg.tensor(X0), tg.tensor(Y0))
    X = np.stack([x for x, _ in POINTS])
    Y = np.stack([y for _, y in POINTS])
    values, (gx, gy) = tape.value_and_grad_batch(X, Y)
    for i, (x, y) in enumerate(POINTS):
        check((values[i], (gx[i], gy[i])), eager(f, x, y))


@pytest.mark.parametrize("name", ["gt.float", "gt.long", "x.long", "int arithmetic",
                                  "one-element mask", "bool * bool"])
def test_zero_d_inputs_replay_masks(name):
    """The one-element path (scalar replay and its batch) re-evaluates them too."""
    f = REPLAYED[name]
    tape = tg.record(f, tg.tensor(1.0), tg.tensor(2.0))
    X = np.array([1.0, 3.0, -2.5, 0.5, 2.0], np.float32)
    Y = np.array([2.0, 2.0, -3.0, 4.0, 2.0], np.float32)
    values, (gx, gy) = tape.value_and_grad_batch(X, Y)
    for i in range(len(X)):
        want = eager(f, X[i], Y[i])
        check(tape.value_and_grad(X[i], Y[i]), want)
        check((values[i], (gx[i], gy[i])), want)


@pytest.mark.parametrize("name", GUARDED)
def test_unreplayed_values_are_guarded(name):
    f = GUARDED[name]
    tape = tg.record(f, tg.tensor(X0), tg.tensor(Y0))
    assert tape.guards
    check(tape.value_and_grad(X0, Y0), eager(f, X0, Y0))   # where the guards hold
    x, y = POINTS[0]
    with pytest.raises(tg.BranchChanged):
        tape.value_and_grad(x, y)
    cf = tg.compile(f)
    for x, y in [(X0, Y0)] + POINTS:       # compile records again where a guard fails
        value, (gx, gy) = cf(tg.tensor(x), tg.tensor(y))
        check((value.item(), (gx.numpy(), gy.numpy())), eager(f, x, y))
    assert cf.rerecords >= 1


def test_strict_recording_refuses_a_mask_leaving_the_tape():
    with pytest.raises(tg.TracingError):
        tg.record(GUARDED["mask numpy"], tg.tensor(X0), tg.tensor(Y0), strict=True)


def test_casts_of_masks_need_no_grad_while_recording():
    """As torch: a cast of a mask or an integer cast does not require grad (while recording
    too), and `.numpy()` of a mask is allowed."""
    seen = {}

    def f(x, y):
        m = (x > y).float()
        i = x.long()
        seen.update(m=m.requires_grad, i=i.requires_grad, n=(x > y).numpy().dtype)
        return (m * x + i * y).sum()

    tg.record(f, tg.tensor(X0), tg.tensor(Y0))
    assert seen == {"m": False, "i": False, "n": np.dtype(bool)}


def test_reproduction_from_the_report():
    def f(x, y):
        return ((x > y).float() * x).sum()

    x, y = tg.tensor([1.0, 2.0, 3.0]), tg.tensor([2.0, 2.0, 2.0])
    tape = tg.replay.record(f, x, y)
    value, (gx, gy) = tape.value_and_grad(np.array([5.0, 2.0, 3.0], np.float32),
                                          np.array([2.0, 2, 2], np.float32))
    assert value == 8.0
    np.testing.assert_array_equal(gx, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gy, [0.0, 0.0, 0.0])
    cf = tg.compile(f)
    cf(x, y)
    value, (gx, _) = cf(tg.tensor([5.0, 2.0, 3.0]), y)
    assert value.item() == 8.0
    np.testing.assert_array_equal(gx.numpy(), [1.0, 0.0, 1.0])


# max pooling applied to a recorded input itself (no op before it): where the maxima sit is a
# guard there too, as after an op (it was silently reused: the input's _tape is None until an
# op reads it)
F = tg.nn.functional
POOLS = {   # name: (the input's shape, the pooling)
    "max_pool1d": ((2, 8), lambda x: F.max_pool1d(x, 3, 1)),
    "max_pool2d": ((1, 4, 4), lambda x: F.max_pool2d(x, 3, 1)),
    "max_pool3d": ((1, 2, 2, 4), lambda x: F.max_pool3d(x, 2, 1)),
    "adaptive_max_pool1d": ((2, 8), lambda x: F.adaptive_max_pool1d(x, 3)),
    "adaptive_max_pool2d": ((1, 4, 4), lambda x: F.adaptive_max_pool2d(x, 2)),
    "max_pool2d indices": ((1, 4, 4), lambda x: sum(
        v.double() for v in F.max_pool2d(x, 2, return_indices=True))),
}


@pytest.mark.parametrize("name", list(POOLS))
@pytest.mark.parametrize("direct", [True, False], ids=["input itself", "after an op"])
def test_max_pool_of_a_recorded_input_guards_its_maxima(name, direct):
    shape, pool = POOLS[name]
    rng = np.random.default_rng(7)
    a = rng.standard_normal(shape)
    b = -a[..., ::-1].copy()          # the maxima elsewhere in the windows

    def f(x):
        return (pool(x if direct else x * 1.0) * 1.5).sum()
    rec = tg.record(f, tg.tensor(a))
    np.testing.assert_allclose(float(rec(tg.tensor(a))), float(f(tg.tensor(a))), rtol=1e-12)
    with pytest.raises(tg.BranchChanged):
        rec(tg.tensor(b))
    step = tg.compile(f)             # records again where the guard fails
    for p in (a, b, a):
        x = tg.tensor(p, requires_grad=True)
        want = f(x)
        want.backward()
        value, (g,) = step(tg.tensor(p))
        np.testing.assert_allclose(float(value), float(want), rtol=1e-12)
        np.testing.assert_allclose(g.numpy(), x.grad.numpy(), rtol=1e-12)
    assert step.rerecords >= 1
