"""nn.functional's convolutions (`conv1d`/`2d`/`3d`, `conv_transpose1d`/`2d`/`3d`),
`pixel_shuffle`/`pixel_unshuffle`, `channel_shuffle` and `unfold`/`fold`, with torch's signatures, defaults,
output shapes, checks and messages (pooling: nn/_pooling.py, which shares the helpers here).

Each records one decomposition row shown as torch's node (bodies in nn/_decomps_conv.py):
`ConvolutionBackward0` (edges input, weight, bias; transposed too), `PixelShuffleBackward0`,
`Im2ColBackward0`, ...  What torch records around its node is recorded the same way: an
unbatched input is unsqueezed and the result squeezed (`SqueezeBackward1`), and
padding='same' with an odd total pads the input first (`ConstantPadNdBackward0`).
"""
import numpy as np

from .. import decomps, dtypes as D, errors, settings
from ..native_args import bind
from ..creation import full
from ..recording import keep_args
from ..tensor import _int_arg, Tensor, _is_int_arg
from ..views import cat, KIND_OPS
from . import _conv_node as N, _decomps as B, _decomps_conv as C

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "unfold",
           "fold", "conv_tbc"]

_WORDS = {1: "one", 2: "two", 3: "three"}
_C_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
            "int16": "short int", "int8": "signed char", "uint8": "unsigned char"}


def _record(name, body, x, *args):
    return decomps.record(name, body, KIND_OPS, x, *args)


def _tensor(fn, x, name="input", pos=1):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{errors.type_name(x)}")


def _ints(fn, name, v, k=None, pos=None):
    """An int or a sequence of ints (torch's int[] argument, at `pos` when torch's parser
    reports it: given positionally); an int is repeated k times.  torch's parser's messages
    for another type, or an element of another type (the first, or a later one)."""
    at = "" if pos is None else f" (position {pos})"
    if isinstance(v, (tuple, list)):
        for i, e in enumerate(v):
            if _is_int_arg(e, i == 0):
                continue
            if i:
                raise TypeError(f"{fn}(): argument '{name}' failed to unpack the object at pos "
                                f"{i + 1} with error \"type must be tuple of ints,but got "
                                f"{errors.type_name(e)}\"")
            raise TypeError(f"{fn}(): argument '{name}'{at} must be tuple of ints, but found "
                            f"element of type {errors.type_name(e)} at pos 0")
        return [int(e) for e in v]
    if not _is_int_arg(v, True):
        raise TypeError(f"{fn}(): argument '{name}'{at} must be tuple of ints, not "
                        f"{errors.type_name(v)}")
    return [int(v)] * (k or 1)


def _sizes(x):
    return "[" + ", ".join(str(s) for s in x.shape) + "]"


