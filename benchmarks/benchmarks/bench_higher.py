"""Higher-order derivatives of the scalar Rosenbrock loop (issue #4): gradient, Hessian-vector
product and full Hessian, tapegrad and torch (workloads.py has the shared code); and a
physics-informed net's training step, whose loss reads du/dx (create_graph through small
n-d layers)."""
import numpy as np

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


class TapegradPINN(LibBench):
    """One Adam step of a 1-32-32-1 tanh MLP u(x) on 64 float32 points whose loss is
    mean((du/dx - cos x)^2) + u(x0)^2: du/dx by autograd.grad(create_graph=True), then
    backward through it (1.16 ms before mm's create_graph VJP lost its views, torch ~0.7)."""
    lib = "tapegrad"

    def setup(self):
        super().setup()
        m = self.mod
        m.manual_seed(0)
        self.net = m.nn.Sequential(m.nn.Linear(1, 32), m.nn.Tanh(), m.nn.Linear(32, 32),
                                   m.nn.Tanh(), m.nn.Linear(32, 1))
        self.opt = m.optim.Adam(self.net.parameters(), lr=1e-3)
        self.x = m.tensor(np.linspace(0, 1, 64, dtype=np.float32)[:, None], requires_grad=True)
        self.time_pinn_step()

    def time_pinn_step(self):
        m, x = self.mod, self.x
        self.opt.zero_grad()
        u = self.net(x)
        du, = m.autograd.grad(u.sum(), x, create_graph=True)
        (((du - x.cos()) ** 2).mean() + (u[0] ** 2).sum()).backward()
        self.opt.step()


class TorchPINN(TapegradPINN):
    lib = "torch"
