"""tapegrad.normal_draws: torch's CPU normal kernel, bit for bit.

Against torch (each such test skips without it): every path (the AVX2 fill, the libm fills,
the serial draws with the engine's cached sample), sizes around the 16-element blocks,
float32 and float64, mean/std other than 0/1, sequences of calls on one engine (and the
generator state after them), and, in subprocesses, torch under ATEN_CPU_CAPABILITY=avx2 and
=default.  Measured when written (torch 2.13, AVX512 machine, glibc 2.36): 200 seeds x 13
sizes x {float32, float64} x {contiguous, not} x 2-3 (mean, std), 15600 calls and 6.4 million
values per capability, all three capabilities; 62 million values in draws of 10^6 (float32)
and 2*10^5 (float64) with seven (mean, std) pairs; subnormal, huge, infinite and nan
parameters: every value, and the state after every sequence, equal.

Without torch: the float32 fma emulation against exact rational arithmetic, the engine's
consumption and cache, shapes, errors, the capability choice, and statistics.
"""
import math
import os
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest

from tapegrad import exact, normal_draws as nd
from tapegrad.mt19937 import MT19937

SIZES = [1, 2, 3, 5, 15, 16, 17, 31, 32, 33, 100, 1000, 4097]


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(bits(a), bits(b))


# ---- against torch ------------------------------------------------------------------------------
def test_randn_2x2_after_seed_10000():
    torch = pytest.importorskip("torch")
    got = nd.normal(MT19937(10000), 4, np.float32)
    np.testing.assert_allclose(got, [2.0065, 1.9535, 0.1517, -0.4269], atol=1e-4)
    torch.manual_seed(10000)
    assert same(got, torch.randn(2, 2).numpy().ravel())


def _torch_normal(torch, n, dtype, mean, std, contiguous):
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    if contiguous:
        return torch.empty(n, dtype=tdt).normal_(mean, std).numpy()
    return torch.empty(n, 2, dtype=tdt)[:, 0].normal_(mean, std).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequences_match_torch(dtype):
    """Each seed: every size, contiguous and not, in one sequence on one engine (so the cached
    sample carries from call to call), then the generator state."""
    torch = pytest.importorskip("torch")
    for seed in range(12):
        mean, std = [(0.0, 1.0), (0.3, 2.7), (-1.7, 0.123)][seed % 3]
        torch.manual_seed(seed)
        eng = MT19937(seed)
        for n in SIZES:
            for contiguous in (True, False):
                want = _torch_normal(torch, n, dtype, mean, std, contiguous)
                got = nd.normal(eng, n, dtype, mean, std, contiguous=contiguous)
                assert same(got, want), (seed, n, contiguous, mean, std)
        assert eng.state_bytes() == torch.get_rng_state().numpy().tobytes()


