"""The memory layout of results that torch's kernels allocate themselves: softmax, log_softmax,
layer_norm, cat and stack give a row-major result even of transposed inputs, batch_norm the
input's suggested format (channels-last stays), so a `view` after them works (or fails) as in
torch.  Elementwise results follow numpy's layout choice (a known difference: docs/semantics.md
"strides")."""
import pytest

import tapegrad as tg

CASES = {
    "softmax": lambda m, x3, a: m.softmax(x3.transpose(1, 2), 1),
    "log_softmax": lambda m, x3, a: m.nn.functional.log_softmax(x3.transpose(1, 2), -1),
    "softmax_grad": lambda m, x3, a: m.softmax(x3.transpose(1, 2).requires_grad_(), 1),
    "layer_norm": lambda m, x3, a: m.nn.LayerNorm(3)(a.t()),
    "layer_norm_grad": lambda m, x3, a: m.nn.LayerNorm(2)(x3.transpose(0, 2)),
    "batch_norm": lambda m, x3, a: m.nn.BatchNorm1d(4)(x3.permute(0, 2, 1)),
    "batch_norm_channels_last": lambda m, x3, a: m.nn.BatchNorm2d(3)(
        m.arange(120.0).reshape(2, 4, 5, 3).permute(0, 3, 1, 2)),
    "batch_norm_eval": lambda m, x3, a: m.nn.BatchNorm1d(4).eval()(x3.permute(0, 2, 1)),
    "cat": lambda m, x3, a: m.cat([a.t(), a.t()], 1),
    "stack": lambda m, x3, a: m.stack([a.t()]),
    # torch's empty_like(preserve): an expand's stride-0 dims keep their row-major place
    "clone_expand": lambda m, x3, a: a.unsqueeze(1).expand(3, 2, 4).clone(),
    "clone_expand_rows": lambda m, x3, a: a[:1].expand(3, 4).clone(),
    "clone_expand_permuted": lambda m, x3, a: x3.transpose(1, 2).unsqueeze(1).expand(
        2, 5, 4, 3).clone(),
    "clone_expand_transposed": lambda m, x3, a: a[:, None].expand(3, 2, 4).transpose(0, 2)
    .clone(),
    "double_expand": lambda m, x3, a: a.unsqueeze(1).expand(3, 2, 4).double(),
    "long_expand": lambda m, x3, a: a[:1].expand(3, 4).long(),
    # row-major values and indices along any dim, ties or not (a moved view before: the
    # indices' view(-1) raised)
    "topk_dim0_indices": lambda m, x3, a: (m.arange(280.0).reshape(7, 40) % 4).topk(3, 0)
    .indices,
    "topk_dim0_values": lambda m, x3, a: (m.arange(280.0).reshape(7, 40) % 4).topk(
        3, 0, largest=False).values,
    "topk_dim1_of_3d_ties": lambda m, x3, a: (x3 % 2).topk(2, 1).indices,
    "kthvalue_dim0_ties": lambda m, x3, a: (x3 % 2).kthvalue(1, 0).indices,
    "cummax_indices": lambda m, x3, a: (a % 5).cummax(1).indices,
    "cummin_indices_dim0": lambda m, x3, a: x3.cummin(0).indices,
    # tril / triu write a row-major result (the input's transposed layout before)
    "tril_transposed": lambda m, x3, a: x3.transpose(0, 2).tril(),
    "triu_transposed_grad": lambda m, x3, a: x3.transpose(0, 2).requires_grad_().triu(1),
    "tril_matrix_t": lambda m, x3, a: a.t().tril(-1),
    "one_hot_transposed": lambda m, x3, a: m.nn.functional.one_hot(a.long().t() % 3),
    "to_expand": lambda m, x3, a: a[:1].expand(3, 4).to(m.float64),
    "rand_like_expand": lambda m, x3, a: m.rand_like(a.unsqueeze(1).expand(3, 2, 4)),
    "randn_like_expand": lambda m, x3, a: m.randn_like(a[:1].expand(3, 4)),
    # out of place, masked_fill fills a row-major clone
    "masked_fill": lambda m, x3, a: a.t().masked_fill(a.t() > 5, 0.0),
    "masked_fill_grad": lambda m, x3, a: x3.requires_grad_().transpose(0, 2).masked_fill(
        m.tensor(True), m.tensor(-1.0)),
    "masked_fill_broadcast_mask": lambda m, x3, a: a.t().masked_fill(m.tensor([True, False,
                                                                               True]), 2.0),
    # elementwise ops keep their input's dim order (TensorIterator), the loop faces too
    "erf_t": lambda m, x3, a: a.t().erf(),
    "erfc_permuted": lambda m, x3, a: x3.permute(2, 0, 1).erfc(),
    "lgamma_t": lambda m, x3, a: (a.t() + 1).lgamma(),
    "digamma_t": lambda m, x3, a: (a.t() + 1).digamma(),
    "i0_t": lambda m, x3, a: m.i0(a.t()),
    "ndtr_t": lambda m, x3, a: m.special.ndtr(a.t()),
    "gelu_t": lambda m, x3, a: m.nn.functional.gelu(a.t()),
    "gelu_grad": lambda m, x3, a: m.nn.functional.gelu(x3.requires_grad_().transpose(0, 2)),
    "erf_expand": lambda m, x3, a: a[:1].expand(3, 4).t().erf(),
    "erf_sliced": lambda m, x3, a: a[:, ::2].t().erf(),
    "polygamma_t": lambda m, x3, a: m.polygamma(1, a.t() + 1),
    "zeta_t": lambda m, x3, a: m.special.zeta(a.t() + 2, 1.0),
    "bessel_j0_t": lambda m, x3, a: m.special.bessel_j0(x3.permute(2, 0, 1)),
    "floor_divide_t": lambda m, x3, a: a.t() // 3,
    "floor_divide_int_t": lambda m, x3, a: m.floor_divide(7, x3.long().permute(2, 0, 1) + 1),
    "div_floor_t": lambda m, x3, a: m.div(a.t(), a.t() + 1, rounding_mode="floor"),
    # kernels that write into empty_like(self): the input's layout
    "flip_t": lambda m, x3, a: a.t().flip(0),
    "flip_permuted_grad": lambda m, x3, a: x3.requires_grad_().permute(2, 0, 1).flip(1),
    "flip_expand": lambda m, x3, a: a[:1].expand(3, 4).t().flip(0),
    "sort_t": lambda m, x3, a: a.t().sort(0).values,
    "sort_t_indices": lambda m, x3, a: a.t().sort(1, descending=True).indices,
    "sort_stable_grad": lambda m, x3, a: x3.requires_grad_().permute(2, 0, 1).sort(
        dim=1, stable=True).values,
    "argsort_t": lambda m, x3, a: a.t().argsort(0),
    "msort_t": lambda m, x3, a: m.msort(a.t()),
    "index_fill_t": lambda m, x3, a: a.t().index_fill(1, m.tensor([1]), 5.0),
    "index_fill_grad": lambda m, x3, a: x3.requires_grad_().permute(2, 0, 1).index_fill(
        1, m.tensor([1]), m.tensor(5.0)),
    "index_put_t": lambda m, x3, a: a.t().index_put((m.tensor([1]),), m.tensor(5.0)),
    "index_put_grad": lambda m, x3, a: a.requires_grad_().t().index_put(
        (a.t() > 3,), m.tensor(5.0), accumulate=True),
    "put_t": lambda m, x3, a: a.t().put(m.tensor([1]), m.tensor([5.0])),
    # kernels that allocate a contiguous output
    "renorm_t": lambda m, x3, a: a.t().renorm(2, 0, 1.0),
    "renorm_grad": lambda m, x3, a: x3.requires_grad_().permute(2, 0, 1).renorm(2, 1, 5.0),
    "logsigmoid_t": lambda m, x3, a: m.nn.functional.logsigmoid(a.t()),
    "rrelu_t": lambda m, x3, a: m.nn.functional.rrelu(a.t() - 5),
}
# reductions write a new row-major result whatever their input's layout (numpy's follows the
# input's order), a kept dim of size 1 with the next dim's stride
_REDUCED = {"p": lambda m, x3: x3.permute(2, 0, 1), "t": lambda m, x3: x3.transpose(0, 2),
            "mT": lambda m, x3: x3.mT, "pg": lambda m, x3: x3.requires_grad_().permute(1, 2, 0)}
