"""Binding of arguments as torch's native (C++) parser binds them, with its messages for
missing, extra and repeated arguments (the top-level forms in nn_toplevel.py and
namespace.py)."""
import functools
import inspect
import re
import types

import numpy as np

from . import devices, dtypes as D, errors, layouts
from .tensor import _is_dim_item, _is_int_arg, Tensor


def bind(fn, args, kwargs, names, defaults=()):
    """The native parser's positional binding: torch's messages for missing and extra
    arguments."""
    ndef = len(defaults)
    nreq = len(names) - ndef
    if len(args) > len(names):
        takes = (f"takes {len(names)} positional argument{'s' if len(names) > 1 else ''}"
                 if not ndef else f"takes from {nreq} to {len(names)} positional arguments")
        raise TypeError(f"{fn}() {takes} but {len(args)} were given")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            missing = [n for n in names[:nreq] if n not in bound and n not in kwargs]
            if missing:
                break
            raise TypeError(f"{fn}() got an unexpected keyword argument '{k}'")
        if k in bound:
            raise TypeError(f"{fn}() got multiple values for argument '{k}'")
        bound[k] = v
    missing = [n for n in names[:nreq] if n not in bound]
    if missing:
        plural = "argument" if len(missing) > 1 else "arguments"
        raise TypeError(f"{fn}() missing {len(missing)} required positional {plural}: "
                        + ", ".join(f'"{n}"' for n in missing))
    for n, d in zip(names[nreq:], defaults):
        bound.setdefault(n, d)
    if not isinstance(bound[names[0]], Tensor):
        raise TypeError(f"{fn}(): argument '{names[0]}' (position 1) must be Tensor, not "
                        f"{errors.type_name(bound[names[0]])}")
    return [bound[n] for n in names]


# ---- overloads: torch's PythonArgParser over a function's signatures ------------------
_MISSING = object()
# what each parameter type takes (python_arg_parser.cpp's FunctionParameter::check), and the
# name its "must be X" message gives
_TYPE_NAMES = {"Tensor": "Tensor", "int": "int", "tuple of ints": "tuple of ints",
               "Number": "Number", "bool": "bool", "torch.dtype": "torch.dtype", "str": "str",
               "tuple of Tensors": "tuple of Tensors", "float": "float", "object": "object",
               "torch.Generator": "torch.Generator", "torch.layout": "torch.layout",
               "torch.memory_format": "torch.memory_format", "torch.device": "torch.device",
               "torch.Storage": "torch.Storage"}


def _takes_int(v):
    # (an int, a numpy integer or a 0-d integer tensor; a bool is no int)
    return _is_int_arg(v, True)


def _takes_int_item(v):
    # (an element of an int list, or the one int an int[1] or spread ints take: also a
    # one-element integer or bool tensor of any shape, as torch's is_int_or_symint; a bool
    # one among sizes fails as it is converted, tensor._int_list)
    return _is_dim_item(v, True)


def _takes_int_list(v):
    # (torch checks the first element only; a later one fails as it is unpacked)
    return isinstance(v, (tuple, list)) and (not v or _is_dim_item(v[0], True))


def _takes_dtype(v):
    # (a Python type names one too: dtype=float is the default float dtype, bool torch.bool)
    return isinstance(v, D.dtype) or v is float or v is int or v is bool or v is complex


def _takes_number(v):
    return (isinstance(v, (int, float, complex, np.number, np.bool_))
            or isinstance(v, Tensor) and not v._shape and not v.requires_grad)


_CHECKS = {
    "Tensor": lambda v: isinstance(v, Tensor),
    "int": _takes_int,
    "tuple of ints": _takes_int_list,
    "Number": _takes_number,
    # (a numpy bool is no bool to it: x.sum(1, np.bool_(True)) is refused)
    "bool": lambda v: isinstance(v, bool),
    "torch.dtype": lambda v: _takes_dtype(v),
    "str": lambda v: isinstance(v, str),
    # (any sequence: torch's parser takes it and then refuses an element that is no tensor
    # with "expected Tensor as element k in argument 0", which the functions raise)
    "tuple of Tensors": lambda v: isinstance(v, (tuple, list)),
    "object": lambda v: True,    # (PyObject*: any, as_tensor's data)
    "torch.Storage": lambda v: False,   # (tapegrad has no storage objects)
    "float": lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, bool) or isinstance(v, Tensor) and not v._shape,
    # (a factory's options: a device also by its name or an accelerator's ordinal; the
    # generator's class, random.py's, named to this table by check_type where defined)
    "torch.Generator": None,
    "torch.layout": lambda v: isinstance(v, layouts.layout),
    "torch.memory_format": lambda v: isinstance(v, layouts.memory_format),
    "torch.device": lambda v: isinstance(v, (devices.device, str)) or _takes_int(v),
}


def check_type(typ, cls):
    """Parameters of type `typ` take instances of `cls`: a class defined in a module above
    this one (random.py's Generator, whose module binds its arguments here)."""
    _CHECKS[typ] = lambda v: isinstance(v, cls)


# numpy's names torch's parser takes for its parameters' (x.sort(axis=0))
_NUMPY_NAMES = {"dim": "axis", "keepdim": "keepdims"}


