"""Categorical(probs=None, logits=None): one of K categories; the parameters are normalized
over the last dimension (probs to sum 1, logits by logsumexp), as torch."""
import math

from . import constraints
from .distribution import Distribution
from .utils import _finfo, lazy_property, logits_to_probs, probs_to_logits
from ..composed import broadcast_tensors
from ..creation import arange, full, tensor
from ..dtypes import int64
from ..grad_mode import switched_grad
from ..random import multinomial
from ..tensor import Size

__all__ = ["Categorical"]


class Categorical(Distribution):
    """A categorical distribution over {0, ..., K-1}, parameterized by `probs` (non-negative,
    normalized to sum 1 over the last dimension) or `logits` (unnormalized log
    probabilities), but not both.  The last dimension indexes the categories; the others
    are the batch."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.size()[-1]
        batch_shape = self._param.size()[:-1] if self._param.ndimension() > 1 else Size()
        super().__init__(Size(batch_shape), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = Size(batch_shape)
        param_shape = Size(tuple(batch_shape) + (self._num_events,))
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(param_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(param_shape)
            new._param = new.logits
        new._num_events = self._num_events
        super(Categorical, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        """Normalized log probabilities, from probs when built with probs."""
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        """Normalized probabilities, from logits when built with logits."""
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        """The shape of the parameter the distribution was built with."""
        return self._param.size()

    @property
    def mean(self):
        return full(tuple(self._extended_shape()), math.nan, dtype=self.probs.dtype)

    @property
    def mode(self):
        return self.probs.argmax(dim=-1)

    @property
    def variance(self):
        return full(tuple(self._extended_shape()), math.nan, dtype=self.probs.dtype)

    def sample(self, sample_shape=Size()):
        sample_shape = Size(sample_shape)
        n = 1
        for s in sample_shape:
            n *= s
        with switched_grad(False):
            # as torch: multinomial with replacement, n draws per row of probabilities
            probs_2d = self.probs.detach().reshape(-1, self._num_events)
            samples_2d = multinomial(probs_2d, n, True).numpy().T
            return tensor(samples_2d.reshape(tuple(self._extended_shape(sample_shape))),
                          dtype=int64)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = broadcast_tensors(value, self.logits)
        value = value[..., :1]
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self):
        min_real = float(_finfo(self.logits.dtype).min)
        logits = self.logits.clamp(min=min_real)
        p_log_p = logits * self.probs
        return -p_log_p.sum(-1)

    def enumerate_support(self, expand=True):
        values = arange(self._num_events, dtype=int64)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values
