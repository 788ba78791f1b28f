"""torch.special, and the top-level functions and Tensor methods of the same ops
(`xlogy`, `sinc`, `logit`, `mvlgamma`).

Functions tapegrad has are the same ops under torch.special's names (`expit` is sigmoid,
`gammaln` lgamma, `psi` digamma, ...).  The cheap ones it lacked are op rows (xlogy, xlog1py,
entr, sinc, ndtri, log_ndtr, logit: formulas with torch's gradients) or a decomposition
(multigammaln); `ndtr` is torch's own composite (1 + erf(x / sqrt 2)) / 2.  The modified
Bessel functions of the first kind i0, i0e, i1, i1e are op rows on Cephes' Chebyshev series
(tapegrad/_special.py), and so is erfcx; zeta is Cephes' Hurwitz zeta (differentiable in q
only, as torch's); the orthogonal polynomials (Chebyshev, shifted Chebyshev, Hermite,
Laguerre, Legendre) are torch's recurrences, and the Bessel functions torch gives no
gradient (bessel_j0/j1/y0/y1, modified_bessel_i0/i1/k0/k1, scaled_modified_bessel_k0/k1,
spherical_bessel_j0) and airy_ai are Cephes' algorithms as torch's kernels evaluate them
(tapegrad/_bessel.py), all without a gradient or a graph, as in torch.
"""
import math
import types

import numpy as np

from . import decomps, decomps_math as DM, dtypes as D, errors, numpy_names, out_arg, _bessel, \
    _fastpath, _native_names
from .fpstate import quiet
from .grad_mode import TRANSFORMS
from .native_args import _copy, bind, given, MISSING, Overloads, overloads, parsed, renamed, \
    takes
from .ndops import _binary, float_operands, log_softmax as _log_softmax, logsumexp as _logsumexp
from .ndops import softmax as _softmax
from .ops import OPS
from .pyfunc import as_native_node, Function, should_compute_output
from .recording import stored32
from .tensor import _int_arg, Tensor, _tensor_operand, tensor_methods
from .views import KIND_OPS, stack as _stack
from .vocab import FUNCS


def _floating(x):
    return x if x._dtype.is_floating_point else x.to(D.get_default_dtype())


def _unary(name, doc):
    fast = getattr(_fastpath, "op_" + name)

    def f(input):
        _tensor_operand(name, input, 1, "input")
        return fast(_floating(input))
    f.__name__ = name
    f.__doc__ = doc
    return f


entr = _unary("entr", "-x log(x) elementwise (0 at 0, -inf below) (SpecialEntrBackward0).")
sinc = _unary("sinc", "sin(pi x) / (pi x), 1 at 0 (SincBackward0).")
ndtri = _unary("ndtri", "The inverse of ndtr: the standard normal quantile (SpecialNdtriBackward0).")
log_ndtr = _unary("log_ndtr", "log of the standard normal CDF, accurate in both tails "
                              "(SpecialLogNdtrBackward0).")
i0 = _unary("i0", "The modified Bessel function of the first kind of order 0 (I0Backward0).")
i0e = _unary("i0e", "exp(-|x|) i0(x) (SpecialI0EBackward0).")
erfcx = _unary("erfcx", "exp(x^2) erfc(x), without its overflow (SpecialErfcxBackward0).")
i1 = _unary("i1", "The modified Bessel function of the first kind of order 1 "
                  "(SpecialI1Backward0).")
i1e = _unary("i1e", "exp(-|x|) i1(x) (SpecialI1EBackward0).")


def _two(name, doc, fn="special_"):
    """torch.special.<name> (the top level's with fn="": the name its errors print)."""
    code = OPS[name].code
    forms = overloads(fn + name, False)   # (torch's forms: native_args's)

    def f(input, other):
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            raise forms.error((input, other), {})   # (torch's parser's list of the forms)
        return _binary(code, *float_operands(input, other))
    f.__name__ = name
    f.__doc__ = doc
    return f


_XLOGY_DOC = "x * log(y), 0 where x == 0 (unless y is nan) (XlogyBackward0)."
xlogy = _two("xlogy", _XLOGY_DOC)
xlog1py = _two("xlog1py", "x * log1p(y), 0 where x == 0 (unless y is nan) "
                          "(SpecialXlog1PyBackward0).")


