"""`tapegrad.autograd.gradcheck` / `gradgradcheck` against torch's: signatures, outcomes,
exception types and messages (torch's names normalised) of slow and fast mode, reentrancy
(`nondet_tol`), grad dtypes and sizes, zero and undefined output grads, batched grads,
`masked`, the input checks; forward-mode checks raise NotImplementedError."""
import importlib
import inspect
import re
import warnings

import numpy as np
import pytest

import tapegrad as tg

GC = importlib.import_module("tapegrad.autograd.gradcheck")   # the module, not the function


def outcome(call):
    """('ok', result) or (exception type name, message with torch's names as tapegrad's),
    plus the warnings' texts."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = ("ok", call())
        except Exception as e:  # noqa: BLE001 (the type is part of the outcome)
            res = (type(e).__name__, str(e).replace("torch.", "tapegrad."))
    return res, [str(w.message) for w in caught if "jit" not in str(w.message)]


def both(torch, make):
    """outcome(make(m)) for tapegrad and torch."""
    return outcome(lambda: make(tg)), outcome(lambda: make(torch))


def function(m, backward, n_out=1, materialize=True):
    """A custom Function y = 2x (or (2x, 3x)) with the given backward body."""
    ns = {}
    outs = "x * 2" if n_out == 1 else "x * 2, x * 3"
    grads = "g" if n_out == 1 else "g1, g2"
    exec(f"""
class F(m.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.set_materialize_grads({materialize})
        ctx.save_for_backward(x)
        return {outs}

    @staticmethod
    def backward(ctx, {grads}):
        x, = ctx.saved_tensors
        {backward}
""", {"m": m}, ns)
    return ns["F"]


def x64(m, vals=(0.3, 0.7)):
    return m.tensor(list(vals), dtype=m.float64, requires_grad=True)


# ---- signatures ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gradcheck", "gradgradcheck"])
def test_signatures_are_torchs(torch_ref, name):
    ours = inspect.signature(getattr(tg.autograd, name)).parameters
    theirs = inspect.signature(getattr(torch_ref.autograd, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
           [(p.name, p.kind, p.default) for p in theirs.values()]


def test_unknown_keywords_are_type_errors(torch_ref):
    for fn in ("gradcheck", "gradgradcheck"):
        a, b = both(torch_ref, lambda m: getattr(m.autograd, fn)(lambda t: t * 2, (x64(m),),
                                                                  nondet=1e-3))
        assert a == b and a[0][0] == "TypeError"


def test_gradcheck_error_is_a_runtime_error_in_the_gradcheck_module(torch_ref):
    from tapegrad.autograd.gradcheck import GradcheckError
    from torch.autograd.gradcheck import GradcheckError as TorchGradcheckError
    assert issubclass(GradcheckError, RuntimeError) and issubclass(TorchGradcheckError,
                                                                   RuntimeError)


# ---- slow and fast mode ----------------------------------------------------------------------
@pytest.mark.parametrize("fast", [False, True])
def test_a_correct_function_passes_and_fast_mode_keeps_the_global_generator(torch_ref, fast):
    def make(m):
        m.manual_seed(0)
        a = m.tensor([[0.3, -0.7, 1.1], [0.2, 0.5, -1.3]], dtype=m.float64, requires_grad=True)
        b = m.tensor([1.5, -2.0, 0.25], dtype=m.float64, requires_grad=True)
        ok = m.autograd.gradcheck(
            lambda p, k, q: ((p * q).sin().sum(1), p.t() ** k, (p > 0).long()), (a, 3, b),
            fast_mode=fast)
        return ok, m.rand(2).tolist()   # fast mode's u, v come from its own generator
    a, b = both(torch_ref, make)
    assert a == b and a[0][1][0] is True


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("body", ["return g * 3", "return g * 2 + x * 0.5"])
def test_a_wrong_backward_fails_with_torchs_message(torch_ref, fast, body):
    def make(m):
        return m.autograd.gradcheck(function(m, body).apply, (x64(m),), fast_mode=fast)
    a, b = both(torch_ref, make)
    assert a == b
    (kind, msg), _ = a
    assert kind == "GradcheckError" and msg.startswith("Jacobian mismatch for output 0 with "
                                                       "respect to input 0,\nnumerical:")
    assert ("computed \nin fast mode" in msg) == fast


def test_a_mismatch_names_the_differentiable_output_and_input(torch_ref):
    def make(m, fast):
        y = m.tensor([1.5, 2.0], dtype=m.float64, requires_grad=True)
        return m.autograd.gradcheck(lambda n, a, b: (a * b, a.exp() + b, n * 1.0),
                                    (m.tensor(2.0, dtype=m.float64), x64(m), y),
                                    atol=1e-12, rtol=1e-12, eps=1e-3, fast_mode=fast)
    def digits(outcome):   # fast mode's v.Ju is a BLAS dot: its last bit is the CPU's kernel's
        return re.sub(r"\d\.\d{12,}", lambda m: m.group()[:14], repr(outcome))
    for fast in (False, True):
        a, b = both(torch_ref, lambda m: make(m, fast))
        assert digits(a) == digits(b)
        assert a[0][1].startswith("Jacobian mismatch for output 1 with respect to input 0,")


def test_raise_exception_false_returns_false(torch_ref):
    for fast in (False, True):
        a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
            function(m, "return g * 3").apply, (x64(m),), raise_exception=False,
            fast_mode=fast))
        assert a == b == (("ok", False), [])
    # only gradcheck's own failures become False: a backward's exception propagates
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
        function(m, "raise RuntimeError('boom')").apply, (x64(m),), raise_exception=False))
    assert a == b == (("RuntimeError", "boom"), [])


def test_fast_mode_evaluates_the_function_a_constant_number_of_times(torch_ref):
    """The point of fast mode: one central difference per input, not one per element.  The
    number of calls of the function is torch's in both modes."""
    def count(m, fast):
        calls = [0]

        def f(t):
            calls[0] += 1
            return (t.sin() * t).cumsum(0)
        assert m.autograd.gradcheck(f, (m.rand(20, dtype=m.float64, requires_grad=True),),
                                    fast_mode=fast)
        return calls[0]
    slow, fast = count(tg, False), count(tg, True)
    assert (slow, fast) == (count(torch_ref, False), count(torch_ref, True))
    assert slow >= 40 and fast <= 5


# ---- reentrancy, grad dtypes and sizes -------------------------------------------------------
def _drifting(m, step=1e-7):
    """y = 2x whose backward adds `step` more at every call (not reentrant)."""
    calls = [0]

    class Drift(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            calls[0] += 1
            return g * 2 + calls[0] * step
    return Drift


@pytest.mark.parametrize("fast", [False, True])
def test_a_non_reentrant_backward_and_nondet_tol(torch_ref, fast):
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(_drifting(m).apply, (x64(m),),
                                                          fast_mode=fast))
    assert a == b and a[0][0] == "GradcheckError"
    assert a[0][1].startswith("Backward is not reentrant, i.e., running backward with same "
                              "input and grad_output multiple times gives different values")
    assert "The tolerance for nondeterminism was 0.0." in a[0][1]
    # within nondet_tol; the drift is below atol, and not multiplied by a zero grad_output
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(_drifting(m).apply, (x64(m),),
                                                          nondet_tol=1e-3, fast_mode=fast))
    assert a == b == (("GradcheckError", "backward not multiplied by grad_output"), [])