class Signature:
    """One of an op's signatures as torch prints it ("Tensor input, int source, *, Number
    alpha = 1"), parsed as python_arg_parser.cpp's FunctionSignature parses it."""

    def __init__(self, text, hidden=False, numbers=False):
        # ("bool? stable": an optional type, which takes None; "tuple of ints^ dim": torch's
        # int[1], which takes one int too; both printed as torch prints them)
        self.text = f"({text.replace('? ', ' ').replace('^ ', ' ')})"
        self.numbers = numbers    # (a number for a Tensor: torch's ops that allow it)
        self.hidden = hidden
        # (type, name, optional, keyword_only, allow_none, takes one int for an int list)
        self.params = []
        kwonly = False
        for item in text.split(", ") if text else ():
            if item == "*":
                kwonly = True
                continue
            decl, _, default = item.partition(" = ")
            typ, _, name = decl.rpartition(" ")
            self.params.append((typ.rstrip("?^"), name, bool(default), kwonly,
                                default == "None" or typ.endswith("?"), "^" in typ))
        self.min_args = sum(not p[2] for p in self.params)
        self.max_args = len(self.params)
        self.max_pos = sum(not p[3] for p in self.params)
        # a lone positional int list takes ints spread as positional arguments
        # (`x.permute(1, 0)`, `rand(2, 3, dtype=...)`)
        self.varargs = self.max_pos == 1 and self.params[0][0] == "tuple of ints"

    def parse(self, fn, args, kwargs, raise_error=False):
        """The arguments bound to the parameters (a list, _MISSING where none was given), or
        None (with raise_error: torch's TypeError) when this signature does not take them."""
        nargs = len(args)
        if nargs > self.max_pos and not self.varargs:
            return self._fail(raise_error, self._extra_args(fn, nargs))
        out, pos, remaining = [], 0, len(kwargs)
        for i, (typ, name, optional, kwonly, allow_none, one) in enumerate(self.params):
            is_kwd = pos >= nargs
            if not is_kwd:
                if kwonly:
                    return self._fail(raise_error, self._extra_args(fn, nargs))
                obj = args[pos]
            else:
                obj = kwargs.get(name, _MISSING)
                if obj is _MISSING and name in _NUMPY_NAMES:
                    obj = kwargs.get(_NUMPY_NAMES[name], _MISSING)
            if obj is _MISSING and optional or obj is None and allow_none:
                out.append(_MISSING if obj is _MISSING else None)
            elif obj is _MISSING:
                return self._fail(raise_error, self._missing(fn, i))
            elif _CHECKS[typ](obj) or one and _takes_int_item(obj) or self.numbers and \
                    typ == "Tensor" and _takes_number(obj):
                out.append(obj)
            elif self.varargs and pos == 0 and not is_kwd and _takes_int_item(obj):
                out.append(tuple(args))     # (checked element by element as unpacked)
                pos = nargs
                continue
            elif self.varargs and pos == 0 and nargs > 1:   # (not ints spread: zeros("a", 3))
                return self._fail(raise_error, self._extra_args(fn, nargs))
            else:
                where = "" if is_kwd else f" (position {pos + 1})"
                # (a sequence whose first element is no int: torch's parser names it)
                got = (f"but found element of type {errors.type_name(obj[0])} at pos 0"
                       if typ == "tuple of ints" and isinstance(obj, (tuple, list)) else
                       f"not {errors.type_name(obj)}")
                return self._fail(raise_error, TypeError(
                    f"{fn}(): argument '{name}'{where} must be {_TYPE_NAMES[typ]}, {got}"))
            if not is_kwd:
                pos += 1
            elif obj is not _MISSING:
                remaining -= 1
        if pos < nargs:   # (a lone int list given as a sequence, then more: view((2, 3), 4))
            return self._fail(raise_error, self._extra_args(fn, nargs))
        if remaining > 0:
            return self._fail(raise_error, self._extra_kwargs(fn, kwargs, nargs))
        return out

    @staticmethod
    def _fail(raise_error, err):
        if raise_error:
            raise err
        return None

    def _extra_args(self, fn, nargs):
        if self.min_args != self.max_pos:
            return TypeError(f"{fn}() takes from {self.min_args} to {self.max_pos} positional "
                             f"arguments but {nargs} were given")
        return TypeError(f"{fn}() takes {self.max_pos} positional argument"
                         f"{'' if self.max_pos == 1 else 's'} but {nargs} were given")

    def _missing(self, fn, i):
        names = [f'"{p[1]}"' for p in self.params[i:] if not p[2]]
        # (torch's plural: "1 ... arguments", "2 ... argument")
        return TypeError(f"{fn}() missing {len(names)} required positional argument"
                         f"{'s' if len(names) == 1 else ''}: {', '.join(names)}")

    def _extra_kwargs(self, fn, kwargs, nargs):
        # (torch's extra_kwargs finds a keyword by the parameter's own name: a numpy alias
        # given, axis=, is the unexpected one, x.sum(axis=None, out=None))
        names = [p[1] for p in self.params]
        for k in kwargs:
            if k not in names:
                return TypeError(f"{fn}() got an unexpected keyword argument '{k}'")
            if names.index(k) < nargs:
                return TypeError(f"{fn}() got multiple values for argument '{k}'")
        return TypeError("invalid keyword arguments")


class Overloads:
    """An op's signatures, in torch's order (hidden ones: deprecated forms torch takes but
    does not list), bound as torch's PythonArgParser binds them: the first that takes the
    arguments, else torch's TypeError."""

    def __init__(self, fn, signatures, hidden=(), numbers=False):
        self.fn = fn
        self.signatures = ([Signature(s, numbers=numbers) for s in signatures]
                           + [Signature(s, True, numbers) for s in hidden])

    def parse(self, args, kwargs):
        """(index of the signature that took the arguments, the bound values)."""
        for i, sig in enumerate(self.signatures):
            got = sig.parse(self.fn, args, kwargs)
            if got is not None:
                return i, got
        raise self.error(args, kwargs)

    def error(self, args, kwargs):
        """torch's TypeError for arguments none of the signatures takes (print_error):
        the one plausible signature's own complaint, else the list of them all."""
        sigs = self.signatures
        if len(sigs) > 1:
            n = len(args) + len(kwargs)
            sigs = [s for s in sigs if not s.hidden and s.min_args <= n <= s.max_args]
        if len(sigs) == 1:
            try:
                sigs[0].parse(self.fn, args, kwargs, raise_error=True)
            except TypeError as e:
                return e
        shown = [s.text for s in self.signatures if not s.hidden]
        return TypeError(invalid_combination(self.fn, args, kwargs, shown))


def invalid_combination(fn, args, kwargs, options):
    """torch's "received an invalid combination of arguments" message (format_invalid_args in
    invalid_arguments.cpp) for printed signatures `options`: each one's whose argument count
    fits says why it did not match."""
    head = f"{fn}() received an invalid combination of arguments - "
    if len(options) == 1:
        args_of = _option_args(options[0])
        unmatched = _unmatched_kwargs(args_of, kwargs)
        if unmatched:
            return head + "got unrecognized keyword arguments: " + ", ".join(unmatched)
        got = (_marked(args_of, args, kwargs) if len(args) + len(kwargs) == len(args_of)
               else f"({errors.got_args(args, kwargs)})")
        return head + f"got {got}, but expected {options[0]}"
    msg = head + f"got ({errors.got_args(args, kwargs)}), but expected one of:\n"
    for option in options:
        msg += f" * {option}\n"
        args_of = _option_args(option)
        if len(args) + len(kwargs) != len(args_of):
            continue
        unmatched = _unmatched_kwargs(args_of, kwargs)
        if unmatched:
            msg += ("      didn't match because some of the keywords were incorrect: "
                    + ", ".join(unmatched) + "\n")
        else:
            msg += ("      didn't match because some of the arguments have invalid types: "
                    + _marked(args_of, args, kwargs) + "\n")
    return msg


def _option_args(option):
    """(type, name) of each ", "-separated item of a printed signature, as torch's message
    builder reads it: "*" and "Number alpha = 1" ("Number alpha =", "1") are items too."""
    # ("()" is one empty item to it: x.squeeze("a") says why "()" did not match)
    return [(item.rpartition(" ")[0] or item, item.rpartition(" ")[2])
            for item in option[1:-1].split(", ")]


