"""More of torch's in-place methods, on the in-place machinery of `inplace.py`
(`_check_inplace`, `_inplace`, `_inplace_recorded`, CopySlices through views) and
`mathops._inplace_decomp`, reusing the out-of-place ops they change a tensor by:

  * a tensor's own sizes and strides: t_, transpose_, swapaxes_, swapdims_, squeeze_,
    unsqueeze_ (the view op recorded, the tensor moved to its entry, shown as torch's
    in-place node: TBackward1, TransposeBackward1, SqueezeBackward3/4/5, UnsqueezeBackward1);
  * results torch differentiates as zeros: eq_/ne_/lt_/le_/gt_/ge_ (EqBackward0/1, ...) and
    divide_ with a rounding mode (DivBackward2), recorded as a `copy` of the result;
  * ops torch does not differentiate: logical_and_/or_/xor_/not_, gcd_, lcm_ (the tensor
    keeps its grad_fn, its gradient passing through the change), nextafter_ (values);
  * positions written: fill_diagonal_ (CopySlices), index_put_/index_put (IndexPutBackward0),
    put_/put (PutBackward0), masked_scatter_/masked_scatter (MaskedScatterBackward0);
  * through the out-of-place ops: addmm_, copysign/copysign_, float_power_, polygamma_,
    mvlgamma_, conj_physical_, igamma_, igammac_;
  * apply_, map_, map2_ (a Python callable per element, no autograd, as torch);
  * resize_ / resize_as_ where tapegrad's memory model makes them exact (shrinking, same size,
    from empty); growing a non-empty tensor and as_strided_ raise NotImplementedError.
"""
import weakref

import numpy as np

from . import dtypes as D, errors, layouts
from ._signals import COMMIT
from .composed import float_power
from .copyslices import CopySlices, edge_of, regenerate_views, scatter_written
from .creation import zeros
from .errors import _check_broadcast
from .floordiv import rounded_div
from .graph import _edged_class, edge_data, name_entry, record_fn
from .mathops import _inplace_decomp
from .ndops import _binary, _unary, where
from .native_args import parsed
from .ops import OPS
from .overlap import (no_overlap, no_partial_overlap, put_in_torch_order, shares_elements,
                      write_expanded)
from .products import addmm, _inplace_product
from .pyfunc import as_native_node, Function
from .special import gammainc, gammaincc
from .tape import (bump_version, CLOSED, follow_retained, let_go, saves_indices, STATE,
                   view_base)
from .tensor import _dim, _int_list, _is_int_item, _tensor_operand, Tensor, tensor_methods
from .tracing import _bake, _tracing
from .views import _index_message, apart, index_scatter


# ---- helpers ------------------------------------------------------------------------------
def _show(t, name, edges):
    """t's entry shows as torch's node `name` with next_functions `edges` (pairs taken before
    the op: the tensor's previous grad_fn, the other inputs')."""
    tape = t._tape
    record_fn(tape, t._node, _edged_class(name), edge_data(tape, edges))


def _old_edge(self):
    return edge_of(self, STATE.tape) if self._tape is not None else (None, 0)


def _named_inplace(self, run, name, others=()):
    """run() changes self in place (recording it when it must); then self's new entry shows
    as torch's `name`, with edges to self's previous grad_fn and to `others` (tensors, or
    None for an argument torch lists as (None, 0)).  Through a view the base shows
    CopySlices (copyslices.py) and is left as it is."""
    old = _old_edge(self)
    before = (self._tape, getattr(self, "_node", -1))
    run()
    if self._tape is None or (self._tape, self._node) == before:
        return self                         # (not recorded)
    base = view_base(self)
    if base is None:
        # (x.op_(x): the argument is x as it was, whose node is no longer self's)
        _show(self, name, (old,) + tuple(old if o is self else edge_of(o, self._tape)
                                         for o in others))
    else:    # CopySlices: the base's previous grad_fn and the op's other inputs, as torch's
        tape = base._tape
        spec = tape.fn_data.get(base._node)
        if spec is not None and issubclass(spec[0], CopySlices):
            record_fn(tape, base._node, spec[0], spec[1][:1] + edge_data(
                tape, tuple(edge_of(o, tape) for o in others)))
    return self


# ---- view metadata in place ---------------------------------------------------------------
def _inplace_view(self, view, name):
    """self = view(self), a view of self's own memory with new sizes and strides (torch's t_,
    transpose_, squeeze_, unsqueeze_ change the tensor's metadata).  `view` must not raise
    (its arguments are checked before).  With history the view op is recorded and self moves
    to its entry (shown as torch's in-place node `name`); the version counts the change, so
    what saved the old node is refused by backward, as torch."""
    if not self._check_inplace():
        r = view(self)
        self._lserial = 0   # a later use records the new value (tape.leaf_node)
        bump_version(self)  # (before the change: a Ctrl-C between them, see inplace._assign)
        self._v, self._shape = r._v, r._shape
        return self
    with COMMIT:            # (a Ctrl-C must not split the count, the entry and the move)
        return _inplace_view_recorded(self, view, name)


