"""torch's `out=` keyword on the top-level functions (tapegrad/out_arg.py): a differential
table against torch (the returned object, values, dtype, shape, version bump, warnings and
errors) over functions x cases, and torch-free checks."""
import re
import warnings

import numpy as np
import pytest

import tapegrad
from torch_errors import assert_same_error

RNG = np.random.default_rng(0)
DATA = {"x": RNG.uniform(0.5, 1.5, (3, 4)).astype(np.float32),
        "y": RNG.uniform(0.5, 1.5, (3, 4)).astype(np.float32),
        "m": RNG.uniform(0.5, 1.5, (4, 2)).astype(np.float32),
        "v": RNG.uniform(0.5, 1.5, (4,)).astype(np.float32),
        "b3": RNG.uniform(0.5, 1.5, (2, 3, 4)).astype(np.float32),
        "c3": RNG.uniform(0.5, 1.5, (2, 4, 2)).astype(np.float32),
        "i": np.array([[2, 0, 1, 3], [1, 1, 0, 2], [0, 3, 2, 1]], np.int64),
        "k": np.array([[0, 2], [1, 0], [2, 1]], np.int64)}
DATA["sq"] = (RNG.uniform(0.5, 1.5, (3, 3)) + 3 * np.eye(3)).astype(np.float32)
DATA["spd"] = (DATA["sq"] @ DATA["sq"].T).astype(np.float32)
DATA["t3"] = RNG.uniform(0.5, 1.5, (3,)).astype(np.float32)

