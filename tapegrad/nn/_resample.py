"""nn.functional's resampling: `interpolate` (modes nearest, nearest-exact, linear,
bilinear, bicubic, trilinear, area) and the deprecated `upsample`, `upsample_nearest`,
`upsample_bilinear`.

Each mode but area is a decomposition row shown as torch's node (`UpsampleNearest2DBackward0`,
`UpsampleBilinear2DBackward0`, ...; tapegrad/ops.py): per resized dim, last dim first, a
gather of the source positions torch's kernel reads (advanced indexing) times its weights,
summed in the kernel's order (`t0 * w0 + t1 * w1 (+ t2 * w2 + t3 * w3)`), so the gradient is
the gathers' scatter-add.  The positions and weights are torch's
(UpSampleKernel.cpp's `compute_indices_weights`, `area_pixel_compute_source_index`,
`guard_index_and_lambda`, the cubic convolution coefficients with A = -0.75), computed in
the input's dtype (torch's opmath: float32 for float32 input) with numpy scalars, including
its `floorf` of the source index.  With antialias (bilinear, bicubic, lanczos), per output
position the inputs under torch's (PIL's) filter, stretched by the scale when downsampling,
with the normalized weights of _compute_index_ranges_weights (UpsampleBilinear2DAaBackward0,
...).
Area mode is adaptive average pooling, as in torch.
uint8 input: nearest modes gather; bilinear and bicubic are torch's integer kernel (int16
weights at a precision, rounded and clamped per pass; no gradient), computed with numpy.
"""
import math
import warnings

import numpy as np

from .. import dtypes as D
from ..creation import tensor as _tensor_of
from ..decomps_math import _with_value
from ..exact import fma32, fma64, fma_float
from ..native_args import arg_error
from ..ndops import where
from ..tensor import _is_int_item, Tensor
from ..tracing import _tracing
from ._basic import _record, _tensor
from ._pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_MODES = ("nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
          "nearest-exact")
_AXES = {1: ("W",), 2: ("H", "W"), 3: ("D", "H", "W")}
_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5, "bicubic": 4}


# ---- torch's source positions and weights ----------------------------------------------------
def _scale(ft, n_in, n_out, align_corners, scale):
    """area_pixel_compute_scale in opmath `ft`."""
    if align_corners:
        return ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(n_in) / ft(n_out)


def _source(ft, scale, n_out, align_corners, cubic):
    """area_pixel_compute_source_index for every output position, in `ft`."""
    i = np.arange(n_out).astype(ft)
    if align_corners:
        return scale * i
    src = _fma(ft, scale, i + ft(0.5), ft(-0.5))
    return src if cubic else np.where(src < 0, ft(0), src).astype(ft)


def _fma(ft, a, b, c):
    """a * b + c rounded once in `ft` (GCC contracts torch's expressions into fmas)."""
    if ft is np.float32:
        return np.asarray(fma32(a, b, c), np.float32)
    return np.asarray(fma64(a, b, c), np.float64)


def _floorf(v):
    """C's floorf of a value of opmath type: the value rounded to float32, then floored."""
    return np.floor(np.asarray(v).astype(np.float32)).astype(np.int64)


