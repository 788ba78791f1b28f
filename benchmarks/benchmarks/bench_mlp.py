"""n-d workload: MLP 2-16-16-1 with tanh, batch 32; one forward + backward + SGD step."""
import workloads as W

from ._common import LibBench


class TapegradMLP(LibBench):
    def setup(self):
        super().setup()
        self.state = W.mlp(self.mod)
        W.mlp_step(self.mod, *self.state)

    def time_step(self):
        W.mlp_step(self.mod, *self.state)


class TorchMLP(TapegradMLP):
    lib = "torch"


class TapegradNNMLP(LibBench):
    """The same step built from nn modules: nn.Sequential of nn.Linear and nn.Tanh,
    nn.MSELoss, optim.SGD (zero_grad, forward, loss, backward, step)."""
    def setup(self):
        super().setup()
        self.state = W.nn_mlp(self.mod)
        W.nn_mlp_train_step(*self.state)

    def time_step(self):
        W.nn_mlp_train_step(*self.state)


class TorchNNMLP(TapegradNNMLP):
    lib = "torch"
