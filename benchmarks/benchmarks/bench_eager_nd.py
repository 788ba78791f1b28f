"""Small n-d models and single ops, eager: what a few-µs-per-op front end costs beside torch.
The two-layer net (N=8, 16->16->4) step; per op on 32x16 float32 tensors requiring grad:
x * y, x.tanh(), x @ W (recorded), x.mean(), x - a constant, and the no_grad update
W -= 1e-9 * g; view, reshape and indexing ops (and relu) on a 4x4 float32 tensor requiring
grad, recorded and under no_grad (their Python overhead is all they cost); the MLP 2-16-16-1
forward (workloads.mlp_loss) on the tape left open, and for
tapegrad the Python calls that forward makes (the record path's per-op work, counted)."""
import sys

import numpy as np

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
        self.c = self.mod.tensor(np.ones((32, 16), np.float32))   # data: no grad

    def time_mul(self):
        self.a * self.b

    def time_tanh(self):
        self.a.tanh()

    def time_matmul(self):
        self.a @ self.w

    def time_no_grad_update(self):
        with self.mod.no_grad():
            self.w -= 1e-9 * self.g

    def time_mean(self):
        self.a.mean()

    def time_sub_constant(self):
        self.a - self.c


class TorchOps(TapegradOps):
    lib = "torch"


class TapegradViewOps(LibBench):
    """Views of a small tensor (16 elements) requiring grad: each is only record-time Python
    (the entry, the version counter shared with the base), no arithmetic."""
    number = 1000

    def setup(self):
        super().setup()
        rng = np.random.default_rng(1)
        self.x = self.mod.tensor(rng.standard_normal((4, 4)).astype(np.float32),
                                 requires_grad=True)

    def time_slice(self):
        self.x[1:3]

    def time_select_index(self):
        self.x[1]

    def time_index_column(self):
        self.x[:, 1]

    def time_reshape(self):
        self.x.reshape(-1, 8)

    def time_view(self):
        self.x.view(2, 8)

    def time_unsqueeze(self):
        self.x.unsqueeze(0)

    def time_squeeze(self):
        self.x.squeeze()

    def time_t(self):
        self.x.t()

    def time_transpose(self):
        self.x.transpose(0, 1)

    def time_permute(self):
        self.x.permute(1, 0)

    def time_expand(self):
        self.x.expand(2, 4, 4)

    def time_narrow(self):
        self.x.narrow(1, 0, 2)

    def time_select(self):
        self.x.select(0, 1)

    def time_relu(self):
        self.x.relu()

    def time_no_grad_slice(self):
        with self.mod.no_grad():
            self.x[1:3]

    def time_no_grad_reshape(self):
        with self.mod.no_grad():
            self.x.reshape(-1, 8)

    def time_no_grad_relu(self):
        with self.mod.no_grad():
            self.x.relu()


class TorchViewOps(TapegradViewOps):
    lib = "torch"


class TapegradMLPForward(LibBench):
    number = 200

    def setup(self):
        super().setup()
        self.params, self.X, self.Y = W.mlp(self.mod)
        W.mlp_loss(self.params, self.X, self.Y)

    def time_forward(self):
        W.mlp_loss(self.params, self.X, self.Y)


class TorchMLPForward(TapegradMLPForward):
    lib = "torch"


def track_mlp_forward_python_calls():
    """Python function calls of one tapegrad MLP 2-16-16-1 forward on an open tape (11 ops;
    141 before the one-frame n-d record path, 58 after)."""
    mod = W.load("tapegrad")
    params, X, Y = W.mlp(mod)
    W.mlp_loss(params, X, Y)
    calls = [0]

    def count(frame, event, arg):
        if event == "call":
            calls[0] += 1
    sys.setprofile(count)
    try:
        W.mlp_loss(params, X, Y)
    finally:
        sys.setprofile(None)
    return calls[0]


track_mlp_forward_python_calls.unit = "calls"
