"""Gamma(concentration, rate), with a reparameterized rsample: the standard gamma draw
(numpy's sampler, tapegrad's generator) is a node whose gradient with respect to the
concentration is the implicit one, dx/dalpha = -(dP/dalpha)(alpha, x) / p(x; alpha)
(P the regularized incomplete gamma function), from its power series."""
import numbers

import numpy as np

from . import constraints
from .exp_family import ExponentialFamily
from .utils import _finfo, broadcast_all
from ..creation import as_tensor, tensor
from ..pyfunc import Function
from ..random import generator_of
from ..special import xlogy
from ..tensor import Size
from ..vocab import NUMPY

__all__ = ["Gamma"]


def _standard_gamma_grad(alpha, x):
    """dx/dalpha for x a standard Gamma(alpha) draw at a fixed quantile.

    P(alpha, x) = sum_n x^(alpha+n) e^-x / Gamma(alpha+n+1), so
    dP/dalpha = sum_n [x^(alpha+n) e^-x / Gamma(alpha+n+1)] (log x - psi(alpha+n+1)); divided
    by the density x^(alpha-1) e^-x / Gamma(alpha) the n-th bracket is
    r_n = x^(n+1) / (alpha (alpha+1) ... (alpha+n)), a running product, and
    psi(alpha+n+1) = psi(alpha) + sum_{k<=n} 1 / (alpha+k).  The sum runs until the terms are
    negligible (past n = x - alpha by 12 sqrt(x) + 40)."""
    alpha, x = np.broadcast_arrays(np.asarray(alpha, np.float64), np.asarray(x, np.float64))
    if alpha.size == 0:
        return np.zeros(alpha.shape)
    logx = np.log(x)
    psi = NUMPY["digamma"](alpha)    # (the op table's numpy face of digamma)
    ratio = np.ones(alpha.shape)
    total = np.zeros(alpha.shape)
    for n in range(int(np.max(np.maximum(x - alpha, 0) + 12 * np.sqrt(x) + 40))):
        ratio = ratio * x / (alpha + n)
        psi = psi + 1 / (alpha + n)
        total += ratio * (logx - psi)
    return -total


class _StandardGamma(Function):
    """A standard Gamma(alpha) draw, differentiable in alpha (StandardGammaBackward0)."""

    @staticmethod
    def forward(ctx, alpha):
        a = np.asarray(alpha.detach().numpy())
        x = np.asarray(generator_of(None, "_standard_gamma")._numpy().standard_gamma(a), a.dtype)
        out = tensor(x, dtype=alpha.dtype)
        ctx.save_for_backward(alpha, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        dx = _standard_gamma_grad(alpha.detach().numpy(), x.detach().numpy())
        return grad * tensor(dx, dtype=alpha.dtype)


_StandardGamma._backward_cls.__name__ = "StandardGammaBackward0"
_StandardGamma._backward_cls.name = lambda self: "StandardGammaBackward0"


class Gamma(ExponentialFamily):
    """A Gamma distribution with shape `concentration` and inverse scale `rate` (numbers
    or tensors broadcast together).  rsample is reparameterized (the implicit gradient of
    the standard gamma draw); cdf needs the incomplete gamma function, which tapegrad
    does not have (NotImplementedError, from tapegrad.special.gammainc)."""
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        if isinstance(concentration, numbers.Number) and isinstance(rate, numbers.Number):
            batch_shape = Size()
        else:
            batch_shape = self.concentration.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gamma, _instance)
        batch_shape = Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        super(Gamma, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        value = _StandardGamma.apply(self.concentration.expand(shape)) / self.rate.expand(shape)
        # torch clamps the value (not the graph) away from 0
        value.data.clamp_(min=float(_finfo(value.dtype).tiny))
        return value

    def log_prob(self, value):
        value = as_tensor(value, dtype=self.rate.dtype)
        if self._validate_args:
            self._validate_sample(value)
        return (xlogy(self.concentration, self.rate) + xlogy(self.concentration - 1, value)
                - self.rate * value - self.concentration.lgamma())

    def entropy(self):
        return (self.concentration - self.rate.log() + self.concentration.lgamma()
                + (1.0 - self.concentration) * self.concentration.digamma())

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return (x + 1).lgamma() + (x + 1) * (-y.reciprocal()).log()

    def cdf(self, value):
        raise NotImplementedError(
            "tapegrad: Gamma.cdf needs the regularized incomplete gamma function "
            "(torch.special.gammainc), which tapegrad does not implement")