# name -> the call's inputs (by DATA key; "mask" is x > 1) and its other arguments
FUNCS = {
    "exp": (("x",), {}), "sin": (("x",), {}), "sqrt": (("x",), {}), "abs": (("x",), {}),
    "neg": (("x",), {}), "sigmoid": (("x",), {}), "round": (("x",), {}),
    "floor": (("x",), {}), "logical_not": (("x",), {}), "signbit": (("x",), {}),
    "isposinf": (("x",), {}), "reciprocal": (("x",), {}),
    "add": (("x", "y"), {}), "add_alpha": (("x", "y"), {"alpha": 2}), "sub": (("x", "y"), {}),
    "mul": (("x", "y"), {}), "mul_number": (("x", 3), {}), "div": (("x", "y"), {}),
    "div_floor": (("x", "y"), {"rounding_mode": "floor"}), "pow": (("x", "y"), {}),
    "pow_number": (("x", 2), {}), "maximum": (("x", "y"), {}), "atan2": (("x", "y"), {}),
    "fmod": (("x", "y"), {}), "remainder": (("x", "y"), {}), "eq": (("x", "y"), {}),
    "lt": (("x", "y"), {}), "logical_and": (("x", "y"), {}), "multiply": (("x", "y"), {}),
    "bitwise_and": (("i", "i"), {}), "add_int": (("i", "i"), {}),
    "sum": (("x", 0), {}), "mean": (("x", 1), {}),
    "prod": (("x", 0), {}), "amax": (("x", 0), {}), "std": (("x", 0), {}),
    "logsumexp": (("x", 1), {}), "cumsum": (("x", 1), {}), "argmax": (("x", 0), {}),
    "all": (("x", 0), {}), "any": (("x", 1), {}), "norm": (("x",), {"dim": 0}),
    "matmul": (("x", "m"), {}), "mm": (("x", "m"), {}), "bmm": (("b3", "c3"), {}),
    "mv": (("x", "v"), {}), "dot": (("v", "v"), {}), "outer": (("v", "v"), {}),
    "cat": ((["x", "y"],), {}), "cat1": ((["x", "y"], 1), {}), "stack": ((["x", "y"],), {}),
    "hstack": ((["x", "y"],), {}),
    "max": (("x", 1), {}), "max_binary": (("x", "y"), {}), "min": (("x", 0), {}),
    "sort": (("x",), {}), "topk": (("x", 2), {}), "kthvalue": (("x", 2), {}),
    "median": (("x", 0), {}), "mode": (("x", 1), {}), "cummax": (("x", 1), {}),
    "aminmax": (("x",), {"dim": 0}),
    "where": (("mask", "x", "y"), {}), "clamp": (("x", 0.8, 1.2), {}),
    "clamp_tensor": (("x", "y"), {}), "tril": (("x",), {}), "gather": (("x", 1, "k"), {}),
    "softmax": (("x", 1), {}), "xlogy": (("x", "y"), {}), "lerp": (("x", "y", 0.3), {}),
    # torch.special (its messages name special_<name>, or the op an alias is)
    "special.bessel_j0": (("x",), {}), "special.airy_ai": (("x",), {}),
    "special.modified_bessel_k0": (("x",), {}), "special.spherical_bessel_j0": (("x",), {}),
    "special.i0e": (("x",), {}), "special.erfcx": (("x",), {}), "special.expit": (("x",), {}),
    "special.gammaln": (("x",), {}), "special.psi": (("x",), {}), "special.round": (("x",), {}),
    "special.logit": (("x",), {"eps": 0.1}), "special.ndtr": (("x",), {}),
    "special.log_ndtr": (("x",), {}), "special.logsumexp": (("x", 1), {}),
    "special.multigammaln": (("x", 1), {}), "special.polygamma": ((1, "x"), {}),
    "special.xlogy": (("x", "y"), {}), "special.xlog1py": (("x", 2.0), {}),
    "special.zeta": (("x", "y"), {}), "special.gammainc": (("x", "y"), {}),
    "special.chebyshev_polynomial_t": (("x", 3), {}),
    # torch.linalg's functions of one result
    "linalg.det": (("sq",), {}), "linalg.inv": (("sq",), {}), "linalg.solve": (("sq", "sq"), {}),
    "linalg.cholesky": (("spd",), {}), "linalg.svdvals": (("x",), {}),
    "linalg.eigvalsh": (("spd",), {}), "linalg.vector_norm": (("x",), {}),
    "linalg.matmul": (("x", "m"), {}), "linalg.cross": (("sq", "spd"), {}),
    "linalg.solve_triangular": (("spd", "sq"), {"upper": False}),
    "linalg.multi_dot": ((["x", "m"],), {}), "linalg.vecdot": (("x", "x"), {}),
    "linalg.pinv": (("x",), {}), "linalg.cond": (("sq",), {}),
    "linalg.tensorinv": (("sq",), {"ind": 1}), "linalg.tensorsolve": (("sq", "t3"), {}),
    "linalg.matrix_rank": (("x",), {}), "linalg.matrix_norm": (("x",), {}),
    "linalg.norm": (("x",), {}), "linalg.householder_product": (("sq", "t3"), {}),
    "linalg.slogdet": (("sq",), {}), "linalg.eigh": (("spd",), {}), "linalg.qr": (("x",), {}),
    "linalg.svd": (("x", False), {}), "linalg.inv_ex": (("sq",), {}),
    "linalg.solve_ex": (("sq", "spd"), {}), "linalg.cholesky_ex": (("spd",), {}),
    "linalg.lu_factor": (("sq",), {}), "linalg.lu_factor_ex": (("sq",), {}),
    "linalg.lu": (("sq",), {}),
}


def _op(M, name):
    if name.startswith(("special.", "linalg.")):
        space, _, name = name.partition(".")
        return getattr(getattr(M, space), name)
    return getattr(M, re.sub(r"_(alpha|number|floor|all|int|binary|tensor)$|1$", "", name))


def _inputs(M, name, grad=False):
    spec, kwargs = FUNCS[name]

    def one(a):
        if isinstance(a, list):
            return [one(b) for b in a]
        if not isinstance(a, str):
            return a
        if a == "mask":
            return M.tensor(DATA["x"] > 1)
        t = M.tensor(DATA[a])
        return t.requires_grad_() if grad and t.dtype.is_floating_point else t
    return [one(a) for a in spec], kwargs


