"""The n-d ops: numpy forward plus their tape entries for elementwise ops (with the
per-op fast path the generated scalar fast path falls back to), comparisons and `where`, dtype
casts, reductions and matrix products."""
import math
import warnings
import weakref

import numpy as np

from . import dtypes as D, errors, _fastpath, groups, layouts, return_types, vocab
from .aligned import storage_error
from .creation import tensor
from .errors import _check_broadcast, _tname
from .fpstate import ERR_RESET as _ERR_RESET, ERR_SET as _ERR_SET, F32_MAX as _F32_MAX, \
    QUIET as _QUIET, quiet as _quiet
from .graph import node_for, show_edge_pairs
from ._jit import kernel_module, module_loaded
from .kinds import matmul as matmul_kind, reduce as reduce_kind, softmax as smx_kind
from .native_args import arg_error, given, MISSING
from .ops import BY_CODE, mentions, OPS, POW_SCALAR
from .parameter import Parameter
from .recording import keep_args, keep_node_args, keep_tensor_args, _check_mixed, _operand, \
    _operand_node, _record_start, _result, _tape_for, const_operand
from .tape import input_node, OP_CONST, open_tape, refuse_inference_save, STATE
from .tensor import (_dim, _int_arg, _int_list, _is_dim_item, _new, NODIFF, Tensor,
                     _tensor_operand)
from .tracing import _bake, _tracing, guard_all, guard_nans
from .views import KIND_OPS, _reshape_op


# forwards that do not read every operand (zero, fill, copy, fill_tensor): numpy gives them
# the shape of what they read, so they are broadcast to the full result shape
_PARTIAL_FWD = frozenset(
    op.code for op in BY_CODE if op.kind in ("unary", "binary")
    and not all(mentions(op.fwd, v) for v in ("a", "b")[:1 + (op.kind == "binary")]))
_NP_FWD = {op.code: eval("lambda a, b, c: " + op.fwd, dict(vocab.NUMPY))
           for op in BY_CODE if op.kind in ("unary", "binary")}


# A float32 pow of fewer elements than this is computed in float64 and rounded once: torch's
# CPU kernel runs its float32 SLEEF loop on blocks of 2 * 16 elements (AVX-512) and the rest
# by its scalar loop, std::pow in double for a number exponent (std::pow(float, double)),
# powf for two tensors, nearly always correctly rounded: numpy's float32 power is a last bit
# off in ~20% of elements (tapegrad/ops.py's pow, pow_scalar).  Larger ones keep numpy's
# float32 loop (a float64 pow is ~10x its time; against torch's SLEEF loop ~20% of elements
# differ in the last bit either way, 2% in float64)
_F32_SCALAR_POW = 32


_F32 = np.dtype(np.float32)


def _pow_f32_in_double(a, b):
    """a ** b (numpy float32 arrays or scalars) for a float32 result of fewer than
    _F32_SCALAR_POW elements: in float64, rounded once to float32 (the caller quiets an
    overflow: inf)."""
    return np.power(a.astype(np.float64), b).astype(np.float32)


def _np_pow(a, b):
    """pow of two tensors: C pow per element, as torch's.  numpy's power loop takes sqrt for
    an exponent of 0.5 broadcast from one element: -inf ** 0.5 is nan and -0.0 ** 0.5 -0.0
    there, inf and 0.0 in C pow (|a| for both), put back here.  (Called with floating-point
    warnings off.)"""
    if getattr(b, "dtype", None) is _F32 and b.size < _F32_SCALAR_POW and \
            getattr(a, "dtype", None) is _F32 and a.size < _F32_SCALAR_POW:
        out = _pow_f32_in_double(a, b.astype(np.float64))
    else:
        out = np.power(a, b)
    if np.size(b) == 1 and np.asarray(b).reshape(-1)[0] == 0.5:
        a = np.asarray(a)
        fix = (a == 0) | (a == -np.inf)
        if fix.any():
            out = np.where(fix, np.abs(a), out)
    return out


_NP_FWD.update({op.code: (lambda a, b, c: _np_pow(a, b)) for op in BY_CODE
                if op.fwd == OPS["pow"].fwd})

# The per-op n-d fast path (_binary, _unary): forwards that read every operand, as
# numpy ufuncs where the formula is one (a call less than the eval'd lambda), and which saved
# values each op's entry keeps (a, b, out), looked up once per op instead of filtered per call.
_NP_UFUNC = {"a + b": np.add, "a - b": np.subtract, "a * b": np.multiply,
             "a / b": np.true_divide, "-a": np.negative, "exp(a)": np.exp,
             "log(a)": np.log, "sqrt(a)": np.sqrt, "sin(a)": np.sin, "cos(a)": np.cos,
             "tanh(a)": np.tanh, "abs(a)": np.abs}


# (number types whose `!= 0` is one bool: a bound given as a number or a numpy scalar)
_NONZERO_TYPES = frozenset((float, int, np.float32, np.float64, np.int64))


def _np_clamp(extreme):
    """clamp_min's formula `where(a >= b, a, where(a != a, a, b))` (clamp_max's with <=) as
    np.maximum (np.minimum): nan on either side kept, the same values, 4 -> 1 us for 512
    elements; then a itself where a == b, the sign of a zero the formula keeps and the SIMD
    loop may not (the mask only where a has a zero).  A nonzero number bound equals no zero:
    no mask to look for (a layer's clamp(-1, 1): ~0.4 us of each of its two entries).
    `in_place` (a an array the caller may overwrite): the same values written into a, the
    positions where a == b left as they are (clamp_ without history, no copy)."""
    def face(a, b, in_place=False):
        if type(b) in _NONZERO_TYPES and b != 0 or \
                np.count_nonzero(a) == (a.size if type(a) is np.ndarray else np.size(a)):
            # (no zero of a equals b: no mask; np.size's Python layer: ~0.3 us of ~2)
            return extreme(a, b, out=a) if in_place else extreme(a, b)
        if in_place:
            return extreme(a, b, out=a, where=a != b)
        return np.where(a == b, a, extreme(a, b))
    face.__name__ = "clamp_" + extreme.__name__[:3]
    return face


# binary formulas with a function of their own (same values)
_NP_BIN_FORMULA = {OPS["pow"].fwd: _np_pow, OPS["clamp_min"].fwd: _np_clamp(np.maximum),
                   OPS["clamp_max"].fwd: _np_clamp(np.minimum)}
_BIN_FWD = {op.code: _NP_UFUNC.get(op.fwd) or _NP_BIN_FORMULA.get(op.fwd) or
            (lambda a, b, f=_NP_FWD[op.code]: f(a, b, 0.0))
            for op in BY_CODE if op.kind == "binary" and op.code not in _PARTIAL_FWD}


_ZEROS = {}   # numpy dtype -> its zero (_np_relu)


def _np_relu(a, c):
    """relu's formula `where(a < 0.0, 0.0, a)`: the same values (nan and -0.0 kept).  By
    np.maximum, whose SIMD loop is ~10x np.where's on random signs (a 256x256 float32 relu:
    262 -> 25 us; a 32x16 one costs the same), then any zeros put back as they were: the sign
    maximum gives a -0.0 varies with the loop numpy takes (torch's relu keeps it)."""
    zero = _ZEROS.get(a.dtype)   # (a.dtype.type(0) costs ~0.2 us a call)
    if zero is None:
        zero = _ZEROS[a.dtype] = a.dtype.type(0)
    # (`out` only for a 0-d input, where numpy would return a scalar: ~0.4 us)
    out = np.maximum(a, zero) if a.ndim else np.maximum(a, zero, out=np.empty_like(a))
    # (the mask only where a zero is; a == 0 then any(): ~8 us for 100k float32 elements,
    # count_nonzero's float loop ~56 us, which made a CNN's relu 2.6x torch's; of a small
    # array, the bool count skips any()'s Python frame: 1.1 -> 0.8 us at 256 elements)
    if np.count_nonzero(a == zero) if a.size <= 4096 else (a == zero).any():
        zeros = a == zero
        out[zeros] = a[zeros]
    return out


def _np_pow_scalar(a, c):
    """pow_scalar's formula (ops.POW_SCALAR: torch's special exponents), as a function (a
    frame less than the eval'd formula); np.power for the others (numpy's own `**` would take
    sqrt and reciprocal paths of its own)."""
    if c == 2.0:
        return a * a
    if c == 0.5:
        return np.sqrt(a)
    if c == -0.5:
        return _quiet(np.divide, 1.0, np.sqrt(a))
    if c == 3.0:
        return a * a * a
    if c == -2.0:
        return _quiet(np.divide, 1.0, a * a)
    if c == -1.0:
        return _quiet(np.divide, 1.0, a)
    if a.dtype is _F32 and a.size < _F32_SCALAR_POW:   # (c a double, as torch's)
        return _quiet(_pow_f32_in_double, a, c)
    return _quiet(np.power, a, a.dtype.type(c) if a.dtype.kind == "f" else c)


def _np_sqrt0(a, c):
    """sqrt0's formula `where(a == 0.0, 0.0, sqrt(a))` as sqrt plus 0.0 (the same values:
    -0.0 + 0.0 is +0.0 as the formula's 0.0, nan and inf unchanged) without its compare and
    where (~3 of a norm's or std's one-element sqrt's 4 us)."""
    return np.sqrt(a) + 0.0


def _np_smooth_l1(a, c):
    """smooth_l1's formula with abs(a) taken once (same values)."""
    z = np.abs(a)
    return np.where(z < c, 0.5 * z * z / c, z - 0.5 * c)


def _np_huber(a, c):
    """huber's formula with abs(a) taken once (same values)."""
    z = np.abs(a)
    return np.where(z < c, 0.5 * z * z, c * (z - 0.5 * c))


def _np_softplus(a, c):
    """softplus's formula `where(a > c, a, log1p(exp(where(a > c, 0.0, a))))` with its
    comparison made once and its temporaries reused (the same calls on the same values:
    the same bits, ~0.6 of a small softplus's 4 us)."""
    big = a > c
    z = np.where(big, 0.0, a)
    np.exp(z, z)
    np.log1p(z, z)
    np.copyto(z, a, where=big)
    return z


def _np_sigmoid(a, c=None):
    """sigmoid's formula as vocab's numpy face computes it, `1.0 / (1.0 + exp(-a))`, in one
    temporary (the same calls on the same values: the same bits; ~0.4 us of a small
    sigmoid's lambdas and allocations less)."""
    if not a.ndim:   # (numpy gives a scalar for a 0-d operand: no `out` to reuse)
        return 1.0 / (1.0 + np.exp(-a))
    z = np.negative(a)
    np.exp(z, z)
    np.add(1.0, z, z)
    return np.divide(1.0, z, z)


def _np_silu(a, c):
    """silu's formula `a * sigmoid(a)`, its temporaries reused (_np_sigmoid)."""
    z = _np_sigmoid(a)
    return a * z if not a.ndim else np.multiply(a, z, z)


# (pow_scalar's formula's numpy face, as pow's: _np_pow_scalar's small float32 case)
_NP_FWD.update({op.code: (lambda a, b, c: _np_pow_scalar(a, c)) for op in BY_CODE
                if op.fwd == POW_SCALAR})

# formulas with a Python number in them, as numpy calls in the operand's dtype (same values)
_NP_FORMULA = {"where(a < 0.0, 0.0, a)": _np_relu, POW_SCALAR: _np_pow_scalar,
               OPS["smooth_l1"].fwd: _np_smooth_l1, OPS["huber"].fwd: _np_huber,
               OPS["sqrt0"].fwd: _np_sqrt0, OPS["softplus"].fwd: _np_softplus,
               OPS["sigmoid"].fwd: _np_sigmoid, OPS["silu"].fwd: _np_silu}
# unary: fn(a, c); a ufunc is called as ufunc(a, None) (its second argument is `out`)
_UN_FAST = {op.code: (_NP_UFUNC[op.fwd], False) if op.fwd in _NP_UFUNC
            else (_NP_FORMULA[op.fwd], True) if op.fwd in _NP_FORMULA
            else ((lambda a, c, f=_NP_FWD[op.code]: f(a, None, c)), True)
            for op in BY_CODE if op.kind == "unary" and op.code not in _PARTIAL_FWD}
# unary forwards that raise no floating-point flag on any float input (nan, inf and subnormal
# included; checked under np.seterr(all="raise") in tests/test_eager_fastpath.py): no
# errstate around them (~0.15 us an op)
_NO_FP_FLAGS = frozenset(op.code for op in BY_CODE if op.kind == "unary" and op.fwd in (
    "-a", "tanh(a)", "abs(a)", "where(a < 0.0, 0.0, a)"))
_SAVE_ROLES = {op.code: tuple(r in op.saves for r in ("a", "b", "out"))
               for op in BY_CODE if op.kind in ("unary", "binary")}
