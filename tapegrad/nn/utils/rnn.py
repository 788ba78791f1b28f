"""torch.nn.utils.rnn: `PackedSequence` (variable-length sequences packed time step by time
step, longest first) and its helpers `pack_padded_sequence`, `pad_packed_sequence`,
`pad_sequence`, `unpad_sequence`, `pack_sequence`, `unpack_sequence`, `invert_permutation`,
with torch's signatures, checks and messages.

Packing gathers the valid steps with one advanced index of the flattened input
(IndexBackward0; torch's own kernel shows PackPaddedSequenceBackward0); padding writes them
into a tensor of `padding_value` slice by slice (CopySlices, as torch)."""
from collections.abc import Iterable

import numpy as np

from ... import dtypes as D
from ...creation import arange, as_tensor, full, tensor as _tensor
from ...structops import sort
from ...tensor import Tensor
from .._packed import (PackedSequence, PackedSequence_, _packed_sequence_init_args,  # noqa: F401
                       invert_permutation)

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


def _int_list(t):
    return [int(v) for v in np.asarray(t.numpy()).reshape(-1)]


def _pack(input, lengths, batch_first):
    """torch._VF._pack_padded_sequence: (data, batch_sizes) of a (T, B, *) input (B, T, *
    when batch_first) whose sequences have the sorted `lengths`."""
    if input.numel() <= 0:
        raise RuntimeError("Cannot pack empty tensors.")
    if lengths.dim() != 1:      # (lengths is int64 here: pack_padded_sequence converts it)
        raise RuntimeError("'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{lengths.dim()}D cpu Long tensor")
    steps, batch = (input.size(1), input.size(0)) if batch_first else (input.size(0),
                                                                        input.size(1))
    lens = _int_list(lengths)
    if len(lens) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lens)} (batch_size={batch})")
    if lens[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if any(a < b for a, b in zip(lens, lens[1:])):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                           "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                           "pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    if lens[0] > steps:
        raise RuntimeError(f"Expected sequence length to be at most {steps}, but got "
                           f"{lens[0]}")
    batch_sizes = [sum(1 for n in lens if n > t) for t in range(lens[0])]
    # the flat positions of step t of sequences 0..batch_sizes[t]-1, in packed order
    rows = [(b * steps + t) if batch_first else (t * batch + b)
            for t, bs in enumerate(batch_sizes) for b in range(bs)]
    flat = input.reshape((steps * batch,) + tuple(input.shape[2:]))
    data = flat[_tensor(np.array(rows, dtype=np.int64))]
    return data, _tensor(np.array(batch_sizes, dtype=np.int64))


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch of sequences of the given lengths (sorted longest first unless
    enforce_sorted=False, which sorts the batch and records the order)."""
    if not isinstance(lengths, Tensor):
        lengths = as_tensor(lengths, dtype=D.int64)
    else:
        lengths = lengths.to(dtype=D.int64)
    if enforce_sorted:
        sorted_indices = None
    else:
        lengths, sorted_indices = sort(lengths, descending=True)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    data, batch_sizes = _pack(input, lengths, batch_first)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def _unpack(data, batch_sizes, batch_first, padding_value, total_length):
    """torch._VF._pad_packed_sequence: (padded (T, B, *), lengths int64)."""
    bs = _int_list(batch_sizes)
    max_batch, real_len = bs[0], len(bs)
    out = full((total_length, max_batch) + tuple(data.shape[1:]), padding_value,
               dtype=data.dtype)
    lengths = [0] * max_batch
    offset, prev_bs, prev_i = 0, max_batch, 0
    for i in range(real_len + 1):
        b = bs[i] if i != real_len else 0
        if b != prev_bs:        # steps prev_i..i-1 have prev_bs sequences: one block copy
            n = prev_bs * (i - prev_i)
            block = data[offset:offset + n].view((i - prev_i, prev_bs) + tuple(data.shape[1:]))
            out[prev_i:i, :prev_bs] = block
            offset += n
            prev_i = i
        for j in range(b, prev_bs):
            lengths[j] = i
        prev_bs = b
    if batch_first:
        out = out.transpose(0, 1)
    return out, _tensor(np.array(lengths, dtype=np.int64))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded batch, lengths), padded with
    padding_value to the longest sequence (or total_length steps)."""
    max_seq_length = sequence.batch_sizes.size(0)
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             "sequence in input, but got "
                             f"total_length={total_length} and max sequence length being "
                             f"{max_seq_length}")
        max_seq_length = total_length
    padded_output, lengths = _unpack(sequence.data, sequence.batch_sizes, batch_first,
                                     padding_value, max_seq_length)
    unsorted_indices = sequence.unsorted_indices
    if unsorted_indices is not None:
        batch_dim = 0 if batch_first else 1
        return padded_output.index_select(batch_dim, unsorted_indices), lengths[unsorted_indices]
    return padded_output, lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of different lengths (L_i, *) into (L_max, B, *) ((B, L_max, *) when
    batch_first), padded with padding_value on the right (or left)."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg "
                           f"of type: {type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    max_len = max(s.shape[0] for s in sequences)
    trailing = tuple(sequences[0].shape[1:])
    n = len(sequences)
    out = full(((n, max_len) if batch_first else (max_len, n)) + trailing, padding_value,
               dtype=sequences[0].dtype)
    for i, seq in enumerate(sequences):
        length = seq.shape[0]
        start = max_len - length if padding_side == "left" else 0
        # (copy_ into a view, as torch: CopySlices, and copy_'s broadcasting errors)
        if batch_first:
            out.select(0, i).narrow(0, start, length).copy_(seq)
        else:
            out.narrow(0, start, length).select(1, i).copy_(seq)
    return out


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences padded_sequences holds, each cut to its length."""
    if not batch_first:
        padded_sequences.transpose_(0, 1)   # (torch's: the caller's tensor is transposed)
    idx = arange(padded_sequences.shape[1])
    return [seq[idx < length] for seq, length in zip(padded_sequences, lengths, strict=True)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of variable-length sequences (longest first unless
    enforce_sorted=False)."""
    lengths = as_tensor([v.size(0) for v in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences a PackedSequence holds."""
    padded_sequences, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded_sequences, lengths, batch_first=True)
