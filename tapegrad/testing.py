"""torch.testing: `assert_close` (torch's comparison rules, default tolerances per dtype and
error messages), `make_tensor` (random test tensors, drawn from tapegrad's generator) and the
deprecated `assert_allclose`."""
import cmath
import collections.abc
import contextlib
import math
import warnings

import numpy as np

from . import dtypes as D
from .creation import as_tensor, empty
from .random import randint
from .tensor import Tensor

__all__ = ["assert_close", "make_tensor", "assert_allclose"]

# (rtol, atol) by dtype, torch's table; dtypes not listed (integers, bool) compare exactly
_DTYPE_PRECISIONS = {D.float32: (1.3e-6, 1e-5), D.float64: (1e-7, 1e-7)}
_NUMBER_DTYPES = {int: D.int64, float: D.float64}       # (complex: tapegrad has none)


class _Failure(Exception):
    """A failed comparison: the exception type to raise, its message, and where it happened
    in nested inputs (torch's ErrorMeta)."""

    def __init__(self, type, msg, id=()):  # noqa: A002
        super().__init__(msg)
        self.type, self.msg, self.id = type, msg, id

    def to_error(self, msg=None):
        if isinstance(msg, str):
            return self.type(msg)
        text = self.msg
        if self.id:
            text += "\n\nThe failure occurred for item " + "".join(str([i]) for i in self.id)
        return self.type(msg(text) if callable(msg) else text)


class _Unsupported(Exception):
    """This kind of pair cannot compare these inputs: try the next."""


def _tolerances(dtypes, rtol, atol, id):
    if (rtol is None) ^ (atol is None):
        raise _Failure(ValueError, "Both 'rtol' and 'atol' must be either specified or omitted, "
                                   f"but got no {'rtol' if rtol is None else 'atol'}.", id)
    if rtol is not None:
        return rtol, atol
    rtols, atols = zip(*[_DTYPE_PRECISIONS.get(d, (0.0, 0.0)) for d in dtypes])
    return max(rtols), max(atols)