# the fast paths' one lookup per op: binary (forward, save a, save b, save out); unary
# (forward, takes c, errstate needed, save a, save out)
_BIN_FAST = {code: (fwd,) + _SAVE_ROLES[code] for code, fwd in _BIN_FWD.items()}


def _np_straight_through(a, b):
    """straight_through's value: b broadcast to the result's shape, a fresh array."""
    if type(b) is np.ndarray and type(a) is np.ndarray and a.shape == b.shape:
        return b.copy()
    return np.array(np.broadcast_to(b, np.broadcast_shapes(np.shape(a), np.shape(b))))


# (a partial forward, which _BIN_FWD leaves out: its one operand broadcast here, so that the
# bodies that carry a gradient by it (lerp, var, prod, amax) take the fast path, ~8 us less)
_BIN_FAST[OPS["straight_through"].code] = (_np_straight_through,) + \
    _SAVE_ROLES[OPS["straight_through"].code]
# binary ops whose forward is one numpy ufunc (+ - * /): the fast path hands them a Python
# float operand as it is (numpy casts it to the array's dtype, NEP 50: the bits of
# dt.np.type(y), without making that scalar, ~0.2 us of an optimizer's `lr * p.grad`)
_UFUNC_BIN = frozenset(code for code, fwd in _BIN_FWD.items() if type(fwd) is np.ufunc)
_UN_ROW = {code: (fwd, takes_c, code not in _NO_FP_FLAGS, _SAVE_ROLES[code][0],
                  _SAVE_ROLES[code][2]) for code, (fwd, takes_c) in _UN_FAST.items()}
_EXACT_INT = 1 << 53    # Python ints the fast path takes as numbers (beyond: the general path)


def _simd_ops(letter):
    """uint8 per opcode: 1 for a unary op whose forward is one vocabulary function with a
    SIMD numpy face in that dtype (vocab.Fn.simd: "f" float32, "d" float64)."""
    flags = np.zeros(len(BY_CODE), np.uint8)
    for op in BY_CODE:
        fn = vocab.FUNCS.get(op.fwd[:-3]) if op.fwd.endswith("(a)") else None
        if op.kind == "unary" and op.code in _UN_ROW and fn is not None and letter in fn.simd:
            flags[op.code] = 1
    return flags


# {numpy dtype: the unary opcodes a replay evaluates with their eager numpy face when large}
SIMD_OPS = {np.dtype(np.float32): _simd_ops("f"), np.dtype(np.float64): _simd_ops("d")}


def unary_into(code, a, out, c):
    """Write unary op `code`'s value at array `a` (constant c) into `out`, by the eager op's
    own numpy call (the same values as the eager op): a replay's host step for the entries
    SIMD_OPS flags."""
    fwd, takes_c, flags, _, _ = _UN_ROW[code]
    token = _ERR_SET(_QUIET) if flags else None
    try:
        if takes_c:
            out[...] = fwd(a, c)
        else:   # (a ufunc, called as ufunc(a, out))
            fwd(a, out)
    finally:
        if token is not None:
            _ERR_RESET(token)



_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "** or pow()", "remainder": "%"}


def _no_complex(name):
    return NotImplementedError(f"tapegrad has no complex dtypes: {name} with a complex number "
                               f"(computed in a complex dtype in torch) is not supported")


def _operand_error(code, x, y):
    """Python's message for `x op y` when neither side takes the other (the message of the
    NotAnOperand the operators turn into NotImplemented)."""
    sym = _SYMBOL.get(BY_CODE[code].name, BY_CODE[code].name)
    left, right = type(x).__name__, type(y).__name__
    if sym == "+" and isinstance(x, (str, list, tuple)):
        return f'can only concatenate {left} (not "{right}") to {left}'
    return f"unsupported operand type(s) for {sym}: '{left}' and '{right}'"


def _binary(code, x, y):
    # Fast path: a tensor of a float dtype with a tensor of the same dtype or a Python number
    # (either side): the result has that dtype, so the promotion machinery is skipped.
    # A Parameter is a plain Tensor here (it changes no op); other subclasses take the
    # general path.  One frame from the operands to the result tensor and its entry (the
    # numpy call, the tape, the nodes, Tape.push_nd, the saves): this runs once per n-d op.
    row = _BIN_FAST.get(code)
    if row is None:
        return _binary_general(code, x, y)
    tx, ty = type(x), type(y)
    xt = tx is Tensor or tx is Parameter
    yt = ty is Tensor or ty is Parameter
    if xt:
        dt = x._dtype
        xa = x._v
        if yt:
            if y._dtype is not dt:
                return _binary_general(code, x, y)
            ya = y._v
        elif ty is float or ty is int and -_EXACT_INT <= y <= _EXACT_INT:
            ya = y if not dt.is_floating_point or ty is float and code in _UFUNC_BIN and (
                -_F32_MAX <= y <= _F32_MAX) else dt.np.type(y) if (
                -_F32_MAX <= y <= _F32_MAX) else _quiet(dt.np.type, y)   # (overflow: inf)
        else:
            return _binary_general(code, x, y)
    elif yt and (tx is float or tx is int and -_EXACT_INT <= x <= _EXACT_INT):
        dt = y._dtype
        ya = y._v
        xa = x if not dt.is_floating_point or tx is float and code in _UFUNC_BIN and (
            -_F32_MAX <= x <= _F32_MAX) else dt.np.type(x) if (
            -_F32_MAX <= x <= _F32_MAX) else _quiet(dt.np.type, x)   # (overflow: inf)
    else:
        return _binary_general(code, x, y)
    if not dt.is_floating_point:
        return _binary_general(code, x, y)
    if type(xa) is float and xt:   # (a float-held tensor; a float number stays as it is)
        xa = x._array()
    if type(ya) is float and yt:
        # a one-element operand held as a number (a (1,) bias) beside an array of at least
        # its dims: as a numpy scalar of the dtype, the same values broadcast to the same
        # shape (the array _array makes and its broadcast cost ~0.5 us more)
        ya = dt.np.type(ya) if type(xa) is np.ndarray and len(y._shape) <= xa.ndim and (
            dt is D.float64 or dt is D.float32 and -_F32_MAX <= ya <= _F32_MAX) else y._array()
    fwd, sa, sb, so = row
    dtn = dt.np
    token = _ERR_SET(_QUIET)
    try:
        out = fwd(xa, ya)
        if type(out) is not np.ndarray or out.dtype is not dtn and out.dtype != dtn:
            # (0-d operands give numpy scalars; a float64 face's value past float32's range
            # casts to inf quietly, as torch's float kernel overflows)
            out = np.asarray(out, dtype=dtn)
    except ValueError:
        _check_broadcast(np.shape(xa), np.shape(ya))
        raise
    except MemoryError:   # (an expand's result too large to hold: torch's allocator's words)
        raise storage_error(np.broadcast_shapes(np.shape(xa), np.shape(ya)),
                            dtn.itemsize) from None
    finally:
        _ERR_RESET(token)
    rx = xt and x._recorded
    ry = yt and y._recorded
    size = out.size
    if not (rx or ry):
        if size != 1:   # (Tensor._wrap's array case, inline: an optimizer's `lr * p.grad`)
            t = _new()
            t._v, t._dtype, t._shape, t._tape, t._recorded = out, dt, out.shape, None, False
            return t
        return Tensor._wrap(out, dt)
    if size == 1:   # a one-element result: _result's case (its value in the entry)
        tape = _tape_for(x, y)
        if tape is not None:
            return _binary_entry(code, x, y, xa, ya, out, dt, tape, rx, ry)
        return Tensor._wrap(out, dt)
    tape = STATE.tape
    if tape.sealed:
        tape = open_tape(x, y)
        if tape is None:
            return Tensor._wrap(out, dt)
    # the operands' nodes (-2: another tape's or a one-element constant: _binary_entry's
    # path; -3: an n-d constant tensor (data, targets), -4: a leaf not yet on this tape: their
    # entries are made below, once neither operand can raise; a Python number is -1, its
    # value in the entry's imm)
    c = 0.0
    if rx:
        src = x._tape
        a = x._node if src is tape else (
            (x._lnode if x._lserial == tape.serial else -4) if src is None else -2)
    elif xt:
        a = -3 if xa.size != 1 and x._tape is None else -2
    else:
        a, c = -1, _number_imm(x, dt, code)
    if ry:
        src = y._tape
        b = y._node if src is tape else (
            (y._lnode if y._lserial == tape.serial else -4) if src is None else -2)
    elif yt:
        b = -3 if ya.size != 1 and y._tape is None else -2
    else:
        b, c = -1, _number_imm(y, dt, code)
    if a == -2 or b == -2:
        return _binary_entry(code, x, y, xa, ya, out, dt, tape, rx, ry)
    if a == -3 and sa:   # (a constant the entry saves: not an inference tensor, as torch)
        refuse_inference_save(x)
    if b == -3 and sb:
        refuse_inference_save(y)
    if a < -1:   # (in operand order, as _binary_entry; -4: input_node's leaf case)
        a = tape.leaf_node(x) if a == -4 else const_operand(tape, x, xa)
    if b < -1:   # (y may be x, a leaf entered just above: then its node, not a second entry)
        b = (tape.leaf_node(y) if y._lserial != tape.serial else y._lnode) if b == -4 else \
            const_operand(tape, y, ya)
    shape = out.shape
    n = tape.push_nd(code, a, b, c, shape, size)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._recorded, t._node = out, dt, shape, tape, True, n
    if sa:
        tape.save(a, xa)
    if sb:
        tape.save(b, ya)
    if so:
        tape.save(n, out)
    return t


# NOTE: torch casts a Python number beside a float32 tensor to float32 (a wrapped number
# takes the op's dtype), so the gradients of x * 0.3 and x / 0.3 are float32 products and
# quotients of float32(0.3): held as a double in imm, about half of them differed from
# torch's in the last bit (and a float32 replay's x + 0.3 from the eager value).  The sweep's
# double arithmetic on float32 values then rounds once to torch's result (53 >= 2 * 24 + 2
# bits: no double rounding).  The rows that do so: Op.number_as_dtype.
_NUMBER_AS_FLOAT32 = frozenset(op.code for op in BY_CODE if op.number_as_dtype)


def _number_imm(number, dt, code):
    """The imm of an entry whose operand is a Python number (or a one-element constant)."""
    if dt is D.float32 and code in _NUMBER_AS_FLOAT32:
        r = _ROUNDED32.get(number)   # (a loop's few constants: ~0.3 us a call less)
        if not r:   # (not kept: 0.0 and -0.0 are one key, nan is none)
            r = float(_FLOAT32_TYPE(number)) if -_F32_MAX <= number <= _F32_MAX else \
                float(_quiet(_FLOAT32_TYPE, number))   # (inf past the range; nan stays)
            if r:
                if len(_ROUNDED32) >= 256:
                    _ROUNDED32.clear()
                _ROUNDED32[number] = r
        return r
    return float(number)


_FLOAT32_TYPE = np.float32
_ROUNDED32 = {}   # number -> float(float32(number)), the last few hundred asked


def _binary_entry(code, x, y, xa, ya, out, dt, tape, rx, ry):
    """_binary's entry when an operand is not yet a node of `tape` (or the result has one
    element): the other-thread check first, then leaf, import and const entries as needed."""
    _check_mixed(tape, x, y)
    xt = not (type(x) is float or type(x) is int)
    yt = not (type(y) is float or type(y) is int)
    a, ca = ((x._node if x._tape is tape else input_node(tape, x)), 0.0) if rx else \
        _operand_node(tape, x, xa)
    b, cb = ((y._node if y._tape is tape else input_node(tape, y)), 0.0) if ry else \
        _operand_node(tape, y, ya)
    sa, sb, so = _SAVE_ROLES[code]
    if sa and xt and not rx:
        refuse_inference_save(x)
    if sb and yt and not ry:
        refuse_inference_save(y)
    t = _result(out, dt, tape, code, a, b,
                _number_imm(ca if a < 0 else cb, dt, code) if a < 0 or b < 0 else 0.0)
    if a < 0 and xt:    # a one-element constant tensor folded into imm
        tape.watch_folded(t._node, x, 1)
    elif b < 0 and yt:
        tape.watch_folded(t._node, y, 2)
    if sa:
        tape.save(a, xa)
    if sb:
        tape.save(b, ya)
    if so:
        tape.save(t._node, out)
    return t


# integer results a recorded tape may compute with its float formula (exact for the
# integers a float holds: counts of masks, casts of values), and bool results (0.0 / 1.0)
_EXACT_INT_OPS = frozenset(("add", "sub", "mul", "copy", "fill_tensor", "maximum", "minimum",
                            "draw"))
