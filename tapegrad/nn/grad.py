"""torch.nn.grad: the gradients of conv1d/2d/3d with respect to the input and to the weight,
with torch's signatures.  Each is the gradient of nn.functional's convolution at a zero
placeholder for the argument asked about: the convolution is linear in it, so the gradient
does not depend on the placeholder's value, and it stays differentiable in the given tensors
when grad mode is on (as torch's `convolution_backward`)."""
from ..autograd.api import grad as _grad
from ..creation import zeros
from ..grad_mode import is_grad_enabled, switched_grad
from ._conv import conv1d, conv2d, conv3d

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input",
           "conv3d_weight"]

_CONVS = {1: conv1d, 2: conv2d, 3: conv3d}


def _gradient(k, wrt_input, given, size, grad_output, stride, padding, dilation, groups):
    """The gradient of conv{k}d at a zero input (`wrt_input`) or weight of shape `size`;
    `given` is the other argument."""
    create = is_grad_enabled() and (given.requires_grad or grad_output.requires_grad)
    with switched_grad(True):
        at = zeros(tuple(size), dtype=grad_output.dtype, requires_grad=True)
        x, w = (at, given) if wrt_input else (given, at)
        out = _CONVS[k](x, w, None, stride, padding, dilation, groups)
        return _grad(out, at, grad_output, create_graph=create)[0]


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _gradient(1, True, weight, input_size, grad_output, stride, padding, dilation, groups)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _gradient(1, False, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _gradient(2, True, weight, input_size, grad_output, stride, padding, dilation, groups)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _gradient(2, False, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _gradient(3, True, weight, input_size, grad_output, stride, padding, dilation, groups)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _gradient(3, False, input, weight_size, grad_output, stride, padding, dilation, groups)
