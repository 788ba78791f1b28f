"""A training step compiled: `tapegrad.compile` of a function that calls `backward()` and an
optimizer's `step()` (the CUDA-graphs / jax.jit analogue; design in docs/design.md, "Compiled
training steps").

    @tapegrad.compile
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

While compile traces the function (replay.compile opens a `StepTrace` in steptrace.TRACE),
nothing that changes state runs: `backward()` marks its tensor as the program's loss,
`zero_grad()` (an optimizer's or a module's) and `opt.step()` are noted as host steps, in
order.  When the trace ends, every leaf that requires grad and that the function read (the
parameters: tensors from outside, which a plain recording bakes in as constants) becomes an
input of the program, read as it is at each call.  A call (`StepProgram`) then writes the
parameters and the tensor arguments into the replay's arena, runs the recorded forward (its
guards first: a changed branch raises BranchChanged before anything changes) and the reverse
sweep from the loss, and replays the host steps: `zero_grad` as the eager one, the backward as
one copy of the parameters' gradients out of the adjoint arena into `.grad` (torch's
accumulation rules), `step()` as the optimizer's fused update reading those gradients.  So
after each call the parameters, `.grad`, the optimizer's state, the version counters and the
returned values are the eager step's; an lr scheduler stepped between calls is seen, since
the hyperparameters are read per call.

What a trace cannot hold raises `TracingError` (never a silent difference; compile's default,
fullgraph=False, then runs the step eagerly after a warning, as torch's graph break): a second
backward, `create_graph`, `inputs=`, a gradient argument, hooks on a parameter, reading or
assigning `.grad` inside the step (`clip_grad_norm_` included), a step function that reads a
parameter after `opt.step()` or changes an optimizer's hyperparameters, backward through a
tensor computed outside the function, a tensor argument that requires grad, LBFGS, a draw
from the default random generator (dropout: the replay would reuse the trace's draws),
BatchNorm in training mode (its running statistics and num_batches_tracked are buffers
updated in place, which a replay would not update again).  Not detected: an in-place update
of some other tensor from outside the function (a counter buffer `self.calls += 1`) happens
at the trace only.

Between calls, what the trace took as it was is guarded (`StepProgram.holds`, checked by
compile before each call; a failed check records again, as torch.compile's guards
recompile): the parameters still require grad, and the constants the trace read (a frozen
layer's weights, buffers) and its optimizers' frozen parameters kept their version, storage
and requires_grad, and no module switched between train() and eval(), so freezing or
unfreezing a layer, loading a frozen one, or a step traced in eval() mode then trained is
seen.
"""
from operator import attrgetter, is_ as _is, itemgetter

import numpy as np

from . import errors
from . import hooks, tiers
from ._jit import K
from ._signals import COMMIT
from .autograd.api import _publish, _stage
from .errors import TracingError
from .grad_mode import switched_grad
from .random import draw_state, drew_since
from .steptrace import MODE_CHANGES
from .tape import OP_LEAF, _SAVES, version_counter
from .tensor import Tensor, _new

__all__ = ["StepTrace", "StepProgram", "ArenaStep", "zero_grads"]


_shape_dtype = attrgetter("_shape", "_dtype")
_get_v = attrgetter("_v")
_recorded = attrgetter("_recorded")
_first = itemgetter(0)
_concatenate = np.concatenate
_copyto = np.copyto


DREW = ("tapegrad.compile: the step function draws random numbers (dropout in training "
        "mode, rand, ...): a replay would reuse the trace's draws at every call; run the step "
        "eagerly, or draw the numbers outside and pass them in")


def _fail(what):
    err = TracingError(f"tapegrad.compile: {what}")
    err.in_step = True     # (what a training step does: compile may run it eagerly instead)
    raise err


def _hyper(opt):
    """What an optimizer's step reads besides the gradients: its groups' settings."""
    return [([id(p) for p in g["params"]], {k: v for k, v in g.items() if k != "params"})
            for g in opt.param_groups]


