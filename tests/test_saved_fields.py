"""A sweep of grad_fn `_saved_*` fields against torch's over ~120 common ops: for every node
class reached in each op's graph (walked through next_functions), the field names
(`sorted(a for a in dir(fn) if a.startswith('_saved_'))`) and each field's value: tensors by
value, dtype, shape and, where torch's field is one of the case's tensors (an input, the
result: `_saved_result is y`), the same object; numbers, bools, None, tuples (sizes as
torch's `_saved_self_sym_sizes`: a tuple of ints) exactly.  torchviz's `show_saved=True` and
users' debugging code read these fields.  Skips without torch.

`python tests/test_saved_fields.py` prints the count of node classes whose fields all match
torch's, and each difference."""
import math

import numpy as np
import pytest

import tapegrad

A = np.linspace(0.6, 1.6, 6).reshape(2, 3)
B = np.linspace(1.4, 0.5, 6).reshape(2, 3)
V = np.array([0.7, 1.2, 0.9])
SQ = np.array([[3.0, 0.2, 0.1], [0.4, 2.5, 0.3], [0.2, 0.1, 2.0]])
C = np.linspace(-0.5, 0.5, 6).reshape(2, 3)
IMG = np.sin(np.arange(2 * 2 * 5 * 5)).reshape(2, 2, 5, 5) * 0.5
KER = np.cos(np.arange(3 * 2 * 3 * 3)).reshape(3, 2, 3, 3) * 0.3


class In:
    """The tensors a case reads, made by module m (tapegrad or torch) from the same values."""

    def __init__(self, m):
        f = m.float32
        self.x = m.tensor(A, dtype=f, requires_grad=True)
        self.y = m.tensor(B, dtype=f, requires_grad=True)
        self.v = m.tensor(V, dtype=f, requires_grad=True)
        self.sq = m.tensor(SQ, dtype=f, requires_grad=True)
        self.c = m.tensor(C, dtype=f)
        self.img = m.tensor(IMG, dtype=f, requires_grad=True)
        self.ker = m.tensor(KER, dtype=f, requires_grad=True)
        self.kb = m.tensor([0.1, -0.2, 0.3], dtype=f, requires_grad=True)
        self.idx = m.tensor([[0, 2, 1], [1, 0, 2]])
        self.tgt = m.tensor([2, 0])
        self.emb = m.tensor(SQ, dtype=f, requires_grad=True)
        self.mask = self.c > 0

    def named(self):
        return [self.x, self.y, self.v, self.sq, self.c, self.img, self.ker, self.kb,
                self.emb]


