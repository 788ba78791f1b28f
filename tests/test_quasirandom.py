"""tapegrad.quasirandom.SobolEngine: the Sobol sequence from its definition (no torch needed),
then against torch's engine: the same state, points, errors, bit for bit."""
import numpy as np
import pytest

import tapegrad
from tapegrad.quasirandom import SobolEngine, _table

# Joe & Kuo's new-joe-kuo-6.21201, dimensions 2..8 as printed in the file: (s, a, m_1..m_s)
JOE_KUO = [(1, 0, [1]), (2, 1, [1, 3]), (3, 1, [1, 3, 1]), (3, 2, [1, 1, 1]),
           (4, 1, [1, 1, 3, 3]), (4, 4, [1, 3, 5, 13]), (5, 2, [1, 1, 5, 5, 17])]


def reference_points(n, dims, bits=30):
    """The first n points by Joe & Kuo's sobol.cc (direction numbers V_i = m_i 2^(bits-i);
    point i+1 = point i XOR V[index of the rightmost zero bit of i]), as exact fractions."""
    table = [None] + JOE_KUO[:dims - 1]
    out = np.zeros((n, dims))
    for j in range(dims):
        V = [0] * (bits + 1)
        if j == 0:
            for i in range(1, bits + 1):
                V[i] = 1 << (bits - i)
        else:
            s, a, m = table[j]
            for i in range(1, bits + 1):
                if i <= s:
                    V[i] = m[i - 1] << (bits - i)
                else:
                    V[i] = V[i - s] ^ (V[i - s] >> s)
                    for k in range(1, s):
                        V[i] ^= ((a >> (s - 1 - k)) & 1) * V[i - k]
        x = 0
        for i in range(1, n):
            c, v = 1, i - 1
            while v & 1:
                v >>= 1
                c += 1
            x ^= V[c]
            out[i, j] = x / 2 ** bits
    return out


# ---------------------------------------------------------------- tapegrad alone (no torch)

def test_first_points_follow_the_definition():
    got = SobolEngine(8).draw(200, dtype=tapegrad.float64)._array()
    assert np.array_equal(got, reference_points(200, 8))
    # torch's docstring example
    assert SobolEngine(5).draw(3).tolist() == [[0.0] * 5, [0.5] * 5,
                                               [0.75, 0.25, 0.25, 0.25, 0.75]]


def test_vendored_table():
    poly, degree, starts, m = _table()
    assert poly.shape == (21201,) and degree.max() == 18
    assert list(poly[:4]) == [1, 3, 7, 11]
    pos = np.arange(m.size) - np.repeat(starts, degree)      # m_i: odd, below 2**i
    assert np.all(m & 1) and np.all(m < (2 << pos))
    for d, (s, a, init) in enumerate(JOE_KUO, start=1):
        assert degree[d] == s and poly[d] == (1 << s) | (a << 1) | 1
        assert list(m[starts[d]:starts[d] + s]) == init


@pytest.mark.parametrize("scramble", [False, True])
def test_draw_base2_is_balanced_per_dimension(scramble):
    # 2**m points: in each dimension exactly one in each interval [k/2**m, (k+1)/2**m)
    for m in (1, 5, 9):
        eng = SobolEngine(40, scramble=scramble, seed=11)
        x = eng.draw_base2(m, dtype=tapegrad.float64)._array()
        cells = np.sort(np.floor(x * 2 ** m).astype(np.int64), axis=0)
        assert np.array_equal(cells, np.repeat(np.arange(2 ** m)[:, None], 40, axis=1))
        if not scramble:     # unscrambled: the points are the cells' left ends
            assert np.array_equal(np.sort(x, axis=0) * 2 ** m, cells)
            assert np.allclose(x.mean(0), (2 ** m - 1) / 2 ** (m + 1), rtol=0, atol=1e-15)