def logit(input, eps=None):
    """log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given (LogitBackward0)."""
    _tensor_operand("logit", input, 1, "input")
    return _fastpath.op_logit(_floating(input), -1.0 if eps is None else float(eps))


def ndtr(input):
    """The standard normal CDF, torch's composite (1 + erf(x / sqrt 2)) / 2, whose C++ ops
    on numbers are the Scalar overloads: MulBackward1(AddBackward1(ErfBackward0(
    MulBackward1)))."""
    _tensor_operand("ndtr", input, 1, "input")
    x = _floating(input)
    # (a one-element float32 x: each step rounded to float32, as torch's ops store it, the
    # number too: 1 + erf(x / sqrt 2) computed in double was ~1e-8 where torch's is 0)
    c = _SQRT1_2_F32 if x.dtype is D.float32 else 0.7071067811865476
    if not x._recorded:
        return (stored32(stored32(x * c).erf()) + 1.0) * 0.5
    y = stored32(decomps.record("mul_by_number", DM.mul_number, KIND_OPS, x, c))
    y = decomps.record("add_number", DM.add_number, KIND_OPS, stored32(y.erf()), 1.0)
    return decomps.record("mul_by_number", DM.mul_number, KIND_OPS, y, 0.5)


_SQRT1_2_F32 = float(np.float32(0.7071067811865476))


def _mvlgamma_body(T, x, p):
    shifts = [x - j / 2 for j in range(p)]
    return _stack(shifts, -1).lgamma().sum(-1) + p * (p - 1) / 4 * math.log(math.pi)


def _multigammaln(fn, input, p, pos=2):
    _tensor_operand(fn, input, 1, "input")
    p = _int_arg(p, fn, "p", pos).__index__()
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    return decomps.record("mvlgamma", _mvlgamma_body, KIND_OPS, _floating(input), p)


def multigammaln(input, p):
    """The multivariate log-gamma of dimension p (MvlgammaBackward0)."""
    return _multigammaln("special_multigammaln", input, p)


def _mvlgamma(input, p):
    """torch.mvlgamma: multigammaln (torch.special has none of that name)."""
    return _multigammaln("mvlgamma", input, p)


@tensor_methods
class _Methods:
    def xlogy(self, other=MISSING):
        """self * log(other), 0 where self == 0 (XlogyBackward0)."""
        if other is MISSING or not isinstance(other, Tensor) and not takes("Number", other):
            raise overloads("xlogy", True).error(given(other), {})   # (the method's forms)
        return xlogy(self, other)

    def sinc(self):
        return sinc(self)

    def logit(self, eps=None):
        return logit(self, eps)

    @parsed("mvlgamma", method=True)   # (its argument errors: torch's parser's)
    def mvlgamma(self, p):
        return _multigammaln("mvlgamma", self, p, 1)

    def xlogy_(self, other):
        errors.check_promotion(self, other, true_divide=True)   # (the output's, first)
        return self._inplace(lambda a, b: xlogy(Tensor._wrap(np.array(a), self._dtype),
                                                 other)._array(), other, xlogy)

    def sinc_(self):
        return self._inplace(lambda a, b: sinc(Tensor._wrap(np.array(a), self._dtype))._array(),
                             None, lambda x, _: sinc(x))

    def logit_(self, eps=None):
        return self._inplace(lambda a, b: logit(Tensor._wrap(np.array(a), self._dtype),
                                                 eps)._array(), None,
                             lambda x, _: logit(x, eps))


# ---- torch.special's names for ops tapegrad has ------------------------------------------
def _method(name, doc):
    def f(input, *args, **kwargs):
        _tensor_operand(name, input, 1, "input")
        try:
            return getattr(input, name)(*args, **kwargs)
        except TypeError as e:   # (the method's binding error, as this function's: torch's)
            raise renamed(e, name, f.__qualname__) from None
    f.__doc__ = doc
    return f


