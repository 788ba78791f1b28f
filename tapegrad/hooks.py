"""Tensor hooks, post-accumulate-grad hooks and `grad_fn` (Node) hooks, as torch's.

Where they live:
* a non-leaf tensor's hooks, and the pre/post hooks of a `grad_fn`, on the tape that holds
  its entry: `tape.hooks` maps the entry's node to a `Hooks` record, so they die with the
  tape (as torch's die with its graph).  A hook stays with the node it was registered on: a
  later in-place op moves the tensor to a new entry, and the hook still sees the gradient of
  the value it was registered on (torch's rule);
* a leaf's hooks in the leaf itself (its `_hooks` slot), so they die with it; `_LEAF`, weak
  references to the leaves that have some, tells a backward whether to look.

How they run (engine.py, its "hooks" section): a backward over a tape with hooked entries
passes the sweep kernel a copy of the `host` flags with those entries set, so the kernel
stops at a hooked entry once its gradient is complete (every consumer of a node has a later
entry) and before its VJP runs; `pause` runs the hooks on that gradient, writes the result back
into the adjoint arena and the kernel resumes at the same entry.  Leaf hooks run on a leaf's
summed gradient before it is accumulated (`leaf_grads`), post-accumulate hooks after `.grad`
was published (`post_accumulate`).  Without hooks a backward pays one test of `tape.hooks` per
swept tape and one of `_LEAF` per call: nothing per entry.

Hooks run with grad mode set to `create_graph`, as torch's engine does: the gradient a hook
gets requires grad only under `create_graph=True`, when it has history.
"""
import threading
import warnings
import weakref

import numpy as np

from . import dtypes as D
from .grad_mode import switched_grad
from .graph import (AccumulateGrad, known_shape, Node, node_edges, node_members,
                    node_outputs, seen_like, sibling, slot_nodes, torch_inputs)
from .groups import row_at
from .kinds import LISTS
from .ops import BY_CODE, OUTPUT_CODE
from .tensor import Tensor, tensor_methods
from .tracing import _tracing
from .views import cat

HOOK_NO_GRAD = "cannot register a hook on a tensor that doesn't require gradient"
POST_ACC_NON_LEAF = "post accumulate grad hooks cannot be registered on non-leaf tensors"

class _Table(dict):
    """hook id -> callable, in registration order (a dict a handle can refer to weakly)."""
    __slots__ = ("__weakref__",)


class RemovableHandle:
    """What register_hook returns, torch.utils.hooks.RemovableHandle (its constructor: the
    table the hook sits in and `extra_dict`, more tables (a dict or a list of them) its id is
    removed from, all held weakly): `remove()` takes the hook out (a second call does
    nothing); usable as a context manager; picklable as torch's."""
    __module__ = "tapegrad.utils.hooks"
    __slots__ = ("hooks_dict_ref", "id", "extra_dict_ref")
    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        self.extra_dict_ref = ()
        if isinstance(extra_dict, dict):
            self.extra_dict_ref = (weakref.ref(extra_dict),)
        elif isinstance(extra_dict, list):
            self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dict)

    def remove(self):
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            table = ref()
            if table is not None:
                table.pop(self.id, None)

    def __getstate__(self):
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state):
        # (a table that is gone: a dead reference, as torch's)
        self.hooks_dict_ref = weakref.ref(state[0] if state[0] is not None else _Table())
        self.id = state[1]
        RemovableHandle.next_id = max(RemovableHandle.next_id, self.id + 1)
        self.extra_dict_ref = () if len(state) < 3 or state[2] is None else tuple(
            weakref.ref(d) for d in state[2])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _add(table, fn):
    handle = RemovableHandle(table)
    table[handle.id] = fn
    return handle


class Hooks:
    """The hooks of one node: `tensor` (Tensor.register_hook), `pre`/`post` (its grad_fn's
    register_prehook / register_hook; a leaf's: its AccumulateGrad's), `accumulate` (leaves:
    post-accumulate-grad); `dtype` and `shape` are those of the gradient handed to them.
    `given`: a leaf's gradient as its AccumulateGrad got it in the running backward, for the
    post hooks, which run after accumulation.  `first`: the id of the first tensor hook
    registered (torch keeps a tensor's hooks in one dict, placed among its node's hooks
    when the first one was registered)."""
    __slots__ = ("tensor", "pre", "post", "accumulate", "dtype", "shape", "given", "first")

    def __init__(self, dtype, shape):
        self.tensor, self.pre, self.post, self.accumulate = _Table(), _Table(), _Table(), _Table()
        self.dtype, self.shape = dtype, tuple(shape)
        self.given = None
        self.first = None

    def active(self):
        return bool(self.tensor or self.pre or self.post)


# ---- the running backward, for register_multi_grad_hook ------------------------------------
class Task:
    """The backward call running on this thread (torch's graph task), made only once a
    multi-grad hook was registered (`MULTI`): its roots and inputs (tensors, GradientEdges
    as their stand-ins), whether it accumulates (.backward) or returns (autograd.grad), and
    `state`, each multi-grad hook's progress in this call, keyed by the hook.  `graph()`: the
    entries the roots reach ({id(tape): (tape, marks)}), walked on first use by `walk`."""
    __slots__ = ("roots", "inputs", "accumulate", "memo", "state", "_walk", "_marks")

    def __init__(self, roots, inputs, accumulate, walk):
        self.roots, self.inputs, self.accumulate = roots, inputs, accumulate
        self.memo, self.state = {}, {}
        self._walk, self._marks = walk, None

    def graph(self):
        if self._marks is None:
            self._marks = self._walk(self.roots)
        return self._marks


