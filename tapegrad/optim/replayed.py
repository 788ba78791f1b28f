"""A training step recorded once and replayed: forward, backward and the optimizer's fused
update, with no Python per operation (the CUDA-graphs / jax.jit analogue).

    step = tapegrad.optim.ReplayedStep(opt, loss_fn, X, Y)   # records loss_fn(X, Y) once
    for X, Y in batches:
        loss = step(X, Y)        # = opt.zero_grad(); loss_fn(X, Y).backward(); opt.step()

`tapegrad.record` cannot record a function that calls `backward()` (its tape holds the
forward; the backward is the replay's reverse sweep), so the step is built from the parts
record does give: the loss is recorded as a function of the optimizer's parameters (the
tensors `loss_fn` reads, as they are when the step runs) and of the tensor arguments (the
batch); each call writes the current parameter values and the arguments into the replay's
arena, runs the recorded forward and reverse sweep (one or two Numba calls), and hands the
parameters' gradients, read from the adjoint arena, to the optimizer's fused update (one
Numba call per group).  The optimizer's state, hyperparameters (an lr scheduler may change
them) and version counters behave exactly as in the eager step; `.grad` is left alone (the
gradients never leave the arena).  Parameters the loss does not reach are skipped, as torch
skips parameters whose `.grad` is None.

Python control flow on traced values is guarded as in `tapegrad.record`: a step where a
recorded branch goes the other way raises `tapegrad.BranchChanged` before anything changes.
"""
import numpy as np

from .._jit import K
from ..replay import _compile
from ..tape import CLOSED, STATE, Tape
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["ReplayedStep"]


def _record_loss(fn, params, args):
    """The Recorded program of fn(*args) with `params` (read by fn as they are) and the tensor
    arguments as inputs, in that order (tapegrad.record makes the arguments' leaves; here the
    parameters themselves are the leaves)."""
    tape = Tape(recording=True)
    inputs = list(params)
    for p in params:
        tape.input_ids.add(id(p))
    call, argn = [], []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            if not a.dtype.is_floating_point:
                raise TypeError(f"ReplayedStep: tensor argument {i} has dtype {a.dtype}; "
                                f"inputs must be floating point")
            leaf = Tensor._wrap(np.array(a._array(), copy=True), a.dtype, True)
            tape.input_ids.add(id(leaf))
            inputs.append(leaf)
            argn.append(i)
            call.append(leaf)
        else:
            call.append(a)
    prev = STATE.tape, STATE.parked, STATE.enabled
    STATE.tape, STATE.parked, STATE.enabled = tape, CLOSED, True
    try:
        for x in inputs:
            tape.leaf_node(x)
        loss = fn(*call)
    finally:
        STATE.tape, STATE.parked, STATE.enabled = prev
        for p in params:
            p._lserial = 0     # the recording tape's leaf cache must not outlive it
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise TypeError("ReplayedStep: loss_fn must return a one-element tensor")
    return _compile(tape, inputs, (loss,), True), argn


