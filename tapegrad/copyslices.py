"""In-place ops through a view that need history: torch's `CopySlices` rebase of the base.

`v = y[0]; v.mul_(w)` is recorded out of place on the base, in three entries:

    fresh = y_old gathered at v's positions      (index: IndexBackward0, internal)
    r     = fresh * w                            (the op itself)
    y_new = where(not v's positions, y_old, r scattered to them)   (CopySlices)

The new values are written into the shared memory (so every alias sees them), the base moves
to the CopySlices entry and the view to an `as_strided` gather of it (AsStridedBackward0), as
torch regenerates a view's grad_fn.  The positions are read from the memory layout, so views
of views (and bases in any layout) are handled the same way.  Other views of the base taken
before the change keep their old node: a backward through one of them is refused by the
version check (`Tape.rebased`), not differentiated through the old graph.
"""
import numpy as np

from .errors import TracingError, _cast_error, _inplace_shape_error
from .graph import _input_fn, edge_data, Node, node_for, output_nr, record_fn, resolve_edges
from .memory_positions import view_positions
from .ndops import _binary, narrowed, where, wider_float
from .ops import OPS
from .recording import _record_start, _result
from ._signals import COMMIT
from .tape import bump_version, defer_retained, follow_retained, input_node, invalid_view, let_go, \
    multi_view_rebased, NO_GRAD_VIEWS_MADE, PENDING_VIEW, read_as_saved, refuse_rebased_view, \
    registered_views, retain, STATE, view_base, WITHOUT_GRAD
from .tensor import NODIFF, RETAINS, Tensor, tensor_methods
from . import dtypes as D, errors, groups
from .views import index_scatter, made_without_grad



def _gather(name, x, flat, shape):
    """x's elements at flat positions `flat`, shaped `shape`; recorded when x is."""
    out = np.ascontiguousarray(x._array()).reshape(-1)[flat].reshape(shape)
    tape = _record_start(x)
    if tape is None:
        return Tensor._wrap(out, x._dtype)
    t = _result(out, x._dtype, tape, OPS[name].code, input_node(tape, x), -1, 0.0)
    tape.add_params(t._node, flat)
    return t


# NOTE: where a position is written more than once (x[idx] = v, index_put_ with a repeated
# index), torch's CPU kernel keeps the last write in index order (single-threaded; its split of
# a large write across threads leaves it unspecified), yet gives every written element the
# gradient of its position.  The written value is then straight_through(sum of all writes,
# last write): the last's value, the sum's gradient.
def scatter_written(values, shape, flat, last=None, name="index_scatter"):
    """`values` (flat, recorded) placed at flat positions `flat` of a tensor of `shape` (zeros
    elsewhere), a repeated position holding its last write (or the write `last` names for
    each position, in the order of np.unique(flat)); `name`: index_scatter's row."""
    scattered = index_scatter(values, shape, flat, name)
    positions, from_end = np.unique(flat[::-1], return_index=True)
    if positions.size == flat.size:
        return scattered
    if last is None:
        last = flat.size - 1 - from_end
    put = index_scatter(_gather("index", values, last, last.shape), shape, positions, name)
    return _binary(OPS["straight_through"].code, scattered, put)


def _changed_last(flat, old, new):
    """For each position of np.unique(flat), the index of the write that stays: the last
    that changed its element (bit for bit: torch's fill_, index_put_, masked_fill_ write only
    those, or all the same number), else the last."""
    n = flat.size
    a = np.ascontiguousarray(old).reshape(n, -1).view(np.uint8)
    b = np.ascontiguousarray(new).reshape(n, -1).view(np.uint8)
    order = np.lexsort((np.arange(n), (a != b).any(axis=1), flat))
    ends = np.append(np.flatnonzero(np.diff(flat[order])), n - 1)
    return order[ends]


