"""In-place and version logic: Tensor's in-place methods (`add_`, ..., `x[k] = v`).

They mutate the value (so `.data`/`.grad.data` aliases and views see it) and bump the version
counter; with autograd history they record the out-of-place op and the tensor moves to its
entry, as torch's in-place ops rebase a tensor's grad_fn."""
import struct

import numpy as np

from . import dtypes as D, errors
from .arith import _check_alpha
from .errors import alpha_first, tensor_scalar, _cast_error, _check_broadcast, check_promotion, check_sub, \
    _inplace_shape_error, _setitem_shape_error, _tname_legacy
from .exact import fma, fma_into
from .fpstate import ERR_RESET, ERR_SET, F32_MAX, QUIET
from .grad_mode import TRANSFORMS
from .graph import name_entry
from .ndops import _binary, _EXACT_INT, _quiet, _unary, narrowed, where, wider_float
from .ops import BY_CODE, OPS
from .overlap import expanded, in_torch_order, no_overlap, no_partial_overlap, shared, \
    shared_write, shares_elements, write_expanded
from .parameter import Parameter
from ._signals import COMMIT
from .copyslices import edge_of, edges_as_torch, inplace_on_view, regenerate_views, \
    scatter_written
from .tape import (BUMPS, bump_version, check_rebased_piece, DUAL, follow_retained,
                   FORWARD_MADE, NO_GRAD_VIEW, NO_GRAD_VIEWS_MADE, PENDING_VIEW,
                   read_as_saved, read_grad_fn_of, rebased_view_without_fn,
                   refuse_inference_change, regenerate_pending_view, saves_indices,
                   share_storage, STATE, Tape, TRANSFORM_LEAF, view_base)
from .tensor import NODIFF, OPERAND_TYPES, Tensor, _tensor_operand, tensor_methods
from .tracing import _bake
from .views import (_index_message, _INDEX_INTS, _WITHOUT_GRAD, apart, assign,
                    check_made_without_grad,
                    index_array, index_tensors, index_with, made_without_grad, one_ellipsis, oob_message,
                    sequence_index, sequence_key, setitem_view_name, writes_through_a_view)

# the in-place ufuncs whose int64 result of an int64 and a Python int is torch's
_WRAPPING = (np.add, np.subtract, np.multiply)


def _no_grad_update(subtract, ufunc, method):
    """The operator `t += other` / `t -= other` (subtract, ufunc, method: False, np.add and
    "add_", or True and the subtractions).  For a plain Tensor or Parameter with no tape and
    a plain Tensor operand under no_grad (`p -= lr * p.grad`) it is add_'s / sub_'s own first
    step done in its one frame: _update_scalar's float-held case inline, or _update_array;
    elsewhere, and where those decline, the method (a foreign operand: NotImplemented, so
    Python's TypeError names the operator, as torch's; an ndarray is then numpy's to
    combine).  Once per 0-d parameter per step: the frames of _update_scalar and
    _scalar_result, and their checks made again, were ~0.3 of its ~0.9 us.  The operator is
    written inline (`x - y if subtract else x + y`), not called as float.__sub__ with the
    unpacked operands: ~50 ns of ~480 per call."""
    def update(t, other):
        if type(other) is Tensor and t._tape is None and not STATE.enabled and (
                type(t) is Tensor or type(t) is Parameter):
            sv = t._v
            if type(sv) is not float:
                done = _update_array(t, sv, other, ufunc)
                if done is not None:
                    return done
            else:
                b = other._v
                dt = t._dtype
                if type(b) is float and other._dtype is dt and other._shape == t._shape:
                    try:
                        c = t._ver
                    except AttributeError:
                        c = t._ver = [0]
                    if type(c) is list:   # (else a view or a detach()ed alias: bump_version's)
                        try:   # (_scalar_result: float32 operands, the result rounded)
                            if dt is _F32D:
                                x, y = _F32X2_UNPACK(_F32X2_PACK(sv, b))
                                v = _F32_UNPACK(_F32_PACK(x - y if subtract else x + y))[0]
                            elif dt is _F64:
                                v = sv - b if subtract else sv + b
                            else:
                                v = None
                        except (ArithmeticError, ValueError):
                            v = None   # (1/0, out of float32's range: numpy decides)
                        if v is not None:
                            t._v = v
                            t._lserial = 0  # a later use records the new value (leaf_node)
                            c[0] += 1
                            BUMPS[0] += 1
                            return t
        if not isinstance(other, OPERAND_TYPES):
            return NotImplemented
        return getattr(t, method)(other)
    update.__name__ = update.__qualname__ = "__i" + method[:3] + "__"
    return update


