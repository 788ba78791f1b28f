"""The in-place updates of hand-written optimizers (`p.add_(g, alpha=-lr)`, `m.lerp_(g, w)`,
`v.addcmul_(g, g, value=c)`, `p.addcdiv_(m, d, value=-lr)`) on tensors that need no history
take inplace._update_arrays: numpy's arithmetic written into the tensor's memory.  It must
give the general path's result bit for bit (and its version count), torch's values, and
leave every error to the general path."""
import itertools
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import inplace, mathops

OPS = ("add_", "sub_", "addcmul_", "addcdiv_", "lerp_")
NUMBERS = (1, -0.05, 0.3, 0.7, 2, -1.5)


def _apply(mod, op, p, a, b, number):
    if op == "add_":
        p.add_(a, alpha=number)
    elif op == "sub_":
        p.sub_(a, alpha=number)
    elif op == "addcmul_":
        p.addcmul_(a, b, value=number)
    elif op == "addcdiv_":
        p.addcdiv_(a, b, value=number)
    else:
        p.lerp_(a, number)


def _operands(mod, dtype, shape, seed, requires_grad=False):
    rng = np.random.default_rng(seed)
    draw = [rng.standard_normal(shape) * 3 for _ in range(3)]
    draw[2] = np.abs(draw[2]) + 0.1
    return [mod.tensor(x, dtype=dtype, requires_grad=requires_grad and i == 0)
            for i, x in enumerate(draw)]


def _update(op, dtype, shape, number, fast, monkeypatch, grad_mode=False):
    if not fast:
        monkeypatch.setattr(inplace, "_update_arrays", lambda *args, **kw: None)
        monkeypatch.setattr(mathops, "_update_arrays", lambda *args, **kw: None)
        monkeypatch.setattr(inplace, "_update_array", lambda *args, **kw: None)
    p, a, b = _operands(tg, dtype, shape, hash((op, shape, number)) % 2**32,
                        requires_grad=not grad_mode)
    with tg.set_grad_enabled(grad_mode):
        _apply(tg, op, p, a, b, number)
    monkeypatch.undo()
    return p.detach().numpy().copy(), p._version


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_fast_path_equals_the_general_path_bit_for_bit(op, dtype, monkeypatch):
    for shape, number, grad_mode in itertools.product(((), (1,), (7,), (3, 5)), NUMBERS,
                                                      (False, True)):
        fast = _update(op, dtype, shape, number, True, monkeypatch, grad_mode)
        general = _update(op, dtype, shape, number, False, monkeypatch, grad_mode)
        assert fast[0].dtype == general[0].dtype and fast[1] == general[1]
        np.testing.assert_array_equal(fast[0], general[0], err_msg=f"{op} {shape} {number}")


def test_fast_path_is_taken(monkeypatch):
    """An n-d update under no_grad makes no tensor for its intermediates (the general path
    made one per op of the decomposition): add_/sub_ with alpha take _update_array (torch's
    fused multiply-add written in place), the others _update_arrays."""
    calls = []
    real, real_one = inplace._update_arrays, inplace._update_array

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    def counting_one(*args, **kw):
        done = real_one(*args, **kw)
        if done is not None:
            calls.append(1)
        return done
    monkeypatch.setattr(inplace, "_update_arrays", counting)
    monkeypatch.setattr(mathops, "_update_arrays", counting)
    monkeypatch.setattr(inplace, "_update_array", counting_one)
    for op in OPS:
        p, a, b = _operands(tg, tg.float32, (4, 3), 0, requires_grad=True)
        with tg.no_grad():
            _apply(tg, op, p, a, b, 0.3)
    assert len(calls) == len(OPS)
    real_ufunc = mathops._ufunc_update
    monkeypatch.setattr(mathops, "_ufunc_update", lambda *a: calls.append(1) or real_ufunc(*a))
    with tg.no_grad():
        p.sqrt_()
        p.clamp_(-0.5, 0.5)
    assert len(calls) == len(OPS) + 2


@pytest.mark.parametrize("op", OPS)
def test_updates_match_torch(op, torch_ref):
    for dtype, shape, number in itertools.product(("float32", "float64"), ((), (7,), (3, 5)),
                                                  NUMBERS):
        ours = _operands(tg, getattr(tg, dtype), shape, 1, requires_grad=True)
        theirs = _operands(torch_ref, getattr(torch_ref, dtype), shape, 1, requires_grad=True)
        with tg.no_grad():
            _apply(tg, op, *ours, number)
        with torch_ref.no_grad():
            _apply(torch_ref, op, *theirs, number)
        rtol = 1e-6 if dtype == "float32" else 1e-14
        np.testing.assert_allclose(ours[0].detach().numpy(), theirs[0].detach().numpy(),
                                   rtol=rtol, atol=rtol, err_msg=f"{op} {dtype} {shape}")
        assert ours[0]._version == theirs[0]._version


def test_errors_stay_the_general_paths(torch_ref):
    """What the fast path does not take raises as before: a leaf that requires grad in grad
    mode, a number where a tensor is expected, another dtype, a broadcast shape."""
    for mod in (tg, torch_ref):
        p = mod.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            p.add_(mod.ones(3), alpha=2.0)
        with pytest.raises(TypeError):
            mod.ones(3).addcmul_(2.0, mod.ones(3), value=0.5)
        with pytest.raises(RuntimeError, match="expected dtype"):
            mod.ones(3).lerp_(mod.ones(3, dtype=mod.float64), 0.3)
        q = mod.ones(3)
        q.add_(mod.ones(1), alpha=2.0)        # broadcast: the general path
        np.testing.assert_array_equal(q.numpy(), [3.0, 3.0, 3.0])
        with pytest.raises(RuntimeError):
            mod.ones(3).expand(2, 3).add_(mod.ones(2, 3), alpha=2.0)
        for update in (lambda x: x.addcmul_(x * 1, x * 1, value=1e40),
                       lambda x: x.addcdiv_(x * 1, x * 1, value=1e40),
                       lambda x: x.lerp_(x * 1, 1e40)):
            x = mod.ones(3)
            with pytest.raises(RuntimeError, match="cannot be converted to type float"):
                update(x)
            assert x._version == 0 and (x == 1).all()


