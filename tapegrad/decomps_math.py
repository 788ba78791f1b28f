"""Decomposition bodies of issue #11's reductions and composite ops (see decomps.py): each a
function of tensor ops recorded as primitives and shown as torch's one grad_fn (the row's).

The bodies take `T` (views.KIND_OPS) and validated arguments (tapegrad/mathops.py checks
them).  Their gradients are the primitives'; where torch's formula differs at a special point
(a zero norm, a zero standard deviation, ties) the body selects with `where` so that the
gradient there is torch's, and the forward value stays exact.
"""
import math

import numpy as np

from . import dtypes as D
from .exact import fma, fma_scaled, lerp_into
from .ndops import _binary, set_entry_value, torch_moments, _unary, where
from .ops import OPS
from .recording import stored32
from .tensor import Tensor
from .tape import read_as_saved
from .tracing import _tracing
from .views import cat


_SQRT0 = OPS["sqrt0"].code
_DEPENDS_ON = OPS["depends_on"].code
_NORM_SQRT = OPS["norm_sqrt"].code
_STRAIGHT_THROUGH = OPS["straight_through"].code
_SQ_DEVIATION = OPS["sq_deviation"].code


def _at(d, start, stop):
    """The index of positions start..stop along dim d."""
    return (slice(None),) * d + (slice(start, stop),)


def _fresh(out, x):
    """A body must record at least one entry (its group's output): the input itself is
    returned as a copy."""
    return out.clone() if out is x else out


# NOTE: max/min/amax/amin split the gradient evenly between tied extremes (torch's
# evenly_distribute_backward / amax's mask / count).  The value is m0 - sum(where(hit, m0 - x,
# 0) / count): exactly the extreme (m0 is the extreme with infinities made 0, so m0 - x stays
# exact and finite maxima take away +0.0, which keeps a zero extreme's sign), and its gradient
# is 1 / count at the hits.  `nan_hits`:
# max()/min() count nan as the extreme (torch gives it the gradient), amax/amin do not: in a
# slice holding a nan nothing equals the (nan) result, and torch's grad / count * mask is
# 0 / 0, nan at every element of the slice.  The term tanh(x) * (0 / count) gives that: 0
# with its gradient 0 where count >= 1 (tanh is finite at +-inf, and so are its derivatives
# of every order, read from tanh(x); atan's second, -2x / (1 + x^2)^2, is nan at -inf and
# made a create_graph second derivative nan there), nan with a nan gradient where count is
# 0 (where the result is nan anyway); taken where
# nothing hits, so that an infinite incoming gradient still gives inf / count at the hits and
# nan elsewhere, as torch's mask product.  Where no element is nan (and not while tracing,
# for a replay's values) the term is x * (0 / count) instead: the same values and first
# derivatives, and create_graph derivatives that do not read x, as torch's amax_backward
# (grad * mask / count): tanh's made a second derivative in x require grad (zeros) where
# torch's is not used (scatter_reduce's -inf padding).  With an infinite element (that
# misses: -inf for max) its value is nan: straight_through then takes the result's value
# without the term, its gradient with it (an inf incoming gradient: nan at that element, as
# torch's; where(x == -inf, 0, x) gave 0).
def extreme(T, x, dims, keepdim, is_max, nan_hits=False, masked=None):
    """max (is_max) or min of x over dims; `masked` (default: not nan_hits) adds the term
    that makes an inf or nan incoming gradient nan off the hits (torch's grad * mask)."""
    if is_max:
        m, m0 = T.max_shift(x, dims, False), T.max_shift(x, dims, True)
    else:
        nx = -x
        m, m0 = -T.max_shift(nx, dims, False), -T.max_shift(nx, dims, True)
    hit = x == m
    tracing = _tracing(x) is not None
    if nan_hits and (tracing or np.isnan(x._array()).any()):   # (else no nan to add)
        hit = hit | ((x != x) & (m != m))
    count = where(hit, 1.0, 0.0).sum(dims, keepdim=True)
    picked = where(hit, m0 - x, 0.0) / count
    if masked or masked is None and not nan_hits:
        if not nan_hits and (tracing or np.isnan(x._array()).any()):
            other = x.tanh()
        elif not tracing and not np.isinf(x._array()).any():
            other = x   # (a nan is a hit where nan_hits: where's 0 there, no gradient)
        else:   # (infinities: the term's value is nan there, see the NOTE)
            s = picked.sum(dims, keepdim=keepdim)
            r = (m0 if keepdim else m0.reshape(s.shape)) - s
            term = (where(hit, 0.0, x) * (0.0 / count)).sum(dims, keepdim=keepdim)
            return _binary(_STRAIGHT_THROUGH, r - term, r)
        picked = picked - where(hit, 0.0, other) * (0.0 / count)
    s = picked.sum(dims, keepdim=keepdim)
    return (m0 if keepdim else m0.reshape(s.shape)) - s