@tensor_methods
class _InplaceMethods:
    """Tensor's in-place methods: they change the value in its memory and bump the version
    counter; with autograd history they record the out-of-place op and rebase the tensor."""

    # ---- in-place ops -----------------------------------------------------------------------
    # They mutate the value (so `.data`/`.grad.data` aliases and views see it).  Where torch
    # needs no history (no_grad, or nothing involved requires grad) that is all; otherwise
    # add_/sub_/mul_/div_ record the out-of-place op and the tensor moves to its entry, as
    # torch's in-place ops rebase a tensor's grad_fn.
    def _check_inplace(self, other=None):
        """True when the change must be recorded on the tape."""
        if not STATE.enabled:
            return False
        if STATE.fwd_off and (self._recorded and self._tape is None or not self._recorded and
                              not getattr(view_base(self) or self, "_flags", 0) & FORWARD_MADE):
            # (under no_grad in jvp's function, a write into a leaf, as jvp's own inputs are,
            # or into a tensor captured from outside the function: as under no_grad,
            # unrecorded, no graph left on it; torch's dual input has no backward to refuse
            # it, and torch refuses the write into a captured tensor)
            return False
        # (torch's check of views made with grad mode off or by unbind & co comes first)
        if _WITHOUT_GRAD and id(self) in _WITHOUT_GRAD:
            check_made_without_grad(self, other)
        if getattr(self, "_flags", 0) & TRANSFORM_LEAF:   # (func._differentiable's stand-in)
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        base = view_base(self)
        if base is not None and getattr(base, "_flags", 0) & DUAL and TRANSFORMS.levels:
            _check_view_of_stand_in(base)
        if self._recorded and self._tape is None and getattr(self, "_flags", 0) & PENDING_VIEW:
            # (a view of data whose base took history, no grad_fn read since: torch's
            # check reads the view's grad_fn as it is, none, so it is a leaf)
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        if self._recorded and self._tape is None:
            # (torch asks first whether it is a view: a leaf made requires_grad_() after a
            # reshape or a slice is "a view of a leaf"; of an inference tensor it is none)
            if base is not None:
                refuse_inference_change(self)
            raise RuntimeError(("a view of a leaf" if base is not None else "a leaf") +
                               " Variable that requires grad is being used in an in-place "
                               "operation.")
        if base is not None and base._tape is None and (base._recorded or self._recorded):
            # (torch: a view that requires grad of a base that is a leaf, even one that does
            # not: x.requires_grad_() after a reshape, then x[0].add_(1))
            refuse_inference_change(self)
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
        if _WITHOUT_GRAD and isinstance(other, Tensor) and other._recorded:
            # (torch's node reads the operand's grad_fn next, before the kernel's checks: a
            # view whose grad_fn may not be made again raises there)
            if other._tape is not None:
                check_rebased_piece(other)
            else:
                refused = rebased_view_without_fn(other)
                if refused is not None:
                    raise RuntimeError(refused)
        if isinstance(other, Tensor) and other._recorded:
            read_grad_fn_of(other)   # (a pending view of self's memory: made of it as it is)
        return self._recorded or isinstance(other, Tensor) and other._recorded

    def _inplace_recorded(self, method, other, through=False, shared=None):
        """self = method(self, other), recorded: the entry reads the old value (its own copy,
        as torch saves a clone of the original self), the new value is written into self's
        memory, and self becomes that entry's tensor (torch rebases its grad_fn).  Through a
        view, the base is rebased (CopySlices: tapegrad/copyslices.py); `shared`: for a view
        whose elements share memory, overlap.shared_write's."""
        if view_base(self) is not None:
            if shared is None:
                _writable(self._v)   # (its errors before any entry; a view of an expand: writable)
            return inplace_on_view(self, method, other, through, shared)
        if isinstance(other, Tensor) and other._dtype is not self._dtype \
                and self._dtype.is_floating_point \
                and D.torch_result_type(self, other) is self._dtype:
            # (a 0-d float64 or an integer tensor: torch computes in self's dtype) the result
            # keeps self's dtype (and grad_fn name); torch's node saves `other` itself, so
            # the copy counts other's in-place changes
            other = read_as_saved(other.to(self._dtype), other)
        storage = self._v
        if type(storage) is not float:
            self._v = storage.copy()        # what the entry saves must not be overwritten
        before = {id(tp): tp.n for tp in (STATE.tape, self._tape, getattr(other, "_tape", None))
                  if isinstance(tp, Tape)}
        try:
            r = method(self, other)
            op = None
            if r._dtype is not self._dtype and wider_float(r, self):
                # (computed in the promoted dtype: cast into self's)
                op = r._node if r._tape is not None else None
                r = narrowed(r, self._dtype)
            if r._dtype is not self._dtype:
                raise _cast_error(r._dtype, self._dtype)
            if r._shape != self._shape:
                raise _inplace_shape_error(self._shape, r._shape)
        except BaseException:
            self._v = storage
            raise
        with COMMIT:   # (a Ctrl-C must not leave the new value under the old node or version)
            return self._rebased(storage, r, before, op)

    def _rebased(self, storage, r, before, op=None):
        """_inplace_recorded's commit: the new value written into self's memory, self moved
        to r's entry.  `op`: the entry of the op itself where r is its cast into self's
        dtype (ndops.narrowed), else r's."""
        if type(storage) is float:
            self._v = r._v
        else:
            alias = storage if storage.flags.writeable else _shared_alias(storage)
            if self._tape is not None:
                self._tape.settle(self._node)   # the old node keeps the value the op read
            if alias is storage:
                storage[...] = r._array()
            else:
                _write_changed(alias, self._v, r._array())
            self._v = storage
        if r._tape is None:   # (while recording: a constant of the tape, its operands guarded)
            self._tape, self._recorded, self._lserial = None, False, 0
            bump_version(self)
            return self
        if self._tape is not None:
            self._tape.rebased[self._node] = self._tape.n
        tape = r._tape
        if op is None:
            op = r._node
        a = int(tape.ia[op])
        if a >= 0:
            tape.superseded[a] = (before.get(id(tape), 0), op)
            if self._tape is tape and self._node != a:
                # the op's entries read self's old node through others (a decomposition's
                # output entry reads its members: scatter_reduce_), whose group saves it
                tape.superseded[self._node] = tape.superseded[a]
        else:  # self was a number folded into the entry: still torch's in-place name (SubBackward0)
            name_entry(tape, r._node, BY_CODE[tape.op[op]].grad_fn)
            if tape.folded:
                tape.unfold_self(op, self)
        bump_version(self)                 # the old node: changed since it took its value
        old_tape, old_node = self._tape, getattr(self, "_node", -1)
        self._tape, self._node, self._recorded = r._tape, r._node, True
        follow_retained(self, old_tape, old_node)
        # a traced value that needs no gradient (an integer count of a mask) stays one
        self._flags = getattr(self, "_flags", 0) & ~NODIFF | getattr(r, "_flags", 0) & NODIFF
        self._lserial = 0
        self._tape.watch(self._node, self)  # the new node: its value is this version
        if type(storage) is not float:
            share_storage(self)             # its memory may be aliased: the node follows it
        regenerate_views(self)              # its views follow it (AsStridedBackward0)
        return self

    def _inplace_guarded(self, fn, other):
        """While recording, an in-place op the tape has no entry for, on traced values that
        need no gradient (`count //= 2` of a mask's count): its result is a constant of the
        tape, so its traced operands are guarded (their values now: BranchChanged on a replay
        where they differ) and self is no longer traced."""
        new = self._applied(fn, other)
        for v in (self, other):
            if isinstance(v, Tensor) and v._recorded:
                _bake(v, "guard_value")
        self._assign(new)
        self._tape, self._recorded = None, False
        return self

    def _assign(self, value):
        """Write `value` (broadcast, cast as torch does for in-place ops) into this tensor."""
        sv = self._v
        if (type(value) is np.ndarray and type(sv) is np.ndarray and value.shape == sv.shape
                and (value.dtype == sv.dtype or value.dtype.kind == "f"
                     and self._dtype.is_floating_point)):
            # NOTE: counted before the write, as below: a Ctrl-C between the two then leaves
            # the value unchanged under a new version (what saved it refuses), never the
            # reverse (a changed value that a saved node would read as its own)
            _writable(sv)
            self._lserial = 0
            bump_version(self)
            sv[...] = value   # (the common cases, float into float or one dtype, of one shape)
            return self
        arr = np.asarray(value)
        dt = self._dtype
        if np.result_type(arr.dtype, np.float32 if dt.is_floating_point else dt.np).kind == "f" \
                and not dt.is_floating_point and arr.dtype.kind == "f":
            raise _cast_error(D.float32, dt)
        shape = np.broadcast_shapes(arr.shape, self._shape)
        if shape != self._shape:
            raise _inplace_shape_error(self._shape, shape)
        if type(self._v) is float:
            if arr.dtype.kind in "iu":   # (an int rounded once into dt, not through a double)
                arr = arr.astype(dt.np)
            v = float(arr.reshape(-1)[0]) if arr.size == 1 else float(arr.flat[0])
        else:
            v = arr.astype(dt.np, copy=False)
            _writable(self._v)
        self._lserial = 0  # a later use records the new value (tape.leaf_node)
        bump_version(self)
        if type(self._v) is float:
            self._v = v
        else:
            self._v[...] = v
        return self

    def _inplace(self, fn, other, method=None, ufunc=None, overlap=True, shared=None):
        """self = fn(self, other) in place (recorded as `method` where it needs history).
        `overlap`: torch's check that other shares no memory with self in part (copy_ and
        the TensorIterator ops; not fill_, whose value is a number to torch), "any": none at
        all (index_copy_, index_add_, scatter_, put_, index_put_: tapegrad/overlap.py).
        `shared`: an op torch lets write a view whose elements share memory with history
        (the ops it warns for: overlap.shared_write), None for the others."""
        if isinstance(other, np.generic):
            other = D.py_number(other)
        elif type(other) is int:
            D.check_int_scalar(other)
            D.check_uint64_operands(self, other)
        record = self._check_inplace(other)   # (torch's autograd checks come first)
        if shared is not None:
            shared = shared_write(self, shared) if record and method is not None and \
                view_base(self) is not None else None
        if shared is None:
            _check_overlap(self)
        if overlap and type(other) is not float and type(other) is not int:
            (no_overlap if overlap == "any" else no_partial_overlap)(self, other)
        if record:
            if method is not None:
                return self._inplace_recorded(method, other, shared=shared)
            if not _traced_values_only(self, other):
                raise NotImplementedError("this in-place operation on a tensor that needs "
                                          "autograd history is not implemented yet")
            return self._inplace_guarded(fn, other)
        # Fast path (the optimizer step `p -= lr * p.grad` under no_grad): an array-backed
        # float tensor and a tensor of its dtype and shape, or a Python number: `ufunc` writes
        # the result into self's memory; no casts, no broadcast checks.
        sv = self._v
        # (a one-element value in an array: its memory was handed out, written in place)
        if ufunc is not None and (type(sv) is float or sv.size == 1 and
                                  self._dtype.is_floating_point):
            done = _inplace_scalar(self, sv if type(sv) is float else sv.item(), ufunc, other)
            if done is not None:
                return done
        if ufunc is not None and type(sv) is np.ndarray and self._dtype.is_floating_point:
            to = type(other)
            if to is Tensor:
                b = other._v if other._dtype is self._dtype and other._shape == self._shape \
                    else None
                if type(b) is float:
                    b = other._array()
            elif to is float or to is int and -_EXACT_INT <= other <= _EXACT_INT:
                b = _quiet(self._dtype.np.type, other)   # (overflow: inf, silently)
            else:
                b = None
            if b is not None:
                _writable(sv)
                self._lserial = 0  # a later use records the new value (tape.leaf_node)
                bump_version(self)  # (before the write: see _assign)
                _quiet(ufunc, sv, b, sv)
                return self
        if (type(other) is int and self._dtype is D.int64 and type(sv) is np.ndarray
                and ufunc in _WRAPPING and -_EXACT_INT <= other <= _EXACT_INT):
            _writable(sv)
            self._lserial = 0
            bump_version(self)
            ufunc(sv, other, out=sv)   # (a counter `n += 1`: int64 wraps around, as torch's)
            return self
        token = ERR_SET(QUIET)   # (np.errstate builds a context object: ~1.5 us a call)
        try:
            return self._assign(self._applied(fn, other))
        finally:
            ERR_RESET(token)

    def _applied(self, fn, other):
        """fn(self's array, other's), as an in-place op computes it (an int wraps around into a
        small integer dtype, as torch's); a shape mismatch raises torch's error."""
        b = other._array() if isinstance(other, Tensor) else other
        if type(b) is int and not self._dtype.is_floating_point:
            b = D.as_array(b, self._dtype)    # (out of an int32 range: wraps around, as torch)
        elif isinstance(other, Tensor) and other._dtype is not self._dtype:
            # the operand in torch's common dtype first: another integer tensor's (a 0-d int8
            # -128 with a uint8 tensor is 128; numpy would compute in int16), a float32
            # tensor's for a 0-d float64 or an integer tensor (numpy: float64), a float64
            # tensor's computing a float32 tensor's result in float64, rounded once
            b = D.as_array(b, D.torch_result_type(self, other))
        token = ERR_SET(QUIET)
        try:
            return fn(self._array(), b)
        except ValueError:
            _check_broadcast(self._shape, np.shape(b))
            raise
        finally:
            ERR_RESET(token)

    def add_(self, other, alpha=1):
        if _plain_alpha(alpha):   # (the common case, no history: done whole, else None)
            done = _update_array(self, self._v, other, np.add, None if alpha == 1 else alpha)
            if done is not None:
                return done
        if isinstance(alpha, Tensor) and isinstance(other, Tensor):
            alpha = tensor_scalar("add_", "alpha", alpha)   # (a Scalar: not the legacy form)
        if not self._dtype.is_floating_point or type(alpha) is bool:
            _check_operand("add_", other)
            check_promotion(self, other)
            if type(alpha) is not int and not isinstance(alpha, Tensor):
                _check_alpha(self, other, D.py_number(alpha))   # (after the promotion's, as torch)
            if not self._dtype.is_floating_point and not isinstance(alpha, Tensor) and \
                    not (type(alpha) is int and alpha == 1):
                # (alpha * other in the pair's dtype, as the out-of-place op: an integer
                # wraps around, a bool's -1 is True; no history to record)
                return self._assign(self.add(other, alpha=alpha)._array())
        if type(alpha) is int and alpha == 1:
            done = _update_scalar(self, other, float.__add__, np.add)
            if done is not None:
                return done
        _check_operand("add_", other)
        if isinstance(alpha, Tensor):
            other, alpha = alpha_first("add_", other, alpha)
        if type(alpha) is float and not -F32_MAX <= alpha <= F32_MAX and \
                self._dtype.is_floating_point:
            D.checked(alpha, self._dtype)   # (float32: torch's overflow error, before a write)
        if alpha == 1:
            return self._inplace(np.add, other, Tensor.__add__, np.add)
        scaled = _fused(alpha)   # (arrays: the result as torch's kernel computes it)
        if type(alpha) is float or type(alpha) is int:
            done = _update_arrays(self, scaled, other)
            if done is not None:
                return done
        return self._inplace_alpha(scaled, other, lambda x, y: x.add(apart(x, y), alpha=alpha))

    def sub_(self, other, alpha=1):
        if _plain_alpha(alpha):   # (the common case, no history: done whole, else None)
            done = _update_array(self, self._v, other, np.subtract, None if alpha == 1 else alpha)
            if done is not None:
                return done
        if isinstance(alpha, Tensor) and isinstance(other, Tensor):
            alpha = tensor_scalar("sub_", "alpha", alpha)   # (a Scalar: not the legacy form)
        if not self._dtype.is_floating_point or type(alpha) is bool:
            _check_operand("sub_", other)
            check_sub(self, other)   # (torch's bool check first)
            check_promotion(self, other)
            if type(alpha) is not int and not isinstance(alpha, Tensor):
                _check_alpha(self, other, D.py_number(alpha))
            if not self._dtype.is_floating_point and not isinstance(alpha, Tensor) and \
                    not (type(alpha) is int and alpha == 1):
                # (alpha * other in the pair's dtype, as the out-of-place op: an integer
                # wraps around, a bool's -1 is True; no history to record)
                return self._assign(self.sub(other, alpha=alpha)._array())
        if type(alpha) is int and alpha == 1:
            done = _update_scalar(self, other, float.__sub__, np.subtract)
            if done is not None:
                return done
        _check_operand("sub_", other)
        if isinstance(alpha, Tensor):
            other, alpha = alpha_first("sub_", other, alpha)
        if type(alpha) is float and not -F32_MAX <= alpha <= F32_MAX and \
                self._dtype.is_floating_point:
            D.checked(alpha, self._dtype)   # (float32: torch's overflow error, before a write)
        check_sub(self, other)
        if alpha == 1:
            return self._inplace(np.subtract, other, Tensor.__sub__, np.subtract)
        scaled = _fused(-alpha)   # (arrays: the result as torch's kernel computes it)
        if type(alpha) is float or type(alpha) is int:
            done = _update_arrays(self, scaled, other)
            if done is not None:
                return done
        return self._inplace_alpha(scaled, other, lambda x, y: x.sub(apart(x, y), alpha=alpha))

    def _inplace_alpha(self, fn, other, method):
        """add_/sub_ with alpha: recorded as x +- other * alpha, shown as torch's one node
        whose edges are self's previous grad_fn and other's (not the product's)."""
        old = edge_of(self, STATE.tape) if self._tape is not None else (None, 0)
        r = self._inplace(fn, other, method)
        if isinstance(other, Tensor) and other._recorded and self._tape is not None \
                and view_base(self) is None:
            edges_as_torch(self, old, other)
        return r

    def mul_(self, other):
        if not self._dtype.is_floating_point:
            _check_operand("mul_", other)
            check_promotion(self, other)
        done = _update_scalar(self, other, float.__mul__, np.multiply)
        if done is not None:
            return done
        _check_operand("mul_", other)
        return self._inplace(np.multiply, other, Tensor.__mul__, np.multiply)

    def _inplace_div(self, other):
        """self /= other (div_ without rounding_mode: tapegrad/arith.py)."""
        if not self._dtype.is_floating_point:
            _check_operand("div_", other)
            check_promotion(self, other, true_divide=True)
        done = _update_scalar(self, other, float.__truediv__, np.true_divide)
        if done is not None:
            return done
        _check_operand("div_", other)
        return self._inplace(np.true_divide, other, Tensor.__truediv__, np.true_divide)

    def pow_(self, exponent):
        """self ** exponent, in place (PowBackward0 / PowBackward1 when recorded)."""
        if not isinstance(exponent, OPERAND_TYPES):
            raise errors.tensor_or_number("pow_", exponent, "exponent")
        check_promotion(self, exponent)
        def value(arr, b):
            e = Tensor._wrap(np.asarray(b), exponent._dtype) if isinstance(exponent, Tensor) \
                else exponent
            return (Tensor._wrap(np.array(arr, copy=True), self._dtype) ** e)._array()
        return self._inplace(value, exponent, Tensor.__pow__)

    def multiply_(self, other):
        return self.mul_(other)

    def subtract_(self, other, alpha=1):
        return self.sub_(other, alpha=alpha)

    def true_divide_(self, other):
        return self.div_(other)

    def copy_(self, src):
        if type(src) is Tensor and src is not self and src._shape == self._shape:
            # (the common case: numpy's assignment where nothing needs history, of a tensor
            # of self's dtype, else None and the checks below)
            done = _update_arrays(self, _as_given, src)
            if done is not None:
                return done
        if not isinstance(src, OPERAND_TYPES):   # (a number is copied too, as torch's)
            _tensor_operand("copy_", src, 1)
        shape = getattr(src, "_shape", None)
        if shape is not None and shape != self._shape:
            try:
                wide = np.broadcast_shapes(self._shape, shape)
            except ValueError:
                wide = None      # (the size mismatch: torch's message comes from the op below)
            if wide is not None and wide != self._shape:
                raise RuntimeError(f"output with shape {list(self._shape)} doesn't match the "
                                   f"broadcast shape {list(wide)}")
        if isinstance(src, Tensor) and (src is self or type(self._v) is np.ndarray and not
                                        self._v.flags.writeable and _same_data(self, src)) \
                and not (STATE.enabled and (self._recorded or src._recorded)):
            # torch's copy kernel returns at once for a tensor copied into itself or a view
            # of the same elements (also one whose elements share memory, which any other
            # write refuses: the one case where it shows; else the copy changes nothing);
            # its count moves
            self._lserial = 0
            bump_version(self)
            return self
        if not self._dtype.is_floating_point:
            src = _copied_as(src, self._dtype)
        # (src as it is where _update_arrays takes it: of self's shape, written by numpy's
        # assignment; broadcast_to's Python layers cost more than the write of 2048 floats)
        done = _update_arrays(self, _as_given, src)   # (no history: a write, as numpy's)
        if done is not None:
            return done
        copied, recorded = _copied, _copy_recorded
        sv, srv = self._v, getattr(src, "_v", None)
        seen = in_torch_order(sv, srv) if type(sv) is np.ndarray and \
            type(srv) is np.ndarray and shared(sv, srv) and not STATE.tape.recording else None
        if seen is not None:
            # (a source sharing memory with self: torch's kernel reads what it already wrote,
            # in its order; the gradient is the source's own)
            ordered = Tensor._wrap(seen, self._dtype)
            copied = lambda a, b: seen   # noqa: E731
            recorded = lambda x, s: _binary(OPS["copy"].code, x, _binary(  # noqa: E731
                OPS["straight_through"].code, s, ordered))
        # (torch's copy kernel returns at once for src of self's elements and layout, where
        # the elements share memory too: _same_data)
        same = () if type(sv) is np.ndarray and not sv.flags.writeable and \
            isinstance(src, Tensor) and _same_data(self, src) else None
        return self._inplace(copied, src, recorded, shared=same)

    def module_load(self, other, assign=False):
        """How nn.Module.load_state_dict turns state-dict value `other` into what replaces
        this parameter or buffer when tensors are swapped (torch's default, for subclasses
        to override): `other` detached with `assign`, else self after copying it, detached."""
        if assign:
            return other.detach()
        return self.copy_(other).detach()

    def fill_(self, value):
        tv = type(value)
        if tv is float and (self._dtype is D.float64 or -F32_MAX <= value <= F32_MAX) or \
                tv is int and -_EXACT_INT <= value <= _EXACT_INT:
            # (a number the checks below pass as it is: numpy's fill, where nothing needs
            # history and the memory is writable; else None, and the general path)
            done = _update_arrays(self, _as_given, value)
            if done is not None:
                return done
        if type(value) is complex and self._dtype is not D.bool_:
            D.checked(value, self._dtype)   # (torch's error for a complex number, no write)
        if not isinstance(value, OPERAND_TYPES):
            raise errors.tensor_or_number("fill_", value, "value")
        if not isinstance(value, Tensor) and _fill_shared(self, value):
            return self
        if isinstance(value, Tensor):
            if value.dim():
                raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got "
                                   f"tensor with {value.dim()} dimensions.")
            if not self._dtype.is_floating_point and (not value._recorded or
                                                      value.requires_grad):
                # torch's unchecked cast (300. wraps in int8), of a value that requires grad
                # too: torch marks the integer result as requiring grad (FillBackward3), but
                # no backward can pass through it (an internal assert), so here it has none
                value = value.to(self._dtype)
            recorded = lambda x, v: _binary(OPS["fill_tensor"].code, x, v)  # noqa: E731
        else:
            value = _fill_number(value, self._dtype)
            recorded = lambda x, v: _unary(OPS["fill"].code, x, float(v))  # noqa: E731
        done = _update_arrays(self, _as_given, value)   # (no history: numpy's fill)
        filled = lambda a, b: np.full(a.shape, b)   # noqa: E731
        if done is not None:
            return done
        return self._inplace(filled, value, recorded, overlap=False,
                             shared=None if isinstance(value, Tensor) else ())

    def zero_(self):
        sv = self._v
        if type(sv) is float and (not STATE.enabled or not (
                self._recorded or self._tape is not None or
                _WITHOUT_GRAD and made_without_grad(self))):
            # (a one-element float held as a float, `p.grad.zero_()` of a 0-d parameter and
            # zero_grad(set_to_none=False): _no_history's test, whose view_base is None for
            # a float-held value (a view shares memory: both are arrays), and the general
            # path's result, +0.0, without its arrays and broadcast checks, ~6 -> ~0.3 us)
            self._lserial = 0  # a later use records the new value (tape.leaf_node)
            bump_version(self)  # (before the write: see _assign)
            self._v = 0.0
            return self
        # (the common case, `p.grad.zero_()`, without the calls below, which it would pass)
        plain = type(sv) is np.ndarray and sv.flags.writeable and _no_history(self)
        if not plain:
            if _fill_shared(self, 0):
                return self
            plain = type(sv) is np.ndarray and not self._check_inplace(0)
            if plain:
                _writable(sv)   # (read-only memory: torch's error or numpy's, before the count)
        if plain:
            self._lserial = 0  # a later use records the new value (tape.leaf_node)
            bump_version(self)  # (before the write: see _assign)
            sv.fill(0)
            return self
        return self._inplace(lambda a, b: np.zeros(a.shape, a.dtype), 0,
                             lambda x, v: _unary(OPS["zero"].code, x), shared=())

    def __setitem__(self, key, value):
        """x[key] = value: an in-place change of the selected elements; on a tensor that
        needs history (or with a value that does) recorded as CopySlices / IndexPutBackward0."""
        if _setitem_plain(self, key, value):
            return
        if STATE.enabled and NO_GRAD_VIEWS_MADE[0] and self._tape is None and \
                getattr(self, "_flags", 0) & PENDING_VIEW and \
                setitem_view_name(self._shape, key) is not None:
            regenerate_pending_view(self)   # (torch's x[key] is a view of x: reads its grad_fn)
        if STATE.enabled and not STATE.fwd_off and (
                self._recorded and self._tape is None and not getattr(self, "_flags", 0) &
                NO_GRAD_VIEW    # (its own error below)
                or getattr(self, "_flags", 0) & TRANSFORM_LEAF):   # (written through a view)
            refuse_inference_change(self)
            if (key is Ellipsis or getattr(self, "_flags", 0) & PENDING_VIEW) and \
                    not getattr(self, "_flags", 0) & TRANSFORM_LEAF:
                # (torch's setitem copies into x itself for x[...]: no view)
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
        if not isinstance(value, (Tensor, bool, int, float, np.generic)):
            # (torch takes a tensor or a number, not a list, tuple or array)
            raise TypeError(f"can't assign a {errors.type_name(value)} to a "
                            f"{_tname_legacy(self)}")
        value = D.checked(value, self._dtype)
        if STATE.enabled and _WITHOUT_GRAD and id(self) in _WITHOUT_GRAD:
            # (naming the view torch writes through)
            check_made_without_grad(self, value, setitem_view_name(self._shape, key))
        # (an integer or bool x takes a value that requires grad cast, with no history: as
        # fill_, torch's result could not pass a gradient either)
        recorded = self._check_inplace(value) and self._dtype.is_floating_point
        kind = value._dtype if isinstance(value, Tensor) else None
        raw = value
        if isinstance(value, Tensor):
            value = value._array()
        given = key
        key = sequence_key(key)
        key = one_ellipsis(key if isinstance(key, tuple) else (key,), len(self._shape))
        if any(isinstance(k, str) for k in key):
            raise TypeError("new(): invalid data type 'str'")   # (as x[key]'s)
        if any(isinstance(k, np.bool_) for k in key):   # (numpy's mask; torch refuses it)
            raise IndexError(_index_message(self, given, "only integers, slices"))
        key = tuple(sequence_index(k) for k in key)   # (as _index_numpy)
        # one mask with a value of one element is torch's masked_fill_: any dtype of value
        lone_mask = _lone_mask(key)
        mask_fill = isinstance(raw, Tensor) and raw.numel() == 1 and lone_mask
        if any(isinstance(k, Tensor) and k._dtype is D.uint8 for k in key) and \
                not (isinstance(raw, Tensor) and raw.dim()):
            raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with "
                               "dtype unsigned char")
        for k in key:
            if isinstance(k, Tensor) and k._recorded:
                _bake(k, "guard_value")  # indices become constants of the recorded tape
        # (a 0-d integer tensor indexes as its int, a select before the index tensors: as
        # _index_numpy's; numpy would take its array as one more index tensor)
        key = tuple((int(k.item()) if not k._shape and k._dtype in _INDEX_INTS else
                     index_array(k)) if isinstance(k, Tensor) else k for k in key)
        advanced = any(isinstance(k, (list, np.ndarray)) and np.ndim(k) > 0 for k in key)
        for k in key:
            if type(k) is slice and k.step is not None and k.step <= 0:
                raise errors.bad_slice_step(k.step)
        arr = self._materialize()
        try:
            target = np.shape(index_with(arr, key))
        except IndexError as e:
            msg = str(e)
            if msg.startswith("too many indices") and not self._shape and type(given) is int \
                    and given != 0:   # (x[k] = v of a 0-d x, k != 0: as a dim of size 0)
                raise IndexError(f"index {given} is out of bounds for dimension 0 with size "
                                 f"0") from None
            if msg.startswith(("too many indices", "boolean index did not match",
                               "arrays used as indices must", "only integers, slices",
                               "shape mismatch: indexing arrays")):
                raise IndexError(_index_message(self, given, msg)) from None   # (as x[key]'s)
            raise IndexError(oob_message(msg, key, arr.shape)) from None
        value = np.asarray(value)
        # (torch's copy_to copies a value of the destination's sizes, else fills for a 0-d
        # value as given: a 0-d x[...] = v is copy_, CopyBackwards)
        filling = value.ndim == 0 and len(target) > 0
        given_value = value
        if value.ndim and value.shape[0] == 1:
            # torch views the value without its leading 1s first (slicePrefix1sSize): a
            # [1, 3] value fills x[2:5], and its errors name the shape left
            lead = next((i for i, n in enumerate(value.shape) if n != 1), value.ndim)
            value = value.reshape(value.shape[lead:])
            if isinstance(raw, Tensor):
                raw = raw.view(value.shape)
        err = _setitem_shape_error(value.shape, target, kind or self._dtype, advanced)
        if err is not None:
            raise err
        # (torch's index_put_ checks the value's shape, then its dtype)
        if advanced and kind is not None and kind is not self._dtype and not mask_fill:
            raise RuntimeError(f"Index put requires the source and destination dtypes match, "
                               f"got {self._dtype.legacy} for the destination and "
                               f"{kind.legacy} for the source.")
        if isinstance(raw, Tensor) and not mask_fill:
            # torch's memory checks: index_put_ refuses a value sharing any memory with x,
            # the copy into the view x[key] one overlapping it in part (x[1:] = x[:-1])
            if advanced:
                no_overlap(arr, value)
            elif not filling:   # (a 0-d value fills the view: fill_, unchecked)
                # torch's copy_to: a value of the view's sizes is copied as it is, another
                # without its leading 1s expanded to them (x[0] = x[:1] is checked)
                view = index_with(arr, key)
                if given_value.shape == target:
                    no_partial_overlap(view, given_value)
                elif shared(view, value):
                    no_partial_overlap(view, expanded(value, target))
        if recorded and not advanced and not arr.flags.writeable:
            # (an expand's `.data`: torch's copy into x[key] refuses a view whose own
            # elements share memory, and writes another: _rebased)
            written = index_with(arr, key)
            if type(written) is np.ndarray:   # (one element: a numpy scalar, nothing shared)
                _writable(written)
        if recorded:
            # the whole tensor (x[...] = v, x[:] = v, x[0:n] = v: slices keeping their whole
            # dims, which torch's setitem skips): torch fills or copies it
            if all(k is Ellipsis or type(k) is slice for k in key) and \
                    not writes_through_a_view(self._shape, key):
                if filling:
                    self._inplace_recorded(lambda x, v: _binary(OPS["fill_tensor"].code, x, v), raw)
                else:
                    self._inplace_recorded(lambda x, v: _binary(OPS["copy"].code, x, v), raw)
                return
            old = edge_of(self, STATE.tape) if self._tape is not None else (None, 0)
            through = writes_through_a_view(self._shape, key)
            put = advanced and not through
            shares = view_base(self) is not None and shares_elements(self)
            if shares and not advanced:
                # (x's elements share memory, x[key]'s do not (checked above): torch's write
                # is a change of the view x[key] only, its fill_ or copy_)
                op = OPS["fill_tensor" if filling else "copy"].code
                self[key]._inplace_recorded(lambda x, v: _binary(op, x, v), raw)
                return
            # (x[index] = v: torch's index_put_ writes them, warned: overlap.shared_write)
            refusing = shared_write(self, ("index_put_", "masked_fill_") if lone_mask and
                                    value.size == 1 else ("index_put_",)) if put and shares else None
            # (a view of data written through a view of it: torch's x[key] takes the history,
            # x itself has no grad_fn until it is read, as its base's other views)
            pending = through and not self._recorded and view_base(self) is not None
            seen = None
            if isinstance(raw, Tensor) and not advanced and not filling and \
                    type(value) is np.ndarray and shared(arr, value) and \
                    not STATE.tape.recording:   # (a traced tape would keep the values)
                # (a value sharing memory with x[key]: the values torch's copy reads in its
                # order, the gradient the value's own)
                seen = in_torch_order(index_with(arr, key), raw._array())
            if seen is not None:
                put_value = _binary(OPS["straight_through"].code, raw,
                                    Tensor._wrap(seen.astype(raw._dtype.np), raw._dtype))
            self._inplace_recorded(lambda x, v: _put(x, key, v if seen is None else put_value,
                                                     put), raw, through, refusing)
            if pending:
                self._tape, self._lserial = None, 0
                self._flags = getattr(self, "_flags", 0) | PENDING_VIEW
                NO_GRAD_VIEWS_MADE[0] += 1
            if view_base(self) is None:
                edges_as_torch(self, old, raw)
            saves_indices(self, index_tensors(given))
            return
        token = ERR_SET(QUIET)
        try:
            value = value.astype(self._dtype.np, copy=False)
        finally:
            ERR_RESET(token)
        if advanced and shares_elements(self) and write_expanded(
                self, ("index_put_", "masked_fill_") if lone_mask and value.size == 1 else
                ("index_put_",), lambda alias: assign(alias, key, value)):
            return   # (x.expand(2, 3)[index] = v: torch's deprecated write, warned)
        if not arr.flags.writeable and all(k is None or k is Ellipsis or type(k) is int or
                                           type(k) is slice for k in key):
            # (a basic key writes through x[key], a view: torch's check is of its elements,
            # so x.expand(2, 3)[0] = v writes)
            arr = arr[key if Ellipsis in key else key + (Ellipsis,)]
            key = (Ellipsis,)
        _writable(arr)
        if isinstance(raw, Tensor) and not advanced and not filling and \
                type(value) is np.ndarray and shared(arr, value):
            # (a value sharing memory with x[key] where torch's check cannot tell: its copy
            # reads what it already wrote, in its order)
            value = _or(in_torch_order(index_with(arr, key), value), value)
        self._lserial = 0
        bump_version(self)  # (before the write: see _assign)
        assign(arr, key, value)

    # (a foreign operand: NotImplemented, so Python's TypeError names the operator, as
    # torch's; an ndarray is then numpy's to combine)
    __iadd__ = _no_grad_update(False, np.add, "add_")
    __isub__ = _no_grad_update(True, np.subtract, "sub_")

    def __imul__(self, other):
        return self.mul_(other) if isinstance(other, OPERAND_TYPES) else NotImplemented

    def __itruediv__(self, other):
        return self._inplace_div(other) if isinstance(other, OPERAND_TYPES) else NotImplemented

    def __ipow__(self, exponent):   # (without it, x **= 2 rebinds x: torch changes x)
        if not isinstance(exponent, OPERAND_TYPES):
            return NotImplemented
        return self.pow_(exponent)


