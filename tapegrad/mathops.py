"""Issue #11's elementwise math, reductions and logical ops: Tensor's methods (added to the
class with `tensor_methods`), their in-place variants and the module functions, with torch's
signatures, dtypes and errors.

Elementwise ops are rows of the op table (unary rows through the generated scalar fast path,
binary rows through `ndops._binary`); reductions and composites are decomposition rows whose
bodies are in `decomps_math.py`; logical ops and tests (any, isnan, isclose...) give bool
tensors from compare entries, so a traced program re-evaluates them on replay.
"""
import math
import struct

import numpy as np

from . import decomps, decomps_math as DM, dtypes as D, errors, _fastpath, groups, layouts, \
    nodiff, return_types
from .grad_mode import is_grad_enabled, switched_grad
from .graph import Edged, edge_to, forget_fn, recorded_class, show_edge_pairs
from .inplace import _as_given, _no_history, _update_arrays
from ._jit import module_loaded
from .kinds import cumprod as cumprod_kind, reduce as reduce_kind, scan as scan_kind
from .fpstate import ERR_RESET, ERR_SET, QUIET, quiet
from .ndops import (_add_reduce, _ALL_DIMS, _binary, _BIN_FAST, check_grad_dtype, _compare,
                    _EXTREMES_DTYPES, _FAST_SUM_MIN, _EXACT_INT, first_extremes,
                    float_operands, _np_mean, _NP_FWD, _ONES_ROWS, set_entry_value, _sums,
                    torch_moments, _unary, _UN_ROW, _use_extremes, where)
from .parameter import Parameter
from .ops import OPS
from .pyfunc import as_native_node, Function
from .recording import const_operand, keep_args, keep_tensor_args, _result, _tape_for, _tape_of
from .structops import _gather
from .native_args import arg_error, dim_form_error, given, missing, MISSING, _takes_int_item, \
    _takes_number
from .tensor import _bool_arg, _dim, _int_arg, _new, OPERAND_TYPES, _reduce_dims, _row_major, Tensor, \
    _tensor_operand, tensor_methods
from .tracing import _bake, _tracing
from .tape import bump_version, INFERENCE_MADE, input_node, read_as_saved, read_grad_fn_of, \
    refuse_inference_save, saves_unread, STATE, version_counter, view_base
from .views import apart, KIND_OPS
from .overlap import no_partial_overlap
from .native_args import parsed, renamed   # (a forwarded call's error under its own name)

_INT_ERR = '"{fn}_cpu" not implemented for \'{dt}\''


def _floating(x):
    """x, or x cast to the default float dtype (integer inputs of float-valued functions)."""
    return x if x._dtype.is_floating_point else x.to(D.get_default_dtype())


def _float_pair(name, x, y):
    """x and y of logaddexp/logaddexp2 in their float dtype; torch has no integer kernel."""
    dt = D.torch_result_type(x, y)
    if not dt.is_floating_point:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'{dt.legacy}\'')
    return float_operands(x, y)


# NOTE: a real angle's gradient is 0 everywhere (torch's angle_backward: zeros_like).  The
# body adds sgn(x) * 0 (sgn's gradient is 0 even for an inf or nan g) so that the result
# depends on x without passing a gradient.
def _angle_body(T, x):
    return where(x != x, math.nan, (x < 0.0).to(x.dtype) * math.pi) + x.sgn() * 0.0


def _record(name, body, x, *args, edges=None):
    return decomps.record(name, body, KIND_OPS, x, *args, edges=edges)


_CLAMP_MIN, _CLAMP_MAX, _CLAMP = (OPS[n].code for n in ("clamp_min", "clamp_max", "clamp"))
_CLAMP_MIN_FWD, _CLAMP_MAX_FWD = _BIN_FAST[_CLAMP_MIN][0], _BIN_FAST[_CLAMP_MAX][0]
_CLAMP_NUMBER = (float, int, type(None))   # (bool, numpy scalars: the general path)
_FLOAT_ARRAY = (D.float32, D.float64)


def _clamp_bound(b, dt):
    """b a bound _clamp_pass takes as _number_bounds and _binary take it: as it is (a float
    within float32's range for float32, an int of at most 2**53 in size)."""
    if type(b) is float:
        return dt is D.float64 or -D.F32_MAX <= b <= D.F32_MAX
    return b is None or -_EXACT_INT <= b <= _EXACT_INT


def _f32_bound(b):
    """A number bound of a float32 tensor rounded to float32 (tensors and None as they are)."""
    if type(b) is float and -D.F32_MAX <= b <= D.F32_MAX or \
            type(b) is int and -_EXACT_INT <= b <= _EXACT_INT:   # (a C cast: 440 -> ~150 ns)
        return _F32_UNPACK(_F32_PACK(b))[0]   # (such an int is exact in double: one rounding)
    # (an int beyond int64 as it is: torch's OverflowError comes later; other ints rounded
    # once, straight to float32)
    return float(np.float32(b)) if type(b) is float or type(b) is int and \
        -2 ** 63 <= b < 2 ** 63 else b


_F32_PACK, _F32_UNPACK = struct.Struct("f").pack, struct.Struct("f").unpack


def _clamp_faces(xa, lo, hi):
    """(y, out): array xa through clamp_min's forward face with bound lo (y is xa for None),
    then clamp_max's with hi (out is y for None), as the decomposition's two entries compute
    them; each face makes a new array, so out is never xa (not both bounds None)."""
    dtn = xa.dtype.type
    token = ERR_SET(QUIET)
    try:
        y = _CLAMP_MIN_FWD(xa, dtn(lo)) if lo is not None else xa
        return y, (_CLAMP_MAX_FWD(y, dtn(hi)) if hi is not None else y)
    finally:
        ERR_RESET(token)


def _clamped(xa, lo, hi, in_place=False):
    """_clamp_faces' out alone, with one array fewer: the upper face written into the lower
    face's new array; with `in_place`, both written into xa itself (clamp_ without history:
    no array made, none copied; 32x16 float32 clamp_(-1, 1): ~5.6 -> ~4 us)."""
    dtn = xa.dtype.type
    token = ERR_SET(QUIET)
    try:
        y = _CLAMP_MIN_FWD(xa, dtn(lo), in_place) if lo is not None else xa
        # (a 0-d xa's lower face is a numpy scalar: the upper face makes its own)
        return y if hi is None else _CLAMP_MAX_FWD(y, dtn(hi), in_place or y is not xa and
                                                   type(y) is np.ndarray)
    finally:
        ERR_RESET(token)


def _clamp_pass(x, lo, hi):
    """x.clamp(lo, hi) with number bounds (not both None) of a recorded float32/float64 x:
    decomps.record of row clamp, the body's clamp_min/clamp_max entries (_binary's, with the
    bound in the entry) and the group it marks, without the general layers between them;
    None once an inference tensor was made (record's saved-value check: the general path)."""
    if INFERENCE_MADE[0]:
        return None
    tape = STATE.tape
    xa = x._v
    if x._tape is tape and not tape.sealed and not tape.recording and \
            type(xa) is np.ndarray and xa.size != 1:
        # x on the open tape (a layer's input): _binary's entries written here (a trace for
        # replay: _binary's own)
        y, out = _clamp_faces(xa, lo, hi)
        start = n = tape.n
        shape, size, a = out.shape, out.size, x._node
        # (the upper clip's mask reads x's memory, not y: decomps_math.upper_clip_reads_input)
        for code, c, arr, v in ((_CLAMP_MIN, lo, xa, y), (_CLAMP_MAX, hi, xa, out)):
            if c is not None:
                n = tape.push_nd(code, a, -1, float(c), shape, size)
                _, sa, _, so = _BIN_FAST[code]
                if sa:
                    tape.save(a, arr)
                if so:
                    tape.save(n, v)
                a = n
        groups.mark(tape, start, n, _CLAMP)
        t = _new()
        t._v, t._dtype, t._shape, t._tape, t._recorded, t._node = out, x._dtype, shape, tape, \
            True, n
        return t
    tape, start = decomps.open_length()
    y = x if lo is None else _binary(_CLAMP_MIN, x, lo)
    out = y if hi is None else DM.upper_clip_reads_input(x, y, _binary(_CLAMP_MAX, y, hi))
    return decomps.written("clamp", out, tape, start)


def _dims(fname, dim, nd, pos=1):
    """Sorted non-negative dims: all of them for None (or an empty list), else as torch."""
    if dim is None or isinstance(dim, (tuple, list)) and len(dim) == 0:
        return tuple(range(nd))
    return _reduce_dims(fname, dim, nd, pos)


def _bin(name, x, y):
    try:
        return _binary(OPS[name].code, x, y)
    except errors.NotAnOperand:   # (the operators' NotImplemented; a method raises torch's)
        raise errors.tensor_or_number(name, y) from None


def _check_int_divisor(name, x, y):
    """torch's errors of an integer remainder/fmod, which numpy's float formula does not
    raise (it would give 0): a zero divisor (after the divisor's conversion to the result
    dtype: int8 % 256 divides by 0) is RuntimeError "ZeroDivisionError", as torch's CPU
    kernel; bool operands have no kernel.  Checked before anything is computed or written."""
    if not isinstance(x, Tensor) and not isinstance(y, Tensor) or \
            not isinstance(x, (Tensor, bool, int, float)) or \
            not isinstance(y, (Tensor, bool, int, float)):
        return      # (other operands: the op's own error)
    dt = D.torch_result_type(x, y)
    if dt.is_floating_point:
        return
    if dt is D.bool_:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Bool\'')
    divisor = D.as_array(y._array() if isinstance(y, Tensor) else y, dt)
    shape = np.broadcast_shapes(x._shape if isinstance(x, Tensor) else (), np.shape(divisor))
    if math.prod(shape) and (divisor == 0).any():
        raise RuntimeError("ZeroDivisionError")


# ---- unary rows: method name -> row, and torch's aliases ---------------------------------------
_UNARY = ("log1p", "expm1", "log2", "log10", "exp2", "tan", "asin", "acos", "atan", "sinh",
          "cosh", "asinh", "acosh", "atanh", "erf", "erfc", "erfinv", "lgamma", "digamma",
          "rsqrt", "frac", "rad2deg", "deg2rad", "i0")
_ROUNDING = ("floor", "ceil", "trunc")          # integer tensors: returned as they are
_ALIASES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
            "arccosh": "acosh", "arctanh": "atanh", "fix": "trunc", "clip": "clamp",
            "greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le",
            "not_equal": "ne", "absolute": "abs", "negative": "neg"}


def _unary_method(name):
    fast = getattr(_fastpath, "op_" + name)
    rounding = name in _ROUNDING

    def method(self):
        if not self._dtype.is_floating_point:
            if rounding:
                if self._dtype is D.bool_:
                    raise NotImplementedError(_INT_ERR.format(fn=name + "_vml", dt="Bool"))
                return self.clone()
            if name == "frac":
                raise NotImplementedError(_INT_ERR.format(fn="frac", dt=self._dtype.legacy))
        return fast(self)
    method.__name__ = name
    method.__doc__ = f"Elementwise {name} ({OPS[name].grad_fn})."
    return method


_DECOMP_INPLACE = ("clamp", "nan_to_num")


_CLAMPS = ("clamp", "clamp_min", "clamp_max")


def _clamp_cast_check(x, bounds):
    """torch's error when clamp_'s result, in the dtype promoted with its bounds, cannot go
    into integer or bool x (bool_t.clamp_(2)); number bounds name x's C++ type."""
    bounds = [b for b in bounds if b is not None]
    for b in bounds:   # (the output's shape first: a 0-d x with an n-d bound)
        if isinstance(b, Tensor) and b._shape != x._shape:
            try:
                shape = np.broadcast_shapes(x._shape, b._shape)
            except ValueError:
                continue    # (the op's own broadcast error)
            if shape != x._shape:
                raise errors._inplace_shape_error(x._shape, shape)
    result = D.promoted(x, *bounds)
    if not D.can_cast(result, x._dtype):
        if any(isinstance(b, Tensor) for b in bounds):
            raise errors._cast_error(result, x._dtype)
        raise RuntimeError(f"result type {result.legacy} can't be cast to the desired output "
                           f"type {errors._C_TYPE[x._dtype.name]}")


def _mixed_bounds(fname, min, max):  # noqa: A002
    """clamp's bounds (min, max) as torch's parser binds them: a tensor and a number take the
    number overload (ClampBackward1), the tensor read as a Number, when it is 0-d and needs
    no grad, and no overload else (torch's TypeError, for method `fname`)."""
    if min is None or max is None or isinstance(min, Tensor) is isinstance(max, Tensor):
        return min, max
    t = min if isinstance(min, Tensor) else max
    if t._shape or t.requires_grad:
        err = arg_error("clamp", True, (min, max))
        raise TypeError(str(err).replace("clamp()", f"{fname}()", 1)) if err else \
            TypeError(f"{fname}() received an invalid combination of arguments")
    return (t.item(), max) if t is min else (min, t.item())


