"""`grad_fn` objects: read-only views of tape entries, made on first access and cached.

There is no Python object graph behind the tape; these exist for inspection (`name()`,
`next_functions`, repr) exactly as torch exposes them.

A node refers to its tape; the tape refers to its nodes only weakly (`Tape.grad_fns`: node ->
weakref), so a graph dies by reference counting alone, as torch's.  What a node was given
when its entry was recorded (a class other than the one its opcode implies, torch's edges, a
custom Function's ctx state) is kept on the tape as data (`Tape.fn_data`: node -> (class,
data)), in which a node of the same tape is its number, never an object: a node made again
after the last reference to the old one went is the same view.
"""
import bisect
import weakref
from collections import namedtuple
from operator import itemgetter

import numpy as np

from . import groups
from .ops import BY_CODE, OPS, OUTPUT_CODE, saves_mask, saves_needed

_OP_CONST = OPS["const"].code

_classes = {}   # name -> its node class, in module builtins as torch's generated ones are
# tape -> {node: the dict its grad_fn's `metadata` returns} (weak: it lives as the tape does)
_METADATA = weakref.WeakKeyDictionary()
_CPP_NODES = {"CopySlices", "CopyBackwards", "AccumulateGrad"}


class Node:
    __slots__ = ("_tape", "_node", "__weakref__")

    def name(self):
        # torch's hand-written C++ nodes report their C++ name
        name = type(self).__name__
        return "torch::autograd::" + name if name in _CPP_NODES else name

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    @property
    def next_functions(self):
        tape, n = self._tape, self._node
        if groups.row_at(tape, n) >= 0:   # a decomposition: edges to its inputs
            return tuple((_input_fn(tape, node), 0) for node in groups.inputs(tape, n))
        op = BY_CODE[tape.op[n]]
        # where's condition is not an input that takes a gradient: torch lists self and other
        if op.kind == "cat":   # every operand: ia, ib, then the entry's arg list
            return tuple((_input_fn(tape, int(node)), output_nr(tape, int(node))) for node in
                         [tape.ia[n], tape.ib[n]][:1 + (tape.ib[n] >= 0)] + tape.args_of(n).tolist())
        return tuple((None, 0) if node < 0 else (_input_fn(tape, node), output_nr(tape, node))
                     for node in torch_inputs(tape, n, op))

    def _sequence_nr(self):
        """torch's creation order of nodes, an int (by which its engine runs the newest ready
        node first): the entries of older tapes first, then by entry (torch's numbers count
        every node a thread made, from 0)."""
        return (self._tape.serial << 32) + self._node

    @property
    def metadata(self):
        # kept per entry, not on this object: a grad_fn asked for again may be a new view
        tape = getattr(self, "_tape", None)
        if tape is None:   # (a Function's ctx before its entry is recorded)
            return self.__dict__.setdefault("_metadata", {})
        table = _METADATA.get(tape)
        if table is None:
            table = _METADATA[tape] = {}
        return table.setdefault(self._node, {})

    def _restore(self, data):
        """Take back the data recorded for this node's entry (Tape.fn_data)."""


class AccumulateGrad(Node):
    __slots__ = ()
    __module__ = "builtins"   # (torch's C++ node classes: type(fn).__module__ is builtins)

    def _sequence_nr(self):
        return (1 << 64) - 1   # (torch's: UINT64_MAX, run after every other node)

    @property
    def variable(self):
        return self._tape.leaves[self._node]

    @property
    def next_functions(self):
        return ()


_LEAF_NODES = {}   # id(leaf) -> weakref to its LeafAccumulateGrad


class LeafAccumulateGrad(AccumulateGrad):
    """A leaf's AccumulateGrad that no tape entry stands behind (get_gradient_edge of a leaf
    not used on a tape yet): shown as AccumulateGrad, `variable` the leaf."""
    __slots__ = ("_leaf", "_metadata")

    @classmethod
    def of(cls, leaf):
        """The leaf's node: the same object while one is alive, as torch's accumulator (the
        node holds the leaf; the table holds the node weakly)."""
        key = id(leaf)
        ref = _LEAF_NODES.get(key)
        fn = ref() if ref is not None else None
        if fn is None:
            fn = cls.__new__(cls)
            fn._tape, fn._node, fn._leaf, fn._metadata = None, -1, leaf, None

            def gone(ref, key=key, table=_LEAF_NODES):   # (the table: module globals go at exit)
                if table.get(key) is ref:
                    del table[key]
            _LEAF_NODES[key] = weakref.ref(fn, gone)
        return fn

    @property
    def variable(self):
        return self._leaf

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"

    @property
    def metadata(self):   # (no tape entry: the leaf's one node object keeps it)
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def name(self):
        return "torch::autograd::AccumulateGrad"


# (its class shown as torch's: `type(get_gradient_edge(x).node).__name__` is AccumulateGrad)
LeafAccumulateGrad.__name__ = LeafAccumulateGrad.__qualname__ = "AccumulateGrad"


