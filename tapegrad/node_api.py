"""torch's Node API that needs tensors and the engine: `grad_fn._saved_<name>` and calling a
node (`grad_fn(grad)`), added to the class graph.py defines (below the tensor layer), as
hooks.py adds the hooks.  Both read what the entry saved on the tape, and raise what torch's
unpacking of a saved tensor raises: the "backward through the graph a second time" error once
a backward freed it, the version error once it was changed in place."""
import weakref

import numpy as np

from . import dtypes as D, errors, groups, result_grads
from .engine import _formula, _handle, _input_grads, _sum_to, list_operand_shaped
from .kinds import LISTS as LIST_KINDS, tensor_vjp
from .graph import (AccumulateGrad, edge_nodes, folded_record, members_above, Node, node_for,
                    number_name, saved_fields, SavedNode, sibling, slot_nodes, torch_inputs,
                    torch_roles)
from .ndops import _EXACT_INT
from .hooks import split_outputs, stacked_outputs, viewed_product
from .ops import BY_CODE, mentions, OUTPUT_CODE
from .pyfunc import call_native
from .tape import version_message
from .tensor import Tensor
from .views import cat, KIND_OPS


def _saved_attr(self, name):
    """`grad_fn._saved_<field>`: what the node saved, as torch's unpacked saved tensor (None
    for a field of the node's class this node does not save: `(x * 2).grad_fn._saved_self`);
    `grad_fn._raw_saved_<field>` of a tensor field: its SavedTensor."""
    if name.startswith("_saved_"):
        for f in saved_fields(self):
            if f.name == name[7:]:
                return _unpack(self, f)
    elif name.startswith("_raw_saved_"):
        for f in saved_fields(self):
            if f.name == name[11:] and _is_tensor_field(self, f):
                return _raw_saved(self, f.name)
    raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")


def _node_dir(self):
    """dir() of a node: with its class's `_saved_*` fields (and `_raw_saved_*` of the tensor
    ones), as torch's."""
    fields = saved_fields(self)
    return sorted(set(object.__dir__(self)) | {"_saved_" + f.name for f in fields}
                  | {"_raw_saved_" + f.name for f in fields if _is_tensor_field(self, f)})


def _is_tensor_field(fn, f):
    """Whether torch's node saves Field f as a tensor (a SavedVariable), not as a number."""
    if f.role in ("arg", "arg_t"):   # (arg_t: an index, a loss's target, its weight None)
        return f.role == "arg_t"
    return f.role != "c" and not (f.saved is not None and f.saved.node < 0
                                  and _is_scalar_arg(fn._tape, fn._node, f))


class SavedTensor:
    """torch's SavedTensor (`grad_fn._raw_saved_<name>`): one tensor a node saved.  `data`
    and `unpack()` give it as `grad_fn._saved_<name>` does; `register_hooks(pack, unpack)`
    checks its arguments and the node's state as torch's, then raises NotImplementedError:
    the saved value is a slot of the tape read by the sweep, which cannot call an unpack
    hook (docs/semantics.md, "Saved-tensor hooks")."""
    __slots__ = ("_fn", "_name", "__weakref__")

    def __init__(self, fn, name):
        self._fn, self._name = fn, name

    def _field(self):
        for f in saved_fields(self._fn):
            if f.name == self._name:
                return f
        raise AssertionError(self._name)   # (a node's fields do not change)

    @property
    def data(self):
        """The saved tensor (None once freed), a saved output without its history, as
        torch's."""
        f = self._field()
        if f.saved is None or not f.saved.alive:
            return None
        t = _unpack(self._fn, f)
        return t.detach() if f.role == "out" and isinstance(t, Tensor) else t

    def unpack(self):
        """The saved tensor as `_saved_<name>` gives it, but torch's error for a saved output
        (unpacked without its node, it reads as detached in place)."""
        f = self._field()
        t = _unpack(self._fn, f)
        if f.role == "out" and t is not None:
            raise RuntimeError("Trying to use a saved tensor that has been detached in-place, "
                               "i.e. with .detach_().This is not supported, please use "
                               "out-of-place `.detach()` instead")
        return t

    @property
    def unpack_hook(self):
        return None   # (none can be registered)

    def register_hooks(self, *args):
        if len(args) != 2 or not all(callable(a) for a in args):
            shown = ", ".join(repr(a) for a in (self,) + args)
            raise TypeError(
                "register_hooks(): incompatible function arguments. The following argument "
                "types are supported:\n    1. (self: torch._C._autograd.SavedTensor, arg0: "
                "collections.abc.Callable, arg1: collections.abc.Callable) -> None\n\n"
                f"Invoked with: {shown}")
        saved = self._field().saved
        if saved is not None and not saved.alive:
            raise RuntimeError(
                "Calling register_hooks on a saved tensor after it has been freed. Saved "
                "intermediate values of the graph are freed when you call .backward() or "
                "autograd.grad(). Specify retain_graph=True if you need to backward through the "
                "graph a second time or if you need to access saved variables after calling "
                "backward.")
        raise NotImplementedError(
            "SavedTensor.register_hooks: tapegrad's saved values are slots of the tape read "
            "by the Numba sweep, which cannot call an unpack hook (as saved_tensors_hooks; "
            "docs/semantics.md, \"Saved-tensor hooks\")")


