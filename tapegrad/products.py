"""Products of issue #11: addmm and linalg.cross (decomposition rows shown as torch's
AddmmBackward0 / LinalgCrossBackward0), addmv, addr, baddbmm and addbmm (rows of their own
torch names), and outer, tensordot, kron, einsum and inner recorded as torch's own
compositions record them (views, products, mm/bmm), so large contractions ride the BLAS
host entries of the matmul kind."""
import math
import string

import numpy as np

from . import decomps, dtypes as D, errors
from .errors import _check_broadcast, _tname
from .mathops import _inplace_decomp
from .ndops import keep_addmm_args, matmul, where
from .structops import _pre_read
from .tensor import _dim, _layout_dim, Tensor, _tensor_operand, tensor_methods
from .views import _reshape_op, KIND_OPS


def _matrix(fn, name, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {errors.type_name(t)}")
    if t.dim() != 2:
        raise RuntimeError(f"{name} must be a matrix, got {t.dim()}-D tensor")


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2) (AddmmBackward0)."""
    _matrix("addmm", "mat1", mat1)
    _matrix("addmm", "mat2", mat2)
    err = errors.addmm_dtypes(input, mat1, mat2)
    if err is None and mat1.shape[1] == mat2.shape[0]:   # (else the product's error first)
        # input is expanded to the product's shape: broadcasting one way only
        err = errors.expand_error(tuple(input.shape), (mat1.shape[0], mat2.shape[1]),
                                  input.dtype)
    if err is not None:
        raise err

    def body(T, x, m1, m2):
        base = _scaled_input(x, beta)
        prod = matmul(m1, m2)
        return base + (prod * alpha if alpha != 1 else prod)
    if not (input._recorded or mat1._recorded or mat2._recorded):
        return body(None, input, mat1, mat2)
    return keep_addmm_args(decomps.record("addmm", body, KIND_OPS, input, mat1, mat2,
                                          edges=(input, mat1, mat2)), mat1, mat2, alpha, beta)


# ---- beta * input + alpha * product: addmv, addr, baddbmm, addbmm --------------------------
_C_TYPES = {"float32": "float", "float64": "double", "int64": "int64_t", "int32": "int",
            "int16": "int16_t", "int8": "int8_t", "uint8": "uint8_t"}


def _scale_args(dt, beta, alpha):
    """torch's error for a complex beta or alpha (converted to the tensors' C type)."""
    for c in (beta, alpha):
        if isinstance(c, complex):
            raise RuntimeError(f"value cannot be converted to type {_C_TYPES[dt.name]} "
                               f"without overflow")


def _scaled_input(x, beta):
    """beta * x.  beta == 0 ignores x's values (nan included) as torch, its gradient then 0;
    beta == 1 reads x first (next_functions)."""
    if beta == 0:
        return where(Tensor._wrap(np.ones(x._shape, bool), D.bool_), 0.0, x)
    return x * beta if beta != 1 else _pre_read(x)


def _scaled_sum(T, x, prod, beta, alpha):
    """beta * x + alpha * prod (x broadcast to prod's shape; _scaled_input's rules)."""
    return _scaled_input(x, beta) + (prod * alpha if alpha != 1 else prod)


def _fused(name, fn_prod, input, m1, m2, beta, alpha):
    """The row `name` of input, m1, m2 (one dtype): floating point tensors recorded as the
    body, integer ones (never differentiable) as numpy's, beta and alpha taken as ints."""
    if not input._dtype.is_floating_point:
        prod = fn_prod(m1, m2)._array()
        out = int(beta) * input._array() + int(alpha) * prod
        return Tensor._wrap(np.asarray(out, input._dtype.np), input._dtype)

    def body(T, x, a, b):
        return _scaled_sum(T, x, fn_prod(a, b), beta, alpha)
    if not (input._recorded or m1._recorded or m2._recorded):
        return body(None, input, m1, m2)
    return decomps.record(name, body, KIND_OPS, input, m1, m2, edges=(input, m1, m2))


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec), input broadcast to mat's rows (AddmvBackward0)."""
    for pos, (name, t) in enumerate((("input", input), ("mat", mat), ("vec", vec)), 1):
        _tensor_operand("addmv", t, pos, name)
    if not (mat.dim() == 2 and vec.dim() == 1 and input.dim() <= 1):
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.dim()}, "
                           f"{mat.dim()}, {vec.dim()}")
    n, k = mat._shape
    if k != vec._shape[0] or (input.numel() != n and input.numel() != 1):
        raise RuntimeError(f"size mismatch, got input ({input.size(0)}), mat ({n}x{k}), vec "
                           f"({vec._shape[0]})")
    if not input._dtype is mat._dtype is vec._dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got "
                           f"{input._dtype.legacy}, {mat._dtype.legacy}, and "
                           f"{vec._dtype.legacy}")
    if input._dtype is D.bool_:
        raise NotImplementedError("\"addmv_impl_cpu\" not implemented for 'Bool'")
    _scale_args(input._dtype, beta, alpha)
    return _fused("addmv", matmul, input, mat, vec, beta, alpha)