class CopySlices(Node):
    """The base's grad_fn after an in-place op through a view: its edges are the base's
    previous grad_fn and the op's other inputs (torch's CopySlices wraps the op's node); as
    data (graph.edge_data), made into nodes when asked for."""
    __slots__ = ("_edges",)
    __module__ = "builtins"   # (torch's C++ node: type(fn).__module__ is builtins)

    @property
    def next_functions(self):
        return resolve_edges(self._tape, self._edges)

    def _restore(self, data):
        self._edges = data


def edge_of(t, tape):
    """The (grad_fn, output_nr) pair of tensor t as an operand recorded on `tape` (torch's
    next_functions entry: (None, 0) for what needs no gradient)."""
    if not isinstance(t, Tensor) or not t._recorded:
        return (None, 0)
    if t._tape is None and t._lserial != tape.serial:
        return (None, 0)
    node = t._lnode if t._tape is None else t._node
    src = tape if t._tape is None else t._tape
    return (_input_fn(src, node), output_nr(src, node))


def edges_as_torch(t, old_edge, value):
    """Give t's entry (a recorded `x[key] = value`) torch's edges: x's previous grad_fn and
    the value's (not the scatter tapegrad records in between)."""
    tape = t._tape
    cls = _edged_class(type(node_for(tape, t._node)).__name__)
    # (x.add_(x, alpha=2): the value is x as it was, whose node is no longer t's)
    record_fn(tape, t._node, cls, edge_data(tape, (
        old_edge, old_edge if value is t else edge_of(value, tape))))


_EDGED = {}


def _edged_class(name):
    cls = _EDGED.get(name)
    if cls is None:
        cls = _EDGED[name] = type(name, (CopySlices,), {"__slots__": (),
                                                      "__module__": "builtins"})
    return cls


def inplace_on_view(self, method, other, through=False, shared=None):
    """self (a view) = method(self, other), recorded on self's base (see the module text);
    `through`: written through a view of self (x[key] = v), which torch's op changes.
    `shared`: for a view whose elements share memory (an expand's), written by an op torch
    lets do so (fill_, zero_, index_put_, ...), shared(base) is the base as the entries read
    it (see shared_write)."""
    base = view_base(self)
    if getattr(self, "_flags", 0) & NODIFF and not getattr(base, "_flags", 0) & NODIFF:
        # (only while recording is a detach() a view): torch changes the base's value and
        # keeps its history, which a CopySlices entry would differentiate through
        raise TracingError(errors.UNRECORDED_CHANGE)
    if isinstance(other, Tensor) and other._dtype is not self._dtype \
            and self._dtype.is_floating_point \
            and D.torch_result_type(self, other) is self._dtype:
        other = read_as_saved(other.to(self._dtype), other)   # (as _inplace_recorded's)
    flat = view_flat_positions(base, self, shared is not None)
    source = base if shared is None else shared(base)
    fresh = _gather("view_gather", source, flat, self._shape)
    r = method(fresh, other)
    if r._dtype is not self._dtype and wider_float(r, self):   # (as _inplace_recorded's)
        r = narrowed(r, self._dtype)
    if r._dtype is not self._dtype:
        raise _cast_error(r._dtype, self._dtype)
    if r._shape != self._shape:
        raise _inplace_shape_error(self._shape, r._shape)
    rest = node_for(r._tape, r._node).next_functions
    rest = rest[1:] if int(r._tape.ia[r._node]) >= 0 else rest

    def edges(tape):
        if rest and isinstance(other, Tensor):   # the operand itself, not a cast or alpha * it
            return (edge_of(other, tape),) + tuple(rest[1:])
        return rest
    if shared is None:
        return rebase_on_view(self, base, flat, r, edges, write=True, through=through)
    last = _changed_last(flat, fresh._array(), r._array())
    return rebase_on_view(self, base, flat, r, edges, write=True, through=through,
                          source=source, last=last)


def view_flat_positions(base, view, shared=False):
    """The view's flat positions in its base; torch's error where they overlap (unless
    `shared`: a write torch lets into elements sharing memory)."""
    flat = view_positions(base._materialize(), view._v).reshape(-1)
    if flat.size and (flat.min() < 0 or not shared and len(np.unique(flat)) != flat.size):
        raise RuntimeError(errors.OVERLAP_ERROR)
    return flat