def _like(M, r, dtype=None, shape=None):
    name = str(dtype or r.dtype).split(".")[-1]
    return M.zeros(r.shape if shape is None else shape, dtype=getattr(M, name))


def _outs(M, name, case, args):
    """The out argument of a case (a tensor, or a list for an op with several results) and
    the tensor whose values show a view's write-through."""
    with M.no_grad():
        ref = _op(M, name)(*args, **FUNCS[name][1])
    refs = list(ref) if isinstance(ref, tuple) else [ref]
    if case in ("same", "grad", "nograd"):
        outs = [_like(M, r) for r in refs]
    elif case in ("double", "long", "bool", "float"):
        dt = {"double": "float64", "long": "int64", "bool": "bool", "float": "float32"}[case]
        outs = [_like(M, r, dtype=dt) for r in refs]
    elif case == "resize":
        outs = [_like(M, r, shape=(7,)) for r in refs]
    elif case == "empty":
        outs = [_like(M, r, shape=(0,)) for r in refs]
    elif case == "view":      # a non-contiguous view: its base shows the write
        bases = [_like(M, r, shape=tuple(r.shape) + (2,)) for r in refs]
        outs = [b[..., 1] for b in bases]
        return (outs if isinstance(ref, tuple) else outs[0]), bases
    return (outs if isinstance(ref, tuple) else outs[0]), None


def _clean(msg):
    return re.sub(r" \(Triggered internally at [^)]*\)", "", str(msg)).replace("tapegrad", "torch")


def _np(t):
    return t.detach().numpy().copy()


# factorizations whose vectors' signs are the LAPACK build's choice (numpy's and torch's
# may differ, by CPU): their outs are compared in magnitude
SIGN_CHOSEN = {"linalg.eigh", "linalg.qr", "linalg.svd"}


def outcome(M, name, case):
    shown = (lambda t: np.abs(_np(t))) if name in SIGN_CHOSEN else _np
    args, kwargs = _inputs(M, name, grad=case in ("grad", "nograd"))
    if case == "alias":
        out = args[0]
    else:
        out, bases = _outs(M, name, case, args)
    outs = list(out) if isinstance(out, list) else [out]
    before = [o._version for o in outs]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            if case == "nograd":
                with M.no_grad():
                    r = _op(M, name)(*args, **kwargs, out=out)
            else:
                r = _op(M, name)(*args, **kwargs, out=out)
        except Exception as e:
            return ("raises", type(e).__name__, _clean(e), [_clean(x.message) for x in w])
    rs = list(r) if isinstance(r, tuple) else [r]
    resized = case in ("resize", "empty")
    return ("returns", type(r).__name__.split(".")[-1], [a is b for a, b in zip(rs, outs)],
            [(shown(o), str(o.dtype).split(".")[-1], tuple(o.shape),
              # (tapegrad's resize bumps the counter too: only "bumped" is compared then)
              o._version > v if resized else o._version - v)
             for o, v in zip(outs, before)],
            None if case != "view" else [shown(b) for b in bases],
            [_clean(x.message) for x in w])


def _same(a, b):
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.allclose(
            a.astype(np.float64), b.astype(np.float64), rtol=1e-5, atol=1e-6, equal_nan=True)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


# where tapegrad differs (tapegrad/out_arg.py's docstring): torch reduces integer outs in
# out's dtype (the inputs truncated first), checks a few ops' dtypes with messages of their own,
# and resizes kthvalue's / mode's outs through a keepdim shape
DIFFERS = {("sum", "long"), ("prod", "long"), ("cumsum", "long"), ("cumsum", "bool"),
           ("kthvalue", "resize"), ("mode", "resize"),
           *((n, c) for n in ("clamp_tensor", "median", "mv") for c in ("double", "long", "bool")),
           # torch's special.ndtr writes into out with a graph; special.multigammaln's cast
           # error names Float as the out dtype
           ("special.ndtr", "grad"), ("special.multigammaln", "long"),
           ("special.multigammaln", "bool"),
           # torch resizes eigh's and svd's outs in another order (its resize warnings)
           ("linalg.eigh", "resize"), ("linalg.svd", "resize")}
