"""nn.functional's option combinations against torch: the cases a sweep over their keywords
(modes, value=, dilation, sizes) found differing."""
import warnings

import numpy as np
import pytest

import tapegrad


def _raises_as(torch_ref, fn):
    """fn(lib) raises the same error type and message in tapegrad as in torch."""
    with pytest.raises(Exception) as ref:
        fn(torch_ref)
    with pytest.raises(type(ref.value)) as got:
        fn(tapegrad)
    assert str(got.value).replace("tapegrad.", "torch.") == str(ref.value)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_value_only_with_constant_mode(torch_ref, mode):
    """A non-zero value with a non-constant mode is torch's error; value=0 is accepted."""
    x = np.arange(6.0).reshape(1, 2, 3)
    _raises_as(torch_ref, lambda lib: lib.nn.functional.pad(lib.tensor(x), (1, 1), mode=mode,
                                                             value=1.5))
    res = [lib.nn.functional.pad(lib.tensor(x), (1, 1), mode=mode, value=0).numpy()
           for lib in (torch_ref, tapegrad)]
    np.testing.assert_array_equal(res[1], res[0])


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("dilation", [0, -1, "last0"])
@pytest.mark.parametrize("batch, dtype", [(1, "float32"), (2, "float64"), (2, "float32")])
def test_conv_dilation_errors(torch_ref, transposed, dim, dilation, batch, dtype):
    """A negative dilation fails torch's shape check; a zero one its kernel, which names the
    dilations as a list (a 1-d convolution as 2-d), or by dim when transposed; oneDNN's (a
    float32 batch of several) says 'non-positive' (its transposed form: oneDNN's words)."""
    if dilation == "last0":
        dilation = (1,) * (dim - 1) + (0,)
    if transposed and batch > 1 and dtype == "float32" and dilation != -1:
        pytest.skip("torch raises oneDNN's internal message")
    name = f"conv_transpose{dim}d" if transposed else f"conv{dim}d"
    x, w = np.ones((batch, 2) + (5,) * dim, dtype), np.ones((2, 2) + (3,) * dim, dtype)
    _raises_as(torch_ref, lambda lib: getattr(lib.nn.functional, name)(
        lib.tensor(x), lib.tensor(w), dilation=dilation))


@pytest.mark.parametrize("transposed", [False, True])
def test_conv_zero_dilation_on_empty_input(torch_ref, transposed):
    """torch's kernel is not reached for an empty batch: no error, the kernel's extent 1."""
    name = "conv_transpose2d" if transposed else "conv2d"
    shapes = [tuple(getattr(lib.nn.functional, name)(lib.zeros(0, 2, 5, 5), lib.zeros(2, 2, 3, 3),
                                                     dilation=0).shape)
              for lib in (torch_ref, tapegrad)]
    assert shapes[1] == shapes[0]


@pytest.mark.parametrize("shape", [4, 4.0, (4.0,), "a", None])
@pytest.mark.parametrize("fn", ["F.layer_norm", "native_layer_norm"])
def test_layer_norm_shape_is_a_sequence_of_ints(torch_ref, fn, shape):
    """normalized_shape is torch's SymInt[]: a bare int is a TypeError (LayerNorm makes the
    tuple itself)."""
    x = np.ones((3, 4))

    def call(lib):
        if fn == "F.layer_norm":
            return lib.nn.functional.layer_norm(lib.tensor(x), shape)
        return lib.native_layer_norm(lib.tensor(x), shape, None, None, 1e-5)
    _raises_as(torch_ref, call)


@pytest.mark.parametrize("shape", [(4,), [4], (3, 4), (2, 3, 4), (5,), (4, 4), (True,),
                                   (np.int64(4),), (3, 5), ()])
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_shapes_as_torch(torch_ref, shape, affine):
    """F.layer_norm's normalized_shape as a tuple of ints (taken as it is), a list, numpy
    ints, a bool; shapes that fit the input's trailing dims and ones that do not: torch's
    values, grad_fn and errors, with and without weight and bias."""
    x = np.arange(24.0).reshape(2, 3, 4)   # (float32 as the parameters)

    def call(lib):
        ns = tuple(shape) if isinstance(shape, tuple) else shape
        size = tuple(int(v) for v in ns)
        wb = (lib.ones(size), lib.zeros(size)) if affine and ns != () else (None,) * 2
        y = lib.nn.functional.layer_norm(lib.tensor(x, dtype=lib.float32, requires_grad=True),
                                         ns, *wb)
        return np.round(y.detach().numpy(), 5).tolist(), type(y.grad_fn).__name__
    try:
        want = call(torch_ref)
    except (RuntimeError, TypeError) as e:
        with pytest.raises(type(e)) as got:
            call(tapegrad)
        assert str(got.value) == str(e)
        return
    assert call(tapegrad) == want


@pytest.mark.parametrize("training, running", [(True, True), (True, False), (False, True)])
def test_batch_norm_momentum_none_is_a_type_error(torch_ref, training, running):
    """F.batch_norm's momentum is a float (BatchNorm's momentum=None is the module's)."""
    x = np.arange(12.0).reshape(4, 3)

    def call(lib):
        stats = (lib.zeros(3), lib.ones(3)) if running else (None, None)
        return lib.nn.functional.batch_norm(lib.tensor(x), *stats, training=training,
                                            momentum=None)
    _raises_as(torch_ref, call)


