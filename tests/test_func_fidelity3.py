"""torch.func gaps: linearize, functionalize, replace_all_batch_norm_modules_, vmap's
in_dims / out_dims errors, batches of size 0 and structseq outputs (torch.return_types), and
the transforms inside inference_mode and no_grad; differential against torch where it is
installed."""
import collections
import functools

import numpy as np
import pytest

import tapegrad as tg

NT = collections.namedtuple("NT", "a b")


def _libs():
    torch = pytest.importorskip("torch")
    return torch, tg


def _err(fn):
    try:
        fn()
    except Exception as e:      # noqa: BLE001
        return type(e).__name__, str(e).replace("torch.", "T.").replace("tapegrad.", "T.")
    return None


def _both(make):
    """`make(lib)` run with torch and with tapegrad: their (exception type, message)."""
    torch, _ = _libs()
    return _err(lambda: make(torch)), _err(lambda: make(tg))


def _arr(t):
    return np.asarray(t.detach().cpu().numpy() if hasattr(t, "cpu") else t.detach().numpy())


def _ident(*a, **k):
    return a[0] if not isinstance(a[0], (tuple, list, dict)) else a[0]


# ---- vmap in_dims / out_dims errors -----------------------------------------------------------
def _in_cases(L):
    x = L.ones(2, 3, dtype=L.float64)
    y = L.ones(3, 2, dtype=L.float64)
    s = L.tensor(1.0)
    return {
        "list": ([0], (x,)), "str": ("a", (x,)), "float": (0.5, (x,)), "dict": ({"a": 0}, (x,)),
        "none": (None, (x,)), "long_tuple": ((0, 0), (x,)), "short_tuple": ((0,), (x, y)),
        "out_of_range": (2, (x,)), "neg_out_of_range": (-3, (x,)), "scalar": (0, (s,)),
        "non_tensor": (0, (x, 3)), "non_tensor_float": ((0, 0), (x, 3.0)),
        "none_input": ((0, 0), (x, None)), "float_dim": ((0.5,), (x,)),
        "str_dim": (("a",), (x,)), "nested_len": (((0, 1, 0),), ((x, y),)),
        "tuple_vs_list": (((0, 1),), ([x, y],)), "dict_keys": (({"a": 0, "c": 1},),
                                                               ({"a": x, "b": y},)),
        "tuple_vs_namedtuple": (((0, 1),), (NT(x, y),)), "list_vs_leaf": (([0],), (x,)),
        "sizes": ((0, 0), (x, y)), "sizes3": ((0, 1, 0), (x, x, y)),
        "int_over_nested": ((0,), ((x, y),)), "all_none": ((None, None), (x, y)),
        "no_inputs": (0, ()),
    }


@pytest.mark.parametrize("case", sorted(_in_cases(tg)))
def test_vmap_in_dims_errors_match_torch(case):
    def make(L):
        in_dims, args = _in_cases(L)[case]
        return L.vmap(_ident, in_dims=in_dims)(*args)
    t, g = _both(make)
    assert t is not None and t == g


@pytest.mark.parametrize("out_dims,two", [("a", True), ([0, 0], True), ((0, 0, 0), True),
                                          (0.5, True), (5, True), (-3, True), ((0, "a"), True),
                                          ({"a": 0}, True), ((0, 0), False), ([0], False)])
def test_vmap_out_dims_errors_match_torch(out_dims, two):
    def make(L):
        x = L.arange(6, dtype=L.float64).reshape(2, 3)
        return L.vmap((lambda a: (a, a)) if two else (lambda a: a), out_dims=out_dims)(x)
    t, g = _both(make)
    assert t is not None and t == g


def test_vmap_batched_output_with_out_dim_none():
    def make(L):
        return L.vmap(lambda a: a * 2, out_dims=None)(L.arange(6.).reshape(2, 3))
    t, g = _both(make)
    assert t is not None and t == g


def test_vmap_partial_name_in_message():
    def make(L):
        return L.vmap(functools.partial(_ident), in_dims=[0])(L.ones(2))
    t, g = _both(make)
    assert "functools.partial(_ident, ...)" in t[1] and t == g


@pytest.mark.parametrize("in_dims,args", [
    (((0, 1),), "pair"), (({"a": 0, "b": 1},), "dict"), ((NT(0, 1),), "nt"),
    (({"b": 1, "a": 0},), "dict_reordered"), (((None, 1),), "pair"), (-1, "one"),
    ((0, None), "with_none")])
def test_vmap_pytree_in_dims_values_match_torch(in_dims, args):
    def run(L):
        x = L.arange(6, dtype=L.float64).reshape(2, 3)
        y = L.arange(6, dtype=L.float64).reshape(3, 2) * 10
        a = {"pair": ((x, y),), "dict": ({"a": x, "b": y},), "nt": (NT(x, y),), "dict_reordered": ({"a": y, "b": x},), "one": (x,),
             "with_none": (x, None)}[args]

        def f(*z):
            leaves = [v for v in (z[0].values() if isinstance(z[0], dict) else
                                  z[0] if isinstance(z[0], tuple) else z[:1])]
            return sum(v.sum() * (k + 1) for k, v in enumerate(leaves))
        return L.vmap(f, in_dims=in_dims)(*a)
    torch, _ = _libs()
    np.testing.assert_allclose(_arr(run(tg)), _arr(run(torch)))


# ---- vmap over a batch of size 0 --------------------------------------------------------------
def _zero_cases(L):
    d = L.float64
    e = L.ones(0, 3, dtype=d)
    w = L.ones(3, 4, dtype=d)
    return {
        "sum": lambda: L.vmap(L.sum)(e),
        "mul": lambda: L.vmap(lambda a: a * 2)(e),
        "mm": lambda: L.vmap(lambda a: a @ w)(e),
        "tuple": lambda: L.vmap(lambda a: (a, a.sum(), w))(e),
        "out_dims1": lambda: L.vmap(lambda a: a @ w, out_dims=1)(e),
        "out_none": lambda: L.vmap(lambda a: (a * 2, w), out_dims=(0, None))(e),
        "in_dims1": lambda: L.vmap(lambda a: a.sum(), in_dims=1)(L.ones(3, 0, dtype=d)),
        "int": lambda: L.vmap(lambda a: a + 1)(L.ones(0, 2, dtype=L.int32)),
        "per_sample_grad": lambda: L.vmap(L.func.grad(lambda a: (a ** 2).sum()))(e),
        "unbatched_arg": lambda: L.vmap(lambda a, b: a + b, in_dims=(0, None))(
            e, L.ones(3, dtype=d)),
        "nested_inner": lambda: L.vmap(L.vmap(L.sum))(L.ones(2, 0, 3, dtype=d)),
        "nested_outer": lambda: L.vmap(L.vmap(L.sum))(L.ones(0, 2, 3, dtype=d)),
        "dict": lambda: L.vmap(lambda a: {"s": a.sum(), "m": a.mean()})(e),
        "random_different": lambda: L.vmap(lambda a: a + L.rand(3, dtype=d),
                                           randomness="different")(e),
        "non_tensor_none": lambda: L.vmap(lambda a: 3, out_dims=None)(e),
    }


