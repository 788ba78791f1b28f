"""Ops on edge shapes and memory layouts as torch computes them: empty tensors (reducing over
the empty dim and over another), 0-d tensors, non-contiguous inputs (transposed, stepped,
expanded) and in-place changes through views of them.  Each case runs with torch and with
tapegrad; values, dtypes, shapes and the gradients of the leaves compare, errors by type and
message."""
import math

import numpy as np
import pytest

import tapegrad as tg


def _leaf(T, shape, layout, seed):
    """A float64 leaf requiring grad and the input made of it: `c` the leaf itself, `t` the
    leaf of reversed shape permuted back, `s` every other column of a wider leaf, `e` a
    size-1 last dim expanded."""
    shape = tuple(shape)
    base = {"t": shape[::-1], "s": shape[:-1] + (2 * shape[-1],) if shape else shape,
            "e": shape[:-1] + (1,) if shape else shape}.get(layout, shape)
    vals = np.random.default_rng(seed).uniform(-2, 2, base)
    leaf = T.tensor(vals, dtype=T.float64, requires_grad=True)
    x = {"t": lambda: leaf.permute(*range(leaf.dim() - 1, -1, -1)),
         "s": lambda: leaf[..., ::2], "e": lambda: leaf.expand(*shape)}.get(layout, lambda: leaf)()
    return leaf, x


def _flat(r):
    if isinstance(r, (tuple, list)):
        return [y for x in r for y in _flat(x)]
    return [r]


def _run(T, fn, specs):
    """fn(T, *inputs) and the gradients of the leaves of (sum of outputs * fixed weights); an
    error as (type name, message)."""
    leaves, xs = zip(*[_leaf(T, sh, lay, k) for k, (sh, lay) in enumerate(specs)]) \
        if specs else ((), ())
    try:
        outs = _flat(fn(T, *xs))
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return ("error", type(e).__name__, str(e).replace("tapegrad", "torch").split("\n")[0])
    vals = [(str(o.dtype).split(".")[-1], tuple(o.shape), o.detach().numpy().copy())
            for o in outs]
    diff = [o for o in outs if o.requires_grad]
    grads = None
    if diff:
        loss = sum((o * T.tensor(np.random.default_rng(100 + k).uniform(0.5, 1.5, tuple(o.shape)),
                                 dtype=o.dtype)).sum() for k, o in enumerate(diff))
        loss.backward()
        grads = [None if l.grad is None else l.grad.numpy().copy() for l in leaves]
    return vals, grads


def _same(torch, fn, specs, raises=False, rtol=1e-10):
    a, b = _run(torch, fn, specs), _run(tg, fn, specs)
    assert (a[0] == "error") == raises, a
    if a[0] == "error" or b[0] == "error":
        assert a == b
        return
    (va, ga), (vb, gb) = a, b
    assert len(va) == len(vb)
    for (da, sa, xa), (db, sb, xb) in zip(va, vb):
        assert (da, sa) == (db, sb)
        np.testing.assert_allclose(xb, xa, rtol=rtol, atol=rtol / 100)
    assert (ga is None) == (gb is None)
    for x, y in zip(ga or (), gb or ()):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_allclose(y, x, rtol=rtol, atol=rtol / 100)


def _pieces_changed(op):
    def fn(T, x):
        plain = x.detach().clone()    # (torch's clone keeps x's strides: not row-major)
        op(plain).add_(100)
        with T.no_grad():
            base = x * 1
            op(base).mul_(3)
        return plain, base, op(plain)
    return fn


@pytest.mark.parametrize("layout", ["t", "s", "c"])
@pytest.mark.parametrize("op", [lambda x: x.split(2, 1)[0], lambda x: x.chunk(2, 1)[1],
                                lambda x: x.unbind(1)[2], lambda x: x.split([1, 3], 1)[1],
                                lambda x: x.unbind(0)[1], lambda x: x.tensor_split(2, 0)[0]],
                         ids=["split", "chunk", "unbind1", "split_sizes", "unbind0",
                              "tensor_split"])
def test_pieces_of_a_non_contiguous_tensor_are_views(torch_ref, op, layout):
    # split/chunk/unbind of a transposed or stepped tensor were copies: an in-place change of
    # a piece did not reach the tensor
    _same(torch_ref, _pieces_changed(op), [((3, 4), layout)])


