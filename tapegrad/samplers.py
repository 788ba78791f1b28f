"""torch's public samplers with rejection loops: `poisson`, `binomial`, `_standard_gamma` and
`_sample_dirichlet`, drawing torch's values (tapegrad/gamma_draws.py) from the default
generator or `generator=`, with torch's checks and errors.

Gradients as torch records them: `poisson` a zero gradient (PoissonBackward0, the op
table's `draw` row: tapegrad/draw_nodes.py); `_standard_gamma` the implicit
reparameterization gradient (StandardGammaBackward0, torch's approximation of it below, which
Gamma and the families built on it use); `binomial` and `_sample_dirichlet` torch's
NotImplemented node, whose backward raises "derivative for aten::... is not implemented"."""
import warnings

import numpy as np

from . import dtypes as D, errors, gamma_draws
from .creation import _leaf, tensor
from .draw_nodes import drawn, not_differentiable
from .pyfunc import as_native_node, Function
from .random import generator_of
from .tensor import Tensor
from .vocab import NUMPY

__all__ = ["poisson", "binomial", "_standard_gamma", "_sample_dirichlet"]


def _float_input(x, fn, kernel):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not "
                        f"{errors.type_name(x)}")
    if x._dtype not in (D.float32, D.float64):
        raise NotImplementedError(f'"{kernel}" not implemented for \'{x._dtype.legacy}\'')
    return x._array()


def poisson(input, generator=None):
    """A Poisson draw per element of `input` (the non-negative rates), in input's dtype,
    as torch.poisson: the same generator state gives torch's values."""
    rates = _float_input(input, "poisson", "poisson_cpu")
    gen = generator_of(generator, "poisson")
    counts = _leaf(gamma_draws.poisson(gen._engine, rates), input._dtype, False)
    return drawn(counts, "PoissonBackward0", (input,))


def binomial(count, prob, generator=None):
    """The number of successes among `count` trials of probability `prob` (float tensors of
    one dtype, broadcast together), as torch.binomial: torch's values for the same state."""
    for t, name in ((count, "count"), (prob, "prob")):
        if not isinstance(t, Tensor):
            raise TypeError(f"binomial(): argument '{name}' must be Tensor, not "
                            f"{errors.type_name(t)}")
        if not t._dtype.is_floating_point:
            raise ValueError(f"binomial only supports floating-point dtypes for {name}, got: "
                             f"{t._dtype.legacy}")
    if prob._dtype is not count._dtype:
        raise RuntimeError(f"Found dtype {prob._dtype.legacy} but expected "
                           f"{count._dtype.legacy}")
    gen = generator_of(generator, "binomial")
    c, p = count._array(), prob._array()
    shape = np.broadcast_shapes(c.shape, p.shape)
    if shape != c.shape:
        warnings.warn(f"An output with one or more elements was resized since it had shape "
                      f"{list(c.shape)}, which does not match the required output shape "
                      f"{list(shape)}. This behavior is deprecated, and in a future PyTorch "
                      "release outputs will not be resized unless they have zero elements. "
                      "You can explicitly reuse an out tensor t by resizing it, inplace, to "
                      "zero elements with t.resize_(0).", UserWarning, stacklevel=2)
    arr = gamma_draws.binomial(gen._engine, c, p)
    return not_differentiable(_leaf(arr, count._dtype, False), "binomial", (count, prob))


