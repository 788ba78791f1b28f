"""torch's warnings on conversions that lose the graph or copy a tensor: float() of a tensor that
requires grad (once per process), torch.tensor(t) / t.new_tensor(t) of a tensor (every time),
and the deprecated size_average / reduce pair of the losses (every time, module constructors
included).  Each case is run in both libraries with warn_always on, so torch's once-only
warnings show every time too."""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import errors

try:
    import torch
except ImportError:   # the tapegrad-only checks still run
    torch = None

SCALAR = "Converting a tensor with requires_grad=True to a scalar"
COPY = "To copy construct from a tensor"
LEGACY = "size_average and reduce args will be deprecated"

# (name, function of the module) -> the messages (prefixes) torch gives, in order
CASES = {
    "float of a leaf": (lambda m: float(m.tensor(1.5, requires_grad=True)), [SCALAR]),
    "float of a result": (lambda m: float(m.tensor(1.5, requires_grad=True) * 2), [SCALAR]),
    "float of a one-element 1-d": (lambda m: float(m.ones(1, requires_grad=True)), [SCALAR]),
    "complex": (lambda m: complex(m.tensor(1.5, requires_grad=True)), [SCALAR]),
    "math.exp": (lambda m: math.exp(m.tensor(1.5, requires_grad=True)), [SCALAR]),
    "numpy float64": (lambda m: np.float64(m.tensor(1.5, requires_grad=True)), [SCALAR]),
    # (torch warns before its size check: the once-only warning is spent by the error)
    "float of several elements": (lambda m: _raising(ValueError, float,
                                                     m.ones(2, requires_grad=True)), [SCALAR]),
    "int": (lambda m: int(m.tensor(1.5, requires_grad=True)), []),
    "item": (lambda m: m.tensor(1.5, requires_grad=True).item(), []),
    "bool": (lambda m: bool(m.tensor(1.5, requires_grad=True)), []),
    "format": (lambda m: f"{m.tensor(1.5, requires_grad=True):.2f}", []),
    "float of a detached": (lambda m: float(m.tensor(1.5, requires_grad=True).detach()), []),
    "float without grad": (lambda m: float(m.tensor(1.5)), []),
    "float under no_grad": (lambda m: _under(m.no_grad(), float, m.tensor(1.5, requires_grad=True)),
                            []),
    "float under inference_mode": (lambda m: _under(m.inference_mode(), float,
                                                    m.tensor(1.5, requires_grad=True)), []),
    "tensor of a tensor": (lambda m: m.tensor(m.ones(2)), [COPY]),
    "tensor of a 0-d tensor with a dtype": (lambda m: m.tensor(m.tensor(1.0), dtype=m.float64),
                                            [COPY]),
    "tensor of a list of tensors": (lambda m: m.tensor([m.tensor(1.0), m.tensor(2.0)]), []),
    "tensor of a list of tensors that require grad": (
        lambda m: m.tensor([m.ones(2, requires_grad=True)[0], m.tensor(2.0)]), [SCALAR]),
    "tensor of a nested list with one that requires grad": (
        lambda m: m.tensor([[1.0, m.ones(1, requires_grad=True)]]), [SCALAR]),
    "as_tensor of a list of tensors that require grad": (
        lambda m: m.as_tensor([m.tensor(1.0, requires_grad=True) * 2]), [SCALAR]),
    "new_tensor of a list of tensors that require grad": (
        lambda m: m.ones(1).new_tensor([m.tensor(1.0, requires_grad=True)]), [SCALAR]),
    "tensor of a list of tensors under no_grad": (
        lambda m: _under(m.no_grad(), m.tensor, [m.tensor(1.0, requires_grad=True)]), []),
    "as_tensor of a tensor": (lambda m: m.as_tensor(m.ones(2)), []),
    "as_tensor of a tensor with another dtype": (
        lambda m: m.as_tensor(m.ones(2, requires_grad=True), dtype=m.float64), []),
    "new_tensor of a tensor": (lambda m: m.ones(1).new_tensor(m.ones(2)), [COPY]),
    "new_tensor of a list": (lambda m: m.ones(1).new_tensor([1.0, 2.0]), []),
    "loss module with size_average": (lambda m: m.nn.MSELoss(size_average=False), [LEGACY]),
    "loss module with reduce": (lambda m: m.nn.L1Loss(reduce=True), [LEGACY]),
    "poisson_nll_loss with reduce": (lambda m: m.nn.functional.poisson_nll_loss(
        m.ones(2), m.ones(2), reduce=False), [LEGACY]),
    "mse_loss with reduce": (lambda m: m.nn.functional.mse_loss(m.ones(2), m.ones(2),
                                                                reduce=False), [LEGACY]),
    "loss module with reduction": (lambda m: m.nn.MSELoss(reduction="sum"), []),
}


