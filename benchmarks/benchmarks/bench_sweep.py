"""The n-d reverse sweep at scale, float64, 200k elements: autograd.grad of a graph that leads
to none of its inputs (the Monte Carlo gamma of docs: only the entries leading to the inputs
are laid out and swept, engine._runs), and the backward of large elementwise chains (the core
loops' whole, one-element and unary cases, codegen.B_CORE).  The backward alone is timed: the
forward is recorded in setup for each repeat."""
import math

import numpy as np

from ._common import LibBench

N = 200_000


class TapegradGreeks(LibBench):
    """gamma = d(delta)/d(S0) where delta does not depend on S0 differentiably: None."""
    number = 20

    def setup(self):
        super().setup()
        m = self.mod
        rng = np.random.default_rng(3)
        self.S0 = m.tensor(100.0, dtype=m.float64, requires_grad=True)
        sigma = m.tensor(0.2, dtype=m.float64, requires_grad=True)
        Z = m.tensor(rng.standard_normal(N))
        ST = self.S0 * m.exp((0.05 - 0.5 * sigma ** 2) + sigma * Z)
        price = math.exp(-0.05) * m.clamp(ST - 100.0, min=0).mean()
        self.delta, _ = m.autograd.grad(price, (self.S0, sigma), create_graph=True)

    def time_grad_of_non_leading(self):
        self.mod.autograd.grad(self.delta, self.S0, allow_unused=True, retain_graph=True)


class TorchGreeks(TapegradGreeks):
    lib = "torch"


class TapegradElementwiseBackward(LibBench):
    """Backward of `((x * 1.3).exp() * x + x).tanh().sum()` (whole operands, unary rows) and
    of `(s * x * s + s).sum()` with s 0-d (one-element operands), on a graph recorded once
    and kept (retain_graph: each call sweeps it again and adds into `.grad`)."""
    number = 5

    def setup(self):
        super().setup()
        m = self.mod
        rng = np.random.default_rng(0)
        x = m.tensor(rng.standard_normal(N), requires_grad=True)
        s = m.tensor(0.7, dtype=m.float64, requires_grad=True)
        self.chain = ((x * 1.3).exp() * x + x).tanh().sum()
        self.scalar = (s * x * s + s).sum()

    def time_unary_whole(self):
        self.chain.backward(retain_graph=True)

    def time_one_element_operand(self):
        self.scalar.backward(retain_graph=True)


class TorchElementwiseBackward(TapegradElementwiseBackward):
    lib = "torch"
