"""The gate arithmetic of an LSTM or GRU step (nn/_rnn.py's steps, so nn.LSTM / GRU, their
packed forms and nn.LSTMCell / GRUCell) in one pass: the entries the step's tensor ops record
through the generic fast paths (views._split's unsafe_chunk, ndops._unary / _binary), in the
same order, with the same operands, params and saves, but without a tensor, a dispatch or an
error-state switch per op for values that never leave the step.  Every node keeps its op, so
the grad_fn chains are torch's (UnsafeSplitBackward0, SigmoidBackward0, MulBackward0, ...),
and backward, create_graph, replay and the inspection faces see no difference: a faster
writer of the same entries (tests/test_nn_rnn.py compares the tape streams of both).

The case: the step's n-d operands (the gate pre-activations; the LSTM's cell state, the GRU's
input map and hidden state) plain tensors of one dtype, float32 or float64, array-backed,
2-d of the step's sizes (more than one element per gate), and already nodes of the tape the
ops would record on (non-leaves of the open tape, which is not recording for replay).  A
function returns None outside it: the step then runs the tensor ops (the first step from a
default zero state, a leaf initial state, no_grad, inference mode, a recording tape, other
dtypes...)."""
import numpy as np

from .. import dtypes as D
from ..fpstate import ERR_RESET, ERR_SET, QUIET
from ..kinds import cat as cat_kind
from ..ndops import _BIN_FAST, _UN_ROW
from ..ops import OPS, OUTPUT_CODE
from ..tape import open_tape, STATE
from ..tensor import _new, Tensor

_SPLIT, _SIGMOID, _TANH, _ADD, _SUB, _MUL = (OPS[name].code for name in (
    "unsafe_split", "sigmoid", "tanh", "add", "sub", "mul"))


def _tape(x, y, others=()):
    """The tape the step's ops record on (their first op cuts x: x's tape's choice, as
    recording._record_start's) when x, y and `others` are all nodes of it, else None."""
    st = STATE
    tape = st.tape
    if tape.sealed:
        if not st.enabled or st.inference:
            return None   # (no tape: left to the ops, which also mark a recording's untraced uses)
        tape = open_tape(x)      # (the sealed tape a graph goes on, or a new one, as the ops')
        if tape is None:
            return None
    if tape.recording or x._tape is not tape or y._tape is not tape:
        return None
    for t in others:
        if t._tape is not tape:
            return None
    return tape


def _operand(t, dt, shape):
    """t's array when t is a plain recorded tensor of dtype dt and `shape`, else None."""
    if type(t) is not Tensor or t._dtype is not dt or t._shape != shape or not t._recorded:
        return None
    a = t._v
    return a if type(a) is np.ndarray else None


def _cut(tape, x, xa, k):
    """unsafe_chunk(x, k, 1) of x (b, k * h) as views._split records it: the split entry (the
    pieces packed, cat's layout as params), then one output entry per piece ([offset,
    strides] of its block); returns the pieces' (nodes, arrays)."""
    b, w = xa.shape
    h = w // k
    total = b * w
    node = tape.push_nd(_SPLIT, x._node, -1, float(k), (total,), total)
    shape, size = (b, h), b * h
    tape.add_params(node, cat_kind.layout([shape] * k, 1))
    nds = tape.nds
    nodes, arrays = [], []
    for j in range(k):
        e = tape.push_nd(OUTPUT_CODE, node, -1, float(j), shape, size)
        nds.add_param_ints(e, (j * size, h, 1))
        nodes.append(e)
        arrays.append(xa[:, j * h:(j + 1) * h])
    return nodes, arrays


def _un(tape, code, a, xa, dtn):
    """ndops._unary's entry of op `code` on node a (value xa): (node, value)."""
    fwd, takes_c, _, sa, so = _UN_ROW[code]
    out = fwd(xa, 0.0 if takes_c else None)
    if type(out) is not np.ndarray or out.dtype != dtn:
        out = np.asarray(out, dtype=dtn)
    n = tape.push_nd(code, a, -1, 0.0, out.shape, out.size)
    if sa:
        tape.save(a, xa)
    if so:
        tape.save(n, out)
    return n, out


def _bin(tape, code, a, xa, b, ya, dtn):
    """ndops._binary's entry of op `code` on nodes a, b (values xa, ya): (node, value)."""
    fwd, sa, sb, so = _BIN_FAST[code]
    out = fwd(xa, ya)
    if type(out) is not np.ndarray or out.dtype != dtn:
        out = np.asarray(out, dtype=dtn)
    n = tape.push_nd(code, a, b, 0.0, out.shape, out.size)
    if sa:
        tape.save(a, xa)
    if sb:
        tape.save(b, ya)
    if so:
        tape.save(n, out)
    return n, out


