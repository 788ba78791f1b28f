"""Ops that move elements without arithmetic: reshape/view/(un)squeeze/clone, strided
views (transpose, permute, expand, slicing), indexing, the scatters that are their adjoints,
`cat` and `stack`."""
import math
import operator
import re
import types
import warnings
import weakref

import numpy as np

from . import dtypes as D, errors
from .fpstate import F32_MAX
from .kinds import cat as cat_kind
from .ops import OPS, OUTPUT_CODE
from .recording import keep_args, keep_later, keep_node_args, _record_start, _result, _tape_for, _tape_of
from .tape import (input_node, NO_GRAD_VIEW, NO_GRAD_VIEWS_MADE, OP_CONST, record_view,
                   record_views, refuse_inference_change, saves_indices, share_storage,
                   share_version, STATE, version_counter, view_base, WITHOUT_GRAD)
from .native_args import arg_error, given, MISSING
from .tensor import _contiguous, _dim, _int_arg, _int_list, _new, NODIFF, Tensor
from .tracing import _bake, _tracing


def _reshape_op(name, x, shape, out=None, strides=None):
    """view/reshape/(un)squeeze/clone: same elements in the same order.  `strides`: torch's
    (in bytes) for the result, where numpy's reshape may place a dim of size 1 (or an empty
    array's dims) otherwise."""
    shape = tuple(shape)
    v = x._v
    shares = False
    if type(v) is float and name not in _NOT_VIEWS and name != "stopgrad":
        v = x._materialize()   # (held as a number: an array now, which the view shares)
    if out is None:
        if type(v) is float:
            t = _new()
            t._v, t._dtype, t._shape, t._tape, t._recorded = v, x._dtype, shape, None, False
            tape = _record_start(x)
            if tape is not None:
                n = tape.push(OPS[name].code, input_node(tape, x), -1, 0.0, v)
                t._tape, t._node, t._recorded = tape, n, True
            return t
        out = v.reshape(shape)
        if strides is not None and out.strides != strides:
            out = strided_over(v, shape, strides)
        # (a row-major array's reshape is a view of it; an empty one is a view to torch too)
        shares = out.size == 0 or v.flags.c_contiguous
    tape = STATE.tape
    if shares and x._recorded and not tape.sealed and out.size != 1 and \
            name not in _NOT_VIEWS and (x._tape is tape or x._tape is None and
                                        x._lserial == tape.serial):
        return _open_view(x, out, OPS[name].code, name, tape)
    if not x._recorded:
        if shares and name not in _NOT_VIEWS:
            return _plain_view(x, out, name)
        tape = None
    elif tape.sealed or x._tape is not tape and x._tape is not None:
        tape = _tape_of(x)   # (else that is what it returns)
    t = _view_tensor(x, out, OPS[name].code, tape)
    if name not in _NOT_VIEWS and (
            shares or type(v) is not float and np.may_share_memory(out, v)):
        _view_of(t, x, out, name)
    return t


_NOT_VIEWS = frozenset(("clone", "unsafe_view"))


def _open_view(x, out, code, name, tape):
    """_view_tensor then _view_of in one frame for the case of nearly every view op in a
    model: x's own node on the open tape, or x a leaf already entered on it (so grad mode
    on, no inference mode), an n-d result `out` that shares x's memory (a view of it, as
    torch's).  Its entry reading x's node, and record_view's version bookkeeping (~0.3 us
    of frames and repeated checks less per view op)."""
    t = _new()
    shape = out.shape
    t._v, t._dtype, t._shape, t._tape, t._recorded = out, x._dtype, shape, tape, True
    t._node = tape.push_nd(code, x._node if x._tape is tape else x._lnode, -1, 0.0, shape,
                           out.size)
    record_view(tape, t, x)
    if _WITHOUT_GRAD:   # (_view_of's last case: a view of a view made without grad)
        made = _WITHOUT_GRAD.get(id(x))
        if made is not None and made[0]() is x:
            _made_without_grad(t, made[1], OPS[name].grad_fn, 0)
    return t


def _view_tensor(x, out, code, tape):
    """The tensor of value `out` computed from x by op `code` (a view op, or clone); with a
    tape, its entry reading x (_result's stores, inline: this runs once per view op)."""
    dt = x._dtype
    if tape is None:
        return Tensor._wrap(out, dt)
    src = x._tape     # (input_node, inline)
    if src is tape:
        a = x._node
    elif src is None and x._lserial == tape.serial:
        a = x._lnode
    else:
        a = input_node(tape, x)
    size = out.size
    if size == 1:
        return _result(out, dt, tape, code, a, -1, 0.0)
    t = _new()
    shape = out.shape
    t._v, t._dtype, t._shape, t._tape, t._recorded = out, dt, shape, tape, True
    t._node = tape.push_nd(code, a, -1, 0.0, shape, size)
    return t


def _as_view(t, x, out, name=None, nr=0):
    """If result t's array `out` shares x's memory, t is a view of x as in torch: it keeps
    the array (even with one element, so an in-place change writes through) and shares x's
    version counter; on a tape both nodes are entered for the in-place checks.  A view made
    with grad mode off, or made by op `name` (output `nr` of it) of such a view or of a piece
    of a multi-output view op, is remembered as one (check_made_without_grad)."""
    v = x._v
    # (an empty result shares no memory, and is a view to torch all the same)
    if type(v) is float or out.size and not np.may_share_memory(out, v):
        return
    _view_of(t, x, out, name, nr)


def _view_of(t, x, out, name=None, nr=0):
    """_as_view of a result known to share x's memory."""
    t._v = out
    tape = t._tape
    if tape is not None:
        record_view(tape, t, x)
        if out.size == 1:
            share_storage(t)   # its entry's value follows the memory it shares (refresh_shared)
    else:
        share_version(t, x)
    if not STATE.enabled or STATE.inference or _WITHOUT_GRAD:
        _view_marks(t, x, name, nr)


def _plain_view(x, out, name):
    """_view_tensor then _view_of in one frame for a view `out` of x's memory made with no
    tape (x records nothing): a view of data, x[0] or x.view(-1) of a batch (~0.2 us of
    frames less)."""
    t = _new()
    t._v, t._dtype, t._shape, t._tape, t._recorded = out, x._dtype, out.shape, None, False
    share_version(t, x)
    if not STATE.enabled or STATE.inference or _WITHOUT_GRAD:
        _view_marks(t, x, name, 0)
    return t


def _view_marks(t, x, name, nr):
    """_view_of's marks of view t of x made without grad, or of such a view (a piece `nr` of
    view op `name`): check_made_without_grad's records."""
    if not STATE.enabled or STATE.inference:
        if t._dtype.is_floating_point:   # (torch's views of other dtypes are not differentiable)
            _made_without_grad(t, INFERENCE if STATE.inference else NO_GRAD, None)
            _requires_grad_as_base(t, x)
    elif _WITHOUT_GRAD and name is not None:
        made = _WITHOUT_GRAD.get(id(x))
        if made is not None and made[0]() is x:
            _made_without_grad(t, made[1], OPS[name].grad_fn, nr)


# strided views that start where their base starts (offset 0): reading an array's address
# (__array_interface__) costs ~2 us, most of a `w.t()` in nn.Linear
_SAME_START = frozenset(("t", "transpose", "permute", "expand", "unfold"))


