"""Reverse mode entry points: one Numba sweep per tape, then a commit.

`run_backward` seeds the roots, sweeps the tapes from newest to oldest (an `import` entry
hands its gradient to the tape it came from), and only when every sweep has succeeded does it
accumulate into `.grad`, free saved buffers and seal the tapes.  A failing call therefore
leaves every tensor, `.grad` and tape as it was.
"""
import numpy as np

from . import errors
from .ops import BY_CODE
from .tape import OP_LEAF, OP_IMPORT, _SAVES

_sweep = None


def _kernel():
    global _sweep
    if _sweep is None:
        from ._kernels import sweep
        _sweep = sweep
    return _sweep


class _Sweep:
    """The result of sweeping one tape: adjoint arena and reach flags."""
    __slots__ = ("tape", "n", "off", "size", "adj", "reach")

    def grad_of(self, node, shape):
        o = self.off[node]
        s = self.size[node]
        return self.adj[o:o + s].reshape(shape)


def _sweep_tape(tape, seeds):
    """seeds: list of (node, float or ndarray).  Returns a _Sweep or raises (nothing changed)."""
    start = max(node for node, _ in seeds)
    n = start + 1
    op, ia, ib, cst, freed = tape.streams(n)
    off, size, shp, nd, total = tape.layout(n)
    vals = tape.values(n, off, total)
    par, params = tape.param_arrays(n)
    adj = np.zeros(total)
    reach = np.zeros(n, np.uint8)
    for node, seed in seeds:
        o = off[node]
        adj[o:o + size[node]] += np.asarray(seed, dtype=np.float64).reshape(-1)
        reach[node] = 1
    bad = _kernel()(op, ia, ib, cst, par, params, off, size, shp, nd, vals, adj, start, reach,
                    freed, _SAVES)
    if bad >= 0:
        raise RuntimeError(errors.BACKWARD_TWICE)
    r = _Sweep()
    r.tape, r.n, r.off, r.size, r.adj, r.reach = tape, n, off, size, adj, reach
    return r


def run_backward(roots, seeds, retain_graph, inputs=None, validate=None):
    """Sweep from `roots` (tensors requiring grad) seeded with `seeds` (arrays/floats).

    With `inputs` None: returns {id(leaf): (leaf, grad ndarray)} for every reached leaf and
    retained non-leaf.  With `inputs` a list of tensors: returns a list of gradients (None
    where an input was not reached).  Nothing is committed here except buffer release and
    sealing (which the caller asked for by not retaining the graph); `validate(result)` may
    raise before even that happens.
    """
    pending = {}          # tape -> list of (node, seed)
    direct = []           # roots that are leaves: their seed is their gradient
    for t, s in zip(roots, seeds):
        if t._tape is None:
            direct.append((t, s))
        else:
            pending.setdefault(t._tape, []).append((t._node, s))

    done = []
    while pending:
        tape = max(pending, key=lambda tp: tp.serial)
        r = _sweep_tape(tape, pending.pop(tape))
        done.append(r)
        reach = r.reach
        for node, (src, snode) in tape.imports.items():
            if node < r.n and reach[node]:
                pending.setdefault(src, []).append((snode, r.grad_of(node, -1).copy()))

    if inputs is not None:
        out = []
        for t in inputs:
            g = None
            for tt, s in direct:
                if tt is t:
                    g = _add(g, np.asarray(s, np.float64).reshape(t.shape))
            for r in done:
                node = _node_in(r.tape, t)
                if node is not None and node < r.n and r.reach[node]:
                    g = _add(g, r.grad_of(node, t.shape))
            out.append(g)
    else:
        out = {}
        for t, s in direct:
            _collect(out, t, np.asarray(s, np.float64).reshape(t.shape))
        for r in done:
            tape, reach = r.tape, r.reach
            for node, leaf in tape.leaves.items():
                if node < r.n and reach[node]:
                    _collect(out, leaf, r.grad_of(node, leaf.shape))
            for node, ref in tape.retained.items():
                t = ref()
                if t is not None and node < r.n and reach[node]:
                    _collect(out, t, r.grad_of(node, t.shape))

    if validate is not None:
        validate(out)
    if not retain_graph:
        for r in done:
            op = r.tape.streams(r.n)[0]
            r.tape.release(np.flatnonzero(r.reach & (_SAVES[op] != 0)))
            r.tape.seal()
    return out


def _node_in(tape, t):
    if t._tape is tape:
        return t._node
    if t._tape is None:
        return tape.leaf_of.get(id(t))
    return None  # a non-leaf's gradient is complete at its own node (imports fed into it)


def _add(g, x):
    return x.copy() if g is None else g + x


def _collect(out, t, g):
    k = id(t)
    if k in out:
        out[k] = (t, out[k][1] + g)
    else:
        out[k] = (t, g.copy())