class Edged(Node):
    """A decomposition's grad_fn whose edges are torch's inputs in torch's order, one per input
    (repeated inputs repeated, (None, 0) for one that needs no gradient), fixed when the
    decomposition was recorded (`edge_to`); the group's other faces read the tape as usual.
    `_edges` holds them as data (`edge_data`), made into nodes when asked for."""
    __slots__ = ("_edges",)

    @property
    def next_functions(self):
        return resolve_edges(self._tape, self._edges)

    def _restore(self, data):
        self._edges = data


def edge_data(tape, edges):
    """(grad_fn, output_nr) pairs as `tape` keeps them: a node of `tape` itself as its number
    (the tape must not refer to itself), a node of another tape or none as it is (an older
    tape, or a leaf's node, which refers to no tape)."""
    return tuple([(output_entry(tape, fn._node, nr), nr)
                  if fn is not None and getattr(fn, "_tape", None) is tape
                  else (fn, nr) for fn, nr in edges])


def resolve_edges(tape, data):
    """The (grad_fn, output_nr) pairs `edge_data` kept."""
    return tuple([(fn, nr) if fn is None or isinstance(fn, Node) else (node_for(tape, fn), nr)
                  for fn, nr in data])


def record_fn(tape, n, cls, data=None):
    """Entry n's grad_fn is of class `cls`, made with `data` (Node._restore): kept on the tape
    (as data, which must not refer to the tape) and cached (weakly) when a node of it is
    alive."""
    tape.fn_data[n] = (cls, data)
    ref = tape.grad_fns.pop(n, None)
    fn = ref() if ref is not None else None
    if fn is not None and type(fn) is cls:
        fn._restore(data)
        tape.grad_fns[n] = ref


def recorded_class(tape, n):
    """The class record_fn gave entry n, or None."""
    spec = tape.fn_data.get(n)
    return spec[0] if spec is not None else None


def seen_like(tape, n):
    """(dtype, shape) of the tensor last seen with entry n's node as its grad_fn (what a
    grad_fn hook's gradient looks like: the tape keeps no dtype per node), or None."""
    likes = tape.likes
    return likes.get(n) if likes is not None else None


def forget_fn(tape, n):
    """Entry n's grad_fn is made again from its entry (what record_fn gave it is dropped)."""
    tape.fn_data.pop(n, None)
    tape.grad_fns.pop(n, None)


_edged = {}


def edge_to(tape, t):
    """torch's next_functions entry for tensor t as an input of a node recorded on `tape`:
    (its grad_fn, output_nr), AccumulateGrad for a leaf used on `tape`, (None, 0) for what
    needs no gradient."""
    if not getattr(t, "_recorded", False):
        return (None, 0)
    if t._tape is not None:
        return (node_for(t._tape, t._node), output_nr(t._tape, t._node))
    if t._lserial == tape.serial:
        return (node_for(tape, t._lnode), 0)
    return (None, 0)


def torch_edges(name, operands):
    """torch's inputs of decomposition row `name`'s node (its `Op.edges`: NativeLayerNorm-
    Backward0's input, weight, bias; AddmmBackward0's bias, input, weight.t(); ...), or None
    (the group's inputs in first-use order, which would drop an argument that needs no
    gradient or is None, or reorder one)."""
    pos = OPS[name].edges
    return None if pos is None else [operands[i] for i in pos]


def show_edges(tape, n, inputs, name=None):
    """Entry n (a decomposition's output, or an op recorded as two entries) shows torch's
    edges: one per input in `inputs` (and torch's node name `name`, if given)."""
    record_fn(tape, n, _edged_class(name or entry_name(tape, n)),
              tuple([_edge_datum(tape, t) for t in inputs]))


def _edge_datum(tape, t):
    """edge_to(tape, t) as edge_data keeps it, made without a node object."""
    if t is None or not getattr(t, "_recorded", False):   # (None: no failed attribute lookup)
        return (None, 0)
    src = t._tape
    if src is tape:
        return (t._node, output_nr(tape, t._node))
    if src is not None:
        return (node_for(src, t._node), output_nr(src, t._node))
    if t._lserial == tape.serial:
        return (t._lnode, 0)
    return (None, 0)


def show_edge_pairs(tape, n, edges, name=None):
    """show_edges with the (grad_fn, output_nr) pairs given: an in-place op's result lists
    the tensor's grad_fn from before the op, which its entry has replaced."""
    record_fn(tape, n, _edged_class(name or entry_name(tape, n)), edge_data(tape, edges))


def _edged_class(name):
    cls = _edged.get(name)
    if cls is None:
        cls = _edged[name] = type(name, (Edged,), {"__slots__": (), "__module__": "builtins"})
    return cls


def _class(name):
    cls = _classes.get(name)
    if cls is None:
        cls = _classes[name] = type(name, (Node,), {"__slots__": (), "__module__": "builtins"})
    return cls


# tape -> {view entry: the AsStridedBackward0 shown for it once stale} (weak, as _METADATA)
_REGENERATED = weakref.WeakKeyDictionary()