UNARY = ("sqrt_", "abs_", "neg_", "exp_", "tanh_", "sigmoid_", "relu_", "floor_", "round_",
         "reciprocal_", "square_", "sin_", "log_")


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_unary_in_place_fast_path_equals_the_general_path(dtype, monkeypatch):
    """In-place unary ops (and clamp_ with number bounds) with no history write the
    out-of-place op's value: the same bits and version counts as the general path."""
    calls = [(name, ()) for name in UNARY] + [("clamp_", (-0.5, 0.7)), ("clamp_", (None, 0.2)),
                                              ("nan_to_num_", ())]

    def run(name, args, shape, fast):
        if not fast:
            monkeypatch.setattr(mathops, "_update_arrays", lambda *a, **kw: None)
            monkeypatch.setattr(mathops, "_ufunc_update", lambda *a: None)
        rng = np.random.default_rng(abs(hash((name, shape))) % 2**32)
        x = tg.tensor(rng.standard_normal(shape) * 2, dtype=dtype, requires_grad=True)
        with tg.no_grad():
            getattr(x, name)(*args)
        monkeypatch.undo()
        return x.detach().numpy().copy(), x._version
    for (name, args), shape in itertools.product(calls, ((), (1,), (6,), (2, 3))):
        fast, general = run(name, args, shape, True), run(name, args, shape, False)
        assert fast[1] == general[1]
        np.testing.assert_array_equal(fast[0], general[0], err_msg=f"{name} {shape}")


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_copy_and_fill_fast_path_equals_the_general_path(dtype, monkeypatch):
    calls = []
    real = inplace._update_arrays

    def counting(*args):
        calls.append(1)
        return real(*args)

    def run(shape, fast):
        monkeypatch.setattr(inplace, "_update_arrays", counting if fast else lambda *a: None)
        rng = np.random.default_rng(len(shape))
        x = tg.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=True)
        y = tg.tensor(rng.standard_normal(shape), dtype=dtype)
        with tg.no_grad():
            x.copy_(y)
            before = x.detach().numpy().copy()
            x.fill_(0.1)
            x.copy_(x.flip(0) if shape else x * 2)   # (a source that reads x itself)
        monkeypatch.undo()
        return before, x.detach().numpy().copy(), x._version
    for shape in ((), (1,), (6,), (2, 3)):
        n = len(calls)
        fast, general = run(shape, True), run(shape, False)
        assert len(calls) == n + 3 and fast[2] == general[2]
        for a, b in zip(fast[:2], general[:2]):
            np.testing.assert_array_equal(a, b)


def test_float_held_tensor_stays_float_after_an_int_fill(torch_ref):
    """fill_(1) of a one-element float tensor held as a Python float keeps a float: the
    array fast path read the filled int64 array's item (an int), and .double() then failed."""
    for mod in (tg, torch_ref):
        x = mod.tensor(0.5)
        with mod.no_grad():
            x.fill_(1)
            x.add_(mod.tensor(2.0), alpha=3)
        assert type(x.item()) is float and x.item() == 7.0
        assert x.double().dtype == mod.float64 and x.double().item() == 7.0


def test_in_place_alpha_past_float32_range_raises_as_torch(torch_ref):
    """add_/sub_ with an alpha float32 cannot hold raise torch's overflow error and change
    nothing (they gave inf); float64 and an infinite alpha compute as torch's."""
    for alpha in (1e40, -3.5e38, math.inf):
        for dtype, shape in itertools.product(("float32", "float64"), ((), (2,))):
            outs = []
            for mod in (tg, torch_ref):
                x = mod.zeros(shape, dtype=getattr(mod, dtype))
                try:
                    with mod.no_grad():
                        x.add_(mod.ones(shape, dtype=getattr(mod, dtype)), alpha=alpha)
                        x.sub_(mod.ones(shape, dtype=getattr(mod, dtype)), alpha=alpha / 2)
                    outs.append(x.tolist())
                except RuntimeError as e:
                    outs.append((str(e), x.tolist(), x._version))
            np.testing.assert_equal(outs[0], outs[1], err_msg=f"{alpha} {dtype} {shape}")


BINARY = ("add_", "sub_", "mul_", "div_", "__iadd__", "__isub__", "__imul__", "__itruediv__")


def _binary_update(name, dtype, shape, fast, monkeypatch, alias=None, number=None):
    """name(p, a) under no_grad with p a leaf that requires grad (or a view of one: `alias`),
    a a same-shape tensor or the Python `number`; with `fast` False inplace._update_array is
    off."""
    if not fast:
        monkeypatch.setattr(inplace, "_update_array", lambda *args: None)
    rng = np.random.default_rng(abs(hash((name, shape))) % 2**32)
    p = tg.tensor(rng.standard_normal(shape) * 2, dtype=dtype, requires_grad=True)
    a = tg.tensor(rng.standard_normal(shape) + 3, dtype=dtype)
    with tg.no_grad():
        target = p if alias is None else alias(p)
        other = number if number is not None else a if alias is None else alias(a)
        r = getattr(target, name)(other)
    monkeypatch.undo()
    assert r is target
    return p.detach().numpy().copy(), p._version, target._version


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_binary_in_place_fast_path_equals_the_general_path(dtype, monkeypatch):
    """`p -= lr * p.grad` and its kin (add_, sub_, mul_, div_ and the operators with a
    same-dtype, same-shape tensor or a Python number, no history): inplace._update_array
    writes the general path's bits (float32 overflow to inf included), counts the same
    versions, also through a view."""
    calls = []
    real = inplace._update_array

    def counting(*args):
        done = real(*args)
        calls.append(done is not None)
        return done
    for name, shape, alias, number in itertools.product(
            BINARY, ((), (1,), (6,), (2, 3)), (None, lambda t: t[:1]),
            (None, 0.999, -3, 1e-8, 2**40, 1e39)):
        n = len(calls)
        alias = alias if shape else None
        monkeypatch.setattr(inplace, "_update_array", counting)
        fast = _binary_update(name, dtype, shape, True, monkeypatch, alias, number)
        general = _binary_update(name, dtype, shape, False, monkeypatch, alias, number)
        assert fast[1:] == general[1:], (name, shape)
        np.testing.assert_array_equal(fast[0], general[0], err_msg=f"{name} {shape}")
        # (one-element tensors and views stay on the general path)
        size = math.prod(shape if alias is None or not shape else (1,) + shape[1:])
        assert any(calls[n:]) == (size > 1), (name, shape)


