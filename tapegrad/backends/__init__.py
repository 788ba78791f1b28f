"""`tapegrad.backends`: the feature queries programs make (`backends.mps.is_available()`,
`backends.cudnn.enabled`, `import torch.backends.cudnn as cudnn`, ...): tapegrad has none
of these backends, so every `is_available()` / `is_built()` is False.  Flags that programs set
(`cudnn.benchmark = True`, `deterministic`) are plain module attributes: setting them changes
nothing, as on torch's CPU build.  One module per backend, as torch's package."""
from . import cuda, cudnn, mha, mkldnn, mps, openmp  # noqa: F401