def _inplace_view_recorded(self, view, name):
    """_inplace_view with history."""
    bump_version(self)      # first: the view's entry is then entered at the new version
    r = view(self)
    tape, node = r._tape, r._node
    w = tape.versions.get(node)
    if w is not None:       # the entry's value is self's now (torch's error names its grad_fn)
        tape.versions[node] = w[:4] + (weakref.ref(self),)
    self._v, self._shape = r._v, r._shape
    del r                   # (a registered view of self: not to be regenerated below)
    old_tape, old_node = self._tape, getattr(self, "_node", -1)
    self._tape, self._node, self._recorded, self._lserial = tape, node, True, 0
    follow_retained(self, old_tape, old_node)
    tape.watch(node, self)
    name_entry(tape, node, name)
    # torch regenerates the other views of the memory (AsStridedBackward0) after the bump
    root = view_base(self)
    root = self if root is None else root
    if root._tape is not None:
        if root is not self:
            # the base's value is unchanged, only the count it shares with its views went
            # up: ops recorded from now on read its node at the new count (torch saves it
            # then), earlier ones that saved it are refused, as torch's are
            root._tape.superseded[root._node] = (root._tape.n, -1)
        regenerate_views(root, self)
    return self


def _broadcasts(*shapes):
    try:
        np.broadcast_shapes(*shapes)
        return True
    except ValueError:
        return False


def _dims_checked(dims, nd):
    return [_dim(d, nd) for d in dims]


@tensor_methods
class _InplaceViewMethods:
    """t_, transpose_, swapaxes_, swapdims_, squeeze_, unsqueeze_."""

    def t_(self):
        self._check_inplace()                      # (torch's leaf errors come first)
        nd = self.dim()
        if nd > 2:
            raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {nd}D")
        return _inplace_view(self, Tensor.t, "TBackward1")

    def transpose_(self, dim0, dim1):
        self._check_inplace()
        nd = self.dim()
        _dims_checked((dim0, dim1), nd)           # (torch's range errors, nothing changed)
        return _inplace_view(self, lambda x: x.transpose(dim0, dim1), "TransposeBackward1")

    def swapaxes_(self, axis0, axis1):   # (numpy's argument names, as torch's)
        return self.transpose_(axis0, axis1)

    def swapdims_(self, dim0, dim1):
        return self.transpose_(dim0, dim1)

    def squeeze_(self, dim=None):
        self._check_inplace()
        if dim is None:
            return _inplace_view(self, Tensor.squeeze, "SqueezeBackward3")
        many = isinstance(dim, (tuple, list))
        _dims_checked(dim if many else (dim,), max(self.dim(), 1))
        return _inplace_view(self, lambda x: x.squeeze(dim),
                             "SqueezeBackward5" if many else "SqueezeBackward4")

    def unsqueeze_(self, dim):
        self._check_inplace()
        _dims_checked((dim,), self.dim() + 1)
        return _inplace_view(self, lambda x: x.unsqueeze(dim), "UnsqueezeBackward1")


# ---- results without a gradient, written in place -----------------------------------------
def _operand(x):
    if isinstance(x, Tensor):
        return x._dtype, 2 if x._shape else 1
    return D.scalar_dtype(x), 0


def _zero_grad_result(x, o, value):
    """x replaced by `value` (a tensor computed from x and the operand, no gradient of its
    own): recorded as `copy` of it into x, so x's previous node gets zeros; a recorded
    operand `o` gets zeros too (torch's EqBackward1, DivBackward2: a zero gradient each)."""
    if value._dtype is D.bool_:   # (a select, which a recorded tape re-evaluates on replay)
        value = where(value, Tensor._wrap(np.ones((), x._dtype.np), x._dtype),
                      Tensor._wrap(np.zeros((), x._dtype.np), x._dtype))
    c = value if value._dtype is x._dtype else value.to(x._dtype)
    if isinstance(o, Tensor) and o._recorded:
        # NOTE: -0.0, the additive identity: +0.0 would turn a -0.0 result into +0.0
        c = -_unary(OPS["zero"].code, o) + c
        if c._dtype is not x._dtype:
            c = c.to(x._dtype)
    return _binary(OPS["copy"].code, x, c)


def _without_grad(self, other, compute, name, others):
    """self = compute(self, other) (a tensor, any dtype castable to self's), a result torch
    differentiates as zeros (comparisons, rounded division): recorded as node `name`, with
    edges to self's previous grad_fn and `others`."""
    plain = other.detach() if isinstance(other, Tensor) else other

    def value(arr, _):
        return compute(Tensor._wrap(np.array(arr, copy=True), self._dtype), plain)._array()

    def recorded(x, o):
        return _zero_grad_result(x, o, compute(x.detach(), plain))
    run = lambda: self._inplace(value, other, recorded)  # noqa: E731
    return _named_inplace(self, run, name, others)


def _comparison_(op):
    def method(self, other):
        # (values: the out-of-place comparison, with its promotion and broadcast errors)
        tensor = isinstance(other, Tensor)
        return _without_grad(self, other, getattr(Tensor, op),
                             f"{op.capitalize()}Backward{1 if tensor else 0}",
                             (other,) if tensor else ())
    method.__name__ = op + "_"
    method.__doc__ = f"self = (self {op} other) in self's dtype ({op.capitalize()}Backward0/1)."
    return method


_UNSET = object()


