"""Small pieces of torch's surface: torch.signal.windows, torch.compiler, nn.attention's
sdpa_kernel, nn.NLLLoss2d / nn.Container, torch.utils.swap_tensors and hooks,
torch.testing.assert_allclose."""
import warnings
import weakref

import numpy as np
import pytest

import tapegrad as tg

WINDOWS = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "hamming", "hann",
           "kaiser", "nuttall"]


def _caught(fn):
    try:
        fn()
    except Exception as e:      # noqa: BLE001  (the comparison is of the exception)
        return type(e).__name__, str(e).replace("torch.", "M.").replace("tapegrad.", "M.")
    return None


# ---- torch-free ----------------------------------------------------------------------------
@pytest.mark.parametrize("M", [2, 5, 8])
def test_hann_is_sin_squared_and_symmetric_windows_are_palindromes(M):
    w = tg.signal.windows.hann(M, dtype=tg.float64).numpy()
    np.testing.assert_allclose(w, np.sin(np.pi * np.arange(M) / (M - 1)) ** 2, atol=1e-15)
    for name in WINDOWS:
        w = getattr(tg.signal.windows, name)(M, dtype=tg.float64).numpy()
        np.testing.assert_allclose(w, w[::-1], atol=1e-15, err_msg=name)
    # sym=False is the symmetric window one longer, cut
    np.testing.assert_allclose(tg.signal.windows.hann(M, sym=False, dtype=tg.float64).numpy(),
                               tg.signal.windows.hann(M + 1, dtype=tg.float64).numpy()[:M],
                               atol=1e-15)


def test_compiler_is_compiling_only_while_compile_traces():
    seen = []

    @tg.compile
    def f(x):
        seen.append(tg.compiler.is_compiling())
        return (x * x).sum()
    x = tg.tensor([1.0, 2.0])
    f(x)
    f(x)                 # replayed: the Python does not run
    assert seen == [True] and not tg.compiler.is_compiling()
    with tg.no_grad():
        assert not tg.compiler.is_compiling()
    tg.compiler.reset()  # records again
    f(x)
    assert seen == [True, True]
    assert not tg.compiler.is_dynamo_compiling() and not tg.compiler.is_exporting()


def test_compiler_disable_and_allow_in_graph():
    def f(x):
        return x + 1
    g = tg.compiler.disable(f)
    assert g is not f and g.__wrapped__ is f and g.__name__ == "f" and g(1) == 2
    assert tg.compiler.disable()(f)(1) == 2 and tg.compiler.disable(recursive=False)(f)(2) == 3
    assert tg.compiler.allow_in_graph(f) is f


def test_swap_tensors_and_hooks():
    a, b = tg.ones(2), tg.zeros(3, dtype=tg.float64)
    tg.utils.swap_tensors(a, b)
    assert a.dtype == tg.float64 and a.shape == (3,) and b.tolist() == [1.0, 1.0]
    x = tg.ones(2, requires_grad=True)
    y, z = x * 2, tg.zeros(2)
    tg.utils.swap_tensors(y, z)
    assert y.grad_fn is None and type(z.grad_fn).__name__ == "MulBackward0"
    z.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    p, q = tg.nn.Parameter(tg.ones(2)), tg.zeros(2)
    tg.utils.swap_tensors(p, q)
    assert type(p) is tg.Tensor and type(q) is tg.nn.Parameter and q.requires_grad
    H = tg.utils.hooks
    assert H.RemovableHandle is tg.nn.modules.RemovableHandle
    t = tg.ones(2, requires_grad=True)
    t.register_hook(H.unserializable_hook(lambda g: g))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        H.warn_if_has_hooks(t)
        t.register_hook(lambda g: g)
        with pytest.raises(UserWarning, match="will not be serialized"):
            H.warn_if_has_hooks(t)


# ---- against torch ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name", WINDOWS + ["general_hamming"])
def test_windows_match_torch(torch, name):
    for M in (0, 1, 2, 5, 8):
        for sym in (True, False):
            for dt, tol in (("float32", 2e-6), ("float64", 1e-14)):
                a = getattr(torch.signal.windows, name)(M, sym=sym, dtype=getattr(torch, dt))
                b = getattr(tg.signal.windows, name)(M, sym=sym, dtype=getattr(tg, dt))
                assert b.dtype == getattr(tg, dt) and b.shape == tuple(a.shape)
                np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=tol, atol=tol * 1e-3)
    a = getattr(torch.signal.windows, name)(6, requires_grad=True)
    b = getattr(tg.signal.windows, name)(6, requires_grad=True)
    assert (b.dtype, b.requires_grad, b.is_leaf) == (tg.float32, a.requires_grad, a.is_leaf)
    assert type(b.grad_fn).__name__ == type(a.grad_fn).__name__


