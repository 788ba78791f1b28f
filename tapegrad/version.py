"""`tapegrad.version` (torch.version): this package's version, and the answers of a build with
no GPU toolkit (cuda, hip, rocm and xpu None), as torch's CPU build gives them."""
__all__ = ["__version__", "cuda", "hip", "rocm", "xpu", "debug"]

__version__ = "0.1.0"
cuda = None
hip = None
rocm = None
xpu = None
debug = False
