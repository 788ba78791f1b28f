"""The bodies of nn.functional's pooling rows (tapegrad/ops.py, the block of engineer
"conv"), recorded by `decomps.record` as one group shown as torch's node
(`MaxPool2DWithIndicesBackward0`, `AvgPool2DBackward0`, ..., `MaxUnpool2DBackward0`).

Max pooling (plain and adaptive) is one gather of the element torch's kernel picks in each
window, found by the front end (`max_positions`, `adaptive_max_positions`: Numba loops,
nn/_pool_loops.py, for float32 and float64, numpy's argmax otherwise), with
a replay guard while tracing; average pooling sums a windows view (nn/_decomps_conv.py's
`windows`) and divides (`avg_pool_pass`: one entry of the avg_pool kind for a pooling
layer's case, with torch's sums); adaptive average pooling gathers uneven windows.

The bodies receive validated arguments (nn/_pooling.py checks them).
"""
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import decomps, dtypes as D, groups
from .._jit import kernel_module
from ..creation import tensor as _tensor_of, zeros
from ..fpstate import ERR_RESET, ERR_SET, QUIET
from ..kinds.pool import adaptive_windows, window_counts
from ..ndops import _BIN_FAST, _binary, _guard_extreme, where
from ..ops import OPS
from ..recording import _result, _tape_for, _tape_of
from ..structops import _gather
from ..tape import input_node, refuse_inference_save, STATE
from ..tensor import _new, Tensor
from ..views import cat, KIND_OPS
from ._decomps_conv import _pad, windows

_STRAIGHT_THROUGH = OPS["straight_through"].code


# NOTE: max pooling's gradient goes to the one element torch's kernel picks in each window
# (its loop `if (val > maxval || isnan(val))` over the window in row-major order, padding
# skipped): the first maximum on ties, the last nan of a window holding nans, the first
# element of a window of -inf.  The front end finds those positions (`max_positions`); the
# gather adds the gradients of overlapping windows that pick the same element.
def max_pool(T, x, pos, guard, empty=None):
    """The elements of x at flat positions pos (the windows' maxima).  While recording for
    replay, `guard` = (kernel, stride, padding, dilation, extra, kidx): a guard checks that
    each window's maximum is still where it was (else a replay raises BranchChanged).
    `empty`: None, or the windows with no input element (all padding, which dilation allows),
    whose maximum is torch's initial value, the lowest (no gradient)."""
    out = _gather("max_dim", x, pos)
    if empty is not None:
        low = -math.inf if x.dtype.is_floating_point else int(np.iinfo(x.dtype.np).min)
        out = where(_tensor_of(empty), low, out)
    if guard is not None:
        kernel, stride, padding, dilation, extra, kidx = guard
        x4 = x if x.dim() == len(kernel) + 2 else x.unsqueeze(0)
        xp = _pad(T, x4, [(p, p + e) for p, e in zip(padding, extra)], -math.inf)
        win = windows(xp, kernel, stride, dilation, kernel_last=True)
        flat = win.reshape(tuple(win.shape[:2 + len(kernel)]) + (math.prod(kernel),))
        _guard_extreme(flat, out, kidx, flat.dim() - 1, "max")
    return out


_MAX_DIM = OPS["max_dim"].code
assert OPS["max_dim"].saves == ("index",)   # (_gather saves no operand for it: nor below)


def max_pool_pass(x, pos, name):
    """What decomps.record(name, max_pool, ..., x, pos, None, None) records, written directly:
    the body's one gather entry ("max_dim" at flat positions `pos`) as the group of row
    `name`, without record's and _gather's generic steps (a layer's pooling: one call per
    step).  The case: a plain Tensor (no guard to add: the caller's, not while tracing; no
    empty window).  None otherwise (the row's path)."""
    if type(x) is not Tensor:
        return None
    xa = x._array()
    out = xa.take(pos)    # (a new array; half the cost of fancy indexing's reshapes)
    tape = _tape_of(x)
    if tape is None:
        return Tensor._wrap(out, x._dtype)
    if tape.recording:
        return None
    refuse_inference_save(x)    # (the row saves self: decomps.record's check)
    start = tape.n
    t = _result(out, x._dtype, tape, _MAX_DIM, input_node(tape, x), -1, 0.0)
    tape.add_params(t._node, pos.reshape(-1))
    groups.mark(tape, start, t._node, OPS[name].code)
    return t


