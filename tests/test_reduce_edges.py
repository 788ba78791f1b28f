"""Reductions and scans at inf / nan / zero / tie edges against torch 2.13: values, result
dtypes and every gradient, float32 and float64, with upstream gradients holding inf, -inf,
nan and 0.

Each input row below is an edge pattern; the rows stack into one (12, 4) matrix reduced (or
scanned) along dim 1, so a row's result and gradient depend on that row alone and each
difference is reported (and excused, see KNOWN) by row.  dim=None reduces each row on its
own (a 1-d tensor); the slow sweep adds dim 0 of the transposed matrix (strided slices),
single-element slices and keepdim.  Compared as test_fuzz_ops does: nan positions equal,
infinities equal with their sign, finite values allclose.
"""
import math
import re

import numpy as np
import pytest

import tapegrad

torch = pytest.importorskip("torch")

inf, nan = math.inf, math.nan

ROWS = {
    "inf": [1.0, inf, 2.0, -3.0],          # one +inf extreme
    "neginf": [-inf, 1.0, 2.0, 0.5],       # one -inf
    "nan": [nan, 1.0, 2.0, -1.0],
    "zeros": [0.0, 2.0, 0.0, 3.0],         # two zeros (prod, cumprod), tied minima
    "tie": [2.0, 2.0, 1.0, -1.5],          # tied maxima
    "infs": [inf, inf, -inf, 1.0],         # tied infinities of both signs
    "zero_inf": [0.0, inf, 1.0, 2.0],      # a zero and an inf (prod: 0 * inf)
    "zero": [0.0, 1.5, -2.0, 3.0],         # one zero
    "nan_inf": [nan, inf, 1.0, nan],
    "same": [-1.0, -1.0, -1.0, -1.0],      # all tied (std 0, the norm's kink)
    "zero_neginf": [0.0, 0.0, -inf, 1.0],
    "finite": [1.0, 0.5, -2.0, 0.25],
}
LABELS = list(ROWS)
MATRIX = np.array([ROWS[k] for k in LABELS])

# upstream gradients: one per output element of a row (a reduction's) or per element (a scan's)
SCALAR_GRADS = {"fin": None, "inf": inf, "-inf": -inf, "nan": nan, "zero": 0.0}
ROW_GRADS = {"fin": None, "inf@0": (0, inf), "inf@3": (3, inf), "nan@1": (1, nan),
             "-inf@2": (2, -inf), "zero@0": (0, 0.0)}


def _v(r):
    """A namedtuple result's values (max(dim), cummax, mode, ...); others as they are."""
    return r[0] if isinstance(r, tuple) else r


def _red(name, **kw):
    def fn(m, x, dim, keepdim):
        f = getattr(m, name)
        return _v(f(x, **kw) if dim is None else f(x, dim, keepdim=keepdim, **kw))
    return fn


def _stat(name, correction):
    def fn(m, x, dim, keepdim):
        f = getattr(m, name)
        r = f(x, correction=correction) if dim is None else \
            f(x, dim, keepdim=keepdim, correction=correction)
        return r[0] + 2.0 * r[1] if isinstance(r, tuple) else r
    return fn


def _norm(p, vector):
    def fn(m, x, dim, keepdim):
        if vector:
            return m.linalg.vector_norm(x, p) if dim is None else \
                m.linalg.vector_norm(x, p, dim, keepdim=keepdim)
        return m.norm(x, p) if dim is None else m.norm(x, p, dim, keepdim=keepdim)
    return fn


def _scan(name):
    def fn(m, x, dim, keepdim):
        return _v(getattr(m, name)(x, 0 if dim is None else dim))
    return fn


def _aminmax(m, x, dim, keepdim):
    r = m.aminmax(x) if dim is None else m.aminmax(x, dim=dim, keepdim=keepdim)
    return r.min + 2.0 * r.max


def _quantile(m, x, dim, keepdim):
    return m.quantile(x, 0.3) if dim is None else m.quantile(x, 0.3, dim, keepdim=keepdim)


def _logsumexp(m, x, dim, keepdim):
    return m.logsumexp(x, 0 if dim is None else dim, keepdim=keepdim and dim is not None)


