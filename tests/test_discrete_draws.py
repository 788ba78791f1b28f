"""tapegrad.discrete_draws: torch's CPU discrete draws bit for bit (against torch where it is
installed), and torch-free checks: known answers, ranges, dtypes, words consumed,
permutation property, frequencies."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import discrete_draws as D
from tapegrad.mt19937 import MT19937

SIZES = (1, 2, 7, 799, 800, 801, 1600)


# ---- helpers ------------------------------------------------------------------------------------
def _torch():
    return pytest.importorskip("torch")


def _same(torch, name, tfn, mfn, eng):
    """Run torch's call and ours from the same state; values, dtype and state must agree."""
    eng.set_state_bytes(bytes(torch.get_rng_state().numpy()))
    tv, mv = tfn(), mfn()
    tv = tv if isinstance(tv, tuple) else (tv,)
    mv = mv if isinstance(mv, tuple) else (mv,)
    for t, m in zip(tv, mv):
        t = t.numpy()
        assert t.dtype == m.dtype, name
        assert np.array_equal(t, m), (name, t.reshape(-1)[:8], m.reshape(-1)[:8])
    assert eng.state_bytes() == bytes(torch.get_rng_state().numpy()), name


def _words(fn, seed=1):
    """How many 32-bit words fn(engine) consumes."""
    e = MT19937(seed)
    fn(e)
    ref = MT19937(seed)
    for k in range(200000):
        if ref.state_bytes() == e.state_bytes():
            return k
        ref.u32(1)
    raise AssertionError("state not reached")


# ---- against torch ------------------------------------------------------------------------------
RANGES = [(0, 10), (-5, 3), (0, 2**28 - 1), (0, 2**28), (-2**27, 2**27), (0, 2**31),
          (0, 2**32), (-2**40, 2**40), (3, 2**62), (-2**63, 2**63 - 1), (0, 1)]


def test_randint_matches_torch():
    torch = _torch()
    for seed in range(6):
        torch.manual_seed(seed)
        e = MT19937(seed)
        for n in SIZES:
            for lo, hi in RANGES:
                _same(torch, f"randint{lo, hi}", lambda: torch.randint(lo, hi, (n,)),
                      lambda: D.randint(e, n, lo, hi), e)


def test_from_to_paths_agree(monkeypatch):
    # randint / random_(from, to) below 2**28: the one-call Numba fill on the loops' state
    # array and the Python-int path of a few values give the words-then-numpy path's values
    # and leave the same state
    from tapegrad import mt19937
    for lo, hi in [r for r in RANGES if r[1] - r[0] < 2**28] + [(-2**63, -2**63 + 7)]:
        for n in (0, 1, 16, 64, 65, 623, 624, 625, 2000):
            fast, small, slow = MT19937(7), MT19937(7), MT19937(7)
            fast.u32(5), small.u32(5), slow.u32(5)
            fast.loop_state()
            got = D.randint(fast, n, lo, hi)
            with monkeypatch.context() as m:   # (the words from CPython's engine)
                m.setattr(mt19937, "_bulk", lambda k: False)
                few = D.randint(small, n, lo, hi)
                m.setattr(D, "_PY_FROM_TO", -1)
                want = D.randint(slow, n, lo, hi)
            for drawn, engine in ((got, fast), (few, small)):
                assert drawn.dtype == want.dtype == np.int64
                assert np.array_equal(drawn, want), (lo, hi, n)
                assert engine.state_bytes() == slow.state_bytes()
            assert D.random_(fast, 9, np.int8, low=lo % 7, high=lo % 7 + 50).tolist() == \
                D.random_(slow, 9, np.int8, low=lo % 7, high=lo % 7 + 50).tolist()


def test_exponential_paths_agree(monkeypatch):
    # exponential_ (and multinomial's keys): the Numba fill (libm's log1p there) gives the
    # uniforms-then-math.log1p path's bits and leaves the same state
    from tapegrad import mt19937
    for lambd in (1.0, 0.3, 7.5, 1e-300, 1e300):
        for n in (0, 1, 311, 312, 313, 5000):
            fast, slow = MT19937(5), MT19937(5)
            fast.u32(3), slow.u32(3)
            fast.loop_state()
            with monkeypatch.context() as m:
                got = D.exponential_(fast, n, lambd, np.float64)
                m.setattr(mt19937, "_bulk", lambda k: False)
                want = D.exponential_(slow, n, lambd, np.float64)
            assert np.array_equal(got.view(np.uint64), want.view(np.uint64)), (lambd, n)
            assert fast.state_bytes() == slow.state_bytes()