def _strided(name, x, fn):
    """An op whose result is a strided view of x: record offset and strides in elements of
    x's row-major layout, so the sweep can scatter the gradient back."""
    arr = x._v
    if type(arr) is float:
        arr = x._materialize()   # (held as a number: an array now, which the view shares)
    if name in _SAME_START and arr.flags.c_contiguous:
        return _strided_view(name, x, arr, fn(arr), 0)
    arr = x._array()
    base = _contiguous(arr)
    out = fn(base)
    # the value views x's own memory (as torch's), also when the params come from a copy
    real = out if base is arr else fn(arr)
    tape = _tape_for(x, None) if x._recorded else None
    if tape is None:
        t = Tensor._wrap(real, x._dtype)
    else:
        item = base.itemsize
        offset = 0 if name in _SAME_START else (
            out.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // item
        t = _result(real, x._dtype, tape, OPS[name].code, input_node(tape, x), -1, 0.0)
        tape.add_params(t._node, [offset, *[s // item for s in out.strides]])
    _as_view(t, x, real, name)
    return t


def view_strides(shape, strides, newshape, item):
    """torch's strides (bytes, as `strides`; elements of `item` bytes) for a view of shape
    `newshape` of a non-empty tensor of `shape` and `strides` (ATen's computeStride), or None
    where no view exists.  numpy's reshape agrees on every dim longer than 1 and places a dim
    of size 1 its own way (the strides the overlap checks compare: x[0:1:2].view(-1) keeps
    its stride 2, numpy's is 1)."""
    if not shape:
        return (item,) * len(newshape)
    newstride = [0] * len(newshape)
    view_d = len(newshape) - 1
    base = strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[d]
        if d == 0 or shape[d - 1] != 1 and strides[d - 1] != tensor_numel * base:
            while view_d >= 0 and (view_numel < tensor_numel or newshape[view_d] == 1):
                newstride[view_d] = view_numel * base
                view_numel *= newshape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                base = strides[d - 1]
                tensor_numel = view_numel = 1
    return tuple(newstride) if view_d == -1 else None


def strided_over(a, shape, strides, offset=0):
    """numpy's as_strided(a, shape, strides) (byte strides from a's first element, or
    `offset` bytes after it, writable where a is), as an array over a's buffer, or its
    root's: as_strided's base is no array, which hid the root from storage_offset() (0 for
    x[1:].unfold(...), where torch keeps the offset), and reading a's address costs ~1 us,
    where a contiguous a needs none."""
    # (torch's offset of an empty view may lie past the end of its storage, where numpy's
    # cannot: then the view starts where `a` does)
    if a.size and a.flags.c_contiguous and offset <= a.nbytes:
        return np.ndarray(shape, a.dtype, a, offset, strides)
    root = a.base
    while isinstance(root, np.ndarray) and isinstance(root.base, np.ndarray):
        root = root.base
    if isinstance(root, np.ndarray) and root.flags.c_contiguous:
        at = a.__array_interface__["data"][0] - root.__array_interface__["data"][0] + offset
        # (an empty `a` may be a view of an empty slice, which points anywhere in root)
        if a.size or 0 in shape and 0 <= at <= root.nbytes:
            out = np.ndarray(shape, a.dtype, root, at, strides)
            if not a.flags.writeable and out.flags.writeable:
                out.flags.writeable = False
            return out
    if not a.size and 0 in shape:   # (a's own start, and a's root found through it)
        return np.ndarray(shape, a.dtype, a, 0, strides)
    return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=a.flags.writeable)


def _strided_view(name, x, arr, out, offset, args=None):
    """_strided where the view is known: `out`, a numpy view of x's own row-major array
    `arr` starting `offset` elements into it (so no copy for the params, no address to read,
    and it shares arr's memory unless empty).  `args`: the arguments torch's node keeps
    (recording.keep_args' dict, kept here without its frame: views are hot), or (f, *a):
    f(*a) gives them, worked out only when read (graph.kept_args)."""
    tape = STATE.tape
    fast = x._recorded and not tape.sealed and out.size > 1 and (
        x._tape is tape or x._tape is None and x._lserial == tape.serial)
    if fast:
        t = _open_view(x, out, OPS[name].code, name, tape)
    elif not x._recorded:   # (no tape: nothing to record, out shares arr's memory)
        return _plain_view(x, out, name)
    else:
        if tape.sealed or x._tape is not tape and x._tape is not None:
            tape = _tape_for(x, None)   # (else that is what it returns)
        t = _view_tensor(x, out, OPS[name].code, tape)
    if tape is not None:
        item = arr.itemsize
        nds = tape.nds or tape.nd_streams()   # (none yet: a one-element view's entry)
        if offset:
            nds.add_param_ints(t._node, [offset, *[s // item for s in out.strides]])
        else:   # (t, transpose, permute, expand: a row kept per layout, one buffer copy)
            key = (out.strides, item)
            row = _STRIDE_ROWS.get(key)
            if row is None:
                row = _stride_row(key)
            nds.add_param_row(t._node, row)
        if args is not None:   # (keep_args, inline)
            kept = tape.call_args
            if kept is None:
                kept = tape.call_args = {}
            kept[t._node] = args
    if not fast:
        _view_of(t, x, out, name)
    return t


_STRIDE_ROWS = {}   # (byte strides, itemsize) -> params row [0, strides in elements...]


def _stride_row(key):
    if len(_STRIDE_ROWS) > 4096:
        _STRIDE_ROWS.clear()
    strides, item = key
    row = _STRIDE_ROWS[key] = memoryview(np.array([0, *[s // item for s in strides]], np.int64))
    return row


# (the views made with grad mode off, and unbind / split's pieces: tape.WITHOUT_GRAD)
_WITHOUT_GRAD = WITHOUT_GRAD
_PRUNE_AT = [64]
NO_GRAD, INFERENCE = errors.NO_GRAD_VIEW_INPLACE, errors.INFERENCE_VIEW_INPLACE
MULTI = errors.MULTI_OUTPUT_VIEW_INPLACE
CUSTOM = errors.CUSTOM_FUNCTION_VIEW_INPLACE   # (a custom Function's output viewing an input)


def _requires_grad_as_base(t, x):
    """View t of x made with grad mode off: torch's requires grad where x does, without a
    gradient accumulator (tape.NO_GRAD_VIEW: its uses record, its gradient goes nowhere)."""
    if x.requires_grad:
        t._recorded, t._lserial = True, 0
        t._flags = getattr(t, "_flags", 0) | NO_GRAD_VIEW
        NO_GRAD_VIEWS_MADE[0] += 1


def _made_without_grad(t, mode, name, nr=0):
    # (the version its memory had: a later change makes torch refuse its grad_fn,
    # tape.rebased_view_without_fn)
    _WITHOUT_GRAD[id(t)] = (weakref.ref(t), mode, name, nr, version_counter(t)[0])
    _prune_made()


def made_without_grad(t):
    """Whether t itself is entered in _WITHOUT_GRAD (an entry of a dead tensor whose id t
    reuses does not count)."""
    made = _WITHOUT_GRAD.get(id(t))
    return made is not None and made[0]() is t


def check_made_without_grad(t, other=None, name=None):
    """torch's error (handle_view_on_rebase) for an in-place change of view t with grad mode
    on, when t was made with grad mode off, by a multi-output view op or by a custom Function
    (or is a view of such a view) and the change needs autograd: t's base requires grad (torch's view of it then
    does too) or `other` does.  `name`: torch's grad_fn name of a view op the change writes
    through (`t[0] = v`: SelectBackward0, output 0)."""
    made = _WITHOUT_GRAD.get(id(t))
    if made is None or made[0]() is not t:
        return
    refuse_inference_change(t)
    base = view_base(t)
    grad = base is not None and base.requires_grad
    if not (grad or t.requires_grad or isinstance(other, Tensor) and other.requires_grad):
        return
    nr = 0 if name else made[3]
    name = name or made[2]
    # a view torch gives a grad_fn (its base requires grad) names it
    if made[1] is MULTI or made[1] is CUSTOM:
        prefix = errors.MULTI_VIEW_OUTPUT.format(nr=nr, name=errors.short_node_name(name)) \
            if grad else errors.MULTI_VIEW_NO_FN
    else:
        prefix = errors.VIEW_OF_VIEW_MADE.format(nr=0, name=errors.short_node_name(name)) \
            if name and grad else errors.VIEW_MADE
    raise RuntimeError(made[1].format(prefix=prefix))


def setitem_view_name(shape, key):
    """torch's grad_fn name of the view `x[key] = value` writes through (a basic index: the
    last view op of x[key], as _last_view_op), or None where it writes into x itself (an
    advanced index, torch's index_put_; `x[...]`, `x[:]`)."""
    bare = not isinstance(key, tuple)
    keys = one_ellipsis((key,) if bare else key)
    if bare and isinstance(key, slice) and key == slice(None):
        return None
    for k in keys:
        if isinstance(k, (list, np.ndarray, bool, np.bool_)) or isinstance(k, Tensor) and (
                k._shape or k._dtype not in _INDEX_INTS):
            return None
    if Ellipsis not in keys:
        keys = keys + (Ellipsis,)
    try:
        name = _last_view_op(keys, shape, bare)[0]
    except (IndexError, TypeError):   # (a key that does not fit: the write raises later)
        return None
    return OPS[name].grad_fn if name else None


def writes_through_a_view(shape, key):
    """Whether torch's `x[key] = v` with an advanced `key` (a tuple of ints, slices, None,
    Ellipsis, bools and index arrays) indexes x's view by key's basic part first, then puts
    into the view (x's grad_fn then CopySlices, not IndexPutBackward0): a part other than an
    Ellipsis or a slice taking a whole dim (start 0, step 1, stop at least the size)."""
    def dims(k):
        if k is None or isinstance(k, (bool, np.bool_)):
            return 0
        return np.ndim(k) if isinstance(k, np.ndarray) and k.dtype == bool else 1
    at = next((j for j, k in enumerate(key) if k is Ellipsis), len(key))
    d = 0
    placed = []
    for k in key[:at]:
        placed.append((k, d))
        d += dims(k)
    d = len(shape)
    for k in reversed(key[at + 1:]):
        d -= dims(k)
        placed.append((k, d))
    for k, d in placed:
        if isinstance(k, slice):
            if k.start not in (None, 0) or k.step not in (None, 1) or \
                    k.stop is not None and not 0 <= d < len(shape) or \
                    k.stop is not None and k.stop < shape[d]:
                return True
        elif not isinstance(k, (list, np.ndarray)) or np.ndim(k) == 0:
            return True     # an int, None, a bool, a 0-d index: a view of x
    return False


def _index(x, key):
    if type(key) is list:
        key = sequence_key(key, 4)  # (its caller: Tensor.__getitem__)
    arr = x._v
    if type(arr) is float:
        arr = x._materialize()   # (held as a number: an array now, which a view shares)
    if arr.flags.c_contiguous:
        view = _basic_index(x, arr, key)
        if view is not None:
            return view
    try:
        r = _index_numpy(x, key)
    except IndexError as e:
        raise IndexError(_index_message(x, key, str(e))) from None
    if r._tape is None:
        return r
    return keep_later(saves_indices(r, index_tensors(key)), _index_args, key, x._shape)


def _index_args(key, shape):
    """What torch's IndexBackward0 of x[key] keeps (x of `shape`), for a key of slices,
    Ellipsis and index tensors (lists, arrays): `indices`, None per dim a slice or Ellipsis
    takes (the trailing ones dropped), and the sizes of x sliced first (its self); nothing
    for other keys (ints, None, bools: torch's views first)."""
    keys = key if type(key) is tuple else (key,)
    idx, taken = [], 0
    for k in keys:
        if k is Ellipsis or isinstance(k, slice):
            idx.append(k)
            taken += k is not Ellipsis
            continue
        if isinstance(k, Tensor):
            t = k
        elif isinstance(k, (list, np.ndarray)):
            a = np.asarray(k)
            t = Tensor._wrap(a if a.dtype == bool else a.astype(np.int64), D.bool_ if
                             a.dtype == bool else D.int64)
        else:
            return {}
        if not t._shape:   # (a 0-d index selects: torch's view first)
            return {}
        idx.append(t)
        taken += t.dim() if t._dtype is D.bool_ else 1
    out, sizes, d = [], list(shape), 0
    for k in idx:
        if k is Ellipsis:
            out += [None] * (len(shape) - taken)
            d += len(shape) - taken
        elif isinstance(k, slice):
            out.append(None)
            sizes[d] = len(range(*k.indices(sizes[d])))
            d += 1
        else:
            out.append(k)
            d += k.dim() if k._dtype is D.bool_ else 1
    while out and out[-1] is None:
        out.pop()
    return {"indices": tuple(out), "self_sym_sizes": tuple(sizes)}


def index_tensors(key):
    """The index tensors of `key` that torch's IndexBackward0 / IndexPutBackward0 saves: all
    but the 0-d ones (an integer one selects, as its int; a bool one is read as a Python
    bool, a new dim kept or emptied)."""
    return [k for k in (key if type(key) is tuple else (key,)) if isinstance(k, Tensor) and
            k._shape]


def _mask_shape(k):
    """The shape of index `k` if it is a mask (a bool or uint8 tensor or array, a list of
    bools), else None."""
    if isinstance(k, Tensor):
        return k._shape if k._dtype is D.bool_ or k._dtype is D.uint8 else None
    if isinstance(k, (list, np.ndarray)):
        a = np.asarray(k)
        return a.shape if a.dtype == bool else None
    return None


def _mask_mismatch(shape, keys):
    """torch's error for a mask whose shape differs from the dims it indexes: the dims of
    the tensor after the key's ints select and its Nones insert (the mask's place among
    them), named at the mask's first differing dim."""
    def width(k):
        m = _mask_shape(k)
        return len(m) if m is not None else 0 if k is None or k is Ellipsis or \
            type(k) is bool else 1
    dims, at, masks = list(shape), 0, []
    for k in keys:
        if k is None or type(k) is bool:
            dims.insert(at, 1)
            at += 1
        elif k is Ellipsis:
            at += len(shape) - sum(width(kk) for kk in keys)
        elif isinstance(k, (int, np.integer)) or isinstance(k, Tensor) and not k._shape and \
                k._dtype in _INDEX_INTS:
            dims.pop(at)
        else:
            m = _mask_shape(k)
            if m is not None:
                masks.append((at, m))
            at += width(k)
    for at, m in masks:
        for j, n in enumerate(m):
            if at + j >= len(dims) or dims[at + j] != n:
                return (f"The shape of the mask {list(m)} at index {j} does not match the shape "
                        f"of the indexed tensor {dims} at index {at + j}")
    return None


def int_oob_message(shape, key):
    """torch's error for an int in `key` out of range of its dim of `shape`, or None: torch
    selects by the ints in the key's order before any index tensor is read, and names the
    int's place in the key (x[None, 5]: dimension 1; x[..., 9]: dimension 1, an Ellipsis
    counting one), not the dim it indexes as numpy does."""
    keys = key if isinstance(key, tuple) else (key,)

    def as_int(k):
        if isinstance(k, (bool, np.bool_)):
            return None
        if isinstance(k, (int, np.integer)):
            return int(k)
        if isinstance(k, Tensor) and not k._shape and k._dtype in _INDEX_INTS or \
                isinstance(k, np.ndarray) and k.ndim == 0 and k.dtype.kind == "i":
            return int(k)
        return None

    def width(k):
        if k is None or k is Ellipsis or isinstance(k, (bool, np.bool_)):
            return 0
        m = _mask_shape(k)
        return 1 if m is None else len(m)
    fill = len(shape) - sum(width(k) for k in keys)
    d = 0
    for place, k in enumerate(keys):
        i = as_int(k)
        if i is not None and d < len(shape) and not -shape[d] <= i < shape[d]:
            return f"index {i} is out of bounds for dimension {place} with size {shape[d]}"
        d += fill if k is Ellipsis else width(k)
    return None


def _index_message(x, key, msg):
    """torch's text for numpy's indexing errors."""
    if msg.startswith("too many indices"):
        # (of a 0-d tensor torch names a lone int or slice; other keys count the indices)
        if x.dim() == 0 and isinstance(key, int):
            return ("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                    "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        if x.dim() == 0 and isinstance(key, slice):
            return "slice() cannot be applied to a 0-dim tensor."
        return f"too many indices for tensor of dimension {x.dim()}"
    if msg.startswith("boolean index did not match"):
        return _mask_mismatch(x._shape, key if isinstance(key, tuple) else (key,)) or msg
    if msg.startswith("arrays used as indices must be"):
        return "tensors used as indices must be long, int, byte or bool tensors"
    if msg.startswith("only integers, slices"):
        keys = key if isinstance(key, tuple) else (key,)
        bad = next((k for k in keys if not isinstance(k, (int, slice, type(None), type(...),
                                                         Tensor, list, np.ndarray))), None)
        kind = type(bad)       # (named as Python's type slot names it: numpy.bool, float)
        name = kind.__name__ if kind.__module__ == "builtins" else \
            f"{kind.__module__}.{kind.__qualname__}"
        return ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                f"are valid indices (got {name})")
    if msg.startswith("shape mismatch: indexing arrays could not be broadcast"):
        shapes = re.findall(r"\(([0-9, ]*)\)", msg)
        return ("shape mismatch: indexing tensors could not be broadcast together with shapes "
                + ", ".join("[" + ", ".join(n for n in s.replace(" ", "").split(",") if n) + "]"
                            for s in shapes))
    if re.match(r"index -?\d+ is out of bounds for axis \d+ with size \d+$", msg):
        ints = int_oob_message(x._shape, key)
        if ints is not None:
            return ints
    if re.match(r"index -?\d+ is out of bounds for axis \d+ with size 0$", msg):
        return "index is out of bounds for dimension with size 0"   # (torch's, of an empty dim)
    bound = re.match(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)$", msg)
    if bound:
        d = _advanced_dim(x, key, int(bound[2]))
        if d is not None:
            return f"index {bound[1]} is out of bounds for dimension {d} with size {bound[3]}"
    return msg.replace(" for axis ", " for dimension ")


def _advanced_dim(x, key, axis):
    """The dimension torch's index kernel names for an index tensor out of bounds at numpy's
    `axis` of x: its place among the indexed dims of the advanced indices alone (a mask
    counts its dims; ints, slices and None none), or None where `axis` is no index tensor's."""
    keys = key if isinstance(key, tuple) else (key,)
    masks = [getattr(k, "dtype", None) in (D.bool_, D.uint8, np.bool_) for k in keys]
    ndims = [np.ndim(k) if m else 0 if k is None else 1 for k, m in zip(keys, masks)]
    rest = x.dim() - sum(n for k, n in zip(keys, ndims) if k is not Ellipsis)
    d = advanced = 0
    for k, n, mask in zip(keys, ndims, masks):
        if k is Ellipsis:
            d += rest
            continue
        tensor_like = isinstance(k, (Tensor, list, np.ndarray))
        if d == axis and tensor_like and not mask:
            return advanced
        if tensor_like:
            advanced += n
        d += n
    return None


_INDEX_INTS = (D.int64, D.int32, D.int16, D.int8)   # a 0-d one indexes as its int
UINT8_INDEX = ("indexing with dtype tapegrad.uint8 is now deprecated, please use a dtype "
               "tapegrad.bool instead.")


def index_array(k):
    """Tensor index `k` as numpy indexes with it, by torch's rules: a uint8 tensor is a mask
    (deprecated: torch's warning), int8/int16 tensors are refused."""
    dt = k._dtype
    if dt is D.uint8:
        if k._shape:   # (a 0-d one is a mask without the warning, as torch)
            warnings.warn(UINT8_INDEX, UserWarning, stacklevel=4)
        return k._array().astype(bool)
    if dt is D.int8 or dt is D.int16:
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return k._array()


def sequence_key(key, stacklevel=3):
    """A list index as torch reads it: a tuple of indices when it is short (< 32) and holds
    a tensor, a sequence, a slice, None or an Ellipsis (x[[i, j]] is x[i, j]; NumPy's old
    rule, torch's treatSequenceAsTuple, with its deprecation warning at the caller
    `stacklevel` frames up: the user's line), else one index array."""
    if type(key) is list and len(key) < 32 and any(
            isinstance(k, (Tensor, list, tuple, np.ndarray, slice)) or k is None or k is Ellipsis
            for k in key):
        warnings.warn(errors.SEQUENCE_INDEX, UserWarning, stacklevel=stacklevel)
        return tuple(key)
    return key


def sequence_index(k):
    """Index `k` of a key with a sequence (a tuple inside the key, as a list: torch's and
    numpy's reading) of floats as torch reads it: an int64 index, truncated (torch makes an
    index tensor of a list or array by its long dtype: x[[0, 1.5]] is x[[0, 1]]; numpy
    refuses floats)."""
    if type(k) is tuple:
        k = list(k)
    if type(k) is list or isinstance(k, np.ndarray) and k.dtype.kind == "f":
        try:
            a = np.asarray(k)
        except ValueError:    # (ragged: numpy's error stands)
            return k
        if a.dtype.kind == "f":
            return a.astype(np.int64)
    return k


def _is_advanced(k):
    return isinstance(k, (list, np.ndarray))


def split_key(key, ndim):
    """(basic, advanced): numpy keys that, applied one after the other to an array of ndim
    dims, index it as torch does with `key` (a tuple of ints, slices, None, Ellipsis, index
    arrays and masks).  torch applies ints (as selects), slices and None first and the index
    arrays and masks to what they leave; numpy counts an int among the advanced indices, so
    for a key mixing both its advanced dims can land elsewhere (x[0, :, [0, 1]]: transposed).
    `advanced` is None where numpy's one step is torch's (no such mix; a 0-d mask)."""
    ints = any(isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))
               for k in key)
    if not ints or not any(_is_advanced(k) for k in key) or any(
            isinstance(k, np.ndarray) and k.dtype == bool and k.ndim == 0 for k in key):
        return key, None
    dims = [np.ndim(k) if isinstance(k, np.ndarray) and k.dtype == bool else
            0 if k is None or k is Ellipsis else 1 for k in key]
    fill = ndim - sum(dims)            # the dims an Ellipsis stands for
    basic, where, at = [], [], 0       # where: (position in the basic result, index)
    for k, used in zip(key, dims):
        if _is_advanced(k):
            where.append((at, k))
            basic += [slice(None)] * used
            at += used
        else:
            basic.append(k)
            if k is Ellipsis:
                at += fill
            elif not isinstance(k, (int, np.integer)):
                at += 1                # a slice or a None: one dim of the result
    advanced, pos = [], 0
    for at, k in where:
        advanced += [slice(None)] * (at - pos) + [k]
        pos = at + (np.ndim(k) if isinstance(k, np.ndarray) and k.dtype == bool else 1)
    return tuple(basic) + (() if Ellipsis in basic else (Ellipsis,)), tuple(advanced)


def oob_message(msg, key, shape):
    """numpy's error for an index array's value out of range, `msg`, in torch's words: torch
    numbers the dim by the index tensor's place among the key's index tensors (a mask
    counting one per dim), not by the indexed dim (x[:, :, [9]] names dimension 0).  `key`:
    the key as numpy takes it, for an array of `shape`."""
    m = re.match(r"index -?\d+ is out of bounds for axis (\d+) with size (\d+)$", msg)
    ints = int_oob_message(shape, key) if m else None
    if ints is not None:
        return ints
    if m and m.group(2) == "0":
        return "index is out of bounds for dimension with size 0"   # (torch's, of an empty dim)
    if not m or not any(_is_advanced(k) for k in key):
        return msg.replace(" for axis ", " for dimension ")
    basic, advanced = split_key(key, len(shape))
    applied = key if advanced is None else advanced
    try:
        nd = len(shape) if advanced is None else np.broadcast_to(0, shape)[basic].ndim
    except IndexError:   # (an int out of range: numpy's own axis is torch's)
        return msg.replace(" for axis ", " for dimension ")

    def width(k):
        return np.ndim(k) if isinstance(k, np.ndarray) and k.dtype == bool else 1
    fill = nd - sum(width(k) for k in applied if k is not None and k is not Ellipsis)
    axis, at, count = int(m.group(1)), 0, 0
    for k in applied:
        if k is None:
            continue
        if k is Ellipsis:
            at += fill
            continue
        if _is_advanced(k):
            if at == axis and width(k) == 1:
                return re.sub(r"for axis \d+", f"for dimension {count}", msg)
            count += width(k)
        at += width(k)
    return msg.replace(" for axis ", " for dimension ")


def _standard_layout(a):
    """a, or a row-major copy where its strides are not the standard ones: numpy may lay an
    advanced index's result out transposed (x[:, [1, 2]]: torch's is row-major, so .view()
    of it works) or give a dim of size 1 another stride (x[None, idx])."""
    step = a.itemsize
    for n, s in zip(reversed(a.shape), reversed(a.strides)):
        if s != step:
            return np.array(a, order="C") if a.size else a   # (an empty one has 0 strides)
        step *= n
    return a


def index_with(a, key):
    """a[key] by torch's indexing (split_key): a view where the key is basic."""
    basic, advanced = split_key(key, a.ndim)
    return a[basic] if advanced is None else a[basic][advanced]


def assign(a, key, value):
    """a[key] = value by torch's indexing (split_key)."""
    basic, advanced = split_key(key, a.ndim)
    if advanced is None:
        a[basic] = value
    else:
        a[basic][advanced] = value      # (a[basic]: a view of a)


def one_ellipsis(key, ndim=None):
    """Tuple key without the Ellipses after its first that end it: torch's indexing lets an
    Ellipsis take the dims the others leave, so a second one at the end takes none
    (x[..., 0, ...] is x[..., 0]); numpy refuses a second.  With `ndim` (the indexed
    tensor's), also without an Ellipsis taking no dims between index tensors: numpy counts
    it as parting them (their dims then go first), torch does not (x[:, i, ..., j] of a 3-d
    x keeps i and j's dims after the first)."""
    while key and key[-1] is Ellipsis and sum(k is Ellipsis for k in key) > 1:
        key = key[:-1]
    if ndim is not None and any(k is Ellipsis for k in key) and any(
            isinstance(k, (list, np.ndarray)) or isinstance(k, Tensor) and k._shape
            for k in key):
        def width(k):
            if k is None or k is Ellipsis or isinstance(k, (bool, np.bool_)):
                return 0
            m = _mask_shape(k)
            return 1 if m is None else len(m)
        if sum(width(k) for k in key) == ndim:
            key = tuple(k for k in key if k is not Ellipsis)
    return key


def _none_strides(a, keys, out):
    """out's strides (out = a[keys], a basic key) with torch's for the dims its Nones add:
    torch unsqueezes as it meets them, so a None's stride is the size times the stride of
    the dim of `a` the key reaches next (1 element past the last), where numpy's is 0."""
    strides = list(out.strides)
    taken = sum(k is not None and k is not Ellipsis for k in keys)
    r = d = 0   # (out's dim, a's dim)
    for k in keys:
        if k is None:
            strides[r] = a.shape[d] * a.strides[d] if d < a.ndim else a.itemsize
            r += 1
        elif k is Ellipsis:
            r += a.ndim - taken
            d += a.ndim - taken
        elif isinstance(k, slice):
            r += 1
            d += 1
        else:
            d += 1
    return strides


def _basic_view(a, key):
    """a[key] for a basic key (ints, slices stepping forward, Nones, one Ellipsis); an empty
    result starts where torch's does, the key's start along each dim (numpy's starts at a's
    first element)."""
    out = a[key]
    nones = any(k is None for k in key)
    if out.size:
        return strided_over(out, out.shape, _none_strides(a, key, out)) if nones else out
    taken = sum(k is not None and k is not Ellipsis for k in key)
    offset, d = 0, 0
    for k in key:
        if k is None:
            continue
        if k is Ellipsis:
            d += a.ndim - taken
            continue
        n = a.shape[d]
        at = k.indices(n)[0] if isinstance(k, slice) else (int(k) + n if k < 0 else int(k))
        offset += at * a.strides[d]
        d += 1
    return strided_over(a, out.shape, _none_strides(a, key, out) if nones else out.strides,
                        offset)


def _index_numpy(x, key):
    if type(key) is Tensor and (key._dtype is D.int64 or key._dtype is D.int32) and \
            key._shape and x._shape and not key._recorded:
        t = _rows_at(x, key)
        if t is not None:
            return t
    bare = not isinstance(key, tuple)
    if bare:
        key = (key,)
    key = one_ellipsis(key, len(x._shape))
    # (a tuple inside the key is an index sequence, as a list: torch's and numpy's reading)
    key = tuple(sequence_index(k) for k in key)
    if any(isinstance(k, str) for k in key):
        raise TypeError("new(): invalid data type 'str'")
    if any(isinstance(k, np.bool_) for k in key):   # numpy takes it as a mask; torch does not
        raise IndexError("only integers, slices")      # (_index_message completes it)
    for k in key:
        if isinstance(k, Tensor) and k._recorded:
            _bake(k, "guard_value")  # indices become constants of the recorded tape
    # a Python bool is a 0-d mask (adds a dim of size 1 or 0: advanced indexing, IndexBackward0
    # as torch), never the int it subclasses
    key = tuple((int(k.item()) if not k._shape and k._dtype in _INDEX_INTS else index_array(k))
                if isinstance(k, Tensor) else
                np.asarray(k) if type(k) is bool else k for k in key)
    advanced = any(isinstance(k, (list, np.ndarray)) for k in key)
    base = _contiguous(x._array())
    if not advanced:
        for k in key:
            if isinstance(k, slice) and k.step is not None and k.step <= 0:
                raise errors.bad_slice_step(k.step)
        if Ellipsis not in key:
            key = key + (Ellipsis,)  # numpy then returns a 0-d view, not a scalar copy
        try:
            out = base[key]
        except IndexError as e:
            raise IndexError(int_oob_message(base.shape, key) or
                             str(e).replace(" for axis ", " for dimension ")) from None
        name, moved = _last_view_op(key, base.shape, bare)
        if not moved:   # only new dims of size 1: the same elements in the same order
            out = _reshape_op(name or "alias", x, out.shape)
        else:
            # (a None last after ints or slices that moved elements, x[1:, None]: a strided
            # entry named UnsqueezeBackward0, row unsqueeze_strided)
            out = _strided("unsqueeze_strided" if name == "unsqueeze" else name, x,
                           lambda a: _basic_view(a, key))
        return keep_args(out, **_view_args(key, base.shape, bare)) if out._recorded else out
    try:
        idx = index_with(np.arange(base.size).reshape(base.shape), key)
    except IndexError as e:
        raise IndexError(oob_message(str(e), key, base.shape)) from None
    out = _standard_layout(index_with(base, key))
    tape = _record_start(x)
    if tape is None:
        return Tensor._wrap(out, x._dtype)
    t = _result(out, x._dtype, tape, OPS["index"].code, input_node(tape, x), -1, 0.0)
    tape.add_params(t._node, np.asarray(idx).reshape(-1))
    return t


def _rows_at(x, key):
    """x[key] for one integer index tensor of dims (x[idx], embedding's lookup) whose indices
    are all in range: the general path's entry, without its reading of a general key and its
    arange of all of x's positions (an embedding table's, at every lookup); None otherwise
    (the general path then raises torch's error)."""
    v = key._array()
    n = x._shape[0]
    if not v.size:
        return None
    if v.size <= 64:   # (Python's min and max of a few: a numpy reduce costs ~0.8 us)
        few = v.ravel().tolist()
        lo, hi = min(few), max(few)
    else:
        lo, hi = _min_reduce(v, None), _max_reduce(v, None)
    if lo < -n or hi >= n:
        return None
    out = _standard_layout(_contiguous(x._array())[v])
    tape = _record_start(x)
    if tape is None:
        return Tensor._wrap(out, x._dtype)
    # the positions of the rows' elements (a negative index counts from the end)
    rows = v.reshape(-1, 1).astype(np.int64, copy=False)
    if lo < 0:
        rows = np.where(rows < 0, rows + n, rows)
    inner = math.prod(x._shape[1:])
    t = _result(out, x._dtype, tape, OPS["index"].code, input_node(tape, x), -1, 0.0)
    # (the positions written into the params in place: no temporary of out's size)
    np.add(rows * inner, _steps(inner), out=tape.param_space(t._node, rows.size * inner).reshape(
        -1, inner))
    return t


_STEPS = {}   # n -> arange(n), read-only (the positions within a row)


def _steps(n):
    steps = _STEPS.get(n)
    if steps is None:
        if len(_STEPS) > 256:
            _STEPS.clear()
        steps = _STEPS[n] = np.arange(n, dtype=np.int64)
        steps.flags.writeable = False
    return steps


_min_reduce, _max_reduce = np.minimum.reduce, np.maximum.reduce


def _basic_index(x, arr, key):
    """x[key] for the common keys, row-major x (`arr`: its value): ints (not bools), slices
    of ints stepping forward, None and at most one Ellipsis, giving a non-empty result.  One
    pass over the key finds the view, its offset into arr and torch's last view op, as
    _index_numpy and _last_view_op would; None for any other key, or one numpy refuses,
    which the general path decides (and reports)."""
    bare = type(key) is not tuple
    keys = (key,) if bare else key
    taken, ell = 0, False
    for k in keys:
        tk = type(k)
        if tk is int:
            taken += 1
        elif tk is slice:
            if not (type(k.start) in _SLICE_INTS and type(k.stop) in _SLICE_INTS
                    and (k.step is None or type(k.step) is int and k.step > 0)):
                return None
            taken += 1
        elif k is Ellipsis:
            if ell:
                return None
            ell = True
        elif k is not None:
            return None
    shape = arr.shape
    if taken > len(shape):
        return None
    try:
        out = arr[keys if ell else keys + (Ellipsis,)]   # (a 0-d view, not a scalar copy)
    except IndexError:
        return None
    empty = not out.size
    if empty and not arr.size:
        return None
    strides = arr.strides
    name, moved, d, offset = None, False, 0, 0    # (offset in bytes: as numpy computes it)
    nones = False
    for k in keys:
        if k is None:
            name, nones = "unsqueeze", True
        elif k is Ellipsis:
            d += len(shape) - taken
        elif type(k) is int:
            name, moved = "select", True
            offset += (k + shape[d] if k < 0 else k) * strides[d]
            d += 1
        else:
            n = shape[d]
            if bare or k.start or not (k.step is None or k.step == 1) or (
                    k.stop is not None and k.stop < n):
                name, moved = "slice", True
            offset += k.indices(n)[0] * strides[d]
            d += 1
    if not moved:   # only new dims of size 1: the same elements in the same order
        out = _reshape_op(name or "alias", x, out.shape)
        return keep_args(out, **_view_args(keys, shape, bare, taken)) if out._recorded else out
    if empty and offset <= arr.nbytes or nones:
        # (numpy's empty result starts at arr's first element; torch's `offset` bytes in, also
        # past the end of its storage, where numpy's cannot start; a new dim's stride: torch's)
        out = np.ndarray(out.shape, arr.dtype, arr, offset if offset <= arr.nbytes else 0,
                         _none_strides(arr, keys, out) if nones else out.strides)
    return _strided_view("unsqueeze_strided" if name == "unsqueeze" else name, x, arr, out,
                         offset // arr.itemsize,
                         (_view_args, keys, shape, bare, taken) if x._recorded else None)


_SLICE_INTS = frozenset((int, type(None)))


def _last_view_op(key, shape, bare):
    """torch's grad_fn for a basic index (ints, slices, None, Ellipsis) of a tensor of
    `shape`, and whether anything but new dims of size 1 happens.  torch applies the key's
    elements left to right, one view op each, and the result's grad_fn is the last op it
    recorded: select for an int, slice for a slice, unsqueeze for None; nothing for
    Ellipsis, nor for a slice in a tuple key that keeps its whole dimension in order (start
    None or 0, step None or 1, stop None or >= the size: `:`, `0:n`, `:n+5`, not `-n:`).
    A key that is one slice alone is always recorded (x[:] is SliceBackward0).  With nothing
    recorded the name is None (torch returns an alias: AliasBackward0).  (Bools never get
    here: _index_numpy makes a Python bool a mask and rejects a numpy one.)"""
    taken = sum(1 for k in key if k is not None and k is not Ellipsis)
    name, moved, d = None, False, 0
    for k in key:
        if k is None:
            name = "unsqueeze"
        elif k is Ellipsis:
            d += len(shape) - taken
        elif isinstance(k, slice):
            if bare or not _keeps_dim(k, shape[d]):
                name, moved = "slice", True
            d += 1
        elif isinstance(k, (int, np.integer)):
            name, moved = "select", True
            d += 1
    return name, moved


def _view_args(key, shape, bare, taken=None):
    """The arguments torch's last view op of x[key] (a basic key, x of `shape`) keeps
    (keep_args): torch applies the key's elements left to right (_last_view_op), select's
    dim and index, slice's dim, start, end and step, unsqueeze's dim in the dims of the
    view so far, and the sizes of that view (its self), the ints as given (-1 too).
    `taken`: how many of x's dims the key takes, where the caller has it."""
    if taken is None:
        taken = sum(1 for k in key if k is not None and k is not Ellipsis)
    cur, d, args = list(shape), 0, {}
    for k in key:
        if k is None:
            cur.insert(d, 1)
            args = {"dim": d}
            d += 1
        elif k is Ellipsis:
            d += len(shape) - taken
        elif isinstance(k, slice):
            if bare or not _keeps_dim(k, cur[d]):
                args = {"dim": d, "start": 0 if k.start is None else operator.index(k.start),
                        "end": _INT64_MAX if k.stop is None else operator.index(k.stop),
                        "step": 1 if k.step is None else operator.index(k.step),
                        "self_sym_sizes": tuple(cur)}
                cur[d] = len(range(*k.indices(cur[d])))
            d += 1
        else:
            args = {"dim": d, "index": operator.index(k), "self_sym_sizes": tuple(cur)}
            del cur[d]
    return args


_INT64_MAX = (1 << 63) - 1   # (torch's end of a slice without a stop)


def _keeps_dim(k, n):
    """Whether slice k keeps all n elements of its dimension in order, as torch's applySlice
    tests it (so it records no op): start 0, step 1, stop at least n."""
    start = 0 if k.start is None else operator.index(k.start)
    step = 1 if k.step is None else operator.index(k.step)
    return start == 0 and step == 1 and (k.stop is None or operator.index(k.stop) >= n)


def strided_scatter(g, shape, params):
    """Adjoint of a strided view (params = [offset, strides...] of the view `g` into a
    row-major tensor of `shape`): a tensor of `shape` with g added at the viewed positions."""
    flat = strided_positions(g._shape, params)
    return _scatter("strided_scatter", g, shape, flat, params)


def index_scatter(g, shape, index, name="index_scatter"):
    """Adjoint of an advanced-indexing gather: g[i] added at flat position index[i] (`name`:
    the row, "view_scatter" for a write torch's node does not save the positions of)."""
    return _scatter(name, g, shape, np.asarray(index, np.int64), index)


def strided_positions(view_shape, params):
    """Flat positions of a strided view's elements (params = [offset, strides...])."""
    offset, strides = params[0], params[1:]
    pos = np.full(view_shape, offset, np.int64)
    for d, (s, st) in enumerate(zip(view_shape, strides)):
        pos += (np.arange(s) * st).reshape((s,) + (1,) * (len(view_shape) - d - 1))
    return pos.reshape(-1)


def _scatter(name, g, shape, flat, params):
    out = np.zeros(int(np.prod(shape)), dtype=g._dtype.np)
    np.add.at(out, flat, g._array().reshape(-1))
    out = out.reshape(shape)
    tape = _record_start(g)
    if tape is None:
        return Tensor._wrap(out, g._dtype)
    t = _result(out, g._dtype, tape, OPS[name].code, input_node(tape, g), -1, 0.0)
    tape.add_params(t._node, list(params))
    return t


def cat(tensors=MISSING, dim=0, *extra):
    """Concatenate along `dim`: one `cat` entry whose operands are the N inputs (CatBackward0;
    tapegrad/kinds/cat.py), so each input's gradient is its block of the result's."""
    if extra:   # (torch's count of the arguments, where Python's would count from 0)
        raise arg_error("cat", False, (tensors, dim) + extra)
    tensors = _tensor_list("cat", tensors)
    _int_arg(dim, "cat", "dim", None)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    shapes = [t._shape for t in tensors]
    if (0,) in shapes:
        return _cat_skipping_empty(tensors, shapes, dim)
    first = shapes[0]
    nd = len(first)
    # (one comparison per input on the common paths, inputs of one shape the most common:
    # one count in C; the loops find what to report)
    same = shapes.count(first) == len(shapes)
    if not nd or not same and any(len(s) != nd for s in shapes):
        _check_ranks(shapes, nd, dim)
    d = _dim(dim, nd)
    if not same:
        _check_sizes(shapes, first, d)
    dt = _joined_dtype(tensors)
    out = np.concatenate([t._array() for t in tensors], axis=d, dtype=dt.np, casting="unsafe")
    return keep_args(_join("cat", tensors, dt, out, shapes, d), dim=int(dim))


def _check_ranks(shapes, nd, dim, skip=()):
    """torch's checks of cat's inputs' ranks, in its order: no input 0-d, then `dim` in range
    of the first's (the skipped legacy empties aside), then every rank that one's."""
    for k, s in enumerate(shapes):
        if not s:
            raise RuntimeError(f"zero-dimensional tensor (at position {k}) cannot be "
                               f"concatenated")
    _dim(dim, nd)
    for k, s in enumerate(shapes):
        if len(s) != nd and k not in skip:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} "
                               f"and {len(s)}")


def _check_sizes(shapes, first, d, skip=()):
    rest = first[:d] + first[d + 1:]
    if any(s[:d] + s[d + 1:] != rest for k, s in enumerate(shapes) if k not in skip):
        for k, s in enumerate(shapes):
            for j in range(len(first)):
                if k not in skip and j != d and s[j] != first[j]:
                    raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                       f"Expected size {first[j]} but got size {s[j]} for "
                                       f"tensor number {k} in the list.")


def _cat_skipping_empty(tensors, shapes, dim):
    """cat with legacy empty inputs (shape (0,)), which torch skips whatever the others'
    rank (cat([torch.tensor([]), x]) is x's copy): each still takes part in the dtype and
    gets its (empty) gradient, as a block of width 0 of the entry's layout; dim wraps by the
    first other input's rank (all empty: the result is empty, dim unchecked)."""
    skip = {k for k, s in enumerate(shapes) if s == (0,)}
    dt = _joined_dtype(tensors)
    valid = next((k for k in range(len(shapes)) if k not in skip), None)
    if valid is None:
        d, joined = 0, shapes
    else:
        first = shapes[valid]
        nd = len(first)
        _check_ranks(shapes, nd, dim, skip)
        d = _dim(dim, nd)
        _check_sizes(shapes, first, d, skip)
        joined = [first[:d] + (0,) + first[d + 1:] if k in skip else s
                  for k, s in enumerate(shapes)]
    out = np.concatenate([t._array().reshape(s) for t, s in zip(tensors, joined)], axis=d,
                         dtype=dt.np, casting="unsafe")
    return keep_args(_join("cat", tensors, dt, out, joined, d), dim=int(dim))


def _tensor_list(fname, tensors):
    """The tensors of cat's / stack's sequence argument, with torch's TypeErrors for a tensor
    in its place or an element that is not one."""
    if isinstance(tensors, Tensor):
        raise TypeError(f"{fname}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not Tensor")
    try:
        tensors = list(tensors)
    except TypeError:   # (none, or no sequence: cat(), stack(1))
        raise arg_error(fname, False, given(tensors)) from None
    for k, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 0, but got "
                            f"{errors.type_name(t)}")
    return tensors


def stack(tensors=MISSING, dim=0, *extra):
    """Join tensors of one shape along a new dimension `dim`: one `stack` entry
    (StackBackward0), laid out as a cat of the inputs unsqueezed at `dim`."""
    if extra:
        raise arg_error("stack", False, (tensors, dim) + extra)
    tensors = _tensor_list("stack", tensors)
    _int_arg(dim, "stack", "dim", None)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for k, t in enumerate(tensors):
        if t._shape != tensors[0]._shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0]._shape)} at entry 0 and {list(t._shape)} at "
                               f"entry {k}")
    d = _dim(dim, tensors[0].dim() + 1)
    dt = _joined_dtype(tensors)
    # (np.stack's own steps for inputs of one shape, its checks already made here: a new
    # axis on each, one concatenate; np.stack's Python layer cost twice that)
    new = (slice(None),) * d + (None,)
    out = np.concatenate([t._array()[new] for t in tensors], axis=d, dtype=dt.np,
                         casting="unsafe")
    shape = tensors[0]._shape
    return keep_args(_join("stack", tensors, dt, out, [shape[:d] + (1,) + shape[d:]] *
                           len(tensors), d), dim=int(dim))