# grad_fn -> {name: weak reference to its SavedTensor}: the same object every access while one
# is held, as torch's.  Weak both ways: a SavedTensor holds its node (as torch's keeps the
# node's saved variable), so a strong one here would keep the node, and its tape, for good.
_RAW = weakref.WeakKeyDictionary()


def _raw_saved(fn, name):
    mine = _RAW.get(fn)
    if mine is None:
        mine = _RAW[fn] = {}
    ref = mine.get(name)
    st = None if ref is None else ref()
    if st is None:
        st = SavedTensor(fn, name)
        mine[name] = weakref.ref(st)
    return st


def _unpack(fn, f):
    """The value of Field f of grad_fn fn, as torch's: its errors (_check_saved), then a
    tensor, a Python number (a Scalar argument) or None (not saved)."""
    s = f.saved
    if s is None:
        return None
    if f.role in ("arg", "arg_t"):
        if f.role == "arg_t" and not s.alive and (s.node >= 0 or s.value is not None):
            raise RuntimeError(errors.BACKWARD_TWICE)   # (a saved tensor, freed)
        if s.node >= 0:   # (a tensor argument of this tape, kept as its node)
            return _saved_tensor(fn._tape, fn._node, s.node, f.role)
        return _arg_value(s.value)
    _check_saved(fn, f)
    tape, n = fn._tape, fn._node
    if s.node >= 0:
        t = _saved_tensor(tape, n, s.node, f.role, s.alive)
        if f.role == "cond" and BY_CODE[tape.op[n]].cond_keeps:
            t = ~t.detach()
        return t
    # (torch keeps a number as given; the tape keeps a float: an integral value comes back as
    # an int, as in the usual `x.pow(2)`, `x * 2`)
    v = s.value
    v = int(v) if v.is_integer() and abs(v) <= _EXACT_INT else v
    if _is_scalar_arg(tape, n, f):
        return v
    rec = folded_record(tape, n, 0 if f.role == "a" else 1)
    if rec is not None:
        return Tensor._wrap(np.full(rec[5], v, rec[4].np), rec[4])
    # a Python number where torch's overload takes a tensor: torch's wrapped 0-d tensor
    return Tensor._wrap(np.array(v), D.int64 if type(v) is int else D.float64)


def _arg_value(v):
    """A saved argument as torch's getter gives it: an int64 one as an unsigned 64-bit number
    (dim=-1 reads 18446744073709551615), in a tuple too."""
    if type(v) is int and v < 0:
        return v + (1 << 64)
    if type(v) is tuple:
        return tuple(e + (1 << 64) if type(e) is int and e < 0 else e for e in v)
    return v