def _cdiv(a, b):
    """C's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


# ---- convolution -----------------------------------------------------------------------------
def _expand(name, v, dim):
    if len(v) == 1:
        return v * dim
    if len(v) != dim:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {dim} "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={list(v)}")
    return list(v)


def _plain_ints(v):
    """v as a hashable key part when it is an int or a tuple of ints (no bool, no list), else
    None."""
    if type(v) is int:
        return v
    if type(v) is tuple and all(type(e) is int for e in v):
        return v
    return None


# The checked (stride, padding, dilation) of convolutions whose checks passed, by everything
# the checks read (shapes, dtypes, the arguments as given): a layer called again on inputs of
# one shape skips them (errors are never cached; padding strings are not kept).
_CHECKED = {}


def _conv(k, input, weight, bias, stride, padding, dilation, groups):
    """torch's conv{k}d: checks in torch's order, then the convolution row."""
    fn = f"conv{k}d"
    _tensor(fn, input)
    _tensor(fn, weight, "weight", 2)
    if bias is not None:
        _tensor(fn, bias, "bias", 3)
        # (conv{k}d's own check; its padding-string form has none: the backend's then)
        if bias.dtype is not input.dtype and not isinstance(padding, str):
            raise RuntimeError(f"Input type ({_C_NAMES.get(input.dtype.name)}) and bias type "
                               f"({_C_NAMES.get(bias.dtype.name)}) should be the same")
    key = None
    if type(groups) is int:
        args = (_plain_ints(stride), _plain_ints(padding), _plain_ints(dilation))
        if None not in args:
            key = (k, input._shape, input._dtype, weight._shape, weight._dtype,
                   None if bias is None else bias._shape, args, groups)
            got = _CHECKED.get(key)
            if got is not None:
                x = input if len(input._shape) == k + 2 else input.unsqueeze(0)
                out = _convolution(x, weight, bias, *got, groups)
                return out if x is input else out.squeeze(0)
    stride = _ints(fn, "stride", stride, k)
    mode = padding if isinstance(padding, str) else None
    padding = [0] * k if mode is not None else _ints(fn, "padding", padding, k)
    dilation = _ints(fn, "dilation", dilation, k)
    _int_arg(groups, fn, "groups", None)   # (no float, no bool: as its keyword is named)
    if input.dim() not in (k + 1, k + 2):
        raise RuntimeError(f"Expected {k + 1}D (unbatched) or {k + 2}D (batched) input to "
                           f"{fn}, but got input of size: {_sizes(input)}")
    batched = input.dim() == k + 2
    x = input if batched else input.unsqueeze(0)
    dim = weight.dim() - 2
    if mode is not None:
        if mode == "valid":
            mode = None
        elif mode != "same":
            raise RuntimeError(f"Invalid padding string: '{mode}'")
    if dim <= 0:
        raise RuntimeError("weight should have at least three dimensions")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    stride = _expand("stride", stride, dim)
    dilation = _expand("dilation", dilation, dim)
    if mode == "same":
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        # torch's conv_padding_same: left = total // 2 on both sides, one more on the right
        # of a dim with an odd total (a constant_pad_nd of the input, then the convolution)
        padding, extra = [], []
        for i in range(dim):
            total = dilation[i] * (weight.shape[2 + i] - 1)
            padding.append(total // 2)
            extra.append(total - 2 * (total // 2))
        if any(extra):
            errors.warn_once("Using padding='same' with even kernel lengths and odd dilation "
                             "may require a zero-padded copy of the input be created")
            pads = [v for e in reversed(extra) for v in (0, e)]
            x = keep_args(_record("constant_pad_nd", B.constant_pad_nd, x, pads, 0.0, cat, full),
                          pad=tuple(pads))
    padding = _expand("padding", padding, dim)
    _check_conv_shape(x, weight, bias, stride, padding, dilation, groups)
    onednn = _uses_onednn(x, weight, groups, stride, dilation)
    _check_dtypes(x, weight, bias, onednn)
    _check_zero_dilation(x, dilation, False, onednn)
    _check_kernel_dtype(x, dilation, False)
    checked = (tuple(stride), tuple(padding), tuple(dilation))
    if key is not None:     # (padding given as ints: no 'same' pad, x is input or its unsqueeze)
        if len(_CHECKED) >= 1024:
            _CHECKED.clear()
        _CHECKED[key] = checked
    out = _convolution(x, weight, bias, *checked, int(groups))
    return out if batched else out.squeeze(0)


def _convolution(x, weight, bias, stride, padding, dilation, groups):
    """The convolution row on checked arguments: one node where nn/_conv_node.py takes the
    case, else the decomposition."""
    if N.node_case(x, weight, bias, groups):
        return N.convolution(x, weight, bias, stride, padding, dilation)
    return _record("convolution", C.convolution, x, weight, bias, stride, padding, dilation,
                   groups)


def _uses_onednn(x, weight, groups, stride, dilation):
    """torch's use_mkldnn for a CPU input: float32, and neither a 1 x 1 kernel on one thread
    nor a small single-image convolution the native kernels run faster (x and weight seen
    as 4-d, a 1-d convolution's with a unit height): whose checks and messages apply."""
    if x.dtype is not D.float32:
        return False
    ks = (1,) * (weight.dim() < 4) + tuple(weight.shape[-2:])
    n = x.shape[0]
    return ((any(s != 1 for s in stride) or any(d != 1 for d in dilation) or n >= 16
             or ks != (1, 1) or settings.get_num_threads() > 1)
            and (groups > 1 or ks[0] > 3 and ks[1] > 3 or n > 1
                 or n * x.shape[1] * int(np.prod(x.shape[2:4])) > 20480))


def _check_dtypes(x, weight, bias, onednn, transposed=False):
    """torch's check_input_same_type_as_parameters (after the shape checks) in the oneDNN
    backend (`onednn`), the native kernels' own check elsewhere; none for an empty input
    (its Empty backend computes nothing: C.convolution's dtype)."""
    if x.numel() == 0:
        return
    if x.dtype is not weight.dtype or (bias is not None and bias.dtype is not x.dtype):
        other, name = (weight, "weight") if x.dtype is not weight.dtype else (bias, "bias")
        if onednn:
            raise RuntimeError(f"Input type (tapegrad.{x.dtype.legacy}Tensor) and {name} type "
                               f"(tapegrad.{other.dtype.legacy}Tensor) should be the same or "
                               f"input should be a MKLDNN tensor and {name} is a dense tensor")
        if name == "bias" and (x.dim() < 5 or not transposed):
            return   # (the native kernels but slow_conv_transpose3d add it in x's dtype)
        raise RuntimeError(f"expected scalar type {x.dtype.legacy} but found "
                           f"{other.dtype.legacy}")


def _check_common(x, ws, stride, padding, dilation, groups, output_padding=()):
    """The checks of torch's check_shape_forward that plain and transposed convolutions
    share, in its order (weight sizes ws)."""
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d < 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if len(ws) != x.dim():
        raise RuntimeError(f"Expected {len(ws)}-dimensional input for {len(ws)}-dimensional "
                           f"weight {ws}, but got {x.dim()}-dimensional input of size "
                           f"{_sizes(x)} instead")
    if ws[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} "
                           f"at dimension 0, but got weight of size {ws} instead")
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                           f"{groups} at dimension 0, but got weight of size [{ws}] instead")