def _outer(a, b):
    return a.reshape(-1, 1) * b


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2), input broadcast to the outer product's
    shape, the three promoted to one dtype (AddrBackward0)."""
    for pos, (name, t) in enumerate((("input", input), ("vec1", vec1), ("vec2", vec2)), 1):
        _tensor_operand("addr", t, pos, name)
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.dim() != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.dim()}-D")
    dt = D.result_type((D.result_type((input._dtype, 2), (vec1._dtype, 2)), 2),
                       (vec2._dtype, 2))
    for name, c in (("beta", beta), ("alpha", alpha)):
        if isinstance(c, bool) and dt is not D.bool_:
            raise RuntimeError(f"Boolean {name} only supported for Boolean results.")
        if isinstance(c, (float, complex)) and not dt.is_floating_point:
            raise RuntimeError(f"For integral input tensors, argument {name} must not be a "
                               f"floating point number.")
    _scale_args(dt, beta, alpha)
    shape = (vec1._shape[0], vec2._shape[0])
    input.detach().expand(shape)                     # (torch's error when it does not fit)
    input, vec1, vec2 = (t if t._dtype is dt else t.to(dt) for t in (input, vec1, vec2))
    if dt is D.bool_:
        out = np.broadcast_to(input._array() & bool(beta), shape) | \
            (np.outer(vec1._array(), vec2._array()) & bool(alpha))
        return Tensor._wrap(np.array(out), dt)
    return _fused("addr", _outer, input, vec1, vec2, beta, alpha)


def _batch_checks(fn, input, batch1, batch2):
    for pos, (name, t) in enumerate((("input", input), ("batch1", batch1), ("batch2", batch2)),
                                    1):
        _tensor_operand(fn, t, pos, name)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * bmm(batch1, batch2), input broadcast to the product's shape
    (BaddbmmBackward0)."""
    _batch_checks("baddbmm", input, batch1, batch2)
    input.detach().expand(batch1.size(0), batch1.size(1), batch2.size(2))
    if not input._dtype is batch1._dtype is batch2._dtype:
        raise RuntimeError(f"Input dtypes must be the same, got: input {_tname(input._dtype)}, "
                           f"batch1: {_tname(batch1._dtype)}, batch2: "
                           f"{_tname(batch2._dtype)}")
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if t.dim() != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    bs, _, k = batch1._shape
    if batch2._shape[:2] != (bs, k):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{bs}, {k}] but got: [{batch2._shape[0]}, {batch2._shape[1]}].")
    if input._dtype is D.bool_:
        raise NotImplementedError("\"baddbmm\" not implemented for 'Bool'")
    _scale_args(input._dtype, beta, alpha)
    return _fused("baddbmm", _bmm, input, batch1, batch2, beta, alpha)


def _bmm(a, b):
    return matmul(a, b, _op="bmm")