def test_multinomial_replacement_paths_agree(monkeypatch):
    # multinomial with replacement: the Numba loop (cumulative sums in the rows' dtype, the
    # binary searches) gives the numpy path's indices and leaves the same state
    from tapegrad import mt19937
    rng = np.random.default_rng(0)
    cases = [rng.random((3, 50)).astype(np.float32), rng.random((1, 7)),
             rng.random(1000).astype(np.float32), np.array([0, 0, 1.0, 0]),
             np.array([1e-30, 1, 1e30], np.float32), rng.random((5, 1)),
             np.full(4, 0.25, np.float32)]
    for probs in cases:
        for k in (2, 17, 400):
            fast, slow = MT19937(9), MT19937(9)
            fast.loop_state()
            got = D.multinomial(fast, probs, k, True)
            with monkeypatch.context() as m:
                m.setattr(mt19937, "_bulk", lambda k: False)
                want = D.multinomial(slow, probs, k, True)
            assert np.array_equal(got, want), (probs.shape, k)
            assert fast.state_bytes() == slow.state_bytes()


def test_randperm_paths_agree_with_the_loops(monkeypatch):
    # randperm below 2**32 // 20: the Numba loop on the loops' state array (a word per swap)
    # gives the words-then-shuffle path's permutation and leaves the same state
    from tapegrad import mt19937
    for n in (2, 3, 10, 64, 623, 624, 625, 5000):
        fast, slow = MT19937(8), MT19937(8)
        fast.u32(2), slow.u32(2)
        fast.loop_state()
        got = D.randperm(fast, n)
        with monkeypatch.context() as m:
            m.setattr(mt19937, "_bulk", lambda k: False)
            want = D.randperm(slow, n)
        assert got.dtype == want.dtype and np.array_equal(got, want), n
        assert fast.state_bytes() == slow.state_bytes()


def test_random_dtypes_match_torch():
    torch = _torch()
    import warnings
    tds = {np.int64: torch.int64, np.int32: torch.int32, np.int16: torch.int16,
           np.int8: torch.int8, np.uint8: torch.uint8, np.float32: torch.float32,
           np.float64: torch.float64, np.bool_: torch.bool}
    for seed in range(3):
        torch.manual_seed(seed)
        e = MT19937(seed)
        for n in (1, 7, 801):
            for dt, tdt in tds.items():
                _same(torch, f"random_() {dt}", lambda: torch.empty(n, dtype=tdt).random_(),
                      lambda: D.random_(e, n, dt), e)
                to = 2 if dt is np.bool_ else 5
                _same(torch, f"random_(to) {dt}", lambda: torch.empty(n, dtype=tdt).random_(to),
                      lambda: D.random_(e, n, dt, high=to), e)
            for dt, lo, hi in [(np.int32, 0, 100), (np.float32, -7, 9), (np.float64, 0, 2**33),
                               (np.int8, -100, 100), (np.int32, -2**29, 2**29),
                               (np.float32, 0, 2**30), (np.float32, 0, 2**25),
                               (np.float32, -2**26 - 3, 2**28 + 5),
                               (np.float64, -2**60 + 1, 2**61 - 1)]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")   # float32 above 2**24: torch warns
                    _same(torch, f"random_({lo}, {hi}) {dt}",
                          lambda: torch.empty(n, dtype=tds[dt]).random_(lo, hi),
                          lambda: D.random_(e, n, dt, low=lo, high=hi), e)
            for dt, lo in [(np.int64, -2**63), (np.int64, 5), (np.int32, -3),
                           (np.float32, -10), (np.float64, 0), (np.uint8, 7),
                           (np.float32, -2**25 - 1), (np.bool_, 0)]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _same(torch, f"random_({lo}, None) {dt}",
                          lambda: torch.empty(n, dtype=tds[dt]).random_(lo, None),
                          lambda: D.random_(e, n, dt, low=lo), e)


def test_randperm_matches_torch():
    torch = _torch()
    for seed in range(5):
        torch.manual_seed(seed)
        e = MT19937(seed)
        for n in (0, 1, 2, 7, 800, 801, 4096, 4097, 30000):
            _same(torch, f"randperm({n})", lambda: torch.randperm(n), lambda: D.randperm(e, n), e)
        _same(torch, "randperm int32", lambda: torch.randperm(50, dtype=torch.int32),
              lambda: D.randperm(e, 50, np.int32), e)


