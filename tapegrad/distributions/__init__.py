"""tapegrad.distributions: torch.distributions.

Distribution (distribution.py) and ExponentialFamily (exp_family.py) are the bases; one
module per family (normal, uniform, bernoulli, continuous_bernoulli, binomial,
multinomial, negative_binomial, categorical, exponential, gamma, chi2, beta, dirichlet,
studentT, fishersnedecor, laplace, cauchy, poisson, geometric, independent,
multivariate_normal, lowrank_multivariate_normal, one_hot_categorical,
mixture_same_family); transforms.py and transformed_distribution.py (Y = f(X): log_normal,
half_normal, half_cauchy, gumbel, pareto, weibull, logistic_normal, kumaraswamy,
inverse_gamma, relaxed_bernoulli, relaxed_categorical are such); generalized_pareto,
von_mises, wishart, lkj_cholesky as torch's; kl.py the KL registry;
constraints.py the parameter and support constraints; constraint_registry.py biject_to /
transform_to.  Imports flow one way: constraints, utils <- distribution <- exp_family,
transforms <- the families <- kl.  Parameters are tapegrad tensors, so log_prob, cdf,
entropy, kl_divergence and rsample (pathwise: loc + scale * eps, eps drawn without
gradient; Gamma's through the implicit gradient of its draw, Dirichlet's and Beta's through
normalized Gamma draws) carry gradients to them.  Samples come from tapegrad's generator,
which reproduces torch's CPU one: for the same seed, sample and rsample give torch's values
in every family.  rsample's gradients are torch's too, but for the families drawn through
Gamma (Gamma, Chi2, StudentT, FisherSnedecor, InverseGamma: the exact implicit gradient,
where torch's approximation is ~1e-4 off) and Dirichlet / Beta (per-draw values differ from
torch's implicit Dirichlet gradient; their expectation is the same).  Gamma.cdf (so Chi2's and
InverseGamma's) is the regularized incomplete gamma function (special.gammainc), without a
gradient in the concentration, as torch."""
from . import constraints
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .cauchy import Cauchy
from .chi2 import Chi2
from .constraint_registry import biject_to, transform_to
from .continuous_bernoulli import ContinuousBernoulli
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .exponential import Exponential
from .fishersnedecor import FisherSnedecor
from .gamma import Gamma
from .generalized_pareto import GeneralizedPareto
from .geometric import Geometric
from .gumbel import Gumbel
from .half_cauchy import HalfCauchy
from .half_normal import HalfNormal
from .independent import Independent
from .inverse_gamma import InverseGamma
from .kl import kl_divergence, register_kl
from .kumaraswamy import Kumaraswamy
from .laplace import Laplace
from .lkj_cholesky import LKJCholesky
from .log_normal import LogNormal
from .logistic_normal import LogisticNormal
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .mixture_same_family import MixtureSameFamily
from .multinomial import Multinomial
from .multivariate_normal import MultivariateNormal
from .negative_binomial import NegativeBinomial
from .normal import Normal
from .one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .pareto import Pareto
from .poisson import Poisson
from .relaxed_bernoulli import LogitRelaxedBernoulli, RelaxedBernoulli
from .relaxed_categorical import ExpRelaxedCategorical, RelaxedOneHotCategorical
from .studentT import StudentT
from .transformed_distribution import TransformedDistribution
from . import transforms
from .transforms import (AbsTransform, AffineTransform, CatTransform, ComposeTransform,
                         CorrCholeskyTransform, CumulativeDistributionTransform,
                         ExpTransform, IndependentTransform, LowerCholeskyTransform,
                         PositiveDefiniteTransform, PowerTransform, ReshapeTransform,
                         SigmoidTransform, SoftmaxTransform, SoftplusTransform,
                         StackTransform, StickBreakingTransform, TanhTransform, Transform,
                         identity_transform)
from .uniform import Uniform
from .von_mises import VonMises
from .weibull import Weibull
from .wishart import Wishart

__all__ = ["Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "ContinuousBernoulli",
           "Dirichlet", "Distribution", "Exponential", "ExponentialFamily", "FisherSnedecor",
           "Gamma", "GeneralizedPareto", "Geometric", "Gumbel", "HalfCauchy", "HalfNormal", "Independent",
           "InverseGamma", "Kumaraswamy", "LKJCholesky", "Laplace", "LogNormal", "LogisticNormal",
           "LowRankMultivariateNormal", "MixtureSameFamily", "Multinomial", "MultivariateNormal",
           "NegativeBinomial", "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough",
           "Pareto", "Poisson", "RelaxedBernoulli", "RelaxedOneHotCategorical", "StudentT",
           "TransformedDistribution", "Uniform", "VonMises", "Weibull", "Wishart", "kl_divergence", "register_kl",
           "biject_to", "transform_to",
           # the transforms, as torch.distributions
           "AbsTransform", "AffineTransform", "CatTransform", "ComposeTransform",
           "CorrCholeskyTransform", "CumulativeDistributionTransform", "ExpTransform",
           "IndependentTransform", "LowerCholeskyTransform", "PositiveDefiniteTransform",
           "PowerTransform", "ReshapeTransform", "SigmoidTransform", "SoftmaxTransform",
           "SoftplusTransform", "StackTransform", "StickBreakingTransform", "TanhTransform",
           "Transform", "identity_transform"]
