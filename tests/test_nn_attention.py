"""RMSNorm / F.rms_norm, F.scaled_dot_product_attention, nn.MultiheadAttention and
nn.TransformerEncoderLayer / TransformerEncoder against torch 2.13: the same weights copied
across, outputs and the gradients of inputs and parameters in float32 and float64, gradcheck
in float64, reprs, state dicts, init, errors, and a tiny encoder classifier trained a few Adam
steps that must give torch's losses.

Known differences: F.rms_norm's eps add shows AddBackward0 (torch: AddBackward1, its add of a
number).  torch's CPU scaled_dot_product_attention runs a fused kernel
(ScaledDotProductFlashAttentionForCpuBackward0) where it can; tapegrad follows torch's math
path (torch's SafeSoftmaxBackward0 is SoftmaxBackward0 here, with MulBackward0 around it
when a row is masked everywhere); values and gradients agree.  Dropout masks come from
tapegrad's generator, so only p=0 and p=1 are compared value for value.  MultiheadAttention
follows torch's slow path (torch's eval-mode fast path is switched off where compared); where
torch views the heads of a transposed tensor tapegrad reshapes (its view takes contiguous
tensors only), so UnsafeViewBackward0 shows there.  The transformer layers are compared with
torch's fast paths off (torch.backends.mha); torch's fused eval-mode layer gives the same
values."""
import itertools
import warnings
import zlib

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
TOL = {"float32": 2e-5, "float64": 1e-11}


@pytest.fixture(autouse=True)
def _draws_of_this_test(request):
    """Each test draws from a seed of its own (its id's CRC), not from where the module's
    stream stood: what an xdist worker ran before it no longer picks its inputs (a float32
    multi-head case drawn near a cancellation missed the tolerance so in a CI run)."""
    global RNG
    RNG = np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def _pair(shape, dtype="float64", grad=True):
    a = RNG.standard_normal(shape).astype(dtype)
    return (torch.tensor(a, requires_grad=grad), tg.tensor(a, requires_grad=grad))


def _close(t, g, dtype):
    """Equal to rounding: the tolerance relative to the largest entry (float32 sums of a few
    terms of size ~30 lose ~1e-5 absolute)."""
    a = t.detach().numpy()
    finite = np.abs(a[np.isfinite(a)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(g.detach().numpy(), a, rtol=TOL[dtype], atol=TOL[dtype] * scale)


def _chain(fn, depth):
    """grad_fn names depth-first to `depth` levels (edges to no node left out: tapegrad's
    add of a number keeps one for the number)."""
    if fn is None or depth == 0:
        return None
    kids = [_chain(f, depth - 1) for f, _ in fn.next_functions if f is not None]
    return (type(fn).__name__, kids)


def _copy(tmod, gmod):
    gmod.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()})


# ---- rms_norm ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,ns,eps,weight", [((2, 3, 4), (4,), None, True),
                                                 ((2, 3, 4), [3, 4], 1e-3, True),
                                                 ((5, 4), [4], None, False),
                                                 ((3,), (3,), 0.5, True)])
def test_rms_norm_functional(dtype, shape, ns, eps, weight):
    xt, xg = _pair(shape, dtype)
    wshape = tuple(ns)
    wt, wg = _pair(wshape, dtype) if weight else (None, None)
    yt = torch.nn.functional.rms_norm(xt, ns, wt, eps)
    yg = tg.nn.functional.rms_norm(xg, ns, wg, eps)
    assert yg.dtype == getattr(tg, dtype) and tuple(yg.shape) == tuple(yt.shape)
    _close(yt, yg, dtype)
    g = RNG.standard_normal(shape).astype(dtype)
    (yt * torch.tensor(g)).sum().backward()
    (yg * tg.tensor(g)).sum().backward()
    _close(xt.grad, xg.grad, dtype)
    if weight:
        _close(wt.grad, wg.grad, dtype)
    rename = {"AddBackward1": "AddBackward0"}
    ct = str(_chain(yt.grad_fn, 6))
    for a, b in rename.items():
        ct = ct.replace(a, b)
    assert str(_chain(yg.grad_fn, 6)) == ct


def test_rms_norm_default_eps_is_dtype_eps():
    x = tg.tensor([[1e-5, -1e-5, 2e-5]], dtype=tg.float32)
    y = tg.nn.functional.rms_norm(x, (3,))
    y_eps = tg.nn.functional.rms_norm(x, (3,), eps=tg.finfo(tg.float32).eps)
    assert np.array_equal(y.numpy(), y_eps.numpy())
    xt = torch.tensor(x.numpy())
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.rms_norm(xt, (3,)).numpy(),
                               rtol=1e-6)


