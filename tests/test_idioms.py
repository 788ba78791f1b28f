"""Idioms of training scripts and model code around the math, compared with torch: what
eager code asks of torch.jit, ..."""
import pytest

import tapegrad as tg


def _jit_guarded_model(torch):
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        @torch.jit.ignore
        def debug(self, x):
            return x.sum()

        @torch.jit.unused
        def slow(self, x):
            return x * 3

        @torch.jit.export
        def twice(self, x):
            return self.fc(x) * 2

        def forward(self, x):
            if not torch.jit.is_scripting() and not torch.jit.is_tracing():
                x = self.slow(x)
            y = torch.jit.annotate(torch.Tensor, self.fc(x))
            return y + self.debug(x) + self.twice(x)
    return Block()


def test_jit_guards_and_markers_as_torch_eager(torch_ref):
    outs = []
    for m in (tg, torch_ref):
        m.manual_seed(0)
        block = _jit_guarded_model(m)
        outs.append(block(m.arange(4.0).reshape(2, 2)).reshape(-1).tolist())
        assert block.slow._torchscript_modifier == \
            torch_ref._jit_internal.FunctionModifiers.UNUSED
        assert block.debug._torchscript_modifier == \
            torch_ref._jit_internal.FunctionModifiers.IGNORE
    assert outs[0] == pytest.approx(outs[1])
    for m in (tg, torch_ref):
        with pytest.raises(RuntimeError, match="must be a bool or a function but got 3"):
            m.jit.ignore(3)
        with pytest.warns(FutureWarning, match=r"ignore\(True\) has been deprecated"):
            fn = m.jit.ignore(True)(lambda x: x)
        assert fn._torchscript_modifier == torch_ref._jit_internal.FunctionModifiers.UNUSED


def test_jit_script_and_trace_say_they_are_not_here():
    with pytest.raises(NotImplementedError, match="TorchScript"):
        tg.jit.script(tg.nn.Linear(1, 1))
    with pytest.raises(NotImplementedError, match="TorchScript"):
        tg.jit.trace(lambda x: x, (tg.ones(1),))


class _Reflected:
    """An operand of a user's class with reflected operators (a unit, a symbolic value)."""
    def __radd__(self, other):
        return "radd"

    def __rsub__(self, other):
        return "rsub"

    def __rmul__(self, other):
        return "rmul"

    def __rtruediv__(self, other):
        return "rtruediv"

    def __rfloordiv__(self, other):
        return "rfloordiv"

    def __rmod__(self, other):
        return "rmod"

    def __rpow__(self, other):
        return "rpow"

    def __rmatmul__(self, other):
        return "rmatmul"

    def __rand__(self, other):
        return "rand"


class _Plain:
    pass


_OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "@", "&"]


def _outcome(fn):
    try:
        r = fn()
    except Exception as e:   # noqa: BLE001 (the error is the outcome compared)
        return type(e).__name__, str(e)
    return r.tolist() if hasattr(r, "tolist") and not isinstance(r, (list, tuple)) else r


@pytest.mark.parametrize("make", [lambda m: m.tensor([1.0, 2.0]), lambda m: m.tensor(2.0),
                                  lambda m: m.tensor(3), lambda m: m.tensor([True]),
                                  lambda m: m.tensor(2.0, requires_grad=True) * 1],
                         ids=["float", "float0d", "int0d", "bool", "recorded"])
def test_operators_leave_foreign_operands_to_them_as_torch(torch_ref, make):
    # torch's operators turn an argument TypeError into NotImplemented: Python then asks the
    # other operand (its __r*__, a sequence's repeat), or raises Python's own message
    for other in (_Reflected(), _Plain(), None, [0, 1], (0,), "ab"):
        for op in _OPERATORS + ["&=", "%=", "**=", "//="]:
            code = f"x {op} y" if "=" not in op else f"x {op} y; r = x"
            def run(m):
                scope = {"x": make(m).detach() if "=" in op else make(m), "y": other}
                if "=" in op:
                    exec(code, scope)
                    return scope["r"]
                return eval(code, scope)
            want = _outcome(lambda: run(torch_ref))
            got = _outcome(lambda: run(tg))
            assert got == want, (op, type(other).__name__, got, want)


def test_sequence_repeat_by_a_tensor_as_torch(torch_ref):
    for m in (tg, torch_ref):
        n = m.tensor(3)
        assert [None] * n == [None] * 3 and n * [1] == [1, 1, 1] and "-" * n == "---"
        assert (0,) * m.tensor([2]) == (0, 0)


