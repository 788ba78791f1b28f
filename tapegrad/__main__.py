"""`python -m tapegrad`: walk through the autograd tutorial's examples and print what they print.

Each section is the tutorial's code with `import tapegrad as torch`; the output matches
PyTorch 2.13's (randn values aside: tapegrad's generator is numpy's).
"""
import warnings

import tapegrad as t
import tapegrad as torch
from tapegrad import autograd
from tapegrad.autograd import Variable


def section(title):
    print()
    print("=" * 8, title)


def main():
    warnings.simplefilter("always")
    warnings.formatwarning = lambda msg, cat, *a, **k: f"{cat.__name__}: {msg}\n"

    section("requires_grad propagates")
    x = t.randn(3, 3)
    z = t.randn((3, 3), requires_grad=True)
    a = x + z
    print(x.requires_grad, z.requires_grad, a.requires_grad)
    try:
        t.tensor(2, requires_grad=True)
    except RuntimeError as e:
        print("RuntimeError:", e)
    print(t.tensor(2., requires_grad=True))

    section("scalar backward")
    x = Variable(torch.Tensor([16]), requires_grad=True)
    y = x * x
    print(y)
    y.backward()
    print(x.grad)

    section("vector backward needs a gradient")
    torch.manual_seed(10000)
    a = torch.ones(2, 2, requires_grad=True)
    b = torch.ones(2, 2, requires_grad=True)
    c = a + 2 * b
    print(c)
    d = torch.tensor([[2.0065, 1.9535], [0.1517, -0.4269]])
    c.backward(d)
    print(a.grad)
    print(b.grad)
    try:
        (a + 2 * b).backward()
    except RuntimeError as e:
        print("RuntimeError:", e)

    section("retain_graph and accumulation")
    x = Variable(torch.Tensor([2]), requires_grad=True)
    y = x.pow(2)
    print(y)
    y.backward(retain_graph=True)
    print(x.grad)
    y.backward()
    print(x.grad)
    try:
        y.backward()
    except RuntimeError as e:
        print("RuntimeError:", e)

    section("sum backward can run again; grad.data.zero_()")
    x = Variable(t.ones(2, 2), requires_grad=True)
    print(x)
    y = x.sum()
    print(y)
    print(y.data)
    print(y.grad_fn)
    print(y.requires_grad)
    y.backward()
    print(x.grad)
    y.backward()
    print(x.grad)
    x.grad.data.zero_()
    y.backward()
    print(x.grad)

    section("gradients of a * a * x + b * x + c")
    x = t.Tensor([1])
    a = t.tensor(2., requires_grad=True)
    b = t.tensor(2., requires_grad=True)
    c = t.tensor(3., requires_grad=True)
    loss = a * a * x + b * x + c
    print(a.grad, b.grad, c.grad)
    loss.backward()
    print(a.grad, b.grad, c.grad)
    a = t.tensor(2., requires_grad=True)
    b = t.tensor(2., requires_grad=True)
    c = t.tensor(3., requires_grad=True)
    loss = a * a * x + b * x + c
    grads = autograd.grad(loss, [a, b, c])
    print(grads)

    section("Variable, grad_fn, retain_graph, non-leaf grad")
    a = Variable(t.ones(2, 3), requires_grad=True)
    print(a.data, a.grad, a.grad_fn)
    b = Variable(t.ones(2, 3))
    print(b.data, b.grad, b.grad_fn)
    c = t.add(a, b).pow(2)
    print(c.data, c.grad, c.grad_fn, c.requires_grad)
    print(type(c.data.sum()))
    print(type(c.sum()))
    d = c.sum()
    d.backward(retain_graph=True)
    print(a.grad)
    print(c.grad)
    a.grad.data.zero_()
    d.backward()
    print(a.grad)

    section("no_grad")
    a = t.tensor([1.0, 2.0], requires_grad=True)
    with t.no_grad():
        b = a.pow(2).sum()
    print(b.requires_grad)
    with t.enable_grad():
        b = a.pow(2).sum()
    print(b.requires_grad)


if __name__ == "__main__":
    main()
