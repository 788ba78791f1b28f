"""PyTorch's custom-Function and autograd-mechanics documentation as programs: "Extending
PyTorch" (docs/notes/extending), the "Double Backward with Custom Functions" and "Fusing
Convolution and Batch Norm using Custom Function" tutorials and the "Autograd mechanics"
notes, small sizes, the docs' code otherwise kept (`import` lines become attribute look-ups,
so that `torch` is whichever module runs them).  Each runs with tapegrad and with torch 2.13;
what it `show`s (values, shapes, dtypes, flags, grad_fn names, next_functions, gradients,
warnings, errors) must agree: numbers within round-off, strings exactly.  The programs'
asserts (gradcheck, closed forms) also run without torch."""
import math
import re
import threading
import warnings

import numpy as np
import pytest

import tapegrad

# whole programs, each run with tapegrad and with torch: slow (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow

EXTENDING = """
Function = torch.autograd.Function
once_differentiable = torch.autograd.function.once_differentiable
gradcheck, gradgradcheck = torch.autograd.gradcheck, torch.autograd.gradgradcheck
nn = torch.nn
SHOWING = [True]

def log(*r):
    # what backward sees while gradcheck runs depends on gradcheck's internals
    if SHOWING[0]:
        show(*r)

def checked(check, *args, **kwargs):
    SHOWING[0] = False
    try:
        return check(*args, **kwargs)
    finally:
        SHOWING[0] = True

# Inherit from Function
class LinearFunction(Function):

    # Note that forward, setup_context, and backward are @staticmethods
    @staticmethod
    def forward(input, weight, bias):
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    @staticmethod
    # inputs is a Tuple of all of the inputs passed to forward.
    # output is the output of the forward().
    def setup_context(ctx, inputs, output):
        input, weight, bias = inputs
        ctx.save_for_backward(input, weight, bias)

    # This function has only a single output, so it gets only one gradient
    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        log("needs_input_grad", ctx.needs_input_grad)
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_input, grad_weight, grad_bias

# the combined style: forward takes ctx
class LinearFunctionCtx(Function):
    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_input, grad_weight, grad_bias

linear = LinearFunction.apply

torch.manual_seed(0)
x = torch.randn(4, 3, dtype=torch.double, requires_grad=True)
w = torch.randn(2, 3, dtype=torch.double, requires_grad=True)
b = torch.randn(2, dtype=torch.double, requires_grad=True)
y = linear(x, w, b)
show("y", y, y.grad_fn.name(), type(y.grad_fn).__name__, next_fns(y))
g = torch.randn(4, 2, dtype=torch.double)
y.backward(g)
show("grads", x.grad, w.grad, b.grad)
assert torch.allclose(x.grad, g.mm(w)) and torch.allclose(w.grad, g.t().mm(x))
assert torch.allclose(b.grad, g.sum(0))
# only the weight needs a gradient
y2 = LinearFunctionCtx.apply(x.detach(), w, None)
show("y2", y2, next_fns(y2))
(gw,) = torch.autograd.grad(y2.sum(), w)
show("gw", gw)
input = (torch.randn(5, 3, dtype=torch.double, requires_grad=True),
         torch.randn(2, 3, dtype=torch.double, requires_grad=True))
test = checked(gradcheck, LinearFunctionCtx.apply, input, eps=1e-6, atol=1e-4)
show("gradcheck linear", test)
assert test
show("gradcheck linear+bias", checked(gradcheck, linear, input + (b,), eps=1e-6, atol=1e-4))
show("gradgradcheck linear", checked(gradgradcheck, LinearFunctionCtx.apply, input, eps=1e-6, atol=1e-4))

class MulConstant(Function):
    @staticmethod
    def forward(tensor, constant):
        return tensor * constant

    @staticmethod
    def setup_context(ctx, inputs, output):
        # ctx is a context object that can be used to stash information
        # for backward computation
        tensor, constant = inputs
        ctx.constant = constant

    @staticmethod
    def backward(ctx, grad_output):
        # We return as many input gradients as there were arguments.
        # Gradients of non-Tensor arguments to forward must be None.
        return grad_output * ctx.constant, None

a = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
m = MulConstant.apply(a, 2.5)
m.sum().backward()
show("MulConstant", m, a.grad, next_fns(m))
assert torch.equal(a.grad, torch.full((3,), 2.5))
show("gradcheck MulConstant", gradcheck(lambda t: MulConstant.apply(t, 3.0),
                                        (torch.randn(3, dtype=torch.double, requires_grad=True),)))

class MyCube(Function):
    @staticmethod
    def forward(x):
        # We wish to save dx for backward. In order to do so, it must
        # be returned as an output.
        dx = 3 * x ** 2
        result = x ** 3
        return result, dx

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, = inputs
        result, dx = output
        ctx.save_for_backward(x, dx)

    @staticmethod
    def backward(ctx, grad_output, grad_dx):
        x, dx = ctx.saved_tensors
        # In order for the autograd.Function to work with higher-order
        # gradients, we must add the gradient contribution of `dx`,
        # which is grad_dx * 6 * x.
        result = grad_output * dx + grad_dx * 6 * x
        return result

# Wrap MyCube in a function so that it is clearer what the output is
def my_cube(x):
    result, dx = MyCube.apply(x)
    return result

x = torch.tensor([0.5, -1.5, 2.0], dtype=torch.double, requires_grad=True)
r, dx = MyCube.apply(x)
show("MyCube", r, dx, r.grad_fn is dx.grad_fn, r.grad_fn.name())
(g1,) = torch.autograd.grad(my_cube(x).sum(), x, create_graph=True)
(g2,) = torch.autograd.grad(g1.sum(), x)
show("MyCube grads", g1, g2)
assert torch.allclose(g1, 3 * x ** 2) and torch.allclose(g2, 6 * x)
show("gradcheck MyCube", gradcheck(my_cube, (x,)), gradgradcheck(my_cube, (x,)))

# the extra output marked non-differentiable
class MyCubeND(Function):
    @staticmethod
    def forward(ctx, x):
        dx = 3 * x ** 2
        ctx.save_for_backward(dx)
        ctx.mark_non_differentiable(dx)
        return x ** 3, dx

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output, grad_dx):
        log("grad_dx", grad_dx)
        dx, = ctx.saved_tensors
        return grad_output * dx

r, dx = MyCubeND.apply(x)
show("MyCubeND", r, dx)
(r + dx).sum().backward()
show("MyCubeND grad", x.grad)
show("gradcheck MyCubeND", checked(gradcheck, lambda t: MyCubeND.apply(t)[0], (x,)))

# the docs' mark_non_differentiable example: sort
class Func(Function):
    @staticmethod
    def forward(ctx, x):
        sorted, idx = x.sort()
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(x, idx)
        return sorted, idx

    @staticmethod
    @once_differentiable
    def backward(ctx, g1, g2):  # still need to accept g2
        x, idx = ctx.saved_tensors
        grad_input = torch.zeros_like(x)
        grad_input.index_add_(0, idx, g1)
        return grad_input

v = torch.tensor([3.0, 1.0, 2.0], requires_grad=True)
s, i = Func.apply(v)
show("sort", s, i, i.requires_grad)
(s * torch.tensor([1.0, 10.0, 100.0])).sum().backward()
show("sort grad", v.grad)

# mark_dirty: the input changed in place is returned
class Inplace(Function):
    @staticmethod
    def forward(ctx, x):
        x.add_(1)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        return grad_output

a = torch.tensor(1., requires_grad=True, dtype=torch.double).clone()
b = a * a
out = Inplace.apply(a)
show("Inplace", out is a, a, a.grad_fn.name(), a._version)
try:
    b.backward()
except RuntimeError as e:
    show("mark_dirty error", str(e))
leaf = torch.tensor([1.0, 2.0], requires_grad=True)
try:
    Inplace.apply(leaf)
except RuntimeError as e:
    show("leaf error", str(e))

class SimpleFunc(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x)
        return x.clone(), x.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, g1, g2):
        log("materialize", g1.detach(), g1.requires_grad, g2)
        x, = ctx.saved_tensors
        grad_input = torch.zeros_like(x)
        if g1 is not None:  # We must check for None now
            grad_input += g1
        if g2 is not None:
            grad_input += g2
        return grad_input

a = torch.tensor(1., requires_grad=True)
b, _ = SimpleFunc.apply(a)
b.backward()  # g2 will be None
show("SimpleFunc", a.grad)

# once_differentiable: a second backward through it raises
x = torch.tensor([0.5, 2.0], dtype=torch.double, requires_grad=True)
r, _ = SimpleFunc.apply(x)
(g,) = torch.autograd.grad((r * r).sum(), x, create_graph=True)
show("once", g, g.grad_fn.name())
try:
    g.sum().backward()
except RuntimeError as e:
    show("once_differentiable error", str(e))

class Linear(nn.Module):
    def __init__(self, input_features, output_features, bias=True):
        super().__init__()
        self.input_features = input_features
        self.output_features = output_features

        # nn.Parameter is a special kind of Tensor, that will get
        # automatically registered as Module's parameter once it's assigned
        # as an attribute. Parameters and buffers need to be registered, or
        # they won't appear in .parameters() (doesn't apply to buffers), and
        # won't be converted when e.g. .cuda() is called. You can use
        # .register_buffer() to register buffers.
        # nn.Parameters require gradients by default.
        self.weight = nn.Parameter(torch.empty(output_features, input_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(output_features))
        else:
            # You should always register all possible parameters, but the
            # optional ones can be None if you want.
            self.register_parameter('bias', None)

        # Not a very smart way to initialize weights
        nn.init.uniform_(self.weight, -0.1, 0.1)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -0.1, 0.1)

    def forward(self, input):
        # See the autograd section for explanation of what happens here.
        return LinearFunction.apply(input, self.weight, self.bias)

    def extra_repr(self):
        # (Optional)Set the extra information about this module. You can test
        # it by printing an object of this class.
        return 'input_features={}, output_features={}, bias={}'.format(
            self.input_features, self.output_features, self.bias is not None
        )

torch.manual_seed(1)
lin = Linear(3, 2)
show("module", repr(lin), [n for n, _ in lin.named_parameters()], repr(Linear(2, 2, bias=False)))
out = lin(torch.randn(4, 3))
out.pow(2).sum().backward()
show("module out", out, lin.weight.grad, lin.bias.grad, next_fns(out))
"""

