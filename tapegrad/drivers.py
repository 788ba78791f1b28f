"""The driver kernels of a recorded tape: a Jacobian, a batch of replays across cores, a
Jacobian's rows by reverse sweeps.  (One replay of a one-element tape, `replay_scalar`, is
generated with the per-op kernels: codegen.SCALAR.)  Plain Python that codegen copies into
tapegrad/_kernels.py, where Numba compiles it (one module, so its cache sees every change;
`codegen.KERNEL_OPTIONS` holds the non-default Numba options: the batches run in parallel).
Called through `_jit.K`.

They call the per-op kernels that codegen generates from the op table, defined beside them in
tapegrad/_kernels.py:

    forward_from(...)     re-evaluates entries from `start` on (n-d), pausing at host entries
    sweep(...)            the reverse sweep from `start` down to 0 (n-d), pausing likewise
    forward_scalar(...)   / backward_scalar(...): the same for one-element tapes

NOTE: Numba links a callee's code into each jitted caller and compiles it again there, so
every driver here that calls `sweep` or `forward_from` costs about one more compile of those
two (seconds each).  The first calls most programs make (`Replay.forward` and
`Replay.value_and_grad` on n-d tapes, engine's backward) therefore call the generated kernels
from Python; the drivers serve the calls whose loop must stay in Numba (one sweep per output
element or per point), and no driver wraps another only to allocate its scratch (Python
does), and `backward_only` is inlined into its callers (codegen.KERNEL_OPTIONS).  For the
same reason codegen copies `backward_only`, `jacobian_at`,
`replay_batch` and `jacobian_batch` once per variant (codegen.DRIVER_VARIANTS): `scalar`
fixed, so a batch of one-element tapes compiles no n-d kernel, and the callees renamed to
the core tier's (`forward_core`, `sweep_core`, `forward_scalar_core`, ...), which
`Recorded._batch_kernel` calls for a tape of the common ops.
"""
from typing import TYPE_CHECKING

import numpy as np

# (a driver cannot stop for a structural kind's piece that is not compiled: its caller compiles
# every piece its tape calls first, tapegrad._kindcall.fill_pieces; this is a bug's message)
PIECE_MISSING = "tapegrad: a kernel piece this tape calls was not compiled before the driver"

if TYPE_CHECKING:  # defined in tapegrad/_kernels.py, where these functions are compiled
    from ._kernels import (OP_SAVES, backward_scalar, fetch_add, forward_from, forward_scalar, load_at,
                           sweep)


def backward_only(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, adj, out, out_k, freed,
                  reach, no_host):
    """Reverse sweep of a replayed tape seeded at element `out_k` of node `out` (`reach` and
    `no_host`: the caller's scratch, so a batch allocates nothing per point)."""
    adj[:] = 0.0
    adj[off[out] + out_k] = 1.0
    reach[:] = 0
    reach[out] = 1
    if sweep(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, adj, out, reach, freed,
             OP_SAVES, no_host) < -1:
        raise RuntimeError(PIECE_MISSING)


def sweep_rows(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, roots, root_k, freed,
               targets, tsizes, out):
    """One reverse sweep per row r, seeded at element root_k[r] of node roots[r]: out[r] holds
    the gradients at the target nodes, flattened and concatenated (a Jacobian in one call).
    Returns -1, or an entry whose saved buffers were freed."""
    adj = np.zeros(vals.shape[0])
    reach = np.zeros(op.shape[0], np.uint8)
    no_host = np.zeros(op.shape[0], np.uint8)
    for r in range(roots.shape[0]):
        adj[:] = 0.0
        reach[:] = 0
        root = roots[r]
        adj[off[root] + root_k[r]] = 1.0
        reach[root] = 1
        bad = sweep(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, adj, root, reach,
                    freed, OP_SAVES, no_host)
        if bad < -1:
            raise RuntimeError(PIECE_MISSING)
        if bad >= 0:
            return bad
        j = 0
        for i in range(targets.shape[0]):
            t = targets[i]
            for k in range(tsizes[i]):
                out[r, j] = adj[off[t] + k] if (t >= 0 and reach[t] != 0) else 0.0
                j += 1
    return -1


def jacobian_at(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, out, freed, in_offs,
                in_sizes, jac, adj, reach, no_host):
    """Forward once, then one reverse sweep per output element: jac[r, j] for the inputs
    flattened and concatenated.  adj, reach and no_host are the caller's scratch (vals'
    length, the tape's; no_host zeros): Recorded.jacobian allocates them rather than a
    wrapper kernel, which would compile this one and its callees into itself once more."""
    # (np.int64(0), not 0: a literal 0 would compile forward_from once more, for the type
    # Literal[int](0), beside the int64 start that Python's calls pass)
    bad = forward_from(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, np.int64(0),
                       no_host)
    if bad < -1:
        raise RuntimeError(PIECE_MISSING)
    if bad >= 0:
        return bad
    for r in range(size[out]):
        backward_only(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, adj, out, r, freed,
                      reach, no_host)
        j = 0
        for i in range(in_offs.shape[0]):
            for k in range(in_sizes[i]):
                jac[r, j] = adj[in_offs[i] + k]
                j += 1
    return -1