def _check_zero_dilation(x, dilation, transposed, onednn):
    """A zero dilation passes torch's shape checks and fails in its CPU kernel (not reached
    for empty input): oneDNN's (whose transposed form fails with oneDNN's own words: its
    plain form's message here), else the slow kernel, which names the dilations (a 1-d
    convolution seen as 2-d)."""
    if 0 not in dilation or x.numel() == 0:
        return
    if onednn:
        raise RuntimeError("non-positive dilation is not supported")
    shown = [1] * (len(dilation) == 1) + list(dilation)
    if transposed:
        names = ("depth", "height", "width")[3 - len(shown):]
        got = ", ".join(f"dilation_{n}: {v}" for n, v in zip(names, shown))
    else:
        got = str(shown)
    raise RuntimeError(f"dilation should be greater than zero, but got {got}")


def _check_kernel_dtype(x, dilation, transposed):
    """torch's CPU kernels for a non-floating input (not reached for an empty one): int64
    runs in all of them, the other integer dtypes only in the plain undilated ones, bool in
    none."""
    dt = x.dtype
    if dt.is_floating_point or dt is D.int64 or x.numel() == 0:
        return
    if transposed:
        kernel = f"slow_conv_transpose{max(len(dilation), 2)}d_out_cpu"
    elif any(d != 1 for d in dilation):
        kernel = "slow_conv_dilated<>"
    elif dt is not D.bool_:
        return
    else:
        kernel = "compute_columns3d" if len(dilation) == 3 else "slow_conv2d_cpu"
    raise NotImplementedError(f'"{kernel}" not implemented for \'{dt.legacy}\'')


