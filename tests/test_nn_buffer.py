"""nn.Buffer as torch's: a detached plain tensor that Module attribute assignment registers as a
buffer with its persistence."""
import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


def _module(m, **kw):
    class M(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = m.nn.Linear(2, 2)
            self.kept = m.nn.Buffer(m.zeros(3))
            self.scratch = m.nn.Buffer(m.ones(2), persistent=False)
    return M()


def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as e:   # noqa: BLE001  (the type and message are what is compared)
        return (type(e).__name__, str(e))


def test_buffer_is_a_detached_plain_tensor():
    res = []
    for m in (tg, torch):
        x = m.ones(2, requires_grad=True)
        b = m.nn.Buffer(x)
        c = m.nn.Buffer(x * 2)             # a non-leaf: detached, requires_grad kept
        d = m.nn.Buffer(m.ones(2), persistent=False)
        res.append((type(b) is m.Tensor, isinstance(b, m.nn.Buffer), isinstance(x, m.nn.Buffer),
                    isinstance(b, m.Tensor), issubclass(m.nn.Buffer, m.Tensor),
                    b.requires_grad, b.is_leaf, b.grad_fn is None, c.requires_grad, c.is_leaf,
                    c.grad_fn is None, isinstance(d, m.nn.Buffer), tuple(m.nn.Buffer().shape),
                    repr(b)))
    res[0] = tuple(v.replace("tapegrad", "torch") if isinstance(v, str) else v for v in res[0])
    assert res[0] == res[1]
    x = tg.ones(2)
    b = tg.nn.Buffer(x)
    b.add_(1.0)                            # the data is shared, as detach's
    np.testing.assert_array_equal(x.numpy(), [2.0, 2.0])


def test_assigning_buffers_registers_them_with_their_persistence():
    res = []
    for m in (tg, torch):
        mod = _module(m)
        sd = mod.state_dict()
        names = [n for n, _ in mod.named_buffers()]
        mod.kept = m.ones(3)               # a plain tensor to a buffer's name: still a buffer
        mod.scratch = m.nn.Buffer(m.zeros(2), persistent=True)   # now persistent
        mod.extra = m.nn.Buffer(m.full((1,), 5.0), persistent=False)
        mod.plain = m.ones(1)              # a plain tensor: an attribute, no buffer
        res.append((sorted(sd), names, sorted(mod.state_dict()),
                    [n for n, _ in mod.named_buffers()], mod.kept.tolist(),
                    [n for n, _ in mod.named_parameters()], repr(mod).replace("torch", "tapegrad")))
    assert res[0] == res[1]


def test_buffer_assignment_errors_as_torch():
    res = []
    for m in (tg, torch):
        mod = _module(m)
        mod.attr = 1
        res.append([
            _outcome(lambda: setattr(mod, "kept", 3)),                           # not a tensor
            _outcome(lambda: setattr(mod, "attr", m.nn.Buffer(m.ones(1)))),      # name taken
            _outcome(lambda: setattr(mod, "lin", m.nn.Buffer(m.ones(1)))),       # a module's
            _outcome(lambda: m.nn.Buffer([1.0])),                                # not a tensor
        ])
        res[-1] = [(k, v.replace("tapegrad", "torch")) if isinstance(v, str) else (k, None)
                   for k, v in res[-1]]
    assert res[0] == res[1]


def test_buffers_survive_to_and_load_state_dict():
    res = []
    for m in (tg, torch):
        mod = _module(m)
        mod.to(m.float64)
        other = _module(m)
        other.kept = m.nn.Buffer(m.full((3,), 7.0))
        mod.load_state_dict(other.state_dict())
        res.append((str(mod.kept.dtype).split(".")[-1], mod.kept.tolist(),
                    mod.scratch.tolist(), sorted(mod.state_dict())))
    assert res[0] == res[1]
