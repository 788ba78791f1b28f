"""cumprod recorded eagerly: one entry of the cumprod kind (tapegrad/kinds/cumprod.py), torch's
values (sequential float64 products) and cumprod_backward: masked per slice at its first zero
with grad mode off, its grad-mode formulas under create_graph.  Differential against torch on
slices with 0, 1, 2 and more zeros, infinities and nan, float32 and float64, finite, inf and
nan incoming gradients, first and second derivatives, along the last dim and a leading one."""
import numpy as np
import pytest

import tapegrad as tg

INF, NAN = np.inf, np.nan
ROWS = {
    "none": [1.5, -2.0, 0.5, 3.0, 0.25],
    "one": [1.5, -2.0, 0.0, 3.0, 0.25],
    "first": [0.0, -2.0, 0.5, 3.0, 0.25],
    "last": [1.5, -2.0, 0.5, 3.0, 0.0],
    "two": [1.0, 0.0, 2.0, 0.0, 3.0],
    "three": [0.0, 0.0, 4.0, 0.0, -1.0],
    "inf_between": [0.0, 2.0, INF, 0.0, 1.0],
    "inf_before": [2.0, INF, 0.0, 1.0, 3.0],
    "nan_before": [NAN, 0.5, 0.0, 1.0, 2.0],
    "neginf": [-INF, 1.0, 0.5, 2.0, 1.5],
    "fuzz_1098": [0.161, -1.088, 0.0, 1.0, 1.0],
}
GRADS = ["finite", "inf_last", "nan_mid", "-inf_first"]


