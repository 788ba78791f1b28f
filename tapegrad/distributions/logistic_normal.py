"""LogisticNormal(loc, scale): as torch, a TransformedDistribution of a Normal under the
stick-breaking transform onto the simplex."""
from . import constraints
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import StickBreakingTransform

__all__ = ["LogisticNormal"]


class LogisticNormal(TransformedDistribution):
    """A logistic-normal distribution on the simplex: X ~ Normal(loc, scale),
    Y = StickBreakingTransform()(X) (K - 1 parameters give K-vectors)."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        base_dist = Normal(loc, scale, validate_args=validate_args)
        if not base_dist.batch_shape:
            base_dist = base_dist.expand([1])
        super().__init__(base_dist, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LogisticNormal, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def loc(self):
        """The Normal's loc."""
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        """The Normal's scale."""
        return self.base_dist.base_dist.scale
