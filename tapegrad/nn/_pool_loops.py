"""The element max pooling picks in each window, as torch's CPU kernel (cpu_max_pool) picks it,
in one Numba loop over a float32/float64 input: the eager forward of max_pool1d/2d/3d
(nn/_decomps_pool.max_positions).  numpy needed a copy of the windows, an argmax along
their last axis and fix-ups (0.45 ms for a (16, 8, 28, 28) input; this loop ~0.05 ms).
And the window sums of an average pooling without padding in torch's order (`avg_sums`: the
one-pass writer nn/_decomps_pool.avg_pool_pass), and an adaptive average pooling's means
(`adaptive_avg_sums`: nn/_decomps_pool.adaptive_avg_pool_pass) and the elements an adaptive
max pooling picks (`adaptive_max_positions`: nn/_decomps_pool.adaptive_max_positions).

Imported on first use through `_jit.kernel_module`, as tapegrad._sums.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def max_positions(a, geo):
    """(plane, kidx, empty) for the C-contiguous (P, D, H, W) array a (P planes; a 2-d
    pooling has D = 1) and geo = [kD, kH, kW, sD, sH, sW, pD, pH, pW, dD, dH, dW, oD, oH, oW]
    (int64; a 2-d pooling: kD = sD = dD = oD = 1, pD = 0): per plane and output position,
    plane[p, o] the index in the plane ((d * H + h) * W + w) of the element picked, kidx its
    index in the window (row-major over the kernel, padding included), and empty[o] whether
    the window holds no input element (torch's index then: its clipped start, which may lie
    past the input; kidx 0).  torch's loop: the window's elements inside the input in
    row-major order, `if val > maxval or isnan(val)` from maxval = -inf and the first
    of them: the first maximum, the last nan, the first element if none is above -inf."""
    P, D, H, W = a.shape
    kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, od, oh, ow = (
        geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], geo[6], geo[7], geo[8], geo[9],
        geo[10], geo[11], geo[12], geo[13], geo[14])
    n_out = od * oh * ow
    # per window (once: the planes share them), along each dim: the first element inside
    # the input, how many there are, and its index in the kernel; no division per element
    lo = np.zeros((n_out, 3), np.int64)
    cnt = np.zeros((n_out, 3), np.int64)
    kof = np.zeros((n_out, 3), np.int64)
    first = np.empty(n_out, np.int64)
    k_first = np.zeros(n_out, np.int64)
    empty = np.zeros(n_out, np.bool_)
    for o in range(n_out):
        starts = ((o // (oh * ow)) * sd - pd, ((o // ow) % oh) * sh - ph, (o % ow) * sw - pw)
        for i in range(3):
            size, k, dil = (D, kd, dd) if i == 0 else (H, kh, dh) if i == 1 else (W, kw, dw)
            s0 = starts[i]
            s1 = min(s0 + (k - 1) * dil + 1, size)
            s = s0
            while s < 0:
                s += dil
            lo[o, i] = s
            kof[o, i] = (s - s0) // dil
            if s >= s1:
                empty[o] = True
            else:
                cnt[o, i] = (s1 - s + dil - 1) // dil
        first[o] = (lo[o, 0] * H + lo[o, 1]) * W + lo[o, 2]
        if empty[o]:
            cnt[o, 0] = 0
        else:
            k_first[o] = (kof[o, 0] * kh + kof[o, 1]) * kw + kof[o, 2]
    plane = np.empty((P, n_out), np.int64)
    kidx = np.zeros((P, n_out), np.int64)
    flat = a.reshape(P, D * H * W)
    K = kd * kh * kw
    full = True     # every window wholly inside the input (no padding reached)
    for o in range(n_out):
        if cnt[o, 0] != kd or cnt[o, 1] != kh or cnt[o, 2] != kw:
            full = False
    if full and kd == 1 and kh == 2 and kw == 2:
        return _full_2x2(flat, first, P, n_out, dh * W, dw, empty)
    if full:    # (the common case: one offset table, the window's elements in kernel order)
        offs = np.empty(K, np.int64)
        for t in range(K):
            offs[t] = (((t // (kh * kw)) * dd * H) + ((t // kw) % kh) * dh) * W + (t % kw) * dw
        for p in range(P):
            row = flat[p]
            for o in range(n_out):
                f = first[o]
                best = -np.inf
                t_at = 0
                for t in range(K):
                    v = row[f + offs[t]]
                    if v > best or v != v:
                        best = v
                        t_at = t
                plane[p, o] = f + offs[t_at]
                kidx[p, o] = t_at
        return plane, kidx, empty
    for p in range(P):
        row = flat[p]
        for o in range(n_out):
            at = first[o]
            k_at = k_first[o]
            best = -np.inf
            for i in range(cnt[o, 0]):
                kz = (kof[o, 0] + i) * kh
                z = lo[o, 0] + i * dd
                for j in range(cnt[o, 1]):
                    ky = (kz + kof[o, 1] + j) * kw + kof[o, 2]
                    base = (z * H + lo[o, 1] + j * dh) * W + lo[o, 2]
                    for m in range(cnt[o, 2]):
                        v = row[base + m * dw]
                        if v > best or v != v:
                            best = v
                            at = base + m * dw
                            k_at = ky + m
            plane[p, o] = at
            kidx[p, o] = k_at
    return plane, kidx, empty


@njit(cache=True)
def _full_2x2(flat, first, P, n_out, row, dw, empty):
    """max_positions' result for 2 x 2 windows wholly inside the input (MaxPool2d(2)'s),
    window o's elements at first[o] + (0, dw, row, row + dw): torch's rule unrolled, the
    element from -inf taken as the first one (it is picked unless a later one is above it or
    nan), each step a compare and selects (a loop over the window's 4 elements, or a table
    of their offsets, cost ~2x: 165 -> 90 us for a (16, 8, 28, 28) float32 input)."""
    plane = np.empty((P, n_out), np.int64)
    kidx = np.empty((P, n_out), np.int64)
    for p in range(P):
        a = flat[p]
        for o in range(n_out):
            f = first[o]
            v0 = a[f]
            v1 = a[f + dw]
            v2 = a[f + row]
            v3 = a[f + row + dw]
            # (all four read first, each step setting both the value and the index: LLVM
            # then compiles selects, not branches a random input mispredicts)
            best = v0
            t = 0
            if v1 > best or v1 != v1:
                best = v1
                t = 1
            if v2 > best or v2 != v2:
                best = v2
                t = 2
            if v3 > best or v3 != v3:
                best = v3
                t = 3
            kidx[p, o] = t
            plane[p, o] = f + (t // 2) * row + (t % 2) * dw
    return plane, kidx, empty


@njit(cache=True)
def avg_sums(a, geo):
    """The window sums of an average pooling without padding, as torch's CPU kernel
    (cpu_avg_pool) adds them: for each plane of the C-contiguous (P, H, W) array a and each
    output position, the kh x kw window at (i * sh, j * sw) summed in row-major order from 0
    in a's dtype (torch's accumulator for float and double), so its bits; geo = (kh, kw, sh,
    sw, oh, ow), one tuple (a call's dispatch costs less than for six ints).  (numpy's reduce
    over a windows view adds in an order of its own iterator's choosing, and costs ~9 us for
    a (4, 3, 8, 8) input; this loop ~1 us.)"""
    kh, kw, sh, sw, oh, ow = geo
    P = a.shape[0]
    out = np.empty((P, oh, ow), a.dtype)
    for p in range(P):
        for i in range(oh):
            h0 = i * sh
            for j in range(ow):
                w0 = j * sw
                out[p, i, j] = 0
                s = out[p, i, j]    # (0 in a's dtype: the additions stay in it)
                for u in range(h0, h0 + kh):
                    for v in range(w0, w0 + kw):
                        s += a[p, u, v]
                out[p, i, j] = s
    return out


@njit(cache=True)
def adaptive_window(i, size, out):
    """(start, end) of output position i's window along a dim of `size` pooled to `out`, as
    torch's adaptive kernels: floor(i * size / out), ceil((i + 1) * size / out)."""
    return (i * size) // out, ((i + 1) * size + out - 1) // out


