"""Batch replay of a recorded tape on Dask arrays (the optional `dask` extra).

    import tapegrad, tapegrad.dask as tgd
    tape = tapegrad.record(f, x0, y0)
    values, (gx, gy), held = tgd.value_and_grad_batch(tape, X, Y)    # X, Y: dask arrays
    values.compute()          # or dask.compute(values, gx, gy, held) on any scheduler

Every input is a dask array of shape (B,) + the input's shape, chunked along the points axis
(axis 0; other axes are merged into one chunk).  Each chunk of points is one task that runs
the in-process batch kernel (`Recorded.value_and_grad_batch`, parallel over the Numba threads
of the process running it), so the results of a chunk are bit for bit those of the in-process
call on the same points.  Results are lazy dask arrays chunked like the inputs.  A tape of
many inputs (say 100 scalar leaves) is best fed as one (B, n) array with `value_and_grad_flat`:
one array per input costs one task per input per chunk (docs/scale.md).

Shipping the tape: `Recorded` pickles as its save format (a few flat arrays and a JSON header,
never the recorded Python function).  When a `distributed.Client` is active at call time the
tape is scattered to every worker once (`broadcast=True`) under a key derived from its content;
otherwise it is one key of the graph (a `dask.delayed`), which a distributed scheduler also
sends once per worker, not once per task.  A worker whose Numba cache is warm compiles nothing.

Guards: a point whose branch differs from the recorded one is never silently wrong.  By default
(`branch_changed="mask"`) each function returns a boolean dask array `held` beside its results:
False at such points, whose results are NaN; re-run them with a tape recorded there (`compile`'s
re-recording does not apply inside a batch).  `branch_changed="raise"` makes the task raise
`tapegrad.BranchChanged`, which aborts the whole computation when it is computed.
"""
import weakref

import dask
import dask.array as da
import numpy as np
from dask.base import tokenize

from .replay import Recorded, _branch_mode, cap_batch_threads, to_arrays

__all__ = ["value_and_grad_batch", "value_and_grad_flat", "jacobian_batch", "hvp_batch",
           "tape_of"]


# ---- the tape as a graph dependency ------------------------------------------------------------
def _active_client():
    try:
        from distributed import default_client
        return default_client()
    except (ImportError, ValueError):       # no distributed, or no client
        return None


def _check_tape(recorded):
    if not isinstance(recorded, Recorded):
        raise TypeError(f"expected a tapegrad.Recorded, got {type(recorded).__name__}")


# The scattered copy of each tape, per client: kept while the tape lives in this process, so
# the workers keep it between calls (re-scattering under a key the scheduler is still
# releasing loses the data) and a tape is shipped once however often it is used.
_SCATTERED = weakref.WeakKeyDictionary()


def tape_of(recorded):
    """What the graph passes to each task for `recorded`: a Future of it scattered to every
    worker of the active distributed Client (broadcast; once per tape and client), or, without
    a Client, one `dask.delayed` key named by a hash of the tape's arrays."""
    _check_tape(recorded)
    client = _active_client()
    if client is None:
        return dask.delayed(recorded, name="tapegrad-tape-" + tokenize(*to_arrays(recorded).items()))
    futures = _SCATTERED.setdefault(recorded, {})
    fut = futures.get(client.id)
    if fut is None or fut.status != "finished":
        fut = futures[client.id] = client.scatter(recorded, broadcast=True, hash=False)
    return fut


# ---- checking and aligning the inputs in the client ---------------------------------------------
def _points(recorded, Xs, what="input"):
    """The inputs as dask arrays of shape (B,) + input shape, one chunk along the other axes;
    shape mismatches raise here, in the client, not in a task."""
    if len(Xs) != len(recorded.inputs):
        raise TypeError(f"this tape takes {len(recorded.inputs)} inputs, got {len(Xs)}")
    out, B = [], None
    for i, (x, (_, shape, _)) in enumerate(zip(Xs, recorded.inputs)):
        x = x if isinstance(x, da.Array) else da.asarray(x)
        if any(np.isnan(s) for s in x.shape):
            raise ValueError(f"{what} {i}: the number of points must be known (got shape "
                             f"{x.shape}); call compute_chunk_sizes() first")
        if x.ndim == 0 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"{what} {i}: expected shape (B,) + {shape} (points along axis 0), "
                             f"got {tuple(x.shape)}")
        if B is None:
            B = x.shape[0]
        elif x.shape[0] != B:
            raise ValueError(f"{what} {i}: expected {B} points (as input 0), got {x.shape[0]}")
        if x.dtype.kind not in "fiu":
            raise TypeError(f"{what} {i}: expected a real array, got dtype {x.dtype}")
        out.append(x.rechunk({d: -1 for d in range(1, x.ndim)}) if x.ndim > 1 else x)
    return out