DOUBLE_BACKWARD = """
class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        # Because we are saving one of the inputs use `save_for_backward`
        # Save non-tensors and non-inputs/non-outputs directly on ctx
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad_out):
        # A function support double backward automatically if autograd
        # is able to record the computations performed in backward
        x, = ctx.saved_tensors
        return grad_out * 2 * x

# Use double precision because finite differencing method magnifies errors
x = torch.rand(3, 3, requires_grad=True, dtype=torch.double)
show("gradcheck Square", torch.autograd.gradcheck(Square.apply, x))
# Use gradcheck to verify second-order derivatives
show("gradgradcheck Square", torch.autograd.gradgradcheck(Square.apply, x))

x = torch.tensor(1., requires_grad=True).clone()
out = Square.apply(x)
grad_x, = torch.autograd.grad(out, x, create_graph=True)
show("Square graph", out, grad_x, grad_x.requires_grad)
(gg,) = torch.autograd.grad(grad_x, x)
assert gg.item() == 2.0
show("Square gg value", gg)

class Exp(torch.autograd.Function):
    # Simple case where everything goes well
    @staticmethod
    def forward(ctx, x):
        # This time we save the output
        result = torch.exp(x)
        # Note that we should use `save_for_backward` here when
        # the tensor saved is an ouptut (or an input).
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_out):
        result, = ctx.saved_tensors
        return result * grad_out

x = torch.tensor(1., requires_grad=True, dtype=torch.double).clone()
# Validate our gradients using gradcheck
show("gradcheck Exp", torch.autograd.gradcheck(Exp.apply, x), torch.autograd.gradgradcheck(Exp.apply, x))
out = Exp.apply(x)
grad_x, = torch.autograd.grad(out, x, create_graph=True)
(gg,) = torch.autograd.grad(grad_x, x)
assert abs(gg.item() - math.e) < 1e-12
show("Exp graph", out, grad_x, gg)

class Sinh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        expx = torch.exp(x)
        expnegx = torch.exp(-x)
        ctx.save_for_backward(expx, expnegx)
        # In order to be able to save the intermediate results, a trick is to
        # include them as our outputs, so that the backward graph is constructed
        return (expx - expnegx) / 2, expx, expnegx

    @staticmethod
    def backward(ctx, grad_out, _grad_out_exp, _grad_out_negexp):
        expx, expnegx = ctx.saved_tensors
        grad_input = grad_out * (expx + expnegx) / 2
        # We cannot skip accumulating these even though we won't use the outputs
        # directly. They will be used later in the second backward.
        grad_input += _grad_out_exp * expx
        grad_input -= _grad_out_negexp * expnegx
        return grad_input

def sinh(x):
    # Create a wrapper that only returns the first output
    return Sinh.apply(x)[0]

x = torch.rand(3, 3, requires_grad=True, dtype=torch.double)
show("gradcheck Sinh", torch.autograd.gradcheck(sinh, x), torch.autograd.gradgradcheck(sinh, x))
x = torch.tensor([0.3, -1.2], requires_grad=True, dtype=torch.double)
out = sinh(x)
grad_x, = torch.autograd.grad(out.sum(), x, create_graph=True)
(gg,) = torch.autograd.grad(grad_x.sum(), x)
assert torch.allclose(grad_x, torch.cosh(x)) and torch.allclose(gg, torch.sinh(x))
show("Sinh graph", out, grad_x, gg, next_fns(out))

class SinhBad(torch.autograd.Function):
    # This is an example of what NOT to do!
    @staticmethod
    def forward(ctx, x):
        expx = torch.exp(x)
        expnegx = torch.exp(-x)
        ctx.expx = expx
        ctx.expnegx = expnegx
        return (expx - expnegx) / 2

    @staticmethod
    def backward(ctx, grad_out):
        expx = ctx.expx
        expnegx = ctx.expnegx
        grad_input = grad_out * (expx + expnegx) / 2
        return grad_input

x = torch.tensor([0.3, -1.2], requires_grad=True, dtype=torch.double)
out = SinhBad.apply(x)
grad_x, = torch.autograd.grad(out.sum(), x, create_graph=True)
show("SinhBad", grad_x, grad_x.requires_grad)
show("gradcheck SinhBad", torch.autograd.gradcheck(SinhBad.apply, x))
show("SinhBad second derivative", torch.autograd.gradgradcheck(SinhBad.apply, x, raise_exception=False))

# When backward is not tracked: a custom Function for the backward itself
def cube_forward(x):
    return x**3

def cube_backward(grad_out, x):
    return grad_out * 3 * x**2

def cube_backward_backward(grad_out, sav_grad_out, x):
    return grad_out * sav_grad_out * 6 * x

def cube_backward_backward_grad_out(grad_out, x):
    return grad_out * 3 * x**2

class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return cube_forward(x)

    @staticmethod
    def backward(ctx, grad_out):
        x, = ctx.saved_tensors
        return CubeBackward.apply(grad_out, x)

class CubeBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad_out, x):
        ctx.save_for_backward(x, grad_out)
        return cube_backward(grad_out, x)

    @staticmethod
    def backward(ctx, grad_out):
        x, sav_grad_out = ctx.saved_tensors
        dx = cube_backward_backward(grad_out, sav_grad_out, x)
        dgrad_out = cube_backward_backward_grad_out(grad_out, x)
        return dgrad_out, dx

x = torch.tensor(2., requires_grad=True, dtype=torch.double)
show("gradcheck Cube", torch.autograd.gradcheck(Cube.apply, x), torch.autograd.gradgradcheck(Cube.apply, x))
grad_x, = torch.autograd.grad(Cube.apply(x), x, create_graph=True)
show("Cube graph", grad_x, grad_x.grad_fn.name(), next_fns(grad_x))

class CubeOnce(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return cube_forward(x)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, = ctx.saved_tensors
        return cube_backward(grad_out, x)

show("gradcheck CubeOnce", torch.autograd.gradcheck(CubeOnce.apply, x))
grad_x, = torch.autograd.grad(CubeOnce.apply(x), x, create_graph=True)
# the gradient does not require grad: once_differentiable's backward ran without recording
show("CubeOnce graph", grad_x, grad_x.grad_fn)
try:
    torch.autograd.gradgradcheck(CubeOnce.apply, x)
except RuntimeError as e:
    show("CubeOnce gg", type(e).__name__, str(e))
"""