def test_rms_norm_errors():
    for ns, err in [((4,), RuntimeError), ((2, 4), RuntimeError), ((5, 2, 3), ValueError),
                    (3, TypeError)]:
        msgs = []
        for M in (torch, tg):
            with pytest.raises(err) as e:
                M.nn.functional.rms_norm(M.zeros(2, 3), ns)
            msgs.append(str(e.value))
        assert msgs[0] == msgs[1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rms_norm_module(dtype):
    for args, kw in [((4,), {}), (([3, 4],), {"eps": 1e-4}), ((4,), {"elementwise_affine": False})]:
        tm = torch.nn.RMSNorm(*args, dtype=getattr(torch, dtype), **kw)
        gm = tg.nn.RMSNorm(*args, dtype=getattr(tg, dtype), **kw)
        assert repr(gm) == repr(tm)
        assert list(gm.state_dict()) == list(tm.state_dict())
        assert gm.eps == tm.eps and gm.normalized_shape == tm.normalized_shape
        if tm.weight is not None:
            assert np.array_equal(gm.weight.detach().numpy(), tm.weight.detach().numpy())
            with torch.no_grad():
                tm.weight.normal_()
            _copy(tm, gm)
            assert gm.weight.dtype == getattr(tg, dtype)
        xt, xg = _pair((2, 3, 4), dtype)
        yt, yg = tm(xt), gm(xg)
        _close(yt, yg, dtype)
        yt.pow(2).sum().backward()
        yg.pow(2).sum().backward()
        _close(xt.grad, xg.grad, dtype)
        if tm.weight is not None:
            _close(tm.weight.grad, gm.weight.grad, dtype)


def test_rms_norm_gradcheck():
    x = tg.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    w = tg.tensor(RNG.standard_normal(3), requires_grad=True)
    assert tg.autograd.gradcheck(lambda a, b: tg.nn.functional.rms_norm(a, (3,), b, 1e-3),
                                 (x, w))


# ---- scaled_dot_product_attention --------------------------------------------------------------
_SDPA = ["plain", "causal", "scale", "neg_scale", "bool", "float", "bool_row_masked", "gqa",
         "3d", "broadcast_mask"]


def _sdpa_inputs(case, dtype):
    hq, hk = 4, (2 if case == "gqa" else 4)
    L, S = 5, (5 if case == "causal" else 6)
    lead = () if case == "3d" else (2,)
    qt, qg = _pair(lead + (hq, L, 3), dtype)
    kt, kg = _pair(lead + (hk, S, 3), dtype)
    vt, vg = _pair(lead + (hk, S, 2), dtype)
    kw_t, kw_g = {}, {}
    if case == "causal":
        kw_t["is_causal"] = kw_g["is_causal"] = True
    if case in ("scale", "neg_scale"):
        kw_t["scale"] = kw_g["scale"] = 0.3 if case == "scale" else -0.7
    if case == "gqa":
        kw_t["enable_gqa"] = kw_g["enable_gqa"] = True
    if case in ("bool", "bool_row_masked", "float", "broadcast_mask"):
        shape = (hq, 1, S) if case == "broadcast_mask" else (L, S)
        if case == "float":
            m = RNG.standard_normal(shape).astype(dtype)
        else:
            m = RNG.random(shape) > 0.4
            if case == "bool_row_masked":
                m[2] = False
        kw_t["attn_mask"], kw_g["attn_mask"] = torch.tensor(m), tg.tensor(m)
    return (qt, kt, vt), (qg, kg, vg), kw_t, kw_g


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", _SDPA)
def test_sdpa_matches_torch(case, dtype):
    it, ig, kw_t, kw_g = _sdpa_inputs(case, dtype)
    ot = torch.nn.functional.scaled_dot_product_attention(*it, **kw_t)
    og = tg.nn.functional.scaled_dot_product_attention(*ig, **kw_g)
    assert tuple(og.shape) == tuple(ot.shape) and og.dtype == getattr(tg, dtype)
    _close(ot, og, dtype)
    if case == "bool_row_masked":
        assert np.all(og.detach().numpy()[..., 2, :] == 0)
    g = RNG.standard_normal(tuple(ot.shape)).astype(dtype)
    (ot * torch.tensor(g)).sum().backward()
    (og * tg.tensor(g)).sum().backward()
    for a, b in zip(it, ig):
        _close(a.grad, b.grad, dtype)


def test_sdpa_gradcheck():
    for case in ["plain", "causal", "bool_row_masked", "gqa"]:
        _, ig, _, kw = _sdpa_inputs(case, "float64")
        assert tg.autograd.gradcheck(
            lambda q, k, v: tg.nn.functional.scaled_dot_product_attention(q, k, v, **kw), ig)


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("lead", [(), (1,)], ids=["math", "flash"])
def test_sdpa_masked_row_gradient_at_a_nonfinite_value(lead, bad):
    # fuzz_nn seeds 490, 16354, 16668, 16700, 17173, 17233, 17465: torch's gradient at a row
    # masked everywhere is softmax's backward on its zeros, 0 * (g - sum(g * 0)): nan across
    # the row where a value it would read is inf or nan; tapegrad's `where` gave zeros
    got = []
    for M in (torch, tg):
        q = M.tensor([[0.5, 1.0], [0.3, -0.2], [-1.1, 0.7]]).reshape(lead + (1, 3, 2))
        k = M.tensor([[1.0, 2.0], [0.1, 0.4], [0.3, 0.3]]).reshape(lead + (1, 3, 2))
        v = M.tensor([[1.0, 2.0], [bad or 0.0, 0.4], [0.3, 0.3]]).reshape(lead + (1, 3, 2))
        mask = M.tensor([[True, False, True], [False, False, False], [True, False, False]])
        for t in (q, k, v):
            t.requires_grad_()
        out = M.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        (out * M.tensor([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.25]])).sum().backward()
        got.append([np.array(t.tolist()) for t in (out, q.grad, k.grad, v.grad)])
    for a, b in zip(*got):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)   # (nan where torch's)