CASES = ["same", "double", "long", "bool", "resize", "empty", "grad", "nograd", "view"]
ALIASED = [n for n, (spec, _) in FUNCS.items()
           if len(spec) >= 2 and spec[:2] in (("x", "y"), ("i", "i")) and n not in (
               "max_binary",)]


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_out_as_torch(torch, name):
    for case in CASES + (["alias"] if name in ALIASED else []):
        if (name, case) in DIFFERS:
            continue
        theirs, ours = outcome(torch, name, case), outcome(tapegrad, name, case)
        assert _same(ours, theirs), (case, ours, theirs)


def test_same_object_and_values_without_torch():
    x, y = tapegrad.tensor(DATA["x"]), tapegrad.tensor(DATA["y"])
    out = tapegrad.empty(3, 4)
    assert tapegrad.mul(x, y, out=out) is out
    assert out.tolist() == tapegrad.mul(x, y).tolist()
    vals, idx = tapegrad.empty(0), tapegrad.empty(0, dtype=tapegrad.int64)
    r = tapegrad.max(x, 1, out=[vals, idx])
    assert type(r) is tapegrad.return_types.max_out and r.values is vals and r[1] is idx
    assert (vals.tolist(), idx.tolist()) == tuple(v.tolist() for v in tapegrad.max(x, 1))
    with pytest.raises(TypeError, match="expected tuple of 2 elements but got 3"):
        tapegrad.max(x, 1, out=(vals, idx, vals))
    with pytest.raises(TypeError, match="unexpected keyword argument 'out'"):
        tapegrad.reshape(x, (4, 3), out=out)      # (torch's reshape has no out=)


def test_out_functions_are_wrapped_once():
    from tapegrad import out_arg
    wrapped = [n for n in out_arg.OUT_NAMES if getattr(getattr(tapegrad, n, None), "_out_arg",
                                                         False)]
    assert len(wrapped) > 200
    for n in wrapped:     # one wrapper deep: the wrapped function has no out= of ours
        assert not getattr(getattr(getattr(tapegrad, n), "__wrapped__", None), "_out_arg", False)


def test_warnings_point_at_the_callers_line_through_the_out_wrapper():
    tg = tapegrad
    """A function given out= by out_arg.with_out warns at the user's line, not the wrapper's
    (torch.range's deprecation; warn_once's messages, e.g. bucketize's)."""
    import warnings
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        tg.range(0, 1)
        tg.set_warn_always(True)
        try:
            tg.bucketize(tg.tensor([[1.5, 2.0], [3.0, 0.0]]).t(), tg.tensor([1.0, 2.0]))
        finally:
            tg.set_warn_always(False)
    assert w and all(x.filename == __file__ for x in w), [(x.filename, str(x.message)) for x in w]


