"""torch functions that are compositions of recorded ops, written as torch's own
implementations compose them, so results, gradients, grad_fn chains and error messages are
torch's: aliases (absolute, swapaxes, swapdims, concat, concatenate), shapes (atleast_1d/2d/3d,
broadcast_to, broadcast_tensors, broadcast_shapes), selections and splits (select,
tensor_split, hsplit, vsplit, dsplit, take_along_dim), diff, matrix_power, positive,
float_power, signbit, the predicates is_floating_point, is_complex, is_nonzero, stacks
(column_stack, dstack), grids (meshgrid, cartesian_prod, combinations), vander, gradient
(finite differences), is_same_size, and the complex-number views that are the tensor itself
for real dtypes (real, conj, conj_physical, resolve_conj, resolve_neg; is_conj, is_neg)."""
import warnings

import numpy as np

from . import dtypes as D, errors
from .creation import arange, empty, eye, full
from .linalg import inv
from .structops import hstack
from .native_args import arg_error, MISSING
from .tensor import (_dim, _int_arg, _int_list, _is_int_arg, _is_int_item, _layout_dim, Size,
                     Tensor, _tensor_elements, _tensor_operand, tensor_methods)
from .recording import keep_args
from .views import cat, stack

__all__ = ["absolute", "swapaxes", "swapdims", "concat", "concatenate", "atleast_1d",
           "atleast_2d", "atleast_3d", "broadcast_to", "broadcast_tensors", "broadcast_shapes",
           "select", "tensor_split", "hsplit", "vsplit", "dsplit", "take_along_dim", "diff",
           "matrix_power", "positive", "float_power", "signbit", "is_floating_point",
           "is_signed", "is_inference", "is_complex", "is_distributed", "is_storage", "is_nonzero", "ravel", "column_stack", "dstack", "meshgrid",
           "cartesian_prod", "combinations", "vander", "gradient", "is_same_size", "real",
           "imag", "conj", "conj_physical", "resolve_conj", "resolve_neg", "is_conj", "is_neg",
           "polar", "complex", "view_as_complex", "view_as_real"]


def absolute(input):
    """abs(input) (AbsBackward0)."""
    return input.abs()


def swapaxes(input, axis0, axis1):
    """input.transpose(axis0, axis1) (TransposeBackward0)."""
    return input.transpose(axis0, axis1)


def swapdims(input, dim0, dim1):
    """input.transpose(dim0, dim1) (TransposeBackward0)."""
    return input.transpose(dim0, dim1)


def ravel(input):
    """input flattened to one dimension (ViewBackward0 when it is a view)."""
    return input.ravel()


def concat(tensors=MISSING, dim=0):
    """cat(tensors, dim) (CatBackward0)."""
    if tensors is MISSING:
        raise arg_error("concat", False, ())
    return cat(tensors, dim)


def concatenate(tensors=MISSING, axis=0):
    """cat(tensors, axis) (CatBackward0)."""
    if tensors is MISSING:
        raise arg_error("concatenate", False, ())
    return cat(tensors, axis)


