"""addcmul / addcdiv gradients and lerp values and gradients, bit for bit against torch.

torch's AddcmulBackward0 / AddcdivBackward0 compute grad * (tensor2 * value),
grad * (tensor1 * value); grad * (value / tensor2), -grad * ((value * tensor1) /
(tensor2 * tensor2)) (derivatives.yaml), each step rounded to the dtype: their eager term is
one entry of the addc kind (tapegrad/kinds/addc.py).  torch's lerp kernel is fma(w, end - x,
x) where |w| < 0.5, else fma(w - 1, end - x, end), in its vectorized body and scalar tail
alike; its gradients grad * (1 - w) and grad * w with the number weight rounded to the dtype.
Differential over random shapes (below and above the 8- and 16-lane vector widths), values,
dtypes and weights, eager and create_graph."""
import numpy as np
import pytest

import tapegrad as tg

SHAPES = [(2,), (3,), (7,), (8,), (9,), (15,), (16,), (17,), (31,), (33,), (4, 5), (16, 16),
          (3, 1, 7)]
VALUES = [1, 0.3, -2.7, 1e-3, 7]
WEIGHTS = [0.3, 0.7, -0.2, 0.5, 0.49999997, 1.3, 0.0, 1.0]


def _draw(rng, shape, dtype, k=1):
    """Operands whose exponents spread over a few binades (so the orders of the roundings
    differ in a good share of the elements)."""
    n = int(np.prod(shape))
    out = [np.asarray((rng.standard_normal(n) * 2.0 ** rng.integers(-3, 3, n)).reshape(shape),
                      dtype) for _ in range(k)]
    return out if k > 1 else out[0]


def _same_bits(a, b):
    """Bit for bit, but a zero's sign: the sweep adds each gradient to a zeroed adjoint,
    0.0 + -0.0 = 0.0, where torch hands out g * 0 = -0.0 (w = 1.0, value 0)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    a, b = np.where(a == 0, 0, a).astype(a.dtype), np.where(b == 0, 0, b).astype(b.dtype)
    return np.array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))


def _grads(m, op, arrays, kw, g, create_graph=False):
    ts = [m.tensor(a, requires_grad=True) for a in arrays]
    y = getattr(m, op)(*ts, **kw)
    gs = m.autograd.grad(y, ts, m.tensor(g), create_graph=create_graph)
    return [y.detach().numpy()] + [t.detach().numpy() for t in gs]


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_addc_gradients_bit_for_bit(op, dtype, torch_ref):
    rng = np.random.default_rng(sum(map(ord, op + dtype)))
    failed = []
    for shape in SHAPES:
        for value in VALUES:
            x, t1, t2 = _draw(rng, shape, dtype, 3)
            g = _draw(rng, shape, dtype)
            if op == "addcdiv":
                t2 = np.where(np.abs(t2) < 0.05, 0.5, t2).astype(dtype)
            args = ([x, t1, t2], {"value": value}, g)
            theirs = _grads(torch_ref, op, *args)
            for cg in (False, True):
                ours = _grads(tg, op, *args, create_graph=cg)
                failed += [(shape, value, cg, i) for i, (u, v) in enumerate(zip(ours, theirs))
                           if not _same_bits(u, v)]
    assert not failed, (len(failed), failed[:10])


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
def test_addc_one_tensor_twice_and_constants(op, torch_ref):
    """x.addcmul(y, y) (one tensor as both factors: its two gradients summed), a constant
    factor, and a constant self.  (float64: the sweep sums a float32 tensor's two gradients
    in double, torch in float32 -- addcdiv's, g * (v / y) - g * ((y * v) / (y * y)), cancel.)"""
    rng = np.random.default_rng(11)
    x, y, z = _draw(rng, (5, 6), "float64", 3)
    g = _draw(rng, (5, 6), "float64")
    res = []
    for m in (tg, torch_ref):
        tx, ty, tz = (m.tensor(a, requires_grad=True) for a in (x, y, z))
        cz = m.tensor(z)
        out = [getattr(tx, op)(ty, ty, value=0.3), getattr(m.tensor(x), op)(ty, cz, value=-1.5),
               getattr(tx, op)(cz, tz, value=3)]
        grads = [m.autograd.grad(o, ins, m.tensor(g))
                 for o, ins in zip(out, ([tx, ty], [ty], [tx, tz]))]
        res.append([o.detach().numpy() for o in out] +
                   [gi.numpy() for gs in grads for gi in gs])
    assert len(res[0]) == len(res[1])
    for i, (u, v) in enumerate(zip(*res)):
        assert _same_bits(u, v), i


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
def test_addc_second_derivatives_as_torch(op, torch_ref):
    rng = np.random.default_rng(12)
    arrays = _draw(rng, (3, 4), "float64", 3)
    arrays[2] = arrays[2] + 3.0
    res = []
    for m in (tg, torch_ref):
        ts = [m.tensor(a, requires_grad=True) for a in arrays]
        y = getattr(m, op)(*ts, value=0.7)
        gs = m.autograd.grad((y * y).sum(), ts, create_graph=True)
        hs = m.autograd.grad(sum((gi * gi).sum() for gi in gs), ts)
        res.append([t.detach().numpy() for t in gs + hs])
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v, rtol=1e-13)


