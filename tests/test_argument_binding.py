"""Arguments torch binds by keyword only, or only of one type, are refused as torch refuses
them (its TypeError), never taken positionally or silently read another way: the
differential argument-binding audit (one argument of a valid call perturbed at a time)."""
import numpy as np
import pytest

import tapegrad as tg
from torch_errors import assert_same_error, error_of


def _x(m):
    return m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


# the factories' dtype, device, requires_grad and the like are keyword-only in torch: a
# dtype given positionally was taken as the dtype (full((2,), 1.5, float64) -> float64)
KEYWORD_ONLY_FACTORIES = {
    "full": lambda m: m.full((2,), 1.5, m.float64),
    "full None": lambda m: m.full((2,), 1.5, None),
    "tensor": lambda m: m.tensor([1.0], m.float64),
    "as_tensor": lambda m: m.as_tensor([1.0], m.float64),
    "zeros_like": lambda m: m.zeros_like(_x(m), m.float64),
    "ones_like": lambda m: m.ones_like(_x(m), m.float64),
    "empty_like": lambda m: m.empty_like(_x(m), m.float64),
    "full_like": lambda m: m.full_like(_x(m), 2.0, m.float64),
    "new_full": lambda m: _x(m).new_full((2,), 3.0, m.float64),
    "new_tensor": lambda m: _x(m).new_tensor([1, 2], m.float64),
    "arange": lambda m: m.arange(0, 5, 1, m.float64),
    "arange None": lambda m: m.arange(1, 7, 2, None),
    "eye": lambda m: m.eye(3, 3, m.float64),
    "eye None": lambda m: m.eye(2, 3, None),
    "linspace": lambda m: m.linspace(0, 1, 5, m.float64),
}
# (Python's own count of positional arguments names self for a method: torch's C methods'
# count does not; their messages are compared where they are a function's)
_METHODS = {"new_full", "new_tensor"}
_PYTHON_COUNTS = {"rand_like", "randn_like"}


@pytest.mark.parametrize("name", sorted(KEYWORD_ONLY_FACTORIES))
def test_keyword_only_factory_options_as_torch(name):
    torch = pytest.importorskip("torch")
    call = KEYWORD_ONLY_FACTORIES[name]
    theirs = error_of(call, torch)
    assert theirs is not None and theirs[0] == "TypeError"
    ours = error_of(call, tg)
    if name in _METHODS:
        assert ours is not None and ours[0] == "TypeError", ours
    else:
        assert ours == theirs


@pytest.mark.parametrize("name", ["rand_like", "randn_like"])
def test_random_like_options_keyword_only(name):
    # (torch's parser: no form takes a second positional argument, so it lists them)
    with pytest.raises(TypeError, match=r"received an invalid combination of arguments - "
                                        r"got \(Tensor, torch.dtype\)"):
        getattr(tg, name)(_x(tg), tg.float64)
    assert getattr(tg, name)(_x(tg), dtype=tg.float64).dtype is tg.float64


def test_factory_options_by_keyword_still_bind():
    assert tg.full((2,), 1.5, dtype=tg.float64).dtype is tg.float64
    assert tg.arange(0, 5, 1, dtype=tg.float64).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert tg.eye(2, 3, dtype=tg.float64).shape == (2, 3)
    assert tg.linspace(0, 1, 3, dtype=tg.float64).dtype is tg.float64
    assert tg.full_like(_x(tg), 2.0, dtype=tg.int64).dtype is tg.int64
    with pytest.raises(TypeError, match=r"received an invalid combination of arguments - "
                                        r"got \(int, int, int, torch.dtype\)"):
        tg.arange(0, 5, 1, tg.float64)


# dtype= of sum/mean/prod/nansum, force= of numpy, memory_format= of clone/contiguous are
# keyword-only in torch: given positionally they were taken (x.sum(1, True, float64) summed
# in float64, x.clone(None) cloned)
KEYWORD_ONLY_METHODS = {
    "sum dtype": lambda m: _x(m).sum(1, True, m.float64),
    "sum None": lambda m: _x(m).sum(1, False, None),
    "mean dtype": lambda m: _x(m).mean(1, True, m.float64),
    "prod dtype": lambda m: _x(m).prod(1, True, m.float64),
    "nansum dtype": lambda m: _x(m).nansum(1, True, m.float64),
    "numpy force": lambda m: _x(m).numpy(False),
    "clone": lambda m: _x(m).clone(None),
    "contiguous": lambda m: _x(m).contiguous(None),
}
# their function forms, whose messages are torch's parser's
KEYWORD_ONLY_FUNCTIONS = {
    "sum": lambda m: m.sum(_x(m), 1, True, m.float64),
    "mean": lambda m: m.mean(_x(m), 1, True, m.float64),
    "prod": lambda m: m.prod(_x(m), 1, True, m.float64),
    "clone": lambda m: m.clone(_x(m), None),
}


@pytest.mark.parametrize("name", sorted(KEYWORD_ONLY_METHODS))
def test_keyword_only_method_options_refused_as_torch(name):
    torch = pytest.importorskip("torch")
    call = KEYWORD_ONLY_METHODS[name]
    assert error_of(call, torch)[0] == "TypeError"
    ours = error_of(call, tg)
    assert ours is not None and ours[0] == "TypeError", ours


@pytest.mark.parametrize("name", sorted(KEYWORD_ONLY_FUNCTIONS))
def test_keyword_only_function_options_as_torch(name):
    torch = pytest.importorskip("torch")
    call = KEYWORD_ONLY_FUNCTIONS[name]
    assert_same_error(call, torch)


def test_keyword_only_method_options_by_keyword():
    x = _x(tg)
    with pytest.raises(TypeError, match="positional"):
        x.sum(1, True, tg.float64)
    assert x.sum(1, True, dtype=tg.float64).dtype is tg.float64
    assert x.prod(1, dtype=tg.float64).dtype is tg.float64
    assert x.numpy(force=True).shape == (2, 3)
    assert x.clone(memory_format=tg.preserve_format).tolist() == x.tolist()


# max/min bind as torch's parser: max(), max(Tensor other), max(int dim, bool keepdim) in
# that order. A 0-d integer tensor with keepdim (or as dim=) is a dim: it was taken as
# `other` and keepdim ignored (an elementwise maximum); keepdim only takes a bool
EXTREME_CALLS = {
    "tensor dim keepdim": lambda m: _x(m).max(m.tensor(1), True),
    "tensor dim no keepdim": lambda m: _x(m).min(m.tensor(1), False),
    "tensor dim=": lambda m: _x(m).max(dim=m.tensor(1)),
    "tensor other": lambda m: _x(m).max(m.tensor(1)),
    "float tensor dim": lambda m: _x(m).max(m.tensor(1.0), True),
    "keepdim int": lambda m: _x(m).max(1, 1),
    "keepdim= int": lambda m: _x(m).min(1, keepdim=1),
    "keepdim= None": lambda m: _x(m).max(1, keepdim=None),
    "extra": lambda m: _x(m).max(1, True, 1),
    "None": lambda m: _x(m).max(None),
    "other and dim": lambda m: _x(m).max(dim=1, keepdim=True, other=_x(m)),
    "function keepdim int": lambda m: m.max(_x(m), 1, 1),
    "function tensor dim": lambda m: m.min(_x(m), m.tensor(0), True),
    "usual": lambda m: _x(m).max(1, keepdim=True),
    "axis": lambda m: _x(m).min(axis=0),
}


def _result(call, m):
    err = error_of(call, m)
    if err is not None:
        return err
    r = call(m)
    return [(tuple(t.shape), t.tolist()) for t in (r if isinstance(r, tuple) else (r,))]


@pytest.mark.parametrize("name", sorted(EXTREME_CALLS))
def test_max_min_bind_as_torch(name):
    torch = pytest.importorskip("torch")
    call = EXTREME_CALLS[name]
    assert _result(call, tg) == _result(call, torch)


def test_max_min_tensor_dim_and_keepdim():
    x = _x(tg)
    values, indices = x.max(tg.tensor(1), True)
    assert values.tolist() == [[3.0], [6.0]] and indices.tolist() == [[2], [2]]
    assert x.max(tg.tensor(1)).shape == (2, 3)      # (a lone tensor: the maximum)
    with pytest.raises(TypeError, match="argument 'keepdim' must be bool, not int"):
        x.min(0, keepdim=1)


# norm's p / ord is torch's Scalar: a numpy number or a 0-d tensor is read as the number
# (it raised "argument 'ord' must be Number, not int64")
NORM_CALLS = {
    "method numpy int": lambda m: _x(m).norm(np.int64(2)),
    "method 0-d tensor": lambda m: _x(m).norm(m.tensor(2.0)),
    "method p= numpy float": lambda m: _x(m).norm(p=np.float32(3), dim=1),
    "function": lambda m: m.norm(_x(m), np.int64(1), 1),
    "vector_norm": lambda m: m.linalg.vector_norm(_x(m), m.tensor(1)),
    "linalg.norm one dim": lambda m: m.linalg.norm(_x(m), np.int64(2), 1),
    "linalg.norm vector": lambda m: m.linalg.norm(_x(m)[0], np.float64(3)),
}


@pytest.mark.parametrize("name", sorted(NORM_CALLS))
def test_norm_order_numbers_as_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = _result(NORM_CALLS[name], tg), _result(NORM_CALLS[name], torch)
    assert len(ours) == len(theirs) == 1 and ours[0][0] == theirs[0][0]
    np.testing.assert_allclose(ours[0][1], theirs[0][1], rtol=1e-6)


def test_norm_order_numbers():
    x = _x(tg)
    assert x.norm(np.int64(1)).item() == 21.0
    assert x.norm(tg.tensor(1), dim=1).tolist() == [6.0, 15.0]
    assert x.norm(True).item() == 21.0     # (a bool is a Number too: 1)
    with pytest.raises(TypeError, match="argument 'ord' must be Number, not Tensor"):
        tg.linalg.vector_norm(x, tg.ones(2))


