"""nn.functional's max unpooling (`max_unpool1d`/`2d`/`3d`), the partial inverse of
`max_pool*d(return_indices=True)`, with torch's signatures, defaults, output sizes, checks and
messages.

torch's Python front end (the output size, and its checks, from kernel_size, stride, padding
and output_size) calls its C++ op (checks of indices and shapes, then the scatter).  Each
records one decomposition row shown as torch's node (body in nn/_decomps_pool.py):
`MaxUnpool2DBackward0`, `MaxUnpool3DBackward0`; the 1-d unpooling runs the 2-d one on
`unsqueeze(-1)` (then `SqueezeBackward1`), as torch.
"""
import numpy as np

from ..creation import tensor as _tensor_of, zeros
from ..tracing import _bake
from . import _decomps_pool as P
from ._conv import _record, _sizes, _tensor
from ._tuples import ntuple as _ntuple

__all__ = ["max_unpool1d", "max_unpool2d", "max_unpool3d"]


def _output_size(input, kernel, stride, padding, output_size):
    """torch's _unpool_output_size: (in - 1) * stride + kernel - 2 * padding per spatial dim, or
    output_size (its last len(kernel) entries when it also has the batch and channel dims),
    each within stride of that."""
    size = input.size()
    k = len(kernel)
    default = [(size[-k + d] - 1) * stride[d] + kernel[d] - 2 * padding[d] for d in range(k)]
    if output_size is None:
        out = default
    else:
        if len(output_size) == k + 2:
            output_size = output_size[2:]
        if len(output_size) != k:
            raise ValueError(f"output_size should be a sequence containing {k} or {k + 2} "
                             f"elements, but it has a length of '{len(output_size)}'")
        for d in range(k):
            lo, hi = default[d] - stride[d], default[d] + stride[d]
            if not lo < output_size[d] < hi:
                raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be '
                                 f'between {lo} and {hi})')
        out = output_size
    for d in range(k):
        if out[d] < 0:
            raise ValueError(f"max_unpooling: output_size must contain non-negative spatial "
                             f"dimensions, but got output_size[{d}]={out[d]}")
    return out


def _int_list(fn, name, pos, v):
    """torch's parsing of an int[] argument: a list of ints."""
    v = list(v)
    for i, e in enumerate(v):
        if isinstance(e, bool) or not hasattr(e, "__index__"):
            kind = type(e).__name__
            if i == 0:
                raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be tuple of "
                                f"ints, but found element of type {kind} at pos 0")
            raise TypeError(f"{fn}(): argument '{name}' failed to unpack the object at pos "
                            f"{i + 1} with error \"type must be tuple of ints,but got {kind}\"")
    return [int(e) for e in v]


_AXES = {2: "two elements (height, width)", 3: "three elements (depth, height, width)"}


