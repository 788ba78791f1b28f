"""select_scatter, slice_scatter and diagonal_scatter: input with one view of it (a select,
a slice, a diagonal) replaced by src, out of place (SelectScatterBackward0,
SliceScatterBackward0, DiagonalScatterBackward0).

Each is a decomposition row: src (cast to input's dtype) placed at the view's positions by a
strided scatter, then where(mask, placed, input), mask the view's positions.  So input's
gradient is the incoming one with the view's positions zeroed, and src's is the view of it
(torch's formulas), of any order."""
import numpy as np

from . import decomps, dtypes as D
from .ndops import where
from .tensor import _dim, Tensor, _tensor_operand, tensor_methods
from .views import KIND_OPS

__all__ = ["select_scatter", "slice_scatter", "diagonal_scatter"]


def _int_arg(fn, name, pos, value, none_ok=False):
    if value is None and none_ok:
        return None
    if not hasattr(value, "__index__") or isinstance(value, bool):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be int, not "
                        f"{type(value).__name__}")
    return value.__index__()


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


@tensor_methods
class _ViewScatterMethods:
    """Tensor.select_scatter, slice_scatter, diagonal_scatter."""

    def select_scatter(self, src, dim, index):
        return _select_scatter(self, src, dim, index, 1)

    def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
        return _slice_scatter(self, src, dim, start, end, step, 1)

    def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
        return _diagonal_scatter(self, src, offset, dim1, dim2, 1)