def _bmm_sum(a, b):
    return matmul(a, b, _op="bmm").sum(0)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (the sum over the batch of batch1[i] @ batch2[i]), input
    broadcast to the product's shape (AddbmmBackward0)."""
    _batch_checks("addbmm", input, batch1, batch2)
    input.detach().expand(batch1.size(1), batch2.size(2))
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if t.dim() != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    (b1, n, k), (b2, k2, p) = batch1._shape, batch2._shape
    if b1 != b2:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {b1} and "
                           f"{b2}")
    if k != k2:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({n}x{k} and {k2}x{p})")
    for names, (s, t) in (("self and mat2", (input, batch2)),
                          ("mat1 and mat2", (batch1, batch2))):
        if s._dtype is not t._dtype:
            raise RuntimeError(f"{names} must have the same dtype, but got {s._dtype.legacy} "
                               f"and {t._dtype.legacy}")
    if input._dtype is D.bool_:
        raise NotImplementedError("\"addmm_impl_cpu_\" not implemented for 'Bool'")
    _scale_args(input._dtype, beta, alpha)
    return _fused("addbmm", _bmm_sum, input, batch1, batch2, beta, alpha)


def _inplace_product(self, fn, args, beta, alpha):
    """self = fn(self, *args, beta, alpha) in place (torch's addmv_, addr_, baddbmm_,
    addbmm_): the row's grad_fn, recorded when self or an argument needs history."""
    self._check_inplace()                     # (a leaf that requires grad: torch's error first)
    if fn is addr:
        for pos, (name, v) in enumerate((("vec1", args[0]), ("vec2", args[1])), 1):
            _tensor_operand("addr_", v, pos, name)
            if v.dim() != 1:
                raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.dim()}-D")
        if self.dim() != 2:
            raise RuntimeError(f"2D tensor expected, got {self.dim()}D tensor for input")
        if self._shape != (args[0]._shape[0], args[1]._shape[0]):
            raise RuntimeError(f"size mismatch, input: {list(self._shape)}, v1: "
                               f"{list(args[0]._shape)}, v2: {list(args[1]._shape)}")
    out = fn(self.detach(), *(a.detach() if isinstance(a, Tensor) else a for a in args),
             beta=beta, alpha=alpha)          # (torch's argument errors, the result's shape)
    if fn is addr:
        if out._dtype.is_floating_point and not self._dtype.is_floating_point:
            raise RuntimeError(f"result type {out._dtype.legacy} can't be cast to the desired "
                               f"output type {self._dtype.legacy}")
        if self._dtype.is_floating_point:
            args = tuple(a if a._dtype is self._dtype else a.to(self._dtype) for a in args)
    elif fn is addbmm and out._shape != self._shape:
        raise NotImplementedError(f"tapegrad: addbmm_ of a tensor of size {list(self._shape)}, "
                                  f"not the product's {list(out._shape)} (torch resizes it), "
                                  f"is not implemented")
    elif out._shape != self._shape:
        raise RuntimeError(f"Bad in-place call: input tensor size {list(self._shape)} and "
                           f"output tensor size {list(out._shape)} should match")
    return _inplace_decomp(self, fn, *args, beta=beta, alpha=alpha, _clone=False,
                           _inputs=args)


def addmv_(input, mat, vec, *, beta=1, alpha=1):
    """input = beta * input + alpha * (mat @ vec), in place (AddmvBackward0)."""
    _tensor_operand("addmv_", input, 1, "input")
    return _inplace_product(input, addmv, (mat, vec), beta, alpha)


def _tensors(fn, *named, first=1):
    """torch's TypeError for one of the (name, value) arguments of fn that is no tensor, their
    positions counted from `first` (2 for a method's argument after self)."""
    for pos, (name, v) in enumerate(named, first):
        _tensor_operand(fn, v, pos, name)


def outer(input, vec2, *, _fn="outer"):
    """The outer product of two vectors, recorded as torch's: a view times a vector."""
    _tensors(_fn, ("input", input), ("vec2", vec2))
    for name, v in (("self", input), ("vec2", vec2)):
        if v.dim() != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.dim()}-D")
    return input.reshape(-1, 1) * vec2