def _pick(w, valid):
    """The window index torch's max kernels pick along the last axis of w (its elements
    outside the window, valid False, hold the dtype's lowest value): the first maximum, the
    last nan of a window with nans, the first element inside the window of one whose
    maximum is the lowest value (-inf)."""
    idx = w.argmax(-1)      # the first maximum (numpy's first nan: fixed below)
    top = w[_leading(w.shape[:-1]) + (idx,)]    # (take_along_axis's index, its aranges kept)
    low = -np.inf if w.dtype.kind == "f" else np.iinfo(w.dtype).min
    odd = (top == low) | (top != top) if valid is not None else top != top
    if odd.any():   # (rare windows: the rule in full)
        sel = np.nonzero(odd)
        ws = w[sel]
        ok = np.ones(ws.shape, bool) if valid is None else np.broadcast_to(
            valid, w.shape)[sel]
        m = ws.max(-1, keepdims=True)
        i = np.argmax((ws == m) & ok, -1)
        if w.dtype.kind == "f":
            isnan = np.isnan(ws)
            i = np.where(isnan.any(-1), ws.shape[-1] - 1 - np.argmax(isnan[..., ::-1], -1), i)
        idx[sel] = i
    return idx


# The aranges that index every position of the leading dims of shape `lead` (broadcast
# against each other), per shape: np.take_along_axis built them at every call.
_LEADING = {}   # lead -> tuple of int arrays


def _leading(lead):
    got = _LEADING.get(lead)
    if got is None:
        if len(_LEADING) >= 256:
            _LEADING.clear()
        got = _LEADING[lead] = tuple(np.arange(n).reshape((-1,) + (1,) * (len(lead) - 1 - i))
                                     for i, n in enumerate(lead))
    return got


def max_positions(arr, kernel, stride, padding, dilation, out):
    """The position torch's max pooling kernel picks in each window of arr (N, C, *spatial):
    (flat positions into arr, indices within each (n, c) plane, window index, the extra
    right padding of ceil_mode, the mask of windows with no input element or None), the
    first three of shape (N, C, *out)."""
    k = len(kernel)
    if arr.dtype.type in _LOOP_DTYPES and k <= 3:
        return _loop_positions(arr, kernel, stride, padding, dilation, out)
    key = (arr.shape, tuple(kernel), tuple(stride), tuple(padding), tuple(dilation), tuple(out))
    geometry = _GEOMETRY.get(key)
    if geometry is None:
        geometry = _max_geometry(arr.shape, kernel, stride, padding, dilation, out)
        # (a large one is not kept: its set-up is small beside the work)
        if geometry[3].size + geometry[5].size <= _KEPT_MAX:
            if len(_GEOMETRY) >= 256:
                _GEOMETRY.clear()
            _GEOMETRY[key] = geometry
    extra, pads, valid, planes, offsets, base, empty, first = geometry
    padded = arr
    if pads is not None:
        low = -np.inf if arr.dtype.kind == "f" else np.iinfo(arr.dtype).min
        padded = np.pad(arr, pads, constant_values=low)
    st = padded.strides
    shape = padded.shape[:2] + tuple(out) + tuple(kernel)
    strides = st[:2] + tuple(st[2 + i] * stride[i] for i in range(k)) \
        + tuple(st[2 + i] * dilation[i] for i in range(k))
    if padded.size and padded.flags.c_contiguous:   # (as_strided's Python layer: ~3 us)
        win = np.ndarray(shape, padded.dtype, padded, 0, strides)
    else:
        win = as_strided(padded, shape, strides, writeable=False)
    win = win.reshape(arr.shape[:2] + tuple(out) + (planes.shape[-1],))
    idx = _pick(win, valid)
    plane = planes.reshape(-1)[offsets + idx]
    if empty is not None:
        plane = np.where(empty, first, plane)
        return base + np.where(empty, 0, plane), plane, idx, extra, empty
    return base + plane, plane, idx, extra, empty