def _nearest(ft, n_in, n_out, scale, exact, two_d):
    if two_d and not exact and n_out in (n_in, 2 * n_in):
        # NOTE: torch's 2-d nearest kernel (nearest_idx) copies at the same size and halves
        # at twice the size, whatever the scale factor says (the 1-d and 3-d forwards do not)
        return [(np.arange(n_out) // (n_out // n_in), None)]
    s = _scale(ft, n_in, n_out, False, scale)
    if exact:
        src = _source(ft, s, n_out, False, False)
        idx = _floorf(src.astype(np.float64) + 0.5)   # (real + 0.5: a double)
    else:
        idx = _floorf(s * np.arange(n_out).astype(ft))
    return [(np.minimum(idx, n_in - 1), None)]


def _guard(ft, src, n_in):
    """guard_index_and_lambda: (index, lambda) per output position."""
    idx = np.minimum(_floorf(src), n_in - 1)
    lam = np.minimum(np.maximum(src - idx.astype(ft), ft(0)), ft(1)).astype(ft)
    return idx, lam


def _linear(ft, n_in, n_out, align_corners, scale):
    if n_in == n_out:   # torch's copy: weights 1 and 0 at the same position (a nan or inf
        i = np.arange(n_in)   # there still makes the 0 term nan, as in torch)
        return [(i, np.ones(n_in, ft)), (i, np.zeros(n_in, ft))]
    s = _scale(ft, n_in, n_out, align_corners, scale)
    idx0, lam1 = _guard(ft, _source(ft, s, n_out, align_corners, False), n_in)
    idx1 = idx0 + (idx0 < n_in - 1)
    lam0 = (ft(1) - lam1).astype(ft)
    return [(idx0, lam0), (idx1, lam1)]


def _cubic(ft, n_in, n_out, align_corners, scale):
    s = _scale(ft, n_in, n_out, align_corners, scale)
    idx, t = _guard(ft, _source(ft, s, n_out, align_corners, True), n_in)
    a = ft(-0.75)

    def mul(u, v):
        return np.asarray(u * v, ft)

    def conv1(x):   # ((A + 2) * x - (A + 3)) * x * x + 1: GCC fuses the first product
        return mul(mul(_fma(ft, a + ft(2), x, -(a + ft(3))), x), x) + ft(1)

    def conv2(x):   # ((A * x - 5 * A) * x + 8 * A) * x - 4 * A: the first two fused
        return mul(_fma(ft, _fma(ft, a, x, -(ft(5) * a)), x, ft(8) * a), x) - ft(4) * a
    x2 = (ft(1) - t).astype(ft)
    coeffs = (conv2(t + ft(1)), conv1(t), conv1(x2), conv2(x2 + ft(1)))
    return [(np.clip(idx + j - 1, 0, n_in - 1), np.asarray(c, ft))
            for j, c in enumerate(coeffs)]


def _sinc(ft, x):
    with np.errstate(invalid="ignore", divide="ignore"):
        px = (x * ft(np.pi)).astype(ft)
        return np.where(x == 0, ft(1), (np.sin(px) / px).astype(ft)).astype(ft)


def _aa_filter(ft, x, kind):
    """torch's antialiasing filters in `ft`: the triangle (linear), cubic convolution with
    A = -0.5, or Lanczos-3, sinc(x) sinc(x / 3) (PIL's); x already in `ft`."""
    x = np.abs(x)
    if kind == "linear":
        return np.where(x < 1, (1.0 - x.astype(np.float64)).astype(ft), ft(0)).astype(ft)
    if kind == "lanczos":
        third = (x.astype(np.float64) / 3.0).astype(ft)
        return np.where(x < 3, (_sinc(ft, x) * _sinc(ft, third)).astype(ft), ft(0)).astype(ft)
    a = ft(-0.5)    # (here GCC fuses every step of cubic_convolution1/2)
    conv1 = _fma(ft, (_fma(ft, a + ft(2), x, -(a + ft(3))) * x).astype(ft), x, ft(1))
    conv2 = _fma(ft, _fma(ft, _fma(ft, a, x, -(ft(5) * a)), x, ft(8) * a), x, -(ft(4) * a))
    return np.where(x < 1, conv1, np.where(x < 2, conv2, ft(0))).astype(ft)


def _antialiased(ft, n_in, n_out, align_corners, scale, kind):
    """torch's _compute_index_ranges_weights with antialias (PIL's bounds): per output
    position the inputs xmin .. xmin + xsize - 1 under the filter stretched by the scale when
    downsampling, normalized to sum 1, in `ft` (its C expressions' double temporaries as
    float64); as max_interp_size terms (index, weight, used), the unused ones weight 0 at
    xmin."""
    s = ft(_scale(ft, n_in, n_out, align_corners, scale))
    k = {"linear": 2, "cubic": 4, "lanczos": 6}[kind]
    support = ft(k * 0.5 * float(s)) if s >= 1.0 else ft(k * 0.5)
    size = int(math.ceil(support)) * 2 + 1
    invscale = ft(1.0 / float(s)) if s >= 1.0 else ft(1)
    center = (float(s) * (np.arange(n_out) + 0.5)).astype(ft)
    xmin = np.maximum((center - support).astype(np.float64) + 0.5, 0).astype(np.int64)
    xsize = np.minimum(((center + support).astype(np.float64) + 0.5).astype(np.int64), n_in)
    xsize = np.clip(xsize - xmin, 0, size)
    j = np.arange(size)[:, None]
    pos = ((j + xmin).astype(ft) - center).astype(np.float64) + 0.5
    w = _aa_filter(ft, (pos * float(invscale)).astype(ft), kind)
    w = np.where(j < xsize, w, ft(0)).astype(ft)
    total = np.zeros(n_out, ft)
    for row in w:               # (total_w += w, in order)
        total = (total + row).astype(ft)
    w = np.where(total != 0, w / np.where(total != 0, total, ft(1)), w).astype(ft)
    idx = np.where(j < xsize, np.minimum(j + xmin, n_in - 1), xmin)
    return [(idx[i], w[i], j[i] < xsize) for i in range(size)]


# ---- the body ---------------------------------------------------------------------------------
# NOTE: torch's kernel sums a position's terms as GCC compiled it: p = t1 * w1, then
# p = fma(t0, w0, p), p = fma(t2, w2, p), ... (its `t0 * w0 + t1 * w1 + ...` contracted).
# In float32 each fma is the exact float64 sum of the float64 product and p, rounded to
# float32 (the same value but for a double rounding on a float32 tie, which is rare); float64
# input sums without fusing (at most an ulp from torch's).
def _fused(t, w, acc):
    """fma(t, w, acc) in float32 (t, acc float32; w the float32 weights as float64); in
    float64 t * w + acc."""
    if acc.dtype is D.float32:
        return (t.double() * w + acc.double()).float()
    return t * w + acc


def resample(T, x, plan):
    """For each (key, terms) of `plan`: x gathered at each term's key (indexing one resized
    dim, or two for torch's small bilinear kernel), times its weights (None: weight 1),
    summed as torch's kernel sums them (terms: (key, weight, weight as fused operand, the
    positions that use the term or None: all)).  An empty plan (antialiasing to the same
    size) is a copy, as torch's new tensor."""
    if not plan:
        return x.clone()
    y = x
    for terms in plan:
        if len(terms) == 1:
            key, w, _, _ = terms[0]
            y = y[key] if w is None else y[key] * w
            continue
        acc = _terms_sum(y, terms)
        if any(t[3] is not None for t in terms) and _tracing(y) is None and \
                not np.isfinite(y._array()).all():
            acc = _with_value(acc, _terms_sum(y.detach(), terms, True)._array())
        y = acc
    return y


# NOTE: antialiasing's unused terms (weight 0 at xmin) are 0 * x[xmin]: nan where x[xmin]
# is not finite, where torch's forward skips them (it sums a position's xsize terms).  Its
# backward does not (the zero weights times a nan gradient reach x[xmin] as here), so the
# gradient stays the full sum's, the value (where x is not finite) the used terms' alone.
# (Along a dim of unchanged size torch's forward reads nothing, its backward the filter's
# window, weight 1 at the position and 0 beside it, so a nan gradient reaches the neighbours
# there; here it does not: a step of that window, for its gradient alone, was measured at
# 1.7x the time of such a call with grad.)
def _terms_sum(y, terms, used_only=False):
    """The sum of y's terms in torch's kernel order (the second first, then fmas);
    `used_only`: each position's used terms alone (-0.0, the sum's identity, for none)."""
    key, w, _, used = terms[1]
    acc = y[key] * w
    if used_only and used is not None:
        acc = where(used, acc, -0.0)
    for j in [0] + list(range(2, len(terms))):
        key, _, wf, used = terms[j]
        term = _fused(y[key], wf, acc)
        acc = where(used, term, acc) if used_only and used is not None else term
    return acc


def _weights(x, w, shape):
    """(the weights in x's dtype, the operand _fused multiplies by)."""
    w = np.asarray(w).astype(x.dtype.np).reshape(shape)
    wt = _tensor_of(w)
    return wt, (_tensor_of(w.astype(np.float64)) if x.dtype is D.float32 else wt)


def _plan(x, sizes, mode, align_corners, scales, antialias=False):
    k = len(sizes)
    ft = np.float64 if x.dtype is D.float64 else np.float32
    per_dim = []
    for j in reversed(range(k)):
        d = x.dim() - k + j
        n_in, n_out = x.shape[d], sizes[j]
        s = None if scales is None else scales[j]
        if antialias:
            if n_in == n_out:   # (torch's separable kernel skips a dim of unchanged size)
                continue
            terms = _antialiased(ft, n_in, n_out, align_corners, s,
                                 {"bicubic": "cubic", "lanczos": "lanczos"}.get(mode, "linear"))
            # NOTE: torch sums t0 * w0 + t1 * w1 + ... in order; resample starts with its
            # second term, so the first two are swapped.  An unused term is 0 * x[xmin]
            # (nan where x[xmin] is not finite, where torch skips it)
            terms[0], terms[1] = terms[1], terms[0]
        elif mode in ("nearest", "nearest-exact"):
            terms = _nearest(ft, n_in, n_out, s, mode == "nearest-exact", k == 2)
        elif mode == "bicubic":
            terms = _cubic(ft, n_in, n_out, align_corners, s)
        else:
            terms = _linear(ft, n_in, n_out, align_corners, s)
        per_dim.append((d, n_in, n_out, terms))
    if mode == "bilinear" and sizes[0] + sizes[1] <= 128 and not antialias:
        return _small_bilinear(x, per_dim)
    plan = []
    for d, n_in, n_out, terms in per_dim:
        wshape = (n_out,) + (1,) * (x.dim() - 1 - d)
        step = []
        for i, w, *used in terms:
            key = (slice(None),) * d + (_tensor_of(i.astype(np.int64)),)
            if w is None:
                step.append((key, None, None, None))
            else:
                step.append((key,) + _weights(x, w, wshape) + (
                    _tensor_of(used[0].reshape(wshape)) if used and not used[0].all()
                    else None,))
        plan.append(step)
    return plan


def _small_bilinear(x, per_dim):
    """torch's bilinear kernel for out_h + out_w <= 128: one step of four terms
    x[h_a, w_b] * (lambda_h_a * lambda_w_b) in the order 00, 01, 10, 11."""
    (_, n_w, o_w, tw), (_, n_h, o_h, th) = per_dim
    ft = np.float64 if x.dtype is D.float64 else np.float32
    step = []
    for ih, lh in th:
        for iw, lw in tw:
            key = (slice(None), slice(None)) if x.dim() == 4 else (slice(None),)
            key = key + (_tensor_of(ih.astype(np.int64)[:, None]),
                         _tensor_of(iw.astype(np.int64)[None, :]))
            w = (np.asarray(lh, ft)[:, None] * np.asarray(lw, ft)[None, :]).astype(ft)
            step.append((key,) + _weights(x, w, (o_h, o_w)) + (None,))
    return [step]


def _upsample(name, x, sizes, mode, align_corners, scales, antialias=False):
    if any(s.__class__ is not int for s in sizes):   # (a size interpolate did not read)
        native = "_" + name if name.endswith("_aa") or "exact" in name else name
        args = (x, sizes) + ((align_corners,) if align_corners is not None else ()) + (None,)
        raise arg_error(native, False, args) or TypeError(
            f"{native}(): argument 'output_size' must be tuple of ints")
    k = len(sizes)
    ins = tuple(x.shape[2:])
    if any(s <= 0 for s in ins) or any(s <= 0 for s in sizes):
        axes = _AXES[k]
        raise RuntimeError(
            "Input and output sizes should be greater than 0, but got input ("
            + ", ".join(f"{a}: {s}" for a, s in zip(axes, ins))
            + (") and output (" if k == 1 else ") output (")   # (UpSample.h's words)
            + ", ".join(f"{a}: {s}" for a, s in zip(axes, sizes)) + ")")
    if not x.dtype.is_floating_point and not (mode.startswith("nearest")
                                              and x.dtype is D.uint8):
        if x.dtype is D.uint8 and antialias:
            raise NotImplementedError("tapegrad: interpolate(antialias=True) of uint8 input is "
                                      "not implemented (torch's int16 weights); use a float "
                                      "input")
        if x.dtype is D.uint8 and mode in ("bilinear", "bicubic"):
            return _uint8_resample(x, sizes, mode == "bicubic", align_corners, scales)
        if k == 2 and mode in ("nearest", "nearest-exact", "bilinear"):
            kernel = ("upsample_nearest2d" if mode != "bilinear" else name) + "_channels_last"
        else:
            kernel = "compute_indices_weights_" + {"bicubic": "cubic", "nearest-exact":
                                                   "nearest"}.get(mode, mode if mode ==
                                                                  "nearest" else "linear")
        raise NotImplementedError(f'"{kernel}" not implemented for \'{x.dtype.legacy}\'')
    return _record(name, resample, x, _plan(x, sizes, mode, align_corners, scales, antialias))


# ---- uint8 bilinear / bicubic: torch's int16 weights ------------------------------------------
def _filter(x, cubic):
    """torch's non-antialiased filters: the triangle, or cubic convolution with A = -0.75."""
    x = abs(x)
    if not cubic:
        return 1.0 - x if x < 1.0 else 0.0
    a = -0.75
    if x < 1.0:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2.0:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return 0.0


def _int16_weights(n_in, n_out, align_corners, scale, cubic):
    """torch's _compute_index_ranges_int16_weights (antialias=False): per output position
    the filter's weights in float64 (positions outside the input folded onto the border),
    scaled by 2**precision and rounded; as an (n_out, n_in) integer matrix and precision."""
    s = float(_scale(np.float64, n_in, n_out, align_corners, scale))
    k = 4 if cubic else 2
    support = k // 2
    rows, wt_max = [], 0.0
    for i in range(n_out):
        if align_corners:
            real = s * i
        else:
            real = fma_float(s, i + 0.5, -0.5)
            if not cubic and real < 0:
                real = 0.0
        idx = min(int(math.floor(np.float32(real))), n_in - 1)
        lam = min(max(real - idx, 0.0), 1.0)
        lo = idx - support + 1
        start = max(lo, 0)
        size = min(max(min(idx + support + 1, n_in) - start, 0), k)
        wt, wi = [0.0] * k, 0
        for j in range(k):
            w = _filter(float(j + 1 - support) - lam, cubic)
            if lo + j <= 0:
                wi = 0
            elif lo + j >= n_in - 1:
                wi = size - 1
            wt[wi] += w
            wt_max = max(wt_max, wt[wi])
            wi += 1
        rows.append((start, size, wt))
    prec = 0
    for prec in range(22):
        if int(0.5 + wt_max * (1 << (prec + 1))) >= (1 << 15):
            break
    m = np.zeros((n_out, n_in), np.int64)
    for o, (start, size, wt) in enumerate(rows):
        for j in range(size):
            v = wt[j] * (1 << prec)
            m[o, start + j] += int(0.5 + v) if v >= 0 else int(-0.5 + v)
    return m, prec


def _uint8_resample(x, sizes, cubic, align_corners, scales):
    """torch's uint8 bilinear / bicubic: the width, then the height, each an integer sum of
    int16 weights rounded at their precision and clamped to [0, 255] (no gradient)."""
    y = x._array()
    for j in (1, 0):
        d = 2 + j
        n_in, n_out = y.shape[d], sizes[j]
        if n_in == n_out:
            continue
        m, prec = _int16_weights(n_in, n_out, align_corners,
                                 None if scales is None else scales[j], cubic)
        z = np.moveaxis(y.astype(np.int64), d, -1) @ m.T
        z = np.clip((z + (1 << (prec - 1))) >> prec, 0, 255).astype(np.uint8)
        y = np.moveaxis(z, -1, d)
    return _tensor_of(np.ascontiguousarray(y))


# ---- the front ends ---------------------------------------------------------------------------
def _is_integer(v):
    if isinstance(v, Tensor):
        return not v.dtype.is_floating_point
    return isinstance(v, (int, np.integer))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Down/up-samples input (N, C, *spatial) to `size` or by `scale_factor` with torch's
    positions and weights per mode (nearest, nearest-exact, linear, bilinear, bicubic,
    trilinear: UpsampleNearest2DBackward0, ...; area: adaptive average pooling)."""
    _tensor("interpolate", input)
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        scale_factors = None
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {list(input.shape[2:])} and output "
                    f"size of {size}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                    "format and output size in (o1, o2, ...,oK) format.")
            if not all(_is_integer(v) for v in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                    f"Tuple[int, int, int], but got size with types "
                    f"{[type(v) for v in size]}")
            output_size = [int(v) for v in size]
        else:
            # (torch passes [size] * dim on to its kernel's parser, which refuses a float, a
            # bool or a float tensor)
            output_size = [int(size) if _is_int_item(size, True) else size] * dim
    elif scale_factor is not None:
        output_size = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {list(input.shape[2:])} and "
                    f"scale_factor of shape {scale_factor}. Please provide input tensor in "
                    "(N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                    "format.")
            scale_factors = [float(v) for v in scale_factor]
        else:
            scale_factors = [float(scale_factor)] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        output_size = [math.floor(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if dim in (1, 2, 3) and mode in ("nearest", "nearest-exact"):
        sizes = output_size if output_size is not None else [
            math.floor(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
        name = ("upsample_nearest" if mode == "nearest" else "upsample_nearest_exact")
        return _upsample(f"{name}{dim}d", input, sizes, mode, None, scale_factors)
    if dim in (1, 2, 3) and mode == "area":
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[dim - 1]
        return pool(input, output_size)
    if mode in _LINEAR and input.dim() == _LINEAR[mode]:
        sizes = output_size if output_size is not None else [
            math.floor(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
        name = {"linear": "upsample_linear1d", "bilinear": "upsample_bilinear2d",
                "trilinear": "upsample_trilinear3d", "bicubic": "upsample_bicubic2d"}[mode]
        return _upsample(name + "_aa" * bool(antialias), input, sizes, mode,
                         bool(align_corners), scale_factors, bool(antialias))
    if input.dim() == 4 and mode == "lanczos":
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
        sizes = output_size if output_size is not None else [
            math.floor(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
        return _upsample("upsample_lanczos2d_aa", input, sizes, mode, False, scale_factors,
                         True)
    want = {"linear": 3, "bilinear": 4, "trilinear": 5}
    if mode in want and input.dim() in (3, 4, 5):
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs "
                                  f"{want[mode]}D input")
    raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                              f"{input.dim()}D) for the modes: {_MODES} (got {mode})")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated: interpolate(input, size, scale_factor, mode, align_corners)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='nearest')."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
