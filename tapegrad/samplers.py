"""torch's public samplers with rejection loops: `poisson`, `binomial`, `_standard_gamma` and
`_sample_dirichlet`, drawing torch's values (tapegrad/gamma_draws.py) from the default
generator or `generator=`, with torch's checks and errors.

Gradients as torch records them: `poisson` a zero gradient (PoissonBackward0, the op
table's `draw` row: tapegrad/draw_nodes.py); `_standard_gamma` the implicit
reparameterization gradient (StandardGammaBackward0, torch's approximation of it below, which
Gamma and the families built on it use; its own derivative, as torch's, raises); `binomial` and `_sample_dirichlet` torch's
NotImplemented node, whose backward raises "derivative for aten::... is not implemented"."""
import warnings

import numpy as np

from . import dtypes as D, errors, gamma_draws, nodiff
from .creation import _leaf, tensor
from .draw_nodes import drawn, not_differentiable
from .pyfunc import as_native_node, Function
from .native_args import parsed
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


@parsed("poisson")
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


def _dirichlet_grad(x, alpha, total):
    """torch._dirichlet_grad: for x_i of a Dirichlet draw, whose marginal is
    Beta(alpha_i, total - alpha_i), D_i = (dx_i / dalpha_i) / (1 - x_i) at a fixed quantile
    (a Dirichlet draw's gradient is then D_j (delta_ij - x_i)), as torch approximates it
    (dirichlet_grad_one, ATen/native/Distributions.h), in the arrays' dtype where torch
    computes in it: Taylor series near x = 0 and x = 1, a saddle-point expansion when both
    parameters exceed 6, else a rational correction of an analytic approximation.  (The exact
    derivative differs from it by up to ~1e-3 relative.)"""
    x, alpha, total = np.broadcast_arrays(x, alpha, total)
    S = np.float32 if x.dtype == np.float32 else np.float64   # torch's scalar_t
    x, alpha, total = (np.asarray(v, S) for v in (x, alpha, total))
    out = np.zeros(x.shape, S)
    with np.errstate(all="ignore"):
        beta = total - alpha
        boundary = total * x * (S(1) - x)
        near_0 = (x <= 0.5) & (boundary < 2.5)
        near_1 = ~near_0 & (x >= 0.5) & (boundary < 0.75)
        mid = ~near_0 & ~near_1 & (alpha > 6) & (beta > 6)
        rest = ~(near_0 | near_1 | mid)
        out[near_0] = _beta_grad_alpha_small(x[near_0], alpha[near_0], beta[near_0])
        out[near_1] = -_beta_grad_beta_small(S(1) - x[near_1], beta[near_1], alpha[near_1])
        x_, alpha_, total_ = (np.asarray(v, np.float64) for v in (x, alpha, total))
        out[mid] = _beta_grad_alpha_mid(x_[mid], alpha_[mid], total_[mid] - alpha_[mid])
        x_, alpha_, total_ = x_[rest], alpha_[rest], total_[rest]
        u = np.log(x_)
        a = np.log(alpha_) - u
        b = np.log(total_) - a
        p = q = 0.0
        for i, pow_u in enumerate((1.0, u, u * u)):
            for j, pow_a in enumerate((1.0, a, a * a)):
                ua = pow_u * pow_a
                cp, cq = _DIRICHLET_GRAD_C[0][i][j], _DIRICHLET_GRAD_C[1][i][j]
                p = p + ua * (cp[0] + b * (cp[1] + b * (cp[2] + b * cp[3])))
                q = q + ua * (cq[0] + b * (cq[1] + b * (cq[2] + b * cq[3])))
        approx = x_ * (_digamma_one(total_, S) - _digamma_one(alpha_, S)).astype(np.float64) \
            / (total_ - alpha_)
        out[rest] = p / q * approx
    return out


def _digamma_one(x, S):
    """torch's digamma_one<scalar_t, double> (Distributions.h) of positive x taken as S:
    Cephes' recurrence up to 10 and asymptotic series, its sums in float64, the rest in S."""
    x = np.array(x, S)
    result = np.zeros(x.shape)
    low = x < 10
    while low.any():
        result[low] -= S(1) / x[low]
        x[low] += S(1)
        low = x < 10
    z = 1.0 / (x * x).astype(np.float64)
    series = _DIGAMMA_A[0]
    for c in _DIGAMMA_A[1:]:
        series = series * z + c
    y = np.where(x < 1e17, z * series, 0.0)
    tail = result + _log(x) - (S(0.5) / x) - y
    return np.where(x == 10, result + 2.25175258906672110764, tail).astype(S)


def _log(x):
    """log in x's dtype, correctly rounded (as C's logf; numpy's float32 loops are not)."""
    return np.log(x.astype(np.float64)).astype(x.dtype)


def _pow(x, y):
    """x ** y in x's dtype, correctly rounded (as C's powf)."""
    return (x.astype(np.float64) ** np.asarray(y, np.float64)).astype(x.dtype)


_DIGAMMA_A = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
              -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
              8.33333333333333333333E-2)


def _beta_grad_alpha_small(x, alpha, beta):
    """torch's Taylor expansion of Beta(alpha, beta)'s gradient in alpha near x = 0 (in x's
    dtype)."""
    S = x.dtype.type
    factor = _digamma_one(alpha, S) - _digamma_one(alpha + beta, S) - _log(x)
    numer = np.ones_like(x)
    series = numer / alpha * (factor + S(1) / alpha)
    for i in range(1, 11):
        numer = numer * ((S(i) - beta) * x / S(i))
        denom = alpha + S(i)
        series = series + numer / denom * (factor + S(1) / denom)
    result = x * _pow(S(1) - x, -beta) * series
    return np.where(np.isnan(result), S(0), result)