def _unmatched_kwargs(args_of, kwargs):
    # (a keyword matches one of the last len(kwargs) items; listed in torch's order)
    tail = {name for _, name in args_of[max(len(args_of) - len(kwargs), 0):]}
    return [k for k in errors.kwargs_order(kwargs) if k not in tail]


def _matches(typ, v):
    # (the message builder's test: the Python type's name, "int" for an int, "float" for
    # either; "Number", "tuple of ints" and the items with defaults match nothing)
    name = errors.arg_type_name(v)
    return name in {"int": ("int",), "float": ("float", "int")}.get(typ, (typ,))


def _marked(args_of, args, kwargs):
    """The arguments with the ones of the wrong type between '!'s (_formattedArgDesc)."""
    parts = []
    for i in range(len(args) + len(kwargs)):
        if i < len(args):
            v, key = args[i], ""
        else:
            key = args_of[i][1]
            v = kwargs.get(key)
            key += "="
        desc = key + _seq_desc(v)
        parts.append(desc if i < len(args_of) and _matches(args_of[i][0], v) else f"!{desc}!")
    if args:
        return f"({', '.join(parts)})"
    return "(" + "".join(p + ", " for p in parts) + ")"


def _seq_desc(v):
    if type(v) is tuple:
        inner = ", ".join(errors.arg_type_name(x) for x in v)
        return f"tuple of ({inner}{',' if len(v) == 1 else ''})"
    if type(v) is list:
        return f"list of [{', '.join(errors.arg_type_name(x) for x in v)}]"
    return errors.arg_type_name(v)


# ---- the ops whose argument errors come from their signatures here ----------------------
MISSING = _MISSING    # the default of a required parameter, so its absence reaches arg_error

_ADD = (["Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None"],
         ["Tensor input, Number alpha, Tensor other, *, Tensor out = None"])   # (deprecated)
_DIV_ROUNDED = "*, str? rounding_mode"
_REDUCE = "tuple of ints^? dim, bool keepdim = False, *, torch.dtype dtype = None"
# torch's printed signatures of each op's function form, shown then hidden ones, and its
# method's where they are not the function's without `Tensor input, ` and `out`
_FORMS = {
    "add": _ADD, "sub": _ADD,
    "subtract": ([_ADD[0][0], "Tensor input, Number other, Number alpha = 1"], []),
    "mul": (["Tensor input, Tensor other, *, Tensor out = None"], []),
    "multiply": (["Tensor input, Tensor other, *, Tensor out = None",
                  "Tensor input, Number other"], []),
    "true_divide": (["Tensor input, Tensor other, *, Tensor out = None",
                     "Tensor input, Number other"], []),
    "div": (["Tensor input, Tensor other, *, Tensor out = None",
             f"Tensor input, Tensor other, {_DIV_ROUNDED}, Tensor out = None",
             f"Tensor input, Number other, {_DIV_ROUNDED}"], []),
    "divide": (["Tensor input, Tensor other, *, Tensor out = None",
                f"Tensor input, Tensor other, {_DIV_ROUNDED}, Tensor out = None",
                "Tensor input, Number other", f"Tensor input, Number other, {_DIV_ROUNDED}"], []),
    "matmul": (["Tensor input, Tensor other, *, Tensor out = None"], []),
    "mv": (["Tensor input, Tensor vec, *, Tensor out = None"], []),
    "cumsum": (["Tensor input, int dim, *, torch.dtype dtype = None, Tensor out = None"], []),
    "cumprod": (["Tensor input, int dim, *, torch.dtype dtype = None, Tensor out = None"], []),
    "mm": (["Tensor input, Tensor mat2, *, Tensor out = None",
            "Tensor input, Tensor mat2, torch.dtype out_dtype, *, Tensor out = None"], [],
           ["Tensor mat2"]),
    "sum": (["Tensor input, *, torch.dtype dtype = None",
             f"Tensor input, {_REDUCE}, Tensor out = None"], []),
    "mean": (["Tensor input, *, torch.dtype dtype = None, Tensor out = None",
              f"Tensor input, {_REDUCE}, Tensor out = None"], []),
    "clamp": (["Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None",
               "Tensor input, Number min = None, Number max = None, *, Tensor out = None"], []),
    "reshape": (["Tensor input, tuple of ints shape"], []),
    "squeeze": (["Tensor input", "Tensor input, int dim", "Tensor input, tuple of ints dim"], []),
    "view": (["Tensor input, torch.dtype dtype", "Tensor input, tuple of ints size"], []),
}
_SCATTER = "Tensor input, int dim, Tensor index"
_FORMS.update({
    "permute": (["Tensor input, tuple of ints dims"], []),
    "lerp": (["Tensor input, Tensor end, Tensor weight, *, Tensor out = None",
              "Tensor input, Tensor end, Number weight, *, Tensor out = None"], []),
    "narrow": (["Tensor input, int dim, Tensor start, int length",
                "Tensor input, int dim, int start, int length"], []),
    "scatter": ([f"{_SCATTER}, Tensor src, *, Tensor out = None",
                 f"{_SCATTER}, Tensor src, *, str reduce, Tensor out = None",
                 f"{_SCATTER}, Number value, *, Tensor out = None",
                 f"{_SCATTER}, Number value, *, str reduce, Tensor out = None"], []),
    "where": (["Tensor condition",
               "Tensor condition, Tensor input, Tensor other, *, Tensor out = None",
               "Tensor condition, Number self, Tensor other",
               "Tensor condition, Tensor input, Number other",
               "Tensor condition, Number self, Number other"], [],
              ["Tensor condition, Tensor other", "Tensor condition, Number other"]),
    "pow": (["Tensor input, Tensor exponent, *, Tensor out = None",
             "Number self, Tensor exponent, *, Tensor out = None",
             "Tensor input, Number exponent, *, Tensor out = None"], []),
})
_MOMENT = ["Tensor input, tuple of ints^ dim, bool unbiased = True, bool keepdim = False",
           "Tensor input, tuple of ints^? dim = None, *, Number correction = None, "
           "bool keepdim = False", "Tensor input, bool unbiased = True"]