def _desc(r):
    flat = r.values() if isinstance(r, dict) else r if isinstance(r, tuple) else (r,)
    return [(tuple(a.shape), str(a.dtype).split(".")[-1]) if hasattr(a, "shape") else a
            for a in flat]


@pytest.mark.parametrize("case", sorted(_zero_cases(tg)))
def test_vmap_size_zero_matches_torch(case):
    torch, _ = _libs()
    assert _desc(_zero_cases(tg)[case]()) == _desc(_zero_cases(torch)[case]())


@pytest.mark.parametrize("case", ["random_error", "non_tensor"])
def test_vmap_size_zero_errors_match_torch(case):
    def make(L):
        e = L.ones(0, 3)
        f = (lambda a: a + L.rand(3)) if case == "random_error" else (lambda a: 3)
        return L.vmap(f)(e)
    t, g = _both(make)
    assert t is not None and t == g


def test_vmap_size_zero_keeps_graph():
    torch, _ = _libs()
    for L in (torch, tg):
        a = L.ones(0, 3, dtype=L.float64, requires_grad=True)
        out = L.vmap(lambda b: (b * 2).sum())(a)
        assert out.requires_grad and tuple(out.shape) == (0,)
        (g,) = L.autograd.grad(out.sum(), a)
        assert tuple(g.shape) == (0, 3)


def test_vmap_size_zero_without_torch():
    out = tg.vmap(lambda a: a.sum(0))(tg.ones(0, 4, 5))
    assert tuple(out.shape) == (0, 5)


def test_vmap_size_zero_leaves_generator_alone():
    tg.manual_seed(0)
    tg.vmap(lambda a: a + tg.rand(3), randomness="different")(tg.ones(0, 3))
    after = tg.rand(2)
    tg.manual_seed(0)
    assert tg.equal(after, tg.rand(2))


# ---- structseq outputs (torch.return_types) ----------------------------------------------------
def _structseq_cases(L):
    x = L.tensor([[1.0, 3.0, 2.0], [5.0, 4.0, 6.0]], dtype=L.float64)
    A = L.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=L.float64)
    F = L.func
    return {
        "vmap_max": lambda: F.vmap(lambda r: r.max(0))(x),
        "vmap_sort": lambda: F.vmap(L.sort)(x),
        "vmap_topk": lambda: F.vmap(lambda r: L.topk(r, 2))(x),
        "vmap_cummax_out_dims_1": lambda: F.vmap(lambda r: r.cummax(0), out_dims=1)(x),
        "vmap_aminmax": lambda: F.vmap(L.aminmax)(x),
        "vmap_nested": lambda: F.vmap(F.vmap(lambda r: r.max(0)))(x.reshape(2, 3, 1)),
        "vmap_list_of": lambda: F.vmap(lambda r: [r.max(0), r.min(0)])(x),
        "vmap_slogdet": lambda: F.vmap(L.linalg.slogdet)(L.stack([A, 2 * A])),
        "vmap_structseq_input": lambda: F.vmap(lambda r: r.values * r.indices)(x.max(1)),
        "jacrev_slogdet": lambda: F.jacrev(L.linalg.slogdet)(A),
        "grad_aux": lambda: F.grad(lambda r: (r.sum(), r.max(0)), has_aux=True)(x)[1],
        "vjp_structseq_cotangent": lambda: (lambda o, fn: fn(type(o)(
            (L.zeros((), dtype=L.float64), L.ones((), dtype=L.float64)))))(
            *F.vjp(L.linalg.slogdet, A)),
        "vjp_tuple_cotangent": lambda: F.vjp(L.linalg.slogdet, A)[1](
            (L.zeros((), dtype=L.float64), L.ones((), dtype=L.float64))),
        "out_dims_tuple": lambda: F.vmap(lambda r: r.max(0), out_dims=(0, None))(x),
        "collate": lambda: L.utils.data.default_collate([x.max(0), x.max(0)]),
    }


def _structure(r):
    """type names, and values with dtypes at the leaves."""
    if isinstance(r, (tuple, list)):
        return type(r).__name__, [_structure(v) for v in r]
    return _arr(r).tolist(), str(r.dtype).split(".")[-1]


def test_structseq_outputs_without_torch():
    """vmap and jacrev of functions returning torch.return_types keep the type (fields as
    attributes) and give the unmapped op's values; the types are structseqs, not
    namedtuples (no `_fields`)."""
    cases = _structseq_cases(tg)
    x = tg.tensor([[1.0, 3.0, 2.0], [5.0, 4.0, 6.0]], dtype=tg.float64)
    for name, direct in (("vmap_max", x.max(1)), ("vmap_sort", tg.sort(x, 1)),
                         ("vmap_topk", tg.topk(x, 2, 1))):
        got = cases[name]()
        assert type(got) is type(direct), name
        assert _structure(got) == _structure(direct), name
        assert got.values is got[0] and got.indices is got[1]
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    J = cases["jacrev_slogdet"]()
    assert type(J).__name__ == "linalg_slogdet"
    np.testing.assert_allclose(_arr(J.logabsdet), np.linalg.inv(A).T)   # d log|det A| / dA
    assert _arr(J.sign).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    r = x.max(0)
    assert not hasattr(r, "_fields") and type(r).n_fields == 2 and \
        r.__match_args__ == ("values", "indices")
    assert type(tg.utils.data.default_collate([r, r])) is list
    with pytest.raises(RuntimeError, match=r"primal output: tapegrad.return_types."
                                           r"linalg_slogdet\(\nsign=\*,\nlogabsdet=\*\)"):
        tg.func.vjp(tg.linalg.slogdet, tg.tensor(A))[1]((tg.zeros(()), tg.zeros(())))


