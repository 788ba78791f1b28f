"""torch's module-level forms of Tensor's in-place methods (`torch.sin_(x)`,
`torch.clamp_(x, 0, 1)`, `torch.zero_(x)`, ...): each calls the tensor's method, so it records
and checks exactly as `x.sin_()` does."""
from . import errors
from .tensor import Tensor

NAMES = ("abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
         "arctanh_", "as_strided_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_",
         "clamp_max_", "clamp_min_", "clip_", "conj_physical_", "cos_", "cosh_", "deg2rad_",
         "detach_", "erf_", "erfc_",
         "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_", "gcd_", "i0_", "lcm_",
         "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_",
         "rad2deg_", "reciprocal_", "resize_as_", "round_", "rsqrt_", "sigmoid_", "sin_",
         "sinc_", "sinh_",
         "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_")

__all__ = list(NAMES)


def _form(name):
    def f(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{errors.type_name(input)}")
        return getattr(input, name)(*args, **kwargs)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"torch.{name}(input, ...): input.{name}(...)."
    return f


for _name in NAMES:
    globals()[_name] = _form(_name)
del _name