_QUANTILE = "int? dim = None, bool keepdim = False, *, str interpolation = \"linear\""
_REPEATS = "int? dim = None, *, int? output_size = None"
_FORMS.update({
    "prod": (["Tensor input, *, torch.dtype dtype = None",
              "Tensor input, int dim, bool keepdim = False, *, torch.dtype dtype = None, "
              "Tensor out = None"], []),
    "std": ([s + (", *, Tensor out = None" if i == 0 else ", Tensor out = None" if i == 1 else "")
             for i, s in enumerate(_MOMENT)], []),
    "count_nonzero": (["Tensor input, int? dim = None", "Tensor input, tuple of ints dim"], []),
    "quantile": ([f"Tensor input, Tensor q, {_QUANTILE}, Tensor out = None",
                  f"Tensor input, float q, {_QUANTILE}, Tensor out = None"], []),
    "repeat_interleave": ([f"Tensor input, Tensor repeats, {_REPEATS}",
                           "Tensor repeats, *, int? output_size = None",
                           f"Tensor input, int repeats, {_REPEATS}"], []),
    "tensor_split": (["Tensor input, tuple of ints indices, int dim = 0",
                      "Tensor input, Tensor tensor_indices_or_sections, int dim = 0",
                      "Tensor input, int sections, int dim = 0"], []),
    "index_fill": (["Tensor input, int dim, Tensor index, Tensor value",
                    "Tensor input, int dim, Tensor index, Number value"], []),
    "std_mean": (_MOMENT, []), "var_mean": (_MOMENT, []),
    "round": (["Tensor input, *, Tensor out = None",
               "Tensor input, *, int decimals, Tensor out = None"], []),
})
_FORMS["var"], _FORMS["nanquantile"] = _FORMS["std"], _FORMS["quantile"]
for _fn in ("hsplit", "vsplit", "dsplit"):
    _FORMS[_fn] = (["Tensor input, int sections", "Tensor input, tuple of ints indices"], [])
# the upsample kernels interpolate calls: an output_size list and the scale factors
_SCALES = {1: "float? scales = None", 2: "float? scales_h = None, float? scales_w = None",
           3: "float? scales_d = None, float? scales_h = None, float? scales_w = None"}
for _fn, _k, _align in ([(f"upsample_nearest{k}d", k, False) for k in (1, 2, 3)]
                        + [(f"_upsample_nearest_exact{k}d", k, False) for k in (1, 2, 3)]
                        + [("upsample_linear1d", 1, True), ("upsample_bilinear2d", 2, True),
                           ("upsample_trilinear3d", 3, True), ("upsample_bicubic2d", 2, True),
                           ("_upsample_bilinear2d_aa", 2, True),
                           ("_upsample_bicubic2d_aa", 2, True)]):
    _head = "Tensor input, tuple of ints output_size" + ", bool align_corners" * _align
    _FORMS[_fn] = ([f"{_head}, tuple of floats? scale_factors",
                    f"{_head}, {_SCALES[_k]}, *, Tensor out = None"], [])
for _fn in ("all", "any"):
    _FORMS[_fn] = (["Tensor input, *, Tensor out = None",
                    "Tensor input, tuple of ints? dim = None, bool keepdim = False, *, "
                    "Tensor out = None",
                    "Tensor input, int dim, bool keepdim = False, *, Tensor out = None"], [],
                   ["", "tuple of ints? dim = None, bool keepdim = False",
                    "int dim, bool keepdim = False"])
for _fn, _number_form in (("fmod", "Tensor input, Number other, *, Tensor out = None"),
                         ("floor_divide", "Tensor input, Number other")):
    _FORMS[_fn] = (["Tensor input, Tensor other, *, Tensor out = None", _number_form], [])
_FORMS["remainder"] = (["Tensor input, Tensor other, *, Tensor out = None",
                        "Number self, Tensor other",
                        "Tensor input, Number other, *, Tensor out = None"], [])
for _fn in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
            "bitwise_right_shift"):
    _FORMS[_fn] = (["Tensor input, Tensor other, *, Tensor out = None",
                    "Number self, Tensor other",
                    "Tensor input, Number other, *, Tensor out = None"], [])
# the binary special functions, a Number on either side (their Python functions parse by
# these; out_arg words their out= calls' errors by them)
for _fn in ("xlogy", "special_xlogy", "special_xlog1py", "special_zeta"):
    _FORMS[_fn] = (["Tensor input, Tensor other, *, Tensor out = None",
                    "Number self, Tensor other, *, Tensor out = None",
                    "Tensor input, Number other, *, Tensor out = None"], [])
for _fn in ("polygamma", "special_polygamma"):
    _FORMS[_fn] = (["int n, Tensor input, *, Tensor out = None"], [])
# (their methods: n / p alone; the in-place ones' too, as their own ops)
_FORMS["polygamma"] += (["int n"],)
_FORMS["polygamma_"] = ([], [], ["int n"])
for _fn in ("mvlgamma", "special_multigammaln"):
    _FORMS[_fn] = (["Tensor input, int p, *, Tensor out = None"], [])
_FORMS["mvlgamma_"] = ([], [], ["int p"])
for _fn in ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
            "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
            "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
            "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
            "laguerre_polynomial_l", "legendre_polynomial_p"):
    _FORMS["special_" + _fn] = (["Tensor x, Tensor n, *, Tensor out = None",
                                 "Number x, Tensor n, *, Tensor out = None",
                                 "Tensor x, Number n, *, Tensor out = None"], [])
for _fn in ("eq", "ne", "lt", "le", "gt", "ge"):
    _FORMS[_fn] = (["Tensor input, Tensor other, *, Tensor out = None",
                    "Tensor input, Number other, *, Tensor out = None"], [])
for _fn in ("max", "min"):
    _FORMS[_fn] = (["Tensor input, *, Tensor out = None",
                    "Tensor input, Tensor other, *, Tensor out = None",
                    "Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = None"],
                   [], ["", "Tensor other", "int dim, bool keepdim = False"])
for _fn in ("amax", "amin"):
    _FORMS[_fn] = (["Tensor input, tuple of ints^ dim = (), bool keepdim = False, *, "
                    "Tensor out = None"], [])
for _fn in ("argmax", "argmin"):
    _FORMS[_fn] = (["Tensor input, int? dim = None, bool keepdim = False, *, "
                    "Tensor out = None"], [])
_FORMS["logsumexp"] = (["Tensor input, tuple of ints^ dim, bool keepdim = False, *, "
                        "Tensor out = None"], [])
# torch.linalg's functions of several signatures (their messages name them linalg_<name>)
_LINALG_OPTIONS = "bool keepdim = False, *, torch.dtype dtype = None, Tensor out = None"
_TOLS = ("Tensor input, *, Tensor atol = None, Tensor rtol = None, bool hermitian = False, "
         "Tensor out = None",
         "Tensor input, *, float atol = None, float rtol = None, bool hermitian = False, "
         "Tensor out = None")