def _each(fn, tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(fn(t) for t in tensors[0])
    if len(tensors) == 1:
        return fn(tensors[0])
    return tuple(fn(t) for t in tensors)


def atleast_1d(*tensors):
    """Each tensor with at least one dimension (a 0-d one reshaped, others as they are)."""
    return _each(lambda t: t.reshape(1) if t.dim() == 0 else t, tensors)


def atleast_2d(*tensors):
    """Each tensor with at least two dimensions (a 0-d one reshaped, a 1-d one unsqueezed
    in front)."""
    def one(t):
        return t.reshape(1, 1) if t.dim() == 0 else (t.unsqueeze(0) if t.dim() == 1 else t)
    return _each(one, tensors)


def atleast_3d(*tensors):
    """Each tensor with at least three dimensions (torch's placement: a 1-d one in the
    middle, a 2-d one in front)."""
    def one(t):
        nd = t.dim()
        if nd == 0:
            return t.reshape(1, 1, 1)
        if nd == 1:
            return t.unsqueeze(0).unsqueeze(-1)
        return t.unsqueeze(-1) if nd == 2 else t
    return _each(one, tensors)


def broadcast_to(input, size):
    """input expanded to `size` (ExpandBackward0)."""
    return input.expand(*size)


def broadcast_shapes(*shapes):
    """The shape the given shapes broadcast to, as a Size (torch's error where they do not)."""
    sizes = [tuple(s) if isinstance(s, (tuple, list, Size)) else (int(s),) for s in shapes]
    out = [1] * max((len(s) for s in sizes), default=0)
    for k, s in enumerate(sizes):
        for i in range(-1, -len(s) - 1, -1):
            if s[i] == out[i] or s[i] == 1:
                continue
            if out[i] != 1:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {s[i]} at {i}! Mismatching "
                    f"argument at index {k} had {shapes[k]}; but expected shape should be "
                    f"broadcastable to {list(out)}")
            out[i] = s[i]
    return Size(out)


def broadcast_tensors(*tensors):
    """The tensors expanded to their common shape (one already of that shape as it is)."""
    _tensor_elements(tensors)   # (a list of them is no tensor either, as to torch)
    if tensors:   # (torch's message here is its operators', not broadcast_shapes')
        errors._check_broadcast(*[tuple(t.shape) for t in tensors])
    shape = tuple(broadcast_shapes(*[t.shape for t in tensors]))
    return tuple(t if tuple(t.shape) == shape else t.expand(*shape) for t in tensors)


def select(input, dim, index):
    """input's slice at `index` along `dim`, without that dimension (SelectBackward0)."""
    nd = input.dim()
    if not nd:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, nd, "select")
    index = _int_arg(index, "select", "index", 2, _is_int_item).__index__()   # (SymInt)
    size = input.shape[d]
    if not -size <= index < size:   # (torch names the dim wrapped)
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    # (torch's node keeps dim as given, -1 too, where indexing's has it wrapped)
    return keep_args(input[(slice(None),) * d + (index,)], dim=int(dim), index=index,
                     self_sym_sizes=tuple(input.shape))


def _split_points(size, indices_or_sections, fn="tensor_split"):
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = (indices_or_sections.item() if indices_or_sections.dim() == 0
                               else indices_or_sections.tolist())
    if isinstance(indices_or_sections, (int, np.integer)):
        n = int(indices_or_sections)
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        small, extra = divmod(size, n)
        bounds, at = [0], 0
        for k in range(n):
            at += small + (1 if k < extra else 0)
            bounds.append(at)
        return bounds
    return [0] + [min(max(int(i), 0), size) for i in indices_or_sections] + [size]


def _sections_arg(fn, ios, args, method):
    """torch's parser errors for sections / indices that are neither an int nor a sequence
    of ints (`args` as given, to name them); a float or a bool matches no form."""
    if _is_int_arg(ios, True):
        return
    err = arg_error(fn, method, args)
    if err is not None:
        raise err
    if isinstance(ios, (tuple, list)):   # (an element after the first: its own words)
        _int_list((ios,), fn, "indices", 2, False, _is_int_item)


def tensor_split(input, sections=MISSING, dim=0, *, indices=MISSING,
                 tensor_indices_or_sections=MISSING):
    """Views of input along dim: `n` sections (the first size % n one longer), or cut at the
    given indices (SliceBackward0 each); torch's three forms by position or by their names."""
    return _tensor_split(input, _sections(sections, indices, tensor_indices_or_sections), dim,
                         False)