def _is_scalar_arg(tape, n, f):
    """Whether number field f of entry n is a Scalar argument of torch's node (pow's
    exponent parameter, a scalar overload's operand), not a tensor it saved."""
    return f.role in ("c", "arg", "arg_t") or bool(number_name(tape, n, BY_CODE[tape.op[n]],
                                             0 if f.role == "a" else 1))


def _check_saved(fn, f):
    """What torch's unpacking of saved Field f raises: the "backward through the graph a
    second time" error once a backward freed it (a Scalar argument is never freed), the
    version error once it was changed in place."""
    s, tape, n = f.saved, fn._tape, fn._node
    if s is None or s.node < 0 and _is_scalar_arg(tape, n, f):
        return
    if not s.alive:
        raise RuntimeError(errors.BACKWARD_TWICE)
    if s.node >= 0:
        _check_version(tape, n, s.node, f.role)
        return
    rec = folded_record(tape, n, 0 if f.role == "a" else 1)
    if rec is not None and rec[2][0] != rec[3]:
        raise RuntimeError(version_message(rec[4], rec[5], "", rec[2][0], rec[3]))


def _check_version(tape, n, node, role):
    """The saved value must not have changed in place since entry n saved it (a value a
    recorded in-place op replaced is read from the entry's own copy by the entries from then
    on, as Tape.check_versions)."""
    w = tape.versions.get(node)
    if w is None or w[0][0] == w[1]:
        return
    sup = tape.superseded.get(node)
    if sup is not None and n >= sup[0] and (role in ("a", "cond") or role == "b" and n != sup[1]):
        return
    raise RuntimeError(tape.version_error(node, role == "out"))


def _saved_tensor(tape, n, node, role, alive=True):
    """The tensor torch's unpack gives for node `node` saved by entry n in role `role`: a
    saved input is the tensor itself (a leaf; another while it still holds that value), a
    saved output a new tensor with its history."""
    kind = BY_CODE[tape.op[node]].kind
    if kind == "leaf":
        return tape.leaves[node]
    home, hnode = tape, node
    while BY_CODE[home.op[hnode]].kind == "import":
        home, hnode = home.imports[hnode]
    if BY_CODE[home.op[hnode]].kind == "leaf":
        return home.leaves[hnode]
    w = tape.versions.get(node)
    if role != "out":
        for ref in (w[4] if w is not None else None, tape.retained.get(node)):
            t = ref() if ref is not None else None
            if t is not None and (kind == "const" or t._tape is home and t._node == hnode):
                return t
    dt, shape = _like(tape, node, role)
    if node in tape.shape:
        arr = tape.saved_array(node)
        if arr is None:
            if not alive:
                raise RuntimeError(errors.BACKWARD_TWICE)
            # (a decomposition's entries save what they read, which may not be this)
            raise NotImplementedError(f"tapegrad does not keep this saved tensor of "
                                      f"{type(node_for(tape, n)).__name__}: the entries that "
                                      f"make up the node saved other values")
        shape = tuple(tape.shape[node])
        if w is None and role != "cond" and arr.dtype.kind == "f":
            dt = D.from_numpy_dtype(arr.dtype)   # (the array holds the tensor's dtype)
        # the same memory as the tensor's when the tape knows its version counter (torch's
        # saved tensor shares both), else a copy: a change through it must not go unseen
        shared = w is not None and arr.dtype == dt.np
        arr = np.asarray(arr).reshape(shape) if shared else arr.reshape(shape).astype(dt.np)
    else:
        shared, arr = False, np.full(shape, tape.val[node], dt.np)
    t = Tensor._wrap(arr, dt)
    if shared:
        t._ver = (w[0],)     # (share_counter's form: the same count, not a view)
    if kind != "const":
        t._tape, t._node, t._recorded = home, hnode, True
    return t


