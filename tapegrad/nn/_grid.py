"""nn.functional's spatial transformer pieces: `affine_grid` and `grid_sample`.

Both are decomposition rows shown as torch's nodes (`AffineGridGeneratorBackward0`,
`GridSampler2DBackward0`, `GridSampler3DBackward0`; tapegrad/ops.py), so forward, the
gradients with respect to the input, the grid and theta, create_graph and replay are those of
the primitives.

`affine_grid` is torch's affine_grid_generator: a constant base grid (x, y[, z], 1) of
`linspace(-1, 1)` values (times (n - 1), divided by n, without align_corners) times theta's
transpose: one batched matmul, or, where torch's bmm sums a small product in its own loop,
that loop's sum term by term (bit for bit as torch in both dtypes).

`grid_sample` is, per corner (bilinear), tap (bicubic) or point (nearest), one gather of the
input at the positions torch's kernel reads, times weights that are tensor ops of the grid,
summed in the kernel's order.  The source coordinates are computed from the grid as torch's
CPU kernels compute them: 2-d, GridSamplerKernel.cpp's vectorized `ComputeLocation`
(unnormalize `(g + 1) * s (- 0.5)`, fused as GCC fused it; border: clip, a nan to 0;
reflection: the double flips of |c - low|); 3-d, GridSampler.cpp's scalar kernel
(`((g + 1) * size - 1) / 2`, std::min/max clips a nan to size - 1, fmod reflection; weights
the distances to the far corners, corners outside the input skipped).  The clips are
`where`s, so the grid's gradient is 0 at and beyond a border as torch's, the reflection's
sign is the primitives'; nearest mode's grid gradient is zeros, as torch's.  The positions
(floor or round of the coordinates, read with numpy) are constants of the tape; while
tracing, a value guard checks them at replay (`BranchChanged` when one moved).  A corner
outside the input reads a zero appended after the input's elements, as torch's masked gather
reads 0 (so a nan weight still gives nan there in 2-d, as torch).  float32 results are
torch's bit for bit (fmas emulated exactly in float64) but for bicubic (its coefficients'
fmas are not all reproduced: within an ulp); float64 2-d ones likewise (the unnormalizing
fma's value computed exactly, so that floor() picks torch's corners at integer positions).
"""
import warnings

import numpy as np

from .. import dtypes as D
from ..creation import _linspace, tensor as _tensor_of
from ..exact import fma64
from ..ndops import _binary, where
from ..ops import OPS
from ..structops import _gather
from ..tensor import Tensor
from ..tracing import _bake, _tracing
from ..views import cat
from ._basic import _record

_DEPENDS_ON = OPS["depends_on"].code

__all__ = ["affine_grid", "grid_sample"]

_DEFAULT = ("Default grid_sample and affine_grid behavior has changed to align_corners=False "
            "since 1.3.0. Please specify align_corners=True if the old behavior is desired. "
            "See the documentation of grid_sample for details.")


def _sizes(t):
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


# ---- affine_grid ------------------------------------------------------------------------------
def _linspace_from_neg_one(ft, n, align_corners):
    """torch's linspace_from_neg_one: linspace(-1, 1, n), times (n - 1) then divided by n
    without align_corners (each rounded in the dtype); [0] for n <= 1."""
    if n <= 1:
        return np.zeros(1, ft)
    r = _linspace(-1, 1, n, ft)
    if not align_corners:
        r = ((r * ft(n - 1)).astype(ft) / ft(n)).astype(ft)
    return r


def _base_grid(ft, spatial, align_corners):
    """torch's make_base_grid_4D / 5D as (D*)H*W rows of (x, y[, z], 1)."""
    axes = [_linspace_from_neg_one(ft, n, align_corners) for n in spatial]   # (D,) H, W
    k = len(spatial)
    base = np.empty(tuple(spatial) + (k + 1,), ft)
    for j in range(k):   # component j reads spatial dim k - 1 - j (x: W, y: H, z: D)
        d = k - 1 - j
        shape = [1] * k
        shape[d] = spatial[d]
        base[..., j] = axes[d].reshape(shape)   # (a size-1 dim: its one value, 0)
    base[..., k] = 1
    return base.reshape(-1, k + 1)


