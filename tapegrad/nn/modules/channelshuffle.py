"""`torch.nn.modules.channelshuffle`'s names, for the programs that import them from there;
the class lives in pixelshuffle.py."""
from .pixelshuffle import ChannelShuffle

__all__ = ["ChannelShuffle"]