def _plain_index(k):
    """Whether k is an index _setitem_plain takes: an int (no bool), or a slice whose step is
    None or a positive int."""
    tk = type(k)
    return tk is int or tk is slice and (k.step is None or type(k.step) is int and k.step > 0)


def _setitem_plain(t, key, value):
    """x[key] = value's common case, done here (True; False: nothing done, the general path
    decides and gives torch's errors): x a float32/float64 tensor with writable array storage
    that needs no history and carries no flag; key an int or slice (_plain_index) or a tuple
    of at most x.dim() of them; value a Python float or int that converts exactly (filled),
    or a tensor of x's dtype without history whose shape is the selection's and whose memory
    is not x's.  The general path's last lines, without its key and value rewriting (a row
    write `a[i] = v` of 32x64 float32: ~10 -> ~3 us)."""
    sv = t._v
    if type(sv) is not np.ndarray or t._recorded or getattr(t, "_flags", 0) or \
            not sv.flags.writeable:
        return False
    dt = t._dtype
    if dt is not D.float32 and dt is not D.float64:
        return False
    if type(key) is tuple:
        if len(key) > sv.ndim or not all(map(_plain_index, key)):
            return False
    elif not _plain_index(key):
        return False
    tv = type(value)
    if tv is float:
        if dt is D.float32 and not -F32_MAX <= value <= F32_MAX:   # (inf, nan: general)
            return False
    elif tv is int:
        if not -_EXACT_INT <= value <= _EXACT_INT:
            return False
    elif tv is Tensor or tv is Parameter:
        if value._dtype is not dt or value._recorded and STATE.enabled or \
                getattr(value, "_flags", 0):
            return False
        value = value._v
        # (two arrays that own their memory share none: numpy's test only for views)
        if type(value) is np.ndarray and (value is sv or (
                value.base is not None or sv.base is not None) and np.may_share_memory(sv, value)):
            return False
    else:
        return False
    if _WITHOUT_GRAD and id(t) in _WITHOUT_GRAD:
        return False
    try:
        target = sv[key]
    except IndexError:   # (out of range: torch's message from the general path)
        return False
    if type(value) is np.ndarray and value.shape != target.shape:   # (a numpy scalar's: ())
        return False
    t._lserial = 0
    bump_version(t)  # (before the write: see _assign)
    sv[key] = value
    return True