@pytest.mark.parametrize("shape,dim", [((3, 0), 0), ((3, 0), [0]), ((2, 0, 4), 0),
                                       ((2, 0, 4), (0, -1)), ((2, 0, 4), -3), ((0, 3), -1)])
@pytest.mark.parametrize("op", ["amax", "amin", "max", "min", "aminmax"])
def test_extremes_over_a_full_dim_of_an_empty_tensor(torch_ref, op, shape, dim):
    # an empty result (the reduced dims are not empty): reshape(-1, ...) of the empty input
    # raised numpy's ValueError
    if op in ("max", "min", "aminmax") and not isinstance(dim, int):
        pytest.skip("one dim only")

    def fn(T, x):
        if op == "aminmax":
            return T.aminmax(x, dim=dim)
        return getattr(x, op)(dim)
    _same(torch_ref, fn, [(shape, "c")])
    _same(torch_ref, fn, [(shape, "t")])


@pytest.mark.parametrize("expr", [
    "x.argmax(-1)", "y.argmax(0)", "y.argmin(-1)", "y.argmax()", "x.kthvalue(1, -1)",
    "x.amax(-1)", "x.amin((0, -1))", "y.amax((0, 1))", "y.amax((0, -1))",
    "x.norm(float('inf'), -1)", "y.norm(float('inf'))", "T.linalg.vector_norm(y, -1.0)",
    "T.linalg.vector_norm(x, float('-inf'), dim=(0, 1))", "T.linalg.vector_norm(y, -2, (0, 1))",
    "T.quantile(y, 0.3, dim=1)", "T.nanquantile(x, 0.5, dim=0)"])
def test_errors_of_reductions_over_an_empty_dim(torch_ref, expr):
    # torch's types and messages: its dim as given (amax, vector_norm) or wrapped (argmax,
    # kthvalue), the empty check before the dims' range and duplicate checks
    def fn(T, x):
        return eval(expr, {"T": T, "x": x, "y": x.reshape(-1)})
    _same(torch_ref, fn, [((3, 0), "c")], raises=True)


@pytest.mark.parametrize("expr", ["x.argmax(-1)", "x.argmin(1, keepdim=True)",
                                  "T.linalg.vector_norm(x, float('inf'), dim=1)"])
def test_reductions_over_a_full_dim_of_an_empty_tensor(torch_ref, expr):
    def fn(T, x):
        return eval(expr, {"T": T, "x": x})
    _same(torch_ref, fn, [((0, 3), "c")])
    _same(torch_ref, fn, [((0, 3), "t")])


@pytest.mark.parametrize("shape,chunks,dim", [((0,), 2, 0), ((0, 3), 3, 0), ((2, 0), 3, 1),
                                              ((2, 0, 4), 2, -2), ((0,), 1, 0)])
def test_chunk_of_an_empty_dim_gives_chunks_pieces(torch_ref, shape, chunks, dim):
    # torch: `chunks` empty pieces (split_with_sizes of zeros), where tapegrad gave one
    _same(torch_ref, lambda T, x: x.chunk(chunks, dim), [(shape, "c")])
    _same(torch_ref, lambda T, x: T.chunk(x, chunks, dim), [(shape, "c")])
    _same(torch_ref, lambda T, x: x.unsafe_chunk(chunks, dim), [(shape, "c")])
    names = [[type(p.grad_fn).__name__ for f in (T.Tensor.chunk, T.Tensor.unsafe_chunk)
              for p in f(_leaf(T, shape, "c", 0)[0], chunks, dim)] for T in (torch_ref, tg)]
    assert names[0] == names[1]


@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0, 4)])
@pytest.mark.parametrize("op", ["median", "nanmedian"])
def test_median_of_all_elements_of_an_empty_tensor(torch_ref, op, shape):
    # nan with a grad_fn (an empty gradient), where tapegrad's result did not require grad
    # and its backward raised
    _same(torch_ref, lambda T, x: getattr(x, op)(), [(shape, "c")])
    _same(torch_ref, lambda T, x: getattr(x.float(), op)(), [(shape, "c")])
    names = [type(getattr(_leaf(T, shape, "c", 0)[0], op)().grad_fn).__name__
             for T in (torch_ref, tg)]
    assert names[0] == names[1]


@pytest.mark.parametrize("expr", [
    "x.index_select(0, T.tensor([0]))", "T.index_select(x, -1, T.tensor(0))",
    "x.movedim(0, -1)", "T.movedim(x, (0,), (-1,))", "x.movedim(-1, 0) * 2"])
