"""cumsum as one entry of the scan kind (tapegrad/kinds/scan.py): torch's values bit for bit
(sequential sums, float32 accumulated in float64), torch's gradients and grad_fn graph,
derivatives of every order, in-place cumsum_, record/replay (every kernel: the kind has
kernel pieces) and a tape file holding it, and O(1) entries where the Hillis-Steele
decomposition recorded log2(n) cat/slice groups."""
import pickle
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import replay, tapefile
from tapegrad.ops import OPS
from test_linalg import _edited

RNG = np.random.default_rng(7)

SHAPES_DIMS = [((1000, 50), 1), ((1000, 50), 0), ((1000, 50), -1), ((7, 6, 5), 1),
               ((7, 6, 5), -3), ((4, 3, 2, 5), 2), ((33,), 0), ((), 0), ((), -1),
               ((0, 4), 0), ((0, 4), 1), ((3, 0, 2), 1), ((1, 9), 0), ((9, 1), 1), ((1,), 0)]


def _data(shape, dtype="float64"):
    # wide magnitudes: a different summation order would round differently
    return (RNG.standard_normal(shape) * 10.0 ** RNG.integers(-3, 4, shape)).astype(dtype)


def _same(a, b):
    """Equal bit for bit (nan == nan, 0.0 != -0.0), in dtype and shape."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_values_and_gradients_bit_for_bit_as_torch(shape, dim, dtype):
    torch = pytest.importorskip("torch")
    x = _data(shape, dtype)
    w = _data(shape, dtype)
    got = []
    for m in (tg, torch):
        a = m.tensor(x, requires_grad=True)
        y = m.cumsum(a, dim=dim)
        (y * m.tensor(w)).sum().backward()
        got.append((y.detach().numpy(), a.grad.numpy(), y.grad_fn.name()))
    _same(got[0][0], got[1][0])
    _same(got[0][1], got[1][1])
    assert got[0][2] == got[1][2] == "CumsumBackward0"


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "uint8", "bool"])
def test_integer_inputs_are_int64_as_torch(dtype):
    torch = pytest.importorskip("torch")
    x = RNG.integers(-100, 100, (5, 6)).astype(dtype) if dtype != "bool" else \
        RNG.integers(0, 2, (5, 6)).astype(bool)
    for dim in (0, 1, -1):
        a, b = tg.tensor(x).cumsum(dim), torch.tensor(x).cumsum(dim)
        assert str(a.dtype) == str(b.dtype).replace("torch", "tapegrad")
        _same(a.numpy(), b.numpy())


@pytest.mark.parametrize("src,dt", [("float32", "float64"), ("float64", "float32"),
                                    ("int64", "float32"), ("float32", "int64")])
def test_dtype_argument_as_torch(src, dt):
    torch = pytest.importorskip("torch")
    x = _data((40, 30), src) if src.startswith("float") else RNG.integers(-9, 9, (40, 30))
    a = tg.cumsum(tg.tensor(x), 1, dtype=getattr(tg, dt))
    b = torch.cumsum(torch.tensor(x), 1, dtype=getattr(torch, dt))
    _same(a.numpy(), b.numpy())


def test_special_values_as_torch():
    """inf - inf is nan from there on; a leading -0.0 is 0.0 (torch's sum starts at +0.0)."""
    torch = pytest.importorskip("torch")
    x = [[-0.0, -0.0, 1.0, np.inf, -np.inf, 2.0], [np.nan, 1.0, -0.0, 0.0, -1.0, 1e308]]
    for dim in (0, 1):
        _same(tg.tensor(x).cumsum(dim).numpy(), torch.tensor(x).cumsum(dim).numpy())
    _same(tg.tensor(-0.0).cumsum(0).numpy(), torch.tensor(-0.0).cumsum(0).numpy())


def test_float32_overflow_is_inf_silently_as_torch():
    """A float32 running sum past float32's range (summed in float64) is inf, with no
    warning from the cast back to float32 (torch's is silent)."""
    torch = pytest.importorskip("torch")
    x = [[3e38, 3e38, -3e38], [-3e38, -3e38, 1.0]]
    for dim in (0, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = tg.tensor(x).cumsum(dim).numpy()
            flipped = tg.tensor(x).flip(dim).cumsum(dim).numpy()
        _same(got, torch.tensor(x).cumsum(dim).numpy())
        _same(flipped, torch.tensor(x).flip(dim).cumsum(dim).numpy())


def test_grad_fn_and_next_functions_as_torch():
    torch = pytest.importorskip("torch")
    names = []
    for m in (tg, torch):
        a = m.tensor(_data((3, 4)), requires_grad=True)
        y = (a * 2).cumsum(1)
        fn = y.grad_fn
        names.append((fn.name(), [(type(f).__name__ if f is not None else None, k)
                                  for f, k in fn.next_functions]))
        leaf = a.cumsum(0).grad_fn.next_functions
        names.append([(type(f).__name__, k) for f, k in leaf])
    assert names[0] == names[2] and names[1] == names[3]
    assert names[0][0] == "CumsumBackward0"


@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((3, 4, 2), 0), ((6,), -1), ((), 0)])
def test_gradcheck_second_and_third_order(shape, dim):
    x = tg.tensor(RNG.standard_normal(shape), requires_grad=True)

    def f(a):
        return (a.cumsum(dim) ** 2 * a).cumsum(dim)
    assert tg.autograd.gradcheck(f, (x,))
    assert tg.autograd.gradgradcheck(f, (x,))

    def first(a):   # the first derivative, differentiated twice more (third order)
        (g,) = tg.autograd.grad(f(a).sum(), a, create_graph=True)
        return g
    assert tg.autograd.gradgradcheck(first, (x,))


