"""torch's autograd nodes of random draws whose parameters require grad.

derivatives.yaml gives normal's mean and std (normal.Tensor_float, float_Tensor and
Tensor_Tensor: NormalBackward1, 2, 3), bernoulli's p (BernoulliBackward0), poisson's rates
(PoissonBackward0) and the tensor an in-place fill overwrites (normal_, uniform_, bernoulli_,
random_, exponential_, geometric_, cauchy_, log_normal_; bernoulli_'s tensor p too) a zero
gradient.  torch records the node all the same, so the result requires grad (a straight-
through estimator `h + p - p.detach()` passes p's gradient on) and the parameters get zeros.
Such a draw is recorded as the op table's `draw` row (the values drawn its constant operand,
zero gradients: one entry per recorded parameter), shown as torch's node with torch's edges.
Draws torch has no formula for (bernoulli with a number p, binomial, _sample_dirichlet) are
its NotImplemented node (tapegrad/nodiff.py), whose backward raises torch's error.

`normal` and `bernoulli` are torch's functions: random.py's draws (random.py stays below the
recording modules) given their node here."""
from . import nodiff, random as _random
from .graph import show_edges
from .native_args import MISSING, parsed, takes, Unbound
from .inplace_more import _named_inplace
from .ndops import _binary
from .ops import OPS
from .recording import _record_start
from .tensor import Tensor
from .views import apart

_DRAW = OPS["draw"].code


def _draw(param, values):
    """values recorded as a `draw` entry with operand `param` (of the values' dtype, which
    the result keeps: torch.normal's dtype is the mean's, whatever the std's)."""
    if param._dtype is not values._dtype:
        param = param.to(values._dtype)
    return _binary(_DRAW, param, values)


def drawn(values, name, params):
    """`values` (fresh draws, a tensor without history) as the output of torch's node `name`
    whose inputs are `params` (tensors; a number is no input of torch's node): when grad mode
    is on and one of them requires grad, recorded with zero gradients and an edge per tensor
    ((None, 0) for one that needs none), as torch's."""
    if _record_start(*params) is None:
        return values
    out = values
    # (normal(y, y): std's entry reads an alias of y, so a post hook gets a gradient each)
    for p in reversed([apart(params[0], p) if i else p for i, p in enumerate(params)]):
        if p._recorded:
            out = _draw(p, out)
    if out._tape is not None and out._recorded:   # (a traced integer value: baked, no node)
        show_edges(out._tape, out._node, params, name)
    return out


def not_differentiable(values, op, params):
    """`values` as the output of torch's NotImplemented node, with an edge per tensor of
    `params` that requires grad, whose backward raises torch's error for aten::`op`."""
    return nodiff.result("NotImplemented", values._array(), values._dtype, params,
                         (RuntimeError, f"derivative for aten::{op} is not implemented"))


def fill(t, values, name, p=None):
    """t overwritten in place by `values` (the draws: a tensor of t's shape and dtype) as an
    in-place op (version bump, autograd's in-place rules: a leaf that requires grad raises);
    recorded when t (or bernoulli_'s tensor of probabilities `p`) needs history, as torch's
    node `name` whose edges are t's previous grad_fn (and p's), zero gradients."""
    arr = values._array()
    if p is None:
        run = lambda: t._inplace(lambda a, b: arr, values, _draw, overlap=False)  # noqa: E731
        return _named_inplace(t, run, name)
    run = lambda: t._inplace(lambda a, b: arr, p,   # noqa: E731
                             lambda x, q: _draw(x, _draw(q, values)), overlap=False)
    return _named_inplace(t, run, name, (p,))


@parsed("normal")
def normal(mean=MISSING, std=MISSING, size=MISSING, *, generator=None, dtype=MISSING,
           device=MISSING, requires_grad=MISSING, layout=MISSING, pin_memory=MISSING):
    """torch.normal: random.normal's draws; with a tensor mean and/or std, torch's
    NormalBackward3 (both tensors), NormalBackward1 (mean) or NormalBackward2 (std)."""
    out = _random.normal(mean, std, size, generator=generator, dtype=dtype, device=device,
                         requires_grad=requires_grad, layout=layout, pin_memory=pin_memory)
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not (tm or ts):
        return out
    name = "NormalBackward3" if tm and ts else "NormalBackward1" if tm else "NormalBackward2"
    return drawn(out, name, tuple(t for t in (mean, std) if isinstance(t, Tensor)))


@parsed("bernoulli")
def bernoulli(input, p=MISSING, *, generator=None):
    """torch.bernoulli: bernoulli_of, its arguments bound as torch's parser binds them."""
    # (p MISSING unless given: a None given matches neither of torch's forms)
    if not isinstance(input, Tensor) or p is not MISSING and not takes("float", p):
        raise Unbound("bernoulli")
    return bernoulli_of(input, p, generator)


def bernoulli_of(input, p=MISSING, generator=None):
    """torch.bernoulli / Tensor.bernoulli: random.bernoulli's draws; BernoulliBackward0 (zero
    gradient) for input's probabilities, torch's NotImplemented node with a number `p`."""
    if p is MISSING:
        p = None
    out = _random.bernoulli(input, p, generator=generator)
    if p is None:
        return drawn(out, "BernoulliBackward0", (input,))
    return not_differentiable(out, "bernoulli", (input,))
