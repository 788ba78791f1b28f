"""What loading and compiling tapegrad's Numba kernels must not do to the rest of the process:
show a warning again that was shown already (docs/reliability.md, "The Numba cache")."""
import threading
import warnings

import numpy as np

from tapegrad import _jit
import fresh

# One fresh process (fresh.run) for torch and tapegrad: the warnings of each from its own lines, twice,
# a backward after each; the first backward of the process loads tapegrad's kernels (Numba
# then imports scipy.linalg, whose import changes and restores the warning filters).
_TWICE = """
import warnings
{torch}
import tapegrad
shown = []
warnings.showwarning = lambda message, category, *rest, **kw: shown.append(str(message)[:30])
def sites_torch(x):
    x.grad
    torch.tensor(x)
def sites_tapegrad(x):
    x.grad
    tapegrad.tensor(x)
for m, sites in {cases}:
    shown.clear()
    w = m.ones(3, requires_grad=True)
    for _ in range(2):
        y = w * 2
        sites(y)
        (y * y).sum().backward()
    print(m.__name__, len(shown), shown)
"""


def test_the_first_backward_shows_no_warning_again():
    """A UserWarning shown once from a line (the "default" action: a non-leaf's `.grad`,
    `tensor(tensor)`) is not shown again after the first backward loads the kernels, as in
    torch.  Before, the kernels' first load reset every call site's registry of warnings
    shown, and both were shown twice."""
    try:
        import torch  # noqa: F401
        with_torch = True
    except ImportError:
        with_torch = False
    code = _TWICE.format(torch="import torch" if with_torch else "",
                         cases="((torch, sites_torch), (tapegrad, sites_tapegrad))"
                         if with_torch else "((tapegrad, sites_tapegrad),)")
    out = fresh.run(code).stdout.splitlines()
    want = "2 ['The .grad attribute of a Tenso', 'To copy construct from a tenso']"
    assert out[-1] == "tapegrad " + want
    if with_torch:
        assert out[0] == "torch " + want


def _toy():
    """A Numba kernel under _jit's guard, caching off: every call of this compiles."""
    from numba import njit

    def toy(a):
        return a.sum() + 1.0
    disp = njit(toy)
    _jit._guard(disp)
    return disp


def _shown_around(action):
    """How many of two identical warnings from one call site are shown with `action()`
    between them (the filters as Python's defaults: the second is a repeat)."""
    registry = {}
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("default")
        for _ in range(2):
            warnings.warn_explicit("shown once", UserWarning, "site.py", 1, registry=registry)
            action()
    return len(got)


def test_a_compile_keeps_the_warning_registries():
    """Numba wraps each type-inference step of a compile in `catch_warnings` (thousands per
    kernel); a compile of a guarded kernel leaves the warnings already shown as shown."""
    disp = _toy()
    assert _shown_around(lambda: disp(np.ones(3))) == 1
    assert len(disp.signatures) == 1


def test_filter_changes_that_stay_or_come_from_other_threads_still_count():
    """registries_kept hides only this thread's changes that it undoes: a filter added for
    good inside, or a change by another thread meanwhile, shows the warning again, as without
    it."""
    def lasting():
        with _jit.registries_kept():
            warnings.filterwarnings("always", "never given")
    assert _shown_around(lasting) == 2

    def other_thread():
        with _jit.registries_kept():
            t = threading.Thread(target=lambda: warnings.filterwarnings("always", "not given"))
            t.start()
            t.join()
            warnings.filters.remove(warnings.filters[0])   # (the filters as before)
    assert _shown_around(other_thread) == 2

    def undone():
        with _jit.registries_kept(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
    assert _shown_around(undone) == 1


def test_blocks_of_two_threads_that_overlap_leave_changes_counted():
    """Thread A's block opens, then B's; A's closes, then B's.  Afterwards a filter change
    on either thread shows a warning again, as without the blocks (a wrapper swapped in and
    out per block was left in place by that order, hiding thread A's changes for good)."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def thread_b():
        with _jit.registries_kept():
            b_in.set()
            a_out.wait(10)

    with _jit.registries_kept():
        a_in.set()
        b = threading.Thread(target=thread_b)
        b.start()
        b_in.wait(10)
    a_out.set()
    b.join()

    def undone_outside():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
    assert _shown_around(undone_outside) == 2


# A loop of backwards past tape._KERNEL_AFTER dead tapes, n-d and one-element graphs (whose
# dead tapes reset their n-d rows, or only their streams), with every load or compile of the
# reset kernel recorded: whether a destructor was running it.
_DYING = """
import traceback, tapegrad as tg
from tapegrad import _jit, tape as T
w = tg.ones((3, 2), requires_grad=True)
s = tg.tensor(2.0, requires_grad=True)
(w * 2.0).sum().backward()        # (the kernels loaded)
disp = _jit.K.reset_streams
compile_ = disp.compile
calls = []
def recorded(sig):
    calls.append(any(f.name == "__del__" for f in traceback.extract_stack()))
    return compile_(sig)
disp.compile = recorded
for _ in range(2 * T._KERNEL_AFTER):
    (w * 2.0).sum().backward()
    (s * s).backward()
print(calls, len(disp.signatures), T._RESET_READY[0])
"""


def test_a_dying_tape_never_compiles():
    """Tape.__del__ resets a dead tape's pooled arrays with walks.reset_streams only once a
    new tape has compiled (or loaded) it: a destructor runs at any GC point (another thread,
    interpreter shutdown), and the first call's compile took ~1 s there (a cache load, or a
    wait for another process's compile, as well).  Before, the destructor made that first
    call.  One signature serves both kinds of dead tapes."""
    out = fresh.run(_DYING).stdout.split()
    assert out == ["[False]", "1", "True"]
