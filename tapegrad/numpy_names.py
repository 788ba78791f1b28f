"""numpy's argument names that torch's argument parser takes as its own: `axis` for `dim` and
`keepdims` for `keepdim` (`x.sum(axis=1)`, `torch.cat(xs, axis=0)`, `x.mean(axis=0,
keepdims=True)`), on Tensor's methods and the functions of the tapegrad namespace (not on
nn.functional's, which are Python functions in torch too, with no such aliases).  A function
with a `dim` or `keepdim` parameter gets a thin wrapper that renames them when a call passes
keywords (~0.1 us a call; out_arg's wrapper, where a function has one, renames them itself).  Also the keyword forms of the methods that take sizes or dims as
positional ints (`x.permute(dims=(1, 0))`, `x.view(size=(2, 3))`).

Likewise `x`, `a`, `x1` for `input` and `x2` for `other` on the functions (torch.sin(x=t),
torch.linalg.vector_norm(x=t)), and the parser's `self` for a Number operand of the
overloads that name it so (torch.pow(self=2, exponent=t)): renamed only after a call's
binding refused them (the wrappers' TypeError path: free otherwise)."""
import functools
import inspect
import types

from .errors import type_name
from .native_args import arg_error, as_native, missing_first, overloads, too_many, \
    _PYTHON_FUNCTIONS, _takes_number, _TORCH_FUNCTIONAL

_ALIASES = (("axis", "dim"), ("keepdims", "keepdim"))   # (tested inline by _with_aliases)
# and its names for the parameters `input` and `other` (python_arg_parser.cpp's
# numpy_compatibility_arg_names), in the order it looks for them: torch.sin(x=t),
# torch.add(x1=a, x2=b), torch.sum(a=t, axis=0); not torch's functions written in Python
_OPERAND_ALIASES = (("input", ("x", "a", "x1")), ("other", ("x2",)))
_IN_PYTHON = _TORCH_FUNCTIONAL | set(_PYTHON_FUNCTIONS)   # (torch.norm(x=t) is refused)
# the functions with an overload whose operand is a Number named self (`pow(Scalar self,
# Tensor exponent)`): torch.pow(self=2, exponent=t) binds it (tapegrad's name is input)
_NUMBER_SELF = frozenset((
    "pow", "float_power", "remainder", "xlogy", "special_xlogy", "special_xlog1py",
    "special_zeta", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
    "bitwise_right_shift", "bucketize", "searchsorted", "where"))


def _params(fn):
    code = fn.__code__
    return code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]


def _wants(fn):
    if not isinstance(fn, types.FunctionType) or getattr(fn, "_numpy_names", False):
        return False
    params = _params(fn)
    return any(name in params and alias not in params for alias, name in _ALIASES)


def takes_numpy_names(fn):
    """Whether fn (unwrapped) has a parameter of numpy's names itself (concatenate's axis)."""
    fn = inspect.unwrap(fn)
    return isinstance(fn, types.FunctionType) and any(
        alias in _params(fn) for alias, _ in _ALIASES)


def rename(fn, kwargs):
    """kwargs of a call of fn with numpy's names renamed to torch's (in place); an alias of
    a parameter fn lacks stays as given (torch's parser: x.softmax(0, keepdims=True) is an
    unexpected keyword 'keepdims', not 'keepdim')."""
    for alias, name in _ALIASES:
        if alias in kwargs:
            if name in kwargs:   # (torch's parser: then the alias is an unknown keyword)
                raise TypeError(f"{fn.__name__}() got an unexpected keyword argument "
                                f"'{alias}'")
            if _takes(fn, name):
                kwargs[name] = kwargs.pop(alias)


def _takes(fn, name):
    """Whether fn (unwrapped) may take keyword `name`: a parameter of that name, or **kwargs
    (max, min: their signatures bind it)."""
    inner = inspect.unwrap(fn)
    code = getattr(inner, "__code__", None)
    return code is None or bool(code.co_flags & inspect.CO_VARKEYWORDS) or name in _params(inner)