@tensor_methods
class _InplaceNoGradMethods:
    """eq_, ne_, lt_, le_, gt_, ge_ (zero gradients), divide_ (with rounding_mode:
    DivBackward2), logical_*_, gcd_, lcm_, nextafter_ (values only)."""
    eq_ = _comparison_("eq")
    ne_ = _comparison_("ne")
    lt_ = _comparison_("lt")
    le_ = _comparison_("le")
    gt_ = _comparison_("gt")
    ge_ = _comparison_("ge")
    # (greater_, less_equal_, not_equal_...: mathops' aliases call these)

    def divide_(self, other, *, rounding_mode=_UNSET):
        if rounding_mode is _UNSET:
            return self.div_(other)
        if rounding_mode is None:   # torch's div_(Tensor, *, rounding_mode) overload: its name
            return _named_inplace(self, lambda: self.div_(other), "DivBackward2", (other,))
        if rounding_mode not in ("trunc", "floor"):
            raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or "
                               f"'floor' but found '{rounding_mode}'")
        errors.check_promotion(self, other)   # (the output's shape, then its dtype)
        return _without_grad(self, other, lambda a, b: rounded_div(a, b, rounding_mode),
                             "DivBackward2", (other,))

    def logical_and_(self, other):
        _tensor_operand("logical_and_", other, 1)
        return _values_only(self, other, Tensor.logical_and)

    def logical_or_(self, other):
        _tensor_operand("logical_or_", other, 1)
        return _values_only(self, other, Tensor.logical_or)

    def logical_xor_(self, other):
        _tensor_operand("logical_xor_", other, 1)
        return _values_only(self, other, Tensor.logical_xor)

    def logical_not_(self):
        return _values_only(self, None, lambda a, _: a.logical_not())

    def gcd_(self, other):
        _tensor_operand("gcd_", other, 1)
        errors.check_promotion(self, other)
        return _values_only(self, other, Tensor.gcd)

    def lcm_(self, other):
        _tensor_operand("lcm_", other, 1)
        errors.check_promotion(self, other)
        return _values_only(self, other, Tensor.lcm)

    def nextafter(self, other):
        return nextafter(self, other)

    def nextafter_(self, other):
        _tensor_operand("nextafter_", other, 1)
        errors.check_promotion(self, other)   # (the output's shape and dtype first)
        if not self.requires_grad and not other.requires_grad:
            value = lambda a, b: nextafter(Tensor._wrap(a, self._dtype), other)._array()  # noqa
            return self._inplace(value, other, nextafter)
        # (its node saves a clone of self and other itself: x.nextafter_(x) fails the backward)
        return _inplace_decomp(self, nextafter, other, _inputs=(other,))


def _values_only(self, other, compute):
    """self = compute(self, other), cast to self's dtype, for an op torch does not
    differentiate (logical_*_, gcd_, lcm_): as torch, no leaf check, and the tensor keeps its
    grad_fn, the gradient passing through the change to it.  That is how tapegrad sees an
    input changed by an unrecorded op: the tape it lives on is left, so later ops import its
    new value (an import entry hands its gradient on to the old node) and what saved the old
    value is refused by backward (the version counts the change)."""
    if STATE.tape.recording and self._recorded:
        raise NotImplementedError("tapegrad: an in-place op torch does not differentiate "
                                  "(logical_*_, gcd_, lcm_) on a traced tensor is not "
                                  "implemented while recording")
    no_partial_overlap(self, other)   # (torch's TensorIterator check)
    plain = other.detach() if isinstance(other, Tensor) else other
    new = compute(self.detach(), plain)
    self._assign(new._array())
    base = view_base(self)
    if STATE.tape is not CLOSED and STATE.tape in (self._tape, getattr(base, "_tape", None)):
        let_go(STATE.tape)
    root = self if base is None else base
    if STATE.enabled and root._recorded:
        regenerate_views(root)      # torch: the views' grad_fn is now AsStridedBackward0
    return self


def nextafter(input, other):
    """The next floating-point value after input towards other (values: no autograd)."""
    for pos, (n, t) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(t, Tensor):
            raise TypeError(f"nextafter(): argument '{n}' (position {pos}) must be Tensor, not "
                            f"{errors.type_name(t)}")
    dt = D.result_type(_operand(input), _operand(other))
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"nextafter_cpu\" not implemented for '{dt.legacy}'")
    a, b = input._array().astype(dt.np), other._array().astype(dt.np)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        _check_broadcast(a.shape, b.shape)
        raise
    values = np.array(np.broadcast_to(np.nextafter(a, b), shape))
    if any(t.requires_grad for t in (input, other)) and STATE.enabled:
        return _Nextafter.apply(values, dt, np.not_equal(a, b), input, other)
    for t in (input, other):   # (tapegrad.record: no entry reads them; a replay where they
        if _tracing(t) is not None:   # differ raises BranchChanged)
            _bake(t, "guard_value")
    return Tensor._wrap(values, dt)


# NOTE: torch's NextafterBackward0 passes the gradient to input where input != other and
# gives 0 where they are equal (nextafter(x, x) is x, yet its gradient there is 0); other
# always gets zeros.
class _Nextafter(Function):
    """nextafter's node, torch's NextafterBackward0: the gradient passes to input (summed to
    its shape, in its dtype) where input != other; other gets zeros."""

    @staticmethod
    def forward(ctx, values, dt, moved, input, other):
        ctx.moved = moved
        # (torch's node saves both, unread: x.nextafter_(x) fails the backward, as torch's)
        ctx.save_for_backward(input, other)
        ctx.sides = ((input.shape, input.dtype), (other.shape, other.dtype))
        return Tensor._wrap(values, dt)

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors   # (torch's unpacking: the version check of both)
        (shape, dt), (oshape, odt) = ctx.sides
        g = grad * Tensor._wrap(ctx.moved, D.bool_)
        g = g.sum_to_size(shape) if g.shape != shape else g
        return (None, None, None, g if g.dtype is dt else g.to(dt),
                zeros(oshape, dtype=odt))