def test_sdpa_dropout():
    _, (q, k, v), _, _ = _sdpa_inputs("plain", "float64")
    F = tg.nn.functional
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).detach().numpy() == 0)
    tg.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    b = F.scaled_dot_product_attention(q, k, v)
    assert tuple(a.shape) == tuple(b.shape) and not np.allclose(a.detach().numpy(),
                                                                b.detach().numpy())


def test_sdpa_errors():
    for M in (torch, tg):
        q = M.zeros(1, 2, 3)
        with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
            M.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=M.ones(2, 2),
                                                         is_causal=True)
        with pytest.raises(RuntimeError, match="same dtype"):
            M.nn.functional.scaled_dot_product_attention(q, q.double(), q)
    msgs = []
    for M in (torch, tg):
        q = M.zeros(1, 2, 3)
        for dt in (M.float64, M.int64, M.int32):
            with pytest.raises(RuntimeError) as e:
                M.nn.functional.scaled_dot_product_attention(q, q, q,
                                                             attn_mask=M.zeros(2, 2, dtype=dt))
            msgs.append(str(e.value))
        # a float32 mask with a float64 query is accepted (the sum is float64), as torch
        out = M.nn.functional.scaled_dot_product_attention(q.double(), q.double(), q.double(),
                                                           attn_mask=M.zeros(2, 2))
        assert out.dtype == M.float64
    assert msgs[:3] == msgs[3:]


# ---- MultiheadAttention ------------------------------------------------------------------------
E, H, L, S, N = 4, 2, 3, 5, 2


def _mha_pair(dtype, **kw):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(E, H, dtype=getattr(torch, dtype), **kw)
    gm = tg.nn.MultiheadAttention(E, H, dtype=getattr(tg, dtype), **kw)
    with torch.no_grad():
        for p in tm.parameters():
            p.normal_()
    _copy(tm, gm)
    return tm, gm


