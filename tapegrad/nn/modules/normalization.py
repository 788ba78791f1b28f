"""Batch, instance and group normalization modules: BatchNorm1d/2d/3d (running statistics as
torch's buffers: running_mean, running_var, num_batches_tracked), SyncBatchNorm (one
process's batch: tapegrad has no process groups), InstanceNorm1d/2d/3d, GroupNorm, RMSNorm
LocalResponseNorm and the legacy CrossMapLRN2d."""
import warnings
from contextlib import nullcontext

import numpy as np

from ... import devices as _device, dtypes as D
from ..._signals import COMMIT
from ...creation import empty, ones, tensor, zeros
from ...grad_mode import switched_grad, TRANSFORMS
from ...pyfunc import Function
from ...tracing import refuse_state_update
from .. import functional as F, init
from ..parameter import Parameter
from .layers import LayerNorm  # noqa: F401  (torch.nn.modules.normalization's name)
from .module import Module, _own_init


def _affine(module, n, affine, bias, dt):
    if affine:
        module.weight = Parameter(empty(n, dtype=dt))
        if bias:
            module.bias = Parameter(empty(n, dtype=dt))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


class _NormBase(Module):
    """What the batch and instance norms share, as torch's _NormBase: num_features, the
    affine parameters, the running statistics (buffers) and their reset, old state dicts,
    the input's dim check and the repr."""
    _dims = ()
    _version = 2    # (version 2 added num_batches_tracked)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        _device.check(device)
        dt = dtype or D.get_default_dtype()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine(self, num_features, affine, bias, dt)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dt))
            self.register_buffer("running_var", ones(num_features, dtype=dt))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=D.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        """running_mean 0, running_var 1, num_batches_tracked 0."""
        if self.track_running_stats:
            with switched_grad(False):
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # a state dict older than version 2 (or without metadata: a plain dict) may lack
        # num_batches_tracked: torch keeps the module's own then (0 if it has none)
        version = local_metadata.get("version", None)
        if (version is None or version < 2) and self.track_running_stats:
            key = prefix + "num_batches_tracked"
            if key not in state_dict:
                state_dict[key] = (self.num_batches_tracked if self.num_batches_tracked is
                                   not None else tensor(0, dtype=D.int64))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    def _check_input_dim(self, input):
        if input.dim() not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"expected {want} input (got {input.dim()}D input)")

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


@_own_init
class _BatchNorm(_NormBase):
    """F.batch_norm over every dim but the channels: batch statistics while training (and
    the running ones updated), the running statistics in eval mode."""

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        count = self.training and self.track_running_stats and \
            self.num_batches_tracked is not None
        if count:
            refuse_state_update(f"{type(self).__name__} in training mode (num_batches_tracked "
                                f"and the running statistics)")
            if TRANSFORMS.levels:   # (torch's add_ of a captured count under grad & co.)
                F._stats_under_transforms((self.num_batches_tracked,), ("grad",))
            if self.momentum is None:       # the cumulative moving average
                factor = 1.0 / (float(self.num_batches_tracked) + 1)
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        # (torch counts before the call: a call that fails changes nothing here; a Ctrl-C
        # never updates the statistics without the count)
        with COMMIT if count else nullcontext():
            out = F.batch_norm(input, self.running_mean if keep else None,
                               self.running_var if keep else None, self.weight, self.bias,
                               bn_training, factor, self.eps)
            if count:
                with switched_grad(False):
                    self.num_batches_tracked.add_(1)
        return out


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs."""
    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) inputs."""
    _dims = (5,)


