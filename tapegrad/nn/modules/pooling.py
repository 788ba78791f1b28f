"""Pooling layers: `MaxPool1d`/`2d`/`3d`, `AvgPool1d`/`2d`/`3d`, `AdaptiveAvgPool1d`/`2d`/
`3d`, `AdaptiveMaxPool1d`/`2d`/`3d`, `LPPool1d`/`2d`/`3d`, `MaxUnpool1d`/`2d`/`3d`,
`FractionalMaxPool2d`/`3d`, with torch's attributes and reprs."""
from .. import functional as F
from .._tuples import ntuple as _ntuple
from .module import Module, _own_init


class _MaxPoolNd(Module):
    """Max pooling's attributes (stride defaults to kernel_size) and repr."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return ("kernel_size={kernel_size}, stride={stride}, padding={padding}"
                ", dilation={dilation}, ceil_mode={ceil_mode}".format(**self.__dict__))


class MaxPool1d(_MaxPoolNd):
    """The maximum of each window along L (F.max_pool1d); (output, indices) with
    return_indices."""

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """The maximum of each kH x kW window (F.max_pool2d); (output, indices) with
    return_indices."""

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool3d(_MaxPoolNd):
    """The maximum of each kD x kH x kW window (F.max_pool3d); (output, indices) with
    return_indices."""

    def forward(self, input):
        return F.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class _AvgPoolNd(Module):
    """Average pooling's repr."""

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """The mean of each window along L (F.avg_pool1d)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, 1)
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = _ntuple(padding, 1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class _AvgPoolOptions(_AvgPoolNd):
    """AvgPool2d's and AvgPool3d's attributes (stride defaults to kernel_size)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override


@_own_init
class AvgPool2d(_AvgPoolOptions):
    """The mean of each kH x kW window (F.avg_pool2d)."""

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


@_own_init
class AvgPool3d(_AvgPoolOptions):
    """The mean of each kD x kH x kW window (F.avg_pool3d)."""

    def forward(self, input):
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptiveAvgPoolNd(Module):
    """Adaptive average pooling's attribute (output_size) and repr."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """The means of output_size windows spread over L (F.adaptive_avg_pool1d)."""

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """The means of an output_size grid of windows (F.adaptive_avg_pool2d)."""

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """The means of an output_size grid of windows over (D, H, W) (F.adaptive_avg_pool3d)."""

    def forward(self, input):
        return F.adaptive_avg_pool3d(input, self.output_size)


class _AdaptiveMaxPoolNd(Module):
    """Adaptive max pooling's attributes (output_size, return_indices) and repr."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """The maxima of output_size windows spread over L (F.adaptive_max_pool1d)."""

    def forward(self, input):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """The maxima of an output_size grid of windows (F.adaptive_max_pool2d)."""

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """The maxima of an output_size grid of windows over (D, H, W)
    (F.adaptive_max_pool3d)."""

    def forward(self, input):
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class _LPPoolNd(Module):
    """Power-average pooling's attributes (stride None: the kernel) and repr."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return ("norm_type={norm_type}, kernel_size={kernel_size}, stride={stride}, "
                "ceil_mode={ceil_mode}".format(**self.__dict__))


class LPPool1d(_LPPoolNd):
    """The norm_type-norm of each window along L (F.lp_pool1d)."""

    def forward(self, input):
        return F.lp_pool1d(input, float(self.norm_type), self.kernel_size, self.stride,
                           self.ceil_mode)


class LPPool2d(_LPPoolNd):
    """The norm_type-norm of each kH x kW window (F.lp_pool2d)."""

    def forward(self, input):
        return F.lp_pool2d(input, float(self.norm_type), self.kernel_size, self.stride,
                           self.ceil_mode)


class LPPool3d(_LPPoolNd):
    """The norm_type-norm of each kD x kH x kW window (F.lp_pool3d)."""

    def forward(self, input):
        return F.lp_pool3d(input, float(self.norm_type), self.kernel_size, self.stride,
                           self.ceil_mode)


class _MaxUnpoolNd(Module):
    """Max unpooling's attributes (tuples; stride defaults to kernel_size) and repr."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        k = self._dims
        self.kernel_size = _ntuple(kernel_size, k)
        self.stride = _ntuple(stride if (stride is not None) else kernel_size, k)
        self.padding = _ntuple(padding, k)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


@_own_init
class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of MaxPool1d: the input's elements at their indices along L, zeros
    elsewhere (F.max_unpool1d); output_size, if given, picks the output's length."""
    _dims = 1

    def forward(self, input, indices, output_size=None):
        return F.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


@_own_init
class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of MaxPool2d (F.max_unpool2d)."""
    _dims = 2

    def forward(self, input, indices, output_size=None):
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


@_own_init
class MaxUnpool3d(_MaxUnpoolNd):
    """The partial inverse of MaxPool3d (F.max_unpool3d)."""
    _dims = 3

    def forward(self, input, indices, output_size=None):
        return F.max_unpool3d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


class _FractionalMaxPoolNd(Module):
    """Fractional max pooling's attributes: kernel_size, output_size or output_ratio (each
    in (0, 1)), return_indices, and the `_random_samples` buffer (None: drawn per call)."""
    _k = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        k = self._k
        self.kernel_size = _ntuple(kernel_size, k)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = _ntuple(output_size, k) if output_size is not None else None
        self.output_ratio = _ntuple(output_ratio, k) if output_ratio is not None else None
        name = type(self).__name__
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling "
                             f"ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")


@_own_init
class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """The maxima of pseudo-randomly placed windows (F.fractional_max_pool2d)."""

    def forward(self, input):
        return F.fractional_max_pool2d(input, self.kernel_size, self.output_size,
                                       self.output_ratio, self.return_indices,
                                       _random_samples=self._random_samples)


@_own_init
class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """3-d fractional max pooling (F.fractional_max_pool3d)."""
    _k = 3

    def forward(self, input):
        return F.fractional_max_pool3d(input, self.kernel_size, self.output_size,
                                       self.output_ratio, self.return_indices,
                                       _random_samples=self._random_samples)
