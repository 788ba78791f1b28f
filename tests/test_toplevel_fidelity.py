"""The top-level native forms (torch.kl_div & co with int reduction enums, torch.permute_copy &
co, torch.fill, torch.put, ...): values, dtypes, gradients and grad_fn names against torch's
(float64), and the tapegrad-only facts without torch."""
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck


def _pair(shape, seed, low=None):
    a = np.random.default_rng(seed).standard_normal(shape)
    if low is not None:
        a = np.abs(a) + low
    return tg.tensor(a, requires_grad=True), a


def _check(torch, fn, arrays, *args, grad=True, frozen=(), **kwargs):
    """fn(*tensors, *args, **kwargs) in both libraries: values, dtype, grad_fn name and the
    gradients of every float input (but those at the positions `frozen`)."""
    req = [grad and a.dtype == np.float64 and i not in frozen for i, a in enumerate(arrays)]
    ours_in = [tg.tensor(a, requires_grad=r) for a, r in zip(arrays, req)]
    theirs_in = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, req)]
    ours = getattr(tg, fn)(*ours_in, *args, **kwargs)
    theirs = getattr(torch, fn)(*theirs_in, *args, **kwargs)
    if isinstance(theirs, (tuple, list)):
        ours, theirs = ours[0], theirs[0]
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    if not grad:
        return
    assert type(ours.grad_fn).__name__ == type(theirs.grad_fn).__name__
    w = np.random.default_rng(7).standard_normal(tuple(theirs.shape))
    (ours * tg.tensor(w)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    for o, t in zip(ours_in, theirs_in):
        if t.grad is not None:
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def _raises_same(torch, fn, *args, **kwargs):
    conv = lambda v: (tg.tensor(v) if isinstance(v, np.ndarray) else v)  # noqa: E731
    tconv = lambda v: (torch.tensor(v) if isinstance(v, np.ndarray) else v)  # noqa: E731
    with pytest.raises(Exception) as theirs:
        getattr(torch, fn)(*map(tconv, args), **{k: tconv(v) for k, v in kwargs.items()})
    with pytest.raises(type(theirs.value)) as ours:
        getattr(tg, fn)(*map(conv, args), **{k: conv(v) for k, v in kwargs.items()})
    assert str(ours.value) == str(theirs.value)


R = np.random.default_rng(0)
X = R.standard_normal((4, 5))
P = np.abs(R.standard_normal((4, 5))) + 0.1
SIGNS = np.sign(R.standard_normal((4, 5)))
SIGNS4 = np.sign(R.standard_normal(4))


# ---- losses with the int reduction enum -------------------------------------------------------
@pytest.mark.parametrize("red", [0, 1, 2, 5])
def test_losses_reduction_enum(red):
    torch = pytest.importorskip("torch")
    _check(torch, "kl_div", [X, P], red)
    _check(torch, "kl_div", [X, X], reduction=red, log_target=True)
    _check(torch, "hinge_embedding_loss", [X, SIGNS], 0.5, red)
    _check(torch, "margin_ranking_loss", [X, P, SIGNS], 0.1, reduction=red)
    _check(torch, "cosine_embedding_loss", [X, P, SIGNS4], 0.2, red)
    _check(torch, "poisson_nll_loss", [X, P], True, False, 1e-8, red)
    # (full=True: the target's gradient through the Stirling term is nn.functional's, which
    # differs from torch's; the input's is checked)
    _check(torch, "poisson_nll_loss", [P, P * 3], False, True, 1e-8, reduction=red,
           frozen=(1,))
    _check(torch, "triplet_margin_loss", [X, P, X * 2], 1.0, 2.0, 1e-6, True, red)
    # (torch: weight and pos_weight take no gradient)
    _check(torch, "binary_cross_entropy_with_logits", [X, P / P.max(), P, P[0]],
           reduction=red, frozen=(2, 3))
    _check(torch, "binary_cross_entropy_with_logits", [X, P / P.max()], None, None, red)


def test_losses_omitted_reduction_is_none_and_kl_div_does_not_warn():
    # (torch's binding: an omitted reduction is 0, none)
    torch = pytest.importorskip("torch")
    _check(torch, "kl_div", [X, P])
    _check(torch, "binary_cross_entropy_with_logits", [X, P / P.max()])
    _check(torch, "hinge_embedding_loss", [X, SIGNS])
    _check(torch, "triplet_margin_loss", [X, P, X * 2])
    _check(torch, "cosine_embedding_loss", [X, P, SIGNS4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg.kl_div(tg.tensor(X), tg.tensor(P))


@pytest.mark.parametrize("call", [
    ("kl_div", (X, P), {"reduction": "mean"}),
    ("kl_div", (X, P, 1.0), {}),
    ("kl_div", (X, P), {"reduction": True}),
    ("kl_div", (X,), {}),
    ("kl_div", (X, P), {"foo": 1}),
    ("kl_div", (1.5, P), {}),
    ("poisson_nll_loss", (X, P, True, False, 1e-8, "sum"), {}),
    ("poisson_nll_loss", (X,), {}),
    ("cosine_embedding_loss", (X,), {}),
    ("hinge_embedding_loss", (X, P, 1.0, 1, 2), {}),
    ("binary_cross_entropy_with_logits", (X, P), {"input": X}),
])
def test_loss_argument_errors(call):
    torch = pytest.importorskip("torch")
    fn, args, kwargs = call
    _raises_same(torch, fn, *args, **kwargs)


def test_ctc_loss():
    torch = pytest.importorskip("torch")
    lp = np.log(np.random.default_rng(3).dirichlet(np.ones(5), size=(6, 2)))
    targets = np.array([[1, 2, 3], [2, 2, 0]])
    for red in (0, 1, 2):
        _check(torch, "ctc_loss", [lp, targets], [6, 5], [3, 2], 0, red, False)
    _check(torch, "ctc_loss", [lp, targets], [6, 5], [3, 2])


# ---- normalizations, pooling, norms, grid sampling ------------------------------------------
def test_batch_and_instance_norm_native_argument_order():
    torch = pytest.importorskip("torch")
    x = R.standard_normal((3, 4, 5))
    w, b = R.standard_normal(4), R.standard_normal(4)
    _check(torch, "batch_norm", [x, w, b], None, None, True, 0.1, 1e-5, False)
    _check(torch, "instance_norm", [x, w, b], None, None, True, 0.1, 1e-5, False)
    rm, rv = R.standard_normal(4), np.abs(R.standard_normal(4)) + 0.5
    ours = tg.batch_norm(tg.tensor(x), None, None, tg.tensor(rm), tg.tensor(rv), False, 0.1,
                         1e-5, False)
    theirs = torch.batch_norm(torch.tensor(x), None, None, torch.tensor(rm), torch.tensor(rv),
                              False, 0.1, 1e-5, False)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    _raises_same(torch, "batch_norm", x, w, b)


def test_rms_norm():
    torch = pytest.importorskip("torch")
    x = R.standard_normal((3, 4))
    _check(torch, "rms_norm", [x], [4])
    w = R.standard_normal(4)
    ours_w, theirs_w = tg.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    ours = tg.rms_norm(tg.tensor(x), [4], ours_w, eps=1e-3)
    theirs = torch.rms_norm(torch.tensor(x), [4], weight=theirs_w, eps=1e-3)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(ours_w.grad.numpy(), theirs_w.grad.numpy(), rtol=1e-12)


def test_pools_return_values_and_indices():
    torch = pytest.importorskip("torch")
    x = R.standard_normal((2, 3, 8))
    for fn, args in (("adaptive_max_pool1d", (3,)), ("max_pool1d_with_indices", (3, 2, 1))):
        ours, theirs = getattr(tg, fn)(tg.tensor(x), *args), getattr(torch, fn)(
            torch.tensor(x), *args)
        assert type(ours) is tuple and len(ours) == 2
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
        _check(torch, fn, [x], *args)


@pytest.mark.parametrize("dim", [-1, 0, 1, 2])
def test_norm_except_dim(dim):
    torch = pytest.importorskip("torch")
    v = R.standard_normal((2, 3, 4))
    _check(torch, "norm_except_dim", [v], 2, dim)
    _check(torch, "norm_except_dim", [v], pow=3, dim=dim)


def test_frobenius_and_nuclear_norm():
    torch = pytest.importorskip("torch")
    x = R.standard_normal((2, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check(torch, "frobenius_norm", [x], (1, 2))
        _check(torch, "frobenius_norm", [x], 1, True)
        _check(torch, "nuclear_norm", [x[0]])
        _check(torch, "nuclear_norm", [x], (1, 2), keepdim=True)
        _raises_same(torch, "frobenius_norm", x, (0, 1, 1))


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_grid_sampler_enums(mode, padding):
    torch = pytest.importorskip("torch")
    x = R.standard_normal((2, 3, 4, 5))
    g = R.uniform(-1.2, 1.2, (2, 3, 2, 2))
    _check(torch, "grid_sampler", [x, g], mode, padding, False)
    _check(torch, "grid_sampler_2d", [x, g], mode, padding, True)
    if mode != 2:
        x3, g3 = R.standard_normal((1, 2, 3, 4, 3)), R.uniform(-1, 1, (1, 2, 2, 2, 3))
        _check(torch, "grid_sampler_3d", [x3, g3], mode, padding, False)


def test_grid_sampler_dims_errors():
    torch = pytest.importorskip("torch")
    x, g = R.standard_normal((1, 1, 3, 3)), R.uniform(-1, 1, (1, 2, 2, 2))
    x3, g3 = R.standard_normal((1, 1, 3, 3, 3)), R.uniform(-1, 1, (1, 2, 2, 2, 3))
    _raises_same(torch, "grid_sampler_3d", x, g, 0, 0, False)
    _raises_same(torch, "grid_sampler_2d", x3, g3, 0, 0, False)
    _raises_same(torch, "grid_sampler_2d", x3, g, 0, 0, False)


# ---- out-of-place copies of views -------------------------------------------------------------
A = R.standard_normal((2, 3, 4))
COPIES = [("alias_copy", ()), ("diagonal_copy", ()), ("diagonal_copy", (1, 2, 0)),
          ("expand_copy", ((5, 2, 3, 4),)), ("permute_copy", ((2, 0, 1),)),
          ("select_copy", (1, -1)), ("slice_copy", (2, 1, None, 2)), ("slice_copy", ()),
          ("squeeze_copy", ()), ("squeeze_copy", (1,)), ("squeeze_copy", ((0, 1),)),
          ("transpose_copy", (0, 2)), ("unfold_copy", (2, 2, 1)), ("unsqueeze_copy", (1,)),
          ("view_copy", ((6, 4),))]


@pytest.mark.parametrize("fn,args", COPIES)
def test_view_copies(fn, args):
    torch = pytest.importorskip("torch")
    a = A[:, :1] if fn == "squeeze_copy" else A
    _check(torch, fn, [a], *args)
    ours = getattr(tg, fn)(tg.tensor(a), *args)
    assert ours.is_contiguous()


def test_view_copies_do_not_share_memory():
    x = tg.tensor(A)
    for fn, args in COPIES:
        a = x[:, :1] if fn == "squeeze_copy" else x
        y = getattr(tg, fn)(a, *args)
        before = a.clone()
        y.add_(1.0)
        assert tg.equal(a, before), fn


def test_t_copy_and_split_copies():
    torch = pytest.importorskip("torch")
    _check(torch, "t_copy", [A[0]])
    for fn, args in (("split_copy", (2, 2)), ("split_with_sizes_copy", ([1, 3], 2)),
                     ("unbind_copy", (1,))):
        ours_in, theirs_in = tg.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
        ours, theirs = getattr(tg, fn)(ours_in, *args), getattr(torch, fn)(theirs_in, *args)
        assert len(ours) == len(theirs)
        for i, (o, t) in enumerate(zip(ours, theirs)):
            np.testing.assert_array_equal(o.detach().numpy(), t.detach().numpy())
            (o * (i + 1)).sum().backward()
            (t * (i + 1)).sum().backward()
        np.testing.assert_array_equal(ours_in.grad.numpy(), theirs_in.grad.numpy())


def test_view_copy_argument_errors():
    torch = pytest.importorskip("torch")
    _raises_same(torch, "permute_copy", A)
    _raises_same(torch, "transpose_copy", A, 0)
    _raises_same(torch, "t_copy", A, foo=1)
    _raises_same(torch, "select_copy", 1.0, 0, 0)


def test_view_copies_gradcheck():
    x = tg.tensor(A, requires_grad=True)
    assert gradcheck(lambda v: tg.permute_copy(v, (1, 2, 0)), (x,))
    assert gradcheck(lambda v: tg.expand_copy(v, (2, 2, 3, 4)), (x,))
    assert gradcheck(lambda v: tg.unfold_copy(v, 2, 2, 1), (x,))
    assert tg.permute_copy(x, (1, 2, 0)).grad_fn.name() == "PermuteBackward0_copy"


# ---- fill, put, index_put_, adjoint, row_stack, small namespace facts --------------------------
def test_fill_out_of_place():
    torch = pytest.importorskip("torch")
    _check(torch, "fill", [A], 2.5)
    _check(torch, "fill", [A, np.array(1.5)])
    _raises_same(torch, "fill", A, np.ones(2))
    x = tg.tensor(A)
    assert tg.equal(tg.fill(x, 3), tg.full_like(x, 3)) and tg.equal(x, tg.tensor(A))


def test_put_index_put_adjoint_row_stack():
    torch = pytest.importorskip("torch")
    idx, src = np.array([0, 5, -1]), R.standard_normal(3)
    _check(torch, "put", [A[0], idx, src])
    _check(torch, "put", [A[0], idx, src], accumulate=True)
    _check(torch, "adjoint", [A])
    ours = tg.row_stack([tg.tensor(A[0]), tg.tensor(A[1])])
    theirs = torch.row_stack([torch.tensor(A[0]), torch.tensor(A[1])])
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    x, tx = tg.tensor(A[0]), torch.tensor(A[0])
    i = (tg.tensor([0, 2]),)
    assert tg.index_put_(x, i, tg.tensor(7.0, dtype=tg.float64)) is x
    tx.index_put_((torch.tensor([0, 2]),), torch.tensor(7.0, dtype=torch.float64))
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_small_namespace_facts():
    x = tg.ones(2)
    assert tg.newaxis is None
    assert tg.get_device(x) == -1 == x.get_device()
    assert tg.typename(x) == x.type() and tg.typename(3) == "int"
    assert tg.typename(tg.nn.Linear(1, 1)) == "tapegrad.nn.modules.linear.Linear" or \
        tg.typename(tg.nn.Linear(1, 1)).endswith(".Linear")


def test_float32_matmul_precision_state():
    assert tg.get_float32_matmul_precision() == "highest"
    try:
        tg.set_float32_matmul_precision("medium")
        assert tg.get_float32_matmul_precision() == "medium"
        with pytest.warns(UserWarning, match="is not one of"):
            tg.set_float32_matmul_precision("bad")
        assert tg.get_float32_matmul_precision() == "medium"
        with pytest.raises(RuntimeError, match="expects a str, but got int"):
            tg.set_float32_matmul_precision(3)
    finally:
        tg.set_float32_matmul_precision("highest")


def test_warn_always_repeats_warn_once():
    from tapegrad import errors
    assert tg.is_warn_always_enabled() is False
    with pytest.raises(RuntimeError, match="setWarnOnlyOnce expects a bool, but got int"):
        tg.set_warn_always(1)
    msg = "tapegrad test: a warn-once message"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            errors.warn_once(msg)
            errors.warn_once(msg)
            assert len(caught) == 1
            tg.set_warn_always(True)
            assert tg.is_warn_always_enabled()
            errors.warn_once(msg)
            assert len(caught) == 2
    finally:
        tg.set_warn_always(False)
