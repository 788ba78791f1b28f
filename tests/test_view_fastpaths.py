"""The front ends of the view ops beside torch, on the arguments their fast paths take and on
the neighbouring ones they must hand to the general path: `_int_list`'s Python-ints case
(bools, numpy and tensor integers, floats, nested sequences, torch.Size), expand's one-pass
check and strides (-1, new leading dims, size-1 dims made longer, mismatches, empty and 0-d
tensors, non-contiguous inputs, writing into an expanded tensor), reshape / flatten / view
(non-contiguous inputs, 0-d, empty, dims out of range).  Values, shapes, strides, versions,
grad_fn names, gradients and errors are compared."""
import math

import numpy as np
import pytest

import tapegrad
from outcomes import outcome
import fresh


def _run(lib, case):
    return outcome(lib, case, strides=True)


def _with_grad(lib, shape, op):
    """op of a non-leaf of `shape`: the result, and the leaf's gradient of (r * w).sum()."""
    n = math.prod(shape)
    a = (lib.arange(n, dtype=lib.float32) / 4 - 1).reshape(shape).requires_grad_()
    r = op(a * 1)
    if isinstance(r, lib.Tensor) and r.requires_grad and r.numel():
        w = lib.arange(1.0, 1 + r.numel()).reshape(r.shape)
        (r * w).sum().backward()
    return r, None if a.grad is None else a.grad.tolist()


CASES = {}


def case_fn(fn):
    CASES[fn.__name__] = fn
    return fn

# ---- expand ----------------------------------------------------------------------------------
EXPANDS = {
    "same": ((2, 3), (2, 3)), "minus_one": ((2, 3), (-1, 3)), "lengthen": ((1, 3), (4, 3)),
    "lengthen_last": ((3, 1), (3, 5)), "lead": ((3,), (2, 4, 3)), "lead_minus_one": ((3,), (-1, 3)),
    "lead_one": ((3,), (1, 3)), "lead_ones": ((2, 1), (1, 1, 2, 4)), "mismatch": ((2, 3), (2, 4)),
    "fewer": ((2, 3), (3,)), "negative": ((2, 3), (2, -2)), "lead_negative": ((3,), (-2, 3)),
    "zero_lead": ((3,), (0, 3)), "zero_from_one": ((1, 3), (0, 3)), "empty": ((0, 3), (0, 3)),
    "empty_lead": ((0,), (2, 0)), "scalar": ((), (2, 3)), "scalar_minus_one": ((), (-1,)),
    "scalar_none": ((), ()), "one_to_one": ((1,), (1,)),
}
SIZE_FORMS = {
    "spread": lambda x, s: x.expand(*s), "tuple": lambda x, s: x.expand(s),
    "list": lambda x, s: x.expand(list(s)), "size": lambda x, s: x.expand(type(x.shape)(s)),
    "np_ints": lambda x, s: x.expand(*[np.int64(v) for v in s]),
    "keyword": lambda x, s: x.expand(size=s),
}
for _k, (_shape, _sizes) in EXPANDS.items():
    for _f, _form in SIZE_FORMS.items():
        if _f != "spread" and _k not in ("lengthen", "lead", "mismatch", "scalar_none"):
            continue
        CASES[f"expand_{_k}_{_f}"] = (
            lambda t, shape=_shape, sizes=_sizes, form=_form:
            _with_grad(t, shape, lambda x: form(x, sizes)))


def _expand_write(t, shape, sizes):
    x = t.zeros(shape)
    e = x.expand(*sizes)
    e.add_(1)
    return x, e


for _k in ("same", "lengthen", "lead", "lead_one", "lead_ones", "empty"):
    CASES[f"expand_write_{_k}"] = (lambda t, k=_k: _expand_write(t, *EXPANDS[k]))


@pytest.mark.parametrize("args", [(True, 3), (2, True), (2.0, 3), (2, 3.0), ((2, 3),),
                                  ([2, 3],), (((2, 3),),), ("a",), (None,), ([],)])
def test_expand_argument_forms(args):
    torch = pytest.importorskip("torch")

    def op(t):
        x = t.zeros(1, 3)
        return x.expand(*args)
    assert _run(tapegrad, op) == _run(torch, op)


@pytest.mark.parametrize("layout", ["t", "slice", "step"])
def test_expand_of_non_contiguous(layout):
    torch = pytest.importorskip("torch")

    def op(t):
        x = t.arange(6.0).reshape(2, 3)
        v = {"t": lambda: x.t()[:, :1], "slice": lambda: x[:1, 1:],
             "step": lambda: x[:, ::2][:1]}[layout]()
        e = v.expand(4, *v.shape[1:]) if layout != "t" else v.expand(3, 5)
        return e, e.stride(), e.contiguous()
    assert _run(tapegrad, op) == _run(torch, op)