# NOTE: prod multiplies halves in a tree (log2(n) levels of elementwise products), so its
# gradient is the product rule's: right with one zero (the product of the others) and with
# several (0), where torch's formula needs its zero cases.  A single factor (a dim of
# size 1) is read through depends_on(x, x): the gradient is g, and depends on x as torch's.
def prod(T, x, dim, keepdim):
    """Product over dim (None: all elements)."""
    if not x.shape:   # (torch's prod_backward passes a 0-d input's grad as it is: 1 at inf)
        return _fresh(x, x)
    y = x.reshape(-1) if dim is None else x
    d = 0 if dim is None else dim
    n = y.shape[d]
    if n == 0:
        r = y.sum(d, keepdim=keepdim) + 1
        return r if r.dtype is y.dtype else r.to(y.dtype)   # (sum takes small ints to int64)
    if _tracing(x) is None and _quotient_form(x._array(), dim):
        return _quotient_gradient(x, y, d, n, dim, keepdim)
    if n == 1 and x.dim():   # torch's prod_backward reads an n-d input (its gradient needs grad)
        y = _binary(_DEPENDS_ON, y, y)
    y = _tree_product(y, d, n)
    if dim is None:
        return _fresh(y.reshape(()), x)
    return _fresh(y if keepdim else y.squeeze(d), x)


def _tree_product(y, d, n):
    """The product of y's n slices along d, halves multiplied in a tree (d kept, size 1)."""
    while n > 1:
        h = n // 2
        z = y[_at(d, 0, h)] * y[_at(d, h, 2 * h)]
        if n % 2:
            z = cat([z, y[_at(d, 2 * h, n)]], d)
        y, n = z, h + n % 2
    return y


# NOTE: torch's prod_backward, where the input holds no zero (over the whole tensor), is
# grad * (result / input): nan at an infinite or nan element (inf / inf), inf where the
# product overflows, where the product rule's (the tree's) gives the product of the others.
# Where a value is not finite (the only case where the two differ beyond rounding) the
# result is straight_through(sum(x * (result / x)) with the quotient a constant, the value of
# the tree over x.detach()): torch's first derivative (the tree itself would pass the 0
# gradient of straight_through's value edge on as 0 * inf).  Elsewhere the tree's gradient
# stays, and its create_graph derivatives (torch's differentiate result / input).
def _quotient_form(a, dim, cumulative=False):
    """Whether prod of array a over dim (None: all) takes _quotient_gradient: a float a with
    no zero and an element or a product (numpy's, for the test; `cumulative`: cumprod's
    running products) that is not finite."""
    if a.dtype.kind != "f" or not a.all():
        return False
    top = float(np.abs(a).max())
    if not top < math.inf:   # (an inf, or a nan: its max is nan)
        return True
    n = a.size if dim is None else a.shape[dim]
    if top <= 1.0 or n * math.log(top) < math.log(float(np.finfo(a.dtype).max)):
        return False         # (no product of n elements can overflow)
    with np.errstate(all="ignore"):
        return not np.isfinite((np.cumprod if cumulative else np.prod)(a, axis=dim)).all()


def _quotient_gradient(x, y, d, n, dim, keepdim):
    """prod of x (y: x, or x flattened for dim=None) with torch's gradient g * result / x."""
    r = _tree_product(y.detach(), d, n)
    out = r.reshape(()) if dim is None else r if keepdim else r.squeeze(d)
    with np.errstate(all="ignore"):
        q = Tensor._wrap(np.asarray(r._array() / y.detach()._array(), r._array().dtype),
                         x.dtype).reshape(x.shape)
    carrier = (x * q).sum() if dim is None else (x * q).sum(dim, keepdim=keepdim)
    return _binary(_STRAIGHT_THROUGH, carrier, out)


# NOTE: cumprod as a Hillis-Steele scan: log2(n) steps y = y (+|*) y shifted by 2^k
# (padded with 0 or 1), so its gradient is the product rule's, right with zeros (cumsum is
# one entry of the scan kind: tapegrad/kinds/scan.py).  torch's cumprod_backward without a
# zero in the tensor is reversed_cumsum(result * grad) / input (nan at an inf or nan
# element): where a value is not finite, as prod's (_quotient_gradient), the scan's value
# over x.detach() with the gradient of the carrier cumsum(x / x0) * result (x0, result
# constants), whose backward is torch's formula step by step.
def scan(T, x, d, mul):
    """Cumulative sum (mul False) or product along dim d."""
    if not x.shape:
        return x.clone()
    if mul and _tracing(x) is None and x.shape[d] > 1 and \
            _quotient_form(x._array(), d, cumulative=True):
        # (torch's cumprod_backward without a zero: see _quotient_gradient)
        out = _running(x.detach(), d, True)
        carrier = (x / x.detach()).cumsum(d) * out
        return _binary(_STRAIGHT_THROUGH, carrier, out)
    return _fresh(_running(x, d, mul), x)