def test_create_graph_derivatives_as_torch():
    torch = pytest.importorskip("torch")
    x = _data((6, 5))
    out = []
    for m in (tg, torch):
        a = m.tensor(x, requires_grad=True)
        y = (a.cumsum(1) ** 3).cumsum(0).sum()
        (g,) = m.autograd.grad(y, a, create_graph=True)
        (h,) = m.autograd.grad((g * g).sum(), a, create_graph=True)
        (k,) = m.autograd.grad(h.sum(), a)
        out.append((g.detach().numpy(), h.detach().numpy(), k.numpy(), g.grad_fn is not None))
    for u, v in zip(out[0][:3], out[1][:3]):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)
    assert out[0][3] and out[1][3]


def test_cumsum_inplace_as_torch():
    torch = pytest.importorskip("torch")
    x = _data((5, 7))
    got = []
    for m in (tg, torch):
        a = m.tensor(x, requires_grad=True)
        b = a * 1.0
        r = b.cumsum_(1)
        assert r is b
        (b * b).sum().backward()
        got.append((b.detach().numpy(), a.grad.numpy(), b.grad_fn.name()))
        c = m.tensor([[1, 2], [3, 4]], dtype=m.int32)
        c.cumsum_(0)
        got.append((c.numpy(), str(c.dtype).split(".")[-1]))
    _same(got[0][0], got[2][0])
    _same(got[0][1], got[2][1])
    assert got[0][2] == got[2][2] == "CumsumBackward0"
    _same(got[1][0], got[3][0])
    assert got[1][1] == got[3][1]


def _asian(S, Z):
    """A Monte Carlo Asian option's payoff: the paths' running sums of log returns."""
    paths = S * tg.exp(tg.cumsum(0.01 * Z - 0.0005, dim=1))
    return tg.relu(paths.mean(1) - 1.0).mean()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_record_replay_values_and_gradients(dtype):
    def f(s, z):
        return (s * tg.exp(z.cumsum(1) * 0.01 - 0.0005).cumsum(0)).sum()
    z0 = _data((30, 8), dtype)
    rec = tg.record(f, tg.tensor(np.array(1.5, dtype)), tg.tensor(z0))
    for _ in range(3):
        s, z = np.array(RNG.uniform(0.5, 2.0), dtype), _data((30, 8), dtype)
        st, zt = tg.tensor(s, requires_grad=True), tg.tensor(z, requires_grad=True)
        want = f(st, zt)
        want.backward()
        value, (gs, gz) = rec.value_and_grad(s, z)
        np.testing.assert_allclose(float(value), want.item(), rtol=1e-12 if dtype == "float64" else 1e-5)
        np.testing.assert_allclose(gz, zt.grad.numpy(), rtol=1e-10 if dtype == "float64" else 1e-4)
        np.testing.assert_allclose(float(gs), st.grad.item(), rtol=1e-10 if dtype == "float64" else 1e-4)
        np.testing.assert_allclose(float(rec(s, z)), float(value), rtol=1e-12)


def test_replay_forward_bit_for_bit_as_torch_float32():
    """The kernel's running sum (float64 accumulator, each output rounded to float32 in the
    float32 arena) is torch's."""
    torch = pytest.importorskip("torch")
    rec = tg.record(lambda z: z.cumsum(0) * 1.0, tg.tensor(_data((50, 6), "float32")))
    z = _data((50, 6), "float32")
    _same(np.asarray(rec(z)), torch.tensor(z).cumsum(0).numpy())


