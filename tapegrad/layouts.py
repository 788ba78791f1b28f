"""Tensor layout options as torch names them: `layout` (tapegrad's tensors are all
`strided`) and `memory_format` (`contiguous_format`, `preserve_format`, `channels_last`,
`channels_last_3d`), with torch's checks of a `layout=` / `memory_format=` argument.

tapegrad lays tensors out in C order whatever format is asked: values and gradients are
torch's, and `is_contiguous(memory_format=...)` answers for the layout the tensor has (so a
tensor made with `channels_last` is not channels-last contiguous here, as it is in torch)."""

__all__ = ["layout", "strided", "memory_format", "contiguous_format", "preserve_format",
           "channels_last", "channels_last_3d", "check", "channels", "channels_last_contiguous"]


class _Named:
    """A constant of the tapegrad namespace: shown and pickled by its name there."""
    __module__ = "tapegrad"

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"tapegrad.{self._name}"

    def __reduce__(self):
        return self._name


class layout(_Named):
    """A memory layout, as `torch.layout`: tapegrad's tensors are all `strided`."""
    __module__ = "tapegrad"


class memory_format(_Named):
    """A memory format, as `torch.memory_format` (see the module doc for what it changes)."""
    __module__ = "tapegrad"


strided = layout("strided")
contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
# the rank each channels-last format needs, and its dims from the innermost out
_RANK = {channels_last: 4, channels_last_3d: 5}
_ORDER = {channels_last: (1, 3, 2, 0), channels_last_3d: (1, 4, 3, 2, 0)}


def check(fn, ndim, layout_arg=None, format_arg=None):
    """Raise torch's error for the `layout=` / `memory_format=` arguments of `fn` on a tensor
    of `ndim` dimensions (None: the rank is not checked); an argument None was not given."""
    if layout_arg is not None and not isinstance(layout_arg, layout):
        raise TypeError(f"{fn}(): argument 'layout' must be torch.layout, not "
                        f"{type(layout_arg).__name__}")
    if format_arg is None:
        return
    if not isinstance(format_arg, memory_format):
        raise TypeError(f"{fn}(): argument 'memory_format' must be torch.memory_format, not "
                        f"{type(format_arg).__name__}")
    rank = _RANK.get(format_arg)
    if rank is not None and ndim is not None and ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {format_arg._name} format")


def channels_last_contiguous(shape, strides, format_arg):
    """torch's is_contiguous(memory_format=channels_last / channels_last_3d) for a tensor of
    `shape` with element `strides` (dims of size 1 never break it)."""
    order = _ORDER[format_arg]
    if len(shape) != len(order):
        return False
    expected = 1
    for d in order:
        if shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= shape[d]
    return True


def channels(format_arg):
    """Whether `format_arg` is one of the channels-last formats."""
    return format_arg in _ORDER
