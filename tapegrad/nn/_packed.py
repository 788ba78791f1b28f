"""`PackedSequence` (re-exported by `tapegrad.nn.utils.rnn`, whose helpers make it): here, below
`nn.modules`, so that the recurrent modules use it without importing `nn.utils` (whose
parametrizations and fusions import the modules)."""
from typing import NamedTuple

import numpy as np

from .. import dtypes as D
from ..creation import tensor as _tensor
from ..tensor import Tensor


class PackedSequence_(NamedTuple):
    __module__ = "tapegrad.nn.utils.rnn"
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor
    unsorted_indices: Tensor


def _bind(optional, fn):
    return None if optional is None else fn(optional)


class PackedSequence(PackedSequence_):
    """A batch of variable-length sequences packed by time step: `data` holds step 0 of
    every sequence, then step 1 of those still running, ...; `batch_sizes[t]` how many run
    at step t; `sorted_indices` / `unsorted_indices` the batch order it was sorted into
    (None when the input was sorted).  Made by pack_padded_sequence / pack_sequence."""
    __module__ = "tapegrad.nn.utils.rnn"

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        return super().__new__(cls, *_packed_sequence_init_args(data, batch_sizes,
                                                                sorted_indices,
                                                                unsorted_indices))

    def to(self, *args, **kwargs):
        """The packed data converted by Tensor.to (self when nothing changes)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args, **kwargs):
        """self.to(*args, **kwargs) (tapegrad runs on the CPU)."""
        return self.to(*args, **kwargs)

    def double(self):
        """The data as float64."""
        return self.to(dtype=D.float64)

    def float(self):
        """The data as float32."""
        return self.to(dtype=D.float32)

    def long(self):
        """The data as int64."""
        return self.to(dtype=D.int64)

    def int(self):
        """The data as int32."""
        return self.to(dtype=D.int32)

    @property
    def is_cuda(self):
        """False: the data is on the CPU."""
        return False

    def is_pinned(self):
        """False (no pinned memory in tapegrad)."""
        return False


def _packed_sequence_init_args(data, batch_sizes=None, sorted_indices=None,
                               unsorted_indices=None):
    if unsorted_indices is None:
        unsorted_indices = invert_permutation(sorted_indices)
    if batch_sizes is not None:
        return data, batch_sizes, sorted_indices, unsorted_indices
    if not (isinstance(data, (list, tuple)) and len(data) == 2):
        raise AssertionError("Expected data to be a list or tuple of length 2")
    return data[0], data[1], sorted_indices, unsorted_indices


def invert_permutation(permutation):
    """The inverse of a permutation tensor (None for None)."""
    if permutation is None:
        return None
    output = np.empty(permutation.numel(), dtype=np.int64)
    output[permutation.numpy()] = np.arange(permutation.numel())
    return _tensor(output, dtype=permutation.dtype)
