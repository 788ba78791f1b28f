"""reduce kind (sum, mean; over all dims or some): out = c * sum of a over the reduced dims.

Params: the keepdim shape of the output (nd[a] entries); imm: the scale (1/count for mean).
The kernel pieces are plain Python that codegen compiles into tapegrad/_kernels.py, called as
`forward_reduce(e, a, b, ...)` / `sweep_reduce(e, a, b, ...)` from the opcode dispatch.
"""
import numpy as np

from .index import bcast_index, is_suffix, kept_leading, middle_inner

KINDS = ("reduce",)

# From this many input elements an eager reduction over every element is a host entry (not
# while recording for replay): its gradient is one value, which the host VJP hands to an
# operand at offset -1 (a cat's output, a leaf: walks.arena_layout) as a broadcast or one
# fill in the operand's dtype, where the kernel would fill the float64 arena (and the arena
# be zeroed first).  Below, the kernel's loop costs less than a pause of the sweep.
HOST_MIN_ELEMS = 1 << 14


def runs_on_host(n_in, n_out):
    return n_out == 1 and n_in >= HOST_MIN_ELEMS


def host_vjp(params, p, a, b, e, off, vals, adj, needs, A=None, B=None, side=None, c=1.0,
             size=None):
    """Entry e (a reduction to one element, scale `c`; `size`: the sweep's size stream) on
    the host: operand a's gradient is c times e's, everywhere.  At offset -1 it goes to
    side.add as a read-only broadcast (no array written: a cat's host VJP slices it, a
    leaf's .grad is made from it in the leaf's dtype, engine._Side.grad_copy); in the arena,
    one numpy add."""
    if not needs[0]:
        return
    g = c * adj[off[e]]
    oa, n = off[a], int(size[a])
    if oa >= 0:
        adj[oa:oa + n] += g
    elif side is not None:   # (anomaly's nan check reruns a VJP without one)
        # (over a numpy scalar's buffer, which is read-only, so no flag to set: half the cost
        # of a 1-element array's; np.broadcast_to's argument checks cost four times this)
        side.add(a, np.ndarray((n,), np.float64, np.float64(g), strides=(0,)))


def forward_reduce(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    scale = imm[e]
    if n == 1:
        acc = 0.0
        for k in range(size[a]):
            acc += vals[oa + k]
        vals[out_off] = acc * scale
    else:
        keep = params[par[e]:par[e] + nd[a]]
        for k in range(n):
            vals[out_off + k] = 0.0
        if is_suffix(shp[a], nd[a], keep, nd[a]):   # reduced over leading dims only
            for k in range(size[a]):
                vals[out_off + k % n] += vals[oa + k]
        elif kept_leading(shp[a], nd[a], keep):     # over trailing dims: contiguous runs
            inner = size[a] // n
            for j in range(n):
                acc = 0.0
                for k in range(j * inner, (j + 1) * inner):
                    acc += vals[oa + k]
                vals[out_off + j] = acc
        else:
            inner = middle_inner(shp[a], nd[a], keep, nd[a])   # (per-channel statistics)
            if inner > 0:
                for k in range(size[a]):
                    vals[out_off + (k // inner) % n] += vals[oa + k]
            else:
                for k in range(size[a]):
                    vals[out_off + bcast_index(k, shp[a], nd[a], keep, nd[a])] += vals[oa + k]
        for k in range(n):
            vals[out_off + k] *= scale


def sweep_reduce(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    """g broadcast back over the reduced dims, times the scale."""
    oa = off[a]
    scale = imm[e]
    if size[a] == 1:
        adj[oa] += scale * adj[out_off]
    elif n == 1:  # a full reduction: every element gets the same gradient
        g = scale * adj[out_off]
        # (through a view indexed by the loop variable: Numba then knows the index is not
        # negative and vectorizes the loop, 4x faster than adj[oa + k] at 200k elements)
        ga = adj[oa:oa + size[a]]
        for k in range(size[a]):
            ga[k] += g
    else:
        keep = params[par[e]:par[e] + nd[a]]
        if is_suffix(shp[a], nd[a], keep, nd[a]):   # reduced over leading dims only
            # (run by run of n elements: no modulo per element, ~4x faster at 200k; an
            # empty result, n 0, has an empty input)
            for r in range(0, size[a] if n > 0 else 0, n if n > 0 else 1):
                for j in range(n):
                    adj[oa + r + j] += scale * adj[out_off + j]
        elif kept_leading(shp[a], nd[a], keep):     # over trailing dims: contiguous runs
            inner = size[a] // n
            for j in range(n):
                g = scale * adj[out_off + j]
                for k in range(j * inner, (j + 1) * inner):
                    adj[oa + k] += g
        else:
            inner = middle_inner(shp[a], nd[a], keep, nd[a])
            if inner > 0:
                for k in range(size[a]):
                    adj[oa + k] += scale * adj[out_off + (k // inner) % n]
            else:
                for k in range(size[a]):
                    adj[oa + k] += scale * adj[out_off + bcast_index(k, shp[a], nd[a], keep,
                                                                     nd[a])]


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward), as ordinary tensor ops.  `T` is `views.KIND_OPS`, `params` the entry's params
# (from its first one), shapes are tuples or None for one-element nodes (0-d to the tape).
def tensor_forward_reduce(T, x, y, shape, params, imm):
    if x.numel() == 1:   # a one-element input has no params (0-d to the tape)
        return x.reshape(shape) * imm
    xs = tuple(x.shape)
    dims = tuple(d for d in range(len(xs)) if params[d] == 1 and xs[d] != 1)
    return (x.sum(dims, keepdim=True) if dims else x).reshape(shape) * imm


def tensor_vjp_reduce(T, g, operand, a_shape, b_shape, params, imm):
    # (a sum's gradient is the expansion itself, torch's ExpandBackward0: no product by 1)
    if a_shape is None:
        return [(0, g.expand(g.shape) if imm == 1.0 else g * imm)]
    keep = tuple(int(v) for v in params[:len(a_shape)])
    spread = g.reshape(keep).expand(*a_shape)
    return [(0, spread if imm == 1.0 else spread * imm)]