def test_grads_computed_in_float32_are_cast_back(torch_ref):
    """The engine casts a backward's float32 grad to the input's dtype (both): no mismatch."""
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
        function(m, "return (g * 2).float()").apply, (x64(m),), check_grad_dtypes=True))
    assert a == b == (("ok", True), [])
    # a hook that changes the dtype is the engine's error
    def hooked(m):
        x = x64(m)
        x.register_hook(lambda g: g.float())
        return m.autograd.gradcheck(lambda t: t * 2, (x,), check_grad_dtypes=True)
    a, b = both(torch_ref, hooked)
    assert a == b and a[0][0] == "RuntimeError" and "has changed the type of value" in a[0][1]


@pytest.mark.parametrize("change,check_dtypes", [("float", False), ("float", True),
                                                 ("shape", False), ("shape", True)])
def test_grads_of_the_wrong_dtype_or_size(torch_ref, monkeypatch, change, check_dtypes):
    """What gradcheck does with vjps of the wrong dtype or size (its autograd.grad patched: the
    engines never return them), including torch's swapped messages."""
    def wrap(grad):
        def bad(*args, **kw):
            gs = grad(*args, **kw)
            return tuple(None if g is None else g.float() if change == "float"
                         else g.reshape(1, -1) for g in gs)
        return bad
    monkeypatch.setattr(GC, "grad", wrap(GC.grad))
    monkeypatch.setattr(torch_ref.autograd, "grad", wrap(torch_ref.autograd.grad))
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(lambda t: t * 2, (x64(m),),
                                                          check_grad_dtypes=check_dtypes))
    assert a == b
    expected = {("float", False): "Analytical gradient has incorrect size",
                ("float", True): "Analytical gradient has incorrect size",
                ("shape", False): "grad is incorrect size",
                ("shape", True): "Gradient has dtype mismatch"}[change, check_dtypes]
    assert a[0] == ("GradcheckError", expected)