@pytest.mark.parametrize("call", [
    lambda M: M.det(M.eye(2), out=M.empty(0)),                       # (torch.det has no out=)
    lambda M: M.inverse(M.eye(2, requires_grad=True), out=M.empty(0)),
    lambda M: M.linalg.inv(M.eye(2), out="s"),
    lambda M: M.linalg.inv_ex(M.eye(2), out=(M.empty(0), M.empty(0, dtype=M.int64))),
    lambda M: M.linalg.eigh(M.eye(2), out=M.empty(0)),
    lambda M: M.linalg.lu_solve(*M.linalg.lu_factor(M.eye(2)), M.eye(2),
                                out=M.empty(0, dtype=M.float64)),
    *(lambda M, d=d: M.linalg.lstsq(M.ones(3, 2) + M.eye(3, 2), M.ones(3, 1),
                                    out=tuple(M.empty(0, dtype=getattr(M, t)) for t in d))
      for d in (("float64", "float32", "int64", "float32"), ("int64", "float32", "int64",
                                                             "float32"),
                ("float32", "int64", "int64", "float32"), ("float32", "float32", "float32",
                                                           "float32"),
                ("float32", "float32", "int64", "int64"), ("float32", "float32", "int64"))),
])
def test_linalg_out_messages_as_torch(torch, call):
    """torch's messages."""
    got = []
    for M in (torch, tapegrad):
        try:
            call(M)
            got.append(None)
        except Exception as e:
            got.append((type(e).__name__, _clean(e)))
    assert got[1] == got[0]


def test_linalg_out_of_several_results_without_torch():
    A = tapegrad.tensor([[4.0, 1.0], [1.0, 3.0]])
    outs = (tapegrad.empty(0), tapegrad.empty(0, dtype=tapegrad.int32))
    r = tapegrad.linalg.lu_factor(A, out=outs)
    assert type(r).__name__ == "linalg_lu_factor_out" and r.LU is outs[0] and r[1] is outs[1]
    want = tapegrad.linalg.lu_factor(A)
    assert r.LU.tolist() == want.LU.tolist() and r.pivots.tolist() == want.pivots.tolist()


def _factory_outs(m):
    out = []
    for make in (lambda: m.arange(3, out=m.empty(2)), lambda: m.arange(0, 1, 0.3, out=m.empty(5)),
                 lambda: m.arange(3, out=m.empty(0)), lambda: m.arange(4, out=m.empty(2, 2)),
                 lambda: m.linspace(0, 1, 3, out=m.empty(2)),
                 lambda: m.logspace(0, 1, 3, out=m.empty(2, 2)),
                 lambda: m.zeros(2, 2, out=m.empty(5)), lambda: m.ones(3, out=m.empty(1)),
                 lambda: m.full((3,), 1.5, out=m.empty(1)), lambda: m.eye(2, out=m.empty(1)),
                 lambda: m.empty(3, out=m.empty(1)).zero_(),
                 lambda: m.add(m.ones(3), 1, out=m.empty(1))):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            o = make()
        out.append((list(o.shape), o.tolist(), [str(x.message).split(" (Triggered")[0]
                                                 for x in w]))
    return out


def test_factory_outs_resize_as_torch():
    """The factories resize their out themselves: silently (zeros, ones, full, eye,
    linspace, ...), arange with its own warning and keeping an out of the right count in its
    shape; tapegrad gave them all resize_output's deprecation warning, and resized arange's
    [2, 2] out to [4]."""
    torch = pytest.importorskip("torch")
    assert _factory_outs(tapegrad) == _factory_outs(torch)


# float_power's result is float64 whatever its inputs: torch refuses an out of another dtype
# (tapegrad cast into it)
@pytest.mark.parametrize("call", [
    lambda m: m.float_power(m.ones(3), 2, out=m.empty(3)),
    lambda m: m.float_power(2, m.ones(3), out=m.empty(3, dtype=m.int64)),
    lambda m: m.float_power(self=2, exponent=m.ones(3), out=m.empty(3)),
])
def test_float_power_out_dtype_as_torch(call):
    torch = pytest.importorskip("torch")
    assert_same_error(call, torch)


def test_float_power_out_float64():
    o = tapegrad.empty(3, dtype=tapegrad.float64)
    assert tapegrad.float_power(tapegrad.ones(3), 2, out=o) is o and o.tolist() == [1.0] * 3