TASK = threading.local()    # .current: the Task of the backward running on this thread
# True while a multi-grad hook may be alive: otherwise a backward makes no Task (its per-call
# cost stays that of a plain backward).  _MULTI_KEYS holds each registered hook's key weakly
# (its closures hold it strongly): once all died (removed, or their tensors gone, as a
# checkpoint's), multi_hooks_live() clears the flag.
MULTI = [False]
_MULTI_KEYS = weakref.WeakSet()
_MULTI_LOCK = threading.Lock()


def new_multi_hook_key():
    """A key for a multi-grad hook being registered (keep it alive as long as the hook)."""
    key = _MultiKey()
    with _MULTI_LOCK:
        _MULTI_KEYS.add(key)
        MULTI[0] = True
    return key


def multi_hooks_live():
    """Whether a multi-grad hook may run in a backward starting now (call when MULTI[0])."""
    with _MULTI_LOCK:
        if not _MULTI_KEYS:
            MULTI[0] = False
        return MULTI[0]


class _MultiKey:
    __slots__ = ("__weakref__",)


def current_task():
    """The Task of the backward running on this thread, or None."""
    return getattr(TASK, "current", None)


# ---- where hooks are kept --------------------------------------------------------------------
# A leaf's Hooks sit in its own `_hooks` slot (a global table holding them would keep alive
# everything a hook's closure refers to, the leaf's graphs included); `_LEAF` only answers
# "may any leaf have hooks?" once per backward, without keeping a leaf alive.
_LEAF = {}    # id(leaf) -> weakref to the leaf (removed when it dies); truth-tested per backward


def _leaf_record(t, create):
    h = getattr(t, "_hooks", None)
    if h is None and create:
        h = t._hooks = Hooks(t._dtype, t._shape)
        key = id(t)

        def gone(ref, key=key, table=_LEAF):    # (the table: module globals go at exit)
            if table.get(key) is ref:
                del table[key]
        _LEAF[key] = weakref.ref(t, gone)
    return h


def _node_record(tape, node, dtype, shape):
    hk = tape.hooks
    if hk is None:
        hk = tape.hooks = {}
    h = hk.get(node)
    if h is None:
        h = hk[node] = Hooks(dtype, shape)
        other = sibling(tape, node)
        if other >= 0:
            # (slogdet's sign and logabsdet, of one dtype and shape: one torch node, so one
            # table of node hooks, run where either output's gradient arrives; each tensor
            # keeps its own tensor hooks)
            if other in hk:
                h.pre, h.post = hk[other].pre, hk[other].post
            else:
                hk[other] = Hooks(dtype, shape)
                hk[other].pre, hk[other].post = h.pre, h.post
    return h


def leaf_hooks(t):
    """The Hooks of leaf t, or None."""
    return getattr(t, "_hooks", None) if _LEAF else None


def _tensor_hooks(tensor):
    """The tensor's register_hook hooks (a leaf keeps them, a non-leaf's tape does)."""
    h = leaf_hooks(tensor) if tensor._tape is None else (tensor._tape.hooks or {}).get(
        tensor._node)
    return h.tensor if h is not None else {}


def warn_if_has_hooks(tensor):
    """torch's warning (torch.save, pickling) for each of the tensor's hooks not marked
    utils.hooks.unserializable_hook: hooks are not saved with their tensor."""
    for hook in _tensor_hooks(tensor).values():
        if not hasattr(hook, "__torch_unserializable__"):
            warnings.warn(f"backward hook {repr(hook)} on tensor will not be serialized.  If "
                          "this is expected, you can decorate the function with "
                          "@torch.utils.hooks.unserializable_hook to suppress this warning",
                          stacklevel=2)


def has_hooks(t):
    """Whether tensor t has tensor hooks or post-accumulate hooks registered (a leaf: or
    hooks of its AccumulateGrad)."""
    if t._tape is None:
        h = leaf_hooks(t)
        return h is not None and bool(h.tensor or h.accumulate or h.pre or h.post)
    h = (t._tape.hooks or {}).get(t._node)
    return h is not None and bool(h.tensor)


@tensor_methods
class _HookMethods:
    def register_hook(self, hook):
        """Register `hook(grad) -> Tensor or None`, called with this tensor's summed gradient
        in every backward that reaches it; a returned tensor replaces the gradient.  Returns a
        handle whose `remove()` takes the hook out."""
        if not self.requires_grad:
            raise RuntimeError(HOOK_NO_GRAD)
        tape = self._tape
        # (a recorded function's input is a leaf while traced: its hook would not run in a
        # replay either, whose gradients would silently lack it)
        if tape is not None and tape.recording or tape is None and _tracing(self) is not None:
            raise RuntimeError(
                "register_hook: hooks cannot be part of a recorded tape (tapegrad.record / "
                "compile): a replay runs no Python between kernels; register the hook "
                "outside the recorded function")
        h = _leaf_record(self, True) if tape is None else \
            _node_record(tape, self._node, self._dtype, self._shape)
        handle = _add(h.tensor, hook)
        if h.first is None:
            h.first = handle.id
        return handle

    def register_post_accumulate_grad_hook(self, hook):
        """Register `hook(tensor)` on a leaf, called after its `.grad` was accumulated by
        `backward()` (not by `autograd.grad`, which accumulates nothing)."""
        if not self.requires_grad:
            raise RuntimeError(HOOK_NO_GRAD)
        if self._tape is not None:
            raise RuntimeError(POST_ACC_NON_LEAF)
        return _add(_leaf_record(self, True).accumulate, hook)