def _mha_case(tm, gm, dtype, self_attn, need, avg, mask, kpm, batched=True, **kw):
    kd, vd = kw.get("kdim", E), kw.get("vdim", E)
    bf = kw.get("batch_first", False)
    s = L if self_attn else S
    if batched:
        def shp(n, d):
            return (N, n, d) if bf else (n, N, d)
    else:
        def shp(n, d):
            return (n, d)
    if self_attn:
        qt, qg = _pair(shp(L, E), dtype)
        it, ig = (qt, qt, qt), (qg, qg, qg)
    else:
        ps = [_pair(shp(L, E), dtype), _pair(shp(S, kd), dtype), _pair(shp(S, vd), dtype)]
        it, ig = tuple(p[0] for p in ps), tuple(p[1] for p in ps)
    ex_t, ex_g = {}, {}
    if mask == "bool":
        m = RNG.random((L, s)) > 0.7
        m[:, 0] = False
    elif mask == "float":
        m = RNG.standard_normal((N * H if batched else H, L, s)).astype(dtype)
    elif mask == "causal":
        m = np.triu(np.full((L, s), -np.inf, dtype=dtype), 1)
        ex_t["is_causal"] = ex_g["is_causal"] = True
    if mask:
        ex_t["attn_mask"], ex_g["attn_mask"] = torch.tensor(m), tg.tensor(m)
    if kpm:
        m = RNG.random((N, s) if batched else (s,)) > 0.6
        m[..., 0] = False
        ex_t["key_padding_mask"], ex_g["key_padding_mask"] = torch.tensor(m), tg.tensor(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ot, wt = tm(*it, need_weights=need, average_attn_weights=avg, **ex_t)
        og, wg = gm(*ig, need_weights=need, average_attn_weights=avg, **ex_g)
    assert (wt is None) == (wg is None)
    assert tuple(og.shape) == tuple(ot.shape)
    _close(ot, og, dtype)
    g = RNG.standard_normal(tuple(ot.shape)).astype(dtype)
    lt, lg = (ot * torch.tensor(g)).sum(), (og * tg.tensor(g)).sum()
    if wt is not None:
        assert tuple(wg.shape) == tuple(wt.shape)
        _close(wt, wg, dtype)
        lt, lg = lt + wt.pow(2).sum(), lg + wg.pow(2).sum()
    lt.backward()
    lg.backward()
    for a, b in zip(dict.fromkeys(it), dict.fromkeys(ig)):
        _close(a.grad, b.grad, dtype)
    tp, gp = dict(tm.named_parameters()), dict(gm.named_parameters())
    assert list(tp) == list(gp)
    for k in tp:
        _close(tp[k].grad, gp[k].grad, dtype)


_MHA_KW = [{}, {"add_bias_kv": True}, {"add_zero_attn": True}, {"kdim": 3, "vdim": 5},
           {"bias": False}, {"batch_first": True}, {"add_bias_kv": True, "add_zero_attn": True}]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", _MHA_KW, ids=str)
def test_mha_matches_torch(kw, dtype):
    same = kw.get("kdim") is None
    for self_attn, need, avg, mask, kpm in itertools.product(
            [True, False] if same else [False], [True, False], [True, False],
            [None, "bool", "float", "causal"], [False, True]):
        if mask == "causal" and not self_attn:
            continue
        if not need and not avg:
            continue   # average_attn_weights only matters with the weights
        tm, gm = _mha_pair(dtype, **kw)
        _mha_case(tm, gm, dtype, self_attn, need, avg, mask, kpm, **kw)


def test_mha_unbatched_and_eval():
    for mask, kpm in [(None, False), ("bool", True), ("float", False)]:
        tm, gm = _mha_pair("float64")
        _mha_case(tm, gm, "float64", False, True, True, mask, kpm, batched=False)
        _mha_case(tm, gm, "float64", True, False, True, mask, kpm, batched=False)
    tm, gm = _mha_pair("float64", dropout=0.5)
    tm.eval()
    gm.eval()
    torch.backends.mha.set_fastpath_enabled(False)   # torch's slow path, as tapegrad's
    try:
        _mha_case(tm, gm, "float64", True, True, True, None, False)
        _mha_case(tm, gm, "float64", True, False, True, "bool", True)
    finally:
        torch.backends.mha.set_fastpath_enabled(True)


def test_mha_repr_state_dict_init():
    for kw in _MHA_KW:
        tm = torch.nn.MultiheadAttention(E, H, **kw)
        gm = tg.nn.MultiheadAttention(E, H, **kw)
        assert repr(gm) == repr(tm)
        assert list(gm.state_dict()) == list(tm.state_dict())
        assert [n for n, _ in gm.named_parameters()] == [n for n, _ in tm.named_parameters()]
        for k, v in tm.state_dict().items():
            assert tuple(gm.state_dict()[k].shape) == tuple(v.shape)
        for a in ("embed_dim", "kdim", "vdim", "num_heads", "dropout", "batch_first", "head_dim",
                  "_qkv_same_embed_dim", "add_zero_attn"):
            assert getattr(gm, a) == getattr(tm, a)
        assert type(gm.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
        assert isinstance(gm.out_proj, tg.nn.Linear)
        if gm.in_proj_bias is not None:
            assert np.all(gm.in_proj_bias.detach().numpy() == 0)
            assert np.all(gm.out_proj.bias.detach().numpy() == 0)
        if gm.in_proj_weight is not None:
            bound = np.sqrt(6.0 / (E + 3 * E))   # xavier_uniform_ on (3E, E)
            assert np.abs(gm.in_proj_weight.detach().numpy()).max() <= bound
        # a torch state dict loads into tapegrad's module
        gm.load_state_dict({k: tg.tensor(v.numpy()) for k, v in tm.state_dict().items()})


def test_mha_merge_masks():
    tm, gm = torch.nn.MultiheadAttention(4, 2), tg.nn.MultiheadAttention(4, 2)
    q = np.zeros((2, 3, 4))
    kpm = RNG.standard_normal((2, 3))
    for am in [None, RNG.standard_normal((3, 3)), RNG.standard_normal((4, 3, 3))]:
        for k in [None, kpm]:
            args_t = [None if a is None else torch.tensor(a) for a in (am, k, q)]
            args_g = [None if a is None else tg.tensor(a) for a in (am, k, q)]
            (mt, tt), (mg, tyg) = tm.merge_masks(*args_t), gm.merge_masks(*args_g)
            assert tt == tyg and (mt is None) == (mg is None)
            if mt is not None:
                np.testing.assert_array_equal(mg.numpy(), mt.numpy())


def test_mha_errors():
    for M in (torch, tg):
        with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
            M.nn.MultiheadAttention(5, 2)
        with pytest.raises(ValueError, match="must be greater than 0"):
            M.nn.MultiheadAttention(0, 2)
        m = M.nn.MultiheadAttention(4, 2)
        x = M.zeros(3, 2, 4)
        with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal"):
            m(x, x, x, is_causal=True)
        with pytest.raises(RuntimeError, match="The shape of the 2D attn_mask is"):
            m(x, x, x, attn_mask=M.zeros(2, 3))
        with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D"):
            m(M.zeros(4), M.zeros(4), M.zeros(4))
        with pytest.raises(AssertionError, match="only bool and floating types"):
            m(x, x, x, key_padding_mask=M.zeros(2, 3, dtype=M.int64))


def test_mha_gradcheck():
    m = tg.nn.MultiheadAttention(4, 2, dtype=tg.float64, add_bias_kv=True)
    names = [n for n, _ in m.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in m.parameters())
    q = tg.tensor(RNG.standard_normal((2, 1, 4)), requires_grad=True)
    kv = tg.tensor(RNG.standard_normal((3, 1, 4)), requires_grad=True)
    mask = tg.tensor(np.array([[False, True, False]]))

    def f(q, kv, *ps):
        out, w = tg.func.functional_call(m, dict(zip(names, ps)), (q, kv, kv),
                                         {"key_padding_mask": mask})
        return out, w

    assert tg.autograd.gradcheck(f, (q, kv) + params)


# ---- TransformerEncoderLayer / TransformerEncoder ---------------------------------------------
_ENC_KW = [{}, {"norm_first": True}, {"activation": "gelu"}, {"batch_first": True},
           {"bias": False}, {"activation": "module_gelu"}, {"layer_norm_eps": 1e-3}]


def _encoder_pair(dtype, kw, num_layers=2, d=8, nhead=2, ff=16, norm=True):
    tkw, gkw = dict(kw), dict(kw)
    if kw.get("activation") == "module_gelu":
        tkw["activation"], gkw["activation"] = torch.nn.GELU(), tg.nn.GELU()
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tl = torch.nn.TransformerEncoderLayer(d, nhead, ff, dropout=0.0,
                                              dtype=getattr(torch, dtype), **tkw)
        gl = tg.nn.TransformerEncoderLayer(d, nhead, ff, dropout=0.0,
                                           dtype=getattr(tg, dtype), **gkw)
        tn = torch.nn.LayerNorm(d, dtype=getattr(torch, dtype)) if norm else None
        gn = tg.nn.LayerNorm(d, dtype=getattr(tg, dtype)) if norm else None
        tm = torch.nn.TransformerEncoder(tl, num_layers, norm=tn)
        gm = tg.nn.TransformerEncoder(gl, num_layers, norm=gn)
    with torch.no_grad():
        for p in tm.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    _copy(tm, gm)
    return tm, gm


@pytest.fixture
def slow_path():
    """torch's transformer and attention fast paths off (tapegrad follows the slow path)."""
    torch.backends.mha.set_fastpath_enabled(False)
    yield
    torch.backends.mha.set_fastpath_enabled(True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", _ENC_KW, ids=str)
def test_encoder_matches_torch(kw, dtype, slow_path):
    for masks, train in itertools.product(["none", "causal", "kpm", "both"], [True, False]):
        tm, gm = _encoder_pair(dtype, kw)
        assert repr(gm) == repr(tm)
        assert list(gm.state_dict()) == list(tm.state_dict())
        if not train:
            tm.eval()
            gm.eval()
        S, Nb, d = 5, 3, 8
        shape = (Nb, S, d) if kw.get("batch_first") else (S, Nb, d)
        xt, xg = _pair(shape, dtype)
        et, eg = {}, {}
        if masks in ("causal", "both"):
            m = torch.nn.Transformer.generate_square_subsequent_mask(S,
                                                                     dtype=getattr(torch, dtype))
            et["mask"], eg["mask"] = m, tg.tensor(m.numpy())
        if masks in ("kpm", "both"):
            k = RNG.random((Nb, S)) > 0.6
            k[:, 0] = False
            if masks == "both":
                k = np.where(k, -np.inf, 0.0).astype(dtype)
            et["src_key_padding_mask"], eg["src_key_padding_mask"] = torch.tensor(k), tg.tensor(k)
        yt, yg = tm(xt, **et), gm(xg, **eg)
        _close(yt, yg, dtype)
        g = RNG.standard_normal(shape).astype(dtype)
        (yt * torch.tensor(g)).sum().backward()
        (yg * tg.tensor(g)).sum().backward()
        _close(xt.grad, xg.grad, dtype)
        tp, gp = dict(tm.named_parameters()), dict(gm.named_parameters())
        assert list(tp) == list(gp)
        for k in tp:
            _close(tp[k].grad, gp[k].grad, dtype)


def test_encoder_layer_unbatched_and_fast_path_values():
    tm, gm = _encoder_pair("float64", {"batch_first": True}, num_layers=1, norm=False)
    tm.eval()
    gm.eval()
    xt, xg = _pair((3, 5, 8), "float64", grad=False)
    with torch.no_grad():   # torch's fused eval path: the same values
        _close(tm(xt), gm(xg), "float64")
        _close(tm.layers[0](xt[0]), gm.layers[0](xg[0]), "float64")


@pytest.mark.parametrize("norm", [False, True])
def test_encoder_nested_path_zeroes_padded_positions(norm):
    """In eval without grad, with a left-aligned key padding mask and no mask, torch runs the
    encoder on a nested tensor and pads its output back with zeros (before the final norm);
    a mask not left-aligned, or grad to take, keeps its ordinary path."""
    tm, gm = _encoder_pair("float32", {"batch_first": True}, norm=norm)
    tm.eval()
    gm.eval()
    xt, xg = _pair((2, 4, 8), "float32", grad=False)
    for rows in ([[0, 0, 1, 1], [0, 0, 0, 0]], [[0, 1, 0, 1], [0, 0, 0, 1]]):
        k = np.array(rows, dtype=bool)
        with torch.no_grad():
            yt = tm(xt, src_key_padding_mask=torch.tensor(k))
        with tg.no_grad():
            yg = gm(xg, src_key_padding_mask=tg.tensor(k))
        _close(yt, yg, "float32")
    yt = tm(xt.requires_grad_(), src_key_padding_mask=torch.tensor(k))
    _close(yt, gm(xg.requires_grad_(), src_key_padding_mask=tg.tensor(k)), "float32")


def test_encoder_nested_path_warns_as_torch(monkeypatch):
    """torch's nested-tensor path warns (once per process; every time, for each nested
    tensor it makes, under set_warn_always) that nested tensors are a prototype; the
    ordinary path does not."""
    monkeypatch.setattr(tg.errors, "_WARNED", set())
    tm, gm = _encoder_pair("float32", {"batch_first": True}, norm=False)
    tm.eval()
    gm.eval()
    xt, xg = _pair((2, 4, 8), "float32", grad=False)
    k = np.array([[0, 0, 1, 1], [0, 0, 0, 0]], dtype=bool)
    seen = []
    torch.set_warn_always(True)
    try:
        for M, m, x in ((torch, tm, xt), (tg, gm, xg)):
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                with M.no_grad():
                    m(x, src_key_padding_mask=M.tensor(k))
                    m(x, src_key_padding_mask=M.tensor(k))
                m(x)     # (no padding mask: the ordinary path)
            seen.append([str(a.message).split(" (Triggered internally")[0]
                         .replace("tapegrad.", "torch.") for a in w])
    finally:
        torch.set_warn_always(False)
    assert seen[0] and seen[0][0].startswith("The PyTorch API of nested tensors")
    assert set(seen[1]) == set(seen[0]) and len(seen[1]) == 1   # (tapegrad's: once)


def test_fastpath_switch_turns_the_nested_path_off():
    # torch.backends.mha.set_fastpath_enabled(False) keeps TransformerEncoder on its ordinary
    # path (padded positions not zeroed); tapegrad had no backends.mha
    tm, gm = _encoder_pair("float32", {"batch_first": True}, norm=False)
    tm.eval()
    gm.eval()
    xt, xg = _pair((2, 4, 8), "float32", grad=False)
    k = np.array([[0, 0, 1, 1], [0, 0, 0, 0]], dtype=bool)
    assert tg.backends.mha.get_fastpath_enabled() is torch.backends.mha.get_fastpath_enabled()
    try:
        for M in (torch, tg):
            M.backends.mha.set_fastpath_enabled(False)
        with torch.no_grad():
            yt = tm(xt, src_key_padding_mask=torch.tensor(k))
        with tg.no_grad():
            yg = gm(xg, src_key_padding_mask=tg.tensor(k))
        assert float(yt[0, 3].abs().sum()) > 0
        _close(yt, yg, "float32")
    finally:
        for M in (torch, tg):
            M.backends.mha.set_fastpath_enabled(True)


def test_encoder_init_warning_and_errors():
    for M in (torch, tg):
        layer = M.nn.TransformerEncoderLayer(4, 2, 8)
        with pytest.warns(UserWarning, match="enable_nested_tensor is True, but "
                          "self.use_nested_tensor is False because encoder_layer.self_attn."
                          "batch_first was not True"):
            enc = M.nn.TransformerEncoder(layer, 2)
        assert enc.use_nested_tensor is False and enc.layers[0] is not layer
        assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
        with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
            M.nn.TransformerEncoderLayer(4, 2, activation="tanh")
    tl, gl = torch.nn.TransformerEncoderLayer(4, 2), tg.nn.TransformerEncoderLayer(4, 2)
    assert gl.activation_relu_or_gelu == tl.activation_relu_or_gelu == 1
    assert tuple(gl.linear1.weight.shape) == (2048, 4) and gl.dropout.p == 0.1


def test_encoder_gradcheck():
    layer = tg.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, dtype=tg.float64)
    names = [n for n, _ in layer.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in layer.parameters())
    x = tg.tensor(RNG.standard_normal((3, 1, 4)), requires_grad=True)
    mask = tg.tensor(np.triu(np.full((3, 3), -np.inf), 1))

    def f(x, *ps):
        return tg.func.functional_call(layer, dict(zip(names, ps)), (x,),
                                       {"src_mask": mask})

    assert tg.autograd.gradcheck(f, (x,) + params)


def test_encoder_classifier_training_matches_torch(slow_path):
    """A tiny TransformerEncoder + Linear classifier, a few Adam steps with dropout 0: the
    losses are torch's."""
    losses = {}
    tm, gm = _encoder_pair("float32", {"batch_first": True}, num_layers=2, norm=False)
    torch.manual_seed(1)
    th, gh = torch.nn.Linear(8, 3), tg.nn.Linear(8, 3)
    _copy(th, gh)
    x = RNG.standard_normal((4, 5, 8)).astype("float32")
    y = RNG.integers(0, 3, 4)
    for M, enc, head in ((torch, tm, th), (tg, gm, gh)):
        params = list(enc.parameters()) + list(head.parameters())
        opt = M.optim.Adam(params, lr=1e-2)
        xs, ys = M.tensor(x), M.tensor(y)
        out = []
        for _ in range(5):
            opt.zero_grad()
            loss = M.nn.functional.cross_entropy(head(enc(xs).mean(1)), ys)
            loss.backward()
            opt.step()
            out.append(loss.item())
        losses[M.__name__] = out
    np.testing.assert_allclose(losses["tapegrad"], losses["torch"], rtol=1e-5, atol=1e-6)
    assert losses["torch"][-1] < losses["torch"][0]


# ---- TransformerDecoderLayer / TransformerDecoder / Transformer -------------------------------
_DEC_KW = [{}, {"norm_first": True}, {"activation": "gelu"}, {"batch_first": True},
           {"bias": False}]


def _transformer_pair(dtype, kw):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = torch.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0, dtype=getattr(torch, dtype), **kw)
        gm = tg.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0, dtype=getattr(tg, dtype), **kw)
    with torch.no_grad():
        for p in tm.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    _copy(tm, gm)
    return tm, gm