def test_binary_in_place_fast_path_leaves_errors_to_the_general_path(torch_ref):
    """An inference tensor outside inference mode, read-only memory (an expand), another
    dtype, a broadcast: the general path's result or error, nothing written."""
    for mod in (tg, torch_ref):
        with mod.inference_mode():
            q = mod.ones(3)
        with mod.no_grad():
            with pytest.raises(RuntimeError, match="Inplace update to inference tensor"):
                q -= mod.ones(3)
        if mod is tg:   # (nothing written: torch's check comes after its kernel wrote)
            assert (q == 1).all()
        with mod.no_grad():
            with pytest.raises(RuntimeError):
                mod.ones(3).expand(2, 3).sub_(mod.ones(2, 3))
            x = mod.ones(2, 3)
            x -= mod.ones(2, 3, dtype=mod.float64)          # (torch casts into x's dtype)
            assert x.dtype == mod.float32 and (x == 0).all() and x._version == 1
            y = mod.ones(2, 3)
            y -= mod.ones(3)                                  # broadcast
            assert (y == 0).all() and y._version == 1


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_one_element_updates_in_double_bit_for_bit(dtype, monkeypatch):
    """lerp_/addcmul_/addcdiv_ of a one-element tensor (a (1,) bias, a 0-d scale) take the fast
    path too, computing as the decomposition does (lerp_ in double, rounded once; addcmul_ and
    addcdiv_ in the dtype, as torch's kernel): the same bits as the general path over many
    draws."""
    taken = []
    real = inplace._update_arrays

    def counting(*args, **kw):
        done = real(*args, **kw)
        taken.append(done is not None)
        return done
    rng = np.random.default_rng(5)
    for shape in ((), (1,)):
        for k in range(150):
            draw = [rng.standard_normal(shape) * 3 for _ in range(3)]
            draw[2] = np.abs(draw[2]) + 0.1
            number = float(rng.choice([rng.uniform(-2, 2), 0.1, 1 - 0.999, -1e-3, 1]))
            op = OPS[2 + k % 3]   # addcmul_, addcdiv_, lerp_
            results = []
            for fast in (True, False):
                monkeypatch.setattr(mathops, "_update_arrays",
                                    counting if fast else lambda *a, **kw: None)
                p, a, b = (tg.tensor(x, dtype=dtype) for x in draw)
                with tg.no_grad():
                    _apply(tg, op, p, a, b, number)
                monkeypatch.undo()
                results.append(p.numpy().copy())
            np.testing.assert_array_equal(results[0], results[1], err_msg=f"{op} {draw} {number}")
    assert taken and all(taken)


# ---- `p -= lr * p.grad` / `p += ...` under no_grad: __isub__/__iadd__ take _update_array ----
def _operator_cases(mod):
    """(name, fn) per case of `x -= y` / `x += y`: fn(mod) returns the changed tensor (or raises).
    The ones the operators' short path takes, and the neighbours it must leave to sub_/add_."""
    def make(shape=(3, 4), dtype="float32", rg=True, **kw):
        rng = np.random.default_rng(len(shape) + 7 * len(dtype))
        return mod.tensor(rng.standard_normal(shape), dtype=getattr(mod, dtype), requires_grad=rg,
                          **kw)

    def upd(x, y, sub=True, grad_mode=False):
        with mod.set_grad_enabled(grad_mode):
            if sub:
                x -= y
            else:
                x += y
        return x

    def view_case(sub):
        base = make((3, 4), rg=False)
        v = base[1:]
        upd(v, make((2, 4), rg=False), sub)
        return base, v

    def inference_case():
        with mod.inference_mode():
            x = make(rg=False)
        return upd(x, make(rg=False))

    def expanded_case():
        x = make((1, 4), rg=False).expand(3, 4)
        return upd(x, make(rg=False))

    def param_case(sub):
        p = mod.nn.Parameter(make(rg=False))
        return upd(p, 0.05 * make(rg=False), sub)

    cases = {}
    for sub in (True, False):
        k = "sub" if sub else "add"
        cases.update({
            f"{k} leaf": lambda sub=sub: upd(make(), 0.05 * make(rg=False), sub),
            f"{k} parameter": lambda sub=sub: param_case(sub),
            f"{k} float64": lambda sub=sub: upd(make(dtype="float64"), make(dtype="float64",
                                                                             rg=False), sub),
            f"{k} grad mode": lambda sub=sub: upd(make(), make(rg=False), sub, True),
            f"{k} grad mode no grad": lambda sub=sub: upd(make(rg=False), make(rg=False), sub,
                                                          True),
            f"{k} broadcast": lambda sub=sub: upd(make(), make((4,), rg=False), sub),
            f"{k} other dtype": lambda sub=sub: upd(make(), make(dtype="float64", rg=False), sub),
            f"{k} int": lambda sub=sub: upd(mod.arange(6).reshape(2, 3),
                                            mod.arange(6).reshape(2, 3), sub),
            f"{k} one element": lambda sub=sub: upd(make((1,)), make((1,), rg=False), sub),
            f"{k} 0-d": lambda sub=sub: upd(make(()), make((), rg=False), sub),
            f"{k} empty": lambda sub=sub: upd(make((0, 3)), make((0, 3), rg=False), sub),
            f"{k} number": lambda sub=sub: upd(make(), 0.5, sub),
            f"{k} other parameter": lambda sub=sub: upd(make(),
                                                        mod.nn.Parameter(make(rg=False)), sub),
            f"{k} view": lambda sub=sub: view_case(sub),
            f"{k} transposed": lambda sub=sub: upd(make(rg=False).t(), make((4, 3), rg=False),
                                                   sub),
            f"{k} detached": lambda sub=sub: upd(make().detach(), make(rg=False), sub),
        })
    cases["inference tensor outside"] = inference_case
    cases["expanded"] = expanded_case
    cases["recorded by sub"] = lambda: upd(make(), make(rg=True), True, True)
    return cases