def test_window_options_and_errors_match_torch(torch):
    W, V = torch.signal.windows, tg.signal.windows
    cases = [
        lambda m, w: w.hann(-1), lambda m, w: w.hann(4, dtype=m.int64),
        lambda m, w: w.kaiser(4, beta=-1.0), lambda m, w: w.gaussian(4, std=0.0),
        lambda m, w: w.exponential(4, tau=0), lambda m, w: w.exponential(4, center=1.0),
        lambda m, w: w.general_cosine(4, a=[]), lambda m, w: w.general_cosine(4, a=3),
        lambda m, w: w.hann(4, 1), lambda m, w: w.cosine(3, layout=None),
    ]
    for case in cases:
        assert _caught(lambda: case(tg, V)) == _caught(lambda: case(torch, W))
    a = W.exponential(7, center=2.0, tau=0.5, sym=False, dtype=torch.float64)
    b = V.exponential(7, center=2.0, tau=0.5, sym=False, dtype=tg.float64)
    np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-14)
    a = W.general_cosine(9, a=(0.3, 0.5, 0.2), dtype=torch.float64)
    b = V.general_cosine(9, a=(0.3, 0.5, 0.2), dtype=tg.float64)
    np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-14, atol=1e-17)
    assert V.kaiser(5, beta=3.0, device="cpu").tolist() == pytest.approx(
        W.kaiser(5, beta=3.0, device="cpu").tolist(), rel=2e-6)
    assert sorted(V.__all__) == sorted(W.__all__) and tg.signal.__all__ == torch.signal.__all__


def test_compiler_surface_matches_torch(torch):
    import inspect
    for name in ("list_backends", "allow_in_graph", "is_compiling", "reset"):
        assert (str(inspect.signature(getattr(tg.compiler, name))).split(" ->")[0]
                == str(inspect.signature(getattr(torch.compiler, name))).split(" ->")[0])
    assert tg.compiler.list_backends() == torch.compiler.list_backends()
    assert set(tg.compiler.list_backends(exclude_tags=("debug",))) == set(
        torch.compiler.list_backends(exclude_tags=("debug",)))
    assert (tg.compiler.is_compiling(), tg.compiler.is_dynamo_compiling(),
            tg.compiler.is_exporting()) == (torch.compiler.is_compiling(),
                                             torch.compiler.is_dynamo_compiling(),
                                             torch.compiler.is_exporting())
    for bad in (lambda c: c.disable(3), lambda c: c.disable(recursive=False)(3),
                lambda c: c.allow_in_graph(3)):
        assert _caught(lambda: bad(tg.compiler)) == _caught(lambda: bad(torch.compiler))
    assert tg.compiler.allow_in_graph([len, abs]) == torch.compiler.allow_in_graph([len, abs])


def test_sdpa_kernel_matches_torch(torch):
    A, B = torch.nn.attention, tg.nn.attention
    assert [(k, repr(v), str(v), int(v)) for k, v in B.SDPBackend.__members__.items()] == \
        [(k, repr(v), str(v), int(v)) for k, v in A.SDPBackend.__members__.items()]
    assert (B.SDPBackend.MATH == 0) == (A.SDPBackend.MATH == 0)
    for m in (A, B):
        with m.sdpa_kernel([m.SDPBackend.MATH, m.SDPBackend.MATH]) as r:
            assert r == {} and m._cur_sdpa_kernel_backends() == [m.SDPBackend.MATH]
        with m.sdpa_kernel(m.SDPBackend.FLASH_ATTENTION, set_priority=True):
            assert m._cur_sdpa_kernel_backends() == [m.SDPBackend.FLASH_ATTENTION]
    assert [b.name for b in B._cur_sdpa_kernel_backends(with_priority=True)] == \
        [b.name for b in A._cur_sdpa_kernel_backends(with_priority=True)]
    assert [b.name for b in B._cur_sdpa_kernel_backends()] == \
        [b.name for b in A._cur_sdpa_kernel_backends()]
    bad = lambda m: m.sdpa_kernel((m.SDPBackend.MATH,)).__enter__()  # noqa: E731
    assert _caught(lambda: bad(B)) == _caught(lambda: bad(A))


