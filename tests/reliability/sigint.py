"""A real SIGINT sent to this process in the middle of a call, for the tests of what a
Ctrl-C leaves behind (test_signals.py, test_atomicity.py; the fixture alarm_sends_sigint,
which turns the alarm into a SIGINT, is in conftest.py)."""
import random
import signal
import time


def run_with_sigint(fn, delay):
    """Run fn() with a real SIGINT sent to this process after `delay` seconds (by SIGALRM's
    handler); True if a KeyboardInterrupt came.  Nothing of the signal outlives the call."""
    got = False
    try:
        signal.setitimer(signal.ITIMER_REAL, delay)
        fn()
    except KeyboardInterrupt:
        got = True
    while True:  # disarm, and let a SIGALRM/SIGINT already on its way arrive here
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for _ in range(10):
                time.sleep(0)
            return got
        except KeyboardInterrupt:
            got = True


def sigint_sweep(make, op, snapshot, seed, seconds=1.5, at_least=10):
    """op(case) for fresh cases of make(), each with a real SIGINT sent at a random moment
    within 1.5 times op's own duration, for `seconds` and until `at_least` runs were
    interrupted.  Yields (case, snapshot(case) taken before op ran) after each run."""
    rng = random.Random(seed)
    case = make()
    t0 = time.perf_counter()
    op(case)
    dur = time.perf_counter() - t0
    interrupted = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or interrupted < at_least:
        case = make()
        before = snapshot(case)
        interrupted += run_with_sigint(lambda: op(case), rng.uniform(1e-6, 1.5 * dur))
        yield case, before
        assert time.monotonic() < deadline + 20, interrupted


def ready_reset_kernel():
    """Have Tape.__del__'s reset kernel ready (compiled or loaded) before a sweep.  It is
    readied by the first tape made after 64 tapes died (tape._KERNEL_AFTER), inside whatever
    op makes that tape: in a sweep over the calls or lines of an op, each of the calls its
    compile makes into tapegrad (Numba typing tapegrad's intrinsics) became one more k, and
    every one of them restarted the interrupted compile (167 compiles of reset_streams, 87 s
    of a cold-cache CI run, in the vmap_of_grad case of test_atomicity, or none, depending on
    how many tapes the worker had made before).  Interrupts at those calls all leave the same
    way (out of the one K.reset_streams call, before the kernel is marked ready); the sweep
    keeps every call of the op itself."""
    import tapegrad
    from tapegrad import tape
    for _ in range(2 * tape._KERNEL_AFTER):
        if tape._RESET_READY[0]:
            return
        (tapegrad.ones(2, requires_grad=True) * 2).sum().backward()
    raise AssertionError("the reset kernel was not readied")


def lines_interrupted(make, op, runs=60):
    """op(make()) once for each of about `runs` k spread over the lines op runs inside
    tapegrad, with a KeyboardInterrupt raised at the k-th of them, as a Ctrl-C's handler
    would raise it between statements: held back while a `COMMIT` is open (as the real
    handler is) and never inside grad_mode.py's switches (Python's own window at a context
    manager's __exit__, see docs/reliability.md).  Yields (what make() gave, whether the
    interrupt came) after each run."""
    import dis
    import os
    import sys

    import tapegrad
    from tapegrad import _signals

    pkg = os.path.dirname(tapegrad.__file__) + os.sep
    after_enter = {}

    def skipped(frame):
        # 3.11 reports a `with` line again right after __enter__ returns and at its normal
        # __exit__ call; no signal handler can run at either (no eval-breaker check there)
        code = frame.f_code
        offs = after_enter.get(code)
        if offs is None:
            ins = list(dis.get_instructions(code))
            offs = after_enter[code] = {
                x.offset for i, x in enumerate(ins)
                if i and ins[i - 1].opname == "BEFORE_WITH"
                or [y.opname for y in ins[i:i + 4]] == ["LOAD_CONST"] * 3 + ["PRECALL"]
                and all(y.argval is None for y in ins[i:i + 3])}
        return frame.f_lasti in offs

    def run(k, ns):
        state = {"count": 0, "due": False, "fired": False}

        def local(frame, event, arg):
            if event == "line" and not skipped(frame):
                state["count"] += 1
                if (state["count"] == k or state["due"]) and not state["fired"]:
                    if _signals._depth:
                        state["due"] = True
                    else:
                        state["fired"] = True
                        raise KeyboardInterrupt
            return local

        def glob(frame, event, arg):
            name = frame.f_code.co_filename
            return local if name.startswith(pkg) and not name.endswith("grad_mode.py") else None
        outer = sys.gettrace()
        sys.settrace(glob)
        try:
            op(ns)
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(outer)
        return state["count"], state["fired"]

    ready_reset_kernel()
    op(make())   # (its kernels compiled or loaded first: see calls_interrupted)
    total, _ = run(0, make())
    for k in range(1, total + 1, max(1, total // runs)):
        ns = make()
        yield ns, run(k, ns)[1]


def calls_interrupted(make, op):
    """op(make()) once for each call op makes into tapegrad's Python functions, with a
    KeyboardInterrupt raised at the entry of the k-th of them: where CPython runs a signal
    handler on entering a function (its RESUME checks for pending signals), a cleanup call in
    a `finally` or an `__exit__` included.  Held back while a `COMMIT` is open, as a real
    SIGINT is.  Yields (what make() gave, whether the interrupt came) after each run."""
    import os
    import sys

    import tapegrad
    from tapegrad import _signals

    pkg = os.path.dirname(tapegrad.__file__) + os.sep

    def run(k, ns):
        state = {"count": 0, "fired": False}

        def glob(frame, event, arg):
            if frame.f_code.co_filename.startswith(pkg) and not state["fired"]:
                state["count"] += 1
                if state["count"] >= k > 0 and not _signals._depth:
                    state["fired"] = True
                    raise KeyboardInterrupt
            return None
        outer = sys.gettrace()
        sys.settrace(glob)
        try:
            op(ns)
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(outer)
        return state["count"], state["fired"]

    ready_reset_kernel()
    # the op's kernels compiled (or loaded) before counting: with a cold Numba cache the
    # count took in every call the compile makes into tapegrad's intrinsics (vmap_of_grad:
    # 15,486 runs instead of ~440, 73 s of a cold CI run), each an interrupt out of the
    # same kernel call
    op(make())
    total, _ = run(0, make())
    for k in range(1, total + 1):
        ns = make()
        yield ns, run(k, ns)[1]
