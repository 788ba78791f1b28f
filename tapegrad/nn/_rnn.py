"""The recurrences behind nn.RNN / LSTM / GRU and their cells, composed of tapegrad's ops as
torch's CPU reference composes them (aten/src/ATen/native/RNN.cpp, what `_VF.rnn_tanh_cell`,
`_VF.lstm`... run): the same linear maps, gate chunks, elementwise steps, stacks and cats in
the same order, so values round alike and the grad_fn chains carry torch's names.

A full layer applies the input map to the whole sequence at once (one addmm), unbinds it by
time step, runs the cell on each step with the precomputed input and stacks the outputs
(StackBackward0); a bidirectional layer runs a second layer over the reversed steps and cats
the two outputs on the last dim; dropout (training only) goes between layers.  Packed
sequences (PackedSequence's data and batch sizes) run aten's packed layers: each step takes
the first batch_sizes[t] rows, the batch shrinking as sequences end (forward) or growing as
they start (reverse), and the outputs are concatenated in packed order.

A batch_first output is transposed back as torch's: in place for RNN and GRU
(TransposeBackward1), out of place for LSTM (TransposeBackward0).  The gates are
`unsafe_chunk` pieces, as aten's cells cut them (UnsafeSplitBackward0): no piece escapes, so
no view bookkeeping per step.  Where its case holds (nn/_gates.py: a step whose state is
already a node of the open tape) the gate arithmetic of an LSTM or GRU step is written in one
pass, the same entries as the tensor ops below.

A float32 LSTM where torch runs its oneDNN kernel (_onednn_case) is torch's mkldnn_rnn instead:
each layer-direction one node MkldnnRnnLayerBackward0 (MkldnnRnnLayer, a custom Function over
nn/_lstm_kernels.py's numpy forward and BPTT), its create_graph backward the composite layer
below run again and differentiated."""
from collections import namedtuple

from .. import dtypes as D
from ..autograd.api import grad as _grad
from ..backends import mkldnn
from ..creation import zeros
from ..grad_mode import TRANSFORMS
from ..pyfunc import as_native_node, Function, should_compute_output
from ..tape import STATE
from ..tensor import Tensor
from ..views import cat, stack
from . import _gates, _lstm_kernels, functional as F

# one layer-direction's weights, as aten's CellParams (b_ih, b_hh, w_hr may be None)
CellParams = namedtuple("CellParams", ["w_ih", "w_hh", "b_ih", "b_hh", "w_hr"])


# ---- one step, the input map already applied (x = input @ w_ih.T + b_ih) -------------------
def _tanh_step(x, h, p):
    return (F.linear(h, p.w_hh, p.b_hh) + x).tanh()


def _relu_step(x, h, p):
    return (F.linear(h, p.w_hh, p.b_hh) + x).relu()


def _lstm_step(x, hidden, p):
    h, c = hidden
    gates = F.linear(h, p.w_hh, p.b_hh) + x
    out = _gates.lstm(gates, c)          # (the ops below in one pass, where it can)
    if out is None:
        ingate, forgetgate, cellgate, outgate = gates.unsafe_chunk(4, 1)
        ingate, forgetgate = ingate.sigmoid(), forgetgate.sigmoid()
        cellgate, outgate = cellgate.tanh(), outgate.sigmoid()
        cy = forgetgate * c + ingate * cellgate
        hy = outgate * cy.tanh()
    else:
        hy, cy = out
    if p.w_hr is not None:           # projections: hy @ w_hr.T (MmBackward0)
        hy = hy.matmul(p.w_hr.t())
    return hy, cy


def _gru_step(x, h, p):
    hl = F.linear(h, p.w_hh, p.b_hh)
    out = _gates.gru(x, hl, h)           # (the ops below in one pass, where it can)
    if out is not None:
        return out
    igates = x.unsafe_chunk(3, 1)
    hgates = hl.unsafe_chunk(3, 1)
    reset_gate = (hgates[0] + igates[0]).sigmoid()
    input_gate = (hgates[1] + igates[1]).sigmoid()
    new_gate = (igates[2] + hgates[2] * reset_gate).tanh()
    return (h - new_gate) * input_gate + new_gate


