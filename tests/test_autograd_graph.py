"""torch.autograd.graph's edges and multi-grad hooks on tapegrad, against torch:
`register_multi_grad_hook` (modes "all" and "any": which gradients arrive, when the hook
runs, per backward), `get_gradient_edge` / `GradientEdge` as inputs and outputs of
autograd.grad and backward, and their errors."""
import warnings

import numpy as np
import pytest

import tapegrad

torch = pytest.importorskip("torch")

A = np.linspace(0.5, 1.5, 6).reshape(2, 3)
B = np.linspace(-1.0, 1.0, 6).reshape(2, 3)


def _arrived(m, call, mode="all"):
    """What a multi-grad hook on (a, b, c, d) saw in `call(m, a, b, c, d)`: per run of the
    hook, which gradients were given (mode "all") or the gradient (mode "any"); an error's
    type and message instead of the log when the call raised."""
    a = m.tensor(A, requires_grad=True)
    b = m.tensor(B, requires_grad=True)
    c, d = a * b, a * b
    log = []

    def fn(grads):
        if mode == "all":
            log.append([None if g is None else g.detach().numpy().round(12).tolist()
                        for g in grads])
        else:
            log.append(grads.detach().numpy().round(12).tolist())
    handle = m.autograd.graph.register_multi_grad_hook((a, b, c, d), fn, mode=mode)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call(m, a, b, c, d)
    except RuntimeError as err:
        return type(err).__name__, str(err)
    finally:
        handle.remove()
    call_after = len(log)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (a * b).sum().backward()   # removed: not called again
    except RuntimeError:
        pass
    assert len(log) == call_after
    return log


CALLS = {
    "backward": lambda m, a, b, c, d: c.sum().backward(),
    "backward inputs leaf": lambda m, a, b, c, d: c.sum().backward(inputs=(a,)),
    "backward inputs nonleaf": lambda m, a, b, c, d: (c * c).sum().backward(inputs=[c]),
    "grad of a leaf": lambda m, a, b, c, d: m.autograd.grad(c.sum(), (a,)),
    "grad of a non-leaf": lambda m, a, b, c, d: m.autograd.grad(c.sum(), (c,)),
    "grad of both": lambda m, a, b, c, d: m.autograd.grad(c.sum(), (a, c)),
    "two roots": lambda m, a, b, c, d: (c.sum() + d.sum()).backward(),
    "twice": lambda m, a, b, c, d: (c.sum().backward(retain_graph=True), c.sum().backward()),
    "the other": lambda m, a, b, c, d: (d * 3).sum().backward(),
    "create_graph": lambda m, a, b, c, d: (c * c).sum().backward(create_graph=True),
    "grad create_graph": lambda m, a, b, c, d: m.autograd.grad((c * c).sum(), (c,),
                                                               create_graph=True),
    "unreached": lambda m, a, b, c, d: (a * 2).sum().backward(),
    "root is a hooked tensor": lambda m, a, b, c, d: c.backward(m.ones(2, 3)),
    "one of two roots hooked": lambda m, a, b, c, d: m.autograd.backward(
        [c, (a * 3).sum()], [m.ones(2, 3), None]),
    "nothing": lambda m, a, b, c, d: None,
}


@pytest.mark.parametrize("mode", ["all", "any"])
@pytest.mark.parametrize("name", list(CALLS))
def test_multi_grad_hook_as_torch(name, mode):
    assert _arrived(tapegrad, CALLS[name], mode) == _arrived(torch, CALLS[name], mode)


def _across_tapes(m):
    """A graph spanning tapes: a backward seals y's tape, so z's ops go to a new one that
    imports y; the hook waits for the gradients on both."""
    x = m.tensor([0.5, 1.5], requires_grad=True)
    y = x + 2                  # (saves nothing: a second backward through it is allowed)
    y.sum().backward()
    z = y * 3
    w = z.tanh()
    if m is tapegrad:
        assert z._tape is not y._tape
    got = []
    m.autograd.graph.register_multi_grad_hook((x, y, z, w), lambda gs: got.append(
        [g.numpy().round(12).tolist() for g in gs]))
    w.sum().backward()
    return got, x.grad.numpy().round(12).tolist()


