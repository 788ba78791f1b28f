"""`Identity`, `Linear`, `NonDynamicallyQuantizableLinear`, `Bilinear` with torch's default
initialization."""
import math

from ... import devices as _device, dtypes as D
from ...creation import empty
from .. import _onepass, functional as F, init
from ..parameter import Parameter
from .module import Module


def _empty(shape, dtype, device):
    _device.check(device)
    return empty(shape, dtype=dtype or D.get_default_dtype())


class Identity(Module):
    """Returns its input."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features) from
    kaiming_uniform_(a=sqrt(5)), bias from U(-1/sqrt(in), 1/sqrt(in)), as torch."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in_features), dtype, device))
        if bias:
            self.bias = Parameter(_empty((out_features,), dtype, device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        # self.weight / self.bias reach the registered parameters through Module.__getattr__,
        # after a failed ordinary lookup (~0.7 us each); read the table directly when nothing
        # else could answer first: a plain Linear with no instance attribute of those names
        d = self.__dict__
        params = d["_parameters"]
        if (type(self) is Linear and "weight" in params and "bias" in params
                and "weight" not in d and "bias" not in d):
            weight, bias = params["weight"], params["bias"]
            if bias is not None:   # F.linear's first step, one call less
                out = _onepass.linear(input, weight, bias)
                if out is not None:
                    return out
            return F.linear(input, weight, bias)
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under another name: MultiheadAttention's out_proj, as torch (there the
    name keeps dynamic quantization away from it)."""


class Bilinear(Module):
    """y = x1 @ weight[k] @ x2 + bias[k]; weight and bias from U(-1/sqrt(in1), 1/sqrt(in1))."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in1_features, in2_features), dtype,
                                       device))
        if bias:
            self.bias = Parameter(_empty((out_features,), dtype, device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got "
                             f"(in1_features={self.in1_features})")
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