def tensordot(a, b, dims=2):
    """The contraction of a's dims with b's (an int: a's last, b's first), recorded as
    torch's: permute, reshape, mm, view."""
    # (torch's Python checks: an int, a tensor read by its item or as two rows, or two
    # lists; a numpy integer or a float is refused, a float tensor truncated)
    if not isinstance(dims, (tuple, list, Tensor, int)):
        raise RuntimeError(f"tensordot expects dims to be int or tuple[list[int], list[int]] or "
                           f"list[list[int]] containing two lists, but got dims={dims}")
    if isinstance(dims, Tensor) and dims.numel() > 1:
        if dims.size()[0] != 2:
            raise AssertionError(f"dims tensor must have size 2 in first dimension, got "
                                 f"{dims.size()[0]}")
        dims = (dims[0].tolist(), dims[1].tolist())
    if not isinstance(dims, (tuple, list)):
        n = int(dims.item()) if isinstance(dims, Tensor) else dims
        if n < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if n > min(a.dim(), b.dim()) and not isinstance(dims, Tensor):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={n}")
        da, db = list(range(-n, 0)), list(range(n))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    da = [_dim(d, a.dim()) for d in da]
    db = [_dim(d, b.dim()) for d in db]
    for x, y in zip(da, db):
        if a._shape[x] != b._shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a._shape[x]} in dim {x} and second has size {b._shape[y]} in "
                               f"dim {y}")
    fa = [d for d in range(a.dim()) if d not in da]
    fb = [d for d in range(b.dim()) if d not in db]
    k = int(math.prod(a._shape[d] for d in da))
    ma = int(math.prod(a._shape[d] for d in fa))
    nb = int(math.prod(b._shape[d] for d in fb))
    pa = a.permute(*(fa + da)) if fa + da != list(range(a.dim())) else a
    pb = b.permute(*(db + fb)) if db + fb != list(range(b.dim())) else b
    r = matmul(pa.reshape(ma, k), pb.reshape(k, nb))
    return r.reshape(tuple(a._shape[d] for d in fa) + tuple(b._shape[d] for d in fb))


def ger(input, vec2):
    """outer's alias."""
    return outer(input, vec2, _fn="ger")


def kron(input, other):
    """The Kronecker product, recorded as torch's: a product of views, then an unsafe view."""
    _tensors("kron", ("input", input), ("other", other))
    nd = max(input.dim(), other.dim())
    a = input.reshape((1,) * (nd - input.dim()) + input._shape)
    b = other.reshape((1,) * (nd - other.dim()) + other._shape)
    sa = sum(((s, 1) for s in a._shape), ())
    sb = sum(((1, s) for s in b._shape), ())
    p = a.reshape(sa) * b.reshape(sb)
    shape = tuple(x * y for x, y in zip(a._shape, b._shape))
    return _reshape_op("unsafe_view", p, shape, np.array(p._array()).reshape(shape))