def test_multi_grad_hook_across_tapes():
    assert _across_tapes(tapegrad) == _across_tapes(torch)


def test_multi_grad_hook_errors():
    for m in (tapegrad, torch):
        a = m.tensor([1.0], requires_grad=True)
        with pytest.raises(ValueError, match=r"Expects mode to be one of \('all', 'any'\) but "
                                             r"got x"):
            m.autograd.graph.register_multi_grad_hook((a,), print, mode="x")
        with pytest.raises(AssertionError, match="Expected gradient function to be set"):
            m.autograd.graph.register_multi_grad_hook((a, m.tensor([2.0])), print)
        # mode "any" skips tensors that need no gradient
        m.autograd.graph.register_multi_grad_hook((a, m.tensor([2.0])), print, mode="any")


def _edges(m):
    ge = m.autograd.graph.get_gradient_edge
    a = m.tensor([1.0, 2.0], requires_grad=True)
    y = a * 2
    z = (y * 3).sum()
    e = ge(y)
    out = [e.output_nr, e.node.name(), ge(a).node.name(), ge(a).node.variable is a,
           type(e).__name__, len(e), e.ownership_token, ge(a) == ge(a), e.node is y.grad_fn]
    out += [g.numpy().tolist() for g in m.autograd.grad(z, [e, a], retain_graph=True)]
    y.mul_(1)                  # the edge is the node, not the tensor's current version
    out += [g.numpy().tolist() for g in m.autograd.grad(z, e, retain_graph=True)]
    z.backward(inputs=[e, a])  # an edge takes part, accumulates nowhere
    out.append(a.grad.numpy().tolist())
    w = a * 3
    out += [g.numpy().tolist() for g in m.autograd.grad(ge(w), a, grad_outputs=m.ones(2))]
    u = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True).split(2)
    out += [ge(u[1]).output_nr, ge(u[1]).node.name()]
    out += [g.numpy().tolist() for g in m.autograd.grad(u[0].sum() + u[1].sum() * 2,
                                                        [ge(u[1]), ge(u[0])])]
    s = (a * 2).sum()
    out += [g.numpy().tolist() for g in m.autograd.grad(s, ge(s))]
    errors = []
    for bad in (lambda: ge(m.tensor([1.0])), lambda: m.autograd.grad(ge(a * 3), a)):
        try:
            bad()
        except RuntimeError as err:
            errors.append(str(err))
    return out, errors


def test_gradient_edges_as_torch():
    assert _edges(tapegrad) == _edges(torch)


def test_no_multi_hook_no_task():
    """Until a multi-grad hook exists a backward makes no Task: its per-call cost stays."""
    from tapegrad import hooks
    a = tapegrad.tensor([1.0], requires_grad=True)
    (a * 2).sum().backward()
    assert hooks.current_task() is None


def _metadata(m):
    """A grad_fn's `metadata` dict is the node's: what is put in it stays, also when the
    grad_fn object asked for first is gone, and hooks see it."""
    a = m.tensor(A, requires_grad=True)
    y = (a * 2).sin()
    y.grad_fn.metadata["tag"] = 1
    y.grad_fn.next_functions[0][0].metadata["inner"] = [2]
    acc = y.grad_fn.next_functions[0][0].next_functions[0][0]
    acc.metadata["leaf"] = 3
    seen = []
    y.grad_fn.register_prehook(lambda go: seen.append(dict(y.grad_fn.metadata)))
    y.sum().backward()
    fresh = m.tensor(B, requires_grad=True)
    edge = m.autograd.graph.get_gradient_edge(fresh).node
    edge.metadata["e"] = 4
    return (dict(y.grad_fn.metadata), y.grad_fn.next_functions[0][0].metadata,
            acc.metadata, seen, m.autograd.graph.get_gradient_edge(fresh).node.metadata)


def test_node_metadata_is_kept_as_torch():
    # a fresh {} was returned on every access
    assert _metadata(tapegrad) == _metadata(torch)


