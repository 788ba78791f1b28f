"""cat kind (cat, stack): one entry joining N operands along one dim.

The entry's operands are its operand list: ia, ib (-1 when N == 1), then its `arg` slice
(tape.NdStreams' CSR operand streams), in input order; every operand is a node (an input
that needs no gradient is a const node).  Seen row-major, the output is (outer, total, inner)
and operand k is (outer, d_k, inner) with total = sum d_k, so params are
[outer, inner, d_0, ..., d_{N-1}] (O(N) integers whatever the sizes): operand k's block of
the output starts at column sum(d_j, j < k).  stack is the same entry with every d_k = 1
(unsqueeze changes no element's place), shown as StackBackward0.

Forward copies each operand's rows into its block; the VJP adds each block of the output's
gradient into its operand's (a slice per operand, as torch's CatBackward0 narrows the
gradient).  Kernel pieces: plain Python that codegen compiles into tapegrad/_kernels.py; they
take the CSR operand streams (`arg_ptr`, `arg`) besides the two-operand pieces' arguments.

split kind (split, chunk, unbind): the adjoint layout of cat, one entry with several
outputs.  Its one operand x is seen as (outer, total, inner); the entry's node holds the K
outputs packed, block k = x[:, start_k:start_k + d_k, :] row-major, one after the other
(params [outer, inner, d_0, ..., d_{K-1}], imm = K).  Each output tensor is an `output` entry
(a strided view of the packed node: its block, imm = its output_nr) that shows the split
entry as its grad_fn with that output_nr, as torch's outputs share one SplitBackward0.
"""
import math

import numpy as np

KINDS = ("cat", "split")

# From this many output elements an eager cat/stack entry is a host entry (not while
# recording for replay): its VJP slices the output's gradient with numpy, and an input
# entry only such entries feed gets its block as its gradient, cast once to its dtype,
# outside the float64 arena (walks.arena_layout, kinds.DIRECT).  Below, the kernel's loop
# costs less than a pause of the sweep.
HOST_MIN_ELEMS = 1 << 14


def runs_on_host(n_out):
    return n_out >= HOST_MIN_ELEMS


def host_vjp_cat(params, p, nodes, e, off, adj, needs, side):
    """Entry e's VJP on the host: operand k (nodes[k], `needs[k]`: it wants a gradient) gets
    its block of the output's gradient, added into the arena, or at offset -1 handed to
    side.add as a fresh array of the operand's dtype (one pass: the .grad itself).  The
    output's own gradient is in the arena, or at offset -1 in the side (a sum's broadcast:
    walks.arena_layout)."""
    lay = params[p:p + 2 + len(nodes)].tolist()
    outer, inner = lay[0], lay[1]
    width = sum(lay[2:]) * inner
    o = off[e]
    if o >= 0:
        g = adj[o:o + outer * width].reshape(outer, width)
    else:   # no arena space (kinds.DIRECT bit 4): what its host consumers handed over
        g = side.get(e)
        if g is None:
            return
        g = g.reshape(outer, width)
    # one value everywhere (a broadcast: strides 0): blocks are fills, not strided casts,
    # which numpy runs 3-4x slower
    value = g.reshape(-1)[0] if g.size and not any(g.strides) else None
    start = 0
    for k, x in enumerate(nodes):
        w = lay[2 + k] * inner
        if needs[k]:
            ox = off[x]
            if value is not None:
                if ox < 0:
                    blk = np.empty((outer, w), side.dtype_of(x))
                    blk.fill(value)
                    side.add(x, blk)
                else:
                    adj[ox:ox + outer * w] += value
            elif ox < 0:
                side.add(x, g[:, start:start + w].astype(side.dtype_of(x)))
            else:
                adj[ox:ox + outer * w].reshape(outer, w)[...] += g[:, start:start + w]
        start += w


def forward_cat(e, a, b, out_off, n, off, size, shp, nd, par, params, arg_ptr, arg, imm, vals):
    p = par[e]
    outer = params[p]
    inner = params[p + 1]
    nops = (1 if b < 0 else 2) + arg_ptr[e + 1] - arg_ptr[e]
    total = 0
    for k in range(nops):
        total += params[p + 2 + k]
    start = 0
    for k in range(nops):
        x = a if k == 0 else (b if k == 1 else arg[arg_ptr[e] + k - 2])
        blk = params[p + 2 + k] * inner
        ox = off[x]
        for i in range(outer):
            src = ox + i * blk
            dst = out_off + (i * total + start) * inner
            for j in range(blk):
                vals[dst + j] = vals[src + j]
        start += params[p + 2 + k]


