"""tapegrad.utils.data against torch.utils.data: datasets, collate, samplers, DataLoader
(batches, dtypes, lengths, errors), seeded reproducibility, and a regression trained through
a DataLoader giving torch's losses."""
import collections
import os
import warnings

import numpy as np
import pytest

import tapegrad
import tapegrad.utils.data as tdata

torch = pytest.importorskip("torch")
import torch.utils.data as ref  # noqa: E402


def lib(m):
    """(module, its utils.data) for torch or tapegrad."""
    return (torch, ref) if m is torch else (tapegrad, tdata)


def as_plain(x):
    """A batch as comparable Python data: tensors as (dtype name, shape, values)."""
    if isinstance(x, (torch.Tensor, tapegrad.Tensor)):
        return (str(x.dtype).split(".")[-1], tuple(x.shape), x.tolist())
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__,) + tuple(as_plain(v) for v in x)
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [as_plain(v) for v in x])
    if isinstance(x, dict):
        return (type(x).__name__, {k: as_plain(v) for k, v in x.items()})
    return x


def both(fn):
    """fn(torch-like module, its data module) run with each; the plain results."""
    out = []
    for m in (torch, tapegrad):
        try:
            out.append(as_plain(fn(*lib(m))))
        except Exception as e:  # noqa: BLE001  (compared with torch's)
            out.append(f"{type(e).__name__}: {e}".replace("torch.", "tapegrad."))
    return out


def same(fn):
    t, g = both(fn)
    assert g == t


# ---- datasets ----------------------------------------------------------------------------
def _xy(m):
    return m.arange(20.).reshape(10, 2), m.arange(10)


@pytest.mark.parametrize("case", [
    lambda m, d: d.TensorDataset(*_xy(m))[3],
    lambda m, d: d.TensorDataset(*_xy(m))[2:5],
    lambda m, d: len(d.TensorDataset(*_xy(m))),
    lambda m, d: d.TensorDataset(m.ones(3), m.ones(4)),
    lambda m, d: [d.Subset(list(range(10, 20)), [3, 1, 7])[i] for i in range(3)],
    lambda m, d: d.Subset(d.TensorDataset(*_xy(m)), [4, 2, 0])[[0, 2]],
    lambda m, d: len(d.Subset(range(5), [1, 2])),
    lambda m, d: [d.ConcatDataset([range(3), range(10, 14)])[i] for i in (0, 2, 3, 6, -1, -7)],
    lambda m, d: d.ConcatDataset([range(3), range(10, 14)]).cumulative_sizes,
    lambda m, d: d.ConcatDataset([range(3)])[-4],
    lambda m, d: d.ConcatDataset([]),
    lambda m, d: len(d.TensorDataset(m.ones(2)) + d.TensorDataset(m.ones(3))),
    lambda m, d: d.StackDataset(range(3), range(10, 13))[1],
    lambda m, d: d.StackDataset(a=range(3), b=range(10, 13))[2],
    lambda m, d: d.StackDataset(range(3), range(2)),
    lambda m, d: d.StackDataset(),
    lambda m, d: d.Dataset()[0],
    lambda m, d: d.IterableDataset(),
    lambda m, d: [len(s) for s in d.random_split(range(10), [3, 7])],
    lambda m, d: [len(s) for s in d.random_split(range(11), [0.3, 0.3, 0.4])],
    lambda m, d: [len(s) for s in d.random_split(range(10), [0.5, 0.5])],
    lambda m, d: d.random_split(range(10), [3, 5]),
    lambda m, d: d.random_split(range(10), [1.5, -0.5]),
    lambda m, d: sorted(sum((list(s) for s in d.random_split(range(10), [0.2, 0.8])), [])),
])
def test_datasets(case):
    same(case)


class Stream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


