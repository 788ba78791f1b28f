"""tapegrad.dask: batch replay on dask arrays, on the threaded scheduler and on a 2-process
distributed.LocalCluster started here (loopback only).  Results must equal the in-process
batch bit for bit."""
import os
import signal
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

import tapegrad as tg  # noqa: E402
import tapegrad.dask as tgd  # noqa: E402
from tapegrad import replay  # noqa: E402
import fresh  # noqa: E402


def branchy(x, y):
    if x > 0:                      # guard
        return (x * x * y).sum() + y.sin()
    return (x * 3.0).sum() * y


def several(x, w, m):
    """Inputs of three shapes: (), (3,), (2, 2)."""
    return (w * x).tanh().sum() + (m @ m).sin().sum() * x + (w ** 2).sum()


def vector_out(x, y):
    return (x * y).sin() + x * 2.0


def recurrence(x, n):
    y = 1.0
    for _ in range(n):
        y = y * 0.999 + x.sin() * 0.001
    return y


def equal(a, b):
    """Bit for bit (NaN where NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def several_tape(dtype):
    return tg.record(several, tg.tensor(0.5, dtype=dtype), tg.tensor([0.1, -0.2, 0.3], dtype=dtype),
                     tg.tensor([[1.0, 0.5], [-0.5, 2.0]], dtype=dtype))


def several_points(B, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(B).astype(dtype), rng.standard_normal((B, 3)).astype(dtype),
            rng.standard_normal((B, 2, 2)).astype(dtype))


def chunked(Xs, chunks):
    return [da.from_array(x, chunks=(chunks,) + x.shape[1:]) for x in Xs]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       host="127.0.0.1", dashboard_address=None,
                                       worker_dashboard_address=None)
    c = distributed.Client(cluster, set_as_default=False)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def on(client, fn):
    """fn() with `client` as the current client (tape_of scatters to it), computed there."""
    with client.as_current():
        out = fn()
        return dask.compute(*out, scheduler=client) if isinstance(out, tuple) else out


# ---- threaded scheduler ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threaded_equals_in_process(dtype):
    tape = several_tape(tg.float64 if dtype == np.float64 else tg.float32)
    Xs = several_points(1000, dtype)
    ref_v, ref_g = tape.value_and_grad_batch(*Xs)
    v, g, held = tgd.value_and_grad_batch(tape, *chunked(Xs, 300))
    assert isinstance(v, da.Array) and v.chunks == ((300, 300, 300, 100),)
    assert [x.shape for x in g] == [(1000,), (1000, 3), (1000, 2, 2)]
    v, g, held = dask.compute(v, g, held, scheduler="threads")
    assert equal(v, ref_v) and all(equal(a, b) for a, b in zip(g, ref_g)) and held.all()
    # argnums and threads select as in-process
    g1 = tgd.value_and_grad_batch(tape, *chunked(Xs, 128), argnums=1, threads=1)[1]
    assert equal(g1.compute(scheduler="threads"), ref_g[1])
    g02 = tgd.value_and_grad_batch(tape, *chunked(Xs, 128), argnums=(0, 2))[1]
    assert all(equal(a, ref_g[i]) for a, i in zip(dask.compute(*g02, scheduler="threads"), (0, 2)))


def test_inputs_with_different_chunks_and_numpy_inputs():
    tape = several_tape(tg.float64)
    Xs = several_points(500, np.float64, seed=1)
    ref_v, ref_g = tape.value_and_grad_batch(*Xs)
    v, g, _ = tgd.value_and_grad_batch(tape, da.from_array(Xs[0], chunks=70),
                                       da.from_array(Xs[1], chunks=(200, 1)), Xs[2])
    v, g = dask.compute(v, g, scheduler="threads")
    assert equal(v, ref_v) and all(equal(a, b) for a, b in zip(g, ref_g))


def test_many_nd_inputs():
    tape = tg.record(lambda *xs: sum((x * x).sin().sum() for x in xs),
                     *[tg.ones(2, dtype=tg.float64)] * 30)
    Xs = [np.random.default_rng(i).standard_normal((90, 2)) for i in range(30)]
    ref_v, ref_g = tape.value_and_grad_batch(*Xs)
    v, g, _ = tgd.value_and_grad_batch(tape, *chunked(Xs, 40))
    v, g = dask.compute(v, g, scheduler="threads")
    assert equal(v, ref_v) and all(equal(a, b) for a, b in zip(g, ref_g))


def test_shape_errors_raise_in_the_client():
    tape = several_tape(tg.float64)
    X = [da.from_array(x, chunks=100) for x in several_points(300, np.float64)]
    with pytest.raises(TypeError, match="takes 3 inputs, got 2"):
        tgd.value_and_grad_batch(tape, *X[:2])
    with pytest.raises(ValueError, match=r"input 1: expected shape \(B,\) \+ \(3,\).*got \(300, 4\)"):
        tgd.value_and_grad_batch(tape, X[0], da.zeros((300, 4), chunks=100), X[2])
    with pytest.raises(ValueError, match=r"input 2: expected 300 points \(as input 0\), got 299"):
        tgd.value_and_grad_batch(tape, X[0], X[1], X[2][:299])
    with pytest.raises(ValueError, match="number of points must be known"):
        tgd.value_and_grad_batch(tape, X[0][X[0] > 0], X[1], X[2])
    with pytest.raises(TypeError, match="expected a tapegrad.Recorded"):
        tgd.value_and_grad_batch(several, *X)
    with pytest.raises(IndexError, match="argnums: 3"):
        tgd.value_and_grad_batch(tape, *X, argnums=3)
    with pytest.raises(ValueError, match="branch_changed must be"):
        tgd.value_and_grad_batch(tape, *X, branch_changed="ignore")
    with pytest.raises(TypeError, match="one one-element output"):
        tgd.value_and_grad_batch(tg.record(vector_out, tg.ones(2), tg.ones(2)),
                                 da.ones((4, 2)), da.ones((4, 2)))
    with pytest.raises(ValueError, match=r"hvp: v has 299 points, the inputs 300"):
        tgd.hvp_batch(tape, tuple(X), tuple(x[:299] for x in X))


# ---- distributed ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cluster_equals_in_process_bit_for_bit(client, dtype):
    tape = several_tape(tg.float64 if dtype == np.float64 else tg.float32)
    Xs = several_points(2000, dtype, seed=2)
    ref_v, ref_g = tape.value_and_grad_batch(*Xs)
    v, g, held = on(client, lambda: tgd.value_and_grad_batch(tape, *chunked(Xs, 300)))
    assert equal(v, ref_v) and all(equal(a, b) for a, b in zip(g, ref_g)) and held.all()


def test_tape_is_scattered_once_to_every_worker(client):
    tape = several_tape(tg.float64)
    with client.as_current():
        ref = tgd.tape_of(tape)
        assert tgd.tape_of(tape).key == ref.key           # scattered once per tape
    assert len(client.who_has([ref])[ref.key]) == 2      # on both workers
    Xs = chunked(several_points(400, np.float64), 50)
    v = on(client, lambda: tgd.value_and_grad_batch(tape, *Xs)[0])
    # every chunk's task reads the scattered key; the graph itself holds no tape
    graph = dict(v.__dask_graph__())
    readers = [t for t in graph.values() if ref.key in getattr(t, "dependencies", ())]
    assert len(readers) == 8
    assert not any(isinstance(getattr(t, "value", None), tg.Recorded) for t in graph.values())
    # without a client the tape is one key of the graph, read by every chunk's task
    local = dict(tgd.value_and_grad_batch(tape, *Xs)[0].__dask_graph__())
    tapes = [k for k, t in local.items() if isinstance(getattr(t, "value", None), tg.Recorded)]
    assert len(tapes) == 1
    assert len([t for t in local.values() if tapes[0] in getattr(t, "dependencies", ())]) == 8
    # pickled as the save format: a fresh copy replays the same
    import pickle
    copy = pickle.loads(pickle.dumps(tape))
    assert equal(copy.value_and_grad_batch(*several_points(10, np.float64))[0],
                 tape.value_and_grad_batch(*several_points(10, np.float64))[0])


def test_guards_mask_or_raise_on_the_cluster(client):
    tape = tg.record(branchy, tg.tensor(1.0, dtype=tg.float64), tg.tensor(2.0, dtype=tg.float64))
    rng = np.random.default_rng(3)
    X, Y = rng.uniform(-0.5, 1.0, 600), rng.uniform(0.0, 1.0, 600)
    ref_v, ref_g, ref_held = tape.value_and_grad_batch(X, Y, branch_changed="mask")
    assert 0 < (~ref_held).sum() < 600 and np.isnan(ref_v[~ref_held]).all()
    np.testing.assert_array_equal(ref_held, X > 0)
    dX, dY = da.from_array(X, chunks=100), da.from_array(Y, chunks=100)
    v, g, held = on(client, lambda: tgd.value_and_grad_batch(tape, dX, dY))
    assert equal(v, ref_v) and equal(g[0], ref_g[0]) and equal(g[1], ref_g[1])
    assert equal(held, ref_held)
    # where the branch held, the values are the function's own
    x, y = X[held], Y[held]
    np.testing.assert_allclose(v[held], x * x * y + np.sin(y), rtol=1e-14)
    with client.as_current():
        v = tgd.value_and_grad_batch(tape, dX, dY, branch_changed="raise")[0]
    with pytest.raises(tg.BranchChanged, match=r"if x > 0:"):
        v.compute(scheduler=client)


def test_jacobian_and_hvp_on_the_cluster(client):
    vec = tg.record(vector_out, tg.tensor([1.0, 2.0], dtype=tg.float64),
                    tg.tensor([0.5, 0.1], dtype=tg.float64))
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((300, 2)), rng.standard_normal((300, 2))
    ref = vec.jacobian_batch(X, Y)
    assert ref[0].shape == (300, 2, 2)
    np.testing.assert_allclose(ref[0][7], vec.jacobian(X[7], Y[7])[0], rtol=1e-15)
    jacs, held = on(client, lambda: tgd.jacobian_batch(vec, *chunked((X, Y), 64)))
    assert equal(jacs[0], ref[0]) and equal(jacs[1], ref[1]) and held.all()

    tape = tg.record(branchy, tg.tensor(1.0, dtype=tg.float64), tg.tensor(2.0, dtype=tg.float64))
    P = rng.uniform(-0.5, 1.0, (2, 400))
    V = rng.standard_normal((2, 400))
    ref_v, ref_h, ref_held = tape.hvp_batch(tuple(P), tuple(V), branch_changed="mask")
    x, y = P[:, ref_held]
    vx, vy = V[:, ref_held]
    # f = x^2 y + sin y: H = [[2y, 2x], [2x, -sin y]]
    np.testing.assert_allclose(ref_h[0][ref_held], 2 * y * vx + 2 * x * vy, rtol=1e-13)
    np.testing.assert_allclose(ref_h[1][ref_held], 2 * x * vx - np.sin(y) * vy, rtol=1e-13)
    v, h, held = on(client, lambda: tgd.hvp_batch(tape, tuple(chunked(P, 100)),
                                                  tuple(chunked(V, 100))))
    assert equal(v, ref_v) and equal(h[0], ref_h[0]) and equal(h[1], ref_h[1])
    assert equal(held, ref_held)


def test_a_worker_killed_mid_run_is_retried(client):
    """A worker killed while the computation runs (chunks it replayed in its memory, the
    computation unfinished) loses nothing: the scheduler recomputes them elsewhere, bit for
    bit.
    The second half of the points passes through a gate (a task that waits, off the worker's
    thread, for a distributed Event) opened only after the kill, so the computation cannot
    finish before it however the machine is loaded: it used to finish in ~0.3 s on warm
    workers, and on a loaded machine the kill could come after the end ("not done" failed) or
    find no worker with work left."""
    n = 5000                                  # 20000 entries: ~0.2 ms per point
    tape = tg.record(recurrence, tg.tensor(0.5, dtype=tg.float64), n)
    X = np.random.default_rng(5).uniform(-1, 1, 3200)
    ref_v, (ref_g,) = tape.value_and_grad_batch(X)
    pids = client.run(os.getpid)
    gate_name = f"tapegrad-kill-gate-{os.getpid()}-{time.monotonic_ns()}"
    gate = distributed.Event(gate_name, client=client)

    def gated(x):
        distributed.secede()                  # (the worker's thread runs other tasks)
        distributed.Event(gate_name).wait()
        distributed.rejoin()
        return x

    held_back = [da.from_delayed(dask.delayed(gated, pure=False)(X[i:i + 100]), (100,), X.dtype)
                 for i in range(1600, 3200, 100)]
    points = da.concatenate([da.from_array(X[:1600], chunks=100)] + held_back)
    with client.as_current():
        v, (g,), held = tgd.value_and_grad_batch(tape, points)
        fut = client.compute([v, g, held])
    replayed = {str(k) for a in (v, g, held) for k in a.__dask_graph__()} - \
        {str(k) for k in points.__dask_graph__()}
    deadline = time.monotonic() + 300
    while True:                               # until a worker holds replayed chunks
        victim = next((w for w, keys in client.has_what().items()
                       if any(str(k) in replayed for k in keys)), None)
        if victim is not None or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert victim is not None and not any(f.done() for f in fut)   # mid-run
    os.kill(pids[victim], signal.SIGKILL)
    gate.set()
    v, g, held = client.gather(fut)
    assert equal(v, ref_v) and equal(g, ref_g) and held.all()
    client.wait_for_workers(2, timeout=120)   # the nanny restarted it (for later tests)
    assert pids[victim] not in client.run(os.getpid).values()


def test_flat_layout_equals_one_array_per_input(client):
    tape = several_tape(tg.float64)
    Xs = several_points(700, np.float64, seed=6)
    P = np.concatenate([x.reshape(700, -1) for x in Xs], axis=1)
    ref_v, ref_g = tape.value_and_grad_batch(*Xs)
    v, G = tape.value_and_grad_flat(P)
    assert equal(v, ref_v)
    assert equal(G, np.concatenate([g.reshape(700, -1) for g in ref_g], axis=1))
    dv, dG, held = on(client, lambda: tgd.value_and_grad_flat(tape, da.from_array(P, chunks=(100, 4))))
    assert equal(dv, v) and equal(dG, G) and held.all()
    with pytest.raises(ValueError, match=r"expected shape \(B, 8\) .*got \(700, 7\)"):
        tgd.value_and_grad_flat(tape, da.from_array(P[:, :7]))
    with pytest.raises(ValueError, match=r"expected shape \(B, 8\)"):
        tape.value_and_grad_flat(P[:, :7])


_TORCH_THREADS_AFTER_TASKS = """
import numpy as np, torch, dask, dask.array as da
import tapegrad as tg, tapegrad.dask as tgd
torch.set_num_threads(1)
tape = tg.record(lambda x: (x * x).sin().sum(), tg.tensor([0.5, 0.25], dtype=tg.float64))
X = da.from_array(np.random.default_rng(0).standard_normal((64, 2)), chunks=(16, 2))
dask.compute(tgd.value_and_grad_batch(tape, X, threads=2), scheduler="threads")
print(torch.get_num_threads())
"""


def test_task_threads_leave_torchs_thread_count():
    """A task's `threads=` caps its batch call for its own thread (replay.cap_batch_threads), not
    through numba.set_num_threads: that launched Numba's OpenMP layer, which set the thread
    count of the libgomp torch shares (torch.set_num_threads(1) undone in the worker).  A
    fresh process: the layer is launched once a process."""
    pytest.importorskip("torch")
    out = fresh.run(_TORCH_THREADS_AFTER_TASKS).stdout
    assert out.split() == ["1"]
    with replay.cap_batch_threads(1):
        assert replay._threads() == 1