# repeat_interleave's repeats is a Tensor or an int: a float or a bool was read by int()
# (x.repeat_interleave(True) repeated each element once, 2.0 twice)
REPEATS_CALLS = {
    "method bool": lambda m: _x(m).repeat_interleave(True),
    "method float": lambda m: _x(m).repeat_interleave(2.0),
    "method float dim=": lambda m: _x(m).repeat_interleave(2.0, dim=1),
    "method bool dim": lambda m: _x(m).repeat_interleave(True, 1),
    "method str": lambda m: _x(m).repeat_interleave("2"),
    "function float": lambda m: m.repeat_interleave(_x(m), 2.0),
    "function bool dim": lambda m: m.repeat_interleave(_x(m), False, 0),
    "function output_size": lambda m: m.repeat_interleave(_x(m), 1.5, output_size=3),
}


@pytest.mark.parametrize("name", sorted(REPEATS_CALLS))
def test_repeat_interleave_repeats_as_torch(name):
    torch = pytest.importorskip("torch")
    call = REPEATS_CALLS[name]
    assert_same_error(call, torch)


def test_repeat_interleave_int_repeats():
    x = _x(tg)
    assert x.repeat_interleave(np.int64(2)).shape == (12,)
    assert x.repeat_interleave(tg.tensor(2), dim=1).shape == (2, 6)
    with pytest.raises(TypeError, match=r"got \(bool\), but expected one of"):
        x.repeat_interleave(True)


# cosine_similarity's dim and one_hot's num_classes are ints: dim=None reduced every dim
# (a number where torch raises), a bool or a float num_classes was read as a count
INT_ARGUMENT_CALLS = {
    "cosine_similarity dim=None": lambda m: m.nn.functional.cosine_similarity(
        _x(m), _x(m), dim=None),
    "cosine_similarity dim=tuple": lambda m: m.nn.functional.cosine_similarity(
        _x(m), _x(m), dim=(1,)),
    "cosine_similarity dim=True": lambda m: m.cosine_similarity(_x(m), _x(m), dim=True),
    "one_hot float": lambda m: m.nn.functional.one_hot(m.tensor([0, 2]), 3.0),
    "one_hot bool": lambda m: m.nn.functional.one_hot(m.tensor([0, 2]), True),
}


@pytest.mark.parametrize("name", sorted(INT_ARGUMENT_CALLS))
def test_int_arguments_as_torch(name):
    torch = pytest.importorskip("torch")
    call = INT_ARGUMENT_CALLS[name]
    assert_same_error(call, torch)


def test_int_arguments_take_ints():
    F = tg.nn.functional
    assert F.cosine_similarity(_x(tg), _x(tg), dim=tg.tensor(1)).shape == (2,)
    assert F.one_hot(tg.tensor([0, 2]), np.int64(4)).shape == (2, 4)
    with pytest.raises(TypeError, match="argument 'dim' must be int, not NoneType"):
        F.cosine_similarity(_x(tg), _x(tg), dim=None)


# a dim given as a 0-d integer tensor is the int it holds: tensor._dim compared the tensor
# itself, so x.squeeze(tensor(0)) found no dim and returned x's shape (a float one: no dim)
TENSOR_DIM_CALLS = {
    "squeeze": lambda m: _x(m)[None].squeeze(m.tensor(0)),
    "squeeze negative": lambda m: _x(m)[None].squeeze(m.tensor(-3)),
    "squeeze float": lambda m: _x(m)[None].squeeze(m.tensor(0.0)),
    "unsqueeze": lambda m: _x(m).unsqueeze(m.tensor(0)),
    "transpose": lambda m: _x(m).transpose(m.tensor(0), 1),
    "select": lambda m: _x(m).select(m.tensor(1), 0),
}


@pytest.mark.parametrize("name", sorted(TENSOR_DIM_CALLS))
def test_tensor_dims_as_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = _result(TENSOR_DIM_CALLS[name], tg), _result(TENSOR_DIM_CALLS[name], torch)
    if isinstance(theirs, tuple):   # (an error: its type; the message is torch's parser's)
        assert isinstance(ours, tuple) and ours[0] == theirs[0]
    else:
        assert ours == theirs


def test_squeeze_tensor_dim():
    x = tg.ones(1, 3)
    assert x.squeeze(tg.tensor(0)).shape == (3,)
    assert x.squeeze(np.int64(-2)).shape == (3,)
    with pytest.raises(TypeError):
        x.squeeze(tg.tensor(0.0))


# rand / randn dropped every keyword they did not know: torch.randn(2, require_grad=True)
# (a typo) drew a tensor without grad, pin_memory=True was ignored
DRAW_CALLS = {
    "typo": lambda m: m.randn(2, 3, require_grad=True),
    "unknown": lambda m: m.rand(2, foo=1),
    "unknown with size=": lambda m: m.rand(size=(2, 3), foo=1),
    "names": lambda m: m.rand(2, names=None),
    "pin_memory": lambda m: m.randn(2, pin_memory=True),
    "size twice": lambda m: m.rand(2, size=(2,)),
    "no size": lambda m: m.randn(),
}


@pytest.mark.parametrize("name", sorted(DRAW_CALLS))
def test_draw_keywords_as_torch(name):
    torch = pytest.importorskip("torch")
    call = DRAW_CALLS[name]
    assert_same_error(call, torch)


def test_draw_keywords():
    assert tg.randn(2, layout=tg.strided, pin_memory=False).shape == (2,)
    assert tg.rand(size=(2, 3), requires_grad=True).requires_grad
    with pytest.raises(TypeError, match=r"got \(int, require_grad=bool\)"):
        tg.randn(2, require_grad=True)


# round's decimals is a keyword-only int: x.round(1) rounded to one digit, decimals=1.5
# scaled by 10 ** 1.5, decimals=None rounded to an integer, where torch raises TypeError
ROUND_CALLS = {
    "decimals float": lambda m: _x(m).round(decimals=1.5),
    "decimals None": lambda m: _x(m).round(decimals=None),
    "decimals bool": lambda m: _x(m).round(decimals=True),
    "in place float": lambda m: _x(m).round_(decimals=1.0),
    # (the function's two forms listed, as torch's parser lists them)
    "function positional": lambda m: m.round(_x(m), 1),
    "function decimals float": lambda m: m.round(_x(m), decimals=1.5),
}


@pytest.mark.parametrize("name", sorted(ROUND_CALLS))
def test_round_decimals_as_torch(name):
    torch = pytest.importorskip("torch")
    call = ROUND_CALLS[name]
    assert_same_error(call, torch)


def test_round_decimals_keyword_only_int():
    x = tg.tensor([1.25, 2.5])
    with pytest.raises(TypeError, match="positional"):
        x.round(1)
    assert x.round(decimals=np.int64(1)).tolist() == pytest.approx([1.2, 2.5])
    assert x.round(decimals=tg.tensor(1)).tolist() == pytest.approx([1.2, 2.5])


# a bool flag (keepdim, largest, descending) takes only a bool in torch's parser: an int,
# None or a numpy bool was taken for its truth (x.sum(1, 1) kept the dim)
BOOL_FLAG_CALLS = {
    "sum int": lambda m: _x(m).sum(1, 1),
    "sum None": lambda m: _x(m).sum(1, None),
    "sum numpy bool": lambda m: _x(m).sum(1, np.bool_(True)),
    "sum keepdim= int": lambda m: _x(m).sum(dim=1, keepdim=1),
    "sum function": lambda m: m.sum(_x(m), 1, 1),
    "mean int": lambda m: _x(m).mean(1, 1),
    "argmin keepdim= None": lambda m: _x(m).argmin(1, keepdim=None),
    "argmax int": lambda m: _x(m).argmax(1, 1),
    "amax int": lambda m: _x(m).amax(1, 1),
    "amin None": lambda m: _x(m).amin(1, None),
    "logsumexp int": lambda m: _x(m).logsumexp(1, 1),
    "median int": lambda m: _x(m).median(1, 1),
    "all int": lambda m: _x(m).all(1, 1),
    "all None": lambda m: _x(m).all(1, None),
    "any int": lambda m: _x(m).any(1, 1),
    "std keepdim int": lambda m: _x(m).std(1, False, 1),
    "std keepdim None": lambda m: _x(m).std(1, False, None),
    "var unbiased int": lambda m: _x(m).var(1, 1),
    "std function None": lambda m: m.std(_x(m), 1, False, None),
    "topk largest int": lambda m: _x(m).topk(2, 1, 1, True),
    "topk sorted int": lambda m: _x(m).topk(2, 1, True, 1),
    "sort numpy bool": lambda m: _x(m).sort(0, np.bool_(True)),
    "nansum int": lambda m: _x(m).nansum(1, 1),
    "nansum keepdim= int": lambda m: _x(m).nansum(keepdim=1),
    "nanmean int": lambda m: _x(m).nanmean(1, 1),
    "prod None": lambda m: _x(m).prod(1, None),
    "kthvalue None": lambda m: _x(m).kthvalue(1, 1, None),
    "mode int": lambda m: _x(m).mode(1, 1),
    "nanmedian None": lambda m: _x(m).nanmedian(1, None),
    "norm int": lambda m: _x(m).norm(2, 1, 1),
    "norm keepdim= None": lambda m: _x(m).norm(dim=1, keepdim=None),
    "vector_norm None": lambda m: m.linalg.vector_norm(_x(m), 2, 1, None),
    "var_mean int": lambda m: m.var_mean(_x(m), 1, True, 1),
    "std_mean None": lambda m: m.std_mean(_x(m), 1, False, None),
    "std_mean keepdim= None": lambda m: m.std_mean(_x(m), 1, keepdim=None),
    "var_mean unbiased int": lambda m: m.var_mean(_x(m), 1, 1),
}


@pytest.mark.parametrize("name", sorted(BOOL_FLAG_CALLS))
def test_bool_flags_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(BOOL_FLAG_CALLS[name], torch)