STEPS = {"RNN_TANH": _tanh_step, "RNN_RELU": _relu_step, "LSTM": _lstm_step, "GRU": _gru_step}


# ---- the cells (torch.rnn_tanh_cell, lstm_cell, gru_cell): 2-d input and hidden ------------
def _check_cell_input(input, input_size):
    # (size(): torch's dim error for a 1-d input given to torch.gru_cell & co.)
    if input.size(1) != input_size:
        raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected "
                           f"{input_size}")


def _check_cell_hidden(input, hx, hidden_size, label):
    if input.size(0) != hx.size(0):
        raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{label} "
                           f"batch size {hx.size(0)}")
    if hx.size(1) != hidden_size:
        raise RuntimeError(f"hidden{label} has inconsistent hidden_size: got {hx.size(1)}, "
                           f"expected {hidden_size}")


def rnn_cell(mode, input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One step of an Elman cell ("RNN_TANH" / "RNN_RELU") or a GRU cell ("GRU"):
    torch.rnn_tanh_cell / rnn_relu_cell / gru_cell on a 2-d input and hidden state."""
    _check_cell_input(input, w_ih.shape[1])
    _check_cell_hidden(input, hx, w_hh.shape[1], 0)
    p = CellParams(w_ih, w_hh, b_ih, b_hh, None)
    return STEPS[mode](F.linear(input, w_ih, b_ih), hx, p)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step, torch.lstm_cell: (h, c) from a 2-d input and hx = (h0, c0)."""
    if not isinstance(hx, (tuple, list)):
        raise TypeError(f"lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, "
                        f"not {type(hx).__name__}")
    if len(hx) != 2:
        raise RuntimeError("lstm_cell expects two hidden states")
    _check_cell_input(input, w_ih.shape[1])
    _check_cell_hidden(input, hx[0], w_hh.shape[1], 0)
    _check_cell_hidden(input, hx[1], w_hh.shape[1], 1)
    p = CellParams(w_ih, w_hh, b_ih, b_hh, None)
    return _lstm_step(F.linear(input, w_ih, b_ih), tuple(hx), p)


# ---- whole sequences (torch._VF.rnn_tanh / rnn_relu / lstm / gru) --------------------------
def gather_params(flat_weights, has_biases, has_projections=False):
    """The flat weight list (w_ih, w_hh[, b_ih, b_hh][, w_hr] per layer-direction) grouped
    into CellParams."""
    n = 2 + 2 * bool(has_biases) + bool(has_projections)
    out = []
    for k in range(0, len(flat_weights), n):
        w = flat_weights[k:k + n]
        b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
        out.append(CellParams(w[0], w[1], b_ih, b_hh, w[-1] if has_projections else None))
    return out


def _full_layer(step, inputs, hidden, p, reverse, lstm):
    """One direction of one layer over a (T, B, I) sequence: (stacked outputs, final
    hidden)."""
    if inputs.shape[0] == 0:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    steps = F.linear(inputs, p.w_ih, p.b_ih).unbind(0)
    if reverse:
        steps = steps[::-1]
    outputs = []
    for x in steps:
        hidden = step(x, hidden, p)
        outputs.append(hidden[0] if lstm else hidden)
    if reverse:
        outputs.reverse()
    return stack(outputs, 0), hidden


def _hidden_slice(hidden, start, end, lstm):
    if lstm:
        return hidden[0].narrow(0, start, end - start), hidden[1].narrow(0, start, end - start)
    return hidden.narrow(0, start, end - start)


def _hidden_concat(hiddens, lstm):
    if lstm:
        return cat([h for h, _ in hiddens], 0), cat([c for _, c in hiddens], 0)
    return cat(hiddens, 0)


def _packed_layer(step, data, batch_sizes, hidden, p, lstm):
    """One layer forward over packed data (steps of shrinking batch sizes): (packed outputs,
    final hidden of every sequence).  A sequence's final state is set aside as the batch
    shrinks past it (aten's PackedLayer)."""
    xw = F.linear(data, p.w_ih, p.b_ih)
    outputs, finals = [], []
    offset, last = 0, batch_sizes[0]
    for b in batch_sizes:
        x = xw.narrow(0, offset, b)
        offset += b
        if last > b:
            finals.append(_hidden_slice(hidden, b, last, lstm))
            hidden = _hidden_slice(hidden, 0, b, lstm)
        last = b
        hidden = step(x, hidden, p)
        outputs.append(hidden[0] if lstm else hidden)
    finals.append(hidden)
    finals.reverse()
    return cat(outputs, 0), _hidden_concat(finals, lstm)


def _reversed_packed_layer(step, data, batch_sizes, input_hidden, p, lstm):
    """One layer backward over packed data: from the last step (smallest batch), growing
    the batch with the initial states of the sequences that start later (aten's
    ReversedPackedLayer)."""
    xw = F.linear(data, p.w_ih, p.b_ih)
    outputs = []
    offset, last = data.shape[0], batch_sizes[-1]
    hidden = _hidden_slice(input_hidden, 0, last, lstm)
    for b in reversed(batch_sizes):
        if b > last:
            hidden = _hidden_concat([hidden, _hidden_slice(input_hidden, last, b, lstm)], lstm)
        x = xw.narrow(0, offset - b, b)
        offset -= b
        last = b
        hidden = step(x, hidden, p)
        outputs.append(hidden[0] if lstm else hidden)
    outputs.reverse()
    return cat(outputs, 0), hidden


def rnn_packed(mode, data, batch_sizes, hiddens, params, num_layers, dropout, train,
               bidirectional):
    """`rnn` over a PackedSequence's data and batch sizes (a list of ints): (packed output
    data, the final states in hiddens' order)."""
    step, lstm = STEPS[mode], mode == "LSTM"
    finals = []
    layer_input = data
    for layer in range(num_layers):
        if bidirectional:
            fw, fw_h = _packed_layer(step, layer_input, batch_sizes, hiddens[2 * layer],
                                     params[2 * layer], lstm)
            bw, bw_h = _reversed_packed_layer(step, layer_input, batch_sizes,
                                              hiddens[2 * layer + 1], params[2 * layer + 1],
                                              lstm)
            layer_input = cat([fw, bw], -1)
            finals += [fw_h, bw_h]
        else:
            layer_input, h = _packed_layer(step, layer_input, batch_sizes, hiddens[layer],
                                           params[layer], lstm)
            finals.append(h)
        if dropout != 0 and train and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, True)
    return layer_input, finals


