"""tapegrad.fft: sample frequencies and shifts as torch's; the complex transforms raise."""
import numpy as np
import pytest

import tapegrad as tg

CASES = ["torch.fft.fftfreq(0)", "torch.fft.fftfreq(-1)", "torch.fft.fftfreq(3.5)",
         "torch.fft.fftfreq(True)", "torch.fft.fftfreq(4, dtype=torch.int64)",
         "torch.fft.fftfreq(4, d=0)", "torch.fft.fftfreq(4, d=-0.0)", "torch.fft.rfftfreq(1)",
         "torch.fft.fftfreq(5, 0.1)", "torch.fft.fftfreq(7, 0.3)", "torch.fft.rfftfreq(7, 0.3)",
         "torch.fft.rfftfreq(8, 0.3, dtype=torch.float64)",
         "torch.fft.fftfreq(9, 1 / 3., dtype=torch.float64)",
         "torch.fft.fftfreq(4, d=torch.tensor(0.5))", "torch.fft.fftfreq(n=3, d=2.0)",
         "torch.fft.fftfreq(3, dtype=torch.float32, device='cpu', requires_grad=True)",
         "torch.fft.fftshift(torch.tensor(3.))", "torch.fft.fftshift(torch.arange(5), dim=-1)",
         "torch.fft.fftshift(torch.arange(5), dim=1)", "torch.fft.ifftshift(torch.arange(5.))",
         "torch.fft.fftshift(torch.arange(6).reshape(2, 3), dim=(0, 1))",
         "torch.fft.fftshift(torch.arange(6).reshape(2, 3), dim=[1])",
         "torch.fft.ifftshift(torch.arange(6.).reshape(2, 3).requires_grad_())"]


def _outcome(mod, src):
    try:
        r = eval(src, {"torch": mod})
    except Exception as e:
        return type(e).__name__, str(e)
    return (repr(r.detach().numpy().tolist()), str(r.dtype).split(".")[-1], r.requires_grad,
            type(r.grad_fn).__name__ if r.grad_fn is not None else None)


@pytest.mark.parametrize("src", CASES)
def test_as_torch(src, torch_ref):
    assert _outcome(tg, src) == _outcome(torch_ref, src)


def test_shift_gradients_route_back():
    x = tg.arange(12., dtype=tg.float64).reshape(3, 4).requires_grad_()
    w = tg.tensor(np.random.default_rng(0).normal(size=(3, 4)))
    (tg.fft.ifftshift(tg.fft.fftshift(x) * w)).sum().backward()
    assert np.array_equal(x.grad.numpy(), tg.fft.ifftshift(w).numpy())
    assert np.array_equal(tg.fft.ifftshift(tg.fft.fftshift(x)).detach().numpy(), x.detach().numpy())


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "fft2", "rfftn", "hfft"])
def test_transforms_say_there_is_no_complex_dtype(name):
    with pytest.raises(NotImplementedError, match=f"no complex dtypes: torch.fft.{name} "):
        getattr(tg.fft, name)(tg.arange(4.).reshape(2, 2))


# calls torch refuses before any complex tensor is made: its errors, not the refusal
_BAD_CALLS = [
    "torch.fft.fft(torch.ones(2), n=0)", "torch.fft.fft(torch.ones(2), dim=3)",
    "torch.fft.fft(torch.ones(2), norm='bad')", "torch.fft.fft(torch.tensor(1.0))",
    "torch.fft.irfft(torch.ones(2), n=-1)", "torch.fft.irfft(torch.ones(1))",
    "torch.fft.hfft(torch.ones(1))", "torch.fft.fft2(torch.ones(2))",
    "torch.fft.fftn(torch.ones(2), s=(2, 2))", "torch.fft.rfftn(torch.ones(2), dim=(0, 0))",
    "torch.fft.fft2(torch.ones(2, 2), s=3)", "torch.fft.rfft2(torch.ones(2, 2), dim=())",
    "torch.fft.irfft2(torch.ones(0, 3), dim=(0,))", "torch.fft.ihfftn(torch.ones(2), dim=())",
    "torch.fft.irfftn(torch.ones(3, 1))", "torch.fft.fft('x')", "torch.fft.fft(torch.ones(2), 2.5)",
    "torch.fft.fft(torch.ones(2), n=2.5)", "torch.fft.fftn(torch.ones(2), dim=1.5)",
    "torch.fft.fft(torch.ones(2), bad=1)", "torch.fft.fft()",
    "torch.polar(torch.ones(2), torch.ones(2, dtype=torch.float64))",
    "torch.polar(torch.ones(2, dtype=torch.int64), torch.ones(2, dtype=torch.int64))",
    "torch.complex(torch.ones(2), torch.ones(3))",
    "torch.complex(torch.ones(2, dtype=torch.bool), torch.ones(2))"]


@pytest.mark.parametrize("src", _BAD_CALLS)
def test_refused_complex_calls_check_their_arguments_first(src, torch_ref):
    assert _outcome(tg, src) == _outcome(torch_ref, src)


@pytest.mark.parametrize("src", [
    "torch.fft.fftfreq(4, out=torch.empty(0, dtype=torch.float64))",
    "torch.fft.rfftfreq(6, 0.5, out=torch.empty(4))",
    "torch.fft.fftfreq(4, dtype=torch.float32, out=torch.empty(4, dtype=torch.float64))",
    "torch.fft.fftfreq(4, out=torch.empty(4, dtype=torch.int64))",
    "torch.fft.fftfreq(4, layout=torch.strided)", "torch.fft.fftfreq(4, layout=3)"])
def test_out_and_layout_as_torch(src, torch_ref):
    # out= and layout= were taken and ignored: the result was a new tensor, out unchanged
    assert _outcome(tg, src) == _outcome(torch_ref, src)
