"""Pickling tensors between processes (multiprocessing's ForkingPickler: Queue, Pipe, the
arguments of a spawned Process), as torch.multiprocessing.reductions.

A tensor in shared memory (`share_memory_()`) travels as its buffer's file descriptor
(multiprocessing.reduction.DupFd, torch's "file_descriptor" strategy) or, under the
"file_system" strategy, as the path /proc/<pid>/fd/<fd> of the sender's descriptor, plus
offset, shape and strides: the receiver's tensor uses the same memory.  Unlike torch, a tensor
not in shared memory is copied (pickled by value) rather than moved into shared memory first:
that move rebinds all the tensors of its storage (a scan of the live objects) on every put."""
import importlib
import os
import pickle
from multiprocessing import reduction

from ..parameter import Parameter
from ..tensor import Tensor
from . import _storage

# loaded now, as torch does, so that a child forked while a queue's feeder thread pickles
# does not inherit it half-initialized (DupFd uses it)
importlib.import_module("multiprocessing.resource_sharer")

# set by the package (set_sharing_strategy); read when a tensor is pickled
STRATEGY = ["file_descriptor"]

NON_LEAF = ("Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
            "does not support crossing process boundaries.  If you just want to transfer the "
            "data, call detach() on the tensor before serializing (e.g., putting it on the "
            "queue).")


def rebuild_tensor(cls, buf, offset, shape, dtype, strides, requires_grad):
    arr = _storage.view_in(buf, offset, shape, dtype.np, strides)
    t = Tensor._wrap(arr, dtype)
    t._v = arr      # (kept an array also with one element: it is the shared memory)
    if cls is Parameter:
        return Parameter(t, requires_grad)
    if requires_grad:
        t.requires_grad = True
    return t


def rebuild_buffer_fd(df, nbytes):
    return _storage.map_file(df.detach(), nbytes)


def rebuild_buffer_filename(path, nbytes):
    return _storage.map_file(os.open(path, os.O_RDWR | os.O_CLOEXEC), nbytes)


def reduce_buffer(buf):
    if STRATEGY[0] == "file_system":
        return rebuild_buffer_filename, (f"/proc/{os.getpid()}/fd/{buf.fd}", buf.nbytes)
    return rebuild_buffer_fd, (reduction.DupFd(buf.fd), buf.nbytes)


def reduce_tensor(t):
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError(NON_LEAF)
    v = t._v
    buf = None if type(v) is float else _storage.buffer_of(v)
    if buf is None:
        return t.__reduce_ex__(pickle.DEFAULT_PROTOCOL)
    offset = _storage._address(v) - _storage.address_of(buf)
    return rebuild_tensor, (type(t), buf, offset, v.shape, t._dtype, v.strides,
                            t.requires_grad)


def init_reductions():
    reduction.register(_storage.SharedBuffer, reduce_buffer)
    reduction.register(Tensor, reduce_tensor)
    reduction.register(Parameter, reduce_tensor)