expit = _method("sigmoid", "1 / (1 + exp(-x)) (SigmoidBackward0).")
erf = _method("erf", "The error function (ErfBackward0).")
erfc = _method("erfc", "1 - erf(x) (ErfcBackward0).")
erfinv = _method("erfinv", "The inverse error function (ErfinvBackward0).")
expm1 = _method("expm1", "exp(x) - 1 (Expm1Backward0).")
exp2 = _method("exp2", "2 ** x (Exp2Backward0).")
log1p = _method("log1p", "log(1 + x) (Log1PBackward0).")
gammaln = _method("lgamma", "log |gamma(x)| (LgammaBackward0).")
digamma = _method("digamma", "The logarithmic derivative of gamma (DigammaBackward0).")
psi = _method("digamma", "digamma under its other name (DigammaBackward0).")


def round(input, *, decimals=0):  # noqa: A001  (torch's name)
    """Rounding half to even, with `decimals` (RoundBackward0/1); unlike torch.round, no
    integer kernel (torch's error)."""
    _tensor_operand("round", input, 1, "input")
    if not decimals and not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"round_vml_cpu\" not implemented for "
                                  f"'{input._dtype.legacy}'")
    return input.round(decimals=decimals)


def polygamma(n, input):
    """The n-th derivative of digamma (PolygammaBackward0)."""
    if not isinstance(input, Tensor):   # (torch's parser's words, by native_args's form)
        overloads("special_polygamma", False).parse((n, input), {})
    return input.polygamma(n)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(input), dim)), computed stably (LogsumexpBackward0)."""
    return _logsumexp(input, dim, keepdim)


# (torch.special's softmax takes dtype positionally too, log_softmax by keyword; no out=)
_SOFTMAX = {"softmax": Overloads("special_softmax",
                                 ["Tensor input, int dim, torch.dtype dtype = None"]),
            "log_softmax": Overloads("special_log_softmax",
                                     ["Tensor input, int dim, *, torch.dtype dtype = None"])}


def softmax(*args, **kwargs):
    """softmax(input, dim, dtype=None) along dim (SoftmaxBackward0)."""
    _, (input, dim, dtype) = _SOFTMAX["softmax"].parse(args, kwargs)
    return _softmax(input, dim, dtype=None if dtype is MISSING else dtype)


def log_softmax(*args, **kwargs):
    """log_softmax(input, dim, dtype=None) along dim (LogSoftmaxBackward0)."""
    _, (input, dim, dtype) = _SOFTMAX["log_softmax"].parse(args, kwargs)
    return _log_softmax(input, dim, dtype=None if dtype is MISSING else dtype)


# ---- the regularized incomplete gamma functions, for Gamma.cdf --------------------------------
# Cephes' igam / igamc (the power series below x = max(1, a), the continued fraction above),
# elementwise in float64 (as the vocabulary's other special functions' numpy faces).
_MACHEP, _MAXLOG, _BIG = 2.0 ** -53, 709.782712893384, 2.0 ** 52


def _igam_edge(a, x, upper):
    """P(a, x) (or Q with upper) where the series do not apply, else None."""
    if a != a or x != x or a < 0 or x < 0 or (a == 0 and x == 0) or (
            math.isinf(a) and math.isinf(x)):
        return math.nan
    if a == 0 or math.isinf(x):
        return 0.0 if upper else 1.0
    if x == 0 or math.isinf(a):
        return 1.0 if upper else 0.0
    return None


def _igam_prefactor(a, x):
    """x^a e^-x / Gamma(a), 0 where it underflows."""
    ax = a * math.log(x) - x - math.lgamma(a)
    return 0.0 if ax < -_MAXLOG else math.exp(ax)


def _igam_scalar(a, x, upper):
    edge = _igam_edge(a, x, upper)
    if edge is not None:
        return edge
    if x > 1 and x > a:
        # Q by the continued fraction
        y, z, c = 1 - a, x + 2 - a, 0.0
        pkm2, qkm2, pkm1, qkm1 = 1.0, x, x + 1, z * x
        ans = pkm1 / qkm1
        while True:
            c, y, z = c + 1, y + 1, z + 2
            yc = y * c
            pk, qk = pkm1 * z - pkm2 * yc, qkm1 * z - qkm2 * yc
            t = 1.0
            if qk != 0:
                r = pk / qk
                t, ans = abs((ans - r) / r), r
            pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
            if abs(pk) > _BIG:
                pkm2, pkm1, qkm2, qkm1 = (v / _BIG for v in (pkm2, pkm1, qkm2, qkm1))
            if t <= _MACHEP:
                break
        q = ans * _igam_prefactor(a, x)
        return q if upper else 1 - q
    # P by the power series
    r, c, ans = a, 1.0, 1.0
    while c / ans > _MACHEP:
        r += 1
        c *= x / r
        ans += c
    p = ans * _igam_prefactor(a, x) / a
    return 1 - p if upper else p


_igam_numpy = np.vectorize(_igam_scalar, otypes=[np.float64])


class _Igamma(Function):
    """P(a, x) (IgammaBackward0): the gradient in x is x^(a-1) e^-x / Gamma(a); in a torch
    has none (it raises on a backward that needs it), so neither does this."""
    upper, op = False, "igamma"

    @classmethod
    def forward(cls, ctx, a, x):
        dt = D.torch_result_type(a, x)
        with np.errstate(invalid="ignore"):     # (nan for nan and negative arguments)
            out = _igam_numpy(a.detach().numpy(), x.detach().numpy(), cls.upper)
        ctx.save_for_backward(a, x)
        return Tensor._wrap(np.asarray(out, dt.np), dt)

    @classmethod
    def backward(cls, ctx, grad):
        a, x = ctx.saved_tensors
        if TRANSFORMS.forwards:   # (torch's jvp / jacfwd are forward AD, which igamma lacks;
            raise errors.no_forward_ad(cls.op)   # tapegrad's, reverse mode twice, come here)
        # (as torch's node: only a gradient this backward needs is computed, so asking for
        # x's alone works while a requires grad too)
        if should_compute_output(ctx, 0):
            raise NotImplementedError(f"the derivative for '{cls.op}: input' is not "
                                      "implemented.")
        if not should_compute_output(ctx, 1):
            return None, None
        dx = grad * ((a - 1) * x.log() - x - a.lgamma()).exp()
        return None, (-dx if cls.upper else dx).sum_to_size(x.shape)


class _Igammac(_Igamma):
    """Q(a, x) = 1 - P(a, x) (IgammacBackward0)."""
    upper, op = True, "igammac"


for _cls, _name in ((_Igamma, "IgammaBackward0"), (_Igammac, "IgammacBackward0")):
    as_native_node(_cls, _name)


def gammainc(input, other):
    """torch.special.gammainc (torch.igamma): the regularized lower incomplete gamma function
    P(input, other), broadcast; integer tensors are not accepted (torch's igamma_cpu)."""
    return _igamma(_Igamma, "special_gammainc", input, other)


def gammaincc(input, other):
    """torch.special.gammaincc (torch.igammac): Q(input, other) = 1 - P(input, other)."""
    return _igamma(_Igammac, "special_gammaincc", input, other)


def torch_igamma(input, other):
    """torch.igamma: special.gammainc under its own name."""
    return _igamma(_Igamma, "igamma", input, other)


def torch_igammac(input, other):
    """torch.igammac: special.gammaincc under its own name."""
    return _igamma(_Igammac, "igammac", input, other)


def _igamma(cls, fn, input, other):
    _tensor_operand(fn, input, 1, "input")
    _tensor_operand(fn, other, 2, "other")
    dt = D.torch_result_type(input, other)
    if not dt.is_floating_point:
        raise NotImplementedError(f'"{cls.op}_cpu" not implemented for \'{dt.legacy}\'')
    return cls.apply(input, other)


_ZETA = overloads("special_zeta", False)
_zeta_values = FUNCS["zeta"].numpy     # (Cephes' zeta, compiled: tapegrad/_special.py)


class _Zeta(Function):
    """zeta(x, q) (SpecialZetaBackward0): the gradient in q is -x zeta(x + 1, q) (itself
    differentiable in q); in x torch has none (it raises on a backward that needs it)."""

    @staticmethod
    def forward(ctx, x, q):
        dt = x._dtype
        # (in float64, then rounded: torch's float kernel accumulates in double too)
        out = _zeta_values(x.detach().numpy().astype(np.float64),
                           q.detach().numpy().astype(np.float64))
        ctx.save_for_backward(x, q)
        return Tensor._wrap(np.asarray(out, dt.np), dt)

    @staticmethod
    def backward(ctx, grad):
        x, q = ctx.saved_tensors
        if TRANSFORMS.forwards:   # (as igamma's)
            raise errors.no_forward_ad("special_zeta")
        if should_compute_output(ctx, 0):
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        if not should_compute_output(ctx, 1):
            return None, None
        return None, (grad * -x * zeta(x + 1.0, q)).sum_to_size(q.shape)


# (a number for x or q: torch's Scalar overloads, whose nodes are numbered 1 and 2)
_ZETA_NODES = {}
for _k in range(3):
    _ZETA_NODES[_k] = type(f"_Zeta{_k}", (_Zeta,), {"__module__": __name__})
    as_native_node(_ZETA_NODES[_k], f"SpecialZetaBackward{_k}")


def zeta(input, other):
    """The Hurwitz zeta function, sum over k >= 0 of (other + k)^-input, elementwise (either
    may be a Python number), in the operands' promoted float dtype; differentiable in other
    only (torch has no derivative in input: its backward raises)."""
    _ZETA.parse((input, other), {})      # (torch's TypeError for other arguments)
    input, other = D.py_number(input), D.py_number(other)
    dt = D.torch_result_type(input, other)
    if not dt.is_floating_point:
        dt = D.get_default_dtype()
    node = 1 if not isinstance(input, Tensor) else 2 if not isinstance(other, Tensor) else 0
    x, q = (v.to(dt) if isinstance(v, Tensor) and v._dtype is not dt else v
            if isinstance(v, Tensor) else Tensor._wrap(np.asarray(v, dt.np), dt)
            for v in (input, other))
    errors._check_broadcast(x._shape, q._shape)
    return _ZETA_NODES[node].apply(x, q)


# ---- orthogonal polynomials: torch's recurrences (tapegrad/_special.py), no gradient -------
def _polynomial(name, kernel):
    fn = "special_" + name
    forms = overloads(fn, False)
    values = FUNCS[kernel].numpy

    def f(x=MISSING, n=MISSING):
        forms.parse(given(x, n), {})      # (torch's TypeError for other arguments)
        x, n = D.py_number(x), D.py_number(n)
        dt = D.torch_result_type(x, n)
        if not dt.is_floating_point:
            dt = D.get_default_dtype()
        xs, ns = (v.detach().numpy() if isinstance(v, Tensor) else v for v in (x, n))
        errors._check_broadcast(np.shape(xs), np.shape(ns))
        # (in float64, n cast to an integer per element, then rounded to dt: a float32
        # result is the float64 value rounded, where torch's float32 recurrence loses
        # digits under cancellation and overflows to nan; no graph: torch defines no
        # derivative for these and records none)
        out = values(np.asarray(xs, np.float64), np.asarray(ns, np.float64))
        return Tensor._wrap(quiet(np.asarray, out, dt.np), dt)   # (float32 overflow: inf)
    f.__name__ = name
    f.__doc__ = (f"torch.special.{name}(x, n): the polynomial of degree n (cast to an "
                 f"integer; 0 for a negative n) at x, elementwise; not differentiable.")
    return f


for _name, _kernel in (("chebyshev_polynomial_t", "chebyshev_t"),
                       ("chebyshev_polynomial_u", "chebyshev_u"),
                       ("chebyshev_polynomial_v", "chebyshev_v"),
                       ("chebyshev_polynomial_w", "chebyshev_w"),
                       ("shifted_chebyshev_polynomial_t", "shifted_chebyshev_t"),
                       ("shifted_chebyshev_polynomial_u", "shifted_chebyshev_u"),
                       ("shifted_chebyshev_polynomial_v", "shifted_chebyshev_v"),
                       ("shifted_chebyshev_polynomial_w", "shifted_chebyshev_w"),
                       ("hermite_polynomial_h", "hermite_h"),
                       ("hermite_polynomial_he", "hermite_he"),
                       ("laguerre_polynomial_l", "laguerre_l"),
                       ("legendre_polynomial_p", "legendre_p")):
    globals()[_name] = _polynomial(_name, _kernel)
POLYNOMIALS = ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
               "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p")