def _tensor_split(input, indices_or_sections, dim, method):
    # (torch's three forms: a long tensor of 0 or 1 dims, an int, a list of ints; a float
    # or a bool matches none)
    ios = indices_or_sections
    if not isinstance(ios, Tensor):
        args = ((() if method else (input,)) + (() if ios is MISSING else (ios,))
                + ((dim,) if dim != 0 else ()))
        _sections_arg("tensor_split", ios, args, method)
    if not input.dim():
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    if isinstance(ios, Tensor):
        if ios._dtype is not D.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype "
                               f"of long, but got {ios._dtype.legacy}")
        if ios.dim() > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a "
                               f"zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {ios.dim()} dims")
    d = _dim(dim, input.dim())
    size = input.shape[d]
    bounds = _split_points(size, indices_or_sections)
    return tuple(input.narrow(d, lo, max(hi, lo) - lo) for lo, hi in zip(bounds[:-1], bounds[1:]))


def _dir_split(name, input, indices_or_sections, need, method=False):
    """hsplit (need 1 dim: along dim 1, 0 of a 1-d input), vsplit (2: dim 0), dsplit (3:
    dim 2); `method`: called as a Tensor method (its parser's words)."""
    if not (method and isinstance(indices_or_sections, Tensor)):   # (the method takes one)
        _sections_arg(name, indices_or_sections, (() if method else (input,)) + (
            () if indices_or_sections is MISSING else (indices_or_sections,)), method)
    dim = {"hsplit": 1 if input.dim() >= 2 else 0, "vsplit": 0, "dsplit": 2}[name]
    if input.dim() < need:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {need} dimension, but "
                           f"got a tensor with {input.dim()} dimensions!")
    if isinstance(indices_or_sections, (int, np.integer)):
        size = input.shape[dim]
        if indices_or_sections == 0 or size % indices_or_sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the "
                               f"size of the dimension {size} is not divisible by the "
                               f"split_size {indices_or_sections}!")
    return tensor_split(input, indices_or_sections, dim)


def _sections(sections, indices, tensor=MISSING):
    """hsplit's / vsplit's / dsplit's (tensor_split's) one argument: torch's (int sections),
    (int[] indices) (and (Tensor tensor_indices_or_sections)) forms, by position or by those
    names."""
    return sections if sections is not MISSING else indices if indices is not MISSING else tensor


def hsplit(input, sections=MISSING, indices=MISSING):
    """tensor_split along dimension 1 (0 for a 1-d input), sections dividing it exactly."""
    return _dir_split("hsplit", input, _sections(sections, indices), 1)


def vsplit(input, sections=MISSING, indices=MISSING):
    """tensor_split along dimension 0 of an input of at least 2 dimensions."""
    return _dir_split("vsplit", input, _sections(sections, indices), 2)


def dsplit(input, sections=MISSING, indices=MISSING):
    """tensor_split along dimension 2 of an input of at least 3 dimensions."""
    return _dir_split("dsplit", input, _sections(sections, indices), 3)


