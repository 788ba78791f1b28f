"""Small n-d models and single ops, eager: what a few-µs-per-op front end costs beside torch.
The two-layer net (N=8, 16->16->4) step; per op on 32x16 float32 tensors requiring grad:
x * y, x.tanh(), x @ W (recorded), and the no_grad update W -= 1e-9 * g."""
import workloads as W

from ._common import LibBench


class TapegradTwoLayer(LibBench):
    def setup(self):
        super().setup()
        self.state = W.two_layer(self.mod)
        W.two_layer_step(self.mod, *self.state)

    def time_step(self):
        W.two_layer_step(self.mod, *self.state)


class TorchTwoLayer(TapegradTwoLayer):
    lib = "torch"


class TapegradOps(LibBench):
    number = 1000     # each call is a few microseconds

    def setup(self):
        super().setup()
        self.a, self.b, self.w, self.g = W.small_operands(self.mod)

    def time_mul(self):
        self.a * self.b

    def time_tanh(self):
        self.a.tanh()

    def time_matmul(self):
        self.a @ self.w

    def time_no_grad_update(self):
        with self.mod.no_grad():
            self.w -= 1e-9 * self.g


class TorchOps(TapegradOps):
    lib = "torch"
