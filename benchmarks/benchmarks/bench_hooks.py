"""Backward with and without tensor hooks (issue #10): a 0-d chain of 100 steps and a small
n-d MLP, each as recorded without hooks, with an identity hook on one intermediate (the sweep
pauses once) and with a hook on the leaf.  The no-hook figures must stay those of a backward
before hooks existed (a backward without hooks tests one attribute per tape); the hooked
ones show the cost of a pause.  Every timed call gets a fresh graph."""
from ._common import LibBench


class TapegradHooks(LibBench):
    params = [["scalar", "nd"], ["none", "nonleaf", "leaf"]]
    param_names = ["graph", "hook"]
    number = 1
    warmup_time = 0
    repeat = (5, 50, 10.0)

    def setup(self, graph, hook):
        super().setup(graph, hook)
        m = self.mod
        if graph == "scalar":
            x = m.tensor(0.5, requires_grad=True)
            y = x
            mid = None
            for i in range(100):
                y = y * 0.999 + x
                if i == 50:
                    mid = y
        else:
            x = m.randn(100, 64, requires_grad=True)
            mid = (m.randn(32, 100) @ x).tanh()
            y = (mid @ m.randn(64, 10)).pow(2).sum()
        if hook == "nonleaf":
            mid.register_hook(lambda g: None)
        elif hook == "leaf":
            x.register_hook(lambda g: None)
        self.root = y

    def time_backward(self, graph, hook):
        self.root.backward()


class TorchHooks(TapegradHooks):
    lib = "torch"