@pytest.mark.parametrize("name", list(_structseq_cases(tg)))
def test_structseq_outputs_match_torch(name):
    torch, _ = _libs()

    def outcome(L):
        try:
            return _structure(_structseq_cases(L)[name]())
        except Exception as e:      # noqa: BLE001  (compared with torch's)
            return type(e).__name__, str(e).replace("torch.", "T.").replace("tapegrad.", "T.")
    assert outcome(tg) == outcome(torch)


# ---- linearize -------------------------------------------------------------------------------
def _lin_fn(L):
    def f(x, y):
        return (x.sin() * y, {"s": (x * y.exp()).sum()}, 3)
    return f


def test_linearize_values_match_torch():
    torch, _ = _libs()
    res = []
    for L in (torch, tg):
        x = L.tensor([0.5, 1.0, -2.0], dtype=L.float64)
        y = L.tensor([2.0, 3.0, 0.25], dtype=L.float64)
        out, jfn = L.func.linearize(_lin_fn(L), x, y)
        t1 = jfn(L.tensor([1.0, -1.0, 0.5], dtype=L.float64), L.ones(3, dtype=L.float64))
        t2 = jfn(L.zeros(3, dtype=L.float64), L.tensor([0.0, 2.0, 1.0], dtype=L.float64))
        res.append((out, t1, t2))
    for (o, a, b), (og, ag, bg) in zip([res[0]], [res[1]]):
        for p, q in ((o, og), (a, ag), (b, bg)):
            np.testing.assert_allclose(_arr(q[0]), _arr(p[0]), rtol=1e-12)
            np.testing.assert_allclose(_arr(q[1]["s"]), _arr(p[1]["s"]), rtol=1e-12)
            assert p[2] == q[2] == 3


def test_linearize_matches_jvp_without_torch():
    x = tg.tensor([0.3, -1.2], dtype=tg.float64)
    t = tg.tensor([1.0, 0.5], dtype=tg.float64)
    calls = []

    def f(a):
        calls.append(1)
        return (a.exp() * a).sum() + a.cos()
    _, jfn = tg.func.linearize(f, x)
    n = len(calls)
    np.testing.assert_allclose(jfn(t).numpy(), tg.func.jvp(f, (x,), (t,))[1].numpy())
    jfn(t)
    assert n == 2 and len(calls) == 3    # twice in linearize (as torch's), then jvp's once


@pytest.mark.parametrize("case", ["shape", "dtype", "nested", "count", "tree", "int_primal",
                                  "float_primal"])
def test_linearize_errors_match_torch(case):
    def make(L):
        d = L.float64
        x, y = L.tensor([0.5, 1.0], dtype=d), L.tensor([2.0, 3.0], dtype=d)
        if case == "int_primal":
            return L.func.linearize(lambda a: a * 2, L.tensor([1, 2]))
        if case == "float_primal":
            return L.func.linearize(lambda a, b: a * b, x, 2.0)
        if case == "tree":
            return L.func.linearize(lambda p, q: p["a"] * q[0], {"a": x}, [y])[1](
                {"a": x}, (y,))
        _, j = L.func.linearize(lambda a, b: a.sin() * b, x, y)
        o = L.ones(2, dtype=d)
        return {"shape": lambda: j(L.ones(3, dtype=d), o), "dtype": lambda: j(L.ones(2), o),
                "nested": lambda: j((o, o)), "count": lambda: j(o)}[case]()
    t, g = _both(make)
    assert t is not None and t == g


def test_linearize_graphs_match_torch():
    torch, _ = _libs()
    for L in (torch, tg):
        x = L.tensor([0.5, 1.0], dtype=L.float64, requires_grad=True)
        out, j = L.func.linearize(lambda a: a.sin(), x)
        assert out.requires_grad
        r = j(L.ones(2, dtype=L.float64))     # cos(x), with no graph to x (torch's is a
        if r.requires_grad:                   # folded constant Parameter)
            assert L.autograd.grad(r.sum(), x, allow_unused=True)[0] is None
        assert not L.func.linearize(lambda a: a * 2, x)[1](
            L.ones(2, dtype=L.float64)).requires_grad
        t = L.ones(2, dtype=L.float64, requires_grad=True)
        r = j(t)
        assert r.requires_grad
        (g,) = L.autograd.grad(r.sum(), t)
        np.testing.assert_allclose(_arr(g), np.cos([0.5, 1.0]))
        _, j2 = L.func.linearize(lambda a: (a.argmax(), a > 0, a * 0 + 1), x.detach())
        z = j2(L.ones(2, dtype=L.float64))
        assert [str(v.dtype).split(".")[-1] for v in z] == ["int64", "bool", "float64"]
        assert [_arr(v).tolist() for v in z] == [0, [False, False], [0.0, 0.0]]


# ---- functionalize ---------------------------------------------------------------------------
def _mutating(L):
    def f1(x):
        x.view(-1).add_(1)
        return x * 2

    def f2(x):
        x.add_(1)
        return x

    def f3(x, y):
        x.mul_(y)
        return x + 1, {"a": y.sum()}

    def f4(x, *, y):
        y.add_(1)
        return x + y

    def f5(d):
        d["a"].add_(1)
        return d["b"] * 1
    return [(f1, lambda: ((L.arange(6.).reshape(2, 3),), {})),
            (f2, lambda: ((L.arange(6.).reshape(2, 3),), {})),
            (f3, lambda: ((L.arange(6.).reshape(2, 3), L.full((2, 3), 2.0)), {})),
            (f4, lambda: ((L.ones(2),), {"y": L.arange(2.)})),
            (f5, lambda: (({"a": L.ones(2), "b": L.arange(2.)},), {}))]


def _flat(v):
    if isinstance(v, dict):
        return [a for k in v for a in _flat(v[k])]
    if isinstance(v, (tuple, list)):
        return [a for w in v for a in _flat(w)]
    return [v]