def test_cache_across_paths_matches_torch():
    """An odd serial draw leaves a cached sample; a fill does not touch it; the next serial
    draw starts with it."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(7)
    eng = MT19937(7)
    for n, dt, contiguous in [(3, np.float64, True), (40, np.float32, True), (1, np.float32, True),
                              (5, np.float32, False), (64, np.float64, True), (2, np.float64, True),
                              (200, np.float64, False), (1, np.float64, True)]:
        want = _torch_normal(torch, n, dt, 0.5, 1.5, contiguous)
        assert same(nd.normal(eng, n, dt, 0.5, 1.5, contiguous=contiguous), want), (n, dt)
        assert eng.state_bytes() == torch.get_rng_state().numpy().tobytes(), (n, dt)


def test_non_contiguous_order_matches_torch():
    """A non-contiguous tensor is written in memory order (TensorIterator sorts by stride)."""
    torch = pytest.importorskip("torch")
    base = torch.zeros(9, 5, dtype=torch.float64)
    torch.manual_seed(6)
    base.t().normal_(1.0, 2.0)
    assert same(nd.normal(MT19937(6), 45, np.float64, 1.0, 2.0, contiguous=False),
                base.numpy().ravel())


def test_large_draws_match_torch():
    torch = pytest.importorskip("torch")
    for dt, n, mean, std in [(np.float32, 1_000_003, 0.0, 1.0), (np.float32, 300_001, -3.0, 1e3),
                             (np.float64, 100_003, 5.5, 0.001)]:
        torch.manual_seed(123)
        want = _torch_normal(torch, n, dt, mean, std, True)
        assert same(nd.normal(MT19937(123), n, dt, mean, std), want), (dt, n)


def test_extreme_parameters_match_torch():
    """Subnormal, huge, infinite and nan mean/std, signed zeros."""
    torch = pytest.importorskip("torch")
    params = [(0.0, 1e-40), (1e-39, 3e-39), (-2e-38, 1e-30), (0.0, 1e-44), (1.0, math.inf),
              (math.inf, 1.0), (math.nan, 1.0), (0.0, 3e38), (1e39, 1.0), (-0.0, 1.0),
              (-0.0, 0.0), (2.5, 0.0)]
    for dt in (np.float32, np.float64):
        for n in (5, 100):
            for mean, std in params:
                torch.manual_seed(4)
                want = _torch_normal(torch, n, dt, mean, std, True)
                assert same(nd.normal(MT19937(4), n, dt, mean, std), want), (dt, n, mean, std)


_CHILD = textwrap.dedent("""
    import sys, numpy as np, torch
    sys.path.insert(0, sys.argv[1])
    from tapegrad import normal_draws as nd
    from tapegrad.mt19937 import MT19937
    cap = torch.backends.cpu.get_cpu_capability()
    assert nd.cpu_capability() == cap, (nd.cpu_capability(), cap)
    bad = 0
    for seed in range(4):
        torch.manual_seed(seed)
        eng = MT19937(seed)
        for n, dt, tdt, mean, std, contiguous in [
                (1000, np.float32, torch.float32, 0.0, 1.0, True),
                (33, np.float32, torch.float32, 0.3, 2.7, True),
                (17, np.float64, torch.float64, -1.7, 0.123, True),
                (5, np.float64, torch.float64, 0.3, 2.7, True),
                (100, np.float32, torch.float32, 0.3, 2.7, False),
                (3, np.float32, torch.float32, -1.7, 0.123, True)]:
            t = torch.empty(n, 2, dtype=tdt)[:, 0] if not contiguous else torch.empty(n, dtype=tdt)
            want = np.ascontiguousarray(t.normal_(mean, std).numpy())
            got = nd.normal(eng, n, dt, mean, std, contiguous=contiguous)
            bad += not np.array_equal(got.view(np.uint8), want.view(np.uint8))
        bad += eng.state_bytes() != torch.get_rng_state().numpy().tobytes()
    print(cap, bad)
