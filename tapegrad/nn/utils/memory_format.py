"""torch.nn.utils.memory_format: convolution weights converted to a memory format, module by
module.  tapegrad keeps every tensor in row-major order (a memory format is a layout, not a
value: the weights' values, and the format argument's checks, are torch's)."""
from ..modules.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module, memory_format, kinds, recurse):
    if isinstance(module, kinds):
        weight_data = module.weight.detach().clone(memory_format=memory_format)
        module.weight.data = weight_data.resize_(weight_data.size(), memory_format=memory_format)
    for child in module.children():
        recurse(child, memory_format)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """The weights of `module`'s nn.Conv2d and nn.ConvTranspose2d (itself or inside) in
    `memory_format`; returns `module`."""
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d),
                    convert_conv2d_weight_memory_format)


def convert_conv3d_weight_memory_format(module, memory_format):
    """The weights of `module`'s nn.Conv3d and nn.ConvTranspose3d (itself or inside) in
    `memory_format`; returns `module`."""
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d),
                    convert_conv3d_weight_memory_format)