def _check_view_of_stand_in(base):
    """torch's error for an in-place change of a view of a reverse transform's input (its
    grad level's leaf) where that input is a view of `base`, a dual tensor of an enclosing
    jvp or jacfwd (func._duals, which is no leaf: hessian's jacfwd of jacrev)."""
    for kind, given in TRANSFORMS.levels:
        if kind == "grad" and any(isinstance(g, Tensor) and getattr(g, "_flags", 0) &
                                  TRANSFORM_LEAF and view_base(g) is base for g in given):
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")


def _lone_mask(key):
    """Whether torch's index_put_ with `key` (a tuple: tensors, lists and arrays as given)
    is its masked_fill_ for a value of one element (canDispatchToMaskedFill): exactly one
    mask (a bool or uint8 tensor, a list or array of bools, a Python bool) among the
    indices and no index tensor, list or array of ints beside it."""
    masks = 0
    for k in key:
        if isinstance(k, Tensor):
            if k._dtype is D.bool_ or k._dtype is D.uint8:
                masks += 1
            elif k._shape:
                return False
        elif type(k) is bool:
            masks += 1
        elif isinstance(k, (list, np.ndarray)):
            if np.asarray(k).dtype != bool:
                return False
            masks += 1
    return masks == 1


def _check_overlap(t):
    """torch's error for an in-place write into t whose elements share memory (an expand's
    view: a read-only array with a zero stride); torch's fill_ / zero_ write such a tensor
    (_fill_shared, without history; with it, overlap.shared_write)."""
    sv = t._v
    if type(sv) is np.ndarray and not sv.flags.writeable and any(
            st == 0 and n > 1 for st, n in zip(sv.strides, sv.shape)):
        raise RuntimeError(errors.INTERNAL_OVERLAP)