_EXACT_BOOL_OPS = frozenset(("copy", "fill_tensor", "maximum", "minimum", "draw"))
# bool + bool and bool * bool are logical ops (True + True is True): compare entries
_BOOL_AS_LOGICAL = {"add": "logical_or", "mul": "logical_and"}
_SUB, _NEG, _POW, _ABS = OPS["sub"].code, OPS["neg"].code, OPS["pow"].code, OPS["abs"].code
_RELU = OPS["relu"].code


def _int_power(a, b, dtn):
    """torch's pow of signed integers: numpy's (wrapping around) for exponents >= 0, where
    numpy raises for a negative one torch's 1 for base 1, +-1 for base -1 (by the exponent's
    parity), else 0 (base 0 included)."""
    neg = b < 0
    if not np.any(neg):
        return np.asarray(np.power(a, b), dtype=dtn)
    at_neg = np.where(a == 1, 1, np.where(a == -1, 1 - 2 * (b % 2), 0))
    return np.asarray(np.where(neg, at_neg, np.power(a, np.where(neg, 0, b))), dtype=dtn)


def _binary_general(code, x, y):
    if isinstance(x, np.generic) or isinstance(y, np.generic):   # (numpy scalars: numbers)
        return _binary(code, D.py_number(x), D.py_number(y))
    try:
        xa, xd, xc = _operand(x)
        ya, yd, yc = _operand(y)
    except TypeError:
        if isinstance(x, complex) or isinstance(y, complex):
            # (torch computes in a complex dtype; numpy's reflected op answered with an ndarray)
            raise _no_complex(BY_CODE[code].name) from None
        raise errors.NotAnOperand(_operand_error(code, x, y)) from None
    if code == _SUB:    # (a float tensor with float operands never comes here)
        errors.check_sub(x, y)
    D.check_uint64_operands(x, y)
    dt = D.result_type((xd, xc), (yd, yc))
    op = BY_CODE[code]
    if op.name in ("div", "atan2") and not dt.is_floating_point:  # true division, as torch
        dt = D.get_default_dtype()
    # (the entry saves a float operand widened to dt as it is, cast at backward: torch's node
    # saves the tensor itself, whose memory a change through `.data` changes)
    xs = xa if xd is not dt and xd is not None and xd.is_floating_point and \
        xd.itemsize < dt.itemsize and type(xa) is np.ndarray else None
    ys = ya if yd is not dt and yd is not None and yd.is_floating_point and \
        yd.itemsize < dt.itemsize and type(ya) is np.ndarray else None
    xa = D.as_array(xa, dt)
    ya = D.as_array(ya, dt)
    try:
        with np.errstate(all="ignore"):
            if code == _POW and dt.np.kind == "i":
                out = _int_power(xa, ya, dt.np)
            else:
                out = np.asarray(_NP_FWD[code](xa, ya, 0.0), dtype=dt.np)
        if code in _PARTIAL_FWD:
            out = np.array(np.broadcast_to(out, np.broadcast_shapes(np.shape(xa), np.shape(ya))))
    except MemoryError:   # (an expand's result too large to hold: torch's allocator's words)
        raise storage_error(np.broadcast_shapes(np.shape(xa), np.shape(ya)),
                            dt.itemsize) from None
    except ValueError:
        _check_broadcast(np.shape(xa), np.shape(ya))
        raise
    tape = _record_start(x, y)
    if tape is None:
        return Tensor._wrap(out, dt)
    if not dt.is_floating_point:
        if not tape.recording:
            raise RuntimeError(errors.NOT_FLOAT_CREATE)
        if dt is D.bool_ and op.name in _BOOL_AS_LOGICAL:
            return _compare(_BOOL_AS_LOGICAL[op.name], *((x, y) if isinstance(x, Tensor)
                                                         else (y, x)))
        if op.name not in (_EXACT_BOOL_OPS if dt is D.bool_ else _EXACT_INT_OPS):
            # the replay's float formula is not this integer op (bool's add is `or`, `//`
            # and `%` differ at negative operands): the operands are guarded instead, so
            # a replay where one changed raises BranchChanged rather than reusing `out`
            for v in (x, y):
                if isinstance(v, Tensor):
                    _bake(v, "guard_value")
            return Tensor._wrap(out, dt)
    # A recorded operand of a wider float dtype (a 0-d float64 beside a float32 tensor):
    # torch computes the op and its gradient formulas on the value cast to the result's
    # dtype (ties of maximum/clamp, fmod's trunc(a / b)), so it enters as a hidden cast.
    start = tape.n
    narrowed = False
    if dt.is_floating_point:
        if _narrows(x, dt):
            x, narrowed = _cast(x, dt), True
        if _narrows(y, dt):
            y, narrowed = _cast(y, dt), True
    a, ca = _operand_node(tape, x, xa if xs is None else xs)
    b, cb = _operand_node(tape, y, ya if ys is None else ys)
    c = ca if a < 0 else cb
    saves = [("a", a, xa if xs is None else xs), ("b", b, ya if ys is None else ys),
             ("out", None, out)]
    t = _result(out, dt, tape, code, a, b, c, [s for s in saves if s[0] in op.saves])
    if narrowed:   # (the cast and the op: one node, shown as the op's, as torch's)
        groups.mark(tape, start, t._node, code)
    if not dt.is_floating_point:
        t._flags = NODIFF      # a traced integer value (a count of a mask): no gradient
    if a < 0 and isinstance(x, Tensor):    # a one-element constant tensor folded into imm
        tape.watch_folded(t._node, x, 1)
    elif b < 0 and isinstance(y, Tensor):
        tape.watch_folded(t._node, y, 2)
    return t


def wider_float(r, t):
    """Whether in-place op result r is of a wider float dtype than float tensor t's: the op
    computed in the dtype it promoted t and a float64 operand to."""
    return r._dtype is not t._dtype and r._dtype.is_floating_point and \
        t._dtype.is_floating_point and r._dtype.itemsize > t._dtype.itemsize


def narrowed(r, dt):
    """An in-place op's result r, computed in the promoted float dtype (a float64 operand of
    a float32 tensor: torch's TensorIterator computes in float64 and rounds the result once),
    cast into self's float dtype dt.  The op's entry (or its decomposition's group) and the
    cast are one group shown as the op's node (MulBackward0), whose backward reads the
    operand itself, as torch's node saves it; the entries its operands took (a constant
    self's, a leaf's) stay its inputs."""
    tape = r._tape
    if tape is None:   # (while recording: a constant of the tape)
        return r.to(dt)
    e = r._node
    code = groups.row_at(tape, e)   # (the op's own decomposition: addcmul's)
    start = int(tape.groups.first[e]) if code >= 0 else e
    if code < 0:
        code = int(tape.op[e])
    # (the op's edges: a group lists no constant operand, torch's node (None, 0) for it)
    edges = node_for(tape, e).next_functions
    r = _cast(r, dt)
    groups.mark(tape, start, r._node, code)
    show_edge_pairs(tape, r._node, edges)
    return r


def _narrows(v, dt):
    """Whether v is a recorded float tensor of a wider dtype than the float dtype dt."""
    return isinstance(v, Tensor) and v._recorded and v._dtype.is_floating_point and \
        v._dtype.itemsize > dt.itemsize


def _unary(code, x, c=0.0):
    # Fast path: an array-backed float tensor, an op that reads its operand (ufunc when it is one)
    row = _UN_ROW.get(code)
    xa = x._v
    dt = x._dtype
    if row is not None and dt.is_floating_point:
        # (one frame to the result and its entry, as _binary's fast path)
        if type(xa) is float:   # (a one-element value held as a number: a sum, a norm's)
            xa = x._array()
        fwd, takes_c, flags, sa, so = row
        try:
            if flags:
                token = _ERR_SET(_QUIET)
                try:
                    out = fwd(xa, c if takes_c else None)
                finally:
                    _ERR_RESET(token)
            else:
                out = fwd(xa, c if takes_c else None)
        except MemoryError:   # (an expand's result too large to hold: torch's allocator's)
            raise storage_error(xa.shape, dt.itemsize) from None
        dtn = dt.np
        if type(out) is not np.ndarray or out.dtype is not dtn and out.dtype != dtn:
            # (a float64 face's value past float32's range (i0(100)) casts to inf quietly)
            out = np.asarray(out, dtype=dtn) if getattr(out, "dtype", None) == dtn else \
                _quiet(np.asarray, out, dtn)
        if not x._recorded:
            return Tensor._wrap(out, dt)
        size = out.size
        tape = STATE.tape
        if tape.sealed or size == 1:
            tape = _tape_for(x, None)
            if tape is None:
                return Tensor._wrap(out, dt)
        src = x._tape
        if src is tape:
            a = x._node
        elif src is None and x._lserial == tape.serial:
            a = x._lnode
        else:
            _check_mixed(tape, x, None)
            a = input_node(tape, x)
        if size == 1:
            t = _result(out, dt, tape, code, a, -1, c)
        else:
            shape = out.shape
            t = _new()
            t._v, t._dtype, t._shape, t._tape, t._recorded = out, dt, shape, tape, True
            t._node = tape.push_nd(code, a, -1, c, shape, size)
        if sa:
            tape.save(a, xa)
        if so:
            tape.save(t._node, out)
        return t
    if x._dtype is D.bool_:
        if code == _NEG:
            raise RuntimeError(errors.NEG_BOOL)
        if code == _ABS:
            raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
        if code == _RELU:
            raise RuntimeError("Boolean inputs not supported for relu")
    op = BY_CODE[code]
    xa = x._array()
    dt = x._dtype if x._dtype.is_floating_point else D.get_default_dtype()
    if op.name in ("neg", "abs", "relu", "sign") and not x._dtype.is_floating_point:
        dt = x._dtype
    try:
        with np.errstate(all="ignore"):
            if code == _RELU:   # (in the integer dtype: the formula's 0.0 would round int64)
                out = _np_relu(xa.astype(dt.np, copy=False), c)
            else:
                out = np.asarray(_NP_FWD[code](xa.astype(dt.np, copy=False), None, c),
                                 dtype=dt.np)
    except MemoryError:   # (an expand's result too large to hold: torch's allocator's words)
        raise storage_error(xa.shape, dt.itemsize) from None
    if code in _PARTIAL_FWD:
        out = np.array(np.broadcast_to(out, np.shape(xa)))
    tape = _record_start(x)
    if tape is None:
        return Tensor._wrap(out, dt)
    a = input_node(tape, x)
    saves = [("a", a, xa), ("out", None, out)]
    t = _result(out, dt, tape, code, a, -1, c, [s for s in saves if s[0] in op.saves])
    if not dt.is_floating_point:
        t._flags = NODIFF      # (neg, abs, sign of a traced integer value: no gradient)
    return t


_fastpath._binary = _binary
_fastpath._unary = _unary
_fastpath._NotAnOperand = errors.NotAnOperand


_NP_CMP = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
           "eq": np.equal, "ne": np.not_equal, "logical_and": np.logical_and,
           "logical_or": np.logical_or, "logical_xor": np.logical_xor}   # (+ opsmath, #11)


_WRAPPED_CMP = frozenset(("lt", "le", "gt", "ge", "eq", "ne"))


def _compare(name, x, y):
    if isinstance(y, np.generic):
        y = D.py_number(y)
    xa = x._array()
    ya = y._array() if isinstance(y, Tensor) else y
    if not isinstance(y, (Tensor, bool, int, float, np.ndarray)):
        if isinstance(y, complex):   # (torch compares in a complex dtype; == was False here)
            raise _no_complex(name)
        return NotImplemented
    if type(y) is int:
        D.check_int_scalar(y)
        D.check_uint64_operands(x, y)
        if y > D.I64_MAX and x._dtype is D.int64:
            y = ya = y - (1 << 64)   # (torch's uint64 scalar, as int64: 2**63 is -2**63)
    if isinstance(y, Tensor) and y._dtype is not x._dtype:
        # two tensors compare in their promoted dtype, as torch's: a 0-d operand converted
        # into a dimensioned one's dtype may wrap around (int16 -32768 as uint8 is 0)
        dt = D.torch_result_type(x, y)
        xa, ya = _quiet(D.as_array, xa, dt), _quiet(D.as_array, ya, dt)
    elif name in _WRAPPED_CMP and x._dtype.itemsize < 8 and isinstance(y, int) and \
            not x._dtype.is_floating_point:
        # a small integer type compares in the promoted dtype, as torch: an int operand
        # outside its range wraps around (uint8 < 300 is uint8 < 44; a float32 tensor's
        # promoted dtype is its own)
        dt = D.torch_result_type(x, y)
        if dt.itemsize < 8 and not dt.is_floating_point and dt is not D.bool_:
            xa, ya = D.as_array(xa, dt), D.as_array(ya, dt)
    elif type(y) is float and not x._dtype.is_floating_point:
        # an integer or bool tensor against a float compares in the default dtype, as torch:
        # int64 2 == 2.0000001 holds in float32
        dt = D.get_default_dtype()
        xa, ya = np.asarray(xa).astype(dt.np), _quiet(dt.np.type, ya)
    try:
        if type(ya) is float and not -_F32_MAX <= ya <= _F32_MAX:
            # (a float32 tensor against a number past float32's range: numpy's cast of the
            # number warns of the overflow; torch compares silently)
            out = np.asarray(_quiet(_NP_CMP[name], xa, ya))
        else:
            out = np.asarray(_NP_CMP[name](xa, ya))
    except MemoryError:   # (an expand's result too large to hold: torch's allocator's words)
        raise storage_error(np.broadcast_shapes(np.shape(xa), np.shape(ya)), 1) from None
    except ValueError:
        _check_broadcast(np.shape(xa), np.shape(ya))
        raise
    tape = _tracing(x) or (_tracing(y) if isinstance(y, Tensor) else None)
    if tape is None:
        return Tensor._wrap(out, D.bool_)
    a, ca = _operand_node(tape, x, xa)
    b, cb = _operand_node(tape, y, ya)
    if b < 0 and not isinstance(y, Tensor) and (x._dtype is D.float32 or type(y) is float and
                                                 D.get_default_dtype() is D.float32):
        # (numpy compared with the number cast to float32, as torch: so does the replay)
        cb = float(_quiet(np.float32, cb))
    t = _result(out, D.bool_, tape, OPS[name].code, a, b, ca if a < 0 else cb)
    t._flags = NODIFF
    return t


