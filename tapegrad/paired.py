"""var_mean / std_mean: torch's one node with two outputs (VarMeanBackward0 /
StdMeanBackward0).

The body (the var or std decomposition and the mean, both of x) is recorded as one
decomposition group whose output is the two results stacked; each result is then an `output`
entry (a strided view of its block, cst = its output_nr), the layout of split's several
outputs: both tensors show the one node as their grad_fn, with output_nr 0 and 1, and a
consumer of the mean lists (VarMeanBackward0, 1), as torch.  Gradients, replay and
create_graph are the primitives' (stack's VJP hands each block back)."""
import math

from . import decomps
from .ops import OPS, OUTPUT_CODE
from .recording import _result
from .tensor import Tensor, _tensor_operand
from .views import KIND_OPS, stack


def _moment_mean(name, input, dim, unbiased, keepdim, correction):
    _tensor_operand(f"{name}_mean", input, 1, "input")
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"{name}_mean only support floating point and complex dtypes")
    stat = getattr(Tensor, name)
    mdim = () if dim is None or isinstance(dim, bool) else dim

    def body(T, x):
        return stack([stat(x, dim, unbiased, keepdim, correction=correction),
                      x.mean(mdim, keepdim=bool(keepdim))])

    if not input._recorded:
        both = body(None, input)
        return both[0], both[1]
    packed = decomps.record(f"{name}_mean", body, KIND_OPS, input)
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


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) over dim from one VarMeanBackward0 node."""
    return _moment_mean("var", input, dim, unbiased, keepdim, correction)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std, mean) over dim from one StdMeanBackward0 node."""
    return _moment_mean("std", input, dim, unbiased, keepdim, correction)


assert OPS["var_mean"].kind == OPS["std_mean"].kind == "decomp"