def test_ops_along_the_dim_of_a_0d_tensor(torch_ref, expr):
    # index_select of a 0-d tensor is 0-d (tapegrad's had shape (1,)); movedim of one raised
    # an IndexError of its own
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [((), "c")])


@pytest.mark.parametrize("expr", [
    "x.index_select(0, T.tensor([0, 0]))", "x.index_select(0, T.tensor([], dtype=T.long))",
    "x.index_select(0, T.tensor([1]))", "x.movedim(1, 0)", "x.movedim(0, 1)",
    "T.nn.functional.glu(x, 0)", "T.nn.functional.glu(x.reshape(1, 1), -3)",
    "T.nn.functional.glu(x.reshape(1, 1), None)", "T.nn.functional.glu(x.reshape(-1), 1)",
    "T.nn.functional.glu(x, None)", "x.reshape(-1)[:0].index_select(0, T.tensor([0]))"])
def test_errors_along_the_dim_of_a_0d_tensor(torch_ref, expr):
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [((), "c")], raises=True)


@pytest.mark.parametrize("shape,dim", [((0,), 0), ((0, 4), 0), ((2, 0), 0), ((3, 0, 2), -1)])
def test_glu_of_an_empty_tensor(torch_ref, shape, dim):
    _same(torch_ref, lambda T, x: T.nn.functional.glu(x, dim), [(shape, "c")])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(0, 4), (0,), (2, 0, 3)])
def test_mse_loss_of_an_empty_batch(torch_ref, shape, reduction):
    # the one-pass mse_loss divided by the element count: ZeroDivisionError (torch: nan)
    _same(torch_ref, lambda T, x: T.nn.functional.mse_loss(x, x.detach() * 0.5,
                                                           reduction=reduction),
          [(shape, "c")])


@pytest.mark.parametrize("expr", [
    "x.index_add(0, T.tensor([5]), x[:1])", "x.index_add(0, T.tensor([-1]), x[:1])",
    "x.index_copy(0, T.tensor([5]), x[:1])", "x.index_copy(1, T.tensor([-1]), x[:, :1])",
    "x.index_fill(0, T.tensor([-4]), 1.0)", "x.index_reduce(0, T.tensor([-1]), x[:1], 'prod')",
    "x.scatter(0, T.tensor([[5]]), 1.0)", "x.scatter(0, T.tensor([[-1]]), x[:1, :1])",
    "x.scatter_add(1, T.tensor([[7]]), x[:1, :1])",
    "x.scatter_reduce(0, T.tensor([[3]]), x[:1, :1], 'sum')",
    "x.detach().clone().scatter_(0, T.tensor([[5]]), 1.0)"])
def test_errors_of_indices_out_of_range(torch_ref, expr):
    # scatter's and index_add's are RuntimeError in torch, index_copy's name itself, and only
    # index_fill takes a negative index (index_add/index_copy wrapped -1 around)
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [((3, 4), "c")], raises=True)


def test_index_fill_takes_a_negative_index(torch_ref):
    _same(torch_ref, lambda T, x: x.index_fill(0, T.tensor([-1, -3]), 1.0), [((3, 4), "t")])


@pytest.mark.parametrize("op", ["add_(1)", "mul_(x)", "exp_()", "clamp_(0, 1)",
                                "copy_(T.zeros(3, 4))", "sub_(T.ones(3, 4))", "sigmoid_()",
                                "addcmul_(x, x)", "fill_(T.tensor(1.0))", "__iadd__(1)"])
def test_in_place_write_into_an_expanded_tensor(torch_ref, op):
    # torch's internal-overlap error (tapegrad: numpy's "output array is read-only")
    def fn(T, x):
        y = x.detach()
        return eval("y.expand(3, 4)." + op, {"T": T, "x": y, "y": y})
    _same(torch_ref, fn, [((4,), "c")], raises=True)
    # (a fill_ by a number writes the one value into the memory under the expand, as
    # torch's: test_inplace.test_fill_and_zero_of_an_expand_as_torch)
    assert tg.ones(4).expand(3, 4).fill_(2.0).tolist() == \
        torch_ref.ones(4).expand(3, 4).fill_(2.0).tolist()


