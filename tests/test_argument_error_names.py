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
    """A method's TypeError for an unknown keyword names the method (torch's name: the bare
    name, "Tensor.<name>" for torch's methods written in Python), never an internal
    function (op_abs, Tensor.acos for arccos, _two.<locals>.f)."""
    torch = pytest.importorskip("torch")
    wrong = []
    for name in _public_names(tg.Tensor):
        err = _error(tg, name, True)
        if err is None or err[0] != "TypeError" or "foo" not in err[1]:
            continue
        theirs = getattr(getattr(torch.Tensor, name, None), "__qualname__", "")
        expected = f"Tensor.{name}" if theirs.startswith("Tensor.") else name
        shown = _named(err[1])
        if shown is not None and shown != expected:
            wrong.append((name, err[1]))
    assert wrong == []


@pytest.mark.parametrize("src", [
    "m.exp(x, foo=1)", "m.exp(x, 1)", "m.maximum(x, x, foo=1)", "m.arccos(x, foo=1)",
    "m.cholesky(x, foo=1)", "m.sinc(x, foo=1)", "m.abs_(x, foo=1)", "m.maximum(x)",
    "m.maximum(x, x, x)", "m.fmin(x, x, x, x)", "m.negative(x, x)", "m.split(x, 1, 0, 1)",
    "m.split(x, 1, foo=1)"])
def test_function_argument_errors_as_torch(src):
    torch = pytest.importorskip("torch")

    def call(m):
        x = m.ones(3, 3, dtype=m.float64)
        return eval(src, {"m": m, "x": x})
    assert error_of(call, tg) == error_of(call, torch)


# polygamma's and mvlgamma's methods (and in-place ones) are plain Python methods: Python's
# own words for a missing n / p, too many or unknown arguments ("missing 1 required positional
# argument: 'n'"); torch's parser's by their method forms now
@pytest.mark.parametrize("src", [
    "x.polygamma()", "x.polygamma(1, 2)", "x.polygamma(foo=1)", "x.polygamma('a')",
    "x.polygamma(n=1.5)", "x.polygamma_()", "x.polygamma_(1, 2)", "x.mvlgamma()",
    "x.mvlgamma(1, 2)", "x.mvlgamma(p=1.0)", "x.mvlgamma(1, foo=2)", "x.mvlgamma_()",
    "m.mvlgamma(x, p=1.0)", "x.mvlgamma(0)", "x.polygamma(2).tolist()"])
def test_polygamma_mvlgamma_method_errors_as_torch(src):
    torch = pytest.importorskip("torch")

    def call(m):
        return eval(src, {"m": m, "x": m.ones(3)})
    assert error_of(call, tg) == error_of(call, torch)
    if error_of(call, torch) is None:
        assert call(tg) == call(torch)


@pytest.mark.parametrize("name", ["sum", "exp", "arccos", "abs", "view", "clip",
                                  "polygamma", "mvlgamma_"])
def test_renamed_methods_still_pickle(name):
    """A method named by its bare name is found by pickle (as torch's are)."""
    f = getattr(tg.Tensor, name)
    assert pickle.loads(pickle.dumps(f)) is f


def test_renamed_functions_pickle():
    for f in (tg.exp, tg.maximum, tg.cholesky, tg.arccos):
        assert pickle.loads(pickle.dumps(f)) is f


def _idx(m):
    return m.zeros(3, 3, dtype=m.int64)


