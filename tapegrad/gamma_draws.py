"""torch's CPU samplers built on rejection loops, bit for bit, on top of
`tapegrad.mt19937.MT19937`: `standard_gamma` (torch._standard_gamma), `poisson`
(torch.poisson), `binomial` (torch.binomial) and `dirichlet` (torch._sample_dirichlet).

Each function consumes the engine exactly as torch 2.13's CPU kernel does
(aten/src/ATen/native/Distributions.cpp `_s_gamma_cpu`, `_s_poisson_cpu`, `_s_binomial_cpu`,
`_s_dirichlet_cpu`; Distributions.h `sample_gamma`, `sample_binomial`): one element after the
other in C order of the (broadcast) output, each drawing as many values as its rejection loop
needs, so that afterwards `engine.state_bytes()` equals torch's `get_rng_state()`.

* the uniforms are `at::uniform_real_distribution<double>`: one random64() each, 53 bits;
* the normals (gamma) are `at::normal_distribution<double>`: the engine's cached double normal
  if there is one, else Box-Muller from two uniforms, the second value cached;
* the arithmetic follows the C++ types: `sample_gamma<float>` computes `1.0f / alpha`,
  `alpha + 1` and `d = alpha - 1.0f/3.0f` in float32, the rest in double (float literals such
  as 0.0331f and 1/3 widened from float); `sample_binomial<float>` computes count * prob,
  1 - prob, the BTRS standard deviation (sqrtf) and m in float32 (r = prob / (1 - prob) in
  double) and calls log1pf in the inversion.  Distributions.cpp is compiled without FMA, so nothing is fused.
* the C library's functions are called where torch calls them: log, log1p, exp, pow, lgamma and
  log1pf, libm's.

The per-value loops, and the mt19937 they draw from, run in Numba (tapegrad/_draw_loops.py,
compiled and cached on the first draw; `import tapegrad` does not load numba) on the engine's
state taken out of its `random.Random` and put back after the call, with the cached double
normal; see tests/test_gamma_draws.py for timings.

Not reproduced: float16/bfloat16 (torch.poisson takes them; tapegrad has no such dtypes), and
a NaN binomial count (torch's loop never ends; here it raises).  Special values otherwise
follow C: NaN and negative concentrations give the smallest normal, an infinite Poisson rate
INT64_MIN, an infinite binomial count inf (NaN above prob 0.5).
"""

import numpy as np

from .float_sums import sum_last_dim
from .mt19937 import loops as _loops

__all__ = ["standard_gamma", "poisson", "binomial", "dirichlet", "sum_last_dim"]


class _LoopState:
    """The engine's words and cached double normal, out for one call of a loop (`with`) and
    put back afterwards, also when the call raises."""
    __slots__ = ("engine", "mt", "cached_normal")

    def __init__(self, engine):
        self.engine = engine

    def __enter__(self):
        cached = self.engine.next_double_normal
        self.mt = self.engine.loop_state()
        self.cached_normal = np.array([0.0, 0.0] if cached is None else [1.0, cached])
        return self

    def __exit__(self, *exc):
        self.engine.set_loop_state(self.mt)
        self.engine.next_double_normal = (float(self.cached_normal[1])
                                          if self.cached_normal[0] else None)
        return False


def _flat64(arr):
    return np.ascontiguousarray(arr, np.float64).reshape(-1)


def _check_float(arr, name):
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: float32 or float64 values expected, got {arr.dtype}")


# ---- gamma ---------------------------------------------------------------------------------------
def standard_gamma(engine, alpha):
    """torch._standard_gamma(alpha) on CPU (alpha float32 or float64, any shape): a
    Gamma(alpha, 1) draw per element in C order, clamped below at the dtype's smallest normal
    number; returns alpha's dtype and shape."""
    alpha = np.asarray(alpha)
    _check_float(alpha, "standard_gamma")
    g = np.empty(alpha.size, np.float64)
    with _LoopState(engine) as st:
        _loops().gamma_fill(_flat64(alpha), alpha.dtype == np.float32, g, st.mt,
                            st.cached_normal)
    return _clamp_below(g, alpha.dtype).reshape(alpha.shape)


def _clamp_below(g, dtype):
    """std::max(smallest normal, (scalar_t) g) for double draws g: NaN gives the smallest
    normal too."""
    tiny = np.finfo(dtype).tiny
    with np.errstate(all="ignore"):
        x = g.astype(dtype)
        return np.where(tiny < x, x, tiny)


# ---- dirichlet -----------------------------------------------------------------------------------
def dirichlet(engine, alpha):
    """torch._sample_dirichlet(alpha) on CPU (alpha float32 or float64, at least 1-d): double
    gamma draws (alpha widened to double, each clamped at DBL_MIN) in C order, divided by
    their sum over the last dimension (torch's sum, float_sums.sum_last_dim), cast to the
    dtype and clamped to [smallest normal, largest value below 1]."""
    alpha = np.asarray(alpha)
    _check_float(alpha, "dirichlet")
    g = np.empty(alpha.size, np.float64)
    with _LoopState(engine) as st:      # (double gammas, whatever alpha's dtype)
        _loops().gamma_fill(_flat64(alpha), False, g, st.mt, st.cached_normal)
    g = _clamp_below(g, np.float64).reshape(alpha.shape)
    total = sum_last_dim(g) if alpha.ndim else g
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (g / total[..., None] if alpha.ndim else g / total).astype(alpha.dtype)
    dt = alpha.dtype.type
    out = np.minimum(np.nextafter(dt(1), dt(0)), np.maximum(np.finfo(alpha.dtype).tiny, ratio))
    return out


# ---- poisson -------------------------------------------------------------------------------------
def poisson(engine, rates):
    """torch.poisson(rates) on CPU (float32 or float64 rates): a count per element, in C
    order, returned in the rates' dtype and shape."""
    rates = np.asarray(rates)
    _check_float(rates, "poisson")
    out = np.empty(rates.size, np.float64)
    with _LoopState(engine) as st:
        bad = _loops().poisson_fill(_flat64(rates), out, st.mt)
    if bad >= 0:        # torch's check, raised after the draws of the rates before it
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return out.astype(rates.dtype).reshape(rates.shape)


# ---- binomial ------------------------------------------------------------------------------------
def binomial(engine, count, prob):
    """torch.binomial(count, prob) on CPU: count and prob float arrays of one dtype
    (float32 or float64), broadcast together; a draw per element of the broadcast shape in C
    order, returned in that dtype."""
    count, prob = np.asarray(count), np.asarray(prob)
    _check_float(count, "binomial")
    if prob.dtype != count.dtype:
        raise TypeError("binomial: count and prob must have the same dtype")
    count, prob = np.broadcast_arrays(count, prob)
    if np.isnan(count).any():
        raise RuntimeError("binomial: a NaN count (torch's sampler would not terminate)")
    out = np.empty(count.size, np.float64)
    with _LoopState(engine) as st:
        _loops().binomial_fill(_flat64(count), _flat64(prob), count.dtype == np.float32, out,
                               st.mt)
    return out.astype(count.dtype).reshape(count.shape)