class RefStream(ref.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


RefStream.__name__ = RefStream.__qualname__ = "Stream"   # (same messages)


def stream(d, n):
    return Stream(n) if d is tdata else RefStream(n)


def test_iterable_datasets_chain():
    same(lambda m, d: list(stream(d, 3) + stream(d, 2)))
    same(lambda m, d: len(d.ChainDataset([range(2)])))
    same(lambda m, d: list(d.ChainDataset([range(2)])))
    same(lambda m, d: d.ConcatDataset([stream(d, 2)]))


def test_random_split_fraction_warns_and_is_seeded():
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        tdata.random_split(range(2), [0.9, 0.1])
    g = [tapegrad.Generator().manual_seed(5) for _ in range(2)]
    a, b = (tdata.random_split(range(20), [5, 15], generator=x) for x in g)
    assert list(a[0]) == list(b[0]) and list(a[1]) == list(b[1])
    tapegrad.manual_seed(3)
    a = list(tdata.random_split(range(20), [0.5, 0.5])[0])
    tapegrad.manual_seed(3)
    assert list(tdata.random_split(range(20), [0.5, 0.5])[0]) == a


# ---- collate -----------------------------------------------------------------------------
Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("batch", [
    lambda m: [m.ones(2, 3), m.zeros(2, 3)],
    lambda m: [m.tensor(1), m.tensor(2)],
    lambda m: [m.ones(2, dtype=m.float64), m.zeros(2, dtype=m.float64)],
    lambda m: [1.5, 2.0],
    lambda m: [1, 2, 3],
    lambda m: [True, False],
    lambda m: ["a", "b"],
    lambda m: [b"a", b"b"],
    lambda m: [np.float32(1), np.float32(2)],
    lambda m: [np.int32(1), np.int32(2)],
    lambda m: [np.float64(1)],
    lambda m: [np.arange(3), np.arange(3, 6)],
    lambda m: [np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)],
    lambda m: [np.array(["a"]), np.array(["b"])],
    lambda m: [{"a": 1.0, "b": m.ones(2)}, {"a": 2.0, "b": m.zeros(2)}],
    lambda m: [(1, 2.5, "s"), (3, 4.5, "t")],
    lambda m: [[1, 2], [3, 4]],
    lambda m: [[1, 2], [3]],
    lambda m: [Point(1, m.ones(1)), Point(2, m.zeros(1))],
    lambda m: [{"x": [(1, {"y": 2.0})]}, {"x": [(3, {"y": 4.0})]}],
    lambda m: [collections.OrderedDict(b=1, a=2), collections.OrderedDict(b=3, a=4)],
    lambda m: [object(), object()],
    lambda m: [None, None],
])
def test_default_collate(batch):
    def run(m, d):
        out = d.default_collate(batch(m))
        return out if not isinstance(out, dict) else (type(out).__name__, list(out), out)
    t, g = both(run)
    if isinstance(t, str):     # error messages name the type (object at an address)
        t, g = t.split(" at ")[0], g.split(" at ")[0]
    assert g == t


@pytest.mark.parametrize("data", [
    lambda m: np.arange(3),
    lambda m: np.float32(2),
    lambda m: (np.arange(2), 1, "a"),
    lambda m: {"a": np.ones(2), "b": [np.zeros(1)]},
    lambda m: Point(np.ones(1), 2),
    lambda m: m.ones(2),
    lambda m: np.array(["x"]),
])
def test_default_convert(data):
    same(lambda m, d: d.default_convert(data(m)))


# ---- samplers ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", [
    lambda m, d: list(d.SequentialSampler(range(5))),
    lambda m, d: len(d.SequentialSampler(range(5))),
    lambda m, d: list(d.BatchSampler(range(10), 3, False)),
    lambda m, d: list(d.BatchSampler(range(10), 3, True)),
    lambda m, d: (len(d.BatchSampler(range(10), 3, False)), len(d.BatchSampler(range(10), 3, True))),
    lambda m, d: d.BatchSampler(range(10), 0, False),
    lambda m, d: d.BatchSampler(range(10), True, False),
    lambda m, d: d.BatchSampler(range(10), 2, 1),
    lambda m, d: len(d.RandomSampler(range(7))),
    lambda m, d: len(d.RandomSampler(range(7), num_samples=3)),
    lambda m, d: sorted(d.RandomSampler(range(7))),
    lambda m, d: len(list(d.RandomSampler(range(7), num_samples=17))),
    lambda m, d: sorted(set(d.RandomSampler(range(3), num_samples=17))),
    lambda m, d: sorted(set(list(d.RandomSampler(range(3), replacement=True, num_samples=70)))),
    lambda m, d: len(list(d.RandomSampler(range(3), replacement=True, num_samples=70))),
    lambda m, d: d.RandomSampler(range(3), replacement=1),
    lambda m, d: d.RandomSampler(range(3), num_samples=0),
    lambda m, d: d.RandomSampler([]),
    lambda m, d: sorted(d.SubsetRandomSampler([5, 8, 9])),
    lambda m, d: len(d.SubsetRandomSampler([5, 8, 9])),
    lambda m, d: len(list(d.WeightedRandomSampler([0.1, 0.9, 0.4], 5))),
    lambda m, d: set(d.WeightedRandomSampler([0., 1., 0.], 5)),
    lambda m, d: sorted(d.WeightedRandomSampler([1., 2., 0.5], 3, replacement=False)),
    lambda m, d: sorted(d.WeightedRandomSampler([1., 0., 0.], 3, replacement=False)),
    lambda m, d: d.WeightedRandomSampler([[1., 2.]], 3),
    lambda m, d: d.WeightedRandomSampler([1., 2.], 0),
    lambda m, d: d.WeightedRandomSampler([1., 2.], 2, replacement=0),
    lambda m, d: list(d.WeightedRandomSampler([1., -2.], 2)),
    lambda m, d: list(d.WeightedRandomSampler([1., -2.], 1)),
    lambda m, d: list(d.WeightedRandomSampler([1., float("inf")], 2)),
    lambda m, d: list(d.WeightedRandomSampler([1., float("nan")], 2, replacement=False)),
    lambda m, d: list(d.WeightedRandomSampler([0.], 1, replacement=False)),
    lambda m, d: list(d.WeightedRandomSampler([0., 0.], 2)),
    lambda m, d: list(d.WeightedRandomSampler([1., 2.], 3, replacement=False)),
    lambda m, d: list(iter(d.Sampler())),
    lambda m, d: len(d.Sampler()),
])
def test_samplers(case):
    same(case)