_WARNED_UINT8_WHERE = []


def where(condition, input, other, _op="where", _row_major=False):
    """Elementwise `input if condition else other`: the branch-free way to select on values,
    which a recorded tape re-evaluates at every replay (an `if` would be baked in).
    `_row_major`: the result row-major whatever the operands' layout (masked_fill's)."""
    cond = condition if isinstance(condition, Tensor) else tensor(condition)
    if cond._dtype is D.uint8:   # (torch takes uint8 too, warning once a process)
        if not _WARNED_UINT8_WHERE:
            _WARNED_UINT8_WHERE.append(True)
            warnings.warn("where received a uint8 condition tensor. This behavior is "
                          "deprecated and will be removed in a future version of PyTorch. Use "
                          "a boolean condition instead.", UserWarning, stacklevel=2)
    elif cond._dtype is not D.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {cond._dtype.legacy}")
    ca = cond._array().astype(bool, copy=False)   # (read in this call only: no copy)
    xa, xd, xc = _operand(input)
    ya, yd, yc = _operand(other)
    dt = D.result_type((xd, xc), (yd, yc))
    if xc == 0 or yc == 0:    # a Python number: torch's checked conversion (shapes first)
        # (a number's shape is (): np.shape would make an array of it, ~0.9 us)
        _check_broadcast(ca.shape, xa.shape if xc else (), ya.shape if yc else ())
        xa, ya = (D.checked(v, dt) if c == 0 else v for v, c in ((xa, xc), (ya, yc)))
    try:
        out = np.asarray(np.where(ca, D.as_array(xa, dt), D.as_array(ya, dt)), dtype=dt.np)
    except ValueError:   # (torch's message for shapes that do not broadcast)
        _check_broadcast(ca.shape, np.shape(xa), np.shape(ya))
        raise
    if _row_major and not out.flags.c_contiguous:
        out = np.ascontiguousarray(out)
    tape = _record_start(input, other, cond)
    if tape is None:
        return Tensor._wrap(out, dt)
    a, cst_a = _operand_node(tape, input, xa)
    b, cst_b = _operand_node(tape, other, ya)
    if a < 0 and b < 0:  # one constant fits in the entry; the other becomes a const node
        b = tape.push(OP_CONST, -1, -1, 0.0, cst_b)
    if cond._recorded:
        c_node = input_node(tape, cond)
    elif ca.size == 1:
        c_node = tape.push(OP_CONST, -1, -1, 0.0, float(ca.reshape(-1)[0]))
    else:
        c_node = tape.const_node(ca)
    if isinstance(cond, Tensor) and not cond._recorded:
        tape.watch(c_node, cond)
    tape.save(c_node, ca.astype(np.float64))
    t = _result(out, dt, tape, OPS[_op].code, a, b, cst_a if a < 0 else cst_b)
    tape.set_cond(t._node, c_node)
    return t


def float_operands(x, y):
    """The operands of a float-valued binary op (xlogy, logaddexp): an integer or bool tensor
    cast to the float dtype torch computes the pair in, their promoted dtype (the 0-d rule
    included), the default float for two integers; float tensors and numbers as they are
    (the op's own promotion takes them)."""
    dt = D.torch_result_type(x, y)
    if not dt.is_floating_point:
        dt = D.get_default_dtype()
    return tuple(_cast(v, dt) if isinstance(v, Tensor) and not v._dtype.is_floating_point
                 else v for v in (x, y))


def _cast(x, dt):
    if dt is D.bool_ and _tracing(x) is not None:
        return _compare("ne", x, 0)     # (a replay re-evaluates it: x != 0)
    xa = x._array()
    if xa.flags.c_contiguous:
        # (a narrowing cast, or inf / nan to an integer, may overflow: silently as torch)
        out = _quiet(xa.astype, dt.np) if xa.itemsize > dt.np.itemsize or \
            xa.dtype.kind == "f" and not dt.is_floating_point else xa.astype(dt.np)
    else:   # (torch's empty_like(preserve) layout: an expand's result is row-major)
        out = layouts.empty_preserving(xa, dt.np)
        _quiet(np.copyto, out, xa, "unsafe")
    if dt.is_floating_point and x._dtype.is_floating_point:
        tape = _record_start(x)
        if tape is None:
            return Tensor._wrap(out, dt)
        return _result(out, dt, tape, OPS["to_copy"].code, input_node(tape, x), -1, 0.0)
    tape = _tracing(x)
    if tape is None:
        return Tensor._wrap(out, dt)
    return _traced_cast(x, out, dt, tape)


# the traced integer casts: (op row, its c) per type; int64's: to_int at 2^63
_INT_CASTS = {D.int32: ("to_int", 2.0 ** 31), D.int16: ("to_int_wrap", 2.0 ** 16),
              D.int8: ("to_int_wrap", 2.0 ** 8), D.uint8: ("to_uint8", 2.0 ** 8)}
_INT_BOUNDS = {D.bool_: (0, 1), D.uint8: (0, 2 ** 8 - 1), D.int8: (-2 ** 7, 2 ** 7 - 1),
               D.int16: (-2 ** 15, 2 ** 15 - 1), D.int32: (-2 ** 31, 2 ** 31 - 1),
               D.int64: (-2 ** 63, 2 ** 63 - 1)}


def _cast_row(src, dt):
    """(op row, c) of a traced cast from dtype src into dt."""
    if dt.is_floating_point:
        return "to_copy", 0.0
    if src.is_floating_point:
        return _INT_CASTS.get(dt, ("to_int", 2.0 ** 63))
    lo, hi = _INT_BOUNDS[src]
    to_lo, to_hi = _INT_BOUNDS[dt]
    if to_lo <= lo and hi <= to_hi:
        return "to_copy", 0.0
    return ("int_wrap" if dt.is_signed else "int_to_uint8"), float(to_hi - to_lo + 1)


def _traced_cast(x, out, dt, tape):
    """While recording, a cast that leaves or enters the floating point types (a mask's
    `.float()`, `.long()` of a float) or narrows an integer type still follows the inputs:
    without an entry its result would be a constant of the tape, silently reused by every
    replay.  The replay's values are floats, so the cast is a copy or torch's cast into an
    integer type: from a float toward zero, the type's minimum past int32 / int64's range,
    int8 / int16 / uint8 then wrapping around; from a wider integer type, its low bits.  No
    gradient flows through it (torch's result does not require grad)."""
    name, c = _cast_row(x._dtype, dt)
    t = _result(out, dt, tape, OPS[name].code, input_node(tape, x), -1, c)
    t._flags = NODIFF
    return t


def _max_min(x, dim, keepdim, name):
    """(values, indices) of max/min along `dim`.  values is one gather entry (MaxBackward0 /
    MinBackward0) reading the returned positions, so its gradient goes to the returned index
    (the first extreme, as torch on CPU); indices is int64 and needs no gradient."""
    if dim is None or isinstance(dim, Tensor):
        raise NotImplementedError(
            f"tapegrad: {name}() over all elements and {name}(input, other) are not implemented "
            f"yet; {name}(dim, keepdim=False) is")
    if not hasattr(dim, "__index__") or isinstance(dim, bool):
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"(dim={type(dim).__name__}), but expected (int dim, bool keepdim)")
    nd = len(x._shape)
    d = _dim(dim.__index__(), nd)
    if nd and x._shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    arr = x._array()
    if nd and _use_extremes(x, arr):
        at, pos, _, flat = first_extremes(arr, d, d, name == "max")
        kshape = x._shape[:d] + (1,) + x._shape[d + 1:]
        shape = kshape if keepdim else x._shape[:d] + x._shape[d + 1:]
        idx, values, kidx = at.reshape(shape), flat[pos].reshape(shape), at.reshape(kshape)
    else:
        a = arr if nd else arr.reshape(1)
        pick = np.argmax if name == "max" else np.argmin
        idx = pick(a, axis=d, keepdims=True)
        values = np.take_along_axis(a, idx, axis=d)
        pos = np.take_along_axis(np.arange(a.size).reshape(a.shape), idx, axis=d)
        kidx = idx
        if not keepdim or not nd:
            shape = x._shape[:d] + x._shape[d + 1:] if nd else ()
            idx, values, pos = idx.reshape(shape), values.reshape(shape), pos.reshape(shape)
    indices = Tensor._wrap(np.asarray(idx, np.int64), D.int64)
    pair = return_types.max if name == "max" else return_types.min
    tape = _record_start(x)
    if tape is None:
        return pair((Tensor._wrap(np.asarray(values), x._dtype), indices))
    t = _result(np.asarray(values), x._dtype, tape, OPS[name + "_dim"].code,
                input_node(tape, x), -1, 0.0)
    tape.add_params(t._node, pos.reshape(-1))
    keep_args(t, dim=int(dim), keepdim=bool(keepdim), indices=indices)
    if tape.recording and nd:
        _guard_extreme(x, t, kidx, d, name)
    return pair((t, indices))


def _guard_extreme(x, values, kidx, d, name):
    """While recording: the gather reads the positions found now, so a guard checks that
    they are still the first extreme along d (strictly beyond every element before, at least
    every one after); a replay where the argmax moved raises BranchChanged."""
    kshape = list(x._shape)
    kshape[d] = 1
    v = values.reshape(kshape)
    n = x._shape[d]
    ar = np.arange(n).reshape([n if j == d else 1 for j in range(len(kshape))])
    before = Tensor._wrap(ar < kidx, D.bool_)
    strict, loose = (x < v, x <= v) if name == "max" else (x > v, x >= v)
    guard_nans(x)
    guard_all(where(before, strict, loose))


def _np_mean(arr, axis, keepdims, dtype):
    """arr.mean(axis=axis, keepdims=keepdims, dtype=dtype), bit for bit, without numpy's
    Python-level _mean (~2 µs of a 32-element mean): the sum in `dtype`, divided by the
    count as an intp, as numpy divides (a numpy scalar's quotient in float64, cast back).  An
    empty reduction gives nan, and a sum of opposite infinities nan, without numpy's
    warnings, as torch."""
    items = 1
    for d in axis:
        items *= arr.shape[d]
    if items == 0:   # nan, silently as torch (numpy's mean warns "Mean of empty slice")
        return _quiet(np.true_divide, np.add.reduce(arr, axis, dtype, None, keepdims), 0)
    token = _ERR_SET(_QUIET)   # (_quiet's, inline)
    try:
        ret = _add_reduce(arr, axis, dtype, None, keepdims)
    finally:
        _ERR_RESET(token)
    if type(ret) is np.ndarray:
        exact = _EXACT_COUNT.get(ret.dtype.type)
        if exact is not None and items <= exact:
            # NOTE: numpy's quotient is in float64, rounded once to the sum's dtype; the
            # quotient by the count in that dtype itself is the same bits (a count it holds
            # exactly, and float64's 53 bits >= 2 * 24 + 2: the double rounding is
            # innocuous), without numpy's mixed-dtype cast loop (~1.5 of a 16x16 mean's 4 µs)
            return np.true_divide(ret, ret.dtype.type(items), ret)
        return np.true_divide(ret, np.intp(items), out=ret, casting="unsafe")
    return ret.dtype.type(ret / np.intp(items))


# the counts float32 / float64 hold exactly: _np_mean divides by them in the array's dtype
_EXACT_COUNT = {np.float32: 1 << 24, np.float64: 1 << 53}


