"""tapegrad.nn.functional against torch.nn.functional: values, gradients (float64 to round-off,
float32 to float32 rounding) and grad_fn names for every functional, plus torch's errors."""
import warnings

import numpy as np
import pytest

import tapegrad
import tapegrad.nn.functional as TF

torch = pytest.importorskip("torch")
import torch.nn.functional as PF  # noqa: E402

R = np.random.default_rng(0)
X = R.standard_normal((3, 4)) * 2           # logits / activations inputs
Y = R.standard_normal((3, 4))               # regression targets
P = 1 / (1 + np.exp(-R.standard_normal((3, 4))))   # probabilities
Q = np.exp(Y) / np.exp(Y).sum(1, keepdims=True)   # class probabilities
W = R.standard_normal((5, 4))
B = R.standard_normal(5)
CLS = np.array([0, 3, 1])
CLS_IGN = np.array([0, -100, 2])
CW = np.array([0.5, 2.0, 1.0, 1.5])
IDX = np.array([[1, 0], [4, 1]])
EDGE = np.array([[-30.0, -1.0, 0.0, 1e-3], [2.0, 19.5, 25.0, 800.0], [-800.0, -1e-8, 3.0, -3.0]])

# name -> (function of (F, M, *tensors), inputs [(array, requires_grad)])
CASES = {
    "linear": (lambda F, M, x, w, b: F.linear(x, w, b), [(X, 1), (W, 1), (B, 1)]),
    "linear_nobias": (lambda F, M, x, w: F.linear(x, w), [(X, 1), (W, 1)]),
    "linear_1d": (lambda F, M, x, w, b: F.linear(x[0], w, b), [(X, 1), (W, 1), (B, 1)]),
    "linear_3d": (lambda F, M, x, w, b: F.linear(x.reshape(3, 1, 4), w, b),
                  [(X, 1), (W, 1), (B, 1)]),
    "bilinear": (lambda F, M, x, y, w, b: F.bilinear(x, y, w, b),
                 [(X, 1), (Y, 1), (R.standard_normal((2, 4, 4)), 1), (B[:2], 1)]),
    "relu": (lambda F, M, x: F.relu(x), [(X, 1)]),
    "leaky_relu": (lambda F, M, x: F.leaky_relu(x, 0.2), [(EDGE, 1)]),
    "elu": (lambda F, M, x: F.elu(x, 1.5), [(EDGE, 1)]),
    "gelu": (lambda F, M, x: F.gelu(x), [(EDGE / 10, 1)]),
    "gelu_wide": (lambda F, M, x: F.gelu(x), [(X * 3, 1)]),
    "gelu_tanh": (lambda F, M, x: F.gelu(x, approximate="tanh"), [(X, 1)]),
    "silu": (lambda F, M, x: F.silu(x), [(X, 1)]),
    "softplus": (lambda F, M, x: F.softplus(x), [(EDGE, 1)]),
    "softplus_beta": (lambda F, M, x: F.softplus(x, beta=2.0, threshold=5.0), [(X, 1)]),
    "sigmoid": (lambda F, M, x: F.sigmoid(x), [(X, 1)]),
    "tanh": (lambda F, M, x: F.tanh(x), [(X, 1)]),
    "softmax": (lambda F, M, x: F.softmax(x, dim=1), [(X, 1)]),
    "log_softmax": (lambda F, M, x: F.log_softmax(x, dim=0), [(X, 1)]),
    "mse_loss": (lambda F, M, x, y: F.mse_loss(x, y), [(X, 1), (Y, 1)]),
    "mse_loss_sum": (lambda F, M, x, y: F.mse_loss(x, y, reduction="sum"), [(X, 1), (Y, 0)]),
    "mse_loss_none": (lambda F, M, x, y: F.mse_loss(x, y, reduction="none"), [(X, 1), (Y, 1)]),
    "l1_loss": (lambda F, M, x, y: F.l1_loss(x, y), [(X, 1), (Y, 1)]),
    "l1_loss_none": (lambda F, M, x, y: F.l1_loss(x, y, reduction="none"), [(X, 1), (Y, 0)]),
    "smooth_l1_loss": (lambda F, M, x, y: F.smooth_l1_loss(x, y, beta=0.5), [(X, 1), (Y, 1)]),
    "smooth_l1_sum": (lambda F, M, x, y: F.smooth_l1_loss(x, y, reduction="sum"),
                      [(X, 1), (Y, 0)]),
    "huber_loss": (lambda F, M, x, y: F.huber_loss(x, y, delta=0.7), [(X, 1), (Y, 1)]),
    "nll_loss": (lambda F, M, x, t: F.nll_loss(F.log_softmax(x, 1), t), [(X, 1), (CLS, 0)]),
    "nll_loss_weight": (lambda F, M, x, t, w: F.nll_loss(x, t, weight=w),
                        [(X, 1), (CLS, 0), (CW, 0)]),
    "nll_loss_ignore_sum": (lambda F, M, x, t: F.nll_loss(x, t, reduction="sum"),
                            [(X, 1), (CLS_IGN, 0)]),
    "nll_loss_none": (lambda F, M, x, t, w: F.nll_loss(x, t, w, ignore_index=1,
                                                       reduction="none"),
                      [(X, 1), (CLS, 0), (CW, 0)]),
    "nll_loss_ignore_none": (lambda F, M, x, t: F.nll_loss(x, t, reduction="none"),
                             [(X, 1), (CLS_IGN, 0)]),
    "cross_entropy_ignore_none": (lambda F, M, x, t: F.cross_entropy(x, t, reduction="none"),
                                  [(X, 1), (CLS_IGN, 0)]),
    "nll_loss_1d": (lambda F, M, x, t: F.nll_loss(x[0], t[0]), [(X, 1), (CLS, 0)]),
    "nll_loss_kdim": (lambda F, M, x, t: F.nll_loss(x.reshape(1, 4, 3), t.reshape(1, 3)),
                      [(X, 1), (np.array([3, 0, 2]), 0)]),
    "cross_entropy": (lambda F, M, x, t: F.cross_entropy(x, t), [(X, 1), (CLS, 0)]),
    "cross_entropy_w_ign": (lambda F, M, x, t, w: F.cross_entropy(x, t, weight=w),
                            [(X, 1), (CLS_IGN, 0), (CW, 0)]),
    "cross_entropy_ls": (lambda F, M, x, t: F.cross_entropy(x, t, label_smoothing=0.1),
                         [(X, 1), (CLS_IGN, 0)]),
    "cross_entropy_ls_w": (lambda F, M, x, t, w: F.cross_entropy(
        x, t, weight=w, label_smoothing=0.2), [(X, 1), (CLS_IGN, 0), (CW, 0)]),
    "cross_entropy_ls_none": (lambda F, M, x, t: F.cross_entropy(
        x, t, label_smoothing=0.3, reduction="none"), [(X, 1), (CLS, 0)]),
    "cross_entropy_prob": (lambda F, M, x, q: F.cross_entropy(x, q), [(X, 1), (Q, 1)]),
    "cross_entropy_prob_sum_w": (lambda F, M, x, q, w: F.cross_entropy(
        x, q, weight=w, reduction="sum", label_smoothing=0.1), [(X, 1), (Q, 1), (CW, 0)]),
    "cross_entropy_prob_none": (lambda F, M, x, q: F.cross_entropy(x, q, reduction="none"),
                                [(X, 1), (Q, 0)]),
    "bce": (lambda F, M, p, q: F.binary_cross_entropy(p, q), [(P, 1), (Q, 1)]),
    "bce_weight_none": (lambda F, M, p, q, w: F.binary_cross_entropy(p, q, w, reduction="none"),
                        [(P, 1), (Q, 0), (CW, 0)]),
    "bce_logits": (lambda F, M, x, q: F.binary_cross_entropy_with_logits(x, q),
                   [(EDGE, 1), (P, 1)]),
    "bce_logits_pos_weight": (lambda F, M, x, q, w: F.binary_cross_entropy_with_logits(
        x, q, pos_weight=w, reduction="sum"), [(X, 1), (P, 0), (CW, 0)]),
    "kl_div_batchmean": (lambda F, M, x, q: F.kl_div(F.log_softmax(x, 1), q,
                                                     reduction="batchmean"),
                         [(X, 1), (Q, 1)]),
    "kl_div_sum_zero_target": (lambda F, M, x, q: F.kl_div(x, q * (q > 0.3), reduction="sum"),
                               [(X, 1), (Q, 0)]),
    "kl_div_log_target": (lambda F, M, x, q: F.kl_div(x, q, reduction="none",
                                                      log_target=True), [(X, 1), (Y, 1)]),
    "normalize": (lambda F, M, x: F.normalize(x), [(X, 1)]),
    "normalize_p1_dim0": (lambda F, M, x: F.normalize(x, p=1.0, dim=0), [(X, 1)]),
    "normalize_zero_row": (lambda F, M, x: F.normalize(x * M.tensor([[0.], [1.], [1.]],
                                                                     dtype=x.dtype)),
                           [(X, 1)]),
    "normalize_inf": (lambda F, M, x: F.normalize(x, p=float("inf")), [(X, 1)]),
    "normalize_p0": (lambda F, M, x: F.normalize(x, p=0, dim=0), [(X, 1)]),
    "normalize_p_neg": (lambda F, M, x: F.normalize(x, p=-1.5), [(X, 1)]),
    "pad": (lambda F, M, x: F.pad(x, (1, 2)), [(X, 1)]),
    "pad_2d_value_crop": (lambda F, M, x: F.pad(x, (1, -1, -1, 2), value=3.5), [(X, 1)]),
    "pad_reflect": (lambda F, M, x: F.pad(x.reshape(1, 3, 4), (2, 3), mode="reflect"),
                    [(X, 1)]),
    "pad_reflect_2d": (lambda F, M, x: F.pad(x.reshape(1, 1, 3, 4), (1, 2, 2, 1),
                                             mode="reflect"), [(X, 1)]),
    "pad_replicate": (lambda F, M, x: F.pad(x, (-1, 2), mode="replicate"), [(X, 1)]),
    "pad_replicate_3d": (lambda F, M, x: F.pad(x.reshape(1, 1, 3, 2, 2), (1, 0, 2, 1, 1, 1),
                                               mode="replicate"), [(X, 1)]),
    "pad_circular": (lambda F, M, x: F.pad(x.reshape(1, 1, 3, 4), (4, 1, 0, 2),
                                           mode="circular"), [(X, 1)]),
    "layer_norm": (lambda F, M, x: F.layer_norm(x, (4,)), [(X, 1)]),
    "layer_norm_affine": (lambda F, M, x, w, b: F.layer_norm(x.reshape(3, 2, 2), (2, 2), w, b,
                                                             eps=1e-3),
                          [(X, 1), (Y[0].reshape(2, 2), 1), (Y[1].reshape(2, 2), 1)]),
    "embedding": (lambda F, M, w, i: F.embedding(i, w), [(W, 1), (IDX, 0)]),
    "embedding_padding": (lambda F, M, w, i: F.embedding(i, w, padding_idx=1),
                          [(W, 1), (IDX, 0)]),
    # each row's gradient divided by its index's count (row 1 twice, 0 and 4 once)
    "embedding_freq": (lambda F, M, w, i: F.embedding(i, w, scale_grad_by_freq=True),
                       [(W, 1), (IDX, 0)]),
    "embedding_freq_padding": (lambda F, M, w, i: F.embedding(i, w, padding_idx=4,
                                                              scale_grad_by_freq=True),
                               [(W, 1), (IDX, 0)]),
    "dropout_eval": (lambda F, M, x: F.dropout(x, 0.5, training=False), [(X, 1)]),
    "dropout_p0": (lambda F, M, x: F.dropout(x, 0.0) * 1.0, [(X, 1)]),
}


