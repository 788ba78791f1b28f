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

from ..replay import _compile
from ..tape import CLOSED, STATE, Tape
from ..tensor import Tensor
from ..trainstep import ArenaStep
from .hooks import has_step_hooks, run_with_step_hooks
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
        self._run = ArenaStep(rec, self.params, rec.outputs[0][0])
        reach = self._run.reach
        nodes = [node for node, _, _ in rec.inputs]
        # per group: the reached parameters (their gradients stay in the adjoint arena)
        self._groups = []
        k = 0
        for g in groups:
            self._groups.append([p for j, p in enumerate(g["params"], k) if reach[nodes[j]]])
            k += len(g["params"])
        self._where = {id(p): o for p, (o, _) in zip(self.params, self._run.spans)}

    def __repr__(self):
        return (f"<tapegrad.optim.ReplayedStep: {type(self.optimizer).__name__}, "
                f"{len(self.params)} parameters, {len(self.tape)} entries>")

    def __call__(self, *args):
        if len(args) != self._nargs:
            raise TypeError(f"this step takes {self._nargs} arguments, got {len(args)}")
        vals, adj = self.tape._arena()
        run = self._run
        run.load(vals, [args[i] for i in self._argn])
        run.run(vals, adj)
        loss = self.tape._out(vals, 0, True)
        opt = self.optimizer

        def update():
            opt._groups_step([(gi, group, params,
                               lambda pack: (adj, run.goff(pack, 0, self._where)))
                              for gi, (group, params) in enumerate(zip(opt.param_groups,
                                                                       self._groups))
                              if params])
        if has_step_hooks(opt):    # torch's step hooks around the update, as opt.step() runs them
            run_with_step_hooks(opt, update)
        else:
            update()
        opt._opt_called = True     # (lr_scheduler's order check, as the eager step sets it)
        return loss