@pytest.mark.parametrize("remove", ["mutations", "mutations_and_views"])
@pytest.mark.parametrize("k", range(5))
def test_functionalize_results_and_input_mutations_match_torch(remove, k):
    torch, _ = _libs()
    seen = []
    for L in (torch, tg):
        f, make = _mutating(L)[k]
        args, kwargs = make()
        ins = _flat((args, kwargs))
        vers = [a._version for a in ins]
        out = L.func.functionalize(f, remove=remove)(*args, **kwargs)
        assert all(o is not a for o in _flat(out) for a in ins)
        seen.append(([_arr(o).tolist() for o in _flat(out)], [_arr(a).tolist() for a in ins],
                     [a._version - v for a, v in zip(ins, vers)]))
    assert seen[0] == seen[1]


def test_functionalize_bad_remove_and_leaf_match_torch():
    for make in (lambda L: L.func.functionalize(lambda x: x, remove="views"),
                 lambda L: L.func.functionalize(lambda x: x, remove=None),
                 lambda L: L.func.functionalize(lambda x: x.add_(1))(
                     L.ones(2, requires_grad=True))):
        t, g = _both(make)
        assert t is not None and t == g


def test_functionalize_gradient_and_name():
    torch, _ = _libs()
    grads = []
    for L in (torch, tg):
        x = L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=True)
        z = x * 3

        def f(a):
            a.mul_(2)
            return a.sin()
        assert L.func.functionalize(f).__name__ == "f"
        out = L.func.functionalize(f)(z)
        grads.append(L.autograd.grad((out * z).sum(), x)[0])
    np.testing.assert_allclose(_arr(grads[1]), _arr(grads[0]), rtol=1e-12)


def test_functionalize_without_torch():
    x = tg.zeros(3)
    out = tg.func.functionalize(lambda a: a.add_(2) * 2)(x)
    assert x.tolist() == [2.0] * 3 and out.tolist() == [4.0] * 3
    with pytest.raises(RuntimeError, match="received invalid argument for remove=bad"):
        tg.func.functionalize(lambda a: a, remove="bad")


# ---- replace_all_batch_norm_modules_ ---------------------------------------------------------
def _bn_state(L):
    nn = L.nn
    root = nn.BatchNorm1d(3)
    root.add_module("inner", nn.Sequential(nn.Linear(3, 3), nn.BatchNorm2d(2),
                                           nn.BatchNorm1d(3, track_running_stats=False)))
    out = L.func.replace_all_batch_norm_modules_(root)
    assert out is root
    mods = [m for m in root.modules() if "BatchNorm" in type(m).__name__]
    return ([(m.track_running_stats, m.running_mean, m.running_var, m.num_batches_tracked)
             for m in mods], sorted(n for n, _ in root.named_buffers()),
            sorted(n for n, _ in root.named_parameters()))


def test_replace_all_batch_norm_modules_matches_torch():
    torch, _ = _libs()
    assert _bn_state(tg) == _bn_state(torch)


def test_replace_all_batch_norm_modules_then_forward():
    bn = tg.func.replace_all_batch_norm_modules_(tg.nn.BatchNorm1d(3).eval())
    x = tg.tensor([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]], dtype=tg.float64)
    out = bn.double()(x)      # batch statistics, even in eval mode
    np.testing.assert_allclose(out.detach().numpy(), [[-1.0] * 3, [1.0] * 3], atol=1e-4)


# ---- transforms inside inference_mode / no_grad ------------------------------------------------
def _transform_cases(L):
    """name -> a transform's result at x = [1, 2] (float64)."""
    F = L.func
    cube = lambda x: (x ** 3).sum()          # noqa: E731
    sq = lambda x: x ** 2                    # noqa: E731
    return {
        "grad": lambda x: F.grad(cube)(x),
        "grad_and_value": lambda x: F.grad_and_value(cube)(x),
        "vjp": lambda x: F.vjp(sq, x)[1](L.ones_like(x)),
        "vjp_value": lambda x: F.vjp(sq, x)[0],
        "jacrev": lambda x: F.jacrev(sq)(x),
        "jacfwd": lambda x: F.jacfwd(sq)(x),
        "jvp": lambda x: F.jvp(sq, (x,), (L.ones_like(x),)),
        "hessian": lambda x: F.hessian(cube)(x),
        "grad_of_grad": lambda x: F.grad(lambda y: F.grad(cube)(y).sum())(x),
        "vmap_grad": lambda x: F.vmap(F.grad(cube))(x.expand(3, 2)),
        "closes_over_a_new_tensor": lambda x: F.grad(lambda y: (y * L.ones_like(y) * y).sum())(x),
        "input_requires_grad": lambda x: F.grad(cube)(x.detach().requires_grad_()),
        "linearize": lambda x: F.linearize(sq, x)[1](L.ones_like(x)),
        "AF.jacobian": lambda x: L.autograd.functional.jacobian(sq, x),
        "AF.hvp": lambda x: L.autograd.functional.hvp(cube, x, L.ones_like(x)),
    }


def _in_mode(L, mode):
    out = {}
    for name, fn in _transform_cases(L).items():
        x = L.tensor([1.0, 2.0], dtype=L.float64)
        with {"inference_mode": L.inference_mode, "no_grad": L.no_grad}[mode]():
            r = fn(x)
        flat = r if isinstance(r, tuple) else (r,)
        out[name] = [(_arr(t).tolist(), t.requires_grad) for t in flat]
    return out


@pytest.mark.parametrize("mode", ["inference_mode", "no_grad"])
def test_transforms_differentiate_inside_inference_mode_and_no_grad(mode):
    """torch.func's transforms record inside inference_mode as inside no_grad (their levels
    turn grad mode on and inference mode off): the derivatives of x^3 / x^2 at [1, 2], with no
    graph; linearize and autograd.functional do not (zeros in inference mode)."""
    got = _in_mode(tg, mode)
    d1, d2 = [[3.0, 12.0]], [[[2.0, 0.0], [0.0, 4.0]]]
    h = [[[6.0, 0.0], [0.0, 12.0]]]
    expect = {"grad": d1, "grad_and_value": d1 + [9.0], "vjp": [[2.0, 4.0]],
              "vjp_value": [[1.0, 4.0]], "jacrev": d2, "jacfwd": d2,
              "jvp": [[1.0, 4.0], [2.0, 4.0]], "hessian": h, "grad_of_grad": [[6.0, 12.0]],
              "vmap_grad": [[[3.0, 12.0]] * 3], "closes_over_a_new_tensor": [[2.0, 4.0]],
              "input_requires_grad": d1}
    for name, values in expect.items():
        assert [v for v, _ in got[name]] == values, name
        assert not any(rg for _, rg in got[name]), name
    zeros = mode == "inference_mode"
    assert got["linearize"][0][0] == ([0.0, 0.0] if zeros else [2.0, 4.0])
    assert got["AF.jacobian"][0][0] == ([[0.0, 0.0], [0.0, 0.0]] if zeros else d2[0])
    assert got["AF.hvp"][1][0] == ([0.0, 0.0] if zeros else [6.0, 12.0])