def test_marginals_are_uniform():
    x = SobolEngine(300, scramble=True, seed=3).draw(4096, dtype=tapegrad.float64)._array()
    assert np.all((x >= 0) & (x < 1))
    hist = np.stack([np.histogram(x[:, j], bins=16, range=(0, 1))[0] for j in range(300)])
    assert np.all(hist == 256)              # 4096 = 2**12 points: balanced in 16 bins
    assert np.all(np.abs(x.mean(0) - 0.5) < 1e-3)


@pytest.mark.parametrize("scramble", [False, True])
def test_draws_split_skip_and_reset_are_one_sequence(scramble):
    eng = SobolEngine(17, scramble=scramble, seed=5)
    whole = eng.draw(300, dtype=tapegrad.float64)._array()
    eng.reset()
    parts = [eng.draw(k, dtype=tapegrad.float64)._array() for k in (1, 0, 2, 61, 100, 136)]
    assert np.array_equal(np.concatenate(parts), whole)
    assert eng.num_generated == 300
    for skip, start in ((0, 0), (1, 1), (7, 9), (64, 200)):
        eng.reset().fast_forward(skip)
        if start > skip:           # (draw(0) on a fresh engine is an error, as in torch)
            eng.draw(start - skip)
        assert np.array_equal(eng.draw(50, dtype=tapegrad.float64)._array(),
                              whole[start:start + 50])
    eng.reset().draw(3)
    eng.fast_forward(97)
    assert np.array_equal(eng.draw(5, dtype=tapegrad.float64)._array(), whole[100:105])


def test_large_fast_forward_matches_drawing():
    eng = SobolEngine(3)
    eng.fast_forward(300000)
    a = eng.draw(4)._array()
    eng2 = SobolEngine(3)
    eng2.draw(299999)
    eng2.fast_forward(1)
    assert np.array_equal(a, eng2.draw(4)._array())


def test_dtypes_and_out():
    eng = SobolEngine(3, scramble=True, seed=1)
    assert eng.draw(2).dtype is tapegrad.get_default_dtype()
    x = eng.draw(4, dtype=tapegrad.float64)
    assert x.dtype is tapegrad.float64 and x.shape == (4, 3)
    out = tapegrad.empty(0, dtype=tapegrad.float64)
    eng.reset()
    r = eng.draw(4, out=out, dtype=tapegrad.float32)
    assert r is out and out.dtype is tapegrad.float64 and out.shape == (4, 3)
    # float32: the integer state rounded once to 24 bits (the first point as well)
    eng.reset()
    first32 = eng.draw(1, dtype=tapegrad.float64)._array()
    assert np.array_equal(first32, eng._shift.astype(np.float32)[None] * 2.0 ** -30)
    assert not np.array_equal(first32, eng._shift[None] * 2.0 ** -30)


def test_attributes_and_repr():
    eng = SobolEngine(4, scramble=True, seed=9)
    assert (eng.dimension, eng.scramble, eng.seed, eng.num_generated) == (4, True, 9, 0)
    assert (SobolEngine.MAXBIT, SobolEngine.MAXDIM) == (30, 21201)
    assert repr(eng) == "SobolEngine(dimension=4, scramble=True, seed=9)"
    assert repr(SobolEngine(2, seed=3)) == "SobolEngine(dimension=2, seed=3)"
    assert eng.sobolstate.shape == (4, 30) and eng.quasi.dtype is tapegrad.int64
    assert eng.draw_base2(2).shape == (4, 4) and eng.num_generated == 4
    assert eng.reset() is eng and eng.fast_forward(3) is eng and eng.num_generated == 3
    assert tapegrad.quasirandom.SobolEngine is SobolEngine


