"""Kernel faces of the formula vocabulary's functions that neither `math` nor Numba provide
with torch's IEEE-754 behaviour (rounding, remainders, erfinv, digamma, polygamma).

Each is plain Python in the subset Numba compiles; codegen copies the source into
tapegrad/_kernels.py as a callee under the vocabulary name (`vocab.Fn.kernel`).  The
special functions (erfinv, digamma, polygamma) are also their scalar faces, and, compiled in
the Numba loops of the generated _vecspecial.py, their numpy faces (numpy has none), so each
formula is written once.
"""
import math

import numpy as np


def k_floor(x):
    return np.floor(x)


def k_ceil(x):
    return np.ceil(x)


def k_trunc(x):
    return np.trunc(x)


def k_rint(x):
    return np.rint(x)      # round half to even, as torch.round


def k_fmod(x, y):
    return np.fmod(x, y)


def k_remainder(x, y):
    """torch.remainder: fmod moved to the sign of the divisor (a zero keeps fmod's sign)."""
    r = np.fmod(x, y)
    if r != 0.0 and (r < 0.0) != (y < 0.0):
        r += y
    return r


def k_div_floor(x, y):
    """c10's div_floor_floating (torch.div(x, y, rounding_mode="floor")): the quotient from
    fmod, exact where floor(x / y) rounds x / y up to an integer first."""
    if y == 0.0:
        return x / y
    mod = np.fmod(x, y)
    div = (x - mod) / y
    if mod != 0.0 and (y < 0.0) != (mod < 0.0):
        div -= 1.0
    if div == 0.0:
        return math.copysign(0.0, x / y)
    q = np.floor(div)
    if div - q > 0.5:
        q += 1.0
    return q


def k_div_trunc(x, y):
    """c10's div_trunc (torch.div(x, y, rounding_mode="trunc"))."""
    return np.trunc(x / y)


def k_div_trunc_float32(x, y):
    """c10's div_trunc of float32 operands held as doubles: the quotient rounded to float32
    first, as torch's float32 kernel divides (Veltkamp's split cuts the double's 53-bit
    significand to 24 bits, round to nearest; past float32's range, inf), then truncated.
    In a float32 arena (a replay's) the quotient is float32 already and the split keeps it."""
    q = x / y
    if abs(q) < 3.4028235677973366e38:
        q = q * 536870913.0 - (q * 536870913.0 - q)
    elif q == q:
        q = math.copysign(math.inf, q)
    return np.trunc(q)


def k_exp2(x):
    return 2.0 ** x


def giles_erfinv(w):
    """erfinv(y) / y to single precision (Giles' approximation), w = -log((1 - y)(1 + y))."""
    if w < 5.0:
        w = w - 2.5
        p = 2.81022636e-08
        p = 3.43273939e-07 + p * w
        p = -3.5233877e-06 + p * w
        p = -4.39150654e-06 + p * w
        p = 0.00021858087 + p * w
        p = -0.00125372503 + p * w
        p = -0.00417768164 + p * w
        p = 0.246640727 + p * w
        return 1.50140941 + p * w
    w = math.sqrt(w) - 3.0
    p = -0.000200214257
    p = 0.000100950558 + p * w
    p = 0.00134934322 + p * w
    p = -0.00367342844 + p * w
    p = 0.00573950773 + p * w
    p = -0.0076224613 + p * w
    p = 0.00943887047 + p * w
    p = 1.00167406 + p * w
    return 2.83297682 + p * w


def erfinv(y):
    """Inverse error function: Giles' single-precision approximation, then Newton steps (on
    log(erfc) above 0.5, where erf has no relative precision left)."""
    if y != y or y < -1.0 or y > 1.0:
        return math.nan
    if y == 1.0:
        return math.inf
    if y == -1.0:
        return -math.inf
    s = 1.0
    if y < 0.0:
        s = -1.0
        y = -y
    x = giles_erfinv(-math.log((1.0 - y) * (1.0 + y))) * y
    for _ in range(8):
        d = 1.1283791670955126 * math.exp(-x * x)
        if d == 0.0:
            break
        if y > 0.5:   # Newton on log(erfc(x)) = log(1 - y): erfc keeps its relative precision
            c = math.erfc(x)
            step = (math.log(1.0 - y) - math.log(c)) * c / d
        else:
            step = (math.erf(x) - y) / d
        x -= step
        if abs(step) <= 1e-16 * abs(x):
            break
    return s * x