# name -> f(m, F, i): the result (a tensor) whose graph is compared
CASES = {
    # elementwise unary
    "neg": lambda m, F, i: -i.x,
    "exp": lambda m, F, i: i.x.exp(),
    "exp2": lambda m, F, i: i.x.exp2(),
    "expm1": lambda m, F, i: i.x.expm1(),
    "log": lambda m, F, i: i.x.log(),
    "log2": lambda m, F, i: i.x.log2(),
    "log10": lambda m, F, i: i.x.log10(),
    "log1p": lambda m, F, i: i.x.log1p(),
    "sqrt": lambda m, F, i: i.x.sqrt(),
    "rsqrt": lambda m, F, i: i.x.rsqrt(),
    "sin": lambda m, F, i: i.x.sin(),
    "cos": lambda m, F, i: i.x.cos(),
    "tan": lambda m, F, i: i.x.tan(),
    "tanh": lambda m, F, i: i.x.tanh(),
    "sigmoid": lambda m, F, i: i.x.sigmoid(),
    "asin": lambda m, F, i: (i.x * 0.5).asin(),
    "atan": lambda m, F, i: i.x.atan(),
    "sinh": lambda m, F, i: i.x.sinh(),
    "cosh": lambda m, F, i: i.x.cosh(),
    "abs": lambda m, F, i: i.c.requires_grad_().abs(),
    "sign": lambda m, F, i: i.x.sign(),
    "reciprocal": lambda m, F, i: i.x.reciprocal(),
    "square": lambda m, F, i: i.x.square(),
    "erf": lambda m, F, i: i.x.erf(),
    "lgamma": lambda m, F, i: i.x.lgamma(),
    "digamma": lambda m, F, i: i.x.digamma(),
    "floor": lambda m, F, i: i.x.floor(),
    "round": lambda m, F, i: i.x.round(),
    "frac": lambda m, F, i: i.x.frac(),
    "clone": lambda m, F, i: i.x.clone(),
    "to_double": lambda m, F, i: i.x.double(),
    # binary with tensors and numbers
    "add": lambda m, F, i: i.x + i.y,
    "add_number": lambda m, F, i: i.x + 2,
    "add_alpha": lambda m, F, i: m.add(i.x, i.v, alpha=2),
    "sub": lambda m, F, i: i.x - i.y,
    "sub_alpha": lambda m, F, i: m.sub(i.x, i.y, alpha=3),
    "rsub": lambda m, F, i: 2 - i.x,
    "mul": lambda m, F, i: i.x * i.y,
    "mul_number": lambda m, F, i: i.x * 2,
    "mul_const": lambda m, F, i: i.x * i.c,
    "mul_broadcast": lambda m, F, i: i.x * i.v,
    "div": lambda m, F, i: i.x / i.y,
    "div_number": lambda m, F, i: i.x / 2,
    "rdiv": lambda m, F, i: 2 / i.x,
    "div_floor": lambda m, F, i: m.div(i.x, i.y, rounding_mode="floor"),
    "pow_tensor": lambda m, F, i: i.x ** i.y,
    "pow_int": lambda m, F, i: i.x.pow(2),
    "pow_float": lambda m, F, i: i.x ** 2.5,
    "rpow": lambda m, F, i: 2 ** i.x,
    "atan2": lambda m, F, i: m.atan2(i.x, i.y),
    "maximum": lambda m, F, i: m.maximum(i.x, i.y),
    "minimum": lambda m, F, i: m.minimum(i.x, i.y),
    "fmod_number": lambda m, F, i: m.fmod(i.x, 0.7),
    "remainder_number": lambda m, F, i: m.remainder(i.x, 0.7),
    "lerp": lambda m, F, i: m.lerp(i.x, i.y, 0.3),
    "addcmul": lambda m, F, i: m.addcmul(i.x, i.y, i.sq[:2], value=0.5),
    "addcdiv": lambda m, F, i: m.addcdiv(i.x, i.y, i.sq[:2] + 1, value=0.5),
    "xlogy": lambda m, F, i: m.xlogy(i.x, i.y),
    # where / clamp
    "where": lambda m, F, i: m.where(i.mask, i.x, i.y),
    "where_number": lambda m, F, i: m.where(i.mask, i.x, 0.0),
    "masked_fill": lambda m, F, i: i.x.masked_fill(i.mask, 0.5),
    "clamp": lambda m, F, i: i.x.clamp(0.8, 1.3),
    "clamp_min": lambda m, F, i: i.x.clamp(min=0.8),
    "clamp_max": lambda m, F, i: i.x.clamp(max=1.3),
    "clamp_tensor": lambda m, F, i: i.x.clamp(i.c, i.y),
    "clamp_min_tensor": lambda m, F, i: m.clamp_min(i.x, i.y),
    # reductions
    "sum": lambda m, F, i: i.x.sum(),
    "sum_dim": lambda m, F, i: i.x.sum(1),
    "sum_dim_keepdim": lambda m, F, i: i.x.sum(0, keepdim=True),
    "sum_dims": lambda m, F, i: i.img.sum((1, 3)),
    "mean": lambda m, F, i: i.x.mean(),
    "mean_dim": lambda m, F, i: i.x.mean(1, keepdim=True),
    "prod": lambda m, F, i: i.x.prod(),
    "prod_dim": lambda m, F, i: i.x.prod(1),
    "max": lambda m, F, i: i.x.max(),
    "max_dim": lambda m, F, i: i.x.max(1)[0],
    "min_dim_keepdim": lambda m, F, i: i.x.min(0, keepdim=True)[0],
    "amax": lambda m, F, i: i.x.amax(1),
    "logsumexp": lambda m, F, i: i.x.logsumexp(1),
    "var": lambda m, F, i: i.x.var(1),
    "std": lambda m, F, i: i.x.std(),
    "norm": lambda m, F, i: i.x.norm(),
    "norm_dim": lambda m, F, i: i.x.norm(dim=1),
    "norm_p1": lambda m, F, i: i.x.norm(p=1),
    "cumsum": lambda m, F, i: i.x.cumsum(1),
    "cumprod": lambda m, F, i: i.x.cumprod(1),
    # views and indexing
    "view": lambda m, F, i: i.x.view(3, 2),
    "reshape": lambda m, F, i: i.x.reshape(6),
    "flatten": lambda m, F, i: i.img.flatten(1),
    "t": lambda m, F, i: i.x.t(),
    "transpose": lambda m, F, i: i.img.transpose(1, 3),
    "permute": lambda m, F, i: i.img.permute(0, 2, 3, 1),
    "expand": lambda m, F, i: i.v.expand(2, 3),
    "unsqueeze": lambda m, F, i: i.x.unsqueeze(1),
    "squeeze": lambda m, F, i: i.x[None].squeeze(0),
    "squeeze_all": lambda m, F, i: i.x[None].squeeze(),
    "select": lambda m, F, i: i.x[1],
    "slice": lambda m, F, i: i.x[:, 1:3],
    "slice_step": lambda m, F, i: i.img[:, :, ::2],
    "index": lambda m, F, i: i.x[:, i.tgt],
    "index_mask": lambda m, F, i: i.x[i.mask],
    "index_select": lambda m, F, i: i.x.index_select(1, i.tgt),
    "gather": lambda m, F, i: i.x.gather(1, i.idx),
    "scatter": lambda m, F, i: i.x.scatter(1, i.idx, i.y),
    "scatter_add": lambda m, F, i: i.x.scatter_add(1, i.idx, i.y),
    "narrow": lambda m, F, i: i.x.narrow(1, 1, 2),
    "unbind": lambda m, F, i: i.x.unbind(0)[1],
    "split": lambda m, F, i: i.x.split(1, 1)[2],
    "chunk": lambda m, F, i: i.img.chunk(2, 2)[0],
    "repeat": lambda m, F, i: i.x.repeat(2, 1),
    "flip": lambda m, F, i: i.x.flip(1),
    "roll": lambda m, F, i: i.x.roll(1, 1),
    "tril": lambda m, F, i: i.sq.tril(),
    "triu": lambda m, F, i: i.sq.triu(1),
    "diagonal": lambda m, F, i: i.sq.diagonal(),
    "cat": lambda m, F, i: m.cat([i.x, i.y], 1),
    "cat_const": lambda m, F, i: m.cat([i.x, i.c]),
    "stack": lambda m, F, i: m.stack([i.x, i.y], 1),
    "sort": lambda m, F, i: i.x.sort(1)[0],
    "topk": lambda m, F, i: i.x.topk(2)[0],
    # matmul
    "dot": lambda m, F, i: m.dot(i.v, i.v * 2),
    "mv": lambda m, F, i: i.x @ i.v,
    "mm": lambda m, F, i: i.x @ i.sq,
    "matmul_batched": lambda m, F, i: m.matmul(i.img, i.img.transpose(2, 3)),
    "bmm": lambda m, F, i: m.bmm(i.x[None], i.sq[None]),
    "addmm": lambda m, F, i: m.addmm(i.v, i.x, i.sq),
    "outer": lambda m, F, i: m.outer(i.v, i.kb),
    "einsum": lambda m, F, i: m.einsum("ij,jk->ik", i.x, i.sq),
    # nn.functional
    "relu": lambda m, F, i: F.relu(i.c.requires_grad_()),
    "leaky_relu": lambda m, F, i: F.leaky_relu(i.c.requires_grad_(), 0.2),
    "elu": lambda m, F, i: F.elu(i.c.requires_grad_()),
    "selu": lambda m, F, i: F.selu(i.c.requires_grad_()),
    "gelu": lambda m, F, i: F.gelu(i.c.requires_grad_()),
    "gelu_tanh": lambda m, F, i: F.gelu(i.c.requires_grad_(), approximate="tanh"),
    "silu": lambda m, F, i: F.silu(i.x),
    "softplus": lambda m, F, i: F.softplus(i.x),
    "hardtanh": lambda m, F, i: F.hardtanh(i.c.requires_grad_(), -0.2, 0.2),
    "relu6": lambda m, F, i: F.relu6(i.c.requires_grad_()),
    "softmax": lambda m, F, i: F.softmax(i.x, 1),
    "softmax_dim0": lambda m, F, i: F.softmax(i.x, 0),
    "log_softmax": lambda m, F, i: F.log_softmax(i.x, 1),
    "linear": lambda m, F, i: F.linear(i.x, i.sq, i.v),
    "linear_nobias": lambda m, F, i: F.linear(i.x, i.sq),
    "conv2d": lambda m, F, i: F.conv2d(i.img, i.ker, i.kb),
    "conv2d_pad": lambda m, F, i: F.conv2d(i.img, i.ker, None, stride=2, padding=1),
    "layer_norm": lambda m, F, i: F.layer_norm(i.x, (3,)),
    "layer_norm_affine": lambda m, F, i: F.layer_norm(i.x, (3,), i.v, i.v * 0.5),
    "batch_norm_eval": lambda m, F, i: F.batch_norm(
        i.img, m.zeros(2), m.ones(2), i.kb[:2], None, training=False),
    "cross_entropy": lambda m, F, i: F.cross_entropy(i.x, i.tgt),
    "nll_loss": lambda m, F, i: F.nll_loss(F.log_softmax(i.x, 1), i.tgt),
    "mse_loss": lambda m, F, i: F.mse_loss(i.x, i.y),
    "mse_loss_sum": lambda m, F, i: F.mse_loss(i.x, i.c, reduction="sum"),
    "l1_loss": lambda m, F, i: F.l1_loss(i.x, i.y),
    "smooth_l1_loss": lambda m, F, i: F.smooth_l1_loss(i.x, i.y),
    "bce": lambda m, F, i: F.binary_cross_entropy(i.x.sigmoid(), i.c + 0.5),
    "bce_logits": lambda m, F, i: F.binary_cross_entropy_with_logits(i.x, i.c + 0.5),
    "dropout_eval": lambda m, F, i: F.dropout(i.x, 0.5, training=False) * 1,
    "embedding": lambda m, F, i: F.embedding(i.idx, i.emb),
    "max_pool2d": lambda m, F, i: F.max_pool2d(i.img, 2),
    "avg_pool2d": lambda m, F, i: F.avg_pool2d(i.img, 2),
    "adaptive_avg_pool2d": lambda m, F, i: F.adaptive_avg_pool2d(i.img, 1),
    "pad": lambda m, F, i: F.pad(i.x, (1, 2)),
    "normalize": lambda m, F, i: F.normalize(i.x, dim=1),
    "cosine_similarity": lambda m, F, i: F.cosine_similarity(i.x, i.y),
    # arguments other than the defaults: negative dims (torch's getters read them unsigned)
    "transpose_neg": lambda m, F, i: i.img.transpose(-1, 0),
    "select_neg": lambda m, F, i: i.img.select(-2, -1),
    "slice_neg": lambda m, F, i: i.img[:, :, -3:-1],
    "index_then_slice": lambda m, F, i: i.img[1, :, 2:, None],
    "sum_neg": lambda m, F, i: i.img.sum((-1, 1), keepdim=True),
    "softmax_neg": lambda m, F, i: F.softmax(i.img, -1),
    "cat_neg": lambda m, F, i: m.cat([i.x, i.y], -1),
    "var_correction": lambda m, F, i: i.x.var(-1, correction=0, keepdim=True),
    "norm_ord": lambda m, F, i: m.linalg.vector_norm(i.x, 3, -1, True),
    # at::norm's NormBackward0 / 1 and dist: p (dims, keepdim) and dist's other
    "dist_p": lambda m, F, i: m.dist(i.x, i.y, 3),
    "pairwise_distance": lambda m, F, i: F.pairwise_distance(i.x, i.y, 3),
    "frobenius_norm": lambda m, F, i: m.frobenius_norm(i.x, (0, 1)),
    "norm_except_dim_all": lambda m, F, i: m.norm_except_dim(i.x, 3, -1),
    "clamp_int": lambda m, F, i: i.x.clamp(1, 2),
    "softplus_beta": lambda m, F, i: F.softplus(i.x, 2.0, 10),
    "elu_alpha": lambda m, F, i: F.elu(i.c.requires_grad_(), 2),
    "max_pool2d_args": lambda m, F, i: F.max_pool2d(i.img, 2, 1, 1, 2, True),
    "avg_pool2d_args": lambda m, F, i: F.avg_pool2d(i.img, (2, 3), 1, 1, True, False, 2),
    "batch_norm_train": lambda m, F, i: F.batch_norm(
        i.img, m.zeros(2), m.ones(2), i.kb[:2], None, training=True),
    "nll_weight_ignore": lambda m, F, i: F.nll_loss(
        F.log_softmax(i.x, 1), m.tensor([2, -100]), m.tensor([0.5, 1.0, 2.0]), reduction="sum"),
    "mse_loss_nonleaf_target": lambda m, F, i: F.mse_loss(i.x, i.y * 2),
    "addcmul_nonleaf": lambda m, F, i: m.addcmul(i.x, i.y * 2, i.x + 1),
    "index_two": lambda m, F, i: i.img[:, :, i.tgt, 1:],
    "embedding_padding": lambda m, F, i: F.embedding(i.idx, i.emb, padding_idx=-1),
    "topk_dim0": lambda m, F, i: i.x.topk(1, 0, largest=False)[0],
    "mm_transposed": lambda m, F, i: i.x.t() @ i.x,
    "addmm_args": lambda m, F, i: m.addmm(i.v, i.x, i.sq, beta=2, alpha=0.5),
}