def _pairs(arrays):
    """blockwise's (array, index) pairs: axis 0 is "p" (the points), every other axis its own
    index, which blockwise contracts (one chunk each, so a task gets its whole rows)."""
    pairs, k = [], 0
    for x in arrays:
        pairs += [x, ("p",) + tuple(f"e{k + d}" for d in range(x.ndim - 1))]
        k += x.ndim - 1
    return pairs


def _unpack(packed, parts, name):
    """One dask array per (index in the tuple each task returned, dtype, trailing shape)."""
    out = []
    for k, dtype, shape in parts:
        chunks = (packed.chunks[0],) + tuple((s,) for s in shape)
        out.append(packed.map_blocks(_item, k, dtype=dtype, chunks=chunks, token=f"{name}-{k}",
                                     new_axis=list(range(1, 1 + len(shape))) or None,
                                     meta=np.empty((0,) * (1 + len(shape)), dtype)))
    return out


def _item(block, k):
    return block[k]


def _mode(branch_changed):
    _branch_mode(branch_changed)             # "raise" or "mask", else ValueError
    return branch_changed


def _check_threads(threads):
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")


def _selected(recorded, argnums):
    """The input indices `argnums` selects (None: all), checked in the client."""
    k = len(recorded.inputs)
    sel = range(k) if argnums is None else [argnums] if isinstance(argnums, int) else argnums
    sel = list(sel)
    for i in sel:
        if not isinstance(i, int) or not -k <= i < k:
            raise IndexError(f"argnums: {i!r} is not an input index of this {k}-input tape")
    return [i % k for i in sel]


# ---- tasks ---------------------------------------------------------------------------------------
def _vg_task(rec, *blocks, argnums, threads, mode):
    with cap_batch_threads(threads):
        r = rec.value_and_grad_batch(*blocks, argnums=tuple(argnums), branch_changed=mode)
    held = r[2] if mode == "mask" else np.ones(len(r[0]), bool)
    return (r[0], held) + tuple(r[1])


def _jac_task(rec, *blocks, threads, mode):
    with cap_batch_threads(threads):
        r = rec.jacobian_batch(*blocks, branch_changed=mode)
    jacs, held = r if mode == "mask" else (r, np.ones(len(blocks[0]) if blocks else 0, bool))
    return (held,) + tuple(jacs)


def _hvp_task(rec, *blocks, threads, mode):
    k = len(blocks) // 2
    with cap_batch_threads(threads):
        r = rec.hvp_batch(tuple(blocks[:k]), tuple(blocks[k:]), branch_changed=mode)
    held = r[2] if mode == "mask" else np.ones(len(r[0]), bool)
    return (r[0], held) + tuple(r[1])


def _flat_task(rec, block, threads, mode):
    with cap_batch_threads(threads):
        r = rec.value_and_grad_flat(block, branch_changed=mode)
    return (r[0], r[2] if mode == "mask" else np.ones(len(r[0]), bool), r[1])


def _run(task, recorded, arrays, parts, **kw):
    """Lazy arrays of `parts` of the tuple `task` returns for each chunk of points."""
    name = _NAMES[task]
    packed = da.blockwise(task, ("p",), tape_of(recorded), None, *_pairs(arrays), token=name,
                          meta=np.empty((0,), object), concatenate=True, **kw)
    return _unpack(packed, parts, name)


_NAMES = {_vg_task: "tapegrad-value-and-grad", _jac_task: "tapegrad-jacobian",
          _hvp_task: "tapegrad-hvp", _flat_task: "tapegrad-value-and-grad-flat"}


# ---- public --------------------------------------------------------------------------------------
def value_and_grad_batch(recorded, *Xs, argnums=None, threads=None, branch_changed="mask"):
    """`Recorded.value_and_grad_batch` on dask arrays: X_i of shape (B,) + input i's shape,
    chunked along the points axis.  Returns lazy dask arrays `(values, grads, held)`: values
    (B,), gradients (B,) + input shape (one per input, or those `argnums` selects; an int gives
    that gradient bare) and `held` (B,) bool, False where a guard did not hold (results NaN
    there).  With branch_changed="raise", returns `(values, grads)` and a changed branch raises
    `BranchChanged` when computed.  `threads`: Numba threads per task (None: the worker's
    setting)."""
    _check_tape(recorded)
    recorded._scalar_output()
    mode, sel = _mode(branch_changed), _selected(recorded, argnums)
    _check_threads(threads)
    arrays = _points(recorded, Xs)
    out_dt = recorded.outputs[0][2].np
    parts = [(0, out_dt, ()), (1, np.dtype(bool), ())]
    parts += [(2 + j, recorded.inputs[i][2].np, recorded.inputs[i][1]) for j, i in enumerate(sel)]
    values, held, *grads = _run(_vg_task, recorded, arrays, parts, argnums=sel, threads=threads,
                                mode=mode)
    grads = grads[0] if isinstance(argnums, int) else tuple(grads)
    return (values, grads, held) if mode == "mask" else (values, grads)