def ndtri(p):
    """The standard normal quantile (torch.special.ndtri) as sqrt(2) erfcinv of the smaller
    tail, q = 2 min(p, 1 - p) (1 - p is exact above 1/2), so a tail probability keeps its
    relative precision (sqrt(2) erfinv(2p - 1) loses it as p falls: -inf below p ~ 1e-17).
    Central (q >= 1/2, 2p - 1 exact): sqrt(2) erfinv(2p - 1); else from Giles' approximation
    (or, past its range, the asymptote erfc(x) ~ exp(-x^2) / (x sqrt(pi))), Newton steps on
    log(erfc(x)) = log(q)."""
    if p != p or p < 0.0 or p > 1.0:
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    s = -1.0
    q = 2.0 * p
    if p > 0.5:
        s = 1.0
        q = 2.0 * (1.0 - p)
    if q >= 0.5:    # (2p - 1 exact: the central formula has its full precision)
        return 1.4142135623730951 * erfinv(2.0 * p - 1.0)
    lq = math.log(q)
    if q > 1e-15:
        x = giles_erfinv(-math.log(q * (2.0 - q))) * (1.0 - q)
    else:
        x = math.sqrt(-lq)
        for _ in range(3):
            x = math.sqrt(-lq - math.log(x * 1.7724538509055159))
    for _ in range(12):
        c = math.erfc(x)
        d = 1.1283791670955126 * math.exp(-x * x)
        if c == 0.0 or d == 0.0:
            break
        step = (lq - math.log(c)) * c / d
        x -= step
        if abs(step) <= 1e-16 * abs(x):
            break
    return s * 1.4142135623730951 * x


def digamma(x):
    """psi(x) = d/dx lgamma(x), as torch: -inf at 0, nan at negative integers and -inf."""
    if x != x or x == math.inf:
        return x
    if x == -math.inf:
        return math.nan
    if x == 0.0:
        return math.copysign(math.inf, -x)
    result = 0.0
    if x < 0.0:
        if x == np.floor(x):
            return math.nan
        # reflection: psi(x) = psi(1 - x) - pi / tan(pi x)
        result = -math.pi / math.tan(math.pi * x)
        x = 1.0 - x
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    t = f * (-1.0 / 12.0 + f * (1.0 / 120.0 + f * (-1.0 / 252.0 + f * (
        1.0 / 240.0 + f * (-1.0 / 132.0 + f * (691.0 / 32760.0 + f * (-1.0 / 12.0)))))))
    return result + math.log(x) - 0.5 / x + t


def hurwitz_zeta(s, q):
    """zeta(s, q) = sum over k >= 0 of (q + k)^-s, s > 1: shifted to q >= 10, then the
    Euler-Maclaurin tail with eight Bernoulli terms (relative error ~1e-16)."""
    if q != q:
        return q
    if q == math.inf:
        return 0.0
    if q <= 0.0 and q == np.floor(q):
        return math.inf
    acc = 0.0
    while q < 10.0:
        acc += q ** -s
        q += 1.0
    acc += q ** (1.0 - s) / (s - 1.0) + 0.5 * q ** -s
    bern = (1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0,
        7.0 / 6.0, -3617.0 / 510.0)
    poch = s
    qp = q ** (-s - 1.0)
    fac = 2.0
    for j in range(8):
        acc += bern[j] / fac * poch * qp
        k = 2.0 * j + 2.0
        poch *= (s + k - 1.0) * (s + k)
        qp /= q * q
        fac *= (k + 1.0) * (k + 2.0)
    return acc


def erfcx(x):
    """exp(x^2) erfc(x), the scaled complementary error function (torch.special.erfcx).
    x >= 0: up to 26, erfc(x) times exp(x^2) with x^2 split exactly into hi + lo (Dekker),
    so no rounding of x^2 is amplified by exp; above, the asymptotic series
    1 / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(2x^2)^2 - ...).  x < 0: torch's (Faddeeva's)
    2 exp(x * x) - erfcx(-x), inf below -26.7."""
    if x != x:
        return x
    ax = abs(x)
    if ax > 26.0:
        if x < 0.0:
            return exp_or_inf(x * x) * 2.0 if x >= -26.7 else math.inf
        if x > 1e8:
            return 0.5641895835477563 / x
        r = 1.0 / (2.0 * x * x)
        s = 1.0 + r * (-1.0 + r * (3.0 + r * (-15.0 + r * (105.0 + r * (-945.0 + r * (
        10395.0 - r * 135135.0))))))
        return 0.5641895835477563 / x * s
    c = 134217729.0 * ax
    xh = c - (c - ax)
    xl = ax - xh
    hi = ax * ax
    lo = ((xh * xh - hi) + 2.0 * xh * xl) + xl * xl
    pos = math.exp(hi) * (1.0 + lo) * math.erfc(ax)
    if x >= 0.0:
        return pos
    return 2.0 * math.exp(x * x) - pos