def _check_conv_shape(x, weight, bias, stride, padding, dilation, groups):
    """torch's check_shape_forward (not transposed), its messages."""
    ws = list(weight.shape)
    _check_common(x, ws, stride, padding, dilation, groups)
    if x.shape[1] != ws[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {ws}, expected "
                           f"input{_sizes(x)} to have {ws[1] * groups} channels, but got "
                           f"{x.shape[1]} channels instead")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != ws[0]):
        raise RuntimeError(f"Given weight of size {ws}, expected bias to be 1-dimensional "
                           f"with {ws[0]} elements, but got bias of size {_sizes(bias)} instead")
    padded = [x.shape[2 + i] + 2 * padding[i] for i in range(len(ws) - 2)]
    kernel = [dilation[i] * (ws[2 + i] - 1) + 1 for i in range(len(ws) - 2)]
    if any(p < q for p, q in zip(padded, kernel)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, kernel))}). Kernel size can't be greater "
                           f"than actual input size")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution (cross-correlation) of (N, C_in, L) or (C_in, L) input with weight
    (C_out, C_in / groups, kW) (ConvolutionBackward0); padding an int, a tuple, 'valid' or
    'same'."""
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv_tbc(*args, **kwargs):
    """conv_tbc(input, weight, bias, pad=0): the 1-d convolution of a (time, batch, C_in)
    sequence with weight (kW, C_in, C_out), zero-padded by `pad` at both ends of time (a
    negative pad crops), as conv1d of the (batch, C_in, time) permutation."""
    input, weight, bias, pad = bind("conv_tbc", args, kwargs,
                                    ["input", "weight", "bias", "pad"], (0,))
    for k, (name, v) in enumerate((("weight", weight), ("bias", bias)), 2):
        if not isinstance(v, Tensor):
            raise TypeError(f"conv_tbc(): argument '{name}' (position {k}) must be Tensor, "
                            f"not {errors.type_name(v)}")
    if not isinstance(pad, (int, np.integer)) or isinstance(pad, bool):
        raise TypeError(f"conv_tbc(): argument 'pad' (position 4) must be int, not "
                        f"{errors.type_name(pad)}")
    if input.dim() != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.dim() != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, "
                           "out_channels.")
    if bias.dim() != 1 or bias.shape[0] != weight.shape[2]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output "
                           "channels).")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    x = input.permute(1, 2, 0)
    if pad < 0:   # (torch's kernel reads only the times a negative pad leaves)
        x, pad = x[..., -pad:x.shape[2] + pad], 0
    return conv1d(x, weight.permute(2, 1, 0), bias, padding=int(pad)).permute(2, 0, 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation) of (N, C_in, H, W) or (C_in, H, W) input with
    weight (C_out, C_in / groups, kH, kW) (ConvolutionBackward0); padding an int, a tuple,
    'valid' or 'same'."""
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution (cross-correlation) of (N, C_in, D, H, W) or (C_in, D, H, W) input with
    weight (C_out, C_in / groups, kD, kH, kW) (ConvolutionBackward0)."""
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(k, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    """torch's conv_transpose{k}d: its checks, then the convolution row (transposed)."""
    fn = f"conv_transpose{k}d"
    _tensor(fn, input)
    _tensor(fn, weight, "weight", 2)
    if bias is not None:
        _tensor(fn, bias, "bias", 3)
    stride, padding, output_padding, dilation = (
        _ints(fn, name, v, k) for name, v in (("stride", stride), ("padding", padding),
                                              ("output_padding", output_padding),
                                              ("dilation", dilation)))
    _int_arg(groups, fn, "groups", None)
    if input.dim() not in (k + 1, k + 2):
        raise RuntimeError(f"Expected {k + 1}D (unbatched) or {k + 2}D (batched) input to "
                           f"{fn}, but got input of size: {_sizes(input)}")
    batched = input.dim() == k + 2
    x = input if batched else input.unsqueeze(0)
    dim = weight.dim() - 2
    if dim <= 0:
        raise RuntimeError("weight should have at least three dimensions")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    stride, padding, output_padding, dilation = (
        _expand(name, v, dim) for name, v in (("stride", stride), ("padding", padding),
                                              ("output_padding", output_padding),
                                              ("dilation", dilation)))
    ws = list(weight.shape)
    _check_common(x, ws, stride, padding, dilation, groups, output_padding)
    if x.shape[1] != ws[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {ws}, expected input"
                           f"{_sizes(x)} to have {ws[0]} channels, but got {x.shape[1]} "
                           f"channels instead")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != ws[1] * groups):
        raise RuntimeError(f"Given transposed=1, weight of size {ws}, expected bias to be "
                           f"1-dimensional with {ws[1] * groups} elements, but got bias of "
                           f"size {_sizes(bias)} instead")
    # (torch's use_mkldnn: not for an output padding as large as the stride, which the
    # native kernels refuse or take; their shape checks precede their dtype checks)
    onednn = _uses_onednn(x, weight, groups, stride, dilation) and not any(
        o >= s for o, s in zip(output_padding, stride))
    if onednn:
        _check_dtypes(x, weight, bias, onednn, True)
    else:   # (the native kernels' shape check: the dilations, then the output padding)
        _check_zero_dilation(x, dilation, True, onednn)
    if any(o >= s and o >= d for o, s, d in zip(output_padding, stride, dilation)):
        # (a 1-d convolution runs as 2-d: a unit height, output_padding 0, stride and
        # dilation 1)
        shown = [tuple(v) if dim > 1 else (h, v[0]) for v, h in
                 ((output_padding, 0), (stride, 1), (dilation, 1))]
        names = ("depth", "height", "width")[3 - max(dim, 2):] if dim <= 3 else ()
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got " + " ".join(
                [f"{what}_{n}: {v}" for what, vals in zip(
                    ("output_padding", "stride", "dilation"), shown)
                 for n, v in zip(names, vals)]))
    out = [(x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (ws[2 + i] - 1)
           + output_padding[i] + 1 for i in range(dim)]
    if x.numel() == 0 and x.shape[0] and x.shape[1]:   # (torch's _convolution, before kernels)
        shown = list(x.shape[:2]) + [1] * (dim == 1) + list(x.shape[2:])   # (1-d seen as 2-d)
        raise RuntimeError(f"Only zero batch or zero channel inputs are supported, but got "
                           f"input shape: {shown}")
    if not weight.numel():
        # (no output channels: torch's Empty backend selects a weight element, the kernels
        # check their weight first)
        if not x.numel():
            raise IndexError("select(): index 0 out of range for tensor of size [0] at "
                             "dimension 0")
        if onednn:
            raise RuntimeError("could not create a primitive descriptor for the deconvolution "
                               "forward propagation primitive. Run workload with environment "
                               "variable ONEDNN_VERBOSE=all to get additional diagnostic "
                               "information.")
        if dim == 3:
            raise RuntimeError(f"non-empty 5D (n_output_plane x n_input_plane x kernel_depth "
                               f"x kernel_height x kernel_width) tensor expected for weight, "
                               f"but got: {_sizes(weight)}")
        shown = ws[:2] + [1] * (dim == 1) + ws[2:]
        raise RuntimeError(f"non-empty 2D or 4D weight tensor expected, but got: {shown}")
    if x.numel() and onednn and any(o < 0 for o in out):
        raise RuntimeError("could not construct a memory descriptor using a format tag")
    if x.numel() and not onednn and any(o <= 0 for o in out):
        # (the native kernels' check: an empty input skips it; oneDNN makes an empty result
        # of a zero output size.  A 1-d convolution runs as 2-d with a unit height)
        unit = ["1"] * (dim == 1)
        raise RuntimeError(f"Given input size per channel: "
                           f"({' x '.join(unit + [str(v) for v in x.shape[2:]])}). Calculated "
                           f"output size per channel: ({' x '.join(unit + list(map(str, out)))})"
                           f". Output size is too small")
    _check_zero_dilation(x, dilation, True, onednn)
    if not onednn:
        _check_dtypes(x, weight, bias, onednn, True)
    _check_kernel_dtype(x, dilation, True)
    y = _record("convolution", C.conv_transpose, x, weight, bias, tuple(stride),
                tuple(padding), tuple(output_padding), int(groups), tuple(dilation))
    return y if batched else y.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """1-d transposed convolution ("deconvolution") of (N, C_in, L) or (C_in, L) input with
    weight (C_in, C_out / groups, kW) (ConvolutionBackward0)."""
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """2-d transposed convolution of (N, C_in, H, W) or (C_in, H, W) input with weight
    (C_in, C_out / groups, kH, kW) (ConvolutionBackward0): conv2d's input gradient."""
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """3-d transposed convolution of (N, C_in, D, H, W) or (C_in, D, H, W) input with weight
    (C_in, C_out / groups, kD, kH, kW) (ConvolutionBackward0)."""
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


# ---- pixel shuffle, im2col / col2im ----------------------------------------------------------
def pixel_shuffle(input, upscale_factor):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r), r = upscale_factor
    (PixelShuffleBackward0)."""
    _tensor("pixel_shuffle", input)
    r = _int_arg(upscale_factor, "pixel_shuffle", "upscale_factor", 2).__index__()
    if input.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    c = input.shape[-3]
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    return _record("pixel_shuffle", C.pixel_shuffle, input, r)


def channel_shuffle(input, groups):
    """(N, C, *) with its C channels split into `groups` groups and interleaved: channel i
    of the result is channel (i % groups) * (C / groups) + i // groups
    (ChannelShuffleBackward0)."""
    _tensor("channel_shuffle", input)
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"channel_shuffle(): argument 'groups' (position 2) must be int, not "
                        f"{type(groups).__name__}")
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    c = input.shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    return _record("channel_shuffle", C.channel_shuffle, input, groups)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W), r = downscale_factor
    (PixelUnshuffleBackward0)."""
    _tensor("pixel_unshuffle", input)
    r = _int_arg(downscale_factor, "pixel_unshuffle", "downscale_factor", 2).__index__()
    if input.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    for name, d in (("height", -2), ("width", -1)):
        if input.shape[d] % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({d})={input.shape[d]} is not "
                               f"divisible by {r}")
    return _record("pixel_unshuffle", C.pixel_unshuffle, input, r)