as_native_node(_Nextafter, "NextafterBackward0")


# ---- positions written in place: fill_diagonal_, index_put_, put_, masked_scatter_ -----------
def _write_positions(x, flat, values, accumulate, op):
    """x with `values` (a flat tensor, one per position) written at (or, accumulate, added to)
    flat row-major positions `flat`, out of place and recorded: `values` scattered to the
    positions (its gradient: a gather; a repeated position keeps its last write), chosen where
    written (where-kind entry `op`) or added to x (x's gradient passes where not overwritten)."""
    shape = x._shape
    if values._dtype is not x._dtype:
        values = values.to(x._dtype)
    if accumulate:
        return x + index_scatter(values, shape, flat)
    scattered = scatter_written(values, shape, flat)
    keep = np.ones(shape, bool)
    keep.reshape(-1)[flat] = False
    return where(Tensor._wrap(keep, D.bool_), x, scattered, _op=op)


def _written(x, flat, source, accumulate, op):
    """x with `source` (a tensor, or an array, one value per position) written at (added to,
    with accumulate) flat row-major positions `flat`: a new tensor, recorded when x or source
    needs history (grad mode on)."""
    flat = np.asarray(flat, np.int64).reshape(-1)
    if STATE.enabled and (x._recorded or isinstance(source, Tensor) and source._recorded):
        s = source if isinstance(source, Tensor) else Tensor._wrap(np.asarray(source), x._dtype)
        return _write_positions(x, flat, s.reshape(-1), accumulate, op)
    out = np.array(x._array(), copy=True, order="C")   # (reshape(-1) must be a view)
    src = np.asarray(source._array() if isinstance(source, Tensor) else source)
    src = src.reshape(-1).astype(out.dtype)
    if accumulate:
        np.add.at(out.reshape(-1), flat, src)
    else:
        out.reshape(-1)[flat] = src
    return Tensor._wrap(out, x._dtype)


def _write_inplace(self, flat, source, accumulate, name, others, op="index_put",
                   overlap="any", shared=None, in_order=False):
    """self[flat positions] = source in place (`_written`): recorded (torch's node `name`,
    edges to self's previous grad_fn and `others`) when self or source needs history.
    `overlap`: Tensor._inplace's (index_put_'s and put_'s check of any shared memory);
    `shared` too.  `in_order`: written in row-major order where source shares memory with
    self (overlap.put_in_torch_order)."""
    done = put_in_torch_order(self._array(), flat, source._array()) \
        if in_order and not accumulate and not STATE.tape.recording else None

    def value(arr, _):
        if done is not None:
            return done
        return _written(Tensor._wrap(arr, self._dtype), flat, source, accumulate, op)._array()

    def recorded(x, s):
        s = s if isinstance(s, Tensor) else source
        if done is not None:   # (the values written, the gradient the source's own)
            seen = done.reshape(-1)[np.asarray(flat, np.int64).reshape(-1)]
            s = _binary(OPS["straight_through"].code, s,
                        Tensor._wrap(seen.reshape(np.shape(flat)), s._dtype))
        return _written(x, flat, s, accumulate, op)
    src = source if isinstance(source, Tensor) else None
    return _named_inplace(self, lambda: self._inplace(value, src, recorded, overlap=overlap,
                                                      shared=shared), name, others)


def _write_new(self, flat, source, accumulate, name, others, op="index_put", base=None):
    """The out-of-place form: a new tensor (of `base`, self broadcast, if given), shown as
    torch's node `name` with edges to self's grad_fn and `others`.  Without `base` it has
    self's layout (torch writes into a clone(preserve) of self: layouts.preserving)."""
    r = _written(self if base is None else base, flat, source, accumulate, op)
    if base is None:   # (a fresh result: nothing but its tape holds its array)
        r._v = layouts.preserving(self._array(), r._v)
    if r._tape is not None:
        _show(r, name, (edge_of(self, r._tape),) + tuple(edge_of(o, r._tape) for o in others))
    return r


def _check_same_dtype(self, src, what):
    if src._dtype is not self._dtype:
        raise RuntimeError(f"{what} requires the source and destination dtypes match, got "
                           f"{self._dtype.legacy} for the destination and {src._dtype.legacy} "
                           f"for the source.")


_INDEX_DTYPES = tuple(getattr(D, n) for n in ("int64", "int32", "bool_", "uint8") if hasattr(D, n))


def _index_positions(self, indices, in_range=False):
    """Flat row-major positions of self[indices] (a tuple or list of index tensors: long,
    int, bool or byte; checked by _index_put_args), shaped as the indexing result.
    `in_range`: each integer index read as 0 (the result's shape where an index is out of
    range: torch checks the range last)."""
    key = []
    shape = list(self._shape)
    at = 0
    for k in indices:
        if k._recorded:
            _bake(k, "guard_value")     # (indices are constants of a recorded tape)
        if k._dtype is D.bool_ or k._dtype is D.uint8:
            key.append(k._array().astype(bool))
            at += k.dim()
            continue
        a = k._array()
        if in_range:
            a = np.zeros(a.shape, np.int64)
            shape[at] = max(shape[at], 1)
        key.append(a)
        at += 1
    grid = np.arange(int(np.prod(shape))).reshape(shape)
    try:
        pos = grid[tuple(key)]
    except IndexError as e:
        msg = str(e)
        if msg.startswith("shape mismatch: indexing arrays could not be broadcast"):
            msg = _index_message(self, tuple(indices), msg)
        raise IndexError(msg.replace(" for axis ", " for dimension ")) from None
    return pos