@njit(cache=True)
def adaptive_avg_sums(a, geo):
    """An adaptive average pooling of the C-contiguous (P, D, H, W) array a (a 2-d pooling has
    D = 1) to geo = (OD, OH, OW), as torch's CPU kernel (cpu_adaptive_avg_pool) computes it:
    per plane and output position its window, start floor(i * S / O) and end ceil((i + 1) *
    S / O) along each dim, summed in row-major order from 0 in a's dtype (torch's
    accumulator for float and double), then divided by kd, kh and kw in turn, each quotient
    rounded to a's dtype: its bits.  (A float64 quotient of two floats rounded to float32 is
    the float32 quotient.)  The planes are the inner loop: each plane's additions stay in
    their order, and the planes' independent sums vectorize (a (512, 1, 14, 14) float32 input
    to (5, 5): 430 -> 90 us against a loop per plane)."""
    od, oh, ow = geo
    P, D, H, W = a.shape
    out = np.empty((P, od * oh * ow), a.dtype)
    flat = a.reshape(P, D * H * W)
    acc = np.empty(P, a.dtype)
    for t in range(od):
        z0, z1 = adaptive_window(t, D, od)
        for i in range(oh):
            h0, h1 = adaptive_window(i, H, oh)
            for j in range(ow):
                w0, w1 = adaptive_window(j, W, ow)
                o = (t * oh + i) * ow + j
                acc[:] = 0
                for z in range(z0, z1):
                    for u in range(h0, h1):
                        r = (z * H + u) * W
                        for v in range(w0, w1):
                            for p in range(P):
                                acc[p] += flat[p, r + v]
                for p in range(P):
                    out[p, o] = acc[p] / (z1 - z0)
                    out[p, o] = out[p, o] / (h1 - h0)
                    out[p, o] = out[p, o] / (w1 - w0)
    return out.reshape(P, od, oh, ow)