def test_bool_flags_take_bools():
    x = _x(tg)
    assert x.sum(1, True).shape == (2, 1)
    assert x.amax(1, keepdim=True).shape == (2, 1)
    assert x.std(1, False, True).shape == (2, 1)
    assert x.all(1, False).shape == (2,)
    assert x.topk(2, 1, False, True).values.tolist() == [[1.0, 2.0], [4.0, 5.0]]
    assert x.argmin(None, False).item() == 0
    assert x.norm(2, 1, True).shape == (2, 1)
    assert tg.var_mean(x, 1, True, True)[0].shape == (2, 1)
    assert tg.std_mean(x, 1, keepdim=False)[1].tolist() == [2.0, 5.0]


# a 0-d float tensor is no int to torch's parser (it has __index__, which refuses it): it
# was taken as its value (x.softmax(tensor(1.)) normalized along dim 1)
FLOAT_TENSOR_INT_CALLS = {
    "softmax": lambda m: _x(m).softmax(m.tensor(1.0)),
    "log_softmax": lambda m: _x(m).log_softmax(m.tensor(1.0)),
    "softmax function": lambda m: m.softmax(_x(m), m.tensor(1.0)),
    "log_softmax function": lambda m: m.log_softmax(_x(m), m.tensor(1.0), m.float64),
    "F.softmax": lambda m: m.nn.functional.softmax(_x(m), m.tensor(1.0)),
    "chunk": lambda m: _x(m).chunk(m.tensor(2.0)),
    "chunk function": lambda m: m.chunk(_x(m), m.tensor(2.0)),
    "narrow start": lambda m: _x(m).narrow(1, m.tensor(0.0), 2),
    "narrow bool start": lambda m: m.narrow(_x(m), 1, m.tensor(True), 2),
    "narrow 1-d start": lambda m: _x(m).narrow(1, m.tensor([0]), 2),
    "tril": lambda m: _x(m).tril(m.tensor(0.0)),
    "tril function": lambda m: m.tril(_x(m), m.tensor(0.0)),
    "triu function": lambda m: m.triu(_x(m), diagonal=m.tensor(0.0)),
    "glu": lambda m: m.nn.functional.glu(_x(m).T, m.tensor(1.0)),
}


@pytest.mark.parametrize("name", sorted(FLOAT_TENSOR_INT_CALLS))
def test_float_tensors_are_no_ints_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(FLOAT_TENSOR_INT_CALLS[name], torch)


def test_integer_tensors_are_ints():
    x = _x(tg)
    assert x.softmax(tg.tensor(1)).shape == (2, 3)
    assert len(x.chunk(tg.tensor(2), 1)) == 2
    assert x.narrow(1, tg.tensor(1), 2).tolist() == [[2.0, 3.0], [5.0, 6.0]]
    assert x.tril(tg.tensor(0)).tolist() == [[1.0, 0.0, 0.0], [4.0, 5.0, 0.0]]


# an int argument given a bool or a float, a bool one given an int or None: torch's parser
# refuses them (x.diff(True) took one difference, linspace(0, 1, 5.0) five steps)
INT_AND_BOOL_ARGUMENT_CALLS = {
    "diff bool n": lambda m: _x(m).diff(True),
    "diff n=": lambda m: _x(m).diff(n=True),
    "diff float dim": lambda m: _x(m).diff(1, 1.0),
    "diff function": lambda m: m.diff(_x(m), True),
    "diff function n=": lambda m: m.diff(_x(m), n=1.0),
    "unfold bool step": lambda m: _x(m).unfold(1, 2, True),
    "unfold float size": lambda m: _x(m).unfold(1, 2.0, 1),
    "unfold bool dimension": lambda m: _x(m).unfold(True, 2, 1),
    "multinomial float": lambda m: m.multinomial(m.tensor([0.5, 0.5]), 2.0),
    "multinomial float tensor": lambda m: m.multinomial(m.tensor([0.5, 0.5]), m.tensor(2.0)),
    "multinomial method": lambda m: m.tensor([0.5, 0.5]).multinomial(2.0),
    "multinomial replacement int": lambda m: m.tensor([0.5, 0.5]).multinomial(2, 1),
    "multinomial function replacement int": lambda m: m.multinomial(m.tensor([0.5, 0.5]), 2, 1),
    "linspace float steps": lambda m: m.linspace(0, 1, 5.0),
    "linspace bool steps": lambda m: m.linspace(0, 1, True),
    "logspace float steps": lambda m: m.logspace(0, 1, 5.0),
    "tensor requires_grad int": lambda m: m.tensor([1.0], requires_grad=1),
    "tensor requires_grad None": lambda m: m.tensor([1.0], requires_grad=None),
}


@pytest.mark.parametrize("name", sorted(INT_AND_BOOL_ARGUMENT_CALLS))
def test_int_and_bool_arguments_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(INT_AND_BOOL_ARGUMENT_CALLS[name], torch)


def test_int_and_bool_arguments_take_their_types():
    x = _x(tg)
    assert x.diff(1, 0).tolist() == [[3.0, 3.0, 3.0]]
    assert x.unfold(1, 2, 1).shape == (2, 2, 2)
    assert tg.tensor([0.5, 0.5]).multinomial(tg.tensor(2), True).shape == (2,)
    assert tg.linspace(0, 1, tg.tensor(3)).tolist() == [0.0, 0.5, 1.0]
    assert tg.logspace(0, 1, 2).tolist() == [1.0, 10.0]
    assert tg.tensor([1.0], requires_grad=True).requires_grad


# an extra positional None matches none of torch's forms: it was read as the argument left
# out (arange(5, None) as arange(5), matmul(a, b, None) as matmul(a, b))
EXTRA_NONE_CALLS = {
    "arange end None": lambda m: m.arange(5, None),
    "arange step None": lambda m: m.arange(1, 5, None),
    "eye m None": lambda m: m.eye(3, None),
    "eye float tensor m": lambda m: m.eye(2, m.tensor(3.0)),
    "matmul": lambda m: m.matmul(_x(m), _x(m).T, None),
    "bernoulli": lambda m: m.bernoulli(m.tensor([0.5]), None),
    "bernoulli method": lambda m: m.tensor([0.5]).bernoulli(None),
}


@pytest.mark.parametrize("name", sorted(EXTRA_NONE_CALLS))
def test_extra_none_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(EXTRA_NONE_CALLS[name], torch)


def test_arguments_left_out_still_bind():
    assert tg.arange(3).tolist() == [0, 1, 2]
    assert tg.arange(end=3).tolist() == [0, 1, 2]
    assert tg.eye(2).shape == (2, 2) and tg.eye(2, m=3).shape == (2, 3)
    assert tg.matmul(_x(tg), _x(tg).T).shape == (2, 2)
    assert tg.bernoulli(tg.tensor([1.0])).tolist() == [1.0]
    assert tg.tensor([1.0]).bernoulli(1.0).tolist() == [1.0]


# nn.functional's calls of torch's native ops bind as those do: dropout's `train` (its
# _VF.dropout's name) only a bool, cross_entropy's and nll_loss's ignore_index only an int
FUNCTIONAL_ARGUMENT_CALLS = {
    "dropout training None": lambda m: m.nn.functional.dropout(_x(m), 0.0, None),
    "dropout training int": lambda m: m.nn.functional.dropout(_x(m), 0.5, 1),
    "dropout training= None": lambda m: m.nn.functional.dropout(_x(m), 0.5, training=None),
    "cross_entropy float ignore_index": lambda m: m.nn.functional.cross_entropy(
        _x(m), m.tensor([0, 1]), ignore_index=1.0),
    "cross_entropy bool ignore_index": lambda m: m.nn.functional.cross_entropy(
        _x(m), m.tensor([0, 1]), ignore_index=True),
    "cross_entropy probabilities": lambda m: m.nn.functional.cross_entropy(
        _x(m), _x(m).softmax(1), ignore_index=1.0),
    "CrossEntropyLoss": lambda m: m.nn.CrossEntropyLoss(ignore_index=1.0)(_x(m), m.tensor([0, 1])),
    "nll_loss float ignore_index": lambda m: m.nn.functional.nll_loss(
        _x(m).log_softmax(1), m.tensor([0, 1]), ignore_index=1.0),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONAL_ARGUMENT_CALLS))
def test_functional_arguments_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(FUNCTIONAL_ARGUMENT_CALLS[name], torch)


def test_functional_arguments_take_their_types():
    F, x, t = tg.nn.functional, _x(tg), tg.tensor([0, 1])
    assert F.dropout(x, 0.5, False, None) is x
    assert F.cross_entropy(x, t, ignore_index=1).item() == pytest.approx(
        F.cross_entropy(x[:1], t[:1]).item())
    assert F.nll_loss(x, t, ignore_index=0).item() == -5.0   # (x[1, 1] only)


def _img(m):
    return m.arange(32.0).reshape(1, 2, 4, 4)


# nn's int arguments: adaptive pools' output_size a Python int (torch's _list_with_default
# passes a bool on, which its parser refuses), conv_transpose's groups an int, RNN's
# hidden_size (a bool one reaches torch's empty())
NN_INT_ARGUMENT_CALLS = {
    "adaptive_avg_pool2d bool": lambda m: m.nn.functional.adaptive_avg_pool2d(_img(m), True),
    "adaptive_avg_pool2d output_size=": lambda m: m.nn.functional.adaptive_avg_pool2d(
        _img(m), output_size=True),
    "adaptive_avg_pool3d bool": lambda m: m.nn.functional.adaptive_avg_pool3d(_img(m)[None],
                                                                              True),
    "adaptive_max_pool2d bool": lambda m: m.nn.functional.adaptive_max_pool2d(_img(m), True),
    "adaptive_avg_pool2d tensor": lambda m: m.nn.functional.adaptive_avg_pool2d(
        _img(m), m.tensor(2.0)),
    "adaptive_avg_pool2d numpy int": lambda m: m.nn.functional.adaptive_avg_pool2d(
        _img(m), np.int64(2)),
    "conv_transpose2d float groups": lambda m: m.nn.functional.conv_transpose2d(
        _img(m), m.ones(2, 2, 3, 3), groups=1.0),
    "RNN bool hidden_size": lambda m: m.nn.RNN(3, True),
}


