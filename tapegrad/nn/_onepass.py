"""nn.functional's common training cases in one pass: what `decomps.record` of a decomposition
row records, without the generic per-op dispatch between its entries.

* `linear`: the `t` view of the weight (TBackward0, outside the group, as torch's addmm
  reads it), then `mm` and the bias `add`, one group shown as AddmmBackward0.  The case: a 2-d input, a 2-d weight and a 1-d bias of one float dtype with
  matching sizes, weight and bias leaves that require grad (a layer being trained), no result
  of one element.
* `mse_loss`: `input - target` (the target a const entry), the square as `d * d`, `mean` or
  `sum`, one group shown as MseLossBackward0.  The case: input and target of one float dtype
  and shape with more than one element, a target that needs no gradient, reduction "mean" or
  "sum".
* `layer_norm` with weight and bias: the normalization over the normalized (trailing) dims
  as one entry of the norm kind (kinds/norm.py: torch's formula for its gradient, where the
  body records the mean over the dims, `sub`, the square as `d * d`, its mean, `+ eps`,
  `sqrt`, `div`), then `* weight`, `+ bias`, one group shown as NativeLayerNormBackward0.
  The case: an input of float32 or float64 that requires grad, with at least two rows and
  two normalized elements, weight and bias leaves of its dtype that require grad (a layer
  in training), a weight alone, or neither.
* `batch_norm` in training, input (N, C) or (N, C, *): the same entries as layer_norm's over
  every dim but 1 (the norm entry's params [N, C, positions]; a 2-d input's weight and bias
  broadcast as they are; an n-d input's are viewed as (1, C, 1, ...) by the body's
  reshape, where the body makes the views), one group shown as NativeBatchNormBackward0.  The case: layer_norm's with weight and bias
  (of shape (C,) for n-d input) or neither, with C >= 2 and N * positions >= 2.
  Without a tape (grad mode off, inference mode, or no operand that requires grad: a model
  evaluated), layer_norm's and batch_norm's cases compute the body's values by its numpy
  calls and record nothing (not while a function is traced: the body's ops guard it).
* `cross_entropy` with class indices: log_softmax's one entry (ndops._softmax_entry,
  LogSoftmaxBackward0), then nll_loss's one entry of the nll kind (kinds/nll.py: params the
  targets, NllLossBackward0).  The case: a 2-d input (N, C) of float32 or float64 with N, C
  >= 2 and N below the long-sum threshold, an int64 target of N classes in range (none equal
  to ignore_index), no weight, no label smoothing, reduction "mean" or "sum".  Without a tape
  (no_grad, or an input that needs no gradient) it computes the same values and records
  nothing.
* `nll_loss` of such an input (log-probabilities) and target: nll_loss's entry as above.

The group writers linear and mse_loss write the very entries, in the same order, with the
same operands, params, saved values, version watches and group as the row's body
(tests/test_eager_nn.py compares the tape streams of both), so backward, replay,
create_graph, tape files and the inspection faces see no difference: a faster writer of the
row, not another op.  layer_norm's and batch_norm's groups hold the norm entry instead of
the body's seven (the same values; gradients equal to rounding; tests/test_eager_nn.py
compares what both show and compute), written only outside tracing, so a replay runs the
body's.  The rows (ops.py) and their bodies (nn/_decomps.py) stay the one
definition; everything outside the cases above (and, for those, a tape that is recording for
replay) goes through them.  nll_loss's case is no group but an entry of its own kind (its
values the body's, its gradient torch's formula; the other cases stay the row nll_loss), and
serves recording too: its targets are constants of the trace.  A function returns None to
say "not my case"."""
import weakref

import numpy as np

from .. import dtypes as D, groups
from ..fpstate import ERR_RESET, ERR_SET, QUIET
from ..kinds import matmul as matmul_kind
from ..ndops import (_BIN_FAST, _binary, _EXACT_COUNT, _FAST_SUM_MIN, _MM_ROWS, _mm_row,
                     _np_matmul, _np_mean, _quiet, _SAVE_ROLES, _softmax_entry, _UN_ROW)
from ..ops import OPS
from ..parameter import Parameter
from ..recording import _tape_for
from ..tape import STATE, input_node, open_tape, refuse_inference_save, share_version
from ..tensor import _new, Tensor
from ..views import KIND_OPS