def test_methods_raise_for_foreign_operands_as_torch(torch_ref):
    # the methods sharing an operator's code raise torch's TypeError (eq returned
    # NotImplemented, which is truthy; mul_ and pow_ failed with ValueError/AttributeError)
    names = ["add", "sub", "mul", "div", "true_divide", "multiply", "pow", "remainder", "eq",
             "ne", "lt", "le", "gt", "ge", "matmul", "add_", "sub_", "mul_", "div_", "pow_",
             "remainder_"]
    for name in names:
        for other in (_Reflected(), "a"):
            want = _outcome(lambda: getattr(torch_ref.tensor([1.0, 2.0]), name)(other))
            got = _outcome(lambda: getattr(tg.tensor([1.0, 2.0]), name)(other))
            assert got == want, (name, got, want)
    assert _outcome(lambda: tg.rsub(tg.ones(1), _Plain()))[0] == "TypeError"
    assert _outcome(lambda: tg.pow(_Plain(), tg.ones(1)))[0] == "TypeError"


def test_inplace_operator_leaves_foreign_operand_to_it(torch_ref):
    # torch's __iadd__ returns NotImplemented for what is no tensor or number: Python then
    # calls obj.__radd__, an ndarray is numpy's to combine, and a str's TypeError names the
    # operator (add_'s own TypeError before)
    import numpy as np
    x = tg.tensor([1.0])
    x += _Reflected()
    assert x == "radd"
    for code in ("t += a", "t -= a", "t *= a", "t /= a"):
        for other in (np.array([2.0, 4.0]), "a", None, [1.0, 2.0]):
            def run(m):
                ns = {"t": m.tensor([1.0, 2.0]), "a": other}
                exec(code, ns)
                return str(ns["t"].dtype).split(".")[-1], ns["t"].tolist()
            assert _outcome(lambda: run(tg)) == _outcome(lambda: run(torch_ref)), (code, other)


def test_tensor_with_ndarray_operand_is_numpys_result_as_torch(torch_ref):
    # torch's operators leave an ndarray operand to numpy (its result wrapped as a tensor):
    # float32 + int64 array is float64 there, not float32 by torch's promotion; a tensor that
    # requires grad raises as its numpy() does, and `a + t` is numpy's refusal
    import numpy as np
    cases = [("t + a", [1.0, 2.0], np.array([2, 3])), ("t * a", [1, 2], np.array([1.5, 2.0],
             dtype=np.float32)), ("t - a", [1.0, 2.0], np.array(2.0)), ("a / t", [1.0, 2.0],
             np.array([2, 3])), ("t @ a", [1.0, 2.0], np.array([2.0, 3.0])),
             ("t ** a", [1.0, 2.0], np.array([2, 3])), ("t % a", [1.0, 2.0], np.array([2, 3])),
             ("t // a", [1.0, 2.0], np.array([2, 3])), ("a + t", [1.0], np.array([1.0])),
             ("a * t", [1.0], np.array([1.0])), ("t.requires_grad_() * a", [1.0], np.array([2.0])),
             ("t.add(a)", [1.0], np.array([2.0]))]
    for code, data, arr in cases:
        def run(m):
            r = eval(code, {"t": m.tensor(data), "a": arr})
            return str(r.dtype).split(".")[-1], r.tolist()
        assert _outcome(lambda: run(tg)) == _outcome(lambda: run(torch_ref)), code


def test_unknown_print_profile_changes_nothing_as_torch(torch_ref, capsys):
    outs = []
    for m in (tg, torch_ref):
        try:
            m.set_printoptions(precision=2)
            m.set_printoptions(profile="nope", linewidth=40)
            outs.append(repr(m.arange(20.0) / 3))
        finally:
            m.set_printoptions(profile="default")
    assert outs[0] == outs[1]


def test_type_predicates_of_non_tensors_raise_as_torch(torch_ref):
    # torch.is_complex([1]) returned False; is_floating_point(1.0) raised AttributeError
    calls = [("is_floating_point", (1.0,)), ("is_complex", ([1],)), ("is_nonzero", (1,)),
             ("numel", ([1, 2],)), ("is_same_size", ([1], "t")), ("is_same_size", ("t", [1])),
             ("is_signed", ("t",)), ("is_floating_point", ("t",)), ("is_complex", ("t",))]
    for name, args in calls:
        def run(m):
            return getattr(m, name)(*(m.ones(1) if a == "t" else a for a in args))
        assert _outcome(lambda: run(tg)) == _outcome(lambda: run(torch_ref)), name


def test_size_takes_the_ints_torch_takes(torch_ref):
    # as torch's parser: np.int64 and a 0-d integer tensor are dims; a bool, a float or a
    # one-element 1-d tensor are not (size(True) was size(1) here)
    import numpy as np
    for dim in (np.int64(1), np.int32(-1), "int0d", True, 1.0, "int1d", "float0d"):
        def run(m):
            d = {"int0d": m.tensor(1), "int1d": m.tensor([1]), "float0d": m.tensor(1.0)}.get(
                dim, dim) if isinstance(dim, str) else dim
            return m.zeros(2, 3).size(d)
        assert _outcome(lambda: run(tg)) == _outcome(lambda: run(torch_ref)), dim