@pytest.mark.parametrize("mode", ["inference_mode", "no_grad"])
def test_transforms_inside_inference_mode_and_no_grad_as_torch(mode):
    torch, _ = _libs()
    assert _in_mode(tg, mode) == _in_mode(torch, mode)


def test_vjp_fn_made_in_inference_mode_called_outside():
    """The graph a vjp records inside inference_mode serves its vjp_fn afterwards, as
    torch's; the function sees grad mode on and inference mode off."""
    seen = []

    def f(x):
        seen.append((tg.is_grad_enabled(), tg.is_inference_mode_enabled()))
        return x * x
    x = tg.tensor([1.0, 2.0], dtype=tg.float64)
    with tg.inference_mode():
        _, fn = tg.func.vjp(f, x)
    assert seen == [(True, False)]
    assert _arr(fn(tg.ones(2, dtype=tg.float64))[0]).tolist() == [2.0, 4.0]


def _on_inference_tensors(L):
    """Transforms of tensors made in inference mode (data prepared under inference_mode, then
    per-sample gradients), run inside and outside it: torch.func lifts them to its levels,
    so the function sees ordinary tensors and an inference tensor it only reads (a batch,
    `b`) may be saved by the graph it differentiates."""
    F = L.func
    with L.inference_mode():
        x = L.tensor([1.0, 2.0], dtype=L.float64)
        X = L.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=L.float64)
    seen = []

    def cube(a):
        seen.append(a.is_inference())
        return (a ** 3).sum()
    lin = L.nn.Linear(2, 1).double()
    with L.no_grad():
        lin.weight.fill_(0.5)
        lin.bias.fill_(0.25)
    params = {k: v.detach() for k, v in lin.named_parameters()}
    out = []
    for inside in (True, False):
        with L.inference_mode(inside):
            gw = F.grad(lambda p: F.functional_call(lin, p, (X,)).pow(2).sum())(params)
            rs = [F.grad(cube)(x), F.vmap(F.grad(cube))(X),
                  F.vmap(F.grad(lambda a, b: (a * b).sum()), in_dims=(0, None))(X, x),
                  F.jacrev(lambda a: a.exp())(x), F.hessian(cube)(x),
                  F.vjp(lambda a: a * a, x)[1](x)[0], gw["weight"], gw["bias"]]
        out.append([(_arr(r).tolist(), r.is_inference(), r.requires_grad) for r in rs])
    return out, seen


def test_transforms_of_inference_tensors_as_torch():
    torch, _ = _libs()
    got, seen = _on_inference_tensors(tg)
    assert got == _on_inference_tensors(torch)[0]
    # (grad's function is given no inference tensor; tapegrad calls it more often than torch,
    # whose vmap runs it once: mapping.py)
    assert seen[0] is False


def test_jacrev_of_an_integer_output_raises_as_torch():
    x = tg.tensor([1.0, 3.0, 2.0])
    with pytest.raises(RuntimeError, match="All outputs of f must be floating-point") as e:
        tg.func.jacrev(lambda x: x.argmax())(x)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError) as t:
        torch.func.jacrev(lambda x: x.argmax())(torch.tensor([1.0, 3.0, 2.0]))
    assert str(e.value).replace("tapegrad.", "torch.") == str(t.value)


# ---- Tensor.requires_grad_ inside a transformed function ------------------------------------
def _rg_in(m, how):
    AF = m.autograd.functional
    x = m.tensor([1.0, 2.0])

    def fns(kind):
        if kind == "method":
            return lambda a: (a * m.ones(2).requires_grad_()).sum()
        if kind == "off":
            return lambda a: (a * m.ones(2).requires_grad_(False)).sum()
        if kind == "detach":
            return lambda a: (a * a.detach().requires_grad_()).sum()
        return lambda a: AF.jacobian(lambda b: b ** 2, a).sum()
    f = fns(how[1])
    return {"grad": lambda: m.func.grad(f)(x),
            "vmap": lambda: m.func.vmap(f)(x[None].expand(3, 2)),
            "vjp": lambda: m.func.vjp(f, x)[1](m.tensor(1.0)),
            "jacrev": lambda: m.func.jacrev(f)(x),
            "jacfwd": lambda: m.func.jacfwd(f)(x),
            "jvp": lambda: m.func.jvp(f, (x,), (x,)),
            "hessian": lambda: m.func.hessian(f)(x),
            "functionalize": lambda: m.func.functionalize(f)(x)}[how[0]]()


@pytest.mark.parametrize("how", [(t, k) for t in ("grad", "vmap", "vjp", "jacrev", "jacfwd",
                                                  "jvp", "hessian", "functionalize")
                                 for k in ("method", "off", "detach", "functional")])
def test_requires_grad_inside_a_transform_raises_as_torch(how):
    # torch refuses Tensor.requires_grad_ (also through autograd.functional's preprocessing)
    # inside a function under any torch.func transform
    got = _both(lambda m: _rg_in(m, how))
    assert got[0] == got[1] and got[1][0] == "RuntimeError"


