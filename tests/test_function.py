"""Custom autograd Functions (`tapegrad.autograd.Function`, issue #10 section 2), each behaviour
run the same way with tapegrad and with torch 2.13 and compared: values, gradients, what
forward/backward see (grad mode, needs_input_grad, the gradients handed in), grad_fn names
and next_functions, torch's errors, lifetimes of saved tensors, double backward,
once_differentiable, mark_dirty/mark_non_differentiable/set_materialize_grads, the
setup_context style, failure atomicity and replay's refusal."""
import gc
import json
import warnings
import weakref

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import pyfunc
from tapegrad.autograd.function import BackwardCFunction, Function, FunctionCtx

torch = pytest.importorskip("torch")
MODS = (tg, torch)


def _np(t):
    if t is None:
        return None
    return t.detach().numpy().copy() if hasattr(t, "detach") else np.asarray(t)


def _err(fn):
    """(type name, message with the library's name taken out) of what fn() raises."""
    try:
        fn()
    except Exception as e:   # noqa: BLE001 - compared below
        return type(e).__name__, str(e).replace("tapegrad.", "").replace("torch.", "")
    return None


def _same(a, b):
    """Compare two results structurally (arrays by value)."""
    a, b = (_np(v) if hasattr(v, "detach") else v for v in (a, b))
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                   rtol=1e-6, atol=1e-7)
        assert np.asarray(a).shape == np.asarray(b).shape
    else:
        assert a == b, (a, b)


def both(run):
    """run(m) with tapegrad and torch, results compared."""
    LOG.clear()
    got = run(tg)
    LOG.clear()
    _same(got, run(torch))