def rebase_on_view(self, base, flat, r, edges, write=False, through=False, source=None,
                   last=None):
    """View `self` of `base` (at flat positions `flat`) now holds the value of recorded
    tensor r (written into the shared memory here with `write`, else already there): the
    base moves to a CopySlices entry (its old value where the view is not, r where it is;
    `edges(tape)`: the edges torch's CopySlices shows after the base's old one) and the view
    to an `as_strided` gather of it.  For a view whose elements share memory (repeated
    positions), `source` is the base as the entries read it and `last` the write each
    position keeps (scatter_written)."""
    keep = np.ones(base._shape, bool)
    keep.reshape(-1)[flat] = False
    rv = r if r._dtype is base._dtype else r.to(base._dtype)
    if last is None:
        written = index_scatter(rv.reshape(-1), base._shape, flat, "view_scatter")
    else:
        written = scatter_written(rv.reshape(-1), base._shape, flat, last, "view_scatter")
    new = where(Tensor._wrap(keep, D.bool_), base if source is None else source, written,
                _op="copy_slices")
    tape = new._tape
    old_edge = edge_of(base, tape)
    data = edge_data(tape, (old_edge,) + tuple(edges(tape)))
    view = _gather("as_strided", new, flat, self._shape)
    with COMMIT:   # (a Ctrl-C must not leave the new value under the old nodes or versions)
        if write and last is not None:   # (the view is read-only: numpy's for a stride 0)
            base._materialize()[...] = new._array()
        elif write:
            self._v[...] = r._array()
        _move_on(self, base, tape, new, view, data, through)
    return self


def _move_on(self, base, tape, new, view, data, through=False):
    """rebase_on_view's commit: the base and the view move on to their new entries."""
    record_fn(tape, new._node, CopySlices, data)
    if base._tape is not None:
        base._tape.rebased[base._node] = base._tape.n
    if self._tape is not None:
        self._tape.rebased[self._node] = self._tape.n
    if self._tape is not None:   # the view's old node: a backward expects its old version
        self._tape.watch(self._node, self)
    bump_version(base)
    moved = [(t, t._tape, getattr(t, "_node", -1)) for t in (base, self)]
    base._tape, base._node, base._recorded, base._lserial = tape, new._node, True, 0
    tape.watch(base._node, base)
    self._tape, self._node, self._recorded, self._lserial = view._tape, view._node, True, 0
    for t, old_tape, old_node in moved:
        # (written through a view of self, x[key] = v: torch's op changes that view, and
        # makes self's grad_fn again at its next read, as another view's)
        (defer_retained if through and t is self else follow_retained)(t, old_tape, old_node)
    view._tape.watch(self._node, self)
    regenerate_views(base, self)


