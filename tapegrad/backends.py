"""`tapegrad.backends`: the feature queries programs make (`backends.mps.is_available()`,
`backends.cudnn.enabled`, ...): tapegrad has none of these backends, so every
`is_available()` / `is_built()` is False.  Flags that programs set (`cudnn.benchmark = True`,
`deterministic`) are plain attributes: setting them changes nothing, as on torch's CPU
build."""


class _Backend:
    """One backend's queries: `is_available()` and `is_built()` return `available`."""

    def __init__(self, name, available, **flags):
        self._name = name
        self._available = available
        self.__dict__.update(flags)

    def is_available(self):
        return self._available

    def is_built(self):
        return self._available

    def __repr__(self):
        return f"<module 'tapegrad.backends.{self._name}'>"


cuda = _Backend("cuda", False)
cudnn = _Backend("cudnn", False, enabled=True, benchmark=False, deterministic=False,
                 allow_tf32=True)
mps = _Backend("mps", False)
mkldnn = _Backend("mkldnn", False, enabled=True)
openmp = _Backend("openmp", False)
