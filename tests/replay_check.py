"""The replay-against-eager check of the recorded-model tests (test_nn_conv, test_nn_modules,
test_nn_unpool): a recorded one-input function's value_and_grad at x equals the eager
function's loss and the gradient its backward() gives."""
import numpy as np

import tapegrad


def assert_replays_as_eager(rec, f, x, value_rtol, grad_rtol, grad_atol):
    """rec.value_and_grad(x) against f evaluated eagerly at x and differentiated."""
    v, (g,) = rec.value_and_grad(x)
    xe = tapegrad.tensor(x, requires_grad=True)
    loss = f(xe)
    loss.backward()
    np.testing.assert_allclose(float(v), loss.item(), rtol=value_rtol)
    np.testing.assert_allclose(np.asarray(g), xe.grad.numpy(), rtol=grad_rtol, atol=grad_atol)