@pytest.mark.parametrize("case", [
    lambda m, d: [list(d.DistributedSampler(range(10), 3, r, shuffle=False)) for r in range(3)],
    lambda m, d: [list(d.DistributedSampler(range(10), 3, r, shuffle=False, drop_last=True))
                  for r in range(3)],
    lambda m, d: [list(d.DistributedSampler(range(2), 5, r, shuffle=False)) for r in range(5)],
    lambda m, d: [len(d.DistributedSampler(range(10), 4, r, drop_last=dl))
                  for r in range(4) for dl in (False, True)],
    lambda m, d: sorted(sum((list(d.DistributedSampler(range(12), 3, r)) for r in range(3)),
                            [])),
    lambda m, d: d.DistributedSampler(range(10), 3, 3),
    lambda m, d: d.DistributedSampler(range(10), 3, -1),
])
def test_distributed_sampler(case):
    same(case)


def test_distributed_sampler_epochs_and_missing_process_group():
    s = [tdata.DistributedSampler(range(20), 2, r, seed=4) for r in range(2)]
    first = [list(x) for x in s]
    assert sorted(first[0] + first[1]) == list(range(20))
    assert [list(x) for x in s] == first           # the same order until set_epoch
    for x in s:
        x.set_epoch(1)
    assert [list(x) for x in s] != first
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        tdata.DistributedSampler(range(3))


def test_weighted_sampler_follows_the_weights():
    g = tapegrad.Generator().manual_seed(0)
    draws = np.array(list(tdata.WeightedRandomSampler([1., 3., 0., 4.], 8000, generator=g)))
    freq = np.bincount(draws, minlength=4) / len(draws)
    assert np.allclose(freq, [1 / 8, 3 / 8, 0, 4 / 8], atol=0.02)
    firsts = [list(tdata.WeightedRandomSampler([1., 9.], 2, replacement=False, generator=g))[0]
              for _ in range(2000)]
    assert abs(np.mean(firsts) - 0.9) < 0.03     # index 1 drawn first 9 times in 10


@pytest.mark.parametrize("make", [
    lambda g: tdata.RandomSampler(range(10), generator=g),
    lambda g: tdata.RandomSampler(range(10), replacement=True, num_samples=40, generator=g),
    lambda g: tdata.SubsetRandomSampler(list(range(10)), generator=g),
    lambda g: tdata.WeightedRandomSampler([1.] * 10, 10, generator=g),
])
def test_samplers_are_reproducible(make):
    a = list(make(tapegrad.Generator().manual_seed(7)))
    assert a == list(make(tapegrad.Generator().manual_seed(7)))
    assert a != list(make(tapegrad.Generator().manual_seed(8)))
    tapegrad.manual_seed(1)
    b = list(make(None)), list(make(None))
    tapegrad.manual_seed(1)
    assert (list(make(None)), list(make(None))) == b
    assert b[0] != b[1]        # a new order on each pass


# ---- DataLoader --------------------------------------------------------------------------
def _loader_ds(m, d):
    return d.TensorDataset(m.arange(30.).reshape(10, 3), m.arange(10), m.ones(10, dtype=m.bool))


