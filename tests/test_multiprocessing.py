"""tapegrad.multiprocessing: Tensor.share_memory_ / is_shared, Module.share_memory, tensors
through a Queue to forked and spawned children, spawn/start_processes and their exceptions,
the sharing strategies, and the lifetime of the shared memory (no descriptor or /dev/shm entry
left).  The children's functions are at the top level so that 'spawn' can pickle them."""
import contextlib
import gc
import os
import pickle
import signal
import sys
import warnings
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest

import tapegrad
import tapegrad.multiprocessing as mp

LINUX = sys.platform.startswith("linux")
needs_fork = pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="no fork")
TIMEOUT = 60


@contextlib.contextmanager
def started(ctx, *targets):
    """Start a Process per (target, args); on leaving, join them (terminate any still running
    after TIMEOUT, also when the test fails) and check they exited with 0."""
    procs = [ctx.Process(target=f, args=a, daemon=True) for f, a in targets]
    try:
        for p in procs:
            p.start()
        yield procs
        for p in procs:
            p.join(TIMEOUT)
        assert [p.exitcode for p in procs] == [0] * len(procs)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            if p.pid is not None:
                p.join(5)


def open_fds():
    return set(os.listdir("/proc/self/fd"))


# ---- the children's functions --------------------------------------------------------------
def child_receive_and_change(q, done):
    shared, param, plain = q.get(timeout=TIMEOUT)
    shared.add_(1)
    with tapegrad.no_grad():
        param.mul_(2)
    plain.add_(100)
    done.put((shared.is_shared(), type(param).__name__, param.requires_grad, param.is_shared(),
              plain.is_shared(), shared.tolist()))
    # sent back: the parent maps it to the buffer it already has
    done.put(shared)
    q.get(timeout=TIMEOUT)    # (kept alive until the parent has it)


def child_sgd_step(model, x):
    opt = tapegrad.optim.SGD(model.parameters(), lr=0.5)
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()


def child_write_rank(i, out):
    out[i] = i + 1


def child_raise(i):
    if i == 1:
        raise ValueError("boom in child")


def child_exit(i, code):
    if i == 0:
        sys.exit(code)


def child_kill(i):
    os.kill(os.getpid(), signal.SIGKILL)


# ---- share_memory_ / is_shared in one process ------------------------------------------------
def test_share_memory_keeps_every_view_on_the_same_memory():
    x = tapegrad.arange(12.0)
    before = [x[2:], x.view(3, 4), x.view(3, 4).t(), x.data, x.detach(), x[::3]]
    assert not any(t.is_shared() for t in [x] + before)
    assert x.share_memory_() is x
    after = [x[1:5], x.view(4, 3)]
    assert all(t.is_shared() for t in [x] + before + after)
    before[0].add_(1)      # a view made before writes into the shared memory ...
    after[1][0, 0] = -5.0  # ... and so does one made after
    x.mul_(2)
    want = (np.arange(12.0) + (np.arange(12) >= 2)) * 2
    want[0] = -10.0
    np.testing.assert_array_equal(x.numpy(), want)
    for v, sel in zip(before + after, [want[2:], want.reshape(3, 4), want.reshape(3, 4).T, want,
                                       want, want[::3], want[1:5], want.reshape(4, 3)]):
        np.testing.assert_array_equal(v.numpy(), sel)
    arr = x._v
    x.share_memory_()    # shared already: nothing moves
    assert x._v is arr


def test_share_memory_of_one_element_and_empty_tensors():
    s = tapegrad.tensor(2.0)     # (held as a number by the scalar fast path)
    assert not s.is_shared() and s.share_memory_().is_shared()
    s.add_(1)
    s.mul_(2)
    assert s.is_shared() and s.item() == 6.0
    e = tapegrad.empty(0).share_memory_()
    assert e.is_shared() and e.shape == (0,)
    i = tapegrad.tensor([1, 2, 3]).share_memory_()
    assert i.is_shared() and i.dtype is tapegrad.int64 and i.tolist() == [1, 2, 3]


def test_module_share_memory_parameters_grads_buffers():
    m = tapegrad.nn.Sequential(tapegrad.nn.Linear(3, 2), tapegrad.nn.BatchNorm1d(2))
    m[0].weight.grad = tapegrad.ones(2, 3)
    assert m.share_memory() is m
    assert all(p.is_shared() for p in m.parameters())
    assert all(b.is_shared() for b in m.buffers())
    assert m[0].weight.grad.is_shared() and m[0].weight.grad.tolist() == [[1.0] * 3] * 2
    assert m[0].bias.grad is None
    lazy = tapegrad.nn.LazyLinear(2)
    with pytest.raises(RuntimeError, match="Can't share memory on an uninitialized parameter"):
        lazy.share_memory()


