"""torch.__future__: switches for how nn.Module's conversions (`.to()`, `.double()`,
`_apply`) treat parameters.  By default a conversion changes each parameter in place
(`param.data = new`: the Parameter objects, and so an optimizer's references, stay);
`set_overwrite_module_params_on_conversion(True)` puts new Parameter objects in the modules
instead; `set_swap_module_params_on_conversion(True)` keeps the objects (torch swaps their
contents; here the in-place change does the same) and takes precedence over overwriting."""

_overwrite_module_params_on_conversion = False
_swap_module_params_on_conversion = False

__all__ = ["set_overwrite_module_params_on_conversion",
           "get_overwrite_module_params_on_conversion",
           "set_swap_module_params_on_conversion", "get_swap_module_params_on_conversion"]


def set_overwrite_module_params_on_conversion(value):
    """Whether Module conversions give new Parameter objects (True) or change them in place."""
    global _overwrite_module_params_on_conversion
    _overwrite_module_params_on_conversion = value


def get_overwrite_module_params_on_conversion():
    """Whether Module conversions give new Parameter objects (default False)."""
    return _overwrite_module_params_on_conversion


def set_swap_module_params_on_conversion(value):
    """Whether Module conversions keep the Parameter objects by swapping their contents."""
    global _swap_module_params_on_conversion
    _swap_module_params_on_conversion = value


def get_swap_module_params_on_conversion():
    """Whether Module conversions swap parameters' contents (default False)."""
    return _swap_module_params_on_conversion
