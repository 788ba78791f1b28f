"""DLPack (tapegrad/utils/dlpack.py): from_dlpack / to_dlpack and Tensor.__dlpack__ share
memory both ways, refuse a tensor that requires grad and a spent capsule with torch's errors,
and exchange tensors with torch itself where it is installed."""
import numpy as np
import pytest

import tapegrad as tg


def _program(m):
    out = []
    x = m.ones(2, requires_grad=True)
    try:
        x.__dlpack__()
    except BufferError as e:
        out.append(str(e))
    y = m.arange(3.0)
    a = np.from_dlpack(y)
    a[0] = 5
    out += [y.tolist(), tuple(int(v) for v in y.__dlpack_device__())]
    src = np.arange(4, dtype=np.int32)
    z = m.from_dlpack(src)
    src[1] = 9
    out += [z.tolist(), str(z.dtype).split(".")[-1]]
    cap = m.utils.dlpack.to_dlpack(y)
    out.append(m.utils.dlpack.from_dlpack(cap).tolist())
    for bad in (cap, 5):          # a spent capsule; not a DLPack object
        with pytest.raises(RuntimeError, match="from_dlpack received an invalid capsule"):
            m.from_dlpack(bad)
    out.append(m.from_dlpack(np.ones(3, bool)).tolist())
    out.append(m.from_dlpack(np.arange(6.0).reshape(2, 3)[:, ::2]).tolist())
    s = m.tensor(2.5)             # one element: exported as the tensor's own memory
    b = np.from_dlpack(s)
    b[()] = 7.0
    out.append(s.item())
    out.append(np.from_dlpack((m.tensor([1.0, 2.0], requires_grad=True) * 2).detach()).tolist())
    return out


def test_dlpack():
    got = _program(tg)
    assert got[0] == "Can't export tensors that require gradient, use tensor.detach()"
    assert got[1:] == [[5.0, 1.0, 2.0], (1, 0), [0, 9, 2, 3], "int32", [5.0, 1.0, 2.0],
                       [True, True, True], [[0.0, 2.0], [3.0, 5.0]], 7.0, [2.0, 4.0]]
    torch = pytest.importorskip("torch")
    assert got == _program(torch)


def test_exchange_with_torch():
    torch = pytest.importorskip("torch")
    t = torch.arange(4.0)
    ours = tg.from_dlpack(t)
    t[0] = -1.0                    # one memory
    assert ours.tolist() == [-1.0, 1.0, 2.0, 3.0] and ours.dtype is tg.float32
    back = torch.from_dlpack(tg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tg.float64))
    assert back.dtype == torch.float64 and back.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(BufferError, match="require gradient"):
        tg.from_dlpack(torch.ones(2, requires_grad=True))