class ReplayedStep:
    """`step(*args)` = one training step of `optimizer` on the loss `loss_fn(*args)`, replayed
    from a recording made at construction (see the module doc).  Returns the loss as a
    0-d tensor of the loss's dtype."""

    def __init__(self, optimizer, loss_fn, *example_args):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        groups = optimizer.param_groups
        self.params = [p for g in groups for p in g["params"]]
        self.tape, self._argn = _record_loss(loss_fn, self.params, example_args)
        self._nargs = len(example_args)
        rec = self.tape
        out = rec.outputs[0][0]
        self._out = out
        reach = rec._static_reach(out)
        nodes = [node for node, _, _ in rec.inputs]
        # per group: the reached parameters and where their gradients sit in the arena
        self._groups = []
        k = 0
        for g in groups:
            idx = []
            for p in g["params"]:
                if reach[nodes[k]]:
                    idx.append(k)
                k += 1
            self._groups.append([self.params[i] for i in idx])
        self._poff = [(int(rec.off[nodes[i]]), int(rec.size[nodes[i]]))
                      for i in range(len(self.params))]
        self._aoff = [(int(rec.off[nodes[len(self.params) + j]]),
                       int(rec.size[nodes[len(self.params) + j]]), rec.inputs[len(self.params) + j])
                      for j in range(len(self._argn))]
        self._gidx = {}
        self._shapes = [p._shape for p in self.params]
        self._entries = {}
        spans = self._poff + [x[:2] for x in self._aoff]
        follow = all(o + n == spans[k + 1][0] for k, (o, n) in enumerate(spans[:-1]))
        self._span = (spans[0][0], spans[-1][0] + spans[-1][1]) if follow and spans else None

    def __repr__(self):
        return (f"<tapegrad.optim.ReplayedStep: {type(self.optimizer).__name__}, "
                f"{len(self.params)} parameters, {len(self.tape)} entries>")

    def _load(self, vals, args):
        """Write the parameters' current values and the arguments into the arena: one
        concatenation when the inputs' slices follow each other (they are recorded first)."""
        if len(args) != self._nargs:
            raise TypeError(f"this step takes {self._nargs} arguments, got {len(args)}")
        vs = [p._v for p in self.params]
        for i, (o, n, (_, shape, dt)) in zip(self._argn, self._aoff):
            a = args[i]
            if not isinstance(a, Tensor) or a._dtype is not dt or a._shape != shape:
                raise TypeError(f"argument {i}: expected a {dt} tensor of shape "
                                f"{list(shape)}, got " + (
                                    f"{a.dtype} {list(a.shape)}" if isinstance(a, Tensor)
                                    else type(a).__name__))
            vs.append(a._v)
        floats = [type(v) is float for v in vs]
        if self._span is not None:
            o0, o1 = self._span
            if True in floats:
                vs = [(v,) if f else v for v, f in zip(vs, floats)]
            np.concatenate(vs, axis=None, out=vals[o0:o1])
            return
        for v, f, (o, n) in zip(vs, floats, self._poff + [x[:2] for x in self._aoff]):
            if f:
                vals[o] = v
            else:
                vals[o:o + n] = v.reshape(-1)

    def __call__(self, *args):
        rec = self.tape
        if [p._shape for p in self.params] != self._shapes:
            raise RuntimeError("ReplayedStep: a parameter's shape changed since the step was "
                               "recorded; record it again")
        vals, adj = rec._arena()
        self._load(vals, args)
        if rec.scalar:
            status = rec._vg_call(vals, adj)
            rec._check(status)
        elif rec._paused:      # host entries (large matmuls): the replay's segmented sweeps
            status = rec._forward_paused(vals)
            rec._check(status)
            rec._backward_paused(vals, adj, self._out)
        else:
            self._sweeps(vals, adj)
        loss = rec._out(vals, 0, True)
        opt = self.optimizer
        for gi, (group, params) in enumerate(zip(opt.param_groups, self._groups)):
            if params:
                opt._group_step(gi, group, params, lambda pack: (adj, self._goff(pack)))
        opt._opt_called = True     # (lr_scheduler's order check, as the eager step sets it)
        return loss

    def _sweeps(self, vals, adj):
        """The forward and reverse sweeps of a tape without host entries: what the replay's
        _forward_paused/_backward_paused run, each one kernel call here, made through the
        compiled entry points once known (as Recorded._vg_call: Numba's per-call dispatch
        on ~17 arguments is a large part of a small tape's replay)."""
        rec = self.tape
        fwd_args = rec._kargs + (rec.off, rec.size, rec.shp, rec.nd, vals, 0, rec.host)
        status = self._call("forward_from", fwd_args)
        if status >= 0:
            rec._check(status)
        adj[:] = 0.0
        adj[rec.off[self._out]] = 1.0
        reach = np.zeros(len(rec), np.uint8)   # (per call: steps may run in several threads)
        reach[self._out] = 1
        self._call("sweep", rec._kargs + (rec.off, rec.size, rec.shp, rec.nd, vals, adj,
                                          self._out, reach, rec._freed, K.OP_SAVES, rec.host))

    def _call(self, name, args):
        entry = self._entries.get(name)
        if entry is not None:
            return entry(*args)
        kernel = getattr(K, name)
        r = kernel(*args)
        try:
            from numba import typeof
            self._entries[name] = kernel.overloads[tuple(typeof(a) for a in args)].entry_point
        except Exception:  # noqa: BLE001 - a Numba without `overloads`: keep dispatching
            self._entries[name] = kernel
        return r

    def _goff(self, pack):
        """Where the pack's parameters' gradients start in the adjoint arena: the update
        kernel reads them there (the arena has the parameters' dtype when the tape has)."""
        hit = self._gidx.get(id(pack))
        if hit is None or hit[0] is not pack:
            where = {id(p): i for i, p in enumerate(self.params)}
            goff = np.array([self._poff[where[id(p)]][0] for p in pack.params], np.int64)
            hit = self._gidx[id(pack)] = (pack, goff)
        return hit[1]
