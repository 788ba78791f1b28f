"""`tapegrad.func.rearrange`: torch.func.rearrange, einops' `rearrange` (reorder, split,
merge, insert and drop axes by a pattern such as "b (h w) c -> b c h w").

torch parses the pattern with einops' parser (functorch.einops._parsing: the same checks and
messages here) and runs it on first-class dims.  Here it is the ops those dims amount to: a
reshape into the left side's elementary axes, a permute into the right side's order, a sum
over the left side's unit axes ("1": an axis of whatever size, summed out, as torch's) and a
reshape into the right side's groups, so results are views where torch's are and gradients
are those of reshape/permute/sum.  A size that cannot be bound raises `DimensionBindError`
with torch's message (dims named d0, d1, ... in the left side's order, as torch's)."""
import keyword
import math
import warnings

from .tensor import Tensor
from .views import stack

__all__ = ["rearrange", "DimensionBindError"]

_ELLIPSIS = "\u2026"   # (one character standing for "...", as einops' parser)


class DimensionBindError(Exception):
    """A size in a rearrange pattern does not fit the tensor (functorch.dim's error)."""


class _Anonymous:
    """An unnamed axis ("1" on the left side): never equal to another, as einops' parser."""


class _Expression:
    """One side of a pattern: `composition` is a list of groups (a list of axis names, [] for
    a unit axis) and the ellipsis; `identifiers` the names (and the ellipsis)."""

    def __init__(self, expression):
        self.has_ellipsis = False
        self.ellipsis_parenthesized = None
        self.identifiers = set()
        self.non_unitary_anonymous = False
        self.composition = []
        if "." in expression:
            if "..." not in expression:
                raise ValueError("Expression may contain dots only inside ellipsis (...)")
            if expression.count("...") != 1 or expression.count(".") != 3:
                raise ValueError("Expression may contain dots only inside ellipsis (...); only "
                                 "one ellipsis for tensor ")
            expression = expression.replace("...", _ELLIPSIS)
            self.has_ellipsis = True
        group = None

        def add(name):
            if name in self.identifiers:
                raise ValueError(f"Indexing expression contains duplicate dimension '{name}'")
            if name == _ELLIPSIS:
                self.identifiers.add(name)
                if group is None:
                    self.composition.append(name)
                    self.ellipsis_parenthesized = False
                else:
                    group.append(name)
                    self.ellipsis_parenthesized = True
                return
            number = name.isdecimal()
            if number and int(name) == 1:
                if group is None:   # (a unit axis inside brackets changes nothing)
                    self.composition.append([])
                return
            valid, reason = _check_axis_name(name)
            if not (number or valid):
                raise ValueError(f"Invalid axis identifier: {name}\n{reason}")
            if number:
                if int(name) < 1:
                    raise ValueError(f"Anonymous axis should have positive length, not "
                                     f"{int(name)}")
                self.non_unitary_anonymous = True
                name = _Anonymous()
            self.identifiers.add(name)
            if group is None:
                self.composition.append([name])
            else:
                group.append(name)

        current = None
        for char in expression:
            if char in "() ":
                if current is not None:
                    add(current)
                current = None
                if char == "(":
                    if group is not None:
                        raise ValueError("Axis composition is one-level (brackets inside "
                                         "brackets not allowed)")
                    group = []
                elif char == ")":
                    if group is None:
                        raise ValueError("Brackets are not balanced")
                    self.composition.append(group)
                    group = None
            elif char.isalnum() or char in ("_", _ELLIPSIS):
                current = char if current is None else current + char
            else:
                raise ValueError(f"Unknown character '{char}'")
        if group is not None:
            raise ValueError(f"Imbalanced parentheses in expression: '{expression}'")
        if current is not None:
            add(current)


def _check_axis_name(name):
    """(valid, why not): a Python identifier, not a keyword's warning, no leading or trailing
    underscore (einops' rule)."""
    if not name.isidentifier():
        return False, "not a valid python identifier"
    if name[0] == "_" or name[-1] == "_":
        return False, "axis name should should not start or end with underscore"
    if keyword.iskeyword(name):
        warnings.warn(f"It is discouraged to use axes names that are keywords: {name}",
                      RuntimeWarning, stacklevel=5)
    if name == "axis":
        warnings.warn("It is discouraged to use 'axis' as an axis name and will raise an error "
                      "in future", FutureWarning, stacklevel=5)
    return True, ""