@tensor_methods
class _InplacePositionsMethods:
    """fill_diagonal_, index_put_/index_put, put_/put, masked_scatter_/masked_scatter."""

    def fill_diagonal_(self, fill_value, wrap=False):
        nd = self.dim()
        if nd < 2:
            raise RuntimeError("dimensions must larger than 1")
        shape = self._shape
        if nd > 2 and len(set(shape)) != 1:
            raise RuntimeError("all dimensions of input must be of equal length")
        if isinstance(fill_value, Tensor):
            fill_value = fill_value.item()
        fill_value = D.checked(fill_value, self._dtype)   # (torch's checked conversion)
        h, w = shape[0], shape[1]
        size = min(shape)
        flat = np.ravel_multi_index((np.arange(size),) * nd, shape) if size else \
            np.zeros(0, np.int64)
        if wrap and nd == 2 and h > w + 1:
            if not self.is_contiguous():
                raise NotImplementedError("tapegrad: fill_diagonal_(wrap=True) of a tall "
                                          "non-contiguous matrix (torch steps through its "
                                          "memory) is not implemented")
            flat = np.arange(0, self.numel(), w + 1)
        if STATE.enabled and self._recorded and self._tape is None:
            # (torch fills a diagonal view of it)
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
        main, rest = flat[:size], flat[size:]
        _write_inplace(self, main, np.full(len(main), fill_value).astype(self._dtype.np),
                       False, "CopySlices", (), op="copy_slices")
        if len(rest):   # torch fills the wrapped part as a second view: a second change
            _write_inplace(self, rest, np.full(len(rest), fill_value).astype(self._dtype.np),
                           False, "CopySlices", (), op="copy_slices")
        return self

    # (their torch nodes save the indices, index or mask: tape.saves_indices)
    def index_put_(self, indices, values, accumulate=False):
        record = isinstance(values, Tensor) and \
            self._check_inplace(values)   # (torch's autograd checks come before the kernel's)
        pos, src = _index_put_args(self, indices, values, accumulate, inplace=True)
        if not record and shares_elements(self):
            # (an expand's view: torch's deprecated write, warned; positions in turn)
            at = np.unravel_index(pos.reshape(-1), self._shape)
            vals = src._array().reshape(-1).astype(self._dtype.np)
            if write_expanded(self, ("index_put_",), lambda alias: np.add.at(alias, at, vals)
                              if accumulate else alias.__setitem__(at, vals)):
                return self
        # (one-element indices: torch's kernel writes in row-major order, each element
        # reading what the earlier ones wrote where the values share self's memory)
        single = all(isinstance(k, Tensor) and k.numel() == 1 and not k._dtype.is_floating_point
                     and k._dtype is not D.bool_ for k in indices)
        return saves_indices(_write_inplace(self, pos, src, accumulate, "IndexPutBackward0",
                                            (values,), shared=("index_put_",), in_order=single),
                             indices)

    def index_put(self, indices, values, accumulate=False):
        return saves_indices(_write_new(
            self, *_index_put_args(self, indices, values, accumulate), accumulate,
            "IndexPutBackward0", (values,)), indices)

    def put_(self, index, source, accumulate=False):
        return saves_indices(_write_inplace(self, *_put_args(self, index, source), accumulate,
                                            "PutBackward0", (source,)), (index,))

    def put(self, index, source, accumulate=False):
        return saves_indices(_write_new(self, *_put_args(self, index, apart(self, source)),
                                        accumulate,
                                        "PutBackward0", (source,)), (index,))

    def masked_scatter_(self, mask, source):
        _tensor_operand("masked_scatter_", mask, 1, "mask")
        _tensor_operand("masked_scatter_", source, 2, "source")
        if isinstance(mask, Tensor) and mask._shape != self._shape:
            mask.detach().expand(*self._shape)      # (torch's expand error)
        # (torch's masked_scatter_ checks no overlap of source)
        return saves_indices(_write_inplace(self, *_masked_scatter_args(self, mask, source),
                                            False, "MaskedScatterBackward0", (source,),
                                            overlap=False), (mask,))

    def masked_scatter(self, mask, source):
        _tensor_operand("masked_scatter", mask, 1, "mask")
        _tensor_operand("masked_scatter", source, 2, "source")
        return masked_scatter(self, mask, source)


