"""nn.functional's pooling (`max_pool*`, `avg_pool*`, `adaptive_avg_pool*`,
`adaptive_max_pool*`) with torch's signatures, defaults, output shapes, checks and messages.

Each records one decomposition row shown as torch's node (bodies in nn/_decomps_pool.py):
`MaxPool2DWithIndicesBackward0`, `AvgPool2DBackward0`, `AdaptiveAvgPool2DBackward0`,
`AdaptiveMaxPool2DBackward0` and their 3-d rows.  What torch records around its node is
recorded the same way: the 1-d poolings run the 2-d ones on `unsqueeze(-2)` (then
`SqueezeBackward1`), and an adaptive average pooling to size 1 is a mean (`MeanBackward1`).
The power-average poolings `lp_pool*` are torch's Python compositions of these.
"""
import numpy as np

from .. import dtypes as D
from ..creation import tensor as _tensor_of
from ..recording import keep_later
from ..tensor import Tensor
from ..tracing import _tracing
from . import _decomps_pool as P
from ._conv import _WORDS, _cdiv, _ints, _plain_ints, _record, _sizes, _tensor
from ._tuples import ntuple

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
           "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "lp_pool1d",
           "lp_pool2d", "lp_pool3d", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices"]


# ---- pooling: torch's argument checks --------------------------------------------------------
# (the poolings reach torch's parser with their int[] arguments given positionally)
_POSITIONS = {"kernel_size": 2, "stride": 3, "padding": 4, "dilation": 5, "output_size": 2}


def _pints(fn, name, v):
    return _ints(fn, name, v, pos=_POSITIONS[name])


# _pool_args' results by its arguments as given (ints, tuples of ints, None): a layer passes
# the same ones at every call (errors, lists and other types are not kept)
_ARGS = {}
_NONE = ("none",)   # (None's key part: no tuple of ints equals it)


def _pool_args(fn, k, kernel_size, stride, padding, dilation):
    """kernel, stride (default: the kernel), padding, dilation as k ints, with torch's
    messages for lengths other than 1 or k (the 2-d and 3-d poolings); new lists."""
    parts = (_plain_ints(kernel_size), _NONE if stride is None else _plain_ints(stride),
             _plain_ints(padding), _NONE if dilation is None else _plain_ints(dilation))
    if None in parts:
        return _parse_pool_args(fn, k, kernel_size, stride, padding, dilation)
    key = (fn, k) + parts
    got = _ARGS.get(key)
    if got is None:
        got = _parse_pool_args(fn, k, kernel_size, stride, padding, dilation)
        if len(_ARGS) >= 1024:
            _ARGS.clear()
        _ARGS[key] = tuple(tuple(v) for v in got)
        return got
    return [list(v) for v in got]


def _parse_pool_args(fn, k, kernel_size, stride, padding, dilation):
    """_pool_args, parsed and checked."""
    n = _WORDS[k]
    either = "" if fn == "avg_pool3d" else "either "   # (torch's wording)
    kernel = _pints(fn, "kernel_size", kernel_size)
    if len(kernel) not in (1, k):
        raise RuntimeError(f"{fn}: kernel_size must {either}be a single int, or a tuple of "
                           f"{n} ints")
    kernel = kernel * k if len(kernel) == 1 else kernel
    stride = [] if stride is None else _pints(fn, "stride", stride)
    if len(stride) not in (0, 1, k):
        raise RuntimeError(f"{fn}: stride must {either}be omitted, a single int, or a tuple "
                           f"of {n} ints")
    stride = kernel if not stride else (stride * k if len(stride) == 1 else stride)
    padding = _pints(fn, "padding", padding)
    if len(padding) not in (1, k):
        raise RuntimeError(f"{fn}: padding must {either}be a single int, or a tuple of {n} "
                           f"ints")
    padding = padding * k if len(padding) == 1 else padding
    if dilation is not None:
        dilation = _pints(fn, "dilation", dilation)
        if len(dilation) not in (1, k):
            raise RuntimeError(f"{fn}: dilation must be either a single int, or a tuple of "
                               f"{n} ints")
        dilation = dilation * k if len(dilation) == 1 else dilation
    else:
        dilation = [1] * k
    return kernel, stride, padding, dilation


