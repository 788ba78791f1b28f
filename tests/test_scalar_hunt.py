"""Scalar-heavy user code against torch, and its record/replay against eager tapegrad: what a
differential hunt over 0-d tensors, Python numbers on either side of an operator and recorded
functions of them found wrong (each test failed before its fix)."""
import numpy as np
import pytest

import tapegrad as tg


def test_number_remainder_tensor_has_no_derivative():
    """`3 % y` (remainder(Number, Tensor)): torch has no derivative for it, so a y that requires
    grad gets torch's NotImplemented node, whose backward raises; the values are the
    remainder's."""
    y = tg.tensor([1.5, 2.0], requires_grad=True)
    for r in (3 % y, tg.remainder(3, y), 3 % y[0]):
        assert r.grad_fn.name() == "torch::autograd::NotImplemented"
        assert r.requires_grad
        with pytest.raises(RuntimeError, match="^derivative for aten::remainder is not "
                                               "implemented$"):
            r.sum().backward()
    assert (3 % y).tolist() == [0.0, 1.0]
    assert (3 % y.detach()).grad_fn is None
    with tg.no_grad():
        assert (3 % y).grad_fn is None
    # (tensor % tensor and tensor % number keep their derivatives, as torch's)
    assert (tg.tensor(3.0) % y).grad_fn.name() == "RemainderBackward1"
    assert (y % 3).grad_fn.name() == "RemainderBackward0"


def test_number_remainder_tensor_as_torch():
    torch = pytest.importorskip("torch")
    for m_number in (3, -2.5, True, 0.0):
        got, want = [], []
        for m, out in ((tg, got), (torch, want)):
            y = m.tensor([1.5, -2.0, 0.0], requires_grad=True)
            r = m_number % y
            out.append((r.grad_fn.name(), [f.name() for f, _ in r.grad_fn.next_functions],
                        str(r.dtype).split(".")[-1]))
            np.testing.assert_array_equal(r.detach().numpy(), (m_number % y.detach()).numpy())
            out.append(r.detach().numpy().tolist())
        assert str(got) == str(want), (m_number, got, want)



def test_bool_number_to_the_power_of_a_bool_tensor_raises_as_torch():
    """`True ** t` of a bool t is pow(Scalar, Tensor) with a bool result, which torch's kernel
    does not have; `t ** True` (pow(Tensor, Scalar)) and `2 ** t` are torch's values."""
    for t in (tg.tensor(True), tg.tensor([True, False])):
        for base in (True, False):
            with pytest.raises(NotImplementedError, match="\"pow\" not implemented for 'Bool'"):
                base ** t
            with pytest.raises(NotImplementedError, match="\"pow\" not implemented for 'Bool'"):
                tg.pow(base, t)
    assert (tg.tensor(True) ** True).item() is True
    r = 2 ** tg.tensor([True, False])
    assert r.dtype is tg.int64 and r.tolist() == [2, 1]
    assert (1.5 ** tg.tensor(True)).item() == 1.5

# ---- record/replay -----------------------------------------------------------------------------
def test_replay_numbers_in_give_numpy_scalars_out():
    """value_and_grad/grad/hvp of numbers give numpy scalars on every path: with argnums, and
    on a tape whose inside is n-d (not only the one-element fast path)."""
    def f(x, y):
        return x * y * y
    def g(x, y):
        return (x * tg.ones(3, dtype=x.dtype) * y).sum()
    for fn in (f, g):
        tape = tg.record(fn, tg.tensor(1.0, dtype=tg.float64), tg.tensor(2.0, dtype=tg.float64))
        want = fn(tg.tensor(1.5, dtype=tg.float64), tg.tensor(2.0, dtype=tg.float64)).item()
        for value, grads in (tape.value_and_grad(1.5, 2.0),
                             tape.value_and_grad(1.5, 2.0, argnums=(0, 1)),
                             tape.value_and_grad(np.float64(1.5), 2, argnums=[0, 1])):
            assert type(value) is np.float64 and value == want
            assert all(type(d) is np.float64 for d in grads)
        assert type(tape.grad(1.5, 2.0, argnums=1)) is np.float64
        value, hv = tape.hvp((1.5, 2.0), (1.0, 0.0))
        assert type(value) is np.float64 and all(type(h) is np.float64 for h in hv)
        # (arrays in: arrays out; forward and jacobian give arrays, as documented)
        value, grads = tape.value_and_grad(np.array(1.5), np.array(2.0), argnums=0)
        assert type(value) is np.ndarray and type(grads) is np.ndarray
        assert type(tape.forward(1.5, 2.0)) is np.ndarray


