"""Every example of the autograd tutorial (shared/seed/autograd-tutorial.zh.txt), run with
tapegrad in place of torch.  Each example is one code string run twice when torch is
installed: the printed output must be identical (after spelling torch as tapegrad and masking
object addresses).  Without torch the explicit assertions below still run."""
import re

import pytest

import tapegrad
from tapegrad.tutorial import EXAMPLES, run_example
import fresh

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
    # d is torch.randn(2, 2) after manual_seed(10000): the tutorial's values (d, a.grad,
    # b.grad = 2d)
    d = ["tensor([[ 2.0065,  1.9535],", "        [ 0.1517, -0.4269]])"]
    assert out[2:4] == out[4:6] == d
    assert out[6:8] == ["tensor([[ 4.0129,  3.9069],", "        [ 0.3034, -0.8538]])"]


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


def test_demo_runs_every_example():
    from tapegrad.tutorial import ORDER
    assert sorted(ORDER) == sorted(EXAMPLES)
    out = fresh.run_module("tapegrad").stdout
    assert "tensor([256.], grad_fn=<MulBackward0>)" in out
    assert out.count("-------- output") == len(EXAMPLES)