@pytest.mark.parametrize("threads", [1, 2])
def test_bernoulli_scalar_matches_torch(threads):
    torch = _torch()
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for seed in range(4):
            torch.manual_seed(seed)
            e = MT19937(seed)
            for n in SIZES + (5000,):
                for p in (0.0, 0.1, 0.5, 1 / 3, 1.0):
                    for dt, tdt in ((np.float32, torch.float32), (np.float64, torch.float64),
                                    (np.int64, torch.int64), (np.bool_, torch.bool)):
                        _same(torch, f"bernoulli_({p}) {dt}",
                              lambda: torch.empty(n, dtype=tdt).bernoulli_(p),
                              lambda: D.bernoulli_scalar(e, n, p, dt), e)
    finally:
        torch.set_num_threads(old)


def test_bernoulli_tensor_matches_torch():
    torch = _torch()
    rs = np.random.default_rng(0)
    for seed in range(4):
        torch.manual_seed(seed)
        e = MT19937(seed)
        for n in SIZES:
            for dt in (np.float32, np.float64):
                probs = rs.random(n).astype(dt)
                probs[::5] = 0
                probs[1::7] = 1
                pt = torch.from_numpy(probs)
                _same(torch, f"bernoulli({dt})", lambda: torch.bernoulli(pt),
                      lambda: D.bernoulli_tensor(e, probs), e)
                _same(torch, f"bernoulli_(tensor {dt}) into float64",
                      lambda: torch.empty(n, dtype=torch.float64).bernoulli_(pt),
                      lambda: D.bernoulli_tensor(e, probs, np.float64), e)
        row = rs.random(5).astype(np.float32)
        _same(torch, "bernoulli_ broadcast",
              lambda: torch.empty(3, 5).bernoulli_(torch.from_numpy(row)),
              lambda: D.bernoulli_tensor(e, row, np.float32, shape=(3, 5)), e)


def test_dropout_matches_torch():
    torch = _torch()
    F = torch.nn.functional
    rs = np.random.default_rng(1)
    for seed in range(3):
        torch.manual_seed(seed)
        e = MT19937(seed)
        for n in (1, 7, 800, 801):
            for dt in (np.float32, np.float64):
                x = rs.standard_normal(n).astype(dt)
                xt = torch.from_numpy(x)
                for p in (0.0, 0.1, 0.5, 1 / 3, 0.08564916714362436, 1.0):
                    _same(torch, f"dropout {p} {dt}", lambda: F.dropout(xt, p, training=True),
                          lambda: x * D.dropout_noise(e, x.shape, p, dt), e)
                    _same(torch, f"alpha_dropout {p} {dt}",
                          lambda: F.alpha_dropout(xt, p, training=True),
                          lambda: (lambda a, b: x * a + b)(*D.alpha_dropout_affine(e, x.shape,
                                                                                   p, dt)), e)
                for p in (0.1, 0.5, 0.8205761223944049):
                    _same(torch, f"native_dropout {p} {dt}",
                          lambda: torch.native_dropout(xt, p, True),
                          lambda: D.native_dropout(e, x, p), e)
        for shape, fn in (((2, 3, 4, 5), F.dropout2d), ((4, 6, 3), F.dropout1d),
                          ((3, 5, 2, 2, 2), F.dropout3d)):
            for dt in (np.float32, np.float64):
                x = rs.standard_normal(shape).astype(dt)
                xt = torch.from_numpy(x)
                _same(torch, f"{fn.__name__} {dt}", lambda: fn(xt, 0.3, training=True),
                      lambda: x * D.dropout_noise(e, shape, 0.3, dt, feature=True), e)
                _same(torch, f"feature_alpha_dropout {shape} {dt}",
                      lambda: F.feature_alpha_dropout(xt, 0.3, training=True),
                      lambda: (lambda a, b: x * a + b)(*D.alpha_dropout_affine(
                          e, shape, 0.3, dt, feature=True)), e)