def _out_size(size, kernel, pad, stride, dilation, ceil_mode):
    """torch's pooling_output_shape, its checks first."""
    if stride == 0:
        raise RuntimeError("stride should not be zero")
    if pad < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {pad}")
    if pad > _cdiv((kernel - 1) * dilation + 1, 2):
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                           f"pad={pad}, kernel_size={kernel} and dilation={dilation}")
    out = (size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) \
        // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _shape_check(fn, x, k, kernel, stride, padding, dilation, out):
    """torch's pool2d_shape_check / pool3d_shape_check."""
    names = ("kT", "kH", "kW")[3 - k:]
    if any(v <= 0 for v in kernel):
        raise RuntimeError("kernel size should be greater than zero, but got " + " ".join(
            f"{n}: {v}" for n, v in zip(names, kernel)))
    if any(v <= 0 for v in stride):
        raise RuntimeError("stride should be greater than zero, but got " + " ".join(
            f"{n}: {v}" for n, v in zip(("dT", "dH", "dW")[3 - k:], stride)))
    if any(v <= 0 for v in dilation):
        raise RuntimeError("dilation should be greater than zero, but got " + " ".join(
            f"{n}: {v}" for n, v in zip(("dilationT", "dilationH", "dilationW")[3 - k:],
                                        dilation)))
    s = x.shape
    if k == 2:
        valid = s[1] != 0 and s[2] != 0
        if not ((x.dim() == 3 and s[0] != 0 and valid) or (x.dim() == 4 and valid and s[3])):
            raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim "
                               f"batch size for input, but got:{_sizes(x)}")
        if kernel[1] // 2 < padding[1] or kernel[0] // 2 < padding[0]:
            raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, "
                               f"but got padW = {padding[1]}, padH = {padding[0]}, kW = "
                               f"{kernel[1]}, kH = {kernel[0]}")
    else:
        # (torch's kernels: an unbatched input's every dim checked; the message names the
        # kernel and shows the empty dim's size, 0, where its index was meant)
        for i in range(1 if x.dim() == 5 else 0, x.dim()):
            if s[i] == 0:
                name = "max_pool3d_with_indices_out_cpu_template" if fn[0] == "m" else fn
                raise RuntimeError(f"{name}(): Expected input's non-batch dimensions to have "
                                   f"positive length, but input has a shape of {_sizes(x)} "
                                   f"and non-batch dimension 0 has length zero!")
        if fn.startswith("avg") and any(a < b for a, b in zip(s[-3:], kernel)):
            raise RuntimeError(f"input image (T: {s[-3]} H: {s[-2]} W: {s[-1]}) smaller than "
                               f"kernel size (kT: {kernel[0]} kH: {kernel[1]} kW: "
                               f"{kernel[2]})")
        if any(kk // 2 < p for kk, p in zip(kernel, padding)):
            raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, "
                               f"but got kT: {kernel[0]} kW: {kernel[2]} kH: {kernel[1]} "
                               f"padT: {padding[0]} padW: {padding[2]} padH: {padding[1]}")
    if any(o < 1 for o in out):
        sizes = "x".join(str(v) for v in s[-k:])
        plane = s[-k - 1]
        raise RuntimeError(f"Given input size: ({plane}x{sizes}). Calculated output size: "
                           f"({plane}x{'x'.join(map(str, out))}). Output size is too small")


# The output sizes of poolings whose shape checks passed, by everything the checks read: a
# layer called again on inputs of one shape skips them (errors are never cached).
_OUT_SIZES = {}   # (fn, shape, kernel, stride, padding, dilation, ceil_mode) -> out