def _walk(fn):
    """The nodes of fn's graph, breadth first through next_functions, each once."""
    seen, order, todo = set(), [], [fn]
    while todo:
        f = todo.pop(0)
        if f is None or id(f) in seen:
            continue
        seen.add(id(f))
        order.append(f)
        todo += [g for g, _ in f.next_functions]
    return order


def _value(m, o, named):
    """A field's value, comparable across tapegrad and torch: a tensor by its values, dtype,
    shape, requires_grad and which of the case's tensors it is (-1: none of them)."""
    if isinstance(o, m.Tensor):
        ident = next((k for k, t in enumerate(named) if o is t), -1)
        return ("tensor", tuple(o.shape), str(o.dtype).split(".")[-1], o.requires_grad, ident,
                Values(o.detach().double().numpy()))
    if isinstance(o, (list, tuple)):
        return (type(o).__name__,) + tuple(_value(m, e, named) for e in o)
    if isinstance(o, float) and math.isinf(o):
        return ("float", o)
    if o is None or isinstance(o, (bool, int, float, str)):
        return (type(o).__name__, o)
    return (type(o).__name__, repr(o))


class Values:
    """A tensor's values: equal to another's exactly, or within 2 float32 ulps (rtol 2.4e-7)
    for a value the node computed (a result, layer_norm's rstd): tapegrad's numpy kernels
    round their sums their own way."""

    def __init__(self, a):
        self.a = a

    def __eq__(self, other):
        return self.a.shape == other.a.shape and bool(np.allclose(
            self.a, other.a, rtol=2.4e-7, atol=0, equal_nan=True))

    def __repr__(self):
        return repr(np.round(self.a, 5).tolist())