def value_and_grad_flat(recorded, P, threads=None, branch_changed="mask"):
    """`Recorded.value_and_grad_flat` on a dask array P of shape (B, n), n the inputs' total
    element count (flattened and concatenated in order): one array in and one gradient array
    out, however many inputs the tape has.  For a tape of many 0-d inputs this is far fewer
    tasks per chunk than one array per input (see benchmarks/compare_dask.py).  Returns
    `(values, G, held)` (mask) or `(values, G)` (raise), G of shape (B, n)."""
    _check_tape(recorded)
    recorded._scalar_output()
    mode = _mode(branch_changed)
    _check_threads(threads)
    n = int(recorded.in_sizes.sum())
    P = P if isinstance(P, da.Array) else da.asarray(P)
    if P.ndim != 2 or P.shape[1] != n:
        raise ValueError(f"expected shape (B, {n}) (the inputs flattened and concatenated), "
                         f"got {tuple(P.shape)}")
    if np.isnan(P.shape[0]):
        raise ValueError("the number of points must be known; call compute_chunk_sizes() first")
    dt = recorded.dtype
    parts = [(0, dt, ()), (1, np.dtype(bool), ()), (2, dt, (n,))]
    values, held, G = _run(_flat_task, recorded, [P.rechunk({1: -1})], parts, threads=threads,
                           mode=mode)
    return (values, G, held) if mode == "mask" else (values, G)


def jacobian_batch(recorded, *Xs, threads=None, branch_changed="mask"):
    """`Recorded.jacobian_batch` on dask arrays: for each input, d(output)/d(input) at every
    point, shaped (B,) + output shape + input shape.  Returns `(jacobians, held)` (mask) or
    `jacobians` (raise); see `value_and_grad_batch`."""
    _check_tape(recorded)
    if len(recorded.outputs) != 1:
        raise TypeError("jacobian needs a function with one output")
    mode = _mode(branch_changed)
    _check_threads(threads)
    arrays = _points(recorded, Xs)
    oshape = recorded.outputs[0][1]
    parts = [(0, np.dtype(bool), ())]
    parts += [(1 + i, dt.np, oshape + shape) for i, (_, shape, dt) in enumerate(recorded.inputs)]
    held, *jacs = _run(_jac_task, recorded, arrays, parts, threads=threads, mode=mode)
    return (tuple(jacs), held) if mode == "mask" else tuple(jacs)


def hvp_batch(recorded, inputs, v, threads=None, branch_changed="mask"):
    """`Recorded.hvp_batch` on dask arrays: `inputs` and `v` as in `Recorded.hvp` (a tuple with
    one array per input, or bare for a one-input tape), each of shape (B,) + input shape.
    Returns `(values, hvps, held)` (mask) or `(values, hvps)` (raise).  Each worker records the
    Hessian-vector tape once, at the first point of its first chunk where the guards hold."""
    _check_tape(recorded)
    recorded._scalar_output()
    mode = _mode(branch_changed)
    _check_threads(threads)
    xs = inputs if isinstance(inputs, tuple) else (inputs,)
    vs = v if isinstance(v, tuple) else (v,)
    k = len(recorded.inputs)
    if len(xs) != k or len(vs) != k:
        raise TypeError(f"hvp: this tape takes {k} inputs and as many vectors")
    xs, vs = _points(recorded, xs), _points(recorded, vs, what="v")
    if vs and vs[0].shape[0] != xs[0].shape[0]:
        raise ValueError(f"hvp: v has {vs[0].shape[0]} points, the inputs {xs[0].shape[0]}")
    parts = [(0, recorded.outputs[0][2].np, ()), (1, np.dtype(bool), ())]
    parts += [(2 + i, dt.np, shape) for i, (_, shape, dt) in enumerate(recorded.inputs)]
    values, held, *hv = _run(_hvp_task, recorded, xs + vs, parts, threads=threads, mode=mode)
    hv = tuple(hv) if isinstance(inputs, tuple) else hv[0]
    return (values, hv, held) if mode == "mask" else (values, hv)