def _running(x, d, mul):
    """The Hillis-Steele scan of x along d (sum, or product where mul)."""
    n = x.shape[d]
    y = x
    s = 1
    while s < n:
        pad_shape = list(x.shape)
        pad_shape[d] = s
        pad = Tensor._wrap(np.full(pad_shape, 1 if mul else 0, x.dtype.np), x.dtype)
        shifted = cat([pad, y[_at(d, 0, n - s)]], d)
        y = y * shifted if mul else y + shifted
        s *= 2
    return y


# NOTE: logcumsumexp as the same scan with logaddexp: each step combines disjoint ranges, so
# no element is shifted by a far larger one and lost (log(cumsum(exp(x - max))) underflows to
# -inf before the maximum); the first s positions are kept as they are (no -inf padding, whose
# create_graph derivatives are nan).  Its gradient is logaddexp's, except where one operand
# dominates (the other is -inf, or it is +inf and the other is not): the sum is then that
# operand (derivatives 1 and 0, as logaddexp's), and logaddexp reads 0s there, since its own
# second derivative at an infinity is nan (torch's too), which spread to every later
# position (torch's logcumsumexp is nan only at the infinity).  Without an infinity (and not
# while tracing, where a replay's values are not known) the plain logaddexp: the same values
def _logaddexp_finite(u, v):
    """logaddexp(u, v), differentiable to any order where one operand dominates."""
    # (a nan beside an infinity wins nothing: logaddexp's nan, as torch's logcumsumexp)
    u_wins = ((v == -math.inf) & (u != -math.inf)) | ((u == math.inf) & (v != math.inf) & (v == v))
    v_wins = ((u == -math.inf) & (v != -math.inf)) | ((v == math.inf) & (u != math.inf) & (u == u))
    either = u_wins | v_wins
    both = where(either, 0.0, u).logaddexp(where(either, 0.0, v))
    return where(u_wins, u, where(v_wins, v, both))


def logcumsumexp(T, x, d):
    """log(cumsum(exp(x))) along dim d."""
    if not x.shape:
        return x.clone()
    n = x.shape[d]
    add = _logaddexp_finite if _tracing(x) is not None or np.isinf(x._array()).any() \
        else Tensor.logaddexp
    y = x
    s = 1
    while s < n:
        y = cat([y[_at(d, 0, s)], add(y[_at(d, s, n)], y[_at(d, 0, n - s)])], d)
        s *= 2
    return _fresh(y, x)


# NOTE: nansum's gradient is torch's product g * ~isnan(x), not a select: an inf or nan g
# (nanmean of an all-nan slice divides by a count of 0) is nan at the nan elements too.  The
# value is the select's (straight_through's second operand), the gradient x * mask's.
def nansum(T, x, dims, keepdim):
    """The sum over dims with nan taken as 0 (whose gradient is then 0, as torch's)."""
    nan = x != x
    kept = x * where(nan, 0.0, 1.0)
    return _binary(_STRAIGHT_THROUGH, kept, where(nan, 0.0, x)).sum(dims, keepdim=keepdim)


def vdot(T, x, y):
    """x . y of two 1-d tensors (real: no conjugate)."""
    return x.dot(y)


def dist(T, x, y, p):
    """The p-norm of x - y (broadcast)."""
    return (x - y).norm(p)


# NOTE: renorm as torch's forward: the factor maxnorm / (norm + 1e-7) where the norm exceeds
# maxnorm, else 1 (a constant: gradient g there); its gradient where it scales is the product
# rule through the norm, torch's renorm_backward.
def renorm(T, x, p, dims, maxnorm):
    """x with each slice over dims scaled so that its p-norm is at most maxnorm."""
    # NOTE: the scaled slices' norm is taken of x with the others zeroed: a slice left as it
    # is (its norm not > maxnorm, nan too) gets g alone, as torch's where(norm > maxnorm,
    # grad_norm, grad), not 0 * (a nan norm's gradient)
    big = x.norm(p, dims, keepdim=True) > maxnorm
    norm = where(big, x, 0.0).norm(p, dims, keepdim=True)
    return x * where(big, maxnorm / (norm + 1e-7), 1.0)


