"""matmul kind (dot, mv, mm, bmm, matmul): the host face of its reverse step.

Entry params are [batch, m, k, n, b_batched]: out = a (batch, m, k) @ b ([batch,] k, n) on
row-major buffers.  Small products stay in the Numba sweep (a loop beats a call into BLAS);
from `HOST_MIN_MACS` multiply-adds the sweep pauses and numpy's BLAS computes
gA = g @ Bᵀ and gB = Aᵀ @ g on the arena slices.
"""
import numpy as np

# Below this many multiply-adds the in-kernel loop wins over pausing the sweep for BLAS
# (a pause costs one Python round trip and a kernel re-entry, a few microseconds).
HOST_MIN_MACS = 1 << 14


def runs_on_host(params):
    nb, m, k, n, _ = params
    return nb * m * k * n >= HOST_MIN_MACS


def host_vjp(tape, e, off, vals, adj, needs):
    """Add entry e's input gradients into `adj` (`needs[i]`: operand i wants one)."""
    nb, m, k, n, bb = tape.params_of(e).tolist()
    a, b = int(tape.ia[e]), int(tape.ib[e])
    g = adj[off[e]:off[e] + nb * m * n].reshape(nb, m, n)
    A = vals[off[a]:off[a] + nb * m * k].reshape(nb, m, k)
    B = vals[off[b]:off[b] + (nb if bb else 1) * k * n].reshape(nb if bb else 1, k, n)
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