# ---- grad_fn (Node) hooks --------------------------------------------------------------------
def gradient_like(fn, what):
    """(tape, node, dtype, shape) of the gradient a hook of grad_fn `fn` sees (`what`: the
    caller, for the errors: what fn cannot be)."""
    tape, n = fn._tape, fn._node
    if tape.recording:
        raise RuntimeError(f"{what}: hooks cannot be part of a recorded tape (tapegrad.record "
                           f"/ compile)")
    h = (tape.hooks or {}).get(n)
    if h is not None:
        return tape, n, h.dtype, h.shape
    like = seen_like(tape, n)    # set by Tensor.grad_fn
    if like is not None:
        return tape, n, like[0], like[1]
    ref = tape.retained.get(n)
    t = ref() if ref is not None else None
    if t is not None:
        return tape, n, t._dtype, t._shape
    seen = tape.versions.get(n)
    if seen is not None:
        return tape, n, seen[2], seen[3]
    # NOTE: the tape keeps no dtype per node; without a tensor that shows it, the gradient
    # has the default dtype (the dtype of a one-element float tensor made from a Python float)
    shape = tape.shape.get(n, ())
    arr = tape.saved_array(n)
    dt = D.from_numpy_dtype(arr.dtype) if arr is not None and arr.dtype.kind == "f" else \
        D.get_default_dtype()
    return tape, n, dt, tuple(shape)


def _accumulator_hooks(fn, what):
    """The Hooks of the leaf whose AccumulateGrad `fn` is: torch keeps one accumulator per
    leaf, so its hooks serve every graph of the leaf."""
    if fn._tape is not None and fn._tape.recording:
        raise RuntimeError(f"{what}: hooks cannot be part of a recorded tape (tapegrad.record "
                           f"/ compile)")
    return _leaf_record(fn.variable, True)


def function_hooks(fn):
    """The (pre, post) hook tables of a custom Function's node `fn`, kept in its state on the
    tape (pyfunc runs them around the Function's backward), or None for another node."""
    tape = fn._tape
    if tape is None or BY_CODE[tape.op[fn._node]].kind != "pyfunc":
        return None
    if tape.recording:
        raise RuntimeError("register_hook: hooks cannot be part of a recorded tape "
                           "(tapegrad.record / compile)")
    state = tape.fn_data[fn._node][1]
    tables = state.get("_pf_hooks")
    if tables is None:
        tables = state["_pf_hooks"] = (_Table(), _Table())
    return tables


def _register_prehook(self, fn):
    """Register `fn(grad_outputs) -> tuple or None` on this node: called with its output's
    gradient (a 1-tuple) before the node's backward runs; a returned tuple replaces it.  On a
    leaf's AccumulateGrad: after the leaf's tensor hooks, before its .grad accumulates (in a
    backward that accumulates: not autograd.grad)."""
    if isinstance(self, AccumulateGrad):
        return _add(_accumulator_hooks(self, "register_prehook").pre, fn)
    tables = function_hooks(self)
    if tables is not None:
        return _add(tables[0], fn)
    tape, n, dt, shape = gradient_like(self, "register_prehook")
    return _add(_node_record(tape, n, dt, shape).pre, fn)


def _register_hook(self, fn):
    """Register `fn(grad_inputs, grad_outputs) -> tuple or None` on this node: called after its
    backward ran, with the gradients it computed for its inputs (None where an input needs
    none); a returned tuple replaces them.  On a leaf's AccumulateGrad: after its .grad
    accumulated (and its post-accumulate hooks ran), with `()` and the gradient it got."""
    if isinstance(self, AccumulateGrad):
        return _add(_accumulator_hooks(self, "register_hook").post, fn)
    tables = function_hooks(self)
    if tables is not None:
        return _add(tables[1], fn)
    tape, n, dt, shape = gradient_like(self, "register_hook")
    if tape.op[n] == OUTPUT_CODE:
        raise NotImplementedError(
            f"register_hook on {type(self).__name__}: its outputs are several tape entries; "
            f"use register_prehook or tensor hooks")
    edges = [k for k in node_edges(tape, n) or () if k >= 0]
    if len(set(edges)) < len(edges) and BY_CODE[tape.op[n]].kind not in LISTS and \
            slot_nodes(tape, edges, node_members(tape, n, edges)) is None:
        # (x.addcmul(y, y) of a writer that gave its entries no alias per argument: they sum
        # y's two gradients, torch's node hands y one per argument; a cat's VJP gives one
        # block per argument, so its hooks get them as torch's)
        raise NotImplementedError(
            f"register_hook on {type(self).__name__} with one tensor as two of its inputs; "
            f"use register_prehook or tensor hooks")
    return _add(_node_record(tape, n, dt, shape).post, fn)


# torch's public Node API, added here (above the tensor layer the hooks need) to the class
# graph.py defines below it
Node.register_prehook = _register_prehook
Node.register_hook = _register_hook


# ---- running hooks ---------------------------------------------------------------------------
def _name(fn):
    return getattr(fn, "__name__", None) or type(fn).__name__


def _checked(fn, got, like):
    """A tensor hook's replacement, checked as torch checks it."""
    return checked_result(_name(fn), got, like)


def checked_result(name, got, like):
    """got, what hook `name` returned for gradient `like`, checked as torch's
    check_variable_result checks it."""
    if not isinstance(got, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(got).__name__}'")
    if got._shape != like._shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")
    if got._dtype is not like._dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was "
                           f"tapegrad.{like._dtype.legacy}Tensor got "
                           f"tapegrad.{got._dtype.legacy}Tensor)")
    return got


def _tuple_checked(fn, got, n):
    if not isinstance(got, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(got).__name__}'")
    if len(got) != n:
        raise RuntimeError(f"hook '{_name(fn)}' has returned an incorrect number of values "
                           f"(got {len(got)}, but expected {n})")
    return got


def run_tensor_hooks(table, g):
    """Call the hooks in `table` in order on gradient tensor g; returns the last one's
    replacement (or g)."""
    for fn in list(table.values()):
        got = fn(g)
        if got is not None:
            g = _checked(fn, got, g)
    return g