_T, _MM, _ADD, _LINEAR, _SUB, _MUL, _MSE, _CONST = (OPS[name].code for name in (
    "t", "mm", "add", "linear", "sub", "mul", "mse_loss", "const"))
_NEG, _NLL_ENTRY, _INPUT_EDGE = (OPS[name].code for name in ("neg", "nll", "input_edge"))
_NORM_ENTRY = {OPS["layer_norm"].code: OPS["layer_norm_rows"].code,
               OPS["batch_norm"].code: OPS["batch_norm_rows"].code}
_MEAN_DIM, _SQRT, _DIV, _LAYER_NORM, _BATCH_NORM = (OPS[name].code for name in (
    "mean_dim", "sqrt", "div", "layer_norm", "batch_norm"))
_REDUCE = {"mean": OPS["mean"].code, "sum": OPS["sum"].code}
# the operand types handled here: not subclasses (a __torch_function__ or overridden method
# could expect the generic path)
_PLAIN = frozenset((Tensor, Parameter))
# the saves written below (a, b, out) are these ops' own: checked, not assumed
assert _SAVE_ROLES[_ADD] == _SAVE_ROLES[_SUB] == (False, False, False)
assert _SAVE_ROLES[_MUL] == (True, True, False)
assert _SAVE_ROLES[_NEG] == (False, False, False)
assert _SAVE_ROLES[_SQRT] == (False, False, True) and _SAVE_ROLES[_DIV] == (True, True, False)
_NEG_FWD, _SQRT_FWD = _UN_ROW[_NEG][0], _UN_ROW[_SQRT][0]
_SUB_FWD, _MUL_FWD, _DIV_FWD, _ADD_FWD = (_BIN_FAST[k][0] for k in (_SUB, _MUL, _DIV, _ADD))
_add_reduce, _max_reduce, _min_reduce = np.add.reduce, np.maximum.reduce, np.minimum.reduce
_np_add, _true_divide = np.add, np.true_divide
_I64, _U64 = np.dtype(np.int64), np.dtype(np.uint64)
_ROWS = np.arange(_FAST_SUM_MIN)     # (row numbers: nll's case has fewer rows)
_ROWS.flags.writeable = False
_T_ROWS = {}    # in_features -> t's params row [0, 1, in] of a weight's view (add_param_row)


def _t_row(k):
    if len(_T_ROWS) > 4096:
        _T_ROWS.clear()
    row = _T_ROWS[k] = memoryview(np.array([0, 1, k], np.int64))
    return row