def cross(input, other, dim=None):
    """The cross product of 3-vectors along dim (LinalgCrossBackward0); torch.cross's
    default dim is the first of size 3."""
    _tensors("cross", ("input", input), ("other", other))
    if dim is None:
        errors.warn_once("Using torch.cross without specifying the dim arg is deprecated.\n"
                         "Please either pass the dim explicitly or simply use "
                         "torch.linalg.cross.\nThe default value of dim will change to agree "
                         "with that of linalg.cross in a future release.")
        # (torch's _default_cross_dim: the first dim of size 3 of input's own shape)
        dim = next((d for d, s in enumerate(input._shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return linalg_cross(input, other, dim=dim)


def linalg_cross(input, other, *, dim=-1):
    """torch.linalg.cross: the cross product along dim (default the last)."""
    _tensors("linalg_cross", ("input", input), ("other", other))
    if input.dim() != other.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = _layout_dim(dim, input.dim())   # (a 0-d input: "Dimension specified as -1 ...")
    if input._shape[d] != 3 or other._shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input._shape[d]} and {other._shape[d]}")
    _check_broadcast(input._shape, other._shape)
    # torch's kernel takes one dtype, no promotion, and no bool
    if input._dtype is D.bool_:
        raise NotImplementedError("\"cross\" not implemented for 'Bool'")
    if other._dtype is not input._dtype:
        raise RuntimeError(f"expected scalar type {input._dtype.legacy} but found "
                           f"{other._dtype.legacy}")

    def body(T, a, b):
        a1, b2 = a.roll(-1, d), b.roll(-2, d)
        a2, b1 = a.roll(-2, d), b.roll(-1, d)
        return a1 * b2 - a2 * b1
    if not (input._recorded or other._recorded):
        return body(None, input, other)
    return decomps.record("cross", body, KIND_OPS, input, other, edges=(input, other))


def _sublist_label(n):
    """A sublist's subscript as an equation's label (torch's: 0-25 are A-Z, 26-51 a-z)."""
    if n is Ellipsis:
        return "..."
    if 0 <= n < 26:
        return chr(ord("A") + n)
    if 26 <= n < 52:
        return chr(ord("a") + n - 26)
    raise ValueError("einsum(): subscript in subscript list is not within the valid range "
                     "[0, 52)")


def _sublist_equation(args):
    """(equation, operands) of einsum's sublist form: operands alternating with their
    subscript lists, then optionally the output's."""
    equation = ",".join("".join(map(_sublist_label, sub)) for sub in args[1::2])
    if len(args) % 2 == 1:
        return equation + "->" + "".join(map(_sublist_label, args[-1])), args[:-1:2]
    return equation, args[::2]


_EINSUM_ARGS = ("einsum(): must specify the equation string and at least one operand, or at "
                "least one operand and its subscripts list")


def einsum(*args):
    """Einstein summation over one or more operands, as permute/reshape/sum/diagonal and
    (batched) matrix products, contracted left to right (so it rides the BLAS host entries)."""
    if len(args) < 2 or len(args) == 2 and isinstance(args[1], (list, tuple)) and not args[1]:
        raise ValueError(_EINSUM_ARGS)   # (torch.einsum's own check, before the parse)
    equation, *operands = args
    operands = tuple(operands)
    if not isinstance(equation, str):   # torch's sublist form: op, [0, 1], op, [1, 2], [0, 2]
        equation, operands = _sublist_equation((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    _einsum_check_labels(equation.partition("->")[0], 0, " ,.")
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation" if len(operands) > len(terms) else
                           "einsum(): fewer operands were provided than specified in the "
                           "equation")
    free = [c for c in string.ascii_uppercase if c not in eq][::-1]
    ell = None
    for i, (t, x) in enumerate(zip(terms, operands)):
        if "..." in t:
            k = x.dim() - (len(t) - 3)
            if k < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(t) - 3}) is more than the number of dimensions "
                                   f"({x.dim()}) for operand {i}")
            if ell is None:
                ell = "".join(free.pop() for _ in range(k))
            elif len(ell) < k:
                ell = "".join(free.pop() for _ in range(k - len(ell))) + ell
            terms[i] = t.replace("...", ell[len(ell) - k:])
        if len(terms[i]) != x.dim():
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({len(terms[i])}) does not match the number of dimensions "
                               f"({x.dim()}) for operand {i} and no ellipsis was given")
    if arrow:
        _einsum_check_output(equation, "".join(terms))
        out = out.replace("...", ell or "")
    else:
        labels = "".join(terms)
        out = (ell or "") + "".join(sorted(c for c in set(labels) if labels.count(c) == 1
                                           and c not in (ell or "")))
    sizes = _einsum_sizes(operands, terms, ell or "")
    if len(operands) > 1 and all(x._dtype is D.bool_ for x in operands):
        # torch multiplies bool operands (an and) where no label is summed, and contracts
        # with bmm, which has no bool kernel
        if any(c not in out for c in "".join(terms)):
            raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
        return Tensor._wrap(np.einsum(f"{','.join(terms)}->{out}",
                                      *[x._array() for x in operands]), D.bool_)
    ops = [_einsum_unbroadcast(*_einsum_diagonal(x, t), sizes) for x, t in zip(operands, terms)]
    # sum out labels no other operand nor the output needs, then contract left to right
    ops = [_einsum_sum(x, t, out + "".join(u for j, (_, u) in enumerate(ops) if j != i))
           for i, (x, t) in enumerate(ops)]
    x, t = ops[0]
    for i in range(1, len(ops)):
        y, u = ops[i]
        keep = out + "".join(v for _, v in ops[i + 1:])
        x, t = _einsum_pair(x, t, y, u, keep)
    x, t = _einsum_sum(x, t, out)
    if t != out:
        x = x.permute(*[t.index(c) for c in out])
    return x