def cephes_zeta(x, q):
    """torch.special.zeta(x, q), the Hurwitz zeta function sum over k >= 0 of (q + k)^-x, as
    torch's zeta (Cephes): inf at x = 1 and at q a non-positive integer, nan below x = 1 and
    for a non-positive q with x not an integer; else the terms summed to k >= 9 and q + k > 9
    (or until one is below 2^-53 of the sum), then the Euler-Maclaurin tail."""
    if x == 1.0:
        return math.inf
    if x < 1.0:
        return math.nan
    if q <= 0.0:
        if q == np.floor(q):
            return math.inf
        if x != np.floor(x):
            return math.nan
    eps = 1.11022302462515654042e-16
    coeffs = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9,
              7.47242496e10, -2.950130727918164224e12, 1.1646782814350067249e14,
              -4.5979787224074726105e15, 1.8152105401943546773e17,
              -7.1661652561756670113e18)
    s = q ** -x
    a = q
    i = 0
    b = 0.0
    while i < 9 or a <= 9.0:
        i += 1
        a += 1.0
        b = a ** -x
        s += b
        if -eps * s < b < eps * s:
            return s
    w = a
    s += b * w / (x - 1.0)
    s -= 0.5 * b
    a = 1.0
    k = 0.0
    for j in range(12):
        a *= x + k
        b /= w
        t = a * b / coeffs[j]
        s = s + t
        if abs(t / s) < eps:
            return s
        k += 1.0
        a *= x + k
        b /= w
        k += 1.0
    return s


def trigamma(x):
    """polygamma(1, x) as torch's calc_trigamma computes it (reflection below 1/2, six
    recurrence steps, a short asymptotic series): its truncation error (~5e-10 relative) is
    torch's value, which digamma's gradient and polygamma(1, x) give."""
    sign = 1.0
    result = 0.0
    if x < 0.5:
        sign = -1.0
        sin_pi_x = math.sin(math.pi * x) if abs(x) != math.inf else math.nan
        sin2 = sin_pi_x * sin_pi_x
        result -= math.pi * math.pi / sin2 if sin2 != 0.0 else math.inf   # (C's x / 0)
        x = 1.0 - x
    for _ in range(6):
        result += 1.0 / (x * x)
        x += 1.0
    ixx = 1.0 / (x * x)
    result += (1.0 + 1.0 / (2.0 * x) + ixx * (1.0 / 6.0 - ixx * (
        1.0 / 30.0 - ixx * (1.0 / 42.0)))) / x
    return sign * result


def polygamma(n, x):
    """The n-th derivative of digamma (n a non-negative integer): (-1)^(n+1) n! zeta(n+1, x);
    n = 1 is torch's trigamma."""
    if n == 0.0:
        return digamma(x)
    if n == 1.0:
        return trigamma(x)
    sign = 1.0 if np.fmod(n, 2.0) == 1.0 else -1.0
    if x == math.inf:    # torch's Cephes zeta(s, inf) is nan (its series' 0 / 0), at -inf inf
        return math.nan
    if x == -math.inf:
        return sign * math.inf
    return sign * math.gamma(n + 1.0) * hurwitz_zeta(n + 1.0, x)


