"""Appending an n-d op's entry to the tape: which tape an op records on
(`_record_start`, `_tape_for`), the node of each operand (`_operand_node`: the input's own node,
a number folded into the entry, or a const entry) and the result tensor (`_result`)."""
import numpy as np

from . import dtypes as D
from .fpstate import F32_MAX, quiet
from .graph import NO_TENSOR, SavedNode
from .parameter import Parameter
from .tape import input_node, open_tape, STATE
from .tensor import Tensor, _new

_MIXED = "tapegrad: combining graphs recorded in different threads is not supported"


def _operand(x):
    """(value for numpy, dtype, promotion category) of a Tensor or a Python number (a numpy
    scalar counts as one).  Not of an ndarray, as torch's ops: its operators leave `t + a` to
    numpy."""
    if isinstance(x, np.generic):
        x = D.py_number(x)
    if isinstance(x, Tensor):
        return x._array(), x._dtype, (2 if x._shape else 1)
    if isinstance(x, (bool, int, float)):
        if type(x) is int:
            D.check_int_scalar(x)
        return x, D.scalar_dtype(x), 0
    raise TypeError(f"unsupported operand type: {type(x).__name__}")


def _record_start(*inputs):
    """The tape to record on, or None when no input is recorded or grad mode is off."""
    for t in inputs:   # (a loop: any() over a generator costs twice as much)
        if isinstance(t, Tensor) and t._recorded:
            break
    else:
        return None
    tape = STATE.tape
    if tape.sealed:  # else open_tape would return it as it is
        # (the recorded inputs, leaves too: under no_grad in a recording they are guarded)
        tape = open_tape(*[t for t in inputs if isinstance(t, Tensor) and t._recorded][:2])
        if tape is None:
            return None
    for t in inputs:
        if isinstance(t, Tensor) and t._tape is not None and t._tape.serial > tape.serial:
            raise RuntimeError(_MIXED)
    return tape


def _tape_of(x):
    """_record_start(x) for one tensor x, without its scans (a view op's input)."""
    if not x._recorded:
        return None
    tape = STATE.tape
    if tape.sealed:
        tape = open_tape(x)
        if tape is None:
            return None
    src = x._tape
    if src is not None and src.serial > tape.serial:
        raise RuntimeError(_MIXED)
    return tape


def _operand_node(tape, x, arr):
    """Node for operand x on tape: its own node, or -1 (Python-number/one-element constant,
    value in the entry's imm), or a const entry holding an n-d value."""
    if isinstance(x, Tensor):
        if x._recorded:
            return input_node(tape, x), 0.0
        if x.numel() == 1:
            return -1, float(np.asarray(arr).reshape(-1)[0])
        return const_operand(tape, x, np.asarray(arr)), 0.0
    return -1, float(x)


def const_operand(tape, x, arr):
    """Node of a const entry for tensor x (not recorded, n-d), value `arr`: pushed, saved for
    the entries reading it, its version entered (Tape.const_entry)."""
    return tape.const_entry(x, arr)


def _result(arr, dt, tape, op, a, b, c, saves=()):
    """Wrap a forward result; with a tape, append its entry."""
    if tape is None:
        return Tensor._wrap(arr, dt)
    t = _new()   # (Tensor._wrap's cases, inline: this runs once per recorded op)
    size = arr.size
    if size != 1:
        t._v, t._dtype, t._shape, t._tape, t._recorded = arr, dt, arr.shape, tape, True
        t._node = n = tape.push_nd(op, a, b, c, arr.shape, size)
    else:   # a one-element result (a loss): its value in the entry, a float if it can be
        v = float(arr.reshape(-1)[0])
        t._v, t._dtype, t._shape, t._tape, t._recorded = (
            v if dt.is_floating_point else arr), dt, arr.shape, tape, True
        t._node = n = tape.push(op, a, b, c, v, None)
    for role, node, val in saves:
        tape.save(n if role == "out" else node, val)
    return t


def revalued(t, arr):
    """t, a float result just made by an entry whose row saves no value (add, sub: the
    gradients read none), holding arr's value instead (an array of t's dtype and shape): a
    fused kernel's value where the entries compute its steps (arith's add with alpha)."""
    if arr.size != 1:
        t._v = arr
    else:
        _one_value(t, float(arr.reshape(-1)[0]))
    return t