@pytest.mark.parametrize("expr", ["x[1:].expand(2, 4)", "x[1:].expand(1, 2, 4)",
                                  "x[2:].expand(1, 4)", "x[2:].expand(3, 1, 4)",
                                  "x[:, 1:2].expand(3, 5)", "x[1, 2:].expand(2, 2)",
                                  "x[:, 1:].expand(3, 3)", "x[1:].unfold(1, 2, 1)",
                                  "x[1].unfold(0, 2, 2)", "x[:, 1:].unfold(1, 2, 1)",
                                  "x[1:, 1:].t().unfold(0, 2, 1)", "x[2, 3].unfold(0, 1, 1)",
                                  "x[:, 1:].diagonal()", "x[1:, 1:].t().diagonal(1)",
                                  "x[1:].diagonal(-1)", "x[1:].diagonal(2)",
                                  "x[1:].narrow(1, 1, 2)", "x.t()[1:].narrow(0, 1, 2)"])
def test_strided_views_keep_the_storage_offset(torch_ref, expr):
    # an expand to the same sizes or new leading 1s (a writable view), unfold, and the
    # diagonal of a strided tensor lost their base's offset (numpy's as_strided hid the
    # root array)
    x = tg.arange(12.0).reshape(3, 4)
    tx = torch_ref.arange(12.0).reshape(3, 4)
    got, want = eval(expr, {"x": x}), eval(expr, {"x": tx})
    assert got.storage_offset() == want.storage_offset()
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize("view", ["x[:, 4:]", "x[3:]", "x.narrow(1, 2, 0)", "x.t()[4:]",
                                  "x[:0].reshape(0, 2)", "x[:, :0].t()"])
def test_in_place_change_of_an_empty_view(torch_ref, view):
    # an empty view is a view to torch: of a leaf it may not change in place, and a change
    # by a tensor that requires grad makes its base require grad (CopySlices); tapegrad did
    # not count it as a view
    def of_leaf(T, x):
        eval(view, {"x": x}).add_(1)

    def of_base(T, x):
        base = x.detach().clone()
        v = eval(view, {"x": base})
        v.add_(T.zeros_like(v) + x.sum())
        return base, base * x, [T.tensor(float(t.requires_grad)) for t in (base, v)]
    _same(torch_ref, of_leaf, [((3, 4), "c")], raises=True)
    _same(torch_ref, of_base, [((3, 4), "c")])


@pytest.mark.parametrize("shape,expr", [
    ((), "x.select(0, 0)"), ((), "x.narrow(0, 0, 1)"), ((), "T.tensor_split(x, 2)"),
    ((), "x.select(-1, 0)"), ((0, 3), "x.select(-2, 0)"), ((2, 0, 4), "x.select(-2, -1)"),
    ((0, 3), "x.index_select(0, T.tensor([0]))"),
    ((0, 3), "T.nn.functional.embedding(T.tensor([0]), x)")])
def test_errors_of_slicing_0d_and_empty_tensors(torch_ref, shape, expr):
    # torch's own texts (tapegrad's were Python's "tuple index out of range", an unwrapped
    # dim, "index out of range in self")
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [(shape, "c")], raises=True)


@pytest.mark.parametrize("shape,expr", [
    ((0,), "x.reshape(0, -1)"), ((2, 0), "x.view(-1, 0)"), ((3, 0), "x.reshape(-1, 2, 0)"),
    ((3,), "x.view(-1, 0)"), ((0, 3), "T.reshape(x, (3, -1, 0))")])
def test_reshape_of_no_elements_with_an_inferred_size(torch_ref, shape, expr):
    # torch: "cannot reshape tensor of 0 elements into shape [0, -1] because the unspecified
    # dimension size -1 can be any value and is ambiguous"
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [(shape, "c")], raises=True)


@pytest.mark.parametrize("n_out,in1,batch", [(0, 4, (3,)), (0, 4, (2, 3)), (2, 4, (0,)),
                                             (2, 4, (2, 0)), (2, 3, (2, 3))])
def test_bilinear_with_empty_sizes(torch_ref, n_out, in1, batch):
    # a batch, out_features or in_features of 0 (reshape(-1, ...) was ambiguous)
    _same(torch_ref, lambda T, x, y, w: T.nn.functional.bilinear(x, y, w),
          [(batch + (in1,), "c"), (batch + (4,), "c"), ((n_out, in1, 4), "c")])


@pytest.mark.parametrize("expr", ["x.long().mean(1)", "x.long().mean((0, 0))",
                                  "x.long().mean(-3, keepdim=True)"])
