"""Higher-order derivatives of the scalar Rosenbrock loop (issue #4): gradient, Hessian-vector
product and full Hessian, tapegrad and torch (workloads.py has the shared code)."""
import workloads as W
from ._common import LibBench


class TapegradHigher(LibBench):
    lib = "tapegrad"
    params = [W.HIGHER_SIZES]
    param_names = ["n"]

    def setup(self, n):
        super().setup(n)
        self.xs, self.vs = W.rosen_leaves(self.mod, n)
        W.rosen_hvp(self.mod, *W.rosen_leaves(self.mod, 4))   # compile or load the kernels

    def time_gradient(self, n):
        W.rosen_gradient(self.mod, self.xs)

    def time_hvp(self, n):
        W.rosen_hvp(self.mod, self.xs, self.vs)

    def time_hessian(self, n):
        if n not in W.HESSIAN_SIZES:
            raise NotImplementedError("full Hessian only for n in HESSIAN_SIZES")
        W.rosen_hessian(self.mod, self.xs)


class TorchHigher(TapegradHigher):
    lib = "torch"
