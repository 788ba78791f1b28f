"""nll kind: nll_loss of a 2-d input (N, C) at class indices, reduced, as one entry (torch's
NllLossBackward0) -- the one-pass case of F.nll_loss and F.cross_entropy (nn/_onepass.py:
float32/float64, targets in [0, C) none ignored, no weight, reduction "mean" or "sum"; every
other case is the decomposition row nll_loss).

params: the N targets t_i (the operand's shape gives N and C); imm: 1.0 for "mean", 0.0 for
"sum".  The output has one element:

    out = -sum_i x[i, t_i]        ("sum"),  that / N  ("mean")

The eager forward (nn/_onepass._nll, at the call) is the decomposition's numpy calls, so its
values; the kernel's (a replay) sums in float64 and divides once.

VJP, torch's nll_loss_backward: grad_x[i, t_i] = -g (sum) or -(g / N) (mean), zeros elsewhere.
It reads no value of x; the row still saves x as torch's node saves `self` (its in-place
check and `_saved_self`).  create_graph records it as a constant mask times g, handed to x
through input_edge: it requires grad and differentiates to zeros in x, as torch's
NllLossBackwardBackward0.  T.nll(x, targets, mean) records one entry (nn/_onepass.py hands it
in through views.KIND_OPS).
"""
import numpy as np

KINDS = ("nll",)


# ---- kernel pieces (plain Python that codegen compiles into tapegrad/_kernels.py) ----------
def forward_nll(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals):
    oa = off[a]
    p = par[e]
    rows, c = shp[a, 0], shp[a, 1]
    s = 0.0
    for i in range(rows):
        s -= vals[oa + i * c + params[p + i]]
    vals[out_off] = s / rows if imm[e] != 0.0 else s


def sweep_nll(e, a, b, out_off, n, off, size, shp, nd, par, params, imm, vals, adj):
    # NOTE: torch's nll_loss_backward: -(g / total_weight) for mean, total_weight = N
    oa = off[a]
    p = par[e]
    rows, c = shp[a, 0], shp[a, 1]
    g = adj[out_off]
    gi = -(g / rows) if imm[e] != 0.0 else -g
    for i in range(rows):
        adj[oa + i * c + params[p + i]] += gi


# ---- tensor faces: what create_graph records (VJP) and what replay's tensor re-run records
# (forward).  `T` is `views.KIND_OPS`, `params` the entry's params.
def tensor_forward_nll(T, x, y, shape, params, imm):
    return T.nll(x, params[:x.shape[0]], imm != 0.0)


def tensor_vjp_nll(T, g, operand, a_shape, b_shape, params, imm):
    n = a_shape[0]
    mask = np.zeros(a_shape, g._dtype.np)
    mask[np.arange(n), np.asarray(params[:n], np.int64)] = -1.0
    gi = g / n if imm != 0.0 else g
    return [(0, T.input_edge(gi * T.wrap(mask, g._dtype), operand(0)))]