# From this many elements a float sum/mean over every element runs in tapegrad._sums' loop
# (vectorized, float64 accumulator) instead of numpy's pairwise sum (not vectorized for
# float32: 4x slower at 200k elements).
_FAST_SUM_MIN = 1 << 12


def _sums():
    """tapegrad._sums, imported (with numba) on the first large sum."""
    return kernel_module("tapegrad._sums", "_sums.py", _import_sums)


def _import_sums():
    from . import _sums
    return _sums


def _welford():
    """tapegrad._welford, imported (with numba) on the first float var / std."""
    return kernel_module("tapegrad._welford", "_welford.py", _import_welford)


def _import_welford():
    from . import _welford
    return _welford


# From this many results side by side welford_moments' kernel runs them as vector lanes (a
# (64, 1000) float32 var(1): transposed first ~40 us, one slice after another ~490 us)
_WELFORD_LANES = 8


def welford_moments(arr, dims, correction, keepdim):
    """(m2, var, std, mean) of the float32/float64 array arr over `dims` (sorted, not empty)
    by tapegrad._welford, arrays of arr's dtype in the result's shape: torch's route for a
    reduction with several results (and var_mean's).  Each slice is read in the order torch's
    iterator walks it: the reduced dims from the largest stride of arr to the smallest
    (row-major for a contiguous arr), ties in dim order.  An empty slice gives nan (torch's
    fill, whatever the correction)."""
    shape = arr.shape
    nd = len(shape)
    first, last = dims[0], dims[-1]
    if arr.flags.c_contiguous and last - first + 1 == len(dims):
        # (the usual case: the reduced dims a run of a row-major arr, read as they lie)
        outer = m = inner = 1
        for d in range(first):
            outer *= shape[d]
        for d in dims:
            m *= shape[d]
        for d in range(last + 1, nd):
            inner *= shape[d]
        block = arr.reshape(outer, m, inner)
        if inner < _WELFORD_LANES <= outer * inner:   # (the results as the kernel's lanes)
            block = np.ascontiguousarray(block.transpose(1, 0, 2)).reshape(1, m, outer * inner)
    else:
        kept = [d for d in range(nd) if d not in dims]
        order = sorted(dims, key=lambda d: -abs(arr.strides[d]))
        m = math.prod(shape[d] for d in dims)
        results = math.prod(shape[d] for d in kept)
        inner = math.prod(shape[order[-1] + 1:])
        if order == list(range(order[0], order[0] + len(order))) and (
                inner >= _WELFORD_LANES or results < _WELFORD_LANES):   # (no transpose)
            block = np.ascontiguousarray(arr).reshape(math.prod(shape[:order[0]]), m, inner)
        else:   # (the results along the inner axis, the kernel's vector lanes)
            block = np.ascontiguousarray(arr.transpose(order + kept)).reshape(1, m, results)
    rshape = tuple(1 if d in dims else k for d, k in enumerate(shape)) if keepdim else \
        tuple(k for d, k in enumerate(shape) if d not in dims)
    dt = arr.dtype
    outs = (np.empty(rshape, dt), np.empty(rshape, dt), np.empty(rshape, dt),
            np.empty(rshape, dt))
    if m == 0:
        for out in outs:
            out.fill(np.nan)
    elif outs[0].size:
        _welford().welford(block, float(correction), *outs)
    return outs


def squared_deviations(arr, mean):
    """The sum of (x - mean)^2 over the elements x of the float32/float64 array arr, in
    float64, element by element in memory order: torch's second pass of var / std of one
    result around the float `mean` (its mean())."""
    return _welford().squared_deviations(arr.ravel("K"), mean)


# var_mean / std_mean of one result take Welford's update below this many elements: its
# chain of a division and two additions per element, ~5.5 ns, is ~4% of a 512-element
# var_mean (two passes in float64 from there; docs/semantics.md)
_WELFORD_CHAIN_MAX = 512


def torch_moments(arr, dims, correction, keepdim, paired, mean):
    """(m2, var, std, mean) of the float32/float64 array arr over `dims` as torch's CPU
    reductions compute them, arrays of arr's dtype in the result's shape, each rounded once
    from float64: the sum of squared deviations, its quotient by max(N - correction, 0) (inf
    or nan at 0), std its square root.  Several results, or var_mean / std_mean (`paired`) of
    fewer than _WELFORD_CHAIN_MAX elements: Welford's (welford_moments, its mean too); one
    result: the squared deviations from `mean` (the decomposition's, an array of arr's dtype:
    torch's mean()) summed in float64 (squared_deviations; floats, the dtype's values, and
    mean None; var_mean's of a row-major arr likewise floats, its mean too: welford_chain)."""
    n = arr.size
    count = 1
    for d in dims:
        count *= arr.shape[d]
    dtn = arr.dtype.type
    divisor = n - correction if n > correction else 0.0
    if paired and count == n and 0 < n < _WELFORD_CHAIN_MAX and arr.flags.c_contiguous:
        mu, s = _welford().welford_chain(arr.reshape(-1))   # (row-major: torch's order)
        token = _ERR_SET(_QUIET)
        try:
            v = np.float64(s) / np.float64(divisor)
            return float(dtn(s)), float(dtn(v)), float(dtn(np.sqrt(v))), float(dtn(mu))
        finally:
            _ERR_RESET(token)
    if count != n or not n or paired and n < _WELFORD_CHAIN_MAX:
        return welford_moments(arr, dims, correction, keepdim)
    mu = float(mean.reshape(-1)[0])
    token = _ERR_SET(_QUIET)   # (0 / 0: nan, a float32 past its range: inf, silently)
    try:
        if dtn is np.float32 and n >= _FAST_SUM_MIN:
            # NOTE: the in-order float64 sum rounded to float32 is the any-order sum's
            # rounding wherever both ends of the two orders' error bound (2 (n - 1) 2^-53 of
            # the sum, terms >= 0; 2.2 n covers the bounds' own roundings) round alike: all
            # but ~1 in 3000 random calls of 64000 elements (an estimate); the in-order loop then
            s = _welford().squared_deviations_any_order(arr.ravel("K"), mu)
            e = 2.2 * n * 2.0 ** -53 * s
            lo, hi = np.float64(s - e), np.float64(s + e)
            vlo, vhi = lo / divisor, hi / divisor
            if dtn(lo) == dtn(hi) and dtn(vlo) == dtn(vhi) and \
                    dtn(np.sqrt(vlo)) == dtn(np.sqrt(vhi)):
                v = np.float64(s) / divisor
                return float(dtn(s)), float(dtn(v)), float(dtn(np.sqrt(v))), None
        s = squared_deviations(arr, mu)
        v = np.float64(s) / np.float64(divisor)
        return float(dtn(s)), float(dtn(v)), float(dtn(np.sqrt(v))), None
    finally:
        _ERR_RESET(token)


def set_entry_value(t, value):
    """t, the tensor of an entry just made, holding `value` (an array of its shape and dtype,
    or a float for one element) instead of what its forward computed: torch's value of var /
    std, computed apart (torch_moments), so that no entry is added for it.  A one-element
    value is t's number and its entry's; an array is written into t's, so what the tape saved
    of it (by reference) is the new value too.  Returns t."""
    if type(t._v) is float:
        v = t._v = value if type(value) is float else float(value.reshape(-1)[0])
        if t._recorded and t._tape is not None:
            t._tape.val[t._node] = v
    else:
        np.copyto(t._v, value)
    return t


def _import_extremes():
    from . import _extremes
    return _extremes


# float dtypes tapegrad._extremes' loop is compiled for (others: numpy's argmax)
_EXTREMES_DTYPES = (np.float32, np.float64)


def _use_extremes(x, arr):
    """Whether the extremes of x (array arr) come from tapegrad._extremes: a float32/float64
    x that records (numba is loaded for its backward anyway) or any, once the module is."""
    return arr.dtype.type in _EXTREMES_DTYPES and (
        x._recorded or module_loaded("tapegrad._extremes"))


def first_extremes(arr, d0, d1, is_max):
    """(at, pos, sole, flat) of tapegrad._extremes.first_extremes over arr's dims d0..d1 as
    the middle block (flat: arr's elements in row-major order, which pos indexes)."""
    shape = arr.shape
    flat = np.ascontiguousarray(arr).reshape(-1)
    m = math.prod(shape[d0:d1 + 1])
    inner = math.prod(shape[d1 + 1:])
    ext = kernel_module("tapegrad._extremes", "_extremes.py", _import_extremes)
    # (the outer size spelled out: -1 is ambiguous where another dim is empty)
    at, pos, sole = ext.first_extremes(flat.reshape(math.prod(shape[:d0]), m, inner), is_max)
    return at, pos, sole, flat


_ALL_DIMS = tuple(tuple(range(k)) for k in range(9))
_ONES_ROWS = tuple(memoryview(np.ones(k, np.int64)) for k in range(9))   # (the keepdim shape)
_SUM, _MEAN = OPS["sum"].code, OPS["mean"].code
_add_reduce = np.add.reduce


# (dims tuple, ndim) -> the sorted non-negative dims a reduction over that tuple uses, stored
# for tuples of Python ints once checked (a bool or numpy int equal to a stored int finds its
# entry: the checks map it to that int too)
_REDUCE_DIMS = {}


def check_grad_dtype(x, dtype):
    """torch's error for a reduction or scan asked for an integer or bool dtype of a tensor
    that requires grad (in grad mode): its result could carry no gradient."""
    if dtype is not None and not dtype.is_floating_point and STATE.enabled and \
            x.requires_grad:
        raise RuntimeError(f"Autograd not support dtype: {dtype.legacy}")


