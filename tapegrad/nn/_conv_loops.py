"""The two loops of a 2-d convolution's one-node path (nn/_conv_node.py): im2col, the zero-
padded input's sliding windows copied out as the gemm's columns (N, C * kH * kW, oH * oW), and
col2im, its adjoint, the columns' gradient added back into the input's (N, C, H, W) at the
windows' elements (overlapping windows add up; the padding drops out).  For a (16, 8, 14, 14)
input and a 3 x 3 kernel, stride 1 and padding 1, im2col takes ~46 us and col2im ~49 us (one
run per kernel element: _im2col_rows_joined); row by row (the general case's loops) 94 and
95 us, numpy's forms (the padded input's strided windows view copied; a strided add per
kernel element into a padded image) 88 and 153 us.

geo = [kH, kW, sH, sW, pH, pW, dH, dW, oH, oW] (int64).  Per kernel element (i, j) the output
rows and columns whose input element lies inside are ranges (_inside), so the inner loops
have no test; with stride 1 a window row is a contiguous slice of both arrays (a loop over
slices costs about half of one indexing the flat arrays with offsets).

Imported on first use through `_jit.kernel_module`, as tapegrad.nn._pool_loops.
"""
from numba import njit


@njit(cache=True)
def _inside(k_off, size, stride, pad, n_out):
    """The output positions [lo, hi) whose window element at kernel offset k_off (times the
    dilation) lies inside an input dim of `size`: 0 <= o * stride - pad + k_off < size."""
    start = pad - k_off
    lo = 0 if start <= 0 else (start + stride - 1) // stride
    end = size + pad - k_off
    hi = 0 if end <= 0 else min((end + stride - 1) // stride, n_out)
    return lo, max(hi, lo)


@njit(cache=True)
def _joined_span(k_row, k_col, H, W, ph, pw, oh):
    """For one kernel element of a stride-1 convolution whose output rows are as long as the
    input's (ow == W): (a0, a1, b0, b1, lo, hi, shift): the output rows [a0, a1) and columns
    [b0, b1) inside the input, the flat span [lo, hi) of the (oh, W) block from its first
    inside element to its last (empty: lo == hi), and the input's flat index of block
    element t minus t (rows of both are W apart: the span is one run of both arrays)."""
    a0, a1 = _inside(k_row, H, 1, ph, oh)
    b0, b1 = _inside(k_col, W, 1, pw, W)
    if a1 <= a0 or b1 <= b0:
        return a0, a1, b0, b1, 0, 0, 0
    return a0, a1, b0, b1, a0 * W + b0, (a1 - 1) * W + b1, (k_row - ph) * W + k_col - pw


@njit(cache=True)
def _im2col_rows_joined(xf, of, P, H, W, kh, kw, ph, pw, dh, dw, oh):
    """im2col's stride-1 case with output rows as long as the input's (a "same" padding):
    per kernel element one run copied from the input (the rows' joins: the padding's
    columns, zeroed after), and zeros before and after it, so no fill of the whole output
    first.  ~2x the row-by-row loop's speed (14-element rows cost more in loop overhead
    than in copying)."""
    L = oh * W
    for p in range(P):
        sbase = p * H * W
        for i in range(kh):
            for j in range(kw):
                a0, a1, b0, b1, lo, hi, shift = _joined_span(i * dh, j * dw, H, W, ph, pw, oh)
                # (slices: their indices known >= 0, the loops vectorize)
                block = of[((p * kh + i) * kw + j) * L:][:L]
                block[:lo] = 0
                run = block[lo:hi]
                src = xf[sbase + shift + lo:sbase + shift + hi]
                for t in range(hi - lo):
                    run[t] = src[t]
                block[hi:] = 0
                # (inside the run, the columns outside the input between two rows: padding)
                for a in range(a0, a1 - 1):
                    block[a * W + b1:(a + 1) * W + b0] = 0


@njit(cache=True)
def _col2im_rows_joined(cf, df, P, H, W, kh, kw, ph, pw, dh, dw, oh):
    """col2im's case of _im2col_rows_joined: per kernel element one run added into dx, the
    columns' elements at the padding (between two rows of the run) zeroed first in `cols`
    (a scratch array: adding +0.0 leaves every dx element's bits as they were, dx holding
    no -0.0: col2im's caller passes zeros), so each dx element gets the same additions in
    the same order as the row-by-row loop's."""
    L = oh * W
    for p in range(P):
        dbase = p * H * W
        for i in range(kh):
            for j in range(kw):
                a0, a1, b0, b1, lo, hi, shift = _joined_span(i * dh, j * dw, H, W, ph, pw, oh)
                block = cf[((p * kh + i) * kw + j) * L:][:L]
                for a in range(a0, a1 - 1):
                    block[a * W + b1:(a + 1) * W + b0] = 0
                run = block[lo:hi]
                dst = df[dbase + shift + lo:dbase + shift + hi]
                for t in range(hi - lo):
                    dst[t] += run[t]


@njit(cache=True)
def im2col(x, geo, out):
    """out (N, C * kH * kW, oH * oW) <- the windows of x (N, C, H, W), both C-contiguous:
    out[n, (c * kH + i) * kW + j, a * oW + b] = x[n, c, a * sH - pH + i * dH,
    b * sW - pW + j * dW], 0 outside x (the zero padding)."""
    N, C, H, W = x.shape
    kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = (geo[0], geo[1], geo[2], geo[3], geo[4],
                                              geo[5], geo[6], geo[7], geo[8], geo[9])
    xf = x.reshape(-1)
    of = out.reshape(-1)
    L = oh * ow
    if sh == 1 and sw == 1 and ow == W:
        _im2col_rows_joined(xf, of, N * C, H, W, kh, kw, ph, pw, dh, dw, oh)
        return
    of[:] = 0      # (the padding's zeros: one fill costs less than the margins' loops)
    for p in range(N * C):
        sbase = p * H * W
        for i in range(kh):
            a0, a1 = _inside(i * dh, H, sh, ph, oh)
            for j in range(kw):
                b0, b1 = _inside(j * dw, W, sw, pw, ow)
                obase = ((p * kh + i) * kw + j) * L
                off = j * dw - pw
                for a in range(a0, a1):
                    o0 = obase + a * ow
                    s0 = sbase + (a * sh - ph + i * dh) * W + off
                    if sw == 1:
                        oo = of[o0 + b0:o0 + b1]
                        xx = xf[s0 + b0:s0 + b1]
                        for t in range(b1 - b0):
                            oo[t] = xx[t]
                    else:
                        for b in range(b0, b1):
                            of[o0 + b] = xf[s0 + b * sw]


@njit(cache=True)
def col2im(cols, geo, dx):
    """dx (N, C, H, W) += cols (N, C * kH * kW, oH * oW), both C-contiguous, at the windows'
    elements: dx[n, c, a * sH - pH + i * dH, b * sW - pW + j * dW] +=
    cols[n, (c * kH + i) * kW + j, a * oW + b] where inside x (im2col's adjoint).  cols is
    scratch: its elements at the padding may be zeroed and added (_col2im_rows_joined), so
    dx must hold no -0.0 (the caller's zeros: +0.0 plus anything never gives -0.0)."""
    N, C, H, W = dx.shape
    kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = (geo[0], geo[1], geo[2], geo[3], geo[4],
                                              geo[5], geo[6], geo[7], geo[8], geo[9])
    cf = cols.reshape(-1)
    df = dx.reshape(-1)
    L = oh * ow
    if sh == 1 and sw == 1 and ow == W:
        _col2im_rows_joined(cf, df, N * C, H, W, kh, kw, ph, pw, dh, dw, oh)
        return
    for p in range(N * C):
        dbase = p * H * W
        for i in range(kh):
            a0, a1 = _inside(i * dh, H, sh, ph, oh)
            for j in range(kw):
                b0, b1 = _inside(j * dw, W, sw, pw, ow)
                cbase = ((p * kh + i) * kw + j) * L
                off = j * dw - pw
                for a in range(a0, a1):
                    d0 = dbase + (a * sh - ph + i * dh) * W + off
                    c0 = cbase + a * ow
                    if sw == 1:
                        dd = df[d0 + b0:d0 + b1]
                        cc = cf[c0 + b0:c0 + b1]
                        for t in range(b1 - b0):
                            dd[t] += cc[t]
                    else:
                        for b in range(b0, b1):
                            df[d0 + b * sw] += cf[c0 + b]