def test_deprecated_modules_match_torch(torch):
    for make in (lambda nn: nn.NLLLoss2d(ignore_index=3, reduction="sum"),
                 lambda nn: nn.Container(a=nn.Linear(2, 1))):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            mt, mg = make(torch.nn), make(tg.nn)
        (wt, wg) = got
        assert (wg.category, str(wg.message), wg.filename) == (wt.category, str(wt.message),
                                                               wt.filename)
        assert repr(mg) == repr(mt)
        assert type(mg).__mro__[1].__name__ == type(mt).__mro__[1].__name__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lt, lg = torch.nn.NLLLoss2d(), tg.nn.NLLLoss2d()
    x = np.log(np.random.default_rng(0).dirichlet(np.ones(3), size=(2, 4, 5))).transpose(0, 3, 1, 2)
    t = np.random.default_rng(1).integers(0, 3, size=(2, 4, 5))
    assert float(lg(tg.tensor(x), tg.tensor(t))) == pytest.approx(
        float(lt(torch.tensor(x), torch.tensor(t))), rel=1e-12)


def test_swap_tensors_errors_match_torch(torch):
    for m in (torch, tg):
        w = m.ones(2)
        r = weakref.ref(w)
        e1 = _caught(lambda: m.utils.swap_tensors(w, m.ones(1)))
        e2 = _caught(lambda: m.utils.swap_tensors(m.ones(1), w))
        e3 = _caught(lambda: m.utils.swap_tensors(1, 2))
        if m is torch:
            want = (e1, e2, e3)
        del r
    assert (e1, e2, e3) == want
    assert e1[1] == "Cannot swap t1 because it has weakref associated with it"


def test_assert_allclose_matches_torch(torch):
    cases = [((lambda m: m.ones(2), [1.0, 1.00001]), {}), ((lambda m: m.ones(2), [1.0, 1.1]), {}),
             ((lambda m: m.ones(2), [1.0, 1.1]), {"msg": "boo"}),
             ((lambda m: m.ones(2, dtype=m.float64), [1.0, 1.000001]), {}),
             ((lambda m: 1, 2), {}), ((lambda m: m.ones(2), [1.0, 1.05]), {"rtol": 0.1, "atol": 0})]
    for (a, e), kw in cases:
        out = []
        for m in (torch, tg):
            with warnings.catch_warnings(record=True) as got:
                warnings.simplefilter("always")
                out.append((_caught(lambda: m.testing.assert_allclose(a(m), e, **kw)),
                            [(w.category, str(w.message)) for w in got]))
        assert out[0] == out[1]


def test_swap_tensors_refuses_a_leaf_of_a_live_graph():
    """The tape holds the leaf object itself: swapped, its gradient would land in the other
    tensor's contents (torch poisons the AccumulateGrad instead), so the swap is refused until
    backward has run."""
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    z = (x * x).sum()
    with pytest.raises(RuntimeError, match="Cannot swap t2: it is a leaf of a graph"):
        tg.utils.swap_tensors(tg.zeros(3), x)
    assert x.tolist() == [1.0, 2.0, 3.0]
    z.backward()
    y = tg.zeros(3)
    tg.utils.swap_tensors(x, y)
    assert x.tolist() == [0.0, 0.0, 0.0] and y.grad.tolist() == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("backends", [["EFFICIENT_ATTENTION"], ["FLASH_ATTENTION"], ["MATH"],
                                      ["OVERRIDEABLE", "CUDNN_ATTENTION"]])
def test_sdpa_kernel_selection_as_torch(torch, backends):
    def run(m):
        q = m.ones(1, 2, 3, 4)
        chosen = [getattr(m.nn.attention.SDPBackend, b) for b in backends]
        try:
            with m.nn.attention.sdpa_kernel(chosen):
                return m.nn.functional.scaled_dot_product_attention(q, q, q).tolist()
        except RuntimeError as e:
            return str(e)
    assert run(tg) == run(torch)