def _picture(mod, r):
    if isinstance(r, tuple):
        return tuple(_picture(mod, x) for x in r)
    return (str(r.dtype).split(".")[-1], tuple(r.shape), r.detach().numpy().tobytes(),
            r._version, r.requires_grad, type(r.grad_fn).__name__ if r.grad_fn else None)


def _outcome(mod, fn):
    try:
        return _picture(mod, fn())
    except Exception as e:   # noqa: BLE001  (errors are compared too)
        return ("error", type(e).__name__, str(e).replace(mod.__name__, "LIB"))


def test_operator_updates_equal_the_general_path(monkeypatch):
    """`x -= y` / `x += y` with the operators' short path (_update_array from __isub__ /
    __iadd__, and its inline version count) and without it (every _update_array declined:
    sub_ / add_'s general path): the same bits, versions, grad_fn and errors, case by case."""
    fast = {name: _outcome(tg, fn) for name, fn in _operator_cases(tg).items()}
    monkeypatch.setattr(inplace, "_update_array", lambda *args, **kw: None)
    general = {name: _outcome(tg, fn) for name, fn in _operator_cases(tg).items()}
    assert fast == general


def test_operator_updates_match_torch(torch_ref):
    ours = {name: _outcome(tg, fn) for name, fn in _operator_cases(tg).items()}
    theirs = {name: _outcome(torch_ref, fn) for name, fn in _operator_cases(torch_ref).items()}
    for name in ours:
        a, b = ours[name], theirs[name]
        if a[0] == "error" or b[0] == "error":
            assert a[:2] == b[:2], name
        else:
            assert a == b, name


def test_operator_update_takes_the_short_path(monkeypatch):
    """`p -= lr * p.grad` under no_grad goes from __isub__ to _update_array (_update_scalar
    for a one-element tensor held as a float), not through sub_ (and `+=` not through add_)."""
    p = tg.ones(3, 2, requires_grad=True)
    monkeypatch.setattr(tg.Tensor, "sub_", lambda *a, **k: pytest.fail("sub_ called"))
    monkeypatch.setattr(tg.Tensor, "add_", lambda *a, **k: pytest.fail("add_ called"))
    q = tg.tensor(2.0, requires_grad=True)   # (a 0-d one, held as a float: _update_scalar)
    with tg.no_grad():
        p -= 0.5 * tg.ones(3, 2)
        p += tg.ones(3, 2)
        q -= 0.5 * tg.tensor(1.0)
        q += tg.tensor(1.0)
    assert p._version == 2 and (p == 1.5).all()
    assert q._version == 2 and q.item() == 2.5 and type(q._v) is float


@pytest.mark.parametrize("sub", [True, False])
@pytest.mark.parametrize("changed", ["constant", "input"])
def test_operator_update_inside_a_recorded_function_is_refused(sub, changed):
    """A constant the recorded function read, or its traced input, then changed by `-=` /
    `+=` under no_grad (not recorded): the short path leaves it to bump_version, which
    refuses it (the input at once), as sub_ / add_."""
    w = tg.ones(3)

    def f(x):
        y = (x * w).sum()
        with tg.no_grad():
            v = w if changed == "constant" else x
            if sub:
                v -= tg.ones(3) * 2
            else:
                v += tg.ones(3) * 2
        return y
    message = "changed in place by an operation the tape" if changed == "constant" else \
        "an in-place change of a traced tensor that the tape does not record"
    with pytest.raises(tg.TracingError, match=message):
        tg.record(f, tg.ones(3, requires_grad=True))


def test_plain_setitem_as_torch():
    # x[key] = value's common case (inplace._setitem_plain: float x without history, int and
    # slice keys, a number or a same-dtype tensor of the selection's shape) beside the forms
    # it leaves to the general path: torch's values, errors and version counts
    torch = pytest.importorskip("torch")
    base = np.arange(20, dtype=np.float32).reshape(4, 5) / 7

    def run(m, dtype):
        out = []
        forms = [(1, 2.0), ((slice(1, 3),), "rows"), ((slice(None), 2), "col"), ((-1, -2), 7),
                 (slice(None, None, 2), 0.5), ((0, slice(1, 4)), "short"), (10, 1.0),
                 ((0, 9), 1.0), (0, 3e39), (0, float("nan")), (0, "wide"), (0, 2 ** 60),
                 (slice(None), "self"), (Ellipsis, 1.5), ((1, None), 2.0)]
        for key, v in forms:
            x = m.tensor(base.copy(), dtype=getattr(m, dtype))
            value = {"rows": m.ones(2, 5, dtype=x.dtype) * 3,
                     "col": m.arange(4, dtype=x.dtype), "short": m.ones(3, dtype=x.dtype),
                     "wide": m.ones(6, dtype=x.dtype), "self": x}.get(v, v) \
                if isinstance(v, str) else v
            before = x._version
            try:
                x[key] = value
                out.append((x.tolist(), x._version - before))
            except (RuntimeError, IndexError, TypeError) as e:
                out.append((type(e).__name__, str(e), x.tolist(), x._version - before))
        return out
    for dtype in ("float32", "float64"):
        got, want = run(tg, dtype), run(torch, dtype)
        for g, w in zip(got, want):
            assert str(g) == str(w), (dtype, g, w)


