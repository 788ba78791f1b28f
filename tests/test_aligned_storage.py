"""Large tensors' storage starts on a 64-byte boundary, as torch's CPU allocator places it
(tapegrad/aligned.py: OpenBLAS's float64 kernels read an operand 16 bytes off a boundary
~10% slower), and nothing else about those tensors changes: values, dtypes and casts, views
and their storage offsets, shared memory with numpy(), serialization, in-place updates."""
import io
import pickle

import numpy as np
import pytest

import tapegrad
from tapegrad import aligned

BIG = (300, 100)         # 30,000 elements: past aligned.MIN_BYTES in every dtype below


def _makers(mod):
    rng = np.random.default_rng(0)
    data = rng.standard_normal(BIG)
    return {
        "tensor float64": lambda: mod.tensor(data),
        "tensor float32 cast": lambda: mod.tensor(data, dtype=mod.float32),
        "tensor int64 cast": lambda: mod.tensor(data * 10, dtype=mod.int64),
        "tensor of ints": lambda: mod.tensor(np.arange(30000).reshape(BIG)),
        "tensor of bools as float": lambda: mod.tensor(data > 0, dtype=mod.float64),
        "zeros": lambda: mod.zeros(*BIG),
        "ones float64": lambda: mod.ones(BIG, dtype=mod.float64),
        "empty": lambda: mod.empty(*BIG),
        "full": lambda: mod.full(BIG, 2.5),
        "full int": lambda: mod.full(BIG, 7, dtype=mod.int32),
        "tensor of a list of floats": lambda: mod.tensor(data.reshape(-1).tolist()),
        "zeros_like": lambda: mod.zeros_like(mod.ones(*BIG)),
        "ones_like float64": lambda: mod.ones_like(mod.ones(*BIG), dtype=mod.float64),
    }


@pytest.mark.parametrize("case", list(_makers(tapegrad)))
def test_large_storage_on_a_64_byte_boundary(case):
    x = _makers(tapegrad)[case]()
    assert x.data_ptr() % 64 == 0
    assert x.storage_offset() == 0
    assert x.is_contiguous()
    v = x.numpy()
    assert v.flags.c_contiguous and v.flags.writeable


@pytest.mark.parametrize("case", list(_makers(tapegrad)))
def test_large_storage_values_and_dtypes_as_torch(case):
    torch = pytest.importorskip("torch")
    ours, theirs = _makers(tapegrad)[case](), _makers(torch)[case]()
    assert str(ours.dtype) == str(theirs.dtype).replace("torch", "tapegrad")
    assert tuple(ours.shape) == tuple(theirs.shape)
    if case != "empty":   # (torch's empty is uninitialised)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert theirs.data_ptr() % 64 == 0     # (what tapegrad's placement follows)


def test_views_offsets_and_numpy_share_the_aligned_storage():
    x = tapegrad.tensor(np.arange(30000, dtype=np.float64).reshape(BIG))
    y = x[10:]
    assert y.storage_offset() == 10 * BIG[1]
    assert y.data_ptr() == x.data_ptr() + 10 * BIG[1] * 8
    assert x.view(-1).is_set_to(x.view(-1)) and not y.is_set_to(x)
    x.numpy()[0, 0] = -1.0                  # numpy() shares the tensor's memory
    assert float(x[0, 0]) == -1.0
    z = x.t()
    assert z.storage_offset() == 0 and z.data_ptr() == x.data_ptr()


def test_serialization_and_pickle_round_trip():
    x = tapegrad.tensor(np.random.default_rng(1).standard_normal(BIG), requires_grad=True)
    buf = io.BytesIO()
    tapegrad.save({"w": x, "v": x[5:]}, buf)
    buf.seek(0)
    got = tapegrad.load(buf)
    np.testing.assert_array_equal(got["w"].detach().numpy(), x.detach().numpy())
    assert got["v"].storage_offset() == 5 * BIG[1]     # a view of the same saved storage
    back = pickle.loads(pickle.dumps(x))
    np.testing.assert_array_equal(back.detach().numpy(), x.detach().numpy())
    assert back.requires_grad


def test_in_place_training_updates_keep_the_storage():
    w = tapegrad.zeros(*BIG, dtype=tapegrad.float64, requires_grad=True)
    ptr = w.data_ptr()
    x = tapegrad.ones(4, BIG[0], dtype=tapegrad.float64)
    for _ in range(3):
        (x @ w).sum().backward()              # w.grad: 4.0 everywhere
        with tapegrad.no_grad():
            w -= 0.01 * (w.grad + 1.0)
        w.grad = None
    assert w.data_ptr() == ptr and w._version == 3
    np.testing.assert_allclose(w.detach().numpy(), -0.15)


def test_small_tensors_keep_numpy_allocation():
    """Below MIN_BYTES the storage is numpy's own (a call ~1 us cheaper): a plain array."""
    x = tapegrad.tensor(np.ones(4))
    assert x.numpy().base is None
    assert aligned.empty((8,), np.float64).base is None
    big = aligned.empty((aligned.MIN_BYTES // 8,), np.float64)
    assert big.__array_interface__["data"][0] % aligned.ALIGN == 0