def _like(tape, node, role):
    """(dtype, shape) of the tensor node held: the tape keeps none per node, so from a tensor
    seen with it, else with the nearest operand an elementwise chain of entries leads to
    (which keeps a float dtype and a one-element shape), else the default dtype, 0-d."""
    k, reshaped, got = node, False, None
    for _ in range(_LOOK_BACK):
        got = _seen(tape, k)
        if got is not None:
            break
        op = BY_CODE[tape.op[k]]
        if op.kind not in ("unary", "binary", "where", "reshape", "import"):
            break
        reshaped |= op.kind == "reshape"
        if op.kind == "import":
            tape, k = tape.imports[k]
        else:   # (a one-element operand of a one-element result: the first one recorded)
            k = int(tape.ia[k]) if tape.ia[k] >= 0 else int(tape.ib[k])
            if k < 0:
                break
    if got is None:
        got = (D.get_default_dtype(), ())
    elif reshaped:   # (a view's dtype, not its shape)
        got = (got[0], ())
    return (D.bool_, got[1]) if role == "cond" and got[0].is_floating_point else got


_LOOK_BACK = 16   # entries _like follows back (it runs per saved tensor asked for)


def _seen(tape, node):
    """(dtype, shape) of a tensor the tape knows node `node` held, or None."""
    likes = tape.likes
    got = likes.get(node) if likes is not None else None
    if got is not None:
        return got
    w = tape.versions.get(node)
    if w is not None:
        return w[2], w[3]
    ref = tape.retained.get(node)
    t = ref() if ref is not None else tape.leaves.get(node)
    return (t._dtype, t._shape) if t is not None else None


def _call_node(self, *grads):
    """`grad_fn(*grad_outputs)`: the gradients of the node's inputs (a tensor for a node with
    one input, else a tuple in next_functions' order, None where an input needs none), as
    torch's backward of the node alone: a broadcast input's gradient is not reduced to its
    shape (the engine does that), no hook runs, grad mode decides whether it is recorded."""
    if isinstance(self, AccumulateGrad):
        raise NotImplementedError("calling AccumulateGrad (which accumulates into the leaf's "
                                  ".grad) is not supported by tapegrad")
    tape, n = self._tape, self._node
    op = BY_CODE[tape.op[n]]
    if op.kind == "pyfunc":
        # (a Function standing for torch's native node runs as that node; a custom
        # Function's node is not callable, as torch's: grad_fn.apply runs its backward)
        if getattr(type(self), "_native", False):
            return call_native(self, grads)
        raise TypeError(f"'{type(self).__name__}' object is not callable")
    # a decomposition, or an op recorded as several entries: torch's edges lead to its inputs
    grouped = groups.row_at(tape, n) >= 0
    edges = edge_nodes(tape, n)
    if edges is None and grouped:
        edges = groups.inputs(tape, n)
    row = BY_CODE[groups.row_at(tape, n)] if grouped else op
    # (a decomposition whose results are `output` entries of its stacked output: var_mean;
    # else the entry is its first output, its others not on the tape: native_group_norm's
    # mean and rstd)
    stacked = grouped and n + 1 < tape.n and tape.op[n + 1] == OUTPUT_CODE
    # (a split's node has one output per piece: `output` entries after it)
    split = edges is None and op.kind == "split"
    outputs = int(tape.imm[n]) if split else row.torch_outputs
    if len(grads) != outputs:
        raise TypeError(f"expected {outputs} arguments, got {len(grads)} instead")
    for i, g in enumerate(grads):
        if g is not None and not isinstance(g, Tensor):
            raise TypeError(f"argument {i} is not a Variable")
    # an entry that is one output of torch's node (slogdet's log|det|, svdvals' S): its own
    # gradient, and its sibling entry's (slogdet's sign) through that entry's VJP
    one_of = row.torch_outputs > 1 and not grouped
    other = sibling(tape, n) if one_of else -1
    if one_of:
        mine = {op.torch_output} | ({BY_CODE[tape.op[other]].torch_output} if other >= 0
                                    else set())
        if any(g is not None for k, g in enumerate(grads) if k not in mine):
            raise NotImplementedError(
                f"calling {type(self).__name__} with gradients of its outputs that tapegrad "
                f"does not compute ({row.name} records only the ones it returns) is not "
                f"supported by tapegrad")
    elif row.torch_outputs > 1 and not stacked and any(g is not None for g in grads[1:]):
        raise NotImplementedError(f"calling {type(self).__name__} with gradients of its other "
                                  f"outputs is not supported by tapegrad")
    g = _stacked(tape, n, grads) if stacked else _packed(tape, n, grads) if split else \
        grads[op.torch_output] if one_of else grads[0]
    for f in saved_fields(self):     # torch unpacks what the node saved: its errors first
        _check_saved(self, f)
    if edges is None and op.name == "matmul":
        # UnsafeViewBackward0: the gradient of the product it views (mm, mv or bmm), viewed
        return None if g is None else g.reshape(viewed_product(tape, n))
    if edges is not None:
        out = _composite_grads(self, tape, n, edges, grouped, g)
    elif op.kind in ("unary", "binary", "where"):
        roles = torch_roles(tape, n, op)
        out = _elementwise_grads(tape, n, op, roles, g) if g is not None else [None] * len(roles)
    elif op.kind in LIST_KINDS:
        out = _list_grads(tape, n, op, g)
    else:
        nodes = torch_inputs(tape, n, op)
        pairs = _input_grads(tape, n, g) if g is not None else []
        if other >= 0 and grads[BY_CODE[tape.op[other]].torch_output] is not None:
            pairs = pairs + _input_grads(tape, other,
                                         grads[BY_CODE[tape.op[other]].torch_output])
        out = _placed(nodes, _summed(pairs)) if pairs else []
        out = [_shaped(tape, k, gi) if k >= 0 and _differentiable(tape, k) else None
               for k, gi in zip(nodes, out or [None] * len(nodes))]
        if op.name == "to_copy" and out[0] is not None:   # (torch's: in the input's dtype)
            out[0] = out[0].to(_like(tape, nodes[0], "a")[0])
    return out[0] if len(out) == 1 else tuple(out)


