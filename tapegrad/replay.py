"""Record once, replay many: a recorded tape re-evaluated at new inputs inside Numba.

    tape = tapegrad.record(f, x, y)          # runs f once on a fresh recording tape
    tape(x2, y2)                              # values at new inputs
    tape.value_and_grad(x2, y2)               # (value, (dx, dy)) from one Numba call

Recording runs `f` eagerly with its tensor arguments as the only inputs; everything else
(Python numbers, closed-over tensors) is baked into the tape as a constant.  Where `f` turns a
traced value into a Python value (`if x > 0`, `float(x)`, `x.item()`, `x.tolist()`, indexing
with a traced index), the tape gets a guard entry holding what was observed; every replay
re-checks the guards and raises `BranchChanged` (naming the source line) when one differs.
`tapegrad.where` selects on values without a guard.  `compile` wraps this: it records per
input signature and re-records when a guard fails.

After recording, the tape is compacted into a `Recorded` program: only entries that outputs
or guards depend on, renumbered, with the value arena laid out once (constants, baked values
and expected guard values prefilled).  A replay writes the inputs into that arena, runs the
generated forward kernel, then the reverse sweep, in one call.
"""
import math
import threading
import warnings
from collections import OrderedDict

import numpy as np

from . import dtypes as D
from . import tapefile
from . import hooks
from . import settings, tiers
from .batchrun import run_parts
from . import batchbuf
from .batchbuf import IN_PLACE_FLAGS, PAGE, BatchBuffers, aligned_empty as _aligned_empty, sources
from ._jit import K
from .autograd import grad
from .engine import _Side   # (the DIRECT protocol's side: {node: gradient made})
from .ops import BY_CODE, KIND_CODE, OPS
from .random import default_generator, draw_state, drew_since
from .kinds import (HOST_FORWARD, HOST_VJP, LISTS as LIST_KINDS,
                    MODULE_OF as KIND_MODULES, tensor_forward)
from .kinds.matmul import host_forward as matmul_forward, operands as _mm_operands
from .errors import TracingError, user_stacklevel
from .fpstate import quiet
from .tapefile import TapeFormatError
from .tape import (STATE, CLOSED, OPCODE, Tape, OP_CONST, OP_LEAF, _DIFFERENTIABLE, _SAVES,
                   HOST_ONLY_OPS)
from .tensor import Tensor
from . import steptrace
from .trainstep import DREW, StepProgram, StepTrace
from .views import KIND_OPS
from .ndops import FORMULA_NS, SIMD_OPS, _binary, _unary, unary_into

__all__ = ["record", "Recorded", "compile", "load_tape", "BranchChanged", "TracingError",
           "TapeFormatError"]

_KIND = [op.kind for op in BY_CODE]
_KIND_CODES = np.array([KIND_CODE[op.kind] for op in BY_CODE], np.int64)
_MATMUL_KIND = KIND_CODE["matmul"]
_SHAPED = ("reduce", "strided", "scatter")   # kinds whose params count follows ranks
_GUARDS = {OPS["guard_bool"].code, OPS["guard_value"].code}


_NUMBER_TYPES = {float, int, np.float64, np.float32, np.int64}


# what a replay's inputs came as (Recorded._load), and so its results go out as
_ARRAYS, _TENSORS, _NUMBERS = 0, 1, 2


def _as_given(arr, dt, came):
    """A replay's result `arr` (of dtype dt) as its inputs came: a tensor, an array, or for
    numbers a numpy scalar when it has one element and no dimensions."""
    if came == _TENSORS:
        return Tensor._wrap(arr, dt)
    return arr[()] if came == _NUMBERS else arr


class BranchChanged(RuntimeError):
    """A replay reached a guard whose recorded outcome differs at these inputs."""


# ---- recording ---------------------------------------------------------------------------------
def record(fn, *example_args, strict=False):
    """Run `fn(*example_args)` once on a recording tape and return the compiled `Recorded`.

    Tensor arguments (floating point) are the inputs, in order; every other argument is a
    constant.  With `strict=True`, any conversion of a traced value to a Python value raises
    `TracingError` instead of recording a guard."""
    tape, inputs, argn = _input_leaves(example_args, strict)
    result, drew = _traced_call(fn, tape, inputs, example_args, argn)
    if drew:
        warnings.warn(RANDOM_BAKED, UserWarning, stacklevel=2)
    single, outputs = _as_outputs(result)
    return _compile(tape, inputs, outputs, single)


def _integer_argument(i, a):
    return TypeError(f"record: tensor argument {i} has dtype {a.dtype}; inputs must be floating "
                     f"point (pass integer data as a non-tensor constant)")


def _input_leaves(example_args, strict, integers_baked=False):
    """(recording tape, a fresh leaf per tensor argument, the arguments' positions).
    `integers_baked`: an integer tensor argument is a constant of the trace (no input)."""
    tape = Tape(recording=True, strict=strict)
    inputs, argn = [], []
    for i, a in enumerate(example_args):
        if isinstance(a, Tensor):
            if not a.dtype.is_floating_point:
                if integers_baked:
                    continue
                raise _integer_argument(i, a)
            if hooks.has_hooks(a):
                raise RuntimeError(f"record: tensor argument {i} has hooks registered; a replay "
                                   f"runs no Python between its kernels, so they would not run "
                                   f"(remove them, or call the function eagerly)")
            leaf = Tensor._wrap(np.array(a._array(), copy=True), a.dtype, True)
            tape.input_ids.add(id(leaf))
            tape.leaf_node(leaf)
            inputs.append(leaf)
            argn.append(i)
    return tape, inputs, argn


def _traced_call(fn, tape, inputs, example_args, argn):
    """(fn's result called on the recording tape with the tensor arguments at positions argn
    replaced by their leaves, whether it drew from the default random generator)."""
    call_args = list(example_args)
    for i, leaf in zip(argn, inputs):
        call_args[i] = leaf
    drawn = draw_state()
    prev = STATE.tape, STATE.parked, STATE.enabled
    # (nothing that calls between the switch and `try`: a Ctrl-C landing in a call there
    # left this thread recording onto the dead tape, with its backwards giving no .grad)
    STATE.tape, STATE.parked, STATE.enabled = tape, CLOSED, True
    try:
        result = fn(*call_args)
    finally:
        STATE.tape, STATE.parked, STATE.enabled = prev
    if tape.changed_constants():
        raise TracingError(
            "tapegrad.record: a tensor the function read was then changed in place by an "
            "operation the tape does not record (under no_grad, or of a tensor that needs no "
            "grad): a replay would read one value for its uses before and after the change; "
            "clone it before changing it")
    return result, drew_since(drawn)


# A recorded program has no random ops: what the function drew is one of its constants
RANDOM_BAKED = (
    "record/compile: the function drew random numbers while it was recorded (rand, randn, "
    "dropout in training mode, a distribution's sample ...): they are constants of the recorded "
    "program, so every replay reuses the same draws.  Draw them outside and pass them in as "
    "arguments to get fresh ones at each call.")


def _as_outputs(result):
    single = isinstance(result, Tensor)
    if not single and not isinstance(result, (tuple, list)):
        # (a number, None, a dict: not iterated into something else's complaint)
        raise TypeError(f"record: fn must return a tensor or a tuple of tensors, got "
                        f"{type(result).__name__}")
    outputs = (result,) if single else tuple(result)
    for o in outputs:
        if not isinstance(o, Tensor):
            raise TypeError(f"record: fn must return tensors, got {type(o).__name__}")
    return single, outputs


def _output_node(tape, t):
    if t._tape is tape:
        return t._node
    if t._tape is None and id(t) in tape.input_ids:
        return tape.leaf_of[id(t)][0]
    arr = np.asarray(t._array(), dtype=np.float64)  # does not depend on the inputs
    if arr.size == 1:
        return tape.push(OP_CONST, -1, -1, 0.0, float(arr.reshape(-1)[0]))
    n = tape.const_node(arr)
    tape.save(n, arr)
    return n


def _compile(tape, inputs, outputs, single, inputs_first=False):
    """The Recorded program of `outputs` (tensors of recording tape `tape`) as functions of
    the leaves `inputs`.  With `inputs_first`, the inputs' entries come first, in order (their
    arena slices then follow each other: a step program writes them with one copy)."""
    in_nodes = [tape.leaf_of[id(x)][0] for x in inputs]
    out_nodes = [_output_node(tape, o) for o in outputs]
    n = tape.n
    op = tape._arrays[0][:n].copy()
    ia = tape._arrays[1][:n].astype(np.int64)
    ib = tape._arrays[2][:n].astype(np.int64)
    imm = tape._arrays[3][:n].copy()
    val = tape._arrays[4][:n].copy()
    _, _, arg_ptr, arg = tape.dependencies(n)

    # live entries: what the outputs and the guards depend on, plus every input
    live = np.zeros(n, np.uint8)
    live[in_nodes] = 1
    live[out_nodes] = 1
    live[np.isin(op, list(_GUARDS))] = 1
    K.mark_live(ia, ib, arg_ptr, arg, live)
    live = live.astype(bool)
    keep = np.flatnonzero(live)
    if inputs_first:   # (input entries have no operands: any place keeps the order valid)
        first = np.asarray(in_nodes, np.int64)
        keep = np.concatenate([first, keep[~np.isin(keep, first)]])
    new = np.full(n, -1, np.int64)
    new[keep] = np.arange(len(keep))

    def remap(x):
        return np.where(x >= 0, new[np.maximum(x, 0)], -1)

    prog = {"op": op[keep], "ia": remap(ia[keep]), "ib": remap(ib[keep]), "imm": imm[keep]}
    par = np.full(len(keep), -1, np.int64)
    params = []
    nds = tape.nds
    if nds is not None:
        for e in np.flatnonzero(live & (nds.par[:n] >= 0)).tolist():
            vals = tape.params_of(e)
            kind = _KIND[op[e]]
            if kind in _SHAPED:
                # one-element nodes are 0-d to the kernels, which then read fewer params than
                # the shapes recorded (a (1, 1) view's strides, a sum of one element's kept
                # shape): keep what they read, the params slice a tape file allows
                na, ne = (len(tape.shape.get(x, ())) for x in (int(ia[e]), e))
                vals = vals[:int(tapefile.params_needed(KIND_CODE[kind], 0, na, 0, ne))]
            par[new[e]] = sum(len(v) for v in params)
            params.append(vals)
    prog["par"] = par
    # the operand lists of the kept entries, renumbered (CSR: arg_ptr has one item more)
    counts = np.diff(arg_ptr)
    owner = np.repeat(np.arange(n), counts)
    prog["arg"] = new[arg[live[owner]]].astype(np.int64)
    prog["arg_ptr"] = np.concatenate([[0], np.cumsum(counts[keep])]).astype(np.int64)
    prog["host"] = tape.host_flags(n)[keep].copy()
    # never empty (a 0-d .sum() has params of length 0): readers gather params[par] unmasked
    params = np.concatenate(params).astype(np.int64) if params else np.zeros(0, np.int64)
    prog["params"] = params if len(params) else np.zeros(1, np.int64)
    shapes = {int(new[e]): tuple(s) for e, s in tape.shape.items() if live[e]}
    saved = {}
    if nds is not None:
        for e in np.flatnonzero(live & (nds.slot[:n] >= 0)).tolist():
            saved[int(new[e])] = np.asarray(tape.saved_array(e), np.float64)
    dtype = np.float64 if any(x.dtype is D.float64 for x in inputs + list(outputs)) else np.float32
    meta = {
        "inputs": [[int(new[v]), list(x.shape), x.dtype.name] for v, x in zip(in_nodes, inputs)],
        "outputs": [[int(new[v]), list(o.shape), o.dtype.name] for v, o in zip(out_nodes, outputs)],
        "single": single, "dtype": np.dtype(dtype).name,
        "guards": {str(int(new[e])): src for e, src in tape.guard_src.items() if live[e]},
        "shapes": {str(k): list(v) for k, v in shapes.items()},
    }
    prog["val"] = val[keep]
    prog["saved_nodes"] = np.array(sorted(saved), np.int64)
    prog["saved_data"] = (np.concatenate([saved[k].reshape(-1) for k in sorted(saved)])
                          if saved else np.zeros(0))
    return Recorded(prog, meta)