def _index_put_args(self, indices, values, accumulate, inplace=False):
    """(positions, source) for index_put_/index_put, their errors in torch's order: the
    arguments' types, no indices, too many; then _index_put_impl_'s masked_fill_ dispatch (a
    lone mask and a one-element value: the mask's shape checked, the value read as a number,
    so no dtype or overlap check); the overlap of self (in place) with values and each index;
    make_info's index dtypes, mask shapes and broadcast; the value's shape, its dtype; and
    the kernel's index range last."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put_(): argument 'indices' (position 1) must be tuple of "
                        f"Tensors, not {type(indices).__name__}")
    for pos, k in enumerate(indices):
        if not isinstance(k, Tensor):
            raise TypeError(f"expected Tensor as element {pos} in argument 0, but got "
                            f"{type(k).__name__}")
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put_(): argument 'values' (position 2) must be Tensor, not "
                        f"{errors.type_name(values)}")
    if not indices:
        raise RuntimeError(_no_indices(self, values, accumulate))
    if len(indices) > self.dim():
        raise IndexError(f"too many indices for tensor of dimension {self.dim()} (got "
                         f"{len(indices)})")
    fill = not accumulate and values.numel() == 1 and len(indices) == 1 and \
        indices[0]._dtype in (D.bool_, D.uint8)
    if fill:
        _check_masks(self, indices)
        if indices[0]._dtype is D.uint8:
            raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with "
                               "dtype unsigned char")
        pos = _index_positions(self, indices)
        src = values if values._dtype is self._dtype else values.to(self._dtype)
        return pos, (src.reshape(()) if src._shape else src).expand(pos.shape)
    if inplace:   # (index_put: torch's clone of self is written, which nothing overlaps)
        no_overlap(self, values, *indices)
    for k in indices:
        if k._dtype not in _INDEX_DTYPES:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    _check_masks(self, indices)
    out_of_range = None
    try:
        pos = _index_positions(self, indices)
    except IndexError as e:   # (torch's kernel checks the range: after the value's checks)
        if "out of bounds" not in str(e):
            raise
        if _indexes_empty_dim(self, indices):   # (make_info's check: before the value's)
            raise IndexError("index is out of bounds for dimension with size 0") from None
        out_of_range = e
        pos = _index_positions(self, indices, in_range=True)
    try:
        src = values.expand(pos.shape) if values._shape != pos.shape else values
    except RuntimeError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values._shape)} "
                           f"cannot be broadcast to indexing result of shape "
                           f"{list(pos.shape)}") from None
    _check_same_dtype(self, values, "Index put")
    if out_of_range is not None:
        if pos.size:   # (the kernel checks each element it writes: an empty result, none)
            raise out_of_range
    return pos, src


def _indexes_empty_dim(self, indices):
    """Whether an integer index of some elements (once broadcast with the others: they
    broadcast, _index_positions has indexed with them) indexes a dim of size 0."""
    at, empty, shapes = 0, False, []
    for k in indices:
        if k._dtype is D.bool_ or k._dtype is D.uint8:
            shapes.append((int(np.count_nonzero(k._array())),))
            at += k.dim()
        else:
            shapes.append(k._shape)
            empty = empty or self._shape[at] == 0
            at += 1
    return empty and 0 not in np.broadcast_shapes(*shapes)


def _check_masks(self, indices):
    """torch's check of each mask index against the dims of self it indexes (a mask counts
    its dims, any other index one), named at the mask's first differing dim."""
    at = 0
    for k in indices:
        if k._dtype is not D.bool_ and k._dtype is not D.uint8:
            at += 1
            continue
        for j, n in enumerate(k._shape):
            if at + j >= self.dim():
                raise IndexError(f"Dimension out of range (expected to be in range of "
                                 f"[{-max(self.dim(), 1)}, {max(self.dim(), 1) - 1}], but got "
                                 f"{at + j})")
            if n != self._shape[at + j]:
                raise IndexError(f"The shape of the mask {list(k._shape)} at index {j} does "
                                 f"not match the shape of the indexed tensor "
                                 f"{list(self._shape)} at index {at + j}")
        at += k.dim()


def _no_indices(self, values, accumulate):
    """torch's error for index_put with no indices at all (x.index_put_((), v)): its kernel
    is reached with none, and fails by what it was given."""
    if accumulate or values.numel() != 1:
        return ('ntensor >= 3 INTERNAL ASSERT FAILED at "/__w/pytorch/pytorch/aten/src/ATen/'
                'native/cpu/IndexKernelUtils.h":8, please report a bug to PyTorch. ')
    if not self._shape:
        return ("masked_fill_ only supports boolean masks, but got mask with dtype nullptr "
                "(uninitialized)")
    return "sym_strides() called on an undefined Tensor"


def _put_args(self, index, source):
    if not isinstance(index, Tensor) or index._dtype is not D.int64:
        got = index._dtype.legacy if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {got}")
    if source._dtype is not self._dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but "
                           f"got self.dtype = {self._dtype.legacy} and source.dtype = "
                           f"{source._dtype.legacy}")
    if index.numel() != source.numel():
        raise IndexError(f"put_(): Expected source and index to have the same number of "
                           f"elements, but got source.numel() = {source.numel()}, "
                           f"index.numel() = {index.numel()}")
    n = self.numel()
    flat = index._array().reshape(-1).astype(np.int64)
    bad = (flat >= n) | (flat < -n)
    if bad.any():
        raise IndexError(f"out of range: tried to access index {int(flat[bad][0])} on a tensor "
                         f"of {n} elements.")
    return np.where(flat < 0, flat + n, flat), source.reshape(-1)