# ---- reshape / view / flatten ------------------------------------------------------------------
RESHAPES = {
    "reshape": lambda x: x.reshape(4, 6), "reshape_minus_one": lambda x: x.reshape(-1, 3),
    "reshape_list": lambda x: x.reshape([2, 12]), "reshape_bool": lambda x: x.reshape(True, 24),
    "reshape_np": lambda x: x.reshape(np.int32(24)), "reshape_size": lambda x: x.reshape(x.shape),
    "reshape_bad": lambda x: x.reshape(5, 5), "reshape_two_minus": lambda x: x.reshape(-1, -1),
    "reshape_float": lambda x: x.reshape(4.0, 6), "reshape_t": lambda x: x.t().reshape(-1),
    "reshape_t_view": lambda x: x.t().reshape(6, 1, 4),
    "view": lambda x: x.view(-1), "view_list": lambda x: x.view([3, 8]),
    "view_np": lambda x: x.view(np.int64(4), 6), "view_bool": lambda x: x.view(24, True),
    "view_float": lambda x: x.view(4, 6.0), "view_size": lambda x: x.view(x.t().shape),
    "view_0d_int": lambda x: x.view(x.new_tensor(24, dtype=None).long()),
    "view_tuple_np": lambda x: x.view((np.int32(2), 12)), "view_bad": lambda x: x.view(5, 5),
    "view_t": lambda x: x.t().view(-1), "view_t_ok": lambda x: x.t().view(6, 2, 2),
    "flatten": lambda x: x.reshape(2, 3, 4).flatten(1), "flatten_all": lambda x: x.flatten(),
    "flatten_mid": lambda x: x.reshape(2, 3, 2, 2).flatten(1, 2),
    "flatten_neg": lambda x: x.reshape(2, 3, 4).flatten(-2, -1),
    "flatten_same": lambda x: x.flatten(1, 1), "flatten_t": lambda x: x.t().flatten(),
    "flatten_t_part": lambda x: x.t().reshape(6, 2, 2).flatten(1),
    "flatten_bad": lambda x: x.flatten(1, 0), "flatten_range": lambda x: x.flatten(0, 5),
    "flatten_0d": lambda x: x.sum().flatten(), "flatten_empty": lambda x: x[:0].flatten(0),
    "flatten_one": lambda x: x[:1, :1].flatten(),
}
# (a copy of a non-contiguous reshape: reshape_t, reshape_t_view, flatten_t; torch's graph
# UnsafeViewBackward0 -> CloneBackward0 -> the input's node, compared by _describe's edges)
for _k, _op in RESHAPES.items():
    CASES[_k] = lambda t, op=_op: _with_grad(t, (6, 4), op)


# ---- stack (np.concatenate of the inputs with a new axis, as np.stack) -------------------------
def _stack_case(dim, dtypes, shape=(2, 3), layout=None, grad=True):
    def op(t):
        xs = []
        for k, dt in enumerate(dtypes):
            n = math.prod(shape)
            a = (t.arange(n) * (k + 1) - 2).reshape(shape).to(getattr(t, dt))
            if layout == "t":
                a = a.reshape(shape[::-1]).t()
            if grad and a.dtype.is_floating_point:
                a.requires_grad_()
            xs.append(a)
        r = t.stack(xs, dim)
        grads = None
        if r.requires_grad:
            w = t.arange(1.0, 1 + r.numel()).reshape(r.shape)
            (r * w).sum().backward()
            grads = [None if x.grad is None else x.grad.tolist() for x in xs]
        return r, r.stride(), r.is_contiguous(), grads
    return op


for _dim in (0, 1, 2, -1, -3, 3, -4):
    CASES[f"stack_dim{_dim}"] = _stack_case(_dim, ("float32", "float32"))