def linear(x, w, b):
    """The result of linear(x, w, b), or None when the case above does not hold."""
    if type(x) not in _PLAIN or type(w) not in _PLAIN or type(b) not in _PLAIN:
        return None
    dt = x._dtype
    xa, wa = x._v, w._v
    xs, ws = x._shape, w._shape
    if (w._dtype is not dt or b._dtype is not dt or not dt.is_floating_point
            or type(xa) is not np.ndarray or type(wa) is not np.ndarray
            or len(xs) != 2 or len(ws) != 2 or b._shape != (ws[0],) or xs[1] != ws[1]
            or xs[0] * ws[0] == 1 or not (w._recorded and b._recorded)
            or w._tape is not None or b._tape is not None):
        return None
    wt = wa.T
    ba = b._v
    if type(ba) is float:
        ba = b._array()
    # _tape_for(w, None), inline (w is a leaf: no newer tape to refuse), as w.t() finds it
    tape = STATE.tape
    if tape.sealed:                     # (a new one, as there; None: grad mode is off)
        tape = open_tape(w, None)
    if tape is None:
        return Tensor._wrap(_quiet(np.add, _np_matmul(xa, wt), ba), dt)
    xtape = x._tape
    if tape.recording or xtape is not None and xtape.serial > tape.serial:
        return None               # baked constants, guards; another thread's graph: the row
    if not x._recorded:
        refuse_inference_save(x)          # (the product saves x: torch's error for one)
    # w.t(): a strided view of w (offset 0, strides (1, in)), sharing w's version counter;
    # push_nd, share_version and _watch_new inline (a leaf's counter is its own list)
    v = _new()
    v._v, v._dtype, v._shape = wt, dt, wt.shape
    serial = tape.serial                  # input_node(tape, w), inline: w is a leaf
    n_t = tape.push_nd(_T, w._lnode if w._lserial == serial else tape.leaf_node(w), -1, 0.0,
                       wt.shape, wa.size)
    v._tape, v._node, v._recorded = tape, n_t, True
    nds = tape.nds
    row = _T_ROWS.get(ws[1])
    if row is None:
        row = _t_row(ws[1])
    nds.add_param_row(n_t, row)
    c = getattr(w, "_ver", None)
    if type(c) is list:                   # share_version(v, w): w is no view
        v._ver = (c, w)
        ver = c[0]
        tape.versions[n_t] = (c, ver, dt, wt.shape, weakref.ref(v))
        if tape.watched is not None:
            tape.watch_group(c, ver, [n_t])
    else:
        share_version(v, w)
        tape._watch_new(n_t, v)           # (watch() of an entry just pushed)
    # x @ w.t(): mm, saving both operands; the group starts here (torch's addmm reads w.t()
    # as a node of its own, TBackward0)
    start = tape.n
    mm = _np_matmul(xa, wt)
    if x._recorded:
        a = input_node(tape, x)             # its own entry, a leaf or an import: no member
        members = None
    else:
        a = tape.const_node(xa)             # a constant: a member
        tape._watch_new(a, x)
        members = (a,)
    tape.save(a, xa)
    tape.save(n_t, wt)
    n_mm = tape.push_nd(_MM, a, n_t, 0.0, mm.shape, mm.size)
    m, k, o = xs[0], xs[1], ws[0]
    row = _MM_ROWS.get((m, k, o))       # params [1, m, k, o, 0], one row per shape (ndops')
    if row is None:
        row = _mm_row(m, k, o)
    nds.add_param_row(n_mm, row)
    if m * k * o >= matmul_kind.HOST_MIN_MACS:          # (runs_on_host)
        tape.set_host(n_mm)
    # + b, then the group shown as AddmmBackward0
    out = _quiet(np.add, mm, ba, mm)    # (mm is this call's own array: added into)
    n_b = b._lnode if b._lserial == serial else tape.leaf_node(b)   # (input_node, inline)
    t = _new()
    t._v, t._dtype, t._shape = out, dt, out.shape
    n = tape.push_nd(_ADD, n_mm, n_b, 0.0, out.shape, out.size)
    t._tape, t._node, t._recorded = tape, n, True
    groups.mark_members(tape, start, n, (n_mm, n) if members is None else
                        members + (n_mm, n), _LINEAR)
    edge_nodes = tape.edge_nodes      # (_edges, inline: torch's bias, input, weight.t())
    if edge_nodes is None:
        edge_nodes = tape.edge_nodes = {}
    edge_nodes[n] = (n_b, -1 if members else a, n_t)
    return t


def mse_loss(x, y, reduction):
    """The result of mse_loss(x, y, reduction=reduction), or None outside the case above."""
    if type(x) not in _PLAIN or type(y) not in _PLAIN:
        return None
    dt = x._dtype
    xa, ya = x._v, y._v
    code = _REDUCE.get(reduction)
    if (code is None or y._dtype is not dt or not dt.is_floating_point or y._recorded
            or type(xa) is not np.ndarray or type(ya) is not np.ndarray
            or x._shape != y._shape or xa.size == 0):   # (empty: the row's mean of nothing)
        return None
    d = _quiet(np.subtract, xa, ya)
    sq = _quiet(np.multiply, d, d)
    mean = code == _REDUCE["mean"]
    dims = tuple(range(sq.ndim))
    out = np.asarray(_np_mean(sq, dims, False, dt.np) if mean else
                     sq.sum(axis=dims, keepdims=False, dtype=dt.np), dtype=dt.np)
    tape = _tape_for(x, y) if x._recorded else None
    if tape is None:
        return Tensor._wrap(out, dt)
    if tape.recording:
        return None
    refuse_inference_save(y)   # (torch's node saves the target)
    start = tape.n
    # x - y: y a const entry (saved, its version watched)
    a = input_node(tape, x)
    b = tape.push_nd(_CONST, -1, -1, 0.0, ya.shape, ya.size)
    tape.save(b, ya)
    tape._watch_new(b, y)
    n_d = tape.push_nd(_SUB, a, b, 0.0, d.shape, d.size)
    # d * d, saving d as both operands
    n_sq = tape.push_nd(_MUL, n_d, n_d, 0.0, sq.shape, sq.size)
    tape.save(n_d, d)
    tape.save(n_d, d)
    # the reduction, then the group shown as MseLossBackward0
    count = sq.size
    v = float(out.reshape(-1)[0])
    n = tape.push(code, n_sq, -1, 1.0 / count if mean else 1.0, v, None)
    tape.add_params(n, [1] * sq.ndim)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._node, t._recorded = v, dt, (), tape, n, True
    groups.mark_members(tape, start, n, (b, n_d, n_sq, n), _MSE)   # (a: no member)
    _edges(tape, n, (a, -1))                                        # torch's: input, target
    return t


