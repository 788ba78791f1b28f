"""Autograd semantics as PyTorch defines them: flags, leaves, errors, accumulation,
autograd.grad, grad mode.  Messages are PyTorch's (compared with torch when installed)."""
import threading
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import autograd, pyfunc
from tapegrad.autograd import Variable
import fresh


def raises(msg_start, fn, exc=RuntimeError):
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value).startswith(msg_start), str(info.value)


# ---- requires_grad and leaves --------------------------------------------------------------
def test_requires_grad_propagates_only_when_an_input_requires_it():
    x, z = tg.randn(3, 3), tg.randn(3, 3, requires_grad=True)
    assert not (x + x).requires_grad
    assert (x + z).requires_grad and (z * 2).requires_grad and (2 - z).requires_grad
    s = tg.tensor(1.5, requires_grad=True)
    assert (s * 3).requires_grad and not (tg.tensor(1.5) * 3).requires_grad


def test_leaves():
    a = tg.ones(2, requires_grad=True)
    b = tg.ones(2)
    c = a * 2
    assert a.is_leaf and b.is_leaf and not c.is_leaf
    assert (b * 2).is_leaf  # does not require grad
    assert c.detach().is_leaf and not c.detach().requires_grad
    assert a.grad_fn is None and c.grad_fn is not None


def test_requires_grad_errors():
    raises("Only Tensors of floating point and complex dtype can require gradients",
           lambda: tg.tensor(2, requires_grad=True))
    t = tg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="^only Tensors of floating point and complex dtype"):
        t.requires_grad = True
    raises("only Tensors of floating point dtype can require gradients", lambda: t.requires_grad_())
    c = tg.ones(2, requires_grad=True) * 2
    raises("you can only change requires_grad flags of leaf variables.",
           lambda: setattr(c, "requires_grad", False))
    # torch 2.13 refuses the setter on a non-leaf even when nothing would change
    with pytest.raises(RuntimeError, match=r"^you can only change requires_grad flags of leaf "
                                           r"variables\.$"):
        c.requires_grad = True
    assert c.requires_grad_(True) is c    # (the method allows that no-op)
    assert t.requires_grad is False


def test_requires_grad_setter_makes_a_leaf_that_records():
    x = tg.tensor([1.0, 2.0])
    x.requires_grad = True
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


@pytest.mark.parametrize("path", ["n-d", "scalars", "create_graph"])
def test_a_leaf_whose_requires_grad_is_turned_off_gets_no_grad(path):
    # torch's AccumulateGrad checks the flag when it runs: the graph was built before
    if path == "scalars":            # (the bulk collection of many 0-d leaves)
        ws = [tg.tensor(float(i), requires_grad=True) for i in range(12)]
        s = ws[0]
        for w in ws[1:]:
            s = s + w * 2.0
        ws[3].requires_grad_(False)
        s.backward()
        assert [w.grad is None for w in ws] == [i == 3 for i in range(12)]
        assert ws[4].grad.item() == 2.0
        return
    x, v = tg.tensor([1.0, 2.0], requires_grad=True), tg.tensor([3.0, 4.0], requires_grad=True)
    y = (x * x * v).sum()
    x.requires_grad_(False)
    if path == "create_graph":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y.backward(create_graph=True)
    else:
        y.backward()
    assert x.grad is None and v.grad.tolist() == [1.0, 4.0]


def test_non_leaf_grad_warns_and_retain_grad():
    a = tg.ones(2, requires_grad=True)
    b = a * 3
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
        assert b.grad is None
    c = a * 3
    c.retain_grad()
    assert c.retains_grad and not a.retains_grad
    (c * c).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(c.grad.numpy(), [6.0, 6.0])
    np.testing.assert_allclose(a.grad.numpy(), [18.0, 18.0])
    raises("can't retain_grad on Tensor that has requires_grad=False", lambda: tg.ones(2).retain_grad())


# ---- backward --------------------------------------------------------------------------------
def test_backward_errors_match_torch():
    v = tg.ones(2, requires_grad=True) * 2
    raises("grad can be implicitly created only for scalar outputs", lambda: v.backward())
    raises("element 0 of tensors does not require grad and does not have a grad_fn",
           lambda: tg.ones(2).sum().backward())
    m = tg.ones(2, 2, requires_grad=True) * 2
    raises("Mismatch in shape: grad_output[0] has a shape of tapegrad.Size([3]) and output[0] has "
           "a shape of tapegrad.Size([2, 2]).", lambda: m.backward(tg.ones(3)))


def test_backward_with_gradient_weights():
    a = tg.ones(2, 2, requires_grad=True)
    b = tg.ones(2, 2, requires_grad=True)
    c = a + 2 * b
    d = tg.tensor([[2.0, 1.0], [0.5, -1.0]])
    c.backward(d)
    np.testing.assert_allclose(a.grad.numpy(), d.numpy())
    np.testing.assert_allclose(b.grad.numpy(), 2 * d.numpy())


def test_backward_on_a_leaf():
    x = tg.tensor(3.0, requires_grad=True)
    x.backward()
    x.backward(tg.tensor(2.0))
    assert x.grad.item() == 3.0


