"""What `tapegrad.compile(module)` returns: torch's `OptimizedModule`, the module wrapped as
torch.compile wraps it.  The original is the child `_orig_mod` (so parameters and state_dict
keys read `_orig_mod.weight`, as torch's do), other attributes are read from and written to
it, and `training` is its flag.  A call runs the original module as it is: tapegrad runs
modules eagerly (a training step is compiled by `tapegrad.compile` of the step function)."""
from .module import Module


class OptimizedModule(Module):
    """`module` as `tapegrad.compile` (torch.compile) returns it: calls go to
    `self._orig_mod`, with its hooks; everything but these few attributes is the original's."""
    _opt_mod_attributes = frozenset({"_orig_mod", "forward", "__dict__", "_super_module_initialized"})

    def __init__(self, mod):
        # first: reads and writes of other attributes go to _orig_mod, during __init__ too
        object.__setattr__(self, "_orig_mod", mod)
        self._super_module_initialized = False
        super().__init__()
        self._super_module_initialized = True
        self._orig_mod = mod     # (now registered as the child module)

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __len__(self):
        mod = self._orig_mod
        if hasattr(type(mod), "__len__"):
            return len(mod)
        raise TypeError(f"{type(mod).__name__} does not support len()")

    def __reduce__(self):
        return (type(self), (self._orig_mod,))

    @property
    def training(self):
        return self._orig_mod.training

    @training.setter
    def training(self, value):
        if self.__dict__.get("_super_module_initialized"):
            self._orig_mod.training = value

    def __getattr__(self, name):
        if name == "_orig_mod":
            return self.__dict__["_modules"]["_orig_mod"]
        return getattr(self._orig_mod, name)

    def __setattr__(self, name, value):
        if hasattr(type(self), name) or name in OptimizedModule._opt_mod_attributes:
            return super().__setattr__(name, value)
        return setattr(self._orig_mod, name, value)

    def __delattr__(self, name):
        if hasattr(type(self), name) or name in OptimizedModule._opt_mod_attributes:
            return super().__delattr__(name)
        return delattr(self._orig_mod, name)