def test_requires_grad_inside_transforms_without_torch():
    x = tg.tensor([1.0, 2.0])
    w = tg.ones(2)

    def f(a):
        w.requires_grad_()
        return (a * w).sum()
    with pytest.raises(RuntimeError, match=r"^You are attempting to call Tensor\.requires_grad_"):
        tg.func.grad(f)(x)
    assert not w.requires_grad          # refused before the flag changed, as torch's
    # what torch allows there: factories' requires_grad=, the attribute, autograd.grad
    g = tg.func.grad(lambda a: (a * tg.tensor([1.0, 3.0], requires_grad=True)).sum())(x)
    assert g.tolist() == [1.0, 3.0]

    def h(a):
        y = (a ** 3).sum()
        return tg.autograd.grad(y, a, create_graph=True)[0].sum()
    assert tg.func.grad(h)(x).tolist() == [6.0, 12.0]
    # linearize is not a transform level in torch either; outside any, the method works
    out, fn = tg.func.linearize(lambda a: (a * tg.ones(2).requires_grad_()).sum(), x)
    assert out.item() == 3.0
    assert tg.func.grad(lambda a: (a ** 3).sum())(x).requires_grad_().requires_grad
    # tapegrad's own leaves in nested transforms and autograd.functional at top level
    assert tg.func.hessian(lambda a: (a ** 3).sum())(x).tolist() == [[6.0, 0.0], [0.0, 12.0]]
    assert tg.func.vmap(tg.func.jacrev(lambda a: a ** 2))(x[None]).tolist() == [[[2.0, 0.0],
                                                                               [0.0, 4.0]]]
    assert tg.func.jvp(tg.func.grad(lambda a: (a ** 3).sum()), (x,), (x,))[1].tolist() == \
        [6.0, 24.0]
    assert tg.autograd.functional.hessian(lambda a: (a ** 3).sum(), x).tolist() == \
        [[6.0, 0.0], [0.0, 12.0]]


# ---- running statistics updated under transforms ------------------------------------------
def _bn_under(m, case):
    nn, F = m.nn, m.func
    m.manual_seed(0)
    bn = nn.BatchNorm1d(3)
    x = m.randn(4, 3)
    xs = x[None].expand(2, 4, 3)
    calls = {
        "grad": lambda: F.grad(lambda a: bn(a).sum())(x),
        "jacrev": lambda: F.jacrev(bn)(x), "vjp": lambda: F.vjp(bn, x)[0],
        "jvp": lambda: F.jvp(bn, (x,), (x,))[1], "jacfwd": lambda: F.jacfwd(bn)(x),
        "vmap": lambda: F.vmap(bn)(xs), "vmap_grad": lambda: F.vmap(F.grad(
            lambda a: bn(a).sum()))(xs),
        "grad_vmap": lambda: F.grad(lambda a: F.vmap(bn)(a).sum())(xs),
        "functional": lambda: F.grad(lambda a: m.nn.functional.batch_norm(
            a, bn.running_mean, bn.running_var, training=True).sum())(x),
    }
    try:
        out = calls[case]()
    except RuntimeError as e:
        return "raised", str(e), _arr(bn.running_mean).round(5).tolist()
    return "ran", _arr(out).round(5).tolist(), _arr(bn.running_mean).round(5).tolist()


@pytest.mark.parametrize("case", ["grad", "jacrev", "vjp", "jvp", "jacfwd", "vmap",
                                  "vmap_grad", "grad_vmap", "functional"])
def test_running_stats_under_transforms_as_torch(case):
    # torch refuses to update a module's own running statistics in place inside a transform
    # (grad & co.: a captured tensor; vmap: unbatched), before changing them
    torch, _ = _libs()
    assert _bn_under(tg, case) == _bn_under(torch, case)


def test_running_stats_passed_in_are_updated_under_transforms():
    m = tg.nn.Sequential(tg.nn.Linear(3, 3), tg.nn.BatchNorm1d(3))
    x = tg.randn(4, 3)
    p = {k: v.detach() for k, v in m.named_parameters()}
    b = {k: v.clone() for k, v in m.named_buffers()}
    with pytest.raises(RuntimeError, match="would mutate a captured Tensor"):
        tg.func.grad(lambda p, x: tg.func.functional_call(m, p, (x,)).sum())(p, x)
    assert m[1].running_mean.tolist() == [0.0, 0.0, 0.0]
    # the buffers given to the transformed function are its inputs: updated, as torch's
    tg.func.grad(lambda p, b, x: tg.func.functional_call(m, (p, b), (x,)).sum())(p, b, x)
    assert b["1.running_mean"].abs().sum().item() > 0
    # an ensemble's stacked buffers, mapped by vmap: each model's row updated
    models = [tg.nn.Sequential(tg.nn.Linear(3, 3), tg.nn.BatchNorm1d(3)) for _ in range(2)]
    ps, bs = tg.func.stack_module_state(models)
    tg.func.vmap(lambda p, b, x: tg.func.functional_call(models[0], (p, b), (x,)))(
        ps, bs, tg.randn(2, 4, 3))
    assert (bs["1.running_mean"].abs().sum(1) > 0).all()
    with pytest.raises(RuntimeError, match="^Batch norm got a batched tensor"):
        tg.func.vmap(lambda p, b, x: tg.func.functional_call(models[0], (p, b), (x,)),
                     in_dims=(0, None, None))(ps, {k: v[0] for k, v in bs.items()},
                                              tg.randn(4, 3))
    # eval mode, untracked statistics, instance norm under grad: nothing to refuse
    bn = tg.nn.BatchNorm1d(3).eval()
    tg.func.grad(lambda a: bn(a).sum())(x)
    untracked = tg.nn.BatchNorm1d(3, track_running_stats=False)
    tg.func.vmap(tg.func.grad(lambda a: untracked(a).sum()))(x[None].expand(2, 4, 3))
    inn = tg.nn.InstanceNorm1d(3, track_running_stats=True)
    tg.func.grad(lambda a: inn(a).sum())(tg.randn(2, 3, 4))
    assert inn.running_mean.abs().sum().item() > 0
    with pytest.raises(RuntimeError, match="^Batch norm got a batched tensor"):
        tg.func.vmap(inn)(tg.randn(2, 2, 3, 4))


# ---- forward-mode results' dtypes --------------------------------------------------------------
FORWARD_DTYPES = {
    "jacfwd_upcast": lambda m, x: m.func.jacfwd(lambda a: a.double() * 2)(x),
    "jacfwd_downcast": lambda m, x: m.func.jacfwd(lambda a: a.float() * 2)(x.double()),
    "jacfwd_int": lambda m, x: m.func.jacfwd(lambda a: a.long())(x),
    "jacfwd_bool": lambda m, x: m.func.jacfwd(lambda a: a > 1)(x),
    "jacfwd_mixed": lambda m, x: m.func.jacfwd(lambda a: (a.long(), a * 2))(x),
    "hessian_upcast": lambda m, x: m.func.hessian(lambda a: (a.double() ** 3).sum())(x),
    "jvp_int": lambda m, x: m.func.jvp(lambda a: a.long(), (x,), (x,)),
    "jvp_bool": lambda m, x: m.func.jvp(lambda a: a.sum() > 0, (x,), (x,)),
    "jvp_mixed": lambda m, x: m.func.jvp(lambda a: (a.long(), a.double() * a), (x,), (x,)),
}


