"""The replay kernels' loops that the compiled training step spends its time in (issue #12,
step >= 4x torch eager): the float32 tanh, the matmul loop orders and the suffix-broadcast
elementwise loops.  Each is checked bit for bit against the sums it must compute, in the
order it must compute them (sequential numpy accumulations), so a faster loop cannot round
differently; and the compiled step's per-call input checks against storage swaps."""
import math

import numpy as np
import pytest

import tapegrad as tg


def _f32_tanh_reference(x):
    return np.tanh(x.astype(np.float64)).astype(np.float32)


def test_float32_tanh_is_correctly_rounded():
    """A float32 replay's tanh (tapegrad/_mathf32.py) equals float32(tanh(float64(x))): zeros
    keep their sign, infinities give +-1, nan stays nan, tiny values stay themselves."""
    rng = np.random.default_rng(0)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-30, 3e-8, 0.5, 1.0,
               8.9, 9.0, 9.01, 9.1, 9.2, 20.0, -9.05, 3.4e38, -3.4e38]
    x = np.concatenate([special, rng.standard_normal(4000) * 3, rng.uniform(-10, 10, 4000),
                        np.exp(rng.uniform(-80, 2.5, 4000)) * rng.choice([-1, 1], 4000)])
    x = x.astype(np.float32)
    tape = tg.record(lambda t: t.tanh(), tg.zeros(len(x), dtype=tg.float32))
    got = tape(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _f32_tanh_reference(x))
    assert np.signbit(got[1]) and not np.signbit(got[0])
    # the gradient reads the saved output: 1 - tanh^2, in float32
    tape2 = tg.record(lambda t: t.tanh().sum(), tg.zeros(64, dtype=tg.float32))
    _, (g,) = tape2.value_and_grad(x[20:84])
    t = _f32_tanh_reference(x[20:84])
    np.testing.assert_array_equal(g, np.float32(1.0) - t * t)


def test_float64_tanh_is_libms():
    x = np.random.default_rng(1).standard_normal(200) * 4
    tape = tg.record(lambda t: t.tanh(), tg.zeros(200, dtype=tg.float64))
    np.testing.assert_array_equal(tape(x), [math.tanh(v) for v in x])


def _seq_matmul(A, B):
    """out[i, j] = sum_q A[i, q] B[q, j]: float32 products summed in float64, q ascending."""
    prod = (A[:, :, None] * B[None, :, :]).astype(np.float64)   # (m, k, n), float32 products
    return np.cumsum(prod, axis=1)[:, -1, :].astype(A.dtype)


@pytest.mark.parametrize("m,k,n", [(32, 16, 1), (32, 16, 2), (32, 16, 16), (5, 4, 3), (9, 2, 5)])
def test_matmul_kernels_sum_in_order(m, k, n):
    """forward_matmul (both loop orders) and sweep_matmul compute, bit for bit: out as one
    float64 dot product per element; gA[i, q] = sum_j g[i, j] B[q, j] in float64 over j
    ascending; gB[q, j] accumulated in the arena's float32 over i ascending."""
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    A = rng.standard_normal((m, k)).astype(np.float32)
    B = rng.standard_normal((k, n)).astype(np.float32)
    C = rng.standard_normal((m, n)).astype(np.float32)
    c = tg.tensor(C)
    tape = tg.record(lambda x, w: ((x @ w) * c).sum(), tg.tensor(A), tg.tensor(B))
    out_tape = tg.record(lambda x, w: x @ w, tg.tensor(A), tg.tensor(B))
    np.testing.assert_array_equal(out_tape(A, B), _seq_matmul(A, B))
    _, (gA, gB) = tape.value_and_grad(A, B)
    # g = C exactly (sum's then mul's backward); gA = g @ B^T as above, gB = A^T @ g
    gA_ref = np.cumsum((C[:, None, :] * B[None, :, :]).astype(np.float64), axis=2)[:, :, -1]
    np.testing.assert_array_equal(gA, gA_ref.astype(np.float32))
    gB_ref = np.add.accumulate(C[:, None, :] * A[:, :, None], axis=0, dtype=np.float32)[-1]
    np.testing.assert_array_equal(gB, gB_ref)