def _pool_setup(fn, k, input, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked arguments and output size of a k-d pooling (k = 2, 3), as torch's meta
    functions."""
    _tensor(fn, input)
    kernel, stride, padding, dilation = _pool_args(fn, k, kernel_size, stride, padding,
                                                   dilation)
    # (another ceil_mode than a bool: its truth is taken where torch's checks take it)
    key = (fn, input._shape, tuple(kernel), tuple(stride), tuple(padding), tuple(dilation),
           ceil_mode) if type(ceil_mode) is bool else None
    out = _OUT_SIZES.get(key)
    if out is not None:
        return kernel, stride, padding, dilation, out
    if (fn.startswith("max") or k == 3) and input.dim() not in (k + 1, k + 2):
        raise RuntimeError(f"non-empty {k + 1}D or {k + 2}D (batch mode) tensor expected for "
                           f"input")
    if input.dim() < k + 1:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-input.dim()}, {input.dim() - 1}], but got {-k - 1})")
    sizes = input.shape[input.dim() - k:]
    out = [_out_size(sizes[i], kernel[i], padding[i], stride[i], dilation[i], ceil_mode)
           for i in range(k)]
    _shape_check(fn, input, k, kernel, stride, padding, dilation, out)
    out = tuple(out)
    if key is not None:
        if len(_OUT_SIZES) >= 1024:
            _OUT_SIZES.clear()
        _OUT_SIZES[key] = out
    return kernel, stride, padding, dilation, out


# ---- max pooling -----------------------------------------------------------------------------
def _max_pool(k, input, kernel_size, stride, padding, dilation, ceil_mode):
    """(output, indices) of a k-d max pooling (k = 2, 3)."""
    fn = _MAX_FN[k]
    # a pooling layer's call again, on an input of the shape seen before with the same
    # arguments (ints as given): _pool_setup's checked arguments and output size then (its
    # checks read nothing else; errors are never cached)
    memo = (k, input._shape, kernel_size, stride, padding, dilation, ceil_mode) if (
        type(input) is Tensor and _plain_ints(kernel_size) is not None
        and (stride is None or _plain_ints(stride) is not None)
        and _plain_ints(padding) is not None and _plain_ints(dilation) is not None
        and type(ceil_mode) is bool) else None
    got = _MAX_SETUP.get(memo)
    if got is None:
        got = _pool_setup(fn, k, input, kernel_size, stride, padding, dilation, ceil_mode)
        if memo is not None:
            if len(_MAX_SETUP) >= 1024:
                _MAX_SETUP.clear()
            _MAX_SETUP[memo] = got = tuple(tuple(v) for v in got)
    kernel, stride, padding, dilation, out = got
    if input._dtype is D.bool_:   # (torch's kernels take every other dtype)
        raise NotImplementedError(f'"{fn}" not implemented for \'Bool\'')
    arr = input._array()
    arr4 = arr if input.dim() == k + 2 else arr[None]
    pos, plane, idx, extra, empty = P.max_positions(arr4, kernel, stride, padding, dilation,
                                                    out)
    shape = input._shape[:len(input._shape) - k] + tuple(out)
    guard = None
    # (a traced input: a recorded input too, whose _tape stays None until an op reads it)
    if _tracing(input) is not None:
        guard = (tuple(kernel), tuple(stride), tuple(padding), tuple(dilation), tuple(extra),
                 idx[..., None])
    values = None
    if guard is None and empty is None:     # (the body's one entry, written directly)
        values = P.max_pool_pass(input, pos.reshape(shape), fn)
    if values is None:
        values = _record(fn, P.max_pool, input, pos.reshape(shape), guard, empty)
    return values, Tensor._wrap(plane.reshape(shape), D.int64)   # (plane: a new array)


_MAX_FN = {2: "max_pool2d", 3: "max_pool3d"}
_MAX_SETUP = {}   # _max_pool's memo -> _pool_setup's (kernel, stride, padding, dilation, out)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool2d's output and the indices of the maxima in each input plane (int64)."""
    out, indices = _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode)
    return _pool_kept(out, indices, kernel_size, stride, padding, dilation, ceil_mode), indices


def _pool_kept(out, indices, kernel_size, stride, padding, dilation, ceil_mode):
    """out, keeping what torch's MaxPool2DWithIndicesBackward0 saves beside its input (its
    int[2] arguments as the binding reads them: an int as a pair, no stride as (); worked
    out when read)."""
    return keep_later(out, _max_pool_fields, indices, kernel_size, stride, padding, dilation,
                      ceil_mode)


