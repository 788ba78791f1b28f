"""`ExponentialFamily`: distributions whose density is p(x; θ) = exp(<t(x), θ> - F(θ) + k(x));
the entropy (and the KL between two members of one family) from the log normalizer F by
autograd (Bregman divergence), as torch."""
from .distribution import Distribution
from ..autograd import grad

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """Base class of exponential-family distributions: subclasses give `_natural_params`,
    `_log_normalizer` and `_mean_carrier_measure`; `entropy` follows from them."""

    @property
    def _natural_params(self):
        """The natural parameters θ (a tuple of tensors)."""
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        """The log normalizer F(θ)."""
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        """The expected carrier measure E[k(x)]."""
        raise NotImplementedError

    def entropy(self):
        """The entropy F(θ) - <θ, ∇F(θ)> - E[k(x)], by autograd of the log normalizer."""
        result = -self._mean_carrier_measure
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        lg_normal = self._log_normalizer(*nparams)
        gradients = grad(lg_normal.sum(), nparams, create_graph=True)
        result = result + lg_normal
        for p, g in zip(nparams, gradients):
            result = result - (p * g).reshape(tuple(self._batch_shape) + (-1,)).sum(-1)
        return result