def _reduce(x, dim, keepdim, mean, dtype=None):
    if dtype is not None:
        dtype = D.as_dtype(dtype)
        check_grad_dtype(x, dtype)
    shape = x._shape
    nd = len(shape)
    # Fast path: sum()/mean() over every element of a small array-backed float tensor (a
    # loss), recorded on the open tape: _reduce's general steps for that case in one frame
    # (the same numpy calls, so the same bits)
    xa = x._v
    if dim is None and not keepdim and dtype is None and type(xa) is not float and \
            0 < nd <= 8 and x._dtype.is_floating_point and \
            (type(x) is Tensor or type(x) is Parameter):
        size = xa.size
        # (16-bit floats, and large arrays that are not C-contiguous: general path)
        if 1 < size and xa.itemsize >= 4 and (size < _FAST_SUM_MIN or xa.flags.c_contiguous):
            dtn = x._dtype.np
            if size < _FAST_SUM_MIN:
                token = _ERR_SET(_QUIET)   # (inf + -inf: nan, silently as torch)
                try:
                    red = _add_reduce(xa, _ALL_DIMS[nd], dtn, None, False)
                finally:
                    _ERR_RESET(token)
                if mean:   # _np_mean's quotient (in float64, rounded once to dtn) without numpy
                    red = dtn.type(float(red) / size)   # scalar arithmetic (~1 us)
            else:      # the general path's _sums loop, its float64 total rounded once to dtn
                total = _sums().total(xa.reshape(-1))
                red = dtn.type(total / size if mean else total)
            v = float(red)
            tape = STATE.tape
            if x._recorded and tape.sealed:
                tape = open_tape(x)
            if not x._recorded or tape is None:   # (the 0-d float, as Tensor._wrap holds it)
                t = _new()
                t._v, t._dtype, t._shape, t._tape, t._recorded = v, x._dtype, (), None, False
                return t
            src = x._tape
            if src is tape:
                a = x._node
            elif src is None and x._lserial == tape.serial:
                a = x._lnode
            else:
                _check_mixed(tape, x, None)
                a = input_node(tape, x)
            t = _new()
            t._v, t._dtype, t._shape, t._tape, t._recorded = v, x._dtype, (), tape, True
            t._node = e = tape.push(_MEAN if mean else _SUM, a, -1,
                                    1.0 / size if mean else 1.0, v, None)
            tape.nd_streams().add_param_row(e, _ONES_ROWS[nd])
            if size >= reduce_kind.HOST_MIN_ELEMS and not tape.recording:   # (runs_on_host)
                tape.set_host(e)
            return t
    # Fast path: one Python-int dim of a row-major float tensor on the open tape (a layer's
    # mean(1), a loss's sum(1)), or of one that records nothing (x.sum(0) of data): the
    # general steps below for that case in one frame (the same numpy calls, so the same
    # bits; ~7 frames less)
    tape = STATE.tape
    rx = x._recorded
    if type(dim) is int and dtype is None and (not rx or x._tape is tape and not tape.sealed) \
            and 1 < nd and -nd <= dim < nd and type(xa) is np.ndarray and \
            x._dtype.is_floating_point and (type(x) is Tensor or type(x) is Parameter) and \
            xa.flags.c_contiguous:
        d = dim % nd
        dtn = x._dtype.np
        if mean:
            red = _np_mean(xa, (d,), keepdim, dtn)
        else:
            token = _ERR_SET(_QUIET)   # (_quiet's, inline)
            try:
                red = _add_reduce(xa, (d,), dtn, None, keepdim)
            finally:
                _ERR_RESET(token)
        out = np.asarray(red, dtype=dtn)   # (layouts.reduced: a row-major input's as it is)
        if not rx:
            return Tensor._wrap(out, x._dtype)
        count = shape[d]
        kshape = list(shape)
        kshape[d] = 1
        t = _result(out, x._dtype, tape, _MEAN_DIM if mean else _SUM_DIM, x._node, -1,
                    (1.0 / count if count else math.nan) if mean else 1.0)
        tape.nd_streams().add_param_ints(t._node, kshape if xa.size != 1 else ())
        if not tape.recording and reduce_kind.runs_on_host(xa.size, out.size):
            tape.set_host(t._node)
        return keep_args(t, dim=(dim,), keepdim=keepdim)
    if mean and not x._dtype.is_floating_point and dtype is None:   # (before the dims, as torch)
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {x._dtype.legacy}")
    if dim is None and not keepdim:
        dims = tuple(range(nd))
        name = "mean" if mean else "sum"
        keepdim_eff = False
    else:
        name = "mean_dim" if mean else "sum_dim"
        keepdim_eff = keepdim
        if type(dim) is int:   # one dim (the usual case): nothing to sort or compare
            d = _dim(dim, nd)
            dims = (d,) if nd else ()
        elif dim is None or isinstance(dim, (tuple, list)) and len(dim) == 0:
            # torch: all dims, keepdim honoured (sum(dim=None, keepdim=True) is SumBackward1)
            dims = tuple(range(nd))
        else:
            key = (dim, nd) if type(dim) is tuple else None
            cached = _REDUCE_DIMS.get(key) if key is not None else None
            if cached is not None:   # (a tuple of dims seen before: checked then)
                dims = cached
            else:
                # (as torch's parser reads an int[1]: one-element integer tensors too)
                dims = _int_list((dim,), "mean" if mean else "sum", "dim", ok=_is_dim_item)
                seen = set()
                for d in dims:
                    if isinstance(d, int) and _dim(d, nd) in seen:
                        raise RuntimeError(f"dim {_dim(d, nd)} appears multiple times in the "
                                           f"list of dims")
                    seen.add(_dim(d, nd) if isinstance(d, int) else d)
                dims = tuple(sorted({_dim(d, nd) for d in dims})) if nd else ()
                if key is not None and all(type(d) is int for d in dim):
                    if len(_REDUCE_DIMS) > 1024:
                        _REDUCE_DIMS.clear()
                    _REDUCE_DIMS[key] = dims
    arr = x._array()
    dt = dtype or (x._dtype if x._dtype.is_floating_point else D.int64)
    if (arr.size >= _FAST_SUM_MIN and len(dims) == nd and arr.dtype == dt.np
            and arr.dtype.kind == "f" and arr.flags.c_contiguous):
        s = _sums().total(arr.reshape(-1))
        out = np.full((1,) * nd if keepdim_eff else (), s / arr.size if mean else s, dt.np)
    else:
        # the array's own sum: np.sum adds a Python dispatch layer (~1 µs a call); mean: _np_mean
        red = _np_mean(arr, dims, keepdim_eff, dt.np) if mean else \
            _quiet(_add_reduce, arr, dims, dt.np, None, keepdim_eff)
        out = layouts.reduced(arr, np.asarray(red, dtype=dt.np))
    if type(x) is Tensor or type(x) is Parameter:   # (_record_start's usual case)
        tape = _tape_for(x, None) if x._recorded else None
    else:
        tape = _record_start(x)
    if tape is None:
        return Tensor._wrap(out, dt)
    if len(dims) == nd:   # over every element (the common loss): no per-dim work
        count, kshape = arr.size, [1] * nd
    else:
        count, kshape = 1, list(shape)
        for d in dims:
            count *= shape[d]
            kshape[d] = 1
    t = _result(out, dt, tape, OPS[name].code, input_node(tape, x), -1,
                (1.0 / count if count else math.nan) if mean else 1.0)
    # (none for a one-element input: the tape treats it as 0-d, and tape files check that)
    tape.nd_streams().add_param_ints(t._node, kshape if arr.size != 1 else ())
    if not tape.recording and reduce_kind.runs_on_host(arr.size, out.size):   # (replay: kernels)
        tape.set_host(t._node)
    if name in ("sum_dim", "mean_dim"):   # (torch's node keeps dim as given)
        keep_args(t, keepdim=keepdim, dim=None if dim is None else (int(dim),)
                  if hasattr(dim, "__index__") or isinstance(dim, Tensor) and not dim._shape
                  else tuple(int(d) for d in dim))
    return t


_SUM_DIM, _MEAN_DIM = OPS["sum_dim"].code, OPS["mean_dim"].code   # (_reduce's one-dim path)
_MM, _MV = OPS["mm"].code, OPS["mv"].code
_MM_ROWS = {}   # (m, k, n) -> params row [1, m, k, n, 0] of mm, and of mv (n = 1)


def _mm_row(m, k, n):
    if len(_MM_ROWS) > 4096:
        _MM_ROWS.clear()
    row = _MM_ROWS[m, k, n] = memoryview(np.array([1, m, k, n, 0], np.int64))
    return row


# (_op: the op row a batched product records, bmm's for bmm; keyword-only and private:
# torch.matmul(a, b, None) and matmul(a, b, name=...) are refused, as torch refuses them)
def matmul(input=MISSING, other=MISSING, *, _op=None):  # noqa: A002
    """Matrix product with torch.matmul's rules for 1-d, 2-d and batched operands."""
    x, y, name = input, other, _op
    # Fast path: an array-backed matrix times a matrix (mm) or a vector (mv) of its dtype,
    # recorded operands already on the open tape: the product, its entry, params and saves in
    # this frame (once per op).
    tx, ty = type(x), type(y)
    if (tx is Tensor or tx is Parameter) and (ty is Tensor or ty is Parameter) and \
            name is None and x._dtype is y._dtype and x._dtype is not D.bool_:
        xa, ya = x._v, y._v
        if type(xa) is not float and type(ya) is not float and xa.ndim == 2:
            m, k = xa.shape
            yshape = ya.shape
            ny = len(yshape)
            n = yshape[1] if ny == 2 else 1
            if 0 < ny <= 2 and yshape[0] == k and m * n != 1:
                token = _ERR_SET(_QUIET)   # (_np_matmul, inline on this path)
                try:
                    # (only a product past the small kernels' limit may run in blocks)
                    out = np.matmul(xa, ya) if m * k * n <= matmul_kind.SMALL_MNK else \
                        matmul_kind.product(xa, ya)
                finally:
                    _ERR_RESET(token)
                rx, ry = x._recorded, y._recorded
                if not (rx or ry):
                    return Tensor._wrap(out, x._dtype)
                tape = STATE.tape
                if tape.sealed:
                    tape = open_tape(x, y)
                    if tape is None:
                        return Tensor._wrap(out, x._dtype)
                # (as _binary: -2 takes _matmul_record's path, -3 a const entry here, -4 a
                # leaf entry)
                src = x._tape
                a = (x._node if src is tape else (
                    (x._lnode if x._lserial == tape.serial else -4) if src is None else -2)) \
                    if rx else (-3 if src is None else -2)
                src = y._tape
                b = (y._node if src is tape else (
                    (y._lnode if y._lserial == tape.serial else -4) if src is None else -2)) \
                    if ry else (-3 if src is None else -2)
                if a != -2 and b != -2:
                    # (as the general path: the leaves' entries first, then the constants')
                    if a == -4:   # (input_node's leaf case: its tests are done above)
                        a = tape.leaf_node(x)
                    if b == -4:   # (y may be x, entered just above)
                        b = tape.leaf_node(y) if y._lserial != tape.serial else y._lnode
                    # (a constant: its entry holds the product's save of its value)
                    save_a = save_b = True
                    if a == -3:
                        refuse_inference_save(x)
                        a = tape.const_entry(x, xa)
                        save_a = False
                    if b == -3:
                        refuse_inference_save(y)
                        b = tape.const_entry(y, ya)
                        save_b = False
                    shape = out.shape
                    e = tape.push_nd(_MM if ny == 2 else _MV, a, b, 0.0, shape, m * n)
                    t = _new()
                    t._v, t._dtype, t._shape, t._tape, t._recorded, t._node = \
                        out, x._dtype, shape, tape, True, e
                    if save_a:
                        tape.save(a, xa)
                    if save_b:
                        tape.save(b, ya)
                    row = _MM_ROWS.get((m, k, n))
                    if row is None:
                        row = _mm_row(m, k, n)
                    tape.nds.add_param_row(e, row)
                    if ny == 2:   # (keep_node_args, inline: worked out when read)
                        kept = tape.call_args
                        if kept is None:
                            kept = tape.call_args = {}
                        kept[e] = (_mm_args, xa.shape, xa.strides, ya.shape, ya.strides,
                                   xa.itemsize, rx, ry)
                    if m * k * n >= matmul_kind.HOST_MIN_MACS:   # (runs_on_host)
                        tape.set_host(e)
                    return t
                return _matmul_record(x, y, xa, ya, out, 2, ny, name)
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        # (torch's parser's error, for the function)
        err = arg_error("matmul", False, given(x, y))
        if err is not None:
            raise err
        _tensor_operand("matmul", x, 1, "input")
        _tensor_operand("matmul", y, 2)
    nx, ny = len(x._shape), len(y._shape)
    if nx == 0 or ny == 0:
        raise errors.not_1d("matmul", x, y)
    if nx == ny == 3 and x._shape[0] != y._shape[0] and (
            y._shape[0] == 1 and y.requires_grad or x._shape[0] == 1 and x.requires_grad):
        return _matmul_squeezed(x, y)   # (before any check: torch's matmul recurses)
    if x._dtype is not y._dtype:
        # (torch's mm / mv / bmm check the shapes first: their message where both are wrong;
        # dot the dtypes)
        err = None if nx == ny == 1 else _batched_shape_error(x, y) if ny > 2 and (
            nx < 3 or x._shape[:-2] != y._shape[:-2]) else _matmul_shape_error(x._shape, y._shape)
        raise err or RuntimeError(_mixed_dtypes(x, y))
    if x._dtype is D.bool_:   # (torch's kernel for the shapes has no bool case)
        kernel = "dot" if nx == ny == 1 else "addmv_impl_cpu" if ny == 1 else \
            "bmm" if nx > 2 and ny > 2 else "addmm_impl_cpu_"
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    if ny > 2 and (nx < 3 or x._shape[:-2] != y._shape[:-2]):
        return _matmul_batched(x, y)
    xa, ya = x._v, y._v
    if type(xa) is float:
        xa = x._array()
    if type(ya) is float:
        ya = y._array()
    try:
        out = _np_matmul(xa, ya)
    except ValueError:
        raise _matmul_shape_error(xa.shape, ya.shape) from None
    if type(out) is not np.ndarray:   # vector @ vector: a numpy scalar
        out = np.asarray(out)
    if not (x._recorded or y._recorded):
        return Tensor._wrap(out, x._dtype)
    return _matmul_record(x, y, xa, ya, out, nx, ny, name)


def _matmul_shape_error(xs, ys):
    """torch's error for matmul of shapes xs and ys (equal batch shapes, if any) whose inner
    sizes differ, or None where they agree."""
    if xs[-1] == ys[0 if len(ys) == 1 else -2]:
        return None
    # (a batch times a matrix or vector is folded into one mm / mv, as torch's message says)
    rows = math.prod(xs[:-1])
    if len(xs) >= 2 and len(ys) == 1:
        return RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{xs[-1]}), vec "
                            f"({ys[0]})")
    if len(xs) == 1 and len(ys) == 1:
        return RuntimeError(f"inconsistent tensor size, expected tensor [{xs[0]}] and src "
                            f"[{ys[0]}] to have the same number of elements, but got {xs[0]} "
                            f"and {ys[0]} elements respectively")
    if len(xs) >= 3 and len(ys) >= 3:   # (equal batch shapes: torch's one bmm of them all)
        batch = math.prod(xs[:-2])
        return RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                            f"[{batch}, {xs[-1]}] but got: [{batch}, {ys[-2]}].")
    mat1 = (rows, xs[-1]) if len(xs) != 2 else xs   # (a vector: one row)
    return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                        f"({'x'.join(map(str, mat1))} and {'x'.join(map(str, ys))})")


def _np_matmul(a, b):
    """np.matmul without numpy's floating-point warnings: inf * 0 in a product is nan
    silently, as torch's (numpy flags it in its small-product loops, not in BLAS)."""
    token = _ERR_SET(_QUIET)
    try:
        return matmul_kind.product(a, b)
    finally:
        _ERR_RESET(token)