def _clamp_plain(t, name, bounds):
    """clamp_ / clamp_min_ / clamp_max_ (positional number bounds) of a float32/float64
    tensor without history: clamp's two faces written into t's array (_clamped in place; by
    _update_arrays for a tensor held as a float), as the general path's value (Tensor.clamp's
    array path) without its copy and tensor; None where the general path decides (bounds it
    would convert or refuse, history, views)."""
    if name == "clamp":
        if not 1 <= len(bounds) <= 2:
            return None
        lo, hi = bounds if len(bounds) == 2 else (bounds[0], None)
    elif len(bounds) != 1:
        return None
    else:
        lo, hi = (bounds[0], None) if name == "clamp_min" else (None, bounds[0])
    dt = t._dtype
    if type(t) is not Tensor and type(t) is not Parameter or dt not in _FLOAT_ARRAY or \
            t._recorded or type(lo) not in _CLAMP_NUMBER or type(hi) not in _CLAMP_NUMBER or \
            lo is None and hi is None or not (_clamp_bound(lo, dt) and _clamp_bound(hi, dt)):
        return None
    if dt is D.float32:
        lo, hi = _f32_bound(lo), _f32_bound(hi)
    sv = t._v
    if type(sv) is np.ndarray and sv.flags.writeable and _no_history(t):
        # (the common case, as zero_'s: the version counted, then the faces written into t)
        t._lserial = 0   # a later use records the new value (tape.leaf_node)
        bump_version(t)
        _clamped(sv, lo, hi, True)
        return t
    return _update_arrays(t, lambda arr: _clamped(arr, lo, hi))   # (held as a float)


def _own_ufunc(name):
    """The numpy ufunc Tensor.<name> computes a float array's value by (the generated scalar
    fast path's op_<name> hands every tensor of more than one element to ndops._unary, which
    calls its row's forward: this ufunc, quietly where the row says so) and that quiet flag;
    (None, False) for any other method."""
    op = OPS.get(name)
    if op is None or getattr(Tensor, name, None) is not getattr(_fastpath, "op_" + name, 0):
        return None, False
    fwd, _, quiet_fp, _, _ = _UN_ROW.get(op.code, (None,) * 5)
    return (fwd, bool(quiet_fp)) if type(fwd) is np.ufunc else (None, False)


def _ufunc_update(t, ufunc, quiet_fp):
    """name_ of a float array of more than one element that needs no history (`x.sqrt_()`),
    for a method whose value is `ufunc`'s (_own_ufunc): the ufunc written into t's memory,
    what the path below writes there (the method's value, copied by _update_arrays) without
    the result tensor and the copy (32x16 float32 sqrt_: ~3.3 -> ~1.6 us).  None where that
    path decides."""
    sv = t._v
    if type(sv) is not np.ndarray or sv.size == 1 or not sv.flags.writeable or \
            t._dtype not in _FLOAT_ARRAY or not _no_history(t):
        return None
    t._lserial = 0   # a later use records the new value (tape.leaf_node)
    bump_version(t)  # (before the write: see inplace._assign)
    if quiet_fp:
        token = ERR_SET(QUIET)
        try:
            ufunc(sv, sv)
        finally:
            ERR_RESET(token)
    else:
        ufunc(sv, sv)
    return t


def _inplace_unary(name):
    """name_: the value replaced by method(self) (recorded as the op on a tensor that needs
    history; an integer tensor whose result is float raises torch's cast error)."""
    ufunc, quiet_fp = _own_ufunc(name)

    def method(self, *args, **kwargs):
        if name in _CLAMPS and not kwargs:
            done = _clamp_plain(self, name, args)
            if done is not None:
                return done
        if ufunc is not None and not args and not kwargs:
            done = _ufunc_update(self, ufunc, quiet_fp)
            if done is not None:
                return done
        try:
            fn = getattr(Tensor, name)
            if not args and not kwargs and type(self._v) is np.ndarray and \
                    self._dtype in _FLOAT_ARRAY and _no_history(self):
                # (the common case, `x.sqrt_()` of a float tensor without history: the
                # method's value, which reads self and records nothing here, written into
                # self as copy_ writes; below, the same on a copy of self, made per call)
                r = fn(self)
                if r._dtype is self._dtype:
                    done = _update_arrays(self, _as_given, r)
                    if done is not None:
                        return done
            # tensor arguments (clamp's bounds): their history makes the change recorded
            inputs = tuple(a for a in (*args, *kwargs.values()) if isinstance(a, Tensor))
            if inputs:   # (torch's TensorIterator check of clamp_'s bounds, after autograd's)
                self._check_inplace(next((t for t in inputs if t._recorded), None))
                no_partial_overlap(self, *inputs)
            if name in _CLAMPS and not self._dtype.is_floating_point:
                _clamp_cast_check(self, (*args, *kwargs.values()))
            if name == "clamp" and inputs:   # (ClampBackward0 lists both bounds, None's too)
                bounds = dict(zip(("min", "max"), args), **kwargs)
                args, kwargs = _mixed_bounds("clamp_", bounds.get("min"), bounds.get("max")), {}
                inputs = args if any(isinstance(a, Tensor) for a in args) else ()
            def value(arr, _):
                r = fn(Tensor._wrap(np.array(arr, copy=True), self._dtype), *args, **kwargs)
                if r._dtype is not self._dtype and not D.can_cast(r._dtype, self._dtype):
                    raise errors._cast_error(r._dtype, self._dtype)   # (a bool's square_: Long)
                return r._array()
            if not inputs:   # (no history here: the value written in place, no tensor per step)
                done = _update_arrays(self, lambda arr: value(arr, None))
                if done is not None:
                    return done
            if name in _DECOMP_INPLACE:   # (ClampBackward0 saves the bound tensors)
                return _inplace_decomp(self, fn, *args, _inputs=inputs, _saved=inputs,
                                       **kwargs)
            if inputs and self._dtype.is_floating_point and \
                    D.promoted(self, *inputs) is self._dtype:   # (as _inplace_decomp's)
                args = tuple(_saved_in(a, self._dtype) if isinstance(a, Tensor) and a._dtype
                             is not self._dtype and a._dtype.is_floating_point else a
                             for a in args)
            other = next((t for t in inputs if t._recorded), None)
            return self._inplace(value, other, lambda x, _: fn(x, *args, **kwargs))
        except TypeError as e:   # (the method's complaint, as name_'s: torch's name)
            raise renamed(e, name, name + "_") from None
    method.__name__ = name + "_"
    return method


def _methods():
    ns = {name: _unary_method(name) for name in _UNARY + _ROUNDING}
    for name in _UNARY + _ROUNDING + ("round", "sgn", "clamp", "clamp_min", "clamp_max",
                                      "nan_to_num", "exp", "log", "sqrt", "sin", "cos", "tanh",
                                      "sigmoid", "relu", "abs", "neg", "reciprocal", "sign",
                                      "square"):
        if not hasattr(Tensor, name + "_"):
            ns[name + "_"] = _inplace_unary(name)
    return ns


# torch's refusal of addcdiv with integer (or bool) tensor1 and tensor2
_ADDCDIV_INTEGER = (
    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv "
    "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can "
    "be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
    "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
    "addcdiv behavior is just the latter implementation: (input + value * tensor1 / "
    "tensor2), for all dtypes.")


def _floating_or_complex(t):
    return t._dtype.is_floating_point or t._dtype.is_complex if isinstance(t, Tensor) else True


def _lerp_operands(x, end, weight):
    """lerp's checks; returns weight (a numpy number as a Python one).  torch's lerp takes
    no promotion, in place or not: end (and a weight with dims) in x's dtype."""
    _tensor_operand("lerp", end, 1, "end")
    weight = D.py_number(weight)
    tw = isinstance(weight, Tensor)
    for name, v in (("end", end), ("weight", weight if tw and weight.dim() else None)):
        if v is not None and v._dtype is not x._dtype:
            raise RuntimeError(f"expected dtype {errors._C_TYPE[x._dtype.name]} for "
                               f"`{name}` but got dtype {errors._C_TYPE[v._dtype.name]}")
    return weight


def _array_update(t, number, *tensors):
    """Whether lerp_/addcmul_/addcdiv_ of t with the Python number `number` and `tensors` may
    take inplace._update_arrays: t held in an array or a float, and tensors all tensors (else
    torch's errors).  The decomposition's arithmetic is numpy's in t's dtype (addcmul's and
    lerp's fused multiply-adds)."""
    tv = type(t._v)
    if (type(number) is float or type(number) is int) and (tv is np.ndarray or tv is float):
        for x in tensors:   # (a loop, not all() of a generator: ~0.3 us less)
            if not isinstance(x, Tensor):
                return False
        if not (type(number) is int and -_EXACT_INT <= number <= _EXACT_INT or
                type(number) is float and -D.F32_MAX <= number <= D.F32_MAX):
            # (the general path's conversion error: 1e40 for float32; none to find within
            # those ranges, where the check's ~0.5 us is saved)
            D.checked(number, t._dtype)
        return True
    return False


def _saved_in(a, dt):
    """Tensor argument `a` of an in-place op, which torch's node saves, cast into self's
    dtype dt: the op reads the copy; torch's node saves `a` itself: the copy (and what the op
    derives from it alone) counts a's in-place changes."""
    cast = a.to(dt)
    cast._ver = (version_counter(a),)   # (a's count; not a view of a)
    read_as_saved(cast, a)
    return cast


def _inplace_decomp(self, method, *args, _clone=True, _inputs=(), _saved=(), **kwargs):
    """self = method(self, ...) for a decomposition row: as `Tensor._inplace`, and when that
    records, the old self is marked replaced for the group's whole span (`_inplace` marks the
    output entry's first operand, an internal entry of the group).  `_clone`: the body reads
    a clone of self (for bodies whose first reads of self could be views of it); `_inputs`:
    the tensor arguments whose history makes the change recorded (torch's), as self's;
    `_saved`: the tensor arguments torch's node saves by reference."""
    if _inputs:   # (torch's TensorIterator check, after autograd's: x[1:].lerp_(x[:-1], w))
        self._check_inplace(next((t for t in _inputs if isinstance(t, Tensor) and t._recorded),
                                 None))
        no_partial_overlap(self, *_inputs)
    if self._dtype.is_floating_point and D.promoted(
            self, *(a for a in args + tuple(kwargs.values()) if isinstance(a, Tensor))) \
            is self._dtype:
        # a float tensor argument of another float dtype in self's where torch computes in
        # self's (a 0-d float64 beside a float32 self: float32_t.clamp_(float64_0d)); a
        # wider one promotes: the body computes in that dtype and the result is cast into
        # self's (Tensor._inplace_recorded), as torch rounds it once
        def own(a):
            if not (isinstance(a, Tensor) and a._dtype is not self._dtype
                    and a._dtype.is_floating_point):
                return a
            return _saved_in(a, self._dtype) if any(a is t for t in _saved) else \
                a.to(self._dtype)
        args = tuple(own(a) for a in args)
        kwargs = {k: own(a) for k, a in kwargs.items()}
    for a in _inputs:   # (torch's node reads their grad_fn: a pending view's made now; self's
        if isinstance(a, Tensor) and a._recorded and a is not self:   # own check comes first)
            read_grad_fn_of(a)
    tape, node = self._tape, getattr(self, "_node", -1)
    start = tape.n if tape is not None else 0
    # (self's tape let go or sealed: the op records on the open tape, or on one it opens)
    open_tape = STATE.tape
    open_n = getattr(open_tape, "n", -1)   # (CLOSED: none)
    other = next((t for t in _inputs if isinstance(t, Tensor) and t._recorded), None)
    # (the edge torch lists first: only the ops whose arguments torch lists need it)
    old_edge = edge_to(tape, self) if (_inputs or _clone) and tape is not None else (None, 0)

    def value(arr, _):
        return method(Tensor._wrap(np.array(arr, copy=True), self._dtype), *args,
                      **kwargs)._array()

    def body(x, _):
        # (the body starts with a clone: its first reads of self are no views of it; self
        # given as an argument too, x.lerp_(x, w), is read as an alias of self, views.apart:
        # of self, not x, which for a view self is its gather from the base: torch's node
        # saved the view, which the op changes, so the backward fails: v.addcmul_(t, v))
        if _clone:
            return method(x.clone(), *[apart(self, a) for a in args], **kwargs)
        return method(x, *args, **kwargs)
    self._inplace(value, other, body)
    new = self._tape
    at = start if new is tape else open_n if new is open_tape and open_n >= 0 else 0
    if tape is not None and new is not None and self._node >= at:
        row = groups.row_at(new, self._node)
        if _clone and row >= 0:
            # the clone (and aliases) the body read belong to the node: torch's edge is self's
            # old grad_fn, which the clone reads (a post hook then gets self's gradient)
            groups.mark(new, at, self._node, row)
        if new is tape:
            tape.superseded[node] = (start, self._node)
        else:   # (self's old node read through an import entry of the new tape)
            imported = new.import_of.get((tape.serial, node))
            if imported is not None:
                new.superseded[imported] = (at, self._node)
        # a name cached before the group was marked (kept: the edges a body without a clone
        # showed, which name self's old node)
        cls = recorded_class(new, self._node)
        if _clone or cls is None or not issubclass(cls, Edged):
            forget_fn(new, self._node)
    if (_inputs or _clone) and new is not None and (new is not tape or self._node >= start) \
            and view_base(self) is None:
        # torch's edges: self's grad_fn from before the op, then the tensor arguments (the
        # group's own inputs would be the clone its body reads, not self's old node)
        show_edge_pairs(new, self._node, (old_edge,) + tuple(
            old_edge if t is self else edge_to(new, t) if t is not None else (None, 0)
            for t in _inputs if t is None or isinstance(t, Tensor)))
    return self


def _comparison(name):
    def method(self, other):
        return getattr(self, "__%s__" % name)(other)
    method.__name__ = name
    return method


