"""The rejection samplers (tapegrad/gamma_draws.py, its loops in tapegrad/_draw_loops.py) beside
torch: 1e5 samples of Gamma, Beta and Dirichlet over three concentrations, Poisson over three
rates, Binomial over two (count, prob) pairs, float32, from a fixed seed."""
from ._common import LibBench

N = 100_000


class TapegradDraws(LibBench):
    params = ["Gamma", "Beta", "Dirichlet", "Poisson", "Binomial"]
    param_names = ["distribution"]

    def setup(self, name):
        super().setup()
        m = self.mod
        D, t = m.distributions, m.tensor
        self.dist = {
            "Gamma": lambda: D.Gamma(t([0.3, 1.0, 25.0]), t([1.0, 0.5, 4.0])),
            "Beta": lambda: D.Beta(t([0.3, 1.0, 25.0]), t([1.0, 0.5, 4.0])),
            "Dirichlet": lambda: D.Dirichlet(t([0.3, 1.0, 25.0])),
            "Poisson": lambda: D.Poisson(t([0.5, 4.0, 30.0])),
            "Binomial": lambda: D.Binomial(t([3.0, 20.0]), t([0.3, 0.9])),
        }[name]()
        m.manual_seed(0)
        self.dist.sample((3,))       # tapegrad: the sampler's Numba loops loaded before timing

    def time_sample(self, name):
        self.dist.sample((N,))


class TorchDraws(TapegradDraws):
    lib = "torch"


class _FloatDraws(LibBench):
    """Draws of a few sizes and both float dtypes: the per-call cost of small draws in a
    sampling loop, and the throughput of a large one."""
    params = ([16, 512, 1_000_000], ["float32", "float64"])
    param_names = ["n", "dtype"]

    def setup(self, n, dtype):
        super().setup()
        self.dtype = getattr(self.mod, dtype)
        self.mod.manual_seed(0)
        self.mod.randn(1 << 16, dtype=self.dtype)   # tapegrad: the draw kernels loaded


class TapegradRandn(_FloatDraws):
    """randn (torch's normal fill, bit for bit)."""

    def time_randn(self, n, dtype):
        self.mod.randn(n, dtype=self.dtype)


class TorchRandn(TapegradRandn):
    lib = "torch"


class TapegradRand(_FloatDraws):
    """rand (torch's uniform_, bit for bit): mostly the engine's words (tapegrad/mt19937.py:
    CPython's getrandbits for a few, the Numba loop for many)."""

    def time_rand(self, n, dtype):
        self.mod.rand(n, dtype=self.dtype)


class TorchRand(TapegradRand):
    lib = "torch"


class TapegradRandint(LibBench):
    """randint(0, 10, (n,)) (torch's random_from_to, bit for bit): a training loop's minibatch
    indices; small n is the call's fixed cost (argument binding and the one Numba fill)."""
    params = [16, 1024, 1_000_000]
    param_names = ["n"]

    def setup(self, n):
        super().setup()
        self.mod.manual_seed(0)
        self.mod.randint(0, 10, (1 << 16,))   # tapegrad: the draw kernels loaded

    def time_randint(self, n):
        self.mod.randint(0, 10, (n,))


class TorchRandint(TapegradRandint):
    lib = "torch"


class TapegradSpecialFunctions(LibBench):
    """The special functions numpy lacks, on 10^5 float32 elements, and nn.init.trunc_normal_
    of a 256 x 1024 weight (erfinv's common user): Numba loops over their kernel faces
    (tapegrad/_vecspecial.py, _vecmath.py); np.vectorize of their scalar faces took 0.24 s
    for erfinv, 0.94 s for trunc_normal_."""
    params = ["erfinv", "digamma", "lgamma", "i0", "trunc_normal_"]
    param_names = ["function"]

    def setup(self, name):
        super().setup()
        m = self.mod
        m.manual_seed(0)
        x = m.rand(100_000) * 0.98 + 0.01
        w = m.empty(256, 1024)
        self.call = (lambda: m.nn.init.trunc_normal_(w, std=0.02)) if name == "trunc_normal_" \
            else getattr(x, name)
        self.call()                  # tapegrad: the loops loaded before timing

    def time_function(self, name):
        self.call()


class TorchSpecialFunctions(TapegradSpecialFunctions):
    lib = "torch"