def test_replay_rounds_a_float32_input_of_a_float64_tape():
    """A tape of a float32 and a float64 input is a float64 tape; a number or a float64 batch
    for the float32 input is that input's value rounded to float32, as the eager tensor holds
    it, on every path (the fast path, argnums, batches, the flat layout, jacobians)."""
    def f(x, y):
        return x * y + y.exp() * x      # (no float32 op inside: docs/replay.md, Limits)
    tape = tg.record(f, tg.tensor(1.0), tg.tensor(2.0, dtype=tg.float64))
    x = tg.tensor(1.1, requires_grad=True)
    y = tg.tensor(2.3, dtype=tg.float64, requires_grad=True)
    out = f(x, y)
    gx, gy = tg.autograd.grad(out, (x, y))
    want = (out.item(), gx.item(), gy.item())
    for value, (dx, dy) in (tape.value_and_grad(1.1, 2.3),
                            tape.value_and_grad(1.1, 2.3, argnums=(0, 1)),
                            tape.value_and_grad(tg.tensor(1.1),
                                                tg.tensor(2.3, dtype=tg.float64))):
        assert (float(value), float(dx), float(dy)) == want
        assert np.asarray(dx).dtype == np.float32
    values, (dxs, dys) = tape.value_and_grad_batch(np.array([1.1, 1.1]), np.array([2.3, 2.3]))
    assert values.tolist() == [want[0]] * 2 and dys.tolist() == [want[2]] * 2
    values, G = tape.value_and_grad_flat(np.array([[1.1, 2.3]]))
    assert values.tolist() == [want[0]] and G[0, 1] == want[2]
    jx, jy = tape.jacobian_batch(np.array([1.1]), np.array([2.3]))
    assert jy.tolist() == [want[2]]
    assert float(tape.forward(1.1, 2.3)) == want[0]


def test_hvp_of_a_tape_with_a_one_element_operand_of_rank():
    """hvp re-runs the tape with tensor ops (run_eager): a one-element operand is 0-d to the
    tape, so `a.reshape(1, 1) * b` (b of shape (3,)) gave (3,) there where the recorded node
    is (1, 3), and the reduction after it failed; the Hessian-vector product is f's."""
    def f(a, b):
        return (tg.outer(a.reshape(-1), b) ** 2).sum(0).sum() + (a.reshape(1, 1) * b).sum(1).sum()
    a0, b0 = np.float64(2.0), np.array([1.0, -2.0, 3.0])
    tape = tg.record(f, tg.tensor(1.0, dtype=tg.float64), tg.ones(3, dtype=tg.float64))
    va, vb = np.float64(0.5), np.array([1.0, 0.0, -1.0])
    value, (ha, hb) = tape.hvp((a0, b0), (va, vb))
    a = tg.tensor(a0, requires_grad=True)
    b = tg.tensor(b0, requires_grad=True)
    ga, gb = tg.autograd.grad(f(a, b), (a, b), create_graph=True)
    wa, wb = tg.autograd.grad((ga * float(va)).sum() + (gb * tg.tensor(vb)).sum(), (a, b))
    assert value == f(a, b).item()
    np.testing.assert_allclose(ha, wa.numpy(), rtol=1e-12)
    np.testing.assert_allclose(hb, wb.numpy(), rtol=1e-12)


HVP_AT_KINKS = {
    "relu": lambda x: (x.relu() * x).sum(),
    "hardtanh": lambda x: (tg.nn.functional.hardtanh(x) * x).sum(),
    "prelu": lambda x: tg.nn.functional.prelu(x, tg.tensor([0.25], dtype=x.dtype)).pow(2).sum(),
    "maximum": lambda x: (tg.maximum(x, x.flip(0)) ** 2).sum(),
    "softplus": lambda x: (tg.nn.functional.softplus(x, beta=2.0, threshold=1.0) ** 2).sum(),
    "std": lambda x: x.std() * 3 + (x * x).sum(),
    "xlogy": lambda x: tg.xlogy(x, x * x + 1).sum() ** 2,
}


