"""add / sub / rsub with `alpha` (torch's `add(input, other, *, alpha=1)`).

`x.add(y, alpha=k)` is recorded as `x + y * k` (two entries: the gradient of y is k * g), and
the sum's entry shows torch's one node: AddBackward0 / SubBackward0 / RsubBackward0 whose
edges are x's and y's (not the product's); a Python-number `other` is an empty edge, as torch
wraps it in a tensor when alpha is given.  alpha == 1 takes the operators' own path."""
from .graph import show_edges
from .tensor import Tensor, tensor_methods


def _integral(v):
    if isinstance(v, Tensor):
        return not v._dtype.is_floating_point
    return isinstance(v, (bool, int))


def _check_alpha(x, other, alpha):
    if isinstance(alpha, bool):
        if not (getattr(x, "_dtype", None) is not None and x._dtype.name == "bool"
                and isinstance(other, (Tensor, bool))
                and (not isinstance(other, Tensor) or other._dtype.name == "bool")):
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
    elif isinstance(alpha, float) and _integral(x) and _integral(other):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    elif not isinstance(alpha, (int, float)):
        raise TypeError(f"add(): argument 'alpha' must be Number, not {type(alpha).__name__}")


def _shown(r, name, inputs):
    """r's entry shows as torch's node `name` with one edge per input."""
    if r._tape is not None and r._recorded:
        show_edges(r._tape, r._node, inputs, name)
    return r


def _with_alpha(x, other, alpha, name):
    _check_alpha(x, other, alpha)
    if x._dtype.name == "bool" and (isinstance(other, bool) or isinstance(other, Tensor)
                                    and other._dtype.name == "bool") and name == "AddBackward0":
        return (x.long() + other * int(alpha)) != 0     # bool results stay bool, as torch
    scaled = other * alpha
    if name == "RsubBackward0":     # rsub: other - alpha * x
        scaled = x * alpha
        if not isinstance(other, Tensor):
            return _shown(other - scaled, "RsubBackward1", (x,))
        return _shown(other - scaled, name, (x, other))
    r = x + scaled if name == "AddBackward0" else x - scaled
    return _shown(r, name, (x, other))


@tensor_methods
class _Methods:
    def add(self, other, *, alpha=1):
        """self + alpha * other (AddBackward0)."""
        if alpha == 1 and not isinstance(alpha, bool):
            return self.__add__(other)
        return _with_alpha(self, other, alpha, "AddBackward0")

    def sub(self, other, *, alpha=1):
        """self - alpha * other (SubBackward0)."""
        if alpha == 1 and not isinstance(alpha, bool):
            return self.__sub__(other)
        return _with_alpha(self, other, alpha, "SubBackward0")

    subtract = sub


def rsub(input, other, *, alpha=1):
    """other - alpha * input (RsubBackward0; RsubBackward1 for a number other)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if alpha == 1 and not isinstance(alpha, bool):
        if isinstance(other, Tensor):
            return _shown(other - input, "RsubBackward0", (input, other))
        return input.__rsub__(other)
    return _with_alpha(input, other, alpha, "RsubBackward0")