def _addcmul(self, tensor1, tensor2, legacy, value, body):
    """Tensor.addcmul, its row's body `body`."""
    if isinstance(value, Tensor):   # (a 0-d tensor is a Scalar to torch's parser)
        value = errors.tensor_scalar("addcmul", "value", value)
    if legacy:
        tensor1, tensor2, value = _value_first("addcmul", tensor1, tensor2, legacy)
    _tensor_operand("addcmul", tensor1, 1, "tensor1")
    _tensor_operand("addcmul", tensor2, 2, "tensor2")
    dt = D.promoted(self, tensor1, tensor2)
    if dt is D.bool_:
        raise NotImplementedError("\"addcmul_cpu_out\" not implemented for 'Bool'")
    # value converts into the result's dtype, checked (2.5 is 2 for integers)
    value = D.checked(value, dt)
    # (torch's node saves each factor for the other's gradient)
    return keep_tensor_args(_record("addcmul", body, self, tensor1, tensor2, value,
                             edges=(self, tensor1, tensor2)), value=value,
                     tensor1=tensor1 if tensor2.requires_grad else None,
                     tensor2=tensor2 if tensor1.requires_grad else None)


def _addcdiv(self, tensor1, tensor2, legacy, value, body):
    """Tensor.addcdiv, its row's body `body`."""
    if isinstance(value, Tensor):   # (a 0-d tensor is a Scalar to torch's parser)
        value = errors.tensor_scalar("addcdiv", "value", value)
    if legacy:
        tensor1, tensor2, value = _value_first("addcdiv", tensor1, tensor2, legacy)
    _tensor_operand("addcdiv", tensor1, 1, "tensor1")
    _tensor_operand("addcdiv", tensor2, 2, "tensor2")
    if not (_floating_or_complex(tensor1) or _floating_or_complex(tensor2)):
        raise RuntimeError(_ADDCDIV_INTEGER)
    D.checked(value, D.promoted(self, tensor1, tensor2))   # (as addcmul's)
    # (torch's node saves tensor2, whichever input needs a gradient, tensor1 for
    # tensor2's gradient)
    return keep_tensor_args(_record("addcdiv", body, self, tensor1, tensor2, value,
                             edges=(self, tensor1, tensor2)), value=value,
                     tensor1=tensor1 if tensor2.requires_grad else None, tensor2=tensor2)


def _addcmul_composed(self, tensor1, tensor2, value=1):
    """addcmul whose gradient reads value * tensor1 (decomps_math.addcmul_composed)."""
    return _addcmul(self, tensor1, tensor2, (), value, DM.addcmul_composed)


def _addcdiv_composed(self, tensor1, tensor2, value=1):
    """addcdiv whose gradient reads value * tensor1 (decomps_math.addcdiv_composed)."""
    return _addcdiv(self, tensor1, tensor2, (), value, DM.addcdiv_composed)


def _changes_a_factor(self, *factors):
    """Whether an in-place op on self changes one of its factors (self given as one, or a
    view of its memory): torch's node saved it, so a backward that reads it fails, naming
    the factor as the composition of value * tensor1 does (no gradient is read)."""
    c = version_counter(self)
    return any(isinstance(t, Tensor) and version_counter(t) is c for t in factors)