FUSING = """
F = torch.nn.functional
nn = torch.nn
once_differentiable = torch.autograd.function.once_differentiable

def convolution_backward(grad_out, X, weight):
    grad_input = F.conv2d(X.transpose(0, 1), grad_out.transpose(0, 1)).transpose(0, 1)
    grad_X = F.conv_transpose2d(grad_out, weight)
    return grad_X, grad_input

class Conv2D(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, weight):
        ctx.save_for_backward(X, weight)
        return F.conv2d(X, weight)

    # Use @once_differentiable by default unless we intend to double backward
    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        X, weight = ctx.saved_tensors
        return convolution_backward(grad_out, X, weight)

# the same with torch.nn.grad's functions
class Conv2DGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, weight):
        ctx.save_for_backward(X, weight)
        return F.conv2d(X, weight, stride=2, padding=1)

    @staticmethod
    def backward(ctx, grad_out):
        X, weight = ctx.saved_tensors
        return (torch.nn.grad.conv2d_input(X.shape, weight, grad_out, stride=2, padding=1),
                torch.nn.grad.conv2d_weight(X, weight.shape, grad_out, stride=2, padding=1))

torch.manual_seed(0)
weight = torch.rand(4, 2, 3, 3, requires_grad=True, dtype=torch.double)
X = torch.rand(2, 2, 5, 5, requires_grad=True, dtype=torch.double)
show("gradcheck Conv2D", torch.autograd.gradcheck(Conv2D.apply, (X, weight)))
show("gradcheck Conv2DGrad", torch.autograd.gradcheck(Conv2DGrad.apply, (X, weight)),
     torch.autograd.gradgradcheck(Conv2DGrad.apply, (X[:1, :, :4, :4], weight[:2])))
y = Conv2DGrad.apply(X, weight)
go = torch.randn(y.shape, dtype=torch.double)
gX, gw = torch.autograd.grad(F.conv2d(X, weight, stride=2, padding=1), (X, weight), go)
assert torch.allclose(gX, torch.nn.grad.conv2d_input(X.shape, weight, go, stride=2, padding=1))
assert torch.allclose(gw, F.grad.conv2d_weight(X, weight.shape, go, stride=2, padding=1))
show("nn.grad", y.shape, gX.sum(), gw.sum(), F.grad is torch.nn.grad)

def unsqueeze_all(t):
    # Helper function to ``unsqueeze`` all the dimensions that we reduce over
    return t[None, :, None, None]

def batch_norm_backward(grad_out, X, sum, sqrt_var, N, eps):
    # We use the formula: ``out = (X - mean(X)) / (sqrt(var(X)) + eps)``
    # in batch norm 2D forward. To simplify our derivation, we follow the
    # chain rule and compute the gradients as follows before accumulating
    # them all into a final grad_input.
    #  1) ``grad of out wrt var(X)`` * ``grad of var(X) wrt X``
    #  2) ``grad of out wrt mean(X)`` * ``grad of mean(X) wrt X``
    #  3) ``grad of out wrt X in the numerator`` * ``grad of X wrt X``
    # We then rewrite the formulas to use as few extra buffers as possible
    tmp = ((X - unsqueeze_all(sum) / N) * grad_out).sum(dim=(0, 2, 3))
    tmp *= -1
    d_denom = tmp / (sqrt_var + eps)**2  # ``d_denom = -num / denom**2``
    d_var = d_denom / (2 * sqrt_var)  # ``denom = torch.sqrt(var) + eps``
    # Compute ``d_mean_dx`` before allocating the final NCHW-sized grad_input buffer
    d_mean_dx = grad_out / unsqueeze_all(sqrt_var + eps)
    d_mean_dx = unsqueeze_all(-d_mean_dx.sum(dim=(0, 2, 3)) / N)
    # ``(1) unbiased_var(x) = ((X - unsqueeze_all(mean))**2).sum(dim=(0, 2, 3)) / (N - 1)``
    grad_input = X * unsqueeze_all(d_var * N)
    grad_input += unsqueeze_all(-d_var * sum)
    grad_input *= 2 / ((N - 1) * N)
    # (2) mean (see above)
    grad_input += d_mean_dx
    # (3) Add 'grad_out / <factor>' without allocating an extra buffer
    grad_input *= unsqueeze_all(sqrt_var + eps)
    grad_input += grad_out
    grad_input /= unsqueeze_all(sqrt_var + eps)  # ``sqrt_var + eps > 0!``
    return grad_input

class BatchNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, eps=1e-3):
        # Don't save ``keepdim`` values for backward
        sum = X.sum(dim=(0, 2, 3))
        var = X.var(unbiased=True, dim=(0, 2, 3))
        N = X.numel() / X.size(1)
        sqrt_var = torch.sqrt(var)
        ctx.save_for_backward(X)
        ctx.eps = eps
        ctx.sum = sum
        ctx.N = N
        ctx.sqrt_var = sqrt_var
        mean = sum / N
        denom = sqrt_var + eps
        out = X - unsqueeze_all(mean)
        out /= unsqueeze_all(denom)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        X, = ctx.saved_tensors
        return batch_norm_backward(grad_out, X, ctx.sum, ctx.sqrt_var, ctx.N, ctx.eps)

a = torch.rand(1, 2, 3, 4, requires_grad=True, dtype=torch.double)
show("gradcheck BatchNorm", torch.autograd.gradcheck(BatchNorm.apply, (a,), fast_mode=False))
out = BatchNorm.apply(a)
show("BatchNorm out", out.mean(dim=(0, 2, 3)), out.grad_fn.name(), next_fns(out))

class FusedConvBN2DFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, conv_weight, eps=1e-3):
        assert X.ndim == 4  # N, C, H, W
        # (1) Only need to save this single buffer for backward!
        ctx.save_for_backward(X, conv_weight)

        # (2) Exact same Conv2D forward from example above
        X = F.conv2d(X, conv_weight)
        # (3) Exact same BatchNorm2D forward from example above
        sum = X.sum(dim=(0, 2, 3))
        var = X.var(unbiased=True, dim=(0, 2, 3))
        N = X.numel() / X.size(1)
        sqrt_var = torch.sqrt(var)
        ctx.eps = eps
        ctx.sum = sum
        ctx.N = N
        ctx.sqrt_var = sqrt_var
        mean = sum / N
        denom = sqrt_var + eps
        # Try to do as many things in-place as possible
        # Instead of `out = (X - a) / b`, doing `out = X - a; out /= b`
        # avoids allocating one extra NCHW-sized buffer here
        out = X - unsqueeze_all(mean)
        out /= unsqueeze_all(denom)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        X, conv_weight, = ctx.saved_tensors
        # (4) Batch norm backward
        # (5) We need to recompute conv
        X_conv_out = F.conv2d(X, conv_weight)
        grad_out = batch_norm_backward(grad_out, X_conv_out, ctx.sum, ctx.sqrt_var,
                                       ctx.N, ctx.eps)
        # (6) Conv2d backward
        grad_X, grad_input = convolution_backward(grad_out, X, conv_weight)
        return grad_X, grad_input, None, None, None, None, None

weight = torch.rand(3, 2, 3, 3, requires_grad=True, dtype=torch.double)
X = torch.rand(2, 2, 4, 4, requires_grad=True, dtype=torch.double)
show("gradcheck Fused", torch.autograd.gradcheck(FusedConvBN2DFunction.apply, (X, weight)))

class FusedConvBN(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, exp_avg_factor=0.1,
                 eps=1e-3, device=None, dtype=None):
        super(FusedConvBN, self).__init__()
        factory_kwargs = {'device': device, 'dtype': dtype}
        # Conv parameters
        weight_shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.conv_weight = nn.Parameter(torch.empty(*weight_shape, **factory_kwargs))
        # Batch norm parameters
        num_features = out_channels
        self.num_features = num_features
        self.eps = eps
        # Initialize
        self.reset_parameters()

    def forward(self, X):
        return FusedConvBN2DFunction.apply(X, self.conv_weight, self.eps)

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.conv_weight, a=math.sqrt(5))

class Net(nn.Module):
    def __init__(self, fused=True):
        super(Net, self).__init__()
        self.fused = fused
        if fused:
            self.convbn1 = FusedConvBN(1, 4, 3)
            self.convbn2 = FusedConvBN(4, 8, 3)
        else:
            self.conv1 = nn.Conv2d(1, 4, 3, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(4, affine=False, track_running_stats=False)
            self.conv2 = nn.Conv2d(4, 8, 3, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(8, affine=False, track_running_stats=False)
        self.fc1 = nn.Linear(72, 16)
        self.dropout = nn.Dropout(0.5)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        if self.fused:
            x = self.convbn1(x)
        else:
            x = self.conv1(x)
            x = self.bn1(x)
        F.relu_(x)
        if self.fused:
            x = self.convbn2(x)
        else:
            x = self.conv2(x)
            x = self.bn2(x)
        F.relu_(x)
        x = F.max_pool2d(x, 2)
        F.relu_(x)
        x = x.flatten(1)
        x = self.fc1(x)
        x = self.dropout(x)
        F.relu_(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output

def train(model, optimizer, data, target, steps):
    model.train()
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, output

for fused in (True, False):
    torch.manual_seed(123456)
    model = Net(fused=fused)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    data, target = torch.randn(6, 1, 10, 10), torch.randint(0, 10, (6,))
    losses, output = train(model, optimizer, data, target, 4)
    show("train", fused, losses, output.grad_fn.name(), repr(model))
"""