def test_accumulation_in_place_and_reset():
    x = tg.ones(2, 2, requires_grad=True)
    y = x.sum()
    y.backward()
    g = x.grad
    y.backward()
    assert x.grad is g and g.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    x.grad.data.zero_()
    y.backward()
    assert g.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    x.grad.zero_()
    assert g.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    x.grad = None
    y.backward()
    assert x.grad is not g and x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    del x.grad
    assert x.grad is None


def _grad_layouts_and_versions(m):
    """.grad's strides after one backward and after a second, which adds in place (its
    version moves on by one)."""
    out = []
    x = m.ones(5, 4)
    for make in (lambda: m.ones(3, 4), lambda: m.ones(4, 3).t(), lambda: m.ones(3, 8)[:, ::2],
                 lambda: m.ones(2, 3, 4).permute(2, 0, 1), lambda: m.ones(1, 2).t(),
                 lambda: m.tensor(2.0)):
        for loss in (lambda w: w.pow(2).sum(), lambda w: (x[:w.shape[0], :1] * w).exp().mean()
                     if w.dim() == 2 else w.pow(2).sum()):
            w = m.nn.Parameter(make())
            loss(w).backward()
            # (the first .grad's own version: 1 where torch's engine copied the incoming
            # gradient into it rather than kept it, which depends on its buffers: not compared)
            first = (w.grad.stride(), w.grad.is_contiguous(), w.grad._version)
            loss(w).backward()
            out.append((first[:2], w.grad.stride(), w.grad._version - first[2],
                        np.round(w.grad.detach().numpy(), 5).tolist()))
    w = m.nn.Parameter(m.ones(3, 4).t())
    (x @ w).pow(2).sum().backward()
    out.append((w.grad.stride(), w.grad.is_contiguous()))
    return out


def test_grad_layout_and_version_as_torch():
    """torch's AccumulateGrad: a first .grad has its parameter's strides where the parameter
    is non-overlapping and dense (a transposed or permuted one: not row-major), row-major
    otherwise; the next backward adds into it in place, which counts as a change of it (its
    _version moves on).  tapegrad made every first .grad row-major and counted no change."""
    torch = pytest.importorskip("torch")
    assert _grad_layouts_and_versions(tg) == _grad_layouts_and_versions(torch)


def _create_graph_grads(m):
    out = []
    for make in (lambda: m.ones(3, 4), lambda: m.ones(4, 3).t(), lambda: m.ones(3, 8)[:, ::2],
                 lambda: m.tensor(2.0)):
        w = m.nn.Parameter(make())
        w.pow(3).sum().backward(create_graph=True)
        out.append((w.grad.grad_fn.name(), w.grad._version, w.grad.stride()))
        w.pow(3).sum().backward(create_graph=True)
        out.append((w.grad.grad_fn.name(), w.grad._version))
    x = m.ones(3, requires_grad=True)
    y = x * 2.0
    y.retain_grad()
    (y ** 2).sum().backward(create_graph=True)
    out.append((y.grad.grad_fn.name(), y.grad._version))
    w = m.nn.Parameter(m.ones(3) * 2.0)
    w.pow(3).sum().backward(create_graph=True)
    penalty = (w.grad ** 2).sum()
    w.grad = None
    penalty.backward()
    out.append(w.grad.tolist())
    return out