@pytest.mark.parametrize("name", sorted(HVP_AT_KINKS))
def test_hvp_is_the_eager_second_derivative_at_kinks(name):
    """Recorded.hvp differentiates a re-run of the tape: each entry must be re-run as its own
    op, whose gradient is the op table's.  Re-run from the forward formulas it took their
    derivatives instead, which differ where the op table chooses (relu, hardtanh and prelu at
    their kinks, maximum at ties, softplus at its threshold, std of equal elements: nan), and
    hvp silently differed from the eager second derivative there."""
    f = HVP_AT_KINKS[name]
    tape = tg.record(f, tg.tensor([-0.3, 0.7, 2.0], dtype=tg.float64))
    v = np.array([1.0, -2.0, 0.5])
    for p in ([0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, -1.0, 0.0], [0.5, -0.5, 1.0]):
        p = np.array(p)
        x = tg.tensor(p, requires_grad=True)
        g, = tg.autograd.grad(f(x), x, create_graph=True)
        want, = tg.autograd.grad((g * tg.tensor(v)).sum(), x, allow_unused=True,
                                 materialize_grads=True)
        try:
            _, got = tape.hvp(p, v)
        except tg.BranchChanged:
            continue
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-12, equal_nan=True,
                                   err_msg=str(p))


def test_clamp_of_a_tensor_and_a_number_bound_as_torch():
    """A tensor and a number bound: torch's parser reads a 0-d tensor that needs no grad as
    a Number (clamp's number overload: ClampBackward1, one edge), and takes no overload for
    one that needs grad or has dims (TypeError); tapegrad recorded ClampBackward0 and
    accepted every such call, with a gradient for the tensor bound torch never gives."""
    x = tg.tensor([1.5, -1.0, 0.3], requires_grad=True)
    for r in (tg.clamp(x, tg.tensor(0.0), 0.5), x.clamp(0.0, tg.tensor(0.5)),
              x.clip(tg.tensor(0), 0.5)):
        assert r.grad_fn.name() == "ClampBackward1" and len(r.grad_fn.next_functions) == 1
        assert r.tolist() == [0.5, 0.0, 0.30000001192092896]
    r = x.clone().clamp_(tg.tensor(0.0), 0.5)
    assert [f.name() for f, _ in r.grad_fn.next_functions] == ["CloneBackward0"]
    lo = tg.tensor(0.0, requires_grad=True)
    for call in (lambda: tg.clamp(x, lo, 0.5), lambda: x.clamp(lo, 0.5),
                 lambda: tg.clamp(x, 0.0, tg.tensor([0.5, 0.5, 0.5]))):
        with pytest.raises(TypeError, match="^clamp\\(\\) received an invalid combination"):
            call()
    with pytest.raises(TypeError, match="^clamp_\\(\\) received an invalid combination"):
        x.clone().clamp_(lo, 0.5)
    # (two tensor bounds, or one with None: the tensor overload, ClampBackward0, as torch's)
    assert tg.clamp(x, lo, tg.tensor(0.5)).grad_fn.name() == "ClampBackward0"
    assert tg.clamp(x, tg.tensor(0.0), None).grad_fn.name() == "ClampBackward0"


def test_clamp_of_a_tensor_and_a_number_bound_against_torch():
    torch = pytest.importorskip("torch")
    calls = [lambda m, x, lo: m.clamp(x, m.tensor(0.0), 0.5),
             lambda m, x, lo: x.clamp(0.0, m.tensor(0.5)),
             lambda m, x, lo: m.clamp(x, lo, 0.5), lambda m, x, lo: x.clamp(lo, 1),
             lambda m, x, lo: m.clamp(x, m.tensor([0.0, 0.0, 0.0]), 0.5),
             lambda m, x, lo: x.clone().clamp_(m.tensor(0.0), 0.5),
             lambda m, x, lo: x.clone().clamp_(lo, 0.5)]
    for call in calls:
        out = []
        for m in (tg, torch):
            x = m.tensor([1.5, -1.0, 0.3], requires_grad=True)
            lo = m.tensor(0.0, requires_grad=True)
            try:
                r = call(m, x, lo)
            except TypeError as e:
                out.append(("TypeError", str(e).split(" - ")[0]))
                continue
            g = m.autograd.grad(r.sum(), (x, lo), allow_unused=True)
            out.append((r.grad_fn.name(), r.tolist(), [None if t is None else t.tolist()
                                                       for t in g]))
        assert out[0] == out[1]