""")


@pytest.mark.parametrize("env", ["avx2", "default"])
def test_other_capabilities_match_torch(env):
    """torch picks its kernels by ATEN_CPU_CAPABILITY; normal_draws reads it the same way."""
    pytest.importorskip("torch")
    if not nd._X86:
        pytest.skip("x86 capabilities")
    root = os.path.dirname(os.path.dirname(os.path.abspath(nd.__file__)))
    r = subprocess.run([sys.executable, "-c", _CHILD, root], capture_output=True, text=True,
                       env={**os.environ, "ATEN_CPU_CAPABILITY": env}, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == [env.upper(), "0"]


# ---- without torch ------------------------------------------------------------------------------
def _exact_fma32(a, b, c):
    """float32(a*b + c) with one rounding, by rational arithmetic (ties to even)."""
    x = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    near = np.float32(float(x))            # within one float32 ulp of x
    cands = [np.nextafter(near, np.float32(-np.inf)), near, np.nextafter(near, np.float32(np.inf))]
    dist = [abs(Fraction(float(v)) - x) for v in cands]
    best = min(dist)
    picks = [v for v, d in zip(cands, dist) if d == best]
    return min(picks, key=lambda v: int(np.array(v).view(np.uint32)) % 2)


def test_fma32_is_rounded_once():
    rng = np.random.default_rng(0)
    k = 3000
    a = (rng.standard_normal(k) * 2.0 ** rng.integers(-30, 30, k)).astype(np.float32)
    b = (rng.standard_normal(k) * 2.0 ** rng.integers(-30, 30, k)).astype(np.float32)
    c = (rng.standard_normal(k) * 2.0 ** rng.integers(-60, 30, k)).astype(np.float32)
    # a*b = 1 +- 2^-30 exactly (2^30 + 1 = 13325 * 80581, 2^30 - 1 = 21483 * 49981): plus
    # c = +-2^24, the float64 sum rounds onto 2^24 + 1, a float32 tie the exact sum is off
    ta = np.array([13325, -13325, 21483, 13325], np.float32) * np.float32(2.0 ** -14)
    tb = np.array([80581, 80581, 49981, -80581], np.float32) * np.float32(2.0 ** -16)
    tc = np.array([2.0 ** 24, -2.0 ** 24, 2.0 ** 24, 2.0 ** 24 + 4], np.float32)
    a, b, c = np.concatenate([a, ta]), np.concatenate([b, tb]), np.concatenate([c, tc])
    got = exact.fma32(a, b, c)
    want = np.array([_exact_fma32(x, y, z) for x, y, z in zip(a, b, c)], np.float32)
    assert same(got, want)
    assert got[k:].tolist() == [2.0 ** 24 + 2, -2.0 ** 24 - 2, 2.0 ** 24, 2.0 ** 24 + 2]
    # the float64 sum alone rounds the first two (and the last) the wrong way
    naive = (a[k:].astype(np.float64) * b[k:] + c[k:]).astype(np.float32)
    assert naive.tolist() == [2.0 ** 24, -2.0 ** 24, 2.0 ** 24, 2.0 ** 24 + 4]


def test_fma64_paths_agree_with_the_hardware_fma():
    # fma_float / fma_ints (integers), the few-element and Dekker paths of fma64, against the
    # Numba loop's llvm.fma: near-cancellations, subnormal and huge products, signed zeros,
    # inf and nan, bit for bit (the sign of a zero too: fsum's zero is +0.0)
    rng = np.random.default_rng(5)
    k = 600
    a = rng.standard_normal(k) * 10.0 ** rng.integers(-300, 300, k)
    b = rng.standard_normal(k) * 10.0 ** rng.integers(-12, 12, k)
    c = -(a * b) * (1 + rng.integers(-3, 4, k) * 2.0 ** -52)
    c[::3] = rng.standard_normal(c[::3].size) * 10.0 ** rng.integers(-300, 300, c[::3].size)
    special = [(0.0, -0.1, -0.0), (-0.0, 0.1, -0.0), (0.0, 0.1, -0.0), (0.1, 3.0, -0.30000000000000004),
               (1e308, 10.0, -1e308), (np.inf, 0.0, 1.0), (np.nan, 1.0, 2.0), (1.5, 2.0, np.inf),
               (5e-324, 0.5, 0.0), (-5e-324, 0.5, -0.0), (2.0 ** -537, 2.0 ** -537, 0.0)]
    a = np.concatenate([a, [s[0] for s in special]])
    b = np.concatenate([b, [s[1] for s in special]])
    c = np.concatenate([c, [s[2] for s in special]])
    want = np.empty_like(a)
    with np.errstate(all="ignore"):
        exact.kernels().fma_f64(a, b, c, want)
        dekker = exact._fma64_numpy(a, b, c)
        for got in (dekker, np.array([exact.fma_float(*v) for v in zip(a.tolist(), b.tolist(), c.tolist())]),
                    np.concatenate([exact.fma64(a[i:i + 20], b[i:i + 20], c[i:i + 20])
                                    for i in range(0, a.size, 20)])):
            assert same(got, want)
    ks = list(range(-40, 41))
    for step, start in ((0.1, 0.0), (-0.1, -0.0), (1 / 3, -7.25), (0.7, 1e-300)):
        want = np.empty(len(ks))
        exact.kernels().fma_f64(np.full(len(ks), step), np.array(ks, np.float64),
                                np.full(len(ks), start), want)
        got = np.array(exact.fma_ints(step, ks, start))
        assert same(got, want)


def test_shapes_dtypes_and_errors():
    eng = MT19937(0)
    for dt in (np.float32, np.float64):
        for n in (0, 1, 16, 17, 40):
            out = nd.normal(eng, n, dt)
            assert out.shape == (n,) and out.dtype == dt and np.all(np.isfinite(out))
    with pytest.raises(TypeError):
        nd.normal(eng, 4, np.int64)
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0, but found std -1"):
        nd.normal(eng, 4, np.float32, 0.0, -1.0)
    with pytest.raises(RuntimeError, match="found std nan"):
        nd.normal(eng, 4, np.float32, 0.0, float("nan"))


def _advanced(seed, words):
    e = MT19937(seed)
    e.u32(words)
    return e.state_bytes()


def test_engine_consumption_and_cache():
    # fills: n words (float32) or 2n (float64), plus 16 (32) more when 16 does not divide n;
    # the cached double sample is neither used nor changed
    for dt, per in ((np.float32, 1), (np.float64, 2)):
        for n in (16, 17, 32, 100):
            eng = MT19937(3)
            nd.normal(eng, n, dt)
            assert eng.state_bytes() == _advanced(3, per * (n + (16 if n % 16 else 0)))
        eng = MT19937(3)
        eng.next_double_normal = 0.25
        nd.normal(eng, 20, dt)
        assert eng.next_double_normal == 0.25
    # serial: two words per uniform, two uniforms per pair; an odd count caches a sample
    eng = MT19937(5)
    a = nd.normal(eng, 3, np.float64)
    cached = eng.next_double_normal
    assert cached is not None and eng.state_bytes()[:-16] != MT19937(5).state_bytes()[:-16]
    words = eng.copy()
    b = nd.normal(eng, 1, np.float64, 1.0, 2.0)      # the cached sample, no draw
    assert eng.next_double_normal is None and b[0] == cached * 2.0 + 1.0
    assert eng.u32(8).tolist() == words.u32(8).tolist()
    # the same numbers as one draw of 4
    assert same(np.concatenate([a, [cached]]), nd.normal(MT19937(5), 4, np.float64))


def test_tail_is_recomputed_from_fresh_uniforms():
    """n = 17: elements 1..16 are a whole fill of the 16 uniforms drawn after the first 17."""
    for dt in (np.float32, np.float64):
        per = 1 if dt == np.float32 else 2
        x = nd.normal(MT19937(9), 17, dt)
        assert same(x[:1], nd.normal(MT19937(9), 16, dt)[:1])
        eng = MT19937(9)
        eng.u32(17 * per)
        assert same(x[1:], nd.normal(eng, 16, dt))


def test_python_and_numba_paths_agree(monkeypatch):
    cases = [(n, dt, c, m, s) for n in (3, 20, 40) for dt in (np.float32, np.float64)
             for c in (True, False) for m, s in ((0.0, 1.0), (0.3, 2.7), (-1e-3, 7e5))]
    # (Python's math for the small float64 fills while the kernels are not loaded: as then)
    monkeypatch.setattr(nd, "kernels_cheap", lambda: False)
    small = [nd.normal(MT19937(1), n, dt, m, s, contiguous=c) for n, dt, c, m, s in cases]
    monkeypatch.undo()
    monkeypatch.setattr(nd, "_PY_MAX_PAIRS", 0)
    monkeypatch.setattr(nd, "_PY_MAX_BLOCKS", -1)
    for (n, dt, c, m, s), want in zip(cases, small):
        assert same(nd.normal(MT19937(1), n, dt, m, s, contiguous=c), want), (n, dt, c, m, s)


def test_avx2_fill_numpy_and_numba_agree(monkeypatch):
    # the AVX2 fill's numpy emulation (small draws before the kernels are loaded) and its Numba
    # loop (every other draw), on uniforms with the extremes (u1 = 1 - 2^-24, 0; u2 near 1)
    # and parameters whose fma is inexact, subnormal, zero or overflows
    rng = np.random.default_rng(3)
    u = (rng.integers(0, 1 << 24, 16 * 2048, dtype=np.uint32).astype(np.float32)
         * np.float32(2.0 ** -24)).reshape(-1, 16)
    u[0], u[1, :8], u[2, 8:] = 0.0, np.float32(1 - 2.0 ** -24), np.float32(1 - 2.0 ** -24)
    for mean, std in ((0.0, 1.0), (0.3, 2.7), (-1e-3, 7e5), (1.0, 1e-30), (0.0, 2.0 ** -100),
                      (5.0, 0.0), (0.0, 3e38)):
        a, b = u.copy(), u.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            nd._fill16_avx2(a, np.float32(mean), np.float32(std))
        exact.kernels().fill16_avx2_f32(b, np.float32(mean), np.float32(std))
        assert same(a, b), (mean, std)
    # and nd.normal's choice between them draws the same values
    cases = [(n, m, s) for n in (16, 40, 4097) for m, s in ((0.0, 1.0), (0.3, 2.7))]
    numba = [nd.normal(MT19937(5), n, np.float32, m, s, capability="AVX2") for n, m, s in cases]
    monkeypatch.setattr(nd, "_KERNEL_MIN", 1 << 40)
    monkeypatch.setattr(nd, "_NUMPY_FILLS", 1 << 40)
    monkeypatch.setattr(nd, "kernels_cheap", lambda: False)
    monkeypatch.setattr(nd, "_avx2_fill", [None])   # (the kernel's fill, kept once loaded)
    monkeypatch.setattr(nd, "kernels", lambda: pytest.fail("the kernels were used"))
    for (n, m, s), want in zip(cases, numba):
        assert same(nd.normal(MT19937(5), n, np.float32, m, s, capability="AVX2"), want)


@pytest.mark.slow
def test_avx2_fill_every_uniform_numpy_and_numba_agree():
    # every float32 uniform (the 2^24 multiples of 2^-24) once as u1 (log256_ps) and once as
    # u2 (sincos256_ps): the Numba loop, which LLVM vectorizes, against the numpy emulation
    u = np.arange(1 << 24, dtype=np.uint32).astype(np.float32) * np.float32(2.0 ** -24)
    angles = np.random.default_rng(4).permutation(u)
    step = 1 << 18
    for i in range(0, u.size, step):
        d = np.empty((step // 8, 16), np.float32)
        d[:, :8] = u[i:i + step].reshape(-1, 8)
        d[:, 8:] = angles[i:i + step].reshape(-1, 8)
        a, b = d.copy(), d.copy()
        nd._fill16_avx2(a, np.float32(0.3), np.float32(2.7))
        exact.kernels().fill16_avx2_f32(b, np.float32(0.3), np.float32(2.7))
        assert same(a, b), i


def test_small_draws_take_the_loaded_kernels(monkeypatch):
    """Once the draw kernels are loaded, a small float64 fill (16 to 64 values) is their one
    call, not Python's math per value (~8 us a block), and the float32 fill is not looked up
    again per draw; a Tensor dtype's `.np` (a numpy dtype) draws as its scalar type does,
    torch's values for the same seed."""
    import tapegrad as tg
    exact.kernels()
    nd.normal(MT19937(0), 32, np.float32)   # (the float32 fill kept)
    monkeypatch.setattr(nd, "_fill16_py_f64", lambda *a: pytest.fail("Python's fill"))
    got = {}
    for n in (16, 17, 40, 64):
        for dt in (np.float32, np.float64):
            for spelled in (dt, np.dtype(dt), tg.float32.np if dt is np.float32 else
                            tg.float64.np):
                got.setdefault((n, dt), []).append(nd.normal(MT19937(n), n, spelled, 0.3, 2.7))
    for key, draws in got.items():
        assert all(same(d, draws[0]) for d in draws), key
    before = nd.normal(MT19937(7), 48, np.float32)
    monkeypatch.setattr(nd, "kernels", lambda: pytest.fail("kernels() looked up again"))
    assert same(nd.normal(MT19937(7), 48, np.float32), before)
    torch = pytest.importorskip("torch")
    for (n, dt), draws in got.items():
        torch.manual_seed(n)
        want = torch.empty(n, dtype=torch.float32 if dt is np.float32 else torch.float64)
        assert same(draws[0], want.normal_(0.3, 2.7).numpy()), (n, dt)