@pytest.mark.parametrize("name", sorted(NN_INT_ARGUMENT_CALLS))
def test_nn_int_arguments_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(NN_INT_ARGUMENT_CALLS[name], torch)


@pytest.mark.parametrize("fn", ["conv2d", "conv1d"])
def test_conv_groups_not_int_refused(fn):
    # (torch's message here is the invalid combination of its two conv forms, which names
    # the arguments as given, positionally or by keyword: a TypeError naming groups here)
    torch = pytest.importorskip("torch")
    call = (lambda m: getattr(m.nn.functional, fn)(_img(m) if fn == "conv2d" else _img(m)[0],
                                                   m.ones(2, 2, 3, 3) if fn == "conv2d"
                                                   else m.ones(2, 2, 3), groups=1.0))
    assert error_of(call, torch)[0] == "TypeError"
    with pytest.raises(TypeError, match="'groups' must be int, not float"):
        call(tg)


def test_nn_int_arguments_take_ints():
    F = tg.nn.functional
    assert F.adaptive_avg_pool2d(_img(tg), 2).shape == (1, 2, 2, 2)
    assert F.adaptive_max_pool2d(_img(tg), (2, None)).shape == (1, 2, 2, 4)
    assert F.conv2d(_img(tg), tg.ones(2, 1, 3, 3), groups=2).shape == (1, 2, 2, 2)
    assert tg.nn.RNN(3, 2).weight_ih_l0.shape == (2, 3)
    assert tg.nn.LSTM(3, True).weight_ih_l0.shape == (4, 3)   # (4 * True: an int, as torch)


# unique's flags go on to torch's native _unique2 / unique_dim / unique_consecutive by
# keyword: only bools (x.unique(1) was taken as sorted=True)
UNIQUE_FLAG_CALLS = {
    "sorted int": lambda m: m.tensor([3, 1, 1]).unique(1),
    "return_inverse int": lambda m: m.unique(m.tensor([3, 1, 1]), return_inverse=1),
    "return_counts None": lambda m: m.unique(m.tensor([3, 1, 1]), return_counts=None),
    "dim sorted int": lambda m: m.unique(m.tensor([3, 1, 1]), dim=0, sorted=1),
    "consecutive int": lambda m: m.tensor([3, 1, 1]).unique_consecutive(1),
    "consecutive dim int": lambda m: m.unique_consecutive(m.tensor([3, 1, 1]), return_counts=1,
                                                          dim=0),
}


@pytest.mark.parametrize("name", sorted(UNIQUE_FLAG_CALLS))
def test_unique_flags_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(UNIQUE_FLAG_CALLS[name], torch)


def test_unique_flags_take_bools():
    out, inverse, counts = tg.unique(tg.tensor([3, 1, 1]), return_inverse=True,
                                     return_counts=True)
    assert (out.tolist(), inverse.tolist(), counts.tolist()) == ([1, 3], [1, 0, 0], [2, 1])


# the one-form factories' `bool? requires_grad`: None is taken (as False), an int is not
# (zeros(2, requires_grad=1) made a leaf that required grad)
FACTORY_REQUIRES_GRAD_CALLS = {
    "zeros": lambda m: m.zeros(2, requires_grad=1),
    "ones": lambda m: m.ones(2, requires_grad=1),
    "empty": lambda m: m.empty(2, requires_grad=0),
    "full": lambda m: m.full((2,), 1.0, requires_grad=1),
    "zeros_like": lambda m: m.zeros_like(_x(m), requires_grad=1),
    "ones_like": lambda m: m.ones_like(_x(m), requires_grad=1),
    "empty_like": lambda m: m.empty_like(_x(m), requires_grad=1),
    "full_like": lambda m: m.full_like(_x(m), 1.0, requires_grad=1),
    "new_zeros": lambda m: _x(m).new_zeros(2, requires_grad=1),
    "new_empty": lambda m: _x(m).new_empty(2, requires_grad=1),
    "new_full": lambda m: _x(m).new_full((2,), 1.0, requires_grad=1),
    "new_tensor": lambda m: _x(m).new_tensor([1.0], requires_grad=1),
    "new_tensor None": lambda m: _x(m).new_tensor([1.0], requires_grad=None),
    "linspace": lambda m: m.linspace(0, 1, 3, requires_grad=1),
    "eye": lambda m: m.eye(2, requires_grad=1),
    "eye m": lambda m: m.eye(2, 3, requires_grad=1),
    "arange": lambda m: m.arange(3.0, requires_grad=1),
    "arange step": lambda m: m.arange(0, 3.0, 2, requires_grad=1),
    "randn": lambda m: m.randn(2, 3, requires_grad=1),
    "rand": lambda m: m.rand(2, requires_grad=0),
    "rand_like": lambda m: m.rand_like(_x(m), requires_grad=1),
    "randn_like": lambda m: m.randn_like(_x(m), requires_grad=0),
    "randint_like high": lambda m: m.randint_like(_x(m), 3, requires_grad=1),
    "randint_like low high": lambda m: m.randint_like(_x(m), 1, 3, requires_grad=1),
}


@pytest.mark.parametrize("name", sorted(FACTORY_REQUIRES_GRAD_CALLS))
def test_factory_requires_grad_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(FACTORY_REQUIRES_GRAD_CALLS[name], torch)


def test_factory_requires_grad_none_or_bool():
    assert not tg.zeros(2, requires_grad=None).requires_grad
    assert not tg.full_like(_x(tg), 1.0, requires_grad=None).requires_grad
    assert tg.ones(2, requires_grad=True).requires_grad
    assert tg.zeros_like(_x(tg), requires_grad=True).requires_grad
    assert not _x(tg).new_zeros(2, requires_grad=None).requires_grad
    assert _x(tg).new_tensor([1.0], requires_grad=True).requires_grad
    assert not tg.linspace(0, 1, 3, requires_grad=None).requires_grad
    assert tg.eye(2, requires_grad=True).requires_grad
    assert tg.arange(3.0, requires_grad=True).requires_grad
    assert not tg.rand_like(_x(tg), requires_grad=None).requires_grad
    assert tg.randn_like(_x(tg), requires_grad=True).requires_grad


@pytest.mark.parametrize("call", [
    lambda m: m.hann_window(m.tensor(4.0)),     # (a float tensor has __index__ too)
    lambda m: m.hamming_window(m.tensor([4])),
    lambda m: m.blackman_window(True),
])
def test_window_length_refused_as_torch(call):
    torch = pytest.importorskip("torch")
    assert_same_error(call, torch)


def test_window_length_takes_integer_scalars():
    for n in (4, np.int64(4), tg.tensor(4)):
        assert tg.hann_window(n).shape == (4,)
    with pytest.raises(TypeError, match="must be int, not Tensor"):
        tg.hann_window(tg.tensor(4.0))


# a one-element integer tensor of any shape is an element of a tuple of ints to torch's
# parser (is_int_or_symint checks numel() == 1), so also the one int an int[1] takes
# (sum's dim), the first of ints spread as varargs (view, permute, zeros) and a SymInt
# (topk's k, eye's n, select's index); an int parameter (softmax's dim) takes a 0-d one
# only, and no bool one: x.sum(tensor([1])) and x.view(tensor([3]), 2) were refused,
# x.softmax(tensor(True)) normalized along dim 1
def _y(m):
    return m.arange(6.0).reshape(2, 3)