# ---- Bessel functions without a gradient (torch defines none and records none) ------------
def _no_grad_unary(name, arg, doc):
    """torch.special.<name>(<arg>): tapegrad/_bessel.py's function of the elements in the float
    dtype (integers and bool: the default dtype), as torch's kernel templated on it."""
    fn, values = "special_" + name, getattr(_bessel, name)

    def f(*args, **kwargs):
        x, = bind(fn, args, kwargs, [arg])     # (torch's parser's messages)
        dt = x._dtype if x._dtype.is_floating_point else D.get_default_dtype()
        return Tensor._wrap(np.asarray(values(x.detach().numpy().astype(dt.np)), dt.np), dt)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc + "; not differentiable (as torch's)."
    return f


# (Cephes' algorithms as torch's kernels evaluate them, in the element type: tapegrad/_bessel.py)
for _name, _arg, _doc in (
        ("modified_bessel_i0", "input", "I0(x), the modified Bessel function of the first kind "
                                        "of order 0"),
        ("modified_bessel_i1", "input", "I1(x), the modified Bessel function of the first kind "
                                        "of order 1"),
        ("spherical_bessel_j0", "x", "j0(x) = sin(x) / x, the spherical Bessel function of the "
                                     "first kind of order 0"),
        ("bessel_j0", "input", "J0(x), the Bessel function of the first kind of order 0"),
        ("bessel_j1", "input", "J1(x), the Bessel function of the first kind of order 1"),
        ("bessel_y0", "input", "Y0(x), the Bessel function of the second kind of order 0 "
                               "(-inf at 0, nan below)"),
        ("bessel_y1", "input", "Y1(x), the Bessel function of the second kind of order 1 "
                               "(-inf at 0, nan below)"),
        ("modified_bessel_k0", "input", "K0(x), the modified Bessel function of the second "
                                        "kind of order 0 (inf at 0, nan below)"),
        ("modified_bessel_k1", "input", "K1(x), the modified Bessel function of the second "
                                        "kind of order 1 (inf at 0, nan below)"),
        ("scaled_modified_bessel_k0", "x", "exp(x) K0(x) (inf at 0, nan below)"),
        ("scaled_modified_bessel_k1", "x", "exp(x) K1(x) (inf at 0, nan below)"),
        ("airy_ai", "x", "Ai(x), the Airy function of the first kind (nan at +-inf)")):
    globals()[_name] = _no_grad_unary(_name, _arg, _doc)