def _standard_gamma_grad(alpha, x):
    """dx/dalpha for x a standard Gamma(alpha) draw at a fixed quantile, -(dP/dalpha) / p, as
    torch computes it (standard_gamma_grad_one, ATen/native/Distributions.h, in float64 for
    either dtype): a five-term Taylor series of P for x < 0.8, Rice's saddle-point expansion
    for alpha > 8, else a bivariate rational approximation in log(x / alpha) and log(alpha).
    (The exact derivative differs from it by up to ~1e-4 relative.)"""
    alpha, x = np.broadcast_arrays(np.asarray(alpha, np.float64), np.asarray(x, np.float64))
    out = np.empty(alpha.shape)
    small = x < 0.8
    rice = ~small & (alpha > 8.0)
    rational = ~small & ~rice
    with np.errstate(all="ignore"):
        a, v = alpha[small], x[small]
        numer, denom = np.ones(a.shape), a
        series1, series2 = numer / denom, numer / (denom * denom)
        for i in range(1, 6):
            numer = numer * (-v / i)
            denom = denom + 1
            series1 = series1 + numer / denom
            series2 = series2 + numer / (denom * denom)
        pow_x_alpha = v ** a
        pdf = v ** (a - 1) * np.exp(-v)
        cdf_alpha = (np.log(v) - NUMPY["digamma"](a)) * (pow_x_alpha * series1) - \
            pow_x_alpha * series2
        result = -cdf_alpha / pdf
        out[small] = np.where(np.isnan(result), 0.0, result)
        a, v = alpha[rice], x[rice]
        near = (0.9 * a <= v) & (v <= 1.1 * a)
        numer_1 = 1 + 24 * a * (1 + 12 * a)
        numer_2 = 1440 * (a * a) + 6 * v * (53 - 120 * v) - 65 * v * v / a + \
            a * (107 + 3600 * v)
        at_mean = numer_1 * numer_2 / (1244160 * (a * a) * (a * a))
        denom = np.sqrt(8 * a)
        term2 = denom / (a - v)
        term3 = (v - a - a * np.log(v / a)) ** -1.5
        term1 = np.log(v / a) * np.where(v < a, term2 - term3, term2 + term3) - \
            np.sqrt(2 / a) * (a + v) / ((a - v) * (a - v))
        stirling = 1 + 1 / (12 * a) * (1 + 1 / (24 * a))
        out[rice] = np.where(near, at_mean, -stirling * (v * term1) / denom)
        a, v = alpha[rational], x[rational]
        u, lv = np.log(v / a), np.log(a)
        c = [_GAMMA_GRAD_UV[0][k] + u * (_GAMMA_GRAD_UV[1][k] + u * _GAMMA_GRAD_UV[2][k])
             for k in range(8)]
        p = c[0] + lv * (c[1] + lv * (c[2] + lv * c[3]))
        q = c[4] + lv * (c[5] + lv * (c[6] + lv * c[7]))
        out[rational] = np.exp(p / q)
    return out


# standard_gamma_grad_one's coefficients of its rational approximation (torch's)
_GAMMA_GRAD_UV = (
    (0.16009398, -0.094634809, 0.025146376, -0.0030648343,
     1, 0.32668115, 0.10406089, 0.0014179084),
    (0.53487893, 0.1298071, 0.065735949, -0.0015649758,
     0.16639465, 0.020070113, -0.0035938915, -0.00058392623),
    (0.040121004, -0.0065914022, -0.0026286047, -0.0013441777,
     0.017050642, -0.0021309326, 0.00085092367, -1.5247877e-07),
)


_TINY = 1e-300     # (Lentz's guard against a zero denominator)


def _beta_cf(p, q, y):
    """The continued fraction of the regularized incomplete beta function,
    I_y(p, q) = y^p (1-y)^q / (p B(p, q)) * cf (Numerical Recipes' betacf, Lentz's method),
    with its derivatives in p and in q carried through every step (forward mode: exact to
    rounding, no difference quotient).  Arrays of one shape; returns (cf, dcf/dp, dcf/dq).
    It converges in O(sqrt(max(p, q))) steps where y < (p + 1) / (p + q + 2)."""
    one = np.ones_like(y)
    u = 1.0 - (p + q) * y / (p + 1.0)
    u_p = -y * (1.0 - q) / (p + 1.0) ** 2
    u_q = -y / (p + 1.0)
    u = np.where(np.abs(u) < _TINY, _TINY, u)
    d, c = 1.0 / u, one
    d_p, d_q = -u_p * d * d, -u_q * d * d
    c_p = c_q = np.zeros_like(y)
    h, h_p, h_q = d, d_p, d_q
    live = np.ones(y.shape, bool)
    for m in range(1, 20000):
        for odd in (False, True):
            if not odd:   # m (q - m) y / ((p - 1 + 2m)(p + 2m))
                aa = m * (q - m) * y / ((p - 1.0 + 2 * m) * (p + 2.0 * m))
                aa_p = -aa * (1.0 / (p - 1.0 + 2 * m) + 1.0 / (p + 2.0 * m))
                aa_q = m * y / ((p - 1.0 + 2 * m) * (p + 2.0 * m))
            else:         # -(p + m)(p + q + m) y / ((p + 2m)(p + 1 + 2m))
                aa = -(p + m) * (p + q + m) * y / ((p + 2.0 * m) * (p + 1.0 + 2 * m))
                aa_p = aa * (1.0 / (p + m) + 1.0 / (p + q + m) - 1.0 / (p + 2.0 * m)
                             - 1.0 / (p + 1.0 + 2 * m))
                aa_q = aa / (p + q + m)
            den = 1.0 + aa * d
            den = np.where(np.abs(den) < _TINY, _TINY, den)
            d_p, d_q = -(aa_p * d + aa * d_p) / den ** 2, -(aa_q * d + aa * d_q) / den ** 2
            d = 1.0 / den
            c_p, c_q = aa_p / c - aa * c_p / c ** 2, aa_q / c - aa * c_q / c ** 2
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            step = d * c
            h_p = h_p * step + h * (d_p * c + d * c_p)
            h_q = h_q * step + h * (d_q * c + d * c_q)
            h = h * step
        live &= ~(np.abs(step - 1.0) < 1e-16)
        if not live.any():
            break
    return h, h_p, h_q


