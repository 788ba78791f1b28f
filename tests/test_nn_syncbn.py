"""nn.SyncBatchNorm against torch (whose module, with torch.distributed not initialized, is
a batch norm over the local batch, as tapegrad's always is): values, gradients, running
statistics, eval mode, reprs, convert_sync_batchnorm and errors."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")


def _run(m, shape, momentum, train):
    m.manual_seed(0)
    bn = m.nn.SyncBatchNorm(shape[1], momentum=momentum, dtype=m.float64)
    with m.no_grad():
        bn.weight.copy_(m.linspace(0.5, 1.5, shape[1]))
        bn.bias.copy_(m.linspace(-1.0, 1.0, shape[1]))
    bn.train(train)
    x = m.tensor(np.random.default_rng(1).normal(size=shape), dtype=m.float64,
                 requires_grad=True)
    y = bn(x)
    y = bn(x * 2) + y                          # two steps of running statistics
    y.pow(2).sum().backward()
    return (y.detach().numpy(), x.grad.numpy(), bn.weight.grad.numpy(),
            bn.running_mean.numpy(), bn.running_var.numpy(), int(bn.num_batches_tracked),
            type(y.grad_fn).__name__, repr(bn))


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 2, 3, 3), (2, 2, 2, 2, 2)])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("train", [True, False])
def test_as_torch(shape, momentum, train):
    ours, theirs = _run(tg, shape, momentum, train), _run(torch, shape, momentum, train)
    for a, b in zip(ours[:5], theirs[:5]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    assert ours[5:] == theirs[5:]


def test_convert_sync_batchnorm_as_torch():
    res = []
    for m in (torch, tg):
        m.manual_seed(0)
        net = m.nn.Sequential(m.nn.Linear(3, 3), m.nn.BatchNorm1d(3, affine=False),
                              m.nn.Sequential(m.nn.BatchNorm2d(2).eval()))
        conv = m.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        inner = conv[2][0]
        res.append((repr(conv), list(conv.state_dict()), inner.training,
                    conv[1].running_mean is net[1].running_mean))
    assert res[0] == res[1]


ERRORS = [lambda m: m.nn.SyncBatchNorm(3)(m.ones(3)),
          lambda m: m.nn.SyncBatchNorm(0)(m.ones(2, 0)),
          lambda m: m.nn.SyncBatchNorm(3)(m.ones(2, 4))]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_as_torch(i):
    assert_same_error(ERRORS[i], torch)