@pytest.mark.parametrize("xs,bs", [((4, 3), (3,)), ((2, 3, 4), (3, 4)), ((2, 3, 4), (4,)),
                                   ((3, 1), (3, 1)), ((5, 2), (1,))])
@pytest.mark.parametrize("op", ["add", "mul", "radd"])
def test_suffix_broadcast_loops(xs, bs, op):
    """Elementwise entries with a suffix-broadcast operand (a bias): forward values exact, and
    the broadcast operand's gradient summed over the leading rows in order, in float32."""
    rng = np.random.default_rng(len(xs) * 7 + len(bs))
    X = rng.standard_normal(xs).astype(np.float32)
    Bv = rng.standard_normal(bs).astype(np.float32)
    C = rng.standard_normal(xs).astype(np.float32)
    c = tg.tensor(C)
    f = {"add": lambda x, b: x + b, "mul": lambda x, b: x * b, "radd": lambda x, b: b + x}[op]
    np.testing.assert_array_equal(tg.record(f, tg.tensor(X), tg.tensor(Bv))(X, Bv), f(X, Bv))
    tape = tg.record(lambda x, b: (f(x, b) * c).sum(), tg.tensor(X), tg.tensor(Bv))
    _, (gX, gB) = tape.value_and_grad(X, Bv)
    Bb = np.broadcast_to(Bv, xs)
    np.testing.assert_array_equal(gX, C * Bb if op == "mul" else C)
    # row by row into the float32 arena; mul's product g * x is taken in float64 (an operand
    # read is float64 where it may be a constant) and rounded as it is added
    g = C.reshape(-1, Bv.size).astype(np.float64)
    x = X.reshape(-1, Bv.size).astype(np.float64)
    ref = np.zeros(Bv.size, np.float32)
    for r in range(g.shape[0]):
        ref = (ref + (g[r] * x[r] if op == "mul" else g[r])).astype(np.float32)
    np.testing.assert_array_equal(gB, ref.reshape(bs))


@pytest.mark.parametrize("xs,bs", [((2, 3, 4, 5), (1, 3, 1, 1)), ((2, 3, 4, 5), (3, 1, 1)),
                                   ((2, 3, 4, 5), (1, 3, 4, 1)), ((6, 4, 3), (4, 1)),
                                   ((2, 3, 4, 5), (2, 1, 4, 1))])   # (last: two blocks)
