"""Dirichlet(concentration): distributions on the simplex.  rsample draws as torch's
`_sample_dirichlet` (tapegrad/gamma_draws.py: torch's values for the same seed), which
normalizes independent Gamma(concentration_i, 1) draws; its gradient is torch's implicit one
(samplers._dirichlet_grad: torch's approximations of it)."""
from . import constraints
from .exp_family import ExponentialFamily
from ..creation import tensor
from ..gamma_draws import dirichlet as _dirichlet_draw
from ..nn.functional import one_hot
from ..ndops import where
from ..pyfunc import Function, once_differentiable
from ..random import generator_of
from ..samplers import _dirichlet_grad
from ..special import xlogy
from ..tensor import Size

__all__ = ["Dirichlet"]


class _Dirichlet(Function):
    """torch's Dirichlet draw x, differentiable in the concentration (its node torch's
    _DirichletBackward, once differentiable):
    dx_i / dalpha_j = D_j (delta_ij - x_i), D_j = _dirichlet_grad(x_j, alpha_j, sum(alpha))
    (x_j's Beta marginal differentiated implicitly; the other components shrink in
    proportion)."""

    @staticmethod
    def forward(ctx, concentration):
        gen = generator_of(None, "_sample_dirichlet")
        alpha = concentration.detach().numpy()
        out = tensor(_dirichlet_draw(gen._engine, alpha), dtype=concentration.dtype)
        if concentration.requires_grad:
            # (float64 from the draw in its dtype, as torch's backward reads it; then the dtype)
            scale = _dirichlet_grad(out.numpy(), alpha, alpha.sum(-1, keepdims=True))
            ctx.save_for_backward(out, tensor(scale, dtype=concentration.dtype))
        return out

    @staticmethod
    @once_differentiable     # (scale is a constant here: torch's backward is once too)
    def backward(ctx, grad):
        x, scale = ctx.saved_tensors
        return (grad - (grad * x).sum(-1, keepdim=True)) * scale


class Dirichlet(ExponentialFamily):
    """A Dirichlet distribution with `concentration` (at least one-dimensional, positive;
    the last dimension is the event)."""
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        batch_shape = Size(concentration.shape[:-1])
        event_shape = Size(concentration.shape[-1:])
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = Size(batch_shape)
        new.concentration = self.concentration.expand(tuple(batch_shape)
                                                      + tuple(self.event_shape))
        super(Dirichlet, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        return _Dirichlet.apply(self.concentration.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (xlogy(self.concentration - 1.0, value).sum(-1)
                + self.concentration.sum(-1).lgamma() - self.concentration.lgamma().sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, True)

    @property
    def mode(self):
        concentrationm1 = (self.concentration - 1).clamp(min=0.0)
        mode = concentrationm1 / concentrationm1.sum(-1, True)
        # where every concentration is below 1 the mode is a vertex (torch's one_hot)
        mask = (self.concentration < 1).all(dim=-1)
        vertex = one_hot(mode.argmax(dim=-1), concentrationm1.shape[-1]).to(mode.dtype)
        return where(mask.unsqueeze(-1), vertex, mode)

    @property
    def variance(self):
        con0 = self.concentration.sum(-1, True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self):
        k = self.concentration.size(-1)
        a0 = self.concentration.sum(-1)
        return (self.concentration.lgamma().sum(-1) - a0.lgamma() - (k - a0) * a0.digamma()
                - ((self.concentration - 1.0) * self.concentration.digamma()).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return x.lgamma().sum(-1) - x.sum(-1).lgamma()