def _edges(tape, n, nodes):
    """Group output n shows torch's edges to `nodes` (-1: (None, 0)), as decomps.record's
    show_edges does for the row, but made on first access (graph.node_for), not here."""
    edge_nodes = tape.edge_nodes
    if edge_nodes is None:
        edge_nodes = tape.edge_nodes = {}
    edge_nodes[n] = nodes


def _nll_case(x, target, reduction, ignore_index):
    """(n, c, the target's array) when nll_loss(x, target) is the case of the one-pass
    writers below (cross_entropy, nll_loss), else None."""
    if type(x) not in _PLAIN or type(target) is not Tensor:
        return None
    tv = target._v
    if (reduction != "mean" and reduction != "sum" or target._dtype is not D.int64
            or type(tv) is not np.ndarray or len(x._shape) != 2 or target._recorded):
        return None
    n, c = x._shape
    if n < 2 or c < 2 or n >= _FAST_SUM_MIN or target._shape != (n,):
        return None
    # the targets in range(c) (out of range: the row's path raises torch's error), in one
    # pass for native int64: a negative target read as uint64 is 2**63 or more
    if (_max_reduce(tv.view(_U64)) >= c if tv.dtype is _I64 else
            _min_reduce(tv) < 0 or _max_reduce(tv) >= c):
        return None
    if ((0 <= ignore_index < c if type(ignore_index) is int else ignore_index in range(c))
            and (tv == ignore_index).any()):
        return None     # (an int: `in range(c)` without making the range)
    return n, c, tv


def cross_entropy(x, target, reduction, ignore_index):
    """The result of cross_entropy(x, target, reduction=reduction, ignore_index=...) with
    class indices, no weight and no label smoothing, or None outside the case above."""
    case = _nll_case(x, target, reduction, ignore_index)
    if case is None:
        return None
    if x._dtype is not D.float32 and x._dtype is not D.float64 or type(x._v) is not np.ndarray:
        return None
    logp = _softmax_entry(x, 1, True)
    return _nll(logp, logp._tape, case, reduction == "mean")


def nll_loss(x, target, reduction, ignore_index):
    """The result of nll_loss(x, target, reduction=reduction, ignore_index=...) of a 2-d
    float32/float64 input (log-probabilities: F.nll_loss(F.log_softmax(...)), the classic
    classifier) with class indices and no weight, or None outside that case."""
    case = _nll_case(x, target, reduction, ignore_index)
    if case is None or x._dtype is not D.float32 and x._dtype is not D.float64 or \
            type(x._v) is not np.ndarray:
        return None
    return _nll(x, _tape_for(x, None) if x._recorded else None, case, reduction == "mean")