_PLANES = 64    # planes per block of adaptive_max_positions (64 beat 8, 16 and 32)


@njit(cache=True)
def adaptive_max_positions(a, geo):
    """(pos, plane, kidx) for the C-contiguous (P, D, H, W) array a (a 2-d pooling has D = 1)
    pooled adaptively to geo = (OD, OH, OW): per plane and output position, of the element
    torch's kernel (cpu_adaptive_max_pool) picks in its window (start floor(i * S / O), end
    ceil((i + 1) * S / O) per dim), pos[p, o] its index in a's flat data, plane[p, o] its
    index in the plane ((d * H + h) * W + w), and kidx its slot in the window padded to the
    longest window along each dim (row-major: nn/_decomps_pool.adaptive_windows' layout).
    torch's loop: `if val > maxval or isnan(val)` over the window in row-major order from
    maxval = -inf and the window's first element: the first maximum, the last nan, the
    first element if none is above -inf.  The planes go in blocks of _PLANES, each copied
    element-major so that the innermost loop runs across the block's planes: contiguous
    loads and branch-free selects, independent per plane (one plane at a time was a chain
    of mispredicted branches, ~3 ns per window element: 94 us for (512, 1, 1, 50) to 7 and
    530 us for (512, 1, 14, 14) to (5, 5); this loop 22 and 112 us)."""
    od, oh, ow = geo
    P, D, H, W = a.shape
    S = D * H * W
    n_out = od * oh * ow
    flat = a.reshape(P, S)
    pos = np.empty((P, n_out), np.int64)
    plane = np.empty((P, n_out), np.int64)
    kidx = np.empty((P, n_out), np.int64)
    kh = 0
    for i in range(oh):
        h0, h1 = adaptive_window(i, H, oh)
        kh = max(kh, h1 - h0)
    kw = 0
    for j in range(ow):
        w0, w1 = adaptive_window(j, W, ow)
        kw = max(kw, w1 - w0)
    B = _PLANES
    block = np.empty((S, B), a.dtype)
    best = np.empty(B, a.dtype)
    at = np.empty(B, np.int64)
    slot = np.empty(B, np.int64)
    for p0 in range(0, P, B):
        nb = min(B, P - p0)
        for q in range(nb):
            for s in range(S):
                block[s, q] = flat[p0 + q, s]
        o = 0
        for t in range(od):
            z0, z1 = adaptive_window(t, D, od)
            for i in range(oh):
                h0, h1 = adaptive_window(i, H, oh)
                for j in range(ow):
                    w0, w1 = adaptive_window(j, W, ow)
                    first = (z0 * H + h0) * W + w0
                    for q in range(nb):
                        best[q] = -np.inf
                        at[q] = first
                        slot[q] = 0
                    for z in range(z0, z1):
                        for u in range(h0, h1):
                            base = (z * H + u) * W
                            for v in range(w0, w1):
                                r = base + v
                                k = ((z - z0) * kh + u - h0) * kw + v - w0
                                col = block[r]
                                for q in range(nb):
                                    val = col[q]
                                    c = (val > best[q]) | (val != val)
                                    best[q] = val if c else best[q]
                                    at[q] = r if c else at[q]
                                    slot[q] = k if c else slot[q]
                    for q in range(nb):
                        pos[p0 + q, o] = (p0 + q) * S + at[q]
                        plane[p0 + q, o] = at[q]
                        kidx[p0 + q, o] = slot[q]
                    o += 1
    return pos, plane, kidx
