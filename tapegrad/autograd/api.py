"""Variable, backward, grad (PyTorch's signatures and errors)."""
import math
import threading
import warnings
from collections.abc import Mapping

import numpy as np

from .. import dtypes as D, errors, hooks
from .._signals import COMMIT
from ..engine import (_BULK_LEAVES, _collect_leaves, graph_marks, release_swept, run_backward,
                      run_backward_graph, run_backward_root)
from ..fpstate import ERR_RESET, ERR_SET, QUIET
from ..grad_mode import switched_grad
from ..layouts import contiguous_format, dense, like_dense
from ..tensor import GRAD_DTYPES, Tensor, _new, grad_dtype_of, tensor_methods
from ..creation import empty
from ..inplace import _F32_PACK, _F32_UNPACK
from ..ndops import _binary
from ..ops import OPS
from ..pyfunc import BackwardCFunction
from ..steptrace import TRACE
from ..tape import bump_version, INFERENCE_TENSOR, version_counter
from ..tracing import _tracing
from ..views import stack
from .graph import GradientEdge, edge_tensor


# torch's checkpoint_valid of the running backward: False while autograd.grad or
# backward(inputs=...) runs (a reentrant checkpoint's backward cannot serve them), per thread
_CHECKPOINT = threading.local()


def _is_checkpoint_valid():
    """Whether a reentrant checkpoint may run its backward now (torch's
    autograd._is_checkpoint_valid)."""
    return getattr(_CHECKPOINT, "valid", True)


class _VariableMeta(type):
    """torch's trick: every Tensor is an instance of Variable."""

    def __instancecheck__(cls, other):
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """Deprecated wrapper kept for old code, as torch's legacy constructor: `Variable(data)`
    is `data.detach()` (a new leaf sharing data's memory; data's own flag untouched, a
    non-leaf's graph cut), with requires_grad set; no data: an empty tensor.
    `isinstance(t, Variable)` is True for every Tensor, as in torch."""

    def __new__(cls, data=None, requires_grad=False, volatile=False, _grad_fn=None):
        if volatile:
            warnings.warn(errors.VOLATILE, UserWarning, stacklevel=2)
            if requires_grad:
                raise ValueError("Variable can't be volatile and require_grad at the same time!")
        if _grad_fn is not None:
            if not isinstance(_grad_fn, BackwardCFunction):
                raise TypeError(f"_grad_fn has to be a Function object or None, but got "
                                f"{errors.type_name(_grad_fn)}")
            raise RuntimeError("_grad_fn argument to legacy Variable constructor is no longer "
                               "supported.  Instead, please invoke your _grad_fn to produce a "
                               "variable with it as the _grad_fn.")
        if data is None:
            t = empty(0)
        elif isinstance(data, Tensor):
            t = data.detach()
        else:
            raise TypeError(f"Variable data has to be a tensor, but got {errors.type_name(data)}")
        if requires_grad:
            t._set_requires_grad(True, errors.NOT_FLOAT_CREATE)
        return t


def variable(*args, **kwargs):
    """torch.autograd.variable: the legacy factory, which only raises (torch.tensor makes
    tensors)."""
    raise RuntimeError("tapegrad.autograd.variable(...) is deprecated, use tapegrad.tensor(...) "
                       "instead")


def _as_tuple(x):
    """Tensors (or GradientEdges, as the tensors they stand for) as a tuple."""
    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    if isinstance(x, GradientEdge):
        return (edge_tensor(x),)
    return tuple(edge_tensor(v) if isinstance(v, GradientEdge) else v for v in x)


def _in_task(run, outputs, inputs, accumulate, *args):
    """run(outputs, inputs, *args) as the thread's running hooks.Task (for multi-grad hooks;
    only once one was registered)."""
    prev = hooks.current_task()
    hooks.TASK.current = hooks.Task(outputs, inputs, accumulate, graph_marks)
    try:
        return run(outputs, inputs, *args)
    finally:
        hooks.TASK.current = prev


def _zeros(t):
    return Tensor._wrap(np.zeros(t._shape, t._dtype.np), t._dtype)