def _fields(fn, m, named):
    names = sorted(a for a in dir(fn) if a.startswith("_saved_"))
    # (the tensor fields' SavedTensors, an undefined one's too)
    out = {"<raw>": sorted(a for a in dir(fn) if a.startswith("_raw_saved_"))}
    for a in names:
        try:
            out[a] = _value(m, getattr(fn, a), named)
        except Exception as e:  # noqa: BLE001 (a field tapegrad cannot give: a difference)
            out[a] = ("raises", type(e).__name__)
    return out


def graph_fields(m, name):
    """[(class name, fields)] of each node of case `name`'s graph made with module m."""
    i = In(m)
    r = CASES[name](m, m.nn.functional, i)
    named = i.named() + [r]
    return [(type(fn).__name__, _fields(fn, m, named)) for fn in _walk(r.grad_fn)
            if type(fn).__name__ != "AccumulateGrad"]


def differences(name):
    """{class name: (tapegrad's fields, torch's)} for the nodes of case `name` whose fields
    differ, the k-th node of a class in one graph paired with the k-th in the other.  A
    class torch's graph has and tapegrad's has not (x[1, :, 2:] is one entry, torch's a
    select then a slice) is a difference of the graph, not of fields: not here."""
    import torch
    got, want = graph_fields(tapegrad, name), graph_fields(torch, name)
    out = {}
    for cls in dict.fromkeys(c for c, _ in want):
        g = [f for c, f in got if c == cls]
        w = [f for c, f in want if c == cls]
        if g and g != w:
            out[cls] = (g, w)
    return out


