"""The default generator, `Generator` and the uniform draws give torch's numbers for the same
seed (tapegrad/mt19937.py, tapegrad/random.py): compared with torch where it is installed;
the engine is also checked against the reference mt19937 without torch."""
import numpy as np
import pytest

import tapegrad
from tapegrad import mt19937
from tapegrad.mt19937 import MT19937, STATE_BYTES


def _torch():
    return pytest.importorskip("torch")


def values(t):
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def same(a, b):
    a, b = np.ascontiguousarray(values(a)), np.ascontiguousarray(values(b))
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), (a, b)


# -- the engine, without torch -------------------------------------------------------------------
def _reference_mt19937(seed, k):
    """The reference algorithm (Matsumoto & Nishimura's mt19937ar: init_genrand, genrand_int32)."""
    mt = [0] * 624
    mt[0] = seed
    for i in range(1, 624):
        mt[i] = (1812433253 * (mt[i - 1] ^ (mt[i - 1] >> 30)) + i) & 0xFFFFFFFF
    out, idx = [], 624
    for _ in range(k):
        if idx >= 624:
            for i in range(624):
                y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7FFFFFFF)
                mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            idx = 0
        y = mt[idx]
        idx += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        out.append(y)
    return out


@pytest.mark.parametrize("seed", [0, 5489, 10000, 2 ** 32 - 1])
def test_engine_words_are_mt19937(seed):
    e = MT19937(seed)
    words = np.concatenate([e.u32(1), e.u32(700), e.u32(600)])   # across two twists
    assert words.tolist() == _reference_mt19937(seed, 1301)


@pytest.mark.parametrize("bulk", [False, True])
def test_engine_bulk_draws_move_the_state_between_its_two_holders(monkeypatch, bulk):
    # draws run in the Numba loops on the state's array once it is there (mt19937._bulk: a
    # large draw, or numba's kernels loaded), until a state read, a copy or a reseed takes it
    # back to CPython's engine: any mix of the two gives the reference words
    monkeypatch.setattr(mt19937, "jit_loaded", lambda: False)
    monkeypatch.setattr(mt19937, "_BULK_LOAD", 600 if bulk else 1 << 40)
    e = MT19937(77)
    ref = _reference_mt19937(77, 4000)
    got, held = [], []
    for k in (1, 700, 3, 650, 2):
        got.extend(e.u32(k).tolist())
        held.append(e._loop is not None)
        if k == 700:
            state = e.state_bytes()                # (takes the state back)
    assert held == ([False, True, False, True, True] if bulk else [False] * 5)
    c = e.copy()
    got.extend(e.u32(300).tolist())
    assert got == ref[:len(got)]
    assert c.u32(300).tolist() == got[-300:]
    u = e.uniform_f32(640)                         # 640 words
    assert np.array_equal(u, (np.array(ref[len(got):len(got) + 640], np.uint32) & 0xFFFFFF)
                          .astype(np.float32) * np.float32(2.0 ** -24))
    d = e.uniform_f64(320)                         # 640 words, the first of a pair the high
    w = np.array(ref[len(got) + 640:len(got) + 1280], np.uint64)
    assert np.array_equal(d, (((w[0::2] << np.uint64(32)) | w[1::2]) & np.uint64(2 ** 53 - 1))
                          .astype(np.float64) * 2.0 ** -53)
    loop = e.loop_state()                          # a sampler's loop takes it, gives it back
    e.set_loop_state(loop)
    assert e.u32(5).tolist() == ref[len(got) + 1280:len(got) + 1285]
    f = MT19937()
    f.set_state_bytes(state)
    assert f.u32(650 + 3).tolist()[3:] == ref[704:1354]