def load_point(vals, XT, p, in_offs, in_sizes):
    """Write point p's inputs (column p of XT) into the arena `vals` at the inputs' offsets:
    jacobian_batch's first step per point (inlined into it)."""
    j = 0
    for i in range(in_offs.shape[0]):
        for k in range(in_sizes[i]):
            vals[in_offs[i] + k] = XT[j, p]
            j += 1


def load_point_at(vals, addr, step, p, in_offs, in_sizes):
    """Write point p's inputs into the arena `vals` at the inputs' offsets, reading input i's
    elements p * step[i] + k of the array at address addr[i] (replay_batch's first step per
    point, inlined into it)."""
    for i in range(in_offs.shape[0]):
        base = p * step[i]
        for k in range(in_sizes[i]):
            vals[in_offs[i] + k] = load_at(addr[i], base + k, vals)


def inputs_in_place(ids, fields, ndarray, descr, flags, B, shape_ptr, shapes):
    """The first input of a batch call that replay_batch cannot read where it is, or -1: input
    i, the object at address ids[i] (its id()), must be an exact ndarray (its type's id is
    `ndarray`) of the tape's dtype (its descr is the dtype instance whose id is `descr`), have
    the `flags` bits set (C-contiguous, aligned) and shape (B,) + shapes[shape_ptr[i]:
    shape_ptr[i + 1]].  `fields`: the byte offsets batchbuf.ARRAY_FIELDS confirmed; a field
    past the type is read only once the type says the object is numpy's array struct.  The
    caller holds every object (Python's check, attribute by attribute, cost ~40 us for 100
    inputs; this ~1 us)."""
    word = shapes[:0]
    half = np.zeros(0, np.int32)
    for i in range(ids.shape[0]):
        at = ids[i]
        if load_at(at + fields[0], 0, word) != ndarray or load_at(at + fields[4], 0, word) != descr:
            return i
        nd = shape_ptr[i + 1] - shape_ptr[i] + 1
        if load_at(at + fields[2], 0, half) != nd or load_at(at + fields[5], 0, half) & flags != flags:
            return i
        dims = load_at(at + fields[3], 0, word)
        if load_at(dims, 0, word) != B:
            return i
        for k in range(nd - 1):
            if load_at(dims, k + 1, word) != shapes[shape_ptr[i] + k]:
                return i
    return -1