_WEIGHTED = {
    "nll_loss": lambda F, x, w: F.nll_loss(x, x.new_tensor([0, 3, 1]).long(), w),
    "nll_loss2d": lambda F, x, w: F.nll_loss(x.reshape(1, 4, 3), x.new_tensor([[0, 3, 1]]).long(),
                                             w),
    "cross_entropy": lambda F, x, w: F.cross_entropy(x, x.new_tensor([0, 3, 1]).long(), w),
    "cross_entropy_smoothed": lambda F, x, w: F.cross_entropy(
        x.reshape(1, 4, 3), x.new_tensor([[0, 3, 1]]).long(), w, label_smoothing=0.1),
    "binary_cross_entropy": lambda F, x, w: F.binary_cross_entropy(x.sigmoid(), x.sigmoid(),
                                                                   w),
    "bce_with_logits": lambda F, x, w: F.binary_cross_entropy_with_logits(x, x.sigmoid(), w),
    "bce_with_logits_pos_weight": lambda F, x, w: F.binary_cross_entropy_with_logits(
        x, x.sigmoid(), pos_weight=w),
}


@pytest.mark.parametrize("case", sorted(_WEIGHTED))
def test_loss_weights_requiring_grad_are_refused(torch_ref, case):
    """torch's formulas ignore the class / element weights: a weight that requires grad is
    refused (and accepted under no_grad)."""
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    w = np.linspace(0.5, 2.0, 4)

    def call(lib):
        return _WEIGHTED[case](lib.nn.functional, lib.tensor(x, requires_grad=True),
                               lib.tensor(w, requires_grad=True))
    _raises_as(torch_ref, call)
    res = []
    for lib in (torch_ref, tapegrad):
        with lib.no_grad():
            res.append(call(lib).numpy())
    np.testing.assert_allclose(res[1], res[0], rtol=1e-12)


@pytest.mark.parametrize("ignore_index", [-100, -1, 0, 2])
def test_cross_entropy_probabilities_refuse_ignore_index(torch_ref, ignore_index):
    """A class-probability target takes no ignore_index >= 0 (a negative one is unused)."""
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    p = np.full((3, 4), 0.25)

    def call(lib):
        return lib.nn.functional.cross_entropy(lib.tensor(x), lib.tensor(p),
                                               ignore_index=ignore_index)
    if ignore_index >= 0:
        _raises_as(torch_ref, call)
    else:
        assert call(tapegrad).item() == pytest.approx(call(torch_ref).item(), rel=1e-12)


@pytest.mark.parametrize("shape, mode", [((1, 1, 1), "nearest"), ((1, 1, 1), "linear"),
                                         ((1, 1, 1), "nearest-exact"), ((1, 1, 1, 3), "bilinear"),
                                         ((1, 1, 1, 3, 3), "trilinear")])
def test_interpolate_empty_output_message(torch_ref, shape, mode):
    """UpSample.h words the 1-d check '... input (W: 1) and output (W: 0)', the others
    without the 'and'."""
    x = np.ones(shape)
    _raises_as(torch_ref, lambda lib: lib.nn.functional.interpolate(
        lib.tensor(x), scale_factor=0.5, mode=mode))


@pytest.mark.parametrize("padding_idx", [6, 7, -7, -6, 5, 0])
def test_embedding_padding_idx_within_rows(torch_ref, padding_idx):
    """nn.functional.embedding asserts -rows <= padding_idx < rows (torch.embedding, the
    native form, does not check it)."""
    w = np.arange(18.0).reshape(6, 3)

    def call(lib):
        return lib.nn.functional.embedding(lib.tensor([1, 5]), lib.tensor(w),
                                           padding_idx=padding_idx).numpy()
    if -6 <= padding_idx < 6:
        np.testing.assert_array_equal(call(tapegrad), call(torch_ref))
    else:
        _raises_as(torch_ref, call)
    native = [lib.embedding(lib.tensor(w), lib.tensor([1, 5]), padding_idx=abs(padding_idx))
              for lib in (torch_ref, tapegrad)]
    np.testing.assert_array_equal(native[1].numpy(), native[0].numpy())


@pytest.mark.parametrize("num_classes", [-1, 0, 3])
def test_one_hot_of_empty_tensor(torch_ref, num_classes):
    """An empty tensor has no classes to infer: num_classes <= 0 is torch's error."""
    def call(lib):
        return lib.nn.functional.one_hot(lib.zeros(0, 2, dtype=lib.int64), num_classes)
    if num_classes <= 0:
        _raises_as(torch_ref, call)
    else:
        assert tuple(call(tapegrad).shape) == tuple(call(torch_ref).shape)


@pytest.mark.parametrize("form", ["F.celu", "F.celu_inplace", "torch.celu", "nn.CELU"])
def test_celu_alpha_zero_message(torch_ref, form):
    """torch 2.13's message names the cause: 'ZeroDivisionError: alpha cannot be 0 for CELU'."""
    calls = {"F.celu": lambda lib, x: lib.nn.functional.celu(x, alpha=0.0),
             "F.celu_inplace": lambda lib, x: lib.nn.functional.celu(x, 0.0, inplace=True),
             "torch.celu": lambda lib, x: lib.celu(x, 0.0),
             "nn.CELU": lambda lib, x: lib.nn.CELU(0.0)(x)}
    _raises_as(torch_ref, lambda lib: calls[form](lib, lib.tensor([-1.0, 2.0])))


@pytest.mark.parametrize("shape", [(3, 4), (4,), (3, 4, 2), (3, 4, 2, 2), (0, 4)])
@pytest.mark.parametrize("dtypes", [("float64", "int64"), ("float32", "float64"),
                                    ("float64", "float32")])
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_class_weights_of_another_dtype(torch_ref, shape, dtypes, fn):
    """nll_loss's kernel takes class weights of the input's dtype only (no promotion)."""
    x = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)
    t = (np.arange(int(np.prod(shape))) % 4).reshape(shape)
    t = t[0] if len(shape) == 1 else t.take(0, axis=1)

    def call(lib):
        return getattr(lib.nn.functional, fn)(
            lib.tensor(x, dtype=getattr(lib, dtypes[0])), lib.tensor(t),
            lib.ones(4, dtype=getattr(lib, dtypes[1])))
    _raises_as(torch_ref, call)


