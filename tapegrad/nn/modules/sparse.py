"""`torch.nn.modules.sparse`'s names, for the programs that import them from there; the
classes live in layers.py."""
from .layers import Embedding, EmbeddingBag  # noqa: F401

__all__ = ["Embedding", "EmbeddingBag"]

# (torch's home of the classes: type(m) and pickles name this module, as torch's do)
for _cls in (Embedding, EmbeddingBag):
    _cls.__module__ = __name__