def _matmul_record(x, y, xa, ya, out, nx, ny, name):
    """matmul's entry (one of x, y recorded; `out` their product)."""
    tape = _tape_for(x, y)
    if tape is None:
        return Tensor._wrap(out, x._dtype)
    if nx == 1 and ny == 2:
        # torch: unsqueeze, mm, squeeze
        r = matmul(x.unsqueeze(0), y)
        return _reshape_op("squeeze_mm", r, r._shape[1:])
    if nx == 1 and ny == 1:
        name, params = "dot", [1, 1, xa.shape[0], 1, 0]
    elif nx == 2 and ny == 1:
        name, params = "mv", [1, xa.shape[0], xa.shape[1], 1, 0]
    elif nx == 2 and ny == 2:
        name, params = "mm", [1, xa.shape[0], xa.shape[1], ya.shape[1], 0]
    elif ny == 2 or (ny == 1 and nx > 2):
        k = xa.shape[-1]
        nn = ya.shape[1] if ny == 2 else 1
        name, params = "matmul", [1, math.prod(xa.shape[:-1]), k, nn, 0]   # (k may be 0)
    else:   # equal batch shapes (matmul hands the others to _matmul_batched)
        nb = int(math.prod(xa.shape[:-2]))
        name, params = name or "matmul", [nb, xa.shape[-2], xa.shape[-1], ya.shape[-1], 1]
    for t in (x, y):   # (the product saves both: not an inference tensor, as torch)
        if not t._recorded:
            refuse_inference_save(t)
    a, b = input_node(tape, x) if x._recorded else None, input_node(tape, y) if y._recorded else None
    if a is None:
        a = tape.const_node(xa)
        tape._watch_new(a, x)
    if b is None:
        b = tape.const_node(ya)
        tape._watch_new(b, y)
    tape.save(a, xa)
    tape.save(b, ya)
    t = _result(out, x._dtype, tape, OPS[name].code, a, b, 0.0)
    tape.add_params(t._node, params)
    if matmul_kind.runs_on_host(params):
        tape.set_host(t._node)
    if name == "mm":
        keep_node_args(tape, t._node, (_mm_args, xa.shape, xa.strides, ya.shape, ya.strides,
                                       xa.itemsize, x._recorded, y._recorded))
    return t


def keep_linear_args(out, x, weight):
    """keep_addmm_args for the one-pass linear of a 2-d x (a layer in training: its fields
    worked out when read, from the sizes and strides kept here).  Its weight.t() is no
    tensor: mat2 is not kept, that field not shown (mat1 is the group's own field)."""
    tape = out._tape if out._recorded else None
    if tape is not None and out._node == tape.n - 1 and len(x._shape) == 2:
        # (keep_node_args, inline: a layer's call; the strides' order reversed when read)
        kept = tape.call_args
        if kept is None:
            kept = tape.call_args = {}
        kept[out._node] = (_linear_args, x._v, weight._v, x._recorded, weight._recorded)
    return out


def _linear_args(xa, wa, x_grad, w_grad):
    """keep_linear_args' fields, from the operands' arrays (which the entries saved: no
    tensor of the tape is held, which would tie it in a cycle)."""
    xa, wa = np.asarray(xa), np.asarray(wa)
    return _mm_args(xa.shape, xa.strides, wa.shape[::-1], wa.strides[::-1], xa.itemsize,
                    x_grad, w_grad, "mat1", "mat2")


def keep_addmm_args(out, mat1, mat2, alpha=1, beta=1, mat1_field=True, mat2_field=True):
    """out, keeping what torch's AddmmBackward0 saves: alpha, beta, each matrix for the
    other's gradient, their sizes, and the strides of one that needs a gradient (as mm's);
    `mat1_field` False where the row's group shows mat1 itself (linear's), `mat2_field`
    False where the call has no such tensor (the one-pass linear's weight.t())."""
    if not out._recorded:
        return out
    g1, g2 = mat1.requires_grad, mat2.requires_grad
    args = {"alpha": alpha, "beta": beta,
            "mat1_sym_sizes": mat1._shape, "mat2_sym_sizes": mat2._shape,
            "mat1_sym_strides": tuple(mat1.stride()) if g1 else (),
            "mat2_sym_strides": tuple(mat2.stride()) if g2 else ()}
    if mat1_field:
        args["mat1"] = mat1 if g2 else None
    if mat2_field:
        args["mat2"] = mat2 if g1 else None
    return keep_tensor_args(out, **args)