def _none_kept(got, old):
    """torch's check of a node hook's result: no gradient where there was None."""
    for x, o in zip(got, old):
        if o is None and x is not None:
            raise RuntimeError("can't replace a None gradient with a non-None value")


def run_prehooks(table, g):
    """A grad_fn's prehooks on its output gradient g (a 1-tuple each time)."""
    return run_node_prehooks(table, (g,))[0]


def run_node_prehooks(table, grad_outputs):
    """A grad_fn's prehooks on its grad_outputs (a tuple, None where an output got no
    gradient): each may return a tuple that replaces them, checked as torch checks it."""
    for fn in list(table.values()):
        got = fn(grad_outputs)
        if got is not None:
            got = _tuple_checked(fn, got, len(grad_outputs))
            _none_kept(got, grad_outputs)
            grad_outputs = tuple(None if x is None else _checked(fn, x, old)
                                 for x, old in zip(got, grad_outputs))
    return grad_outputs


def run_node_posthooks(table, grad_inputs, grad_outputs):
    """A grad_fn's post hooks: (grad_inputs, grad_outputs) -> the grad_inputs to propagate."""
    for fn in list(table.values()):
        got = fn(grad_inputs, grad_outputs)
        if got is not None:
            got = _tuple_checked(fn, got, len(grad_inputs))
            _none_kept(got, grad_inputs)
            grad_inputs = tuple(None if x is None else _checked(fn, x, old)
                                for x, old in zip(got, grad_inputs))
    return grad_inputs


def roles(tape, n):
    """The nodes torch's node at entry n has edges to, in the order of its grad_inputs
    (next_functions): -1 where that input takes no gradient (`(None, 0)`)."""
    edges = node_edges(tape, n)
    if edges is None:
        edges = torch_inputs(tape, n, BY_CODE[tape.op[n]])
    return [node if node < 0 or BY_CODE[tape.op[node]].kind != "const" else -1
            for node in edges]


def viewed_product(tape, n):
    """The shape of the product torch's node of entry n views, where n is a matmul that
    torch runs as mm (a batched first operand folded into rows), mv or bmm and then views to
    the result (UnsafeViewBackward0, whose one grad_input is that product's gradient); else
    None."""
    if BY_CODE[tape.op[n]].name != "matmul":
        return None
    nb, m, _, n_cols, batched = (int(v) for v in tape.params_of(n)[:5])
    if batched:
        return (nb, m, n_cols)
    b_shape = tape.shape.get(int(tape.ib[n]))
    return (m,) if b_shape is not None and len(b_shape) == 1 else (m, n_cols)


def grad_inputs_of(tape, n, pairs):
    """The (node, gradient) pairs a VJP of entry n gave, as torch's grad_inputs tuple
    (pairs matched to operands in order, so `x * x` gives two gradients)."""
    slots = roles(tape, n)
    out = [None] * len(slots)
    for node, gi in pairs:
        for k, s in enumerate(slots):
            if s == node and out[k] is None:
                out[k] = gi
                break
    return slots, tuple(out)


def _as_tensor(arr, h):
    """A gradient tensor of h's dtype and shape from float64 arena values (a copy)."""
    return Tensor._wrap(arr.astype(h.dtype.np).reshape(h.shape), h.dtype)


as_gradient = _as_tensor


class GradInputs(list):
    """autograd.grad's inputs (a list): their gradients are captured as torch's engine
    captures them, see `plan`; backward(inputs=...) passes a plain list."""
    __slots__ = ()


class Pauses(dict):
    """{sweep index: Pause} of one backward over one tape, and `captured`: {node: float64
    array}, the gradients a retained `.grad` or an input gets where hooks made the arena's
    value differ from it; `retained_seen`: the same for the retained .grad of an
    autograd.grad input captured before its hooks (it sees their result, as torch's
    retains_grad hook runs after the tensor hooks)."""
    __slots__ = ("captured", "retained_seen", "roots")

    def __init__(self):
        super().__init__()
        self.captured = {}
        self.retained_seen = {}
        self.roots = None    # the sweep's seeded roots (engine._reached_above)


class Pause:
    """What runs at one hooked entry: `node` (tape node), `h` (its Hooks), `node_hooks`
    (whether its grad_fn's pre/post hooks run: its node executes) and `keep`: which value a
    retained .grad or an input gets, "tensor" (after the tensor hooks, before the grad_fn
    prehooks), "raw" (before any hook) or None (not asked for).  A split entry (several
    outputs): `outputs`, its pieces' [(sweep index or -1: not swept, shape)], whose
    gradients its hooks get one by one, None for a piece the backward did not reach.
    `idle`: its node executes but computes no gradient (backward(inputs=) of a non-leaf
    input with no other input below it): its post hooks get None for every input.
    `group`: at a node of several outputs (`output` entries right after it) and at each of
    those outputs with tensor hooks, their Outputs, whose hooks all run at the first of
    these pauses the sweep comes to; `hooked`: what they made of this entry's gradient
    there (run_output_hooks).  `own`: whether `h` is the node's own Hooks (False: a Pause
    made for `group` only)."""
    __slots__ = ("node", "h", "node_hooks", "keep", "outputs", "summed", "idle", "unseen",
                 "before", "group", "hooked", "own")

    def __init__(self, node, h, node_hooks, keep):
        self.node, self.h, self.node_hooks, self.keep = node, h, node_hooks, keep
        self.idle = False
        self.unseen = ()   # (None for each output of torch's node the tape lacks)
        self.before = ()   # (the same for those before the entry's: slogdet's sign)
        self.outputs = None
        self.summed = None   # (sum_consumer's dims: the hooks' gradient expanded there)
        self.group = None
        self.hooked = None
        self.own = True