REDUCTIONS = {
    "sum": _red("sum"), "mean": _red("mean"), "nansum": _red("nansum"),
    "nanmean": _red("nanmean"), "prod": _red("prod"), "amax": _red("amax"),
    "amin": _red("amin"), "max": _red("max"), "min": _red("min"), "logsumexp": _logsumexp,
    "median": _red("median"), "nanmedian": _red("nanmedian"), "aminmax": _aminmax,
    "quantile": _quantile,
    "x.max": lambda m, x, dim, keepdim: x.max() if dim is None else
    x.max(dim=dim, keepdim=keepdim).values,
    **{f"{n}{c}": _stat(n, c) for n in ("std", "var", "std_mean", "var_mean") for c in (0, 1)},
    **{f"norm{p}": _norm(p, False) for p in (1, 2, inf, -inf, 0, 3)},
    **{f"vector_norm{p}": _norm(p, True) for p in (1, 2, inf, -inf, 0, 3)},
}
SCANS = {n: _scan(n) for n in ("cumsum", "cumprod", "cummax", "cummin", "logcumsumexp",
                               "softmax", "log_softmax")}
ALL = {**REDUCTIONS, **SCANS}

# Differences left as they are: (op name pattern, row labels, gradient labels, cause), and
# optionally the sweeps they hold in (a pattern of _unexcused's `where`).  "*" matches every
# row or gradient.
_INF_GRADS = ("inf", "-inf")
KNOWN = [
    ("logcumsumexp", ("inf", "infs", "nan", "nan_inf", "neginf", "zero_inf", "zero_neginf"),
     "*",
     # torch's logcumsumexp_backward works in log space, split by grad's sign
     # (where(grad > 0, log|grad|, lowest)): an infinite element gives exp(inf - inf), nan;
     # the scan's logaddexp gradient (the product rule's) is finite there
     "logcumsumexp_log_space_backward"),
    ("logcumsumexp", "*", ("nan@1",),
     # ... and a nan grad falls in neither sign's part: torch counts it as 0
     "logcumsumexp_log_space_backward"),
    ("prod", ("zeros", "zero_neginf"), "*",
     # dim=None with two zeros or more: torch's plain backward is zeros (prod_backward's
     # shortcut with grad mode off), under create_graph the exclusive products, as the
     # tree's (0 * inf = nan with an inf grad or element)
     "prod_two_zeros_shortcut"),
    ("(std|var|std_mean|var_mean)[01]", ("finite", "tie", "zero", "zeros"), _INF_GRADS,
     # finite x, an inf grad: the mean's path adds grad * sum(x - mean) / n (inf * ~0: nan);
     # torch's (2 / (n - c)) * grad * (x - mean) has no such term.  Dropping it for finite x
     # would drop the -1/n term of create_graph second derivatives (torch's)
     "moment_mean_path"),
]


def _known(op, row, grad, where):
    for pat, rows, grads, *rest in KNOWN:
        if re.fullmatch(pat, op) and (rows == "*" or row in rows) and \
                (grads == "*" or grad in grads) and (
                    len(rest) == 1 or re.fullmatch(rest[1], where)):
            return True
    return False


def _grad_array(shape, spec, per_row):
    """The upstream gradient for an output of this shape: a finite ramp, or a ramp with one
    special value (per_row: at one element of each row; else everywhere)."""
    n = int(np.prod(shape)) if shape else 1
    g = np.linspace(0.5, 1.5, n).reshape(shape)
    if spec is None:
        return g
    if per_row:
        at, v = spec
        g[..., at] = v
        return g
    return np.full(shape, spec)


def _run(m, fn, arr, dtype, dim, keepdim, g):
    x = m.tensor(arr, dtype=getattr(m, dtype), requires_grad=True)
    try:
        out = fn(m, x, dim, keepdim)
    except Exception as e:  # noqa: BLE001 (compared with torch's)
        return "raise", type(e).__name__, str(e)
    if g is None:
        return "ok", out, None
    out.backward(m.tensor(g, dtype=out.dtype))
    return "ok", out, x.grad


def _as_array(t):
    """t's values as float64; None (no gradient: norm's p=0) as it is."""
    return None if t is None else np.asarray(t.detach().tolist(), dtype=np.float64)


