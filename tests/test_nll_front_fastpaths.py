"""The short front paths of F.nll_loss and F.log_softmax (a plain tensor, the default
arguments: straight to the one-pass writer / the softmax entry) keep every outcome of the
full checks: each snippet, common case or bad argument, runs on tapegrad and on torch 2.13,
whose outcomes (value, dtype, shape, grad_fn name, warnings, or error type and message) must
be the same.  (Checks of "the same as before": they pass without the short paths too.)"""
import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

NLL = [
    "F.nll_loss(lp, t)", "F.nll_loss(lp, t, reduction='sum')",
    "F.nll_loss(lp, t, reduction='none')", "F.nll_loss(lp, t, reduction='bogus')",
    "F.nll_loss(lp, t, reduction=None)", "F.nll_loss(lp, t, size_average=False)",
    "F.nll_loss(lp, t, reduce=False)", "F.nll_loss(lp, t, size_average=True, reduce=True)",
    "F.nll_loss(lp, t[:3])", "F.nll_loss(lp, t[:, None])", "F.nll_loss(lp, t.float())",
    "F.nll_loss(lp, t.int())", "F.nll_loss(lp, bad_hi)", "F.nll_loss(lp, bad_lo)",
    "F.nll_loss(lp, t, ignore_index=1)", "F.nll_loss(lp, t, ignore_index=-1)",
    "F.nll_loss(lp, t, ignore_index=5)", "F.nll_loss(lp.detach(), t)",
    "F.nll_loss(lp, t, weight=wt)", "F.nll_loss(lp, t, weight=wg)", "F.nll_loss(lp[:, 0], t)",
    "F.nll_loss(lp.t(), t2)", "F.nll_loss(lp[:1], t[:1])", "F.nll_loss(lp[:, :1], t * 0)",
    "F.nll_loss(lp3, t3)", "F.nll_loss(lp, t.reshape(5, 1)[:, 0])", "F.nll_loss(lp, t0)",
    "F.nll_loss(lp.double(), t)", "F.nll_loss(lp, tr)", "F.nll_loss(P, t)",
    "F.nll_loss(lp, ti)", "F.nll_loss(lp.detach(), ti)", "nograd(lambda: F.nll_loss(lp, t))",
    "nograd(lambda: F.nll_loss(lp, ti))", "nograd(lambda: F.log_softmax(x, 1))",
    "F.cross_entropy(x, t)", "F.cross_entropy(x, t, reduction='bogus')",
    "F.cross_entropy(x, bad_hi)", "F.cross_entropy(x, t, label_smoothing=0.1)",
]
LOG_SOFTMAX = [
    "F.log_softmax(x, 1)", "F.log_softmax(x, -1)", "F.log_softmax(x, 0)", "F.log_softmax(x, -2)",
    "F.log_softmax(x, 2)", "F.log_softmax(x, -3)", "F.log_softmax(x, True)",
    "F.log_softmax(x, 1.0)", "F.log_softmax(x, np.int64(1))", "F.log_softmax(xi, 1)",
    "F.log_softmax(s, 0)", "F.log_softmax(s, -1)", "F.log_softmax(s, 1)",
    "F.log_softmax(x, 1, dtype=m.float64)", "F.log_softmax(xi, 1, dtype=m.float32)",
    "F.log_softmax(x3, 1)", "F.log_softmax(x3, -1)", "F.log_softmax(x, None)",
    "F.log_softmax(x.t(), 1)", "F.log_softmax(x.detach(), 0)", "F.log_softmax(e, 1)",
    "F.log_softmax(P, 1)",
]
# (not compared: float16 inputs and a Python number as input, where tapegrad's outcome
# already differs from torch's, before the short paths as after)


def run(src, m):
    F = m.nn.functional
    rng = np.random.default_rng(5)
    ns = {"m": m, "np": np, "F": F}
    ns["x"] = m.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    ns["lp"] = F.log_softmax(ns["x"], 1)
    ns["t"] = m.tensor([0, 3, 1, 1, 2])
    ns["t0"] = m.tensor(2)
    ns["t2"] = m.tensor([0, 4, 1, 2])
    ns["tr"] = m.tensor([0, 3, 1, 1, 2]).float().requires_grad_().long()
    ns["bad_hi"], ns["bad_lo"] = m.tensor([0, 4, 1, 1, 2]), m.tensor([0, -1, 1, 1, 2])
    ns["wt"] = m.tensor([1.0, 2.0, 0.5, 1.0])
    ns["wg"] = m.tensor([1.0, 2.0, 0.5, 1.0], requires_grad=True)
    ns["lp3"] = m.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    ns["t3"] = m.tensor([[0, 1, 2, 0], [2, 2, 1, 0]])
    ns["x3"] = m.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    ns["xi"] = m.tensor([[1, 2], [3, 4]])
    ns["s"] = m.tensor(1.5, requires_grad=True)
    ns["e"] = m.zeros(0, 3, requires_grad=True)
    with m.inference_mode():
        ns["ti"] = m.tensor([0, 3, 1, 1, 2])

    def nograd(f):
        with m.no_grad():
            return f()
    ns["nograd"] = nograd
    ns["P"] = m.nn.Parameter(m.tensor(rng.standard_normal((5, 4)).astype(np.float32)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            v = eval(src, ns)
        except Exception as ex:   # noqa: BLE001  (the error is part of the behaviour compared)
            return (type(ex).__name__, str(ex))
    shown = sorted(str(w.message) for w in caught)
    arr = v.detach().double().numpy()
    gf = v.grad_fn
    return (str(v.dtype).split(".")[-1], tuple(v.shape), arr.round(5).tolist(),
            v.requires_grad, type(gf).__name__ if m is torch else
            (gf.name() if gf is not None else "NoneType"), shown)


@pytest.mark.parametrize("src", NLL + LOG_SOFTMAX)
def test_front_paths_as_torch(src):
    assert run(src, tg) == run(src, torch)