# cases whose graphs cannot match torch's field for field, with the reason (strict xfails:
# a fix makes them pass, and the entry goes)
_STRUCTURE = ("the graph differs from torch's, not the fields: tapegrad records a batched "
              "matmul as one entry over views, torch's matmul as expand / reshape / bmm / view "
              "(and einsum as permutes and a bmm)")
_CONV = ("ConvolutionBackward0 is a custom Function's node (nn/_conv_node.py), its _saved_* "
         "fields properties of that class: it has no _raw_saved_input / _raw_saved_weight "
         "SavedTensors")
XFAIL = {
    "einsum": _STRUCTURE,
    "matmul_batched": _STRUCTURE,
    "linear": "AddmmBackward0's mat2 is torch's weight.t(), which nn.Linear's one-pass entries "
              "never make (its TBackward0 is shown by edges alone): no _saved_mat2",
    "conv2d": _CONV,
    "conv2d_pad": _CONV,
    "div_floor": "DivBackward2 is shown over its decomposition's entries (zero gradients added "
                 "to the quotient), a class without an op row: no row declares its self, "
                 "other, rounding_mode",
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(
    reason=XFAIL[n], strict=True)) if n in XFAIL else n for n in sorted(CASES)])
def test_saved_fields_as_torch(name):
    pytest.importorskip("torch")
    assert differences(name) == {}