def test_bulk_draws_between_other_draws_match_torch(monkeypatch):
    # the Numba loops' words (from 64 words on, and every draw while the state is there)
    # between getrandbits draws, the samplers' loops, state reads and writes, fork_rng: torch's
    # numbers
    torch = _torch()
    monkeypatch.setattr(mt19937, "jit_loaded", lambda: False)
    monkeypatch.setattr(mt19937, "_BULK_LOAD", 64)

    def run(m):
        m.manual_seed(11)
        out = [m.rand(100), m.randn(5), m.randn(300, dtype=m.float64), m.rand(7, dtype=m.float64)]
        state = m.get_rng_state()
        out += [m.randint(0, 10, (200,)), m.poisson(m.full((90,), 3.0)), m.rand(3)]
        with m.random.fork_rng():
            out.append(m.randn(500))
        out += [m.bernoulli(m.full((150,), 0.3)), m.empty(120).uniform_(-2, 3),
                m.randperm(100), m.get_rng_state()]
        m.set_rng_state(state)
        out += [m.randint(0, 10, (200,)), m.randn(40)]
        g = m.Generator().manual_seed(5)
        out += [m.rand(400, generator=g), m.normal(0.0, 1.0, (70,), generator=g),
                m.rand(2, generator=g)]
        return out
    for a, b in zip(run(torch), run(tapegrad)):
        same(a, b)


def test_engine_u64_pairs_high_word_first():
    a, b = MT19937(7), MT19937(7)
    w = a.u32(6).astype(np.uint64)
    assert b.u64(3).tolist() == ((w[0::2] << np.uint64(32)) | w[1::2]).tolist()


def test_engine_state_round_trip_and_copy():
    e = MT19937(123)
    e.u32(5)
    e.next_double_normal = 0.25
    raw = e.state_bytes()
    assert len(raw) == STATE_BYTES
    f = MT19937()
    f.set_state_bytes(raw)
    assert f.state_bytes() == raw and f.next_double_normal == 0.25
    c = e.copy()
    assert c.u32(10).tolist() == e.u32(10).tolist()
    fresh = MT19937(9).state_bytes()
    assert MT19937(9).state_bytes() == fresh       # seeding is deterministic
    assert fresh != MT19937(10).state_bytes()


def test_seed_reproduces_and_state_restores():
    tapegrad.manual_seed(3)
    a = tapegrad.rand(5)
    tapegrad.manual_seed(3)
    state = tapegrad.get_rng_state()
    assert state.dtype == tapegrad.uint8 and tuple(state.shape) == (STATE_BYTES,)
    same(a, tapegrad.rand(5))
    b = tapegrad.rand(7, dtype=tapegrad.float64)
    tapegrad.set_rng_state(state)
    tapegrad.rand(5)
    same(b, tapegrad.rand(7, dtype=tapegrad.float64))


def test_generator_api():
    g = tapegrad.Generator()
    assert g.initial_seed() == 67280421310721        # torch's default_rng_seed_val
    assert g.manual_seed(-1) is g and g.initial_seed() == 2 ** 64 - 1
    with pytest.raises(RuntimeError, match="manual_seed expected a long, but got float"):
        g.manual_seed(1.5)
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        g.manual_seed(2 ** 64)
    tapegrad.manual_seed(1.5)                         # torch.manual_seed: int(seed)
    assert tapegrad.initial_seed() == 1
    s = g.seed()
    assert g.initial_seed() == s
    with pytest.raises(TypeError, match="RNG state must be a torch.ByteTensor"):
        g.set_state(tapegrad.zeros(STATE_BYTES))
    with pytest.raises(TypeError, match="expected a torch.ByteTensor, but got list"):
        tapegrad.set_rng_state([0] * STATE_BYTES)
    with pytest.raises(RuntimeError, match="size 5056 but found the input RNG state size to "
                                           "be 10"):
        g.set_state(tapegrad.zeros(10, dtype=tapegrad.uint8))
    with pytest.raises(RuntimeError, match="Invalid mt19937 state"):
        g.set_state(tapegrad.zeros(STATE_BYTES, dtype=tapegrad.uint8))
    # (torch's parser: no form takes an int generator, so it lists them)
    with pytest.raises(TypeError, match=r"rand\(\) received an invalid combination of "
                                        r"arguments - got \(int, generator=int\)"):
        tapegrad.rand(3, generator=5)