@tensor_methods
class _MathMethods:
    """Tensor's #11 methods (the unary rows and in-place variants: `_methods`)."""

    def round(self, *, decimals=MISSING):
        """Round half to even (RoundBackward0), or to `decimals` digits (RoundBackward1:
        torch's round.decimals overload, which decimals=0 given takes too)."""
        if decimals is not MISSING:
            # (torch's decimals is a keyword-only int: a float or None was read as digits)
            decimals = _int_arg(decimals, "round", "decimals", None).__index__()
        if not self._dtype.is_floating_point:
            # (round.decimals has no integer kernel: decimals=0 is round_vml's error too)
            if decimals is not MISSING or self._dtype is D.bool_:
                raise NotImplementedError(_INT_ERR.format(
                    fn="round" if decimals is not MISSING and decimals else "round_vml",
                    dt=self._dtype.legacy))
            return self.clone()
        if decimals is not MISSING:
            return _fastpath.op_round_decimals(self, float(decimals))
        return _fastpath.op_round(self)

    def angle(self):
        """The argument of a real number: pi below 0, else 0 (nan at nan), in a floating
        dtype (AngleBackward0, gradient 0)."""
        x = self if self._dtype.is_floating_point else self.to(D.get_default_dtype())
        if not x._recorded:
            return _angle_body(None, x)
        return _record("angle", _angle_body, x)

    def sgn(self):
        """sign of a real tensor (SgnBackward0, gradient 0)."""
        if not self._dtype.is_floating_point:   # no gradient: numpy, in the input's dtype
            arr = self._array()
            return Tensor._wrap(arr.copy() if arr.dtype == bool else np.sign(arr), self._dtype)
        return _fastpath.op_sgn(self)

    # ---- binary rows -----------------------------------------------------------------------
    def remainder(self, other):
        """Python's modulus: the result has the sign of other (RemainderBackward0/1)."""
        if not isinstance(other, OPERAND_TYPES):
            raise errors.tensor_or_number("remainder", other)
        _check_int_divisor("remainder", self, other)
        return _bin("remainder", self, other)

    def __mod__(self, other):
        if not isinstance(other, OPERAND_TYPES):
            return NotImplemented   # (Python then asks other, as torch's)
        return self.remainder(other)

    def __rmod__(self, other):
        if not isinstance(other, OPERAND_TYPES):
            return NotImplemented
        _check_int_divisor("remainder", other, self)
        if self.requires_grad and not isinstance(other, Tensor):
            # torch's remainder(Number, Tensor) has no derivative: its NotImplemented node,
            # whose backward raises
            r = _bin("remainder", other, self.detach())
            return nodiff.result("NotImplemented", r._array(), r._dtype, (self,),
                                 (RuntimeError, "derivative for aten::remainder is not "
                                                "implemented"))
        return _bin("remainder", other, self)

    def remainder_(self, other):
        if not isinstance(other, OPERAND_TYPES):
            raise errors.tensor_or_number("remainder_", other)
        errors.check_promotion(self, other)
        _check_int_divisor("remainder", self, other)
        return self._inplace(lambda a, b: _NP_FWD[OPS["remainder"].code](a, b, 0.0), other,
                             Tensor.remainder)

    def __imod__(self, other):
        if not isinstance(other, OPERAND_TYPES):
            return NotImplemented
        return self.remainder_(other)

    def fmod(self, other):
        """C's fmod: the result has the sign of self (FmodBackward0/1; a float32 result's
        row rounds the gradient's quotient to float32, as torch's kernel divides)."""
        _check_int_divisor("fmod", self, other)
        f32 = isinstance(other, (Tensor, bool, int, float)) and \
            D.torch_result_type(self, other) is D.float32
        return _bin("fmod_float32" if f32 else "fmod", self, other)

    def fmod_(self, other):
        errors.check_promotion(self, other)
        _check_int_divisor("fmod", self, other)
        return self._inplace(np.fmod, other, Tensor.fmod)

    def maximum(self, other):
        """Elementwise maximum, nan propagating; a tie splits the gradient (MaximumBackward0)."""
        _tensor_operand("maximum", other, 1)
        return _bin("maximum", self, other)

    def minimum(self, other):
        """Elementwise minimum, nan propagating; a tie splits the gradient (MinimumBackward0)."""
        _tensor_operand("minimum", other, 1)
        return _bin("minimum", self, other)

    def logaddexp(self, other):
        """log(exp(self) + exp(other)) without overflow (LogaddexpBackward0)."""
        _tensor_operand("logaddexp", other, 1)
        return _bin("logaddexp", *_float_pair("logaddexp", self, other))

    def logaddexp2(self, other):
        """log2(2**self + 2**other) without overflow (Logaddexp2Backward0)."""
        _tensor_operand("logaddexp2", other, 1)
        return _bin("logaddexp2", *_float_pair("logaddexp2", self, other))

    def fmax(self, other):
        """Elementwise maximum ignoring nan (FmaxBackward0)."""
        _tensor_operand("fmax", other, 1)
        return _bin("fmax", self, other)

    def fmin(self, other):
        """Elementwise minimum ignoring nan (FminBackward0)."""
        _tensor_operand("fmin", other, 1)
        return _bin("fmin", self, other)

    def clamp_min(self, min):  # noqa: A002  (torch's name)
        """max(self, min), min a number or a tensor (ClampMinBackward0/1)."""
        if not isinstance(min, OPERAND_TYPES):
            raise errors.tensor_or_number("clamp_min", min, "min")
        out = _bin("clamp_min", self, _number_bounds(self, "clamp_min", min)[0])
        # (grad_fn._saved_min: the bound as given, not as rounded into float32)
        return keep_args(out, min=min) if self._dtype is D.float32 and \
            isinstance(min, (int, float)) and out is not self else out

    def clamp_max(self, max):  # noqa: A002
        """min(self, max), max a number or a tensor (ClampMaxBackward0/1)."""
        if not isinstance(max, OPERAND_TYPES):
            raise errors.tensor_or_number("clamp_max", max, "max")
        out = _bin("clamp_max", self, _number_bounds(self, "clamp_max", max)[0])
        # (grad_fn._saved_max: the bound as given, not as rounded into float32)
        return keep_args(out, max=max) if self._dtype is D.float32 and \
            isinstance(max, (int, float)) and out is not self else out

    def clamp(self, min=None, max=None):  # noqa: A002
        """Values limited to [min, max] (gradient 1 at the bounds); ClampBackward1 for
        number bounds, ClampBackward0 for tensor bounds."""
        # (the common case, a layer's clip: _clamp_pass; _number_bounds takes these bounds
        # as they are)
        if type(min) in _CLAMP_NUMBER and type(max) in _CLAMP_NUMBER and \
                (type(self) is Tensor or type(self) is Parameter) and \
                self._dtype in _FLOAT_ARRAY and (min is not None or max is not None) and (
                    _clamp_bound(min, self._dtype) and _clamp_bound(max, self._dtype)):
            lo, hi = (min, max) if self._dtype is D.float64 else \
                (_f32_bound(min), _f32_bound(max))
            if not self._recorded:   # (no history: the two faces on the array, no decomposition)
                xa = self._v
                if type(xa) is np.ndarray and xa.size != 1:
                    return Tensor._wrap(_clamped(xa, lo, hi), self._dtype)
            else:
                out = _clamp_pass(self, lo, hi)
                if out is not None:
                    return keep_args(out, min=min, max=max)
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        for b in (min, max):
            if not (b is None or isinstance(b, (Tensor, int, float)) or hasattr(b, "__float__")):
                raise TypeError(f"clamp() received an invalid combination of arguments - got "
                                f"(min={type(b).__name__})")
        min, max = _mixed_bounds("clamp", min, max)
        tensors = isinstance(min, Tensor) or isinstance(max, Tensor)
        if not tensors:
            name = "clamp" if min is not None and max is not None else \
                "clamp_min" if max is None else "clamp_max"
            given_min, given_max = min, max
            min, max = _number_bounds(self, name, min, max)
            x = self
            if x._dtype is D.bool_:   # (a bool tensor with a number bound: in the promoted
                # dtype, which the body's clamp_min/clamp_max then keep)
                x = x.to(D.promoted(x, *(b for b in (min, max) if b is not None)))
            return keep_args(_record("clamp", DM.clamp, x, min, max), min=given_min,
                             max=given_max)
        # (opsgaps) torch's ClampBackward0 lists self, min, max: an absent bound is (None, 0)
        r = _record("clamp_tensor", DM.clamp, self, min, max, edges=(self, min, max))
        # (it saves both bounds, which the body's straight-through form for crossed bounds
        # reads only as values: x.clamp_(lo, x) fails the backward, as torch's)
        return keep_tensor_args(saves_unread(r, (min, max)), min=min, max=max)

    clip = clamp

    @parsed("polygamma", method=True)   # (its argument errors: torch's parser's)
    def polygamma(self, n):
        """The n-th derivative of digamma (PolygammaBackward0)."""
        return polygamma(n, self)

    def lerp(self, end=MISSING, weight=MISSING):
        """self + weight * (end - self) (LerpBackward0 / LerpBackward1 for a tensor weight)."""
        if weight is MISSING:   # (torch's parser's complaint, naming its two signatures)
            raise arg_error("lerp", True, given(end))
        weight = _lerp_operands(self, end, weight)
        tw = isinstance(weight, Tensor)
        if not self._dtype.is_floating_point:
            raise NotImplementedError(f"\"lerp_kernel_{'tensor' if tw else 'scalar'}\" not "
                                      f"implemented for '{self._dtype.legacy}'")
        if end._shape != self._shape or tw:   # (torch's message: self, end, weight in order)
            errors._check_broadcast(self._shape, end._shape, *((weight._shape,) if tw else ()))
        if not tw:   # (a number weight converts into self's dtype, checked)
            D.checked(weight, self._dtype)
            if end._shape == self._shape and end._dtype is self._dtype and \
                    self._dtype in _FLOAT_ARRAY and self.numel() > 1 and \
                    (self._recorded or end._recorded) and is_grad_enabled() and \
                    _tracing(self) is None and _tracing(end) is None:
                return keep_args(_lerp_entry(self, end, weight), weight=weight)
        out = _record("lerp_tensor" if tw else "lerp", DM.lerp, self, end, weight,
                      edges=(self, end, weight) if tw else (self, end))
        if tw and weight.requires_grad and not self._recorded:
            # (LerpBackward1 saves self for weight's gradient; the body reads a constant self
            # only through end - self: its in-place change fails the backward, as torch's)
            saves_unread(out, (self,))
        return out if tw else keep_args(out, weight=weight)

    def addcmul(self, tensor1, tensor2, *legacy, value=1):
        """self + value * tensor1 * tensor2 (AddcmulBackward0)."""
        return _addcmul(self, tensor1, tensor2, legacy, value, DM.addcmul)

    def addcdiv(self, tensor1, tensor2, *legacy, value=1):
        """self + value * tensor1 / tensor2 (AddcdivBackward0)."""
        return _addcdiv(self, tensor1, tensor2, legacy, value, DM.addcdiv)

    def lerp_(self, end, weight):
        weight = _lerp_operands(self, end, weight)   # (before _inplace_decomp's casts)
        if _array_update(self, weight, end):
            done = _update_arrays(self, lambda x, e, out=None: DM.lerp_number(x, e, weight, out),
                                  end, writes=True)
            if done is not None:
                return done
        return _inplace_decomp(self, Tensor.lerp, end, weight, _inputs=(end, weight))

    def addcmul_(self, tensor1, tensor2, *legacy, value=1):
        if isinstance(value, Tensor):   # (a 0-d tensor is a Scalar to torch's parser)
            value = errors.tensor_scalar("addcmul_", "value", value)
        if legacy:
            tensor1, tensor2, value = _value_first("addcmul_", tensor1, tensor2, legacy)
        if _array_update(self, value, tensor1, tensor2):
            done = _update_arrays(
                self, lambda x, a, b, out=None: DM.addcmul_fused(x, a, b, value, out),
                tensor1, tensor2, writes=True)
            if done is not None:
                return done
        return _inplace_decomp(
            self, _addcmul_composed if _changes_a_factor(self, tensor1, tensor2) else Tensor.addcmul,
            tensor1, tensor2, value=value, _inputs=(tensor1, tensor2), _saved=(tensor1, tensor2))

    def addcdiv_(self, tensor1, tensor2, *legacy, value=1):
        if isinstance(value, Tensor):   # (a 0-d tensor is a Scalar to torch's parser)
            value = errors.tensor_scalar("addcdiv_", "value", value)
        if legacy:
            tensor1, tensor2, value = _value_first("addcdiv_", tensor1, tensor2, legacy)
        if _array_update(self, value, tensor1, tensor2):
            done = _update_arrays(
                self, lambda x, a, b, out=None: DM.addcdiv_arrays(x, a, b, value, out),
                tensor1, tensor2, writes=True)
            if done is not None:
                return done
        return _inplace_decomp(
            self, _addcdiv_composed if _changes_a_factor(self, tensor1, tensor2) else Tensor.addcdiv,
            tensor1, tensor2, value=value, _inputs=(tensor1, tensor2), _saved=(tensor1, tensor2))

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """nan, +inf, -inf replaced by nan, posinf (the dtype's max), neginf (its lowest);
        the gradient passes where self is finite (NanToNumBackward0)."""
        if not self._dtype.is_floating_point:
            return self.clone()
        info = np.finfo(self._dtype.np)
        posinf = float(info.max) if posinf is None else posinf
        neginf = float(info.min) if neginf is None else neginf
        if self._dtype is D.float32:   # (torch's unchecked cast: past float32's range, inf)
            nan, posinf, neginf = (float(quiet(np.float32, v)) for v in (nan, posinf, neginf))
        return _record("nan_to_num", DM.nan_to_num, self, nan, posinf, neginf)

    # ---- reductions ------------------------------------------------------------------------
    def amax(self, dim=(), keepdim=False):
        """Maximum over dim (all dims for ()); ties split the gradient (AmaxBackward0)."""
        if type(keepdim) is not bool:
            raise arg_error("amax", True, (dim, keepdim))
        return keep_args(_amax_amin(self, dim, keepdim, True), dim=_dims_given(dim),
                         keepdim=keepdim)

    def amin(self, dim=(), keepdim=False):
        """Minimum over dim (all dims for ()); ties split the gradient (AminBackward0)."""
        if type(keepdim) is not bool:
            raise arg_error("amin", True, (dim, keepdim))
        return keep_args(_amax_amin(self, dim, keepdim, False), dim=_dims_given(dim),
                         keepdim=keepdim)

    def argmax(self, dim=None, keepdim=False):
        """Index of the (first) maximum, over the flattened tensor for dim=None (int64)."""
        if type(keepdim) is not bool:
            raise arg_error("argmax", True, (dim, keepdim))
        return _argext(self, dim, keepdim, np.argmax)

    def argmin(self, dim=None, keepdim=False):
        """Index of the (first) minimum, over the flattened tensor for dim=None (int64)."""
        if type(keepdim) is not bool:
            raise arg_error("argmin", True, (dim, keepdim))
        return _argext(self, dim, keepdim, np.argmin)

    def prod(self, dim=MISSING, keepdim=MISSING, *, dtype=None):
        """Product of all elements (ProdBackward0) or over dim (ProdBackward1); the gradient
        is right with zeros (one: the others' product; several: 0)."""
        err = dim_form_error("prod", True, (), dim, keepdim, dtype=dtype)
        if err is not None:   # (keepdim without dim, or dim=None: its dim is an int)
            raise err
        keepdim = False if keepdim is MISSING else keepdim
        if type(keepdim) is not bool:
            raise arg_error("prod", True, (dim, keepdim))
        if dtype is not None:
            dtype = D.as_dtype(dtype, "prod")
            check_grad_dtype(self, dtype)
        x = self.to(dtype) if dtype is not None else (
            self if self._dtype.is_floating_point else self.to(D.int64))
        if dim is MISSING:
            return _record("prod", DM.prod, x, None, False)
        d = _dim(dim, x.dim(), "prod", "dim", 1)   # (a float tensor refused as torch's)
        # (its body's products keep x's layout; torch's result is row-major)
        return keep_args(_row_major(_record("prod_dim", DM.prod, x, d, bool(keepdim)))
                         if x.dim() else _record("prod_dim", DM.prod, x, None, False),
                         dim=int(dim), keepdim=bool(keepdim))

    def nansum(self, dim=None, keepdim=False, *, dtype=None):
        """Sum over dim treating nan as 0 (NansumBackward0); integer tensors as sum."""
        if type(keepdim) is not bool:
            raise arg_error("nansum", True, (dim, keepdim))
        if dtype is not None:
            dtype = D.as_dtype(dtype, "nansum")
            check_grad_dtype(self, dtype)
        x = self.to(dtype) if dtype is not None else self
        if not x._dtype.is_floating_point:
            return x.sum(dim, keepdim, dtype=dtype)   # (no dtype: int64, as sum's)
        return _record("nansum", DM.nansum, x, _dims("nansum", dim, x.dim()), bool(keepdim))

    def nanmean(self, dim=None, keepdim=False, dtype=None):
        """Mean over dim of the elements that are not nan: nansum / their count."""
        if type(keepdim) is not bool:
            raise arg_error("nanmean", True, (dim, keepdim))
        # (torch checks the input's dtype, then dtype=)
        if not self._dtype.is_floating_point:
            raise RuntimeError(f"nanmean(): expected input to have floating point or complex "
                               f"dtype but got {self._dtype.legacy}")
        if dtype is not None:
            dtype = D.as_dtype(dtype, "nanmean")
            if not dtype.is_floating_point:
                raise RuntimeError(f"nanmean(): could not infer output dtype. Optional dtype "
                                   f"must be either a floating point or complex dtype. Got: "
                                   f"{dtype.legacy}")
        x = self.to(dtype) if dtype is not None else self
        count = (x == x).sum(dim, keepdim)
        return x.nansum(dim, keepdim) / count

    def vdot(self, other):
        """The dot product of two 1-d tensors (VdotBackward0; real tensors: dot's value)."""
        _tensor_operand("vdot", other, 1)
        return _record("vdot", DM.vdot, self, other)   # (dot's checks: torch's vdot's too)

    def dist(self, other, p=2):
        """The p-norm of self - other (DistBackward0)."""
        _tensor_operand("dist", other, 1)
        dt = D.torch_result_type(self, other)
        if not dt.is_floating_point:
            # torch's order: the subtraction's checks, then norm's of the difference's dtype
            errors.check_sub(self, other)
            errors._check_broadcast(self._shape, other._shape)
            raise RuntimeError(f"norm(): input dtype should be either floating point or "
                               f"complex. Got {dt.legacy} instead.")
        if needs_zero_norm(p, self, other):
            with switched_grad(False):
                count = DM.dist(None, self, other, p)
            return _DistZero.apply(count._array(), count.dtype, self, other)
        return keep_tensor_args(_record("dist", DM.dist, self, other, p), other=other, p=p)

    def renorm(self, p, dim, maxnorm):
        """self with each slice along dim whose p-norm exceeds maxnorm scaled to norm maxnorm
        (RenormBackward0)."""
        return _renorm(self, p, dim, maxnorm)

    def ldexp(self, other):
        """self * 2 ** other (LdexpBackward0)."""
        return _ldexp(self, other, 0)

    def renorm_(self, p, dim, maxnorm):
        """renorm in place (RenormBackward0)."""
        return _inplace_decomp(self, Tensor.renorm, p, dim, maxnorm, _clone=False)

    def ldexp_(self, other):
        """self = self * 2 ** other in place (LdexpBackward0)."""
        return _ldexp_inplace(self, other, 0)

    def heaviside_(self, values):
        """heaviside in place (no derivative, as torch: backward raises)."""
        _tensor_operand("heaviside_", values, 1, "values")
        other = values if isinstance(values, Tensor) and values._recorded else None

        def value(arr, _):
            return _heaviside(Tensor._wrap(np.array(arr, copy=True), self._dtype), values,
                              0)._array()
        return self._inplace(value, other, lambda x, _: _heaviside(x, values, 0, "heaviside_"))

    def frexp(self):
        """(mantissa, exponent): self = mantissa * 2 ** exponent, |mantissa| in [0.5, 1)
        (FrexpBackward0; exponent int32, no gradient)."""
        return _frexp(self)

    def heaviside(self, values):
        """0 where self < 0, values where self == 0, 1 where self > 0 (torch has no derivative:
        backward raises its error)."""
        return _heaviside(self, values, 0)

    def cumsum(self, dim, *extra, dtype=None):
        """Cumulative sum along dim (CumsumBackward0)."""
        if extra:   # (dtype is keyword-only: torch's message)
            raise arg_error("cumsum", True, (dim,) + extra)
        if dtype is not None:
            dtype = D.as_dtype(dtype, "cumsum")
        return keep_args(_scan(self, dim, dtype, "cumsum"), dim=int(dim))

    def cumprod(self, dim, *extra, dtype=None):
        """Cumulative product along dim, gradient right with zeros (CumprodBackward0)."""
        if extra:
            raise arg_error("cumprod", True, (dim,) + extra)
        if dtype is not None:
            dtype = D.as_dtype(dtype, "cumprod")
        return keep_args(_scan(self, dim, dtype, "cumprod"), dim=int(dim))

    def cumsum_(self, dim, *, dtype=None):
        if dtype is not None:
            _scan_dtype_in_place(self, D.as_dtype(dtype))
        _no_bool_scan(self, "cumsum")
        def value(arr, _):
            return Tensor.cumsum(Tensor._wrap(np.array(arr, copy=True), self._dtype), dim)._array()
        return self._inplace(value, None, lambda x, _: Tensor.cumsum(x, dim))

    def cumprod_(self, dim, *, dtype=None):
        if dtype is not None:
            _scan_dtype_in_place(self, D.as_dtype(dtype))
        _no_bool_scan(self, "cumprod")
        return _inplace_decomp(self, Tensor.cumprod, dim)

    def var(self, _dim=MISSING, /, unbiased=None, keepdim=MISSING, *, dim=MISSING,
            correction=None):
        """Variance over dim with `correction` (default 1; `unbiased=False` is 0)
        (VarBackward0)."""
        dim, unbiased = moment_dim("var", True, (), _dim, dim, unbiased, keepdim, correction)
        # (keepdim MISSING unless given: the arguments torch's message lists)
        if unbiased is not None and type(unbiased) is not bool or \
                keepdim is not MISSING and type(keepdim) is not bool:
            raise arg_error("var", True, given(dim, unbiased, keepdim))
        return keep_args(moment(self, "var", dim, unbiased, keepdim is not MISSING and keepdim,
                                correction), **_moment_args(dim, unbiased, keepdim, correction))

    def std(self, _dim=MISSING, /, unbiased=None, keepdim=MISSING, *, dim=MISSING,
            correction=None):
        """Standard deviation over dim (StdBackward0); gradient 0 where it is 0, as torch."""
        dim, unbiased = moment_dim("std", True, (), _dim, dim, unbiased, keepdim, correction)
        # (keepdim MISSING unless given: the arguments torch's message lists)
        if unbiased is not None and type(unbiased) is not bool or \
                keepdim is not MISSING and type(keepdim) is not bool:
            raise arg_error("std", True, given(dim, unbiased, keepdim))
        return keep_args(moment(self, "std", dim, unbiased, keepdim is not MISSING and keepdim,
                                correction), **_moment_args(dim, unbiased, keepdim, correction))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """The vector p-norm over dim (all elements for None): linalg.vector_norm; 'fro' over
        more than two dims and 'nuc' are linalg.matrix_norm's (as torch.functional.norm)."""
        if dtype is not None:
            dtype = D.as_dtype(dtype)
        if isinstance(p, str) and not (p == "fro" and (dim is None or isinstance(dim, int)
                                                       or len(dim) <= 2)):
            dims = list(range(self.dim())) if dim is None else [dim] if isinstance(dim, int) \
                else dim
            return KIND_OPS.matrix_norm(self, p, dims, keepdim, dtype=dtype)
        return vector_norm(self, 2 if p is None or p == "fro" else p, dim, keepdim, dtype=dtype)

    # ---- logical and tests -----------------------------------------------------------------
    def logical_or(self, other):
        return _logical("logical_or", self, other)

    def logical_xor(self, other):
        return _logical("logical_xor", self, other)

    def logical_not(self):
        return _compare("eq", self, 0)

    # (| ^ ~ and the bitwise ops: tapegrad/bitwise.py)

    def any(self, dim=None, keepdim=False):
        """Whether any element (along dim) is nonzero (bool)."""
        if type(keepdim) is not bool:
            raise arg_error("any", True, (dim, keepdim))
        return _anyall(self, dim, keepdim, True)

    def all(self, dim=None, keepdim=False):
        """Whether every element (along dim) is nonzero (bool)."""
        if type(keepdim) is not bool:
            raise arg_error("all", True, (dim, keepdim))
        return _anyall(self, dim, keepdim, False)

    def isnan(self):
        return _compare("ne", self, self)

    def isinf(self):
        if not self._dtype.is_floating_point:
            return _compare("ne", self, self)
        return _compare("eq", self.abs(), math.inf)

    def isposinf(self):
        return _compare("eq", self, math.inf)

    def isneginf(self):
        return _compare("eq", self, -math.inf)

    def isfinite(self):
        if not self._dtype.is_floating_point:
            return _compare("eq", self, self)
        return _compare("lt", self.abs(), math.inf)

    def count_nonzero(self, dim=None, *more):
        """The number of nonzero elements (along dim), int64; the method takes its dims spread
        too, as torch's parser (x.count_nonzero(0, 1))."""
        if more:
            dim = (dim,) + more
            err = arg_error("count_nonzero", True, dim)   # (a first that is no int)
            if err is not None:
                raise err
            for k, d in enumerate(more, 2):   # (torch's parser unpacks the rest one by one)
                if not _takes_int_item(d):
                    raise TypeError(f"count_nonzero(): argument 'dim' failed to unpack the "
                                    f"object at pos {k} with error \"type must be tuple of "
                                    f"ints,but got {errors.type_name(d)}\"")
        return _compare("ne", self, 0).sum(_dims("count_nonzero", dim, self.dim()))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other):
        return equal(self, other)