class Pairs:
    """A map-style dataset of (float, int, dict) samples (not a Dataset subclass)."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return i * 0.5, i, {"sq": np.array([i, i * i], np.int64)}


@pytest.mark.parametrize("case", [
    lambda m, d: list(d.DataLoader(_loader_ds(m, d), batch_size=4)),
    lambda m, d: list(d.DataLoader(_loader_ds(m, d), batch_size=4, drop_last=True)),
    lambda m, d: list(d.DataLoader(_loader_ds(m, d))),
    lambda m, d: list(d.DataLoader(_loader_ds(m, d), batch_size=None))[:3],
    lambda m, d: list(d.DataLoader(Pairs(), batch_size=2)),
    lambda m, d: list(d.DataLoader(Pairs(), batch_size=None)),
    lambda m, d: list(d.DataLoader(range(7), batch_size=3)),
    lambda m, d: list(d.DataLoader(range(7), batch_size=3, collate_fn=lambda b: sum(b))),
    lambda m, d: list(d.DataLoader(range(7), sampler=[6, 0, 3], batch_size=2)),
    lambda m, d: list(d.DataLoader(range(7), batch_sampler=[[1, 2], [0]])),
    lambda m, d: list(d.DataLoader(d.Subset(_loader_ds(m, d), [9, 0, 4]), batch_size=2)),
    lambda m, d: list(d.DataLoader(stream(d, 7), batch_size=3)),
    lambda m, d: list(d.DataLoader(stream(d, 7), batch_size=3, drop_last=True)),
    lambda m, d: list(d.DataLoader(stream(d, 3), batch_size=None)),
    lambda m, d: [len(d.DataLoader(_loader_ds(m, d), batch_size=b, drop_last=dl))
                  for b in (1, 3, 4, 10, 11) for dl in (False, True)],
    lambda m, d: len(d.DataLoader(range(7), batch_size=None)),
    lambda m, d: len(d.DataLoader(range(7), batch_sampler=[[1, 2], [0]])),
    lambda m, d: len(d.DataLoader(stream(d, 3), batch_size=2)),
    lambda m, d: len(d.DataLoader(range(7), batch_size=2, shuffle=True)),
    lambda m, d: sorted(sum((b.tolist() for b in d.DataLoader(range(7), batch_size=2,
                                                               shuffle=True)), [])),
    lambda m, d: d.DataLoader(range(3), num_workers=-1),
    lambda m, d: d.DataLoader(range(3), timeout=-1),
    lambda m, d: d.DataLoader(range(3), prefetch_factor=2),
    lambda m, d: d.DataLoader(range(3), persistent_workers=True),
    lambda m, d: d.DataLoader(range(3), multiprocessing_context="spawn"),
    lambda m, d: d.DataLoader(range(3), sampler=[0], shuffle=True),
    lambda m, d: d.DataLoader(range(3), batch_sampler=[[0]], batch_size=2),
    lambda m, d: d.DataLoader(range(3), batch_sampler=[[0]], drop_last=True),
    lambda m, d: d.DataLoader(range(3), batch_sampler=[[0]], sampler=[0]),
    lambda m, d: d.DataLoader(range(3), batch_size=None, drop_last=True),
    lambda m, d: d.DataLoader(range(3), batch_size=0),
    lambda m, d: d.DataLoader(stream(d, 3), shuffle=True),
    lambda m, d: d.DataLoader(stream(d, 3), sampler=[0]),
    lambda m, d: d.DataLoader(stream(d, 3), batch_sampler=[[0]]),
    lambda m, d: list(d.DataLoader(range(3), timeout=1)),
    lambda m, d: setattr(d.DataLoader(range(3)), "batch_size", 2),
    lambda m, d: setattr(d.DataLoader(range(3)), "sampler", None),
    lambda m, d: len(d.DataLoader([object()] * 3, collate_fn=lambda b: b)),
    lambda m, d: (d.DataLoader(range(3)).batch_size, d.DataLoader(range(3)).drop_last,
                  type(d.DataLoader(range(3)).sampler).__name__,
                  type(d.DataLoader(range(3), shuffle=True).sampler).__name__,
                  type(d.DataLoader(range(3)).batch_sampler).__name__,
                  d.DataLoader(range(3), batch_size=None).batch_sampler,
                  d.DataLoader(range(3)).collate_fn.__name__,
                  d.DataLoader(range(3), batch_size=None).collate_fn.__name__,
                  d.DataLoader(range(3)).num_workers, d.DataLoader(range(3)).generator),
    lambda m, d: d.get_worker_info(),
])
def test_dataloader(case):
    same(case)


# ---- worker processes ---------------------------------------------------------------------
class Sharded(tdata.IterableDataset):
    """Each worker yields its share: every num_workers-th of range(n) from its id."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        w = tdata.get_worker_info()
        lo, step = (0, 1) if w is None else (w.id, w.num_workers)
        return iter(range(lo, self.n, step))


