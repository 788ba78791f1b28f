"""The formula vocabulary: every function a formula of `tapegrad/ops.py` may call, with all of
its implementations in one row, so adding one (say `atan2`) is one row here:

    scalar   on Python floats, IEEE-754 as torch (Python's math raises where torch returns
             inf or nan): the eager scalar fast path and constant folding
    numpy    on arrays: the eager n-d forward
    numba    how the generated kernels spell it: a `math` function, a helper defined in
             the kernel header (`codegen.HEADER`), or "f32": `math`'s with a float32 face
             of its own (tapegrad/_mathf32.py: vectorizable, for float32 replays)
    method   the Tensor method that records it: create_graph evaluates formulas on tensors
    fast     (optional) a C function equal to `scalar` wherever it returns, raising where
             `scalar` gives inf or nan: the scalar fast path calls it (no Python frame) and
             takes the numpy path when it raises

A function takes one argument or, with `arity=2`, two (`atan2(y, x)`, `hypot(x, y)`): every
face calls it the same way (create_graph records it as a binary op of its name, the tensor
form goes through the tensor layer's binary recorder, so either argument may be a constant).
`where(cond, x, y)` is the vocabulary's one conditional; its tensor form needs the module
function, which the tensor layer passes to `tensor_namespace`.
"""
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import _special as special, layouts
from ._jit import kernel_module

inf = math.inf
nan = math.nan


# ---- IEEE-754 scalar implementations --------------------------------------------------------
def exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def log(x):
    return math.log(x) if x > 0.0 else (-inf if x == 0.0 else nan)


def sqrt(x):
    return math.sqrt(x) if x >= 0.0 else nan


def sin(x):
    return math.sin(x) if x - x == 0.0 else nan


def cos(x):
    return math.cos(x) if x - x == 0.0 else nan


tanh = math.tanh


def sigmoid(x):
    return 1.0 / (1.0 + exp(-x))


# NOTE: sign is (x > 0) - (x < 0), as torch's: 0 at +-0.0 and at nan, so abs's gradient is 0
# at the kink and at nan (and sign(nan) is 0, not nan)
def sign(x):
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


def _np_sign(a):
    """sign() on an array, in its dtype: (a > 0) - (a < 0), as `sign` (np.sign keeps nan
    and -0.0)."""
    if a.dtype == bool:
        return a.copy()
    out = (a > 0).astype(a.dtype)
    out -= a < 0
    return out


def where(cond, x, y):
    return x if cond else y


# NOTE: relu's gradient is torch's threshold_backward(g, out, 0): 0 where out <= 0 (the kink
# included), g elsewhere (nan passes).  A function of its own, create_graph records it as an
# op (ThresholdBackwardBackward0) that reads out, so a relu's gradient requires grad as
# torch's does (its derivative in out is 0)
def threshold_backward(g, x):
    return 0.0 if x <= 0.0 else g


def _np_threshold_backward(g, x):
    return np.where(x <= 0.0, 0.0, g)


# NOTE: straight_through(u, v) is v, with u's gradient: 1 to u, 0 to v.  prelu's gradient
# reads it at the kink x == 0, where torch's double backward takes the x >= 0 side (the
# gradient there is still weight * g: _prelu_kernel_backward's x > 0)
def straight_through(u, v):
    return v


# NOTE: depends_on(x, a) is x, with gradient 1 to x and 0 to a: a gradient formula wraps its
# result in it where torch's backward is a kernel of the input (leaky_relu_backward,
# hardtanh_backward), so that under create_graph the gradient depends on the input as
# torch's does: it requires grad, and differentiates to zeros instead of "not used"
def depends_on(x, a):
    return x


atan2 = math.atan2     # IEEE-754 already: signed zeros, infinities and nan as C's atan2
hypot = math.hypot
copysign = math.copysign   # (a nan keeps its sign bit, as C's)


# ---- opsmath (#11): scalar faces of the elementwise math functions ------------------------------
# math's functions raise where torch returns inf or nan; the scalar fast path catches that and
# takes the numpy path, and constant folding (create_graph) goes through `_ieee`'s fallback.
def _ieee(f, g):
    def scalar(*xs):
        try:
            return f(*xs)
        except (ValueError, OverflowError, ZeroDivisionError):
            with np.errstate(all="ignore"):
                return float(g(*xs))
    scalar.__name__ = f.__name__
    return scalar