def regenerate_views(base, done=None):
    """After a recorded in-place op moved `base` to a new entry: each view of it (but `done`)
    becomes an `as_strided` gather of the new node (torch: AsStridedBackward0); its earlier
    uses keep the old node, which held the value they read."""
    for u in registered_views(base):
        if u is done or view_base(u) is not base:
            continue
        # (a view made of data before the base took a gradient: torch makes its grad_fn at its
        # first read, AsStridedBackward0 of the base then, PENDING_VIEW below; one made without
        # grad mode or a piece of unbind / split / chunk of a base without grad is regenerated
        # and refused, as torch refuses its use: without_grad_rebased)
        if u._tape is None and not u._recorded and not made_without_grad(u):
            # a view made of data: torch's grad_fn is made at its first read, from the base
            # as it is then (tape.PENDING_VIEW); until then it requires grad, without one
            u._recorded, u._lserial = True, 0
            u._flags = getattr(u, "_flags", 0) | PENDING_VIEW
            NO_GRAD_VIEWS_MADE[0] += 1
            continue
        if u._tape is None and u._recorded:
            continue
        refused = u._tape is None and made_without_grad(u) and without_grad_rebased(u)
        if u._tape is None and made_without_grad(u) and refused is None:
            continue
        rebased = multi_view_rebased(u) if not refused else None
        if rebased is not None:
            # torch's piece of unbind / split made with grad mode on (MULTI_OUTPUT_NODE) is
            # not regenerated: its use fails (at the backward that reads it, as a view this
            # module could not regenerate: Tape.check_versions; and at its next use with
            # grad mode on, which imports it into a new tape: Tape.import_node)
            refuse_rebased_view(u._tape, u._node, rebased)
            if not u._tape.recording:
                let_go(u._tape)
            continue
        pos = view_positions(base._v, u._v).reshape(-1)
        if pos.size and pos.min() < 0:   # no longer in the base's memory (`.data = ...`)
            continue
        g = _gather("as_strided", base, pos, u._shape)
        old_tape, old_node = u._tape, getattr(u, "_node", -1)
        u._tape, u._node, u._recorded, u._lserial = g._tape, g._node, True, 0
        g._tape.watch(u._node, u)
        # (torch moves a view's retains-grad hook to the grad_fn it makes again at the
        # view's next read: tape.defer_retained)
        defer_retained(u, old_tape, old_node)
        if refused:
            # torch's view now requires grad, but its grad_fn and its uses raise: a backward
            # reading it fails, and its next use imports it into a new tape, which raises
            invalid_view(u, refused)
            refuse_rebased_view(u._tape, u._node, refused)
            if not u._tape.recording:
                let_go(u._tape)


def _used_since(t, c):
    """Whether stale view t was read since its memory changed: the open tape imported it at
    the count now, keeping its old node (Tape.regenerated_view makes a use's node again where
    it can; where it cannot, retain_grad keeps the node that use read)."""
    now = STATE.tape
    n = now.import_of.get((t._tape.serial, t._node)) \
        if now is not t._tape and not now.sealed else None
    w = now.versions.get(n) if n is not None else None
    return w is not None and w[1] == c[0]


def without_grad_rebased(u):
    """torch's error for the use of view u, made with grad mode off (or a piece of unbind /
    split / chunk of a tensor without grad), once its base changed in place with grad mode
    on; None for the other views torch tells apart (inference mode's, a custom Function's)."""
    made = WITHOUT_GRAD.get(id(u))
    if made[1] is errors.NO_GRAD_VIEW_INPLACE:
        return errors.NO_GRAD_VIEW_REBASED + errors.NO_GRAD_VIEW_FORBIDDEN
    if made[1] is errors.MULTI_OUTPUT_VIEW_INPLACE:
        return made[1].format(prefix=errors.NO_GRAD_VIEW_REBASED)
    return None


@tensor_methods
class _ViewMethods:
    """torch's view introspection: `_base` and `_is_view()`; retain_grad (which makes a view
    changed without an entry again, as torch's grad_fn access does)."""

    def retain_grad(self):
        if not self._recorded:
            raise RuntimeError(errors.RETAIN_NO_GRAD)
        if self._tape is None or getattr(self, "_flags", 0) & RETAINS:
            return
        tape, node = self._tape, self._node
        w = tape.versions.get(node)
        base = view_base(self)
        if w is not None and w[1] != w[0][0] and STATE.enabled and base is not None and \
                base._recorded and tape._differentiable_view(node) and \
                groups.row_at(tape, node) < 0 and not _used_since(self, w[0]):
            # a view whose memory changed by an op with no entry (under no_grad) still holds
            # its old node, which its uses before the change read; torch makes its grad_fn
            # again (AsStridedBackward0 of its base) at its first use since, here, and hooks
            # that: only the uses from now on reach its .grad
            pos = view_positions(base._materialize(), self._v).reshape(-1)
            if not pos.size or pos.min() >= 0:
                g = _gather("as_strided", base, pos, self._shape)
                self._tape, self._node, self._lserial = g._tape, g._node, 0
                g._tape.watch(self._node, self)
        self._flags = getattr(self, "_flags", 0) | RETAINS
        retain(self)

    @property
    def _base(self):
        return view_base(self)

    def _is_view(self):
        return view_base(self) is not None
