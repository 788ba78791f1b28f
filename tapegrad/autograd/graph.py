"""`tapegrad.autograd.graph`, torch's public module of that name: `Node`, the base class of
every `grad_fn` (its views of tape entries live in `tapegrad.graph`), `increment_version`,
`GradientEdge` / `get_gradient_edge` and `register_multi_grad_hook`."""
import threading
import weakref
from typing import NamedTuple, Optional

import numpy as np

from .. import hooks
from ..engine import leaf_executes, node_executes
from ..graph import (AccumulateGrad, LeafAccumulateGrad, Node, output_entry, output_nr,
                     seen_like)
from ..hooks import RemovableHandle, current_task
from ..ops import BY_CODE, OUTPUT_CODE
from ..tape import bump_version
from ..tensor import RETAINS, Tensor
from .unsupported import (allow_mutation_on_saved_tensors, disable_saved_tensors_hooks,
                          save_on_cpu, saved_tensors_hooks)

__all__ = ["Node", "GradientEdge", "get_gradient_edge", "increment_version",
           "register_multi_grad_hook", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks", "allow_mutation_on_saved_tensors"]


def increment_version(tensor):
    """Count an in-place change of `tensor` (or of each tensor of an iterable) that autograd
    did not see, as torch's: a backward that reads the value it had raises the "modified by an
    inplace operation" error."""
    if isinstance(tensor, Tensor):
        tensor = (tensor,)
    try:
        items = iter(tensor)
    except TypeError:   # (torch's binding: its own RuntimeErrors)
        raise RuntimeError("increment_version expect a Iterable[Tensor] as input") from None
    for t in items:
        if not isinstance(t, Tensor):
            raise RuntimeError("increment_version expects each element of the iterable to be "
                               "a tensor")
        bump_version(t)


# ---- gradient edges ----------------------------------------------------------------------------
class GradientEdge(NamedTuple):
    """An edge of the backward graph: `node` (a grad_fn, or a leaf's AccumulateGrad) and which
    of its outputs (`output_nr`).  autograd.grad and backward take one where they take a
    tensor: the gradient is the one flowing into that node, even after the tensor it came
    from was changed in place."""
    node: Node
    output_nr: int
    ownership_token: Optional[Node] = None


def get_gradient_edge(tensor):
    """The GradientEdge where `tensor`'s gradient is computed: its grad_fn and output_nr, or
    its AccumulateGrad for a leaf."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    if tensor._tape is None:
        return GradientEdge(LeafAccumulateGrad.of(tensor), 0)
    return GradientEdge(tensor.grad_fn, tensor.output_nr)


class _EdgeStandIn(Tensor):
    """The tensor a non-leaf GradientEdge stands for in one backward call: the node's tape
    entry with the gradient's dtype and shape (never returned to the user; retains nothing)."""
    __slots__ = ()


def edge_tensor(edge):
    """The tensor for GradientEdge `edge` in autograd.grad / backward: the leaf of an
    AccumulateGrad, else a stand-in on the node's entry (output_nr's piece of a split)."""
    node, k = edge.node, edge.output_nr
    if isinstance(node, AccumulateGrad):
        return node.variable
    if not isinstance(node, Node):
        raise TypeError(f"GradientEdge.node must be a Node, got {type(node).__name__}")
    tape, n = node._tape, node._node
    like = seen_like(tape, n)                # (dtype, shape) of the tensor it was taken from
    if BY_CODE[tape.op[n]].kind == "split":  # each piece is an output entry after it
        op, ia, _, imm, _ = tape.streams(tape.n)
        hits = np.flatnonzero((op == OUTPUT_CODE) & (ia == n) & (imm == k))
        if not len(hits):
            raise RuntimeError(f"GradientEdge: {node.name()} has no output {k}")
        n = int(hits[0])
        dtype, shape = like[0], tuple(tape.shape.get(n, ()))
    elif k != output_nr(tape, output_entry(tape, n, k)):
        # (slogdet's node: logabsdet output 1, its sign, an entry of its own, output 0)
        raise RuntimeError(f"GradientEdge: {node.name()} has one output, not output {k}")
    else:
        _, _, dtype, shape = hooks.gradient_like(node, "GradientEdge")
        n = output_entry(tape, n, k)   # (slogdet's sign: logabsdet's dtype and shape)
    t = type.__call__(_EdgeStandIn)   # (Tensor's metaclass call is the factory)
    t._v = np.zeros(shape, dtype.np)
    t._dtype, t._shape, t._tape, t._node, t._recorded = dtype, shape, tape, n, True
    t._flags = RETAINS      # (retain_grad, which backward(inputs=...) calls, does nothing)
    return t


# ---- multi-grad hooks --------------------------------------------------------------------------
class _MultiHandle(RemovableHandle):
    """register_multi_grad_hook's handle: `remove()` takes out the hook of every tensor."""
    __slots__ = ("handles",)

    def __init__(self, handles):
        self.handles = handles

    def remove(self):
        for handle in self.handles:
            handle.remove()


def _target(t):
    """What decides whether t's hook runs in a backward: (None, leaf) or (weakref to the
    tape, node): the hooks live on that tape (tape.hooks), which must not refer to itself
    through them, so that the graph dies by reference counting."""
    return (None, t) if t._tape is None else (weakref.ref(t._tape), t._node)


def _executes(task, target):
    tape, node = target
    if tape is None:
        return leaf_executes(task, node)
    tape = tape()
    return tape is not None and node_executes(task, tape, node)


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """Register `fn` on several tensors.  mode "all": called once per backward, after the
    gradients of every tensor the backward computes (those it does not reach, or, with
    `inputs`, that lead to none of them, are not waited for), with the list of gradients
    (None where not computed).  mode "any": called with the first gradient computed among
    them.  Returns a handle whose `remove()` takes the hook out.

    A backward that starts before the hook is registered (a hook registered from inside
    another hook) does not call it."""
    supported = ("all", "any")
    if mode not in supported:
        raise ValueError(f"Expects mode to be one of {supported} but got {mode}")
    lock = threading.Lock()
    key = hooks.new_multi_hook_key()  # this hook's progress in a backward: task.state[key]

    if mode == "all":
        for t in tensors:
            if not t.requires_grad:   # (torch: no grad_fn or grad accumulator to hook)
                raise AssertionError("Expected gradient function to be set")
        targets = [_target(t) for t in tensors]
        count = len(tensors)

        def inner(idx):
            def hook(grad):
                task = current_task()
                if task is None:
                    return
                with lock:
                    state = task.state.get(key)
                    if state is None:   # the first gradient of this backward: how many come
                        expected = sum(_executes(task, target) for target in targets)
                        state = task.state[key] = [0, expected, [None] * count]
                    state[0] += 1
                    state[2][idx] = grad
                    done = state[0] == state[1]
                if done:
                    del task.state[key]
                    fn(state[2])
            return hook
        handles = tuple(t.register_hook(inner(i)) for i, t in enumerate(tensors))
    else:
        def first(grad):
            task = current_task()
            if task is None:
                return
            with lock:
                if key in task.state:
                    return
                task.state[key] = True
            fn(grad)
        handles = tuple(t.register_hook(first) for t in tensors if t.requires_grad)
    return _MultiHandle(handles)
