"""Reductions with two outputs from one torch node: var_mean / std_mean (VarMeanBackward0 /
StdMeanBackward0) and aminmax (AminmaxBackward0).

The body (both reductions of x) is recorded as one decomposition group whose output is the
two results stacked; each result is then an `output` entry (a strided view of its block, imm =
its output_nr), the layout of split's several outputs: both tensors show the one node as
their grad_fn, with output_nr 0 and 1, and a consumer of the second lists (VarMeanBackward0,
1), as torch.  Gradients, replay and create_graph are the primitives' (stack's VJP hands each
block back)."""
import math

import numpy as np

from . import decomps, return_types
from .mathops import moment, moment_dim
from .ndops import set_entry_value
from .native_args import arg_error, given, MISSING
from .ops import OPS, OUTPUT_CODE
from .recording import _result
from .tensor import _dim, _int_arg, _tensor_operand, tensor_methods
from .views import KIND_OPS, stack


def _two_outputs(name, body, input):
    """body(T, input) -> the two results stacked, recorded as row `name`; the two results as
    `output` entries of that one node."""
    if not input._recorded:
        both = body(None, input)
        return both[0], both[1]
    packed = decomps.record(name, body, KIND_OPS, input)
    tape = packed._tape
    if tape is None:          # grad mode off
        return packed[0], packed[1]
    arr = packed._array()
    shape = arr.shape[1:]
    size = math.prod(shape)
    strides = [math.prod(shape[j + 1:]) for j in range(len(shape))] if size != 1 else []
    outs = []
    for k in range(2):
        t = _result(arr[k], packed._dtype, tape, OUTPUT_CODE, packed._node, -1, float(k))
        tape.add_params(t._node, [k * size] + strides)
        outs.append(t)
    return tuple(outs)


def _moment_mean(name, input, args, dim, unbiased, keepdim, correction):
    _tensor_operand(f"{name}_mean", input, 1, "input")
    if len(args) > 1:   # (unbiased, keepdim given positionally, and not again by keyword)
        if len(args) > 3 or unbiased is not None or len(args) > 2 and keepdim is not MISSING:
            kwargs = {k: v for k, v in (("dim", dim), ("unbiased", unbiased),
                                        ("keepdim", keepdim), ("correction", correction))
                      if v is not MISSING and v is not None}
            raise arg_error(f"{name}_mean", False, (input,) + args, kwargs)
        unbiased, keepdim = args[1], args[2] if len(args) > 2 else keepdim
    dim, unbiased = moment_dim(f"{name}_mean", False, (input,), args[0] if args else MISSING,
                               dim, unbiased, keepdim, correction)
    # (keepdim MISSING unless given: the arguments torch's message lists)
    if unbiased is not None and type(unbiased) is not bool or \
            keepdim is not MISSING and type(keepdim) is not bool:
        raise arg_error(f"{name}_mean", False, given(input, dim, unbiased, keepdim))
    keepdim = keepdim is not MISSING and keepdim
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"{name}_mean only support floating point and complex dtypes")
    mdim = () if dim is None else dim

    def body(T, x):
        means = []   # (torch's value of the mean: Welford's, beside the var, where eager)
        v = moment(x, name, dim, unbiased, keepdim, correction, f"{name}_mean", means)
        mean = x.mean(mdim, keepdim=bool(keepdim))
        return stack([v, mean if not means or means[0] is None else
                      set_entry_value(mean, means[0])])

    return _two_outputs(f"{name}_mean", body, input)


# (args: dim, unbiased, keepdim given positionally; a bool first is the (bool unbiased) form's,
# one given as dim= none of torch's forms: moment_dim)
def var_mean(input, *args, dim=MISSING, unbiased=None, keepdim=MISSING, correction=None):
    """(var, mean) over dim from one VarMeanBackward0 node."""
    return _moment_mean("var", input, args, dim, unbiased, keepdim, correction)


def std_mean(input, *args, dim=MISSING, unbiased=None, keepdim=MISSING, correction=None):
    """(std, mean) over dim from one StdMeanBackward0 node."""
    return _moment_mean("std", input, args, dim, unbiased, keepdim, correction)


def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) over dim (all elements for None) from one AminmaxBackward0 node; ties split
    each gradient as amin's and amax's do."""
    _tensor_operand("aminmax", input, 1, "input")
    if dim is not None:
        dim = _int_arg(dim, "aminmax", "dim", None).__index__()
    if not isinstance(keepdim, (bool, np.bool_)):
        raise TypeError(f"aminmax(): argument 'keepdim' must be bool, not {type(keepdim).__name__}")
    nd = input.dim()
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
        dims = tuple(range(nd))
    else:
        d = _dim(int(dim), nd)
        if nd and input.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
        dims = (d,) if nd else ()
    keep = bool(keepdim) and nd > 0

    def body(T, x):
        return stack([x.amin(dims, keepdim=keep), x.amax(dims, keepdim=keep)])

    if not input._dtype.is_floating_point:   # integers and bools: no gradient, one stack
        both = body(None, input)
        return return_types.aminmax((both[0], both[1]))
    return return_types.aminmax(_two_outputs("aminmax", body, input))


@tensor_methods
class _PairedMethods:
    def aminmax(self, *args, dim=None, keepdim=False):
        """(min, max) over dim: torch.aminmax (dim and keepdim by keyword only)."""
        if args:   # (torch counts the positional arguments without self)
            raise TypeError(f"aminmax() takes 0 positional arguments but {len(args)} "
                            f"{'was' if len(args) == 1 else 'were'} given")
        return aminmax(self, dim=dim, keepdim=keepdim)


assert OPS["var_mean"].kind == OPS["std_mean"].kind == OPS["aminmax"].kind == "decomp"
