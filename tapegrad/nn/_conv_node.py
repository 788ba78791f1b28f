"""A 2-d convolution of one group as ONE node, torch's ConvolutionBackward0 (edges input,
weight, bias; its `_saved_*` fields), where the convolution row's decomposition
(nn/_decomps_conv.convolution) records ~10 entries: a padding scatter, the windows view and
its copy, the weight's views, a batched matmul, the bias's views and add, whose saved values
(the windows' copy: 0.9 MB for a (16, 8, 14, 14) input and a 3 x 3 kernel) the backward
copies into its float64 arena, and which seal the tape past MAX_SAVED_BYTES.

The node (Convolution2d, a custom Function shown as torch's node, as nn/_rnn.py's
MkldnnRnnLayer) computes in the input's dtype: forward im2col (the windows copied out with
their zero padding, a Numba loop: nn/_conv_loops.py) times the weight, one matmul per image as
the decomposition's (its values bit for bit), the bias added; backward the bias's gradient a
sum, the weight's the gradient times the windows (kept from the forward up to
MAX_SAVED_BYTES, else copied again: torch keeps only the input and weight), the input's the
weight times the gradient added back into the windows' elements (col2im, a Numba loop); each
only when needed.  A backward with create_graph (grad mode on) runs the decomposition again on
the saved input and weight and differentiates it, so its gradients differentiate again.  A
recording tape (record / compile), a torch.func transform, groups, other dtypes, 1-d and
3-d, empty operands and saved inference tensors keep the decomposition.
"""
import numpy as np

from .. import decomps, dtypes as D
from .._jit import kernel_module
from ..autograd.api import grad as _grad
from ..engine import _backward_node
from ..grad_mode import TRANSFORMS
from ..ops import OPS
from ..pyfunc import as_native_node, Function, should_compute_output
from ..tape import INFERENCE_MADE, INFERENCE_TENSOR, MAX_SAVED_BYTES, STATE
from ..tensor import Tensor
from ..views import KIND_OPS
from . import _decomps_conv as C

_FLOATS = (D.float32, D.float64)
_ROW = OPS["convolution"].code
# the bias argument of a convolution without one: a tensor that needs no gradient, so the
# node has torch's three edges and hooks see three grad_inputs ((None, 0), None)
_NO_BIAS = Tensor._wrap(np.zeros(0), D.float64)


def node_case(x, weight, bias, groups):
    """Whether the convolution of x (N, C, H, W) runs as the one node: a 2-d convolution of
    one group, float32 or float64, no empty operand, not recorded for replay nor under a
    torch.func transform (the node computes in Python), no inference tensor (the
    decomposition raises torch's error where one would be saved)."""
    if groups != 1 or weight.dim() != 4 or x._dtype not in _FLOATS or TRANSFORMS.depth or \
            STATE.tape.recording or STATE.parked.recording:
        return False
    if 0 in x._shape or 0 in weight._shape:
        return False
    if INFERENCE_MADE[0] and any(getattr(t, "_flags", 0) & INFERENCE_TENSOR
                                 for t in (x, weight, bias) if t is not None):
        return False
    return True


def convolution(x, weight, bias, stride, padding, dilation):
    """The node's output (N, OC, oH, oW), checked arguments (nn/_conv.py)."""
    # (options: the bias's sizes last, torch's (0,) for none)
    return Convolution2d.apply(x, weight, _NO_BIAS if bias is None else bias,
                               (stride, padding, dilation,
                                (0,) if bias is None else bias._shape))


def _columns(xa, kernel, stride, padding, dilation, positions):
    """(im2col of the array xa (N, C, H, W): (N, C * kH * kW, oH * oW), its geo array).  The
    decomposition's windows copy but where its padding adds a -0.0 into zeros (+0.0), which
    no product shows (nn/_decomps_conv's NOTE on _zero_pad)."""
    n, c = xa.shape[:2]
    out = np.empty((n, c * kernel[0] * kernel[1], positions[0] * positions[1]), xa.dtype)
    geo = np.array(kernel + stride + padding + dilation + positions, np.int64)
    _loops().im2col(np.ascontiguousarray(xa), geo, out)
    return out, geo