class RefSharded(ref.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        w = ref.get_worker_info()
        lo, step = (0, 1) if w is None else (w.id, w.num_workers)
        return iter(range(lo, self.n, step))


class WhoLoads:
    """A map-style dataset telling which worker loaded each item (as torch's)."""

    def __init__(self, d):
        self.d = d

    def __len__(self):
        return 7

    def __getitem__(self, i):
        w = self.d.get_worker_info()
        return i, -1 if w is None else w.id


class Failing:
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise ValueError(f"bad item {i}")
        return i


def sharded(d, n):
    return Sharded(n) if d is tdata else RefSharded(n)


@pytest.mark.parametrize("case", [
    lambda m, d: list(d.DataLoader(_loader_ds(m, d), batch_size=3, num_workers=2)),
    lambda m, d: list(d.DataLoader(_loader_ds(m, d), batch_size=4, drop_last=True,
                                   num_workers=2)),
    lambda m, d: list(d.DataLoader(Pairs(), batch_size=None, num_workers=2)),
    lambda m, d: list(d.DataLoader(WhoLoads(d), batch_size=2, num_workers=2)),
    lambda m, d: list(d.DataLoader(WhoLoads(d), batch_size=None, num_workers=2,
                                   prefetch_factor=1)),
    lambda m, d: list(d.DataLoader(sharded(d, 11), batch_size=2, num_workers=2)),
    lambda m, d: list(d.DataLoader(sharded(d, 5), batch_size=2, num_workers=2,
                                   drop_last=True)),
    lambda m, d: list(d.DataLoader(stream(d, 3), batch_size=2, num_workers=2)),
    lambda m, d: list(d.DataLoader(range(7), batch_sampler=[[1, 2], [0], [6]], num_workers=2)),
    lambda m, d: len(d.DataLoader(range(7), batch_size=2, num_workers=2)),
    lambda m, d: d.DataLoader(range(3), num_workers=2, prefetch_factor=-1),
    lambda m, d: d.DataLoader(range(3), num_workers=2, multiprocessing_context="nope"),
    lambda m, d: d.DataLoader(range(3), num_workers=2, multiprocessing_context=3),
    lambda m, d: d.DataLoader(range(3), num_workers=2).prefetch_factor,
])
def test_dataloader_with_workers(case):
    same(case)


def test_worker_errors_carry_the_traceback():
    # (torch's message: "Caught ValueError in DataLoader worker process 1.\nOriginal
    # Traceback ...": not compared here, as torch's workers take 5 s each to go afterwards)
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 1") as e:
        list(tdata.DataLoader(Failing(), batch_size=2, num_workers=2))
    assert "bad item 3" in str(e.value) and "Original Traceback" in str(e.value)
    # a batch that cannot be pickled back: the error, not a hang
    with pytest.raises(Exception, match="in DataLoader worker process 0"):
        list(tdata.DataLoader(range(2), num_workers=1, collate_fn=lambda b: (lambda: b)))


def _seed_and_draw(worker_id):
    tapegrad.rand(1)          # (worker_init_fn runs in the worker, after its seeding)


class Draws:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        w = tdata.get_worker_info()
        return (w.id, w.seed - w.id, tapegrad.rand(1).item(), float(np.random.rand()))


def test_workers_are_seeded_reproducibly():
    def run():
        return [b for b in tdata.DataLoader(Draws(), batch_size=None, num_workers=2,
                                             worker_init_fn=_seed_and_draw)]
    tapegrad.manual_seed(0)
    a = run()
    tapegrad.manual_seed(0)
    assert run() == a
    assert a != run()                              # a new base seed each pass
    assert len({x[1] for x in a}) == 1             # one base seed, + worker id
    assert [x[0] for x in a] == [0, 1, 0, 1]
    assert a[0][2] != a[1][2] and a[0][3] != a[1][3]     # the workers draw differently


def test_persistent_workers_reuse_one_iterator():
    for d in (ref, tdata):
        loader = d.DataLoader(range(10), batch_size=3, num_workers=2, persistent_workers=True,
                              shuffle=True)
        it = iter(loader)
        first = sorted(sum((b.tolist() for b in it), []))
        assert iter(loader) is it
        assert sorted(sum((b.tolist() for b in loader), [])) == first == list(range(10))
        partial = iter(loader)
        next(partial)                   # an epoch left unfinished, then a new one
        assert sorted(sum((b.tolist() for b in loader), [])) == list(range(10))
    loader = tdata.DataLoader(Sharded(7), batch_size=2, num_workers=2, persistent_workers=True)
    assert [b.tolist() for b in loader] == [b.tolist() for b in loader]


def test_out_of_order_and_timeout():
    loader = tdata.DataLoader(range(9), batch_size=2, num_workers=2, in_order=False)
    assert sorted(sum((b.tolist() for b in loader), [])) == list(range(9))
    loader = tdata.DataLoader(range(4), num_workers=1, multiprocessing_context="fork",
                              batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3]]

    class Slow:
        def __len__(self):
            return 2

        def __getitem__(self, i):
            import time
            time.sleep(1)
            return i
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        list(tdata.DataLoader(Slow(), num_workers=1, timeout=0.2))


