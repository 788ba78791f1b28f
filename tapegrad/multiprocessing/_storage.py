"""Shared-memory storage for tensors (`Tensor.share_memory_`, `is_shared`, the reducers).

A tensor's storage is its numpy array (a view's array is a numpy view of its base's), and a
numpy array cannot change its memory.  So moving a storage into shared memory makes one
shared buffer, copies the allocation into it, and rebinds every tensor whose array lies in
that allocation (the base, its views, `.data` and `detach()` aliases, found by one scan of
the live objects) to an array at the same offset and strides in the buffer: views made
before and after `share_memory_()` keep seeing the same memory, as torch's (whose views
share a StorageImpl whose data pointer it swaps).  numpy arrays taken with `numpy()` before
keep the old memory (in torch they dangle).

A buffer is an anonymous file (memfd; a file in /dev/shm unlinked at once where there is no
memfd) mapped MAP_SHARED and kept open: a forked child inherits the mapping, and the reducers
send the descriptor to other processes (torch's "file_descriptor" strategy).  There is no name
to leak: the memory is freed when the last process closes its descriptor and mapping."""
import ctypes
import gc
import mmap
import os
import tempfile
import weakref

import numpy as np

from ..tensor import Tensor


class SharedBuffer(mmap.mmap):
    """A shared mapping of an anonymous file; `fd` stays open while the buffer lives (the
    reducers pass it on), closed by a finalizer."""


# the buffers mapped here, by file identity: a storage received twice (or sent back to the
# process that shared it) maps to the same buffer, as torch's shared_cache
_BY_FILE = weakref.WeakValueDictionary()


def _file_id(fd):
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _anonymous_file():
    if hasattr(os, "memfd_create"):
        return os.memfd_create("tapegrad-shared", os.MFD_CLOEXEC)
    fd, path = tempfile.mkstemp(prefix="tapegrad-shared-",
                                dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    os.unlink(path)
    return fd


def map_file(fd, nbytes):
    """The buffer over open file `fd` (taken over: closed with the buffer, or now if that
    file is mapped here already)."""
    key = _file_id(fd)
    buf = _BY_FILE.get(key)
    if buf is not None:
        os.close(fd)
        return buf
    buf = SharedBuffer(fd, max(nbytes, 1))   # (an empty storage: one byte, as mmap needs)
    buf.fd = fd
    buf.nbytes = nbytes
    weakref.finalize(buf, os.close, fd)
    _BY_FILE[key] = buf
    return buf


def new_buffer(nbytes):
    fd = _anonymous_file()
    os.ftruncate(fd, max(nbytes, 1))
    return map_file(fd, nbytes)


def buffer_of(arr):
    """The SharedBuffer that ndarray `arr` lies in, else None."""
    b = arr
    while b is not None:
        if isinstance(b, SharedBuffer):
            return b
        b = b.obj if isinstance(b, memoryview) else getattr(b, "base", None)
    return None


def is_shared(t):
    v = t._v
    return type(v) is not float and buffer_of(v) is not None


def _root(arr):
    """The array owning `arr`'s allocation (through as_strided's interface holders too)."""
    while True:
        b = arr.base
        if not isinstance(b, np.ndarray):
            b = getattr(b, "base", None)   # (as_strided: a DummyArray holding the array)
            if not isinstance(b, np.ndarray):
                return arr
        arr = b


def _address(arr):
    return arr.__array_interface__["data"][0]


def address_of(buf):
    return _address(np.frombuffer(buf, np.uint8))


def view_in(buf, offset, shape, dtype, strides, writeable=True):
    """An ndarray over `buf` from byte `offset` (kept as an array: never a float)."""
    out = np.ndarray(shape, dtype, buffer=buf, offset=offset, strides=strides)
    if not writeable:
        out.flags.writeable = False
    return out


_SLOT = Tensor.__dict__["_v"]   # the value slot (see share_tensors)


def share_tensors(tensors):
    """Move the storages of `tensors` into shared memory in place (one buffer per storage),
    rebinding every live tensor that uses them."""
    moves = []     # (lo, hi, buffer) per allocation moved
    for t in tensors:
        v = t._v
        if type(v) is float:   # the scalar fast path holds no storage: a new array
            buf = new_buffer(np.dtype(t._dtype.np).itemsize)
            t._v = view_in(buf, 0, t._shape, t._dtype.np, None)
            t._v[...] = v
            continue
        if buffer_of(v) is not None or any(lo <= _address(v) < hi for lo, hi, _ in moves):
            continue
        lo, hi = np.lib.array_utils.byte_bounds(_root(v))
        buf = new_buffer(hi - lo)
        if hi > lo:
            ctypes.memmove(address_of(buf), lo, hi - lo)
        moves.append((lo, hi, buf))
    if not moves:
        return
    for o in gc.get_objects():
        # (the type, not isinstance: a proxy's __class__ may warn; the slot itself, not a
        # subclass's property: an uninitialized parameter's refuses)
        if not issubclass(type(o), Tensor):
            continue
        try:
            v = _SLOT.__get__(o)
        except AttributeError:
            continue
        if not isinstance(v, np.ndarray):
            continue
        a = _address(v)
        for lo, hi, buf in moves:
            if lo <= a < hi or v.size == 0 and a == hi:
                o._v = view_in(buf, a - lo, v.shape, v.dtype, v.strides, v.flags.writeable)
                if getattr(o, "_recorded", False):
                    o._lserial = 0   # a later use records the new array (tape.leaf_node)
                break