def test_addc_entry_and_its_faces():
    """The eager term is one entry of the addc kind in the row's group (grad_fn and saved
    fields torch's); its kernel pieces on a small arena and its tensor VJP give the eager
    gradients."""
    from tapegrad.kinds import addc
    from tapegrad.views import KIND_OPS
    rng = np.random.default_rng(13)
    for div in (0, 1):
        for dtype in ("float32", "float64"):
            x, a, b = _draw(rng, (4, 5), dtype, 3)
            g = _draw(rng, (4, 5), dtype)
            tx, ta, tb = (tg.tensor(v, requires_grad=True) for v in (x, a, b))
            y = (tx.addcdiv if div else tx.addcmul)(ta, tb, value=0.3)
            assert type(y.grad_fn).__name__ == ("AddcdivBackward0" if div else
                                                "AddcmulBackward0")
            assert y.grad_fn._saved_value == 0.3
            assert y.grad_fn._saved_tensor1 is ta and y.grad_fn._saved_tensor2 is tb
            tape = y._tape
            kinds = [tg.ops.BY_CODE[int(tape.op[e])].kind for e in range(len(tape))]
            assert kinds.count("addc") == 1
            e = kinds.index("addc")
            assert tape.imm[e] == float(np.dtype(dtype).type(0.3))
            gx, ga, gb = tg.autograd.grad(y, (tx, ta, tb), tg.tensor(g))
            n = x.size
            f32 = int(dtype == "float32")
            args = (2, 0, 1, 2 * n, n, np.array([0, n, 2 * n]), None, None, None,
                    np.array([0, 0, 0]), np.array([div, f32]), np.array([0.0, 0.0, tape.imm[e]]))
            vals = np.concatenate([a.ravel(), b.ravel(), np.zeros(n)]).astype(np.float64)
            addc.forward_addc(*args, vals)
            c = np.dtype(dtype).type(0.3)
            with np.errstate(all="ignore"):
                term = a * c / b if div else a * c * b
            assert _same_bits(vals[2 * n:].astype(dtype), term.ravel())
            adj = np.concatenate([np.zeros(2 * n), g.ravel().astype(np.float64)])
            addc.sweep_addc(*args, vals, adj)
            assert _same_bits(adj[:n].astype(dtype).reshape(a.shape), ga.numpy())
            assert _same_bits(adj[n:2 * n].astype(dtype).reshape(a.shape), gb.numpy())
            faces = dict(addc.tensor_vjp_addc(KIND_OPS, tg.tensor(g), [ta, tb].__getitem__,
                                              a.shape, b.shape, [div, f32], float(c)))
            assert _same_bits(faces[0].detach().numpy(), ga.numpy())
            assert _same_bits(faces[1].detach().numpy(), gb.numpy())
            assert _same_bits(gx.numpy(), g)