CASES["stack_three"] = _stack_case(1, ("float32",) * 3)
CASES["stack_one"] = _stack_case(0, ("float32",))
CASES["stack_mixed"] = _stack_case(1, ("float32", "float64"))
CASES["stack_int_float"] = _stack_case(0, ("int64", "float32"))
CASES["stack_bool_int"] = _stack_case(-1, ("bool", "int32"))
CASES["stack_0d"] = _stack_case(0, ("float32", "float32"), shape=())
CASES["stack_0d_neg"] = _stack_case(-1, ("float32", "float32"), shape=())
CASES["stack_empty"] = _stack_case(1, ("float32", "float32"), shape=(0, 3))
CASES["stack_transposed"] = _stack_case(1, ("float32", "float32"), layout="t")
CASES["stack_no_grad"] = _stack_case(2, ("float32", "float32"), grad=False)
CASES["stack_shapes_differ"] = lambda t: t.stack([t.zeros(2, 3), t.zeros(3, 2)])
CASES["stack_empty_list"] = lambda t: t.stack([])
CASES["stack_out"] = lambda t: (lambda o: (t.stack([t.ones(2), t.zeros(2)], 1, out=o), o))(
    t.empty(2, 2))


# ---- strided views of offset 0 (a params row kept per layout) ---------------------------------
STRIDED = {"t": lambda x: x.t(), "transpose": lambda x: x.transpose(-1, 0),
           "permute": lambda x: x.permute(1, 0), "expand": lambda x: x[:1].expand(3, -1),
           "mT": lambda x: x.mT, "swapaxes": lambda x: x.swapaxes(0, 1)}
for _k, _op in STRIDED.items():
    for _dt in ("float32", "float64"):
        for _shape in ((3, 4), (4, 3), (1, 1), (2, 1)):
            CASES[f"strided_{_k}_{_dt}_{_shape[0]}x{_shape[1]}"] = (
                lambda t, op=_op, dt=_dt, shape=_shape: _with_grad_dtype(t, shape, op, dt))


def _with_grad_dtype(lib, shape, op, dt):
    n = math.prod(shape)
    a = (lib.arange(n, dtype=getattr(lib, dt)) / 4 - 1).reshape(shape).requires_grad_()
    r = op(a * 1)
    w = lib.arange(1.0, 1 + r.numel(), dtype=r.dtype).reshape(r.shape)
    (r * w).sum().backward()
    return r, a.grad.tolist()


PERMUTES = {"ints": (1, 0), "negative": (-1, 0), "tuple": ((1, 0),), "list": ([1, 0],),
            "bool": (True, 0), "float": (1.0, 0), "np": (np.int64(1), 0), "dup": (0, 0),
            "few": (0,), "range": (2, 0), "none": (), "keyword": None}
for _k, _dims in PERMUTES.items():
    CASES[f"permute_{_k}"] = (
        lambda t, dims=_dims: _with_grad(t, (3, 4), lambda x: x.permute(*dims) if dims is not None
                                         else x.permute(dims=(1, 0))))


@case_fn
def permute_4d(t):
    return _with_grad(t, (2, 3, 1, 4), lambda x: x.permute(0, 2, 3, 1))


@case_fn
def permute_3d_int(t):
    x = t.arange(24).reshape(2, 3, 4)
    return x.permute(2, 0, 1), x.permute(2, 0, 1).stride(), x.transpose(0, 2)


# ---- x[idx] of one integer index tensor (views._rows_at) -----------------------------------------
INDEXES = {
    "rows": ((6, 4), [0, 2, 5, 2]), "negative": ((6, 4), [-1, 0, -6]),
    "past_end": ((6, 4), [0, 6]), "before_start": ((6, 4), [-7, 1]), "empty": ((6, 4), []),
    "two_d": ((6, 4), [[0, 1], [5, 4]]), "vector": ((6,), [5, 0, 0]), "three_d": ((3, 2, 2), [2, 0]),
    "many": ((6, 4), [k % 6 for k in range(100)]), "many_negative": ((6, 4), [-(k % 6) - 1 for k in range(70)]),
    "many_past": ((6, 4), list(range(65)) + [6]), "one": ((1, 3), [0]),
    "many_mixed": ((6, 4), [k % 6 - 3 for k in range(70)]),
}
for _k, (_shape, _idx) in INDEXES.items():
    for _it in ("int64", "int32"):
        CASES[f"index_{_k}_{_it}"] = (
            lambda t, shape=_shape, idx=_idx, it=_it:
            _with_grad(t, shape, lambda x: x[t.tensor(idx, dtype=getattr(t, it))]))
CASES["index_transposed"] = lambda t: _with_grad(t, (4, 6), lambda x: x.t()[t.tensor([5, 0])])
CASES["index_no_grad"] = lambda t: (lambda x: x[t.tensor([1, -1])])(t.arange(12.0).reshape(6, 2))
CASES["index_int_tensor"] = lambda t: t.arange(12).reshape(6, 2)[t.tensor([3, 3])]