@pytest.mark.filterwarnings("ignore:Support for mismatched")   # bool padding, float mask
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", _DEC_KW, ids=str)
def test_transformer_matches_torch(kw, dtype, slow_path):
    for masks, train in itertools.product(["none", "causal", "all"], [True, False]):
        tm, gm = _transformer_pair(dtype, kw)
        assert repr(gm) == repr(tm)
        assert list(gm.state_dict()) == list(tm.state_dict())
        if not train:
            tm.eval()
            gm.eval()
        S, T, Nb, d = 5, 4, 3, 8
        bf = kw.get("batch_first")
        st, sg = _pair((Nb, S, d) if bf else (S, Nb, d), dtype)
        tt, tgg = _pair((Nb, T, d) if bf else (T, Nb, d), dtype)
        et, eg = {}, {}
        if masks in ("causal", "all"):
            m = tm.generate_square_subsequent_mask(T, dtype=getattr(torch, dtype))
            et["tgt_mask"], eg["tgt_mask"] = m, gm.generate_square_subsequent_mask(
                T, dtype=getattr(tg, dtype))
            _close(m, eg["tgt_mask"], dtype)
        if masks == "all":
            for name, n in (("src_key_padding_mask", S), ("memory_key_padding_mask", S),
                            ("tgt_key_padding_mask", T)):
                k = RNG.random((Nb, n)) > 0.6
                k[:, 0] = False
                et[name], eg[name] = torch.tensor(k), tg.tensor(k)
            m = RNG.standard_normal((T, S)).astype(dtype)
            et["memory_mask"], eg["memory_mask"] = torch.tensor(m), tg.tensor(m)
        yt, yg = tm(st, tt, **et), gm(sg, tgg, **eg)
        _close(yt, yg, dtype)
        g = RNG.standard_normal(tuple(yt.shape)).astype(dtype)
        (yt * torch.tensor(g)).sum().backward()
        (yg * tg.tensor(g)).sum().backward()
        _close(st.grad, sg.grad, dtype)
        _close(tt.grad, tgg.grad, dtype)
        tp, gp = dict(tm.named_parameters()), dict(gm.named_parameters())
        assert list(tp) == list(gp)
        for k in tp:
            _close(tp[k].grad, gp[k].grad, dtype)