def _vecmath():
    """tapegrad._vecmath, imported (with numba) on the first array erf/erfc."""
    return kernel_module("tapegrad._vecmath", "_vecmath.py", _import_vecmath)


def _import_vecmath():
    from . import _vecmath
    return _vecmath


def _vecspecial():
    """tapegrad._vecspecial (generated), imported (with numba) on the first array erfinv & co."""
    return kernel_module("tapegrad._vecspecial", "_vecspecial.py", _import_vecspecial)


def _import_vecspecial():
    from . import _vecspecial
    return _vecspecial


def _loop_face(module, loop, name, arity=1):
    """numpy face of vocabulary function `name`: the Numba loop `loop` of the module that
    `module()` loads on first use (_vecmath.py: erf, erfc, lgamma over libm, math's bits;
    _vecspecial.py: the copied special functions, their kernel faces' bits), over the elements
    as float64; two arguments broadcast against each other first."""
    if arity == 1:
        def face(x):
            arr = np.asarray(x, dtype=np.float64)
            if arr.flags.c_contiguous or arr.ndim < 2:
                return getattr(module(), loop)(np.ascontiguousarray(arr).reshape(-1)).reshape(
                    arr.shape)
            # (torch's elementwise result keeps its input's dim order)
            return layouts.flat_apply(getattr(module(), loop), (arr,), arr)
    else:
        def face(x, y):
            # copies, not np.broadcast_arrays' views: a size-1 view of a 0-d operand passes
            # ascontiguousarray unchanged, and Numba's look at its flags warns (FutureWarning)
            shape = np.broadcast_shapes(np.shape(x), np.shape(y))
            # (torch's result keeps the layout of its first operand of the full shape)
            lead = x if np.shape(x) == shape else y
            a, b = np.empty(shape), np.empty(shape)
            a[...], b[...] = x, y
            if len(shape) > 1 and isinstance(lead, np.ndarray) and \
                    not lead.flags.c_contiguous and np.shape(lead) == shape:
                return layouts.flat_apply(getattr(module(), loop), (a, b), lead)
            return getattr(module(), loop)(a.reshape(-1), b.reshape(-1)).reshape(shape)
    face.__name__ = name
    return face


def _libm_loop(name):
    return _loop_face(_vecmath, name, name)


def _special_loop(name, arity=1):
    return _loop_face(_vecspecial, "vec_" + name, name, arity)


def _np_remainder(x, y):
    r = np.fmod(x, y)
    return np.where((r != 0) & ((r < 0) != (y < 0)), r + y, r)


def _whole(f):
    """floor/ceil/trunc/round on a float, keeping infinities, nan and the sign of zero."""
    def scalar(x):
        return math.copysign(float(f(x)), x) if x - x == 0.0 else x
    scalar.__name__ = f.__name__
    return scalar


floor, ceil, trunc = _whole(math.floor), _whole(math.ceil), _whole(math.trunc)
rint = _whole(round)        # Python's round(x) rounds half to even, as torch.round
fmod = _ieee(math.fmod, np.fmod)
def _remainder(x, y):
    r = math.fmod(x, y)
    return r + y if r != 0.0 and (r < 0.0) != (y < 0.0) else r


remainder = _ieee(_remainder, _np_remainder)