def _differs(a, b, dtype):
    """Whether arrays a (ours) and b (torch's) differ: nan or inf positions, finite values."""
    if a is None or b is None:
        return (a is None) != (b is None)
    if a.shape != b.shape:
        return True
    if not np.array_equal(np.isnan(a), np.isnan(b)) or \
            not np.array_equal(np.isposinf(a), np.isposinf(b)) or \
            not np.array_equal(np.isneginf(a), np.isneginf(b)):
        return True
    fin = np.isfinite(b)
    rtol, atol = (1e-5, 1e-6) if dtype == "float32" else (1e-10, 1e-12)
    return not np.allclose(a[fin], b[fin], rtol=rtol, atol=atol)


def _compare(op, arr, labels, dtype, dim, keepdim, row_axis):
    """Differences of op over arr (rows along row_axis, labelled) for every gradient pattern:
    a list of (op, row label, gradient label, description)."""
    fn = ALL[op]
    found = []
    ref = _run(torch, fn, arr, dtype, dim, keepdim, None)
    ours = _run(tapegrad, fn, arr, dtype, dim, keepdim, None)
    if ref[0] == "raise" or ours[0] == "raise":
        if ours[:1] + ours[1:] != ref:
            found.append((op, "*", "-", f"{ours} vs torch {ref}"))
        return found
    if str(ours[1].dtype).split(".")[-1] != str(ref[1].dtype).split(".")[-1]:
        found.append((op, "*", "-", f"dtype {ours[1].dtype} vs {ref[1].dtype}"))
    per_row = op in SCANS
    for glabel, spec in (ROW_GRADS if per_row else SCALAR_GRADS).items():
        g = _grad_array(tuple(ref[1].shape), spec, per_row)
        a = _run(tapegrad, fn, arr, dtype, dim, keepdim, g)
        b = _run(torch, fn, arr, dtype, dim, keepdim, g)
        va, vb = _as_array(a[1]), _as_array(b[1])
        ga, gb = _as_array(a[2]), _as_array(b[2])
        for i, label in enumerate(labels):
            if len(labels) == 1:
                rows = (va, vb, ga, gb)
            else:   # row i: along axis 0, or along axis 1 of the transposed matrix
                rows = tuple(t if t is None else t[i] if row_axis == 0 or t.ndim == 1 else t[:, i]
                             for t in (va, vb, ga, gb))
            if _differs(rows[0], rows[1], dtype) or _differs(rows[2], rows[3], dtype):
                found.append((op, label, glabel,
                              f"value {rows[0]} vs {rows[1]}; grad {rows[2]} vs {rows[3]}"))
    return found


def _unexcused(found, dtype, where):
    bad = [f for f in found if not _known(f[0], f[1], f[2], where)]
    return "\n".join(f"{op} {where} {dtype} row {row} ({ROWS.get(row)}) grad {gl}: {d}"
                     for op, row, gl, d in bad)


@pytest.mark.parametrize("op", list(ALL))
def test_edges_dim(op):
    """Along dim 1 of the stacked rows (keepdim off), and each row reduced whole (float64;
    float32 in the slow sweep)."""
    msgs = []
    for dtype in ("float64", "float32"):
        msgs.append(_unexcused(_compare(op, MATRIX, LABELS, dtype, 1, False, 0), dtype,
                               "dim=1"))
    for label in LABELS:
        msgs.append(_unexcused(_compare(op, np.array(ROWS[label]), [label], "float64",
                                        None, False, 0), "float64", "dim=None"))
    msgs = [m for m in msgs if m]
    assert not msgs, "\n".join(msgs)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*degrees of freedom")   # (correction 1 of one element)
@pytest.mark.parametrize("op", list(ALL))
def test_edges_dim_slow(op):
    """keepdim, dim 0 of the transposed matrix (strided slices), one-element slices, and
    float32 rows reduced whole."""
    msgs = []
    for label in LABELS:
        msgs.append(_unexcused(_compare(op, np.array(ROWS[label]), [label], "float32",
                                        None, False, 0), "float32", "dim=None"))
    for dtype in ("float64", "float32"):
        msgs.append(_unexcused(_compare(op, MATRIX, LABELS, dtype, -1, True, 0), dtype,
                               "dim=-1 keepdim"))
        for keepdim in (False, True):
            msgs.append(_unexcused(_compare(op, MATRIX.T.copy(), LABELS, dtype, 0, keepdim,
                                            1), dtype, f"dim=0 of x.T keepdim={keepdim}"))
        for label in LABELS:   # single-element slices: dim 0 of one row as a (1, 4) matrix
            msgs.append(_unexcused(_compare(op, np.array([ROWS[label]]), [label], dtype, 0,
                                            False, 0), dtype, "dim=0 of (1, 4)"))
    msgs = [m for m in msgs if m]
    assert not msgs, "\n".join(msgs)