def shown_node(tape, n, version, t=None):
    """The grad_fn torch shows for entry n of a tensor at `version` of its memory: n's node,
    or, for a view of a tensor that requires grad whose memory changed since the view was
    made by an op the tape has no entry for (its base changed under no_grad), torch's
    regenerated one, AsStridedBackward0, with the view's edge to its base (torch makes it
    again at the view's next use; the view's uses before the change keep the view's own)."""
    w = tape.versions.get(n)
    if w is None or w[1] == version or not tape._differentiable_view(n):
        return node_for(tape, n)
    if groups.row_at(tape, n) >= 0:   # (a decomposition's output entry, scatter_reduce_'s,
        return node_for(tape, n)        # made by a view op: no view)
    nodes = _REGENERATED.get(tape)
    if nodes is None:
        nodes = _REGENERATED[tape] = {}
    ref = nodes.get(n)
    fn = ref() if ref is not None else None
    if fn is None:
        fn = _RegeneratedView.__new__(_RegeneratedView)
        fn._tape, fn._node = tape, n
        nodes[n] = weakref.ref(fn)
    # (t's `_base` does not require grad: made again from it, the node has no edge)
    fn._cut = t is not None and tape.stale_view_without_grad(n, t)
    return fn


class _RegeneratedView(Node):
    """shown_node's AsStridedBackward0 for view entry `_node`: its one edge goes to the node
    of the tensor the view's chain of views starts from (torch's `_base`), not to the view
    it was made from (none where that tensor does not require grad: `_cut`)."""
    __slots__ = ("_cut",)

    @property
    def next_functions(self):
        if self._cut:
            return ((None, 0),)
        tape = self._tape
        src = tape.view_source(self._node)
        return ((_input_fn(tape, src), output_nr(tape, src)),)


_RegeneratedView.__name__ = _RegeneratedView.__qualname__ = "AsStridedBackward0"
_RegeneratedView.__module__ = "builtins"


def _input_fn(tape, node):
    kind = BY_CODE[tape.op[node]].kind
    if kind == "import":
        src, snode = tape.imports[node]
        w = tape.versions.get(node)   # (the version the import read)
        return node_for(src, snode) if w is None else shown_node(src, snode, w[1])
    if kind == "const":
        return None
    return node_for(tape, node)


_FOLDED_ENTRY = itemgetter(0)


def entry_name(tape, n):
    row = groups.row_at(tape, n)
    if row >= 0:
        return BY_CODE[row].grad_fn
    op = BY_CODE[tape.op[n]]
    if op.kind == "binary":
        return ((tape.ib[n] < 0 and number_name(tape, n, op, 1))
                or (tape.ia[n] < 0 and number_name(tape, n, op, 0)) or op.grad_fn)
    return op.grad_fn


def torch_inputs(tape, n, op):
    """Entry n's operand nodes in the order of torch's node inputs (next_functions,
    grad_inputs), -1 where torch's input takes no gradient (its `(None, 0)` edge); a number
    given to a scalar overload is no input of torch's node."""
    return [node for _, node in torch_roles(tape, n, op)]


def torch_roles(tape, n, op):
    """torch_inputs with the operand each input is: [(0 for a / 1 for b, node)]."""
    nodes = ([int(tape.ia[n]), int(tape.ib[n])]
             if op.kind in ("binary", "matmul", "where", "lerp", "addc")
             or (op.kind == "linalg" and tape.ib[n] >= 0) else [int(tape.ia[n])])
    names = [number_name(tape, n, op, i) if node < 0 else "" for i, node in enumerate(nodes)]
    roles = [0, 1]
    if _swapped(tape, n, op):
        nodes, names, roles = nodes[::-1], names[::-1], roles[::-1]
    return [(role, node) for role, node, name in zip(roles, nodes, names)
            if node >= 0 or not name]


def _swapped(tape, n, op):
    """Whether torch's node takes entry n's operands in the other order: `2 * b` is
    b.mul(2) in torch (self b, other 2)."""
    return (op.kind == "binary" and tape.ia[n] < 0 <= tape.ib[n] and not op.grad_fn_scalar_a
            and not folded(tape, n, 0))


def folded(tape, n, i):
    """Whether operand i (a: 0, b: 1) of entry n is a one-element constant tensor folded into
    the entry's imm (Tape.watch_folded; the list is in entry order)."""
    return bool(tape.folded) and folded_record(tape, n, i) is not None


def folded_record(tape, n, i):
    """Tape.watch_folded's record (entry, bit, counter, version, dtype, shape) of operand i
    of entry n, or None."""
    fold = tape.folded
    bit = 1 << i
    k = bisect.bisect_left(fold, n, key=_FOLDED_ENTRY)
    while k < len(fold) and fold[k][0] == n:
        if fold[k][1] == bit:
            return fold[k]
        k += 1
    return None