del _name, _arg, _doc


# torch.special's functions are native ones named special_<name>: their __name__, and the
# name Python's binding errors print (they printed _unary.<locals>.f(), lgamma(), ...).  The
# top level's sinc, xlogy and logit (and Tensor's methods) are the same ops under their own
# names: copies, kept as torch_<name> for tapegrad/__init__.py
torch_sinc, torch_logit = _copy(sinc), _copy(logit)
torch_xlogy = _two("xlogy", _XLOGY_DOC, fn="")
torch_sinc.__qualname__, torch_logit.__qualname__ = "sinc", "logit"
_seen = set()
for _name, _f in list(globals().items()):
    if isinstance(_f, types.FunctionType) and _f.__module__ == __name__ and \
            not _name.startswith(("_", "torch_")):
        assert id(_f) not in _seen, _name   # (one function per name: each is renamed)
        _seen.add(id(_f))
        _f.__name__ = _f.__qualname__ = "special_" + _name
        _f.__module__ = _native_names.__name__   # (where pickle finds it)
del _seen, _name, _f

# torch's out= on every function but softmax and log_softmax (its messages name them special_*)
out_arg.apply(globals(), out_arg.SPECIAL_OUT_NAMES, "special_")

# numpy's x= / a= / x1= for input, as torch's parser takes them
numpy_names.apply_operand_names(globals(), prefix="special_")