def _inputs(M, specs, dtype):
    out = []
    for arr, rg in specs:
        if arr.dtype.kind == "i":
            out.append(M.tensor(arr))
        else:
            out.append(M.tensor(arr, dtype=dtype, requires_grad=bool(rg)))
    return out


def _run(M, F, case, dtype):
    fn, specs = CASES[case]
    ins = _inputs(M, specs, getattr(M, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(F, M, *ins)
    name = type(out.grad_fn).__name__ if out.grad_fn is not None else None
    g = np.cos(np.arange(out.numel())).reshape(tuple(out.shape)) + 1.5
    leaves = [t for t in ins if t.requires_grad]
    grads = M.autograd.grad(out, leaves, M.tensor(g, dtype=out.dtype), allow_unused=True) \
        if out.requires_grad else []
    arr = lambda t: None if t is None else np.array(t.detach().numpy(), dtype=np.float64)
    return arr(out), str(out.dtype).split(".")[-1], name, [arr(t) for t in grads]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_functional_matches_torch(case, dtype):
    out, dt, name, grads = _run(tapegrad, TF, case, dtype)
    t_out, t_dt, t_name, t_grads = _run(torch, PF, case, dtype)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    assert (dt, name) == (t_dt, t_name)
    np.testing.assert_allclose(out, t_out, **tol)
    zero = (out == 0) & (t_out == 0)     # (a loss of an ignored target is 0.0, not -0.0)
    np.testing.assert_array_equal(np.signbit(out[zero]), np.signbit(t_out[zero]))
    assert len(grads) == len(t_grads)
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g, tg, **tol)


@pytest.mark.parametrize("p", [2.0, 1.0, float("inf")])
def test_normalize_is_torchs_composition(p):
    """DivBackward0 <- ExpandBackward0 <- ClampMinBackward0 <- the norm's node, as torch's."""
    chains = []
    for M, F in ((tapegrad, TF), (torch, PF)):
        fn = F.normalize(M.ones(3, 4, requires_grad=True) * 2.0, p=p).grad_fn
        chain = []
        while fn is not None:
            chain.append(type(fn).__name__)
            fn = fn.next_functions[-1][0] if fn.next_functions else None
        chains.append(chain)
    assert chains[0] == chains[1]


def test_dropout_scales_kept_elements_and_matches_its_mask():
    x = tapegrad.ones(200, 50, dtype=tapegrad.float64, requires_grad=True)
    y = TF.dropout(x, 0.25)
    v = y.detach().numpy()
    assert set(np.unique(v)) <= {0.0, 1 / 0.75}
    assert abs((v == 0).mean() - 0.25) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), v)       # d(x * mask)/dx = mask
    assert type(y.grad_fn).__name__ == "MulBackward0"
    assert TF.dropout(x, 0.3, training=False) is x
    assert np.all(TF.dropout(x, 1.0).detach().numpy() == 0)