def split_outputs(tape, n, like):
    """[(node, shape)] of the pieces of split entry n (split, chunk, unbind): the `output`
    entries right after it.  A one-element piece's shape is not on the tape: all its dims are
    1, as many as its operand's (unbind: one fewer), or as the piece's shape `like` shows."""
    k = int(tape.imm[n])
    nodes = list(range(n + 1, n + 1 + k))
    x_shape = tape.shape.get(int(tape.ia[n]))
    if x_shape is not None:
        ones = (1,) * (len(x_shape) - (BY_CODE[tape.op[n]].name == "unbind"))
    else:
        ones = tuple(like) if like is not None and all(d == 1 for d in like) else ()
    return [(m, tuple(tape.shape.get(m, ones))) for m in nodes]


def sum_consumer(tape, node, n, seeded=()):
    """Per dim of n-d `node`, whether the gradient torch hands it has stride 0 there, when
    its only reader below n is a sum (None: not such a node, or no such dim).  torch's
    SumBackward0/1 expands the incoming gradient over the summed dims (an expanded one
    further: a sum of a sum; through a view or clone, a gradient expanded over every dim),
    and with no other use that is the gradient a hook on the node gets: an in-place op on
    it raises the overlap error, a write reaches every element viewing the memory.  (A second use makes torch add the two out of place; a seeded node,
    in `seeded`, starts from the gradient it was given.)"""
    if tape.nds is None or node not in tape.shape:
        return None
    ia, ib, arg_ptr, arg = tape.dependencies(n)
    users = np.flatnonzero(ia[node + 1:] == node)
    if len(users) != 1 or (ib[node + 1:] == node).any() or \
            (arg[arg_ptr[node + 1]:arg_ptr[n]] == node).any():
        return None
    e = node + 1 + int(users[0])
    name = BY_CODE[tape.op[e]].name
    if row_at(tape, e) >= 0:
        return None
    shape = tuple(tape.shape[node])
    if name in _PASSED_ON:
        # (a view, a clone: torch's node hands on the gradient it got, viewed; one expanded
        # over every dim stays so whatever the view)
        inner = None if e in seeded else sum_consumer(tape, e, n, seeded)
        if inner is None or not all(z or d == 1 for z, d in zip(inner, tape.shape[e])):
            return None
        zero = [d > 1 for d in shape]
        return zero if any(zero) else None
    if name not in ("sum", "sum_dim"):
        return None
    keep = [int(k) for k in tape.params_of(e)]
    if len(keep) != len(shape):
        return None
    zero = [k == 1 and d > 1 for k, d in zip(keep, shape)]
    inner = None if e in seeded else sum_consumer(tape, e, n, seeded)
    if inner is not None:   # (the sum's own gradient expanded: over its output's dims,
        # whose dims of more than one element are node's unsummed ones, in order)
        big = [z for d, z in zip(tape.shape[e], inner) if d > 1]
        kept = [d for d in range(len(shape)) if shape[d] > 1 and not zero[d]]
        if len(big) == len(kept):
            for d, z in zip(kept, big):
                zero[d] = zero[d] or z
    return zero if any(zero) else None


class _Like:
    """A leaf's dtype and shape, as a Hooks record gives them to _expanded."""
    __slots__ = ("dtype", "shape")

    def __init__(self, t):
        self.dtype, self.shape = t._dtype, t._shape


# the rows whose torch node hands its input the gradient it got, as a view of it
_PASSED_ON = frozenset(("view", "unsqueeze", "squeeze", "squeeze_dim", "squeeze_dims", "clone",
                        "t", "transpose", "permute"))


def _expanded(arr, h, zero):
    """_as_tensor of a gradient that sum_consumer's sum handed on: one element per kept
    position, expanded over the `zero` dims (read-only, stride 0), as torch's."""
    base = arr.reshape(h.shape)[tuple(slice(0, 1) if z else slice(None) for z in zero)]
    return Tensor._wrap(np.broadcast_to(base.astype(h.dtype.np), h.shape), h.dtype)


def plan(tape, node, h, inputs, leads, mine, root=-1):
    """The Pause of hooked entry `node` in a backward (None: nothing runs there).  torch's
    engine, with `inputs`, executes only the nodes on a path to an input (`leads`); an input
    whose node does not execute gets its tensor hooks run and then its gradient captured; an
    autograd.grad input whose node executes (another input lies below it) is captured
    before its hooks, which then run for the propagation (engine.cpp, evaluate_function).
    The run's only root (`root`: its node on this tape, else -1) is evaluated even when it
    leads to no input: its tensor hooks run there, and a retained .grad sees their result.
    An output of a node of several runs its tensor hooks where another output is an input
    (torch captures that one at the node, after all of their hooks: output_groups), and its
    node's hooks where another output leads to an input (slogdet's sign, which reads a
    constant of A, where log|det| does)."""
    if inputs is None:
        p = Pause(node, h, True, "tensor" if node in tape.retained else None)
    elif node in mine:
        # (autograd.grad captures an input whose node leads nowhere without executing it;
        # backward(inputs=) executes it all the same, computing no gradient: torch's engine
        # marks a non-leaf input's node needed when it accumulates)
        needed = bool(leads[node])
        grad_call = isinstance(inputs, GradInputs)
        p = Pause(node, h, needed or not grad_call, "raw" if needed and grad_call else "tensor")
        p.idle = not needed and not grad_call
    elif leads[node] or any(leads[m] for m in node_outputs(tape, node) if m < len(leads)):
        p = Pause(node, h, True, None)
    elif node == root or any(m in mine for m in node_outputs(tape, node)):
        p = Pause(node, h, False, None)
    else:
        return None
    if BY_CODE[tape.op[node]].kind == "split":
        p.outputs = split_outputs(tape, node, h.shape)
    elif node + 1 < tape.n and tape.op[node + 1] == OUTPUT_CODE and tape.ia[node + 1] == node:
        p.outputs = stacked_outputs(tape, node)
    elif row_at(tape, node) >= 0:
        # (native_group_norm's mean and rstd: outputs of torch's node the tape does not
        # hold, whose gradients its hooks get as None)
        p.unseen = (None,) * (BY_CODE[row_at(tape, node)].torch_outputs - 1)
    elif BY_CODE[tape.op[node]].torch_outputs > 1:
        # (an entry that is one output of torch's node, the others not on the tape:
        # slogdet's logabsdet, svdvals' S, eigvalsh's eigenvalues)
        op = BY_CODE[tape.op[node]]
        p.before = (None,) * op.torch_output
        p.unseen = (None,) * (op.torch_outputs - 1 - op.torch_output)
    return p