def number_name(tape, n, op, i):
    """The grad_fn name of torch's scalar overload when operand i of entry n (op `op`) is a
    number (`2 - x`: RsubBackward1), or "" where torch's node takes a tensor there: the op has
    no such overload, or the number is a folded one-element tensor (`c - x` with c a tensor:
    SubBackward0, whose edge for c is (None, 0))."""
    name = op.grad_fn_scalar_a if i == 0 else op.grad_fn_scalar_b
    return "" if not name or folded(tape, n, i) else name


def name_entry(tape, n, name):
    """Give entry n the grad_fn class `name` (instead of the one its operands imply)."""
    record_fn(tape, n, _class(name))


def output_nr(tape, n):
    """Which output of its grad_fn node n is: an `output` entry's imm; an entry that is one
    output of torch's node of several its row's `torch_output` (slogdet's logabsdet, 1;
    svdvals' S, 1); 0 elsewhere."""
    op = tape.op[n]
    if op == OUTPUT_CODE:
        return int(tape.imm[n])
    if op == _IMPORT:   # (a node of an older tape, read on this one)
        src, snode = tape.imports[n]
        return output_nr(src, snode)
    return _TORCH_OUTPUT[op]


_TORCH_OUTPUT = [op.torch_output for op in BY_CODE]
_IMPORT = OPS["import"].code
SLOGDET, SLOGDET_SIGN = OPS["slogdet"].code, OPS["slogdet_sign"].code


def _det_input(tape, s):
    """The node of A that slogdet's sign entry s shows its edge to (its operand is a constant
    of A's value, but while tracing, when it reads A's node)."""
    en = tape.edge_nodes
    return int(en[s][0]) if en is not None and s in en else int(tape.ia[s])


def node_outputs(tape, n):
    """The entries that are the outputs of entry n's torch node, n among them, in output
    order, where that node has several: a split's (unbind's, var_mean's, a custom
    Function's) `output` entries, slogdet's sign and log|det|; () for any other entry."""
    op = tape.op[n]
    if op == OUTPUT_CODE:
        parent = int(tape.ia[n])
        out, m = [], parent + 1
        while m < tape.n and tape.op[m] == OUTPUT_CODE and tape.ia[m] == parent:
            out.append(m)
            m += 1
        return tuple(out)
    other = sibling(tape, n) if op in (SLOGDET, SLOGDET_SIGN) else -1
    if other < 0:
        return ()
    return (n, other) if op == SLOGDET_SIGN else (other, n)


def sibling(tape, n):
    """The entry that is the other output of entry n's torch node LinalgSlogdetBackward0:
    linalg.slogdet records the sign, then log|det| right after it (after A's leaf entry
    where A is first used there); -1 for any other entry."""
    op = tape.op[n]
    if op == SLOGDET_SIGN:
        for m in (n + 1, n + 2):
            if m < tape.n and tape.op[m] == SLOGDET and int(tape.ia[m]) == _det_input(tape, n):
                return m
    elif op == SLOGDET:
        for m in (n - 1, n - 2):
            if m >= 0 and tape.op[m] == SLOGDET_SIGN and _det_input(tape, m) == int(tape.ia[n]):
                return m
    return -1


def output_entry(tape, n, nr):
    """The entry holding output `nr` of entry n's node: n, or its sibling (slogdet's sign is
    output 0 of the node logabsdet's grad_fn shows)."""
    if nr != _TORCH_OUTPUT[tape.op[n]]:
        m = sibling(tape, n)
        if m >= 0 and _TORCH_OUTPUT[tape.op[m]] == nr:
            return m
    return n


def node_for(tape, n):
    if tape.op[n] == OUTPUT_CODE:   # one output of a multi-output entry: that entry's node
        return node_for(tape, int(tape.ia[n]))
    ref = tape.grad_fns.get(n)
    fn = ref() if ref is not None else None
    if fn is None:
        if tape.op[n] == SLOGDET_SIGN and sibling(tape, n) >= 0:
            # torch's one node of slogdet's two outputs: logabsdet's, shown by both
            fn = node_for(tape, sibling(tape, n))
            tape.grad_fns[n] = weakref.ref(fn)
            return fn
        spec = tape.fn_data.get(n)
        if spec is not None:
            fn = spec[0].__new__(spec[0])
            fn._restore(spec[1])
        elif BY_CODE[tape.op[n]].kind == "leaf":
            fn = AccumulateGrad.__new__(AccumulateGrad)
        elif tape.edge_nodes is not None and n in tape.edge_nodes:
            # a group written by nn/_onepass.py: the edges decomps.record shows with
            # show_edges, made here on first access instead of on every call
            cls = _edged_class(entry_name(tape, n))
            fn = cls.__new__(cls)
            fn._edges = edge_data(tape, (
                (None, 0) if k < 0 else (_input_fn(tape, k), output_nr(tape, k))
                for k in tape.edge_nodes[n]))
        else:
            fn = _class(entry_name(tape, n)).__new__(_class(entry_name(tape, n)))
        fn._tape = tape
        fn._node = n
        tape.grad_fns[n] = weakref.ref(fn)
    return fn


