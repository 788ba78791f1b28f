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


class TapegradCompiledStep(LibBench):
    """The nn MLP training step (zero_grad, forward, backward, step) through
    tapegrad.compile, replayed with the update inside; TorchEagerStep is the same function
    eagerly in torch (issue #12: compiled >= 4x faster)."""
    params = ["SGD", "Adam"]
    param_names = ["optimizer"]
    compiled = True

    def setup(self, name):
        super().setup()
        self.step, self.X, self.Y = W.nn_mlp_step(self.mod, name, compiled=self.compiled)
        self.step(self.X, self.Y)

    def time_step(self, name):
        self.step(self.X, self.Y)


class TorchEagerStep(TapegradCompiledStep):
    lib = "torch"
    compiled = False


class TapegradMicroUpdate(LibBench):
    """The micrograd model's update of its 105 0-d parameters: the no_grad loop
    `p -= lr * p.grad` (workloads.sgd) against one SGD.step() (lr 0: the values stay put)."""

    def setup(self):
        super().setup()
        layers, xs, ys = W.micro_mlp(self.mod)
        self.params_ = W.micro_params(layers)
        W.micro_loss(layers, xs, ys).backward()
        self.grads = [p.grad for p in self.params_]
        self.opt = self.mod.optim.SGD(self.params_, lr=0.0)

    def _regrad(self):
        for p, g in zip(self.params_, self.grads):
            p.grad = g

    def time_loop(self):
        self._regrad()
        W.sgd(self.mod, self.params_, 0.0)

    def time_fused(self):
        self._regrad()
        self.opt.step()


class TapegradMicroReplayed(LibBench):
    """The micrograd training step recorded once and replayed (compare bench_scalar's eager
    micro step of both libraries)."""

    def setup(self):
        super().setup()
        self.step = W.micro_replayed(self.mod)
        self.step()

    def time_step(self):
        self.step()


class TapegradHandwrittenAdam(LibBench):
    """Adam's update written by hand with in-place ops (lerp_, mul_, addcmul_, addcdiv_,
    add_ with alpha) over the MLP 2-16-16-1's parameters (workloads.handwritten_adam)."""

    def setup(self):
        super().setup()
        self.params_, self.state = W.handwritten_state(self.mod)

    def time_update(self):
        W.handwritten_adam(self.mod, self.params_, self.state)


class TorchHandwrittenAdam(TapegradHandwrittenAdam):
    lib = "torch"