def operand_renamed(params, nargs, kwargs, number_self=False):
    """A copy of the keywords of a call with nargs positional arguments to a function of
    parameter names `params`, numpy's names for its input and other renamed as torch's
    parser reads them (with number_self also a Number given as self=, the function's
    _NUMBER_SELF overload), or None where there is none to rename.  A parameter given
    positionally or by its own name leaves the alias an unknown keyword, as torch's."""
    renamed = None
    if number_self and "self" in kwargs and "input" in params and \
            params.index("input") >= nargs and "input" not in kwargs and \
            _takes_number(kwargs["self"]):
        renamed = dict(kwargs)
        renamed["input"] = renamed.pop("self")
    for name, aliases in _OPERAND_ALIASES:
        if name in params and params.index(name) >= nargs and name not in kwargs:
            for alias in aliases:
                if alias in kwargs and alias not in params:
                    renamed = dict(kwargs) if renamed is None else renamed
                    renamed[name] = renamed.pop(alias)
                    break
    return renamed


def function_params(method, name=None):
    """The parameter names of the top-level function that calls Tensor method `method` (op
    `name`): where the method takes **kwargs (max, min), also the names of the op's
    signatures in native_args, which numpy's names may stand for (torch.max(t, x2=u))."""
    inner = inspect.unwrap(method)
    params = ("input",) + _params(inner)[1:]
    ov = name and inner.__code__.co_flags & inspect.CO_VARKEYWORDS and overloads(name, False)
    if ov:
        params += tuple(dict.fromkeys(p[1] for sig in ov.signatures for p in sig.params
                                      if p[1] not in params))
    return params


def _operand_params(fn):
    """fn's parameter names where numpy's names for input / other may stand for them, else
    None: renaming is retried after fn's binding refused the aliases, so none of them may
    have reached fn's body (by its **kwargs)."""
    inner = inspect.unwrap(fn)
    if not isinstance(inner, types.FunctionType):
        return None
    params = _params(inner)
    if inner.__code__.co_flags & inspect.CO_VARKEYWORDS:
        # (then only a required first `input`: without it, binding fails before the body)
        required = inner.__code__.co_argcount - len(inner.__defaults__ or ())
        return ("input",) if params[:1] == ("input",) and required else None
    return params if "input" in params or "other" in params else None


def retry_renamed(fn, args, kwargs, name=None):
    """kwargs renamed for fn (operand_renamed; `name`: torch's name of fn, for a Number
    self=), or None: the caller's retry after fn refused them with a TypeError (free until
    then)."""
    params = kwargs and _operand_params(fn)
    return operand_renamed(params, len(args), kwargs, name in _NUMBER_SELF) if params else None


def _parser_error(fn, method, args, kwargs, err):
    """torch's parser's TypeError for keywords fn does not take (its signatures in
    native_args; "received an invalid combination of arguments" where it has several), or
    Python's own err in torch's words (as_native, too_many)."""
    return kwargs and (arg_error(fn.__name__, method, args[1:] if method else args, kwargs)
                       or missing_first(err, fn, args, kwargs)) or as_native(
        too_many(err, fn, method, args, kwargs))


def takes_operand_names(name):
    """Whether torch's top-level function `name` takes numpy's names for input / other (one
    its parser binds, not one written in Python)."""
    return name not in _IN_PYTHON


def _with_aliases(fn, method=False, operands=False, name=None):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        given = kwargs   # (as given, for torch's messages: they name axis=, not dim=)
        if kwargs and ("axis" in kwargs or "keepdims" in kwargs):   # (_ALIASES, inline)
            kwargs = dict(kwargs)
            rename(fn, kwargs)
        try:
            return fn(*args, **kwargs)
        except TypeError as e:   # (free unless raised)
            renamed = operands and retry_renamed(fn, args, kwargs, name)
            if renamed:
                return call(*args, **renamed)
            err = _parser_error(fn, method, args, given, e)
            if err is e:
                raise
            raise err from None
    call._numpy_names = True
    return _positional_front(fn, call, method)