# -- read-only facts for tapegrad.viz and tapegrad.tape_summary ------------------------------
# (the only place outside tape.py that reads the tape's streams for inspection, so a change of
# the tape's layout is absorbed here)

_ROLE_NAMES = {"a": "self", "b": "other", "out": "result", "cond": "mask"}
Saved = namedtuple("Saved", "name shape value alive node")
# One `_saved_<name>` field of a grad_fn's class (torch's fields are per class: `x * 2`'s
# MulBackward0 has `_saved_self`, None there): `role` is the value's place on the tape ("a",
# "b", "out", "cond"; "c" for pow's exponent parameter), `saved` its Saved, or None where
# this node does not save it.
Field = namedtuple("Field", "name role saved")


def _needs_grad(tape, node):
    return node >= 0 and BY_CODE[tape.op[node]].kind != "const"


def saved_buffers(fn):
    """What grad_fn `fn`'s backward reads, named as torch's `_saved_*` attributes:
    a list of `Saved(name, shape, value, alive, node)`.  shape is the saved tensor's shape,
    None for a one-element value whose shape the tape does not keep; a Python-number operand
    comes with shape None, its value and node -1.  node identifies the saved value on fn's
    tape (two roles with one node save the same tensor, as in `x * x`).
    alive is False once a backward without retain_graph has freed the entry's buffers."""
    return [f.saved for f in saved_fields(fn)
            if f.saved is not None and f.role not in ("arg", "arg_t")]


def saved_fields(fn):
    """torch's `_saved_*` fields of grad_fn `fn`'s class that the tape holds, as `Field`s in
    saved_buffers' order (saved None where fn saves nothing under that name)."""
    tape, n = fn._tape, fn._node
    if isinstance(fn, AccumulateGrad):
        return []
    row = groups.row_at(tape, n)
    rename = dict(BY_CODE[row if row >= 0 else tape.op[n]].saved_names)
    if row >= 0:
        ins = groups.inputs(tape, n)
        return [Field(name, role, s._replace(name=name)) for role, s in _group_saved(tape, n)
                for name in (rename.get(s.name, s.name),) if name is not None] + \
            _arg_fields(tape, n, BY_CODE[row], {"self": ins[0] if len(ins) else -1,
                                                "result": n}, not is_freed_group(tape, n))
    op = BY_CODE[tape.op[n]]
    if not op.saves:
        return _arg_fields(tape, n, op, _role_nodes(tape, n, op, rename), True)
    ia, ib = int(tape.ia[n]), int(tape.ib[n])
    fields = bits = saves_mask(op)
    if op.kind == "binary":   # a number given to a scalar overload: that class's fields
        if ib < 0 and number_name(tape, n, op, 1):
            fields = saves_needed(op)[0]
        elif ia < 0 and number_name(tape, n, op, 0):
            fields = saves_needed(op)[1]
    if op.kind in ("unary", "binary", "where", "matmul"):
        live = (_needs_grad(tape, ia), op.kind in ("binary", "matmul", "where")
                and _needs_grad(tape, ib))
        if any(live):
            bits = saves_needed(op)[{(True, False): 0, (False, True): 1}.get(live, 2)]
    bits &= fields
    alive = not tape.freed[n]
    cond = int(tape.args_of(n)[0]) if bits & 8 and len(tape.args_of(n)) else -1
    names = dict(_ROLE_NAMES)
    if _swapped(tape, n, op):
        names["a"], names["b"] = "other", "self"
    out = []
    kept = kept_args(tape, n)
    for role, bit, node in (("a", 1, ia), ("b", 2, ib), ("out", 4, n), ("cond", 8, cond)):
        name = names[role]
        name = rename.get(name, name)
        if not fields & bit or name is None:
            continue
        if not bits & bit:
            out.append(Field(name, role, None))
        elif node < 0:
            # (a number operand as the call gave it, where the entry holds it rounded:
            # float32 clamp_min's bound)
            value = kept[name] if name in kept else float(tape.imm[n])
            out.append(Field(name, role, Saved(name, None, value, alive, -1)))
        else:
            out.append(Field(name, role, Saved(name, node_shape(tape, node), None, alive, node)))
    if op.saved_c in kept:   # (as the call gave it: elu's alpha 1.0 a float, 2 an int)
        out.append(Field(op.saved_c, "arg", Saved(op.saved_c, None, kept[op.saved_c], alive,
                                                  -1)))
    elif op.saved_c:   # the entry's parameter (pow's exponent), saved by torch too
        out.append(Field(op.saved_c, "c", Saved(op.saved_c, None, float(tape.imm[n]), alive,
                                                -1)))
    out.extend(Field(name, "c", Saved(name, None, value, alive, -1))
               for name, value in op.saved_consts)
    return out + _arg_fields(tape, n, op, _role_nodes(tape, n, op, rename), alive)


# the value of a saved argument the tape does not have: no such field is shown (torchviz's
# show_saved reads every `_saved_*` name dir() lists)
_UNKNOWN = object()


