"""Tensor repr/str that reproduces ``torch/_tensor_str.py`` (torch 2.13) character for character.

Only numpy and the standard library are used. The rules mirror torch's, including its quirks
(documented inline), because the goal is byte-identical output, not "nicer" output.
"""
import math

import numpy as np

__all__ = ["format_tensor", "set_printoptions", "get_printoptions", "get_default_dtype_name"]

_NP_DTYPES = {
    "float32": np.float32, "float64": np.float64, "float16": np.float16,
    "int64": np.int64, "int32": np.int32, "int16": np.int16, "int8": np.int8,
    "uint8": np.uint8, "bool": np.bool_,
}
_FLOAT_DTYPES = ("float16", "float32", "float64")

_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}
_OPTS = dict(_PROFILES["default"], sci_mode=None)

# The package overwrites this when the user changes the default float dtype.
_default_dtype_name = "float32"


def get_default_dtype_name():
    return _default_dtype_name


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Same semantics as torch.set_printoptions: a profile resets the four numeric options,
    explicit arguments override it, and sci_mode is always assigned (None = automatic).  A
    profile torch does not know changes nothing, as torch's."""
    if profile in _PROFILES:
        _OPTS.update(_PROFILES[profile])
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            _OPTS[key] = value
    _OPTS["sci_mode"] = sci_mode


def get_printoptions():
    return dict(_OPTS)


class _Formatter:
    """One shared mode (int/fixed/scientific) and width for every element, so columns line up."""

    def __init__(self, arr, is_float, opts):
        self.is_float = is_float
        self.precision = opts["precision"]
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        flat = arr.reshape(-1)
        if not is_float:  # ints and bools: width of the longest str() (bool -> True/False)
            self.width = max([1] + [len(str(v)) for v in flat.tolist()])
            return
        # Only nonzero finite values decide mode and width; zeros/inf/nan may then be wider or
        # narrower than `width` and are not truncated (e.g. `tensor([1., inf])`, `-0.0000`).
        vals = flat[np.isfinite(flat) & (flat != 0)]
        if vals.size == 0:  # nothing informative: keep int mode, even if sci_mode is forced
            return
        absv = np.abs(vals).astype(np.float64)  # torch computes the ratio in double
        lo, hi = float(absv.min()), float(absv.max())
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        if opts["sci_mode"] is None:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        else:
            self.sci_mode = bool(opts["sci_mode"])
        if self.sci_mode:
            spec, extra = f".{self.precision}e", 0
        elif self.int_mode:
            spec, extra = ".0f", 1  # +1 for the trailing "." that marks a float
        else:
            spec, extra = f".{self.precision}f", 0
        self.width = max(1, max(len(format(v, spec)) for v in vals.tolist()) + extra)

    def format(self, v):
        if not self.is_float:
            s = str(v)
        elif self.sci_mode:
            s = format(v, f"{self.width}.{self.precision}e")
        elif self.int_mode:
            s = format(v, ".0f") + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            s = format(v, f".{self.precision}f")
        return s.rjust(self.width)


def _summarized(arr, edgeitems):
    """The values torch's formatter sees when summarizing: `edgeitems` from each end of every
    axis longer than 2*edgeitems. Quirk: with edgeitems=0 a 1-d tensor keeps everything
    (torch slices `t[-0:]`) while higher dims become empty."""
    if arr.ndim == 0:
        return arr
    if edgeitems < 0:
        # (set_printoptions takes a negative edgeitems, as torch's: a vector keeps t[:e] and
        # t[-e:], and torch stacks no rows of a matrix, which fails)
        if arr.ndim > 1:
            raise RuntimeError("stack expects a non-empty TensorList")
        return np.concatenate((arr[:edgeitems], arr[-edgeitems:]))
    if edgeitems == 0:
        return arr if arr.ndim == 1 else arr[(slice(0, 0),) * arr.ndim]
    for axis in range(arr.ndim):
        n = arr.shape[axis]
        if n > 2 * edgeitems:
            keep = np.r_[0:edgeitems, n - edgeitems:n]
            arr = np.take(arr, keep, axis=axis)
    return arr


def _vector_str(arr, indent, summarize, fmt, opts):
    # Each line holds as many "value, " cells as fit in linewidth - indent (at least one).
    per_line = max(1, math.floor((opts["linewidth"] - indent) / (fmt.width + 2)))
    edge = opts["edgeitems"]

    def cells(part):
        return [fmt.format(v) for v in part.tolist()]

    if summarize and not edge:
        data = ["..."]
    elif summarize and arr.shape[0] > 2 * edge:
        data = cells(arr[:edge]) + [" ..."] + cells(arr[-edge:])  # " ..." counts as a cell
    else:
        data = cells(arr)
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(arr, indent, summarize, fmt, opts):
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        return _vector_str(arr, indent, summarize, fmt, opts)
    edge, n = opts["edgeitems"], arr.shape[0]
    if summarize and n > 2 * edge:
        rows = list(range(edge)) + [None] + list(range(n - edge, n))
    else:
        rows = range(n)
    slices = ["..." if i is None else _nested_str(arr[i], indent + 1, summarize, fmt, opts)
              for i in rows]
    # Sub-blocks are separated by (ndim - 1) newlines, i.e. blank lines for >2-d.
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _add_suffixes(text, suffixes, indent, linewidth):
    """`suffixes` are (shown_text, length_used_for_wrapping) pairs."""
    # torch's estimate of the last line's length is 2 more than the real one; reproduce it
    # as-is since it decides where suffixes wrap.
    last_len = len(text) - text.rfind("\n") + 1
    parts = [text]
    for suffix, length in suffixes:
        if last_len + length + 2 > linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_len = indent + length
        else:
            parts.append(", " + suffix)
            last_len += length + 2
    return "".join(parts) + ")"


def _plain(suffix):
    return suffix, len(suffix)


def format_tensor(arr, dtype_name, *, suffixes=(), prefix="tensor(", module="tapegrad"):
    """Return the repr (== str) of a tensor holding numpy array `arr` with dtype `dtype_name`,
    exactly as torch prints it. `suffixes` (e.g. "grad_fn=<MulBackward0>") are appended last."""
    arr = np.asarray(arr, dtype=_NP_DTYPES[dtype_name])
    opts = get_printoptions()
    indent = len(prefix)
    default = get_default_dtype_name()
    # Wrap as if the dtype were spelled "torch.<name>", so line breaks (and hence the whole string,
    # modulo the module name) are identical to torch's even though "tapegrad." is 3 chars longer.
    dtype_suffix = (f"dtype={module}.{dtype_name}", len(f"dtype=torch.{dtype_name}"))
    extra = []
    if arr.size == 0:
        # No elements to infer the dtype from, so anything but the default float is shown.
        if arr.ndim != 1:
            extra.append(_plain(f"size={tuple(arr.shape)}"))
        if dtype_name != default:
            extra.append(dtype_suffix)
        body = "[]"
    else:
        if not opts["edgeitems"]:
            extra.append(_plain(f"size={tuple(arr.shape)}"))
        if dtype_name not in (default, "int64", "bool"):
            extra.append(dtype_suffix)
        summarize = arr.size > opts["threshold"]
        fmt = _Formatter(_summarized(arr, opts["edgeitems"]) if summarize else arr,
                         dtype_name in _FLOAT_DTYPES, opts)
        body = _nested_str(arr, indent, summarize, fmt, opts)
    extra += [_plain(s) for s in suffixes]
    return _add_suffixes(prefix + body, extra, indent, opts["linewidth"])