def _fold_args(kernel_size, dilation, padding, stride):
    out = []
    for name, v in (("kernel_size", kernel_size), ("dilation", dilation),
                    ("padding", padding), ("stride", stride)):
        v = _ints("im2col", name, v, 2)
        if len(v) != 2:
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(v)}")
        out.append(v)
    kernel, dilation, padding, stride = out
    if kernel[0] <= 0 or kernel[1] <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: "
                           f"{kernel[0]} kernel_width: {kernel[1]}")
    return kernel, dilation, padding, stride


def _check_dilation_padding(dilation, padding):
    if dilation[0] <= 0 or dilation[1] <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: "
                           f"{dilation[0]} dilation_width: {dilation[1]}")
    if padding[0] < 0 or padding[1] < 0:
        raise RuntimeError(f"padding should be non-negative, but got pad_height: "
                           f"{padding[0]} pad_width: {padding[1]}")


def _check_stride(stride):
    if stride[0] <= 0 or stride[1] <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: "
                           f"{stride[0]} stride_width: {stride[1]}")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """The sliding kernel_size blocks of (N, C, H, W) or (C, H, W) input as columns:
    (N, C * kH * kW, L) (Im2ColBackward0)."""
    _tensor("im2col", input)
    kernel, dilation, padding, stride = _fold_args(kernel_size, dilation, padding, stride)
    _check_dilation_padding(dilation, padding)
    _check_stride(stride)
    s = input.shape
    if input.dim() < 3:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-input.dim()}, {input.dim() - 1}], but got 2)")
    valid = s[1] != 0 and s[2] != 0
    if not ((input.dim() == 3 and s[0] and valid) or (input.dim() == 4 and valid and s[3])):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with possibly 0 batch size "
                           f"and other non-zero dimensions for input, but got: {_sizes(input)}")
    h, w = s[-2], s[-1]
    blocks = [(v + 2 * p - (d * (k - 1) + 1)) // st + 1
              for v, p, d, k, st in zip((h, w), padding, dilation, kernel, stride)]
    if blocks[0] < 1 or blocks[1] < 1:
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size="
                           f"({kernel[0]}, {kernel[1]}), dilation=({dilation[0]}, "
                           f"{dilation[1]}), padding=({padding[0]}, {padding[1]}), calculated "
                           f"shape of the array of sliding blocks as ({blocks[0]}, {blocks[1]}), "
                           f"but its components must be at least one.")
    args = (tuple(kernel), tuple(dilation), tuple(padding), tuple(stride))
    if not input.dtype.is_floating_point and input.dtype is not D.bool_:   # (torch's: bool too)
        raise NotImplementedError(f"\"im2col_out_cpu\" not implemented for "
                                  f"'{input.dtype.legacy}'")
    return _record("im2col", C.im2col if input.dim() == 4 else _unbatched(C.im2col), input,
                   *args)