def test_one_hot_as_torch():
    for args in ((np.array([0, 2, 1]),), (np.array([[1], [0]]), 4)):
        a = TF.one_hot(tapegrad.tensor(args[0]), *args[1:])
        b = PF.one_hot(torch.tensor(args[0]), *args[1:])
        assert a.dtype is tapegrad.int64 and a.tolist() == b.tolist()


def _errors(M, F):
    x = M.tensor(X)
    calls = [lambda: F.nll_loss(x, M.tensor([0, 1])),
             lambda: F.nll_loss(x, M.tensor([0, 1, 7])),
             lambda: F.cross_entropy(x, M.tensor([0., 1, 2])),
             lambda: F.binary_cross_entropy(x, x),
             lambda: F.binary_cross_entropy(x.sigmoid(), x[0].sigmoid()),
             lambda: F.binary_cross_entropy_with_logits(x, x[0]),
             # integer and bool targets (torch's kernel writes into the target's dtype)
             lambda: F.binary_cross_entropy_with_logits(x, M.ones(3, 4, dtype=M.int64)),
             lambda: F.binary_cross_entropy_with_logits(x, M.ones(3, 4, dtype=M.bool)),
             lambda: F.binary_cross_entropy(x.sigmoid(), M.ones(3, 4, dtype=M.int64)),
             lambda: F.mse_loss(x, x, reduction="foo"),
             lambda: F.linear(x, M.ones(5, 3, dtype=x.dtype)),
             lambda: F.linear(x[0, 0], M.ones(3, 4, dtype=x.dtype)),   # 0-d operands
             lambda: F.linear(x[0, 0], M.ones(3, 4, dtype=x.dtype), M.ones(3, dtype=x.dtype)),
             lambda: F.linear(x[0], x[0, 0]),
             # an addmm (a bias; 1-d, 2-d or contiguous input) names the dtypes before the
             # shapes, matmul the shapes first
             lambda: F.linear(x.double(), M.ones(2, 2), M.ones(2)),
             lambda: F.linear(x[0].double(), M.ones(2, 2), M.ones(2)),
             lambda: F.linear(x.reshape(3, 1, 4).long(), M.ones(2, 2), M.ones(2)),
             lambda: F.linear(x.double(), M.ones(2, 2), M.ones(2, dtype=M.float64)),
             lambda: F.linear(x.double(), M.ones(2, 2)),
             lambda: F.one_hot(M.tensor([0, 3]), 3),
             lambda: F.one_hot(M.tensor([0., 3])),
             lambda: F.dropout(x, 1.5),
             lambda: F.dropout(M.tensor([1, 0, 3]), 0.5),      # integer inputs while training
             lambda: F.dropout2d(M.ones(1, 3, 1, 1, dtype=M.uint8), 0.5),
             lambda: F.alpha_dropout(M.tensor([True, False]), 0.5, True),
             lambda: F.layer_norm(x, (3,)),
             lambda: F.embedding(M.tensor([5]), x),
             lambda: F.pad(x, (1,)),
             lambda: F.pad(x.reshape(1, 3, 4), (4, 1), mode="reflect"),
             lambda: F.pad(x.reshape(1, 3, 4), (1, 1, 1, 1, 1, 1), mode="reflect"),
             lambda: F.pad(x.reshape(1, 3, 4), (5, 0), mode="circular"),
             lambda: F.pad(x.reshape(1, 3, 4), (0, 0, 3, 0), mode="reflect"),
             lambda: F.pad(x.reshape(1, 1, 3, 4), (0, 0, 0, 0, 1, 0), mode="reflect"),
             lambda: F.pad(x, (1, 1), mode="foo"),
             lambda: F.pad(x, (0, -5)),          # crops past the dim: no wrong-sized result
             lambda: F.pad(x, (-5, 2)),
             lambda: F.pad(x, (0, 0, -2, -2)),
             lambda: F.prelu(x[0], M.ones(4, dtype=x.dtype)),      # a 1-d input: one channel
             lambda: F.prelu(x, M.ones(4)),
             # integer inputs to the floating-only kernels
             lambda: F.prelu(M.ones(2, 4, dtype=M.int64), M.ones(1, dtype=M.int64)),
             lambda: F.glu(M.ones(2, 4, dtype=M.int64)),
             lambda: F.hardshrink(M.ones(2, dtype=M.int64)),
             lambda: F.softshrink(M.ones(2, dtype=M.int64), -1.0),
             lambda: F.layer_norm(M.ones(2, 4, dtype=M.int64), (4,)),
             lambda: F.mse_loss(M.tensor([1, 2]), M.tensor([1, 3]), reduction="none"),
             lambda: F.smooth_l1_loss(M.tensor([1, 2]), M.tensor([1, 3])),
             lambda: F.huber_loss(M.tensor([1, 2]), M.tensor([1, 3]), reduction="none"),
             lambda: F.huber_loss(M.tensor([1, 2]), M.tensor([1.0, 3.0]), reduction="none"),
             lambda: F.kl_div(M.tensor([1, 2]), M.tensor([0.5, 0.5]), reduction="sum"),
             lambda: F.kl_div(M.tensor([-1.0, -2.0]), M.tensor([0, 1]), reduction="sum"),
             lambda: F.max_pool1d(M.ones(1, 2, 4, dtype=M.int64), 2),
             lambda: F.binary_cross_entropy(M.tensor([1, 0]), M.tensor([1, 0])),
             lambda: F.binary_cross_entropy(M.tensor([1, 0]), M.tensor([1.0, 0.0])),
             lambda: F.binary_cross_entropy(M.tensor([1, 0]), M.tensor([1, 0], dtype=M.int32)),
             lambda: F.unfold(M.ones(1, 1, 3, 3, dtype=M.int64), 2),
             lambda: F.fold(M.ones(1, 4, 4, dtype=M.int64), 3, 2),
             lambda: F.rrelu(M.tensor([1, 0])),
             lambda: F.rrelu(M.tensor([True, False]), training=True),
             lambda: F.prelu(x[0, 0], M.ones(4, dtype=x.dtype)),
             lambda: F.gelu(x, approximate="foo"),
             # class weights of the wrong size, each kernel's message and order
             lambda: F.nll_loss(x, M.tensor([0, 1, 2]), M.ones(5, dtype=x.dtype)),
             lambda: F.nll_loss(x[0], M.tensor(1), M.ones(4, 1, dtype=x.dtype)),
             lambda: F.nll_loss(x.reshape(1, 3, 2, 2), M.zeros(1, 2, 3, dtype=M.int64),
                                M.ones(4, dtype=x.dtype)),
             lambda: F.nll_loss(x.reshape(1, 3, 4), M.zeros(1, 4, dtype=M.int64),
                                M.ones(4, dtype=x.dtype)),
             lambda: F.cross_entropy(x, M.tensor([0, 1, 2]), M.ones(5, dtype=x.dtype)),
             lambda: F.cross_entropy(x, x.softmax(1), M.ones(4, 1, dtype=x.dtype)),
             lambda: F.bilinear(x, x[:2], M.ones(2, 4, 4, dtype=x.dtype)),
             lambda: F.bilinear(x, x[:1], M.ones(2, 4, 4, dtype=x.dtype)),   # no broadcast
             lambda: F.bilinear(x, x[0], M.ones(2, 4, 4, dtype=x.dtype)),
             lambda: F.bilinear(x, x, M.ones(2, 3, 4, dtype=x.dtype)),
             lambda: F.bilinear(x, x, M.ones(2, 4, 5, dtype=x.dtype)),
             lambda: F.bilinear(x, x, M.ones(2, 4, 4, dtype=x.dtype), M.ones(3, dtype=x.dtype)),
             # parameters of another dtype than the input (aten's CPU mixed-type rules)
             lambda: F.batch_norm(x, None, None, M.ones(4), M.zeros(4), training=True),
             lambda: F.batch_norm(x.float(), M.zeros(4, dtype=M.float64), M.ones(4)),
             lambda: F.batch_norm(x, M.zeros(4, dtype=x.dtype), M.ones(4), training=True),
             lambda: F.layer_norm(x, (4,), M.ones(4)),
             lambda: F.layer_norm(x, (4,), M.ones(4, dtype=x.dtype), M.ones(4)),
             lambda: F.group_norm(x, 2, M.ones(4)),
             lambda: F.instance_norm(x.reshape(1, 4, 3).float(), weight=M.ones(4, dtype=x.dtype)),
             lambda: F.group_norm(x, 0),
             lambda: F.group_norm(x, -1),
             lambda: F.group_norm(x, 2, M.ones(3, dtype=x.dtype)),
             lambda: F.group_norm(x, 2, None, M.ones(3, dtype=x.dtype)),
             lambda: F.group_norm(x[:1, :1], 1),
             # batch_norm's checks, in torch's order (4 channels)
             lambda: F.batch_norm(x, M.zeros(3), M.ones(4), training=True),
             lambda: F.batch_norm(x, M.zeros(4), M.ones(3), training=True),
             lambda: F.batch_norm(x, None, None, M.ones(3), training=True),
             lambda: F.batch_norm(x, None, None, None, M.ones(5), training=True),
             lambda: F.batch_norm(x, None, None, training=False),
             lambda: F.batch_norm(x, M.zeros(4, dtype=x.dtype), None, training=False),
             lambda: F.batch_norm(x[:1], None, None, training=True),
             lambda: F.batch_norm(x[0], None, None, training=True),
             lambda: F.batch_norm(x[:0], M.zeros(3), M.ones(3), training=True).shape]
    out = []
    for c in calls:
        try:
            c()
            out.append("no error")
        except Exception as e:  # noqa: BLE001  (compared with torch's)
            out.append(f"{type(e).__name__}: {e}".replace("torch.", "tapegrad."))
    return out