# an undefined tensor argument (a loss's weight None): torch's node saves it, None when read
NO_TENSOR = object()


def _holds_tensor(value):
    """Whether a kept argument is a tensor, or a tuple holding one (x[idx]'s indices)."""
    return hasattr(value, "_tape") or type(value) is tuple and any(
        hasattr(v, "_tape") for v in value)


class SavedNode:
    """A tensor argument torch's node saves, kept as its node on the tape
    (recording.keep_tensor_args)."""
    __slots__ = ("node",)

    def __init__(self, node):
        self.node = node


def _role_nodes(tape, n, op, rename):
    """{torch's name of entry n's tensor fields: its node}: its operands and result."""
    names = dict(_ROLE_NAMES)
    if _swapped(tape, n, op):
        names["a"], names["b"] = "other", "self"
    return {rename.get(names[role], names[role]): node for role, node in
            (("a", int(tape.ia[n])), ("b", int(tape.ib[n])), ("out", n))}


def kept_args(tape, n):
    """{name: value} of the arguments entry n's call kept (recording.keep_args), worked out
    here where the call kept (f, *a) (a view's: views._view_args)."""
    kept = tape.call_args.get(n) if tape.call_args is not None else None
    if kept is None:
        return {}
    return kept[0](*kept[1:]) if type(kept) is tuple else kept


def _arg_fields(tape, n, op, nodes, alive):
    """Fields of op's saved_args for entry n (role "arg"; "arg_t" for a tensor argument,
    NO_TENSOR's for an undefined one: torch lists its SavedTensor): a size of the field whose
    node `nodes` names, read from the tape; else what the call kept (recording.keep_args),
    the row's value; none where the tape has none of these (a call that kept nothing: an
    entry made by another writer of the row, a traced guard recorded after it)."""
    cls = recorded_class(tape, n)
    if not op.saved_args or cls is not None and cls.__name__ not in (
            op.grad_fn, op.grad_fn_scalar_a, op.grad_fn_scalar_b):
        return []   # (none, or the entry shown as another class: DivBackward2 over an add)
    kept = kept_args(tape, n)
    out = []
    for spec in op.saved_args:
        name, value = (spec, _UNKNOWN) if isinstance(spec, str) else spec
        if name in kept:
            value = kept[name]
        elif name.endswith(("_sym_sizes", "_sym_numel")):
            field, _, what = name.rpartition("_sym_")
            node = nodes.get(field, -1)
            shape = known_shape(tape, node) if node >= 0 else None
            value = _UNKNOWN if shape is None else \
                tuple(shape) if what == "sizes" else int(np.prod(shape, dtype=np.int64))
        if value is _UNKNOWN:
            continue
        if isinstance(value, SavedNode):   # (a tensor of this tape: node_api reads it)
            out.append(Field(name, "arg_t", Saved(name, node_shape(tape, value.node), None,
                                                  alive, value.node)))
        elif value is NO_TENSOR:
            out.append(Field(name, "arg_t", Saved(name, None, None, alive, -1)))
        else:
            out.append(Field(name, "arg_t" if _holds_tensor(value) else "arg",
                             Saved(name, None, value, alive, -1)))
    return out


def _group_saved(tape, n):
    """(role, Saved) pairs of a decomposition's grad_fn: what torch's node saves (the row's
    `saves`: its input as self, its result), alive until a member's buffers are freed."""
    op = BY_CODE[groups.row_at(tape, n)]
    alive = not is_freed_group(tape, n)
    self_node = group_saved_inputs(tape, n)[0]
    out = []
    if self_node >= 0:
        out.append(("a", Saved("self", node_shape(tape, self_node), None, alive, self_node)))
    if "out" in op.saves:
        out.append(("out", Saved("result", node_shape(tape, n), None, alive, n)))
    out.extend(("c", Saved(name, None, float(tape.imm[m]), alive, -1))
               for name, m in zip(op.member_cs, groups.members(tape, n)))
    return out


def edge_nodes(tape, n):
    """The nodes of `tape` that entry n's torch edges (show_edges, nn/_onepass's) lead to,
    in next_functions' order, -1 for an edge to nothing or to no node read from this tape
    (a leaf not used on it); None where entry n's node shows no such edges."""
    if tape.edge_nodes is not None and n in tape.edge_nodes:
        return [int(k) for k in tape.edge_nodes[n]]
    spec = tape.fn_data.get(n)
    # (a class keeping its edges as data: Edged, copyslices.CopySlices and theirs)
    if spec is None or not any("_edges" in vars(c).get("__slots__", ()) for c in spec[0].__mro__):
        return None
    nodes = []
    for fn, nr in spec[1]:
        if fn is None or isinstance(fn, Node):   # (a node of another tape: its import here)
            src = getattr(fn, "_tape", None)
            nodes.append(-1 if src is None else tape.import_of.get(
                (src.serial, output_entry(src, fn._node, nr)), -1))
        else:
            nodes.append(int(fn))
    return nodes