def test_integer_mean_raises_its_dtype_error_before_the_dims(torch_ref, expr):
    _same(torch_ref, lambda T, x: eval(expr, {"x": x}), [((), "c")], raises=True)
    _same(torch_ref, lambda T, x: eval(expr, {"x": x}), [((2, 0), "c")], raises=True)


@pytest.mark.parametrize("shapes", [((2, 3), (3, 2), None), ((0,), (2,), None),
                                    ((2, 3), (2, 3), (3, 2)), ((3,), (2, 3), (4,))])
def test_lerp_shape_error_names_the_operands_in_order(torch_ref, shapes):
    # tapegrad's message came from its decomposition's end - self: a and b swapped
    a, b, w = shapes
    specs = [(a, "c"), (b, "c")] + ([(w, "c")] if w else [])
    _same(torch_ref, lambda T, x, y, *z: T.lerp(x, y, z[0] if z else 0.5), specs, raises=True)


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss"])
@pytest.mark.parametrize("shapes", [((2, 3), ()), ((), (2, 3)), ((1,), ()), ((3, 1), (4,))])
def test_pointwise_losses_broadcast_before_promoting(torch_ref, loss, shapes):
    # torch broadcasts input and target to one shape first: a float32 input with a 0-d
    # float64 target gives a float64 loss (tapegrad's 0-d target promoted as a number: float32)
    import warnings

    def fn(T, x, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(T.nn.functional, loss)(x.float(), y), \
                getattr(T.nn.functional, loss)(x, y.float(), reduction="none")
    a, b = shapes
    _same(torch_ref, fn, [(a, "c"), (b, "c")], rtol=1e-5)


@pytest.mark.parametrize("shape,dim,ishape", [((3, 4), 0, (0, 4)), ((3, 4), 1, (3, 0)),
                                              ((5,), 0, (0,)), ((2, 0, 4), 1, (2, 0, 4))])
def test_scatter_add_of_an_empty_index(torch_ref, shape, dim, ishape):
    # src still gets its (empty) gradient and the node is ScatterAddBackward0 (tapegrad: a
    # clone of the input, src not reached: its grad stayed None)
    def fn(T, x, s):
        i = T.zeros(ishape, dtype=T.long)
        return T.scatter_add(x, dim, i, s), x.clone().scatter_add_(dim, i, s)
    _same(torch_ref, fn, [(shape, "t" if len(shape) > 1 else "c"), (ishape, "c")])
    names = [type(T.scatter_add(_leaf(T, shape, "c", 0)[0], dim, T.zeros(ishape, dtype=T.long),
                                _leaf(T, ishape, "c", 1)[0]).grad_fn).__name__
             for T in (torch_ref, tg)]
    assert names[0] == names[1]


@pytest.mark.parametrize("expr", ["x.roll(1, 0)", "T.roll(x, (1, -1), (0, -1))", "x.flatten(1)",
                                  "x.flatten(0, 1)", "x.repeat_interleave(2, 0)",
                                  "x.repeat_interleave(2, -1)", "T.diag_embed(x)"])
def test_dims_of_a_0d_tensor_out_of_range(torch_ref, expr):
    # these returned a value for a 0-d x where torch raises its dim range error
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [((), "c")], raises=True)


@pytest.mark.parametrize("shape,expr", [((), "x.flatten(0)"), ((), "x.flatten(-1, 0)"),
                                        ((0,), "x.roll(1, 1)"), ((0, 3), "x.roll(2, 1)"),
                                        ((3,), "x.roll(1, 0)"), ((3,), "T.diag_embed(x)")])
def test_dims_of_0d_and_empty_tensors_in_range(torch_ref, shape, expr):
    # (torch rolls an empty tensor without checking its dims)
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [(shape, "c")])


@pytest.mark.parametrize("shape,expr", [
    ((), "x.diagonal()"), ((), "x.diagonal(0, -1, 0)"), ((3,), "x.diagonal()"),
    ((3,), "x.diagonal(0, 0, -1)"), ((3,), "T.nn.functional.layer_norm(x, ())"),
    ((3,), "T.nn.functional.embedding(T.tensor([0]), x)"),
    ((2, 0, 4), "T.nn.functional.embedding(T.tensor([0]), x)")])