def _joined_dtype(tensors):
    dt = tensors[0]._dtype
    for t in tensors[1:]:
        if t._dtype is not dt:
            dt = D.result_type((dt, 2), (t._dtype, 2))
    return dt


def _join(name, tensors, dt, out, shapes, d):
    """Wrap cat/stack's result `out`; with a tape, one entry whose operands are the inputs
    (ia, ib, then the `arg` list) and whose params are their layout along `d` (`shapes`: the
    inputs' shapes as joined)."""
    out = _contiguous(out)     # (torch's: row-major, even of transposed inputs)
    tape = _record_start(*tensors)
    if tape is None:
        return Tensor._wrap(out, dt)
    nodes = []
    for t in tensors:
        if t._recorded:
            # (an input of another dtype too: torch's cat/stack promote inside the op, and
            # its edge is the input's own node, no ToCopyBackward0; a float's promotion to
            # the joined dtype widens exactly, so the entry reads its value as it is)
            node = input_node(tape, t)
        else:  # a constant operand: replay re-evaluates the result from it
            arr = t._array() if t._dtype is dt else t._array().astype(dt.np)
            if arr.size == 1:
                node = tape.push(OP_CONST, -1, -1, 0.0, float(arr.reshape(-1)[0]))
            else:
                node = tape.const_node(arr)
                tape.watch(node, t)
                tape.save(node, arr)
        nodes.append(node)
    res = _result(out, dt, tape, OPS[name].code, nodes[0], nodes[1] if len(nodes) > 1 else -1,
                  0.0)
    if len(nodes) > 2:
        tape.add_args(res._node, nodes[2:])
    tape.add_params(res._node, cat_kind.layout(shapes, d))
    if not tape.recording and cat_kind.runs_on_host(out.size):   # (replay: kernels only)
        tape.set_host(res._node)
    return res