def _fill_shared(t, value):
    """fill_ / zero_ of a tensor whose elements share memory (an expand's view, numpy's
    read-only array with a stride 0) that needs no history: torch writes each element, all
    the same number, so the memory under them is filled through a writable alias of the
    same layout.  False where that is not the case (the usual paths decide)."""
    sv = t._v
    if type(sv) is not np.ndarray or sv.flags.writeable or not any(
            st == 0 and n > 1 for st, n in zip(sv.strides, sv.shape)) or \
            STATE.enabled and (t._recorded or _WITHOUT_GRAD and made_without_grad(t) and
                               t._check_inplace()):   # (unbind's piece: its checks)
        return False
    alias = sv.view()
    try:
        alias.flags.writeable = True   # (refused where the memory's owner is read-only)
    except ValueError:
        return False
    v = _fill_number(value, t._dtype)
    t._lserial = 0
    bump_version(t)   # (before the write: see _assign)
    alias[...] = v
    return True


def _traced_values_only(x, other):
    """While recording: whether x and other (if a tensor) need no gradient, so that an
    in-place op on them may be a guarded constant of the tape (Tensor._inplace_guarded)."""
    return STATE.tape.recording and all(
        not v.requires_grad for v in (x, other) if isinstance(v, Tensor))


def _fill_number(value, dt):
    """fill_'s Python number as torch converts it into dt: into an integer dtype checked
    (out of range or nan: torch's overflow error) and a float truncated toward zero; into
    bool, != 0."""
    if dt is D.bool_ and isinstance(value, (int, float, np.number)):
        return bool(value)
    return D.checked(value, dt)