# float dtypes tapegrad.nn._pool_loops' loop is compiled for (others: numpy's argmax)
_LOOP_DTYPES = (np.float32, np.float64)


def _import_loops():
    from . import _pool_loops
    return _pool_loops


# per (input shape, kernel, stride, padding, dilation, out): the loop's geometry argument,
# the planes' first flat positions (N, C, 1...), ceil_mode's extra right padding, whether a
# window holds no input element (geometry alone decides it); a layer's calls repeat one
_LOOP_GEO = {}
_loops = []     # [the loop], once imported


def _loop_positions(arr, kernel, stride, padding, dilation, out):
    """max_positions of a float32/float64 array by tapegrad.nn._pool_loops' loop."""
    k = len(kernel)
    key = (arr.shape, tuple(kernel), tuple(stride), tuple(padding), tuple(dilation),
           tuple(out))
    got = _LOOP_GEO.get(key)
    if got is None:
        pad = 3 - k      # (leading unit dims: the loop pools over 3)
        cols = [[1] * pad + list(kernel), [1] * pad + list(stride), [0] * pad + list(padding),
                [1] * pad + list(dilation), [1] * pad + list(out)]
        geo = np.array([v for c in cols for v in c], np.int64)
        lead, sizes = arr.shape[:2], arr.shape[2:]
        plane = math.prod(sizes)
        base = np.arange(0, lead[0] * lead[1] * plane, plane, dtype=np.int64).reshape(
            lead + (1,) * k)
        extra = tuple(max((out[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
                          - sizes[i] - 2 * padding[i], 0) for i in range(k))
        if len(_LOOP_GEO) >= 256:
            _LOOP_GEO.clear()
        got = _LOOP_GEO[key] = [geo, base, extra, None]
    geo, base, extra, some_empty = got
    if not _loops:
        _loops.append(kernel_module("tapegrad.nn._pool_loops", "nn/_pool_loops.py",
                                    _import_loops).max_positions)
    n, c = arr.shape[:2]
    a = np.ascontiguousarray(arr).reshape((n * c,) + (1,) * (3 - k) + arr.shape[2:])
    plane, idx, empty = _loops[0](a, geo)
    shape = (n, c) + tuple(out)
    plane = plane.reshape(shape)
    if some_empty is None:
        some_empty = got[3] = bool(empty.any())
    if some_empty:      # (the gather reads the plane's first element there: masked)
        empty = empty.reshape(tuple(out))
        return base + np.where(empty, 0, plane), plane, idx.reshape(shape), extra, empty
    return base + plane, plane, idx.reshape(shape), extra, None


# The geometry of a max pooling (what max_positions needs of it beyond the input's values)
# for the input shapes seen last: a layer is called again and again on inputs of one shape.
_GEOMETRY = {}   # (shape, kernel, stride, padding, dilation, out) -> _max_geometry's tuple
_KEPT_MAX = 1 << 16   # elements of the largest tables kept (plane indices, planes' bases)


def _max_geometry(shape, kernel, stride, padding, dilation, out):
    """(the extra right padding of ceil_mode, np.pad's widths or None, the window elements
    inside the input (*out, K) or None, the plane index of each window element (*out, K),
    the offsets of the windows' rows in it (*out), each plane's first flat position
    (N, C, 1...), the mask of windows with no input element or None, their reported plane
    index), the arrays read-only."""
    k = len(kernel)
    sizes = shape[2:]
    extra = tuple(max((out[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
                      - sizes[i] - 2 * padding[i], 0) for i in range(k))
    pads = None
    if any(padding) or any(extra):
        pads = [(0, 0), (0, 0)] + [(p, p + e) for p, e in zip(padding, extra)]
    K = math.prod(kernel)
    valid = None
    if pads is not None:   # window elements inside the input
        valid = np.ones(tuple(out) + (K,), bool)
        for i in range(k):
            o = np.arange(out[i]).reshape([-1 if j == i else 1 for j in range(k)] + [1])
            c = o * stride[i] - padding[i] + np.unravel_index(np.arange(K), kernel)[i] * \
                dilation[i]
            valid &= (c >= 0) & (c < sizes[i])
    planes = np.zeros(tuple(out) + (K,), np.int64)
    for i, j in enumerate(np.unravel_index(np.arange(K), kernel)):
        o = np.arange(out[i]).reshape([-1 if d == i else 1 for d in range(k)] + [1])
        planes = planes * sizes[i] + (o * stride[i] - padding[i] + j * dilation[i])
    offsets = np.arange(math.prod(out), dtype=np.int64).reshape(tuple(out)) * K
    base = np.arange(shape[0] * shape[1], dtype=np.int64).reshape(
        shape[:2] + (1,) * k) * math.prod(sizes)
    empty = first = None
    if valid is not None and not valid.any(-1).all():
        # NOTE: a window wholly in the padding: torch's kernel reports its first position
        # moved by whole dilations to >= 0 (which can lie past the input: torch's index as it
        # is), and its value the lowest; the gather reads the plane's first element instead,
        # masked by max_pool (no gradient)
        empty = ~valid.any(-1)
        first = np.zeros(tuple(out), np.int64)
        for i in range(k):
            o = np.arange(out[i]).reshape([-1 if d == i else 1 for d in range(k)])
            s = o * stride[i] - padding[i]
            s = np.where(s < 0, s + (-s + dilation[i] - 1) // dilation[i] * dilation[i], s)
            first = first * sizes[i] + s
    for a in (valid, planes, offsets, base, empty, first):
        if a is not None:
            a.flags.writeable = False
    return extra, pads, valid, planes, offsets, base, empty, first


def avg_pool(T, x, kernel, stride, padding, extra, divisor):
    """The sums over the windows of x (zero-padded) divided by `divisor` (a number, or a
    constant tensor of the output's spatial shape)."""
    k = len(kernel)
    batched = x.dim() == k + 2
    xp = _pad(T, x if batched else x.unsqueeze(0), [(p, p + e) for p, e in zip(padding, extra)],
              0.0)
    win = windows(xp, kernel, stride, (1,) * k, kernel_last=True)
    out = win.sum(tuple(range(2 + k, 2 + 2 * k))) / divisor
    return out if batched else out.squeeze(0)


_DIV_FWD = _BIN_FAST[OPS["div"].code][0]
_AVG_POOL = OPS["avg_pool2d_windows"].code
assert OPS["avg_pool2d_windows"].saves == ("a",)


# NOTE: the values are torch's (its kernel's order of additions, nn/_pool_loops.avg_sums),
# where the body's numpy reduce over the windows view adds in its iterator's order: the two
# may differ in the last bit.  The gradients, which read no value, are the body's bit for bit
# (kinds/pool.py's VJP: the body's additions in its order).
def avg_pool_pass(x, kernel, stride, divisor):
    """avg_pool2d of x (no padding) as one entry of the avg_pool kind (kinds/pool.py, torch's
    one node AvgPool2DBackward0), where the row's body records three (its `unfold` view of
    x's windows, `sum_dim` over the window dims, `div` by divisor) and the generic steps of
    each (a CNN's pooling layer: once per step).  The case: a plain Tensor (N, C, H, W) of
    float32 or float64, C-contiguous, no padding (nor ceil_mode's), a number divisor (an
    exact int as a float) and an output of two or more elements, on the open tape and not
    recording for replay (or on no tape).  None otherwise (the row's path)."""
    xa = x._v
    dt = x._dtype
    if (type(x) is not Tensor or dt is not D.float32 and dt is not D.float64
            or type(xa) is not np.ndarray or xa.ndim != 4 or not xa.flags.c_contiguous
            or type(divisor) is not float or not 0 < abs(divisor) <= 16777216.0):
        return None
    n, c, h, w = xa.shape
    kh, kw = kernel
    sh, sw = stride
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    size = n * c * oh * ow
    if size < 2:        # (a one-element result: _result's scalar entry; empty: nothing to do)
        return None
    tape = _tape_for(x, None) if x._recorded else None
    if tape is not None and (tape.recording or tape is not STATE.tape):
        return None     # (baked constants and guards; another tape: the body's steps)
    if not _loops_avg:
        _loops_avg.append(kernel_module("tapegrad.nn._pool_loops", "nn/_pool_loops.py",
                                        _import_loops).avg_sums)
    shape = (n, c, oh, ow)
    s = _loops_avg[0](xa.reshape(n * c, h, w), (kh, kw, sh, sw, oh, ow)).reshape(shape)
    token = ERR_SET(QUIET)
    try:
        out = _DIV_FWD(s, dt.np.type(divisor))     # (_binary's quotient by a number)
    finally:
        ERR_RESET(token)
    if tape is None:
        return Tensor._wrap(out, dt)
    refuse_inference_save(x)    # (the entry saves self, as torch's node)
    a = input_node(tape, x)
    node = tape.push_nd(_AVG_POOL, a, -1, divisor, shape, size)
    geo = (kh, kw, sh, sw)
    row = _POOL_ROWS.get(geo)
    if row is None:
        if len(_POOL_ROWS) > 1024:
            _POOL_ROWS.clear()
        row = _POOL_ROWS[geo] = memoryview(np.array(geo, np.int64))
    tape.nds.add_param_row(node, row)
    tape.save(a, xa)    # (nothing reads it: torch's node saves self, so its version check)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._node, t._recorded = out, dt, shape, tape, node, True
    return t


_POOL_ROWS = {}     # (kh, kw, sh, sw) -> the avg_pool kind's params row (add_param_row)


def _avg_pool_face(x, params, divisor):
    """The avg_pool kind's tensor face (views.KIND_OPS.avg_pool): params [kh, kw, sh, sw];
    outside the writer's case, the row's body."""
    k, st = (params[0], params[1]), (params[2], params[3])
    out = avg_pool_pass(x, k, st, float(divisor))
    if out is None:
        out = decomps.record("avg_pool2d", avg_pool, KIND_OPS, x, k, st, (0, 0), (0, 0),
                             float(divisor))
    return out


KIND_OPS.avg_pool = _avg_pool_face


_loops_avg = []     # [nn/_pool_loops.avg_sums], once imported


def int_avg_pool(arr, kernel, stride, padding, extra, divisor):
    """avg_pool of an int64 array (no gradient): the window sums divided by divisor (a
    number or an array of the output's spatial shape), truncated toward zero as torch's."""
    k = len(kernel)
    batched = arr.ndim == k + 2
    a = arr if batched else arr[None]
    a = np.pad(a, [(0, 0), (0, 0)] + [(p, p + e) for p, e in zip(padding, extra)])
    st = a.strides
    out = tuple((a.shape[2 + i] - kernel[i]) // stride[i] + 1 for i in range(k))
    win = as_strided(a, a.shape[:2] + out + tuple(kernel),
                     st[:2] + tuple(st[2 + i] * stride[i] for i in range(k)) + st[2:],
                     writeable=False)
    s = win.sum(tuple(range(2 + k, 2 + 2 * k)))
    q = np.trunc(s / divisor).astype(np.int64)
    return q if batched else q[0]


def adaptive_row_args(x, out):
    """(uniform, counts): the adaptive_avg_pool body's arguments for x pooled to `out` (its
    last len(out) dims): whether every output size divides its input size, and the windows'
    sizes (their products over the dims) as a constant tensor of x's dtype."""
    counts = np.ones((), np.int64)
    for c in window_counts(tuple(x.shape[x.dim() - len(out):]), tuple(out)):
        counts = np.multiply.outer(counts, c)
    uniform = all(o and s % o == 0 for o, s in zip(out, x.shape[x.dim() - len(out):]))
    return uniform, _tensor_of(counts.astype(x.dtype.np))


def adaptive_avg_pool(T, x, out, uniform, counts):
    """The means over torch's adaptive windows (start floor(i * S / O), end ceil((i + 1) * S
    / O) per dim), divided by `counts` (the windows' sizes, a constant tensor): `uniform`
    windows (every O dividing its S) summed over a windows view, uneven ones gathered."""
    k = len(out)
    lead = tuple(x.shape[:x.dim() - k])
    if uniform:
        kernel = tuple(x.shape[x.dim() - k + i] // out[i] for i in range(k))
        x4 = x.reshape((math.prod(lead), 1) + tuple(x.shape[x.dim() - k:]))
        win = windows(x4, kernel, kernel, (1,) * k, kernel_last=True)
        y = win.sum(tuple(range(2 + k, 2 + 2 * k))).reshape(lead + tuple(out))
        return y / counts
    # NOTE: each window's elements gathered and summed on their own, as torch's loop: the
    # gradient of an output reaches only its window (a product with 0/1 window matrices
    # spread an inf or nan, of the input or of the output's gradient, as 0 * nan over rows)
    pos, padded = _adaptive_positions(lead, tuple(x.shape[x.dim() - k:]), tuple(out))
    if padded:      # (a window's unused slots read a zero after x's elements)
        n = x.numel()
        x = cat([x.reshape(n), zeros(1, dtype=x.dtype)])
    return _gather("index", x, pos).sum(-1) / counts


_ADAPTIVE_AVG = {2: OPS["adaptive_avg_pool2d_windows"].code,
                 3: OPS["adaptive_avg_pool3d_windows"].code}
assert all(OPS[f"adaptive_avg_pool{k}d_windows"].saves == ("a",) for k in (2, 3))
_ADAPTIVE_ROWS = {}     # (k, sizes, out) -> the adaptive_avg_pool kind's params row
_loops_adaptive = []    # [nn/_pool_loops.adaptive_avg_sums], once imported


def adaptive_avg_pool_pass(x, out):
    """adaptive_avg_pool{k}d of x to `out` (k = len(out), x's last k dims pooled) as one entry
    of the adaptive_avg_pool kind (kinds/pool.py, torch's one node), where the row's body
    sums a windows view or gathers each uneven window's elements (a position per element
    and window slot in the tape's params).  Its values are torch's bit for bit
    (nn/_pool_loops.adaptive_avg_sums).  The case: a plain Tensor of float32 or float64,
    C-contiguous (a layer's activations; the 1-d pooling's unsqueezed view of one), with two
    or more output elements, on the open tape and not recording for replay (or on no tape).
    None otherwise (the row's path)."""
    xa = x._v
    dt = x._dtype
    k = len(out)
    if (type(x) is not Tensor or dt is not D.float32 and dt is not D.float64
            or type(xa) is not np.ndarray or not xa.flags.c_contiguous):
        return None
    sizes = xa.shape[xa.ndim - k:]
    lead = xa.shape[:xa.ndim - k]
    shape = lead + tuple(out)
    size = math.prod(shape)
    if size < 2:        # (a one-element result: _result's scalar entry; empty: the row)
        return None
    tape = _tape_for(x, None) if x._recorded else None
    if tape is not None and (tape.recording or tape is not STATE.tape):
        return None     # (baked constants and guards; another tape: the body's steps)
    if not _loops_adaptive:
        _loops_adaptive.append(kernel_module("tapegrad.nn._pool_loops", "nn/_pool_loops.py",
                                             _import_loops).adaptive_avg_sums)
    key = (k, sizes, tuple(out))
    row = _ADAPTIVE_ROWS.get(key)
    if row is None:
        if len(_ADAPTIVE_ROWS) > 1024:
            _ADAPTIVE_ROWS.clear()
        row = _ADAPTIVE_ROWS[key] = memoryview(np.array(
            (k,) + (1,) * (3 - k) + sizes + (1,) * (3 - k) + tuple(out), np.int64))
    a = xa.reshape((math.prod(lead),) + (1,) * (3 - k) + sizes)
    y = _loops_adaptive[0](a, (row[4], row[5], row[6])).reshape(shape)
    if tape is None:
        return Tensor._wrap(y, dt)
    refuse_inference_save(x)    # (the entry saves self, as torch's node)
    an = input_node(tape, x)
    node = tape.push_nd(_ADAPTIVE_AVG[k], an, -1, 1.0 if dt is D.float32 else 0.0, shape, size)
    tape.nds.add_param_row(node, row)
    tape.save(an, xa)   # (nothing reads it: torch's node saves self, so its version check)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._node, t._recorded = y, dt, shape, tape, node, True
    return t


def _adaptive_avg_pool_face(x, params):
    """The adaptive_avg_pool kind's tensor face (views.KIND_OPS.adaptive_avg_pool): params
    [k, D, H, W, OD, OH, OW]; outside the writer's case, the row's body."""
    k = params[0]
    out = tuple(params[7 - k:7])
    y = adaptive_avg_pool_pass(x, out)
    if y is None:
        y = decomps.record(f"adaptive_avg_pool{k}d", adaptive_avg_pool, KIND_OPS, x, out,
                           *adaptive_row_args(x, out))
    return y


KIND_OPS.adaptive_avg_pool = _adaptive_avg_pool_face


_ADAPTIVE_POSITIONS = {}    # (lead, sizes, out) -> _adaptive_positions' result (a layer's calls)


def _adaptive_positions(lead, sizes, out):
    """(positions, padded): the flat positions into x (lead + sizes) of each adaptive window's
    elements, shape lead + out + (K,), the unused slots of windows shorter than K at x.numel()
    (padded: there are such)."""
    key = (lead, sizes, out)
    got = _ADAPTIVE_POSITIONS.get(key)
    if got is None:
        cand, valid = adaptive_windows(sizes, out)
        k = len(out)
        n = math.prod(lead) * math.prod(sizes)
        planes = np.arange(0, n, math.prod(sizes), dtype=np.int64)
        pos = (planes.reshape((-1,) + (1,) * (k + 1)) + cand).reshape(lead + cand.shape)
        padded = not valid.all()
        if padded:
            pos = np.where(valid, pos, n)
        pos.flags.writeable = False
        if len(_ADAPTIVE_POSITIONS) >= 32:
            _ADAPTIVE_POSITIONS.clear()
        got = _ADAPTIVE_POSITIONS[key] = (pos, padded)
    return got


def adaptive_max_positions(arr, out):
    """(flat positions into arr, plane indices, window indices) of torch's adaptive max
    pooling of arr (N, C, *spatial), each (N, C, *out): nn/_pool_loops' loop for float32 and
    float64, numpy's argmax over the gathered windows otherwise."""
    k = len(out)
    sizes = arr.shape[2:]
    n, c = arr.shape[:2]
    if arr.dtype.type in _LOOP_DTYPES:
        if not _loops_max_adaptive:
            _loops_max_adaptive.append(kernel_module(
                "tapegrad.nn._pool_loops", "nn/_pool_loops.py",
                _import_loops).adaptive_max_positions)
        a = np.ascontiguousarray(arr).reshape((n * c,) + (1,) * (3 - k) + sizes)
        pos, plane, idx = _loops_max_adaptive[0](a, (1,) * (3 - k) + tuple(out))
        shape = (n, c) + tuple(out)
        return pos.reshape(shape), plane.reshape(shape), idx.reshape(shape)
    base = np.arange(n * c, dtype=np.int64).reshape((n, c) + (1,) * k) * math.prod(sizes)
    cand, valid = adaptive_windows(sizes, out)
    flat = arr.reshape(arr.shape[:2] + (math.prod(sizes),))
    w = flat[:, :, cand]
    low = -np.inf if arr.dtype.kind == "f" else np.iinfo(arr.dtype).min
    idx = _pick(np.where(valid, w, low), valid)
    plane = np.take_along_axis(np.broadcast_to(cand, w.shape), idx[..., None], -1)[..., 0]
    return base + plane, plane, idx


_loops_max_adaptive = []    # [nn/_pool_loops.adaptive_max_positions], once imported


def adaptive_max_pool(T, x, pos, guard):
    """The elements of x at flat positions pos (the adaptive windows' maxima).  While
    recording for replay, `guard` = (candidates, kidx): a guard checks that each window's
    maximum is still where it was."""
    out = _gather("max_dim", x, pos)
    if guard is not None:
        cand, kidx = guard
        k = cand.ndim - 1
        x4 = x if x.dim() == k + 2 else x.unsqueeze(0)
        flat = x4.reshape(x4.shape[0], x4.shape[1], math.prod(x4.shape[2:]))[
            :, :, _tensor_of(cand)]
        _guard_extreme(flat, out, kidx, flat.dim() - 1, "max")
    return out


# NOTE: torch's max_unpool writes each input element at its index (a position written twice
# holds one of them: its serial loop's last) and its gradient is max_pool_double_backward, the
# output's gradient gathered at every element's index, the overwritten ones too.  That is not
# the derivative of the forward where indices repeat, so the body below builds it: the
# overwritten elements add x - x.detach() (0 where x is finite, gradient 1; 0 and no gradient
# at an infinity or nan) instead of their value.
def max_unpool(T, x, shape, pos, keep):
    """Zeros of `shape` with x's elements at flat positions `pos` (an int array of x's shape):
    a scatter whose gradient is the output's gradient gathered at `pos`.  `keep` (None: no
    position repeats) is a constant bool tensor of x's shape, False on the elements another
    one overwrites.  pos None: an empty output (x's elements go nowhere)."""
    if pos is None:
        x, pos = x.reshape(-1)[:0], np.zeros(0, np.int64)
    if keep is not None:
        # NOTE: an overwritten element adds 0 to the scatter but keeps its gradient (torch's
        # backward gathers at every index, repeated ones too): straight_through's value is its
        # second operand, 0, its gradient x's whole, also where x is inf or nan (x - x is not 0)
        x = where(keep, x, _binary(_STRAIGHT_THROUGH, x, 0.0))
    return T.index_scatter(x, shape, pos.reshape(-1))


# NOTE: fractional max pooling's windows start where torch's generate_intervals puts them,
# computed in the input's dtype as its kernel does (float32 for float32 input): start[i] =
# int((i + u) * alpha) - int(u * alpha), alpha = (in - pool) / (out - 1), the last window at
# in - pool, u the plane's sample for that dim; the element picked in a window is max
# pooling's (`_pick`: first maximum, last nan).
def fractional_starts(samples, size, pool, out, dtype):
    """The first index of each window along one dim: (N, C, out) int64 from the samples
    (N, C) of that dim."""
    starts = np.empty(samples.shape + (out,), np.int64)
    if out > 1:
        dt = np.dtype(dtype).type
        alpha = dt(size - pool) / dt(out - 1)
        i = np.arange(out - 1).astype(dtype)
        u = samples.astype(dtype)[..., None]
        with np.errstate(all="ignore"):
            starts[..., :-1] = ((i + u) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)
    if out > 0:
        starts[..., -1] = size - pool
    return starts


def fractional_positions(arr, pool, out, starts):
    """(flat positions into arr, indices within each (n, c) plane, window index, the window
    candidates as flat positions into arr) of fractional max pooling of arr (N, C, *spatial)
    whose windows along dim d start at starts[d] (N, C, out[d])."""
    k = len(pool)
    sizes = arr.shape[2:]
    n, c = arr.shape[:2]
    plane = np.zeros((n, c) + tuple(out) + tuple(pool), np.int64)
    for d in range(k):
        stride = math.prod(sizes[d + 1:])
        shape = [n, c] + [1] * (2 * k)
        shape[2 + d] = out[d]
        first = starts[d].reshape(shape)
        shape = [1, 1] + [1] * (2 * k)
        shape[2 + k + d] = pool[d]
        offset = np.arange(pool[d], dtype=np.int64).reshape(shape)
        plane = plane + (first + offset) * stride
    cand = plane.reshape((n, c) + tuple(out) + (math.prod(pool),))
    plane_size = math.prod(sizes)
    w = np.take_along_axis(arr.reshape(n, c, plane_size),
                           cand.reshape(n, c, cand[0, 0].size if n * c else 0),
                           -1).reshape(cand.shape)
    idx = _pick(w, None)
    picked = np.take_along_axis(cand, idx[..., None], -1)[..., 0]
    base = np.arange(n * c, dtype=np.int64).reshape((n, c) + (1,) * k) * plane_size
    return base + picked, picked, idx, base[..., None] + cand


def fractional_max_pool(T, x, pos, guard):
    """The elements of x at flat positions pos (the windows' maxima).  While recording for
    replay, `guard` = (the windows' candidates as flat positions, kidx): a guard checks that
    each window's maximum is still where it was (else a replay raises BranchChanged)."""
    out = _gather("max_dim", x, pos)
    if guard is not None:
        cand, kidx = guard
        flat = x.reshape(-1)[_tensor_of(cand)]
        _guard_extreme(flat, out, kidx, flat.dim() - 1, "max")
    return out
