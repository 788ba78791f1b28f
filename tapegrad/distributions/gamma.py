"""Gamma(concentration, rate), with a reparameterized rsample: the standard gamma draw
(tapegrad._standard_gamma: torch's sampler, torch's values for the same seed) is a node
whose gradient with respect to the concentration is the implicit one (tapegrad/samplers.py).
"""
import numbers

from . import constraints
from .exp_family import ExponentialFamily
from .utils import _finfo, broadcast_all
from ..creation import as_tensor
from ..samplers import _StandardGamma, _standard_gamma_grad  # noqa: F401  (re-exported)
from ..special import gammainc, xlogy
from ..tensor import Size

__all__ = ["Gamma"]


class Gamma(ExponentialFamily):
    """A Gamma distribution with shape `concentration` and inverse scale `rate` (numbers
    or tensors broadcast together).  rsample is reparameterized (the implicit gradient of
    the standard gamma draw); cdf is the regularized incomplete gamma function, which,
    as torch's, has no gradient in the concentration (NotImplementedError on backward)."""
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
        if self._validate_args:
            self._validate_sample(value)
        return gammainc(self.concentration, self.rate * value)