MECHANICS = """
# requires_grad propagates
x = torch.randn(5, 5)  # requires_grad=False by default
y = torch.randn(5, 5)  # requires_grad=False by default
z = torch.randn((5, 5), requires_grad=True)
a = x + y
show("a", a.requires_grad, a.is_leaf, a.grad_fn)
b = a + z
show("b", b.requires_grad, b.is_leaf, b.grad_fn.name(), next_fns(b))

# freezing part of a model: only the new head gets gradients
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 3))
for param in model.parameters():
    param.requires_grad = False
# Replace the last fully-connected layer
# Parameters of newly constructed modules have requires_grad=True by default
model[2] = torch.nn.Linear(3, 2)
out = model(torch.randn(2, 4))
out.sum().backward()
show("frozen", [(n, p.requires_grad, p.grad is None) for n, p in model.named_parameters()])

# grad modes
x = torch.tensor([1.], requires_grad=True)
with torch.no_grad():
    y = x * 2
show("no_grad", y.requires_grad, y.is_leaf)
@torch.no_grad()
def doubler(x):
    return x * 2
z = doubler(x)
show("decorated", z.requires_grad)
is_train = False
with torch.set_grad_enabled(is_train):
    y = x * 2
show("set_grad_enabled(False)", y.requires_grad)
torch.set_grad_enabled(False)
y = x * 2
show("function form", y.requires_grad, torch.is_grad_enabled())
torch.set_grad_enabled(True)
y = x * 2
show("back on", y.requires_grad, torch.is_grad_enabled())
with torch.no_grad():
    with torch.enable_grad():
        y = x * 2
show("enable_grad inside no_grad", y.requires_grad)
with torch.inference_mode():
    y = x * 2
    show("inference_mode", torch.is_inference_mode_enabled(), torch.is_grad_enabled())
show("after inference_mode", y.requires_grad, torch.is_inference_mode_enabled())
with torch.inference_mode(False):
    show("inference_mode(False)", (x * 2).requires_grad)
# module.eval() is not a grad mode
m = torch.nn.Dropout(0.5).eval()
show("eval", m.training, m(x).requires_grad)

# in-place correctness checks: the version counter
a = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
b = a.exp()
show("versions", a._version, b._version)
b.add_(1)
show("versions after add_", b._version, b.grad_fn.name())
try:
    b.sum().backward()
except RuntimeError as e:
    show("version error", str(e))
c = a.sigmoid()
d = c * 3
c.mul_(2)
try:
    d.sum().backward()
except RuntimeError as e:
    show("sigmoid saves its output", str(e))
try:
    a.add_(1)
except RuntimeError as e:
    show("leaf in-place", str(e))
with torch.no_grad():
    a.add_(1)
show("leaf under no_grad", a, a._version, a.is_leaf)

# retain_grad and hooks
a = torch.tensor(2., requires_grad=True)
b = a * 3
b.retain_grad()
b.register_hook(lambda g: g * 2)
c = b ** 2
c.backward()
show("retain_grad", b.grad, a.grad, b.retains_grad, a.retains_grad, c.retains_grad)
show("non-leaf grad", c.grad)  # None, with a warning
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x * x
h = y.register_hook(lambda g: show("tensor hook", g))
y.grad_fn.register_prehook(lambda gout: show("prehook", gout))
y.grad_fn.register_hook(lambda gin, gout: show("node hook", gin, gout))
x.register_post_accumulate_grad_hook(lambda p: show("post accumulate", p.grad))
y.sum().backward(retain_graph=True)
h.remove()
y.sum().backward()
show("accumulated", x.grad)
# a hook registered before an in-place change sees the gradient of the value before it
t = torch.tensor(1., requires_grad=True).sin()
t.register_hook(lambda g: show("before in-place", g))
t.cos_()
t.register_hook(lambda g: show("after in-place", g))
t.backward()

# saved tensors
x = torch.randn(5, requires_grad=True)
y = x.pow(2)
show("_saved_self", x.equal(y.grad_fn._saved_self), x is y.grad_fn._saved_self)
y = x.exp()
show("_saved_result", y.equal(y.grad_fn._saved_result), y is y.grad_fn._saved_result)
show("_saved_exponent", x.pow(3).grad_fn._saved_exponent)

# multithreaded backward: each thread its own graph, then one shared graph
def train_fn(i, out):
    x = torch.ones(5, 5, requires_grad=True)
    # forward
    y = (x + 3) * (x + 4) * 0.5
    # backward
    y.sum().backward()
    out[i] = x.grad
results = [None] * 4
threads = []
for i in range(4):
    p = threading.Thread(target=train_fn, args=(i, results))
    p.start()
    threads.append(p)
for p in threads:
    p.join()
show("threads", [r.sum() for r in results])
x = torch.ones(5, 5, requires_grad=True)
y = (x + 3) * (x + 4) * 0.5
def shared_fn():
    y.sum().backward(retain_graph=True)
threads = [threading.Thread(target=shared_fn) for _ in range(4)]
for p in threads:
    p.start()
for p in threads:
    p.join()
show("shared graph", x.grad)
assert torch.equal(x.grad, torch.full((5, 5), 4 * 4.5))
"""

