"""torch.stft / torch.istft.  tapegrad has no complex dtypes, so stft gives torch's deprecated
real form (`return_complex=False`: the real and imaginary parts in a last dimension of 2),
composed of recorded ops as torch's definition reads: the centre padding (F.pad), frames
(unfold), the window, and the DFT as products with its cosine and sine matrices (torch runs
an FFT: the same values up to round-off, differentiable through the same ops).
`return_complex=True` raises NotImplementedError (after torch's checks of the arguments);
istft, whose input must be complex, raises torch's error for a real one."""
import math

import numpy as np

from .errors import type_name, warn_once
from .creation import ones, tensor
from .nn.functional import pad as _pad
from .tensor import Tensor, tensor_methods
from .views import stack

__all__ = ["stft", "istft"]

_NO_WINDOW = ("A window was not provided. A rectangular window will be applied,which is known "
              "to cause spectral leakage. Other windows such as tapegrad.hann_window or "
              "tapegrad.hamming_window are recommended to reduce spectral leakage.To suppress "
              "this warning and use a rectangular window, explicitly set "
              "`window=tapegrad.ones(n_fft, device=<device>)`.")
_NO_WINDOW_ISTFT = ("A window was not provided. A rectangular window will be applied.Please "
                    "provide the same window used by stft to make the inversion lossless.To "
                    "suppress this warning and use a rectangular window, explicitly set "
                    "`window=tapegrad.ones(n_fft, device=<device>)`.")
_DEPRECATED = ("stft with return_complex=False is deprecated. In a future pytorch release, stft "
               "will return complex tensors for all inputs, and return_complex=False will raise "
               "an error.\nNote: you can still call tapegrad.view_as_real on the complex output "
               "to recover the old return format.")


def _signature(x, n_fft, hop, win_length, window, normalized, onesided, return_complex):
    """torch's stft(...) prefix of its argument errors."""
    def shown(t):
        return f"tapegrad.{t._dtype.legacy}Tensor[{', '.join(map(str, t._shape))}]"
    win = "None" if window is None else \
        f"tapegrad.{window._dtype.legacy}Tensor{{[{', '.join(map(str, window._shape))}]}}"
    return (f"stft({shown(x)}, n_fft={n_fft}, hop_length={hop}, win_length={win_length}, "
            f"window={win}, normalized={int(bool(normalized))}, onesided={onesided}, "
            f"return_complex={int(bool(return_complex))}, align_to_window=None) : ")


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None,
         align_to_window=None):
    """The short-time Fourier transform of a 1-d signal or a batch of them (torch.stft), in
    torch's real form: shape (..., n_fft // 2 + 1 (or n_fft), frames, 2)."""
    if return_complex is None:
        raise RuntimeError("stft requires the return_complex parameter be given for real "
                           "inputs, and will further require that return_complex=True in a "
                           "future PyTorch release.")
    hop = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if window is None:
        warn_once(_NO_WINDOW)   # (torch's TORCH_WARN_ONCE, as the next)
    x = input
    if center:
        nd = x.dim()
        x = _pad(x.view([1] * (3 - nd) + list(x.shape)), [n_fft // 2, n_fft // 2], pad_mode)
        x = x.view(x.shape[-nd:])
    fail = _signature(x, n_fft, hop, win_length, window, normalized, onesided, return_complex)
    if x.dim() not in (1, 2):
        raise RuntimeError(fail + "expected a 1D or 2D tensor")
    if not x._dtype.is_floating_point:
        raise RuntimeError(fail + "expected a tensor of floating point or complex values")
    length = x.shape[-1]
    if not 0 < n_fft <= length:
        raise RuntimeError(fail + f"expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(fail + f"expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win_length <= n_fft:
        raise RuntimeError(fail + f"expected 0 < win_length <= n_fft, but got "
                           f"win_length={win_length}")
    if window is not None and (window.dim() != 1 or window.shape[0] != win_length):
        raise RuntimeError(fail + f"expected a 1D window tensor of size equal to "
                           f"win_length={win_length}, but got window with size "
                           f"[{', '.join(map(str, window.shape))}]")
    if return_complex:   # (after torch's checks: a call torch refuses raises its error)
        raise NotImplementedError(
            "tapegrad has no complex dtypes: torch.stft(return_complex=True) is not supported; "
            "return_complex=False gives the real and imaginary parts in a last dimension of 2 "
            "(torch's deprecated form)")
    warn_once(_DEPRECATED)
    if window is None:
        window = ones(win_length, dtype=x._dtype)
    if win_length < n_fft:   # torch centres a shorter window in n_fft zeros
        left = (n_fft - win_length) // 2
        window = _pad(window, [left, n_fft - win_length - left])
    frames = x.unfold(-1, n_fft, hop) * window          # (..., frames, n_fft)
    dtype = frames._dtype
    nfreq = n_fft // 2 + 1 if onesided is None or onesided else n_fft
    # the DFT's angles from k * f mod n_fft (exact integers), in float64, then the dtype
    angle = 2 * np.pi * (np.outer(np.arange(n_fft), np.arange(nfreq)) % n_fft) / n_fft
    scale = 1 / math.sqrt(n_fft) if normalized else 1.0
    cos = tensor(np.cos(angle) * scale, dtype=dtype)
    sin = tensor(-np.sin(angle) * scale, dtype=dtype)
    return stack([frames @ cos, frames @ sin], -1).transpose(-3, -2)


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
          normalized=False, onesided=None, length=None, return_complex=False):
    """torch.istft: its input must be a complex tensor, which tapegrad has not, so every
    call raises torch's error for a real input (after its warning for a missing window)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"istft(): argument 'input' (position 1) must be Tensor, not "
                        f"{type_name(input)}")
    if window is None:
        warn_once(_NO_WINDOW_ISTFT)
    raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                       "from stft with return_complex=True.")


@tensor_methods
class _StftMethods:
    """Tensor.stft and Tensor.istft."""

    def stft(self, n_fft, hop_length=None, win_length=None, window=None, center=True,
             pad_mode="reflect", normalized=False, onesided=None, return_complex=None,
             align_to_window=None):
        return stft(self, n_fft, hop_length, win_length, window, center, pad_mode, normalized,
                    onesided, return_complex, align_to_window)

    def istft(self, n_fft, hop_length=None, win_length=None, window=None, center=True,
              normalized=False, onesided=None, length=None, return_complex=False):
        return istft(self, n_fft, hop_length, win_length, window, center, normalized,
                     onesided, length, return_complex)