def _parse(pattern, axes_lengths):
    try:
        left_str, right_str = pattern.split("->")
    except ValueError:
        raise ValueError("Pattern must contain a single '->' separator") from None
    if _ELLIPSIS in axes_lengths:
        raise ValueError(f"'{_ELLIPSIS}' is not an allowed axis identifier")
    left, right = _Expression(left_str), _Expression(right_str)
    if not left.has_ellipsis and right.has_ellipsis:
        raise ValueError(f"Ellipsis found in right side, but not left side of a pattern "
                         f"{pattern}")
    if left.has_ellipsis and left.ellipsis_parenthesized:
        raise ValueError(f"Ellipsis is parenthesis in the left side is not allowed: {pattern}")
    for length in axes_lengths.values():
        if type(length) is not int:
            raise TypeError(f"rearrange axis lengths must be integers, got: {type(length)}")
    if left.non_unitary_anonymous or right.non_unitary_anonymous:
        raise ValueError("rearrange only supports unnamed axes of size 1")
    difference = left.identifiers ^ right.identifiers
    if difference:
        raise ValueError(f"Identifiers only on one side of rearrange expression (should be on "
                         f"both): {difference}")
    unmatched = axes_lengths.keys() - left.identifiers
    if unmatched:
        raise ValueError(f"Identifiers not found in rearrange expression: {unmatched}")
    return left, right


def _bind(size, axes, names, lengths):
    """The sizes of the elementary axes `axes` (their dim names `names`) that make up a
    dimension of `size`: given ones from `lengths`, at most one inferred."""
    known = [lengths.get(a) if isinstance(a, str) else None for a in axes]
    unknown = [k for k, s in enumerate(known) if s is None]
    if len(unknown) > 1:
        raise DimensionBindError(f"cannot infer the sizes of two dimensions at once "
                                 f"{names[unknown[0]]} and {names[unknown[1]]}")
    product = math.prod(s for s in known if s is not None)
    if unknown:
        if size % product != 0:
            shown = tuple("?" if s is None else s for s in known)
            raise DimensionBindError(f"inferred dimension does not evenly fit into larger "
                                     f"dimension: {size} vs {shown}")
        known[unknown[0]] = size // product
    elif product != size:
        pack = ", ".join(names) + ("," if len(names) == 1 else "")
        raise DimensionBindError(f"Dimension sizes to do not match ({size} != {product}) when "
                                 f"matching dimension pack ({pack})")
    return known


def rearrange(tensor, pattern, **axes_lengths):
    """`tensor` (or a sequence of tensors, stacked first) rearranged by the einops `pattern`,
    with `axes_lengths` giving the sizes of axes split out of one dimension."""
    if not isinstance(tensor, Tensor):
        tensor = stack(tensor)
    left, right = _parse(pattern, axes_lengths)
    ndim = tensor.dim()
    anonymous = sum(not g for g in left.composition)
    if left.has_ellipsis:
        n_ellipsis = ndim - (len(left.composition) - 1)
        pattern_ndim = anonymous + len(left.identifiers) - 1
        if pattern_ndim > ndim:
            raise ValueError(f"Number of dimensions in pattern ({pattern_ndim}) must be less "
                             f"than or equal to the number of dimensions in the tensor ({ndim})")
    else:
        n_ellipsis = 0
        if len(left.composition) != ndim:
            raise ValueError(f"Number of dimensions in pattern ({len(left.composition)}) must "
                             f"be equal to the number of dimensions in the tensor ({ndim})")
    if anonymous + n_ellipsis + len(left.identifiers) - left.has_ellipsis == 0:
        return tensor   # (no dims at all: torch's identity, the tensor itself)
    # the left side's elementary axes, in order: (key, size); a unit axis takes its dim's size
    # and is summed out; the ellipsis stands for its dims one by one
    elementary, unit, dim = [], [], 0
    for group in left.composition:
        if group == _ELLIPSIS:
            for k in range(n_ellipsis):
                elementary.append(((_ELLIPSIS, k), tensor.shape[dim]))
                dim += 1
            continue
        if not group:
            key = _Anonymous()
            unit.append(len(elementary))
            elementary.append((key, tensor.shape[dim]))
        else:
            names = [f"d{len(elementary) + k}" for k in range(len(group))]
            sizes = _bind(tensor.shape[dim], group, names, axes_lengths)
            elementary.extend(zip(group, sizes))
        dim += 1
    position = {key: k for k, (key, _) in enumerate(elementary)}
    order, shape = [], []
    for group in right.composition:
        if group == _ELLIPSIS:
            keys = [[(_ELLIPSIS, k)] for k in range(n_ellipsis)]
        else:
            keys = [[(_ELLIPSIS, k) for k in range(n_ellipsis)] if a == _ELLIPSIS else [a]
                    for a in group]
            keys = [[k for part in keys for k in part]]
        for part in keys:
            order.extend(position[k] for k in part)
            shape.append(math.prod(elementary[position[k]][1] for k in part))
    out = tensor.reshape([size for _, size in elementary])
    out = out.permute(order + unit)
    if unit:
        out = out.sum(list(range(len(order), len(order) + len(unit))))
    # (a permutation alone stays the permuted view, as torch's)
    return out if list(out.shape) == shape else out.reshape(shape)