def _stacked(tape, n, grads):
    """The gradient of stacked entry n from its results' `grads` (zeros for None; None when
    all are)."""
    if all(g is None for g in grads):
        return None
    like = next(g for g in grads if g is not None)
    parts = [(g if g is not None else like.new_zeros(shape)).reshape(-1)
             for g, (_, shape) in zip(grads, stacked_outputs(tape, n))]
    return cat(parts).reshape(tuple(tape.shape.get(n, (len(parts),))))


def _packed(tape, n, grads):
    """The packed gradient of split entry n from its pieces' `grads` (zeros for None; None
    when all are), as the sweep holds it."""
    if all(g is None for g in grads):
        return None
    like = next(g for g in grads if g is not None)
    parts = [(g if g is not None else like.new_zeros(shape)).reshape(-1)
             for g, (_, shape) in zip(grads, split_outputs(tape, n, like._shape))]
    return cat(parts).reshape(tuple(tape.shape.get(n, (len(parts),))))


def _summed(pairs):
    """[(node, gradient)] with one gradient per node (the sum of its gradients), in order."""
    out = {}
    for node, gi in pairs:
        out[node] = out[node] + gi if node in out else gi
    return list(out.items())


def _composite_grads(fn, tape, n, nodes, grouped, g):
    """Gradients of the inputs `nodes` (torch's edges: -1 for none) of a node whose entry is
    one of several: a decomposition's members, or the entries an op was recorded as."""
    members = groups.members(tape, n).tolist() if grouped else \
        members_above(tape, n, set(nodes))
    # one tensor given as two arguments (x.addcmul(y, y)): torch's node returns one gradient
    # per argument, each the gradient of the alias the argument read (graph.slot_nodes)
    slots = slot_nodes(tape, nodes, members)
    if slots is None:
        raise NotImplementedError(f"calling {type(fn).__name__} with one tensor as two of its "
                                  f"inputs is not supported by tapegrad")
    if g is None:
        return [None] * len(nodes)
    if grouped and list(slots) == list(nodes):
        got = _result_grads(tape, n, nodes, g)
        if got is not None:
            return [_shaped(tape, k, gi) if k >= 0 and gi is not None and _differentiable(tape, k)
                    else None for k, gi in zip(nodes, got)]
    got = _members_grads(tape, n, g, members, {s for s, k in zip(slots, nodes) if s != k})
    return [_shaped(tape, k, got.get(s)) if k >= 0 and _differentiable(tape, k) else None
            for k, s in zip(nodes, slots)]