def test_plain_setitem_counts_the_change_for_backward():
    # a value saved by a graph, then changed by x[i] = v: torch's version error at backward
    torch = pytest.importorskip("torch")
    msgs = []
    for m in (tg, torch):
        w = m.ones(3, requires_grad=True)
        a = m.arange(3.0)
        y = (w * a).sum()
        a[1] = 5.0
        with pytest.raises(RuntimeError) as info:
            y.backward()
        msgs.append(str(info.value).split("Hint")[0].replace("tapegrad.", "torch."))
    assert msgs[0] == msgs[1]


def test_fill_of_a_one_element_tensor_with_a_large_int_as_torch():
    # an int past 2**53 into a 0-d or (1,) float tensor: rounded once into its dtype, as
    # torch's int64 scalar is (through a double first it rounded twice: 2**60 for float32)
    torch = pytest.importorskip("torch")
    for v in (2 ** 60 + 2 ** 36 + 1, 2 ** 53 + 1, 2 ** 63 - 1, -(2 ** 62) - 2 ** 38 - 1):
        for dt in ("float32", "float64"):
            got, want = ([m.zeros(shape, dtype=getattr(m, dt)).fill_(v).item()
                          for shape in ((), (1,))] for m in (tg, torch))
            assert got == want, (v, dt, got, want)


# ---- the same updates under grad mode, nothing needing history: _update_array too -------------
def _grad_mode_cases(mod):
    """(name, fn) per in-place binary op under grad mode: the cases _update_array takes (a
    tensor and an operand that need no history) and the neighbours autograd's checks must
    still see (a leaf that requires grad, a view of one, an operand that requires grad, a
    saved tensor changed, an alias of a leaf, overlapping memory, an inference tensor)."""
    def make(shape=(3, 4), dtype="float32", rg=False, seed=0):
        rng = np.random.default_rng(seed + len(shape) + 7 * len(dtype))
        return mod.tensor(rng.standard_normal(shape) + 2, dtype=getattr(mod, dtype),
                          requires_grad=rg)

    def backward_of(x, w):
        x.sum().backward()
        return x, w.grad * 1   # (not the grad itself: torch counts its accumulation)

    def saved_then_changed(op):
        w, a = make(rg=True), make(seed=1)
        y = w * a                      # (a saved for w's gradient)
        op(a)
        y.sum().backward()             # (torch's error: a was modified by an inplace op)
        return w.grad

    def alias_changed():
        w = make(rg=True)
        y = w * w
        w.detach().mul_(2.0)
        y.sum().backward()
        return w.grad

    def view_sees(op):
        a = make()
        u = a[1]
        op(a)
        return a, u

    def inference_case():
        with mod.inference_mode():
            x = make()
        return x.add_(make(seed=1))

    ops = {"add_": lambda x, y: x.add_(y), "sub_": lambda x, y: x.sub_(y),
           "mul_": lambda x, y: x.mul_(y), "div_": lambda x, y: x.div_(y),
           "add_ alpha": lambda x, y: x.add_(y, alpha=-0.3),
           "sub_ alpha": lambda x, y: x.sub_(y, alpha=3),
           "iadd": lambda x, y: x.__iadd__(y), "isub": lambda x, y: x.__isub__(y),
           "imul": lambda x, y: x.__imul__(y), "idiv": lambda x, y: x.__itruediv__(y)}
    cases = {}
    for name, op in ops.items():
        cases.update({
            f"{name} tensor": lambda op=op: op(make(), make(seed=1)),
            f"{name} float64": lambda op=op: op(make(dtype="float64"),
                                                make(dtype="float64", seed=1)),
            f"{name} itself": lambda op=op: (lambda x: op(x, x))(make()),
            f"{name} leaf that requires grad": lambda op=op: op(make(rg=True), make(seed=1)),
            f"{name} view of one": lambda op=op: op(make(rg=True)[1], make((4,), seed=1)),
            f"{name} view": lambda op=op: view_sees(lambda a: op(a[0], make((4,), seed=1))),
            f"{name} a view sees it": lambda op=op: view_sees(lambda a: op(a, make(seed=1))),
            f"{name} operand requires grad": lambda op=op: (
                lambda w: backward_of(op(make(), w), w))(make(seed=1, rg=True)),
            f"{name} saved then changed": lambda op=op: saved_then_changed(
                lambda a: op(a, make(seed=2))),
            f"{name} overlapping": lambda op=op: (lambda x: op(x[1:], x[:-1]))(make((5,))),
            f"{name} other dtype": lambda op=op: op(make(), make(dtype="float64", seed=1)),
            f"{name} int": lambda op=op: op(mod.arange(6).reshape(2, 3),
                                            mod.ones(2, 3)),
            f"{name} detached": lambda op=op: (lambda w: (op(w.detach(), make(seed=1)), w))(
                make(rg=True)),
        })
        if "alpha" not in name:
            cases[f"{name} number"] = lambda op=op: op(make(), 0.75)
            cases[f"{name} int number"] = lambda op=op: op(make(), 3)
            cases[f"{name} huge number"] = lambda op=op: op(make(), 1e39)
    cases["add_ alpha past float32"] = lambda: make().add_(make(seed=1), alpha=1e39)
    cases["add_ alpha nan"] = lambda: make().add_(make(seed=1), alpha=math.nan)
    cases["sub_ alpha bool"] = lambda: make().sub_(make(seed=1), alpha=True)
    cases["alias changed"] = alias_changed
    cases["inference tensor outside"] = inference_case
    return cases