def take_along_dim(input, indices, dim=None):
    """input's elements at `indices` along dim (broadcast against input elsewhere), or at the
    flat positions `indices` with dim=None (GatherBackward0)."""
    _tensor_operand("take_along_dim", input, 1, "input")
    _tensor_operand("take_along_dim", indices, 2, "indices")
    if dim is None:
        return input.reshape(-1).gather(0, indices.reshape(-1))
    if indices.dtype is not D.int64:   # (gather's int32 too, but not here)
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{indices.dtype.legacy}")
    nd = input.dim()
    if not nd:   # (torch: the range check, then the wrapped dim's error)
        raise IndexError(f"Dimension specified as {_dim(dim, 0)} but tensor has no dimensions")
    d = _dim(dim, nd)
    shape_in = list(input.shape)
    shape_ix = list(indices.shape)
    shape_in[d] = shape_ix[d] = 1
    common = list(broadcast_shapes(shape_in, shape_ix))
    want_in, want_ix = list(common), list(common)
    want_in[d], want_ix[d] = input.shape[d], indices.shape[d]
    if list(input.shape) != want_in:
        input = input.expand(*want_in)
    if list(indices.shape) != want_ix:
        indices = indices.expand(*want_ix)
    return input.gather(d, indices)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim (after prepending / appending), as torch's
    diff_helper: input.narrow(1, L - 1) - input.narrow(0, L - 1), n times (at most L; xor
    for bool); n = 0 is a copy of input, prepend and append left out."""
    _tensor_operand("diff", input, 1, "input")
    _int_arg(n, "diff", "n", 2)
    _int_arg(dim, "diff", "dim", 3)
    for name, t in (("prepend", prepend), ("append", append)):
        if t is not None and not isinstance(t, Tensor):   # (keywords: no position)
            raise TypeError(f"diff(): argument '{name}' must be Tensor, not "
                            f"{errors.type_name(t)}")
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _dim(dim, input.dim())
    for other in (prepend, append):
        if other is None:
            continue
        if other.dim() != input.dim():
            raise RuntimeError("diff expects prepend or append to be the same dimension as "
                               "input")
        for i, (a, b) in enumerate(zip(input.shape, other.shape)):
            if i != d and a != b:
                raise RuntimeError(f"diff expects the shape of tensor to prepend or append to "
                                   f"match that of input except along the differencing "
                                   f"dimension; input.size({i}) = {a}, but got "
                                   f"tensor.size({i}) = {b}")
    if n == 0:
        out = input.new_zeros(tuple(input.shape))
        return out.copy_(input)
    parts = [t for t in (prepend, input, append) if t is not None]
    if len(parts) > 1:
        input = cat(parts, d)
    length = input.shape[d] - 1
    for _ in range(min(n, input.shape[d])):
        hi, lo = input.narrow(d, 1, length), input.narrow(d, 0, length)
        input = (hi != lo) if input.dtype is D.bool_ else hi - lo
        length -= 1
    return input


def matrix_power(input, n):
    """input @ input @ ... (n times) over the last two dims, by torch's binary
    decomposition: a copy of the identity for n = 0, the inverse's power for n < 0 (the
    inverse itself for n = -1)."""
    return _matrix_power(input, n, "matrix_power", 2)


def linalg_matrix_power(input, n):
    """torch.linalg.matrix_power: matrix_power under linalg's name (its parser's errors)."""
    return _matrix_power(input, n, "linalg_matrix_power", 2)   # (input=: its parser's name)


def _matrix_power(input, n, fn, pos):
    n = _int_arg(n, fn, "n", pos).__index__()   # (not a float, bool or float tensor)
    if input.dim() < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                           "dimensions.")
    if input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {input.shape[-2]} by {input.shape[-1]} matrices")
    if n == 0:
        out = input.clone()
        return out.copy_(eye(input.shape[-1], dtype=input.dtype).expand(*input.shape))
    if n == -1:   # (torch's: the inverse itself, no copy of it)
        return inv(input)
    if n < 0:
        input, n = inv(input), -n
    if n == 1:
        return input.clone()
    if n == 2:
        return input.matmul(input)
    if n == 3:
        return input.matmul(input).matmul(input)
    z = result = None
    while n > 0:
        bit, n = n % 2, n // 2
        z = input if z is None else z.matmul(z)
        if bit:
            result = z if result is None else result.matmul(z)
    return result


def positive(input):
    """input itself (torch's unary +), refused for bool."""
    if input.dtype is D.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def float_power(input, exponent):
    """input ** exponent in double precision (both converted to float64)."""
    if isinstance(input, Tensor):
        input = input.double()
    if isinstance(exponent, Tensor):
        exponent = exponent.double()
        if not isinstance(input, Tensor):
            return exponent.__rpow__(float(input))
    return input ** exponent


def signbit(input):
    """Whether each element's sign bit is set (-0.0 and -nan included): a bool tensor."""
    return Tensor._wrap(np.signbit(input.detach().numpy()), D.bool_)


def is_floating_point(input):
    """Whether input's dtype is a floating-point one."""
    return _input("is_floating_point", input).dtype.is_floating_point


def is_inference(input):
    """Whether input is an inference tensor (made in an inference_mode block)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_inference(): argument 'input' (position 1) must be Tensor, not "
                        f"{errors.type_name(input)}")
    return input.is_inference()


def is_signed(input):
    """Whether input's dtype is a signed one (all but bool and uint8)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_signed(): argument 'input' (position 1) must be Tensor, not "
                        f"{errors.type_name(input)}")
    return input.dtype.is_signed


