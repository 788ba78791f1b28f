"""Every example of the autograd tutorial (shared/seed/autograd-tutorial.zh.txt), run with
tapegrad in place of torch.  Each example is one code string run twice when torch is
installed: the printed output must be identical (after spelling torch as tapegrad and masking
object addresses).  Without torch the explicit assertions below still run."""
import io
import re
import warnings
from contextlib import redirect_stdout

import pytest

import tapegrad

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
d = torch.tensor([[2.0065, 1.9535], [0.1517, -0.4269]])
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


def run_example(src, module):
    """Run `src` with `module` bound to the tutorial's names; return stdout + warnings."""
    import importlib
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


def normalize(text):
    text = text.replace("torch.", "tapegrad.")
    return re.sub(r"0x[0-9a-fA-F]+", "0xADDR", text)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    if name == "requires_grad":
        pass  # prints flags only, no random values
    assert normalize(run_example(EXAMPLES[name], tapegrad)) == normalize(run_example(EXAMPLES[name], torch))


def lines(name):
    return run_example(EXAMPLES[name], tapegrad).splitlines()


def test_requires_grad_propagation():
    assert lines("requires_grad") == ["False", "True", "True"]


def test_int_requires_grad_error():
    assert lines("int_requires_grad") == [
        "RuntimeError: Only Tensors of floating point and complex dtype can require gradients",
        "tensor(2., requires_grad=True)"]


def test_scalar_backward():
    assert lines("scalar_backward") == ["tensor([256.], grad_fn=<MulBackward0>)", "tensor([32.])"]


def test_vector_backward():
    out = lines("vector_backward")
    assert out[:2] == ["tensor([[3., 3.],", "        [3., 3.]], grad_fn=<AddBackward0>)"]
    assert out[4:6] == ["tensor([[ 2.0065,  1.9535],", "        [ 0.1517, -0.4269]])"]
    assert out[6:8] == ["tensor([[ 4.0130,  3.9070],", "        [ 0.3034, -0.8538]])"]


def test_vector_without_gradient():
    assert lines("vector_without_gradient") == [
        "RuntimeError: grad can be implicitly created only for scalar outputs"]


def test_retain_graph_accumulates_then_frees():
    out = lines("retain_graph")
    assert out[:3] == ["tensor([4.], grad_fn=<PowBackward0>)", "tensor([4.])", "tensor([8.])"]
    assert out[3].startswith("RuntimeError: Trying to backward through the graph a second time")


def test_sum_backward_repeatable_and_zero():
    out = lines("sum_backward_twice")
    assert out[2] == "tensor(4., grad_fn=<SumBackward0>)"
    assert out[3] == "tensor(4.)"
    assert re.fullmatch(r"<SumBackward0 object at 0x[0-9a-f]+>", out[4])
    assert out[5] == "True"
    assert out[6:8] == out[8:10] == ["tensor([[1., 1.],", "        [1., 1.]])"]
    assert out[10:12] == ["tensor([[2., 2.],", "        [2., 2.]])"]
    assert out[12:14] == ["tensor([[1., 1.],", "        [1., 1.]])"]


def test_gradient_values():
    assert lines("gradient_check") == ["None None None", "tensor(4.) tensor(1.) tensor(1.)"]


def test_autograd_grad_returns_tuple_and_leaves_grad_alone():
    assert lines("autograd_grad") == ["None None None", "(tensor(4.), tensor(1.), tensor(1.))",
                                      "None None None"]


def test_variable_summary():
    out = lines("variable_summary")
    assert out[:2] == ["tensor([[1., 1., 1.],", "        [1., 1., 1.]]) None None"]
    assert re.fullmatch(r"        \[4., 4., 4.\]\]\) None <PowBackward0 object at 0x[0-9a-f]+> True",
                        out[5])
    assert out[6:8] == ["<class 'tapegrad.Tensor'>"] * 2
    # the tutorial's comment says ones; d = sum((a + b) ** 2) gives 2 * (a + b) = 4, as torch
    assert out[8:10] == ["tensor([[4., 4., 4.],", "        [4., 4., 4.]])"]
    assert out[10] == "None"
    assert out[13:15] == ["tensor([[4., 4., 4.],", "        [4., 4., 4.]])"]  # zeroed, then 4
    assert any(line.startswith("UserWarning: The .grad attribute of a Tensor that is not a leaf")
               for line in out)


def test_no_grad():
    assert lines("no_grad") == ["False", "True"]


def test_volatile_warns_and_has_no_effect():
    assert lines("volatile") == [
        "tensor([1., 1.]) False",
        "UserWarning: volatile was removed and now has no effect. Use `with tapegrad.no_grad():` instead."]