def _tensor(tape, n, out, dt):
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._recorded, t._node = out, dt, out.shape, tape, True, n
    return t


def _sizes(gates, k):
    """(dtype, (b, k * h), (b, h)) of gate pre-activations `gates` cut into k, or None."""
    if type(gates) is not Tensor:
        return None
    dt = gates._dtype
    shape = gates._shape
    if dt is not D.float32 and dt is not D.float64 or len(shape) != 2 or shape[1] % k:
        return None
    b, h = shape[0], shape[1] // k
    if b * h < 2:       # (one-element pieces hold their value in the entry: _split's case)
        return None
    return dt, shape, (b, h)


def lstm(gates, c):
    """(hy, cy) of an LSTM step from its gate pre-activations `gates` (b, 4h) (the hidden
    and input maps added) and cell state c (b, h), as _rnn._lstm_step's tensor ops (without
    projection); None outside the case above."""
    sizes = _sizes(gates, 4)
    if sizes is None:
        return None
    dt, gshape, shape = sizes
    ga, ca = _operand(gates, dt, gshape), _operand(c, dt, shape)
    if ga is None or ca is None:
        return None
    tape = _tape(gates, c)
    if tape is None:
        return None
    dtn = dt.np
    token = ERR_SET(QUIET)      # (the fast paths' error state: inf and nan silently, as torch)
    try:
        (n_i, n_f, n_g, n_o), (i, f, g, o) = _cut(tape, gates, ga, 4)
        n_i, i = _un(tape, _SIGMOID, n_i, i, dtn)
        n_f, f = _un(tape, _SIGMOID, n_f, f, dtn)
        n_g, g = _un(tape, _TANH, n_g, g, dtn)
        n_o, o = _un(tape, _SIGMOID, n_o, o, dtn)
        n_fc, fc = _bin(tape, _MUL, n_f, f, c._node, ca, dtn)
        n_ig, ig = _bin(tape, _MUL, n_i, i, n_g, g, dtn)
        n_cy, cy = _bin(tape, _ADD, n_fc, fc, n_ig, ig, dtn)
        n_tc, tc = _un(tape, _TANH, n_cy, cy, dtn)
        n_hy, hy = _bin(tape, _MUL, n_o, o, n_tc, tc, dtn)
    finally:
        ERR_RESET(token)
    return _tensor(tape, n_hy, hy, dt), _tensor(tape, n_cy, cy, dt)


def gru(x, hl, h):
    """hy of a GRU step from its input map x (b, 3h), hidden map hl (b, 3h) and hidden state
    h (b, h), as _rnn._gru_step's tensor ops; None outside the case above."""
    sizes = _sizes(x, 3)
    if sizes is None:
        return None
    dt, gshape, shape = sizes
    xa, la, ha = _operand(x, dt, gshape), _operand(hl, dt, gshape), _operand(h, dt, shape)
    if xa is None or la is None or ha is None:
        return None
    tape = _tape(x, hl, (h,))
    if tape is None:
        return None
    dtn = dt.np
    token = ERR_SET(QUIET)
    try:
        (n_ir, n_iz, n_in), (ir, iz, in_) = _cut(tape, x, xa, 3)
        (n_hr, n_hz, n_hn), (hr, hz, hn) = _cut(tape, hl, la, 3)
        n_r, r = _bin(tape, _ADD, n_hr, hr, n_ir, ir, dtn)
        n_r, r = _un(tape, _SIGMOID, n_r, r, dtn)
        n_z, z = _bin(tape, _ADD, n_hz, hz, n_iz, iz, dtn)
        n_z, z = _un(tape, _SIGMOID, n_z, z, dtn)
        n_m, m = _bin(tape, _MUL, n_hn, hn, n_r, r, dtn)
        n_n, n = _bin(tape, _ADD, n_in, in_, n_m, m, dtn)
        n_n, n = _un(tape, _TANH, n_n, n, dtn)
        n_d, d = _bin(tape, _SUB, h._node, ha, n_n, n, dtn)
        n_d, d = _bin(tape, _MUL, n_d, d, n_z, z, dtn)
        n_hy, hy = _bin(tape, _ADD, n_d, d, n_n, n, dtn)
    finally:
        ERR_RESET(token)
    return _tensor(tape, n_hy, hy, dt)