def test_transformer_init_and_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = tg.nn.Transformer(8, 2, 1, 1, 16)
        tm = torch.nn.Transformer(8, 2, 1, 1, 16)
    for (n, p), (_, q) in zip(gm.named_parameters(), tm.named_parameters()):
        assert tuple(p.shape) == tuple(q.shape)
        if p.dim() > 1:   # xavier_uniform_ bound
            bound = np.sqrt(6.0 / (p.shape[0] + p.shape[1]))
            assert np.abs(p.detach().numpy()).max() <= bound, n
    for M, m in ((torch, tm), (tg, gm)):
        with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
            m(M.zeros(3, 2, 8), M.zeros(3, 1, 8))
        with pytest.raises(RuntimeError, match="the feature number of src and tgt"):
            m(M.zeros(3, 2, 8), M.zeros(3, 2, 4))
    dl = tg.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0)
    dec = tg.nn.TransformerDecoder(dl, 2, norm=tg.nn.LayerNorm(8))
    tdec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0),
                                       2, norm=torch.nn.LayerNorm(8))
    assert repr(dec) == repr(tdec) and list(dec.state_dict()) == list(tdec.state_dict())
    assert tuple(dec(tg.zeros(4, 8), tg.zeros(5, 8)).shape) == (4, 8)   # unbatched


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("mode", ["no_grad", "grad", "inference"])
@pytest.mark.parametrize("mask", ["bool", "float", "attn"])
def test_mha_eval_rows_masked_everywhere(batch_first, need_weights, mode, mask):
    """A row whose keys are all masked: nan where torch's eval fast path runs (and with the
    weights), 0 where its slow path runs scaled_dot_product_attention."""
    outs = []
    for lib in (torch, tg):
        lib.manual_seed(0)
        m = lib.nn.MultiheadAttention(4, 2, batch_first=batch_first).eval()
        shape = (2, 3, 4) if batch_first else (3, 2, 4)    # N = 2, L = S = 3
        x = lib.tensor(RNG.standard_normal(shape).astype("float32")) if not outs else \
            lib.tensor(outs[0][2])
        kw = {}
        if mask == "attn":
            am = np.zeros((3, 3), bool)
            am[1] = True
            kw["attn_mask"] = lib.tensor(am)
        else:
            kpm = np.zeros((2, 3), bool)
            kpm[0] = True
            kw["key_padding_mask"] = (lib.tensor(kpm) if mask == "bool" else
                                      lib.tensor(np.where(kpm, -np.inf, 0.0).astype("float32")))
        ctx = {"no_grad": lib.no_grad, "grad": lib.enable_grad,
               "inference": lib.inference_mode}[mode]()
        with ctx:
            out, w = m(x, x, x, need_weights=need_weights, **kw)
        outs.append((out.detach().numpy(), None if w is None else w.detach().numpy(),
                     x.numpy()))
    (ot, wt, _), (og, wg, _) = outs
    np.testing.assert_allclose(og, ot, rtol=1e-4, atol=1e-5)
    assert (wt is None) == (wg is None)
    if wt is not None:
        np.testing.assert_allclose(wg, wt, rtol=1e-4, atol=1e-5)