tensor_methods(type("_MathUnaryMethods", (), _methods()))


def _alias(target, alias):
    """A method calling `target` (looked up per call: comparisons are defined after this
    module, in tensor_methods.py), its argument errors naming `alias`."""
    def method(self, *args, **kwargs):
        try:
            return getattr(self, target)(*args, **kwargs)
        except TypeError as e:
            raise renamed(e, target, alias) from None
    method.__name__ = alias
    return method


tensor_methods(type("_MathAliases", (), {
    name: _alias(target, name) for alias, target in _ALIASES.items()
    for name, target in ((alias, target), (alias + "_", target + "_"))
    if not hasattr(Tensor, name) and not (target.endswith("_") and target[:-1] in
                                          ("gt_", "ge_", "lt_", "le_", "ne_"))}))


def _number_bounds(x, name, *bounds):
    """clamp's number bounds as torch's scalar kernels take them: by its checked conversion
    into x's dtype (int bounds of an integer tensor, float32's range: 300 for uint8 raises),
    none for a bool tensor with bool bounds (tensors and None as they are)."""
    dt = x._dtype
    if dt is D.float64:
        return bounds   # (what the conversions below give: every bound as it is)
    if dt is D.float32 and all(
            not isinstance(b, float) or -D.F32_MAX <= b <= D.F32_MAX for b in bounds):
        # in float32, as torch's kernels take them: the gradient's `a <= b` at a bound such
        # as 0.18 then compares the value with the bound it was clamped to
        return tuple(_f32_bound(b) for b in bounds)
    if dt is D.bool_ and all(b is None or isinstance(b, bool) for b in bounds):
        raise NotImplementedError(f"\"{name}_scalar_cpu\" not implemented for 'Bool'")
    # (a float bound of an integer tensor: in the default dtype, the result's)
    return tuple(D.checked(b, dt) if isinstance(b, int) and not dt.is_floating_point or
                 isinstance(b, float) and dt is D.float32 else
                 D.checked(b, D.get_default_dtype()) if isinstance(b, float) and
                 not dt.is_floating_point else b
                 for b in bounds)


def _logical(name, x, y):
    _tensor_operand(name, y, 1)
    return _compare(name, x, y)


def _anyall(x, dim, keepdim, is_any):
    # (dim=None: every dim, keepdim honoured; dim=() or []: no dim, unlike sum's: torch's
    # all/any take an int[]? dim, which an empty list leaves "given")
    dims = tuple(range(x.dim())) if dim is None else \
        () if isinstance(dim, (tuple, list)) and len(dim) == 0 else \
        _reduce_dims("any" if is_any else "all", dim, x.dim())
    nz = _compare("ne", x, 0)
    if _tracing(x) is None:   # eager: one numpy reduction
        arr = nz._array()
        red = layouts.reduced(arr, (arr.any if is_any else arr.all)(axis=dims,
                                                                    keepdims=bool(keepdim)))
        if x._dtype is D.uint8:   # (torch keeps uint8 for a uint8 input: 0 or 1)
            return Tensor._wrap(np.asarray(red, np.uint8), D.uint8)
        return Tensor._wrap(np.asarray(red), D.bool_)
    if not dims:   # (sum's dims=() would reduce every dim)
        r = nz
    else:
        n = nz.sum(dims, keepdim=keepdim)
        r = n > 0 if is_any else n == math.prod(x.shape[d] for d in dims)
    return r.to(D.uint8) if x._dtype is D.uint8 else r


def _value_first(name, value, tensor1, legacy):
    """torch's deprecated `name(Number value, Tensor tensor1, Tensor tensor2)`: (tensor1,
    tensor2, value); another extra positional argument is a TypeError."""
    if len(legacy) != 1 or not isinstance(tensor1, Tensor) or not isinstance(legacy[0], Tensor):
        raise TypeError(f"{name}() takes 2 positional arguments but {2 + len(legacy)} were "
                        f"given")
    return errors.value_first(name, value, tensor1, legacy[0])


_LERP_ENTRY = OPS["lerp_by_number"].code
assert OPS["lerp_by_number"].saves == ()


# NOTE: recorded eagerly, lerp with a number weight of two operands of one shape and float
# dtype is one entry of the lerp kind (kinds/lerp.py), its VJP torch's g * (1 - w), g * w;
# its value numpy's two-sided formula, the no-grad path's.  While tracing, and for a tensor
# weight or broadcast operands, the row's body (DM.lerp).
def _lerp_entry(x, end, weight):
    """lerp(x, end, number weight) of x, end (one shape, one dtype, float32 or float64, two
    or more elements, one of them recording) as one entry of the lerp kind (imm: weight;
    params [f32])."""
    token = ERR_SET(QUIET)
    try:
        value = np.asarray(DM.lerp_number(x._array(), end._array(), weight), x._dtype.np)
    finally:
        ERR_RESET(token)
    tape = _tape_for(x, end)
    if tape is None:
        return Tensor._wrap(value, x._dtype)
    a = input_node(tape, x) if x._recorded else const_operand(tape, x, x._array())
    b = input_node(tape, end) if end._recorded else const_operand(tape, end, end._array())
    t = _result(value, x._dtype, tape, _LERP_ENTRY, a, b, float(weight))
    tape.add_params(t._node, [1 if x._dtype is D.float32 else 0])
    return t


_ADDC_TERMS = (OPS["addcmul_term"].code, OPS["addcdiv_term"].code)
assert all(OPS[n].saves == ("a", "b") for n in ("addcmul_term", "addcdiv_term"))


def _addc_term(t1, t2, value, div):
    """addcmul's (value * t1) * t2 or (div) addcdiv's (value * t1) / t2 of t1, t2 (one shape,
    float32 or float64) as one entry of the addc kind (kinds/addc.py; imm value in the dtype,
    params [div, f32]), its value numpy's in the dtype: the term the rows' eager bodies add to
    self (views.KIND_OPS.addc_term)."""
    dt = t1._dtype
    a_, b_ = t1._array(), t2._array()
    token = ERR_SET(QUIET)
    try:
        c = dt.np.type(value)   # (torch's Scalar in the dtype)
        s = a_ * c
        value_ = np.asarray(s / b_ if div else s * b_, dt.np)
    finally:
        ERR_RESET(token)
    tape = _tape_for(t1, t2)
    if tape is None:
        return Tensor._wrap(value_, dt)
    for t in (t1, t2):
        if not t._recorded:   # (a constant the entry saves: not an inference tensor, as torch)
            refuse_inference_save(t)
    a = input_node(tape, t1) if t1._recorded else const_operand(tape, t1, a_)
    b = input_node(tape, t2) if t2._recorded else const_operand(tape, t2, b_)
    t = _result(value_, dt, tape, _ADDC_TERMS[div], a, b, float(c))
    tape.add_params(t._node, [1 if div else 0, 1 if dt is D.float32 else 0])
    tape.save(a, a_)
    tape.save(b, b_)
    return t


KIND_OPS.addc_term = _addc_term


def _amax_amin(x, dim, keepdim, is_max):
    name = "amax" if is_max else "amin"
    if x.numel() == 0:
        # torch checks an empty input's dims first, one by one as given (before duplicates)
        if dim is None or dim == () or dim == []:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               f"input.numel() == 0. Specify the reduction dim with the 'dim' "
                               f"argument.")
        for d in dim if isinstance(dim, (tuple, list)) else (dim,):
            if hasattr(d, "__index__") and x._shape[_dim(d.__index__(), x.dim())] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero "
                                 f"size.")
    dims = _dims(name, dim, x.dim())
    if not x._dtype.is_floating_point or not (x._recorded and is_grad_enabled()):
        return _numpy_extreme(x, dims, keepdim, is_max)
    if _tracing(x) is None and x._dtype in _FLOAT_ARRAY and x.numel() > 1:
        return _extreme_entry(x, dims, bool(keepdim), is_max)
    return _record(name, DM.extreme, x, dims, bool(keepdim), is_max, False)


# (the extreme kind's rows by [rule][is_max]: amin/amax, then min()/max()'s even split)
_EXTREME_CODES = ((OPS["amin_slices"].code, OPS["amax_slices"].code),
                  (OPS["min_all_even"].code, OPS["max_all_even"].code))
assert {OPS[n].saves for n in ("amax_slices", "amin_slices", "max_all_even", "min_all_even")} \
    == {("a", "out")}


# NOTE: recorded eagerly, amax/amin and max()/min() are one entry of the extreme kind
# (kinds/extreme.py), its VJP torch's: grad / count * mask for amax (ties, inf/nan incoming
# gradients, nan slices), evenly_distribute_backward for max() (`even`: a nan result's hits
# are the nan elements, +0.0 off the hits); its value numpy's reduction, the no-grad path's.
# While tracing, the rows' bodies (DM.extreme), whose entries a replay re-runs.
def _extreme_entry(x, dims, keepdim, is_max, even=False):
    """amax (is_max) / amin of float32/float64 x (two or more elements) over dims, or
    max() / min() over all its elements (even), recorded as one entry of the extreme kind
    (params: the keepdim shape, then the rule; imm 1.0 for a maximum)."""
    out = _numpy_extreme(x, dims, keepdim, is_max)
    tape = _tape_for(x, None)
    if tape is None:
        return out
    refuse_inference_save(x)    # (the entry saves self, as torch's node)
    xa = x._array()
    a = input_node(tape, x)
    t = _result(out._array(), x._dtype, tape, _EXTREME_CODES[even][is_max], a, -1,
                1.0 if is_max else 0.0)
    tape.add_params(t._node, [1 if d in dims else k for d, k in enumerate(x._shape)]
                    + [1 if even else 0])
    tape.save(a, xa)
    tape.save(t._node, out._v)
    return t


def _extreme_face(x, dims, is_max):
    """The extreme kind's tensor face (views.KIND_OPS.extreme): amax / amin of x over dims,
    keepdim."""
    return (x.amax if is_max else x.amin)(dims, keepdim=True)


KIND_OPS.extreme = _extreme_face


# NOTE: where every slice has one extreme (no tie, no nan), torch's even split of the gradient
# of max()/min() between tied extremes gives it all to that element: the extreme is then one
# gather of its position (~15 us, where the tie-splitting body records ~15 entries: ~100 us),
# its value exact (a zero's sign too), and an inf incoming gradient 0 at the other elements,
# as torch's masked_fill.  Of max()/min() that leaves one-element, float16 and bfloat16
# operands (float32/float64 ones of two or more elements are an extreme entry).  Not while
# tracing: a replay's ties are not known now.
def _sole_extremes(x, dims, keepdim, is_max):
    """Flat positions of the extremes of x over dims (the result's shape) when each slice has
    exactly one and none is nan, else None (also while tracing for replay)."""
    if _tracing(x) is not None:
        return None
    arr = x._array()
    nd = arr.ndim
    if dims and dims == tuple(range(dims[0], dims[-1] + 1)) and _use_extremes(x, arr):
        _, pos, sole, _ = first_extremes(arr, dims[0], dims[-1], is_max)
        if not sole:
            return None
        return pos.reshape([1 if d in dims else arr.shape[d] for d in range(nd)] if keepdim
                           else [arr.shape[d] for d in range(nd) if d not in dims])
    kept = [d for d in range(nd) if d not in dims]
    order = kept + list(dims)
    lead = tuple(arr.shape[d] for d in kept)
    span = (math.prod(arr.shape[d] for d in dims),)   # (not -1: ambiguous when lead is empty)
    rows = np.transpose(arr, order).reshape(lead + span)
    top = rows.max(-1, keepdims=True) if is_max else rows.min(-1, keepdims=True)
    hits = rows == top          # (a nan extreme: no hit in its slice)
    if not (np.count_nonzero(hits) == top.size and hits.any(-1).all()):
        return None
    at = hits.argmax(-1)
    flat = np.transpose(np.arange(arr.size, dtype=np.int64).reshape(arr.shape), order)
    pos = np.take_along_axis(flat.reshape(lead + span), at[..., None], -1)
    return pos.reshape([1 if d in dims else arr.shape[d] for d in range(nd)] if keepdim
                       else lead)