for _op in ("sum", "mean", "amax", "amin", "prod", "std", "var", "logsumexp", "norm", "all",
            "any", "nansum"):
    for _src in _REDUCED:
        for _kw in ({"dim": 1, "keepdim": True}, {"dim": 0}, {"dim": 0, "keepdim": True}):
            CASES[f"{_op}_{_src}_{_kw['dim']}{'k' if _kw.get('keepdim') else ''}"] = \
                lambda m, x3, a, op=_op, src=_src, kw=_kw: getattr(_REDUCED[src](m, x3), op)(**kw)
for _src in _REDUCED:
    CASES[f"sum_{_src}_02k"] = lambda m, x3, a, src=_src: _REDUCED[src](m, x3).sum((0, 2), True)
    CASES[f"count_nonzero_{_src}"] = lambda m, x3, a, src=_src: _REDUCED[src](m, x3).count_nonzero(1)


def _layout(m, name):
    m.manual_seed(0)
    x3 = m.arange(24.0).reshape(2, 3, 4)
    a = m.arange(12.0).reshape(3, 4)
    r = CASES[name](m, x3, a)
    try:
        flat = r.view(-1).shape
    except RuntimeError as e:
        flat = str(e)
    return (r.is_contiguous(), tuple(r.stride()), flat), r.detach().double().flatten().tolist()


@pytest.mark.parametrize("name", sorted(CASES))
def test_layouts_as_torch(name):
    torch = pytest.importorskip("torch")
    (ours, our_values), (theirs, their_values) = _layout(tg, name), _layout(torch, name)
    assert ours == theirs
    assert our_values == pytest.approx(their_values, rel=1e-5, abs=1e-6)   # (the draws too)


def test_view_after_softmax_of_a_transpose():
    x = tg.randn(2, 3, 4, requires_grad=True)
    y = tg.softmax(x.transpose(1, 2), 1)
    assert y.is_contiguous()
    y.view(-1).sum().backward()
    assert x.grad.shape == (2, 3, 4)