def _max_unpool(k, input, indices, output_size, stride, padding):
    """torch's max_unpool2d / max_unpool3d (the C++ ops): input's elements written into zeros
    of spatial size output_size at their indices (flat positions in each output plane)."""
    fn = f"max_unpool{k}d"
    _tensor(fn, input, "self")
    _tensor(fn, indices, "indices", 2)
    size = _int_list(fn, "output_size", 3, output_size)
    if k == 3:
        stride = _int_list(fn, "stride", 4, stride)
        padding = _int_list(fn, "padding", 5, padding)
    if indices.dtype.name != "int64":
        raise RuntimeError("elements in indices should be type int64" + (
            f" but got: {indices.dtype.legacy}" if k == 2 else ""))
    nd = input.dim()
    ndim_msg = (f"Input to max_unpooling{k}d should be a {k + 1}d or {k + 2}d Tensor, but got "
                f"a tensor with {nd} dimensions.")
    size_msg = (f"There should be exactly {_AXES[k]} in output_size, but got {len(size)} "
                f"elements.")
    if k == 2:
        if len(size) != 2:
            raise RuntimeError(size_msg)
        if nd not in (3, 4):
            raise RuntimeError(ndim_msg)
    else:
        if nd not in (4, 5):
            raise RuntimeError(ndim_msg)
        if len(size) != 3:
            raise RuntimeError(size_msg)
        for name, v in (("stride", stride), ("padding", padding)):
            if len(v) != 3:
                raise RuntimeError(f"There should be exactly {_AXES[3]} in {name}, but got: "
                                   f"{len(v)} elements.")
    if tuple(input.shape) != tuple(indices.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({_sizes(input)}) but got indices tensor with shape: "
                           f"{_sizes(indices)}")
    for i in range(1, nd):
        if input.shape[i] == 0:
            raise RuntimeError(f"max_unpooling{k}d_forward_out_cpu(): Expected input to have "
                               f"non-zero size for non-batch dimensions, but got "
                               f"{_sizes(input)} with dimension {i} being empty.")
    if k == 3 and any(s <= 0 for s in stride):
        raise RuntimeError(f"strides should be greater than zero, but got stride: "
                           f"[{', '.join(map(str, stride))}]")
    shape = tuple(input.shape[:nd - k]) + tuple(size)
    plane = int(np.prod(size))
    if not plane or not input.numel():   # (torch's kernel does not run: no dtype or index check)
        if not input.dtype.is_floating_point:
            return zeros(shape, dtype=input.dtype)
        return _record(fn, P.max_unpool, input, shape, None, None)
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"{fn}" not implemented for \'{input.dtype.legacy}\'')
    if indices._recorded:   # (a traced index: the replay checks it is the same)
        _bake(indices, "guard_value")
    idx = indices._array().reshape(int(np.prod(input.shape[:nd - k])), -1)
    bad = idx[(idx < 0) | (idx >= plane)]
    if bad.size:   # (torch reports one of them: its serial loop's last)
        raise RuntimeError(f"Found an invalid max index: {int(bad[-1])} (output volumes are of "
                           f"size {'x'.join(map(str, size))})")
    pos = (np.arange(idx.shape[0], dtype=np.int64)[:, None] * plane + idx).reshape(input.shape)
    flat = pos.reshape(-1)
    keep = None
    if np.unique(flat).size != flat.size:   # positions written twice: the last write stays
        last = np.zeros(flat.size, bool)
        last[flat.size - 1 - np.unique(flat[::-1], return_index=True)[1]] = True
        keep = _tensor_of(last.reshape(input.shape))
    return _record(fn, P.max_unpool, input, shape, pos, keep)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: (N, C, L) or (C, L) input's elements written at
    their indices along L, zeros elsewhere (MaxUnpool2DBackward0 between unsqueeze and
    squeeze, as torch); L_out = (L - 1) * stride - 2 * padding + kernel_size, or output_size."""
    kernel = _ntuple(kernel_size, 1)
    stride = kernel if stride is None else _ntuple(stride, 1)
    padding = _ntuple(padding, 1)
    size = _output_size(input, kernel, stride, padding, output_size)
    size = size + [1] if isinstance(size, list) else size + (1,)
    return _max_unpool(2, input.unsqueeze(-1), indices.unsqueeze(-1), size, None,
                       None).squeeze(-1)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: (N, C, H, W) or (C, H, W) input's elements written
    at their indices in each output plane, zeros elsewhere (MaxUnpool2DBackward0; the
    gradient is the output's gradient at the indices)."""
    kernel = _ntuple(kernel_size, 2)
    stride = kernel if stride is None else _ntuple(stride, 2)
    padding = _ntuple(padding, 2)
    size = _output_size(input, kernel, stride, padding, output_size)
    return _max_unpool(2, input, indices, size, None, None)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d: (N, C, D, H, W) or (C, D, H, W) input's elements
    written at their indices in each output volume, zeros elsewhere
    (MaxUnpool3DBackward0)."""
    kernel = _ntuple(kernel_size, 3)
    stride = kernel if stride is None else _ntuple(stride, 3)
    padding = _ntuple(padding, 3)
    size = _output_size(input, kernel, stride, padding, output_size)
    return _max_unpool(3, input, indices, size, stride, padding)
