"""Kinds whose vector-Jacobian product runs on the host (in Python, between segments of the
paused reverse sweep; see engine.sweep_tape): `HOST_VJP[kind]` is called as
`vjp(tape, e, off, vals, adj, needs)` and adds entry e's input gradients into `adj`."""
from . import matmul

HOST_VJP = {"matmul": matmul.host_vjp}