def fns(m):
    """The Functions of these tests, on module m's autograd.Function."""
    F = m.autograd.Function

    class Lin(F):   # x * k + y, k a Python number
        @staticmethod
        def forward(ctx, x, k, y):
            ctx.log = [("fwd", m.is_grad_enabled(), ctx.needs_input_grad)]
            ctx.save_for_backward(x, y)
            ctx.k = k
            return x * k + y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            LOG.append(("bwd", m.is_grad_enabled(), tuple(g.shape)))
            return g * ctx.k, None, g * x

    class Sq(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            LOG.append(("sq", m.is_grad_enabled()))
            return 2 * x * g

    class SqOnce(Sq):
        @staticmethod
        @m.autograd.function.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            LOG.append(("once", m.is_grad_enabled(), g.requires_grad))
            return 2 * x * g

    class NoSave(F):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Three(F):   # (x*2, a Python number, x*3, integer positions)
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            idx = m.arange(3)
            ctx.mark_non_differentiable(idx)
            return x * 2, 5, x * 3, idx

        @staticmethod
        def backward(ctx, ga, gn, gb, gi):
            LOG.append(("three",) + tuple(None if g is None else (tuple(g.shape), str(g.dtype)
                                                                    .split(".")[-1], _np(g))
                                          for g in (ga, gn, gb, gi)))
            out = ga * 2 if ga is not None else None
            if gb is not None:
                out = gb * 3 if out is None else out + gb * 3
            return out, None

    class Pair(F):   # gradients for x only (None for y)
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g, None

    class Returns(F):   # backward returns what ctx.result says
        @staticmethod
        def forward(ctx, x, k, result):
            ctx.result = result
            return x * k

        @staticmethod
        def backward(ctx, g):
            return ctx.result(g)

    class Ident(F):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    class Dirty(F):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Non(F):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.mark_non_differentiable(y)
            return y

        @staticmethod
        def backward(ctx, g):
            return g

    class Raise(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            if FAIL:
                raise ValueError("boom")
            x, = ctx.saved_tensors
            return g * x

    class SetupCtx(F):
        @staticmethod
        def forward(x, k):
            LOG.append(("sc-fwd", m.is_grad_enabled()))
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, k = inputs
            LOG.append(("setup", m.is_grad_enabled(), ctx.needs_input_grad, tuple(output.shape)))
            ctx.save_for_backward(x)
            ctx.k = k

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * ctx.k * x, None

    class Kw(F):
        @staticmethod
        def forward(ctx, x, k=2.0):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 7, None

    class SumTo(F):   # the gradient comes back broadcast: torch sums it to the input's shape
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.expand(2, 3)

    class Cube(F):   # third derivatives through a backward written with ops
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x * x * g

    return {k: v for k, v in locals().items() if isinstance(v, type)}


LOG = []
FAIL = False


@pytest.fixture(autouse=True)
def _clean_log():
    global FAIL
    LOG.clear()
    FAIL = False
    yield
    LOG.clear()


def _x(m, vals=(0.5, -1.5, 2.0), rg=True, dtype="float64"):
    return m.tensor(np.array(vals, dtype=dtype), requires_grad=rg)


def _fn_names(fn, depth=2):
    """grad_fn as (name, [next_functions' names, recursively], output_nr's)."""
    if fn is None:
        return None
    if depth == 0:
        return type(fn).__name__
    return (type(fn).__name__, [(_fn_names(f, depth - 1), k) for f, k in fn.next_functions])


# ---- basics: values, gradients, grad modes, needs_input_grad, grad_fn ------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_backward_grad_modes_and_grad_fn(dtype):
    def run(m):
        F = fns(m)
        x, y = _x(m, dtype=dtype), _x(m, (1.0, 2.0, 3.0), dtype=dtype)
        z = F["Lin"].apply(x, 2.0, y)
        out = [_np(z), z.requires_grad, z.is_leaf, z.output_nr, type(z.grad_fn).__name__,
               _fn_names(z.grad_fn), z.grad_fn.log, str(z.dtype).split(".")[-1]]
        z.sum().backward()
        out += [_np(x.grad), y.grad, list(LOG)]
        y2 = _x(m, (1.0, 2.0, 3.0), dtype=dtype)
        z2 = F["Lin"].apply(x.detach(), 3.0, y2)
        out += [_fn_names(z2.grad_fn), z2.grad_fn.needs_input_grad]
        (z2 * z2).sum().backward()
        out.append(_np(y2.grad))
        return out
    both(run)


@pytest.mark.parametrize("where", ["forward", "setup_context", "backward", "prehook"])
@pytest.mark.parametrize("mode", [True, False])
@pytest.mark.parametrize("fail", [False, True])
def test_grad_mode_switched_inside_a_function_is_restored_as_torch(where, mode, fail):
    # apply and backward switch grad mode off around forward (setup_context), the node's
    # hooks and backward (grad_mode.call_with_grad): a switch made inside, left behind or cut
    # short by an exception, is undone, and ops outside record (or not) as before
    def run(m):
        F = m.autograd.Function

        def switch(tag):
            LOG.append((tag, m.is_grad_enabled()))
            if where == tag:
                m.set_grad_enabled(mode)
                if fail:
                    raise ValueError(tag)

        class Fn(F):
            @staticmethod
            def forward(x):
                switch("forward")
                return x * 3

            @staticmethod
            def setup_context(ctx, inputs, output):
                switch("setup_context")

            @staticmethod
            def backward(ctx, g):
                switch("backward")
                LOG.append(("bwd-end", m.is_grad_enabled()))
                return g * 3

        out = []
        for outer in (True, False):
            x = m.tensor([1.0, 2.0], requires_grad=True)
            with m.set_grad_enabled(outer):
                try:
                    y = Fn.apply(x)
                    if where == "prehook" and outer:
                        y.grad_fn.register_prehook(lambda go: switch("prehook"))
                    if outer:
                        y.sum().backward()
                except ValueError as e:
                    out.append(str(e))
                z = x * 2
                out += [m.is_grad_enabled(), z.requires_grad, _np(x.grad)]
        return out + list(LOG)
    both(run)


def test_ctx_is_the_grad_fn_and_its_classes():
    F = fns(tg)
    x = _x(tg)
    z = F["Sq"].apply(x)
    ctx = z.grad_fn
    assert isinstance(ctx, BackwardCFunction) and isinstance(ctx, FunctionCtx)
    assert isinstance(ctx, tg.autograd.graph.Node)
    assert type(ctx) is F["Sq"]._backward_cls and type(ctx)._forward_cls is F["Sq"]
    assert type(ctx).__name__ == "SqBackward" and ctx.name() == "SqBackward"
    assert issubclass(Function, FunctionCtx)
    assert tg.autograd.Function is Function
    assert ctx.saved_tensors[0] is x and ctx.needs_input_grad == (True,)
    np.testing.assert_allclose(ctx.apply(tg.ones(3)).detach().numpy(), 2 * x.detach().numpy())
    assert "grad_fn=<SqBackward>" in repr(z)


def test_scalar_inputs_on_the_fast_path_and_a_graph_around_the_function():
    def run(m):
        F = fns(m)
        s = m.tensor(1.5, requires_grad=True)
        t = m.tensor(-0.5, requires_grad=True)
        u = F["Lin"].apply(s * t + 1.0, 3.0, t.exp())
        v = F["Sq"].apply(u.sin()) * s
        v.backward()
        return [_np(v), _np(s.grad), _np(t.grad)]
    both(run)


def test_several_outputs_non_differentiable_outputs_and_materialized_grads():
    def run(m):
        F = fns(m)
        x = _x(m)
        out = []
        for materialize in (True, False):
            a, n, b, i = F["Three"].apply(x, materialize)
            out += [n, a.output_nr, b.output_nr, i.requires_grad, i.grad_fn is None,
                    a.grad_fn is b.grad_fn, _np(i), str(i.dtype).split('.')[-1]]
            a.sum().backward()
            out.append(_np(x.grad))
            x.grad = None
            (a * b).sum().backward()
            out.append(_np(x.grad))
            x.grad = None
        y = F["Non"].apply(x)
        out += [y.requires_grad, y.grad_fn is None, list(LOG)]
        return out
    both(run)


def test_none_gradients_leave_grad_none_and_count_as_unused():
    def run(m):
        F = fns(m)
        a, b = _x(m), _x(m, (1.0, 2.0, 4.0))
        F["Pair"].apply(a, b).sum().backward()
        out = [_np(a.grad), b.grad]
        out.append(_err(lambda: m.autograd.grad(F["Pair"].apply(a, b).sum(), [b])))
        out.append(m.autograd.grad(F["Pair"].apply(a, b).sum(), [b], allow_unused=True))
        g = m.autograd.grad(F["Pair"].apply(a, b).sum(), [a, b], allow_unused=True)
        out += [_np(g[0]), g[1]]
        return out
    both(run)


def test_forward_under_no_grad_or_without_inputs_that_require_grad():
    def run(m):
        F = fns(m)
        x = _x(m)
        with m.no_grad():
            z = F["Lin"].apply(x, 2.0, x)
        w = F["Lin"].apply(x.detach(), 2.0, x.detach())
        return [z.requires_grad, z.grad_fn is None, z.grad_fn, z.is_leaf, _np(z),
                w.requires_grad, w.grad_fn is None]
    both(run)


# ---- torch's errors -----------------------------------------------------------------------------
RESULTS = {
    "too_few": lambda g: g,
    "too_many": lambda g: (g, None, g),
    "extra_nones": lambda g: (g, None, None, None),
    "not_none_for_number": lambda g: (g, g),
    "wrong_shape": lambda g: (g[:2], None),
    "not_a_tensor": lambda g: (3, None),
    "broadcast": lambda g: (g.expand(4, 3), None),
}


@pytest.mark.parametrize("case", sorted(RESULTS))
def test_bad_gradients_raise_torchs_errors(case):
    def run(m):
        F = fns(m)
        x = _x(m)
        x.grad = m.ones(3, dtype=m.float64)
        err = _err(lambda: F["Returns"].apply(x, 2.0, RESULTS[case]).sum().backward())
        return [err, _np(x.grad)]
    both(run)


def test_wrong_shape_index_counts_tensor_inputs_only_and_sum_to():
    def run(m):
        F = fns(m)
        x = _x(m)

        class Mixed(m.autograd.Function):
            @staticmethod
            def forward(ctx, k, x):
                return x * 2, 5, x * 3

            @staticmethod
            def backward(ctx, ga, gn, gb):
                return None, ga[:2]
        a, n, b = Mixed.apply(2, x)
        out = [_err(lambda: (a + b).sum().backward()), a.output_nr, b.output_nr]
        F["SumTo"].apply(x).sum().backward()
        return out + [_np(x.grad)]
    both(run)


def test_save_for_backward_and_subclass_errors():
    def run(m):
        F = m.autograd.Function

        class SaveBad(F):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x, 3)
                return x * 2

        class NoBackward(F):
            @staticmethod
            def forward(ctx, x):
                return x * 2

        class NoForward(F):
            pass
        x = _x(m)
        return [_err(lambda: SaveBad.apply(x)),
                _err(lambda: NoBackward.apply(x).sum().backward()),
                _err(lambda: NoForward.apply(x))]
    both(run)


def test_legacy_instantiation_warns_and_calling_raises():
    def run(m):
        F = fns(m)
        with pytest.warns(DeprecationWarning, match="should not be instantiated"):
            f = F["Sq"]()
        return _err(lambda: f(_x(m)))
    both(run)


def test_exception_in_backward_propagates_and_commits_nothing():
    def run(m):
        global FAIL
        F = fns(m)
        x = _x(m)
        x.grad = m.ones(3, dtype=m.float64)
        keep = x.grad
        z = (F["Raise"].apply(x) * x).sum()
        FAIL = True
        return [_err(lambda: z.backward()), _np(x.grad), x.grad is keep]
    both(run)


def test_a_retry_after_an_exception_in_backward_works():
    """NOTE: stronger than torch, whose nodes that ran before the failing one have already
    freed their saved tensors (its retry raises "backward through the graph a second time"):
    tapegrad commits nothing before every backward of the call has run."""
    global FAIL
    F = fns(tg)
    x = _x(tg)
    z = (F["Raise"].apply(x) * x).sum()
    FAIL = True
    with pytest.raises(ValueError, match="boom"):
        z.backward()
    assert x.grad is None and z.grad_fn.next_functions[0][0].next_functions[0][0].saved_tensors
    FAIL = False
    z.backward()
    v = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * v + v * v)   # backward says g * x
    with pytest.raises(RuntimeError, match="second time"):
        z.backward()


# ---- lifetimes ---------------------------------------------------------------------------------
def test_saved_tensors_are_freed_by_backward_as_torch():
    def run(m):
        F = fns(m)
        x = _x(m)
        y = F["Sq"].apply(x * 1)
        y.sum().backward(retain_graph=True)
        y.sum().backward()
        out = [_np(x.grad), _err(lambda: y.grad_fn.saved_tensors),
               _err(lambda: y.sum().backward())]
        z = F["NoSave"].apply(x).sum()   # nothing saved: a second backward works
        z.backward()
        z.backward()
        return out + [_np(x.grad)]
    both(run)