@pytest.mark.parametrize("op", ["sub", "div"])
def test_middle_broadcast_loops(xs, bs, op):
    """An operand that is a block of consecutive dims (per-channel statistics, (k // inner) %
    size) or two blocks (bcast_index): the eager backward's gradients against numpy's in
    float64, a replay's forward exact and its broadcast operand's gradient summed in order;
    and keepdim means over the other dims (the reduce kind's middle case)."""
    rng = np.random.default_rng(len(xs) * 11 + len(bs))
    X = rng.standard_normal(xs)
    Bv = rng.uniform(1.0, 2.0, bs)
    C = rng.standard_normal(xs)
    f = {"sub": lambda x, b: x - b, "div": lambda x, b: x / b}[op]
    x, b = tg.tensor(X, requires_grad=True), tg.tensor(Bv, requires_grad=True)
    (f(x, b) * tg.tensor(C)).sum().backward()
    lead = len(xs) - len(bs)
    dims = tuple(range(lead)) + tuple(lead + d for d, n in enumerate(bs) if n == 1)
    gb = -C if op == "sub" else -C * X / np.broadcast_to(Bv, xs) ** 2
    np.testing.assert_allclose(x.grad.numpy(), C if op == "sub" else C / Bv, rtol=1e-15)
    np.testing.assert_allclose(b.grad.numpy(), gb.sum(axis=dims).reshape(bs), rtol=1e-12)
    X32, B32 = X.astype(np.float32), Bv.astype(np.float32)
    np.testing.assert_array_equal(tg.record(f, tg.tensor(X32), tg.tensor(B32))(X32, B32),
                                  f(X32, B32))
    keep = tuple(d for d in range(len(xs)) if d < lead or xs[d] != bs[d - lead])
    m = tg.tensor(X, requires_grad=True)
    mean = m.mean(keep, keepdim=True)
    np.testing.assert_allclose(mean.detach().numpy(), X.mean(axis=keep, keepdims=True),
                               rtol=1e-13)
    (mean * tg.tensor(Bv.reshape(mean.shape))).sum().backward()
    np.testing.assert_allclose(m.grad.numpy(), np.broadcast_to(
        Bv.reshape(mean.shape) / (X.size // mean.numel()), xs), rtol=1e-15)


@pytest.mark.parametrize("xs,dims", [((16, 50), (0,)), ((4, 3, 5), (0, 1)), ((1, 7, 6), (0,)),
                                     ((3, 1, 4), (0, 1)), ((5, 2), (0,)), ((3, 0), (0,)),
                                     ((2, 0, 4), (0,))])
@pytest.mark.parametrize("mean", [False, True])
def test_leading_reduction_backward(xs, dims, mean):
    """A sum (mean) over leading dims: its gradient, the output's broadcast back run by run
    (the reduce kind's suffix case) times the scale, exactly as numpy's broadcast, nan and
    inf of the incoming gradient only where they broadcast."""
    rng = np.random.default_rng(len(xs) + 3 * len(dims))
    X = rng.standard_normal(xs)
    x = tg.tensor(X, requires_grad=True)
    y = x.mean(dims) if mean else x.sum(dims)
    G = rng.standard_normal(tuple(y.shape))
    if G.size:
        G.reshape(-1)[0] = np.nan
        G.reshape(-1)[-1] = np.inf
    (y * tg.tensor(G)).sum().backward()
    scale = 1.0 / math.prod(xs[d] for d in dims) if mean else 1.0
    np.testing.assert_array_equal(x.grad.numpy(), np.broadcast_to(scale * G, xs))


@pytest.mark.parametrize("xs,cs", [((2, 3, 4, 5), (4, 5)), ((2, 3, 4, 5), (1, 1, 4, 5)),
                                   ((2, 3, 4, 5), (1, 3, 1, 1)), ((2, 3, 4, 5), (3, 4, 1)),
                                   ((6, 4, 3), (4, 1)), ((2, 3, 4, 5), (2, 1, 4, 1)),
                                   ((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), (1,))])
def test_where_condition_broadcast_loops(xs, cs):
    """where's condition broadcast over leading dims (a constant mask: k % size), as a block
    of consecutive dims ((k // inner) % size), as two blocks (bcast_index), whole or one
    element: the eager backward's gradients of both branches and a replay's forward against
    numpy, exactly (where only picks)."""
    rng = np.random.default_rng(len(xs) * 7 + len(cs))
    X, Y, C = rng.standard_normal(xs), rng.standard_normal(xs), rng.standard_normal(xs)
    K = rng.random(cs) > 0.5
    x, y = tg.tensor(X, requires_grad=True), tg.tensor(Y, requires_grad=True)
    (tg.where(tg.tensor(K), x, y) * tg.tensor(C)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(K, C, 0.0))
    np.testing.assert_array_equal(y.grad.numpy(), np.where(K, 0.0, C))
    w = tg.tensor(X, requires_grad=True)
    (tg.where(tg.tensor(K), w, 0.0) * tg.tensor(C)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.where(K, C, 0.0))
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    k = tg.tensor(K)
    tape = tg.record(lambda a, b: tg.where(k, a, b), tg.tensor(X32), tg.tensor(Y32))
    np.testing.assert_array_equal(tape(X32, Y32), np.where(K, X32, Y32))


def _step_program(dtype=tg.float32):
    tg.manual_seed(0)
    model = tg.nn.Sequential(tg.nn.Linear(2, 4), tg.nn.Tanh(), tg.nn.Linear(4, 1)).to(dtype)
    opt = tg.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = tg.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, opt, step


def test_compiled_step_reads_new_parameter_storage():
    """The step reuses its check of the parameters' shapes while their storage is the same
    arrays; a parameter given new storage is read from it (and checked again), as eagerly."""
    rng = np.random.default_rng(3)
    X = tg.tensor(rng.standard_normal((8, 2)).astype(np.float32))
    Y = tg.tensor(rng.standard_normal((8, 1)).astype(np.float32))
    runs = []
    for compiled in (False, True):
        model, opt, step = _step_program()
        if compiled:
            step = tg.compile(step)
        losses = [step(X, Y).item() for _ in range(3)]
        with tg.no_grad():
            model[0].weight.data = model[0].weight.detach() * 0.5   # new storage, same shape
        losses += [step(X, Y).item() for _ in range(3)]
        runs.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
    # (eager float32 sums round differently: numpy's BLAS and tanh)
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-5)
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_compiled_step_refuses_a_reshaped_parameter_first():
    rng = np.random.default_rng(4)
    X = tg.tensor(rng.standard_normal((8, 2)).astype(np.float32))
    Y = tg.tensor(rng.standard_normal((8, 1)).astype(np.float32))
    model, opt, step = _step_program()
    step = tg.compile(step)
    step(X, Y)
    step(X, Y)
    w = model[2].bias
    before = [p.detach().numpy().copy() for p in model.parameters()]
    with tg.no_grad():
        w.data = tg.zeros(2)
    with pytest.raises(RuntimeError, match="shape or dtype changed"):
        step(X, Y)
    after = [p.detach().numpy().copy() for p in model.parameters()]
    for a, b in zip(before[:3], after[:3]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "exp", "pow2"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_activation_sweep_loops_match_the_formula(name, dtype):
    """The sweep's own loops of the common activations (codegen.SWEEP_SLICES, vectorized):
    each gradient is the row's formula of that element's values, bit for bit (in the float64
    arena: g is C exactly, out the forward's value), eager and replayed."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal(1000).astype(dtype)
    C = rng.standard_normal(1000).astype(dtype)
    f = {"tanh": lambda x: x.tanh(), "relu": lambda x: x.relu(), "sigmoid": lambda x: x.sigmoid(),
         "exp": lambda x: x.exp(), "pow2": lambda x: x ** 2}[name]
    x = tg.tensor(X, requires_grad=True)
    y = f(x)
    (y * tg.tensor(C)).sum().backward()
    g, a = C.astype(np.float64), X.astype(np.float64)

    def want(out):
        return {"tanh": lambda: g * (1.0 - out * out), "sigmoid": lambda: g * out * (1.0 - out),
                "relu": lambda: np.where(out <= 0.0, 0.0, g), "exp": lambda: g * out,
                "pow2": lambda: g * (2.0 * a)}[name]().astype(dtype)
    np.testing.assert_array_equal(x.grad.numpy(), want(y.detach().numpy().astype(np.float64)))
    if dtype == "float64":   # (a float32 replay's arena holds float32 values)
        # (the replay's forward values: its libm functions, not numpy's, test_float64_tanh_is_libms)
        out = tg.record(f, tg.tensor(X))(X)
        tape = tg.record(lambda x: (f(x) * tg.tensor(C)).sum(), tg.tensor(X))
        np.testing.assert_array_equal(tape.value_and_grad(X)[1][0], want(out))


@pytest.mark.parametrize("op", ["sub", "mul"])
def test_row_loops_of_sub_and_mul_against_numpy(op):
    """sub and mul of whole and bias-broadcast operands (codegen.ROW_OPS, row by row): the
    eager gradients against numpy's in float64 (the bias's summed over rows in order)."""
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((2, 16, 8))
    Bv, C = rng.standard_normal(8), rng.standard_normal((16, 8))
    for other in (Y, Bv):
        x, o = tg.tensor(X, requires_grad=True), tg.tensor(other, requires_grad=True)
        r = x - o if op == "sub" else x * o
        (r * tg.tensor(C)).sum().backward()
        ob = np.broadcast_to(other, X.shape)
        np.testing.assert_array_equal(x.grad.numpy(), C if op == "sub" else C * ob)
        go = -C if op == "sub" else C * X
        ref = np.zeros(8)
        if other.ndim == 1:
            for row in go:
                ref = ref + row
        np.testing.assert_array_equal(o.grad.numpy(), go if other.ndim == 2 else ref)