# inference tensors are ordinary tensors in tapegrad (docs/semantics.md, "Known differences")
INFERENCE_TENSORS = """
x = torch.ones(2, requires_grad=True)
with torch.inference_mode():
    y = x * 2
show("is_inference", y.is_inference(), x.is_inference())
try:
    y.add_(1)
except RuntimeError as e:
    show("in-place outside", str(e))
"""

PROGRAMS = {"extending": EXTENDING, "double_backward": DOUBLE_BACKWARD, "fusing_conv_bn": FUSING,
            "autograd_mechanics": MECHANICS}


def _is_tensor(v):
    return hasattr(v, "detach") and hasattr(v, "requires_grad") and hasattr(v, "dtype")


def _record(v):
    """What show() keeps of a value: tensors as dtype, shape, values (float64, nan as 'nan'),
    requires_grad, is_leaf and grad_fn name; grad_fn nodes by name; containers element-wise."""
    if _is_tensor(v):
        vals = v.detach().double().numpy().reshape(-1).tolist()
        return ("tensor", str(v.dtype).split(".")[-1], tuple(v.shape),
                [u if u == u else "nan" for u in vals], v.requires_grad, v.is_leaf,
                None if v.grad_fn is None else v.grad_fn.name())
    if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):
        return [_record(u) for u in v]
    if hasattr(v, "next_functions"):
        return ("node", v.name())
    if isinstance(v, (bool, int, float)) or v is None:
        return v
    return str(v).replace("torch.", "tapegrad.")