def _result_grads(tape, n, nodes, g):
    """The gradients of group n's inputs `nodes` as torch's formula on the group's result
    (result_grads.GRADS, by row), or None where the row has none, the formula does not read
    the result there, or the tape does not hold a value it reads (the members saved others):
    the members' VJPs then.  Not while recording for replay (a replay re-runs the members)."""
    fn = result_grads.GRADS.get(BY_CODE[groups.row_at(tape, n)].name)
    if fn is None or tape.recording:
        return None
    try:
        out = _handle(tape, n, g)
        kept = tape.call_args.get(n) if tape.call_args is not None else None
        return fn(g, _Inputs(tape, nodes, g), out, kept or {})
    except result_grads.Unavailable:   # (a value not saved: the members read their own)
        return None


def _result_call(self, g):
    """[(input node, gradient)] of this decomposition node's inputs that take one, as
    torch's formula on its result gives them (_result_grads), after torch's checks of what
    the node saved; None where that formula does not apply, and the members' VJPs give them
    (the create_graph walk: engine)."""
    tape, n = self._tape, self._node
    if result_grads.GRADS.get(BY_CODE[groups.row_at(tape, n)].name) is None:
        return None
    nodes = edge_nodes(tape, n)
    if nodes is None:
        nodes = groups.inputs(tape, n)
    slots = slot_nodes(tape, nodes, groups.members(tape, n).tolist())
    if slots is None or list(slots) != list(nodes):   # (one tensor as two arguments)
        return None
    for f in saved_fields(self):     # torch unpacks what the node saved: its errors first
        _check_saved(self, f)
    got = _result_grads(tape, n, nodes, g)
    if got is None:
        return None
    return [(k, gi) for k, gi in zip(nodes, got)
            if k >= 0 and gi is not None and _differentiable(tape, k)]


class _Inputs:
    """A node's inputs as result_grads' formulas read them: `ins[i]` a tensor standing for
    input i (result_grads.Unavailable where the tape does not hold its value), `given(i)`
    whether torch's edge i leads anywhere, `shape(i)` its shape."""

    def __init__(self, tape, nodes, like):
        self.tape, self.nodes, self.like = tape, nodes, like

    def __len__(self):
        return len(self.nodes)

    def given(self, i):
        return self.nodes[i] >= 0

    def __getitem__(self, i):
        node = self.nodes[i]
        try:
            return _handle(self.tape, node, self.like) if node >= 0 else None
        except RuntimeError as e:   # (BACKWARD_TWICE: a value the members did not save)
            raise result_grads.Unavailable(node) from e

    def kept(self, value):
        """A tensor argument the call kept (keep_tensor_args) as a tensor."""
        if isinstance(value, SavedNode):
            try:
                return _handle(self.tape, value.node, self.like)
            except RuntimeError as e:
                raise result_grads.Unavailable(value.node) from e
        if isinstance(value, Tensor):
            return value
        raise result_grads.Unavailable(value)

    def shape(self, i):
        node = self.nodes[i]
        shape = self.tape.shape.get(node)
        return tuple(shape) if shape is not None else self[i].shape


