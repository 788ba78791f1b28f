"""An atomic fetch-and-add for the batch kernels' work counter (Numba has atomics for CUDA
only).  Imported by the generated tapegrad/_kernels.py, so importing tapegrad stays free of
numba.

Why the batch kernels need it: a call's threads (tapegrad.batchrun) each take their next
chunk of points from a shared counter with this, so a thread that starts late or is slowed
does fewer chunks instead of holding up the call.  (When the threads were a `prange`,
`numba.parallel_chunksize` did not make it dynamic under the 'omp' and 'workqueue' layers:
with one iteration of 32 costing 40x the others, thread 0 still ran 0-15 and thread 1 16-31.)
"""
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

__all__ = ["fetch_add"]


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
