"""cov and corrcoef, composed as torch's Correlation.cpp composes them (sums, divisions, mm,
squeeze; corrcoef's sqrt of the diagonal and clip), so results, dtypes, gradients, grad_fn
chains, warnings and errors are torch's."""
import warnings

from . import dtypes as D
from .creation import tensor
from .tensor import _int_arg, tensor_methods

__all__ = ["cov", "corrcoef"]

_DOF_WARNING = ("cov(): degrees of freedom is <= 0. Correction should be strictly less than "
                "the number of observations.")


def _check_weights(name, w, integral, observations):
    if w.dim() > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                           f"{name} with {w.dim()} dimensions")
    if integral != (w.dtype in (D.int32, D.int64)):
        kind = "integral" if integral else "floating point"
        raise RuntimeError(f"cov(): expected {name} to have {kind} dtype but got {name} with "
                           f"{w.dtype.legacy} dtype")
    if w.numel() != observations:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                           f"observations in the input but got {w.numel()} != {observations}")
    if observations and not bool(w.detach().min() >= 0):
        raise RuntimeError(f"cov(): {name} cannot be negative")


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in input's rows (observations in columns),
    weighted by frequency (fweights) and importance (aweights); `correction` 1 is Bessel's."""
    correction = _int_arg(correction, "cov", "correction", None).__index__()
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.dim()} dimensions")
    if input.dtype is D.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = input.view(1, -1) if input.dim() < 2 else input
    n = x.shape[1]
    w = None
    if fweights is not None:
        _check_weights("fweights", fweights, True, n)
        w = fweights
    if aweights is not None:
        _check_weights("aweights", aweights, False, n)
        w = aweights if w is None else w * aweights
    w_sum = tensor(n, dtype=D.int64) if w is None else w.sum()
    if w is not None and not bool(w_sum.detach() != 0):
        raise RuntimeError("cov(): weights sum to zero, can't be normalized")
    avg = (x if w is None else x * w).sum(1) / w_sum
    if w is None:
        norm = tensor(n - correction, dtype=D.int64)
    elif correction == 0:
        norm = w_sum
    elif aweights is None:
        norm = w_sum - correction
    elif fweights is None and n == 1 and correction == 1:
        norm = tensor(0, dtype=D.int64)   # torch's corner case (numpy's result)
    else:
        norm = w_sum - correction * (w * aweights).sum() / w_sum
    if bool(norm.detach() <= 0):
        warnings.warn(_DOF_WARNING, UserWarning, stacklevel=2)
        norm.zero_()
    if n == 1 and (fweights is None) != (aweights is None):
        # torch's corner case: one observation, one kind of weights: input - avg is zero
        x.zero_()
        if not x.dtype.is_floating_point:
            x = x.to(D.float32)
    else:
        x = x - avg.unsqueeze(1)
    c = x.mm((x if w is None else x * w).t())
    return c.true_divide(norm).squeeze()


def corrcoef(input):
    """The Pearson correlation coefficients of input's rows: cov normalized by the standard
    deviations, clipped to [-1, 1]; for a single variable c / c (1, or nan)."""
    if input.dim() > 2:
        raise RuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but "
                           f"got an input with {input.dim()} dimensions")
    c = cov(input)
    if c.dim() == 0:
        return c / c
    std = c.diagonal().sqrt()
    c = c / std.view(-1, 1)
    c = c / std.view(1, -1)
    return c.clip(-1, 1)


@tensor_methods
class _CorrelationMethods:
    """Tensor.cov and Tensor.corrcoef."""

    def cov(self, *, correction=1, fweights=None, aweights=None):
        return cov(self, correction=correction, fweights=fweights, aweights=aweights)

    def corrcoef(self):
        return corrcoef(self)