# ---- modified Bessel functions of the first kind (torch.i0, torch.special.i0e/i1/i1e) -------
# Cephes' Chebyshev expansions, as torch's ATen/native/Math.h evaluates them in double:
# exp(-x) I0(x) and exp(-x) I1(x) / x over [0, 8], exp(-x) sqrt(x) I0(x) and
# exp(-x) sqrt(x) I1(x) over (8, inf) (its float kernels use shorter I1 tables: float32
# results agree to rounding).  I0 is even, I1 odd.  The tables are functions returning them
# (a copied kernel face can call a function; tapegrad/_bessel.py evaluates them too).
def chbevl(x, coeffs):
    """Cephes' Chebyshev series: sum of coeffs[i] T_i(x / 2), the last coefficient first."""
    b0 = coeffs[0]
    b1 = 0.0
    b2 = 0.0
    for i in range(1, len(coeffs)):
        b2 = b1
        b1 = b0
        b0 = x * b1 - b2 + coeffs[i]
    return 0.5 * (b0 - b2)


def exp_or_inf(x):
    """exp(x), inf where it overflows (math.exp raises there)."""
    return math.exp(x) if x <= 709.782712893384 else math.inf


def i0e_small():
    """Cephes' Chebyshev coefficients of exp(-x) I0(x) over [0, 8], in x / 2 - 2."""
    return (
        -4.41534164647933937950E-18, 3.33079451882223809783E-17, -2.43127984654795469359E-16,
        1.71539128555513303061E-15, -1.16853328779934516808E-14, 7.67618549860493561688E-14,
        -4.85644678311192946090E-13, 2.95505266312963983461E-12, -1.72682629144155570723E-11,
        9.67580903537323691224E-11, -5.18979560163526290666E-10, 2.65982372468238665035E-9,
        -1.30002500998624804212E-8, 6.04699502254191894932E-8, -2.67079385394061173391E-7,
        1.11738753912010371815E-6, -4.41673835845875056359E-6, 1.64484480707288970893E-5,
        -5.75419501008210370398E-5, 1.88502885095841655729E-4, -5.76375574538582365885E-4,
        1.63947561694133579842E-3, -4.32430999505057594430E-3, 1.05464603945949983183E-2,
        -2.37374148058994688156E-2, 4.93052842396707084878E-2, -9.49010970480476444210E-2,
        1.71620901522208775349E-1, -3.04682672343198398683E-1, 6.76795274409476084995E-1)


def i0e_large():
    """Cephes' Chebyshev coefficients of exp(-x) sqrt(x) I0(x) over (8, inf), in 32 / x - 2."""
    return (
        -7.23318048787475395456E-18, -4.83050448594418207126E-18, 4.46562142029675999901E-17,
        3.46122286769746109310E-17, -2.82762398051658348494E-16, -3.42548561967721913462E-16,
        1.77256013305652638360E-15, 3.81168066935262242075E-15, -9.55484669882830764870E-15,
        -4.15056934728722208663E-14, 1.54008621752140982691E-14, 3.85277838274214270114E-13,
        7.18012445138366623367E-13, -1.79417853150680611778E-12, -1.32158118404477131188E-11,
        -3.14991652796324136454E-11, 1.18891471078464383424E-11, 4.94060238822496958910E-10,
        3.39623202570838634515E-9, 2.26666899049817806459E-8, 2.04891858946906374183E-7,
        2.89137052083475648297E-6, 6.88975834691682398426E-5, 3.36911647825569408990E-3,
        8.04490411014108831608E-1)


def i1e_small():
    """Cephes' Chebyshev coefficients of exp(-x) I1(x) / x over [0, 8], in x / 2 - 2."""
    return (
        2.77791411276104639959E-18, -2.11142121435816608115E-17, 1.55363195773620046921E-16,
        -1.10559694773538630805E-15, 7.60068429473540693410E-15, -5.04218550472791168711E-14,
        3.22379336594557470981E-13, -1.98397439776494371520E-12, 1.17361862988909016308E-11,
        -6.66348972350202774223E-11, 3.62559028155211703701E-10, -1.88724975172282928790E-9,
        9.38153738649577178388E-9, -4.44505912879632808065E-8, 2.00329475355213526229E-7,
        -8.56872026469545474066E-7, 3.47025130813767847674E-6, -1.32731636560394358279E-5,
        4.78156510755005422638E-5, -1.61760815825896745588E-4, 5.12285956168575772895E-4,
        -1.51357245063125314899E-3, 4.15642294431288815669E-3, -1.05640848946261981558E-2,
        2.47264490306265168283E-2, -5.29459812080949914269E-2, 1.02643658689847095384E-1,
        -1.76416518357834055153E-1, 2.52587186443633654823E-1)