def _list_grads(tape, n, op, g):
    """Gradients of a cat's operands (ia, ib, then the entry's arg list): torch computes a
    tensor list's for all of it (a constant's too), or for none."""
    nodes = [k for k in (int(tape.ia[n]), int(tape.ib[n])) if k >= 0] + tape.args_of(n).tolist()
    out = [None] * len(nodes)
    if g is not None and any(_differentiable(tape, k) for k in nodes):
        for i, gi in tensor_vjp(op.kind)(KIND_OPS, g, [tape.shape.get(k) for k in nodes],
                                         tape.params_of(n)):
            out[i] = list_operand_shaped(op, g, gi)
    return out


def _shaped(tape, node, g):
    """Gradient g of a one-element input in the input's shape where a tensor shows it: the
    tape keeps no shape for one-element nodes, so a VJP gives their gradients 0-d."""
    if g is None or g.numel() != 1:
        return g
    seen = _seen(tape, node)
    return g.reshape(seen[1]) if seen is not None and seen[1] != g._shape else g


def _differentiable(tape, node):
    return BY_CODE[tape.op[node]].kind != "const"


def _placed(nodes, pairs):
    """The gradients [(node, gradient)] placed at the positions of `nodes` (one input twice,
    `x @ x`: its gradients in the order given)."""
    out = [None] * len(nodes)
    for node, gi in pairs:
        k = next((k for k, m in enumerate(nodes) if m == node and out[k] is None), None)
        if k is not None:
            out[k] = gi
    return out


def _elementwise_grads(tape, n, op, roles, g):
    """Entry n's gradient formulas (ops.py, as create_graph runs them) on its saved values,
    unreduced, for each input in torch's order (`roles`: torch_roles) that takes a
    gradient; None for the others."""
    needed = [r for r, node in roles if node >= 0 and _differentiable(tape, node)]
    reads = {v for r in needed for v in ("a", "b", "out", "cond") if mentions(op.grads[r], v)}
    imm = float(tape.imm[n])
    nodes = {"a": int(tape.ia[n]), "b": int(tape.ib[n]), "out": n,
             "cond": int(tape.args_of(n)[0]) if op.kind == "where" else -1}
    vals = {v: (imm if k < 0 else _saved_tensor(tape, n, k, v)) if v in reads else None
            for v, k in nodes.items()}
    cond = vals["cond"]
    if cond is not None and cond._dtype is not D.bool_:
        cond = cond != 0
    out = []
    for r, _ in roles:
        gi = None
        if r in needed:
            gi = _formula(op.code, r)(g, vals["a"], vals["b"], vals["out"], imm, cond)
            if not isinstance(gi, Tensor):   # a constant gradient (zeros): no history
                gi = Tensor._wrap(np.full(g._shape, float(gi), g._dtype.np), g._dtype)
        out.append(gi)
    return out


def _members_grads(tape, n, g, members, kept=()):
    """{node: gradient} of the inputs of the node made of entries `members` (ascending, n
    last): their VJPs, newest first, as create_graph runs them.  A gradient is reduced to an
    entry's shape only where a structural VJP needs it: an elementwise entry passes it on
    unreduced, so an input's comes as torch's node gives it (`add(x, b)`: b's as x's).
    The members in `kept` (an argument's alias) keep theirs: it is that argument's."""
    adj = {n: g}
    for e in reversed(members):
        if e in kept:
            continue
        ge = adj.pop(e, None)
        if ge is None:
            continue
        op = BY_CODE[tape.op[e]]
        if op.kind == "pyfunc":
            raise NotImplementedError(f"calling {type(node_for(tape, n)).__name__} is not "
                                      f"supported by tapegrad")
        if op.kind in ("unary", "binary", "where"):
            roles = torch_roles(tape, e, op)
            pairs = [(k, gi) for (_, k), gi in zip(roles, _elementwise_grads(tape, e, op, roles,
                                                                             ge))
                     if gi is not None]
        else:
            pairs = _input_grads(tape, e, _sum_to(ge, tape.shape.get(e)))
        for node, gi in pairs:
            adj[node] = adj[node] + gi if node in adj else gi
    return adj


Node.__getattr__ = _saved_attr
Node.__dir__ = _node_dir
Node.__call__ = _call_node
Node._result_call = _result_call