def test_training_a_shared_model_keeps_it_shared():
    """Tape, backward, .grad and an optimizer step work on shared parameters, and the step
    writes into the shared memory (a view taken before sees it)."""
    tapegrad.manual_seed(0)
    m = tapegrad.nn.Linear(3, 1).share_memory()     # (a one-element bias too)
    w_view = m.weight.data.view(-1)
    opt = tapegrad.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    x = tapegrad.randn(5, 3)
    w0, b0 = m.weight.tolist(), m.bias.item()
    for _ in range(3):
        opt.zero_grad()
        loss = (m(x) ** 2).mean()
        loss.backward()
        grads = (m.weight.grad.numpy().copy(), m.bias.grad.item())
        opt.step()
    assert m.weight.is_shared() and m.bias.is_shared()
    assert m.weight.tolist() != w0 and m.bias.item() != b0
    np.testing.assert_array_equal(w_view.numpy(), m.weight.detach().numpy().reshape(-1))
    # the same run on an unshared copy gives the same values
    tapegrad.manual_seed(0)
    m2 = tapegrad.nn.Linear(3, 1)
    opt2 = tapegrad.optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        opt2.zero_grad()
        (m2(x) ** 2).mean().backward()
        last = (m2.weight.grad.numpy().copy(), m2.bias.grad.item())
        opt2.step()
    np.testing.assert_array_equal(grads[0], last[0])
    assert grads[1] == last[1]
    np.testing.assert_array_equal(m.weight.detach().numpy(), m2.weight.detach().numpy())


def test_shared_tensor_as_a_leaf_after_it_was_recorded():
    w = tapegrad.ones(3, requires_grad=True)
    (w * 2).sum().backward()
    w.share_memory_()
    w.grad = None
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0] * 3 and w.is_shared()


def test_non_leaf_requiring_grad_does_not_pickle_and_plain_ones_copy():
    y = tapegrad.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor"):
        ForkingPickler.dumps(y)
    plain = tapegrad.arange(3.0)
    back = pickle.loads(ForkingPickler.dumps(plain))
    back.add_(1)
    assert plain.tolist() == [0.0, 1.0, 2.0] and not back.is_shared()
    shared = tapegrad.arange(3.0).share_memory_()
    back = pickle.loads(ForkingPickler.dumps(shared[1:]))   # (in this process: the same buffer)
    back.add_(1)
    assert shared.tolist() == [0.0, 2.0, 3.0] and back.is_shared()


def test_sharing_strategies():
    assert mp.get_sharing_strategy() == ("file_descriptor" if LINUX else "file_system")
    with pytest.raises(AssertionError, match="invalid sharing strategy 'x', expected one of"):
        mp.set_sharing_strategy("x")
    if LINUX:
        assert mp.get_all_sharing_strategies() == {"file_descriptor", "file_system"}


@pytest.mark.skipif(not LINUX, reason="/proc/self/fd")
def shm_files():
    """tapegrad's files in /dev/shm (the fallback where there is no memfd); not Python's own
    semaphores, which tests running at the same time in other processes create."""
    return {n for n in os.listdir("/dev/shm") if n.startswith("tapegrad")}


def test_the_memory_is_released_with_its_last_tensor():
    gc.collect()
    fds, shm = open_fds(), shm_files()
    x = tapegrad.zeros(1000).share_memory_()
    v = x[10:]
    assert len(open_fds() - fds) >= 1
    del x
    gc.collect()
    assert v.is_shared() and len(open_fds() - fds) >= 1   # a view keeps it
    del v
    gc.collect()
    assert open_fds() <= fds and shm_files() <= shm


# ---- between processes ---------------------------------------------------------------------
@pytest.mark.parametrize("method,strategy", [("spawn", "file_descriptor"),
                                             ("fork", "file_system")])
def test_queue_sends_shared_tensors_as_the_same_memory(method, strategy):
    if method not in mp.get_all_start_methods() or strategy not in \
            mp.get_all_sharing_strategies():
        pytest.skip(f"no {method} / {strategy}")
    gc.collect()
    shm = shm_files()
    old = mp.get_sharing_strategy()
    mp.set_sharing_strategy(strategy)
    try:
        ctx = mp.get_context(method)
        q, done = ctx.Queue(), ctx.Queue()
        shared = tapegrad.zeros(4).share_memory_()
        param = tapegrad.nn.Parameter(tapegrad.ones(2)).share_memory_()
        plain = tapegrad.zeros(2)
        with started(ctx, (child_receive_and_change, (q, done))):
            q.put((shared[2:], param, plain))
            got = done.get(timeout=TIMEOUT)
            back = done.get(timeout=TIMEOUT)
            q.put("bye")
        assert got == (True, "Parameter", True, True, False, [1.0, 1.0])
        assert shared.tolist() == [0.0, 0.0, 1.0, 1.0]     # the child's add_ is seen here
        assert param.tolist() == [2.0, 2.0] and plain.tolist() == [0.0, 0.0]
        back.add_(1)
        assert shared.tolist() == [0.0, 0.0, 2.0, 2.0]
        del q, done, back, shared, param
    finally:
        mp.set_sharing_strategy(old)
    gc.collect()
    assert shm_files() <= shm


