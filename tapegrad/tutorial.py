"""The autograd tutorial's examples (shared/seed/autograd-tutorial.zh.txt), as code.

`python -m tapegrad` runs them and prints what they print; tests/test_tutorial.py runs each
with tapegrad and with torch and compares the output.  Each example is the tutorial's code
with `t`/`torch` bound to the module under test.
"""
import importlib
import io
import warnings
from contextlib import redirect_stdout

EXAMPLES = {
    "requires_grad": """
x = t.randn(3, 3)
y = t.randn(3, 3)
z = t.randn((3, 3), requires_grad=True)
print(x.requires_grad)
print(z.requires_grad)
a = x + z
print(a.requires_grad)
""",
    "int_requires_grad": """
try:
    b = t.tensor(2, requires_grad=True)
except RuntimeError as e:
    print("RuntimeError:", e)
b = t.tensor(2., requires_grad=True)
print(b)
""",
    "scalar_backward": """
x = Variable(torch.Tensor([16]), requires_grad=True)
y = x * x
print(y)
y.backward()
print(x.grad)
""",
    "vector_backward": """
torch.manual_seed(10000)
a = torch.ones(2, 2, requires_grad=True)
b = torch. ones(2, 2, requires_grad=True)
c = a + 2 * b
print(c)
d = torch.randn(2, 2)
print(d)
c.backward(d)
print(a.grad)
print(b.grad)
""",
    "vector_without_gradient": """
a = torch.ones(2, 2, requires_grad=True)
c = a + 2 * a
try:
    c.backward()
except RuntimeError as e:
    print("RuntimeError:", e)
""",
    "retain_graph": """
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
""",
    "sum_backward_twice": """
x = Variable(t.ones(2, 2), requires_grad=True)
print(x)
y = x.sum()
print(y)
print(y.data)
print(y.grad_fn)
print(y.requires_grad)
y.backward()
print(x.grad)
print(x.grad)
y.backward()
print(x.grad)
x.grad.data.zero_()
y.backward()
print(x.grad)
x = t.ones(2, 2, requires_grad=True)
print(x)
""",
    "gradient_check": """
x = t.Tensor([1])
a = t.tensor(2., requires_grad=True)
b = t.tensor(2., requires_grad=True)
c = t.tensor(3., requires_grad=True)
loss = a * a * x + b * x + c
print(a.grad, b.grad, c.grad)
loss.backward()
print(a.grad, b.grad, c.grad)
""",
    "autograd_grad": """
x = t.Tensor([1])
a = t.tensor(2., requires_grad=True)
b = t.tensor(2., requires_grad=True)
c = t.tensor(3., requires_grad=True)
loss = a * a * x + b * x + c
print(a.grad, b.grad, c.grad)
grads = autograd.grad(loss, [a, b, c])
print(grads)
print(a.grad, b.grad, c.grad)
""",
    "variable_summary": """
a = V(t.ones(2, 3), requires_grad=True)
print(a.data, a.grad, a.grad_fn)
b = V(t.ones(2, 3))
print(b.data, b.grad, b.grad_fn)
c = t.add(a, b).pow(2)
print(c.data, c.grad, c.grad_fn, c.requires_grad)
print(type(c.data.sum()))
print(type(c.sum()))
d = c.sum()
d.backward(retain_graph=True)
print(a.grad)
print(c.grad)
print(a.grad)
a.grad.data.zero_()
d.backward()
print(a.grad)
""",
    "no_grad": """
a = t.tensor([1.0, 2.0], requires_grad=True)
with t.no_grad():
    b = a.pow(2).sum()
print(b.requires_grad)
with t.enable_grad():
    b = a.pow(2).sum()
print(b.requires_grad)
""",
    "volatile": """
v = Variable(t.ones(2), volatile=True)
print(v, v.requires_grad)
""",
}


# the order the demo walks through them
ORDER = ["requires_grad", "int_requires_grad", "scalar_backward", "vector_backward",
         "vector_without_gradient", "retain_graph", "sum_backward_twice", "gradient_check",
         "autograd_grad", "variable_summary", "no_grad", "volatile"]


def run_example(src, module):
    """Run `src` with `module` bound to the tutorial's names; return stdout + warnings."""
    autograd = importlib.import_module(module.__name__ + ".autograd")
    ns = {"t": module, "torch": module, "autograd": autograd, "Variable": autograd.Variable,
          "V": autograd.Variable}
    buf = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, redirect_stdout(buf):
        warnings.simplefilter("always")
        exec(compile(src, "<tutorial>", "exec"), ns)
    out = buf.getvalue()
    for w in caught:
        msg = str(w.message).split(" (Triggered internally")[0]
        out += f"{w.category.__name__}: {msg}\n"
    return out