class SyncBatchNorm(_BatchNorm):
    """Batch normalization of (N, C, *) inputs whose statistics a distributed run would share
    across processes.  tapegrad has no process groups (`distributed.is_available()` is
    False), so it normalizes with this process's batch, as torch's module does when
    torch.distributed is not initialized."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None, *,
                 bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        if input.size(1) == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        return super().forward(input)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """`module` with every batch norm layer in it replaced by a SyncBatchNorm holding the
        same parameters and buffers (the tensors themselves) and training flag."""
        out = module
        if isinstance(module, _BatchNorm):
            out = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats, process_group,
                                bias=module.bias is not None)
            if module.affine:
                with switched_grad(False):
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


class GroupNorm(Module):
    """F.group_norm: channels in num_groups groups, each normalized, then a per-channel
    affine map (weight ones, bias zeros)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        _device.check(device)
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine(self, num_channels, affine, bias, dtype or D.get_default_dtype())
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalization over the last dims (normalized_shape), then an
    elementwise scale (weight ones); eps=None is torch.finfo(input.dtype).eps, as torch."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        _device.check(device)
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(self.normalized_shape,
                                          dtype=dtype or D.get_default_dtype()))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Sets the weight to ones."""
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _InstanceNorm(_NormBase):
    """F.instance_norm: each channel of each sample normalized over its positions; the
    running statistics (track_running_stats) used in eval mode.  affine and
    track_running_stats are off by default, as torch's."""
    _no_batch = 0

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # version 1 (torch 0.4) dropped the running statistics of instance norms that do not
        # track them: a state dict without metadata that has them gets torch's explanation
        version = local_metadata.get("version", None)
        if version is None and not self.track_running_stats:
            keys = [prefix + n for n in ("running_mean", "running_var")
                    if prefix + n in state_dict]
            if keys:
                klass = type(self).__name__
                names = " and ".join(f'"{k}"' for k in keys)
                error_msgs.append(
                    f"Unexpected running stats buffer(s) {names} for {klass} with "
                    f"track_running_stats=False. If state_dict is a checkpoint saved before 0.4.0, this may be expected because {klass} "
                    f"does not track running stats by default since 0.4.0. Please remove "
                    f"these keys from state_dict. If the running stats are actually needed, "
                    f"instead set track_running_stats=True in {klass} to enable them. See "
                    f"the documentation of {klass} for details.")
                for k in keys:
                    state_dict.pop(k)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    def _apply_instance_norm(self, input):
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                               self.bias, self.training or not self.track_running_stats,
                               self.momentum if self.momentum is not None else 0.0, self.eps)

    def forward(self, input):
        self._check_input_dim(input)
        feature_dim = input.dim() - self._no_batch
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{input.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. "
                          "You can silence this warning by not passing in num_features, "
                          "which is not used because affine=False", stacklevel=2)
        if input.dim() == self._no_batch:
            return self._apply_instance_norm(input.unsqueeze(0)).squeeze(0)
        return self._apply_instance_norm(input)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or (C, L) inputs."""
    _dims = (2, 3)
    _no_batch = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or (C, H, W) inputs."""
    _dims = (3, 4)
    _no_batch = 3


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) or (C, D, H, W) inputs."""
    _dims = (4, 5)
    _no_batch = 4


class LocalResponseNorm(Module):
    """Each channel divided by (k + alpha * mean of the squares of `size` neighbouring
    channels)^beta (F.local_response_norm)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)


class CrossMapLRN2d(Function):  # noqa: F811 (the Module below takes the name, as torch's)
    """torch's legacy CrossMapLRN2d autograd Function (torch/nn/modules/_functions.py): its
    forward (a running window sum of squares over channels, which never drops channel 0) and
    its hand-written backward, which is not the derivative of that forward (torch's own
    gradcheck fails on it: docs/semantics.md), both reproduced on numpy arrays."""

    @staticmethod
    def forward(ctx, input, size, alpha=1e-4, beta=0.75, k=1):
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D "
                             f"instead.")
        x = input.detach().numpy()
        dt = x.dtype.type
        sq = x * x
        channels = x.shape[1]
        pre_pad = int((size - 1) / 2 + 1)
        scale = np.zeros_like(x)
        for c in range(min(pre_pad, channels)):
            scale[:, 0] += sq[:, c]
        for c in range(1, channels):
            scale[:, c] = scale[:, c - 1]
            if c < channels - pre_pad + 1:
                scale[:, c] += sq[:, c + pre_pad - 1]
            if c > pre_pad:
                scale[:, c] -= sq[:, c - pre_pad]
        scale = scale * dt(alpha / size) + dt(k)
        output = np.power(scale, dt(-beta)) * x
        ctx.size, ctx.alpha, ctx.beta, ctx.k, ctx.scale = size, alpha, beta, k, scale
        out = tensor(output, dtype=input.dtype)
        ctx.save_for_backward(input, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        input, output = ctx.saved_tensors
        x, y, g = input.detach().numpy(), output.detach().numpy(), grad_output.numpy()
        dt = x.dtype.type
        size, scale = ctx.size, ctx.scale
        channels = x.shape[1]
        padded = np.zeros((channels + size - 1,) + x.shape[2:], x.dtype)
        cache = dt(2 * ctx.alpha * ctx.beta / size)
        inverse_pre_pad = int(size - (size - 1) / 2)
        grad_input = np.power(scale, dt(-ctx.beta)) * g
        for n in range(x.shape[0]):
            padded[inverse_pre_pad:inverse_pre_pad + channels] = g[n] * y[n] / scale[n]
            accum = padded[:size - 1].sum(0)
            for c in range(channels):
                accum = accum + padded[c + size - 1]
                grad_input[n, c] += -cache * (x[n, c] * accum)
                accum = accum - padded[c]
        return tensor(grad_input, dtype=input.dtype), None, None, None, None


_cross_map_lrn2d = CrossMapLRN2d   # (torch's name for it; its grad_fn: CrossMapLRN2dBackward)


class CrossMapLRN2d(Module):  # noqa: F811
    """torch's legacy cross-channel local response normalization of 4-D input: each channel
    times (k + alpha / size * a window sum of squares over channels)^-beta, with torch's
    window (which, unlike LocalResponseNorm's, keeps channel 0 in every sum) and torch's
    backward (CrossMapLRN2dBackward)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return _cross_map_lrn2d.apply(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)


LayerNorm.__module__ = __name__   # (torch's home of it: type(m) and pickles name it)