def test_uniform_in_range_and_generator_independent():
    g = tapegrad.Generator().manual_seed(0)
    x = tapegrad.empty(10000, dtype=tapegrad.float64).uniform_(-2.0, 3.0, generator=g)
    v = values(x)
    assert v.min() >= -2.0 and v.max() < 3.0 and abs(v.mean() - 0.5) < 0.05
    tapegrad.manual_seed(0)
    before = tapegrad.get_rng_state()
    tapegrad.rand(3, generator=g)
    same(before, tapegrad.get_rng_state())       # the default generator did not move


# -- against torch -------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 10000, 2 ** 40 + 3])
def test_rand_and_state_match_torch(seed):
    torch = _torch()
    for m in (tapegrad, torch):
        m.manual_seed(seed)
    for size, dt in [((3,), "float32"), ((17, 5), "float32"), ((1000,), "float64"),
                     ((2, 3, 4), "float64"), ((0,), "float32")]:
        same(tapegrad.rand(*size, dtype=getattr(tapegrad, dt)),
             torch.rand(*size, dtype=getattr(torch, dt)))
        assert bytes(values(tapegrad.get_rng_state())) == bytes(torch.get_rng_state().numpy())


def test_uniform_bounds_and_strided_tensors_match_torch():
    torch = _torch()
    out = []
    for m in (tapegrad, torch):
        m.manual_seed(5)
        a = m.empty(1000).uniform_(-0.3, 0.7)               # one rounding (fma), as torch
        b = m.empty(500, dtype=m.float64).uniform_(-1.2345, 3.3)
        c = m.empty(3, 2).t()
        c.uniform_(2.0, 5.5)                                # memory order
        d = m.empty(4, 3, 2).permute(2, 0, 1)[:, 1:3]
        d.uniform_()
        out.append([a, b, c, d])
    for x, y in zip(*out):
        same(x, y)