def _raising(exc, fn, x):
    with pytest.raises(exc):
        fn(x)


def _under(ctx, fn, x):
    with ctx:
        return fn(x)


def _warned(m, fn):
    """The messages of the warnings fn(m) gives, warn-once warnings included every time."""
    m.set_warn_always(True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn(m)
    finally:
        m.set_warn_always(False)
    return [str(w.message) for w in caught], caught


@pytest.mark.parametrize("name", list(CASES))
def test_warnings_as_torch(name):
    fn, expected = CASES[name]
    ours, caught = _warned(tg, fn)
    assert [next((p for p in (SCALAR, COPY, LEGACY) if msg.startswith(p)), msg)
            for msg in ours] == expected
    for w in caught:   # at the caller's line, not inside tapegrad
        assert w.filename == __file__
    if torch is not None:
        theirs, _ = _warned(torch, fn)
        assert [msg.split(" (Triggered internally")[0] for msg in theirs] == \
            [msg.replace("tapegrad.", "torch.") for msg in ours]


def test_messages_are_torchs():
    _, caught = _warned(tg, lambda m: float(m.tensor(1.5, requires_grad=True)))
    assert str(caught[0].message) == (
        "Converting a tensor with requires_grad=True to a scalar may lead to unexpected "
        "behavior.\nConsider using tensor.detach() first.")
    _, caught = _warned(tg, lambda m: m.tensor(m.ones(2)))
    assert str(caught[0].message) == (
        "To copy construct from a tensor, it is recommended to use sourceTensor.detach()"
        ".clone() or sourceTensor.detach().clone().requires_grad_(True), rather than "
        "torch.tensor(sourceTensor).")


def test_scalar_conversion_warns_once_per_process(monkeypatch):
    monkeypatch.setattr(errors, "_WARNED", set())
    x = tg.tensor(1.5, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        float(x)
        float(x * 2)
        complex(x)
    assert [str(w.message).startswith(SCALAR) for w in caught] == [True]


def test_copies_are_leaves_without_the_source_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = tg.tensor(x * 2)
        b = x.new_tensor(x * 3, requires_grad=True)
    assert a.is_leaf and not a.requires_grad and a.tolist() == [2.0, 4.0]
    assert b.is_leaf and b.requires_grad and b.tolist() == [3.0, 6.0]
    with pytest.raises(TypeError, match=r"new_tensor\(\): argument 'dtype' must be "
                                        r"torch.dtype, not int"):
        x.new_tensor([1.0], dtype=5)


def test_as_tensor_with_another_dtype_keeps_the_graph():
    """torch.as_tensor(t, dtype=...) of a tensor is t.to(dtype): recorded (ToCopyBackward0),
    not a copy that drops t's graph."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.as_tensor(x, dtype=tg.float64)
    assert type(y.grad_fn).__name__ == "ToCopyBackward0" and y.dtype == tg.float64
    (y * y).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0] and x.grad.dtype == tg.float32
    assert tg.as_tensor(x) is x and tg.as_tensor(x, dtype=tg.float32) is x
    ints = tg.as_tensor(x, dtype=tg.int64)
    assert ints.tolist() == [1, 2] and not ints.requires_grad