def _dirichlet_grad(x, alpha, total):
    """torch._dirichlet_grad: for x_i of a Dirichlet draw, whose marginal is
    Beta(a = alpha_i, b = total - alpha_i), D_i = (dx_i / dalpha_i) / (1 - x_i) with
    dx_i / dalpha_i = -(dI_x(a, b) / da) / pdf (the implicit reparameterization gradient at
    a fixed quantile); a Dirichlet draw's gradient is then D_j (delta_ij - x_i).  Exact
    where torch uses asymptotic and rational approximations (they agree to ~1e-3).

    With F = x^a (1-x)^b / B(a, b) and L = d log F / da = log x - psi(a) + psi(a + b):
    below the mean, I = F cf(a, b, x) / a, so D = -x cf / a (L + cf_a / cf - 1 / a);
    above it, 1 - I = F cf(b, a, 1 - x) / b, so D = x cf / b (L + cf_b / cf)."""
    x, a, t = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (x, alpha, total)))
    out = np.zeros(x.shape)
    inside = (x > 0) & (x < 1)   # (a draw rounded to 0 or 1: no gradient)
    if not inside.any():
        return out
    x, a = x[inside], a[inside]
    b = t[inside] - a
    digamma = NUMPY["digamma"]   # (the op table's numpy face)
    with np.errstate(all="ignore"):
        L = np.log(x) - digamma(a) + digamma(a + b)
        low = x < (a + 1.0) / (a + b + 2.0)
        p, q, y = np.where(low, a, b), np.where(low, b, a), np.where(low, x, 1.0 - x)
        cf, cf_p, cf_q = _beta_cf(p, q, y)
        out[inside] = np.where(low, -x * cf / a * (L + cf_p / cf - 1.0 / a),
                               x * cf / b * (L + cf_q / cf))
    return out


class _StandardGamma(Function):
    """A standard Gamma(alpha) draw, differentiable in alpha (StandardGammaBackward0)."""

    @staticmethod
    def forward(ctx, alpha, generator=None):
        gen = generator_of(generator, "_standard_gamma")
        x = gamma_draws.standard_gamma(gen._engine, alpha.detach().numpy())
        out = tensor(x, dtype=alpha.dtype)
        ctx.save_for_backward(alpha, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        dx = _standard_gamma_grad(alpha.detach().numpy(), x.detach().numpy())
        return grad * tensor(dx, dtype=alpha.dtype), None


as_native_node(_StandardGamma, "StandardGammaBackward0")


def _standard_gamma(input, generator=None):
    """A Gamma(input, 1) draw per element (torch._standard_gamma), differentiable in input
    through the implicit reparameterization gradient."""
    _float_input(input, "_standard_gamma", "gamma_cpu")
    return _StandardGamma.apply(input, generator)


def _sample_dirichlet(input, generator=None):
    """A Dirichlet(input) draw over the last dimension (torch._sample_dirichlet)."""
    arr = _float_input(input, "_sample_dirichlet", "dirichlet")
    gen = generator_of(generator, "_sample_dirichlet")
    return not_differentiable(_leaf(gamma_draws.dirichlet(gen._engine, arr), input._dtype, False),
                              "_sample_dirichlet", (input,))
