"""Kinds whose steps can run on the host, in Python between segments of the paused kernels
(engine._run_sweep, replay's host loop), by kind name:

    HOST_FORWARD[kind](params, p, a, b, e, off, vals)             writes entry e's value
    HOST_VJP[kind](params, p, a, b, e, off, vals, adj, needs)     adds its inputs' gradients

`params[p:]` holds the entry's params, `a`/`b` are its operand nodes, `needs[i]` says whether
operand i wants a gradient."""
from . import matmul

HOST_FORWARD = {"matmul": matmul.host_forward}
HOST_VJP = {"matmul": matmul.host_vjp}