def _restore(opt, seen):
    """Put back the groups' settings _hyper saw (when the groups hold the same parameters)."""
    groups = opt.param_groups
    if [ids for ids, _ in seen] != [[id(p) for p in g["params"]] for g in groups]:
        return
    for g, (_, values) in zip(groups, seen):
        for k in [k for k in g if k != "params" and k not in values]:
            del g[k]
        g.update(values)


class StepTrace:
    """The host steps a compile trace saw (see the module doc).  `events` in order:
    ("zero", params, set_to_none), ("backward",), ("step", optimizer)."""

    def __init__(self, tape, arg_leaves, arg_requires_grad):
        self.tape = tape
        self.events = []
        self.loss = None
        self.reach = None
        self.arg_leaves = arg_leaves
        self.arg_rg = arg_requires_grad
        self.optimizers = {}      # id -> (optimizer, its settings when the trace saw it)
        self.rng = draw_state()
        self.stepped = {}         # id(param) -> its baked node, for params a step() updates
        self.hooked = False       # a module's forward (pre-)hooks ran (Module._call_hooked)
        self.drew = False         # it drew from the default generator (finish)

    # -- what the intercepted calls do while tracing ------------------------------------------
    def grad_access(self, t):
        _fail("a compiled step cannot read or assign `.grad` (the gradients exist only when "
              "the step runs; clip_grad_norm_ and manual updates read them): call "
              "opt.zero_grad()/opt.step() inside the step, or run this step eagerly")

    def backward(self, tensors, grad_tensors, retain_graph, create_graph, inputs):
        if create_graph:
            _fail("backward(create_graph=True) inside a compiled step is not supported (the "
                  "replay's reverse sweep records no graph); run it eagerly")
        if inputs is not None:
            _fail("backward(inputs=...) inside a compiled step is not supported")
        if self.loss is not None:
            _fail("a second backward() in one compiled step is not supported (the program "
                  "has one reverse sweep, from one loss)")
        if isinstance(tensors, (tuple, list)):
            if len(tensors) != 1:
                _fail("backward() of several tensors inside a compiled step is not supported")
            tensors = tensors[0]
        if grad_tensors is not None:
            _fail("backward(gradient=...) inside a compiled step is not supported")
        t = tensors
        if t._tape is not self.tape:
            if not t.requires_grad:
                raise RuntimeError(errors.NO_GRAD_FN.format(0))
            _fail("backward() of a tensor computed outside the compiled function")
        if t.numel() != 1:
            raise RuntimeError(errors.IMPLICIT_SCALAR)
        tape = self.tape
        reach = tape.reached([t._node], tape.n)
        for i, leaf in enumerate(self.arg_leaves):
            if self.arg_rg[i] and reach[tape.leaf_of[id(leaf)][0]]:
                _fail(f"tensor argument {i} requires grad and the loss depends on it: its "
                      f".grad is not supported in a compiled step (detach it)")
        grads = False
        for x in tape.baked:
            node = tape.import_of.get(("baked", id(x)))
            if node is None or not reach[node] or not x.requires_grad:
                continue
            if x._tape is not None:
                _fail("the loss depends on a tensor computed with grad history outside the "
                      "compiled function; backward cannot reach through it (compute it inside)")
            if hooks.has_hooks(x):
                _fail("a parameter has hooks registered: a replay runs no Python between its "
                      "kernels, so they would not run (remove them, or step eagerly)")
            grads = True
        if not grads:
            raise RuntimeError(errors.NO_GRAD_FN.format(0))
        self.loss, self.reach = t, reach
        self.events.append(("backward",))

    def zero_grad(self, params, set_to_none):
        self.events.append(("zero", list(params), bool(set_to_none)))

    def optimizer_zero_grad(self, opt, set_to_none):
        self._seen(opt)
        self.zero_grad([p for g in opt.param_groups for p in g["params"]], set_to_none)

    def optimizer_step(self, opt, closure):
        """opt.step(closure) inside the trace: the closure runs (traced), the update is noted."""
        loss = None
        if closure is not None:
            with switched_grad(True):
                loss = closure()
        self._seen(opt)
        self.events.append(("step", opt))
        baked = self.tape.import_of
        for g in opt.param_groups:
            for p in g["params"]:
                # forget the parameter's constant: a later read makes a new one, refused at end
                node = baked.pop(("baked", id(p)), None)
                if node is not None:
                    self.stepped[id(p)] = (p, node)
        return loss

    def unsupported(self, what):
        _fail(f"{what} cannot be compiled into a step; run it eagerly")

    def _seen(self, opt):
        if id(opt) not in self.optimizers:
            self.optimizers[id(opt)] = (opt, _hyper(opt))

    # -- the end of the trace -----------------------------------------------------------------
    def finish(self):
        """Check what the trace did and turn the parameters it read into leaf inputs; returns
        them (tensors from outside that require grad, in the order they were first read)."""
        tape = self.tape
        # (compile refuses the program when it drew, but may run it once: replay.compile)
        self.drew = drew_since(self.rng)
        for key, (p, _) in self.stepped.items():
            if ("baked", key) in tape.import_of:
                _fail("the step function reads a parameter after opt.step(); the program would "
                      "read its value from before the update (return values computed before the "
                      "step, or compute them outside)")
        for opt, seen in self.optimizers.values():
            if _hyper(opt) != seen:
                _restore(opt, seen)     # (the eager run that follows changes them once)
                _fail(f"the step function changed the settings of {type(opt).__name__} (an lr "
                      f"scheduler's step() inside it?); they are read at each call: change "
                      f"them outside the compiled step")
        params, nodes = [], []
        held = {id(p): (p, n) for p, n in self.stepped.values()}
        for x in tape.baked:
            hit = held.get(id(x))
            node = tape.import_of.get(("baked", id(x))) if hit is None else hit[1]
            if node is None or x._tape is not None or not x.requires_grad:
                continue
            if any(n == node for n in nodes):
                continue
            params.append(x)
            nodes.append(node)
        for x, node in zip(params, nodes):
            # NOTE: the constant entry becomes a leaf entry (same value and shape; a saved copy
            # stays as the arena's initial value): the replay writes its current value per call
            tape.op[node] = OP_LEAF
            tape.input_ids.add(id(x))
            tape.leaf_of[id(x)] = [node]
        return params