def test_create_graph_first_grad_as_torch():
    """torch's first .grad under create_graph: a dense leaf's gradient copied into a fresh
    tensor (CopyBackwards; the copy counts: _version 1), a non-dense leaf's or a retained
    non-leaf's cloned (CloneBackward0, _version 0).  tapegrad copied all, at version 0."""
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (backward(create_graph=True)'s reference cycle)
        assert _create_graph_grads(tg) == _create_graph_grads(torch)


def _retained_grad_layouts(m):
    """A retained non-leaf's .grad strides, first and after a second backward."""
    out = []
    c = m.ones(2, 3, requires_grad=True)
    for view in (lambda: c.t(), lambda: (c * 1).permute(1, 0), lambda: c[:, ::2],
                 lambda: c * 1):
        y = view()
        y.retain_grad()
        for loss in (lambda: (y * 2).sum(), lambda: y.exp().sum()):
            loss().backward(retain_graph=True)
            out.append((y.grad.stride(), y.grad.is_contiguous()))
        m.autograd.grad((y * 3).sum(), c)
        out.append(y.grad.stride())
    return out


def test_retained_grad_of_a_view_is_row_major_as_torch():
    """torch's retain_grad hook clones the incoming gradient row-major
    (clone(contiguous_format)): unlike a leaf's AccumulateGrad, it does not take the
    tensor's layout.  tapegrad gave a retained transpose a transposed .grad."""
    torch = pytest.importorskip("torch")
    assert _retained_grad_layouts(tg) == _retained_grad_layouts(torch)


def test_scalar_grad_accumulates_in_place():
    a = tg.tensor(2.0, requires_grad=True)
    (a * 3).backward()
    g = a.grad
    (a * 3).backward()
    assert a.grad is g and g.item() == 6.0
    a.grad.data.zero_()
    assert a.grad.item() == 0.0


def test_backward_inputs_only_accumulates_there():
    a = tg.tensor(2.0, requires_grad=True)
    b = tg.tensor(3.0, requires_grad=True)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 3.0 and b.grad is None


def test_autograd_backward_function():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    autograd.backward([a * 2, (a * a).sum()], [tg.ones(2), None])
    np.testing.assert_allclose(a.grad.numpy(), [4.0, 6.0])


def test_grad_dtype_follows_leaf():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype is tg.float64
    y = tg.tensor(1.5, requires_grad=True)
    (y * tg.tensor(2.0, dtype=tg.float64)).backward()
    assert y.grad.dtype is tg.float32


GRAD_DTYPE_PROGRAM = """
x = M.tensor([1., 2.], requires_grad=True)
p(x.grad_dtype, M.tensor([1, 2]).grad_dtype)
x.grad_dtype = M.float64
p(x.grad_dtype, x.detach().grad_dtype, M.nn.Parameter(M.ones(2)).grad_dtype)
(x * 3).sum().backward(); (x * 3).sum().backward(); p(x.grad, x.grad.dtype)
x.grad = M.ones(2)
x.grad = None; x.grad = M.ones(2, dtype=M.float64); p(x.grad.dtype)
x.grad_dtype = M.float32
x.grad = None; x.grad_dtype = None; x.grad = M.ones(2, dtype=M.float64); p(x.grad_dtype, x.grad)
(x * 2).sum().backward(); p(x.grad)
x.grad_dtype = 'float'
y = x * 2
y.grad_dtype
y.grad_dtype = M.float64
s = M.tensor(1.5, requires_grad=True); s.grad_dtype = M.float64
(s * 0.1).backward(); p(s.grad, s.grad.dtype, s.grad.item())
p(M.autograd.grad(s * 0.1, s), M.autograd.grad(s * s, s, create_graph=True)[0].dtype)
w = M.tensor([1., 2.], dtype=M.float64, requires_grad=True); w.grad_dtype = M.float32
M.autograd.backward([(w * 0.1).sum()], inputs=[w]); p(w.grad)
d = M.tensor([1., 2.], requires_grad=True); d.data = M.ones(2, dtype=M.float64); p(d.grad_dtype)
"""


def test_grad_dtype_as_torch():
    """Tensor.grad_dtype (torch 2.10+): a leaf's .grad dtype, cast to by the engine (the
    gradient computed in the leaf's dtype first), None to accept any; its checks."""
    torch = pytest.importorskip("torch")
    out = []
    for m in (tg, torch):
        lines = []
        env = {"M": m, "p": lambda *a: lines.append(" ".join(map(str, a)))}
        with warnings.catch_warnings():   # (a non-leaf's grad_dtype set warns, as torch's)
            warnings.simplefilter("ignore")
            for line in GRAD_DTYPE_PROGRAM.strip().splitlines():
                try:
                    exec(line, env)
                except Exception as e:  # noqa: BLE001 (compared with torch's)
                    lines.append(f"{type(e).__name__}: {e}")
        # (tapegrad's messages name torch's types, as torch's)
        out.append([s.replace("tapegrad.", "M.").replace("torch.", "M.") for s in lines])
    assert out[0] == out[1]


# ---- autograd.grad ---------------------------------------------------------------------------
def test_grad_returns_tuple_and_leaves_grad_alone():
    a = tg.tensor(2.0, requires_grad=True)
    b = tg.tensor(5.0, requires_grad=True)
    out = a * a + b
    ga, gb = autograd.grad(out, [a, b])
    assert (ga.item(), gb.item()) == (4.0, 1.0)
    assert a.grad is None and b.grad is None
    assert not ga.requires_grad


def test_grad_unused_inputs():
    a = tg.tensor(1.0, requires_grad=True)
    b = tg.tensor(1.0, requires_grad=True)
    y = a * 2
    raises("The differentiated Tensor at index 1 appears to not have been used in the graph. "
           "Set allow_unused=True if this is the desired behavior.", lambda: autograd.grad(y, [a, b]))
    # the failed call freed nothing: the graph can still be used
    ga, gb = autograd.grad(y, [a, b], allow_unused=True)
    assert ga.item() == 2.0 and gb is None
    ga, gb = autograd.grad(a * 2, [a, b], materialize_grads=True)
    assert gb.item() == 0.0


def test_grad_outputs_and_non_leaf_inputs():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * x
    y = h * 3
    gh, gx = autograd.grad(y, [h, x], grad_outputs=tg.tensor([1.0, 0.5, 2.0]))
    np.testing.assert_allclose(gh.numpy(), [3.0, 1.5, 6.0])
    np.testing.assert_allclose(gx.numpy(), [6.0, 6.0, 36.0])
    raises("Mismatch in shape", lambda: autograd.grad(x * 2, x, grad_outputs=tg.ones(2)))


def test_grad_several_outputs():
    x = tg.tensor(2.0, requires_grad=True)
    (g,) = autograd.grad([x * x, x * 3], x)
    assert g.item() == 7.0


def test_create_graph_backward_sets_grad_with_history_out_of_place():
    x = tg.tensor(2.0, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    g1 = x.grad
    assert g1.item() == 12.0 and g1.grad_fn is not None
    (x * x).backward(create_graph=True)       # retain_graph defaults to create_graph
    assert x.grad is not g1 and x.grad.item() == 16.0 and g1.item() == 12.0
    (h,) = autograd.grad(x.grad, x)
    assert h.item() == 6 * 2.0 + 2.0


# ---- grad_fn views ---------------------------------------------------------------------------
def test_grad_fn_structure():
    x = tg.tensor(2.0, requires_grad=True)
    y = x * 2
    z = y + x
    fn = z.grad_fn
    assert fn is z.grad_fn and fn.name() == "AddBackward0"
    (f0, _), (f1, _) = fn.next_functions
    assert f0 is y.grad_fn and type(f1).__name__ == "AccumulateGrad" and f1.variable is x
    assert y.grad_fn.next_functions[1] == (None, 0)
    assert len((2 - x).grad_fn.next_functions) == 1
    assert repr(fn).startswith("<AddBackward0 object at 0x")


# ---- grad mode -------------------------------------------------------------------------------
def test_no_grad_enable_grad_nesting_and_decorators():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        assert not (a * 2).requires_grad
        with tg.enable_grad():
            assert (a * 2).requires_grad
        assert not (a * 2).requires_grad
    assert tg.is_grad_enabled()

    @tg.no_grad()
    def f(t):
        return t * 2

    @tg.enable_grad()
    def g(t):
        return t * 2

    assert not f(a).requires_grad
    with tg.no_grad():
        assert g(a).requires_grad
    with tg.set_grad_enabled(False):
        assert not (a * 2).requires_grad
    tg.set_grad_enabled(False)
    assert not tg.is_grad_enabled()
    tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()


def test_no_grad_and_enable_grad_decorate_without_parentheses():
    # `@torch.no_grad` (no call), as in torch's own no_grad docstring
    a = tg.tensor([1.0, 2.0], requires_grad=True)

    @tg.no_grad
    def f(t):
        """doc"""
        return t * 2

    @tg.enable_grad
    def g(t):
        return t * 2

    assert isinstance(f(a), tg.Tensor) and not f(a).requires_grad and f.__doc__ == "doc"
    with tg.no_grad():
        assert g(a).requires_grad
    assert tg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    a = tg.tensor(1.0, requires_grad=True)
    seen = {}

    def worker():
        seen["enabled"] = tg.is_grad_enabled()
        y = a * 3
        y.backward()
        seen["rg"] = y.requires_grad

    with tg.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert not (a * 2).requires_grad
    assert seen == {"enabled": True, "rg": True}
    assert a.grad.item() == 3.0


def test_variable():
    v = Variable(tg.ones(2), requires_grad=True)
    assert isinstance(v, tg.Tensor) and v.requires_grad and v.is_leaf
    with pytest.warns(UserWarning, match="volatile was removed"):
        w = Variable(tg.ones(2), volatile=True)
    assert not w.requires_grad


def _dict_inputs(m):
    """torch 2.13's autograd.grad / backward take `inputs` as a dict (its values; grad returns
    the gradients under its keys); another Mapping is a TypeError."""
    import types
    out = []
    a = m.tensor([1.0, 2.0], requires_grad=True)
    b = m.tensor([3.0, 4.0], requires_grad=True)
    lin = m.nn.Linear(2, 1)
    lin.weight.data.fill_(0.5)
    for call in (lambda: m.autograd.grad((a * b).sum(), {"b": b, "a": a}),
                 lambda: m.autograd.grad((a * 2).sum(), {"a": a, "b": b}, allow_unused=True),
                 lambda: m.autograd.grad((a * 2).sum(), {"a": a, "b": b}, materialize_grads=True),
                 lambda: m.autograd.grad(lin(a).sum(), dict(lin.named_parameters())),
                 lambda: m.autograd.grad((a * 2).sum(), {}),
                 lambda: m.autograd.grad((a * 2).sum(), types.MappingProxyType({"a": a})),
                 lambda: (a * b).sum().backward(inputs={"a": a}),
                 lambda: m.autograd.backward((a * b).sum(), inputs={"b": b}),
                 lambda: (a * b).sum().backward(inputs=types.MappingProxyType({"a": a}))):
        a.grad = b.grad = None
        try:
            got = call()
        except (RuntimeError, TypeError) as e:
            out.append((type(e).__name__, str(e)))
            continue
        if isinstance(got, dict):
            got = {k: None if v is None else v.tolist() for k, v in got.items()}
        out.append((got, [None if t.grad is None else t.grad.tolist() for t in (a, b)]))
    return out


def test_dict_inputs_as_torch(torch_ref):
    """tapegrad refused a dict ("all inputs have to be Tensors or GradientEdges, but got
    str")."""
    assert _dict_inputs(tg) == _dict_inputs(torch_ref)


def _legacy_variables(m):
    """torch's legacy Variable(data, requires_grad, volatile, _grad_fn): a detached alias of
    data (a new leaf sharing its memory and version; data's own flag untouched), an empty
    tensor without data, torch's errors for other data."""
    V = m.autograd.Variable
    out = []
    x = m.zeros(3)
    v = V(x, requires_grad=True)
    v.data.add_(1)
    out.append((x.requires_grad, v.requires_grad, v is x, v.is_leaf, x.tolist(), x._version))
    w = m.ones(3, requires_grad=True)
    y = w * 2
    vy = V(y, requires_grad=True)
    (vy * 3).sum().backward()
    out.append((vy.is_leaf, vy.grad_fn, vy.grad.tolist(), w.grad, V(y).requires_grad))
    out.append((type(V(m.nn.Parameter(m.ones(2)))).__name__, V().shape, V(None, True).requires_grad,
                V(m.ones(2), requires_grad=1).requires_grad))
    for call in (lambda: V([1.0, 2.0]), lambda: V(np.ones(2)), lambda: V(m.ones(2), _grad_fn=3),
                 lambda: V(m.ones(2, dtype=m.long), requires_grad=True),
                 lambda: V(m.ones(2), requires_grad=True, volatile=True)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # (volatile's warning)
                call()
        except (TypeError, ValueError, RuntimeError) as e:
            out.append((type(e).__name__, str(e)))
    return out


def test_legacy_variable_factory_raises_as_torch(torch_ref):
    """torch.autograd.variable(...) (lowercase) was an AttributeError."""
    msgs = []
    for m in (tg, torch_ref):
        with pytest.raises(RuntimeError) as info:
            m.autograd.variable([1.0], requires_grad=True)
        msgs.append(str(info.value).replace(m.__name__ + ".", "torch."))
    assert msgs[0] == msgs[1]


def test_legacy_variable_detaches_as_torch(torch_ref):
    """tapegrad's Variable returned data itself: Variable(y, requires_grad=True) of a
    non-leaf kept y's graph (the gradient went on to y's inputs), Variable(x, True) set x's
    own flag, and lists, numbers and no data were taken."""
    assert _legacy_variables(tg) == _legacy_variables(torch_ref)


# ---- conversions -------------------------------------------------------------------------------
def test_item_numpy_tolist():
    x = tg.tensor(0.1, requires_grad=True)
    assert x.item() == float(np.float32(0.1))
    raises("a Tensor with 2 elements cannot be converted to Scalar", lambda: tg.ones(2).item())
    raises("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.",
           lambda: x.numpy())
    assert tg.tensor([[1, 2]]).tolist() == [[1, 2]]
    a = np.arange(3.0)
    t = tg.from_numpy(a)
    a[0] = 7.0
    assert t[0].item() == 7.0 and t.dtype is tg.float64


@pytest.mark.parametrize("grad_mode", [True, False])
@pytest.mark.parametrize("call", ["numpy", "asarray", "asarray_f64", "linspace", "nested"])
def test_numpy_of_a_tensor_that_requires_grad_as_torch(grad_mode, call):
    """torch refuses numpy() (and np.asarray, which calls it) of a tensor that requires grad
    only while grad mode is on: a custom Function's forward, under no_grad, may call it."""
    torch = pytest.importorskip("torch")

    def run(m):
        x = m.tensor([1.5, -2.0], requires_grad=True)
        calls = {"numpy": lambda: x.numpy().tolist(),
                 "asarray": lambda: np.asarray(x).tolist(),
                 "asarray_f64": lambda: np.asarray(x, dtype=np.float64).tolist(),
                 "linspace": lambda: m.linspace(0, x[0], 3).tolist(),
                 "nested": lambda: m.tensor([[1.0, x[1]]]).tolist()}
        with m.set_grad_enabled(grad_mode):
            try:
                return calls[call]()
            except RuntimeError as e:
                return str(e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run(tg) == run(torch)


def test_type_promotion():
    f32, f64 = tg.ones(2), tg.ones(2, dtype=tg.float64)
    assert (f32 * f64).dtype is tg.float64
    assert (f32 * tg.tensor(2.0, dtype=tg.float64)).dtype is tg.float32  # 0-d loses to dims
    assert (tg.tensor([1, 2]) * 2.5).dtype is tg.float32
    assert (tg.tensor([1, 2]) * 2).dtype is tg.int64
    assert (tg.tensor([1, 2]) / 2).dtype is tg.float32
    assert (tg.tensor(1.0) * tg.tensor(2.0, dtype=tg.float64)).dtype is tg.float64


# ---- in-place updates (the SGD idiom) ----------------------------------------------------------
def test_inplace_update_under_no_grad_keeps_the_leaf():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    s = tg.tensor(3.0, requires_grad=True)
    ((w * w).sum() * s).backward()
    wid = id(w)
    with tg.no_grad():
        w -= 0.1 * w.grad
        s.sub_(s.grad, alpha=0.5)
    assert id(w) == wid and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.detach().numpy(), [1.0 - 0.6, 2.0 - 1.2], rtol=1e-6)
    assert s.item() == pytest.approx(3.0 - 0.5 * 5.0)
    raises("a leaf Variable that requires grad is being used in an in-place operation.",
           lambda: w.add_(1.0))


def test_inplace_on_plain_tensors_and_aliases():
    a = tg.zeros(3)
    d = a.data
    a += 2
    a.mul_(tg.tensor([1.0, 2.0, 3.0]))
    assert d.tolist() == [2.0, 4.0, 6.0]
    a.copy_(tg.ones(3))
    assert a.tolist() == [1.0, 1.0, 1.0]
    i = tg.tensor([1, 2])
    raises("result type Float can't be cast to the desired output type Long", lambda: i.add_(0.5))
    raises("output with shape [3] doesn't match the broadcast shape [2, 3]",
           lambda: a.add_(tg.ones(2, 3)))


def test_autograd_graph_node_is_every_grad_fns_base():
    """`torch.autograd.graph.Node` is the public base class of grad_fn objects."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    assert isinstance(y.grad_fn, tg.autograd.graph.Node)
    assert isinstance(y.grad_fn.next_functions[0][0], tg.autograd.graph.Node)
    assert not isinstance(x, tg.autograd.graph.Node)


def test_backward_create_graph_warns_once_as_torch():
    """torch's engine warns, once per process, that backward(create_graph=True) makes a
    reference cycle through .grad (autograd.grad does not warn)."""
    pytest.importorskip("torch")
    from tapegrad import errors
    errors._WARNED.discard(errors.CREATE_GRAPH_CYCLE)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        tg.autograd.grad((x * x).sum(), x, create_graph=True)
        (x * x).sum().backward(create_graph=True)
        (x * x).sum().backward(create_graph=True)
    got = [str(w.message) for w in ws]
    assert got == [errors.CREATE_GRAPH_CYCLE]
    assert all(w.category is UserWarning for w in ws)
    code = ("import warnings, torch\nwarnings.simplefilter('always')\n"
            "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
            "with warnings.catch_warnings(record=True) as ws:\n"
            "    warnings.simplefilter('always')\n"
            "    (x * x).sum().backward(create_graph=True)\n"
            "print(str(ws[0].message))")
    want = fresh.run(code).stdout
    assert want.startswith(errors.CREATE_GRAPH_CYCLE)


def test_grad_with_batched_grad_outputs():
    """grad(is_grads_batched=True): dim 0 of each grad_output is a batch; one gradient per
    element, stacked (torch vmaps its backward: the same values), create_graph included; the
    graph is freed after the last element unless retain_graph."""
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y, z = x ** 2, x.sin()
    v = tg.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    g, = tg.autograd.grad((y, z), x, (v, 2 * v), is_grads_batched=True, create_graph=True)
    want = np.stack([row * (2 * np.array([1.0, 2.0, 3.0]) + 2 * np.cos([1.0, 2.0, 3.0]))
                     for row in v.numpy()])
    np.testing.assert_allclose(g.detach().numpy(), want, rtol=1e-6)
    h, = tg.autograd.grad(g.sum(), x)      # differentiable again
    np.testing.assert_allclose(h.numpy(), (2 - 2 * np.sin([1.0, 2.0, 3.0])) * [1, 1, 2],
                               rtol=1e-6)
    y = x ** 2
    tg.autograd.grad(y, x, v, is_grads_batched=True)
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        tg.autograd.grad((x ** 2, x * 2), x, (v, tg.ones(2, 3)), is_grads_batched=True)


@pytest.mark.parametrize("go_shape", [(3,), (3, 3), (3, 2, 1), (3, 4)])
def test_batched_grad_output_of_another_shape_raises_as_torch(go_shape):
    torch = pytest.importorskip("torch")

    def run(m):
        x = m.ones(2, requires_grad=True)
        try:
            m.autograd.grad(x * 2, x, m.ones(*go_shape), is_grads_batched=True)
        except RuntimeError as e:
            return str(e).replace("tapegrad.", "torch.")
    assert run(tg) == run(torch) is not None


def _batched_unused(m):
    """is_grads_batched with an input the outputs do not use: torch materializes its zeros
    after the batched backward (the input's shape, no batch dim), requires_grad under
    create_graph; materialize_grads with allow_unused=False is refused first."""
    x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    z = m.tensor([1.0, 2.0], requires_grad=True)
    out = []
    for kw in ({"materialize_grads": True}, {"materialize_grads": True, "create_graph": True},
               {"allow_unused": True}):
        got = m.autograd.grad(x ** 3, [x, z], m.eye(3), is_grads_batched=True, **kw)
        out.append([None if g is None else (g.tolist(), g.requires_grad) for g in got])
    try:
        m.autograd.grad(x ** 3, [x, z], m.ones(2), is_grads_batched=True,
                        materialize_grads=True, allow_unused=False)
    except ValueError as e:
        out.append(str(e))
    return out


def test_batched_grad_of_an_unused_input_as_torch(torch_ref):
    # its materialized zeros had the batch dim; the ValueError came after the shape check
    assert _batched_unused(tg) == _batched_unused(torch_ref)


def test_accumulating_into_an_expanded_grad_raises_torchs_error_and_commits_nothing():
    # it raised numpy's "output array is read-only" inside the commit, after other .grads
    # were already written
    x, w = tg.ones(3, requires_grad=True), tg.ones(2, requires_grad=True)
    x.grad = tg.zeros(1).expand(3)
    w.grad = tg.ones(2)
    loss = (x * 3).sum() + (w * 2).sum()
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor "
                                           "refers to a single memory location"):
        loss.backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0] and w.grad.tolist() == [1.0, 1.0]


def test_a_first_grad_under_create_graph_is_torchs_copy():
    torch = pytest.importorskip("torch")
    out = []
    for m in (tg, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (x * x * x).sum().backward(create_graph=True)
        fn = x.grad.grad_fn
        out.append((type(fn).__name__, [None if f is None else type(f).__name__
                                        for f, _ in fn.next_functions],
                    m.autograd.grad(x.grad.sum(), x)[0].tolist()))
    assert out[0] == out[1]


def _needs_seen(lib, should_compute=None):
    """What a Function's backward sees in each kind of backward: ctx.needs_input_grad (and
    with `should_compute`, which gradients that backward needs)."""
    seen = []

    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, c):
            return a * b * c

        @staticmethod
        def backward(ctx, g):
            needed = None if should_compute is None else \
                tuple(should_compute(ctx, i) for i in range(3))
            seen.append((tuple(ctx.needs_input_grad), needed))
            return g, g, None

    x = lib.tensor(1.0, requires_grad=True)
    y = lib.tensor(2.0, requires_grad=True)
    z = lib.tensor(3.0)
    F.apply(x, y * 1.0, z).backward()
    lib.autograd.grad(F.apply(x, y * 1.0, z), [y])
    F.apply(x, y * 1.0, z).backward(inputs=[x])
    lib.autograd.grad(F.apply(x, y * 1.0, z), [x, y], create_graph=True)
    lib.autograd.grad(F.apply(x, y * 1.0, z), [y], create_graph=True)
    return seen


def test_function_backward_knows_the_gradients_a_backward_needs():
    # torch's native nodes compute only the gradients a backward needs (with inputs: those
    # leading to them); pyfunc.should_compute_output tells tapegrad's Functions that stand for
    # such nodes (igamma's), while a custom Function's needs_input_grad stays requires_grad
    static = (True, True, False)
    assert _needs_seen(tg, pyfunc.should_compute_output) == [
        (static, static), (static, (False, True, False)), (static, (True, False, False)),
        (static, static), (static, (False, True, False))]
    torch = pytest.importorskip("torch")
    assert [s for s, _ in _needs_seen(torch)] == [static] * 5


# nodes of torch's own ops that tapegrad makes with custom Functions: shown as torch's C++
# nodes, `<Name object at ...>` (a custom Function's node names its module)
FUNCTION_MADE_NODES = {
    "NotImplemented": lambda m, p: m.bernoulli(p, 0.5),
    "NotImplemented ": lambda m, p: m.bincount(m.tensor([0, 1]), weights=p),
    "StandardGammaBackward0": lambda m, p: m._standard_gamma(p),
    "IgammaBackward0": lambda m, p: m.special.gammainc(p, m.tensor([1.0, 2.0])),
    "IgammacBackward0": lambda m, p: m.igammac(p, m.tensor([1.0, 2.0])),
    "LinalgSvdBackward0": lambda m, p: m.linalg.svd(m.diag(p))[1],
    "LinalgEighBackward0": lambda m, p: m.linalg.eigh(m.diag(p))[0],
    "LinalgQrBackward0": lambda m, p: m.linalg.qr(m.diag(p))[1],
}


@pytest.mark.parametrize("name", sorted(FUNCTION_MADE_NODES))
def test_function_made_nodes_show_as_torch_nodes(name):
    def shown(m):
        m.manual_seed(0)
        fn = FUNCTION_MADE_NODES[name](m, m.tensor([0.2, 0.6], requires_grad=True)).grad_fn
        return repr(fn).split(" at 0x")[0], type(fn).__name__, type(fn).__qualname__, fn.name()
    ours = shown(tg)
    assert ours[:3] == (f"<{name.strip()} object", name.strip(), name.strip())
    torch = pytest.importorskip("torch")
    assert ours == shown(torch)


def _multithreading(m):
    """set_multithreading_enabled as function, context and decorator, and torch's module
    paths autograd.grad_mode / autograd.anomaly_mode."""
    import importlib
    A = m.autograd
    out = [A.is_multithreading_enabled()]
    with A.set_multithreading_enabled(False):
        out.append(A.is_multithreading_enabled())
    out.append(A.is_multithreading_enabled())
    A.set_multithreading_enabled(False)
    out.append(A.is_multithreading_enabled())
    A.set_multithreading_enabled(True)
    try:
        A.set_multithreading_enabled(1)
    except TypeError as e:
        out.append(str(e))

    @A.set_multithreading_enabled(False)
    def f():
        return A.is_multithreading_enabled()
    out += [f(), A.is_multithreading_enabled()]
    A.set_multithreading_enabled(True)
    grad_mode = importlib.import_module(m.__name__ + ".autograd.grad_mode")
    anomaly_mode = importlib.import_module(m.__name__ + ".autograd.anomaly_mode")
    out += [grad_mode.no_grad is m.no_grad, grad_mode.set_grad_enabled is m.set_grad_enabled,
            grad_mode.inference_mode is m.inference_mode,
            anomaly_mode.detect_anomaly is A.detect_anomaly]
    return out


def test_multithreading_switch_and_grad_mode_modules_as_torch(torch_ref):
    # AttributeError / ModuleNotFoundError before
    assert _multithreading(tg) == _multithreading(torch_ref)


def _anomaly_switches(m):
    """set_detect_anomaly / set_anomaly_enabled / detect_anomaly with arguments that are not
    bools: torch's parser error of set_anomaly_enabled (which all three call)."""
    out = []
    for call in (lambda: m.autograd.set_detect_anomaly(1),
                 lambda: m.autograd.set_detect_anomaly(True, check_nan=1),
                 lambda: m.set_anomaly_enabled(None), lambda: m.set_anomaly_enabled(True, "x"),
                 lambda: m.autograd.detect_anomaly(check_nan=1).__enter__()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # (detect_anomaly's "has been enabled")
                call()
        except TypeError as e:
            out.append(str(e))
        out.append(m.is_anomaly_enabled())
    m.set_anomaly_enabled(True, False)
    out.append((m.is_anomaly_enabled(), m.is_anomaly_check_nan_enabled()))
    m.set_anomaly_enabled(False)
    out.append((m.is_anomaly_enabled(), m.is_anomaly_check_nan_enabled()))
    return out


def test_anomaly_switches_check_their_arguments_as_torch(torch_ref):
    """tapegrad had no torch.set_anomaly_enabled, said `set_detect_anomaly(): argument
    'mode'` and took a check_nan that is not a bool."""
    assert _anomaly_switches(tg) == _anomaly_switches(torch_ref)


def _grad_mode_reprs(m):
    """The grad-mode objects' reprs and module path, as a REPL shows them
    (`torch.set_grad_enabled(False)` at the prompt prints its repr)."""
    name = m.__name__
    out = []
    try:
        s = m.set_grad_enabled(False)
        out += [repr(s).replace(name, "torch", 1), str(s).replace(name, "torch", 1), s.mode,
                s.prev, repr(s.clone()).replace(name, "torch", 1)]
    finally:
        m.set_grad_enabled(True)
    with m.set_grad_enabled(False) as entered:
        out.append(entered)
    for cls in (m.no_grad, m.enable_grad, m.set_grad_enabled, m.inference_mode,
                m.autograd.set_multithreading_enabled):
        out.append(cls.__module__.replace(name, "torch", 1))
    out.append(repr(m.no_grad()).split(" object at")[0].replace(name, "torch", 1))
    return out


def test_grad_mode_objects_repr_as_torch(torch_ref):
    """torch's set_grad_enabled shows `torch.autograd.grad_mode.set_grad_enabled(mode=False)`
    and keeps `mode`/`prev`; the classes live in torch.autograd.grad_mode.  tapegrad showed
    `<tapegrad.grad_mode.set_grad_enabled object at 0x...>` and had no `mode`/`prev`."""
    assert _grad_mode_reprs(tg) == _grad_mode_reprs(torch_ref)


def _create_graph_under(m, mode):
    """create_graph=True inside no_grad / inference_mode: torch's engine runs the backward
    with grad mode on, so under no_grad the gradients have history (not under
    inference_mode)."""
    out = []
    x = m.tensor([1.0, 2.0], requires_grad=True)
    y = (x ** 3).sum()
    with (m.no_grad() if mode == "no_grad" else m.inference_mode()):
        g, = m.autograd.grad(y, x, create_graph=True)
        y.backward(create_graph=True)
        out.append(m.is_grad_enabled())
    out += [g.requires_grad, x.grad.requires_grad, g.tolist()]
    if g.requires_grad:
        out.append(m.autograd.grad(g.sum(), x)[0].tolist())
    return out


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_create_graph_under_no_grad_as_torch(torch_ref, mode):
    # under no_grad the gradients came without history
    assert _create_graph_under(tg, mode) == _create_graph_under(torch_ref, mode)


@pytest.mark.parametrize("call", [
    lambda m, x: m.autograd.grad(None, x),
    lambda m, x: m.autograd.grad(None, x, allow_unused=True),
    lambda m, x: m.autograd.backward(None),
    lambda m, x: m.autograd.grad((x * 2).sum(), None),
])
def test_none_for_outputs_or_inputs_as_torch(call):
    # (None as outputs was taken as no outputs: an unused input, or nothing to do)
    torch = pytest.importorskip("torch")

    def err(m):
        try:
            call(m, m.ones(2, requires_grad=True))
        except Exception as e:   # noqa: BLE001 - compared
            return type(e).__name__, str(e)
        return None
    assert err(tg) == err(torch) is not None
