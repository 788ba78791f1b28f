"""The bodies of the decomposition rows of engineer "surface12" (tapegrad/ops.py, the last
block): more activations (hardtanh, threshold, glu, softshrink, hardshrink, the
in-place leaky_relu_ / elu_ / celu_ / threshold_ torch names ...Backward1) and batch / group
norm.  As in nn/_decomps.py, each is a function of tensor ops recorded as one group with
torch's grad_fn name; masks are tensor comparisons, so a replay recomputes them."""
from .. import _fastpath
from ..decomps_math import upper_clip_reads_input
from ..ndops import _binary, where
from ..ops import OPS

_DEPENDS_ON = OPS["depends_on"].code

# NOTE: the gradients are the primitives'.  At the kinks they follow torch's kernels: hardtanh
# passes no gradient at its bounds (its rows' NOTE), leaky_relu as nn/_decomps.py.


def reads_input(x):
    """x, with a gradient that depends on x under create_graph (depends_on(x, x)): torch's
    threshold_backward, softshrink_backward, ... read the input, so their create_graph
    gradient requires grad and differentiates to zeros, where masks of g alone would not."""
    return _binary(_DEPENDS_ON, x, x)


def hardtanh(T, x, lo, hi):
    """min(max(x, lo), hi) as torch's clamp (nan and -0.0 kept): two clips, one entry each."""
    y = _fastpath.op_hardtanh_min(x, lo)
    return upper_clip_reads_input(x, y, _fastpath.op_hardtanh_max(y, hi))


# NOTE: the in-place elu_, selu_ and celu_ are their functions' rows (ops.py), shown as torch's
# ...Backward1: the same values, and torch's derivatives at 0 (alpha, then 0: the rows' NOTE),
# which no composition of primitives gives (its second derivative at 0 would be alpha)
def elu(T, x, alpha):
    """x where x > 0, else alpha * expm1(x) (the in-place elu_)."""
    return _fastpath.op_elu(x, alpha)


def selu(T, x):
    """elu with torch's selu alpha and scale (the in-place selu_)."""
    return _fastpath.op_selu(x)


def celu(T, x, alpha):
    """elu of x / alpha times alpha (the in-place celu_)."""
    return _fastpath.op_celu(x, alpha)


def leaky_relu(T, x, slope):
    """x where x > 0, else slope * x (the in-place form: LeakyReluBackward1): the
    leaky_relu_result row, whose gradient depends on the result under create_graph as
    torch's."""
    return _fastpath.op_leaky_relu_result(x, slope)


def batch_norm(T, x, dims, mean, var, weight, bias, eps, shape):
    """(x - mean) / sqrt(var + eps) * weight + bias.  Training: `mean`/`var` None, the batch
    statistics over `dims` (biased variance) are used; eval: the running statistics.  The
    per-channel tensors are viewed as `shape` (1, C, 1, ...), except for a 2-d input, where
    (C,) broadcasts as it is."""
    def channels(t):
        return t if len(shape) == 2 else t.reshape(shape)
    if mean is None:
        xc = x - x.mean(dims, keepdim=True)
        y = xc / ((xc * xc).mean(dims, keepdim=True) + eps).sqrt()
    else:
        y = (x - channels(mean)) / (channels(var) + eps).sqrt()
    if weight is not None:
        y = y * channels(weight)
    if bias is not None:
        y = y + channels(bias)
    return y


def group_norm(T, x, groups, weight, bias, eps, shape):
    """x's channels in `groups` groups, each normalized over its channels and positions
    (biased variance), then * weight + bias per channel."""
    n = x.shape[0]
    g = x.reshape(n, groups, x.numel() // max(n * groups, 1))      # (an empty batch too)
    gc = g - g.mean(2, keepdim=True)
    y = (gc / ((gc * gc).mean(2, keepdim=True) + eps).sqrt()).reshape(tuple(x.shape))
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def threshold(T, x, th, value):
    """value where x <= th, else x (torch's test: nan stays nan, its gradient passes)."""
    return where(x <= th, value, reads_input(x))


def glu(T, x, dim):
    """a * sigmoid(b), a and b the halves of x along dim."""
    a, b = x.chunk(2, dim)
    return a * b.sigmoid()


# NOTE: the shrinks' middle piece is x * 0 + 0: +0.0, but nan at nan (torch's vectorized
# kernels), and its gradient 0 there (torch's vectorized backward; its scalar tail passes g)
def softshrink(T, x, lambd):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    r = reads_input(x)
    return where(x > lambd, r - lambd, where(x < -lambd, r + lambd, x * 0.0 + 0.0))


def hardshrink(T, x, lambd):
    """x where |x| > lambd, else 0."""
    r = reads_input(x)
    return where(x > lambd, r, where(x < -lambd, r, x * 0.0 + 0.0))