@pytest.mark.parametrize("shapes", [((5, 2), (3, 3)), ((2, 3, 4), (5, 4)), ((4,), (3,))])
def test_cosine_similarity_shapes_that_do_not_broadcast(torch_ref, shapes):
    """torch's expand_outplace names the first dimension that does not broadcast."""
    _raises_as(torch_ref, lambda lib: lib.nn.functional.cosine_similarity(
        lib.ones(*shapes[0]), lib.ones(*shapes[1]), dim=-1))


@pytest.mark.parametrize("form", ["softshrink", "hardshrink", "threshold", "threshold_",
                                  "Softshrink", "Hardshrink", "Threshold"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shrinks_and_threshold_keep_nan(torch_ref, form, dtype):
    """torch's kernels test x <= threshold (|x| <= lambd): a nan fails the test and stays nan
    (tapegrad gave value / 0); threshold's gradient passes at nan, as torch's (the shrinks'
    there depends on torch's loop: 0 vectorized, g in its scalar tail)."""
    k = np.array([np.nan, np.inf, -np.inf, 0.0, 0.5, -0.5, 0.3, -0.3, 6.0, -3.0, 3.0, 1.0],
                 dtype)
    res = []
    for lib in (torch_ref, tapegrad):
        F, x = lib.nn.functional, lib.tensor(k, requires_grad=True)
        y = {"softshrink": lambda: F.softshrink(x), "hardshrink": lambda: F.hardshrink(x, 1.0),
             "threshold": lambda: F.threshold(x, 0.5, -2.0),
             "threshold_": lambda: F.threshold_(x * 1, 0.5, -2.0),
             "Softshrink": lambda: lib.nn.Softshrink(0.3)(x),
             "Hardshrink": lambda: lib.nn.Hardshrink()(x),
             "Threshold": lambda: lib.nn.Threshold(1.0, 7.0)(x)}[form]()
        (g,) = lib.autograd.grad(y.sum(), x)
        res.append((y.detach().numpy(), g.numpy()))
    np.testing.assert_array_equal(res[1][0], res[0][0])
    first = 1 if "shrink" in form else 0
    np.testing.assert_array_equal(res[1][1][first:], res[0][1][first:])


@pytest.mark.parametrize("stats, use_input_stats", [("mean", True), ("var", True),
                                                    ("mean", False), ("none", False)])
def test_instance_norm_running_stats_both_or_neither(torch_ref, stats, use_input_stats):
    """torch.instance_norm wants both running statistics or neither, and both without
    use_input_stats."""
    x = np.linspace(-1.0, 1.0, 24).reshape(2, 3, 4).astype("float32")

    def call(lib):
        kw = {"running_" + stats: lib.zeros(3)} if stats != "none" else {}
        return lib.nn.functional.instance_norm(lib.tensor(x), use_input_stats=use_input_stats,
                                               **kw)
    _raises_as(torch_ref, call)


@pytest.mark.parametrize("x_shape, ns, w_shape", [((2, 4), (4,), (3,)), ((2, 4), (4,), (1, 4)),
                                                  ((2, 3, 4), (3, 4), (4,)),
                                                  ((4,), (2, 4), (3,)), ((2, 4), (3,), (4,))])
def test_rms_norm_weight_shape_checked_first(torch_ref, x_shape, ns, w_shape):
    """torch.rms_norm checks the weight's shape against normalized_shape before the input."""
    _raises_as(torch_ref, lambda lib: lib.nn.functional.rms_norm(lib.ones(*x_shape), ns,
                                                                 lib.ones(*w_shape)))


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("length", [1, 4])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_window_wholly_in_padding(torch_ref, dim, length, dtype):
    """With dilation a window can miss every input element (kernel 2, dilation 2, padding 1:
    positions -1 and 1 of a length-1 input): torch's value is -inf and its index the
    window's first position moved by dilations to >= 0 (past the input here); tapegrad read
    the previous plane's last element.  No gradient reaches the input from such a window
    (torch's backward writes past the plane: not followed)."""
    shape = (2, 3) + (1,) * (dim - 1) + (length,)
    x = np.arange(np.prod(shape)).reshape(shape).astype(dtype) - 4.5
    kernel, dilation, padding = (1,) * (dim - 1) + (2,), (1,) * (dim - 1) + (2,), \
        (0,) * (dim - 1) + (1,)
    res = []
    for lib in (torch_ref, tapegrad):
        pool = getattr(lib.nn.functional, f"max_pool{dim}d")
        y, i = pool(lib.tensor(x), kernel, 2, padding, dilation, return_indices=True,
                    ceil_mode=True)
        res.append((y.numpy(), i.numpy()))
    np.testing.assert_array_equal(res[1][0], res[0][0])
    np.testing.assert_array_equal(res[1][1], res[0][1])
    assert np.isneginf(res[0][0]).any() == (length == 1)
    t = tapegrad.tensor(x, requires_grad=True)
    y = getattr(tapegrad.nn.functional, f"max_pool{dim}d")(t, kernel, 2, padding, dilation,
                                                           ceil_mode=True)
    (y * y.isfinite()).sum().backward()
    assert t.grad.sum().item() == np.isfinite(res[0][0]).sum()


@pytest.mark.parametrize("pad", [(1.5, 1), [1, 2.0], (1, "a"), (1, None), "tensor"])
def test_pad_argument_is_a_sequence_of_ints(torch_ref, pad):
    """F.pad's pad is torch's int[] argument: its parser's messages for a float, str or
    None element (first element or later) and for a tensor."""
    _raises_as(torch_ref, lambda lib: lib.nn.functional.pad(
        lib.ones(3, 3), lib.tensor([1, 1]) if pad == "tensor" else pad))


@pytest.mark.parametrize("w_shape", [(2, 2), (1, 1), (1, 4)])
def test_prelu_weight_of_more_dims(torch_ref, w_shape):
    """prelu's weight is a scalar or 1-d tensor, whatever its size."""
    _raises_as(torch_ref, lambda lib: lib.nn.functional.prelu(lib.ones(3, 4),
                                                              lib.ones(*w_shape)))


def test_grid_sample_dims_message(torch_ref):
    """grid_sampler's message names the input's dimension count."""
    _raises_as(torch_ref, lambda lib: lib.nn.functional.grid_sample(
        lib.ones(1, 1, 3, 3), lib.zeros(1, 2, 2, 2, 2), align_corners=False))


def _as_torch_or_raises(torch_ref, call):
    """call(tapegrad) gives call(torch)'s values, or raises as torch's does."""
    try:
        ref = call(torch_ref)
    except RuntimeError:
        _raises_as(torch_ref, call)
        return
    np.testing.assert_allclose(call(tapegrad), ref, rtol=1e-12)


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
@pytest.mark.parametrize("w_shape", [(2,), (3, 1), (4, 3), (3,), (1,)])
def test_binary_cross_entropy_weight_broadcast(torch_ref, shape, w_shape):
    """The weight is expanded to broadcast_shapes(target, weight), which must be the input's
    shape: a (3, 1) weight on a (3,) input is torch's error (tapegrad gave a (3, 3) loss)."""
    p = np.linspace(0.1, 0.9, int(np.prod(shape))).reshape(shape)
    w = np.linspace(0.5, 1.5, int(np.prod(w_shape))).reshape(w_shape)

    def call(lib):
        return lib.nn.functional.binary_cross_entropy(lib.tensor(p), lib.tensor(p[::-1].copy()),
                                                      lib.tensor(w), reduction="none").numpy()
    _as_torch_or_raises(torch_ref, call)


@pytest.mark.parametrize("w_shape", [(3, 1), (4, 3), (1, 3), (2,), (3,), ()])
@pytest.mark.parametrize("which", ["weight", "pos_weight", "both"])
def test_bce_with_logits_weights_keep_the_input_shape(torch_ref, w_shape, which):
    """torch's kernel works in place on tensors of the input's shape: weights that widen it
    are an error (tapegrad broadcast them into a bigger loss)."""
    x = np.linspace(-1.0, 1.0, 3)
    w = np.linspace(0.5, 1.5, int(np.prod(w_shape))).reshape(w_shape)

    def call(lib):
        t = lib.tensor(w)
        kw = {"weight": t, "pos_weight": t} if which == "both" else {which: t}
        return lib.nn.functional.binary_cross_entropy_with_logits(
            lib.tensor(x), lib.tensor((x + 1) / 2), reduction="none", **kw).numpy()
    _as_torch_or_raises(torch_ref, call)


@pytest.mark.parametrize("fn, shape", [("dropout1d", (3, 4)), ("dropout3d", (3, 4, 2, 2)),
                                       ("dropout3d", (3, 4, 2))])
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("inplace", [False, True])
def test_unbatched_feature_dropout_is_squeezed_back(torch_ref, fn, shape, training, inplace):
    """dropout1d/3d of an unbatched input run on a batch of one and squeeze it away, even in
    eval mode: a new view (SqueezeBackward1, or SqueezeBackward4 in place), not the input,
    with torch's mask for the seed."""
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) + 1.0
    res = []
    for lib in (torch_ref, tapegrad):
        lib.manual_seed(3)
        leaf = lib.tensor(x, requires_grad=True)
        y = leaf * 1
        out = getattr(lib.nn.functional, fn)(y, 0.5, training=training, inplace=inplace)
        out.sum().backward()
        res.append((type(out.grad_fn).__name__, out is y, tuple(out.shape),
                    out.detach().numpy(), leaf.grad.numpy()))
    assert res[1][:3] == res[0][:3]
    np.testing.assert_array_equal(res[1][3], res[0][3])
    np.testing.assert_array_equal(res[1][4], res[0][4])



@pytest.mark.parametrize("fn, shape", [("dropout1d", (2, 3, 4, 5)), ("dropout2d", (2, 3, 4)),
                                       ("dropout2d", (3,)), ("dropout3d", (2, 3, 4))])
def test_feature_dropout_checks_p_before_the_input_dims(torch_ref, fn, shape):
    """A bad p is torch's ValueError before the dim check's error or warnings (tapegrad
    warned, or raised dropout1d's RuntimeError, first)."""
    def call(lib):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                getattr(lib.nn.functional, fn)(lib.ones(shape), 1.5, training=False)
            except Exception as e:   # (compared below: type, message and warnings so far)
                return type(e).__name__, str(e), [str(w.message) for w in seen]
        return None
    assert call(tapegrad) == call(torch_ref) == (
        "ValueError", "dropout probability has to be between 0 and 1, but got 1.5", [])


@pytest.mark.parametrize("in_dtype, target_dtype", [("int64", "int64"), ("int64", "float32"),
                                                    ("bool", "bool"), ("int32", "bool")])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_bce_with_logits_of_integer_logits_raises_as_torch(torch_ref, in_dtype, target_dtype,
                                                            reduction):
    """Integer or bool logits are torch's log_sigmoid NotImplementedError (its kernel's first
    step); tapegrad computed a loss, or failed in a later step."""
    _raises_as(torch_ref, lambda lib: lib.nn.functional.binary_cross_entropy_with_logits(
        lib.tensor([1, 0, 2]).to(getattr(lib, in_dtype)),
        lib.tensor([1, 0, 1]).to(getattr(lib, target_dtype)), reduction=reduction))


INTEGER_NORMS = {
    "batch_norm_train": lambda F, x, lib: F.batch_norm(x, None, None, training=True),
    "batch_norm_eval": lambda F, x, lib: F.batch_norm(x, lib.zeros(4), lib.ones(4)),
    "batch_norm_f64_weight": lambda F, x, lib: F.batch_norm(
        x, None, None, lib.ones(4, dtype=lib.float64), training=True),
    "batch_norm_bad_size": lambda F, x, lib: F.batch_norm(x, lib.zeros(5), lib.ones(5)),
    "instance_norm": lambda F, x, lib: F.instance_norm(x),
    "group_norm": lambda F, x, lib: F.group_norm(x, 2),
    "group_norm_int_weight": lambda F, x, lib: F.group_norm(x, 2, lib.ones(4).to(x.dtype)),
    "group_norm_float_weight": lambda F, x, lib: F.group_norm(x, 2, lib.ones(4)),
    "rms_norm": lambda F, x, lib: F.rms_norm(x, (2,)),
    "rms_norm_eps": lambda F, x, lib: F.rms_norm(x, (2,), eps=1e-3),
    "rms_norm_float_weight": lambda F, x, lib: F.rms_norm(x, (2,), lib.ones(2)),
}


@pytest.mark.parametrize("name", INTEGER_NORMS)
@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool"])
def test_normalization_of_integer_input_raises_as_torch(torch_ref, name, dtype):
    """An integer or bool input is the kernel's NotImplementedError ("batch_norm",
    "GroupNormKernelImpl", "rms_norm"), after the size checks and (group_norm) the mixed
    dtype one, before batch_norm's parameter dtypes, with rms_norm's dtype warning first;
    tapegrad failed later (mean() of an integer tensor, finfo of one, the mixed dtype).
    (rms_norm's warning is once per process in both: warn-always on, so that another test
    giving it first does not change what this one sees.)"""
    def call(lib):
        always = lib.is_warn_always_enabled()
        lib.set_warn_always(True)
        try:
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                try:
                    INTEGER_NORMS[name](lib.nn.functional,
                                        lib.ones(3, 4, 2).to(getattr(lib, dtype)), lib)
                except Exception as e:   # (compared below: type, message and warnings so far)
                    return (type(e).__name__, str(e).replace("tapegrad.", "torch."),
                            [str(w.message).split(" (Triggered internally")[0] for w in seen])
        finally:
            lib.set_warn_always(always)
        return None
    assert call(tapegrad) == call(torch_ref) is not None


POOL_DTYPES = {
    "max_pool1d_indices": lambda F, x, lib: F.max_pool1d(x[0], 2, return_indices=True),
    "max_pool2d": lambda F, x, lib: F.max_pool2d(x, 2),
    "max_pool2d_indices": lambda F, x, lib: F.max_pool2d(x, 2, return_indices=True),
    "max_pool3d": lambda F, x, lib: F.max_pool3d(x[None], 2),
    "avg_pool3d_int32": lambda F, x, lib: F.avg_pool3d(x[None].int(), 2),
    "avg_pool3d_uint8": lambda F, x, lib: F.avg_pool3d(x[None].to(lib.uint8), 2),
    "lp_pool3d_int16": lambda F, x, lib: F.lp_pool3d(x[None].to(lib.int16), 2, 2),
}


@pytest.mark.parametrize("name", POOL_DTYPES)
def test_pooling_of_unsupported_dtypes_raises_as_torch(torch_ref, name):
    """Max pooling of a bool input is torch's NotImplementedError (tapegrad: numpy's
    ValueError); avg_pool3d's kernel name for its integer dtypes is avg_pool3d_out_frame."""
    _raises_as(torch_ref, lambda lib: POOL_DTYPES[name](lib.nn.functional,
                                                        lib.ones(2, 4, 4) > 0, lib))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape", [(2, 3), (1, 2, 3), (1, 2, 3, 3), (2, 3, 3, 3)])
def test_pad_of_a_bool_input_as_torch(torch_ref, mode, shape):
    """torch's reflection and replication pad kernels refuse a bool input
    (NotImplementedError, after the padding checks); circular padding copies it. tapegrad
    padded every mode."""
    pads = {2: (1, 1), 3: (1, 1), 4: (1, 1, 1, 1)}.get(len(shape), (1, 1, 1, 1, 1, 1))
    x = np.arange(np.prod(shape)).reshape(shape) % 3 == 0

    def call(lib):
        return lib.nn.functional.pad(lib.tensor(x), pads, mode=mode).numpy()
    if mode == "circular":
        np.testing.assert_array_equal(call(tapegrad), call(torch_ref))
    else:
        _raises_as(torch_ref, call)


@pytest.mark.parametrize("kw", [{"kernel_size": 2}, {"kernel_size": (2, 3), "padding": 1},
                                {"kernel_size": 2, "dilation": 2, "stride": 2}])
@pytest.mark.parametrize("batched", [True, False])
def test_unfold_and_fold_of_a_bool_input_as_torch(torch_ref, kw, batched):
    """torch's im2col and col2im take bool (fold's overlapping blocks or-ed); tapegrad
    refused it as for the integer dtypes, which torch refuses."""
    x = np.random.default_rng(1).random((2, 2, 5, 4)) > 0.5

    def call(lib):
        t = lib.tensor(x if batched else x[0])
        cols = lib.nn.functional.unfold(t, **kw)
        img = lib.nn.functional.fold(cols, (5, 4), **kw)
        return (str(cols.dtype).split(".")[1], cols.numpy(), str(img.dtype).split(".")[1],
                img.numpy())
    ours, theirs = call(tapegrad), call(torch_ref)
    assert ours[0] == theirs[0] == ours[2] == theirs[2] == "bool"
    np.testing.assert_array_equal(ours[1], theirs[1])
    np.testing.assert_array_equal(ours[3], theirs[3])


def _outcome(call):
    try:
        out = call()
        return out.tolist() if hasattr(out, "tolist") else list(out)   # (a tensor, a Size)
    except Exception as e:   # (compared: type and message)
        return type(e).__name__, str(e).replace("tapegrad.", "torch.")


BOOL_INDICES = {
    "embedding": lambda F, lib, i: F.embedding(i, lib.ones(3, 2)),
    "embedding_bag_2d": lambda F, lib, i: F.embedding_bag(i[None], lib.ones(3, 2)),
    "embedding_bag_max_norm": lambda F, lib, i: F.embedding_bag(i, lib.ones(3, 2),
                                                                lib.tensor([0]), max_norm=1.0),
    "embedding_renorm_": lambda F, lib, i: lib.embedding_renorm_(lib.ones(3, 2), i, 1.0, 2.0),
}


@pytest.mark.parametrize("name", BOOL_INDICES)
def test_bool_indices_are_named_as_torch(torch_ref, name):
    """torch names a bool index tensor CPUBoolType in its Long, Int checks (tapegrad:
    tapegrad.BoolTensor); a 2-d embedding_bag input fails first at its arange of offsets in
    the input's dtype."""
    _raises_as(torch_ref, lambda lib: BOOL_INDICES[name](lib.nn.functional, lib,
                                                         lib.tensor([True, False])))


@pytest.mark.parametrize("indices", ["bool", "int8", "uint8", "int32", "int64", "float32"])
@pytest.mark.parametrize("offsets", ["bool", "int8", "int32", "int64", None])
def test_embedding_bag_promotes_indices_and_offsets_as_torch(torch_ref, indices, offsets):
    """torch's embedding_bag promotes indices and offsets to their common dtype and checks
    that one is Long or Int (naming it otherwise): int8 or bool indices with int64 offsets
    work (tapegrad refused any index dtype but those two, naming the indices')."""
    def call(lib):
        w = lib.arange(6.0).reshape(3, 2)
        i = lib.tensor([1, 0, 2]).to(getattr(lib, indices))
        if offsets is None:   # (2-d: offsets an arange in the indices' dtype)
            return lib.nn.functional.embedding_bag(i.reshape(1, 3), w)
        return lib.nn.functional.embedding_bag(i, w, lib.tensor([0, 1]).to(
            getattr(lib, offsets)))
    assert _outcome(lambda: call(tapegrad)) == _outcome(lambda: call(torch_ref))


CONV_DTYPES = {
    "conv1d": lambda F, x, w: F.conv1d(x[:, :, 0], w[:, :, 0]),
    "conv2d": lambda F, x, w: F.conv2d(x, w),
    "conv3d": lambda F, x, w: F.conv3d(x[:, :, None], w[:, :, None]),
    "conv2d_dilated": lambda F, x, w: F.conv2d(x, w, dilation=2),
    "conv1d_dilated": lambda F, x, w: F.conv1d(x[:, :, 0], w[:, :, 0], dilation=2),
    "conv3d_dilated": lambda F, x, w: F.conv3d(x[:, :, None], w[:, :, None], dilation=(1, 2, 1)),
    "conv_transpose1d": lambda F, x, w: F.conv_transpose1d(x[:, :, 0], w[:, :, 0].transpose(0, 1)),
    "conv_transpose2d": lambda F, x, w: F.conv_transpose2d(x, w.transpose(0, 1), stride=2),
    "conv_transpose3d": lambda F, x, w: F.conv_transpose3d(x[:, :, None],
                                                           w[:, :, None].transpose(0, 1)),
}


@pytest.mark.parametrize("name", CONV_DTYPES)
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int32", "int64"])
def test_convolution_of_integer_dtypes_as_torch(torch_ref, name, dtype):
    """torch's CPU convolution kernels: int64 runs in all, the other integer dtypes only in
    the plain undilated ones (dilated: "slow_conv_dilated<>", transposed:
    "slow_conv_transpose2d_out_cpu" / 3d), bool in none ("slow_conv2d_cpu",
    "compute_columns3d"); tapegrad computed them all, or named its "bmm"."""
    def call(lib):
        x = (lib.arange(48).reshape(1, 3, 4, 4) % 3).to(getattr(lib, dtype))
        w = (lib.arange(24).reshape(2, 3, 2, 2) % 2).to(getattr(lib, dtype))
        return CONV_DTYPES[name](lib.nn.functional, x, w)
    assert _outcome(lambda: call(tapegrad)) == _outcome(lambda: call(torch_ref))


@pytest.mark.parametrize("fn, shape", [
    ("adaptive_avg_pool1d", (2, 3, 0)), ("adaptive_avg_pool1d", (3, 0)),
    ("adaptive_avg_pool2d", (2, 3, 0, 4)), ("adaptive_avg_pool2d", (3, 4, 0)),
    ("adaptive_avg_pool2d", (2, 0, 4, 4)), ("adaptive_avg_pool3d", (2, 0, 4, 4, 4)),
    ("adaptive_avg_pool3d", (2, 3, 4, 4, 0)), ("adaptive_avg_pool3d", (0, 4, 4, 4)),
    ("adaptive_max_pool1d", (2, 0, 4)), ("adaptive_max_pool1d", (3, 0)),
    ("adaptive_max_pool1d", (0, 4))])
@pytest.mark.parametrize("output_size", [0, 1, 2])
def test_adaptive_pooling_of_empty_dims_as_torch(torch_ref, fn, shape, output_size):
    """torch's adaptive average kernels refuse an empty spatial dim (the 3-d one an empty
    channel dim too; not its all-ones mean), and adaptive_max_pool1d names its own input's
    dims; tapegrad divided by zero (ZeroDivisionError), or returned an empty result, or named
    the 2-d kernel's unsqueezed sizes."""
    def call(lib):
        return getattr(lib.nn.functional, fn)(lib.ones(shape), output_size).shape
    assert _outcome(lambda: call(tapegrad)) == _outcome(lambda: call(torch_ref))


@pytest.mark.parametrize("shape", [(2, 0, 4, 4, 4), (2, 3, 4, 4, 0), (0, 4, 4, 4), (3, 0, 4, 4),
                                   (0, 3, 4, 4, 4)])
@pytest.mark.parametrize("fn", ["max_pool3d", "avg_pool3d", "lp_pool3d"])
def test_pool3d_of_empty_dims_as_torch(torch_ref, shape, fn):
    """torch's 3-d pooling kernels refuse an empty non-batch dim, and every empty dim of an
    unbatched input (tapegrad pooled an unbatched (0, D, H, W)), naming the kernel
    (max_pool3d_with_indices_out_cpu_template(), avg_pool3d()) and showing the empty dim's
    size, 0, where its index was meant; an empty batch pools."""
    def call(lib):
        f = getattr(lib.nn.functional, fn)
        return (f(lib.ones(shape), 2, 2) if fn == "lp_pool3d" else f(lib.ones(shape), 2)).shape
    assert _outcome(lambda: call(tapegrad)) == _outcome(lambda: call(torch_ref))

NOT_A_TENSOR = {
    "relu": lambda F, t, bad: F.relu(bad),
    "relu_inplace": lambda F, t, bad: F.relu(bad, inplace=True),
    "relu6": lambda F, t, bad: F.relu6(bad),
    "logsigmoid": lambda F, t, bad: F.logsigmoid(bad),
    "dropout_eval": lambda F, t, bad: F.dropout(bad, 0.5, training=False),
    "layer_norm": lambda F, t, bad: F.layer_norm(bad, (2,)),
    "pad": lambda F, t, bad: F.pad(bad, (1, 1)),
    "one_hot": lambda F, t, bad: F.one_hot(bad),
    "embedding_indices": lambda F, t, bad: F.embedding(bad, t),
    "embedding_weight": lambda F, t, bad: F.embedding(t.long(), bad),
    "cross_entropy_input": lambda F, t, bad: F.cross_entropy(bad, t),
    "cross_entropy_target": lambda F, t, bad: F.cross_entropy(t, bad),
    "nll_loss": lambda F, t, bad: F.nll_loss(bad, t.long()),
    "kl_div_input": lambda F, t, bad: F.kl_div(bad, t, reduction="sum"),
    "kl_div_target": lambda F, t, bad: F.kl_div(t, bad, reduction="sum"),
    "pairwise_distance_x1": lambda F, t, bad: F.pairwise_distance(bad, t),
    "pairwise_distance_x2": lambda F, t, bad: F.pairwise_distance(t, bad),
    "unfold": lambda F, t, bad: F.unfold(bad, 2),
    "sdpa_key": lambda F, t, bad: F.scaled_dot_product_attention(t, bad, t),
}


@pytest.mark.parametrize("name", sorted(NOT_A_TENSOR))
@pytest.mark.parametrize("bad", [np.ones((2, 2)), None, 1.5])
def test_not_a_tensor_is_the_parsers_type_error(torch_ref, name, bad):
    """An array, None or a number where torch's parser wants a Tensor: its TypeError, named
    as the native function torch calls (log_sigmoid, nll_loss_nd, cross_entropy_loss,
    im2col, embedding's indices at position 2), not an AttributeError."""
    _raises_as(torch_ref, lambda lib: NOT_A_TENSOR[name](lib.nn.functional,
                                                         lib.ones(2, 2), bad))


POOL_INT_LISTS = {
    "max_pool2d_kernel_str": lambda F, x: F.max_pool2d(x, "a"),
    "max_pool2d_kernel_float": lambda F, x: F.max_pool2d(x, 2.0),
    "max_pool2d_kernel_bool": lambda F, x: F.max_pool2d(x, True),
    "max_pool2d_kernel_none_first": lambda F, x: F.max_pool2d(x, (None, 2)),
    "max_pool2d_kernel_none_second": lambda F, x: F.max_pool2d(x, (2, None)),
    "max_pool2d_stride_none_second": lambda F, x: F.max_pool2d(x, 2, stride=(2, None)),
    "max_pool2d_padding_float": lambda F, x: F.max_pool2d(x, 2, padding=0.5),
    "max_pool1d_kernel_none": lambda F, x: F.max_pool1d(x[0], (None,)),
    "max_pool1d_kernel_second": lambda F, x: F.max_pool1d(x[0], (2, None)),
    "max_pool3d_padding_second": lambda F, x: F.max_pool3d(x[None], 2, padding=(1, 1.0, 1)),
    "avg_pool2d_kernel_float": lambda F, x: F.avg_pool2d(x, 2.0),
    "avg_pool2d_kernel_second": lambda F, x: F.avg_pool2d(x, (2, None)),
    "avg_pool1d_kernel_float": lambda F, x: F.avg_pool1d(x[0], 2.0),
    "adaptive_avg_pool1d_none": lambda F, x: F.adaptive_avg_pool1d(x[0], None),
    "adaptive_avg_pool1d_tuple_none": lambda F, x: F.adaptive_avg_pool1d(x[0], (None,)),
    "adaptive_max_pool1d_tuple_none": lambda F, x: F.adaptive_max_pool1d(x[0], (None,)),
    "adaptive_avg_pool2d_str": lambda F, x: F.adaptive_avg_pool2d(x, "a"),
    "adaptive_avg_pool2d_float_first": lambda F, x: F.adaptive_avg_pool2d(x, (2.0, 3)),
    "adaptive_avg_pool2d_str_second": lambda F, x: F.adaptive_avg_pool2d(x, (2, "a")),
    "adaptive_max_pool2d_float_first": lambda F, x: F.adaptive_max_pool2d(x, (2.0, 2)),
    "adaptive_avg_pool3d_float_last": lambda F, x: F.adaptive_avg_pool3d(x[None],
                                                                         (2, None, 2.0)),
}


@pytest.mark.parametrize("name", sorted(POOL_INT_LISTS))
def test_pool_int_list_arguments_as_torchs_parser(torch_ref, name):
    """The poolings hand their int[] arguments to torch's parser positionally: its messages
    with the position, an element of another type at pos 0 or a later one; a float element
    of an adaptive output_size is refused, not truncated."""
    x = np.ones((1, 2, 6, 6))
    _raises_as(torch_ref, lambda lib: POOL_INT_LISTS[name](lib.nn.functional, lib.tensor(x)))


def test_pool_int_list_accepts_integer_tensors(torch_ref):
    """An integer 0-d tensor is an int to torch's parser (a bool only after the first)."""
    x = np.arange(72.0).reshape(1, 2, 6, 6)
    res = [[lib.nn.functional.max_pool2d(lib.tensor(x), lib.tensor(2)).numpy(),
            lib.nn.functional.max_pool2d(lib.tensor(x), (2, True)).numpy(),
            lib.nn.functional.adaptive_avg_pool2d(lib.tensor(x), (lib.tensor(3), None)).numpy()]
           for lib in (torch_ref, tapegrad)]
    for a, b in zip(*res):
        np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("fn, kw", [("leaky_relu", {"negative_slope": -0.2}),
                                    ("elu", {"alpha": -1.0}), ("celu", {"alpha": -0.5}),
                                    ("leaky_relu", {"negative_slope": 0.2})])
@pytest.mark.parametrize("through_view", [False, True])
def test_inplace_activation_with_negative_slope_refuses_backward(torch_ref, fn, kw,
                                                                 through_view):
    """The in-place forms with a negative slope: torch's values and node (LeakyReluBackward1,
    EluBackward1, CeluBackward1), whose backward raises torch's error (the output cannot tell
    the input's sign; tapegrad's leaky_relu_ gave a wrong gradient, as if the slope were 1)."""
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    res = []
    for lib in (torch_ref, tapegrad):
        leaf = lib.tensor(x, requires_grad=True)
        y = leaf * 1
        target = y[1:] if through_view else y
        out = getattr(lib.nn.functional, fn)(target, inplace=True, **kw)
        seen = (out is target, type(target.grad_fn).__name__, y._version)
        try:
            y.sum().backward()
            seen += (leaf.grad.numpy().round(12).tolist(),)
        except RuntimeError as e:
            seen += (str(e),)
        res.append((seen, y.detach().numpy()))
    assert res[1][0] == res[0][0]
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-15)