# ---- zero and undefined output grads, masked -------------------------------------------------
def test_backward_must_multiply_by_grad_output_and_masked(torch_ref):
    F = "return g * 2 + 1e-12"
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(function(m, F).apply, (x64(m),)))
    assert a == b == (("GradcheckError", "backward not multiplied by grad_output"), [])
    # masked compares with allclose: the next check, undefined output grads, sees the 1e-12
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(function(m, F).apply, (x64(m),),
                                                          masked=True))
    assert a == b and a[0][1].startswith("Expected all input grads to be undefined or zero")
    assert a[1] and a[1][0].startswith("Backwards compatibility: New undefined gradient")
    for masked in (None, True, False):
        a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
            function(m, F).apply, (x64(m),), masked=masked, check_undefined_grad=masked is None))
        assert a == b
        assert a[0] == (("ok", True) if masked else
                        ("GradcheckError", "backward not multiplied by grad_output"))


@pytest.mark.parametrize("body,message", [
    ("if not g.any(): raise RuntimeError('no grad')\n        return g * 2",
     "Expected backward function to handle undefined output grads."),
    ("return g * 2 if g.any() else x * 0 + 1",
     "Expected all input grads to be undefined or zero when all output grads are undefined"),
    ("return g * 2", None)])
def test_undefined_output_grads(torch_ref, body, message):
    """The undefined-grad check on its own (gradcheck runs the zero-grad_output check first,
    which these backwards fail as well)."""
    def make(m):
        mod = importlib.import_module(f"{m.__name__}.autograd.gradcheck")
        F = function(m, body)
        x = x64(m)
        return mod._test_undefined_backward_mode(F.apply, (F.apply(x),), (x,))
    a, b = both(torch_ref, make)
    assert a == b
    if message is None:
        assert a == (("ok", True), [])
    else:
        assert a[0][0] == "GradcheckError" and a[0][1].startswith(message)
        assert len(a[1]) == 1 and "check_undefined_grad=False" in a[1][0]


def test_several_outputs_with_grads_left_undefined(torch_ref):
    body = "return (0 if g1 is None else g1 * 2) + (0 if g2 is None else g2 * 3)"
    for materialize in (True, False):
        a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
            function(m, body, 2, materialize).apply, (x64(m),), check_undefined_grad=False))
        assert a == b == (("ok", True), [])
    # a backward that does not accept None: the analytical Jacobian of one output fails
    body = "return g1 * 2 + g2 * 3"
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
        function(m, body, 2, False).apply, (x64(m),)))
    assert a[0][0] == b[0][0] == "TypeError"


# ---- batched grads ---------------------------------------------------------------------------
def test_batched_grad(torch_ref):
    def make(m):
        m.manual_seed(0)
        ok = m.autograd.gradcheck(lambda t: (t.sin() * 2, t.exp().sum()), (x64(m),),
                                  check_batched_grad=True)
        return ok, m.rand(2).tolist()   # the random grad_outputs are drawn as torch's
    a, b = both(torch_ref, make)
    assert a == b and a[0][1][0] is True
    # a backward that differs between its per-sample and its batched runs
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
        _drifting(m, 1e-3).apply, (x64(m),), check_batched_grad=True, nondet_tol=1.0,
        atol=0.1))
    assert a[0][0] == b[0][0] == "GradcheckError"
    assert a[0][1].split("Got:")[0] == b[0][1].split("Got:")[0]
    assert a[0][1].startswith("For output 0 and input 0:\n\ngradcheck or gradgradcheck failed "
                              "while testing batched gradient computation.")


# ---- forward mode, flags ---------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(check_backward_ad=False),
                                dict(check_batched_grad=True, check_backward_ad=False,
                                     check_forward_ad=True),
                                dict(check_batched_forward_grad=True)])
def test_flag_combinations_torch_refuses(torch_ref, kw):
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(lambda t: t * 2, (x64(m),), **kw))
    assert a == b and a[0][0] == "AssertionError"


@pytest.mark.parametrize("kw", [dict(check_forward_ad=True),
                                dict(check_forward_ad=True, check_backward_ad=False),
                                dict(check_forward_ad=True, check_batched_forward_grad=True)])
def test_forward_mode_checks_raise_not_implemented(kw):
    with pytest.raises(NotImplementedError, match="no forward-mode AD"):
        tg.autograd.gradcheck(lambda t: t * 2, (x64(tg),), raise_exception=False, **kw)
    with pytest.raises(NotImplementedError, match="no forward-mode AD"):
        tg.autograd.gradgradcheck(lambda t: t * 2, (x64(tg),), check_fwd_over_rev=True)