def _after_backward(m, name):
    """Case `name`'s result node's fields once a backward freed it: each field's value, or the
    error it raises (a saved tensor: "backward through the graph a second time"; a number
    stays readable)."""
    i = In(m)
    r = CASES[name](m, m.nn.functional, i)
    fn = r.grad_fn
    r.sum().backward()
    out = {}
    for a in sorted(a for a in dir(fn) if a.startswith("_saved_")):
        try:
            out[a] = _value(m, getattr(fn, a), i.named() + [r])
        except RuntimeError as e:
            out[a] = ("raises", str(e).split(".")[0])
    return out


@pytest.mark.parametrize("name", ["mse_loss_nonleaf_target", "gather", "max_dim", "sum_neg",
                                  "layer_norm_affine", "nll_weight_ignore", "addcmul_nonleaf",
                                  "mm_transposed", "logsumexp", "index_two"])
def test_saved_fields_after_backward_as_torch(name):
    """A backward without retain_graph frees the saved tensors (the tensor arguments kept
    too): reading one raises torch's error; the numbers and sizes stay readable."""
    torch = pytest.importorskip("torch")
    assert _after_backward(tapegrad, name) == _after_backward(torch, name)


def _summary():
    """(classes matching, classes compared, {class: [(case, tapegrad's, torch's)]}): the
    classes of torch's graphs that tapegrad's graphs have too."""
    classes, bad = set(), {}
    import torch
    for name in sorted(CASES):
        classes.update(set(c for c, _ in graph_fields(torch, name)) &
                       set(c for c, _ in graph_fields(tapegrad, name)))
        try:
            diff = differences(name)
        except Exception as e:  # noqa: BLE001 (a case tapegrad cannot build)
            diff = {"<case>": (repr(e), None)}
        for cls, (g, w) in diff.items():
            bad.setdefault(cls, []).append((name, g, w))
    return len(classes - set(bad)), len(classes), bad


if __name__ == "__main__":
    import sys
    ok, total, bad = _summary()
    verbose = "-v" in sys.argv
    for cls, cases in sorted(bad.items()):
        print(f"{cls}: {', '.join(c for c, _, _ in cases)}")
        if verbose:
            for c, g, w in cases[:2]:
                print(f"    {c}\n      got  {g}\n      want {w}")
    print(f"{ok} / {total} node classes match torch's _saved_* fields")
