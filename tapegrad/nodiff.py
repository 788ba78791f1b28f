"""torch's nodes for ops that have no derivative: when an input requires grad, torch still
records a node (torch::autograd::NotImplemented for bincount's weights and floor_divide,
Unique2Backward0 / UniqueDimBackward0 / UniqueConsecutiveBackward0 for unique's values,
GeqrfBackward0 for both of geqrf's outputs; LeakyReluBackward1, EluBackward1 and
CeluBackward1 of leaky_relu_/elu_/celu_ with a negative slope, whose output is the input
changed in place) whose backward raises.  Each is a custom Function here (tapegrad/pyfunc.py) named as torch's
node, with an edge to each input that requires grad (torch's), whose backward raises torch's
error; no op row is needed, since no gradient is ever computed."""
import numpy as np

from .grad_mode import is_grad_enabled
from .pyfunc import as_native_node, Function
from .tensor import Tensor


class _NoDerivative(Function):
    """Its output: a precomputed result (or a tuple of them: the node's outputs); its
    backward: the op's error."""

    @staticmethod
    def forward(ctx, values, dt, error, *inputs):
        ctx.error = error
        if isinstance(values, tuple):
            return tuple(Tensor._wrap(np.array(v, dtype=dt.np), dt) for v in values)
        return Tensor._wrap(np.array(values, dtype=dt.np), dt)

    @staticmethod
    def backward(ctx, *grads):
        kind, message = ctx.error
        raise kind(message)


def _node(name, cpp):
    fn = type(name, (_NoDerivative,), {"__module__": __name__})
    as_native_node(fn, name, "torch::autograd::" + name if cpp else None, raises=True)
    return fn


# (and the linalg *_ex nodes of a failed factorization: their gradient there, at a singular
# or indefinite input, is not computed; huber_loss's of a target in another dtype, whose
# backward kernel torch cannot run; _standard_gamma_grad's, the factor of a Gamma draw's
# gradient, which a create_graph backward records; the create_graph gradients of the rows
# whose backward op has none, ops.Op.double_backward; CopySlices's of a write into a view
# whose elements share memory, overlap.shared_write)
NODES = {name: _node(name, name == "NotImplemented") for name in (
    "NotImplemented", "Unique2Backward0", "UniqueDimBackward0", "UniqueConsecutiveBackward0",
    "LinalgCholeskyExBackward0", "LinalgInvExBackward0", "LinalgSolveExBackward0",
    "HuberLossBackward0", "GeqrfBackward0", "StandardGammaGradBackward0",
    "PdistBackwardBackward0", "CdistBackwardBackward0", "EmbeddingBagBackwardBackward0",
    "CopySlices")}


def result(node, values, dt, inputs, error):
    """`values` (an array, or a tuple of arrays: one node's outputs) as a tensor (tensors) of
    dtype dt; when grad mode is on and some of `inputs` requires grad, the output(s) of torch's
    node `node` with an edge to each such input, whose backward raises `error`: (exception
    class, message), as torch's."""
    need = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if need and is_grad_enabled() and dt.is_floating_point:
        return NODES[node].apply(values, dt, error, *need)
    if isinstance(values, tuple):
        return tuple(Tensor._wrap(np.array(v, dtype=dt.np), dt) for v in values)
    return Tensor._wrap(np.array(values, dtype=dt.np), dt)


class _NoDerivativeInPlace(Function):
    """x with its values replaced by `values` in place (marked dirty: x moves to the node);
    its backward: the op's error."""

    @staticmethod
    def forward(ctx, x, values, error):
        ctx.error = error
        # (the write counts no version of its own: mark_dirty's is the one change, as the
        # one of torch's in-place kernel)
        if type(x._v) is np.ndarray:
            x._v[...] = values
        else:
            x._v = float(np.asarray(values).reshape(-1)[0])
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, *grads):
        kind, message = ctx.error
        raise kind(message)


def _inplace_node(name):
    fn = type(name, (_NoDerivativeInPlace,), {"__module__": __name__})
    as_native_node(fn, name, raises=True)
    return fn


# torch's in-place activations whose backward refuses a negative slope (their output cannot
# tell the input's sign): leaky_relu_, elu_ and celu_ (whose error is elu's)
INPLACE_NODES = {name: _inplace_node(name) for name in (
    "LeakyReluBackward1", "EluBackward1", "CeluBackward1")}


def inplace_result(node, x, values, error):
    """x, given `values` in place, as the output of torch's node `node` whose backward raises
    `error` (x requires grad, grad mode is on and torch's in-place checks passed)."""
    return INPLACE_NODES[node].apply(x, values, error)