# ---- running the program ---------------------------------------------------------------------
class ArenaStep:
    """A Recorded program whose first inputs are `params` (then `nargs` tensor arguments),
    run per call through the kernels' compiled entry points: forward, then the reverse sweep
    from `out` (or none).  Shared by StepProgram and optim.ReplayedStep."""

    def __init__(self, rec, params, out):
        self.rec = rec
        self.params = params
        self.out = out
        self._shapes = [(p._shape, p._dtype) for p in params]
        self._entries = {}
        nodes = [node for node, _, _ in rec.inputs]
        self.spans = [(int(rec.off[v]), int(rec.size[v])) for v in nodes]
        self.arg_specs = rec.inputs[len(params):]
        follow = all(o + n == self.spans[k + 1][0] for k, (o, n) in enumerate(self.spans[:-1]))
        self._span = (self.spans[0][0], self.spans[-1][0] + self.spans[-1][1]) \
            if follow and self.spans else None
        self.reach = rec._static_reach(out) if out is not None else None
        self._seed = int(rec.off[out]) if out is not None and len(rec) else -1
        self._argc = None
        self._goffs = {}
        # load's views and checks, per arena (see load)
        self._flat = None
        self.loads = 0      # calls of load, and whether the parameters' storage was kept
        self.kept = False

    def load(self, vals, tensors):
        """Write the parameters' current values and the tensor arguments into the arena: one
        concatenation when the inputs' slices follow each other.  Sets `kept`: every
        parameter holds the storage the previous load saw (the same array, or a float)."""
        params = self.params
        vs = list(map(_get_v, params))
        c = self._flat
        self.loads += 1
        # kept: the same arrays (identity), and floats where floats were (their types)
        self.kept = kept = c is not None and c[0] is vals and list(
            map(_is, vs, c[1])) == c[5] and list(map(type, vs)) == c[6]
        # (a parameter still holding the array the last call checked has its shape and dtype)
        if list(map(_shape_dtype, c[7] if kept else params)) != (c[8] if kept else self._shapes):
            raise RuntimeError("a parameter's shape or dtype changed since the step was "
                               "recorded; record it again")
        specs = self.arg_specs
        for i, a in enumerate(tensors):
            _, shape, dt = specs[i]
            if not isinstance(a, Tensor) or a._dtype is not dt or a._shape != shape:
                raise TypeError(f"argument {i}: expected a {dt} tensor of shape "
                                f"{list(shape)}, got " + (
                                    f"{a.dtype} {list(a.shape)}" if isinstance(a, Tensor)
                                    else type(a).__name__))
            vs.append(a._v)
        if self._span is not None:
            o0, o1 = self._span
            if kept:    # only the floats' cells and the arguments can need new views
                src, flat = c[1], c[2]
                for k in c[4]:
                    flat[k][0] = vs[k]
                for k in range(len(params), len(vs)):
                    if vs[k] is not src[k]:
                        self._flat_view(k, vs[k], src, flat)
                _concatenate(flat, out=c[3])
                return
            if c is not None and c[0] is vals:
                for k, v in enumerate(vs):
                    if v is not c[1][k]:
                        self._flat_view(k, v, c[1], c[2])
                _concatenate(c[2], out=c[3])
                held = c[1][:len(params)]
                c[4] = [k for k, h in enumerate(held) if h is float]
                c[7], c[8] = [params[k] for k in c[4]], [self._shapes[k] for k in c[4]]
                # (None for a non-contiguous array: its copy is made at every call)
                c[5] = [False if h is float else None if h is None else True for h in held]
                c[6] = [float if h is float else np.ndarray for h in held]
                return
            if c is None:       # (the first call on this arena: the views from now on)
                # [arena, inputs' arrays (float: a float), their 1-d views, arena slice,
                #  float-backed params' indices, per param: array kept (is), per param: its
                #  type, the float-backed params, their (shape, dtype)]
                self._flat = [vals, [None] * len(vs), [None] * len(vs), vals[o0:o1], [],
                              None, None, [], []]
            floats = float in map(type, vs)
            if floats:
                vs = [(v,) if type(v) is float else v for v in vs]
            np.concatenate(vs, axis=None, out=vals[o0:o1])
            return
        for v, (o, n) in zip(vs, self.spans):
            if type(v) is float:
                vals[o] = v
            else:
                vals[o:o + n] = v.reshape(-1)

    def _flat_view(self, k, v, src, flat):
        """Input k's value v as a 1-d array for the one concatenation into the arena: a view
        of its array, kept while it is still that array (a contiguous one: the view sees its
        values), or a one-element array holding a float-backed value.  (Concatenating 1-d
        views costs half of axis=None, which flattens each input at every call.)"""
        if type(v) is float:
            if src[k] is not float:
                src[k], flat[k] = float, np.empty(1, self.rec.dtype)
            flat[k][0] = v
            return
        src[k], flat[k] = (v if v.flags.c_contiguous else None), v.reshape(-1)

    def run(self, vals, adj):
        """Forward (guards checked: BranchChanged before anything changes), then the reverse
        sweep from `out` into adj."""
        rec, out = self.rec, self.out
        if rec.scalar:
            if out is None:
                status = self._call("forward_scalar", rec._kargs + (vals,))
            else:
                status = self._call("replay_scalar", rec._kargs + (self.reach, vals, adj, out))
            rec._check(status)
            return
        if rec._paused:      # host entries (large matmuls): the replay's segmented sweeps
            rec._check(rec._forward_paused(vals))
            if out is not None:
                rec._backward_paused(vals, adj, out)
            return
        fwd, swp, zadj = self._nd_args(vals, adj)
        entries = self._entries
        kernel = entries.get("forward_from")
        status = kernel(*fwd) if kernel is not None else self._call("forward_from", fwd)
        if status >= 0:
            rec._check(status)
        if out is None:
            return
        _copyto(adj, zadj)        # (a copy of zeros: 3x faster than fill(0.0) on float32)
        adj[self._seed] = 1.0
        kernel = entries.get("sweep")
        kernel(*swp) if kernel is not None else self._call("sweep", swp)

    def _nd_args(self, vals, adj):
        """The forward's and the sweep's argument tuples on this arena, and zeros to reset
        the adjoints from (made once per arena: a thread's arena stays the same).
        NOTE: the sweep's `reach` is not reset between calls: the sweep marks an entry's
        operands before it reaches them (descending order), from the graph alone, so marks
        left by the last sweep of this program (a subset of what this one marks) change
        nothing it does; they spare one reset per call."""
        c = self._argc
        if c is not None and c[0] is vals and c[1] is adj:
            return c[2:]
        rec = self.rec
        # (run calls the kernels: no stop for one)
        tiers.fill_pieces(rec._kargs[0], rec.dtype, size=rec.size)
        reach = np.zeros(len(rec), np.uint8)
        if self.out is not None:
            reach[self.out] = 1
        head = rec._kargs + (rec.off, rec.size, rec.shp, rec.nd, vals)
        fwd = head + (0, rec.host)
        swp = head + (adj, self.out if self.out is not None else -1, reach, rec._freed,
                      _SAVES, rec.host)
        self._argc = (vals, adj, fwd, swp, np.zeros_like(adj))
        return self._argc[2:]

    def _call(self, name, args):
        """Kernel `name` through its compiled entry point once known (Numba's per-call type
        dispatch on ~17 arguments is a large part of a small tape's replay)."""
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

    def goff(self, pack, base, where):
        """Where the pack's parameters' gradients start in an array whose parameter k's
        gradient starts at where[id(param k)] - base (cached per pack)."""
        hit = self._goffs.get(id(pack))
        if hit is None or hit[0] is not pack or hit[1] != base:
            goff = np.array([where[id(p)] - base for p in pack.params], np.int64)
            hit = self._goffs[id(pack)] = (pack, base, goff)
        return hit[2]