def join_sign(tape, p, pauses, key, grad_of):
    """At the pause `p` of slogdet's logabsdet entry, whose torch node also has the sign
    (output 0, an entry of its own, `graph.sibling`): the node's hooks get the sign's
    gradient too (`grad_of(entry)`: None where none reached it; final here, the sign's
    readers coming after both entries), and they run here only, not again at the sign's
    pause (`key(entry)`: its key in `pauses`), as torch runs its node once."""
    sign = sibling(tape, p.node)
    if sign < 0 or not p.node_hooks:
        return
    other = pauses.get(key(sign))
    if other is not None:
        other.node_hooks = False
    p.before = (grad_of(sign),)


class Outputs:
    """The outputs with tensor hooks of one node of several outputs: `members`, [[their sweep
    index (tape node until engine._local_pauses; -1: not swept), Hooks, Pause or None]];
    `done`: their hooks ran in this backward."""
    __slots__ = ("members", "done")

    def __init__(self):
        self.members, self.done = [], False


def output_groups(tape, n, pauses, leads, mine=()):
    """Give the nodes of several outputs (split, unbind, var_mean, a custom Function's:
    `output` entries right after the node; slogdet's sign and log|det| entries) and their
    outputs with tensor hooks, in `pauses` ({tape node: Pause} of a backward from below n),
    one Outputs (`Pause.group`): torch runs the tensor hooks of every output of a node it
    executes at once (each tensor's together, the tensors in the order of their first
    hook), with None for an output the backward did not reach (`y1, y2 = x.unbind();
    y1.sum().backward()` calls y2's hooks with None).  The gradients of all the outputs are
    final at the first of their pauses the sweep comes to: all run there
    (run_output_hooks).  A node with no Pause of its own gets one that runs only those
    (`own` False), where it executes (`leads`: with inputs, only the nodes on a path to
    one) or where one of its outputs is an input (`mine`: torch captures it there, after
    those hooks)."""
    groups = {}
    for node, h in tape.hooks.items():
        if not h.tensor:
            continue
        outputs = node_outputs(tape, node) if node < n else ()
        if not outputs:
            continue
        # (the key: a split's entry; slogdet's log|det| entry, its node's)
        parent = int(tape.ia[node]) if tape.op[node] == OUTPUT_CODE else outputs[-1]
        if parent >= n or leads is not None and not leads[parent] and \
                not any(m in mine for m in outputs):
            continue
        group = groups.get(parent)
        if group is None:
            group = groups[parent] = Outputs()
            p = pauses.get(parent)
            if p is None:
                p = pauses[parent] = Pause(parent, None, False, None)
                p.own = False
            p.group = group
        q = pauses.get(node)
        if q is not None:
            q.group = group
        group.members.append([node, h, q])


def run_output_hooks(group, grads, create_graph=False):
    """The tensor hooks of the outputs of `group` (an Outputs), in torch's order, each
    on its output's gradient (`grads`, per member: float64 arena values, a tensor (the
    create_graph walk's), or None: not reached) or the previous hook's result for it.  A
    hook given None may return None only.  Each member's Pause keeps (gradient, a copy of
    its values, the hooks' result) for its own pause (`Pause.hooked`)."""
    group.done = True
    shown = []
    for (_, h, q), g in zip(group.members, grads):
        if g is not None and not isinstance(g, Tensor):
            g = _as_tensor(g, h) if q is None or q.summed is None else _expanded(g, h, q.summed)
        elif g is not None and tuple(g.shape) != tuple(h.shape):
            g = g.reshape(h.shape)   # (a one-element output: 0-d on the walk)
        shown.append(g)
    refs = [None if g is None or create_graph else g._v if type(g._v) is float else
            g._v.copy() for g in shown]
    out = list(shown)
    # (torch's order: each tensor's hooks together, the tensors in the order of their first
    # hook's registration)
    calls = sorted((h.first, hid, k, fn) for k, (_, h, _) in enumerate(group.members)
                   for hid, fn in h.tensor.items())
    with switched_grad(create_graph):
        for _, _, k, fn in calls:
            got = fn(out[k])
            if got is None:
                continue
            if out[k] is None:
                raise RuntimeError("can't replace a None gradient with a non-None value")
            out[k] = _checked(fn, got, out[k])
    for (_, _, q), g, ref, g1 in zip(group.members, shown, refs, out):
        if q is not None and g is not None:
            q.hooked = (g, ref, g1)


def _node_outputs(p, g):
    """torch's grad_outputs at Pause p's node: g where the entry is among its outputs."""
    return p.before + (g,) + p.unseen


def stacked_outputs(tape, n):
    """[(node, shape)] of the results of entry n that are `output` entries right after it,
    each one block of n's value (var_mean / std_mean / aminmax: the two results stacked; one
    torch node, whose hooks get one gradient per result, as a split's)."""
    stacked = tape.shape.get(n)
    rest = tuple(stacked[1:]) if stacked is not None else ()
    nodes = []
    m = n + 1
    while m < tape.n and tape.op[m] == OUTPUT_CODE and tape.ia[m] == n:
        nodes.append(m)
        m += 1
    return [(m, tuple(tape.shape.get(m, rest))) for m in nodes]