def i1e_large():
    """Cephes' Chebyshev coefficients of exp(-x) sqrt(x) I1(x) over (8, inf), in 32 / x - 2."""
    return (
        7.51729631084210481353E-18, 4.41434832307170791151E-18, -4.65030536848935832153E-17,
        -3.20952592199342395980E-17, 2.96262899764595013876E-16, 3.30820231092092828324E-16,
        -1.88035477551078244854E-15, -3.81440307243700780478E-15, 1.04202769841288027642E-14,
        4.27244001671195135429E-14, -2.10154184277266431302E-14, -4.08355111109219731823E-13,
        -7.19855177624590851209E-13, 2.03562854414708950722E-12, 1.41258074366137813316E-11,
        3.25260358301548823856E-11, -1.89749581235054123450E-11, -5.58974346219658380687E-10,
        -3.83538038596423702205E-9, -2.63146884688951950684E-8, -2.51223623787020892529E-7,
        -3.88256480887769039346E-6, -1.10588938762623716291E-4, -9.76109749136146840777E-3,
        7.78576235018280120474E-1)


def i0e(x):
    """exp(-|x|) I0(x)."""
    x = abs(x)
    if x <= 8.0:
        return chbevl(x / 2.0 - 2.0, i0e_small())
    if x != x:
        return x
    return chbevl(32.0 / x - 2.0, i0e_large()) / math.sqrt(x)


def i1e(x):
    """exp(-|x|) I1(x)."""
    ax = abs(x)
    if ax <= 8.0:
        out = chbevl(ax / 2.0 - 2.0, i1e_small()) * ax
    elif ax != ax:
        return x
    else:
        out = chbevl(32.0 / ax - 2.0, i1e_large()) / math.sqrt(ax)
    return -out if x < 0.0 else out


def i0(x):
    """I0(x): exp(|x|) first, as torch (inf from |x| > log(DBL_MAX) on)."""
    return exp_or_inf(abs(x)) * i0e(x)


def i1(x):
    """I1(x): exp(|x|) first, as torch."""
    return exp_or_inf(abs(x)) * i1e(x)


# ---- orthogonal polynomials (torch.special.chebyshev_polynomial_t & co.) --------------------
# torch's recurrences (ATen/native/Math.h) in double.  n is cast to an integer as C casts it
# (toward zero; nan, infinities and |n| >= 2^63 to int64's minimum), and a negative n gives
# 0.  Where |x| < 1 and n is large (above 6, or 8 for U, V, W unshifted) the Chebyshev
# families take their trigonometric forms, as torch's do; the shifted ones are the same at
# 2x - 1 (their cases at x = 0 and 1: at 2x - 1 = -1 and 1).
def poly_degree(n):
    """n as torch's static_cast<int64_t> makes it, -1 for what becomes int64's minimum."""
    if n != n or not -9.223372036854775808e18 < n < 9.223372036854775808e18:
        return -1
    return int(n)


def chebyshev_recurrence(x, q, n):
    """r_n of r_k = 2x r_(k-1) - r_(k-2) from r_0 = 1 and r_1 = q (n >= 1): the Chebyshev
    families T, U, V, W differ only in r_1 (x, 2x, 2x - 1, 2x + 1)."""
    p = 1.0
    for _ in range(2, n + 1):
        p, q = q, (x + x) * q - p
    return q


def chebyshev_t_at(x, n, trig_above):
    n = poly_degree(n)
    if n < 0:
        return 0.0
    if abs(x) == 1.0:
        return 1.0 if x > 0.0 or n % 2 == 0 else -1.0
    if n > trig_above and abs(x) < 1.0:
        return math.cos(n * math.acos(x))
    if n == 0:
        return 1.0
    return chebyshev_recurrence(x, x, n)


def chebyshev_u_at(x, n, trig_above):
    n = poly_degree(n)
    if n < 0:
        return 0.0
    if abs(x) == 1.0:
        return n + 1.0 if x > 0.0 or n % 2 == 0 else -(n + 1.0)
    if n > trig_above and abs(x) < 1.0:
        t = math.acos(x)
        if math.sin(t) != 0.0:
            return math.sin((n + 1) * t) / math.sin(t)
        return (n + 1) * math.cos((n + 1) * t) / x
    if n == 0:
        return 1.0
    return chebyshev_recurrence(x, x + x, n)