# NOTE: torch's gradient of ldexp's x is g * pow(2, e): for an integer e an integer power,
# 0 where e < 0 (so the gradient is 0 there, though the value is x * 2 ** e); kept as torch's.
def ldexp(T, x, e, dt):
    """x * 2 ** e in dtype dt (torch's mul(x, pow(2.0, e))); an integer e's powers exact."""
    x = x if x.dtype is dt else x.to(dt)
    if e.dtype.is_floating_point:
        # torch's kernel takes the power in e's own dtype, a 0-d e's in dt (a float32 e of a
        # float64 x: 2 ** e rounded to float32)
        return x * 2.0 ** (e if e.dtype is dt or e.dim() else e.to(dt))
    ea = e._array()
    with np.errstate(over="ignore"):
        pw = Tensor._wrap(np.asarray(np.ldexp(np.ones((), dt.np), ea), dt.np), dt)
    neg = ea < 0
    if not neg.any():
        return x * pw
    return where(Tensor._wrap(np.asarray(neg), D.bool_), x.detach() * pw, x * pw)


def frexp(T, x, exponent):
    """frexp's mantissa: x / 2 ** exponent (exact: a power of two; gradient g / 2 ** e, as
    torch's)."""
    with np.errstate(over="ignore"):
        scale = np.ldexp(np.ones((), x.dtype.np), exponent._array().astype(np.int64))
    return x / Tensor._wrap(np.asarray(scale, x.dtype.np), x.dtype)


# NOTE: cdist's gradient is torch's _cdist_backward: 0 where a distance is 0 (p = 2: the
# norm's _sqrt0; p < 1: 0 where a difference is 0); for p = inf every difference tied at the
# maximum gets the whole gradient (torch's, not max's even split): the value is m0 + sum of
# (|d| - m0) at the hits, m0 the maximum with infinities 0.
def cdist(T, x1, x2, p):
    """The p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M)."""
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p != math.inf:   # (its kernel sums |d|^p also over one feature: float32 2e19 -> inf)
        return vector_norm(T, d, p, (d.dim() - 1,), False)
    ad = d.abs()
    last = (ad.dim() - 1,)
    m0 = T.max_shift(ad, last, True)
    s = where(ad == T.max_shift(ad, last, False), ad - m0, 0.0).sum(-1)
    return m0.reshape(s.shape) + s


def euclidean_dist(T, x1, x2):
    """torch's _euclidean_dist: sqrt(max(|a|^2 - 2 a.b + |b|^2, 0)) of each row pair, by one
    matrix product (gradient 0 where the distance is 0, as torch's)."""
    n1 = (x1 * x1).sum(-1, keepdim=True)
    n2 = (x2 * x2).sum(-1, keepdim=True)
    one1 = Tensor._wrap(np.ones(n1.shape, x1.dtype.np), x1.dtype)
    one2 = Tensor._wrap(np.ones(n2.shape, x2.dtype.np), x2.dtype)
    a = cat([x1 * -2, n1, one1], -1)
    b = cat([x2, one2, n2], -1)
    return _sqrt0((a @ b.transpose(-1, -2)).clamp_min(0.0))


def mul_number(T, x, c):
    """x * c with a Python number c (torch's mul(Tensor, Scalar))."""
    return x * c


def add_number(T, x, c):
    """x + c with a Python number c (torch's add(Tensor, Scalar))."""
    return x + c


def div_number(T, x, c):
    """x / c with a Python number c (torch's div(Tensor, Scalar))."""
    return x / c


# NOTE: torch's var_backward is not the value's derivative where the value has no degrees of
# freedom: the value divides by max(N - correction, 0) (inf or nan), the gradient is
# 2 / (n - correction) * grad * (x - mean) (finite for a correction past n, +-inf or nan at n;
# n is 1 for dim=[]), and over all elements (dim=None, a 0-d input) with n <= correction
# grad * where(x == mean, nan, inf).  The squares are the row sq_deviation's, whose gradient
# has torch's path through x alone (none through the mean: an infinite grad made its terms
# inf - inf).  `slope` (mathops.moment) names torch's gradient where it is not the value's
# derivative: None (it is); "whole"; else n - correction.  The value is then
# straight_through(a sum carrying that gradient, the value).
# `exact` (mathops.moment: eager float32 / float64): the entries hold the values torch's CPU
# reductions compute (ndops.torch_moments) instead of their forwards' (set_entry_value: the
# sum of squared deviations, the quotient, std's root), no entry added; `means` (var_mean /
# std_mean: Welford's route whatever the results) a list Welford's mean is appended to.
def var(T, x, dims, correction, keepdim, slope=None, exact=False, means=None):
    """sum((x - mean)^2) / (N - correction) over dims (inf or nan when N <= correction)."""
    return _var(x, dims, correction, keepdim, slope, exact, means)[0]


