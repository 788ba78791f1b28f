"""matmul kind (dot, mv, mm, bmm, matmul): the host faces of its forward and reverse steps.

Entry params are [batch, m, k, n, b_batched]: out = a (batch, m, k) @ b ([batch,] k, n) on
row-major buffers.  Small products stay in the Numba kernels (a loop beats a call into
BLAS); from `HOST_MIN_MACS` multiply-adds the eager sweep and replay pause at the entry and
numpy's BLAS computes out = A @ B, gA = g @ Bᵀ and gB = Aᵀ @ g on the arena slices.
"""
import numpy as np

# Below this many multiply-adds the in-kernel loop wins over pausing the sweep for BLAS
# (a pause costs one Python round trip and a kernel re-entry, a few microseconds).
HOST_MIN_MACS = 1 << 14


def runs_on_host(params):
    nb, m, k, n, _ = params
    return nb * m * k * n >= HOST_MIN_MACS


def _operands(params, p, a, b, off, vals):
    nb, m, k, n, bb = params[p:p + 5]
    A = vals[off[a]:off[a] + nb * m * k].reshape(nb, m, k)
    B = vals[off[b]:off[b] + (nb if bb else 1) * k * n].reshape(nb if bb else 1, k, n)
    return A, B


def host_forward(params, p, a, b, e, off, vals):
    """Write entry e's value: A @ B into its arena slice."""
    nb, m, k, n, _ = params[p:p + 5]
    A, B = _operands(params, p, a, b, off, vals)
    np.matmul(A, B, out=vals[off[e]:off[e] + nb * m * n].reshape(nb, m, n))


def host_vjp(params, p, a, b, e, off, vals, adj, needs):
    """Add entry e's input gradients into `adj` (`needs[i]`: operand i wants one)."""
    nb, m, k, n, bb = params[p:p + 5]
    A, B = _operands(params, p, a, b, off, vals)
    g = adj[off[e]:off[e] + nb * m * n].reshape(nb, m, n)
    if needs[0]:
        ga = adj[off[a]:off[a] + nb * m * k].reshape(nb, m, k)
        ga += g @ B.transpose(0, 2, 1)
    if needs[1]:
        if bb:
            gb = adj[off[b]:off[b] + nb * k * n].reshape(nb, k, n)
            gb += A.transpose(0, 2, 1) @ g
        else:
            gb = adj[off[b]:off[b] + k * n].reshape(k, n)
            gb += A.reshape(nb * m, k).T @ g.reshape(nb * m, n)
