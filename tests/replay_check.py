"""Checks shared by the recorded-tape tests: replay against eager (test_nn_conv,
test_nn_modules, test_nn_unpool: a recorded one-input function's value_and_grad at x equals
the eager function's loss and the gradient its backward() gives), and a tape's round trips
through a file, a buffer and pickle (the kinds' tests)."""
import io
import pickle

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


def assert_round_trips(rec, path, x):
    """rec saved to `path` and to a buffer, and pickled: each copy's value_and_grad at x equals
    rec's, bit for bit."""
    rec.save(path)
    want = rec.value_and_grad(x)
    buf = io.BytesIO()
    rec.save(buf)
    buf.seek(0)
    for again in (tapegrad.load_tape(path), tapegrad.load_tape(buf), pickle.loads(pickle.dumps(rec))):
        got = again.value_and_grad(x)
        assert got[0] == want[0] and np.array_equal(got[1][0], want[1][0])