def test_errors_of_ops_given_too_few_dims(torch_ref, shape, expr):
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [(shape, "c")], raises=True)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("shape,pad", [((3, 0), (1, 1)), ((0, 3), (1, 1)), ((2, 0, 3), (1, 1)),
                                       ((2, 3, 0), (1, 1, 1, 1)),
                                       ((2, 0, 3, 3), (1, 1, 1, 1, 1, 1))])
def test_reflect_and_replicate_pad_of_an_empty_dim(torch_ref, mode, shape, pad):
    # torch: only the batch dim may be empty (tapegrad padded, or indexed out of range)
    _same(torch_ref, lambda T, x: T.nn.functional.pad(x, pad, mode=mode), [(shape, "c")],
          raises=True)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_of_an_empty_batch(torch_ref, mode):
    _same(torch_ref, lambda T, x: T.nn.functional.pad(x, (1, 1), mode=mode), [((0, 2, 3), "c")])


@pytest.mark.parametrize("shape,expr", [
    ((), "x.unflatten(0, (1, -1))"), ((), "T.gradient(x, dim=0)"), ((), "x.unflatten(1, (1,))"),
    ((), "x.unflatten(-1, (1,))"), ((), "T.gradient(x, dim=1)"), ((), "T.gradient(x, dim=-1)"),
    ((), "T.linalg.cross(x, x)"), ((), "T.take_along_dim(x, T.tensor(0), 0)"),
    ((), "T.take_along_dim(x, T.tensor(0), -1)"),
    ((), "x.unbind(1)"), ((), "x.unbind(-1)"), ((), "x.squeeze((0, -1))"),
    ((3, 1), "x.squeeze((1, 1))"), ((3, 1), "x.squeeze((-1, 1))"),
    ((0,), "x.split([1, -1])"), ((3,), "x.split([4, -1])"), ((), "T.logdet(x)"),
    ((3,), "T.logdet(x)"), ((), "T.linalg.matrix_power(x, 2)"),
    ((3,), "T.matrix_power(x, 0)"), ((2, 3), "T.matrix_power(x, 2)")])
def test_errors_of_dims_and_sizes(torch_ref, shape, expr):
    # Python's "tuple index out of range" / tapegrad's own texts before; squeeze with a
    # repeated dim ran
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [(shape, "c")], raises=True)


@pytest.mark.parametrize("eq,shapes", [("...ij->", [(3,)]), ("i...j->", [(3,)]),
                                       ("...ij,j->", [(4,), (4,)]), ("ij->i", [(3,)])])
def test_einsum_error_for_more_subscripts_than_dims(torch_ref, eq, shapes):
    # with an ellipsis: torch's "is more than the number of dimensions" (tapegrad's said
    # "does not match ... and no ellipsis was given")
    _same(torch_ref, lambda T, *xs: T.einsum(eq, *xs), [(s, "c") for s in shapes], raises=True)


@pytest.mark.parametrize("eq,n", [
    ("ij,jk->il", 2), ("ij->jj", 1), ("ij->iJ", 1), ("ij,jk->ik,", 2), ("ij-ik", 1),
    ("ij->i>", 1), ("i1->i", 1), ("i.j->i", 1), ("ij->i.", 1), ("ij->i..", 1),
    ("...i...->i", 1), ("ij->......", 1), ("ij,j.k->ik", 2), ("ij->j i j", 1)])
def test_einsum_equation_errors_as_torch(torch_ref, eq, n):
    # torch's parse of the subscripts: numpy's "substring not found", permute's error or the
    # count of subscripts before
    _same(torch_ref, lambda T, *xs: T.einsum(eq, *xs), [((2, 2), "c")] * n, raises=True)


@pytest.mark.parametrize("shape,expr", [
    ((), "x.index_add(0, T.tensor([0]), x.reshape(1))"),
    ((), "x.index_add(0, T.tensor([0, 0]), T.ones(2, dtype=x.dtype))"),
    ((3, 4), "x.index_add(0, T.tensor([0]), x[0])"),
    ((3, 4), "x.index_add(1, T.tensor([0]), x[:, 0])"),
    ((3, 4), "x.index_add(0, T.tensor([0]), x[:1, :3])"),
    ((3, 4), "x.index_add(1, T.tensor([0, 1]), x[:2, :3])"),
    ((3,), "x.index_add(0, T.tensor([1]), x[0])")])
def test_index_add_checks_the_source_shape(torch_ref, shape, expr):
    # a source whose element count matched ran (and one that did not raised numpy's error)
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [(shape, "c")], raises=True)


