"""torch's CPU kernels of add/sub/rsub with alpha and of addcmul compute a fused multiply-add,
`fma(other, alpha, self)` and `fma(value * tensor1, tensor2, self)`: one rounding, in the
vectorized body and the scalar tail alike, float32 and float64, one element too
(exact.fma).  addcdiv is not fused, but computed in the dtype: a one-element float32 one is
not computed in double.  Differential against torch, bit for bit: every length 0-d and
1..70 (the tails of the 16- and 8-lane bodies), recorded and not, out of place and in place."""
import numpy as np
import pytest

import tapegrad as tg

SIZES = [()] + [(n,) for n in range(1, 71)]
OPS = ("add", "sub", "rsub", "add_", "sub_", "addcmul", "addcmul_", "addcmul_1", "addcdiv",
       "addcdiv_", "addcdiv_1")


def _apply(mod, op, x, y, z, k):
    if op in ("add", "sub", "rsub"):
        return getattr(mod, op)(x, y, alpha=k)
    if op in ("add_", "sub_"):
        return getattr(x.clone(), op)(y, alpha=k)
    if op.endswith("_1"):          # value 1: fused too (addcmul), no product with value
        return getattr(mod, op[:-2])(x, y, z)
    if op.endswith("_"):
        return getattr(x.clone(), op)(y, z, value=k)
    return getattr(mod, op)(x, y, z, value=k)


def _draw(rng, shape, dtype):
    """Operands whose exponents spread over a few binades: x + k * y then rounds differently
    when rounded twice in a good share of the elements."""
    n = int(np.prod(shape))
    x = rng.standard_normal(n) * 2.0 ** rng.integers(-3, 3, n)
    return np.asarray(x.reshape(shape), dtype)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_bit_for_bit_as_torch(op, dtype, torch_ref):
    rng = np.random.default_rng(sum(map(ord, op + dtype)))
    failed = []
    for shape in SIZES:
        for grad in (False, True):
            for _ in range(2):
                x, y, z = (_draw(rng, shape, dtype) for _ in range(3))
                k = float(rng.standard_normal())
                theirs = _apply(torch_ref, op, *(torch_ref.tensor(v, requires_grad=grad and i == 1)
                                                for i, v in enumerate((x, y, z))), k)
                ours = _apply(tg, op, *(tg.tensor(v, requires_grad=grad and i == 1)
                                        for i, v in enumerate((x, y, z))), k)
                assert ours.dtype is getattr(tg, dtype) and ours.shape == theirs.shape
                if not np.array_equal(ours.detach().numpy().reshape(-1).view(np.uint8),
                                      theirs.detach().numpy().reshape(-1).view(np.uint8)):
                    failed.append((shape, grad))
    assert not failed, failed


def test_double_rounding_counterexample(torch_ref):
    """x + alpha * y rounded in double, then to float32, is one float32 ulp off the fused
    result here (the double sum lands on a float32 tie)."""
    args = (1.0, 16773121 * 2.0 ** -24, 4097 * 2.0 ** -36)
    for mod in (tg, torch_ref):
        x, y = mod.tensor(args[0]), mod.tensor(args[1])
        assert mod.add(x, y, alpha=args[2]).item() == 1.0000001192092896
        assert x.clone().add_(y, alpha=args[2]).item() == 1.0000001192092896
        assert mod.addcmul(x, y, mod.tensor(args[2])).item() == 1.0000001192092896


@pytest.mark.parametrize("grad_mode", [False, True])
def test_optimizer_updates_fused(grad_mode, torch_ref):
    """The hand-written update forms (inplace._update_array / _update_arrays, no history):
    `p.add_(g, alpha=-lr)`, `p.sub_(g, alpha=lr)`, `v.addcmul_(g, g, value=1 - b2)`."""
    rng = np.random.default_rng(3)
    for shape in ((), (1,), (5,), (17,), (4, 9)):
        for dtype in ("float32", "float64"):
            p, g = _draw(rng, shape, dtype), _draw(rng, shape, dtype)
            outs = []
            for mod in (tg, torch_ref):
                tp, tgr = mod.tensor(p), mod.tensor(g)
                with mod.set_grad_enabled(grad_mode):
                    tp.add_(tgr, alpha=-0.0123)
                    tp.sub_(tgr, alpha=0.377)
                    tp.addcmul_(tgr, tgr, value=0.001)
                    tp.addcmul_(tgr, tp * 1)
                outs.append(tp.numpy())
            np.testing.assert_array_equal(outs[0], outs[1], err_msg=f"{shape} {dtype}")


def test_broadcast_and_mixed_operands(torch_ref):
    """A broadcast other, another dtype promoted, an integer self, a number other: the
    vectorized body of torch's kernel fuses them all (lengths of whole vectors)."""
    rng = np.random.default_rng(4)
    x = _draw(rng, (4, 16), "float32")
    cases = [
        lambda m: m.add(m.tensor(x), m.tensor(x[0]), alpha=0.3),
        lambda m: m.sub(m.tensor(x), m.tensor(x[:, :1]), alpha=-1.7),
        lambda m: m.add(m.tensor(x), m.tensor(x.astype(np.float64)), alpha=0.3),
        lambda m: m.add(m.tensor(x.astype(np.float64)), m.tensor(x), alpha=0.3),
        lambda m: m.add(m.tensor((x * 100).astype(np.int64)), m.tensor(x), alpha=0.1),
        lambda m: m.add(m.tensor(x), 0.37, alpha=0.3),
        lambda m: m.rsub(m.tensor(x), 0.37, alpha=0.3),
        lambda m: m.addcmul(m.tensor(x), m.tensor(x[0]), m.tensor(x[:, :1]), value=0.3),
    ]
    for i, f in enumerate(cases):
        ours, theirs = f(tg), f(torch_ref)
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=str(i))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_call_kernels_equal_the_numpy_fma(dtype):
    # exact.fma_into (add_/sub_/add with alpha) and exact.fma_scaled (addcmul) are single
    # Numba calls taken once the kernels are loaded; before, exact.fma's numpy emulation
    # (fma32_odd, fma64) gives the values: both bit for bit the same, written over c too
    from tapegrad import exact
    exact.kernels()
    t = np.dtype(dtype).type
    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 16, 33, 70):
        a, c, t2 = (_draw(rng, (n,), dtype) for _ in range(3))
        k = float(rng.standard_normal())
        numpy_fma = (exact.fma32_odd(a, np.float32(k), c) if dtype == "float32"
                     else np.asarray(exact.fma64(a, k, c), np.float64))
        out = np.empty(n, t)
        assert exact.fma_into(a, k, c, out)
        np.testing.assert_array_equal(out.view(np.uint8), numpy_fma.view(np.uint8))
        c2 = c.copy()
        assert exact.fma_into(a, k, c2, c2)          # out is c: read before written
        np.testing.assert_array_equal(c2.view(np.uint8), numpy_fma.view(np.uint8))
        with np.errstate(all="ignore"):
            scaled = a * t(k)
        stepped = (exact.fma32_odd(scaled, t2, c) if dtype == "float32"
                   else np.asarray(exact.fma64(scaled, t2, c), np.float64))
        np.testing.assert_array_equal(exact.fma_scaled(a, k, t2, c).view(np.uint8),
                                      stepped.view(np.uint8))
    strided = np.empty((4, 2), t)[:, 0]
    assert not exact.fma_into(strided, 0.5, strided, strided)   # not row-major: the caller's fma
    assert exact.fma_scaled(a, 2 ** 60, t2, c) is None            # an int past 2**53: in steps
    assert not exact.fma_into(a, 1, c, out)                       # an int alpha: fma's rounding