# torch's parser's "invalid combination" for a missing argument of an op with several
# signatures, and the function forms that take sizes as one argument (native_args._FORMS)
PARSER_CALLS = {
    "lerp_fn": lambda m, x: m.lerp(x, x),
    "lerp_method": lambda m, x: x.lerp(x),
    "lerp_ok": lambda m, x: x.lerp(x, 0.5),
    "where_fn": lambda m, x: m.where(x > 0, x),
    "where_method": lambda m, x: x.where(x > 0),
    "where_method_ok": lambda m, x: x.where(x > 0, 1.0),
    "where_alone": lambda m, x: m.where(x > 0),
    "scatter_method": lambda m, x: x.scatter(0, _idx(m)),
    "scatter_fn": lambda m, x: m.scatter(x, 0, _idx(m)),
    "scatter_reduce_kw": lambda m, x: x.scatter(0, _idx(m), reduce="add"),
    "scatter_ok": lambda m, x: x.scatter(0, _idx(m), value=2.0),
    "narrow_method": lambda m, x: x.narrow(0, 1),
    "narrow_fn": lambda m, x: m.narrow(x, 0, 1),
    "narrow_ok": lambda m, x: m.narrow(x, 0, 1, 1),
    "squeeze_fn_two_dims": lambda m, x: m.squeeze(x, 0, 2),
    "squeeze_method_two_dims": lambda m, x: x.squeeze(0, 2),
    "squeeze_fn_tuple": lambda m, x: m.squeeze(x, dim=(0,)),
    "permute_fn_spread": lambda m, x: m.permute(x, 1, 0),
    "permute_fn": lambda m, x: m.permute(x, (1, 0)),
    "reshape_fn_spread": lambda m, x: m.reshape(x, 9, 1),
    "reshape_fn_keyword": lambda m, x: m.reshape(x, shape=(9,)),
    "sum_method_bogus": lambda m, x: x.sum(foo=1),
    "sum_method_dim_bogus": lambda m, x: x.sum(dim=0, foo=1),
    "sum_method_str_dim": lambda m, x: x.sum(dim="a"),
    "mean_method_bogus": lambda m, x: x.mean(foo=1),
    "view_method_bogus": lambda m, x: x.view(foo=1),
    "view_size_and_dtype": lambda m, x: x.view(3, dtype=m.int64),
    "sum_method_axis": lambda m, x: x.sum(axis=0, keepdims=True),
    "bitwise_and_bogus": lambda m, x: m.bitwise_and(x.long(), foo=1),
    "bitwise_xor_bogus": lambda m, x: m.bitwise_xor(x.long(), x.long(), foo=1),
    "bitwise_shift_str": lambda m, x: m.bitwise_left_shift(x.long(), "a"),
    "bitwise_or_number_first": lambda m, x: m.bitwise_or(3, x.long()),
    "atan2_missing": lambda m, x: m.atan2(x),
    "gather_missing_two": lambda m, x: m.gather(x),
    "index_select_missing": lambda m, x: m.index_select(x, 0),
    "index_select_method_missing": lambda m, x: x.index_select(0),
    "gather_method_missing": lambda m, x: x.gather(0),
    "transpose_missing": lambda m, x: m.transpose(x, 0),
    "unsqueeze_missing": lambda m, x: m.unsqueeze(x),
    "softmax_missing": lambda m, x: m.softmax(x),
    "softmax_method_missing": lambda m, x: x.softmax(),
    "cumsum_missing": lambda m, x: m.cumsum(x),
    "split_missing_python_words": lambda m, x: m.split(x),
    # a wrong keyword of an op with several signatures (its invalid combination), and of one
    # whose required arguments are missing too (their absence first, as torch's parser)
    "prod_bogus": lambda m, x: x.prod(foo=1),
    "prod_fn_bogus": lambda m, x: m.prod(x, 0, foo=1),
    "std_bogus": lambda m, x: x.std(0, foo=1),
    "var_fn_bogus": lambda m, x: m.var(x, foo=1),
    "var_mean_bogus": lambda m, x: m.var_mean(x, 0, foo=1),
    "all_bogus": lambda m, x: x.all(foo=1),
    "any_fn_bogus": lambda m, x: m.any(x, 0, foo=1),
    "count_nonzero_keepdim": lambda m, x: x.count_nonzero(dim=1, keepdim=True),
    "count_nonzero_fn_keepdim": lambda m, x: m.count_nonzero(x, 0, keepdim=True),
    "quantile_bogus": lambda m, x: x.quantile(0.5, foo=1),
    "tensor_split_bogus": lambda m, x: m.tensor_split(x, foo=1),
    "index_fill_bogus": lambda m, x: x.index_fill(0, foo=1),
    "repeat_interleave_bogus": lambda m, x: m.repeat_interleave(x, 2, foo=1),
    "fmod_fn_bogus": lambda m, x: m.fmod(x, foo=1),
    "remainder_fn_bogus": lambda m, x: m.remainder(x, foo=1),
    "logsumexp_bogus": lambda m, x: x.logsumexp(foo=1),
    "gather_fn_bogus": lambda m, x: m.gather(x, 0, foo=1),
    "transpose_fn_bogus": lambda m, x: m.transpose(x, foo=1),
    "topk_bogus": lambda m, x: x.topk(foo=1),
    "index_add_bogus": lambda m, x: x.index_add(0, foo=1),
    "split_fn_bogus_python_words": lambda m, x: m.split(x, foo=1),
    "vmap_float_chunk": lambda m, x: m.vmap(lambda a: a, chunk_size=1.5)(x),
    "vmap_negative_chunk": lambda m, x: m.vmap(lambda a: a, chunk_size=-1.5),
    "vmap_str_chunk": lambda m, x: m.vmap(lambda a: a, chunk_size="2"),
}


@pytest.mark.parametrize("name", sorted(PARSER_CALLS))
def test_parser_errors_as_torch(name):
    torch = pytest.importorskip("torch")

    def outcome(m):
        x = m.ones(3, 3, dtype=m.float64)
        err = error_of(lambda m: PARSER_CALLS[name](m, x), m)
        if err is not None:
            return err
        r = PARSER_CALLS[name](m, x)
        return tuple(r.shape) if hasattr(r, "shape") else type(r).__name__
    assert outcome(tg) == outcome(torch)
