"""Recorded tapes covering every kind a tape file can hold (scalar and n-d, float32 and
float64, guards, where, views, gathers, matmul, cat/stack, split, max(dim), and an hvp tape with the scatter kinds), with
example inputs.  Shared by the tape-file tests and their fuzz worker."""
import numpy as np

import tapegrad as tg


def _scalar(x, y):
    z = x
    for _ in range(4):
        z = z * 0.9 + (y * z).sin() * 0.1
    if z > -100.0:                           # guard_bool
        z = z + float(y * 0.0)               # guard_value (one element)
    return tg.where(x > y, z, z * 2.0) + x.exp() / (y * y + 1.0) + (x * 2.0).detach()


W = np.linspace(-1.0, 1.0, 12).reshape(3, 4)


def _nd(x, y):
    w = tg.tensor(W, dtype=x.dtype)                         # n-d constant
    h = (x @ w).tanh()                                      # matmul (2, 4)
    s = h[:, 1:3].sum(1, keepdim=True)                      # strided + reduce
    g = h.t()[[0, 2, 3]]                                    # strided + gather (3, 2)
    e = y.unsqueeze(0).expand(2, 4)                         # reshape + strided
    m = (g * s.t()).mean(0) + (h * e).permute(1, 0).sum(1).view(2, 2).reshape(4)[:2]
    b = (x.reshape(1, 2, 3) @ w.reshape(1, 3, 4)).squeeze(0).sum()
    j = tg.cat([x.reshape(6), y * y, w[0], y[:1]]) * 0.5        # cat: 4 operands, one constant
    k = tg.stack([y, y.exp()], 1)                                 # stack
    p, q = h.split([1, 3], 1)                                     # split: one entry, two outputs
    k = k + (p * 2.0).sum() + q.max(1).values.sum() + h.unbind(0)[1].min(0)[0]
    return (tg.where(m > 0, m, -m).sum() + b + x[x > -10].sum() * 0.1
            + (y ** 2).mean() + y.abs().sqrt().sum() + j.tanh().sum() + (k * k).mean())


def _grad_graph(x):
    """A gradient recorded with create_graph: strided_scatter and index_scatter entries."""
    h = (x[:, 1:] * x[:, 1:]).sum() + x.t()[[2, 0]].sin().sum()
    (g,) = tg.autograd.grad(h, x, create_graph=True)
    return (g * g).sum()


def tapes():
    """[(name, Recorded, example inputs as numpy arrays)]"""
    out = []
    xs = (0.3, -0.2)
    t = tg.record(_scalar, *(tg.tensor(v, dtype=tg.float64) for v in xs))
    out.append(("scalar64", t, [np.float64(v) for v in xs]))
    for dt in (tg.float32, tg.float64):
        x = np.array([[0.5, -1.0, 0.25], [2.0, 0.1, -0.3]], dt.np)
        y = np.array([0.2, -0.4, 0.6, 1.5], dt.np)
        t = tg.record(_nd, tg.tensor(x), tg.tensor(y))
        out.append((f"nd_{dt.name}", t, [x, y]))
    t = out[-1][1]
    t.hvp((tg.tensor(x), tg.tensor(y)), (tg.ones(2, 3, dtype=dt), tg.ones(4, dtype=dt)))
    out.append(("hvp", t._hvp_tape, [x, y, np.ones_like(x), np.ones_like(y)]))
    t = tg.record(_grad_graph, tg.tensor(x))
    out.append(("grad_graph", t, [x]))
    return out