def test_capability_choice():
    avx512 = {"AVX2": True, "FMA3": True, "AVX512VL": True, "AVX512BW": True, "AVX512DQ": True}
    cc = nd._compute_capability
    if nd._X86:
        assert cc(None, avx512) == "AVX512"
        assert cc(None, {**avx512, "AVX512DQ": False}) == "AVX2"
        assert cc(None, {**avx512, "FMA3": False}) == "DEFAULT"
        assert cc("avx2", avx512) == "AVX2"
        assert cc("avx512", {}) == "AVX512"
        assert cc("AVX2", {"AVX2": True, "FMA3": True}) == "AVX2"   # invalid value: the CPU
        assert cc("bogus", {}) == "DEFAULT"
    assert cc("default", avx512) == "DEFAULT"
    for cap in ("AVX512", "AVX2", "DEFAULT"):
        x = nd.normal(MT19937(2), 40, np.float32, capability=cap)
        assert x.dtype == np.float32 and np.all(np.abs(x) < 6)
    # the AVX2 and DEFAULT float32 fills differ in the last bits, not in the numbers
    a = nd.normal(MT19937(2), 4096, np.float32, capability="AVX2")
    b = nd.normal(MT19937(2), 4096, np.float32, capability="DEFAULT")
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        nd.normal(MT19937(2), 40, np.float32, capability="avx2")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("contiguous", [True, False])
def test_statistics(dtype, contiguous):
    n = 200_000 if contiguous else 20_001
    x = nd.normal(MT19937(11), n, dtype, 2.0, 3.0, contiguous=contiguous).astype(np.float64)
    z = (x - 2.0) / 3.0
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.std() - 1.0) < 5 * math.sqrt(0.5 / n)
    for k, p in ((1, 0.682689), (2, 0.954500)):
        frac = np.mean(np.abs(z) < k)
        assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / n)
    # no two halves of a 16-block are the same numbers (radius shared, angle differs)
    if contiguous:
        blocks = z[: n // 16 * 16].reshape(-1, 16)
        r2 = blocks[:, :8] ** 2 + blocks[:, 8:] ** 2
        assert np.all(np.isfinite(r2)) and 1.5 < r2.mean() < 2.5   # E[chi2_2] = 2
