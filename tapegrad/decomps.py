"""Decomposition rows: ops recorded as primitives that still show as torch's one grad_fn.

A row of kind "decomp" in tapegrad/ops.py (`logsumexp` here; softmax and log_softmax are
entries of their own kind, tapegrad/kinds/softmax.py) has its body here: a function of tensor
ops, so its forward, gradient, create_graph derivatives of any order, replay and tape files
are those of the primitives, with nothing written twice.
`record` runs a body and marks the entries it appended as one group (tapegrad/groups.py):
the result's grad_fn is the row's (`LogsumexpBackward0`), its next_functions lead to the
body's inputs, and the internal entries are invisible (viz, tape_summary).

The bodies take `T` (views.KIND_OPS: the tensor functions they need beyond methods) and
validated arguments (the Tensor methods check them).  They shift by the maximum
(`T.max_shift`, no gradient: the results do not depend on the shift), so large inputs do not
overflow; a replay recomputes the shift at its own point.
"""
from . import groups, result_grads
from .graph import show_edges, torch_edges
from .ops import OPS
from .tape import INFERENCE_MADE, own_counter, refuse_inference_save, STATE, Tape, view_base
from .tensor import Tensor


def record(name, body, T, x, *args, edges=None):
    """body(T, x, *args) recorded as decomposition row `name`: when its result is on a tape,
    the entries appended since the call began become one group shown as `name`.  Tensors
    among `args` are inputs too (their tapes are noted as x's).  `edges`: torch's inputs of
    the node in torch's order (tensors, or None where torch has an empty edge), when its
    next_functions are not the group's inputs in first-use order (a repeated input, an input
    that needs no gradient)."""
    # the lengths of the tapes the body may append to before it runs: the open one's, and
    # those of x's and the tensor arguments' other tapes (rare: one dict only then)
    open_tape = STATE.tape
    open_n = open_tape.n if isinstance(open_tape, Tape) else -1
    others = None
    operands = (x,) + args
    for v in operands:
        tp = v._tape if type(v) is Tensor else getattr(v, "_tape", None)
        if tp is not None and tp is not open_tape and isinstance(tp, Tape):
            if others is None:
                others = {}
            others[id(tp)] = tp.n
    # (a set of ids first: ~0.3 us where no operand repeats, a Python loop only where one does)
    if len({id(v) for v in operands}) < len(operands) and _repeats(operands):
        x, *rest = distinct(T, operands)
        out = body(T, x, *rest)
    else:
        out = body(T, x, *args)
    tape = out._tape
    if tape is not None and out._recorded:
        # a tape opened by the body holds only its entries
        start = open_n if tape is open_tape and open_n >= 0 else \
            others.get(id(tape), 0) if others is not None else 0
        op = OPS[name]
        if INFERENCE_MADE[0]:
            _refuse_saved_inference(op, x, args)
        if out._node >= start:
            groups.mark(tape, start, out._node, op.code)
            _save_result(tape, op, out)
            if op.name in result_grads.GRADS:
                _save_inputs(tape, op, x, args)
            base = view_base(out)
            if base is not None and base._tape is tape and base._node >= start:
                own_counter(out)
            if edges is None:
                edges = torch_edges(name, operands)
            if edges is not None:
                show_edges(tape, out._node, edges, op.grad_fn)   # (the row's, as marked)
    return out


def _repeats(operands):
    """Whether one tensor that requires grad is among `operands` twice."""
    for i, v in enumerate(operands):
        if isinstance(v, Tensor) and any(v is u for u in operands[:i]) and v.requires_grad:
            return True
    return False


def distinct(T, operands):
    """`operands` with each repeat of a tensor that requires grad replaced by an alias of it
    (T.alias, x[...]), recorded before the body's entries so that it is one of the group's
    (graph.slot_nodes finds it there).  torch's node of x.addcmul(y, y) hands y one gradient
    per argument (its post hooks see both); the body's entries, reading one node, would sum
    them.  The alias passes its gradient on to y, so a backward is unchanged."""
    out = list(operands)
    for i, v in enumerate(operands):
        if isinstance(v, Tensor) and any(v is u for u in operands[:i]) and v.requires_grad:
            out[i] = T.alias(v)
    return out


def written(name, out, open_tape, open_n):
    """record's bookkeeping for row `name`'s entries written directly by a faster writer of
    its body (mathops' clamp, nn.functional's embedding): `out` its result, `open_tape` and
    `open_n` the open tape and its length (-1 for no tape) before the writer appended.  For
    a writer whose operands are on the open tape, leaves or constants (so a tape its entries
    opened holds only them), no saved inference tensor (INFERENCE_MADE unset), a fresh
    result (no view) and a row without edges of its own: then record's steps reduce to the
    group's mark."""
    tape = out._tape
    if tape is not None and out._recorded:
        start = open_n if tape is open_tape and open_n >= 0 else 0
        if out._node >= start:
            groups.mark(tape, start, out._node, OPS[name].code)
            _save_result(tape, OPS[name], out)
    return out


def _save_result(tape, op, out):
    """Save group result `out` where row op's torch node saves its result (`_saved_result`)
    and the members, saving what their formulas read, did not keep it (amax's, logsumexp's:
    their entries save the shifted values)."""
    n = out._node
    if "out" in op.saves and n in tape.shape and tape.saved_array(n) is None:
        tape.save(n, out._v)


def _save_inputs(tape, op, x, args):
    """The inputs torch's node of row `op` saves (`Op.saves`: x as self, the first tensor
    among args as other), kept where the members did not (groups.save_input)."""
    if "a" in op.saves and type(x) is Tensor:
        groups.save_input(tape, x)
    if "b" in op.saves:
        other = next((v for v in args if type(v) is Tensor), None)
        if other is not None:
            groups.save_input(tape, other)


def open_length():
    """(the open tape, its length or -1): record's starting point, for `written`."""
    tape = STATE.tape
    return tape, (tape.n if isinstance(tape, Tape) else -1)


def _refuse_saved_inference(op, x, args):
    """torch's error where its node of row `op` would save an inference tensor: x (self),
    and the first tensor among args (other) where the row saves it ("b")."""
    unsaved = {role for role, torch_name in op.saved_names if torch_name is None}
    if "a" in op.saves and "self" not in unsaved:
        refuse_inference_save(x)
    if "b" in op.saves and "other" not in unsaved:
        for v in args:
            if isinstance(v, Tensor):
                refuse_inference_save(v)
                break


# NOTE: the gradient is the primitives'; it equals torch's formula mathematically
# (g * exp(x - result)), including nan where torch gives nan (a row of infinities).
def logsumexp(T, x, dims, keepdim):
    """log(sum(exp(x), dims)) as m + log(sum(exp(x - m))), m the maximum with infinite maxima
    0 (torch's rule: a row of -inf gives -inf, a +inf gives inf, not nan)."""
    m = T.max_shift(x, dims, True)
    s = (x - m).exp().sum(dims, keepdim=keepdim)
    return s.log() + (m if keepdim else m.reshape(s.shape))
