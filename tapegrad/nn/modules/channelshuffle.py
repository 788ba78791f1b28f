"""`torch.nn.modules.channelshuffle`'s names, for the programs that import them from there;
the class lives in pixelshuffle.py."""
from .pixelshuffle import ChannelShuffle

__all__ = ["ChannelShuffle"]

# (torch's home of the classes: type(m) and pickles name this module, as torch's do)
for _cls in (ChannelShuffle,):
    _cls.__module__ = __name__
