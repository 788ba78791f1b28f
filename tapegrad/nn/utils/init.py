"""`tapegrad.nn.utils.skip_init`: a module built without initializing its parameters."""
import inspect

from ... import creation as C
from ... import devices as _device
from ... import random as _random
from ...grad_mode import switched_grad
from ..modules.module import Module


def skip_init(module_cls, *args, **kwargs):
    """module_cls(*args, **kwargs) with its parameters and buffers left uninitialized (as
    torch.empty makes them).  The module must take a `device` argument.  As in torch (which
    builds it on the meta device), the default generator draws no numbers."""
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    _device.check(final_device)
    with _random.fork_rng():       # the initialization's draws leave no trace
        module = module_cls(*args, **kwargs)
    with switched_grad(False):
        for m in module.modules():
            for table in (m._parameters, m._buffers):
                for t in table.values():
                    if t is not None:
                        t.data = C.empty_like(t)
    return module
