"""Decomposition rows and two-argument functions, eager, beside torch: softmax and logsumexp
over the last dim of a 64x100 float32 batch (forward and backward: a decomposition is its
primitives, so this tracks the kernels' broadcast over a kept (64, 1) shape), and atan2 of
two such tensors."""
import numpy as np

from ._common import LibBench


class TapegradDecomp(LibBench):
    def setup(self):
        super().setup()
        m = self.mod
        rng = np.random.default_rng(0)
        self.x = m.tensor(rng.standard_normal((64, 100)).astype(np.float32), requires_grad=True)
        self.y = m.tensor(rng.standard_normal((64, 100)).astype(np.float32), requires_grad=True)

    def time_softmax_backward(self):
        (self.x.softmax(1) * self.y).sum().backward()

    def time_logsumexp_backward(self):
        self.x.logsumexp(1).sum().backward()

    def time_atan2_backward(self):
        self.x.atan2(self.y).sum().backward()


class TorchDecomp(TapegradDecomp):
    lib = "torch"
