"""View kinds: reshape (view, reshape, (un)squeeze, clone, dtype casts: the same elements in
the same order), strided (select, slice, transpose, permute, expand:
out[i] = a[offset + sum(idx * stride)], params [offset, strides...] on the input's row-major
buffer) and stopgrad (replay's `detach()`: identity forward, no gradient).

Kernel pieces: plain Python compiled into tapegrad/_kernels.py by codegen.
"""
from .index import gather_rows, scatter_rows

KINDS = ("reshape", "strided", "stopgrad")


def forward_reshape(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    for k in range(n):
        vals[out_off + k] = vals[oa + k]


def sweep_reshape(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    oa = off[a]
    for k in range(n):
        adj[oa + k] += adj[out_off + k]


def forward_strided(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    # (by rows of the last dim, each row's start from the one before and a strided inner
    # loop, so a sliding-window view (unfold, a convolution's windows) costs no division)
    gather_rows(vals, out_off, vals, off[a], shp[e], nd[e], params, par[e], n, False)


def sweep_strided(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    """Scatter-add through the same offset and strides (an expand sums its copies), in
    forward_strided's order."""
    scatter_rows(adj, off[a], adj, out_off, shp[e], nd[e], params, par[e], n)


forward_stopgrad = forward_reshape


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward), as ordinary tensor ops.  `T` is `views.KIND_OPS`, `params` the entry's params
# (from its first one), shapes are tuples or None for one-element nodes (0-d to the tape).
def tensor_forward_reshape(T, x, y, shape, params, imm):
    return x.reshape(shape)


def tensor_vjp_reshape(T, g, operand, a_shape, b_shape, params, imm):
    return [(0, g.reshape(a_shape) if a_shape is not None else g)]


def tensor_forward_strided(T, x, y, shape, params, imm):
    pos = T.strided_positions(shape, [int(v) for v in params[:1 + len(shape)]])
    return x.reshape(-1)[pos.tolist()].reshape(shape)


def tensor_vjp_strided(T, g, operand, a_shape, b_shape, params, imm):
    if a_shape is None:  # a one-element input: every element of g came from it (expand)
        return [(0, g if g.numel() == 1 else g.sum())]
    return [(0, T.strided_scatter(g, a_shape, [int(v) for v in params[:1 + g.dim()]]))]


def _permutation(out_shape, a_shape, strides):
    """perm with out dim j = input dim perm[j], read from a permuting view's strides on the
    input's row-major buffer (size-1 dims, whose strides say nothing, in order); None if
    the view is no permutation."""
    if len(out_shape) != len(a_shape) or sorted(out_shape) != sorted(a_shape):
        return None
    row = [1] * len(a_shape)
    for i in range(len(a_shape) - 2, -1, -1):
        row[i] = row[i + 1] * a_shape[i + 1]
    perm, used = [], set()
    for j, (n, s) in enumerate(zip(out_shape, strides)):
        hit = [i for i in range(len(a_shape)) if i not in used and a_shape[i] == n
               and (n == 1 or row[i] == s)]
        if not hit:
            return None
        perm.append(hit[0])
        used.add(hit[0])
    return perm


def tensor_vjp_as_torch(T, name, g, a_shape, params):
    """The VJP of a view as torch's backward computes it, where that is another view (its
    node's name): t, transpose and permute take the inverse view, unsqueeze a squeeze,
    squeeze an unsqueeze per dim it dropped, expand a sum over the expanded dims (a view
    of it where expand added dims); None where the kind's own VJP stands."""
    if a_shape is None or g.dim() == 0:
        return None
    if name in ("t", "transpose", "permute"):
        perm = _permutation(tuple(g.shape), a_shape, [int(v) for v in params[1:1 + g.dim()]])
        if perm is None or int(params[0]) != 0:
            return None
        if name == "t":
            return [(0, g.t())]
        if name == "transpose":
            moved = [j for j, i in enumerate(perm) if i != j] or [0, 0]
            return [(0, g.transpose(*moved))] if len(moved) == 2 else None
        inverse = [0] * len(perm)
        for j, i in enumerate(perm):
            inverse[i] = j
        return [(0, g.permute(*inverse))]
    if name == "expand":   # (torch's sum_to: one sum over the expanded dims, a view after)
        lead = g.dim() - len(a_shape)
        dims = list(range(lead)) + [i for i in range(lead, g.dim())
                                    if a_shape[i - lead] == 1 and g.shape[i] != 1]
        if not dims:
            return None
        out = g.sum(dims, keepdim=True)
        return [(0, out.view(a_shape) if lead else out)]
    if name == "unsqueeze" and g.dim() == len(a_shape) + 1:
        d = next((j for j in range(len(a_shape)) if g.shape[j] != a_shape[j]), len(a_shape))
        return [(0, g.squeeze(d))]
    if name in ("squeeze", "squeeze_dim", "squeeze_dims") and g.dim() < len(a_shape):
        out, j = g, 0   # (the dropped dims: the input's size-1 dims g's shape skips)
        for i, n in enumerate(a_shape):
            if j < g.dim() and g.shape[j] == n:
                j += 1
            else:
                out = out.unsqueeze(i)
        return [(0, out)] if tuple(out.shape) == tuple(a_shape) else None
    return None


def tensor_forward_stopgrad(T, x, y, shape, params, imm):
    return x.detach()
