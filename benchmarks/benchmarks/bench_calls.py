"""Per-call overhead of the factories and of common n-d calls on data that records nothing
(benchmarks/compare_calls.py prints the same calls beside torch in one run): tensor() of a
Python float, of a list of floats, of a float requiring grad; zeros, ones, empty, full,
arange, zeros_like, ones_like, randn and rand of small sizes; a 32x16 float32 tensor's
sum(0), sum(dim=1), a[0], a[1:3], reshape and a @ b.  Each is a few microseconds: the Python
work around the call (argument checks, dtype decisions, wrapping) is what they measure."""
from ._common import LibBench


class TapegradFactories(LibBench):
    number = 1000     # each call is a few microseconds

    def time_tensor_float(self):
        self.mod.tensor(0.1)

    def time_tensor_list(self):
        self.mod.tensor([1.0, 2.0, 3.0])

    def time_tensor_float_requires_grad(self):
        self.mod.tensor(0.1, requires_grad=True)

    def time_zeros(self):
        self.mod.zeros(3)

    def time_ones(self):
        self.mod.ones(32, 16)

    def time_empty(self):
        self.mod.empty(32, 16)

    def time_full(self):
        self.mod.full((32, 16), 0.5)

    def time_arange(self):
        self.mod.arange(10)

    def time_zeros_like(self):
        self.mod.zeros_like(self.a)

    def time_ones_like(self):
        self.mod.ones_like(self.a)

    def time_randn(self):
        self.mod.randn(32, 16)

    def time_rand(self):
        self.mod.rand(32, 16)

    def setup(self):
        super().setup()
        self.a = self.mod.ones(32, 16)


class TorchFactories(TapegradFactories):
    lib = "torch"


class TapegradPlainCalls(LibBench):
    number = 1000

    def setup(self):
        super().setup()
        self.a, self.b = self.mod.ones(32, 16), self.mod.ones(16, 32)

    def time_sum_dim(self):
        self.a.sum(0)

    def time_sum_dim_keyword(self):
        self.a.sum(dim=1)

    def time_index_int(self):
        self.a[0]

    def time_index_slice(self):
        self.a[1:3]

    def time_reshape(self):
        self.a.reshape(16, 32)

    def time_matmul(self):
        self.a @ self.b


class TorchPlainCalls(TapegradPlainCalls):
    lib = "torch"