@pytest.mark.parametrize("name", sorted(FORWARD_DTYPES))
def test_forward_mode_results_take_the_outputs_dtype_as_torch(name):
    # torch's jacfwd/jvp tangents follow the output: its dtype, zeros of an integer or bool
    # output's (jacrev's follow the input, as a reverse pass)
    torch, _ = _libs()
    got = []
    for m in (torch, tg):
        out = FORWARD_DTYPES[name](m, m.tensor([1.0, 2.0]))
        leaves = out if isinstance(out, tuple) else (out,)
        leaves = [t for x in leaves for t in (x if isinstance(x, tuple) else (x,))]
        got.append([(str(t.dtype).split(".")[1], tuple(t.shape), _arr(t).tolist())
                    for t in leaves])
    assert got[0] == got[1]


def test_forward_mode_dtypes_without_torch():
    x = tg.tensor([1.0, 2.0])
    assert tg.func.jacfwd(lambda a: a.double() * 2)(x).dtype == tg.float64
    assert tg.func.jacrev(lambda a: a.double() * 2)(x).dtype == tg.float32
    j = tg.func.jacfwd(lambda a: a.long())(x)
    assert j.dtype == tg.int64 and j.tolist() == [[0, 0], [0, 0]]
    out, t = tg.func.jvp(lambda a: (a.long(), a * 3), (x,), (x,))
    assert out[0].dtype == t[0].dtype == tg.int64 and t[0].tolist() == [0, 0]
    assert t[1].tolist() == [3.0, 6.0]


# ---- leaves made inside a transformed function ------------------------------------------------
def _made_inside(m):
    x = m.tensor([1.0, 2.0])
    w = m.tensor([0.5, 3.0], requires_grad=True)
    out = []
    g = m.func.grad(lambda a: (a * w).sum() + (a * m.ones(2, requires_grad=True)).sum())(x)
    out.append((g.tolist(), g.requires_grad))
    g.sum().backward()
    out.append(w.grad.tolist())

    def attr(a):
        y = m.ones(2)
        y.requires_grad = True
        return (a * y).sum()
    for r in (m.func.grad(attr)(x), m.func.vjp(attr, x)[1](m.tensor(1.0))[0],
              m.func.jacrev(lambda a: a * m.full((2,), 2.0, requires_grad=True))(x),
              m.func.jvp(attr, (x,), (x,))[1],
              m.func.grad(lambda a: (a * m.nn.Parameter(m.ones(2))).sum())(x)):
        out.append((_arr(r).tolist(), r.requires_grad))
    return out


def test_leaves_made_inside_a_transform_get_no_graph_as_torch():
    # torch's results keep a graph to tensors of the outer level the function closes over
    # (w), not to leaves the function makes itself with requires_grad
    torch, _ = _libs()
    assert _made_inside(tg) == _made_inside(torch)


HARDSIGMOID_SECOND_ORDER = {
    "hessian": lambda m, f, x: m.func.hessian(f)(x),
    "jacfwd of grad": lambda m, f, x: m.func.jacfwd(m.func.grad(f))(x),
    "jacrev of grad": lambda m, f, x: m.func.jacrev(m.func.grad(f))(x),
    "double backward": lambda m, f, x: m.autograd.grad(
        m.autograd.grad(f(x), x, create_graph=True)[0].sum(), x),
}


@pytest.mark.parametrize("name", sorted(HARDSIGMOID_SECOND_ORDER))
def test_hardsigmoid_second_order_errors_as_torch(name):
    # torch's forward AD refuses hardsigmoid_backward (hessian, jacfwd: NotImplementedError),
    # its double backward has no derivative (RuntimeError); tapegrad's reverse-mode jacfwd
    # raised the double backward's error for both
    torch = pytest.importorskip("torch")

    def error(m):
        x = m.tensor([0.5, -1.0, 4.0], requires_grad=name == "double backward")
        try:
            HARDSIGMOID_SECOND_ORDER[name](m, lambda t: m.nn.functional.hardsigmoid(t).sum(), x)
        except Exception as e:   # noqa: BLE001  (the error is what is compared)
            return type(e).__name__, str(e)
        return None
    assert error(torch) is not None and error(tg) == error(torch)


# ---- no_grad in jvp's and jacfwd's function ---------------------------------------------------
# torch's jvp / jacfwd are forward mode, which grad mode does not concern: a value written or
# computed under no_grad (set_grad_enabled(False), a no_grad-decorated helper) keeps its
# tangent, while jacrev's reverse pass sees none of it (tapegrad's jvp, by reverse mode, gave
# jacrev's values: 5 for 7 in `buffer`); inference_mode and detach do stop the tangents, and
# is_grad_enabled() there is False
def _no_grad_cases(L):
    def buffer(x):        # (written into a buffer under no_grad, read back)
        buf = L.zeros(3)
        with L.no_grad():
            buf[1:] = x * 2
        return buf[1:] * x + x * 3

    def scaled(x):
        y = x * 2
        with L.no_grad():
            y.mul_(3)
        return y * x

    def added(x):
        y = x * 2
        with L.no_grad():
            y += x
        return y * y

    def zeroed(x):
        y = x * 2
        with L.no_grad():
            y.zero_()
        return y + x

    def computed(x):
        with L.no_grad():
            z = x * 2
        return z * x

    def switched(x):
        L.set_grad_enabled(False)
        try:
            z = x.sin() * 3
        finally:
            L.set_grad_enabled(True)
        return z

    @L.no_grad()
    def helper(x):
        return x.exp()

    def decorated(x):
        return helper(x) * x

    def nested(x):
        with L.no_grad():
            with L.enable_grad():
                z = x * 4
            w = x * 5
        return z + w

    def inference(x):
        with L.inference_mode():
            z = x * 3
        return z.clone() + x

    def detached(x):
        with L.no_grad():
            z = x.detach() * 2
        return z * x

    def input_changed(x):   # (the transform's own input, changed in place under no_grad)
        with L.no_grad():
            x.add_(1)
        return x * x

    def shown(x):
        with L.no_grad():
            off = L.is_grad_enabled()
        return x * (2.0 if off else 3.0)
    return {f.__name__: f for f in (buffer, scaled, added, zeroed, computed, switched,
                                    decorated, nested, inference, detached, input_changed,
                                    shown)}