@pytest.mark.parametrize("pad", [(0, 0), (0, 0, 0, 0), (-1, 0), (0, -1, -1, 0), (1, -1)])
@pytest.mark.parametrize("fn", ["F.pad", "constant_pad_nd"])
def test_constant_pad_is_new_memory(torch_ref, pad, fn):
    """No pad at all, or crops only: torch's ConstantPadNdBackward0 of a copy, never the
    input or a view of it (writing into the result leaves the input alone)."""
    x = np.arange(24.0).reshape(2, 3, 4)
    res = []
    for lib in (torch_ref, tapegrad):
        a = lib.tensor(x, requires_grad=True)
        y = (lib.nn.functional.pad(a, pad) if fn == "F.pad" else
             lib.constant_pad_nd(a, pad))
        name = type(y.grad_fn).__name__
        (g,) = lib.autograd.grad(y, [a], lib.ones(tuple(y.shape), dtype=y.dtype))
        with lib.no_grad():
            y.fill_(-1.0)
        res.append((name, y is a, a.detach().numpy().tolist(), g.numpy().tolist()))
    assert res[1] == res[0]


@pytest.mark.parametrize("call", [
    lambda F, x: F.pixel_shuffle(x, 1), lambda F, x: F.pixel_unshuffle(x, 1),
    lambda F, x: F.pixel_shuffle(x[:, :, :1, :1], 2), lambda F, x: F.channel_shuffle(x, 1),
    lambda F, x: F.channel_shuffle(x, 4), lambda F, x: F.channel_shuffle(x, 2),
    lambda F, x: F.unfold(x, 1), lambda F, x: F.unfold(x[0], (1, 1))])