def _next_fns(t):
    return [(None if f is None else type(f).__name__, i) for f, i in t.grad_fn.next_functions]


def run(src, m):
    """Run program `src` with module `m` as torch: the records of its show(...) calls, its
    warnings, then its error (type and message) if it raised."""
    out = []
    ns = {"torch": m, "math": math, "threading": threading, "next_fns": _next_fns,
          "show": lambda *r: out.append(_record(list(r)))}
    m.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(src, ns)
        except Exception as ex:   # noqa: BLE001  (the error is part of the behaviour compared)
            out.append((type(ex).__name__, str(ex).replace("torch.", "tapegrad.")))
    # (torch's C++ warnings end with the source line that raised them)
    out.append(sorted({(w.category.__name__, re.sub(r" \(Triggered internally at [^)]*\)", "",
                                                    str(w.message)).replace("torch.", "tapegrad."))
                       for w in caught}))
    return out


def assert_same(ours, theirs, where="out"):
    """Numbers within round-off, everything else exactly."""
    if isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(theirs), (where, ours, theirs)
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float) and not isinstance(ours, bool):
        assert isinstance(ours, (int, float)), (where, ours, theirs)
        assert math.isclose(ours, theirs, rel_tol=1e-5, abs_tol=1e-6), (where, ours, theirs)
    else:
        assert type(ours) is type(theirs) and ours == theirs, (where, ours, theirs)