def test_out_binds_only_the_forms_that_take_it(torch):
    # (where(c, x, 0.0) and remainder(2, x) have Number forms without out=: with out= torch's
    # parser refuses them; floor_divide, div & co take numbers as tensors)
    calls = [lambda m, o: m.where(m.tensor([True, False]), m.ones(2), 0.0, out=o),
             lambda m, o: m.where(m.tensor([True, False]), 1, m.ones(2), out=o),
             lambda m, o: m.remainder(2, m.ones(2), out=o),
             lambda m, o: m.remainder(self=2, other=m.ones(2), out=o),
             lambda m, o: m.bitwise_and(2, m.ones(2, dtype=m.int64), out=o.long()),
             lambda m, o: m.bitwise_left_shift(2, m.ones(2, dtype=m.int64), out=o.long()),
             lambda m, o: m.floor_divide(2, m.ones(2), out=o),
             lambda m, o: m.floor_divide(m.ones(2), 2, out=o),
             lambda m, o: m.remainder(m.ones(2), 2, out=o),
             lambda m, o: m.subtract(2, m.ones(2), out=o),
             lambda m, o: m.where(m.tensor([True, False]), m.ones(2), m.zeros(2), out=o)]
    for f in calls:
        got, want = (_error(lambda: f(m, m.empty(2))) for m in (tapegrad, torch))
        assert got == want


def test_an_explicit_out_none_is_given(torch):
    """out=None counts as given to torch's parser: the forms without out= do not bind (sum
    without dim, remainder and where with a Number, bernoulli's float p); tapegrad's wrappers
    read None as no out."""
    calls = [lambda m: m.sum(m.ones(2), out=None), lambda m: m.sum(m.ones(2), 0, out=None),
             lambda m: m.remainder(2, m.ones(2), out=None),
             lambda m: m.where(m.tensor([True, False]), m.ones(2), 0.0, out=None),
             lambda m: m.reshape(m.ones(2), (2,), out=None),
             lambda m: m.add(m.ones(2), 1, out=None), lambda m: m.exp(m.zeros(2), out=None),
             lambda m: m.atan2(m.zeros(2), m.ones(2), out=None),
             lambda m: m.cat([m.ones(1)], out=None)]
    for f in calls:
        got, want = (_error(lambda: f(m)) for m in (tapegrad, torch))
        assert got == want


def _error(fn):
    try:
        r = fn()
    except TypeError as e:
        return str(e)
    return r.tolist()


# torch's parser lists a call's keywords, out= among them, by the order the call gave them
# (errors.kwargs_order); tapegrad's out= wrappers took out= as a parameter and listed it
# after the others.  With out= given, a hot function's (torch.add's) wrong argument was the
# method's complaint, counted from the method's first argument ("position 1"), and a
# factory's dtype= that is no dtype an AttributeError.
@pytest.mark.parametrize("call", [
    lambda m: m.arange(1, out=m.empty(3), dtype=m.float32, foo=3),
    lambda m: m.arange(1, 2, out=m.empty(3), bad=1),
    lambda m: m.arange(3, out=None, dtype=1),
    lambda m: m.linspace(0, 1, out=m.empty(3), steps="a"),
    lambda m: m.randn(3, out=m.empty(3), generator=1),
    lambda m: m.eye(3, out=m.empty(2, 2), m="a"),
    lambda m: m.clamp(m.ones(3), out=m.empty(3), min="a"),
    lambda m: m.add(m.ones(3), out=m.empty(3), other=m.ones(3), foo=1, alpha="a"),
    lambda m: m.add(m.ones(3), "a", out=m.empty(3)),
    lambda m: m.mul(m.ones(3), out=m.empty(3), other="a"),
    lambda m: m.sum(m.ones(3), out=m.empty(3), dim="a"),
    lambda m: m.sum(m.ones(3), out=m.empty(()), dtype=3),
    lambda m: m.zeros(3, out=m.empty(3), dtype=3),
    lambda m: m.full((3,), 1.0, dtype=3, out=m.empty(3)),
])
def test_out_keyword_in_messages_as_torch(call):
    torch = pytest.importorskip("torch")
    assert_same_error(call, torch)