def _var(x, dims, correction, keepdim, slope, exact, means):
    """var's result and torch's values (torch_moments; None unless `exact`)."""
    count = math.prod(x.shape[d] for d in dims) if x.shape else 1
    # (one element per slice: the mean is x itself; x.mean() would be it rounded to x's
    # dtype while a one-element float32 x may hold its double value, so x - mean was not 0)
    mean = x if count == 1 else x.mean(dims, keepdim=True)
    squares = _binary(_SQ_DEVIATION, x, mean).sum(dims, keepdim=keepdim)
    values = None
    if exact:
        values = torch_moments(x._array(), dims, correction, keepdim, means is not None,
                               mean._array())
        set_entry_value(squares, values[0])
        if means is not None:
            means.append(values[3])
    if slope is None:
        out = squares / max(count - correction, 0)
        return (out if values is None else set_entry_value(out, values[1])), values
    out = squares.detach() / max(count - correction, 0)   # (0 * (1 / 0) is no gradient)
    if values is not None:
        set_entry_value(out, values[1])
    if slope == "whole":
        carrier = (x * where(x == mean, math.nan, math.inf)).sum(dims, keepdim=keepdim)
    else:   # (a slope of 0: g / 0, torch's (2 / 0) * grad)
        carrier = squares / slope
    return _binary(_STRAIGHT_THROUGH, carrier, out), values


def _sqrt0(s, p=None):
    """sqrt(s) (or s ** (1 / p)) with torch's gradient 0 where s == 0 (not inf * 0): the
    unary row sqrt0, or for p the powers with a safe base."""
    if p is None:
        return _unary(_SQRT0, s)
    z = s == 0
    safe = where(z, 1.0, s)
    return where(z, 0.0, safe ** (1.0 / p))


# NOTE: std and the norms: gradient 0 where the result is 0, as torch's masked formulas
def std(T, x, dims, correction, keepdim, slope=None, exact=False, means=None):
    q, values = _var(x, dims, correction, keepdim, slope, exact, means)
    out = _sqrt0(q)
    return out if values is None else set_entry_value(out, values[2])


def vector_norm(T, x, ord, dims, keepdim):
    """linalg.vector_norm: (sum |x|^ord)^(1/ord); max/min |x| for +-inf; count of nonzeros
    for 0."""
    if ord == 2:
        sq = x * x
        if len(dims) == len(x.shape) and not keepdim:   # (over everything: sum's fast path)
            return _unary(_NORM_SQRT, sq.sum())
        return _unary(_NORM_SQRT, sq.sum(dims, keepdim=keepdim))
    ax = x.abs()
    if ord == 1:
        return ax.sum(dims, keepdim=keepdim)
    if ord == math.inf or ord == -math.inf:
        # (torch's mask: |x| == norm or a nan |x|, times grad / count)
        return extreme(T, ax, dims, keepdim, ord > 0, True, True)
    if ord == 0:   # no gradient (torch: zeros); x stays an operand so the result has history
        nonzero = where(x != 0, 1.0, 0.0).sum(dims, keepdim=keepdim).to(x.dtype)
        none = Tensor._wrap(np.zeros(x.shape, bool), D.bool_)
        return nonzero + where(none, x, 0.0).sum(dims, keepdim=keepdim)
    if 0 < ord < 1:   # |x|^p has an infinite slope at 0: torch's gradient there is 0
        z = ax == 0
        pw = where(z, 0.0, where(z, 1.0, ax) ** ord)
    elif ord < 0:     # NOTE: a zero makes the sum inf and the norm 0; torch's gradient is then
        z = ax == 0   # 0 everywhere (0 * inf at the zero: nan here before)
        pw = where(z, math.inf, where(z, 1.0, ax) ** ord)
    else:
        pw = ax ** ord
    return _sqrt0(pw.sum(dims, keepdim=keepdim), ord)


# NOTE: a norm over one element (torch's reduction then never squares or powers it): |x| for
# every ord but 0, so float32 2e19 or 1e-30 are their own norm (not x*x's inf or 0); the
# gradient abs's sgn(x), torch's formulas' value there, but: at an inf or nan element torch's
# x * |x|^(p - 2) * grad / norm^(p - 1) (and its forms for p < 2) is nan (inf / inf) for
# every ord but 1 and +-inf (sgn(x) * grad); at 0 its masked grad / norm^(p - 1) makes it 0
# for p > 1 but 2 (abs's sgn(0) * grad is nan for an inf grad).  There straight_through
# takes the gradient of sum(x * q), q = x / |x| a constant (nan at inf and nan, 0 at 0), x
# made 0 first at 0 where torch's is masked.
def one_element_norm(T, x, ord, dims, keepdim):
    if ord in (1, math.inf, -math.inf) or _tracing(x) is not None:
        return x.abs().sum(dims, keepdim=keepdim)
    a = x._array()
    masked = ord > 1 and ord != 2 and not a.all()
    if not masked and np.isfinite(a).all():
        return x.abs().sum(dims, keepdim=keepdim)
    with np.errstate(all="ignore"):
        q = Tensor._wrap(np.where(a == 0, 0.0, a / np.abs(a)).astype(a.dtype), x.dtype)
    kept = where(x == 0, 0.0, x) if masked else x
    return _binary(_STRAIGHT_THROUGH, (kept * q).sum(dims, keepdim=keepdim),
                   x.detach().abs().sum(dims, keepdim=keepdim))


