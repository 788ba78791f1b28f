"""nn.AdaptiveLogSoftmaxWithLoss against torch: parameters from the same draws, forward
output and loss, gradients, log_prob, predict (all examples in the shortlist, all outside,
mixed), unbatched calls, grad_fn names, repr, state_dict keys and torch's errors."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error

torch = pytest.importorskip("torch")


def _run(m, dtype, head_bias, targets, seed=3):
    m.manual_seed(seed)
    asm = m.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], div_value=2.0,
                                          head_bias=head_bias, dtype=getattr(m, dtype))
    x = m.randn(len(targets), 16, dtype=getattr(m, dtype), requires_grad=True)
    out, loss = asm(x, m.tensor(targets))
    loss.backward()
    one = asm(x[0], m.tensor(targets[0]))
    with m.no_grad():
        lp = asm.log_prob(x)
        pr = asm.predict(x)
        pr_short = asm.predict(x * 0)          # every best head entry in one place
    grads = [None if p.grad is None else p.grad.numpy() for _, p in asm.named_parameters()]
    return dict(out=out.detach().numpy(), loss=loss.item(), gx=x.grad.numpy(), grads=grads,
                lp=lp.numpy(), pr=pr.numpy(), pr_short=pr_short.numpy(),
                one=(one.output.detach().numpy(), one.loss.item()),
                fns=(type(out.grad_fn).__name__, type(loss.grad_fn).__name__,
                     type(one.output.grad_fn).__name__),
                names=[n for n, _ in asm.named_parameters()], keys=list(asm.state_dict()),
                repr=repr(asm), attrs=(asm.cutoffs, asm.shortlist_size, asm.n_clusters,
                                       asm.head_size))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("head_bias", [False, True])
@pytest.mark.parametrize("targets", [[0, 3, 5, 12, 19, 9, 14], [1, 2, 0, 3], [16, 11, 19]])
def test_as_torch(dtype, head_bias, targets):
    ours, theirs = _run(tg, dtype, head_bias, targets), _run(torch, dtype, head_bias, targets)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    for key in ("out", "gx", "lp"):
        np.testing.assert_allclose(ours[key], theirs[key], **tol)
    for a, b in zip(ours["grads"], theirs["grads"]):    # (None: a cluster no target is in)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, **tol)
    assert ours["loss"] == pytest.approx(theirs["loss"], **{"rel": tol["rtol"]})
    np.testing.assert_allclose(ours["one"][0], theirs["one"][0], **tol)
    for key in ("pr", "pr_short", "fns", "names", "keys", "repr", "attrs"):
        assert np.array_equal(ours[key], theirs[key]) if key.startswith("pr") else \
            ours[key] == theirs[key], key


ERRORS = [
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, []),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [5, 3]),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [0, 3]),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 10]),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 3]),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [2.5]),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(m.ones(2, 8), m.tensor([1, 2, 3])),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(m.ones(2, 2, 8), m.tensor([1, 2])),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(m.ones(2, 8), m.tensor(1)),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(m.ones(2, 8), m.tensor([[1, 2]])),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(m.ones(2, 8), m.tensor([1, 10])),
    lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(m.ones(2, 8), m.tensor([-1, 4])),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_as_torch(i):
    assert_same_error(ERRORS[i], torch)