def _nll(x, tape, case, mean):
    """nll_loss's value of x (2-d) at the targets `case` (_nll_case's), reduced, and its one
    entry of the nll kind on `tape` (None: the value only).  (While recording for replay too:
    the targets are no traced value (_nll_case), so the entry's params are the trace's
    constants, as the row's one-hot mask would be.)"""
    n, c, tv = case
    dt = x._dtype
    dtn = dt.np
    lpa = x._v
    if type(lpa) is not np.ndarray:   # (the tensor face's operand)
        lpa = x._array()
    # the decomposition's values, so the same bits: its one-hot row sums (where(onehot, x,
    # 0).sum(1)) are x[i, target[i]] + 0.0 (one term and zeros: exact, -0.0 made +0.0), read
    # here by indexing; then its neg and _reduce's sum, the same numpy calls
    token = ERR_SET(QUIET)
    try:
        picked = lpa[_ROWS[:n] if n <= _FAST_SUM_MIN else np.arange(n), tv]
        _np_add(picked, 0.0, picked)
        red = _add_reduce(_NEG_FWD(picked, None), (0,), dtn, None, False)
    finally:
        ERR_RESET(token)
    if mean:     # (_reduce's quotient: in float64, rounded once to the dtype)
        red = dtn.type(float(red) / n)
    if tape is None:
        return Tensor._wrap(np.asarray(red, dtype=dtn), dt)
    v = float(red)
    a = input_node(tape, x)
    out = tape.push(_NLL_ENTRY, a, -1, 1.0 if mean else 0.0, v, None)
    tape.add_params(out, tv)
    tape.save(a, lpa)     # (nothing reads it: torch's node saves self, so its version check)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._node, t._recorded = v, dt, (), tape, out, True
    return t


def _nll_face(x, targets, mean):
    """The nll kind's tensor face (views.KIND_OPS.nll): one entry at `targets` of 2-d x."""
    tv = np.asarray(targets, np.int64)
    return _nll(x, _tape_for(x, None) if x._recorded else None, (x._shape[0], x._shape[1], tv),
                mean)


KIND_OPS.nll = _nll_face
KIND_OPS.input_edge = lambda g, x: _binary(_INPUT_EDGE, g, x)


def layer_norm(x, dims, w, b, eps):
    """The result of layer_norm over `dims` (the trailing dims) with weight w and bias b
    (either None: no scale, no shift; a bias without a weight is the row's case), or None
    outside the case above."""
    if w is None and b is not None:
        return None
    return _norm_pass(x, dims, w, b, eps, _LAYER_NORM)


def batch_norm(x, w, b, eps):
    """The result of batch_norm in training (the batch's statistics) of an (N, C, *) input
    with weight w and bias b (both or neither), or None outside the case above."""
    shape = x._shape
    nd = len(shape)
    if nd < 2 or (w is None) != (b is None):
        return None
    if nd == 2:
        return _norm_pass(x, (0,), w, b, eps, _BATCH_NORM)
    # (N, C, *): the body views the (C,) weight and bias as (1, C, 1, ...)
    if w is not None and (w._shape != (shape[1],) or b._shape != w._shape):
        return None
    return _norm_pass(x, (0,) + tuple(range(2, nd)), w, b, eps, _BATCH_NORM,
                      (1, shape[1]) + (1,) * (nd - 2))