def test_get_clones_as_torch(torch_ref):
    """transformer._get_clones, which custom stacks import: a ModuleList of N deep copies
    (equal values, separate parameters)."""
    from tapegrad.nn.modules.transformer import _get_clones
    from torch.nn.modules.transformer import _get_clones as ref_clones
    out = []
    for lib, clones in ((tg, _get_clones), (torch_ref, ref_clones)):
        lib.manual_seed(0)
        layers = clones(lib.nn.Linear(3, 2), 3)
        out.append((type(layers).__name__, repr(layers), len(list(layers.parameters())),
                    layers[0].weight is layers[1].weight,
                    [p.detach().numpy().tolist() for p in layers.parameters()]))
    assert out[0] == out[1]


def _sdp_flags_program(M):
    """torch.backends.cuda's SDPA flags (enable_*_sdp, *_sdp_enabled, sdp_kernel) and
    nn.attention.sdpa_kernel: one global state, as torch's."""
    import warnings
    att = __import__(M.__name__ + ".nn.attention", fromlist=["sdpa_kernel"])
    c, out = M.backends.cuda, []

    def state():
        return (c.flash_sdp_enabled(), c.mem_efficient_sdp_enabled(), c.math_sdp_enabled(),
                c.cudnn_sdp_enabled(), [b.name for b in att._cur_sdpa_kernel_backends()])

    def err(f):
        try:
            f()
        except Exception as e:   # noqa: BLE001 (compared with torch's)
            return type(e).__name__, str(e)

    out.append((state(), c.fp16_bf16_reduction_math_sdp_allowed(),
                c.is_flash_attention_available(), c.is_ck_sdpa_available()))
    for f in ("enable_flash_sdp", "enable_mem_efficient_sdp", "enable_math_sdp",
              "enable_cudnn_sdp", "allow_fp16_bf16_reduction_math_sdp"):
        out.append(err(lambda: getattr(c, f)(1)))
    with att.sdpa_kernel(att.SDPBackend.MATH):
        out.append(state())
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with c.sdp_kernel(enable_flash=False, enable_cudnn=False) as ctx:
            out.append((state(), ctx))
        out.append([(x.category.__name__, str(x.message)) for x in w])
    out.append(state())
    q = M.ones(1, 2, 2)
    try:
        c.enable_math_sdp(False)
        c.enable_flash_sdp(False)
        out.append((state(), err(lambda: M.nn.functional.scaled_dot_product_attention(q, q, q))))
        c.allow_fp16_bf16_reduction_math_sdp(True)
        out.append(c.fp16_bf16_reduction_math_sdp_allowed())
    finally:
        c.enable_math_sdp(True)
        c.enable_flash_sdp(True)
        c.allow_fp16_bf16_reduction_math_sdp(False)
    out.append(state())
    return out


