"""A small classifier's pieces beside torch, eager, with grad: the cross-entropy loss of a
(16, 10) batch, the activations that are unary rows on a (16, 32) batch (leaky_relu, elu,
gelu, silu, softplus; hardtanh, relu6, hardswish, hardsigmoid, mish, selu, celu, logsigmoid),
binary_cross_entropy_with_logits, BatchNorm1d in training, each forward + backward; a
16-32-4 classifier's Adam step with cross-entropy; and the no_grad values an evaluation loop
reads (cross_entropy, max).  These were decompositions recorded op by op (cross_entropy
221 us for its forward alone, the step 561 us where torch takes ~550 us)."""
import numpy as np

from ._common import LibBench


class TapegradSmallNN(LibBench):
    def setup(self):
        super().setup()
        m = self.mod
        rng = np.random.default_rng(0)
        self.F = m.nn.functional
        self.logits = m.tensor(rng.standard_normal((16, 10)).astype(np.float32),
                               requires_grad=True)
        self.labels = m.tensor(rng.integers(0, 10, 16))
        self.h = m.tensor(rng.standard_normal((16, 32)).astype(np.float32), requires_grad=True)
        self.t = m.tensor(rng.uniform(0, 1, (16, 32)).astype(np.float32))
        self.v = m.tensor(rng.standard_normal(100).astype(np.float32))
        m.manual_seed(0)
        self.net = m.nn.Sequential(m.nn.Linear(16, 32), m.nn.ReLU(), m.nn.Linear(32, 4))
        self.opt = m.optim.Adam(self.net.parameters(), lr=1e-3)
        self.X = m.tensor(rng.standard_normal((16, 16)).astype(np.float32))
        self.y = m.tensor(rng.integers(0, 4, 16))
        self.loss = m.nn.CrossEntropyLoss()
        self.bn = m.nn.BatchNorm1d(32)

    def time_cross_entropy_backward(self):
        self.F.cross_entropy(self.logits, self.labels).backward()

    def time_cross_entropy_no_grad(self):
        self.F.cross_entropy(self.logits.detach(), self.labels)

    def time_activations_backward(self):
        F, h = self.F, self.h
        (F.leaky_relu(h, 0.1) + F.elu(h) + F.gelu(h) + F.silu(h) + F.softplus(h)).sum() \
            .backward()

    def time_more_activations_backward(self):
        F, h = self.F, self.h
        (F.hardtanh(h) + F.relu6(h) + F.hardswish(h) + F.hardsigmoid(h) + F.mish(h) + F.selu(h)
         + F.celu(h) + F.logsigmoid(h)).sum().backward()

    def time_batch_norm_module_backward(self):
        self.bn(self.h).sum().backward()

    def time_bce_with_logits_backward(self):
        self.F.binary_cross_entropy_with_logits(self.h, self.t).backward()

    def time_classifier_adam_step(self):
        self.opt.zero_grad()
        self.loss(self.net(self.X), self.y).backward()
        self.opt.step()

    def time_max_no_grad(self):
        self.v.max()


class TorchSmallNN(TapegradSmallNN):
    lib = "torch"


class TapegradChannelStats(LibBench):
    """Per-channel statistics of a conv-sized activation, forward + backward: BatchNorm2d in
    training of a (32, 16, 30, 30) float32 input (its backward broadcasts (1, 16, 1, 1)
    operands and reduces over dims 0, 2, 3: a per-element index of four div/mod pairs cost
    ~88 ms, ~20 ms with one pair and arenas kept across backwards), and x - x.mean((0, 2, 3))
    alone."""
    timeout = 600

    def setup(self):
        super().setup()
        m = self.mod
        m.manual_seed(0)
        self.x = m.randn(32, 16, 30, 30, requires_grad=True)
        self.bn = m.nn.BatchNorm2d(16)
        self.time_batch_norm_2d_backward()

    def time_batch_norm_2d_backward(self):
        self.x.grad = None
        self.bn(self.x).sum().backward()

    def time_centre_per_channel_backward(self):
        self.x.grad = None
        x = self.x
        (x - x.mean((0, 2, 3), keepdim=True)).sum().backward()


class TorchChannelStats(TapegradChannelStats):
    lib = "torch"