def _same_data(t, src):
    """Whether src is t, or views the same elements of t's memory in the same layout (torch's
    copy_impl: is_same, or is_alias_of with the same offset, sizes, strides and dtype)."""
    a, b = t._v, src._v
    return type(a) is np.ndarray and type(b) is np.ndarray and t._dtype is src._dtype and \
        a.shape == b.shape and a.strides == b.strides and shared(a, b) and \
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]


def _copied_as(src, dt):
    """What copy_ writes into a tensor of the integer or bool dtype dt: src cast as torch's
    copy_ casts it (a float truncated toward zero, wrapping around in a narrow type; into
    bool, != 0), as `src.to(dt)` casts; no gradient flows into such a tensor."""
    if isinstance(src, Tensor):
        return src if src._dtype is dt else src.to(dt)
    if isinstance(src, float):     # (a Python float: torch's 0-d double tensor)
        with np.errstate(invalid="ignore"):
            return Tensor._wrap(np.asarray(src, np.float64).astype(dt.np), dt)
    return src


# The unrecorded in-place update of a one-element float tensor (`p -= lr * p.grad` under
# no_grad, once per 0-d parameter per step): Python arithmetic on the stored float; for float32
# operands and result rounded as the numpy path rounds them (struct's 'f' rounds to nearest, as
# a C cast; the double result of +-*/ on float32 values rounds to the float32 result).
_SCALAR_INPLACE = {np.add: float.__add__, np.subtract: float.__sub__,
                   np.multiply: float.__mul__, np.true_divide: float.__truediv__}