def affine_generator(T, theta, base, out_shape):
    """base (N, L, k + 1) @ theta^T (N, k + 1, k), viewed as the grid (N, *spatial, k).
    torch's bmm sums a small product (k + 1) * L * k < 400 in its own loop, term by term
    without fusing; a larger one is BLAS's (the matmul entry's)."""
    n, rows, m = base.shape
    if m * rows * (m - 1) >= 400:
        return base.matmul(theta.transpose(1, 2)).view(out_shape)
    acc = None
    for j in range(m):
        term = base[:, :, j:j + 1] * theta[:, :, j].unsqueeze(1)
        acc = term if acc is None else acc + term
    return acc.view(out_shape)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid (N, H, W, 2) or (N, D, H, W, 3) of the affine maps theta (N, 2, 3)
    or (N, 3, 4) over an output of `size` (N, C, H, W) or (N, C, D, H, W), in [-1, 1]
    coordinates (AffineGridGeneratorBackward0)."""
    if align_corners is None:
        warnings.warn(_DEFAULT, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {theta.shape}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {theta.shape}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    for i, v in enumerate(size):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"affine_grid_generator(): argument 'size' failed to unpack the "
                            f"object at pos {i + 1} with error \"type must be tuple of ints,but "
                            f"got {type(v).__name__}\"")
    size = [int(v) for v in size]
    spatial = size[2:]
    k = len(spatial)
    n = size[0]
    if theta.shape[0] != n:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{n}, {k + 1}] but got: [{theta.shape[0]}, {k + 1}].")
    if theta.dtype not in (D.float32, D.float64):
        raise NotImplementedError(f"tapegrad: affine_grid of a {theta.dtype} theta")
    base = _base_grid(np.dtype(theta.dtype.np).type, spatial, bool(align_corners))
    base = _tensor_of(np.ascontiguousarray(np.broadcast_to(base, (n,) + base.shape)))
    return _record("affine_grid_generator", affine_generator, theta, base,
                   tuple([n] + spatial + [k]))


# ---- grid_sample: torch's source coordinates (tensor ops) -------------------------------------
def _fma(a, b, c):
    """a * b + c rounded once (GCC fuses torch's kernel expressions, in both dtypes): float32
    exactly in float64, then rounded; float64 a * b + c moved to the fused value by a
    constant.  b: a tensor or a number."""
    if a.dtype is D.float32:
        return (a.double() * (b.double() if isinstance(b, Tensor) else float(b))
                + float(c)).float()
    r = a * b + c
    if _tracing(r) is None:
        # NOTE: the fused value's gradient is a * b + c's (the correction, last-bit, is a
        # constant).  It decides floor() at integer positions (an identity affine grid),
        # so the corners, the value and the grid's gradient, as torch's.  A replay
        # re-evaluates r unfused (within an ulp; its positions are guarded)
        fused = fma64(a._array(), b._array() if isinstance(b, Tensor) else b, c)
        with np.errstate(invalid="ignore"):
            delta = fused - r._array()
        delta[~np.isfinite(delta)] = 0.0    # (an inf or nan position: r's own)
        if delta.any():
            r = r + _tensor_of(delta)
    return r


def _clip(c, size):
    """clip_coordinates: [0, size - 1], a nan to 0; gradient 1 strictly inside only."""
    hi = float(size - 1)
    return where(c > 0.0, where(c < hi, c, hi), 0.0)


def _zero(c):
    """0 with a zero gradient (torch's empty reflection span)."""
    return where(_tensor_of(np.zeros((1,) * c.dim(), bool)), c, 0.0)


def _reflect(c, size, align_corners):
    """reflect_coordinates: |c - low| folded into [0, span] by its double flips (trunc),
    then the one more flip; gradient the sign (+1 at 0, -1 where c < low xor flipped)."""
    if align_corners:
        if size <= 1:
            return _zero(c)
        twice, a = float(size - 1) * 2, c
    else:   # (about low = -0.5)
        twice, a = float(size) * 2, c + 0.5
    a = where(a < 0.0, -a, a)
    extra = a - (a / twice).trunc() * twice
    other = twice - extra
    r = where(extra > other, other, extra)
    return r if align_corners else r - 0.5


def _unnormalize(g, size, align_corners):
    if align_corners:
        return (g + 1.0) * (float(size - 1) / 2)
    return _fma(g + 1.0, float(size) / 2, -0.5)


def _source_2d(g, size, padding, align_corners, bicubic):
    c = _unnormalize(g, size, align_corners)
    if bicubic:
        return c
    if padding == "reflection":
        c = _reflect(c, size, align_corners)
    if padding != "zeros":
        c = _clip(c, size)
    return c


def _clip_3d(c, size):
    """GridSampler.h's clip_coordinates, min(size - 1, max(c, 0)): a nan to size - 1 (C++'s
    std::min/max); gradient 1 strictly inside only (clip_coordinates_set_grad)."""
    hi = float(size - 1)
    return where(c > 0.0, where(c < hi, c, hi), where(c != c, hi, 0.0))


def _reflect_3d(c, size, align_corners):
    """GridSampler.h's reflect_coordinates: |c - min| = in, fmod(in, span) = extra, and
    span - extra where floor(in / span) is odd, plus min."""
    if align_corners:
        if size <= 1:
            return _zero(c)
        span, a = float(size - 1), c
    else:   # (about min = -0.5)
        span, a = float(size), c + 0.5
    a = where(a < 0.0, -a, a)
    extra = a.fmod(span)
    flips = (a / span).floor()
    odd = flips.fmod(2.0) == 1.0
    r = where(odd, span - extra, extra)
    return r if align_corners else r - 0.5


def _source_3d(g, size, padding, align_corners):
    """GridSampler.h's grid_sampler_compute_source_index (the scalar 3-d kernel's)."""
    if align_corners:
        c = (g + 1.0) * 0.5 * float(size - 1)
    else:
        c = ((g + 1.0) * float(size) - 1.0) * 0.5
    if padding == "reflection":
        c = _reflect_3d(c, size, align_corners)
    if padding != "zeros":
        c = _clip_3d(c, size)
    return c


def _np_coordinates(c, size, padding, align_corners, ft):
    """compute_coordinates on the float tap positions of bicubic (numpy, no gradient)."""
    with np.errstate(invalid="ignore"):
        return _np_coordinates_of(c, size, padding, align_corners, ft)


def _np_coordinates_of(c, size, padding, align_corners, ft):
    if padding == "reflection":
        if align_corners and size <= 1:
            return np.zeros_like(c)
        twice = ft(size - 1) * 2 if align_corners else ft(size) * 2
        low = ft(0) if align_corners else ft(-0.5)
        a = np.abs((c - low).astype(ft))
        extra = (a - (np.trunc(a / twice).astype(ft) * twice).astype(ft)).astype(ft)
        c = (np.minimum(extra, (twice - extra).astype(ft)) + low).astype(ft)
    if padding != "zeros":
        c = np.where(c > 0, np.where(c < size - 1, c, ft(size - 1)), ft(0)).astype(ft)
    return c


# ---- grid_sample: the body --------------------------------------------------------------------
def _flat_positions(idx, sizes, n_c):
    """Flat positions into the input (N, C, *sizes) followed by one zero element, laid out
    (C, N, *out): for each channel and batch element, the point's position when every index
    in `idx` (per spatial dim, float arrays (N, *out)) lies inside the input, else the
    zero's position."""
    plane = int(np.prod(sizes))
    n = idx[0].shape[0]
    inside = np.ones(idx[0].shape, bool)
    flat = np.zeros(idx[0].shape, np.int64)
    for v, s in zip(idx, sizes):
        inside &= (v > -1) & (v < s)
        flat = flat * s + np.where(inside, v, 0).astype(np.int64)
    flat = np.where(inside, flat, -1)
    base = (np.arange(n, dtype=np.int64) * n_c * plane).reshape((n,) + (1,) * (flat.ndim - 1))
    chans = (np.arange(n_c, dtype=np.int64) * plane).reshape((n_c,) + (1,) * flat.ndim)
    pos = (base + flat)[None] + chans
    return np.where(flat < 0, n * n_c * plane, pos)


def _sum_fused(terms, fused=True):
    """t0 * w0, then fma(t, w, acc) for each further term (GCC's contraction of torch's
    `t0 * w0 + t1 * w1 + ...` in its AVX2 kernels): exact products summed in float64 for
    float32.  `fused=False`: t * w + acc rounded twice (the scalar 3-d kernel, built without
    FMA)."""
    v, w = terms[0]
    acc = v * w
    for v, w in terms[1:]:
        if fused and acc.dtype is D.float32:
            acc = (v.double() * w.double() + acc.double()).float()
        else:
            acc = v * w + acc
    return acc


def _guard(*ts):
    for t in ts:
        _bake(t, "guard_value")   # (a traced grid: the replay checks the positions stay)


def _cubic(t):
    """torch's cubic convolution coefficients (A = -0.75) of the four taps at t in [0, 1),
    with the fmas its AVX2 kernel was compiled into (the near taps' first and last steps)."""
    a = -0.75

    def near(x):    # ((A + 2) * x - (A + 3)) * x * x + 1
        return _fma(_fma(x, a + 2, -(a + 3)) * x, x, 1.0)

    def far(x):     # ((A * x - 5 * A) * x + 8 * A) * x - 4 * A, not fused
        return ((x * a - 5 * a) * x + 8 * a) * x - 4 * a
    return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]


def _channels_second(y):
    """(C, N, *out) -> (N, C, *out), contiguous."""
    return y.transpose(0, 1).contiguous()


def grid_sampler(T, x, grid, mode, padding, align_corners):
    """grid_sample's body for a validated input (N, C, *sizes) and grid (N, *out, k).  The
    values are gathered laid out (C, N, *out), so that the weights (N, *out) broadcast over
    leading dims (the sweep's cheap broadcast), and transposed at the end."""
    k = x.dim() - 2
    c = x.shape[1]
    sizes = tuple(x.shape[2:])
    ft = np.dtype(x.dtype.np).type
    flat = cat([x.reshape(-1), _tensor_of(np.zeros(1, ft))])   # (the input read first)
    # (input dim j reads grid component k - 1 - j: x is W, y is H, z is D)
    comps = [grid.select(-1, k - 1 - j) for j in range(k)]

    def value(idx):
        pos = _flat_positions(idx, sizes, c)
        return _gather("index", flat, pos)

    if mode == "bicubic":
        src = [_source_2d(g, s, padding, align_corners, True) for g, s in zip(comps, sizes)]
        low = [v.floor() for v in src]
        _guard(*low)
        coef = [_cubic(v - f) for v, f in zip(src, low)]   # (y, x)
        fy, fx = (f._array() for f in low)
        rows = []
        for i in range(4):
            yy = _np_coordinates(fy + ft(i - 1), sizes[0], padding, align_corners, ft)
            terms = []
            for j in range(4):
                xx = _np_coordinates(fx + ft(j - 1), sizes[1], padding, align_corners, ft)
                terms.append((coef[1][j], value([yy, xx])))
            rows.append((coef[0][i], _sum_fused(terms, fused=False)))
        return _channels_second(_sum_fused(rows))
    if k == 2:
        src = [_source_2d(g, s, padding, align_corners, False) for g, s in zip(comps, sizes)]
    else:
        src = [_source_3d(g, s, padding, align_corners) for g, s in zip(comps, sizes)]
    if mode == "nearest":
        near = [v.round() for v in src]
        _guard(*near)
        out = value([v._array() for v in near])
        if grid.requires_grad:   # (torch's grid gradient: zeros)
            # NOTE: the values depend on the grid with a zero gradient (depends_on), so that
            # under create_graph the input's gradient differentiates to zeros in the grid, as
            # torch's grid_sampler_2d_backward, not to None
            out = _binary(_DEPENDS_ON, out, src[0])
        return _channels_second(out)
    low = [v.floor() for v in src]
    _guard(*low)
    lows = [f._array() for f in low]
    terms = []
    if k == 2:   # GridSamplerKernel.cpp: w = x - floor(x), e = 1 - w; nw = s * e, ...
        frac = [v - f for v, f in zip(src, low)]
        for corner in np.ndindex(2, 2):   # nw, ne, sw, se: (y, x) offsets 00, 01, 10, 11
            w = None
            for j, o in enumerate(corner):
                part = frac[j] if o else 1.0 - frac[j]
                w = part if w is None else w * part
            terms.append((value([f + o for f, o in zip(lows, corner)]), w))
        return _channels_second(_sum_fused(terms))
    # GridSampler.cpp: the distances to the opposite corner, x * y * z; a corner outside the
    # input is skipped (its weight 0 here, so a nan weight there adds nothing, as torch)
    for corner in np.ndindex(2, 2, 2):   # tnw, tne, tsw, tse, bnw, bne, bsw, bse
        w = None
        for j in reversed(range(k)):
            part = src[j] - low[j] if corner[j] else (low[j] + 1.0) - src[j]
            w = part if w is None else w * part
        idx = [f + o for f, o in zip(lows, corner)]
        inside = np.ones(idx[0].shape, bool)
        for v, s in zip(idx, sizes):
            inside &= (v > -1) & (v < s)
        if not inside.all():
            w = where(_tensor_of(inside), w, 0.0)
        terms.append((value(idx), w))
    return _channels_second(_sum_fused(terms, fused=False))


_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
_PADDINGS = {"zeros": 0, "border": 1, "reflection": 2}


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """input (N, C, H, W) sampled at grid (N, H_out, W_out, 2) (x, y in [-1, 1]): modes
    bilinear, nearest, bicubic; padding zeros, border, reflection (GridSampler2DBackward0)."""
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in _PADDINGS:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_DEFAULT, stacklevel=2)
        align_corners = False
    for pos, (name, v) in enumerate((("input", input), ("grid", grid)), 1):
        if not isinstance(v, Tensor):
            raise TypeError(f"grid_sampler(): argument '{name}' (position {pos}) must be "
                            f"Tensor, not {type(v).__name__}")
    if not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"grid_sampler(): argument 'align_corners' (position 5) must be bool, "
                        f"not {type(align_corners).__name__}")
    if input.dim() == 0 or grid.dim() == 0 or input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {_sizes(input)} and grid with sizes "
                           f"{_sizes(grid)}")
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.dim() - 2} in "
                           f"last dimension, but got grid with sizes {_sizes(grid)}")
    for i in range(2, input.dim()):
        if input.shape[i] <= 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {_sizes(input)} with dimension "
                               f"{i} being empty")
    k = 2 if input.dim() == 4 else 3
    if input.dim() != k + 2 or grid.dim() != k + 2:
        raise RuntimeError(f"grid_sampler(): expected {input.dim()}D input and grid with same "
                           f"number of dimensions, but got input with sizes {_sizes(input)} and "
                           f"grid with sizes {_sizes(grid)}")
    if k == 3 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if input.dtype is not grid.dtype:
        raise RuntimeError(f"expected scalar type {input.dtype.legacy.replace('Tensor', '')} "
                           f"but found {grid.dtype.legacy.replace('Tensor', '')}")
    if input.dtype not in (D.float32, D.float64):
        raise NotImplementedError(f'"grid_sampler_{k}d_cpu_kernel_impl" not implemented for '
                                  f"'{input.dtype.legacy.replace('Tensor', '')}'")
    return _record(f"grid_sampler_{k}d", grid_sampler, input, grid, mode, padding_mode,
                   bool(align_corners))