def is_complex(input):
    """Whether input's dtype is complex: never (tapegrad has none)."""
    _input("is_complex", input)
    return False


def is_distributed(input):
    """Whether input is a distributed tensor: never (torch's answers False for a plain one)."""
    _input("is_distributed", input)
    return False


def is_storage(obj):
    """Whether obj is a storage object: never (tapegrad's tensors have none)."""
    return False


def is_same_size(input, other):
    """Whether the two tensors have the same shape."""
    _input("is_same_size", input)
    if not isinstance(other, Tensor):
        raise TypeError(f"is_same_size(): argument 'other' (position 2) must be Tensor, not "
                        f"{errors.type_name(other)}")
    return input.shape == other.shape


def is_nonzero(input):
    """Whether the one element of input is nonzero (torch's errors otherwise)."""
    n = _input("is_nonzero", input).numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.detach().reshape(-1)[0].item() != 0)


def _tensor_list(tensors):
    """A list of tensors given as *tensors or as one list / tuple."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0])
    return list(tensors)


def column_stack(tensors):
    """hstack of the tensors with 0-d and 1-d ones reshaped to columns (CatBackward0)."""
    if not tensors:
        raise RuntimeError("column_stack expects a non-empty TensorList")
    return hstack([t.reshape(t.numel(), 1) if t.dim() <= 1 else t for t in tensors])


def dstack(tensors):
    """cat of the tensors made at least 3-d, along dimension 2 (CatBackward0)."""
    if not tensors:
        raise RuntimeError("dstack expects a non-empty TensorList")
    return cat(atleast_3d(list(tensors)), 2)


_MESHGRID_WARNING = ("torch.meshgrid: in an upcoming release, it will be required to pass the "
                     "indexing argument.")
_meshgrid_warned = []


def _meshgrid(tensors, indexing):
    """torch's meshgrid: each 0-d / 1-d tensor viewed along its own dimension and expanded to
    the grid (ExpandBackward0 of ViewBackward0); "xy" swaps the first two dimensions."""
    n = len(tensors)
    if n == 0:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for a, b in zip(tensors, tensors[1:]):
        if a.dtype is not b.dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    order = list(range(n))
    swap = indexing == "xy" and n >= 2
    if swap:
        order[0], order[1] = 1, 0
    elif indexing not in ("xy", "ij"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but '
                           f'received: {indexing}')
    refs = [tensors[k] for k in order]
    for t in refs:
        if t.dim() > 1:
            # torch prints the tensor in ATen's format here; the shape and type stand for it
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: [ tapegrad.{t.dtype.legacy}Tensor"
                               f"{{{','.join(map(str, t.shape))}}} ]")
    shape = [t.numel() for t in refs]
    grids = []
    for i, t in enumerate(refs):
        view = [1] * n
        view[i] = -1
        grids.append(t.view(*view).expand(*shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids of 0-d / 1-d tensors, "ij" (matrix) or "xy" (Cartesian) indexing;
    without `indexing`, "ij" and torch's one-time warning."""
    if indexing is None and not _meshgrid_warned:
        _meshgrid_warned.append(True)
        warnings.warn(_MESHGRID_WARNING, UserWarning, stacklevel=2)
    return _meshgrid(_tensor_list(tensors), "ij" if indexing is None else indexing)


def cartesian_prod(*tensors):
    """The Cartesian product of 1-d tensors as rows (StackBackward0 of flattened grids); one
    tensor is returned as it is."""
    _tensor_elements(tensors)
    for t in tensors:
        if t.dim() != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.flatten() for g in _meshgrid(list(tensors), "ij")], 1)