def rnn(mode, input, hiddens, params, num_layers, dropout, train, bidirectional,
        batch_first):
    """Run `num_layers` (bidirectional: pairs of) layers of cell `mode` over the sequence
    `input` ((T, B, I), or (B, T, I) when batch_first) from the per-layer-direction initial
    states `hiddens`, with dropout between layers while training.  Returns (output, the
    final states in hiddens' order)."""
    step, lstm = STEPS[mode], mode == "LSTM"
    if batch_first:
        input = input.transpose(0, 1)
    finals = []
    layer_input = input
    dirs = 2 if bidirectional else 1
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            out, final = _full_layer(step, layer_input, hiddens[k], params[k], d == 1, lstm)
            outs.append(out)
            finals.append(final)
        layer_input = outs[0] if dirs == 1 else cat(outs, outs[0].dim() - 1)
        if dropout != 0 and train and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, True)
    if batch_first:   # (torch's RNN/GRU transpose_ in place: TransposeBackward1; LSTM not)
        return (layer_input.transpose(0, 1) if lstm else layer_input.transpose_(0, 1)), finals
    return layer_input, finals


def _run(mode, input, batch_sizes, hiddens, params, num_layers, dropout, train,
         bidirectional, batch_first):
    if batch_sizes is None:
        return rnn(mode, input, hiddens, params, num_layers, dropout, train, bidirectional,
                   batch_first)
    return rnn_packed(mode, input, batch_sizes, hiddens, params, num_layers, dropout, train,
                      bidirectional)


def rnn_forward(mode, input, batch_sizes, hx, params, num_layers, dropout, train,
                bidirectional, batch_first):
    """torch._VF.rnn_tanh / rnn_relu / gru: (output, h_n) from hx (L * D, B, H); packed
    data when batch_sizes (a list of ints) is given."""
    output, finals = _run(mode, input, batch_sizes, hx.unbind(0), params, num_layers,
                          dropout, train, bidirectional, batch_first)
    return output, stack(finals, 0)