def test_record_of_a_function_returning_no_tensor_says_so():
    """A function returning a number, None or a dict: record's own TypeError, not the one of
    iterating it ("'float' object is not iterable", or a dict's keys: "got str")."""
    x = tg.tensor(1.0, dtype=tg.float64)
    for fn, name in ((lambda x: 3.0, "float"), (lambda x: None, "NoneType"),
                     (lambda x: {"loss": x * 2}, "dict"), (lambda x: (x * 2).item(), "float")):
        with pytest.raises(TypeError, match=f"^record: fn must return a tensor or a tuple of "
                                            f"tensors, got {name}$"):
            tg.record(fn, x)
    with pytest.raises(TypeError, match="fn must return tensors, got float"):
        tg.record(lambda x: (x * 2, 3.0), x)
    assert tg.record(lambda x: [x * 2, x * 3], x).forward(2.0) == (4.0, 6.0)


def test_float32_grad_accumulates_in_float32():
    """A float32 0-d leaf's .grad summed over several backward calls: each sum rounded to
    float32, as torch's in-place add.  The sum was held in double: x.grad differed from its
    own item() (x.grad - tensor(x.grad.item()) was not 0) and drifted from torch's."""
    x = tg.tensor(1.3, requires_grad=True)
    c = tg.tensor(0.1)
    want = np.float32(0.0)
    g = np.float32(np.float32(0.1) * np.float32(1.7))
    for _ in range(10):
        (x * c * 1.7).backward()
        want = np.float32(want + g)
        assert x.grad.item() == float(want)
        assert (x.grad - tg.tensor(x.grad.item())).item() == 0.0
    y = tg.tensor(1.0, requires_grad=True)     # (past float32's range: inf, as torch's)
    (y * 3e38).backward()
    (y * 3e38).backward()
    assert y.grad.item() == float("inf")


def test_float32_grad_accumulation_against_torch():
    torch = pytest.importorskip("torch")
    out = []
    for m in (tg, torch):
        x = m.tensor(1.3, requires_grad=True)
        y = m.tensor(0.7, requires_grad=True)
        c = m.tensor(0.1)
        seen = []
        for _ in range(10):     # (one product per gradient: the same float32 bits per call)
            (x * c * 1.7).backward()
            (y * m.tensor(0.3) * 3).backward()
            seen.append((x.grad.item(), y.grad.item()))
        out.append(seen)
    assert out[0] == out[1]


def test_erfinv_result_changed_in_place_keeps_its_backward():
    """torch's ErfinvBackward0 saves self and recomputes erfinv: changing the result in place
    does not invalidate the backward.  tapegrad's row saved the result, so backward raised
    "modified by an inplace operation" where torch computes the gradient."""
    for shape in ((), (2,)):
        x = tg.full(shape, 0.3, dtype=tg.float64, requires_grad=True)
        y = x.erfinv()
        assert [n for n in dir(y.grad_fn) if n.startswith("_saved")] == ["_saved_self"]
        with tg.no_grad():
            y.add_(1.0)
        y.sum().backward()
        want = 0.886226925452758 * np.exp((x.detach().erfinv() ** 2).numpy())
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-14)
    x = tg.tensor(-0.6, dtype=tg.float64, requires_grad=True)
    g, = tg.autograd.grad(x.erfinv(), x, create_graph=True)
    h, = tg.autograd.grad(g, x)     # d/dx of exp(erfinv(x)^2) * sqrt(pi) / 2
    assert h.item() == pytest.approx(2 * x.erfinv().item() * g.item() ** 2, rel=1e-12)