_FORMS.update({
    "linalg_matrix_norm": ([f"Tensor input, Number ord, tuple of ints dim = {{-2,-1}}, "
                            f"{_LINALG_OPTIONS}",
                            f'Tensor input, str ord = "fro", tuple of ints dim = {{-2,-1}}, '
                            f"{_LINALG_OPTIONS}"], []),
    "linalg_norm": ([f"Tensor input, Number ord = None, tuple of ints dim = None, "
                     f"{_LINALG_OPTIONS}",
                     f"Tensor input, str ord, tuple of ints dim = None, {_LINALG_OPTIONS}"], []),
    "linalg_cond": (["Tensor input, Number p = None, *, Tensor out = None",
                     "Tensor input, str p, *, Tensor out = None"], []),
    "linalg_pinv": ([*_TOLS, "Tensor input, Tensor rcond, bool hermitian = False, *, "
                     "Tensor out = None", "Tensor input, float rcond, bool hermitian = False, "
                     "*, Tensor out = None"], []),
    "linalg_matrix_rank": ([*_TOLS, "Tensor input, Tensor tol, bool hermitian = False, *, "
                            "Tensor out = None", "Tensor input, float tol, bool hermitian = "
                            "False, *, Tensor out = None"], []),
    # (one signature each, for the parser's order of complaints: multi_dot's tensors' type
    # before an unknown keyword, solve_triangular's keyword-only upper counted as required,
    # "takes from 3 to 2 positional arguments")
    "linalg_multi_dot": (["tuple of Tensors tensors, *, Tensor out = None"], []),
    "linalg_solve_triangular": (["Tensor input, Tensor B, *, bool upper, bool left = True, "
                                 "bool unitriangular = False, Tensor out = None"], []),
    "linalg_vander": (["Tensor x, *, int? N = None"], []),
    "linalg_diagonal": (["Tensor A, *, int offset = 0, int dim1 = -2, int dim2 = -1"], []),
    "linalg_eig": (["Tensor input, *, tuple of Tensors out = None"], []),
    "linalg_eigvals": (["Tensor input, *, Tensor out = None"], []),
})
# randint's forms (its low / high / size given by keyword are bound by them: random.py)
_RANDINT_OPTIONS = ("Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, "
                    "torch.device device = None, bool? pin_memory = False, bool? requires_grad "
                    "= False")
_FORMS["randint"] = ([f"{ints}, *, {gen}{_RANDINT_OPTIONS}"
                      for ints in ("int high, tuple of ints size",
                                   "int low, int high, tuple of ints size")
                      for gen in ("torch.Generator? generator, ", "")], [])
# rand's and randn's (the generator form's generator has no default: two arguments at least)
_FORMS["rand"] = _FORMS["randn"] = ([f"tuple of ints size, *, {gen}{_RANDINT_OPTIONS}"
                                     for gen in ("torch.Generator? generator, ", "")], [])
# the other factories' (python_torch_functions: each form with a generator has a twin without;
# a factory of one form raises that form's own complaint, so its text is never printed)
_GEN = ("torch.Generator? generator, ", "")
_LIKE = ("torch.memory_format? memory_format = None, torch.dtype dtype = None, torch.layout "
         "layout = None, torch.device device = None, bool? pin_memory = False, bool? "
         "requires_grad = False")
_NEW = _RANDINT_OPTIONS.removeprefix("Tensor out = None, ")
_FORMS.update({
    # ("int^": a SymInt, which a one-element integer or bool tensor binds too)
    "randperm": ([f"int^ n, *, {gen}{_RANDINT_OPTIONS}" for gen in _GEN], []),
    "rand_like": ([f"Tensor input, *, {gen}{_LIKE}" for gen in _GEN], []),
    "randint_like": ([f"Tensor input, {ints}, *, {gen}{_LIKE}"
                      for ints in ("int low, int high", "Tensor high", "int high")
                      for gen in _GEN], []),
    "normal": (["Tensor mean, Tensor std, *, torch.Generator? generator = None, "
                "Tensor out = None",
                "Tensor mean, float std = 1, *, torch.Generator? generator = None, "
                "Tensor out = None",
                "float mean, Tensor std, *, torch.Generator? generator = None, "
                "Tensor out = None",
                "float mean, float std, tuple of ints size, *, torch.Generator? generator = "
                f"None, {_RANDINT_OPTIONS}"], []),
    "arange": ([f"Number end, *, {_RANDINT_OPTIONS}", f"Number start, Number end, *, {_NEW}",
                f"Number start, Number end, Number step = 1, *, {_RANDINT_OPTIONS}"], []),
    "range": (["Number start, Number end, Number step = 1, *, Tensor out = None, torch.dtype "
               "dtype = None, torch.layout layout = torch.strided, torch.device device = None, "
               "bool requires_grad = False"], []),
    "linspace": ([f"{a} start, {b} end, int steps, *, {_RANDINT_OPTIONS}"
                  for a, b in (("Tensor", "Tensor"), ("Number", "Tensor"),
                               ("Tensor", "Number"), ("Number", "Number"))], []),
    "eye": ([f"int^ n, *, {_RANDINT_OPTIONS}", f"int^ n, int^ m, *, {_RANDINT_OPTIONS}"], []),
    "tril_indices": ([f"int row, int col, int offset = 0, *, {_NEW}"], []),
    "empty_strided": ([f"tuple of ints size, tuple of ints stride, *, {_NEW}"], []),
    "scalar_tensor": ([f"Number s, *, {_NEW}"], []),
    "as_tensor": (["object data, *, torch.dtype dtype = None, torch.device? device = None"], []),
    "asarray": (["object obj, *, torch.dtype? dtype = None, torch.device? device = None, "
                 "bool? copy = None, bool? requires_grad = False"], []),
    "poisson": (["Tensor input, torch.Generator? generator = None"], []),
    "multinomial": (["Tensor input, int num_samples, bool replacement = False, *, "
                     "torch.Generator? generator = None, Tensor out = None"], []),
})
# (complex results: tapegrad refuses them, after its parser's checks, as torch's come first)
_FORMS["complex"] = (["Tensor real, Tensor imag, *, Tensor out = None"], [])
_FORMS["polar"] = (["Tensor abs, Tensor angle, *, Tensor out = None"], [])
_FORMS["bernoulli"] = (["Tensor input, *, torch.Generator? generator = None, Tensor out = None",
                        "Tensor input, float p, *, torch.Generator? generator = None"], [])
_FORMS["randn_like"] = _FORMS["rand_like"]
_FORMS["triu_indices"] = _FORMS["tril_indices"]
_FORMS["logspace"] = ([f.replace("int steps, ", "int steps, float base = 10.0, ")
                       for f in _FORMS["linspace"][0]], [])
for _fn in ("zeros_like", "ones_like", "empty_like"):
    _FORMS[_fn] = ([f"Tensor input, *, {_LIKE}"], [])