def test_grad_with_inputs_frees_only_what_leads_to_them():
    def run(m):
        F = fns(m)
        x, w = _x(m), _x(m, (1.0, 1.0, 1.0))
        y = F["Sq"].apply(x * 1)
        u = F["Sq"].apply(w * 1)
        s = (y + u * y).sum()
        g, = m.autograd.grad(s, [x], retain_graph=False)
        return [_np(g), _np(u.grad_fn.saved_tensors[0]), _err(lambda: y.grad_fn.saved_tensors)]
    both(run)


def test_saved_tensor_changed_in_place_raises_torchs_version_error():
    def run(m):
        F = fns(m)
        x = _x(m)
        w = x * 1
        y = F["Sq"].apply(w)
        w.mul_(2)
        return [_err(lambda: y.sum().backward()), x.grad]
    both(run)


def test_version_error_names_an_inputs_grad_fn_now_and_an_outputs_maker():
    """torch names a changed saved input by its grad_fn after the in-place op (Add,
    CopySlices), a changed saved output by the Function that made it."""
    def run(m):
        F = fns(m)

        class Ex(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, g):
                y, = ctx.saved_tensors
                return y * g

        x = _x(m)
        out = []
        w = x * 1
        y = F["Sq"].apply(w)
        w.add_(1)
        out.append(_err(lambda: y.sum().backward()))
        w = x * 1
        y = F["Sq"].apply(w)
        w[0] = 3.0
        out.append(_err(lambda: y.sum().backward()))
        y = Ex.apply(x * 1)
        y.add_(1)
        out.append(_err(lambda: y.sum().backward()))
        return out + [x.grad]
    both(run)


def test_a_backward_releases_the_tape_and_ctx():
    F = fns(tg)
    x = _x(tg)
    y = F["Sq"].apply(x * 1)
    out_ref = weakref.ref(y.grad_fn.saved_tensors[0])
    tape_ref = weakref.ref(y._tape)
    y.sum().backward()
    assert y.grad_fn.__dict__["_pf_saved"] is None
    del y
    gc.collect()
    assert out_ref() is None and tape_ref() is None


# ---- higher order: create_graph and once_differentiable -----------------------------------------
def test_double_and_third_backward_through_a_backward_written_with_ops():
    def run(m):
        F = fns(m)
        x = _x(m)
        y = F["Cube"].apply(x)
        g, = m.autograd.grad(y.sum(), x, create_graph=True)
        h, = m.autograd.grad(g.sum(), x, create_graph=True)
        k, = m.autograd.grad(h.sum(), x)
        s = m.tensor(0.7, requires_grad=True)
        gs, = m.autograd.grad(F["Sq"].apply(s), s, create_graph=True)
        gs.backward()
        return [_np(g), _np(h), _np(k), g.grad_fn.name(), _np(gs), _np(s.grad), list(LOG)]
    both(run)


def test_once_differentiable():
    def run(m):
        F = fns(m)
        x = _x(m)
        y = F["SqOnce"].apply(x)
        g, = m.autograd.grad(y.sum(), x, create_graph=True)   # the seed needs no grad
        out = [_np(g), g.requires_grad]
        y = F["SqOnce"].apply(x)
        v = m.ones(3, dtype=m.float64, requires_grad=True)
        g, = m.autograd.grad(y, x, grad_outputs=v, create_graph=True)
        out += [_np(g), g.requires_grad, g.grad_fn.name(), _fn_names(g.grad_fn, 1)]
        out.append(_err(lambda: g.sum().backward()))
        out.append(list(LOG))
        return out
    both(run)


def test_gradcheck_and_gradgradcheck():
    F = fns(tg)
    x = _x(tg)
    assert tg.autograd.gradcheck(F["Cube"].apply, (x,))
    assert tg.autograd.gradgradcheck(F["Cube"].apply, (x,))
    J = tg.autograd.functional.jacobian(F["Sq"].apply, x)   # not sweep_rows: it cannot pause
    np.testing.assert_allclose(J.numpy(), np.diag(2 * x.detach().numpy()))


# ---- ctx features: setup_context, mark_dirty, inputs returned, kwargs ---------------------------
def test_setup_context_style_and_keyword_arguments():
    def run(m):
        F = fns(m)
        x = _x(m)
        z = F["SetupCtx"].apply(x, 3.0)
        z.sum().backward()
        out = [_np(z), _np(x.grad), z.grad_fn.name(), list(LOG)]
        x.grad = None
        F["Kw"].apply(x, k=3.0).sum().backward()
        out.append(_np(x.grad))
        out.append(_np(F["Kw"].apply(x)))
        return out
    both(run)


def test_mark_dirty_and_inputs_returned_as_outputs():
    def run(m):
        F = fns(m)
        x = _x(m)
        out = [_err(lambda: F["Dirty"].apply(x))]
        x = _x(m)
        w = x * 1
        r = F["Dirty"].apply(w)
        out += [r is w, w.grad_fn.name(), w._version, _fn_names(w.grad_fn)]
        r.sum().backward()
        out.append(_np(x.grad))
        x.grad = None
        v = F["Ident"].apply(x)
        out += [v is x, v.grad_fn.name(), v.is_leaf]
        v.sum().backward()
        out.append(_np(x.grad))
        return out
    both(run)


def test_same_input_twice_and_function_of_function():
    def run(m):
        F = fns(m)
        x = _x(m)
        z = F["Lin"].apply(x, 2.0, x)
        F["Sq"].apply(F["Sq"].apply(z)).sum().backward()
        return [_np(x.grad), _fn_names(z.grad_fn)]
    both(run)