def _grad(kind, n):
    g = np.linspace(0.5, 2.5, n)
    if kind == "inf_last":
        g[-1] = INF
    elif kind == "nan_mid":
        g[n // 2] = NAN
    elif kind == "-inf_first":
        g[0] = -INF
    return g


def _same(u, v, dtype):
    """nan positions equal, infinities equal with their sign, finite values close."""
    np.testing.assert_array_equal(np.isnan(u), np.isnan(v))
    np.testing.assert_array_equal(np.isinf(u) * np.sign(u), np.isinf(v) * np.sign(v))
    fin = np.isfinite(u)
    np.testing.assert_allclose(u[fin], v[fin], rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-6 if dtype == "float32" else 1e-12)


def _run(m, arr, dim, gk, dtype, second):
    x = m.tensor(arr, dtype=getattr(m, dtype), requires_grad=True)
    y = x.cumprod(dim)
    g = m.tensor(np.apply_along_axis(lambda r: _grad(gk, len(r)), dim, np.zeros(arr.shape)),
                 dtype=getattr(m, dtype))
    if not second:
        y.backward(g)
        return y.detach().numpy(), x.grad.numpy(), type(y.grad_fn).__name__
    (g1,) = m.autograd.grad(y, x, g, create_graph=True)
    w = m.tensor(np.arange(1.0, arr.size + 1).reshape(arr.shape), dtype=getattr(m, dtype))
    (h,) = m.autograd.grad((g1 * g1 * w).sum(), x)
    return g1.detach().numpy(), h.numpy(), type(g1.grad_fn).__name__ if g1.grad_fn else None


@pytest.mark.parametrize("second", [False, True], ids=["first", "second"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("gk", GRADS)
@pytest.mark.parametrize("row", list(ROWS))
def test_one_slice_as_torch(row, gk, dtype, second):
    torch = pytest.importorskip("torch")
    arr = np.array(ROWS[row])
    got, want = _run(tg, arr, 0, gk, dtype, second), _run(torch, arr, 0, gk, dtype, second)
    for u, v in zip(got[:2], want[:2]):
        _same(u, v, dtype)
    if not second:
        assert got[2] == want[2]


@pytest.mark.parametrize("second", [False, True], ids=["first", "second"])
@pytest.mark.parametrize("dim", [1, 0])
@pytest.mark.parametrize("gk", GRADS)
def test_slices_of_a_matrix_as_torch(gk, dim, second):
    """Every row as a slice of one (rows, 5) matrix (a tensor holding zeros: torch masks
    the slices without one too), along dim 1 and as columns of its transpose."""
    torch = pytest.importorskip("torch")
    arr = np.array(list(ROWS.values()))
    if dim == 0:
        arr = np.ascontiguousarray(arr.T)
    for dtype in ("float32", "float64"):
        got, want = (_run(m, arr, dim, gk, dtype, second) for m in (tg, torch))
        for u, v in zip(got[:2], want[:2]):
            _same(u, v, dtype)


def test_one_entry_and_torch_values():
    """One entry after the leaf's; float32 products in float64 rounded once per output, as
    torch's kernel (the scan's float32 products rounded at every step)."""
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(6).uniform(0.5, 1.5, (8, 32)).astype(np.float32)
    x = tg.tensor(a, requires_grad=True)
    y = x.cumprod(1)
    tape, e = y._tape, y._node
    assert e == len(tape) - 1 and tape.ia[e] == e - 1
    np.testing.assert_array_equal(y.detach().numpy(), torch.tensor(a).cumprod(1).numpy())
    with tg.no_grad():
        np.testing.assert_array_equal(x.cumprod(0).numpy(), torch.tensor(a).cumprod(0).numpy())


def test_grad_fn_saved_values_and_in_place_checks_as_torch():
    torch = pytest.importorskip("torch")
    facts = []
    for m in (tg, torch):
        a = m.tensor([[1.0, 0.0, 2.0], [3.0, 0.5, -1.0]], requires_grad=True)
        y = (a * 1.0).cumprod(1)
        fn = y.grad_fn
        facts.append((fn.name(), [type(f).__name__ for f, _ in fn.next_functions],
                      fn._saved_self.tolist(), fn._saved_result.tolist(), fn._saved_dim))
        errs = []
        for changed in ("x", "y"):
            x = a * 1.0
            y = x.cumprod(0)
            (x if changed == "x" else y).mul_(2.0)
            with pytest.raises(RuntimeError) as err:
                y.sum().backward()
            errs.append(str(err.value).split(";")[0].split("[")[0])
        facts.append(errs)
    assert facts[0] == facts[2] and facts[1] == facts[3]


def test_traced_call_replays_the_body():
    torch = pytest.importorskip("torch")
    w = tg.tensor([1.0, 2.0, 3.0, 4.0], dtype=tg.float64)
    rec = tg.record(lambda x: (x.cumprod(0) * w).sum(),
                    tg.tensor([1.0, 2.0, 3.0, 4.0], dtype=tg.float64))
    for pt in ([0.5, 2.0, -1.0, 3.0], [2.0, 0.0, 3.0, 1.5]):
        v, (g,) = rec.value_and_grad(np.array(pt))
        x = torch.tensor(pt, requires_grad=True)
        y = (x.cumprod(0) * torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)).sum()
        y.backward()
        np.testing.assert_allclose(v, y.item(), rtol=1e-14)
        np.testing.assert_allclose(g, x.grad.numpy(), rtol=1e-14)


# (numpy scalars warn at 0 * inf and x / 0 where the compiled pieces are quiet)
@pytest.mark.filterwarnings("ignore:.*encountered in scalar:RuntimeWarning")
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_kind_faces(dim):
    """The kind's kernel pieces (a replay's forward, the eager sweep) as plain Python on a
    small arena, and its tensor faces, agree with the eager entry: slices with no, one and two
    zeros, an infinity and nan, along each dim of a 3-d operand."""
    from tapegrad.kinds import cumprod
    from tapegrad.views import KIND_OPS
    a = np.random.default_rng(11).standard_normal((5, 5, 5)) + 0.5
    moved = np.moveaxis(a, dim, 2)
    for i, row in enumerate(ROWS.values()):
        moved[i % 5, i // 5] = row
    x = tg.tensor(a, requires_grad=True)
    y = x.cumprod(dim)
    tape, e = y._tape, y._node
    params = tape.params_of(e)
    assert params.tolist() == list(cumprod.block(a.shape, dim))
    n = a.size
    args = (1, 0, -1, n, n, np.array([0, n]), None, None, None, np.array([0, 0]),
            np.asarray(params), None)
    vals = np.concatenate([a.ravel(), np.zeros(n)])
    cumprod.forward_cumprod(*args, vals)
    np.testing.assert_array_equal(vals[n:], y.detach().numpy().ravel())
    g = np.random.default_rng(12).standard_normal(a.shape)
    adj = np.concatenate([np.zeros(n), g.ravel()])
    cumprod.sweep_cumprod(*args, vals, adj)
    gx, = tg.autograd.grad(y, x, tg.tensor(g))
    np.testing.assert_array_equal(adj[:n].reshape(a.shape), gx.numpy())
    z = cumprod.tensor_forward_cumprod(KIND_OPS, x, None, tuple(y.shape), params, 0.0)
    np.testing.assert_array_equal(z.detach().numpy(), y.detach().numpy())
    (i, t), = cumprod.tensor_vjp_cumprod(KIND_OPS, tg.tensor(g), {0: x, 2: y}.get, a.shape,
                                         None, params, 0.0)
    assert i == 0
    # (create_graph's formula is torch's grad-mode one, which differs from the plain sweep's
    # at infinities and nan: compared with torch's create_graph gradient)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(a, requires_grad=True)
    tgx, = torch.autograd.grad(tx.cumprod(dim), tx, torch.tensor(g), create_graph=True)
    _same(t.detach().numpy(), tgx.detach().numpy(), "float64")
