"""Numba loops of eager float sums: torch's CPU `sum` (`torch_total`, `torch_sum_middle`,
`torch_sum`: its cascade_sum's values bit for bit, see below; tapegrad.float_sums calls them),
a large float sum with a float64 accumulator (`total`), and the eager forward of a float
cumsum (`running_sums`: numpy's astype, accumulate, `+= 0.0` and cast back cost ~3 us of an
(8, 32) cumsum; this loop gives the same bits in one call).

Imported on first use through `_jit.kernel_module` (so `import tapegrad` stays free of numba,
and the cache is placed as for tapegrad._kernels).
"""
import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic


# ---- torch's CPU sum (aten/src/ATen/native/cpu/SumKernel.cpp cascade_sum) --------------------
# NOTE: the sums accumulate in the dtype (acc_type<float, /*is_cuda=*/true> is float), in the
# order of torch 2.13's kernel as its AVX2 build runs it (no AVX512 build is registered for
# sum: AVX512 machines run the AVX2 one, checked on one): Vectorized<float> 8 lanes,
# Vectorized<double> 4.  The reduction is arranged as TensorIterator arranges it (reduced dims
# innermost, dims sorted by stride, coalesced; one call of the 2-d loop per outer index) and
# split between `nthreads` threads as parallel_reduce splits it (two_pass_reduction for a
# reduction to one element, parallel_dim_reduction otherwise), so the values are torch's bit
# for bit at torch's intra-op thread count.

_GRAIN = 32768          # at::internal::GRAIN_SIZE
_LEVELS = 4             # multi_row_sum's num_levels
_ILP = 4                # row_sum's ilp_factor; vectorized_outer_sum's and scalar_outer_sum's nrows


@njit(cache=True)
def _ceil_log2(n):
    if n <= 2:
        return 1
    v = n - 1
    r = 0
    while v:
        v >>= 1
        r += 1
    return r