def _positions(shape, kernel, stride, padding, dilation):
    """The output's spatial sizes (oH, oW) for an input of `shape` (N, C, H, W)."""
    return tuple((shape[2 + i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1)
                 // stride[i] + 1 for i in range(2))


def _loops():
    if not _LOOPS:
        _LOOPS.append(kernel_module("tapegrad.nn._conv_loops", "nn/_conv_loops.py",
                                    _import_loops))
    return _LOOPS[0]


def _import_loops():
    from . import _conv_loops
    return _conv_loops


_LOOPS = []


def _weight_matrix(w):
    """The weight's array as (OC, C * kH * kW), C-contiguous (the decomposition's reshape)."""
    a = w._array()
    return np.ascontiguousarray(a).reshape(a.shape[0], -1)


class Convolution2d(Function):
    """torch's convolution (not transposed, one group) of x (N, C, H, W) with weight
    (OC, C, kH, kW) plus bias: one node ConvolutionBackward0, edges (input, weight, bias)."""

    @staticmethod
    def forward(ctx, x, weight, bias, options):
        stride, padding, dilation = options[:3]
        kernel = weight._shape[2:]
        positions = _positions(x._shape, kernel, stride, padding, dilation)
        cols = _columns(x._array(), kernel, stride, padding, dilation, positions)[0]
        w2 = _weight_matrix(weight)
        out = np.matmul(w2, cols)   # (one product per image: the decomposition's values)
        if bias is not _NO_BIAS:
            out += bias._array().reshape(-1, 1)
        ctx.save_for_backward(x, weight)
        ctx.options = options
        # the windows for the weight's gradient: kept when small (the decomposition saved
        # them all; copying them again cost the cnn step ~0.1 ms), made again when large (a
        # big layer's windows are 9x its input for a 3 x 3 kernel, torch keeps none)
        ctx.cols = cols if cols.nbytes <= MAX_SAVED_BYTES else None
        return Tensor._wrap(out.reshape(out.shape[:2] + positions), x._dtype)

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        need = [should_compute_output(ctx, k) for k in range(3)]
        if STATE.enabled:
            return _grads_composite(ctx, x, weight, dy, need)
        stride, padding, dilation, _ = ctx.options
        dt = x._dtype
        g = dy._array()
        n, oc = g.shape[:2]
        g = g.reshape(n, oc, -1)
        res = [None, None, None, None]
        if need[2]:
            # (the images' sum first, then each channel's: numpy reduces two axes at once
            # in a strided loop, ~2x the time: 21 -> 12 us for a (16, 8, 784) gradient)
            res[2] = Tensor._wrap(g.sum(0).sum(1), dt)
        kernel = weight._shape[2:]
        positions = dy._shape[2:]
        geo = None
        if need[1]:
            cols = ctx.cols
            if cols is None:
                cols, geo = _columns(x._array(), kernel, stride, padding, dilation, positions)
            gw = np.matmul(g, cols.transpose(0, 2, 1)).sum(0)
            res[1] = Tensor._wrap(gw.reshape(weight._shape), dt)
        if need[0]:
            gcols = np.matmul(_weight_matrix(weight).T, g)
            dx = np.zeros(x._shape, dt.np)
            if geo is None:
                geo = np.array(kernel + stride + padding + dilation + positions, np.int64)
            _loops().col2im(gcols, geo, dx)    # (gcols: scratch, col2im may zero some)
            res[0] = Tensor._wrap(dx, dt)
        return tuple(res)


as_native_node(Convolution2d, "ConvolutionBackward0")


def _grads_composite(ctx, x, weight, dy, need):
    """create_graph: the node's gradients, differentiable, from the decomposition run again
    on the saved input and weight (the bias's: the gradient's sum)."""
    stride, padding, dilation, _ = ctx.options
    res = [None, None, None, None]
    wanted = [k for k in (0, 1) if need[k]]
    if wanted:
        out = decomps.record("convolution", C.convolution, KIND_OPS, x, weight, None, stride,
                             padding, dilation, 1)
        got = _grad(out, [(x, weight)[k] for k in wanted], dy, create_graph=True,
                    allow_unused=True)
        for k, g in zip(wanted, got):
            res[k] = g
    if need[2]:
        res[2] = dy.sum((0, 2, 3))
    # (torch's convolution_backward is one node of (grad, input, weight): a gradient that
    # depends on the seed alone, the bias's or a frozen weight's input gradient, is its
    # output all the same, requiring grad, its derivative in them unused, as the
    # decomposition's group shows it: engine._backward_node)
    for k in range(3):
        if res[k] is not None and not res[k].requires_grad:
            res[k] = _backward_node(_ROW).apply(res[k], x, weight)
    return tuple(res)


def _saved_fields(cls):
    """torch's node's `_saved_*` fields: its saved input and weight, the bias's sizes ((0,)
    without one, as torch shows an absent bias) and the convolution's arguments."""
    props = {
        "input": lambda fn: fn.saved_tensors[0],
        "weight": lambda fn: fn.saved_tensors[1],
        "bias_sym_sizes_opt": lambda fn: fn.options[3],
        "stride": lambda fn: fn.options[0], "padding": lambda fn: fn.options[1],
        "dilation": lambda fn: fn.options[2], "transposed": lambda fn: False,
        "output_padding": lambda fn: (0, 0), "groups": lambda fn: 1}
    for name, get in props.items():
        setattr(cls, "_saved_" + name, property(get))


_saved_fields(Convolution2d._backward_cls)