def _triu_mask(n, dims, diagonal):
    """The bool grid whose indices i, j, k... rise strictly (or weakly, `diagonal`)."""
    grids = _meshgrid([arange(n)] * dims, "ij")
    mask = full(tuple(grids[0].shape), True, dtype=D.bool_)
    for a, b in zip(grids, grids[1:]):
        mask = mask * ((a <= b) if diagonal else (a < b))
    return mask


def combinations(input, r=2, with_replacement=False):
    """The length-r combinations of a 1-d tensor's elements, as rows (StackBackward0 of
    masked selections of its grids)."""
    r = _int_arg(r, "combinations", "r", 2).__index__()
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return empty(0, dtype=input.dtype)
    mask = _triu_mask(input.numel(), r, with_replacement)
    return stack([g.masked_select(mask) for g in _meshgrid([input] * r, "ij")], 1)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a 1-d tensor (columns x ** 0 ... x ** (N - 1), reversed
    unless `increasing`), as torch builds it: a ones column, then the cumulative product of
    x's copies written in place (CopySlices); integer and bool inputs give int64."""
    _tensor_operand("vander", x, 1, "x")
    if N is not None:
        N = _int_arg(N, "vander", "N", 2).__index__()
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0]
    if N is not None:
        n = N
        if n < 0:
            raise RuntimeError("N must be non-negative.")
    dt = x.dtype if x.dtype.is_floating_point else D.int64
    result = empty(x.shape[0], n, dtype=dt)
    if n > 0:
        result.select(1, 0).fill_(1)
        if n > 1:
            result[:, 1:].copy_(x.unsqueeze(1))
            result[:, 1:].copy_(result[:, 1:].cumprod(1))
    if not increasing:
        return result.flip([1])
    return result


# ---- complex views of real tensors: tapegrad has no complex dtype, so each is the input ----
def _input(fn, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not "
                        f"{errors.type_name(input)}")
    return input


def real(input):
    """The real part: the tensor itself for a real dtype."""
    return _input("real", input)


def imag(input):
    """The imaginary part: refused for a real dtype, as in torch."""
    _input("imag", input)
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


def conj(input):
    """The complex conjugate (a lazy view in torch): the tensor itself for a real dtype."""
    return _input("conj", input)


def conj_physical(input):
    """The complex conjugate, materialized: the tensor itself for a real dtype."""
    return _input("conj_physical", input)


def resolve_conj(input):
    """input with a lazy conjugation materialized: the tensor itself (never conjugated)."""
    return _input("resolve_conj", input)


def resolve_neg(input):
    """input with a lazy negation materialized: the tensor itself (never negated)."""
    return _input("resolve_neg", input)


def is_conj(input):
    """Whether input's conjugate bit is set: never for a real dtype."""
    _input("is_conj", input)
    return False


def is_neg(input):
    """Whether input's negative bit is set: never for a real dtype."""
    _input("is_neg", input)
    return False


def _no_complex(fn):
    return NotImplementedError(f"tapegrad has no complex dtype: torch.{fn} returns a complex "
                               "tensor (keep the real and imaginary parts as two real tensors)")


def _complex_parts(a, b):
    """torch's checks of the two real parts of polar / complex (complex_check_dtype, then
    TensorIterator's broadcast): a pair torch refuses raises its error, not the refusal of
    a complex result."""
    floating = ("Half", "Float", "Double")
    if a.dtype.legacy not in floating or b.dtype.legacy not in floating:
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{a.dtype.legacy} and {b.dtype.legacy}")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"Expected object of scalar type {a.dtype.legacy} but got scalar "
                           f"type {b.dtype.legacy} for second argument")
    msg = errors.broadcast_mismatch(a.shape, b.shape)
    if msg:
        raise RuntimeError(msg)


