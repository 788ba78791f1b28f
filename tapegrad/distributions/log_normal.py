"""LogNormal(loc, scale): exp of a Normal(loc, scale).  torch builds it as a
TransformedDistribution of its Normal under ExpTransform; tapegrad has no transforms, so this
is the same distribution written directly, with torch's formulas (log_prob = base log_prob
of log y minus log y; cdf through the base's cdf; samples exp of the base's)."""
from . import constraints
from .distribution import Distribution
from .normal import Normal
from ..grad_mode import no_grad
from ..tensor import Size

__all__ = ["LogNormal"]


class LogNormal(Distribution):
    """A log-normal distribution: X ~ Normal(loc, scale), Y = exp(X) ~ LogNormal(loc, scale).
    `base_dist` is the Normal; `loc` and `scale` are its parameters."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.base_dist = Normal(loc, scale, validate_args=validate_args)
        super().__init__(self.base_dist.batch_shape, Size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LogNormal, _instance)
        batch_shape = Size(batch_shape)
        new.base_dist = self.base_dist.expand(batch_shape)
        super(LogNormal, new).__init__(batch_shape, Size(), validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def loc(self):
        """The mean of log Y."""
        return self.base_dist.loc

    @property
    def scale(self):
        """The standard deviation of log Y."""
        return self.base_dist.scale

    @property
    def mean(self):
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale.square()).exp()

    @property
    def variance(self):
        scale_sq = self.scale.pow(2)
        return scale_sq.expm1() * (2 * self.loc + scale_sq).exp()

    def entropy(self):
        return self.base_dist.entropy() + self.loc

    def sample(self, sample_shape=Size()):
        with no_grad():
            return self.base_dist.sample(sample_shape).exp()

    def rsample(self, sample_shape=Size()):
        return self.base_dist.rsample(sample_shape).exp()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        x = value.log()
        # log |d exp(x) / dx| = x
        return (0.0 - x) + self.base_dist.log_prob(x)

    def cdf(self, value):
        value = value.log()
        if self._validate_args:
            self.base_dist._validate_sample(value)
        return self.base_dist.cdf(value)

    def icdf(self, value):
        return self.base_dist.icdf(value).exp()