def lstm_forward(input, batch_sizes, hx, params, num_layers, dropout, train, bidirectional,
                 batch_first):
    """torch._VF.lstm: (output, h_n, c_n) from hx = (h0, c0): torch's oneDNN path where torch
    takes it (_onednn_case), else the composite one."""
    if batch_sizes is None and _onednn_case(input, hx, params):
        return _onednn_lstm(input, hx, params, num_layers, dropout, train, bidirectional,
                            batch_first)
    hiddens = list(zip(hx[0].unbind(0), hx[1].unbind(0)))
    output, finals = _run("LSTM", input, batch_sizes, hiddens, params, num_layers, dropout,
                          train, bidirectional, batch_first)
    return output, stack([h for h, _ in finals], 0), stack([c for _, c in finals], 0)


# ---- torch's oneDNN LSTM (aten/src/ATen/native/mkldnn/RNN.cpp: mkldnn_rnn) ------------------
def _onednn_case(input, hx, params):
    """Whether torch runs this LSTM with oneDNN (its use_mkldnn, no projections): a float32
    input, not empty, oneDNN enabled; states of another dtype are refused there with torch's
    kernel's error (use_mkldnn does not look at them); weights all float32 here (a mix is left
    to the composite path's errors).  Not while recording for replay or under a torch.func
    transform: the node computes in Python, which a replay cannot run (the composite path
    records as before)."""
    f32 = D.float32
    if input._dtype is not f32 or not mkldnn.enabled or TRANSFORMS.depth or \
            input.numel() == 0:
        return False
    if hx[0]._dtype is not f32 or hx[1]._dtype is not f32:
        raise RuntimeError("get_mkldnn_dtype: unsupported data type")
    if STATE.tape.recording or STATE.parked.recording:
        return False
    for p in params:
        if p.w_hr is not None:
            return False
        for w in p:
            if w is not None and w._dtype is not f32:
                return False
    return True


def _onednn_lstm(input, hx, params, num_layers, dropout, train, bidirectional, batch_first):
    """mkldnn_rnn: each layer-direction one MkldnnRnnLayer node on the time-major contiguous
    input (batch_first: a transpose and its clone), its initial states hx[k] (Select); the
    directions' outputs cat, dropout between layers, h_n and c_n stacked."""
    if batch_first:
        input = input.transpose(0, 1)
    layer_input = input.contiguous()
    h0, c0 = hx[0].contiguous(), hx[1].contiguous()
    dirs = 2 if bidirectional else 1
    hs, cs = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            p = params[k]
            b_ih, b_hh = p.b_ih, p.b_hh
            if b_ih is None:   # (torch passes zeros of the weights' shapes, its saved ones)
                b_ih, b_hh = zeros(p.w_ih.shape, dtype=D.float32), zeros(p.w_hh.shape,
                                                                          dtype=D.float32)
            out, h, c = MkldnnRnnLayer.apply(layer_input, p.w_ih, p.w_hh, b_ih, b_hh,
                                             h0.select(0, k), c0.select(0, k), d == 1,
                                             p.b_ih is not None,
                                             (num_layers, bidirectional, batch_first, train,
                                              p.w_hh.shape[1]))
            outs.append(out)
            hs.append(h)
            cs.append(c)
        layer_input = outs[0] if dirs == 1 else cat(outs, 2)
        if dropout != 0 and train and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, True)
    output = layer_input.transpose(0, 1) if batch_first else layer_input
    return output, stack(hs, 0), stack(cs, 0)