@needs_fork
def test_forked_child_optimizer_step_is_seen_by_the_parent():
    tapegrad.manual_seed(0)
    model = tapegrad.nn.Linear(3, 1)
    model.share_memory()
    w0, b0 = model.weight.tolist(), model.bias.item()
    x = tapegrad.ones(2, 3)
    with started(mp.get_context("fork"), (child_sgd_step, (model, x))):
        pass
    # the step the child took: w -= 0.5 * sum over the batch of x, b -= 0.5 * 2
    np.testing.assert_allclose(model.weight.tolist()[0], np.array(w0[0]) - 1.0, rtol=1e-6)
    assert model.bias.item() == pytest.approx(b0 - 1.0)
    assert model.weight.grad is None      # (the child's gradients were its own)


# ---- spawn / start_processes ---------------------------------------------------------------
@needs_fork
def test_start_processes_exceptions():
    with pytest.raises(mp.ProcessRaisedException) as info:
        mp.start_processes(child_raise, nprocs=2, start_method="fork")
    e = info.value
    assert e.error_index == 1 and isinstance(e.error_pid, int)
    assert str(e).startswith("\n\n-- Process 1 terminated with the following error:\n"
                             "Traceback (most recent call last):\n")
    assert str(e).endswith("ValueError: boom in child\n")
    with pytest.raises(mp.ProcessExitedException, match=r"^process 0 terminated with exit "
                                                        r"code 3$") as info:
        mp.start_processes(child_exit, args=(3,), nprocs=1, start_method="fork")
    assert info.value.exit_code == 3 and info.value.signal_name is None
    with pytest.raises(mp.ProcessExitedException,
                       match="^process 0 terminated with signal SIGKILL$") as info:
        mp.start_processes(child_kill, nprocs=1, start_method="fork")
    assert info.value.exit_code == -signal.SIGKILL and info.value.signal_name == "SIGKILL"
    e2 = pickle.loads(pickle.dumps(info.value))
    assert (type(e2), e2.msg, e2.exit_code, e2.signal_name) == \
        (mp.ProcessExitedException, info.value.msg, -signal.SIGKILL, "SIGKILL")
    ctx = mp.start_processes(child_write_rank, args=(tapegrad.zeros(1).share_memory_(),),
                             nprocs=1, start_method="fork", join=False)
    assert isinstance(ctx, mp.ProcessContext) and len(ctx.pids()) == 1
    while not ctx.join(TIMEOUT):
        pass
    assert ctx.join() is True


def test_spawn_runs_fn_with_the_index():
    """Always with 'spawn' (another start_method warns), the children write into shared
    memory."""
    out = tapegrad.zeros(2).share_memory_()
    with pytest.warns(FutureWarning, match="This method only supports start_method=spawn "
                                           r"\(got: fork\)"):
        ctx = mp.spawn(child_write_rank, args=(out,), nprocs=2, join=False,
                       start_method="fork")
    try:
        while not ctx.join(TIMEOUT):
            pass
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.terminate()
            p.join(5)
    assert out.tolist() == [1.0, 2.0]


# ---- against torch -------------------------------------------------------------------------
def test_surface_matches_torch():
    torch = pytest.importorskip("torch")
    import torch.multiprocessing as tmp
    assert set(tmp.__all__) == set(mp.__all__)
    public = {n for n in dir(tmp) if not n.startswith("_")} - {"torch", "pool", "queue"}
    assert public <= set(dir(mp)), public - set(dir(mp))
    assert mp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    assert mp.get_sharing_strategy() == tmp.get_sharing_strategy()
    for lib in (tapegrad, torch):
        m = lib.nn.Linear(2, 2)
        assert m.share_memory() is m and m.weight.is_shared()


def test_view_semantics_match_torch():
    torch = pytest.importorskip("torch")
    got = []
    for lib in (tapegrad, torch):
        x = lib.arange(6.0)
        v = x.view(2, 3)[:, 1:]
        d = x.detach()
        x.share_memory_()
        w = x[3:]
        v.add_(10)
        w.mul_(-1)
        got.append([[t.is_shared() for t in (x, v, d, w)], x.tolist(), d.tolist(),
                    lib.tensor(1.5).share_memory_().is_shared(),
                    lib.empty(0).share_memory_().is_shared()])
    assert got[0] == got[1]


@needs_fork
def test_process_exception_messages_match_torch():
    pytest.importorskip("torch")
    import torch.multiprocessing as tmp
    msgs = []
    for lib in (mp, tmp):
        with pytest.raises(lib.ProcessExitedException) as info:
            lib.start_processes(child_exit, args=(5,), nprocs=2, start_method="fork")
        with pytest.raises(lib.ProcessRaisedException) as raised:
            lib.start_processes(child_raise, nprocs=2, start_method="fork")
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with pytest.raises(AssertionError) as bad:
                lib.set_sharing_strategy("nope")
        msgs.append((str(info.value), info.value.exit_code, raised.value.error_index,
                     str(raised.value).splitlines()[:3], str(raised.value).splitlines()[-1],
                     str(bad.value), len(w)))
    assert msgs[0] == msgs[1]