# A cap on the batch calls' threads for the calling thread only (tapegrad.dask: tasks that
# run at once in one worker process, each given its share), set by cap_batch_threads;
# None: none.
# Not Numba's set_num_threads: that launches Numba's OpenMP layer, and with it sets the
# thread count of the process's libgomp, which torch shares (_threads).
_CAP = threading.local()


class cap_batch_threads:
    """`with cap_batch_threads(k):` batch calls made by this thread use at most k threads
    (None: no cap).  tapegrad.dask runs each task's batch call in one: concurrent tasks do
    not see each other's caps."""

    def __init__(self, k):
        self.k = k

    def __enter__(self):
        self.saved = getattr(_CAP, "k", None)
        _CAP.k = self.k

    def __exit__(self, *exc):
        _CAP.k = self.saved


def _threads():
    """Batch replay's default thread count: torch's intra-op count (set_num_threads), at most
    Numba's and the calling thread's cap (cap_batch_threads).  Numba's is read without
    launching Numba's threading layer when nothing has (tapegrad's batch threads are its own,
    batchrun): launching its OpenMP layer sets the thread count of the process's libgomp,
    which torch shares, so a torch.set_num_threads(1) made before was undone by the first
    batch call.  Unlaunched, the count is the configured one (only numba.set_num_threads
    could lower it, and that launches the layer)."""
    from numba import config, get_num_threads
    from numba.np.ufunc import parallel
    if not getattr(parallel, "_is_initialized", True):
        k = min(settings.get_num_threads(), config.NUMBA_NUM_THREADS)
    else:
        k = min(settings.get_num_threads(), get_num_threads())
    cap = getattr(_CAP, "k", None)
    return k if cap is None else min(k, cap)


# A batch call uses a second thread only when each thread gets at least BATCH_GRAIN entry
# evaluations (B points x (the arena's length + BATCH_POINT_COST, a point's own loads, clears
# and stores) per sweep), as torch's parallel_for runs a range below its grain size inline.
# Waking a sleeping thread costs a call ~100-180 us on this VM (waiting threads sleep at once:
# measured with Numba's OpenMP threads, GOMP_SPINCOUNT=0, before tapegrad.batchrun's): a
# 2-thread call of 8 points took 131-182 us against 18-21 us on one.
# An evaluation is ~4.3 ns here, so the grain is ~140 us of work; 1 vs 2 threads broke even
# at 64 points of Rosenbrock n = 100 (271 vs 261 us) and ~1000 of a 4-entry tape (103 vs 118).
BATCH_GRAIN = 1 << 15
BATCH_POINT_COST = 16


