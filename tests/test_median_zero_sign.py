"""The sign of median() / nanmedian() of all elements where zeros of both signs tie at the
median, against torch 2.13: torch returns the zero libstdc++'s std::nth_element (NaN
largest) leaves at the median's place in its flattened copy; the gradient is split evenly
among the tied elements either way.  Differential: skipped without torch."""
import math
import random

import pytest

import tapegrad

POOLS = ([0.0, -0.0], [0.0, -0.0, 1.0, -1.0], [0.0, -0.0, math.nan],
         [0.0, -0.0, 2.0, math.nan, -3.0])


def _cases():
    rng = random.Random(20261207)
    out = []
    for _ in range(240):
        n = rng.choice([1, 2, 3, 7, 16, 31, 64, 257])
        pool = rng.choice(POOLS)
        out.append(([rng.choice(pool) for _ in range(n)], rng.choice(["median", "nanmedian"]),
                    rng.choice(["float32", "float64"]), rng.random() < 0.5))
    return out


def _run(m, vals, op, dtype, requires_grad):
    x = m.tensor(vals, dtype=getattr(m, dtype), requires_grad=requires_grad)
    v = getattr(x, op)()
    value = v.item()
    sign = "nan" if value != value else math.copysign(1.0, value)
    if not requires_grad:
        return sign, None
    v.backward()
    return sign, x.grad.tolist()


def test_all_elements_median_zero_sign_as_torch(torch_ref):
    differ = [(c, got, want) for c in _cases()
              for got, want in [(_run(tapegrad, *c), _run(torch_ref, *c))]
              if got[0] != want[0] or got[1] is not None and not all(
                  a == b or a != a and b != b for a, b in zip(got[1], want[1]))]
    assert not differ, f"{len(differ)} cases differ, the first: {differ[0]}"


@pytest.mark.parametrize("op", ["median", "nanmedian"])
def test_median_of_one_negative_zero_keeps_its_sign(op):
    x = tapegrad.tensor([1.0, -0.0], requires_grad=True)
    v = getattr(x, op)()
    assert math.copysign(1.0, v.item()) == -1.0
    v.backward()
    assert x.grad.tolist() == [0.0, 1.0]
