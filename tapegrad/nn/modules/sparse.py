"""`torch.nn.modules.sparse`'s names, for the programs that import them from there; the
classes live in layers.py."""
from .layers import Embedding, EmbeddingBag  # noqa: F401

__all__ = ["Embedding", "EmbeddingBag"]
