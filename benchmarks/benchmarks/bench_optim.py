"""tapegrad.optim (issue #12): the optimizer update of all parameters of the MLP 2-16-16-1
(SGD, Adam), its eager training step, and the step replayed with the update inside."""
import workloads as W

from ._common import LibBench


class TapegradOptim(LibBench):
    params = ["SGD", "Adam"]
    param_names = ["optimizer"]

    def setup(self, name):
        super().setup()
        self.params_, self.X, self.Y, self.opt = W.mlp_optim(self.mod, name)

    def time_update(self, name):
        self.opt.step()

    def time_eager_step(self, name):
        W.mlp_optim_step(self.mod, self.params_, self.X, self.Y, self.opt)


class TorchOptim(TapegradOptim):
    lib = "torch"


class TapegradReplayedStep(LibBench):
    params = ["SGD", "Adam"]
    param_names = ["optimizer"]

    def setup(self, name):
        super().setup()
        self.step, self.X, self.Y = W.mlp_replayed(self.mod, name)
        self.step(self.X, self.Y)

    def time_replayed_step(self, name):
        self.step(self.X, self.Y)