def _unbatched(body):
    """body on an unbatched input: run on unsqueeze(0), squeezed (inside the group, as
    torch's kernels take both)."""
    def run(T, x, *args):
        return body(T, x.unsqueeze(0), *args).squeeze(0)
    return run


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The columns (N, C * kH * kW, L) or (C * kH * kW, L) summed back into an (N, C,
    *output_size) image, overlapping blocks adding up (Col2ImBackward0): unfold's
    adjoint."""
    _tensor("fold", input)
    out = _ints("col2im", "output_size", output_size, 2)
    if len(out) != 2:
        raise RuntimeError(f"It is expected output_size equals to 2, but got size {len(out)}")
    kernel, dilation, padding, stride = _fold_args(kernel_size, dilation, padding, stride)
    _check_stride(stride)
    _check_dilation_padding(dilation, padding)
    s = input.shape
    if input.dim() not in (2, 3) or any(v == 0 for v in s[input.dim() - 2:]):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{_sizes(input)}")
    planes, length = s[-2], s[-1]
    if planes % (kernel[0] * kernel[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={planes} and kernel_size="
                           f"({kernel[0]}, {kernel[1]}).")
    blocks = [(o + 2 * p - d * (k - 1) - 1) // st + 1
              for o, p, d, k, st in zip(out, padding, dilation, kernel, stride)]
    where = (f"Given output_size=({out[0]}, {out[1]}), kernel_size=({kernel[0]}, {kernel[1]}), "
             f"dilation=({dilation[0]}, {dilation[1]}), padding=({padding[0]}, {padding[1]}), "
             f"stride=({stride[0]}, {stride[1]}), ")
    if length != blocks[0] * blocks[1]:
        raise RuntimeError(f"{where}expected size of input's dimension 2 to match the calculated "
                           f"number of sliding blocks {blocks[0]} * {blocks[1]} = "
                           f"{blocks[0] * blocks[1]}, but got input.size(2)={length}.")
    if blocks[0] < 1 or blocks[1] < 1:
        raise RuntimeError(f"{where}calculated shape of the array of sliding blocks as "
                           f"({blocks[0]}, {blocks[1]}), which is too small (non-positive)")
    args = (tuple(out), tuple(kernel), tuple(dilation), tuple(padding), tuple(stride))
    if not input.dtype.is_floating_point and input.dtype is not D.bool_:   # (torch's: bool too)
        raise NotImplementedError(f"\"col2im_out_cpu\" not implemented for "
                                  f"'{input.dtype.legacy}'")
    return _record("col2im", C.col2im if input.dim() == 3 else _unbatched(C.col2im), input,
                   *args)