@pytest.mark.parametrize("shape,expr", [((), "x.index_add(0, T.tensor([0]), x * 2)"),
                                        ((3, 4), "x.index_add(0, T.tensor([0, 0]), x[:2] * 2)"),
                                        ((3, 4), "x.index_add(1, T.tensor([3]), x[:, 1:2])")])
def test_index_add_of_matching_sources(torch_ref, shape, expr):
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [(shape, "t" if shape else "c")])


def _setitem(x, key, value):
    x[key] = value
    return x


@pytest.mark.parametrize("expr", ["x[::2]", "x[1:]", "x[T.tensor(0)]", "x[T.tensor([0])]",
                                  "x[0, 0]", "_setitem(x.detach().clone(), 0, 1.0)",
                                  "_setitem(x.detach().clone(), slice(None, None, 2), 1.0)",
                                  "_setitem(x.detach().clone(), (0, 0), 1.0)"])
def test_indexing_errors_of_a_0d_tensor(torch_ref, expr):
    # torch names a lone slice ("slice() cannot be applied to a 0-dim tensor.") and counts
    # other keys ("too many indices for tensor of dimension 0"); x[k] = v gave numpy's text
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x, "_setitem": _setitem}),
          [((), "c")], raises=True)


@pytest.mark.parametrize("shape,expr", [((3, 0), "x[:, T.tensor([0])]"),
                                        ((2, 0, 4), "x[:, T.tensor([0])]"),
                                        ((3, 0), "x[T.tensor([0]), T.tensor([0])]"),
                                        ((0,), "x[T.tensor([1])]")])
def test_advanced_index_into_an_empty_dim(torch_ref, shape, expr):
    # torch's text for an empty dim: "index is out of bounds for dimension with size 0"
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [(shape, "c")], raises=True)


@pytest.mark.parametrize("shape,key", [((3, 4), "None, 5"), ((2, 3, 4), "..., 9"),
                                       ((2, 3, 4), "None, 0, None, 5"), ((3, 4), ":, None, 9"),
                                       ((2, 3), "True, 0, 9"), ((2, 3, 4), "0, [0, 1], 9"),
                                       ((2, 3, 4), "T.ones(2, 3, dtype=T.bool), 9"),
                                       ((2, 3), ":, T.tensor(5)"), ((2, 0), "0, 0"),
                                       ((3,), "-5")])
@pytest.mark.parametrize("write", [False, True])
def test_int_index_out_of_range_names_its_place_in_the_key(torch_ref, shape, key, write):
    # torch names an int's place in the key (x[None, 5]: dimension 1; an Ellipsis counts one),
    # not the dim it selects from, for x[key] and x[key] = v alike
    expr = f"_setitem(x.detach().clone(), _key[{key}], 1.0)" if write else f"x[{key}]"
    def fn(T, x):
        return eval(expr, {"T": T, "x": x, "_setitem": _setitem, "_key": _Key()})
    assert _run(tg, fn, [(shape, "c")])[1] == "IndexError"
    _same(torch_ref, fn, [(shape, "c")], raises=True)


@pytest.mark.parametrize("key", ["[1.0]", "[0, 1.5]", "[-1.5]", "[2.5, 2.9]", "[1.0, True]",
                                 ":, [1.9]", "[0.0], [1.0]", "[1.0], 2", "[[1.2]]",
                                 "np.array([0.0, 2.7])", "[5.5]"])
@pytest.mark.parametrize("write", [False, True])
def test_float_sequence_index_truncates_as_torch(torch_ref, key, write):
    # torch makes a long index tensor of a list or array: floats truncate (x[[0, 1.5]] is
    # x[[0, 1]]), gradients included; numpy refused them ("... (got NoneType)")
    expr = f"_setitem(x * 1, _key[{key}], -1.0)" if write else f"x[{key}]"

    def fn(T, x):
        return eval(expr, {"T": T, "x": x, "np": np, "_setitem": _setitem, "_key": _Key()})
    _same(torch_ref, fn, [((3, 4), "c")], raises=key == "[5.5]")


@pytest.mark.parametrize("key", [":, [0, 2], ..., [1, 3]", "0:1, [2, 2], ..., [-1]",
                                 ":, T.tensor([True, False, True]), ..., [0, 1]",
                                 ":, [[0], [1]], ..., [1, 2]", "0, [0, 2], ..., [1, 3]",
                                 ":, [0, 2], ..., None, [1, 3]", "[0], ..., [1]"])