def _max_pool_fields(indices, kernel_size, stride, padding, dilation, ceil_mode):
    return {"result1": indices, "kernel_size": _int2(kernel_size), "stride": _int2(stride),
            "padding": _int2(padding), "dilation": _int2(dilation), "ceil_mode": ceil_mode}


def _avg_pool_fields(kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override):
    return {"kernel_size": _int2(kernel_size), "stride": _int2(stride),
            "padding": _int2(padding), "ceil_mode": ceil_mode,
            "count_include_pad": count_include_pad, "divisor_override": divisor_override}


def _int2(v):
    """An int[2] argument as torch's node keeps it: an int as a pair, None as (), a sequence
    as given."""
    return () if v is None else (int(v), int(v)) if hasattr(v, "__index__") else \
        tuple(int(e) for e in v)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool3d's output and the indices of the maxima in each input volume (int64)."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The maximum of each kH x kW window of (N, C, H, W) or (C, H, W) input
    (MaxPool2DWithIndicesBackward0); stride defaults to kernel_size; with return_indices,
    (output, indices)."""
    if return_indices:
        return max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)[0]


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The maximum of each kD x kH x kW window of (N, C, D, H, W) or (C, D, H, W) input
    (MaxPool3DWithIndicesBackward0); with return_indices, (output, indices)."""
    out, indices = _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode)
    return (out, indices) if return_indices else out


def _check_pool1d_dims(fn, input):
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional "
                           f"tensor for argument #1 'self' (while checking arguments for {fn})")


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool1d's output and the indices of the maxima along L (int64)."""
    _tensor("max_pool1d_with_indices", input)
    _check_pool1d_dims("max_pool1d", input)
    kernel = _pool1d_arg("max_pool1d_with_indices", "kernel_size", kernel_size)
    stride = kernel if stride is None else _pool1d_arg("max_pool1d_with_indices", "stride",
                                                       stride)
    x = input.unsqueeze(-2)
    out, indices = _max_pool(2, x, [1] + kernel, [1] + stride,
                             [0] + _pool1d_arg("max_pool1d_with_indices", "padding", padding),
                             [1] + _pool1d_arg("max_pool1d_with_indices", "dilation", dilation),
                             ceil_mode)
    return out.squeeze(-2), indices.squeeze(-2)