def _sequence_nrs(m):
    """Node._sequence_nr(): ints in creation order (across a backward that starts another
    graph, and a custom Function's node), AccumulateGrad's the largest (UINT64_MAX)."""
    class Same(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1

        @staticmethod
        def backward(ctx, g):
            return g
    x = m.ones(2, requires_grad=True)
    y = x * 2
    z = y.sin()
    w = Same.apply(z)
    z.sum().backward()
    v = x * 3
    nrs = [f.grad_fn._sequence_nr() for f in (y, z, w, v)]
    acc = y.grad_fn.next_functions[0][0]._sequence_nr()
    return ([type(k).__name__ for k in nrs], nrs == sorted(nrs), len(set(nrs)), acc,
            m.autograd.graph.get_gradient_edge(x).node._sequence_nr())


def test_node_sequence_nr_as_torch():
    assert _sequence_nrs(tapegrad) == _sequence_nrs(torch)


def _leaf_edge_node(m):
    """A leaf's gradient edge leads to its AccumulateGrad, by class name too (before any op
    used the leaf, and after)."""
    x = m.ones(2, requires_grad=True)
    before = m.autograd.graph.get_gradient_edge(x).node
    y = x * 2
    after = m.autograd.graph.get_gradient_edge(x).node
    return [(type(n).__name__, n.name(), isinstance(n, m.autograd.graph.Node),
             n.variable is x, n.next_functions) for n in (before, after)] + [
        type(y.grad_fn.next_functions[0][0]).__name__]


def test_leaf_edge_node_class_as_torch():
    # the class was named LeafAccumulateGrad
    assert _leaf_edge_node(tapegrad) == _leaf_edge_node(torch)


GRAD_FN_CLASSES = {
    "sum": lambda m, x: x.sum(),
    "mul": lambda m, x: x * 2,
    "view": lambda m, x: x.view(6),
    "mean dim": lambda m, x: x.mean(0),
    "leaf": lambda m, x: x.sum().grad_fn.next_functions[0][0],
    "copy slices": lambda m, x: _written(x),
    "relu": lambda m, x: m.nn.functional.relu(x),
}


def _written(x):
    y = x.clone()
    y[0] = 1.0
    return y


@pytest.mark.parametrize("name", sorted(GRAD_FN_CLASSES))
def test_grad_fn_class_module_and_name_as_torch(name):
    # torch's node classes are C++ types: type(fn).__module__ is "builtins" (tapegrad's
    # said tapegrad.graph / tapegrad.copyslices)
    def shown(m):
        x = m.ones(2, 3, requires_grad=True)
        y = GRAD_FN_CLASSES[name](m, x)
        fn = getattr(y, "grad_fn", y)
        return type(fn).__module__, type(fn).__qualname__, type(fn).__name__
    assert shown(tapegrad) == shown(torch)


def _outputs_of_several(m):
    """output_nr of results that are one output of torch's node of several (slogdet's sign 0
    and logabsdet 1, svdvals' S 1 of LinalgSvdBackward0, eigvalsh's eigenvalues 0), as
    their consumers' next_functions list them, and their GradientEdges as autograd.grad
    inputs."""
    a = m.tensor([[2.0, 1.0], [0.5, 3.0]], requires_grad=True)
    s, logabs = m.linalg.slogdet(a * 1)
    sv = m.linalg.svdvals(a)
    w = m.linalg.eigvalsh(a + a.T)
    out = []
    for t in (s, logabs, sv, w):
        edge = m.autograd.graph.get_gradient_edge(t)
        out += [t.output_nr, (t * 2).grad_fn.next_functions[0][1], edge.output_nr,
                m.autograd.grad((t * 3).sum(), edge)[0].numpy().tolist()]
    return out


def test_output_nr_of_one_output_of_a_node_of_several_as_torch():
    # (logabsdet and svdvals' S showed output_nr 0: a consumer listed (node, 0))
    assert _outputs_of_several(tapegrad) == _outputs_of_several(torch)