def test_addc_traced_call_and_broadcast_keep_the_body(torch_ref):
    """A traced call records the rows' primitives (a replay recomputes them); a broadcast
    factor takes them too: values and gradients as torch's to round-off."""
    rng = np.random.default_rng(14)
    x, a, b = _draw(rng, (3, 4), "float64", 3)
    rec = tg.record(lambda x, a, b: (tg.addcmul(x, a, b, value=0.3) ** 2).sum(),
                    tg.tensor(x), tg.tensor(a), tg.tensor(b))
    v, grads = rec.value_and_grad(x * 2.0, a, b - 1.0)
    ts = [torch_ref.tensor(u, requires_grad=True) for u in (x * 2.0, a, b - 1.0)]
    y = (torch_ref.addcmul(*ts, value=0.3) ** 2).sum()
    y.backward()
    np.testing.assert_allclose(v, y.item(), rtol=1e-14)
    for u, t in zip(grads, ts):
        np.testing.assert_allclose(u, t.grad.numpy(), rtol=1e-13)
    res = []
    for m in (tg, torch_ref):
        ts = [m.tensor(u, requires_grad=True) for u in (x, a[:1], b)]
        y = m.addcdiv(*ts, value=-0.6)
        res.append([y.detach().numpy()] + [gi.numpy() for gi in m.autograd.grad(y.sum(), ts)])
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v, rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lerp_values_bit_for_bit(dtype, torch_ref):
    """Number and tensor weights, recorded and not, out of place and in place, every length
    below and above the vector widths and one element."""
    rng = np.random.default_rng(sum(map(ord, dtype)))
    failed = []
    for shape in [(), (1,)] + SHAPES:
        x, end = _draw(rng, shape, dtype, 2)
        wt = np.asarray(rng.uniform(-0.6, 1.6, shape), dtype)
        for w in WEIGHTS + [wt]:
            for grad in (False, True):
                outs = []
                for m in (tg, torch_ref):
                    tx = m.tensor(x, requires_grad=grad)
                    te = m.tensor(end)
                    ww = m.tensor(w) if isinstance(w, np.ndarray) else w
                    y = m.lerp(tx, te, ww)
                    z = m.tensor(x)
                    z.lerp_(te, ww)
                    outs.append((y.detach().numpy(), z.numpy()))
                failed += [(shape, w if np.ndim(w) == 0 else "tensor", grad, i)
                           for i, (u, v) in enumerate(zip(*outs)) if not _same_bits(u, v)]
    assert not failed, (len(failed), failed[:10])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lerp_gradients_bit_for_bit(dtype, torch_ref):
    """torch's grad * (1 - w) and grad * w: a number weight rounded to the dtype (float32:
    the factors are float32 Scalars), a tensor weight that needs no gradient; eager and
    create_graph."""
    rng = np.random.default_rng(sum(map(ord, dtype)) + 1)
    failed = []
    for shape in [(), (1,)] + SHAPES:
        x, end = _draw(rng, shape, dtype, 2)
        g = _draw(rng, shape, dtype)
        wt = np.asarray(rng.uniform(-0.6, 1.6, shape), dtype)
        for w in WEIGHTS + [wt]:
            theirs = None
            for m in (torch_ref, tg):
                for cg in ((False,) if m is torch_ref else (False, True)):
                    ts = [m.tensor(a, requires_grad=True) for a in (x, end)]
                    ww = m.tensor(w) if isinstance(w, np.ndarray) else w
                    y = m.lerp(*ts, ww)
                    got = [y.detach().numpy()] + [
                        gi.detach().numpy()
                        for gi in m.autograd.grad(y, ts, m.tensor(g), create_graph=cg)]
                    if theirs is None:
                        theirs = got
                        continue
                    failed += [(shape, np.ndim(w), cg, i)
                               for i, (u, v) in enumerate(zip(got, theirs))
                               if not _same_bits(u, v)]
    assert not failed, (len(failed), failed[:10])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lerp_one_call_kernel_equals_the_numpy_fma(dtype):
    """exact.lerp_into (one Numba call once the kernels are loaded) and exact.fma's numpy
    emulation give the same bits, written over x or end too."""
    from tapegrad import decomps_math, exact
    exact.kernels()
    rng = np.random.default_rng(15)
    t = np.dtype(dtype).type
    for n in (1, 2, 7, 16, 33):
        x, end = _draw(rng, (n,), dtype, 2)
        for w in WEIGHTS:
            wt = t(w)
            coeff, base = (wt, x) if abs(wt) < 0.5 else (wt - t(1), end)
            with np.errstate(all="ignore"):
                stepped = (exact.fma32_odd(end - x, coeff, base) if dtype == "float32"
                           else np.asarray(exact.fma64(end - x, coeff, base), np.float64))
            assert _same_bits(decomps_math.lerp_number(x, end, w), stepped)
            for over in (0, 1):
                x2, end2 = x.copy(), end.copy()
                out = (x2, end2)[over]
                assert exact.lerp_into(x2, end2, float(w), out)
                assert _same_bits(out, stepped)
    assert not exact.lerp_into(x, end, 1, np.empty(n, t))   # (an int: the caller's fma)
