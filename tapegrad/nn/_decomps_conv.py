"""The bodies of nn.functional's convolution rows (tapegrad/ops.py, the block of engineer
"conv"), recorded by `decomps.record` as one group shown as torch's node
(`ConvolutionBackward0`, `Im2ColBackward0`, ...), so forward, gradients of any order, replay
and tape files are those of the primitives.

A convolution is im2col and one batched matmul: the input's sliding windows are one strided
view (`windows`: an `unfold` entry, no copy in the forward), reshaped to (N * groups, C/groups
* kernel, positions) and multiplied by the weight, so BLAS does the work; the backward of the
view adds overlapping windows back up.  A transposed convolution (and F.fold) adds windows
into an image with one strided scatter.  The pooling bodies are in nn/_decomps_pool.py.

The bodies receive validated arguments (nn/_conv.py checks them).
"""
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import dtypes as D
from ..creation import full
from ..ops import OPS
from ..recording import _result, _tape_of
from ..tape import input_node, view_base
from ..tensor import Tensor
from ..views import _strided, cat, strided_scatter
from . import _decomps as B

_STRIDED_SCATTER = OPS["strided_scatter"].code


def windows(x, kernel, stride, dilation, kernel_last=False):
    """The sliding windows of x (N, C, *spatial) as one strided view of x (row `unfold`):
    shape (N, C, *kernel, *positions), or (N, C, *positions, *kernel) with kernel_last."""
    k = len(kernel)
    sizes = tuple(x.shape[2:])
    out = tuple((sizes[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                for i in range(k))

    def view(a):
        st = a.strides
        ks = tuple(st[2 + i] * dilation[i] for i in range(k))
        os = tuple(st[2 + i] * stride[i] for i in range(k))
        if kernel_last:
            return as_strided(a, a.shape[:2] + out + tuple(kernel), st[:2] + os + ks,
                              writeable=False)
        return as_strided(a, a.shape[:2] + tuple(kernel) + out, st[:2] + ks + os,
                          writeable=False)
    return _strided("unfold", x, view)


def _pad(T, x, pads, value):
    """x padded on its spatial dims by pads ((lo, hi) per dim, first dim first) with value."""
    flat = [v for lo_hi in reversed(pads) for v in lo_hi]
    if not any(flat):
        return x
    return B.constant_pad_nd(T, x, flat, value, cat, full)


# NOTE: the convolution's zero padding is one strided_scatter entry (x added into zeros at
# the padded image's inner positions) where constant_pad_nd records a cat of constants per
# padded dim (6 entries for 2-d, 2 of them host cats in the backward).  Adding into zeros
# makes a -0.0 of x +0.0, which no output can show: each output is a matmul's sum started
# from +0.0 (BLAS's and numpy's loops), where -0.0 and +0.0 terms give the same result.
# views.strided_scatter's own value (its flat positions, then np.add.at) cost ~0.1 ms for a
# (16, 1, 28, 28) image: the value here is the same additions into zeros by one slice (the
# same bits), and the entry is _scatter's (row strided_scatter, its params).
def _zero_pad(x, padding):
    """x (N, C, *spatial) zero-padded by padding[i] on both sides of spatial dim i: the
    strided_scatter of x into zeros (one entry when x records)."""
    if not any(padding):
        return x
    sizes = x._shape
    image = sizes[:2] + tuple(s + 2 * p for s, p in zip(sizes[2:], padding))
    dt = x._dtype
    out = np.zeros(image, dt.np)
    out[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(padding, sizes[2:]))] \
        += x._array()
    tape = _tape_of(x)
    if tape is None:
        return Tensor._wrap(out, dt)
    strides = [math.prod(image[d + 1:]) for d in range(len(image))]
    offset = sum(p * st for p, st in zip(padding, strides[2:]))
    t = _result(out, dt, tape, _STRIDED_SCATTER, input_node(tape, x), -1, 0.0)
    tape.add_params(t._node, [offset] + strides)
    return t


def _empty_operands(x, weight, bias):
    """x, weight and bias of a convolution of empty x in the dtype of torch's Empty backend's
    output (it checks no types): the product `input.view(-1) * weight.view(-1)` where x has
    no channels, else `input * weight.view(-1)[0]` (a 0-d operand: x's dtype but for a
    higher kind), the bias added in place."""
    dt = D.result_type((x._dtype, 2), (weight._dtype, 2 if x.shape[1] == 0 else 1))
    return x.to(dt), weight.to(dt), None if bias is None else bias.to(dt)


def convolution(T, x, weight, bias, stride, padding, dilation, groups):
    """x (N, C, *spatial) convolved with weight (OC, C / groups, *kernel), plus bias: the
    padded input's windows (N * groups, C / groups * K, L) times the weight (N * groups,
    OC / groups, C / groups * K), one batched matmul, viewed as (N, OC, *positions)."""
    if x.numel() == 0:
        x, weight, bias = _empty_operands(x, weight, bias)
    elif bias is not None:   # (the native kernels add it in x's dtype; nn/_conv.py checks)
        bias = bias.to(x._dtype)
    k = weight.dim() - 2
    xp = _zero_pad(x, padding)
    n, c = x.shape[0], x.shape[1]
    oc = weight.shape[0]
    kernel = tuple(weight.shape[2:])
    cols = windows(xp, kernel, stride, dilation)
    positions = tuple(cols.shape[2 + k:])
    cg, og = c // groups, oc // groups
    depth = cg * math.prod(kernel)
    cols = cols.reshape(n * groups, depth, math.prod(positions))
    if groups == 1:     # (the same operand and product, two view entries fewer)
        out = weight.reshape(oc, depth).expand(n, oc, depth).matmul(cols)
    else:
        w = weight.reshape(1, groups, og, depth).expand(n, groups, og, depth)
        out = w.reshape(n * groups, og, depth).matmul(cols).reshape(n, oc, cols.shape[-1])
    if bias is not None:   # (expanded over the positions: a trailing broadcast is the fast one)
        out = out + bias.reshape(oc, 1).expand(oc, cols.shape[-1])
    out = out.reshape((n, oc) + positions)
    # NOTE: torch's Empty backend gives an input without channels an output without channels
    # (N, 0, *positions), whatever OC: the bias's gradient is then zeros
    return out[:, :0] if c == 0 else out


def _new(y):
    """y in memory of its own: torch's shuffle and im2col kernels write a new tensor, where
    the reshapes here may all be views (a factor of 1, one channel per group, unit sizes, a
    1 x 1 kernel)."""
    return y.clone() if view_base(y) is not None else y


def pixel_shuffle(T, x, r):
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r): channel blocks of r x r spread over the
    positions."""
    lead, (c, h, w) = tuple(x.shape[:-3]), tuple(x.shape[-3:])
    n = len(lead)
    y = x.reshape(lead + (c // (r * r), r, r, h, w))
    y = y.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return _new(y.reshape(lead + (c // (r * r), h * r, w * r)))


def channel_shuffle(T, x, groups):
    """(N, C, *) -> the same shape with the channels regrouped: viewed as (N, groups,
    C / groups, *), dims 1 and 2 swapped, viewed back."""
    n, c, rest = x.shape[0], x.shape[1], tuple(x.shape[2:])
    y = x.reshape((n, groups, c // groups) + rest).transpose(1, 2)
    return _new(y.reshape((n, c) + rest))


def pixel_unshuffle(T, x, r):
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W), pixel_shuffle's inverse."""
    lead, (c, h, w) = tuple(x.shape[:-3]), tuple(x.shape[-3:])
    n = len(lead)
    y = x.reshape(lead + (c, h // r, r, w // r, r))
    y = y.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return _new(y.reshape(lead + (c * r * r, h // r, w // r)))


def im2col(T, x, kernel, dilation, padding, stride):
    """(N, C, H, W) -> (N, C * kH * kW, L): the padded input's sliding windows, one column
    per position (the convolution's im2col)."""
    n, c = x.shape[0], x.shape[1]
    xp = _pad(T, x, [(p, p) for p in padding], 0.0)
    cols = windows(xp, kernel, stride, dilation)
    # (a 1 x 1 kernel with stride 1: the windows' reshape is a view of x, torch's a copy)
    return _new(cols.reshape(n, c * math.prod(kernel), math.prod(cols.shape[2 + len(kernel):])))


# NOTE: fold (col2im) adds each column's elements into the padded output at the windows'
# positions (one strided scatter: overlapping windows add up), then crops the padding; its
# gradient is the windows view of the padded gradient, im2col's forward.
def col2im(T, x, out, kernel, dilation, padding, stride):
    """(N, C * kH * kW, L) -> (N, C, *out): the sums of the columns' elements over the
    windows that cover each position."""
    n = x.shape[0]
    c = x.shape[1] // math.prod(kernel)
    padded = tuple(o + 2 * p for o, p in zip(out, padding))
    blocks = tuple((padded[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                   for i in range(2))
    cols = x.reshape((n, c) + tuple(kernel) + blocks)
    y = _add_windows(cols, padded, kernel, stride, dilation)
    if any(padding):
        y = y[:, :, padding[0]:padding[0] + out[0], padding[1]:padding[1] + out[1]].contiguous()
    return y


def _add_windows(cols, image, kernel, stride, dilation):
    """cols (N, C, *kernel, *positions) added into a zero image (N, C, *image) at the windows'
    elements (one strided scatter: overlapping windows add up)."""
    k = len(kernel)
    rows = [math.prod(image[i + 1:]) for i in range(k)]
    plane = math.prod(image)
    params = ([0, cols.shape[1] * plane, plane] + [dilation[i] * rows[i] for i in range(k)]
              + [stride[i] * rows[i] for i in range(k)])
    return strided_scatter(cols, tuple(cols.shape[:2]) + tuple(image), params)


# NOTE: a transposed convolution is the convolution's input gradient: the weight (per group,
# transposed) times the input's positions gives each position's window of output elements
# (one batched matmul), added into the output by a strided scatter (overlaps add up), then
# the padding is cropped; torch's slow_conv_transpose is the same gemm and col2im.
def conv_transpose(T, x, weight, bias, stride, padding, output_padding, groups, dilation):
    """x (N, C_in, *spatial) transposed-convolved with weight (C_in, C_out / groups,
    *kernel), plus bias."""
    if x.numel() == 0:
        x, weight, bias = _empty_operands(x, weight, bias)
    elif bias is not None:   # (the native kernels add it in x's dtype; nn/_conv.py checks)
        bias = bias.to(x._dtype)
    k = weight.dim() - 2
    n, cin = x.shape[0], x.shape[1]
    kernel = tuple(weight.shape[2:])
    sizes = tuple(x.shape[2:])
    cg, og = cin // groups, weight.shape[1]
    depth = og * math.prod(kernel)
    w = weight.reshape(groups, cg, depth).transpose(1, 2)
    w = w.reshape(1, groups, depth, cg).expand(n, groups, depth, cg).reshape(
        n * groups, depth, cg)
    cols = w.matmul(x.reshape(n * groups, cg, math.prod(sizes)))
    cols = cols.reshape((n, og * groups) + kernel + sizes)
    full = [(sizes[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 for i in range(k)]
    out = [full[i] - 2 * padding[i] + output_padding[i] for i in range(k)]
    image = [max(full[i], padding[i] + out[i]) for i in range(k)]
    y = _add_windows(cols, image, kernel, stride, dilation)
    if any(padding) or image != out:
        y = y[(slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in
                                                 zip(padding, out))].contiguous()
    oc = og * groups
    if bias is not None:
        y = y.reshape(n, oc, math.prod(out))
        y = y + bias.reshape(oc, 1).expand(oc, y.shape[-1])
        y = y.reshape((n, oc) + tuple(out))
    return y