_FORMS["full_like"] = ([f"Tensor input, Number fill_value, *, {_LIKE}"], [])
# the Tensor methods' (no function form)
for _fn in ("new_zeros", "new_ones", "new_empty"):
    _FORMS[_fn] = ([], [], [f"tuple of ints size, *, {_NEW}"])
_FORMS["new_full"] = ([], [], [f"tuple of ints size, Number fill_value, *, {_NEW}"])
# the legacy constructor's, torch.Tensor(...) (tapegrad has no storages: none binds that form)
_FORMS["new"] = ([], [], ["*, torch.device? device = None", "torch.Storage storage",
                          "Tensor other", "tuple of ints size, *, torch.device? device = None",
                          "object data, *, torch.device? device = None"])
_FORMS["new_empty_strided"] = ([], [], [f"tuple of ints size, tuple of ints stride, *, {_NEW}"])
_FORMS["empty_permuted"] = ([f"tuple of ints size, tuple of ints physical_layout, *, {_NEW}"], [])
_FORMS["frombuffer"] = (["object buffer, *, torch.dtype dtype, int count = -1, int offset = 0, "
                         "bool requires_grad = False"], [])
_FORMS["new_tensor"] = ([], [], ["object data, *, torch.dtype dtype = None, torch.device? "
                                 "device = None, bool requires_grad = False"])
for _fn in ("zeros", "ones"):
    _FORMS[_fn] = ([f"tuple of ints size, *, {_RANDINT_OPTIONS}"], [])
_FORMS["empty"] = ([f"tuple of ints size, *, torch.memory_format? memory_format = None, "
                    f"{_RANDINT_OPTIONS}"], [])
_FORMS["full"] = ([f"tuple of ints size, Number fill_value, *, {_RANDINT_OPTIONS}"], [])
_FORMS["tensor"] = (["object data, *, torch.dtype dtype = None, torch.device? device = None, "
                     "bool pin_memory = False, bool requires_grad = False"], [])
_FORMS["median"] = (["Tensor input", "Tensor input, int dim, bool keepdim = False, *, "
                     "tuple of Tensors out = None"], [], ["", "int dim, bool keepdim = False"])
for _fn in ("nansum", "nanmean"):
    _FORMS[_fn] = (["Tensor input, tuple of ints^? dim = None, bool keepdim = False, *, "
                    "torch.dtype dtype = None, Tensor out = None"], [])
_FORMS["nanmedian"] = (["Tensor input", "Tensor input, int dim, bool keepdim = False, *, "
                        "tuple of Tensors out = None"], [], ["", "int dim, bool keepdim = False"])
_FORMS["mode"] = (["Tensor input, int dim = -1, bool keepdim = False, *, "
                   "tuple of Tensors out = None"], [])
_FORMS["kthvalue"] = (["Tensor input, int k, int dim = -1, bool keepdim = False, *, "
                       "tuple of Tensors out = None"], [])
_FORMS["topk"] = (["Tensor input, int k, int dim = -1, bool largest = True, "
                   "bool sorted = True, *, tuple of Tensors out = None"], [])
for _fn in ("softmax", "log_softmax"):
    _FORMS[_fn] = (["Tensor input, int dim, torch.dtype? dtype = None"], [])
_FORMS["chunk"] = (["Tensor input, int chunks, int dim = 0"], [])
_FORMS["tril"] = (["Tensor input, int diagonal = 0, *, Tensor out = None"], [])
_FORMS["triu"] = _FORMS["tril"]
_FORMS["diff"] = (["Tensor input, int n = 1, int dim = -1, Tensor? prepend = None, "
                   "Tensor? append = None, *, Tensor out = None"], [])
for _fn in ("cat", "concat", "concatenate", "stack"):
    _FORMS[_fn] = (["tuple of Tensors tensors, int dim = 0, *, Tensor out = None"], [])
# the ops whose Tensor arguments take numbers too (python_arg_parser.cpp's
# should_allow_numbers_as_tensors)
_NUMBERS = frozenset(("add", "sub", "subtract", "mul", "multiply", "div", "divide",
                      "true_divide", "floor_divide"))
_OVERLOADS = {}


def _method_form(sig):
    if not sig.startswith("Tensor input"):
        return None
    sig = sig.removeprefix("Tensor input").removeprefix(", ")
    for out in (", *, Tensor out = None", ", Tensor out = None"):
        sig = sig.removesuffix(out)
    return sig


def overloads(fn, method):
    """The Overloads of op `fn` (its method form's with `method`) by its signatures in
    _FORMS, or None where it has none here."""
    key = fn, bool(method)
    ov = _OVERLOADS.get(key)
    if ov is None:
        if fn not in _FORMS:
            return None
        shown, hidden, *own = _FORMS[fn]
        if method:
            shown, hidden = (own[0], ()) if own else (
                [s for s in map(_method_form, forms) if s is not None]
                for forms in (shown, hidden))
        ov = _OVERLOADS[key] = Overloads(fn, shown, hidden, fn in _NUMBERS)
    return ov


def arg_error(fn, method, args, kwargs=None):
    """torch's TypeError for arguments op `fn` (its method form with `method`) does not
    take, by its signatures in _FORMS, or None where they bind (or the op has none here):
    called where an op's call failed, so that its error is torch's parser's."""
    ov = overloads(fn, method)
    if ov is None:
        return None
    kwargs = kwargs or {}
    for sig in ov.signatures:
        if sig.parse(fn, args, kwargs) is not None:
            return None
    return ov.error(args, kwargs)


_NUMBER_FORMS = {}   # fn -> None, or where its forms with out= take a Number (see below)


def takes(typ, v):
    """Whether torch's parser takes v for a parameter of type `typ` ("float", "int"...)."""
    return _CHECKS[typ](v)


class Unbound(TypeError):
    """Raised by a function under `parsed` whose arguments none of its forms takes, for
    `parsed` to word as torch's parser does."""

    def __init__(self, fn):
        super().__init__(f"{fn}(): arguments none of its forms takes")


