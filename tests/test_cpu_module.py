"""tapegrad.cpu (torch.cpu): device queries, streams and events for device-agnostic code, and
the deprecated torch.cpu.amp spellings; against torch where it is installed."""
import warnings

import pytest

import tapegrad as tg


def _program(m):
    out = []
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        with m.cpu.amp.autocast(enabled=False):
            out.append(m.is_autocast_enabled("cpu"))
        scaler = m.cpu.amp.GradScaler(enabled=False)
        out += [scaler.is_enabled(), scaler.get_scale()]
    out.append([(w.category.__name__, str(w.message)) for w in ws])
    out += [m.cpu.is_available(), m.cpu.device_count(), m.cpu.current_device(),
            m.cpu.is_initialized(), m.cpu.set_device("cpu"), m.cpu.synchronize()]
    s, default = m.cpu.Stream(), m.cpu.current_stream()
    with m.cpu.stream(s):
        out.append(m.cpu.current_stream() is s)
    with m.cpu.stream(None):
        out.append(m.cpu.current_stream() is default)
    out.append(m.cpu.current_stream() is default)
    e = m.cpu.Event()
    out += [e.record(), e.query(), e.synchronize(), e.wait(), s.wait_event(e),
            s.wait_stream(default), s.record_event()]
    return out


def test_cpu_module():
    got = _program(tg)
    assert got[:3] == [False, False, 1.0]
    assert [c for c, _ in got[3]] == ["FutureWarning", "FutureWarning"]
    assert got[4:8] == [True, 1, "cpu", True]
    assert got[10:13] == [True, True, True] and got[14] is True
    with pytest.raises(NotImplementedError, match="get_capabilities"):
        tg.cpu.get_capabilities()
    torch = pytest.importorskip("torch")
    assert got == _program(torch)
