"""select_scatter, slice_scatter, diagonal_scatter and as_strided_scatter: input with one
view of it (a select, a slice, a diagonal, an as_strided placement on its storage) replaced
by src, out of place (SelectScatterBackward0, SliceScatterBackward0, DiagonalScatterBackward0,
AsStridedScatterBackward0).

Each is a decomposition row: src (cast to input's dtype) placed at the view's positions by a
strided scatter, then where(mask, placed, input), mask the view's positions.  So input's
gradient is the incoming one with the view's positions zeroed, and src's is the view of it
(torch's formulas), of any order.  (torch 2.13's AsStridedScatterBackward0 gives input the
gradient at the replaced positions instead, which finite differences refute: tapegrad's is
the one above.)"""
import numpy as np

from . import decomps, dtypes as D, errors
from .ndops import where
from .tape import STATE
from .tensor import _dim, _int_arg as _int, Tensor, _tensor_operand, tensor_methods
from .views import KIND_OPS, StridedPlace

__all__ = ["select_scatter", "slice_scatter", "diagonal_scatter", "as_strided_scatter"]


def _int_arg(fn, name, pos, value, none_ok=False):
    if value is None and none_ok:
        return None
    return _int(value, fn, name, pos).__index__()


def _body(T, x, src, params, mask):
    placed = T.strided_scatter(src if src.dtype is x.dtype else src.to(x.dtype), x.shape,
                               params)
    return where(mask, placed, x)


def _scatter_into(name, input, src, view):
    """input with the positions of view(arange) (a numpy view of input's flat positions)
    replaced by src (of the view's shape)."""
    pos = np.arange(input.numel(), dtype=np.int64).reshape(input._shape)
    v = view(pos)
    if tuple(src._shape) != v.shape:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size "
                           f"= {list(src._shape)}, slice size = {list(v.shape)}")
    item = pos.itemsize
    offset = (v.__array_interface__["data"][0] - pos.__array_interface__["data"][0]) // item \
        if v.size else 0
    params = [int(offset)] + [int(s) // item for s in v.strides]
    _check_dtype(input, src)
    mask = np.zeros(input.numel(), bool)
    mask[v.reshape(-1)] = True
    mask = Tensor._wrap(mask.reshape(input._shape), D.bool_)
    if not (input._recorded or src._recorded):
        return _body(KIND_OPS, input, src, params, mask)
    return decomps.record(name, _body, KIND_OPS, input, src, params, mask, edges=(input, src))


def select_scatter(input, src, dim, index):
    """input with input.select(dim, index) replaced by src (SelectScatterBackward0)."""
    _tensor_operand("select_scatter", input, 1, "input")
    return _select_scatter(input, src, dim, index, 2)


def _select_scatter(input, src, dim, index, p):
    """(p: src's argument position: 2 for the function, 1 for the method)"""
    _tensor_operand("select_scatter", src, p, "src")
    dim = _int_arg("select_scatter", "dim", p + 1, dim)
    index = _int_arg("select_scatter", "index", p + 2, index)
    if not input.dim():
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, input.dim())
    n = input._shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._shape)} at dimension {d}")
    return _scatter_into("select_scatter", input, src,
                         lambda a: a[(slice(None),) * d + (index % n, Ellipsis)])


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """input with input[..., start:end:step] (along dim) replaced by src
    (SliceScatterBackward0)."""
    _tensor_operand("slice_scatter", input, 1, "input")
    return _slice_scatter(input, src, dim, start, end, step, 2)


def _slice_scatter(input, src, dim, start, end, step, p):
    _tensor_operand("slice_scatter", src, p, "src")
    dim = _int_arg("slice_scatter", "dim", p + 1, dim)
    start = _int_arg("slice_scatter", "start", p + 2, start, True)
    end = _int_arg("slice_scatter", "end", p + 3, end, True)
    step = _int_arg("slice_scatter", "step", p + 4, step)
    if not input.dim():
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, input.dim())
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return _scatter_into("slice_scatter", input, src,
                         lambda a: a[(slice(None),) * d + (slice(start, end, step),)])


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """input with input.diagonal(offset, dim1, dim2) replaced by src
    (DiagonalScatterBackward0)."""
    _tensor_operand("diagonal_scatter", input, 1, "input")
    return _diagonal_scatter(input, src, offset, dim1, dim2, 2)