# ---- the tape: other entries, other tapes, the reached-subgraph sweep, matmul's host entries ----
def test_function_beside_matmul_host_entries_and_dropped_graphs(monkeypatch):
    from tapegrad import engine, reached
    calls = []
    real = engine._sweep_reached
    monkeypatch.setattr(engine, "_sweep_reached", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(reached, "MIN_WALK", 64)   # (the walk from 400 dropped entries on)

    def run(m):
        F = fns(m)
        rng = np.random.default_rng(0)
        W = m.tensor(rng.standard_normal((64, 64)), requires_grad=True)
        X = m.tensor(rng.standard_normal((64, 64)))
        for _ in range(200):   # graphs dropped without backward: the reached part is small
            (W * 2).sum()
        H = F["Sq"].apply(X @ W)
        a, n, b, i = F["Three"].apply(H.sum(0), True)
        ((a * b).sum() + (H @ W).sum()).backward()
        return [_np(W.grad)]
    both(run)
    assert calls == [1]   # the sweep ran on the reached subgraph's local streams


def test_input_from_an_older_frozen_tape():
    def run(m):
        F = fns(m)
        x = _x(m)
        h = x.exp()
        x.sin().sum().backward()    # freezes the tape h lives on (h's entry is not freed)
        y = F["Sq"].apply(h)        # recorded on a new tape, h through an import entry
        y.sum().backward()
        return [_np(x.grad)]
    both(run)


def test_replay_refuses_a_function_with_a_clear_error():
    F = fns(tg)

    def f(x):
        return F["Sq"].apply(x).sum()
    with pytest.raises(tg.errors.TracingError, match="autograd.Function Sq"):
        tg.record(f, _x(tg))


def test_no_function_costs_no_call_into_pyfunc():
    """Without a live Function the engine makes no Python call into pyfunc during a backward
    (one dict check per backward); with one, one host_vjp call per reached Function entry."""
    import sys
    gc.collect()   # Functions of earlier tests (a saved output is a cycle until released)
    assert not pyfunc.LIVE
    calls = []

    def prof(frame, event, arg):
        if event == "call" and frame.f_code.co_filename == pyfunc.__file__:
            calls.append(frame.f_code.co_name)
    x = _x(tg)
    for make in (lambda: (x * x).exp().sum(), lambda: tg.tensor(0.5, requires_grad=True) * 3.0):
        y = make()
        sys.setprofile(prof)
        try:
            y.backward()
        finally:
            sys.setprofile(None)
    assert calls == []
    y = fns(tg)["Sq"].apply(x)
    z = (y * y).sum()
    sys.setprofile(prof)
    try:
        z.backward()
    finally:
        sys.setprofile(None)
    assert calls.count("host_vjp") == 1 and calls.count("release") == 1


def test_vjp_alias_retain_grad_on_outputs_and_mark_dirty_of_a_non_input():
    def run(m):
        class Sq(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 2, x * 3

            @staticmethod
            def vjp(ctx, g, h):
                x, = ctx.saved_tensors
                return 2 * x * g + 3 * h

        class Both(Sq):
            @staticmethod
            def backward(ctx, g, h):
                return g

        class D(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x * 2
                ctx.mark_dirty(y)
                return y

            @staticmethod
            def backward(ctx, g):
                return g
        x = _x(m)
        a, b = Sq.apply(x)
        b.retain_grad()
        (a * b).sum().backward()
        out = [_np(x.grad), _np(b.grad), _err(lambda: Both.apply(x)[0].sum().backward())]
        with pytest.warns(UserWarning, match="not an input"):
            y = D.apply(x)
        return out + [y.grad_fn.name()]
    both(run)


def _dirty_not_returned(m):
    """mark_dirty of a tensor the forward made and did not return: torch's "not returned"
    error whatever the grad mode and inputs (only a returned one that is not an input is a
    warning)."""
    class D(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x.clone())
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g
    out = [_err(lambda: D.apply(_x(m))), _err(lambda: D.apply(m.ones(2)))]
    with m.no_grad():
        out.append(_err(lambda: D.apply(_x(m))))
    return out


def test_mark_dirty_of_a_tensor_not_returned_raises_as_torch():
    """tapegrad warned "not an input" and went on."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # (and no warning first)
        both(_dirty_not_returned)


def _shared_storage(m):
    class F(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.view(-1)
            ctx.mark_shared_storage((x, y))
            return y.clone()

        @staticmethod
        def backward(ctx, g):
            return g.view(2, 2)
    x = m.ones(2, 2, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.apply(x).sum().backward()
    return [(w.category.__name__, str(w.message)) for w in caught], x.grad.tolist()


def test_mark_shared_storage_is_deprecated_as_torch():
    """ctx.mark_shared_storage (old Functions call it) was an AttributeError."""
    both(_shared_storage)


def _legacy_function_classes(m):
    F = m.autograd.function

    class Twice(F.InplaceFunction):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    x = m.ones(2, requires_grad=True)
    y = Twice.apply(x)
    y.sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (instantiating a Function: DeprecationWarning)
        flags = Twice().inplace, Twice(inplace=True).inplace
    return (y.grad_fn.name(), x.grad.tolist(), flags, type(F.Function) is F.FunctionMeta,
            isinstance(Twice, F.FunctionMeta), F.FunctionMeta.__module__.replace(m.__name__, "M"),
            [c.__name__ for c in F.InplaceFunction.__mro__[:2]])


def test_inplace_function_and_function_meta_as_torch():
    """torch.autograd.function.InplaceFunction (legacy Functions subclass it) and FunctionMeta
    were missing."""
    both(_legacy_function_classes)


def test_pictures_and_summary_show_the_function():
    F = fns(tg)
    x = _x(tg)
    y = F["Sq"].apply(x)
    assert 'label="SqBackward"' in tg.viz.to_dot(y).source
    assert tg.graph.tape_stats(y._tape)["by_op"]["pyfunc"] == 1


def test_functional_hessian_and_compile_through_a_function():
    def run(m):
        F = fns(m)
        x = _x(m)
        H = m.autograd.functional.hessian(lambda v: F["Cube"].apply(v).sum(), x)
        return [_np(H)]
    both(run)
    F = fns(tg)
    f = tg.compile(lambda v: F["Sq"].apply(v).sum())
    with pytest.raises(tg.errors.TracingError, match="autograd.Function Sq"):
        f(_x(tg))


def test_a_tape_file_with_a_function_entry_is_rejected():
    from tapegrad import replay, tapefile
    rec = tg.record(lambda v: (v * 2.0).sum(), _x(tg))
    arrays = dict(replay.to_arrays(rec))
    meta = json.loads(str(arrays.pop("meta")))
    arrays["op"] = arrays["op"].copy()
    arrays["op"][-1] = pyfunc.PYFUNC_CODE
    meta = {k: v for k, v in meta.items() if k not in tapefile.FORMAT_KEYS}
    arrays = tapefile.arrays(arrays, meta)    # a valid digest over the edited streams
    with pytest.raises(tapefile.TapeFormatError, match="custom autograd.Function"):
        replay.from_arrays(arrays)


def test_hooks_on_a_function_output_and_its_node():
    """A tensor hook on a Function's output runs as torch's (the node's hooks: below)."""
    grads = []
    for m in (tg, torch):
        class Sq(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return 2 * x * g

        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = Sq.apply(x)
        y.register_hook(lambda g: g * 10)
        (y * 3).sum().backward()
        grads.append(x.grad.tolist())
    assert grads[0] == grads[1]


def _function_node_hooks(m):
    """Hooks on a custom Function's node: prehooks on its grad_outputs (None where an output
    got no gradient, before materialization), post hooks on grad_inputs (one per tensor
    argument) and grad_outputs, their replacements and torch's checks, under create_graph,
    and with autograd.grad (the node runs when it leads to an input)."""
    log = []

    def show(v):
        return v if v is None else tuple(map(show, v)) if isinstance(v, tuple) else v.tolist()

    class F(m.autograd.Function):
        @staticmethod
        def forward(ctx, a, k, b):
            return a * k * b, a + 1

        @staticmethod
        def backward(ctx, g1, g2):
            log.append(("backward", show(g1), show(g2)))
            return g1 * 3, None, g1

    class Lazy(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.set_materialize_grads(False)
            return a * 2, a * 3

        @staticmethod
        def backward(ctx, g1, g2):
            log.append(("lazy", show(g1), show(g2)))
            return g1 * 2
    x = m.ones(2, requires_grad=True)
    b = m.full((2,), 2.0, requires_grad=True)
    y, z = F.apply(x, 3, b.detach())
    y.grad_fn.register_prehook(lambda go: log.append(("pre", show(go))) or (go[0] * 10, go[1]))
    y.grad_fn.register_hook(lambda gi, go: log.append(("post", show(gi), show(go))) or
                            (gi[0] + 1, gi[1]))
    y.sum().backward()
    log.append(show(x.grad))
    y, z = F.apply(x, 3, b)
    handle = y.grad_fn.register_hook(lambda gi, go: log.append(("post2", show(gi), show(go))))
    (y.sum() + z.sum()).backward(retain_graph=True)
    handle.remove()
    (y.sum() + z.sum()).backward()
    log.append((show(x.grad), show(b.grad)))
    for register, bad in [("register_prehook", lambda go: (go[0],)),
                          ("register_prehook", lambda go: go[0]),
                          ("register_prehook", lambda go: (go[0], m.ones(3))),
                          ("register_hook", lambda gi, go: (gi[0],)),
                          ("register_hook", lambda gi, go: (gi[0], m.ones(3)))]:
        y, z = F.apply(x, 3, b)
        getattr(y.grad_fn, register)(bad)
        log.append(_err(lambda: y.sum().backward()))
    y, z = Lazy.apply(x)
    y.grad_fn.register_prehook(lambda go: log.append(("lazy pre", show(go))))
    y.grad_fn.register_hook(lambda gi, go: log.append(("lazy post", show(gi), show(go))))
    y.sum().backward()
    y, z = F.apply(x, 3, b)
    y.grad_fn.register_prehook(lambda go: (go[0] * x, go[1]))
    g, = m.autograd.grad(y.sum(), x, create_graph=True)
    log.append((show(g), g.requires_grad, show(m.autograd.grad(g.sum(), x)[0])))
    y, z = F.apply(x, 3, b)
    y.grad_fn.register_hook(lambda gi, go: log.append(("post grad", show(gi))))
    log.append(show(m.autograd.grad(y.sum(), b)))
    return log


def test_function_node_hooks_as_torch():
    # register_hook / register_prehook on a Function's node raised NotImplementedError
    assert _function_node_hooks(tg) == _function_node_hooks(torch)


def test_setup_context_function_gets_its_defaults_as_torch():
    """With setup_context, apply binds forward's signature (torch's bind_default_args): the
    Extending notes' LinearFunction.apply(x, w) passes bias=None in setup_context's inputs,
    and a missing argument is torch's TypeError."""
    def run(m):
        class LinearFunction(m.autograd.Function):
            @staticmethod
            def forward(input, weight, bias=None):
                output = input.mm(weight.t())
                if bias is not None:
                    output += bias.unsqueeze(0).expand_as(output)
                return output

            @staticmethod
            def setup_context(ctx, inputs, output):
                input, weight, bias = inputs
                ctx.save_for_backward(input, weight, bias)

            @staticmethod
            def backward(ctx, grad_output):
                input, weight, bias = ctx.saved_tensors
                grad_bias = grad_output.sum(0) if bias is not None else None
                return grad_output.mm(weight), grad_output.t().mm(input), grad_bias
        x = m.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], requires_grad=True)
        w = m.tensor([[0.1, 0.2, 0.3], [-0.4, 0.5, 0.6]], requires_grad=True)
        b = m.tensor([1.0, -1.0], requires_grad=True)
        out = [LinearFunction.apply(x, w).tolist(), LinearFunction.apply(x, w, bias=b).tolist()]
        (LinearFunction.apply(x, w).sum() + LinearFunction.apply(x, w, b).sum()).backward()
        out += [x.grad.tolist(), w.grad.tolist(), b.grad.tolist()]
        for args in [(x,), (x, w, b, b)]:
            try:
                LinearFunction.apply(*args)
            except TypeError as e:
                out.append(str(e))
        return out
    got, want = run(tg), run(torch)
    # (float32 products: torch's BLAS may round the last bit otherwise, with FMA on some CPUs)
    np.testing.assert_allclose(np.concatenate([np.ravel(v) for v in got[:5]]),
                               np.concatenate([np.ravel(v) for v in want[:5]]), rtol=1e-6)
    assert got[5:] == want[5:]


def _views_made_in_a_function(m):
    """In-place changes of a custom Function's outputs that view its inputs: torch's errors."""
    class Ident(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    class Flat(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.view(-1)

        @staticmethod
        def backward(ctx, g):
            return g

    class Two(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2

    x = m.tensor([-1.0, 2.0], requires_grad=True)
    relu = m.nn.ReLU(inplace=True)
    relu.register_full_backward_hook(lambda mod, gi, go: None)
    out = []
    for call in (lambda: Ident.apply(x * 1).relu_(), lambda: Flat.apply(x * 1).relu_(),
                 lambda: Ident.apply(x * 1)[0].mul_(2), lambda: Ident.apply(m.ones(2)).add_(x),
                 lambda: Two.apply(x * 1)[1].add_(1), lambda: Two.apply(x * 1)[0].add_(1),
                 lambda: relu(x * 1)):
        try:
            r = call()
            out.append(("ok", r.tolist()))
        except RuntimeError as e:
            out.append(str(e))
    a = m.ones(2)
    out.append(Ident.apply(a) is a)
    return out


def test_inplace_on_a_view_made_in_a_function_as_torch():
    # silently allowed before (an input returned as it is), or torch's no_grad error
    assert _views_made_in_a_function(tg) == _views_made_in_a_function(torch)


def _nan_backward(m):
    class N(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")
    x = m.tensor([1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        with m.autograd.detect_anomaly():
            with pytest.raises(RuntimeError) as err:
                N.apply(x).sum().backward()
    return str(err.value), [str(w.message).split(".")[0] for w in ws], x.grad


def test_anomaly_mode_checks_a_custom_functions_gradients_as_torch():
    # the sweep's nan check saw no Python VJP: x.grad came out nan, no error
    assert _nan_backward(tg) == _nan_backward(torch)


def _dirty_view(m):
    """mark_dirty of an input that views another tensor: torch rebases the base (CopySlices),
    so the base's gradient goes through the Function."""
    class Scale(m.autograd.Function):
        @staticmethod
        def forward(ctx, a, w):
            a.mul_(w)
            ctx.mark_dirty(a)
            ctx.save_for_backward(w)
            return a

        @staticmethod
        def backward(ctx, g):
            w, = ctx.saved_tensors
            return g * w, g
    out = []
    for use_view in (False, True):
        x = m.arange(6.0, requires_grad=True)
        w = m.tensor([5.0, 6.0], requires_grad=True)
        b = x * 1
        other = b[2:5]
        y = Scale.apply(b[1:3], w)
        loss = (y * y).sum() if use_view else (b * m.arange(6.0)).sum() + other.sum()
        loss.backward()
        out += [_np(x.grad), _np(w.grad), _np(b), b.grad_fn.name(), y.grad_fn.name(),
                b._version, [(f.name() if f else None, i) for f, i in b.grad_fn.next_functions]]
    x = m.arange(4.0, requires_grad=True)
    out.append(_err(lambda: Scale.apply(x[1:3], m.ones(2))))

    class Two(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            a.mul_(2)
            ctx.mark_dirty(a)
            return a, a * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 6
    out.append(_err(lambda: Two.apply((x * 1)[1:3])))
    return out


def test_mark_dirty_of_a_view_rebases_its_base_as_torch():
    # the base kept its old grad_fn: x.grad missed the Function's factor, w.grad was None
    assert repr(_dirty_view(tg)) == repr(_dirty_view(torch))


def _saved_nothing(m):
    """ctx.saved_tensors inside forward (empty), and of a Function that saved nothing after
    a backward freed its graph (torch's second-backward error, also read in a second
    backward), while a second backward that reads nothing saved still runs."""
    out = []

    class Early(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            out.append(len(ctx.saved_tensors))
            return a * 2

        @staticmethod
        def backward(ctx, g):
            out.append(len(ctx.saved_tensors))
            return g

    class Bare(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            out.append(ctx.saved_tensors)
            return g * 2
    class Blind(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    x = m.ones(2, requires_grad=True)
    Early.apply(x).sum().backward()
    y = Bare.apply(x)
    y.sum().backward()
    out.append(_err(lambda: y.sum().backward()))
    out.append(_err(lambda: y.grad_fn.saved_tensors))
    z = Blind.apply(x)
    z.sum().backward()
    z.sum().backward()
    out.append(_np(x.grad))
    return out


def test_saved_tensors_of_nothing_saved_as_torch():
    # AttributeError inside forward; () after backward instead of torch's error
    assert repr(_saved_nothing(tg)) == repr(_saved_nothing(torch))


def _old_style_under_transforms(m):
    """A Function without setup_context under a torch.func transform: torch's error (also
    when nested, and for vmap); outside the transforms, and for torch's own operations that
    tapegrad writes as Functions (eigh), nothing changes."""
    class Old(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, g):
            return g

    x = m.tensor([1.0, 2.0])
    out = []
    for call in (lambda: m.func.grad(lambda v: Old.apply(v).sum())(x),
                 lambda: m.func.vmap(Old.apply)(x),
                 lambda: m.func.jacrev(Old.apply)(x),
                 lambda: m.func.grad(lambda v: m.func.grad(lambda w: Old.apply(w).sum())(v)
                                     .sum())(x)):
        out.append(_err(call))
    out.append(_np(Old.apply(x)))
    a = m.tensor([[2.0, 1.0], [1.0, 3.0]])
    # (+ 0.0: the off-diagonal zeros come out as +-1e-8, whose sign follows the LAPACK build)
    out.append(_np(m.func.grad(lambda s: m.linalg.eigh(s)[0].sum())(a)).round(6) + 0.0)
    return out


def test_old_style_function_under_transforms_as_torch():
    # computed a result where torch raises
    assert repr(_old_style_under_transforms(tg)) == repr(_old_style_under_transforms(torch))


def _materialize_flag(m):
    """set_materialize_grads takes a bool only (torch's TypeError otherwise)."""
    out = []

    class F(m.autograd.Function):
        @staticmethod
        def forward(ctx, a, flag):
            out.append(_err(lambda: ctx.set_materialize_grads(flag)))
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g, None
    for flag in (0, 1.0, None, True, False):
        F.apply(m.ones(1, requires_grad=True), flag)
    return out


def test_set_materialize_grads_takes_a_bool_as_torch():
    # 0 / None were taken as falsy: backward got None for outputs without a gradient
    assert _materialize_flag(tg) == _materialize_flag(torch)


def _saved_for_forward(m):
    class Both(m.autograd.Function):   # (written for both modes, used in reverse mode)
        @staticmethod
        def forward(ctx, a, k):
            ctx.save_for_backward(a)
            ctx.save_for_forward(a, None)
            ctx.k = k
            return a * a * k

        @staticmethod
        def backward(ctx, g):
            a, = ctx.saved_tensors
            return 2 * a * g * ctx.k, None

        @staticmethod
        def jvp(ctx, t, _):
            return 2 * ctx.saved_for_forward[0] * t * ctx.k

    class NotTensor(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_forward(a, 3)
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    x = m.tensor([1.0, 2.0], requires_grad=True)
    y = Both.apply(x, 3.0)
    y.sum().backward()
    return y, x.grad, _err(lambda: NotTensor.apply(x))


def test_save_for_forward_keeps_its_tensors_as_torch():
    # (it raised NotImplementedError: a Function with a jvp failed in reverse mode too)
    both(_saved_for_forward)


def _nondiff_input_returned(m):
    class Flag(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.mark_non_differentiable(a)
            return a

        @staticmethod
        def backward(ctx, g):
            return g

    class FlagAndScale(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.mark_non_differentiable(a)
            return a, 5

        @staticmethod
        def backward(ctx, g, _):
            return g
    x = m.tensor([1.0, 2.0], requires_grad=True)
    out = []
    for o in (Flag.apply(x), Flag.apply(x * 1), FlagAndScale.apply(x)[0],
              Flag.apply(m.ones(2))):
        # (a detached alias of an input that requires grad, a view of one that does not)
        out.append((o is x, o.requires_grad, o.grad_fn, o.is_leaf, o._is_view()))
    o = Flag.apply(x)
    with m.no_grad():
        x.add_(1)
    out.append((o.tolist(), o._version))    # (shares x's memory and version counter)
    return out


def test_non_differentiable_input_returned_is_a_new_tensor_as_torch():
    # (with no differentiable output, apply returned the input itself, requiring grad)
    both(_nondiff_input_returned)


def _dirty_versions(m):
    class AddOne(m.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            a.add_(1)
            ctx.mark_dirty(a)
            return a, b * 2

        @staticmethod
        def backward(ctx, ga, gb):
            return ga, gb * 2

    class AddOneNoDiff(AddOne):
        @staticmethod
        def forward(ctx, a, b):
            ctx.mark_non_differentiable(a)
            return AddOne.forward(ctx, a, b)
    x = m.ones(2, requires_grad=True)
    out = []
    for fn, a, b in ((AddOne, m.ones(2), m.ones(2)), (AddOne, m.ones(2, dtype=m.int64), x),
                     (AddOneNoDiff, x * 1, x), (AddOneNoDiff, m.ones(2), x)):
        r = fn.apply(a, b)
        out.append((a._version, r[0] is a, r[0].requires_grad, r[1].requires_grad))
    return out, _err(lambda: m.autograd.Function.jvp(None, x))


def test_mark_dirty_counts_the_change_again_without_a_graph_as_torch():
    # (apply's second version bump was missing where nothing records: no input requiring
    # grad, or a dirty output that is not differentiable)
    both(_dirty_versions)


# ---- apply's and host_vjp's short ways: one-element values, operands, views, bytes held ------
def _one_element_values(m):
    """One-element outputs (0-d and (1,); float32, float64; a float32 past its range)
    read again by the ops after them, and 0-d gradients handed back in the input's dtype or
    not, summed to a 0-d input or refused for a (1,) one, with 1, 2 or no operands that
    require grad."""
    class Scale(m.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, y):
            ctx.save_for_backward(x, y)
            return x * k * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, None, g * x

    class Back(m.autograd.Function):   # backward's gradient: `make` of the right value
        @staticmethod
        def forward(ctx, x, make):
            ctx.make = make
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return ctx.make(g * 3), None
    out = []
    for dtype, shape, v in (("float32", (), 0.1), ("float64", (), 0.1), ("float32", (1,), 0.1),
                            ("float32", (), 3e38)):
        for rgs in ((True, True), (True, False), (False, True)):
            dt = getattr(m, dtype)
            x = m.tensor(np.full(shape, v).tolist(), dtype=dt, requires_grad=rgs[0])
            y = m.tensor(np.full(shape, 1.5 if v < 1 else 10.0).tolist(), dtype=dt,
                         requires_grad=rgs[1])
            z = Scale.apply(x, 1.25, y)
            w = z * z + z.exp() * 0.5
            w.sum().backward()
            out.append((dtype, shape, rgs, _np(z), str(z.dtype).split(".")[-1], _np(w), _np(x.grad),
                        _np(y.grad), _fn_names(z.grad_fn)))
    for make in (lambda g: g, lambda g: g.double(), lambda g: g.reshape(1),
                 lambda g: g.reshape(1, 1)):
        for shape in ((), (1,)):
            x = m.tensor(np.full(shape, 0.7, "float32"), requires_grad=True)
            r = _err(lambda: Back.apply(x, make).sum().backward())
            out.append((shape, r, _np(x.grad),
                        None if x.grad is None else str(x.grad.dtype).split(".")[-1]))
    return out


def test_one_element_values_and_gradients_as_torch():
    # (apply reads a one-element output's value without an array; host_vjp adds a 0-d
    # gradient of the input's dtype as a number: both against the general path's values)
    both(_one_element_values)


def _views_of_several_inputs(m):
    """Outputs viewing the second or third of three inputs (one of them 0-d), beside new
    ones: which an in-place change with grad mode on refuses (torch's views made in a
    custom Function), and the gradients when none is changed."""
    class Pick(m.autograd.Function):
        @staticmethod
        def forward(ctx, a, s, b, c):
            return a * s, b.view(-1)[1:], c, a + 1

        @staticmethod
        def backward(ctx, ga, gb, gc, gd):
            return ga * 2, None, m.nn.functional.pad(gb, (1, 0)).view(2, 2), gc
    out = []
    for k in range(4):
        a = m.tensor(0.5, requires_grad=True)
        b = m.ones(2, 2, requires_grad=True)
        c = m.tensor([1.0, 2.0], requires_grad=True)
        outs = Pick.apply(a, 2.0, b * 1, c * 1)
        out.append(_err(lambda: outs[k].mul_(2)))
    outs = Pick.apply(a, 2.0, b * 1, c * 1)
    (outs[0] + outs[1].sum() + outs[2].sum() + outs[3]).backward()
    out += [_np(a.grad), _np(b.grad), _np(c.grad), [o._version for o in outs]]
    return out


def test_outputs_viewing_several_inputs_as_torch():
    # (apply checks each output against the inputs' arrays, gathered once)
    both(_views_of_several_inputs)


def _saved_output_counter(m):
    """A saved output dropped after a detached alias of it was made: changing the alias in
    place moves the saved tensor's version too (its counter is made when it is saved, then
    shared with the alias), so backward raises torch's error; unchanged, it runs."""
    class Exp(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            r = x.exp()
            ctx.save_for_backward(r)
            return r

        @staticmethod
        def backward(ctx, g):
            r, = ctx.saved_tensors
            return g * r
    out = []
    for change in (False, True):
        x = m.tensor([0.5, 1.0], requires_grad=True)
        y = Exp.apply(x)
        v = y.detach()
        loss = (y * 2).sum()
        del y
        gc.collect()
        if change:
            with m.no_grad():
                v.mul_(1.0)
        out.append((_err(loss.backward), _np(x.grad), v._version))
    return out


def test_a_saved_output_changed_through_a_later_alias_as_torch():
    both(_saved_output_counter)


def test_held_bytes_counts_arrays_and_off_tape_tensors_only():
    """What a ctx keeps alive counts toward the tape's saved bytes: its ndarray attributes and
    the tensors (attributes or saved) neither on a tape nor leaves that require grad, not
    containers, numbers or the ctx's own state."""
    arr = np.zeros(10)               # 80 bytes
    free = tg.ones(5)                # 20 bytes (float32, no graph)
    leaf = tg.ones(7, requires_grad=True)

    class Keep(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.arr, ctx.free, ctx.leaf = arr, free, leaf
            ctx.box, ctx.n, ctx.s, ctx.none = (arr, free), 3, "s", None
            ctx.save_for_backward(x, free, leaf, None)
            return x * 2
    class Nothing(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    def held(fn):   # (less what the output entries hold of their own)
        y = tg.ones(3, requires_grad=True) * 1
        before = y._tape.saved_bytes
        fn.apply(y)
        return y._tape.saved_bytes - before
    assert held(Keep) - held(Nothing) == 80 + 20 + 20
    state = {"a": arr, "t": free, "l": leaf, "box": [arr], "n": 1.5, "f": True}
    assert pyfunc._held_bytes(state, (free, None)) == 80 + 20 + 20


def _setup_context_arguments(m):
    """setup_context Functions called with exactly their positional parameters (apply passes
    the call's arguments on unbound), and the neighbours that bind: too few or too many,
    keywords, *args, keyword-only parameters; what setup_context gets as `inputs`."""
    seen = []

    def make(forward):
        class F(m.autograd.Function):
            @staticmethod
            def setup_context(ctx, inputs, output):
                seen.append([type(v).__name__ if not isinstance(v, (int, float)) else v
                             for v in inputs])

            @staticmethod
            def backward(ctx, g):
                return (g,) + (None,) * 3
        F.forward = staticmethod(forward)
        return F

    def two(a, b):
        return a * b

    def dflt(a, b=2.0):
        return a * b

    def star(a, *rest):
        return a * len(rest)

    def kwonly(a, *, k):
        return a * k
    x = m.tensor([1.0, 2.0], requires_grad=True)
    out = []
    for fn, args, kwargs in ((two, (x, 3.0), {}), (two, (x,), {}), (two, (x, 3.0, 4.0), {}),
                             (two, (x,), {"b": 2.0}), (dflt, (x, 3.0), {}), (dflt, (x,), {}),
                             (dflt, (x, 1.0, 2.0), {}), (star, (x, 1, 2), {}), (star, (x,), {}),
                             (kwonly, (x,), {}), (kwonly, (x, 5.0), {})):
        seen.clear()
        r = _err(lambda: out.append(_np(make(fn).apply(*args, **kwargs))))
        out.append((fn.__name__, r, list(seen)))
    return out


def test_setup_context_arguments_bound_or_passed_as_torch():
    # (apply skips forward's signature binding when the call gives every parameter by
    # position: the same arguments, without bind's ~2.5 us)
    both(_setup_context_arguments)


def _keyword_arguments(m):
    """apply's keywords as torch's: with setup_context forward's signature is bound and what
    lands in keywords (keyword-only parameters, even by default, and **kwargs) is refused;
    then, with either style, a keyword goes to its positional parameter of forward (after
    ctx) or is refused, and a gap before it takes its default or is refused."""
    def make(forward, setup):
        class F(m.autograd.Function):
            @staticmethod
            def backward(ctx, g):
                return (g,) + (None,) * 3
        if setup:
            F.setup_context = staticmethod(lambda ctx, inputs, output: None)
        F.forward = staticmethod(forward)
        return F

    def kwonly(a, *, k=1.0):
        return a * k

    def ctx_kwonly(ctx, a, *, k=1.0):
        return a * k

    def varkw(a, **kw):
        return a * len(kw)

    def ctx_varkw(ctx, a, **kw):
        return a * len(kw)

    def ctx_three(ctx, a, b, c=5.0):
        return a * b * c

    def ctx_star(ctx, a, *rest):
        return a * len(rest)
    x = m.tensor([1.0, 2.0], requires_grad=True)
    out = []
    for fn, setup, args, kwargs in (
            (kwonly, True, (x,), {"k": 2.0}), (kwonly, True, (x,), {}),
            (ctx_kwonly, False, (x,), {"k": 2.0}), (ctx_kwonly, False, (x,), {}),
            (varkw, True, (x,), {}), (varkw, True, (x,), {"q": 1}),
            (ctx_varkw, False, (x,), {"q": 1}),
            (ctx_three, False, (x,), {"b": 3.0}), (ctx_three, False, (x,), {"c": 2.0, "b": 3.0}),
            (ctx_three, False, (x,), {"c": 2.0}), (ctx_three, False, (x, 2.0), {"a": 1.0}),
            (ctx_three, False, (x, 2.0), {"ctx": 1.0}), (ctx_three, False, (x,), {"q": 1}),
            (ctx_three, False, (), {"b": 3.0, "a": x}),
            (ctx_star, False, (x, 1, 2), {"a": 1}), (ctx_star, False, (x, 1), {"rest": 1})):
        r = _err(lambda: out.append(_np(make(fn, setup).apply(*args, **kwargs))))
        out.append((fn.__name__, r))
    return out


def test_keyword_arguments_bound_or_refused_as_torch():
    both(_keyword_arguments)


# ---- the engine's short path (engine.run_backward_root) with Functions on the tape -----------
def _short_path_cases(m):
    """(name, leaves, make) of backwards a Function's tape takes the short path for, make()
    giving (root, gradient or None): a plain backward() and backward(g) of 0-d and n-d
    roots, float32 and float64, with saved tensors, ctx attributes, needs_input_grad,
    setup_context, once_differentiable, several outputs, None gradients, a broadcast gradient
    summed to its input, a seed of another dtype than its root's."""
    F = fns(m)
    x = _x(m)
    s = m.tensor(0.75, requires_grad=True)
    f32 = m.tensor(np.array([[0.5, -1.25], [2.0, 0.125]], np.float32), requires_grad=True)
    c = m.tensor(np.array([1.0, 2.0, 3.0]))   # (requires no grad: needs_input_grad False)
    g3 = m.tensor(np.array([1.0, -2.0, 0.5]))
    return [
        ("lin", [x], lambda: (F["Lin"].apply(x, 3.0, c), g3)),
        ("lin both", [x, s], lambda: (F["Lin"].apply(x, 2.0, s * x), g3)),
        ("sq 0-d", [s], lambda: (F["Sq"].apply(s), None)),
        ("sq 0-d given", [s], lambda: (F["Sq"].apply(s), m.tensor(2.5))),
        ("sq float32", [f32], lambda: (F["Sq"].apply(f32), m.ones(2, 2) * 0.5)),
        ("sq float64 seed of a float32 root", [f32],
         lambda: (F["Sq"].apply(f32), m.ones(2, 2, dtype=m.float64) / 3)),
        ("once", [x], lambda: (F["SqOnce"].apply(x * 2).sum(), None)),
        ("setup", [x], lambda: (F["SetupCtx"].apply(x, 1.5), g3)),
        ("three", [x], lambda: (F["Three"].apply(x, True)[2], g3)),
        ("pair", [x, s], lambda: (F["Pair"].apply(x, s), g3)),
        ("sum to", [s], lambda: (F["SumTo"].apply(s.reshape(1, 1).expand(1, 3)).sum(), None)),
        ("cube of cube", [x], lambda: (F["Cube"].apply(F["Cube"].apply(x)), g3)),
        ("no save", [x], lambda: (F["NoSave"].apply(x), g3)),
    ]


def _exact(v):
    """v with its arrays as nested lists (== compares them bit for bit)."""
    if isinstance(v, (list, tuple)):
        return [_exact(x) for x in v]
    return v.tolist() if isinstance(v, np.ndarray) else v


@pytest.mark.parametrize("retain", [False, True])
def test_function_graphs_short_path_equals_the_general_path_and_torch(monkeypatch, retain):
    """A tape holding Function entries takes the engine's short path (run_backward_root),
    also for a gradient given to backward: its gradients, what the Functions' backwards saw,
    and a second backward's error (or, with retain_graph, its accumulation) equal the general
    path's bit for bit and torch's values."""
    from tapegrad import engine
    from tapegrad.autograd import api
    got = {}
    real = engine.run_backward
    gc.collect()   # (earlier tests' hooked leaves in cycles: the short path declines then)
    _x(tg).sum().backward()   # (the first backward of a process chooses the kernel tier)
    for path in ("short", "general", "torch"):
        m = torch if path == "torch" else tg
        taken = []
        if path == "short":
            monkeypatch.setattr(api, "run_backward",
                                lambda *a, **k: taken.append(1) or real(*a, **k))
        elif path == "general":
            monkeypatch.setattr(api, "run_backward", real)
            monkeypatch.setattr(api, "run_backward_root", lambda *args, **kw: None)
        for name, leaves, make in _short_path_cases(m):
            LOG.clear()
            root, g = make()
            root.backward(g, retain_graph=retain)
            assert not taken, name   # (the first backward took the short path)
            again = _err(lambda: root.backward(g))   # (a frozen tape's: the general path)
            taken.clear()
            got[path, name] = ([(str(p.grad.dtype).split(".")[-1], _np(p.grad))
                                for p in leaves], list(LOG), again)
    for name, _, _ in _short_path_cases(tg):
        short, general, theirs = got["short", name], got["general", name], got["torch", name]
        for (d1, g1), (d2, g2), (d3, g3) in zip(short[0], general[0], theirs[0]):
            assert d1 == d2 == d3, name
            np.testing.assert_array_equal(g1, g2, err_msg=name)
            np.testing.assert_allclose(g1, g3, rtol=1e-6, err_msg=name)
        assert _exact(short[1:]) == _exact(general[1:]), name
        _same(short[1], theirs[1])
        assert short[2] == theirs[2], name


@pytest.mark.parametrize("kind", ["hook", "post", "retain"])
def test_a_backward_that_hooks_a_leaf_or_retains_a_gradient_on_the_short_path(kind):
    """A Function's backward that registers a leaf's tensor hook or post-accumulate hook, or
    retains a gradient of its tape, mid-backward: the short path hands the collection to the
    general path's (engine._finish), so the hook runs and .grad is filled as torch's."""
    from tapegrad import engine, hooks
    from tapegrad.autograd import api
    gc.collect()   # (leaves of earlier tests' hooks: the short path declines while they live)
    assert not hooks._LEAF
    taken = []

    def general(*a, **k):
        taken.append(1)
        return engine.run_backward(*a, **k)

    def run(m):
        x = m.tensor(np.array([0.5, 2.0]), requires_grad=True)
        seen = []

        class Reg(m.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                return a * 3

            @staticmethod
            def backward(ctx, g):
                if kind == "hook":
                    x.register_hook(lambda gg: gg * 10)
                elif kind == "post":
                    x.register_post_accumulate_grad_hook(lambda t: seen.append(_np(t.grad)))
                else:
                    ctx.mid.retain_grad()
                return g * 3
        (x * 1.0).sum().backward()   # (a first backward: the kernel tier chosen)
        x.grad = None
        taken.clear()
        mid = x * 2.0
        y = Reg.apply(mid)
        y.grad_fn.mid = mid
        y.backward(m.ones(2, dtype=m.float64))
        return [_np(x.grad), seen, _np(mid.grad) if kind == "retain" else None]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "run_backward", general)
        both(run)
    assert not taken   # (the short path's backward: the general path not called)


@pytest.mark.parametrize("create_graph", [False, True])
def test_backward_inputs_execute_a_functions_node_that_leads_nowhere(create_graph):
    """backward(inputs=[t]), t an output of a custom Function: torch's engine executes t's
    node though its inputs lead to no input (every non-leaf input's node runs): its hooks
    and backward run, and what backward computes goes nowhere."""
    def run(m):
        log = []

        class Two(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, ga, gb):
                x, = ctx.saved_tensors
                log.append(("backward", ga, gb, ctx.needs_input_grad))
                return ga * x + gb * 3
        x = m.tensor([1.0, 2.0], requires_grad=True)
        a, b = Two.apply(x * 1)
        a.grad_fn.register_prehook(lambda go: log.append(("pre", go)))
        a.grad_fn.register_hook(lambda gi, go: log.append(("post", gi, go)))
        a.register_hook(lambda g: log.append(("tensor", g)))
        (a * a).sum().backward(inputs=[a], create_graph=create_graph)
        out = [log, a.grad, x.grad]
        a, b = Two.apply(x * 1)
        (a * 5 + b).sum().backward(inputs=[a, b], retain_graph=True)
        out += [a.grad, b.grad, x.grad]
        a, _ = Two.apply(x)   # (a leaf among the inputs)
        (a * 5).sum().backward(inputs=[x, a])
        return out + [a.grad, x.grad]
    both(run)