def test_grad_mode_updates_equal_the_general_path(monkeypatch):
    """add_/sub_/mul_/div_ and the operators under grad mode, with _update_array (which takes
    what needs no history) and without it: the same bits, versions, grad_fn and errors."""
    fast = {name: _outcome(tg, fn) for name, fn in _grad_mode_cases(tg).items()}
    monkeypatch.setattr(inplace, "_update_array", lambda *args, **kw: None)
    general = {name: _outcome(tg, fn) for name, fn in _grad_mode_cases(tg).items()}
    for name in fast:
        assert fast[name] == general[name], name


def _same_as_torch(ours, theirs):
    """Outcomes (_outcome's, by case name) alike: errors by type, results by dtype, shape,
    version, requires_grad and grad_fn, values to float32's rounding (torch's alpha and value
    products and div's gradient differ in the last bit from numpy's; exact between tapegrad's
    two paths: the tests comparing them)."""
    for name in ours:
        a, b = ours[name], theirs[name]
        if a[0] == "error" or b[0] == "error":
            assert a[:2] == b[:2], (name, a, b)
            continue
        a, b = (x if type(x[0]) is tuple else (x,) for x in (a, b))
        assert len(a) == len(b), name
        for x, y in zip(a, b):
            assert x[:2] + x[3:] == y[:2] + y[3:], (name, x, y)
            dt = np.float32 if x[0] == "float32" else np.float64 if x[0] == "float64" else None
            if dt is None:
                assert x[2] == y[2], name
            else:
                np.testing.assert_allclose(np.frombuffer(x[2], dt), np.frombuffer(y[2], dt),
                                           rtol=1e-6, err_msg=name)


def test_grad_mode_updates_match_torch(torch_ref):
    _same_as_torch({name: _outcome(tg, fn) for name, fn in _grad_mode_cases(tg).items()},
                   {name: _outcome(torch_ref, fn)
                    for name, fn in _grad_mode_cases(torch_ref).items()})


def test_grad_mode_update_takes_the_short_path(monkeypatch):
    """Under grad mode a tensor that needs no history, with a same-shape tensor or a number,
    is updated by _update_array (no _inplace, no _check_inplace)."""
    monkeypatch.setattr(tg.Tensor, "_inplace", lambda *a, **k: pytest.fail("_inplace called"))
    a, b = tg.ones(3, 2), tg.full((3, 2), 2.0)
    a.add_(b)
    a.sub_(b, alpha=0.5)
    a.mul_(b)
    a.div_(4.0)
    a += 1
    assert a._version == 5 and (a == 2.0).all()


def _grad_mode_write_cases(mod):
    """fill_, zero_, copy_, clamp_ and addcmul_ under grad mode: what their fast forms take (a
    tensor that needs no history) and the neighbours autograd's and the kernels' checks see."""
    def make(shape=(3, 4), dtype="float32", rg=False, seed=0):
        rng = np.random.default_rng(seed + len(shape) + 7 * len(dtype))
        return mod.tensor(rng.standard_normal(shape), dtype=getattr(mod, dtype),
                          requires_grad=rg)

    def saved_then_changed(op):
        w, a = make(rg=True), make(seed=1)
        y = w * a
        op(a)
        y.sum().backward()
        return w.grad

    def inference_case(op):
        with mod.inference_mode():
            x = make()
        return op(x)

    ops = {"fill_": lambda x: x.fill_(0.25), "fill_ int": lambda x: x.fill_(-3),
           "zero_": lambda x: x.zero_(), "copy_": lambda x: x.copy_(x * 0 + 0.5),
           "clamp_": lambda x: x.clamp_(-0.5, 0.5), "clamp_ 0": lambda x: x.clamp_(0, 1),
           "addcmul_": lambda x: x.addcmul_(x * 0 + 2, x * 0 + 3, value=0.5)}
    cases = {}
    for name, op in ops.items():
        cases.update({
            f"{name} plain": lambda op=op: op(make()),
            f"{name} float64": lambda op=op: op(make(dtype="float64")),
            f"{name} leaf that requires grad": lambda op=op: op(make(rg=True)),
            f"{name} view of one": lambda op=op: op(make(rg=True)[1]),
            f"{name} view": lambda op=op: (lambda a: (op(a[1:]), a))(make()),
            f"{name} saved then changed": lambda op=op: saved_then_changed(op),
            f"{name} detached": lambda op=op: (lambda w: (op(w.detach()), w))(make(rg=True)),
            f"{name} inference tensor outside": lambda op=op: inference_case(op),
            f"{name} expanded": lambda op=op: op(make((1, 4)).expand(3, 4)),
            f"{name} int": lambda op=op: op(mod.arange(6).reshape(2, 3)),
        })
    w = lambda: make(rg=True, seed=3)   # noqa: E731
    cases.update({
        "fill_ past float32": lambda: make().fill_(1e39),
        "fill_ nan": lambda: make().fill_(math.nan),
        "fill_ huge int": lambda: make().fill_(2**70),
        "fill_ bool": lambda: make().fill_(True),
        "clamp_ signed zeros": lambda: mod.tensor([-0.0, 0.0, -1.0, 2.0, math.nan, -0.0] * 4
                                                  ).clamp_(0, 1),
        "clamp_max_ signed zeros": lambda: mod.tensor([-0.0, 0.0, 1.0, -2.0] * 5).clamp_max_(0),
        "clamp_ int bounds past float32's integers": lambda: (make() * 2**25).clamp_(
            -16777217, 16777219),
        "copy_ itself": lambda: (lambda x: x.copy_(x))(make()),
        "copy_ overlapping": lambda: (lambda x: x[1:].copy_(x[:-1]))(make((5,))),
        "copy_ other dtype": lambda: make().copy_(make(dtype="float64")),
        "copy_ broadcast": lambda: make().copy_(make((4,))),
        "copy_ from one that requires grad": lambda: (lambda v: (lambda x: (
            x.sum().backward(), x, v.grad * 1)[1:])(make().copy_(v)))(w()),
        "addcmul_ operand requires grad": lambda: (lambda v: (lambda x: (
            x.sum().backward(), x, v.grad * 1)[1:])(make().addcmul_(v, make(seed=2))))(w()),
    })
    return cases