def _diagonal_scatter(input, src, offset, dim1, dim2, p):
    _tensor_operand("diagonal_scatter", src, p, "src")
    offset = _int_arg("diagonal_scatter", "offset", p + 1, offset)
    dim1 = _int_arg("diagonal_scatter", "dim1", p + 2, dim1)
    dim2 = _int_arg("diagonal_scatter", "dim2", p + 3, dim2)
    d1, d2 = _dim(dim1, input.dim()), _dim(dim2, input.dim())
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _scatter_into("diagonal_scatter", input, src,
                         lambda a: np.diagonal(a, offset, d1, d2))


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """input with the elements input.as_strided(size, stride, storage_offset) views (of
    input's storage; default offset input's own) replaced by src, in a new tensor
    (AsStridedScatterBackward0)."""
    _tensor_operand("as_strided_scatter", input, 1, "input")
    return _as_strided_scatter(input, src, size, stride, storage_offset, 2)


def _as_strided_scatter(input, src, size, stride, storage_offset, p):
    _tensor_operand("as_strided_scatter", src, p, "src")
    place = StridedPlace(input, size, stride, storage_offset, p + 1, "as_strided_scatter")
    size, stride = place.size, place.stride
    if input._recorded and not input.is_contiguous():
        # (torch's assert: its backward reads input's geometry as row-major)
        raise RuntimeError("!self.requires_grad() || self.is_contiguous() INTERNAL ASSERT "
                           "FAILED at \"/__w/pytorch/pytorch/aten/src/ATen/native/"
                           "TensorShape.cpp\":4754, please report a bug to PyTorch. "
                           "as_strided_scatter is currently only supported for contiguous "
                           "inputs")
    if tuple(src._shape) != tuple(size):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size "
                           f"= {list(src._shape)}, slice size = {size}")
    if any(st == 0 and n > 1 for n, st in zip(size, stride)):
        raise RuntimeError(errors.OVERLAP_ERROR)   # (torch's copy_ into the placement)
    pos = place.positions()
    inside = pos >= 0
    # where the placement overlaps itself, the last write of copy_'s row-major loop stands
    last = np.zeros(input.numel(), np.int64) - 1
    last[pos[inside]] = np.flatnonzero(inside)
    kept = last[last >= 0]
    if not (input._recorded or src._recorded):
        out = np.array(input._array(), dtype=input._dtype.np, order="C")
        vals = np.asarray(src._array(), dtype=input._dtype.np).reshape(-1)
        out.reshape(-1)[pos[kept]] = vals[kept]
        return Tensor._wrap(out, input._dtype)
    _check_dtype(input, src)
    mask = np.zeros(input.numel(), bool)
    mask[pos[kept]] = True
    mask = Tensor._wrap(mask.reshape(input._shape), D.bool_)
    return decomps.record("as_strided_scatter", _placed_body, KIND_OPS, input, src,
                          None if kept.size == pos.size else Tensor._wrap(kept, D.int64),
                          pos[kept], mask, edges=(input, src))


def _placed_body(T, x, src, kept, pos, mask):
    """_body with src's elements (those at `kept`, flat, where not all: the others land
    outside x or are written over) placed at x's positions `pos` (row-major indices: an
    as_strided placement on a storage whose elements are not in x's row-major order)."""
    src = src if src.dtype is x.dtype else src.to(x.dtype)
    src = src.reshape(-1) if kept is None else src.reshape(-1)[kept]
    return where(mask, T.index_scatter(src, x.shape, pos), x)


def _check_dtype(input, src):
    """torch's error for a result that would require grad in a dtype autograd refuses."""
    if src._recorded and STATE.enabled and not input._dtype.is_floating_point:
        raise RuntimeError(f"Autograd not support dtype: {input._dtype.legacy}")


@tensor_methods
class _ViewScatterMethods:
    """Tensor.select_scatter, slice_scatter, diagonal_scatter, as_strided_scatter."""

    def select_scatter(self, src, dim, index):
        return _select_scatter(self, src, dim, index, 1)

    def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
        return _slice_scatter(self, src, dim, start, end, step, 1)

    def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
        return _diagonal_scatter(self, src, offset, dim1, dim2, 1)

    def as_strided_scatter(self, src, size, stride, storage_offset=None):
        return _as_strided_scatter(self, src, size, stride, storage_offset, 1)