def test_exponential_geometric_cauchy_match_torch():
    torch = _torch()
    for seed in range(4):
        torch.manual_seed(seed)
        e = MT19937(seed)
        for n in SIZES:
            for dt, tdt in ((np.float32, torch.float32), (np.float64, torch.float64)):
                for lam in (1.0, 0.3, 2.5):
                    _same(torch, f"exponential_({lam}) {dt}",
                          lambda: torch.empty(n, dtype=tdt).exponential_(lam),
                          lambda: D.exponential_(e, n, lam, dt), e)
                # 0.7303...: log(1 - p) != log1p(-p)
                for p in (0.2, 0.01, 0.7303220628604507):
                    _same(torch, f"geometric_({p}) {dt}",
                          lambda: torch.empty(n, dtype=tdt).geometric_(p),
                          lambda: D.geometric_(e, n, p, dt), e)
                for med, sig in ((0.5, 2.0), (-3.7, 0.123), (1234.5, 0.01)):
                    _same(torch, f"cauchy_({med}, {sig}) {dt}",
                          lambda: torch.empty(n, dtype=tdt).cauchy_(med, sig),
                          lambda: D.cauchy_(e, n, med, sig, dt), e)
            _same(torch, "geometric_ int64",
                  lambda: torch.empty(n, dtype=torch.int64).geometric_(0.3),
                  lambda: D.geometric_(e, n, 0.3, np.int64), e)


def test_multinomial_matches_torch():
    torch = _torch()
    rs = np.random.default_rng(2)
    for seed in range(3):
        torch.manual_seed(seed)
        e = MT19937(seed)
        for ncat in (1, 2, 7, 50, 801):
            for dt in (np.float32, np.float64):
                for shape in ((ncat,), (3, ncat)):
                    probs = rs.random(shape).astype(dt) + dt(0.01)
                    pt = torch.from_numpy(probs)
                    for ns in sorted({1, min(2, ncat), min(5, ncat), ncat}):
                        _same(torch, f"multinomial {shape} {ns}",
                              lambda: torch.multinomial(pt, ns),
                              lambda: D.multinomial(e, probs, ns), e)
                    for ns in (1, 2, 300):
                        _same(torch, f"multinomial {shape} {ns} replacement",
                              lambda: torch.multinomial(pt, ns, True),
                              lambda: D.multinomial(e, probs, ns, True), e)
                    pz = probs.copy()
                    pz[..., 1::3] = 0
                    _same(torch, f"multinomial zeros {shape}",
                          lambda: torch.multinomial(torch.from_numpy(pz), 40, True),
                          lambda: D.multinomial(e, pz, 40, True), e)


def test_mixed_sequence_tracks_torch_state():
    """One engine through a long mixed sequence, never resynchronised from torch."""
    torch = _torch()
    F = torch.nn.functional
    torch.manual_seed(77)
    e = MT19937(77)
    x = np.linspace(-1, 1, 33).astype(np.float32)
    pr = np.linspace(0, 1, 19)
    for step in range(12):
        n = (step * 97) % 801 + 1
        pairs = [
            (torch.randint(-3, 2**29, (n,)), D.randint(e, n, -3, 2**29)),
            (torch.randperm(n), D.randperm(e, n)),
            (torch.empty(n).bernoulli_(0.3), D.bernoulli_scalar(e, n, 0.3)),
            (torch.bernoulli(torch.from_numpy(pr)), D.bernoulli_tensor(e, pr)),
            (F.dropout(torch.from_numpy(x), 0.2), x * D.dropout_noise(e, x.shape, 0.2)),
            (torch.empty(n, dtype=torch.int32).random_(), D.random_(e, n, np.int32)),
            (torch.multinomial(torch.from_numpy(pr + 0.1), 4), D.multinomial(e, pr + 0.1, 4)),
        ]
        for t, m in pairs:
            assert np.array_equal(t.numpy(), m)
        assert e.state_bytes() == bytes(torch.get_rng_state().numpy())