@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name):
    torch = pytest.importorskip("torch")
    got, want = _run(tapegrad, CASES[name]), _run(torch, CASES[name])
    assert got == want, f"\ntapegrad: {got}\ntorch:    {want}"


def test_one_element_view_on_a_tape_of_scalars():
    """t() of a one-element tensor as the first n-d fact of a tape (its entry is a one-element
    one: the params row makes the tape's n-d streams), beside torch."""
    torch = pytest.importorskip("torch")

    def op(lib):
        a = lib.tensor([[2.0]], requires_grad=True)
        s = lib.tensor(3.0, requires_grad=True)
        y = (s * s) * a.t()
        y.sum().backward()
        return y, a.grad.tolist(), s.grad.tolist()
    assert _run(tapegrad, op) == _run(torch, op)


def test_flatten_shares_memory_as_reshape():
    x = tapegrad.zeros(2, 3, 4)
    f = x.flatten(1)
    f[0, 0] = 5.0
    assert x[0, 0, 0].item() == 5.0 and f._base is x and x._version == 1


_CALLS_SCRIPT = """
import functools, sys
import tapegrad
op = eval(sys.argv[1])
seen = []

def prof(frame, event, arg):
    if event == "call":
        seen.append(frame.f_code.co_name)

a = tapegrad.randn(4, 3, requires_grad=True)
op(a * 1.0)   # (warm: the params rows and permutations cached)
fewest = None
for _ in range(3):   # (the fewest of three: a call may also grow the tape's streams)
    x = a * 1.0
    seen.clear()
    sys.setprofile(prof)
    try:
        op(x)
    finally:
        sys.setprofile(None)
    if fewest is None or len(seen) < len(fewest):
        fewest = list(seen[1:])   # (op itself first)
print(" ".join(fewest))
"""


@pytest.mark.parametrize("op, most", [
    ("lambda x: x.view(-1)", 7),
    ("lambda x: x.unsqueeze(0)", 8),
    ("lambda x: x.permute(1, 0)", 9),
    ("lambda x: x[:, :2]", 8),
])
def test_view_of_a_node_on_the_open_tape_in_few_frames(op, most):
    """Counting calls, not time (in a fresh interpreter: an inference-mode tensor made by
    an earlier test adds checks): a view op of a node on the open tape makes its entry and
    the version bookkeeping in one frame (views._open_view: no _view_tensor / _view_of
    frames), and the numpy-names wrapper forwards positionals by a plain call."""
    out = fresh.run(_CALLS_SCRIPT, op).stdout
    calls = out.split()
    assert len(calls) <= most, calls
    assert "_view_tensor" not in calls and "_view_of" not in calls, calls


FRONT_CALLS = {
    "sum_dim": lambda x: x.sum(1), "sum_keepdim": lambda x: x.sum(1, True),
    "sum_dtype": lambda x: x.sum(1, True, x.dtype), "sum_none": lambda x: x.sum(),
    "sum_keyword": lambda x: x.sum(dim=0), "sum_axis": lambda x: x.sum(axis=0),
    "sum_repeated": lambda x: x.sum(1, dim=1), "sum_bad_dim": lambda x: x.sum(5),
    "softmax_missing": lambda x: x.softmax(), "softmax_too_many": lambda x: x.softmax(0, None, 1),
    "unsqueeze": lambda x: x.unsqueeze(-1), "unsqueeze_axis": lambda x: x.unsqueeze(axis=0),
    "unsqueeze_too_many": lambda x: x.unsqueeze(0, 1),
    "mean_dims": lambda x: x.mean((0, 1), True), "cumsum": lambda x: x.cumsum(1),
    "view_spread3": lambda x: x.view(1, 3, 4), "view_size": lambda x: x.view(size=(12,)),
    "reshape_spread2": lambda x: x.reshape(4, 3), "permute_spread": lambda x: x.permute(1, 0),
    "expand3": lambda x: x[:1].expand(2, 3, 3),
}


@pytest.mark.parametrize("name", list(FRONT_CALLS))
def test_wrapped_methods_bind_as_torch(name):
    """The methods behind numpy_names' wrappers (their positional front, their length-split
    forward) bind every form as torch's parser: results, gradients and errors."""
    torch = pytest.importorskip("torch")
    assert _run(tapegrad, lambda lib: _with_grad(lib, (3, 4), FRONT_CALLS[name])) == \
        _run(torch, lambda lib: _with_grad(lib, (3, 4), FRONT_CALLS[name]))