def _picked(T, x, pos):
    """x's elements at flat positions pos: the body of max/min without ties."""
    return _gather("max_dim", x, pos)


# NOTE: where nothing records, the extreme is numpy's reduction: the value of DM.extreme's
# body (nan propagating, a zero's sign kept: max of [-0.0, -1.0] is -0.0, as torch's), 40x
# faster.
def _numpy_extreme(x, dims, keepdim, is_max):
    """max/min of an integer or bool tensor (never differentiable), or of a float tensor
    when nothing records (x needs no gradient, or grad mode is off): numpy's.  While
    recording, a traced integer x (a mask, a cast) is guarded: the result is a constant of
    the tape."""
    if not x._dtype.is_floating_point:
        _bake(x, "guard_value")
    arr = x._array()
    red = layouts.reduced(arr, (np.amax if is_max else np.amin)(arr, axis=dims,
                                                                keepdims=bool(keepdim)))
    return Tensor._wrap(np.asarray(red, arr.dtype), x._dtype)


def _argext(x, dim, keepdim, pick):
    if x._dtype is D.bool_:
        raise RuntimeError(f"{pick.__name__}(): does not support bool input")
    if dim is not None:
        _int_arg(dim, pick.__name__, "dim")
    if x.numel() == 0:
        if dim is None:
            raise IndexError(f"{pick.__name__}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0.")
        d = _dim(dim, x.dim())
        if x._shape[d] == 0:
            raise IndexError(f"{pick.__name__}(): Expected reduction dim {d} to have non-zero "
                             f"size.")
    if _tracing(x) is not None and x._dtype.is_floating_point and x.numel():
        # (opsgaps) while recording, the position comes from max/min(dim), whose guard makes
        # a replay check it is still the first extreme (BranchChanged), not bake it silently
        flat = x.reshape(-1) if dim is None else x
        ext = flat.max if pick is np.argmax else flat.min
        idx = ext(0 if dim is None else dim, keepdim=bool(keepdim) and dim is not None).indices
        return idx.reshape((1,) * x.dim()) if dim is None and keepdim else idx
    _bake(x, "guard_value")   # (a traced integer x: its position is a constant of the tape)
    arr = x._array()
    if dim is None:
        idx = np.asarray(pick(arr.reshape(-1)), np.int64)
        if keepdim:
            idx = idx.reshape((1,) * x.dim())
        return Tensor._wrap(idx, D.int64)
    d = _dim(dim, x.dim())
    a = arr if x.dim() else arr.reshape(1)
    idx = pick(a, axis=d, keepdims=bool(keepdim) and x.dim() > 0)
    return Tensor._wrap(np.asarray(idx, np.int64).reshape(
        idx.shape if x.dim() else ()), D.int64)


def max_min(x, dim, keepdim, is_max):
    """max()/min() over all elements (MaxBackward1/MinBackward1, ties split evenly, nan is
    the extreme), or max(x, other) = maximum (MaximumBackward0)."""
    if isinstance(dim, Tensor):
        return x.maximum(dim) if is_max else x.minimum(dim)
    if x.numel() == 0:
        raise RuntimeError(f"{'max' if is_max else 'min'}(): Expected reduction dim to be "
                           f"specified for input.numel() == 0. Specify the reduction dim with "
                           f"the 'dim' argument.")
    dims = tuple(range(x.dim()))
    if not x._dtype.is_floating_point or not (x._recorded and is_grad_enabled()):
        return _numpy_extreme(x, dims, False, is_max)
    if _tracing(x) is None and x._dtype in _FLOAT_ARRAY and x.numel() > 1:
        return _extreme_entry(x, dims, False, is_max, True)
    name = "max_all" if is_max else "min_all"
    pos = _sole_extremes(x, dims, False, is_max)
    if pos is not None:
        return _record(name, _picked, x, pos)
    return _record(name, DM.extreme, x, dims, False, is_max, True)


def _no_bool_scan(x, name):
    """torch's error for a scan written into a bool tensor (cumsum_ of a mask: its Long
    result was cast back to bools)."""
    if x._dtype is D.bool_:
        raise NotImplementedError(f"\"{name}_out_cpu\" not implemented for 'Bool'")


def _scan(x, dim, dtype, name):
    d = _dim(_int_arg(dim, name, "dim").__index__(), x.dim())
    if dtype is D.bool_:
        raise NotImplementedError(f"\"{name}_out_cpu\" not implemented for 'Bool'")
    check_grad_dtype(x, dtype)
    if dtype is not None:
        x = x.to(dtype)
    elif not x._dtype.is_floating_point:
        x = x.to(D.int64)
    if name == "cumsum":
        if x.numel() == 1:
            return _cumsum(x, None)
        params = _SCAN_PARAMS.get((x._shape, d))
        if params is None:
            params = _scan_params(x._shape, d)
        return _cumsum(x, params, True)
    if x._dtype in _FLOAT_ARRAY and x.dim() and x._shape[d] > 1 and _tracing(x) is None:
        return _cumprod_entry(x, d)
    return _record(name, DM.scan, x, d, name == "cumprod")


_CUMPROD_ENTRY = OPS["cumprod_running"].code
assert OPS["cumprod_running"].saves == ("a", "out")


# NOTE: cumprod of a float32/float64 tensor (its dim of two or more elements, not traced) is
# one entry of the cumprod kind (kinds/cumprod.py): torch's values (sequential products in
# float64) and its cumprod_backward, masked per slice at the first zero; while tracing, the
# row's body (DM.scan), whose entries a replay re-runs.
def _running_product(x):
    """The running product of x along its last dim as the row cumprod's body records it (a
    scan of products, the product rule's derivatives of every order; views.KIND_OPS)."""
    return DM.scan(KIND_OPS, x, x.dim() - 1, True)


KIND_OPS.running_product = _running_product


def _cumprod_entry(x, d):
    """cumprod of x along dim d as one entry of the cumprod kind (params [outer, m, inner])."""
    rows = list(cumprod_kind.block(x._shape, d))
    arr = x._array()
    out = cumprod_kind.forward(arr.reshape(rows)).reshape(arr.shape)
    tape = _tape_for(x, None) if x._recorded and is_grad_enabled() else None
    if tape is None:
        return Tensor._wrap(out, x._dtype)
    refuse_inference_save(x)    # (the entry saves self and its result, as torch's node)
    a = input_node(tape, x)
    t = _result(out, x._dtype, tape, _CUMPROD_ENTRY, a, -1, 0.0)
    tape.add_params(t._node, rows)
    tape.save(a, arr)
    tape.save(t._node, out)
    return t


_CUMSUM = OPS["cumsum"].code
_SCAN_PARAMS = {}   # (shape, d) -> a cumsum entry's params [outer, m, inner, 0] (ints)


def _scan_params(shape, d):
    if len(_SCAN_PARAMS) > 4096:
        _SCAN_PARAMS.clear()
    params = _SCAN_PARAMS[shape, d] = [*scan_kind.block(shape, d), 0]
    return params


def _cumsum(x, params, ints=False):
    """One scan entry (CumsumBackward0) on x: params [outer, m, inner, reverse], None for
    one element (kinds/scan.py); `ints`: a list of Python ints (_scan's) to use as it is."""
    if params is not None and not ints:
        params = [int(v) for v in params]
    arr = x._array()
    if params and arr.dtype.type in _EXTREMES_DTYPES and (
            x._recorded or module_loaded("tapegrad._sums")):
        # (a float one: tapegrad._sums' loop, the same bits as scan_kind.forward's numpy
        # calls, where numba is loaded anyway: for the backward of a recorded x, or already)
        out = np.empty(arr.shape, arr.dtype)
        _sums().running_sums(arr.reshape(params[:3]), out.reshape(params[:3]), params[3])
    else:
        # (torch's 0-d cumsum is a copy: a -0.0 stays)
        out = scan_kind.forward(arr.reshape(params[:3] if params else (1, 1, 1)),
                                params[3] if params else 0).reshape(arr.shape) if arr.ndim \
            else arr.copy()
    tape = _tape_of(x)
    if tape is None:
        return Tensor._wrap(out, x._dtype)
    t = _result(out, x._dtype, tape, _CUMSUM, input_node(tape, x), -1, 0.0)
    if params:
        tape.add_params(t._node, params)
    return t


# the scan kind's tensor faces record their entries through this (create_graph, replay)
KIND_OPS.scan = _cumsum


def _renorm(x, p, dim, maxnorm):
    for name, c in (("p", p), ("maxnorm", maxnorm)):
        if isinstance(c, complex):
            raise RuntimeError(f"renorm: {name} must be real-valued")
        if name == "p" and not float(c) > 0:
            raise RuntimeError("renorm: non-positive-norm not supported")
        if name == "maxnorm" and not float(c) >= 0:
            raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {float(c):g}")
    if x.dim() < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {x.dim()} "
                           f"dimensions")
    d = _dim(dim, x.dim())
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {x._dtype.legacy}")
    dims = tuple(i for i in range(x.dim()) if i != d)
    # (torch's kernel allocates a contiguous output, even of a transpose)
    return _row_major(_record("renorm", DM.renorm, x, float(p), dims, float(maxnorm)))


def _ldexp(x, other, pos):
    """(pos: the position of x's argument: 1 for the function, 0 for the method)"""
    _tensor_operand("ldexp", other, pos + 1)
    if other._dtype is D.bool_ and x._dtype.is_floating_point:   # (torch's float kernel)
        raise NotImplementedError("\"ldexp_cpu_exp\" not implemented for 'Bool'")
    # the pair's promoted dtype, an integral one as the default float (torch's: a float64
    # zero-dim x with an int64 vector other is float64, not pow(2.0, other)'s float32)
    dt = D.result_type((x._dtype, 2 if x._shape else 1),
                       (other._dtype, 2 if other._shape else 1))
    if not dt.is_floating_point:
        dt = D.get_default_dtype()
    try:
        np.broadcast_shapes(x._shape, other._shape)
    except ValueError:
        errors._check_broadcast(x._shape, other._shape)
    return _record("ldexp", DM.ldexp, x, other, dt, edges=(x, other))


def _ldexp_inplace(x, other, pos):
    _tensor_operand("ldexp_", other, pos + 1)
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"ldexp can't be cast to the desired output type {x._dtype.legacy}")
    if other._dtype is D.bool_:
        raise NotImplementedError("\"ldexp_cpu_exp\" not implemented for 'Bool'")

    def into(t, e):   # (computed in self's dtype, the result's in torch's in-place ldexp_)
        return _record("ldexp", DM.ldexp, t, e, t._dtype, edges=(t, e))
    return _inplace_decomp(x, into, other, _clone=False, _inputs=(other,))


def ldexp_(input, other):
    """input = input * 2 ** other, in place (LdexpBackward0)."""
    _tensor_operand("ldexp_", input, 1, "input")
    return _ldexp_inplace(input, other, 1)


def ldexp(input, other):
    """input * 2 ** other (LdexpBackward0)."""
    _tensor_operand("ldexp", input, 1, "input")
    return _ldexp(input, other, 1)


def _frexp(x):
    if not x._dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa, exponent = np.frexp(x._array())
    exponent = Tensor._wrap(np.asarray(exponent, np.int32), D.int32)
    if not x._recorded:
        return return_types.frexp((Tensor._wrap(np.asarray(mantissa, x._dtype.np), x._dtype),
                                   exponent))
    mantissa = _record("frexp", DM.frexp, x, exponent)
    if _tracing(mantissa) is not None:
        _guard_frexp(x, mantissa)
    return return_types.frexp((mantissa, exponent))


def _guard_frexp(x, m):
    """While recording: the exponents found now still put each finite nonzero mantissa in
    [0.5, 1) (and leave 0, inf and nan as they are), or a replay raises BranchChanged."""
    a = m.abs()
    normal = where(a >= 0.5, a < 1.0, a >= 0.5)
    special = where(x == x, m == x, x != x)
    ok = where(where(x != 0, x.abs() < math.inf, x != 0), normal, special)
    bool(ok.sum() == ok.numel())


class _HeavisideNotImplemented(Function):
    """heaviside's node while a gradient is recorded: torch implements no derivative for
    it, so backward raises torch's error.  Its edges are the inputs that need a gradient."""

    @staticmethod
    def forward(ctx, value, dtype, op, *inputs):
        ctx.op = op
        return Tensor._wrap(value, dtype)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(f"derivative for aten::{ctx.op} is not implemented")


as_native_node(_HeavisideNotImplemented, "NotImplemented", "torch::autograd::NotImplemented",
               raises=True)