def pause(tape, p, arr, vjp, pauses, reached=None):
    """Run the hooks of a Pause at a pause of the sweep.  `arr`: the node's gradient in the
    adjoint arena (float64, written in place); `pauses.captured` (and `retained_seen`) get
    the value a retained .grad or an input sees where it differs.  Returns None when the
    kernel is to run the entry's VJP, else ([(operand node, float64 array)] to add,
    {operand nodes the post hooks gave None in every slot}): with post hooks the VJP runs
    here, through `vjp(tape, node, g)` (the tensor faces create_graph uses).  A split
    entry's: `reached`, whether each of its pieces got a gradient."""
    if not p.own:
        return None
    h, node = p.h, p.node
    pre, post = p.node_hooks and h.pre, p.node_hooks and h.post
    if p.outputs is not None:
        return _split_pause(tape, p, arr, vjp, reached, pre, post)
    captured = pauses.captured
    with switched_grad(False):
        if p.keep == "raw":
            captured[node] = arr.copy()
        if p.hooked is not None:   # (the tensor hooks ran with its node's other outputs')
            (g0, ref, g), p.hooked = p.hooked, None
        else:
            g0 = _as_tensor(arr, h) if p.summed is None else _expanded(arr, h, p.summed)
            ref = g0._v if type(g0._v) is float else g0._v.copy()
            g = run_tensor_hooks(h.tensor, g0)
        if p.keep == "raw" and g is not g0 and node in tape.retained:
            pauses.retained_seen[node] = np.asarray(g._array(), np.float64).reshape(-1).copy()
        if pre:
            if p.keep == "tensor":   # a retained .grad does not see the prehooks' result
                captured[node] = np.asarray(g._array(), np.float64).reshape(-1).copy()
            g = run_node_prehooks(h.pre, _node_outputs(p, g))[len(p.before)]
        v = g._v
        if g is not g0 or (v != ref if type(v) is float else not np.array_equal(v, ref)):
            arr[:] = np.asarray(g._array(), np.float64).reshape(-1)
        if not post:
            return None
        view = viewed_product(tape, node)
        if p.idle:
            run_node_posthooks(h.post, (None,) * (1 if view else len(roles(tape, node))),
                               _node_outputs(p, g))
            return [], set()
        if view is not None:   # (the kernel runs the product's VJP on what the hooks give)
            gi = run_node_posthooks(h.post, (g.reshape(view),), (g,))[0]
            if gi is None:
                return [], {k for k in roles(tape, node) if k >= 0}
            arr[:] = np.asarray(gi._array(), np.float64).reshape(-1)
            return None
        slots, gi = vjp(tape, node, g)
        gi = run_node_posthooks(h.post, gi, _node_outputs(p, g))
        added = [(s, np.asarray(x._array(), np.float64)) for s, x in zip(slots, gi)
                 if s >= 0 and x is not None]
        return added, {s for s in slots if s >= 0} - {s for s, _ in added}


def _split_pause(tape, p, arr, vjp, reached, pre, post):
    """`pause` at a split entry: its hooks get one gradient per piece (torch's node has one
    output per piece), cut from the packed gradient `arr`, None where a piece got none; what
    the prehooks give back is packed into `arr` again (zeros for None)."""
    h, node = p.h, p.node
    if not (pre or post):
        return None
    spans = _piece_spans(p)
    with switched_grad(False):
        grads = tuple(Tensor._wrap(arr[a:b].astype(h.dtype.np).reshape(shape), h.dtype)
                      if got else None for (shape, a, b), got in zip(spans, reached))
        if pre:
            grads = run_node_prehooks(h.pre, grads)
            for (_, a, b), gk in zip(spans, grads):
                arr[a:b] = 0.0 if gk is None else np.asarray(gk._array(), np.float64).reshape(-1)
        if not post:
            return None
        g = Tensor._wrap(arr.astype(h.dtype.np), h.dtype)
        slots, gi = vjp(tape, node, g)
        gi = run_node_posthooks(h.post, gi, grads)
        added = [(s, np.asarray(x._array(), np.float64)) for s, x in zip(slots, gi)
                 if s >= 0 and x is not None]
        return added, {s for s in slots if s >= 0} - {s for s, _ in added}


def _piece_spans(p):
    """[(shape, start, stop)] of a split entry's pieces in its packed gradient."""
    spans, start = [], 0
    for _, shape in p.outputs:
        stop = start + int(np.prod(shape))
        spans.append((shape, start, stop))
        start = stop
    return spans


def _split_graph_grads(p, g, reached):
    """A split entry's packed gradient g (a recorded tensor) as one gradient per piece, None
    where a piece got none (graph_pause)."""
    flat = g.reshape(-1)
    return tuple(flat[a:b].reshape(shape) if got else None
                 for (shape, a, b), got in zip(_piece_spans(p), reached))


def _split_graph_packed(p, grads, like):
    """The pieces' gradients packed again into one (zeros for None), a recorded op."""
    parts = [gk.reshape(-1) if gk is not None else
             like.new_zeros((int(np.prod(shape)),)) for (_, shape), gk in zip(p.outputs, grads)]
    return cat(parts).reshape(like.shape)