ONE_ELEMENT_INT_CALLS = {
    "sum dim=": lambda m: _y(m).sum(dim=m.tensor([1])),
    "sum": lambda m: _y(m).sum(m.tensor([1]), True),
    "sum tuple": lambda m: _y(m).sum((m.tensor([0]), m.tensor([[1]]))),
    "sum tuple mixed": lambda m: _y(m).sum(dim=(0, m.tensor([1]))),
    "sum int32": lambda m: _y(m).sum(dim=m.tensor([1], dtype=m.int32)),
    "sum two elements": lambda m: _y(m).sum(dim=m.tensor([0, 1])),
    "sum float": lambda m: _y(m).sum(dim=m.tensor([1.0])),
    "mean": lambda m: _y(m).mean(m.tensor([1])),
    "mean tuple": lambda m: _y(m).mean((m.tensor([1]),)),
    "view": lambda m: _y(m).view(m.tensor([6])),
    "view spread": lambda m: _y(m).view(m.tensor([3]), 2),
    "view spread later": lambda m: _y(m).view(3, m.tensor([2])),
    "view tuple": lambda m: _y(m).view((m.tensor([3]), 2)),
    "reshape": lambda m: _y(m).reshape(m.tensor([6])),
    "reshape tuple": lambda m: _y(m).reshape((m.tensor([3]), m.tensor([2]))),
    "reshape 2-d": lambda m: _y(m).reshape(m.tensor([[6]])),
    "reshape two elements": lambda m: _y(m).reshape(m.tensor([3, 2])),
    "permute spread": lambda m: _y(m).permute(m.tensor([1]), m.tensor([0])),
    "permute tuple": lambda m: _y(m).permute((m.tensor([1]), m.tensor([0]))),
    "permute two elements": lambda m: _y(m).permute(m.tensor([1, 0])),
    "repeat": lambda m: _y(m).repeat(m.tensor([2]), 1),
    "repeat one": lambda m: _y(m).repeat(m.tensor([2])),
    "expand": lambda m: _y(m)[:1].expand(m.tensor([2]), m.tensor([3])),
    "flip": lambda m: _y(m).flip(m.tensor([0])),
    "tile": lambda m: _y(m).tile(m.tensor([2])),
    "roll": lambda m: _y(m).roll(m.tensor([1]), m.tensor([1])),
    "squeeze": lambda m: _y(m)[:1].squeeze(m.tensor([0])),
    "squeeze tuple": lambda m: _y(m)[:1].squeeze((m.tensor([0]),)),
    "movedim tuples": lambda m: _y(m).movedim((m.tensor([0]),), (m.tensor([1]),)),
    "zeros": lambda m: m.zeros(m.tensor([2])),
    "zeros spread": lambda m: m.zeros(m.tensor([2]), 3),
    "zeros tuple": lambda m: m.zeros((m.tensor([2]), 3)),
    "full tuple": lambda m: m.full((m.tensor([2]), 3), 1.5),
    "new_zeros": lambda m: _y(m).new_zeros(m.tensor([2])),
    "topk": lambda m: _y(m).topk(m.tensor([2])),
    "topk function": lambda m: m.topk(_y(m), m.tensor([[2]])),
    "kthvalue": lambda m: _y(m).kthvalue(m.tensor([1])),
    "eye": lambda m: m.eye(m.tensor([2]), m.tensor([[3]])),
    "select": lambda m: _y(m).select(0, m.tensor([1])),
    "narrow length": lambda m: _y(m).narrow(1, 0, m.tensor([2])),
    "softmax 1-d dim": lambda m: _y(m).softmax(m.tensor([1])),
    "softmax bool dim": lambda m: _y(m).softmax(m.tensor(True)),
    "transpose bool dim": lambda m: _y(m).transpose(m.tensor(True), 0),
    "unsqueeze 1-d dim": lambda m: _y(m).unsqueeze(m.tensor([0])),
    "cumsum 1-d dim": lambda m: _y(m).cumsum(m.tensor([1])),
    "chunk 1-d": lambda m: _y(m).chunk(m.tensor([2])),
    # a one-element bool tensor: its parser takes one too; an int[] of dims reads it as the
    # int it holds, a SymInt[] of sizes refuses it as it converts it (and a SymInt with
    # its internal assert), an int parameter refuses it
    "sum bool dim": lambda m: _y(m).sum(m.tensor(True)),
    "squeeze bool dim": lambda m: _y(m)[:1].squeeze(m.tensor(False)),
    "permute bool dims": lambda m: _y(m).permute(m.tensor(True), m.tensor(False)),
    "flip bool dims": lambda m: _y(m).flip([m.tensor(True)]),
    "movedim bool dims": lambda m: _y(m).movedim((m.tensor(True),), (0,)),
    "linalg.norm bool dim": lambda m: m.linalg.norm(_y(m), dim=m.tensor(True)),
    "zeros bool size": lambda m: m.zeros(m.tensor(True)),
    "zeros bool sizes": lambda m: m.zeros((2, m.tensor([True]))),
    "view bool size": lambda m: _y(m).view(m.tensor(True), 6),
    "view bool later size": lambda m: _y(m).view(3, 2, m.tensor(True)),
    "reshape bool size": lambda m: _y(m).reshape(m.tensor(True), 6),
    "repeat bool size": lambda m: _y(m).repeat(m.tensor(True), 2),
    "topk bool k": lambda m: _y(m).topk(m.tensor(True)),
    "eye bool n": lambda m: m.eye(m.tensor(True)),
}


@pytest.mark.parametrize("name", sorted(ONE_ELEMENT_INT_CALLS))
def test_one_element_int_tensors_as_torch(name):
    torch = pytest.importorskip("torch")
    call = ONE_ELEMENT_INT_CALLS[name]
    ours, theirs = _result(call, tg), _result(call, torch)
    if isinstance(theirs, tuple) and theirs[1].startswith(("view()", "sum()")):
        assert ours[0] == theirs[0]   # (its overloads' list: the type compared)
    else:
        assert ours == theirs


def test_one_element_int_tensors():
    x = tg.arange(6.0).reshape(2, 3)
    assert x.sum(dim=tg.tensor([1])).tolist() == [3.0, 12.0]
    assert x.view(tg.tensor([3]), 2).shape == (3, 2)
    assert x.topk(tg.tensor([2])).values.tolist() == [[2.0, 1.0], [5.0, 4.0]]
    with pytest.raises(TypeError, match="'dim' .*must be int, not Tensor"):
        x.softmax(tg.tensor(True))


# var / std take a bool given first as their (bool unbiased) form; by keyword, dim=True is
# no dim and matches none of torch's three forms (it was read as unbiased=True), and unbiased
# with correction neither (it raised ATen's RuntimeError, which torch's parser never reaches)
MOMENT_CALLS = {
    "var(True)": lambda m: _y(m).var(True),
    "std(False)": lambda m: _y(m).std(False),
    "var(dim=True)": lambda m: _y(m).var(dim=True),
    "std(dim=False)": lambda m: _y(m).std(dim=False),
    "var function dim=True": lambda m: m.var(_y(m), dim=True),
    "std_mean dim=True": lambda m: m.std_mean(_y(m), dim=True),
    "var_mean(True)": lambda m: m.var_mean(_y(m), True),
    "var_mean positional": lambda m: m.var_mean(_y(m), 1, False, True),
    "var_mean input=": lambda m: m.var_mean(input=_y(m), dim=1),
    "var(True, keepdim=)": lambda m: _y(m).var(True, keepdim=True),
    "var(True, correction=)": lambda m: _y(m).var(True, correction=1),
    "var unbiased and correction": lambda m: _y(m).var(1, True, correction=1),
    "var unbiased= and correction=": lambda m: _y(m).var(unbiased=True, correction=0),
    "var dim twice": lambda m: _y(m).var(1, dim=1),
    "var axis=": lambda m: _y(m).var(axis=1, keepdims=True),
    "std dim= correction=": lambda m: _y(m).std(dim=1, keepdim=True, correction=0),
}


@pytest.mark.parametrize("name", sorted(MOMENT_CALLS))
def test_var_std_bool_dim_as_torch(name):
    torch = pytest.importorskip("torch")
    call = MOMENT_CALLS[name]
    assert _result(call, tg) == _result(call, torch)


def test_var_std_bool_dim():
    x = tg.arange(6.0).reshape(2, 3)
    assert x.var(False).item() == pytest.approx(35 / 12)
    with pytest.raises(TypeError, match="incorrect: dim"):
        x.std(dim=True)


# keepdim without dim matches none of torch's reduction forms (only the dim form takes it),
# and prod's, median's and nanmedian's dim is an int, not None: x.sum(keepdim=True) summed
# into a (1, 1) tensor, x.prod(None) and x.median(None) reduced every element
KEEPDIM_WITHOUT_DIM_CALLS = {
    "sum": lambda m: _y(m).sum(keepdim=True),
    "sum False": lambda m: _y(m).sum(keepdim=False),
    "sum dtype": lambda m: _y(m).sum(dtype=m.float64, keepdim=True),
    "sum function": lambda m: m.sum(_y(m), keepdim=True),
    "mean": lambda m: _y(m).mean(keepdim=True),
    "mean dtype": lambda m: _y(m).mean(dtype=m.float64, keepdim=False),
    "prod": lambda m: _y(m).prod(keepdim=True),
    "prod function": lambda m: m.prod(_y(m), keepdim=True),
    "prod None": lambda m: _y(m).prod(None),
    "prod None keepdim": lambda m: _y(m).prod(None, True),
    "median": lambda m: _y(m).median(keepdim=True),
    "median function": lambda m: m.median(_y(m), keepdim=True),
    "median None": lambda m: _y(m).median(None),
    "nanmedian": lambda m: _y(m).nanmedian(keepdim=True),
    "nanmedian function None": lambda m: m.nanmedian(_y(m), None, True),
}


@pytest.mark.parametrize("name", sorted(KEEPDIM_WITHOUT_DIM_CALLS))
def test_keepdim_without_dim_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(KEEPDIM_WITHOUT_DIM_CALLS[name], torch)


def test_reductions_with_dim_and_keepdim_still_bind():
    x = tg.arange(6.0).reshape(2, 3)
    assert x.sum(None, keepdim=True).shape == (1, 1)
    assert x.prod(1, keepdim=True).shape == (2, 1)
    assert x.median(dim=1, keepdim=True).values.shape == (2, 1)
    assert tg.nanmedian(x, 0, True).values.shape == (1, 3)
    assert x.prod().item() == 0.0 and x.median().item() == 2.0


# zeros/ones/empty and new_zeros/new_ones/new_empty take their size by keyword too (its
# parser's name, a sequence, given once): torch.zeros(size=(2, 3)) was refused as an
# unexpected keyword
SIZE_KEYWORD_CALLS = {
    "zeros": lambda m: m.zeros(size=(2, 3)),
    "ones dtype": lambda m: m.ones(size=[2], dtype=m.int64),
    "empty": lambda m: m.empty(size=(2, 1)).shape,
    "new_zeros": lambda m: _y(m).new_zeros(size=(2,)),
    "new_ones": lambda m: _y(m).new_ones(size=[1, 2]),
    "new_empty": lambda m: _y(m).new_empty(size=(3,)).shape,
    "zeros int": lambda m: m.zeros(size=2),
    "zeros tensor": lambda m: m.zeros(size=m.tensor([2])),
    "zeros twice": lambda m: m.zeros(2, size=(2,)),
    "zeros unknown": lambda m: m.zeros(size=(2,), foo=1),
    "new_zeros int": lambda m: _y(m).new_zeros(size=2),
    "new_ones misspelled": lambda m: _y(m).new_ones(sizes=(2,)),
}


@pytest.mark.parametrize("name", sorted(SIZE_KEYWORD_CALLS))
def test_factory_size_keyword_as_torch(name):
    torch = pytest.importorskip("torch")
    call = SIZE_KEYWORD_CALLS[name]
    ours, theirs = error_of(call, tg), error_of(call, torch)
    assert ours == theirs
    if theirs is None:
        a, b = call(tg), call(torch)
        if isinstance(b, torch.Tensor):
            assert (a.tolist(), str(a.dtype)[9:]) == (b.tolist(), str(b.dtype)[6:])
        else:
            assert tuple(a) == tuple(b)