def _einsum_check_labels(part, start, others):
    """torch's scan of the subscripts in `part` (of the equation, from index `start`; the
    operands' side when `others` holds a comma): letters, spaces, commas there, ellipses (one
    per operand or output), in its words for the first that is none of them."""
    what = "operand 0" if "," in others else "output"
    i, k, ell = 0, 0, False
    while i < len(part):
        c = part[i]
        if c == "." and "." in others:
            if ell:
                raise RuntimeError(f"einsum(): found '.' for {what} " + (
                    "for which an ellipsis was already found" if "," in others
                    else "but an ellipsis (...) was already found"))
            if not (i + 2 < len(part) and part[i + 1] == "." and part[i + 2] == "."):
                raise RuntimeError(f"einsum(): found '.' for {what} that is not part of any "
                                   f"ellipsis" + ("" if "," in others else " (...)"))
            ell, i = True, i + 2
        elif c == "," and "," in others:
            k, ell, what = k + 1, False, f"operand {k + 1}"
        elif c != " " and not ("a" <= c <= "z" or "A" <= c <= "Z"):
            raise RuntimeError(f"einsum(): invalid subscript given at index {start + i} in "
                               f"the equation string, subscripts must be in [a-zA-Z]")
        i += 1


def _einsum_check_output(equation, labels):
    """torch's checks of the output subscripts after `->`: valid, each once, each among the
    operands' `labels`."""
    start = equation.index("->") + 2
    _einsum_check_labels(equation[start:], start, " .")
    seen = set()
    for c in equation[start:]:
        if c in " .":
            continue
        if c in seen or c not in labels:
            raise RuntimeError(f"einsum(): output subscript {c} " + (
                "appears more than once in the output" if c in seen else
                "does not appear in the equation for any input operand"))
        seen.add(c)


def _einsum_sizes(operands, terms, ell):
    """Each label's size, as torch checks them: a label repeated within an operand has one
    size; across operands, sizes broadcast (equal, or 1)."""
    sizes = {}
    for i, (x, t) in enumerate(zip(operands, terms)):
        own = {}
        for c, s in zip(t, x._shape):
            if c in own and own[c] != s:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but "
                                   f"the sizes don't match, {s} != {own[c]}")
            own[c] = s
        for c, s in own.items():
            p = sizes.get(c)
            if p is None or p == 1:
                sizes[c] = s
            elif s != 1 and s != p:
                if c in ell:   # (torch's message, its missing space included; x's dim)
                    raise RuntimeError(f"einsum(): dimension {t.index(c)} covered by ellipsis "
                                       f"in operand {i}has size {s} which does not broadcast "
                                       f"with previously seen ellipsis with size {p} for the "
                                       f"respective dimension")
                raise RuntimeError(f"einsum(): subscript {c} has size {s} for operand {i} which "
                                   f"does not broadcast with previously seen size {p}")
    return sizes


def _einsum_unbroadcast(x, t, sizes):
    """Drop x's dims of size 1 whose label is larger elsewhere: x broadcast along such a
    label does not depend on it, so the label is left to the operands that have it (a
    contraction over it sums x's one slice times theirs; summing x's dim of size 1 is its
    removal, and its gradient the sum over the label, as torch's broadcast)."""
    drop = [i for i, c in enumerate(t) if x._shape[i] == 1 and sizes[c] != 1]
    if not drop:
        return x, t
    return (x.reshape(tuple(s for i, s in enumerate(x._shape) if i not in drop)),
            "".join(c for i, c in enumerate(t) if i not in drop))


def _einsum_diagonal(x, t):
    """Repeated labels within one operand: take the diagonal (e.g. 'ii')."""
    while len(set(t)) < len(t):
        c = next(c for c in t if t.count(c) > 1)
        i = t.index(c)
        j = t.index(c, i + 1)
        x = x.diagonal(0, i, j)
        t = t[:i] + t[i + 1:j] + t[j + 1:] + c
    return x, t