def test_grad_mode_writes_equal_the_general_path(monkeypatch):
    fast = {name: _outcome(tg, fn) for name, fn in _grad_mode_write_cases(tg).items()}
    monkeypatch.setattr(inplace, "_update_arrays", lambda *args, **kw: None)
    monkeypatch.setattr(mathops, "_update_arrays", lambda *args, **kw: None)
    monkeypatch.setattr(inplace, "_no_history", lambda t: False)
    general = {name: _outcome(tg, fn) for name, fn in _grad_mode_write_cases(tg).items()}
    for name in fast:
        assert fast[name] == general[name], name


def test_grad_mode_writes_match_torch(torch_ref):
    _same_as_torch({name: _outcome(tg, fn) for name, fn in _grad_mode_write_cases(tg).items()},
                   {name: _outcome(torch_ref, fn)
                    for name, fn in _grad_mode_write_cases(torch_ref).items()})


def test_grad_mode_update_ignores_a_dead_tensors_entry(monkeypatch):
    """views._WITHOUT_GRAD keys by id: an entry of a dead tensor whose id a new one reuses
    is not the new one's (views.made_without_grad), so the short path is still taken."""
    import weakref
    from tapegrad import views

    class Dead:
        pass
    a, b = tg.ones(3, 2), tg.full((3, 2), 2.0)
    gone = Dead()
    monkeypatch.setitem(views._WITHOUT_GRAD, id(a), (weakref.ref(gone),))
    del gone
    monkeypatch.setattr(tg.Tensor, "_inplace", lambda *a, **k: pytest.fail("_inplace called"))
    a.add_(b)
    a.zero_()
    assert a._version == 2 and (a == 0).all()


def _one_element_zero_cases(mod):
    """zero_ of one-element float tensors (held as a Python float by tapegrad): a fresh
    .grad, zero_grad(set_to_none=False) of 0-d parameters, the leaves and results autograd
    refuses or records, signed zeros, nan, inference tensors, counts made before."""
    def leaf(v=0.5, dtype="float32", rg=True):
        return mod.tensor(v, dtype=getattr(mod, dtype), requires_grad=rg)

    def fresh_grad(dtype):
        p = leaf(dtype=dtype)
        (p * 3).backward()
        return p.grad.zero_(), p.grad

    def zero_grad_kept():
        ps = [leaf(v) for v in (0.25, -1.5, 3.0)]
        opt = mod.optim.SGD(ps, lr=0.1)
        # (each parameter read once: torch's engine sums two reads' gradients in place, a
        # .grad at version 1, where tapegrad's is at 0)
        sum(p * (i + 2.0) for i, p in enumerate(ps)).backward()
        opt.zero_grad(set_to_none=False)
        return tuple(p.grad for p in ps)

    def saved_then_changed():
        w, a = leaf(), leaf(2.0, rg=False)
        y = w * a
        a.zero_()
        y.backward()
        return w.grad

    def inference(inside):
        with mod.inference_mode():
            x = leaf(rg=False)
            if inside:
                return x.zero_()
        return x.zero_()

    def counted(x):
        x.add_(1.0)
        x.mul_(2.0)
        return x.zero_()

    def no_grad(x):
        with mod.no_grad():
            return x.zero_()

    return {
        "plain": lambda: leaf(rg=False).zero_(),
        "float64": lambda: leaf(dtype="float64", rg=False).zero_(),
        "shape (1,)": lambda: mod.tensor([2.5]).zero_(),
        "shape (1, 1)": lambda: mod.tensor([[2.5]], dtype=mod.float64).zero_(),
        "negative zero": lambda: leaf(-0.0, rg=False).zero_(),
        "nan": lambda: leaf(math.nan, rg=False).zero_(),
        "inf": lambda: leaf(math.inf, rg=False).zero_(),
        "fresh grad": lambda: fresh_grad("float32"),
        "fresh grad float64": lambda: fresh_grad("float64"),
        "zero_grad(set_to_none=False)": zero_grad_kept,
        "leaf that requires grad": lambda: leaf().zero_(),
        "leaf that requires grad, no_grad": lambda: no_grad(leaf()),
        "result": lambda: (leaf() * 2).zero_(),
        "result, no_grad": lambda: no_grad(leaf() * 2),
        "saved then changed": saved_then_changed,
        "inference tensor inside": lambda: inference(True),
        "inference tensor outside": lambda: inference(False),
        "counted before": lambda: counted(leaf(rg=False)),
        "detached": lambda: (lambda w: (w.detach().zero_(), w))(leaf()),
    }


def test_one_element_zero_matches_torch(torch_ref):
    """zero_ of a tensor held as a float (its short path, inplace's zero_) gives torch's
    values (+0.0 bits), versions, grad_fn and errors."""
    ours = {name: _outcome(tg, fn) for name, fn in _one_element_zero_cases(tg).items()}
    theirs = {name: _outcome(torch_ref, fn)
              for name, fn in _one_element_zero_cases(torch_ref).items()}
    for name in ours:
        a, b = ours[name], theirs[name]
        if a[0] == "error" or b[0] == "error":
            assert a[:2] == b[:2], (name, a, b)
        else:
            assert a == b, name