def test_compile_batch_and_jacobian_run_the_kernel_piece():
    """Kernels that cannot pause (value_and_grad_batch, jacobian) have the kind's pieces."""
    S0, Z0 = tg.tensor(1.0, dtype=tg.float64), tg.tensor(_data((20, 10)))
    cf = tg.compile(_asian)
    rec = tg.record(_asian, S0, Z0)
    Ss = RNG.uniform(0.9, 1.2, 4)
    Zs = np.stack([RNG.standard_normal((20, 10)) for _ in Ss])
    values, (gS, gZ) = rec.value_and_grad_batch(Ss, Zs)
    for i, (s, z) in enumerate(zip(Ss, Zs)):
        st, zt = tg.tensor(s, requires_grad=True), tg.tensor(z, requires_grad=True)
        want = _asian(st, zt)
        want.backward()
        v, (gs, gz) = cf(tg.tensor(s), tg.tensor(z))
        for got in ((values[i], gS[i], gZ[i]), (v.item(), gs.numpy(), gz.numpy())):
            np.testing.assert_allclose(got[0], want.item(), rtol=1e-12)
            np.testing.assert_allclose(got[1], st.grad.item(), rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(got[2], zt.grad.numpy(), rtol=1e-10, atol=1e-14)
    z = RNG.standard_normal(7)
    jac = tg.record(lambda v: v.cumsum(0) * 2.0, tg.tensor(z)).jacobian(z)
    np.testing.assert_array_equal(np.asarray(jac).reshape(7, 7), 2.0 * np.tril(np.ones((7, 7))))


def test_tape_file_round_trip_and_bad_params(tmp_path):
    rec = tg.record(lambda z: (z.cumsum(1) ** 2).sum(), tg.tensor(_data((4, 5))))
    path = tmp_path / "scan.npz"
    rec.save(path)
    z = _data((4, 5))
    want = rec.value_and_grad(z)
    for again in (tg.load_tape(path), pickle.loads(pickle.dumps(rec))):
        got = again.value_and_grad(z)
        assert got[0] == want[0] and np.array_equal(got[1], want[1])
    members = replay.to_arrays(rec)
    e = int(np.flatnonzero(members["op"] == OPS["cumsum"].code)[0])
    for k, v in ((1, 6), (3, 2), (0, -4)):   # m past the operand; reverse 2; outer < 0

        def edit(arrs, k=k, v=v):
            arrs["params"][arrs["par"][e] + k] = v
        with pytest.raises(tapefile.TapeFormatError, match="scan params"):
            replay.from_arrays(_edited(members, edit))


def test_one_entry_forward_and_backward():
    """A cumsum over a (20000, 50) tensor records one entry, and its create_graph backward a
    few (the decomposition: 6 doubling steps, each a cat of a pad and a slice, and an add)."""
    a = tg.tensor(_data((20000, 50)), requires_grad=True)
    y = a.cumsum(1)
    tape = y._tape
    n0 = tape.n
    assert tape.params_of(y._node).tolist() == [20000, 50, 1, 0]
    z = y * 1.0
    n1 = tape.n
    (g,) = tg.autograd.grad(z.sum(), a, create_graph=True)
    assert tape.n - n1 <= 6, tape.n - n1
    assert n0 <= 3   # the leaf (and nothing else) before it
    np.testing.assert_array_equal(g.detach().numpy(), np.broadcast_to(np.arange(50, 0, -1.0),
                                                                       (20000, 50)))


def test_inplace_scan_dtype_must_be_the_tensors_own(torch_ref):
    """cumsum_/cumprod_ with another dtype: torch's "Bad in-place call" (the dtype was
    ignored: an int64 tensor's cumsum_(dtype=float32) ran in int64)."""
    def run(m):
        out = []
        for t, op in ((m.tensor([1, 2, 3]), lambda t: t.cumsum_(0, dtype=m.float32)),
                      (m.ones(3), lambda t: t.cumprod_(0, dtype=m.float64)),
                      (m.ones(3), lambda t: t.cumsum_(0, dtype=m.float32))):
            try:
                op(t)
                out.append((t.tolist(), t._version))
            except RuntimeError as e:
                out.append((str(e), t.tolist(), t._version))
        return out
    assert run(tg) == run(torch_ref)


def test_params_kept_per_shape_and_dim_as_torch():
    """_scan keeps each (shape, dim)'s params: cumsum of one shape along each dim in turn,
    twice (the second from the kept lists), and of the transposed shape, gives torch's values
    and gradients each time, the entry's params the block's [outer, m, inner, 0]."""
    torch = pytest.importorskip("torch")
    x = _data((3, 4, 5), "float32")
    for _ in range(2):
        for shape, dim in [((3, 4, 5), 0), ((3, 4, 5), 1), ((3, 4, 5), 2), ((5, 4, 3), 1),
                           ((3, 4, 5), -1), ((60,), 0)]:
            got = []
            for m in (tg, torch):
                a = m.tensor(x.reshape(shape), requires_grad=True)
                y = (a * 1.0).cumsum(dim)
                (y * y).sum().backward()
                got.append((y.detach().numpy(), a.grad.numpy()))
            _same(got[0][0], got[1][0])
            _same(got[0][1], got[1][1])
            d = dim % len(shape)
            block = [int(np.prod(shape[:d])), shape[d], int(np.prod(shape[d + 1:])), 0]
            t = (tg.tensor(x.reshape(shape), requires_grad=True) * 1.0).cumsum(dim)
            assert t._tape.params_of(t._node).tolist() == block


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reverse", [0, 1])
def test_running_sums_loop_as_the_numpy_forward(dtype, reverse):
    """tapegrad._sums.running_sums (the eager forward of a float cumsum that records) gives
    kinds/scan.forward's bits: sequential float64 sums rounded per output, a leading -0.0
    made +0.0, nan, infinities, float32 overflow to inf, forwards and reversed (the
    create_graph face), blocks with inner > 1 and non-contiguous inputs."""
    from tapegrad import _sums
    from tapegrad.kinds import scan as scan_kind
    f32 = np.finfo(np.float32).max
    blocks = [_data((3, 9, 1), dtype), _data((2, 5, 4), dtype), _data((1, 1, 1), dtype),
              np.array([[[-0.0], [-0.0], [1.0], [-1.0], [np.nan], [2.0]]], dtype),
              np.array([[[-0.0, np.inf], [0.0, -np.inf], [-0.0, 1.0]]], dtype),
              np.array([[[f32], [f32], [-f32], [-f32]]], dtype),
              _data((4, 6, 3), dtype).transpose(2, 1, 0), np.zeros((0, 3, 2), dtype)]
    for x in blocks:
        out = np.empty(x.shape, x.dtype)
        _sums.running_sums(x, out, reverse)
        _same(out, scan_kind.forward(x, reverse))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cumsum_by_the_loop_and_by_numpy_as_torch(dtype, monkeypatch):
    """cumsum of recorded (the loop) and plain inputs, and with the loop off (numpy's
    forward): torch's values bit for bit, grad_fn, gradients of first and second order
    (create_graph: the reversed entry), along each dim, a transposed input too."""
    from tapegrad import mathops
    torch = pytest.importorskip("torch")
    x = _data((4, 5, 3), dtype)
    x[0, 0, 0], x[1, 2, 1] = -0.0, np.nan

    ws = (_data((3, 5, 4), dtype), _data((4, 5, 3), dtype))   # (per layout: the same for all)

    def run(m, transposed, grad):
        out = []
        for dim in (0, 1, 2, -1):
            a = m.tensor(x, requires_grad=grad)
            b = a.transpose(0, 2) if transposed else a
            y = b.cumsum(dim)
            res = [y.detach().numpy().copy(), y.grad_fn and y.grad_fn.name()]
            if grad:
                w = m.tensor(ws[0] if transposed else ws[1], requires_grad=True)
                g, = m.autograd.grad((y * w).sum(), a, create_graph=True)
                gg, = m.autograd.grad((g * g).sum(), w)
                res += [g.detach().numpy().copy(), gg.numpy().copy()]
            out.append(res)
        return out
    for transposed in (False, True):
        for grad in (True, False):
            want = run(torch, transposed, grad)
            got = run(tg, transposed, grad)
            with monkeypatch.context() as mp:   # (no dtype for the loop: numpy's forward)
                mp.setattr(mathops, "_EXTREMES_DTYPES", ())
                slow = run(tg, transposed, grad)
            for g_, s_, w_ in zip(got, slow, want):
                for a_, b_, c_ in zip(g_, s_, w_):
                    if isinstance(a_, np.ndarray):
                        _same(a_, c_)
                        _same(a_, b_)
                    else:
                        assert a_ == b_ == c_