def node_edges(tape, n):
    """The nodes of `tape` the edges of entry n's node lead to, in next_functions' order (-1:
    an edge to nothing), where that node is made of several entries or takes an operand
    list (a decomposition's output, an op shown with torch's edges, a cat); None for a node
    whose edges are entry n's own operands (torch_inputs)."""
    edges = edge_nodes(tape, n)
    if edges is None and groups.row_at(tape, n) >= 0:
        edges = groups.inputs(tape, n)
    if edges is None and BY_CODE[tape.op[n]].kind == "cat":
        edges = [int(tape.ia[n])] + [int(tape.ib[n])] * (tape.ib[n] >= 0) + \
            tape.args_of(n).tolist()
    return edges


def node_members(tape, n, edges):
    """The entries entry n's node is made of (ascending, n last), `edges` its node_edges."""
    if groups.row_at(tape, n) >= 0:
        return groups.members(tape, n).tolist()
    return members_above(tape, n, set(edges))


def members_above(tape, n, stops):
    """The entries a node shown with torch's edges (an op recorded as several entries: alpha
    times other, CopySlices) is made of: those entry n reads, back to the nodes its edges lead
    to (`stops`) and to inputs (a few entries: Python per call)."""
    found, todo = set(), [n]
    while todo:
        e = todo.pop()
        if e in found or e in stops or BY_CODE[tape.op[e]].kind in ("leaf", "import", "const"):
            continue
        found.add(e)
        if len(found) > _MEMBERS_MAX:
            raise NotImplementedError(f"calling {type(node_for(tape, n)).__name__} is not "
                                      f"supported by tapegrad")
        todo += [k for k in (int(tape.ia[e]), int(tape.ib[e])) if k >= 0]
        todo += tape.args_of(e).tolist()
    return sorted(found)


_MEMBERS_MAX = 32
_ALIAS = OPS["alias"].code


def slot_nodes(tape, edges, members):
    """The nodes whose gradients are those of the node's inputs, one per edge in `edges`
    (node_edges, with a tensor given as two arguments twice: x.addcmul(y, y)): the edge's
    node, but for each repeat of a node the alias entry decomps.distinct recorded for it
    among the node's `members` (ascending), in order.  None where a repeat has none (a
    writer that did not record one): its gradients are summed in one node."""
    out, aliases = [], None
    for i, k in enumerate(edges):
        if k < 0 or k not in edges[:i]:
            out.append(k)
            continue
        if aliases is None:
            aliases = [m for m in members if tape.op[m] == _ALIAS]
        m = next((m for m in aliases if int(tape.ia[m]) == k), None)
        if m is None:
            return None
        aliases.remove(m)
        out.append(m)
    return out


def group_saved_inputs(tape, n, needed=False, changed=None):
    """The nodes of the decomposition whose output is entry n that torch's node saves as
    `self` and `other` (the row's saves "a", "b"), -1 where it saves none or the tape has
    no node for it: self is the first input the group reads, if that is torch's first edge
    (self needs a gradient); other is torch's second edge, for a row that lists them.  A
    role its saved_names map to None is not saved (lerp's, addcmul's self).  `needed`: only
    what torch saves given which inputs need a gradient (`Op.saves_cross`).  `changed` (bool
    per node): a saved input that needs no gradient (an edge to nothing: a loss's target) is
    a constant member of the group, which torch saves all the same: one whose value changed,
    if any (the group's other constants are its own, which no user changes)."""
    op = BY_CODE[groups.row_at(tape, n)]
    names = dict(op.saved_names)
    want_a = "a" in op.saves and names.get("self", "self") is not None
    want_b = "b" in op.saves and names.get("other", "other") is not None
    if not want_a and not want_b:
        return -1, -1
    ins = groups.inputs(tape, n)
    edges = edge_nodes(tape, n) if op.edges is not None else None
    if edges is not None and 0 in op.edges:
        # the first input read is torch's self only if self needs a gradient (its edge)
        ins = ins if edges[op.edges.index(0)] == (ins[0] if ins else -1) else []
    a = ins[0] if want_a and ins else -1
    b = edges[op.edges.index(1)] if want_b and edges is not None and 1 in op.edges else -1
    # (an input without a node here needs no gradient, or is on another tape)
    a_edge = edges[op.edges.index(0)] if edges is not None and 0 in op.edges else a
    b_edge = b
    if changed is not None and edges is not None and (
            want_a and a_edge < 0 or want_b and 1 in op.edges and b < 0):
        mem = groups.members(tape, n)
        consts = [m for m in mem[np.asarray(tape.op)[mem] == _OP_CONST].tolist() if changed[m]]
        if consts:
            if want_a and a_edge < 0:
                a = consts[0]
            else:
                b = consts[0]
    if needed and op.saves_cross:
        a, b = (a if b_edge >= 0 else -1), (b if a_edge >= 0 else -1)
    return a, b


def is_freed_group(tape, n):
    return bool(np.asarray(tape.freed)[groups.members(tape, n)].any())