def _heaviside(x, values, pos, op="heaviside"):
    _tensor_operand("heaviside", values, pos + 1, "values")
    if x._dtype is not values._dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different "
                           "dtypes.")
    try:
        shape = np.broadcast_shapes(x._shape, values._shape)
    except ValueError:
        errors._check_broadcast(x._shape, values._shape)
    a, v = x._array(), values._array()
    out = np.array(np.broadcast_to(np.where(a == 0, v, a > 0), shape), x._dtype.np)
    grads = [t for t in (x, values) if t.requires_grad]
    if not grads or not is_grad_enabled():
        return Tensor._wrap(out, x._dtype)
    return _HeavisideNotImplemented.apply(out, x._dtype, op, *grads)


def heaviside(input, values):
    """0 where input < 0, values where input == 0, 1 where input > 0 (no derivative, as
    torch: backward raises)."""
    _tensor_operand("heaviside", input, 1, "input")
    return _heaviside(input, values, 1)


_MEAN_DIM, _SUM_DIM, _SQ_DEVIATION, _MULTIPLY, _DIVIDE, _SQRT0 = (OPS[n].code for n in (
    "mean_dim", "sum_dim", "sq_deviation", "mul", "div", "sqrt0"))
_MULTIPLY_FWD = _BIN_FAST[_MULTIPLY][0]
_MOMENT_ROWS = {"var": OPS["var"].code, "std": OPS["std"].code}


def _moment_pass(x, name, dims, corr, keepdim, means):
    """var / std of x over `dims` in one frame: the entries decomps_math.var (and std's sqrt0)
    records with `exact`, the same values, one group shown as VarBackward0 / StdBackward0
    (tests/test_mathops.py compares the tapes of both): the mean over dims (keepdim) by the
    body's numpy call, the squared deviations (the row sq_deviation), their sum over dims, the
    quotient by max(N - correction, 0) and std's sqrt0, the last three holding torch's values
    (ndops.torch_moments, one Numba pass, which leaves the squared deviations uncomputed: no
    backward reads them).  A one-element result (x.std()) takes its mean and sum as
    one-element entries and its quotient and sqrt0 by the body's own calls.  `means`: as the
    body's (var_mean).  None outside its case: a float32/float64 array-backed plain tensor of
    two or more elements per result, not recording for replay.  Without a tape the values
    only."""
    tx = type(x)
    dt = x._dtype
    xa = x._v
    if (tx is not Tensor and tx is not Parameter or dt is not D.float32 and dt is not D.float64
            or type(xa) is not np.ndarray or not dims):
        return None
    shape = x._shape
    count = 1
    for d in dims:
        count *= shape[d]
    if count < 2:
        return None
    tape = _tape_for(x, None) if x._recorded else None
    if tape is not None and tape.recording:
        return None      # (a replay: the body's entries, traced)
    dtn = dt.np
    divisor = max(count - corr, 0)
    size = xa.size
    if size >= _FAST_SUM_MIN and len(dims) == len(shape) and xa.flags.c_contiguous:
        # (_reduce's long sum: its float64 total's quotient, rounded once)
        m = np.full((1,) * len(shape), _sums().total(xa.reshape(-1)) / size, dtn)
    else:
        token = ERR_SET(QUIET)
        try:   # (the body's call: _reduce's _np_mean)
            m = np.asarray(_np_mean(xa, dims, True, dtn), dtype=dtn)
        finally:
            ERR_RESET(token)
    sm, q, out, mu = torch_moments(xa, dims, corr, keepdim, means is not None, m)
    if means is not None:
        means.append(mu)
    one = type(sm) is float or sm.size == 1
    if one:   # (the result's shape: numbers from torch_moments' one-result route)
        rshape = tuple(1 if d in dims else k for d, k in enumerate(shape)) if keepdim else \
            tuple(k for d, k in enumerate(shape) if d not in dims)
    if tape is None:
        v = out if name == "std" else q
        if type(v) is float:
            t = _new()
            t._v, t._dtype, t._shape, t._tape, t._recorded = v, dt, rshape, None, False
            return t
        return Tensor._wrap(v, dt)
    kshape = [1 if d in dims else k for d, k in enumerate(shape)]
    start = tape.n
    a = input_node(tape, x)
    n_m = tape.push(_MEAN_DIM, a, -1, 1.0 / count, float(m.reshape(-1)[0]), None) if one else \
        tape.push_nd(_MEAN_DIM, a, -1, 1.0 / count, m.shape, m.size)
    tape.nds.add_param_ints(n_m, kshape)
    n_sq = tape.push_nd(_SQ_DEVIATION, a, n_m, 0.0, shape, size)
    tape.save(a, xa)
    tape.save(n_m, m)
    if one:
        v = sm if type(sm) is float else float(sm.reshape(-1)[0])
        n_s = tape.push(_SUM_DIM, n_sq, -1, 1.0, v, None)
        tape.nds.add_param_ints(n_s, kshape)
        if reduce_kind.runs_on_host(size, 1):   # (_reduce's, for the mean and the sum)
            tape.set_host(n_m)
            tape.set_host(n_s)
        s_t = _new()
        s_t._v, s_t._dtype, s_t._shape, s_t._tape, s_t._node, s_t._recorded = (
            v, dt, rshape, tape, n_s, True)
        t = _moment_tail(s_t, name, divisor, q, out)
        members = (n_m, n_sq, n_s) + tuple(range(n_s + 1, t._node + 1))
        groups.mark_members(tape, start, t._node, members, _MOMENT_ROWS[name])
        return t
    n_s = tape.push_nd(_SUM_DIM, n_sq, -1, 1.0, sm.shape, sm.size)
    tape.nds.add_param_ints(n_s, kshape)
    n = tape.push_nd(_DIVIDE, n_s, -1, float(divisor), q.shape, q.size)
    tape.save(n_s, sm)
    members = (n_m, n_sq, n_s, n)
    if name == "std":
        n = tape.push_nd(_SQRT0, n, -1, 0.0, out.shape, out.size)
        tape.save(n, out)
        members += (n,)
    else:
        out = q
    groups.mark_members(tape, start, n, members, _MOMENT_ROWS[name])
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._node, t._recorded = out, dt, out.shape, tape, n, True
    return t


_SUM, _NORM_SQRT, _VECTOR_NORM = (OPS[n].code for n in ("sum", "norm_sqrt", "vector_norm"))
_NORM_SQRT_FWD = _UN_ROW[_NORM_SQRT][0]


def _norm2_pass(x):
    """The 2-norm of every element of x (x.norm(), vector_norm(x)) in one frame: the entries
    decomps_math.vector_norm records, the same values by the same numpy calls: x * x
    (_binary's entry), its sum (_reduce's one-element entry), then the body's own norm_sqrt
    call, one group shown as LinalgVectorNormBackward0.  None outside its case: a recorded
    float32/float64 array-backed plain tensor of 2 to _FAST_SUM_MIN elements on the open
    tape, not recording for replay, no inference tensor made (record's check)."""
    tape = STATE.tape
    xa = x._v
    if x._tape is not tape or tape.sealed or tape.recording or INFERENCE_MADE[0] or \
            type(xa) is not np.ndarray or not 1 < xa.size < _FAST_SUM_MIN:
        return None
    dt = x._dtype
    dtn = dt.np
    shape = x._shape
    token = ERR_SET(QUIET)
    try:   # (_binary's forward, _reduce's fast path's sum)
        sq = _MULTIPLY_FWD(xa, xa)
        red = _add_reduce(sq, _ALL_DIMS[len(shape)], dtn, None, False)
    finally:
        ERR_RESET(token)
    start = tape.n
    a = x._node
    n_sq = tape.push_nd(_MULTIPLY, a, a, 0.0, shape, sq.size)
    _, sa, sb, so = _BIN_FAST[_MULTIPLY]
    for saved in (sa, sb):
        if saved:
            tape.save(a, xa)
    if so:
        tape.save(n_sq, sq)
    v = float(red)
    s = _new()
    s._v, s._dtype, s._shape, s._tape, s._recorded = v, dt, (), tape, True
    s._node = e = tape.push(_SUM, n_sq, -1, 1.0, v, None)
    tape.nd_streams().add_param_row(e, _ONES_ROWS[len(shape)])
    out = _unary(_NORM_SQRT, s)
    groups.mark(tape, start, out._node, _VECTOR_NORM)
    return out


def _norm2_plain(x):
    """_norm2_pass's values where nothing records (the norm of data, of a gradient, of a
    parameter under no_grad): the body's x * x, its sum and norm_sqrt by the same numpy
    calls (the sum a scalar of x's dtype, the 0-d array's value), no tensor for the
    intermediates (32x16 float32: ~10 -> ~4 us; a result made in inference mode is an
    inference tensor by _new, as _wrap's).  None outside its case: an array-backed x of 2 to
    _FAST_SUM_MIN elements."""
    xa = x._v
    if type(xa) is not np.ndarray or not 1 < xa.size < _FAST_SUM_MIN:
        return None
    token = ERR_SET(QUIET)
    try:   # (_binary's forward, _reduce's fast path's sum, _unary's norm_sqrt face on it)
        red = _add_reduce(_MULTIPLY_FWD(xa, xa), _ALL_DIMS[len(x._shape)], x._dtype.np,
                          None, False)
        v = float(_NORM_SQRT_FWD(red, None))   # (a scalar of red's dtype, as the array's)
    finally:
        ERR_RESET(token)
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._recorded = v, x._dtype, (), None, False
    return t


def _moment_tail(s, name, divisor, var, std):
    """The body's last steps on a one-element sum s, by its own calls: the quotient (the
    scalar fast path) and std's sqrt0, holding torch's values var and std."""
    q = set_entry_value(s / divisor, var)
    return set_entry_value(DM._sqrt0(q), std) if name == "std" else q


def moment_dim(name, method, lead, first, dim, unbiased, keepdim, correction):
    """(dim, unbiased) of var / std (var_mean / std_mean: not `method`, `lead` its input) as
    torch's parser binds its three forms: a bool given first (`first`) is the (bool unbiased)
    form's; one given as dim=, a dim given both ways, or unbiased with correction matches
    none of them (its TypeError)."""
    if first is MISSING:
        if dim.__class__ is not bool and (unbiased is None or correction is None):
            return None if dim is MISSING else dim, unbiased
    elif dim is MISSING:
        if first.__class__ is bool:
            if unbiased is None and keepdim is MISSING and correction is None:
                return None, first
        elif unbiased is None or correction is None:
            return first, unbiased
    # (the message's arguments as given, read positionally after a first one: the usual call)
    args, kwargs = lead, {}
    for k, v in (("first", first), ("unbiased", unbiased), ("keepdim", keepdim)):
        if v is not MISSING and v is not None:
            if len(args) == len(lead) + ("first", "unbiased", "keepdim").index(k):
                args += (v,)
            else:
                kwargs[k] = v
    kwargs.update((k, v) for k, v in (("dim", dim), ("correction", correction))
                  if v is not MISSING and v is not None)
    raise arg_error(name, method, args, kwargs)