def norm_body(x, ord, dims):
    """The body of torch's at::norm / linalg.vector_norm of a shaped x over dims:
    one_element_norm where each result reduces one element, else vector_norm."""
    one = ord != 0 and x.shape and math.prod(x.shape[d] for d in dims) == 1
    return one_element_norm if one else vector_norm


def nan_to_num(T, x, nan, posinf, neginf):
    """nan, +inf and -inf replaced; the gradient passes where x is finite."""
    return where(x != x, nan, where(x == math.inf, posinf, where(x == -math.inf, neginf, x)))


# NOTE: with both bounds tensors torch's gradient (clamp_backward_min_max) is not the
# composition's: x gets g where lo <= x <= hi, lo where x < lo < hi, hi where x > hi or
# hi < lo.  So where lo == hi and x is outside nothing gets a gradient, and a nan x with
# hi < lo sends it to hi (the composition gave lo, and nothing).  The value is then
# straight_through(a sum of the three masked operands carrying those gradients, the value).
# Where lo < hi everywhere (no nan) the two agree, and the composition costs ~16 us, not ~95.
def clamp(T, x, lo, hi):
    """clamp_max(clamp_min(x, lo), hi): gradient 1 at the bounds, as torch."""
    if isinstance(lo, Tensor) and isinstance(hi, Tensor) and (
            any(_tracing(v) is not None for v in (x, lo, hi))
            or not (lo._array() < hi._array()).all()):
        out = x.detach().clamp_min(lo.detach()).clamp_max(hi.detach())
        dt = out.dtype
        carrier = (where((x >= lo) & (x <= hi), x, 0.0).to(dt)
                   + where((x < lo) & (lo < hi), lo, 0.0).to(dt)
                   + where((x > hi) | (hi < lo), hi, 0.0).to(dt))
        return _binary(_STRAIGHT_THROUGH, carrier, out)
    y = x if lo is None else x.clamp_min(lo)
    return y if hi is None else upper_clip_reads_input(x, y, y.clamp_max(hi))


# NOTE: torch's ClampBackward1 passes the gradient where lo <= x <= hi, x read at backward (a
# change through `.data` counts no version); the upper clip's mask reads its operand, the
# lower clip's result y, made of x's value then.  y <= hi exactly where x <= hi (lo <= hi;
# neither for nan), and where lo > hi the two masks x >= lo and x <= hi never both hold, as
# torch's never does: so the upper clip reads x in y's place, what the lower clip saved of
# it (mathops._clamp_pass saves x's array for both clips in the first place).  hardtanh's
# clips likewise: where its lower clip passes the gradient (x > lo), y < hi exactly where
# x < hi.
def upper_clip_reads_input(x, y, out):
    """out = the upper clip of y = the lower clip of x (clamp_max of clamp_min, hardtanh's;
    or of y = x): its entry reads x's value as y's."""
    tape = out._tape
    if y is not x and y._recorded and tape is not None and y._tape is tape and \
            not tape.recording:
        tape.read_as(y._node, int(tape.ia[y._node]))
    return out


# NOTE: torch's lerp gradients are grad * (1 - weight) and grad * weight; the two-sided
# value's own (x + w * (end - x): grad - grad * w) is inf - inf = nan for an infinite grad
# (quantile's interpolation).  Where the weight needs no gradient (a number, or a tensor
# that does not require grad) and nothing traces, the value is torch's kernel's over the
# arrays (lerp_arrays), the gradient straight_through's carrier x * (1 - w) + end * w (linear
# in x and end, as lerp: no second derivative either way).  (Not for a weight that requires
# grad: its gradient grad * (end - x) would need the difference's path; the value is still the
# kernel's where own_value.)
def lerp(T, x, end, weight):
    """torch's two-sided lerp: x + w (end - x) for |w| < 0.5, else end - (end - x)(1 - w)."""
    tw = isinstance(weight, Tensor)
    operands = (x, end, weight) if tw else (x, end)
    if not own_value(x, operands):
        return _two_sided(x, end, weight)
    arrays = [t._array() for t in operands]
    value = lerp_arrays(*arrays) if tw else lerp_number(*arrays, weight)
    if tw and weight.requires_grad:
        return _with_value(_two_sided(x, end, weight), value)
    if x._recorded or end._recorded:
        # (torch's factors in the dtype: its Scalars 1 - w and w, its tensor op 1 - w, where
        # a one-element float32 tensor's products and differences are in double)
        if not tw:
            t = x.dtype.np.type
            return _with_value(x * float(t(1 - weight)) + end * float(t(weight)), value)
        return _with_value(x * stored32(1 - weight) + end * weight, value)
    return Tensor._wrap(np.asarray(value, x.dtype.np), x.dtype)