def _seeds(outputs, grad_outputs, create_graph):
    """The initial gradient for each output, validated in torch's order: its `_make_grads`
    pair by pair (zip: gradients past the outputs are dropped), then the engine's count and
    each output's requires_grad.  (The inputs' checks come after: `_check_inputs`.)"""
    for out in outputs:
        if not isinstance(out, Tensor):
            raise AssertionError("Expected output to be a tapegrad.Tensor")
    if grad_outputs is None:   # the usual `loss.backward()`: nothing to check
        grads = (None,) * len(outputs)
    else:
        grads = _as_tuple(grad_outputs)
        for out, g in zip(outputs, grads):
            if isinstance(g, Tensor):
                if g._shape != out._shape:
                    # (torch's indices: `.index`, so a repeated gradient names its first slot)
                    raise RuntimeError(errors.SHAPE_MISMATCH.format(
                        i=grads.index(g), g=f"tapegrad.Size({list(g._shape)})",
                        j=outputs.index(out), o=f"tapegrad.Size({list(out._shape)})"))
            elif g is not None:
                raise TypeError(f"gradients can be either Tensors or None, but got "
                                f"{type(g).__name__}")
            elif out._recorded and out._shape and out.numel() != 1:
                raise RuntimeError(errors.IMPLICIT_SCALAR)
        if len(grads) < len(outputs):
            raise RuntimeError(f"got {len(outputs)} tensors and {len(grads)} gradients")
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if not out._recorded:
            raise RuntimeError(errors.NO_GRAD_FN.format(i))
        if g is None:
            if out._shape and out.numel() != 1:   # (a 0-d output: no product to take)
                raise RuntimeError(errors.IMPLICIT_SCALAR)
            # (a one-element seed as a float: the engine adds it without numpy calls)
            seeds.append(Tensor._wrap(np.ones(out._shape, out._dtype.np), out._dtype)
                         if create_graph else 1.0)
        else:
            seeds.append(g if create_graph else np.asarray(g._array(), dtype=np.float64))
    return seeds


def _check_inputs(inputs, no_grad_message):
    """torch's engine checks of `inputs`, each in turn: a Tensor, then one that requires
    grad (`no_grad_message`: grad()'s, or backward()'s from the retain_grad it calls)."""
    for t in inputs:
        if not isinstance(t, Tensor):
            raise RuntimeError(f"all inputs have to be Tensors or GradientEdges, but got "
                               f"{type(t).__name__}")
        if not t._recorded:
            raise RuntimeError(no_grad_message)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulate d(tensors)/d(leaves) into the leaves' `.grad` (or into `inputs`' only).
    With create_graph=True the gradients are recorded tensors and `.grad` is replaced out of
    place (old + new), as torch does."""
    if grad_variables is not None:
        warnings.warn("`grad_variables` is deprecated. Use `grad_tensors` instead.",
                      FutureWarning, stacklevel=2)
        if grad_tensors is not None:
            raise RuntimeError("`grad_tensors` and `grad_variables` (deprecated) arguments both "
                               "passed to `backward()`. Please only use `grad_tensors`.")
        grad_tensors = grad_variables
    if inputs is None:   # (a plain backward leaves checkpoint validity as it is: True)
        _backward(tensors, grad_tensors, retain_graph, create_graph, inputs)
        return
    before = getattr(_CHECKPOINT, "valid", True)
    _CHECKPOINT.valid = False
    try:
        _backward(tensors, grad_tensors, retain_graph, create_graph, inputs)
    finally:
        _CHECKPOINT.valid = before


def _input_values(inputs, what):
    """`inputs` given as a dict (torch 2.13: e.g. dict(model.named_parameters())): its values
    in order; another Mapping is torch's TypeError; anything else as it is."""
    if type(inputs) is dict:
        return tuple(inputs.values())
    if isinstance(inputs, Mapping):
        raise TypeError(f"`inputs` argument to `{what}()` must be a dict, not "
                        f"{type(inputs).__name__}. Other Mapping types are not supported.")
    return inputs


