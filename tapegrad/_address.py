"""Loads at raw addresses, for the batch kernel that reads its inputs where the caller's arrays
are (`drivers.replay_batch`).  Imported by the generated tapegrad/_kernels.py, so importing
tapegrad stays free of numba.

Why: `value_and_grad_batch` takes one (B,) + shape array per input, 100 of them for a
Rosenbrock of 100 leaves.  Copying them into one staging array (1.6 MB at B = 2000) took
40-150 us on the calling thread, in the serial part of a ~3 ms two-thread call; and reading
100 data addresses from Python (`a.ctypes.data`) takes ~80 us.  What Python hands the kernel
instead is each array's `id()` (~3 us for 100); the kernel reads the data address from the
array object itself, at the offset `batchbuf.DATA_OFFSET` found and checked at import.
"""
import numpy as np
from numba.core import types
from numba.extending import intrinsic, overload

__all__ = ["load_at"]


def load_at(addr, index, like):
    """Element `index` of the array of `like`'s dtype at address `addr` (an int).  In compiled
    code one load; from Python (a driver run as plain Python, as tests do) through ctypes.
    The caller vouches that the memory is there and alive."""
    dt = np.dtype(like.dtype)
    ctype = np.ctypeslib.as_ctypes_type(dt)
    return dt.type(ctype.from_address(int(addr) + int(index) * dt.itemsize).value)


@overload(load_at)
def _load_at_compiled(addr, index, like):
    if (isinstance(addr, types.Integer) and isinstance(index, types.Integer)
            and isinstance(like, types.Array) and isinstance(like.dtype, (types.Float, types.Integer))):
        return lambda addr, index, like: _load(addr, index, like)
    return None


@intrinsic
def _load(typingctx, addr, index, like):
    dtype = like.dtype

    def codegen(context, builder, sig, args):
        base = context.cast(builder, args[0], sig.args[0], types.intp)
        i = context.cast(builder, args[1], sig.args[1], types.intp)
        ptr = builder.inttoptr(base, context.get_data_type(dtype).as_pointer())
        return builder.load(builder.gep(ptr, [i]))

    return dtype(addr, index, like), codegen