def _two_sided(x, end, weight):
    """lerp's value as tensor ops."""
    if isinstance(weight, Tensor):
        # (torch's LerpBackward1 saves end for weight's gradient, which reads it through diff:
        # an in-place change of end, x.lerp_(x, w) too, fails the backward as torch's)
        diff = read_as_saved(end - x, end)
        return where(weight.abs() < 0.5, x + weight * diff, end - diff * (1 - weight))
    return lerp_number(x, end, weight)


def lerp_arrays(x, end, weight):
    """lerp's value of float32/float64 arrays of one dtype (broadcast), weight an array:
    torch's vectorized kernel, fma(w, end - x, x) where |w| < 0.5, else fma(w - 1, end - x,
    end), w - 1 rounded (its scalar tail computes the same)."""
    with np.errstate(all="ignore"):
        small = np.abs(weight) < 0.5
        coeff = np.where(small, weight, weight - weight.dtype.type(1))
        return fma(end - x, coeff, np.where(small, x, end), x.dtype)


def own_value(like, inputs):
    """Whether an op of `like`'s dtype takes its value from numpy arithmetic on the operands'
    arrays, as torch's kernel computes it (in float32 for float32, a one-element tensor's
    too, where the tensor ops compute one in double; fused multiply-adds by exact.fma):
    float32 or float64, and no tensor of `inputs` traced by a replay (whose values follow
    the inputs: the tensor ops' there)."""
    if like.dtype is not D.float32 and like.dtype is not D.float64:
        return False
    for t in inputs:
        if isinstance(t, Tensor) and _tracing(t) is not None:
            return False
    return True


def _with_value(carrier, arr):
    """carrier's gradient (its recorded entries), arr's value (straight_through)."""
    dt = carrier.dtype
    value = Tensor._wrap(np.asarray(arr, dt.np), dt)
    return _binary(_STRAIGHT_THROUGH, carrier, value) if carrier._recorded else value


# The formulas below take tensors or, for inplace._update_arrays (an update with no history),
# numpy arrays of one dtype: one formula, computed op for op the same way on either.
def lerp_number(x, end, weight, out=None):
    """lerp with a Python number weight: torch's kernel, fma(w, end - x, x) for |w| < 0.5,
    else fma(w - 1, end - x, end), w and w - 1 in the dtype (lerp_arrays); on tensors that
    fma is add's with alpha (the kernel's value where own_value, else its steps).  Arrays:
    `out` (of x's shape and dtype; it may be x or end) takes the value, else a new array."""
    if isinstance(x, np.ndarray):
        given = out is not None
        if not given:
            out = np.empty(x.shape, x.dtype)
        if lerp_into(x, end, float(weight), out):   # (one Numba call where the arrays allow)
            return out
        t = x.dtype.type
        w = t(weight)
        with np.errstate(all="ignore"):
            if abs(w) < 0.5:
                r = fma(end - x, w, x, x.dtype)
            else:
                r = fma(end - x, w - t(1), end, x.dtype)
        if given:
            out[...] = r
            return out
        return r
    t = x.dtype.np.type
    w = t(weight)
    return x.add(end - x, alpha=float(w)) if abs(w) < 0.5 else \
        end.add(end - x, alpha=float(w - t(1)))


def addcmul_common(x, t1, t2, value, saved=None):
    """addcmul of operands in one dtype (`saved`: see addcmul), as elementary ops."""
    s = t1 if value == 1 else t1 * value
    return x + (s if saved is None else saved(s)) * t2


def addcmul_fused(x, t1, t2, value, out=None):
    """addcmul's value of numpy arrays of one float dtype: torch's kernel, value * t1 rounded,
    then fma(value * t1, t2, x) (one rounding, value 1 too); written into `out` (of x's shape
    and dtype; it may be x, t1 or t2) where given, else a new array."""
    r = fma_scaled(t1, value, t2, x, out)
    if r is not None:
        return r
    t = x.dtype
    if value != 1:
        with np.errstate(all="ignore"):
            t1 = t1 * t.type(value)
    r = fma(t1, t2, x, t)
    if out is not None:
        out[...] = r
        return out
    return r


