"""`grad_fn` objects: read-only views of tape entries, made on first access and cached.

There is no Python object graph behind the tape; these exist for inspection (`name()`,
`next_functions`, repr) exactly as torch exposes them.
"""
from ..ops import BY_CODE

_classes = {}
_CPP_NODES = {"CopySlices", "CopyBackwards"}


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
        op = BY_CODE[tape.op[n]]
        # where's condition is not an input that takes a gradient: torch lists self and other
        roles = ([tape.ia[n], tape.ib[n]] if op.kind in ("binary", "matmul", "where")
                 else [tape.ia[n]])
        out = []
        for i, node in enumerate(roles):
            if node < 0:
                scalar_name = op.grad_fn_scalar_a if i == 0 else op.grad_fn_scalar_b
                if not scalar_name:
                    out.append((None, 0))
                continue
            out.append((_input_fn(tape, node), 0))
        return tuple(out)

    @property
    def metadata(self):
        return {}


class AccumulateGrad(Node):
    __slots__ = ()

    @property
    def variable(self):
        return self._tape.leaves[self._node]

    @property
    def next_functions(self):
        return ()


def _class(name):
    cls = _classes.get(name)
    if cls is None:
        cls = _classes[name] = type(name, (Node,), {"__slots__": ()})
    return cls


def _input_fn(tape, node):
    kind = BY_CODE[tape.op[node]].kind
    if kind == "import":
        src, snode = tape.imports[node]
        return node_for(src, snode)
    if kind == "const":
        return None
    return node_for(tape, node)


def entry_name(tape, n):
    op = BY_CODE[tape.op[n]]
    if op.kind == "binary":
        if tape.ib[n] < 0 and op.grad_fn_scalar_b:
            return op.grad_fn_scalar_b
        if tape.ia[n] < 0 and op.grad_fn_scalar_a:
            return op.grad_fn_scalar_a
    return op.grad_fn


def name_entry(tape, n, name):
    """Give entry n the grad_fn class `name` (instead of the one its operands imply)."""
    fn = _class(name).__new__(_class(name))
    fn._tape, fn._node = tape, n
    tape.grad_fns[n] = fn


def node_for(tape, n):
    fn = tape.grad_fns.get(n)
    if fn is None:
        kind = BY_CODE[tape.op[n]].kind
        if kind == "leaf":
            fn = AccumulateGrad.__new__(AccumulateGrad)
        else:
            fn = _class(entry_name(tape, n)).__new__(_class(entry_name(tape, n)))
        fn._tape = tape
        fn._node = n
        tape.grad_fns[n] = fn
    return fn
