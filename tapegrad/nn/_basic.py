"""The two nn.functional layers the attention functions build on, below `functional` in the
import order so that `_attention` can use them and `functional` re-export both: `linear`
(AddmmBackward0 for a 2-d input with a bias, as torch) and `dropout`; and the helpers that
record decomposition rows (`_record`, `_inplace_row` for the in-place activations)."""
import math

import numpy as np

from .. import decomps, dtypes as D, errors
from ..discrete_draws import dropout_noise
from ..grad_mode import is_grad_enabled
from ..native_args import extra_args, missing, MISSING
from ..graph import forget_fn
from ..random import arranged_like, default_generator
from ..ndops import keep_addmm_args, keep_linear_args
from ..tensor import _bool_arg, Tensor
from ..views import KIND_OPS
from . import _decomps as B, _onepass


def _record(name, body, x, *args):
    return decomps.record(name, body, KIND_OPS, x, *args)


def _saves_unread(r, t):
    """r, the result of a decomposition whose torch node saves tensor t (None: nothing),
    which no entry of it reads as such (nll_loss's weight: the body reads its gathered
    values): an in-place change of t then fails r's backward, as torch's."""
    if t is not None and r._tape is not None:
        r._tape.watch_unread(r._node, t)
    return r


def _tensor(fn, x, name="input", pos=1):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{errors.type_name(x)}")


def _not_differentiable(fn, arg, t):
    """torch's autograd refuses a gradient-requiring argument that its formula ignores."""
    if t is not None and t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument "
                           f"'{arg}'. This input cannot have requires_grad True.")


def _inplace_row(x, name, body, *args):
    """x = body(x, *args) in place, recorded as decomposition row `name` when x needs
    history (then x's grad_fn is the row's, its edge x's previous node, as torch's in-place
    activations); torch's errors for a leaf that requires grad; the version bumps once."""
    tape, node = x._tape, getattr(x, "_node", -1)
    start = tape.n if tape is not None else 0

    def value(arr, _):
        return body(KIND_OPS, x._wrap(np.array(arr, copy=True), x.dtype), *args)._array()
    x._inplace(value, None, lambda t, _: _record(name, body, t, *args))
    if tape is not None and x._tape is tape and x._node >= start:
        tape.superseded[node] = (start, x._node)   # (the group's entries read the old x)
        forget_fn(tape, x._node)
    return x


def linear(input=MISSING, weight=MISSING, bias=None, *extra):
    """input @ weight.T + bias (AddmmBackward0 for a 2-d input with a bias, as torch)."""
    if weight is MISSING or input is MISSING or extra:   # (torch's parser's words)
        if extra:
            raise extra_args("linear", 2, 3, 3 + len(extra))
        raise missing("linear", ["input", "weight"] if input is MISSING else ["weight"])
    if isinstance(weight, Tensor) and weight.dim() == 1 and isinstance(input, Tensor) \
            and input.dim():
        # torch: a 1-d weight is matmul's vector (its size errors); with a bias, an addmm
        # on the flattened input, which refuses it
        if bias is not None:
            raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
        return input.matmul(weight)
    if bias is not None:   # a layer in training: its entries in one pass (_onepass.py)
        out = _onepass.linear(input, weight, bias)
        if out is not None:
            return keep_linear_args(out, input, weight)
    _tensor("linear", input)
    _tensor("linear", weight, "weight", 2)
    if input.dim() == 0 or weight.dim() == 0:
        raise errors.not_1d("linear", input, weight)
    # torch flattens an input of other than 2 dims into one addmm only for a bias "likely
    # fusable" (one dim not of size 1, contiguous) and a contiguous input; otherwise matmul,
    # then the bias added in place (AddBackward0: the product's dtype, broadcast as add_)
    addmm = bias is not None and (input.dim() == 2 or input.is_contiguous() and (
        bias.is_contiguous() and (bias.dim() == 1 or sum(s != 1 for s in bias.shape) == 1)))
    # (an addmm checks the dtypes before the shapes: "mat1 and mat2 must have the same dtype")
    err = errors.addmm_dtypes(bias, input, weight) if addmm else None
    if err is not None:
        raise err
    if input.shape[-1] != weight.shape[-1]:
        rows, cols = math.prod(input.shape[:-1]), input.shape[-1]
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and "
                           f"{weight.shape[-1]}x{weight.shape[0]})")
    if bias is None:
        return input.matmul(weight.t())
    if not addmm:
        return input.matmul(weight.t()).add_(bias)
    if err is None:   # (addmm expands its input to the product's shape: one way only)
        err = errors.expand_error(tuple(bias.shape), (math.prod(input.shape[:-1]),
                                                      weight.shape[0]), bias.dtype)
    if err is not None:
        raise err
    if input.dim() == 2:
        wt = weight.t()
        return keep_addmm_args(_record("linear", B.linear, input, wt, bias), input, wt,
                               mat1_field=False)
    # torch: a 2-d addmm on the flattened input, viewed back (ViewBackward0); the flattened
    # input is the one-pass writer's case as a 2-d input is (a 1-d state of an RL policy)
    flat = input.reshape(-1, input.shape[-1])
    out = _onepass.linear(flat, weight, bias)
    if out is None:
        wt = weight.t()
        out = keep_addmm_args(_record("linear", B.linear, flat, wt, bias), flat, wt,
                              mat1_field=False)
    return out.view(tuple(input.shape[:-1]) + (weight.shape[0],))


def _check_dropout_p(p):
    """nn.functional's dropouts check p before anything else about the input (a ValueError)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeros each element with probability p and scales the rest by 1 / (1 - p) while
    training (MulBackward0, as torch); the input itself otherwise.  The mask is torch's
    (Bernoulli draws of 1 - p divided by 1 - p in the input's dtype): the same seed drops the
    same elements."""
    _tensor("dropout", input)
    _check_dropout_p(p)
    _bool_arg(training, "dropout", "train", 3)   # (torch's _VF.dropout's name and position)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        scale = np.zeros((), input.dtype.np)
    elif not input.dtype.is_floating_point:   # (torch divides its noise in the input's dtype)
        raise errors._cast_error(D.float32, input.dtype)
    else:
        # (torch draws into empty_like(input): a transposed input's mask is in its memory order)
        noise = dropout_noise(default_generator._engine, tuple(input.shape), p, input.dtype.np)
        scale = arranged_like(input._array(), noise)
    # (the mask: a fresh array of the input's dtype, which only the mul below reads: wrapped
    # as it is, the tensor torch.tensor's copy of it would be)
    mask = Tensor._wrap(scale, input._dtype)
    if inplace:
        return input.mul_(mask)
    return input * mask
