"""Multinomial(total_count=1, probs=None, logits=None): the counts of total_count draws
from a Categorical; samples drawn as torch draws them (total_count Categorical draws,
torch.multinomial with replacement, counted)."""
import math

import numpy as np

from . import constraints
from .binomial import Binomial
from .categorical import Categorical
from .distribution import Distribution
from .utils import broadcast_all
from ..creation import tensor
from ..ndops import where
from ..tensor import Size

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    """A multinomial distribution: the counts per category of `total_count` (an int)
    independent draws from Categorical(probs=..., logits=...).  sample() needs only
    total_count; log_prob does not use it (any total count can be scored)."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        batch_shape = self._categorical.batch_shape
        event_shape = Size(self._categorical.param_shape[-1:])
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = Size(batch_shape)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        super(Multinomial, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def logits(self):
        """The normalized log probabilities."""
        return self._categorical.logits

    @property
    def probs(self):
        """The normalized probabilities."""
        return self._categorical.probs

    @property
    def param_shape(self):
        """The shape of the parameter the distribution was built with."""
        return self._categorical.param_shape

    def sample(self, sample_shape=Size()):
        sample_shape = Size(sample_shape)
        shape = tuple(self._extended_shape(sample_shape))
        # (total_count, *sample_shape, *batch_shape) category indices, as torch, counted
        samples = self._categorical.sample(Size((self.total_count,)) + sample_shape).numpy()
        k = shape[-1]
        flat = samples.reshape(self.total_count, -1)
        counts = np.zeros((flat.shape[1], k), np.int64)
        for row in flat:
            counts[np.arange(flat.shape[1]), row] += 1
        return tensor(counts.reshape(shape), dtype=self.probs.dtype)

    def entropy(self):
        n = tensor(self.total_count)
        cat_entropy = self._categorical.entropy()
        term1 = n * cat_entropy - (n + 1).lgamma()
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = self._binomial.log_prob(support).exp()
        weights = (support + 1).lgamma()
        return term1 + (binomial_probs * weights).sum([0, -1])

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = (value.sum(-1) + 1).lgamma()
        log_factorial_xs = (value + 1).lgamma().sum(-1)
        # torch zeroes these entries in place: 0 * -inf would be nan
        logits = where((value == 0) & (logits == -math.inf), 0.0, logits)
        log_powers = (logits * value).sum(-1)
        return log_factorial_n - log_factorial_xs + log_powers