def addcdiv_arrays(x, t1, t2, value, out=None):
    """addcdiv's value of numpy arrays of one float dtype: torch's kernel, (value * t1) / t2
    + x, each op rounded (no fma: the sum's term is a quotient).  With `out` (of x's shape
    and dtype; it may be x, t1 or t2), the sum written there under the caller's quiet
    floating-point state (inplace._update_arrays'), no new array for it."""
    if out is None:
        with np.errstate(all="ignore"):
            return addcdiv_common(x, t1, t2, x.dtype.type(value))
    v = x.dtype.type(value)
    # (addcdiv_common's ops on arrays, op for op: the quotient whole before the sum writes)
    return np.add(x, (t1 if v == 1 else t1 * v) / t2, out=out)


def addcdiv_common(x, t1, t2, value, saved=None):
    """addcdiv of operands in one dtype (`saved`: see addcmul)."""
    s = t1 if value == 1 else t1 * value
    return x + (s if saved is None else saved(s)) / t2


def _common(*tensors):
    """The tensors in their promoted dtype: torch computes a composite op of several operands
    in it (integer products wrap around there, not in a narrower operand's dtype)."""
    dt = D.promoted(*tensors)
    return [t if t.dtype is dt else t.to(dt) for t in tensors]


# torch's AddcmulBackward0/AddcdivBackward0 save tensor1 and tensor2 (not self).  NOTE: their
# gradients read the two as they are at backward (a change through `.data` counts no
# version): with a value other than 1 the result is torch's, self + (value * tensor1) op
# tensor2, and its gradient the carrier's, self + (tensor1 op tensor2) * value, whose entries
# read the operands themselves, not value * tensor1 made of tensor1's old value.  (An
# in-place op that changes a factor itself takes the composition: mathops._changes_a_factor.)
def addcmul(T, x, t1, t2, value):
    x_, a, b = _common(x, t1, t2)
    if value == 1 or not own_value(x_, (x, t1, t2)):
        return addcmul_composed(T, x, t1, t2, value)
    a, b = read_as_saved(a, t1), read_as_saved(b, t2)
    term = T.addc_term(a, b, value, False) if _one_term(x_, a, b) else a * b * value
    return _with_value(x_ + term, addcmul_fused(x_._array(), a._array(), b._array(), value))


def addcdiv(T, x, t1, t2, value):
    x_, a, b = _common(x, t1, t2)
    if not own_value(x_, (x, t1, t2)):
        return addcdiv_composed(T, x, t1, t2, value)
    a, b = read_as_saved(a, t1), read_as_saved(b, t2)
    if _one_term(x_, a, b):   # (the term's value is torch's: x + (value * t1) / t2 rounds so)
        return x_ + T.addc_term(a, b, value, True)
    if value == 1:
        return addcdiv_composed(T, x, t1, t2, value)
    return _with_value(x_ + a / b * value,
                       addcdiv_arrays(x_._array(), a._array(), b._array(), value))


# NOTE: torch's AddcmulBackward0 / AddcdivBackward0 compute grad * (tensor2 * value) and the
# like (kinds/addc.py): one entry of the addc kind gives those bits, where the carrier's
# products, (grad * value) * tensor2, differed in the last bit.  Where tensor1 and tensor2 have
# the result's shape (torch reduces a broadcast operand's gradient after the product, the
# sum's VJP before it) and two or more elements (a one-element tensor's arithmetic is in
# double), in float32 or float64 (own_value: not traced).
def _one_term(x, a, b):
    """Whether addcmul's / addcdiv's term of a, b (x, a, b of one float dtype) is one entry of
    the addc kind."""
    shape = a._shape
    return b._shape == shape and (a._recorded or b._recorded) and a.numel() > 1 and (
        x._shape == shape or np.broadcast_shapes(x._shape, shape) == shape)


def addcmul_composed(T, x, t1, t2, value):
    """addcmul as x + (value * t1) * t2, the product's entry reading value * t1; its value
    torch's fused kernel's (addcmul_fused) where own_value."""
    x_, a, b = _common(x, t1, t2)
    r = addcmul_common(x_, read_as_saved(a, t1), read_as_saved(b, t2), value,
                       lambda s: read_as_saved(s, t1))
    if not own_value(x_, (x, t1, t2)):
        return r
    return _with_value(r, addcmul_fused(x_._array(), a._array(), b._array(), value))


def addcdiv_composed(T, x, t1, t2, value):
    """addcdiv as x + (value * t1) / t2, the quotient's entry reading value * t1; a
    one-element float32 one (which the tensor ops compute in double) has torch's kernel's
    value, in float32 (addcdiv_arrays), where own_value."""
    x_, a, b = _common(x, t1, t2)
    r = addcdiv_common(x_, read_as_saved(a, t1), read_as_saved(b, t2), value,
                       lambda s: read_as_saved(s, t1))
    if r.dtype is not D.float32 or type(r._v) is not float or not own_value(x_, (x, t1, t2)):
        return r
    return _with_value(r, addcdiv_arrays(x_._array(), a._array(), b._array(), value))