class MkldnnRnnLayer(Function):
    """One LSTM layer-direction as torch's mkldnn_rnn_layer: outputs (output (T, B, H), the
    last h, the last c), one node MkldnnRnnLayerBackward0 with edges (input, w_ih, w_hh,
    b_ih, b_hh, hx, cx).  Forward and BPTT in numpy (nn/_lstm_kernels.py); a backward with
    create_graph (grad mode on) runs the composite layer again on the saved inputs and
    differentiates it, so its gradients differentiate again (torch's
    mkldnn_rnn_layer_differentiable_backward)."""

    @staticmethod
    def forward(ctx, input, w_ih, w_hh, b_ih, b_hh, hx, cx, reverse, has_biases, options):
        b = b_ih._array() + b_hh._array() if has_biases else None
        h0, c0 = hx._array(), cx._array()
        out, acts, cs, outT = _lstm_kernels.forward(input._array(), w_ih._array(),
                                                    w_hh._array(), b, h0, c0, reverse)
        last = 0 if reverse else -1
        f32 = D.float32
        y = Tensor._wrap(out, f32)
        hy = Tensor._wrap(out[last].copy(), f32)
        cy = Tensor._wrap(cs[last].T.copy(), f32)
        # (the saved tensors torch saves, outputs included: their in-place changes raise)
        ctx.save_for_backward(input, w_ih, w_hh, b_ih, b_hh, hx, cx, y, hy, cy)
        ctx.acts, ctx.cs, ctx.outT = acts, cs, outT
        ctx.reverse, ctx.has_biases = reverse, has_biases
        # (the whole LSTM's num_layers, bidirectional, batch_first, train and hidden size:
        # torch's node keeps them, its `_saved_*` fields below)
        ctx.options = options
        return y, hy, cy

    @staticmethod
    def backward(ctx, dy, dhy, dcy):
        saved = ctx.saved_tensors
        need = [should_compute_output(ctx, k) for k in range(7)]
        if STATE.enabled:
            return _layer_grads_composite(ctx, saved[:7], (dy, dhy, dcy), need)
        input, w_ih, w_hh, _, _, hx, cx = saved[:7]
        dx, dwi, dwh, db, dh, dc = _lstm_kernels.backward(
            input._array(), w_ih._array(), w_hh._array(), hx._array(), cx._array(), ctx.acts,
            ctx.cs, ctx.outT, dy._array(), dhy._array(), dcy._array(), ctx.reverse, need[0])
        f32 = D.float32
        res = [dx, dwi, dwh, db, db.copy(), dh, dc]
        return tuple(Tensor._wrap(r, f32) if n else None for r, n in zip(res, need)) + \
            (None, None, None)


as_native_node(MkldnnRnnLayer, "MkldnnRnnLayerBackward0")


def _saved_fields(cls):
    """torch's node's `_saved_*` fields: its saved tensors (ctx.saved_tensors' order) and the
    layer's arguments; not its oneDNN workspace (`_saved_result3`), which has no value here."""
    tensors = ("input", "weight0", "weight1", "weight2", "weight3", "hx_", "cx_", "result0",
               "result1", "result2")
    for k, name in enumerate(tensors):
        setattr(cls, "_saved_" + name, property(lambda fn, k=k: fn.saved_tensors[k]))
    values = {"reverse": lambda fn: fn.reverse, "has_biases": lambda fn: fn.has_biases,
              "mode": lambda fn: 2,    # (aten's RNN mode enum: LSTM)
              "hidden_size": lambda fn: fn.options[4],
              "batch_sizes": lambda fn: (),   # (a packed input takes the composite path)
              "num_layers": lambda fn: fn.options[0],
              "bidirectional": lambda fn: fn.options[1],
              "batch_first": lambda fn: fn.options[2], "train": lambda fn: fn.options[3]}
    for name, get in values.items():
        setattr(cls, "_saved_" + name, property(get))


_saved_fields(MkldnnRnnLayer._backward_cls)


def _layer_grads_composite(ctx, saved, grads, need):
    """create_graph: the layer's gradients, differentiable, from the composite layer run
    again on the saved inputs."""
    input, w_ih, w_hh, b_ih, b_hh, hx, cx = saved
    if not ctx.has_biases:
        b_ih = b_hh = None
    p = CellParams(w_ih, w_hh, b_ih, b_hh, None)
    out, (hy, cy) = _full_layer(_lstm_step, input, (hx, cx), p, ctx.reverse, True)
    wanted = [k for k in range(7) if need[k]]
    res = [None] * 10
    if wanted:
        got = _grad((out, hy, cy), [saved[k] for k in wanted], grads, create_graph=True,
                    allow_unused=True)
        for k, g in zip(wanted, got):
            res[k] = g
    return tuple(res)


def zero_state(*shape, like):
    """Zeros of `shape` in the dtype of tensor `like` (a default initial state)."""
    return zeros(*shape, dtype=like.dtype)