# ---- torch-free ---------------------------------------------------------------------------------
def test_known_answers():
    """Values recorded from torch 2.13 (CPU) after torch.manual_seed(2024)."""
    assert D.randint(MT19937(2024), 12, 0, 10).tolist() == [2, 0, 4, 0, 3, 0, 0, 1, 3, 9, 7, 4]
    assert D.randint(MT19937(2024), 4, -2**40, 2**40).tolist() == [
        -512144126470, -684021872000, -980991511004, 819879395511]
    assert D.randperm(MT19937(2024), 12).tolist() == [8, 10, 6, 11, 7, 1, 5, 0, 9, 4, 3, 2]
    assert D.bernoulli_scalar(MT19937(2024), 16, 0.3).astype(int).tolist() == [
        1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    assert D.bernoulli_tensor(MT19937(2024), np.full(16, 0.6, np.float32)).astype(
        int).tolist() == [1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 1]
    assert D.random_(MT19937(2024), 3, np.int64).tolist() == [
        1623581238383398394, 3672908012959206016, 3470791090525271588]
    k = np.float32(1) / np.float32(0.75)
    assert D.dropout_noise(MT19937(2024), (10,), 0.25).tolist() == [
        k, 0, k, k, 0, k, k, k, k, k]
    e = MT19937(2024)
    assert D.multinomial(e, np.array([.1, .2, .3, .4], np.float32), 6, True).tolist() == [
        1, 3, 2, 3, 3, 1]
    assert D.multinomial(e, np.array([.1, .2, .3, .4], np.float32), 3).tolist() == [3, 2, 1]
    # torch's x86-64 kernels fuse median + sigma * tan(..) into one fma: the first value
    # differs in the last bit from the unfused sum
    c = D.cauchy_(MT19937(29), 2, -3.7, 0.123, np.float64)
    assert [v.hex() for v in c.tolist()] == ['-0x1.b332ca2187d89p+0', '-0x1.da39014ada6e3p+1']
    assert D.cauchy_(MT19937(29), 1, -3.7, 0.123, np.float64, fused=False)[0].hex() == \
        '-0x1.b332ca2187d8ap+0'
    assert D.exponential_(MT19937(2024), 3, 1.0, np.float64).tolist() == pytest.approx(
        [0.29266422313564866, 1.4903416583347897, 0.40829646737739766], rel=1e-14)


def test_words_consumed():
    # below 2**28 one word per value, from 2**28 on two, whatever the dtype
    assert _words(lambda e: D.randint(e, 10, 0, 2**28 - 1)) == 10
    assert _words(lambda e: D.randint(e, 10, 0, 2**28)) == 20
    assert _words(lambda e: D.random_(e, 10, np.int32, low=-2**27, high=2**27)) == 20
    assert _words(lambda e: D.random_(e, 10, np.int64)) == 20
    assert _words(lambda e: D.random_(e, 10, np.int32)) == 10
    assert _words(lambda e: D.random_(e, 10, np.float32)) == 10
    assert _words(lambda e: D.random_(e, 10, np.float64)) == 20
    assert _words(lambda e: D.randperm(e, 10)) == 9
    assert _words(lambda e: D.randperm(e, 1)) == 0
    assert _words(lambda e: D.bernoulli_scalar(e, 10, 0.5)) == 20
    assert _words(lambda e: D.bernoulli_tensor(e, np.full(10, .5, np.float32))) == 10
    assert _words(lambda e: D.bernoulli_tensor(e, np.full(10, .5, np.float64))) == 20
    assert _words(lambda e: D.dropout_noise(e, (2, 5), 0.0)) == 0
    assert _words(lambda e: D.dropout_noise(e, (2, 5), 1.0)) == 0
    assert _words(lambda e: D.dropout_noise(e, (2, 3, 4), 0.5, feature=True)) == 12
    assert _words(lambda e: D.multinomial(e, np.ones(6), 3)) == 12
    assert _words(lambda e: D.multinomial(e, np.ones(6), 3, True)) == 6


def test_ranges_and_dtypes():
    e = MT19937(5)
    for lo, hi in RANGES:
        v = D.randint(e, 3000, lo, hi)
        assert v.dtype == np.int64 and v.shape == (3000,)
        assert v.min() >= lo and v.max() <= hi - 1
    assert set(D.randint(e, 500, -2, 2).tolist()) == {-2, -1, 0, 1}
    v = D.random_(e, 5000, np.int64)
    assert v.dtype == np.int64 and v.min() >= 0 and v.max() > 2**61
    v = D.random_(e, 5000, np.int32)
    assert v.dtype == np.int32 and v.min() >= 0 and v.max() > 2**29
    v = D.random_(e, 5000, np.float32)
    assert v.dtype == np.float32 and v.min() >= 0 and v.max() <= 2**24 and v.max() > 2**23
    assert np.array_equal(v, np.round(v))
    v = D.random_(e, 5000, np.float64)
    assert v.dtype == np.float64 and 0 <= v.min() and v.max() <= 2**53
    v = D.random_(e, 5000, np.uint8)
    assert v.dtype == np.uint8 and v.max() == 255
    v = D.random_(e, 5000, np.int8)
    assert v.dtype == np.int8 and v.min() == 0 and v.max() == 127
    v = D.random_(e, 1000, np.bool_)
    assert v.dtype == np.bool_ and 0 < v.sum() < 1000
    v = D.random_(e, 1000, np.int64, low=-2**63)
    assert (v < 0).any() and (v > 0).any()
    with pytest.raises(RuntimeError):
        D.randint(e, 3, 5, 5)
    for dt in (np.float32, np.float64, np.int64, np.bool_):
        assert D.bernoulli_scalar(e, 10, 0.5, dt).dtype == dt
    assert D.dropout_noise(e, (3, 4), 0.5, np.float64).dtype == np.float64
    assert D.dropout_noise(e, (3, 4, 5, 6), 0.5, feature=True).shape == (3, 4, 1, 1)
    assert D.exponential_(e, 100).min() > 0
    g = D.geometric_(e, 1000, 0.3, np.int64)
    assert g.dtype == np.int64 and g.min() >= 1


def test_randperm_is_a_permutation(monkeypatch):
    e = MT19937(3)
    for n in (0, 1, 2, 3, 10, 4096, 4097, 20000):
        p = D.randperm(e, n)
        assert p.dtype == np.int64 and np.array_equal(np.sort(p), np.arange(n))
    # torch's large-n algorithm (n >= 2**32 // 20 there): forced on small n here
    monkeypatch.setattr(D, "RANDPERM_LARGE_N", 5)
    for n in (5, 6, 100, 5000):
        p = D.randperm(e, n)
        assert np.array_equal(np.sort(p), np.arange(n))
        assert _words(lambda en: D.randperm(en, n)) == 2 * n


def test_randperm_paths_agree(monkeypatch):
    """Python loop and Numba kernel: the same permutation and the same words."""
    monkeypatch.setattr(D, "_PY_SHUFFLE_MAX", 1 << 30)
    monkeypatch.setattr(D, "kernels_cheap", lambda: False)
    e1 = MT19937(11)
    a = D.randperm(e1, 9000)
    monkeypatch.setattr(D, "_PY_SHUFFLE_MAX", 0)
    e2 = MT19937(11)
    assert np.array_equal(a, D.randperm(e2, 9000))
    assert e1.state_bytes() == e2.state_bytes()


def test_frequencies():
    e = MT19937(123)
    n = 200000
    for p in (0.05, 0.5, 0.9):
        for f in (lambda: D.bernoulli_scalar(e, n, p),
                  lambda: D.bernoulli_tensor(e, np.full(n, p, np.float32)),
                  lambda: D.dropout_noise(e, (n,), 1 - p) != 0):
            m = f().mean()
            assert abs(m - p) < 5 * math.sqrt(p * (1 - p) / n)
    v = D.randint(e, n, 0, 10)
    counts = np.bincount(v, minlength=10)
    chi2 = ((counts - n / 10) ** 2 / (n / 10)).sum()
    assert chi2 < 40       # 9 degrees of freedom: p < 1e-5
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    s = D.multinomial(e, probs, 50000, True)
    freq = np.bincount(s, minlength=4) / 50000
    assert np.abs(freq - probs).max() < 0.01
    rows = D.multinomial(e, np.ones((200, 10)), 10)
    assert all(len(set(r)) == 10 for r in rows.tolist())
    firsts = np.bincount([D.randperm(e, 8)[0] for _ in range(8000)], minlength=8)
    assert firsts.min() > 800 and firsts.max() < 1200
    x = D.exponential_(e, n, 2.0, np.float64)
    assert abs(x.mean() - 0.5) < 0.01
    g = D.geometric_(e, n, 0.25, np.float64)
    assert abs(g.mean() - 4) < 0.05
    c = D.cauchy_(e, 20000, 1.0, 1.0, np.float64)     # median's sd: pi / (2 sqrt(n)) = 0.011
    assert abs(np.median(c) - 1.0) < 0.06


def test_same_seed_same_draws():
    for f in (lambda e: D.randint(e, 50, 0, 2**40), lambda e: D.randperm(e, 50),
              lambda e: D.dropout_noise(e, (5, 10), 0.3),
              lambda e: D.multinomial(e, np.arange(1.0, 6.0), 3)):
        assert np.array_equal(f(MT19937(8)), f(MT19937(8)))
        assert not np.array_equal(f(MT19937(8)), f(MT19937(9)))


@pytest.mark.parametrize("p", [2.0, -0.999999999, float("nan"), 1e10])
def test_probability_errors_print_p_as_torch(p, torch_ref):
    """torch prints p as a C++ double (2.0 as 2, 1e10 as 1e+10)."""
    msgs = []
    for m in (tg, torch_ref):
        for call in (lambda t: t.bernoulli_(p), lambda t: t.geometric_(p)):
            t = m.ones(2)
            with pytest.raises(RuntimeError) as e:
                call(t)
            msgs.append((str(e.value), t._version))
    assert msgs[:2] == msgs[2:]