def _mismatch_msg(identifier, default, extra, abs_diff, abs_idx, atol, rel_diff, rel_idx, rtol):
    """torch's "... are not close!" message."""
    equality = rtol == 0 and atol == 0

    def diff_msg(kind, diff, idx, tol):
        msg = (f"{kind.title()} difference: {diff}" if idx is None
               else f"Greatest {kind} difference: {diff} at index {idx}")
        return msg + ("" if equality else f" (up to {tol} allowed)") + "\n"

    if identifier is None:
        identifier = default
    elif callable(identifier):
        identifier = identifier(default)
    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += f"{extra.strip()}\n"
    msg += diff_msg("absolute", abs_diff, abs_idx, atol)
    msg += diff_msg("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _scalar_mismatch_msg(actual, expected, rtol, atol):
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg(None, "Scalars", f"Expected {expected} but got {actual}.", abs_diff,
                         None, atol, rel_diff, None, rtol)


# ---- the pairs: None, booleans, numbers, tensor-likes (torch's order) ------------------------
# Each takes a leaf pair of the inputs and returns its comparison (a function raising
# _Failure), or raises _Unsupported (not its kind of inputs) or _Failure (bad arguments).
def _none_pair(actual, expected, id, **_):
    if not (actual is None or expected is None):
        raise _Unsupported

    def compare():
        if not (actual is None and expected is None):
            raise _Failure(AssertionError, f"None mismatch: {actual} is not {expected}", id)
    return compare


def _bool_pair(actual, expected, id, **_):
    if not all(isinstance(x, (bool, np.bool_)) for x in (actual, expected)):
        raise _Unsupported
    a, e = bool(actual), bool(expected)

    def compare():
        if a is not e:
            raise _Failure(AssertionError, f"Booleans mismatch: {a} is not {e}", id)
    return compare


def _number_pair(actual, expected, id, rtol, atol, equal_nan, check_dtype, **_):
    if not all(isinstance(x, (int, float, complex, np.number)) for x in (actual, expected)):
        raise _Unsupported
    a, e = (x.item() if isinstance(x, np.number) else x for x in (actual, expected))
    if isinstance(a, complex) or isinstance(e, complex):
        raise NotImplementedError("assert_close: tapegrad has no complex dtype")
    if type(a) is bool or type(e) is bool:      # (torch fails the same way on bool vs number)
        raise RuntimeError(f"Originating a NumberPair() at item {''.join(str([i]) for i in id)}"
                           f" with\n\n{type(a).__name__}(): {a}\n\nand\n\n"
                           f"{type(e).__name__}(): {e}\n\nresulted in an unexpected exception: "
                           "a bool compared with a number.")
    rtol, atol = _tolerances([_NUMBER_DTYPES[type(a)], _NUMBER_DTYPES[type(e)]], rtol, atol, id)

    def compare():
        if check_dtype and type(a) is not type(e):
            raise _Failure(AssertionError,
                           f"The (d)types do not match: {type(a)} != {type(e)}.", id)
        if a == e or (equal_nan and cmath.isnan(a) and cmath.isnan(e)):
            return
        abs_diff = abs(a - e)
        if cmath.isfinite(abs_diff) and abs_diff <= atol + rtol * abs(e):
            return
        raise _Failure(AssertionError, _scalar_mismatch_msg(a, e, rtol, atol), id)
    return compare


def _to_tensor(x):
    if isinstance(x, Tensor):
        return x
    try:
        return as_tensor(x)
    except Exception:  # noqa: BLE001  (torch: a non-tensor-like is not this pair's)
        raise _Unsupported from None


def _tensor_pair(actual, expected, id, rtol, atol, equal_nan, check_dtype, check_stride,
                 allow_subclasses, **_):
    if not (isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
        raise _Unsupported
    if not allow_subclasses and type(actual) is not type(expected):
        raise _Unsupported
    a, e = _to_tensor(actual), _to_tensor(expected)
    rtol, atol = _tolerances([a.dtype, e.dtype], rtol, atol, id)

    def attr_mismatch(name, x, y):
        raise _Failure(AssertionError,
                       f"The values for attribute '{name}' do not match: {x} != {y}.", id)

    def compare():
        if a.shape != e.shape:
            attr_mismatch("shape", a.shape, e.shape)
        if check_stride and a.stride() != e.stride():
            attr_mismatch("stride()", a.stride(), e.stride())
        if check_dtype and a.dtype != e.dtype:
            attr_mismatch("dtype", a.dtype, e.dtype)
        dt = a.dtype if a.dtype is e.dtype else D._promote_same_category(a.dtype, e.dtype)
        av, ev = a._array().astype(dt.np, copy=False), e._array().astype(dt.np, copy=False)
        _compare_values(av, ev, dt, rtol, atol, equal_nan, id)
    return compare


def _isclose(a, e, rtol, atol, equal_nan):
    """torch.isclose over arrays of one dtype (computed in that dtype, as torch)."""
    if a.dtype == np.bool_ or (rtol == 0 and atol == 0 and a.dtype.kind in "iu"):
        return a == e
    with np.errstate(invalid="ignore", over="ignore"):
        close = a == e
        if a.dtype.kind == "f":
            if equal_nan:
                close |= np.isnan(a) & np.isnan(e)
            err = np.abs(a - e)
            allowed = a.dtype.type(atol) + np.abs(a.dtype.type(rtol) * e)
            close |= np.isfinite(err) & (err <= allowed)
        else:
            close |= np.abs(a - e) <= atol + rtol * np.abs(e)
    return close


def _compare_values(a, e, dt, rtol, atol, equal_nan, id):
    matches = _isclose(a, e, rtol, atol, equal_nan)
    if matches.all():
        return
    if a.shape == ():
        raise _Failure(AssertionError, _scalar_mismatch_msg(a.item(), e.item(), rtol, atol), id)
    n = matches.size
    bad = n - int(matches.sum())
    extra = f"Mismatched elements: {bad} / {n} ({bad / n:.1%})"
    af, ef, mf = a.reshape(-1), e.reshape(-1), matches.reshape(-1)
    if not dt.is_floating_point:
        af, ef = af.astype(np.int64), ef.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        abs_diff = np.abs(af - ef)
        abs_diff[mf] = 0
        if dt.is_floating_point:
            rel_diff = abs_diff / np.abs(ef)
        else:          # integer true division: the default float dtype, as torch
            fdt = D.get_default_dtype().np
            rel_diff = abs_diff.astype(fdt) / np.abs(ef).astype(fdt)
        rel_diff[mf] = 0

    def unravel(i):
        return tuple(int(k) for k in np.unravel_index(i, a.shape))

    ia, ir = int(np.argmax(abs_diff)), int(np.argmax(rel_diff))
    raise _Failure(AssertionError, _mismatch_msg(
        None, "Tensor-likes", extra, abs_diff[ia].item(), unravel(ia), atol,
        rel_diff[ir].item(), unravel(ir), rtol), id)


_PAIRS = (_none_pair, _bool_pair, _number_pair, _tensor_pair)


def _originate(actual, expected, id, options):
    """The comparisons of the leaves of two nested inputs, checking the structure (sequence
    lengths, mapping keys) on the way, as torch's originate_pairs."""
    if (isinstance(actual, collections.abc.Sequence) and not isinstance(actual, str)
            and isinstance(expected, collections.abc.Sequence)
            and not isinstance(expected, str)):
        if len(actual) != len(expected):
            raise _Failure(AssertionError, "The length of the sequences mismatch: "
                                           f"{len(actual)} != {len(expected)}", id)
        return [c for i in range(len(actual))
                for c in _originate(actual[i], expected[i], (*id, i), options)]
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected,
                                                                  collections.abc.Mapping):
        ak, ek = set(actual.keys()), set(expected.keys())
        if ak != ek:
            raise _Failure(AssertionError,
                           "The keys of the mappings do not match:\n"
                           f"Missing keys in the actual mapping: {sorted(ek - ak)}\n"
                           f"Additional keys in the actual mapping: {sorted(ak - ek)}", id)
        keys = ak
        with contextlib.suppress(Exception):    # sorted when it can be: a stable order
            keys = sorted(keys)
        return [c for k in keys for c in _originate(actual[k], expected[k], (*id, k), options)]
    for pair in _PAIRS:
        try:
            return [pair(actual, expected, id=id, **options)]
        except _Unsupported:
            continue
    raise _Failure(TypeError, "No comparison pair was able to handle inputs of type "
                              f"{type(actual)} and {type(expected)}.", id)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Assert that `actual` and `expected` are close, as torch.testing.assert_close: tensors
    (or numpy arrays) of the same shape and dtype whose values satisfy
    |actual - expected| <= atol + rtol * |expected| (inf only equal to itself, NaN only with
    `equal_nan`), Python numbers likewise, and sequences / mappings of them element by element.
    The default (rtol, atol) is (1.3e-6, 1e-5) for float32, (1e-7, 1e-7) for float64 and
    Python floats, exact for integers and bools.  `msg` replaces (a string) or rewrites (a
    function of the generated message) the AssertionError's message.  (`check_device` and
    `check_layout` are accepted: every tensor is a strided CPU tensor.)"""
    __tracebackhide__ = True
    options = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol,
                   equal_nan=equal_nan, check_dtype=check_dtype, check_stride=check_stride)
    try:
        comparisons = _originate(actual, expected, (), options)
    except _Failure as f:   # structure, types, tolerance arguments: msg does not apply
        raise f.to_error() from None
    for compare in comparisons:
        try:
            compare()
        except _Failure as f:
            raise f.to_error(msg) from None


# ---- make_tensor -------------------------------------------------------------------------
def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A tensor of `shape` filled with random values, as torch.testing.make_tensor: floats
    uniform in [low, high) (default [-9, 9)), integers in [low, high) (default [-9, 10)),
    bools at random; `noncontiguous` makes a strided view, `exclude_zero` replaces zeros
    (by 1, or the dtype's smallest normal number).  Values come from tapegrad's generator."""
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    if noncontiguous and memory_format is not None:
        raise ValueError("The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    if memory_format is not None:
        raise NotImplementedError("make_tensor(memory_format=...): tapegrad has no memory "
                                  "formats")
    if dtype not in D.ALL:
        raise TypeError(f"The requested dtype '{dtype}' is not supported by "
                        "torch.testing.make_tensor().")
    if requires_grad and not dtype.is_floating_point:
        raise ValueError("`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={dtype}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:        # twice the last dimension, then every other element
        shape = (*shape[:-1], 2 * shape[-1])
    if dtype is D.bool_:
        low, high = _low_high(low, high, dtype, 0, 2, 0, 2)
        result = randint(low, high, shape, dtype=dtype, device=device)
    elif not dtype.is_floating_point:
        info = np.iinfo(dtype.np)
        low, high = _low_high(low, high, dtype, int(info.min),
                              int(info.max) + (1 if dtype is not D.int64 else 0), -9, 10)
        result = randint(low, high, shape, dtype=dtype, device=device)
    else:
        info = np.finfo(dtype.np)
        low, high = _low_high(low, high, dtype, float(info.min), float(info.max), -9, 9)
        result = empty(shape, dtype=dtype, device=device)
        if high - low >= float(info.max):   # (uniform_ needs a finite range)
            result.uniform_(low / 2, high / 2).mul_(2)
        else:
            result.uniform_(low, high)
    if noncontiguous:
        result = result[..., 1::2]
    if exclude_zero:
        result.masked_fill_(result == 0, 1 if not dtype.is_floating_point
                            else float(np.finfo(dtype.np).tiny))
    if dtype.is_floating_point:
        result.requires_grad = requires_grad
    return result


def _low_high(low, high, dtype, lowest, highest_exclusive, default_low, default_high):
    """torch's checks and clamping of make_tensor's [low, high)."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and dtype.is_floating_point:
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                      "complex types is deprecated since 2.1 and will be removed in 2.3. "
                      "Use `torch.full(...)` instead.", FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest_exclusive:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but {dtype} only supports [{lowest}, {highest_exclusive})")
    low = min(max(low, lowest), highest_exclusive)
    high = min(max(high, lowest), highest_exclusive)
    if not dtype.is_floating_point:
        return math.ceil(low), math.ceil(high)
    return low, high



# assert_allclose's default (rtol, atol), torch's table
_ALLCLOSE_PRECISIONS = {D.float32: (1e-4, 1e-5), D.float64: (1e-5, 1e-8)}


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """torch's deprecated assert_allclose (a FutureWarning): assert_close with its own default
    tolerances, no dtype or stride check, and non-tensors made tensors (expected in actual's
    dtype)."""
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be "
                  "removed in a future release. Please use `torch.testing.assert_close()` "
                  "instead. You can find detailed upgrade instructions in "
                  "https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = as_tensor(actual)
    if not isinstance(expected, Tensor):
        expected = as_tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = (max(_ALLCLOSE_PRECISIONS.get(d, (0.0, 0.0))[i]
                          for d in (actual.dtype, expected.dtype)) for i in (0, 1))
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True,
                 check_dtype=False, check_stride=False, msg=msg or None)