def _beta_grad_beta_small(x, alpha, beta):
    """torch's Taylor expansion of Beta(alpha, beta)'s gradient in beta near x = 0."""
    S = x.dtype.type
    factor = _digamma_one(alpha + beta, S) - _digamma_one(beta, S)
    numer, betas, dbetas = np.ones_like(x), np.ones_like(x), np.zeros_like(x)
    series = factor / alpha
    for i in range(1, 9):
        numer = numer * (-x / S(i))
        dbetas = dbetas * (beta - S(i)) + betas
        betas = betas * (beta - S(i))
        series = series + numer / (alpha + S(i)) * (dbetas + factor * betas)
    result = -_pow(S(1) - x, S(1) - beta) * series
    return np.where(np.isnan(result), S(0), result)


def _beta_grad_alpha_mid(x, alpha, beta):
    """torch's saddle-point expansion of Beta(alpha, beta)'s gradient in alpha when both are
    large (float64)."""
    total = alpha + beta
    mean = alpha / total
    std = np.sqrt(alpha * beta / (total + 1)) / total
    poly = 47 * x * (beta * beta) * (beta * beta) + alpha * (
        (43 + 20 * (16 + 27 * beta) * x) * (beta * beta) * beta + alpha * (
            3 * (59 + 180 * beta - 90 * x) * (beta * beta) + alpha * (
                (453 + 1620 * beta * (1 - x) - 455 * x) * beta + alpha * (
                    8 * (1 - x) * (135 * beta - 11)))))
    prefactor_num = (1 + 12 * alpha) * (1 + 12 * beta) / (total * total)
    prefactor_den = 12960 * alpha * alpha * alpha * beta * beta * (1 + 12 * total)
    at_mean = prefactor_num / (1 - x) * poly / prefactor_den
    prefactor = -x / np.sqrt(2 * alpha * beta / total)
    stirling = (1 + 1 / (12 * alpha) + 1 / (288 * alpha * alpha)) \
        * (1 + 1 / (12 * beta) + 1 / (288 * beta * beta)) \
        / (1 + 1 / (12 * total) + 1 / (288 * total * total))
    term1_num = 2 * (alpha * alpha) * (x - 1) + alpha * beta * (x - 1) - x * (beta * beta)
    axbx = alpha * (x - 1) + beta * x
    term1_den = np.sqrt(2 * alpha / beta) * total ** 1.5 * axbx * axbx
    term1 = term1_num / term1_den
    term2 = 0.5 * np.log(alpha / (total * x))
    term3 = np.sqrt(8 * alpha * beta / total) / (beta * x + alpha * (x - 1))
    term4 = (beta * np.log(beta / (total * (1 - x))) + alpha * np.log(alpha / (total * x))) ** -1.5
    term1234 = term1 + term2 * (term3 + np.where(x < mean, term4, -term4))
    near = (mean - 0.1 * std <= x) & (x <= mean + 0.1 * std)
    return np.where(near, at_mean, stirling * prefactor * term1234)


# dirichlet_grad_one's coefficients of its rational correction (torch's): [p or q][u][a][b]
_DIRICHLET_GRAD_C = (
    (((1.003668233, -0.01061107488, -0.0657888334, 0.01201642863),
      (0.6336835991, -0.3557432599, 0.05486251648, -0.001465281033),
      (-0.03276231906, 0.004474107445, 0.002429354597, -0.0001557569013)),
     ((0.221950385, -0.3187676331, 0.01799915743, 0.01074823814),
      (-0.2951249643, 0.06219954479, 0.01535556598, 0.001550077057),
      (0.02155310298, 0.004170831599, 0.001292462449, 6.976601077e-05)),
     ((-0.05980841433, 0.008441916499, 0.01085618172, 0.002319392565),
      (0.02911413504, 0.01400243777, -0.002721828457, 0.000751041181),
      (0.005900514878, -0.001936558688, -9.495446725e-06, 5.385558597e-05))),
    (((1, -0.02924021934, -0.04438342661, 0.007285809825),
      (0.6357567472, -0.3473456711, 0.05454656494, -0.002407477521),
      (-0.03301322327, 0.004845219414, 0.00231480583, -0.0002307248149)),
     ((0.5925320577, -0.1757678135, 0.01505928619, 0.000564515273),
      (0.1014815858, -0.06589186703, 0.01272886114, -0.0007316646956),
      (-0.007258481865, 0.001096195486, 0.0003934994223, -4.12701925e-05)),
     ((0.06469649321, -0.0236701437, 0.002902096474, -5.896963079e-05),
      (0.001925008108, -0.002869809258, 0.0008000589141, -6.063713228e-05),
      (-0.0003477407336, 6.959756487e-05, 1.097287507e-05, -1.650964693e-06))),
)


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
        # NOTE: under create_graph the factor is torch's StandardGammaGradBackward0 (an edge
        # to alpha, none to x), whose backward raises: a second derivative through a draw
        # is not implemented in torch, so it must not silently come out without this term
        dx = nodiff.result("StandardGammaGradBackward0", dx, alpha.dtype, (alpha,), (
            NotImplementedError, "the derivative for '_standard_gamma_grad' is not implemented."))
        return grad * dx, None


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
