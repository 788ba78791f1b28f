"""The `reduction` argument of the losses ('none' | 'mean' | 'sum') and torch's deprecated
size_average / reduce pair that stands for it: torch.nn._reduction's rules, below every module
that defines a loss."""
import warnings

REDUCTIONS = ("none", "mean", "sum")


def reduction_of(reduction, size_average=None, reduce=None, stacklevel=4):
    """The reduction a loss applies: `reduction`, or the one the legacy pair names (with
    torch's deprecation warning; the deprecated 'elementwise_mean' is 'mean', with its
    warning); ValueError for an unknown name."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, stacklevel + 1)
    elif reduction == "elementwise_mean":   # (torch's losses read it with get_enum)
        return REDUCTIONS[get_enum(reduction)]
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def legacy_reduction(size_average, reduce, stacklevel=3):
    """torch's reading of size_average / reduce: None counts as True; reduce=False is 'none'
    whatever size_average says.  Warns as torch does wherever the pair is given (a loss
    module's constructor included)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "none" if not reduce else "mean" if size_average else "sum"
    warnings.warn("size_average and reduce args will be deprecated, please use "
                  "reduction='{}' instead.".format(reduction), stacklevel=stacklevel)
    return reduction


# ---- torch.nn._reduction's public helpers (custom losses call them) --------------------------
def get_enum(reduction):
    """ATen's Reduction enum of a reduction name: 0 'none', 1 'mean', 2 'sum' (the deprecated
    'elementwise_mean' is 'mean', with torch's warning)."""
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                      "instead.", stacklevel=2)
        return 1
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return REDUCTIONS.index(reduction)


def legacy_get_string(size_average, reduce, emit_warning=True):
    """The reduction name the legacy size_average / reduce pair stands for (None counts as
    True), with torch's deprecation warning unless emit_warning is False."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    if emit_warning:
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", stacklevel=2)
    return ret


def legacy_get_enum(size_average, reduce, emit_warning=True):
    """get_enum of legacy_get_string's name."""
    return get_enum(legacy_get_string(size_average, reduce, emit_warning))