def _einsum_sum(x, t, needed):
    dims = [i for i, c in enumerate(t) if c not in needed]
    if not dims:
        return x, t
    return x.sum(dims), "".join(c for c in t if c in needed)


def _einsum_pair(x, t, y, u, keep):
    """Contract x (labels t) with y (labels u), keeping the labels in `keep`: batch labels
    (in both, kept), contracted (in both, not kept), and each side's own."""
    batch = [c for c in t if c in u and c in keep]
    contr = [c for c in t if c in u and c not in keep]
    xo = [c for c in t if c not in u]
    yo = [c for c in u if c not in t]
    size = {c: s for c, s in zip(t, x._shape)}
    size.update({c: s for c, s in zip(u, y._shape) if size.get(c, 1) == 1})
    px = [t.index(c) for c in batch + xo + contr]
    py = [u.index(c) for c in batch + contr + yo]
    xp = x.permute(*px) if px != list(range(len(t))) else x
    yp = y.permute(*py) if py != list(range(len(u))) else y
    nb = int(math.prod(size[c] for c in batch))
    m = int(math.prod(size[c] for c in xo))
    k = int(math.prod(size[c] for c in contr))
    n = int(math.prod(size[c] for c in yo))
    labels = batch + xo + yo
    if not contr:
        # nothing summed: torch multiplies (with its promotion of mixed dtypes), each side
        # with size-1 dims where the other's own labels go
        nbx = len(batch)
        r = xp.reshape(xp._shape + (1,) * len(yo)) * \
            yp.reshape(yp._shape[:nbx] + (1,) * len(xo) + yp._shape[nbx:])
        return r, "".join(labels)
    if x._dtype is not y._dtype:   # (torch's bmm takes no mixed dtypes)
        raise RuntimeError(f"expected scalar type {x._dtype.legacy} but found "
                           f"{y._dtype.legacy}")
    xs = tuple(x._shape[t.index(c)] for c in batch)
    ys = tuple(y._shape[u.index(c)] for c in batch)
    if xs != ys:   # a broadcast batch label: expand the side of size 1
        full = tuple(max(p, q) for p, q in zip(xs, ys))
        xp = xp.expand(*(full + xp._shape[len(batch):]))
        yp = yp.expand(*(full + yp._shape[len(batch):]))
    if batch:
        r = matmul(xp.reshape(nb, m, k), yp.reshape(nb, k, n))
    else:
        r = matmul(xp.reshape(m, k), yp.reshape(k, n))
    return r.reshape(tuple(size[c] for c in labels)), "".join(labels)


def inner(input, other):
    """The products summed over the last dimension of both (tensordot over dims -1, -1); a
    0-d operand multiplies the other."""
    _tensors("inner", ("input", input), ("other", other))
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


@tensor_methods
class _ProductMethods:
    """Tensor.addmm, addmv, addr, baddbmm, addbmm (and in place: addmv_, addr_, baddbmm_,
    addbmm_), outer/ger, kron, cross, inner."""

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def addmv_(self, mat, vec, *, beta=1, alpha=1):
        return _inplace_product(self, addmv, (mat, vec), beta, alpha)

    def addr_(self, vec1, vec2, *, beta=1, alpha=1):
        return _inplace_product(self, addr, (vec1, vec2), beta, alpha)

    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return _inplace_product(self, baddbmm, (batch1, batch2), beta, alpha)

    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return _inplace_product(self, addbmm, (batch1, batch2), beta, alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    # (the argument after self is at position 1 in torch's method messages)
    def outer(self, vec2):
        _tensors("outer", ("vec2", vec2))
        return outer(self, vec2)

    def ger(self, vec2):
        _tensors("ger", ("vec2", vec2))
        return outer(self, vec2, _fn="ger")

    def kron(self, other):
        _tensors("kron", ("other", other))
        return kron(self, other)

    def cross(self, other, dim=None):
        _tensors("cross", ("other", other))
        return cross(self, other, dim)

    def inner(self, other):
        _tensors("inner", ("other", other))
        return inner(self, other)