def test_too_many_workers_warns_as_torch():
    n = len(os.sched_getaffinity(0)) + 1
    for d in (ref, tdata):
        with pytest.warns(UserWarning, match=f"This DataLoader will create {n} worker "
                                             "processes in total"):
            d.DataLoader(range(3), num_workers=n)


def test_dataloader_pin_memory_is_accepted_with_torchs_warning():
    for d in (ref, tdata):
        with pytest.warns(UserWarning, match="no accelerator is found"):
            assert len(list(d.DataLoader(range(3), pin_memory=True))) == 3


def test_iterable_length_overrun_warns():
    for d in (ref, tdata):
        class Short(d.IterableDataset):
            def __iter__(self):
                return iter(range(5))

            def __len__(self):
                return 3
        loader = d.DataLoader(Short(), batch_size=None)
        assert len(loader) == 3
        with pytest.warns(UserWarning, match="was reported to be 3"):
            assert len(list(loader)) == 5


def test_shuffle_is_reproducible_with_manual_seed_and_generator():
    ds = tdata.TensorDataset(tapegrad.arange(20))

    def order(**kw):
        return [b[0].tolist() for b in tdata.DataLoader(ds, batch_size=6, shuffle=True, **kw)]
    tapegrad.manual_seed(0)
    a = order(), order()
    tapegrad.manual_seed(0)
    assert (order(), order()) == a
    assert a[0] != a[1] and sorted(sum(a[0], [])) == list(range(20))
    g1, g2 = tapegrad.Generator().manual_seed(3), tapegrad.Generator().manual_seed(3)
    assert order(generator=g1) == order(generator=g2)
    loader = tdata.DataLoader(ds, batch_size=6, shuffle=True, generator=g1)
    assert [b[0].tolist() for b in loader] != [b[0].tolist() for b in loader]


def test_subclassed_dataset_and_generic_annotations():
    class Squares(tdata.Dataset[int]):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return tapegrad.tensor([float(i * i)])
    loader: tdata.DataLoader[int] = tdata.DataLoader(Squares(), batch_size=3)
    assert [b.tolist() for b in loader] == [[[0.], [1.], [4.]], [[9.]]]
    assert tdata.Sampler[int] is not None


def test_training_through_a_dataloader_gives_torchs_losses():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)).astype(np.float32)
    Y = (X @ np.array([[1.5], [-2.0], [0.5]], np.float32) + 0.3
         + 0.1 * rng.standard_normal((50, 1))).astype(np.float32)
    w0 = rng.standard_normal((1, 3)).astype(np.float32)
    b0 = rng.standard_normal(1).astype(np.float32)

    def train(m, d):
        model = m.nn.Linear(3, 1)
        with m.no_grad():
            model.weight.copy_(m.tensor(w0))
            model.bias.copy_(m.tensor(b0))
        opt = m.optim.SGD(model.parameters(), lr=0.05)
        loss_fn = m.nn.MSELoss()
        losses = []
        for _ in range(3):
            for xb, yb in d.DataLoader(d.TensorDataset(m.tensor(X), m.tensor(Y)), batch_size=8,
                                       shuffle=False):
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        return losses, model.weight.detach().numpy().copy()
    (lt, wt), (lg, wg) = train(*lib(torch)), train(*lib(tapegrad))
    assert len(lg) == 21
    np.testing.assert_allclose(lg, lt, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wg, wt, rtol=1e-5, atol=1e-6)
    assert lg[-1] < lg[0] / 5


def test_no_warnings_on_plain_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(tdata.DataLoader(range(5), batch_size=2, shuffle=True))