@pytest.mark.parametrize("case", sorted(_no_grad_cases(tg)))
@pytest.mark.parametrize("transform", ["jacfwd", "jvp", "jacrev"])
def test_no_grad_in_forward_transforms_as_torch(case, transform):
    # (not under a reverse transform inside jvp: there tapegrad's no_grad stops both, where
    # torch's stops the reverse pass only)
    torch, _ = _libs()

    def run(L):
        f = _no_grad_cases(L)[case]
        x = L.tensor([1.5, -0.5])
        if transform == "jvp":
            return L.func.jvp(f, (x,), (L.tensor([1.0, 2.0]),))
        return getattr(L.func, transform)(f)(x)
    theirs, ours = run(torch), run(tg)
    for t, o in zip(*(r if isinstance(r, tuple) else (r,) for r in (theirs, ours))):
        np.testing.assert_allclose(_arr(o), _arr(t), rtol=1e-6, atol=1e-7)


def test_no_grad_write_into_captured_tensor_in_jvp_leaves_it_plain():
    """A tensor captured from outside jvp's function, written under no_grad there, is not
    recorded (torch refuses the write: "mutate a captured Tensor"): no graph is left on it,
    as before no_grad stopped no tangent in jvp."""
    buf = tg.zeros(2)

    def f(x):
        with tg.no_grad():
            buf.copy_(x * 2)
        return buf * x
    _, t = tg.func.jvp(f, (tg.tensor([1.0, 2.0]),), (tg.ones(2),))
    assert not buf.requires_grad and buf.grad_fn is None and buf.tolist() == [2.0, 4.0]
    assert t.tolist() == [2.0, 4.0]


def _jvp_writes_its_primal(lib):
    """func.jvp's function changing its primal in place (torch's dual tensor: no leaf error,
    the tangent follows the change, the caller's primal takes the new value), with and
    without no_grad around the write, and what the function sees of its primal."""
    seen = []

    def add(x):
        seen.append((x.is_leaf, x.grad_fn is None))
        x.add_(1)
        seen.append((x.is_leaf, x.grad_fn is None))
        return x * x

    def scaled_unrecorded(x):
        with lib.no_grad():
            x.mul_(2)
        return x.sin()

    def setitem(x, y):
        x[0] = y[1] * 3
        return x * y

    def mixed(x, y):
        x.add_(y)
        return x.exp() + y
    out = []
    for f, n in ((add, 1), (scaled_unrecorded, 1), (setitem, 2), (mixed, 2)):
        primals = tuple(lib.tensor([1.0, 2.0], dtype=lib.float64) * (k + 1) for k in range(n))
        tangents = tuple(lib.tensor([1.0, 0.5], dtype=lib.float64) / (k + 1) for k in range(n))
        value, tangent = lib.func.jvp(f, primals, tangents)
        out.append((value.tolist(), tangent.tolist(), [p.tolist() for p in primals]))
    return out, seen


def _jacfwd_writes_its_primal(lib):
    """jacfwd's function changing its primal in place: torch's jacfwd is a vmap of jvp, so
    the same (the Jacobian at the value before the change; the caller's primal changed once)."""
    out = []
    p = lib.tensor([1.0, 2.0], dtype=lib.float64)
    out.append((lib.func.jacfwd(lambda x: x.mul_(2).sin())(p).tolist(), p.tolist()))
    p, q = (lib.tensor(v, dtype=lib.float64) for v in ([1.0, 2.0], [3.0, 4.0]))
    ja, jb = lib.func.jacfwd(lambda a, b: a.add_(b) * b, argnums=(0, 1))(p, q)
    out.append((ja.tolist(), jb.tolist(), p.tolist(), q.tolist()))
    return out


def test_jacfwd_function_writes_its_primal_in_place_as_torch():
    torch, _ = _libs()
    assert _jacfwd_writes_its_primal(tg) == _jacfwd_writes_its_primal(torch)


def test_jvp_function_writes_its_primal_in_place_as_torch():
    torch, _ = _libs()
    got = _jvp_writes_its_primal(tg)
    assert got[0][0] == ([4.0, 9.0], [4.0, 3.0], [[2.0, 3.0]])
    assert got == _jvp_writes_its_primal(torch)


def _mul_in_place(x):
    return (x.mul_(2) ** 2).sum()


def _set_in_place(x):
    x[0] = 5.0
    return (x * x).sum()


def _view_in_place(x):
    x[0].add_(1)
    return (x * x).sum()


_WRITES_UNDER_TRANSFORMS = {
    "hessian": lambda F, f, x, r: F.hessian(f)(x),
    "grad of grad": lambda F, f, x, r: F.grad(lambda y: F.grad(f)(y).sum())(x),
    "jacrev of jacrev": lambda F, f, x, r: F.jacrev(F.jacrev(f))(x),
    "grad, input requires grad": lambda F, f, x, r: F.grad(f)(r),
    "vjp, input requires grad": lambda F, f, x, r: F.vjp(f, r),
    "jvp, input requires grad": lambda F, f, x, r: F.jvp(f, (r,), (x,)),
    "jacfwd, input requires grad": lambda F, f, x, r: F.jacfwd(f)(r)}


@pytest.mark.parametrize("f", [_mul_in_place, _set_in_place, _view_in_place],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("how", list(_WRITES_UNDER_TRANSFORMS))
def test_write_into_a_transform_input_refused_as_torch(how, f):
    """An in-place change of a reverse transform's input (its grad level's leaf), directly or
    through a view, nested in another transform (hessian: inside jacfwd's dual tensor) or of
    an input that requires grad: torch's leaf errors, "a leaf" for the input itself, "a view
    of a leaf" through a view (and for jvp's and jacfwd's input that requires grad)."""
    def make(lib):
        x = lib.tensor([1.0, 2.0])
        return _WRITES_UNDER_TRANSFORMS[how](lib.func, f, x, x.clone().requires_grad_())
    want, got = _both(make)
    assert got is not None and got == want
