"""`K`: the Numba kernels (`tapegrad._kernels`), imported on first use so that
`import tapegrad` stays free of numba (its import and first-compile setup cost ~0.4 s)."""


class _LazyKernels:
    def __getattr__(self, name):
        from . import _kernels
        value = getattr(_kernels, name)
        setattr(self, name, value)
        return value


K = _LazyKernels()
