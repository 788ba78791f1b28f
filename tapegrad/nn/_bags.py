"""nn.functional.embedding_bag: sums, means or maxima of bags of embedding rows, recorded as
one decomposition row shown as torch's `EmbeddingBagBackward0` (tapegrad/ops.py; edges
weight, per_sample_weights).

The bags are fixed when the call is made (offsets and indices are integer inputs that need no
gradient): sum and mean gather the kept rows (padding_idx dropped), scale them by
per_sample_weights, and sum each bag with a constant 0/1 matrix (mean: then divided by the
bag's size, an empty bag giving 0); max gathers each bag's rows into a (bags, longest bag,
dim) block padded with -inf and takes the maximum over the bag (the gradient goes to the
first maximum, as torch's), an empty bag giving 0.  The maxima are torch.max over the bag,
so a replay with new weights checks they are where they were (BranchChanged otherwise)."""
import math
import warnings

import numpy as np

from .. import dtypes as D, errors
from ..creation import tensor as _tensor_of
from ..ndops import where
from ..tensor import _int_arg, Tensor
from ._basic import _record
from ._decomps import grad_scaled

__all__ = ["embedding_bag"]


# NOTE: torch's CPU kernel adds each bag's rows in order (acc += row; with
# per_sample_weights acc = fma(row, weight, acc), or acc + row * weight rounded once more
# when a padding_idx is given).  Bags of at most CHAIN rows are summed so,
# step by step (the fma in float32 as the float64 sum rounded once), for torch's values bit
# for bit; longer ones by a product with a 0/1 matrix (one entry; float32 rounding).
CHAIN = 64


def bag_body(T, weight, psw, mode, block, bags, counts, fused, inv_freq=None):
    """The row's body.  block = (index (B, L): each bag's rows, padded; positions (B, L) of
    those rows in the input (for psw); valid (B, L, 1)); bags: None (sum step by step, or the
    maxima), or (the kept rows, the (B, kept) 0/1 matrix, their positions); counts: the bag
    sizes (B, 1) for mean, the non-empty mask for max; fused: torch's fmas of
    per_sample_weights (its kernel without padding_idx; with one it rounds each product, then
    adds); inv_freq (scale_grad_by_freq): 1 / the count of each weight row's index in the
    input, (rows, 1), which scales the gradient of each row looked up."""
    def rows_at(i):
        g = weight[i]
        return g if inv_freq is None else grad_scaled(g, inv_freq[i])

    index, positions, valid = block
    if mode == "max":
        g = where(valid, weight[index], -math.inf)
        if g.shape[1] > 1:
            # torch's kernel keeps a bag's first row, then a row only where it is greater: a
            # nan after the first never wins (one first stays)
            later = _tensor_of(np.arange(g.shape[1])[:, None] > 0)
            g = where((g != g) & later, -math.inf, g)
        m = g.max(1).values if g.shape[1] else g.sum(1)
        return where(counts, m, 0.0)
    if bags is not None:
        rows, ones, pos = bags
        g = rows_at(rows)
        if psw is not None:
            g = g * psw[pos].unsqueeze(1)
        out = ones.matmul(g)
    else:
        out = None
        for k in range(index.shape[1]):
            v = valid[:, k]
            t = where(v, rows_at(index[:, k]), 0.0)
            if psw is not None:
                p = where(v, psw[positions[:, k]].unsqueeze(1), 0.0)
                if out is None:
                    out = t * p
                elif fused and out.dtype is D.float32:
                    out = (t.double() * p.double() + out.double()).float()
                else:
                    out = t * p + out
            else:
                out = t if out is None else out + t
        if out is None:   # every bag empty: zeros
            out = weight[:0].sum(0, keepdim=True).expand(index.shape[0], weight.shape[1])
            if psw is not None:   # (its edge and zero gradient, as torch's)
                out = out + psw[:0].sum()
    if mode == "mean":
        out = out / counts
    return out


# NOTE: torch's CPU backward of embedding_bag (sum and mean) with scale_grad_by_freq divides
# the gradient of the k-th distinct index (in sorted order) by the count of the index at
# position k of the *sorted indices*, not by that index's own count (it reads
# counts[indices[k]] where it means counts[indices[start of segment k]]): with indices
# [0, 2, 2, 5, 0, 0, 1, 2], row 1 is scaled by 1/3.  Users switching from torch get its
# gradients, so this is what the scale is here too (F.embedding's own count is right).
def _torch_freq_scale(idx, n_rows):
    """Per weight row: the factor torch's embedding_bag backward scales its gradient by."""
    scale = np.ones(n_rows)
    if idx.size:
        counts = np.bincount(idx, minlength=n_rows)
        ordered = np.sort(idx, kind="stable")
        distinct = np.unique(idx)
        scale[distinct] = 1.0 / counts[ordered[:distinct.size]]
    return scale