def _masked_scatter_args(self, mask, source):
    """(positions, source's first elements) for self.masked_scatter_(mask, source), mask
    broadcast to self's shape."""
    if not isinstance(mask, Tensor) or mask._dtype is not D.bool_:
        got = mask._dtype.legacy if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask "
                           f"with dtype {got}")
    if source._dtype is not self._dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same "
                           f"dtypes but got{self._dtype.legacy} and {source._dtype.legacy}")
    if mask._recorded:
        _bake(mask, "guard_value")               # (a constant of a recorded tape)
    flat = np.flatnonzero(np.broadcast_to(mask._array(), self._shape))
    if len(flat) > source.numel():
        raise RuntimeError("Number of elements of source < number of ones in mask")
    return flat, source.reshape(-1)[:len(flat)]


def masked_scatter(input, mask, source):
    """input with source's first elements written, in order, where mask is True (input and
    mask broadcast; MaskedScatterBackward0)."""
    for pos, (name, v) in enumerate((("input", input), ("mask", mask), ("source", source)), 1):
        _tensor_operand("masked_scatter", v, pos, name)
    shape = np.broadcast_shapes(input._shape, mask._shape)
    base = input.expand(*shape) if shape != input._shape else input
    return _write_new(input, *_masked_scatter_args(base, mask, apart(input, source)), False,
                      "MaskedScatterBackward0", (source,), base=base)


def index_put(input, indices, values, accumulate=False):
    """input with values written at input[indices] (added with accumulate; IndexPutBackward0)."""
    return input.index_put(indices, values, accumulate)


# ---- arithmetic in place through the out-of-place ops ----------------------------------------
def copysign(input, other):
    """|input| with the sign of other (either may broadcast; other may be a number):
    CopysignBackward0 (CopysignBackward1 for a number): one entry of row copysign."""
    if not isinstance(input, Tensor):
        raise TypeError(f"copysign(): argument 'input' (position 1) must be Tensor, not "
                        f"{errors.type_name(input)}")
    dt = D.result_type(_operand(input), _operand(other))
    if not dt.is_floating_point:
        dt = D.get_default_dtype()
    tensor = isinstance(other, Tensor)
    b = np.asarray(other._array() if tensor else other).astype(dt.np)
    a = input._array().astype(dt.np)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        _check_broadcast(a.shape, b.shape)
        raise
    recorded = STATE.enabled and (input._recorded or tensor and other._recorded)
    if not recorded:
        return Tensor._wrap(np.array(np.broadcast_to(np.copysign(a, b), shape), dt.np), dt)
    # (an integer tensor in dt first; a float one as it is: _binary reads a narrower one
    # widened, a wider 0-d one through its hidden cast, as torch's node its input itself)
    x = input if input._dtype.is_floating_point else input.to(dt)
    o = (other if other._dtype.is_floating_point else other.to(dt)) if tensor else float(b)
    return _binary(_COPYSIGN, x, o)


_COPYSIGN = OPS["copysign"].code


@tensor_methods
class _InplaceArithmeticMethods:
    """copysign/copysign_, float_power_, addmm_, polygamma_, mvlgamma_, conj_physical_,
    igamma/igamma_, igammac/igammac_."""

    def copysign(self, other):
        return copysign(self, other)

    def copysign_(self, other):
        errors.check_promotion(self, other, true_divide=True)   # (the output's, first)
        return self._inplace(np.copysign, other, Tensor.copysign)

    def float_power_(self, exponent):
        if self._dtype is not D.float64:
            raise RuntimeError(f"the base given to float_power_ has dtype {self._dtype.legacy} "
                               f"but the operation's result requires dtype Double")
        plain = exponent.detach() if isinstance(exponent, Tensor) else exponent

        def value(arr, _):
            return float_power(Tensor._wrap(np.array(arr, copy=True), self._dtype), plain)._array()
        return self._inplace(value, exponent, float_power)

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        self._check_inplace()                 # (torch's leaf error first)
        # (mat1 @ mat2's own shape check comes first, in addmm below, as torch's)
        if isinstance(mat1, Tensor) and isinstance(mat2, Tensor) and mat1.dim() == 2 \
                and mat2.dim() == 2 and mat1._shape[1] == mat2._shape[0] \
                and self._shape != (mat1._shape[0], mat2._shape[1]):
            raise RuntimeError(f"Bad in-place call: input tensor size {list(self._shape)} and "
                               f"output tensor size {[mat1._shape[0], mat2._shape[1]]} should "
                               f"match")
        return _inplace_product(self, addmm, (mat1, mat2), beta, alpha)

    @parsed("polygamma_", method=True)   # (its argument errors: torch's parser's)
    def polygamma_(self, n):
        # (through a clone: polygamma's entry reads x as its second operand, after n)
        run = lambda: _inplace_decomp(self, Tensor.polygamma, n)  # noqa: E731
        return _named_inplace(self, run, "PolygammaBackward1")

    @parsed("mvlgamma_", method=True)
    def mvlgamma_(self, p):
        if not self._dtype.is_floating_point:     # (torch's words)
            raise RuntimeError(f"mvlgamma: result type {self._dtype.legacy} can't be cast to "
                               f"the desired output type {D.get_default_dtype().legacy}")
        return _inplace_decomp(self, Tensor.mvlgamma, p, _clone=False)

    def conj_physical_(self):
        """A real tensor's conjugate is itself: recorded as a copy (ConjPhysicalBackward1)."""
        run = lambda: self._inplace(lambda a, _: a, None, lambda x, _: x.clone())  # noqa: E731
        return _named_inplace(self, run, "ConjPhysicalBackward1")

    def igamma(self, other):
        return gammainc(self, other)

    def igamma_(self, other):
        return self._igamma_inplace("igamma_", gammainc, other, "IgammaBackward0")

    def igammac(self, other):
        return gammaincc(self, other)

    def igammac_(self, other):
        return self._igamma_inplace("igammac_", gammaincc, other, "IgammacBackward0")

    def _igamma_inplace(self, method, fn, other, name):
        _tensor_operand(method, other, 1)
        run = lambda: _inplace_decomp(self, fn, other, _inputs=(other,))  # noqa: E731
        return _named_inplace(self, run, name, (other,))