@njit(cache=True)
def _power(size):
    """multi_row_sum's log2 of its block of steps."""
    return max(4, _ceil_log2(size) // _LEVELS)


_VEC_BYTES = 32         # Vectorized<T>'s width under AVX2: 8 float32 lanes, 4 float64


@intrinsic
def _vector_multi_row_sum(typingctx, x, base, rs, cs, size, power, left, fold, a0):
    """multi_row_sum (below) of 4 (_ILP) rows of W lanes (the dtype's vector: 32 bytes), lane
    l of row k of step i at x[base + i * rs + k * cs + l]: its four cascade levels each 4
    <W x T> values, `1 << power` steps a block; the sums in a0[:4 * W].  Then row_sum's end
    (below): the first `left` rows of step `size` added to row 0's sums, and with `fold` the
    other rows' sums added to them, in order.  No fast-math flags: every lane's additions in
    torch's order.  The indices are the caller's to keep in bounds.
    NOTE(speed): in LLVM IR because Numba's loop keeps the sums in scalars (16 or 32 locals:
    no store in the loop, so no seed for the SLP vectorizer: 16 scalar adds a step) or in
    memory (a0[t] += ...: each step waits on the last one's store); here a step is 4 vector
    adds and the levels stay in registers (200k float64: 41.6 -> 22 us)."""
    if not (isinstance(x, types.Array) and isinstance(a0, types.Array)
            and x.dtype in (types.float32, types.float64) and a0.dtype == x.dtype):
        return None

    def codegen(context, builder, sig, args):
        xty, aty = sig.args[0], sig.args[8]
        i64 = ir.IntType(64)
        b, rs, cs, size, power, left, fold = (
            context.cast(builder, v, t, types.int64) for v, t in zip(args[1:8], sig.args[1:8]))
        xdata = context.make_array(xty)(context, builder, args[0]).data
        adata = context.make_array(aty)(context, builder, args[8]).data
        fty = context.get_data_type(xty.dtype)
        item = context.get_abi_sizeof(fty)
        width = _VEC_BYTES // item
        vty = ir.VectorType(fty, width)
        zero = ir.Constant(vty, None)
        # (allocas in the entry block: mem2reg makes them vector phis)
        levels = [[cgutils.alloca_once_value(builder, zero) for _ in range(_ILP)]
                  for _ in range(_LEVELS)]
        rows = [builder.mul(ir.Constant(i64, k), cs) for k in range(_ILP)]

        def steps(first, count):
            # level 0 += the steps first .. first + count - 1
            with cgutils.for_range(builder, count) as loop:
                row = builder.add(b, builder.mul(builder.add(first, loop.index), rs))
                for k in range(_ILP):
                    ptr = builder.gep(xdata, [builder.add(row, rows[k])])
                    v = builder.load(builder.bitcast(ptr, vty.as_pointer()), align=item)
                    slot = levels[0][k]
                    builder.store(builder.fadd(builder.load(slot), v), slot)

        step = builder.shl(ir.Constant(i64, 1), power)
        mask = builder.sub(step, ir.Constant(i64, 1))
        nblocks = builder.ashr(size, power)
        with cgutils.for_range(builder, nblocks) as blocks:
            steps(builder.mul(blocks.index, step), step)
            done = builder.mul(builder.add(blocks.index, ir.Constant(i64, 1)), step)
            # a full block: level j += level j - 1 (which restarts from 0), up the levels
            # while the block count's bits below level j are all zero
            go = cgutils.true_bit
            for j in range(1, _LEVELS):
                for k in range(_ILP):
                    lo, hi = levels[j - 1][k], levels[j][k]
                    vlo, vhi = builder.load(lo), builder.load(hi)
                    builder.store(builder.select(go, builder.fadd(vhi, vlo), vhi), hi)
                    builder.store(builder.select(go, zero, vlo), lo)
                bits = builder.and_(done, builder.shl(mask, builder.mul(
                    ir.Constant(i64, j), power)))
                go = builder.and_(go, builder.icmp_unsigned("==", bits, ir.Constant(i64, 0)))
        first = builder.mul(nblocks, step)
        steps(first, builder.sub(size, first))
        for k in range(_ILP):
            v = builder.load(levels[0][k])
            for j in range(1, _LEVELS):
                v = builder.fadd(v, builder.load(levels[j][k]))
            builder.store(v, levels[0][k])
        row = builder.add(b, builder.mul(size, rs))
        with cgutils.for_range(builder, left) as loop:
            ptr = builder.gep(xdata, [builder.add(row, builder.mul(loop.index, cs))])
            v = builder.load(builder.bitcast(ptr, vty.as_pointer()), align=item)
            builder.store(builder.fadd(builder.load(levels[0][0]), v), levels[0][0])
        sums = [builder.load(levels[0][k]) for k in range(_ILP)]
        folded = sums[0]
        for k in range(1, _ILP):
            folded = builder.fadd(folded, sums[k])
        sums[0] = builder.select(builder.icmp_signed("!=", fold, ir.Constant(i64, 0)),
                                 folded, sums[0])
        for k in range(_ILP):
            ptr = builder.gep(adata, [ir.Constant(i64, k * width)])
            builder.store(sums[k], builder.bitcast(ptr, vty.as_pointer()), align=item)
        return context.get_dummy_value()

    return types.none(x, base, rs, cs, size, power, left, fold, a0), codegen


@njit(cache=True)
def _check_span(x, base, rs, cs, steps, rows, w, a0):
    """Raise IndexError unless every x[base + i * rs + k * cs + l] (i < steps, k < rows,
    l < w) is in x and a0 holds _ILP rows of w lanes: _vector_multi_row_sum reads and writes
    through raw pointers, so its bounds are checked here, once per call."""
    if steps <= 0 or rows <= 0:
        lo = hi = base
    else:
        ends_i = (0, (steps - 1) * rs)
        ends_k = (0, (rows - 1) * cs)
        lo = hi = base
        for a in ends_i:
            for b in ends_k:
                v = base + a + b
                lo = min(lo, v)
                hi = max(hi, v + w - 1)
    if lo < 0 or hi >= x.shape[0] or a0.shape[0] < _ILP * w:
        raise IndexError("_sums: a vector sum's span lies outside its array")


@njit(cache=True)
def _multi_row_sum(x, base, rs, cs, nrows, w, size, acc):
    """multi_row_sum: nrows rows of w lanes summed over `size` steps, lane l of row k of step i
    at x[base + i * rs + k * cs + l], in four cascade levels; the sums in acc[0, :nrows * w]
    (acc: (4, >= nrows * w) of x's dtype, overwritten)."""
    power = _power(size)
    if w * x.itemsize == _VEC_BYTES and nrows == _ILP:    # (rows of vector lanes)
        _check_span(x, base, rs, cs, size, _ILP, w, acc[0])
        _vector_multi_row_sum(x, base, rs, cs, size, power, 0, 0, acc[0])
        return
    q = nrows * w
    for j in range(_LEVELS):
        for t in range(q):
            acc[j, t] = 0
    a0 = acc[0]
    step = 1 << power
    mask = step - 1
    i = 0
    while i < size:
        # a block of `step` steps (the last one may be short) into the first level
        stop = i + step if i + step <= size else size
        full = stop - i == step
        # (x sliced, one contiguous run of the rows' lanes where cs == w: indexing x[b + t]
        # keeps Numba's negative-index fixup, which stops LLVM vectorizing the loop; and no
        # call per step: the function calls cost 3x the additions)
        if cs == w:
            while i < stop:
                xs = x[base + i * rs:base + i * rs + q]
                for t in range(q):
                    a0[t] += xs[t]
                i += 1
        else:
            while i < stop:
                for k in range(nrows):
                    b = base + i * rs + k * cs
                    xs = x[b:b + w]
                    for lane in range(w):
                        a0[k * w + lane] += xs[lane]
                i += 1
        if full:
            for j in range(1, _LEVELS):
                for t in range(q):
                    acc[j, t] += acc[j - 1, t]
                    acc[j - 1, t] = 0
                if i & (mask << (j * power)):
                    break
    for j in range(1, _LEVELS):
        for t in range(q):
            acc[0, t] += acc[j, t]


@njit(cache=True)
def _row_sum(x, base, stride, w, size, acc):
    """row_sum: `size` values of w lanes (value i at x[base + i * stride], lanes contiguous)
    read as (-1, 4), multi_row_sum over that, the leftovers added to the first partial sum,
    then the other three; the w lanes' sums in acc[0, :w]."""
    n_ilp = size // _ILP
    if w * x.itemsize == _VEC_BYTES:
        # (the values read: size of them from base, stride apart)
        _check_span(x, base, stride, 0, size, 1, w, acc[0])
        _vector_multi_row_sum(x, base, stride * _ILP, stride, n_ilp, _power(n_ilp),
                              size - n_ilp * _ILP, 1, acc[0])
        return
    _multi_row_sum(x, base, stride * _ILP, stride, _ILP, w, n_ilp, acc)
    for i in range(n_ilp * _ILP, size):
        b = base + i * stride
        for lane in range(w):
            acc[0, lane] += x[b + lane]
    for k in range(1, _ILP):
        for lane in range(w):
            acc[0, lane] += acc[0, k * w + lane]


@njit(cache=True)
def _loop2d(x, xo, out, oo, size0, size1, is0, is1, os0, os1, lanes, acc, fin):
    """cascade_sum's 2-d loop over x from x[xo] (input strides is0, is1, elements) into out
    from out[oo] (strides os0, os1; 0 along reduced dims), every sum added to its output
    element (`*ptr += value`).  fin: a 1-element scratch array of x's dtype."""
    if os0 != 0 and os1 == 0:     # (the reduction first)
        is0, is1 = is1, is0
        os0, os1 = os1, os0
        size0, size1 = size1, size0
    if os0 != 0 and os1 != 0:     # (no reduction: elementwise out + x)
        for j in range(size1):
            for i in range(size0):
                out[oo + j * os1 + i * os0] += x[xo + j * is1 + i * is0]
        return
    if is0 == 1 and size0 >= lanes:                 # vectorized_inner_sum
        nvec = size0 // lanes
        for j in range(size1):
            row = xo + j * is1
            _row_sum(x, row, lanes, lanes, nvec, acc)
            fin[0] = 0
            for k in range(nvec * lanes, size0):
                fin[0] += x[row + k]
            for lane in range(lanes):
                fin[0] += acc[0, lane]
            out[oo + j * os1] += fin[0]
    elif is1 == 1 and size1 >= lanes:               # vectorized_outer_sum
        j = 0
        while j + _ILP * lanes <= size1:
            _multi_row_sum(x, xo + j, is0, lanes, _ILP, lanes, size0, acc)
            for t in range(_ILP * lanes):
                out[oo + (j + t) * os1] += acc[0, t]
            j += _ILP * lanes
        while j + lanes <= size1:
            _row_sum(x, xo + j, is0, lanes, size0, acc)
            for t in range(lanes):
                out[oo + (j + t) * os1] += acc[0, t]
            j += lanes
        while j < size1:
            _row_sum(x, xo + j, is0, 1, size0, acc)
            out[oo + j * os1] += acc[0, 0]
            j += 1
    elif is0 < is1:                                 # scalar_inner_sum
        for j in range(size1):
            _row_sum(x, xo + j * is1, is0, 1, size0, acc)
            out[oo + j * os1] += acc[0, 0]
    else:                                           # scalar_outer_sum
        j = 0
        while j + (_ILP - 1) < size1:
            _multi_row_sum(x, xo + j * is1, is0, is1, _ILP, 1, size0, acc)
            for t in range(_ILP):
                out[oo + (j + t) * os1] += acc[0, t]
            j += _ILP
        while j < size1:
            _row_sum(x, xo + j * is1, is0, 1, size0, acc)
            out[oo + j * os1] += acc[0, 0]
            j += 1


@njit(cache=True)
def _serial(x, xo, out, oo, shape, ist, ost, begin, end, lanes, acc, fin):
    """serial_for_each over the flat iteration range [begin, end) (dims innermost first):
    DimCounter's 2-d steps, one _loop2d call each."""
    nd = shape.shape[0]
    if nd == 1:
        _loop2d(x, xo + begin * ist[0], out, oo + begin * ost[0], end - begin, 1, ist[0], 0,
                ost[0], 0, lanes, acc, fin)
        return
    values = np.empty(nd, np.int64)
    rest = begin
    for d in range(nd):
        values[d] = rest % shape[d]
        rest //= shape[d]
    offset = begin
    while offset < end:
        xp = xo
        op = oo
        for d in range(nd):
            xp += values[d] * ist[d]
            op += values[d] * ost[d]
        step0 = min(shape[0] - values[0], end - offset)
        step1 = 1
        if step0 == shape[0]:
            step1 = min(shape[1] - values[1], (end - offset) // shape[0])
        _loop2d(x, xp, out, op, step0, step1, ist[0], ist[1], ost[0], ost[1], lanes, acc, fin)
        offset += step0 * step1
        overflow = step0
        i = 0
        if step1 != 1:
            i = 1
            overflow = step1
        while i < nd and overflow > 0:
            value = values[i] + overflow
            if value >= shape[i]:
                overflow = 1
                value -= shape[i]
            else:
                overflow = 0
            values[i] = value
            i += 1


@njit(cache=True)
def _swap_order(d0, d1, shape, ist, ost):
    """TensorIterator.reorder_dimensions' should_swap (operands: the output, then the input)."""
    s0, s1 = ost[d0], ost[d1]
    if (s0 == 0) != (s1 == 0):
        return 1 if s1 == 0 else -1
    for s0, s1 in ((ost[d0], ost[d1]), (ist[d0], ist[d1])):
        if s0 == 0 or s1 == 0:
            continue
        if s0 < s1:
            return -1
        if s0 > s1:
            return 1
        if shape[d0] > shape[d1]:
            return 1
    return 0


@njit(cache=True)
def _torch_sum(flat, xshape, xstrides, red, out, nthreads):
    """out[:] = the sums of the array (flat, xshape, xstrides: element strides >= 0) over the
    dims flagged in `red`, out in C order of the kept dims, as torch's CPU sum computes them
    with `nthreads` intra-op threads."""
    nd0 = xshape.shape[0]
    lanes = 8 if flat.itemsize == 4 else 4
    acc = np.empty((_LEVELS, _ILP * lanes), flat.dtype)
    fin = np.zeros(1, flat.dtype)
    for k in range(out.shape[0]):
        out[k] = 0
    # the output's strides: row-major over the kept dims, 0 along the reduced ones
    ost0 = np.zeros(nd0, np.int64)
    stride = 1
    for d in range(nd0 - 1, -1, -1):
        if not red[d]:
            ost0[d] = stride
            stride *= xshape[d]
    # reorder_dimensions: perm from n-1 .. 0 (innermost first), insertion sort
    perm = np.empty(nd0, np.int64)
    for d in range(nd0):
        perm[d] = nd0 - 1 - d
    for i in range(1, nd0):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = _swap_order(perm[d0], perm[d1], xshape, xstrides, ost0)
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    shape = np.empty(max(nd0, 1), np.int64)
    ist = np.zeros(max(nd0, 1), np.int64)
    ost = np.zeros(max(nd0, 1), np.int64)
    shape[0] = 1
    for d in range(nd0):
        shape[d] = xshape[perm[d]]
        ist[d] = xstrides[perm[d]]
        ost[d] = ost0[perm[d]]
    # coalesce_dimensions
    nd = 1
    if nd0 > 1:
        prev = 0
        for d in range(1, nd0):
            if shape[prev] == 1 or shape[d] == 1 or (
                    shape[prev] * ist[prev] == ist[d] and shape[prev] * ost[prev] == ost[d]):
                if shape[prev] == 1:
                    ist[prev] = ist[d]
                    ost[prev] = ost[d]
                shape[prev] *= shape[d]
            else:
                prev += 1
                if prev != d:
                    ist[prev] = ist[d]
                    ost[prev] = ost[d]
                    shape[prev] = shape[d]
        nd = prev + 1
    shape, ist, ost = shape[:nd], ist[:nd], ost[:nd]
    numel = 1
    for d in range(nd):
        numel *= shape[d]
    if numel == 0:
        return
    if numel < _GRAIN or nthreads == 1:
        _serial(flat, 0, out, 0, shape, ist, ost, 0, numel, lanes, acc, fin)
    elif out.shape[0] == 1:
        # two_pass_reduction: each thread's range summed into its slot of a zeroed buffer,
        # then the buffer summed into the output
        buf = np.zeros(nthreads, flat.dtype)
        if numel > _GRAIN:
            nt = min(nthreads, (numel + _GRAIN - 1) // _GRAIN)
            chunk = (numel + nt - 1) // nt
        else:
            nt, chunk = 1, numel
        for t in range(nt):
            b = t * chunk
            if b < numel:
                _serial(flat, 0, buf, t, shape, ist, ost, b, min(numel, b + chunk), lanes,
                        acc, fin)
        _loop2d(buf, 0, out, 0, nthreads, 1, 1, 0, 0, 0, lanes, acc, fin)
    else:
        # parallel_dim_reduction: find_split_dim, its columns split between the threads
        # (rounded to 128 bytes where the input is contiguous along it)
        best = nd - 1
        dim = -1
        for d in range(nd - 1, -1, -1):
            if ost[d] == 0 and shape[d] > 1:
                break
            if shape[d] >= nthreads:
                dim = d
                break
            if shape[d] > shape[best]:
                best = d
        if dim < 0:
            dim = best
        cols = shape[dim]
        sub = shape.copy()
        if cols > 1:
            nt = min(nthreads, cols)
            chunk = (cols + nt - 1) // nt
            mult = 128 // flat.itemsize
            for t in range(nthreads):
                b = t * chunk
                if b >= cols:
                    continue
                e = min(cols, b + chunk)
                if ist[dim] == 1:
                    b -= b % mult
                    if e != cols:
                        e -= e % mult
                if b == e:
                    continue
                sub[dim] = e - b
                n = 1
                for d in range(nd):
                    n *= sub[d]
                _serial(flat, b * ist[dim], out, b * ost[dim], sub, ist, ost, 0, n, lanes,
                        acc, fin)
        else:
            _serial(flat, 0, out, 0, shape, ist, ost, 0, numel, lanes, acc, fin)


@njit(cache=True, fastmath={"reassoc"})
def total(x):
    """The sum of the 1-d array x, accumulated in float64 (in any order): ndops' record-time
    sum of a large array (numpy's pairwise float32 sum is not vectorized: 27 us for 200k
    elements, this loop 7.6 us)."""
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
    return s


@njit(cache=True)
def running_sums(x, out, reverse):
    """out[o, :, i] = the running sums of x[o, :, i] (x and out (outer, m, inner), float32 or
    float64) from +0.0, from the last element with `reverse`: each the previous sum plus the
    next element, accumulated in float64 and rounded once to out's dtype (no fastmath: the
    order and bits of kinds/scan.forward's numpy accumulate, torch's cumsum)."""
    outer, m, inner = x.shape
    acc = np.empty(inner)
    for o in range(outer):
        for i in range(inner):
            acc[i] = 0.0
        for s in range(m):
            k = m - 1 - s if reverse else s
            for i in range(inner):
                acc[i] += x[o, k, i]
                out[o, k, i] = acc[i]



# The entries: x's elements as a 1-d row-major array of the memory they span (one compiled
# specialization per dtype: a kernel typed on x's own shape and layout would compile once per
# rank and layout, ~10 s each)
@njit(cache=True)
def torch_total(flat, count, nthreads):
    """torch's sum of the 1-d array flat, divided by `count` in flat's dtype where count > 0
    (torch's mean), as a scalar of flat's dtype."""
    out = np.empty(2, flat.dtype)
    _torch_sum(flat, np.full(1, flat.shape[0]), np.ones(1, np.int64), np.ones(1, np.bool_),
               out[:1], nthreads)
    if count > 0:
        out[1] = count
        out[0] /= out[1]
    return out[0]


@njit(cache=True)
def torch_sum_middle(flat, outer, m, inner, out, nthreads):
    """out[:] = torch's sums of the row-major array flat, read as (outer, m, inner), over its
    middle dim (a reduction over one dim, or over adjacent ones, of a row-major array)."""
    shape = np.empty(3, np.int64)
    shape[0], shape[1], shape[2] = outer, m, inner
    strides = np.empty(3, np.int64)
    strides[0], strides[1], strides[2] = m * inner, inner, 1
    red = np.zeros(3, np.bool_)
    red[1] = True
    _torch_sum(flat, shape, strides, red, out, nthreads)


@njit(cache=True)
def torch_sum(flat, shape, strides, red, out, nthreads):
    """out[:] = torch's sums of the array (flat: the memory it spans; shape, element strides
    >= 0) over the dims flagged in `red` (out row-major over the kept dims)."""
    _torch_sum(flat, shape, strides, red, out, nthreads)
