"""The record path of single ops on small n-d tensors: what one recorded op costs in Python
beside torch's dispatcher.  float32 operands requiring grad, a vector of 16 and a 4x4 matrix
(16 elements), a 16x16 weight: elementwise with a Python number and with a tensor, unary,
sum and mean over every element and over one dim, and the matrix-vector and matrix-matrix
products.  The tape is left open between calls, as in a forward pass."""
from ._common import LibBench


class TapegradRecordNd(LibBench):
    number = 1000     # each call is a few microseconds

    def setup(self):
        super().setup()
        mod = self.mod
        self.x = mod.randn(16, dtype=mod.float32).requires_grad_()
        self.m = mod.randn(4, 4, dtype=mod.float32).requires_grad_()
        self.w = mod.randn(16, 16, dtype=mod.float32).requires_grad_()

    def time_mul_number(self):
        self.x * 1.3

    def time_rsub_number(self):
        1.3 - self.x

    def time_mul(self):
        self.x * self.x

    def time_add(self):
        self.x + self.x

    def time_exp(self):
        self.x.exp()

    def time_tanh(self):
        self.x.tanh()

    def time_sum(self):
        self.x.sum()

    def time_mean(self):
        self.x.mean()

    def time_sum_dim(self):
        self.m.sum(0)

    def time_mean_dim(self):
        self.m.mean(1)

    def time_mv(self):
        self.w @ self.x

    def time_mm(self):
        self.w @ self.w


class TorchRecordNd(TapegradRecordNd):
    lib = "torch"