def test_draws_like_a_0d_tensor():
    """rand_like / randn_like / randint_like of a 0-d tensor: a 0-d draw, torch's value (the
    factories they call take the empty shape as one tuple: no size at all is torch's
    TypeError)."""
    torch = _torch()
    out = []
    for m in (tapegrad, torch):
        m.manual_seed(5)
        x = m.tensor(2.0, dtype=m.float64)
        out.append([m.rand_like(x), m.randn_like(x), m.randint_like(x, 10),
                    m.randn_like(m.tensor(1.0), requires_grad=True)])
    for x, y in zip(*out):
        assert tuple(x.shape) == () and x.dtype.is_floating_point == y.dtype.is_floating_point
        same(x, y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_draws_like_a_transposed_tensor_follow_its_memory_order(dtype):
    """torch draws dropout's mask and rand_like & co into empty_like(x), which keeps the order
    of x's strides, in memory order (and randn_like's normal_ takes its serial path when that
    is not row-major): a transposed, permuted or sliced x gets them so; the generator's state
    afterwards is torch's too."""
    torch = _torch()
    out = []
    for m in (tapegrad, torch):
        m.manual_seed(3)
        dt = getattr(m, dtype)
        base = m.arange(120.0, dtype=dt).reshape(2, 3, 4, 5)
        xs = [m.ones(3, 4, dtype=dt).t(), base.permute(0, 2, 3, 1), base[0].transpose(0, 2),
              m.ones(8, 12, dtype=dt).t()[::2], m.ones(6, 7, dtype=dt).t(), m.ones(4, 6, dtype=dt)]
        got = []
        for x in xs:
            got += [m.nn.functional.dropout(x, 0.4), m.nn.functional.alpha_dropout(x, 0.5, True),
                    m.rand_like(x), m.randn_like(x), m.randint_like(x, 10),
                    m.randn_like(x, requires_grad=True)]
        got.append(m.get_rng_state())
        out.append(got)
    for x, y in zip(*out):
        same(x, y)
        assert getattr(x, "requires_grad", False) == getattr(y, "requires_grad", False)


def test_torch_state_is_taken_and_given():
    torch = _torch()
    torch.manual_seed(11)
    torch.rand(13)
    tapegrad.set_rng_state(tapegrad.tensor(torch.get_rng_state().numpy(), dtype=tapegrad.uint8))
    same(tapegrad.rand(40, dtype=tapegrad.float64), torch.rand(40, dtype=torch.float64))
    torch.set_rng_state(torch.from_numpy(values(tapegrad.get_rng_state()).copy()))
    same(tapegrad.rand(9), torch.rand(9))
    g, h = tapegrad.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert bytes(values(g.get_state())) == bytes(h.get_state().numpy())
    same(tapegrad.rand(6, generator=g), torch.rand(6, generator=h))


@pytest.mark.parametrize("make", [
    lambda m: m.nn.Linear(7, 3),
    lambda m: m.nn.Linear(7, 3, dtype=m.float64),
    lambda m: m.nn.Conv2d(2, 4, 3),
    lambda m: m.nn.Sequential(m.nn.Linear(4, 8), m.nn.Tanh(), m.nn.Linear(8, 1)),
])
def test_module_initialisation_matches_torch(make):
    torch = _torch()
    params = []
    for m in (tapegrad, torch):
        m.manual_seed(0)
        params.append([p for p in make(m).parameters()])
    for p, q in zip(*params):
        same(p, q)


@pytest.mark.parametrize("init, args", [("uniform_", (-0.5, 2.0)), ("xavier_uniform_", ()),
                                        ("kaiming_uniform_", ()),
                                        ("kaiming_uniform_", (0, "fan_out", "relu"))])
def test_uniform_initialisers_match_torch(init, args):
    torch = _torch()
    out = []
    for m in (tapegrad, torch):
        m.manual_seed(2)
        w = m.empty(6, 5)
        getattr(m.nn.init, init)(w, *args)
        out.append(w)
    same(*out)


def test_dataloader_shuffle_and_random_split_match_torch():
    torch = _torch()
    from torch.utils.data import DataLoader as TD, TensorDataset as TT, random_split as trs
    from tapegrad.utils.data import DataLoader, TensorDataset, random_split
    tapegrad.manual_seed(0)
    torch.manual_seed(0)
    for _ in range(2):     # two epochs: each draws a new order and a worker base seed
        a = [b[0].tolist() for b in DataLoader(TensorDataset(tapegrad.arange(10.)),
                                                batch_size=4, shuffle=True)]
        b = [b[0].tolist() for b in TD(TT(torch.arange(10.)), batch_size=4, shuffle=True)]
        assert a == b
    parts = [list(s.indices) for s in random_split(range(10), [3, 7])]
    assert parts == [list(s.indices) for s in trs(range(10), [3, 7])]
    same(tapegrad.rand(4), torch.rand(4))


def _weighted_orders(m):
    from importlib import import_module
    data = import_module(m.__name__ + ".utils.data")
    m.manual_seed(3)
    out = []
    for w, n, replacement in (([0.2, 0.5, 0.3], 1, True), ([0.2, 0.5, 0.3], 6, True),
                              ([0.2, 0.5, 0.3], 3, False), ([0.7, 0.1], 1, False)):
        out.append(list(data.WeightedRandomSampler(w, n, replacement)))
        g = m.Generator().manual_seed(11)
        out.append(list(data.WeightedRandomSampler(w, n, replacement, generator=g)))
    return out, values(m.rand(2)).tolist()


def test_weighted_random_sampler_orders_match_torch():
    """torch's WeightedRandomSampler is torch.multinomial of its float64 weights: one sample
    with replacement takes its exponential race, not the inverse-CDF draws."""
    assert _weighted_orders(tapegrad) == _weighted_orders(_torch())


def test_seeded_training_run_follows_torch():
    """A whole seeded program, written once for either module: random inputs, default layer
    initialisation, dropout, a shuffled DataLoader and SGD give torch's losses (to float32
    round-off: BLAS and elementwise functions may differ in the last bit)."""
    torch = _torch()

    def run(m):
        from importlib import import_module
        data = import_module(m.__name__ + ".utils.data")
        m.manual_seed(0)
        X = m.randn(64, 5)
        Y = (X[:, :1] * 2 - X[:, 1:2]).tanh() + 0.1 * m.randn(64, 1)
        model = m.nn.Sequential(m.nn.Linear(5, 16), m.nn.ReLU(), m.nn.Dropout(0.2),
                                m.nn.Linear(16, 1))
        opt = m.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        loader = data.DataLoader(data.TensorDataset(X, Y), batch_size=16, shuffle=True)
        losses = []
        for _ in range(3):
            for xb, yb in loader:
                opt.zero_grad()
                loss = m.nn.functional.mse_loss(model(xb), yb)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        return np.array(losses), m.rand(3).tolist()

    (ours, after_ours), (theirs, after_theirs) = run(tapegrad), run(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert after_ours == after_theirs      # the same number of draws was consumed


FILLS = {
    "randn": lambda m: m.randn(3, 7),
    "randn_f64_T": lambda m: m.empty(5, 4, dtype=m.float64).t().normal_(0.5, 2.0),
    "normal_tensor_std": lambda m: m.normal(1.5, m.arange(1.0, 21.0)),
    "randint": lambda m: m.randint(-5, 2 ** 30, (40,)),
    "randint_f32": lambda m: m.randint(0, 9, (9,), dtype=m.float32),
    "randperm": lambda m: m.randperm(50),
    "random_": lambda m: m.empty(10, dtype=m.int64).random_(),
    "random_to": lambda m: m.empty(10).random_(7),
    "random_from_none": lambda m: m.empty(10, dtype=m.int32).random_(5, None),
    "bernoulli_p": lambda m: m.empty(30).bernoulli_(0.3),
    "bernoulli_t": lambda m: m.bernoulli(m.full((30,), 0.4, dtype=m.float64)),
    "bernoulli_method": lambda m: m.full((3, 4), 0.6).bernoulli(),
    "exponential_": lambda m: m.empty(20).exponential_(2.0),
    "geometric_": lambda m: m.empty(20, dtype=m.int64).geometric_(0.3),
    "cauchy_": lambda m: m.empty(20, dtype=m.float64).cauchy_(1.0, 2.0),
    "log_normal_": lambda m: m.empty(20).log_normal_(0.2, 0.5),
    "multinomial": lambda m: m.multinomial(m.tensor([0.1, 0.5, 0.4]), 10, True),
    "multinomial_rows": lambda m: m.tensor([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]]).multinomial(2),
    # more samples than nonzero probabilities: the zeros in the order topk leaves its ties
    "multinomial_zero_ties": lambda m: m.multinomial(m.tensor(
        [0.5, 0.0, 0.3, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.1]), 10),
    "multinomial_zero_ties_rows": lambda m: m.tensor(
        [[0.0, 0.1, 0.0, 0.0, 0.0, 0.0], [0.2, 0.0, 0.0, 0.0, 0.3, 0.0]],
        dtype=m.float64).multinomial(5),
    "multinomial_zero_ties_partial_sort": lambda m: m.multinomial(
        m.nn.functional.one_hot(m.tensor(7), 200).double(), 3),
    "dropout": lambda m: m.nn.functional.dropout(m.ones(40, dtype=m.float64), 0.3),
    "dropout2d": lambda m: m.nn.Dropout2d(0.5)(m.ones(2, 3, 4, 4)),
    "alpha_dropout": lambda m: m.nn.functional.alpha_dropout(m.arange(12.0), 0.4, True),
    "embedding_init": lambda m: m.nn.Embedding(10, 3).weight,
    "trunc_normal_": lambda m: m.nn.init.trunc_normal_(m.empty(3, 5)),
    "trunc_normal_narrow": lambda m: m.nn.init.trunc_normal_(m.empty(3, 5), 0.0, 1.0, -0.5,
                                                             0.5),
    "kaiming_normal_": lambda m: m.nn.init.kaiming_normal_(m.empty(30, 50)),
    "distribution_normal": lambda m: m.distributions.Normal(m.tensor([0.0, 1.0]),
                                                            m.tensor([1.0, 2.0])).rsample((3,)),
    "distribution_exponential": lambda m: m.distributions.Exponential(2.0).sample((5,)),
    "distribution_cauchy": lambda m: m.distributions.Cauchy(0.0, 1.0).sample((5,)),
    "distribution_categorical": lambda m: m.distributions.Categorical(
        m.tensor([0.2, 0.3, 0.5])).sample((5,)),
}


@pytest.mark.parametrize("name", sorted(FILLS))
def test_samplers_match_torch(name):
    torch = _torch()
    out = []
    for m in (tapegrad, torch):
        m.manual_seed(7)
        r = FILLS[name](m)
        out.append((values(r), bytes(values(m.get_rng_state()))))
    same(out[0][0], out[1][0])
    assert out[0][1] == out[1][1]          # the generator advanced as torch's


def test_sampler_errors_as_torch():
    with pytest.raises(RuntimeError, match=r"log_normal_ expects std > 0.0, but found std=0"):
        tapegrad.empty(3).log_normal_(1, 0)
    with pytest.raises(RuntimeError, match="exponential_ expects lambda > 0.0"):
        tapegrad.empty(3).exponential_(0)
    with pytest.raises(RuntimeError, match=r"geometric_ expects p to be in \(0, 1\)"):
        tapegrad.empty(3).geometric_(1.5)
    with pytest.raises(RuntimeError, match="Cauchy distribution is a continuous probability "
                                           "distribution. dtype must be a floating point but "
                                           "you specified long int"):
        tapegrad.empty(3, dtype=tapegrad.int64).cauchy_()
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to'"):
        tapegrad.empty(3).random_(5, 2)
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size"):
        tapegrad.tensor([0.5, 0.5]).multinomial(3)


def test_worker_processes_draw_as_torch():
    """Random draws inside Dataset.__getitem__ in 2 worker processes (each seeded with the
    loader's base seed + its id) and the shuffled order give torch's batches."""
    torch = _torch()

    def run(m):
        from importlib import import_module
        data = import_module(m.__name__ + ".utils.data")

        class Noisy(data.Dataset):
            def __len__(self):
                return 8

            def __getitem__(self, i):
                return m.rand(2) + i
        m.manual_seed(0)
        loader = data.DataLoader(Noisy(), batch_size=2, shuffle=True, num_workers=2)
        return [b.tolist() for b in loader], m.rand(1).tolist()
    assert run(tapegrad) == run(torch)


def test_worker_processes_seed_numpy_as_torch():
    """np.random in a worker draws what it draws under torch: the worker seeds numpy with
    torch's _generate_state(base_seed, worker_id) (a SeedSequence mix), not the int seed."""
    torch = _torch()
    from tapegrad.utils.data._worker import _generate_state
    from torch.utils.data._utils.worker import _generate_state as theirs
    for seed, worker in ((0, 0), (2 ** 63 + 12345, 3), (987654321987, 17)):
        assert _generate_state(seed, worker) == theirs(seed, worker)

    def run(m):
        from importlib import import_module
        data = import_module(m.__name__ + ".utils.data")

        class Noisy(data.Dataset):
            def __len__(self):
                return 4

            def __getitem__(self, i):
                return float(np.random.rand())
        m.manual_seed(0)
        return [b.tolist() for b in data.DataLoader(Noisy(), batch_size=2, num_workers=2)]
    assert run(tapegrad) == run(torch)


def _random_errors(m):
    def run(f):
        try:
            return f().tolist()
        except (RuntimeError, TypeError, NotImplementedError) as e:
            return type(e).__name__, str(e)
    cases = [lambda: m.randint(0, 5), lambda: m.zeros(2).exponential_(-1.5),
             lambda: m.zeros(2).exponential_(-2), lambda: m.zeros(2).exponential_(0.0),
             lambda: m.bernoulli(m.tensor([0, 1])), lambda: m.tensor([0, 1], dtype=m.int32).bernoulli(),
             lambda: m.zeros(2).bernoulli_(m.tensor([0, 1])), lambda: m.rand(2, dtype=m.bool),
             lambda: m.randn(2, dtype=m.int64), lambda: m.normal(0, 1, (2,), dtype=m.int64),
             lambda: m.zeros(2, dtype=m.int64).uniform_(),
             # a float or bool n (random_split's float lengths reach randperm so)
             lambda: m.randperm(10.0), lambda: m.randperm(True),
             lambda: m.randperm(4.0, generator=m.Generator()),
             lambda: m.randperm(m.tensor(3), generator=m.Generator().manual_seed(0))]
    return [run(f) for f in cases]


def test_random_errors_as_torch():
    got = _random_errors(tapegrad)
    assert got[0] == ("TypeError", "randint(): argument 'size' (position 2) must be tuple of "
                      "ints, not int")
    assert got[3] == ("RuntimeError", "exponential_ expects lambda > 0.0, but found lambda=0")
    assert got[4] == ("NotImplementedError", "\"bernoulli_tensor_cpu_p_\" not implemented for "
                      "'Long'")
    torch = pytest.importorskip("torch")
    assert got == _random_errors(torch)


def _sizeless_draw_errors(m):
    """rand / randn called without a size (`randn(*shape, dtype=...)` with an empty shape)."""
    g = m.Generator()
    cases = [lambda: m.randn(), lambda: m.rand(), lambda: m.randn(dtype=m.float64),
             lambda: m.rand(requires_grad=True), lambda: m.randn(generator=g),
             lambda: m.rand(device="cpu"), lambda: m.randn(pin_memory=True),
             lambda: m.randn(layout=m.strided), lambda: m.randn(foo=1),
             lambda: m.randn(dtype=m.float64, requires_grad=True),
             lambda: m.rand(generator=g, dtype=m.float64), lambda: m.randn(dtype=m.float64, foo=1),
             lambda: m.randint(10, generator=g)]
    out = []
    for f in cases:
        with pytest.raises(TypeError) as e:
            f()
        out.append(str(e.value))
    return out


def test_sizeless_draw_errors_as_torch():
    """torch's parser counts the keywords given: one fits only the form without a generator,
    which names the missing size; none, or two, fit no form or both, which it lists (with
    torch._C.Generator for a generator given)."""
    got = _sizeless_draw_errors(tapegrad)
    assert got[2] == 'randn() missing 1 required positional arguments: "size"'
    assert got[0].startswith("randn() received an invalid combination of arguments - got (), ")
    assert "got (dtype=torch.dtype, generator=torch._C.Generator, )" in got[10]
    torch = pytest.importorskip("torch")
    assert got == _sizeless_draw_errors(torch)


_INF, _NAN = float("inf"), float("nan")


def _multinomial_errors(m):
    out = []
    for w in ([-1., 1.], [0., 0.], [_NAN, 1.], [_INF, 1.], [[1., 1.], [-1., _INF]],
              [[0., 0.], [-1., 1.]], [[1., 1.], [_INF, -1.]], [[1., _INF], [0., 0.]]):
        for replacement, n in ((True, 2), (False, 2), (True, 1)):
            for dt in (m.float32, m.float64):
                try:
                    m.multinomial(m.tensor(w, dtype=dt), n, replacement)
                    out.append(None)
                except RuntimeError as e:
                    out.append(str(e))
    return out


def test_multinomial_errors_as_torch():
    """torch words a bad distribution as its with-replacement kernel meets it (element by
    element: negative or NaN, infinite; then the row's sum), else by one whole-tensor check."""
    got = _multinomial_errors(tapegrad)
    assert got[0] == "invalid multinomial distribution (encountering probability entry < 0)"
    assert got[2] == "probability tensor contains either `inf`, `nan` or element < 0"
    assert got == _multinomial_errors(_torch())


def _multinomial_near_the_checks(m):
    out = []
    for w in ([3e38, 3e38], [1e308, 1e308], [-0.0, 1.0], [1e-45, 0.0], [[1., 2.], [0., -0.0]],
              [[1., 2.], [3., _NAN]], [[2., 1.], [1e-45, 0.], [0.5, 0.5]], [[1., 1.], [_INF, 0.]],
              [[3e38, 3e38], [1., 1.]], [0.0, 0.0, 0.0]):
        for replacement, n in ((True, 3), (False, 1), (False, 2), (True, 1)):
            for dt in (m.float32, m.float64):
                m.manual_seed(5)   # (torch draws a bad row's predecessors: not here)
                try:
                    out.append(m.multinomial(m.tensor(w, dtype=dt), n, replacement).tolist())
                except RuntimeError as e:
                    out.append(str(e))
    return out


def test_multinomial_near_the_checks_as_torch():
    """Distributions at the edges of the checks' quick acceptance (a total that overflows
    with finite values, -0.0, subnormals, a zero or nan row after a good one): torch's errors,
    else its draws for the same seed."""
    got = _multinomial_near_the_checks(tapegrad)
    assert got == _multinomial_near_the_checks(_torch())


def test_generator_clone_state():
    g = tapegrad.Generator().manual_seed(3)
    tapegrad.rand(5, generator=g)
    twin = g.clone_state()
    assert twin is not g and twin.initial_seed() == 3
    assert tapegrad.rand(4, generator=g).tolist() == tapegrad.rand(4, generator=twin).tolist()
    torch = pytest.importorskip("torch")
    t = torch.Generator().manual_seed(3)
    torch.rand(5, generator=t)
    g = tapegrad.Generator().manual_seed(3)
    tapegrad.rand(5, generator=g)
    assert torch.rand(4, generator=t.clone_state()).tolist() == \
        tapegrad.rand(4, generator=g.clone_state()).tolist()


def _normal_with_size(m):
    out = []
    for args in [(m.zeros(2), 2.0), (m.zeros(2), m.ones(2)), (1.0, m.ones(2))]:
        with pytest.raises(TypeError) as e:
            m.normal(*args, size=(2,))
        out.append(str(e.value))
    return out


def test_normal_with_a_tensor_takes_no_size():
    got = _normal_with_size(tapegrad)
    assert got[0].startswith("normal() received an invalid combination of arguments - got "
                             "(Tensor, float, size=tuple)")
    assert got == _normal_with_size(pytest.importorskip("torch"))


@pytest.mark.parametrize("draw", ["rand", "randn", "randint"])
def test_draws_past_one_getrandbits_call_as_torch(monkeypatch, draw):
    """A draw of more words than one getrandbits call takes (its bit count is a C int:
    rand(7e7) raised OverflowError) goes in chunks, the same words in the same order: the
    chunk made small here, the values torch's."""
    torch = pytest.importorskip("torch")
    import tapegrad.mt19937 as mt
    monkeypatch.setattr(mt, "_CHUNK", 7)

    def values(m):
        m.manual_seed(11)
        x = m.randint(0, 1000, (50,)) if draw == "randint" else getattr(m, draw)(50)
        return x.numpy().tolist()
    assert values(tapegrad) == values(torch)


def test_randint_forms_match_torch():
    # randint's fast form (Python ints, a tuple or list size) and the full function give
    # torch's values, dtype and shape
    torch = _torch()
    cases = [((0, 10, (16,)), {}), ((10, (3, 4)), {}), ((-5, 5, [7]), {}),
             ((0, 2 ** 27 + 3, (5,)), {}), ((0, 2 ** 30, (5,)), {}), ((0, 10, ()), {}),
             ((0, 10, (0,)), {}), ((0, 10, (4,)), {"dtype": "float32"}),
             ((3, 200, (9,)), {"dtype": "uint8"}), ((-100, 100, (2000,)), {"dtype": "int8"}),
             ((0, 10, (2, 3)), {"requires_grad": False}), ((0, 10, (2,)), {"dtype": None})]
    for seed in (0, 3):
        for m in (tapegrad, torch):
            m.manual_seed(seed)
        for args, kw in cases:
            got, want = (m.randint(*args, **{k: getattr(m, v) if isinstance(v, str) else v
                                              for k, v in kw.items()}) for m in (tapegrad, torch))
            same(got, want)