def node_shape(tape, node):
    """A node's shape; for a one-element node the tape keeps none (the sweep treats it as
    0-d), so it is known only for leaves and values entered for the version check."""
    if node in tape.shape:
        return tuple(tape.shape[node])
    if node in tape.leaves:
        return tuple(tape.leaves[node].shape)
    if node in tape.versions:
        return tuple(tape.versions[node][3])
    return None


def known_shape(tape, node):
    """node_shape, or for a one-element node the shape of a tensor of it that the tape can
    still see: one with hooks, one seen with its grad_fn, a retained one (None: none is)."""
    shape = node_shape(tape, node)
    if shape is not None:
        return shape
    h = (tape.hooks or {}).get(node)
    if h is not None:
        return tuple(h.shape)
    like = seen_like(tape, node)
    if like is not None:
        return tuple(like[1])
    ref = tape.retained.get(node)
    t = ref() if ref is not None else None
    if t is not None:
        return tuple(t._shape)
    return _broadcast_shape(tape, node, _LOOK_BACK)


# entries _broadcast_shape follows back (it runs per one-element gradient a hook is shown)
_LOOK_BACK = 16


def _broadcast_shape(tape, node, depth, memo=None):
    """The shape of one-element elementwise node `node` (`(x * 1.0)` with x of shape (1, 1), a
    temporary no tensor shows) as its operands broadcast it: all ones, as many dims as its
    operand of most dims whose shape the tape knows (a Python number, in `imm`, has none), or
    None where one is unknown within `depth` entries back.  `memo`: the nodes already
    answered in this call (a graph that reads one node twice is walked once)."""
    if depth <= 0 or node < 0 or BY_CODE[tape.op[node]].kind not in ("unary", "binary", "where"):
        return None
    memo = {} if memo is None else memo
    if node in memo:
        return memo[node]
    nodes = {int(tape.ia[node]), int(tape.ib[node])}
    if BY_CODE[tape.op[node]].kind == "where" and len(tape.args_of(node)):
        nodes.add(int(tape.args_of(node)[0]))
    dims = 0
    for k in nodes:
        if k < 0:
            continue
        shape = node_shape(tape, k)
        if shape is None:
            h = (tape.hooks or {}).get(k)
            like = seen_like(tape, k)
            shape = tuple(h.shape) if h is not None else tuple(like[1]) if like is not None \
                else _broadcast_shape(tape, k, depth - 1, memo)
        if shape is None:
            memo[node] = None
            return None
        dims = max(dims, len(shape))
    memo[node] = (1,) * dims
    return memo[node]


def is_freed(fn):
    """Whether a backward without retain_graph has released `fn`'s saved buffers."""
    if groups.row_at(fn._tape, fn._node) >= 0:
        return is_freed_group(fn._tape, fn._node)
    return bool(fn._tape.freed[fn._node])


def retained_tensor(fn):
    """The live non-leaf tensor made by `fn` that called retain_grad(), else None."""
    ref = fn._tape.retained.get(fn._node)
    return ref() if ref is not None else None


def tape_of(tensor):
    """The tape that recorded `tensor` (None for a leaf)."""
    return tensor._tape


def tape_stats(tape):
    """A dict of facts about one tape: entries by opcode name, leaves, n-d nodes, entries that
    save buffers (alive / freed), bytes held by the streams and by saved n-d arrays."""
    n = tape.n
    ops, freed = np.asarray(tape.op[:n]), np.asarray(tape.freed[:n])
    shown = groups.shown_opcodes(tape, n)   # a decomposition counts once, as its row
    counts = np.bincount(shown[shown >= 0], minlength=len(BY_CODE)) if n else ()
    saves = np.array([bool(op.saves) for op in BY_CODE])[ops.astype(np.int64)] if n else ()
    by_op = {BY_CODE[code].name: int(k) for code, k in enumerate(counts) if k}
    stream_bytes = sum(a.nbytes for a in tape._arrays) if tape._arrays is not None else 0
    nds = tape.nds
    saved = [a for a in nds.objs[:nds.nobjs] if a is not None] if nds is not None else []
    if nds is not None:   # the n-d streams: per-node arrays and the params array
        stream_bytes += sum(getattr(nds, k).nbytes for k in
                            ("size", "nd", "shp", "par", "npar", "slot", "nsaved", "host",
                             "arg_ptr", "arg"))
    return {"serial": tape.serial, "entries": n, "capacity": tape.cap, "by_op": by_op,
            "leaves": len(tape.leaves), "nd_nodes": len(tape.shape),
            "saving_entries_alive": int(np.count_nonzero(saves & (freed == 0))) if n else 0,
            "saving_entries_freed": int(np.count_nonzero(saves & (freed != 0))) if n else 0,
            "saved_arrays": len(saved),
            "saved_bytes": sum(a.nbytes for a in saved),
            "stream_bytes": stream_bytes,
            "param_bytes": nds.params.nbytes if nds is not None else 0,
            "sealed": tape.sealed, "frozen": tape.frozen}