@pytest.fixture
def torch(torch_ref):
    return torch_ref


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_runs_and_its_checks_hold_without_torch(name):
    out = run(PROGRAMS[name], tapegrad)
    assert not (isinstance(out[-2], tuple) and len(out[-2]) == 2 and "Error" in out[-2][0]), out[-2]
    # every gradcheck/gradgradcheck the program shows passed
    checks = [r for r in out[:-1] if isinstance(r, list) and str(r[0]).startswith("grad")
              and "check" in r[0]]
    assert all(v is True for r in checks for v in r[1:]), checks
    assert checks or name == "autograd_mechanics"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_shows_what_torch_shows(name, torch):
    assert_same(run(PROGRAMS[name], tapegrad), run(PROGRAMS[name], torch))


def test_inference_tensors_as_torch(torch):
    assert_same(run(INFERENCE_TENSORS, tapegrad), run(INFERENCE_TENSORS, torch))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_nn_grad_is_the_convolution_gradient(k):
    """nn.grad.conv{k}d_input/_weight equal autograd's gradients of F.conv{k}d, with stride,
    padding, dilation and groups, and are differentiable again."""
    F = tapegrad.nn.functional
    rng = np.random.default_rng(k)
    conv = getattr(F, f"conv{k}d")
    x = tapegrad.tensor(rng.standard_normal((2, 4) + (7,) * k), requires_grad=True)
    w = tapegrad.tensor(rng.standard_normal((6, 2) + (3,) * k), requires_grad=True)
    kw = dict(stride=2, padding=1, dilation=(2,) * k, groups=2)
    out = conv(x, w, **kw)
    go = tapegrad.tensor(rng.standard_normal(tuple(out.shape)), requires_grad=True)
    gx, gw = tapegrad.autograd.grad(out, (x, w), go)
    ix = getattr(tapegrad.nn.grad, f"conv{k}d_input")(x.shape, w, go, **kw)
    iw = getattr(F.grad, f"conv{k}d_weight")(x, w.shape, go, **kw)
    np.testing.assert_allclose(ix.detach().numpy(), gx.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(iw.detach().numpy(), gw.numpy(), rtol=1e-12, atol=1e-12)
    assert ix.requires_grad and iw.requires_grad
    with tapegrad.no_grad():
        assert not getattr(tapegrad.nn.grad, f"conv{k}d_input")(x.shape, w, go, **kw).requires_grad
    assert tapegrad.autograd.gradcheck(
        lambda w_, g_: getattr(tapegrad.nn.grad, f"conv{k}d_input")(x.shape, w_, g_, **kw),
        (w, go))


def test_nn_grad_as_torch(torch):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2))
    kw = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    res = []
    for m in (tapegrad, torch):
        go = m.tensor(rng.standard_normal((2, 6, 5, 6)) if not res else res[0][2])
        gi = m.nn.grad.conv2d_input(m.Size(x.shape), m.tensor(w), go, **kw)
        gw = m.nn.grad.conv2d_weight(m.tensor(x), list(w.shape), go, **kw)
        res.append((gi.numpy(), gw.numpy(), go.numpy(), gi.dtype is m.float64))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_gradcheck_perturbs_non_contiguous_inputs():
    """The finite differences perturb the input itself: a transposed or sliced input used to
    get a copy perturbed, so a zero numerical Jacobian (False for a right gradient)."""
    x = tapegrad.rand(3, 4, dtype=tapegrad.float64, requires_grad=True)
    for view in (x.t(), x[:, 1:3], x[::2]):
        assert not view.is_contiguous()
        assert tapegrad.autograd.gradcheck(lambda a: a ** 3, (view,))
        assert tapegrad.autograd.gradgradcheck(lambda a: a ** 3, (view,))
    wrong = type("Wrong", (tapegrad.autograd.Function,), {
        "forward": staticmethod(lambda ctx, a: a * 2),
        "backward": staticmethod(lambda ctx, g: g * 3)})
    assert not tapegrad.autograd.gradcheck(wrong.apply, (x.t(),), raise_exception=False)