def sweep_cat(e, a, b, out_off, n, off, size, shp, nd, par, params, arg_ptr, arg, imm, vals, adj):
    p = par[e]
    outer = params[p]
    inner = params[p + 1]
    nops = (1 if b < 0 else 2) + arg_ptr[e + 1] - arg_ptr[e]
    total = 0
    for k in range(nops):
        total += params[p + 2 + k]
    start = 0
    for k in range(nops):
        x = a if k == 0 else (b if k == 1 else arg[arg_ptr[e] + k - 2])
        blk = params[p + 2 + k] * inner
        ox = off[x]
        for i in range(outer):
            dst = ox + i * blk
            src = out_off + (i * total + start) * inner
            for j in range(blk):
                adj[dst + j] += adj[src + j]
        start += params[p + 2 + k]


def forward_split(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    p = par[e]
    outer = params[p]
    inner = params[p + 1]
    nblk = int(imm[e])
    total = 0
    for k in range(nblk):
        total += params[p + 2 + k]
    oa = off[a]
    dst = out_off
    start = 0
    for k in range(nblk):
        blk = params[p + 2 + k] * inner
        for i in range(outer):
            src = oa + (i * total + start) * inner
            for j in range(blk):
                vals[dst + j] = vals[src + j]
            dst += blk
        start += params[p + 2 + k]


def sweep_split(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    p = par[e]
    outer = params[p]
    inner = params[p + 1]
    nblk = int(imm[e])
    total = 0
    for k in range(nblk):
        total += params[p + 2 + k]
    oa = off[a]
    src = out_off
    start = 0
    for k in range(nblk):
        blk = params[p + 2 + k] * inner
        for i in range(outer):
            dst = oa + (i * total + start) * inner
            for j in range(blk):
                adj[dst + j] += adj[src + j]
            src += blk
        start += params[p + 2 + k]


def layout(shapes, dim):
    """params [outer, inner, d_0, ...] of joining operands of `shapes` along `dim` (shapes
    all of one rank; stack passes them unsqueezed)."""
    return layout_sizes(shapes[0], dim, [s[dim] for s in shapes])


def layout_sizes(shape, dim, sizes):
    """layout() of the operands of `shape` but for their `sizes` along `dim` (split's pieces,
    without a shape made per piece)."""
    outer = 1
    for s in shape[:dim]:
        outer *= s
    inner = 1
    for s in shape[dim + 1:]:
        inner *= s
    return [outer, inner, *sizes]


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward), as ordinary tensor ops on the whole operand list.  `T` is `views.KIND_OPS`,
# `params` the entry's params, shapes are tuples or None for one-element nodes.
def tensor_forward_cat(T, xs, shape, params):
    outer, inner = int(params[0]), int(params[1])
    parts = [x.reshape(outer, int(d), inner) for x, d in zip(xs, params[2:2 + len(xs)])]
    return T.cat(parts, 1).reshape(shape)


def tensor_vjp_cat(T, g, shapes, params):
    """[(operand index, gradient)]: operand k's block of g (a slice, recorded as a strided
    view, so it can be differentiated again)."""
    outer, inner = int(params[0]), int(params[1])
    ds = [int(d) for d in params[2:2 + len(shapes)]]
    G = g.reshape(outer, sum(ds), inner)
    out, start = [], 0
    for k, (shape, d) in enumerate(zip(shapes, ds)):
        out.append((k, G[:, start:start + d, :].reshape(shape if shape is not None else ())))
        start += d
    return out


def tensor_forward_split(T, x, y, shape, params, imm):
    """The packed outputs (1-d) of x's blocks."""
    outer, inner = int(params[0]), int(params[1])
    ds = [int(d) for d in params[2:2 + int(imm)]]
    X = x.reshape(outer, sum(ds), inner)
    parts, start = [], 0
    for d in ds:
        parts.append(X[:, start:start + d, :].reshape(-1))
        start += d
    return T.cat(parts, 0).reshape(shape)


def tensor_vjp_split(T, g, operand, a_shape, b_shape, params, imm):
    """g (the packed outputs' gradient) put back in x's layout: a cat of its blocks."""
    outer, inner = int(params[0]), int(params[1])
    ds = [int(d) for d in params[2:2 + int(imm)]]
    flat = g.reshape(-1)
    # (torch's split backward is a cat of the outputs' gradients along the split dim:
    # CatBackward0 in x's shape, where one dim of x is the blocks' (outer, total, inner))
    dim = _split_dim(a_shape, outer, sum(ds), inner)
    parts, start = [], 0
    for d in ds:
        block = flat[start:start + outer * d * inner]
        parts.append(block.reshape(outer, d, inner) if dim is None
                     else block.reshape(a_shape[:dim] + (d,) + a_shape[dim + 1:]))
        start += outer * d * inner
    if dim is not None:
        return [(0, T.cat(parts, dim))]
    return [(0, T.cat(parts, 1).reshape(a_shape if a_shape is not None else ()))]


def _split_dim(shape, outer, total, inner):
    """The dim of `shape` that is (outer, total, inner)'s middle one, or None."""
    if shape is None:
        return None
    before = 1
    for d, n in enumerate(shape):
        if before == outer and n == total and before * n * inner == math.prod(shape):
            return d
        before *= n
    return None