# torch's Python-level and native names of arguments given by keyword: torch.split is a
# Python function (tensor, split_size_or_sections, dim), linalg.norm's and matrix_norm's
# first parameter is `input` (tapegrad's `A` refused input=; torch refuses A=)
KEYWORD_NAME_CALLS = {
    "split": lambda m: m.split(tensor=_y(m), split_size_or_sections=1),
    "split dim": lambda m: m.split(_y(m), [1, 2], dim=1),
    "split int": lambda m: m.split(2, 1),
    "linalg.norm": lambda m: m.linalg.norm(input=_y(m)),
    "linalg.norm A": lambda m: m.linalg.norm(A=_y(m)),
    "linalg.matrix_norm": lambda m: m.linalg.matrix_norm(input=_y(m), ord=1),
    "linalg.norm int": lambda m: m.linalg.norm(1),
    "linalg.vector_norm int": lambda m: m.linalg.vector_norm(1),
}


@pytest.mark.parametrize("name", sorted(KEYWORD_NAME_CALLS))
def test_keyword_names_as_torch(name):
    torch = pytest.importorskip("torch")
    call = KEYWORD_NAME_CALLS[name]
    ours, theirs = error_of(call, tg), error_of(call, torch)
    if theirs is None:
        assert ours is None
        a, b = call(tg), call(torch)
        a, b = (a, b) if isinstance(b, tuple) else ((a,), (b,))
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-6)
    else:   # (Python's own binding error for A=: the type)
        assert ours[0] == theirs[0] and (name.endswith(" A") or ours == theirs)


# the keyword forms of the sizes/dims methods take the list itself: an int or a tensor is
# spread only positionally (x.flip(dims=0) flipped dim 0, x.reshape(shape=6) reshaped)
SEQUENCE_KEYWORD_CALLS = {
    "view": lambda m: _y(m).view(size=6),
    "view tensor": lambda m: _y(m).view(size=m.tensor([6])),
    "reshape": lambda m: _y(m).reshape(shape=6),
    "permute": lambda m: _y(m).permute(dims=1),
    "expand": lambda m: _y(m).expand(size=3),
    "repeat": lambda m: _y(m).repeat(repeats=2),
    "tile": lambda m: _y(m).tile(dims=2),
    "flip": lambda m: _y(m).flip(dims=0),
}


@pytest.mark.parametrize("name", sorted(SEQUENCE_KEYWORD_CALLS))
def test_sequence_keywords_take_sequences_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(SEQUENCE_KEYWORD_CALLS[name], torch)


def test_sequence_keywords_still_take_sequences():
    x = tg.arange(6.0).reshape(2, 3)
    assert x.view(size=(3, 2)).shape == (3, 2) and x.flip(dims=[0])[0, 0].item() == 3.0
    assert x.permute(dims=(1, 0)).shape == (3, 2) and x.tile(dims=(2,)).shape == (2, 6)


# more of torch's argument names by keyword: swapaxes(axis0, axis1), hsplit/vsplit/dsplit's
# (int sections) and (int[] indices) forms, logical_and(other), sum_to_size(size=)
METHOD_KEYWORD_CALLS = {
    "swapaxes": lambda m: _y(m).swapaxes(axis0=0, axis1=1),
    "swapaxes_": lambda m: _y(m).swapaxes_(axis0=0, axis1=1),
    "swapaxes function": lambda m: m.swapaxes(_y(m), axis0=0, axis1=1),
    "hsplit sections": lambda m: m.ones(2, 6).hsplit(sections=3),
    "hsplit indices": lambda m: m.ones(2, 6).hsplit(indices=[1]),
    "hsplit function": lambda m: m.hsplit(m.ones(2, 6), sections=2),
    "vsplit function indices": lambda m: m.vsplit(m.ones(4, 2), indices=[1, 3]),
    "dsplit": lambda m: m.ones(1, 2, 4).dsplit(sections=2),
    "logical_and": lambda m: _y(m).logical_and(other=_y(m) > 2),
    "sum_to_size": lambda m: _y(m).sum_to_size(size=(1, 3)),
    "hsplit none": lambda m: m.hsplit(m.ones(2, 6)),
    "tensor_split sections": lambda m: m.tensor_split(m.arange(6.0), sections=2),
    "tensor_split indices": lambda m: m.arange(6.0).tensor_split(indices=[1, 4]),
    "tensor_split tensor": lambda m: m.tensor_split(
        m.arange(6.0), tensor_indices_or_sections=m.tensor(2), dim=0),
    "tensor_split none": lambda m: m.arange(6.0).tensor_split(),
}


@pytest.mark.parametrize("name", sorted(METHOD_KEYWORD_CALLS))
def test_method_keyword_names_as_torch(name):
    torch = pytest.importorskip("torch")
    call = METHOD_KEYWORD_CALLS[name]
    ours, theirs = error_of(call, tg), error_of(call, torch)
    assert ours == theirs
    if theirs is None:
        a, b = call(tg), call(torch)
        a, b = (a, b) if isinstance(b, tuple) else ((a,), (b,))
        assert [t.tolist() for t in a] == [t.tolist() for t in b]


# numpy's names torch's parser takes for input (x=, a=, x1=) and other (x2=), on the functions
# it binds (not on nn.functional's or torch's functions written in Python): they were refused
OPERAND_NAME_CALLS = {
    "neg x": lambda m: m.neg(x=_x(m)),
    "neg a": lambda m: m.neg(a=_x(m)),
    "neg x1": lambda m: m.neg(x1=_x(m)),
    "neg input and x": lambda m: m.neg(input=_x(m), x=_x(m)),
    "neg positional and x": lambda m: m.neg(_x(m), x=_x(m)),
    "add x1 x2": lambda m: m.add(x1=_x(m), x2=_x(m) * 2),
    "mul x2": lambda m: m.mul(_x(m), x2=_x(m)),
    "sum a axis keepdims": lambda m: m.sum(a=_x(m), axis=0, keepdims=True),
    "matmul x1 x2": lambda m: m.matmul(x1=_x(m), x2=_x(m).t()),
    "where x": lambda m: m.where(_x(m) > 2, x=_x(m), other=_x(m) * 0),
    "clamp x": lambda m: m.clamp(x=_x(m), min=2.5),
    "zeros_like a": lambda m: m.zeros_like(a=_x(m)),
    "flip x": lambda m: m.flip(x=_x(m), dims=(0,)),
    "masked_fill x": lambda m: m.masked_fill(x=_x(m), mask=_x(m) > 3, value=0.0),
    "isclose x x2": lambda m: m.isclose(x=_x(m), x2=_x(m)),
    "vector_norm input": lambda m: m.linalg.vector_norm(input=_x(m)),
    "vector_norm x": lambda m: m.linalg.vector_norm(x=_x(m), dim=1),
    "linalg.norm x": lambda m: m.linalg.norm(x=_x(m)),
    "matrix_norm x out": lambda m: m.linalg.matrix_norm(x=_x(m), out=m.zeros(())),
    "special.expit a": lambda m: m.special.expit(a=_x(m)),
    "special.logsumexp x axis": lambda m: m.special.logsumexp(x=_x(m), axis=0),
    "fftshift x": lambda m: m.fft.fftshift(x=_x(m)),
    "norm x (Python)": lambda m: m.norm(x=_x(m)),
    "cdist x (Python)": lambda m: m.cdist(x=_x(m), x2=_x(m)),
    "F.relu x (Python)": lambda m: m.nn.functional.relu(x=_x(m)),
    "F.softmax x (Python)": lambda m: m.nn.functional.softmax(x=_x(m), dim=0),
    "cat x": lambda m: m.cat(x=[_x(m)]),
}


@pytest.mark.parametrize("name", sorted(OPERAND_NAME_CALLS))
def test_numpy_operand_names_as_torch(name):
    torch = pytest.importorskip("torch")
    call = OPERAND_NAME_CALLS[name]
    assert _result(call, tg) == _result(call, torch)


def test_numpy_operand_names_bind():
    x = _x(tg)
    assert tg.neg(x=x).tolist() == (-x).tolist()
    assert tg.add(x1=x, x2=x * 2).tolist() == (x * 3).tolist()
    assert tg.sum(a=x, axis=0, keepdims=True).tolist() == [[5.0, 7.0, 9.0]]
    assert tg.linalg.vector_norm(input=x).item() == x.norm().item()
    with pytest.raises(TypeError, match="unexpected keyword argument 'x'"):
        tg.nn.functional.relu(x=x)


# matmul took a `name` keyword of its own (the op row bmm records) and y= for other
MATMUL_CALLS = {
    "name": lambda m: m.matmul(_x(m), _x(m).t(), name=1),
    "input other name": lambda m: m.matmul(input=_x(m), other=_x(m).t(), name="bmm"),
    "y": lambda m: m.matmul(_x(m), y=_x(m).t()),
    "x y": lambda m: m.matmul(x=_x(m), y=_x(m).t()),
    "input other": lambda m: m.matmul(input=_x(m), other=_x(m).t()),
    "third None": lambda m: m.matmul(_x(m), _x(m).t(), None),
    "method name": lambda m: _x(m).matmul(_x(m).t(), name=1),
}


@pytest.mark.parametrize("name", sorted(MATMUL_CALLS))
def test_matmul_keywords_as_torch(name):
    torch = pytest.importorskip("torch")
    call = MATMUL_CALLS[name]
    assert _result(call, tg) == _result(call, torch)


def test_matmul_refuses_name():
    with pytest.raises(TypeError, match="unexpected keyword argument 'name'"):
        tg.matmul(_x(tg), _x(tg).t(), name="bmm")


