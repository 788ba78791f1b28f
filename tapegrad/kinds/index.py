"""Index arithmetic on row-major buffers, shared by the kinds' kernel pieces (plain Python,
compiled into tapegrad/_kernels.py by codegen)."""
import numpy as np


def bcast_index(k, oshape, ond, ishape, ind):
    """Flat index into an input of shape `ishape` broadcast to `oshape`, for flat output index k."""
    idx = 0
    mul = 1
    rem = k
    for d in range(ond - 1, -1, -1):
        od = oshape[d]
        q = rem % od
        rem //= od
        di = d - (ond - ind)
        if di >= 0:
            s = ishape[di]
            if s != 1:
                idx += q * mul
            mul *= s
    return idx


def strided_index(k, oshape, ond, params, p):
    """Source index of output element k of a strided view: params = [offset, strides...]."""
    rem = k
    src = params[p]
    for d in range(ond - 1, -1, -1):
        q = rem % oshape[d]
        rem //= oshape[d]
        src += q * params[p + 1 + d]
    return src


def next_row(src, idx, oshape, ond, params, p):
    """The source index of the next row (of the last dim) of a strided view, after the row at
    `src` whose position along the dims before the last is `idx` (advanced in place): an
    odometer over those dims, row-major as strided_index counts, with no division per row
    (a convolution's (N, C, OH, OW, KH, KW) windows have rows of KW elements: strided_index
    per row cost five divisions and five modulos each)."""
    d = ond - 2
    while d >= 0:
        s = params[p + 1 + d]
        i = idx[d] + 1
        if i < oshape[d]:
            idx[d] = i
            return src + s
        idx[d] = 0
        src -= (oshape[d] - 1) * s
        d -= 1
    return src


def gather_rows(dst, dst_at, src, src_at, oshape, ond, params, p, count, add):
    """dst[dst_at + k] = (or += with `add`) src[src_at + the strided view's index of element
    k] for the `count` elements of a view of shape `oshape` (params [offset, strides...] at
    p): row by row of the last dim, each row's start from the one before (next_row) and its
    elements by the last stride, in row-major order as one strided_index each."""
    last = oshape[ond - 1] if ond else 1
    if last == 0:
        return
    step = params[p + ond] if ond else 0
    idx = np.zeros(max(ond, 1), np.int64)
    at = src_at + params[p]
    for r in range(count // last):
        if r:
            at = next_row(at, idx, oshape, ond, params, p)
        row = dst_at + r * last
        if add:
            for j in range(last):
                dst[row + j] += src[at + j * step]
        else:
            for j in range(last):
                dst[row + j] = src[at + j * step]


def scatter_rows(dst, dst_at, src, src_at, oshape, ond, params, p, count):
    """The transpose of gather_rows: dst[dst_at + the strided view's index of element k] +=
    src[src_at + k], in the same order (overlapping positions add up as one strided_index
    each would)."""
    last = oshape[ond - 1] if ond else 1
    if last == 0:
        return
    step = params[p + ond] if ond else 0
    idx = np.zeros(max(ond, 1), np.int64)
    at = dst_at + params[p]
    for r in range(count // last):
        if r:
            at = next_row(at, idx, oshape, ond, params, p)
        row = src_at + r * last
        for j in range(last):
            dst[at + j * step] += src[row + j]


def is_suffix(oshape, ond, ishape, ind):
    """Whether `ishape` broadcast to `oshape` only adds leading dims (its own leading 1s
    aside): then the broadcast index of output element k is simply k % size(ishape)."""
    s = 0
    while s < ind and ishape[s] == 1:
        s += 1
    if ind - s > ond:
        return False
    for d in range(s, ind):
        if ishape[d] != oshape[ond - ind + d]:
            return False
    return True


def middle_inner(oshape, ond, ishape, ind):
    """When `ishape` broadcast to `oshape` is one block of consecutive output dims, its other
    dims 1 (a per-channel (1, C, 1, 1) against (N, C, H, W); a bias (C,) against (N, C)), the
    product of the output dims after the block: the broadcast index of output element k is
    then (k // inner) % size(ishape), two divisions where bcast_index does two per dim.
    0 otherwise (and for a one-element input)."""
    lo = 0
    while lo < ind and ishape[lo] == 1:
        lo += 1
    hi = ind
    while hi > lo and ishape[hi - 1] == 1:
        hi -= 1
    if hi == lo or ind > ond:
        return 0
    lead = ond - ind
    for d in range(lo, hi):
        if ishape[d] != oshape[lead + d]:
            return 0
    inner = 1
    for d in range(lead + hi, ond):
        inner *= oshape[d]
    return inner


def kept_leading(shape, nd, keep):
    """Whether the keepdim shape `keep` of a reduction of `shape` keeps leading dims and
    reduces trailing ones (a row sum: (64, 100) -> (64, 1)): then each output element sums a
    contiguous run of size(shape) / size(keep) input elements."""
    j = nd
    while j > 0 and keep[j - 1] == 1:
        j -= 1
    for d in range(j):
        if keep[d] != shape[d]:
            return False
    return True


def pair_index(k, shp, nd, e, x):
    """`bcast_index` of operand node x broadcast to entry e's shape, from the tape's shape
    streams: the elementwise branches of the big kernels call this, so each call site types
    one call instead of four `shp`/`nd` reads (their compile time grows with typed ops)."""
    return bcast_index(k, shp[e], nd[e], shp[x], nd[x])


def pair_middle(shp, nd, e, x):
    """`middle_inner` of operand node x against entry e's shape, from the shape streams."""
    return middle_inner(shp[e], nd[e], shp[x], nd[x])


def pair_suffix(shp, nd, e, x):
    """`is_suffix` of operand node x against entry e's shape, from the shape streams."""
    return is_suffix(shp[e], nd[e], shp[x], nd[x])
