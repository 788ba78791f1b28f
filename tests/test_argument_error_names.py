"""The names Python's own binding errors print (an unexpected keyword, a missing or extra
positional argument) are torch's public names, not tapegrad's internal ones (op_exp,
Tensor.sum, _two.<locals>.f): native_args.name_as_torch."""
import pickle
import re
import warnings

import pytest

import tapegrad as tg

from torch_errors import error_of

# torch's functions that take no keywords at all (builtins: "torch.f() takes no keyword
# arguments"), and those whose Python form names a helper (_return_output)
_SKIP = {"set_default_dtype", "manual_seed", "set_default_device", "load", "save", "compile",
         "vmap", "cond", "set_grad_enabled", "use_deterministic_algorithms",
         "set_printoptions", "lu", "symeig", "unique", "unique_consecutive"}


def _error(lib, fn, method):
    x = lib.ones(3, 3, dtype=lib.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return error_of(lambda m: getattr(x, fn)(foo=1) if method else getattr(m, fn)(
            x, foo=1), lib)


def _named(msg):
    m = re.match(r"([\w.<>]+)\(\)", msg or "")
    return m and m.group(1)


def _public_names(owner):
    return sorted(n for n in dir(owner) if not n.startswith("_") and callable(
        getattr(owner, n, None)) and not isinstance(getattr(owner, n), type))


def test_functions_unexpected_keyword_as_torch():
    """Every top-level function torch refuses `foo=` with "f() got an unexpected keyword
    argument 'foo'" refuses it so here."""
    torch = pytest.importorskip("torch")
    wrong = []
    for name in _public_names(tg):
        if name in _SKIP or not hasattr(torch, name):
            continue
        theirs = _error(torch, name, False)
        if theirs is None or theirs[0] != "TypeError" or not theirs[1].startswith(
                f"{name}() got an unexpected keyword argument 'foo'"):
            continue
        if _error(tg, name, False) != theirs:
            wrong.append((name, _error(tg, name, False)))
    assert wrong == []


def test_methods_name_themselves_in_argument_errors():
    """A method's TypeError for an unknown keyword names the method (torch's name), never
    an internal function (op_abs, Tensor.acos for arccos, _two.<locals>.f)."""
    wrong = []
    for name in _public_names(tg.Tensor):
        err = _error(tg, name, True)
        if err is None or err[0] != "TypeError" or "foo" not in err[1]:
            continue
        shown = _named(err[1])
        if shown is not None and shown != name:
            wrong.append((name, err[1]))
    assert wrong == []


@pytest.mark.parametrize("src", [
    "m.exp(x, foo=1)", "m.exp(x, 1)", "m.maximum(x, x, foo=1)", "m.arccos(x, foo=1)",
    "m.cholesky(x, foo=1)", "m.sinc(x, foo=1)", "m.abs_(x, foo=1)", "m.maximum(x)"])
def test_function_argument_errors_as_torch(src):
    torch = pytest.importorskip("torch")

    def call(m):
        x = m.ones(3, 3, dtype=m.float64)
        return eval(src, {"m": m, "x": x})
    assert error_of(call, tg) == error_of(call, torch)


@pytest.mark.parametrize("name", ["sum", "exp", "arccos", "abs", "view", "clip"])
def test_renamed_methods_still_pickle(name):
    """A method named by its bare name is found by pickle (as torch's are)."""
    f = getattr(tg.Tensor, name)
    assert pickle.loads(pickle.dumps(f)) is f


def test_renamed_functions_pickle():
    for f in (tg.exp, tg.maximum, tg.cholesky, tg.arccos):
        assert pickle.loads(pickle.dumps(f)) is f