def test_sdp_backend_flags_as_torch():
    assert _sdp_flags_program(tg) == _sdp_flags_program(torch)


@pytest.mark.parametrize("shape, dtype, math_only", [
    ((2, 2, 1, 3), "float32", False), ((1, 1, 3, 3), "float64", False),
    ((2, 3, 2), "float32", False), ((1, 1, 3, 3), "float32", True)])
def test_sdpa_causal_mask_keeps_a_nan_key_out_where_torch_runs_flash(shape, dtype, math_only):
    # fuzz_nn seed 15308: torch's CPU flash kernel (4-d operands, no dropout) sets the
    # causally masked scores to -inf, so a nan key there does not reach the output; its math
    # path (3-d operands, or the math backend alone) adds -inf and the nan leaks.  tapegrad
    # always added.
    def run(m):   # (one key more than queries: the causal mask hides the last from all)
        *lead, L, E = shape
        kv = tuple(lead) + (L + 1, E)
        q = m.linspace(-1, 1, int(np.prod(shape)), dtype=getattr(m, dtype)).reshape(shape)
        k = m.linspace(1, -1, int(np.prod(kv)), dtype=getattr(m, dtype)).reshape(kv)
        k = k.clone().index_fill_(-2, m.tensor([L]), float("nan"))
        v = m.arange(int(np.prod(kv)), dtype=getattr(m, dtype)).reshape(kv) / 7
        q, k, v = (t.requires_grad_() for t in (q, k, v))
        backends = [m.nn.attention.SDPBackend.MATH] if math_only else [
            m.nn.attention.SDPBackend.MATH, m.nn.attention.SDPBackend.FLASH_ATTENTION]
        with m.nn.attention.sdpa_kernel(backends):
            y = m.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        (y * y).sum().backward()
        return [np.asarray(t.tolist()) for t in (y, q.grad, k.grad, v.grad)]
    for a, b in zip(run(tg), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