def chebyshev_v_at(x, n, trig_above):
    n = poly_degree(n)
    if n < 0:
        return 0.0
    if abs(x) == 1.0:
        if x > 0.0:
            return 1.0
        return n + n + 1.0 if n % 2 == 0 else -(n + n + 1.0)
    if n > trig_above and abs(x) < 1.0:
        t = math.acos(x)
        if math.sin(t / 2.0) != 1.0:
            return math.cos((n + 0.5) * t) / math.cos(t / 2.0)
        return n + n + 1.0 if n % 2 == 0 else -(n + n + 1.0)
    if n == 0:
        return 1.0
    return chebyshev_recurrence(x, x + x - 1.0, n)


def chebyshev_w_at(x, n, trig_above):
    n = poly_degree(n)
    if n < 0:
        return 0.0
    if abs(x) == 1.0:
        if x > 0.0:
            return n + n + 1.0
        return 1.0 if n % 2 == 0 else -1.0
    if n > trig_above and abs(x) < 1.0:
        t = math.acos(x)
        if math.cos(t / 2.0) != 1.0:
            return math.sin((n + 0.5) * t) / math.sin(t / 2.0)
        if x > 0.0:
            return n + n + 1.0
        return 1.0 if n % 2 == 0 else -1.0
    if n == 0:
        return 1.0
    return chebyshev_recurrence(x, x + x + 1.0, n)


def chebyshev_t(x, n):
    """The Chebyshev polynomial of the first kind T_n(x)."""
    return chebyshev_t_at(x, n, 6)


def chebyshev_u(x, n):
    """The Chebyshev polynomial of the second kind U_n(x)."""
    return chebyshev_u_at(x, n, 8)


def chebyshev_v(x, n):
    """The Chebyshev polynomial of the third kind V_n(x)."""
    return chebyshev_v_at(x, n, 8)


def chebyshev_w(x, n):
    """The Chebyshev polynomial of the fourth kind W_n(x)."""
    return chebyshev_w_at(x, n, 8)


def shifted_chebyshev_t(x, n):
    """T*_n(x) = T_n(2x - 1)."""
    return chebyshev_t_at(x + x - 1.0, n, 6)


def shifted_chebyshev_u(x, n):
    """U*_n(x) = U_n(2x - 1)."""
    return chebyshev_u_at(x + x - 1.0, n, 6)


def shifted_chebyshev_v(x, n):
    """V*_n(x) = V_n(2x - 1)."""
    return chebyshev_v_at(x + x - 1.0, n, 6)


def shifted_chebyshev_w(x, n):
    """W*_n(x) = W_n(2x - 1)."""
    return chebyshev_w_at(x + x - 1.0, n, 6)


def hermite_h(x, n):
    """The physicists' Hermite polynomial H_n(x)."""
    n = poly_degree(n)
    if n < 0:
        return 0.0
    if n == 0:
        return 1.0
    if n == 1:
        return x + x
    p = 1.0
    q = x + x
    r = 0.0
    for k in range(2, n + n, 2):
        r = (x + x) * q - k * p
        p = q
        q = r
    return r


def hermite_he(x, n):
    """The probabilists' Hermite polynomial He_n(x)."""
    n = poly_degree(n)
    if n < 0:
        return 0.0
    if n == 0:
        return 1.0
    if n == 1:
        return x
    p = 1.0
    q = x
    r = 0.0
    for k in range(1, n):
        r = x * q - k * p
        p = q
        q = r
    return r


def laguerre_l(x, n):
    """The Laguerre polynomial L_n(x)."""
    n = poly_degree(n)
    if n < 0:
        return 0.0
    if abs(x) == 0.0:
        return 1.0
    if n == 0:
        return 1.0
    if n == 1:
        return 1.0 - x
    p = 1.0
    q = 1.0 - x
    r = 0.0
    for k in range(1, n):
        r = (((k + k) + (1.0 - x)) * q - k * p) / (k + 1)
        p = q
        q = r
    return r


def legendre_p(x, n):
    """The Legendre polynomial P_n(x)."""
    n = poly_degree(n)
    if n < 0:
        return 0.0
    if abs(x) == 1.0:
        return 1.0 if x > 0.0 or n % 2 == 0 else -1.0
    if n == 0:
        return 1.0
    if n == 1:
        return x
    p = 1.0
    q = x
    r = 0.0
    for k in range(1, n):
        r = ((k + k + 1) * x * q - k * p) / (k + 1)
        p = q
        q = r
    return r