def test_errors_without_torch():
    with pytest.raises(ValueError, match=r"Supported range of dimensionality for SobolEngine is "
                                         r"\[1, 21201\]"):
        SobolEngine(21202)
    with pytest.raises(ValueError, match="require n to be a power of 2. 3 points have been "
                                         "previously generated, then: n=3"):
        e = SobolEngine(2)
        e.draw(3)
        e.draw_base2(2)
    with pytest.raises(RuntimeError, match=r"negative dimension -1: \[-1, 2\]"):
        SobolEngine(2).draw(0)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        SobolEngine(2).draw(5, dtype=tapegrad.int64)


# ---------------------------------------------------------------- against torch

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _same(a, b):
    assert a.dtype.is_floating_point == b.dtype.is_floating_point
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    np.testing.assert_array_equal(a._array(), b.numpy(), strict=True)


def test_state_equals_torch_at_every_dimension(torch):
    mine, theirs = SobolEngine(21201), torch.quasirandom.SobolEngine(21201)
    assert np.array_equal(mine._state, theirs.sobolstate.numpy())
    _same(mine.draw(40), theirs.draw(40))


@pytest.mark.parametrize("dim,seed", [(1, 0), (6, 1), (64, 12345), (1111, 2 ** 40),
                                      (21201, 7)])
def test_scrambled_state_equals_torch(torch, dim, seed):
    mine = SobolEngine(dim, scramble=True, seed=seed)
    theirs = torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed)
    assert np.array_equal(mine._state, theirs.sobolstate.numpy())
    assert np.array_equal(mine._shift, theirs.shift.numpy())
    _same(mine.draw(9), theirs.draw(9))


def _run(mod, dim, scramble, seed, ops):
    eng = mod.quasirandom.SobolEngine(dim, scramble=scramble, seed=seed)
    out = []
    for op, arg, dt in ops:
        dtype = None if dt is None else getattr(mod, dt)
        if op == "draw":
            out.append(eng.draw(arg, dtype=dtype))
        elif op == "base2":
            out.append(eng.draw_base2(arg, dtype=dtype))
        elif op == "ff":
            eng.fast_forward(arg)
        else:
            eng.reset()
        out.append(eng.num_generated)
    return out


def _random_ops(rng):
    ops, total = [], 0
    for _ in range(rng.integers(1, 7)):
        kind = rng.choice(["draw", "draw", "base2", "ff", "reset"])
        dt = rng.choice([None, "float32", "float64"])
        if kind == "base2":
            m = int(rng.integers(0, 8)) if total == 0 else None
            if total and (total & (total - 1)) == 0:
                m = int(np.log2(total))
            if m is None:
                continue
            ops.append(("base2", m, dt))
            total += 2 ** m
        elif kind == "reset":
            ops.append(("reset", None, None))
            total = 0
        else:
            k = int(rng.choice([1, 1, 2, 3, 7, 64, 100, 1000]))
            ops.append((kind, k, dt))
            total += k
    return ops


@pytest.mark.parametrize("case", range(40))
def test_sequences_equal_torch(torch, case):
    rng = np.random.default_rng(case)
    dim = int(rng.choice([1, 2, 3, 5, 10, 33, 200, 1500]))
    scramble = bool(rng.integers(2))
    seed = int(rng.integers(0, 2 ** 31)) if scramble or rng.integers(2) else None
    ops = _random_ops(rng)
    if scramble and seed is None:
        torch.manual_seed(case)
        tapegrad.manual_seed(case)
    mine, theirs = _run(tapegrad, dim, scramble, seed, ops), _run(torch, dim, scramble, seed, ops)
    for a, b in zip(mine, theirs):
        if isinstance(a, int):
            assert a == b
        else:
            _same(a, b)


def test_unseeded_scramble_uses_the_default_generator(torch):
    torch.manual_seed(2024)
    tapegrad.manual_seed(2024)
    _same(SobolEngine(7, scramble=True).draw(20),
          torch.quasirandom.SobolEngine(7, scramble=True).draw(20))
    _same(tapegrad.rand(3), torch.rand(3))      # the same number of draws consumed