def test_errors_as_torch():
    assert _errors(tapegrad, TF) == _errors(torch, PF)


def test_warnings_as_torch():
    for M, F in ((tapegrad, TF), (torch, PF)):
        x = M.tensor(X)
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            F.softmax(x)
        with pytest.warns(UserWarning, match="that is different to the input size"):
            F.mse_loss(x, x[0])
        with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
            F.kl_div(x, x)


def test_create_graph_through_a_decomposition_row():
    """Second derivatives of a loss recorded as a decomposition row (the primitives')."""
    outs = []
    for M, F in ((tapegrad, TF), (torch, PF)):
        x = M.tensor(X, dtype=M.float64, requires_grad=True)
        loss = F.cross_entropy(x, M.tensor(CLS)) + F.softplus(x).sum()
        g, = M.autograd.grad(loss, x, create_graph=True)
        h, = M.autograd.grad((g * g).sum(), x)
        outs.append(h.detach().numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-10)


def test_embedding_scale_grad_by_freq_replays():
    """The counts are constants of the indices: a replay at new weights scales as torch."""
    idx = np.array([[1, 0, 1], [3, 1, 0]])
    rec = tapegrad.record(lambda w: (TF.embedding(tapegrad.tensor(idx), w, scale_grad_by_freq=True)
                                     .pow(2).sum()), tapegrad.tensor(W))
    for wv in np.random.default_rng(3).normal(size=(2,) + W.shape):
        value, (g,) = rec.value_and_grad(wv)
        wt = torch.tensor(wv, requires_grad=True)
        out = PF.embedding(torch.tensor(idx), wt, scale_grad_by_freq=True).pow(2).sum()
        out.backward()
        assert value == pytest.approx(out.item(), rel=1e-12)
        np.testing.assert_allclose(g, wt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("pad", [(-1, 2), (2, -1), (3, -2, 0, 1), (1, 1, -2, 2), (-2, -1, 2, -1)])
def test_circular_pad_wraps_what_negative_pads_left(pad):
    """torch crops first and wraps around the cropped tensor (not the whole input)."""
    x = np.arange(30.0).reshape(1, 5, 6)
    res = []
    for lib, F in ((torch, PF), (tapegrad, TF)):
        t = lib.tensor(x, requires_grad=True)
        y = F.pad(t, pad, mode="circular")
        y.backward(lib.tensor(np.arange(float(y.numel())).reshape(tuple(y.shape))))
        res.append((y.detach().numpy(), t.grad.numpy()))
    np.testing.assert_array_equal(res[1][0], res[0][0])
    np.testing.assert_array_equal(res[1][1], res[0][1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mish_second_derivative_where_exp_overflows(dtype):
    """mish's gradient holds sigmoid(x), whose derivative is 0 far left (torch's composite
    mish_backward), not the 0 * inf of 1 / (1 + exp(-x))."""
    x = np.array([-800.0, -100.0, -20.0, 0.0, 3.0, 20.0], dtype=dtype)
    res = []
    for lib, F in ((torch, PF), (tapegrad, TF)):
        t = lib.tensor(x, requires_grad=True)
        g, = lib.autograd.grad(F.mish(t).sum(), t, create_graph=True)
        h, = lib.autograd.grad(g.sum(), t)
        res.append((g.detach().numpy(), h.numpy()))
    for ours, theirs in zip(res[1], res[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4 if dtype == "float32" else 1e-9,
                                   atol=1e-30)


@pytest.mark.parametrize("kw", [{}, {"weight": 1}, {"pos_weight": 1}], ids=str)
@pytest.mark.parametrize("dtypes", [("float64", "float32"), ("float32", "float64"),
                                    ("float32", "float32")], ids=str)
def test_bce_with_logits_loss_has_the_targets_dtype(kw, dtypes):
    """torch's kernel works in place on (1 - target): the loss has the target's dtype (float64
    logits, float32 targets: a float32 loss), the input's gradient the input's."""
    x = R.standard_normal((3, 4))
    res = []
    for lib, F in ((torch, PF), (tapegrad, TF)):
        t = lib.tensor(x.astype(dtypes[0]), requires_grad=True)
        extra = {k: lib.tensor(CW) for k in kw}       # (float64 weights)
        loss = F.binary_cross_entropy_with_logits(t, lib.tensor(P.astype(dtypes[1])),
                                                  reduction="none", **extra)
        loss.sum().backward()
        res.append((str(loss.dtype).split(".")[1], type(loss.grad_fn).__name__,
                    str(t.grad.dtype).split(".")[1], loss.detach().numpy(), t.grad.numpy()))
    assert res[1][:3] == res[0][:3]
    np.testing.assert_allclose(res[1][3], res[0][3], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res[1][4], res[0][4], rtol=1e-6, atol=1e-6)


def test_threshold_of_integer_tensors_keeps_their_dtype():
    """torch's kernel converts threshold and value to the input's integer type (a float
    truncated, an int wrapping; out of range: its overflow error) and compares in it."""
    def run(lib):
        F = lib.nn.functional
        out = []
        for dt in ("int64", "int32", "uint8"):
            for th, val in ((0.5, 2.5), (-0.5, 7), (1, -1), (1, 300), (1, float("inf"))):
                x = lib.tensor([0, 1, 2, 100]).to(getattr(lib, dt))
                try:
                    r = F.threshold(x, th, val)
                    y = x.clone()
                    lib.nn.Threshold(th, val, inplace=True)(y)
                    out.append((str(r.dtype).split(".")[1], r.tolist(), y.tolist()))
                except RuntimeError as e:
                    out.append(str(e))
        return out
    assert run(tapegrad) == run(torch)


@pytest.mark.parametrize("shape", [(0, 4), (0, 4, 3), (0, 4, 0, 2)])
def test_group_norm_of_an_empty_batch(shape):
    res = []
    for lib in (torch, tapegrad):
        m = lib.nn.GroupNorm(2, 4)
        x = lib.zeros(shape, requires_grad=True)
        y = m(x)
        y.sum().backward()
        res.append((tuple(y.shape), m.weight.grad.tolist(), m.bias.grad.tolist()))
    assert res[1] == res[0]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_huber_loss_has_the_inputs_dtype(reduction):
    """torch's kernel writes into empty_like(input): float32 predictions against float64
    targets give a float32 loss (whose backward torch then refuses)."""
    res = []
    for lib, F in ((torch, PF), (tapegrad, TF)):
        loss = F.huber_loss(lib.tensor(X.astype("float32")), lib.tensor(Y), reduction=reduction,
                            delta=1.5)
        res.append((str(loss.dtype).split(".")[1], loss.numpy()))
    assert res[1][0] == res[0][0] == "float32"
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-6)


def test_cosine_similarity_casts_integer_operands_as_torch():
    """torch casts an integer (or bool) operand to the common floating dtype; two integer
    ones raise its dtype error."""
    def run(lib):
        F = lib.nn.functional
        out = []
        for a, b in [([[1, 2]], [[1.0, 3.0]]), ([[1.0, 2.0]], [[1, 3], [2, 2]]),
                     ([[True, False]], [[1.0, 3.0]]), ([[1, 2]], [[1, 3]])]:
            try:
                r = F.cosine_similarity(lib.tensor(a), lib.tensor(b))
                out.append((str(r.dtype).split(".")[1], np.round(r.numpy(), 6).tolist()))
            except RuntimeError as e:
                out.append(str(e))
        return out
    assert run(tapegrad) == run(torch)


def test_softplus_second_derivative_at_the_threshold():
    """torch's double backward masks sigmoid' by x < threshold: 0 at the threshold itself,
    where the first derivative is still sigmoid's."""
    x = np.array([2.0, 2.0000001, 1.999, 20.0, -3.0])
    res = []
    for lib, F in ((torch, PF), (tapegrad, TF)):
        t = lib.tensor(x, requires_grad=True)
        g1, = lib.autograd.grad(F.softplus(t, 1, 2).sum(), t, create_graph=True)
        g2, = lib.autograd.grad(g1.sum(), t)
        h1, = lib.autograd.grad(F.softplus(t).sum(), t, create_graph=True)
        h2, = lib.autograd.grad(h1.sum(), t)
        res.append([a.detach().numpy() for a in (g1, g2, h1, h2)])
    for ours, theirs in zip(res[1], res[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("beta, threshold", [(0.5, 1.0), (3.0, 1.5), (-1.0, 2.0)])
def test_softplus_beta_second_derivative_at_the_threshold(beta, threshold):
    """With beta != 1 too: at x * beta == threshold the gradient is sigmoid's and the second
    derivative 0 (torch masks it by x * beta < threshold); on both sides torch's values."""
    x = np.array([threshold / beta, threshold / beta - 1e-3, threshold / beta + 1e-3, -3.0, 0.0])
    res = []
    for lib, F in ((torch, PF), (tapegrad, TF)):
        t = lib.tensor(x, requires_grad=True)
        y = F.softplus(t, beta, threshold)
        g1, = lib.autograd.grad(y.sum(), t, create_graph=True)
        g2, = lib.autograd.grad(g1.sum(), t)
        res.append([a.detach().numpy() for a in (y, g1, g2)])
    for ours, theirs in zip(res[1], res[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_huber_loss_weight(reduction):
    """torch's weight: the unreduced loss times weight, then reduced (it was ignored)."""
    res = []
    for lib, F in ((torch, PF), (tapegrad, TF)):
        x, t = lib.tensor(X, requires_grad=True), lib.tensor(Y)
        w = lib.tensor(np.abs(Y) + 0.5, requires_grad=True)
        loss = F.huber_loss(x, t, reduction=reduction, delta=0.8, weight=w)
        gx, gw = lib.autograd.grad(loss.sum(), (x, w))
        res.append([a.detach().numpy() for a in (loss, gx, gw)])
        with pytest.raises(ValueError, match="^Weights and input must have the same size.$"):
            F.huber_loss(x, t, weight=w[0])
    for ours, theirs in zip(res[1], res[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("dx, dt", [("float32", "float64"), ("float64", "float32"),
                                    ("float32", "int64")])
def test_huber_loss_mixed_dtypes(dx, dt):
    """The loss in the input's dtype; torch's backward raises (huber_loss_backward takes one
    dtype), with its message for each input that requires grad."""
    out = []
    for lib, F in ((torch, PF), (tapegrad, TF)):
        for need in ("input", "target", "both"):
            x = lib.tensor(X, dtype=getattr(lib, dx), requires_grad=need != "target")
            is_float = getattr(lib, dt).is_floating_point
            t = lib.tensor(Y if is_float else np.round(Y * 3), dtype=getattr(lib, dt),
                           requires_grad=is_float and need != "input")
            if not (x.requires_grad or t.requires_grad):
                continue
            loss = F.huber_loss(x, t, delta=0.7)
            row = [str(loss.dtype).split(".")[1], round(loss.item(), 6),
                   type(loss.grad_fn).__name__]
            try:
                loss.backward()
                row.append("no error")
            except RuntimeError as e:
                row.append(str(e))
            out.append(row)
    half = len(out) // 2
    assert out[half:] == out[:half]


@pytest.mark.parametrize("dx, dw", [("float32", "float64"), ("float64", "float32"),
                                    ("float32", "int64")])
def test_rms_norm_mixed_dtypes(dx, dw):
    """A weight of another dtype: torch's composition casts the product back to the input's
    dtype (ToCopyBackward0 for a float64 weight on float32 input), with its warning."""
    x0 = R.standard_normal((3, 4))
    out = []
    for lib, F in ((torch, PF), (tapegrad, TF)):
        x = lib.tensor(x0, dtype=getattr(lib, dx), requires_grad=True)
        w = lib.tensor(np.round(Y[0] * 3) if dw == "int64" else Y[0], dtype=getattr(lib, dw),
                       requires_grad=dw != "int64")
        lib.set_warn_always(True)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                y = F.rms_norm(x, (4,), w)
        finally:
            lib.set_warn_always(False)
        grads = lib.autograd.grad((y * y.detach()).sum(), [x] + [w] * w.requires_grad)
        out.append((str(y.dtype), type(y.grad_fn).__name__,
                    [str(m.message).split(" (Triggered")[0] for m in caught],
                    y.detach().double().numpy(), [str(g.dtype) for g in grads],
                    [g.double().numpy() for g in grads]))
    ours, theirs = out[1], out[0]
    assert [s.replace("tapegrad", "torch") for s in ours[4]] == theirs[4]
    assert ours[0].replace("tapegrad", "torch") == theirs[0] and ours[1:3] == theirs[1:3]
    tol = 1e-5 if "float32" in (dx, dw) else 1e-12
    np.testing.assert_allclose(ours[3], theirs[3], rtol=tol, atol=tol)
    for a, b in zip(ours[5], theirs[5]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("channels", [1, 3])
def test_prelu_double_backward_at_zero(channels):
    """torch's _prelu_kernel_backward gives weight * g at x == 0, but its own derivatives
    (derivatives.yaml) mask by x >= 0: at 0 they are those of the x > 0 side."""
    x0 = np.array([[-1.0, 0.0, 2.0], [0.0, -0.5, 0.0], [-0.0, 3.0, -2.0]])
    w0 = np.array([0.25, 0.5, 0.75])[:channels]
    g0 = R.standard_normal((3, 3))
    res = []
    for lib, F in ((torch, PF), (tapegrad, TF)):
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(w0, requires_grad=True)
        go = lib.tensor(g0, requires_grad=True)
        gx, gw = lib.autograd.grad(F.prelu(x, w), (x, w), go, create_graph=True)
        s = (gx * lib.tensor(x0 + 1.5)).sum() + (gw * gw).sum()
        res.append([a.detach().numpy() for a in
                    (gx, gw) + lib.autograd.grad(s, (x, w, go))])
    for ours, theirs in zip(res[1], res[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def _embedding_run(lib, fast, weight_kind, idx, dtype, monkeypatch):
    """F.embedding(idx, w) with the common lookup's writer (nn.functional's, `fast`) or the
    row's body; (tape facts, value, gradient, grad_fn and its edges) or torch's error."""
    from test_eager_nn import _facts
    from tapegrad.nn import functional as TFmod
    from tapegrad.tape import CLOSED, STATE
    if lib is tapegrad:
        monkeypatch.setattr(TFmod, "_rows_at", views_rows_at() if fast else lambda *a: None)
        STATE.tape = CLOSED
    rng = np.random.default_rng(2)
    wa = rng.standard_normal((6, 4)).astype(dtype)
    w0 = lib.nn.Parameter(lib.tensor(wa)) if weight_kind != "constant" else lib.tensor(wa)
    w = w0 * 1.0 if weight_kind == "non-leaf" else w0
    try:
        out = lib.nn.functional.embedding(lib.tensor(idx), w)
    except (IndexError, RuntimeError) as e:
        return type(e).__name__, str(e)
    facts = _facts(out._tape, [w0, w, out]) if lib is tapegrad and out._tape else None
    fn = out.grad_fn
    res = [facts, out.detach().numpy().tolist(), fn and fn.name(),
           fn and [f and f.name() for f, _ in fn.next_functions]]
    if fn is not None:
        (out * out).sum().backward()
        res.append(w0.grad.numpy().tolist())
    return res


def views_rows_at():
    from tapegrad.views import _rows_at
    return _rows_at


@pytest.mark.parametrize("weight_kind", ["leaf", "non-leaf", "constant"])
@pytest.mark.parametrize("idx", [np.array([1, 0, 5, 1]), np.array([[2, 2], [0, 3]]),
                                 np.array([[2, 2], [0, 3]], np.int32), np.array([0, -1]),
                                 np.array([6, 0]), np.zeros((0,), np.int64), np.array(3)],
                         ids=["1d", "2d", "int32", "negative", "past", "empty", "0d"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_lookup_writer_as_the_body_and_torch(monkeypatch, weight_kind, idx, dtype):
    """F.embedding's writer of the common lookup (no padding_idx, max_norm or frequency
    scaling) appends exactly the body's entry and group, with its values, gradient, grad_fn
    and edges, and torch's; indices it leaves to the general path (negative, past the rows,
    none, 0-d) give torch's errors and results."""
    fast = _embedding_run(tapegrad, True, weight_kind, idx, dtype, monkeypatch)
    slow = _embedding_run(tapegrad, False, weight_kind, idx, dtype, monkeypatch)
    want = _embedding_run(torch, True, weight_kind, idx, dtype, monkeypatch)
    assert str(fast) == str(slow)
    got = fast if isinstance(fast, tuple) else fast[1:]
    assert str(got) == str(want if isinstance(want, tuple) else want[1:])


@pytest.mark.parametrize("p", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("kind", ["non-leaf", "leaf", "transposed", "constant", "inplace"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_mask_wrapped_as_its_copy(kind, p, dtype):
    """F.dropout wraps its fresh mask array as the mul's constant operand: the same tape
    entries, saved values, version watches, values and gradients (create_graph too) as the
    copy torch.tensor(mask) made before, for leaves, views, constants, p = 1 (a 0-d mask)
    and in place; the same seed drops the same elements as torch."""
    from test_eager_nn import _facts
    from tapegrad.discrete_draws import dropout_noise
    from tapegrad.random import arranged_like, default_generator
    from tapegrad.tape import CLOSED, STATE

    def run(copy):
        STATE.tape = CLOSED
        tapegrad.manual_seed(3)
        xa = np.random.default_rng(1).standard_normal((4, 6)).astype(dtype)
        x0 = tapegrad.tensor(xa, requires_grad=kind != "constant")
        x = x0 if kind == "leaf" else (x0 * 1.0).mT if kind == "transposed" else x0 * 1.0
        if copy:   # (the mask as before: drawn as dropout draws it, copied by torch.tensor)
            scale = np.zeros((), xa.dtype) if p == 1.0 else arranged_like(
                x._array(), dropout_noise(default_generator._engine, tuple(x.shape), p,
                                          xa.dtype))
            m = tapegrad.tensor(scale, dtype=x.dtype)
            y = x.mul_(m) if kind == "inplace" else x * m
        else:
            y = TF.dropout(x, p, inplace=kind == "inplace")
        if not y.requires_grad:
            return y.numpy().tolist()
        facts = _facts(y._tape, [x0, x, y])
        g, = tapegrad.autograd.grad((y * y).sum(), x0, create_graph=True)
        gg, = tapegrad.autograd.grad(g.sum(), x0)
        return facts, y.detach().numpy().tolist(), g.detach().numpy().tolist(), gg.tolist()
    assert str(run(False)) == str(run(True))
    torch.manual_seed(3)
    tapegrad.manual_seed(3)
    xa = np.random.default_rng(1).standard_normal((4, 6)).astype(dtype)
    got = [m.nn.functional.dropout(m.tensor(xa, requires_grad=True) * 1.0, p).detach().numpy()
           for m in (tapegrad, torch)]
    np.testing.assert_array_equal(got[0], got[1])


def _layer_norm_call(lib, shape, ns, params, x_kind, dtype, facts_of=None):
    """layer_norm(x, ns, w, b) as a layer calls it: (value, grad_fn, gradients; `facts_of`'s
    of the result before backward) or the error."""
    rng = np.random.default_rng(8)
    xa = rng.standard_normal(shape).astype(dtype)
    wshape = tuple(int(v) for v in ns)
    w = b = None
    if params in ("affine", "weight", "bias", "float64 weight"):
        wdt = "float64" if params == "float64 weight" else dtype
        w = lib.nn.Parameter(lib.tensor(rng.standard_normal(wshape).astype(wdt)))
        b = lib.nn.Parameter(lib.tensor(rng.standard_normal(wshape).astype(dtype)))
        w = None if params == "bias" else w
        b = None if params == "weight" else b
    x0 = lib.tensor(xa, requires_grad=x_kind != "constant")
    x = x0 if x_kind in ("leaf", "constant") else x0 * 1.0
    try:
        y = lib.nn.functional.layer_norm(x, ns, w, b)
    except (RuntimeError, TypeError) as e:
        return type(e).__name__, str(e)
    res = [y.detach().numpy(), y.grad_fn and y.grad_fn.name()]
    if facts_of is not None:
        res.append(facts_of(y, [x0, x, w, b, y]))
    if y.requires_grad:
        (y * y).sum().backward()
        res += [t.grad.numpy() for t in (x0, w, b) if t is not None and t.requires_grad]
    return res


_LN_CASES = [((4, 6), (6,), "none", "non-leaf"), ((4, 6), (6,), "affine", "non-leaf"),
             ((2, 3, 4), (3, 4), "affine", "non-leaf"), ((4, 6), (6,), "weight", "leaf"),
             ((4, 6), (6,), "bias", "non-leaf"), ((4, 6), (6,), "affine", "constant"),
             ((6,), (6,), "affine", "non-leaf"), ((4, 6), [6], "affine", "non-leaf"),
             ((4, 6), (np.int64(6),), "none", "non-leaf"), ((4, 6), (4,), "none", "non-leaf"),
             ((4, 6), (6,), "float64 weight", "non-leaf"), ((4, 6), (), "none", "non-leaf"),
             ((4, 6), (4, 6, 1), "none", "non-leaf")]


@pytest.mark.parametrize("shape,ns,params,x_kind", _LN_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_norm_direct_call_as_the_checked_path_and_torch(monkeypatch, shape, ns, params,
                                                              x_kind, dtype):
    """F.layer_norm's direct call of the one-pass writer (a tuple of ints matching the
    input's trailing sizes, weight and bias of them in its dtype) gives the checked path's
    tape, values and gradients, and torch's; lists, numpy ints, mismatched sizes, a weight of
    another dtype, an empty or too long normalized_shape take the checked path: torch's
    errors."""
    from test_eager_nn import _facts
    from tapegrad.nn import functional as TFmod
    from tapegrad.tape import CLOSED, STATE

    def run(fast):
        if not fast:
            monkeypatch.setattr(TFmod, "_layer_norm_pass", lambda *a: None)
        STATE.tape = CLOSED
        got = _layer_norm_call(tapegrad, shape, ns, params, x_kind, dtype,
                               lambda y, keep: y._tape and _facts(y._tape, keep))
        monkeypatch.undo()
        return got
    fast, slow = run(True), run(False)
    assert str(fast) == str(slow)
    want = _layer_norm_call(torch, shape, ns, params, x_kind, dtype)
    got = fast if isinstance(fast, tuple) else fast[:2] + fast[3:]   # (no facts)
    if isinstance(want, tuple):
        assert got == want
        return
    assert len(got) == len(want) and got[1] == want[1]
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    for g, w in zip(got[:1] + got[2:], want[:1] + want[2:]):
        np.testing.assert_allclose(g, w, **tol)