def chunk_starts(B, chunk, line, threads):
    """(starts, first): the points of a batch call cut into one home range per thread (range u
    from first[u] to first[u + 1] - 1 in chunk numbers; ranges of whole `line`s of points, the
    last one to B) and each range into chunks: chunk k is points starts[k] to starts[k + 1] - 1.
    A range's chunks hold `chunk` points until fewer than 2 * threads * chunk are left, then
    ever smaller ones, a quarter of the rest per two threads rounded up to `line` points (a
    whole number of the outputs' cache lines), down to one `line`: the threads run out of work
    within a small chunk of each other.  At B = 2000 on 2 threads: per range 29 chunks of 32
    points, then 24, 16, 8, 8, 8 and 8 (the last chunks used to be 32 points, ~90 us of one
    thread's work, for which the other thread idled half of on average).

    Why home ranges: a thread that takes its own range first writes the same output lines at
    every call of a loop, which stay in its core's cache; chunks handed out from one counter
    for the whole call moved about half of the outputs' lines between the cores at each call."""
    starts = np.empty(B // chunk + threads * (2 * threads * chunk // line + 3) + 1, np.int64)
    first = np.empty(threads + 1, np.int64)
    n = 0
    starts[0] = 0
    for u in range(threads):
        first[u] = n
        end = B if u == threads - 1 else min(B, -(-((u + 1) * B // threads) // line) * line)
        start = starts[n]
        while start < end:
            rest = end - start
            want = -(-rest // (2 * threads))
            start = min(end, start + min(chunk, max(line, -(-want // line) * line)))
            n += 1
            starts[n] = start
    first[threads] = n
    return starts[:n + 1], first


def replay_batch(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals0, freed, scalar, reach,
                 B, src, deref, src_off, src_step, in_offs, in_sizes, out, values, gradsT, status, chunk, line,
                 rows, work_vals, work_adj, work_reach, no_host, counter, t):
    """One replay per point p, across cores: this is thread t's part of a call (row t of the
    `work_*` arrays: that thread's arenas, kept by the caller across calls, each row on pages
    of its own: replay._Work).  tapegrad.batchrun runs it on each of the call's threads at once
    (compiled nogil), `counter` set to 0 first.  The points are cut into one home range per
    thread and each range into chunks of consecutive points (chunk_starts: `chunk` points,
    smaller at the end); range u's chunks are handed out by counter[u * stride], stride =
    len(counter) // threads.  Thread t takes chunks of its own range until none are left, then
    of the next ranges in turn, so a thread that starts late or is slowed by another tenant
    does fewer chunks instead of holding up the call.

    The inputs are read where the caller's arrays are, never staged: input i's elements at
    point p are elements p * src_step[i] + src_off[i] + k (k < in_sizes[i]) of a contiguous
    array of vals0's dtype at address src[i]; with `deref` >= 0, src[i] is the array object's
    id() and its data address is read from the object, `deref` bytes in (batchbuf.DATA_OFFSET,
    read by each thread).  The caller keeps the arrays alive and checked (dtype, contiguity,
    extent).  Gradients go to gradsT[:, p], or with `rows` to gradsT[p, :] (point-major: a flat
    (B, n) array written in place).  Returns the first of this thread's points whose guard
    failed (its status >= 0), or -1: the caller takes the least of its threads', reading one
    number per thread, not all of `status`, half of whose lines another core wrote."""
    threads = work_vals.shape[0]
    starts, first_chunk = chunk_starts(B, chunk, line, threads)
    stride = counter.shape[0] // threads
    addr = np.empty(src.shape[0], np.int64)
    for s in range(src.shape[0]):
        data = load_at(src[s] + deref, 0, src) if deref >= 0 else src[s]
        addr[s] = data + src_off[s] * vals0.itemsize
    vals = work_vals[t, :vals0.shape[0]]
    vals[:] = vals0
    adj = work_adj[t, :vals0.shape[0]]
    reach_nd = work_reach[t, :op.shape[0]]
    first = B
    u = t           # its own range first, then helping with the others'
    step = 0
    while True:
        c = first_chunk[u] + fetch_add(counter[u * stride:u * stride + 1], 1)
        if c >= first_chunk[u + 1]:     # range u is done
            step += 1
            if step == threads:
                break
            u = (t + step) % threads
            continue
        for p in range(starts[c], starts[c + 1]):
            load_point_at(vals, addr, src_step, p, in_offs, in_sizes)
            if scalar:
                bad = forward_scalar(op, ia, ib, imm, par, params, arg_ptr, arg, vals)
                if bad < 0:
                    adj[:] = 0.0
                    adj[out] = 1.0
                    backward_scalar(op, ia, ib, imm, par, params, arg_ptr, arg, vals, adj, reach)
            else:
                # (np.int64(0): as in jacobian_at, one compile of each callee)
                bad = forward_from(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals,
                                   np.int64(0), no_host)
                if bad < -1:
                    raise RuntimeError(PIECE_MISSING)
                if bad < 0:
                    backward_only(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, adj,
                                  out, np.int64(0), freed, reach_nd, no_host)
            status[p] = bad
            if bad >= 0 and p < first:
                first = p
            values[p] = vals[off[out]]
            j = 0
            for i in range(in_offs.shape[0]):
                for k in range(in_sizes[i]):
                    if rows:
                        gradsT[p, j] = adj[in_offs[i] + k]
                    else:
                        gradsT[j, p] = adj[in_offs[i] + k]
                    j += 1
    return first if first < B else -1


def jacobian_batch(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals0, freed, XT, in_offs,
                   in_sizes, out, values, jac, status, chunk, work_vals, work_adj, work_reach, no_host, counter,
                   t):
    """`jacobian_at` at each point p (column p of XT) across cores (this is thread t's part):
    each thread takes its next chunk of `chunk` points from counter[0], one counter for the
    whole call (replay_batch's home ranges were measured on its loop only).  The output's
    values go to values[p], d(output)/d(inputs) to jac[p].
    Returns -1 (the caller reads `status`)."""
    B = XT.shape[1]
    chunks = (B + chunk - 1) // chunk
    vals = work_vals[t, :vals0.shape[0]]
    vals[:] = vals0
    adj = work_adj[t, :vals0.shape[0]]
    reach = work_reach[t, :op.shape[0]]
    while True:
        c = fetch_add(counter, 1)
        if c >= chunks:
            break
        for p in range(c * chunk, min(B, (c + 1) * chunk)):
            load_point(vals, XT, p, in_offs, in_sizes)
            status[p] = jacobian_at(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals,
                                    out, freed, in_offs, in_sizes, jac[p], adj, reach, no_host)
            for r in range(size[out]):
                values[p, r] = vals[off[out] + r]
    return -1