def polar(abs, angle, *, out=None):  # noqa: A002  (torch's names)
    """abs * (cos(angle) + i sin(angle)): complex, so refused (no complex dtype)."""
    _tensor_operand("polar", abs, 1, "abs")
    _tensor_operand("polar", angle, 2, "angle")
    _complex_parts(abs, angle)
    raise _no_complex("polar")


def complex(real, imag, *, out=None):  # noqa: A001
    """real + i imag: complex, so refused (no complex dtype)."""
    _tensor_operand("complex", real, 1, "real")
    _tensor_operand("complex", imag, 2, "imag")
    _complex_parts(real, imag)
    raise _no_complex("complex")


def view_as_complex(input):
    """The last dimension's pairs as complex numbers: refused (no complex dtype), after
    torch's checks of the input (a tensor torch could not view raises torch's error)."""
    _input("view_as_complex", input)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"view_as_complex is only supported for half, float and double "
                           f"tensors, but got a tensor of scalar type: {input.dtype.legacy}")
    if input.dim() == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    strides = input.stride()
    if strides[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(st % 2 for st in strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last "
                           "dimension")
    if input.storage_offset() % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    raise _no_complex("view_as_complex")


def view_as_real(input):
    """The complex elements as (real, imag) pairs: torch's error for a real tensor (every
    tensor here)."""
    _input("view_as_real", input)
    raise RuntimeError("view_as_real is only supported for complex tensors")


@tensor_methods
class _ComplexViews:
    """Tensor.real / imag and the methods of the functions above."""

    @property
    def real(self):
        """The real part: the tensor itself (assigning copies into it)."""
        return self

    @real.setter
    def real(self, value):
        self.copy_(value)

    @property
    def imag(self):
        """The imaginary part: refused for a real dtype."""
        return imag(self)

    def conj(self):
        return self

    def conj_physical(self):
        return self

    def resolve_conj(self):
        return self

    def resolve_neg(self):
        return self

    def is_conj(self):
        return False

    def is_neg(self):
        return False


@tensor_methods
class _ComposedMethods:
    """The Tensor methods of the functions above (torch has them as methods too)."""

    def select(self, dim, index):
        return select(self, dim, index)

    def tensor_split(self, sections=MISSING, dim=0, *, indices=MISSING,
                     tensor_indices_or_sections=MISSING):
        return _tensor_split(self, _sections(sections, indices, tensor_indices_or_sections),
                             dim, True)

    def hsplit(self, sections=MISSING, indices=MISSING):
        return _dir_split("hsplit", self, _sections(sections, indices), 1, True)

    def vsplit(self, sections=MISSING, indices=MISSING):
        return _dir_split("vsplit", self, _sections(sections, indices), 2, True)

    def dsplit(self, sections=MISSING, indices=MISSING):
        return _dir_split("dsplit", self, _sections(sections, indices), 3, True)

    def take_along_dim(self, indices, dim=None):
        _tensor_operand("take_along_dim", indices, 1, "indices")
        return take_along_dim(self, indices, dim)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        _int_arg(n, "diff", "n")   # (the method's positions; the function's count input)
        _int_arg(dim, "diff", "dim", 2)
        return diff(self, n, dim, prepend, append)

    def matrix_power(self, n):
        return _matrix_power(self, n, "matrix_power", 1)

    def positive(self):
        return positive(self)

    def float_power(self, exponent):
        return float_power(self, exponent)

    def signbit(self):
        return signbit(self)

    def is_complex(self):
        return False

    def is_distributed(self):
        return False

    def is_nonzero(self):
        return is_nonzero(self)

    def broadcast_to(self, size):
        return broadcast_to(self, size)


# ---- torch.gradient ---------------------------------------------------------------------------
def _gradient_dims(input, spacing, dim):
    """(dims, per-dim spacing: a number or a 1-d coordinate tensor) with torch's checks."""
    nd = input.dim()
    if dim is None:
        dims = list(range(nd))
    else:
        keys = (dim,) if hasattr(dim, "__index__") else dim
        if not nd:   # (torch: the range check first, then the 0-d error)
            for d in keys:
                _dim(d, 0)
        dims = [_layout_dim(d, nd) for d in keys]
        for d in dims:
            if dims.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    if isinstance(spacing, Tensor) and spacing.dim() == 0:
        spacing = spacing.item()
    if isinstance(spacing, (int, float)):
        return dims, [spacing] * len(dims)
    spacing = list(spacing)
    if len(spacing) != len(dims):
        if dim is None:
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, or "
                               f"a list of length equal to 'self.dim() = {nd}', since dim "
                               f"argument was not given, but got a list of length "
                               f"{len(spacing)}")
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's "
                           f"spacing and dim arguments to have the same length, but got a "
                           f"spacing argument of length {len(spacing)} and a dim argument of "
                           f"length {len(dims)}.")
    for h in spacing:
        if isinstance(h, Tensor) and h.dim() != 1:
            raise RuntimeError(f"torch.gradient expected each element of spacing to have one "
                               f"dimension, but got an element with {h.dim()} dimensions!")
    return dims, spacing


