"""torch.stft in torch's real form (return_complex=False): values, gradients, shapes, warnings
and argument errors against torch; the complex forms raise NotImplementedError."""
import warnings

import numpy as np
import pytest

import tapegrad
from tapegrad import errors

CASES = [dict(n_fft=16), dict(n_fft=16, hop_length=3, window="hann"),
         dict(n_fft=16, win_length=10, window="hamming10", normalized=True),
         dict(n_fft=15, center=False), dict(n_fft=16, onesided=False, pad_mode="constant"),
         dict(n_fft=32, win_length=9, pad_mode="replicate"), dict(n_fft=8, pad_mode="circular")]


def _window(m, name, dtype):
    return {"hann": lambda: m.hann_window(16, dtype=dtype),
            "hamming10": lambda: m.hamming_window(10, dtype=dtype)}[name]()


def _spectra(m, dtype):
    """(spectrum, gradient of a weighted sum of its squares) per case, batched and not."""
    x = m.tensor(np.sin(np.arange(140) * 0.37).reshape(2, 70) + np.cos(np.arange(140) * 1.3)
                 .reshape(2, 70), dtype=dtype, requires_grad=True)
    out = []
    for kw in CASES:
        kw = dict(kw)
        if "window" in kw:
            kw["window"] = _window(m, kw["window"], dtype)
        for inp in (x, x[1]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = m.stft(inp, return_complex=False, **kw)
            weight = m.arange(s.numel(), dtype=dtype).reshape(s.shape).sin()
            (g,) = m.autograd.grad((s ** 2 * weight).sum(), x)
            out.append((tuple(s.shape), s.dtype == dtype, s.detach().numpy(), g.numpy()))
    return out


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 2e-5)])
def test_stft_values_and_gradients_as_torch(torch_ref, dtype, rtol):
    got = _spectra(tapegrad, getattr(tapegrad, dtype))
    want = _spectra(torch_ref, getattr(torch_ref, dtype))
    for (gs, gd, gv, gg), (ws, wd, wv, wg) in zip(got, want):
        assert (gs, gd) == (ws, wd)
        scale = np.abs(wv).max()
        np.testing.assert_allclose(gv, wv, rtol=rtol, atol=rtol * scale)
        np.testing.assert_allclose(gg, wg, rtol=rtol, atol=rtol * np.abs(wg).max())


def _outcomes(m):
    x = m.tensor(np.linspace(-1, 1, 64), dtype=m.float32)
    calls = [lambda: m.stft(x, 16), lambda: m.stft(x, 100, center=False, return_complex=False),
             lambda: m.stft(x, 0, return_complex=False),
             lambda: m.stft(x, 16, hop_length=0, return_complex=False),
             lambda: m.stft(x, 16, win_length=20, return_complex=False),
             lambda: m.stft(x, 16, window=m.ones(10), return_complex=False),
             lambda: m.stft(x.reshape(2, 4, 8), 4, return_complex=False),
             lambda: m.stft(x.long(), 16, return_complex=False),
             lambda: m.stft(x[:5], 16, return_complex=False),
             lambda: x.stft(16, window=m.ones(16, dtype=m.float64), return_complex=False).dtype]
    out = []
    for call in calls:
        try:
            out.append(repr(call()).replace("tapegrad.", "torch."))
        except Exception as e:   # noqa: BLE001  (compared with torch's)
            out.append(f"{type(e).__name__}: {e}".replace("tapegrad.", "torch."))
    return out


def test_stft_errors_as_torch(torch_ref):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _outcomes(tapegrad) == _outcomes(torch_ref)


def test_stft_warns_once_as_torch(monkeypatch):
    monkeypatch.setattr(errors, "_WARNED", set())
    x = tapegrad.ones(40)
    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        tapegrad.stft(x, 8, return_complex=False)
        tapegrad.stft(x, 8, return_complex=False)
    assert [str(w.message)[:30] for w in first] == ["A window was not provided. A r",
                                                     "stft with return_complex=False"]


def test_complex_forms_raise_not_implemented():
    x = tapegrad.ones(40)
    with pytest.raises(NotImplementedError, match="no complex dtypes"):
        tapegrad.stft(x, 8, window=tapegrad.hann_window(8), return_complex=True)
    with pytest.raises(RuntimeError, match="istft requires a complex-valued input"):
        tapegrad.istft(x, 8)
    with pytest.raises(RuntimeError, match="istft requires a complex-valued input"):
        x.istft(8)


@pytest.mark.parametrize("call", [
    lambda m: m.stft(m.ones(10), 4, window=m.ones(3), return_complex=True),
    lambda m: m.stft(m.ones(10), 40, return_complex=True, window=m.ones(40)),
    lambda m: m.stft(m.ones(10), 4, hop_length=0, window=m.ones(4), return_complex=True),
    lambda m: m.stft(m.ones(2, 2, 10), 4, window=m.ones(4), return_complex=True),
    lambda m: m.stft(m.ones(10, dtype=m.int64), 4, return_complex=True, center=False),
    lambda m: m.istft(m.ones(5, 3), 8), lambda m: m.ones(5, 3, 2).istft(8, window=m.ones(8)),
    lambda m: m.istft("x", 8)])
def test_complex_form_checks_its_arguments_first(call, torch_ref):
    """stft(return_complex=True) of arguments torch refuses raises torch's error (the
    complex result is refused only after torch's checks); istft of a real tensor (every
    tensor here) raises torch's error."""
    def outcome(m):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                call(m)
            except Exception as e:  # noqa: BLE001  (compared with torch's)
                return type(e).__name__, str(e).replace("tapegrad", "torch")
    assert outcome(tapegrad) == outcome(torch_ref)