def _np_div_floor(x, y):
    """special.k_div_floor on arrays (torch's floor division of floats)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mod = np.fmod(x, y)
        div = (x - mod) / y
        div = np.where((mod != 0) & ((y < 0) != (mod < 0)), div - 1, div)
        q = np.floor(div)
        q = np.where(div - q > 0.5, q + 1, q)
        return np.where(y == 0, x / y, np.where(div == 0, np.copysign(0 * div, x / y), q))


div_floor = _ieee(special.k_div_floor, _np_div_floor)
div_trunc = _ieee(lambda x, y: trunc(x / y), lambda x, y: np.trunc(x / y))


def _np_div_trunc_float32(x, y):
    q = np.asarray(x / y)
    with np.errstate(over="ignore"):
        return np.trunc(q.astype(np.float32)).astype(q.dtype)


div_trunc_float32 = _ieee(lambda x, y: float(special.k_div_trunc_float32(x, y)),
                          _np_div_trunc_float32)
exp2 = _ieee(lambda x: 2.0 ** x, np.exp2)
log1p = _ieee(math.log1p, np.log1p)
expm1 = _ieee(math.expm1, np.expm1)
log2 = _ieee(math.log2, np.log2)
log10 = _ieee(math.log10, np.log10)
tan = _ieee(math.tan, np.tan)
asin = _ieee(math.asin, np.arcsin)
acos = _ieee(math.acos, np.arccos)
atan = math.atan
sinh = _ieee(math.sinh, np.sinh)
cosh = _ieee(math.cosh, np.cosh)
asinh = math.asinh
acosh = _ieee(math.acosh, np.arccosh)
atanh = _ieee(math.atanh, np.arctanh)
erf, erfc = math.erf, math.erfc
erfinv, digamma, polygamma = special.erfinv, special.digamma, special.polygamma
ndtri = special.ndtri
i0, i0e, i1, i1e = special.i0, special.i0e, special.i1, special.i1e
zeta = special.cephes_zeta
chebyshev_t, chebyshev_u = special.chebyshev_t, special.chebyshev_u
chebyshev_v, chebyshev_w = special.chebyshev_v, special.chebyshev_w
shifted_chebyshev_t, shifted_chebyshev_u = special.shifted_chebyshev_t, special.shifted_chebyshev_u
shifted_chebyshev_v, shifted_chebyshev_w = special.shifted_chebyshev_v, special.shifted_chebyshev_w
hermite_h, hermite_he = special.hermite_h, special.hermite_he
laguerre_l, legendre_p = special.laguerre_l, special.legendre_p
POLYNOMIALS = ("chebyshev_t", "chebyshev_u", "chebyshev_v", "chebyshev_w", "shifted_chebyshev_t",
               "shifted_chebyshev_u", "shifted_chebyshev_v", "shifted_chebyshev_w", "hermite_h",
               "hermite_he", "laguerre_l", "legendre_p")
erfcx = special.erfcx
# (math.lgamma raises at the poles, 0, -1, ..., and past its range, x > 2.5e305: +inf both)
lgamma = _ieee(math.lgamma, lambda x: math.inf)


# ---- the table --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fn:
    name: str
    scalar: Callable
    numpy: Callable
    numba: str       # "math": math.<name>; "f32": math's + a float32 face (_mathf32.py);
    #                  "header": a helper in the kernel header; "builtin"
    method: str      # Tensor method recording it ("" for where)
    arity: int = 1   # arguments it takes (2: recorded as a binary op of its name)
    # numba == "copied": the kernel face, plain Python that codegen copies into the kernels
    # under this function's name (tapegrad/_special.py)
    kernel: Callable = None
    # the eager scalar fast path's face: a C function (math's) equal to `scalar` wherever it
    # returns, raising (ValueError, OverflowError) where `scalar` gives inf or nan; the fast path
    # then takes the general (numpy) path, which gives those.  None: the fast path calls `scalar`
    fast: Callable = None
    # no Tensor method records it (torch has only torch.special.i1 & co): on tensors, the op
    # row of its name is recorded directly (the tensor layer's unary recorder)
    op_only: bool = False
    # the float dtypes ("f" float32, "d" float64) in which `numpy` is a SIMD ufunc loop several
    # times faster than the kernels' face (a libm call per element that LLVM cannot
    # vectorize).  ns per element here (Xeon, AVX-512; kernel loop / numpy), float64: exp
    # 4.5 / 0.7, log 3.9 / 0.9, tanh 12.3 / 1.3, atanh 16.1 / 1.4, sin 6.3 / 6.4 (not SIMD);
    # float32: exp 2.2 / 0.4, sin 3.9 / 0.5, log1p 9.5 / 0.4 (tanh's float32 face vectorizes:
    # _mathf32.py).  A replay evaluates a large entry of such a function with numpy
    # (replay.HOST_EW_MIN), the eager op's own call.
    simd: str = ""


FUNCS = {f.name: f for f in (
    Fn("exp", exp, np.exp, "math", "exp", fast=math.exp, simd="fd"),
    Fn("log", log, np.log, "math", "log", fast=math.log, simd="fd"),
    Fn("sqrt", sqrt, np.sqrt, "math", "sqrt", fast=math.sqrt),
    Fn("sin", sin, np.sin, "math", "sin", fast=math.sin, simd="f"),
    Fn("cos", cos, np.cos, "math", "cos", fast=math.cos, simd="f"),
    Fn("tanh", tanh, np.tanh, "f32", "tanh", fast=math.tanh, simd="d"),
    Fn("sigmoid", sigmoid, lambda a: 1.0 / (1.0 + np.exp(-a)), "header", "sigmoid"),
    Fn("sign", sign, _np_sign, "header", "sign"),
    Fn("abs", abs, np.abs, "builtin", "abs"),
    Fn("where", where, np.where, "header", ""),
    Fn("atan2", atan2, np.arctan2, "math", "atan2", arity=2),
    Fn("hypot", hypot, np.hypot, "math", "hypot", arity=2),
    Fn("copysign", copysign, np.copysign, "math", "copysign", arity=2),
    Fn("threshold_backward", threshold_backward, _np_threshold_backward, "header",
       "threshold_backward", arity=2),
    Fn("straight_through", straight_through, straight_through, "header", "straight_through",
       arity=2),
    Fn("depends_on", depends_on, depends_on, "header", "depends_on", arity=2),
    # ---- opsmath (#11) ----
    Fn("floor", floor, np.floor, "copied", "floor", kernel=special.k_floor),
    Fn("ceil", ceil, np.ceil, "copied", "ceil", kernel=special.k_ceil),
    Fn("trunc", trunc, np.trunc, "copied", "trunc", kernel=special.k_trunc),
    Fn("rint", rint, np.rint, "copied", "round", kernel=special.k_rint),
    Fn("fmod", fmod, np.fmod, "copied", "fmod", arity=2, kernel=special.k_fmod),
    Fn("remainder", remainder, _np_remainder, "copied", "remainder", arity=2,
       kernel=special.k_remainder),
    Fn("div_floor", div_floor, _np_div_floor, "copied", "div_floor", arity=2,
       kernel=special.k_div_floor),
    Fn("div_trunc", div_trunc, lambda x, y: np.trunc(x / y), "copied", "div_trunc", arity=2,
       kernel=special.k_div_trunc),
    Fn("div_trunc_float32", div_trunc_float32, _np_div_trunc_float32, "copied",
       "div_trunc_float32", arity=2, kernel=special.k_div_trunc_float32),
    Fn("exp2", exp2, np.exp2, "copied", "exp2", kernel=special.k_exp2),
    Fn("log1p", log1p, np.log1p, "math", "log1p", fast=math.log1p, simd="fd"),
    Fn("expm1", expm1, np.expm1, "math", "expm1", fast=math.expm1, simd="fd"),
    Fn("log2", log2, np.log2, "math", "log2", fast=math.log2, simd="fd"),
    Fn("log10", log10, np.log10, "math", "log10", fast=math.log10, simd="fd"),
    Fn("tan", tan, np.tan, "math", "tan", fast=math.tan, simd="fd"),
    Fn("asin", asin, np.arcsin, "math", "asin", fast=math.asin, simd="fd"),
    Fn("acos", acos, np.arccos, "math", "acos", fast=math.acos, simd="fd"),
    Fn("atan", atan, np.arctan, "math", "atan", fast=math.atan, simd="fd"),
    Fn("sinh", sinh, np.sinh, "math", "sinh", fast=math.sinh, simd="fd"),
    Fn("cosh", cosh, np.cosh, "math", "cosh", fast=math.cosh, simd="fd"),
    Fn("asinh", asinh, np.arcsinh, "math", "asinh", fast=math.asinh, simd="fd"),
    Fn("acosh", acosh, np.arccosh, "math", "acosh", fast=math.acosh, simd="fd"),
    Fn("atanh", atanh, np.arctanh, "math", "atanh", fast=math.atanh, simd="fd"),
    Fn("erf", erf, _libm_loop("erf"), "math", "erf"),
    Fn("erfc", erfc, _libm_loop("erfc"), "math", "erfc"),
    Fn("lgamma", lgamma, _libm_loop("lgamma"), "math", "lgamma"),
    Fn("erfinv", erfinv, _special_loop("erfinv"), "copied", "erfinv", kernel=special.erfinv),
    Fn("ndtri", ndtri, _special_loop("ndtri"), "copied", "ndtri", kernel=special.ndtri,
       op_only=True),
    Fn("digamma", digamma, _special_loop("digamma"), "copied", "digamma", kernel=special.digamma),
    Fn("polygamma", polygamma, _special_loop("polygamma", 2), "copied", "polygamma", arity=2,
       kernel=special.polygamma),
    # modified Bessel functions of the first kind (torch.i0, torch.special.i0e/i1/i1e)
    Fn("i0", i0, _special_loop("i0"), "copied", "i0", kernel=special.i0),
    Fn("i0e", i0e, _special_loop("i0e"), "copied", "i0e", kernel=special.i0e, op_only=True),
    Fn("i1", i1, _special_loop("i1"), "copied", "i1", kernel=special.i1, op_only=True),
    Fn("i1e", i1e, _special_loop("i1e"), "copied", "i1e", kernel=special.i1e, op_only=True),
    Fn("erfcx", erfcx, _special_loop("erfcx"), "copied", "erfcx", kernel=special.erfcx,
       op_only=True),
    # the Hurwitz zeta function (torch.special.zeta: no derivative in torch, so no op row;
    # special.py computes it with this array face)
    Fn("zeta", zeta, _special_loop("zeta", 2), "copied", "", arity=2, kernel=special.cephes_zeta),
    # orthogonal polynomials of degree n (torch.special.chebyshev_polynomial_t & co.: no
    # derivative in torch, so no op rows; special.py computes them with these array faces)
    *(Fn(name, getattr(special, name), _special_loop(name, 2), "copied", "", arity=2,
         kernel=getattr(special, name)) for name in POLYNOMIALS),
)}
# helpers the copied kernel faces call (copied under their own names)
KERNEL_HELPERS = (special.trigamma, special.hurwitz_zeta, special.chbevl, special.exp_or_inf,
                  special.i0e_small, special.i0e_large, special.i1e_small,
                  special.i1e_large,
                  special.giles_erfinv, special.poly_degree, special.chebyshev_recurrence,
                  special.chebyshev_t_at,
                  special.chebyshev_u_at, special.chebyshev_v_at, special.chebyshev_w_at)

# what the eager n-d forward evaluates formulas with
NUMPY = {name: f.numpy for name, f in FUNCS.items()}
# functions create_graph records as ops of their own (op name == function name)
RECORDED = frozenset(name for name, f in FUNCS.items() if f.method)
# the generated kernels' `from math import ...`
MATH_IMPORTS = tuple(name for name, f in FUNCS.items() if f.numba == "math")
# ... and their `from ._mathf32 import ...`
F32_IMPORTS = tuple(name for name, f in FUNCS.items() if f.numba == "f32")


def tensor_namespace(where_fn, is_tensor, binary_fn, unary_fn):
    """Formula functions on tensors or constants: a tensor operand goes through its recorded
    method (so derivatives of derivatives come out of the same table), constants through the
    scalar implementation.  `where_fn` is the tensor module's `where`; `binary_fn(name, x, y)`
    records the binary op `name` on two operands of which either may be a number (what a
    two-argument function needs: `atan2(1.0, b)` has no method to call on its first), and
    `unary_fn(name, x)` the unary op `name` of a function no Tensor method records
    (`Fn.op_only`)."""
    def lift(f):
        method, scalar = f.method, f.scalar
        if f.arity == 2:
            return lambda x, y: (binary_fn(method, x, y) if is_tensor(x) or is_tensor(y)
                                 else scalar(x, y))
        if f.op_only:
            return lambda x: unary_fn(method, x) if is_tensor(x) else scalar(x)
        return lambda x: getattr(x, method)() if is_tensor(x) else scalar(x)
    ns = {name: lift(f) for name, f in FUNCS.items() if f.method}
    ns["where"] = lambda c, x, y: where_fn(c, x, y) if is_tensor(c) else (x if c else y)
    return ns