@pytest.mark.parametrize("construct,draw", [("float32", "float64"), ("float64", "float32"),
                                            ("float64", "float64")])
def test_default_dtype_at_construction_and_draw(torch, construct, draw):
    results = []
    for mod in (tapegrad, torch):
        old = mod.get_default_dtype()
        try:
            mod.set_default_dtype(getattr(mod, construct))
            eng = mod.quasirandom.SobolEngine(5, scramble=True, seed=4)
            mod.set_default_dtype(getattr(mod, draw))
            results.append((eng.draw(1), eng.reset().draw(6), eng.draw(3)))
        finally:
            mod.set_default_dtype(old)
    for a, b in zip(*results):
        _same(a, b)


def test_first_point_in_other_dtypes_equals_torch(torch):
    for name in ("int64", "int32", "bool", "float64"):
        a = SobolEngine(4, scramble=True, seed=2).draw(1, dtype=getattr(tapegrad, name))
        b = torch.quasirandom.SobolEngine(4, scramble=True, seed=2).draw(
            1, dtype=getattr(torch, name))
        _same(a, b)


def test_out_equals_torch(torch):
    got = []
    for mod in (tapegrad, torch):
        out = mod.empty(0, dtype=mod.float64)
        eng = mod.quasirandom.SobolEngine(3, scramble=True, seed=8)
        got.append((eng.draw(5, out=out, dtype=mod.float32) is out, out))
    assert got[0][0] and got[1][0]
    _same(got[0][1], got[1][1])


def test_negative_fast_forward_equals_torch(torch):
    # torch counts num_generated down and steps column 0 for negative indices
    got = []
    for mod in (tapegrad, torch):
        eng = mod.quasirandom.SobolEngine(4, scramble=True, seed=1)
        eng.fast_forward(-3)
        got.append((eng.num_generated, eng.draw(6), eng.num_generated, eng.draw(4)))
    for a, b in zip(*got):
        if isinstance(a, int):
            assert a == b
        else:
            _same(a, b)


ERROR_CASES = [
    lambda m: m.quasirandom.SobolEngine(0),
    lambda m: m.quasirandom.SobolEngine(21202),
    lambda m: m.quasirandom.SobolEngine(-4),
    lambda m: m.quasirandom.SobolEngine(2.5),
    lambda m: m.quasirandom.SobolEngine(True),
    lambda m: m.quasirandom.SobolEngine(3, scramble=True, seed=2.5),
    lambda m: m.quasirandom.SobolEngine(3, scramble=True, seed="a"),
    lambda m: m.quasirandom.SobolEngine(3).draw(0),
    lambda m: m.quasirandom.SobolEngine(3).draw(-2),
    lambda m: m.quasirandom.SobolEngine(3).draw(2.0),
    lambda m: m.quasirandom.SobolEngine(3).draw(3, dtype=m.int64),
    lambda m: m.quasirandom.SobolEngine(3).fast_forward(2.0),
    lambda m: m.quasirandom.SobolEngine(3).draw_base2(2.5),
    lambda m: m.quasirandom.SobolEngine(3).fast_forward(3).draw_base2(2),
    lambda m: _drawn(m, 2).draw(-1),
    lambda m: _drawn(m, 2).draw(1, dtype=m.int32),
    lambda m: _drawn(m, 5).draw_base2(1),
    lambda m: _drawn(m, 4).draw_base2(1),
]


def _drawn(mod, n):
    eng = mod.quasirandom.SobolEngine(3)
    eng.draw(n)
    return eng


@pytest.mark.parametrize("i", range(len(ERROR_CASES)))
def test_errors_equal_torch(torch, i):
    with pytest.raises(Exception) as theirs:
        ERROR_CASES[i](torch)
    with pytest.raises(Exception) as mine:
        ERROR_CASES[i](tapegrad)
    assert type(mine.value) is type(theirs.value)
    assert str(mine.value) == str(theirs.value)