def parsed(name, method=False, fast=None):
    """A factory `name` (its forms in _FORMS; with `method`, a Tensor method's, self first)
    whose call fails, in whatever way, where torch's parser would have refused its
    arguments: the parser's TypeError instead (torch binds them before anything else runs),
    one rule for every wrong type, missing or unknown argument.  Free until the call
    fails.  `fast`: its fast form, fast(args, kwargs), the result of the calls it takes
    whole (the common ones), None for the others (creation.py's "fast forms")."""
    def wrap(fn):
        if fast is None:
            @functools.wraps(fn)
            def call(*args, **kwargs):
                try:
                    return fn(*args, **kwargs)
                except Exception:
                    err = arg_error(name, method, args[1:] if method else args, kwargs)
                    if err is None:
                        raise
                    raise err from None
        else:
            @functools.wraps(fn)
            def call(*args, **kwargs):
                r = fast(args, kwargs)
                if r is not None:
                    return r
                try:
                    return fn(*args, **kwargs)
                except Exception:
                    err = arg_error(name, method, args[1:] if method else args, kwargs)
                    if err is None:
                        raise
                    raise err from None
            call._fast = fast   # (for out_arg's wrapper, which calls fn itself)
        call._parsed = fn   # (out_arg's wrapper applies the rule itself: one layer, not two)
        return call
    return wrap


def out_number_slots(fn):
    """None, or (positions, names) of the parameters that take a Number (or a float) in some
    form of op `fn` that takes out=, when another form takes one but not out= (where(c, x,
    0.0), remainder(2, x), bitwise_and(2, x), bernoulli(x, 0.5)): a number elsewhere, with
    out= given, binds no form (out_arg then asks arg_error for torch's message)."""
    if fn in _NUMBER_FORMS:
        return _NUMBER_FORMS[fn]
    forms = [[p.split(" = ")[0].rsplit(" ", 1) for p in f.split(", ") if p != "*"]
             for f in _FORMS.get(fn, ((),))[0]]
    takes_out = [any(p == ["Tensor", "out"] for p in f) for f in forms]
    slots = None
    if fn not in _NUMBERS and any(out for out in takes_out) and any(
            not out and any(p[0] in ("Number", "float") for p in f)
            for f, out in zip(forms, takes_out)):
        positions, names = set(), set()
        for f, out in zip(forms, takes_out):
            if not out:
                continue
            for i, (kind, name) in enumerate(f):
                if kind in ("Number", "float"):
                    positions.add(i)
                    names.add(name)
        slots = (frozenset(positions), frozenset(names))
    _NUMBER_FORMS[fn] = slots
    return slots


def missing(fn, names):
    """torch's parser's TypeError for the required parameters `names` of `fn` not given."""
    # (torch's plural: "1 ... arguments", "2 ... argument")
    return TypeError(f"{fn}() missing {len(names)} required positional argument"
                     f"{'s' if len(names) == 1 else ''}: " + ", ".join(f'"{n}"' for n in names))


_PY_MISSING = re.compile(r"([\w.]+)\(\) missing \d+ required positional arguments?: (.*)")


def as_native(err):
    """err, Python's TypeError for required arguments not given to a function that torch has
    as a native one, in torch's parser's words ('missing 1 required positional argument:
    'other'' -> 'missing 1 required positional arguments: "other"'); other errors as they
    are."""
    m = _PY_MISSING.fullmatch(str(err))
    # (torch's functions and methods written in Python keep Python's words: split)
    names = m and m.group(1) not in _PYTHON_METHODS and m.group(1) not in _PYTHON_FUNCTIONS \
        and m.group(1) not in _PYTHON_FUNCTIONS.values() and re.findall(r"'(\w+)'", m.group(2))
    return missing(m.group(1), names) if names else err


_PY_TAKES = re.compile(r"([\w.]+)\(\) takes (?:from \d+ to )?\d+ positional arguments? but "
                       r"(\d+) (?:was|were) given")


def too_many(err, fn, method, args, kwargs):
    """err, Python's TypeError for more positional arguments than function `fn` binds, as
    torch's parser reports the call fn(*args, **kwargs) (self first for a method, which its
    count leaves out; a method of no arguments is a C one there, "TensorBase.exp() takes no
    arguments (1 given)"; an op of several signatures lists them); other errors as they
    are."""
    m = _PY_TAKES.fullmatch(str(err))
    name = m and m.group(1)
    if m is None or name in _PYTHON_FUNCTIONS or name in _TORCH_FUNCTIONAL or \
            name in _PYTHON_FUNCTIONS.values() or method and "." in name:   # (Tensor.norm)
        return err
    own = args[1:] if method else args
    try:
        params = list(inspect.signature(fn).parameters.values())[1 if method else 0:]
    except (TypeError, ValueError):
        return err
    # (Python's own complaint counts every argument, self too: else a message fn raised
    # itself, already torch's, as permute's for its spread dims)
    if int(m.group(2)) != len(args) or any(p.kind is p.VAR_POSITIONAL for p in params):
        return err
    params = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(params) >= len(own):   # (not fn's own binding that failed)
        return err
    listed = arg_error(name, method, own, kwargs)
    if listed is not None:
        return listed
    if method and not params:
        return TypeError(f"TensorBase.{name}() takes no arguments ({len(own)} given)")
    # (a parameter defaulting to MISSING is a required one of torch's: mm's mat2)
    nreq = sum(p.default is p.empty or p.default is MISSING for p in params)
    return extra_args(name, nreq, len(params), len(own))


def extra_args(fn, nreq, nmax, given):
    """torch's parser's TypeError for `given` positional arguments to `fn`, of nreq required
    and nmax positional parameters (python_arg_parser.cpp's extra_args)."""
    takes = (f"takes from {nreq} to {nmax} positional arguments" if nreq != nmax else
             f"takes {nmax} positional argument{'' if nmax == 1 else 's'}")
    return TypeError(f"{fn}() {takes} but {given} {'was' if given == 1 else 'were'} given")


_PY_UNEXPECTED = re.compile(r"(\w+)\(\) got an unexpected keyword argument '\w+'")


def missing_first(err, fn, args, kwargs):
    """err, Python's TypeError for a keyword that function `fn` (of one signature in torch)
    does not take, or for required arguments not given, as torch's parser reports the call
    fn(*args, **kwargs) (self first for a method): the required arguments not given first
    ('missing 1 required positional arguments: "dim"', where Python names the keyword
    first), with the required ones after them given by keyword; other errors as they
    are."""
    m = _PY_UNEXPECTED.fullmatch(str(err)) or _PY_MISSING.fullmatch(str(err))
    # (torch's functions and methods written in Python keep Python's words: "Tensor.<name>",
    # _symeig)
    if m is None or m.group(1) in _PYTHON_FUNCTIONS or m.group(1) in _TORCH_FUNCTIONAL or \
            m.group(1) in _PYTHON_METHODS or m.group(1) in _PYTHON_FUNCTIONS.values() or \
            "." in m.group(1):
        return err
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return err
    names = []
    for i, p in enumerate(params):
        if p.kind is p.VAR_POSITIONAL:
            return err
        # (from the first one not given on, torch's parser names every required parameter,
        # those given by keyword too: complex(imag=t) lacks "real", "imag")
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and i >= len(args) and \
                (names or p.name not in kwargs) and (p.default is p.empty
                                                     or p.default is MISSING):
            names.append(p.name)
    return missing(m.group(1), names) if names else err


