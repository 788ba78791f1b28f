"""`tapegrad.backends.cuda`: not available (tapegrad runs on the CPU alone).  `matmul` holds
torch's flags for CUDA matrix products, which scripts set whatever the device
(`torch.backends.cuda.matmul.allow_tf32 = True`): kept, and read by nothing here."""
from ._absent import is_available, is_built  # noqa: F401


class _MatmulFlags:
    """torch.backends.cuda.matmul: its flags with torch's defaults."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()