def _mm_args(xshape, xstrides, yshape, ystrides, item, x_grad, y_grad, a="self", b="mat2"):
    """MmBackward0's sizes and strides of self and mat2 (torch's node keeps an operand's
    strides only where that operand needs a gradient: () else); AddmmBackward0's of mat1
    and mat2 (`a`, `b` their names), with its alpha and beta 1."""
    out = {a + "_sym_sizes": xshape, b + "_sym_sizes": yshape,
           a + "_sym_strides": tuple(s // item for s in xstrides) if x_grad else (),
           b + "_sym_strides": tuple(s // item for s in ystrides) if y_grad else ()}
    if a == "mat1":
        out["alpha"] = out["beta"] = 1
    return out


def _matmul_batched(x, y):
    """x @ y where y is a batch (3-d or more) and x a vector, a matrix or a batch of another
    batch shape: composed of views, mm/mv/bmm and an unsafe view as torch's `_matmul_impl`
    composes it, so the result's grad_fn, the chain below it and the error messages are
    torch's.  A matrix or vector x that requires grad is multiplied into y's batch folded into
    one matrix (torch's `should_fold`: the gradient of x is then one product, not a batch of
    them summed); otherwise both sides are expanded to the broadcast batch for one bmm."""
    nx = len(x._shape)
    if _folds(x, y):
        t1 = y.mT                       # (*batch, p, m)
        lead = t1._shape[:-1]
        folded = t1.reshape(math.prod(lead), t1._shape[-1])
        if nx == 1:
            return _reshape_op("unsafe_view", folded.mv(x), lead)
        out = _reshape_op("unsafe_view", folded.mm(x.t()), lead + (x._shape[0],))
        return out.mT.contiguous()
    n = x._shape[-2] if nx > 1 else 1
    m1, m2, p = x._shape[-1], y._shape[-2], y._shape[-1]
    bx, by = x._shape[:max(nx - 2, 0)], y._shape[:-2]
    _check_broadcast(bx, by)
    batch = tuple(np.broadcast_shapes(bx, by))
    count = math.prod(batch)
    x3 = x.expand(*batch, n, m1).reshape(count, n, m1)
    y3 = y.expand(*batch, m2, p).reshape(count, m2, p)
    shape = batch + ((n,) if nx > 1 else ()) + (p,)
    return _reshape_op("unsafe_view", bmm(x3, y3), shape)


def _matmul_squeezed(x, y):
    """x @ y of two 3-d tensors, one a batch of one that requires grad facing a larger batch:
    torch's matmul squeezes that one to a matrix, so that the product folds into one mm (its
    gradient one product, not a bmm summed over the batch: a post hook sees (6, 2), not
    (2, 3, 2)).  The shapes are checked first, as the mm sees them (nothing recorded)."""
    if y._shape[0] == 1 and y.requires_grad:
        err = _matmul_shape_error(x._shape, y._shape[1:])
        if err is not None:
            raise err
        return matmul(x, y.squeeze(0))
    if x._shape[-1] != y._shape[-2]:   # (folded: y.mT's rows times x.t())
        raise _matmul_shape_error((y._shape[0] * y._shape[-1], y._shape[-2]),
                                  (x._shape[-1], x._shape[-2]))
    return matmul(x.squeeze(0), y)


def _batched_shape_error(x, y):
    """The shape error of the mv, mm or bmm _matmul_batched(x, y) reaches, or None (its
    batch shapes' error raised)."""
    nx = len(x._shape)
    if _folds(x, y):   # (y.mT's batch folded into rows, times x or x.t())
        rows = math.prod(y._shape[:-2]) * y._shape[-1]
        return _matmul_shape_error((rows, y._shape[-2]),
                                   x._shape if nx == 1 else (x._shape[1], x._shape[0]))
    n = x._shape[-2] if nx > 1 else 1
    bx, by = x._shape[:max(nx - 2, 0)], y._shape[:-2]
    _check_broadcast(bx, by)
    count = math.prod(np.broadcast_shapes(bx, by))
    return _matmul_shape_error((count, n, x._shape[-1]), (count,) + y._shape[-2:])


def _folds(x, y):
    """torch's `should_fold` for x @ y, one side a batch (3-d or more), the other 1-d or 2-d:
    the batch is folded into the rows of one matrix (x's as it is, y's transposed) for one mm
    or mv when the small side requires grad (its gradient is then one product, not a batch of
    them summed), or when that fold needs no copy and x is not a matrix (whose product would
    then need a transposed copy)."""
    nx, ny = len(x._shape), len(y._shape)
    big, small = (x, y) if nx >= ny else (y, x)
    if len(big._shape) < 3 or len(small._shape) > 2:
        return False
    if small.requires_grad:
        return True
    if nx == 2:
        return False
    if big.numel() == 0:
        return True
    shape, strides = big._shape, big.stride()
    if big is y:   # (y.mT)
        shape = shape[:-2] + (shape[-1], shape[-2])
        strides = strides[:-2] + (strides[-1], strides[-2])
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(len(shape) - 2))


def _mixed_dtypes(x, y):
    """torch's message for x @ y of two dtypes: that of the product its matmul reaches (dot,
    mv, mm or bmm, on the operands as folded or expanded there, in that order)."""
    nx, ny = len(x._shape), len(y._shape)
    if nx == 1 and ny == 1:
        return (f"dot : expected both vectors to have same dtype, but found {x._dtype.legacy} "
                f"and {y._dtype.legacy}")
    if max(nx, ny) > 2 and not _folds(x, y):
        return f"expected scalar type {x._dtype.legacy} but found {y._dtype.legacy}"   # bmm
    # mv(x, y), mm(x, y) (a vector x as one row); a batch x folds as it is, a batch y
    # transposed: mv(y.mT, x), mm(y.mT, x.t())
    mat, vec = (x, y) if nx > ny or max(nx, ny) == 2 else (y, x)
    if len(vec._shape) == 1 and len(mat._shape) > 1:
        return (f"addmv input tensors must have the same dtype, but got {vec._dtype.legacy}, "
                f"{mat._dtype.legacy}, and {vec._dtype.legacy}")
    return (f"expected m1 and m2 to have the same dtype, but got: {_tname(mat._dtype)} != "
            f"{_tname(vec._dtype)}")


def bmm(input, mat2):
    """Batched matrix product of two 3-d tensors with equal batch size (BmmBackward0)."""
    _tensor_operand("bmm", input, 1, "input")
    _tensor_operand("bmm", mat2, 2, "mat2")
    x, y = input, mat2
    if x.dim() != 3 or y.dim() != 3:
        raise RuntimeError(f"batch{1 if x.dim() != 3 else 2} must be a 3D tensor")
    if x._shape[0] != y._shape[0] or x._shape[2] != y._shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{x._shape[0]}, {x._shape[2]}] but got: [{y._shape[0]}, {y._shape[1]}].")
    return matmul(x, y, _op="bmm")


# ---- two-argument functions and decomposition rows: argument checks, and the shift -------------
def atan2(input, other):
    """Elementwise atan2(input, other) (Atan2Backward0)."""
    _tensor_operand("atan2", input, 1, "input")
    _tensor_operand("atan2", other, 2)
    return input.atan2(other)


def arctan2(input, other):
    """atan2 under torch's other name (its errors name arctan2)."""
    _tensor_operand("arctan2", input, 1, "input")
    _tensor_operand("arctan2", other, 2)
    return input.atan2(other)


def hypot(input, other):
    """Elementwise sqrt(input**2 + other**2) (HypotBackward0)."""
    _tensor_operand("hypot", input, 1, "input")
    _tensor_operand("hypot", other, 2)
    return input.hypot(other)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(input), dim)), computed stably (LogsumexpBackward0)."""
    _tensor_operand("logsumexp", input, 1, "input")
    return input.logsumexp(dim, keepdim)


def softmax(input, dim, dtype=None):
    """exp(input) normalized along dim (SoftmaxBackward0)."""
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    _tensor_operand("softmax", input, 1, "input")
    return input.softmax(dim, dtype)


def log_softmax(input, dim, dtype=None):
    """log(softmax(input, dim)) (LogSoftmaxBackward0)."""
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    _tensor_operand("log_softmax", input, 1, "input")
    return input.log_softmax(dim, dtype)


# The formula vocabulary on tensors (create_graph's backward, re-running a recorded program):
# every step is a recorded op, so derivatives of any order come out of the same table.
FORMULA_NS = vocab.tensor_namespace(where, lambda x: isinstance(x, Tensor),
                                    lambda name, x, y: _binary(OPS[name].code, x, y),
                                    lambda name, x: _unary(OPS[name].code, x))

def _softmax(name, x, dim, dtype):
    _int_arg(dim, name, "dim")   # (no bool, no 0-d float tensor)
    nd = x.dim()
    d = _dim(int(dim), nd)
    if dtype is not None:
        x = x.to(dtype)
    if not x._dtype.is_floating_point:
        last = "lastdim_" if d == max(nd, 1) - 1 else ""
        raise NotImplementedError(f'"{name}_{last}kernel_impl" not implemented for '
                                  f"'{x._dtype.legacy}'")
    return _softmax_entry(x, d, name == "log_softmax", dim=int(dim))


_SMX_CODES = (OPS["softmax"].code, OPS["log_softmax"].code)


def _softmax_entry(x, d, log, rows=None, dim=None):
    """softmax (log_softmax with `log`) of float x along dim d: one entry of the softmax kind
    (kinds/softmax.py: params [outer, m, inner], none for one element; imm 1.0 for log),
    saving its output, a row-major array as torch's kernel allocates (even of a transpose).
    `rows`: the (outer, m, inner) block to normalize along m instead of x's dim d (the
    kind's tensor faces: create_graph, a replay's re-run).  `dim`: the dim as the call gave
    it (torch's node keeps it so: -1 too), d where None."""
    dt = x._dtype
    xa = x._v
    if type(xa) is not np.ndarray:
        xa = x._array()
    if rows is not None:
        out = _np_softmax(xa.reshape(rows), 1, log).reshape(xa.shape)
    else:
        out = _np_softmax(xa, d, log)
    if not x._recorded:
        return Tensor._wrap(out, dt)
    tape = STATE.tape
    if x._tape is tape and not tape.sealed and out.size != 1:
        # (x on the open tape, an n-d result: _tape_for's, input_node's and _result's steps
        # for that case, inline)
        t = _new()
        t._v, t._dtype, t._shape, t._tape, t._recorded = out, dt, out.shape, tape, True
        t._node = tape.push_nd(_SMX_CODES[log], x._node, -1, 1.0 if log else 0.0, out.shape,
                               out.size)
    else:
        tape = _tape_for(x, None)
        if tape is None:
            return Tensor._wrap(out, dt)
        t = _result(out, dt, tape, _SMX_CODES[log], input_node(tape, x), -1,
                    1.0 if log else 0.0)
    if out.size != 1:
        if rows is not None:
            tape.nds.add_param_ints(t._node, rows)
        else:
            row = _SMX_ROWS.get((x._shape, d))
            if row is None:
                row = _smx_row(x._shape, d)
            tape.nds.add_param_row(t._node, row)
    tape.save(t._node, out)
    if rows is not None and dim is None:   # (a kind face's: no dim of the user's call)
        return t
    return keep_args(t, dim=d if dim is None else dim)


_SMX_ROWS = {}  # (shape, d) -> the softmax kind's params row [outer, m, inner] (block)


def _smx_row(shape, d):
    if len(_SMX_ROWS) > 4096:
        _SMX_ROWS.clear()
    row = _SMX_ROWS[shape, d] = memoryview(np.array(smx_kind.block(shape, d), np.int64))
    return row


def _np_softmax(xa, d, log):
    """softmax (log_softmax with `log`) of array xa along axis d in its dtype, C order, as
    torch's kernels: per row the maximum m (nan where a row holds nan, or an infinity: inf -
    inf), z = x - m, s = sum(exp(z)); exp(z) / s, or z - log(s).  (The decomposition's numpy
    calls, so its values; the temporaries reused in place.)"""
    if xa.ndim == 0:
        return _np_softmax(xa.reshape(1), 0, log).reshape(())
    token = _ERR_SET(_QUIET)
    try:
        z = _np_sub(xa, _max_reduce(xa, d, None, None, True, -np.inf))
        if log:
            out = _np_sub(z, _np_log(_add_reduce(_np_exp(z), d, None, None, True)), z)
        else:
            e = _np_exp(z, z)
            out = _np_div(e, _add_reduce(e, d, None, None, True), e)
    finally:
        _ERR_RESET(token)
    return out if out.flags.c_contiguous else np.ascontiguousarray(out)


_np_sub, _np_div, _np_exp, _np_log = np.subtract, np.divide, np.exp, np.log


def _softmax_face(x, params, log):
    """The softmax kind's tensor faces' entry (views.KIND_OPS.softmax): params [outer, m,
    inner] (None: one element)."""
    return _softmax_entry(x, 0, log, None if params is None else [int(v) for v in params])


KIND_OPS.softmax = _softmax_face


_LOGSUMEXP = OPS["logsumexp"].code
_EXP, _LOG, _SUM_DIM, _ADD = (OPS[name].code for name in ("exp", "log", "sum_dim", "add"))
_max_reduce = np.maximum.reduce
assert _SAVE_ROLES[_SUB] == (False, False, False)
assert _SAVE_ROLES[_EXP] == (False, False, True) and _SAVE_ROLES[_LOG] == (True, False, False)


class _Gone:
    """A tensor a body makes, watches and drops at once (the shift of a logsumexp): a watch of
    it holds a reference that is already dead."""
    __slots__ = ("__weakref__",)


DEAD_REF = weakref.ref(_Gone())


def _dropped_const(tape, arr, dt):
    """A const entry for `arr`, the value of a tensor a body makes, uses and drops (the
    shift): const_operand's push, save and version watch, the watch's reference dead."""
    node = tape.push_nd(OP_CONST, -1, -1, 0.0, arr.shape, arr.size)
    tape.save(node, arr)
    tape._enter(node, [0], dt, arr.shape, DEAD_REF)
    return node


def _shift_entries(tape, x, m, z, e, s, kshape):
    """The entries the stable logsumexp body starts with: x's node,
    the shift m (a const entry), z = x - m, e = exp(z) (saving e), s = the sum of e over the
    dims (params `kshape`, the keepdim shape).  Returns the nodes of m, z, e, s."""
    a = input_node(tape, x)
    n_m = _dropped_const(tape, m, x._dtype)
    n_z = tape.push_nd(_SUB, a, n_m, 0.0, z.shape, z.size)
    n_e = tape.push_nd(_EXP, n_z, -1, 0.0, e.shape, e.size)
    tape.save(n_e, e)
    n_s = tape.push_nd(_SUM_DIM, n_e, -1, 1.0, s.shape, s.size)
    tape.nds.add_param_ints(n_s, kshape)
    return n_m, n_z, n_e, n_s


def _one_sum_entries(x, xa, dt, dims, keepdim, kshape):
    """The entries the logsumexp body starts with where the sum of the shifted exponentials
    has one element (a 1-d x; logsumexp over every element), on x's tape: x - shift with the
    one-element shift (infinite maxima 0, as logsumexp's) folded into the entry's imm and
    watched, as _binary_entry folds it; exp,
    saving its value; the one-element sum (params `kshape`).  Returns (tape, start, the
    shift tensor, the tensors of x - shift, exp and the sum), or None without a tape or
    while recording for replay (the body then)."""
    if not x._recorded:
        return None
    tape = _tape_for(x, None)
    if tape is None or tape.recording:
        return None
    dtn = dt.np
    token = _ERR_SET(_QUIET)
    try:   # (max_shift's amax (and where), the fast paths' forwards, _reduce's sum)
        m = _max_reduce(xa, dims, None, None, True, -np.inf)
        m = np.asarray(np.where(np.isinf(m), 0, m), dtype=dtn)
        z = _BIN_FAST[_SUB][0](xa, m)
        e = _UN_ROW[_EXP][0](z, None)
        s = np.asarray(_add_reduce(e, dims, dtn, None, keepdim), dtype=dtn)
    finally:
        _ERR_RESET(token)
    shift = Tensor._wrap(m, dt)
    start = tape.n
    _check_mixed(tape, x, shift)
    a = input_node(tape, x)
    n_z = tape.push_nd(_SUB, a, -1, float(m.reshape(-1)[0]), z.shape, z.size)
    tape.watch_folded(n_z, shift, 2)
    n_e = tape.push_nd(_EXP, n_z, -1, 0.0, e.shape, e.size)
    tape.save(n_e, e)
    sv = float(s.reshape(-1)[0])
    n_s = tape.push(_SUM_DIM, n_e, -1, 1.0, sv, None)
    tape.nds.add_param_ints(n_s, kshape)
    zt, et, st = _new(), _new(), _new()
    zt._v, zt._dtype, zt._shape, zt._tape, zt._node, zt._recorded = z, dt, z.shape, tape, n_z, True
    et._v, et._dtype, et._shape, et._tape, et._node, et._recorded = e, dt, e.shape, tape, n_e, True
    st._v, st._dtype, st._shape, st._tape, st._node, st._recorded = sv, dt, s.shape, tape, n_s, True
    return tape, start, shift, zt, et, st


def _group_from(tape, start, zt, out, x):
    """Mark the entries from x - shift (zt's) to `out`'s as logsumexp's group (of input x)."""
    members = tuple(range(zt._node, out._node + 1))
    groups.mark_members(tape, start, out._node, members, _LOGSUMEXP)
    groups.save_input(tape, x)   # (decomps.record's rule)
    return out


def _logsumexp_pass_one(x, xa, dt, dims, keepdim, kshape):
    """_logsumexp_pass of a one-element result (a 1-d x, or every element: Categorical's
    normalisation of its logits) with a tape: _one_sum_entries, then log and + shift by the
    body's own calls (the same shift tensor, folded again); one group.  None without a
    tape."""
    got = _one_sum_entries(x, xa, dt, dims, keepdim, kshape)
    if got is None:
        return None
    tape, start, shift, zt, _, st = got
    out = st.log() + (shift if keepdim else shift.reshape(st._shape))
    return _group_from(tape, start, zt, out, x)


def _logsumexp_pass(x, dims, keepdim):
    """logsumexp of x over `dims` in one frame: the entries decomps.logsumexp records (the
    shift, infinite maxima 0, a const entry; x - shift, exp, the sum, log; the shift again,
    as the body reads it a second time, a const entry of the result's shape; the sum), the
    same values by the same numpy calls, one group LogsumexpBackward0 (tests/test_eager_nn.py
    compares the tapes).  None outside its case: a float32/float64 array-backed plain tensor
    whose reduced rows and results both have two or more elements, not recording for replay
    (a replay recomputes the shift: max_shift entries).  Without a tape (no_grad, an input
    that needs no gradient) the values only."""
    tx = type(x)
    dt = x._dtype
    xa = x._v
    if (tx is not Tensor and tx is not Parameter or dt is not D.float32 and dt is not D.float64
            or type(xa) is not np.ndarray or not dims):
        return None
    shape = x._shape
    kshape = tuple(1 if d in dims else k for d, k in enumerate(shape))
    rows = math.prod(shape[d] for d in dims)
    if rows >= 2 and xa.size == rows:
        return _logsumexp_pass_one(x, xa, dt, dims, keepdim, kshape)
    if rows < 2 or xa.size // rows < 2:
        return None      # (one-element shifts or results: other entries)
    tape = _tape_for(x, None) if x._recorded else None
    if tape is not None and tape.recording:
        return None
    dtn = dt.np
    token = _ERR_SET(_QUIET)
    try:   # (max_shift's amax and where, the fast paths' forwards, _reduce's sum)
        m = _max_reduce(xa, dims, None, None, True, -np.inf)
        m = np.asarray(np.where(np.isinf(m), 0, m), dtype=dtn)
        z = _BIN_FAST[_SUB][0](xa, m)
        e = _UN_ROW[_EXP][0](z, None)
        s = layouts.reduced(e, np.asarray(_add_reduce(e, dims, dtn, None, keepdim), dtype=dtn))
        ls = _UN_ROW[_LOG][0](s, None)
        m2 = m if keepdim else m.reshape(s.shape)
        out = _BIN_FAST[_ADD][0](ls, m2)
    finally:
        _ERR_RESET(token)
    if tape is None:
        return Tensor._wrap(out, dt)
    start = tape.n
    n_m, n_z, n_e, n_s = _shift_entries(tape, x, m, z, e, s, kshape)
    n_l = tape.push_nd(_LOG, n_s, -1, 0.0, s.shape, s.size)
    tape.save(n_s, s)
    n_m2 = _dropped_const(tape, m2, dt)
    n = tape.push_nd(_ADD, n_l, n_m2, 0.0, out.shape, out.size)
    groups.mark_members(tape, start, n, (n_m, n_z, n_e, n_s, n_l, n_m2, n),
                        _LOGSUMEXP)
    tape.save(n, out)   # (torch's node saves its result: decomps._save_result's rule)
    groups.save_input(tape, x)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._node, t._recorded = out, dt, out.shape, tape, n, True
    return t