@pytest.mark.parametrize("write", [False, True])
def test_ellipsis_of_no_dims_between_index_tensors(torch_ref, key, write):
    # an Ellipsis that takes no dims does not part two index tensors in torch (their dims
    # stay in place: x[:, i, ..., j] of a 3-d x is [2, n]); numpy's reading put them first
    expr = f"_setitem(x * 1, _key[{key}], T.tensor(-1.0, dtype=T.float64))" if write \
        else f"x[{key}]"

    def fn(T, x):
        return eval(expr, {"T": T, "x": x, "_setitem": _setitem, "_key": _Key()})
    _same(torch_ref, fn, [((2, 3, 4), "c")])


@pytest.mark.parametrize("key", ["T.tensor(-1), :, ..., [0, -1, -1]",
                                 "T.tensor(0), :, [0, 1, 1]", ":, T.tensor(1), [0, 0]",
                                 "[1, 0], T.tensor(2)"])
def test_setitem_with_a_0d_index_tensor_selects_first(torch_ref, key):
    # torch reads a 0-d integer tensor in a key as its int (a select before the index
    # tensors), for x[key] = v as for x[key]; numpy took its array as one more index tensor
    # and placed the indexed dims otherwise (value shape errors, or values landing elsewhere)
    def fn(T, x):
        k = eval(f"_key[{key}]", {"T": T, "_key": _Key()})
        shape = tuple(x[k].shape)
        value = T.arange(1.0, 1.0 + math.prod(shape), dtype=T.float64).reshape(shape)
        return _setitem(x * 1, k, value)
    _same(torch_ref, fn, [((2, 3, 4), "c")])


class _Key:
    """_Key()[k]: the key k itself, as a subscript writes it (slices among them)."""
    def __getitem__(self, key):
        return key


@pytest.mark.parametrize("expr", ["T.cumulative_trapezoid(x)", "T.cumulative_trapezoid(x, dim=1)",
                                  "T.cumulative_trapezoid(x, dx=2.0)", "T.trapezoid(x)",
                                  "T.trapezoid(x, dim=1)"])
def test_trapezoid_of_a_0d_tensor(torch_ref, expr):
    _same(torch_ref, lambda T, x: eval(expr, {"T": T, "x": x}), [((), "c")], raises=True)


@pytest.mark.parametrize("layout", ["rows", "t"])
@pytest.mark.parametrize("args", [((2, 2), (1, 2), 5), ((3,), (2,), None), ((2, 2), (0, 1), 6),
                                  ((2, 3), (4, 1), 4)])
def test_as_strided_of_a_view_reads_its_elements(torch_ref, layout, args):
    # a contiguous x (rows of its base) finds its gather positions from its own offset,
    # a transposed one by labelling the storage: the same values and gradients as torch's
    def fn(T):
        v = T.tensor(np.arange(16.0).reshape(4, 4) / 7, requires_grad=True)
        y = (v * 1.0)[1:] if layout == "rows" else (v * 1.0).t()
        u = y.as_strided(*args)
        g, = T.autograd.grad((u * T.arange(float(u.numel())).reshape(u.shape)).sum(), v)
        return u.tolist(), g.tolist(), u.storage_offset()
    assert fn(tg) == fn(torch_ref)


def test_as_strided_outside_a_views_elements_is_refused():
    v = tg.tensor(np.arange(16.0).reshape(4, 4), requires_grad=True)
    with pytest.raises(NotImplementedError, match="outside"):
        (v * 1.0)[1:].as_strided((2,), (1,), 0)


def test_tril_triu_masks_kept_between_calls(torch_ref):
    # the masks are kept per (op, rows, cols, diagonal): repeated calls, other shapes and an
    # in-place tril_ in between give torch's values and gradients
    def fn(T):
        out = []
        for shape, d in [((3, 4), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -1), ((4, 3), 0)]:
            x = T.tensor(np.arange(float(np.prod(shape))).reshape(shape) + 1, requires_grad=True)
            y = x * 1.0
            y.tril_(d)
            r = x.tril(d) * 2 + x.triu(d) * 3 + y
            g, = T.autograd.grad((r * r).sum(), x)
            out.append((r.tolist(), g.tolist()))
        return out
    assert fn(tg) == fn(torch_ref)