def _norm_pass(x, dims, w, b, eps, row, view=None):
    """(x - mean) / sqrt(var + eps) * w + b over `dims` (biased variance), w and b of the
    shape of x's trailing dims that are not normalized (layer_norm: the normalized dims,
    batch_norm of (N, C): C), one group of `row`: the normalization as one entry of the norm
    kind, then the body's product and sum; without b no shift, without w and b no scale
    either (the body's entries stop there); None outside the cases above.  `view`:
    w and b are (C,) and used as their views of that shape (batch_norm of (N, C, *)), made
    where the body makes them, by the same reshape."""
    if type(x) not in _PLAIN or w is not None and type(w) not in _PLAIN or \
            b is not None and type(b) not in _PLAIN:
        return None
    dt = x._dtype
    xa = x._v
    shape = x._shape
    if dt is not D.float32 and dt is not D.float64 or type(xa) is not np.ndarray:
        return None
    # no tape (grad mode off, or nothing requires grad: evaluation): the body's values and
    # nothing recorded, but while a function is traced (its ops' guards: the body's path)
    st = STATE
    quiet = not st.enabled or st.inference or not (
        x._recorded or w is not None and w._recorded or b is not None and b._recorded)
    if quiet:
        if st.tape.recording or st.parked.recording:
            return None
    elif not x._recorded:
        return None
    for p in (w, b):
        if p is not None and (p._dtype is not dt or type(p._v) is not np.ndarray
                              or not quiet and (not p._recorded or p._tape is not None)
                              or view is None and p._shape != shape[len(shape) - len(p._shape):]):
            return None
    wa = None if w is None else w._v
    ba = None if b is None else b._v
    count = 1
    for d in dims:
        count *= shape[d]
    # (the statistics and what they normalize have two or more elements: n-d entries)
    if (b is not None and b._shape != w._shape or count < 2 or xa.size // count < 2):
        return None
    tape = None if quiet else _tape_for(x, None)
    if not quiet and (tape is None or tape.recording or view is not None and w is not None
                      and tape is not st.tape):
        return None     # (the views below are recorded on the open tape: it must be this one)
    dtn = dt.np
    if view is not None and w is not None:
        wa, ba = wa.reshape(view), ba.reshape(view)
    # the body's values by its numpy calls (_reduce's _np_mean, the fast paths' forwards);
    # _np_mean's steps inline for a count the dtype holds exactly (its sum, then the quotient
    # by the count in the dtype, in place: the same bits, without its calls and error state)
    exact = count <= _EXACT_COUNT[dtn.type]
    token = ERR_SET(QUIET)
    try:
        if exact:
            m = _add_reduce(xa, dims, dtn, None, True)
            _true_divide(m, dtn.type(count), m)
        else:
            m = np.asarray(_np_mean(xa, dims, True, dtn), dtype=dtn)
        xc = _SUB_FWD(xa, m)
        sq = _MUL_FWD(xc, xc)
        if exact:
            v = _add_reduce(sq, dims, dtn, None, True)
            _true_divide(v, dtn.type(count), v)
        else:
            v = np.asarray(_np_mean(sq, dims, True, dtn), dtype=dtn)
        ve = _ADD_FWD(v, dtn.type(eps))
        sd = _SQRT_FWD(ve, None)
        out = y = _DIV_FWD(xc, sd)
        yw = None
        if w is not None:
            out = yw = _MUL_FWD(y, wa)
        if b is not None:
            out = _ADD_FWD(yw, ba)
    finally:
        ERR_RESET(token)
    if quiet:
        return Tensor._wrap(out, dt)
    start = tape.n
    a = input_node(tape, x)
    # (the normalization as one entry of the norm kind, its VJP torch's formula, then the
    # body's product and sum; the values are the body's above)
    n_y = tape.push_nd(_NORM_ENTRY[row], a, -1, float(eps), shape, y.size)
    key = (row, shape, count)
    blocks = _NORM_PARAMS.get(key)
    if blocks is None:
        if len(_NORM_PARAMS) > 1024:
            _NORM_PARAMS.clear()
        # layer_norm's trailing dims: [1, rows, m]; batch_norm's all but dim 1: [N, C, rest]
        blocks = [1, xa.size // count, count] if row == _LAYER_NORM else \
            [shape[0], shape[1], count // shape[0]]
        blocks = _NORM_PARAMS[key] = memoryview(np.array(blocks, np.int64))
    tape.nds.add_param_row(n_y, blocks)
    tape.save(a, xa)
    return _affine(tape, start, a, n_y, [n_y], x, w, b, y, yw, out, wa, shape, dt, view, row)


_NORM_PARAMS = {}   # (row, shape, count) -> the norm kind's params row [a, c, b]


def _affine(tape, start, a, n_y, members, x, w, b, y, yw, out, wa, shape, dt, view, row):
    """_norm_pass's `* w` and `+ b` entries after the normalization's (n_y; `members` so
    far), the group of `row` and its edges; the result."""
    n = n_y
    serial = tape.serial                  # (input_node, inline: w and b are leaves)
    n_w = n_b = -1
    if w is not None:
        n_w = w._lnode if w._lserial == serial else tape.leaf_node(w)
        m_w = n_w
        if view is not None:              # (the body's view of w: a member)
            m_w = w.reshape(view)._node
            members.append(m_w)
        n = n_yw = tape.push_nd(_MUL, n_y, m_w, 0.0, shape, yw.size)
        tape.save(n_y, y)
        tape.save(m_w, wa)
        members.append(n_yw)
    if b is not None:
        n_b = b._lnode if b._lserial == serial else tape.leaf_node(b)
        m_b = n_b
        if view is not None:
            m_b = b.reshape(view)._node
            members.append(m_b)
        n = tape.push_nd(_ADD, n_yw, m_b, 0.0, shape, out.size)
        members.append(n)
    groups.mark_members(tape, start, n, members, row)
    _edges(tape, n, (a, n_w, n_b))          # torch's: input, weight, bias ((None, 0) if absent)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._node, t._recorded = out, dt, shape, tape, n, True
    return t