_F32 = struct.Struct("f")
_F32_PACK, _F32_UNPACK = _F32.pack, _F32.unpack
_F32X2 = struct.Struct("ff")          # both operands rounded in one pack/unpack
_F32X2_PACK, _F32X2_UNPACK = _F32X2.pack, _F32X2.unpack
_F64, _F32D = D.float64, D.float32


def _scalar_result(fn, sv, b, dt):
    """fn(sv, b) (float arithmetic) as numpy computes it in dtype dt: float32 operands and
    the exact result rounded; None for another dtype or where numpy must decide (1/0, out of
    float32's range: inf or nan)."""
    try:
        if dt is _F32D:
            return _F32_UNPACK(_F32_PACK(fn(*_F32X2_UNPACK(_F32X2_PACK(sv, b)))))[0]
        if dt is _F64:
            return fn(sv, b)
    except (ArithmeticError, ValueError):
        pass
    return None


def _inplace_scalar(t, sv, ufunc, other):
    """t (one-element float, value sv, not recorded) = ufunc(t, other) when other is a number
    or a one-element float tensor of t's dtype and shape; None where the numpy path must
    decide (casts, broadcasting, IEEE corner cases).  An array-backed t (its memory handed
    out) is written in place, so its aliases see the new value."""
    dt = t._dtype
    to = type(other)
    if to is Tensor:
        b = other._v
        if other._dtype is not dt or other._shape != t._shape:
            return None
        if type(b) is not float:
            if b.size != 1:
                return None
            b = b.item()
    elif to is float or to is int and -_EXACT_INT <= other <= _EXACT_INT:
        b = float(other)
    else:
        return None
    fn = _SCALAR_INPLACE.get(ufunc)
    if fn is None:
        return None
    v = _scalar_result(fn, sv, b, dt)
    if v is None:
        return None
    if type(t._v) is not float:
        _writable(t._v)
    t._lserial = 0  # a later use records the new value (tape.leaf_node)
    bump_version(t)  # (before the write: see _assign)
    if type(t._v) is float:
        t._v = v
    else:
        t._v[...] = v
    return t


def _check_operand(fname, other):
    """torch's TypeError for an operand that is no tensor, number or array.  (Python's `+=`
    raises it too, where torch's operator returns NotImplemented and Python asks other's
    `__radd__`: a second frame on every `p -= lr * g` would cost more than that case is
    worth.)"""
    if not isinstance(other, OPERAND_TYPES):
        _tensor_operand(fname, other, 1)


def _shared_alias(arr):
    """A writable alias of read-only `arr` whose elements share memory (an expand's `.data`:
    torch writes x[key] = v into it where x[key]'s own elements do not, which its checks
    saw), or numpy's error where the memory's owner is read-only."""
    alias = arr.view()
    try:
        alias.flags.writeable = True
    except ValueError:
        raise ValueError("assignment destination is read-only") from None
    return alias


def _write_changed(alias, old, new):
    """Write into `alias` (elements sharing memory) the elements of `new` that differ from
    `old` (bit for bit): torch wrote only the view x[key], whose elements share no memory, so
    an element outside it must not write its old value over a shared one the view changed."""
    a = np.ascontiguousarray(old).reshape(-1).view(np.uint8).reshape(old.size, -1)
    b = np.ascontiguousarray(new).reshape(-1).view(np.uint8).reshape(new.size, -1)
    changed = (a != b).any(axis=1).reshape(new.shape)
    alias[changed] = new[changed]


def _writable(arr):
    """Refuse a write into a read-only array before the version is counted (so the failing op
    changes nothing): torch's error where elements share memory (an expand, an as_strided
    with a stride 0: numpy makes those read-only), numpy's for other read-only memory (a
    frombuffer of bytes).  A view of an expand whose own elements do not (x.expand(2, 3)[0])
    inherited numpy's read-only flag: torch writes it, and so does this, where the memory's
    owner lets the flag go (never a read-only owner's own flag: the user's array)."""
    if not arr.flags.writeable:
        offsets = sum(np.arange(n).reshape((-1,) + (1,) * (arr.ndim - d - 1)) * st
                      for d, (n, st) in enumerate(zip(arr.shape, arr.strides)))
        if np.unique(offsets).size < arr.size:
            raise RuntimeError(errors.OVERLAP_ERROR)
        if arr.base is not None:
            try:
                arr.flags.writeable = True
                return
            except ValueError:
                pass
        raise ValueError("assignment destination is read-only")


def _update_scalar(t, other, fn, ufunc=None):
    """The update `p -= lr * p.grad` of a micrograd-style loop, done whole: t = fn(t, other)
    for a leaf t (or an unrecorded tensor) held as a float, under grad mode off, and other a
    Python float or a tensor of t's dtype and shape held as a float; what _inplace_scalar and
    bump_version do there, without the general path's checks, none of which can fail in this
    case (~0.5 of the ~1.5 us it costs).  With `ufunc` (fn's numpy form), the same for an
    array-backed t (_update_array, under grad mode too).  None where the general path must
    decide."""
    sv = t._v
    if type(sv) is not float:
        return None if ufunc is None else _update_array(t, sv, other, ufunc)
    if t._tape is not None or STATE.enabled:
        return None
    to = type(other)
    if to is float:
        b = other
    elif to is Tensor:
        b = other._v
        if type(b) is not float or other._dtype is not t._dtype or other._shape != t._shape:
            return None
    else:
        return None
    try:
        c = t._ver
    except AttributeError:
        c = t._ver = [0]
    if type(c) is not list:   # a view or a detach()ed alias: bump_version's owners
        return None
    v = _scalar_result(fn, sv, b, t._dtype)
    if v is None:
        return None
    t._v = v
    t._lserial = 0  # a later use records the new value (tape.leaf_node)
    c[0] += 1
    BUMPS[0] += 1
    return t


def _no_history(t):
    """Whether an in-place change of t is a plain write to autograd: grad mode off, or t needs
    no history and is no view (what _check_inplace lets pass unrecorded, given operands that
    need no history either: the flags it reads are those of recorded tensors and views, and a
    read of the unset `_flags` slot would cost ~0.25 us).  The fast forms' common test."""
    return not STATE.enabled or not (
        t._recorded or t._tape is not None or view_base(t) is not None or
        _WITHOUT_GRAD and made_without_grad(t))   # (its entry, not a dead one's id)


def _plain_alpha(alpha):
    """Whether add_'s / sub_'s alpha is one _update_array takes: an int of at most 2**53 in
    size (no bool) or a float within float32's range (no inf or nan: torch's overflow error
    for a float32 tensor comes from the general path)."""
    ta = type(alpha)
    return ta is int and -_EXACT_INT <= alpha <= _EXACT_INT or \
        ta is float and -F32_MAX <= alpha <= F32_MAX