def test_one_element_zero_takes_the_short_path(monkeypatch):
    """`p.grad.zero_()` of a 0-d parameter and zero_grad(set_to_none=False) over 0-d
    parameters: no _inplace (its arrays and broadcast checks cost ~6 us a call), the value
    still held as a float."""
    ps = [tg.tensor(v, requires_grad=True) for v in (0.5, -2.0)]
    sum(p * 3.0 for p in ps).backward()
    opt = tg.optim.SGD(ps, lr=0.1)
    monkeypatch.setattr(tg.Tensor, "_inplace", lambda *a, **k: pytest.fail("_inplace called"))
    ps[0].grad.zero_()
    opt.zero_grad(set_to_none=False)
    with tg.no_grad():
        ps[1].zero_()
    assert [type(p.grad._v) for p in ps] == [float, float]
    assert [p.grad.item() for p in ps] == [0.0, 0.0]
    assert [p.grad._version for p in ps] == [2, 1] and ps[1]._version == 1


def test_copy_and_fill_take_no_floating_point_state(monkeypatch):
    """copy_ and fill_ without history write by numpy's assignment in _update_arrays: no
    arithmetic, so no errstate entered (~0.4 us of a ~2 us call), and _no_history's test made
    inline; the values and version counts stay the general path's (the tests above)."""
    a, c = tg.zeros(4, 3), tg.arange(12.0).reshape(4, 3)
    w = tg.zeros(2, 2, dtype=tg.float64, requires_grad=True)
    one = tg.zeros(1)
    monkeypatch.setattr(inplace, "ERR_SET", lambda *a: pytest.fail("errstate entered"))
    monkeypatch.setattr(inplace, "_no_history", lambda t: pytest.fail("_no_history called"))
    a.copy_(c)
    a.fill_(0.5)
    a.fill_(-2)
    one.fill_(3)
    with tg.no_grad():
        w.fill_(1.5)
        w.copy_(tg.full((2, 2), 0.25, dtype=tg.float64))
    assert a._version == 3 and (a == -2).all() and a.dtype is tg.float32
    assert one._version == 1 and one.item() == 3.0 and type(one._v) is float
    assert w._version == 2 and (w == 0.25).all() and w.requires_grad


UFUNC_UNARY = ("sqrt_", "exp_", "log_", "sin_", "cos_", "tanh_", "abs_", "neg_")


@pytest.mark.parametrize("grad_mode", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_in_place_of_a_ufunc_writes_into_self(dtype, grad_mode, torch_ref):
    """Counting calls, not time: x.sqrt_() (exp_, abs_, ...) of a float tensor without
    history writes the method's ufunc into x's memory, making no result tensor (no op_sqrt
    call) and copying none (no _update_arrays); values and versions as torch's."""
    import sys
    arr = np.abs(np.random.default_rng(5).standard_normal((4, 6))) + 0.25
    for name in UFUNC_UNARY:
        x = tg.tensor(arr, dtype=getattr(tg, dtype))
        mem = x.numpy()
        seen = []

        def prof(frame, event, _):
            if event == "call":
                seen.append(frame.f_code.co_name)
        with tg.set_grad_enabled(grad_mode):
            sys.setprofile(prof)
            try:
                r = getattr(x, name)()
            finally:
                sys.setprofile(None)
        assert r is x and x.numpy() is not None
        assert not {"op_" + name[:-1], "_update_arrays"} & set(seen), (name, seen)
        want = torch_ref.tensor(arr, dtype=getattr(torch_ref, dtype))
        getattr(want, name)()
        assert x._version == want._version == 1
        np.testing.assert_allclose(mem, want.numpy(), rtol=2e-7 if dtype == "float32" else 1e-15,
                                   err_msg=name)   # (written into the same memory)


@pytest.mark.parametrize("op", ["addcmul_", "addcdiv_", "lerp_"])
@pytest.mark.parametrize("grad_mode", [False, True])
def test_updates_write_their_value_into_self(op, grad_mode, monkeypatch):
    """Counting calls, not time: addcmul_/addcdiv_/lerp_ of tensors without history hand
    their formula self's array as `out` (no value array made and copied)."""
    from tapegrad import decomps_math as DM
    fname = {"addcmul_": "addcmul_fused", "addcdiv_": "addcdiv_arrays",
             "lerp_": "lerp_number"}[op]
    real, outs = getattr(DM, fname), []

    def watching(*args):
        outs.append(args[4] if op != "lerp_" and len(args) > 4 else
                    args[3] if op == "lerp_" and len(args) > 3 else None)
        return real(*args)
    monkeypatch.setattr(DM, fname, watching)
    p, a, b = _operands(tg, tg.float32, (3, 5), 2)
    mem = p._v
    with tg.set_grad_enabled(grad_mode):
        _apply(tg, op, p, a, b, 0.3)
    assert len(outs) == 1 and outs[0] is mem and p._v is mem and p._version == 1


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_int_alpha_takes_the_one_call_fma(dtype, monkeypatch):
    """add_/sub_ with an int alpha (`p.sub_(g, alpha=2)`) take fma_into's one Numba call as a
    float alpha does (the int is exact as a float: the same one rounding to the dtype), with
    the bits of the numpy fma it took before."""
    from tapegrad import exact
    exact.kernels()   # (fma_into's condition: the kernels loaded)

    def run(op, alpha, one_call):
        p, a, _ = _operands(tg, dtype, (4, 6), 3)
        if one_call:
            monkeypatch.setattr(inplace, "fma", lambda *a: pytest.fail("fma called"))
        else:
            monkeypatch.setattr(inplace, "fma_into", lambda *a: False)
        getattr(p, op)(a, alpha=alpha)
        monkeypatch.undo()
        return p.numpy().copy(), p._version
    for op, alpha in itertools.product(("add_", "sub_"), (2, -3, 7, 2**40 + 1)):
        fast, general = run(op, alpha, True), run(op, alpha, False)
        assert fast[1] == general[1] == 1
        np.testing.assert_array_equal(fast[0], general[0], err_msg=f"{op} {alpha}")
