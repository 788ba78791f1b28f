"""@tapegrad.compile never replays a stale tape: non-tensor arguments are keyed by value (numpy
arrays by shape, dtype and bytes), and the cache is bounded (LRU)."""
import numpy as np
import pytest

import tapegrad as tg


def f(x, w):
    return (x * tg.tensor(np.asarray(w))).sin().sum()


def expected(x, w):
    """Value and gradient computed eagerly (a replay agrees to rounding)."""
    xt = tg.tensor(x, requires_grad=True)
    y = f(xt, w)
    y.backward()
    return y.item(), xt.grad.numpy()


def close(v, dx, ev, edx):
    return np.allclose(v.item(), ev, rtol=1e-12, atol=0) and np.allclose(dx.numpy(), edx,
                                                                         rtol=1e-12, atol=1e-15)


def test_a_fresh_array_on_every_call_gives_its_own_value_and_gradient():
    g = tg.compile(f)
    rng = np.random.default_rng(0)
    x = np.array([0.3, -0.7, 1.1])
    for _ in range(200):
        w = rng.standard_normal(3)
        v, (dx,) = g(tg.tensor(x), w)
        assert close(v, dx, *expected(x, w))


def test_an_array_changed_in_place_is_not_replayed_stale():
    g = tg.compile(f)
    x = np.array([0.3, -0.7, 1.1])
    w = np.array([1.0, 2.0, 3.0])
    for step in range(5):
        v, (dx,) = g(tg.tensor(x), w)
        assert close(v, dx, *expected(x, w)), step
        w *= 1.5                                  # same object, new value
    # equal values again (a new object) replay the tape recorded for them
    n = len(g.tapes)
    g(tg.tensor(x), np.array([1.0, 2.0, 3.0]))
    assert len(g.tapes) == n


def test_containers_are_keyed_by_their_items():
    def h(x, ws):
        return sum((x * tg.as_tensor(w)).sum() for w in ws["w"]) * ws["k"]
    g = tg.compile(h)
    x = tg.tensor([1.0, 2.0])
    ws = {"w": [np.float32([1.0, 1.0]), 2.0], "k": 1.0}
    assert g(x, ws)[0].item() == 9.0
    ws["w"][0][:] = 3.0                           # nested array changed in place
    assert g(x, ws)[0].item() == 15.0
    ws["k"] = 2.0
    assert g(x, ws)[0].item() == 30.0
    assert len(g.tapes) == 3


def test_numbers_are_keyed_by_type_and_exact_value():
    g = tg.compile(lambda x, c: x * c)
    x = tg.tensor(1.0)
    for c in (1, 1.0, True, 0.0, -0.0, float("nan"), float("nan")):
        g(x, c)
    assert len(g.tapes) == 6                       # the two nans are one key
    assert g(x, -0.0)[1][0].item() == 0.0 and str(g(x, -0.0)[0].item()) == "-0.0"


def test_values_that_cannot_be_keyed_raise_a_clear_type_error():
    class Box:
        __hash__ = None
    g = tg.compile(lambda x, b: x * 2.0)
    with pytest.raises(TypeError, match="argument 1 .*Box is not hashable"):
        g(tg.tensor(1.0), Box())
    with pytest.raises(TypeError, match="objects cannot be keyed"):
        g(tg.tensor(1.0), np.array([object()]))
    loop = []
    loop.append(loop)
    with pytest.raises(TypeError, match="contains itself"):
        g(tg.tensor(1.0), loop)


def test_the_cache_is_bounded_lru():
    g = tg.compile(lambda x, c: (x * c).sin(), cache_size=8)
    x = tg.tensor(0.5, dtype=tg.float64)
    for i in range(2000):                          # a changing float argument
        c = 1.0 + i * 1e-3
        v, (dx,) = g(x, c)
        assert np.isclose(v.item(), np.sin(0.5 * c), rtol=1e-14)
        assert np.isclose(dx.item(), c * np.cos(0.5 * c), rtol=1e-14)
        assert len(g.tapes) <= 8
    assert len(g.tapes) == 8
    g(x, 1.0 + 1992 * 1e-3)                        # recent: a hit moves it to the end
    assert list(g.tapes)[-1][1] == (float, 1.0 + 1992 * 1e-3)
    assert tg.compile(lambda x: x).cache_size == 64
    with pytest.raises(ValueError, match="cache_size"):
        tg.compile(lambda x: x, cache_size=0)
    unbounded = tg.compile(lambda x, c: x * c, cache_size=None)
    for i in range(100):
        unbounded(x, float(i))
    assert len(unbounded.tapes) == 100


def test_tapes_are_freed_with_the_cache():
    import gc
    import weakref
    g = tg.compile(lambda x, c: x * c, cache_size=4)
    g(tg.tensor(1.0), 0.0)
    first = weakref.ref(g.tapes[next(iter(g.tapes))])
    for i in range(1, 10):
        g(tg.tensor(1.0), float(i))
    gc.collect()
    assert first() is None