# ---- regressions (each failed before its fix) ----------------------------------------------
def _grads_as_torch(fn, rows, g, dtype="float64"):
    """fn(m, x) and x's gradient for upstream gradient g, ours and torch's, compared."""
    got = []
    for m in (tapegrad, torch):
        x = m.tensor(rows, dtype=getattr(m, dtype), requires_grad=True)
        y = fn(m, x)
        y.backward(m.tensor(g, dtype=y.dtype))
        got.append((_as_array(y), _as_array(x.grad)))
    (va, ga), (vb, gb) = got
    assert not _differs(va, vb, dtype), (va, vb)
    assert not _differs(ga, gb, dtype), (ga, gb)


@pytest.mark.parametrize("rows", [[1.0, inf, 2.0, -3.0], [-inf, 1.0, 2.0, 0.5],
                                  [nan, 1.0, 2.0, -1.0], [1e200, 1e200, 2.0, 0.5]])
def test_cumprod_without_a_zero_divides_as_torch(rows):
    # reversed_cumsum(result * grad) / input: nan at the inf (the product rule gave -5.83)
    _grads_as_torch(lambda m, x: x.cumprod(0), rows, [0.5, 0.8, 1.2, 1.5])


def test_logcumsumexp_nan_beside_inf_is_nan():
    # [nan, inf, 1, nan] was [nan, inf, inf, inf]
    for rows in ([nan, inf, 1.0, nan], [inf, nan], [nan, -inf, 2.0]):
        ours = tapegrad.tensor(rows, dtype=tapegrad.float64).logcumsumexp(0)
        theirs = torch.tensor(rows, dtype=torch.float64).logcumsumexp(0)
        assert not _differs(_as_array(ours), _as_array(theirs), "float64")


@pytest.mark.parametrize("p", [2, 3, 0.5, -1])
def test_one_element_norm_at_inf_and_zero(p):
    # at inf: torch's x * (grad / norm) is nan (|x|'s sgn gave 1); p = 3 at 0 with an inf
    # grad: torch's masked grad / norm^2 is 0 (sgn(0) * inf gave nan)
    _grads_as_torch(lambda m, x: m.linalg.vector_norm(x, p, 0), [[0.0, 2.0, inf, nan]],
                    [inf, 1.0, 1.0, 1.0])


def test_var_of_an_inf_input():
    # var of [1, inf, 2, -3]: torch's 2 / (n - 1) * grad * (x - mean), [-inf, nan, -inf,
    # -inf]; the mean's path made every element nan
    _grads_as_torch(lambda m, x: x.var(), [1.0, inf, 2.0, -3.0], 0.5)
    _grads_as_torch(lambda m, x: x.var(1), [[1.0, inf, 2.0, -3.0], [0.0, 1.0, 2.0, 3.0]],
                    [0.5, 2.0])


def test_prod_of_an_inf_without_zeros():
    # grad * result / input: nan at the inf (the tree gave -3), inf where it overflows
    _grads_as_torch(lambda m, x: x.prod(), [1.0, inf, 2.0, -3.0], 0.5)
    _grads_as_torch(lambda m, x: x.prod(1), [[1e200, 1e200, 2.0], [1.0, 2.0, 3.0]],
                    [1.0, 1.0])


@pytest.mark.parametrize("weight", [0.3, 0.7, "tensor"])
def test_lerp_gradient_with_an_inf_grad(weight):
    # torch's grad * (1 - w) and grad * w; the two-sided value's gradient was inf - inf
    # (quantile's interpolation with an inf grad)
    got = []
    for m in (tapegrad, torch):
        x = m.tensor([1.0, 2.0, -3.0], requires_grad=True)
        e = m.tensor([4.0, 0.5, 2.0], requires_grad=True)
        w = m.tensor([0.2, 0.7, 0.5]) if weight == "tensor" else weight
        y = m.lerp(x, e, w)
        y.backward(m.tensor([inf, 1.0, -inf]))
        got.append([_as_array(t) for t in (y, x.grad, e.grad)])
    for a, b in zip(*got):
        assert not _differs(a, b, "float32"), (a, b)