class _Recorder:
    """A stand-in for a worker's queues: hands out `items`, records what the worker does."""

    def __init__(self, items=()):
        self.items, self.calls = list(items), []

    def get(self, timeout=None):
        return self.items.pop(0)

    def put(self, item):
        self.calls.append("put")

    def cancel_join_thread(self):
        self.calls.append("cancel_join_thread")


def test_worker_whose_iterable_ran_out_flushes_its_queue(monkeypatch):
    # The main process tells a worker whose iterable dataset ran out to end while it still
    # reads the other workers' results: the worker must not abandon its queue's thread, which
    # may still hold the write lock all workers share (a hang of the whole loader, seen with
    # two workers on a loaded machine); only a shutdown's None may drop what is unsent.
    from tapegrad.utils.data import _worker
    from tapegrad.utils.data.dataloader import _MultiProcessingDataLoaderIter
    # (the loop runs here, in the main process: its WorkerInfo must not outlive the test,
    # nor its set_num_threads(1) the thread count of later tests)
    monkeypatch.setattr(_worker, "_worker_info", None)
    monkeypatch.setattr(_worker, "set_num_threads", lambda n: None)

    def run(*items):
        index, data = _Recorder(items), _Recorder()
        _worker._worker_loop(True, Stream(1), index, data, True, None, False, 0, None, 0, 1)
        return data.calls

    assert run((0, [None, None]), _worker._WorkerDone()) == ["put"]
    assert run((0, [None, None]), None) == ["put", "cancel_join_thread"]

    class Loader:   # what _mark_worker_done reads of the iterator
        _workers_status, _persistent_workers = [True], False
        _index_queues = [_Recorder()]
    Loader._index_queues[0].put = Loader._index_queues[0].items.append
    _MultiProcessingDataLoaderIter._mark_worker_done(Loader, 0)
    assert type(Loader._index_queues[0].items[0]) is _worker._WorkerDone


class _Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def test_collate_extension_point_at_torchs_path():
    """torch documents `torch.utils.data._utils.collate` (collate with
    default_collate_fn_map) as the place to teach default_collate a type: imported from there,
    an entry added to the map is used by DataLoader's default collate."""
    from importlib import import_module
    out = []
    for lib in (tapegrad, torch):
        c = import_module(lib.__name__ + ".utils.data._utils.collate")
        data = import_module(lib.__name__ + ".utils.data")

        def collate_point(batch, *, collate_fn_map=None, lib=lib):
            return lib.tensor([[p.x, p.y] for p in batch])
        c.default_collate_fn_map[_Point] = collate_point
        try:
            loader = data.DataLoader([_Point(i, -i) for i in range(5)], batch_size=2)
            out.append([b.tolist() for b in loader] + [c.default_collate([(1, 2.0)])[1].dtype
                                                       == lib.float64])
        finally:
            del c.default_collate_fn_map[_Point]
        assert c.default_collate is data.default_collate
    assert out[0] == out[1]


class _Count(tdata.IterableDataset):
    def __iter__(self):
        return iter(range(5))


def _worker_and_fetch_paths(lib):
    from importlib import import_module
    data = import_module(lib.__name__ + ".utils.data")
    worker = import_module(lib.__name__ + ".utils.data._utils.worker")
    utils = import_module(lib.__name__ + ".utils.data._utils")
    kind = import_module(lib.__name__ + ".utils.data.dataloader")._DatasetKind
    count = _Count() if lib is tapegrad else type("_Count", (ref.IterableDataset,), {
        "__iter__": lambda self: iter(range(5))})()
    mapped = kind.create_fetcher(kind.Map, [10, 11, 12], True, data.default_collate, False)
    it = kind.create_fetcher(kind.Iterable, count, True, data.default_collate, False)
    return (worker.get_worker_info(), worker.get_worker_info is data.get_worker_info,
            worker.WorkerInfo.__name__, utils.MP_STATUS_CHECK_INTERVAL, utils.IS_WINDOWS,
            (kind.Map, kind.Iterable), type(mapped).__name__, mapped.fetch([0, 2]).tolist(),
            type(it).__name__, it.fetch([0, 1, 2]).tolist(), it.fetch([0, 1, 2]).tolist())


def test_worker_and_fetch_modules_at_torchs_paths():
    """torch.utils.data._utils.worker (get_worker_info, WorkerInfo) and the fetchers of
    dataloader._DatasetKind, which libraries building their own loader iterators import."""
    got = _worker_and_fetch_paths(tapegrad)
    assert got == _worker_and_fetch_paths(torch)
    assert got[-2:] == ([0, 1, 2], [3, 4])