def missing_input(fn, method):
    """torch's TypeError of op `fn` called without its input, an op with one signature: its
    required parameters read off its Tensor method (torch.split, a Python function in torch,
    with Python's message)."""
    if fn == "split":
        return TypeError("split() missing 2 required positional arguments: 'tensor' and "
                         "'split_size_or_sections'")
    params = list(inspect.signature(method).parameters.values())[1:]
    names = ["input"] + [p.name for p in params if p.kind is p.VAR_POSITIONAL or p.kind in (
        p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and (p.default is p.empty
                                                        or p.default is MISSING)]
    return missing(fn, names)


def dim_form_error(fn, method, lead, dim, keepdim, **options):
    """torch's TypeError for a reduction whose keepdim only its dim form takes, where that
    form does not bind: keepdim given without dim, or a dim of None where the form's dim is
    an int (prod, median); None where they bind.  `lead`: the function's input; dim and
    keepdim read as positional, the options (dtype) as keywords where given."""
    if dim is not MISSING and dim is not None or dim is MISSING and keepdim is MISSING:
        return None
    kwargs = {k: v for k, v in options.items() if v is not None}
    if dim is MISSING:
        kwargs["keepdim"] = keepdim
    return arg_error(fn, method, lead + given(dim, None if dim is MISSING else keepdim),
                     kwargs)


def given(*values):
    """The positional arguments of a call whose parameters default to MISSING: those given."""
    return tuple(v for v in values if v is not MISSING)


# ---- the names Python's own binding errors print -----------------------------------------
def _copy(fn):
    g = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                           fn.__closure__)
    g.__kwdefaults__ = fn.__kwdefaults__
    g.__doc__ = fn.__doc__
    g.__dict__.update(fn.__dict__)
    return g


def _canonical(fn, names):
    """Which of the names a function is bound to keeps the function itself (its other names
    get copies): its own name, else its qualified name's last part, else the first."""
    own = fn.__name__.removeprefix("op_").removeprefix("torch_")
    for n in (fn.__name__, fn.__qualname__.rpartition(".")[2], own):
        if n in names:
            return n
    return min(names)


# torch's Tensor methods written in Python (torch/_tensor.py), whose errors name them
# "Tensor.<name>" (the others are its C methods: their bare names)
_PYTHON_METHODS = frozenset((
    "backward", "dim_order", "eig", "index", "is_shared", "istft", "lstsq", "lu",
    "module_load", "norm", "register_hook", "register_post_accumulate_grad_hook", "reinforce",
    "resize", "resize_as", "share_memory_", "solve", "split", "stft", "storage",
    "storage_type", "symeig", "to_sparse_coo", "unflatten", "unique", "unique_consecutive"))


# torch's top-level functions written in Python (torch/_linalg_utils.py: the removed solve,
# lstsq, eig, symeig, matrix_rank) -> the name their errors print (symeig is _symeig there)
_PYTHON_FUNCTIONS = {"solve": "solve", "lstsq": "lstsq", "eig": "eig", "symeig": "_symeig",
                     "matrix_rank": "matrix_rank"}


# torch's top-level functions written in Python (torch/functional.py's __all__): Python's own
# binding errors
_TORCH_FUNCTIONAL = frozenset((
    "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors",
    "cartesian_prod", "block_diag", "cdist", "chain_matmul", "einsum", "istft", "lu", "norm",
    "meshgrid", "pca_lowrank", "split", "stft", "svd_lowrank", "tensordot", "unique",
    "unique_consecutive", "unravel_index"))


def _rename(owner, items, module, qualified=lambda name: name):
    """Each function of items ((name, function) pairs) named `name` in its __qualname__, one
    copy per further name of the same function (set on owner by set_on); __module__ `module`
    (where pickle finds it by that name)."""
    groups = {}
    for name, fn in items:
        groups.setdefault(id(fn), (fn, []))[1].append(name)
    renamed = {}
    for fn, names in groups.values():
        keep = _canonical(fn, names)
        for name in names:
            qualname = qualified(name)
            own = qualname.rpartition(".")[2]   # (Tensor.backward's: backward; symeig's _symeig)
            if fn.__qualname__ == qualname and fn.__module__ == module and fn.__name__ == own:
                continue
            f = fn if name == keep else _copy(fn)
            # (__name__ as torch's too: torch.cholesky's is cholesky, not torch_cholesky)
            f.__name__, f.__qualname__, f.__module__ = own, qualname, module
            if f is not fn:
                renamed[name] = f
            # (a wrapper's arguments go on to the function it wraps, whose errors these are)
            inner = getattr(fn, "__wrapped__", None)
            while isinstance(inner, types.FunctionType) and "<locals>" in inner.__qualname__:
                inner.__qualname__ = name
                inner = getattr(inner, "__wrapped__", None)
    for name, f in renamed.items():
        owner(name, f)


def renamed(err, old, new):
    """err, a TypeError of a call of `old` that method `new` forwarded its arguments to (an
    alias, an in-place form), as new's own: with new's name where its message names old."""
    msg = str(err)
    return TypeError(new + msg[len(old):]) if msg.startswith(old + "()") else err


def name_as_torch(namespace, cls, methods_module):
    """Name the public functions of `namespace` (a module's globals) and the public methods
    of `cls` as torch's messages name them: Python's own errors for arguments a function does
    not take ("exp() got an unexpected keyword argument 'foo'", "missing 1 required
    positional argument", "takes 2 positional arguments but 3 were given") print its
    __qualname__, which was tapegrad's (op_exp, Tensor.sum, _two.<locals>.f); torch's
    methods written in Python are "Tensor.<name>" (_PYTHON_METHODS).  A function
    under several names (arccos and acos) gets a copy per further name.  Methods get
    __module__ `methods_module`, whose attributes are cls's (pickle finds them by name).
    Run before the wrappers of out_arg and numpy_names, which copy the names."""
    def public(fn, name):
        return (not name.startswith("_") and isinstance(fn, types.FunctionType)
                and fn.__module__.startswith(namespace["__name__"]))
    _rename(lambda name, f: setattr(cls, name, f),
            [(n, f) for n, f in vars(cls).items() if public(f, n)], methods_module,
            lambda name: f"{cls.__name__}.{name}" if name in _PYTHON_METHODS else name)
    _rename(namespace.__setitem__, [(n, f) for n, f in namespace.items() if public(f, n)
                                    and not (f.__module__ == methods_module
                                             and f.__qualname__ == n)],
            namespace["__name__"], lambda name: _PYTHON_FUNCTIONS.get(name, name))