def _pool1d_arg(fn, name, v):
    v = _pints(fn, name, v)
    if len(v) != 1:
        raise RuntimeError(f"{fn}() argument '{name}' should contain one int (got {len(v)})")
    return v


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The maximum of each window of kernel_size along L of (N, C, L) or (C, L) input
    (MaxPool2DWithIndicesBackward0 between unsqueeze and squeeze, as torch); with
    return_indices, (output, indices)."""
    if return_indices:
        return max_pool1d_with_indices(input, kernel_size, stride, padding, dilation,
                                       ceil_mode)
    _tensor("max_pool1d", input)
    s = input.shape
    if not ((input.dim() == 2 and s[0] != 0 and s[1] != 0)
            or (input.dim() == 3 and s[1] != 0 and s[2] != 0)):
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional "
                           f"0 dim batch size for input, but got:{_sizes(input)}")
    args = []
    for name, v, what in (("kernel_size", kernel_size, "an int, list of ints or tuple of ints"),
                          ("stride", stride, "None, an int, list of ints, or tuple of ints"),
                          ("padding", padding, "an int, list of ints, or tuple of ints"),
                          ("dilation", dilation, "an int, list of ints or tuple of ints")):
        v = [] if v is None else _pints("max_pool1d", name, v)
        if len(v) != 1 and not (name == "stride" and not v):
            raise RuntimeError(f"max_pool1d() {name} must be {what} of size 1 but got size "
                               f"{len(v)}")
        args.append(v)
    kernel, stride, pad, dil = (a[0] if a else None for a in args)
    stride = kernel if stride is None else stride
    if kernel <= 0:
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got "
                           f"{kernel}")
    if stride <= 0:
        raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {stride}")
    if pad < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {pad}")
    if pad > kernel // 2:
        raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but "
                           f"got padding={pad} and kernel_size={kernel}")
    if dil <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {dil}")
    width = _out_size(input.shape[-1], kernel, pad, stride, dil, ceil_mode)
    if width <= 0:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {width}")
    if not input.dtype.is_floating_point:   # (torch's max_pool1d kernel; with indices: any)
        raise NotImplementedError(f"\"max_pool1d_impl\" not implemented for "
                                  f"'{input.dtype.legacy}'")
    out, _ = _max_pool(2, input.unsqueeze(-2), [1, kernel], [1, stride], [0, pad], [1, dil],
                       ceil_mode)
    return out.squeeze(-2)


# ---- average pooling -------------------------------------------------------------------------
def _avg_pool(k, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, fn=None):
    fn = fn or f"avg_pool{k}d"
    _tensor(fn, input)
    # a pooling layer's call again, on an input of the shape and dtype seen before with the
    # same arguments: the one-pass writer's arguments the checks below found then (its case
    # only; errors are never cached)
    memo = (fn, input._shape, input._dtype, kernel_size, stride, padding, ceil_mode,
            count_include_pad, divisor_override) \
        if (_plain_ints(kernel_size) is not None and _plain_ints(padding) is not None
            and (stride is None or _plain_ints(stride) is not None)
            and type(ceil_mode) is bool and type(count_include_pad) is bool
            and (divisor_override is None or type(divisor_override) is int)) else None
    got = _AVG_PASS.get(memo)
    if got is not None:
        out = P.avg_pool_pass(input, *got)
        if out is not None:
            return out
    kernel, stride, padding, _ = _pool_args(fn, k, kernel_size, stride, padding, None)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    if k == 3 and input.dim() not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    if input.dim() < k + 1:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-input.dim()}, {input.dim() - 1}], but got {-k - 1})")
    if not input.dtype.is_floating_point and input.dtype is not D.int64:
        kernel_name = "avg_pool3d_out_frame" if k == 3 else fn
        raise NotImplementedError(f'"{kernel_name}" not implemented for '
                                  f'\'{input.dtype.legacy}\'')
    # (another ceil_mode or count_include_pad than a bool: its truth is taken where torch's
    # checks take it)
    key = (fn, input._shape, tuple(kernel), tuple(stride), tuple(padding), ceil_mode,
           count_include_pad) \
        if type(ceil_mode) is bool and type(count_include_pad) is bool else None
    geometry = _AVG_GEOMETRY.get(key)
    if geometry is None:
        geometry = _avg_geometry(fn, k, input, kernel, stride, padding, ceil_mode,
                                 count_include_pad)
        if key is not None and geometry[1].size <= P._KEPT_MAX:
            if len(_AVG_GEOMETRY) >= 1024:
                _AVG_GEOMETRY.clear()
            _AVG_GEOMETRY[key] = geometry
    extra, grid, uniform = geometry
    if divisor_override is not None:
        divisor = float(divisor_override)
    else:
        divisor = uniform if uniform is not None else _tensor_of(grid.astype(input.dtype.np))
    if input.dtype is D.int64:   # (no gradient: torch's integer quotient, toward zero)
        return _tensor_of(P.int_avg_pool(input._array(), kernel, stride, padding, extra,
                                         float(divisor_override) if divisor_override else grid))
    if k == 2 and type(divisor) is float and not any(padding) and not any(extra):
        out = P.avg_pool_pass(input, kernel, stride, divisor)
        if out is not None:
            if memo is not None:
                if len(_AVG_PASS) >= 1024:
                    _AVG_PASS.clear()
                _AVG_PASS[memo] = (tuple(kernel), tuple(stride), divisor)
            return out
    return _record(f"avg_pool{k}d", P.avg_pool, input, tuple(kernel), tuple(stride),
                   tuple(padding), tuple(extra), divisor)


# _avg_pool's arguments to the one-pass writer (P.avg_pool_pass) by the arguments as given,
# the input's shape and dtype (everything its checks read)
_AVG_PASS = {}


# What an average pooling's shape checks found for the argument sets seen last, by
# everything the checks read: a layer called again on inputs of one shape skips them (errors
# are never cached).
_AVG_GEOMETRY = {}   # (fn, shape, kernel, stride, padding, ceil_mode, count_include_pad) -> ...


def _avg_geometry(fn, k, input, kernel, stride, padding, ceil_mode, count_include_pad):
    """torch's shape checks of a k-d average pooling, then (the extra right padding of
    ceil_mode, the divisor of each output position (an int64 array of the output's spatial
    shape, read-only), the divisor as a float where it is the same everywhere, else None)."""
    sizes = input.shape[input.dim() - k:]
    out = [_out_size(sizes[i], kernel[i], padding[i], stride[i], 1, ceil_mode)
           for i in range(k)]
    _shape_check(fn, input, k, kernel, stride, padding, [1] * k, out)
    # torch's divisor per output position: the window clipped to the padded input
    # (count_include_pad) or to the input, unless divisor_override
    extra, per_dim = [], []
    for i in range(k):
        start = np.arange(out[i]) * stride[i] - padding[i]
        end = np.minimum(start + kernel[i], sizes[i] + padding[i])
        pool = end - start
        count = np.minimum(end, sizes[i]) - np.maximum(start, 0)
        per_dim.append(pool if count_include_pad else count)
        extra.append(max((out[i] - 1) * stride[i] + kernel[i] - sizes[i] - 2 * padding[i], 0))
    grid = np.ones((), np.int64)
    for c in per_dim:
        grid = np.multiply.outer(grid, c)
    grid.flags.writeable = False
    uniform = float(grid.reshape(-1)[0]) if grid.size and np.all(grid == grid.reshape(
        -1)[0]) else None
    return tuple(extra), grid, uniform


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """The mean of each window of kernel_size along L of (N, C, L) or (C, L) input
    (AvgPool2DBackward0 between unsqueeze and squeeze, as torch)."""
    _tensor("avg_pool1d", input)
    _check_pool1d_dims("avg_pool1d", input)
    kernel = _pool1d_arg("avg_pool1d", "kernel_size", kernel_size)
    stride = kernel if stride is None else _pool1d_arg("avg_pool1d", "stride", stride)
    pad = _pool1d_arg("avg_pool1d", "padding", padding)
    out = _avg_pool(2, input.unsqueeze(-2), [1] + kernel, [1] + stride, [0] + pad, ceil_mode,
                    count_include_pad, None)
    return out.squeeze(-2)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each kH x kW window of (N, C, H, W) or (C, H, W) input
    (AvgPool2DBackward0): padding counted in the divisor with count_include_pad, or
    divisor_override as the divisor."""
    return keep_later(_avg_pool(2, input, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override), _avg_pool_fields,
                      kernel_size, stride, padding, ceil_mode, count_include_pad,
                      divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each kD x kH x kW window of (N, C, D, H, W) or (C, D, H, W) input
    (AvgPool3DBackward0)."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---- adaptive average pooling ----------------------------------------------------------------
def _one_size(fn, output_size):
    """An int output_size of an adaptive pool, as torch's _list_with_default passes it on:
    a Python int only (a tensor or numpy int is taken as a sequence), which the parser
    refuses when it is a bool."""
    if output_size.__class__ is bool:
        raise TypeError(f"{fn}(): argument 'output_size' (position 2) must be tuple of ints, "
                        f"not bool")
    return int(output_size)


def _check_nonempty(fn, input, first):
    """torch's adaptive pooling check: no empty dim from `first` on."""
    shape = input._shape    # (a tuple: a Size per dim cost ~2 us a call)
    if 0 in shape[first:]:
        raise RuntimeError(f"{fn}(): Expected input to have non-zero size for non-batch "
                           f"dimensions, but input has sizes {_sizes(input)} with dimension "
                           f"{shape.index(0, first)} being empty")


def _adaptive(k, input, output_size):
    fn = f"adaptive_avg_pool{k}d"
    _tensor(fn, input)
    if isinstance(output_size, int):
        size = [_one_size(fn, output_size)] * k
    else:
        if input.dim() <= len(output_size):
            raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")
        # (torch's _list_with_default: None keeps the input's size, the rest is int[])
        size = _pints(fn, "output_size", [input.shape[input.dim() - len(output_size) + i]
                                          if v is None else v
                                          for i, v in enumerate(output_size)])
    if len(size) != k:
        raise RuntimeError(f"{fn}: output_size must be {k}")
    if any(v < 0 for v in size):
        raise RuntimeError(f"{fn}: elements of output_size must be greater than or equal to 0 "
                           f"but received {{{', '.join(map(str, size))}}}")
    if input.dim() not in (k + 1, k + 2):
        raise RuntimeError(f"{fn}(): Expected {k + 1}D or {k + 2}D tensor, but got "
                           f"{_sizes(input)}")
    if not input.dtype.is_floating_point:   # (torch's 3-d kernels: "..._cpu")
        raise NotImplementedError(f'"{fn}{"_cpu" if k == 3 else ""}" not implemented for '
                                  f"'{input.dtype.legacy}'")
    if all(v == 1 for v in size):   # torch: a mean (MeanBackward1)
        return input.mean(tuple(range(-1, -k - 1, -1)), keepdim=True)
    # (torch's kernels refuse an empty spatial dim, the 3-d one an empty channel dim too)
    _check_nonempty(fn, input, input.dim() - 2 if k == 2 else 1)
    out = P.adaptive_avg_pool_pass(input, tuple(size))
    if out is not None:
        return out
    return _record(fn, P.adaptive_avg_pool, input, tuple(size),
                   *P.adaptive_row_args(input, tuple(size)))


def _adaptive_max(k, input, output_size):
    """(output, indices) of torch's adaptive_max_pool{k}d."""
    fn = f"adaptive_max_pool{k}d"
    _tensor(fn, input)
    if input.dim() not in (k + 1, k + 2):
        raise RuntimeError(f"{fn}(): Expected {k + 1}D or {k + 2}D tensor, but got: "
                           f"{_sizes(input)}")
    _check_nonempty(fn, input, 1)
    if isinstance(output_size, int):
        size = [_one_size(fn, output_size)] * k
    else:
        if input.dim() <= len(output_size):
            raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")
        # (torch's _list_with_default: None keeps the input's size, the rest is int[])
        size = _pints(fn, "output_size", [input.shape[input.dim() - len(output_size) + i]
                                          if v is None else v
                                          for i, v in enumerate(output_size)])
    if len(size) != k:
        raise RuntimeError(f"{fn}(): internal error: output_size.size() must be {k}")
    if any(v < 0 for v in size):
        shape = list(input.shape[:input.dim() - k]) + size
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{min(size)}: {shape}")
    if not input.dtype.is_floating_point:   # (torch's 3-d kernels: "..._cpu")
        raise NotImplementedError(f'"{fn}{"_cpu" if k == 3 else ""}" not implemented for '
                                  f"'{input.dtype.legacy}'")
    arr = input._array()
    pos, plane, idx = P.adaptive_max_positions(arr if input.dim() == k + 2 else arr[None],
                                               size)
    shape = tuple(input.shape[:input.dim() - k]) + tuple(size)
    guard = values = None
    if _tracing(input) is not None:
        guard = (P.adaptive_windows(tuple(input.shape[input.dim() - k:]), size)[0],
                 idx[..., None])
    else:   # (the body's one entry, written directly)
        values = P.max_pool_pass(input, pos.reshape(shape), fn)
    if values is None:
        values = _record(fn, P.adaptive_max_pool, input, pos.reshape(shape), guard)
    return values, _tensor_of(plane.reshape(shape))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """The maxima of output_size windows spread evenly over L of (N, C, L) or (C, L) input
    (AdaptiveMaxPool2DBackward0 between unsqueeze and squeeze, as torch); with
    return_indices, (output, indices)."""
    _tensor("adaptive_max_pool1d", input)
    _check_pool1d_dims("adaptive_max_pool1d", input)
    _check_nonempty("adaptive_max_pool1d", input, 1)   # (torch's names this input's dims)
    size = _pool1d_arg("adaptive_max_pool1d", "output_size", output_size)
    out, indices = _adaptive_max(2, input.unsqueeze(-2), [1] + size)
    return (out.squeeze(-2), indices.squeeze(-2)) if return_indices else out.squeeze(-2)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """The maxima of an output_size grid of windows spread evenly over (H, W)
    (AdaptiveMaxPool2DBackward0; the gradient goes to the element torch's kernel picks);
    with return_indices, (output, indices)."""
    out, indices = _adaptive_max(2, input, output_size)
    return (out, indices) if return_indices else out


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """The maxima of an output_size grid of windows spread evenly over (D, H, W)
    (AdaptiveMaxPool3DBackward0); with return_indices, (output, indices)."""
    out, indices = _adaptive_max(3, input, output_size)
    return (out, indices) if return_indices else out


def adaptive_avg_pool1d(input, output_size):
    """The means of output_size windows spread evenly over L of (N, C, L) or (C, L) input
    (AdaptiveAvgPool2DBackward0 between unsqueeze and squeeze; a mean for size 1)."""
    _tensor("adaptive_avg_pool1d", input)
    _check_pool1d_dims("adaptive_avg_pool1d", input)
    size = _pool1d_arg("adaptive_avg_pool1d", "output_size", output_size)
    return _adaptive(2, input.unsqueeze(-2), [1] + size).squeeze(-2)


def adaptive_avg_pool2d(input, output_size):
    """The means of an output_size grid of windows spread evenly over (H, W) of
    (N, C, H, W) or (C, H, W) input (AdaptiveAvgPool2DBackward0; MeanBackward1 for (1, 1));
    None in output_size keeps that size."""
    return _adaptive(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """The means of an output_size grid of windows spread evenly over (D, H, W)
    (AdaptiveAvgPool3DBackward0; MeanBackward1 for (1, 1, 1))."""
    return _adaptive(3, input, output_size)


# ---- power-average pooling: torch's compositions of avg_pool / max_pool --------------------
def _lp_pool(avg, mx, window, input, norm_type, kernel_size, stride, ceil_mode):
    """(sum of x^p over each window)^(1/p): the average of x^p times the window's size, its
    sign kept and its magnitude through relu (torch's formula: PowBackward0 on top); p = +-inf
    is the max (min) of |x|."""
    if isinstance(norm_type, (int, float)):
        if norm_type == float("inf"):
            return mx(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        if norm_type == -float("inf"):
            return -mx(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if stride is not None:
        out = avg(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        out = avg(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    return (out.sign() * out.abs().relu()).mul(window).pow(1.0 / norm_type)


def _window(kernel_size, k):
    """The number of elements in a k-d window (torch's _pair / _triple of kernel_size)."""
    sizes = ntuple(kernel_size, k)
    if k == 2:
        kw, kh = sizes     # (torch unpacks them: Python's ValueError for another count)
        return kw * kh
    kd, kw, kh = sizes
    return kd * kw * kh


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The norm_type-norm of each window along L (sum of x^p)^(1/p)."""
    return _lp_pool(avg_pool1d, max_pool1d, kernel_size, input, norm_type, kernel_size, stride,
                    ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The norm_type-norm of each kH x kW window."""
    return _lp_pool(avg_pool2d, max_pool2d, _window(kernel_size, 2), input, norm_type,
                    kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The norm_type-norm of each kD x kH x kW window."""
    return _lp_pool(avg_pool3d, max_pool3d, _window(kernel_size, 3), input, norm_type,
                    kernel_size, stride, ceil_mode)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool1d's (output, indices), whatever return_indices says (torch's)."""
    return adaptive_max_pool1d(input, output_size, return_indices=True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool2d's (output, indices), whatever return_indices says (torch's)."""
    return adaptive_max_pool2d(input, output_size, return_indices=True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool3d's (output, indices), whatever return_indices says (torch's)."""
    return adaptive_max_pool3d(input, output_size, return_indices=True)