# torch's overloads whose operand is a Number named self (pow(Scalar self, Tensor exponent))
# bind it by that keyword: they were refused ("missing ... "input"")
_I = [3, 5, 6]
NUMBER_SELF_CALLS = {
    "pow": lambda m: m.pow(self=2, exponent=_x(m)),
    "pow tensor self": lambda m: m.pow(self=_x(m), exponent=2),
    "remainder": lambda m: m.remainder(self=5, other=_x(m)),
    "float_power": lambda m: m.float_power(self=2, exponent=_x(m)),
    "xlogy": lambda m: m.xlogy(self=2, other=_x(m)),
    "special.xlogy": lambda m: m.special.xlogy(self=2, other=_x(m)),
    "special.xlog1py": lambda m: m.special.xlog1py(self=2, other=_x(m)),
    "special.zeta": lambda m: m.special.zeta(self=2.0, other=_x(m)),
    "bitwise_and": lambda m: m.bitwise_and(self=3, other=m.tensor(_I)),
    "bitwise_left_shift": lambda m: m.bitwise_left_shift(self=3, other=m.tensor(_I)),
    "bucketize": lambda m: m.bucketize(self=2.5, boundaries=m.tensor([1.0, 2.0, 3.0])),
    "searchsorted": lambda m: m.searchsorted(m.tensor([1.0, 2.0, 3.0]), self=2.5),
    "where": lambda m: m.where(_x(m) > 2, self=2.0, other=_x(m)),
    "sin (no such overload)": lambda m: m.sin(self=2.0),
}


@pytest.mark.parametrize("name", sorted(NUMBER_SELF_CALLS))
def test_number_self_keyword_as_torch(name):
    torch = pytest.importorskip("torch")
    call = NUMBER_SELF_CALLS[name]
    assert _result(call, tg) == _result(call, torch)


def test_number_self_keyword_binds():
    assert tg.pow(self=2, exponent=tg.tensor([1.0, 3.0])).tolist() == [2.0, 8.0]
    assert tg.remainder(self=5, other=tg.tensor([2.0, 3.0])).tolist() == [1.0, 2.0]


# roll's int[1] shifts read a bare one-element bool tensor as its int (tapegrad refused it
# with the SymInt conversion's error, which only a list's element gets); new_full's size is a
# sequence only (a bare tensor was iterated, tensor([2]) taken as the size (2,))
SIZE_ITEM_CALLS = {
    "roll True": lambda m: m.roll(_x(m), m.tensor(True)),
    "roll [True] dim": lambda m: m.roll(_x(m), m.tensor([True]), 0),
    "roll False dims list": lambda m: m.roll(_x(m), m.tensor(False), [1]),
    "method roll True": lambda m: _x(m).roll(m.tensor(True), 1),
    "roll list of True": lambda m: m.roll(_x(m), [m.tensor(True)], [0]),
    "roll bool": lambda m: m.roll(_x(m), True),
    "new_full tensor([2])": lambda m: _x(m).new_full(m.tensor([2]), 7.0),
    "new_full tensor(2)": lambda m: _x(m).new_full(m.tensor(2), 7.0),
    "new_full int": lambda m: _x(m).new_full(2, 7.0),
    "new_full size= tensor": lambda m: _x(m).new_full(size=m.tensor([2]), fill_value=7.0),
    "new_full float size": lambda m: _x(m).new_full((2.0,), 7.0),
    "new_full no fill": lambda m: _x(m).new_full((2,)),
    "new_full 3 args": lambda m: _x(m).new_full((2,), 1.0, 3),
    "new_full keywords": lambda m: _x(m).new_full(fill_value=3, size=[2, 2], dtype=m.int64),
    "new_full tensor sizes": lambda m: _x(m).new_full([m.tensor(2), m.tensor(3)], 1.0),
}


@pytest.mark.parametrize("name", sorted(SIZE_ITEM_CALLS))
def test_size_items_as_torch(name):
    torch = pytest.importorskip("torch")
    call = SIZE_ITEM_CALLS[name]
    assert _result(call, tg) == _result(call, torch)


def test_roll_by_bool_tensor_and_new_full_sizes():
    x = _x(tg)
    assert tg.roll(x, tg.tensor(True), 1).tolist() == [[3.0, 1.0, 2.0], [6.0, 4.0, 5.0]]
    with pytest.raises(TypeError, match="must be tuple of ints, not Tensor"):
        x.new_full(tg.tensor([2]), 7.0)


# argument errors in torch's parser's words: a missing input of the functions numpy_names
# wraps (Python's "missing 1 required positional argument: 'input'" was shown), a dtype that
# is no dtype (linalg.vector_norm raised an AttributeError)
COUNT_CALLS = {
    "zeros_like()": lambda m: m.zeros_like(),
    "flip no dims": lambda m: m.flip(_x(m)),
    "vector_norm dtype int": lambda m: m.linalg.vector_norm(_x(m), dtype=1),
    "norm dtype positional": lambda m: m.norm(_x(m), 2, 0, True, None, 1),
    "Tensor.norm dtype str": lambda m: _x(m).norm(dtype="a"),
    "vector_norm dtype float": lambda m: m.linalg.vector_norm(_x(m), dtype=float),
}


@pytest.mark.parametrize("name", sorted(COUNT_CALLS))
def test_argument_errors_as_torch(name):
    torch = pytest.importorskip("torch")
    call = COUNT_CALLS[name]
    assert _result(call, tg) == _result(call, torch)


# too many positional arguments to a method: Python's own count (self counted, a parameter
# defaulting to MISSING counted optional) was shown where torch's parser's count or its list
# of signatures is ("sum() takes from 1 to 3 positional arguments but 5 were given")
EXTRA_METHOD_ARGS = {
    "sum": lambda m: _x(m).sum(0, True, None, 1),
    "mean": lambda m: _x(m).mean(0, True, None, 1),
    "std": lambda m: _x(m).std(0, True, True, 1, 2),
    "all": lambda m: _x(m).all(0, True, 1),
    "softmax": lambda m: _x(m).softmax(0, None, 1),
    "logsumexp": lambda m: _x(m).logsumexp(0, True, 1),
    "argmax": lambda m: _x(m).argmax(0, True, 1),
    "unsqueeze": lambda m: _x(m).unsqueeze(0, 1),
    "cumsum": lambda m: _x(m).cumsum(0, None, 1),
    "Tensor.norm": lambda m: _x(m).norm(2, 0, True, None, 1),
}


@pytest.mark.parametrize("name", sorted(EXTRA_METHOD_ARGS))
def test_extra_method_arguments_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(EXTRA_METHOD_ARGS[name], torch)


# required arguments not given (or too many) to torch's native factories and F.linear: Python's
# "missing 1 required positional argument: 'data'" was shown, and for eye() and randint(5)
# "missing n / size" where torch's parser lists the forms (none takes so few arguments)
NATIVE_COUNT_CALLS = {
    "tensor()": lambda m: m.tensor(),
    "tensor(dtype=)": lambda m: m.tensor(dtype=m.float32),
    "tensor(1, 2)": lambda m: m.tensor(1, 2),
    "linear(x)": lambda m: m.nn.functional.linear(_x(m)),
    "linear()": lambda m: m.nn.functional.linear(),
    "linear(weight=)": lambda m: m.nn.functional.linear(weight=_x(m)),
    "linear 4 args": lambda m: m.nn.functional.linear(_x(m), _x(m), None, 1),
    "eye()": lambda m: m.eye(),
    "eye(m=)": lambda m: m.eye(m=3),
    "eye(dtype=)": lambda m: m.eye(dtype=m.float64),
    "randint(5)": lambda m: m.randint(5),
    "randint()": lambda m: m.randint(),
    "randint(5, dtype=)": lambda m: m.randint(5, dtype=m.int32),
}


@pytest.mark.parametrize("name", sorted(NATIVE_COUNT_CALLS))
def test_native_argument_counts_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(NATIVE_COUNT_CALLS[name], torch)


def test_native_defaults_still_bind():
    x = tg.ones(2, 3)
    w = tg.ones(4, 3)
    assert tg.nn.functional.linear(input=x, weight=w).shape == (2, 4)
    assert tg.tensor(data=[1.0]).tolist() == [1.0]
    assert tg.randint(high=3, size=(2,)).shape == (2,)
    assert tg.randint(0, 3, (2,)).shape == (2,)
    assert tg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]


# numpy's x2= for other where the method takes **kwargs (torch.max(t, x2=u) was refused), and
# a Number self= (pow(Scalar self, Tensor exponent)): with out= only where that form takes
# out (remainder's, bitwise_and's do not: it was taken), its errors naming self= as torch's
# (input= was shown, the name it was renamed to)
OPERAND_KWARG_CALLS = {
    "max x2": lambda m: m.max(m.tensor([1.0, 5.0]), x2=m.tensor([3.0, 2.0])),
    "min x2": lambda m: m.min(m.tensor([1.0, 5.0]), x2=m.tensor([3.0, 2.0])),
    "pow self out": lambda m: m.pow(self=2, exponent=m.tensor([1.0, 3.0]), out=m.empty(2)),
}
OPERAND_KWARG_ERRORS = {
    "remainder self out": lambda m: m.remainder(self=5, other=m.ones(3), out=m.empty(3)),
    "bitwise_and self out": lambda m: m.bitwise_and(
        self=2, other=m.ones(3, dtype=m.int64), out=m.empty(3, dtype=m.int64)),
    "pow self other": lambda m: m.pow(self=2, other=m.ones(3)),
}


@pytest.mark.parametrize("name", sorted(OPERAND_KWARG_CALLS))
def test_operand_keywords_bind_as_torch(name):
    torch = pytest.importorskip("torch")
    call = OPERAND_KWARG_CALLS[name]
    assert call(tg).tolist() == call(torch).tolist()


@pytest.mark.parametrize("name", sorted(OPERAND_KWARG_ERRORS))
def test_operand_keywords_refused_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(OPERAND_KWARG_ERRORS[name], torch)


