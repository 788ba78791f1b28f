"""nn.functional.fractional_max_pool2d / 3d (Graham's fractional max pooling) with torch's
signatures, checks and messages: each (n, c) plane's windows start at pseudo-random
positions drawn from `_random_samples` (torch.rand(N, C, k) in the input's dtype when not
given, from the same generator draws as torch's), and each output is the maximum of its
window.  Recorded as one decomposition row (`FractionalMaxPool2DBackward0` /
`FractionalMaxPool3DBackward0`): one gather of the element torch's kernel picks, found with
numpy (nn/_decomps_pool.py), with a replay guard while tracing."""
from .. import random as R
from ..creation import tensor as _tensor_of
from ..tensor import Tensor
from ..tracing import _tracing
from . import _decomps_pool as P
from ._conv import _record, _sizes, _tensor
from ._tuples import ntuple

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices"]

# per spatial dim, in torch's order of its checks (2-d: H, W; 3-d: T, W, H) and the sample
# index torch's kernel reads for it (2-d: W, H = 0, 1; 3-d: T, H, W = 0, 1, 2)
_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}
_CHECK_ORDER = {2: (0, 1), 3: (0, 2, 1)}
_SAMPLE_OF = {2: (1, 0), 3: (0, 1, 2)}


def _fractional(k, input, kernel_size, output_size, output_ratio, _random_samples):
    fn = f"fractional_max_pool{k}d"
    _tensor(fn, input)
    if output_size is None and output_ratio is None:
        raise ValueError(f"{fn} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if k == 2 and len(output_ratio) > 2:   # (torch's len() of a number raises TypeError)
            raise ValueError("fractional_max_pool2d requires output_ratio to either be a "
                             "single Int or tuple of Ints.")
        ratio = ntuple(output_ratio, k)
        output_size = [int(input.size(i - k) * ratio[i]) for i in range(k)]
    if _random_samples is None:
        n_batch = 1 if input.dim() == k + 1 else input.size(0)
        _random_samples = R.rand(n_batch, input.size(-k - 1), k, dtype=input.dtype)
    tuple_words = "tuple of Ints" if k == 2 else "tuple of three Ints"
    pool = list(kernel_size) if isinstance(kernel_size, (tuple, list)) else [kernel_size] * k
    out = list(output_size) if isinstance(output_size, (tuple, list)) else [output_size] * k
    if len(pool) != k:
        raise RuntimeError(f"{fn}: kernel_size must either be a single Int or {tuple_words}")
    if len(out) != k:
        raise RuntimeError(f"{fn}: output_size must either be a single Int or {tuple_words}")
    where = fn + ("()" if k == 2 else "_out()")
    if input.dim() not in (k + 1, k + 2):
        raise RuntimeError(f"{where}: Expected {k + 1}D or {k + 2}D tensor, but got: "
                           f"{_sizes(input)}")
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(f"{where}: Expected input to have non-zero size for non-batch "
                               f"dimensions, but got{_sizes(input)} with dimension {i} being "
                               f"empty.")
    sizes = input.shape[-k:]
    for d in _CHECK_ORDER[k]:
        # (torch's 3-d check is strict, its 2-d one not)
        fits = out[d] + pool[d] - 1 < sizes[d] if k == 3 else out[d] + pool[d] - 1 <= sizes[d]
        if not fits:
            raise RuntimeError(f"{where}: pool {_NAMES[k][d]} {pool[d]} too large relative to "
                               f"input {_NAMES[k][d]} {sizes[d]}")
    if any(v < 0 for v in out):
        shape = list(input.shape[:input.dim() - k]) + out
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(out)}: "
                           f"{shape}")
    if any(v <= 0 for v in pool):
        raise NotImplementedError(f"tapegrad: {fn} with an empty window (kernel_size "
                                  f"{tuple(pool)}) is not implemented")
    samples = _random_samples
    if not isinstance(samples, Tensor) or samples.dim() != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got "
                           f"{samples.dim() if isinstance(samples, Tensor) else 0}")
    batch = input.shape[0] if input.dim() == k + 2 else 1
    channels = input.shape[-k - 1]
    if samples.shape[0] < batch:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != channels:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != k:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {k}; got "
                           f"{samples.shape[2]}.")
    if samples.dtype is not input.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"{fn}_out_frame" not implemented for '
                                  f"'{input.dtype.legacy}'")
    arr = input._array()
    arr4 = arr if input.dim() == k + 2 else arr[None]
    u = samples._array()[:batch]
    starts = [P.fractional_starts(u[:, :, _SAMPLE_OF[k][d]], sizes[d], pool[d], out[d],
                                  arr.dtype) for d in range(k)]
    pos, plane, idx, cand = P.fractional_positions(arr4, pool, out, starts)
    shape = tuple(input.shape[:input.dim() - k]) + tuple(out)
    guard = (cand, idx[..., None]) if _tracing(input) is not None else None
    values = _record(fn, P.fractional_max_pool, input, pos.reshape(shape), guard)
    return values, _tensor_of(plane.reshape(shape))


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """(output, indices) of 2-d fractional max pooling over (N, C, H, W) or (C, H, W)."""
    return _fractional(2, input, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """(output, indices) of 3-d fractional max pooling over (N, C, T, H, W) or (C, T, H, W)."""
    return _fractional(3, input, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """The maxima of pseudo-randomly placed kernel_size windows giving output_size (or
    output_ratio of the input size) (FractionalMaxPool2DBackward0); with return_indices,
    (output, indices)."""
    out = _fractional(2, input, kernel_size, output_size, output_ratio, _random_samples)
    return out if return_indices else out[0]


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """3-d fractional max pooling (FractionalMaxPool3DBackward0); with return_indices,
    (output, indices)."""
    out = _fractional(3, input, kernel_size, output_size, output_ratio, _random_samples)
    return out if return_indices else out[0]
