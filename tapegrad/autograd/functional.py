"""`tapegrad.autograd.functional`: vjp, jvp, jacobian, hessian, hvp, vhp with torch's
signatures, built on `autograd.grad` (create_graph=True where a second derivative is needed)."""
import numpy as np

from ..grad_mode import enable_grad
from ..tensor import Tensor
from ..creation import tensor, zeros_like
from ..tensor import _new
from .api import grad
from ..engine import jacobian_rows
from ..views import stack

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tuple(x, name, argname):
    is_tuple = isinstance(x, tuple)
    xs = x if is_tuple else (x,)
    for i, t in enumerate(xs):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {argname} given to {name} must be either a Tensor or a tuple of "
                            f"Tensors but the value at index {i} has type {type(t).__name__}.")
    return is_tuple, xs


def _prepare(inputs, create_graph):
    """Fresh leaves that require grad (inputs themselves stay untouched, as in torch)."""
    return tuple(x if create_graph and x.requires_grad else x.detach().requires_grad_()
                 for x in inputs)


def _grad(outputs, inputs, grad_outputs, create_graph, strict):
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        if strict:
            raise RuntimeError("The output of the user-provided function is independent of "
                               "input 0. This is not allowed in strict mode.")
        return tuple(zeros_like(x) for x in inputs)
    gs = grad([o for o, _ in pairs], inputs, grad_outputs=[g for _, g in pairs],
              create_graph=create_graph, allow_unused=True)
    res = []
    for i, (g, x) in enumerate(zip(gs, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode.")
            g = zeros_like(x)
        res.append(g)
    return tuple(res)


def _default_v(v, ts, name, what):
    """The vectors `v` as a tuple; None is allowed for one single-element tensor (ones)."""
    if v is not None:
        return _tuple(v, name, "v")[1]
    if len(ts) != 1 or ts[0].numel() != 1:
        raise RuntimeError(f"The vector v can only be None if the {what} a single Tensor with a "
                           f"single element.")
    return (tensor(np.ones(ts[0].shape), dtype=ts[0].dtype),)


def _detach(xs, create_graph):
    return tuple(x if create_graph else x.detach() for x in xs)


def _out(is_tuple, xs):
    return xs if is_tuple else xs[0]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J)."""
    with enable_grad():
        is_in, xs = _tuple(inputs, "vjp", "inputs")
        xs = _prepare(xs, create_graph)
        outs = func(*xs)
        is_out, outs = _tuple(outs, "vjp", "outputs of the user-provided function")
        vs = _default_v(v, outs, "vjp", "user-provided function returns")
        grads = _grad(outs, xs, vs, create_graph, strict)
    return _out(is_out, _detach(outs, create_graph)), _out(is_in, _detach(grads, create_graph))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v), by the double-vjp trick (differentiate u -> u^T J w.r.t. u)."""
    with enable_grad():
        is_in, xs = _tuple(inputs, "jvp", "inputs")
        xs = _prepare(xs, create_graph)
        vs = _default_v(v, xs, "jvp", "input to the user-provided function is")
        outs = func(*xs)
        is_out, outs = _tuple(outs, "jvp", "outputs of the user-provided function")
        us = tuple(zeros_like(o).requires_grad_() for o in outs)
        g = _grad(outs, xs, us, True, strict)
        res = _grad(g, us, vs, create_graph, strict)
    return _out(is_out, _detach(outs, create_graph)), _out(is_out, _detach(res, create_graph))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """Jacobian blocks `J[i][j]` of output i w.r.t. input j, shaped out_i.shape + in_j.shape."""
    if strategy != "reverse-mode":
        raise NotImplementedError("jacobian: only strategy='reverse-mode' is implemented")
    with enable_grad():
        is_in, xs = _tuple(inputs, "jacobian", "inputs")
        xs = _prepare(xs, create_graph)
        outs = func(*xs)
        is_out, outs = _tuple(outs, "jacobian", "outputs of the user-provided function")
        fast = _jacobian_fast(outs, xs) if not create_graph and not strict else None
        if fast is not None:
            blocks = fast
            outs = ()
        else:
            blocks = []
        for o in outs:  # one autograd.grad per output element (the general path)
            rows = [[] for _ in xs]
            flat = o.reshape(-1)
            for k in range(o.numel()):
                if flat.requires_grad:
                    gs = grad(flat[k], xs, retain_graph=True, create_graph=create_graph,
                              allow_unused=True)
                else:
                    gs = (None,) * len(xs)
                for j, (g, x) in enumerate(zip(gs, xs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {len(blocks)} of the user-provided "
                                               f"function is independent of input {j}. This is "
                                               f"not allowed in strict mode.")
                        g = zeros_like(x)
                    rows[j].append(g.reshape(-1))
            row = []
            for j, x in enumerate(xs):
                J = stack(rows[j]) if rows[j] else zeros_like(x).reshape(0, -1)
                row.append(J.reshape(tuple(o.shape) + tuple(x.shape)))
            blocks.append(tuple(_detach(row, create_graph)))
    if is_out:
        return tuple(b if is_in else b[0] for b in blocks)
    return blocks[0] if is_in else blocks[0][0]


def _jacobian_fast(outs, xs):
    """All rows from one Numba call (engine.jacobian_rows), split into torch's blocks."""
    live = [o for o in outs if o.requires_grad]
    if len(live) != len(outs):
        return None
    J = jacobian_rows(outs, xs)
    if J is None:
        return None
    xinfo = [(x.numel(), tuple(x.shape), x.dtype) for x in xs]
    rows = J.tolist()  # Python floats: one-element blocks are made without numpy
    blocks, r = [], 0
    for o in outs:
        on, oshape = o.numel(), tuple(o.shape)
        row, c = [], 0
        for xn, xshape, xdt in xinfo:
            if on == 1 and xn == 1 and xdt.is_floating_point:
                t = _new()
                t._v, t._dtype, t._shape, t._tape, t._recorded = rows[r][c], xdt, oshape + xshape, None, False
            else:
                block = J[r:r + on, c:c + xn].astype(xdt.np)
                t = Tensor._wrap(block.reshape(oshape + xshape), xdt)
            row.append(t)
            c += xn
        blocks.append(tuple(row))
        r += on
    return blocks


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """Hessian of a scalar function: blocks `H[i][j]` shaped in_i.shape + in_j.shape."""
    is_in, xs = _tuple(inputs, "hessian", "inputs")

    def grad_fn(*ys):
        out = func(*ys)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor "
                               "containing a single element")
        gs = grad(out, ys, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else zeros_like(y) for g, y in zip(gs, ys))

    res = jacobian(grad_fn, xs, create_graph=create_graph, strict=strict)
    return res if is_in else res[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): equal to vhp for the symmetric Hessians of twice-differentiable
    functions, computed the same way (reverse over reverse)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, name):
    with enable_grad():
        is_in, xs = _tuple(inputs, name, "inputs")
        xs = _prepare(xs, create_graph)
        vs = _default_v(v, xs, name, "input to the user-provided function is")
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError(f"The function given to {name} should return a single Tensor "
                               f"containing a single element")
        one = tensor(np.ones(out.shape), dtype=out.dtype)
        g = _grad((out,), xs, (one,), True, strict)
        res = _grad(g, xs, vs, create_graph, strict)
    return _detach((out,), create_graph)[0], _out(is_in, _detach(res, create_graph))