def _batch_threads(B, per_point):
    """Threads for a batch call of B points of `per_point` entry evaluations each."""
    return max(1, min(_threads(), B * per_point // BATCH_GRAIN))


# The batch kernels hand each thread chunks of consecutive points from a counter (replay_batch:
# one per thread's home range, drivers.chunk_starts): about this many chunks per thread (more
# balance the end of a call better; each costs one atomic add)
BATCH_CHUNKS_PER_THREAD = 32
_LINE = 64      # bytes in a cache line
_NDARRAY = id(np.ndarray)   # (drivers.inputs_in_place: an exact ndarray's type)
# int64 in _Work.counter per thread: each home range's chunk counter alone on a pair of lines
_COUNTER_STRIDE = 2 * _LINE // 8


def _line_points(itemsize):
    """Points per cache line of the outputs a point writes one element of (values, status and,
    column-major, each gradient row): chunks of whole lines are written by one thread each."""
    return _LINE // min(itemsize, 8)        # status is int64


def _chunk(B, threads, itemsize):
    """Points per chunk of a batch kernel: ~BATCH_CHUNKS_PER_THREAD chunks per thread, and a
    whole number of cache lines of the outputs a point writes one element of (values, status
    and, column-major, each gradient row), so that no cache line is written by two threads."""
    per_line = _line_points(itemsize)
    c = -(-B // (threads * BATCH_CHUNKS_PER_THREAD))
    return max(per_line, -(-c // per_line) * per_line)


class _Work:
    """A batch kernel's per-thread scratch for one tape: row t of each array is thread t's
    (value arena, adjoint arena, reached flags), each row on pages of its own; plus the shared
    host flags (all zero: a batch never pauses) and the chunk counters (one per thread's home
    range: drivers.chunk_starts) on a page of their own, each alone on a pair of cache lines,
    which the spatial prefetcher fetches together.
    Kept across calls in `Recorded._work_pool` (per thread count), so a call allocates and
    first-touches no arena (the kernel used to allocate four arrays per run of points: 64-128
    per call).

    Why pages, not cache lines: a thread sweeps its arenas end to end at every point, and the
    hardware's stream prefetchers run ahead of it past the end of its row, into the next
    thread's, taking lines that thread is writing; only a page boundary stops them.  With rows
    padded to whole lines only, Rosenbrock n=100 at B=2000 on 2 threads took 3.9-4.7 ms per
    call instead of 2.9 for seconds at a time (when the VM's two vCPUs sat on cores far apart),
    both threads slowed alike; page-aligned rows took 2.95 ms there (p90 over 300 samples
    3.95 -> 3.02 ms)."""
    __slots__ = ("vals", "adj", "reach", "no_host", "counter")

    def __init__(self, threads, n, total, dtype):
        pad = PAGE // np.dtype(dtype).itemsize
        width = -(-max(total, 1) // pad) * pad
        self.vals, self.adj, self.reach, self.counter = _aligned_empty(
            ((threads, width), dtype), ((threads, width), dtype),
            ((threads, -(-max(n, 1) // PAGE) * PAGE), np.uint8),
            ((_COUNTER_STRIDE * threads,), np.int64), align=PAGE)
        self.no_host = np.zeros(n, np.uint8)

    def args(self):
        return self.vals, self.adj, self.reach, self.no_host, self.counter


class _Plan:
    """Recorded._plan's result: what later reverse sweeps from one output zero and write."""
    __slots__ = ("zero", "needs", "handed_off", "handing")

    def __init__(self, zero, needs, handed_off, handing):
        self.zero, self.needs, self.handed_off, self.handing = zero, needs, handed_off, handing


def _given(direct, a, b):
    """(A, B) for kinds.matmul.operands: the arrays _load put in `direct` for nodes a, b,
    None for the arena's."""
    return (direct.get(a), direct.get(b)) if direct else (None, None)


# Elementwise entries of at least this many elements whose eager numpy face is a SIMD loop
# (ndops.SIMD_OPS) run on the host in a replay's forward: a pause costs ~5 us, the SIMD loop
# saves 2-15 ns per element (vocab.Fn.simd)
HOST_EW_MIN = 2048


def _branch_mode(branch_changed):
    """True for "mask", False for "raise" (what a batch does at a point whose branch changed)."""
    if branch_changed not in ("raise", "mask"):
        raise ValueError(f"branch_changed must be 'raise' or 'mask', got {branch_changed!r}")
    return branch_changed == "mask"


def _dtype(name):
    return D.bool_ if name == "bool" else getattr(D, name)


# ---- the compiled program ------------------------------------------------------------------------
class Recorded:
    """A recorded tape, compacted into arrays; replays it at new inputs (see module doc)."""

    def __init__(self, prog, meta):
        prog["op"] = np.ascontiguousarray(prog["op"], OPCODE)  # one kernel specialization
        self.prog = prog
        self.meta = meta
        self.dtype = np.dtype(meta["dtype"])
        n = len(prog["op"])
        shapes = {int(k): tuple(v) for k, v in meta["shapes"].items()}
        size, nd, shp = tapefile.layout(n, shapes)
        off = np.zeros(n, np.int64)
        if n:
            np.cumsum(size[:-1], out=off[1:])
        total = int(off[-1] + size[-1]) if n else 0
        vals0 = np.zeros(total, self.dtype)
        held = size > 0     # (a zero-size node's offset may be the arena's end)
        vals0[off[held]] = prog["val"][held]
        pos = 0
        for k in prog["saved_nodes"].tolist():
            vals0[off[k]:off[k] + size[k]] = prog["saved_data"][pos:pos + size[k]]
            pos += size[k]
        self._vals0 = vals0
        self.off, self.size, self.shp, self.nd = off, size, shp, nd
        self._freed = np.zeros(n, np.uint8)
        # entries whose forward and VJP run in numpy between kernel segments (large matmuls,
        # LAPACK): a tape with one takes the n-d kernels, which pause, even if all its nodes
        # have one element (a 1x1 matrix)
        self.host = np.ascontiguousarray(prog.get("host", np.zeros(n, np.uint8)), np.uint8)
        self.scalar = not shapes and not self.host.any()
        # the forward also pauses at large elementwise entries whose eager numpy face is a
        # SIMD loop (ndops.SIMD_OPS): numpy writes their values, as the eager ops did
        self._fwd_host = self.host
        simd = SIMD_OPS.get(self.dtype)
        if simd is not None and n:
            numpy_ew = simd[prog["op"]] & (size >= HOST_EW_MIN)
            if numpy_ew.any():
                self._fwd_host = self.host | numpy_ew
        lapack = np.flatnonzero(HOST_ONLY_OPS[prog["op"]])
        self._host_only = BY_CODE[int(prog["op"][lapack[0]])].name if len(lapack) else None
        self._paused = not self.scalar and bool(self._fwd_host.any())
        self.inputs = [(node, tuple(s), _dtype(dt)) for node, s, dt in meta["inputs"]]
        self.outputs = [(node, tuple(s), _dtype(dt)) for node, s, dt in meta["outputs"]]
        self.in_offs = np.array([off[node] for node, _, _ in self.inputs], np.int64)
        self.in_sizes = np.array([size[node] for node, _, _ in self.inputs], np.int64)
        self._reach = {}
        self._local = threading.local()
        self._owner = threading.get_ident()
        self._vals, self._adj = vals0.copy(), np.zeros_like(vals0)
        # ia and ib in the kernels as int32, the eager tape's index type (prog keeps the tape
        # file's int64): the sweeps a replay and an eager backward both call are then one
        # specialization each, not two (sweep_core ~5 s, sweep ~10 s of a cold compile)
        index = np.int32 if n < 2 ** 31 else np.int64
        self._kargs = (prog["op"], prog["ia"].astype(index), prog["ib"].astype(index), prog["imm"],
                       prog["par"], prog["params"], prog["arg_ptr"], prog["arg"])
        # the per-call fast path of value_and_grad: Python numbers in, numpy scalars out
        one = len(self.outputs) == 1 and int(size[self.outputs[0][0]]) == 1
        self._vg_out = self.outputs[0][0] if one else None
        # (an input of a narrower dtype than the tape's, float32 on a float64 tape, takes the
        # general path: its number is rounded to the input's dtype there)
        self._narrow = [i for i, (_, _, dt) in enumerate(self.inputs) if dt.np != self.dtype]
        self._vg_scalar = one and self.scalar and all(int(s) == 1 for s in self.in_sizes) and \
            not self._narrow
        self._in_list = [int(o) for o in self.in_offs]
        self._direct = self._direct_inputs() if self._paused else frozenset()
        self._in_list_sizes = [int(k) for k in self.in_sizes]
        # value_and_grad_batch: inputs that are all 0-d and of the tape's dtype need no
        # per-input reshaping or casting (one stack in, the gradient rows out as they are)
        self._in_shapes = [shape for _, shape, _ in self.inputs]
        self._in_plain = all(shape == () and dt.np == self.dtype for _, shape, dt in self.inputs)
        # (drivers.inputs_in_place's expected shapes: input i's from shape_ptr[i], CSR)
        self._in_dims = (np.cumsum([0] + [len(s) for s in self._in_shapes], dtype=np.int64),
                         np.array([d for s in self._in_shapes for d in s], np.int64))
        self._out_off = int(off[self._vg_out]) if one else -1
        self._vg_entry = None
        # _vg_call's arguments on the owner's arena with `zero` False, and whether that arena's
        # adjoints are as replay_scalar_core left them (zero but at the leaves): then it need
        # not zero them.  `_arena` clears the flag: whoever it hands the arena to may write it.
        self._vg_args = None
        self._vg_clean = False
        self._leaves = np.flatnonzero(prog["op"] == OP_LEAF)   # (replay_scalar_core's `leaves`)
        self._scalar_pair = None
        self._bop = {}
        self._plans = {}    # {out: _backward_paused's plan}
        self._vg_skip = self._skip(self._vg_out) if one and self.scalar else None
        self._tier = None
        self._batch_kernels = {}   # _batch_kernel's choices
        self._swept = False     # value_and_grad has run its reverse sweep once
        self._work_pool = {}    # {threads: [_Work not in use]} (see _launch_batch)
        self._io_pool = []      # [BatchBuffers not in use] (see _io)
        # replay_batch's input layouts (see its doc): per input array, or columns of one (B, n)
        self._zero_off = np.zeros(len(self.inputs), np.int64)
        self._flat_off = np.cumsum([0] + self._in_list_sizes, dtype=np.int64)[:-1]
        self._flat_step = np.full(len(self.inputs), sum(self._in_list_sizes), np.int64)

    # -- bookkeeping ------------------------------------------------------------------------
    def __len__(self):
        return len(self.prog["op"])

    def __repr__(self):
        return (f"<tapegrad.Recorded: {len(self)} entries, {len(self.inputs)} inputs, "
                f"{len(self.outputs)} outputs, {len(self.meta['guards'])} guards, {self.dtype}>")

    @property
    def guards(self):
        """{entry: 'file:line: source'} of every guard the replay checks."""
        return {int(k): v for k, v in self.meta["guards"].items()}

    def _args(self):
        return self._kargs

    def _arena(self):
        """This thread's work arena (constants prefilled once; inputs overwritten per call)."""
        if threading.get_ident() == self._owner:
            self._vg_clean = False
            return self._vals, self._adj
        vals = getattr(self._local, "vals", None)
        if vals is None:
            vals = self._local.vals = self._vals0.copy()
            self._local.adj = np.zeros_like(vals)
        return vals, self._local.adj

    def _kernel_tier(self):
        """The highest kernel tier an op of this n-d tape needs (tapegrad.tiers): its replays
        call that tier's kernels (one compile, no lower kernel compiled just to stop)."""
        tier = self._tier
        if tier is None:
            tier = self._tier = int(K.OP_TIER[self.prog["op"]].max(initial=0))
        return tier

    def _scalar_kernels(self):
        """(replay_scalar, forward_scalar) for this one-element tape: their core copies unless
        an outlined row is on it (fewer branches to compile: docs/design.md, "Kernel tiers")."""
        kernels = self._scalar_pair
        if kernels is None:
            if K.OP_EW[self.prog["op"]].any():
                kernels = (K.replay_scalar, K.forward_scalar)
            else:
                kernels = (K.replay_scalar_core, K.forward_scalar_core)
            self._scalar_pair = kernels
        return kernels

    def _batch_kernel(self, face):
        """This tape's copy of batch kernel `face` ("replay_batch", "jacobian_batch"): the
        one-element tape's or the n-d one's, of the lowest tier that has its ops
        (codegen.DRIVER_VARIANTS: each copy compiles only the kernels it calls)."""
        name = self._batch_kernels.get(face)
        if name is None:
            if face == "replay_batch" and self.scalar:
                full = K.OP_EW[self.prog["op"]].any()   # (as _scalar_kernels)
                name = "replay_batch_scalar" if full else "replay_batch_scalar_core"
            else:
                name = face if self._kernel_tier() > 0 else face + "_core"
                # (a batch cannot stop at an entry whose kind's piece is not compiled)
                tiers.fill_pieces(self.prog["op"], self.dtype, size=self.size)
            self._batch_kernels[face] = name
        return getattr(K, name)

    def _static_reach(self, out):
        """Entries the gradient of `out` passes through (the replay's backward skips the rest)."""
        r = self._reach.get(out)
        if r is None:
            p = self.prog
            r = np.zeros(len(self), np.uint8)
            r[out] = 1
            K.mark_live(self._kargs[1], self._kargs[2], p["arg_ptr"], p["arg"], r)
            self._reach[out] = r
        return r

    def _static_bop(self, out):
        """The opcode stream of the reverse sweep from `out` in `replay_scalar_core`: `op` with 0 (a
        leaf: no branch) at the entries `_static_reach(out)` leaves out, so that the sweep
        skips them by its dispatch, with no test of its own per entry."""
        b = self._bop.get(out)
        if b is None:
            op = self.prog["op"]
            b = self._bop[out] = np.where(self._static_reach(out) != 0, op, 0).astype(op.dtype)
        return b

    def _skip(self, out):
        """What this tape's replay kernel (`_scalar_kernels()[0]`) takes to skip the entries
        that do not reach `out`: `_static_bop` for `replay_scalar_core`, `_static_reach` for
        `replay_scalar`."""
        if self._scalar_kernels()[0] is K.replay_scalar_core:
            return self._static_bop(out)
        return self._static_reach(out)

    def _direct_inputs(self):
        """The input nodes that only matmul host entries read (and that are no output): a
        paused replay can give those entries the caller's array itself (`_load`'s `direct`),
        never copied into the arena (a 1000x100 float64 weight: ~30 us a call)."""
        p, n = self.prog, len(self)
        ia, ib, arg_ptr, arg = self._kargs[1], self._kargs[2], p["arg_ptr"], p["arg"]
        candidates = np.zeros(n, bool)
        candidates[[node for node, _, _ in self.inputs]] = True
        candidates[[node for node, _, _ in self.outputs]] = False
        mm = (self.host != 0) & (_KIND_CODES[p["op"]] == _MATMUL_KIND)
        for col in (ia, ib):   # (a reader of any other kind rules its operand out)
            m = (col >= 0) & ~mm
            candidates[col[m]] = False
        used = int(arg_ptr[n]) if len(arg) else 0
        candidates[arg[:used]] = False
        return frozenset(np.flatnonzero(candidates).tolist())

    def _load(self, args, vals, direct=None):
        """Validate args and write them into the arena, each in its input's dtype; returns what
        came in: _TENSORS (some tensors), _NUMBERS (numbers only) or _ARRAYS.  With `direct`
        (a dict), an input of `_direct` given as a C-contiguous array of the tape's dtype is
        put there ({node: its flat array}) instead: the caller passes `direct` to the paused
        sweeps, which hand it to the matmul entries that read it."""
        if len(args) != len(self.inputs):
            raise TypeError(f"this tape takes {len(self.inputs)} inputs, got {len(args)}")
        tensors, numbers = False, True
        for i, (a, (node, shape, dt)) in enumerate(zip(args, self.inputs)):
            if type(a) is np.ndarray and a.dtype == dt.np and a.shape == shape:
                # (the usual input: an array of the input's dtype and shape, for which every
                # test below passes and no cast is due; a 4-input float64 step: 11 -> 6 us)
                numbers = False
                if direct is not None and node in self._direct and a.dtype == self.dtype and \
                        a.flags.c_contiguous:
                    direct[node] = a.reshape(-1)
                else:
                    o = self.off[node]
                    vals[o:o + self.size[node]] = a.reshape(-1)
                continue
            if isinstance(a, Tensor):
                tensors = True
                if a.dtype is not dt:
                    raise TypeError(f"input {i}: expected dtype {dt}, got {a.dtype}")
                arr = a._array()
            elif isinstance(a, (float, int)) and not isinstance(a, bool):
                if shape != () and int(np.prod(shape)) != 1:
                    raise ValueError(f"input {i}: expected shape {shape}, got a number")
                o = self.off[node]
                # (a number for a float32 input of a float64 tape: rounded to float32, as the
                # eager input holds it)
                vals[o] = a if dt.np == self.dtype else quiet(dt.np.type, a)
                continue
            else:
                numbers = numbers and isinstance(a, np.generic)
                arr = np.asarray(a)
                if arr.dtype.kind not in "fiu":
                    raise TypeError(f"input {i}: expected a real array, got dtype {arr.dtype}")
                if arr.dtype.kind == "f" and arr.dtype != dt.np:
                    raise TypeError(f"input {i}: expected dtype {dt.np.name}, got {arr.dtype.name}")
            if tuple(np.shape(arr)) != shape:
                raise ValueError(f"input {i}: expected shape {shape}, got {tuple(np.shape(arr))}")
            o = self.off[node]
            arr = np.asarray(arr)
            if arr.dtype != dt.np and dt.np != self.dtype:   # (integers for a float32 input
                arr = quiet(arr.astype, dt.np)                # of a float64 tape: rounded)
            if direct is not None and node in self._direct and arr.dtype == self.dtype and \
                    arr.flags.c_contiguous:
                direct[node] = arr.reshape(-1)
                continue
            vals[o:o + self.size[node]] = arr.reshape(-1)
        return _TENSORS if tensors else _NUMBERS if numbers else _ARRAYS

    def _check(self, status):
        if status >= 0:
            src = self.meta["guards"].get(str(int(status)), "<unknown>")
            raise BranchChanged(f"the recorded tape does not hold at these inputs: the value "
                                f"checked at {src} differs from when it was recorded; record "
                                f"again (tapegrad.compile does so automatically)")

    def _out(self, vals, k, came):
        node, shape, dt = self.outputs[k]
        o = self.off[node]
        return _as_given(np.array(vals[o:o + self.size[node]], dtype=dt.np).reshape(shape), dt,
                         came)

    def _grad(self, adj, i, came, handed=None):
        node, shape, dt = self.inputs[i]
        g = handed.get(node) if handed else None
        if g is not None:   # (a product of this call, no one else's: handed out as it is)
            return _as_given(g.reshape(shape).astype(dt.np, copy=False), dt, came)
        o = self.off[node]
        return _as_given(np.array(adj[o:o + self.size[node]], dtype=dt.np).reshape(shape), dt,
                         came)

    # -- public replay API ------------------------------------------------------------------
    def forward(self, *args):
        """Outputs at new inputs (numpy arrays, or tensors when tensors came in)."""
        return self._forward(args, numbers=_ARRAYS)

    def _forward(self, args, numbers):
        """forward, its outputs for inputs that are all numbers as `numbers` says."""
        vals, _ = self._arena()
        came = self._load(args, vals)
        op, ia, ib, imm, par, params, arg_ptr, arg = self._args()
        if self.scalar:
            status = self._scalar_kernels()[1](op, ia, ib, imm, par, params, arg_ptr, arg, vals)
        else:
            status = self._forward_paused(vals)
        self._check(status)
        came = numbers if came == _NUMBERS else came
        outs = tuple(self._out(vals, k, came) for k in range(len(self.outputs)))
        return outs[0] if self.meta["single"] else outs

    __call__ = forward

    def _forward_paused(self, vals, direct=None):
        """The forward re-evaluation in segments: host entries' values (and those of large
        SIMD elementwise entries: `_fwd_host`) are computed by numpy in between; `direct`:
        _load's.  Returns -1 or a failed guard."""
        op, ia, ib, imm, par, params, arg_ptr, arg = self._args()
        off, size, host = self.off, self.size, self.host
        e = 0
        while True:
            r = tiers.forward_from(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, self.shp,
                                   self.nd, vals, e, self._fwd_host, tier=self._kernel_tier())
            if r >= -1:
                return r
            e = -2 - r
            a, b = int(ia[e]), int(ib[e])
            if direct and (a in direct or b in direct):   # (a matmul: _direct_inputs)
                matmul_forward(params, par[e], a, b, e, off, vals, direct.get(a), direct.get(b))
            elif host[e]:
                HOST_FORWARD[_KIND[op[e]]](params, par[e], a, b, e, off, vals)
            else:   # a unary elementwise entry, as large as its operand
                o, a, k = int(off[e]), int(off[ia[e]]), int(size[e])
                unary_into(int(op[e]), vals[a:a + k], vals[o:o + k], float(imm[e]))
            e += 1

    def _backward_paused(self, vals, adj, out, hand=False, direct=None):
        """The reverse sweep from output `out` in segments, host VJPs in between.  The first
        sweep from `out` zeroes the whole adjoint arena; the next ones follow its plan
        (`_plan`): only the adjoints a sweep adds into are zeroed, and a matmul host entry
        that gives an operand its first gradient writes it (needs 2), so a weight's gradient
        block is neither zeroed nor read (a 1000x100 weight: ~50 us of a float64 step).
        With `hand`, an input whose one reader is such an entry gets its gradient as the
        product itself, in the returned {node: array} (the caller's to keep: `_grad` hands
        it out, no copy out of the arena); else returns None.  `direct`: _load's."""
        op, ia, ib, imm, par, params, arg_ptr, arg = self._args()
        plan = self._plans.get(out)
        if plan is None:
            adj[:] = 0.0
        else:
            for lo, hi in plan.zero:
                adj[lo:hi] = 0.0
        handed = _Side() if hand and plan is not None and plan.handed_off is not None else None
        adj[self.off[out]] = 1.0
        reach = np.zeros(len(op), np.uint8)
        reach[out] = 1
        start = out
        while True:
            r = tiers.sweep(*self._sweep_args(vals, adj, start, reach), tier=self._kernel_tier())
            if r >= -1:
                break
            e = -2 - r
            a, b = int(ia[e]), int(ib[e])
            needs = plan.needs.get(e) if plan is not None else None
            if needs is None:
                needs = [x >= 0 and _DIFFERENTIABLE[op[x]] for x in (a, b)]
            if handed is not None and e in plan.handing:
                # (the DIRECT protocol: an operand at offset -1 gets side.add(node, product);
                # the operands' values from the arena as they are, or as _load gave them)
                A, B = _mm_operands(params, par[e], a, b, self.off, vals, *_given(direct, a, b))
                HOST_VJP["matmul"](params, par[e], a, b, e, plan.handed_off, vals, adj, needs, A,
                                   B, handed)
            elif direct and (a in direct or b in direct):
                HOST_VJP["matmul"](params, par[e], a, b, e, self.off, vals, adj, needs,
                                   *_mm_operands(params, par[e], a, b, self.off, vals,
                                                 *_given(direct, a, b)))
            else:
                HOST_VJP[_KIND[op[e]]](params, par[e], a, b, e, self.off, vals, adj, needs)
            start = e - 1
        if plan is None:
            self._plans[out] = self._plan(out, reach)
        return handed

    def _plan(self, out, reach):
        """The _Plan of later sweeps from `out`, from the marks `reach` of a completed one
        (what a sweep runs depends on the graph alone): `zero`, the (lo, hi) arena ranges of
        the adjoints read or added into (the nodes it ran and the inputs, but for those below)
        as maximal runs; `needs`, {host entry: its needs} where a matmul entry is the first
        (the newest) of the entries the sweep ran to read an operand, which it then writes
        (2), so that operand's block is not zeroed; `handed_off`, the offsets with -1 at the
        inputs such an entry is the one reader of (their gradients can be handed out as
        made), None for none, and `handing`, those entries."""
        op, ia, ib, _, _, _, arg_ptr, arg = self._args()
        n = len(op)
        ran = reach != 0
        entries = np.arange(n, dtype=np.int64)
        newest = np.full(n, -1, np.int64)     # per node: the newest entry run that reads it
        for col in (ia, ib):
            m = ran & (col >= 0)
            np.maximum.at(newest, col[m].astype(np.int64), entries[m])
        used = int(arg_ptr[n]) if len(arg) else 0
        if used:
            owner = np.repeat(entries, np.diff(arg_ptr[:n + 1]))
            m = ran[owner]
            np.maximum.at(newest, arg[:used][m], owner[m])
        readers = np.zeros(n, np.int64)       # per node: how many entries run read it
        for col in (ia, ib):
            m = ran & (col >= 0)
            np.add.at(readers, col[m].astype(np.int64), 1)
        if used:
            np.add.at(readers, arg[:used][ran[owner]], 1)
        inputs = [node for node, _, _ in self.inputs]
        zero = (ran & (op != OP_CONST)) | np.isin(entries, inputs)
        needs, handing, handed_off = {}, set(), None
        for e in np.flatnonzero(ran & (self.host != 0) & (_KIND_CODES[op] == _MATMUL_KIND)).tolist():
            a, b = int(ia[e]), int(ib[e])
            first = [x >= 0 and bool(_DIFFERENTIABLE[op[x]]) for x in (a, b)]
            for i, x in enumerate((a, b)):
                if first[i] and a != b and newest[x] == e:
                    first[i] = 2
                    zero[x] = False
                    if readers[x] == 1 and x in inputs and x != out:
                        if handed_off is None:
                            handed_off = self.off.copy()
                        handed_off[x] = -1
                        handing.add(e)
            needs[e] = first
        # (maximal runs of nodes to zero: the arena holds node i at off[i], in entry order)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], zero.view(np.int8), [0]))))
        starts, ends = edges[::2], edges[1::2] - 1
        lo = self.off[starts]
        hi = self.off[ends] + self.size[ends]
        return _Plan(list(zip(lo.tolist(), hi.tolist())), needs, handed_off, handing)

    def _sweep_args(self, vals, adj, start, reach):
        """tiers.sweep's arguments on this tape, from `start` with marks `reach`."""
        return (*self._args(), self.off, self.size, self.shp, self.nd, vals, adj, start, reach,
                self._freed, _SAVES, self.host)

    def _replay_scalar(self, vals, adj, out):
        """The one-element replay (`_scalar_kernels()[0]`) from `out` on an arena from
        `_arena`, whose adjoints it zeroes first.  -1 or a failed guard."""
        kernel = self._scalar_kernels()[0]
        args = (*self._kargs, self._skip(out), vals, adj, out)
        if kernel is K.replay_scalar_core:
            return kernel(*args, True, self._leaves)
        return kernel(*args)

    def _vg_call(self, vals, adj):
        """replay_scalar on this tape's arrays.  After the first call the compiled function is
        called through its entry point, skipping Numba's per-call type dispatch (about a
        third of a call's fixed cost here); on the owner's arena, when replay_scalar_core
        left it clean (`_vg_clean`), with the arguments kept and without zeroing adj."""
        entry = self._vg_entry
        if entry is not None and self._vg_clean and adj is self._adj:
            return entry(*self._vg_args)
        kernel = self._scalar_kernels()[0]
        core = kernel is K.replay_scalar_core
        args = self._kargs + (self._vg_skip, vals, adj, self._vg_out)
        if core:
            args += (True, self._leaves)
        if entry is not None:
            status = entry(*args)
        else:
            status = kernel(*args)
            try:
                from numba import typeof
                sig = tuple(typeof(a) for a in args)
                self._vg_entry = kernel.overloads[sig].entry_point
            except Exception:  # a Numba without `overloads`: keep dispatching
                self._vg_entry = kernel
        if core and adj is self._adj:
            self._vg_args = args[:-2] + (False, self._leaves)
            self._vg_clean = True
        return status

    @property
    def batchable(self):
        """Whether the kernels that do not pause (value_and_grad_batch, jacobian,
        jacobian_batch) can run this tape: it holds no LAPACK entry."""
        return self._host_only is None

    def _no_host_only(self, what):
        """Refuse a kernel that does not pause (one Numba call per point or per row) on a
        tape holding a LAPACK entry: it has no kernel piece, so the kernel would skip it."""
        if self._host_only is not None:
            raise NotImplementedError(
                f"tapegrad: Recorded.{what} runs the whole tape inside Numba kernels, which "
                f"cannot call LAPACK, and this tape holds linalg.{self._host_only} (a host "
                f"entry); call value_and_grad per point (it pauses for LAPACK), or "
                f"autograd.functional.jacobian on the eager function")

    def _scalar_output(self):
        if len(self.outputs) != 1 or math.prod(self.outputs[0][1]) != 1:
            raise TypeError("value_and_grad needs a function with one one-element output; use "
                            "jacobian for vector outputs")
        return self.outputs[0][0]

    def value_and_grad(self, *args, argnums=None):
        """(value, grads) at new inputs: grads has one gradient per input, shaped like it (or
        those selected by `argnums`; an int argnums gives that gradient bare).  Numbers in
        give numpy scalars out; arrays in give arrays; tensors in give tensors."""
        if self._vg_scalar and argnums is None and len(args) == len(self._in_list):
            if len(args) == 1:
                numbers = type(args[0]) in _NUMBER_TYPES
            else:
                numbers = {type(a) for a in args} <= _NUMBER_TYPES
            if numbers:  # the per-call fast path: Python numbers in, numpy scalars out
                if threading.get_ident() == self._owner:
                    vals, adj = self._vals, self._adj
                else:
                    vals, adj = self._arena()
                if len(args) == 1:
                    vals[self._in_list[0]] = args[0]
                else:
                    vals[self.in_offs] = args
                status = self._vg_call(vals, adj)
                if status >= 0:
                    self._check(status)
                if len(args) == 1:
                    return vals[self._out_off], (adj[self._in_list[0]],)
                return vals[self._out_off], tuple(adj[self.in_offs])
        out = self._scalar_output()
        vals, adj = self._arena()
        direct = {} if self._direct else None
        came = self._load(args, vals, direct)
        op, ia, ib, imm, par, params, arg_ptr, arg = self._args()
        handed = None
        if self.scalar:
            status = self._replay_scalar(vals, adj, out)
        else:
            # NOTE: the two big kernels called from here, not through one kernel calling both:
            # Numba links a callee's code into its caller and compiles it again there, which
            # made the first n-d replay compile the sweep three times (issue #8, cold start).
            if not self._swept:
                # the first n-d replay of a process compiles the forward kernel here and the
                # sweep after it: the sweep's compile can start now, in another process
                tiers.sweep_ahead(*self._sweep_args(vals, adj, out, np.zeros(1, np.uint8)),
                                  tier=self._kernel_tier(), forward_host=self._fwd_host)
            status = self._forward_paused(vals, direct)
            if status < 0:
                handed = self._backward_paused(vals, adj, out, hand=True, direct=direct)
                self._swept = True
        self._check(status)
        value = self._out(vals, 0, came)
        return value, self._select(lambda i: self._grad(adj, i, came, handed), argnums)

    def grad(self, *args, argnums=None):
        return self.value_and_grad(*args, argnums=argnums)[1]

    def _select(self, grad_of, argnums):
        if argnums is None:
            return tuple(grad_of(i) for i in range(len(self.inputs)))
        if isinstance(argnums, int):
            return grad_of(argnums)
        return tuple(grad_of(i) for i in argnums)

    def jacobian(self, *args):
        """For each input, d(output)/d(input) shaped output.shape + input.shape (torch's layout)."""
        if len(self.outputs) != 1:
            raise TypeError("jacobian needs a function with one output")
        self._no_host_only("jacobian")
        node, oshape, odt = self.outputs[0]
        vals, adj = self._arena()
        came = self._load(args, vals)
        came = _ARRAYS if came == _NUMBERS else came    # (arrays for numbers, as forward)
        if self.scalar:
            # one element out: its Jacobian is its gradient, from the one-element replay
            # (`jacobian` would compile the full n-d kernels into itself)
            status = self._replay_scalar(vals, adj, node)
            jac = adj[self.in_offs].reshape(1, -1)
        else:
            jac = np.zeros((int(self.size[node]), int(self.in_sizes.sum())), self.dtype)
            # (the core copy for a tape of the common ops: codegen.DRIVER_VARIANTS)
            kernel = K.jacobian_at if self._kernel_tier() > 0 else K.jacobian_at_core
            tiers.fill_pieces(self.prog["op"], vals.dtype, size=self.size)   # (no stop for one)
            n = len(self.prog["op"])
            status = kernel(*self._args(), self.off, self.size, self.shp, self.nd, vals, node,
                            self._freed, self.in_offs, self.in_sizes, jac, np.zeros_like(vals),
                            np.empty(n, np.uint8), np.zeros(n, np.uint8))
        self._check(status)
        out, j = [], 0
        for (inode, ishape, idt), k in zip(self.inputs, self.in_sizes.tolist()):
            out.append(_as_given(jac[:, j:j + k].astype(idt.np).reshape(oshape + ishape), idt,
                                 came))
            j += k
        return tuple(out)

    def value_and_grad_batch(self, *Xs, argnums=None, branch_changed="raise"):
        """Replay at B points in parallel across cores (numba prange over points, never inside
        one sweep): each X has shape (B,) + input shape; returns values (B,) and gradients
        (B,) + input shape (as `value_and_grad`, `argnums` selects).  The threads are
        `tapegrad.get_num_threads()` (at most Numba's), fewer when the call is too small to
        give each one BATCH_GRAIN entry evaluations (a small call runs on one).

        A point where a guard does not hold (its branch differs from the recorded one) raises
        `BranchChanged` (`branch_changed="raise"`); with `branch_changed="mask"` the call
        returns `(values, grads, held)` instead, `held` a boolean (B,) array that is False at
        those points, whose values and gradients are NaN.  Re-recording (as `compile` does)
        does not apply inside a batch: re-run the masked points with a tape recorded there."""
        out = self._scalar_output()
        mask = _branch_mode(branch_changed)
        Xs = self._rounded(Xs)
        ids = self._in_place(Xs)
        B = len(Xs[0]) if ids is not None else self._stage(Xs)[0]
        io = self._io()
        values, gradsT, held = self._replay_batch(out, B, Xs, mask, io, ids)
        self._io_pool.append(io)
        # The gradients are views or copies of this call's own `gradsT` (an output block no
        # array of an earlier call still uses): nothing of the tape's.
        values = values.astype(self.outputs[0][2].np, copy=False)
        if self._in_plain:
            grads = list(gradsT)
            if argnums is None:
                return (values, tuple(grads), held) if mask else (values, tuple(grads))
        else:
            rows = np.cumsum([0] + self._in_list_sizes).tolist()
            grads = [gradsT[rows[i]:rows[i + 1]].T.reshape((B,) + shape).astype(dt.np, copy=False)
                     for i, (_, shape, dt) in enumerate(self.inputs)]
        grads = self._select(grads.__getitem__, argnums)
        return (values, grads, held) if mask else (values, grads)

    def value_and_grad_flat(self, P, branch_changed="raise"):
        """value_and_grad_batch with the inputs flattened and concatenated: P has shape
        (B, n), n the inputs' total element count (a tape of many 0-d inputs takes one array);
        returns values (B,) and the gradients in the same layout (B, n), all in the tape's
        dtype (plus `held` with branch_changed="mask")."""
        out = self._scalar_output()
        mask = _branch_mode(branch_changed)
        n = int(self.in_sizes.sum())
        if np.ndim(P) != 2 or np.shape(P)[1] != n:
            raise ValueError(f"expected shape (B, {n}) (the inputs flattened and "
                             f"concatenated), got {np.shape(P)}")
        # read and written point-major as they are: no transposed staging copy (a transpose of
        # all of P reads it column by column, a cache miss per element once P outgrows the
        # cache) and each point's inputs and gradients are one contiguous row
        P = np.ascontiguousarray(P, self.dtype)
        if self._narrow:    # (a copy: the narrower inputs' columns rounded, as in _rounded)
            P = P.copy()
            for i in self._narrow:
                a, b = int(self._flat_off[i]), int(self._flat_off[i]) + self._in_list_sizes[i]
                P[:, a:b] = quiet(P[:, a:b].astype, self.inputs[i][2].np)
        B = len(P)
        io = self._io()
        values, G, status = io.outputs(((B,), self.dtype), ((B, n), self.dtype),
                                       ((B,), np.int64))
        # every input's elements are a column run of P's rows (one array, read in place)
        src, deref, keep = sources((P,), (n,), B, self.dtype, io)
        first = self._kernel(out, B, np.repeat(src, len(self.inputs)), deref, self._flat_off,
                             self._flat_step, values, G, status, rows=True)
        del keep    # (what src points into, a staged copy of P if P is not aligned: alive
                    # until the kernel has returned)
        self._io_pool.append(io)
        held = self._held(status, mask, values, G, first=first)
        return (values, G, held) if mask else (values, G)

    def _rounded(self, Xs):
        """The batch inputs Xs with those of a narrower dtype than the tape's (float32 on a
        float64 tape) rounded to it, as the eager inputs hold them (the batch kernels read
        every input in the tape's dtype)."""
        if not self._narrow or len(Xs) != len(self.inputs):
            return Xs
        Xs = list(Xs)
        for i in self._narrow:
            Xs[i] = quiet(np.asarray, Xs[i], self.inputs[i][2].np)
        return tuple(Xs)

    def _io(self):
        """A set of buffers for one batch call (batchbuf.BatchBuffers): this tape's from its
        last call, or a new one when another call (another Python thread) has that.  The call
        puts it back in `_io_pool` when done (one that fails just drops it)."""
        try:
            return self._io_pool.pop()
        except IndexError:
            return BatchBuffers()

    def _in_place(self, Xs):
        """The inputs' ids (int64) when replay_batch can read every one where the caller's
        array is (each an exact ndarray of the tape's dtype, C-contiguous, aligned, of shape
        (B,) + its input's; checked from the array objects by one compiled call,
        drivers.inputs_in_place), else None: _stage and batchbuf.sources check them then."""
        fields = batchbuf.ARRAY_FIELDS
        if fields is None or len(Xs) != len(self.inputs) or not Xs:
            return None
        first = Xs[0]
        if type(first) is not np.ndarray or not first.ndim:
            return None
        ids = np.fromiter(map(id, Xs), np.int64, len(Xs))
        if K.inputs_in_place(ids, fields, _NDARRAY, id(self.dtype), IN_PLACE_FLAGS,
                             first.shape[0], *self._in_dims) >= 0:
            return None
        return ids

    def _replay_batch(self, out, B, Xs, mask, io, ids=None):
        """(values, gradsT, held) of replay_batch at the B points of the inputs Xs (shapes
        checked), read where they are (batchbuf.sources, or their `ids` when _in_place
        found them all readable so), in `io`'s output block."""
        per_line = _LINE // self.dtype.itemsize
        n = int(sum(self._in_list_sizes))
        # the kernel writes every point; each gradient row starts on a cache line (its length
        # padded to whole lines)
        values, status, gradsT = io.outputs(((B,), self.dtype), ((B,), np.int64),
                                            ((n, -(-B // per_line) * per_line), self.dtype))
        if ids is None:
            src, deref, keep = sources(Xs, self._in_list_sizes, B, self.dtype, io)
        else:
            src, deref, keep = ids, batchbuf.DATA_OFFSET, Xs
        first = self._kernel(out, B, src, deref, self._zero_off, self.in_sizes, values, gradsT,
                             status)
        del keep    # (the arrays src points into: alive until the kernel has returned)
        gradsT = gradsT[:, :B]
        return values, gradsT, self._held(status, mask, values, gradsT.T, first=first)

    def _kernel(self, out, B, src, deref, src_off, src_step, values, gradsT, status, rows=False):
        self._no_host_only("value_and_grad_batch")
        return self._launch_batch(self._batch_kernel("replay_batch"), B, *self._args(), self.off,
                           self.size, self.shp, self.nd, self._vals0, self._freed,
                           self._static_reach(out), B, src, deref, src_off, src_step,
                           self.in_offs, self.in_sizes, out, values, gradsT, status,
                           line=_line_points(self.dtype.itemsize), rows=rows)

    def _launch_batch(self, kernel, B, *args, sweeps=1, **flags):
        """Run a batch kernel with this tape's per-thread scratch: taken from the pool (a call
        from another Python thread at the same time gets a set of its own) and put back after;
        on the current Numba thread count, or on fewer when B points of `sweeps` backward
        sweeps each are too little work for them (_batch_threads)."""
        threads = _batch_threads(B, (len(self._vals0) + BATCH_POINT_COST) * (1 + sweeps) // 2)
        pool = self._work_pool.setdefault(threads, [])
        try:
            work = pool.pop()
        except IndexError:
            work = _Work(threads, len(self), len(self._vals0), self.dtype)
        result = run_parts(kernel, (*args, _chunk(B, threads, self.dtype.itemsize),
                                   *flags.values(), *work.args()), threads, work.counter)
        if len(pool) < 2:
            pool.append(work)
        return result

    def _stage(self, Xs, io=None):
        """(B, XT): the batch's inputs checked and staged one row per input element (XT[j, p]),
        in `io`'s staging buffer (without `io`: only checked, XT is None)."""
        if len(Xs) != len(self.inputs):
            raise TypeError(f"this tape takes {len(self.inputs)} inputs, got {len(Xs)}")
        shapes = [a.shape if type(a) is np.ndarray else np.shape(a) for a in Xs]
        B = shapes[0][0] if Xs and shapes[0] else 0
        if (shapes.count((B,)) != len(shapes) if self._in_plain else
                [s[1:] for s in shapes] != self._in_shapes or any(s[:1] != (B,) for s in shapes)):
            i = next(i for i, s in enumerate(shapes) if s != (B,) + self._in_shapes[i])
            raise ValueError(f"input {i}: expected shape {(B,) + self._in_shapes[i]}, "
                             f"got {shapes[i]}")
        if io is None:
            return B, None
        n = int(sum(self._in_list_sizes))
        XT = io.staging((n, B), self.dtype)
        # For one-element inputs one C-level copy of all of them, far cheaper than
        # interleaving them point by point (casting as np.array(Xs, dtype) does); a (B, 1)
        # input flattened first (concatenate wants one number of dimensions)
        if all(s == 1 for s in self._in_list_sizes):
            if Xs:
                np.concatenate([X if len(s) == 1 else np.reshape(X, -1)
                                for X, s in zip(Xs, shapes)], out=XT.reshape(-1),
                               casting="unsafe")
        else:
            # (sizes spelled out: reshape(B, -1) cannot infer one when B is 0)
            np.concatenate([np.asarray(a).reshape(B, k).T for a, k in zip(Xs, self._in_list_sizes)],
                           out=XT, casting="unsafe")
        return B, XT

    def _held(self, status, mask, *results, first=None):
        """Per point: did every guard hold (None when not `mask` and all did)?  Raises
        BranchChanged at the first point that failed, or (mask) sets that point's rows of
        `results` to NaN.  `first`: the first point that failed or -1, when the kernel said."""
        if first is None:
            first = int(np.argmax(status >= 0)) if status.max(initial=-1) >= 0 else -1
        if first < 0:
            return np.ones(len(status), bool) if mask else None
        if not mask:
            self._check(int(status[first]))
        held = status < 0
        for r in results:
            r[~held] = np.nan
        return held

    # -- persistence ------------------------------------------------------------------------
    def save(self, path):
        """Write the tape (a few arrays and a JSON header with the format version, the op
        table's fingerprint and a content digest) to `path` (numpy .npz format)."""
        tapefile.save(path, self.prog, self.meta)

    def __reduce__(self):
        # pickled as its save format (the arrays and the JSON header), never as the recorded
        # Python function: what Dask sends to its workers
        return from_arrays, (to_arrays(self),)


def to_arrays(rec):
    """The save format of `rec` as {name: array}: what `save` writes (the program's streams
    and `meta`, the JSON header as a 0-d string array).  Pickling uses it too."""
    return tapefile.arrays(rec.prog, rec.meta)


def from_arrays(arrays):
    """The `Recorded` of a mapping written by `to_arrays`, checked as `load_tape` checks a file
    (with its default limits); raises `TapeFormatError`."""
    prog, meta = tapefile.from_arrays(arrays)
    return Recorded(prog, meta)


def load_tape(path, *, max_entries=tapefile.MAX_ENTRIES, max_elements=tapefile.MAX_ELEMENTS,
              max_work=tapefile.MAX_WORK):
    """Load a tape written by `Recorded.save`; it replays without the original function.

    The file is untrusted input: everything is checked before any kernel sees it, and a file
    that is damaged, was written by another tapegrad (format version, op table), is
    inconsistent, or exceeds a limit raises `tapegrad.TapeFormatError` saying what is wrong.
    The limits: `max_entries` entries, `max_elements` elements in the value arena (a replay
    needs about 24 bytes per element and 170 per entry) and `max_work` element operations per
    forward replay (each entry's output and operand elements, m*k*n per matmul; 10**9 is about
    a second).  `path` may be a binary file."""
    prog, meta = tapefile.load(path, max_entries=max_entries, max_elements=max_elements,
                               max_work=max_work)
    return Recorded(prog, meta)


# ---- compile ---------------------------------------------------------------------------------------
def compile(fn=None, *, strict=False, cache_size=64, fullgraph=True):
    """Decorator with value_and_grad semantics: `f(*args) -> (value, grads)`.

    Records on the first call for each key, replays afterwards, and re-records when a guard
    fails; `f.rerecords` counts the re-recordings and `f.tapes` holds the recorded tapes (an
    ordered mapping, least recently used first).

    The key is what a recording depends on.  Tensor arguments are inputs: they count by shape
    and dtype (their values are what a replay takes).  Every other argument is baked into the
    tape, so it counts by value and type: numbers and other hashable values as they compare
    (floats by their exact bits, so -0.0, 0.0 and nan are told apart, and 1, 1.0 and True are
    different keys); numpy arrays and tensors inside containers by shape, dtype and bytes, so an
    array changed in place records again; lists, tuples, dicts and sets by their items,
    recursively.  An argument whose value cannot be keyed (an unhashable object of another
    type, an object array) raises TypeError.  What `fn` reads from elsewhere (globals, closed-
    over arrays) is not part of the key: it stays as it was when the tape was recorded.

    At most `cache_size` tapes are kept (None: no limit); the least recently used one is
    dropped when a new key records.

    A training step: when `fn` calls `backward()`, `zero_grad()` or an optimizer's `step()`,
    the call returns what `fn` returns (its tensors as values) and each call has the eager
    step's effects on the parameters (the tensors that require grad and that fn reads, read
    as they are at each call; one frozen or unfrozen since, or a constant it read changed,
    records again), `.grad`, the optimizer's state and the version counters: the
    forward, the reverse sweep and the fused update replay with no Python per op (see
    tapegrad/trainstep.py).  What such a trace cannot hold raises `TracingError`; with
    fullgraph=False (torch.compile's default, a graph break) a training step that a trace
    cannot hold runs eagerly instead, at this call and every later one of its key, after one
    warning naming the cause (the failed trace changed nothing, the random generator's state
    included)."""
    if fn is None:
        return lambda f: compile(f, strict=strict, cache_size=cache_size, fullgraph=fullgraph)
    if cache_size is not None and (isinstance(cache_size, bool) or not isinstance(cache_size, int)
                                   or cache_size < 1):
        raise ValueError(f"compile: cache_size must be a positive int or None, got {cache_size!r}")

    tapes = OrderedDict()
    module_state = {}              # key -> its module arguments' state when it recorded
    lock = threading.Lock()        # the LRU order and the dict change together

    def wrapper(*args):
        sig = _signature(args)
        last = wrapper._last
        if last[0] == sig and tapes.get(sig) is last[1]:   # the same key again: no reorder
            tape = last[1]
        else:
            with lock:
                tape = tapes.get(sig)
                if tape is not None:
                    tapes.move_to_end(sig)
                    wrapper._last = (sig, tape)
        if tape is not None and sig in module_state and module_state[sig] != _module_state(args):
            tape = None   # (a module argument's weights, baked in, changed: record again)
            wrapper.rerecords += 1
        elif type(tape) is StepProgram and not tape.holds():
            tape = None   # (a parameter frozen or unfrozen, a baked-in constant changed)
            wrapper.rerecords += 1
        if tape is None:
            return _record_and_call(sig, args)
        if tape is _EAGER:
            return fn(*args)
        try:
            return _run_compiled(tape, args)
        except BranchChanged:     # (raised before anything changed)
            wrapper.rerecords += 1
            return _record_and_call(sig, args)

    def _record_and_call(sig, args):
        made = _record_or_eager(args)
        if type(made) is _Once:
            # a step taking class labels: its later calls run eagerly, and this one runs the
            # program its trace made (the labels baked in): fn's Python (a counter, a log)
            # ran once, at the trace, as in one eager call
            _remember(sig, _EAGER, args)
            return _run_compiled(made.prog, args)
        tape = _remember(sig, made, args)
        return fn(*args) if tape is _EAGER else _run_compiled(tape, args)

    def _record_or_eager(args):
        """_record_compiled, or, for a training step it cannot hold when fullgraph is off,
        _EAGER (after the warning, the generator's state put back as before the trace), or
        _Once (a step taking class labels: its trace's program, for this call only)."""
        rng = None if fullgraph else default_generator.get_state()
        # integer tensor arguments (class labels) cannot be inputs of a replay: traced as
        # constants, only to tell whether fn is a training step, which then runs eagerly
        ints = [(i, a) for i, a in enumerate(args)
                if isinstance(a, Tensor) and not a.dtype.is_floating_point]
        try:
            prog = _record_compiled(fn, args, strict, integers_baked=bool(ints) and not fullgraph)
        except TracingError as e:
            if fullgraph or not getattr(e, "in_step", False):
                raise
            default_generator.set_state(rng)
            warnings.warn(f"{e}; this step runs eagerly (compile with fullgraph=True to raise "
                          f"instead)", UserWarning, stacklevel=user_stacklevel())
            return _EAGER
        if type(prog) is StepProgram and prog.drew:
            if fullgraph:
                err = TracingError(DREW)
                err.in_step = True
                raise err
            # the draws are the ones this call makes eagerly (from the same generator state,
            # left where they leave it): this call runs the program, later ones eagerly
            warnings.warn(f"{DREW}; this step runs eagerly (compile with fullgraph=True to "
                          f"raise instead)", UserWarning, stacklevel=user_stacklevel())
            return _Once(prog)
        if type(prog) is StepProgram and prog.hooked and not fullgraph:
            # a module's forward hooks are Python a replay would not run again (a log, a
            # stored activation): the step runs eagerly, as torch.compile runs them at each
            # call; this call runs the trace's program (the hooks ran once, at the trace)
            warnings.warn("tapegrad.compile: a module's forward hooks ran while tracing the "
                          "step; a replay would not run them again, so this step runs eagerly "
                          "(compile with fullgraph=True to replay it without them)",
                          UserWarning, stacklevel=user_stacklevel())
            return _Once(prog)
        if ints and not fullgraph:
            if type(prog) is not StepProgram:
                raise _integer_argument(*ints[0])
            warnings.warn(f"tapegrad.compile: tensor argument {ints[0][0]} has dtype "
                          f"{ints[0][1].dtype} (class labels?), which a replay cannot take as an "
                          f"input; this step runs eagerly (compile with fullgraph=True to raise "
                          f"instead)", UserWarning, stacklevel=user_stacklevel())
            return _Once(prog)
        return prog

    def _remember(sig, tape, args=()):
        with lock:
            wrapper._last = (sig, tape)
            tapes[sig] = tape
            module_state.pop(sig, None)
            # a module argument is keyed by identity; a value_and_grad tape bakes its weights
            # in (a training step reads them at each call), so their state is checked
            state = _module_state(args) if type(tape) is Recorded else ()
            if state:
                module_state[sig] = state
            tapes.move_to_end(sig)
            while cache_size is not None and len(tapes) > cache_size:
                module_state.pop(tapes.popitem(last=False)[0], None)
        return tape

    wrapper.rerecords = 0
    wrapper._last = (None, None)
    wrapper.tapes = tapes
    wrapper.cache_size = cache_size
    wrapper.__name__ = getattr(fn, "__name__", "compiled")
    wrapper.__doc__ = getattr(fn, "__doc__", None)
    wrapper.__wrapped__ = fn
    return wrapper


# compile's cache entry for a key whose training step runs eagerly (fullgraph=False)
_EAGER = object()


class _Once:
    """_record_or_eager's answer for a step with class labels: runs eagerly from the next
    call on; `prog`, its trace's program, is this call's."""
    __slots__ = ("prog",)

    def __init__(self, prog):
        self.prog = prog


def _record_compiled(fn, args, strict, integers_baked=False):
    """compile's recording of one call: a `Recorded` (value_and_grad semantics), or a
    `trainstep.StepProgram` when fn called backward(), zero_grad() or an optimizer's step()
    (a training step; see trainstep.py).  While fn runs, nothing it asks of autograd or of an
    optimizer changes any state: the trace notes it."""
    tape, inputs, argn = _input_leaves(args, strict, integers_baked)
    trace = StepTrace(tape, inputs, [args[i].requires_grad for i in argn])
    prev = steptrace.begin(trace)
    try:
        result, drew = _traced_call(fn, tape, inputs, args, argn)
    except TracingError as e:
        # (in a training step: compile may run it eagerly instead)
        e.in_step = getattr(e, "in_step", False) or bool(trace.events)
        raise
    finally:
        steptrace.end(prev)
    if not trace.events:     # (a training step refuses draws: trace.finish)
        if drew:
            warnings.warn(RANDOM_BAKED, UserWarning, stacklevel=user_stacklevel())
        single, outputs = _as_outputs(result)
        return _compile(tape, inputs, outputs, single)
    try:
        params = trace.finish()
    except TracingError as e:
        e.in_step = True
        raise
    shape, outputs = _step_outputs(result)
    loss = [trace.loss] if trace.loss is not None else []
    rec = _compile(tape, params + inputs, list(outputs) + loss, False, inputs_first=True)
    prog = StepProgram(rec, params, trace, len(outputs), argn)
    prog.result_shape = shape
    return prog


def _step_outputs(result):
    """(how to rebuild the result, its tensors): a step returns a tensor, a tuple or list of
    tensors and other values, a dict or nested tuples, lists and dicts of them (a "tree"), or
    any other value; what is not a tensor is returned as the trace saw it (a Python number
    made from a traced value is guarded, as in record)."""
    if isinstance(result, Tensor):
        return ("tensor", None), (result,)
    if isinstance(result, (tuple, list)) and not any(type(r) in _TREES or isinstance(
            r, (tuple, list)) for r in result):
        where = tuple(isinstance(r, Tensor) for r in result)
        return (type(result), (where, list(result))), tuple(r for r in result if isinstance(r, Tensor))
    if type(result) in _TREES or isinstance(result, (tuple, list)):
        tensors = []
        return ("tree", _template(result, tensors)), tuple(tensors)
    return ("value", result), ()


_TREES = (dict, OrderedDict)    # (the dict types a result is rebuilt as: their type(pairs))


def _template(r, tensors):
    """r with each tensor replaced by its position in `tensors` (appended): (0, position),
    (1, value), (2, sequence type, items) or (3, dict type, keys, items)."""
    if isinstance(r, Tensor):
        tensors.append(r)
        return (0, len(tensors) - 1)
    if isinstance(r, (tuple, list)):
        return (2, type(r), [_template(x, tensors) for x in r])
    if type(r) in _TREES:
        return (3, type(r), list(r), [_template(x, tensors) for x in r.values()])
    return (1, r)


def _rebuild(tmpl, outs):
    kind = tmpl[0]
    if kind == 0:
        return outs[tmpl[1]]
    if kind == 1:
        return tmpl[1]
    if kind == 2:
        how, items = tmpl[1], [_rebuild(t, outs) for t in tmpl[2]]
        return how._make(items) if hasattr(how, "_make") else how(items)   # (a namedtuple)
    return tmpl[1](zip(tmpl[2], [_rebuild(t, outs) for t in tmpl[3]]))


def _run_compiled(tape, args):
    if type(tape) is not StepProgram:
        return tape.value_and_grad(*[a for a in args if isinstance(a, Tensor)])
    outs = tape(args)
    how, what = tape.result_shape
    if how == "tensor":
        return outs[0]
    if how == "value":
        return what
    if how == "tree":
        return _rebuild(what, outs)
    where, items = what
    it = iter(outs)
    items = [next(it) if w else x for w, x in zip(where, items)]
    return how._make(items) if hasattr(how, "_make") else how(items)   # (a namedtuple)


def _module_state(args):
    """The state of the module arguments among args (anything with parameters() and
    buffers(): an nn.Module), for compile: per tensor its array's identity and its version,
    which an in-place change (`weight *= 10`) or a new `.data` moves."""
    return tuple(tuple((id(t._v), t._version) for t in (*a.parameters(), *a.buffers()))
                 for a in args if not isinstance(a, Tensor) and hasattr(a, "parameters")
                 and hasattr(a, "buffers"))


def _signature(args):
    """compile's cache key of a call (see compile's doc)."""
    sig = []
    for a in args:
        t = type(a)
        if t is float:
            sig.append((float, a) if a == a and a != 0.0 else (float, a.hex()))
        elif t is Tensor or isinstance(a, Tensor):
            sig.append(("T", a._shape, a._dtype))
        elif t is int or t is bool or a is None or t is str:
            sig.append((t, a))
        else:
            try:
                sig.append(_value_key(a, ()))
            except TypeError as e:
                i = next(i for i, b in enumerate(args) if b is a)
                raise TypeError(f"tapegrad.compile: argument {i} ({e}); pass it as a tensor "
                                f"(an input), or as a hashable value, numpy array, list, tuple "
                                f"or dict of such values") from None
    return tuple(sig)


def _value_key(x, seen):
    """A hashable key equal for equal values of the same types (raises TypeError when x's
    value cannot be keyed)."""
    t = type(x)
    if isinstance(x, float):  # == is exact but for zeros (-0.0 == 0.0) and nan (never equal)
        return (t, x) if x == x and x != 0.0 else (t, float(x).hex())
    if isinstance(x, (np.ndarray, np.generic, Tensor)):
        arr = np.asarray(x._array() if isinstance(x, Tensor) else x)
        if arr.dtype.hasobject:
            raise TypeError("a numpy array of Python objects cannot be keyed by value")
        return (t, arr.shape, arr.dtype.str, arr.tobytes())
    if isinstance(x, (list, tuple, dict, set, frozenset)):
        if id(x) in seen:
            raise TypeError(f"a {t.__name__} that contains itself cannot be keyed by value")
        seen = seen + (id(x),)
        if isinstance(x, dict):
            return (t, tuple((_value_key(k, seen), _value_key(v, seen)) for k, v in x.items()))
        if isinstance(x, (set, frozenset)):
            return (t, frozenset(_value_key(v, seen) for v in x))
        return (t, tuple(_value_key(v, seen) for v in x))
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"a {t.__name__} is not hashable, so its value cannot be keyed") from None
    return (t, x)


# ---- re-running a recorded program with tensor ops (for derivatives of a tape) -------------------
_EAGER_FWD = {}


def _eager_fwd(code):
    fn = _EAGER_FWD.get(code)
    if fn is None:
        fn = _EAGER_FWD[code] = eval("lambda a, b, c, cond: " + BY_CODE[code].fwd,
                                     dict(FORMULA_NS))
    return fn


def run_eager(rec, inputs):
    """Evaluate the recorded program `rec` on tensors `inputs` with ordinary (recorded) tensor
    ops: a differentiable re-run, which is how a tape gets its own derivatives (Recorded.hvp)."""
    p = rec.prog
    op, ia, ib, imm, par, params, arg_ptr, arg = (
        p[k] for k in ("op", "ia", "ib", "imm", "par", "params", "arg_ptr", "arg"))
    shapes = {int(k): tuple(v) for k, v in rec.meta["shapes"].items()}
    input_of = {node: i for i, (node, _, _) in enumerate(rec.inputs)}
    vals = {}
    for e in range(len(rec)):
        code = int(op[e])
        kind = _KIND[code]
        a, b = int(ia[e]), int(ib[e])
        shape = shapes.get(e, ())
        x = vals.get(a) if a >= 0 else float(imm[e])
        y = vals.get(b) if b >= 0 else float(imm[e])
        if kind == "leaf":
            r = inputs[input_of[e]]
        elif kind == "const":
            o = rec.off[e]
            r = Tensor._wrap(np.array(rec._vals0[o:o + rec.size[e]]).reshape(shape), _dtype(rec.meta["dtype"]))
        elif kind == "unary":
            # (the entry's own op, recorded: its gradient is the op table's, which is not
            # always the derivative of its forward formula: straight_through's is b's value
            # with a's gradient, sqrt0's is masked where its value is 0)
            r = _unary(code, x, float(imm[e]))
        elif kind == "binary":
            r = _binary(code, x, y)
        elif kind == "compare":
            r = _eager_fwd(code)(x, y, float(imm[e]), None)
        elif kind == "where":
            r = _eager_fwd(code)(x, y, float(imm[e]), vals[int(arg[arg_ptr[e]])] != 0.0)
        elif kind in LIST_KINDS:   # the whole operand list: ia, ib, then the entry's arg list
            xs = [vals[int(v)] for v in [a, b][:1 + (b >= 0)] + arg[arg_ptr[e]:arg_ptr[e + 1]].tolist()]
            r = tensor_forward(kind)(KIND_OPS, xs, shape, params[par[e]:])
        elif kind in KIND_MODULES:
            r = tensor_forward(kind)(KIND_OPS, x, y, shape, params[par[e]:], float(imm[e]))
        elif kind == "guard":
            if BY_CODE[code].name == "guard_bool":
                seen = bool(x != 0.0)
                ok = seen == (imm[e] != 0.0)
            else:
                o = rec.off[e]
                expect = rec._vals0[o:o + rec.size[e]] if a in shapes else [imm[e]]
                got = np.asarray(x.tolist(), dtype=np.float64).reshape(-1)
                ok = bool(np.array_equal(got, np.asarray(expect, np.float64), equal_nan=True))
            if not ok:
                rec._check(e)
            r = None
        else:
            raise NotImplementedError(f"run_eager: {BY_CODE[code].name}")
        if r is not None and r._shape != shape:
            # the node's recorded shape: a one-element operand is 0-d to the tape, so an
            # elementwise entry of it and a (3,) gives (3,) where the eager result (and so
            # the next entry's params) had (1, 3)
            r = r.reshape(shape)
        vals[e] = r
    outs = tuple(vals[node] for node, _, _ in rec.outputs)
    return outs[0] if rec.meta["single"] else outs


def _hvp_program(self, xs, vs):
    """The tape of d/dx <grad f(x), v> (inputs: this tape's inputs, then as many vectors),
    recorded once by re-running this tape with create_graph=True at the example point
    (xs, vs): at a point where this tape's guards hold, so the two take the same branch."""
    if getattr(self, "_hvp_tape", None) is None:
        def inner(*args):
            k = len(self.inputs)
            x, w = args[:k], args[k:]
            f = run_eager(self, x)
            gs = grad(f, x, create_graph=True, allow_unused=True, materialize_grads=True)
            return sum((g * wi).sum() for g, wi in zip(gs, w))
        examples = [Tensor._wrap(np.array(a, dt.np).reshape(shape), dt)
                    for a, (_, shape, dt) in zip(list(xs) + list(vs), self.inputs + self.inputs)]
        self._hvp_tape = record(inner, *examples)
    return self._hvp_tape


def _hvp(self, inputs, v):
    """(value, Hessian-vector product) of a one-output tape at `inputs` along `v` (each a
    tuple with one entry per input, or bare for a one-input tape).  The first call records a
    second tape, d/dx <grad f(x), v>, by re-running this one with create_graph=True; later
    calls replay it."""
    xs = inputs if isinstance(inputs, tuple) else (inputs,)
    vs = v if isinstance(v, tuple) else (v,)
    if len(xs) != len(self.inputs) or len(vs) != len(self.inputs):
        raise TypeError(f"hvp: this tape takes {len(self.inputs)} inputs and as many vectors")
    k = len(self.inputs)
    value = self._forward(xs, numbers=_NUMBERS)   # checks the inputs and the guards first
    plain = [a._array() if isinstance(a, Tensor) else a for a in xs + vs]
    grads = _hvp_program(self, plain[:k], plain[k:]).grad(*xs, *vs, argnums=tuple(range(k)))
    return value, (grads if isinstance(inputs, tuple) else grads[0])


def _jacobian_batch(self, *Xs, branch_changed="raise"):
    """`jacobian` at B points across cores: each X has shape (B,) + input shape; returns for
    each input d(output)/d(input) at every point, shaped (B,) + output shape + input shape.
    `branch_changed` as in value_and_grad_batch ("mask" adds `held`, NaN where False)."""
    if len(self.outputs) != 1:
        raise TypeError("jacobian needs a function with one output")
    self._no_host_only("jacobian_batch")
    mask = _branch_mode(branch_changed)
    Xs = self._rounded(Xs)
    node, oshape, _ = self.outputs[0]
    io = self._io()
    if self.scalar:
        # one element out: the Jacobians are the gradients, from the one-element copy of
        # replay_batch (jacobian_batch's copies would compile the n-d kernels into themselves)
        B, _ = self._stage(Xs)
        _, gradsT, held = self._replay_batch(node, B, Xs, mask, io)
        self._io_pool.append(io)
        jac = gradsT.T[:, None, :]
    else:
        jac, held = _jacobian_batch_nd(self, Xs, node, mask, io)
    out, j = [], 0
    for (_, ishape, idt), k in zip(self.inputs, self.in_sizes.tolist()):
        out.append(jac[:, :, j:j + k].astype(idt.np).reshape((len(jac),) + oshape + ishape))
        j += k
    return (tuple(out), held) if mask else tuple(out)


def _jacobian_batch_nd(self, Xs, node, mask, io):
    """(jac (B, output size, inputs' size), held): jacobian_batch of an n-d tape at Xs."""
    B, XT = self._stage(Xs, io)
    m = int(self.size[node])                    # (the kernel writes every point's rows)
    values, jac, status = io.outputs(((B, m), self.dtype),
                                     ((B, m, int(self.in_sizes.sum())), self.dtype),
                                     ((B,), np.int64))
    self._launch_batch(self._batch_kernel("jacobian_batch"), B, *self._args(), self.off,
                       self.size, self.shp, self.nd, self._vals0, self._freed, XT, self.in_offs,
                       self.in_sizes, node, values, jac, status, sweeps=m)
    self._io_pool.append(io)
    return jac, self._held(status, mask, jac)


def _hvp_batch(self, inputs, v, branch_changed="raise"):
    """`hvp` at B points across cores: `inputs` and `v` as in `hvp`, each array with a leading
    points axis (B,).  Returns (values (B,), Hessian-vector products shaped like `inputs`); the
    second tape is recorded at the first point where this tape's guards hold, then both run
    through value_and_grad_batch.  `branch_changed` as there ("mask" adds `held`)."""
    xs = inputs if isinstance(inputs, tuple) else (inputs,)
    vs = v if isinstance(v, tuple) else (v,)
    k = len(self.inputs)
    if len(xs) != k or len(vs) != k:
        raise TypeError(f"hvp: this tape takes {k} inputs and as many vectors")
    mask = _branch_mode(branch_changed)
    self._stage(vs)                         # the vectors' shapes checked like the inputs'
    first = self.value_and_grad_batch(*xs, argnums=(), branch_changed=branch_changed)
    values = first[0]
    held = first[2] if mask else np.ones(len(values), bool)   # (raise: raised already)
    B = len(values)
    if any(np.shape(a)[:1] != (B,) for a in vs):
        raise ValueError(f"hvp: v has {np.shape(vs[0])[0]} points, the inputs {B}")
    if getattr(self, "_hvp_tape", None) is None and held.any():
        p = int(np.argmax(held))
        _hvp_program(self, [np.asarray(a)[p] for a in xs], [np.asarray(a)[p] for a in vs])
    if getattr(self, "_hvp_tape", None) is None:  # no point to record at: all are masked
        hv = tuple(np.full((B,) + shape, np.nan, dt.np) for _, shape, dt in self.inputs)
    else:
        # its guards are this tape's, re-recorded: they hold where this tape's held
        _, hv, held2 = self._hvp_tape.value_and_grad_batch(*xs, *vs, argnums=tuple(range(k)),
                                                           branch_changed="mask")
        held &= held2
        for h in hv:
            h[~held] = np.nan
        values[~held] = np.nan
    hv = hv if isinstance(inputs, tuple) else hv[0]
    return (values, hv, held) if mask else (values, hv)


Recorded.hvp = _hvp
Recorded.jacobian_batch = _jacobian_batch
Recorded.hvp_batch = _hvp_batch