# torch.linalg's functions are native ones named linalg_<name> in its messages; Python's own
# binding errors named tapegrad's functions vector_norm(), det(), ...
LINALG_NAME_CALLS = {
    "vector_norm()": lambda m: m.linalg.vector_norm(),
    "vector_norm 6 args": lambda m: m.linalg.vector_norm(_x(m), 2, 0, True, None, 1),
    "vector_norm foo=": lambda m: m.linalg.vector_norm(_x(m), foo=1),
    "det()": lambda m: m.linalg.det(),
    "inv foo=": lambda m: m.linalg.inv(_x(m), foo=1),
    "solve(A)": lambda m: m.linalg.solve(m.eye(2)),
    "cholesky_ex()": lambda m: m.linalg.cholesky_ex(),
    # (several signatures: torch's parser lists them; Python's unknown keyword was shown)
    "matrix_norm foo=": lambda m: m.linalg.matrix_norm(_x(m), foo=1),
    "matrix_norm 4 args": lambda m: m.linalg.matrix_norm(_x(m), "fro", (0, 1), 1),
    "norm foo=": lambda m: m.linalg.norm(_x(m), "fro", foo=2),
    "cond list": lambda m: m.linalg.cond(_x(m), [1]),
    "pinv 4 args": lambda m: m.linalg.pinv(_x(m), 0.1, True, 1),
    "matrix_rank 4 args": lambda m: m.linalg.matrix_rank(_x(m), 0.1, True, 2),
}


@pytest.mark.parametrize("name", sorted(LINALG_NAME_CALLS))
def test_linalg_binding_errors_name_linalg(name):
    torch = pytest.importorskip("torch")
    assert_same_error(LINALG_NAME_CALLS[name], torch)


# torch.linalg's wordings the parser gives and Python's binding did not: vander's N and
# diagonal's options keyword-only, eig's input= (A was its name), solve_triangular's
# keyword-only upper counted as required, multi_dot's tensors' type before an unknown
# keyword, and pinv's rcond, which takes no atol= / rtol= (nor None): the mix was taken
LINALG_WORDING_CALLS = {
    "vander()": lambda m: m.linalg.vander(),
    "vander(v, 3)": lambda m: m.linalg.vander(m.ones(3), 3),
    "diagonal()": lambda m: m.linalg.diagonal(),
    "diagonal(x, 0)": lambda m: m.linalg.diagonal(_x(m), 0),
    "diagonal(input=)": lambda m: m.linalg.diagonal(input=_x(m)),
    "eig()": lambda m: m.linalg.eig(),
    "eig(A=)": lambda m: m.linalg.eig(A=m.eye(2)),
    "eigvals(A=)": lambda m: m.linalg.eigvals(A=m.eye(2)),
    "solve_triangular 3 args": lambda m: m.linalg.solve_triangular(m.eye(2), m.eye(2), True),
    "solve_triangular 4 args": lambda m: m.linalg.solve_triangular(m.eye(2), m.eye(2), True,
                                                                   False),
    "multi_dot(x, foo=)": lambda m: m.linalg.multi_dot(m.eye(2), foo=1),
    "pinv rcond= atol=": lambda m: m.linalg.pinv(m.eye(2), rcond=1e-3, atol=0.1),
    "pinv rcond rtol=": lambda m: m.linalg.pinv(m.eye(2), 1e-3, rtol=0.1),
    "pinv rcond atol=None": lambda m: m.linalg.pinv(m.eye(2), 0.1, atol=None),
    "pinv rcond=None": lambda m: m.linalg.pinv(m.eye(2), rcond=None),
}


@pytest.mark.parametrize("name", sorted(LINALG_WORDING_CALLS))
def test_linalg_argument_wordings_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(LINALG_WORDING_CALLS[name], torch)


def test_linalg_keyword_forms_still_bind():
    v = tg.tensor([1.0, 2.0, 3.0])
    assert tg.linalg.vander(v, N=2).tolist() == [[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]]
    assert tg.linalg.vander(x=v).shape == (3, 3)
    assert tg.linalg.diagonal(A=tg.eye(2), offset=1).tolist() == [0.0]
    a = tg.tensor([[2.0, 0.0], [0.0, 4.0]])
    for call in (lambda: tg.linalg.pinv(a, 0.1), lambda: tg.linalg.pinv(a, rcond=0.1),
                 lambda: tg.linalg.pinv(a, atol=0.1, rtol=None), lambda: tg.linalg.pinv(a)):
        assert call().tolist() == [[0.5, 0.0], [0.0, 0.25]]
    assert tg.linalg.solve_triangular(a, a, upper=True).tolist() == [[1.0, 0.0], [0.0, 1.0]]


# randint's low / high / size given by keyword, bound by torch's four forms (its parser's
# words): high= alone read as the size's position 2, size= alone drew from [0, 0), low= with
# size= was taken, high= twice said Python's "multiple values"
RANDINT_KEYWORD_CALLS = {
    "high=": lambda m: m.randint(high=5),
    "low= high=": lambda m: m.randint(low=0, high=5),
    "5, high=": lambda m: m.randint(5, high=6),
    "size=": lambda m: m.randint(size=(3,)),
    "high= size=3": lambda m: m.randint(high=5, size=3),
    "low=": lambda m: m.randint(low=0),
    "high= dtype=": lambda m: m.randint(high=5, dtype=m.int32),
    "high=2.5": lambda m: m.randint(high=2.5, size=(2,)),
    "5, size=3": lambda m: m.randint(5, size=3),
    "1, 5, size=3": lambda m: m.randint(1, 5, size=3),
    "low= size=": lambda m: m.randint(low=1, size=(2,)),
    "5, (2,), high=": lambda m: m.randint(5, (2,), high=3),
    "4 args": lambda m: m.randint(0, 5, (2,), 1),
}


@pytest.mark.parametrize("name", sorted(RANDINT_KEYWORD_CALLS))
def test_randint_keywords_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(RANDINT_KEYWORD_CALLS[name], torch)


def test_randint_keywords_bind():
    for call in (lambda: tg.randint(high=5, size=(3,), low=1), lambda: tg.randint(1, 5, (3,)),
                 lambda: tg.randint(0, high=5, size=(3,)), lambda: tg.randint(5, size=(3,)),
                 lambda: tg.randint(1, 5, size=[3], dtype=tg.int32)):
        r = call()
        assert r.shape == (3,) and ((r >= 0) & (r < 5)).all()
    assert tg.randint(1, 2, (2,), layout=tg.strided).tolist() == [1, 1]


# count_nonzero's method takes its dims spread (torch's lone int list), its function does not
COUNT_NONZERO_CALLS = {
    "spread": lambda m: _x(m).count_nonzero(0, 1).tolist(),
    "spread negative": lambda m: _x(m).count_nonzero(-1, 0).tolist(),
    "spread 0-d tensor": lambda m: _x(m).count_nonzero(m.tensor(1), 0).tolist(),
}
COUNT_NONZERO_ERRORS = {
    "function spread": lambda m: m.count_nonzero(_x(m), 0, 1),
    "tuple after int": lambda m: _x(m).count_nonzero(0, (1,)),
    "None after int": lambda m: _x(m).count_nonzero(0, None),
    "float third": lambda m: _x(m).count_nonzero(0, 1, 2.0),
    "tuple first": lambda m: _x(m).count_nonzero((0,), 1),
    "spread and dim=": lambda m: _x(m).count_nonzero(0, dim=1),
    "repeated": lambda m: _x(m).count_nonzero(0, 0),
    "out of range": lambda m: _x(m).count_nonzero(5, 1),
}


@pytest.mark.parametrize("name", sorted(COUNT_NONZERO_CALLS))
def test_count_nonzero_spread_dims_as_torch(name):
    torch = pytest.importorskip("torch")
    assert COUNT_NONZERO_CALLS[name](tg) == COUNT_NONZERO_CALLS[name](torch)


@pytest.mark.parametrize("name", sorted(COUNT_NONZERO_ERRORS))
def test_count_nonzero_spread_errors_as_torch(name):
    torch = pytest.importorskip("torch")
    assert_same_error(COUNT_NONZERO_ERRORS[name], torch)


# numpy's alias of a parameter the op lacks is an unknown keyword in its own name: torch's
# parser renames keepdims only for an op that takes keepdim (it said 'keepdim' here)
ALIAS_OF_ABSENT = {
    "softmax keepdims": lambda m: _x(m).softmax(0, keepdims=True),
    "log_softmax keepdims": lambda m: _x(m).log_softmax(0, keepdims=False),
    "cumsum keepdims": lambda m: _x(m).cumsum(0, keepdims=True),
    "unsqueeze keepdims": lambda m: _x(m).unsqueeze(0, keepdims=True),
    "torch.softmax keepdims": lambda m: m.softmax(_x(m), 0, keepdims=True),
    "torch.cumsum keepdims": lambda m: m.cumsum(_x(m), 0, keepdims=True),
    "softmax axis": lambda m: _x(m).softmax(axis=0),
    "sum keepdims": lambda m: _x(m).sum(0, keepdims=True),
}


# numpy's calls of a tensor's methods (np.sum(t): t.sum(axis=None, dtype=None, out=None)):
# torch's parser finds an extra keyword by the parameter's own name, so the alias given
# (axis=) is the unexpected one, and its "got (...)" lists the keywords as given
ALIAS_OF_ABSENT.update({
    "np.sum": lambda m: np.sum(_x(m)), "np.mean": lambda m: np.mean(_x(m)),
    "np.std": lambda m: np.std(_x(m)), "np.var": lambda m: np.var(_x(m)),
    "np.all": lambda m: np.all(_x(m)), "np.any": lambda m: np.any(_x(m)),
    "sum axis foo": lambda m: _x(m).sum(axis=0, foo=1),
    "sum 0 axis": lambda m: _x(m).sum(0, axis=0),
    "torch.sum axis foo": lambda m: m.sum(_x(m), axis=0, foo=1),
    "torch.std axis foo": lambda m: m.std(_x(m), axis=0, foo=1),
    "mean axis out": lambda m: _x(m).mean(axis=0, out=None),
    "torch.logsumexp axis foo": lambda m: m.logsumexp(_x(m), axis=0, foo=1),
    "torch.median axis foo": lambda m: m.median(_x(m), axis=0, foo=1),
    "torch.logsumexp axis out foo": lambda m: m.logsumexp(_x(m), axis=0, out=None, foo=1),
})


@pytest.mark.parametrize("name", sorted(ALIAS_OF_ABSENT))
def test_alias_of_a_parameter_the_op_lacks_as_torch(name):
    torch = pytest.importorskip("torch")
    call = ALIAS_OF_ABSENT[name]
    assert _result(call, tg) == _result(call, torch)