def _backward(tensors, grad_tensors, retain_graph, create_graph, inputs):
    if tensors is None:   # (torch's tuple(tensors))
        raise TypeError("'NoneType' object is not iterable")
    if inputs is not None:
        inputs = _input_values(inputs, "backward")
    trace = TRACE.current
    if trace is not None:   # tracing a step for tapegrad.compile: noted, not run
        return trace.backward(tensors, grad_tensors, retain_graph, create_graph, inputs)
    outputs = _as_tuple(tensors)
    for t in outputs:
        if isinstance(t, Tensor) and t._tape is not None and _tracing(t) is t._tape:
            raise errors.TracingError(
                "tapegrad.record: backward() inside a recorded function fills .grad with "
                "values a replay would not compute again; use tapegrad.autograd.grad (which "
                "is recorded), or compile a whole training step (tapegrad.compile of a "
                "function that calls backward() and opt.step())")
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        # a tensor listed twice (tied weights gathered from two modules) is one edge to
        # torch's engine: its gradient accumulates once
        inputs = tuple({id(t): t for t in inputs}.values())
    if hooks.MULTI[0] and hooks.multi_hooks_live():
        return _in_task(_run_backward, outputs, inputs, True, grad_tensors, retain_graph,
                        create_graph)
    return _run_backward(outputs, inputs, grad_tensors, retain_graph, create_graph)