def graph_pause(tape, p, g, vjp, reached=None):
    """`pause` for the create_graph walk, on recorded tensors: returns (g after the tensor
    and pre hooks, the value an input sees, the value a retained .grad sees (after the
    tensor hooks), [(operand node, gradient)] when post hooks ran the VJP, else None).  A
    split entry's: `reached`, whether each of its pieces got a gradient."""
    h, node = p.h, p.node
    walk = tuple(g.shape)
    if p.outputs is None and walk != tuple(h.shape):
        # (a one-element node: the walk's gradient is 0-d, the tape keeping no shape for it;
        # the hooks see it in the tensor's shape, as the sweep's pause shows it, and what
        # they give goes back to the walk 0-d)
        g = g.reshape(h.shape)

    def back(t):
        return t if t is None or tuple(t.shape) == walk else t.reshape(walk)
    with switched_grad(True):
        raw = g
        if p.hooked is not None:   # (the tensor hooks ran with its node's other outputs')
            (_, _, g), p.hooked = p.hooked, None
        else:
            g = run_tensor_hooks(h.tensor, g)
        seen, retained = back(raw if p.keep == "raw" else g), back(g)
        grads = None if p.outputs is None else _split_graph_grads(p, g, reached)
        if p.node_hooks and h.pre:
            if grads is None:
                g = run_node_prehooks(h.pre, _node_outputs(p, g))[len(p.before)]
            else:
                grads = run_node_prehooks(h.pre, grads)
                g = _split_graph_packed(p, grads, g)
        if not (p.node_hooks and h.post):
            return back(g), seen, retained, None
        view = viewed_product(tape, node)
        if p.idle:
            run_node_posthooks(h.post, (None,) * (1 if view else len(roles(tape, node))),
                               _node_outputs(p, g))
            return back(g), seen, retained, []
        if view is not None:
            gi = run_node_posthooks(h.post, (g.reshape(view),), (g,))[0]
            if gi is None:
                return back(g), seen, retained, []
            return back(gi.reshape(g.shape)), seen, retained, None
        slots, walked = vjp(tape, node, back(g))
        gi = run_node_posthooks(h.post, tuple(_operand_shaped(tape, s, x)
                                              for s, x in zip(slots, walked)),
                                _node_outputs(p, g) if grads is None else grads)
        gi = [x if x is None or w is None or x.shape == w.shape else x.reshape(w.shape)
              for x, w in zip(gi, walked)]
    return back(g), seen, retained, [(s, x) for s, x in zip(slots, gi)
                                     if s >= 0 and x is not None]


def _operand_shaped(tape, node, x):
    """The create_graph walk's gradient x of operand `node` in the shape the post hooks see:
    a one-element operand's is 0-d on the walk, the tape keeping no shape for it; torch's
    node hands it its own shape (where the tape knows it: graph.known_shape)."""
    if x is None or node < 0 or x.numel() != 1:
        return x
    shape = known_shape(tape, node)
    return x if shape is None or tuple(x.shape) == shape else x.reshape(shape)


def leaf_grads(found, create_graph=False, only=None, accumulate=True, summed=None):
    """Run leaf tensor hooks on the gradients a backward is about to accumulate: `found`
    maps id(leaf) -> (leaf, gradient: float, ndarray or, with create_graph, Tensor), and is
    updated in place.  `only`: ids of the leaves whose hooks run (autograd.grad's inputs);
    `accumulate`: whether the leaves' AccumulateGrad runs (not under autograd.grad), and with
    it its hooks (leaf_grad); `summed(leaf)`: sum_consumer's dims for a leaf, or None."""
    for key, (t, g) in list(found.items()):
        if only is not None and key not in only:
            continue
        h = _leaf_record(t, False)
        if h is None or not (h.tensor or accumulate and (h.pre or h.post)):
            continue
        found[key] = (t, leaf_grad(h, t, g, create_graph, accumulate,
                                   summed(t) if summed is not None and h.tensor else None))


def leaf_grad(h, t, g, create_graph=False, accumulate=False, summed=None):
    """One leaf's gradient after its tensor hooks, in the form it came in; with `accumulate`
    (its AccumulateGrad runs) then after that node's prehooks, and kept for its post hooks
    (`post_accumulate`).  `summed`: the dims over which a sum handed the gradient on, which
    the hooks then get expanded (sum_consumer)."""
    with switched_grad(create_graph):
        if isinstance(g, Tensor):
            g = run_tensor_hooks(h.tensor, g)
            if accumulate:
                g = _accumulator_pre(h, g)
            return g
        arr = np.asarray(g)
        gt = Tensor._wrap(arr.astype(t._dtype.np).reshape(t._shape), t._dtype) \
            if summed is None else _expanded(arr, _Like(t), summed)
        out = run_tensor_hooks(h.tensor, gt)
        if accumulate:
            out = _accumulator_pre(h, out)
    if out is gt and type(g) is float:
        return g
    res = np.asarray(out._array())
    if type(g) is float:
        return float(res.reshape(-1)[0])
    return res.astype(arr.dtype).reshape(arr.shape)


def _accumulator_pre(h, g):
    """A leaf's AccumulateGrad prehooks on its gradient g (after the tensor hooks); the result
    kept for the node's post hooks."""
    if h.pre:
        g = run_prehooks(h.pre, g)
    if h.post:
        h.given = g
    return g


def post_accumulate(leaves):
    """Call the post-accumulate-grad hooks of `leaves` (after their .grad was published), then
    the post hooks of their AccumulateGrad."""
    if not _LEAF:
        return
    for t in leaves:
        h = _leaf_record(t, False)
        if h is None or not (h.accumulate or h.post):
            continue
        given, h.given = h.given, None
        with switched_grad(False):
            # (torch's _call_hooks: a result that is None or the hook's argument passes; a
            # tensor replaces the argument of the later hooks, checked as a gradient, and
            # fails the check for None once all ran)
            arg = t
            for fn in list(h.accumulate.values()):
                got = fn(arg)
                if got is not None and got is not arg:
                    arg = _checked(fn, got, arg)
            if arg is not t:
                raise RuntimeError("Tensor post accumulate grad hooks should return None.")
            if given is not None:
                for fn in list(h.post.values()):
                    got = fn((), (given,))
                    if got is not None:
                        _tuple_checked(fn, got, 0)
