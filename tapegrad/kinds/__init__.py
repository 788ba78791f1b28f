"""Structural kinds, one module each, holding every face of the kind: kernel pieces
(`forward_<kind>` / `sweep_<kind>`, plain Python that codegen copies into _kernels.py), tensor
faces (`tensor_forward_<kind>` / `tensor_vjp_<kind>`: create_graph and replay's tensor re-run)
and, for kinds whose steps can run on the host in Python between segments of the paused
kernels (engine._run_sweep, replay's host loop):

    HOST_FORWARD[kind](params, p, a, b, e, off, vals)                 writes entry e's value
    HOST_VJP[kind](params, p, a, b, e, off, vals, adj, needs[, A, B])  adds its inputs' grads

`params[p:]` holds the entry's params, `a`/`b` are its operand nodes, `needs[i]` says whether
operand i wants a gradient (matmul's: 2 to write it, not add it: replay's Recorded._plan).
Kinds in `LISTS` take the operand list instead of a, b:
    HOST_VJP[kind](params, p, nodes, e, off, adj, needs, side)
Kinds in `DIRECT` take `side` too (engine._Side, from the eager sweep; after A, B) and the
entry's constant `c` (keyword): an operand whose offset is -1 (an input entry only such host
entries feed, or a cat entry only they read: walks.arena_layout) has no arena space, and its
gradient goes to side.add(node, array), an array it owns, in side.dtype_of(node) (a
read-only broadcast for a cat's gradient: engine._Side.grad_copy copies what it hands out).

Kinds in `LISTS` read their whole operand list (ia, ib, then the entry's `arg` slice): their
kernel pieces also take `arg_ptr, arg`, and their tensor faces take the list
(`tensor_forward_<kind>(T, xs, shape, params)`, `tensor_vjp_<kind>(T, g, shapes, params)`)."""
from . import addc, cat, cumprod, extreme, gather, lerp, linalg, matmul, nll, norm, pool, reduce, \
    scan, shift, softmax, view

# every structural kind's module (codegen compiles their kernel pieces in this order), and
# kind name -> the module holding its faces (kernel pieces, tensor faces, host faces)
MODULES = (reduce, view, gather, matmul, cat, shift, linalg, scan, softmax, nll, pool, norm,
           extreme, lerp, cumprod, addc)
MODULE_OF = {kind: mod for mod in MODULES for kind in mod.KINDS}


def tensor_forward(kind):
    """The kind's forward as tensor ops: f(T, x, y, shape, params, imm)."""
    return getattr(MODULE_OF[kind], "tensor_forward_" + kind)


def tensor_vjp(kind):
    """The kind's VJP as tensor ops: f(T, g, operand, a_shape, b_shape, params, imm) ->
    [(operand index, gradient)]; None for kinds that pass no gradient."""
    return getattr(MODULE_OF[kind], "tensor_vjp_" + kind, None)


# kinds whose faces take the entry's whole operand list
LISTS = frozenset({"cat"})

HOST_FORWARD = {"matmul": matmul.host_forward, "linalg": linalg.host_forward}
HOST_VJP = {"matmul": matmul.host_vjp, "cat": cat.host_vjp_cat, "reduce": reduce.host_vjp,
            "linalg": linalg.host_vjp}
# kinds that run only on the host (no kernel piece: LAPACK): kernels that do not pause
# (value_and_grad_batch, jacobian, sweep_rows, replay_scalar) must not meet them
HOST_ONLY = frozenset({"linalg"})
# kinds whose HOST_VJP hands the gradient of an operand at offset -1 to side.add: 1 where it
# reads that operand's value as saved (the node must be held by reference), 2 where it reads
# no operand value; + 4 where it also reads its own gradient from the side when its own
# offset is -1 (side.get(e)), so that an entry between two such host entries needs no arena
# space either (walks.arena_layout)
DIRECT = {"matmul": 1, "cat": 2 + 4, "reduce": 2}
# kinds whose kernel sweep piece computes no gradient for an operand that wants none (a
# constant: ops.wants_grad), which the sweep passes to it as -2 - node: kind -> the operand
# values (bit 1: a, 2: b) the piece reads when the operands wanting a gradient are m = 0..3
# (bit 1: a, 2: b).  walks.arena_layout copies only those values into the arena
# (ops.vjp_reads): `x @ W` with x constant neither copies W nor computes x's gradient
SKIPS = {"matmul": matmul.VJP_READS, "adaptive_avg_pool": pool.ADAPTIVE_VJP_READS}