def test_string_data_errors_as_torch(torch_ref):
    # torch's shape follows first elements: a string there is a dimension too many
    # (ValueError); a string elsewhere is an invalid data type (TypeError), also for the
    # legacy constructors, which gave numpy's "could not convert string to float"
    for code in ['m.tensor("abc")', 'm.tensor(["a"])', 'm.tensor([[1, "a"]])',
                 'm.tensor(["a"], dtype=m.float64)', 'm.Tensor("abc")', 'm.Tensor(["a"])',
                 'm.FloatTensor(["a"])', 'm.as_tensor("a")', 'm.tensor(b"ab")',
                 'm.tensor([[b"a"]])']:
        assert _outcome(lambda: eval(code, {"m": tg})) == \
            _outcome(lambda: eval(code, {"m": torch_ref})), code


def test_tensor_subclasses_say_they_are_not_supported(torch_ref):
    # MyT(data) returned a plain Tensor (MyT's methods missing, isinstance False) and
    # as_subclass was absent: torch returns MyT instances from every op, tapegrad cannot
    class MyT(tg.Tensor):
        def double(self):
            return self * 2

    for make in (lambda: MyT([1.0, 2.0]), lambda: tg.ones(2).as_subclass(MyT),
                 lambda: tg.Tensor._make_subclass(MyT, tg.ones(2))):
        with pytest.raises(NotImplementedError, match=r"subclasses of Tensor \(MyT\)"):
            make()
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.as_subclass(tg.Tensor)
    (y * y).sum().backward()
    xr = torch_ref.tensor([1.0, 2.0], requires_grad=True)
    yr = xr.as_subclass(torch_ref.Tensor)
    (yr * yr).sum().backward()
    assert type(y) is tg.Tensor and y.grad_fn.name() == yr.grad_fn.name() == "AliasBackward0"
    assert x.grad.tolist() == xr.grad.tolist()


def test_sharing_a_numpy_array_as_torch(torch_ref, monkeypatch):
    # from_numpy / as_tensor / asarray share memory: torch refuses a negative stride
    # (ValueError) and warns once of a read-only array; tapegrad took both silently
    import numpy as np
    from tapegrad import errors
    monkeypatch.setattr(errors, "_WARNED", set())
    for m in (tg, torch_ref):
        for share in (m.from_numpy, m.as_tensor, m.asarray):
            with pytest.raises(ValueError, match="At least one stride in the given numpy "
                               "array is negative"):
                share(np.arange(4.0)[::-1])
    frozen = np.arange(3.0)
    frozen.flags.writeable = False
    with pytest.warns(UserWarning, match="The given NumPy array is not writable") as record:
        t = tg.from_numpy(frozen)
        tg.as_tensor(frozen)
    assert len(record) == 1 and t.tolist() == [0.0, 1.0, 2.0]


def test_profiler_labels_run_their_block_as_torch(torch_ref):
    # training code labels its steps with record_function (a no-op with no profile running)
    # and switches profiling off with profile(enabled=False); these were AttributeErrors
    outs = []
    for m in (tg, torch_ref):
        @m.profiler.record_function("decorated")
        def step(x):
            return x * 2

        with m.autograd.profiler.profile(enabled=False):
            with m.profiler.record_function("forward") as label:
                y = step(m.ones(2))
            with m.autograd.profiler.record_function("backward", "args"):
                y = y + 1
        outs.append((y.tolist(), type(label).__name__,
                     m.profiler.ProfilerActivity.CPU.name))
    assert outs[0] == outs[1]
    with pytest.raises(NotImplementedError, match="cProfile"):
        tg.profiler.profile(activities=[tg.profiler.ProfilerActivity.CPU])
    with pytest.raises(NotImplementedError, match="cProfile"):
        tg.autograd.profiler.profile()


def test_cat_stack_hstack_vstack_take_tensors_only_as_torch(torch_ref):
    # torch.stack([1.0, 2.0]) is a TypeError, and so is a tensor where the sequence goes
    # (stack(t) iterated its rows here); tapegrad converted elements with tensor()
    import numpy as np
    for code in ["m.stack([1.0, 2.0])", "m.cat([m.ones(1), 2.0])", "m.cat((m.ones(1), [1.0]))",
                 "m.stack([m.ones(1), np.ones(1)])", "m.stack(m.ones(2, 2))",
                 "m.cat(m.ones(2, 2))", "m.stack([m.ones(1), m.zeros(1)])",
                 "m.cat((m.ones(1), m.zeros(2)))", "m.hstack([1.0])", "m.vstack(m.ones(2))",
                 "m.vstack([m.ones(1), 1])", "m.hstack(m.ones(2, 2))"]:
        def run(m):
            return eval(code, {"m": m, "np": np})
        assert _outcome(lambda: run(tg)) == _outcome(lambda: run(torch_ref)), code