def split(tensor, split_size_or_sections, dim=0):
    """torch.split: a Python function in torch, of these names (torch.split(tensor=x,
    split_size_or_sections=2)), that calls the method."""
    return tensor.split(split_size_or_sections, dim)


def _split(x, sections, dim, name=None, unsafe=False):
    """split / split_with_sizes / unbind: views of x's pieces along dim.  Recorded as one
    split entry whose node holds the pieces packed, then one `output` entry per piece (a
    strided view of its block, imm = its output_nr): every piece shows the one split entry as
    its grad_fn, as torch's.  `unsafe`: torch's unsafe_split(_with_sizes), whose pieces are
    not views to autograd (an in-place change of one is not seen by x)."""
    if not x._shape:
        raise RuntimeError(f"{'unbind' if name else 'split'} expects at least a 1-dimensional "
                           f"tensor")
    nd = len(x._shape)
    d = _dim(dim, nd)
    size = x._shape[d]
    if name == "unbind":
        sizes = sections   # (unbind's own [1] * size: nothing to check)
    elif isinstance(sections, (list, tuple)):
        sizes = list(_int_list((sections,), "split_with_sizes", "split_sizes", 2))
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative "
                               f"entries, but got split_sizes={sizes}")
        if sum(sizes) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
        name = name or ("unsafe_split_with_sizes" if unsafe else "split_with_sizes")
    else:
        if not hasattr(sections, "__index__") or isinstance(sections, bool):
            raise TypeError(f"split(): argument 'split_size' must be int, not "
                            f"{type(sections).__name__}")
        step = int(sections)
        if step < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
        if step == 0 and size != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {size}")
        if size:   # (whole pieces of `step`, then what is left)
            sizes = [step] * (size // step)
            if size % step:
                sizes.append(size % step)
        else:
            sizes = [step]
        name = "unsafe_split" if unsafe else "split"
    if name == "unbind" and size == 0:
        return ()
    arr = x._materialize()
    base = _contiguous(arr)   # (the packed pieces, row-major)
    lead = (slice(None),) * d

    def cut(a):
        if name == "unbind":
            # (a[..., k, ...]: a 0-d piece is a view too, where a[k] would be a scalar)
            return list(a) if d == 0 and nd > 1 else \
                [a[lead + (k, Ellipsis)] for k in range(size)]
        out, start = [], 0
        for s in sizes:
            out.append(a[lead + (slice(start, start + s),)])
            start += s
        return out
    pieces = cut(base)
    # the values view x's own memory (as torch's), also where x is not row-major
    views = pieces if base is arr else cut(arr)
    dt = x._dtype
    tape = _tape_of(x)
    # (every piece is a view of x, an empty one too: torch's _base is x, one version count)
    viewing = []
    if tape is None:
        outs = [Tensor._wrap(p, dt) for p in views]
        if not unsafe:
            for t, p in zip(outs, views):
                t._v = p   # (a one-element piece keeps the array: a change writes through)
            viewing = outs
    else:
        shape = x._shape
        a = input_node(tape, x)
        code = OPS[name].code
        total = base.size
        if total == 1:   # (a one-element node holds its value in the entry)
            node = _result(base.reshape(-1).copy(), dt, tape, code, a, -1,
                           float(len(sizes)))._node
        else:
            # the node of the pieces packed: no value array (a split saves nothing and its
            # VJP reads only gradients; a replay's forward packs them itself)
            node = tape.push_nd(code, a, -1, float(len(sizes)), (total,), total)
        nds = tape.nds or tape.nd_streams()
        key = (name == "unbind", shape, d, *sizes)   # (unbind's pieces drop the dim)
        rows = _SPLIT_ROWS.get(key)
        if rows is None:
            rows = _split_rows(key, shape, d, sizes, pieces)
        nds.add_param_row(node, rows[0])
        tape._hold_params(len(rows[0]))   # (tape.add_params' count)
        keep_node_args(tape, node, {"dim": int(dim)} if name == "unbind" else
                       {"dim": int(dim), "split_sizes": tuple(sizes)} if name.endswith("sizes")
                       else {"dim": int(dim), "split_size": int(sections)})
        ones = []   # (the one-element pieces: their entries follow their memory)
        outs = []
        k = 0
        for p, v in zip(pieces, views):
            psize = p.size
            if psize == 1:
                t = _result(v, dt, tape, OUTPUT_CODE, node, -1, float(k))
                nds.add_param_row(t._node, rows[k + 1])
                if not unsafe:
                    t._v = v   # (it keeps the array: an in-place change writes through)
                    ones.append(t)
            else:
                # (_result's n-d case, inline: once per piece)
                pshape = p.shape
                t = _new()
                t._v, t._dtype, t._shape, t._tape, t._recorded = v, dt, pshape, tape, True
                t._node = e = tape.push_nd(OUTPUT_CODE, node, -1, float(k), pshape, psize)
                nds.add_param_row(e, rows[k + 1])
            k += 1
            outs.append(t)
        viewing = outs
    if not unsafe:
        refs = None
        if tape is not None:
            refs = record_views(tape, viewing, x, ones)
        else:
            for t in viewing:
                share_version(t, x)
        _pieces_made(outs, pieces, x, name, refs)
    return tuple(outs)


_SPLIT_ROWS = {}   # (unbind?, shape, dim, *sizes) -> a split's params rows (_split_rows)


def _split_rows(key, shape, d, sizes, pieces):
    """The params rows of a split of `shape` along d into `sizes` (`pieces`: its pieces as
    arrays of their shapes) as int64 memoryviews (add_param_row: one buffer copy each, where
    a list of ints is converted): the split entry's layout (cat's, kinds/cat.py), then per
    piece its `output` entry's [start, strides...] in the packed node (one-element pieces:
    [start]).  Kept under `key` for up to 64 pieces (a layer's chunk of its gates)."""
    rows = [cat_kind.layout_sizes(shape, d, sizes)]
    start = 0
    for p in pieces:
        pshape = p.shape
        rows.append([start] if p.size == 1 else
                    [start] + [math.prod(pshape[j + 1:]) for j in range(len(pshape))])
        start += p.size
    rows = [memoryview(np.array(r, np.int64)) for r in rows]
    if len(sizes) <= 64:
        if len(_SPLIT_ROWS) > 1024:
            _SPLIT_ROWS.clear()
        _SPLIT_ROWS[key] = rows
    return rows


def _pieces_made(outs, pieces, x, name, refs=None):
    """The grad-mode marks of unbind / split's pieces (_view_of's, then theirs): torch's
    pieces made with grad mode on may not be changed in place where that needs autograd
    (MULTI_OUTPUT_NODE), also where x is a view made with it off, unless in inference mode
    (whose mark stays); (torch's views of other dtypes are not differentiable)."""
    grad_fn = OPS[name].grad_fn
    floating = x._dtype.is_floating_point
    if not STATE.enabled or STATE.inference:
        if floating:
            mode = INFERENCE if STATE.inference else NO_GRAD
            for t in outs:
                _made_without_grad(t, mode, None)
                _requires_grad_as_base(t, x)
        return
    made = _WITHOUT_GRAD.get(id(x)) if _WITHOUT_GRAD else None
    if made is not None and made[0]() is x:
        # (torch's propagate_creation_meta: MULTI_OUTPUT_NODE wins over x's no_grad or
        # custom Function mark; an inference mark stays)
        mode = MULTI if floating and made[1] is not INFERENCE else made[1]
        for k, (t, p) in enumerate(zip(outs, pieces)):
            if p.size or floating:
                _made_without_grad(t, mode, grad_fn, k)
        return
    if floating:
        table = _WITHOUT_GRAD
        if refs is None:   # (else record_views' weak references to outs, in their order)
            refs = [weakref.ref(t) for t in outs]
        k = 0
        version = version_counter(x)[0]   # (the pieces share x's count)
        for t, ref in zip(outs, refs):   # (a loop of stores: half a generator's cost)
            table[id(t)] = (ref, MULTI, grad_fn, k, version)
            k += 1
        _prune_made()


def _prune_made():
    """Drop _WITHOUT_GRAD's dead entries once it has doubled since the last prune."""
    table = _WITHOUT_GRAD
    if len(table) > _PRUNE_AT[0]:
        for key in [k for k, made in table.items() if made[0]() is None]:
            del table[key]
        _PRUNE_AT[0] = max(64, 2 * len(table))


def max_shift(x, dims, zero_inf):
    """The shift of a stable softmax/logsumexp: the maximum of x over `dims`, keepdim shape,
    NaN propagating, infinite maxima 0 when `zero_inf` (torch's logsumexp).  A constant (no
    gradient); recorded as a `max_shift` entry only while tracing, so a replay recomputes it."""
    v = x._v
    if type(v) is float and x._dtype is D.float32 and -F32_MAX <= v <= F32_MAX:
        # (one finite element, which a float32 x may hold at its double value: the shift
        # keeps that value, so x - shift is 0; rounded to float32 it was not, and for a large
        # x exp(x - shift) underflowed: logsumexp(exp(tensor([47.])), 0) gave -inf)
        m = np.full(x._shape, v)
    else:
        arr = x._array()
        dims = tuple(dims) if x._shape else ()   # a 0-d tensor's dim 0 is itself
        with np.errstate(invalid="ignore"):
            m = np.amax(arr, axis=dims, keepdims=True, initial=-np.inf) if dims else arr.copy()
        if zero_inf:
            m = np.where(np.isinf(m), 0, m)
        m = np.asarray(m, dtype=x._dtype.np)
    tape = _tracing(x)
    if tape is None:
        return Tensor._wrap(m, x._dtype)
    t = _result(m, x._dtype, tape, OPS["max_shift"].code, input_node(tape, x), -1,
                1.0 if zero_inf else 0.0)
    # the keepdim shape, as reduce's params (none for a one-element input: 0-d to the tape)
    tape.add_params(t._node, [1 if d in dims else s for d, s in enumerate(x._shape)]
                    if math.prod(x._shape) != 1 else [])
    t._flags = NODIFF
    return t



# ---- as_strided: a view placed anywhere in the storage ---------------------------------------
def as_strided(input, size, stride, storage_offset=None):
    """A view of input's storage with the given `size`, `stride` and `storage_offset` (in
    elements, counted from the start of the storage, not of input; default input's own
    `storage_offset()`), as torch.as_strided.  Differentiable (AsStridedBackward0): the
    gradient of each element goes to the element of input at the same storage location,
    summed where the view's elements overlap."""
    if not isinstance(input, Tensor):
        raise TypeError(f"as_strided(): argument 'input' (position 1) must be Tensor, not "
                        f"{errors.type_name(input)}")
    return _as_strided(input, size, stride, storage_offset, 2)


def _strided_ints(arg, pos, value, fn="as_strided"):
    """torch's parser for an int-list argument of as_strided (`pos`: its position; `fn`: the
    function its messages name): a sequence of ints (integer tensors, a bool past the
    first), as a list."""
    return list(_int_list((value,), fn, arg, pos, bare=False))


def _storage_root(v):
    """The array at the root of v's numpy bases: tapegrad's storage (as `storage_offset()`)."""
    root = v
    while isinstance(root.base, np.ndarray):
        root = root.base
    return root


class StridedPlace:
    """An as_strided placement (size, stride, storage_offset) on x's storage, checked as
    torch's as_strided checks it (`fn`: the function its parser messages name, `pos`: the
    position of `size`): `v` x's array, `flat` its storage as one flat array of x's dtype,
    `own` x's offset in it, `need` the bytes the placement reaches (0: no element)."""
    __slots__ = ("v", "flat", "own", "size", "stride", "offset", "need", "item")

    def __init__(self, x, size, stride, offset, pos, fn="as_strided"):
        size = _strided_ints("size", pos, size, fn)
        stride = _strided_ints("stride", pos + 1, stride, fn)
        if isinstance(offset, Tensor) and offset.numel() == 1 and \
                not offset._dtype.is_floating_point and offset._dtype is not D.bool_:
            offset = int(offset.item())
        if offset is not None and (isinstance(offset, bool)
                                   or not isinstance(offset, (int, np.integer))):
            raise TypeError(f"{fn}(): argument 'storage_offset' (position {pos + 2}) must be "
                            f"int, not {type(offset).__name__}")
        if len(size) != len(stride):
            raise RuntimeError("mismatch in length of strides and shape")
        if any(s < 0 for s in stride):
            raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, "
                               f"got strides: {stride}")
        v = x._materialize()
        item = v.itemsize
        root = _storage_root(v)
        if root.flags.c_contiguous or root.flags.f_contiguous:
            flat = root.reshape(-1, order="A")     # (a view of the storage, in memory order)
        else:
            raise NotImplementedError(f"tapegrad: {fn} of a tensor whose storage is not one "
                                      f"contiguous block")
        start = flat.__array_interface__["data"][0]
        own = (v.__array_interface__["data"][0] - start) // item
        offset = own if offset is None else int(offset)
        if offset < 0:
            raise RuntimeError(f"Tensor: invalid storage offset {offset}")
        if any(s < 0 for s in size):
            raise RuntimeError(f"Storage size calculation overflowed with sizes={size} and "
                               f"strides={stride}")
        need = 0 if 0 in size else \
            (offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))) * item
        if need > flat.nbytes:
            raise RuntimeError(f"setStorage: sizes {size}, strides {stride}, storage offset "
                               f"{offset}, and itemsize {item} requiring a storage size of "
                               f"{need} are out of bounds for storage of size {flat.nbytes}")
        if flat.dtype != v.dtype:   # (a tensor viewing its storage as another dtype)
            flat = flat.view(np.uint8)[:flat.nbytes // item * item].view(v.dtype)
        self.v, self.flat, self.own, self.item = v, flat, own, item
        self.size, self.stride, self.offset, self.need = size, stride, offset, need

    def positions(self):
        """The position in x (its row-major element index) of each element of the placement,
        row-major; -1 for storage that is not one of x's elements."""
        v, own = self.v, self.own
        size, params = tuple(self.size), [self.offset, *self.stride]
        if not self.need:
            return np.zeros(0, np.int64)
        if v.flags.c_contiguous:   # (x's elements are storage positions own.. in order)
            src = strided_positions(size, params) - own
            src[(src < 0) | (src >= v.size)] = -1
            return src
        labels = np.full(self.flat.size, -1, np.int64)
        labels[strided_positions(v.shape, [own, *[s // self.item for s in v.strides]])] = \
            np.arange(v.size)
        return labels[strided_positions(size, params)]


def _as_strided(x, size, stride, offset, pos):
    place = StridedPlace(x, size, stride, offset, pos)
    v, size, stride, need = place.v, place.size, place.stride, place.need
    real = np.ndarray(tuple(size), v.dtype, buffer=place.flat,
                      offset=place.offset * place.item if need else 0,
                      strides=tuple(s * place.item for s in stride))
    if any(st == 0 and n > 1 for n, st in zip(size, stride)):
        real.flags.writeable = False    # (as expand's views: an in-place write raises)
    tape = _record_start(x)
    if tape is None:
        t = Tensor._wrap(real, x._dtype)
    else:
        # the view as a gather of x's own elements (the `as_strided` gather row): the position
        # in x of each storage location the view reads
        src = place.positions()
        if src.size and src.min() < 0:
            raise NotImplementedError(
                "tapegrad: as_strided of a tensor that requires grad, reaching storage outside "
                "that tensor's own elements, is not implemented (torch reads them and drops "
                "their gradient); take the view of the tensor's base instead")
        t = _result(np.ascontiguousarray(v).reshape(-1)[src].reshape(size), x._dtype, tape,
                    OPS["as_strided"].code, input_node(tape, x), -1, 0.0)
        tape.add_params(t._node, src)
    if real.size:
        _view_of(t, x, real, "as_strided")
    else:
        t._v = real
    return t

def alias(x):
    """x[...]: a view of all of x, recorded as its own entry (row alias).  decomps.record
    hands one to a body given one tensor twice, so each argument reads a node of its own."""
    return _reshape_op("alias", x, x._shape)


def apart(x, other):
    """other, or where it is x (requiring grad) an alias of it: the entries of an op given one
    tensor as two arguments then read a node per argument, so the post hooks of the node
    shown get one gradient per argument, as torch's (decomps.distinct)."""
    return alias(other) if other is x and x.requires_grad else other


# The tensor functions the kinds' tensor faces use (tapegrad.kinds), handed to them as `T`.
KIND_OPS = types.SimpleNamespace(strided_scatter=strided_scatter, index_scatter=index_scatter,
                                 strided_positions=strided_positions, cat=cat,
                                 max_shift=max_shift, alias=alias, wrap=Tensor._wrap)
