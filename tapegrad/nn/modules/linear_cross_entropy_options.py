"""`nn.LinearCrossEntropyOptions`: torch 2.13's configuration of the chunked
`linear_cross_entropy`, with its checks and its resolution of the "auto" settings.  tapegrad
computes the reference composition whatever the options (the chunked op agrees with it to
round-off; docs/semantics.md, "Known differences")."""
import dataclasses

from ... import dtypes as D

__all__ = ["LinearCrossEntropyOptions"]

# torch's picks for ("auto"): per (device type, input dtype); none for float32/float64, whose
# pick is the fallback
_AUTO_DEFAULTS = {}
_AUTO_FALLBACK = ("compact", "aspect_ratio:2")
_POLICIES = ("auto", "accurate", "balanced", "compact")


@dataclasses.dataclass(slots=True, frozen=True)
class LinearCrossEntropyOptions:
    """Configuration for the chunked implementation of `linear_cross_entropy` (torch's
    fields, defaults and checks): `allow_retain_graph`, `batch_chunk_size`,
    `chunking_method` ("auto", "aspect_ratio", "aspect_ratio:N" or None), `acc_policy`
    ("auto", "accurate", "balanced", "compact") and `acc_dtype`.  tapegrad computes the
    reference composition with any of them."""

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: D.dtype | None = None

    def __post_init__(self):
        if self.acc_policy not in _POLICIES:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, sep, factor = self.chunking_method.partition(":")
            if not sep:
                factor = "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        if not (self.batch_chunk_size is None or (isinstance(self.batch_chunk_size, int)
                                                  and self.batch_chunk_size > 0)):
            raise ValueError(f"batch_chunk_size must be positive int or None, got "
                             f"{self.batch_chunk_size!r}")
        if self.acc_dtype is not None and self.acc_dtype not in (D.float32, D.float64):
            raise ValueError(
                f"acc_dtype must be one of {{None, torch.float16, torch.bfloat16, "
                f"torch.float32, torch.float64}}, got {self.acc_dtype!r}. Pass "
                "acc_dtype=None to let the op pick automatically.")

    @staticmethod
    def _ceil_div(a, b):
        return -(-a // b)

    def _compute_batch_chunk_size(self, num_batches, in_features, num_classes, method=None):
        """torch's chunk size of `chunking_method` ("aspect_ratio[:N]")."""
        method = str(method if method is not None else self.chunking_method)
        if method.startswith("aspect_ratio"):
            factor = int(method.split(":", 1)[1]) if ":" in method else 1
            inc_factor = self._ceil_div(num_classes, in_features)
            target = self._ceil_div(num_batches, inc_factor)
            chunk_size = 1 << (target - 1).bit_length()
            return min(chunk_size // factor, num_batches)
        raise AssertionError(f"unhandled chunking_method: {method!r}")

    def _adjust(self, num_batches, in_features, num_classes, dtype, device=None):
        """The options resolved for one call, as torch's (its ValueError when
        `batch_chunk_size` and `chunking_method` disagree)."""
        acc_policy, chunking_method = self.acc_policy, self.chunking_method
        if chunking_method == "auto" and self.batch_chunk_size is not None:
            chunking_method = None
        if acc_policy == "auto" or chunking_method == "auto":
            ap, cm = _AUTO_DEFAULTS.get((getattr(device, "type", None), dtype), _AUTO_FALLBACK)
            if acc_policy == "auto":
                acc_policy = ap
            if chunking_method == "auto":
                chunking_method = cm
        batch_chunk_size = (num_batches if self.batch_chunk_size is None
                            else min(self.batch_chunk_size, num_batches))
        if chunking_method is not None:
            batch_chunk_size = self._compute_batch_chunk_size(num_batches, in_features,
                                                              num_classes, chunking_method)
            if self.batch_chunk_size is not None and self.batch_chunk_size != batch_chunk_size:
                raise ValueError(
                    f"batch_chunk_size (={self.batch_chunk_size}) and chunking_method "
                    f"('{chunking_method}') give different chunk sizes "
                    f"({self.batch_chunk_size} vs {batch_chunk_size}); pass only one.")
        acc_dtype = dtype if self.acc_dtype is None else self.acc_dtype
        return dataclasses.replace(self, acc_policy=acc_policy, chunking_method=chunking_method,
                                   batch_chunk_size=max(1, batch_chunk_size),
                                   acc_dtype=acc_dtype)