# ---- Python callables, elementwise (torch: CPU only, no autograd, no version bump) ------------
def _no_grad_callable(self, name):
    if self.requires_grad:
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use "
                           f"var.detach().{name}() instead.")


def _call_each(self, fn, *others):
    """self's elements replaced by fn(self's element, others' elements...) (Python numbers
    of each tensor's kind), cast to self's dtype as torch's."""
    arr = self._materialize()
    cols = [arr.reshape(-1).tolist()] + [
        np.broadcast_to(o._array(), self._shape).reshape(-1).tolist() for o in others]
    out = [fn(*vals) for vals in zip(*cols)]
    for v in out:
        if not isinstance(v, (bool, int, float, np.number)):
            raise TypeError(f"must be real number, not {type(v).__name__}")
    res = np.asarray(out, np.float64 if self._dtype.is_floating_point else object)
    if not self._dtype.is_floating_point:
        res = np.array([int(v) if self._dtype is not D.bool_ else bool(v) for v in out],
                       self._dtype.np)
    if type(self._v) is float:
        self._v = float(res[0]) if res.size else self._v
    else:
        arr[...] = res.reshape(self._shape).astype(self._dtype.np)
    self._lserial = 0
    return self


def _other_for_map(self, other, name):
    if other._dtype is not self._dtype:
        raise TypeError(f"{name}: expected {_type_name(self)} for 'other' (got "
                        f"{_type_name(other)})")
    if not _broadcasts(other._shape, self._shape) or \
            np.broadcast_shapes(other._shape, self._shape) != self._shape or \
            other.dim() > self.dim():
        other.expand(*self._shape)        # (torch's expand error)
    return other


def _type_name(t):
    return f"tapegrad.{t._dtype.legacy}Tensor"


@tensor_methods
class _CallableMethods:
    """apply_, map_, map2_: a Python callable per element, in place (no autograd)."""

    def apply_(self, callable):
        _no_grad_callable(self, "apply_")
        return _call_each(self, callable)

    def map_(self, tensor, callable):
        _no_grad_callable(self, "map_")
        return _call_each(self, callable, _other_for_map(self, tensor, "map_"))

    def map2_(self, x, y, callable):
        _no_grad_callable(self, "map2_")
        return _call_each(self, callable, _other_for_map(self, x, "map2_"),
                          _other_for_map(self, y, "map2_"))


# ---- sizes in place: resize_, resize_as_, as_strided_ ----------------------------------------
@tensor_methods
class _ResizeMethods:
    """resize_ as far as tapegrad's memory model (an array per tensor, views sharing it) makes
    it exact: no more elements than now (a view of the first ones), or from an empty tensor;
    growing a non-empty one (torch moves every view of its storage along) and as_strided_ (a
    tensor's place in its storage) raise NotImplementedError."""

    def resize_(self, *sizes, memory_format=None):
        # (torch's int[] parser: a float, a bool or a float tensor is refused)
        sizes = _int_list(sizes, "resize_", "size", ok=_is_int_item)
        layouts.check("resize_", None, None, memory_format)
        if self.requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        for s in sizes:
            if s < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                                   f"{list(sizes)}")
        if memory_format is layouts.preserve_format:
            raise RuntimeError("Unsupported memory formatPreserve")
        layouts.check("resize_", len(sizes), None, memory_format)   # (the layout: C order)
        n = int(np.prod(sizes)) if sizes else 1
        have = self.numel()
        if n > have and have:
            raise NotImplementedError(
                "tapegrad: resize_ to more elements than a non-empty tensor has is not "
                "implemented (torch grows the storage that every view of it shares; tapegrad "
                "keeps one array per tensor)")
        if n <= have and not self.is_contiguous():
            raise NotImplementedError("tapegrad: resize_ of a non-contiguous tensor (torch "
                                      "reads its storage in memory order) is not implemented")
        if n > have:                         # from empty: new memory (torch's: uninitialized)
            self._v = np.zeros(sizes, self._dtype.np)
        else:
            arr = self._materialize()
            self._v = arr.reshape(-1)[:n].reshape(sizes)
        self._shape = tuple(sizes)
        self._lserial = 0
        bump_version(self)
        return self

    def resize_as_(self, the_template, memory_format=None):
        layouts.check("resize_as_", None, None, memory_format)
        if memory_format is not layouts.preserve_format:   # (preserve: the template's)
            layouts.check("resize_as_", len(the_template.shape), None, memory_format)
        return self.resize_(the_template.shape)

    def as_strided_(self, size, stride, storage_offset=None):
        raise NotImplementedError("tapegrad: as_strided_ is not implemented (it places a tensor "
                                  "at an offset and strides in its storage; tapegrad has no "
                                  "storage behind its arrays)")