def test_shuffles_write_new_memory(torch_ref, call):
    """torch's pixel/channel shuffle and im2col kernels write a new tensor even where the
    reshapes they stand for are views (a factor of 1, one channel per group, a 1 x 1
    kernel): writing into the result leaves the input alone."""
    x = np.arange(2 * 4 * 2 * 2, dtype=np.float64).reshape(2, 4, 2, 2)
    res = []
    for lib in (torch_ref, tapegrad):
        a = lib.tensor(x, requires_grad=True)
        y = call(lib.nn.functional, a)
        name = type(y.grad_fn).__name__
        (g,) = lib.autograd.grad(y, [a], lib.ones(tuple(y.shape), dtype=y.dtype) * 2)
        out = y.detach().numpy().copy()
        with lib.no_grad():
            y.fill_(-1.0)
        res.append((name, out.tolist(), a.detach().numpy().tolist(), g.numpy().tolist()))
    assert res[1] == res[0]


@pytest.mark.parametrize("fn", ["dropout", "alpha_dropout", "feature_alpha_dropout",
                                "dropout2d"])
def test_dropouts_take_no_generator(torch_ref, fn):
    """torch's F.dropout has no generator= argument (tapegrad's took one)."""
    def err(m):
        try:
            getattr(m.nn.functional, fn)(m.ones(2, 3, 4), 0.5, generator=None)
        except TypeError as e:
            return str(e)
        return None
    assert err(torch_ref) is not None and err(tapegrad) == err(torch_ref)