# the sentinel of a parameter _positional_front's caller did not give
_NOT_GIVEN = object()


def _positional_front(fn, call, method):
    """`call` (a wrapper of fn taking *args, **kwargs) behind a front of fn's own positional
    parameters, for a call that passes only positionals: fn called with them directly, as
    `call` would, without the packing and CALL_FUNCTION_EX of a *args forward (a ~0.25 us
    frame of every sum(1), softmax(1), unsqueeze(0) becomes ~0.1 us).  Keywords, or more
    positionals than fn takes, go to `call` as given.  A function with *args or **kwargs of
    its own keeps `call`."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) or \
            not 0 < code.co_argcount <= 6:
        return call
    make = _FRONT_MAKERS.get(code.co_argcount)
    if make is None:
        make = _FRONT_MAKERS[code.co_argcount] = _front_maker(code.co_argcount)
    front = functools.wraps(fn)(make(call, fn, method, _parser_error))
    front._numpy_names = True
    return front


_FRONT_MAKERS = {}   # positional parameter count -> _front_maker's function (one compile each)


def _front_maker(k):
    """make(call, fn, method, parser_error) -> the front of a function of k positional
    parameters (one source per k, compiled once: ~85 wrapped methods at import)."""
    names = [f"p{i}" for i in range(k)]
    given = f"tuple(p for p in ({', '.join(names)},) if p is not _NOT_GIVEN)"
    # (positional-only with a sentinel default: the given ones are a prefix, and a keyword
    # of a parameter's name lands in kwargs, so `call` sees the call exactly as made)
    lines = ["def make(call, fn, method, parser_error):",
             f"    def front({', '.join(n + '=_NOT_GIVEN' for n in names)}, /, *rest, **kwargs):",
             "        if kwargs or rest:"]
    # (the given prefix spelled out, as below: x.sum(dim=1) builds no tuple by a generator)
    for i in range(k):
        lines.append(f"            if {names[i]} is _NOT_GIVEN:")
        lines.append(f"                return call({''.join(n + ', ' for n in names[:i])}**kwargs)")
    lines += [f"            return call({', '.join(names)}, *rest, **kwargs)",
              "        try:"]
    for i in range(k):   # (from the first: a function may be called with no argument)
        lines.append(f"            if {names[i]} is _NOT_GIVEN:")
        lines.append(f"                return fn({', '.join(names[:i])})")
    lines += [f"            return fn({', '.join(names)})",
              "        except TypeError as e:   # (free unless raised: call's handling of it)",
              f"            err = parser_error(fn, method, {given}, {{}}, e)",
              "            if err is e:",
              "                raise",
              "            raise err from None",
              "    return front"]
    scope = {"_NOT_GIVEN": _NOT_GIVEN}
    exec(compile("\n".join(lines), f"<numpy_names front of {k} parameters>", "exec"), scope)
    return scope["make"]


# torch's keyword for the sizes or dims its parser also takes as positional ints (x.permute(
# dims=(1, 0)), x.reshape(shape=(2, 3))), of the methods that take them as *args here; and
# split's name for its first argument
_SEQUENCE_KEYWORDS = {"permute": "dims", "reshape": "shape", "view": "size", "expand": "size",
                      "tile": "dims", "repeat": "repeats", "flip": "dims",
                      "sum_to_size": "size"}
_RENAMED = {"split": ("split_size", "split_size_or_sections")}


def _with_sequence_keyword(fn, keyword):
    @functools.wraps(fn)
    def call(self, *args, **kwargs):
        if keyword in kwargs and not args:
            v = kwargs.pop(keyword)
            if not isinstance(v, (tuple, list)):
                # (by keyword the argument is the list itself: an int or a tensor is spread
                # only positionally; view's two forms listed)
                if fn.__name__ == "view":
                    raise arg_error("view", True, (), {keyword: v})
                raise TypeError(f"{fn.__name__}(): argument '{keyword}' must be tuple of ints, "
                                f"not {type_name(v)}")
            args = (v,)
        try:
            if not kwargs:   # (positionals alone, the common call: a plain call, not the
                n = len(args)   # CALL_FUNCTION_EX of fn(self, *args), ~0.15 us less)
                if n == 1:
                    return fn(self, args[0])
                if n == 2:
                    return fn(self, args[0], args[1])
                if n == 3:
                    return fn(self, args[0], args[1], args[2])
            return fn(self, *args, **kwargs)
        except TypeError as e:
            err = _parser_error(fn, True, (self,) + args, kwargs, e)
            if err is e:
                raise
            raise err from None
    return call


def _with_renamed(fn, old, new):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if old in kwargs and new not in kwargs:
            kwargs[new] = kwargs.pop(old)
        return fn(*args, **kwargs)
    return call


def _with_operand_names(fn, name, forms=None):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TypeError as e:   # (free unless raised)
            renamed = retry_renamed(fn, args, kwargs, name)
            if not renamed:
                # (Python's "missing" in torch's parser's words; with the function's
                # signatures in native_args, its parser's own complaint: eig(A=t) lacks
                # "input" before A is an unknown keyword)
                err = forms and arg_error(forms, False, args, kwargs) or as_native(
                    missing_first(e, fn, args, kwargs) if forms else e)
                if err is e:
                    raise
                raise err from None
        return fn(*args, **renamed)
    call._operand_names = True
    return call


def apply_operand_names(namespace, top_level=False, prefix="", forms_prefix=None):
    """Give the public functions of `namespace` (a module's globals) that have an `input` or
    `other` parameter numpy's names for them (those not already wrapped here or by out_arg,
    whose wrappers retry the names themselves; at the top level not torch's functions
    written in Python, which have no such aliases; elsewhere not the `torch_` forms a module
    keeps for the top level, wrapped there once named as torch's; `prefix`: the namespace's
    in torch's names of its functions, "special_").  With `forms_prefix` ("linalg_"), also
    those whose signatures native_args lists under that prefix, their binding errors then
    its parser's.  Returns {old function: its wrapper}, for other namespaces holding the
    same functions."""
    wrapped = {}
    for name, fn in list(namespace.items()):
        forms = forms_prefix and forms_prefix + name
        forms = forms if forms and overloads(forms, False) is not None else None
        if not name.startswith("_") and isinstance(fn, types.FunctionType) and \
                (top_level or not name.startswith("torch_")) and \
                (not top_level or takes_operand_names(name)) and \
                not getattr(fn, "_numpy_names", False) and \
                not getattr(fn, "_out_arg", False) and not getattr(fn, "_operand_names", False) \
                and (forms or _operand_params(fn)):
            namespace[name] = wrapped[fn] = _with_operand_names(fn, prefix + name, forms)
    return wrapped


def apply(namespace, cls):
    """Give the functions of `namespace` (a module's globals) and the methods of `cls` that
    take `dim` or `keepdim` numpy's names for them (a function of the namespace also when
    the method of its name does: the namespace's forms that forward to the methods, or
    carry out=, take **kwargs)."""
    methods = {name for name, fn in vars(cls).items()
               if not (name.startswith("__") and name.endswith("__")) and _wants(fn)}
    for name, fn in list(namespace.items()):
        # (out_arg's wrapper of a function renames them itself: no second wrapper)
        if not name.startswith("_") and isinstance(fn, types.FunctionType) and (
                name in methods or _wants(inspect.unwrap(fn))) and \
                not getattr(fn, "_numpy_names", False) and not getattr(fn, "_out_arg", False):
            namespace[name] = _with_aliases(fn, operands=takes_operand_names(name), name=name)
    for name in methods:
        setattr(cls, name, _with_aliases(vars(cls)[name], True))
    for name, keyword in _SEQUENCE_KEYWORDS.items():
        setattr(cls, name, _with_sequence_keyword(vars(cls)[name], keyword))
    for name, (old, new) in _RENAMED.items():
        setattr(cls, name, _with_renamed(vars(cls)[name], old, new))
