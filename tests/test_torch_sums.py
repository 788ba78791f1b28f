"""float_sums: sums and means of float32/float64 arrays bit for bit as torch's CPU sum and
mean compute them (tapegrad/_sums.py: cascade_sum's order in the dtype, TensorIterator's
arrangement of the dims, parallel_reduce's split between threads), compared with torch where
it is installed: sizes around the cascade's block boundaries and the vector widths, every
dim and pairs of dims, transposed, permuted, sliced and expanded arrays (the same views of
one tensor in torch), keepdim, at one and two threads (tapegrad's and torch's thread counts
set alike)."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _sums, float_sums as FS

SIZES_1D = sorted(set(list(range(0, 70)) + [
    96, 127, 128, 129, 255, 256, 257, 320, 511, 512, 513, 1000, 1023, 1024, 1025, 2047, 2048,
    2049, 4095, 4096, 4097, 8191, 8192, 8193, 10000, 16383, 16384, 16385, 32767, 32768, 32769,
    65535, 65536, 65537, 100003, 1 << 18]))
SHAPES = [(3, 5), (7, 9), (16, 16), (33, 17), (64, 1000), (4, 64, 130), (5, 7, 9), (2, 3, 4, 5),
          (300, 300), (8193, 4), (2, 40000), (40000, 2), (1, 7), (7, 1)]


def _values(rng, shape, dt):
    return (rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 4, shape)).astype(dt)


def _layouts(x, torch):
    """(name, array view, torch view) of the array x (2 or more dims): as it is, transposed,
    permuted, sliced and expanded."""
    t = torch.from_numpy(x)
    nd = x.ndim
    yield "contiguous", x, t
    yield "transposed", np.swapaxes(x, 0, nd - 1), t.transpose(0, nd - 1)
    yield "permuted", x.transpose(range(nd - 1, -1, -1)), t.permute(*range(nd - 1, -1, -1))
    if x.shape[-1] > 2:
        yield "sliced", x[..., 1::2], t[..., 1::2]
    yield "expanded", np.broadcast_to(x[:1], x.shape), t[:1].expand(*x.shape)


def _same(ours, theirs):
    a = np.asarray(ours)
    b = theirs.numpy()
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _ours(arr, name, dims, keepdim):
    dims = tuple(range(arr.ndim)) if dims is None else (dims,) if isinstance(dims, int) \
        else dims
    return FS.reduce_float(arr, dims, keepdim, name == "mean")


def _theirs(t, name, dims, keepdim):
    if dims is None and not keepdim:
        return getattr(t, name)()
    return getattr(t, name)(tuple(range(t.dim())) if dims is None else dims, keepdim=keepdim)


def _dims_of(nd):
    yield None
    for d in range(nd):
        yield d
    if nd >= 3:
        yield (0, nd - 1)
        yield (0, 1)


@pytest.fixture(params=[1, 2])
def threads(request):
    torch = pytest.importorskip("torch")
    saved = torch.get_num_threads(), tg.get_num_threads()
    torch.set_num_threads(request.param)
    tg.set_num_threads(request.param)
    yield torch
    torch.set_num_threads(saved[0])
    tg.set_num_threads(saved[1])


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_sum_mean_1d_as_torch(dt, threads):
    torch = threads
    rng = np.random.default_rng(0)
    bad = []
    for n in SIZES_1D:
        x = _values(rng, n, dt)
        t = torch.from_numpy(x)
        for name in ("sum", "mean"):
            if not _same(FS.total(x, name == "mean"), getattr(t, name)()):
                bad.append((n, name, "total"))
            if not _same(_ours(x, name, None, False), getattr(t, name)()):
                bad.append((n, name))
    assert not bad, f"{len(bad)} cases differ: {bad[:10]}"


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_sum_mean_dims_layouts_as_torch(dt, threads):
    torch = threads
    rng = np.random.default_rng(1)
    bad = []
    for shape in SHAPES:
        x = _values(rng, shape, dt)
        for layout, arr, t in _layouts(x, torch):
            for dims in _dims_of(len(shape)):
                for keepdim in (False, True):
                    for name in ("sum", "mean"):
                        if not _same(_ours(arr, name, dims, keepdim),
                                     _theirs(t, name, dims, keepdim)):
                            bad.append((shape, layout, dims, keepdim, name))
    assert not bad, f"{len(bad)} cases differ: {bad[:10]}"


def test_sum_specials_as_torch(threads):
    torch = threads
    cases = [[-0.0], [-0.0, -0.0], [float("inf"), -float("inf")], [float("nan"), 1.0],
             [3.0e38, 3.0e38], [-0.0] * 9, []]
    for vals in cases:
        for dt in ("float32", "float64"):
            x = np.array(vals, dt)
            for name in ("sum", "mean"):
                assert _same(_ours(x, name, None, False), getattr(torch.from_numpy(x), name)())
    x = np.array(2.5)   # (0-d)
    assert _same(_ours(x, "sum", None, False), torch.from_numpy(x).sum())
    x = np.zeros((3, 0, 2), np.float32)
    assert _same(_ours(x, "mean", 1, False), torch.from_numpy(x).mean(1))


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_vector_sum_checks_its_span(dt):
    # the vector cascade reads through raw pointers: a span past either end of the array (or
    # a too short accumulator) raises instead of reading outside it
    w = 32 // np.dtype(dt).itemsize
    x = np.ones(100, dt)
    acc = np.zeros((4, 4 * w), dt)
    n = (100 - w) // w + 1                      # the most values of w lanes that fit
    _sums._row_sum(x, 0, w, w, n, acc)
    assert acc[0, :w].tolist() == [float(n)] * w
    for base, size, a in [(w, n, acc), (-1, 4, acc), (0, n, np.zeros((4, w), dt))]:
        with pytest.raises(IndexError, match="outside its array"):
            _sums._row_sum(x, base, w, w, size, a)
    with pytest.raises(IndexError, match="outside its array"):
        _sums._multi_row_sum(x, 0, 4 * w, w, 4, w, 100 // (4 * w) + 1, acc)
