"""Atomics for the batch threads (Numba has atomics for CUDA only): the fetch-and-add of the
batch kernels' work counter, and the acquire loads, release stores and spin pause of the
waits between a call's threads (tapegrad._handoff).  Imported by the generated
tapegrad/_kernels.py and by tapegrad/_handoff.py, so importing tapegrad stays free of numba.

Why the batch kernels need it: a call's threads (tapegrad.batchrun) each take their next
chunk of points from a shared counter with this, so a thread that starts late or is slowed
does fewer chunks instead of holding up the call.  (When the threads were a `prange`,
`numba.parallel_chunksize` did not make it dynamic under the 'omp' and 'workqueue' layers:
with one iteration of 32 costing 40x the others, thread 0 still ran 0-15 and thread 1 16-31.)
A spin loop's test needs an atomic load: a plain one LLVM may hoist out of the loop.
"""
import ctypes
import platform

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

__all__ = ["fetch_add", "load_acquire", "load_acquire_at", "store_release", "spin_pause"]


def fetch_add(counter, inc):
    """`counter[0] += inc` as one atomic step; returns the value before it.  `counter` is a
    1-d int64 array.  In compiled code an atomic add; from Python (a driver run as plain
    Python, one thread, as tests do) a plain one."""
    old = int(counter[0])
    counter[0] = old + inc
    return old


@overload(fetch_add)
def _fetch_add_compiled(counter, inc):
    if isinstance(counter, types.Array) and counter.dtype == types.int64 and counter.ndim == 1:
        return lambda counter, inc: _atomic_add(counter, inc)
    return None


@intrinsic
def _atomic_add(typingctx, counter, inc):
    """Relaxed ("monotonic") ordering: the counter only hands out indices; the results each
    thread writes are published by the end of the parallel region."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64
            and counter.ndim == 1 and isinstance(inc, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        aryty, incty = sig.args
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary,
                                       [context.get_constant(types.intp, 0)])
        step = context.cast(builder, args[1], incty, types.int64)
        return builder.atomic_rmw("add", ptr, step, "monotonic")

    return types.int64(counter, inc), codegen


def load_acquire(array, index):
    """`array[index]` (a 1-d int64 array) read as one atomic load that later reads cannot pass:
    a spin loop's test of a word another thread writes.  From Python a plain read."""
    return int(array[index])


def load_acquire_at(address):
    """The int64 at `address` (an int), as load_acquire reads it.  The caller vouches that the
    memory is there and alive.  From Python through ctypes."""
    return ctypes.c_int64.from_address(int(address)).value


def store_release(array, index, value):
    """`array[index] = value` as one atomic store that earlier writes cannot pass: what the
    other thread reads after it sees this value is there.  From Python a plain write."""
    array[index] = value


def spin_pause():
    """A spin loop's pause (x86 `pause`: a spinning core yields its pipeline and saves power);
    nothing elsewhere and from Python."""


@overload(load_acquire)
def _load_acquire_compiled(array, index):
    if _int64_vector(array) and isinstance(index, types.Integer):
        return lambda array, index: _atomic_load(array, index)
    return None


@overload(load_acquire_at)
def _load_acquire_at_compiled(address):
    if isinstance(address, types.Integer):
        return lambda address: _atomic_load_at(address)
    return None


@overload(store_release)
def _store_release_compiled(array, index, value):
    if _int64_vector(array) and isinstance(index, types.Integer) and isinstance(value, types.Integer):
        return lambda array, index, value: _atomic_store(array, index, value)
    return None


@overload(spin_pause)
def _spin_pause_compiled():
    return lambda: _pause()


def _int64_vector(array):
    return isinstance(array, types.Array) and array.dtype == types.int64 and array.ndim == 1


def _element_pointer(context, builder, sig, args):
    aryty, indexty = sig.args[0], sig.args[1]
    ary = context.make_array(aryty)(context, builder, args[0])
    index = context.cast(builder, args[1], indexty, types.intp)
    return cgutils.get_item_pointer(context, builder, aryty, ary, [index])


@intrinsic
def _atomic_load(typingctx, array, index):
    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig, args)
        value = builder.load_atomic(ptr, "acquire", 8)
        return value

    return types.int64(array, index), codegen


@intrinsic
def _atomic_load_at(typingctx, address):
    def codegen(context, builder, sig, args):
        word = context.cast(builder, args[0], sig.args[0], types.intp)
        ptr = builder.inttoptr(word, context.get_data_type(types.int64).as_pointer())
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(address), codegen


@intrinsic
def _atomic_store(typingctx, array, index, value):
    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig, args)
        word = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(word, ptr, "release", 8)
        return context.get_dummy_value()

    return types.none(array, index, value), codegen


@intrinsic
def _pause(typingctx):
    def codegen(context, builder, sig, args):
        if _X86:
            fnty = ir.FunctionType(ir.VoidType(), [])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.none(), codegen


_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