def _one_value(t, v):
    """A one-element value: held as a float, in the entry's val too."""
    t._v = v
    if t._recorded and t._tape is not None:
        t._tape.val[t._node] = v


def stored32(t):
    """t, its one-element float32 value (held as a float the scalar ops compute in double)
    rounded to float32, as torch's float32 kernel stores it: the steps of a composite torch
    computes op by op, whose rounding the next step magnifies (ndtr's 1 + erf(x) near -1,
    tanhshrink's x - tanh(x) near 0)."""
    v = t._v
    if type(v) is float and t._dtype is D.float32:
        # (past float32's range: inf, quietly, as torch's store)
        _one_value(t, float(_F32(v)) if -F32_MAX <= v <= F32_MAX else float(quiet(_F32, v)))
    return t


_F32 = np.float32


def _tape_for(x, y):
    """The tape for an op on x, y of which one is recorded (requires grad), or None under
    no_grad: _record_start without its scan for a recorded input.  Raises, before anything
    is recorded, if an operand lives on a newer tape (another thread's graph)."""
    tape = STATE.tape
    if tape.sealed:
        tape = open_tape(x, y)
        if tape is None:
            return None
    _check_mixed(tape, x, y)
    return tape


def _check_mixed(tape, x, y):
    """Raise if operand x or y lives on a tape newer than `tape` (another thread's graph)."""
    for t in (x, y):
        if type(t) is Tensor or type(t) is Parameter:
            src = t._tape
            if src is not None and src is not tape and src.serial > tape.serial:
                raise RuntimeError(_MIXED)


def keep_args(t, **args):
    """t, keeping the non-tensor arguments torch's node of `t` saves (its row's `Op.saved_args`:
    dims, flags as the call gave them) for `grad_fn._saved_<name>` (graph.saved_fields), when
    t's entry is the one the call just recorded (not for a result not recorded, nor for an
    input handed back as it is).  Called once the op succeeded, so a failing call leaves the
    tape as it was."""
    tape = t._tape if t._recorded else None
    if tape is not None and t._node == tape.n - 1:
        keep_node_args(tape, t._node, args)
    return t


def keep_tensor_args(t, **args):
    """keep_args where some arguments are tensors (a loss's target, addcmul's factors; None
    for an undefined one, which torch's node lists all the same): one recorded on t's tape is kept as its node (SavedNode), read back as the tape's saved
    tensors are (a tensor held by the tape that holds it would keep both alive: a cycle)."""
    tape = t._tape if t._recorded else None
    if tape is not None and t._node == tape.n - 1:
        for k, v in args.items():
            if v is None:   # (every None given here is an undefined tensor)
                args[k] = NO_TENSOR
            elif isinstance(v, Tensor) and v._recorded and v._tape is tape:
                node = v._node
                args[k] = SavedNode(node)
                if node in tape.shape and tape.saved_array(node) is None:
                    tape.save(node, v._v)   # (the entries did not save it: torch's node does)
        keep_node_args(tape, t._node, args)
    return t


def keep_later(t, f, *a):
    """keep_args whose values f(*a) works out when read (graph.kept_args): nothing computed
    per call (a loss's total_weight, layer_norm's mean and rstd).  `a` must hold no tensor
    of t's tape (a cycle): arrays, numbers, leaves, SavedNode."""
    tape = t._tape if t._recorded else None
    if tape is not None and t._node == tape.n - 1:
        keep_node_args(tape, t._node, (f,) + a)
    return t


def tensor_arg(tape, v):
    """A tensor argument as keep_later's `a` may hold it: NO_TENSOR for None, a tensor of
    `tape` as its node (its value saved where no entry saved it), another as it is."""
    if v is None:
        return NO_TENSOR
    if v._recorded and v._tape is tape:
        node = v._node
        if node in tape.shape and tape.saved_array(node) is None:
            tape.save(node, v._v)
        return SavedNode(node)
    return v


def keep_node_args(tape, node, args):
    """keep_args for entry `node` of `tape` (a split's entry, which its outputs read)."""
    if tape.call_args is None:
        tape.call_args = {}
    tape.call_args[node] = args