def moment(x, name, dim, unbiased, keepdim, correction, warn_as=None, means=None):
    """var or std (`name`) of x as torch's Tensor.var/std (dim and unbiased as moment_dim
    binds them); `warn_as`: the function torch's warning names (var_mean, std_mean, whose
    route it takes: `means`, a list torch's value of the mean is appended to)."""
    warn_as = warn_as or name
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"{'std and var' if name in ('std', 'var') else name} only support "
                           f"floating point and complex dtypes")
    corr = 1 if correction is None and unbiased is None else (
        correction if correction is not None else int(bool(unbiased)))
    dims = _dims(name, dim, x.dim())
    keep = bool(keepdim)   # (torch 2.x: keepdim applies to dim=None too)
    count = math.prod(x.shape[d] for d in dims) if x.shape else 1
    if count - corr <= 0:
        import warnings
        warnings.warn(f"{warn_as}(): degrees of freedom is <= 0. Correction should be strictly "
                      f"less than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=errors.user_stacklevel())
    # torch's gradient where it is not the primitives' (decomps_math.var)
    if dim is None or not x.shape:
        slope = "whole" if count - corr <= 0 else None
    else:
        n = 1 if isinstance(dim, (tuple, list)) and not dim else count
        slope = n - corr if n - corr <= 0 or n != count else None
    if slope is None:
        out = _moment_pass(x, name, dims, corr, keep, means)
        if out is not None:
            return out
    # (torch's values where eager; a replay recomputes the decomposition's: docs/semantics.md)
    exact = (x._dtype is D.float32 or x._dtype is D.float64) and _tracing(x) is None and \
        type(x._v) in (np.ndarray, float)
    return _record(name, DM.std if name == "std" else DM.var, x, dims, corr, keep, slope,
                   exact, means if exact else None)


# ---- module functions ------------------------------------------------------------------------
def polygamma(n, input):
    """The n-th derivative of digamma at input (PolygammaBackward0; no gradient in n)."""
    _tensor_operand("polygamma", input, 2, "input")
    n = _int_arg(n, "polygamma", "n", 1).__index__()
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return _bin("polygamma", float(n), _floating(input))


def vector_norm(input, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """linalg.vector_norm: (sum |x|^ord)^(1/ord) over dim (all elements for None); ord inf /
    -inf: max / min of |x|; 0: the count of nonzeros.  Gradient at a zero norm: 0, as torch
    (LinalgVectorNormBackward0)."""
    x = input   # (torch's parser's name, input=; its numpy alias x= as well: numpy_names)
    # (the common case, x.norm() of a recorded small float tensor: _norm2_pass; the checks
    # below pass in it)
    if type(ord) in (int, float) and ord == 2 and dim is None and keepdim is False and dtype is None \
            and (type(x) is Tensor or type(x) is Parameter) and x._dtype in _FLOAT_ARRAY:
        st = STATE   # (a recorded x under no_grad records nothing either: open_tape's None)
        out = _norm2_plain(x) if not x._recorded or st.tape.sealed and not st.enabled and \
            not st.parked.recording else _norm2_pass(x)
        if out is not None:
            return keep_args(out, ord=ord, dim=None, keepdim=False)
    # (torch's Tensor.norm and torch.norm pass keepdim on positionally: its position there)
    _bool_arg(keepdim, "linalg_vector_norm", "keepdim", 4)
    if dtype is not None:
        dtype = D.as_dtype(dtype, "linalg_vector_norm")
    _tensor_operand("linalg_vector_norm", x, 1, "input")   # (its native parser's name)
    if not x._dtype.is_floating_point:   # (the input's dtype, before dtype= converts it)
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {x._dtype.legacy}")
    if dtype is not None:
        if not dtype.is_floating_point:
            raise RuntimeError(f"linalg.vector_norm: dtype should be floating point or "
                               f"complex, but got {dtype.legacy}")
        x = x.to(dtype)
    if type(ord) not in (int, float, bool):
        # (torch's Scalar ord: a numpy number or a 0-d tensor too, read as the number)
        if not _takes_number(ord) or isinstance(ord, (complex, np.complexfloating)):
            raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not "
                            f"{errors.arg_type_name(ord)}")
        ord = ord.item()
    if (ord < 0 or ord == math.inf) and x.numel() == 0:
        # (before the dims' checks, as torch's; its messages: the dim as given, no space after)
        if dim is None or isinstance(dim, (tuple, list)) and not dim:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on an "
                               f"empty tensor because the operation does not have an identity")
        for d in dim if isinstance(dim, (tuple, list)) else (dim,):
            if hasattr(d, "__index__") and x._shape[_dim(d.__index__(), x.dim())] == 0:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on the "
                                   f"dimension {d}because this dimension is empty and the "
                                   f"operation does not have an identity")
    dims = _dims("linalg_vector_norm", dim, x.dim(), 3)
    if needs_zero_norm(ord, x):
        arr = x._array()
        count = layouts.reduced(arr, np.asarray(
            np.not_equal(arr, 0).sum(axis=dims, keepdims=bool(keepdim), dtype=x._dtype.np)))
        return _NormZero.apply(count, x)
    if x._shape:   # (one element per result: |x|, as torch's reduction)
        body = DM.norm_body(x, ord, dims)
    else:          # a 0-d input: |x| too, but squared when given a dim, as torch's
        given = not (dim is None or isinstance(dim, (tuple, list)) and not dim)
        body = DM.vector_norm if given or ord == 0 else DM.one_element_norm
    return keep_args(_record("vector_norm", body, x, float(ord), dims, bool(keepdim)),
                     ord=ord, dim=_dims_given(dim), keepdim=bool(keepdim))


def _dims_given(dim):
    """A dim argument as torch's node keeps an int[1]? one: None, or a tuple of the ints as
    given (-1 too)."""
    if dim is None:
        return None
    return (int(dim),) if hasattr(dim, "__index__") else tuple(int(d) for d in dim)


def _moment_args(dim, unbiased, keepdim, correction):
    """var's and std's arguments as torch's node keeps them: its correction is the one given,
    else unbiased's (1 for True), else 1 where a dim is given (the dim overload's default
    unbiased), else None."""
    given = dim is not None and dim is not MISSING
    if correction is None:
        correction = int(unbiased) if unbiased is not None else 1 if given else None
    return {"correction": correction, "dim": _dims_given(dim) if given else None,
            "keepdim": keepdim is not MISSING and bool(keepdim)}


def _zero_order_norm(name):
    """A Function for the 0-"norm" (the count of nonzeros, given as its forward's first
    argument) of an input that requires grad, shown as torch's node `name`, whose gradient
    for order 0 is norm_backward's undefined one (the input's .grad stays None, autograd.grad
    finds it unused), not zeros.  (While tracing for replay: decomps_math.vector_norm's body,
    whose gradient is zeros.)"""

    class NormZero(Function):
        @staticmethod
        def forward(count, x):
            return Tensor._wrap(count, x.dtype)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[1], output)   # (torch's node saves both)

        @staticmethod
        def backward(ctx, grad):
            return None, None

    as_native_node(NormZero, name)
    NormZero._backward_cls._saved_self = property(lambda fn: fn.saved_tensors[0])
    NormZero._backward_cls._saved_result = property(lambda fn: fn.saved_tensors[1])
    return NormZero


_NormZero = _zero_order_norm("LinalgVectorNormBackward0")
# at::norm's nodes (pairwise_distance, norm_except_dim): with dims (NormBackward1) and over
# everything (NormBackward0), whose gradients are the same norm_backward
_NORM_ZERO_AT = {True: _zero_order_norm("NormBackward1"), False: _zero_order_norm("NormBackward0")}


def zero_norm_at(x, dims, keepdim, dim_given=True):
    """at::norm(x, 0, dims, keepdim) of an x needs_zero_norm takes: the count of nonzeros
    over dims, NormBackward1 (NormBackward0 without `dim_given`) without a gradient."""
    with switched_grad(False):
        count = DM.vector_norm(None, x, 0.0, dims, bool(keepdim))
    return _NORM_ZERO_AT[dim_given].apply(count._array(), x)


def needs_zero_norm(ord, *xs):
    """Whether a norm of order `ord` of xs is the 0-"norm" that takes the Functions above:
    some x requires grad, eagerly (not traced for replay)."""
    return ord == 0 and is_grad_enabled() and any(x.requires_grad for x in xs) and all(
        _tracing(x) is None for x in xs)


class _DistZero(Function):
    """dist(x, y, p=0) (the count of nonzeros of x - y, given, and its dtype) of inputs one of which
    requires grad: torch's DistBackward0, whose gradients for p = 0 are norm_backward's
    undefined one for x (its .grad stays None) and that negated for y, which fails with
    torch's error."""

    @staticmethod
    def forward(count, dt, x, y):
        return Tensor._wrap(count, dt)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[2], inputs[3], output)   # (torch's node saves them)

    @staticmethod
    def backward(ctx, grad):
        if ctx.needs_input_grad[3]:
            raise RuntimeError(errors.UNDEFINED_SELF)
        return None, None, None, None


as_native_node(_DistZero, "DistBackward0")
_DistZero._backward_cls._saved_self = property(lambda fn: fn.saved_tensors[0])
_DistZero._backward_cls._saved_other = property(lambda fn: fn.saved_tensors[1])
_DistZero._backward_cls._saved_result = property(lambda fn: fn.saved_tensors[2])
_DistZero._backward_cls._saved_p = property(lambda fn: 0)


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """torch.norm: vector norms (p a number or 'fro' over all dims or a dim)."""
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    _tensor_operand("norm", input, 1, "input")
    if out is not None:
        raise NotImplementedError("tapegrad: norm(out=...) is not implemented")
    return input.norm(p, dim, keepdim, dtype)


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """linalg.norm for vector norms: ord None is the 2-norm of the flattened input (the
    Frobenius norm of a matrix); a number with a 1-d input or one dim is vector_norm; matrix
    norms raise NotImplementedError."""
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    _tensor_operand("linalg_norm", A, 1, "input")
    if ord is not None and type(ord) not in (int, float, bool, str) and _takes_number(ord) and \
            not isinstance(ord, (complex, np.complexfloating)):
        ord = ord.item()   # (torch's Scalar ord: a numpy number or a 0-d tensor too)
    one_dim = isinstance(dim, int) or (isinstance(dim, (tuple, list)) and len(dim) == 1)
    if ord is None or ord == "fro" and (dim is None or len(dim) == 2):
        if ord is None and dim is None or ord == "fro" or not one_dim:
            return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if isinstance(ord, (int, float)) and (one_dim or (dim is None and A.dim() == 1)):
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    if ord is None and one_dim:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    raise NotImplementedError(f"tapegrad: linalg.norm(ord={ord!r}) of a matrix (matrix norms) "
                              f"is not implemented; linalg.vector_norm is")


def clamp(input=MISSING, min=None, max=None):  # noqa: A002
    """input limited to [min, max] (numbers or tensors); gradient 1 at the bounds."""
    if not isinstance(input, Tensor):
        # (the bounds as given, or the ones up to the last given: positional or not)
        given_ = [input, min, max]
        while given_ and given_[-1] is None:
            given_.pop()
        raise arg_error("clamp", False, given(*given_)) or TypeError(
            f"clamp(): argument 'input' (position 1) must be Tensor, not "
            f"{errors.type_name(input)}")
    try:
        return input.clamp(min, max)
    except TypeError:   # (the method's complaint as the function's: torch's parser's)
        raise arg_error("clamp", False, (input, min, max)) from None


def _two(name):
    def f(input=MISSING, other=MISSING, *extra):
        if input is MISSING or other is MISSING:   # (torch names each from the first missing)
            raise missing(name, ["input", "other"] if input is MISSING else ["other"])
        if extra:   # (torch's count: its two parameters, not Python's optional ones)
            raise TypeError(f"{name}() takes 2 positional arguments but {2 + len(extra)} "
                            "were given")
        _tensor_operand(name, input, 1, "input")
        _tensor_operand(name, other, 2)     # (the method's check names position 1)
        return getattr(input, name)(other)
    f.__name__ = name
    f.__doc__ = f"tapegrad.{name}(input, other) == input.{name}(other)"
    return f


def _logical_function(name, doc):
    def f(input, other):
        _tensor_operand(name, input, 1, "input")
        _tensor_operand(name, other, 2)
        return _compare(name, input, other)
    f.__name__ = name
    f.__doc__ = doc
    return f


logical_and = _logical_function("logical_and", "Elementwise `input and other` of truth values "
                                "(bool).")
logical_or = _logical_function("logical_or", "Elementwise `input or other` of truth values "
                               "(bool).")
logical_xor = _logical_function("logical_xor", "Elementwise `bool(input) != bool(other)` "
                                "(bool).")


def logical_not(input):
    """Elementwise `not input` (bool)."""
    _tensor_operand("logical_not", input, 1, "input")
    return input.logical_not()


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other| elementwise, infinities close to themselves
    (bool; traced as comparisons)."""
    _tensor_operand("isclose", input, 1, "input")
    _tensor_operand("isclose", other, 2)
    if input._dtype is not other._dtype:
        raise RuntimeError(f"{input._dtype.legacy} did not match {other._dtype.legacy}")
    try:
        np.broadcast_shapes(input._shape, other._shape)
    except ValueError:
        raise RuntimeError(errors.broadcast_mismatch(input._shape, other._shape)) from None
    if _tracing(input) is None and _tracing(other) is None:
        out = np.isclose(input._array(), other._array(), rtol, atol, equal_nan)
        return Tensor._wrap(np.asarray(out), D.bool_)
    close = ((input - other).abs() <= atol + rtol * other.abs()) | (input == other)
    if equal_nan:
        close = close | ((input != input) & (other != other))
    return close


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of input is close to other's (isclose), a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def equal(input, other):
    """Whether input and other have the same shape and elements, a Python bool."""
    _tensor_operand("equal", input, 1, "input")
    _tensor_operand("equal", other, 2)
    if input.shape != other.shape:
        return False
    return bool((input == other).all())


MODULE_FUNCTIONS = {
    **{name: None for name in _UNARY + _ROUNDING + ("round", "sgn", "clip", "clamp_min",
                                                   "clamp_max", "nan_to_num", "amax", "amin",
                                                   "argmax", "argmin", "prod", "cumsum",
                                                   "cumprod", "var", "std", "lerp", "addcmul",
                                                   "addcdiv", "any", "all", "isnan", "isinf",
                                                   "isposinf", "isneginf", "isfinite",
                                                   "count_nonzero", "remainder", "fmod", "lt",
                                                   "le", "gt", "ge", "eq", "ne", "square",
                                                   "rsqrt", "sign", "nansum", "nanmean",
                                                   "renorm", "frexp", "angle")},
    **{alias: None for alias in _ALIASES if alias not in ("clip", "absolute", "negative")},
}
TWO_TENSOR = ("maximum", "minimum", "fmax", "fmin", "logaddexp", "logaddexp2", "vdot")
for _name in TWO_TENSOR:
    MODULE_FUNCTIONS[_name] = _two(_name)
def dist(input, other, p=2):
    """The p-norm of input - other (DistBackward0)."""
    _tensor_operand("dist", input, 1, "input")
    _tensor_operand("dist", other, 2)
    return input.dist(other, p)


MODULE_FUNCTIONS.update(polygamma=polygamma, norm=norm, ldexp=ldexp, ldexp_=ldexp_, dist=dist,
                        heaviside=heaviside,
                        clamp=clamp, logical_and=logical_and, logical_or=logical_or,
                        logical_xor=logical_xor, logical_not=logical_not,
                        isclose=isclose, allclose=allclose, equal=equal)
del _name
__all__ = ["MODULE_FUNCTIONS", "max_min", "vector_norm", "linalg_norm", "return_types"]


def _scan_dtype_in_place(t, dtype):
    """cumsum_/cumprod_'s `dtype` must be t's own, as torch's (it was ignored: the scan of an
    integer tensor ran in its dtype where torch refuses)."""
    if dtype is not t._dtype:
        raise RuntimeError(f"Bad in-place call: input tensor dtype {errors._C_TYPE[t._dtype.name]}"
                           f" and output tensor dtype {errors._C_TYPE[dtype.name]} should match")