def _loader_internals(lib):
    from importlib import import_module
    data = import_module(lib.__name__ + ".utils.data")
    kind = import_module(lib.__name__ + ".utils.data.dataloader")._DatasetKind

    class Counting(data.DataLoader):    # (a library's loader overriding the iterator)
        made = 0

        def _get_iterator(self):
            Counting.made += 1
            return super()._get_iterator()
    count = _Count() if lib is tapegrad else type("_Count", (ref.IterableDataset,), {
        "__iter__": lambda self: iter(range(5))})()
    loader = Counting(list(range(5)), batch_size=2)
    batches = [b.tolist() for b in loader] + [b.tolist() for b in loader]
    return (batches, Counting.made, loader._dataset_kind == kind.Map,
            data.DataLoader(count)._dataset_kind == kind.Iterable,
            type(data.DataLoader([1])._get_iterator()).__name__)


def test_loader_get_iterator_and_dataset_kind_as_torch():
    """DataLoader.__iter__ goes through _get_iterator (which loaders built on torch's
    override) and tells its dataset's kind by _dataset_kind."""
    got = _loader_internals(tapegrad)
    assert got == _loader_internals(torch)
    assert got[1] == 2


def _stack_getitems(lib):
    from importlib import import_module
    data = import_module(lib.__name__ + ".utils.data")

    class Batched(data.Dataset):    # a dataset fetching a batch at once, its own way
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return ("item", i)

        def __getitems__(self, indices):
            return [("batch", i) for i in indices]
    loader = data.DataLoader(data.StackDataset(range(4), Batched()), batch_size=2,
                             collate_fn=list)
    named = data.StackDataset(a=range(4), b=Batched())
    return ([b for b in loader], named.__getitems__([3, 0]),
            data.DataLoader(data.Subset(named, [1]), batch_size=1, collate_fn=list).__iter__()
            .__next__())


def test_stack_dataset_fetches_batches_as_torch():
    """StackDataset.__getitems__ (DataLoader's batched fetch) asks each part for the batch
    through its own __getitems__ when it has one, as torch's."""
    got = _stack_getitems(tapegrad)
    assert got == _stack_getitems(torch)
    assert got[1][0] == {"a": 3, "b": ("batch", 3)}


class _Threads(tdata.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        info = tdata.get_worker_info()
        return tapegrad.get_num_threads(), info.id, info.num_workers


def test_workers_compute_on_one_thread_as_torch():
    """torch's worker loop sets torch.set_num_threads(1) (the main process keeps its own)."""
    before = tapegrad.get_num_threads()
    got = [list(b) for b in tdata.DataLoader(_Threads(), batch_size=None, num_workers=2)]
    assert got == [[1, 0, 2], [1, 1, 2]]
    assert tapegrad.get_num_threads() == before


def test_concat_dataset_old_cumulative_sizes_name_as_torch():
    """ConcatDataset.cummulative_sizes: torch's deprecated name, with its FutureWarning."""
    got = []
    for d in (tdata, ref):
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            sizes = d.ConcatDataset([range(2), range(3)]).cummulative_sizes
        got.append((sizes, [(w.category.__name__, str(w.message), w.filename) for w in ws]))
    assert got[0] == got[1]
    assert got[0][1][0][2] == __file__


@pytest.mark.parametrize("name", ["Dataset", "IterableDataset", "Subset", "ConcatDataset",
                                  "StackDataset", "ChainDataset", "TensorDataset", "Sampler",
                                  "DistributedSampler", "RandomSampler", "DataLoader"])
def test_generic_classes_subscript_as_torch(name):
    """Annotations such as `ds: Subset[int]` are evaluated at def time: the classes torch
    makes generic subscript here too (and the others refuse as torch's)."""
    def subscript(cls):
        try:
            return str(cls[int]).replace("torch", "tapegrad")
        except TypeError as e:
            return "TypeError", str(e).replace("torch", "tapegrad")
    assert subscript(getattr(tdata, name)) == subscript(getattr(ref, name))


def test_too_many_workers_warns_per_epoch_as_torch(monkeypatch):
    """More workers than CPUs: torch warns when the loader is made and again each time it
    starts a new set of workers (each epoch's iter()), not only once."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    counts = []
    for m in (tapegrad, torch):
        _, d = lib(m)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            dl = d.DataLoader(list(range(4)), batch_size=2, num_workers=2)
            for _ in range(2):
                assert [b.tolist() for b in dl] == [[0, 1], [2, 3]]
        counts.append(sum("suggested max number of worker" in str(x.message) for x in w))
    assert counts[0] == counts[1] == 3
