"""NegativeBinomial(total_count, probs=None, logits=None): the number of successes before
total_count failures; samples drawn as torch draws them: Poisson(Gamma(total_count,
exp(-logits))), with torch's samplers (bit for bit: tapegrad/gamma_draws.py)."""
from . import constraints
from .distribution import Distribution
from .utils import (count_and_odds, expand_count_and_odds, lazy_property, logits_to_probs,
                    probs_to_logits)
from .gamma import Gamma
from ..grad_mode import switched_grad
from ..nn.functional import logsigmoid
from ..samplers import poisson
from ..tensor import Size

__all__ = ["NegativeBinomial"]


class NegativeBinomial(Distribution):
    """A negative binomial distribution: the number of successful Bernoulli trials (success
    probability `probs`, or log-odds `logits`) before `total_count` failures."""
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        batch_shape = count_and_odds(self, total_count, probs, logits)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(NegativeBinomial, _instance)
        batch_shape = Size(batch_shape)
        expand_count_and_odds(self, new, batch_shape)
        super(NegativeBinomial, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / (-self.logits).sigmoid()

    @lazy_property
    def logits(self):
        """log(p / (1 - p)), from probs when built with probs."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        """sigmoid(logits), from logits when built with logits."""
        return logits_to_probs(self.logits, is_binary=True)

    @lazy_property
    def _gamma(self):
        # not validated: total_count may be zero (as torch)
        return Gamma(concentration=self.total_count, rate=(-self.logits).exp(),
                     validate_args=False)

    @property
    def param_shape(self):
        """The shape of the parameter the distribution was built with."""
        return self._param.size()

    def sample(self, sample_shape=Size()):
        # a Poisson draw whose rate is Gamma(total_count, rate=exp(-logits)), as torch
        with switched_grad(False):
            rate = self._gamma.sample(sample_shape=sample_shape)
            return poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_unnormalized_prob = (self.total_count * logsigmoid(-self.logits)
                                 + value * logsigmoid(self.logits))
        log_normalization = (-(self.total_count + value).lgamma() + (1.0 + value).lgamma()
                             + self.total_count.lgamma())
        # the case total_count == 0 and value == 0 has probability 1: its normalization is 0
        log_normalization = log_normalization.masked_fill(self.total_count + value == 0.0,
                                                          0.0)
        return log_unnormalized_prob - log_normalization
