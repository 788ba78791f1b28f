"""torch.linalg backward (issue #11): inv, solve, slogdet and cholesky of a float64 n x n
matrix (n = 8, 64) as LAPACK host entries (the sweep pauses once and numpy computes the VJP),
beside torch.  The forward is built untimed in setup; every timed call gets a fresh graph."""
import workloads as W

from ._common import LibBench


class TapegradLinalgBackward(LibBench):
    params = [list(W.LINALG_OPS), list(W.LINALG_SIZES)]
    param_names = ["op", "n"]
    number = 1
    warmup_time = 0
    repeat = (5, 50, 10.0)

    def setup(self, op, n):
        super().setup(op, n)
        self.A, self.B = W.linalg_leaves(self.mod, n)
        self.loss = W.linalg_loss(self.mod, op, self.A, self.B)

    def time_backward(self, op, n):
        self.loss.backward()


class TorchLinalgBackward(TapegradLinalgBackward):
    lib = "torch"