def _update_array(t, sv, other, ufunc, alpha=None):
    """_update_scalar's n-d case: ufunc(t, other) written into t's array, for a float32 or
    float64 t of more than one element whose array numpy can write, and other an array-backed
    Tensor of t's dtype and shape (`p -= lr * p.grad` under no_grad) or a Python number
    (`v.mul_(b2)`): what the general path (_inplace) does there, the version count and the
    in-place ufunc, without its checks, none of which can fail in this case (16x16 float32
    sub_: 2.2 -> 1.2 us beyond no_grad's enter and exit).  With `alpha` (add_/sub_'s, a
    Python number; other a tensor): t + alpha * other as torch's kernel (and the general
    path) computes it, fma(other, +-alpha, t) rounded once (`p.add_(g, alpha=-lr)`).
    Under grad mode the same for a t and a tensor operand that need no history, t no view
    (_no_history: what _check_inplace lets pass unrecorded; `a.add_(b)` of 32x16 float32,
    5.4 -> ~1.6 us).  None where the general path must decide."""
    dt = t._dtype
    if type(sv) is not np.ndarray or sv.size == 1 or not sv.flags.writeable or \
            dt is not D.float32 and dt is not D.float64:
        return None
    if not _no_history(t):
        return None   # (autograd's checks of _check_inplace, which may refuse or record)
    to = type(other)
    if to is Tensor:
        b = other._v
        if other._dtype is not dt or other._shape != t._shape or type(b) is not np.ndarray \
                or STATE.enabled and other._recorded:
            return None
        if (b.base is not None or sv.base is not None) and shared(sv, b):
            no_partial_overlap(sv, b)   # (views of one memory: torch's overlap check)
    elif alpha is None and (to is float or to is int and -_EXACT_INT <= other <= _EXACT_INT):
        b = None
    else:
        return None
    t._lserial = 0  # a later use records the new value (tape.leaf_node)
    bump_version(t)  # (before the write, as the general path: an inference tensor's error)
    token = ERR_SET(QUIET)
    try:
        if b is None:
            b = dt.np.type(other)   # (as the general path: past float32's range, inf)
        elif alpha is not None:   # (torch's kernel: fma(other, alpha, self), one rounding)
            alpha = alpha if ufunc is np.add else -alpha
            # (an int alpha, at most 2**53 in size (_plain_alpha), is exact as a float: one
            # rounding to the dtype either way; fma_into takes floats)
            if fma_into(b, float(alpha), sv, sv):
                return t
            b = fma(b, alpha, sv, dt.np)
            ufunc = _assigned
        ufunc(sv, b, sv)
    finally:
        ERR_RESET(token)
    return t


def _assigned(a, b, out):
    """_update_array's ufunc when b is the new value already (a fused add_ / sub_)."""
    out[...] = b


def _fused(alpha):
    """add_'s compute of arrays a (self's) and b (other's, or a Python number) with `alpha`
    (negated for sub_): torch's kernel, fma(b, alpha, a) in the pair's float dtype (a * b's
    own numpy arithmetic for integers)."""
    def compute(a, b):
        t = np.result_type(a, b)
        if t == np.float32 or t == np.float64:
            return fma(b, alpha, a, t)
        return a + alpha * b
    return compute


def _update_arrays(t, compute, *operands, writes=False):
    """t = compute(t's array, *operands) written into t's memory, for a float32/float64 tensor
    t that needs no history here and operands that are tensors of t's dtype and shape or
    Python numbers: the updates of hand-written optimizers (`p.add_(g, alpha=-lr)`,
    `v.addcmul_(g, g, value=1 - b2)`, `ema.lerp_(p, 0.01)`), by `compute`'s numpy arithmetic
    (the general path's, op for op), without that path's checks and tensor per intermediate
    (addcmul_ of 16x16 float32: 16.7 -> 4.4 us; lerp_ of a (1,) float32 bias: 19 -> ~6 us).
    None where the general path must decide: history, casts, broadcasting, memory it cannot
    write.  `writes`: compute takes keyword `out` (t's array, which may be one of its
    operands) and writes its value there: no array made for the value, none copied."""
    dt = t._dtype
    if dt is not _F32D and dt is not _F64:
        return None
    enabled = STATE.enabled
    if enabled and (t._recorded or t._tape is not None or view_base(t) is not None or
                    _WITHOUT_GRAD and made_without_grad(t)):
        return None   # (not _no_history(t), its one STATE read shared: ~0.15 us a call)
    sv = t._v
    if type(sv) is np.ndarray:
        if not sv.flags.writeable:
            return None   # (the general path's errors: an expand's view, read-only memory)
        arr = sv
    else:
        arr = t._array()
    shape = t._shape
    values = []
    views = arr.base is not None
    for o in operands:
        to = type(o)
        if to is float or to is int and -_EXACT_INT <= o <= _EXACT_INT:
            values.append(o)
        elif (to is Tensor or isinstance(o, Tensor)) and o._dtype is dt and o._shape == shape:
            if enabled and o._recorded:
                return None
            v = o._v
            if type(v) is np.ndarray:
                views = views or v.base is not None
            else:
                v = o._array()
            values.append(v)
        else:
            return None
    aliased = False
    if views:   # (torch's check of copy_ and the TensorIterator ops: x[1:].add_(x[:-1]))
        for v in values:
            if type(v) is np.ndarray and shared(arr, v):
                no_partial_overlap(arr, v)
                aliased = True
    if writes and type(sv) is np.ndarray:
        t._lserial = 0   # a later use records the new value (tape.leaf_node)
        bump_version(t)  # (before the write: see _assign)
        token = ERR_SET(QUIET)
        try:
            compute(arr, *values, out=arr)
        finally:
            ERR_RESET(token)
        return t
    if compute is _as_given and not aliased:   # (copy_, fill_: no fp state)
        new = values[0]
    else:
        token = ERR_SET(QUIET)
        try:
            new = compute(arr, *values)
            if aliased and compute is _as_given:   # (a copy_ of memory it writes: torch's order)
                new = _or(in_torch_order(arr, values[0]), new)
        finally:
            ERR_RESET(token)
    t._lserial = 0   # a later use records the new value (tape.leaf_node)
    bump_version(t)  # (before the write: see _assign)
    if type(sv) is float:   # (as _assign: a fill_ of an int gives an int array)
        t._v = float(new.reshape(-1)[0]) if type(new) is np.ndarray else float(new)
    else:
        sv[...] = new
    return t


def _copied(a, b):
    return np.broadcast_to(b, a.shape)


def _copy_recorded(x, s):
    return _binary(OPS["copy"].code, x, s)


def _or(a, b):
    return b if a is None else a


def _as_given(arr, value):
    """_update_arrays' compute for copy_ and fill_: the value itself (an array of the
    tensor's shape, or a number numpy's assignment fills with)."""
    return value


def _put(base, key, value, index_put):
    """base with base[key] = value, out of place and recorded: one where-kind entry
    (IndexPutBackward0 with `index_put`, else CopySlices) choosing between base and the value
    scattered to the written positions (a gather is the value's adjoint)."""
    arr = base._array()
    pos = index_with(np.arange(arr.size).reshape(arr.shape), key)
    target, flat = np.shape(pos), np.asarray(pos, np.int64).reshape(-1)
    keep = np.ones(arr.shape, bool)
    keep.reshape(-1)[flat] = False
    if isinstance(value, Tensor) and value._recorded:
        v = value if value._dtype is base._dtype else value.to(base._dtype)
        if v._shape != target:
            v = v.expand(*target)
        scattered = scatter_written(v.reshape(-1), arr.shape, flat)
    else:
        values = np.zeros(arr.shape, base._dtype.np)
        values.reshape(-1)[flat] = np.broadcast_to(
            np.asarray(value._array() if isinstance(value, Tensor) else value), target).reshape(-1)
        scattered = Tensor._wrap(values, base._dtype)
    return where(Tensor._wrap(keep, D.bool_), base, scattered,
                 _op="index_put" if index_put else "copy_slices")