# ---- input and output checks -----------------------------------------------------------------
def test_input_checks(torch_ref):
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
        lambda t: t * 2, (m.tensor([0.3, 0.7], dtype=m.float64),)))
    assert a == b and a[0][0] == "ValueError"
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
        lambda t: t * 2, (m.tensor([0.3], dtype=m.float64, requires_grad=True).expand(3),)))
    assert a == b and "has a dimension with stride 0" in a[0][1]
    # single precision: torch's warning, and the check itself in float32
    for f in (lambda t: t * t * t, lambda t: t * 2):
        a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
            f, (m.tensor([0.3, 0.7], requires_grad=True),), raise_exception=False))
        assert a == b
        assert a[1] == ["Input #0 requires gradient and is not a double precision floating "
                        "point or complex. This check will likely fail if all the inputs are "
                        "not of double precision floating point or complex. "]


@pytest.mark.parametrize("fast", [False, True])
def test_outputs_that_are_not_differentiable(torch_ref, fast):
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(lambda t: t.detach() * 2, (x64(m),),
                                                          fast_mode=fast))
    assert a == b == (("GradcheckError", "Numerical gradient for function expected to be "
                                         "zero"), [])
    a, b = both(torch_ref, lambda m: m.autograd.gradcheck(
        lambda t: (t.detach() * 0 + 1, (t > 0.5).long()), (x64(m),), fast_mode=fast))
    assert a == b == (("ok", True), [])


# ---- gradgradcheck ---------------------------------------------------------------------------
@pytest.mark.parametrize("fast", [False, True])
def test_gradgradcheck(torch_ref, fast):
    def make(m, body, **kw):
        m.manual_seed(0)
        res = m.autograd.gradgradcheck(function(m, body).apply, (x64(m),), fast_mode=fast,
                                       raise_exception=False, **kw)
        return res, m.rand(2).tolist()
    # a backward that is differentiable, and one whose own derivative is wrong (detached)
    for body, ok in (("return g * 2 + 0 * x", True), ("return g * x.detach() * 0 + g * 2", True),
                     ("return g * 2 * x * x.detach()", False)):
        for kw in ({}, dict(gen_non_contig_grad_outputs=True), dict(check_batched_grad=True)):
            a, b = both(torch_ref, lambda m: make(m, body, **kw))
            assert a == b and a[0][1][0] is ok
    a, b = both(torch_ref, lambda m: m.autograd.gradgradcheck(
        function(m, "return g * 2 * x * x.detach()").apply, (x64(m),), fast_mode=fast,
        grad_outputs=(m.tensor([0.5, -1.0], dtype=m.float64, requires_grad=True),)))
    a, b = [((kind, msg.replace("-0.0000", " 0.0000")), w) for (kind, msg), w in (a, b)]
    assert a == b   # (up to the sign of a zero: tapegrad's gradients have no -0.0)
    assert a[0][1].startswith("Jacobian mismatch for output 0 with respect to input 0")


def test_gradgradcheck_flag_combinations(torch_ref):
    for kw in (dict(check_rev_over_rev=False),
               dict(check_rev_over_rev=False, check_fwd_over_rev=True),
               dict(check_rev_over_rev=False, check_fwd_over_rev=True, check_undefined_grad=False,
                    check_batched_grad=True)):
        a, b = both(torch_ref, lambda m: m.autograd.gradgradcheck(lambda t: t * t, (x64(m),),
                                                                  **kw))
        assert a == b and a[0][0] == "AssertionError"


# ---- torch's deprecated get_numerical_jacobian / get_analytical_jacobian -------------------
def _jacobians(m):
    mod = importlib.import_module(m.__name__ + ".autograd.gradcheck")
    x = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
    w = m.tensor([[0.5, -1.0], [2.0, 1.0], [0.1, 0.3]], dtype=m.float64, requires_grad=True)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        numerical = mod.get_numerical_jacobian(lambda a: (a[0].sin() @ a[1], a[0] * 2), (x, w))
        of_target = mod.get_numerical_jacobian(lambda a: a[0] @ a[1], (x, w), target=(w,))
        analytical, *flags = mod.get_analytical_jacobian((x, w), x.sin() @ w)
    arrays = [[(j.numpy(), str(j.dtype)) for j in js] for js in (numerical, of_target, analytical)]
    return arrays, flags, [(w.category.__name__, str(w.message)) for w in seen]


def test_deprecated_jacobian_helpers_as_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _jacobians(tg), _jacobians(torch)
    assert ours[1:] == theirs[1:]
    for a, b in zip(ours[0], theirs[0]):
        assert [d for _, d in a] == [d.replace("torch", "tapegrad") for _, d in b]
        for (u, _), (v, _) in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-9)


def test_deprecated_jacobian_helpers_refuse_grad_out():
    from tapegrad.autograd.gradcheck import get_analytical_jacobian, get_numerical_jacobian
    x = tg.ones(2, dtype=tg.float64, requires_grad=True)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="grad_out to be 1.0"):
        get_numerical_jacobian(lambda a: a[0] * 2, (x,), grad_out=2.0)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="grad_out to be 1.0"):
        get_analytical_jacobian((x,), x * 2, grad_out=2.0)