def _along(t, d, nd):
    """A 1-d tensor t shaped to broadcast along dim d of an nd-dim tensor."""
    return t.reshape([-1 if i == d else 1 for i in range(nd)])


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """The derivative of `input` along each dim by finite differences (torch.gradient): central
    differences inside, one-sided (edge_order 1) or second-order (2) ones at the ends, with
    a uniform spacing per dim or the coordinates of each sample (a 1-d tensor per dim); a
    tuple with one tensor per dim, each the cat of its three parts (CatBackward0)."""
    if input.dtype is D.uint8:   # (its differences would wrap around)
        raise RuntimeError("torch.gradient does not support uint8 input.")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    dims, steps = _gradient_dims(input, spacing, dim)
    nd = input.dim()
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
    out = []
    for d, h in zip(dims, steps):
        n = input.shape[d]

        def at(start, length=1):
            return input.narrow(d, start, length)
        x0, x1 = at(0), at(1)                  # the first samples,
        z0, z1 = at(n - 1), at(n - 2)          # the last ones (backwards)
        x2, z2 = (at(2), at(n - 3)) if edge_order == 2 else (None, None)
        lo, mid, hi = at(0, n - 2), at(1, n - 2), at(2, n - 2)
        if isinstance(h, Tensor):       # the samples' coordinates along d
            c = h
            left, right = c[1:-1] - c[:-2], c[2:] - c[1:-1]
            a = _along(-right / (left * (left + right)), d, nd)
            b = _along((right - left) / (left * right), d, nd)
            e = _along(left / (right * (left + right)), d, nd)
            center = a * lo + b * mid + e * hi
            if edge_order == 1:
                first = (x1 - x0) / (c[1] - c[0])
                last = (z0 - z1) / (c[-1] - c[-2])
            else:
                s1, s2 = c[1] - c[0], c[2] - c[1]
                first = (x0 * (-(2.0 * s1 + s2) / (s1 * (s1 + s2))) + x1 * ((s1 + s2) / (s1 * s2))
                         + x2 * (-s1 / (s2 * (s1 + s2))))
                s1, s2 = c[-2] - c[-3], c[-1] - c[-2]
                last = (z2 * (s2 / (s1 * (s1 + s2))) + z1 * (-(s2 + s1) / (s1 * s2))
                        + z0 * ((2.0 * s2 + s1) / (s2 * (s1 + s2))))
        else:
            center = (hi - lo) / (2.0 * h)
            if edge_order == 1:
                first = (x1 - x0) / h
                last = (z0 - z1) / h
            else:
                first = (x0 * -1.5 + x1 * 2.0 - x2 * 0.5) / h
                last = (z2 * 0.5 + z1 * -2.0 + z0 * 1.5) / h
        out.append(cat([first, center, last], d))
    return tuple(out)