def _index_error():
    raise RuntimeError("Expected i < index_size to be true, but got false.  (Could this error "
                       "message be improved?  If so, please report an enhancement request to "
                       "PyTorch.)")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sums (mode='sum', with per_sample_weights), means or maxima of bags of rows of weight:
    input 1-d with offsets (bag b is input[offsets[b]:offsets[b + 1]]), or 2-d (one bag a row)
    (EmbeddingBagBackward0)."""
    if isinstance(weight, Tensor) and isinstance(input, Tensor) and \
            weight.dtype is D.int64 and input.dtype.is_floating_point:
        warnings.warn("Argument order of nn.functional.embedding_bag was changed. Usage "
                      "`embedding_bag(weight, input, ...)` is deprecated, and should now be "
                      "`embedding_bag(input, weight, ...)`.", stacklevel=2)
        weight, input = input, weight
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) "
                         f"is not None, then it must have the same shape as the input "
                         f"({input.shape})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.dim()}")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {type(offsets)}")
        if input.dtype is D.bool_:   # (torch's offsets: an arange in the input's dtype)
            raise NotImplementedError("\"arange_cpu\" not implemented for 'Bool'")
        offs = np.arange(0, input.numel(), input.shape[1]) if input.shape[1] else \
            np.zeros(input.shape[0], np.int64)
        include_last_offset = False
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        offs = None
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max":
        if scale_grad_by_freq:
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        if sparse:
            raise ValueError("max mode does not support sparse weights")
    if sparse:
        raise NotImplementedError("tapegrad: embedding_bag(sparse=True) is not implemented "
                                  "(tapegrad has no sparse tensors); use sparse=False: the "
                                  "dense gradient has the same values")
    if max_norm is not None:   # (torch's renorm takes the indices as given: Long or Int)
        check_renorm(weight, input)
        embedding_renorm_(weight, input._array(), float(max_norm), float(norm_type))
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
            "GitHub.")
    # torch promotes the indices and the offsets to their common dtype, then checks that
    common = input.dtype if offs is not None else D.promote_types(input.dtype, offsets.dtype)
    if common not in (D.int64, D.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"{errors.checked_type_name(common)} instead (while checking "
                           f"arguments for embedding_bag)")
    if per_sample_weights is not None and per_sample_weights.dtype is not weight.dtype:
        raise RuntimeError(f"Expected tensor for argument #1 'weight' to have the same type as "
                           f"tensor for argument #1 'per_sample_weights'; but type "
                           f"tapegrad.{weight.dtype.legacy}Tensor does not equal "
                           f"tapegrad.{per_sample_weights.dtype.legacy}Tensor (while checking "
                           f"arguments for embedding_bag)")
    n_rows = weight.shape[0]
    if padding_idx is not None:
        # (first torch.embedding_bag's parser: an int, not a float, bool or float tensor)
        padding_idx = _int_arg(padding_idx, "embedding_bag", "padding_idx", 9).__index__()
        if not -n_rows <= padding_idx < n_rows:
            raise RuntimeError(f"padding_idx must be within the number of embeddings, "
                               f"-{n_rows} through {n_rows - 1}, but got {padding_idx}")
        padding_idx = padding_idx % n_rows
    idx = input._array().astype(np.int64).reshape(-1)
    n = idx.size
    if offs is None:
        offs = offsets._array().astype(np.int64).reshape(-1)
        if offs.size and offs[0] != 0:
            raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the "
                               f"mini-batch has to start from position 0. However, got "
                               f"{int(offs[0])}\n[ tapegrad.{common.legacy}Tensor{{}} ]")
        if offs.size and offs[-1] > n:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but "
                               f"got offsets[-1] of {int(offs[-1])}")
    if include_last_offset:
        starts, ends = offs[:-1], offs[1:]
    else:
        starts, ends = offs, np.append(offs[1:], n).astype(np.int64)
    bad = np.flatnonzero((idx < 0) | (idx >= n_rows))
    # NOTE: torch's float32 sums and means without padding_idx run fbgemm, whose report of
    # a bad index depends on where it falls in its blocks: one message stands for it here;
    # torch's own loop (the other cases) names the first bad index
    fbgemm = weight.dtype is D.float32 and mode != "max" and padding_idx is None
    if bad.size and not fbgemm:
        raise RuntimeError(f"embedding_bag: Expected idx >= 0 && idx < num_embeddings but "
                           f"found idx to be {int(idx[bad[0]])}")
    if bad.size or np.any(ends < starts):
        _index_error()
    n_bags = starts.size
    bag_of = np.full(n, -1, np.int64)            # each position's bag (-1: in none)
    for b in range(n_bags):
        bag_of[starts[b]:ends[b]] = b
    keep = bag_of >= 0
    if padding_idx is not None:
        keep &= idx != padding_idx
    pos = np.flatnonzero(keep)
    counts = np.bincount(bag_of[pos], minlength=n_bags)[:n_bags]
    dt = weight.dtype.np
    longest = int(counts.max()) if n_bags else 0
    index = np.zeros((n_bags, longest), np.int64)
    positions = np.zeros((n_bags, longest), np.int64)
    valid = np.zeros((n_bags, longest, 1), bool)
    for b in range(n_bags):
        members = pos[bag_of[pos] == b]
        index[b, :members.size] = idx[members]
        positions[b, :members.size] = members
        valid[b, :members.size] = True
    block = (_tensor_of(index), _tensor_of(positions), _tensor_of(valid))
    psw = per_sample_weights
    if mode == "max":
        return _record("embedding_bag", bag_body, weight, psw, mode, block, None,
                       _tensor_of((counts > 0)[:, None]), False)
    bags = None
    if longest > CHAIN:
        ones = np.zeros((n_bags, pos.size), dt)
        ones[bag_of[pos], np.arange(pos.size)] = 1
        bags = (_tensor_of(idx[pos]), _tensor_of(ones), _tensor_of(pos))
    sizes = _tensor_of(np.maximum(counts, 1).astype(dt)[:, None]) if mode == "mean" else None
    inv_freq = None
    if scale_grad_by_freq:
        inv_freq = _tensor_of(_torch_freq_scale(idx, n_rows).astype(dt)[:, None])
    return _record("embedding_bag", bag_body, weight, psw, mode, block, bags, sizes,
                   padding_idx is None, inv_freq)


def check_renorm(weight, indices):
    """torch.embedding_renorm_'s checks, in its order (F.embedding's and F.embedding_bag's
    max_norm run it before their own): a 2-d weight, Long or Int indices, and a floating
    weight (its norms: else torch's norm() error, never integer rows scaled to zero)."""
    if weight.dim() != 2:
        raise RuntimeError(f"Expected 2-dimensional tensor, but got {weight.dim()}-dimensional "
                           f"tensor for argument #1 'self' (while checking arguments for "
                           f"embedding_renorm_)")
    if indices.dtype not in (D.int64, D.int32):
        raise RuntimeError(f"Expected tensor for argument #2 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"{errors.checked_type_name(indices.dtype)} instead (while checking "
                           f"arguments for embedding_renorm_)")
    if not weight.dtype.is_floating_point:
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                           f"Got {weight.dtype.legacy} instead.")


def embedding_renorm_(weight, index, max_norm, norm_type):
    """torch.embedding_renorm_ (F.embedding's and F.embedding_bag's max_norm): the rows of
    weight at `index` (once each; negative indices count from the end, as torch's select)
    whose norm exceeds max_norm scaled by max_norm / (norm + 1e-7), in place; not recorded
    (torch runs it under no_grad), one version bump."""
    w = weight.detach()
    n = weight.shape[0]
    rows = np.unique(index.reshape(-1))
    bad = np.flatnonzero((rows < -n) | (rows >= n))
    if bad.size:
        # torch walks the sorted indices, selecting each row: those before the first out of
        # range are renormalized, then select() raises
        renorm = rows[:bad[0]]
        if renorm.size:
            embedding_renorm_(weight, renorm, max_norm, norm_type)
        raise IndexError(f"select(): index {int(rows[bad[0]])} out of range for tensor of size "
                         f"{list(weight.shape)} at dimension 0")
    rows = np.unique(rows % n)
    vals = w._array()[rows].astype(np.float64)
    with np.errstate(all="ignore"):   # (an inf row: nan after the scaling, silently as torch)
        if norm_type == math.inf:
            norms = np.abs(vals).max(axis=1)
        elif norm_type == 0:
            norms = (vals != 0).sum(axis=1).astype(np.float64)
        else:
            norms = (np.abs(vals) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        big = norms > max_norm
        new = w._array().copy()
        new[rows[big]] = vals[big] * (max_norm / (norms[big] + 1e-7))[:, None]
    w._assign(new)