class StepProgram(ArenaStep):
    """One compiled training step (see the module doc): `prog(*args)` returns what the step
    function returned (its tensors as values, without a graph)."""

    def __init__(self, rec, params, trace, n_user_outputs, argn):
        loss = rec.outputs[-1][0] if trace.loss is not None else None
        super().__init__(rec, params, loss)
        self.events = trace.events
        self.argn = argn                      # positions of the tensor arguments
        self.hooked = trace.hooked
        self.drew = trace.drew
        self.n_out = n_user_outputs
        reach = self.reach
        # the parameters whose .grad the backward writes (those the loss reaches)
        self.targets = [k for k, (v, _, _) in enumerate(rec.inputs[:len(params)])
                        if reach is not None and reach[v]]
        tg = [self.spans[k] for k in self.targets]
        dts = {np.dtype(params[k]._dtype.np) for k in self.targets}
        self._gspan = None
        if tg and dts == {rec.dtype} and all(
                o + n == tg[j + 1][0] for j, (o, n) in enumerate(tg[:-1])):
            self._gspan = (tg[0][0], tg[-1][0] + tg[-1][1])
        self._where = {id(params[k]): self.spans[k][0] for k in self.targets}
        self._tparams = [params[k] for k in self.targets]
        self._tids = {id(p) for p in self._tparams}
        self._full = {}     # id(group's params) -> (the list, its params): all targets
        # per event: a zero_grad(set_to_none=True) of every parameter the backward writes
        self._clears = [e[0] == "zero" and e[2] and self._tids <= {id(p) for p in e[1]}
                        for e in self.events]
        # ... and of no other, right before that backward, whose .grads are then all new
        # tensors (the one-buffer path of _accumulate): setting them to None first is not
        # observable inside the step (no hook, no read in between), so it is skipped
        self._replaced = [
            clears and self._gspan is not None and j + 1 < len(self.events)
            and self.events[j + 1][0] == "backward"
            and {id(p) for p in self.events[j][1]} == self._tids
            for j, clears in enumerate(self._clears)]
        # the usual step function (zero_grad of the targets, replaced; backward; step()s):
        # its optimizers, run by __call__ without walking the events
        ev = self.events
        self._usual = [e[1] for e in ev[2:]] if (
            len(ev) > 2 and self._replaced[0] and ev[1][0] == "backward"
            and all(e[0] == "step" for e in ev[2:])) else None
        self._plans = {}    # id(optimizer) -> its step's plan (see _planned_step)
        self._checked = {}  # id(optimizer) -> the load (call) whose step ran or made its plan
        # the tensor arguments the loss reaches (one requiring grad is refused, as in the trace)
        self._reached_args = [] if reach is None else [
            i for i, (v, _, _) in zip(argn, rec.inputs[len(params):]) if reach[v]]
        self._one = [params[k].numel() == 1 and type(params[k]._v) is float
                     for k in self.targets]
        o0 = self._gspan[0] if self._gspan is not None else 0
        self._gslices = [(self.spans[k][0] - o0, self.spans[k][0] - o0 + self.spans[k][1],
                          params[k]._shape, one) for k, one in zip(self.targets, self._one)]
        # per target: what its new .grad is made of (the parameter, its slice of the buffer,
        # shape, float-backed, dtype)
        self._gmake = [(p, a, b, shape, one, p._dtype)
                       for p, (a, b, shape, one) in zip(self._tparams, self._gslices)]
        # per returned tensor: (offset, dtype, shape) when one element of the arena's dtype
        self._outs = []
        for node, shape, dt in rec.outputs[:n_user_outputs]:
            one = int(rec.size[node]) == 1 and np.dtype(dt.np) == rec.dtype \
                and dt.is_floating_point
            self._outs.append((int(rec.off[node]), dt, shape) if one else None)
        self._one_out = self._outs[0] if len(self._outs) == 1 else None
        # what the trace took as it was (see holds()): the counters of the constants it read
        # (frozen parameters, buffers: views of them die, their counters stay) and of the
        # outside tensors it baked in (read under no_grad too: a target network's weights) and
        # the parameters of its optimizers that were not inputs (frozen); the latter two also
        # by storage and requires_grad
        tape = trace.tape
        mine = {id(version_counter(p)) for p in params}
        counters = {id(w[0]): w[0] for w in tape.versions.values() if w[4] is not None}
        pids = {id(p) for p in params}
        outside = {id(t): t for t in tape.baked if id(t) not in pids}
        for opt, _ in trace.optimizers.values():
            for g in opt.param_groups:
                outside.update((id(p), p) for p in g["params"] if id(p) not in pids)
        self._outside = list(outside.values())
        counters.update((id(c), c) for c in map(version_counter, self._outside))
        self._counters = [c for k, c in counters.items() if k not in mine]
        self._versions = list(map(_first, self._counters))
        self._vs = list(map(_get_v, self._outside))
        self._rgs = list(map(_recorded, self._outside))
        self._modes = MODE_CHANGES[0]   # (a module's train()/eval() since: the trace's mode)

    def holds(self):
        """Whether the program still is the step: its parameters all require grad, and what
        it took as constants is as it was (no in-place change, new storage or requires_grad
        flip), and no module switched between train() and eval().  Else compile records
        again, as torch.compile's guards recompile: a layer frozen or unfrozen between calls,
        a frozen one loaded, a model traced in eval() mode then trained (dropout).
        (Leaves' requires_grad is their _recorded; C-level maps: this runs at every call.)"""
        if not all(map(_recorded, self.params)) or MODE_CHANGES[0] != self._modes:
            return False
        if self._counters and list(map(_first, self._counters)) != self._versions:
            return False
        outside = self._outside
        return not outside or (all(map(_is, map(_get_v, outside), self._vs))
                               and list(map(_recorded, outside)) == self._rgs)

    def __repr__(self):
        return (f"<tapegrad.StepProgram: {len(self.rec)} entries, {len(self.params)} "
                f"parameters, steps {[e[0] for e in self.events]}>")

    def __call__(self, args):
        rec = self.rec
        for i in self._reached_args:
            if args[i]._recorded and args[i].requires_grad:   # (_recorded: no property call)
                _fail(f"tensor argument {i} requires grad and the loss depends on it: its "
                      f".grad is not supported in a compiled step (detach it)")
        vals, adj = rec._arena()
        self.load(vals, [args[i] for i in self.argn])
        self.run(vals, adj)
        buf = None      # this call's gradients, as written into .grad (when one array)
        none = False    # every target's .grad is None (a zero_grad(set_to_none) of them all)
        with COMMIT:
            if self._usual is not None:     # zero_grad (not carried out), backward, step()s
                buf = self._accumulate(adj, True, False)
                for opt in self._usual:
                    if not self._planned_step(opt, buf[0]):
                        if buf[1] is None:  # (.grad is as the backward left it: no step sets it)
                            buf = (buf[0], [(p, p._grad, p._grad._v) for p in self._tparams])
                        self._step(opt, buf)
                if self._one_out is not None:   # (the loss alone, say)
                    return (self._value(vals, self._one_out),)
                return tuple([self._value(vals, o) if o is not None
                              else rec._out(vals, k, True) for k, o in enumerate(self._outs)])
            for ev, clears, replaced in zip(self.events, self._clears, self._replaced):
                kind = ev[0]
                if kind == "backward":
                    buf = self._accumulate(adj, none)
                    none = False
                elif kind == "zero":
                    if not replaced:
                        zero_grads(ev[1], ev[2])
                    buf = None      # (.grad is no longer this call's buffer)
                    none = none or clears
                elif buf is None or not self._planned_step(ev[1], buf[0]):
                    self._step(ev[1], buf)
        return tuple([self._value(vals, o) if o is not None else rec._out(vals, k, True)
                      for k, o in enumerate(self._outs)])

    @staticmethod
    def _value(vals, o):
        """A returned value as Recorded._out makes it, for a one-element output of the
        arena's dtype: a float-backed tensor, one read (the general path makes an array
        first); `o` is (offset, dtype, shape)."""
        t = _new()
        t._v = float(vals[o[0]])
        t._dtype, t._shape, t._tape, t._recorded = o[1], o[2], None, False
        return t

    def _accumulate(self, adj, none=False, listed=True):
        """backward's effect on `.grad`: this call's gradients added as the eager engine adds
        them (new tensors where .grad is None, in place otherwise); returns (buffer, the new
        .grad tensors as (param, tensor, its value), or None unless `listed`) when they are
        views of one fresh buffer, else None."""
        params = self._tparams
        fresh = none or all([getattr(p, "_grad", None) is None for p in params])
        if fresh and self._gspan is not None:
            # the usual step (zero_grad(set_to_none=True) before): every .grad a new tensor,
            # the arrays views of one copy of the arena's gradients, as the eager engine's
            o0, o1 = self._gspan
            buf = adj[o0:o1].copy()
            made = [] if listed else None
            for p, a, b, shape, one, dt in self._gmake:
                g = _new()
                if one:
                    g._v = v = float(buf[a])
                else:
                    v = buf[a:b]
                    v.shape = shape      # (a fresh view: 3x cheaper than reshape)
                    g._v = v
                g._dtype = dt
                g._shape = shape
                g._tape = None
                g._recorded = False
                p._grad = g
                if listed:
                    made.append((p, g, v))
            return buf, made
        if self._gspan is not None:     # (a copy: .grad must not alias the arena)
            o0, o1 = self._gspan
            buf = adj[o0:o1].copy()
            grads = [float(buf[a]) if one else buf[a:b] for a, b, _, one in self._gslices]
        else:
            grads = [float(adj[self.spans[k][0]]) if one else
                     adj[self.spans[k][0]:self.spans[k][0] + self.spans[k][1]].astype(
                         self.params[k]._dtype.np)
                     for k, one in zip(self.targets, self._one)]
        _publish(_stage(zip(params, grads)))
        return None

    def _planned_step(self, opt, array):
        """opt.step() as the plan made by the last _step of opt says (its groups, packs and
        gradient offsets into this call's buffer), when nothing it rests on changed: the same
        groups holding the same parameters and storage, the same packs in the optimizer's
        cache (load_state_dict or new state replaces them) and the state they address.
        False: not run, take _step.
        Only called while .grad holds this call's buffer (no zero_grad since the backward)."""
        plan = self._plans.get(id(opt))
        if plan is None or plan[0] is not opt:
            return False
        _, groups, packs, nstate, items = plan
        pg = opt.param_groups
        if len(pg) != len(groups) or len(opt.state) != nstate or opt._packs is not packs:
            return False
        for gi, (group, (g0, gp, params, cached)) in enumerate(zip(pg, groups)):
            if (group is not g0 or group["params"] is not gp or len(gp) != len(params)
                    or not all(map(_is, gp, params)) or packs.get(gi) is not cached):
                return False
        # the parameters' storage: as the plan's packs hold it, unless the last call ran the
        # plan and this call's load found every parameter's storage as the last call's
        if not (self.kept and self._checked.get(id(opt)) == self.loads - 1):
            for _, pack, _ in items:
                if not pack.stored():
                    return False
        # the state the packs address (opt.state may have been changed between calls)
        for group, pack, _ in items:
            if not opt._state_current(group, pack):
                return False
        opt._step_packs(items, array)
        opt._opt_called = True
        self._checked[id(opt)] = self.loads
        return True

    def _step(self, opt, buf):
        """opt.step() on the gradients in `.grad`: read from this call's buffer (no copy)
        while `.grad` still holds what the backward put there (the same tensors with the same
        storage: views of the buffer, or floats), else from `.grad` as the eager step reads."""
        fast = buf is not None
        if fast:
            for p, g, v in buf[1]:
                if getattr(p, "_grad", None) is not g or g._v is not v:
                    fast = False
                    break
        tids = self._tids
        plan = []       # (group, its params list, params, the packs' cache entry), all ours
        items = []      # (group, pack, gradient offsets)
        work = []       # what opt._groups_step takes
        for gi, group in enumerate(opt.param_groups):
            gp = group["params"]
            full = self._full.get(id(gp)) if fast else None
            if full is not None and full[0] is gp and len(gp) == len(full[1]) and all(
                    map(_is, gp, full[1])):
                params = full[1]  # every one is a target: each has this call's gradient
                ours = True
            else:
                params = [p for p in gp if getattr(p, "_grad", None) is not None]
                ours = fast and all([id(p) in tids for p in params])
                if ours and len(params) == len(gp):
                    self._full[id(gp)] = (gp, params)
            if ours:
                array, base = buf[0], self._gspan[0]

                def grads(pack, group=group):
                    goff = self.goff(pack, base, self._where)
                    items.append((group, pack, goff))
                    return array, goff
                work.append((gi, group, params, grads))
                plan.append((group, gp, params))
            else:
                work.append((gi, group, params, None))
                plan.append(None)
        opt._groups_step(work)      # (all groups or none)
        plan = [e if e is None else e + (opt._packs.get(gi),) for gi, e in enumerate(plan)]
        opt._opt_called = True     # (lr_scheduler's order check, as the eager step sets it)
        # the next calls' plan (_planned_step): when every group took this call's buffer, and
        # its packs are cached in the optimizer (not made new for state created this step)
        if plan and all(e is not None and e[3] is not None
                        and [it[1] for it in items if it[0] is e[0]] == e[3][1] for e in plan):
            self._plans[id(opt)] = (opt, plan, opt._packs, len(opt.state), items)
            self._checked[id(opt)] = self.loads
        else:
            self._plans.pop(id(opt), None)


def zero_grads(params, set_to_none):
    """zero_grad's effect, as torch's Optimizer.zero_grad and Module.zero_grad: each .grad to
    None, or detached (in place) and zeroed."""
    for p in params:
        g = getattr(p, "_grad", None)
        if g is not None:
            if set_to_none:
                p._grad = None
            else:
                if g._tape is not None:
                    g.detach_()
                else:
                    g._requires_grad(False)
                g.zero_()