def _run_backward(outputs, inputs, grad_tensors, retain_graph, create_graph):
    if inputs is None and not create_graph and len(outputs) == 1 \
            and isinstance(outputs[0], Tensor) and (grad_tensors is None
                                                    or isinstance(grad_tensors, Tensor)):
        # autograd.backward(loss) or (out, g): the engine's short path where it applies (as
        # Tensor.backward)
        found = run_backward_root(outputs[0], bool(retain_graph), _stage_found, _stage_swept,
                                  _publish, grad_tensors)
        if found is not None:
            if hooks._LEAF:   # (registered by a custom Function's backward: run_backward's)
                hooks.post_accumulate(t for t, _ in found.values())
            return
    seeds = _seeds(outputs, grad_tensors, create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    if create_graph:
        # (torch's engine warns once per process, whether or not .grad then holds a graph)
        errors.warn_once(errors.CREATE_GRAPH_CYCLE)
        with switched_grad(True):   # torch's engine records it with grad mode on, under no_grad too
            _backward_graph(outputs, inputs, seeds, retain)
        return
    if inputs is not None:
        _check_inputs(inputs, errors.RETAIN_NO_GRAD)
        for t in inputs:  # torch retains the gradient of non-leaf inputs
            t.retain_grad()
        given = {id(t) for t in inputs}   # (retained inputs: staged once, as inputs)
        grads = run_backward(outputs, seeds, retain, inputs=list(inputs), publish=_publish,
                             stage=lambda grads, kept: _stage(list(zip(inputs, grads)) + [
                                 (t, g) for t, g in kept if id(t) not in given]),
                             run_inputs=True)
        if hooks._LEAF:
            hooks.post_accumulate(t for t, g in zip(inputs, grads) if g is not None)
        return
    found = run_backward(outputs, seeds, retain, stage=_stage_found, publish=_publish)
    if hooks._LEAF:   # after the commit, as torch's run after accumulation
        hooks.post_accumulate(t for t, _ in found.values())


def _backward_graph(outputs, inputs, seeds, retain):
    """backward(create_graph=True): the gradients recorded, accumulated into .grad."""
    if inputs is not None:
        _check_inputs(inputs, errors.RETAIN_NO_GRAD)
        for t in inputs:
            t.retain_grad()
        (grads, kept), swept = run_backward_graph(outputs, seeds, inputs=list(inputs),
                                                  retain_graph=retain)
        pairs = list(zip(inputs, grads)) + kept
    else:
        found, swept = run_backward_graph(outputs, seeds, retain_graph=retain)
        pairs = found.values()
    published = _publish_graph(pairs, swept)
    if hooks._LEAF:
        hooks.post_accumulate(published)


def _publish_graph(pairs, swept):
    """create_graph: each (tensor, gradient) into the tensor's `.grad`, out of place (a first
    `.grad` is a copy, as torch's: one gradient tensor can be several tensors' (add passes g
    on), and a leaf's `.grad` later accumulates in place).  The new `.grad` tensors are
    recorded ops: all are made first, then published in one step, with the release of what
    the run freed (`swept`: engine.release_swept).  Returns the tensors."""
    new = []
    for t, g in pairs:
        if g is not None:
            g = _graph_grad(t, g)
            cur = getattr(t, "_grad", None)
            new.append((t, cur, g, _copied(t, g) if cur is None else cur + g))
    with COMMIT:
        for t, cur, g, total in new:
            now = getattr(t, "_grad", None)
            # another thread published since: add to its result (rare; a recorded op)
            t._grad = total if now is cur else (g if now is None else now + g)
        release_swept(swept)
    return [t for t, _, _, _ in new]


def _copied(t, g):
    """A first `.grad` under create_graph, as torch's clone_obey_contract (grad mode on: never
    the gradient itself, which can be several tensors' (add passes g on), and a leaf's `.grad`
    later accumulates in place): for a tensor t laid out densely, the gradient copied into a
    fresh tensor (CopyBackwards, edges (None, 0) and the gradient's node; torch's copy_ into
    it counts as its first change: _version 1), else its row-major clone (CloneBackward0;
    a retained non-leaf's too: torch's retain_grad hook clones).  Recorded ops."""
    if not t.is_leaf or type(t._v) is not float and not dense(t._v):
        return g.clone(memory_format=contiguous_format)
    c = _binary(_COPY, Tensor._wrap(np.zeros(g._shape, g._dtype.np), g._dtype), g)
    version_counter(c)[0] += 1   # (a fresh tensor no entry saved yet: nothing watches it)
    return c


_COPY = OPS["copy"].code


def _graph_grad(t, g):
    """create_graph: the gradient as a tensor shaped and typed like t (a recorded op)."""
    if tuple(g.shape) != t._shape:
        g = g.reshape(t._shape)
    if g._dtype is not t._dtype:
        g = g.to(t._dtype)
    if GRAD_DTYPES and grad_dtype_of(t) is not t._dtype:
        g = g.to(grad_dtype_of(t))
    return g


def _stage_found(found):
    return _stage(found.values())


def _stage_swept(tape, n, reach, loc, off, size, adj, side):
    """run_backward_root's collection and staging (engine._collect_leaves, then _stage_found),
    in one loop over the leaves where each reached one gets its first `.grad` from its one
    entry of an in-place sweep (a training step's leaves after `p.grad = None` or zero_grad's
    set_to_none): one pass, no dict of pairs walked again (an N=8 net's four leaves: 10.3 ->
    7.9 us of its ~38 us backward).  Returns (found: _collect_leaves' dict, what _publish
    takes)."""
    leaves = tape.leaves
    if loc is None and not GRAD_DTYPES and len(tape.leaf_of) == len(leaves):
        got = _stage_fresh(leaves, n, reach, off, size, adj) if (
            tape.nds is not None or len(leaves) < _BULK_LEAVES) else \
            _stage_fresh_scalars(leaves, n, reach, adj)
        if got is not None:
            return got
    found = {}
    _collect_leaves(found, tape, n, reach, loc, off, size, adj, side)
    return found, _stage_found(found)


def _stage_fresh(leaves, n, reach, off, size, adj):
    """_stage_swept's loop: (found, staged) as _collect_leaves and _stage make them, or None
    where a reached leaf needs their general path (a `.grad` to accumulate into, a gradient
    a host entry left outside the arena)."""
    found = {}
    staged = []
    add = staged.append
    f32 = D.float32
    token = ERR_SET(QUIET)   # (a float32 cast that overflows: inf, silently as torch)
    try:
        for node, t in leaves.items():
            # (a leaf whose requires_grad was turned off since gets none, as _collect_each)
            if node < n and reach.item(node) and t._recorded:
                o = off.item(node)
                if o < 0 or getattr(t, "_grad", None) is not None:
                    return None
                dt = t._dtype
                s = size.item(node)
                if s == 1:   # (as _collect_each: the value as a float, float32's rounded;
                    # a leaf that requires grad is float32 or float64)
                    g = adj.item(o)
                    if dt is f32:
                        g = _round32(g)
                    shape = t._shape
                else:   # (shaped first: astype's result then owns its memory)
                    g = adj[o:o + s].reshape(t._shape).astype(dt.np)
                    if t._tape is None and not t._v.flags.c_contiguous:
                        g = like_dense(t._v, g)   # (a leaf's first .grad has its layout)
                    shape = g.shape
                fresh = _new()
                fresh._v, fresh._dtype, fresh._shape, fresh._tape, fresh._recorded = \
                    g, dt, shape, None, False
                add((t, g, fresh, None))
                found[id(t)] = (t, g)
    finally:
        ERR_RESET(token)
    return found, staged


def _stage(pairs):
    """The commit of a backward, made before it: each gradient ndarray cast to its tensor's
    dtype, the new `.grad` tensor where there is none yet, and a retained non-leaf's next
    `.grad` (old + new), for `_publish`: (tensor, gradient, new .grad or None, the .grad the
    new one was computed from or None)."""
    token = ERR_SET(QUIET)   # (a float32 cast that overflows: inf, silently as torch)
    try:
        new = _stage_each(pairs)
        return new if not GRAD_DTYPES else [_as_grad_dtype(*e) for e in new]
    finally:
        ERR_RESET(token)


def _as_grad_dtype(t, g, fresh, base):
    """A staged first `.grad` of a leaf whose grad_dtype was set: the gradient computed in
    the leaf's dtype, cast to that one (torch's engine casts what reaches the leaf)."""
    want = grad_dtype_of(t)
    if fresh is None or want is t._dtype or t._tape is not None:
        return t, g, fresh, base
    return t, g, _cast_grad(fresh, want), base


def _cast_grad(g, want):
    """Gradient tensor g (no graph) as a new tensor of grad_dtype `want`."""
    if not want.is_floating_point:
        # (torch's engine asserts it: a leaf's grad_dtype an integer type)
        raise RuntimeError("isDifferentiableType(grad.scalar_type()) INTERNAL ASSERT FAILED: "
                           f"a gradient cannot have grad_dtype {want}")
    out = _new()
    v = g._v
    if type(v) is float:
        v = _round32(v) if want is D.float32 else v
    else:
        v = v.astype(want.np)
    out._v, out._dtype, out._shape, out._tape, out._recorded = v, want, g._shape, None, False
    return out


def _stage_each(pairs):
    """_stage's loop over the (tensor, gradient) pairs."""
    new = []
    add = new.append
    f32 = D.float32
    for t, g in pairs:
        if type(g) is float:   # a one-element leaf's gradient (engine._collect_leaves)
            dt = t._dtype
            if dt is f32:
                g = _round32(g)
            cur = getattr(t, "_grad", None)
            if cur is None:
                fresh = _new()
                fresh._v, fresh._dtype, fresh._shape, fresh._tape, fresh._recorded = \
                    g, dt, t._shape, None, False
                add((t, g, fresh, None))
            else:
                add((t, g, _replaced(t, cur, g), cur) if t._tape is not None else
                    (t, g, None, None))
            continue
        if g is None:
            continue
        dtn = t._dtype.np
        if g.dtype is not dtn:   # (a fresh array in t's dtype, as collected: no call)
            g = g.astype(dtn, copy=False)   # (a fresh array: run_backward's copy)
        if g.shape != t._shape:
            g = g.reshape(t._shape)
        cur = getattr(t, "_grad", None)
        if cur is not None:
            if t._tape is None and type(cur._v) is not float and not cur._v.flags.writeable \
                    and 0 in cur._v.strides and cur._v.size > 1:
                # a .grad assigned an expanded tensor: torch's in-place accumulation refuses
                # it (checked here, before the commit, which must not fail half-way)
                raise RuntimeError(errors.OVERLAP_ERROR)
            add((t, g, _replaced(t, cur, g), cur) if t._tape is not None else (t, g, None, None))
        elif g.size != 1:   # _fresh_grad's n-d case, inline (once per leaf per backward)
            # (a leaf's first .grad has its layout: AccumulateGrad; a retained non-leaf's
            # is row-major: torch's retain_grad hook clones it contiguous)
            if t._tape is None and not t._v.flags.c_contiguous:
                g = like_dense(t._v, g)
            fresh = _new()
            fresh._v, fresh._dtype, fresh._shape, fresh._tape, fresh._recorded = \
                g, t._dtype, g.shape, None, False
            add((t, g, fresh, None))
        else:
            add((t, g, _fresh_grad(t, g), None))
    return new


class _FreshScalars:
    """What _stage_fresh_scalars stages: the reached leaves and their new `.grad` tensors, as
    two lists (no tuple per leaf; each gradient is its new tensor's float).  It stands in for
    the `found` dict too: `.values()`, the (tensor, gradient) pairs, is made only when asked
    (a leaf's post-accumulate hooks), and `_publish` takes it as it is."""
    __slots__ = ("ts", "fresh")

    def values(self):
        return [(t, fresh._v) for t, fresh in zip(self.ts, self.fresh)]


def _stage_fresh_scalars(leaves, n, reach, adj):
    """_stage_fresh for an all-scalar tape with many leaves, one entry each, none holding a
    `.grad` (a model of 0-d parameters after `p.grad = None`): the reached leaves' gradients
    read with one fancy index, float32's rounded by one numpy cast (to nearest, inf past the
    range: as _round32), then one loop making the new `.grad` tensors (a 105-parameter
    MLP's step: ~75 -> ~40 us).  (found, staged) as _stage_fresh (one _FreshScalars for
    both), or None where a leaf needs the general path (a `.grad` to accumulate into,
    requires_grad turned off since)."""
    nodes = np.fromiter(leaves, np.int64, len(leaves))
    ts = list(leaves.values())
    if nodes.item(-1) < n:   # (leaf entries, made in order, before the root: the usual case)
        hit = reach.take(nodes)
    else:
        hit = np.zeros(len(nodes), np.uint8)
        below = nodes < n
        hit[below] = reach[nodes[below]]
    if np.count_nonzero(hit) < len(hit):
        pos = np.flatnonzero(hit)
        ts = [ts[i] for i in pos.tolist()]
        nodes = nodes[pos]
    g64 = adj.take(nodes)   # (all-scalar tape: node i's adjoint is adj[i])
    token = ERR_SET(QUIET)   # (a float32 cast that overflows: inf, silently as torch)
    try:
        g32 = g64.astype(np.float32).tolist()
    finally:
        ERR_RESET(token)
    made = []
    add = made.append
    f32 = D.float32
    # (zip, not indexing by enumerate's i; a store per slot, not a tuple unpacked: ~60 of
    # ~240 ns per leaf)
    for t, g, rounded in zip(ts, g64.tolist(), g32):
        try:   # (a set slot reads without getattr's call; unset: no .grad yet)
            cur = t._grad
        except AttributeError:
            cur = None
        if cur is not None or not t._recorded:
            return None
        dt = t._dtype
        fresh = _new()
        fresh._v = rounded if dt is f32 else g
        fresh._dtype = dt
        fresh._shape = t._shape
        fresh._tape = None
        fresh._recorded = False
        add(fresh)
    staged = _FreshScalars()
    staged.ts, staged.fresh = ts, made
    return staged, staged


def _replaced(t, cur, g):
    """A retained non-leaf's next `.grad`: cur + g as a new tensor.  torch's retain_grad hook
    replaces the gradient out of place (a leaf's accumulates in place), so an alias of the old
    `.grad` keeps its value."""
    total = cur._array() + (g if type(g) is float else g.reshape(cur._shape))
    return _fresh_grad(t, np.asarray(total, dtype=t._dtype.np))


def _publish(new):
    """Add staged gradients into `.grad` (in place when it exists, as torch, so `.grad.data`
    aliases see it; a retained non-leaf's replaced).  Runs inside COMMIT: it cannot fail
    half-way or be interrupted."""
    if type(new) is _FreshScalars:   # (first .grads: one store each, unless another
        for t, fresh in zip(new.ts, new.fresh):   # thread's backward gave one since)
            try:
                cur = t._grad
            except AttributeError:
                cur = None
            if cur is None:
                t._grad = fresh
            else:
                _publish(((t, fresh._v, None, None),))
        return
    for t, g, fresh, base in new:
        cur = getattr(t, "_grad", None)
        if base is not None and cur is base:
            t._grad = fresh
        elif cur is None:  # (fresh is None only if another thread's grad went since)
            t._grad = fresh if fresh is not None and base is None else (
                _scalar_grad(t, g) if type(g) is float else _fresh_grad(t, g))
        elif type(cur._v) is float:
            v = cur._v + (g if type(g) is float else float(g.reshape(-1)[0]))
            # (a float32 .grad's sum rounded, as torch's in-place add: a sum held in double
            # would differ from its own item() and drift from torch over many backwards)
            cur._v = _round32(v) if cur._dtype is D.float32 else v
            _count_change(cur)
        else:
            cur._v += g if type(g) is float else g.reshape(cur._shape)
            _count_change(cur)


def _count_change(grad):
    """The in-place accumulation into `.grad` counted as torch's add_: its version moves on
    (an inference tensor's, which torch refuses to change there, is left as it was: the
    commit may not fail half-way)."""
    if not getattr(grad, "_flags", 0) & INFERENCE_TENSOR:
        bump_version(grad)


def _round32(v):
    """Python float v rounded to float32 (past its range: inf, as numpy's cast; cannot fail,
    so _publish may call it inside COMMIT)."""
    try:
        return _F32_UNPACK(_F32_PACK(v))[0]
    except OverflowError:
        return math.copysign(math.inf, v)


def _fresh_grad(t, g):
    """A new `.grad` tensor from g (already t's dtype and shape)."""
    out = Tensor._wrap(g, t._dtype)
    if type(out._v) is float and t._dtype.name == "float32":
        out._v = float(np.float32(out._v))
    return out


def _scalar_grad(t, g):
    """A new `.grad` tensor holding float g (already rounded to t's dtype), shaped as t."""
    out = _new()
    out._v, out._dtype, out._shape, out._tape, out._recorded = g, t._dtype, t._shape, None, False
    return out


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) as a tuple, leaving every `.grad` untouched.  With
    create_graph=True the results are tensors with history (differentiable again)."""
    if not only_inputs:
        warnings.warn("only_inputs argument is deprecated and is ignored now (defaults to True). "
                      "To accumulate gradient for other parts of the graph, please use "
                      "torch.autograd.backward.", FutureWarning, stacklevel=2)
    given = inputs
    inputs = _input_values(inputs, "grad")
    before = getattr(_CHECKPOINT, "valid", True)
    _CHECKPOINT.valid = False
    try:
        result = _grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                       is_grads_batched, materialize_grads)
    finally:
        _CHECKPOINT.valid = before
    # (a dict of inputs: the gradients under its keys, as torch's)
    return dict(zip(given.keys(), result)) if type(given) is dict else result


def _grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
          is_grads_batched, materialize_grads):
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    if outputs is None:   # (torch's tuple(outputs); _as_tuple takes None as no tensors)
        raise TypeError("'NoneType' object is not iterable")
    if is_grads_batched and grad_outputs is not None:
        return _grads_batched(outputs, inputs, grad_outputs, retain_graph, create_graph,
                              allow_unused, materialize_grads)
    outputs = _as_tuple(outputs)
    if inputs is None:
        raise TypeError("'NoneType' object is not iterable")
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if allow_unused is None:
        allow_unused = materialize_grads
    if hooks.MULTI[0] and hooks.multi_hooks_live():
        return _in_task(_run_grad, outputs, inputs, False, grad_outputs, retain_graph,
                        create_graph, allow_unused, materialize_grads)
    return _run_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                     materialize_grads)


def _grads_batched(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                   materialize_grads):
    """grad(is_grads_batched=True): dim 0 of each grad_output indexes a batch of them; the
    results hold one gradient per batch element along their dim 0.  torch vmaps one backward
    over the batch; here one backward per element (the graph kept until the last), stacked:
    the same values."""
    gos = _as_tuple(grad_outputs)
    outs = _as_tuple(outputs)
    for i, (out, g) in enumerate(zip(outs, gos)):
        if isinstance(g, Tensor) and isinstance(out, Tensor) and g._shape[1:] != out._shape:
            raise RuntimeError(errors.BATCHED_SHAPE_MISMATCH.format(
                i=i, g=f"tapegrad.Size({list(g._shape[2:])})", j=i,
                o=f"tapegrad.Size({list(out._shape)})"))
    sizes = [g.shape[0] if g.dim() else None for g in gos if isinstance(g, Tensor)]
    if len(set(sizes)) > 1:
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    n = sizes[0] if sizes else None
    if n is None:
        raise ValueError("vmap: Expected at least one Tensor to vmap over (got a grad_outputs "
                         "without a batch dimension)")
    if n == 0:
        raise IndexError("index 0 is out of bounds for dimension 0 with size 0")
    # NOTE: torch materializes after the batched backward: an unused input's zeros have the
    # input's shape, without the batch dim
    unused = materialize_grads if allow_unused is None else allow_unused
    rows = [_grad(outputs, inputs, [g[b] if isinstance(g, Tensor) else g for g in gos],
                  retain_graph if b == n - 1 else True, create_graph, unused, False, False)
            for b in range(n)]
    return tuple((_zeros(t)._requires_grad(create_graph) if materialize_grads else None)
                 if col[0] is None else stack(col) for t, col in zip(_as_tuple(inputs), zip(*rows)))


def _run_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
              materialize_grads):
    retain = create_graph if retain_graph is None else retain_graph
    if not create_graph and any(isinstance(t, Tensor) and _tracing(t) is not None
                                for t in outputs):
        # (while tapegrad.record traces: the gradient is recorded as ops, then detached, so
        # that every replay recomputes it rather than reusing the values found here; the
        # recorded graph is kept, as the tape being recorded holds it)
        grads = _run_grad(outputs, inputs, grad_outputs, True, True, allow_unused,
                          materialize_grads)
        return tuple(None if g is None else g.detach() for g in grads)
    seeds = _seeds(outputs, grad_outputs, create_graph)
    _check_inputs(inputs, errors.GRAD_INPUT_NO_GRAD)

    def check_used(grads):
        for i, g in enumerate(grads):
            if g is None and not allow_unused:
                raise RuntimeError(errors.UNUSED.format(i))

    if create_graph:
        with switched_grad(True):   # torch's engine records it with grad mode on, under no_grad too
            return _grad_graph(outputs, inputs, seeds, retain, check_used, materialize_grads)
    # (inputs' .grad untouched; retained non-leaves the run reaches get theirs, as in torch)
    grads = run_backward(outputs, seeds, retain, inputs=hooks.GradInputs(inputs),
                         validate=check_used, stage=lambda grads, kept: _stage(kept),
                         publish=_publish)
    out = []
    token = ERR_SET(QUIET)   # (a float32 cast that overflows: inf, silently as torch)
    try:
        for t, g in zip(inputs, grads):
            if g is None:
                out.append(_zeros(t) if materialize_grads else None)
            else:
                out.append(Tensor._wrap(g.astype(t._dtype.np).reshape(t._shape), t._dtype))
                if GRAD_DTYPES and grad_dtype_of(t) is not t._dtype:
                    out[-1] = _cast_grad(out[-1], grad_dtype_of(t))
    finally:
        ERR_RESET(token)
    return tuple(out)


def _grad_graph(outputs, inputs, seeds, retain, check_used, materialize_grads):
    """autograd.grad(create_graph=True): the gradients as recorded tensors."""
    (grads, kept), swept = run_backward_graph(
        outputs, seeds, inputs=hooks.GradInputs(inputs), retain_graph=retain)
    check_used(grads)
    # (inputs' .grad untouched but for retained non-leaves, which get theirs, as the other
    # retained tensors the run fills: as without create_graph, and as torch)
    own = {id(t) for t, _ in kept}   # (an input's: its hooks' result, if it differs)
    _publish_graph([(t, g) for t, g in zip(inputs, grads) if t._tape is not None
                    and t.retains_grad and id(t) not in own] + kept, swept)
    out = []
    for t, g in zip(inputs, grads):
        if g is None:   # (torch: zeros_like(input, requires_grad=create_graph))
            out.append(_zeros(t)._requires_grad() if materialize_grads else None)
            continue
        if tuple(g.shape) != t._shape:
            g = g.reshape(t._shape)
        out.append(g if g._dtype is t._dtype else g.to(t._dtype))
        if GRAD_DTYPES and grad_dtype_of(t) is not t._dtype:
            out[-1] = out[-1].to(grad_dtype_of(t))
    return tuple(out)


@tensor_methods
class _AutogradMethods:
    """Tensor's autograd entry point (defined here, above the engine it runs)."""

    # ---- autograd --------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        # loss.backward() or out.backward(g): the engine's short path where it applies (it
        # declines a tape being recorded, whose error _backward raises; no hooks run there)
        if inputs is None and not create_graph and TRACE.current is None:
            found = run_backward_root(self, bool(retain_graph), _stage_found, _stage_swept,
                                      _publish, gradient)
            if found is not None:
                if hooks._LEAF:   # (registered by a custom Function's backward: as _backward)
                    hooks.post_accumulate(t for t, _ in found.values())
                return
        if inputs is None:   # (what autograd.backward does without inputs, a call less)
            _backward(self, gradient, retain_graph, create_graph, None)
        else:
            backward(self, gradient, retain_graph, create_graph, inputs=inputs)
